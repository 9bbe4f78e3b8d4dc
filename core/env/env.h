// Env: the only door between an edgebed engine and the world.
//
// An Env belongs to one node. Through it the engine reads the time, sets
// timers, sends and receives messages, uses a disk, draws random numbers and
// records metrics and events. Nothing in core/ (but core/host/) reaches the
// world any other way, which is what lets the same engine run on the
// deterministic test loop (core/env/test_loop.h), inside ns-3 (sim/) and on
// real nodes (core/host/), and what makes a simulated run replay byte for byte
// from its seed.
//
// Threading: every callback an Env makes for a node (timers, message
// receipt, disk completions) runs on that node's one logical thread, never
// concurrently with another callback of the same node. Callbacks must not
// block, and no exception may escape one. An Env never calls a callback from
// inside the call that registered it: completions are always asynchronous.
//
// Messages are datagrams between (node, port) pairs. The promise is the one
// the Internet makes, with one strengthening: a message arrives whole or not
// at all (never truncated, never corrupted), up to kMaxMessageSize bytes.
// It may be lost, delayed, reordered or duplicated, so protocols carry their
// own sequence numbers, timeouts and retries.
//
//   class Pinger {
//     explicit Pinger(Env& env) : env_(env) {
//       (void)env_.Listen(kPort, [this](NodeId from, ByteView m) { OnPong(from, m); });
//       env_.Schedule(std::chrono::seconds(1), [this] { Tick(); });
//     }
//   };
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/env/random.h"

namespace edgebed {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = UINT32_MAX;

// A service on a node, like a UDP port: several protocols share a node.
using Port = uint16_t;

using Duration = std::chrono::nanoseconds;

// The clock of an Env. It has no now(): only an Env knows the time.
struct EnvClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<EnvClock, Duration>;
  static constexpr bool is_steady = true;
};
using Time = EnvClock::time_point;

// Nanoseconds since the Env's epoch (the start of the run, or of the process).
inline int64_t ToNanos(Time t) { return t.time_since_epoch().count(); }
inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline double ToMillis(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

using TimerId = uint64_t;
inline constexpr TimerId kNoTimer = 0;

// A disk: named files of bytes on one node.
//
// Every operation completes asynchronously through its callback, on the
// node's thread. Reads see every completed write. After Sync(file) completes
// OK, every write to `file` that completed before the Sync was issued is
// durable: it survives a crash of the node. Writes not yet synced may be lost
// in a crash (the test and simulated disks drop them; a real disk may keep
// some). Any operation may fail with kIoError; a failed write leaves the
// written range unspecified.
class Disk {
 public:
  using Done = std::function<void(Status)>;
  using ReadDone = std::function<void(StatusOr<Bytes>)>;
  using SizeDone = std::function<void(StatusOr<uint64_t>)>;

  virtual ~Disk() = default;

  // Writes `data` at `offset`, creating the file and zero-filling any gap.
  virtual void Write(const std::string& file, uint64_t offset, Bytes data, Done done) = 0;
  // Reads up to `length` bytes at `offset`; fewer at the end of the file.
  // A missing file is kNotFound.
  virtual void Read(const std::string& file, uint64_t offset, uint64_t length,
                    ReadDone done) = 0;
  // Makes the file's completed writes durable.
  virtual void Sync(const std::string& file, Done done) = 0;
  // The file's size in bytes; kNotFound if it does not exist.
  virtual void Size(const std::string& file, SizeDone done) = 0;
  // Removes the file (durably, once done). Removing a missing file is OK.
  virtual void Remove(const std::string& file, Done done) = 0;
};

// One time-series sample or one event, stamped with time and node by the Env.
struct MetricSample {
  Time time;
  NodeId node = kNoNode;
  std::string name;    // dotted, e.g. "probe.rtt_ms"; the unit is the suffix
  double value = 0;
  std::string labels;  // "key=value,key=value", sorted by key; may be empty
};

struct EventRecord {
  Time time;
  NodeId node = kNoNode;
  std::string kind;    // dotted, e.g. "probe.peer_down"
  std::string detail;  // "key=value ..." for a person and a parser alike
};

// Where metrics and events go: memory in tests, the results database in a
// run (core/results/), the log on a real node. Called on node threads; an
// implementation shared by nodes of one host Env must be thread-safe.
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual void Record(const MetricSample& sample) = 0;
  virtual void Event(const EventRecord& event) = 0;
};

// A sink that drops everything.
class NullSink final : public MetricsSink {
 public:
  void Record(const MetricSample&) override {}
  void Event(const EventRecord&) override {}
};

class Env {
 public:
  using Receiver = std::function<void(NodeId from, ByteView message)>;

  // Bound on one message; Send() drops larger ones and records an event.
  static constexpr size_t kMaxMessageSize = 64u << 20;

  virtual ~Env() = default;

  // The node this Env belongs to.
  virtual NodeId self() const = 0;
  // Monotonic time: simulated in tests and ns-3, the steady clock on a host.
  virtual Time now() const = 0;

  // Calls `fn` once, `after` from now (zero or negative: as soon as possible,
  // after the current callback returns). Timers due at the same instant fire
  // in the order they were scheduled on the test loop and in ns-3.
  virtual TimerId Schedule(Duration after, std::function<void()> fn) = 0;
  // Stops a pending timer. Returns true if it had not fired and now never will.
  virtual bool Cancel(TimerId id) = 0;

  // Sends `message` to `port` on node `to` (which may be self()). Best effort:
  // see the file comment. Never blocks, never fails synchronously.
  virtual void Send(NodeId to, Port port, Bytes message) = 0;
  // Delivers messages arriving at `port` to `receiver`. kAlreadyExists if the
  // port has a receiver. Messages to a port nobody listens on are dropped.
  virtual Status Listen(Port port, Receiver receiver) = 0;
  virtual void Unlisten(Port port) = 0;

  virtual Disk& disk() = 0;
  // This node's seeded random source: the only randomness the core may use.
  virtual Random& random() = 0;
  virtual MetricsSink& metrics() = 0;

  // Conveniences that stamp time and node.
  void RecordMetric(std::string name, double value, std::string labels = {}) {
    metrics().Record(MetricSample{now(), self(), std::move(name), value, std::move(labels)});
  }
  void RecordEvent(std::string kind, std::string detail = {}) {
    metrics().Event(EventRecord{now(), self(), std::move(kind), std::move(detail)});
  }
};

// Forwards every call to another Env, so that a wrapper overrides only what
// it changes (as LevelDB's EnvWrapper). The target must outlive the wrapper.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env& target) : target_(target) {}
  Env& target() const { return target_; }

  NodeId self() const override { return target_.self(); }
  Time now() const override { return target_.now(); }
  TimerId Schedule(Duration after, std::function<void()> fn) override {
    return target_.Schedule(after, std::move(fn));
  }
  bool Cancel(TimerId id) override { return target_.Cancel(id); }
  void Send(NodeId to, Port port, Bytes message) override {
    target_.Send(to, port, std::move(message));
  }
  Status Listen(Port port, Receiver receiver) override {
    return target_.Listen(port, std::move(receiver));
  }
  void Unlisten(Port port) override { target_.Unlisten(port); }
  Disk& disk() override { return target_.disk(); }
  Random& random() override { return target_.random(); }
  MetricsSink& metrics() override { return target_.metrics(); }

 private:
  Env& target_;
};

}  // namespace edgebed
