// Truth tables for `edgebed policy matrix`, in the manner of upstream
// Kubernetes' network-policy e2e "model" tests (test/e2e/network/netpol in
// kubernetes/kubernetes): three namespaces x, y, z with pods a, b, c each,
// every case applies some policies and asserts the whole 9x9 reachability
// matrix, so a policy that leaks into a neighbouring namespace or pod shows
// up as a wrong cell rather than going unnoticed.
//
// Every expectation is derived from upstream semantics, never from what the
// engine happens to print: the Kubernetes NetworkPolicy API and the upstream
// e2e tests for the Kubernetes cases; Calico's documented evaluation order
// (tiers, order, Pass, Log, defaultAction) and its policy conversion code
// (libcalico-go's updateprocessors) for the Calico cases.
//
// Loopback (a pod to itself) is always "." here: upstream's e2e tests ignore
// loopback because CNIs disagree about it, and edgebed documents that it
// always allows it (core/policy/reference.h).
#include "tools/policy_command.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/model/loader.h"

namespace edgebed::tools {
namespace {

// Rows are sources, columns destinations, both in this order (pods sorted by
// namespace, then name, as the matrix prints them). A cell is '.' (a new
// connection is allowed) or 'X' (denied); rows may group cells with spaces.
using Matrix = std::vector<std::string>;

const char* const kNamespaces[] = {"x", "y", "z"};
const char* const kPodNames[] = {"a", "b", "c"};

std::vector<std::string> PodKeys() {
  std::vector<std::string> keys;
  for (const char* ns : kNamespaces) {
    for (const char* pod : kPodNames) keys.push_back(std::string(ns) + "/" + pod);
  }
  return keys;
}

// A label added to a namespace ("y") or a pod ("x/b") before evaluation:
// how the upstream tests that relabel a namespace or pod are modelled.
struct LabelPatch {
  std::string target, key, value;
};

struct TruthCase {
  const char* id;      // the test's name
  const char* source;  // the upstream test or documented rule it follows
  std::vector<LabelPatch> labels;
  std::string yaml;  // policies (and tiers) added to the fixture
  int port;
  const char* protocol;
  Matrix expected;
};

void PrintTo(const TruthCase& c, std::ostream* os) { *os << c.id; }

// Upstream's pod model: one container per port and protocol, the port named
// serve-PORT-PROTOCOL, so named-port cases can pick one. Fixed addresses
// 10.42.<1|2|3>.<10|11|12> let ipBlock and nets cases name pods by CIDR.
std::string FixtureYaml(const std::vector<LabelPatch>& patches) {
  std::ostringstream y;
  const auto extra_labels = [&](const std::string& target) {
    for (const LabelPatch& p : patches) {
      if (p.target == target) y << "    " << p.key << ": " << p.value << "\n";
    }
  };
  for (const char* ns : kNamespaces) {
    y << "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " << ns
      << "\n  labels:\n    ns: " << ns << "\n";
    extra_labels(ns);
  }
  int ns_index = 1;
  for (const char* ns : kNamespaces) {
    int pod_index = 0;
    for (const char* pod : kPodNames) {
      y << "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: " << pod << "\n  namespace: " << ns
        << "\n  labels:\n    pod: " << pod << "\n";
      extra_labels(std::string(ns) + "/" + pod);
      y << "spec:\n  containers:\n";
      for (int port : {80, 81}) {
        for (const char* protocol : {"TCP", "UDP", "SCTP"}) {
          std::string lower = protocol;
          for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          y << "  - name: cont-" << port << "-" << lower << "\n"
            << "    image: e2e-test-images/agnhost:2.53\n"
            << "    ports:\n"
            << "    - name: serve-" << port << "-" << lower << "\n"
            << "      containerPort: " << port << "\n"
            << "      protocol: " << protocol << "\n";
        }
      }
      y << "status:\n  podIP: 10.42." << ns_index << "." << 10 + pod_index << "\n";
      ++pod_index;
    }
    ++ns_index;
  }
  return y.str();
}

std::string StripSpaces(const std::string& row) {
  std::string out;
  for (char c : row) {
    if (c != ' ') out += c;
  }
  return out;
}

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  return parts;
}

// Reads ReachabilityMatrix's output into rows of '.'/'X' in PodKeys() order,
// checking the header and row labels on the way.
::testing::AssertionResult ParseMatrix(const std::string& output, Matrix* rows) {
  const std::vector<std::string> keys = PodKeys();
  const std::vector<std::string> lines = Split(output, '\n');
  if (lines.size() != keys.size() + 1) {
    return ::testing::AssertionFailure() << "expected " << keys.size() + 1 << " lines, got "
                                         << lines.size() << ":\n" << output;
  }
  std::vector<std::string> header = {"-"};
  header.insert(header.end(), keys.begin(), keys.end());
  if (Split(lines[0], '\t') != header) {
    return ::testing::AssertionFailure() << "unexpected header line: \"" << lines[0] << "\"";
  }
  rows->clear();
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::vector<std::string> cells = Split(lines[i + 1], '\t');
    if (cells.size() != keys.size() + 1 || cells[0] != keys[i]) {
      return ::testing::AssertionFailure() << "line " << i + 2 << " is not a row for " << keys[i]
                                           << ": \"" << lines[i + 1] << "\"";
    }
    std::string row;
    for (size_t j = 1; j < cells.size(); ++j) {
      if (cells[j] != "." && cells[j] != "X") {
        return ::testing::AssertionFailure() << "cell " << keys[i] << " -> " << keys[j - 1]
                                             << " is \"" << cells[j] << "\", not . or X";
      }
      row += cells[j];
    }
    rows->push_back(row);
  }
  return ::testing::AssertionSuccess();
}

// Groups a row's cells by namespace, as the expectations are written.
std::string Grouped(const std::string& row) {
  std::string out;
  for (size_t j = 0; j < row.size(); ++j) {
    if (j > 0 && j % 3 == 0) out += ' ';
    out += row[j];
  }
  return out;
}

