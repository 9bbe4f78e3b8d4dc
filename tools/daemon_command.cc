#include "tools/daemon_command.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include <boost/asio.hpp>
#include <yaml-cpp/yaml.h>

#include "core/base/bytes.h"
#include "core/cluster/agent.h"
#include "core/cluster/auth.h"
#include "core/cluster/server.h"
#include "core/host/api_server.h"
#include "core/host/host_env.h"
#include "core/host/nft_policy.h"
#include "core/host/nft_services.h"
#include "core/host/process_runtime.h"
#include "core/host/prometheus.h"
#include "core/host/tls.h"
#include "core/host/volume_fs.h"
#include "tools/admin_config.h"
#include "tools/flags.h"

namespace edgebed::tools {
namespace {

namespace asio = boost::asio;

constexpr NodeId kServerNode = 0;
constexpr uint16_t kDefaultApiPort = 6443;
constexpr uint16_t kDefaultAgentPort = 6445;
constexpr const char* kNodeProofLabel = "edgebed node channel";

std::string WallClock() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void Log(const std::string& who, const std::string& line) {
  std::cerr << WallClock() << " " << who << ": " << line << std::endl;
}

std::string RandomHex(size_t bytes) {
  Bytes b(bytes);
  RAND_bytes(b.data(), static_cast<int>(b.size()));
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint8_t c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// What an agent proves on its control connection: the cluster secret, over
// this one TLS connection's keying material and its node id.
Bytes NodeProofData(ByteView binding, NodeId id) {
  Bytes data = binding.ToBytes();
  for (int i = 0; i < 4; ++i) data.push_back(static_cast<uint8_t>(id >> (8 * i)));
  return data;
}

Status MakePrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create the data directory: " + ec.message() + "; pick another --data-dir", dir);
  ::chmod(dir.c_str(), 0700);
  return Status::Ok();
}

// Runs `io` until SIGTERM or SIGINT, then `stop`.
void RunUntilSignal(asio::io_context& io, const std::string& who, std::function<void()> stop) {
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    Log(who, std::string("stopping on ") + (signo == SIGTERM ? "SIGTERM" : "SIGINT"));
    stop();
    io.stop();
  });
  io.run();
}

// The log of a daemon: events as lines on stderr, samples kept for /metrics.
class LogSink final : public MetricsSink {
 public:
  explicit LogSink(std::string who) : who_(std::move(who)) {}
  void Record(const MetricSample&) override {}
  void Event(const EventRecord& e) override { Log(who_, e.kind + (e.detail.empty() ? "" : " " + e.detail)); }

 private:
  std::string who_;
};

}  // namespace

uint32_t AgentNodeId(const std::string& node_name) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : node_name) {
    h ^= c;
    h *= 16777619u;
  }
  if (h == kServerNode || h == kNoNode) h = 1;
  return h;
}

// ---- edgebed server ----------------------------------------------------------------

