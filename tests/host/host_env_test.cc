#include "core/host/host_env.h"

#include <gtest/gtest.h>

#include <string>

#include "core/wire/codec.h"
#include "tests/host/host_test_util.h"

namespace edgebed::host {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

TEST(HostEnv, TimersFireInOrderAndCancelWorks) {
  LoopbackNodes nodes(1);
  Env& env = *nodes.envs[0];
  std::vector<int> order;
  const Time start = env.now();  // before scheduling: timers count from then
  env.Schedule(milliseconds(30), [&] { order.push_back(3); });
  env.Schedule(milliseconds(10), [&] { order.push_back(1); });
  TimerId cancelled = env.Schedule(milliseconds(20), [&] { order.push_back(2); });
  EXPECT_TRUE(env.Cancel(cancelled));
  EXPECT_FALSE(env.Cancel(cancelled));
  bool immediate = false;
  env.Schedule(Duration::zero(), [&] { immediate = true; });
  EXPECT_FALSE(immediate);  // never synchronous
  ASSERT_TRUE(nodes.RunUntil([&] { return order.size() == 2; }));
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_TRUE(immediate);
  EXPECT_GE(env.now() - start, milliseconds(30));
}

TEST(HostEnv, SmallAndLargeMessagesArriveWhole) {
  LoopbackNodes nodes(3);
  std::vector<std::pair<NodeId, Bytes>> got;
  ASSERT_TRUE(nodes.envs[2]->Listen(4, [&](NodeId from, ByteView m) {
    got.emplace_back(from, m.ToBytes());
  }).ok());
  Bytes small = ToBytes("hello");
  Bytes large(5 << 20);
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<uint8_t>(i * 31 + 7);
  nodes.envs[0]->Send(2, 4, small);
  nodes.envs[1]->Send(2, 4, large);
  nodes.envs[1]->Send(2, 4, large);
  ASSERT_TRUE(nodes.RunUntil([&] { return got.size() == 3; }));
  int smalls = 0, larges = 0;
  for (auto& [from, bytes] : got) {
    if (bytes == small && from == 0) ++smalls;
    if (bytes == large && from == 1) ++larges;
  }
  EXPECT_EQ(smalls, 1);
  EXPECT_EQ(larges, 2);
  EXPECT_EQ(nodes.envs[0]->net_stats().udp_sent, 1u);
  EXPECT_EQ(nodes.envs[1]->net_stats().tcp_frames_sent, 2u);
}

// A real node's data path: every message over TCP, however small.
TEST(HostEnv, TcpOnlySendsEveryMessageOverTcp) {
  boost::asio::io_context io;
  MemorySink sink;
  const auto dir = std::filesystem::temp_directory_path() / ("edgebed-tcp-only-" + std::to_string(::getpid()));
  std::vector<std::unique_ptr<HostEnv>> envs;
  for (NodeId id : {NodeId{0}, NodeId{1}}) {
    HostEnvOptions o;
    o.self = id;
    o.data_dir = (dir / std::to_string(id)).string();
    o.sink = &sink;
    o.tcp_only = true;
    envs.push_back(std::move(*HostEnv::Create(io, o)));
  }
  ASSERT_TRUE(envs[0]->AddPeer(1, "127.0.0.1", envs[1]->port()).ok());
  int got = 0;
  ASSERT_TRUE(envs[1]->Listen(3, [&](NodeId from, ByteView m) { got += from == 0 && m.size() == 2; }).ok());
  envs[0]->Send(1, 3, ToBytes("hi"));
  envs[0]->Send(1, 3, ToBytes("hi"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got < 2 && std::chrono::steady_clock::now() < deadline) io.run_for(milliseconds(5));
  EXPECT_EQ(got, 2);
  EXPECT_EQ(envs[0]->net_stats().udp_sent, 0u);
  EXPECT_EQ(envs[0]->net_stats().tcp_frames_sent, 2u);
  envs.clear();
  io.poll();
  std::filesystem::remove_all(dir);
}

TEST(HostEnv, SendToSelfAndToClosedPorts) {
  LoopbackNodes nodes(2);
  int got = 0;
  ASSERT_TRUE(nodes.envs[0]->Listen(1, [&](NodeId from, ByteView) { got += from == 0; }).ok());
  EXPECT_EQ(nodes.envs[0]->Listen(1, [](NodeId, ByteView) {}).code(), StatusCode::kAlreadyExists);
  nodes.envs[0]->Send(0, 1, ToBytes("me"));
  EXPECT_EQ(got, 0);
  nodes.envs[1]->Send(0, 9, ToBytes("nobody listens"));
  ASSERT_TRUE(nodes.RunUntil([&] {
    return got == 1 && nodes.envs[0]->net_stats().dropped_no_listener == 1;
  }));
  nodes.envs[0]->Send(77, 1, ToBytes("unknown"));
  EXPECT_EQ(nodes.sink.EventsOfKind("env.send_dropped").size(), 1u);
}

// Raw bytes from outside: every one fails a check, is counted, and the Env
// goes on delivering good messages.
TEST(HostEnv, GarbageOffTheWireIsDroppedAndCounted) {
  LoopbackNodes nodes(2);
  int got = 0;
  ASSERT_TRUE(nodes.envs[1]->Listen(1, [&](NodeId, ByteView) { ++got; }).ok());
  const uint16_t port = nodes.envs[1]->port();
  asio::ip::udp::socket udp(nodes.io, asio::ip::udp::v4());
  asio::ip::udp::endpoint target(asio::ip::make_address("127.0.0.1"), port);

  auto envelope = [](NodeId to, uint32_t length, uint32_t crc, const std::string& payload) {
    wire::Writer w;
    wire::WriteHeader(w, {0xEB4E, 1, 0});
    w.PutU32(0);
    w.PutU32(to);
    w.PutU16(1);
    w.PutU32(length);
    w.PutU32(crc);
    w.PutRaw(ByteView(payload));
    return std::move(w).Finish();
  };
  const std::string text = "payload";
  const uint32_t crc = Crc32c(ByteView(text));
  std::vector<Bytes> bad = {
      ToBytes("not edgebed at all"),
      Bytes{0x4e, 0xeb},                                     // truncated header
      envelope(1, 7, crc ^ 1, text),                          // bad checksum
      envelope(1, 0xFFFFFFFFu, crc, text),                    // a 4 GiB length
      envelope(0, 7, crc, text),                              // for another node
      envelope(1, 9, crc, text),                              // length disagrees
  };
  for (const Bytes& b : bad) udp.send_to(asio::buffer(b), target);
  // And over TCP: a 4 GiB length, then a stream of junk.
  for (const Bytes& b : {envelope(1, 0xFFFFFFFFu, crc, ""), ToBytes(std::string(64, 'x'))}) {
    asio::ip::tcp::socket tcp(nodes.io);
    tcp.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::write(tcp, asio::buffer(b));
    nodes.RunFor(milliseconds(20));
  }
  ASSERT_TRUE(nodes.RunUntil([&] { return nodes.envs[1]->net_stats().dropped_bad == 8; }))
      << nodes.envs[1]->net_stats().dropped_bad;
  EXPECT_EQ(got, 0);
  udp.send_to(asio::buffer(envelope(1, 7, crc, text)), target);  // a good one, by hand
  nodes.envs[0]->Send(1, 1, Bytes(100000, 1));                  // and a large one over TCP
  ASSERT_TRUE(nodes.RunUntil([&] { return got == 2; }));
}

TEST(HostEnv, APeerThatIsDownLosesMessagesUntilItComesUp) {
  LoopbackNodes nodes(1);
  // A port with nothing behind it: take one from the system and release it.
  uint16_t free_port;
  {
    asio::ip::tcp::acceptor probe(nodes.io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    free_port = probe.local_endpoint().port();
  }
  ASSERT_TRUE(nodes.envs[0]->AddPeer(5, "127.0.0.1", free_port).ok());
  nodes.envs[0]->Send(5, 1, Bytes(50000, 2));  // TCP: connection refused
  ASSERT_TRUE(nodes.RunUntil([&] { return nodes.envs[0]->net_stats().send_failed == 1; }));
  EXPECT_EQ(nodes.sink.EventsOfKind("env.send_failed").size(), 1u);

  HostEnvOptions o;
  o.self = 5;
  o.listen_port = free_port;
  o.data_dir = (nodes.dir_ / "late").string();
  o.sink = &nodes.sink;
  auto late = HostEnv::Create(nodes.io, o);
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  int got = 0;
  ASSERT_TRUE((*late)->Listen(1, [&](NodeId, ByteView m) { got += m.size() == 50000; }).ok());
  nodes.envs[0]->Send(5, 1, Bytes(50000, 2));
  ASSERT_TRUE(nodes.RunUntil([&] { return got == 1; }));
}

TEST(HostEnv, CloseStopsEverythingAndIsIdempotent) {
  LoopbackNodes nodes(2);
  int fired = 0;
  nodes.envs[0]->Schedule(milliseconds(5), [&] { ++fired; });
  nodes.envs[0]->Close();
  nodes.envs[0]->Close();
  nodes.RunFor(milliseconds(30));
  EXPECT_EQ(fired, 0);
}

TEST(HostEnv, ExceptionsInCallbacksAreCaughtAndReported) {
  LoopbackNodes nodes(1);
  bool after = false;
  nodes.envs[0]->Schedule(milliseconds(1), [] { throw std::runtime_error("boom"); });
  nodes.envs[0]->Schedule(milliseconds(2), [&] { after = true; });
  ASSERT_TRUE(nodes.RunUntil([&] { return after; }));
  auto events = nodes.sink.EventsOfKind("env.callback_exception");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].detail, "boom");
}

TEST(HostEnv, RefusesBadOptions) {
  asio::io_context io;
  HostEnvOptions o;
  EXPECT_EQ(HostEnv::Create(io, o).status().where(), "data_dir");
  o.data_dir = "/tmp/edgebed-host-bad-options";
  o.listen_address = "not-an-ip";
  EXPECT_EQ(HostEnv::Create(io, o).status().ToString(),
            "listen_address: \"not-an-ip\" is not an IP address");
  std::filesystem::remove_all(o.data_dir);
}

struct DiskTest : ::testing::Test {
  LoopbackNodes nodes{1};
  Disk& disk = nodes.envs[0]->disk();

