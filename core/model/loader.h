// The manifest loader: multi-document YAML in, typed objects out.
//
//   LoadResult r = LoadManifests(text, "site.yaml");
//   for (const Diagnostic& e : r.errors) std::cerr << e.ToString() << "\n";
//   for (const Object& o : r.objects)
//     if (const Pod* pod = std::get_if<Pod>(&o)) schedule(*pod);
//
// A stream holds documents separated by "---"; a document is one object of a
// kind in objects.h, or a v1 List of them. A user's existing manifests load
// unchanged: field names, defaults and validation follow the upstream
// Kubernetes, Calico and Portworx APIs. What edgebed does not understand is
// said, never silently dropped:
//
// - an error for a field that the upstream API does not have (with the
//   closest known name: "did you mean 'replicas'?"), for an unknown kind, an
//   apiVersion that does not serve the kind, a value of the wrong type or out
//   of range, a malformed quantity, selector, CIDR or name, a key given twice;
// - a warning for a field the upstream API has but edgebed does not model
//   (a container's livenessProbe, a Pod's status), which is then ignored.
//
// Every diagnostic names file:line:column, the field path and what to do:
//   pods.yaml:7:15: spec.containers[0].resources.requests.cpu: "12x" is not a
//   quantity (unknown suffix "x"; ...); write e.g. "250m", "1.5", "2Gi", "500M"
// All errors of a stream are reported, not just the first; a document with an
// error yields no object, and the other documents still load.
//
// The loader never throws and never crashes on any input: YAML syntax errors,
// nesting deeper than yaml-cpp's recursion guard, aliases that expand past a
// node budget and inputs over kMaxInputBytes all become diagnostics too. It
// does no I/O (core/ reaches the world only through Env); tools/validate.h
// reads files. It keeps no state: concurrent calls are safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/model/objects.h"

namespace edgebed::model {

// One error or warning: where (file, 1-based line and column), which field
// (path from the document's root; empty for YAML syntax errors), and a
// message that says what is wrong and how to fix it.
struct Diagnostic {
  SourcePos pos;
  std::string path;  // e.g. "spec.template.spec.containers[0].image"
  std::string message;
  std::string ToString() const;  // "file:line:column: path: message"
};

struct LoadResult {
  std::vector<Object> objects;      // in the order of the file
  std::vector<Diagnostic> errors;   // sorted by position in the file
  std::vector<Diagnostic> warnings; // likewise
  bool ok() const { return errors.empty(); }
};

inline constexpr size_t kMaxInputBytes = 16u << 20;

// Loads every document of `yaml`; `source` names it in diagnostics and in
// each object's SourcePos (a file name, or "<api request>").
LoadResult LoadManifests(std::string_view yaml, const std::string& source);

}  // namespace edgebed::model
