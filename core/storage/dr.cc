#include "core/storage/dr.h"

#include <deque>
#include <set>
#include <vector>

#include "core/wire/codec.h"

namespace edgebed::storage {

namespace {

constexpr uint16_t kMagic = 0x4452;  // "DR"
constexpr uint8_t kVersion = 1;
constexpr size_t kMaxName = 512;
constexpr size_t kMaxBlock = 1 << 20;
constexpr size_t kRememberedRounds = 256;                  // answered again if their commit repeats
constexpr Duration kRoundIdle = std::chrono::seconds(60);  // a receiver forgets a silent round

enum Type : uint16_t { kBlock = 1, kBlockAck = 2, kCommit = 3, kCommitAck = 4 };
enum CommitResult : uint8_t { kApplied = 0, kMissingBlocks = 1, kWriteFailed = 2 };

}  // namespace

// ---------------------------------------------------------------------------

class DrReceiver::Impl {
 public:
  Impl(Env& env, StorageNode& node) : env_(env), node_(node) {
    (void)env_.Listen(kDrPort, [this](NodeId from, ByteView m) { OnMessage(from, m); });
    timer_ = env_.Schedule(kRoundIdle / 4, [this] { Expire(); });
  }
  ~Impl() {
    env_.Unlisten(kDrPort);
    env_.Cancel(timer_);
  }

  std::map<std::string, Applied> applied_;

 private:
  struct Round {
    std::string standby;
    std::map<uint32_t, Bytes> blocks;
    Time heard{};
    bool applying = false;
  };

  void Send(NodeId to, Type t, uint64_t round, uint64_t arg, const std::string& text = {}) {
    wire::Writer w;
    wire::WriteHeader(w, {kMagic, kVersion, t});
    w.PutU64(round);
    w.PutVarint(arg);
    w.PutString(text);
    env_.Send(to, kDrSenderPort, std::move(w).Finish());
  }

  void OnMessage(NodeId from, ByteView bytes) {
    wire::Reader r(bytes);
    wire::Header h;
    if (!wire::ReadHeader(r, kMagic, kVersion, &h).ok()) return;
    uint64_t round = 0;
    std::string standby;
    (void)r.GetU64(&round);
    (void)r.GetString(kMaxName, &standby);
    if (h.type == kBlock) {
      uint64_t block = 0;
      Bytes data;
      (void)r.GetBoundedVarint(UINT32_MAX, &block);
      (void)r.GetBytes(kMaxBlock, &data);
      if (!r.ExpectEnd().ok()) return;
      StatusOr<VolumeLayout> l = node_.Layout(standby);
      if (!l.ok() || block >= l->blocks || data.size() != l->block_size) return;  // not a volume here: no answer
      if (done_set_.count(round)) return Send(from, kBlockAck, round, block);
      Round& rd = rounds_[round];
      rd.standby = standby;
      rd.heard = env_.now();
      if (!rd.applying) rd.blocks[static_cast<uint32_t>(block)] = std::move(data);
      Send(from, kBlockAck, round, block);
    } else if (h.type == kCommit) {
      std::string snapshot;
      int64_t ready_ns = 0;
      uint64_t count = 0;
      (void)r.GetString(kMaxName, &snapshot);
      (void)r.GetI64(&ready_ns);
      (void)r.GetVarint(&count);
      if (!r.ExpectEnd().ok()) return;
      if (done_set_.count(round)) return Send(from, kCommitAck, round, kApplied);
      auto it = rounds_.find(round);
      if (it == rounds_.end() || it->second.blocks.size() != count) {
        return Send(from, kCommitAck, round, kMissingBlocks);  // lost (a restart): the sender starts over
      }
      Round& rd = it->second;
      rd.heard = env_.now();
      if (rd.applying) return;  // answered when done
      rd.applying = true;
      Apply(from, round, snapshot, ready_ns);
    }
  }

