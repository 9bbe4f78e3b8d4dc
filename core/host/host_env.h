// HostEnv: the Env of a real node — Boost.Asio sockets, the steady clock and
// files on a local disk.
//
// It keeps every promise of core/env/env.h on a real machine, so engine code
// that ran on the test loop and inside ns-3 runs here unchanged:
//
// - One logical thread: every callback runs on the thread that runs the
//   io_context the HostEnv was made with. Several HostEnvs may share one
//   io_context (several nodes in one process, for tests).
// - Time is std::chrono::steady_clock, counted from the HostEnv's creation.
// - Messages travel as UDP datagrams up to `udp_max_bytes` (by default small
//   enough for any real MTU), and larger ones as frames on one TCP connection
//   per peer, opened when first needed and again after a failure. Both carry
//   the same envelope: magic, version, sender, receiver, port, length and a
//   CRC-32C of the payload. Anything that fails a check — a foreign packet, a
//   truncated frame, a length past the bound, a bad checksum, a message for
//   another node — is dropped and counted, never delivered and never allowed
//   to allocate past the bound. A send to a peer that cannot be reached is
//   lost, as the contract allows, with an "env.send_failed" event.
// - The disk is a directory: Write is pwrite, Sync is fsync (and an fsync of
//   the directory when the file was created), so a synced write survives a
//   power loss. Operations run on the calling thread and complete through
//   the io_context, never inside the call.
//
// Thread-safety: a HostEnv is used only from its io_context's thread.
//
//   boost::asio::io_context io;
//   HostEnvOptions options;
//   options.self = 1;
//   options.listen_port = 7001;
//   options.data_dir = "/var/lib/edgebed";
//   auto env = HostEnv::Create(io, options);
//   (*env)->AddPeer(2, "127.0.0.1", 7002);
//   Heartbeat hb(**env, {});
//   io.run();
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "core/env/env.h"
#include "core/host/tls.h"

namespace edgebed::host {

struct HostEnvOptions {
  NodeId self = 0;
  std::string listen_address = "127.0.0.1";
  uint16_t listen_port = 0;           // 0: the system picks; see HostEnv::port()
  std::string data_dir;               // the disk's root; created if missing
  std::optional<uint64_t> seed;       // default: from std::random_device
  MetricsSink* sink = nullptr;        // default: a StderrSink
  size_t udp_max_bytes = 1200;        // larger messages go over TCP
  bool tcp_only = false;              // every message over TCP (a real node's data path)
  size_t max_queued_bytes = 64u << 20;  // per peer, waiting for TCP
  // Whether to bind UDP and TCP on listen_address:listen_port. A node that
  // hears its peers only over adopted TLS connections (a server) binds none.
  bool listen = true;
  // The proof this node sends first on a TLS connection it dials, made from
  // the connection's exported keying material.
  std::function<Bytes(ByteView binding)> tls_prove;
  // Checks the first frame of an adopted TLS connection: node `claimed`
  // proves itself with `proof` over `binding`. Unset: every adopted
  // connection is refused.
  std::function<bool(NodeId claimed, ByteView binding, ByteView proof)> tls_verify;
  Duration tls_auth_timeout = std::chrono::seconds(10);
};

// The label the keying material of a TLS connection is exported under.
inline constexpr const char* kTlsBindingLabel = "EXPORTER-edgebed-node-proof";

// Counters of the transport, for tests and the node's own metrics.
struct HostNetStats {
  uint64_t udp_sent = 0, tcp_frames_sent = 0;
  uint64_t delivered = 0;
  uint64_t dropped_bad = 0;          // failed an envelope check
  uint64_t dropped_no_listener = 0;
  uint64_t send_failed = 0;          // unknown peer, connection failure, queue full
  uint64_t tls_frames_sent = 0;
  uint64_t tls_refused = 0;          // connections closed for a failed proof or certificate
};

// Writes each sample and event as one line on stderr; safe to share between
// HostEnvs on different threads.
class StderrSink final : public MetricsSink {
 public:
  void Record(const MetricSample& sample) override;
  void Event(const EventRecord& event) override;
};

class HostEnv final : public Env {
 public:
  // Binds the UDP socket and the TCP listener on listen_address:listen_port
  // and creates data_dir. Errors name the address or directory and the fix.
  static StatusOr<std::unique_ptr<HostEnv>> Create(boost::asio::io_context& io,
                                                   HostEnvOptions options);
  ~HostEnv() override;
  HostEnv(const HostEnv&) = delete;
  HostEnv& operator=(const HostEnv&) = delete;

  // The bound port (the same number for UDP and TCP).
  uint16_t port() const;
  // Where node `id` listens. Replaces an earlier address.
  Status AddPeer(NodeId id, const std::string& address, uint16_t port);
  void RemovePeer(NodeId id);
  // Messages to `id` go over TLS to address:port, with `context` (tls.h's
  // ClientContext). With `ca_hash`, the server's certificate must verify
  // against the CA in its chain with that hash (VerifyPinned), and
  // `on_ca` hears that CA's PEM once it did.
  Status AddTlsPeer(NodeId id, const std::string& address, uint16_t port,
                    std::shared_ptr<boost::asio::ssl::context> context, std::string ca_hash = {},
                    std::function<void(const std::string& ca_pem)> on_ca = {});
  // Takes a TLS connection accepted elsewhere, its handshake done, with the
  // bytes already read from it (`prefix`). See the file comment.
  void AdoptTls(std::shared_ptr<TlsStream> stream, Bytes prefix);
  // Cancels timers, closes sockets; pending callbacks never run. Idempotent.
  void Close();
  const HostNetStats& net_stats() const;

  NodeId self() const override;
  Time now() const override;
  TimerId Schedule(Duration after, std::function<void()> fn) override;
  bool Cancel(TimerId id) override;
  void Send(NodeId to, Port port, Bytes message) override;
  Status Listen(Port port, Receiver receiver) override;
  void Unlisten(Port port) override;
  Disk& disk() override;
  Random& random() override;
  MetricsSink& metrics() override;

 private:
  struct Impl;
  explicit HostEnv(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// CRC-32C (Castagnoli) of `data`: the envelope's checksum.
uint32_t Crc32c(ByteView data);

}  // namespace edgebed::host
