// The cluster's wire protocol between the server and its agents.
//
// Join (unauthenticated messages, each proving what it can):
//   agent  -> server  Hello     {node name, agent nonce, incarnation}
//   server -> agent   Challenge {agent nonce, server nonce, proof the server holds the secret}
//   agent  -> server  Join      {node name, both nonces, the Node it registers, proof the agent holds it}
//   server -> agent   Welcome   {session id, the node's pod CIDR, proof}  or  Refuse {reason}
// A server nonce is good for one Join within kChallengeLifetime; a replayed
// Join (its nonce spent or forgotten) is refused. The session key is derived
// from the secret and both nonces, so it is fresh for every join.
//
// Session messages carry the session id and a counter that rises with every
// message in one direction, and end in a MAC under the session key over all
// that precedes it. A receiver drops a message whose MAC fails, whose session
// it does not know, or whose counter is not above the last it took (a replay,
// a duplicate or an overtaken message: every session message is state, so the
// next one supersedes it).
//
// Every decoder is bounds-checked (core/wire/codec.h): a malformed,
// truncated, oversized or unauthenticated message is an error Status, never
// a crash; the server and agent count it, log it and drop it.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/cluster/auth.h"
#include "core/cluster/sync.h"
#include "core/env/env.h"

namespace edgebed::cluster {

inline constexpr Port kServerPort = 7410;  // the server hears agents here
inline constexpr Port kAgentPort = 7411;   // an agent hears the server here
inline constexpr uint16_t kClusterMagic = 0xEC10;
inline constexpr uint8_t kClusterVersion = 1;
inline constexpr size_t kMaxClusterMessage = 4u << 20;
inline constexpr size_t kMaxNodeName = 253;       // a DNS subdomain
inline constexpr size_t kMaxManifest = 256u << 10;
inline constexpr Duration kChallengeLifetime = std::chrono::seconds(30);

using Nonce = std::array<uint8_t, 16>;
// A fresh nonce from the node's random source (seeded in simulation; on a real
// node the host Env seeds it from the operating system). The handshake needs
// nonces unique, not secret: each proof binds both sides' nonces, and only a
// holder of the cluster secret can make one.
Nonce NewNonce(Random& random);

enum class MessageType : uint16_t {
  kHello = 1,
  kChallenge = 2,
  kJoin = 3,
  kWelcome = 4,
  kRefuse = 5,
  kUnknownSession = 6,  // server -> agent: join again (sent when a session is not known)
  // Session messages.
  kRenew = 16,       // agent -> server: the lease, and where its view stands
  kRenewAck = 17,    // server -> agent
  kViewSync = 18,    // server -> agent: the node's view
  kViewAck = 19,     // agent -> server
  kStatusSync = 20,  // agent -> server: the agent's reports (pod status)
  kStatusAck = 21,   // server -> agent
};
const char* MessageTypeName(MessageType type);

struct Hello {
  std::string node;
  Nonce agent_nonce{};
  uint64_t incarnation = 0;
};
struct Challenge {
  Nonce agent_nonce{}, server_nonce{};
  Mac proof{};
};
struct Join {
  std::string node;
  Nonce agent_nonce{}, server_nonce{};
  std::string node_manifest;  // the Node it registers, as YAML
  Mac proof{};
};
struct Welcome {
  uint64_t session = 0;
  std::string pod_cidr;
  Mac proof{};
};
struct Refuse {
  std::string reason;
};
struct UnknownSession {
  uint64_t session = 0;
};

// The body of a session message.
struct Renew {
  SyncAck view;  // where the agent's copy of its view stands
};
struct RenewAck {};
struct ViewSync {
  SyncChunk chunk;
};
struct ViewAck {
  SyncAck ack;
};
struct StatusSync {
  SyncChunk chunk;
};
struct StatusAck {
  SyncAck ack;
};

using Body = std::variant<Renew, RenewAck, ViewSync, ViewAck, StatusSync, StatusAck>;

// What each side proves, and over which fields.
Mac ServerProof(const Key& cluster, const Nonce& agent_nonce, const Nonce& server_nonce,
                const std::string& node);
Mac AgentProof(const Key& cluster, const Nonce& agent_nonce, const Nonce& server_nonce,
               const std::string& node, const std::string& node_manifest);
Key SessionKey(const Key& cluster, const Nonce& agent_nonce, const Nonce& server_nonce);
Mac WelcomeProof(const Key& session_key, uint64_t session, const std::string& pod_cidr);

Bytes Encode(const Hello& m);
Bytes Encode(const Challenge& m);
Bytes Encode(const Join& m);
Bytes Encode(const Welcome& m);
Bytes Encode(const Refuse& m);
Bytes Encode(const UnknownSession& m);
// A session message: its id, counter, body and MAC.
Bytes EncodeSession(uint64_t session, uint64_t counter, const Key& key, const Body& body);

// Any message off the wire, decoded as far as its header and, for session
// messages, the session id and counter: the receiver then looks up the key
// and calls OpenSession.
struct Envelope {
  MessageType type{};
  ByteView payload;  // after the header
};
Status DecodeEnvelope(ByteView message, Envelope* out);

Status Decode(const Envelope& e, Hello* m);
Status Decode(const Envelope& e, Challenge* m);
Status Decode(const Envelope& e, Join* m);
Status Decode(const Envelope& e, Welcome* m);
Status Decode(const Envelope& e, Refuse* m);
Status Decode(const Envelope& e, UnknownSession* m);

struct SessionHeader {
  uint64_t session = 0;
  uint64_t counter = 0;
};
// Reads a session message's id and counter (before its MAC can be checked).
Status PeekSession(const Envelope& e, SessionHeader* header);
// Checks the MAC under `key` and decodes the body.
Status OpenSession(const Envelope& e, ByteView whole_message, const Key& key, Body* body);

}  // namespace edgebed::cluster
