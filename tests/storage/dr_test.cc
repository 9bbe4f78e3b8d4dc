#include "core/storage/dr.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "core/env/fault_env.h"
#include "core/env/test_loop.h"
#include "core/storage/schedule.h"

namespace edgebed::storage {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint32_t kBlockSize = 128;
constexpr uint32_t kBlocks = 64;

// The source site: controller 0, storage nodes 1 and 2; the DR site:
// controller 3, storage node 4; 30 ms apart. A scheduler snapshots the
// source volume every two seconds and ships each snapshot to the standby.
class Sites {
 public:
  explicit Sites(uint64_t seed) : loop_(seed) {
    ReplicationOptions o;
    o.ack_timeout = milliseconds(100);
    o.lease = milliseconds(800);
    o.resync_interval = milliseconds(200);
    options_ = o;
    for (int i = 0; i < 5; ++i) envs_.push_back(std::make_unique<FaultEnv>(loop_.env(loop_.AddNode()), plan_));
    for (NodeId a : {0u, 1u, 2u}) {
      for (NodeId b : {3u, 4u}) loop_.SetLatency(a, b, milliseconds(30));
    }
    source_ = std::make_unique<VolumeController>(*envs_[0], o);
    dr_ = std::make_unique<VolumeController>(*envs_[3], o);
    for (NodeId n : {1u, 2u}) nodes_[n] = std::make_unique<StorageNode>(*envs_[n], 0, o);
    StartRemote();
    EXPECT_TRUE(source_->CreateVolume({"v", kBlockSize, kBlocks}, {1, 2}).ok());
    EXPECT_TRUE(dr_->CreateVolume({"dr/v", kBlockSize, kBlocks}, {4}).ok());
    sender_ = std::make_unique<DrSender>(*envs_[1], *nodes_[1], 4);
    SnapshotScheduler::Options so;
    so.on_ready = [this](const std::string& volume, const std::string&, const SnapshotRecord& snap) {
      if (primary() != 1) return;  // the sender lives on node 1
      sender_->Ship(volume, snap.name, snap.ready_ns, "dr/v", [this](Status s) { (s.ok() ? shipped_ : failed_)++; });
    };
    scheduler_ = std::make_unique<SnapshotScheduler>(*envs_[0], *source_, so);
    SchedulePolicy p;
    p.interval = IntervalRule{seconds(2), 3};
    EXPECT_TRUE(scheduler_->Add("v", "dr", p).ok());
  }

  void StartRemote() {
    nodes_[4] = std::make_unique<StorageNode>(*envs_[4], 3, options_);
    receiver_ = std::make_unique<DrReceiver>(*envs_[4], *nodes_[4]);
  }
  void CrashRemote() {
    receiver_.reset();
    nodes_[4].reset();
    loop_.Crash(4);
  }
  NodeId primary() const { return source_->Find("v")->primary; }

  // Writes a random block every few milliseconds at the source's primary.
  void Writes(Duration for_how_long) {
    const Time end = loop_.now() + for_how_long;
    Random r(9);
    while (loop_.now() < end) {
      const NodeId p = primary();
      if (nodes_[p] && nodes_[p]->Serving("v")) {
        nodes_[p]->Write("v", static_cast<uint32_t>(r.Uniform(kBlocks)), Bytes(kBlockSize, static_cast<uint8_t>(++n_)),
                         [](Status) {});
      }
      loop_.RunFor(milliseconds(5));
    }
  }

  template <typename T>
  T Await(std::optional<T>& result) {
    const Time end = loop_.now() + seconds(30);
    while (!result && loop_.now() < end) loop_.RunFor(milliseconds(1));
    return result ? std::move(*result) : T(Unavailable("no answer"));
  }

