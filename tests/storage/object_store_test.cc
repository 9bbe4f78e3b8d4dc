#include "core/storage/object_store.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/env/fault_env.h"
#include "core/env/random.h"
#include "core/env/test_loop.h"

namespace edgebed::storage {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr NodeId kCloud = 0;
constexpr const char* kBucket = "cloudsnaps";

// The cloud is 40 ms away, one way.
TestNetwork Wan() {
  TestNetwork n;
  n.latency = milliseconds(40);
  n.jitter = milliseconds(2);
  return n;
}

Bytes RandomBytes(Random& random, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(random.Next());
  return b;
}

Bytes Text(const std::string& s) { return ToBytes(s); }

// The value, or a test failure (not an abort) and an empty value.
template <typename T>
T Must(StatusOr<T> v) {
  if (!v.ok()) {
    ADD_FAILURE() << v.status().ToString();
    return T{};
  }
  return std::move(*v);
}

struct WorldOptions {
  uint64_t seed = 1;
  int clients = 1;
  TestNetwork net = Wan();
  ObjectStoreClientOptions client;
  ObjectStoreServerOptions server;
};

// The object store on node 0 and its clients on nodes 1..n, every node behind
// one fault plan.
class World {
 public:
  explicit World(WorldOptions o = {}) : o_(o), loop_(o.seed, o.net) {
    for (int i = 0; i <= o.clients; ++i) {
      envs_.push_back(std::make_unique<FaultEnv>(loop_.env(loop_.AddNode()), plan_));
    }
    StartServer();
    for (int i = 1; i <= o.clients; ++i) StartClient(i, o.client);
  }

  TestLoop& loop() { return loop_; }
  FaultPlan& plan() { return plan_; }
  Env& env(NodeId n) { return *envs_.at(n); }
  ObjectStoreServer& server() { return *server_; }
  ObjectStoreClient& client(int c = 1) { return *clients_.at(c); }

  void StartServer() { server_ = std::make_unique<ObjectStoreServer>(*envs_[kCloud], o_.server); }
  void StartClient(int c, ObjectStoreClientOptions options) {
    clients_[c] = std::make_unique<ObjectStoreClient>(*envs_.at(c), kCloud, options);
  }
  void StopClient(int c) { clients_.erase(c); }
  void CrashServer() {
    server_.reset();
    loop_.Crash(kCloud);
  }
  void RestartServer() {
    loop_.Restart(kCloud);
    StartServer();
  }
  bool AwaitReady(Duration limit = seconds(5)) {
    return RunUntil([&] { return server_ && server_->ready(); }, limit);
  }

  // Runs events until `done()` or `limit` of simulated time has passed.
  template <typename Pred>
  bool RunUntil(Pred done, Duration limit) {
    const Time end = loop_.now() + limit;
    while (!done()) {
      if (loop_.now() >= end || !loop_.Step()) return done();
    }
    return true;
  }

  // Starts an operation and runs until it answers.
  template <typename T, typename Start>
  T Await(Start start, Duration limit) {
    auto result = std::make_shared<std::optional<T>>();
    start([result](T v) { *result = std::move(v); });
    RunUntil([&] { return result->has_value(); }, limit);
    if (result->has_value()) return std::move(**result);
    return T(Status(StatusCode::kDeadlineExceeded, "the test gave up waiting"));
  }

  Status Put(const std::string& key, Bytes data, int c = 1, const std::string& bucket = kBucket) {
    return Await<Status>([&](auto done) { client(c).Put(bucket, key, std::move(data), done); }, seconds(600));
  }
  StatusOr<Bytes> Get(const std::string& key, int c = 1, const std::string& bucket = kBucket) {
    return Await<StatusOr<Bytes>>([&](auto done) { client(c).Get(bucket, key, done); }, seconds(600));
  }
  StatusOr<uint64_t> Head(const std::string& key, int c = 1) {
    return Await<StatusOr<uint64_t>>([&](auto done) { client(c).Head(kBucket, key, done); }, seconds(600));
  }
  StatusOr<std::vector<std::string>> List(const std::string& prefix, int c = 1,
                                          const std::string& bucket = kBucket) {
    return Await<StatusOr<std::vector<std::string>>>([&](auto done) { client(c).List(bucket, prefix, done); },
                                                     seconds(600));
  }
  Status Delete(const std::string& key, int c = 1) {
    return Await<Status>([&](auto done) { client(c).Delete(kBucket, key, done); }, seconds(600));
  }

  // A file's size on the cloud's disk; 0 if it does not exist.
  uint64_t FileSize(const std::string& file) {
    auto size = Await<StatusOr<uint64_t>>([&](auto done) { loop_.disk(kCloud).Size(file, done); }, seconds(1));
    return size.ok() ? *size : 0;
  }
  // Bytes on the cloud's disk beyond its two log files: the blobs.
  uint64_t BlobBytes() {
    return loop_.disk(kCloud).bytes_stored() - FileSize("objstore/log.0") - FileSize("objstore/log.1");
  }

