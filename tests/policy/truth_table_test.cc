// Truth tables in the style of upstream Kubernetes' network-policy e2e model
// (test/e2e/network/netpol): namespaces x, y, z, each with pods a, b, c; each
// case applies policies and asserts the full 9x9 reachability matrix, as
// `edgebed policy matrix` prints it. Expectations are built the way upstream
// builds them — start from everything allowed, then deny or allow whole
// rows (egress), columns (ingress) or single pairs — from the upstream
// semantics, not from the engine. Then Calico: tiers, order, Pass, Log,
// selectors, nets, ports.
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <sstream>

#include "core/model/loader.h"
#include "tools/policy_command.h"

namespace edgebed::tools {
namespace {

const std::array<const char*, 3> kNamespaces = {"x", "y", "z"};
const std::array<const char*, 3> kPods = {"a", "b", "c"};

// Pods serve 80 and 81 over TCP, UDP and SCTP, with upstream's port names.
// Addresses are fixed so ipBlock cases can name them: x/a is 10.42.1.10,
// y/b is 10.42.2.11, z/c is 10.42.3.12.
std::string Fixture() {
  std::string yaml;
  for (size_t n = 0; n < 3; ++n) {
    yaml += std::string("apiVersion: v1\nkind: Namespace\nmetadata: {name: ") + kNamespaces[n] +
            ", labels: {ns: " + kNamespaces[n] + "}}\n---\n";
    for (size_t p = 0; p < 3; ++p) {
      yaml += std::string("apiVersion: v1\nkind: Pod\nmetadata: {name: ") + kPods[p] +
              ", namespace: " + kNamespaces[n] + ", labels: {pod: " + kPods[p] + "}}\n" +
              "spec:\n  containers:\n  - name: c\n    image: agnhost\n    ports:\n";
      for (const char* proto : {"TCP", "UDP", "SCTP"}) {
        for (int port : {80, 81}) {
          std::string lower = proto;
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          yaml += "    - {name: serve-" + std::to_string(port) + "-" + lower +
                  ", containerPort: " + std::to_string(port) + ", protocol: " + proto + "}\n";
        }
      }
      yaml += "status: {podIP: 10.42." + std::to_string(n + 1) + "." + std::to_string(10 + p) +
              "}\n---\n";
    }
  }
  return yaml;
}

// The expected matrix, built as upstream's Reachability is.
class Reachability {
 public:
  explicit Reachability(bool allowed) { for (auto& row : cells_) row.fill(allowed); }
  static int Index(const std::string& pod) {  // "x/a" -> 0
    return (pod[0] - 'x') * 3 + (pod[2] - 'a');
  }
  Reachability& Expect(const std::string& from, const std::string& to, bool allowed) {
    cells_[Index(from)][Index(to)] = allowed;
    return *this;
  }
  Reachability& ExpectAllIngress(const std::string& to, bool allowed) {
    for (int from = 0; from < 9; ++from) cells_[from][Index(to)] = allowed;
    return *this;
  }
  Reachability& ExpectAllEgress(const std::string& from, bool allowed) {
    for (int to = 0; to < 9; ++to) cells_[Index(from)][to] = allowed;
    return *this;
  }
  // Every pair whose source and destination satisfy the predicates.
  Reachability& ExpectPeers(const std::function<bool(const std::string&)>& from,
                            const std::function<bool(const std::string&)>& to, bool allowed) {
    for (int f = 0; f < 9; ++f) {
      for (int t = 0; t < 9; ++t) {
        if (from(Name(f)) && to(Name(t))) cells_[f][t] = allowed;
      }
    }
    return *this;
  }
  // A pod's traffic to itself never leaves it (upstream's AllowLoopback).
  Reachability& AllowLoopback() {
    for (int i = 0; i < 9; ++i) cells_[i][i] = true;
    return *this;
  }
  static std::string Name(int i) {
    return std::string(kNamespaces[i / 3]) + "/" + kPods[i % 3];
  }
  std::string ToString() const {
    std::string s = "      x/a x/b x/c y/a y/b y/c z/a z/b z/c\n";
    for (int f = 0; f < 9; ++f) {
      s += Name(f) + "  ";
      for (int t = 0; t < 9; ++t) s += cells_[f][t] ? " .  " : " X  ";
      s += "\n";
    }
    return s;
  }

