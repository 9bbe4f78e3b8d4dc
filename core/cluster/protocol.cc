#include "core/cluster/protocol.h"

#include <cstring>

namespace edgebed::cluster {
namespace {

using wire::Reader;
using wire::Writer;

void PutHeader(Writer& w, MessageType type) {
  wire::WriteHeader(w, {kClusterMagic, kClusterVersion, static_cast<uint16_t>(type)});
}

template <size_t N>
void PutFixed(Writer& w, const std::array<uint8_t, N>& a) {
  w.PutRaw(ByteView(a.data(), a.size()));
}

template <size_t N>
Status GetFixed(Reader& r, std::array<uint8_t, N>* a) {
  ByteView v;
  if (Status s = r.GetRaw(N, &v); !s.ok()) return s;
  std::memcpy(a->data(), v.data(), N);
  return Status::Ok();
}

Bytes Concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) {
    Writer w;
    w.PutBytes(p);  // length-prefixed, so fields cannot shift into each other
    Bytes b = std::move(w).Finish();
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

ByteView View(const Nonce& n) { return ByteView(n.data(), n.size()); }

Status Finish(const Reader& r, const char* what) {
  if (Status s = r.ExpectEnd(); !s.ok())
    return Corruption(std::string(what) + ": " + s.message());
  return Status::Ok();
}

bool IsSession(MessageType t) { return static_cast<uint16_t>(t) >= 16; }

}  // namespace

Nonce NewNonce(Random& random) {
  Nonce n;
  for (size_t i = 0; i < n.size(); i += 8) {
    uint64_t v = random.Next();
    std::memcpy(n.data() + i, &v, 8);
  }
  return n;
}

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kHello: return "Hello";
    case MessageType::kChallenge: return "Challenge";
    case MessageType::kJoin: return "Join";
    case MessageType::kWelcome: return "Welcome";
    case MessageType::kRefuse: return "Refuse";
    case MessageType::kUnknownSession: return "UnknownSession";
    case MessageType::kRenew: return "Renew";
    case MessageType::kRenewAck: return "RenewAck";
    case MessageType::kViewSync: return "ViewSync";
    case MessageType::kViewAck: return "ViewAck";
    case MessageType::kStatusSync: return "StatusSync";
    case MessageType::kStatusAck: return "StatusAck";
  }
  return "unknown";
}

Mac ServerProof(const Key& cluster, const Nonce& agent_nonce, const Nonce& server_nonce,
                const std::string& node) {
  return Prove(cluster, "server proof", Concat({View(agent_nonce), View(server_nonce), ByteView(node)}));
}

Mac AgentProof(const Key& cluster, const Nonce& agent_nonce, const Nonce& server_nonce,
               const std::string& node, const std::string& node_manifest) {
  return Prove(cluster, "agent proof",
               Concat({View(agent_nonce), View(server_nonce), ByteView(node), ByteView(node_manifest)}));
}

Key SessionKey(const Key& cluster, const Nonce& agent_nonce, const Nonce& server_nonce) {
  return DeriveKey(cluster, "session key", Concat({View(agent_nonce), View(server_nonce)}));
}

Mac WelcomeProof(const Key& session_key, uint64_t session, const std::string& pod_cidr) {
  Writer w;
  w.PutU64(session);
  w.PutString(pod_cidr);
  Bytes b = std::move(w).Finish();
  return Prove(session_key, "welcome", b);
}

Bytes Encode(const Hello& m) {
  Writer w;
  PutHeader(w, MessageType::kHello);
  w.PutString(m.node);
  PutFixed(w, m.agent_nonce);
  w.PutU64(m.incarnation);
  return std::move(w).Finish();
}

Bytes Encode(const Challenge& m) {
  Writer w;
  PutHeader(w, MessageType::kChallenge);
  PutFixed(w, m.agent_nonce);
  PutFixed(w, m.server_nonce);
  PutFixed(w, m.proof);
  return std::move(w).Finish();
}

