// YAML manifests as JSON and back, for the HTTP API and `edgebed ctl`.
//
// Scalars are typed as YAML 1.2's core schema types them: a plain scalar
// that reads as an integer, a float, true/false or null becomes that; a
// quoted one stays a string. A text that is not YAML becomes a JSON string.
#pragma once

#include <string>

#include <boost/json/value.hpp>

namespace edgebed::host {

boost::json::value YamlToJson(const std::string& yaml);
// Block-style YAML of a JSON value; strings that would read as another type
// are quoted, so YamlToJson(JsonToYaml(v)) == v.
std::string JsonToYaml(const boost::json::value& value);

}  // namespace edgebed::host