// Compares the engine's matrix with the expected one; on a mismatch prints
// both whole, side by side, and names every differing cell, since a single
// wrong cell is meaningless without the row and column around it.
::testing::AssertionResult MatrixMatches(const std::string& output, const Matrix& expected) {
  Matrix got;
  if (::testing::AssertionResult parsed = ParseMatrix(output, &got); !parsed) return parsed;
  const std::vector<std::string> keys = PodKeys();
  std::ostringstream diff;
  bool same = true;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string want = StripSpaces(expected[i]);
    for (size_t j = 0; j < keys.size(); ++j) {
      if (want[j] != got[i][j]) {
        same = false;
        diff << "  " << keys[i] << " -> " << keys[j] << ": expected "
             << (want[j] == '.' ? "allowed" : "denied") << ", got "
             << (got[i][j] == '.' ? "allowed" : "denied") << "\n";
      }
    }
  }
  if (same) return ::testing::AssertionSuccess();
  std::ostringstream table;
  table << "source      expected        got\n"
        << "            xxx yyy zzz     xxx yyy zzz\n"
        << "            abc abc abc     abc abc abc\n";
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string want = Grouped(StripSpaces(expected[i]));
    const std::string have = Grouped(got[i]);
    table << keys[i] << "         " << want << "     " << have << (want == have ? "" : "   <") << "\n";
  }
  return ::testing::AssertionFailure() << "reachability differs:\n" << table.str()
                                       << "differing cells:\n" << diff.str();
}

// Matrices that several cases share.
const Matrix kAllAllowed = {
    "... ... ...", "... ... ...", "... ... ...",
    "... ... ...", "... ... ...", "... ... ...",
    "... ... ...", "... ... ...", "... ... ...",
};
// Every pod of x isolated for ingress, nothing allowed in.
const Matrix kIngressToXDenied = {
    ".XX ... ...", "X.X ... ...", "XX. ... ...",
    "XXX ... ...", "XXX ... ...", "XXX ... ...",
    "XXX ... ...", "XXX ... ...", "XXX ... ...",
};
const Matrix kIngressToYDenied = {
    "... XXX ...", "... XXX ...", "... XXX ...",
    "... .XX ...", "... X.X ...", "... XX. ...",
    "... XXX ...", "... XXX ...", "... XXX ...",
};
const Matrix kIngressToZDenied = {
    "... ... XXX", "... ... XXX", "... ... XXX",
    "... ... XXX", "... ... XXX", "... ... XXX",
    "... ... .XX", "... ... X.X", "... ... XX.",
};
// x/a isolated for ingress, nothing allowed in.
const Matrix kIngressToXaDenied = {
    "... ... ...", "X.. ... ...", "X.. ... ...",
    "X.. ... ...", "X.. ... ...", "X.. ... ...",
    "X.. ... ...", "X.. ... ...", "X.. ... ...",
};
// x/a reachable only from namespace y.
const Matrix kIngressToXaFromY = {
    "... ... ...", "X.. ... ...", "X.. ... ...",
    "... ... ...", "... ... ...", "... ... ...",
    "X.. ... ...", "X.. ... ...", "X.. ... ...",
};
// x/a reachable only from x/b.
const Matrix kIngressToXaFromXb = {
    "... ... ...", "... ... ...", "X.. ... ...",
    "X.. ... ...", "X.. ... ...", "X.. ... ...",
    "X.. ... ...", "X.. ... ...", "X.. ... ...",
};
// x/a reachable only from y/a.
const Matrix kIngressToXaFromYa = {
    "... ... ...", "X.. ... ...", "X.. ... ...",
    "... ... ...", "X.. ... ...", "X.. ... ...",
    "X.. ... ...", "X.. ... ...", "X.. ... ...",
};
// x/a reachable only from pod b of namespaces y and z.
const Matrix kIngressToXaFromYbZb = {
    "... ... ...", "X.. ... ...", "X.. ... ...",
    "X.. ... ...", "... ... ...", "X.. ... ...",
    "X.. ... ...", "... ... ...", "X.. ... ...",
};
// x/a open to everyone, x/b and x/c isolated.
const Matrix kOnlyXaOpenInX = {
    ".XX ... ...", "..X ... ...", ".X. ... ...",
    ".XX ... ...", ".XX ... ...", ".XX ... ...",
    ".XX ... ...", ".XX ... ...", ".XX ... ...",
};
// Every pod of x isolated for egress, nothing allowed out.
const Matrix kEgressFromXDenied = {
    ".XX XXX XXX", "X.X XXX XXX", "XX. XXX XXX",
    "... ... ...", "... ... ...", "... ... ...",
    "... ... ...", "... ... ...", "... ... ...",
};
const Matrix kEgressFromXaDenied = {
    ".XX XXX XXX", "... ... ...", "... ... ...",
    "... ... ...", "... ... ...", "... ... ...",
    "... ... ...", "... ... ...", "... ... ...",
};
// Only namespace y's pods are denied into x.
const Matrix kIngressToXDeniedFromY = {
    "... ... ...", "... ... ...", "... ... ...",
    "XXX ... ...", "XXX ... ...", "XXX ... ...",
    "... ... ...", "... ... ...", "... ... ...",
};

// --- Kubernetes policies used by several cases -------------------------------
//
// YAML sits in R"y(...)y" literals: Calico selectors such as "!has(role)"
// contain the )" that would end a plain raw string.

const char* const kDenyIngressX = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
)y";

const char* const kDenyIngressY = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: y}
spec:
  podSelector: {}
  policyTypes: [Ingress]
)y";

const char* const kAllowAllIngressX = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]
)y";

// x/a: ingress on TCP 81 from namespace y only.
const char* const kXaPort81FromY = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-ns-selector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 81, protocol: TCP}]
)y";

// x/a: ingress from pod a of namespace y only, on any port and protocol.
const char* const kXaFromYaPodAndNamespace = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ns-y-pod-a-via-namespace-pod-selector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: a}}
)y";

const char* const kIngressNamedPort81 = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: serve-81-tcp}]
)y";

const char* const kXaNamedPort80FromY = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-ns-selector-80, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: serve-80-tcp, protocol: TCP}]
)y";

const char* const kEgressNamedPort80 = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: serve-80-tcp}]
)y";

const char* const kXaFromUpdatedNamespace = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-ns-selector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns2: updated}}}]
)y";

const char* const kIngressAndEgressTogether = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-pod-selector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress, Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
  egress:
  - ports: [{port: 80}]
)y";

const char* const kXaIngressTcpAnyPort = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ingress-by-proto, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{protocol: TCP}]
)y";

const char* const kIngressPort80X = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ingress-port-80, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 80}]
)y";

const char* const kEgressPort80X = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress-port-80, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 80}]
)y";

// x/a: egress to the whole pod range except x/b.
const char* const kXaEgressCidrExceptXb = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-cidr-egress-rule, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.42.0.0/16, except: [10.42.1.11/32]}}]
)y";

