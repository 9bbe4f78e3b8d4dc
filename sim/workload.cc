#include "sim/workload.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/base/ip.h"
#include "core/wire/codec.h"

namespace edgebed::sim {
namespace {

// A reading as it travels sensor -> broker -> inference: who made it and when.
struct Reading {
  uint64_t id = 0;
  int64_t born_ns = 0;
};
constexpr size_t kReadingHeader = 16;

Bytes EncodeReading(const Reading& r, uint32_t size) {
  wire::Writer w;
  w.PutU64(r.id);
  w.PutI64(r.born_ns);
  Bytes out = std::move(w).Finish();
  out.resize(std::max<size_t>(size, kReadingHeader), 0);
  return out;
}

bool DecodeReading(ByteView b, Reading* r) {
  wire::Reader in(b);
  return in.GetU64(&r->id).ok() && in.GetI64(&r->born_ns).ok();
}

double MillisSince(Env& env, int64_t born_ns) { return static_cast<double>(ToNanos(env.now()) - born_ns) / 1e6; }

}  // namespace

// ---- Directory ------------------------------------------------------------------

void Directory::Replace(std::vector<Pod> pods) {
  std::sort(pods.begin(), pods.end(), [](const Pod& a, const Pod& b) {
    return std::tie(a.namespace_, a.name) < std::tie(b.namespace_, b.name);
  });
  pods_ = std::move(pods);
  found_.clear();
}

const std::vector<const Directory::Pod*>& Directory::Find(const PodMatch& match) const {
  auto [cached, inserted] = found_.try_emplace({match.namespace_glob, match.selector});
  if (!inserted) return cached->second;
  auto it = selectors_.find(match.selector);
  if (it == selectors_.end()) {
    auto parsed = policy::Selector::Parse(match.selector);
    if (!parsed.ok()) return cached->second;  // the scenario loader checked it
    it = selectors_.emplace(match.selector, std::move(*parsed)).first;
  }
  std::vector<const Pod*>& out = cached->second;
  for (const Pod& p : pods_) {
    if (!PodMatch{match.namespace_glob, "all()"}.Matches(p.namespace_, {})) continue;
    if (it->second.Matches(p.labels)) out.push_back(&p);
  }
  return out;
}

// ---- NodeResources ----------------------------------------------------------------

NodeResources::NodeResources(Env& env, double cores) : env_(env), cores_(std::max(cores, 0.1)) {}

NodeResources::~NodeResources() {
  for (const auto& [job, timer] : running_) env_.Cancel(timer);
}

void NodeResources::Run(Duration cost, std::function<void()> done) {
  queue_.push_back(Job{cost, std::move(done)});
  StartNext();
}

void NodeResources::StartNext() {
  // A fraction of a core serves as a slower whole one.
  const int slots = std::max(1, static_cast<int>(std::floor(cores_)));
  const double speed = cores_ < 1 ? cores_ : 1.0;
  while (busy_ < slots && queue_head_ < queue_.size()) {
    Job job = std::move(queue_[queue_head_++]);
    if (queue_head_ > 1024 && queue_head_ * 2 > queue_.size()) {
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(queue_head_));
      queue_head_ = 0;
    }
    ++busy_;
    const Duration wall(static_cast<int64_t>(static_cast<double>(job.cost.count()) / speed));
    finished_core_seconds_ += ToSeconds(job.cost);
    const uint64_t n = next_job_++;
    running_[n] = env_.Schedule(wall, [this, n, done = std::move(job.done)] {
      --busy_;
      running_.erase(n);
      if (done) done();
      StartNext();
    });
  }
}

double NodeResources::busy_core_seconds() const { return finished_core_seconds_; }

// ---- models -------------------------------------------------------------------

