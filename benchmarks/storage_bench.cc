// Storage replication: what a replicated 4 KiB write costs, how close the
// engine (core/storage/replication.h) comes to the simulated disk's limit,
// and how long a replica takes to come back in sync.
//
// Everything runs on the deterministic TestLoop (core/env/test_loop.h) with
// its default network (1 ms one way) and disk (DiskTiming: 50 us per
// operation, 500 us per sync, 1 GB/s), every node behind a FaultEnv as in
// tests/storage/replication_test.cc. Two clocks are reported:
//   - wall time per acknowledged write: the CPU cost of the engine plus the
//     test loop that carries its messages and disk completions;
//   - simulated time: writes per simulated second and their latency, which
//     depend only on the disk and network models and the protocol.
//
// Baselines in the same run:
//   - BM_BareDisk: one node writes and syncs each 4 KiB block on its disk,
//     one at a time, with nothing else: the floor the engine is held to;
//   - BM_BareProtocol: the same messages and disk work as a replicated write
//     (the block to every replica, write, sync, a small ack back) with none of
//     the engine's logic: what the test loop itself costs per write;
//   - BM_Checksum_*: the per-block checksum the engine computes (XXH3),
//     against the byte-at-a-time FNV-1a it replaced.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/base/hash.h"
#include "core/env/fault_env.h"
#include "core/env/test_loop.h"
#include "core/storage/replication.h"

namespace edgebed::storage {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kVol = "bench/vol";
constexpr uint32_t kBlockSize = 4096;
constexpr int kInFlight = 32;                 // writes outstanding at the primary, unless said
constexpr int64_t kWritesPerIteration = 2048;
constexpr uint64_t kSlotHeader = 24;          // replication.cc: (generation, sequence, checksum) per block

// Wall-time figures are the median of kRepetitions runs: the machine is
// shared, and a single run can be off by a third.
constexpr int kRepetitions = 5;
void Repeated(benchmark::internal::Benchmark* b) {
  b->MinTime(0.2)->Repetitions(kRepetitions)->ReportAggregatesOnly(true);
}

// One write and its sync of `bytes` on a MemDisk, as mem_disk.cc charges
// them: op_latency + bytes / bytes_per_second, then sync_latency.
Duration WriteAndSync(const DiskTiming& t, uint64_t bytes) {
  const double transfer = t.bytes_per_second > 0 ? static_cast<double>(bytes) / t.bytes_per_second : 0;
  return t.op_latency + Duration(static_cast<int64_t>(transfer * 1e9)) + t.sync_latency;
}

double Percentile(std::vector<Duration>& v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return ToMillis(v[k]);
}

// The client side of every write benchmark: `total` writes of one block each,
// `in_flight` outstanding, each new one issued when one is answered. The
// state is shared with the callbacks, so a run cut short leaves none dangling.
struct ClosedLoop {
  using Done = std::function<void(Status)>;
  using WriteFn = std::function<void(uint32_t block, Bytes data, Done done)>;

  struct State {
    TestLoop* loop = nullptr;
    WriteFn write;
    uint32_t blocks = 0;
    uint32_t next_block = 0;
    int64_t issued = 0, answered = 0, failed = 0, total = 0;
    std::vector<Duration>* latencies = nullptr;
  };

  static void Issue(const std::shared_ptr<State>& s) {
    const uint32_t block = s->next_block++ % s->blocks;
    const Time start = s->loop->now();
    ++s->issued;
    s->write(block, Bytes(kBlockSize, static_cast<uint8_t>(s->issued)), [s, start](Status st) {
      ++s->answered;
      if (!st.ok()) ++s->failed;
      s->latencies->push_back(s->loop->now() - start);
      if (s->issued < s->total) Issue(s);
    });
  }

