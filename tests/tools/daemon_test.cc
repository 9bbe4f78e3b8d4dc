// End-to-end: `edgebed server`, `edgebed agent` and `edgebed ctl` as a user
// runs them, as processes on the loopback address: the TLS join, the API
// with its credential, refusals, and a server killed and started again. The
// agents are hollow (their pods modelled), as this runs in the machine's own
// network namespace; tests/host's cluster test runs full nodes in namespaces.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/host/tls.h"
#include "tests/tools/process_util.h"

namespace edgebed::tools {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kEdgebed = std::string(EDGEBED_BINARY_DIR) + "/tools/edgebed";

// A port nobody holds now (the daemons bind it a moment later).
uint16_t FreePort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest()
      : dir_(fs::temp_directory_path() / ("edgebed-daemon-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        port_(FreePort()) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~DaemonTest() override {
    agents_.clear();
    server_.reset();
    fs::remove_all(dir_);
  }

  void StartServer() {
    const size_t started = Count(ReadFile(dir_ / "server.log"), "serving on");
    server_ = std::make_unique<Daemon>(
        std::vector<std::string>{kEdgebed, "server", "--data-dir", (dir_ / "server").string(), "--listen",
                                 "127.0.0.1:" + std::to_string(port_)},
        dir_ / "server.log");
    ASSERT_TRUE(WaitFor([&] { return Count(server_->log(), "serving on") > started; }))
        << server_->log();
  }
  std::string Token() {
    std::string t = ReadFile(dir_ / "server" / "token");
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }
  Daemon& StartAgent(const std::string& name, const std::string& token) {
    agents_.push_back(std::make_unique<Daemon>(
        std::vector<std::string>{kEdgebed, "agent", "--server", "127.0.0.1:" + std::to_string(port_), "--token", token,
                                 "--data-dir", (dir_ / name).string(), "--node-name", name, "--node-ip", "127.0.0.1",
                                 "--port", std::to_string(FreePort()), "--labels", "zone=" + name,
                                 // On the machine's own network: nothing may touch its kernel.
                                 "--hollow"},
        dir_ / (name + ".log")));
    return *agents_.back();
  }
  Outcome Ctl(const std::string& args) {
    return Shell(kEdgebed + " ctl --config " + (dir_ / "server" / "admin.yaml").string() + " " + args);
  }
  std::string File(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  fs::path dir_;
  uint16_t port_;
  std::unique_ptr<Daemon> server_;
  std::vector<std::unique_ptr<Daemon>> agents_;
};

constexpr const char* kManifest = R"(apiVersion: v1
kind: Namespace
metadata: {name: floor-1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: floor-1}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: edgebed/serve
        command: ["edgebed", "workload", "serve", "--tcp", "8080"]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: floor-1}
spec:
  podSelector: {}
  policyTypes: [Ingress]
)";

