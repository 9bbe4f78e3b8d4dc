#include "core/sched/queue.h"

#include <algorithm>

namespace edgebed::sched {

SchedulingQueue::SchedulingQueue(Duration initial_backoff, Duration max_backoff,
                                 Duration max_in_unschedulable)
    : initial_backoff_(initial_backoff), max_backoff_(max_backoff),
      max_in_unschedulable_(max_in_unschedulable) {}

void SchedulingQueue::Add(const std::string& key, int32_t priority, Time now) {
  Entry& e = pods_[key];
  e.priority = priority;
  e.timestamp = now;
  e.seq = next_seq_++;
  Activate(key, e);
}

void SchedulingQueue::Activate(const std::string& key, Entry& e) {
  e.where = Where::kActive;
  active_.emplace(-static_cast<int64_t>(e.priority), e.timestamp, e.seq, key);
}

void SchedulingQueue::Unlink(const std::string& key, const Entry& e) {
  switch (e.where) {
    case Where::kActive:
      active_.erase({-static_cast<int64_t>(e.priority), e.timestamp, e.seq, key});
      break;
    case Where::kBackoff:
      backoff_.erase({e.backoff_until, e.seq, key});
      break;
    case Where::kUnschedulable:
      unschedulable_.erase(key);
      for (int bit = 0; bit < 6; ++bit) {
        if (e.helpful_events & (1u << bit)) waiting_for_[bit].erase(key);
      }
      break;
    case Where::kInFlight:
      break;
  }
}

void SchedulingQueue::Remove(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  Unlink(key, it->second);
  pods_.erase(it);
}

void SchedulingQueue::Release(const std::string& key, Entry& e, Time now) {
  if (e.backoff_until > now) {
    e.where = Where::kBackoff;
    backoff_.emplace(e.backoff_until, e.seq, key);
  } else {
    Activate(key, e);
  }
}

void SchedulingQueue::Flush(Time now) {
  while (!backoff_.empty() && std::get<0>(*backoff_.begin()) <= now) {
    const std::string key = std::get<2>(*backoff_.begin());
    backoff_.erase(backoff_.begin());
    Activate(key, pods_.at(key));
  }
  if (unschedulable_.empty()) return;
  std::vector<std::string> stale;
  for (const auto& [key, since] : unschedulable_) {
    if (now - since > max_in_unschedulable_) stale.push_back(key);
  }
  for (const auto& key : stale) {
    Entry& e = pods_.at(key);
    Unlink(key, e);
    Release(key, e, now);
  }
}

std::optional<std::string> SchedulingQueue::Pop(Time now) {
  Flush(now);
  if (active_.empty()) return std::nullopt;
  std::string key = std::get<3>(*active_.begin());
  active_.erase(active_.begin());
  pods_.at(key).where = Where::kInFlight;
  return key;
}

void SchedulingQueue::Failed(const std::string& key, uint32_t helpful_events, Time now) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  Entry& e = it->second;
  Unlink(key, e);
  ++e.attempts;
  Duration backoff = initial_backoff_;
  for (int i = 1; i < e.attempts && backoff < max_backoff_; ++i) backoff *= 2;
  e.backoff_until = now + std::min(backoff, max_backoff_);
  e.timestamp = now;
  e.helpful_events = helpful_events;
  e.where = Where::kUnschedulable;
  unschedulable_[key] = now;
  for (int bit = 0; bit < 6; ++bit) {
    if (helpful_events & (1u << bit)) waiting_for_[bit].insert(key);
  }
}

void SchedulingQueue::OnEvent(uint32_t event, Time now) {
  std::set<std::string> moved;
  for (int bit = 0; bit < 6; ++bit) {
    if (event & (1u << bit)) moved.insert(waiting_for_[bit].begin(), waiting_for_[bit].end());
  }
  for (const auto& key : moved) {
    Entry& e = pods_.at(key);
    Unlink(key, e);
    Release(key, e, now);
  }
}

std::optional<Time> SchedulingQueue::NextBackoffExpiry() const {
  if (backoff_.empty()) return std::nullopt;
  return std::get<0>(*backoff_.begin());
}

}  // namespace edgebed::sched