// One workload running in one pod.
class WorkloadModel {
 public:
  struct Context {
    Env& env;
    PodNetwork& net;
    NodeResources& resources;
    const Directory& directory;
    WorkloadCounters& counters;
    const Workload& spec;
    const cluster::PodRun& run;
    uint32_t ip;
    uint16_t client_port;  // the first of the ports this model opens connections from
    const std::map<std::string, std::string>& place;
  };
  explicit WorkloadModel(const Context& c)
      : env_(c.env), net_(c.net), resources_(c.resources), directory_(c.directory), counters_(c.counters),
        spec_(c.spec), ip_(c.ip), client_port_(c.client_port), pod_key_(c.run.key()) {
    resources_.memory_bytes += spec_.memory_bytes;
    if (spec_.publish_to) publish_to_ = Place(*spec_.publish_to, c.place);
    for (const Target& t : spec_.forward_to) forward_to_.push_back(Place(t, c.place));
  }
  virtual ~WorkloadModel() {
    *alive_ = false;
    resources_.memory_bytes -= spec_.memory_bytes;
    for (const auto& [n, timer] : timers_) env_.Cancel(timer);
  }

 protected:
  // Timers die with the model.
  void After(Duration d, std::function<void()> fn) {
    const uint64_t n = next_timer_++;
    timers_[n] = env_.Schedule(d, [this, n, fn = std::move(fn)] {
      timers_.erase(n);
      fn();
    });
  }

  // Spends `cost` of the node's cpu, then runs `fn`, unless the model has
  // gone meanwhile (its pod stopped while the work waited for a core: the
  // node's cpu outlives the pods on it).
  void Work(Duration cost, std::function<void()> fn) {
    resources_.Run(cost, [alive = alive_, fn = std::move(fn)] {
      if (*alive) fn();
    });
  }

  static Target Place(Target t, const std::map<std::string, std::string>& place) {
    t.pods.namespace_glob = Expand(t.pods.namespace_glob, place);
    t.pods.selector = Expand(t.pods.selector, place);
    return t;
  }

  struct Address {
    uint32_t ip = 0;
    uint16_t port = 0;
  };
  // Where to send for `target`: a pod of it for this pod to talk to, the
  // same one as long as it is there (by a hash of this pod's name), another
  // when it is not; or a service's ClusterIP (the node's proxy picks the
  // pod); or, for a headless service, one of the pods its name resolves to.
  std::optional<Address> Pick(const Target& target, uint64_t salt) {
    const uint64_t h = MixSeed(std::hash<std::string>()(pod_key_), salt);
    if (target.service.empty()) {
      const std::vector<const Directory::Pod*>& pods = directory_.Find(target.pods);
      if (pods.empty()) return std::nullopt;
      return Address{pods[h % pods.size()]->ip, target.port};
    }
    const policy::ServiceTable* services = net_.services();
    const policy::ServiceEntry* svc = services ? services->Find(target.pods.namespace_glob, target.service) : nullptr;
    if (!svc) return std::nullopt;
    if (svc->cluster_ip != 0) return Address{svc->cluster_ip, target.port};
    const uint8_t protocol = target.protocol == "UDP" ? policy::kUdp : policy::kTcp;
    for (const policy::ServicePortEntry& p : svc->ports) {
      if (p.port != target.port || p.protocol != protocol || p.backends.empty()) continue;
      const policy::ServiceBackend& b = p.backends[h % p.backends.size()];
      return Address{b.ip, b.port};
    }
    return std::nullopt;
  }

  // Binds every port the pod's containers declare.
  void BindPorts(const cluster::PodRun& run, PodNetwork::Handler handler) {
    for (const model::Container& c : run.pod.spec.containers)
      for (const model::ContainerPort& p : c.ports)
        net_.Bind(ip_, static_cast<uint16_t>(p.container_port), p.protocol == "UDP" ? policy::kUdp : policy::kTcp,
                  handler);
  }

