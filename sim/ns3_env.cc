#include "sim/ns3_env.h"

#include <algorithm>

#include "core/wire/codec.h"

namespace edgebed::sim {
namespace {

constexpr uint16_t kChunkMagic = 0xEB5E;
constexpr uint8_t kChunkVersion = 1;
// magic, version, type, src, dst, port, message id, chunk, chunks, chunk size, total
constexpr size_t kChunkHeaderSize = wire::kHeaderSize + 4 + 4 + 2 + 8 + 4 + 4 + 4 + 4;
// IPv4 + UDP + PPP framing, for pacing at the link rate.
constexpr size_t kFramingBytes = 20 + 8 + 2;

Time Now() { return Time(Duration(ns3::Simulator::Now().GetNanoSeconds())); }
ns3::Time ToNs3(Duration d) { return ns3::NanoSeconds(std::max<int64_t>(d.count(), 0)); }

struct ChunkHeader {
  NodeId src = 0, dst = 0;
  Port port = 0;
  uint64_t message_id = 0;
  uint32_t chunk = 0, chunks = 0, chunk_size = 0, total = 0;
};

Status ReadChunkHeader(wire::Reader& r, ChunkHeader* h) {
  wire::Header header;
  EDGEBED_RETURN_IF_ERROR(wire::ReadHeader(r, kChunkMagic, kChunkVersion, &header));
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&h->src));
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&h->dst));
  EDGEBED_RETURN_IF_ERROR(r.GetU16(&h->port));
  EDGEBED_RETURN_IF_ERROR(r.GetU64(&h->message_id));
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&h->chunk));
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&h->chunks));
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&h->chunk_size));
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&h->total));
  if (h->total > Env::kMaxMessageSize) return Corruption("message larger than the bound");
  if (h->chunk_size == 0) return Corruption("zero chunk size");
  const uint64_t expected_chunks =
      h->total == 0 ? 1 : (uint64_t{h->total} + h->chunk_size - 1) / h->chunk_size;
  if (h->chunks != expected_chunks || h->chunk >= h->chunks) {
    return Corruption("chunk numbering does not fit the message size");
  }
  const uint64_t offset = uint64_t{h->chunk} * h->chunk_size;
  const uint64_t length = std::min<uint64_t>(h->chunk_size, h->total - std::min<uint64_t>(offset, h->total));
  if (r.remaining() != length) return Corruption("chunk length does not match its header");
  return Status::Ok();
}

}  // namespace

Ns3Env::Ns3Env(Ns3World& world, NodeId id, ns3::Ptr<ns3::Node> node, ns3::Ipv4Address address,
               const Ns3EnvOptions& options, uint64_t seed)
    : world_(world),
      id_(id),
      node_(node),
      address_(address),
      options_(options),
      random_(MixSeed(seed, id)),
      disk_(
          [this](Duration delay, std::function<void()> fn) {
            const uint64_t incarnation = incarnation_;
            ns3::Simulator::Schedule(ToNs3(delay), [this, incarnation, fn = std::move(fn)] {
              if (up_ && incarnation == incarnation_) fn();
            });
          },
          options.disk) {
  socket_ = ns3::Socket::CreateSocket(node_, ns3::UdpSocketFactory::GetTypeId());
  socket_->Bind(ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), options_.udp_port));
  socket_->SetRecvCallback(ns3::MakeCallback(&Ns3Env::OnReadable, this));
}

Ns3Env::~Ns3Env() {
  for (auto& [id, event] : timers_) ns3::Simulator::Cancel(event);
  if (socket_) {
    socket_->SetRecvCallback(ns3::MakeNullCallback<void, ns3::Ptr<ns3::Socket>>());
    socket_->Close();
  }
}

Time Ns3Env::now() const { return Now(); }

MetricsSink& Ns3Env::metrics() { return world_.sink_; }

TimerId Ns3Env::Schedule(Duration after, std::function<void()> fn) {
  const TimerId id = next_timer_++;
  timers_[id] = ns3::Simulator::Schedule(ToNs3(after), [this, id, fn = std::move(fn)] {
    timers_.erase(id);
    fn();
  });
  return id;
}

bool Ns3Env::Cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  ns3::Simulator::Cancel(it->second);
  timers_.erase(it);
  return true;
}

Status Ns3Env::Listen(Port port, Receiver receiver) {
  if (!receiver) return InvalidArgument("Listen needs a receiver");
  if (!listeners_.emplace(port, std::move(receiver)).second) {
    return Status(StatusCode::kAlreadyExists,
                  "port " + std::to_string(port) + " already has a receiver on node " +
                      std::to_string(id_));
  }
  return Status::Ok();
}