 private:
  WorldOptions o_;
  TestLoop loop_;
  FaultPlan plan_;
  std::vector<std::unique_ptr<FaultEnv>> envs_;
  std::unique_ptr<ObjectStoreServer> server_;
  std::map<int, std::unique_ptr<ObjectStoreClient>> clients_;
};

ObjectStoreClientOptions SmallChunks(uint32_t chunk_size = 4096) {
  ObjectStoreClientOptions o;
  o.chunk_size = chunk_size;
  return o;
}

// ---------------------------------------------------------------------------

TEST(ObjectStoreNamesTest, BucketsFollowS3Rules) {
  EXPECT_TRUE(ValidateBucketName("cloudsnaps").ok());
  EXPECT_TRUE(ValidateBucketName("px-backups.site-1").ok());
  EXPECT_TRUE(ValidateBucketName("abc").ok());
  for (const char* bad : {"", "ab", "Backups", "under_score", "-lead", "trail-", "a..b", "with space"}) {
    const Status s = ValidateBucketName(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.where(), "bucket");
  }
  EXPECT_FALSE(ValidateBucketName(std::string(64, 'a')).ok());
}

TEST(ObjectStoreNamesTest, KeysHaveNoEmptyDotOrControlParts) {
  for (const char* good : {"a", "floor-1/db/snap-7", "dir/", "a..b", ".hidden", "x/.y/z"}) {
    EXPECT_TRUE(ValidateObjectKey(good).ok()) << good;
  }
  for (const char* bad : {"", "..", "../etc/passwd", "a/../b", "a/./b", "a/..", ".", "/abs", "tab\there"}) {
    EXPECT_EQ(ValidateObjectKey(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ValidateObjectKey(std::string(kMaxObjectKeySize, 'k')).ok());
  EXPECT_FALSE(ValidateObjectKey(std::string(kMaxObjectKeySize + 1, 'k')).ok());
}

TEST(ObjectStoreTest, SmallObjectRoundTrip) {
  World w;
  ASSERT_TRUE(w.AwaitReady());
  ASSERT_TRUE(w.Put("floor-1/db/snap-1", Text("hello, cloud")).ok());
  StatusOr<Bytes> got = w.Get("floor-1/db/snap-1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, Text("hello, cloud"));
  StatusOr<uint64_t> size = w.Head("floor-1/db/snap-1");
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 12u);
  EXPECT_EQ(w.server().object_count(), 1u);
}

TEST(ObjectStoreTest, EmptyObjectRoundTrip) {
  World w;
  ASSERT_TRUE(w.Put("empty", {}).ok());
  StatusOr<Bytes> got = w.Get("empty");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->empty());
  EXPECT_EQ(Must(w.Head("empty")), 0u);
}

TEST(ObjectStoreTest, MultiChunkObjectRoundTripOverWan) {
  World w;
  Random random(11);
  const Bytes big = RandomBytes(random, (5u << 20) + 12345);  // six 1 MiB chunks, the last short
  ASSERT_TRUE(w.Put("snap/big", big).ok());
  EXPECT_EQ(w.server().stats().chunks_stored, 6u);
  StatusOr<Bytes> got = w.Get("snap/big");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == big);
  const auto put_rates = w.loop().sink().SamplesNamed("objectstore.put_bytes_per_s");
  const auto get_rates = w.loop().sink().SamplesNamed("objectstore.get_bytes_per_s");
  ASSERT_EQ(put_rates.size(), 1u);
  ASSERT_EQ(get_rates.size(), 1u);
  EXPECT_GT(put_rates[0].value, 0);
  EXPECT_EQ(put_rates[0].labels, "bucket=cloudsnaps");
  EXPECT_EQ(put_rates[0].node, 1u);
}

TEST(ObjectStoreTest, OverwriteReplacesWholeObject) {
  World w(WorldOptions{1, 1, Wan(), SmallChunks(1000), {}});
  Random random(3);
  const Bytes v1 = RandomBytes(random, 9000), v2 = RandomBytes(random, 2500);
  ASSERT_TRUE(w.Put("k", v1).ok());
  ASSERT_TRUE(w.Put("k", v2).ok());
  EXPECT_TRUE(Must(w.Get("k")) == v2);
  EXPECT_EQ(w.server().object_count(), 1u);
  w.RunUntil([] { return false; }, seconds(2));  // the old blob goes
  EXPECT_EQ(w.BlobBytes(), v2.size());
}

TEST(ObjectStoreTest, ListIsSortedFilteredByPrefixAndPaged) {
  WorldOptions o;
  o.client.list_page = 2;  // several pages per listing
  World w(o);
  for (const char* k : {"a/3", "b/1", "a/1", "a/10", "ab", "a/2", "a/"}) ASSERT_TRUE(w.Put(k, Text(k)).ok());
  ASSERT_TRUE(w.Put("a/1", Text("x"), 1, "other-bucket").ok());
  StatusOr<std::vector<std::string>> a = w.List("a/");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, (std::vector<std::string>{"a/", "a/1", "a/10", "a/2", "a/3"}));
  EXPECT_EQ(Must(w.List("a")), (std::vector<std::string>{"a/", "a/1", "a/10", "a/2", "a/3", "ab"}));
  EXPECT_EQ(Must(w.List("")), (std::vector<std::string>{"a/", "a/1", "a/10", "a/2", "a/3", "ab", "b/1"}));
  EXPECT_EQ(Must(w.List("a/1")), (std::vector<std::string>{"a/1", "a/10"}));
  EXPECT_TRUE(Must(w.List("c")).empty());
  EXPECT_EQ(Must(w.List("", 1, "other-bucket")), (std::vector<std::string>{"a/1"}));
  EXPECT_TRUE(Must(w.List("", 1, "no-such-bucket")).empty());
}

