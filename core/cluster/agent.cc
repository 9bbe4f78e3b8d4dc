#include "core/cluster/agent.h"

#include <cstring>
#include <map>
#include <set>

#include "core/cluster/auth.h"
#include "core/cluster/policy_view.h"
#include "core/cluster/protocol.h"
#include "core/cluster/records.h"
#include "core/cluster/sync.h"
#include "core/model/emit.h"
#include "core/model/loader.h"
#include "core/policy/classifier.h"
#include "core/policy/policy_set.h"
#include "core/storage/cloudsnap.h"
#include "core/storage/object_store.h"
#include "core/storage/sharedv4.h"

namespace edgebed::cluster {
namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

class Agent::Impl {
 public:
  Impl(Env& env, AgentOptions options, WorkloadRuntime& runtime, VolumeAccess* io)
      : env_(env),
        o_(std::move(options)),
        runtime_(runtime),
        io_(io),
        reports_(env.random().Next() | 1),
        storage_(env, o_.server, o_.replication),
        shared_server_(env, storage_) {
    runtime_.SetReporter([this](const std::string& key, const PodReport& r) { OnReport(key, r); });
  }

  ~Impl() {
    env_.Unlisten(kAgentPort);
    for (TimerId t : {join_timer_, renew_timer_, resend_timer_, program_timer_})
      if (t != kNoTimer) env_.Cancel(t);
    for (const auto& [volume, b] : backups_)
      if (b.retry != kNoTimer) env_.Cancel(b.retry);
    for (const auto& [key, run] : running_) runtime_.Stop(key);
  }

  Status Start() {
    StatusOr<ClusterToken> token = ParseToken(o_.token);
    if (!token.ok()) return token.status();
    key_ = DeriveClusterKey(token->secret);
    if (o_.node.meta.name.empty()) return InvalidArgument("the agent's node needs a name");
    manifest_ = model::ToYaml(model::Object(o_.node));
    if (Status s = env_.Listen(kAgentPort, [this](NodeId from, ByteView m) { OnMessage(from, m); }); !s.ok())
      return s;
    retry_ = o_.join_retry;
    SendHello();
    renew_timer_ = env_.Schedule(o_.lease_renew, [this] { Renew(); });
    resend_timer_ = env_.Schedule(o_.resend, [this] { Resend(); });
    return Status::Ok();
  }

  bool joined() const { return session_ != 0; }
  bool server_reachable() const {
    return joined() && env_.now() - last_heard_ < o_.server_timeout;
  }
  const std::string& pod_cidr() const { return pod_cidr_; }
  std::vector<std::string> pods() const {
    std::vector<std::string> out;
    for (const auto& [key, run] : running_) out.push_back(key);
    return out;
  }
  const policy::ServiceTable& services() const { return services_; }
  policy::Dataplane* dataplane() { return dataplane_.get(); }
  std::vector<std::string> view_keys() const {
    std::vector<std::string> out;
    for (const auto& [key, value] : view_.values()) out.push_back(key);
    return out;
  }
  const AgentStats& stats() const { return stats_; }
  storage::StorageNode& storage() { return storage_; }

  void Write(const std::string& volume, uint32_t block, Bytes data, WriteDone done) {
    if (storage_.Serving(volume)) return storage_.Write(volume, block, std::move(data), std::move(done));
    Client().Write(volume, block, std::move(data), std::move(done));
  }
  void Read(const std::string& volume, uint32_t block, ReadDone done) {
    if (storage_.Serving(volume)) return storage_.Read(volume, block, std::move(done));
    Client().Read(volume, block, std::move(done));
  }

 private:
  // ---- Joining -----------------------------------------------------------------

  void SendHello() {
    if (join_timer_ != kNoTimer) env_.Cancel(join_timer_);
    agent_nonce_ = NewNonce(env_.random());
    joining_ = true;
    env_.Send(o_.server, kServerPort, Encode(Hello{o_.node.meta.name, agent_nonce_, incarnation_}));
    join_timer_ = env_.Schedule(retry_, [this] {
      join_timer_ = kNoTimer;
      retry_ = std::min(retry_ * 2, o_.max_join_retry);
      SendHello();
    });
  }

