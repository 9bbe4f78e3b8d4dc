// edgebed-sim: runs edgebed's core inside ns-3.
//
//   edgebed-sim run SCENARIO [--seed N] [--db FILE] [--set key=value ...]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "core/results/results_db.h"
#include "edgebed_revision.h"  // generated at build time: EDGEBED_REVISION
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "tools/flags.h"

namespace edgebed::tools {
namespace {

constexpr const char* kUsage =
    "Usage: edgebed-sim COMMAND [flags]\n"
    "\n"
    "Runs edgebed's core (the same code that runs on real nodes) inside an ns-3\n"
    "simulation of edge sites, buildings, floors and nodes.\n"
    "\n"
    "Commands:\n"
    "  run SCENARIO   runs a scenario file (scenarios/README.md): the cluster, its\n"
    "                 workloads and its faults; results go to a results database\n"
    "\n"
    "Run 'edgebed-sim COMMAND --help' for a command's flags.\n";

std::string Clock(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  }
  return text;
}

std::string Ms(const sim::QuantileSummary& q) {
  if (q.count == 0) return "none";
  char text[96];
  std::snprintf(text, sizeof text, "p50 %.1f ms, p99 %.1f ms, max %.1f ms (%llu)", q.p50, q.p99, q.max,
                static_cast<unsigned long long>(q.count));
  return text;
}

// A one-line progress bar on stderr, redrawn in place (terminals only).
class ProgressBar {
 public:
  ProgressBar() : enabled_(isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}
  void Update(const sim::Progress& p) {
    if (!enabled_) return;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double done = ToSeconds(p.now.time_since_epoch()) / std::max(1e-9, ToSeconds(p.duration));
    const int width = 24;
    const int filled = static_cast<int>(done * width);
    std::string bar(static_cast<size_t>(filled), '=');
    if (filled < width) bar += '>';
    bar.resize(width, ' ');
    const double rate = wall > 0 ? static_cast<double>(p.events) / wall : 0;
    const double eta = done > 0 ? wall * (1 - done) / done : 0;
    std::fprintf(stderr, "\r[%s] %3.0f%%  sim %s/%s  %.0fk ev/s  ETA %s  nodes %d  pods %d/%d   ", bar.c_str(),
                 done * 100, Clock(ToSeconds(p.now.time_since_epoch())).c_str(), Clock(ToSeconds(p.duration)).c_str(),
                 rate / 1000, Clock(eta).c_str(), p.nodes_joined, p.pods_running, p.pods_total);
    std::fflush(stderr);
  }
  void Finish() {
    if (enabled_) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

int Run(int argc, char** argv) {
  std::vector<std::string> positional, overrides;
  int64_t seed = -1;
  std::string db_path;
  Flags flags("edgebed-sim run SCENARIO",
              "Runs a scenario: its topology in ns-3 with a node agent on every node and the\n"
              "control plane on its own machine, its manifests applied once the nodes have\n"
              "joined, its workloads in the pods and its faults on their timeline. Every\n"
              "metric and event goes to a results database (schema: reports/README.md).\n"
              "The same scenario and seed give the same results.");
  flags.Positional("SCENARIO", &positional);
  flags.Int("seed", "random seed (default: the scenario's)", &seed);
  flags.String("db", "results database to add the run to (default: results/<scenario>.db)", &db_path);
  flags.Repeated("set", "", "override a scenario field: --set duration=5m --set topology.sites[0].buildings[0].count=4",
                 &overrides);
  if (int rc = flags.Parse(argc, argv, 2); rc >= 0) return rc;
  if (positional.size() != 1) {
    std::cerr << "edgebed-sim run: name one scenario file, e.g. edgebed-sim run scenarios/smart-building.yaml\n";
    return 2;
  }
  if (seed >= 0) overrides.push_back("seed=" + std::to_string(seed));
  const std::string& path = positional[0];
  sim::ScenarioLoad loaded = sim::LoadScenarioFile(path, overrides);
  for (const auto& w : loaded.warnings) std::cerr << "warning: " << w.ToString() << "\n";
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::cerr << "error: " << e.ToString() << "\n";
    std::cerr << "edgebed-sim run: " << loaded.errors.size() << " error" << (loaded.errors.size() == 1 ? "" : "s")
              << " in the scenario; nothing was run\n";
    return 1;
  }
  const sim::Scenario& scenario = *loaded.scenario;
  if (db_path.empty()) db_path = "results/" + scenario.name + ".db";
  std::error_code ec;
  const auto parent = std::filesystem::path(db_path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  auto db = results::ResultsDb::Open(db_path);
  if (!db.ok()) {
    std::cerr << "edgebed-sim run: " << db.status().ToString() << "\n";
    return 1;
  }
  results::RunInfo info;
  info.scenario = scenario.name;
  info.scenario_path = path;
  info.seed = scenario.seed;
  info.revision = EDGEBED_REVISION;
  info.parameters = {{"nodes", std::to_string(scenario.nodes.size())},
                     {"duration_s", std::to_string(ToSeconds(scenario.duration))}};
  for (size_t i = 0; i < scenario.overrides.size(); ++i)
    info.parameters.emplace_back("set." + std::to_string(i + 1), scenario.overrides[i]);
  auto run = (*db)->BeginRun(info);
  if (!run.ok()) {
    std::cerr << "edgebed-sim run: " << run.status().ToString() << "\n";
    return 1;
  }

  std::printf("edgebed-sim: %s — %zu nodes, seed %llu, %s simulated\n", scenario.name.c_str(), scenario.nodes.size(),
              static_cast<unsigned long long>(scenario.seed), Clock(ToSeconds(scenario.duration)).c_str());
  std::fflush(stdout);
  ProgressBar bar;
  sim::SimulationOptions options;
  options.on_progress = [&bar](const sim::Progress& p) { bar.Update(p); };
  const auto wall_start = std::chrono::steady_clock::now();
  sim::Simulation simulation(scenario, **db, options);
  auto summary = simulation.Run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  bar.Finish();
  if (!summary.ok()) {
    std::cerr << "edgebed-sim run: " << summary.status().ToString() << "\n";
    return 1;
  }
  if (Status s = (*db)->EndRun(Time(scenario.duration)); !s.ok()) {
    std::cerr << "edgebed-sim run: " << s.ToString() << "\n";
    return 1;
  }
  const double sim_seconds = ToSeconds(scenario.duration);
  (void)(*db)->RecordWallClock({{"wall_seconds", wall},
                                {"sim_events", static_cast<double>(summary->events)},
                                {"sim_events_per_wall_second", static_cast<double>(summary->events) / wall},
                                {"sim_seconds_per_wall_second", sim_seconds / wall}});
  if (Status s = (*db)->Close(); !s.ok()) {
    std::cerr << "edgebed-sim run: " << s.ToString() << "\n";
    return 1;
  }

  const sim::SimulationSummary& r = *summary;
  std::printf("  cluster: %zu nodes and %zu routers; every agent joined after %.1f s; ", r.nodes, r.routers,
              ToSeconds(r.joined_after));
  if (r.all_running_after) {
    std::printf("manifests applied -> all pods Running in %.1f s\n", ToSeconds(*r.all_running_after));
  } else {
    std::printf("not every pod ever ran\n");
  }
  std::printf("  at the end: %d/%d pods Running%s, %d nodes Ready\n", r.pods_running, r.pods_total,
              r.pods_finished ? (" (" + std::to_string(r.pods_finished) + " more ran to completion)").c_str() : "",
              r.nodes_ready);
  for (const std::string& e : r.apply_errors) std::printf("  apply error: %s\n", e.c_str());
  std::printf("  workloads: %llu messages sent, %llu received, %llu inference answers\n",
              static_cast<unsigned long long>(r.messages_sent), static_cast<unsigned long long>(r.messages_received),
              static_cast<unsigned long long>(r.inference_requests));
  std::printf("    sensor -> broker:             %s\n", Ms(r.publish_ms).c_str());
  std::printf("    sensor -> broker -> inference: %s\n", Ms(r.e2e_ms).c_str());
  std::printf("    broker volume writes:          %s, %llu failed\n", Ms(r.volume_write_ms).c_str(),
              static_cast<unsigned long long>(r.volume_write_errors));
  if (r.cloud_volumes > 0) {
    std::printf("  cloud backups of %d volume%s: recovery point %s at the end, worst %s after the first backup\n",
                r.cloud_volumes, r.cloud_volumes == 1 ? "" : "s",
                r.rpo_end_s ? (std::to_string(static_cast<int>(*r.rpo_end_s + 0.5)) + " s").c_str() : "-",
                r.rpo_worst_s ? (std::to_string(static_cast<int>(*r.rpo_worst_s + 0.5)) + " s").c_str()
                              : "- (no backup made)");
  }
  std::printf("  policy: %llu flows allowed, %llu denied; %llu IDS alerts\n",
              static_cast<unsigned long long>(r.flows_allowed), static_cast<unsigned long long>(r.flows_denied),
              static_cast<unsigned long long>(r.ids_alerts));
  if (!r.faults.empty()) std::printf("  faults (recovery: until every up node is Ready and every pod Running):\n");
  for (const sim::FaultReport& f : r.faults) {
    if (f.at >= Time(scenario.duration)) {
      std::printf("    t=%-7s %-34s after the end of the run: did not happen\n",
                  Clock(ToSeconds(f.at.time_since_epoch())).c_str(), f.fault.c_str());
      continue;
    }
    std::printf("    t=%-7s %-34s recovered %s\n", Clock(ToSeconds(f.at.time_since_epoch())).c_str(), f.fault.c_str(),
                f.recovery ? (std::to_string(static_cast<int>(ToSeconds(*f.recovery) + 0.5)) + " s after " +
                              (f.undone ? "it ended" : "it began")).c_str()
                           : "not within the run");
  }
  std::printf("  simulator: %llu events in %.1f s wall (%.0f events/s, %.1f simulated s per wall s)\n",
              static_cast<unsigned long long>(r.events), wall, static_cast<double>(r.events) / wall, sim_seconds / wall);
  std::printf("results: %s (run %lld; sqlite3 queries in reports/README.md)\n", db_path.c_str(),
              static_cast<long long>(*run));
  std::string html_path = std::filesystem::path(db_path).replace_extension(".html").string();
  std::printf("report: edgebed report %s -o %s\n", db_path.c_str(), html_path.c_str());
  return 0;
}

}  // namespace
}  // namespace edgebed::tools

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "run") return edgebed::tools::Run(argc, argv);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << edgebed::tools::kUsage;
    return 0;
  }
  std::cerr << (command.empty() ? "edgebed-sim: missing command\n"
                                : "edgebed-sim: unknown command '" + command + "'\n")
            << edgebed::tools::kUsage;
  return 2;
}
