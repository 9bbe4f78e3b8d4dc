#include "core/cluster/server.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "core/base/ip.h"
#include "core/cluster/auth.h"
#include "core/cluster/policy_view.h"
#include "core/cluster/protocol.h"
#include "core/cluster/records.h"
#include "core/cluster/sync.h"
#include "core/model/cron.h"
#include "core/model/emit.h"
#include "core/policy/inventory.h"
#include "core/sched/daemon.h"
#include "core/sched/predicates.h"
#include "core/sched/scheduler.h"
#include "core/storage/provisioner.h"
#include "core/storage/schedule.h"

namespace edgebed::cluster {
namespace {

using model::Object;

constexpr const char* kUnreachableTaint = "node.kubernetes.io/unreachable";
constexpr const char* kOwnerAnnotation = "edgebed.io/owned-by";
constexpr const char* kTemplateHashLabel = "pod-template-hash";
constexpr const char* kCompletionIndex = "batch.kubernetes.io/job-completion-index";
using sched::kRevisionHashLabel;  // a DaemonSet's and a StatefulSet's pods

// The kind as a key segment: Calico's namespaced policy is told apart from
// Kubernetes' by its group, as the API server does.
std::string KeyKind(const Object& object) {
  if (auto* p = std::get_if<model::CalicoPolicy>(&object); p && !p->global) return "CalicoNetworkPolicy";
  return model::KindOf(object);
}

// "projectcalico.org/NetworkPolicy" and the like, as a user names a kind.
std::string KeyKindOf(const std::string& kind) {
  if (kind == "projectcalico.org/NetworkPolicy" || kind == "CalicoNetworkPolicy") return "CalicoNetworkPolicy";
  return kind;
}

std::string ObjectKey(const std::string& kind, const std::string& ns, const std::string& name) {
  return "o/" + kind + "/" + (ns.empty() ? "" : ns + "/") + name;
}

std::string ObjectKey(const Object& object) {
  const model::ObjectMeta& m = model::MetaOf(object);
  return ObjectKey(KeyKind(object), m.namespace_, m.name);
}

std::string PodKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

Bytes ToBytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string ToString(const Bytes& b) { return std::string(b.begin(), b.end()); }

// The toleration a pod has for the unreachable NoExecute taint: seconds, or
// nullopt for "forever". Pods that say nothing get the admission default.
std::optional<int64_t> UnreachableToleration(const model::Pod& pod, int64_t default_seconds) {
  for (const model::Toleration& t : pod.spec.tolerations) {
    const bool key = t.key.empty() ? t.op == "Exists" : t.key == kUnreachableTaint;
    const bool effect = t.effect.empty() || t.effect == "NoExecute";
    if (key && effect) return t.toleration_seconds;
  }
  return default_seconds;
}

policy::Endpoint EndpointOf(const model::Pod& pod) {
  policy::Endpoint e;
  e.namespace_ = pod.meta.namespace_;
  e.name = pod.meta.name;
  e.labels = pod.meta.labels;
  e.service_account = pod.spec.service_account_name;
  for (const std::string& ip : pod.pod_ips)
    if (auto v4 = ParseIpv4(ip)) e.ips.push_back(*v4);
  for (const model::Container& c : pod.spec.containers)
    for (const model::ContainerPort& p : c.ports)
      if (!p.name.empty())
        if (auto proto = policy::ProtocolNumber(p.protocol))
          e.ports.push_back({p.name, *proto, static_cast<uint16_t>(p.container_port)});
  return e;
}

bool Equal(const Object& a, const Object& b) { return model::ToYaml(a) == model::ToYaml(b); }

}  // namespace

class Server::Impl {
 public:
  Impl(Env& env, ServerOptions options)
      : env_(env),
        o_(std::move(options)),
        epoch_(env.random().Next() | 1),
        scheduler_(std::make_unique<sched::Scheduler>(o_.scheduler, &provisioner_, env.random().Fork(1))) {
    if (auto token = ParseToken(o_.token); token.ok()) {
      key_ = DeriveClusterKey(token->secret);
      token_ok_ = !token->secret.empty();
    }
    std::string why;
    cidr_ok_ = ParseCidr(o_.cluster_cidr, &cluster_cidr_, &why) && cluster_cidr_.family == 4 &&
               o_.node_cidr_prefix >= cluster_cidr_.prefix && o_.node_cidr_prefix <= 30;
    services_ok_ = ParseCidr(o_.service_cidr, &service_range_, &why) && service_range_.family == 4 &&
                   service_range_.prefix >= 8 && service_range_.prefix <= 28 && o_.node_port_min > 0 &&
                   o_.node_port_min <= o_.node_port_max && o_.node_port_max <= 65535;
  }

  ~Impl() {
    env_.Unlisten(kServerPort);
    for (TimerId t : {monitor_timer_, resend_timer_, reconcile_timer_, backoff_timer_, wake_timer_})
      if (t != kNoTimer) env_.Cancel(t);
  }

  // ---- Start ----------------------------------------------------------------

  void Start(std::function<void(Status)> done) {
    if (!token_ok_) return Later(done, InvalidArgument("the server needs a cluster token (ServerOptions::token)"));
    if (!cidr_ok_)
      return Later(done, InvalidArgument("cluster CIDR " + o_.cluster_cidr + " with node prefix /" +
                                         std::to_string(o_.node_cidr_prefix) +
                                         " is not an IPv4 range split into node ranges of /30 or larger"));
    if (!services_ok_)
      return Later(done, InvalidArgument("service CIDR " + o_.service_cidr + " with node ports " +
                                         std::to_string(o_.node_port_min) + "-" + std::to_string(o_.node_port_max) +
                                         " is not an IPv4 range of /8 to /28 and a port range within 1-65535"));
    datastore_ = std::make_unique<Datastore>(env_, NewSqliteStore(), o_.datastore);
    datastore_->Open([this, done](Status s) {
      if (!s.ok()) return done(s);
      volumes_ = std::make_unique<storage::VolumeController>(env_, o_.replication);
      volumes_->Open([this, done](Status vs) {
        if (!vs.ok()) env_.RecordEvent("cluster.volume_state_lost", vs.ToString());
        storage::SnapshotScheduler::Options so;
        so.wall_epoch = o_.wall_epoch;
        so.on_ready = [this](const std::string& volume, const std::string& schedule,
                             const storage::SnapshotRecord& snap) { OnScheduledSnapshot(volume, schedule, snap); };
        snapshot_schedules_ = std::make_unique<storage::SnapshotScheduler>(env_, *volumes_, std::move(so));
        Serve(done);
      });
    });
  }

  void Serve(const std::function<void(Status)>& done) {
    Recover();
    Status listen = env_.Listen(kServerPort, [this](NodeId from, ByteView m) { OnMessage(from, m); });
    if (!listen.ok()) return done(listen);
    serving_ = true;
    monitor_timer_ = env_.Schedule(o_.node_monitor_period, [this] { MonitorNodes(); });
    resend_timer_ = env_.Schedule(o_.resend, [this] { Resend(); });
    env_.RecordEvent("cluster.server_started", "revision=" + std::to_string(datastore_->durable_revision()) +
                                                  " objects=" + std::to_string(objects_.size()) +
                                                  " pods=" + std::to_string(pods_.size()));
    Kick();
    done(Status::Ok());
  }

  // Rebuilds every cache from the datastore, in the order objects depend on
  // each other, without writing anything.
  void Recover() {
    recovering_ = true;
    const Store& store = datastore_->store();
    std::map<std::string, int> rank = {
        {"Namespace", 0}, {"PriorityClass", 0}, {"Tier", 0}, {"ServiceAccount", 1}, {"Node", 1},
        {"StorageClass", 2}, {"PersistentVolumeClaim", 3}, {"Deployment", 4}, {"DaemonSet", 4}, {"StatefulSet", 4}, {"Pod", 5}};
    struct Recovered {
      int rank;
      Object object;
      std::string manifest;
    };
    std::vector<Recovered> objects;
    for (const Record& r : store.List("o/")) {
      model::LoadResult loaded = model::LoadManifests(ToString(r.value), r.key);
      if (!loaded.ok() || loaded.objects.size() != 1) {
        env_.RecordEvent("cluster.recover_skipped", "key=" + r.key);
        continue;
      }
      Object& o = loaded.objects.front();
      auto it = rank.find(KeyKind(o));
      objects.push_back(Recovered{it == rank.end() ? 4 : it->second, std::move(o), ToString(r.value)});
      revisions_[r.key] = r.mod_revision;
    }
    std::stable_sort(objects.begin(), objects.end(),
                     [](const Recovered& a, const Recovered& b) { return a.rank < b.rank; });
    for (const Record& r : store.List("s/Node/")) {
      NodeStatus status;
      if (Decode(r.value, &status).ok()) NoteStatus(r.key.substr(7), status);
    }
    for (const Record& r : store.List("s/Volume/")) {
      VolumePlacementRecord placement;
      if (Decode(r.value, &placement).ok()) placements_[r.key.substr(9)] = placement;
    }
    for (const Record& r : store.List("s/Pod/")) {
      PodReport report;
      if (!Decode(r.value, &report).ok()) continue;
      reports_[r.key.substr(6)] = report;
      if (Terminal(report.phase)) terminal_.insert(r.key.substr(6));
    }
    for (const Record& r : store.List("s/Job/")) {
      JobStatusRecord status;
      if (Decode(r.value, &status).ok()) job_status_[r.key.substr(2)] = status;
    }
    for (const Record& r : store.List("s/CronJob/")) {
      CronJobStatusRecord status;
      if (Decode(r.value, &status).ok()) cron_status_[r.key.substr(2)] = status;
    }
    for (const Record& r : store.List("s/CloudBackup/")) {
      BackupReport report;
      if (!Decode(r.value, &report).ok()) continue;
      CloudState& c = cloud_[r.key.substr(14)];
      c.newest_ready_ns = report.snapshot_ready_ns;
      c.newest_snapshot = report.snapshot;
    }
    for (const Recovered& r : objects) Take(r.object, r.manifest);
    for (auto it = terminal_.begin(); it != terminal_.end();) it = pods_.count(*it) ? std::next(it) : terminal_.erase(it);
    for (const auto& [key, report] : reports_)
      if (report.phase == PodPhase::kRunning && pods_.count(key)) {
        running_.insert(key);
        pods_[key].startup_recorded = true;  // it started in an earlier life of the server
      }
    // Every node gets a full grace period from now: the server cannot tell how
    // long it was away.
    for (auto& [name, node] : nodes_) {
      node.last_renew = env_.now();
      if (node.status.unreachable_taint) node.not_ready_since = env_.now();
    }
    recovering_ = false;
    policy_.Compute();
    for (auto& [name, node] : nodes_) RefreshPolicyView(name);
  }

  // ---- API --------------------------------------------------------------------

  void Apply(const std::string& yaml, const std::string& source, std::function<void(ApplyResult)> done) {
    ApplyResult result;
    if (!serving_) {
      result.status = Unavailable("the server is not serving yet (it is recovering its datastore)");
      return Later(done, result);
    }
    model::LoadResult loaded = model::LoadManifests(yaml, source);
    result.errors = loaded.errors;
    result.warnings = loaded.warnings;
    for (Object& object : loaded.objects) {
      std::string what = KeyKind(object) + " " + Display(object);
      Status s = Admit(object);
      if (s.ok()) s = ApplyObject(object, &what);
      if (!s.ok()) {
        const model::ObjectMeta& m = model::MetaOf(object);
        result.errors.push_back(model::Diagnostic{m.pos, "", s.ToString()});
        continue;
      }
      result.applied.push_back(what);
    }
    if (!result.errors.empty())
      result.status = InvalidArgument(result.errors.front().ToString() +
                                      (result.errors.size() > 1 ? " (and " + std::to_string(result.errors.size() - 1) +
                                                                      " more)"
                                                                : ""));
    if (!result.applied.empty()) applies_.push_back(env_.now());
    Flush();
    Kick();
    datastore_->AfterDurable([this, result, done]() mutable {
      result.revision = datastore_->durable_revision();
      done(result);
    });
  }

  void Delete(const std::string& kind, const std::string& ns, const std::string& name,
              std::function<void(Status)> done) {
    if (!serving_) return Later(done, Unavailable("the server is not serving yet"));
    const std::string key = ObjectKey(KeyKindOf(kind), ns, name);
    auto it = objects_.find(key);
    if (it == objects_.end()) {
      std::string pod = PodKey(ns, name);
      if (KeyKindOf(kind) == "Pod" && pods_.count(pod)) {
        RemovePod(pod, "deleted");
      } else {
        return Later(done, NotFound(kind + " " + (ns.empty() ? "" : ns + "/") + name + " does not exist"));
      }
    } else {
      if (Status s = RemoveObject(key); !s.ok()) return Later(done, s);
    }
    Flush();
    Kick();
    datastore_->AfterDurable([done] { done(Status::Ok()); });
  }

  std::optional<StoredObject> Get(const std::string& kind, const std::string& ns, const std::string& name) const {
    const std::string key = ObjectKey(KeyKindOf(kind), ns, name);
    if (!datastore_) return std::nullopt;
    auto r = datastore_->store().Get(key);
    if (!r || r->mod_revision > datastore_->durable_revision()) return std::nullopt;
    return StoredObject{KeyKindOf(kind), ns, name, r->mod_revision, ToString(r->value)};
  }

