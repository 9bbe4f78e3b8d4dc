#include "core/sched/daemon.h"

#include <algorithm>

#include "core/base/hash.h"
#include "core/model/emit.h"
#include "core/sched/predicates.h"

namespace edgebed::sched {

std::string TemplateRevision(const std::string& ns, const model::PodTemplate& tmpl) {
  model::Pod sample;
  sample.meta.namespace_ = ns;
  sample.meta.labels = tmpl.labels;
  sample.meta.annotations = tmpl.annotations;
  sample.spec = tmpl.spec;
  const std::string text = model::ToYaml(model::Object(sample));
  return Hex(Hash64(text.data(), text.size()), 10);
}

std::vector<model::Toleration> DaemonTolerations(const model::PodSpec& spec) {
  std::vector<model::Toleration> add = {
      {"node.kubernetes.io/not-ready", "Exists", "", "NoExecute", std::nullopt},
      {"node.kubernetes.io/unreachable", "Exists", "", "NoExecute", std::nullopt},
      {"node.kubernetes.io/disk-pressure", "Exists", "", "NoSchedule", std::nullopt},
      {"node.kubernetes.io/memory-pressure", "Exists", "", "NoSchedule", std::nullopt},
      {"node.kubernetes.io/pid-pressure", "Exists", "", "NoSchedule", std::nullopt},
      {"node.kubernetes.io/unschedulable", "Exists", "", "NoSchedule", std::nullopt}};
  if (spec.host_network) add.push_back({"node.kubernetes.io/network-unavailable", "Exists", "", "NoSchedule", std::nullopt});
  std::vector<model::Toleration> out = spec.tolerations;
  for (const model::Toleration& t : add) {
    const bool have = std::any_of(out.begin(), out.end(), [&](const model::Toleration& o) {
      return o.key == t.key && o.effect == t.effect && o.op == "Exists";
    });
    if (!have) out.push_back(t);
  }
  return out;
}

DaemonFit DaemonFits(const model::DaemonSet& set, const model::Node& node) {
  DaemonFit fit;
  if (!RequiredNodeAffinityMatches(set.pod_template.spec, node)) return fit;
  const std::vector<model::Toleration> tolerations = DaemonTolerations(set.pod_template.spec);
  fit.run = fit.keep = true;
  for (const model::Taint& taint : node.taints) {
    if (taint.effect != "NoSchedule" && taint.effect != "NoExecute") continue;
    if (TolerationsTolerate(tolerations, taint)) continue;
    fit.run = false;
    if (taint.effect == "NoExecute") fit.keep = false;
  }
  return fit;
}

model::Pod DaemonPod(const model::DaemonSet& set, const std::string& node, const std::string& revision,
                     uint64_t salt) {
  model::Pod pod;
  pod.meta.namespace_ = set.meta.namespace_;
  pod.meta.labels = set.pod_template.labels;
  pod.meta.annotations = set.pod_template.annotations;
  pod.meta.pos = set.meta.pos;
  pod.spec = set.pod_template.spec;
  const std::string seed = node + "/" + revision + "/" + std::to_string(salt);
  pod.meta.name = set.meta.name + "-" + Hex(Hash64(seed.data(), seed.size()), 10);
  pod.meta.labels[kRevisionHashLabel] = revision;
  pod.spec.tolerations = DaemonTolerations(set.pod_template.spec);
  model::NodeAffinity& na = pod.spec.affinity.node_affinity ? *pod.spec.affinity.node_affinity
                                                            : pod.spec.affinity.node_affinity.emplace();
  model::NodeSelectorTerm term;
  term.match_fields.push_back(model::NodeSelectorRequirement{"metadata.name", "In", {node}});
  na.required = {term};
  return pod;
}

std::string DaemonNodeOf(const model::Pod& pod) {
  const auto& na = pod.spec.affinity.node_affinity;
  if (na && na->required.size() == 1 && na->required[0].match_fields.size() == 1 &&
      na->required[0].match_fields[0].values.size() == 1)
    return na->required[0].match_fields[0].values[0];
  return pod.spec.node_name;
}

std::vector<model::Pod> DaemonPods(const model::DaemonSet& set, const std::vector<model::Node>& nodes) {
  const std::string revision = TemplateRevision(set.meta.namespace_, set.pod_template);
  std::vector<model::Pod> pods;
  for (const model::Node& node : nodes)
    if (DaemonFits(set, node).run) pods.push_back(DaemonPod(set, node.meta.name, revision));
  return pods;
}

}  // namespace edgebed::sched
