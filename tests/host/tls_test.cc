// TLS control connections: the server's credentials, pinning by the token's
// CA hash, and the proof over the connection's keying material — each
// refusal a real attacker would try.
#include "core/host/tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "core/env/memory_sink.h"
#include "core/host/host_env.h"
#include "tests/host/host_test_util.h"

namespace edgebed::host {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("edgebed-tls-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

int Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(Tls, CredentialsAreMadeOnceKeptAndKeysAre0600) {
  const std::string dir = TempDir("creds");
  StatusOr<ServerCredentials> first = LoadOrCreateServerCredentials(dir, {"10.0.0.1"});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(Mode(dir + "/server-ca.key"), 0600);
  EXPECT_EQ(Mode(dir + "/serving.key"), 0600);
  EXPECT_EQ(CaHash(first->ca_cert).size(), 64u);
  StatusOr<ServerCredentials> again = LoadOrCreateServerCredentials(dir, {"10.0.0.1"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ca_cert, first->ca_cert);
  EXPECT_EQ(again->cert, first->cert);  // still good: not made again
  // A new address needs a new serving certificate, never a new CA (every token names it).
  StatusOr<ServerCredentials> moved = LoadOrCreateServerCredentials(dir, {"10.0.0.2"});
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->ca_cert, first->ca_cert);
  EXPECT_NE(moved->cert, first->cert);
  // Half a CA is not silently replaced.
  std::filesystem::remove(dir + "/server-ca.key");
  StatusOr<ServerCredentials> broken = LoadOrCreateServerCredentials(dir, {});
  EXPECT_FALSE(broken.ok());
  EXPECT_NE(broken.status().ToString().find("server-ca.key"), std::string::npos) << broken.status().ToString();
  std::filesystem::remove_all(dir);
}

// A server Env that takes connections from its own TLS acceptor, and agents
// that dial it, on one io_context.
class TlsPair {
 public:
  explicit TlsPair(const std::string& name) : dir_(TempDir(name)) {
    creds = *LoadOrCreateServerCredentials(dir_ + "/tls", {"127.0.0.1"});
    server_ctx = *ServerContext(creds);
    HostEnvOptions o;
    o.self = 0;
    o.listen = false;
    o.data_dir = dir_ + "/server";
    o.sink = &sink;
    o.tls_auth_timeout = std::chrono::milliseconds(300);
    o.tls_verify = [this](NodeId claimed, ByteView binding, ByteView proof) {
      return proof.ToBytes() == Expected(claimed, binding);
    };
    server = std::move(*HostEnv::Create(io, o));
    acceptor.open(tcp::v4());
    acceptor.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor.listen();
    Accept();
  }
  ~TlsPair() {
    agents.clear();
    server.reset();
    acceptor.close();
    io.poll();
    std::filesystem::remove_all(dir_);
  }

  // What an honest agent proves: the secret over the binding and its id.
  static Bytes Expected(NodeId id, ByteView binding) {
    Bytes b = ToBytes("secret");
    b.insert(b.end(), binding.data(), binding.data() + binding.size());
    b.push_back(static_cast<uint8_t>(id));
    return b;
  }

  HostEnv& AddAgent(NodeId id, std::function<Bytes(ByteView)> prove, const std::string& ca_hash) {
    HostEnvOptions o;
    o.self = id;
    o.data_dir = dir_ + "/agent" + std::to_string(id);
    o.sink = &sink;
    o.tls_prove = std::move(prove);
    auto env = std::move(*HostEnv::Create(io, o));
    EXPECT_TRUE(env->AddTlsPeer(0, "127.0.0.1", acceptor.local_endpoint().port(), *ClientContext(), ca_hash,
                                [this](const std::string& pem) { learned_ca = pem; })
                    .ok());
    agents.push_back(std::move(env));
    return *agents.back();
  }

  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(5));
      if (io.stopped()) io.restart();
    }
    return done();
  }

  asio::io_context io;
  MemorySink sink;
  ServerCredentials creds;
  std::shared_ptr<asio::ssl::context> server_ctx;
  std::unique_ptr<HostEnv> server;
  std::vector<std::unique_ptr<HostEnv>> agents;
  tcp::acceptor acceptor{io};
  std::string learned_ca;

 private:
  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto stream = std::make_shared<TlsStream>(std::move(socket), *server_ctx);
      stream->async_handshake(asio::ssl::stream_base::server, [this, stream](boost::system::error_code ec2) {
        if (!ec2 && server) server->AdoptTls(stream, {});
      });
      Accept();
    });
  }
  std::string dir_;
};

TEST(Tls, AnAgentWithTheSecretIsHeardAndAnsweredOverItsConnection) {
  TlsPair t("honest");
  std::vector<std::string> at_server, at_agent;
  ASSERT_TRUE(t.server->Listen(1, [&](NodeId from, ByteView m) {
    at_server.push_back(std::to_string(from) + ":" + std::string(m.begin(), m.end()));
    t.server->Send(from, 2, ToBytes("welcome"));  // no AddPeer: the connection it came on
  }).ok());
  HostEnv& agent = t.AddAgent(7, [](ByteView b) { return TlsPair::Expected(7, b); }, CaHash(t.creds.ca_cert));
  ASSERT_TRUE(agent.Listen(2, [&](NodeId from, ByteView m) {
    at_agent.push_back(std::to_string(from) + ":" + std::string(m.begin(), m.end()));
  }).ok());
  Bytes big(3 << 20, 0x5A);  // any size goes over the one connection
  agent.Send(0, 1, ToBytes("hello"));
  agent.Send(0, 1, big);
  ASSERT_TRUE(t.RunUntil([&] { return at_server.size() == 2 && at_agent.size() == 2; }));
  EXPECT_EQ(at_server[0], "7:hello");
  EXPECT_EQ(at_agent[0], "0:welcome");
  EXPECT_EQ(t.learned_ca, t.creds.ca_cert);
  EXPECT_EQ(t.server->net_stats().tls_refused, 0u);
  EXPECT_EQ(agent.net_stats().udp_sent, 0u);
}