 private:
  std::array<std::array<bool, 9>, 9> cells_;
};

std::function<bool(const std::string&)> InNamespace(const std::string& ns) {
  return [ns](const std::string& pod) { return pod.compare(0, ns.size(), ns) == 0; };
}
std::function<bool(const std::string&)> Pod(const std::string& name) {
  return [name](const std::string& pod) { return pod == name; };
}
std::function<bool(const std::string&)> Named(char pod) {
  return [pod](const std::string& p) { return p[2] == pod; };
}
bool Any(const std::string&) { return true; }

// The engine's matrix for the fixture plus `policies`, as a Reachability.
std::string Observe(const std::string& policies, int port, const std::string& protocol) {
  const model::LoadResult loaded = model::LoadManifests(Fixture() + policies, "case.yaml");
  if (!loaded.ok()) return "load error: " + loaded.errors[0].ToString();
  StatusOr<std::string> matrix = ReachabilityMatrix(loaded.objects, port, protocol);
  if (!matrix.ok()) return "error: " + matrix.status().ToString();
  std::istringstream lines(*matrix);
  std::string line;
  std::getline(lines, line);
  if (line != "-\tx/a\tx/b\tx/c\ty/a\ty/b\ty/c\tz/a\tz/b\tz/c") return "bad header: " + line;
  Reachability got(true);
  for (int f = 0; f < 9 && std::getline(lines, line); ++f) {
    std::istringstream cells(line);
    std::string source, cell;
    cells >> source;
    for (int t = 0; t < 9 && cells >> cell; ++t) got.Expect(Reachability::Name(f), Reachability::Name(t), cell == ".");
  }
  return got.ToString();
}

struct Case {
  const char* name;
  std::string policies;
  Reachability expected;
  int port = 80;
  const char* protocol = "TCP";
};

void Check(const Case& c) {
  Reachability want = c.expected;
  want.AllowLoopback();
  EXPECT_EQ(Observe(c.policies, c.port, c.protocol), want.ToString())
      << c.name << " (port " << c.port << "/" << c.protocol << ")";
}

std::string Knp(const std::string& ns, const std::string& name, const std::string& spec) {
  return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec + "---\n";
}

// --- Kubernetes NetworkPolicy ---

TEST(TruthTable, NoPoliciesEverythingIsReachable) {
  Check({"no policies", "", Reachability(true)});
}

TEST(TruthTable, DefaultDenyIngress) {
  Reachability r(true);
  for (const char* p : {"x/a", "x/b", "x/c"}) r.ExpectAllIngress(p, false);
  Check({"default-deny-ingress", Knp("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"), r});
}

TEST(TruthTable, DefaultDenyEgress) {
  Reachability r(true);
  for (const char* p : {"x/a", "x/b", "x/c"}) r.ExpectAllEgress(p, false);
  Check({"default-deny-egress", Knp("x", "deny", "  podSelector: {}\n  policyTypes: [Egress]\n"), r});
}

TEST(TruthTable, DefaultDenyAll) {
  Reachability r(true);
  for (const char* p : {"x/a", "x/b", "x/c"}) r.ExpectAllIngress(p, false).ExpectAllEgress(p, false);
  Check({"default-deny-all", Knp("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n"), r});
}

TEST(TruthTable, AllowAllIngressAndEgress) {
  Check({"allow-all ingress", Knp("x", "allow", "  podSelector: {}\n  ingress: [{}]\n"), Reachability(true)});
  Check({"allow-all egress",
         Knp("x", "allow", "  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{}]\n"),
         Reachability(true)});
}

TEST(TruthTable, AllowsAreAUnionOverDenyAll) {
  Check({"deny-all and allow-all",
         Knp("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n") +
             Knp("x", "allow", "  podSelector: {}\n  ingress: [{}]\n"),
         Reachability(true)});
}

TEST(TruthTable, IngressFromPodSelectorInTheSameNamespace) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true);
  const std::string spec =
      "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}]\n";
  Check({"from pod b of x only", Knp("x", "allow-b", spec), r});
  Check({"matchExpressions In",
         Knp("x", "allow-b",
             "  podSelector: {matchExpressions: [{key: pod, operator: In, values: [a]}]}\n"
             "  ingress:\n  - from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}]\n"),
         r});
}

