#include <functional>
#include <map>

#include "core/sched/plugins/plugins.h"

namespace edgebed::sched {

std::unique_ptr<Plugin> NewPlugin(const std::string& name, const PluginContext& c) {
  using Factory = std::unique_ptr<Plugin> (*)(const PluginContext&);
  static const std::map<std::string, Factory> factories = {
      {"NodeUnschedulable", &plugins::NewNodeUnschedulable},
      {"NodeName", &plugins::NewNodeName},
      {"NodePorts", &plugins::NewNodePorts},
      {"TaintToleration", &plugins::NewTaintToleration},
      {"NodeAffinity", &plugins::NewNodeAffinity},
      {"NodeResourcesFit", &plugins::NewNodeResourcesFit},
      {"NodeResourcesBalancedAllocation", &plugins::NewBalancedAllocation},
      {"InterPodAffinity", &plugins::NewInterPodAffinity},
      {"PodTopologySpread", &plugins::NewPodTopologySpread},
      {"VolumePlacement", &plugins::NewVolumePlacement},
      {"VolumeLocality", &plugins::NewVolumeLocality},
  };
  auto it = factories.find(name);
  return it == factories.end() ? nullptr : it->second(c);
}

void DefaultNormalizeScore(bool reverse, std::vector<int64_t>& scores) {
  int64_t max = 0;
  for (int64_t s : scores) max = std::max(max, s);
  if (max == 0) {
    if (reverse) std::fill(scores.begin(), scores.end(), 100);
    return;
  }
  for (int64_t& s : scores) {
    s = 100 * s / max;
    if (reverse) s = 100 - s;
  }
}

}  // namespace edgebed::sched
