#include "sim/pod_network.h"

#include "core/wire/codec.h"

namespace edgebed::sim {
namespace {

constexpr uint16_t kMagic = 0xEB90;
constexpr uint8_t kVersion = 1;
constexpr int kSynAttempts = 4;  // the first and three retries: 1 s, 2 s, 4 s
constexpr size_t kMaxWaiting = 1024;  // messages queued on a connection being opened
constexpr Duration kUdpTranslationIdle = std::chrono::seconds(30);  // nf_conntrack_udp_timeout
constexpr Duration kForwardIdle = std::chrono::minutes(10);         // a forwarded flow's entry, unused
constexpr uint16_t kMasqueradeFirstPort = 32768;                    // Linux's ephemeral range

uint32_t BindingKey(uint16_t port, uint8_t protocol) { return uint32_t{port} << 8 | protocol; }

}  // namespace

PodNetwork::PodNetwork(Env& env, PodRouter& router, std::function<policy::Dataplane*()> dataplane)
    : env_(env), router_(router), dataplane_(std::move(dataplane)) {
  (void)env_.Listen(kPodTrafficPort, [this](NodeId from, ByteView frame) { OnFrame(from, frame); });
}

PodNetwork::~PodNetwork() {
  env_.Unlisten(kPodTrafficPort);
  for (auto& [key, c] : connections_) env_.Cancel(c.retry);
  env_.Cancel(ids_timer_);
}

void PodNetwork::Bind(uint32_t ip, uint16_t port, uint8_t protocol, Handler handler) {
  bindings_[{ip, BindingKey(port, protocol)}] = std::move(handler);
}

void PodNetwork::set_services(std::function<const policy::ServiceTable*()> services, std::string node_name,
                              std::function<uint32_t()> node_address) {
  services_ = std::move(services);
  proxy_ = std::make_unique<policy::ServiceProxy>(std::move(node_name));
  node_address_ = std::move(node_address);
}

bool PodNetwork::Translate(const FlowKey& key, uint8_t protocol, FlowKey* wire) {
  *wire = key;
  const policy::ServiceTable* table = services_ ? services_() : nullptr;
  if (!table) return true;
  const policy::ServiceProxy::Translation t = proxy_->Translate(
      *table, policy::ServiceProxy::Flow{key.src_ip, key.dst_ip, key.dst_port, protocol}, false, env_.random(),
      env_.now());
  if (t.outcome == policy::ServiceProxy::kNotAService) return true;
  if (t.outcome == policy::ServiceProxy::kNoEndpoints) {
    ++stats_.service_rejects;
    return false;
  }
  ++stats_.service_flows;
  *wire = FlowKey{key.src_ip, t.ip, key.src_port, t.port};
  translated_[*wire] = key;
  return true;
}

PodNetwork::FlowKey PodNetwork::Original(const FlowKey& wire) const {
  auto it = translated_.find(wire);
  return it == translated_.end() ? wire : it->second;
}

void PodNetwork::ForgetTranslation(const FlowKey& wire) { translated_.erase(wire); }

void PodNetwork::Unbind(uint32_t ip) {
  bindings_.erase(bindings_.lower_bound({ip, 0}), bindings_.lower_bound({ip + 1, 0}));
  failure_handlers_.erase(failure_handlers_.lower_bound({ip, 0}), failure_handlers_.lower_bound({ip + 1, 0}));
  workloads_.erase(ip);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->first.src_ip == ip) {
      env_.Cancel(it->second.retry);
      ForgetTranslation(it->second.wire);
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = udp_translations_.begin(); it != udp_translations_.end();) {
    if (it->first.src_ip == ip) {
      ForgetTranslation(it->second.wire);
      it = udp_translations_.erase(it);
    } else {
      ++it;
    }
  }
}

void PodNetwork::OnFailure(uint32_t ip, uint16_t port, FailureHandler handler) {
  failure_handlers_[{ip, port}] = std::move(handler);
}

void PodNetwork::EnableIds(policy::IdsOptions options) {
  ids_tick_ = options.profile_window;
  ids_ = std::make_unique<policy::IntrusionDetector>(options, &ids_sink_);
  ids_timer_ = env_.Schedule(ids_tick_, [this] { TickIds(); });
}

