// VolumePlacement and VolumeLocality: the storage layer's word on where a
// pod's persistent volumes can be attached, and where their data already is.
#include "core/sched/plugins/plugins.h"
#include "core/sched/queue.h"

namespace edgebed::sched::plugins {
namespace {

class VolumePlacementPlugin final : public Plugin {
 public:
  explicit VolumePlacementPlugin(const PluginContext& c) : cluster_(*c.cluster), volumes_(c.volumes) {}
  const char* name() const override { return "VolumePlacement"; }
  bool PreFilter(CycleState& s) override { return volumes_ && s.pod->has_claim; }
  bool Filter(const CycleState& s, const NodeState& n, NodeStatus* st) const override {
    std::string reason = volumes_->CannotPlace(s.pod->pod, n.node);
    if (reason.empty()) return true;
    st->Add(cluster_.Intern(reason));
    st->unresolvable = true;
    return false;
  }
  uint32_t HelpfulEvents() const override { return kNodeAdd | kVolumeChange; }

 private:
  ClusterState& cluster_;
  const VolumePlacement* volumes_;
};

class VolumeLocality final : public Plugin {
 public:
  explicit VolumeLocality(const PluginContext& c) : volumes_(c.volumes) {}
  const char* name() const override { return "VolumeLocality"; }
  bool PreScore(CycleState& s, const std::vector<NodeState*>&) override {
    return volumes_ && s.pod->has_claim;
  }
  int64_t Score(const CycleState& s, const NodeState& n) const override {
    const int locality = volumes_->Locality(s.pod->pod, n.node);
    return std::clamp(locality, 0, 100);
  }

 private:
  const VolumePlacement* volumes_;
};

}  // namespace

std::unique_ptr<Plugin> NewVolumePlacement(const PluginContext& c) {
  return std::make_unique<VolumePlacementPlugin>(c);
}
std::unique_ptr<Plugin> NewVolumeLocality(const PluginContext& c) {
  return std::make_unique<VolumeLocality>(c);
}

}  // namespace edgebed::sched::plugins
