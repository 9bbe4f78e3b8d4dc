#include "tools/heartbeat_command.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include <boost/asio.hpp>

#include "core/host/host_env.h"
#include "core/probe/heartbeat.h"
#include "tools/flags.h"

namespace edgebed::tools {
namespace {

// Prints state changes; everything else goes nowhere.
class PrintSink final : public MetricsSink {
 public:
  void Record(const MetricSample&) override {}
  void Event(const EventRecord& e) override {
    std::printf("t=%.3fs node=%u %s %s\n", ToNanos(e.time) / 1e9, e.node, e.kind.c_str(),
                e.detail.c_str());
    std::fflush(stdout);
  }
};

}  // namespace

int RunHeartbeat(int argc, char** argv) {
  int64_t id = -1, seed = 1;
  std::string listen = "127.0.0.1:0", data_dir;
  std::vector<std::string> peer_flags;
  std::chrono::nanoseconds duration = std::chrono::seconds(30);
  HeartbeatConfig config;
  int64_t attempts = config.attempts, payload = 0;
  Flags flags("edgebed heartbeat",
              "Runs the heartbeat failure detector as node --id, listening on --listen (UDP and\n"
              "TCP), probing each --peer ID=ADDRESS:PORT. Prints every change of a peer's state\n"
              "(alive, suspect, dead) and a summary per peer at the end.");
  flags.Int("id", "this node's id (required)", &id);
  flags.String("listen", "ADDRESS:PORT to listen on", &listen);
  flags.Repeated("peer", "", "a peer as ID=ADDRESS:PORT", &peer_flags);
  flags.String("data-dir", "the node's disk directory (default: a temporary one)", &data_dir);
  flags.Duration("duration", "how long to run", &duration);
  flags.Duration("interval", "time between rounds", &config.interval);
  flags.Duration("timeout", "time to wait for an echo before a retry", &config.timeout);
  flags.Int("attempts", "pings per round, retries included", &attempts);
  flags.Int("payload", "bytes of padding in each ping (large ones go over TCP)", &payload);
  flags.Int("seed", "random seed", &seed);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  auto usage_error = [](const std::string& message) {
    std::cerr << "edgebed heartbeat: " << message << "\n";
    return 2;
  };
  if (id < 0 || id > UINT32_MAX - 1) return usage_error("--id is required: a node id 0..4294967294");
  config.attempts = static_cast<int>(attempts);
  config.payload_bytes = static_cast<size_t>(std::max<int64_t>(payload, 0));
  if (Status s = config.Validate(); !s.ok()) return usage_error("--" + s.where() + ": " + s.message());
  auto address = ParseHostPort(listen, "--listen", /*allow_any_port=*/true);
  if (!address.ok()) return usage_error(address.status().ToString());

  std::vector<std::pair<NodeId, HostPort>> peers;
  for (const auto& p : peer_flags) {
    const size_t eq = p.find('=');
    char* end = nullptr;
    const unsigned long peer_id = eq == std::string::npos ? 0 : std::strtoul(p.c_str(), &end, 10);
    if (eq == std::string::npos || end != p.c_str() + eq || eq == 0) {
      return usage_error("--peer: \"" + p + "\" is not ID=ADDRESS:PORT, e.g. 2=127.0.0.1:7002");
    }
    auto a = ParseHostPort(p.substr(eq + 1), "--peer");
    if (!a.ok()) return usage_error(a.status().ToString());
    peers.emplace_back(static_cast<NodeId>(peer_id), *a);
  }
  const bool temporary_dir = data_dir.empty();
  if (temporary_dir) {
    data_dir = (std::filesystem::temp_directory_path() /
                ("edgebed-heartbeat-" + std::to_string(id) + "-" + std::to_string(::getpid())))
                   .string();
  }

  boost::asio::io_context io;
  PrintSink sink;
  host::HostEnvOptions options;
  options.self = static_cast<NodeId>(id);
  options.listen_address = address->host;
  options.listen_port = address->port;
  options.data_dir = data_dir;
  options.seed = static_cast<uint64_t>(seed);
  options.sink = &sink;
  auto env = host::HostEnv::Create(io, options);
  if (!env.ok()) {
    std::cerr << "edgebed heartbeat: " << env.status().ToString() << "\n";
    return 1;
  }
  std::vector<NodeId> ids;
  for (const auto& [peer_id, a] : peers) {
    if (Status s = (*env)->AddPeer(peer_id, a.host, a.port); !s.ok()) return usage_error(s.ToString());
    ids.push_back(peer_id);
  }
  Heartbeat heartbeat(**env, config);
  if (Status s = heartbeat.Start(ids); !s.ok()) {
    std::cerr << "edgebed heartbeat: " << s.ToString() << "\n";
    return 1;
  }
  std::printf("node %lld listening on %s:%u, probing %zu peers\n", static_cast<long long>(id),
              address->host.c_str(), (*env)->port(), ids.size());
  std::fflush(stdout);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });
  boost::asio::steady_timer stop(io, duration);
  stop.async_wait([&io](const boost::system::error_code& ec) {
    if (!ec) io.stop();
  });
  io.run();

  for (NodeId p : ids) {
    const PeerStatus& s = heartbeat.peer(p);
    std::printf("peer %u: %s, %llu/%llu rounds answered, last rtt %.3f ms\n", p,
                PeerStateName(s.state), static_cast<unsigned long long>(s.rounds_answered),
                static_cast<unsigned long long>(s.rounds), ToMillis(s.last_rtt));
  }
  heartbeat.Stop();
  (*env)->Close();
  std::error_code ec;
  if (temporary_dir) std::filesystem::remove_all(data_dir, ec);
  return 0;
}

}  // namespace edgebed::tools
