#include "core/storage/torture.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "core/env/fault_env.h"
#include "core/env/test_loop.h"
#include "core/storage/replication.h"

namespace edgebed::storage {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr NodeId kController = 0;  // never crashes: the cluster's datastore is out of scope
constexpr const char* kVolume = "torture/vol";
// Values no client writes: a block unreadable at the end, or one whose bytes
// do not match their own value, reads as one of these, which the checker
// reports as never written (and, at the end, as every write of it lost).
constexpr BlockValue kUnreadable = ~BlockValue{0};
constexpr BlockValue kCorrupt = ~BlockValue{0} - 1;
constexpr int kMaxInFlight = 4;

// A block holds its value in its first 8 bytes and a pattern derived from it
// in the rest, so a torn or misplaced block is caught, not just a stale one.
Bytes Encode(BlockValue v, uint32_t size) {
  Bytes b(size);
  for (uint32_t i = 0; i < size; ++i) {
    b[i] = i < 8 ? static_cast<uint8_t>(v >> (8 * i)) : static_cast<uint8_t>(v * 131 + i * 7);
  }
  return b;
}

BlockValue Decode(const Bytes& b, uint32_t size) {
  if (b.size() != size) return kCorrupt;
  if (std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; })) return 0;
  BlockValue v = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(size); ++i) v |= BlockValue{b[i]} << (8 * i);
  return Encode(v, size) == b ? v : kCorrupt;
}

std::string Millis(Time t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ToMillis(t.time_since_epoch()));
  return buf;
}

class World {
 public:
  explicit World(const TortureOptions& o)
      : o_(o),
        loop_(o.seed, TestNetwork{milliseconds(1), milliseconds(2), 0, /*fifo=*/false}),
        rng_(MixSeed(o.seed, 0x746f7274757265)) {
    loop_.RecordTrace(o.trace);
    repl_.ack_timeout = milliseconds(150);
    repl_.lease = seconds(1);
    repl_.resync_interval = milliseconds(300);
    for (int i = 0; i <= o.nodes; ++i) {
      const NodeId n = loop_.AddNode();
      envs_.push_back(std::make_unique<FaultEnv>(loop_.env(n), plan_));
    }
    controller_ = std::make_unique<VolumeController>(*envs_[kController], repl_);
    nodes_.resize(o.nodes + 1);
    for (int i = 1; i <= o.nodes; ++i) Start(static_cast<NodeId>(i));
  }

  StatusOr<TortureResult> Run() {
    std::vector<NodeId> all;
    for (int i = 1; i <= o_.nodes; ++i) all.push_back(static_cast<NodeId>(i));
    std::vector<NodeId> replicas;
    for (int i = 0; i < o_.repl; ++i) {
      const size_t pick = rng_.Uniform(all.size());
      replicas.push_back(all[pick]);
      all.erase(all.begin() + static_cast<std::ptrdiff_t>(pick));
    }
    if (Status s = controller_->CreateVolume({kVolume, o_.block_size, o_.blocks}, replicas); !s.ok()) return s;
    Log("volume " + std::string(kVolume) + " on " + Nodes(replicas));

    const Time start = loop_.now();
    fault_end_ = start + o_.faulty;
    Env& env = loop_.env(kController);
    env.Schedule(milliseconds(1), [this] { ClientTick(); });
    env.Schedule(milliseconds(200), [this] { FaultTick(); });
    env.Schedule(o_.faulty, [this] { HealAll(); });
    env.Schedule(o_.faulty + seconds(3), [this] { phase_ = Phase::kDraining; });
    env.Schedule(o_.faulty + seconds(8), [this] { StartFinal(); });
    // Simulated time bounds a run; the event cap catches a livelock, where
    // events keep coming without simulated time moving on.
    const Time limit = fault_end_ + seconds(60);
    constexpr uint64_t kMaxEvents = 20'000'000;
    while (!finished_ && loop_.now() < limit && loop_.stats().events_run < kMaxEvents && loop_.Step()) {
    }
    const bool stalled = loop_.stats().events_run >= kMaxEvents;
    if (stalled) {
      Log("stalled: " + std::to_string(kMaxEvents) + " events and the run still not over (a livelock)");
      finished_ = true;  // nothing more is checked: the history is cut off mid-run
    }
    {
      const VolumeRecord& rec = *controller_->Find(kVolume);
      std::vector<NodeId> in_sync(rec.in_sync.begin(), rec.in_sync.end());
      Log("volume at the end: generation " + std::to_string(rec.generation) + ", primary " +
          std::to_string(rec.primary) + ", replicas " + Nodes(rec.replicas) + ", in sync " + Nodes(in_sync));
    }
    if (stalled) {
      TortureResult r;
      r.seed = o_.seed;
      r.stalled = true;
      r.digest = loop_.trace_digest();
      if (o_.trace) TraceInto(r);
      return r;
    }
    if (!finished_) {  // the volume never served again: every block unreadable
      for (uint32_t b = next_final_; b < o_.blocks; ++b) Final(b, kUnreadable);
    }

    StatusOr<CheckResult> check = history_.Check();
    if (!check.ok()) return check.status();
    TortureResult r;
    r.seed = o_.seed;
    r.check = std::move(*check);
    r.acknowledged_writes = r.check.acknowledged_writes;
    r.lost_writes = r.check.lost_writes;
    r.bad_reads = r.check.invalid_reads + r.check.stale_reads + r.check.time_travel_reads +
                  r.check.nonlinearizable_blocks;
    r.faults = faults_;
    r.failovers = controller_->stats().failovers;
    for (const auto& n : nodes_) {
      if (n) resynced_ += n->stats().blocks_resynced;
    }
    r.blocks_resynced = resynced_;
    r.snapshots_checked = snapshots_checked_;
    r.digest = loop_.trace_digest();
    if (o_.trace) TraceInto(r);
    return r;
  }