const char* const kAllowEgressForTarget = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress-for-target, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{}]
)y";

const char* const kXaSctp81 = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-only-sctp-ingress-on-port-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 81, protocol: SCTP}]
)y";

const char* const kXaUdp81 = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-only-udp-ingress-on-port-81, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 81, protocol: UDP}]
)y";

std::string XaPort81FromYWithProtocol(const std::string& protocol) {
  return R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ingress-on-port-81-ns-x, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 81, protocol: )y" + protocol + "}]\n";
}

const char* const kXaPortRangeFromY = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-port-range-from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: 80, endPort: 81, protocol: TCP}]
)y";

const char* const kXaEgressNamedUdpPort = R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress-named-udp, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: serve-81-udp, protocol: UDP}]
)y";

const std::vector<TruthCase>& KubernetesCases() {
  static const std::vector<TruthCase> cases = {
      {"NoPolicyAllowsEverything",
       "without policies every pod is non-isolated (NetworkPolicy concepts: isolated and "
       "non-isolated pods)",
       {}, "", 80, "TCP", kAllAllowed},
      {"DefaultDenyIngress", "should support a 'default-deny-ingress' policy", {}, kDenyIngressX, 80,
       "TCP", kIngressToXDenied},
      {"DefaultDenyIngressUdp", "[UDP] should support a 'default-deny-ingress' policy", {},
       kDenyIngressX, 80, "UDP", kIngressToXDenied},
      {"DefaultDenyIngressSctp", "[SCTP] should support a 'default-deny-ingress' policy", {},
       kDenyIngressX, 80, "SCTP", kIngressToXDenied},
      {"DefaultDenyAll", "should support a 'default-deny-all' policy", {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
)y",
       80, "TCP",
       {
           ".XX XXX XXX", "X.X XXX XXX", "XX. XXX XXX",
           "XXX ... ...", "XXX ... ...", "XXX ... ...",
           "XXX ... ...", "XXX ... ...", "XXX ... ...",
       }},
      {"AllowFromPodsWithinServerNamespaceByPodSelector",
       "should enforce policy to allow traffic from pods within server namespace based on "
       "PodSelector",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x-a-allows-x-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
)y",
       80, "TCP", kIngressToXaFromXb},
      {"AllowIngressForTarget", "should enforce policy to allow ingress traffic for a target", {},
       std::string(R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-to-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {}, namespaceSelector: {}}]
)y"),
       80, "TCP", kOnlyXaOpenInX},
      {"AllowIngressFromAllNamespaces",
       "should enforce policy to allow ingress traffic from pods in all namespaces", {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-another-ns, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {}}]
)y",
       80, "TCP", kAllAllowed},
      {"AllowOnlyFromDifferentNamespaceByNamespaceSelector",
       "should enforce policy to allow traffic only from a different namespace, based on "
       "NamespaceSelector (and: ... with MatchLabels using default ns label)",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-ns-selector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
)y",
       80, "TCP", kIngressToXaFromY},
      {"PodSelectorWithMatchExpressions",
       "should enforce policy based on PodSelector with MatchExpressions", {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x-a-allows-x-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}]
)y",
       80, "TCP", kIngressToXaFromXb},
      {"NamespaceSelectorWithMatchExpressions",
       "should enforce policy based on NamespaceSelector with MatchExpressions (on the "
       "namespaces' own label ns)",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ns-y-match-selector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: [y]}]}}]
)y",
       80, "TCP", kIngressToXaFromY},
      {"PodSelectorOrNamespaceSelector",
       "should enforce policy based on PodSelector or NamespaceSelector (two peers are ORed)", {},
       R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ns-y-match-selector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
    - podSelector: {matchLabels: {pod: b}}
)y",
       80, "TCP",
       {
           "... ... ...", "... ... ...", "X.. ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"PodSelectorAndNamespaceSelector",
       "should enforce policy based on PodSelector and NamespaceSelector (one peer with both is "
       "ANDed)",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ns-y-podselector-and-nsselector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
      podSelector: {matchLabels: {pod: b}}
)y",
       80, "TCP", kIngressToXaFromYbZb},
      {"MultiplePodSelectorsAndNamespaceSelectors",
       "should enforce policy based on Multiple PodSelectors and NamespaceSelectors", {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ns-y-z-pod-b-c, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
      podSelector:
        matchExpressions: [{key: pod, operator: In, values: [b, c]}]
)y",
       80, "TCP",
       {
           "... ... ...", "X.. ... ...", "X.. ... ...",
           "X.. ... ...", "... ... ...", "... ... ...",
           "X.. ... ...", "... ... ...", "... ... ...",
       }},
      {"AnyPodSelectors", "should enforce policy based on any PodSelectors", {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ns-x-pod-b-c, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
    - podSelector: {matchLabels: {pod: c}}
)y",
       80, "TCP",
       {
           "... ... ...", "... ... ...", "... ... ...",
           "X.. ... ...", "X.. ... ...", "X.. ... ...",
           "X.. ... ...", "X.. ... ...", "X.. ... ...",
       }},
      {"OnlyFromPodInDifferentNamespace",
       "should enforce policy to allow traffic only from a pod in a different namespace based on "
       "PodSelector and NamespaceSelector",
       {}, kXaFromYaPodAndNamespace, 80, "TCP", kIngressToXaFromYa},
      {"OnlyFromPodInDifferentNamespaceUdp",
       "[UDP] should enforce policy to allow traffic only from a pod in a different namespace "
       "based on PodSelector and NamespaceSelector",
       {}, kXaFromYaPodAndNamespace, 80, "UDP", kIngressToXaFromYa},
      {"OnlyFromPodInDifferentNamespaceSctp",
       "[SCTP] should enforce policy to allow traffic only from a pod in a different namespace "
       "based on PodSelector and NamespaceSelector",
       {}, kXaFromYaPodAndNamespace, 80, "SCTP", kIngressToXaFromYa},
      {"PortsAllowsThatPort", "should enforce policy based on Ports (port 81 is allowed)", {},
       kXaPort81FromY, 81, "TCP", kIngressToXaFromY},
      {"PortsDeniesOtherPorts",
       "should enforce multiple, stacked policies with overlapping podSelectors (port 80 denied "
       "before the second policy)",
       {}, kXaPort81FromY, 80, "TCP", kIngressToXaDenied},
      {"StackedPoliciesUnblockPort80",
       "should enforce multiple, stacked policies with overlapping podSelectors (a second policy "
       "unblocks port 80)",
       {}, std::string(kXaPort81FromY) + R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-ns-selector-80, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]
    ports: [{port: 80, protocol: TCP}]
)y",
       80, "TCP", kIngressToXaFromY},
      {"PortsUdp", "[UDP] should enforce policy based on Ports", {},
       XaPort81FromYWithProtocol("UDP"), 81, "UDP", kIngressToXaFromY},
      {"PortsSctp", "[SCTP] should enforce policy based on Ports", {},
       XaPort81FromYWithProtocol("SCTP"), 81, "SCTP", kIngressToXaFromY},
      {"AllowAllPolicy", "should support allow-all policy", {}, kAllowAllIngressX, 81, "TCP",
       kAllAllowed},
      {"NamedPortIngressAllowed", "should allow ingress access on one named port (port 81)", {},
       kIngressNamedPort81, 81, "TCP", kAllAllowed},
      {"NamedPortIngressOtherPortDenied", "should allow ingress access on one named port (port 80)",
       {}, kIngressNamedPort81, 80, "TCP", kIngressToXDenied},
      {"NamedPortIngressSameNumberOtherProtocolDenied",
       "a named port names one container port, with its protocol (NetworkPolicyPort.port): "
       "serve-81-tcp does not admit UDP 81",
       {}, kIngressNamedPort81, 81, "UDP", kIngressToXDenied},
      {"NamedPortFromNamespace", "should allow ingress access from namespace on one named port", {},
       kXaNamedPort80FromY, 80, "TCP", kIngressToXaFromY},
      {"NamedPortFromNamespaceOtherPortDenied",
       "should allow ingress access from namespace on one named port (port 81 blocked for all)",
       {}, kXaNamedPort80FromY, 81, "TCP", kIngressToXaDenied},
      {"NamedPortEgressAllowed", "should allow egress access on one named port (port 80)", {},
       kEgressNamedPort80, 80, "TCP", kAllAllowed},
      {"NamedPortEgressOtherPortDenied", "should allow egress access on one named port (port 81)",
       {}, kEgressNamedPort80, 81, "TCP", kEgressFromXDenied},
      {"NamedEgressPortResolvedOnDestination",
       "an egress named port is the destination pod's port of that name and protocol", {},
       kXaEgressNamedUdpPort, 81, "UDP", kAllAllowed},
      {"NamedEgressPortOtherPortDenied",
       "an egress named port is the destination pod's port of that name and protocol (UDP 80 is "
       "not serve-81-udp)",
       {}, kXaEgressNamedUdpPort, 80, "UDP", kEgressFromXaDenied},
      {"NamedPortProtocolMustMatchRule",
       "a named port with the default protocol TCP does not match the pod's UDP port of that "
       "name",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: named-udp-port-as-tcp, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: serve-81-udp}]
)y",
       81, "UDP", kIngressToXaDenied},
      {"UpdatedPolicy",
       "should enforce updated policy (allow-all replaced by deny-all of the same name, applied "
       "in order as kubectl apply does)",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-mutate-to-deny-all, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-mutate-to-deny-all, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
)y",
       81, "TCP", kIngressToXDenied},
      {"UpdatedNamespaceBeforeLabel",
       "should allow ingress access from updated namespace (before the label)", {},
       kXaFromUpdatedNamespace, 80, "TCP", kIngressToXaDenied},
      {"UpdatedNamespaceAfterLabel",
       "should allow ingress access from updated namespace (after y gets ns2=updated)",
       {{"y", "ns2", "updated"}}, kXaFromUpdatedNamespace, 80, "TCP", kIngressToXaFromY},
      {"UpdatedPod", "should allow ingress access from updated pod (x/b gets pod2=updated)",
       {{"x/b", "pod2", "updated"}}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-pod-selector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b, pod2: updated}}}]
)y",
       80, "TCP", kIngressToXaFromXb},
      {"DenyIngressFromPodsOnOtherNamespaces", "should deny ingress from pods on other namespaces",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-empty-policy, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {}}]
)y",
       80, "TCP",
       {
           "... ... ...", "... ... ...", "... ... ...",
           "XXX ... ...", "XXX ... ...", "XXX ... ...",
           "XXX ... ...", "XXX ... ...", "XXX ... ...",
       }},
      {"DenyIngressToUpdatedPod",
       "should deny ingress access to updated pod (x/a gets target=isolated)",
       {{"x/a", "target", "isolated"}}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress-via-label-selector, namespace: x}