int RunServer(int argc, char** argv) {
  std::string data_dir = kDefaultServerDataDir, listen = "0.0.0.0:6443", advertise, token_flag;
  std::string cluster_cidr = "10.42.0.0/16", service_cidr = "10.43.0.0/16";
  std::chrono::nanoseconds grace = std::chrono::seconds(40);
  Flags flags("edgebed server",
              "Runs the cluster's control plane: the datastore, the controllers, the scheduler,\n"
              "the storage control plane, and on one TLS port the agents' control channel and\n"
              "the HTTP API. On first start it makes its CA, serving certificate, join token\n"
              "(DATA_DIR/token) and admin credential (DATA_DIR/admin.yaml), all 0600.");
  flags.String("data-dir", "where the datastore, certificates and tokens live", &data_dir);
  flags.String("listen", "ADDR:PORT of the TLS port for agents and the API", &listen);
  flags.String("advertise-address", "where agents and ctl reach the server (default: the listen address)", &advertise);
  flags.String("token", "the cluster secret to use instead of a generated one (a K10 token or a bare secret)",
               &token_flag);
  flags.String("cluster-cidr", "where pod addresses come from", &cluster_cidr);
  flags.String("service-cidr", "where ClusterIPs come from", &service_cidr);
  flags.Duration("node-monitor-grace-period",
                 "a node silent this long is NotReady; its pods go when their toleration runs out",
                 &grace);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  const std::string who = "edgebed server";
  auto fail = [&](const Status& s, int rc = 1) {
    Log(who, "error: " + s.ToString());
    return rc;
  };

  StatusOr<HostPort> where = ParseHostPort(listen, "--listen", /*allow_any_port=*/false, kDefaultApiPort);
  if (!where.ok()) return fail(where.status(), 2);
  if (advertise.empty()) advertise = where->host == "0.0.0.0" ? "127.0.0.1" : where->host;
  if (Status s = MakePrivateDir(data_dir); !s.ok()) return fail(s);

  StatusOr<host::ServerCredentials> creds =
      host::LoadOrCreateServerCredentials(data_dir + "/tls", {advertise, where->host});
  if (!creds.ok()) return fail(creds.status());
  const std::string ca_hash = host::CaHash(creds->ca_cert);

  // The cluster secret: given, kept from an earlier start, or new.
  std::string secret;
  const std::string token_path = data_dir + "/token";
  if (!token_flag.empty()) {
    StatusOr<cluster::ClusterToken> t = cluster::ParseToken(token_flag);
    if (!t.ok()) return fail(t.status().WithContext("--token"), 2);
    if (!t->ca_hash.empty() && t->ca_hash != ca_hash) {
      return fail(InvalidArgument("the token names another CA than this server's (" + ca_hash.substr(0, 12) +
                                      "...); give the bare secret, or the token this server wrote",
                                  "--token"),
                  2);
    }
    secret = t->secret;
  } else if (StatusOr<std::string> kept = host::ReadWholeFile(token_path); kept.ok()) {
    while (!kept->empty() && (kept->back() == '\n' || kept->back() == ' ')) kept->pop_back();
    StatusOr<cluster::ClusterToken> t = cluster::ParseToken(*kept);
    if (!t.ok()) return fail(t.status().WithContext(token_path + " (delete it to make a new token)"));
    secret = t->secret;
  } else {
    secret = RandomHex(16);
  }
  const std::string token = cluster::ClusterToken{ca_hash, secret}.ToString();
  if (Status s = host::WriteSecretFile(token_path, token + "\n"); !s.ok()) return fail(s);

  std::string admin_token;
  const std::string admin_path = data_dir + "/admin.yaml";
  if (StatusOr<AdminConfig> kept = LoadAdminConfig(admin_path); kept.ok()) admin_token = kept->token;
  if (admin_token.empty()) admin_token = RandomHex(24);
  AdminConfig admin{"https://" + advertise + ":" + std::to_string(where->port), admin_token, creds->ca_cert};
  if (Status s = host::WriteSecretFile(admin_path, RenderAdminConfig(admin)); !s.ok()) return fail(s);

  asio::io_context io;
  LogSink log(who);
  host::PrometheusSink metrics(&log);
  const cluster::Key key = cluster::DeriveClusterKey(secret);
  host::HostEnvOptions env_options;
  env_options.self = kServerNode;
  env_options.listen = false;  // agents come in through the API's port
  env_options.data_dir = data_dir + "/db";
  env_options.sink = &metrics;
  env_options.tls_verify = [key](NodeId claimed, ByteView binding, ByteView proof) {
    if (proof.size() != sizeof(cluster::Mac)) return false;
    cluster::Mac mac;
    std::copy(proof.data(), proof.data() + proof.size(), mac.begin());
    return cluster::Verify(key, kNodeProofLabel, NodeProofData(binding, claimed), mac);
  };
  StatusOr<std::unique_ptr<host::HostEnv>> env = host::HostEnv::Create(io, env_options);
  if (!env.ok()) return fail(env.status());

  cluster::ServerOptions options;
  options.token = secret;
  options.cluster_cidr = cluster_cidr;
  options.service_cidr = service_cidr;
  if (grace < std::chrono::seconds(1)) return fail(InvalidArgument("must be at least 1s", "--node-monitor-grace-period"), 2);
  options.node_monitor_grace = grace;
  options.node_monitor_period = std::min<Duration>(options.node_monitor_period, grace / 4);
  options.wall_epoch = static_cast<int64_t>(std::time(nullptr)) - static_cast<int64_t>(ToSeconds((*env)->now().time_since_epoch()));
  // Real volumes are real: far more blocks than the simulation models.
  options.max_volume_blocks = 1u << 18;
  cluster::Server server(**env, options);

  StatusOr<std::shared_ptr<asio::ssl::context>> tls = host::ServerContext(*creds);
  if (!tls.ok()) return fail(tls.status());
  host::ApiServerOptions api_options;
  api_options.listen_address = where->host;
  api_options.port = where->port;
  api_options.admin_token = admin_token;
  StatusOr<std::unique_ptr<host::ApiServer>> api =
      host::ApiServer::Create(io, server, **env, metrics, *tls, api_options);
  if (!api.ok()) return fail(api.status());

  int exit_code = 0;
  server.Start([&](Status s) {
    if (!s.ok()) {
      Log(who, "error: cannot recover the datastore under " + env_options.data_dir + ": " + s.ToString());
      exit_code = 1;
      io.stop();
      return;
    }
    Log(who, "serving on " + where->host + ":" + std::to_string((*api)->port()) + " at revision " +
                 std::to_string(server.revision()));
    Log(who, "agents join with the token in " + token_path + "; ctl uses " + admin_path);
  });
  RunUntilSignal(io, who, [&] {
    (*api)->Close();
    (*env)->Close();
  });
  return exit_code;
}

