#include "core/model/fields.h"

#include "core/base/closest.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>

namespace edgebed::model::internal {
namespace {

std::string NotOneOf(const std::string& value, const std::vector<std::string>& allowed) {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  const std::string near = ClosestName(value, allowed);
  return "\"" + value + "\" is not one of " + list +
         (near.empty() ? "" : "; did you mean \"" + near + "\"?");
}

std::string Closest(const std::string& word, const std::set<std::string>& known) {
  return ClosestName(word, std::vector<std::string>(known.begin(), known.end()));
}

}  // namespace

const char* TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    default: return "null";
  }
}

SourcePos Context::Pos(const YAML::Node& node) const {
  SourcePos pos{file_, 0, 0};
  if (node.IsDefined()) {
    const YAML::Mark m = node.Mark();
    if (m.line >= 0) {
      pos.line = m.line + 1;
      pos.column = m.column + 1;
    }
  }
  return pos;
}

void Context::Error(const YAML::Node& at, const std::string& path, const std::string& message) {
  errors_->push_back(Diagnostic{Pos(at), path, message});
}

void Context::Warn(const YAML::Node& at, const std::string& path, const std::string& message) {
  warnings_->push_back(Diagnostic{Pos(at), path, message});
}

bool Context::Spend(const YAML::Node& at, const std::string& path) {
  if (budget_ > 0) {
    --budget_;
    return true;
  }
  if (!exhausted_) {
    exhausted_ = true;
    Error(at, path, "the input expands to more than " + std::to_string(limit_) +
                        " nodes (through YAML aliases?); write it out plainly");
  }
  return false;
}

std::string JoinPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string IndexPath(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

bool IsQuoted(const YAML::Node& scalar) { return scalar.Tag() == "!"; }

bool LooksNonString(const YAML::Node& scalar) {
  if (!scalar.IsScalar() || IsQuoted(scalar)) return false;
  static const std::regex kNumber(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+)");
  // YAML 1.2's core schema: what JSON would read as a bool or null. (YAML
  // 1.1's yes/no/on/off/y/n stay strings: names like "n" are common.)
  static const std::set<std::string> kWords = {
      "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~",
      ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"};
  const std::string& s = scalar.Scalar();
  return kWords.count(s) > 0 || std::regex_match(s, kNumber);
}

void CheckDuplicateKeys(Context& ctx, const YAML::Node& map, const std::string& path) {
  std::map<std::string, int> first_line;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& key = it->first.Scalar();
    const int line = ctx.Pos(it->first).line;
    auto [seen, inserted] = first_line.emplace(key, line);
    if (!inserted) {
      ctx.Error(it->first, JoinPath(path, key),
                "\"" + key + "\" is given twice (first on line " + std::to_string(seen->second) +
                    "); keep one");
    }
  }
}

Fields::Fields(Context& ctx, const YAML::Node& node, std::string path)
    : ctx_(ctx), node_(node), path_(std::move(path)) {
  if (!ctx_.Spend(node, path_)) {
    ok_ = false;
  } else if (!node.IsMap()) {
    ctx_.Error(node, path_.empty() ? "(document)" : path_,
               std::string("must be a mapping of fields, not ") + TypeName(node));
    ok_ = false;
  } else {
    CheckDuplicateKeys(ctx_, node_, path_);
  }
}

YAML::Node Fields::Take(const std::string& key) {
  known_.insert(key);
  if (!ok_) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) {
      if (it->second.IsNull()) break;
      return it->second;
    }
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool Fields::Has(const std::string& key) { return Take(key).IsDefined(); }

bool Fields::Scalar(const std::string& key, const YAML::Node& v, const char* what) {
  if (v.IsScalar()) return true;
  ctx_.Error(v, JoinPath(path_, key), std::string("must be ") + what + ", not " + TypeName(v));
  return false;
}

bool Fields::String(const std::string& key, std::string* out, bool required) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) {
    if (required && ok_) ctx_.Error(node_, JoinPath(path_, key), "is required");
    return !required;
  }
  if (!Scalar(key, v, "a string")) return false;
  if (LooksNonString(v)) {
    ctx_.Error(v, JoinPath(path_, key),
               v.Scalar() + " is not a string; quote it (\"" + v.Scalar() + "\")");
    return false;
  }
  *out = v.Scalar();
  return true;
}

bool Fields::OptionalString(const std::string& key, std::optional<std::string>* out) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) return true;
  std::string s;
  if (!String(key, &s)) return false;
  *out = s;
  return true;
}

bool Fields::Enum(const std::string& key, std::string* out,
                  const std::vector<std::string>& allowed, bool required) {
  std::string value;
  YAML::Node v = Take(key);
  if (!v.IsDefined()) return String(key, &value, required);  // reports a missing required key
  if (!String(key, &value)) return false;
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    ctx_.Error(v, JoinPath(path_, key), NotOneOf(value, allowed));
    return false;
  }
  *out = value;
  return true;
}

