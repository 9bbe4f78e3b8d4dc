#include "tools/storage_command.h"

#include <iostream>
#include <string>

#include "core/storage/torture.h"
#include "tools/flags.h"

namespace edgebed::tools {
namespace {

constexpr const char* kTortureSummary =
    "Runs the randomized fault test of replicated volumes over seeds FROM..FROM+SEEDS-1: crashes,\n"
    "partitions, message loss, duplication and delay, lost unsynced writes, disk errors and\n"
    "replica replacement, then checks that no acknowledged write was lost and that every read\n"
    "was one a single correct volume could return. Exit 0 only when every seed held.";

int Torture(int argc, char** argv) {
  int64_t seeds = 100, from = 1, nodes = 5, repl = 3;
  bool trace = false;
  Flags flags("edgebed storage torture", kTortureSummary);
  flags.Int("seeds", "how many seeds to run", &seeds);
  flags.Int("from", "the first seed", &from);
  flags.Int("nodes", "storage nodes (besides the controller's), at least --repl", &nodes);
  flags.Int("repl", "replicas of the volume: 1, 2 or 3", &repl);
  flags.Bool("trace", "print every client operation, fault and event of each seed", &trace);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  const auto usage = [](const std::string& message) {
    std::cerr << "edgebed storage torture: " << message
              << "\nRun 'edgebed storage torture --help' for the flags.\n";
    return 2;
  };
  if (seeds < 1) return usage("--seeds must be at least 1");
  if (from < 0) return usage("--from must not be negative");
  if (repl < 1 || repl > 3) return usage("--repl must be 1, 2 or 3");
  if (nodes < repl || nodes > 64) return usage("--nodes must be at least --repl and at most 64");

  const std::string replay_flags = " --nodes " + std::to_string(nodes) + " --repl " + std::to_string(repl);
  uint64_t acked = 0, lost = 0, bad_reads = 0, failed_seeds = 0, snapshots = 0;
  const int64_t every = seeds >= 1000 ? 100 : seeds >= 100 ? 10 : 1;
  for (int64_t i = 0; i < seeds; ++i) {
    storage::TortureOptions o;
    o.seed = static_cast<uint64_t>(from + i);
    o.nodes = static_cast<int>(nodes);
    o.repl = static_cast<int>(repl);
    o.trace = trace;
    StatusOr<storage::TortureResult> r = storage::RunTorture(o);
    if (!r.ok()) {
      std::cerr << "seed " << o.seed << ": " << r.status().ToString() << "\n"
                << "replay: edgebed storage torture --seeds 1 --from " << o.seed << replay_flags << " --trace\n";
      return 1;
    }
    if (trace) {
      std::cout << "# seed " << o.seed << "\n";
      for (const std::string& line : r->trace) std::cout << line << "\n";
      std::cout << r->check.ToString(1000) << "\n";
    }
    acked += r->acknowledged_writes;
    snapshots += r->snapshots_checked;
    lost += r->lost_writes;
    bad_reads += r->bad_reads;
    if (!r->ok()) {
      ++failed_seeds;
      std::cerr << "seed " << o.seed << " FAILED: "
                << (r->stalled ? "stalled: events kept coming without simulated time moving on (a livelock)"
                               : "lost " + std::to_string(r->lost_writes) + ", stale reads " +
                                     std::to_string(r->bad_reads) + "\n" + r->check.ToString(20))
                << "\n"
                << "replay: edgebed storage torture --seeds 1 --from " << o.seed << replay_flags << " --trace\n";
    }
    if ((i + 1) % every == 0 || i + 1 == seeds) {
      std::cerr << "torture: " << (i + 1) << "/" << seeds << " seeds, " << acked << " acknowledged writes, "
                << snapshots << " snapshots checked, " << failed_seeds << " failed\n";
    }
  }
  std::cout << "seeds: " << seeds << ", acknowledged writes: " << acked << ", lost: " << lost
            << ", stale reads: " << bad_reads << "\n";
  return failed_seeds == 0 ? 0 : 1;
}

}  // namespace

int RunStorage(int argc, char** argv) {
  const std::string sub = argc > 1 ? argv[1] : "";
  if (sub == "torture") return Torture(argc - 1, argv + 1);
  const bool help = sub == "--help" || sub == "-h" || sub == "help";
  (help ? std::cout : std::cerr)
      << (help || sub.empty() ? "" : "edgebed storage: unknown subcommand '" + sub + "'\n")
      << "Usage: edgebed storage torture --seeds N [--from S] [--nodes K] [--repl R] [--trace]\n"
         "Run 'edgebed storage torture --help' for more.\n";
  return help ? 0 : 2;
}

}  // namespace edgebed::tools