spec:
  podSelector: {matchLabels: {target: isolated}}
  policyTypes: [Ingress]
)y",
       80, "TCP", kIngressToXaDenied},
      {"DenyEgressByPodSelector", "should deny egress from pods based on PodSelector", {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress-pod-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
)y",
       80, "TCP", kEgressFromXaDenied},
      {"DenyEgressFromNamespace", "should deny egress from all pods in a namespace", {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress-ns-x, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
)y",
       80, "TCP", kEgressFromXDenied},
      {"IngressAndEgressTogetherPort80", "should work with Ingress, Egress specified together (80)",
       {}, kIngressAndEgressTogether, 80, "TCP", kIngressToXaFromXb},
      {"IngressAndEgressTogetherPort81", "should work with Ingress, Egress specified together (81)",
       {}, kIngressAndEgressTogether, 81, "TCP",
       {
           ".XX XXX XXX", "... ... ...", "X.. ... ...",
           "X.. ... ...", "X.. ... ...", "X.. ... ...",
           "X.. ... ...", "X.. ... ...", "X.. ... ...",
       }},
      {"ClientSideEgressDenialWins",
       "should support denying of egress traffic on the client side (even if the server "
       "explicitly allows this traffic)",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-to-ns-y-pod-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: a}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-xa-on-ya-match-selector, namespace: y}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}
      podSelector: {matchLabels: {pod: a}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-xa-on-yb-match-selector, namespace: y}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}
      podSelector: {matchLabels: {pod: a}}
)y",
       80, "TCP",
       {
           ".XX .XX XXX", "... XX. ...", "... XX. ...",
           "... .X. ...", "... X.. ...", "... XX. ...",
           "... XX. ...", "... XX. ...", "... XX. ...",
       }},
      {"EgressToServerInOtherNamespaceByPodAndNamespaceSelector",
       "should enforce egress policy allowing traffic to a server in a different namespace based "
       "on PodSelector and NamespaceSelector",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-to-ns-y-pod-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: a}}
)y",
       80, "TCP",
       {
           ".XX .XX XXX", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"AnyPortOnProtocolAllowsThatProtocol",
       "should enforce ingress policy allowing any port traffic to a server on a specific "
       "protocol (TCP, on port 81 too)",
       {}, kXaIngressTcpAnyPort, 81, "TCP", kAllAllowed},
      {"AnyPortOnProtocolDeniesOtherProtocols",
       "should enforce ingress policy allowing any port traffic to a server on a specific "
       "protocol (UDP denied)",
       {}, kXaIngressTcpAnyPort, 80, "UDP", kIngressToXaDenied},
      {"IngressPort80PolicyBlocks81",
       "should enforce multiple ingress policies with ingress allow-all policy taking precedence "
       "(before allow-all)",
       {}, kIngressPort80X, 81, "TCP", kIngressToXDenied},
      {"IngressAllowAllTakesPrecedence",
       "should enforce multiple ingress policies with ingress allow-all policy taking precedence",
       {}, std::string(kIngressPort80X) + R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ingress, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]
)y",
       81, "TCP", kAllAllowed},
      {"EgressPort80PolicyBlocks81",
       "should enforce multiple egress policies with egress allow-all policy taking precedence "
       "(before allow-all)",
       {}, kEgressPort80X, 81, "TCP", kEgressFromXDenied},
      {"EgressAllowAllTakesPrecedence",
       "should enforce multiple egress policies with egress allow-all policy taking precedence",
       {}, std::string(kEgressPort80X) + R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{}]
)y",
       81, "TCP", kAllAllowed},
      {"EgressToCidrBlock", "should allow egress access to server in CIDR block (y/b's /32)", {},
       R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-cidr-egress-rule, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.42.2.11/32}}]
)y",
       80, "TCP",
       {
           ".XX X.X XXX", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"EgressCidrExcept", "should enforce except clause while egress access to server in CIDR block",
       {}, kXaEgressCidrExceptXb, 80, "TCP",
       {
           ".X. ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"CidrExceptAllowedByAnotherPolicy",
       "allows of several policies are a union: an IP in one ipBlock's except is still allowed "
       "by another policy's ipBlock (should ensure an IP overlapping both IPBlock.CIDR and "
       "IPBlock.Except is allowed)",
       {}, std::string(kXaEgressCidrExceptXb) + R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-to-x-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.42.1.11/32}}]
)y",
       80, "TCP", kAllAllowed},
      {"CidrExceptPolicyUpdatedToHostCidr",
       "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed (the "
       "policy updated to x/b's /32 alone)",
       {}, std::string(kXaEgressCidrExceptXb) + R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-client-a-via-cidr-egress-rule, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.42.1.11/32}}]
)y",
       80, "TCP",
       {
           "..X XXX XXX", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"IngressFromCidrBlock", "an ingress ipBlock peer selects sources by address (y's /24)", {},
       R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-y-cidr, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{ipBlock: {cidr: 10.42.2.0/24}}]
)y",
       80, "TCP", kIngressToXaFromY},
      {"IngressFromCidrBlockExcept",
       "an ingress ipBlock's except removes addresses from its cidr (z's /24)", {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-all-but-z, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{ipBlock: {cidr: 10.42.0.0/16, except: [10.42.3.0/24]}}]
)y",
       80, "TCP",
       {
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "X.. ... ...", "X.. ... ...", "X.. ... ...",
       }},
      {"IngressAndEgressIndependentEgressAllow",
       "should enforce policies to check ingress and egress policies can be controlled "
       "independently based on PodSelector (egress allow-all alone)",
       {}, kAllowEgressForTarget, 80, "TCP", kAllAllowed},
      {"IngressAndEgressIndependentThenDenyIngress",
       "should enforce policies to check ingress and egress policies can be controlled "
       "independently based on PodSelector (then deny ingress)",
       {}, std::string(kAllowEgressForTarget) + R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress-via-label-selector, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
)y",
       80, "TCP", kIngressToXaDenied},
      {"EgressRulesWithoutPolicyTypesAlsoIsolateIngress",
       "NetworkPolicySpec.policyTypes defaults to Ingress, plus Egress when there are egress "
       "rules: an egress-only policy without policyTypes isolates ingress too",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-rules-only, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress: [{}]
)y",
       80, "TCP", kIngressToXaDenied},
      {"SctpPolicyNotTreatedAsTcp",
       "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin "
       "doesn't support SCTP",
       {}, std::string(kDenyIngressX) + kXaSctp81, 81, "TCP", kIngressToXDenied},
      {"SctpPolicyAllowsSctp", "the same SCTP policy admits SCTP 81 to x/a", {},
       std::string(kDenyIngressX) + kXaSctp81, 81, "SCTP", kOnlyXaOpenInX},
      {"SctpPolicyIsolatesForTcp",
       "should properly isolate pods that are selected by a policy allowing SCTP, even if the "
       "plugin doesn't support SCTP",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-only-sctp-ingress-on-port-80, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: 80, protocol: SCTP}]
)y",
       81, "TCP", kIngressToXaDenied},
      {"UdpOnlyPolicyDeniesTcp", "should not allow access by TCP when a policy specifies only UDP",
       {}, kXaUdp81, 81, "TCP", kIngressToXaDenied},
      {"UdpOnlyPolicyAllowsUdp", "the same UDP policy admits UDP 81 from everyone", {}, kXaUdp81,
       81, "UDP", kAllAllowed},
      {"EgressNamespaceSelectorNotInDefaultLabel",
       "should enforce policy based on NamespaceSelector with MatchExpressions using default ns "
       "label",
       {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ns-y-match-selector-for-immutable-ns-label, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [y]}]
)y",
       80, "TCP",
       {
           "... XXX ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"EndPortRangeIncludesEnd",
       "should enforce ingress access with endPort field (port..endPort inclusive: 81 of 80-81)",
       {}, kXaPortRangeFromY, 81, "TCP", kIngressToXaFromY},
      {"EndPortRangeIncludesStart",
       "should enforce ingress access with endPort field (port..endPort inclusive: 80 of 80-81)",
       {}, kXaPortRangeFromY, 80, "TCP", kIngressToXaFromY},
      {"EndPortRangeExcludesBeyond",
       "should enforce ingress access with endPort field (81 lies outside 79-80)", {}, R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-port-range-from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: 79, endPort: 80, protocol: TCP}]
)y",
       81, "TCP", kIngressToXaDenied},
  };
  return cases;
}