TEST_F(DaemonTest, AgentsJoinOverTlsAndCtlDrivesTheCluster) {
  StartServer();
  const std::string admin = ReadFile(dir_ / "server" / "admin.yaml");
  EXPECT_NE(admin.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(fs::status(dir_ / "server" / "admin.yaml").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(dir_ / "server" / "token").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(Token().rfind("K10", 0), 0u);
  StartAgent("edge-a", Token());
  StartAgent("edge-b", Token());
  ASSERT_TRUE(WaitFor([&] {
    const std::string nodes = Ctl("get nodes").out;
    return nodes.find("edge-a   Ready") != std::string::npos && nodes.find("edge-b   Ready") != std::string::npos;
  })) << Ctl("get nodes").out << server_->log();
  // The agent kept the CA it verified, for its next start.
  EXPECT_TRUE(fs::exists(dir_ / "edge-a" / "server-ca.crt"));

  // A watch sees every pod the apply leads to, listed or as it comes, however
  // its start and the apply interleave.
  Daemon watch({kEdgebed, "ctl", "--config", (dir_ / "server" / "admin.yaml").string(), "get", "pods", "-n", "floor-1", "-w"},
               dir_ / "watch.log");
  const std::string file = File("site.yaml", kManifest);
  Outcome applied = Ctl("apply -f " + file);
  ASSERT_EQ(applied.exit_code, 0) << applied.out;
  EXPECT_NE(applied.out.find("Deployment floor-1/web created"), std::string::npos) << applied.out;
  ASSERT_TRUE(WaitFor([&] {
    const std::string pods = Ctl("get pods -n floor-1").out;
    size_t running = 0;
    for (size_t at = pods.find("Running"); at != std::string::npos; at = pods.find("Running", at + 1)) ++running;
    return running == 2;
  })) << Ctl("get pods -n floor-1").out;
  ASSERT_TRUE(WaitFor([&] {
    const std::string log = watch.log();
    return Count(log, "PUT      floor-1/web-") + Count(log, "LISTED   floor-1/web-") >= 2;
  })) << watch.log();
  Outcome yaml = Ctl("get deployment web -n floor-1 -o yaml");
  EXPECT_EQ(yaml.exit_code, 0);
  EXPECT_NE(yaml.out.find("replicas: 2"), std::string::npos) << yaml.out;
  EXPECT_NE(Ctl("get policies -n floor-1").out.find("deny-all"), std::string::npos);
  EXPECT_NE(Ctl("get pods -A -o json").out.find("\"podIP\":\"10.42."), std::string::npos);

  // A manifest with an error: the place and the fix, nothing applied of it.
  Outcome bad = Ctl("apply -f " + File("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containerz: []\n"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("bad.yaml:5:"), std::string::npos) << bad.out;
  EXPECT_NE(Ctl("get pod x").exit_code, 0);

  // Without the credential: 401, and /healthz stays public.
  std::string wrong = ReadFile(dir_ / "server" / "admin.yaml");
  const size_t at = wrong.find("token: ");
  wrong.replace(at + 7, 8, "00000000");
  File("wrong.yaml", wrong);
  Outcome refused = Shell(kEdgebed + " ctl --config " + (dir_ / "wrong.yaml").string() + " get nodes");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.out.find("Bearer"), std::string::npos) << refused.out;

  // The policy tools read the live cluster: its pods with the addresses they run at.
  const std::string config = " --config " + (dir_ / "server" / "admin.yaml").string();
  Outcome explain = Shell(kEdgebed + " policy explain --live" + config +
                          " --from 10.42.99.1 --to floor-1/web --port 8080");
  EXPECT_EQ(explain.exit_code, 0) << explain.out;
  EXPECT_NE(explain.out.find("deny-all"), std::string::npos) << explain.out;
  EXPECT_NE(explain.out.find("verdict: denied"), std::string::npos) << explain.out;
  EXPECT_NE(explain.out.find("(10.42."), std::string::npos) << explain.out;
  Outcome matrix = Shell(kEdgebed + " policy matrix --live" + config + " --port 8080");
  EXPECT_EQ(matrix.exit_code, 0) << matrix.out;
  EXPECT_NE(matrix.out.find("floor-1/web-"), std::string::npos) << matrix.out;
  Outcome deleted = Ctl("delete -f " + file);
  EXPECT_EQ(deleted.exit_code, 0) << deleted.out;
  ASSERT_TRUE(WaitFor([&] { return Ctl("get pods -n floor-1").out.find("web-") == std::string::npos; }));
  EXPECT_TRUE(WaitFor([&] { return Count(watch.log(), "DELETED  floor-1/web-") >= 2; })) << watch.log();
  EXPECT_EQ(server_->Stop(SIGTERM), 0);
  EXPECT_NE(server_->log().find("stopping on SIGTERM"), std::string::npos);
}

TEST_F(DaemonTest, AnAgentWithAWrongTokenIsRefusedAndLogged) {
  StartServer();
  std::string token = Token();
  const std::string secret_mark = "::server:";
  const std::string wrong = token.substr(0, token.find(secret_mark) + secret_mark.size()) + "not-the-secret";
  Daemon& intruder = StartAgent("intruder", wrong);
  ASSERT_TRUE(WaitFor([&] { return server_->log().find("did not prove the cluster secret") != std::string::npos; }))
      << server_->log();
  EXPECT_EQ(Ctl("get nodes").out.find("intruder"), std::string::npos);
  EXPECT_NE(intruder.log().find("is the token's secret this cluster's"), std::string::npos) << intruder.log();
  // A token made for another server's CA: the agent will not talk to this one.
  const std::string other = "K10" + std::string(64, 'a') + token.substr(token.find(secret_mark));
  Daemon& fooled = StartAgent("fooled", other);
  ASSERT_TRUE(WaitFor([&] { return fooled.log().find("not the server the token was made for") != std::string::npos; }))
      << fooled.log();
  // Malformed flags are usage errors, with the fix.
  Outcome usage = Shell(kEdgebed + " agent --server nowhere --token x");
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.out.find("ADDRESS:PORT"), std::string::npos) << usage.out;
}

TEST_F(DaemonTest, AServerKilledAndStartedAgainHasLostNothing) {
  StartServer();
  StartAgent("edge-a", Token());
  ASSERT_TRUE(WaitFor([&] { return Ctl("get nodes").out.find("edge-a   Ready") != std::string::npos; }));
  ASSERT_EQ(Ctl("apply -f " + File("site.yaml", kManifest)).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Ctl("get pods -n floor-1").out.find("Running") != std::string::npos; }));
  const std::string before = Ctl("get deployment web -n floor-1 -o json").out;
  const std::string token = Token();
  server_->Stop(SIGKILL);  // a crash, not a clean stop
  StartServer();
  EXPECT_EQ(Token(), token);  // the same cluster: agents need nothing new
  EXPECT_EQ(Ctl("get deployment web -n floor-1 -o json").out, before);
  ASSERT_TRUE(WaitFor([&] { return Ctl("get nodes").out.find("edge-a   Ready") != std::string::npos; }))
      << Ctl("get nodes").out;
  EXPECT_NE(Ctl("get pods -n floor-1").out.find("web-"), std::string::npos);
  EXPECT_NE(agents_.back()->log().find("cluster.agent_rejoining"), std::string::npos) << agents_.back()->log();
}