TEST(TruthTable, IngressFromAnyPodOfTheNamespace) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).ExpectPeers(InNamespace("x"), Pod("x/a"), true);
  Check({"podSelector {} peer",
         Knp("x", "same-ns", "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {}}]\n"), r});
}

TEST(TruthTable, IngressFromNamespaceSelector) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).ExpectPeers(InNamespace("y"), Pod("x/a"), true);
  Check({"from namespace y",
         Knp("x", "from-y", "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]\n"),
         r});
  Check({"by the automatic name label",
         Knp("x", "from-y",
             "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: "
             "{kubernetes.io/metadata.name: y}}}]\n"),
         r});
}

TEST(TruthTable, IngressFromNamespaceSelectorWithMatchExpressions) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false)
      .ExpectPeers(InNamespace("y"), Pod("x/a"), true)
      .ExpectPeers(InNamespace("z"), Pod("x/a"), true);
  Check({"namespaces NotIn [x]",
         Knp("x", "not-x",
             "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: "
             "{matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}}]\n"),
         r});
}

TEST(TruthTable, IngressFromAllNamespaces) {
  Check({"namespaceSelector {}",
         Knp("x", "all-ns", "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {}}]\n"),
         Reachability(true)});
}

TEST(TruthTable, PodSelectorAndNamespaceSelectorInOnePeer) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).Expect("y/b", "x/a", true);
  Check({"pod b of namespace y",
         Knp("x", "yb",
             "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - namespaceSelector: "
             "{matchLabels: {ns: y}}\n      podSelector: {matchLabels: {pod: b}}\n"),
         r});
}

TEST(TruthTable, PodSelectorOrNamespaceSelectorInTwoPeers) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true).ExpectPeers(InNamespace("y"), Pod("x/a"), true);
  Check({"pod b of x, or namespace y",
         Knp("x", "either",
             "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - namespaceSelector: "
             "{matchLabels: {ns: y}}\n    - podSelector: {matchLabels: {pod: b}}\n"),
         r});
}

TEST(TruthTable, MultiplePodSelectorsAndNamespaceSelectors) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false);
  for (const char* from : {"y/a", "y/b", "z/a", "z/b"}) r.Expect(from, "x/a", true);
  Check({"namespaces y,z and pods a,b",
         Knp("x", "multi",
             "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - namespaceSelector: "
             "{matchExpressions: [{key: ns, operator: In, values: [y, z]}]}\n      podSelector: "
             "{matchExpressions: [{key: pod, operator: In, values: [a, b]}]}\n"),
         r});
}

TEST(TruthTable, PodSelectorPeersStayInThePolicyNamespace) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true);  // not y/b, not z/b
  Check({"pod b means x's pod b",
         Knp("x", "b", "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}]\n"),
         r});
}

