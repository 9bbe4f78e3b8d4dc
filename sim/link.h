// Profiled links: point-to-point links of an ns-3 topology that carry a
// scenario's LinkProfile (sim/scenario.h) — a one-way delay drawn per packet
// from its DelayDistribution (sim/delay.h), a bandwidth, a loss rate, a
// device queue — and take run-time faults: link down, latency spike.
//
//   StatusOr<ProfiledLink> link = Connect(gateway, cloud, scenario.profiles.at("wan"),
//                                         MixSeed(scenario.seed, link_number));
//   if (!link.ok()) return link.status();
//   link->channel->SetExtraDelay(200ms);  // a latency-spike fault
//
// What it promises:
// - Replay: every draw comes from the channel's own edgebed::Random, seeded at
//   construction with one stream per direction, never from ns-3's RNG or the
//   standard library's distributions. The same seed and the same traffic
//   give the same arrival times, byte for byte; traffic one way does not
//   change the draws of the other.
// - FIFO: unless the profile allows reordering, a packet never arrives before
//   one sent earlier in the same direction; jitter delays it instead.
// - Scale: Connect builds the devices and the channel directly, without
//   PointToPointHelper's attribute lookups, and a packet costs at most two
//   draws and one event. No IP address is assigned: the topology does that.
#pragma once

#include <cstdint>

#include <ns3/core-module.h>
#include <ns3/network-module.h>
#include <ns3/point-to-point-channel.h>
#include <ns3/point-to-point-net-device.h>

#include "core/base/status.h"
#include "core/env/env.h"
#include "core/env/random.h"
#include "sim/scenario.h"

namespace edgebed::sim {

// Counters of one direction of a link. Every packet the sender puts on the
// wire is counted in `packets`; it is then delivered, lost, dropped because
// the link is down, or still in flight.
struct LinkCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;         // of those packets, PPP header included
  Duration busy{};            // time spent serializing them at the link's rate
  uint64_t delivered = 0;
  uint64_t dropped_loss = 0;  // lost at the profile's loss rate
  uint64_t dropped_down = 0;  // sent while down, or in flight when it went down
};

// The fraction of `window` a direction spent transmitting, from its counters
// at the start and the end of the window: (end.busy - start.busy) / window.
double Utilisation(const LinkCounters& start, const LinkCounters& end, Duration window);

// OK if a link can realise `profile`; otherwise InvalidArgument naming the
// field: "delay.stddev", "bandwidth_bps", "loss", "queue_packets".
Status ValidateLinkProfile(const LinkProfile& profile);

// A PointToPointChannel that realises a LinkProfile. Direction 0 carries the
// packets of the first attached device (Connect's `a`) to the second.
// The TxRxPointToPoint trace (NetAnim's) does not fire.
class ProfiledChannel : public ns3::PointToPointChannel {
 public:
  // A drawn delay, and an extra delay, are capped here, so that a heavy
  // tail cannot overflow the simulator's clock.
  static constexpr Duration kMaxDelay = std::chrono::hours(1);

  static ns3::TypeId GetTypeId();

  // REQUIRES: ValidateLinkProfile(profile).ok(). Two channels built with the
  // same seed draw the same delays and losses for the same traffic.
  ProfiledChannel(const LinkProfile& profile, uint64_t seed);

  bool TransmitStart(ns3::Ptr<const ns3::Packet> packet,
                     ns3::Ptr<ns3::PointToPointNetDevice> src, ns3::Time tx_time) override;

  // Down drops every packet sent from now on and every packet in flight (a
  // cut cable loses what is on it); up carries packets again.
  void SetUp(bool up);
  bool IsUp() const { return up_; }

  // Added to the delay of every packet sent from now on; packets in flight
  // keep theirs. Zero ends the spike; a negative value counts as zero.
  void SetExtraDelay(Duration extra);
  Duration extra_delay() const { return extra_delay_; }

  const LinkProfile& profile() const { return profile_; }
  // REQUIRES: direction is 0 or 1.
  const LinkCounters& counters(int direction) const { return wires_[direction].counters; }

 private:
  struct Wire {
    explicit Wire(uint64_t seed) : random(seed) {}
    Random random;
    int64_t last_arrival_ns = 0;  // keeps a FIFO link FIFO under jitter
    LinkCounters counters;
  };

  void Deliver(uint32_t wire, uint64_t epoch, ns3::Ptr<ns3::Packet> packet);

  const LinkProfile profile_;
  Wire wires_[2];
  bool up_ = true;
  uint64_t down_epoch_ = 0;  // bumped by each going down; older packets are lost
  Duration extra_delay_{};
};

// The two devices of a link and the channel between them.
struct ProfiledLink {
  ns3::Ptr<ns3::PointToPointNetDevice> a;  // on node a
  ns3::Ptr<ns3::PointToPointNetDevice> b;  // on node b
  ns3::Ptr<ProfiledChannel> channel;
};

// Creates a device on each node (DataRate = the profile's bandwidth, a
// DropTail queue of queue_packets, a fresh MAC address, flow control as
// PointToPointHelper sets it up), joins them with a ProfiledChannel and adds
// them to their nodes. No IP address is assigned. Give each link its own
// seed, e.g. MixSeed(scenario seed, link number). An invalid profile gets
// the error of ValidateLinkProfile, and nothing is built.
StatusOr<ProfiledLink> Connect(ns3::Ptr<ns3::Node> a, ns3::Ptr<ns3::Node> b,
                               const LinkProfile& profile, uint64_t seed);

}  // namespace edgebed::sim