  // Writes the round's blocks into the standby, then counts it applied.
  void Apply(NodeId from, uint64_t round, const std::string& snapshot, int64_t ready_ns) {
    Round& rd = rounds_.at(round);
    auto left = std::make_shared<size_t>(rd.blocks.size());
    auto failed = std::make_shared<Status>();
    const auto finished = [this, from, round, snapshot, ready_ns, left, failed](Status s) {
      if (!s.ok() && failed->ok()) *failed = s;
      if (--*left > 0) return;
      auto it = rounds_.find(round);
      if (it == rounds_.end()) return;
      if (!failed->ok()) {
        it->second.applying = false;  // the sender asks again
        return Send(from, kCommitAck, round, kWriteFailed, failed->ToString());
      }
      applied_[it->second.standby] = Applied{snapshot, ready_ns, round};
      rounds_.erase(it);
      done_set_.insert(round);
      done_order_.push_back(round);
      if (done_order_.size() > kRememberedRounds) {
        done_set_.erase(done_order_.front());
        done_order_.pop_front();
      }
      env_.RecordEvent("storage.dr.applied", "snapshot=" + snapshot + " round=" + std::to_string(round));
      Send(from, kCommitAck, round, kApplied);
    };
    if (rd.blocks.empty()) {
      ++*left;
      return finished(Status::Ok());
    }
    for (auto& [block, data] : rd.blocks) node_.Write(rd.standby, block, data, finished);
  }

  void Expire() {
    const Time now = env_.now();
    for (auto it = rounds_.begin(); it != rounds_.end();) {
      it = !it->second.applying && now - it->second.heard > kRoundIdle ? rounds_.erase(it) : std::next(it);
    }
    timer_ = env_.Schedule(kRoundIdle / 4, [this] { Expire(); });
  }

  Env& env_;
  StorageNode& node_;
  std::map<uint64_t, Round> rounds_;
  std::set<uint64_t> done_set_;
  std::deque<uint64_t> done_order_;
  TimerId timer_ = kNoTimer;
};

DrReceiver::DrReceiver(Env& env, StorageNode& node) : impl_(std::make_unique<Impl>(env, node)) {}
DrReceiver::~DrReceiver() = default;
std::optional<DrReceiver::Applied> DrReceiver::LastApplied(const std::string& standby) const {
  auto it = impl_->applied_.find(standby);
  if (it == impl_->applied_.end()) return std::nullopt;
  return it->second;
}

// ---------------------------------------------------------------------------

namespace {

// A sender's state (outside the class: complete before its methods use them).
struct Request {
  std::string volume, snapshot, standby;
  int64_t ready_ns = 0;
  std::function<void(Status)> done;
};
struct Round {
  uint64_t id = 0;
  Request req;
  std::vector<uint32_t> blocks;
  size_t next = 0;                                         // the next block to read and send
  std::map<uint32_t, std::pair<Bytes, Time>> in_flight;  // sent, not yet acknowledged
  size_t acked = 0;
  bool committing = false;
  Time commit_sent{};
};
struct Volume {
  std::string applied_snapshot;  // what the remote holds whole
  int64_t applied_ready_ns = -1;
  std::optional<Round> round;
  std::optional<Request> queued;
  Duration max_rpo{0};
};

}  // namespace

class DrSender::Impl {
 public:
  Impl(Env& env, StorageNode& node, NodeId remote, DrOptions options)
      : env_(env), node_(node), remote_(remote), options_(options) {
    (void)env_.Listen(kDrSenderPort, [this](NodeId from, ByteView m) { OnMessage(from, m); });
    timer_ = env_.Schedule(options_.retry, [this] { Tick(); });
    rpo_timer_ = env_.Schedule(options_.rpo_sample, [this] { SampleRpo(); });
  }
  ~Impl() {
    env_.Unlisten(kDrSenderPort);
    env_.Cancel(timer_);
    env_.Cancel(rpo_timer_);
  }

  void Ship(Request req) {
    Volume& v = volumes_[req.volume];
    if (v.round) {
      if (v.queued) v.queued->done(Unavailable("superseded by a newer snapshot of " + req.volume));
      v.queued = std::move(req);
      return;
    }
    Start(std::move(req));
  }