TEST(ObjectStoreTest, DeleteIsIdempotentAndMissingObjectsAreNotFound) {
  World w;
  ASSERT_TRUE(w.Put("gone-soon", Text("x")).ok());
  ASSERT_TRUE(w.Delete("gone-soon").ok());
  EXPECT_EQ(w.Get("gone-soon").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(w.Head("gone-soon").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(w.Delete("gone-soon").ok());
  EXPECT_TRUE(w.Delete("never-was").ok());
  EXPECT_EQ(w.Get("never-was").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Must(w.List("")).empty());
  EXPECT_EQ(w.server().stats().deletes, 1u);
}

TEST(ObjectStoreTest, BadNamesAreRefusedByClientAndServer) {
  WorldOptions o;
  o.clients = 2;
  World w(o);
  ObjectStoreClientOptions unchecked;
  unchecked.check_names = false;  // client 2 sends whatever it is given: the server must refuse
  unchecked.port = kObjectStoreClientPort + 1;
  w.StartClient(2, unchecked);
  for (int c : {1, 2}) {
    SCOPED_TRACE(c);
    EXPECT_EQ(w.Put("../escape", Text("x"), c).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(w.Put("", Text("x"), c).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(w.Put(std::string(kMaxObjectKeySize + 1, 'k'), Text("x"), c).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(w.Put("ok-key", Text("x"), c, "Bad_Bucket").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(w.Get("a/../b", c).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(w.Delete("/abs", c).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(w.List("", c, "x").status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(w.Put("too-big", Bytes(kMaxObjectSize + 1), 2).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.server().object_count(), 0u);
  EXPECT_TRUE(w.Put("fine", Text("x"), 2).ok());
}

TEST(ObjectStoreTest, CrashBeforeLastChunkLeavesNoObject) {
  WorldOptions o;
  o.client.window = 1;  // one chunk at a time: the crash falls between chunks
  World w(o);
  Random random(5);
  ASSERT_TRUE(w.Put("keep", Text("acknowledged earlier")).ok());
  auto answered = std::make_shared<bool>(false);
  w.client().Put(kBucket, "partial", RandomBytes(random, 5u << 20), [answered](Status) { *answered = true; });
  ASSERT_TRUE(w.RunUntil([&] { return w.server().stats().chunks_stored == 5; }, seconds(60)));  // 1 + 4 of 5
  w.CrashServer();
  w.StopClient(1);  // the storage node gives up too, so nothing sends the object again
  EXPECT_FALSE(*answered);
  w.RestartServer();
  ASSERT_TRUE(w.AwaitReady());
  w.StartClient(1, {});
  EXPECT_EQ(w.Head("partial").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Must(w.List("")), std::vector<std::string>{"keep"});
  EXPECT_EQ(Must(w.Get("keep")), Text("acknowledged earlier"));
  // The chunks that made it to disk were found and removed.
  w.RunUntil([] { return false; }, seconds(2));
  EXPECT_EQ(w.BlobBytes(), Text("acknowledged earlier").size());
  EXPECT_GE(w.server().stats().blobs_removed, 1u);
}

TEST(ObjectStoreTest, CrashAfterAckKeepsObjectIntact) {
  World w;
  Random random(6);
  const Bytes v1 = RandomBytes(random, 3u << 20), v2 = RandomBytes(random, (2u << 20) + 7);
  ASSERT_TRUE(w.Put("snap", v1).ok());
  ASSERT_TRUE(w.Put("snap", v2).ok());
  ASSERT_TRUE(w.Put("other", Text("small")).ok());
  ASSERT_TRUE(w.Delete("other").ok());
  w.CrashServer();  // at once: nothing after the acknowledgements ran
  w.RestartServer();
  ASSERT_TRUE(w.AwaitReady());
  StatusOr<Bytes> got = w.Get("snap");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == v2);
  EXPECT_EQ(w.Head("other").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(w.client().stats().server_restarts, 1u);
}

TEST(ObjectStoreTest, ClientRidesOutServerRestartMidUpload) {
  World w;
  Random random(8);
  const Bytes big = RandomBytes(random, 4u << 20);
  auto result = std::make_shared<std::optional<Status>>();
  w.client().Put(kBucket, "survivor", big, [result](Status s) { *result = s; });
  ASSERT_TRUE(w.RunUntil([&] { return w.server().stats().chunks_stored >= 2; }, seconds(60)));
  w.CrashServer();
  w.loop().RunFor(seconds(3));
  w.RestartServer();
  ASSERT_TRUE(w.RunUntil([&] { return result->has_value(); }, seconds(60)));
  ASSERT_TRUE(result->value().ok()) << result->value().ToString();
  EXPECT_TRUE(Must(w.Get("survivor")) == big);
  EXPECT_EQ(w.client().stats().server_restarts, 1u);
}

TEST(ObjectStoreTest, RetriesThroughLossDuplicationAndReordering) {
  WorldOptions o;
  o.client.chunk_size = 64 << 10;
  World w(o);
  w.plan().set_drop_rate(0.2);
  w.plan().set_duplicate_rate(0.2);
  w.plan().set_delay(Duration::zero(), milliseconds(30));  // reorders
  Random random(9);
  std::map<std::string, Bytes> objects;
  for (int i = 0; i < 6; ++i) {
    const std::string key = "lossy/" + std::to_string(i);
    objects[key] = RandomBytes(random, i == 0 ? (2u << 20) : random.Uniform(200000));
    ASSERT_TRUE(w.Put(key, objects[key]).ok()) << key;
  }
  ASSERT_TRUE(w.Delete("lossy/3").ok());
  objects.erase("lossy/3");
  ASSERT_TRUE(w.Put("lossy/1", Text("replaced")).ok());
  objects["lossy/1"] = Text("replaced");
  for (const auto& [key, data] : objects) {
    StatusOr<Bytes> got = w.Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
    EXPECT_TRUE(*got == data) << key;
  }
  std::vector<std::string> keys;
  for (const auto& [key, data] : objects) keys.push_back(key);
  EXPECT_EQ(Must(w.List("lossy/")), keys);
  EXPECT_GT(w.plan().stats().dropped, 10u);
  EXPECT_GT(w.plan().stats().duplicated, 10u);
  EXPECT_GT(w.client().stats().retransmissions, 0u);
  EXPECT_EQ(w.server().stats().puts_committed, 7u);  // duplicates applied nothing twice
  EXPECT_EQ(w.server().stats().deletes, 1u);
}

TEST(ObjectStoreTest, UnreachableServerFailsUnavailableAfterDeadline) {
  WorldOptions o;
  o.client.deadline = seconds(5);
  World w(o);
  ASSERT_TRUE(w.Put("before", Text("x")).ok());
  w.plan().Isolate(kCloud);
  const Time start = w.loop().now();
  EXPECT_EQ(w.Put("during", Text("y")).code(), StatusCode::kUnavailable);
  EXPECT_GE(w.loop().now() - start, seconds(5));
  EXPECT_LT(w.loop().now() - start, seconds(7));
  EXPECT_EQ(w.Get("before").status().code(), StatusCode::kUnavailable);
  w.plan().Heal();
  EXPECT_TRUE(w.Put("after", Text("z")).ok());
  EXPECT_EQ(Must(w.Get("before")), Text("x"));
}

TEST(ObjectStoreTest, AbandonedUploadExpiresAndFreesItsBlob) {
  WorldOptions o;
  o.client.window = 1;
  o.server.upload_idle_timeout = seconds(2);
  World w(o);
  Random random(4);
  w.client().Put(kBucket, "abandoned", RandomBytes(random, 3u << 20), [](Status) {});
  ASSERT_TRUE(w.RunUntil([&] { return w.server().stats().chunks_stored == 2; }, seconds(60)));
  w.StopClient(1);
  EXPECT_GT(w.BlobBytes(), 0u);
  w.loop().RunFor(seconds(5));
  EXPECT_EQ(w.server().stats().uploads_expired, 1u);
  EXPECT_EQ(w.BlobBytes(), 0u);
  EXPECT_EQ(w.server().object_count(), 0u);
}

TEST(ObjectStoreTest, LogCompactionKeepsEverythingAcrossCrashes) {
  WorldOptions o;
  o.server.compact_min_bytes = 512;
  World w(o);
  std::map<std::string, Bytes> expect;
  uint64_t compactions = 0;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 80; ++i) {
      const std::string key = "k" + std::to_string((i * 7 + round) % 13);
      if (i % 5 == 4) {
        ASSERT_TRUE(w.Delete(key).ok());
        expect.erase(key);
      } else {
        const Bytes v = Text(key + "@" + std::to_string(round) + "." + std::to_string(i));
        ASSERT_TRUE(w.Put(key, v).ok());
        expect[key] = v;
      }
    }
    compactions += w.server().stats().compactions;
    w.CrashServer();
    w.RestartServer();
    ASSERT_TRUE(w.AwaitReady());
    std::vector<std::string> keys;
    for (const auto& [k, v] : expect) {
      keys.push_back(k);
      EXPECT_EQ(Must(w.Get(k)), v) << k;
    }
    EXPECT_EQ(Must(w.List("")), keys);
  }
  // One at every start, and more as the log grew past four times what is live.
  EXPECT_GE(compactions, 6u);
}

// Upload speed over a 40 ms, 1 Gbit/s link: pipelined chunks vs. one at a time.
double PutRate(size_t window) {
  WorldOptions o;
  o.net.bandwidth_bps = 1e9;
  o.client.window = window;
  World w(o);
  Random random(12);
  EXPECT_TRUE(w.Put("rate", RandomBytes(random, 16u << 20)).ok());
  const auto rates = w.loop().sink().SamplesNamed("objectstore.put_bytes_per_s");
  return rates.empty() ? 0 : rates.back().value;
}

TEST(ObjectStoreTest, WindowPipelinesLargeUploads) {
  const double stop_and_wait = PutRate(1), pipelined = PutRate(8);
  EXPECT_GT(pipelined, 3 * stop_and_wait) << "window 1: " << stop_and_wait << " B/s, window 8: " << pipelined;
}

TEST(ObjectStoreTest, SameSeedSameRun) {
  const auto run = [] {
    WorldOptions o;
    o.seed = 77;
    o.client.chunk_size = 32 << 10;
    World w(o);
    w.plan().set_drop_rate(0.1);
    w.plan().set_duplicate_rate(0.1);
    Random random(1);
    EXPECT_TRUE(w.Put("det", RandomBytes(random, 300000)).ok());
    EXPECT_TRUE(w.Get("det").ok());
    return w.loop().trace_digest();
  };
  EXPECT_EQ(run(), run());
}

// A client whose every message is duplicated, the copies up to 1.5 s late:
// a late copy of its finished Put or Delete must not undo another client's
// later write of the same key.
TEST(ObjectStoreTest, LateDuplicatesNeverUndoAnotherClientsWrite) {
  TestLoop loop(5, Wan());
  const NodeId cloud = loop.AddNode(), a = loop.AddNode(), b = loop.AddNode();
  FaultPlan echoing;
  echoing.set_duplicate_rate(1.0);
  echoing.set_delay(Duration::zero(), milliseconds(1500));
  FaultEnv a_env(loop.env(a), echoing);
  ObjectStoreServer server(loop.env(cloud));
  ObjectStoreClient client_a(a_env, cloud), client_b(loop.env(b), cloud);
  const auto await = [&](auto start) {
    auto result = std::make_shared<std::optional<Status>>();
    start([result](Status s) { *result = s; });
    while (!result->has_value() && loop.Step()) {
    }
    return result->value_or(Internal("no answer"));
  };
  for (int i = 0; i < 12; ++i) {
    SCOPED_TRACE(i);
    const std::string key = "contested/" + std::to_string(i);
    if (i % 2 == 0) {
      ASSERT_TRUE(await([&](auto done) { client_a.Put(kBucket, key, Text("from a"), done); }).ok());
    } else {
      ASSERT_TRUE(await([&](auto done) { client_a.Delete(kBucket, key, done); }).ok());
    }
    ASSERT_TRUE(await([&](auto done) { client_b.Put(kBucket, key, Text("from b"), done); }).ok());
    loop.RunFor(seconds(2));  // every late copy of a's has arrived
    auto got = std::make_shared<std::optional<StatusOr<Bytes>>>();
    client_b.Get(kBucket, key, [got](StatusOr<Bytes> v) { *got = std::move(v); });
    while (!got->has_value() && loop.Step()) {
    }
    EXPECT_EQ(Must(std::move(**got)), Text("from b"));
  }
  EXPECT_GE(echoing.stats().duplicated, 12u);
}

// Records every message its node sends.
class RecordingEnv final : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  void Send(NodeId to, Port port, Bytes message) override {
    sent.push_back(message);
    EnvWrapper::Send(to, port, std::move(message));
  }
  std::vector<Bytes> sent;
};

TEST(ObjectStoreTest, MalformedMessagesNeverCrashAndServiceGoesOn) {
  TestLoop loop(21, Wan());
  const NodeId cloud = loop.AddNode(), node = loop.AddNode(), rogue = loop.AddNode();
  RecordingEnv cloud_env(loop.env(cloud)), node_env(loop.env(node));
  auto server = std::make_unique<ObjectStoreServer>(cloud_env);
  ObjectStoreClientOptions options;
  options.chunk_size = 1024;
  options.deadline = seconds(5);
  ObjectStoreClient client(node_env, cloud, options);
  const auto run_until = [&](const std::function<bool()>& done) {
    const Time end = loop.now() + seconds(120);
    while (!done() && loop.now() < end && loop.Step()) {
    }
    return done();
  };
  auto count = std::make_shared<int>(0);
  Random random(33);
  const Bytes keep = RandomBytes(random, 5000);
  // Real traffic of every kind, to mutate.
  client.Put("keep", "obj", keep, [count](Status s) { *count += s.ok(); });
  client.Put("fuzz", "a/b", RandomBytes(random, 3000), [count](Status s) { *count += s.ok(); });
  ASSERT_TRUE(run_until([&] { return *count == 2; }));
  client.Get("fuzz", "a/b", [count](StatusOr<Bytes> b) { *count += b.ok(); });
  client.Head("fuzz", "a/b", [count](StatusOr<uint64_t> s) { *count += s.ok(); });
  client.List("fuzz", "a", [count](StatusOr<std::vector<std::string>> k) { *count += k.ok(); });
  client.Delete("fuzz", "nothing", [count](Status s) { *count += s.ok(); });
  client.Get("fuzz", "missing", [count](StatusOr<Bytes> b) { *count += b.status().code() == StatusCode::kNotFound; });
  ASSERT_TRUE(run_until([&] { return *count == 7; }));
  const std::vector<Bytes> requests = node_env.sent, answers = cloud_env.sent;
  ASSERT_FALSE(requests.empty());
  ASSERT_FALSE(answers.empty());

  const auto mutate = [&random](Bytes m) {
    switch (random.Uniform(5)) {
      case 0:  // flip bytes
        for (uint64_t i = 0, n = 1 + random.Uniform(4); i < n && !m.empty(); ++i) {
          m[random.Uniform(m.size())] ^= static_cast<uint8_t>(1 + random.Uniform(255));
        }
        break;
      case 1:  // truncate
        m.resize(random.Uniform(m.size() + 1));
        break;
      case 2:  // trailing garbage
        for (uint64_t i = 0, n = 1 + random.Uniform(16); i < n; ++i) m.push_back(static_cast<uint8_t>(random.Next()));
        break;
      case 3:  // a varint-sized field blown up
        if (m.size() > 6) {
          const size_t at = 5 + random.Uniform(m.size() - 5);
          for (size_t i = at; i < std::min(m.size(), at + 10); ++i) m[i] = 0xff;
        }
        break;
      default:  // another type
        if (m.size() >= 5) m[3] = static_cast<uint8_t>(random.Uniform(24));
        break;
    }
    return m;
  };
  for (int i = 0; i < 3000; ++i) {
    loop.env(rogue).Send(cloud, kObjectStorePort, RandomBytes(random, random.Uniform(80)));
    loop.env(rogue).Send(cloud, kObjectStorePort, mutate(requests[random.Uniform(requests.size())]));
    // Answers forged as if from the cloud, to the client.
    loop.env(cloud).Send(node, kObjectStoreClientPort, mutate(answers[random.Uniform(answers.size())]));
    loop.env(cloud).Send(node, kObjectStoreClientPort, RandomBytes(random, random.Uniform(80)));
    if (i % 100 == 0) loop.RunFor(milliseconds(50));
  }
  loop.RunFor(seconds(2));
  EXPECT_GT(server->stats().bad_messages, 1000u);
  // Still serving, and what was acknowledged is intact.
  *count = 0;
  auto got = std::make_shared<std::optional<StatusOr<Bytes>>>();
  client.Get("keep", "obj", [got](StatusOr<Bytes> b) { *got = std::move(b); });
  client.Put("fuzz", "after", Text("still here"), [count](Status s) { *count += s.ok(); });
  ASSERT_TRUE(run_until([&] { return *count == 1 && got->has_value(); }));
  ASSERT_TRUE(got->value().ok()) << got->value().status().ToString();
  EXPECT_TRUE(*got->value() == keep);
  // And it recovers from a disk the fuzzing wrote to.
  server.reset();
  loop.Crash(cloud);
  loop.Restart(cloud);
  server = std::make_unique<ObjectStoreServer>(cloud_env);
  *got = std::nullopt;
  client.Get("keep", "obj", [got](StatusOr<Bytes> b) { *got = std::move(b); });
  ASSERT_TRUE(run_until([&] { return got->has_value(); }));
  ASSERT_TRUE(got->value().ok()) << got->value().status().ToString();
  EXPECT_TRUE(*got->value() == keep);
}

// ---------------------------------------------------------------------------
// Property: random operations from two clients (each on its own keys, one
// operation at a time) under message loss, duplication, reordering, server
// crashes and disk errors, checked against what each key may hold. An
// acknowledged write fixes the key's contents; a failed one adds a
// possibility (it may or may not have happened) but can never take effect
// after the client's next operation.

using Possible = std::set<std::optional<Bytes>>;  // nullopt: absent

struct Driver {
  int client = 1;
  std::string prefix;
  std::map<std::string, Possible> keys;
  bool busy = false;
  int left = 0;
};

// What the runs exercised, so that the property is not vacuously true.
struct Tally {
  uint64_t ok = 0, unavailable = 0, reads_checked = 0, crashes = 0, restarts_seen = 0, disk_errors = 0;
};

void RunProperty(uint64_t seed, Tally& tally) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  Random random(MixSeed(seed, 0x0b5));
  WorldOptions o;
  o.seed = seed;
  o.clients = 2;
  o.net.jitter = milliseconds(5);
  o.client.chunk_size = 4096;
  o.client.window = 1 + random.Uniform(6);
  o.client.deadline = seconds(3);
  o.client.initial_timeout = milliseconds(300);
  o.client.min_timeout = milliseconds(100);
  o.client.max_timeout = seconds(1);
  o.client.list_page = 1 + random.Uniform(4);
  o.server.upload_idle_timeout = seconds(5);
  o.server.compact_min_bytes = 2048;
  World w(o);
  const double drops[] = {0, 0.05, 0.2};
  w.plan().set_drop_rate(drops[seed % 3]);
  w.plan().set_duplicate_rate(0.1);
  // Some seeds delay messages by more than a round trip, so that copies of
  // one operation's messages still arrive after the next operation is done.
  w.plan().set_delay(Duration::zero(), milliseconds(seed % 3 == 1 ? 600 : random.Uniform(30)));
  if (seed % 4 == 0) w.plan().set_disk_error_rate(0.02);

  std::vector<Driver> drivers(2);
  for (int c = 0; c < 2; ++c) {
    Driver& d = drivers[c];
    d.client = c + 1;
    d.prefix = "c" + std::to_string(d.client) + "/";
    for (int k = 0; k < 5; ++k) d.keys[d.prefix + "k" + std::to_string(k)] = {std::nullopt};
    d.left = 40;
  }
  const auto allowed_failure = [&tally](const Status& s) {
    ++tally.unavailable;
    return s.code() == StatusCode::kUnavailable;
  };

  const auto start = [&](Driver& d) {
    d.busy = true;
    --d.left;
    auto it = d.keys.begin();
    std::advance(it, random.Uniform(d.keys.size()));
    const std::string key = it->first;
    Possible* may = &it->second;
    ObjectStoreClient& client = w.client(d.client);
    switch (random.Uniform(6)) {
      case 0:
      case 1: {
        const Bytes value = RandomBytes(random, random.Uniform(4) == 0 ? 0 : random.Uniform(20000));
        client.Put(kBucket, key, value, [&d, may, value, allowed_failure, key](Status s) {
          d.busy = false;
          if (s.ok()) {
            *may = {value};
          } else {
            EXPECT_TRUE(allowed_failure(s)) << key << ": " << s.ToString();
            may->insert(value);
          }
        });
        break;
      }
      case 2:
        client.Delete(kBucket, key, [&d, may, allowed_failure, key](Status s) {
          d.busy = false;
          if (s.ok()) {
            *may = {std::nullopt};
          } else {
            EXPECT_TRUE(allowed_failure(s)) << key << ": " << s.ToString();
            may->insert(std::nullopt);
          }
        });
        break;
      case 3:
        client.Get(kBucket, key, [&d, &tally, may, allowed_failure, key](StatusOr<Bytes> b) {
          d.busy = false;
          if (b.ok()) {
            ++tally.reads_checked;
            EXPECT_TRUE(may->count(*b)) << key << ": read " << b->size() << " bytes nobody wrote";
          } else if (b.status().code() == StatusCode::kNotFound) {
            EXPECT_TRUE(may->count(std::nullopt)) << key << ": missing, yet its last write was acknowledged";
          } else {
            EXPECT_TRUE(allowed_failure(b.status())) << key << ": " << b.status().ToString();
          }
        });
        break;
      case 4:
        client.Head(kBucket, key, [&d, may, allowed_failure, key](StatusOr<uint64_t> size) {
          d.busy = false;
          if (size.ok()) {
            bool fits = false;
            for (const auto& v : *may) fits = fits || (v && v->size() == *size);
            EXPECT_TRUE(fits) << key << ": size " << *size;
          } else if (size.status().code() == StatusCode::kNotFound) {
            EXPECT_TRUE(may->count(std::nullopt)) << key;
          } else {
            EXPECT_TRUE(allowed_failure(size.status())) << key << ": " << size.status().ToString();
          }
        });
        break;
      default:
        client.List(kBucket, d.prefix, [&d, allowed_failure](StatusOr<std::vector<std::string>> keys) {
          d.busy = false;
          if (!keys.ok()) {
            EXPECT_TRUE(allowed_failure(keys.status())) << keys.status().ToString();
            return;
          }
          EXPECT_TRUE(std::is_sorted(keys->begin(), keys->end()));
          const std::set<std::string> listed(keys->begin(), keys->end());
          for (const auto& [key, may] : d.keys) {
            if (listed.count(key)) {
              EXPECT_TRUE(may.size() > 1 || *may.begin()) << key << " listed though deleted";
            } else {
              EXPECT_TRUE(may.count(std::nullopt)) << key << " not listed though written";
            }
          }
          for (const auto& k : listed) EXPECT_TRUE(d.keys.count(k)) << k;
        });
        break;
    }
  };

  const auto crash_gap = [&random] { return Duration(static_cast<int64_t>(random.Exponential(3e9))); };
  Time next_crash = w.loop().now() + crash_gap();
  Time restart_at{};
  bool down = false;
  int crashes = 0;
  const Time give_up = w.loop().now() + seconds(900);
  while (true) {
    bool active = false;
    for (Driver& d : drivers) {
      if (!d.busy && d.left > 0) start(d);
      active = active || d.busy;
    }
    if (!active) break;
    ASSERT_TRUE(w.loop().Step());
    ASSERT_LT(w.loop().now(), give_up) << "operations stopped finishing";
    const Time now = w.loop().now();
    if (!down && crashes < 4 && now >= next_crash) {
      w.CrashServer();
      down = true;
      ++crashes;
      restart_at = now + random.UniformDuration(Duration::zero(), seconds(4));
    } else if (down && now >= restart_at) {
      w.RestartServer();
      down = false;
      next_crash = now + crash_gap();
    }
  }
  if (down) w.RestartServer();
  for (int c = 1; c <= 2; ++c) {
    tally.ok += w.client(c).stats().ops_ok;
    tally.restarts_seen += w.client(c).stats().server_restarts;
  }
  tally.crashes += crashes;
  tally.disk_errors += w.plan().stats().disk_errors;

  // Calm: every key must hold one of its possible values, and the disk only
  // the live objects (no orphans once incomplete uploads expired).
  w.plan().set_drop_rate(0);
  w.plan().set_duplicate_rate(0);
  w.plan().set_disk_error_rate(0);
  ASSERT_TRUE(w.AwaitReady());
  uint64_t live_bytes = 0;
  for (Driver& d : drivers) {
    std::vector<std::string> written;
    for (const auto& [key, may] : d.keys) {
      StatusOr<Bytes> got = w.Get(key, d.client);
      if (got.ok()) {
        EXPECT_TRUE(may.count(*got)) << key;
        live_bytes += got->size();
        written.push_back(key);
      } else {
        EXPECT_EQ(got.status().code(), StatusCode::kNotFound) << key << ": " << got.status().ToString();
        EXPECT_TRUE(may.count(std::nullopt)) << key;
      }
    }
    EXPECT_EQ(Must(w.List(d.prefix, d.client)), written);
  }
  w.loop().RunFor(seconds(10));
  EXPECT_EQ(w.BlobBytes(), live_bytes);
}

TEST(ObjectStorePropertyTest, RandomOperationsAndFaultsMatchReference) {
  Tally tally;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    RunProperty(seed, tally);
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(tally.ok, 5000u);
  EXPECT_GT(tally.unavailable, 20u);  // some operations outlived their deadline during crashes
  EXPECT_GT(tally.reads_checked, 400u);
  EXPECT_GT(tally.crashes, 150u);
  EXPECT_GT(tally.restarts_seen, 150u);
  EXPECT_GT(tally.disk_errors, 100u);
  std::printf("ops ok %llu, unavailable %llu, reads checked %llu, crashes %llu, restarts seen %llu, disk errors %llu\n",
              static_cast<unsigned long long>(tally.ok), static_cast<unsigned long long>(tally.unavailable),
              static_cast<unsigned long long>(tally.reads_checked), static_cast<unsigned long long>(tally.crashes),
              static_cast<unsigned long long>(tally.restarts_seen), static_cast<unsigned long long>(tally.disk_errors));
}

}  // namespace
}  // namespace edgebed::storage