 private:
  enum class Phase { kRunning, kDraining, kFinal };

  void TraceInto(TortureResult& r) const {
    r.trace.push_back("# client operations and faults");
    r.trace.insert(r.trace.end(), trace_.begin(), trace_.end());
    r.trace.push_back("# every event of the run");
    r.trace.insert(r.trace.end(), loop_.trace().begin(), loop_.trace().end());
  }

  void Log(const std::string& line) {
    if (o_.trace) trace_.push_back(Millis(loop_.now()) + " ms " + line);
  }
  static std::string Nodes(const std::vector<NodeId>& ns) {
    std::string s;
    for (NodeId n : ns) s += (s.empty() ? "" : ",") + std::to_string(n);
    return "[" + s + "]";
  }

  void Start(NodeId n) { nodes_[n] = std::make_unique<StorageNode>(*envs_[n], kController, repl_); }

  void Crash(NodeId n) {
    resynced_ += nodes_[n]->stats().blocks_resynced;
    nodes_[n].reset();
    loop_.Crash(n);
    // Its clients' operations die with it: never completed, so unknown.
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      it = it->second == n ? in_flight_.erase(it) : std::next(it);
    }
  }
  void Restart(NodeId n) {
    if (loop_.IsUp(n)) return;
    loop_.Restart(n);
    Start(n);
    Log("restart node " + std::to_string(n));
  }

  NodeId Primary() const { return controller_->Find(kVolume)->primary; }

  // Each new generation of the volume's record, as the controller holds it.
  void LogRecord() {
    const VolumeRecord& rec = *controller_->Find(kVolume);
    if (rec.generation == logged_generation_) return;
    logged_generation_ = rec.generation;
    std::vector<NodeId> in_sync(rec.in_sync.begin(), rec.in_sync.end());
    std::string snaps;
    for (const SnapshotRecord& s : rec.snapshots) snaps += " " + s.name + (s.ready ? "(ready)" : "(asked)");
    Log("record: generation " + std::to_string(rec.generation) + ", primary " + std::to_string(rec.primary) +
        ", replicas " + Nodes(rec.replicas) + ", in sync " + Nodes(in_sync) + ", snapshots" +
        (snaps.empty() ? " none" : snaps));
  }

  // ---- clients ----
  void ClientTick() {
    if (o_.trace) LogRecord();
    if (phase_ == Phase::kRunning && in_flight_.size() < kMaxInFlight) Issue();
    if (phase_ != Phase::kFinal) {
      loop_.env(kController).Schedule(rng_.UniformDuration(milliseconds(1), milliseconds(6)), [this] { ClientTick(); });
    }
  }

  void Issue() {
    // Mostly where the controller says the primary is; sometimes at any node
    // that believes it serves (a client that has not heard of a failover yet).
    const NodeId p = rng_.Chance(0.3) ? AnyStorageNode() : Primary();
    if (!loop_.IsUp(p) || !nodes_[p] || !nodes_[p]->Serving(kVolume)) return;
    const uint32_t block = static_cast<uint32_t>(rng_.Uniform(o_.blocks));
    if (rng_.Chance(0.6)) {
      const BlockValue v = next_value_++;
      const OpId op = history_.InvokeWrite(block, v, loop_.now());
      in_flight_[op] = p;
      Log("write block " + std::to_string(block) + " value " + std::to_string(v) + " at node " +
          std::to_string(p) + " (op " + std::to_string(op) + ")");
      nodes_[p]->Write(kVolume, block, Encode(v, o_.block_size), [this, op](Status s) {
        if (!in_flight_.erase(op)) return;
        Log("op " + std::to_string(op) + " write " + (s.ok() ? "ok" : s.ToString()));
        if (s.ok()) {
          history_.Ok(op, loop_.now());
        } else {
          history_.Unknown(op);  // it may have reached a replica that a later primary serves from
        }
      });
    } else {
      const OpId op = history_.InvokeRead(block, loop_.now());
      in_flight_[op] = p;
      nodes_[p]->Read(kVolume, block, [this, op, block](StatusOr<Bytes> data) {
        if (!in_flight_.erase(op)) return;
        if (!data.ok()) {
          history_.Unknown(op);
          return;
        }
        const BlockValue v = Decode(*data, o_.block_size);
        Log("op " + std::to_string(op) + " read block " + std::to_string(block) + " = " + std::to_string(v));
        history_.OkRead(op, v, loop_.now());
      });
    }
  }

  // ---- the end: heal, settle, read every block once more ----
  void HealAll() {
    Log("heal everything");
    for (uint64_t& e : epoch_) ++e;
    plan_.Heal();
    plan_.set_drop_rate(0);
    plan_.set_duplicate_rate(0);
    plan_.set_delay(Duration::zero(), Duration::zero());
    plan_.set_disk_error_rate(0);
    for (int i = 1; i <= o_.nodes; ++i) {
      plan_.FailDisk(static_cast<NodeId>(i), false);
      Restart(static_cast<NodeId>(i));
    }
  }

  void StartFinal() {
    phase_ = Phase::kFinal;
    for (const auto& [op, node] : in_flight_) history_.Unknown(op);  // given up on: unknown
    in_flight_.clear();
    for (const SnapshotRecord& snap : controller_->Find(kVolume)->snapshots) {
      if (snap.ready) to_check_.push_back(snap);
    }
    Log("snapshot reads, then final reads");
    ReadSnapshots();
  }

  // Every block of every ready snapshot, read after the run: a snapshot is
  // the volume at one instant between when it was asked for and when it was
  // ready, so each of its blocks must be a value a read in that window could
  // have returned.
  void ReadSnapshots() {
    if (to_check_.empty()) return ReadFinal();
    const SnapshotRecord snap = to_check_.front();
    if (next_snap_block_ == o_.blocks) {
      to_check_.erase(to_check_.begin());
      next_snap_block_ = 0;
      ++snapshots_checked_;
      return ReadSnapshots();
    }
    const NodeId p = Primary();
    const auto retry = [this] { loop_.env(kController).Schedule(milliseconds(50), [this] { ReadSnapshots(); }); };
    if (!loop_.IsUp(p) || !nodes_[p]) return retry();
    const uint32_t block = next_snap_block_;
    nodes_[p]->ReadSnapshot(kVolume, snap.name, block, [this, snap, block, retry](StatusOr<Bytes> data) {
      if (!data.ok() && data.status().code() == StatusCode::kUnavailable) return retry();
      const BlockValue v = data.ok() ? Decode(*data, o_.block_size) : kUnreadable;
      Log("snapshot " + snap.name + " block " + std::to_string(block) + " = " + std::to_string(v) +
          (data.ok() ? "" : " (" + data.status().ToString() + ")"));
      const OpId op = history_.InvokeRead(block, Time{} + Duration(snap.requested_ns));
      history_.OkRead(op, v, Time{} + Duration(snap.ready_ns));
      ++next_snap_block_;
      ReadSnapshots();
    });
  }

  void ReadFinal() {
    if (next_final_ == o_.blocks) {
      finished_ = true;
      return;
    }
    const NodeId p = Primary();
    const auto retry = [this] { loop_.env(kController).Schedule(milliseconds(50), [this] { ReadFinal(); }); };
    if (!loop_.IsUp(p) || !nodes_[p]) return retry();
    const uint32_t block = next_final_;
    nodes_[p]->Read(kVolume, block, [this, block, retry](StatusOr<Bytes> data) {
      if (!data.ok()) return retry();
      Final(block, Decode(*data, o_.block_size));
      ++next_final_;
      ReadFinal();
    });
  }

  void Final(uint32_t block, BlockValue v) {
    Log("final block " + std::to_string(block) + " = " + std::to_string(v));
    history_.Final(block, v);
  }

  // ---- faults ----
  NodeId AnyStorageNode() { return static_cast<NodeId>(1 + rng_.Uniform(static_cast<uint64_t>(o_.nodes))); }
  NodeId Victim() { return rng_.Chance(0.5) ? Primary() : AnyStorageNode(); }
  Duration Between(Duration lo, Duration hi) { return rng_.UniformDuration(lo, hi); }
  void After(Duration d, std::function<void()> fn) {
    loop_.env(kController).Schedule(d, [this, fn = std::move(fn)] {
      if (loop_.now() < fault_end_) fn();  // past the end, HealAll has undone it
    });
  }

  void FaultTick() {
    if (loop_.now() >= fault_end_) return;
    ++faults_;
    const uint64_t kind = rng_.Uniform(100);
    if (kind < 25) {
      const NodeId n = Victim();
      if (loop_.IsUp(n)) {
        const Duration down = Between(milliseconds(50), seconds(3));
        Log("crash node " + std::to_string(n) + " for " + std::to_string(ToMillis(down)) + " ms");
        Crash(n);
        After(down, [this, n] { Restart(n); });
      }
    } else if (kind < 45 && !partitioned_) {
      partitioned_ = true;
      const uint64_t shape = rng_.Uniform(5);
      if (shape == 3) {
        // The control plane alone: the primary serves on, run-flat.
        plan_.Isolate(kController);
        Log("partition: controller alone");
      } else if (shape == 4) {
        // The primary and one other replica against the controller and the
        // rest: the controller may fail over to the far side while the
        // primary still hears a peer.
        const NodeId p = Primary();
        const NodeId q = AnyStorageNode();
        std::vector<NodeId> near = {p};
        if (q != p) near.push_back(q);
        plan_.Partition({near});
        Log("partition: primary " + std::to_string(p) + (q != p ? " with node " + std::to_string(q) : "") +
            " against the controller and the rest");
      } else if (shape == 2 && o_.nodes >= 3) {
        // A ring over every node, the controller's too: each reaches its two
        // neighbours only, so no one sees the whole picture.
        const int n = o_.nodes + 1;
        for (int a = 0; a < n; ++a) {
          for (int b = 0; b < n; ++b) {
            const int d = (a - b + n) % n;
            if (d > 1 && d < n - 1) plan_.BlockLink(static_cast<NodeId>(a), static_cast<NodeId>(b));
          }
        }
        Log("partition: ring");
      } else {
        const NodeId n = shape == 0 ? Primary() : AnyStorageNode();
        plan_.Isolate(n);
        Log("partition: node " + std::to_string(n) + " alone");
      }
      After(Between(milliseconds(200), seconds(4)), [this] {
        plan_.Heal();
        partitioned_ = false;
        Log("partition healed");
      });
    } else if (kind < 60) {
      const double p = rng_.UnitReal() * 0.2;
      if (rng_.Chance(0.5)) {
        const uint64_t e = ++epoch_[kDrop];
        plan_.set_drop_rate(p);
        Log("drop " + std::to_string(p));
        After(Between(milliseconds(200), seconds(2)), [this, e] {
          if (e == epoch_[kDrop]) plan_.set_drop_rate(0);
        });
      } else {
        const uint64_t e = ++epoch_[kDuplicate];
        plan_.set_duplicate_rate(p);
        Log("duplicate " + std::to_string(p));
        After(Between(milliseconds(200), seconds(2)), [this, e] {
          if (e == epoch_[kDuplicate]) plan_.set_duplicate_rate(0);
        });
      }
    } else if (kind < 70) {
      const Duration hi = Between(milliseconds(1), milliseconds(200));
      const uint64_t e = ++epoch_[kDelay];
      plan_.set_delay(Duration::zero(), hi);
      Log("delay up to " + std::to_string(ToMillis(hi)) + " ms");
      After(Between(milliseconds(200), seconds(2)), [this, e] {
        if (e == epoch_[kDelay]) plan_.set_delay(Duration::zero(), Duration::zero());
      });
    } else if (kind < 85) {
      if (rng_.Chance(0.5)) {
        const NodeId n = Victim();
        plan_.FailDisk(n, true);
        Log("disk of node " + std::to_string(n) + " fails");
        After(Between(milliseconds(50), milliseconds(800)), [this, n] { plan_.FailDisk(n, false); });
      } else {
        const double p = rng_.UnitReal() * 0.05;
        const uint64_t e = ++epoch_[kDiskErrors];
        plan_.set_disk_error_rate(p);
        Log("disk errors " + std::to_string(p));
        After(Between(milliseconds(100), seconds(1)), [this, e] {
          if (e == epoch_[kDiskErrors]) plan_.set_disk_error_rate(0);
        });
      }
    } else if (kind < 89) {
      // A planned move: a pod that mounts the volume landed on another replica.
      const VolumeRecord& rec = *controller_->Find(kVolume);
      std::vector<NodeId> others;
      for (NodeId n : rec.in_sync)
        if (n != rec.primary) others.push_back(n);
      if (!others.empty()) {
        const NodeId to = others[rng_.Uniform(others.size())];
        if (controller_->Attach(kVolume, to).ok()) Log("attach at node " + std::to_string(to));
      }
    } else if (kind < 97) {
      // Snapshots, as a schedule with a retention of three would take them.
      const VolumeRecord& rec = *controller_->Find(kVolume);
      if (rec.snapshots.size() >= 3 && rec.snapshots.front().ready) {
        const std::string old = rec.snapshots.front().name;
        if (controller_->DeleteSnapshot(kVolume, old).ok()) Log("delete snapshot " + old);
      }
      const std::string name = "snap-" + std::to_string(++snapshots_asked_);
      if (controller_->CreateSnapshot(kVolume, name).ok()) Log("snapshot " + name);
    } else if (o_.nodes > o_.repl) {
      const VolumeRecord& rec = *controller_->Find(kVolume);
      std::vector<NodeId> spares, replaceable;
      for (int i = 1; i <= o_.nodes; ++i) {
        const NodeId n = static_cast<NodeId>(i);
        if (std::find(rec.replicas.begin(), rec.replicas.end(), n) == rec.replicas.end()) {
          spares.push_back(n);
        } else if (n != rec.primary) {
          replaceable.push_back(n);
        }
      }
      if (!spares.empty() && !replaceable.empty()) {
        const NodeId gone = replaceable[rng_.Uniform(replaceable.size())];
        const NodeId spare = spares[rng_.Uniform(spares.size())];
        if (controller_->ReplaceReplica(kVolume, gone, spare).ok()) {
          Log("replace replica " + std::to_string(gone) + " by " + std::to_string(spare));
        }
      }
    }
    loop_.env(kController).Schedule(Between(milliseconds(200), milliseconds(1200)), [this] { FaultTick(); });
  }

  TortureOptions o_;
  TestLoop loop_;
  FaultPlan plan_;
  Random rng_;  // the client's and the fault timeline's: apart from the nodes' own
  ReplicationOptions repl_;
  std::vector<std::unique_ptr<FaultEnv>> envs_;
  std::unique_ptr<VolumeController> controller_;
  std::vector<std::unique_ptr<StorageNode>> nodes_;
  History history_;
  std::map<OpId, NodeId> in_flight_;  // client operations, by the node they went to
  Phase phase_ = Phase::kRunning;
  BlockValue next_value_ = 1;
  uint32_t next_final_ = 0;
  bool finished_ = false, partitioned_ = false;
  // Per kind of rate or delay episode: a later episode outlives an earlier one's end.
  enum Episode { kDrop, kDuplicate, kDelay, kDiskErrors, kEpisodes };
  uint64_t epoch_[kEpisodes] = {};
  uint64_t faults_ = 0, resynced_ = 0, logged_generation_ = 0;
  uint64_t snapshots_asked_ = 0, snapshots_checked_ = 0;
  std::vector<SnapshotRecord> to_check_;
  uint32_t next_snap_block_ = 0;
  Time fault_end_{};
  std::vector<std::string> trace_;
};

}  // namespace

StatusOr<TortureResult> RunTorture(const TortureOptions& o) {
  if (o.repl < 1 || o.repl > 3) return InvalidArgument("repl must be 1, 2 or 3", "repl");
  if (o.nodes < o.repl || o.nodes > 64) {
    return InvalidArgument("nodes must be at least repl (" + std::to_string(o.repl) + ") and at most 64", "nodes");
  }
  if (o.blocks == 0 || o.blocks > 4096) return InvalidArgument("blocks must be 1-4096", "blocks");
  if (o.block_size < 8 || o.block_size > 65536) return InvalidArgument("block_size must be 8-65536", "block_size");
  if (o.faulty <= Duration::zero()) return InvalidArgument("faulty must be positive", "faulty");
  World world(o);
  return world.Run();
}

}  // namespace edgebed::storage
