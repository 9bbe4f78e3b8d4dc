// edgebed validate: loads manifests and prints what it loaded, or the errors.
//
//   edgebed validate -f FILE [-f FILE...]   (also --filename, or plain FILE...)
//
// A directory stands for its *.yaml and *.yml files in name order; "-" reads
// standard input. Output: one summary line per object loaded, then a
// "warning: ..." line per field edgebed ignores, then (on stderr) an
// "error: file:line:column: field.path: ..." line per error, then a count.
//
// Reading files lives here, outside core/: the loader (core/model/loader.h)
// takes text, because core/ touches the world only through Env.
#pragma once

#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/model/loader.h"

namespace edgebed::tools {

// argv[0] is "validate". Exit code: 0 when everything loaded, 1 when any
// manifest has an error, 2 on bad usage (an unknown flag, no file named, a
// file or directory that does not exist or cannot be read).
int RunValidate(int argc, char** argv);

// The manifest files `names` stand for: a file itself, "-" itself, a
// directory's *.yaml and *.yml files sorted by name (not recursing). A name
// that does not exist, or a directory without manifests, is kNotFound with
// the name as its location.
StatusOr<std::vector<std::string>> ExpandManifestPaths(const std::vector<std::string>& names);

// Reads one file ("-": standard input) and loads it; diagnostics name the file
// as given. A file that cannot be read is kIoError, not a LoadResult.
StatusOr<model::LoadResult> LoadManifestFile(const std::string& path);

// Loads every manifest `names` stand for into `objects`, for a command
// (`command` prefixes its messages, e.g. "edgebed sched"), and adds the pod
// each DaemonSet stands for on every node of them that takes one (as the
// cluster's controller makes it: core/sched/daemon.h). On any error it
// prints them all, sets *rc (1: a manifest error, 2: a file that cannot be
// read) and returns false.
bool LoadAll(const std::string& command, const std::vector<std::string>& names,
             std::vector<model::Object>* objects, int* rc);

}  // namespace edgebed::tools