TEST(TruthTable, PoliciesOfOneNamespaceLeaveTheOthersAlone) {
  Reachability r(true);
  for (const char* p : {"y/a", "y/b", "y/c"}) r.ExpectAllIngress(p, false);
  Check({"deny-all in y", Knp("y", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"), r});
}

TEST(TruthTable, DenyIngressToPodsSelectedByNotIn) {
  Reachability r(true);
  r.ExpectAllIngress("x/b", false).ExpectAllIngress("x/c", false);
  Check({"deny all but pod a",
         Knp("x", "not-a",
             "  podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [a]}]}\n  policyTypes: [Ingress]\n"),
         r});
}

TEST(TruthTable, IngressOnASpecificPort) {
  const std::string spec = "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{port: 81}]\n";
  Reachability denied(true);
  denied.ExpectAllIngress("x/a", false);
  Check({"port 81 only, probed on 80", Knp("x", "p81", spec), denied, 80});
  Check({"port 81 only, probed on 81", Knp("x", "p81", spec), Reachability(true), 81});
}

TEST(TruthTable, IngressOnANamedPort) {
  const std::string spec =
      "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{port: serve-80-tcp}]\n";
  Reachability denied(true);
  denied.ExpectAllIngress("x/a", false);
  Check({"named port serve-80-tcp on 80", Knp("x", "named", spec), Reachability(true), 80});
  Check({"named port serve-80-tcp on 81", Knp("x", "named", spec), denied, 81});
}

TEST(TruthTable, IngressFromANamespaceOnANamedPort) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).ExpectPeers(InNamespace("y"), Pod("x/a"), true);
  Check({"namespace y on serve-80-tcp",
         Knp("x", "y-named",
             "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: "
             "{ns: y}}}]\n    ports: [{port: serve-80-tcp, protocol: TCP}]\n"),
         r});
}

TEST(TruthTable, NamedPortsAreMatchedWithTheirProtocol) {
  const std::string spec =
      "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{port: serve-80-udp, protocol: UDP}]\n";
  Reachability denied(true);
  denied.ExpectAllIngress("x/a", false);
  Check({"serve-80-udp over UDP", Knp("x", "udp", spec), Reachability(true), 80, "UDP"});
  Check({"serve-80-udp over TCP", Knp("x", "udp", spec), denied, 80, "TCP"});
}

TEST(TruthTable, EndPortOpensARange) {
  const std::string spec =
      "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{port: 80, endPort: 81}]\n";
  Reachability denied(true);
  denied.ExpectAllIngress("x/a", false);
  Check({"80-81 on 80", Knp("x", "range", spec), Reachability(true), 80});
  Check({"80-81 on 81", Knp("x", "range", spec), Reachability(true), 81});
  Check({"80-81 on 82", Knp("x", "range", spec), denied, 82});
  Check({"80-81 on 79", Knp("x", "range", spec), denied, 79});
}

TEST(TruthTable, AProtocolWithoutAPortAllowsEveryPortOfIt) {
  const std::string spec =
      "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{protocol: UDP}]\n";
  Reachability denied(true);
  denied.ExpectAllIngress("x/a", false);
  Check({"any UDP port, probed with UDP", Knp("x", "udp", spec), Reachability(true), 81, "UDP"});
  Check({"any UDP port, probed with TCP", Knp("x", "udp", spec), denied, 81, "TCP"});
}

TEST(TruthTable, SctpIsItsOwnProtocol) {
  const std::string spec =
      "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{port: 80, protocol: SCTP}]\n";
  Reachability denied(true);
  denied.ExpectAllIngress("x/a", false);
  Check({"SCTP 80 over SCTP", Knp("x", "sctp", spec), Reachability(true), 80, "SCTP"});
  Check({"SCTP 80 over TCP", Knp("x", "sctp", spec), denied, 80, "TCP"});
  Check({"SCTP 80 over UDP", Knp("x", "sctp", spec), denied, 80, "UDP"});
}

TEST(TruthTable, EgressToAPodInAnotherNamespace) {
  Reachability r(true);
  r.ExpectAllEgress("x/a", false).Expect("x/a", "y/b", true);
  Check({"egress to y/b only",
         Knp("x", "to-yb",
             "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - "
             "namespaceSelector: {matchLabels: {ns: y}}\n      podSelector: {matchLabels: {pod: b}}\n"),
         r});
}

TEST(TruthTable, EgressToACidr) {
  Reachability r(true);
  r.ExpectAllEgress("x/a", false).ExpectPeers(Pod("x/a"), InNamespace("y"), true);
  Check({"egress to y's /24",
         Knp("x", "cidr",
             "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.42.2.0/24}}]\n"),
         r});
}

TEST(TruthTable, EgressToACidrWithAnException) {
  Reachability r(true);
  r.ExpectAllEgress("x/a", false).Expect("x/a", "y/a", true).Expect("x/a", "y/c", true);
  Check({"egress to y's /24 except y/b",
         Knp("x", "cidr",
             "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: "
             "{cidr: 10.42.2.0/24, except: [10.42.2.11/32]}}]\n"),
         r});
}

TEST(TruthTable, IngressFromACidr) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).ExpectPeers(InNamespace("z"), Pod("x/a"), true);
  Check({"ingress from z's /24",
         Knp("x", "cidr", "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.42.3.0/24}}]\n"),
         r});
}

TEST(TruthTable, IngressAndEgressInOnePolicy) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true);
  r.ExpectAllEgress("x/a", false).ExpectPeers(Pod("x/a"), InNamespace("y"), true);
  Check({"both directions",
         Knp("x", "both",
             "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from: "
             "[{podSelector: {matchLabels: {pod: b}}}]\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {ns: y}}}]\n"),
         r});
}