// ---- edgebed agent -------------------------------------------------------------------

namespace {

extern "C" char** environ;

// Runs `ip ARGS...` and waits (a few milliseconds); the result as a Status.
Status RunIp(const std::vector<std::string>& args) {
  std::vector<std::string> all{"ip"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int rc = ::posix_spawnp(&pid, "ip", nullptr, nullptr, argv.data(), environ); rc != 0)
    return Unavailable(std::string("cannot run ip: ") + std::strerror(rc) + "; install iproute2");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string line;
  for (const std::string& a : all) line += (line.empty() ? "" : " ") + a;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Unavailable("`" + line + "` failed");
  return Status::Ok();
}

// Pods' volumes as filesystems (FUSE, or an image file without it). Mounting
// does block I/O that the agent's io thread serves, so it runs on a worker
// thread of its own and answers on the io thread.
class VolumeMounter {
 public:
  VolumeMounter(asio::io_context& io, std::string who) : io_(io), who_(std::move(who)) {}
  ~VolumeMounter() { worker_.join(); }

  void Mount(const cluster::PodRun& run, const cluster::VolumeMount& volume, const std::string& pod_dir,
             host::ProcessRuntimeOptions::MountDone done) {
    const std::string key = run.key() + "/" + volume.claim;
    cluster::VolumeAccess* access = run.io;
    asio::post(worker_, [this, key, access, volume, pod_dir, done] {
      StatusOr<std::string> result = Unavailable("the node gives no volume access");
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = mounted_.find(key);
        if (it != mounted_.end()) result = it->second->path();
      }
      if (access && !result.ok()) {
        StatusOr<std::unique_ptr<host::PodVolume>> attached = host::PodVolume::Attach(io_, *access, volume, pod_dir);
        if (attached.ok()) {
          result = (*attached)->path();
          if (!(*attached)->fuse())
            Log(who_, "volume " + volume.volume + " is an image file: " + (*attached)->fuse_status().ToString());
          std::lock_guard<std::mutex> lock(mu_);
          mounted_[key] = std::move(*attached);
        } else {
          result = attached.status();
        }
      }
      asio::post(io_, [done, result] { done(result); });
    });
  }

  void Unmount(const cluster::PodRun& run, const cluster::VolumeMount& volume, std::function<void()> done) {
    const std::string key = run.key() + "/" + volume.claim;
    asio::post(worker_, [this, key, done] {
      Detach(key);
      asio::post(io_, done);
    });
  }

