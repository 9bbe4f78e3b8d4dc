#include "tools/sched_command.h"

#include <iostream>
#include <map>

#include "core/sched/scheduler.h"
#include "tools/flags.h"
#include "tools/validate.h"

namespace edgebed::tools {

namespace {

constexpr const char* kSummary =
    "Places the pods of the manifests onto their nodes as kube-scheduler would: filter,\n"
    "score, preempt. Prints one line per pod: NAMESPACE/POD<TAB>NODE when bound (and\n"
    "<TAB>preempts NS/VICTIM,... when it evicted pods to fit), NAMESPACE/POD<TAB>-<TAB>REASON\n"
    "when not. Pods with spec.nodeName are already bound and count as load.";

std::string Where(const model::ObjectMeta& meta) {
  const std::string pos = meta.pos.ToString();
  return pos.empty() ? meta.namespace_ + "/" + meta.name : pos;
}

}  // namespace

StatusOr<std::string> PlacePods(const std::vector<model::Object>& objects,
                                const sched::Config& config, uint64_t seed) {
  sched::Scheduler s(config, nullptr, Random(seed));
  const Time t0{};
  for (const auto& o : objects) {
    if (const auto* pc = std::get_if<model::PriorityClass>(&o)) s.UpsertPriorityClass(*pc);
    if (const auto* ns = std::get_if<model::Namespace>(&o)) s.UpsertNamespace(*ns, t0);
    if (const auto* n = std::get_if<model::Node>(&o)) s.UpsertNode(*n, t0);
  }
  std::string out;
  size_t pods = 0;
  std::vector<std::string> refused;  // pods left to another scheduler, in file order
  const auto add = [&](const model::Pod& pod, const model::LabelSelector* owner) -> Status {
    Status st = s.AddPod(pod, t0, owner);
    if (st.code() == StatusCode::kFailedPrecondition) {
      refused.push_back(pod.meta.namespace_ + "/" + pod.meta.name + "\t-\t" + st.message() + "\n");
      return Status::Ok();
    }
    if (!st.ok()) return Status(st.code(), "pod " + st.where() + ": " + st.message(), Where(pod.meta));
    ++pods;
    return st;
  };
  // Bound pods first: they are the load the others are placed around.
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& o : objects) {
      if (const auto* pod = std::get_if<model::Pod>(&o)) {
        if (pod->spec.node_name.empty() == (pass == 1)) {
          if (Status st = add(*pod, nullptr); !st.ok()) return st;
        }
      } else if (const auto* d = std::get_if<model::Deployment>(&o)) {
        for (const model::Pod& pod : model::ReplicaPods(*d)) {
          if (pod.spec.node_name.empty() == (pass == 1)) {
            if (Status st = add(pod, &d->selector); !st.ok()) return st;
          }
        }
      }
    }
  }
  std::map<std::string, std::vector<std::string>> victims_of;
  std::map<std::string, std::string> last_reason;
  std::map<std::string, uint64_t> last_try;
  uint64_t tries = 0;
  Time now = t0;
  // Each pod binds once; preemptions evict at least one pod each; retries
  // only follow an event: the loop ends. The cap is a guard, not a limit.
  const uint64_t cap = 64 * (static_cast<uint64_t>(pods) + 16) * 16;
  while (tries < cap) {
    std::optional<sched::Decision> d = s.ScheduleOne(now);
    if (!d) {
      std::optional<Time> next = s.NextBackoffExpiry();
      if (!next) break;
      now = *next;
      continue;
    }
    ++tries;
    last_try[d->pod] = tries;
    switch (d->outcome) {
      case sched::Decision::kBound: {
        out += d->pod + "\t" + d->node;
        auto v = victims_of.find(d->pod);
        if (v != victims_of.end()) {
          std::string list;
          for (const auto& victim : v->second) list += (list.empty() ? "" : ",") + victim;
          out += "\tpreempts " + list;
        }
        out += "\n";
        last_reason.erase(d->pod);
        break;
      }
      case sched::Decision::kNominated:
        for (const std::string& victim : d->victims) {
          victims_of[d->pod].push_back(victim);
          const size_t slash = victim.find('/');
          (void)s.RemovePod(victim.substr(0, slash), victim.substr(slash + 1), now);
        }
        last_reason[d->pod] = "nominated to " + d->node + " after preempting, but did not fit there";
        break;
      case sched::Decision::kUnschedulable:
        last_reason[d->pod] = d->reason;
        break;
    }
  }
  if (tries >= cap) {
    return Internal("the scheduler did not settle after " + std::to_string(tries) + " attempts");
  }
  std::vector<std::pair<uint64_t, std::string>> unplaced;
  for (const auto& [pod, reason] : last_reason) unplaced.emplace_back(last_try[pod], pod);
  std::sort(unplaced.begin(), unplaced.end());
  for (const auto& [when, pod] : unplaced) out += pod + "\t-\t" + last_reason[pod] + "\n";
  for (const auto& line : refused) out += line;
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