Bytes Encode(const Join& m) {
  Writer w;
  PutHeader(w, MessageType::kJoin);
  w.PutString(m.node);
  PutFixed(w, m.agent_nonce);
  PutFixed(w, m.server_nonce);
  w.PutString(m.node_manifest);
  PutFixed(w, m.proof);
  return std::move(w).Finish();
}

Bytes Encode(const Welcome& m) {
  Writer w;
  PutHeader(w, MessageType::kWelcome);
  w.PutU64(m.session);
  w.PutString(m.pod_cidr);
  PutFixed(w, m.proof);
  return std::move(w).Finish();
}

Bytes Encode(const Refuse& m) {
  Writer w;
  PutHeader(w, MessageType::kRefuse);
  w.PutString(m.reason.substr(0, 1024));
  return std::move(w).Finish();
}

Bytes Encode(const UnknownSession& m) {
  Writer w;
  PutHeader(w, MessageType::kUnknownSession);
  w.PutU64(m.session);
  return std::move(w).Finish();
}

namespace {

MessageType TypeOf(const Body& body) {
  struct Visitor {
    MessageType operator()(const Renew&) const { return MessageType::kRenew; }
    MessageType operator()(const RenewAck&) const { return MessageType::kRenewAck; }
    MessageType operator()(const ViewSync&) const { return MessageType::kViewSync; }
    MessageType operator()(const ViewAck&) const { return MessageType::kViewAck; }
    MessageType operator()(const StatusSync&) const { return MessageType::kStatusSync; }
    MessageType operator()(const StatusAck&) const { return MessageType::kStatusAck; }
  };
  return std::visit(Visitor{}, body);
}

void EncodeBody(Writer& w, const Body& body) {
  if (auto* m = std::get_if<Renew>(&body)) EncodeAck(w, m->view);
  if (auto* m = std::get_if<ViewSync>(&body)) EncodeChunk(w, m->chunk);
  if (auto* m = std::get_if<ViewAck>(&body)) EncodeAck(w, m->ack);
  if (auto* m = std::get_if<StatusSync>(&body)) EncodeChunk(w, m->chunk);
  if (auto* m = std::get_if<StatusAck>(&body)) EncodeAck(w, m->ack);
}

Status DecodeBody(MessageType type, Reader& r, Body* body) {
  switch (type) {
    case MessageType::kRenew: {
      Renew m;
      if (Status s = DecodeAck(r, &m.view); !s.ok()) return s;
      *body = m;
      return Status::Ok();
    }
    case MessageType::kRenewAck:
      *body = RenewAck{};
      return Status::Ok();
    case MessageType::kViewSync: {
      ViewSync m;
      if (Status s = DecodeChunk(r, &m.chunk); !s.ok()) return s;
      *body = std::move(m);
      return Status::Ok();
    }
    case MessageType::kViewAck: {
      ViewAck m;
      if (Status s = DecodeAck(r, &m.ack); !s.ok()) return s;
      *body = m;
      return Status::Ok();
    }
    case MessageType::kStatusSync: {
      StatusSync m;
      if (Status s = DecodeChunk(r, &m.chunk); !s.ok()) return s;
      *body = std::move(m);
      return Status::Ok();
    }
    case MessageType::kStatusAck: {
      StatusAck m;
      if (Status s = DecodeAck(r, &m.ack); !s.ok()) return s;
      *body = m;
      return Status::Ok();
    }
    default:
      return Corruption(std::string("not a session message: ") + MessageTypeName(type));
  }
}

}  // namespace

Bytes EncodeSession(uint64_t session, uint64_t counter, const Key& key, const Body& body) {
  Writer w;
  PutHeader(w, TypeOf(body));
  w.PutU64(session);
  w.PutU64(counter);
  EncodeBody(w, body);
  Bytes out = std::move(w).Finish();
  Mac mac = Prove(key, "session message", out);
  out.insert(out.end(), mac.begin(), mac.end());
  return out;
}

