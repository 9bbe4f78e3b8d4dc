#include "core/model/objects.h"

#include <algorithm>
#include <sstream>

namespace edgebed::model {
namespace {

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string Resources(const ResourceList& list) {
  std::string out;
  for (const auto& [name, q] : list) out += (out.empty() ? "" : " ") + name + "=" + q.ToString();
  return out;
}

std::string Plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string PodSpecSummary(const PodSpec& spec) {
  ResourceList requests;
  for (const Container& c : spec.containers) {
    for (const auto& [name, q] : c.requests) {
      requests[name] = Quantity::FromMilli(requests[name].MilliValue() + q.MilliValue());
    }
  }
  std::string s = Plural(spec.containers.size(), "container");
  if (!requests.empty()) s += ", requests " + Resources(requests);
  if (!spec.node_name.empty()) s += ", node " + spec.node_name;
  if (!spec.priority_class_name.empty()) s += ", priority class " + spec.priority_class_name;
  size_t claims = 0;
  for (const auto& v : spec.volumes) claims += v.claim_name.has_value();
  if (claims) s += ", " + Plural(claims, "claim");
  return s;
}

std::string Name(const ObjectMeta& m) {
  return m.namespace_.empty() ? m.name : m.namespace_ + "/" + m.name;
}

// "3 completions, 2 at a time of 1 container, ..., Never, backoffLimit 6".
std::string JobSummary(const JobSpec& spec) {
  std::string s = spec.completions ? Plural(static_cast<size_t>(*spec.completions), "completion")
                                   : std::string("until one succeeds");
  s += ", " + std::to_string(spec.parallelism) + " at a time of " + PodSpecSummary(spec.pod_template.spec) + ", " +
       spec.pod_template.spec.restart_policy + ", backoffLimit " + std::to_string(spec.backoff_limit);
  if (spec.completion_mode == "Indexed") s += ", Indexed";
  if (spec.active_deadline_seconds) s += ", deadline " + std::to_string(*spec.active_deadline_seconds) + "s";
  if (spec.suspend) s += ", suspended";
  return s;
}

}  // namespace

std::string SourcePos::ToString() const {
  if (file.empty()) return "";
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

bool Matches(const LabelSelector& selector, const Labels& labels) {
  for (const auto& [k, v] : selector.match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const auto& r : selector.match_expressions) {
    auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const bool in =
        has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    if ((r.op == "In" && !in) || (r.op == "NotIn" && in) || (r.op == "Exists" && !has) ||
        (r.op == "DoesNotExist" && has)) {
      return false;
    }
  }
  return true;
}

std::string StatefulClaimName(const PersistentVolumeClaim& tmpl, const std::string& set, int64_t ordinal) {
  return tmpl.meta.name + "-" + set + "-" + std::to_string(ordinal);
}

PersistentVolumeClaim StatefulClaim(const StatefulSet& set, const PersistentVolumeClaim& tmpl, int64_t ordinal) {
  PersistentVolumeClaim claim = tmpl;
  claim.meta.namespace_ = set.meta.namespace_;
  claim.meta.name = StatefulClaimName(tmpl, set.meta.name, ordinal);
  claim.meta.pos = set.meta.pos;
  for (const auto& [k, v] : set.selector.match_labels) claim.meta.labels[k] = v;
  return claim;
}

Pod StatefulPod(const StatefulSet& set, int64_t ordinal) {
  Pod pod;
  pod.meta.name = set.meta.name + "-" + std::to_string(ordinal);
  pod.meta.namespace_ = set.meta.namespace_;
  pod.meta.labels = set.pod_template.labels;
  pod.meta.labels["statefulset.kubernetes.io/pod-name"] = pod.meta.name;
  pod.meta.labels["apps.kubernetes.io/pod-index"] = std::to_string(ordinal);
  pod.meta.annotations = set.pod_template.annotations;
  pod.meta.pos = set.meta.pos;
  pod.spec = set.pod_template.spec;
  for (const PersistentVolumeClaim& t : set.volume_claim_templates) {
    auto v = std::find_if(pod.spec.volumes.begin(), pod.spec.volumes.end(),
                          [&](const PodVolume& pv) { return pv.name == t.meta.name; });
    if (v == pod.spec.volumes.end()) v = pod.spec.volumes.insert(pod.spec.volumes.end(), PodVolume{t.meta.name, {}, false});
    v->claim_name = StatefulClaimName(t, set.meta.name, ordinal);
  }
  return pod;
}

std::vector<Pod> StatefulPods(const StatefulSet& set) {
  std::vector<Pod> pods;
  for (int64_t i = set.ordinals_start; i < set.ordinals_start + std::max(set.replicas, 0); ++i)
    pods.push_back(StatefulPod(set, i));
  return pods;
}

std::vector<PersistentVolumeClaim> StatefulClaims(const StatefulSet& set) {
  std::vector<PersistentVolumeClaim> claims;
  for (int64_t i = set.ordinals_start; i < set.ordinals_start + std::max(set.replicas, 0); ++i)
    for (const PersistentVolumeClaim& t : set.volume_claim_templates) claims.push_back(StatefulClaim(set, t, i));
  return claims;
}

std::vector<Pod> ReplicaPods(const Deployment& d) {
  std::vector<Pod> pods;
  pods.reserve(static_cast<size_t>(std::max(d.replicas, 0)));
  for (int32_t i = 0; i < d.replicas; ++i) {
    Pod pod;
    pod.meta.name = d.meta.name + "-" + std::to_string(i);
    pod.meta.namespace_ = d.meta.namespace_;
    pod.meta.labels = d.pod_template.labels;
    pod.meta.annotations = d.pod_template.annotations;
    pod.meta.pos = d.meta.pos;
    pod.spec = d.pod_template.spec;
    pods.push_back(std::move(pod));
  }
  return pods;
}

std::vector<Pod> JobPods(const Job& job) {
  std::vector<Pod> pods;
  int32_t count = std::max(job.spec.parallelism, 0);
  if (job.spec.completions) count = std::min(count, std::max(*job.spec.completions, 0));
  if (job.spec.suspend) count = 0;
  for (int32_t i = 0; i < count; ++i) {
    Pod pod;
    pod.meta.name = job.meta.name + "-" + std::to_string(i);
    pod.meta.namespace_ = job.meta.namespace_;
    pod.meta.labels = job.spec.pod_template.labels;
    pod.meta.labels["job-name"] = job.meta.name;
    pod.meta.labels["batch.kubernetes.io/job-name"] = job.meta.name;
    if (job.spec.completion_mode == "Indexed")
      pod.meta.labels["batch.kubernetes.io/job-completion-index"] = std::to_string(i);
    pod.meta.annotations = job.spec.pod_template.annotations;
    pod.meta.pos = job.meta.pos;
    pod.spec = job.spec.pod_template.spec;
    pods.push_back(std::move(pod));
  }
  return pods;
}

std::string KindOf(const Object& object) {
  return std::visit(
      Overloaded{[](const Namespace&) { return std::string("Namespace"); },
                 [](const ServiceAccount&) { return std::string("ServiceAccount"); },
                 [](const Node&) { return std::string("Node"); },
                 [](const Pod&) { return std::string("Pod"); },
                 [](const Service&) { return std::string("Service"); },
                 [](const Deployment&) { return std::string("Deployment"); },
                 [](const DaemonSet&) { return std::string("DaemonSet"); },
                 [](const StatefulSet&) { return std::string("StatefulSet"); },
                 [](const Job&) { return std::string("Job"); },
                 [](const CronJob&) { return std::string("CronJob"); },
                 [](const NetworkPolicy&) { return std::string("NetworkPolicy"); },
                 [](const CalicoPolicy& p) {
                   return std::string(p.global ? "GlobalNetworkPolicy" : "NetworkPolicy");
                 },
                 [](const Tier&) { return std::string("Tier"); },
                 [](const NetworkSet& n) {
                   return std::string(n.global ? "GlobalNetworkSet" : "NetworkSet");
                 },
                 [](const StorageClass&) { return std::string("StorageClass"); },
                 [](const PersistentVolumeClaim&) { return std::string("PersistentVolumeClaim"); },
                 [](const VolumeSnapshot&) { return std::string("VolumeSnapshot"); },
                 [](const PriorityClass&) { return std::string("PriorityClass"); },
                 [](const SchedulePolicy&) { return std::string("SchedulePolicy"); },
                 [](const KubeSchedulerConfiguration&) {
                   return std::string("KubeSchedulerConfiguration");
                 }},
      object);
}

const ObjectMeta& MetaOf(const Object& object) {
  return std::visit([](const auto& o) -> const ObjectMeta& { return o.meta; }, object);
}

std::string Summarize(const Object& object) {
  const ObjectMeta& meta = MetaOf(object);
  std::string head = KindOf(object);
  if (const auto* p = std::get_if<CalicoPolicy>(&object); p && !p->global) {
    head = "NetworkPolicy (projectcalico.org/v3)";
  } else if (std::holds_alternative<NetworkPolicy>(object)) {
    head = "NetworkPolicy (networking.k8s.io/v1)";
  }
  head += (meta.name.empty() ? "" : " " + Name(meta)) + ": ";
  const std::string body = std::visit(
      Overloaded{
          [](const Namespace& n) { return Plural(n.meta.labels.size(), "label"); },
          [](const ServiceAccount& a) { return Plural(a.meta.labels.size(), "label"); },
          [](const Node& n) {
            std::string s = "allocatable " + Resources(n.allocatable);
            if (auto zone = n.meta.labels.find("topology.kubernetes.io/zone");
                zone != n.meta.labels.end()) {
              s += ", zone " + zone->second;
            }
            if (!n.taints.empty()) s += ", " + Plural(n.taints.size(), "taint");
            if (n.unschedulable) s += ", unschedulable";
            return s;
          },
          [](const Pod& p) { return PodSpecSummary(p.spec); },
          [](const Service& svc) {
            std::string s = svc.headless() ? "headless" : svc.type;
            if (!svc.cluster_ip.empty() && !svc.headless()) s += " " + svc.cluster_ip;
            std::string ports;
            for (const ServicePort& p : svc.ports) {
              ports += (ports.empty() ? "" : ", ") + std::to_string(p.port) + "/" + p.protocol;
              if (p.target_port && p.target_port->ToString() != std::to_string(p.port))
                ports += "->" + p.target_port->ToString();
              if (p.node_port) ports += " node port " + std::to_string(p.node_port);
            }
            if (!ports.empty()) s += ", ports " + ports;
            if (svc.selector.empty()) return s + ", no selector";
            std::string sel;
            for (const auto& [k, v] : svc.selector) sel += (sel.empty() ? "" : ",") + k + "=" + v;
            return s + ", selector " + sel;
          },
          [](const Deployment& d) {
            return Plural(static_cast<size_t>(d.replicas), "replica") + " of " + PodSpecSummary(d.pod_template.spec) +
                   ", " + d.strategy;
          },
          [](const DaemonSet& d) {
            return "on every node it fits, " + PodSpecSummary(d.pod_template.spec) + ", " + d.update_strategy;
          },
          [](const StatefulSet& s) {
            return Plural(static_cast<size_t>(s.replicas), "replica") + " of " + PodSpecSummary(s.pod_template.spec) +
                   (s.volume_claim_templates.empty() ? "" : ", " + Plural(s.volume_claim_templates.size(), "claim template")) +
                   ", " + s.pod_management_policy + ", " + s.update_strategy;
          },
          [](const Job& j) { return JobSummary(j.spec); },
          [](const CronJob& c) {
            return "\"" + c.schedule + "\" (" + c.concurrency_policy + (c.suspend ? ", suspended" : "") + "), " +
                   JobSummary(c.job_template);
          },
          [](const NetworkPolicy& p) {
            std::string types;
            for (const auto& t : p.policy_types) types += (types.empty() ? "" : "+") + t;
            return types + ", " + Plural(p.ingress.size(), "ingress rule") + ", " +
                   Plural(p.egress.size(), "egress rule");
          },
          [](const CalicoPolicy& p) {
            std::ostringstream s;
            s << "tier " << p.tier << ", order ";
            if (p.order) s << *p.order; else s << "none";
            s << ", selector \"" << (p.selector.empty() ? "all()" : p.selector.expression) << "\", " << Plural(p.ingress.size(), "ingress rule")
              << ", " << Plural(p.egress.size(), "egress rule");
            return s.str();
          },
          [](const Tier& t) {
            std::ostringstream s;
            s << "order ";
            if (t.order) s << *t.order; else s << "none";
            s << ", default action " << t.default_action;
            return s.str();
          },
          [](const NetworkSet& n) {
            std::string nets;
            for (const auto& net : n.nets) nets += (nets.empty() ? "" : ", ") + net;
            return Plural(n.nets.size(), "net") + (nets.empty() ? "" : ": " + nets);
          },
          [](const StorageClass& sc) {
            std::string s = sc.provisioner;
            if (sc.portworx) {
              const PortworxParameters& px = *sc.portworx;
              s += ", repl " + std::to_string(px.repl);
              if (px.sharedv4) s += ", sharedv4";
              if (!px.io_profile.empty()) s += ", io_profile " + px.io_profile;
              s += ", priority_io " + px.priority_io;
              if (!px.snapshot_schedules.empty()) {
                s += ", " + Plural(px.snapshot_schedules.size(), "snapshot schedule");
              }
              if (!px.stork_schedules.empty()) {
                const size_t cloud = static_cast<size_t>(
                    std::count_if(px.stork_schedules.begin(), px.stork_schedules.end(),
                                  [](const StorkSchedule& schedule) { return schedule.cloud; }));
                s += ", " + Plural(px.stork_schedules.size(), "Stork schedule");
                if (cloud > 0) s += " (" + std::to_string(cloud) + " to the cloud)";
              }
            }
            if (sc.reclaim_policy != "Delete") s += ", reclaim " + sc.reclaim_policy;
            if (sc.volume_binding_mode != "Immediate") s += ", " + sc.volume_binding_mode;
            return s;
          },
          [](const PersistentVolumeClaim& c) {
            std::string modes;
            for (const auto& m : c.access_modes) modes += (modes.empty() ? "" : ",") + m;
            return (c.storage ? c.storage->ToString() : std::string("?")) + " " + modes +
                   ", class " +
                   (!c.storage_class_name           ? std::string("(default)")
                    : c.storage_class_name->empty() ? std::string("(none)")
                                                    : *c.storage_class_name) +
                   (c.data_source_name.empty()
                        ? ""
                        : ", from " + c.data_source_kind + " " + c.data_source_name);
          },
          [](const VolumeSnapshot& v) {
            return "of " + (v.source_pvc.empty() ? "content " + v.source_content
                                                 : "claim " + v.source_pvc);
          },
          [](const PriorityClass& p) {
            return "value " + std::to_string(p.value) + (p.global_default ? ", global default" : "");
          },
          [](const SchedulePolicy& p) {
            // Retention shown as it takes effect: 0 is Stork's default.
            const auto keep = [](int32_t retain, int32_t stork_default) {
              return " keep " + std::to_string(retain > 0 ? retain : stork_default);
            };
            std::vector<std::string> rules;
            if (p.interval) {
              rules.push_back("interval " + std::to_string(p.interval->minutes) + "m" +
                              keep(p.interval->retain, 10));
            }
            if (p.daily) {
              rules.push_back("daily " + p.daily->time.text + keep(p.daily->retain, 30) +
                              (p.daily->force_full_snapshot_day.empty()
                                   ? ""
                                   : " (full on " + p.daily->force_full_snapshot_day + ")"));
            }
            if (p.weekly) {
              rules.push_back("weekly " + p.weekly->day + " " + p.weekly->time.text +
                              keep(p.weekly->retain, 7));
            }
            if (p.monthly) {
              rules.push_back("monthly on day " + std::to_string(p.monthly->date) + " " +
                              p.monthly->time.text + keep(p.monthly->retain, 12));
            }
            std::string s;
            for (const std::string& rule : rules) s += (s.empty() ? "" : ", ") + rule;
            return s;
          },
          [](const KubeSchedulerConfiguration& c) {
            std::string names;
            for (const auto& p : c.profiles) names += (names.empty() ? "" : ", ") + p.scheduler_name;
            return Plural(c.profiles.size(), "profile") + (names.empty() ? "" : ": " + names);
          }},
      object);
  return head + body;
}

}  // namespace edgebed::model