  std::vector<StoredObject> List(const std::string& kind, const std::string& ns) const {
    std::vector<StoredObject> out;
    if (!datastore_) return out;
    const std::string k = KeyKindOf(kind);
    for (const Record& r : datastore_->store().List("o/" + k + "/" + (ns.empty() ? "" : ns + "/"))) {
      if (r.mod_revision > datastore_->durable_revision()) continue;
      std::string rest = r.key.substr(3 + k.size());
      size_t slash = rest.find('/');
      StoredObject o{k, "", rest, r.mod_revision, ToString(r.value)};
      if (slash != std::string::npos) {
        o.namespace_ = rest.substr(0, slash);
        o.name = rest.substr(slash + 1);
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  StatusOr<uint64_t> Watch(const std::string& prefix, Revision from, std::function<void(const WatchEvent&)> fn) {
    if (!datastore_) return Unavailable("the server is not serving yet");
    if (from < datastore_->store().compacted())
      return Status(StatusCode::kOutOfRange, "history before revision " +
                                                        std::to_string(datastore_->store().compacted()) +
                                                        " was compacted; list again, then watch from its revision");
    uint64_t id = next_watch_++;
    watches_[id] = WatchState{prefix, from, std::move(fn)};
    env_.Schedule(Duration::zero(), [this] { DeliverWatches(); });
    return id;
  }

  void Unwatch(uint64_t id) { watches_.erase(id); }

  Revision revision() const { return datastore_ ? datastore_->durable_revision() : 0; }

  std::vector<PodInfo> Pods() const {
    std::vector<PodInfo> out;
    for (const auto& [key, p] : pods_) out.push_back(InfoOf(p));
    return out;
  }

  std::optional<PodInfo> FindPod(const std::string& ns, const std::string& name) const {
    auto it = pods_.find(PodKey(ns, name));
    if (it == pods_.end()) return std::nullopt;
    return InfoOf(it->second);
  }

  std::vector<NodeInfo> Nodes() const {
    std::vector<NodeInfo> out;
    for (const auto& [name, n] : nodes_)
      out.push_back(NodeInfo{name, n.status.pod_cidr, n.id, n.status.ready, n.session != 0,
                             n.status.unreachable_taint});
    return out;
  }

  std::vector<JobInfo> Jobs() const {
    std::vector<JobInfo> out;
    const std::string prefix = "o/Job/";
    for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      const auto& job = std::get<model::Job>(it->second);
      const std::string owner = it->first.substr(2);
      JobInfo info;
      info.namespace_ = job.meta.namespace_;
      info.name = job.meta.name;
      auto cron = job.meta.annotations.find(kOwnerAnnotation);
      if (cron != job.meta.annotations.end()) info.owner = cron->second;
      for (const std::string& k : OwnedBy(owner)) {
        if (terminal_.count(k)) continue;
        ++info.active;
        auto r = reports_.find(k);
        if (r == reports_.end()) continue;
        info.ready += r->second.phase == PodPhase::kRunning && r->second.reason != "CrashLoopBackOff";
        info.restarts += r->second.restarts;
      }
      auto st = job_status_.find(owner);
      if (st != job_status_.end()) {
        const JobStatusRecord& s = st->second;
        info.succeeded = s.succeeded;
        info.failed = s.failed;
        info.condition = s.condition;
        info.reason = s.reason;
        info.message = s.message;
        info.completed_indexes = s.completed_indexes;
        info.start_ns = s.start_ns;
        (s.condition == "Complete" ? info.completion_ns : info.failed_ns) = s.finish_ns;
      }
      if (info.condition.empty() && job.spec.suspend) info.condition = "Suspended";
      out.push_back(std::move(info));
    }
    return out;
  }

  std::vector<CronJobInfo> CronJobs() const {
    std::vector<CronJobInfo> out;
    const std::string prefix = "o/CronJob/";
    for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      const auto& cj = std::get<model::CronJob>(it->second);
      const std::string owner = it->first.substr(2);
      CronJobInfo info;
      info.namespace_ = cj.meta.namespace_;
      info.name = cj.meta.name;
      if (auto jobs = cron_jobs_.find(owner); jobs != cron_jobs_.end())
        for (const std::string& job : jobs->second) {
          auto st = job_status_.find(job);
          if (st == job_status_.end() || st->second.condition.empty()) info.active.push_back(job.substr(job.rfind('/') + 1));
        }
      if (auto st = cron_status_.find(owner); st != cron_status_.end()) {
        info.last_schedule_unix = st->second.last_schedule_unix;
        info.last_successful_unix = st->second.last_successful_unix;
      }
      model::CronSchedule schedule;
      std::string why;
      if (!cj.suspend && model::ParseCron(cj.schedule, &schedule, &why)) info.next_schedule_unix = schedule.Next(WallNow());
      out.push_back(std::move(info));
    }
    return out;
  }

  const ServerStats& stats() const { return stats_; }
  const storage::VolumeController& volumes() const { return *volumes_; }
  std::vector<CloudBackupInfo> CloudBackups() const {
    std::vector<CloudBackupInfo> out;
    for (const auto& [volume, c] : cloud_)
      if (c.since_ns >= 0)
        out.push_back(CloudBackupInfo{volume, c.since_ns, c.newest_ready_ns, c.newest_snapshot, c.backups, c.failures,
                                      c.pending});
    return out;
  }
  bool serving() const { return serving_; }

 private:
  struct Template {
    model::Pod pod;
    std::string hash;
  };
  struct PodEntry {
    model::Pod pod;
    std::string manifest;  // the pod as stored and as its node's view carries it
    std::string owner;  // "Deployment/<name>", or empty
    Time created{};
    bool startup_recorded = false;
    // Terminated (or recovered terminated): out of the scheduler, its node's
    // view and the policy world, its address given back.
    bool released = false;
  };
  struct NodeEntry {
    model::Node node;
    bool registered = false;  // a Node object exists
    NodeStatus status;
    NodeId id = kNoNode;
    // Where a real node's agent is reached (its join's annotations); empty in simulation.
    std::string address;
    uint16_t agent_port = 0;
    // The session.
    uint64_t session = 0;
    Key session_key{};
    uint64_t send_counter = 0, recv_counter = 0;
    SyncReceiver reports;
    Time last_renew{};
    Time not_ready_since{};
    Time last_sent{};
    // The node's view and how much of it is durable (may be sent).
    std::unique_ptr<SyncSender> view;
    uint64_t durable_seq = 0;
    std::set<uint32_t> used_ips;
  };
  // The cloud backups of a volume with a cloud schedule.
  struct CloudState {
    BackupRequest wanted;       // the newest snapshot to back up
    bool pending = false;       // asked for, not reported yet
    std::string node;           // whose view holds the request
    int64_t since_ns = -1;      // when its cloud schedule began
    int64_t newest_ready_ns = -1;
    std::string newest_snapshot, last_reported;
    uint64_t backups = 0, failures = 0;
  };
  struct WatchState {
    std::string prefix;
    Revision position = 0;
    std::function<void(const WatchEvent&)> fn;
  };
  struct Challenge {
    std::string node;
    Nonce agent_nonce{};
    Time expires{};
  };

  template <typename T>
  void Later(std::function<void(T)> fn, T value) {
    env_.Schedule(Duration::zero(), [fn = std::move(fn), value = std::move(value)] { fn(value); });
  }

  static std::string Display(const Object& o) {
    const model::ObjectMeta& m = model::MetaOf(o);
    return m.namespace_.empty() ? m.name : m.namespace_ + "/" + m.name;
  }

  PodInfo InfoOf(const PodEntry& p) const {
    PodInfo info;
    info.namespace_ = p.pod.meta.namespace_;
    info.name = p.pod.meta.name;
    info.labels = p.pod.meta.labels;
    info.node = p.pod.spec.node_name;
    info.ip = p.pod.pod_ips.empty() ? "" : p.pod.pod_ips.front();
    info.owner = p.owner;
    auto r = reports_.find(PodKey(info.namespace_, info.name));
    info.phase = r == reports_.end() ? "Pending" : PodPhaseName(r->second.phase);
    info.reason = r == reports_.end() ? (info.node.empty() ? "Unschedulable" : "ContainerCreating") : r->second.reason;
    if (r != reports_.end()) info.exit_code = r->second.exit_code;
    if (auto it = unschedulable_.find(PodKey(info.namespace_, info.name));
        it != unschedulable_.end() && info.node.empty())
      info.reason = it->second;
    auto rv = revisions_.find(ObjectKey("Pod", info.namespace_, info.name));
    if (rv != revisions_.end()) info.resource_version = rv->second;
    return info;
  }

  NodeEntry& NodeNamed(const std::string& name) {
    NodeEntry& n = nodes_[name];
    if (!n.view) {
      n.view = std::make_unique<SyncSender>(epoch_);
      for (const auto& [key, value] : service_values_) n.view->Put(key, value);
    }
    return n;
  }

  // ---- Changes: caches first, then the datastore ------------------------------

  // Checks what the API server's validation and admission would before an
  // object is taken.
  // A pod's spec cannot change once it exists, as upstream's validation
  // says; its binding and address are kept from what the cluster gave it.
  Status Admit(Object& object) {
    if (auto* svc = std::get_if<model::Service>(&object)) return AdmitService(*svc);
    if (auto* job = std::get_if<model::Job>(&object)) return AdmitJob(*job);
    auto* pod = std::get_if<model::Pod>(&object);
    if (!pod) return Status::Ok();
    auto it = pods_.find(PodKey(pod->meta.namespace_, pod->meta.name));
    if (it == pods_.end()) return AdmitPriority(*pod);
    const model::Pod& old = it->second.pod;
    if (pod->spec.node_name.empty()) pod->spec.node_name = old.spec.node_name;
    if (pod->pod_ips.empty()) pod->pod_ips = old.pod_ips;
    if (!pod->spec.priority) pod->spec.priority = old.spec.priority;
    if (pod->spec.preemption_policy.empty()) pod->spec.preemption_policy = old.spec.preemption_policy;
    for (const auto& [k, v] : old.meta.annotations)
      if (k == kOwnerAnnotation) pod->meta.annotations[k] = v;
    model::Pod a = *pod, b = old;
    a.meta = b.meta = {};
    if (!Equal(Object(a), Object(b)))
      return InvalidArgument("pod " + Display(object) +
                             ": a pod's spec cannot be changed once it exists (only its labels and annotations); "
                             "delete the pod and create it again, or manage it with a Deployment");
    return Status::Ok();
  }

  // A Service's address and node ports, as the API server allocates them:
  // kept from the service as it stands, taken as asked when free and in
  // range, else drawn at random (addresses from the upper part of the
  // range, the lower being left for services that ask for one, as
  // upstream does).
  Status AdmitService(model::Service& svc) {
    const std::string name = svc.meta.namespace_ + "/" + svc.meta.name;
    const model::Service* old = nullptr;
    std::set<uint32_t> ips;
    std::set<std::pair<int32_t, std::string>> node_ports;
    const std::string prefix = "o/Service/";
    for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      const auto& other = std::get<model::Service>(it->second);
      if (other.meta.namespace_ == svc.meta.namespace_ && other.meta.name == svc.meta.name) {
        old = &other;
        continue;
      }
      if (auto ip = ParseIpv4(other.cluster_ip)) ips.insert(*ip);
      for (const model::ServicePort& p : other.ports)
        if (p.node_port) node_ports.emplace(p.node_port, p.protocol);
    }
    if (svc.type == "ExternalName") {
      svc.cluster_ip.clear();
    } else if (!svc.headless()) {
      if (old && !old->cluster_ip.empty() && !old->headless()) {
        if (!svc.cluster_ip.empty() && svc.cluster_ip != old->cluster_ip)
          return InvalidArgument("service " + name + ": spec.clusterIP: field is immutable (it is " + old->cluster_ip +
                                 "); leave it out, or delete the service and create it again");
        svc.cluster_ip = old->cluster_ip;
      }
      const uint32_t first = service_range_.v4(), size = 1u << (32 - service_range_.prefix);
      if (svc.cluster_ip.empty()) {
        // The first address is the network's, the second the API server's
        // ("kubernetes.default"); the static band below is for asked ones.
        const uint32_t band = std::min<uint32_t>({std::max<uint32_t>(16, size / 16), 256, size / 4});
        std::optional<uint32_t> ip;
        for (int attempt = 0; attempt < 64 && !ip; ++attempt) {
          const uint32_t candidate = first + band + static_cast<uint32_t>(env_.random().Uniform(size - band - 1));
          if (!ips.count(candidate)) ip = candidate;
        }
        for (uint32_t a = first + 2; !ip && a < first + size - 1; ++a)
          if (!ips.count(a)) ip = a;
        if (!ip)
          return ResourceExhausted("service " + name + ": spec.clusterIP: no address left in " + o_.service_cidr +
                                   "; delete unused services or widen the service range");
        svc.cluster_ip = FormatIpv4(*ip);
      } else if (!old || svc.cluster_ip != old->cluster_ip) {
        const uint32_t ip = *ParseIpv4(svc.cluster_ip);
        if (ip - first >= size || ip == first || ip == first + size - 1)
          return InvalidArgument("service " + name + ": spec.clusterIP: failed to allocate IP " + svc.cluster_ip +
                                 ": provided IP is not in the valid range. The range of valid IPs is " +
                                 o_.service_cidr);
        if (ips.count(ip))
          return InvalidArgument("service " + name + ": spec.clusterIP: failed to allocate IP " + svc.cluster_ip +
                                 ": provided IP is already allocated");
      }
    }
    if (!svc.node_ports()) return Status::Ok();
    const int32_t lo = o_.node_port_min, hi = o_.node_port_max;
    for (size_t i = 0; i < svc.ports.size(); ++i) {
      model::ServicePort& p = svc.ports[i];
      const std::string path = "spec.ports[" + std::to_string(i) + "].nodePort";
      if (p.node_port == 0 && old)  // the port the service had keeps its node port
        for (const model::ServicePort& q : old->ports)
          if (q.port == p.port && q.protocol == p.protocol && q.node_port) p.node_port = q.node_port;
      if (p.node_port != 0) {
        if (p.node_port < lo || p.node_port > hi)
          return InvalidArgument("service " + name + ": " + path + ": " + std::to_string(p.node_port) +
                                 ": provided port is not in the valid range. The range of valid ports is " +
                                 std::to_string(lo) + "-" + std::to_string(hi));
        if (!node_ports.emplace(p.node_port, p.protocol).second)
          return InvalidArgument("service " + name + ": " + path + ": " + std::to_string(p.node_port) +
                                 ": provided port is already allocated");
        continue;
      }
      for (int attempt = 0; attempt < 64 && p.node_port == 0; ++attempt) {
        const auto candidate = static_cast<int32_t>(env_.random().UniformInt(lo, hi));
        if (node_ports.emplace(candidate, p.protocol).second) p.node_port = candidate;
      }
      for (int32_t candidate = lo; p.node_port == 0 && candidate <= hi; ++candidate)
        if (node_ports.emplace(candidate, p.protocol).second) p.node_port = candidate;
      if (p.node_port == 0)
        return ResourceExhausted("service " + name + ": " + path + ": no node port left in " + std::to_string(lo) +
                                 "-" + std::to_string(hi) + "; delete unused NodePort services");
    }
    return Status::Ok();
  }

  // A Job's completions, completion mode and pod template cannot change once
  // it exists, as upstream's validation says; parallelism, suspend, the
  // deadline, the back-off limit and the TTL may.
  Status AdmitJob(const model::Job& job) const {
    auto it = objects_.find(ObjectKey("Job", job.meta.namespace_, job.meta.name));
    if (it == objects_.end()) return Status::Ok();
    const auto& old = std::get<model::Job>(it->second);
    model::Job mutated = job;
    mutated.meta = old.meta;
    mutated.spec.parallelism = old.spec.parallelism;
    mutated.spec.suspend = old.spec.suspend;
    mutated.spec.active_deadline_seconds = old.spec.active_deadline_seconds;
    mutated.spec.backoff_limit = old.spec.backoff_limit;
    mutated.spec.ttl_seconds_after_finished = old.spec.ttl_seconds_after_finished;
    if (Equal(Object(mutated), Object(old))) return Status::Ok();
    return InvalidArgument("Job " + job.meta.namespace_ + "/" + job.meta.name +
                           ": field is immutable: a Job's completions, completionMode and template cannot change once "
                           "it exists; delete the Job and create it again");
  }

  // Priority admission of a new pod (upstream's Priority admission plugin):
  // its class, or the global default, gives spec.priority and
  // spec.preemptionPolicy; a class that does not exist refuses the pod.
  Status AdmitPriority(model::Pod& pod) const {
    sched::PriorityClasses classes;
    const std::string prefix = ObjectKey("PriorityClass", "", "");
    for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      const auto& pc = std::get<model::PriorityClass>(it->second);
      classes.by_name[pc.meta.name] = pc;
    }
    int32_t priority = 0;
    bool never = false;
    std::string why;
    if (!sched::ResolvePriority(pod.spec, classes, &priority, &never, &why))
      return PermissionDenied("pod " + pod.meta.namespace_ + "/" + pod.meta.name + " is forbidden: " + why);
    pod.spec.priority = priority;
    pod.spec.preemption_policy = never ? "Never" : "PreemptLowerPriority";
    return Status::Ok();
  }

  // Applies one object from the API: records it and lets its kind's caches
  // know. `what` gets " created", " configured" or " unchanged".
  Status ApplyObject(const Object& object, std::string* what) {
    const std::string key = ObjectKey(object);
    const std::string manifest = model::ToYaml(object);
    auto stored = datastore_->store().Get(key);
    if (stored && ToString(stored->value) == manifest) {
      *what += " unchanged";
      return Status::Ok();
    }
    if (IsPolicy(object)) {
      if (Status s = policy_.UpsertPolicy(key, object, manifest); !s.ok()) return s;
    }
    *what += stored ? " configured" : " created";
    Put(key, manifest);
    Take(object, manifest);
    return Status::Ok();
  }

  static bool IsPolicy(const Object& o) {
    return std::holds_alternative<model::NetworkPolicy>(o) || std::holds_alternative<model::CalicoPolicy>(o) ||
           std::holds_alternative<model::Tier>(o);
  }

  // Takes an object into the caches (from the API, a controller, or recovery);
  // `manifest` is its stored text when the caller has it at hand.
  void Take(const Object& object, const std::string& manifest = {}) {
    const std::string key = ObjectKey(object);
    objects_[key] = object;
    const Time now = env_.now();
    if (auto* ns = std::get_if<model::Namespace>(&object)) {
      scheduler_->UpsertNamespace(*ns, now);
      policy_.UpsertNamespace(ns->meta.name, ns->meta.labels);
    } else if (auto* sa = std::get_if<model::ServiceAccount>(&object)) {
      policy_.UpsertServiceAccount(sa->meta.namespace_, sa->meta.name, sa->meta.labels);
    } else if (auto* pc = std::get_if<model::PriorityClass>(&object)) {
      scheduler_->UpsertPriorityClass(*pc);
    } else if (auto* node = std::get_if<model::Node>(&object)) {
      NodeEntry& n = NodeNamed(node->meta.name);
      n.node = *node;
      n.registered = true;
      if (auto it = node_status_.find(node->meta.name); it != node_status_.end()) n.status = it->second;
      scheduler_->UpsertNode(n.node, now);
      if (Status s = provisioner_.UpsertNode(n.node); !s.ok())
        env_.RecordEvent("cluster.node_pools_invalid", "node=" + node->meta.name + " " + s.ToString());
      volumes_dirty_ = true;
      DaemonSetsDirty();
    } else if (auto* sc = std::get_if<model::StorageClass>(&object)) {
      provisioner_.UpsertStorageClass(*sc);
      volumes_dirty_ = true;
      schedules_dirty_ = true;
    } else if (std::holds_alternative<model::SchedulePolicy>(object)) {
      schedules_dirty_ = true;
    } else if (auto* pvc = std::get_if<model::PersistentVolumeClaim>(&object)) {
      TakeClaim(*pvc);
    } else if (auto* svc = std::get_if<model::Service>(&object)) {
      services_dirty_.insert(svc->meta.namespace_);
    } else if (auto* pod = std::get_if<model::Pod>(&object)) {
      TakePod(*pod, "", manifest);
    } else if (auto* d = std::get_if<model::Deployment>(&object)) {
      TakeTemplate("Deployment", d->meta.namespace_, d->meta.name, d->pod_template);
    } else if (auto* ds = std::get_if<model::DaemonSet>(&object)) {
      TakeTemplate("DaemonSet", ds->meta.namespace_, ds->meta.name, ds->pod_template);
    } else if (auto* ss = std::get_if<model::StatefulSet>(&object)) {
      TakeTemplate("StatefulSet", ss->meta.namespace_, ss->meta.name, ss->pod_template);
    } else if (auto* job = std::get_if<model::Job>(&object)) {
      TakeTemplate("Job", job->meta.namespace_, job->meta.name, job->spec.pod_template);
      if (std::string cron = CronJobOf(*job); !cron.empty()) {
        cron_jobs_[cron].insert(OwnerKey("Job", job->meta.namespace_, job->meta.name));
        dirty_owners_.insert(cron);
      }
    } else if (auto* cj = std::get_if<model::CronJob>(&object)) {
      dirty_owners_.insert(OwnerKey("CronJob", cj->meta.namespace_, cj->meta.name));
    } else if (IsPolicy(object)) {
      if (recovering_) (void)policy_.UpsertPolicy(key, object, manifest.empty() ? model::ToYaml(object) : manifest);
    } else if (auto* set = std::get_if<model::NetworkSet>(&object)) {
      policy_.UpsertNetworkSet(policy::NetworkSetFromObject(*set));
    } else if (std::holds_alternative<model::VolumeSnapshot>(object)) {
      snapshots_dirty_ = true;
    }
  }

