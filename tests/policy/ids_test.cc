// Intrusion detection: scans and sweeps are caught once per episode and
// background traffic is not; a workload's learned profile flags
// exfiltration and stays quiet on more of its normal traffic.
#include "core/policy/ids.h"

#include <gtest/gtest.h>

#include "core/env/memory_sink.h"
#include "core/env/random.h"

namespace edgebed::policy {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kNet = 0x0a2a0000;  // 10.42.0.0/16

Time At(Duration d) { return Time{} + d; }

FlowRecord Flow(Time t, uint32_t src, uint32_t dst, uint16_t port) {
  FlowRecord f;
  f.time = t;
  f.src = src;
  f.dst = dst;
  f.dst_port = port;
  f.bytes = 500;
  return f;
}

// A minute of a building's ordinary traffic: many clients, each talking to a
// few servers on a few service ports.
void Background(IntrusionDetector& ids, Random& r, Time from, Duration length) {
  static const uint16_t kServices[] = {53, 443, 1883, 5432, 8500};
  for (Duration t = 0s; t < length; t += 10ms) {
    const uint32_t client = kNet | static_cast<uint32_t>(100 + r.Uniform(400));
    const uint32_t server = kNet | static_cast<uint32_t>(1 + r.Uniform(10));
    ids.Observe(Flow(from + t, client, server, kServices[r.Uniform(5)]));
  }
}

TEST(ChiSquare, QuantilesMatchTheTables) {
  EXPECT_NEAR(ChiSquareQuantile(6, 0.999), 22.458, 0.001);
  EXPECT_NEAR(ChiSquareQuantile(10, 0.99), 23.209, 0.001);
  EXPECT_NEAR(ChiSquareQuantile(2, 0.95), 5.991, 0.001);
  EXPECT_NEAR(ChiSquareQuantile(30, 0.5), 29.336, 0.001);
  EXPECT_NEAR(ChiSquareQuantile(1, 0.999), 10.828, 0.001);
}

TEST(Ids, BackgroundTrafficRaisesNothing) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Random r(seed);
    IntrusionDetector ids(IdsOptions{});
    Background(ids, r, At(0s), 300s);
    EXPECT_TRUE(ids.alerts().empty()) << "seed " << seed << ": " << ids.alerts()[0].kind << " "
                                      << ids.alerts()[0].evidence;
  }
}

TEST(Ids, APortScanIsCaughtOnceWithItsEvidence) {
  Random r(1);
  MemorySink sink;
  IntrusionDetector ids(IdsOptions{}, &sink);
  Background(ids, r, At(0s), 30s);
  const uint32_t scanner = kNet | 999, target = kNet | 3;
  for (uint16_t port = 1; port <= 200; ++port) {
    ids.Observe(Flow(At(30s + port * 50ms), scanner, target, port));
  }
  Background(ids, r, At(40s), 20s);
  ASSERT_EQ(ids.alerts().size(), 1u);
  const IdsAlert& a = ids.alerts()[0];
  EXPECT_EQ(a.kind, "port_scan");
  EXPECT_EQ(a.subject, "10.42.3.231");
  EXPECT_EQ(a.evidence, "target=10.42.0.3 ports=20 window_s=60 first_ports=1,2,3,4,5,6,7,8");
  EXPECT_EQ(a.time, At(30s + 20 * 50ms));  // as soon as the threshold is crossed
  ASSERT_EQ(sink.EventsOfKind("policy.ids_alert").size(), 1u);
  EXPECT_EQ(sink.events()[0].detail, "kind=port_scan subject=10.42.3.231 " + a.evidence);
}

