#include "core/sched/predicates.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace edgebed::sched {

int64_t Amount(const std::string& resource, const model::Quantity& q) {
  return resource == "cpu" ? q.MilliValue() : q.Value();
}

namespace {

void AddTo(std::map<std::string, int64_t>& sum, const model::ResourceList& list) {
  for (const auto& [name, q] : list) sum[name] += Amount(name, q);
}

void MaxInto(std::map<std::string, int64_t>& out, const model::ResourceList& list) {
  for (const auto& [name, q] : list) {
    int64_t& v = out[name];
    v = std::max(v, Amount(name, q));
  }
}

// Upstream's GetNonzeroRequestForResource for one container.
std::pair<int64_t, int64_t> NonZero(const model::Container& c) {
  auto cpu = c.requests.find("cpu");
  auto mem = c.requests.find("memory");
  return {cpu == c.requests.end() ? kDefaultMilliCpuRequest : cpu->second.MilliValue(),
          mem == c.requests.end() ? kDefaultMemoryRequest : mem->second.Value()};
}

}  // namespace

std::map<std::string, int64_t> PodRequests(const model::PodSpec& spec) {
  std::map<std::string, int64_t> sum;
  for (const auto& c : spec.containers) AddTo(sum, c.requests);
  for (const auto& c : spec.init_containers) MaxInto(sum, c.requests);
  return sum;
}

std::pair<int64_t, int64_t> NonZeroCpuMemory(const model::PodSpec& spec) {
  int64_t cpu = 0, mem = 0;
  for (const auto& c : spec.containers) {
    auto [c_cpu, c_mem] = NonZero(c);
    cpu += c_cpu;
    mem += c_mem;
  }
  for (const auto& c : spec.init_containers) {
    auto [c_cpu, c_mem] = NonZero(c);
    cpu = std::max(cpu, c_cpu);
    mem = std::max(mem, c_mem);
  }
  return {cpu, mem};
}

std::map<std::string, int64_t> NodeAllocatable(const model::Node& node) {
  std::map<std::string, int64_t> out;
  for (const auto& [name, q] : node.allocatable) out[name] = Amount(name, q);
  if (!out.count("pods")) out["pods"] = kDefaultMaxPods;
  return out;
}

bool Tolerates(const model::Toleration& t, const model::Taint& taint) {
  if (!t.effect.empty() && t.effect != taint.effect) return false;
  if (!t.key.empty() && t.key != taint.key) return false;
  // An empty key with Exists matches every taint; an empty key is only valid with Exists.
  if (t.op == "Exists") return true;
  return (t.op.empty() || t.op == "Equal") && t.value == taint.value;
}

bool TolerationsTolerate(const std::vector<model::Toleration>& tolerations,
                         const model::Taint& taint) {
  for (const auto& t : tolerations) {
    if (Tolerates(t, taint)) return true;
  }
  return false;
}