  // Detaches every mount (commits what the pods wrote), then `done` on the io thread.
  void DetachAll(std::function<void()> done) {
    asio::post(worker_, [this, done] {
      std::vector<std::string> keys;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& m : mounted_) keys.push_back(m.first);
      }
      for (const std::string& key : keys) Detach(key);
      asio::post(io_, done);
    });
  }

 private:
  void Detach(const std::string& key) {
    std::unique_ptr<host::PodVolume> volume;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = mounted_.find(key);
      if (it == mounted_.end()) return;
      volume = std::move(it->second);
      mounted_.erase(it);
    }
    if (Status s = volume->Detach(); !s.ok()) Log(who_, "volume of " + key + " detached with an error: " + s.ToString());
  }

  asio::io_context& io_;
  std::string who_;
  asio::thread_pool worker_{1};
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<host::PodVolume>> mounted_;  // by "ns/pod/claim"
};

// What a real node does with the view besides pods: dials its peers, and
// puts its services and its pods' policy into the kernel (nftables). The
// tables stay when the agent stops, so its pods stay protected and reachable
// while it restarts.
class HostNode final : public cluster::AgentObserver {
 public:
  HostNode(host::HostEnv& env, std::string node_name, std::string who, bool kernel,
           host::ProcessRuntime* processes)
      : env_(env), node_(std::move(node_name)), who_(std::move(who)), kernel_(kernel), processes_(processes) {}

  // Pods left from an earlier life that the view no longer holds go.
  void ViewComplete() override {
    if (processes_) processes_->Cleanup({});
  }

  void PeersChanged(const std::vector<cluster::PeerRecord>& peers) override {
    for (const cluster::PeerRecord& p : peers) {
      if (p.node == node_ || p.id == env_.self()) continue;
      const std::string where = p.address + ":" + std::to_string(p.port);
      auto& known = peers_[p.id];
      if (known == where) continue;
      if (Status s = env_.AddPeer(p.id, p.address, p.port); !s.ok()) {
        Log(who_, "peer " + p.node + ": " + s.ToString());
        continue;
      }
      known = where;
      Log(who_, "peer " + p.node + " (" + std::to_string(p.id) + ") at " + where + ", pods " + p.pod_cidr);
    }
    if (!kernel_) return;
    // Its pods are reached through it (flannel's host-gw, as K3s can run it).
    for (const cluster::PeerRecord& p : peers) {
      if (p.node == node_ || p.pod_cidr.empty()) continue;
      auto& routed = routes_[p.pod_cidr];
      if (routed == p.address) continue;
      if (Status s = RunIp({"route", "replace", p.pod_cidr, "via", p.address}); !s.ok()) {
        Log(who_, "no route to " + p.node + "'s pods: " + s.ToString());
        continue;
      }
      routed = p.address;
    }
  }

  void ServicesChanged(const policy::ServiceTable& services) override {
    if (!kernel_) return;
    host::NftServiceOptions o;
    o.node_name = node_;
    const Status s = host::ApplyNft(host::RenderServiceRules(services, o));
    if (!s.ok() && s.code() != last_service_error_) Log(who_, "services not in the kernel: " + s.ToString());
    last_service_error_ = s.code();
  }

  void PolicyChanged(const policy::Classifier* classifier, const policy::Inventory* inventory,
                     const std::vector<std::string>& local) override {
    if (!kernel_) return;
    if (!classifier || !inventory) {
      if (policy_.has_applied()) (void)policy_.Remove();
      return;
    }
    const Status s = policy_.Update(*classifier, *inventory, local);
    if (!s.ok() && s.code() != last_policy_error_) Log(who_, "policy not in the kernel: " + s.ToString());
    if (s.ok() && last_policy_error_ != StatusCode::kOk) Log(who_, "policy in the kernel again");
    last_policy_error_ = s.code();
  }

 private:
  host::HostEnv& env_;
  std::string node_, who_;
  bool kernel_;
  host::ProcessRuntime* processes_;
  std::map<NodeId, std::string> peers_;
  std::map<std::string, std::string> routes_;  // pod CIDR -> the node address it goes via
  host::NftPolicy policy_;
  StatusCode last_service_error_ = StatusCode::kOk, last_policy_error_ = StatusCode::kOk;
};