Status DecodeEnvelope(ByteView message, Envelope* out) {
  if (message.size() > kMaxClusterMessage)
    return Corruption("message of " + std::to_string(message.size()) + " bytes is over the bound of " +
                              std::to_string(kMaxClusterMessage));
  Reader r(message);
  wire::Header h;
  if (Status s = wire::ReadHeader(r, kClusterMagic, kClusterVersion, &h); !s.ok()) return s;
  MessageType type = static_cast<MessageType>(h.type);
  if (std::string_view(MessageTypeName(type)) == "unknown")
    return Corruption("unknown message type " + std::to_string(h.type));
  out->type = type;
  out->payload = message.substr(wire::kHeaderSize);
  return Status::Ok();
}

Status Decode(const Envelope& e, Hello* m) {
  if (e.type != MessageType::kHello) return InvalidArgument("not a Hello");
  Reader r(e.payload);
  (void)r.GetString(kMaxNodeName, &m->node);
  (void)GetFixed(r, &m->agent_nonce);
  (void)r.GetU64(&m->incarnation);
  return Finish(r, "Hello");
}

Status Decode(const Envelope& e, Challenge* m) {
  if (e.type != MessageType::kChallenge) return InvalidArgument("not a Challenge");
  Reader r(e.payload);
  (void)GetFixed(r, &m->agent_nonce);
  (void)GetFixed(r, &m->server_nonce);
  (void)GetFixed(r, &m->proof);
  return Finish(r, "Challenge");
}

Status Decode(const Envelope& e, Join* m) {
  if (e.type != MessageType::kJoin) return InvalidArgument("not a Join");
  Reader r(e.payload);
  (void)r.GetString(kMaxNodeName, &m->node);
  (void)GetFixed(r, &m->agent_nonce);
  (void)GetFixed(r, &m->server_nonce);
  (void)r.GetString(kMaxManifest, &m->node_manifest);
  (void)GetFixed(r, &m->proof);
  return Finish(r, "Join");
}

Status Decode(const Envelope& e, Welcome* m) {
  if (e.type != MessageType::kWelcome) return InvalidArgument("not a Welcome");
  Reader r(e.payload);
  (void)r.GetU64(&m->session);
  (void)r.GetString(64, &m->pod_cidr);
  (void)GetFixed(r, &m->proof);
  return Finish(r, "Welcome");
}

Status Decode(const Envelope& e, Refuse* m) {
  if (e.type != MessageType::kRefuse) return InvalidArgument("not a Refuse");
  Reader r(e.payload);
  (void)r.GetString(1024, &m->reason);
  return Finish(r, "Refuse");
}

Status Decode(const Envelope& e, UnknownSession* m) {
  if (e.type != MessageType::kUnknownSession) return InvalidArgument("not an UnknownSession");
  Reader r(e.payload);
  (void)r.GetU64(&m->session);
  return Finish(r, "UnknownSession");
}

Status PeekSession(const Envelope& e, SessionHeader* header) {
  if (!IsSession(e.type)) return InvalidArgument("not a session message");
  Reader r(e.payload);
  (void)r.GetU64(&header->session);
  (void)r.GetU64(&header->counter);
  return r.status();
}

Status OpenSession(const Envelope& e, ByteView whole, const Key& key, Body* body) {
  constexpr size_t kMac = sizeof(Mac);
  if (whole.size() < wire::kHeaderSize + 16 + kMac) return Corruption("session message is truncated");
  ByteView signed_part = whole.substr(0, whole.size() - kMac);
  Mac presented;
  std::memcpy(presented.data(), whole.data() + signed_part.size(), kMac);
  if (!Verify(key, "session message", signed_part, presented))
    return PermissionDenied("session message fails its MAC");
  Reader r(signed_part.substr(wire::kHeaderSize + 16));
  if (Status s = DecodeBody(e.type, r, body); !s.ok()) return s;
  return Finish(r, MessageTypeName(e.type));
}

}  // namespace edgebed::cluster
