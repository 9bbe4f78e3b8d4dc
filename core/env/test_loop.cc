#include "core/env/test_loop.h"

#include "core/base/hash.h"

#include <algorithm>
#include <cstdio>

namespace edgebed {
namespace {

constexpr uint64_t kFnvPrime = 1099511628211ULL;

uint64_t Fnv(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

uint64_t HashBytes(const Bytes& b) { return Hash64(b.data(), b.size()); }

}  // namespace

class TestLoop::NodeEnv final : public Env {
 public:
  NodeEnv(TestLoop& loop, NodeId id)
      : loop_(loop),
        id_(id),
        random_(MixSeed(loop.seed_, id)),
        disk_(
            [this](Duration delay, std::function<void()> fn) {
              loop_.Push(loop_.now_ + delay, id_, kNoTimer, "disk", std::move(fn), false);
            },
            loop.disk_timing_) {}

  NodeId self() const override { return id_; }
  Time now() const override { return loop_.now_; }

  TimerId Schedule(Duration after, std::function<void()> fn) override {
    const TimerId id = loop_.next_timer_++;
    loop_.live_timers_.insert(id);
    loop_.Push(loop_.now_ + std::max(after, Duration::zero()), id_, id, "timer", std::move(fn),
               false);
    return id;
  }

  bool Cancel(TimerId id) override { return loop_.live_timers_.erase(id) > 0; }

  void Send(NodeId to, Port port, Bytes message) override {
    loop_.Transmit(id_, to, port, std::move(message));
  }

  Status Listen(Port port, Receiver receiver) override {
    if (!receiver) return InvalidArgument("Listen needs a receiver");
    auto [it, inserted] = listeners_.emplace(port, std::move(receiver));
    if (!inserted) {
      return Status(StatusCode::kAlreadyExists,
                    "port " + std::to_string(port) + " already has a receiver on node " +
                        std::to_string(id_));
    }
    return Status::Ok();
  }
  void Unlisten(Port port) override { listeners_.erase(port); }

  Disk& disk() override { return disk_; }
  Random& random() override { return random_; }
  MetricsSink& metrics() override { return loop_.sink_; }

