// Cluster authentication: the join token, and the keyed proofs that let an
// agent and the server each show the other that it holds the cluster secret
// without sending it.
//
// The token is K3s's: "K10<sha256 of the server's CA, hex>::server:<secret>",
// or the bare secret (K3s accepts both; the CA hash matters where the control
// channel is TLS, on real nodes). Every proof is HMAC-SHA256 under a key
// derived from the secret, over a purpose label and the fields it binds, so a
// proof made for one purpose (the server's, the agent's, a session's
// messages) never verifies as another.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace edgebed::cluster {

struct ClusterToken {
  std::string ca_hash;  // 64 hex digits, or empty when the token is a bare secret
  std::string secret;
  std::string ToString() const;  // the K10 form when ca_hash is set
};

// Parses either form. Errors say what is malformed and how a token looks.
StatusOr<ClusterToken> ParseToken(std::string_view text);

using Mac = std::array<uint8_t, 16>;  // HMAC-SHA256, truncated to 128 bits
using Key = std::array<uint8_t, 32>;

// The key every proof of this cluster is made with.
Key DeriveClusterKey(std::string_view secret);

// HMAC-SHA256(key, label || 0 || data), truncated.
Mac Prove(const Key& key, std::string_view label, ByteView data);
// Constant-time comparison of a presented MAC with the expected one.
bool Verify(const Key& key, std::string_view label, ByteView data, const Mac& presented);

// Constant-time equality of two MACs.
bool SameMac(const Mac& a, const Mac& b);

// A full-length HMAC, for deriving keys (a session's from the handshake).
Key DeriveKey(const Key& key, std::string_view label, ByteView data);

}  // namespace edgebed::cluster