  // The storage volume behind the pod's volume named `name` (by volume or claim name).
  const cluster::VolumeMount* Volume(const cluster::PodRun& run, const std::string& name) const {
    std::string claim = name;
    for (const model::PodVolume& v : run.pod.spec.volumes)
      if (v.name == name && v.claim_name) claim = *v.claim_name;
    for (const cluster::VolumeMount& m : run.volumes)
      if (m.claim == claim) return &m;
    return nullptr;
  }

  Env& env_;
  PodNetwork& net_;
  NodeResources& resources_;
  const Directory& directory_;
  WorkloadCounters& counters_;
  const Workload& spec_;
  const uint32_t ip_;
  const uint16_t client_port_;
  const std::string pod_key_;
  // The spec's targets, with this pod's place substituted.
  std::optional<Target> publish_to_;
  std::vector<Target> forward_to_;
  // False once the model is gone: for callbacks that may outlive it (volume I/O, the node's cpu).
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

 private:
  std::map<uint64_t, TimerId> timers_;
  uint64_t next_timer_ = 1;
};

namespace {

class SensorModel final : public WorkloadModel {
 public:
  explicit SensorModel(const Context& c) : WorkloadModel(c) {
    net_.OnFailure(ip_, client_port_, [this](uint32_t, uint16_t) {
      ++counters_.connect_failures;
      ++salt_;  // another broker next time, if there is one
    });
    Schedule();
  }

 private:
  void Schedule() {
    const double mean_ns = static_cast<double>(spec_.interval.count()) / spec_.sensors;
    After(Duration(static_cast<int64_t>(env_.random().Exponential(mean_ns))), [this] {
      Publish();
      Schedule();
    });
  }

  void Publish() {
    const std::optional<Address> to = Pick(*publish_to_, salt_);
    if (!to) {
      ++counters_.no_target;
      return;
    }
    const Reading r{next_id_++, ToNanos(env_.now())};
    ++counters_.messages_sent;
    net_.Send(ip_, client_port_, to->ip, to->port, publish_to_->protocol == "UDP" ? policy::kUdp : policy::kTcp,
              EncodeReading(r, spec_.payload_bytes));
  }

  uint64_t salt_ = 0, next_id_ = 1;
};

class BrokerModel final : public WorkloadModel {
 public:
  BrokerModel(const Context& c) : WorkloadModel(c), volume_(Volume(c.run, c.spec.persist_volume)), io_(c.run.io) {
    BindPorts(c.run, [this](const PodNetwork::Message& m) { OnMessage(m); });
    // Answers to what it forwarded come back to its client ports.
    for (size_t i = 0; i < spec_.forward_to.size(); ++i) {
      const auto port = static_cast<uint16_t>(client_port_ + i);
      net_.Bind(ip_, port, policy::kTcp, [](const PodNetwork::Message&) {});
      net_.OnFailure(ip_, port, [this](uint32_t, uint16_t) {
        ++counters_.connect_failures;
        ++salt_;
      });
    }
    if (!spec_.persist_volume.empty()) After(spec_.persist_every, [this] { Persist(); });
  }

 private:
  void OnMessage(const PodNetwork::Message& m) {
    Reading r;
    if (!DecodeReading(m.payload, &r)) return;
    const size_t size = m.payload.size();
    Work(spec_.cpu_per_message, [this, r, size] {
      ++counters_.messages_received;
      counters_.publish_ms.push_back(MillisSince(env_, r.born_ns));
      pending_bytes_ += size;
      for (size_t i = 0; i < forward_to_.size(); ++i) {
        const Target& t = forward_to_[i];
        if (!env_.random().Chance(t.fraction)) continue;
        const std::optional<Address> to = Pick(t, salt_ + next_forward_++);
        if (!to) {
          ++counters_.no_target;
          continue;
        }
        ++counters_.forwarded;
        net_.Send(ip_, static_cast<uint16_t>(client_port_ + i), to->ip, to->port,
                  t.protocol == "UDP" ? policy::kUdp : policy::kTcp, EncodeReading(r, kReadingHeader));
      }
    });
  }

