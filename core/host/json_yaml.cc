#include "core/host/json_yaml.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

namespace edgebed::host {
namespace {

namespace json = boost::json;

bool Digits(const std::string& s, size_t from, size_t to) {
  if (from >= to) return false;
  for (size_t i = from; i < to; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// [-+]?[0-9]+
bool IsInteger(const std::string& s) {
  const size_t start = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  return Digits(s, start, s.size());
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsFloat(const std::string& s) {
  size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  const size_t e = s.find_first_of("eE", i);
  const size_t mantissa_end = e == std::string::npos ? s.size() : e;
  bool mantissa = false;
  if (i < mantissa_end && s[i] == '.') {
    mantissa = Digits(s, i + 1, mantissa_end);  // .5
  } else {
    const size_t dot = s.find('.', i);
    if (dot != std::string::npos && dot < mantissa_end) {
      mantissa = Digits(s, i, dot) && (dot + 1 == mantissa_end || Digits(s, dot + 1, mantissa_end));  // 1. or 1.5
    } else {
      mantissa = Digits(s, i, mantissa_end);  // 1
    }
  }
  if (!mantissa) return false;
  if (e == std::string::npos) return true;
  size_t j = e + 1;
  if (j < s.size() && (s[j] == '-' || s[j] == '+')) ++j;
  return Digits(s, j, s.size());
}

// YAML 1.2 core schema, as the Kubernetes YAML decoder reads plain scalars.
json::value Scalar(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return json::value(s);  // quoted: a string, whatever it says
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (IsInteger(s)) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && *end == '\0') return json::value(static_cast<int64_t>(v));
    return json::value(s);  // too large for an integer: keep the text
  }
  if (IsFloat(s)) return json::value(std::strtod(s.c_str(), nullptr));
  return json::value(s);
}

json::value Convert(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return Scalar(node);
    case YAML::NodeType::Sequence: {
      json::array a;
      for (const YAML::Node& item : node) a.push_back(Convert(item));
      return a;
    }
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : node) o[kv.first.Scalar()] = Convert(kv.second);
      return o;
    }
  }
  return nullptr;
}

void Emit(YAML::Emitter& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out << YAML::Null; break;
    case json::kind::bool_: out << (v.get_bool() ? "true" : "false"); break;
    case json::kind::int64: out << v.get_int64(); break;
    case json::kind::uint64: out << v.get_uint64(); break;
    case json::kind::double_: {
      // An integral double keeps its point, so it reads back as a float.
      const double d = v.get_double();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", d);
        out << buf;
      } else {
        out << d;
      }
      break;
    }
    case json::kind::string: {
      const std::string s(v.get_string());
      // A string that would read back as another type is quoted.
      YAML::Node probe;
      json::value back;
      try {
        probe = YAML::Load(s);
        back = probe.IsScalar() ? Scalar(probe) : json::value(nullptr);
      } catch (const YAML::Exception&) {
        back = json::value(s);
      }
      if (back.is_string() && back.get_string() == s) {
        out << s;
      } else {
        out << YAML::DoubleQuoted << s;
      }
      break;
    }
    case json::kind::array:
      out << YAML::BeginSeq;
      for (const json::value& item : v.get_array()) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::kind::object:
      out << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        out << YAML::Key << std::string(kv.key());
        out << YAML::Value;
        Emit(out, kv.value());
      }
      out << YAML::EndMap;
      break;
  }
}

}  // namespace

json::value YamlToJson(const std::string& yaml) {
  try {
    return Convert(YAML::Load(yaml));
  } catch (const YAML::Exception&) {
    return json::value(yaml);
  }
}

std::string JsonToYaml(const json::value& value) {
  YAML::Emitter out;
  Emit(out, value);
  return std::string(out.c_str()) + "\n";
}

}  // namespace edgebed::host