TEST(Ids, AnIpSweepIsCaught) {
  Random r(2);
  IntrusionDetector ids(IdsOptions{});
  Background(ids, r, At(0s), 10s);
  const uint32_t scanner = kNet | 777;
  for (uint32_t host = 1; host <= 60; ++host) {
    ids.Observe(Flow(At(10s + host * 100ms), scanner, kNet | (2000 + host), 22));
  }
  ASSERT_EQ(ids.alerts().size(), 1u);
  EXPECT_EQ(ids.alerts()[0].kind, "ip_sweep");
  EXPECT_EQ(ids.alerts()[0].evidence.substr(0, 27), "port=22 hosts=20 window_s=6");
}

TEST(Ids, AScannerIsReportedAgainOnlyAfterAQuietSpell) {
  IntrusionDetector ids(IdsOptions{});
  const uint32_t scanner = kNet | 999, target = kNet | 3;
  // Two minutes of continuous scanning: one episode.
  for (int i = 0; i < 1200; ++i) {
    ids.Observe(Flow(At(i * 100ms), scanner, target, static_cast<uint16_t>(1 + i % 1000)));
  }
  EXPECT_EQ(ids.alerts().size(), 1u);
  // Quiet for two windows, then again: a second episode.
  for (int i = 0; i < 100; ++i) {
    ids.Observe(Flow(At(300s + i * 100ms), scanner, target, static_cast<uint16_t>(1 + i)));
  }
  EXPECT_EQ(ids.alerts().size(), 2u);
}

TEST(Ids, TrackedSourcesAreBounded) {
  IdsOptions options;
  options.max_tracked_sources = 1000;
  IntrusionDetector ids(options);
  for (uint32_t i = 0; i < 100000; ++i) ids.Observe(Flow(At(i * 1ms), 0x0b000000u + i, kNet | 1, 80));
  EXPECT_LE(ids.tracked_sources(), 1000u);
  EXPECT_TRUE(ids.alerts().empty());
}

// A sensor gateway: about ten MQTT publishes to the broker per 10 s window.
void SensorWindow(IntrusionDetector& ids, Random& r, Time start) {
  const int publishes = static_cast<int>(6 + r.Uniform(9));
  for (int i = 0; i < publishes; ++i) {
    FlowRecord f = Flow(start + i * 600ms, kNet | 20, kNet | 5, 1883);
    f.bytes = static_cast<uint64_t>(800 + r.Uniform(400));
    f.workload = "floor-1/sensor-gateway";
    ids.Observe(f);
  }
}

TEST(Ids, AProfileFlagsExfiltrationAndNotMoreOfTheSame) {
  size_t false_alarms = 0, windows = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    Random r(seed);
    IntrusionDetector ids(IdsOptions{});
    Duration t = 0s;
    // 30 windows of training, then 60 of more of the same.
    for (int w = 0; w < 90; ++w, t += 10s) SensorWindow(ids, r, At(t));
    ids.Tick(At(t));
    false_alarms += ids.alerts().size();
    windows += 60;
    // Then the gateway uploads to 25 addresses outside.
    for (int i = 0; i < 25; ++i) {
      FlowRecord f = Flow(At(t + i * 200ms), kNet | 20, 0xc6336400u + static_cast<uint32_t>(i), 443);
      f.bytes = 50'000'000;
      f.external = true;
      f.workload = "floor-1/sensor-gateway";
      ids.Observe(f);
    }
    SensorWindow(ids, r, At(t + 5s));
    ids.Tick(At(t + 10s));
    ASSERT_FALSE(ids.alerts().empty()) << "seed " << seed;
    const IdsAlert& a = ids.alerts().back();
    EXPECT_EQ(a.kind, "profile_anomaly");
    EXPECT_EQ(a.subject, "floor-1/sensor-gateway");
    EXPECT_EQ(a.time, At(t + 10s));
    EXPECT_NE(a.evidence.find("threshold=22.46"), std::string::npos) << a.evidence;
    EXPECT_NE(a.evidence.find("feature="), std::string::npos) << a.evidence;
  }
  // At 99.9% confidence, about one window in a thousand is a false alarm.
  EXPECT_LE(false_alarms, 2u) << "of " << windows << " normal windows";
}

}  // namespace
}  // namespace edgebed::policy