// What a broken or hostile client sends over TLS: the server answers with an
// error or closes, and goes on serving everyone else.
std::string RawTls(uint16_t port, const std::string& bytes, bool read_answer = true) {
  namespace asio = boost::asio;
  try {
    asio::io_context io;
    auto ctx = *host::ClientContext();
    host::TlsStream stream(io, *ctx);
    stream.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    stream.handshake(asio::ssl::stream_base::client);
    asio::write(stream, asio::buffer(bytes));
    if (!read_answer) return {};
    std::string answer;
    boost::system::error_code ec;
    char buf[4096];
    stream.lowest_layer().set_option(asio::socket_base::linger(true, 0));
    for (int i = 0; i < 4 && !ec; ++i) {
      const size_t n = stream.read_some(asio::buffer(buf), ec);
      answer.append(buf, n);
      if (answer.find("\r\n\r\n") != std::string::npos) break;
    }
    return answer;
  } catch (const std::exception& e) {
    return std::string("error: ") + e.what();
  }
}

TEST_F(DaemonTest, BadRequestsGetErrorsAndTheServerGoesOn) {
  StartServer();
  const std::string admin = ReadFile(dir_ / "server" / "admin.yaml");
  const size_t at = admin.find("token: ") + 7;
  const std::string token = admin.substr(at, admin.find('\n', at) - at);
  const std::string auth = "Authorization: Bearer " + token + "\r\n";
  EXPECT_NE(RawTls(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").find("200 OK"), std::string::npos);
  EXPECT_NE(RawTls(port_, "GET /api/pods HTTP/1.1\r\nHost: x\r\n\r\n").find("401"), std::string::npos);
  EXPECT_NE(RawTls(port_, "GET /api/objects HTTP/1.1\r\n" + auth + "\r\n").find("400"), std::string::npos);
  EXPECT_NE(RawTls(port_, "GET /api/nowhere HTTP/1.1\r\n" + auth + "\r\n").find("404"), std::string::npos);
  EXPECT_NE(RawTls(port_, "PUT /api/apply HTTP/1.1\r\n" + auth + "Content-Length: 0\r\n\r\n").find("405"),
            std::string::npos);
  EXPECT_NE(RawTls(port_, "GET /api/watch?revision=banana HTTP/1.1\r\n" + auth + "\r\n").find("400"),
            std::string::npos);
  EXPECT_NE(RawTls(port_, "POST /api/apply HTTP/1.1\r\n" + auth + "Content-Length: 999999999\r\n\r\nxx").find("413"),
            std::string::npos);
  const std::string bad_yaml = "kind: Pod\nmetadata: {name: [\n";
  const std::string applied = RawTls(port_, "POST /api/apply HTTP/1.1\r\n" + auth + "Content-Length: " +
                                                std::to_string(bad_yaml.size()) + "\r\n\r\n" + bad_yaml);
  EXPECT_NE(applied.find("422"), std::string::npos) << applied;
  RawTls(port_, "\x4e\xeb garbage that claims to be a control frame", false);
  RawTls(port_, "NOT HTTP AT ALL\r\n\r\n", false);
  RawTls(port_, std::string(70000, 'A'), false);
  // Still serving, and the credential still works.
  Outcome nodes = Ctl("get nodes");
  EXPECT_EQ(nodes.exit_code, 0) << nodes.out << server_->log();
  EXPECT_NE(server_->log().find("api.unauthorized"), std::string::npos);
}

}  // namespace
}  // namespace edgebed::tools
