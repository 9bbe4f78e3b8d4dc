#include "sim/link.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include <ns3/internet-module.h>

namespace edgebed::sim {
namespace {

using namespace std::chrono_literals;

double Ms(Duration d) { return ToMillis(d); }

// `n` draws, in milliseconds, sorted.
std::vector<double> Draws(const DelayDistribution& d, int n, uint64_t seed = 1) {
  Random random(seed);
  std::vector<double> out(n);
  for (double& x : out) x = Ms(d.Sample(random));
  std::sort(out.begin(), out.end());
  return out;
}

// Quantile q of sorted values, interpolating as DelayDistribution does.
double Quantile(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto i = static_cast<size_t>(position);
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (position - static_cast<double>(i)) * (sorted[i + 1] - sorted[i]);
}

double MeanOf(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double StddevOf(const std::vector<double>& v) {
  const double mean = MeanOf(v);
  double sum = 0;
  for (double x : v) sum += (x - mean) * (x - mean);
  return std::sqrt(sum / static_cast<double>(v.size() - 1));
}

constexpr int kDraws = 200'000;

// --- the distributions a link draws from (sim/delay.h) ----------------------

TEST(LinkDelay, ConstantIsConstant) {
  const auto d = DelayDistribution::Constant(3ms);
  const auto v = Draws(d, 100);
  EXPECT_EQ(v.front(), 3.0);
  EXPECT_EQ(v.back(), 3.0);
  EXPECT_EQ(d.Mean(), 3ms);
}

TEST(LinkDelay, NormalHasItsMeanAndStddev) {
  const auto d = DelayDistribution::Normal(10ms, 2ms);
  const auto v = Draws(d, kDraws);
  EXPECT_NEAR(MeanOf(v), 10.0, 0.05);
  EXPECT_NEAR(StddevOf(v), 2.0, 0.04);
  EXPECT_NEAR(Quantile(v, 0.5), 10.0, 0.05);
  EXPECT_NEAR(Quantile(v, 0.8413), 12.0, 0.06);  // mean + 1 stddev
}

TEST(LinkDelay, NormalIsNeverNegative) {
  const auto v = Draws(DelayDistribution::Normal(1ms, 2ms), kDraws);
  EXPECT_GE(v.front(), 0.0);
  EXPECT_GT(v.back(), 6.0);
}

TEST(LinkDelay, LogNormalHasItsMedianP99AndMean) {
  const auto d = DelayDistribution::LogNormal(2ms, 0.5);
  const auto v = Draws(d, kDraws);
  EXPECT_NEAR(Quantile(v, 0.5), 2.0, 0.03);
  EXPECT_NEAR(Quantile(v, 0.99), 2.0 * std::exp(2.3263 * 0.5), 0.15);
  EXPECT_NEAR(MeanOf(v), 2.0 * std::exp(0.125), 0.02);
  EXPECT_NEAR(Ms(d.Mean()), 2.0 * std::exp(0.125), 1e-3);
}

TEST(LinkDelay, ParetoStartsAtItsScaleAndHasItsMean) {
  const auto d = DelayDistribution::Pareto(1ms, 3.0);
  const auto v = Draws(d, kDraws);
  EXPECT_GE(v.front(), 1.0);
  EXPECT_NEAR(v.front(), 1.0, 0.001);
  EXPECT_NEAR(Quantile(v, 0.5), std::pow(2.0, 1.0 / 3), 0.01);
  EXPECT_NEAR(Quantile(v, 0.99), std::pow(100.0, 1.0 / 3), 0.15);
  EXPECT_NEAR(Ms(d.Mean()), 1.5, 1e-6);
  EXPECT_NEAR(MeanOf(v), 1.5, 0.02);
}

// One-way delays 5..25 ms in even steps: uniform on [5, 25] ms.
TEST(LinkDelay, EmpiricalInterpolatesBetweenItsSamples) {
  const auto d = DelayDistribution::Empirical({25ms, 5ms, 15ms, 10ms, 20ms});
  ASSERT_TRUE(d.Validate().ok());
  const auto v = Draws(d, kDraws);
  EXPECT_GE(v.front(), 5.0);
  EXPECT_LE(v.back(), 25.0);
  for (double q : {0.05, 0.25, 0.5, 0.75, 0.95}) {
    EXPECT_NEAR(Quantile(v, q), 5.0 + 20.0 * q, 0.15) << "q=" << q;
  }
  EXPECT_EQ(d.Mean(), 15ms);
}

// The shipped WAN table: it loads, its one-way delays sit around 10-20 ms,
// and draws follow its quantiles.
TEST(LinkDelay, EmpiricalFollowsTheShippedWanTable) {
  auto one_way = LoadRttCsv(std::string(EDGEBED_SOURCE_DIR) + "/scenarios/profiles/wan-rtt.csv");
  ASSERT_TRUE(one_way.ok()) << one_way.status().ToString();
  ASSERT_EQ(one_way->size(), 200u);
  std::vector<double> table;
  for (Duration d : *one_way) table.push_back(Ms(d));
  std::sort(table.begin(), table.end());
  EXPECT_GT(Quantile(table, 0.5), 10.0);
  EXPECT_LT(Quantile(table, 0.5), 20.0);
  EXPECT_GT(Quantile(table, 0.99), 2 * Quantile(table, 0.5)) << "the table should have a tail";

  const auto d = DelayDistribution::Empirical(*one_way);
  const auto v = Draws(d, kDraws, 11);
  for (double q : {0.01, 0.1, 0.5, 0.9}) {
    EXPECT_NEAR(Quantile(v, q), Quantile(table, q), 0.02 * Quantile(table, q)) << "q=" << q;
  }
  EXPECT_NEAR(Quantile(v, 0.99), Quantile(table, 0.99), 0.06 * Quantile(table, 0.99));
  EXPECT_NEAR(MeanOf(v), Ms(d.Mean()), 0.05);
}

TEST(LinkProfileCheck, NamesTheBadField) {
  LinkProfile p;
  EXPECT_TRUE(ValidateLinkProfile(p).ok());
  p.delay = DelayDistribution::Normal(1ms, -1ms);
  EXPECT_EQ(ValidateLinkProfile(p).where(), "delay.stddev");
  p = LinkProfile{};
  p.bandwidth_bps = 0;
  EXPECT_EQ(ValidateLinkProfile(p).where(), "bandwidth_bps");
  p = LinkProfile{};
  p.loss = 1.5;
  EXPECT_EQ(ValidateLinkProfile(p).where(), "loss");
  p.loss = NAN;
  EXPECT_EQ(ValidateLinkProfile(p).where(), "loss");
  p = LinkProfile{};
  p.queue_packets = 0;
  EXPECT_EQ(ValidateLinkProfile(p).where(), "queue_packets");
  EXPECT_EQ(ValidateLinkProfile(p).code(), StatusCode::kInvalidArgument);
}

// --- the channel on a two-node ns-3 link -----------------------------------

// Every ns-3 test ends by destroying the simulator's state, so the next one
// starts from time zero with no nodes.
class LinkTest : public ::testing::Test {
 protected:
  void TearDown() override { ns3::Simulator::Destroy(); }
};

int64_t NowNs() { return ns3::Simulator::Now().GetNanoSeconds(); }

struct Arrival {
  uint32_t seq;
  int64_t at_ns;
};

// Two bare nodes joined by a profiled link; packets carry a sequence number
// in their first four bytes and go straight to the devices (no IP stack).
class TwoNodes {
 public:
  TwoNodes(const LinkProfile& profile, uint64_t seed) {
    a_ = ns3::CreateObject<ns3::Node>();
    b_ = ns3::CreateObject<ns3::Node>();
    StatusOr<ProfiledLink> link = Connect(a_, b_, profile, seed);
    EXPECT_TRUE(link.ok()) << link.status().ToString();
    link_ = *link;
    // The callbacks hold no Ptr to their device: that would be a cycle.
    for (std::vector<Arrival>* log : {&at_a_, &at_b_}) {
      auto device = log == &at_b_ ? link_.b : link_.a;
      device->SetReceiveCallback(ns3::NetDevice::ReceiveCallback(
          [log](ns3::Ptr<ns3::NetDevice>, ns3::Ptr<const ns3::Packet> packet, uint16_t,
                const ns3::Address&) {
            uint32_t seq = 0;
            packet->CopyData(reinterpret_cast<uint8_t*>(&seq), sizeof seq);
            log->push_back({seq, NowNs()});
            return true;
          }));
    }
  }

  // Sends a packet of `size` bytes (PPP header not included) from a to b,
  // or from b to a, at simulated time `at`.
  void SendAt(Duration at, uint32_t seq, uint32_t size = 100, bool from_a = true) {
    ns3::Simulator::Schedule(ns3::NanoSeconds(at.count()), [this, seq, size, from_a] {
      std::vector<uint8_t> bytes(std::max<uint32_t>(size, sizeof seq));
      std::memcpy(bytes.data(), &seq, sizeof seq);
      auto from = from_a ? link_.a : link_.b;
      auto to = from_a ? link_.b : link_.a;
      from->Send(ns3::Create<ns3::Packet>(bytes.data(), static_cast<uint32_t>(bytes.size())),
                 to->GetAddress(), 0x0800);
    });
  }
  void At(Duration at, std::function<void()> fn) {
    ns3::Simulator::Schedule(ns3::NanoSeconds(at.count()), std::move(fn));
  }
  void Run() { ns3::Simulator::Run(); }

  ProfiledChannel& channel() { return *link_.channel; }
  const std::vector<Arrival>& at_b() const { return at_b_; }
  const std::vector<Arrival>& at_a() const { return at_a_; }

 private:
  ns3::Ptr<ns3::Node> a_, b_;
  ProfiledLink link_;
  std::vector<Arrival> at_b_, at_a_;
};

size_t Inversions(const std::vector<Arrival>& arrivals) {
  size_t n = 0;
  for (size_t i = 1; i < arrivals.size(); ++i) n += arrivals[i].seq < arrivals[i - 1].seq;
  return n;
}

LinkProfile Jittery(bool allow_reorder) {
  LinkProfile p;
  p.name = "jittery";
  p.delay = DelayDistribution::Normal(5ms, 3ms);  // far more jitter than packet spacing
  p.queue_packets = 1000;
  p.allow_reorder = allow_reorder;
  return p;
}

TEST_F(LinkTest, ConnectBuildsDevicesOnBothNodesWithTheProfile) {
  auto a = ns3::CreateObject<ns3::Node>();
  auto b = ns3::CreateObject<ns3::Node>();
  LinkProfile p;
  p.bandwidth_bps = 25e6;
  p.queue_packets = 7;
  auto link = Connect(a, b, p, 1);
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  EXPECT_EQ(a->GetNDevices(), 1u);
  EXPECT_EQ(b->GetNDevices(), 1u);
  EXPECT_EQ(link->a->GetNode(), a);
  EXPECT_EQ(link->b->GetNode(), b);
  EXPECT_EQ(link->a->GetChannel(), link->channel);
  EXPECT_EQ(link->channel->GetNDevices(), 2u);
  EXPECT_EQ(link->channel->GetPointToPointDevice(0), link->a);
  EXPECT_NE(link->a->GetAddress(), link->b->GetAddress());
  EXPECT_EQ(link->a->GetQueue()->GetMaxSize().GetValue(), 7u);
  ns3::DataRateValue rate;
  link->a->GetAttribute("DataRate", rate);
  EXPECT_EQ(rate.Get().GetBitRate(), 25'000'000u);
  EXPECT_EQ(link->channel->GetInstanceTypeId().GetName(), "edgebed::sim::ProfiledChannel");

  LinkProfile bad;
  bad.loss = -0.1;
  auto refused = Connect(a, b, bad, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().where(), "loss");
  EXPECT_FALSE(Connect(a, nullptr, p, 1).ok());
  EXPECT_EQ(a->GetNDevices(), 1u) << "nothing is built for a refused profile";
}

TEST_F(LinkTest, JitterNeverReordersAFifoLink) {
  TwoNodes net(Jittery(false), 42);
  for (uint32_t i = 0; i < 2000; ++i) net.SendAt(i * 20us, i);
  net.Run();
  ASSERT_EQ(net.at_b().size(), 2000u);
  EXPECT_EQ(Inversions(net.at_b()), 0u);
  for (uint32_t i = 0; i < 2000; ++i) ASSERT_EQ(net.at_b()[i].seq, i);
}

TEST_F(LinkTest, JitterReordersWhenTheProfileAllowsIt) {
  TwoNodes net(Jittery(true), 42);
  for (uint32_t i = 0; i < 2000; ++i) net.SendAt(i * 20us, i);
  net.Run();
  ASSERT_EQ(net.at_b().size(), 2000u);
  EXPECT_GT(Inversions(net.at_b()), 100u);
}

TEST_F(LinkTest, LosesPacketsAtTheProfilesRate) {
  LinkProfile p;
  p.delay = DelayDistribution::Constant(1ms);
  p.loss = 0.1;
  p.queue_packets = 1000;
  TwoNodes net(p, 9);
  constexpr uint32_t kPackets = 20'000;
  for (uint32_t i = 0; i < kPackets; ++i) net.SendAt(i * 10us, i);
  net.Run();
  const LinkCounters& c = net.channel().counters(0);
  EXPECT_EQ(c.packets, kPackets);
  EXPECT_EQ(c.delivered, net.at_b().size());
  EXPECT_EQ(c.delivered + c.dropped_loss, c.packets);
  EXPECT_EQ(c.dropped_down, 0u);
  EXPECT_NEAR(static_cast<double>(c.dropped_loss) / kPackets, 0.1, 0.01);
  EXPECT_EQ(net.channel().counters(1).packets, 0u);
}

TEST_F(LinkTest, DownDropsEverythingIncludingPacketsInFlightAndUpRestores) {
  LinkProfile p;
  p.delay = DelayDistribution::Constant(10ms);
  TwoNodes net(p, 1);
  net.SendAt(0ms, 0);  // in flight when the link goes down
  net.At(5ms, [&net] { net.channel().SetUp(false); });
  net.SendAt(20ms, 1);
  net.SendAt(21ms, 2, 100, /*from_a=*/false);
  net.At(30ms, [&net] { net.channel().SetUp(true); });
  net.SendAt(40ms, 3);
  net.SendAt(41ms, 4, 100, /*from_a=*/false);
  net.Run();
  ASSERT_EQ(net.at_b().size(), 1u);
  EXPECT_EQ(net.at_b()[0].seq, 3u);
  ASSERT_EQ(net.at_a().size(), 1u);
  EXPECT_EQ(net.at_a()[0].seq, 4u);
  EXPECT_EQ(net.channel().counters(0).dropped_down, 2u);
  EXPECT_EQ(net.channel().counters(1).dropped_down, 1u);
  EXPECT_EQ(net.channel().counters(0).delivered, 1u);
  EXPECT_TRUE(net.channel().IsUp());
}

TEST_F(LinkTest, ExtraDelayShiftsArrivalsWhileItLasts) {
  LinkProfile p;
  p.delay = DelayDistribution::Constant(1ms);
  TwoNodes net(p, 1);
  net.SendAt(0ms, 0);
  net.At(5ms, [&net] { net.channel().SetExtraDelay(50ms); });
  net.SendAt(10ms, 1);
  net.At(90ms, [&net] { net.channel().SetExtraDelay(0ms); });
  net.SendAt(100ms, 2);
  net.Run();
  ASSERT_EQ(net.at_b().size(), 3u);
  const int64_t base = net.at_b()[0].at_ns;  // 1 ms plus serialization
  EXPECT_EQ(net.at_b()[1].at_ns - 10'000'000, base + 50'000'000);
  EXPECT_EQ(net.at_b()[2].at_ns - 100'000'000, base);
}

// A tail without a finite mean: draws are capped, so the clock never overflows.
TEST_F(LinkTest, HeavyTailIsCappedOnTheClock) {
  LinkProfile p;
  p.delay = DelayDistribution::Pareto(1ms, 0.05);
  p.allow_reorder = true;
  TwoNodes net(p, 5);
  for (uint32_t i = 0; i < 500; ++i) net.SendAt(i * 1ms, i);
  net.Run();
  ASSERT_EQ(net.at_b().size(), 500u);
  int64_t capped = 0;
  for (const Arrival& arrival : net.at_b()) {
    const int64_t sent = int64_t{arrival.seq} * 1'000'000;
    ASSERT_GE(arrival.at_ns - sent, 1'000'000);
    ASSERT_LE(arrival.at_ns - sent, ProfiledChannel::kMaxDelay.count() + 1'000'000);
    capped += arrival.at_ns - sent > ProfiledChannel::kMaxDelay.count();
  }
  EXPECT_GT(capped, 100);  // P(delay > 1 h) = (1 ms / 1 h)^0.05, about 0.44
}

// A whole run, then the simulator's state is gone: arrival times of 500
// packets over a lossy, jittery link.
std::vector<Arrival> ArrivalsOfARun(uint64_t seed) {
  LinkProfile p;
  p.delay = DelayDistribution::LogNormal(3ms, 0.6);
  p.loss = 0.05;
  p.allow_reorder = true;
  std::vector<Arrival> arrivals;
  {
    TwoNodes net(p, seed);
    for (uint32_t i = 0; i < 500; ++i) net.SendAt(i * 100us, i);
    net.Run();
    arrivals = net.at_b();
  }
  ns3::Simulator::Destroy();
  return arrivals;
}

TEST_F(LinkTest, SameSeedReplaysArrivalsExactly) {
  const auto first = ArrivalsOfARun(7);
  const auto again = ArrivalsOfARun(7);
  const auto other = ArrivalsOfARun(8);
  ASSERT_EQ(first.size(), again.size());
  for (size_t i = 0; i < first.size(); ++i) {
    ASSERT_EQ(first[i].seq, again[i].seq);
    ASSERT_EQ(first[i].at_ns, again[i].at_ns);
  }
  bool differs = first.size() != other.size();
  for (size_t i = 0; !differs && i < first.size(); ++i) {
    differs = first[i].seq != other[i].seq || first[i].at_ns != other[i].at_ns;
  }
  EXPECT_TRUE(differs);
}

TEST_F(LinkTest, BandwidthShowsInSerializationDelay) {
  LinkProfile p;
  p.delay = DelayDistribution::Constant(1ms);
  p.bandwidth_bps = 8e6;  // one byte a microsecond
  TwoNodes net(p, 1);
  // 998 bytes of payload and the 2-byte PPP header: 1 ms on the wire.
  net.SendAt(0ms, 0, 998);
  // Ten back to back: the sender's device spaces them by 1 ms.
  for (uint32_t i = 1; i <= 10; ++i) net.SendAt(10ms, i, 998);
  net.Run();
  ASSERT_EQ(net.at_b().size(), 11u);
  EXPECT_EQ(net.at_b()[0].at_ns, 2'000'000);
  for (uint32_t i = 1; i <= 10; ++i) {
    EXPECT_EQ(net.at_b()[i].at_ns, 10'000'000 + 1'000'000 + int64_t{i} * 1'000'000) << i;
  }
  const LinkCounters& c = net.channel().counters(0);
  EXPECT_EQ(c.bytes, 11'000u);
  EXPECT_EQ(c.busy, 11ms);
  LinkCounters start;
  EXPECT_DOUBLE_EQ(Utilisation(start, c, 22ms), 0.5);
}

// With an IPv4 stack and UDP sockets, addresses set as the topology sets them.
TEST_F(LinkTest, CarriesUdpInOrderBetweenIpv4Nodes) {
  ns3::NodeContainer nodes;
  nodes.Create(2);
  ns3::InternetStackHelper stack;
  stack.SetIpv6StackInstall(false);
  stack.Install(nodes);
  auto link = Connect(nodes.Get(0), nodes.Get(1), Jittery(false), 3);
  ASSERT_TRUE(link.ok());
  ns3::Ipv4Address addresses[2];
  for (int i = 0; i < 2; ++i) {
    auto device = i == 0 ? link->a : link->b;
    auto ipv4 = device->GetNode()->GetObject<ns3::Ipv4>();
    const auto interface = static_cast<uint32_t>(ipv4->AddInterface(device));
    addresses[i] = ns3::Ipv4Address(ns3::Ipv4Address("10.0.0.0").Get() + 1 + i);
    ipv4->AddAddress(interface,
                     ns3::Ipv4InterfaceAddress(addresses[i], ns3::Ipv4Mask("255.255.255.252")));
    ipv4->SetUp(interface);
  }
  auto receiver = ns3::Socket::CreateSocket(nodes.Get(1), ns3::UdpSocketFactory::GetTypeId());
  receiver->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), 9));
  std::vector<uint32_t> received;
  receiver->SetRecvCallback(ns3::Callback<void, ns3::Ptr<ns3::Socket>>(
      [&received](ns3::Ptr<ns3::Socket> socket) {
        while (auto packet = socket->Recv()) {
          uint32_t seq = 0;
          packet->CopyData(reinterpret_cast<uint8_t*>(&seq), sizeof seq);
          received.push_back(seq);
        }
      }));
  auto sender = ns3::Socket::CreateSocket(nodes.Get(0), ns3::UdpSocketFactory::GetTypeId());
  for (uint32_t i = 0; i < 200; ++i) {
    ns3::Simulator::Schedule(ns3::MicroSeconds(50 * i), [sender, i, &addresses] {
      sender->SendTo(ns3::Create<ns3::Packet>(reinterpret_cast<const uint8_t*>(&i), sizeof i), 0,
                     ns3::InetSocketAddress(addresses[1], 9));
    });
  }
  ns3::Simulator::Run();
  ASSERT_EQ(received.size(), 200u);
  for (uint32_t i = 0; i < 200; ++i) ASSERT_EQ(received[i], i);
  EXPECT_EQ(link->channel->counters(0).delivered, 200u);
}

}  // namespace
}  // namespace edgebed::sim