TEST(Tls, AWrongSecretIsRefusedAndNothingIsDelivered) {
  TlsPair t("wrong-secret");
  int delivered = 0;
  ASSERT_TRUE(t.server->Listen(1, [&](NodeId, ByteView) { ++delivered; }).ok());
  HostEnv& agent = t.AddAgent(7, [](ByteView) { return ToBytes("guess"); }, CaHash(t.creds.ca_cert));
  agent.Send(0, 1, ToBytes("let me in"));
  ASSERT_TRUE(t.RunUntil([&] { return t.server->net_stats().tls_refused == 1; }));
  t.RunUntil([] { return false; }, std::chrono::milliseconds(100));
  EXPECT_EQ(delivered, 0);
  auto refused = t.sink.EventsOfKind("env.tls_refused");
  ASSERT_FALSE(refused.empty());
  EXPECT_NE(refused.front().detail.find("did not prove"), std::string::npos) << refused.front().detail;
}

TEST(Tls, AProofRecordedOnOneConnectionFailsOnAnother) {
  TlsPair t("replay");
  int delivered = 0;
  ASSERT_TRUE(t.server->Listen(1, [&](NodeId, ByteView) { ++delivered; }).ok());
  Bytes recorded;
  HostEnv& honest = t.AddAgent(7, [&](ByteView b) {
    recorded = TlsPair::Expected(7, b);
    return recorded;
  }, CaHash(t.creds.ca_cert));
  honest.Send(0, 1, ToBytes("first"));
  ASSERT_TRUE(t.RunUntil([&] { return delivered == 1; }));
  // An eavesdropper that could read the proof replays it on its own connection.
  HostEnv& replayer = t.AddAgent(7, [&](ByteView) { return recorded; }, CaHash(t.creds.ca_cert));
  replayer.Send(0, 1, ToBytes("replayed"));
  ASSERT_TRUE(t.RunUntil([&] { return t.server->net_stats().tls_refused == 1; }));
  EXPECT_EQ(delivered, 1);
}

TEST(Tls, AServerWhoseCaIsNotTheTokensIsRefusedByTheAgent) {
  TlsPair t("wrong-ca");
  int delivered = 0;
  ASSERT_TRUE(t.server->Listen(1, [&](NodeId, ByteView) { ++delivered; }).ok());
  const std::string other_dir = TempDir("other-ca");
  const std::string other_hash = CaHash(LoadOrCreateServerCredentials(other_dir, {})->ca_cert);
  std::filesystem::remove_all(other_dir);
  HostEnv& agent = t.AddAgent(7, [](ByteView b) { return TlsPair::Expected(7, b); }, other_hash);
  agent.Send(0, 1, ToBytes("secret stuff"));
  ASSERT_TRUE(t.RunUntil([&] { return agent.net_stats().tls_refused == 1; }));
  EXPECT_EQ(delivered, 0);
  EXPECT_TRUE(t.learned_ca.empty());
  auto refused = t.sink.EventsOfKind("env.tls_refused");
  ASSERT_FALSE(refused.empty());
  EXPECT_NE(refused.front().detail.find("not the server the token was made for"), std::string::npos);
}

// A client on its own thread: it connects, shakes hands, writes `junk`,
// then waits until the server closes the connection.
class RawClient {
 public:
  RawClient(uint16_t port, std::string junk)
      : thread_([this, port, junk] {
          try {
            asio::io_context io;
            auto ctx = *ClientContext();
            TlsStream stream(io, *ctx);
            stream.lowest_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
            stream.handshake(asio::ssl::stream_base::client);
            if (!junk.empty()) asio::write(stream, asio::buffer(junk));
            char c;
            boost::system::error_code ec;
            stream.read_some(asio::buffer(&c, 1), ec);  // returns once the server closes
          } catch (const std::exception&) {
          }
        }) {}
  ~RawClient() { thread_.join(); }

 private:
  std::thread thread_;
};

TEST(Tls, AConnectionThatProvesNothingIsClosedInTime) {
  TlsPair t("silent");
  RawClient client(t.acceptor.local_endpoint().port(), "");
  ASSERT_TRUE(t.RunUntil([&] { return t.server->net_stats().tls_refused == 1; }));
  auto refused = t.sink.EventsOfKind("env.tls_refused");
  ASSERT_FALSE(refused.empty());
  EXPECT_NE(refused.front().detail.find("no proof within"), std::string::npos) << refused.front().detail;
}

TEST(Tls, GarbageAfterTheHandshakeIsRefused) {
  TlsPair t("garbage");
  RawClient client(t.acceptor.local_endpoint().port(), std::string(200, '\x4E'));
  ASSERT_TRUE(t.RunUntil([&] { return t.server->net_stats().tls_refused == 1; }));
  EXPECT_GE(t.server->net_stats().dropped_bad, 1u);
}

}  // namespace
}  // namespace edgebed::host