void Ns3Env::Unlisten(Port port) { listeners_.erase(port); }

void Ns3Env::Send(NodeId to, Port port, Bytes message) {
  ++stats_.messages_sent;
  if (to >= world_.envs_.size() || message.size() > kMaxMessageSize) {
    RecordEvent("env.send_dropped", "to=" + std::to_string(to) +
                                        " bytes=" + std::to_string(message.size()) + " reason=" +
                                        (to >= world_.envs_.size() ? "unknown-node" : "oversized"));
    return;
  }
  const uint64_t incarnation = incarnation_;
  if (to == id_) {
    ns3::Simulator::Schedule(ns3::Seconds(0), [this, incarnation, port,
                                                message = std::move(message)] {
      if (up_ && incarnation == incarnation_) Deliver(id_, port, message);
    });
    return;
  }
  const ns3::Ipv4Address dst_ip = world_.envs_[to]->address_;
  const uint32_t chunk_size = options_.max_datagram_payload;
  const uint32_t total = static_cast<uint32_t>(message.size());
  const uint32_t chunks = total == 0 ? 1 : (total + chunk_size - 1) / chunk_size;
  const uint64_t message_id = next_message_id_++;
  for (uint32_t c = 0; c < chunks; ++c) {
    const size_t offset = size_t{c} * chunk_size;
    const size_t length = std::min<size_t>(chunk_size, total - offset);
    wire::Writer w;
    wire::WriteHeader(w, {kChunkMagic, kChunkVersion, 0});
    w.PutU32(id_);
    w.PutU32(to);
    w.PutU16(port);
    w.PutU64(message_id);
    w.PutU32(c);
    w.PutU32(chunks);
    w.PutU32(chunk_size);
    w.PutU32(total);
    w.PutRaw(ByteView(message.data() + offset, length));
    Bytes datagram = std::move(w).Finish();
    // Pace chunks at the uplink rate, as a socket send buffer would, so a
    // large message does not overflow the node's own device queue.
    const Time start = std::max(Now(), uplink_free_at_);
    const double bits = static_cast<double>((datagram.size() + kFramingBytes) * 8);
    uplink_free_at_ = start + Duration(static_cast<int64_t>(bits / options_.uplink_bps * 1e9));
    ++stats_.datagrams_sent;
    ns3::Simulator::Schedule(ToNs3(start - Now()), [this, incarnation, dst_ip,
                                                     datagram = std::move(datagram)] {
      if (!up_ || incarnation != incarnation_) return;
      ns3::Ptr<ns3::Packet> packet =
          ns3::Create<ns3::Packet>(datagram.data(), static_cast<uint32_t>(datagram.size()));
      socket_->SendTo(packet, 0, ns3::InetSocketAddress(dst_ip, options_.udp_port));
    });
  }
}

void Ns3Env::OnReadable(ns3::Ptr<ns3::Socket> socket) {
  ns3::Address from;
  Bytes buffer;
  while (ns3::Ptr<ns3::Packet> packet = socket->RecvFrom(from)) {
    buffer.resize(packet->GetSize());
    packet->CopyData(buffer.data(), static_cast<uint32_t>(buffer.size()));
    ++stats_.datagrams_received;
    if (!up_) continue;
    OnDatagram(ns3::InetSocketAddress::ConvertFrom(from).GetIpv4(), buffer.data(), buffer.size());
  }
}

void Ns3Env::OnDatagram(ns3::Ipv4Address from_ip, const uint8_t* data, size_t size) {
  wire::Reader r(ByteView(data, size));
  ChunkHeader h;
  if (!ReadChunkHeader(r, &h).ok() || h.dst != id_ || h.src >= world_.envs_.size() ||
      world_.NodeAt(from_ip) != h.src) {
    ++stats_.bad_datagrams;
    return;
  }
  ByteView payload;
  (void)r.GetRaw(r.remaining(), &payload);
  if (h.chunks == 1) {
    Deliver(h.src, h.port, payload.ToBytes());
    return;
  }
  const auto key = std::make_pair(h.src, h.message_id);
  auto it = partials_.find(key);
  if (it == partials_.end()) {
    if (partial_bytes_ + h.total > options_.reassembly_budget) {
      ++stats_.partial_messages_dropped;
      return;
    }
    Partial p;
    p.data.resize(h.total);
    p.have.assign(h.chunks, false);
    p.chunks_left = h.chunks;
    p.first_seen = Now();
    partial_bytes_ += h.total;
    it = partials_.emplace(key, std::move(p)).first;
    if (!sweep_scheduled_) {
      sweep_scheduled_ = true;
      Schedule(options_.reassembly_timeout, [this] { SweepPartials(); });
    }
  }
  Partial& p = it->second;
  if (p.data.size() != h.total || p.have.size() != h.chunks) {
    ++stats_.bad_datagrams;  // a chunk that disagrees with its siblings
    return;
  }
  if (p.have[h.chunk]) return;  // a duplicate
  p.have[h.chunk] = true;
  std::copy(payload.begin(), payload.end(), p.data.begin() + size_t{h.chunk} * h.chunk_size);
  if (--p.chunks_left == 0) {
    Bytes message = std::move(p.data);
    partial_bytes_ -= h.total;
    partials_.erase(it);
    Deliver(h.src, h.port, message);
  }
}