  // A workload's pod template: its hash names (Deployment) or labels
  // (DaemonSet) its pods; computed once per version of it.
  void TakeTemplate(const std::string& kind, const std::string& ns, const std::string& name,
                    const model::PodTemplate& tmpl) {
    model::Pod sample;
    sample.meta.namespace_ = ns;
    sample.meta.labels = tmpl.labels;
    sample.meta.annotations = tmpl.annotations;
    sample.spec = tmpl.spec;
    const std::string owner = OwnerKey(kind, ns, name);
    templates_[owner] = Template{sample, sched::TemplateRevision(ns, tmpl)};
    dirty_owners_.insert(owner);
  }

  void DaemonSetsDirty() {
    for (auto it = templates_.lower_bound("DaemonSet/"); it != templates_.end() && it->first.rfind("DaemonSet/", 0) == 0;
         ++it)
      dirty_owners_.insert(it->first);
  }

  void TakeClaim(const model::PersistentVolumeClaim& pvc) {
    const std::string name = PodKey(pvc.meta.namespace_, pvc.meta.name);
    auto placed = placements_.find(name);
    if (placed != placements_.end()) {
      std::vector<storage::Replica> replicas;
      for (const auto& [node, pool] : placed->second.replicas) replicas.push_back({node, pool});
      if (Status s = provisioner_.Adopt(pvc, replicas); !s.ok())
        env_.RecordEvent("cluster.volume_adopt_failed", "claim=" + name + " " + s.ToString());
      return;
    }
    StatusOr<const storage::Volume*> v = provisioner_.UpsertClaim(pvc);
    if (v.ok() && *v) {
      RecordPlacement(**v);
    } else {
      // Waiting for its first consumer, or for room.
      unplaced_claims_.insert(ObjectKey("PersistentVolumeClaim", pvc.meta.namespace_, pvc.meta.name));
      if (!v.ok()) env_.RecordEvent("cluster.claim_pending", "claim=" + name + " reason=" + v.status().message());
    }
    volumes_dirty_ = true;
  }

  void RecordPlacement(const storage::Volume& v) {
    VolumePlacementRecord record;
    for (const storage::Replica& r : v.replicas) record.replicas.emplace_back(r.node, r.pool);
    placements_[v.name] = record;
    Put("s/Volume/" + v.name, ToString(Encode(record)));
    volumes_dirty_ = true;
  }

  // A pod enters the caches: pending (for the scheduler) or bound.
  void TakePod(const model::Pod& pod, const std::string& owner, const std::string& manifest) {
    const std::string key = PodKey(pod.meta.namespace_, pod.meta.name);
    auto existing = pods_.find(key);
    if (existing != pods_.end()) {
      (void)scheduler_->RemovePod(pod.meta.namespace_, pod.meta.name, env_.now());
      UnplacePod(existing->second);
    }
    PodEntry& e = pods_[key];
    e.pod = pod;
    e.manifest = manifest.empty() ? model::ToYaml(Object(pod)) : manifest;
    auto it = pod.meta.annotations.find(kOwnerAnnotation);
    e.owner = it != pod.meta.annotations.end() ? it->second : owner;
    if (std::string o = OwnerKeyOf(e); !o.empty()) owned_[o].insert(key);
    if (existing == pods_.end() || e.created == Time{}) e.created = env_.now();
    if (terminal_.count(key)) {
      e.released = true;  // it ran to its end before: it holds nothing
      return;
    }
    const model::LabelSelector* selector = OwnerSelector(e);
    Status s = scheduler_->AddPod(pod, env_.now(), selector);
    if (!s.ok() && s.code() != StatusCode::kFailedPrecondition)
      env_.RecordEvent("cluster.pod_refused_by_scheduler", "pod=" + key + " " + s.ToString());
    if (!pod.spec.node_name.empty()) PlacePod(e);
  }

  const model::LabelSelector* OwnerSelector(const PodEntry& e) const {
    const std::string o = OwnerKeyOf(e);
    if (o.empty()) return nullptr;
    auto it = objects_.find("o/" + o);
    if (it == objects_.end()) return nullptr;
    if (const auto* d = std::get_if<model::Deployment>(&it->second)) return &d->selector;
    if (const auto* ds = std::get_if<model::DaemonSet>(&it->second)) return &ds->selector;
    if (const auto* ss = std::get_if<model::StatefulSet>(&it->second)) return &ss->selector;
    return nullptr;
  }

  // A bound pod: in its node's view, its endpoint in the policy world, its
  // volumes attached.
  void PlacePod(PodEntry& e) {
    const model::Pod& pod = e.pod;
    const std::string& node_name = pod.spec.node_name;
    NodeEntry& node = NodeNamed(node_name);
    for (const std::string& ip : pod.pod_ips)
      if (auto v4 = ParseIpv4(ip)) node.used_ips.insert(*v4);
    if (Status s = provisioner_.BindFirstConsumer(pod, node_name); !s.ok())
      env_.RecordEvent("cluster.volume_attach_failed", "pod=" + PodKey(pod.meta.namespace_, pod.meta.name) +
                                                           " " + s.ToString());
    for (const model::PodVolume& v : pod.spec.volumes)
      if (v.claim_name)
        if (const storage::Volume* vol = provisioner_.Find(pod.meta.namespace_, *v.claim_name))
          if (!placements_.count(vol->name)) RecordPlacement(*vol);
    if (!pod.pod_ips.empty()) policy_.UpsertEndpoint(EndpointOf(pod), node_name);
    services_dirty_.insert(pod.meta.namespace_);
    AttachVolumes(e);
    RefreshPodView(e);
  }

  // Moves each ReadWriteOnce volume the pod mounts to the pod's node, where
  // that node holds an in-sync replica (else the pod's I/O goes to wherever
  // the primary is). A sharedv4 volume stays with its NFS server.
  void AttachVolumes(const PodEntry& e) {
    const model::Pod& pod = e.pod;
    auto node = nodes_.find(pod.spec.node_name);
    if (!volumes_ || node == nodes_.end() || node->second.id == kNoNode) return;
    for (const model::PodVolume& v : pod.spec.volumes) {
      if (!v.claim_name) continue;
      const storage::Volume* vol = provisioner_.Find(pod.meta.namespace_, *v.claim_name);
      const std::string name = PodKey(pod.meta.namespace_, *v.claim_name);
      const storage::VolumeRecord* record = volumes_->Find(name);
      if (!vol || vol->sharedv4 || !record || record->primary == node->second.id) continue;
      if (Status s = volumes_->Attach(name, node->second.id); s.ok())
        env_.RecordEvent("cluster.volume_attached", "volume=" + name + " node=" + pod.spec.node_name);
    }
  }

  void UnplacePod(const PodEntry& e) {
    if (e.released) return;  // a terminated pod gave all this back when it ended
    const model::Pod& pod = e.pod;
    const std::string key = PodKey(pod.meta.namespace_, pod.meta.name);
    if (pod.spec.node_name.empty()) return;
    NodeEntry& node = NodeNamed(pod.spec.node_name);
    for (const std::string& ip : pod.pod_ips)
      if (auto v4 = ParseIpv4(ip)) node.used_ips.erase(*v4);
    provisioner_.ReleaseConsumer(pod, pod.spec.node_name);
    policy_.RemoveEndpoint(key);
    services_dirty_.insert(pod.meta.namespace_);
    if (node.view->Erase("pod/" + key)) touched_.insert(pod.spec.node_name);
  }

  // The pod's assignment in its node's view, with its volumes as the storage
  // control plane has them (none until they exist there).
  void RefreshPodView(const PodEntry& e) {
    const model::Pod& pod = e.pod;
    PodAssignment a;
    a.manifest = e.manifest;
    for (const model::PodVolume& v : pod.spec.volumes) {
      if (!v.claim_name) continue;
      const std::string name = PodKey(pod.meta.namespace_, *v.claim_name);
      const storage::VolumeRecord* record = volumes_ ? volumes_->Find(name) : nullptr;
      if (!record) continue;
      const storage::Volume* vol = provisioner_.Find(pod.meta.namespace_, *v.claim_name);
      VolumeMount m;
      m.claim = *v.claim_name;
      m.volume = name;
      m.block_size = record->layout.block_size;
      m.blocks = record->layout.blocks;
      m.replicas = record->replicas;
      m.sharedv4 = vol && vol->sharedv4;
      m.read_only = v.read_only;
      a.volumes.push_back(std::move(m));
    }
    NodeEntry& node = NodeNamed(pod.spec.node_name);
    if (node.view->Put("pod/" + PodKey(pod.meta.namespace_, pod.meta.name), Encode(a)))
      touched_.insert(pod.spec.node_name);
  }

  void RefreshPolicyView(const std::string& node_name) {
    NodeEntry& node = NodeNamed(node_name);
    const PolicyViews::View& view = policy_.ViewOf(node_name);
    bool changed = false;
    std::vector<std::string> gone;
    for (const auto& [key, value] : node.view->values())
      if (IsPolicyViewKey(key) && !view.count(key)) gone.push_back(key);
    for (const std::string& key : gone) changed |= node.view->Erase(key);
    for (const auto& [key, value] : view) changed |= node.view->Put(key, value);
    if (changed) {
      touched_.insert(node_name);
      ++stats_.view_updates[node_name];
    }
  }

  void Put(const std::string& key, const std::string& value) {
    batch_.push_back(Mutation{Mutation::kPut, key, ToBytes(value), -1});
  }
  void Erase(const std::string& key) { batch_.push_back(Mutation{Mutation::kDelete, key, {}, -1}); }

  // Removes an object the API deleted, with what hangs on it.
  Status RemoveObject(const std::string& key) {
    const Object object = objects_.at(key);
    if (IsPolicy(object)) {
      if (Status s = policy_.CheckRemove(key); !s.ok()) return s;
      policy_.RemovePolicy(key);
    }
    objects_.erase(key);
    revisions_.erase(key);
    Erase(key);
    if (auto* pod = std::get_if<model::Pod>(&object)) {
      RemovePod(PodKey(pod->meta.namespace_, pod->meta.name), "deleted");
    } else if (std::holds_alternative<model::Deployment>(object) || std::holds_alternative<model::DaemonSet>(object) ||
               std::holds_alternative<model::StatefulSet>(object)) {
      // Background cascading deletion, as the garbage collector does.
      const std::string owner = key.substr(2);  // "Kind/namespace/name"
      templates_.erase(owner);
      auto owned = owned_.find(owner);
      if (owned != owned_.end())
        for (const std::string& k : std::set<std::string>(owned->second)) RemovePod(k, "owner deleted");
      // A StatefulSet's claims stay unless its retention policy says otherwise.
      if (const auto* ss = std::get_if<model::StatefulSet>(&object); ss && ss->when_deleted == "Delete")
        for (const std::string& claim : SetClaims(*ss)) DeleteClaimObject(ss->meta.namespace_, claim);
    } else if (auto* job = std::get_if<model::Job>(&object)) {
      const std::string owner = key.substr(2);
      templates_.erase(owner);
      auto owned = owned_.find(owner);
      if (owned != owned_.end()) {
        job_controller_removing_ = true;
        for (const std::string& k : std::set<std::string>(owned->second)) RemovePod(k, "owner deleted");
        job_controller_removing_ = false;
      }
      job_status_.erase(owner);
      wake_.erase(owner);
      Erase("s/" + owner);
      if (std::string cron = CronJobOf(*job); !cron.empty()) {
        cron_jobs_[cron].erase(owner);
        dirty_owners_.insert(cron);
      }
    } else if (std::holds_alternative<model::CronJob>(object)) {
      const std::string owner = key.substr(2);
      auto jobs = cron_jobs_.find(owner);
      if (jobs != cron_jobs_.end())
        for (const std::string& job : std::set<std::string>(jobs->second))
          if (objects_.count("o/" + job)) (void)RemoveObject("o/" + job);
      cron_jobs_.erase(owner);
      cron_status_.erase(owner);
      wake_.erase(owner);
      Erase("s/" + owner);
    } else if (auto* node = std::get_if<model::Node>(&object)) {
      NodeEntry& n = NodeNamed(node->meta.name);
      n.registered = false;
      (void)scheduler_->RemoveNode(node->meta.name, env_.now());
      provisioner_.RemoveNode(node->meta.name);
      DaemonSetsDirty();
    } else if (auto* svc = std::get_if<model::Service>(&object)) {
      services_dirty_.insert(svc->meta.namespace_);
    } else if (auto* set = std::get_if<model::NetworkSet>(&object)) {
      policy_.RemoveNetworkSet(set->global ? "" : set->meta.namespace_, set->meta.name);
    } else if (std::holds_alternative<model::StorageClass>(object) ||
               std::holds_alternative<model::SchedulePolicy>(object)) {
      schedules_dirty_ = true;
    } else if (auto* pvc = std::get_if<model::PersistentVolumeClaim>(&object)) {
      schedules_dirty_ = true;
      (void)provisioner_.DeleteClaim(pvc->meta.namespace_, pvc->meta.name);
      placements_.erase(PodKey(pvc->meta.namespace_, pvc->meta.name));
      Erase("s/Volume/" + PodKey(pvc->meta.namespace_, pvc->meta.name));
    } else if (auto* ns = std::get_if<model::Namespace>(&object)) {
      // Everything in the namespace goes with it.
      std::vector<std::string> inside;
      for (const auto& [k, o] : objects_)
        if (model::MetaOf(o).namespace_ == ns->meta.name) inside.push_back(k);
      for (const std::string& k : inside)
        if (objects_.count(k)) (void)RemoveObject(k);
      std::vector<std::string> pods;
      for (const auto& [k, p] : pods_)
        if (p.pod.meta.namespace_ == ns->meta.name) pods.push_back(k);
      for (const std::string& k : pods) RemovePod(k, "namespace deleted");
    }
    return Status::Ok();
  }

  void RemovePod(const std::string& key, const std::string& why) {
    auto it = pods_.find(key);
    if (it == pods_.end()) return;
    const model::Pod pod = it->second.pod;
    const std::string it_owner = it->second.owner;
    const bool finished = terminal_.erase(key) > 0;
    if (!finished && !job_controller_removing_ && it_owner.rfind("Job/", 0) == 0)
      CountLostJobPod(OwnerKeyFor(it_owner, pod.meta.namespace_), key, why);
    (void)scheduler_->RemovePod(pod.meta.namespace_, pod.meta.name, env_.now());
    UnplacePod(it->second);
    pods_.erase(it);
    const std::string okey = ObjectKey("Pod", pod.meta.namespace_, pod.meta.name);
    objects_.erase(okey);
    revisions_.erase(okey);
    Erase(okey);
    if (reports_.erase(key)) Erase("s/Pod/" + key);
    running_.erase(key);
    unschedulable_.erase(key);
    address_wait_.erase(key);
    evict_at_.erase(key);
    Disown(it_owner, key);
    env_.RecordEvent("cluster.pod_removed", "pod=" + key + " node=" + pod.spec.node_name + " why=" + why);
  }

