#include "core/storage/sharedv4.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "core/env/fault_env.h"
#include "core/env/test_loop.h"

namespace edgebed::storage {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kVol = "floor-1/models";
constexpr uint32_t kBlockSize = 64;

// A controller on node 0, storage nodes (each with a sharedv4 server) on
// 1-3, and pods' nodes 4 and 5 with clients.
struct Shared {
  Shared() : loop(11) {
    ReplicationOptions o;
    o.ack_timeout = milliseconds(100);
    o.lease = milliseconds(800);
    for (int i = 0; i < 6; ++i) envs.push_back(std::make_unique<FaultEnv>(loop.env(loop.AddNode()), plan));
    controller = std::make_unique<VolumeController>(*envs[0], o);
    for (NodeId n : {1u, 2u, 3u}) Start(n, o);
    options = o;
    for (NodeId n : {4u, 5u}) clients[n] = std::make_unique<SharedVolumeClient>(*envs[n], std::vector<NodeId>{2, 3, 1});
    EXPECT_TRUE(controller->CreateVolume({kVol, kBlockSize, 16}, {1, 2, 3}).ok());
  }
  void Start(NodeId n, const ReplicationOptions& o) {
    nodes[n] = std::make_unique<StorageNode>(*envs[n], 0, o);
    servers[n] = std::make_unique<SharedVolumeServer>(*envs[n], *nodes[n]);
  }
  void Crash(NodeId n) {
    servers[n].reset();
    nodes[n].reset();
    loop.Crash(n);
  }
  Status Write(NodeId c, uint32_t b, uint8_t fill) {
    std::optional<Status> r;
    clients[c]->Write(kVol, b, Bytes(kBlockSize, fill), [&](Status s) { r = s; });
    while (!r) loop.RunFor(milliseconds(1));
    return *r;
  }
  StatusOr<Bytes> Read(NodeId c, uint32_t b) {
    std::optional<StatusOr<Bytes>> r;
    clients[c]->Read(kVol, b, [&](StatusOr<Bytes> x) { r = std::move(x); });
    while (!r) loop.RunFor(milliseconds(1));
    return std::move(*r);
  }

  TestLoop loop;
  FaultPlan plan;
  ReplicationOptions options;
  std::vector<std::unique_ptr<FaultEnv>> envs;
  std::unique_ptr<VolumeController> controller;
  std::unique_ptr<StorageNode> nodes[4];
  std::unique_ptr<SharedVolumeServer> servers[4];
  std::unique_ptr<SharedVolumeClient> clients[6];
};

TEST(Sharedv4, ClientsOnSeveralNodesShareOneVolumeThroughItsPrimary) {
  Shared s;
  ASSERT_TRUE(s.Write(4, 0, 0xA1).ok());
  ASSERT_TRUE(s.Write(5, 1, 0xB2).ok());
  StatusOr<Bytes> a = s.Read(5, 0), b = s.Read(4, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, Bytes(kBlockSize, 0xA1));  // one node's write, the other node's read
  EXPECT_EQ(*b, Bytes(kBlockSize, 0xB2));
  EXPECT_GT(s.clients[4]->stats().redirects + s.clients[5]->stats().redirects, 0u);  // 2 sent them to 1
  EXPECT_GT(s.servers[1]->stats().served, 0u);
  std::optional<Status> bad;
  s.clients[4]->Write(kVol, 99, Bytes(kBlockSize, 1), [&](Status st) { bad = st; });
  while (!bad) s.loop.RunFor(milliseconds(1));
  EXPECT_EQ(bad->code(), StatusCode::kInvalidArgument);
}

TEST(Sharedv4, ClientsFollowTheVolumeWhenItsServerFails) {
  Shared s;
  ASSERT_TRUE(s.Write(4, 3, 1).ok());
  s.Crash(1);  // the primary, the "NFS server"
  // Writes and reads carry on once another replica serves; nothing acknowledged is lost.
  ASSERT_TRUE(s.Write(5, 4, 2).ok());
  StatusOr<Bytes> r = s.Read(4, 3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, Bytes(kBlockSize, 1));
  EXPECT_NE(s.controller->Find(kVol)->primary, 1u);
  EXPECT_GT(s.clients[5]->stats().retries + s.clients[5]->stats().redirects, 0u);
}

TEST(Sharedv4, OneClientsWritesToABlockLandInOrder) {
  Shared s;
  std::vector<Status> results;
  for (int i = 1; i <= 20; ++i) {
    s.clients[4]->Write(kVol, 7, Bytes(kBlockSize, static_cast<uint8_t>(i)), [&](Status st) { results.push_back(st); });
  }
  s.plan.set_duplicate_rate(0.3);
  s.plan.set_delay(milliseconds(0), milliseconds(30));
  while (results.size() < 20) s.loop.RunFor(milliseconds(1));
  for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.ToString();
  s.plan.set_duplicate_rate(0);
  s.loop.RunFor(seconds(1));
  StatusOr<Bytes> r = s.Read(5, 7);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Bytes(kBlockSize, 20));
}

TEST(Sharedv4, NoServerAnsweringFailsAtTheDeadline) {
  Shared s;
  SharedVolumeClientOptions o;
  o.deadline = seconds(2);
  SharedVolumeClient lonely(*s.envs[4], {}, o);
  std::optional<Status> none;
  lonely.Write(kVol, 0, Bytes(kBlockSize, 1), [&](Status st) { none = st; });
  EXPECT_EQ(none->code(), StatusCode::kUnavailable);
  s.clients[4].reset();  // the port is free for another client on node 4
  SharedVolumeClient far(*s.envs[4], {1, 2, 3}, o);
  s.plan.Isolate(4);
  std::optional<Status> cut;
  far.Write(kVol, 0, Bytes(kBlockSize, 1), [&](Status st) { cut = st; });
  while (!cut) s.loop.RunFor(milliseconds(10));
  EXPECT_EQ(cut->code(), StatusCode::kUnavailable);
}

TEST(Sharedv4, GarbageOnTheWireIsIgnored) {
  Shared s;
  ASSERT_TRUE(s.Write(4, 0, 1).ok());
  Random r(17);
  for (int i = 0; i < 3000; ++i) {
    Bytes junk(r.Uniform(96));
    for (auto& b : junk) b = static_cast<uint8_t>(r.Next());
    if (junk.size() >= 4 && r.Chance(0.7)) {  // a valid header, then junk
      junk[0] = 0x34;
      junk[1] = 0x53;
      junk[2] = 1;
      junk[3] = static_cast<uint8_t>(r.Uniform(4));
    }
    const bool to_server = r.Chance(0.5);
    s.envs[5]->Send(to_server ? static_cast<NodeId>(1 + r.Uniform(3)) : 4u,
                    to_server ? kSharedPort : kSharedClientPort, junk);
  }
  s.loop.RunFor(milliseconds(200));
  ASSERT_TRUE(s.Write(4, 1, 2).ok());
  StatusOr<Bytes> back = s.Read(5, 0);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, Bytes(kBlockSize, 1));
  uint64_t bad = 0;
  for (NodeId n : {1u, 2u, 3u}) bad += s.servers[n]->stats().bad_messages;
  EXPECT_GT(bad, 0u);
}

}  // namespace
}  // namespace edgebed::storage