bool Fields::Int(const std::string& key, int64_t* out, int64_t min, int64_t max, bool required) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) {
    if (required && ok_) ctx_.Error(node_, JoinPath(path_, key), "is required");
    return !required;
  }
  if (!Scalar(key, v, "a whole number")) return false;
  const std::string& s = v.Scalar();
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(s.c_str(), &end, 10);
  if (IsQuoted(v) || s.empty() || *end != '\0' || errno == ERANGE) {
    ctx_.Error(v, JoinPath(path_, key),
               "\"" + s + "\" is not a whole number" + (IsQuoted(v) ? "; remove the quotes" : ""));
    return false;
  }
  if (x < min || x > max) {
    ctx_.Error(v, JoinPath(path_, key),
               s + " is out of range; it must be between " + std::to_string(min) + " and " +
                   std::to_string(max));
    return false;
  }
  *out = x;
  return true;
}

bool Fields::Int32(const std::string& key, int32_t* out, int64_t min, int64_t max, bool required) {
  int64_t x = *out;
  if (!Int(key, &x, min, max, required)) return false;
  *out = static_cast<int32_t>(x);
  return true;
}

bool Fields::OptionalInt32(const std::string& key, std::optional<int32_t>* out, int64_t min,
                           int64_t max) {
  if (!Take(key).IsDefined()) return true;
  int64_t x = 0;
  if (!Int(key, &x, min, max)) return false;
  *out = static_cast<int32_t>(x);
  return true;
}

bool Fields::Bool(const std::string& key, bool* out) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) return true;
  if (!Scalar(key, v, "true or false")) return false;
  // go-yaml v2, which kubectl reads manifests with, resolves these as booleans.
  static const std::set<std::string> kTrue = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                              "on",   "On",   "ON",   "y",   "Y"};
  static const std::set<std::string> kFalse = {"false", "False", "FALSE", "no", "No", "NO",
                                               "off",   "Off",   "OFF",   "n",  "N"};
  const std::string& s = v.Scalar();
  if (!IsQuoted(v) && kTrue.count(s)) {
    *out = true;
  } else if (!IsQuoted(v) && kFalse.count(s)) {
    *out = false;
  } else {
    ctx_.Error(v, JoinPath(path_, key), "\"" + s + "\" is not true or false" +
                                            (IsQuoted(v) ? "; remove the quotes" : ""));
    return false;
  }
  return true;
}

bool Fields::Double(const std::string& key, std::optional<double>* out) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) return true;
  if (!Scalar(key, v, "a number")) return false;
  const std::string& s = v.Scalar();
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (IsQuoted(v) || s.empty() || *end != '\0' || !std::isfinite(x)) {
    ctx_.Error(v, JoinPath(path_, key), "\"" + s + "\" is not a number");
    return false;
  }
  *out = x;
  return true;
}

bool Fields::StringList(const std::string& key, std::vector<std::string>* out) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) return true;
  if (!v.IsSequence()) {
    ctx_.Error(v, JoinPath(path_, key), std::string("must be a list of strings, not ") + TypeName(v));
    return false;
  }
  bool good = true;
  for (size_t i = 0; i < v.size(); ++i) {
    const YAML::Node item = v[i];
    const std::string where = IndexPath(JoinPath(path_, key), i);
    if (!ctx_.Spend(item, where)) return false;
    if (!item.IsScalar()) {
      ctx_.Error(item, where, std::string("must be a string, not ") + TypeName(item));
      good = false;
    } else if (LooksNonString(item)) {
      ctx_.Error(item, where, item.Scalar() + " is not a string; quote it (\"" + item.Scalar() + "\")");
      good = false;
    } else {
      out->push_back(item.Scalar());
    }
  }
  return good;
}

bool Fields::EnumList(const std::string& key, std::vector<std::string>* out,
                      const std::vector<std::string>& allowed) {
  const size_t first = out->size();
  if (!StringList(key, out)) return false;
  bool good = true;
  for (size_t i = first; i < out->size(); ++i) {
    if (std::find(allowed.begin(), allowed.end(), (*out)[i]) == allowed.end()) {
      ctx_.Error(Take(key)[i - first], IndexPath(JoinPath(path_, key), i - first),
                 NotOneOf((*out)[i], allowed));
      good = false;
    }
  }
  return good;
}