  void OnMessage(NodeId from, ByteView message) {
    if (from != o_.server) return Bad(from, PermissionDenied("a message not from the server"));
    Envelope e;
    if (Status s = DecodeEnvelope(message, &e); !s.ok()) return Bad(from, s);
    switch (e.type) {
      case MessageType::kChallenge: {
        cluster::Challenge m;
        if (Status s = Decode(e, &m); !s.ok()) return Bad(from, s);
        return OnChallenge(m);
      }
      case MessageType::kWelcome: {
        Welcome m;
        if (Status s = Decode(e, &m); !s.ok()) return Bad(from, s);
        return OnWelcome(m);
      }
      case MessageType::kRefuse: {
        cluster::Refuse m;
        if (Status s = Decode(e, &m); !s.ok()) return Bad(from, s);
        // Unauthenticated, so only a reason to log: the retry goes on.
        ++stats_.refusals;
        env_.RecordEvent("cluster.agent_refused", "node=" + o_.node.meta.name + " reason=" + m.reason);
        return;
      }
      case MessageType::kUnknownSession: {
        UnknownSession m;
        if (Status s = Decode(e, &m); !s.ok()) return Bad(from, s);
        if (m.session == session_ && session_ != 0 && !joining_) {
          env_.RecordEvent("cluster.agent_rejoining", "node=" + o_.node.meta.name);
          retry_ = o_.join_retry;
          SendHello();
        }
        return;
      }
      default:
        break;
    }
    SessionHeader h;
    if (Status s = PeekSession(e, &h); !s.ok()) return Bad(from, s);
    if (h.session != session_ || session_ == 0) {
      ++stats_.unauthenticated;
      return;
    }
    Body body;
    if (Status s = OpenSession(e, message, session_key_, &body); !s.ok()) {
      ++stats_.unauthenticated;
      env_.RecordEvent("cluster.message_dropped", "node=" + o_.node.meta.name + " " + s.ToString());
      return;
    }
    if (h.counter <= recv_counter_) {
      ++stats_.stale_messages;
      return;
    }
    recv_counter_ = h.counter;
    last_heard_ = env_.now();
    if (auto* sync = std::get_if<ViewSync>(&body)) {
      std::vector<std::string> changed;
      SyncAck ack = view_.Apply(sync->chunk, &changed);
      SendSession(ViewAck{ack});
      OnView(changed);
      // Applied whole and last: the view is the server's, every pod of it started.
      if (sync->chunk.last && ack.epoch == sync->chunk.epoch && ack.seq == sync->chunk.to && !view_complete_) {
        view_complete_ = true;
        if (o_.observer) o_.observer->ViewComplete();
      }
    } else if (auto* ack = std::get_if<StatusAck>(&body)) {
      reports_.OnAck(ack->ack);
      SendReports();
    } else if (std::holds_alternative<RenewAck>(body)) {
      // last_heard_ is all it says.
    } else {
      Bad(from, InvalidArgument(std::string("the server does not send ") + MessageTypeName(e.type)));
    }
  }

  void OnChallenge(const cluster::Challenge& m) {
    if (!joining_ || m.agent_nonce != agent_nonce_) return;  // not an answer to our Hello
    if (!SameMac(ServerProof(key_, m.agent_nonce, m.server_nonce, o_.node.meta.name), m.proof)) {
      ++stats_.unauthenticated;
      env_.RecordEvent("cluster.server_unverified",
                       "node=" + o_.node.meta.name + " the server does not hold this cluster's token");
      return;
    }
    server_nonce_ = m.server_nonce;
    env_.Send(o_.server, kServerPort,
              Encode(Join{o_.node.meta.name, agent_nonce_, server_nonce_, manifest_,
                          AgentProof(key_, agent_nonce_, server_nonce_, o_.node.meta.name, manifest_)}));
  }

  void OnWelcome(const Welcome& m) {
    if (!joining_) return;
    Key session_key = SessionKey(key_, agent_nonce_, server_nonce_);
    if (!SameMac(WelcomeProof(session_key, m.session, m.pod_cidr), m.proof)) {
      ++stats_.unauthenticated;
      return;
    }
    joining_ = false;
    if (join_timer_ != kNoTimer) env_.Cancel(join_timer_);
    join_timer_ = kNoTimer;
    session_ = m.session;
    session_key_ = session_key;
    send_counter_ = recv_counter_ = 0;
    pod_cidr_ = m.pod_cidr;
    last_heard_ = env_.now();
    retry_ = o_.join_retry;
    ++stats_.joins;
    reports_.ResetReceiver();  // a new session: the server's copy starts from nothing
    env_.RecordEvent("cluster.agent_joined", "node=" + o_.node.meta.name + " pod_cidr=" + pod_cidr_);
    SendSession(cluster::Renew{view_.position()});
    SendReports();
  }

