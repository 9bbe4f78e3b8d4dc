#include "core/host/json_yaml.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

namespace edgebed::host {
namespace {

namespace json = boost::json;

// YAML 1.2 core schema, as the Kubernetes YAML decoder reads plain scalars.
json::value Scalar(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return json::value(s);  // quoted: a string, whatever it says
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (std::regex_match(s, kInt)) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && *end == '\0') return json::value(static_cast<int64_t>(v));
    return json::value(s);  // too large for an integer: keep the text
  }
  if (std::regex_match(s, kFloat)) return json::value(std::strtod(s.c_str(), nullptr));
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
    case json::kind::double_: out << v.get_double(); break;
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
