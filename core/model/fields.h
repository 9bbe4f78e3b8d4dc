// Fields: reads one YAML mapping of a manifest against its schema.
//
// Each getter names a key the upstream API defines, reads and checks its
// value, and remembers that the key is known. Ignored() names keys the
// upstream API has but edgebed does not model (a warning if present).
// Finish() then reports every key nobody asked about as an unknown field,
// with the closest known name — so a parser for a kind is a short list of
// getters, and no field can be dropped without a word.
//
// Internal to core/model: the loader's parsers are its only users.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/model/loader.h"

namespace edgebed::model::internal {

// Where diagnostics go, and the budget that keeps aliases from expanding a
// small document into billions of nodes.
class Context {
 public:
  // `budget`: how many nodes the document may expand to; the loader allows
  // a generous multiple of what its size could hold without aliases.
  Context(std::string file, std::vector<Diagnostic>* errors, std::vector<Diagnostic>* warnings,
          size_t budget)
      : file_(std::move(file)), errors_(errors), warnings_(warnings), budget_(budget),
        limit_(budget) {}

  SourcePos Pos(const YAML::Node& node) const;
  void Error(const YAML::Node& at, const std::string& path, const std::string& message);
  void Warn(const YAML::Node& at, const std::string& path, const std::string& message);
  // Spends one unit of the node budget; false (once, with an error) when spent.
  bool Spend(const YAML::Node& at, const std::string& path);
  size_t error_count() const { return errors_->size(); }

 private:
  std::string file_;
  std::vector<Diagnostic>* errors_;
  std::vector<Diagnostic>* warnings_;
  size_t budget_;
  size_t limit_;
  bool exhausted_ = false;
};

std::string JoinPath(const std::string& path, const std::string& key);
std::string IndexPath(const std::string& path, size_t index);

class Fields {
 public:
  Fields(Context& ctx, const YAML::Node& node, std::string path);

  // False if the node was not a mapping (already reported).
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }
  const YAML::Node& node() const { return node_; }
  Context& ctx() { return ctx_; }

  // The value of `key`, or an undefined node if absent or null.
  YAML::Node Take(const std::string& key);
  bool Has(const std::string& key);

  bool String(const std::string& key, std::string* out, bool required = false);
  bool OptionalString(const std::string& key, std::optional<std::string>* out);
  // A string that must be one of `allowed`.
  bool Enum(const std::string& key, std::string* out, const std::vector<std::string>& allowed,
            bool required = false);
  bool Int(const std::string& key, int64_t* out, int64_t min, int64_t max, bool required = false);
  bool Int32(const std::string& key, int32_t* out, int64_t min, int64_t max, bool required = false);
  bool OptionalInt32(const std::string& key, std::optional<int32_t>* out, int64_t min, int64_t max);
  // true/false, and the YAML 1.1 spellings kubectl also reads as booleans
  // (yes/no, on/off, y/n), so manifests that apply upstream load here.
  bool Bool(const std::string& key, bool* out);
  bool Double(const std::string& key, std::optional<double>* out);
  bool StringList(const std::string& key, std::vector<std::string>* out);
  // A list whose every item must be one of `allowed`.
  bool EnumList(const std::string& key, std::vector<std::string>* out,
                const std::vector<std::string>& allowed);
  bool StringMap(const std::string& key, std::map<std::string, std::string>* out);
  bool QuantityValue(const std::string& key, std::optional<Quantity>* out);
  bool Resources(const std::string& key, ResourceList* out);
  bool IntOrStr(const std::string& key, std::optional<IntOrString>* out);
  // A Calico selector expression, kept as text with its position.
  bool Selector(const std::string& key, CalicoSelector* out);

  // A nested mapping; `parse` gets its Fields (only if present and a mapping).
  bool Object(const std::string& key, const std::function<void(Fields&)>& parse,
              bool required = false);
  // A sequence of mappings.
  bool List(const std::string& key, const std::function<void(Fields&, size_t)>& parse,
            bool required = false);

  // Upstream fields edgebed does not model: a warning each, if present.
  void Ignored(const std::vector<std::string>& keys, const std::string& why = "not modelled");
  // Reports every key no getter or Ignored named.
  void Finish();

 private:
  bool Scalar(const std::string& key, const YAML::Node& v, const char* what);

  Context& ctx_;
  YAML::Node node_;
  std::string path_;
  bool ok_ = true;
  std::set<std::string> known_;
};

// Reports every key of `map` that repeats an earlier one (as kubectl does:
// YAML forbids it, and a silent "last one wins" would hide a typo'd edit).
void CheckDuplicateKeys(Context& ctx, const YAML::Node& map, const std::string& path);

// "a mapping", "a list", "a scalar" or "null": what an error says a node was.
const char* TypeName(const YAML::Node& n);

// Scalar conversions shared with the parsers.
// A plain (unquoted) YAML scalar that JSON would read as a number, bool or null.
bool LooksNonString(const YAML::Node& scalar);
bool IsQuoted(const YAML::Node& scalar);

}  // namespace edgebed::model::internal