TEST(TruthTable, IngressRulesOfAnEgressOnlyPolicyAreIgnored) {
  Reachability r(true);
  r.ExpectAllEgress("x/a", false);  // ingress stays open: the type list does not name it
  Check({"policyTypes [Egress] with ingress rules",
         Knp("x", "egress-only",
             "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  ingress:\n  - from: "
             "[{podSelector: {matchLabels: {pod: b}}}]\n"),
         r});
}

TEST(TruthTable, PolicyTypesDefaultFromTheRules) {
  // No policyTypes and egress rules: both Ingress (with no rules: deny) and Egress.
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).ExpectAllEgress("x/a", false).ExpectPeers(Pod("x/a"), InNamespace("y"), true);
  Check({"defaulted types",
         Knp("x", "default-types",
             "  podSelector: {matchLabels: {pod: a}}\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {ns: y}}}]\n"),
         r});
}

TEST(TruthTable, TheClientsEgressDenialWinsOverTheServersAllow) {
  Reachability r(true);
  r.ExpectAllEgress("y/b", false);
  Check({"client y/b may not send",
         Knp("x", "allow-all", "  podSelector: {}\n  ingress: [{}]\n") +
             Knp("y", "deny-b", "  podSelector: {matchLabels: {pod: b}}\n  policyTypes: [Egress]\n"),
         r});
}

TEST(TruthTable, AnAllowAllEgressPolicyTakesPrecedence) {
  Check({"egress to pod b, and allow-all egress",
         Knp("x", "to-b",
             "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: "
             "[{podSelector: {matchLabels: {pod: b}}}]\n") +
             Knp("x", "all", "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{}]\n"),
         Reachability(true)});
}

TEST(TruthTable, EgressOnANamedPortOfTheDestination) {
  const std::string spec =
      "  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: serve-81-tcp}]\n";
  Reachability denied(true);
  denied.ExpectAllEgress("x/a", false);
  Check({"serve-81-tcp on 80", Knp("x", "named", spec), denied, 80});
  Check({"serve-81-tcp on 81", Knp("x", "named", spec), Reachability(true), 81});
}

TEST(TruthTable, TheLaterDefinitionOfAPolicyReplacesTheEarlier) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true);
  Check({"updated policy",
         Knp("x", "p", "  podSelector: {}\n  policyTypes: [Ingress]\n") +
             Knp("x", "p", "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}]\n"),
         r});
}

TEST(TruthTable, EgressDenyAllButDns) {
  Reachability r(true);
  for (const char* p : {"x/a", "x/b", "x/c"}) r.ExpectAllEgress(p, false);
  const std::string spec =
      "  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]\n";
  Check({"only DNS out of x, probed on 80", Knp("x", "dns", spec), r, 80});
  Check({"only DNS out of x, probed on 53", Knp("x", "dns", spec), Reachability(true), 53, "UDP"});
}

// --- Calico ---

std::string Tier(const std::string& name, int order, const std::string& default_action = "Deny") {
  return "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: " + name +
         "}\nspec: {order: " + std::to_string(order) + ", defaultAction: " + default_action + "}\n---\n";
}
std::string Gnp(const std::string& name, const std::string& spec) {
  return "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: " + name +
         "}\nspec:\n" + spec + "---\n";
}
std::string Cnp(const std::string& ns, const std::string& name, const std::string& spec) {
  return "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n" + spec + "---\n";
}

TEST(TruthTable, CalicoDenyInAnEarlierTierBeatsAKubernetesAllow) {
  Reachability r(true);
  r.ExpectPeers(InNamespace("y"), Any, false);
  Check({"security tier denies y, passes the rest",
         Tier("security", 100) +
             Gnp("deny-y", "  tier: security\n  selector: all()\n  types: [Ingress]\n  ingress:\n  - action: Deny\n"
                           "    source: {namespaceSelector: ns == 'y'}\n  - action: Pass\n") +
             Knp("x", "allow-all", "  podSelector: {}\n  ingress: [{}]\n"),
         r});
}