// --- Calico ----------------------------------------------------------------

// Policies of a security tier that applies to namespace x: Deny from y, then
// (when given) a final action for everything else.
std::string SecurityTierDenyY(const char* tier_spec, const char* last_rule) {
  return std::string(R"y(
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec:
)y") + tier_spec + R"y(
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-from-y}
spec:
  tier: security
  order: 10
  selector: "projectcalico.org/namespace == 'x'"
  types: [Ingress]
  ingress:
  - action: Deny
    source: {namespaceSelector: "ns == 'y'"}
)y" + last_rule;
}

const char* const kCalicoPortRangeY = R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-range-from-x, namespace: y}
spec:
  selector: all()
  ingress:
  - action: Allow
    protocol: TCP
    source: {namespaceSelector: "ns == 'x'"}
    destination: {ports: ["80:81"]}
)y";

const char* const kCalicoNotPortsY = R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-all-but-80, namespace: y}
spec:
  selector: all()
  ingress:
  - action: Allow
    protocol: TCP
    destination: {notPorts: [80]}
)y";

const char* const kCalicoUdpByNumberZ = R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-udp-by-number, namespace: z}
spec:
  selector: all()
  ingress:
  - action: Allow
    protocol: 17
)y";

const char* const kCalicoNamedPortZ = R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-named-udp, namespace: z}
spec:
  selector: all()
  ingress:
  - action: Allow
    protocol: UDP
    destination: {ports: [serve-81-udp]}
)y";

