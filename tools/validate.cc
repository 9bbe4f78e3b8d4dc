#include "tools/validate.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/sched/daemon.h"
#include "sim/scenario.h"
#include "tools/flags.h"

namespace edgebed::tools {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSummary =
    "Loads Kubernetes-style manifests (Namespace, ServiceAccount, Node, Pod,\n"
    "Deployment, DaemonSet, StatefulSet, Job, CronJob, NetworkPolicy, Calico NetworkPolicy,\n"
    "GlobalNetworkPolicy, Tier,\n"
    "NetworkSet and GlobalNetworkSet, StorageClass, PersistentVolumeClaim,\n"
    "VolumeSnapshot, PriorityClass, Stork's SchedulePolicy; also a v1 List of them)\n"
    "and prints one line per object loaded, then a warning for each field edgebed\n"
    "ignores, then every error as file:line:column: field.path: what is wrong.\n"
    "A directory loads its *.yaml and *.yml files in name order; '-' reads standard\n"
    "input. A scenario file (edgebed-sim's) stands for its topology's nodes and\n"
    "every manifest it applies. Exits 0 when everything loaded, 1 on any error,\n"
    "2 on bad usage.";

// A scenario file (sim/scenario.h) rather than manifests: a mapping with a
// top-level topology: and no kind:.
bool IsScenario(const std::string& text) {
  bool topology = false;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("topology:", 0) == 0) topology = true;
    if (line.rfind("kind:", 0) == 0 || line.rfind("apiVersion:", 0) == 0) return false;
  }
  return topology;
}

// What a scenario stands for as manifests: its topology's Node objects, then
// every manifest it applies, expanded.
model::LoadResult ScenarioObjects(const sim::ScenarioLoad& scenario) {
  model::LoadResult out;
  out.errors = scenario.errors;
  out.warnings = scenario.warnings;
  if (!scenario.ok()) return out;
  for (const sim::GeneratedNode& node : scenario.scenario->nodes) out.objects.push_back(node.node);
  for (const auto& [name, text] : scenario.scenario->manifests) {
    model::LoadResult r = model::LoadManifests(text, name);
    for (auto& o : r.objects) out.objects.push_back(std::move(o));
    for (auto& w : r.warnings) out.warnings.push_back(std::move(w));
    for (auto& e : r.errors) out.errors.push_back(std::move(e));
  }
  return out;
}

std::string Plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

StatusOr<std::vector<std::string>> ExpandManifestPaths(const std::vector<std::string>& names) {
  std::vector<std::string> files;
  for (const auto& name : names) {
    std::error_code ec;
    if (name == "-" || fs::is_regular_file(name, ec)) {
      files.push_back(name);
    } else if (fs::is_directory(name, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(name, ec)) {
        const std::string ext = entry.path().extension().string();
        if (entry.is_regular_file(ec) && (ext == ".yaml" || ext == ".yml")) {
          found.push_back(entry.path().string());
        }
      }
      if (ec) return IoError("cannot list this directory: " + ec.message(), name);
      if (found.empty()) {
        return NotFound("no .yaml or .yml files in this directory; name the files with -f",
                        name);
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      return NotFound("no such file or directory; check the path", name);
    }
  }
  return files;
}

StatusOr<model::LoadResult> LoadManifestFile(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return IoError("cannot be read; check its permissions", path);
    text << in.rdbuf();
    if (in.bad()) return IoError("reading failed part way", path);
  }
  const std::string source = path == "-" ? "<stdin>" : path;
  if (IsScenario(text.str())) {
    const std::string directory = std::filesystem::path(path).parent_path().string();
    return ScenarioObjects(sim::LoadScenario(text.str(), source, directory.empty() ? "." : directory));
  }
  return model::LoadManifests(text.str(), source);
}

int RunValidate(int argc, char** argv) {
  std::vector<std::string> names;
  Flags flags("edgebed validate", kSummary);
  flags.Repeated("filename", "f", "a manifest file or directory", &names);
  flags.Positional("[FILE...]", &names);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (names.empty()) {
    std::cerr << "edgebed validate: name at least one manifest: edgebed validate -f FILE\n";
    return 2;
  }
  StatusOr<std::vector<std::string>> files = ExpandManifestPaths(names);
  if (!files.ok()) {
    std::cerr << "edgebed validate: " << files.status().ToString() << "\n";
    return 2;
  }

  // Everything is loaded before anything is printed, so the output reads in
  // one order whatever the number of files: objects, warnings, errors.
  model::LoadResult all;
  for (const auto& file : *files) {
    StatusOr<model::LoadResult> result = LoadManifestFile(file);
    if (!result.ok()) {
      std::cerr << "edgebed validate: " << result.status().ToString() << "\n";
      return 2;
    }
    for (auto& o : result->objects) all.objects.push_back(std::move(o));
    for (auto& w : result->warnings) all.warnings.push_back(std::move(w));
    for (auto& e : result->errors) all.errors.push_back(std::move(e));
  }
  for (const auto& o : all.objects) std::cout << model::Summarize(o) << "\n";
  for (const auto& w : all.warnings) std::cout << "warning: " << w.ToString() << "\n";
  std::cout.flush();
  for (const auto& e : all.errors) std::cerr << "error: " << e.ToString() << "\n";
  std::cerr.flush();
  std::cout << all.objects.size() << " objects loaded from " << Plural(files->size(), "file")
            << ", " << Plural(all.warnings.size(), "warning") << ", "
            << Plural(all.errors.size(), "error") << "\n";
  return all.errors.empty() ? 0 : 1;
}

bool LoadAll(const std::string& command, const std::vector<std::string>& names,
             std::vector<model::Object>* objects, int* rc) {
  StatusOr<std::vector<std::string>> files = ExpandManifestPaths(names);
  if (!files.ok()) {
    std::cerr << command << ": " << files.status().ToString() << "\n";
    *rc = 2;
    return false;
  }
  size_t errors = 0;
  for (const std::string& file : *files) {
    StatusOr<model::LoadResult> result = LoadManifestFile(file);
    if (!result.ok()) {
      std::cerr << command << ": " << result.status().ToString() << "\n";
      *rc = 2;
      return false;
    }
    for (const auto& e : result->errors) std::cerr << "error: " << e.ToString() << "\n";
    errors += result->errors.size();
    for (auto& o : result->objects) objects->push_back(std::move(o));
  }
  if (errors > 0) {
    std::cerr << errors << " error" << (errors == 1 ? "" : "s")
              << " in the manifests; fix them and run again (edgebed validate shows them all)\n";
    *rc = 1;
    return false;
  }
  std::vector<model::Node> nodes;
  for (const auto& o : *objects)
    if (const auto* n = std::get_if<model::Node>(&o)) nodes.push_back(*n);
  std::vector<model::Object> daemons;
  for (const auto& o : *objects)
    if (const auto* ds = std::get_if<model::DaemonSet>(&o))
      for (model::Pod& pod : sched::DaemonPods(*ds, nodes)) daemons.emplace_back(std::move(pod));
  for (auto& o : daemons) objects->push_back(std::move(o));
  return true;
}

}  // namespace edgebed::tools