  // Writes what was changed since the last Flush: computes the policy views
  // it affects, then commits. What each node's view gained becomes sendable
  // once the commit is durable.
  void Flush() {
    for (const std::string& node : policy_.Compute()) RefreshPolicyView(node);
    if (batch_.empty() && touched_.empty()) return;
    std::vector<std::pair<std::string, uint64_t>> marks;
    for (const std::string& name : touched_) marks.emplace_back(name, NodeNamed(name).view->seq());
    touched_.clear();
    auto released = [this, marks] {
      for (const auto& [name, seq] : marks) {
        NodeEntry& n = NodeNamed(name);
        n.durable_seq = std::max(n.durable_seq, seq);
        SendView(name, n, /*resend=*/false);
      }
      DeliverWatches();
    };
    if (batch_.empty()) {
      datastore_->AfterDurable(released);
      return;
    }
    std::vector<Mutation> batch;
    batch.swap(batch_);
    std::vector<std::string> keys;
    for (const Mutation& m : batch) keys.push_back(m.key);
    datastore_->Commit(std::move(batch), [this, released, keys](StatusOr<Revision> r) {
      if (!r.ok()) {
        env_.RecordEvent("cluster.commit_failed", r.status().ToString());
        return;
      }
      for (const std::string& k : keys) revisions_[k] = *r;
      released();
    });
  }

  void DeliverWatches() {
    if (watches_.empty()) return;
    const Revision durable = datastore_->durable_revision();
    std::vector<uint64_t> ids;
    for (const auto& [id, w] : watches_) ids.push_back(id);
    for (uint64_t id : ids) {
      auto it = watches_.find(id);
      if (it == watches_.end()) continue;
      while (it != watches_.end() && it->second.position < durable) {
        auto changes = datastore_->store().ChangesSince(it->second.position, 1024);
        if (!changes.ok()) {
          auto fn = std::move(it->second.fn);
          WatchEvent expired;
          expired.expired = true;
          expired.revision = it->second.position;
          watches_.erase(it);
          fn(expired);
          break;
        }
        if (changes->empty()) break;
        for (const Change& c : *changes) {
          if (c.revision > durable) break;
          it->second.position = c.revision;
          if (c.key.rfind(it->second.prefix, 0) != 0) continue;
          WatchEvent event{false, c.revision, c.key, c.deleted, ToString(c.value)};
          auto fn = it->second.fn;
          fn(event);
          it = watches_.find(id);  // the callback may have unwatched
          if (it == watches_.end()) break;
        }
        if (it != watches_.end() && it->second.position < durable && changes->back().revision > durable) break;
      }
    }
  }

  // ---- Controllers -------------------------------------------------------------

  void Kick() {
    if (reconcile_timer_ != kNoTimer || !serving_) return;
    reconcile_timer_ = env_.Schedule(Duration::zero(), [this] {
      reconcile_timer_ = kNoTimer;
      Reconcile();
    });
  }

  void Reconcile() {
    if (!dirty_owners_.empty()) {
      std::set<std::string> owners;
      owners.swap(dirty_owners_);
      for (const std::string& owner : owners) {
        if (owner.rfind("Deployment/", 0) == 0) ReconcileDeployment(owner);
        if (owner.rfind("DaemonSet/", 0) == 0) ReconcileDaemonSet(owner);
        if (owner.rfind("StatefulSet/", 0) == 0) ReconcileStatefulSet(owner);
        if (owner.rfind("Job/", 0) == 0) ReconcileJob(owner);
        if (owner.rfind("CronJob/", 0) == 0) ReconcileCronJob(owner);
      }
    }
    Schedule();
    ReconcileServices();
    if (volumes_dirty_) {
      volumes_dirty_ = false;
      ReconcileVolumes();
    }
    if (snapshots_dirty_) {
      snapshots_dirty_ = false;
      ReconcileSnapshots();
    }
    if (schedules_dirty_) {
      schedules_dirty_ = false;
      ReconcileSchedules();
    }
    ArmWake();
    Flush();
  }

  // "Kind/namespace/name" of a workload controller (a Deployment, a
  // DaemonSet): the key of its pods in owned_ and of its template. A pod's
  // owner annotation says "Kind/name"; empty for a pod no controller owns.
  static std::string OwnerKey(const std::string& kind, const std::string& ns, const std::string& name) {
    return kind + "/" + ns + "/" + name;
  }
  static std::string OwnerKeyFor(const std::string& owner_ref, const std::string& ns) {
    for (const char* kind : {"Deployment/", "DaemonSet/", "StatefulSet/", "Job/"}) {
      const size_t n = std::strlen(kind);
      if (owner_ref.compare(0, n, kind) == 0) return owner_ref.substr(0, n) + ns + "/" + owner_ref.substr(n);
    }
    return "";
  }
  static std::string OwnerKeyOf(const PodEntry& p) { return OwnerKeyFor(p.owner, p.pod.meta.namespace_); }

  void Disown(const std::string& owner_ref, const std::string& pod_key) {
    const std::string owner = OwnerKeyFor(owner_ref, pod_key.substr(0, pod_key.find('/')));
    if (owner.empty()) return;
    auto it = owned_.find(owner);
    if (it != owned_.end()) {
      it->second.erase(pod_key);
      if (it->second.empty()) owned_.erase(it);
    }
    dirty_owners_.insert(owner);
  }

  static int32_t Resolve(const model::IntOrString& v, int32_t replicas, bool round_up) {
    if (v.is_int) return static_cast<int32_t>(v.int_value);
    std::string s = v.str_value;
    if (!s.empty() && s.back() == '%') s.pop_back();
    int64_t percent = std::atoll(s.c_str());
    int64_t scaled = percent * replicas;
    return static_cast<int32_t>(round_up ? (scaled + 99) / 100 : scaled / 100);
  }

  bool Running(const std::string& pod_key) const {
    auto r = reports_.find(pod_key);
    return r != reports_.end() && r->second.phase == PodPhase::kRunning;
  }

  // A workload controller's object and template; null when either is gone.
  template <typename T>
  const T* Workload(const std::string& owner_key, const Template** tmpl) const {
    auto object = objects_.find("o/" + owner_key);
    auto t = templates_.find(owner_key);
    if (object == objects_.end() || t == templates_.end()) return nullptr;
    *tmpl = &t->second;
    return std::get_if<T>(&object->second);
  }
  // The keys of the pods a workload controller owns.
  const std::set<std::string>& OwnedBy(const std::string& owner_key) const {
    static const std::set<std::string> kNone;
    auto it = owned_.find(owner_key);
    return it == owned_.end() ? kNone : it->second;
  }

  void ReconcileDeployment(const std::string& owner_key) {
    const Template* tmpl = nullptr;
    const model::Deployment* dp = Workload<model::Deployment>(owner_key, &tmpl);
    if (!dp) return;
    const model::Deployment& d = *dp;
    const std::string owner = "Deployment/" + d.meta.name;
    const model::Pod& sample = tmpl->pod;
    const std::string& hash = tmpl->hash;
    std::vector<std::string> current, old;
    std::set<std::string> names;
    for (const std::string& k : OwnedBy(owner_key)) {
      const PodEntry& p = pods_.at(k);
      names.insert(p.pod.meta.name);
      auto h = p.pod.meta.labels.find(kTemplateHashLabel);
      (h != p.pod.meta.labels.end() && h->second == hash ? current : old).push_back(k);
    }
    const int32_t replicas = std::max(d.replicas, 0);
    int32_t surge = 0, unavailable = 0;
    if (d.strategy == "RollingUpdate") {
      surge = Resolve(d.max_surge, replicas, true);
      unavailable = Resolve(d.max_unavailable, replicas, false);
      if (surge == 0 && unavailable == 0) unavailable = 1;
    }
    auto running = [&](const std::vector<std::string>& v) {
      return static_cast<int32_t>(std::count_if(v.begin(), v.end(), [&](const std::string& k) { return Running(k); }));
    };
    // Scale the current template's pods down if there are too many: the last named first.
    while (static_cast<int32_t>(current.size()) > replicas) {
      RemovePod(current.back(), "scaled down");
      current.pop_back();
    }
    if (d.strategy == "Recreate") {
      for (const std::string& k : old) RemovePod(k, "recreate");
      if (!old.empty()) return;  // new pods once the old are gone
      old.clear();
    } else if (!old.empty()) {
      // Old pods that are not running cost no availability: they go first.
      std::vector<std::string> keep;
      for (const std::string& k : old) {
        if (!Running(k))
          RemovePod(k, "rolling update");
        else
          keep.push_back(k);
      }
      old.swap(keep);
      int32_t available = running(current) + running(old);
      int32_t can_remove = available - (replicas - unavailable);
      while (can_remove > 0 && !old.empty()) {
        RemovePod(old.back(), "rolling update");
        old.pop_back();
        --can_remove;
      }
    }
    const int32_t total = static_cast<int32_t>(current.size() + old.size());
    int32_t to_create = std::min(replicas - static_cast<int32_t>(current.size()), replicas + surge - total);
    for (int32_t n = 0; to_create > 0; ++n) {
      std::string name = d.meta.name + "-" + hash + "-" + std::to_string(n);
      if (names.count(name)) continue;
      model::Pod pod = sample;
      pod.meta.name = name;
      pod.meta.labels[kTemplateHashLabel] = hash;
      CreateOwnedPod(std::move(pod), owner);
      --to_create;
    }
  }

  void CreateOwnedPod(model::Pod pod, const std::string& owner) {
    pod.meta.pos = {};
    pod.meta.annotations[kOwnerAnnotation] = owner;
    Object o(pod);
    const std::string manifest = model::ToYaml(o);
    objects_[ObjectKey(o)] = o;
    Put(ObjectKey(o), manifest);
    TakePod(pod, owner, manifest);
  }

  // A DaemonSet's pods: one on each registered node its template fits, none
  // elsewhere. A pod names its node in required node affinity (a term of
  // matchFields metadata.name, which replaces the template's required terms,
  // as upstream's controller writes it) and goes through the scheduler like
  // any other pod. A changed template rolls node by node: RollingUpdate
  // replaces at most maxUnavailable running pods at once, or first starts
  // the new pod beside the old one on up to maxSurge nodes; OnDelete waits
  // for the old pod to be deleted.
  void ReconcileDaemonSet(const std::string& owner_key) {
    const Template* tmpl = nullptr;
    const model::DaemonSet* set = Workload<model::DaemonSet>(owner_key, &tmpl);
    if (!set) return;
    const model::DaemonSet& ds = *set;
    const std::string owner = "DaemonSet/" + ds.meta.name;
    const std::string& hash = tmpl->hash;
    std::map<std::string, std::vector<std::string>> by_node;  // node -> its pods of this set
    std::set<std::string> names;
    for (const std::string& k : OwnedBy(owner_key)) {
      const PodEntry& p = pods_.at(k);
      names.insert(p.pod.meta.name);
      by_node[sched::DaemonNodeOf(p.pod)].push_back(k);
    }
    std::vector<std::string> eligible;  // nodes that take a new pod
    std::set<std::string> keep;          // nodes whose pods stay
    for (const auto& [name, n] : nodes_) {
      if (!n.registered) continue;
      const sched::DaemonFit f = sched::DaemonFits(ds, n.node);
      if (f.run) eligible.push_back(name);
      if (f.keep) keep.insert(name);
    }
    for (const auto& [node, keys] : by_node) {
      if (keep.count(node)) continue;
      for (const std::string& k : keys) RemovePod(k, "its node does not take the DaemonSet's pods");
    }
    const bool rolling = ds.update_strategy == "RollingUpdate";
    const int32_t desired = static_cast<int32_t>(eligible.size());
    const int32_t max_surge = rolling ? Resolve(ds.max_surge, desired, true) : 0;
    int32_t max_unavailable = rolling ? Resolve(ds.max_unavailable, desired, true) : 0;
    if (rolling && max_surge == 0 && max_unavailable == 0) max_unavailable = 1;
    auto running = [&](const std::vector<std::string>& v) {
      return std::any_of(v.begin(), v.end(), [&](const std::string& k) { return Running(k); });
    };
    // What a rollout may spend: nodes without a running daemon, and nodes
    // running an old one beside a new one not yet running.
    int32_t unavailable = 0, surging = 0;
    std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> split;  // current, old
    for (const std::string& node : eligible) {
      auto& [current, old] = split[node];
      auto it = by_node.find(node);
      if (it != by_node.end())
        for (const std::string& k : it->second) {
          auto h = pods_.at(k).pod.meta.labels.find(kRevisionHashLabel);
          (h != pods_.at(k).pod.meta.labels.end() && h->second == hash ? current : old).push_back(k);
        }
      if (!running(current) && !running(old)) ++unavailable;
      if (!current.empty() && !old.empty() && !running(current)) ++surging;
    }
    for (const std::string& node : eligible) {
      auto& [current, old] = split[node];
      while (current.size() > 1) {  // one per node
        RemovePod(current.back(), "a second daemon pod on its node");
        current.pop_back();
      }
      if (!current.empty()) {
        // The new pod is there: the old one goes once it runs (or at once
        // when the old one is not running either).
        if (!old.empty() && (running(current) || !running(old)))
          for (const std::string& k : old) RemovePod(k, "rolling update");
        continue;
      }
      if (old.empty()) {
        CreateDaemonPod(ds, hash, node, owner, &names);
        continue;
      }
      if (!rolling) continue;  // OnDelete: the old pod stays until it is deleted
      if (!running(old)) {     // costs no availability
        for (const std::string& k : old) RemovePod(k, "rolling update");
        CreateDaemonPod(ds, hash, node, owner, &names);
      } else if (surging < max_surge) {
        ++surging;
        CreateDaemonPod(ds, hash, node, owner, &names);
      } else if (unavailable < max_unavailable) {
        ++unavailable;
        for (const std::string& k : old) RemovePod(k, "rolling update");
        CreateDaemonPod(ds, hash, node, owner, &names);
      }
    }
  }

  // ---- StatefulSets ------------------------------------------------------------------

