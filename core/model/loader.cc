#include "core/model/loader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "core/base/closest.h"
#include "core/base/ip.h"
#include "core/model/cron.h"
#include "core/model/fields.h"

namespace edgebed::model {
namespace {

using internal::Context;
using internal::Fields;
using internal::IndexPath;
using internal::JoinPath;
using internal::TypeName;

// --- Names, labels, CIDRs, as upstream validates them ---

bool IsAlnum(char c) { return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)); }

// RFC 1123 label: what namespaces, containers and services are named.
bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63 || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

// RFC 1123 subdomain: what most objects are named.
bool IsDnsSubdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    const std::string part = s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!IsDnsLabel(part)) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

// A label name or value part: alphanumerics with '-', '_', '.' inside, at most 63.
bool IsQualifiedPart(const std::string& s) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (s.empty() || s.size() > 63 || !alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// Empty when `key` is a valid label key, else why not.
std::string LabelKeyProblem(const std::string& key) {
  const size_t slash = key.find('/');
  std::string name = key;
  if (slash != std::string::npos) {
    const std::string prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (!IsDnsSubdomain(prefix)) {
      return "its prefix \"" + prefix + "\" must be a DNS subdomain (lowercase, e.g. example.com)";
    }
  }
  if (!IsQualifiedPart(name)) {
    return "\"" + name + "\" must be 1-63 characters, alphanumerics with '-', '_' or '.' inside";
  }
  return "";
}

bool IsLabelValue(const std::string& v) { return v.empty() || IsQualifiedPart(v); }

// IANA service name: a named port. 1-15 characters, a letter somewhere, no "--".
bool IsPortName(const std::string& s) {
  if (s.empty() || s.size() > 15 || s.front() == '-' || s.back() == '-') return false;
  if (s.find("--") != std::string::npos) return false;
  bool letter = false;
  for (char c : s) {
    if (std::islower(static_cast<unsigned char>(c))) letter = true;
    else if (!std::isdigit(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return letter;
}

// --- Shared pieces of schema ---

void CheckLabels(Fields& f, const std::string& key, const Labels& labels, bool values_too) {
  YAML::Node map = f.Take(key);
  for (const auto& [k, v] : labels) {
    const std::string where = JoinPath(JoinPath(f.path(), key), k);
    YAML::Node at = map.IsMap() ? map[k] : map;
    if (const std::string problem = LabelKeyProblem(k); !problem.empty()) {
      f.ctx().Error(at, where, "invalid label key: " + problem);
    } else if (values_too && !IsLabelValue(v)) {
      f.ctx().Error(at, where, "invalid label value \"" + v +
                                   "\": at most 63 characters, alphanumerics with '-', '_' or "
                                   "'.' inside, or empty");
    }
  }
}

void ParseSelectorRequirements(Fields& f, const std::string& key,
                               std::vector<LabelSelectorRequirement>* out) {
  f.List(key, [&](Fields& e, size_t) {
    LabelSelectorRequirement r;
    e.String("key", &r.key, true);
    e.Enum("operator", &r.op, {"In", "NotIn", "Exists", "DoesNotExist"}, true);
    e.StringList("values", &r.values);
    const bool needs_values = r.op == "In" || r.op == "NotIn";
    if (!r.op.empty() && needs_values == r.values.empty()) {
      e.ctx().Error(e.node(), JoinPath(e.path(), "values"),
                    needs_values ? "must not be empty for operator " + r.op
                                 : "must be empty for operator " + r.op);
    }
    out->push_back(std::move(r));
  });
}

LabelSelector ParseLabelSelector(Fields& f) {
  LabelSelector s;
  f.StringMap("matchLabels", &s.match_labels);
  CheckLabels(f, "matchLabels", s.match_labels, true);
  ParseSelectorRequirements(f, "matchExpressions", &s.match_expressions);
  return s;
}

void OptionalSelector(Fields& f, const std::string& key, std::optional<LabelSelector>* out) {
  f.Object(key, [&](Fields& s) { *out = ParseLabelSelector(s); });
}

void ParseNodeSelectorRequirements(Fields& f, const std::string& key,
                                   std::vector<NodeSelectorRequirement>* out) {
  f.List(key, [&](Fields& e, size_t) {
    NodeSelectorRequirement r;
    e.String("key", &r.key, true);
    e.Enum("operator", &r.op, {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}, true);
    e.StringList("values", &r.values);
    const std::string where = JoinPath(e.path(), "values");
    if ((r.op == "In" || r.op == "NotIn") && r.values.empty()) {
      e.ctx().Error(e.node(), where, "must not be empty for operator " + r.op);
    } else if ((r.op == "Exists" || r.op == "DoesNotExist") && !r.values.empty()) {
      e.ctx().Error(e.node(), where, "must be empty for operator " + r.op);
    } else if (r.op == "Gt" || r.op == "Lt") {
      char* end = nullptr;
      errno = 0;
      if (r.values.size() != 1 || r.values[0].empty() ||
          std::isspace(static_cast<unsigned char>(r.values[0][0])) ||
          (std::strtoll(r.values[0].c_str(), &end, 10), *end != '\0') || errno == ERANGE) {
        e.ctx().Error(e.node(), where, "operator " + r.op + " needs exactly one integer value");
      }
    }
    out->push_back(std::move(r));
  });
}

NodeSelectorTerm ParseNodeSelectorTerm(Fields& f) {
  NodeSelectorTerm t;
  ParseNodeSelectorRequirements(f, "matchExpressions", &t.match_expressions);
  ParseNodeSelectorRequirements(f, "matchFields", &t.match_fields);
  // As the API server: a node's only selectable field is metadata.name, by
  // In or NotIn with one value.
  for (size_t i = 0; i < t.match_fields.size(); ++i) {
    const NodeSelectorRequirement& r = t.match_fields[i];
    const std::string path = IndexPath(JoinPath(f.path(), "matchFields"), i);
    if (r.key != "metadata.name") {
      f.ctx().Error(f.node(), JoinPath(path, "key"),
                    "\"" + r.key + "\" is not a node field; matchFields takes metadata.name");
    } else if ((r.op != "In" && r.op != "NotIn") || r.values.size() != 1) {
      f.ctx().Error(f.node(), path, "metadata.name takes operator In or NotIn with exactly one value");
    }
  }
  return t;
}

PodAffinityTerm ParsePodAffinityTerm(Fields& f) {
  PodAffinityTerm t;
  OptionalSelector(f, "labelSelector", &t.label_selector);
  f.StringList("namespaces", &t.namespaces);
  OptionalSelector(f, "namespaceSelector", &t.namespace_selector);
  f.String("topologyKey", &t.topology_key, true);
  f.Ignored({"matchLabelKeys", "mismatchLabelKeys"});
  return t;
}

PodAffinity ParsePodAffinity(Fields& f) {
  PodAffinity a;
  f.List("requiredDuringSchedulingIgnoredDuringExecution", [&](Fields& t, size_t) {
    a.required.push_back(ParsePodAffinityTerm(t));
  });
  f.List("preferredDuringSchedulingIgnoredDuringExecution", [&](Fields& w, size_t) {
    WeightedPodAffinityTerm term;
    w.Int32("weight", &term.weight, 1, 100, true);
    w.Object("podAffinityTerm", [&](Fields& t) { term.term = ParsePodAffinityTerm(t); }, true);
    a.preferred.push_back(std::move(term));
  });
  return a;
}

Affinity ParseAffinity(Fields& f) {
  Affinity a;
  f.Object("nodeAffinity", [&](Fields& n) {
    NodeAffinity na;
    n.Object("requiredDuringSchedulingIgnoredDuringExecution", [&](Fields& r) {
      r.List("nodeSelectorTerms", [&](Fields& t, size_t) {
        na.required.push_back(ParseNodeSelectorTerm(t));
      }, true);
    });
    n.List("preferredDuringSchedulingIgnoredDuringExecution", [&](Fields& p, size_t) {
      PreferredSchedulingTerm term;
      p.Int32("weight", &term.weight, 1, 100, true);
      p.Object("preference", [&](Fields& t) { term.preference = ParseNodeSelectorTerm(t); }, true);
      na.preferred.push_back(std::move(term));
    });
    a.node_affinity = std::move(na);
  });
  f.Object("podAffinity", [&](Fields& p) { a.pod_affinity = ParsePodAffinity(p); });
  f.Object("podAntiAffinity", [&](Fields& p) { a.pod_anti_affinity = ParsePodAffinity(p); });
  return a;
}

const std::vector<std::string> kProtocols = {"TCP", "UDP", "SCTP"};

Container ParseContainer(Fields& f, std::map<std::string, std::string>* port_names) {
  Container c;
  if (f.String("name", &c.name, true) && !c.name.empty() && !IsDnsLabel(c.name)) {
    f.ctx().Error(f.Take("name"), JoinPath(f.path(), "name"),
                  "\"" + c.name + "\" is not a valid name: lowercase letters, digits and '-', "
                  "starting and ending with a letter or digit, at most 63");
  }
  f.String("image", &c.image);
  f.StringList("command", &c.command);
  f.StringList("args", &c.args);
  f.String("workingDir", &c.working_dir);
  f.List("env", [&](Fields& e, size_t) {
    std::string name, value;
    e.String("name", &name, true);
    e.String("value", &value);
    e.Ignored({"valueFrom"}, "values from secrets and config maps are not modelled");
    c.env.emplace_back(name, value);
  });
  f.List("ports", [&](Fields& p, size_t) {
    ContainerPort port;
    p.String("name", &port.name);
    if (!port.name.empty()) {
      if (!IsPortName(port.name)) {
        p.ctx().Error(p.Take("name"), JoinPath(p.path(), "name"),
                      "\"" + port.name + "\" is not a valid port name: 1-15 lowercase letters, "
                      "digits and '-', with at least one letter");
      } else if (port_names && !port_names->emplace(port.name, p.path()).second) {
        p.ctx().Error(p.Take("name"), JoinPath(p.path(), "name"),
                      "port name \"" + port.name + "\" is used twice in the pod");
      }
    }
    p.Int32("containerPort", &port.container_port, 1, 65535, true);
    p.Enum("protocol", &port.protocol, kProtocols);
    p.OptionalInt32("hostPort", &port.host_port, 1, 65535);
    p.Ignored({"hostIP"});
    c.ports.push_back(std::move(port));
  });
  f.Object("resources", [&](Fields& r) {
    r.Resources("requests", &c.requests);
    r.Resources("limits", &c.limits);
    r.Ignored({"claims"});
    // As upstream: a request left out defaults to its limit; a request above
    // its limit is refused.
    for (const auto& [name, limit] : c.limits) c.requests.emplace(name, limit);
    for (const auto& [name, request] : c.requests) {
      auto limit = c.limits.find(name);
      if (limit != c.limits.end() && limit->second < request) {
        r.ctx().Error(r.Take("requests"), JoinPath(JoinPath(r.path(), "requests"), name),
                      "request " + request.ToString() + " is above its limit " +
                          limit->second.ToString() + "; lower the request or raise the limit");
      }
    }
  });
  f.Ignored({"envFrom", "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe",
             "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy",
             "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty", "resizePolicy",
             "restartPolicy"});
  return c;
}

// A pod's topologySpreadConstraints[i], or a scheduler profile's
// defaultConstraints[i] (which carry no labelSelector: the scheduler derives
// it from the pod's owner).
TopologySpreadConstraint ParseTopologySpreadConstraint(Fields& t, bool in_pod) {
  TopologySpreadConstraint c;
  t.Int32("maxSkew", &c.max_skew, 1, INT32_MAX, true);
  t.String("topologyKey", &c.topology_key, true);
  t.Enum("whenUnsatisfiable", &c.when_unsatisfiable, {"DoNotSchedule", "ScheduleAnyway"}, true);
  if (in_pod) OptionalSelector(t, "labelSelector", &c.label_selector);
  t.OptionalInt32("minDomains", &c.min_domains, 1, INT32_MAX);
  if (c.min_domains && c.when_unsatisfiable == "ScheduleAnyway") {
    t.ctx().Error(t.Take("minDomains"), JoinPath(t.path(), "minDomains"),
                  "can only be used with whenUnsatisfiable: DoNotSchedule");
  }
  t.Ignored({"matchLabelKeys", "nodeAffinityPolicy", "nodeTaintsPolicy"});
  return c;
}

PodSpec ParsePodSpec(Fields& f) {
  PodSpec s;
  std::map<std::string, std::string> port_names;
  std::set<std::string> container_names;
  auto containers = [&](const char* key, std::vector<Container>* out, bool required) {
    f.List(key, [&](Fields& c, size_t) {
      out->push_back(ParseContainer(c, &port_names));
      if (!out->back().name.empty() && !container_names.insert(out->back().name).second) {
        c.ctx().Error(c.Take("name"), JoinPath(c.path(), "name"),
                      "container name \"" + out->back().name + "\" is used twice in the pod");
      }
    }, required);
  };
  containers("containers", &s.containers, true);
  if (f.Has("containers") && s.containers.empty() && f.Take("containers").IsSequence()) {
    f.ctx().Error(f.Take("containers"), JoinPath(f.path(), "containers"),
                  "a pod needs at least one container");
  }
  containers("initContainers", &s.init_containers, false);
  f.String("nodeName", &s.node_name);
  f.StringMap("nodeSelector", &s.node_selector);
  f.Object("affinity", [&](Fields& a) { s.affinity = ParseAffinity(a); });
  f.List("tolerations", [&](Fields& t, size_t) {
    Toleration tol;
    t.String("key", &tol.key);
    t.Enum("operator", &tol.op, {"Equal", "Exists"});
    t.String("value", &tol.value);
    t.Enum("effect", &tol.effect, {"NoSchedule", "PreferNoSchedule", "NoExecute"});
    int64_t seconds = 0;
    if (t.Has("tolerationSeconds") &&
        t.Int("tolerationSeconds", &seconds, INT64_MIN, INT64_MAX)) {
      tol.toleration_seconds = seconds;
      if (tol.effect != "NoExecute") {
        t.ctx().Error(t.Take("tolerationSeconds"), JoinPath(t.path(), "tolerationSeconds"),
                      "only applies to effect NoExecute; set effect: NoExecute or remove it");
      }
    }
    if (tol.op == "Exists" && !tol.value.empty()) {
      t.ctx().Error(t.Take("value"), JoinPath(t.path(), "value"),
                    "must be empty when operator is Exists");
    }
    if (tol.key.empty() && tol.op != "Exists") {
      t.ctx().Error(t.node(), JoinPath(t.path(), "operator"),
                    "must be Exists when key is empty (a toleration of every taint)");
    }
    s.tolerations.push_back(std::move(tol));
  });
  f.String("priorityClassName", &s.priority_class_name);
  f.OptionalInt32("priority", &s.priority, INT32_MIN, INT32_MAX);
  f.Enum("preemptionPolicy", &s.preemption_policy, {"PreemptLowerPriority", "Never"});
  f.String("schedulerName", &s.scheduler_name);
  f.String("serviceAccountName", &s.service_account_name);
  f.List("volumes", [&](Fields& v, size_t) {
    PodVolume vol;
    v.String("name", &vol.name, true);
    v.Object("persistentVolumeClaim", [&](Fields& p) {
      std::string claim;
      p.String("claimName", &claim, true);
      vol.claim_name = claim;
      p.Bool("readOnly", &vol.read_only);
    });
    v.Ignored({"emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected", "nfs",
               "csi", "ephemeral", "iscsi", "local", "portworxVolume", "image"},
              "only persistentVolumeClaim volumes are modelled");
    s.volumes.push_back(std::move(vol));
  });
  f.List("topologySpreadConstraints", [&](Fields& t, size_t) {
    s.topology_spread_constraints.push_back(ParseTopologySpreadConstraint(t, true));
  });
  f.Enum("restartPolicy", &s.restart_policy, {"Always", "OnFailure", "Never"});
  f.Bool("hostNetwork", &s.host_network);
  f.Ignored({"activeDeadlineSeconds", "automountServiceAccountToken", "dnsConfig", "dnsPolicy",
             "enableServiceLinks", "ephemeralContainers", "hostAliases", "hostIPC", "hostPID",
             "hostUsers", "hostname", "imagePullSecrets", "os", "overhead", "readinessGates",
             "resourceClaims", "runtimeClassName", "schedulingGates", "securityContext",
             "serviceAccount", "setHostnameAsFQDN", "shareProcessNamespace", "subdomain",
             "terminationGracePeriodSeconds"});
  return s;
}

// --- Kinds ---

// What a kind's parser gets: the document's top-level fields and its metadata.
struct Document {
  Context& ctx;
  Fields& top;
  ObjectMeta meta;
  size_t errors_before;  // the error count when this document began
};

Namespace ParseNamespace(Document& d) {
  d.top.Ignored({"spec"}, "namespace finalizers are not modelled");
  d.top.Ignored({"status"}, "status is set by the cluster");
  return Namespace{d.meta};
}

ServiceAccount ParseServiceAccount(Document& d) {
  d.top.Ignored({"secrets", "imagePullSecrets", "automountServiceAccountToken"},
                "credentials are not modelled");
  return ServiceAccount{d.meta};
}

Node ParseNode(Document& d) {
  Node n{d.meta, false, {}, {}, {}};
  d.top.Object("spec", [&](Fields& s) {
    s.Bool("unschedulable", &n.unschedulable);
    s.List("taints", [&](Fields& t, size_t) {
      Taint taint;
      t.String("key", &taint.key, true);
      t.String("value", &taint.value);
      t.Enum("effect", &taint.effect, {"NoSchedule", "PreferNoSchedule", "NoExecute"}, true);
      t.Ignored({"timeAdded"});
      n.taints.push_back(std::move(taint));
    });
    s.Ignored({"podCIDR", "podCIDRs", "providerID", "configSource", "externalID"});
  });
  bool has_allocatable = false;
  d.top.Object("status", [&](Fields& s) {
    s.Resources("capacity", &n.capacity);
    has_allocatable = s.Has("allocatable");
    s.Resources("allocatable", &n.allocatable);
    s.Ignored({"addresses", "conditions", "daemonEndpoints", "nodeInfo", "images", "phase",
               "volumesAttached", "volumesInUse", "config", "runtimeHandlers", "features"},
              "reported by a running node");
  });
  if (!has_allocatable) n.allocatable = n.capacity;
  return n;
}

Pod ParsePod(Document& d) {
  Pod p{d.meta, {}, {}};
  d.top.Object("spec", [&](Fields& s) { p.spec = ParsePodSpec(s); }, true);
  d.top.Object("status", [&](Fields& s) {
    const auto add_ip = [&](Fields& f, const std::string& key) {
      std::string ip;
      f.String(key, &ip);
      IpPrefix address;
      if (ip.empty()) return;
      if (!ParseIpAddress(ip, &address)) {
        f.ctx().Error(f.Take(key), JoinPath(f.path(), key),
                      "\"" + ip + "\" is not an IP address; write e.g. \"10.42.0.7\"");
      } else if (std::find(p.pod_ips.begin(), p.pod_ips.end(), ip) == p.pod_ips.end()) {
        p.pod_ips.push_back(ip);
      }
    };
    add_ip(s, "podIP");
    s.List("podIPs", [&](Fields& entry, size_t) { add_ip(entry, "ip"); });
    s.Ignored({"phase", "conditions", "hostIP", "hostIPs", "startTime", "containerStatuses",
               "initContainerStatuses", "ephemeralContainerStatuses", "qosClass", "message",
               "reason", "nominatedNodeName", "resize", "resourceClaimStatuses"},
              "reported by a running pod");
  });
  return p;
}

void ParseIntOrPercent(Fields& f, const std::string& key, IntOrString* out) {
  std::optional<IntOrString> v;
  f.IntOrStr(key, &v);
  if (!v) return;
  if (v->is_int ? v->int_value < 0 : (v->str_value.size() < 2 || v->str_value.size() > 10 ||
                                      v->str_value.back() != '%' ||
                                      !std::all_of(v->str_value.begin(), v->str_value.end() - 1,
                                                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))) {
    f.ctx().Error(f.Take(key), JoinPath(f.path(), key),
                  "\"" + v->ToString() + "\" must be a non-negative number or a percentage like \"25%\"");
    return;
  }
  *out = *v;
}

// A pod template's metadata: its labels (checked) and annotations; a name
// or namespace there is the controller's to set.
bool ParseTemplateMetadata(Fields& t, PodTemplate* tmpl) {
  return t.Object("metadata", [&](Fields& m) {
    m.StringMap("labels", &tmpl->labels);
    CheckLabels(m, "labels", tmpl->labels, true);
    m.StringMap("annotations", &tmpl->annotations);
    m.Ignored({"name", "namespace", "creationTimestamp", "generateName"});
  });
}

// A workload's selector and pod template (Deployment, DaemonSet): the
// template's pods must restart Always, and the selector must select them.
void ParseSelectorAndTemplate(Fields& s, const std::string& kind, LabelSelector* selector, PodTemplate* tmpl) {
  const bool selector_ok = s.Object("selector", [&](Fields& sel) { *selector = ParseLabelSelector(sel); }, true);
  // The selector is checked against the template's labels even when the
  // pod spec below has errors of its own: each is worth reporting.
  bool labels_ok = false;
  s.Object("template", [&](Fields& t) {
    labels_ok = ParseTemplateMetadata(t, tmpl);
    t.Object("spec", [&](Fields& ps) {
      tmpl->spec = ParsePodSpec(ps);
      if (tmpl->spec.restart_policy != "Always") {
        ps.ctx().Error(ps.Take("restartPolicy"), JoinPath(ps.path(), "restartPolicy"),
                       "a " + kind + "'s pods must have restartPolicy Always");
      }
    }, true);
  }, true);
  if (selector_ok && labels_ok && s.Has("selector")) {
    if (selector->Empty()) {
      s.ctx().Error(s.Take("selector"), JoinPath(s.path(), "selector"),
                    "must not be empty; select the template's labels");
    } else if (!Matches(*selector, tmpl->labels)) {
      s.ctx().Error(s.Take("selector"), JoinPath(s.path(), "selector"),
                    "does not match the template's labels (" + JoinPath(s.path(), "template.metadata.labels") +
                        "); the " + kind + " would never own its pods");
    }
  }
}

// maxSurge and maxUnavailable of a rolling update, checked as upstream does:
// a rollout must be able to make progress, and cannot take down more than
// every pod.
void ParseRollingUpdate(Fields& ru, IntOrString* max_surge, IntOrString* max_unavailable) {
  ParseIntOrPercent(ru, "maxSurge", max_surge);
  ParseIntOrPercent(ru, "maxUnavailable", max_unavailable);
  const auto amount = [](const IntOrString& v) {
    return v.is_int ? v.int_value : std::stoll(v.str_value.substr(0, v.str_value.size() - 1));
  };
  if (amount(*max_surge) == 0 && amount(*max_unavailable) == 0) {
    ru.ctx().Error(ru.Has("maxUnavailable") ? ru.Take("maxUnavailable") : ru.node(), JoinPath(ru.path(), "maxUnavailable"),
                   "may not be 0 when maxSurge is 0: the rollout could never replace a "
                   "pod; allow at least 1 of either");
  } else if (!max_unavailable->is_int && amount(*max_unavailable) > 100) {
    ru.ctx().Error(ru.Take("maxUnavailable"), JoinPath(ru.path(), "maxUnavailable"), "must not be more than 100%");
  }
}

Deployment ParseDeployment(Document& d) {
  Deployment dep;
  dep.meta = d.meta;
  d.top.Object("spec", [&](Fields& s) {
    s.Int32("replicas", &dep.replicas, 0, INT32_MAX);
    s.Int32("minReadySeconds", &dep.min_ready_seconds, 0, INT32_MAX);
    ParseSelectorAndTemplate(s, "Deployment", &dep.selector, &dep.pod_template);
    s.Object("strategy", [&](Fields& st) {
      st.Enum("type", &dep.strategy, {"RollingUpdate", "Recreate"});
      if (dep.strategy == "Recreate" && st.Has("rollingUpdate")) {
        st.ctx().Error(st.Take("rollingUpdate"), JoinPath(st.path(), "rollingUpdate"),
                       "may not be specified when strategy type is Recreate; remove it or use "
                       "type RollingUpdate");
        return;
      }
      st.Object("rollingUpdate", [&](Fields& ru) { ParseRollingUpdate(ru, &dep.max_surge, &dep.max_unavailable); });
    });
    s.Ignored({"paused", "progressDeadlineSeconds", "revisionHistoryLimit"});
  }, true);
  d.top.Ignored({"status"}, "status is set by the cluster");
  return dep;
}

DaemonSet ParseDaemonSet(Document& d) {
  DaemonSet ds;
  ds.meta = d.meta;
  d.top.Object("spec", [&](Fields& s) {
    s.Int32("minReadySeconds", &ds.min_ready_seconds, 0, INT32_MAX);
    ParseSelectorAndTemplate(s, "DaemonSet", &ds.selector, &ds.pod_template);
    s.Object("updateStrategy", [&](Fields& st) {
      st.Enum("type", &ds.update_strategy, {"RollingUpdate", "OnDelete"});
      st.Object("rollingUpdate", [&](Fields& ru) { ParseRollingUpdate(ru, &ds.max_surge, &ds.max_unavailable); });
    });
    s.Ignored({"revisionHistoryLimit", "templateGeneration"});
  }, true);
  d.top.Ignored({"status"}, "status is set by the cluster");
  return ds;
}

// Checks as upstream's service validation makes them; the addresses and
// node ports themselves are the cluster's to allocate and check (it knows
// its ranges and what is taken).
Service ParseService(Document& d) {
  Service svc;
  svc.meta = d.meta;
  d.top.Object("spec", [&](Fields& s) {
    s.Enum("type", &svc.type, {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"});
    s.StringMap("selector", &svc.selector);
    if (s.String("clusterIP", &svc.cluster_ip) && !svc.cluster_ip.empty() && svc.cluster_ip != "None" &&
        !ParseIpv4(svc.cluster_ip)) {
      s.ctx().Error(s.Take("clusterIP"), JoinPath(s.path(), "clusterIP"),
                    "\"" + svc.cluster_ip + "\" must be an IPv4 address, \"None\" for a headless service, "
                    "or left out to have one allocated");
    }
    std::vector<std::string> ips;
    if (s.StringList("clusterIPs", &ips) && !ips.empty()) {
      if (svc.cluster_ip.empty()) svc.cluster_ip = ips[0];
      if (ips[0] != svc.cluster_ip || ips.size() > 1)
        s.ctx().Error(s.Take("clusterIPs"), JoinPath(s.path(), "clusterIPs"),
                      "must hold exactly clusterIP (one IPv4 address; dual-stack is not modelled)");
    }
    if (svc.headless() && svc.node_ports())
      s.ctx().Error(s.Take("clusterIP"), JoinPath(s.path(), "clusterIP"),
                    "may not be set to 'None' for " + svc.type + " services; leave it out, or make the service "
                    "type ClusterIP");
    std::set<std::string> names;
    std::set<std::pair<int32_t, std::string>> ports;
    s.List("ports", [&](Fields& p, size_t) {
      ServicePort port;
      if (p.String("name", &port.name) && !port.name.empty()) {
        if (!IsDnsLabel(port.name))
          p.ctx().Error(p.Take("name"), JoinPath(p.path(), "name"),
                        "\"" + port.name + "\" is not a valid port name: lowercase letters, digits and '-'");
        else if (!names.insert(port.name).second)
          p.ctx().Error(p.Take("name"), JoinPath(p.path(), "name"),
                        "port name \"" + port.name + "\" is used twice in the service");
      }
      p.Int32("port", &port.port, 1, 65535, true);
      p.Enum("protocol", &port.protocol, kProtocols);
      if (p.IntOrStr("targetPort", &port.target_port) && port.target_port) {
        const IntOrString& t = *port.target_port;
        if (t.is_int ? (t.int_value < 1 || t.int_value > 65535) : !IsPortName(t.str_value))
          p.ctx().Error(p.Take("targetPort"), JoinPath(p.path(), "targetPort"),
                        "\"" + t.ToString() + "\" must be a port number 1-65535 or a container port's name "
                        "(1-15 lowercase letters, digits and '-', with a letter)");
      }
      if (p.Int32("nodePort", &port.node_port, 1, 65535) && port.node_port != 0 && !svc.node_ports())
        p.ctx().Error(p.Take("nodePort"), JoinPath(p.path(), "nodePort"),
                      "may not be used when `type` is '" + svc.type + "'; remove it, or make the service "
                      "type NodePort");
      p.Ignored({"appProtocol"});
      if (port.port != 0 && !ports.emplace(port.port, port.protocol).second)
        p.ctx().Error(p.Take("port"), JoinPath(p.path(), "port"),
                      "port " + std::to_string(port.port) + "/" + port.protocol + " is listed twice");
      svc.ports.push_back(std::move(port));
    });
    if (svc.ports.size() > 1)
      for (size_t i = 0; i < svc.ports.size(); ++i)
        if (svc.ports[i].name.empty())
          s.ctx().Error(s.node()["ports"][i], IndexPath(JoinPath(s.path(), "ports"), i) + ".name",
                        "a service with several ports must name each of them");
    if (svc.ports.empty() && !svc.headless() && svc.type != "ExternalName")
      s.ctx().Error(s.node(), JoinPath(s.path(), "ports"),
                    "a " + svc.type + " service needs at least one port (or clusterIP: None for a headless one)");
    s.Enum("sessionAffinity", &svc.session_affinity, {"None", "ClientIP"});
    s.Object("sessionAffinityConfig", [&](Fields& a) {
      a.Object("clientIP", [&](Fields& c) {
        c.Int32("timeoutSeconds", &svc.session_affinity_timeout, 1, 86400);
      });
    });
    if (s.Enum("externalTrafficPolicy", &svc.external_traffic_policy, {"Cluster", "Local"}) &&
        !svc.external_traffic_policy.empty() && !svc.node_ports())
      s.ctx().Error(s.Take("externalTrafficPolicy"), JoinPath(s.path(), "externalTrafficPolicy"),
                    "may only be set when `type` is 'NodePort' or 'LoadBalancer'");
    s.Enum("internalTrafficPolicy", &svc.internal_traffic_policy, {"Cluster", "Local"});
    s.Bool("publishNotReadyAddresses", &svc.publish_not_ready_addresses);
    if (s.String("externalName", &svc.external_name, svc.type == "ExternalName") && !svc.external_name.empty() &&
        svc.type != "ExternalName")
      s.ctx().Error(s.Take("externalName"), JoinPath(s.path(), "externalName"),
                    "may only be set when `type` is 'ExternalName'");
    s.Ignored({"ipFamilies", "ipFamilyPolicy", "externalIPs", "loadBalancerIP", "loadBalancerSourceRanges",
               "loadBalancerClass", "allocateLoadBalancerNodePorts", "healthCheckNodePort", "trafficDistribution"});
  });
  d.top.Ignored({"status"}, "status is set by the cluster");
  return svc;
}

// A Job's pod template (also a CronJob's): its pods run to completion, so
// upstream refuses restartPolicy Always, which is also a pod's default.
void ParseJobTemplate(Fields& s, PodTemplate* tmpl) {
  s.Object("template", [&](Fields& t) {
    ParseTemplateMetadata(t, tmpl);
    t.Object("spec", [&](Fields& ps) {
      tmpl->spec = ParsePodSpec(ps);
      if (tmpl->spec.restart_policy != "Always") return;
      const bool written = ps.Has("restartPolicy");
      ps.ctx().Error(written ? ps.Take("restartPolicy") : ps.node(), JoinPath(ps.path(), "restartPolicy"),
                     std::string(written ? "Unsupported value: \"Always\"" : "Required value (a pod's default, Always, "
                                                                             "is not allowed here)") +
                         ": supported values: \"OnFailure\", \"Never\"; a Job's pods run to completion: write "
                         "restartPolicy: Never (a failed pod is replaced) or OnFailure (its container restarts in "
                         "place)");
    }, true);
  }, true);
}

// A Job's spec, also a CronJob's jobTemplate.spec, defaulted and checked
// as upstream's API server does.
void ParseJobSpec(Fields& s, JobSpec* spec) {
  s.OptionalInt32("completions", &spec->completions, 0, INT32_MAX);
  const bool parallelism_written = s.Has("parallelism");
  s.Int32("parallelism", &spec->parallelism, 0, INT32_MAX);
  // Neither written: one pod that must succeed once. Parallelism alone: a
  // work queue, whose completions stay unset.
  if (!spec->completions && !parallelism_written) spec->completions = 1;
  s.Int32("backoffLimit", &spec->backoff_limit, 0, INT32_MAX);
  s.Enum("completionMode", &spec->completion_mode, {"NonIndexed", "Indexed"});
  if (s.Has("activeDeadlineSeconds")) {
    int64_t seconds = 0;
    if (s.Int("activeDeadlineSeconds", &seconds, 1, INT64_MAX)) spec->active_deadline_seconds = seconds;
  }
  s.OptionalInt32("ttlSecondsAfterFinished", &spec->ttl_seconds_after_finished, 0, INT32_MAX);
  s.Bool("suspend", &spec->suspend);
  ParseJobTemplate(s, &spec->pod_template);
  if (spec->completion_mode == "Indexed") {
    constexpr int32_t kMaxIndexed = 100000;  // upstream's bound on an Indexed Job's size
    if (!spec->completions) {
      s.ctx().Error(s.Take("completionMode"), JoinPath(s.path(), "completions"),
                    "Required value: when completion mode is Indexed; write how many indexes must succeed");
    } else if (*spec->completions > kMaxIndexed) {
      s.ctx().Error(s.Take("completions"), JoinPath(s.path(), "completions"),
                    "must be less than or equal to 100000 when completion mode is Indexed");
    }
    if (spec->parallelism > kMaxIndexed)
      s.ctx().Error(s.Take("parallelism"), JoinPath(s.path(), "parallelism"),
                    "must be less than or equal to 100000 when completion mode is Indexed");
  }
  s.Ignored({"selector", "manualSelector"}, "the cluster selects a Job's pods by the labels it gives them");
  s.Ignored({"podFailurePolicy", "backoffLimitPerIndex", "maxFailedIndexes", "podReplacementPolicy", "successPolicy",
             "managedBy"});
}

// A name that goes into a label value (job-name) or a longer name: upstream
// limits it so that what is made from it stays valid.
void CheckNameLength(Fields& top, const ObjectMeta& meta, size_t max, const std::string& why) {
  if (meta.name.size() <= max) return;
  YAML::Node metadata = top.Take("metadata");
  top.ctx().Error(metadata.IsMap() && metadata["name"] ? metadata["name"] : top.node(), "metadata.name",
                  "must be no more than " + std::to_string(max) + " characters (" + why + "); shorten it");
}

Job ParseJob(Document& d) {
  Job job;
  job.meta = d.meta;
  CheckNameLength(d.top, d.meta, 63, "it is the job-name label of the Job's pods");
  d.top.Object("spec", [&](Fields& s) { ParseJobSpec(s, &job.spec); }, true);
  d.top.Ignored({"status"}, "status is set by the cluster");
  return job;
}

CronJob ParseCronJob(Document& d) {
  CronJob cj;
  cj.meta = d.meta;
  CheckNameLength(d.top, d.meta, 52, "its Jobs are named <name>-<scheduled minute>, 11 characters more");
  d.top.Object("spec", [&](Fields& s) {
    if (s.String("schedule", &cj.schedule, true) && s.Has("schedule")) {
      CronSchedule schedule;
      std::string why;
      if (!ParseCron(cj.schedule, &schedule, &why))
        s.ctx().Error(s.Take("schedule"), JoinPath(s.path(), "schedule"), "invalid schedule \"" + cj.schedule + "\": " + why);
    }
    std::optional<std::string> zone;
    s.OptionalString("timeZone", &zone);
    if (zone) {
      cj.time_zone = zone;
      if (*zone != "UTC" && *zone != "Etc/UTC")
        s.ctx().Warn(s.Take("timeZone"), JoinPath(s.path(), "timeZone"),
                     "\"" + *zone + "\": edgebed evaluates schedules in UTC only; the schedule runs as if it said "
                     "Etc/UTC (shift its hours, or write timeZone: Etc/UTC)");
    }
    s.Enum("concurrencyPolicy", &cj.concurrency_policy, {"Allow", "Forbid", "Replace"});
    s.Bool("suspend", &cj.suspend);
    if (s.Has("startingDeadlineSeconds")) {
      int64_t seconds = 0;
      if (s.Int("startingDeadlineSeconds", &seconds, 0, INT64_MAX)) cj.starting_deadline_seconds = seconds;
    }
    s.Int32("successfulJobsHistoryLimit", &cj.successful_jobs_history_limit, 0, INT32_MAX);
    s.Int32("failedJobsHistoryLimit", &cj.failed_jobs_history_limit, 0, INT32_MAX);
    s.Object("jobTemplate", [&](Fields& t) {
      t.Object("metadata", [&](Fields& m) {
        m.StringMap("labels", &cj.job_labels);
        CheckLabels(m, "labels", cj.job_labels, true);
        m.StringMap("annotations", &cj.job_annotations);
        m.Ignored({"name", "namespace", "creationTimestamp", "generateName"});
      });
      t.Object("spec", [&](Fields& js) { ParseJobSpec(js, &cj.job_template); }, true);
    }, true);
  }, true);
  d.top.Ignored({"status"}, "status is set by the cluster");
  return cj;
}

// Upstream refuses a list of policy types that names one twice.
void CheckNoRepeats(Fields& f, const std::string& key, const std::vector<std::string>& list) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (std::find(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(i), list[i]) !=
        list.begin() + static_cast<std::ptrdiff_t>(i)) {
      f.ctx().Error(f.Take(key)[i], IndexPath(JoinPath(f.path(), key), i),
                    "\"" + list[i] + "\" is listed twice; keep one");
    }
  }
}

void CheckCidr(Fields& f, const std::string& key, const std::string& text, IpPrefix* out,
               const std::string& path) {
  std::string why;
  if (!ParseCidr(text, out, &why)) f.ctx().Error(f.Take(key), path, why);
}

NetworkPolicy ParseNetworkPolicy(Document& d) {
  NetworkPolicy np;
  np.meta = d.meta;
  auto rules = [&](Fields& s, const char* key, const char* peers_key,
                   std::vector<NetworkPolicyRule>* out) {
    s.List(key, [&](Fields& r, size_t) {
      NetworkPolicyRule rule;
      r.List(peers_key, [&](Fields& p, size_t) {
        NetworkPolicyPeer peer;
        OptionalSelector(p, "podSelector", &peer.pod_selector);
        OptionalSelector(p, "namespaceSelector", &peer.namespace_selector);
        p.Object("ipBlock", [&](Fields& b) {
          IpBlock block;
          IpPrefix outer;
          if (b.String("cidr", &block.cidr, true) && !block.cidr.empty()) {
            CheckCidr(b, "cidr", block.cidr, &outer, JoinPath(b.path(), "cidr"));
          }
          b.StringList("except", &block.except);
          for (size_t i = 0; i < block.except.size(); ++i) {
            IpPrefix inner;
            std::string why;
            const std::string where = IndexPath(JoinPath(b.path(), "except"), i);
            if (!ParseCidr(block.except[i], &inner, &why)) {
              b.ctx().Error(b.Take("except")[i], where, why);
            } else if (outer.family != 0 && (!outer.Contains(inner) || inner.prefix == outer.prefix)) {
              b.ctx().Error(b.Take("except")[i], where,
                            "\"" + block.except[i] + "\" must lie strictly inside cidr \"" +
                                block.cidr + "\"");
            }
          }
          peer.ip_block = std::move(block);
        });
        if (peer.ip_block && (peer.pod_selector || peer.namespace_selector)) {
          p.ctx().Error(p.node(), p.path(),
                        "ipBlock cannot be combined with podSelector or namespaceSelector in one "
                        "peer; make them separate peers");
        } else if (!peer.ip_block && !peer.pod_selector && !peer.namespace_selector) {
          p.ctx().Error(p.node(), p.path(),
                        "a peer needs podSelector, namespaceSelector or ipBlock");
        }
        rule.peers.push_back(std::move(peer));
      });
      r.List("ports", [&](Fields& p, size_t) {
        NetworkPolicyPort port;
        p.Enum("protocol", &port.protocol, kProtocols);
        p.IntOrStr("port", &port.port);
        p.OptionalInt32("endPort", &port.end_port, 1, 65535);
        if (port.port && port.port->is_int && (port.port->int_value < 1 || port.port->int_value > 65535)) {
          p.ctx().Error(p.Take("port"), JoinPath(p.path(), "port"), "must be 1..65535 or a port name");
        } else if (port.port && !port.port->is_int && !IsPortName(port.port->str_value)) {
          p.ctx().Error(p.Take("port"), JoinPath(p.path(), "port"),
                        "\"" + port.port->str_value + "\" is neither a port number nor a valid port name");
        }
        if (port.end_port) {
          if (!port.port || !port.port->is_int) {
            p.ctx().Error(p.Take("endPort"), JoinPath(p.path(), "endPort"),
                          "needs a numeric port to start the range");
          } else if (*port.end_port < port.port->int_value) {
            p.ctx().Error(p.Take("endPort"), JoinPath(p.path(), "endPort"),
                          "must not be below port (" + std::to_string(port.port->int_value) + ")");
          }
        }
        rule.ports.push_back(std::move(port));
      });
      out->push_back(std::move(rule));
    });
  };
  d.top.Object("spec", [&](Fields& s) {
    s.Object("podSelector", [&](Fields& ps) { np.pod_selector = ParseLabelSelector(ps); }, true);
    rules(s, "ingress", "from", &np.ingress);
    rules(s, "egress", "to", &np.egress);
    s.EnumList("policyTypes", &np.policy_types, {"Ingress", "Egress"});
    CheckNoRepeats(s, "policyTypes", np.policy_types);
    // Upstream's defaulting: Ingress always, Egress when there are egress rules.
    if (np.policy_types.empty()) {
      np.policy_types.push_back("Ingress");
      if (!np.egress.empty()) np.policy_types.push_back("Egress");
    }
  }, true);
  d.top.Ignored({"status"}, "status is set by the cluster");
  return np;
}

// --- Calico ---

const std::vector<std::string> kCalicoProtocols = {"TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite"};

void ParseCalicoPorts(Fields& f, const std::string& key, std::vector<CalicoPort>* out) {
  YAML::Node list = f.Take(key);
  if (!list.IsDefined()) return;
  const std::string path = JoinPath(f.path(), key);
  if (!list.IsSequence()) {
    f.ctx().Error(list, path, "must be a list of ports: numbers, \"first:last\" ranges or names");
    return;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    const std::string where = IndexPath(path, i);
    if (!item.IsScalar()) {
      f.ctx().Error(item, where, "must be a port number, a \"first:last\" range or a port name");
      continue;
    }
    const std::string text = item.Scalar();
    CalicoPort port;
    auto number = [](const std::string& s, int32_t* v) {
      if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) return false;
      *v = std::stoi(s);
      return *v <= 65535;
    };
    const size_t colon = text.find(':');
    if (colon != std::string::npos) {
      if (!number(text.substr(0, colon), &port.first) || !number(text.substr(colon + 1), &port.last) ||
          port.first > port.last) {
        f.ctx().Error(item, where, "\"" + text + "\" is not a port range; write \"first:last\" with 0 <= first <= last <= 65535");
        continue;
      }
    } else if (number(text, &port.first)) {
      port.last = port.first;
    } else if (IsPortName(text)) {
      port.name = text;
    } else {
      f.ctx().Error(item, where, "\"" + text + "\" is not a port number, range or name");
      continue;
    }
    out->push_back(port);
  }
}

// Calico's list of networks: CIDRs, or bare addresses, which Calico (unlike
// a Kubernetes ipBlock) takes as their host network; they are stored with
// the prefix so the policy engine sees one form.
void ParseCalicoNets(Fields& f, const std::string& key, std::vector<std::string>* nets) {
  f.StringList(key, nets);
  for (size_t i = 0; i < nets->size(); ++i) {
    std::string& net = (*nets)[i];
    IpPrefix c;
    std::string why;
    if (net.find('/') == std::string::npos) {
      if (ParseIpAddress(net, &c)) {
        net += "/" + std::to_string(c.prefix);
      } else {
        f.ctx().Error(f.Take(key)[i], IndexPath(JoinPath(f.path(), key), i),
                      "\"" + net + "\" is neither a CIDR nor an IP address");
      }
    } else if (!ParseCidr(net, &c, &why)) {
      f.ctx().Error(f.Take(key)[i], IndexPath(JoinPath(f.path(), key), i), why);
    }
  }
}

CalicoEntityRule ParseEntityRule(Fields& f) {
  CalicoEntityRule e;
  ParseCalicoNets(f, "nets", &e.nets);
  ParseCalicoNets(f, "notNets", &e.not_nets);
  f.Selector("selector", &e.selector);
  f.Selector("notSelector", &e.not_selector);
  f.Selector("namespaceSelector", &e.namespace_selector);
  ParseCalicoPorts(f, "ports", &e.ports);
  ParseCalicoPorts(f, "notPorts", &e.not_ports);
  f.Object("serviceAccounts", [&](Fields& sa) {
    sa.StringList("names", &e.service_account_names);
    sa.Selector("selector", &e.service_account_selector);
  });
  f.Ignored({"services"}, "Kubernetes service matches are not modelled");
  return e;
}

void ParseProtocol(Fields& f, const std::string& key, std::optional<IntOrString>* out) {
  f.IntOrStr(key, out);
  if (!*out) return;
  const IntOrString& p = **out;
  if (p.is_int ? (p.int_value < 1 || p.int_value > 255)
               : std::find(kCalicoProtocols.begin(), kCalicoProtocols.end(), p.str_value) == kCalicoProtocols.end()) {
    const std::string near = p.is_int ? "" : ClosestName(p.str_value, kCalicoProtocols);
    f.ctx().Error(f.Take(key), JoinPath(f.path(), key),
                  "\"" + p.ToString() + "\" is not a protocol; use TCP, UDP, ICMP, ICMPv6, SCTP, "
                  "UDPLite or a number 1-255" +
                      (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
    out->reset();
  }
}

bool ProtocolHasPorts(const std::optional<IntOrString>& p) {
  if (!p) return false;
  if (p->is_int) return p->int_value == 6 || p->int_value == 17 || p->int_value == 132 || p->int_value == 136;
  return p->str_value == "TCP" || p->str_value == "UDP" || p->str_value == "SCTP" || p->str_value == "UDPLite";
}

CalicoRule ParseCalicoRule(Fields& f) {
  CalicoRule r;
  f.Enum("action", &r.action, {"Allow", "Deny", "Log", "Pass"}, true);
  ParseProtocol(f, "protocol", &r.protocol);
  ParseProtocol(f, "notProtocol", &r.not_protocol);
  auto icmp = [&](const char* key, std::optional<IcmpMatch>* out) {
    f.Object(key, [&](Fields& i) {
      IcmpMatch m;
      i.OptionalInt32("type", &m.type, 0, 254);
      i.OptionalInt32("code", &m.code, 0, 255);
      if (m.code && !m.type) i.ctx().Error(i.Take("code"), JoinPath(i.path(), "code"), "needs a type");
      *out = m;
    });
    const bool icmp_protocol = r.protocol && !r.protocol->is_int
                                   ? (r.protocol->str_value == "ICMP" || r.protocol->str_value == "ICMPv6")
                                   : (r.protocol && (r.protocol->int_value == 1 || r.protocol->int_value == 58));
    if (*out && !icmp_protocol) {
      f.ctx().Error(f.Take(key), JoinPath(f.path(), key), "needs protocol ICMP or ICMPv6");
    }
  };
  icmp("icmp", &r.icmp);
  icmp("notICMP", &r.not_icmp);
  f.OptionalInt32("ipVersion", &r.ip_version, 4, 6);
  if (r.ip_version && *r.ip_version == 5) {
    f.ctx().Error(f.Take("ipVersion"), JoinPath(f.path(), "ipVersion"), "must be 4 or 6");
  } else if (r.ip_version) {
    // As Calico: ICMP is IPv4's and ICMPv6 is IPv6's, in protocol and notProtocol alike.
    for (const char* key : {"protocol", "notProtocol"}) {
      const auto& p = std::string(key) == "protocol" ? r.protocol : r.not_protocol;
      if (!p) continue;
      const bool icmp4 = p->is_int ? p->int_value == 1 : p->str_value == "ICMP";
      const bool icmp6 = p->is_int ? p->int_value == 58 : p->str_value == "ICMPv6";
      if ((icmp4 && *r.ip_version != 4) || (icmp6 && *r.ip_version != 6)) {
        f.ctx().Error(f.Take("ipVersion"), JoinPath(f.path(), "ipVersion"),
                      std::string("must be ") + (icmp4 ? "4" : "6") + " with " + key + " " +
                          p->ToString() + "; drop ipVersion or fix the protocol");
      }
    }
  }
  for (const char* side : {"source", "destination"}) {
    CalicoEntityRule* e = std::string(side) == "source" ? &r.source : &r.destination;
    f.Object(side, [&](Fields& s) {
      *e = ParseEntityRule(s);
      if ((!e->ports.empty() || !e->not_ports.empty()) && !ProtocolHasPorts(r.protocol)) {
        s.ctx().Error(s.Take(e->ports.empty() ? "notPorts" : "ports"),
                      JoinPath(s.path(), e->ports.empty() ? "notPorts" : "ports"),
                      "ports need protocol TCP, UDP, SCTP or UDPLite on the rule");
      }
    });
  }
  f.Ignored({"http", "metadata"});
  return r;
}

CalicoPolicy ParseCalicoPolicy(Document& d, bool global) {
  CalicoPolicy p;
  p.meta = d.meta;
  p.global = global;
  d.top.Object("spec", [&](Fields& s) {
    s.String("tier", &p.tier);
    s.Double("order", &p.order);
    s.Selector("selector", &p.selector);
    if (!global && s.Has("namespaceSelector")) {
      s.ctx().Error(s.Take("namespaceSelector"), JoinPath(s.path(), "namespaceSelector"),
                    "only a GlobalNetworkPolicy selects namespaces; make this a "
                    "GlobalNetworkPolicy, or put the namespaceSelector in a rule's source or "
                    "destination");
    }
    if (global) {
      s.Selector("namespaceSelector", &p.namespace_selector);
      s.Bool("doNotTrack", &p.do_not_track);
      s.Bool("preDNAT", &p.pre_dnat);
      s.Bool("applyOnForward", &p.apply_on_forward);
    } else {
      // Host-endpoint options exist only on the global kind; say so rather
      // than "unknown field", which would send the user hunting for a typo.
      for (const char* key : {"doNotTrack", "preDNAT", "applyOnForward"}) {
        if (s.Has(key)) {
          s.ctx().Error(s.Take(key), JoinPath(s.path(), key),
                        std::string("only a GlobalNetworkPolicy has ") + key +
                            " (it applies to host endpoints); make this a GlobalNetworkPolicy");
        }
      }
    }
    s.Selector("serviceAccountSelector", &p.service_account_selector);
    s.List("ingress", [&](Fields& r, size_t) { p.ingress.push_back(ParseCalicoRule(r)); });
    s.List("egress", [&](Fields& r, size_t) { p.egress.push_back(ParseCalicoRule(r)); });
    s.EnumList("types", &p.types, {"Ingress", "Egress"});
    // Calico's defaulting: Ingress unless there are only egress rules;
    // Egress when there are egress rules.
    if (p.types.empty()) {
      if (!p.ingress.empty() || p.egress.empty()) p.types.push_back("Ingress");
      if (!p.egress.empty()) p.types.push_back("Egress");
    }
    CheckNoRepeats(s, "types", p.types);
    // Calico's own checks of a host-endpoint policy.
    if ((p.pre_dnat || p.do_not_track) && !p.apply_on_forward) {
      s.ctx().Error(s.node(), JoinPath(s.path(), "applyOnForward"),
                    "must be true when preDNAT or doNotTrack is set");
    }
    if (p.pre_dnat && p.do_not_track) {
      s.ctx().Error(s.Take("preDNAT"), JoinPath(s.path(), "preDNAT"),
                    "preDNAT and doNotTrack cannot both be true; choose one");
    }
    if (p.pre_dnat && !p.egress.empty()) {
      s.ctx().Error(s.Take("egress"), JoinPath(s.path(), "egress"),
                    "a preDNAT policy cannot have egress rules (it sees packets only on their "
                    "way in); move them to another policy");
    } else if (p.pre_dnat &&
               std::find(p.types.begin(), p.types.end(), "Egress") != p.types.end()) {
      s.ctx().Error(s.Take("types"), JoinPath(s.path(), "types"),
                    "a preDNAT policy cannot have type Egress; use [Ingress]");
    }
    s.Ignored({"performanceHints", "stagedAction"});
  }, true);
  return p;
}

Tier ParseTier(Document& d) {
  Tier t;
  t.meta = d.meta;
  d.top.Object("spec", [&](Fields& s) {
    s.Double("order", &t.order);
    s.Enum("defaultAction", &t.default_action, {"Deny", "Pass"});
  });
  return t;
}

NetworkSet ParseNetworkSet(Document& d, bool global) {
  NetworkSet n;
  n.meta = d.meta;
  n.global = global;
  d.top.Object("spec", [&](Fields& s) { ParseCalicoNets(s, "nets", &n.nets); });
  return n;
}

// --- Storage ---

// One schedule in Portworx's own notation, as pxctl and the volume spec's
// snap_schedule take it: "periodic=MINUTES[,KEEP]", "daily=HH:MM[,KEEP]",
// "weekly=DAY@HH:MM[,KEEP]", "monthly=DAY@HH:MM[,KEEP]". Without KEEP, pxctl's
// defaults apply: 5 periodic, 7 daily, 5 weekly, 12 monthly.
bool ParseSchedule(const std::string& text, SnapshotSchedule* out, std::string* why) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos) {
    *why = "\"" + text + "\" is not a schedule; write periodic=MINUTES,KEEP, daily=HH:MM,KEEP, "
           "weekly=DAY@HH:MM,KEEP or monthly=DAY@HH:MM,KEEP";
    return false;
  }
  out->kind = text.substr(0, eq);
  std::string when = text.substr(eq + 1);
  std::string keep;
  if (const size_t comma = when.find(','); comma != std::string::npos) {
    keep = when.substr(comma + 1);
    when = when.substr(0, comma);
  }
  auto number = [](const std::string& s, int lo, int hi, int32_t* v) {
    if (s.empty() || s.size() > 6 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      return false;
    }
    *v = std::stoi(s);
    return *v >= lo && *v <= hi;
  };
  auto clock = [&](const std::string& s) {
    const size_t colon = s.find(':');
    return colon != std::string::npos && number(s.substr(0, colon), 0, 23, &out->hour) &&
           number(s.substr(colon + 1), 0, 59, &out->minute);
  };
  const size_t at = when.find('@');
  bool good = false;
  if (out->kind == "periodic") {
    out->retain = 5;
    good = number(when, 1, 525600, &out->interval_minutes);
  } else if (out->kind == "daily") {
    out->retain = 7;
    good = clock(when);
  } else if (out->kind == "weekly") {
    static const std::vector<std::string> kDays = {"sunday",   "monday", "tuesday", "wednesday",
                                                   "thursday", "friday", "saturday"};
    out->retain = 5;
    out->weekday = when.substr(0, at);
    const auto day = std::find(kDays.begin(), kDays.end(), out->weekday);
    out->day_of_week = day == kDays.end() ? -1 : static_cast<int32_t>(day - kDays.begin());
    good = at != std::string::npos && day != kDays.end() && clock(when.substr(at + 1));
  } else if (out->kind == "monthly") {
    out->retain = 12;
    good = at != std::string::npos && number(when.substr(0, at), 1, 31, &out->day_of_month) &&
           clock(when.substr(at + 1));
  } else {
    *why = "\"" + out->kind + "\" is not a schedule kind; use periodic, daily, weekly or monthly";
    return false;
  }
  if (!good) {
    static const std::map<std::string, std::string> kForm = {
        {"periodic", "periodic=MINUTES,KEEP, e.g. periodic=60,10"},
        {"daily", "daily=HH:MM,KEEP, e.g. daily=02:30,7"},
        {"weekly", "weekly=DAY@HH:MM,KEEP, e.g. weekly=sunday@03:00,4"},
        {"monthly", "monthly=DAY@HH:MM,KEEP, e.g. monthly=1@04:00,12"}};
    *why = "\"" + text + "\" is not a valid " + out->kind + " schedule; write " +
           kForm.at(out->kind);
    return false;
  }
  if (!keep.empty() && !number(keep, 1, 1000, &out->retain)) {
    *why = "\"" + text + "\": the number to keep must be 1..1000";
    return false;
  }
  return true;
}

bool IsPortworxProvisioner(const std::string& provisioner) {
  return provisioner == "pxd.portworx.com" || provisioner == "kubernetes.io/portworx-volume";
}

// The parameter that gives a class's volumes a Stork snapshot schedule.
constexpr char kStorkSchedulePrefix[] = "snapshotschedule.stork.libopenstorage.org/";


// A string value of the schedule's own YAML document, or why it is not one.
bool StorkString(const YAML::Node& v, const std::string& key, std::string* out, std::string* why) {
  if (!v.IsScalar()) {
    *why = key + ": must be a string, not " + TypeName(v);
    return false;
  }
  if (internal::LooksNonString(v)) {
    *why = key + ": " + v.Scalar() + " is not a string; quote it (\"" + v.Scalar() + "\")";
    return false;
  }
  *out = v.Scalar();
  return true;
}

// The value of "snapshotschedule.stork.libopenstorage.org/<name>": YAML with
// schedulePolicyName, reclaimPolicy and annotations, as Portworx hands it to
// Stork for each new volume of the class. False with `why` on the first thing
// wrong: every error is placed at the parameter, whose text is one scalar.
bool ParseStorkSchedule(const std::string& value, StorkSchedule* out, std::string* why) {
  const std::string example = "write e.g. \"schedulePolicyName: daily\" on a line of its own";
  YAML::Node doc;
  try {
    doc = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    *why = "the value is not YAML (" +
           (e.mark.line >= 0 ? "its line " + std::to_string(e.mark.line + 1) + ": " : "") + e.msg +
           "); " + example;
    return false;
  }
  if (!doc.IsMap()) {
    *why = "the value must be a mapping of schedulePolicyName, reclaimPolicy and annotations, "
           "not " + std::string(TypeName(doc)) + "; " + example;
    return false;
  }
  static const std::vector<std::string> kKeys = {"schedulePolicyName", "reclaimPolicy",
                                                 "annotations"};
  std::set<std::string> seen;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (!it->first.IsScalar()) {
      *why = "a key of the value must be a plain string";
      return false;
    }
    const std::string key = it->first.Scalar();
    const YAML::Node v = it->second;
    if (!seen.insert(key).second) {
      *why = "\"" + key + "\" is given twice in the value; keep one";
      return false;
    }
    if (v.IsNull()) continue;  // as absent, like any field
    if (key == "schedulePolicyName") {
      if (!StorkString(v, key, &out->policy, why)) return false;
      if (!IsDnsSubdomain(out->policy)) {
        *why = key + ": \"" + out->policy + "\" is not a SchedulePolicy name: lowercase "
               "letters, digits, '-' and '.', starting and ending with a letter or digit";
        return false;
      }
    } else if (key == "reclaimPolicy") {
      if (!StorkString(v, key, &out->reclaim_policy, why)) return false;
      if (out->reclaim_policy != "Delete" && out->reclaim_policy != "Retain") {
        const std::string near = ClosestName(out->reclaim_policy, {"Delete", "Retain"});
        *why = key + ": \"" + out->reclaim_policy + "\" is not one of Delete, Retain" +
               (near.empty() ? "" : "; did you mean \"" + near + "\"?");
        return false;
      }
    } else if (key == "annotations") {
      if (!v.IsMap()) {
        *why = key + ": must be a mapping of strings, not " + std::string(TypeName(v));
        return false;
      }
      for (auto a = v.begin(); a != v.end(); ++a) {
        const std::string name = a->first.IsScalar() ? a->first.Scalar() : "?";
        std::string text;
        if (!StorkString(a->second, key + "." + name, &text, why)) return false;
        if (!out->annotations.emplace(name, text).second) {
          *why = key + ": \"" + name + "\" is given twice; keep one";
          return false;
        }
      }
    } else {
      const std::string near = ClosestName(key, kKeys);
      *why = "unknown key \"" + key + "\" in the value" +
             (near.empty() ? "; it takes schedulePolicyName, reclaimPolicy and annotations"
                           : "; did you mean \"" + near + "\"?");
      return false;
    }
  }
  if (out->policy.empty()) {
    *why = "\"schedulePolicyName\" is required: the SchedulePolicy whose times it follows";
    return false;
  }
  if (auto type = out->annotations.find("portworx/snapshot-type"); type != out->annotations.end()) {
    if (type->second != "local" && type->second != "cloud") {
      const std::string near = ClosestName(type->second, {"local", "cloud"});
      *why = "annotations.portworx/snapshot-type: \"" + type->second +
             "\" is not one of local, cloud" +
             (near.empty() ? "" : "; did you mean \"" + near + "\"?");
      return false;
    }
    out->cloud = type->second == "cloud";
  }
  if (auto cred = out->annotations.find("portworx/cloud-cred-id"); cred != out->annotations.end()) {
    out->cloud_cred_id = cred->second;
  }
  return true;
}

// The parameters Portworx reads, typed. Names and values are those of the
// openstorage volume spec (repl, io_priority or its alias priority_io,
// io_profile, sharedv4 or its alias shared, snap_interval, snap_schedule),
// and the Stork snapshot schedules every volume of the class gets
// ("snapshotschedule.stork.libopenstorage.org/<name>", whose value is a YAML
// document of its own). Other parameters (fs, group, ...) stay in
// `parameters` untouched.
PortworxParameters ParsePortworxParameters(Fields& top, const std::map<std::string, std::string>& parameters) {
  PortworxParameters px;
  Context& ctx = top.ctx();
  YAML::Node params = top.Take("parameters");
  auto at = [&](const std::string& key) { return params.IsMap() ? params[key] : params; };
  auto where = [&](const std::string& key) {
    return JoinPath(JoinPath(top.path(), "parameters"), key);
  };
  auto schedules = [&](const std::string& key, const std::string& value,
                       std::vector<SnapshotSchedule>* list) {
    size_t start = 0;
    while (start <= value.size()) {
      const size_t semi = value.find(';', start);
      const std::string one =
          value.substr(start, semi == std::string::npos ? std::string::npos : semi - start);
      SnapshotSchedule schedule;
      std::string why;
      if (!ParseSchedule(one, &schedule, &why)) {
        ctx.Error(at(key), where(key), why);
        return;
      }
      list->push_back(schedule);
      if (semi == std::string::npos) return;
      start = semi + 1;
    }
  };
  auto whole = [](const std::string& s, int lo, int hi, int32_t* v) {
    if (s.empty() || s.size() > 6 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      return false;
    }
    *v = std::stoi(s);
    return *v >= lo && *v <= hi;
  };
  for (const auto& [key, value] : parameters) {
    if (key == "repl") {
      if (!whole(value, 1, 3, &px.repl)) {
        ctx.Error(at(key), where(key),
                  "\"" + value + "\" is not a replica count; use \"1\", \"2\" or \"3\"");
      }
    } else if (key == "sharedv4" || key == "shared") {
      if (value != "true" && value != "false") {
        ctx.Error(at(key), where(key), "\"" + value + "\" must be \"true\" or \"false\"");
      }
      // "true" in either spelling turns it on.
      px.sharedv4 = px.sharedv4 || value == "true";
    } else if (key == "io_profile") {
      static const std::vector<std::string> kProfiles = {
          "auto", "auto_journal", "db", "db_remote", "sequential", "random",
          "cms",  "sync_shared",  "journal", "none"};
      if (std::find(kProfiles.begin(), kProfiles.end(), value) == kProfiles.end()) {
        const std::string near = ClosestName(value, kProfiles);
        ctx.Error(at(key), where(key),
                  "\"" + value + "\" is not an io_profile; use auto, auto_journal, db, db_remote, "
                  "sequential, random, cms, sync_shared, journal or none" +
                      (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
      }
      px.io_profile = value;
    } else if (key == "priority_io" || key == "io_priority") {
      if (value != "high" && value != "medium" && value != "low") {
        ctx.Error(at(key), where(key), "\"" + value + "\" is not a priority; use high, medium or low");
      }
      px.priority_io = value;
    } else if (key == "snap_interval") {
      // Minutes between snapshots; "0" turns scheduled snapshots off.
      int32_t minutes = 0;
      if (!whole(value, 0, 525600, &minutes)) {
        ctx.Error(at(key), where(key),
                  "\"" + value + "\" is not a number of minutes; write e.g. \"60\" (0: no snapshots)");
      } else if (minutes > 0) {
        SnapshotSchedule periodic;
        periodic.kind = "periodic";
        periodic.interval_minutes = minutes;
        periodic.retain = 5;
        px.snapshot_schedules.push_back(periodic);
      }
    } else if (key == "snap_schedule") {
      schedules(key, value, &px.snapshot_schedules);
    } else if (key.rfind(kStorkSchedulePrefix, 0) == 0) {
      StorkSchedule schedule;
      schedule.name = key.substr(sizeof kStorkSchedulePrefix - 1);
      std::string why;
      if (!IsDnsSubdomain(schedule.name)) {
        ctx.Error(at(key), where(key),
                  "\"" + schedule.name + "\" is not a schedule name (it prefixes the snapshots' "
                  "names): lowercase letters, digits, '-' and '.', starting and ending with a "
                  "letter or digit, after the '/'");
      } else if (!ParseStorkSchedule(value, &schedule, &why)) {
        ctx.Error(at(key), where(key), why);
      } else {
        px.stork_schedules.push_back(std::move(schedule));
      }
    }
  }
  return px;
}

StorageClass ParseStorageClass(Document& d) {
  StorageClass sc;
  sc.meta = d.meta;
  d.top.String("provisioner", &sc.provisioner, true);
  d.top.StringMap("parameters", &sc.parameters);
  d.top.Enum("reclaimPolicy", &sc.reclaim_policy, {"Delete", "Retain"});
  d.top.Enum("volumeBindingMode", &sc.volume_binding_mode, {"Immediate", "WaitForFirstConsumer"});
  d.top.Bool("allowVolumeExpansion", &sc.allow_volume_expansion);
  d.top.List("allowedTopologies", [&](Fields& t, size_t) {
    t.List("matchLabelExpressions", [&](Fields& e, size_t) {
      NodeSelectorRequirement r;
      r.op = "In";
      e.String("key", &r.key, true);
      e.StringList("values", &r.values);
      if (e.Has("values") && r.values.empty()) {
        e.ctx().Error(e.Take("values"), JoinPath(e.path(), "values"), "must name at least one value");
      }
      sc.allowed_topologies.push_back(std::move(r));
    });
  });
  d.top.Ignored({"mountOptions"});
  // A StorageClass of another provisioner may share parameter names with
  // Portworx; they are that provisioner's business, not errors here.
  if (IsPortworxProvisioner(sc.provisioner)) {
    sc.portworx = ParsePortworxParameters(d.top, sc.parameters);
  }
  return sc;
}

PersistentVolumeClaim ParsePvc(Document& d) {
  PersistentVolumeClaim pvc;
  pvc.meta = d.meta;
  d.top.Object("spec", [&](Fields& s) {
    s.EnumList("accessModes", &pvc.access_modes,
               {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"});
    if (s.Has("accessModes") && pvc.access_modes.empty()) {
      s.ctx().Error(s.Take("accessModes"), JoinPath(s.path(), "accessModes"), "must name at least one access mode");
    }
    s.Object("resources", [&](Fields& r) {
      r.Object("requests", [&](Fields& q) {
        q.QuantityValue("storage", &pvc.storage);
        if (pvc.storage && pvc.storage->MilliValue() <= 0) {
          q.ctx().Error(q.Take("storage"), JoinPath(q.path(), "storage"), "must be positive");
        }
      });
      r.Ignored({"limits"});
    });
    s.OptionalString("storageClassName", &pvc.storage_class_name);
    s.Enum("volumeMode", &pvc.volume_mode, {"Filesystem", "Block"});
    for (const char* key : {"dataSource", "dataSourceRef"}) {
      s.Object(key, [&](Fields& ds) {
        std::string group;
        ds.String("apiGroup", &group);
        ds.Enum("kind", &pvc.data_source_kind, {"VolumeSnapshot", "PersistentVolumeClaim"}, true);
        ds.String("name", &pvc.data_source_name, true);
        ds.Ignored({"namespace"});
      });
    }
    s.Ignored({"selector", "volumeName", "volumeAttributesClassName"});
  }, true);
  if (!pvc.storage && d.ctx.error_count() == d.errors_before) {
    d.ctx.Error(d.top.Take("spec"), JoinPath(d.top.path(), "spec.resources.requests.storage"),
                "is required: how large a volume to provision, e.g. 10Gi");
  }
  d.top.Ignored({"status"}, "status is set by the cluster");
  return pvc;
}

VolumeSnapshot ParseVolumeSnapshot(Document& d) {
  VolumeSnapshot vs;
  vs.meta = d.meta;
  d.top.Object("spec", [&](Fields& s) {
    s.String("volumeSnapshotClassName", &vs.snapshot_class);
    s.Object("source", [&](Fields& src) {
      src.String("persistentVolumeClaimName", &vs.source_pvc);
      src.String("volumeSnapshotContentName", &vs.source_content);
      if (vs.source_pvc.empty() == vs.source_content.empty()) {
        src.ctx().Error(src.node(), src.path(),
                        "needs exactly one of persistentVolumeClaimName and volumeSnapshotContentName");
      }
    }, true);
  }, true);
  d.top.Ignored({"status"}, "status is set by the cluster");
  return vs;
}

PriorityClass ParsePriorityClass(Document& d) {
  PriorityClass pc;
  pc.meta = d.meta;
  d.top.Int32("value", &pc.value, INT32_MIN, 1000000000, true);
  d.top.Bool("globalDefault", &pc.global_default);
  d.top.Enum("preemptionPolicy", &pc.preemption_policy, {"PreemptLowerPriority", "Never"});
  d.top.String("description", &pc.description);
  return pc;
}

// --- Stork ---

// A rule's time as Stork reads it: Go's time.Parse with layout time.Kitchen
// ("3:04PM"), then with that layout in lowercase ("3:04pm"). So the hour is
// one or two digits up to 12 (Go lets 0 through, as 12 is), the minutes two
// digits, then AM or PM, or am or pm; 12AM is midnight, 12PM noon.
bool ParseKitchenTime(const std::string& text, ScheduleClock* out) {
  const auto digit = [&](size_t i) {
    return i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]));
  };
  if (!digit(0)) return false;
  size_t i = digit(1) ? 2 : 1;
  const int hour = std::stoi(text.substr(0, i));
  if (hour > 12 || i >= text.size() || text[i] != ':' || !digit(i + 1) || !digit(i + 2)) return false;
  const int minute = std::stoi(text.substr(i + 1, 2));
  const std::string half = text.substr(i + 3);
  if (minute > 59 || (half != "AM" && half != "PM" && half != "am" && half != "pm")) return false;
  const bool pm = half == "PM" || half == "pm";
  out->text = text;
  out->hour = pm ? (hour < 12 ? hour + 12 : hour) : (hour == 12 ? 0 : hour);
  out->minute = minute;
  return true;
}

void ParseScheduleTime(Fields& f, ScheduleClock* out) {
  std::string text;
  if (!f.String("time", &text, true)) return;
  if (!ParseKitchenTime(text, out)) {
    f.ctx().Error(f.Take("time"), JoinPath(f.path(), "time"),
                  "\"" + text + "\" is not a time like 10:14PM (Go's time.Kitchen, as Stork "
                  "reads it); write the hour 1-12, a colon, two digits of minutes, then AM or PM");
  }
}

// Stork's day names (its Days map), in any case: storkctl lowercases them.
// The weekday is 0 for Sunday through 6 for Saturday.
bool ParseStorkDay(Fields& f, const std::string& key, std::string* day, int32_t* weekday,
                   bool required) {
  static const std::vector<std::pair<std::string, int32_t>> kDays = {
      {"Sunday", 0},   {"Sun", 0},      {"Monday", 1}, {"Mon", 1},   {"Tuesday", 2},
      {"Tue", 2},      {"Wednesday", 3}, {"Wed", 3},   {"Thursday", 4}, {"Thu", 4},
      {"Thur", 4},     {"Thurs", 4},    {"Friday", 5}, {"Fri", 5},   {"Saturday", 6},
      {"Sat", 6}};
  if (!f.String(key, day, required) || (day->empty() && !required)) return false;
  const auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  for (const auto& [name, index] : kDays) {
    if (lower(name) == lower(*day)) {
      *weekday = index;
      return true;
    }
  }
  std::vector<std::string> names;
  for (const auto& entry : kDays) names.push_back(entry.first);
  const std::string near = ClosestName(*day, names);
  f.ctx().Error(f.Take(key), JoinPath(f.path(), key),
                "\"" + *day + "\" is not a day; use Sunday, Sun, Monday, Mon, Tuesday, Tue, "
                "Wednesday, Wed, Thursday, Thu, Thur, Thurs, Friday, Fri, Saturday or Sat" +
                    (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
  return false;
}

// 0 or absent leaves Stork's default for the rule.
void ParseRetain(Fields& f, int32_t* retain, int stork_default) {
  YAML::Node v = f.Take("retain");
  int32_t value = 0;
  if (!f.Int32("retain", &value, INT32_MIN, INT32_MAX)) return;
  if (value < 0) {
    f.ctx().Error(v, JoinPath(f.path(), "retain"),
                  std::to_string(value) + " is out of range; it must be at least 0 (0 or "
                  "absent: Stork's default, " + std::to_string(stork_default) + ")");
    return;
  }
  *retain = value;
}

// Upstream hands a rule's options to the storage driver; edgebed's takes none.
void IgnoreOptions(Fields& f) {
  std::map<std::string, std::string> options;
  f.StringMap("options", &options);
  f.Ignored({"options"}, "options go to the storage driver, and edgebed's reads none");
}

SchedulePolicy ParseSchedulePolicy(Document& d) {
  SchedulePolicy p;
  p.meta = d.meta;
  const char* const kNoRule =
      "names no rule; give at least one of interval, daily, weekly and monthly";
  if (!d.top.Has("policy")) {
    d.ctx.Error(d.top.node(), JoinPath(d.top.path(), "policy"), kNoRule);
  }
  d.top.Object("policy", [&](Fields& f) {
    f.Object("interval", [&](Fields& r) {
      SchedulePolicy::Interval rule;
      if (r.Int32("intervalMinutes", &rule.minutes, INT32_MIN, INT32_MAX, true) && rule.minutes < 1) {
        r.ctx().Error(r.Take("intervalMinutes"), JoinPath(r.path(), "intervalMinutes"),
                      std::to_string(rule.minutes) +
                          " is out of range; it must be at least 1 (the minutes between runs)");
      }
      ParseRetain(r, &rule.retain, 10);
      IgnoreOptions(r);
      p.interval = rule;
    });
    f.Object("daily", [&](Fields& r) {
      SchedulePolicy::Daily rule;
      ParseScheduleTime(r, &rule.time);
      ParseRetain(r, &rule.retain, 30);
      ParseStorkDay(r, "forceFullSnapshotDay", &rule.force_full_snapshot_day,
                    &rule.force_full_weekday, false);
      IgnoreOptions(r);
      p.daily = rule;
    });
    f.Object("weekly", [&](Fields& r) {
      SchedulePolicy::Weekly rule;
      ParseStorkDay(r, "day", &rule.day, &rule.weekday, true);
      ParseScheduleTime(r, &rule.time);
      ParseRetain(r, &rule.retain, 7);
      IgnoreOptions(r);
      p.weekly = rule;
    });
    f.Object("monthly", [&](Fields& r) {
      SchedulePolicy::Monthly rule;
      r.Int32("date", &rule.date, 1, 31, true);
      ParseScheduleTime(r, &rule.time);
      ParseRetain(r, &rule.retain, 12);
      IgnoreOptions(r);
      p.monthly = rule;
    });
    // A misspelt rule is reported as an unknown field, which says more.
    bool misspelt = false;
    for (auto it = f.node().begin(); it != f.node().end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      misspelt |= key != "interval" && key != "daily" && key != "weekly" && key != "monthly";
    }
    if (!p.interval && !p.daily && !p.weekly && !p.monthly && !misspelt) {
      f.ctx().Error(f.node(), f.path(), kNoRule);
    }
  });
  d.top.Ignored({"status"}, "status is set by the cluster");
  return p;
}

// The extension points of a profile's plugins, and the plugins whose args
// edgebed reads (the others are named in core/sched and take no args).
const std::vector<std::string>& ExtensionPoints() {
  static const std::vector<std::string> points = {
      "multiPoint", "queueSort", "preEnqueue", "preFilter", "filter", "postFilter", "preScore",
      "score", "reserve", "permit", "preBind", "bind", "postBind"};
  return points;
}

void ParseResourceWeights(Fields& f, std::vector<ResourceWeight>* out) {
  f.List("resources", [&](Fields& r, size_t) {
    ResourceWeight w;
    r.String("name", &w.name, true);
    r.Int("weight", &w.weight, 1, 100);
    out->push_back(std::move(w));
  });
}

SchedulerPluginConfig ParsePluginConfig(Fields& f) {
  SchedulerPluginConfig c;
  c.pos = f.ctx().Pos(f.node());
  f.String("name", &c.name, true);
  const std::string& n = c.name;
  const bool has_args = f.Has("args");
  f.Object("args", [&](Fields& a) {
    if (n == "NodeResourcesFit") {
      a.Object("scoringStrategy", [&](Fields& st) {
        st.Enum("type", &c.scoring_strategy,
                {"LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"});
        ParseResourceWeights(st, &c.resources);
        st.Object("requestedToCapacityRatio", [&](Fields& r) {
          r.List("shape", [&](Fields& p, size_t) {
            UtilizationShapePoint point;
            p.Int32("utilization", &point.utilization, 0, 100, true);
            p.Int32("score", &point.score, 0, 10, true);
            c.shape.push_back(point);
          }, true);
        });
      });
      a.Ignored({"ignoredResources", "ignoredResourceGroups"});
    } else if (n == "NodeResourcesBalancedAllocation") {
      ParseResourceWeights(a, &c.resources);
    } else if (n == "InterPodAffinity") {
      a.OptionalInt32("hardPodAffinityWeight", &c.hard_pod_affinity_weight, 0, 100);
      a.Bool("ignorePreferredTermsOfExistingPods", &c.ignore_preferred_terms_of_existing_pods);
    } else if (n == "PodTopologySpread") {
      a.List("defaultConstraints", [&](Fields& t, size_t) {
        c.default_constraints.push_back(ParseTopologySpreadConstraint(t, false));
      });
      a.Enum("defaultingType", &c.defaulting_type, {"System", "List"});
      if (c.defaulting_type == "System" && !c.default_constraints.empty()) {
        a.ctx().Error(a.node(), JoinPath(a.path(), "defaultConstraints"),
                      "must be empty with defaultingType System; set defaultingType: List");
      }
    } else if (n == "DefaultPreemption") {
      a.OptionalInt32("minCandidateNodesPercentage", &c.min_candidate_nodes_percentage, 0, 100);
      a.OptionalInt32("minCandidateNodesAbsolute", &c.min_candidate_nodes_absolute, 0, INT32_MAX);
    } else if (n == "NodeAffinity") {
      a.Ignored({"addedAffinity"});
    } else if (!n.empty()) {
      a.ctx().Error(a.node(), a.path(),
                    "edgebed reads args only for NodeResourcesFit, NodeResourcesBalancedAllocation, "
                    "InterPodAffinity, PodTopologySpread, DefaultPreemption and NodeAffinity; "
                    "remove the args of " + n);
    }
  });
  (void)has_args;
  return c;
}

KubeSchedulerConfiguration ParseSchedulerConfiguration(Document& d) {
  KubeSchedulerConfiguration c;
  c.meta = d.meta;
  d.top.OptionalInt32("percentageOfNodesToScore", &c.percentage_of_nodes_to_score, 0, 100);
  d.top.Int("podInitialBackoffSeconds", &c.pod_initial_backoff_seconds, 1, 3600);
  d.top.Int("podMaxBackoffSeconds", &c.pod_max_backoff_seconds, 1, 3600);
  if (c.pod_max_backoff_seconds < c.pod_initial_backoff_seconds) {
    d.ctx.Error(d.top.Take("podMaxBackoffSeconds"), "podMaxBackoffSeconds",
                "must be at least podInitialBackoffSeconds (" +
                    std::to_string(c.pod_initial_backoff_seconds) + ")");
  }
  d.top.List("profiles", [&](Fields& p, size_t) {
    SchedulerProfile profile;
    profile.pos = p.ctx().Pos(p.node());
    p.String("schedulerName", &profile.scheduler_name);
    p.Object("plugins", [&](Fields& points) {
      for (const std::string& point : ExtensionPoints()) {
        points.Object(point, [&](Fields& set) {
          SchedulerPluginSet& out = profile.plugins[point];
          for (const char* which : {"enabled", "disabled"}) {
            auto& list = std::string(which) == "enabled" ? out.enabled : out.disabled;
            set.List(which, [&](Fields& pl, size_t) {
              SchedulerPlugin plugin;
              plugin.pos = pl.ctx().Pos(pl.node());
              pl.String("name", &plugin.name, true);
              pl.OptionalInt32("weight", &plugin.weight, 0, 100);
              list.push_back(std::move(plugin));
            });
          }
        });
      }
    });
    p.List("pluginConfig", [&](Fields& pc, size_t) {
      profile.plugin_config.push_back(ParsePluginConfig(pc));
    });
    c.profiles.push_back(std::move(profile));
  });
  d.top.Ignored({"parallelism", "leaderElection", "clientConnection", "healthzBindAddress",
                 "metricsBindAddress", "enableProfiling", "enableContentionProfiling",
                 "extenders", "delayCacheUntilActive", "podMaxInUnschedulablePodsDuration"},
                "not used by edgebed's scheduler");
  if (c.profiles.empty()) c.profiles.emplace_back();
  return c;
}

// --- Documents ---

struct KindInfo {
  std::string kind, api_version;
  bool namespaced;
  std::function<Object(Document&)> parse;
  bool has_metadata = true;  // false for component configuration
};

StatefulSet ParseStatefulSet(Document& d);

const std::vector<KindInfo>& Kinds() {
  static const std::vector<KindInfo> kinds = {
      {"Namespace", "v1", false, [](Document& d) -> Object { return ParseNamespace(d); }},
      {"Node", "v1", false, [](Document& d) -> Object { return ParseNode(d); }},
      {"ServiceAccount", "v1", true, [](Document& d) -> Object { return ParseServiceAccount(d); }},
      {"Pod", "v1", true, [](Document& d) -> Object { return ParsePod(d); }},
      {"Service", "v1", true, [](Document& d) -> Object { return ParseService(d); }},
      {"PersistentVolumeClaim", "v1", true, [](Document& d) -> Object { return ParsePvc(d); }},
      {"Deployment", "apps/v1", true, [](Document& d) -> Object { return ParseDeployment(d); }},
      {"DaemonSet", "apps/v1", true, [](Document& d) -> Object { return ParseDaemonSet(d); }},
      {"StatefulSet", "apps/v1", true, [](Document& d) -> Object { return ParseStatefulSet(d); }},
      {"Job", "batch/v1", true, [](Document& d) -> Object { return ParseJob(d); }},
      {"CronJob", "batch/v1", true, [](Document& d) -> Object { return ParseCronJob(d); }},
      {"NetworkPolicy", "networking.k8s.io/v1", true, [](Document& d) -> Object { return ParseNetworkPolicy(d); }},
      {"NetworkPolicy", "projectcalico.org/v3", true, [](Document& d) -> Object { return ParseCalicoPolicy(d, false); }},
      {"GlobalNetworkPolicy", "projectcalico.org/v3", false, [](Document& d) -> Object { return ParseCalicoPolicy(d, true); }},
      {"Tier", "projectcalico.org/v3", false, [](Document& d) -> Object { return ParseTier(d); }},
      {"NetworkSet", "projectcalico.org/v3", true, [](Document& d) -> Object { return ParseNetworkSet(d, false); }},
      {"GlobalNetworkSet", "projectcalico.org/v3", false, [](Document& d) -> Object { return ParseNetworkSet(d, true); }},
      {"StorageClass", "storage.k8s.io/v1", false, [](Document& d) -> Object { return ParseStorageClass(d); }},
      {"VolumeSnapshot", "snapshot.storage.k8s.io/v1", true, [](Document& d) -> Object { return ParseVolumeSnapshot(d); }},
      {"PriorityClass", "scheduling.k8s.io/v1", false, [](Document& d) -> Object { return ParsePriorityClass(d); }},
      {"SchedulePolicy", "stork.libopenstorage.org/v1alpha1", false, [](Document& d) -> Object { return ParseSchedulePolicy(d); }},
      {"KubeSchedulerConfiguration", "kubescheduler.config.k8s.io/v1", false,
       [](Document& d) -> Object { return ParseSchedulerConfiguration(d); }, false},
  };
  return kinds;
}

// Kinds of Kubernetes, Calico, Portworx, Stork and K3s that a user's files
// hold beside the ones edgebed models, by API group ("" for the core group)
// and kind: each loads with a notice that nothing here acts on it, so that a
// real deployment's files load whole.
const std::map<std::string, std::set<std::string>>& AcceptedKinds() {
  static const std::map<std::string, std::set<std::string>> kinds = {
      {"", {"ConfigMap", "Secret", "Endpoints", "LimitRange", "ResourceQuota", "PersistentVolume",
            "ReplicationController", "PodTemplate", "Event"}},
      {"apps", {"ReplicaSet", "ControllerRevision"}},
      {"autoscaling", {"HorizontalPodAutoscaler"}},
      {"policy", {"PodDisruptionBudget"}},
      {"networking.k8s.io", {"Ingress", "IngressClass"}},
      {"discovery.k8s.io", {"EndpointSlice"}},
      {"rbac.authorization.k8s.io", {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}},
      {"storage.k8s.io", {"CSIDriver", "CSINode", "VolumeAttachment", "CSIStorageCapacity"}},
      {"snapshot.storage.k8s.io", {"VolumeSnapshotClass", "VolumeSnapshotContent"}},
      {"node.k8s.io", {"RuntimeClass"}},
      {"coordination.k8s.io", {"Lease"}},
      {"apiextensions.k8s.io", {"CustomResourceDefinition"}},
      {"admissionregistration.k8s.io", {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                                        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}},
      {"certificates.k8s.io", {"CertificateSigningRequest"}},
      {"projectcalico.org", {"BGPConfiguration", "BGPPeer", "FelixConfiguration", "HostEndpoint", "IPPool",
                             "IPReservation", "KubeControllersConfiguration", "ClusterInformation",
                             "StagedNetworkPolicy", "StagedGlobalNetworkPolicy", "StagedKubernetesNetworkPolicy"}},
      {"stork.libopenstorage.org", {"VolumeSnapshotSchedule", "VolumeSnapshotRestore", "GroupVolumeSnapshot", "Rule",
                                    "ClusterPair", "Migration", "MigrationSchedule", "BackupLocation",
                                    "ApplicationBackup", "ApplicationBackupSchedule", "ApplicationRestore",
                                    "ApplicationClone"}},
      {"core.libopenstorage.org", {"StorageCluster", "StorageNode"}},
      {"autopilot.libopenstorage.org", {"AutopilotRule"}},
      {"helm.cattle.io", {"HelmChart", "HelmChartConfig"}},
      {"k3s.cattle.io", {"Addon"}},
  };
  return kinds;
}

// The notice for an accepted kind, or false when it is not one.
bool Accepted(Context& ctx, Fields& top, const std::string& path, const std::string& api_version,
              const std::string& kind) {
  const size_t slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  if (group.empty() && api_version != "v1") return false;
  auto it = AcceptedKinds().find(group);
  if (it == AcceptedKinds().end() || !it->second.count(kind)) return false;
  std::string name, ns;
  YAML::Node meta = top.Take("metadata");
  if (meta.IsMap()) {
    if (meta["name"] && meta["name"].IsScalar()) name = meta["name"].Scalar();
    if (meta["namespace"] && meta["namespace"].IsScalar()) ns = meta["namespace"].Scalar();
  }
  ctx.Warn(top.Take("kind"), JoinPath(path, "kind"),
           kind + " " + (ns.empty() ? "" : ns + "/") + (name.empty() ? "(unnamed)" : name) +
               " accepted; nothing in edgebed acts on " + (std::string("AEIOU").find(kind[0]) == std::string::npos ? "a " : "an ") +
               kind + ", so it has no effect here");
  return true;
}

ObjectMeta ParseMeta(Fields& top, const KindInfo& kind) {
  ObjectMeta meta;
  meta.pos = top.ctx().Pos(top.node());
  if (!kind.has_metadata) return meta;
  top.Object("metadata", [&](Fields& m) {
    if (m.String("name", &meta.name, true) && !meta.name.empty()) {
      const bool label = kind.kind == "Namespace";
      if (label ? !IsDnsLabel(meta.name) : !IsDnsSubdomain(meta.name)) {
        m.ctx().Error(m.Take("name"), JoinPath(m.path(), "name"),
                      "\"" + meta.name + "\" is not a valid name: lowercase letters, digits" +
                          (label ? " and '-'" : ", '-' and '.'") +
                          ", starting and ending with a letter or digit, at most " +
                          (label ? "63" : "253"));
      }
    }
    if (m.String("namespace", &meta.namespace_) && !meta.namespace_.empty()) {
      if (!kind.namespaced) {
        m.ctx().Error(m.Take("namespace"), JoinPath(m.path(), "namespace"),
                      kind.kind + " is cluster-scoped and has no namespace; remove it");
      } else if (!IsDnsLabel(meta.namespace_)) {
        m.ctx().Error(m.Take("namespace"), JoinPath(m.path(), "namespace"),
                      "\"" + meta.namespace_ + "\" is not a valid namespace name");
      }
    }
    m.StringMap("labels", &meta.labels);
    CheckLabels(m, "labels", meta.labels, true);
    m.StringMap("annotations", &meta.annotations);
    m.Ignored({"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
               "deletionGracePeriodSeconds", "managedFields", "ownerReferences", "finalizers",
               "generateName", "selfLink"},
              "set by the cluster");
  }, true);
  if (kind.namespaced && meta.namespace_.empty()) meta.namespace_ = "default";
  // As the API server does: every namespace carries its own name as a label.
  if (kind.kind == "Namespace" && !meta.name.empty()) {
    meta.labels["kubernetes.io/metadata.name"] = meta.name;
  }
  return meta;
}

void LoadObject(Context& ctx, const YAML::Node& node, const std::string& path,
                std::vector<Object>* out);

StatefulSet ParseStatefulSet(Document& d) {
  StatefulSet ss;
  ss.meta = d.meta;
  d.top.Object("spec", [&](Fields& s) {
    s.Int32("replicas", &ss.replicas, 0, INT32_MAX);
    s.Int32("minReadySeconds", &ss.min_ready_seconds, 0, INT32_MAX);
    s.String("serviceName", &ss.service_name);
    ParseSelectorAndTemplate(s, "StatefulSet", &ss.selector, &ss.pod_template);
    s.Enum("podManagementPolicy", &ss.pod_management_policy, {"OrderedReady", "Parallel"});
    s.Object("updateStrategy", [&](Fields& st) {
      st.Enum("type", &ss.update_strategy, {"RollingUpdate", "OnDelete"});
      st.Object("rollingUpdate", [&](Fields& ru) {
        ru.Int32("partition", &ss.partition, 0, INT32_MAX);
        IntOrString max{true, 1, ""};
        if (ru.Has("maxUnavailable")) {
          ParseIntOrPercent(ru, "maxUnavailable", &max);
          const bool zero = max.is_int ? max.int_value == 0 : max.str_value == "0%";
          if (zero) {
            ru.ctx().Error(ru.Take("maxUnavailable"), JoinPath(ru.path(), "maxUnavailable"),
                           "must be at least 1 (or 1%): a rollout must be able to replace a pod");
          }
          ss.max_unavailable = max;
        }
      });
    });
    s.Object("persistentVolumeClaimRetentionPolicy", [&](Fields& r) {
      r.Enum("whenDeleted", &ss.when_deleted, {"Retain", "Delete"});
      r.Enum("whenScaled", &ss.when_scaled, {"Retain", "Delete"});
    });
    s.Object("ordinals", [&](Fields& o) { o.Int32("start", &ss.ordinals_start, 0, INT32_MAX); });
    static const KindInfo* claim_kind = [] {
      for (const KindInfo& k : Kinds())
        if (k.kind == "PersistentVolumeClaim") return &k;
      return static_cast<const KindInfo*>(nullptr);
    }();
    s.List("volumeClaimTemplates", [&](Fields& t, size_t i) {
      const size_t before = t.ctx().error_count();
      Document claim{t.ctx(), t, ParseMeta(t, *claim_kind), before};
      PersistentVolumeClaim pvc = ParsePvc(claim);
      pvc.meta.namespace_.clear();
      for (const PersistentVolumeClaim& other : ss.volume_claim_templates)
        if (other.meta.name == pvc.meta.name && !pvc.meta.name.empty()) {
          t.ctx().Error(t.node(), IndexPath(JoinPath(s.path(), "volumeClaimTemplates"), i) + ".metadata.name",
                        "\"" + pvc.meta.name + "\" names two claim templates; each needs its own name");
        }
      if (t.ctx().error_count() == before) ss.volume_claim_templates.push_back(std::move(pvc));
    });
    s.Ignored({"revisionHistoryLimit"});
  }, true);
  d.top.Ignored({"status"}, "status is set by the cluster");
  return ss;
}

void LoadList(Context& ctx, Fields& top, std::vector<Object>* out) {
  YAML::Node items = top.Take("items");
  top.Ignored({"metadata"}, "list metadata is not modelled");
  if (!items.IsDefined()) return;
  if (!items.IsSequence()) {
    ctx.Error(items, "items", "must be a list of objects");
    return;
  }
  for (size_t i = 0; i < items.size(); ++i) LoadObject(ctx, items[i], IndexPath("items", i), out);
}

void LoadObject(Context& ctx, const YAML::Node& node, const std::string& path,
                std::vector<Object>* out) {
  Fields top(ctx, node, path);
  if (!top.ok()) return;
  const size_t before = ctx.error_count();
  std::string api_version, kind;
  top.String("apiVersion", &api_version, true);
  top.String("kind", &kind, true);
  if (ctx.error_count() != before) return;
  if (kind == "List" && api_version == "v1" && path.empty()) {
    LoadList(ctx, top, out);
    top.Finish();
    return;
  }
  const KindInfo* info = nullptr;
  std::vector<std::string> served_by;
  std::set<std::string> kinds;
  for (const KindInfo& k : Kinds()) {
    kinds.insert(k.kind);
    if (k.kind != kind) continue;
    if (k.api_version == api_version) info = &k;
    served_by.push_back(k.api_version);
  }
  if (!info) {
    if (served_by.empty() && Accepted(ctx, top, path, api_version, kind)) return;
    if (served_by.empty()) {
      std::string list;
      for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
      ctx.Error(top.Take("kind"), JoinPath(path, "kind"),
                "unknown kind \"" + kind + "\"; edgebed loads " + list);
    } else {
      std::string list;
      for (const auto& v : served_by) list += (list.empty() ? "" : " or ") + v;
      ctx.Error(top.Take("apiVersion"), JoinPath(path, "apiVersion"),
                "\"" + api_version + "\" does not serve kind " + kind + "; use " + list);
    }
    return;
  }
  Document doc{ctx, top, ParseMeta(top, *info), before};
  Object object = info->parse(doc);
  top.Finish();
  if (ctx.error_count() == before) out->push_back(std::move(object));
}

// One YAML document of a stream, padded with the newlines and spaces that
// precede it so yaml-cpp's marks still give the line and column in the file.
struct DocumentText {
  std::string padded;
  int first_content_line = 0, first_content_column = 0;  // 1-based; 0: only comments
};

// Splits a stream at its "---" and "..." markers. yaml-cpp's LoadAll is not
// used because version 0.7 loops forever on some malformed streams (a lone
// ",", found by the fuzzer); YAML forbids a marker at column 0 inside any
// scalar, so a marker line always separates documents.
std::vector<DocumentText> SplitDocuments(std::string_view yaml) {
  std::vector<DocumentText> docs(1);
  int line_no = 0;
  size_t start = 0;
  while (start < yaml.size()) {
    size_t end = yaml.find('\n', start);
    if (end == std::string_view::npos) end = yaml.size();
    std::string_view line = yaml.substr(start, end - start);
    ++line_no;
    auto marker = [&](std::string_view m) {
      return line.substr(0, 3) == m && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    };
    std::string text(line);
    if (!line.empty() && line[0] == '%') {
      text.clear();  // a directive (%YAML, %TAG): nothing edgebed needs
    } else if (marker("---") || marker("...")) {
      const bool open = marker("---");
      docs.emplace_back();
      docs.back().padded.assign(static_cast<size_t>(line_no - 1), '\n');
      text = open ? "   " + std::string(line.substr(3)) : "";
    }
    DocumentText& doc = docs.back();
    if (doc.first_content_line == 0) {
      const size_t first = text.find_first_not_of(" \t\r");
      if (first != std::string::npos && text[first] != '#') {
        doc.first_content_line = line_no;
        doc.first_content_column = static_cast<int>(first) + 1;
      }
    }
    doc.padded += text;
    doc.padded += '\n';
    start = end + 1;
  }
  return docs;
}

// True if line `index` (0-based) of `text` starts with whitespace holding a
// tab: the commonest cause of yaml-cpp's terse "illegal map value".
bool IndentedWithTab(std::string_view text, int index) {
  if (index < 0) return false;
  size_t start = 0;
  for (int i = 0; i < index; ++i) {
    start = text.find('\n', start);
    if (start == std::string_view::npos) return false;
    ++start;
  }
  for (size_t i = start; i < text.size() && (text[i] == ' ' || text[i] == '\t'); ++i) {
    if (text[i] == '\t') return true;
  }
  return false;
}

}  // namespace

std::string Diagnostic::ToString() const {
  std::string s = pos.ToString();
  if (!path.empty()) s += (s.empty() ? "" : ": ") + path;
  return s + (s.empty() ? "" : ": ") + message;
}

LoadResult LoadManifests(std::string_view yaml, const std::string& source) {
  LoadResult result;
  Context ctx(source, &result.errors, &result.warnings, 100'000 + yaml.size() / 4);
  if (yaml.size() > kMaxInputBytes) {
    result.errors.push_back({SourcePos{source, 0, 0}, "",
                             "larger than " + std::to_string(kMaxInputBytes >> 20) +
                                 " MiB; split it into several files"});
    return result;
  }
  for (const DocumentText& text : SplitDocuments(yaml)) {
    YAML::Node doc;
    try {
      doc = YAML::Load(text.padded);
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp's own guard against a stack overflow; its message is "bad file".
      SourcePos pos{source, e.mark.line >= 0 ? e.mark.line + 1 : 0,
                    e.mark.column >= 0 ? e.mark.column + 1 : 0};
      result.errors.push_back({pos, "", "YAML nests deeper than " + std::to_string(e.depth()) +
                                            " levels here; no manifest needs that, check for "
                                            "unbalanced brackets"});
      continue;
    } catch (const YAML::Exception& e) {
      SourcePos pos{source, e.mark.line >= 0 ? e.mark.line + 1 : 0,
                    e.mark.column >= 0 ? e.mark.column + 1 : 0};
      std::string hint;
      if (IndentedWithTab(yaml, e.mark.line)) {
        hint = "; this line is indented with a tab, which YAML does not allow: use spaces";
      }
      result.errors.push_back({pos, "", "YAML syntax error: " + e.msg + hint});
      continue;
    }
    if (doc.IsNull()) {
      // yaml-cpp 0.7 stops without a word at a stray top-level ',': content
      // that did not become a node is an error, not an empty document.
      if (text.first_content_line > 0) {
        result.errors.push_back({SourcePos{source, text.first_content_line, text.first_content_column}, "",
                                 "YAML syntax error: this document could not be read; check for a "
                                 "stray ',' or an unclosed bracket"});
      }
      continue;
    }
    try {
      LoadObject(ctx, doc, "", &result.objects);
    } catch (const std::exception& e) {
      // yaml-cpp throws on some malformed node accesses; never let it escape.
      result.errors.push_back({ctx.Pos(doc), "", std::string("cannot read the document: ") + e.what()});
    } catch (...) {
      result.errors.push_back({ctx.Pos(doc), "", "cannot read the document"});
    }
  }
  // Parsers report as they walk (an unknown key only once its mapping is
  // done); a reader wants the file's order.
  const auto by_position = [](const Diagnostic& a, const Diagnostic& b) {
    return std::make_pair(a.pos.line, a.pos.column) < std::make_pair(b.pos.line, b.pos.column);
  };
  std::stable_sort(result.errors.begin(), result.errors.end(), by_position);
  std::stable_sort(result.warnings.begin(), result.warnings.end(), by_position);
  return result;
}

}  // namespace edgebed::model