  TestLoop& loop_;
  const NodeId id_;
  Random random_;
  MemDisk disk_;
  std::map<Port, Receiver> listeners_;
  bool up_ = true;
  uint64_t incarnation_ = 0;
  Time link_free_at_{};  // when this node's uplink finishes its last transmission
};

TestLoop::TestLoop(uint64_t seed, TestNetwork network, DiskTiming disk_timing)
    : network_(network),
      disk_timing_(disk_timing),
      seed_(seed),
      net_random_(MixSeed(seed, UINT64_MAX)) {}

TestLoop::~TestLoop() = default;

NodeId TestLoop::AddNode() {
  const auto id = static_cast<NodeId>(nodes_.size());
  nodes_.push_back(std::make_unique<NodeEnv>(*this, id));
  return id;
}

Env& TestLoop::env(NodeId node) { return *nodes_.at(node); }
MemDisk& TestLoop::disk(NodeId node) { return nodes_.at(node)->disk_; }

void TestLoop::Push(Time at, NodeId node, TimerId timer, std::string what,
                    std::function<void()> fn, bool survives_crash) {
  const uint64_t incarnation =
      survives_crash ? UINT64_MAX : nodes_.at(node)->incarnation_;
  queue_.push_back(Event{at, next_seq_++, node, incarnation, timer, std::move(what), std::move(fn)});
  std::push_heap(queue_.begin(), queue_.end(), Later());
}

Duration TestLoop::LatencyBetween(NodeId a, NodeId b) const {
  auto it = latency_.find({std::min(a, b), std::max(a, b)});
  return it == latency_.end() ? network_.latency : it->second;
}

void TestLoop::SetLatency(NodeId a, NodeId b, Duration latency) {
  latency_[{std::min(a, b), std::max(a, b)}] = latency;
}

void TestLoop::Transmit(NodeId from, NodeId to, Port port, Bytes message) {
  ++stats_.messages_sent;
  NodeEnv& sender = *nodes_.at(from);
  if (to >= nodes_.size() || message.size() > Env::kMaxMessageSize) {
    ++stats_.messages_dropped;
    sender.RecordEvent("env.send_dropped", "to=" + std::to_string(to) + " bytes=" +
                                               std::to_string(message.size()) +
                                               " reason=" + (to >= nodes_.size() ? "unknown-node"
                                                                                 : "oversized"));
    return;
  }
  Time depart = now_;
  if (network_.bandwidth_bps > 0 && to != from) {
    const auto tx = Duration(static_cast<int64_t>(
        static_cast<double>(message.size()) * 8.0 / network_.bandwidth_bps * 1e9));
    depart = std::max(now_, sender.link_free_at_) + tx;
    sender.link_free_at_ = depart;
  }
  Duration flight = to == from ? Duration::zero() : LatencyBetween(from, to);
  if (network_.jitter > Duration::zero() && to != from) {
    flight += net_random_.UniformDuration(Duration::zero(), network_.jitter);
  }
  Time arrive = depart + flight;
  if (network_.fifo) {
    Time& last = last_arrival_[{from, to}];
    arrive = std::max(arrive, last);
    last = arrive;
  }
  char what[96];
  std::snprintf(what, sizeof what, "deliver from=%u port=%u bytes=%zu hash=%016llx", from, port,
                message.size(), static_cast<unsigned long long>(HashBytes(message)));
  // A message on the wire outlives a crash of its sender.
  Push(arrive, to, kNoTimer, what,
       [this, from, to, port, message = std::move(message)] { Deliver(from, to, port, message); },
       /*survives_crash=*/true);
}

void TestLoop::Deliver(NodeId from, NodeId to, Port port, const Bytes& message) {
  NodeEnv& node = *nodes_[to];
  auto it = node.listeners_.find(port);
  if (!node.up_ || it == node.listeners_.end()) {
    ++stats_.messages_dropped;
    return;
  }
  ++stats_.messages_delivered;
  // Copy the receiver: it may Unlisten itself while running.
  Env::Receiver receiver = it->second;
  receiver(from, ByteView(message));
}

void TestLoop::Fold(const Event& e) {
  const int64_t t = ToNanos(e.at);
  uint64_t h = digest_;
  h = Fnv(h, &t, sizeof t);
  h = Fnv(h, &e.node, sizeof e.node);
  h = Fnv(h, e.what.data(), e.what.size());
  digest_ = h;
  if (record_trace_) {
    char line[160];
    std::snprintf(line, sizeof line, "%lld node=%u %s", static_cast<long long>(t), e.node,
                  e.what.c_str());
    trace_.emplace_back(line);
  }
}

bool TestLoop::Step() {
  while (!queue_.empty()) {
    std::pop_heap(queue_.begin(), queue_.end(), Later());
    Event e = std::move(queue_.back());
    queue_.pop_back();
    NodeEnv& node = *nodes_[e.node];
    if (e.incarnation != UINT64_MAX && (e.incarnation != node.incarnation_ || !node.up_)) {
      live_timers_.erase(e.timer);
      continue;  // scheduled by an incarnation that crashed
    }
    if (e.timer != kNoTimer && live_timers_.erase(e.timer) == 0) continue;  // cancelled
    now_ = e.at;
    ++stats_.events_run;
    Fold(e);
    e.fn();
    return true;
  }
  return false;
}

void TestLoop::RunUntil(Time t) {
  while (!queue_.empty() && queue_.front().at <= t) Step();
  if (now_ < t) now_ = t;
}

void TestLoop::RunFor(Duration d) { RunUntil(now_ + d); }

uint64_t TestLoop::RunUntilIdle(uint64_t max_events) {
  uint64_t n = 0;
  while (n < max_events && Step()) ++n;
  return n;
}

void TestLoop::Crash(NodeId node) {
  NodeEnv& n = *nodes_.at(node);
  if (!n.up_) return;
  n.up_ = false;
  ++n.incarnation_;
  n.listeners_.clear();
  n.disk_.Crash();
  char what[32];
  std::snprintf(what, sizeof what, "crash");
  Fold(Event{now_, 0, node, 0, kNoTimer, what, {}});
}

void TestLoop::Restart(NodeId node) {
  NodeEnv& n = *nodes_.at(node);
  if (n.up_) return;
  n.up_ = true;
  Fold(Event{now_, 0, node, 0, kNoTimer, "restart", {}});
}

bool TestLoop::IsUp(NodeId node) const { return nodes_.at(node)->up_; }

}  // namespace edgebed
