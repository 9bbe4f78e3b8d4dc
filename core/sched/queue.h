// SchedulingQueue: which pending pod the scheduler tries next, as
// kube-scheduler's PriorityQueue.
//
// Three places a pending pod can be:
// - active: ready now; popped highest priority first, then longest waiting
//   (then first added, so equal pods keep their order);
// - backoff: failed recently; ready again after initial_backoff doubled per
//   failed attempt, up to max_backoff;
// - unschedulable: failed, and waits for a cluster event that could help it
//   (each failure names the events its rejecting plugins listen for: a node
//   added, a pod deleted...), instead of spinning. An event moves it to
//   backoff (if its backoff has not run out) or active; so does waiting
//   longer than max_in_unschedulable.
// Time is the caller's: every call that depends on it takes `now`.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "core/env/env.h"

namespace edgebed::sched {

// Cluster events, as a bit set (upstream's ClusterEvent with ActionType).
enum ClusterEvent : uint32_t {
  kNodeAdd = 1u << 0,
  kNodeUpdate = 1u << 1,  // labels, taints, allocatable or schedulability changed
  kNodeDelete = 1u << 2,
  kPodAdd = 1u << 3,      // a pod was bound (or an already-bound pod appeared)
  kPodDelete = 1u << 4,   // a bound pod went away
  kVolumeChange = 1u << 5,
  kAnyEvent = 0x3f,
};

class SchedulingQueue {
 public:
  SchedulingQueue(Duration initial_backoff, Duration max_backoff, Duration max_in_unschedulable);

  // A new pending pod: active at once. REQUIRES: `key` is not queued.
  void Add(const std::string& key, int32_t priority, Time now);
  // Forgets the pod wherever it is (bound elsewhere, or deleted).
  void Remove(const std::string& key);
  bool Contains(const std::string& key) const { return pods_.count(key) != 0; }

  // The next pod to try, taken out of the active set (it stays known to the
  // queue until Done() or Failed()). First moves backoff pods whose time has
  // come and unschedulable pods that waited too long. Nothing when no pod is
  // ready at `now`.
  std::optional<std::string> Pop(Time now);
  // The popped pod was bound: forget it.
  void Done(const std::string& key) { Remove(key); }
  // The popped pod could not be placed; `helpful_events` are the events that
  // could change that (0: only time will, through max_in_unschedulable).
  void Failed(const std::string& key, uint32_t helpful_events, Time now);
  // A cluster event happened: unschedulable pods waiting for it move on.
  void OnEvent(uint32_t event, Time now);

  // When the next backoff runs out, if any pod is backing off.
  std::optional<Time> NextBackoffExpiry() const;
  size_t active() const { return active_.size(); }
  size_t backing_off() const { return backoff_.size(); }
  size_t unschedulable() const { return unschedulable_.size(); }

 private:
  enum class Where { kActive, kBackoff, kUnschedulable, kInFlight };
  struct Entry {
    int32_t priority = 0;
    Time timestamp{};      // when it entered the queue or last failed
    uint64_t seq = 0;      // ties: first added first
    int attempts = 0;
    Time backoff_until{};
    uint32_t helpful_events = 0;
    Where where = Where::kActive;
  };
  using ActiveKey = std::tuple<int64_t, Time, uint64_t, std::string>;  // -priority, timestamp, seq
  using BackoffKey = std::tuple<Time, uint64_t, std::string>;

  void Activate(const std::string& key, Entry& e);
  void Unlink(const std::string& key, const Entry& e);
  void Release(const std::string& key, Entry& e, Time now);  // to backoff or active
  void Flush(Time now);

  Duration initial_backoff_, max_backoff_, max_in_unschedulable_;
  uint64_t next_seq_ = 0;
  std::map<std::string, Entry> pods_;
  std::set<ActiveKey> active_;
  std::set<BackoffKey> backoff_;
  std::map<std::string, Time> unschedulable_;  // key -> since
  // Unschedulable pods by each event bit that could help them, so an event
  // touches only the pods it moves.
  std::set<std::string> waiting_for_[6];
};

}  // namespace edgebed::sched
