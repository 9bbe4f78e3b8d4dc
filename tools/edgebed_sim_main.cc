// edgebed-sim: runs edgebed's core inside ns-3.
//
//   edgebed-sim run [flags]   the heartbeat demo on an edge campus (the main
//                             job until the smart-building scenario lands)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include "core/results/results_db.h"
#include "sim/heartbeat_demo.h"
#include "tools/flags.h"

#ifndef EDGEBED_REVISION
#define EDGEBED_REVISION "unknown"
#endif

namespace edgebed::tools {
namespace {

constexpr const char* kUsage =
    "Usage: edgebed-sim COMMAND [flags]\n"
    "\n"
    "Runs edgebed's core (the same code that runs on real nodes) inside an ns-3\n"
    "simulation of edge nodes.\n"
    "\n"
    "Commands:\n"
    "  run      the heartbeat demo: every edge node of a campus runs the failure\n"
    "           detector over ns-3 while a building is partitioned and healed and a\n"
    "           node crashes and restarts; results go to a results database\n"
    "\n"
    "Run 'edgebed-sim COMMAND --help' for a command's flags.\n";

std::string Ms(Duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", ToMillis(d));
  return text;
}

int Run(int argc, char** argv) {
  sim::HeartbeatDemoOptions options;
  int64_t buildings = options.topology.buildings;
  int64_t floors = options.topology.floors_per_building;
  int64_t per_floor = options.topology.nodes_per_floor;
  int64_t seed = static_cast<int64_t>(options.seed);
  std::string out = "results/demo.db";
  Flags flags("edgebed-sim run",
              "Runs the heartbeat demo on an ns-3 campus of buildings, floors and edge nodes,\n"
              "with a fault timeline (partition a building at 30% of the run, heal at 50%,\n"
              "crash a node at 65%, restart it at 80%), and records every metric and event\n"
              "in a results database.");
  flags.Int("buildings", "buildings in the campus (1..254)", &buildings);
  flags.Int("floors", "floors per building (1..64)", &floors);
  flags.Int("nodes-per-floor", "edge nodes per floor (1..64)", &per_floor);
  flags.Duration("duration", "simulated time to run", &options.duration);
  flags.Duration("interval", "heartbeat interval", &options.interval);
  flags.Double("drop-rate", "background message loss, 0..0.5", &options.drop_rate);
  flags.Int("seed", "random seed; the same seed gives the same results", &seed);
  flags.String("out", "results database to write (replaced if it exists)", &out);
  if (int rc = flags.Parse(argc, argv, 2); rc >= 0) return rc;
  options.topology.buildings = static_cast<int>(buildings);
  options.topology.floors_per_building = static_cast<int>(floors);
  options.topology.nodes_per_floor = static_cast<int>(per_floor);
  options.seed = static_cast<uint64_t>(seed);
  if (Status s = options.Validate(); !s.ok()) {
    // Name the flag the user typed, not the field behind it.
    static const std::map<std::string, std::string> kFlagOf = {
        {"buildings", "--buildings"},          {"floors_per_building", "--floors"},
        {"nodes_per_floor", "--nodes-per-floor"}, {"duration", "--duration"},
        {"interval", "--interval"},            {"drop_rate", "--drop-rate"}};
    auto flag = kFlagOf.find(s.where());
    std::cerr << "edgebed-sim run: " << (flag == kFlagOf.end() ? s.where() : flag->second) << ": "
              << s.message() << "\n";
    return 2;
  }

  std::error_code ec;
  std::filesystem::remove(out, ec);
  auto db = results::ResultsDb::Open(out);
  if (!db.ok()) {
    std::cerr << "edgebed-sim run: " << db.status().ToString() << "\n";
    return 1;
  }
  results::RunInfo info;
  info.scenario = "heartbeat-demo";
  info.seed = options.seed;
  info.revision = EDGEBED_REVISION;
  info.parameters = {{"buildings", std::to_string(buildings)},
                     {"floors", std::to_string(floors)},
                     {"nodes_per_floor", std::to_string(per_floor)},
                     {"duration_s", std::to_string(ToSeconds(options.duration))},
                     {"interval_s", std::to_string(ToSeconds(options.interval))},
                     {"drop_rate", std::to_string(options.drop_rate)}};
  auto run = (*db)->BeginRun(info);
  if (!run.ok()) {
    std::cerr << "edgebed-sim run: " << run.status().ToString() << "\n";
    return 1;
  }

  const auto wall_start = std::chrono::steady_clock::now();
  auto report = sim::RunHeartbeatDemo(options, **db);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  if (!report.ok()) {
    std::cerr << "edgebed-sim run: " << report.status().ToString() << "\n";
    return 1;
  }
  if (Status s = (*db)->EndRun(Time(options.duration)); !s.ok()) {
    std::cerr << "edgebed-sim run: " << s.ToString() << "\n";
    return 1;
  }
  const double sim_seconds = ToSeconds(options.duration);
  (void)(*db)->RecordWallClock({{"wall_seconds", wall},
                                {"sim_events_per_wall_second", report->sim_events / wall},
                                {"sim_seconds_per_wall_second", sim_seconds / wall}});
  if (Status s = (*db)->Close(); !s.ok()) {
    std::cerr << "edgebed-sim run: " << s.ToString() << "\n";
    return 1;
  }

  std::printf("edgebed heartbeat demo: %d edge nodes and %d routers in ns-3, seed %llu\n",
              report->edge_nodes, report->routers, static_cast<unsigned long long>(options.seed));
  std::printf("  %d probe pairs, %llu messages sent (%llu datagrams), %llu delivered\n",
              report->probe_pairs, static_cast<unsigned long long>(report->messages_sent),
              static_cast<unsigned long long>(report->datagrams_sent),
              static_cast<unsigned long long>(report->messages_delivered));
  std::printf("  round trip: p50 %.3f ms, p99 %.3f ms over %llu samples\n", report->rtt_p50_ms,
              report->rtt_p99_ms, static_cast<unsigned long long>(report->rtt_samples));
  std::printf("  faults (time to first / last detection by the probing peers):\n");
  for (const auto& f : report->faults) {
    std::printf("    t=%6.1fs  %-26s %4d/%-4d pairs  first %-10s last %s\n", ToSeconds(f.at.time_since_epoch()),
                f.fault.c_str(), f.pairs_changed, f.pairs_affected, Ms(f.first_detected).c_str(),
                Ms(f.all_detected).c_str());
  }
  std::printf("  simulator: %llu events, %.1f s simulated in %.2f s wall (%.0f events/s, %.1f sim-s per wall-s)\n",
              static_cast<unsigned long long>(report->sim_events), sim_seconds, wall,
              report->sim_events / wall, sim_seconds / wall);
  std::printf("results: %s (run %lld; query it with sqlite3, schema in reports/README.md)\n",
              out.c_str(), static_cast<long long>(*run));
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