  std::optional<Duration> Rpo(const std::string& volume) const {
    auto it = volumes_.find(volume);
    if (it == volumes_.end() || it->second.applied_ready_ns < 0) return std::nullopt;
    return env_.now() - (Time{} + Duration(it->second.applied_ready_ns));
  }
  std::optional<Duration> MaxRpo(const std::string& volume) const {
    auto it = volumes_.find(volume);
    if (it == volumes_.end() || it->second.applied_ready_ns < 0) return std::nullopt;
    return std::max(it->second.max_rpo, *Rpo(volume));
  }

  DrSender::Stats stats_;

 private:
  void Start(Request req) {
    StatusOr<VolumeLayout> layout = node_.Layout(req.volume);
    if (!layout.ok()) return req.done(layout.status());
    Volume& v = volumes_[req.volume];
    const std::string base = v.applied_snapshot;
    auto begin = [this, volume = req.volume, blocks = layout->blocks](Request r, StatusOr<std::vector<uint32_t>> diff) {
      Volume& vol = volumes_[volume];
      Round round;
      round.id = env_.random().Next();
      round.req = std::move(r);
      if (diff.ok()) {
        round.blocks = std::move(*diff);
      } else {
        // The remote's base is unknown or gone here: every block goes.
        ++stats_.full_rounds;
        for (uint32_t b = 0; b < blocks; ++b) round.blocks.push_back(b);
      }
      ++stats_.rounds;
      vol.round = std::move(round);
      Pump(vol);
    };
    v.round.emplace();  // busy from here on: later requests queue
    if (base.empty()) return begin(std::move(req), NotFound("no base"));
    auto shared = std::make_shared<Request>(std::move(req));
    node_.DiffSnapshots(shared->volume, base, shared->snapshot, [this, shared, begin](StatusOr<std::vector<uint32_t>> d) {
      if (!d.ok() && d.status().code() != StatusCode::kNotFound) return Fail(shared->volume, *shared, d.status());
      begin(std::move(*shared), std::move(d));
    });
  }

  void Fail(const std::string& volume, Request& req, Status s) {
    Volume& v = volumes_[volume];
    auto done = std::move(req.done);
    v.round.reset();
    done(s);
    Next(v);
  }

  void Next(Volume& v) {
    if (!v.queued) return;
    Request r = std::move(*v.queued);
    v.queued.reset();
    Start(std::move(r));
  }

  // Reads and sends blocks while the window has room; commits when all are in.
  void Pump(Volume& v) {
    Round& rd = *v.round;
    while (rd.next < rd.blocks.size() && rd.in_flight.size() + reading_ < options_.window) {
      const uint32_t block = rd.blocks[rd.next++];
      ++reading_;
      node_.ReadSnapshot(rd.req.volume, rd.req.snapshot, block,
                         [this, volume = rd.req.volume, id = rd.id, block](StatusOr<Bytes> data) {
                           --reading_;
                           Volume& vol = volumes_[volume];
                           if (!vol.round || vol.round->id != id) return;
                           if (!data.ok()) return Fail(volume, vol.round->req, data.status());
                           vol.round->in_flight[block] = {*data, env_.now()};
                           SendBlock(*vol.round, block, *data);
                           ++stats_.blocks_sent;
                         });
    }
    if (rd.acked == rd.blocks.size() && !rd.committing) SendCommit(rd);
  }

  void SendBlock(const Round& rd, uint32_t block, const Bytes& data) {
    wire::Writer w;
    wire::WriteHeader(w, {kMagic, kVersion, kBlock});
    w.PutU64(rd.id);
    w.PutString(rd.req.standby);
    w.PutVarint(block);
    w.PutBytes(data);
    env_.Send(remote_, kDrPort, std::move(w).Finish());
  }