// The source address this host would use toward `server` (no packet is sent).
std::string LocalAddressToward(const std::string& server, uint16_t port) {
  boost::system::error_code ec;
  asio::io_context io;
  asio::ip::udp::socket s(io);
  s.open(asio::ip::udp::v4(), ec);
  if (!ec) s.connect(asio::ip::udp::endpoint(asio::ip::make_address(server, ec), port), ec);
  if (ec) return "127.0.0.1";
  return s.local_endpoint(ec).address().to_string();
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "node";
  return buf;
}

}  // namespace

int RunAgent(int argc, char** argv) {
  std::string server_flag, token_flag, token_file, data_dir = kDefaultAgentDataDir, node_name, labels_flag;
  std::string node_ip, pools;
  int64_t port = kDefaultAgentPort, cpu = 0, memory_mib = 0, max_pods = 110;
  bool hollow = false;
  std::chrono::nanoseconds status_every = std::chrono::seconds(10);
  Flags flags("edgebed agent",
              "Runs a node: joins the server over TLS with the cluster token, runs the pods\n"
              "bound here, holds volume replicas under --data-dir, and puts the node's services\n"
              "and policy into the kernel.");
  flags.String("server", "ADDR:PORT of the server (its --listen)", &server_flag);
  flags.String("token", "the join token the server wrote (K10...::server:...)", &token_flag);
  flags.String("token-file", "a file holding the token, instead of --token", &token_file);
  flags.String("data-dir", "where replicas, pod state and the server's CA are kept", &data_dir);
  flags.String("node-name", "the node's name (default: the host name)", &node_name);
  flags.String("labels", "node labels, k=v,k=v", &labels_flag);
  flags.String("node-ip", "the address other nodes reach this one at (default: the one toward the server)", &node_ip);
  flags.Int("port", "the port other agents reach this one at (replication)", &port);
  flags.Int("cpu", "CPUs to offer (default: this host's)", &cpu);
  flags.Int("memory-mib", "memory to offer in MiB (default: this host's)", &memory_mib);
  flags.Int("max-pods", "pods the node takes", &max_pods);
  flags.String("pools", "storage pools, as the storage.edgebed.io/pools annotation: \"ssd=100Gi/high\"", &pools);
  flags.Duration("node-status-update-frequency",
                 "how often the node renews its lease; well under the server's grace period",
                 &status_every);
  flags.Bool("hollow", "pods are modelled, not run; no namespace or kernel rule is made (as kubemark's)",
             &hollow);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  const std::string who = "edgebed agent";
  auto fail = [&](const Status& s, int rc = 1) {
    Log(who, "error: " + s.ToString());
    return rc;
  };
  if (server_flag.empty()) return fail(InvalidArgument("--server ADDR:PORT is required", "--server"), 2);
  if (token_flag.empty() && !token_file.empty()) {
    StatusOr<std::string> t = host::ReadWholeFile(token_file);
    if (!t.ok()) return fail(t.status().WithContext("--token-file"), 2);
    token_flag = *t;
    while (!token_flag.empty() && (token_flag.back() == '\n' || token_flag.back() == ' ')) token_flag.pop_back();
  }
  if (token_flag.empty()) return fail(InvalidArgument("--token or --token-file is required", "--token"), 2);
  StatusOr<cluster::ClusterToken> token = cluster::ParseToken(token_flag);
  if (!token.ok()) return fail(token.status().WithContext("--token"), 2);
  StatusOr<HostPort> server = ParseHostPort(server_flag, "--server", /*allow_any_port=*/false, kDefaultApiPort);
  if (!server.ok()) return fail(server.status(), 2);
  if (port < 1 || port > 65535) return fail(InvalidArgument("must be 1..65535", "--port"), 2);
  if (node_name.empty()) node_name = HostName();
  if (node_ip.empty()) node_ip = LocalAddressToward(server->host, server->port);
  if (Status s = MakePrivateDir(data_dir); !s.ok()) return fail(s);

  // The CA: pinned by the token's hash, or the one learned on an earlier start.
  const std::string ca_path = data_dir + "/server-ca.crt";
  std::string ca_pem;
  if (StatusOr<std::string> kept = host::ReadWholeFile(ca_path); kept.ok()) ca_pem = *kept;
  if (token->ca_hash.empty() && ca_pem.empty()) {
    return fail(InvalidArgument("the token is a bare secret and no server CA is known yet; use the K10 token "
                                "from the server's data dir, which names its CA",
                                "--token"),
                2);
  }
  if (!token->ca_hash.empty() && !ca_pem.empty() && host::CaHash(ca_pem) != token->ca_hash) ca_pem.clear();

  // The Node it registers.
  YAML::Emitter node;
  node << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "v1" << YAML::Key << "kind" << YAML::Value
       << "Node" << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value
       << node_name << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  node << YAML::Key << "kubernetes.io/hostname" << YAML::Value << node_name;
  node << YAML::Key << "kubernetes.io/os" << YAML::Value << "linux";
  std::istringstream label_list(labels_flag);
  for (std::string kv; std::getline(label_list, kv, ',');) {
    if (kv.empty()) continue;
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return fail(InvalidArgument("\"" + kv + "\" is not k=v; write --labels zone=floor-1,role=gateway", "--labels"), 2);
    node << YAML::Key << kv.substr(0, eq) << YAML::Value << YAML::DoubleQuoted << kv.substr(eq + 1);
  }
  node << YAML::EndMap << YAML::Key << "annotations" << YAML::Value << YAML::BeginMap;
  node << YAML::Key << cluster::kInternalIpAnnotation << YAML::Value << YAML::DoubleQuoted << node_ip;
  node << YAML::Key << cluster::kAgentPortAnnotation << YAML::Value << YAML::DoubleQuoted << std::to_string(port);
  if (!pools.empty()) node << YAML::Key << "storage.edgebed.io/pools" << YAML::Value << YAML::DoubleQuoted << pools;
  node << YAML::EndMap << YAML::EndMap;
  if (cpu <= 0) cpu = std::max<long>(1, ::sysconf(_SC_NPROCESSORS_ONLN));
  if (memory_mib <= 0) memory_mib = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE) >> 20;
  node << YAML::Key << "status" << YAML::Value << YAML::BeginMap << YAML::Key << "capacity" << YAML::Value
       << YAML::BeginMap << YAML::Key << "cpu" << YAML::Value << YAML::DoubleQuoted << std::to_string(cpu) << YAML::Key
       << "memory" << YAML::Value << YAML::DoubleQuoted << (std::to_string(memory_mib) + "Mi") << YAML::Key << "pods"
       << YAML::Value << YAML::DoubleQuoted << std::to_string(max_pods) << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  model::LoadResult loaded = model::LoadManifests(node.c_str(), "the node's registration");
  const model::Node* registered =
      loaded.ok() && loaded.objects.size() == 1 ? std::get_if<model::Node>(&loaded.objects[0]) : nullptr;
  if (!registered) {
    return fail(InvalidArgument(loaded.errors.empty() ? "not a Node" : loaded.errors.front().ToString(),
                                "--node-name/--labels/--pools"),
                2);
  }

  asio::io_context io;
  LogSink log(who);
  const NodeId self = AgentNodeId(node_name);
  const cluster::Key key = cluster::DeriveClusterKey(token->secret);
  host::HostEnvOptions env_options;
  env_options.self = self;
  env_options.listen_address = node_ip;
  env_options.listen_port = static_cast<uint16_t>(port);
  env_options.data_dir = data_dir + "/node";
  env_options.tcp_only = true;  // the replication data path: ordered, congestion-controlled, no MTU to fit
  env_options.sink = &log;
  env_options.tls_prove = [key, self](ByteView binding) {
    const cluster::Mac mac = cluster::Prove(key, kNodeProofLabel, NodeProofData(binding, self));
    return Bytes(mac.begin(), mac.end());
  };
  StatusOr<std::unique_ptr<host::HostEnv>> env = host::HostEnv::Create(io, env_options);
  if (!env.ok()) return fail(env.status());
  StatusOr<std::shared_ptr<asio::ssl::context>> tls = host::ClientContext(ca_pem);
  if (!tls.ok()) return fail(tls.status());
  const std::string pin = ca_pem.empty() ? token->ca_hash : std::string();
  Status peer = (*env)->AddTlsPeer(kServerNode, server->host, server->port, *tls, pin,
                                   [&, ca_path](const std::string& pem) {
                                     if (Status s = host::WritePublicFile(ca_path, pem); !s.ok())
                                       Log(who, "cannot keep the server's CA: " + s.ToString());
                                   });
  if (!peer.ok()) return fail(peer);

  std::unique_ptr<cluster::WorkloadRuntime> runtime;
  host::ProcessRuntime* processes = nullptr;
  VolumeMounter volumes(io, who);
  if (hollow) {
    runtime = std::make_unique<cluster::ModelRuntime>(**env);
  } else {
    host::ProcessRuntimeOptions po;
    po.data_dir = data_dir;
    po.node_name = node_name;
    // Pods find the programs of this node, edgebed's own workloads first.
    std::error_code exe_error;
    const std::string self_dir = std::filesystem::read_symlink("/proc/self/exe", exe_error).parent_path().string();
    const char* path = std::getenv("PATH");
    po.container_path = (exe_error ? std::string() : self_dir + ":") + (path && *path ? path : po.container_path);
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "eb%04x-", self & 0xFFFF);  // nodes sharing a host keep apart
    po.netns_prefix = prefix;
    po.mounts_outlive_runtime = false;  // FUSE mounts end with this process
    po.mount_volume = [&volumes, &processes](const cluster::PodRun& run, const cluster::VolumeMount& volume,
                                             host::ProcessRuntimeOptions::MountDone done) {
      volumes.Mount(run, volume, processes->PodDir(run.key()), std::move(done));
    };
    po.unmount_volume = [&volumes](const cluster::PodRun& run, const cluster::VolumeMount& volume,
                                   const std::string&, std::function<void()> done) {
      volumes.Unmount(run, volume, std::move(done));
    };
    StatusOr<std::unique_ptr<host::ProcessRuntime>> made = host::ProcessRuntime::Create(io, po);
    if (!made.ok()) return fail(made.status());
    processes = made->get();
    runtime = std::move(*made);
  }
  HostNode host_node(**env, node_name, who, /*kernel=*/!hollow, processes);
  cluster::AgentOptions options;
  options.token = token->secret;
  options.server = kServerNode;
  options.node = *registered;
  options.observer = &host_node;
  if (status_every < std::chrono::milliseconds(100))
    return fail(InvalidArgument("must be at least 100ms", "--node-status-update-frequency"), 2);
  options.lease_renew = status_every;
  options.server_timeout = std::max<Duration>(options.server_timeout, 4 * status_every);
  cluster::Agent agent(**env, options, *runtime);
  if (Status s = agent.Start(); !s.ok()) return fail(s);
  Log(who, "node " + node_name + " (id " + std::to_string(self) + ") at " + node_ip + ":" + std::to_string(port) +
               " joining " + server->host + ":" + std::to_string(server->port));
  // Say once when it has joined.
  std::function<void()> watch_join;
  bool said = false;
  watch_join = [&] {
    if (agent.joined() && !said) {
      said = true;
      Log(who, "joined; pod CIDR " + agent.pod_cidr());
    }
    if (!agent.joined()) said = false;
    (*env)->Schedule(std::chrono::milliseconds(200), watch_join);
  };
  watch_join();
  // On SIGTERM the pods keep running; their volumes are committed and
  // detached first, while the io thread still serves their blocks.
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    Log(who, std::string("stopping on ") + (signo == SIGTERM ? "SIGTERM" : "SIGINT") + "; detaching volumes");
    volumes.DetachAll([&] {
      (*env)->Close();
      io.stop();
    });
  });
  io.run();
  return 0;
}

}  // namespace edgebed::tools