bool Fields::StringMap(const std::string& key, std::map<std::string, std::string>* out) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) return true;
  if (!v.IsMap()) {
    ctx_.Error(v, JoinPath(path_, key), std::string("must be a mapping of strings, not ") + TypeName(v));
    return false;
  }
  const size_t before = ctx_.error_count();
  CheckDuplicateKeys(ctx_, v, JoinPath(path_, key));
  bool good = ctx_.error_count() == before;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
    const std::string where = JoinPath(path_, key) + "." + k;
    if (!ctx_.Spend(it->second, where)) return false;
    if (!it->second.IsScalar()) {
      ctx_.Error(it->second, where, std::string("must be a string, not ") + TypeName(it->second));
      good = false;
    } else if (LooksNonString(it->second)) {
      ctx_.Error(it->second, where,
                 it->second.Scalar() + " is not a string; quote it (\"" + it->second.Scalar() + "\")");
      good = false;
    } else {
      (*out)[k] = it->second.Scalar();
    }
  }
  return good;
}

bool Fields::QuantityValue(const std::string& key, std::optional<Quantity>* out) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) return true;
  if (!Scalar(key, v, "a quantity")) return false;
  auto q = Quantity::Parse(v.Scalar());
  if (!q.ok()) {
    ctx_.Error(v, JoinPath(path_, key), q.status().message());
    return false;
  }
  *out = *q;
  return true;
}

bool Fields::Resources(const std::string& key, ResourceList* out) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) return true;
  if (!v.IsMap()) {
    ctx_.Error(v, JoinPath(path_, key), std::string("must be a mapping of resource names to quantities, not ") + TypeName(v));
    return false;
  }
  const size_t before = ctx_.error_count();
  CheckDuplicateKeys(ctx_, v, JoinPath(path_, key));
  bool good = ctx_.error_count() == before;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string name = it->first.IsScalar() ? it->first.Scalar() : "?";
    const std::string where = JoinPath(path_, key) + "." + name;
    if (!it->second.IsScalar()) {
      ctx_.Error(it->second, where, std::string("must be a quantity, not ") + TypeName(it->second));
      good = false;
      continue;
    }
    auto q = Quantity::Parse(it->second.Scalar());
    if (!q.ok()) {
      ctx_.Error(it->second, where, q.status().message());
      good = false;
    } else if (q->MilliValue() < 0) {
      ctx_.Error(it->second, where, "must not be negative");
      good = false;
    } else {
      (*out)[name] = *q;
    }
  }
  return good;
}

bool Fields::IntOrStr(const std::string& key, std::optional<IntOrString>* out) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) return true;
  if (!Scalar(key, v, "a number or a string")) return false;
  const std::string& s = v.Scalar();
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(s.c_str(), &end, 10);
  if (!IsQuoted(v) && !s.empty() && *end == '\0' && errno != ERANGE) {
    *out = IntOrString{true, x, ""};
  } else {
    *out = IntOrString{false, 0, s};
  }
  return true;
}

bool Fields::Selector(const std::string& key, CalicoSelector* out) {
  std::string text;
  if (!String(key, &text)) return false;
  out->expression = text;
  if (!text.empty()) out->pos = ctx_.Pos(Take(key));
  return true;
}

bool Fields::Object(const std::string& key, const std::function<void(Fields&)>& parse,
                    bool required) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) {
    if (required && ok_) ctx_.Error(node_, JoinPath(path_, key), "is required");
    return !required;
  }
  Fields sub(ctx_, v, JoinPath(path_, key));
  if (!sub.ok()) return false;
  const size_t before = ctx_.error_count();
  parse(sub);
  sub.Finish();
  return ctx_.error_count() == before;
}

bool Fields::List(const std::string& key, const std::function<void(Fields&, size_t)>& parse,
                  bool required) {
  YAML::Node v = Take(key);
  if (!v.IsDefined()) {
    if (required && ok_) ctx_.Error(node_, JoinPath(path_, key), "is required");
    return !required;
  }
  if (!v.IsSequence()) {
    ctx_.Error(v, JoinPath(path_, key), std::string("must be a list, not ") + TypeName(v));
    return false;
  }
  const size_t before = ctx_.error_count();
  for (size_t i = 0; i < v.size(); ++i) {
    Fields item(ctx_, v[i], IndexPath(JoinPath(path_, key), i));
    if (!item.ok()) continue;
    parse(item, i);
    item.Finish();
  }
  return ctx_.error_count() == before;
}

void Fields::Ignored(const std::vector<std::string>& keys, const std::string& why) {
  for (const auto& key : keys) {
    known_.insert(key);
    if (!ok_) continue;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) {
        ctx_.Warn(it->first, JoinPath(path_, key), "ignored: " + why);
      }
    }
  }
}

void Fields::Finish() {
  if (!ok_) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) {
      ctx_.Error(it->first, path_, "a field name must be a plain string");
      continue;
    }
    const std::string& key = it->first.Scalar();
    if (known_.count(key)) continue;
    const std::string near = Closest(key, known_);
    ctx_.Error(it->first, JoinPath(path_, key),
               "unknown field \"" + key + "\"" +
                   (near.empty() ? "" : "; did you mean \"" + near + "\"?"));
  }
}

}  // namespace edgebed::model::internal