  // What arrived since the last time goes to the volume as whole blocks.
  void Persist() {
    After(spec_.persist_every, [this] { Persist(); });
    if (!volume_ || !io_ || pending_bytes_ == 0 || volume_->blocks == 0) return;
    const uint64_t blocks = (pending_bytes_ + volume_->block_size - 1) / volume_->block_size;
    pending_bytes_ = 0;
    for (uint64_t i = 0; i < std::min<uint64_t>(blocks, 16); ++i) {
      // The log wraps around the volume; each lap writes other bytes, so that
      // snapshots taken laps apart differ where the broker wrote.
      const uint64_t lap = next_block_ / volume_->blocks;
      const uint32_t block = static_cast<uint32_t>(next_block_++ % volume_->blocks);
      Bytes data(volume_->block_size, static_cast<uint8_t>(lap * 131 + block + 1));
      const int64_t started = ToNanos(env_.now());
      io_->Write(volume_->volume, block, std::move(data), [this, started, alive = alive_](Status s) {
        if (!*alive) return;
        if (s.ok()) {
          ++counters_.volume_writes;
          counters_.write_ms.push_back(MillisSince(env_, started));
        } else {
          ++counters_.volume_write_errors;
        }
      });
    }
  }

 private:
  const cluster::VolumeMount* volume_;
  cluster::VolumeAccess* io_;
  uint64_t pending_bytes_ = 0, next_block_ = 0, salt_ = 0, next_forward_ = 0;
};

class StreamModel final : public WorkloadModel {
 public:
  explicit StreamModel(const Context& c) : WorkloadModel(c) {
    BindPorts(c.run, [this](const PodNetwork::Message&) {
      Work(spec_.cpu_per_message, [this] {
        ++counters_.messages_received;
        ++in_window_;
      });
    });
    After(spec_.window, [this] { CloseWindow(); });
  }

 private:
  void CloseWindow() {
    counters_.window_messages += in_window_;
    in_window_ = 0;
    After(spec_.window, [this] { CloseWindow(); });
  }
  uint64_t in_window_ = 0;
};

class InferenceModel final : public WorkloadModel {
 public:
  InferenceModel(const Context& c) : WorkloadModel(c), volume_(Volume(c.run, c.spec.model_volume)), io_(c.run.io) {
    BindPorts(c.run, [this](const PodNetwork::Message& m) { OnRequest(m); });
    load_started_ = ToNanos(env_.now());
    LoadNext(0);
  }

 private:
  uint32_t ModelBlocks() const { return volume_ ? std::min(spec_.model_blocks, volume_->blocks) : 0; }

  // The model is read whole, block after block, before the first answer.
  void LoadNext(uint32_t block) {
    if (block >= ModelBlocks() || !io_) {
      loaded_ = true;
      ++counters_.models_loaded;
      counters_.model_load_s.push_back(MillisSince(env_, load_started_) / 1000);
      std::vector<Request> waiting = std::move(waiting_);
      for (Request& r : waiting) Serve(std::move(r));
      return;
    }
    io_->Read(volume_->volume, block, [this, block, alive = alive_](StatusOr<Bytes> data) {
      if (!*alive) return;
      if (data.ok()) {
        ++counters_.volume_reads;
        LoadNext(block + 1);
      } else {
        ++counters_.volume_read_errors;
        After(std::chrono::seconds(1), [this, block] { LoadNext(block); });  // the volume may fail over
      }
    });
  }

  struct Request {
    PodNetwork::Message from;  // payload not kept
    Reading reading;
  };

