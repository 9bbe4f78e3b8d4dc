#include "core/model/emit.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>
#include <set>

namespace edgebed::model {
namespace {

// True if `text`, written plain, would not read back as that string: the
// loader refuses a bare number, boolean or null where it wants a string, and
// kubectl (YAML 1.1) also reads yes/no/on/off, base-60 numbers ("80:90") and
// dates as other types.
bool ReadsAsNonString(const std::string& text) {
  static const std::set<std::string> kWords = {
      "true", "True", "TRUE", "false", "False", "FALSE", "yes",  "Yes",  "YES",   "no",
      "No",   "NO",   "on",   "On",    "ON",    "off",   "Off",  "OFF",  "y",     "Y",
      "n",    "N",    "null", "Null",  "NULL",  "~",     "<<",   "=",    ".inf",  ".Inf",
      ".INF", ".nan", ".NaN", ".NAN"};
  static const std::regex kNumberOrDate(
      R"([-+]?(\.[0-9][0-9_]*|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?)"
      R"(|[-+]?0[xX][0-9a-fA-F_]+|[-+]?0[oO][0-7_]+|[-+]?0[bB][01_]+)"
      R"(|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)"
      R"(|[-+]?\.(inf|Inf|INF))"
      R"(|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?)");
  if (text.empty()) return false;
  const unsigned char first = static_cast<unsigned char>(text[0]);
  // Only these can start a number or a date; the regex is the slow path.
  if (std::isdigit(first) || first == '-' || first == '+' || first == '.') {
    return std::regex_match(text, kNumberOrDate) || kWords.count(text) > 0;
  }
  return kWords.count(text) > 0;
}

// The shortest decimal that strtod (the loader's reader) turns back into
// exactly `value`.
std::string ShortestDecimal(double value) {
  char text[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(text, sizeof text, "%.*g", precision, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

enum class IfEmpty { kOmit, kBraces };

// Writes one document's top-level mapping. A nested mapping or list is only
// opened at its first entry, so that one whose fields all turn out absent
// can still be left out (or written as {}): which it is, a caller only knows
// after it has looked at every field.
class Writer {
 public:
  Writer() { out_ << YAML::BeginMap; }

  std::string Finish() {
    out_ << YAML::EndMap;
    return std::string(out_.c_str()) + "\n";
  }

  void Text(const std::string& key, const std::string& value) {
    Entry(key);
    Scalar(value);
  }
  // Left out when empty: the loader's default for these.
  void TextIfSet(const std::string& key, const std::string& value) {
    if (!value.empty()) Text(key, value);
  }
  void Int(const std::string& key, int64_t value) {
    Entry(key);
    out_ << static_cast<long long>(value);
  }
  template <typename T>
  void Int(const std::string& key, const std::optional<T>& value) {
    if (value) Int(key, *value);
  }
  void TrueIfSet(const std::string& key, bool value) {
    if (!value) return;
    Entry(key);
    out_ << true;
  }
  void Number(const std::string& key, const std::optional<double>& value) {
    if (!value) return;
    Entry(key);
    out_ << ShortestDecimal(*value);
  }
  void IntOrStr(const std::string& key, const IntOrString& value) {
    Entry(key);
    Scalar(value);
  }
  void IntOrStr(const std::string& key, const std::optional<IntOrString>& value) {
    if (value) IntOrStr(key, *value);
  }
  void QuantityText(const std::string& key, const Quantity& value) { Text(key, value.ToString()); }

  // Scalar lists and maps, left out when empty (the loader reads an empty
  // one as absent).
  void Texts(const std::string& key, const std::vector<std::string>& values) {
    if (values.empty()) return;
    Entry(key);
    out_ << YAML::BeginSeq;
    for (const std::string& value : values) Scalar(value);
    out_ << YAML::EndSeq;
  }
  void IntsOrStrs(const std::string& key, const std::vector<IntOrString>& values) {
    if (values.empty()) return;
    Entry(key);
    out_ << YAML::BeginSeq;
    for (const IntOrString& value : values) Scalar(value);
    out_ << YAML::EndSeq;
  }
  void TextMap(const std::string& key, const std::map<std::string, std::string>& map) {
    Map(key, [&] {
      for (const auto& [name, value] : map) Text(name, value);
    });
  }
  void Resources(const std::string& key, const ResourceList& list,
                 IfEmpty if_empty = IfEmpty::kOmit) {
    Map(key, [&] {
      for (const auto& [name, quantity] : list) QuantityText(name, quantity);
    }, if_empty);
  }

  // key: the mapping that `body` writes.
  template <typename Body>
  void Map(const std::string& key, const Body& body, IfEmpty if_empty = IfEmpty::kOmit) {
    pending_.push_back({key, false, false});
    body();
    Close(if_empty);
  }
  // key: one mapping per item, written by `body(item)`; left out when empty.
  template <typename T, typename Body>
  void List(const std::string& key, const std::vector<T>& items, const Body& body) {
    pending_.push_back({key, true, false});
    for (const T& item : items) {
      pending_.push_back({std::nullopt, false, false});
      body(item);
      Close(IfEmpty::kBraces);  // "- {}" still counts as an item
    }
    Close(IfEmpty::kOmit);
  }

 private:
  struct Pending {
    std::optional<std::string> key;  // none for a list item
    bool is_list;
    bool opened;
  };

  void Scalar(const std::string& text, bool may_be_block = true) {
    if (may_be_block && IsLiteralBlock(text)) {
      // "|" keeps one final newline (YAML's "clip"), so it is left to the reader.
      out_ << YAML::Literal << text.substr(0, text.size() - 1);
      return;
    }
    if (ReadsAsNonString(text)) out_ << YAML::DoubleQuoted;
    out_ << text;
  }
  // Lines ending in a newline, as a "|" block writes them (a Stork schedule
  // parameter's YAML, say), are written as one: readable, and read back the
  // same. Only text a block gives back byte for byte: no other final newline,
  // no leading blank or space (the block's indentation is taken from its
  // first line), nothing but printable ASCII and tabs (a block cannot
  // escape a character, and some readers take U+0085 or U+2028 for a line
  // break).
  static bool IsLiteralBlock(const std::string& text) {
    if (text.size() < 2 || text.back() != '\n' || text[text.size() - 2] == '\n') return false;
    if (text[0] == ' ' || text[0] == '\t' || text[0] == '\n') return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
      return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t';
    });
  }
  void Scalar(const IntOrString& value) {
    if (value.is_int) {
      out_ << static_cast<long long>(value.int_value);
    } else {
      Scalar(value.str_value);
    }
  }
  void Key(const std::optional<std::string>& key) {
    if (!key) return;
    out_ << YAML::Key;
    Scalar(*key, false);
    out_ << YAML::Value;
  }
  void OpenPending() {
    for (Pending& pending : pending_) {
      if (pending.opened) continue;
      Key(pending.key);
      out_ << (pending.is_list ? YAML::BeginSeq : YAML::BeginMap);
      pending.opened = true;
    }
  }
  void Entry(const std::string& key) {
    OpenPending();
    Key(key);
  }
  void Close(IfEmpty if_empty) {
    const Pending pending = pending_.back();
    pending_.pop_back();
    if (pending.opened) {
      out_ << (pending.is_list ? YAML::EndSeq : YAML::EndMap);
    } else if (if_empty == IfEmpty::kBraces) {
      OpenPending();
      Key(pending.key);
      out_ << YAML::Flow << (pending.is_list ? YAML::BeginSeq : YAML::BeginMap)
           << (pending.is_list ? YAML::EndSeq : YAML::EndMap);
    }
  }

  YAML::Emitter out_;
  std::vector<Pending> pending_;
};

// --- Shared pieces of schema, as the loader reads them ---

void WriteHead(Writer& w, const std::string& api_version, const std::string& kind,
               const ObjectMeta& meta) {
  w.Text("apiVersion", api_version);
  w.Text("kind", kind);
  w.Map("metadata", [&] {
    w.Text("name", meta.name);
    w.TextIfSet("namespace", meta.namespace_);
    w.TextMap("labels", meta.labels);
    w.TextMap("annotations", meta.annotations);
  }, IfEmpty::kBraces);
}

// LabelSelectorRequirement and NodeSelectorRequirement alike.
template <typename Requirement>
void WriteRequirements(Writer& w, const std::string& key, const std::vector<Requirement>& list) {
  w.List(key, list, [&](const Requirement& r) {
    w.Text("key", r.key);
    w.Text("operator", r.op);
    w.Texts("values", r.values);
  });
}

// Written even when empty: an empty selector selects everything, an absent
// optional one nothing.
void WriteLabelSelector(Writer& w, const std::string& key, const LabelSelector& selector) {
  w.Map(key, [&] {
    w.TextMap("matchLabels", selector.match_labels);
    WriteRequirements(w, "matchExpressions", selector.match_expressions);
  }, IfEmpty::kBraces);
}

void WriteLabelSelector(Writer& w, const std::string& key,
                        const std::optional<LabelSelector>& selector) {
  if (selector) WriteLabelSelector(w, key, *selector);
}

void WriteNodeSelectorTerm(Writer& w, const NodeSelectorTerm& term) {
  WriteRequirements(w, "matchExpressions", term.match_expressions);
  WriteRequirements(w, "matchFields", term.match_fields);
}

void WritePodAffinityTerm(Writer& w, const PodAffinityTerm& term) {
  WriteLabelSelector(w, "labelSelector", term.label_selector);
  w.Texts("namespaces", term.namespaces);
  WriteLabelSelector(w, "namespaceSelector", term.namespace_selector);
  w.Text("topologyKey", term.topology_key);
}

void WritePodAffinity(Writer& w, const std::string& key, const std::optional<PodAffinity>& affinity) {
  if (!affinity) return;
  w.Map(key, [&] {
    w.List("requiredDuringSchedulingIgnoredDuringExecution", affinity->required,
           [&](const PodAffinityTerm& term) { WritePodAffinityTerm(w, term); });
    w.List("preferredDuringSchedulingIgnoredDuringExecution", affinity->preferred,
           [&](const WeightedPodAffinityTerm& weighted) {
             w.Int("weight", weighted.weight);
             w.Map("podAffinityTerm", [&] { WritePodAffinityTerm(w, weighted.term); },
                   IfEmpty::kBraces);
           });
  }, IfEmpty::kBraces);
}

void WriteAffinity(Writer& w, const Affinity& affinity) {
  w.Map("affinity", [&] {
    if (const auto& node = affinity.node_affinity) {
      w.Map("nodeAffinity", [&] {
        w.Map("requiredDuringSchedulingIgnoredDuringExecution", [&] {
          w.List("nodeSelectorTerms", node->required,
                 [&](const NodeSelectorTerm& term) { WriteNodeSelectorTerm(w, term); });
        });
        w.List("preferredDuringSchedulingIgnoredDuringExecution", node->preferred,
               [&](const PreferredSchedulingTerm& preferred) {
                 w.Int("weight", preferred.weight);
                 w.Map("preference", [&] { WriteNodeSelectorTerm(w, preferred.preference); },
                       IfEmpty::kBraces);
               });
      }, IfEmpty::kBraces);
    }
    WritePodAffinity(w, "podAffinity", affinity.pod_affinity);
    WritePodAffinity(w, "podAntiAffinity", affinity.pod_anti_affinity);
  });
}

void WriteTolerations(Writer& w, const std::vector<Toleration>& tolerations) {
  w.List("tolerations", tolerations, [&](const Toleration& t) {
    w.TextIfSet("key", t.key);
    w.Text("operator", t.op);
    w.TextIfSet("value", t.value);
    w.TextIfSet("effect", t.effect);
    w.Int("tolerationSeconds", t.toleration_seconds);
  });
}

void WriteSpreadConstraints(Writer& w, const std::string& key,
                            const std::vector<TopologySpreadConstraint>& constraints) {
  w.List(key, constraints, [&](const TopologySpreadConstraint& c) {
    w.Int("maxSkew", c.max_skew);
    w.Text("topologyKey", c.topology_key);
    w.Text("whenUnsatisfiable", c.when_unsatisfiable);
    WriteLabelSelector(w, "labelSelector", c.label_selector);
    w.Int("minDomains", c.min_domains);
  });
}

void WriteContainers(Writer& w, const std::string& key, const std::vector<Container>& containers) {
  w.List(key, containers, [&](const Container& c) {
    w.Text("name", c.name);
    w.TextIfSet("image", c.image);
    w.Texts("command", c.command);
    w.Texts("args", c.args);
    w.TextIfSet("workingDir", c.working_dir);
    w.List("env", c.env, [&](const std::pair<std::string, std::string>& variable) {
      w.Text("name", variable.first);
      w.TextIfSet("value", variable.second);
    });
    w.List("ports", c.ports, [&](const ContainerPort& port) {
      w.TextIfSet("name", port.name);
      w.Int("containerPort", port.container_port);
      w.Text("protocol", port.protocol);
      w.Int("hostPort", port.host_port);
    });
    // Requests hold the limits' defaults already, so reloading adds nothing.
    w.Map("resources", [&] {
      w.Resources("requests", c.requests);
      w.Resources("limits", c.limits);
    });
  });
}

void WritePodSpec(Writer& w, const PodSpec& spec) {
  WriteContainers(w, "containers", spec.containers);
  WriteContainers(w, "initContainers", spec.init_containers);
  w.TextIfSet("nodeName", spec.node_name);
  w.TextMap("nodeSelector", spec.node_selector);
  WriteAffinity(w, spec.affinity);
  WriteTolerations(w, spec.tolerations);
  w.TextIfSet("priorityClassName", spec.priority_class_name);
  w.Int("priority", spec.priority);
  w.TextIfSet("preemptionPolicy", spec.preemption_policy);
  w.Text("schedulerName", spec.scheduler_name);
  w.Text("serviceAccountName", spec.service_account_name);
  w.List("volumes", spec.volumes, [&](const PodVolume& volume) {
    w.Text("name", volume.name);
    if (!volume.claim_name) return;
    w.Map("persistentVolumeClaim", [&] {
      w.Text("claimName", *volume.claim_name);
      w.TrueIfSet("readOnly", volume.read_only);
    });
  });
  WriteSpreadConstraints(w, "topologySpreadConstraints", spec.topology_spread_constraints);
  w.Text("restartPolicy", spec.restart_policy);
  w.TrueIfSet("hostNetwork", spec.host_network);
}

// --- Kinds ---

void Write(Writer& w, const Namespace& ns) { WriteHead(w, "v1", "Namespace", ns.meta); }

void Write(Writer& w, const ServiceAccount& account) {
  WriteHead(w, "v1", "ServiceAccount", account.meta);
}

void Write(Writer& w, const Node& node) {
  WriteHead(w, "v1", "Node", node.meta);
  w.Map("spec", [&] {
    w.TrueIfSet("unschedulable", node.unschedulable);
    w.List("taints", node.taints, [&](const Taint& taint) {
      w.Text("key", taint.key);
      w.TextIfSet("value", taint.value);
      w.Text("effect", taint.effect);
    });
  });
  w.Map("status", [&] {
    w.Resources("capacity", node.capacity);
    // Left out, allocatable would load as a copy of capacity.
    w.Resources("allocatable", node.allocatable,
                node.allocatable == node.capacity ? IfEmpty::kOmit : IfEmpty::kBraces);
  });
}

void Write(Writer& w, const Pod& pod) {
  WriteHead(w, "v1", "Pod", pod.meta);
  w.Map("spec", [&] { WritePodSpec(w, pod.spec); }, IfEmpty::kBraces);
  if (pod.pod_ips.empty()) return;
  w.Map("status", [&] {
    w.Text("podIP", pod.pod_ips.front());
    w.List("podIPs", pod.pod_ips, [&](const std::string& ip) { w.Text("ip", ip); });
  });
}

void Write(Writer& w, const Service& svc) {
  WriteHead(w, "v1", "Service", svc.meta);
  w.Map("spec", [&] {
    w.Text("type", svc.type);
    w.TextMap("selector", svc.selector);
    w.TextIfSet("clusterIP", svc.cluster_ip);
    w.List("ports", svc.ports, [&](const ServicePort& port) {
      w.TextIfSet("name", port.name);
      w.Text("protocol", port.protocol);
      w.Int("port", port.port);
      w.IntOrStr("targetPort", port.target_port);
      if (port.node_port != 0) w.Int("nodePort", port.node_port);
    });
    w.Text("sessionAffinity", svc.session_affinity);
    if (svc.session_affinity == "ClientIP")
      w.Map("sessionAffinityConfig", [&] { w.Map("clientIP", [&] { w.Int("timeoutSeconds", svc.session_affinity_timeout); }); });
    w.TextIfSet("externalTrafficPolicy", svc.external_traffic_policy);
    w.Text("internalTrafficPolicy", svc.internal_traffic_policy);
    w.TrueIfSet("publishNotReadyAddresses", svc.publish_not_ready_addresses);
    w.TextIfSet("externalName", svc.external_name);
  }, IfEmpty::kBraces);
}

// A workload's pod template (Deployment, DaemonSet, StatefulSet).
void WritePodTemplate(Writer& w, const PodTemplate& tmpl) {
  w.Map("template", [&] {
    w.Map("metadata", [&] {
      w.TextMap("labels", tmpl.labels);
      w.TextMap("annotations", tmpl.annotations);
    });
    w.Map("spec", [&] { WritePodSpec(w, tmpl.spec); }, IfEmpty::kBraces);
  }, IfEmpty::kBraces);
}

void Write(Writer& w, const Deployment& d) {
  WriteHead(w, "apps/v1", "Deployment", d.meta);
  w.Map("spec", [&] {
    w.Int("replicas", d.replicas);
    WriteLabelSelector(w, "selector", d.selector);
    WritePodTemplate(w, d.pod_template);
    w.Map("strategy", [&] {
      w.Text("type", d.strategy);
      // Upstream refuses rollingUpdate beside Recreate.
      if (d.strategy == "Recreate") return;
      w.Map("rollingUpdate", [&] {
        w.IntOrStr("maxSurge", d.max_surge);
        w.IntOrStr("maxUnavailable", d.max_unavailable);
      });
    });
    w.Int("minReadySeconds", d.min_ready_seconds);
  }, IfEmpty::kBraces);
}

void Write(Writer& w, const DaemonSet& d) {
  WriteHead(w, "apps/v1", "DaemonSet", d.meta);
  w.Map("spec", [&] {
    WriteLabelSelector(w, "selector", d.selector);
    WritePodTemplate(w, d.pod_template);
    w.Map("updateStrategy", [&] {
      w.Text("type", d.update_strategy);
      if (d.update_strategy == "OnDelete") return;
      w.Map("rollingUpdate", [&] {
        w.IntOrStr("maxSurge", d.max_surge);
        w.IntOrStr("maxUnavailable", d.max_unavailable);
      });
    });
    w.Int("minReadySeconds", d.min_ready_seconds);
  }, IfEmpty::kBraces);
}

void WriteNetworkPolicyRules(Writer& w, const std::string& key, const std::string& peers_key,
                             const std::vector<NetworkPolicyRule>& rules) {
  w.List(key, rules, [&](const NetworkPolicyRule& rule) {
    w.List(peers_key, rule.peers, [&](const NetworkPolicyPeer& peer) {
      WriteLabelSelector(w, "podSelector", peer.pod_selector);
      WriteLabelSelector(w, "namespaceSelector", peer.namespace_selector);
      if (!peer.ip_block) return;
      w.Map("ipBlock", [&] {
        w.Text("cidr", peer.ip_block->cidr);
        w.Texts("except", peer.ip_block->except);
      });
    });
    w.List("ports", rule.ports, [&](const NetworkPolicyPort& port) {
      w.Text("protocol", port.protocol);
      w.IntOrStr("port", port.port);
      w.Int("endPort", port.end_port);
    });
  });
}

void Write(Writer& w, const NetworkPolicy& policy) {
  WriteHead(w, "networking.k8s.io/v1", "NetworkPolicy", policy.meta);
  w.Map("spec", [&] {
    WriteLabelSelector(w, "podSelector", policy.pod_selector);
    WriteNetworkPolicyRules(w, "ingress", "from", policy.ingress);
    WriteNetworkPolicyRules(w, "egress", "to", policy.egress);
    w.Texts("policyTypes", policy.policy_types);
  }, IfEmpty::kBraces);
}

// Calico's notation: a number, a "first:last" range, or a port name.
std::vector<IntOrString> CalicoPortScalars(const std::vector<CalicoPort>& ports) {
  std::vector<IntOrString> scalars;
  for (const CalicoPort& port : ports) {
    if (!port.name.empty()) {
      scalars.push_back({false, 0, port.name});
    } else if (port.first == port.last) {
      scalars.push_back({true, port.first, ""});
    } else {
      scalars.push_back({false, 0, std::to_string(port.first) + ":" + std::to_string(port.last)});
    }
  }
  return scalars;
}

void WriteEntityRule(Writer& w, const std::string& key, const CalicoEntityRule& entity) {
  w.Map(key, [&] {
    w.Texts("nets", entity.nets);
    w.Texts("notNets", entity.not_nets);
    w.TextIfSet("selector", entity.selector.expression);
    w.TextIfSet("notSelector", entity.not_selector.expression);
    w.TextIfSet("namespaceSelector", entity.namespace_selector.expression);
    w.IntsOrStrs("ports", CalicoPortScalars(entity.ports));
    w.IntsOrStrs("notPorts", CalicoPortScalars(entity.not_ports));
    w.Map("serviceAccounts", [&] {
      w.Texts("names", entity.service_account_names);
      w.TextIfSet("selector", entity.service_account_selector.expression);
    });
  });
}

void WriteIcmp(Writer& w, const std::string& key, const std::optional<IcmpMatch>& icmp) {
  if (!icmp) return;
  w.Map(key, [&] {
    w.Int("type", icmp->type);
    w.Int("code", icmp->code);
  }, IfEmpty::kBraces);
}

void WriteCalicoRules(Writer& w, const std::string& key, const std::vector<CalicoRule>& rules) {
  w.List(key, rules, [&](const CalicoRule& rule) {
    w.Text("action", rule.action);
    w.IntOrStr("protocol", rule.protocol);
    w.IntOrStr("notProtocol", rule.not_protocol);
    WriteIcmp(w, "icmp", rule.icmp);
    WriteIcmp(w, "notICMP", rule.not_icmp);
    w.Int("ipVersion", rule.ip_version);
    WriteEntityRule(w, "source", rule.source);
    WriteEntityRule(w, "destination", rule.destination);
  });
}

void Write(Writer& w, const CalicoPolicy& policy) {
  WriteHead(w, "projectcalico.org/v3", policy.global ? "GlobalNetworkPolicy" : "NetworkPolicy",
            policy.meta);
  w.Map("spec", [&] {
    w.Text("tier", policy.tier);
    w.Number("order", policy.order);
    w.TextIfSet("selector", policy.selector.expression);
    if (policy.global) w.TextIfSet("namespaceSelector", policy.namespace_selector.expression);
    w.TextIfSet("serviceAccountSelector", policy.service_account_selector.expression);
    w.Texts("types", policy.types);
    WriteCalicoRules(w, "ingress", policy.ingress);
    WriteCalicoRules(w, "egress", policy.egress);
    if (!policy.global) return;
    w.TrueIfSet("doNotTrack", policy.do_not_track);
    w.TrueIfSet("preDNAT", policy.pre_dnat);
    w.TrueIfSet("applyOnForward", policy.apply_on_forward);
  }, IfEmpty::kBraces);
}

void Write(Writer& w, const Tier& tier) {
  WriteHead(w, "projectcalico.org/v3", "Tier", tier.meta);
  w.Map("spec", [&] {
    w.Number("order", tier.order);
    w.Text("defaultAction", tier.default_action);
  });
}

void Write(Writer& w, const NetworkSet& set) {
  WriteHead(w, "projectcalico.org/v3", set.global ? "GlobalNetworkSet" : "NetworkSet", set.meta);
  w.Map("spec", [&] { w.Texts("nets", set.nets); }, IfEmpty::kBraces);
}

void Write(Writer& w, const StorageClass& sc) {
  WriteHead(w, "storage.k8s.io/v1", "StorageClass", sc.meta);
  w.Text("provisioner", sc.provisioner);
  // The typed Portworx parameters are derived from these on loading.
  w.TextMap("parameters", sc.parameters);
  w.Text("reclaimPolicy", sc.reclaim_policy);
  w.Text("volumeBindingMode", sc.volume_binding_mode);
  w.TrueIfSet("allowVolumeExpansion", sc.allow_volume_expansion);
  // The model keeps one ANDed list of requirements: one term holds them all.
  std::vector<std::vector<NodeSelectorRequirement>> terms;
  if (!sc.allowed_topologies.empty()) terms.push_back(sc.allowed_topologies);
  w.List("allowedTopologies", terms, [&](const std::vector<NodeSelectorRequirement>& term) {
    w.List("matchLabelExpressions", term, [&](const NodeSelectorRequirement& r) {
      w.Text("key", r.key);
      w.Texts("values", r.values);
    });
  });
}

void WriteClaimSpec(Writer& w, const PersistentVolumeClaim& claim) {
  w.Map("spec", [&] {
    w.Texts("accessModes", claim.access_modes);
    if (claim.storage) {
      w.Map("resources", [&] {
        w.Map("requests", [&] { w.QuantityText("storage", *claim.storage); });
      });
    }
    // "" names no class, which is not the same as leaving the default.
    if (claim.storage_class_name) w.Text("storageClassName", *claim.storage_class_name);
    w.Text("volumeMode", claim.volume_mode);
    if (claim.data_source_kind.empty() && claim.data_source_name.empty()) return;
    w.Map("dataSource", [&] {
      if (claim.data_source_kind == "VolumeSnapshot") w.Text("apiGroup", "snapshot.storage.k8s.io");
      w.Text("kind", claim.data_source_kind);
      w.Text("name", claim.data_source_name);
    });
  }, IfEmpty::kBraces);
}

void Write(Writer& w, const PersistentVolumeClaim& claim) {
  WriteHead(w, "v1", "PersistentVolumeClaim", claim.meta);
  WriteClaimSpec(w, claim);
}

void Write(Writer& w, const StatefulSet& s) {
  WriteHead(w, "apps/v1", "StatefulSet", s.meta);
  w.Map("spec", [&] {
    w.Int("replicas", s.replicas);
    w.TextIfSet("serviceName", s.service_name);
    WriteLabelSelector(w, "selector", s.selector);
    WritePodTemplate(w, s.pod_template);
    w.List("volumeClaimTemplates", s.volume_claim_templates, [&](const PersistentVolumeClaim& claim) {
      w.Map("metadata", [&] {
        w.Text("name", claim.meta.name);
        w.TextMap("labels", claim.meta.labels);
        w.TextMap("annotations", claim.meta.annotations);
      });
      WriteClaimSpec(w, claim);
    });
    w.Text("podManagementPolicy", s.pod_management_policy);
    w.Map("updateStrategy", [&] {
      w.Text("type", s.update_strategy);
      if (s.update_strategy == "OnDelete") return;
      w.Map("rollingUpdate", [&] {
        w.Int("partition", s.partition);
        w.IntOrStr("maxUnavailable", s.max_unavailable);
      });
    });
    w.Map("persistentVolumeClaimRetentionPolicy", [&] {
      w.Text("whenDeleted", s.when_deleted);
      w.Text("whenScaled", s.when_scaled);
    });
    w.Map("ordinals", [&] { w.Int("start", s.ordinals_start); });
    w.Int("minReadySeconds", s.min_ready_seconds);
  }, IfEmpty::kBraces);
}

// A Job's spec, also a CronJob's jobTemplate.spec. completions is written
// only when set: absent beside parallelism it means a work queue.
void WriteJobSpec(Writer& w, const JobSpec& spec) {
  w.Map("spec", [&] {
    w.Int("completions", spec.completions);
    w.Int("parallelism", spec.parallelism);
    w.Int("backoffLimit", spec.backoff_limit);
    w.Text("completionMode", spec.completion_mode);
    w.Int("activeDeadlineSeconds", spec.active_deadline_seconds);
    w.Int("ttlSecondsAfterFinished", spec.ttl_seconds_after_finished);
    w.TrueIfSet("suspend", spec.suspend);
    WritePodTemplate(w, spec.pod_template);
  }, IfEmpty::kBraces);
}

void Write(Writer& w, const Job& job) {
  WriteHead(w, "batch/v1", "Job", job.meta);
  WriteJobSpec(w, job.spec);
}

void Write(Writer& w, const CronJob& c) {
  WriteHead(w, "batch/v1", "CronJob", c.meta);
  w.Map("spec", [&] {
    w.Text("schedule", c.schedule);
    if (c.time_zone) w.Text("timeZone", *c.time_zone);
    w.Text("concurrencyPolicy", c.concurrency_policy);
    w.TrueIfSet("suspend", c.suspend);
    w.Int("startingDeadlineSeconds", c.starting_deadline_seconds);
    w.Int("successfulJobsHistoryLimit", c.successful_jobs_history_limit);
    w.Int("failedJobsHistoryLimit", c.failed_jobs_history_limit);
    w.Map("jobTemplate", [&] {
      w.Map("metadata", [&] {
        w.TextMap("labels", c.job_labels);
        w.TextMap("annotations", c.job_annotations);
      });
      WriteJobSpec(w, c.job_template);
    }, IfEmpty::kBraces);
  }, IfEmpty::kBraces);
}

void Write(Writer& w, const VolumeSnapshot& snapshot) {
  WriteHead(w, "snapshot.storage.k8s.io/v1", "VolumeSnapshot", snapshot.meta);
  w.Map("spec", [&] {
    w.TextIfSet("volumeSnapshotClassName", snapshot.snapshot_class);
    w.Map("source", [&] {
      w.TextIfSet("persistentVolumeClaimName", snapshot.source_pvc);
      w.TextIfSet("volumeSnapshotContentName", snapshot.source_content);
    }, IfEmpty::kBraces);
  }, IfEmpty::kBraces);
}

void Write(Writer& w, const PriorityClass& pc) {
  WriteHead(w, "scheduling.k8s.io/v1", "PriorityClass", pc.meta);
  w.Int("value", pc.value);
  w.TrueIfSet("globalDefault", pc.global_default);
  w.Text("preemptionPolicy", pc.preemption_policy);
  w.TextIfSet("description", pc.description);
}

// A retain of 0 is Stork's default, as when it is not written.
void Write(Writer& w, const SchedulePolicy& policy) {
  WriteHead(w, "stork.libopenstorage.org/v1alpha1", "SchedulePolicy", policy.meta);
  const auto retain = [&](int32_t value) {
    if (value != 0) w.Int("retain", value);
  };
  w.Map("policy", [&] {
    if (const auto& rule = policy.interval) {
      w.Map("interval", [&] {
        w.Int("intervalMinutes", rule->minutes);
        retain(rule->retain);
      }, IfEmpty::kBraces);
    }
    if (const auto& rule = policy.daily) {
      w.Map("daily", [&] {
        w.Text("time", rule->time.text);
        retain(rule->retain);
        w.TextIfSet("forceFullSnapshotDay", rule->force_full_snapshot_day);
      }, IfEmpty::kBraces);
    }
    if (const auto& rule = policy.weekly) {
      w.Map("weekly", [&] {
        w.Text("day", rule->day);
        w.Text("time", rule->time.text);
        retain(rule->retain);
      }, IfEmpty::kBraces);
    }
    if (const auto& rule = policy.monthly) {
      w.Map("monthly", [&] {
        w.Int("date", rule->date);
        w.Text("time", rule->time.text);
        retain(rule->retain);
      }, IfEmpty::kBraces);
    }
  }, IfEmpty::kBraces);
}

void WriteResourceWeights(Writer& w, const std::vector<ResourceWeight>& weights) {
  w.List("resources", weights, [&](const ResourceWeight& weight) {
    w.Text("name", weight.name);
    w.Int("weight", weight.weight);
  });
}

void WritePlugins(Writer& w, const std::string& key, const std::vector<SchedulerPlugin>& plugins) {
  w.List(key, plugins, [&](const SchedulerPlugin& plugin) {
    w.Text("name", plugin.name);
    w.Int("weight", plugin.weight);
  });
}

// Only the args of the plugin named: the loader refuses any others.
void WritePluginArgs(Writer& w, const SchedulerPluginConfig& config) {
  const std::string& name = config.name;
  if (name == "NodeResourcesFit") {
    w.Map("scoringStrategy", [&] {
      w.TextIfSet("type", config.scoring_strategy);
      WriteResourceWeights(w, config.resources);
      w.Map("requestedToCapacityRatio", [&] {
        w.List("shape", config.shape, [&](const UtilizationShapePoint& point) {
          w.Int("utilization", point.utilization);
          w.Int("score", point.score);
        });
      });
    });
  } else if (name == "NodeResourcesBalancedAllocation") {
    WriteResourceWeights(w, config.resources);
  } else if (name == "InterPodAffinity") {
    w.Int("hardPodAffinityWeight", config.hard_pod_affinity_weight);
    w.TrueIfSet("ignorePreferredTermsOfExistingPods", config.ignore_preferred_terms_of_existing_pods);
  } else if (name == "PodTopologySpread") {
    WriteSpreadConstraints(w, "defaultConstraints", config.default_constraints);
    w.TextIfSet("defaultingType", config.defaulting_type);
  } else if (name == "DefaultPreemption") {
    w.Int("minCandidateNodesPercentage", config.min_candidate_nodes_percentage);
    w.Int("minCandidateNodesAbsolute", config.min_candidate_nodes_absolute);
  }
}

void Write(Writer& w, const KubeSchedulerConfiguration& config) {
  // Component configuration: no metadata.
  w.Text("apiVersion", "kubescheduler.config.k8s.io/v1");
  w.Text("kind", "KubeSchedulerConfiguration");
  w.Int("percentageOfNodesToScore", config.percentage_of_nodes_to_score);
  w.Int("podInitialBackoffSeconds", config.pod_initial_backoff_seconds);
  w.Int("podMaxBackoffSeconds", config.pod_max_backoff_seconds);
  w.List("profiles", config.profiles, [&](const SchedulerProfile& profile) {
    w.Text("schedulerName", profile.scheduler_name);
    w.Map("plugins", [&] {
      // An extension point written with nothing under it is still kept.
      for (const auto& point : profile.plugins) {
        w.Map(point.first, [&] {
          WritePlugins(w, "enabled", point.second.enabled);
          WritePlugins(w, "disabled", point.second.disabled);
        }, IfEmpty::kBraces);
      }
    });
    w.List("pluginConfig", profile.plugin_config, [&](const SchedulerPluginConfig& plugin) {
      w.Text("name", plugin.name);
      w.Map("args", [&] { WritePluginArgs(w, plugin); });
    });
  });
}

}  // namespace

std::string ToYaml(const Object& object) {
  Writer writer;
  std::visit([&](const auto& typed) { Write(writer, typed); }, object);
  return writer.Finish();
}

std::string ToYaml(const std::vector<Object>& objects) {
  std::string stream;
  for (const Object& object : objects) {
    if (!stream.empty()) stream += "---\n";
    stream += ToYaml(object);
  }
  return stream;
}

}  // namespace edgebed::model
