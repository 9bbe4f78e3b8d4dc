// MemorySink: a MetricsSink that keeps everything in memory, for tests and
// for drivers that aggregate before writing. Not thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "core/env/env.h"

namespace edgebed {

class MemorySink final : public MetricsSink {
 public:
  void Record(const MetricSample& sample) override { samples_.push_back(sample); }
  void Event(const EventRecord& event) override { events_.push_back(event); }

  const std::vector<MetricSample>& samples() const { return samples_; }
  const std::vector<EventRecord>& events() const { return events_; }

  // The samples of one metric, in recording order.
  std::vector<MetricSample> SamplesNamed(std::string_view name) const;
  // The events of one kind, in recording order.
  std::vector<EventRecord> EventsOfKind(std::string_view kind) const;
  void Clear() {
    samples_.clear();
    events_.clear();
  }

 private:
  std::vector<MetricSample> samples_;
  std::vector<EventRecord> events_;
};

}  // namespace edgebed