void PodNetwork::TickIds() {
  ids_->Tick(env_.now());
  ids_timer_ = env_.Schedule(ids_tick_, [this] { TickIds(); });
}

bool PodNetwork::Pass(const policy::Packet& packet, bool at_egress, uint64_t bytes) {
  policy::Dataplane* dp = dataplane_ ? dataplane_() : nullptr;
  if (!dp) return true;
  const policy::Dataplane::Result r = dp->Process(packet, env_.now());
  const bool new_flow = r.path == policy::Dataplane::Path::kNew;
  if (new_flow) {
    ++(r.allowed ? stats_.flows_allowed : stats_.flows_denied);
    if (ids_) {
      policy::FlowRecord flow;
      flow.time = env_.now();
      flow.src = packet.src;
      flow.dst = packet.dst;
      flow.protocol = packet.protocol;
      flow.dst_port = packet.dst_port;
      flow.bytes = bytes;
      flow.allowed = r.allowed;
      auto local = workloads_.find(at_egress ? packet.src : packet.dst);
      if (local != workloads_.end()) flow.workload = local->second;
      ids_->Observe(flow);
    }
  }
  if (!r.allowed) {
    ++stats_.denied_packets;
    // Both ends on this node are judged in one pass, at egress: the verdict
    // says which end refused.
    if (new_flow && deny_observer_) deny_observer_(packet, at_egress && !r.verdict.egress.allowed, r.verdict);
  }
  return r.allowed;
}

void PodNetwork::Send(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port, uint8_t protocol,
                      Bytes payload) {
  const FlowKey key{src_ip, dst_ip, src_port, dst_port};
  if (protocol != policy::kTcp) {
    // Conntrack keeps a UDP flow's translation while it is not silent for long.
    auto u = udp_translations_.find(key);
    if (u != udp_translations_.end() && env_.now() - u->second.last >= kUdpTranslationIdle) {
      ForgetTranslation(u->second.wire);
      udp_translations_.erase(u);
      u = udp_translations_.end();
    }
    FlowKey wire = key;
    if (u != udp_translations_.end()) {
      wire = u->second.wire;
      u->second.last = env_.now();
    } else {
      if (!Translate(key, protocol, &wire)) return;  // dropped, as the REJECT rule's ICMP error is by UDP senders
      if (wire.dst_ip != key.dst_ip || wire.dst_port != key.dst_port) udp_translations_[key] = UdpTranslation{wire, env_.now()};
    }
    Transmit(FrameType::kDatagram, wire, protocol, ByteView(payload));
    return;
  }
  auto [it, inserted] = connections_.try_emplace(key);
  Connection& c = it->second;
  if (inserted && !Translate(key, protocol, &c.wire)) {
    Fail(key, /*reset=*/true);  // refused by the node's own proxy
    return;
  }
  if (c.established) {
    Transmit(FrameType::kData, c.wire, protocol, ByteView(payload));
    return;
  }
  if (c.waiting.size() < kMaxWaiting) c.waiting.push_back(std::move(payload));
  if (inserted) SendSyn(key);
}

void PodNetwork::Reply(const Message& to, Bytes payload) {
  const FlowKey back{to.dst_ip, to.src_ip, to.dst_port, to.src_port};
  Transmit(to.protocol == policy::kTcp ? FrameType::kData : FrameType::kDatagram, back, to.protocol,
           ByteView(payload));
}

void PodNetwork::SendSyn(const FlowKey& key) {
  Connection& c = connections_.at(key);
  ++c.attempts;
  Transmit(FrameType::kSyn, FlowKey(c.wire), policy::kTcp, {});
  // A pod of this node answers within Transmit: the connection may be
  // established, or reset and gone (its failure handler may even have
  // opened it again, with a timer of its own), by now.
  auto it = connections_.find(key);
  if (it == connections_.end() || it->second.established || it->second.retry != kNoTimer) return;
  const Duration wait = std::chrono::seconds(1) * (1 << (it->second.attempts - 1));
  it->second.retry = env_.Schedule(wait, [this, key] {
    auto it = connections_.find(key);
    if (it == connections_.end() || it->second.established) return;
    it->second.retry = kNoTimer;
    if (it->second.attempts >= kSynAttempts) {
      Fail(key, /*reset=*/false);
    } else {
      SendSyn(key);
    }
  });
}