TEST(TruthTable, PassHandsOverToKubernetesPolicies) {
  Reachability r(true);
  for (const char* p : {"x/a", "x/b", "x/c"}) r.ExpectAllIngress(p, false);
  Check({"pass everything, then deny-all in x",
         Tier("security", 100) +
             Gnp("pass", "  tier: security\n  selector: all()\n  types: [Ingress]\n  ingress: [{action: Pass}]\n") +
             Knp("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
         r});
}

TEST(TruthTable, ATierWhoseDefaultActionIsPass) {
  // z is allowed in the security tier; everything else falls through to the
  // default tier, where only x denies.
  Reachability r(true);
  r.ExpectPeers(InNamespace("x"), InNamespace("x"), false).ExpectPeers(InNamespace("y"), InNamespace("x"), false);
  Check({"defaultAction Pass",
         Tier("security", 100, "Pass") +
             Gnp("allow-z", "  tier: security\n  selector: all()\n  types: [Ingress]\n  ingress:\n  - action: Allow\n"
                            "    source: {namespaceSelector: ns == 'z'}\n") +
             Knp("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
         r});
}

TEST(TruthTable, ATierWhoseDefaultActionIsDenyEndsEvaluation) {
  Reachability r(false);
  r.ExpectPeers(InNamespace("z"), Any, true);
  Check({"defaultAction Deny",
         Tier("security", 100, "Deny") +
             Gnp("allow-z", "  tier: security\n  selector: all()\n  types: [Ingress]\n  ingress:\n  - action: Allow\n"
                            "    source: {namespaceSelector: ns == 'z'}\n") +
             Knp("x", "allow-all", "  podSelector: {}\n  ingress: [{}]\n"),
         r});
}

TEST(TruthTable, ATierThatSelectsNoEndpointIsSkipped) {
  Reachability r(true);
  for (const char* p : {"x/a", "x/b", "x/c"}) r.ExpectAllIngress(p, false);
  Check({"empty tier",
         Tier("first", 1) +
             Gnp("nobody", "  tier: first\n  selector: pod == 'nobody'\n  types: [Ingress]\n  ingress: [{action: Deny}]\n") +
             Knp("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n"),
         r});
}

TEST(TruthTable, CalicoNamespacedSelectorsStayInTheirNamespace) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).Expect("x/b", "x/a", true);
  Check({"selector pod == 'b' in x",
         Cnp("x", "b-to-a", "  selector: pod == 'a'\n  ingress:\n  - action: Allow\n    source: {selector: pod == 'b'}\n"), r});
}

TEST(TruthTable, CalicoNamespaceSelectorAndSelectorTogether) {
  Reachability r(true);
  r.ExpectAllIngress("x/a", false).Expect("y/b", "x/a", true);
  Check({"y's pod b",
         Cnp("x", "yb", "  selector: pod == 'a'\n  ingress:\n  - action: Allow\n    source: {namespaceSelector: ns == 'y', selector: pod == 'b'}\n"),
         r});
}

TEST(TruthTable, CalicoOrderDecidesWithinATier) {
  Reachability r(true);
  r.Expect("x/b", "x/a", false);
  Check({"deny b at order 10, allow all at 20",
         Cnp("x", "z-allow", "  order: 20\n  selector: pod == 'a'\n  ingress: [{action: Allow}]\n") +
             Cnp("x", "a-deny", "  order: 10\n  selector: pod == 'a'\n  ingress:\n  - action: Deny\n    source: {selector: pod == 'b'}\n"),
         r});
}

TEST(TruthTable, EqualOrdersAreBrokenByName) {
  Reachability r(true);
  r.ExpectPeers(InNamespace("y"), Named('c'), false);
  Check({"a-deny before b-allow",
         Gnp("b-allow", "  order: 5\n  selector: pod == 'c'\n  ingress: [{action: Allow}]\n") +
             Gnp("a-deny", "  order: 5\n  selector: pod == 'c'\n  ingress:\n  - action: Deny\n    source: {namespaceSelector: ns == 'y'}\n"),
         r});
}

TEST(TruthTable, ACalicoPolicyBeforeKubernetesOrder1000) {
  Reachability r(true);
  r.ExpectPeers(InNamespace("z"), InNamespace("x"), false);
  Check({"Calico order 500 denies z; Kubernetes allows all",
         Cnp("x", "deny-z", "  order: 500\n  selector: all()\n  ingress:\n  - action: Deny\n    source: {namespaceSelector: ns == 'z'}\n") +
             Knp("x", "allow-all", "  podSelector: {}\n  ingress: [{}]\n"),
         r});
}