  // The standby holds exactly the image of the last snapshot applied.
  void ExpectStandbyIsTheAppliedSnapshot() {
    std::optional<DrReceiver::Applied> applied = receiver_->LastApplied("dr/v");
    ASSERT_TRUE(applied.has_value());
    for (uint32_t b = 0; b < kBlocks; ++b) {
      std::optional<StatusOr<Bytes>> want, got;
      nodes_[primary()]->ReadSnapshot("v", applied->snapshot, b, [&](StatusOr<Bytes> x) { want = std::move(x); });
      nodes_[4]->Read("dr/v", b, [&](StatusOr<Bytes> x) { got = std::move(x); });
      StatusOr<Bytes> w = Await(want), g = Await(got);
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      ASSERT_TRUE(g.ok()) << g.status().ToString();
      EXPECT_EQ(*w, *g) << "block " << b;
    }
  }

  TestLoop loop_;
  FaultPlan plan_;
  ReplicationOptions options_;
  std::vector<std::unique_ptr<FaultEnv>> envs_;
  std::unique_ptr<VolumeController> source_, dr_;
  std::unique_ptr<StorageNode> nodes_[5];
  std::unique_ptr<DrReceiver> receiver_;
  std::unique_ptr<DrSender> sender_;
  std::unique_ptr<SnapshotScheduler> scheduler_;
  int shipped_ = 0, failed_ = 0;
  uint8_t n_ = 0;
};

TEST(AsyncDr, ShipsEverySnapshotAndBoundsTheRecoveryPoint) {
  Sites s(1);
  s.Writes(seconds(20));
  EXPECT_GE(s.shipped_, 7);
  EXPECT_EQ(s.sender_->stats().full_rounds, 1u);  // the first round only
  EXPECT_LT(s.sender_->stats().blocks_sent, uint64_t{s.sender_->stats().rounds} * kBlocks);
  // The schedule runs every 2 s; a round crosses the WAN in well under one.
  std::optional<Duration> max = s.sender_->MaxRpo("v");
  ASSERT_TRUE(max.has_value());
  EXPECT_LE(*max, seconds(4)) << ToSeconds(*max) << " s";
  EXPECT_FALSE(s.loop_.sink().SamplesNamed("storage.dr.rpo_s").empty());
  s.loop_.RunFor(seconds(3));  // writes stopped: the last round lands
  s.ExpectStandbyIsTheAppliedSnapshot();
}

TEST(AsyncDr, SurvivesALossyWanAndARemoteRestart) {
  Sites s(2);
  s.plan_.set_drop_rate(0.1);
  s.plan_.set_duplicate_rate(0.05);
  s.Writes(seconds(8));
  const int before = s.shipped_;
  EXPECT_GE(before, 2);
  s.CrashRemote();
  s.Writes(seconds(3));
  s.loop_.Restart(4);
  s.StartRemote();
  s.Writes(seconds(10));
  s.plan_.set_drop_rate(0);
  s.plan_.set_duplicate_rate(0);
  s.loop_.RunFor(seconds(5));
  EXPECT_GT(s.shipped_, before + 2);
  s.ExpectStandbyIsTheAppliedSnapshot();
  EXPECT_GT(s.sender_->stats().resends, 0u);
}

TEST(AsyncDr, GarbageOnTheWireIsIgnored) {
  Sites s(3);
  Random r(23);
  for (int i = 0; i < 3000; ++i) {
    Bytes junk(r.Uniform(96));
    for (auto& b : junk) b = static_cast<uint8_t>(r.Next());
    if (junk.size() >= 4 && r.Chance(0.7)) {  // a valid header, then junk
      junk[0] = 0x52;
      junk[1] = 0x44;
      junk[2] = 1;
      junk[3] = static_cast<uint8_t>(r.Uniform(5));
    }
    const bool to_receiver = r.Chance(0.5);
    s.envs_[to_receiver ? 1 : 4]->Send(to_receiver ? 4 : 1, to_receiver ? kDrPort : kDrSenderPort, junk);
  }
  s.Writes(seconds(8));
  EXPECT_GE(s.shipped_, 2);
  s.loop_.RunFor(seconds(3));
  s.ExpectStandbyIsTheAppliedSnapshot();
}

}  // namespace
}  // namespace edgebed::storage