const std::vector<TruthCase>& CalicoCases() {
  static const std::vector<TruthCase> cases = {
      {"DenyThenAllowRulesInOrder",
       "Calico NetworkPolicy rules are evaluated in order; the first Allow or Deny decides", {},
       R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-y-allow-rest, namespace: x}
spec:
  selector: all()
  ingress:
  - action: Deny
    source: {namespaceSelector: "ns == 'y'"}
  - action: Allow
)y",
       80, "TCP", kIngressToXDeniedFromY},
      {"RuleSelectorStaysInPolicyNamespace",
       "EntityRule.selector: without namespaceSelector a namespaced policy's selectors apply in "
       "its own namespace",
       {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-from-b, namespace: x}
spec:
  selector: "pod == 'a'"
  ingress:
  - action: Allow
    source: {selector: "pod == 'b'"}
)y",
       80, "TCP", kIngressToXaFromXb},
      {"RuleNamespaceSelectorWidensScope",
       "EntityRule.namespaceSelector: the selector then applies in the selected namespaces", {},
       R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-from-b-in-y-z, namespace: x}
spec:
  selector: "pod == 'a'"
  ingress:
  - action: Allow
    source:
      selector: "pod == 'b'"
      namespaceSelector: "ns in {'y', 'z'}"
)y",
       80, "TCP", kIngressToXaFromYbZb},
      {"NotSelectorStaysInPolicyNamespace",
       "libcalico-go updateprocessors/rules.go: a namespaced rule is limited to the policy's "
       "namespace as soon as any selector field is used, notSelector included",
       {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-from-all-but-b, namespace: x}
spec:
  selector: "pod == 'a'"
  ingress:
  - action: Allow
    source: {notSelector: "pod == 'b'"}
)y",
       80, "TCP",
       {
           "... ... ...", "X.. ... ...", "... ... ...",
           "X.. ... ...", "X.. ... ...", "X.. ... ...",
           "X.. ... ...", "X.. ... ...", "X.. ... ...",
       }},
      {"GlobalPolicySelectsAcrossNamespaces",
       "GlobalNetworkPolicy: its selector and its rules' selectors match endpoints in every "
       "namespace",
       {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: a-from-b-everywhere}
spec:
  selector: "pod == 'a'"
  ingress:
  - action: Allow
    source: {selector: "pod == 'b'"}
)y",
       80, "TCP",
       {
           "... X.. X..", "... ... ...", "X.. X.. X..",
           "X.. ... X..", "... ... ...", "X.. X.. X..",
           "X.. X.. ...", "... ... ...", "X.. X.. X..",
       }},
      {"GlobalNamespaceSelectorAndAutomaticLabels",
       "GlobalNetworkPolicy.namespaceSelector; namespaces carry projectcalico.org/name and "
       "endpoints projectcalico.org/namespace",
       {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: z-from-y}
spec:
  namespaceSelector: "projectcalico.org/name == 'z'"
  selector: all()
  types: [Ingress]
  ingress:
  - action: Allow
    source: {selector: "projectcalico.org/namespace == 'y'"}
)y",
       80, "TCP",
       {
           "... ... XXX", "... ... XXX", "... ... XXX",
           "... ... ...", "... ... ...", "... ... ...",
           "... ... .XX", "... ... X.X", "... ... XX.",
       }},
      {"SelectorOperators",
       "Calico selector syntax: in, not in, has(), !=, !, &&, || (y/c carries role=db)",
       {{"y/c", "role", "db"}}, R"y(
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: operators}
spec:
  selector: "pod in {'a', 'b'} && projectcalico.org/namespace not in {'x', 'y'}"
  ingress:
  - action: Allow
    source:
      selector: "has(role) || (pod != 'c' && !(projectcalico.org/namespace == 'x'))"
)y",
       80, "TCP",
       {
           "... ... XX.", "... ... XX.", "... ... XX.",
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... XX.",
       }},
      {"NotHasAndRuleNamespaceSelectorInGlobalPolicy",
       "Calico selector syntax: !has() and all(); a GlobalNetworkPolicy rule's namespaceSelector "
       "(y/c carries role=db)",
       {{"y/c", "role", "db"}}, R"y(
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: y-unlabelled-from-y}
spec:
  namespaceSelector: "ns == 'y'"
  selector: "!has(role)"
  ingress:
  - action: Allow
    source:
      namespaceSelector: "ns in {'y'}"
      selector: all()
)y",
       80, "TCP",
       {
           "... XX. ...", "... XX. ...", "... XX. ...",
           "... ... ...", "... ... ...", "... ... ...",
           "... XX. ...", "... XX. ...", "... XX. ...",
       }},
      {"EarlierTierDenyBeatsKubernetesAllow",
       "Tier: tiers are evaluated by order; a Deny in an earlier tier ends evaluation before the "
       "Kubernetes policies of the default tier",
       {}, SecurityTierDenyY("  order: 100\n", "  - action: Pass\n") + kAllowAllIngressX, 80, "TCP",
       kIngressToXDeniedFromY},
      {"TierEndsInDenyWhenNothingMatches",
       "Tier: if the tier applies to the endpoint but takes no action on the packet, the packet "
       "is dropped",
       {}, SecurityTierDenyY("  order: 100\n", "") + kAllowAllIngressX, 80, "TCP",
       kIngressToXDenied},
      {"TierDefaultActionPass",
       "Tier.defaultAction Pass: a tier that applies but takes no action hands over to the next "
       "tier",
       {}, SecurityTierDenyY("  order: 100\n  defaultAction: Pass\n", "") + R"y(
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-z, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: z}}}]
)y",
       80, "TCP",
       {
           ".XX ... ...", "X.X ... ...", "XX. ... ...",
           "XXX ... ...", "XXX ... ...", "XXX ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"PassHandsOverToKubernetesPolicies",
       "Rule action Pass: skips to the next tier, here the default tier's Kubernetes policies", {},
       R"y(
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pass-y}
spec:
  tier: security
  order: 10
  selector: "projectcalico.org/namespace == 'x'"
  ingress:
  - action: Pass
    source: {namespaceSelector: "ns == 'y'"}
  - action: Allow
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-from-y-a, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {ns: y}}
      podSelector: {matchLabels: {pod: a}}
)y",
       80, "TCP",
       {
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "XXX ... ...", "XXX ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"PassWithNoLaterPolicyFallsToProfile",
       "Tier: if the last tier applying to the endpoint passes the packet, the endpoint's "
       "profiles (Kubernetes' default allow) decide",
       {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: pass-all}
spec:
  tier: security
  selector: "projectcalico.org/namespace == 'x'"
  ingress:
  - action: Pass
)y",
       80, "TCP", kAllAllowed},
      {"TiersThatApplyToNoEndpointAreSkipped",
       "Tier: only tiers containing a policy that applies to the endpoint process the packet (an "
       "empty tier, a tier selecting nothing)",
       {}, std::string(R"y(
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: empty}
spec: {order: 50}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: quarantine}
spec: {order: 60}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: quarantine}
spec:
  tier: quarantine
  selector: "quarantine == 'true'"
  types: [Ingress, Egress]
  ingress: [{action: Deny}]
  egress: [{action: Deny}]
)y") + kDenyIngressY,
       80, "TCP", kIngressToYDenied},
      {"TierAppliesPerDirection",
       "a tier applies to an endpoint per direction: an egress-only policy does not end ingress "
       "in its tier (Felix's TierInfo lists ingress and egress policies apart)",
       {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: x-not-to-z}
spec:
  tier: security
  selector: "projectcalico.org/namespace == 'x'"
  egress:
  - action: Deny
    destination: {namespaceSelector: "ns == 'z'"}
  - action: Pass
)y",
       80, "TCP",
       {
           "... ... XXX", "... ... XXX", "... ... XXX",
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"TiersRunByOrderNotName", "Tier.order: smallest first, whatever the names", {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: a-late}
spec: {order: 500}
---
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: z-early}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-x}
spec:
  tier: a-late
  selector: "projectcalico.org/namespace == 'x'"
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-z}
spec:
  tier: z-early
  selector: "projectcalico.org/namespace == 'x'"
  ingress:
  - action: Deny
    source: {namespaceSelector: "ns == 'z'"}
  - action: Pass
)y",
       80, "TCP",
       {
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "XXX ... ...", "XXX ... ...", "XXX ... ...",
       }},
      {"PolicyOrderWithinTier", "NetworkPolicy.order: lowest first, whatever the names", {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: z-allow-y-a, namespace: x}
spec:
  order: 100
  ingress:
  - action: Allow
    source: {selector: "pod == 'a'", namespaceSelector: "ns == 'y'"}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-deny-y, namespace: x}