  // Runs until every write is answered; false if they are not within `limit`
  // of simulated time.
  static bool Run(TestLoop& loop, WriteFn write, uint32_t blocks, uint32_t* next_block, int64_t total,
                  std::vector<Duration>* latencies, int64_t* failed, int in_flight = kInFlight,
                  Duration limit = seconds(60)) {
    auto s = std::make_shared<State>();
    s->loop = &loop;
    s->write = std::move(write);
    s->blocks = blocks;
    s->next_block = *next_block;
    s->total = total;
    s->latencies = latencies;
    for (int i = 0; i < in_flight && s->issued < total; ++i) Issue(s);
    const Time end = loop.now() + limit;
    while (s->answered < total && loop.now() < end && loop.Step()) {
    }
    *next_block = s->next_block;
    *failed += s->failed;
    return s->answered == total;
  }
};

// A controller on node 0 and storage nodes 1..n behind one fault plan, as in
// tests/storage/replication_test.cc.
class Cluster {
 public:
  Cluster(int storage_nodes, ReplicationOptions options, uint64_t seed = 1) : loop_(seed), options_(options) {
    for (int i = 0; i <= storage_nodes; ++i) {
      envs_.push_back(std::make_unique<FaultEnv>(loop_.env(loop_.AddNode()), plan_));
    }
    controller_ = std::make_unique<VolumeController>(*envs_[0], options_);
    nodes_.resize(static_cast<size_t>(storage_nodes) + 1);
    for (int i = 1; i <= storage_nodes; ++i) {
      nodes_[static_cast<size_t>(i)] = std::make_unique<StorageNode>(*envs_[static_cast<size_t>(i)], 0, options_);
    }
  }

  const VolumeRecord& Record() const { return *controller_->Find(kVol); }
  StorageNode& node(NodeId n) { return *nodes_[n]; }
  NodeId primary() const { return Record().primary; }
  void Crash(NodeId n) {
    nodes_[n].reset();
    loop_.Crash(n);
  }

  // Steps the loop until `done()` holds, checking after every event; false
  // if it does not within `limit` of simulated time.
  template <typename Pred>
  bool StepUntil(Pred done, Duration limit) {
    const Time end = loop_.now() + limit;
    while (!done()) {
      if (loop_.now() >= end || !loop_.Step()) return false;
    }
    return true;
  }
  bool AwaitServing(Duration limit = seconds(60)) {
    return StepUntil([this] { return nodes_[primary()] && nodes_[primary()]->Serving(kVol); }, limit);
  }

  ClosedLoop::WriteFn Writer() {
    return [this](uint32_t block, Bytes data, ClosedLoop::Done done) {
      node(primary()).Write(kVol, block, std::move(data), std::move(done));
    };
  }

  TestLoop loop_;
  FaultPlan plan_;
  ReplicationOptions options_;
  std::vector<std::unique_ptr<FaultEnv>> envs_;
  std::unique_ptr<VolumeController> controller_;
  std::vector<std::unique_ptr<StorageNode>> nodes_;
};

// Disk work one at a time, in order, as a replica's queue does it: a write of
// one block, its sync, then the next.
class DiskFifo {
 public:
  DiskFifo(Env& env, std::string file) : env_(env), file_(std::move(file)) {}

  void WriteAndSync(uint64_t offset, Bytes data, std::function<void()> done) {
    queue_.push_back({offset, std::move(data), std::move(done)});
    if (!busy_) Next();
  }

 private:
  struct Op {
    uint64_t offset;
    Bytes data;
    std::function<void()> done;
  };
  void Next() {
    busy_ = !queue_.empty();
    if (!busy_) return;
    auto op = std::make_shared<Op>(std::move(queue_.front()));
    queue_.pop_front();
    env_.disk().Write(file_, op->offset, std::move(op->data), [this, op](Status) {
      env_.disk().Sync(file_, [this, op](Status) {
        op->done();
        Next();
      });
    });
  }

  Env& env_;
  std::string file_;
  std::deque<Op> queue_;
  bool busy_ = false;
};

// The replication protocol with nothing but its messages and disk work: the
// primary sends the block to every replica (itself through a zero-delay
// timer, as the engine does), each writes and syncs it in order and answers
// with its tag, and the write is done when all have answered.
class BareReplication {
 public:
  static constexpr Port kPort = 7500;