  template <typename T>
  T Wait(std::function<void(std::function<void(T)>)> start) {
    std::optional<T> result;
    start([&](T r) { result.emplace(std::move(r)); });
    EXPECT_FALSE(result.has_value());  // never synchronous
    nodes.RunUntil([&] { return result.has_value(); });
    return std::move(*result);
  }
  Status Write(const std::string& f, uint64_t off, const std::string& d) {
    return Wait<Status>([&](auto cb) { disk.Write(f, off, ToBytes(d), cb); });
  }
  StatusOr<Bytes> Read(const std::string& f, uint64_t off, uint64_t n) {
    return Wait<StatusOr<Bytes>>([&](auto cb) { disk.Read(f, off, n, cb); });
  }
};

TEST_F(DiskTest, WriteReadSyncSizeRemove) {
  ASSERT_TRUE(Write("vol/a", 4, "data").ok());
  auto r = Read("vol/a", 0, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::string(r->begin(), r->end()), std::string("\0\0\0\0data", 8));
  EXPECT_TRUE(Wait<Status>([&](auto cb) { disk.Sync("vol/a", cb); }).ok());
  EXPECT_EQ(*Wait<StatusOr<uint64_t>>([&](auto cb) { disk.Size("vol/a", cb); }), 8u);
  EXPECT_TRUE(Wait<Status>([&](auto cb) { disk.Remove("vol/a", cb); }).ok());
  EXPECT_EQ(Read("vol/a", 0, 1).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Wait<Status>([&](auto cb) { disk.Remove("vol/a", cb); }).ok());
}

TEST_F(DiskTest, RefusesNamesOutsideItsDirectory) {
  for (const char* name : {"", "/etc/passwd", "../escape", "a/../../b", "./x"}) {
    Status s = Write(name, 0, "x");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
  }
}

TEST(Crc32c, KnownAnswer) {
  EXPECT_EQ(Crc32c(ByteView(std::string_view("123456789"))), 0xE3069283u);
}

}  // namespace
}  // namespace edgebed::host