void PodNetwork::Fail(const FlowKey& key, bool reset) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  env_.Cancel(it->second.retry);
  ForgetTranslation(it->second.wire);
  connections_.erase(it);
  ++(reset ? stats_.resets : stats_.connect_failures);
  auto handler = failure_handlers_.find({key.src_ip, key.src_port});
  if (handler != failure_handlers_.end()) {
    FailureHandler fn = handler->second;  // it may unbind
    fn(key.dst_ip, key.dst_port);
  }
}

// What the dataplane sees of a frame: the flow and the TCP flags of its type.
policy::Packet PodNetwork::PacketOf(FrameType type, const FlowKey& key, uint8_t protocol) {
  policy::Packet packet;
  packet.src = key.src_ip;
  packet.dst = key.dst_ip;
  packet.src_port = key.src_port;
  packet.dst_port = key.dst_port;
  packet.protocol = protocol;
  packet.tcp_flags = type == FrameType::kSyn      ? policy::kSyn
                     : type == FrameType::kSynAck ? (policy::kSyn | policy::kAck)
                     : type == FrameType::kRst    ? (policy::kRst | policy::kAck)
                                                  : policy::kAck;
  return packet;
}

// Egress: through this node's dataplane, then to the node holding the
// destination (itself included, without a second pass: one dataplane judged
// both ends).
void PodNetwork::Transmit(FrameType type, const FlowKey& sent, uint8_t protocol, ByteView payload) {
  // A local pod's answer on a node-port flow this node forwarded: conntrack
  // turns it back towards the client, as the node sees it leave the pod.
  FlowKey key = sent;
  if (!forwards_.empty())
    if (auto f = forwards_.find(sent); f != forwards_.end()) {
      f->second.last = env_.now();
      key = f->second.out;
    }
  const policy::Packet packet = PacketOf(type, key, protocol);
  ++stats_.sent;
  if (!Pass(packet, /*at_egress=*/true, payload.size())) return;
  const NodeId to = router_.NodeOf(key.dst_ip);
  if (to == kNoNode) {
    ++stats_.no_route;
    return;
  }
  if (to == env_.self()) {
    Arrive(type, key, protocol, payload);
    return;
  }
  wire::Writer w;
  wire::WriteHeader(w, {kMagic, kVersion, static_cast<uint8_t>(type)});
  w.PutU32(key.src_ip);
  w.PutU32(key.dst_ip);
  w.PutU16(key.src_port);
  w.PutU16(key.dst_port);
  w.PutU8(protocol);
  w.PutRaw(payload);
  env_.Send(to, kPodTrafficPort, std::move(w).Finish());
}

void PodNetwork::OnFrame(NodeId, ByteView frame) {
  wire::Reader r(frame);
  wire::Header h;
  FlowKey key{};
  uint8_t protocol = 0;
  if (!wire::ReadHeader(r, kMagic, kVersion, &h).ok() || h.type < 1 || h.type > 5 || !r.GetU32(&key.src_ip).ok() ||
      !r.GetU32(&key.dst_ip).ok() || !r.GetU16(&key.src_port).ok() || !r.GetU16(&key.dst_port).ok() ||
      !r.GetU8(&protocol).ok()) {
    ++stats_.bad_frames;
    return;
  }
  ByteView payload;
  (void)r.GetRaw(r.remaining(), &payload);
  const auto type = static_cast<FrameType>(h.type);
  const policy::Packet packet = PacketOf(type, key, protocol);
  if (!Pass(packet, /*at_egress=*/false, payload.size())) return;
  Arrive(type, key, protocol, payload);
}