  void Renew() {
    renew_timer_ = env_.Schedule(o_.lease_renew, [this] { Renew(); });
    if (session_ != 0) SendSession(cluster::Renew{view_.position()});
  }

  void Resend() {
    resend_timer_ = env_.Schedule(o_.resend, [this] { Resend(); });
    if (!reports_.caught_up()) SendReports();
  }

  template <typename M>
  void SendSession(const M& body) {
    if (session_ == 0) return;
    env_.Send(o_.server, kServerPort, EncodeSession(session_, ++send_counter_, session_key_, Body(body)));
  }

  void SendReports() {
    std::optional<SyncChunk> chunk = reports_.Next(256u << 10);
    if (chunk) SendSession(StatusSync{std::move(*chunk)});
  }

  void Bad(NodeId from, const Status& s) {
    ++stats_.bad_messages;
    env_.RecordEvent("cluster.message_dropped",
                     "node=" + o_.node.meta.name + " from=" + std::to_string(from) + " " + s.ToString());
  }

  // ---- The view ------------------------------------------------------------------

  void OnView(const std::vector<std::string>& changed) {
    stats_.view_changes += changed.size();
    bool policy = false, peers = false, services = false;
    for (const std::string& key : changed) {
      if (StartsWith(key, "pod/")) {
        OnPod(key.substr(4));
        policy = true;  // the set of local endpoints may have changed
      } else if (StartsWith(key, "backup/")) {
        NextBackup(key.substr(7));
      } else if (StartsWith(key, "svc/")) {
        OnService(key);
        services = true;
      } else if (StartsWith(key, "peer/")) {
        peers = true;
      } else {
        policy = true;
      }
    }
    if (o_.observer && peers) o_.observer->PeersChanged(Peers());
    if (o_.observer && services) o_.observer->ServicesChanged(services_);
    if (policy && program_timer_ == kNoTimer)
      program_timer_ = env_.Schedule(Duration::zero(), [this] {
        program_timer_ = kNoTimer;
        Program();
      });
  }

