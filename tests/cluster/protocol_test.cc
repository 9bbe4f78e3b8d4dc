// The cluster's wire protocol and tokens: every message round-trips; every
// truncation, flipped bit, foreign version or forged MAC is an error.
#include "core/cluster/protocol.h"

#include <gtest/gtest.h>

#include "core/cluster/auth.h"
#include "core/cluster/records.h"

namespace edgebed::cluster {
namespace {

TEST(TokenTest, ParsesBothFormsAndExplainsBadOnes) {
  auto full = ParseToken("K10" + std::string(64, 'a') + "::server:s3cret");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->ca_hash, std::string(64, 'a'));
  EXPECT_EQ(full->secret, "s3cret");
  EXPECT_EQ(full->ToString(), "K10" + std::string(64, 'a') + "::server:s3cret");
  auto bare = ParseToken("just-a-secret");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->secret, "just-a-secret");
  EXPECT_TRUE(bare->ca_hash.empty());
  for (const std::string& bad : std::vector<std::string>{"", "K10abc::server:x", "K10" + std::string(64, 'a') + "::admin:x",
                                "K10" + std::string(64, 'a') + "::server:", std::string("sec ret")}) {
    auto t = ParseToken(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.status().message().find("token"), std::string::npos) << t.status().message();
  }
}

TEST(AuthTest, ProofsAreBoundToPurposeKeyAndFields) {
  Key k1 = DeriveClusterKey("one"), k2 = DeriveClusterKey("two");
  Nonce a{}, b{};
  a[0] = 1;
  b[0] = 2;
  Mac m = ServerProof(k1, a, b, "edge-1");
  EXPECT_TRUE(SameMac(m, ServerProof(k1, a, b, "edge-1")));
  EXPECT_FALSE(SameMac(m, ServerProof(k2, a, b, "edge-1")));
  EXPECT_FALSE(SameMac(m, ServerProof(k1, b, a, "edge-1")));
  EXPECT_FALSE(SameMac(m, ServerProof(k1, a, b, "edge-2")));
  // The agent's proof over the same nonces is a different MAC.
  EXPECT_FALSE(SameMac(m, AgentProof(k1, a, b, "edge-1", "")));
}

TEST(ProtocolTest, JoinMessagesRoundTripAndTruncationsFail) {
  Join j;
  j.node = "edge-7";
  j.agent_nonce[3] = 9;
  j.server_nonce[5] = 4;
  j.node_manifest = "apiVersion: v1\nkind: Node\nmetadata: {name: edge-7}\n";
  j.proof[0] = 0xAB;
  Bytes bytes = Encode(j);
  Envelope e;
  ASSERT_TRUE(DecodeEnvelope(bytes, &e).ok());
  Join out;
  ASSERT_TRUE(Decode(e, &out).ok());
  EXPECT_EQ(out.node, j.node);
  EXPECT_EQ(out.node_manifest, j.node_manifest);
  EXPECT_EQ(out.agent_nonce, j.agent_nonce);
  EXPECT_EQ(out.proof, j.proof);
  for (size_t n = 0; n < bytes.size(); ++n) {
    Envelope te;
    Join tj;
    Status s = DecodeEnvelope(ByteView(bytes.data(), n), &te);
    if (s.ok()) s = Decode(te, &tj);
    EXPECT_FALSE(s.ok()) << "truncated to " << n;
  }
  // Trailing bytes are an error too.
  Bytes longer = bytes;
  longer.push_back(0);
  ASSERT_TRUE(DecodeEnvelope(longer, &e).ok());
  EXPECT_FALSE(Decode(e, &out).ok());
}

