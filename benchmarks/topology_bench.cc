// Setting up an edge campus in ns-3: routes installed from the hierarchy
// (sim/edge_topology.h) against stock ns-3 global routing, the baseline, in
// the same run. The argument is the number of edge nodes (10 per floor,
// 10 floors per building).
#include <benchmark/benchmark.h>

#include "core/env/memory_sink.h"
#include "sim/edge_topology.h"
#include "sim/ns3_env.h"

namespace edgebed::sim {
namespace {

void BuildCampus(benchmark::State& state, Routing routing) {
  const int nodes = static_cast<int>(state.range(0));
  for (auto _ : state) {
    MemorySink sink;
    Ns3World world(1, sink);  // its destructor tears ns-3 down between iterations
    EdgeTopologySpec spec;
    spec.nodes_per_floor = 10;
    spec.floors_per_building = 10;
    spec.buildings = nodes / 100;
    spec.routing = routing;
    auto topo = EdgeTopology::Build(spec);
    if (!topo.ok()) state.SkipWithError(topo.status().ToString().c_str());
    benchmark::DoNotOptimize(topo);
  }
  state.counters["edge_nodes"] = nodes;
}

void BM_HierarchicalRoutes(benchmark::State& state) { BuildCampus(state, Routing::kTree); }
void BM_Ns3GlobalRouting(benchmark::State& state) { BuildCampus(state, Routing::kGlobal); }

BENCHMARK(BM_HierarchicalRoutes)->Arg(200)->Arg(1000)->Arg(2000)->Arg(10000)
    ->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Ns3GlobalRouting)->Arg(200)->Arg(1000)->Arg(2000)
    ->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace edgebed::sim

BENCHMARK_MAIN();
