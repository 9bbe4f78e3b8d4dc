// The manifest loader: multi-document YAML in, typed objects out.
//
// A user's existing manifests load unchanged: field names, defaults and
// validation follow the upstream Kubernetes, Calico and Portworx APIs. What
// edgebed does not understand is said, never silently dropped:
//
// - an error for a field that the upstream API does not have (with the
//   closest known name: "did you mean 'replicas'?"), for an unknown kind, an
//   apiVersion that does not serve the kind, a value of the wrong type or out
//   of range, a malformed quantity, selector, CIDR or name;
// - a warning for a field the upstream API has but edgebed does not model
//   (a container's livenessProbe, a Pod's status), which is then ignored.
//
// Every diagnostic names file:line:column, the field path and what to do:
//   pods.yaml:7:15: spec.containers[0].resources.requests.cpu: "12x" is not a
//   quantity (unknown suffix "x"; ...); write e.g. "250m", "1.5", "2Gi", "500M"
//
// The loader never throws and never crashes on any input: YAML errors become
// diagnostics too, and documents nest at most kMaxDepth deep.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/model/objects.h"

namespace edgebed::model {

struct Diagnostic {
  SourcePos pos;
  std::string path;  // field path, e.g. "spec.template.spec.containers[0].image"
  std::string message;
  std::string ToString() const;  // "file:line:column: path: message"
};

struct LoadResult {
  std::vector<Object> objects;
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;
  bool ok() const { return errors.empty(); }
};

inline constexpr int kMaxDepth = 64;
inline constexpr size_t kMaxInputBytes = 16u << 20;

// Loads every document of `yaml`; `source` names it in diagnostics (a file
// name, or "<api request>"). Objects of documents with errors are left out;
// the rest are kept. Reading files is the caller's business: core/ does no I/O.
LoadResult LoadManifests(std::string_view yaml, const std::string& source);

}  // namespace edgebed::model