  // Every claim a set's templates made, for the ordinals whose claims exist.
  std::vector<std::string> SetClaims(const model::StatefulSet& ss) const {
    std::vector<std::string> out;
    const std::string prefix = ObjectKey("PersistentVolumeClaim", ss.meta.namespace_, "");
    for (const model::PersistentVolumeClaim& t : ss.volume_claim_templates) {
      const std::string head = t.meta.name + "-" + ss.meta.name + "-";
      for (auto it = objects_.lower_bound(prefix + head); it != objects_.end() && it->first.rfind(prefix + head, 0) == 0;
           ++it) {
        const std::string rest = it->first.substr(prefix.size() + head.size());
        if (!rest.empty() && std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
          out.push_back(it->first.substr(prefix.size()));
      }
    }
    return out;
  }

  void DeleteClaimObject(const std::string& ns, const std::string& name) {
    const std::string key = ObjectKey("PersistentVolumeClaim", ns, name);
    if (!objects_.count(key)) return;
    (void)RemoveObject(key);
    env_.RecordEvent("cluster.claim_deleted", "claim=" + ns + "/" + name + " by=StatefulSet retention policy");
  }

  // The ordinal a set's pod name carries, or -1.
  static int64_t OrdinalOf(const std::string& pod_name, const std::string& set) {
    if (pod_name.size() <= set.size() + 1 || pod_name.compare(0, set.size() + 1, set + "-") != 0) return -1;
    const std::string rest = pod_name.substr(set.size() + 1);
    if (rest.size() > 9 || !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return -1;
    return std::stoll(rest);
  }

  // A StatefulSet's pods, as upstream's controller keeps them: NAME-i for
  // each ordinal i in [start, start + replicas), each with the claims its
  // templates make for it (created before the pod, kept when it goes, so a
  // pod made again — after a node loss, a deletion, an update — mounts the
  // same volumes wherever it lands). OrderedReady creates a pod only when
  // every lower one runs and removes the highest first; Parallel does each
  // at once. RollingUpdate replaces pods of an older template from the
  // highest ordinal down to `partition`, while fewer than maxUnavailable
  // are down; OnDelete once they are deleted.
  void ReconcileStatefulSet(const std::string& owner_key) {
    const Template* tmpl = nullptr;
    const model::StatefulSet* set = Workload<model::StatefulSet>(owner_key, &tmpl);
    if (!set) return;
    const model::StatefulSet& ss = *set;
    const std::string owner = "StatefulSet/" + ss.meta.name;
    const std::string& hash = tmpl->hash;
    const int64_t first = ss.ordinals_start, end = first + std::max(ss.replicas, 0);
    const bool ordered = ss.pod_management_policy == "OrderedReady";
    std::map<int64_t, std::string> by_ordinal;
    std::vector<std::string> condemned;  // out of range, highest first below
    for (const std::string& k : OwnedBy(owner_key)) {
      const int64_t i = OrdinalOf(pods_.at(k).pod.meta.name, ss.meta.name);
      if (i >= first && i < end && !by_ordinal.count(i))
        by_ordinal[i] = k;
      else
        condemned.push_back(k);
    }
    // Scale down: the highest ordinal first (one per pass when ordered).
    std::sort(condemned.begin(), condemned.end(), [&](const std::string& a, const std::string& b) {
      return OrdinalOf(pods_.at(a).pod.meta.name, ss.meta.name) > OrdinalOf(pods_.at(b).pod.meta.name, ss.meta.name);
    });
    for (const std::string& k : condemned) {
      const int64_t i = OrdinalOf(pods_.at(k).pod.meta.name, ss.meta.name);
      RemovePod(k, "scaled down");
      if (ss.when_scaled == "Delete" && i >= 0)
        for (const model::PersistentVolumeClaim& t : ss.volume_claim_templates)
          DeleteClaimObject(ss.meta.namespace_, model::StatefulClaimName(t, ss.meta.name, i));
      if (ordered) {
        Kick();  // the next one on the next pass
        return;
      }
    }
    // Claims first, then the pods, in order.
    for (int64_t i = first; i < end; ++i) {
      for (const model::PersistentVolumeClaim& t : ss.volume_claim_templates) {
        model::PersistentVolumeClaim claim = model::StatefulClaim(ss, t, i);
        claim.meta.pos = {};
        Object o(claim);
        if (objects_.count(ObjectKey(o))) continue;
        Put(ObjectKey(o), model::ToYaml(o));
        Take(o);
      }
    }
    int32_t unavailable = 0;
    for (int64_t i = first; i < end; ++i)
      if (!by_ordinal.count(i) || !Running(by_ordinal[i])) ++unavailable;
    for (int64_t i = first; i < end; ++i) {
      auto it = by_ordinal.find(i);
      if (it == by_ordinal.end()) {
        CreateStatefulPod(ss, hash, i, owner);
        if (ordered) return;  // the next once this one runs
        continue;
      }
      if (ordered && !Running(it->second)) return;
    }
    if (ss.update_strategy != "RollingUpdate") return;
    const int32_t max_unavailable =
        ss.max_unavailable ? std::max(1, Resolve(*ss.max_unavailable, std::max(ss.replicas, 0), false)) : 1;
    for (int64_t i = end - 1; i >= std::max<int64_t>(first, ss.partition) && unavailable <= max_unavailable; --i) {
      const std::string& k = by_ordinal[i];
      const PodEntry& p = pods_.at(k);
      auto h = p.pod.meta.labels.find(kRevisionHashLabel);
      if (h != p.pod.meta.labels.end() && h->second == hash) {
        if (ordered && !Running(k)) return;  // one at a time: the updated one runs first
        continue;
      }
      // An outdated pod that runs costs one unavailable to replace.
      if (Running(k)) {
        if (unavailable >= max_unavailable) return;
        ++unavailable;
      }
      RemovePod(k, "rolling update");
      Kick();  // made again with the current template on the next pass
      if (ordered) return;
    }
  }

  // ---- Jobs and CronJobs ----------------------------------------------------------------

  static bool Terminal(PodPhase phase) { return phase == PodPhase::kSucceeded || phase == PodPhase::kFailed; }

  // A pod that ran to its end gives back what it held: upstream's scheduler
  // no longer counts a finished pod toward its node's requests, and its
  // network is gone. Its manifest and report stay, for its owner to count.
  void ReleaseTerminated(const std::string& key, PodEntry& e, const PodReport& report) {
    if (!terminal_.insert(key).second) return;
    if (!e.released) {
      (void)scheduler_->RemovePod(e.pod.meta.namespace_, e.pod.meta.name, env_.now());
      UnplacePod(e);
      e.released = true;
    }
    evict_at_.erase(key);
    env_.RecordEvent("cluster.pod_finished", "pod=" + key + " node=" + e.pod.spec.node_name +
                                                 " phase=" + PodPhaseName(report.phase) + " reason=" + report.reason);
  }

  // "CronJob/namespace/name" of the CronJob that made a Job, or "".
  static std::string CronJobOf(const model::Job& job) {
    auto it = job.meta.annotations.find(kOwnerAnnotation);
    if (it == job.meta.annotations.end() || it->second.rfind("CronJob/", 0) != 0) return "";
    return OwnerKey("CronJob", job.meta.namespace_, it->second.substr(8));
  }

  int64_t WallNow() const { return o_.wall_epoch + ToNanos(env_.now()) / 1'000'000'000; }
  Time TimeOfWall(int64_t unix_seconds) const {
    return Time(std::chrono::seconds(std::max<int64_t>(unix_seconds - o_.wall_epoch, 0)));
  }

  // Asks for `owner` to be reconciled again at `at` (the earliest asked wins).
  void WakeAt(const std::string& owner, Time at) {
    auto it = wake_.find(owner);
    if (it == wake_.end() || at < it->second) wake_[owner] = at;
  }

  void ArmWake() {
    if (wake_.empty()) return;
    Time earliest = wake_.begin()->second;
    for (const auto& [owner, at] : wake_) earliest = std::min(earliest, at);
    if (wake_timer_ != kNoTimer) {
      if (wake_timer_at_ <= earliest) return;
      env_.Cancel(wake_timer_);
    }
    wake_timer_at_ = earliest;
    wake_timer_ = env_.Schedule(std::max(earliest - env_.now(), Duration::zero()), [this] {
      wake_timer_ = kNoTimer;
      const Time now = env_.now();
      for (auto it = wake_.begin(); it != wake_.end();) {
        if (it->second <= now) {
          dirty_owners_.insert(it->first);
          it = wake_.erase(it);
        } else {
          ++it;
        }
      }
      Kick();
      ArmWake();
    });
  }

  // An active pod of a Job that went without terminating (its node lost,
  // preempted, deleted): upstream counts it as failed.
  void CountLostJobPod(const std::string& owner, const std::string& pod_key, const std::string& why) {
    auto st = job_status_.find(owner);
    if (st == job_status_.end() || !st->second.condition.empty()) return;
    ++st->second.failed;
    ++st->second.failures_since_success;
    st->second.last_failure_ns = ToNanos(env_.now());
    Put("s/" + owner, ToString(Encode(st->second)));
    env_.RecordEvent("cluster.job_pod_failed", "job=" + owner.substr(4) + " pod=" + pod_key + " reason=\"" + why + "\"");
  }

  std::string NewUid() {
    const uint64_t a = env_.random().Next(), b = env_.random().Next();
    char text[40];
    std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                  static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
    return text;
  }

  static int32_t CompletionIndexOf(const model::Pod& pod) {
    auto it = pod.meta.annotations.find(kCompletionIndex);
    if (it == pod.meta.annotations.end() || it->second.empty() || it->second.size() > 9 ||
        !std::all_of(it->second.begin(), it->second.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return -1;
    return std::atoi(it->second.c_str());
  }

  // A Job's pod as upstream's controller makes it: generateName <job>- (or
  // <job>-<index>- when Indexed), so the API server's five characters from
  // its alphabet of consonants and digits, drawn here from the Env's seeded
  // random source; the Job's name and uid as labels.
  void CreateJobPod(const model::Job& job, const std::string& uid, int32_t index) {
    static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    model::Pod pod;
    pod.meta.namespace_ = job.meta.namespace_;
    pod.meta.labels = job.spec.pod_template.labels;
    pod.meta.annotations = job.spec.pod_template.annotations;
    for (const char* label : {"job-name", "batch.kubernetes.io/job-name"}) pod.meta.labels[label] = job.meta.name;
    for (const char* label : {"controller-uid", "batch.kubernetes.io/controller-uid"}) pod.meta.labels[label] = uid;
    std::string base = job.meta.name + "-";
    if (index >= 0) {
      pod.meta.labels[kCompletionIndex] = pod.meta.annotations[kCompletionIndex] = std::to_string(index);
      base += std::to_string(index) + "-";
    }
    base = base.substr(0, 58);  // the API server keeps a generated name within 63
    pod.spec = job.spec.pod_template.spec;
    do {
      pod.meta.name = base;
      for (int i = 0; i < 5; ++i) pod.meta.name += kAlphabet[env_.random().Uniform(sizeof kAlphabet - 1)];
    } while (pods_.count(PodKey(pod.meta.namespace_, pod.meta.name)));
    CreateOwnedPod(std::move(pod), "Job/" + job.meta.name);
  }

  void RemoveJobPods(const std::vector<std::string>& keys, const std::string& why) {
    job_controller_removing_ = true;
    for (const std::string& k : keys) RemovePod(k, why);
    job_controller_removing_ = false;
  }

  // The pod back-off after failures: 10 s, doubled for each failure since
  // the last success, at most 6 minutes.
  static Duration JobPodBackoff(int32_t failures) {
    if (failures <= 0) return Duration::zero();
    const Duration d = std::chrono::seconds(10) * (int64_t{1} << std::min(failures - 1, 10));
    return std::min<Duration>(d, std::chrono::minutes(6));
  }

  void FinishJob(const std::string& owner, const model::Job& job, JobStatusRecord& st, const std::string& condition,
                 const std::string& reason, const std::string& message) {
    st.condition = condition;
    st.reason = reason;
    st.message = message;
    st.finish_ns = ToNanos(env_.now());
    env_.RecordEvent(condition == "Complete" ? "cluster.job_complete" : "cluster.job_failed",
                     "job=" + owner.substr(4) + " succeeded=" + std::to_string(st.succeeded) +
                         " failed=" + std::to_string(st.failed) + (reason.empty() ? "" : " reason=" + reason));
    if (st.start_ns >= 0)
      env_.RecordMetric("cluster.job_duration_s", ToSeconds(Duration(st.finish_ns - st.start_ns)),
                        "job=" + owner.substr(4) + " condition=" + condition);
    if (std::string cron = CronJobOf(job); !cron.empty()) {
      if (condition == "Complete") {
        CronJobStatusRecord& cs = cron_status_[cron];
        cs.last_successful_unix = WallNow();
        Put("s/" + cron, ToString(Encode(cs)));
      }
      dirty_owners_.insert(cron);
    }
    dirty_owners_.insert(owner);  // its TTL, on the next pass
    Kick();
  }

  // A Job, as upstream's controller keeps it; see server.h.
  void ReconcileJob(const std::string& owner) {
    const Template* tmpl = nullptr;
    const model::Job* found = Workload<model::Job>(owner, &tmpl);
    if (!found) return;
    const model::Job& job = *found;
    const model::JobSpec& spec = job.spec;
    const int64_t now_ns = ToNanos(env_.now());
    JobStatusRecord& st = job_status_[owner];
    const Bytes before = Encode(st);
    if (st.uid.empty()) st.uid = NewUid();
    const bool indexed = spec.completion_mode == "Indexed";
    // Count each pod that terminated once, by name.
    std::set<std::string> counted(st.counted.begin(), st.counted.end()), still_there;
    std::set<int32_t> done(st.completed_indexes.begin(), st.completed_indexes.end()), active_indexes;
    std::vector<std::string> active;
    uint32_t restarts = 0;
    for (const std::string& k : OwnedBy(owner)) {
      const PodEntry& p = pods_.at(k);
      const std::string& name = p.pod.meta.name;
      auto r = reports_.find(k);
      if (!terminal_.count(k) || r == reports_.end()) {
        active.push_back(k);
        if (r != reports_.end()) restarts += r->second.restarts;
        if (indexed) active_indexes.insert(CompletionIndexOf(p.pod));
        continue;
      }
      still_there.insert(name);
      if (!counted.insert(name).second || !st.condition.empty()) continue;
      if (r->second.phase == PodPhase::kSucceeded) {
        if (indexed) {
          const int32_t i = CompletionIndexOf(p.pod);
          if (i >= 0 && spec.completions && i < *spec.completions) done.insert(i);
        } else {
          ++st.succeeded;
        }
        st.failures_since_success = 0;
      } else {
        ++st.failed;
        ++st.failures_since_success;
        st.last_failure_ns = now_ns;
        env_.RecordEvent("cluster.job_pod_failed", "job=" + owner.substr(4) + " pod=" + k + " reason=" + r->second.reason);
      }
    }
    // Pods counted and since deleted need no remembering: they cannot come back.
    st.counted.clear();
    for (const std::string& name : counted)
      if (still_there.count(name)) st.counted.push_back(name);
    if (indexed) {
      st.completed_indexes.assign(done.begin(), done.end());
      st.succeeded = static_cast<int32_t>(done.size());
    }
    if (!ReconcileJobPods(owner, job, st, active, active_indexes, restarts)) return;  // its TTL ran out: gone
    if (const Bytes after = Encode(st); after != before) Put("s/" + owner, ToString(after));
  }

  // Removes, creates and finishes as the Job's state asks. False when the
  // Job itself was deleted (ttlSecondsAfterFinished): `job` and `st` are
  // gone then.
  bool ReconcileJobPods(const std::string& owner, const model::Job& job, JobStatusRecord& st,
                        const std::vector<std::string>& active, const std::set<int32_t>& active_indexes,
                        uint32_t restarts) {
    const model::JobSpec& spec = job.spec;
    const int64_t now_ns = ToNanos(env_.now());
    if (!st.condition.empty()) {
      RemoveJobPods(active, "job " + st.condition);
      if (spec.ttl_seconds_after_finished && st.finish_ns >= 0) {
        const int64_t due = st.finish_ns + int64_t{*spec.ttl_seconds_after_finished} * 1'000'000'000;
        if (now_ns >= due) {
          env_.RecordEvent("cluster.job_ttl_expired", "job=" + owner.substr(4));
          (void)RemoveObject("o/" + owner);
          return false;
        }
        WakeAt(owner, Time(Duration(due)));
      }
      return true;
    }
    if (spec.suspend) {
      RemoveJobPods(active, "job suspended");
      st.start_ns = -1;  // upstream starts the clock of activeDeadlineSeconds again on resume
      return true;
    }
    if (st.start_ns < 0) st.start_ns = now_ns;
    // Failed: too many failures (or restarts in place), or active too long.
    const bool in_place = spec.pod_template.spec.restart_policy == "OnFailure";
    const bool restarts_exceeded =
        in_place && (spec.backoff_limit == 0 ? restarts > 0 : restarts >= static_cast<uint32_t>(spec.backoff_limit));
    if (st.failed > spec.backoff_limit || restarts_exceeded) {
      FinishJob(owner, job, st, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit");
      RemoveJobPods(active, "job failed: BackoffLimitExceeded");
      return true;
    }
    if (spec.active_deadline_seconds && *spec.active_deadline_seconds < (int64_t{1} << 32)) {
      const int64_t deadline = st.start_ns + *spec.active_deadline_seconds * 1'000'000'000;
      if (now_ns >= deadline) {
        FinishJob(owner, job, st, "Failed", "DeadlineExceeded", "Job was active longer than specified deadline");
        RemoveJobPods(active, "job failed: DeadlineExceeded");
        return true;
      }
      WakeAt(owner, Time(Duration(deadline)));
    }
    // Complete: enough successes, or (a work queue) one success and nothing left running.
    const bool indexed = spec.completion_mode == "Indexed";
    const int32_t succeeded = st.succeeded;
    const bool complete = spec.completions ? succeeded >= *spec.completions : succeeded > 0 && active.empty();
    if (complete) {
      FinishJob(owner, job, st, "Complete", "", "");
      RemoveJobPods(active, "job complete");
      return true;
    }
    // How many should be active, and which indexes are still wanted.
    std::vector<int32_t> wanted_indexes;
    int32_t want = std::max(spec.parallelism, 0);
    if (indexed) {
      const std::set<int32_t> done(st.completed_indexes.begin(), st.completed_indexes.end());
      int32_t pending = 0;
      for (int32_t i = 0; i < *spec.completions; ++i) {
        if (done.count(i)) continue;
        ++pending;
        if (!active_indexes.count(i)) wanted_indexes.push_back(i);
      }
      want = std::min(want, pending);
    } else if (spec.completions) {
      want = std::min(want, *spec.completions - succeeded);
    } else if (succeeded > 0) {
      want = static_cast<int32_t>(active.size());  // a work queue drains: no new pods
    }
    const int32_t have = static_cast<int32_t>(active.size());
    if (have > want) {
      // Parallelism went down: the pods that run least go first.
      std::vector<std::string> by_progress = active;
      std::stable_sort(by_progress.begin(), by_progress.end(),
                       [&](const std::string& a, const std::string& b) { return Running(a) < Running(b); });
      by_progress.resize(static_cast<size_t>(have - want));
      RemoveJobPods(by_progress, "job parallelism lowered");
      return true;
    }
    if (have == want) return true;
    const Duration backoff = JobPodBackoff(st.failures_since_success);
    if (backoff > Duration::zero() && st.last_failure_ns >= 0) {
      const int64_t ready = st.last_failure_ns + backoff.count();
      if (now_ns < ready) {
        WakeAt(owner, Time(Duration(ready)));
        return true;
      }
    }
    for (int32_t n = 0; n < want - have; ++n) {
      if (indexed && static_cast<size_t>(n) >= wanted_indexes.size()) break;
      CreateJobPod(job, st.uid, indexed ? wanted_indexes[static_cast<size_t>(n)] : -1);
    }
    return true;
  }

  // The newest time of `schedule` in (after, until], found from `until`
  // backwards in growing windows (there may be many since `after`).
  static int64_t NewestScheduled(const model::CronSchedule& schedule, int64_t after, int64_t until) {
    for (int64_t window = 3600;; window *= 2) {
      const int64_t from = std::max(after, until - window);
      int64_t newest = -1;
      for (int64_t t = schedule.Next(from); t >= 0 && t <= until; t = schedule.Next(t)) newest = t;
      if (newest >= 0 || from == after) return newest;
    }
  }

  static std::string Rfc3339(int64_t unix_seconds) {
    const CivilTime c = ToCivil(unix_seconds);
    char text[32];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour, c.minute,
                  c.second);
    return text;
  }

  // A CronJob, as upstream's controller keeps it; see server.h.
  void ReconcileCronJob(const std::string& owner) {
    auto object = objects_.find("o/" + owner);
    if (object == objects_.end()) return;
    const auto& cj = std::get<model::CronJob>(object->second);
    CronJobStatusRecord& st = cron_status_[owner];
    const Bytes before = Encode(st);
    const int64_t now = WallNow();
    if (st.created_unix == 0) st.created_unix = now;
    // Its Jobs: the active ones, and the finished ones past the history limits go, oldest first.
    std::vector<std::string> active;
    std::vector<std::pair<int64_t, std::string>> succeeded, failed;
    for (const std::string& job : cron_jobs_[owner]) {
      auto js = job_status_.find(job);
      if (js == job_status_.end() || js->second.condition.empty())
        active.push_back(job);
      else
        (js->second.condition == "Complete" ? succeeded : failed).emplace_back(js->second.finish_ns, job);
    }
    const auto trim = [&](std::vector<std::pair<int64_t, std::string>>& finished, int32_t limit) {
      std::sort(finished.begin(), finished.end());
      for (size_t i = 0; i + static_cast<size_t>(std::max(limit, 0)) < finished.size(); ++i) {
        env_.RecordEvent("cluster.cronjob_job_deleted", "cronjob=" + owner.substr(8) + " job=" + finished[i].second.substr(4) +
                                                            " why=history limit");
        if (objects_.count("o/" + finished[i].second)) (void)RemoveObject("o/" + finished[i].second);
      }
    };
    trim(succeeded, cj.successful_jobs_history_limit);
    trim(failed, cj.failed_jobs_history_limit);
    const auto persist = [&] {
      if (Encode(st) != before) Put("s/" + owner, ToString(Encode(st)));
    };
    model::CronSchedule schedule;
    std::string why;
    if (cj.suspend || !model::ParseCron(cj.schedule, &schedule, &why)) return persist();
    if (const int64_t next = schedule.Next(now); next >= 0) WakeAt(owner, TimeOfWall(next));
    // The newest time missed since the last run (or since the CronJob came,
    // or since startingDeadlineSeconds ago), and how many were missed.
    int64_t earliest = st.last_schedule_unix >= 0 ? st.last_schedule_unix : st.created_unix;
    if (cj.starting_deadline_seconds) earliest = std::max(earliest, now - std::min<int64_t>(*cj.starting_deadline_seconds, now));
    int64_t newest = -1;
    int missed = 0;
    for (int64_t t = schedule.Next(earliest); t >= 0 && t <= now && missed <= 100; t = schedule.Next(t)) {
      newest = t;
      ++missed;
    }
    if (missed > 100) {
      newest = NewestScheduled(schedule, earliest, now);
      env_.RecordEvent("cluster.cronjob_too_many_missed",
                       "cronjob=" + owner.substr(8) + " missed=" + std::to_string(missed) + "+" +
                           " (set or decrease spec.startingDeadlineSeconds, or check the clock)");
    }
    if (newest < 0) return persist();
    const std::string run = owner + "@" + std::to_string(newest / 60);
    if (cj.starting_deadline_seconds && newest + *cj.starting_deadline_seconds < now) {
      if (skipped_runs_.insert(run).second)
        env_.RecordEvent("cluster.cronjob_missed", "cronjob=" + owner.substr(8) + " scheduled=" + Rfc3339(newest) +
                                                       " (past startingDeadlineSeconds)");
      return persist();
    }
    if (cj.concurrency_policy == "Forbid" && !active.empty()) {
      // Not run, and not counted as run: when the active Job ends, this time
      // still runs if it is within the deadline.
      if (skipped_runs_.insert(run).second)
        env_.RecordEvent("cluster.cronjob_skipped", "cronjob=" + owner.substr(8) + " scheduled=" + Rfc3339(newest) +
                                                        " active=" + active.front().substr(4) + " policy=Forbid");
      return persist();
    }
    if (cj.concurrency_policy == "Replace")
      for (const std::string& job : active) {
        env_.RecordEvent("cluster.cronjob_job_deleted", "cronjob=" + owner.substr(8) + " job=" + job.substr(4) +
                                                            " why=replaced");
        if (objects_.count("o/" + job)) (void)RemoveObject("o/" + job);
      }
    model::Job job;
    job.meta.namespace_ = cj.meta.namespace_;
    job.meta.name = cj.meta.name + "-" + std::to_string(newest / 60);
    job.meta.labels = cj.job_labels;
    job.meta.annotations = cj.job_annotations;
    job.meta.annotations[kOwnerAnnotation] = "CronJob/" + cj.meta.name;
    job.meta.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = Rfc3339(newest);
    job.spec = cj.job_template;
    Object o(job);
    if (!objects_.count(ObjectKey(o))) {
      Put(ObjectKey(o), model::ToYaml(o));
      Take(o);
      env_.RecordEvent("cluster.cronjob_job_created", "cronjob=" + owner.substr(8) + " job=" + job.meta.name +
                                                          " scheduled=" + Rfc3339(newest) +
                                                          " late_s=" + std::to_string(now - newest));
      Kick();
    }
    st.last_schedule_unix = newest;
    persist();
  }

  void CreateStatefulPod(const model::StatefulSet& ss, const std::string& hash, int64_t ordinal,
                         const std::string& owner) {
    model::Pod pod = model::StatefulPod(ss, ordinal);
    pod.meta.labels[kRevisionHashLabel] = hash;
    CreateOwnedPod(std::move(pod), owner);
  }

  void CreateDaemonPod(const model::DaemonSet& ds, const std::string& hash, const std::string& node,
                       const std::string& owner, std::set<std::string>* names) {
    model::Pod pod = sched::DaemonPod(ds, node, hash);
    for (uint64_t salt = 1; names->count(pod.meta.name); ++salt) pod = sched::DaemonPod(ds, node, hash, salt);
    names->insert(pod.meta.name);
    CreateOwnedPod(std::move(pod), owner);
  }

  // ---- Services ------------------------------------------------------------------

  // A pod is an endpoint while it is Running on a Ready node with an address
  // (upstream's Ready condition, which the node lifecycle controller clears
  // on a node that stops reporting).
  bool PodReady(const PodEntry& e) const {
    if (e.pod.pod_ips.empty() || !Running(PodKey(e.pod.meta.namespace_, e.pod.meta.name))) return false;
    auto n = nodes_.find(e.pod.spec.node_name);
    return n != nodes_.end() && n->second.status.ready;
  }

  void AllServicesDirty() {
    const std::string prefix = "o/Service/";
    for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.rfind(prefix, 0) == 0; ++it)
      services_dirty_.insert(model::MetaOf(it->second).namespace_);
  }

  // The endpoints controller and the proxies' feed in one: each service of a
  // namespace that changed is built again over the namespace's pods, and
  // reaches every node's view when it differs.
  void ReconcileServices() {
    std::set<std::string> namespaces;
    namespaces.swap(services_dirty_);
    for (const std::string& ns : namespaces) {
      std::vector<policy::ServicePod> pods;
      const std::string pod_prefix = ns + "/";
      for (auto it = pods_.lower_bound(pod_prefix); it != pods_.end() && it->first.rfind(pod_prefix, 0) == 0; ++it) {
        const PodEntry& e = it->second;
        const auto ip = e.pod.pod_ips.empty() ? std::nullopt : ParseIpv4(e.pod.pod_ips.front());
        pods.push_back(policy::ServicePod{&e.pod, e.pod.spec.node_name, ip.value_or(0), PodReady(e)});
      }
      std::set<std::string> live;
      const std::string prefix = ObjectKey("Service", ns, "");
      for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.rfind(prefix, 0) == 0; ++it) {
        const auto& svc = std::get<model::Service>(it->second);
        const std::string key = "svc/" + ns + "/" + svc.meta.name;
        live.insert(key);
        Bytes value = Encode(policy::BuildServiceEntry(svc, pods));
        Bytes& held = service_values_[key];
        if (held == value) continue;
        held = value;
        for (auto& [name, n] : nodes_)
          if (NodeNamed(name).view->Put(key, value)) touched_.insert(name);
      }
      const std::string view_prefix = "svc/" + ns + "/";
      for (auto it = service_values_.lower_bound(view_prefix);
           it != service_values_.end() && it->first.rfind(view_prefix, 0) == 0;) {
        if (live.count(it->first)) {
          ++it;
          continue;
        }
        for (auto& [name, n] : nodes_)
          if (NodeNamed(name).view->Erase(it->first)) touched_.insert(name);
        it = service_values_.erase(it);
      }
    }
  }

  void Schedule() {
    const Time now = env_.now();
    int budget = 100000;
    while (budget-- > 0) {
      std::optional<sched::Decision> d = scheduler_->ScheduleOne(now);
      if (!d) break;
      switch (d->outcome) {
        case sched::Decision::kBound:
          Bind(d->pod, d->node);
          break;
        case sched::Decision::kNominated:
          ++stats_.preemptions;
          for (const std::string& victim : d->victims) RemovePod(victim, "preempted by " + d->pod);
          break;
        case sched::Decision::kUnschedulable:
          if (unschedulable_[d->pod] != d->reason) {
            unschedulable_[d->pod] = d->reason;
            env_.RecordEvent("cluster.pod_unschedulable", "pod=" + d->pod + " reason=" + d->reason);
          }
          break;
      }
    }
    if (backoff_timer_ != kNoTimer) env_.Cancel(backoff_timer_);
    backoff_timer_ = kNoTimer;
    if (std::optional<Time> next = scheduler_->NextBackoffExpiry()) {
      backoff_timer_ = env_.Schedule(std::max(*next - now, Duration(std::chrono::milliseconds(1))), [this] {
        backoff_timer_ = kNoTimer;
        Kick();
      });
    }
  }

  void Bind(const std::string& key, const std::string& node_name) {
    auto it = pods_.find(key);
    if (it == pods_.end()) return;
    NodeEntry& node = NodeNamed(node_name);
    std::optional<uint32_t> ip = AllocateIp(node);
    if (!ip) {
      // The node's pod range is used up: out of the queue until the next
      // monitor round, not straight back onto the same node.
      env_.RecordEvent("cluster.no_pod_address", "node=" + node_name + " pod=" + key);
      (void)scheduler_->RemovePod(it->second.pod.meta.namespace_, it->second.pod.meta.name, env_.now());
      unschedulable_[key] = "node " + node_name + " has no pod address left in " + node.status.pod_cidr;
      address_wait_.insert(key);
      return;
    }
    PodEntry& e = it->second;
    e.pod.spec.node_name = node_name;
    e.pod.pod_ips = {FormatIpv4(*ip)};
    unschedulable_.erase(key);
    Object o(e.pod);
    e.manifest = model::ToYaml(o);
    objects_[ObjectKey(o)] = o;
    Put(ObjectKey(o), e.manifest);
    PlacePod(e);
    ++stats_.bindings;
    env_.RecordEvent("cluster.pod_scheduled", "pod=" + key + " node=" + node_name);
    env_.RecordMetric("cluster.pod_scheduling_s", ToSeconds(env_.now() - e.created), "node=" + node_name);
  }

  std::optional<uint32_t> AllocateIp(NodeEntry& node) {
    IpPrefix cidr;
    std::string why;
    if (node.status.pod_cidr.empty() || !ParseCidr(node.status.pod_cidr, &cidr, &why)) return std::nullopt;
    const uint32_t base = cidr.v4();
    const uint32_t size = 1u << (32 - cidr.prefix);
    // .0 is the network, .1 the node's own end of the pod bridge, the last the broadcast.
    for (uint32_t i = 2; i + 1 < size; ++i)
      if (!node.used_ips.count(base + i)) return base + i;
    return std::nullopt;
  }

  // Node statuses go through here, so that the pod CIDRs in use are known
  // without a scan of every node at each join.
  void NoteStatus(const std::string& name, const NodeStatus& status) {
    node_status_[name] = status;
    IpPrefix cidr;
    std::string why;
    if (!status.pod_cidr.empty() && ParseCidr(status.pod_cidr, &cidr, &why)) cidrs_in_use_.insert(cidr.v4());
  }

  // The first free share of the cluster CIDR, looking on from the last one
  // given (then from the start, for any freed before it).
  std::string AllocateNodeCidr() {
    const uint32_t count = 1u << (o_.node_cidr_prefix - cluster_cidr_.prefix);
    for (uint32_t k = 0; k < count; ++k) {
      const uint32_t i = (next_cidr_ + k) % count;
      const uint32_t base = cluster_cidr_.v4() + (i << (32 - o_.node_cidr_prefix));
      if (cidrs_in_use_.count(base)) continue;
      next_cidr_ = i + 1;
      cidrs_in_use_.insert(base);
      return Ipv4Prefix(base, o_.node_cidr_prefix).ToString();
    }
    return {};
  }

  void ReconcileVolumes() {
    for (const auto& [name, v] : provisioner_.volumes()) {
      if (volumes_->Find(name)) continue;
      std::vector<NodeId> ids;
      for (const storage::Replica& r : v.replicas) {
        auto n = nodes_.find(r.node);
        if (n == nodes_.end() || n->second.id == kNoNode) break;
        ids.push_back(n->second.id);
      }
      if (ids.size() != v.replicas.size()) continue;  // a replica's node has not joined yet
      storage::VolumeLayout layout;
      layout.name = name;
      layout.block_size = o_.volume_block_size;
      uint64_t blocks = v.size / o_.volume_block_size;
      layout.blocks = static_cast<uint32_t>(std::clamp<uint64_t>(blocks, 1, o_.max_volume_blocks));
      if (Status s = volumes_->CreateVolume(layout, ids); !s.ok()) {
        env_.RecordEvent("cluster.volume_create_failed", "volume=" + name + " " + s.ToString());
        continue;
      }
      env_.RecordEvent("cluster.volume_created", "volume=" + name + " replicas=" + std::to_string(ids.size()));
      schedules_dirty_ = true;
      // Pods already bound that mount it learn where it is, and have it.
      for (auto& [key, p] : pods_) {
        if (p.pod.spec.node_name.empty()) continue;
        for (const model::PodVolume& pv : p.pod.spec.volumes)
          if (pv.claim_name && PodKey(p.pod.meta.namespace_, *pv.claim_name) == name) {
            AttachVolumes(p);
            RefreshPodView(p);
          }
      }
    }
    // Claims still waiting for room.
    for (auto it = unplaced_claims_.begin(); it != unplaced_claims_.end();) {
      auto object = objects_.find(*it);
      const auto* pvc = object == objects_.end() ? nullptr : std::get_if<model::PersistentVolumeClaim>(&object->second);
      if (!pvc || provisioner_.Find(pvc->meta.namespace_, pvc->meta.name)) {
        it = unplaced_claims_.erase(it);
        continue;
      }
      StatusOr<const storage::Volume*> v = provisioner_.UpsertClaim(*pvc);
      if (v.ok() && *v) {
        RecordPlacement(**v);
        volumes_dirty_ = true;
        it = unplaced_claims_.erase(it);
      } else {
        ++it;
      }
    }
    scheduler_->VolumesChanged(env_.now());
    if (volumes_dirty_) Kick();
  }

  void ReconcileSnapshots() {
    for (const auto& [key, object] : objects_) {
      const auto* snap = std::get_if<model::VolumeSnapshot>(&object);
      if (!snap || snap->source_pvc.empty()) continue;
      const std::string volume = PodKey(snap->meta.namespace_, snap->source_pvc);
      const storage::VolumeRecord* record = volumes_->Find(volume);
      if (!record || record->FindSnapshot(snap->meta.name)) continue;
      if (Status s = volumes_->CreateSnapshot(volume, snap->meta.name); !s.ok())
        env_.RecordEvent("cluster.snapshot_failed", "snapshot=" + key + " " + s.ToString());
    }
  }

  // ---- Snapshot schedules and cloud backups ------------------------------------------

  // A schedule as the storage engine's scheduler runs it, and whether its
  // snapshots go to the cloud.
  struct WantedSchedule {
    storage::SchedulePolicy policy;
    bool cloud = false;
    std::string signature;  // what it was made from: a change restarts it
  };

  static storage::CalendarRule Calendar(int hour, int minute, int weekday, int day_of_month, int retain) {
    storage::CalendarRule r;
    r.minute_of_day = hour * 60 + minute;
    r.weekday = weekday;
    r.day_of_month = day_of_month;
    r.retain = retain;
    return r;
  }

  static WantedSchedule FromStork(const model::SchedulePolicy& p, bool cloud) {
    WantedSchedule w;
    w.cloud = cloud;
    std::string sig = cloud ? "cloud" : "local";
    if (p.interval) {
      w.policy.interval = storage::IntervalRule{std::chrono::minutes(p.interval->minutes), p.interval->retain};
      sig += ";i" + std::to_string(p.interval->minutes) + "," + std::to_string(p.interval->retain);
    }
    if (p.daily) {
      w.policy.daily = Calendar(p.daily->time.hour, p.daily->time.minute, 0, 1, p.daily->retain);
      sig += ";d" + p.daily->time.text + "," + std::to_string(p.daily->retain);
    }
    if (p.weekly) {
      w.policy.weekly = Calendar(p.weekly->time.hour, p.weekly->time.minute, p.weekly->weekday, 1, p.weekly->retain);
      sig += ";w" + std::to_string(p.weekly->weekday) + p.weekly->time.text + "," + std::to_string(p.weekly->retain);
    }
    if (p.monthly) {
      w.policy.monthly =
          Calendar(p.monthly->time.hour, p.monthly->time.minute, 0, p.monthly->date, p.monthly->retain);
      sig += ";m" + std::to_string(p.monthly->date) + p.monthly->time.text + "," + std::to_string(p.monthly->retain);
    }
    w.signature = sig;
    return w;
  }

  // Portworx's own snap_schedule: local snapshots; of several rules of one
  // kind, the last written counts.
  static WantedSchedule FromPortworx(const std::vector<model::SnapshotSchedule>& schedules) {
    WantedSchedule w;
    std::string sig = "px";
    for (const model::SnapshotSchedule& s : schedules) {
      if (s.kind == "periodic") {
        w.policy.interval = storage::IntervalRule{std::chrono::minutes(s.interval_minutes), s.retain};
      } else if (s.kind == "daily") {
        w.policy.daily = Calendar(s.hour, s.minute, 0, 1, s.retain);
      } else if (s.kind == "weekly") {
        w.policy.weekly = Calendar(s.hour, s.minute, s.day_of_week, 1, s.retain);
      } else if (s.kind == "monthly") {
        w.policy.monthly = Calendar(s.hour, s.minute, 0, s.day_of_month, s.retain);
      }
      sig += ";" + s.kind + s.weekday + "," + std::to_string(s.interval_minutes) + "," + std::to_string(s.hour) +
             ":" + std::to_string(s.minute) + "," + std::to_string(s.day_of_month) + "," + std::to_string(s.retain);
    }
    w.signature = sig;
    return w;
  }

  // Brings the storage engine's schedules in line with the volumes, their
  // classes and the SchedulePolicies they name.
  void ReconcileSchedules() {
    if (!snapshot_schedules_) return;
    std::map<std::pair<std::string, std::string>, WantedSchedule> want;
    for (const auto& [name, v] : provisioner_.volumes()) {
      if (!volumes_->Find(name)) continue;
      auto sc = objects_.find(ObjectKey("StorageClass", "", v.storage_class));
      const auto* cls = sc == objects_.end() ? nullptr : std::get_if<model::StorageClass>(&sc->second);
      if (!cls || !cls->portworx) continue;
      if (!cls->portworx->snapshot_schedules.empty())
        want[{name, "px-schedule"}] = FromPortworx(cls->portworx->snapshot_schedules);
      for (const model::StorkSchedule& st : cls->portworx->stork_schedules) {
        auto p = objects_.find(ObjectKey("SchedulePolicy", "", st.policy));
        if (p == objects_.end()) {
          if (missing_policies_.insert(name + " " + st.policy).second)
            env_.RecordEvent("storage.schedule_policy_missing",
                             "volume=" + name + " schedule=" + st.name + " policy=" + st.policy +
                                 " (apply a SchedulePolicy of that name; the schedule starts when it exists)");
          continue;
        }
        want[{name, st.name}] = FromStork(std::get<model::SchedulePolicy>(p->second), st.cloud);
      }
    }
    for (auto it = schedules_.begin(); it != schedules_.end();) {
      auto w = want.find(it->first);
      if (w != want.end() && w->second.signature == it->second.signature) {
        ++it;
        continue;
      }
      snapshot_schedules_->Remove(it->first.first, it->first.second);
      it = schedules_.erase(it);
    }
    for (auto& [key, w] : want) {
      if (schedules_.count(key)) continue;
      if (Status s = snapshot_schedules_->Add(key.first, key.second, w.policy); !s.ok()) {
        env_.RecordEvent("storage.schedule_failed", "volume=" + key.first + " schedule=" + key.second + " " + s.ToString());
        continue;
      }
      env_.RecordEvent("storage.schedule_started", "volume=" + key.first + " schedule=" + key.second +
                                                       (w.cloud ? " cloud" : " local"));
      if (w.cloud) {
        CloudState& c = cloud_[key.first];
        if (c.since_ns < 0) c.since_ns = ToNanos(env_.now());
      }
      schedules_[key] = std::move(w);
    }
    // Volumes no cloud schedule covers any longer.
    for (auto it = cloud_.begin(); it != cloud_.end();) {
      bool covered = false;
      for (auto s = schedules_.lower_bound({it->first, ""}); s != schedules_.end() && s->first.first == it->first; ++s)
        covered |= s->second.cloud;
      if (covered || it->second.since_ns < 0) {
        ++it;
        continue;
      }
      if (!it->second.node.empty() && NodeNamed(it->second.node).view->Erase("backup/" + it->first))
        touched_.insert(it->second.node);
      it = cloud_.erase(it);
    }
  }

  void OnScheduledSnapshot(const std::string& volume, const std::string& schedule, const storage::SnapshotRecord& snap) {
    auto s = schedules_.find({volume, schedule});
    if (s == schedules_.end() || !s->second.cloud) return;
    CloudState& c = cloud_[volume];
    if (o_.object_store == kNoNode) {
      ++c.failures;
      env_.RecordEvent("storage.cloudsnap_failed", "volume=" + volume + " snapshot=" + snap.name +
                                                       " reason=\"no object store (ServerOptions::object_store)\"");
      return;
    }
    c.wanted = BackupRequest{volume, snap.name, snap.ready_ns, o_.object_store, o_.cloudsnap_bucket,
                             o_.cloudsnap_full_every};
    c.pending = true;
    PlaceBackup(volume, c);
    Flush();
  }

  // The standing request goes into the view of the node that holds the
  // volume's primary, and leaves the one that held it before.
  void PlaceBackup(const std::string& volume, CloudState& c) {
    const storage::VolumeRecord* record = volumes_->Find(volume);
    std::string node;
    if (c.pending && record)
      for (const auto& [name, n] : nodes_)
        if (n.id == record->primary && n.id != kNoNode) node = name;
    if (!c.node.empty() && c.node != node && NodeNamed(c.node).view->Erase("backup/" + volume))
      touched_.insert(c.node);
    c.node = node;
    if (!node.empty() && NodeNamed(node).view->Put("backup/" + volume, Encode(c.wanted))) touched_.insert(node);
  }

  void PlaceBackups() {
    bool any = false;
    for (auto& [volume, c] : cloud_)
      if (c.pending) {
        PlaceBackup(volume, c);
        any = true;
      }
    if (any) Flush();
  }

  void OnBackupReport(const std::string& node, NodeEntry& n, const std::string& volume) {
    auto v = n.reports.values().find("backup/" + volume);
    BackupReport report;
    if (v == n.reports.values().end() || !Decode(v->second, &report).ok()) return;
    auto it = cloud_.find(volume);
    if (it == cloud_.end()) return;
    CloudState& c = it->second;
    // Heard already: from this node, the one before, or before a restart
    // (an agent sends its reports again to a new session).
    if (report.snapshot == c.last_reported || report.snapshot_ready_ns <= c.newest_ready_ns) return;
    c.last_reported = report.snapshot;
    const std::string what = "volume=" + volume + " snapshot=" + report.snapshot + " node=" + node;
    if (report.ok) {
      ++c.backups;
      if (report.snapshot_ready_ns > c.newest_ready_ns) {
        c.newest_ready_ns = report.snapshot_ready_ns;
        c.newest_snapshot = report.snapshot;
        Put("s/CloudBackup/" + volume, ToString(Encode(report)));
      }
      env_.RecordMetric("storage.cloudsnap_s", ToSeconds(Duration(ToNanos(env_.now()) - report.snapshot_ready_ns)),
                        "volume=" + volume);
      env_.RecordEvent("storage.cloudsnap", what + " seq=" + std::to_string(report.seq) +
                                                (report.full ? " full" : " incremental") +
                                                " blocks=" + std::to_string(report.blocks) +
                                                " bytes=" + std::to_string(report.bytes));
    } else {
      ++c.failures;
      env_.RecordEvent("storage.cloudsnap_failed", what + " reason=\"" + report.error + "\"");
    }
    if (c.pending && report.snapshot == c.wanted.snapshot) {
      c.pending = false;
      PlaceBackup(volume, c);  // takes the request out of the view
    }
  }

  // ---- Node lifecycle --------------------------------------------------------------

  void MonitorNodes() {
    monitor_timer_ = env_.Schedule(o_.node_monitor_period, [this] { MonitorNodes(); });
    PlaceBackups();
    const Time now = env_.now();
    for (auto& [name, n] : nodes_) {
      if (!n.registered || n.status.pod_cidr.empty()) continue;  // never joined
      if (n.status.ready && now - n.last_renew > o_.node_monitor_grace) {
        n.status.ready = false;
        AllServicesDirty();
        n.not_ready_since = now;
        SetUnreachableTaint(name, n, true);
        env_.RecordEvent("cluster.node_not_ready", "node=" + name + " silent_s=" +
                                                       std::to_string(ToSeconds(now - n.last_renew)));
        lost_nodes_[name] = LostNode{n.last_renew, {}};
        ScheduleEvictions(name, n);
      }
    }
    // Evictions that are due.
    std::vector<std::string> due;
    for (const auto& [key, at] : evict_at_)
      if (at <= now) due.push_back(key);
    for (const std::string& key : due) {
      auto it = pods_.find(key);
      evict_at_.erase(key);
      if (it == pods_.end()) continue;
      const std::string node = it->second.pod.spec.node_name;
      if (auto lost = lost_nodes_.find(node); lost != lost_nodes_.end() && !it->second.owner.empty())
        lost->second.owners.insert(it->second.pod.meta.namespace_ + "/" + it->second.owner);
      ++stats_.evictions;
      env_.RecordEvent("cluster.pod_evicted", "pod=" + key + " node=" + node + " taint=" + kUnreachableTaint);
      RemovePod(key, "evicted: node " + node + " unreachable");
    }
    for (const std::string& key : address_wait_) {
      auto p = pods_.find(key);
      if (p != pods_.end() && p->second.pod.spec.node_name.empty())
        (void)scheduler_->AddPod(p->second.pod, now, OwnerSelector(p->second));
    }
    address_wait_.clear();
    CheckRecoveries();
    Flush();
    Kick();
  }

  void ScheduleEvictions(const std::string& node_name, const NodeEntry& n) {
    for (const auto& [key, p] : pods_) {
      if (p.pod.spec.node_name != node_name || p.released) continue;
      std::optional<int64_t> seconds = UnreachableToleration(p.pod, o_.default_toleration_seconds);
      if (!seconds) continue;  // tolerates it forever
      evict_at_[key] = n.not_ready_since + std::chrono::seconds(std::max<int64_t>(*seconds, 0));
    }
  }

  void SetUnreachableTaint(const std::string& name, NodeEntry& n, bool on) {
    n.status.unreachable_taint = on;
    NoteStatus(name, n.status);
    Put("s/Node/" + name, ToString(Encode(n.status)));
    model::Node node = n.node;
    auto& taints = node.taints;
    taints.erase(std::remove_if(taints.begin(), taints.end(),
                                [](const model::Taint& t) { return t.key == kUnreachableTaint; }),
                 taints.end());
    if (on) {
      taints.push_back(model::Taint{kUnreachableTaint, "", "NoSchedule"});
      taints.push_back(model::Taint{kUnreachableTaint, "", "NoExecute"});
    }
    Object o(node);
    Put(ObjectKey(o), model::ToYaml(o));
    Take(o);
  }

  // Records, per lost node, when every workload it lost runs again in full.
  void CheckRecoveries() {
    const Time now = env_.now();
    for (auto it = lost_nodes_.begin(); it != lost_nodes_.end();) {
      LostNode& lost = it->second;
      bool evictions_pending = std::any_of(evict_at_.begin(), evict_at_.end(), [&](const auto& e) {
        auto p = pods_.find(e.first);
        return p != pods_.end() && p->second.pod.spec.node_name == it->first;
      });
      bool all_back = !evictions_pending && !lost.owners.empty();
      for (const std::string& owner : lost.owners) {
        size_t slash = owner.find('/');
        std::string ns = owner.substr(0, slash), ref = owner.substr(slash + 1);
        auto d = objects_.find(ObjectKey("Deployment", ns, ref.substr(ref.find('/') + 1)));
        if (d == objects_.end()) continue;
        int32_t want = std::get<model::Deployment>(d->second).replicas, running = 0;
        for (const auto& [k, p] : pods_)
          if (p.owner == ref && p.pod.meta.namespace_ == ns && Running(k)) ++running;
        if (running < want) all_back = false;
      }
      if (all_back) {
        env_.RecordMetric("cluster.node_loss_recovery_s", ToSeconds(now - lost.last_heard), "node=" + it->first);
        env_.RecordEvent("cluster.node_loss_recovered", "node=" + it->first);
        it = lost_nodes_.erase(it);
      } else if (!evictions_pending && lost.owners.empty()) {
        it = lost_nodes_.erase(it);  // it ran nothing anyone replaces
      } else {
        ++it;
      }
    }
  }

  // ---- Agents ----------------------------------------------------------------------

  void OnMessage(NodeId from, ByteView message) {
    Envelope e;
    if (Status s = DecodeEnvelope(message, &e); !s.ok()) return Bad(from, s);
    switch (e.type) {
      case MessageType::kHello: {
        Hello m;
        if (Status s = Decode(e, &m); !s.ok()) return Bad(from, s);
        return OnHello(from, m);
      }
      case MessageType::kJoin: {
        Join m;
        if (Status s = Decode(e, &m); !s.ok()) return Bad(from, s);
        return OnJoin(from, m);
      }
      default:
        break;
    }
    SessionHeader h;
    if (Status s = PeekSession(e, &h); !s.ok()) return Bad(from, s);
    auto sit = sessions_.find(h.session);
    if (sit == sessions_.end()) {
      ++stats_.unauthenticated;
      env_.Send(from, kAgentPort, Encode(UnknownSession{h.session}));
      return;
    }
    NodeEntry& n = NodeNamed(sit->second);
    Body body;
    if (Status s = OpenSession(e, message, n.session_key, &body); !s.ok()) {
      ++stats_.unauthenticated;
      env_.RecordEvent("cluster.message_dropped", "from=" + std::to_string(from) + " " + s.ToString());
      return;
    }
    if (h.counter <= n.recv_counter) {
      ++stats_.stale_messages;
      return;
    }
    n.recv_counter = h.counter;
    n.id = from;
    const std::string name = sit->second;
    if (auto* renew = std::get_if<Renew>(&body)) {
      OnRenew(name, n);
      n.view->OnAck(renew->view);
      SendSession(n, RenewAck{});
      SendView(name, n, false);
    } else if (auto* ack = std::get_if<ViewAck>(&body)) {
      n.view->OnAck(ack->ack);
      in_flight_.erase(name);  // answered: the next chunk may go at once
      SendView(name, n, false);
    } else if (auto* status = std::get_if<StatusSync>(&body)) {
      std::vector<std::string> changed;
      SyncAck a = n.reports.Apply(status->chunk, &changed);
      OnReports(name, n, changed);
      SendSession(n, StatusAck{a});
    } else {
      Bad(from, InvalidArgument(std::string("an agent does not send ") + MessageTypeName(e.type)));
    }
  }

  void Bad(NodeId from, const Status& s) {
    ++stats_.bad_messages;
    env_.RecordEvent("cluster.message_dropped", "from=" + std::to_string(from) + " " + s.ToString());
  }

  void Refuse(NodeId from, const std::string& node, const std::string& reason) {
    ++stats_.refused_joins;
    env_.RecordEvent("cluster.join_refused", "node=" + node + " from=" + std::to_string(from) + " reason=" + reason);
    env_.Send(from, kAgentPort, Encode(cluster::Refuse{reason}));
  }

  void OnHello(NodeId from, const Hello& m) {
    if (m.node.empty()) return Refuse(from, m.node, "a node needs a name");
    const Time now = env_.now();
    for (auto it = challenges_.begin(); it != challenges_.end();)
      it = it->second.expires <= now ? challenges_.erase(it) : std::next(it);
    if (challenges_.size() >= 65536) return Refuse(from, m.node, "too many joins in progress; try again");
    Nonce server_nonce = NewNonce(env_.random());
    challenges_[server_nonce] = Challenge{m.node, m.agent_nonce, now + kChallengeLifetime};
    env_.Send(from, kAgentPort,
              Encode(cluster::Challenge{m.agent_nonce, server_nonce, ServerProof(key_, m.agent_nonce, server_nonce, m.node)}));
  }

  void OnJoin(NodeId from, const Join& m) {
    auto it = challenges_.find(m.server_nonce);
    if (it == challenges_.end() || it->second.expires <= env_.now() || it->second.node != m.node ||
        it->second.agent_nonce != m.agent_nonce)
      return Refuse(from, m.node, "no challenge of this server matches the join (replayed, expired or forged)");
    if (!SameMac(AgentProof(key_, m.agent_nonce, m.server_nonce, m.node, m.node_manifest), m.proof)) {
      challenges_.erase(it);
      return Refuse(from, m.node, "the agent does not hold this cluster's token");
    }
    challenges_.erase(it);
    model::LoadResult loaded = model::LoadManifests(m.node_manifest, "join of " + m.node);
    const model::Node* node = loaded.objects.size() == 1 ? std::get_if<model::Node>(&loaded.objects[0]) : nullptr;
    if (!loaded.ok() || !node || node->meta.name != m.node)
      return Refuse(from, m.node, "the join must carry one Node named " + m.node +
                                      (loaded.errors.empty() ? "" : ": " + loaded.errors.front().ToString()));
    for (const auto& [other_name, other] : nodes_) {
      if (other.id == from && other_name != m.node && other.session)
        return Refuse(from, m.node, "node id " + std::to_string(from) + " is held by node " + other_name +
                                        "; give this node another name");
    }
    NodeEntry& n = NodeNamed(m.node);
    if (!n.registered) {
      Object o(*node);
      Put(ObjectKey(o), model::ToYaml(o));
      Take(o);
    }
    if (n.status.pod_cidr.empty()) {
      n.status.pod_cidr = AllocateNodeCidr();
      if (n.status.pod_cidr.empty())
        return Refuse(from, m.node, "the cluster CIDR " + o_.cluster_cidr + " has no node range left");
    }
    if (n.session) sessions_.erase(n.session);
    do n.session = env_.random().Next();
    while (n.session == 0 || sessions_.count(n.session));
    sessions_[n.session] = m.node;
    n.session_key = SessionKey(key_, m.agent_nonce, m.server_nonce);
    n.send_counter = n.recv_counter = 0;
    n.reports = SyncReceiver();
    n.view->ResetReceiver();
    n.id = from;
    SetPeer(m.node, n, *node);
    OnRenew(m.node, n);
    ++stats_.joins;
    env_.RecordEvent("cluster.node_joined", "node=" + m.node + " id=" + std::to_string(from) +
                                               " pod_cidr=" + n.status.pod_cidr);
    NoteStatus(m.node, n.status);
    Put("s/Node/" + m.node, ToString(Encode(n.status)));
    volumes_dirty_ = true;
    Flush();
    Kick();
    // Welcome only once the registration is durable.
    const std::string name = m.node;
    const uint64_t session = n.session;
    datastore_->AfterDurable([this, name, session] {
      NodeEntry& n = NodeNamed(name);
      if (n.session != session) return;
      env_.Send(n.id, kAgentPort,
                Encode(Welcome{session, n.status.pod_cidr, WelcomeProof(n.session_key, session, n.status.pod_cidr)}));
      SendView(name, n, false);
    });
  }

  // A real node says where its agent is reached: every node's view learns it
  // ("peer/<name>"), and the joining node learns every other.
  void SetPeer(const std::string& name, NodeEntry& n, const model::Node& node) {
    auto annotation = [&](const char* key) {
      auto it = node.meta.annotations.find(key);
      return it == node.meta.annotations.end() ? std::string() : it->second;
    };
    const std::string address = annotation(kInternalIpAnnotation);
    const std::string port_text = annotation(kAgentPortAnnotation);
    const auto port = ParsePort(port_text);
    if (address.empty() || !ParseIpv4(address) || !port) {
      if (!address.empty() || !port_text.empty())
        env_.RecordEvent("cluster.peer_ignored", "node=" + name + " reason=\"" + std::string(kInternalIpAnnotation) +
                                                    " must be an IPv4 address and " + kAgentPortAnnotation +
                                                    " a port\"");
      return;
    }
    n.address = address;
    n.agent_port = *port;
    const std::string key = "peer/" + name;
    const Bytes value = Encode(PeerRecord{name, n.id, n.address, n.agent_port, n.status.pod_cidr});
    for (auto& [other_name, other] : nodes_) {
      if (other.view->Put(key, value)) touched_.insert(other_name);
      if (other_name == name || other.address.empty()) continue;
      const Bytes theirs =
          Encode(PeerRecord{other_name, other.id, other.address, other.agent_port, other.status.pod_cidr});
      if (n.view->Put("peer/" + other_name, theirs)) touched_.insert(name);
    }
  }

  static std::optional<uint16_t> ParsePort(const std::string& text) {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    const int v = std::stoi(text);
    if (v < 1 || v > 65535) return std::nullopt;
    return static_cast<uint16_t>(v);
  }

  void OnRenew(const std::string& name, NodeEntry& n) {
    n.last_renew = env_.now();
    if (!n.status.ready) {
      n.status.ready = true;
      AllServicesDirty();
      if (n.status.unreachable_taint) {
        SetUnreachableTaint(name, n, false);
        env_.RecordEvent("cluster.node_ready", "node=" + name);
      }
      NoteStatus(name, n.status);
      Put("s/Node/" + name, ToString(Encode(n.status)));
      // Pods waiting to be evicted from it stay.
      for (auto it = evict_at_.begin(); it != evict_at_.end();) {
        auto p = pods_.find(it->first);
        it = p != pods_.end() && p->second.pod.spec.node_name == name ? evict_at_.erase(it) : std::next(it);
      }
      Flush();
      Kick();
    }
  }

  void OnReports(const std::string& node, NodeEntry& n, const std::vector<std::string>& changed) {
    for (const std::string& key : changed) {
      if (key.rfind("backup/", 0) == 0) {
        OnBackupReport(node, n, key.substr(7));
        continue;
      }
      if (key.rfind("pod/", 0) != 0) continue;
      const std::string pod_key = key.substr(4);
      auto p = pods_.find(pod_key);
      if (p == pods_.end() || p->second.pod.spec.node_name != node) continue;  // not (or no longer) its pod
      const Bytes* value = nullptr;
      auto v = n.reports.values().find(key);
      if (v != n.reports.values().end()) value = &v->second;
      PodReport report;
      if (!value || !Decode(*value, &report).ok()) continue;
      auto old = reports_.find(pod_key);
      if (old != reports_.end() && old->second.phase == report.phase && old->second.reason == report.reason &&
          old->second.restarts == report.restarts && old->second.exit_code == report.exit_code)
        continue;
      if (old == reports_.end() || (old->second.phase == PodPhase::kRunning) != (report.phase == PodPhase::kRunning))
        services_dirty_.insert(p->second.pod.meta.namespace_);
      reports_[pod_key] = report;
      Put("s/Pod/" + pod_key, ToString(Encode(report)));
      if (Terminal(report.phase)) ReleaseTerminated(pod_key, p->second, report);
      if (report.phase == PodPhase::kRunning)
        running_.insert(pod_key);
      else
        running_.erase(pod_key);
      if (report.phase == PodPhase::kRunning && !p->second.startup_recorded) {
        p->second.startup_recorded = true;
        env_.RecordMetric("cluster.pod_startup_s", ToSeconds(env_.now() - p->second.created), "node=" + node);
      }
      if (std::string o = OwnerKeyOf(p->second); !o.empty()) dirty_owners_.insert(o);
    }
    CheckRecoveries();
    // Every apply since the cluster last ran everything it holds is done.
    if (!applies_.empty() && running_.size() + terminal_.size() == pods_.size()) {
      for (Time t : applies_) env_.RecordMetric("cluster.apply_to_running_s", ToSeconds(env_.now() - t));
      applies_.clear();
    }
    Flush();
    Kick();
  }

  template <typename M>
  void SendSession(NodeEntry& n, const M& body) {
    if (!n.session || n.id == kNoNode) return;
    env_.Send(n.id, kAgentPort, EncodeSession(n.session, ++n.send_counter, n.session_key, Body(body)));
  }

  void SendView(const std::string& name, NodeEntry& n, bool resend) {
    if (!n.session || n.id == kNoNode) return;
    if (!resend && env_.now() - n.last_sent < o_.resend && n.last_sent != Time{} && in_flight_.count(name)) return;
    std::optional<SyncChunk> chunk = n.view->Next(o_.max_chunk_bytes, n.durable_seq);
    if (!chunk) {
      in_flight_.erase(name);
      return;
    }
    in_flight_.insert(name);
    n.last_sent = env_.now();
    ++stats_.view_chunks_sent;
    SendSession(n, ViewSync{std::move(*chunk)});
  }

  void Resend() {
    resend_timer_ = env_.Schedule(o_.resend, [this] { Resend(); });
    const Time now = env_.now();
    std::vector<std::string> names(in_flight_.begin(), in_flight_.end());
    for (const std::string& name : names) {
      NodeEntry& n = NodeNamed(name);
      if (now - n.last_sent >= o_.resend) SendView(name, n, true);
    }
  }

  struct LostNode {
    Time last_heard{};
    std::set<std::string> owners;  // "namespace/Deployment/name"
  };

  Env& env_;
  ServerOptions o_;
  Key key_{};
  bool token_ok_ = false;
  bool cidr_ok_ = false;
  bool services_ok_ = false;
  IpPrefix service_range_;
  IpPrefix cluster_cidr_;
  const uint64_t epoch_;
  bool serving_ = false;
  bool recovering_ = false;
  std::unique_ptr<Datastore> datastore_;
  std::unique_ptr<storage::VolumeController> volumes_;
  std::unique_ptr<storage::SnapshotScheduler> snapshot_schedules_;  // after volumes_: it holds a reference
  std::map<std::pair<std::string, std::string>, WantedSchedule> schedules_;  // by (volume, schedule name)
  std::set<std::string> missing_policies_;  // "volume policy" already said to be missing
  storage::Provisioner provisioner_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  PolicyViews policy_;

  std::map<std::string, Object> objects_;         // by key (o/...)
  std::map<std::string, Revision> revisions_;     // by key, as committed
  std::map<std::string, PodEntry> pods_;          // by namespace/name
  std::map<std::string, PodReport> reports_;      // by namespace/name
  std::set<std::string> running_;                 // pods whose report says Running
  std::vector<Time> applies_;                     // applies not yet seen through to every pod Running
  std::map<std::string, std::string> unschedulable_;
  std::set<std::string> address_wait_;  // pods taken out of the queue for want of an address
  std::map<std::string, NodeEntry> nodes_;
  std::map<std::string, NodeStatus> node_status_;
  std::map<std::string, VolumePlacementRecord> placements_;
  std::map<std::string, CloudState> cloud_;  // by volume
  std::map<std::string, Time> evict_at_;
  std::map<std::string, LostNode> lost_nodes_;
  std::map<uint64_t, std::string> sessions_;
  std::map<Nonce, Challenge> challenges_;
  std::set<std::string> in_flight_;  // nodes with a view chunk unacknowledged

  std::vector<Mutation> batch_;
  std::set<std::string> touched_;  // nodes whose view changed since the last Flush
  std::set<uint32_t> cidrs_in_use_;  // pod CIDR bases of every node status
  uint32_t next_cidr_ = 0;           // where AllocateNodeCidr looks first
  std::set<std::string> unplaced_claims_;  // object keys of claims without a volume yet
  bool volumes_dirty_ = false, snapshots_dirty_ = false, schedules_dirty_ = true;
  // Workload controllers (Deployments, DaemonSets, StatefulSets): each one's
  // pod template and its hash, its pods, and those whose pods changed since
  // they were last reconciled.
  std::map<std::string, Template> templates_;               // by Kind/namespace/name
  std::map<std::string, std::set<std::string>> owned_;      // by Kind/namespace/name: pod keys
  std::set<std::string> dirty_owners_;
  // Namespaces whose services' endpoints may have changed; each service's
  // entry as every node's view holds it ("svc/<ns>/<name>").
  std::set<std::string> services_dirty_;
  std::map<std::string, Bytes> service_values_;
  // Batch: pods that ran to their end, each Job's and CronJob's status (by
  // Kind/namespace/name), a CronJob's Jobs, and when a controller wants to
  // look again (a back-off, a deadline, a TTL, the next scheduled time).
  std::set<std::string> terminal_;                              // pod keys
  std::map<std::string, JobStatusRecord> job_status_;
  std::map<std::string, CronJobStatusRecord> cron_status_;
  std::map<std::string, std::set<std::string>> cron_jobs_;      // CronJob/ns/name -> Job/ns/name
  std::set<std::string> skipped_runs_;                          // "CronJob/ns/name@minute" already told
  std::map<std::string, Time> wake_;
  Time wake_timer_at_{};
  // Set while the Job controller removes pods itself (a finished, suspended
  // or scaled-down Job): those are not failures.
  bool job_controller_removing_ = false;

  std::map<uint64_t, WatchState> watches_;
  uint64_t next_watch_ = 1;

  TimerId monitor_timer_ = kNoTimer, resend_timer_ = kNoTimer, reconcile_timer_ = kNoTimer,
          backoff_timer_ = kNoTimer, wake_timer_ = kNoTimer;
  ServerStats stats_;
};

Server::Server(Env& env, ServerOptions options) : impl_(std::make_unique<Impl>(env, std::move(options))) {}
Server::~Server() = default;
void Server::Start(std::function<void(Status)> done) { impl_->Start(std::move(done)); }
bool Server::serving() const { return impl_->serving(); }
void Server::Apply(const std::string& yaml, const std::string& source, std::function<void(ApplyResult)> done) {
  impl_->Apply(yaml, source, std::move(done));
}
void Server::Delete(const std::string& kind, const std::string& ns, const std::string& name,
                    std::function<void(Status)> done) {
  impl_->Delete(kind, ns, name, std::move(done));
}
std::optional<StoredObject> Server::Get(const std::string& kind, const std::string& ns, const std::string& name) const {
  return impl_->Get(kind, ns, name);
}
std::vector<StoredObject> Server::List(const std::string& kind, const std::string& ns) const {
  return impl_->List(kind, ns);
}
StatusOr<uint64_t> Server::Watch(const std::string& prefix, Revision from, std::function<void(const WatchEvent&)> fn) {
  return impl_->Watch(prefix, from, std::move(fn));
}
void Server::Unwatch(uint64_t id) { impl_->Unwatch(id); }
Revision Server::revision() const { return impl_->revision(); }
std::vector<PodInfo> Server::Pods() const { return impl_->Pods(); }
std::optional<PodInfo> Server::FindPod(const std::string& ns, const std::string& name) const {
  return impl_->FindPod(ns, name);
}
std::vector<NodeInfo> Server::Nodes() const { return impl_->Nodes(); }
std::vector<JobInfo> Server::Jobs() const { return impl_->Jobs(); }
std::vector<CronJobInfo> Server::CronJobs() const { return impl_->CronJobs(); }
const ServerStats& Server::stats() const { return impl_->stats(); }
const storage::VolumeController& Server::volumes() const { return impl_->volumes(); }
std::vector<CloudBackupInfo> Server::CloudBackups() const { return impl_->CloudBackups(); }

}  // namespace edgebed::cluster