  BareReplication(std::vector<Env*> envs, int repl) : envs_(std::move(envs)) {
    for (int i = 0; i < repl; ++i) replicas_.push_back(static_cast<NodeId>(i + 1));
    for (NodeId n : replicas_) {
      fifos_[n] = std::make_unique<DiskFifo>(*envs_[n], "bare.blocks");
      (void)envs_[n]->Listen(kPort, [this, n](NodeId from, ByteView m) { OnMessage(n, from, m); });
    }
  }

  void Write(uint32_t block, Bytes data, ClosedLoop::Done done) {
    const NodeId self = replicas_[0];
    const uint64_t tag = next_tag_++;
    pending_[tag] = {replicas_.size(), std::move(done)};
    Bytes msg(12 + data.size());
    std::memcpy(msg.data(), &tag, 8);
    std::memcpy(msg.data() + 8, &block, 4);
    std::memcpy(msg.data() + 12, data.data(), data.size());
    for (NodeId n : replicas_) {
      if (n == self) {
        envs_[self]->Schedule(Duration::zero(), [this, self, msg] { OnMessage(self, self, ByteView(msg)); });
      } else {
        envs_[self]->Send(n, kPort, msg);
      }
    }
  }

 private:
  void OnMessage(NodeId at, NodeId from, ByteView m) {
    uint64_t tag = 0;
    std::memcpy(&tag, m.data(), 8);
    if (m.size() == 8) {  // an ack, at the primary
      auto it = pending_.find(tag);
      if (it == pending_.end() || --it->second.waiting > 0) return;
      ClosedLoop::Done done = std::move(it->second.done);
      pending_.erase(it);
      done(Status::Ok());
      return;
    }
    uint32_t block = 0;
    std::memcpy(&block, m.data() + 8, 4);
    fifos_[at]->WriteAndSync(uint64_t{block} * kBlockSize, Bytes(m.begin() + 12, m.end()), [this, at, from, tag] {
      Bytes ack(8);
      std::memcpy(ack.data(), &tag, 8);
      if (from == at) {
        envs_[at]->Schedule(Duration::zero(), [this, at, ack] { OnMessage(at, at, ByteView(ack)); });
      } else {
        envs_[at]->Send(from, kPort, std::move(ack));
      }
    });
  }