spec:
  order: 200
  ingress:
  - action: Deny
    source: {namespaceSelector: "ns == 'y'"}
  - action: Allow
)y",
       80, "TCP",
       {
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "XXX ... ...", "XXX ... ...",
           "... ... ...", "... ... ...", "... ... ...",
       }},
      {"OrderTiesBrokenByName", "policies of equal order are evaluated by name", {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: b-allow-all, namespace: x}
spec:
  order: 100
  ingress: [{action: Allow}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-deny-y, namespace: x}
spec:
  order: 100
  ingress:
  - action: Deny
    source: {namespaceSelector: "ns == 'y'"}
)y",
       80, "TCP", kIngressToXDeniedFromY},
      {"UnorderedPolicyComesLast",
       "NetworkPolicy.order: a policy without order comes after every ordered one", {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: a-deny-y, namespace: x}
spec:
  ingress:
  - action: Deny
    source: {namespaceSelector: "ns == 'y'"}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: z-allow-all, namespace: x}
spec:
  order: 500
  ingress: [{action: Allow}]
)y",
       80, "TCP", kAllAllowed},
      {"LogContinues", "Rule action Log: logs the packet and evaluation continues", {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: log-deny-z, namespace: x}
spec:
  ingress:
  - action: Log
  - action: Deny
    source: {namespaceSelector: "ns == 'z'"}
  - action: Allow
)y",
       80, "TCP",
       {
           "... ... ...", "... ... ...", "... ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "XXX ... ...", "XXX ... ...", "XXX ... ...",
       }},
      {"CalicoBeforeOrder1000PrecedesKubernetes",
       "Kubernetes policies sit in the default tier at order 1000: a Calico Deny at order 100 "
       "comes first",
       {}, std::string(R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-y, namespace: x}
spec:
  order: 100
  ingress:
  - action: Deny
    source: {namespaceSelector: "ns == 'y'"}
)y") + kAllowAllIngressX,
       80, "TCP", kIngressToXDeniedFromY},
      {"CalicoAfterOrder1000FollowsKubernetes",
       "Kubernetes policies sit in the default tier at order 1000: their Allow decides before a "
       "Calico Deny at order 2000",
       {}, std::string(R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: deny-y, namespace: x}
spec:
  order: 2000
  ingress:
  - action: Deny
    source: {namespaceSelector: "ns == 'y'"}
)y") + kAllowAllIngressX,
       80, "TCP", kAllAllowed},
      {"PassInDefaultTierSkipsKubernetesPolicies",
       "Rule action Pass in the last tier: the rest of the tier (its Kubernetes policies) is "
       "skipped and the profiles allow",
       {}, std::string(R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: pass-y, namespace: x}
spec:
  order: 100
  ingress:
  - action: Pass
    source: {namespaceSelector: "ns == 'y'"}
)y") + kDenyIngressX,
       80, "TCP",
       {
           ".XX ... ...", "X.X ... ...", "XX. ... ...",
           "... ... ...", "... ... ...", "... ... ...",
           "XXX ... ...", "XXX ... ...", "XXX ... ...",
       }},
      {"PortRange", "EntityRule.ports: a \"first:last\" range", {}, kCalicoPortRangeY, 81, "TCP",
       {
           "... ... ...", "... ... ...", "... ... ...",
           "... .XX ...", "... X.X ...", "... XX. ...",
           "... XXX ...", "... XXX ...", "... XXX ...",
       }},
      {"PortRangeOtherProtocol", "Rule.protocol TCP does not match UDP on the same port", {},
       kCalicoPortRangeY, 81, "UDP", kIngressToYDenied},
      {"NotPortsExcluded", "EntityRule.notPorts: the listed ports do not match", {},
       kCalicoNotPortsY, 80, "TCP", kIngressToYDenied},
      {"NotPortsOthersAllowed", "EntityRule.notPorts: other ports match", {}, kCalicoNotPortsY, 81,
       "TCP", kAllAllowed},
      {"ProtocolByNumber", "Rule.protocol as a number: 17 is UDP", {}, kCalicoUdpByNumberZ, 80,
       "UDP", kAllAllowed},
      {"ProtocolByNumberOtherProtocol", "Rule.protocol as a number: 17 does not match TCP", {},
       kCalicoUdpByNumberZ, 80, "TCP", kIngressToZDenied},
      {"NotProtocol", "Rule.notProtocol: the named protocol does not match", {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: allow-all-but-udp, namespace: z}
spec:
  ingress:
  - action: Allow
    notProtocol: UDP
)y",
       80, "UDP", kIngressToZDenied},
      {"CalicoNamedPort", "EntityRule.ports: a named port of the destination endpoint", {},
       kCalicoNamedPortZ, 81, "UDP", kAllAllowed},
      {"CalicoNamedPortOtherPort", "EntityRule.ports: a named port matches only its own number",
       {}, kCalicoNamedPortZ, 80, "UDP", kIngressToZDenied},
      {"NetsAndNotNets", "EntityRule.nets and notNets: y's /24 but y/b's address", {}, R"y(
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: x-from-y-net}
spec:
  selector: "projectcalico.org/namespace == 'x'"
  ingress:
  - action: Allow
    source:
      nets: [10.42.2.0/24]
      notNets: [10.42.2.11/32]
)y",
       80, "TCP",
       {
           ".XX ... ...", "X.X ... ...", "XX. ... ...",
           "... ... ...", "XXX ... ...", "... ... ...",
           "XXX ... ...", "XXX ... ...", "XXX ... ...",
       }},
      {"GlobalEgressDeny",
       "GlobalNetworkPolicy egress rules: pods c may not open connections to pods a anywhere", {},
       R"y(
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: c-not-to-a}
spec:
  selector: "pod == 'c'"
  egress:
  - action: Deny
    destination: {selector: "pod == 'a'"}
  - action: Allow
)y",
       80, "TCP",
       {
           "... ... ...", "... ... ...", "X.. X.. X..",
           "... ... ...", "... ... ...", "X.. X.. X..",
           "... ... ...", "... ... ...", "X.. X.. X..",
       }},
  };
  return cases;
}

