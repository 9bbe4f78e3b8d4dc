// Record() throughput of the results database against naive ways of writing
// the same samples to SQLite, in the same run. items_per_second counts
// samples that reached the file (each iteration ends with a commit), per
// second of wall time: the naive baseline waits on the disk, not the CPU.
//
//  - ResultsDbRecord/N: ResultsDb as a run uses it: prepared statements,
//    batched transactions, series interned; N distinct series (node x peer).
//  - ResultsDbEvent: Event() the same way, 200,000 events.
//  - FlatPreparedBatched/N: prepared INSERT in one transaction into a flat
//    table with no index that repeats name, node and labels in every row:
//    the fastest append SQLite offers, and a file that can only be read by
//    scanning it whole.
//  - NaiveAutocommit: one sqlite3_exec("INSERT ...") per sample, SQLite's
//    defaults (each insert is its own fsynced transaction), 1,000 samples.
//
// The samples are made before the clock starts; files go to the temp dir.
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/env/random.h"
#include "core/results/results_db.h"

namespace edgebed::results {
namespace {

namespace fs = std::filesystem;

constexpr int kSamples = 200'000;
constexpr int kNaiveSamples = 1'000;

std::string TempPath(const std::string& name) {
  return (fs::temp_directory_path() /
          ("edgebed-results-bench-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

void RemoveDb(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(path + suffix, ec);
}

// A new database at `path` with a run begun, or null after marking the
// benchmark failed. Called with timing paused.
std::unique_ptr<ResultsDb> FreshRun(const std::string& path, benchmark::State& state) {
  RemoveDb(path);
  auto db = ResultsDb::Open(path);
  if (!db.ok() || !(*db)->BeginRun({"bench", "", 1, "r", {}}).ok()) {
    state.SkipWithError("cannot open the results database");
    return nullptr;
  }
  return std::move(*db);
}

// Probe round trips from `series` (node, peer) pairs, in time order.
std::vector<MetricSample> MakeSamples(int count, int series) {
  Random r(1);
  const int peers = 4;
  std::vector<MetricSample> samples;
  samples.reserve(count);
  for (int i = 0; i < count; ++i) {
    const int s = static_cast<int>(r.Uniform(series));
    samples.push_back({Time(Duration(int64_t(i) * 1'000'000)), NodeId(s / peers), "probe.rtt_ms",
                       r.Exponential(2.0), "peer=" + std::to_string(s % peers)});
  }
  return samples;
}

void BM_ResultsDbRecord(benchmark::State& state) {
  const auto samples = MakeSamples(kSamples, static_cast<int>(state.range(0)));
  const std::string path = TempPath("resultsdb.db");
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<ResultsDb> db = FreshRun(path, state);
    if (!db) break;
    state.ResumeTiming();
    for (const MetricSample& s : samples) db->Record(s);
    if (!db->EndRun(Time(Duration(kSamples))).ok() || !db->Close().ok()) {
      state.SkipWithError("recording failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.counters["bytes_per_sample"] =
      static_cast<double>(fs::file_size(path)) / static_cast<double>(kSamples);
  RemoveDb(path);
}
BENCHMARK(BM_ResultsDbRecord)->Arg(10)->Arg(1'000)->Arg(40'000)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_ResultsDbEvent(benchmark::State& state) {
  std::vector<EventRecord> events;
  for (int i = 0; i < kSamples; ++i) {
    events.push_back({Time(Duration(i)), NodeId(i % 1000), "probe.peer_state",
                      "peer=" + std::to_string(i % 7) + " state=alive missed=0"});
  }
  const std::string path = TempPath("events.db");
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<ResultsDb> db = FreshRun(path, state);
    if (!db) break;
    state.ResumeTiming();
    for (const EventRecord& e : events) db->Event(e);
    if (!db->Close().ok()) {
      state.SkipWithError("recording failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
  RemoveDb(path);
}
BENCHMARK(BM_ResultsDbEvent)->UseRealTime()->Unit(benchmark::kMillisecond);

sqlite3* OpenFlat(const std::string& path) {
  RemoveDb(path);
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db,
               "CREATE TABLE metrics (t_ns INTEGER, node INTEGER, name TEXT, value REAL, "
               "labels TEXT)",
               nullptr, nullptr, nullptr);
  return db;
}

void BM_FlatPreparedBatched(benchmark::State& state) {
  const auto samples = MakeSamples(kSamples, static_cast<int>(state.range(0)));
  const std::string path = TempPath("flat.db");
  for (auto _ : state) {
    state.PauseTiming();
    sqlite3* db = OpenFlat(path);
    sqlite3_exec(db, "PRAGMA synchronous = OFF", nullptr, nullptr, nullptr);
    state.ResumeTiming();
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", -1, &insert, nullptr);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (const MetricSample& s : samples) {
      sqlite3_reset(insert);
      sqlite3_bind_int64(insert, 1, ToNanos(s.time));
      sqlite3_bind_int64(insert, 2, s.node);
      sqlite3_bind_text(insert, 3, s.name.data(), int(s.name.size()), SQLITE_STATIC);
      sqlite3_bind_double(insert, 4, s.value);
      sqlite3_bind_text(insert, 5, s.labels.data(), int(s.labels.size()), SQLITE_STATIC);
      sqlite3_step(insert);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  state.SetItemsProcessed(state.iterations() * kSamples);
  state.counters["bytes_per_sample"] =
      static_cast<double>(fs::file_size(path)) / static_cast<double>(kSamples);
  RemoveDb(path);
}
BENCHMARK(BM_FlatPreparedBatched)->Arg(1'000)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_NaiveAutocommit(benchmark::State& state) {
  const auto samples = MakeSamples(kNaiveSamples, 1'000);
  const std::string path = TempPath("naive.db");
  for (auto _ : state) {
    state.PauseTiming();
    sqlite3* db = OpenFlat(path);
    state.ResumeTiming();
    char sql[512];
    for (const MetricSample& s : samples) {
      std::snprintf(sql, sizeof sql, "INSERT INTO metrics VALUES (%lld, %u, '%s', %.17g, '%s')",
                    static_cast<long long>(ToNanos(s.time)), s.node, s.name.c_str(), s.value,
                    s.labels.c_str());
      sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    }
    sqlite3_close(db);
  }
  state.SetItemsProcessed(state.iterations() * kNaiveSamples);
  RemoveDb(path);
}
BENCHMARK(BM_NaiveAutocommit)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace edgebed::results

BENCHMARK_MAIN();