  void SendCommit(Round& rd) {
    rd.committing = true;
    rd.commit_sent = env_.now();
    wire::Writer w;
    wire::WriteHeader(w, {kMagic, kVersion, kCommit});
    w.PutU64(rd.id);
    w.PutString(rd.req.standby);
    w.PutString(rd.req.snapshot);
    w.PutI64(rd.req.ready_ns);
    w.PutVarint(rd.blocks.size());
    env_.Send(remote_, kDrPort, std::move(w).Finish());
  }

  void OnMessage(NodeId from, ByteView bytes) {
    if (from != remote_) return;
    wire::Reader r(bytes);
    wire::Header h;
    if (!wire::ReadHeader(r, kMagic, kVersion, &h).ok()) return;
    uint64_t id = 0, arg = 0;
    std::string text;
    (void)r.GetU64(&id);
    (void)r.GetVarint(&arg);
    (void)r.GetString(4096, &text);
    if (!r.ExpectEnd().ok()) return;
    for (auto& [name, v] : volumes_) {
      if (!v.round || v.round->id != id) continue;
      Round& rd = *v.round;
      if (h.type == kBlockAck) {
        if (rd.in_flight.erase(static_cast<uint32_t>(arg))) ++rd.acked;
        Pump(v);
      } else if (h.type == kCommitAck && rd.committing) {
        if (arg == kApplied) {
          v.applied_snapshot = rd.req.snapshot;
          v.applied_ready_ns = rd.req.ready_ns;
          auto done = std::move(rd.req.done);
          v.round.reset();
          done(Status::Ok());
          Next(v);
        } else if (arg == kMissingBlocks) {
          // The remote lost the round (it restarted): the same round again, under a new id.
          Request req = std::move(rd.req);
          v.round.reset();
          v.applied_snapshot.clear();
          Start(std::move(req));
        } else {
          rd.committing = false;  // the standby could not take it yet: the tick asks again
          rd.commit_sent = env_.now();
        }
      }
      return;
    }
  }

  void Tick() {
    const Time now = env_.now();
    for (auto& [name, v] : volumes_) {
      if (!v.round) continue;
      Round& rd = *v.round;
      for (auto& [block, sent] : rd.in_flight) {
        if (now - sent.second < options_.retry) continue;
        sent.second = now;
        ++stats_.resends;
        SendBlock(rd, block, sent.first);
      }
      if (rd.acked == rd.blocks.size() && now - rd.commit_sent >= options_.retry) SendCommit(rd);
    }
    timer_ = env_.Schedule(options_.retry, [this] { Tick(); });
  }

  void SampleRpo() {
    for (auto& [name, v] : volumes_) {
      std::optional<Duration> rpo = Rpo(name);
      if (!rpo) continue;
      v.max_rpo = std::max(v.max_rpo, *rpo);
      env_.RecordMetric("storage.dr.rpo_s", ToSeconds(*rpo), "volume=" + name);
    }
    rpo_timer_ = env_.Schedule(options_.rpo_sample, [this] { SampleRpo(); });
  }

  Env& env_;
  StorageNode& node_;
  NodeId remote_;
  DrOptions options_;
  std::map<std::string, Volume> volumes_;
  size_t reading_ = 0;  // snapshot reads in flight, against the window
  TimerId timer_ = kNoTimer, rpo_timer_ = kNoTimer;
};

DrSender::DrSender(Env& env, StorageNode& node, NodeId remote, DrOptions options)
    : impl_(std::make_unique<Impl>(env, node, remote, options)) {}
DrSender::~DrSender() = default;
void DrSender::Ship(const std::string& volume, const std::string& snapshot, int64_t snapshot_ready_ns,
                   const std::string& standby, std::function<void(Status)> done) {
  impl_->Ship({volume, snapshot, standby, snapshot_ready_ns, std::move(done)});
}
std::optional<Duration> DrSender::Rpo(const std::string& volume) const { return impl_->Rpo(volume); }
std::optional<Duration> DrSender::MaxRpo(const std::string& volume) const { return impl_->MaxRpo(volume); }
const DrSender::Stats& DrSender::stats() const { return impl_->stats_; }

}  // namespace edgebed::storage
