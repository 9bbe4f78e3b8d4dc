#include "sim/link.h"

#include <algorithm>
#include <cmath>

#include <ns3/drop-tail-queue.h>
#include <ns3/net-device-queue-interface.h>

namespace edgebed::sim {

Status ValidateLinkProfile(const LinkProfile& profile) {
  if (Status s = profile.delay.Validate(); !s.ok()) return s.WithContext("delay");
  if (!std::isfinite(profile.bandwidth_bps) || profile.bandwidth_bps < 1) {
    return InvalidArgument("must be at least 1 bit per second", "bandwidth_bps");
  }
  if (!(profile.loss >= 0 && profile.loss <= 1)) {
    return InvalidArgument("must be between 0 and 1", "loss");
  }
  if (profile.queue_packets < 1) return InvalidArgument("must be at least 1", "queue_packets");
  return Status::Ok();
}

double Utilisation(const LinkCounters& start, const LinkCounters& end, Duration window) {
  if (window <= Duration::zero()) return 0;
  return std::chrono::duration<double>(end.busy - start.busy) /
         std::chrono::duration<double>(window);
}

// --- the channel -----------------------------------------------------------

NS_OBJECT_ENSURE_REGISTERED(ProfiledChannel);

ns3::TypeId ProfiledChannel::GetTypeId() {
  static ns3::TypeId tid = ns3::TypeId("edgebed::sim::ProfiledChannel")
                               .SetParent<ns3::PointToPointChannel>()
                               .SetGroupName("edgebed");
  return tid;
}

ProfiledChannel::ProfiledChannel(const LinkProfile& profile, uint64_t seed)
    : profile_(profile), wires_{Wire(MixSeed(seed, 0)), Wire(MixSeed(seed, 1))} {}

bool ProfiledChannel::TransmitStart(ns3::Ptr<const ns3::Packet> packet,
                                    ns3::Ptr<ns3::PointToPointNetDevice> src, ns3::Time tx_time) {
  const uint32_t wire = src == GetSource(0) ? 0 : 1;
  Wire& w = wires_[wire];
  ++w.counters.packets;
  w.counters.bytes += packet->GetSize();
  w.counters.busy += Duration(tx_time.GetNanoSeconds());
  // A lost packet still took its time on the wire, so the sender's device
  // is told the transmission went ahead (true) either way.
  if (!up_) {
    ++w.counters.dropped_down;
    return true;
  }
  if (w.random.Chance(profile_.loss)) {
    ++w.counters.dropped_loss;
    return true;
  }
  const int64_t now = ns3::Simulator::Now().GetNanoSeconds();
  const Duration delay = std::min(profile_.delay.Sample(w.random), kMaxDelay);
  int64_t arrival = now + tx_time.GetNanoSeconds() + delay.count() + extra_delay_.count();
  // Equal arrival times keep their order: ns-3 runs simultaneous events in
  // the order they were scheduled.
  if (!profile_.allow_reorder) arrival = std::max(arrival, w.last_arrival_ns);
  w.last_arrival_ns = std::max(arrival, w.last_arrival_ns);
  ns3::Ptr<ns3::PointToPointNetDevice> dst = GetDestination(wire);
  ns3::Simulator::ScheduleWithContext(dst->GetNode()->GetId(), ns3::NanoSeconds(arrival - now),
                                      &ProfiledChannel::Deliver, ns3::Ptr<ProfiledChannel>(this),
                                      wire, down_epoch_, packet->Copy());
  return true;
}

void ProfiledChannel::Deliver(uint32_t wire, uint64_t epoch, ns3::Ptr<ns3::Packet> packet) {
  Wire& w = wires_[wire];
  if (epoch != down_epoch_) {
    ++w.counters.dropped_down;
    return;
  }
  ++w.counters.delivered;
  GetDestination(wire)->Receive(packet);
}

void ProfiledChannel::SetUp(bool up) {
  if (up == up_) return;
  up_ = up;
  if (!up) {
    ++down_epoch_;
    // What was in flight is gone, so later packets need not queue behind it.
    const int64_t now = ns3::Simulator::Now().GetNanoSeconds();
    for (Wire& w : wires_) w.last_arrival_ns = now;
  }
}

void ProfiledChannel::SetExtraDelay(Duration extra) {
  extra_delay_ = std::clamp(extra, Duration::zero(), kMaxDelay);
}

// --- building links --------------------------------------------------------

StatusOr<ProfiledLink> Connect(ns3::Ptr<ns3::Node> a, ns3::Ptr<ns3::Node> b,
                               const LinkProfile& profile, uint64_t seed) {
  if (!a) return InvalidArgument("no node", "a");
  if (!b) return InvalidArgument("no node", "b");
  EDGEBED_RETURN_IF_ERROR(ValidateLinkProfile(profile));
  const ns3::DataRate rate(static_cast<uint64_t>(std::llround(profile.bandwidth_bps)));
  const ns3::QueueSize queue_size(ns3::QueueSizeUnit::PACKETS, profile.queue_packets);
  // The steps of PointToPointHelper::Install, with the values set directly.
  auto make_device = [&rate, &queue_size](ns3::Ptr<ns3::Node> node) {
    auto device = ns3::CreateObject<ns3::PointToPointNetDevice>();
    device->SetAddress(ns3::Mac48Address::Allocate());
    device->SetDataRate(rate);
    node->AddDevice(device);
    auto queue = ns3::CreateObject<ns3::DropTailQueue<ns3::Packet>>();
    queue->SetMaxSize(queue_size);
    device->SetQueue(queue);
    // Lets the traffic-control layer above hold packets back while the
    // device queue is full, as the helper's default does.
    auto queue_interface = ns3::CreateObject<ns3::NetDeviceQueueInterface>();
    queue_interface->GetTxQueue(0)->ConnectQueueTraces(queue);
    device->AggregateObject(queue_interface);
    return device;
  };
  ProfiledLink link;
  link.a = make_device(a);
  link.b = make_device(b);
  link.channel = ns3::CreateObject<ProfiledChannel>(profile, seed);
  link.a->Attach(link.channel);
  link.b->Attach(link.channel);
  return link;
}

}  // namespace edgebed::sim