// A check of the tables themselves: a typo in a row would otherwise show up
// as an engine failure that is not one.
TEST(TruthTableCases, AreWellFormed) {
  std::set<std::string> ids;
  for (const auto* cases : {&KubernetesCases(), &CalicoCases()}) {
    for (const TruthCase& c : *cases) {
      EXPECT_TRUE(ids.insert(c.id).second) << "duplicate case id " << c.id;
      ASSERT_EQ(c.expected.size(), 9u) << c.id;
      for (size_t i = 0; i < 9; ++i) {
        const std::string row = StripSpaces(c.expected[i]);
        ASSERT_EQ(row.size(), 9u) << c.id << " row " << i;
        EXPECT_EQ(row.find_first_not_of(".X"), std::string::npos) << c.id << " row " << i;
        EXPECT_EQ(row[i], '.') << c.id << ": loopback is always allowed (row " << i << ")";
      }
    }
  }
  // At least the upstream-derived and Calico coverage this suite promises.
  EXPECT_GE(KubernetesCases().size() + CalicoCases().size(), 45u);
  EXPECT_GE(CalicoCases().size(), 12u);
}

class TruthTable : public ::testing::TestWithParam<TruthCase> {};

TEST_P(TruthTable, MatchesUpstreamSemantics) {
  const TruthCase& c = GetParam();
  const std::string yaml = FixtureYaml(c.labels) + c.yaml;
  const model::LoadResult loaded = model::LoadManifests(yaml, "truth_table.yaml");
  ASSERT_TRUE(loaded.ok()) << [&] {
    std::string errors;
    for (const model::Diagnostic& d : loaded.errors) errors += d.ToString() + "\n";
    return errors;
  }() << c.yaml;
  // A warning means a field was ignored: the case would then test less than
  // its YAML says.
  EXPECT_TRUE(loaded.warnings.empty()) << [&] {
    std::string warnings;
    for (const model::Diagnostic& d : loaded.warnings) warnings += d.ToString() + "\n";
    return warnings;
  }();
  const StatusOr<std::string> matrix = ReachabilityMatrix(loaded.objects, Probe{c.protocol, c.port});
  ASSERT_TRUE(matrix.ok()) << matrix.status().ToString();
  EXPECT_TRUE(MatrixMatches(*matrix, c.expected))
      << "case " << c.id << " (" << c.source << "), " << c.protocol << " " << c.port;
}

std::string CaseName(const ::testing::TestParamInfo<TruthCase>& info) { return info.param.id; }

INSTANTIATE_TEST_SUITE_P(Kubernetes, TruthTable, ::testing::ValuesIn(KubernetesCases()), CaseName);
INSTANTIATE_TEST_SUITE_P(Calico, TruthTable, ::testing::ValuesIn(CalicoCases()), CaseName);

}  // namespace
}  // namespace edgebed::tools
