// The plugins, one factory each, named as upstream's. Internal to core/sched.
#pragma once

#include <memory>

#include "core/sched/framework.h"

namespace edgebed::sched::plugins {

std::unique_ptr<Plugin> NewNodeUnschedulable(const PluginContext& c);
std::unique_ptr<Plugin> NewNodeName(const PluginContext& c);
std::unique_ptr<Plugin> NewNodePorts(const PluginContext& c);
std::unique_ptr<Plugin> NewTaintToleration(const PluginContext& c);
std::unique_ptr<Plugin> NewNodeAffinity(const PluginContext& c);
std::unique_ptr<Plugin> NewNodeResourcesFit(const PluginContext& c);
std::unique_ptr<Plugin> NewBalancedAllocation(const PluginContext& c);
std::unique_ptr<Plugin> NewInterPodAffinity(const PluginContext& c);
std::unique_ptr<Plugin> NewPodTopologySpread(const PluginContext& c);
std::unique_ptr<Plugin> NewVolumePlacement(const PluginContext& c);
std::unique_ptr<Plugin> NewVolumeLocality(const PluginContext& c);

}  // namespace edgebed::sched::plugins