// A frame that both dataplanes let through reaches the local stack.
void PodNetwork::Arrive(FrameType type, const FlowKey& key, uint8_t protocol, ByteView payload) {
  if (node_address_ && key.dst_ip != 0 && key.dst_ip == node_address_()) return ArriveAtNode(type, key, protocol, payload);
  const FlowKey back{key.dst_ip, key.src_ip, key.dst_port, key.src_port};
  switch (type) {
    case FrameType::kSyn: {
      const bool listening = bindings_.count({key.dst_ip, BindingKey(key.dst_port, protocol)}) > 0;
      Transmit(listening ? FrameType::kSynAck : FrameType::kRst, back, protocol, {});
      if (!listening) ++stats_.unbound;
      return;
    }
    case FrameType::kSynAck: {
      auto it = connections_.find(Original(back));
      if (it == connections_.end() || it->second.established) return;
      Connection& c = it->second;
      env_.Cancel(c.retry);
      c.retry = kNoTimer;
      c.established = true;
      std::vector<Bytes> waiting = std::move(c.waiting);
      for (Bytes& m : waiting) Transmit(FrameType::kData, back, protocol, ByteView(m));
      return;
    }
    case FrameType::kRst:
      Fail(Original(back), /*reset=*/true);
      return;
    case FrameType::kData:
    case FrameType::kDatagram: {
      auto it = bindings_.find({key.dst_ip, BindingKey(key.dst_port, protocol)});
      if (it == bindings_.end()) {
        ++stats_.unbound;
        // A segment for a connection nobody holds any more: reset it.
        if (type == FrameType::kData) Transmit(FrameType::kRst, back, protocol, {});
        return;
      }
      ++stats_.delivered;
      Handler handler = it->second;  // it may unbind
      // An answer from a service's pod comes from the service's address.
      const FlowKey sent = Original(back);
      handler(Message{sent.dst_ip, key.dst_ip, sent.dst_port, key.dst_port, protocol, payload});
      return;
    }
  }
}

}  // namespace edgebed::sim

namespace edgebed::sim {

// The node-port rules of this node: a new flow to one of its node ports is
// translated to a pod (and, with externalTrafficPolicy Cluster, given this
// node's address and a port of its own as the source), remembered in both
// directions, and forwarded; the pod's answers come back here and go on to
// the client from the node port. Anything else to the node's address finds
// nothing listening.
void PodNetwork::ArriveAtNode(FrameType type, const FlowKey& key, uint8_t protocol, ByteView payload) {
  const Time now = env_.now();
  if (now >= next_forward_sweep_) {
    for (auto it = forwards_.begin(); it != forwards_.end();)
      it = now - it->second.last >= kForwardIdle ? forwards_.erase(it) : std::next(it);
    next_forward_sweep_ = now + kForwardIdle;
  }
  auto it = forwards_.find(key);
  if (it == forwards_.end() && (type == FrameType::kSyn || type == FrameType::kDatagram)) {
    const policy::ServiceTable* table = services_ ? services_() : nullptr;
    const policy::ServiceProxy::Translation t =
        table ? proxy_->Translate(*table, policy::ServiceProxy::Flow{key.src_ip, key.dst_ip, key.dst_port, protocol},
                                  /*to_node_address=*/true, env_.random(), now)
              : policy::ServiceProxy::Translation{};
    if (t.outcome == policy::ServiceProxy::kTranslated) {
      FlowKey out{key.src_ip, t.ip, key.src_port, t.port};
      if (t.masquerade) {
        out.src_ip = key.dst_ip;
        do {  // a source port no other forwarded flow to that pod holds
          out.src_port = static_cast<uint16_t>(kMasqueradeFirstPort + next_masquerade_port_++ % 28000);
        } while (forwards_.count(Reversed(out)));
      }
      ++stats_.node_port_flows;
      forwards_[key] = Forward{out, now};
      forwards_[Reversed(out)] = Forward{Reversed(key), now};
      it = forwards_.find(key);
    } else if (t.outcome == policy::ServiceProxy::kNoEndpoints) {
      ++stats_.service_rejects;
    }
  }
  if (it == forwards_.end()) {
    ++stats_.unbound;
    if (type == FrameType::kSyn || type == FrameType::kData)
      Transmit(FrameType::kRst, Reversed(key), protocol, {});
    return;
  }
  it->second.last = now;
  const FlowKey out = it->second.out;
  if (auto back = forwards_.find(Reversed(out)); back != forwards_.end()) back->second.last = now;
  Transmit(type, out, protocol, payload);
}

}  // namespace edgebed::sim
