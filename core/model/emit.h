// The manifest emitter: typed objects back to YAML, the loader's inverse.
//
//   std::string yaml = ToYaml(objects);  // store it, send it, print it
//   LoadResult again = LoadManifests(yaml, "stored.yaml");
//
// What it promises, for every object the loader (core/model/loader.h) can
// produce: loading ToYaml(object) gives exactly that object back, field for
// field (only SourcePos differs: it says where the new text put it), with no
// errors and no warnings; and emitting the reloaded object gives the same
// bytes again. So the text can be stored, sent and diffed in place of the
// object. It reads like `kubectl get -o yaml`: upstream apiVersions,
// kinds and camelCase field names, with the defaults the loader filled in
// written out (a derived field, such as a StorageClass's typed Portworx
// parameters, is written as the text it is derived from).
//
// Output is deterministic: fields in a fixed order, maps in key order,
// strings that YAML would read as a number, boolean, null or date quoted.
// Optional fields that are absent are left out. It never throws, and keeps
// no state: concurrent calls are safe.
//
// An object built by hand loads back the same only if the loader would have
// accepted it: a field the loader refuses in its place (a namespaced Calico
// policy's namespaceSelector, args for a plugin that takes none) is not
// written, and a Deployment whose selector misses its template's labels is
// written, then refused on loading.
#pragma once

#include <string>
#include <vector>

#include "core/model/objects.h"

namespace edgebed::model {

// One manifest document, ending in a newline.
std::string ToYaml(const Object& object);

// The documents of `objects` in order, separated by "---" lines; "" if none.
std::string ToYaml(const std::vector<Object>& objects);

}  // namespace edgebed::model
