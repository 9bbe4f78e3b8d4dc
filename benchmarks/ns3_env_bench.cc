// The cost of the ns-3 Env's message layer against stock ns-3 UDP sockets,
// in the same run. Both move the same bytes between two edge nodes of one
// floor as the same number of datagrams, paced the same way; the Env adds its
// envelope, chunking, reassembly and delivery to a port's receiver. The
// argument is the message size in bytes; 2,000 messages per iteration, and
// items_per_second counts messages delivered whole.
#include <benchmark/benchmark.h>

#include "core/env/memory_sink.h"
#include "sim/edge_topology.h"
#include "sim/ns3_env.h"

namespace edgebed::sim {
namespace {

constexpr int kMessages = 2000;
constexpr uint32_t kChunk = 1400;

// Messages leave at twice the time the 1 Gbit/s link needs for one, so
// neither side overflows a queue and both deliver every message.
ns3::Time Gap(size_t size) {
  return ns3::NanoSeconds(std::max<int64_t>(100'000, static_cast<int64_t>(size * 8 * 2)));
}

std::unique_ptr<EdgeTopology> TwoNodes() {
  EdgeTopologySpec spec;
  spec.buildings = 1;
  spec.floors_per_building = 1;
  spec.nodes_per_floor = 2;
  return std::move(*EdgeTopology::Build(spec));
}

void BM_Ns3EnvMessages(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  uint64_t delivered = 0;
  for (auto _ : state) {
    MemorySink sink;
    Ns3World world(1, sink);
    auto topo = TwoNodes();
    const NodeId a = world.AddNode(topo->edge_nodes()[0].node, topo->edge_nodes()[0].address);
    const NodeId b = world.AddNode(topo->edge_nodes()[1].node, topo->edge_nodes()[1].address);
    (void)world.env(b).Listen(1, [&](NodeId, ByteView m) { delivered += m.size() == size; });
    for (int i = 0; i < kMessages; ++i) {
      world.env(a).Schedule(Duration(Gap(size).GetNanoSeconds() * i),
                            [&world, a, b, size] { world.env(a).Send(b, 1, Bytes(size, 7)); });
    }
    world.RunFor(std::chrono::seconds(30));
  }
  state.SetItemsProcessed(static_cast<int64_t>(delivered));
  state.counters["delivered"] = static_cast<double>(delivered) / state.iterations();
}

void BM_StockNs3Udp(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  uint64_t delivered = 0;
  for (auto _ : state) {
    MemorySink sink;
    Ns3World world(1, sink);  // only to own and tear down the simulator
    auto topo = TwoNodes();
    auto tid = ns3::UdpSocketFactory::GetTypeId();
    ns3::Ptr<ns3::Socket> rx = ns3::Socket::CreateSocket(topo->edge_nodes()[1].node, tid);
    rx->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), 9100));
    uint64_t bytes = 0;
    rx->SetRecvCallback(ns3::MakeBoundCallback(
        +[](uint64_t* counter, ns3::Ptr<ns3::Socket> s) {
          while (ns3::Ptr<ns3::Packet> p = s->Recv()) {
            Bytes buffer(p->GetSize());
            p->CopyData(buffer.data(), p->GetSize());
            *counter += buffer.size();
          }
        },
        &bytes));
    ns3::Ptr<ns3::Socket> tx = ns3::Socket::CreateSocket(topo->edge_nodes()[0].node, tid);
    const ns3::InetSocketAddress to(topo->edge_nodes()[1].address, 9100);
    const double bps = topo->edge_nodes()[0].uplink_bps;
    for (int i = 0; i < kMessages; ++i) {
      ns3::Simulator::Schedule(Gap(size) * i, [tx, to, size, bps] {
        size_t left = size;
        double at = 0;
        do {
          const size_t n = std::min<size_t>(left, kChunk);
          ns3::Simulator::Schedule(ns3::Seconds(at), [tx, to, n] {
            Bytes payload(n, 7);
            tx->SendTo(ns3::Create<ns3::Packet>(payload.data(), n), 0, to);
          });
          at += static_cast<double>((n + 30) * 8) / bps;
          left -= n;
        } while (left > 0);
      });
    }
    ns3::Simulator::Stop(ns3::Seconds(30));
    ns3::Simulator::Run();
    delivered += bytes / size;
  }
  state.SetItemsProcessed(static_cast<int64_t>(delivered));
  state.counters["delivered"] = static_cast<double>(delivered) / state.iterations();
}

BENCHMARK(BM_Ns3EnvMessages)->Arg(100)->Arg(16 << 10)->Arg(256 << 10)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StockNs3Udp)->Arg(100)->Arg(16 << 10)->Arg(256 << 10)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace edgebed::sim

BENCHMARK_MAIN();