TEST(ProtocolTest, SessionMessagesNeedTheKeyAndEveryBit) {
  Key key = DeriveClusterKey("s");
  SyncChunk chunk;
  chunk.epoch = 9;
  chunk.to = 2;
  chunk.entries = {{"pod/a/b", true, Bytes{1, 2, 3}}, {"ep/a/b", false, {}}};
  Bytes bytes = EncodeSession(42, 7, key, ViewSync{chunk});
  Envelope e;
  ASSERT_TRUE(DecodeEnvelope(bytes, &e).ok());
  SessionHeader h;
  ASSERT_TRUE(PeekSession(e, &h).ok());
  EXPECT_EQ(h.session, 42u);
  EXPECT_EQ(h.counter, 7u);
  Body body;
  ASSERT_TRUE(OpenSession(e, bytes, key, &body).ok());
  ASSERT_TRUE(std::holds_alternative<ViewSync>(body));
  EXPECT_EQ(std::get<ViewSync>(body).chunk.entries.size(), 2u);
  // Another key.
  EXPECT_EQ(OpenSession(e, bytes, DeriveClusterKey("t"), &body).code(), StatusCode::kPermissionDenied);
  // Every single flipped bit is caught (by the header checks or the MAC).
  for (size_t i = 0; i < bytes.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      Bytes flipped = bytes;
      flipped[i] ^= static_cast<uint8_t>(1 << bit);
      Envelope fe;
      Status s = DecodeEnvelope(flipped, &fe);
      if (s.ok()) s = OpenSession(fe, flipped, key, &body);
      ASSERT_FALSE(s.ok()) << "byte " << i << " bit " << bit;
    }
  // Truncations.
  for (size_t n = 0; n < bytes.size(); ++n) {
    Envelope te;
    ByteView v(bytes.data(), n);
    Status s = DecodeEnvelope(v, &te);
    if (s.ok()) s = OpenSession(te, v, key, &body);
    ASSERT_FALSE(s.ok()) << "truncated to " << n;
  }
}

// Found by cluster_wire_fuzzer: a chunk whose entry count is within the
// bound but far beyond what the message holds reserved room for every entry
// (4 MiB for a 16-byte body) before reading any.
TEST(ProtocolTest, AChunkCountTheMessageCannotHoldAllocatesNothing) {
  wire::Writer w;
  w.PutU64(9);                     // epoch
  w.PutVarint(0);                  // from
  w.PutVarint(0);                  // to
  w.PutU8(1);                      // last
  w.PutVarint(kMaxSyncEntries);    // entries, none of them there
  Bytes body = std::move(w).Finish();
  wire::Reader r(body);
  SyncChunk chunk;
  EXPECT_FALSE(DecodeChunk(r, &chunk).ok());
  EXPECT_LE(chunk.entries.capacity(), body.size());
  // The same through a session message whose MAC holds.
  Key key = DeriveClusterKey("s");
  wire::Writer m;
  wire::WriteHeader(m, {kClusterMagic, kClusterVersion, static_cast<uint16_t>(MessageType::kViewSync)});
  m.PutU64(42);
  m.PutU64(7);
  m.PutRaw(body);
  Bytes message = std::move(m).Finish();
  Mac mac = Prove(key, "session message", message);
  message.insert(message.end(), mac.begin(), mac.end());
  Envelope e;
  ASSERT_TRUE(DecodeEnvelope(message, &e).ok());
  Body out;
  EXPECT_EQ(OpenSession(e, message, key, &out).code(), StatusCode::kCorruption);
}

TEST(ProtocolTest, ForeignVersionsAndOversizeAreRefused) {
  Bytes hello = Encode(Hello{"edge-1", {}, 1});
  Bytes other = hello;
  other[2] = kClusterVersion + 1;
  Envelope e;
  EXPECT_FALSE(DecodeEnvelope(other, &e).ok());
  Bytes huge(kMaxClusterMessage + 1, 0);
  EXPECT_FALSE(DecodeEnvelope(huge, &e).ok());
  Bytes unknown = hello;
  unknown[3] = 99;
  EXPECT_FALSE(DecodeEnvelope(unknown, &e).ok());
}

TEST(RecordsTest, RoundTripAndRejectGarbage) {
  PodAssignment a;
  a.manifest = "kind: Pod";
  a.volumes.push_back(VolumeMount{"data", "ns/data", 4096, 64, {3, 4, 5}, true, false});
  Bytes b = Encode(a);
  PodAssignment out;
  ASSERT_TRUE(Decode(b, &out).ok());
  EXPECT_EQ(out.volumes.at(0).replicas, (std::vector<NodeId>{3, 4, 5}));
  EXPECT_TRUE(out.volumes[0].sharedv4);
  for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(Decode(ByteView(b.data(), n), &out).ok()) << n;
  policy::Endpoint ep;
  ep.namespace_ = "floor-1";
  ep.name = "gw";
  ep.labels = {{"app", "gw"}};
  ep.ips = {0x0A2A0102};
  ep.ports = {{"mqtt", policy::kTcp, 1883}};
  Bytes eb = Encode(ep);
  policy::Endpoint epo;
  ASSERT_TRUE(Decode(eb, &epo).ok());
  EXPECT_EQ(epo.labels, ep.labels);
  EXPECT_EQ(epo.ports.at(0).port, 1883);
  eb[0] = 9;  // a version this release does not read
  EXPECT_FALSE(Decode(eb, &epo).ok());
}

}  // namespace
}  // namespace edgebed::cluster