  void OnRequest(const PodNetwork::Message& m) {
    Request r{m, {}};
    r.from.payload = {};
    if (!DecodeReading(m.payload, &r.reading)) return;
    if (!loaded_) {
      if (waiting_.size() < 10'000) waiting_.push_back(r);
      return;
    }
    Serve(r);
  }

  void Serve(Request r) {
    auto answer = [this, r] {
      Work(spec_.service_time.Sample(env_.random()), [this, r] {
        ++counters_.requests_done;
        counters_.e2e_ms.push_back(MillisSince(env_, r.reading.born_ns));
        net_.Reply(r.from, EncodeReading(r.reading, kReadingHeader));
      });
    };
    const uint32_t blocks = ModelBlocks();
    if (blocks == 0 || !io_) {
      answer();
      return;
    }
    const uint32_t block = static_cast<uint32_t>(env_.random().Uniform(blocks));
    io_->Read(volume_->volume, block, [this, answer, alive = alive_](StatusOr<Bytes> data) {
      if (!*alive) return;
      ++(data.ok() ? counters_.volume_reads : counters_.volume_read_errors);
      answer();
    });
  }

  const cluster::VolumeMount* volume_;
  cluster::VolumeAccess* io_;
  bool loaded_ = false;
  int64_t load_started_ = 0;
  std::vector<Request> waiting_;
};

// A run to completion: its input read block after block, then its cpu
// spent; `done` once both are.
class BatchModel final : public WorkloadModel {
 public:
  BatchModel(const Context& c, bool again, std::function<void()> done)
      : WorkloadModel(c), volume_(Volume(c.run, c.spec.read_volume)), io_(c.run.io), again_(again),
        done_(std::move(done)) {
    Begin();
  }

 private:
  void Begin() {
    started_ = ToNanos(env_.now());
    ReadNext(0);
  }

  uint32_t Blocks() const { return volume_ && io_ ? std::min(spec_.read_blocks, volume_->blocks) : 0; }

  void ReadNext(uint32_t block) {
    if (block >= Blocks()) {
      Work(spec_.cpu, [this] { Finish(); });
      return;
    }
    io_->Read(volume_->volume, block, [this, block, alive = alive_](StatusOr<Bytes> data) {
      if (!*alive) return;
      if (data.ok()) {
        ++counters_.volume_reads;
        ReadNext(block + 1);
      } else {
        ++counters_.volume_read_errors;
        After(std::chrono::seconds(1), [this, block] { ReadNext(block); });  // the volume may fail over
      }
    });
  }

  void Finish() {
    ++counters_.jobs_done;
    counters_.job_s.push_back(MillisSince(env_, started_) / 1000);
    if (again_) {
      Begin();
      return;
    }
    done_();
  }

  const cluster::VolumeMount* volume_;
  cluster::VolumeAccess* io_;
  const bool again_;  // restartPolicy Always: the container runs again
  std::function<void()> done_;
  int64_t started_ = 0;
};

// Probes every port of the range on each pod of its targets in turn (a
// vertical scan per host), one connection attempt each `interval`.
class ScannerModel final : public WorkloadModel {
 public:
  explicit ScannerModel(const Context& c) : WorkloadModel(c) {
    net_.OnFailure(ip_, client_port_, [this](uint32_t, uint16_t) { ++counters_.connect_failures; });
    After(spec_.start_after, [this] { Probe(); });
  }

 private:
  void Probe() {
    After(spec_.interval, [this] { Probe(); });
    const std::vector<const Directory::Pod*>& pods = directory_.Find(*spec_.scan);
    if (pods.empty()) {
      ++counters_.no_target;
      return;
    }
    const uint32_t ports = uint32_t{spec_.port_to} - spec_.port_from + 1;
    const Directory::Pod* pod = pods[(next_ / ports) % pods.size()];
    const auto port = static_cast<uint16_t>(spec_.port_from + next_ % ports);
    ++next_;
    if (pod->ip == ip_) return;
    ++counters_.messages_sent;
    net_.Send(ip_, client_port_, pod->ip, port, policy::kTcp, Bytes(1, 0));
  }

