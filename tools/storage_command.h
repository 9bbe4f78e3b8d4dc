// edgebed storage: the storage engine's tools.
//
//   edgebed storage torture --seeds N [--from S] [--nodes K] [--repl R] [--trace]
//
// torture runs the randomized fault test of replicated volumes
// (core/storage/torture.h) over seeds S..S+N-1, printing a progress line to
// stderr as it goes and, at the end, one line to stdout:
//   seeds: N, acknowledged writes: W, lost: L, stale reads: R
// where R counts every read no single correct volume could have returned.
// A failing seed prints what went wrong and the command that replays it
// alone; --trace prints, per seed, every client operation and fault and
// every event of the run.
#pragma once

namespace edgebed::tools {

// argv[0] is "storage". Exit code: 0 when every seed held, 1 when one lost
// an acknowledged write or read a bad value, 2 on bad usage.
int RunStorage(int argc, char** argv);

}  // namespace edgebed::tools