  struct Pending {
    size_t waiting;
    ClosedLoop::Done done;
  };
  std::vector<Env*> envs_;
  std::vector<NodeId> replicas_;
  std::map<NodeId, std::unique_ptr<DiskFifo>> fifos_;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_tag_ = 1;
};

// The counters every write benchmark reports. `per_write_bound` is the
// simulated disk time one replica spends on each write, one at a time: its
// inverse is the most writes per simulated second the volume can take.
void Report(benchmark::State& state, int64_t writes, int64_t failed, Duration simulated,
            std::vector<Duration>& latencies, Duration per_write_bound, uint64_t events) {
  if (failed > 0) state.SkipWithError("writes failed");
  const auto w = static_cast<double>(writes);
  state.SetItemsProcessed(writes);
  // Wall (CPU) time per acknowledged write; shown in seconds, e.g. "31.2u".
  state.counters["cpu_per_write"] = benchmark::Counter(w, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["events_per_write"] = static_cast<double>(events) / w;
  const double sim_rate = w / ToSeconds(simulated);
  const double bound = 1.0 / ToSeconds(per_write_bound);
  state.counters["sim_writes_per_s"] = sim_rate;
  state.counters["bound_writes_per_s"] = bound;
  state.counters["of_bound"] = sim_rate / bound;
  state.counters["sim_p50_ms"] = Percentile(latencies, 0.50);
  state.counters["sim_p99_ms"] = Percentile(latencies, 0.99);
}

// Runs kWritesPerIteration writes per iteration over `blocks` blocks, with
// `in_flight` outstanding, and reports them; false (after saying why) if
// writes went unanswered.
bool MeasureWrites(benchmark::State& state, TestLoop& loop, const ClosedLoop::WriteFn& write, uint32_t blocks,
                   int in_flight, Duration per_write_bound) {
  std::vector<Duration> latencies;
  latencies.reserve(1 << 16);
  uint32_t next_block = 0;
  int64_t writes = 0, failed = 0;
  Duration simulated{};
  const uint64_t events0 = loop.stats().events_run;
  for (auto _ : state) {
    const Time t0 = loop.now();
    if (!ClosedLoop::Run(loop, write, blocks, &next_block, kWritesPerIteration, &latencies, &failed, in_flight)) {
      state.SkipWithError("writes were not answered");
      return false;
    }
    simulated += loop.now() - t0;
    writes += kWritesPerIteration;
  }
  Report(state, writes, failed, simulated, latencies, per_write_bound, loop.stats().events_run - events0);
  return true;
}

// ---------------------------------------------------------------------------
// 1. Replicated writes at the primary, 32 (or 1) outstanding.

void BM_ReplicatedWrite(benchmark::State& state) {
  const int repl = static_cast<int>(state.range(0));
  const int in_flight = static_cast<int>(state.range(1));
  // Default options. Creating the volume makes its primary rewrite every
  // block at once, all within one ack_timeout (300 ms): 256 blocks take
  // 256 x 554 us = 142 ms on the default disk; see BM_Resync for larger.
  constexpr uint32_t kBlocks = 256;
  Cluster c(repl, ReplicationOptions{});
  std::vector<NodeId> replicas;
  for (int i = 1; i <= repl; ++i) replicas.push_back(static_cast<NodeId>(i));
  if (!c.controller_->CreateVolume({kVol, kBlockSize, kBlocks}, replicas).ok() || !c.AwaitServing()) {
    state.SkipWithError("the volume did not come up");
    return;
  }
  const Duration bound = WriteAndSync(DiskTiming{}, kSlotHeader + kBlockSize);
  if (!MeasureWrites(state, c.loop_, c.Writer(), kBlocks, in_flight, bound)) return;
  if (c.Record().in_sync.size() != static_cast<size_t>(repl)) state.SkipWithError("a replica left the in-sync set");
  state.counters["acked_at_primary"] =
      benchmark::Counter(static_cast<double>(c.node(c.primary()).stats().writes_acked), benchmark::Counter::kAvgIterations);
}
// {replicas, writes in flight}: the closed loop of 32, and one at a time for
// the latency of an unloaded volume.
BENCHMARK(BM_ReplicatedWrite)
    ->ArgNames({"repl", "in_flight"})
    ->Args({1, 32})
    ->Args({2, 32})
    ->Args({3, 32})
    ->Args({1, 1})
    ->Args({3, 1})
    ->Apply(Repeated)
    ->Unit(benchmark::kMillisecond);

// Baseline: a bare MemDisk write + sync of each block on one node, one at a
// time, on the same test loop and FaultEnv, with no replication.
void BM_BareDisk(benchmark::State& state) {
  TestLoop loop(1);
  FaultPlan plan;
  FaultEnv env(loop.env(loop.AddNode()), plan);
  DiskFifo fifo(env, "bare.blocks");
  const ClosedLoop::WriteFn write = [&](uint32_t block, Bytes data, ClosedLoop::Done done) {
    fifo.WriteAndSync(uint64_t{block} * kBlockSize, std::move(data), [done = std::move(done)] { done(Status::Ok()); });
  };
  MeasureWrites(state, loop, write, 256, kInFlight, WriteAndSync(DiskTiming{}, kBlockSize));
}
BENCHMARK(BM_BareDisk)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// Baseline: the replication protocol's messages and disk work alone.
void BM_BareProtocol(benchmark::State& state) {
  const int repl = static_cast<int>(state.range(0));
  TestLoop loop(1);
  FaultPlan plan;
  std::vector<std::unique_ptr<FaultEnv>> envs;
  std::vector<Env*> raw;
  for (int i = 0; i <= repl; ++i) {
    envs.push_back(std::make_unique<FaultEnv>(loop.env(loop.AddNode()), plan));
    raw.push_back(envs.back().get());
  }
  BareReplication bare(raw, repl);
  const ClosedLoop::WriteFn write = [&](uint32_t block, Bytes data, ClosedLoop::Done done) {
    bare.Write(block, std::move(data), std::move(done));
  };
  MeasureWrites(state, loop, write, 256, kInFlight, WriteAndSync(DiskTiming{}, kBlockSize));
}
BENCHMARK(BM_BareProtocol)->ArgName("repl")->Arg(1)->Arg(2)->Arg(3)->Apply(Repeated)->Unit(benchmark::kMillisecond);

// The engine's per-block checksum (Hash64, XXH3, in SlotChecksum of
// replication.cc; the test loop digests every message with it too) against
// the FNV-1a a byte at a time that both used before, over one 4 KiB block.
uint64_t Fnv1a(const uint8_t* data, size_t n) {
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ data[i]) * 1099511628211ULL;
  return h;
}

template <uint64_t (*kHash)(const uint8_t*, size_t)>
void BM_Checksum(benchmark::State& state) {
  Bytes block(kBlockSize);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(i * 131);
  for (auto _ : state) {
    benchmark::DoNotOptimize(block.data());
    benchmark::DoNotOptimize(kHash(block.data(), block.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kBlockSize);
}
uint64_t Xxh3(const uint8_t* data, size_t n) { return Hash64(data, n); }
BENCHMARK_TEMPLATE(BM_Checksum, Xxh3)->Name("BM_Checksum_Xxh3")->Apply(Repeated);
BENCHMARK_TEMPLATE(BM_Checksum, Fnv1a)->Name("BM_Checksum_Fnv1aBytewise")->Apply(Repeated);

// ---------------------------------------------------------------------------
// 2. Resync: a repl-3 volume of 4096 blocks; one replica is cut off while K
// distinct blocks are written, then the network heals. Reported: simulated
// time from the heal until the controller's in-sync set is whole again, the
// part of it spent copying (from the first copied block acknowledged), and
// the blocks the primary copied. BM_Rebuild replaces a replica instead
// (ReplaceReplica onto an empty node), which copies every block.
//
// While the replica is away the primary probes it at its housekeeping tick
// (every ack_timeout / 2) once resync_interval has passed since the last
// probe, and starts copying when it answers: a probe every few ticks
// (CatchUpCycle). How long a heal waits for copying therefore depends on
// where in that cycle it falls, so each case heals at kPhases points spread
// over the cycle and reports the mean and the worst. Default options.

constexpr int kPhases = 6;

// A repl-3 volume on nodes 1-3 (node 4 spare), up and serving.
std::unique_ptr<Cluster> ResyncCluster(benchmark::State& state, uint32_t blocks, const ReplicationOptions& o) {
  auto c = std::make_unique<Cluster>(4, o);
  if (!c->controller_->CreateVolume({kVol, kBlockSize, blocks}, {1, 2, 3}).ok() || !c->AwaitServing()) {
    state.SkipWithError("the volume did not come up");
    return nullptr;
  }
  return c;
}

// The primary's probes of a replica away, as replication.cc's Tick sends
// them: the first tick at least resync_interval after the last probe (4
// ticks, 600 ms, with the defaults).
Duration CatchUpCycle(const ReplicationOptions& o) {
  const Duration tick = o.ack_timeout / 2;
  int64_t ticks = 1;
  while (tick * ticks < o.resync_interval) ++ticks;
  return tick * ticks;
}

// Heal (or replace) this much later than the writes end: phase k of kPhases
// over the catch-up cycle.
Duration HealDelay(const ReplicationOptions& o, int phase) {
  return CatchUpCycle(o) * (phase % kPhases) / kPhases;
}

// Steps until the in-sync set is `want`, from now; records how long, and how
// long since the primary's first copied block was acknowledged.
struct ResyncResult {
  bool ok = true;
  Duration total{}, copying{}, worst{};
  uint64_t copied = 0;
  int runs = 0;
};
void AwaitResync(Cluster& c, const std::set<NodeId>& want, ResyncResult* r) {
  StorageNode& primary = c.node(c.primary());
  const uint64_t copied0 = primary.stats().blocks_resynced;
  const Time start = c.loop_.now();
  Time first_copy{};
  bool copying = false;
  r->ok &= c.StepUntil(
      [&] {
        if (!copying && primary.stats().blocks_resynced > copied0) {
          copying = true;
          first_copy = c.loop_.now();
        }
        return c.Record().in_sync == want;
      },
      seconds(120));
  r->total += c.loop_.now() - start;
  r->worst = std::max(r->worst, c.loop_.now() - start);
  r->copying += copying ? c.loop_.now() - first_copy : Duration::zero();
  r->copied += primary.stats().blocks_resynced - copied0;
  ++r->runs;
}

void ReportResync(benchmark::State& state, const ResyncResult& r, const ReplicationOptions& o, uint64_t dirty) {
  if (!r.ok || r.runs == 0) {
    state.SkipWithError("the replica did not come back in sync");
    return;
  }
  const double runs = r.runs;
  state.counters["resync_s"] = ToSeconds(r.total) / runs;
  state.counters["resync_worst_s"] = ToSeconds(r.worst);
  state.counters["cycle_s"] = ToSeconds(CatchUpCycle(o));
  state.counters["copying_s"] = ToSeconds(r.copying) / runs;
  state.counters["blocks_dirty"] = static_cast<double>(dirty);
  state.counters["blocks_copied"] = static_cast<double>(r.copied) / runs;
  // The replica applies copies one at a time: write + sync of a block each.
  state.counters["copy_bound_s"] =
      static_cast<double>(dirty) * ToSeconds(WriteAndSync(DiskTiming{}, kSlotHeader + kBlockSize));
  // Wall time of simulating the resyncs, per block copied.
  state.counters["cpu_per_block_copied"] =
      benchmark::Counter(static_cast<double>(r.copied), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void RunResync(benchmark::State& state, uint32_t blocks, const ReplicationOptions& o) {
  const auto changed = static_cast<uint32_t>(state.range(0));
  ResyncResult r;
  int phase = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<Cluster> c = ResyncCluster(state, blocks, o);
    if (!c) return;
    c->plan_.Isolate(3);
    // K distinct blocks, spread over the volume; the first ones wait out the
    // replica's ack timeout, then it leaves the in-sync set.
    const uint32_t stride = blocks / changed;
    uint32_t next = 0;
    int64_t failed = 0;
    std::vector<Duration> latencies;
    const ClosedLoop::WriteFn write = [&](uint32_t i, Bytes data, ClosedLoop::Done done) {
      c->node(c->primary()).Write(kVol, i * stride, std::move(data), std::move(done));
    };
    if (!ClosedLoop::Run(c->loop_, write, changed, &next, changed, &latencies, &failed) || failed > 0 ||
        c->Record().in_sync != std::set<NodeId>{1, 2}) {
      state.SkipWithError("writes with a replica away failed");
      return;
    }
    c->loop_.RunFor(HealDelay(o, phase++));
    c->plan_.Heal();
    state.ResumeTiming();
    AwaitResync(*c, {1, 2, 3}, &r);
    state.PauseTiming();
    c.reset();
    state.ResumeTiming();
  }
  ReportResync(state, r, o, changed);
}

void BM_Resync(benchmark::State& state) { RunResync(state, 4096, ReplicationOptions{}); }
BENCHMARK(BM_Resync)
    ->ArgName("changed")
    ->Arg(16)
    ->Arg(256)
    ->Arg(1024)
    ->Arg(4096)
    ->Iterations(kPhases)
    ->Unit(benchmark::kMillisecond);

void BM_Rebuild(benchmark::State& state) {
  const ReplicationOptions o;
  ResyncResult r;
  int phase = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<Cluster> c = ResyncCluster(state, 4096, o);
    if (!c) return;
    c->Crash(3);
    c->loop_.RunFor(HealDelay(o, phase++));
    if (!c->controller_->ReplaceReplica(kVol, 3, 4).ok()) {
      state.SkipWithError("ReplaceReplica failed");
      return;
    }
    state.ResumeTiming();
    AwaitResync(*c, {1, 2, 4}, &r);
    state.PauseTiming();
    c.reset();
    state.ResumeTiming();
  }
  ReportResync(state, r, o, 4096);
}
BENCHMARK(BM_Rebuild)->Iterations(kPhases)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace edgebed::storage

BENCHMARK_MAIN();