  std::vector<PeerRecord> Peers() {
    std::vector<PeerRecord> out;
    for (auto it = view_.values().lower_bound("peer/"); it != view_.values().end() && StartsWith(it->first, "peer/");
         ++it) {
      PeerRecord p;
      if (Status s = Decode(it->second, &p); !s.ok()) {
        Bad(o_.server, s);
        continue;
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  // The node's proxy and name lookups follow the services of the view.
  void OnService(const std::string& key) {
    auto value = view_.values().find(key);
    const std::string name = key.substr(4);  // "<ns>/<name>"
    const size_t slash = name.find('/');
    if (value == view_.values().end()) {
      if (slash != std::string::npos) services_.Remove(name.substr(0, slash), name.substr(slash + 1));
      return;
    }
    policy::ServiceEntry entry;
    if (Status s = Decode(value->second, &entry); !s.ok()) return Bad(o_.server, s);
    if (entry.key() != name) return Bad(o_.server, Corruption("view key " + key + " holds service " + entry.key()));
    services_.Upsert(std::move(entry));
  }

  void OnPod(const std::string& key) {
    auto value = view_.values().find("pod/" + key);
    if (value == view_.values().end()) {
      pod_manifests_.erase(key);
      if (running_.erase(key)) {
        runtime_.Stop(key);
        reports_.Erase("pod/" + key);
        ++stats_.pods_stopped;
        SendReports();
      }
      return;
    }
    PodAssignment a;
    if (Status s = Decode(value->second, &a); !s.ok()) return Bad(o_.server, s);
    std::vector<NodeId> servers;
    for (const VolumeMount& v : a.volumes) servers.insert(servers.end(), v.replicas.begin(), v.replicas.end());
    if (!servers.empty()) Client().AddServers(servers);
    auto it = running_.find(key);
    if (it != running_.end() && pod_manifests_[key] == a.manifest && it->second.volumes.size() == a.volumes.size()) {
      it->second.volumes = std::move(a.volumes);  // e.g. a volume's replicas moved: nothing to restart
      return;
    }
    model::LoadResult loaded = model::LoadManifests(a.manifest, "assignment of " + key);
    const model::Pod* pod =
        loaded.ok() && loaded.objects.size() == 1 ? std::get_if<model::Pod>(&loaded.objects[0]) : nullptr;
    if (!pod) return Bad(o_.server, Corruption("assignment of " + key + " is not one Pod"));
    PodRun run{*pod, a.volumes, io_};
    pod_manifests_[key] = a.manifest;
    const bool restart = it != running_.end();
    running_[key] = run;
    if (restart) runtime_.Stop(key);
    runtime_.Start(run);
    ++stats_.pods_started;
    if (reports_.Put("pod/" + key, Encode(PodReport{PodPhase::kPending, "ContainerCreating", 0}))) SendReports();
  }

  void OnReport(const std::string& key, const PodReport& report) {
    if (!running_.count(key)) return;
    if (reports_.Put("pod/" + key, Encode(report))) SendReports();
  }

  // Compiles the policy part of the view into the dataplane.
  void Program() {
    PolicyViews::View view;
    for (const auto& [key, value] : view_.values())
      if (IsPolicyViewKey(key)) view.emplace(key, value);
    StatusOr<std::unique_ptr<CompiledView>> next = CompileView(view, &manifests_);
    if (!next.ok()) return Bad(o_.server, next.status());
    std::vector<std::string> local;
    for (const auto& [key, run] : running_) local.push_back(key);
    if (local.empty()) {  // no pod here: nothing to judge (an empty list would mean every endpoint)
      dataplane_.reset();
      compiled_.reset();
      if (o_.observer) o_.observer->PolicyChanged(nullptr, nullptr, local);
      return;
    }
    CompiledView& c = **next;
    if (dataplane_) {
      dataplane_->Reprogram(c.classifier.get(), &c.inventory, local);
    } else {
      policy::Dataplane::Options options;
      options.conntrack = o_.conntrack;
      options.local_endpoints = local;
      dataplane_ = std::make_unique<policy::Dataplane>(c.classifier.get(), &c.inventory, options);
    }
    compiled_ = std::move(*next);
    ++stats_.policy_programs;
    if (o_.observer) o_.observer->PolicyChanged(compiled_->classifier.get(), &compiled_->inventory, local);
  }

  // ---- Cloud backups ---------------------------------------------------------------

  // Backs up what the view asks for the volume, unless a backup of it is in
  // flight (its end looks again) or that snapshot is done. The request may
  // reach this node before its takeover as primary ends: it looks again
  // each second while the request stands.
  void NextBackup(const std::string& volume) {
    auto value = view_.values().find("backup/" + volume);
    auto state = backups_.find(volume);
    if (value == view_.values().end()) {
      if (state != backups_.end() && !state->second.running) {
        if (state->second.retry != kNoTimer) env_.Cancel(state->second.retry);
        backups_.erase(state);
      }
      return;
    }
    BackupRequest q;
    if (Status s = Decode(value->second, &q); !s.ok()) return Bad(o_.server, s);
    Backup& b = backups_[volume];
    if (b.running || q.snapshot == b.done) return;
    // Not (yet) the primary here; or another object store than the one a
    // backup in flight uses (one client per node): look again shortly.
    if (!storage_.Serving(volume) || (q.object_store != store_node_ && AnyBackupRunning())) {
      if (b.retry == kNoTimer)
        b.retry = env_.Schedule(std::chrono::seconds(1), [this, volume] {
          backups_[volume].retry = kNoTimer;
          NextBackup(volume);
        });
      return;
    }
    b.running = true;
    const int64_t started = ToNanos(env_.now());
    CloudFor(q).Backup(volume, q.snapshot, q.snapshot_ready_ns, [this, volume, q, started](StatusOr<storage::CloudBackup> r) {
      Backup& done = backups_[volume];
      done.running = false;
      done.done = q.snapshot;
      BackupReport report;
      report.snapshot = q.snapshot;
      report.snapshot_ready_ns = q.snapshot_ready_ns;
      report.ok = r.ok();
      report.started_ns = started;
      report.finished_ns = ToNanos(env_.now());
      if (r.ok()) {
        report.seq = r->seq;
        report.full = r->full;
        report.blocks = r->carried.size();
        report.bytes = uint64_t{r->carried.size()} * r->block_size;
      } else {
        report.error = r.status().ToString();
      }
      if (reports_.Put("backup/" + volume, Encode(report))) SendReports();
      NextBackup(volume);  // a newer snapshot may be waiting
    });
  }

  bool AnyBackupRunning() const {
    for (const auto& [volume, b] : backups_)
      if (b.running) return true;
    return false;
  }

  // The cloudsnap engine for a request's object store, bucket and cadence.
  storage::CloudSnap& CloudFor(const BackupRequest& q) {
    if (!store_client_ || q.object_store != store_node_) {
      clouds_.clear();
      store_client_ = std::make_unique<storage::ObjectStoreClient>(env_, q.object_store, o_.cloud_client);
      store_node_ = q.object_store;
    }
    std::unique_ptr<storage::CloudSnap>& cloud = clouds_[std::make_pair(q.bucket, q.full_every)];
    if (!cloud) {
      storage::CloudSnapOptions options;
      options.bucket = q.bucket;
      options.full_every = static_cast<int>(q.full_every);
      cloud = std::make_unique<storage::CloudSnap>(env_, storage_, *store_client_, options);
    }
    return *cloud;
  }

  storage::SharedVolumeClient& Client() {
    if (!client_) client_ = std::make_unique<storage::SharedVolumeClient>(env_, std::vector<NodeId>{});
    return *client_;
  }

  Env& env_;
  AgentOptions o_;
  WorkloadRuntime& runtime_;
  VolumeAccess* io_;
  Key key_{};
  std::string manifest_;
  const uint64_t incarnation_ = env_.random().Next();
  // Joining and the session.
  bool joining_ = false;
  Nonce agent_nonce_{}, server_nonce_{};
  Duration retry_{};
  uint64_t session_ = 0;
  Key session_key_{};
  uint64_t send_counter_ = 0, recv_counter_ = 0;
  std::string pod_cidr_;
  Time last_heard_{};
  // The view, and the reports going the other way.
  SyncReceiver view_;
  SyncSender reports_;
  std::map<std::string, PodRun> running_;
  std::map<std::string, std::string> pod_manifests_;  // the manifest each runs under, as received
  // The dataplane and what it was compiled from.
  std::unique_ptr<CompiledView> compiled_;
  ManifestCache manifests_;
  std::unique_ptr<policy::Dataplane> dataplane_;
  bool view_complete_ = false;  // a complete view has been applied once
  policy::ServiceTable services_;
  // Storage.
  storage::StorageNode storage_;
  storage::SharedVolumeServer shared_server_;
  std::unique_ptr<storage::SharedVolumeClient> client_;
  // Cloud backups, by volume; the object store's client, and a cloudsnap
  // engine per (bucket, full_every) over it.
  struct Backup {
    bool running = false;
    std::string done;  // the snapshot last backed up (or given up on)
    TimerId retry = kNoTimer;
  };
  std::map<std::string, Backup> backups_;
  NodeId store_node_ = kNoNode;
  std::unique_ptr<storage::ObjectStoreClient> store_client_;
  std::map<std::pair<std::string, uint32_t>, std::unique_ptr<storage::CloudSnap>> clouds_;
  TimerId join_timer_ = kNoTimer, renew_timer_ = kNoTimer, resend_timer_ = kNoTimer, program_timer_ = kNoTimer;
  AgentStats stats_;
};

Agent::Agent(Env& env, AgentOptions options, WorkloadRuntime& runtime)
    : impl_(std::make_unique<Impl>(env, std::move(options), runtime, this)) {}
Agent::~Agent() = default;
Status Agent::Start() { return impl_->Start(); }
bool Agent::joined() const { return impl_->joined(); }
bool Agent::server_reachable() const { return impl_->server_reachable(); }
const std::string& Agent::pod_cidr() const { return impl_->pod_cidr(); }
std::vector<std::string> Agent::pods() const { return impl_->pods(); }
policy::Dataplane* Agent::dataplane() { return impl_->dataplane(); }
const policy::ServiceTable& Agent::services() const { return impl_->services(); }
std::vector<std::string> Agent::view_keys() const { return impl_->view_keys(); }
const AgentStats& Agent::stats() const { return impl_->stats(); }
storage::StorageNode& Agent::storage() { return impl_->storage(); }
void Agent::Write(const std::string& volume, uint32_t block, Bytes data, WriteDone done) {
  impl_->Write(volume, block, std::move(data), std::move(done));
}
void Agent::Read(const std::string& volume, uint32_t block, ReadDone done) { impl_->Read(volume, block, std::move(done)); }

}  // namespace edgebed::cluster
