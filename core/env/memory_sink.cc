#include "core/env/memory_sink.h"

namespace edgebed {

std::vector<MetricSample> MemorySink::SamplesNamed(std::string_view name) const {
  std::vector<MetricSample> out;
  for (const auto& s : samples_) {
    if (s.name == name) out.push_back(s);
  }
  return out;
}

std::vector<EventRecord> MemorySink::EventsOfKind(std::string_view kind) const {
  std::vector<EventRecord> out;
  for (const auto& e : events_) {
    if (e.kind == kind) out.push_back(e);
  }
  return out;
}

}  // namespace edgebed
