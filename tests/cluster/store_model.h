// StoreModel: the plain reference the Store and Datastore tests compare
// against — a std::map of current values and a vector of every change,
// following the rules of core/cluster/store.h in the most obvious way — and
// the random batches and seed handling the randomized tests share.
//
// Randomized tests print their seed on failure; EDGEBED_SEED=N replays one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cluster/store.h"
#include "core/env/random.h"

namespace edgebed::cluster::testing {

class StoreModel {
 public:
  struct Entry {
    Bytes value;
    Revision create = 0;
    Revision mod = 0;
  };

  // All or none; a failed expectation is kFailedPrecondition at the key.
  StatusOr<Revision> Commit(const std::vector<Mutation>& batch) {
    std::map<std::string, Entry> entries = entries_;
    std::vector<Change> added;
    Revision revision = revision_;
    for (const Mutation& m : batch) {
      auto it = entries.find(m.key);
      const bool exists = it != entries.end();
      const Revision mod = exists ? it->second.mod : 0;
      if ((m.expect == 0 && exists) || (m.expect > 0 && m.expect != mod)) {
        return FailedPrecondition("expectation failed", m.key);
      }
      if (m.op == Mutation::kDelete && !exists) continue;
      ++revision;
      Change c;
      c.revision = revision;
      c.key = m.key;
      c.deleted = m.op == Mutation::kDelete;
      if (exists) c.prev_value = it->second.value;
      if (m.op == Mutation::kPut) {
        c.value = m.value;
        entries[m.key] = Entry{m.value, exists ? it->second.create : revision, revision};
      } else {
        entries.erase(it);
      }
      added.push_back(std::move(c));
    }
    entries_ = std::move(entries);
    history_.insert(history_.end(), added.begin(), added.end());
    revision_ = revision;
    return revision;
  }

  std::optional<Record> Get(const std::string& key) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return Record{key, it->second.value, it->second.create, it->second.mod};
  }
  std::vector<Record> List(const std::string& prefix) const {
    std::vector<Record> out;
    for (auto it = entries_.lower_bound(prefix);
         it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      out.push_back(Record{it->first, it->second.value, it->second.create, it->second.mod});
    }
    return out;
  }
  // Every change ever made above `since` (compaction is the caller's to check).
  std::vector<Change> ChangesSince(Revision since, size_t limit) const {
    std::vector<Change> out;
    for (const Change& c : history_) {
      if (c.revision > since && out.size() < limit) out.push_back(c);
    }
    return out;
  }
  void Compact(Revision upto) { compacted_ = std::max(compacted_, std::min(upto, revision_)); }

  Revision revision() const { return revision_; }
  Revision compacted() const { return compacted_; }
  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  std::map<std::string, Entry> entries_;
  std::vector<Change> history_;
  Revision revision_ = 0;
  Revision compacted_ = 0;
};

// Keys that share prefixes, and bytes (0x00, 0xff) that find sloppy ordering.
inline const std::vector<std::string>& ModelKeys() {
  static const std::vector<std::string> keys = {
      "a", "a/", "a/b", "a/c", "a/c/d", "ab", "b", "b/x", std::string("n\0ul", 4), "z\xff",
      "z\xff\xff", "\xff", "/registry/pods/default/web-0", "/registry/pods/kube-system/dns"};
  return keys;
}

inline Bytes RandomValue(Random& random) {
  Bytes v(random.Uniform(3) == 0 ? 0 : random.Uniform(24));
  for (auto& b : v) b = static_cast<uint8_t>(random.Next());
  return v;
}

// A batch of 1..max_size mutations whose expectations are mostly right
// (worked out as if the earlier mutations of the batch had applied) and
// sometimes wrong, so that both outcomes are common.
inline std::vector<Mutation> RandomBatch(Random& random, const StoreModel& model,
                                         size_t max_size) {
  std::map<std::string, Revision> mods;  // the key's mod_revision as the batch goes
  for (const auto& [key, e] : model.entries()) mods[key] = e.mod;
  Revision next = model.revision();
  const auto& keys = ModelKeys();
  std::vector<Mutation> batch(1 + random.Uniform(max_size));
  for (Mutation& m : batch) {
    m.key = keys[random.Uniform(keys.size())];
    m.op = random.Uniform(4) == 0 ? Mutation::kDelete : Mutation::kPut;
    if (m.op == Mutation::kPut) m.value = RandomValue(random);
    const Revision mod = mods.count(m.key) ? mods[m.key] : 0;
    const uint64_t pick = random.Uniform(20);
    if (pick < 11) {
      m.expect = -1;
    } else if (pick < 17) {
      m.expect = mod;  // right: 0 when absent
    } else if (pick < 18) {
      m.expect = 0;
    } else {
      m.expect = static_cast<Revision>(random.Uniform(static_cast<uint64_t>(next) + 3));
    }
    if (m.op == Mutation::kPut) {
      mods[m.key] = ++next;
    } else if (mod != 0) {
      mods.erase(m.key);
      ++next;
    }
  }
  return batch;
}

inline std::string Printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}
inline std::string Printable(const Bytes& b) {
  return Printable(std::string(b.begin(), b.end()));
}

// One line per record or change, for comparisons whose failures read well.
inline std::string Describe(const std::vector<Record>& records) {
  std::string out;
  for (const Record& r : records) {
    out += Printable(r.key) + " = '" + Printable(r.value) + "' create " +
           std::to_string(r.create_revision) + " mod " + std::to_string(r.mod_revision) + "\n";
  }
  return out;
}
inline std::string Describe(const std::optional<Record>& r) {
  return r ? Describe(std::vector<Record>{*r}) : "absent\n";
}
inline std::string Describe(const std::vector<Change>& changes) {
  std::string out;
  for (const Change& c : changes) {
    out += std::to_string(c.revision) + " " + Printable(c.key) +
           (c.deleted ? " deleted" : " = '" + Printable(c.value) + "'") + " was '" +
           Printable(c.prev_value) + "'\n";
  }
  return out;
}

// The seeds a randomized test runs: 1..count, or only $EDGEBED_SEED.
inline std::vector<uint64_t> Seeds(uint64_t count) {
  if (const char* one = std::getenv("EDGEBED_SEED")) return {std::strtoull(one, nullptr, 10)};
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= count; ++s) seeds.push_back(s);
  return seeds;
}
inline std::string Replay(uint64_t seed) {
  return "seed " + std::to_string(seed) + " (replay: EDGEBED_SEED=" + std::to_string(seed) + ")";
}

}  // namespace edgebed::cluster::testing
