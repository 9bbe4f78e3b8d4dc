#include "tools/validate.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/model/loader.h"
#include "tools/flags.h"

namespace edgebed::tools {
namespace {

namespace fs = std::filesystem;

// The files named: each file itself, each directory's *.yaml and *.yml in
// name order. False (after saying why) if a name is neither.
bool Expand(const std::vector<std::string>& names, std::vector<std::string>* files) {
  for (const auto& name : names) {
    std::error_code ec;
    if (fs::is_directory(name, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(name, ec)) {
        const std::string ext = entry.path().extension().string();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) {
        std::cerr << "edgebed validate: " << name << ": no .yaml or .yml files in this directory\n";
        return false;
      }
      files->insert(files->end(), found.begin(), found.end());
    } else if (fs::is_regular_file(name, ec) || name == "-") {
      files->push_back(name);
    } else {
      std::cerr << "edgebed validate: " << name << ": no such file or directory\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int RunValidate(int argc, char** argv) {
  std::vector<std::string> names;
  Flags flags("edgebed validate",
              "Loads Kubernetes-style manifests (Namespace, Node, Pod, Deployment, NetworkPolicy,\n"
              "Calico NetworkPolicy, GlobalNetworkPolicy and Tier, StorageClass,\n"
              "PersistentVolumeClaim, VolumeSnapshot, PriorityClass) and prints one line per\n"
              "object loaded, then warnings for fields edgebed ignores, then every error as\n"
              "file:line:column: field.path: what is wrong. A directory loads its *.yaml and\n"
              "*.yml files; '-' reads standard input. Exits 1 if any manifest has an error.");
  flags.Repeated("filename", "f", "a manifest file or directory", &names);
  flags.Positional("[FILE...]", &names);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (names.empty()) {
    std::cerr << "edgebed validate: name at least one manifest: edgebed validate -f FILE\n";
    return 2;
  }
  std::vector<std::string> files;
  if (!Expand(names, &files)) return 2;

  size_t objects = 0, warnings = 0, errors = 0;
  for (const auto& file : files) {
    std::stringstream text;
    if (file == "-") {
      text << std::cin.rdbuf();
    } else {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::cerr << "edgebed validate: " << file << ": cannot be read\n";
        return 2;
      }
      text << in.rdbuf();
    }
    const model::LoadResult result = model::LoadManifests(text.str(), file == "-" ? "<stdin>" : file);
    for (const auto& o : result.objects) std::cout << model::Summarize(o) << "\n";
    for (const auto& w : result.warnings) std::cout << "warning: " << w.ToString() << "\n";
    for (const auto& e : result.errors) std::cerr << "error: " << e.ToString() << "\n";
    objects += result.objects.size();
    warnings += result.warnings.size();
    errors += result.errors.size();
  }
  std::cout << objects << " objects loaded from " << files.size() << " file"
            << (files.size() == 1 ? "" : "s") << ", " << warnings << " warning"
            << (warnings == 1 ? "" : "s") << ", " << errors << " error" << (errors == 1 ? "" : "s")
            << "\n";
  return errors == 0 ? 0 : 1;
}

}  // namespace edgebed::tools