void Ns3Env::SweepPartials() {
  sweep_scheduled_ = false;
  const Time cutoff = Now() - options_.reassembly_timeout;
  for (auto it = partials_.begin(); it != partials_.end();) {
    if (it->second.first_seen <= cutoff) {
      partial_bytes_ -= it->second.data.size();
      ++stats_.partial_messages_dropped;
      it = partials_.erase(it);
    } else {
      ++it;
    }
  }
  if (!partials_.empty()) {
    sweep_scheduled_ = true;
    Schedule(options_.reassembly_timeout / 2, [this] { SweepPartials(); });
  }
}

void Ns3Env::Deliver(NodeId from, Port port, const Bytes& message) {
  auto it = listeners_.find(port);
  if (it == listeners_.end()) {
    ++stats_.dropped_no_listener;
    return;
  }
  ++stats_.messages_delivered;
  Receiver receiver = it->second;  // it may Unlisten itself
  receiver(from, ByteView(message));
}

void Ns3Env::Crash() {
  if (!up_) return;
  up_ = false;
  ++incarnation_;
  for (auto& [id, event] : timers_) ns3::Simulator::Cancel(event);
  timers_.clear();
  listeners_.clear();
  partials_.clear();
  partial_bytes_ = 0;
  sweep_scheduled_ = false;
  uplink_free_at_ = Time{};
  disk_.Crash();
  RecordEvent("node.crash");
}

void Ns3Env::Restart() {
  if (up_) return;
  up_ = true;
  RecordEvent("node.restart");
}

Ns3World::Ns3World(uint64_t seed, MetricsSink& sink) : seed_(seed), sink_(sink) {
  ns3::RngSeedManager::SetSeed(static_cast<uint32_t>(MixSeed(seed, 0x5eed) | 1));
  ns3::RngSeedManager::SetRun(1);
}

Ns3World::~Ns3World() {
  envs_.clear();
  ns3::Simulator::Destroy();
}

NodeId Ns3World::AddNode(ns3::Ptr<ns3::Node> node, ns3::Ipv4Address address,
                         const Ns3EnvOptions& options) {
  const auto id = static_cast<NodeId>(envs_.size());
  envs_.push_back(std::unique_ptr<Ns3Env>(new Ns3Env(*this, id, node, address, options, seed_)));
  by_address_[address.Get()] = id;
  return id;
}

NodeId Ns3World::NodeAt(ns3::Ipv4Address address) const {
  auto it = by_address_.find(address.Get());
  return it == by_address_.end() ? kNoNode : it->second;
}

void Ns3World::RunUntil(Time until) {
  const int64_t delta = ToNanos(until) - ns3::Simulator::Now().GetNanoSeconds();
  if (delta < 0) return;
  ns3::Simulator::Stop(ns3::NanoSeconds(delta));
  ns3::Simulator::Run();
}

void Ns3World::RunFor(Duration d) { RunUntil(now() + d); }

Time Ns3World::now() const { return Now(); }

void Ns3World::Crash(NodeId id) { envs_.at(id)->Crash(); }
void Ns3World::Restart(NodeId id) { envs_.at(id)->Restart(); }

Ns3NetStats Ns3World::TotalNetStats() const {
  Ns3NetStats total;
  for (const auto& e : envs_) {
    const Ns3NetStats& s = e->stats_;
    total.messages_sent += s.messages_sent;
    total.messages_delivered += s.messages_delivered;
    total.datagrams_sent += s.datagrams_sent;
    total.datagrams_received += s.datagrams_received;
    total.bad_datagrams += s.bad_datagrams;
    total.partial_messages_dropped += s.partial_messages_dropped;
    total.dropped_no_listener += s.dropped_no_listener;
  }
  return total;
}

}  // namespace edgebed::sim
