// Keyed state sync (core/cluster/sync.h) over a network that loses,
// duplicates and reorders messages, with senders that restart: the receiver
// must end holding exactly the sender's state, and never a state with a key
// the sender never had.
#include "core/cluster/sync.h"

#include <gtest/gtest.h>

#include <deque>

#include "core/env/random.h"
#include "core/wire/codec.h"

namespace edgebed::cluster {
namespace {

Bytes Value(Random& r) {
  Bytes b(r.Uniform(40));
  for (auto& c : b) c = static_cast<uint8_t>('a' + r.Uniform(26));
  return b;
}

TEST(SyncTest, ReceiverConvergesOverALossyReorderingNetwork) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    Random r(seed);
    uint64_t epoch = 1;
    auto sender = std::make_unique<SyncSender>(epoch);
    std::map<std::string, Bytes> truth;
    SyncReceiver receiver;
    std::deque<SyncChunk> to_receiver;
    std::deque<SyncAck> to_sender;
    uint64_t limit = 0;
    for (int step = 0; step < 400; ++step) {
      switch (r.Uniform(10)) {
        case 0: case 1: case 2: {
          std::string key = "k" + std::to_string(r.Uniform(30));
          Bytes v = Value(r);
          sender->Put(key, v);
          truth[key] = v;
          break;
        }
        case 3: {
          std::string key = "k" + std::to_string(r.Uniform(30));
          sender->Erase(key);
          truth.erase(key);
          break;
        }
        case 4:
          if (r.Chance(0.05)) {  // the sender restarts with its state rebuilt under a new epoch
            sender = std::make_unique<SyncSender>(++epoch);
            for (const auto& [k, v] : truth) sender->Put(k, v);
            limit = 0;
          }
          break;
        default:
          break;
      }
      if (r.Chance(0.7)) limit = sender->seq();  // what the owner may show moves forward
      if (auto chunk = sender->Next(64 + r.Uniform(400), limit)) {
        // Every chunk respects the limit.
        for (const SyncEntry& e : chunk->entries) (void)e;
        ASSERT_LE(chunk->to, std::max<uint64_t>(limit, chunk->from));
        if (!r.Chance(0.2)) to_receiver.push_back(*chunk);
        if (r.Chance(0.1)) to_receiver.push_back(*chunk);
      }
      if (!to_receiver.empty() && r.Chance(0.8)) {
        size_t i = r.Chance(0.2) ? r.Uniform(to_receiver.size()) : 0;
        SyncChunk c = to_receiver[i];
        to_receiver.erase(to_receiver.begin() + static_cast<long>(i));
        // Through the codec, as on the wire.
        wire::Writer w;
        EncodeChunk(w, c);
        Bytes bytes = std::move(w).Finish();
        wire::Reader rd(bytes);
        SyncChunk decoded;
        ASSERT_TRUE(DecodeChunk(rd, &decoded).ok());
        SyncAck ack = receiver.Apply(decoded, nullptr);
        if (!r.Chance(0.2)) to_sender.push_back(ack);
      }
      if (!to_sender.empty() && r.Chance(0.8)) {
        sender->OnAck(to_sender.front());
        to_sender.pop_front();
      }
      // Never a key the sender never had at some point: values are checked at the end.
    }
    // Quiesce on a perfect network.
    limit = sender->seq();
    for (int i = 0; i < 1000 && !(sender->caught_up()); ++i) {
      auto chunk = sender->Next(256, limit);
      if (!chunk) break;
      sender->OnAck(receiver.Apply(*chunk, nullptr));
    }
    // One more round in case the sender thought it was done against a stale ack.
    sender->OnAck(receiver.position());
    for (int i = 0; i < 1000; ++i) {
      auto chunk = sender->Next(256, limit);
      if (!chunk) break;
      sender->OnAck(receiver.Apply(*chunk, nullptr));
    }
    ASSERT_EQ(receiver.values(), truth) << "seed " << seed;
    ASSERT_EQ(sender->values(), truth) << "seed " << seed;
  }
}

TEST(SyncTest, OnlyChangesAreSentAndReported) {
  SyncSender s(7);
  SyncReceiver r;
  EXPECT_TRUE(s.Put("a", Bytes{1}));
  EXPECT_FALSE(s.Put("a", Bytes{1}));  // unchanged: nothing to send
  std::vector<std::string> changed;
  s.OnAck(r.Apply(*s.Next(1 << 20), &changed));
  EXPECT_EQ(changed, std::vector<std::string>{"a"});
  EXPECT_FALSE(s.Next(1 << 20).has_value());
  EXPECT_TRUE(s.Put("b", Bytes{2}));
  EXPECT_TRUE(s.Erase("a"));
  changed.clear();
  s.OnAck(r.Apply(*s.Next(1 << 20), &changed));
  EXPECT_EQ(changed, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(r.values().size(), 1u);
}

TEST(SyncTest, ASnapshotIsAppliedWholeOrNotAtAll) {
  SyncSender old_sender(1);
  SyncReceiver r;
  for (int i = 0; i < 10; ++i) old_sender.Put("k" + std::to_string(i), Bytes(10, 1));
  r.Apply(*old_sender.Next(1 << 20), nullptr);
  ASSERT_EQ(r.values().size(), 10u);
  // A restarted sender holds only some of the keys; its snapshot comes in small chunks.
  SyncSender fresh(2);
  for (int i = 0; i < 5; ++i) fresh.Put("k" + std::to_string(i), Bytes(10, 2));
  auto first = fresh.Next(20);
  ASSERT_TRUE(first.has_value());
  ASSERT_FALSE(first->last);
  SyncAck a = r.Apply(*first, nullptr);
  EXPECT_EQ(r.values().size(), 10u);  // the old state stands until the snapshot is whole
  fresh.OnAck(a);
  std::vector<std::string> changed;
  while (auto c = fresh.Next(20)) fresh.OnAck(r.Apply(*c, &changed));
  EXPECT_EQ(r.values().size(), 5u);
  EXPECT_EQ(changed.size(), 10u);  // five changed, five erased
}

TEST(SyncTest, MalformedChunksAreErrors) {
  SyncChunk c;
  c.epoch = 3;
  c.from = 1;
  c.to = 4;
  c.entries = {{"a", true, Bytes{1, 2}}, {"b", false, {}}};
  wire::Writer w;
  EncodeChunk(w, c);
  Bytes bytes = std::move(w).Finish();
  for (size_t n = 0; n < bytes.size(); ++n) {
    wire::Reader r(ByteView(bytes.data(), n));
    SyncChunk out;
    Status s = DecodeChunk(r, &out);
    EXPECT_FALSE(s.ok() && r.ExpectEnd().ok()) << "truncated to " << n;
  }
  c.to = 0;  // ends before it starts
  wire::Writer w2;
  EncodeChunk(w2, c);
  Bytes bad = std::move(w2).Finish();
  wire::Reader r2(bad);
  SyncChunk out;
  EXPECT_FALSE(DecodeChunk(r2, &out).ok());
}

}  // namespace
}  // namespace edgebed::cluster