  uint64_t next_ = 0;
};

}  // namespace

// ---- SimRuntime -------------------------------------------------------------------

SimRuntime::SimRuntime(Env& env, const Scenario& scenario, std::map<std::string, std::string> place, PodNetwork& net,
                       NodeResources& resources, const Directory& directory, WorkloadStats& stats)
    : env_(env), scenario_(scenario), place_(std::move(place)), net_(net), resources_(resources),
      directory_(directory), stats_(stats) {}

SimRuntime::~SimRuntime() {
  for (auto& [key, pod] : pods_) {
    env_.Cancel(pod.start);
    pod.models.clear();
    net_.Unbind(pod.ip);
  }
}

void SimRuntime::Start(const cluster::PodRun& run) {
  const std::string key = run.key();
  Stop(key);
  Pod& pod = pods_[key];
  pod.run = run;
  if (!run.pod.pod_ips.empty()) pod.ip = ParseIpv4(run.pod.pod_ips.front()).value_or(0);
  const Duration start = env_.random().UniformDuration(scenario_.cluster.pod_start_min, scenario_.cluster.pod_start_max);
  pod.start = env_.Schedule(start, [this, key] { Launch(key); });
}

void SimRuntime::Launch(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  Pod& pod = it->second;
  const cluster::PodRun& run = pod.run;
  pod.start = kNoTimer;
  if (pod.ip) {
    auto app = run.pod.meta.labels.find("app");
    net_.SetWorkload(pod.ip, run.pod.meta.namespace_ + "/" +
                                 (app != run.pod.meta.labels.end() ? app->second : run.pod.meta.name));
  }
  for (const Workload& w : scenario_.workloads) {
    if (!w.pods.Matches(run.pod.meta.namespace_, run.pod.meta.labels, run.pod.spec.node_name) || pod.ip == 0)
      continue;
    // Each model of the pod opens its connections from ports of its own.
    const auto client_port = static_cast<uint16_t>(40000 + 100 * pod.models.size());
    WorkloadModel::Context c{env_,  net_, resources_, directory_, stats_.by_workload[w.name], w, run,
                             pod.ip, client_port, place_};
    switch (w.kind) {
      case Workload::Kind::kSensor: pod.models.push_back(std::make_unique<SensorModel>(c)); break;
      case Workload::Kind::kBroker: pod.models.push_back(std::make_unique<BrokerModel>(c)); break;
      case Workload::Kind::kStream: pod.models.push_back(std::make_unique<StreamModel>(c)); break;
      case Workload::Kind::kInference: pod.models.push_back(std::make_unique<InferenceModel>(c)); break;
      case Workload::Kind::kScanner: pod.models.push_back(std::make_unique<ScannerModel>(c)); break;
      case Workload::Kind::kBatch:
        ++pod.batch_running;
        pod.models.push_back(std::make_unique<BatchModel>(c, run.pod.spec.restart_policy == "Always",
                                                          [this, key] { BatchDone(key); }));
        break;
    }
  }
  if (reporter_) reporter_(key, cluster::PodReport{cluster::PodPhase::kRunning, "Started", 0});
}

// The pod has Succeeded once every batch workload in it is done; told on
// the next turn, not from inside the model's own callback.
void SimRuntime::BatchDone(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end() || --it->second.batch_running > 0) return;
  env_.Schedule(Duration::zero(), [this, key] {
    if (pods_.count(key) && reporter_) reporter_(key, cluster::PodReport{cluster::PodPhase::kSucceeded, "Completed", 0});
  });
}

void SimRuntime::Stop(const std::string& pod_key) {
  auto it = pods_.find(pod_key);
  if (it == pods_.end()) return;
  env_.Cancel(it->second.start);
  it->second.models.clear();
  if (it->second.ip) net_.Unbind(it->second.ip);
  pods_.erase(it);
}

size_t SimRuntime::running_models() const {
  size_t n = 0;
  for (const auto& [key, pod] : pods_) n += pod.models.size();
  return n;
}

}  // namespace edgebed::sim
