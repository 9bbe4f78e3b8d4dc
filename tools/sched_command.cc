#include "tools/sched_command.h"

#include <iostream>
#include <map>

#include "core/sched/offline.h"
#include "core/storage/provisioner.h"
#include "tools/flags.h"
#include "tools/validate.h"

namespace edgebed::tools {

namespace {

constexpr const char* kSummary =
    "Places the pods of the manifests onto their nodes as kube-scheduler would: filter,\n"
    "score, preempt. Prints one line per pod: NAMESPACE/POD<TAB>NODE when bound (and\n"
    "<TAB>preempts NS/VICTIM,... when it evicted pods to fit), NAMESPACE/POD<TAB>-<TAB>REASON\n"
    "when not. Pods with spec.nodeName are already bound and count as load.";

}  // namespace

StatusOr<std::string> PlacePods(const std::vector<model::Object>& objects,
                                const sched::Config& config, uint64_t seed) {
  // The storage layer places the claims and tells the scheduler where each
  // pod's volumes can be used; each bind attaches them (and places
  // WaitForFirstConsumer claims beside the pod).
  storage::Provisioner volumes;
  if (Status st = volumes.AddObjects(objects); !st.ok()) return st;
  sched::Scheduler s(config, &volumes, Random(seed));
  const Time t0{};
  std::string out;
  std::vector<std::string> refused;  // pods left to another scheduler
  if (Status st = sched::AddObjects(s, objects, t0, &refused); !st.ok()) return st;
  const auto attach = [&](const sched::Decision& d, Time now) {
    if (d.outcome != sched::Decision::kBound) return;
    const size_t slash = d.pod.find('/');
    if (const model::Pod* pod = s.FindPod(d.pod.substr(0, slash), d.pod.substr(slash + 1))) {
      // The scheduler only binds where the volumes can be used, so this holds.
      (void)volumes.BindFirstConsumer(*pod, d.node);
      s.VolumesChanged(now);
    }
  };
  for (const sched::Placement& p : sched::PlaceAll(s, t0, 100'000'000, attach)) {
    out += p.pod;
    if (p.node.empty()) {
      out += "\t-\t" + p.reason + "\n";
      continue;
    }
    out += "\t" + p.node;
    if (!p.victims.empty()) {
      std::string list;
      for (const auto& victim : p.victims) list += (list.empty() ? "" : ",") + victim;
      out += "\tpreempts " + list;
    }
    out += "\n";
  }
  for (const auto& line : refused) out += line + "\n";
  return out;
}

int RunSched(int argc, char** argv) {
  std::vector<std::string> names;
  std::string config_file;
  int64_t seed = 1;
  Flags flags("edgebed sched", kSummary);
  flags.Repeated("filename", "f", "a manifest file or directory", &names);
  flags.String("config", "a KubeSchedulerConfiguration file (default: upstream's default profile)",
               &config_file);
  flags.Int("seed", "random seed for ties between equally good nodes", &seed);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (names.empty()) {
    std::cerr << "edgebed sched: -f FILE is required (see --help)\n";
    return 2;
  }
  if (seed < 0) {
    std::cerr << "edgebed sched: --seed: " << seed << " is negative; use 0 or more\n";
    return 2;
  }
  std::vector<model::Object> objects;
  int rc = 0;
  if (!LoadAll("edgebed sched", names, &objects, &rc)) return rc;
  for (const auto& o : objects) {
    if (std::holds_alternative<model::KubeSchedulerConfiguration>(o)) {
      std::cerr << "error: " << model::MetaOf(o).pos.ToString()
                << ": a KubeSchedulerConfiguration among the manifests; pass it with --config\n";
      return 1;
    }
  }
  sched::Config config = sched::DefaultConfig();
  if (!config_file.empty()) {
    std::vector<model::Object> cfg;
    if (!LoadAll("edgebed sched", {config_file}, &cfg, &rc)) return rc;
    const model::KubeSchedulerConfiguration* found = nullptr;
    for (const auto& o : cfg) {
      const auto* c = std::get_if<model::KubeSchedulerConfiguration>(&o);
      if (!c || found) {
        std::cerr << "error: " << model::MetaOf(o).pos.ToString() << ": --config takes one "
                  << "KubeSchedulerConfiguration and nothing else; move this "
                  << model::KindOf(o) << " to a -f file\n";
        return 1;
      }
      found = c;
    }
    if (!found) {
      std::cerr << "error: " << config_file << ": no KubeSchedulerConfiguration in it\n";
      return 1;
    }
    StatusOr<sched::Config> converted = sched::ConfigFromObject(*found);
    if (!converted.ok()) {
      std::cerr << "error: " << converted.status().ToString() << "\n";
      return 1;
    }
    config = std::move(*converted);
  }
  StatusOr<std::string> out = PlacePods(objects, config, static_cast<uint64_t>(seed));
  if (!out.ok()) {
    std::cerr << "error: " << out.status().ToString() << "\n";
    return 1;
  }
  std::cout << *out;
  return 0;
}

}  // namespace edgebed::tools