namespace {

// Base-10, as Go's strconv.ParseInt: an optional sign, then digits only.
bool ParseInt64(const std::string& s, int64_t* out) {
  if (s.empty()) return false;
  const size_t first = s[0] == '-' || s[0] == '+' ? 1 : 0;
  if (first == s.size()) return false;
  for (size_t i = first; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}

// A label value as the API validates one: at most 63 characters,
// alphanumerics with '-', '_' or '.' between them, or empty.
bool IsLabelValue(const std::string& v) {
  if (v.size() > 63) return false;
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  for (size_t i = 0; i < v.size(); ++i) {
    const bool edge = i == 0 || i + 1 == v.size();
    if (!alnum(v[i]) && (edge || (v[i] != '-' && v[i] != '_' && v[i] != '.'))) return false;
  }
  return true;
}

}  // namespace

bool RequirementMatches(const model::NodeSelectorRequirement& r, const model::Labels& labels) {
  auto it = labels.find(r.key);
  const bool has = it != labels.end();
  if (r.op == "Exists") return has;
  if (r.op == "DoesNotExist") return !has;
  // A requirement upstream cannot parse (a value that is no label value)
  // matches nothing.
  for (const auto& v : r.values) {
    if ((r.op == "In" || r.op == "NotIn") && !IsLabelValue(v)) return false;
  }
  if (r.op == "In") {
    return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
  }
  if (r.op == "NotIn") {
    return !has || std::find(r.values.begin(), r.values.end(), it->second) == r.values.end();
  }
  if (r.op == "Gt" || r.op == "Lt") {
    int64_t have = 0, want = 0;
    if (!has || r.values.size() != 1 || !ParseInt64(it->second, &have) ||
        !ParseInt64(r.values[0], &want)) {
      return false;
    }
    return r.op == "Gt" ? have > want : have < want;
  }
  return false;
}

bool TermMatches(const model::NodeSelectorTerm& term, const model::Node& node) {
  if (term.match_expressions.empty() && term.match_fields.empty()) return false;
  for (const auto& r : term.match_expressions) {
    if (!RequirementMatches(r, node.meta.labels)) return false;
  }
  for (const auto& r : term.match_fields) {
    // Upstream's field selector: metadata.name only, In or NotIn with exactly one value.
    if (r.key != "metadata.name" || (r.op != "In" && r.op != "NotIn") || r.values.size() != 1) return false;
    if (!RequirementMatches(r, {{r.key, node.meta.name}})) return false;
  }
  return true;
}

bool RequiredNodeAffinityMatches(const model::PodSpec& spec, const model::Node& node) {
  for (const auto& [key, value] : spec.node_selector) {
    auto it = node.meta.labels.find(key);
    if (it == node.meta.labels.end() || it->second != value) return false;
  }
  if (!spec.affinity.node_affinity || spec.affinity.node_affinity->required.empty()) return true;
  for (const auto& term : spec.affinity.node_affinity->required) {
    if (TermMatches(term, node)) return true;
  }
  return false;
}

AffinityTerm MakeAffinityTerm(const model::PodAffinityTerm& term, const std::string& owner_ns,
                              int32_t weight) {
  AffinityTerm t;
  t.selector = term.label_selector;
  t.namespaces.insert(term.namespaces.begin(), term.namespaces.end());
  t.namespace_selector = term.namespace_selector;
  if (t.namespaces.empty() && !t.namespace_selector) t.namespaces.insert(owner_ns);
  t.topology_key = term.topology_key;
  t.weight = weight;
  return t;
}

bool AffinityTermMatches(const AffinityTerm& term, const std::string& pod_ns,
                         const model::Labels& pod_labels, const model::Labels& ns_labels) {
  if (!term.selector) return false;
  if (!term.namespaces.count(pod_ns) &&
      !(term.namespace_selector && model::Matches(*term.namespace_selector, ns_labels))) {
    return false;
  }
  return model::Matches(*term.selector, pod_labels);
}

std::string ZoneKey(const model::Labels& labels) {
  auto region = labels.find(kRegionLabel);
  auto zone = labels.find(kZoneLabel);
  if (region == labels.end() && zone == labels.end()) return "";
  std::string key = region == labels.end() ? "" : region->second;
  key += ":\x1f:";
  key += zone == labels.end() ? "" : zone->second;
  return key;
}

const model::PriorityClass* SystemPriorityClass(const std::string& name) {
  static const model::PriorityClass* const kClasses = [] {
    static model::PriorityClass c[2];
    c[0].meta.name = "system-node-critical";
    c[0].value = 2000001000;
    c[1].meta.name = "system-cluster-critical";
    c[1].value = 2000000000;
    return c;
  }();
  for (int i = 0; i < 2; ++i)
    if (kClasses[i].meta.name == name) return &kClasses[i];
  return nullptr;
}

bool ResolvePriority(const model::PodSpec& spec, const PriorityClasses& classes, int32_t* priority,
                     bool* preempt_never, std::string* error) {
  const model::PriorityClass* pc = nullptr;
  if (!spec.priority_class_name.empty()) {
    auto it = classes.by_name.find(spec.priority_class_name);
    pc = it != classes.by_name.end() ? &it->second : SystemPriorityClass(spec.priority_class_name);
    if (!pc) {
      *error = "no PriorityClass with name \"" + spec.priority_class_name +
               "\" was found; create it or fix spec.priorityClassName";
      return false;
    }
  } else {
    for (const auto& [name, c] : classes.by_name) {
      if (c.global_default && (!pc || c.value > pc->value)) pc = &c;
    }
  }
  const int32_t computed = pc ? pc->value : 0;
  if (spec.priority && *spec.priority != computed && (pc || !spec.priority_class_name.empty())) {
    *error = "the integer value of priority (" + std::to_string(*spec.priority) +
             ") must not be provided in pod spec; priority admission controller computed " +
             std::to_string(computed) + " from the given PriorityClass name";
    return false;
  }
  const std::string policy = pc ? pc->preemption_policy : "PreemptLowerPriority";
  if (!spec.preemption_policy.empty() && pc && spec.preemption_policy != policy) {
    *error = "the string value of PreemptionPolicy (" + spec.preemption_policy +
             ") must not be provided in pod spec; priority admission controller computed " + policy +
             " from the given PriorityClass name";
    return false;
  }
  *priority = spec.priority ? *spec.priority : computed;
  *preempt_never = (spec.preemption_policy.empty() ? policy : spec.preemption_policy) == "Never";
  return true;
}

std::vector<model::TopologySpreadConstraint> SystemDefaultConstraints() {
  model::TopologySpreadConstraint host, zone;
  host.max_skew = 3;
  host.topology_key = kHostnameLabel;
  host.when_unsatisfiable = "ScheduleAnyway";
  zone.max_skew = 5;
  zone.topology_key = kZoneLabel;
  zone.when_unsatisfiable = "ScheduleAnyway";
  return {host, zone};
}

}  // namespace edgebed::sched