TEST(TruthTable, NotSelectorMatchesEveryoneElse) {
  Reachability r(false);
  r.ExpectPeers(Named('a'), Any, true);
  Check({"deny all but pods a",
         Gnp("only-a", "  selector: all()\n  ingress:\n  - action: Deny\n    source: {notSelector: pod == 'a'}\n  - action: Allow\n"),
         r});
}

TEST(TruthTable, NotNetsExcludeANetwork) {
  Reachability r(true);
  r.ExpectPeers(InNamespace("y"), Any, false);
  Check({"allow from everywhere but y's /24",
         Gnp("not-y", "  selector: all()\n  ingress:\n  - action: Allow\n    source: {notNets: [10.42.2.0/24]}\n"), r});
}

TEST(TruthTable, CalicoPortRangesAndNamedPorts) {
  const std::string range = Gnp("range", "  selector: all()\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: ['79:80']}\n");
  Check({"79:80 on 80", range, Reachability(true), 80});
  Check({"79:80 on 81", range, Reachability(false), 81});
  const std::string named = Gnp("named", "  selector: all()\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: [serve-81-tcp]}\n");
  Check({"serve-81-tcp on 81", named, Reachability(true), 81});
  Check({"serve-81-tcp on 80", named, Reachability(false), 80});
}

TEST(TruthTable, CalicoNotPortsAndProtocolNumbers) {
  const std::string not80 = Gnp("not-80", "  selector: all()\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {notPorts: [80]}\n");
  Check({"notPorts 80 on 80", not80, Reachability(false), 80});
  Check({"notPorts 80 on 81", not80, Reachability(true), 81});
  const std::string udp = Gnp("udp", "  selector: all()\n  ingress: [{action: Allow, protocol: 17}]\n");
  Check({"protocol 17 over UDP", udp, Reachability(true), 80, "UDP"});
  Check({"protocol 17 over TCP", udp, Reachability(false), 80, "TCP"});
}

TEST(TruthTable, CalicoAutomaticNamespaceLabels) {
  Reachability r(false);
  r.ExpectPeers(InNamespace("z"), Any, true);
  Check({"projectcalico.org/name == 'z'",
         Gnp("z", "  selector: all()\n  ingress:\n  - action: Allow\n    source: {namespaceSelector: projectcalico.org/name == 'z'}\n"), r});
  Reachability x_only(true);
  for (const char* p : {"x/a", "x/b", "x/c"}) x_only.ExpectAllIngress(p, false);
  Check({"selector on projectcalico.org/namespace",
         Gnp("x", "  selector: projectcalico.org/namespace == 'x'\n  ingress: [{action: Deny}]\n"), x_only});
}

TEST(TruthTable, LogDoesNotDecide) {
  Reachability r(false);
  r.ExpectPeers(InNamespace("x"), Any, true);
  Check({"log then allow from x",
         Gnp("log", "  selector: all()\n  ingress:\n  - action: Log\n  - action: Allow\n    source: {namespaceSelector: ns == 'x'}\n"), r});
}

TEST(TruthTable, CalicoEgressToASelector) {
  Reachability r(true);
  for (const char* p : {"x/a", "x/b", "x/c"}) r.ExpectAllEgress(p, false);
  r.ExpectPeers(InNamespace("x"), Named('c'), true);
  Check({"x may only reach pods c",
         Gnp("x-to-c", "  selector: projectcalico.org/namespace == 'x'\n  types: [Egress]\n  egress:\n  - action: Allow\n"
                       "    destination: {selector: pod == 'c'}\n"),
         r});
}

TEST(TruthTable, UnorderedCalicoPoliciesComeAfterOrderedOnes) {
  // Kubernetes' order 1000 allow comes before an unordered Calico deny.
  Check({"unordered deny after Kubernetes allow",
         Cnp("x", "deny", "  selector: all()\n  ingress: [{action: Deny}]\n") +
             Knp("x", "allow-all", "  podSelector: {}\n  ingress: [{}]\n"),
         Reachability(true)});
}

}  // namespace
}  // namespace edgebed::tools
