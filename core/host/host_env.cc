#include "core/host/host_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <random>
#include <set>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "core/wire/codec.h"

namespace edgebed::host {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

constexpr uint16_t kMagic = 0xEB4E;
constexpr uint8_t kVersion = 1;
// magic, version, type, from, to, port, length, crc
constexpr size_t kEnvelopeSize = wire::kHeaderSize + 4 + 4 + 2 + 4 + 4;
constexpr size_t kMaxDatagram = 65507;

// Frame types: a message, or the proof that opens a TLS connection.
constexpr uint16_t kFrameMessage = 0;
constexpr uint16_t kFrameProof = 1;
constexpr size_t kMaxProof = 4096;

struct Envelope {
  uint16_t type = kFrameMessage;
  NodeId from = 0, to = 0;
  Port port = 0;
  uint32_t length = 0, crc = 0;
};

Bytes Frame(NodeId from, NodeId to, Port port, const Bytes& payload, uint16_t type = kFrameMessage) {
  wire::Writer w;
  wire::WriteHeader(w, {kMagic, kVersion, type});
  w.PutU32(from);
  w.PutU32(to);
  w.PutU16(port);
  w.PutU32(static_cast<uint32_t>(payload.size()));
  w.PutU32(Crc32c(payload));
  w.PutRaw(payload);
  return std::move(w).Finish();
}

Status ReadEnvelope(ByteView bytes, Envelope* e) {
  wire::Reader r(bytes);
  wire::Header h;
  EDGEBED_RETURN_IF_ERROR(wire::ReadHeader(r, kMagic, kVersion, &h));
  if (h.type != kFrameMessage && h.type != kFrameProof) return Corruption("unknown frame type");
  e->type = h.type;
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&e->from));
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&e->to));
  EDGEBED_RETURN_IF_ERROR(r.GetU16(&e->port));
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&e->length));
  EDGEBED_RETURN_IF_ERROR(r.GetU32(&e->crc));
  if (e->length > Env::kMaxMessageSize) return Corruption("length past the message bound");
  return Status::Ok();
}

std::string ErrnoText(int err) { return std::strerror(err); }

// Files under one directory; see the header for the promises.
class FileDisk final : public Disk {
 public:
  FileDisk(asio::io_context& io, std::filesystem::path root, std::shared_ptr<bool> alive)
      : io_(io), root_(std::move(root)), alive_(std::move(alive)) {}

  void Write(const std::string& file, uint64_t offset, Bytes data, Done done) override {
    Complete(std::move(done), DoWrite(file, offset, data));
  }
  void Read(const std::string& file, uint64_t offset, uint64_t length, ReadDone done) override {
    StatusOr<Bytes> result = DoRead(file, offset, length);
    Post([done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
  }
  void Sync(const std::string& file, Done done) override { Complete(std::move(done), DoSync(file)); }
  void Size(const std::string& file, SizeDone done) override {
    StatusOr<uint64_t> result = DoSize(file);
    Post([done = std::move(done), result] { done(result); });
  }
  void Remove(const std::string& file, Done done) override {
    Complete(std::move(done), DoRemove(file));
  }

 private:
  void Post(std::function<void()> fn) {
    asio::post(io_, [weak = std::weak_ptr<bool>(alive_), fn = std::move(fn)] {
      if (auto alive = weak.lock(); alive && *alive) fn();
    });
  }
  void Complete(Done done, Status s) {
    Post([done = std::move(done), s = std::move(s)] { done(s); });
  }

  StatusOr<std::filesystem::path> PathOf(const std::string& file) const {
    if (file.empty() || file.front() == '/' || file.find('\0') != std::string::npos) {
      return InvalidArgument("file names are relative and non-empty", file);
    }
    for (const auto& part : std::filesystem::path(file)) {
      if (part == ".." || part == ".") {
        return InvalidArgument("file names may not contain '.' or '..' components", file);
      }
    }
    return root_ / file;
  }

  Status DoWrite(const std::string& file, uint64_t offset, const Bytes& data) {
    auto path = PathOf(file);
    if (!path.ok()) return path.status();
    std::error_code ec;
    std::filesystem::create_directories(path->parent_path(), ec);
    const bool existed = std::filesystem::exists(*path, ec);
    const int fd = ::open(path->c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return IoError("open for write: " + ErrnoText(errno), path->string());
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                                 static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        return IoError("write: " + ErrnoText(err), path->string());
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    if (!existed) created_.insert(file);
    return Status::Ok();
  }

  StatusOr<Bytes> DoRead(const std::string& file, uint64_t offset, uint64_t length) {
    auto path = PathOf(file);
    if (!path.ok()) return path.status();
    const int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound("no such file", file);
      return IoError("open for read: " + ErrnoText(errno), path->string());
    }
    struct stat st {};
    ::fstat(fd, &st);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    Bytes out(offset < size ? std::min<uint64_t>(length, size - offset) : 0);
    size_t got = 0;
    while (got < out.size()) {
      const ssize_t n =
          ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = errno;
        ::close(fd);
        if (n == 0) break;
        return IoError("read: " + ErrnoText(err), path->string());
      }
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    out.resize(got);
    return out;
  }

  Status DoSync(const std::string& file) {
    auto path = PathOf(file);
    if (!path.ok()) return path.status();
    const int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound("no such file", file);
      return IoError("open for sync: " + ErrnoText(errno), path->string());
    }
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return IoError("fsync: " + ErrnoText(err), path->string());
    // A new file survives a power loss only once its directory entry does.
    if (created_.erase(file)) return SyncDirectory(path->parent_path());
    return Status::Ok();
  }

  Status SyncDirectory(const std::filesystem::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return IoError("open directory: " + ErrnoText(errno), dir.string());
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    return rc == 0 ? Status::Ok() : IoError("fsync directory: " + ErrnoText(err), dir.string());
  }

  StatusOr<uint64_t> DoSize(const std::string& file) {
    auto path = PathOf(file);
    if (!path.ok()) return path.status();
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0) {
      if (errno == ENOENT) return NotFound("no such file", file);
      return IoError("stat: " + ErrnoText(errno), path->string());
    }
    return static_cast<uint64_t>(st.st_size);
  }

  Status DoRemove(const std::string& file) {
    auto path = PathOf(file);
    if (!path.ok()) return path.status();
    if (::unlink(path->c_str()) != 0) {
      if (errno != ENOENT) return IoError("unlink: " + ErrnoText(errno), path->string());
      std::error_code ec;
      if (!std::filesystem::exists(path->parent_path(), ec)) {
        created_.erase(file);
        return Status::Ok();  // no directory: the file never was, durably
      }
    }
    created_.erase(file);
    return SyncDirectory(path->parent_path());
  }

  asio::io_context& io_;
  std::filesystem::path root_;
  std::shared_ptr<bool> alive_;
  std::set<std::string> created_;  // files whose directory entry is not yet synced
};

}  // namespace

// --- CRC-32C, bitwise table ---
uint32_t Crc32c(ByteView data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (uint8_t b : data) crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

void StderrSink::Record(const MetricSample& s) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "t=%.6fs node=%u metric %s=%g%s%s\n", ToNanos(s.time) / 1e9, s.node,
               s.name.c_str(), s.value, s.labels.empty() ? "" : " ", s.labels.c_str());
}

void StderrSink::Event(const EventRecord& e) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "t=%.6fs node=%u event %s %s\n", ToNanos(e.time) / 1e9, e.node,
               e.kind.c_str(), e.detail.c_str());
}

struct HostEnv::Impl {
  Impl(asio::io_context& io_context, HostEnvOptions opts, uint64_t seed)
      : io(io_context),
        options(std::move(opts)),
        epoch(std::chrono::steady_clock::now()),
        random(seed),
        udp_socket(io),
        acceptor(io),
        alive(std::make_shared<bool>(true)),
        disk(io, options.data_dir, alive) {}

  struct Peer {
    udp::endpoint udp_endpoint;
    tcp::endpoint tcp_endpoint;
  };
  // One outbound TCP connection and its queue of frames.
  struct Outbound {
    explicit Outbound(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::deque<Bytes> queue;
    size_t queued_bytes = 0;
    bool connecting = false, connected = false, writing = false;
  };
  // One inbound TCP connection being read.
  struct Inbound {
    explicit Inbound(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::array<uint8_t, kEnvelopeSize> header{};
    Bytes body;
    Envelope envelope;
  };

  Time Now() const {
    return Time(std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - epoch));
  }

  void Event(const std::string& kind, const std::string& detail) {
    metrics().Event(EventRecord{Now(), options.self, kind, detail});
  }
  MetricsSink& metrics() { return options.sink ? *options.sink : stderr_sink; }

  // Runs `fn` on the io_context, unless this Env is gone by then.
  template <typename F>
  auto Guard(F fn) {
    return [weak = std::weak_ptr<bool>(alive), fn = std::move(fn)](auto&&... args) mutable {
      if (auto a = weak.lock(); a && *a) fn(std::forward<decltype(args)>(args)...);
    };
  }

  void RunCallback(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      Event("env.callback_exception", e.what());
    } catch (...) {
      Event("env.callback_exception", "unknown exception");
    }
  }

  void Deliver(NodeId from, Port port, ByteView payload) {
    auto it = listeners.find(port);
    if (it == listeners.end()) {
      ++stats.dropped_no_listener;
      return;
    }
    ++stats.delivered;
    Receiver receiver = it->second;  // it may Unlisten itself
    RunCallback([&] { receiver(from, payload); });
  }

  // Checks an envelope and its payload; delivers or counts a drop.
  void Accept(const Envelope& e, ByteView payload) {
    if (e.type != kFrameMessage || e.to != options.self || payload.size() != e.length ||
        Crc32c(payload) != e.crc) {
      ++stats.dropped_bad;
      return;
    }
    Deliver(e.from, e.port, payload);
  }

  void StartUdpReceive() {
    udp_socket.async_receive_from(
        asio::buffer(udp_buffer), udp_sender, Guard([this](boost::system::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted || !udp_socket.is_open()) return;
          if (!ec) {
            ByteView bytes(udp_buffer.data(), n);
            Envelope e;
            if (ReadEnvelope(bytes, &e).ok()) {
              Accept(e, bytes.substr(kEnvelopeSize));
            } else {
              ++stats.dropped_bad;
            }
          }
          StartUdpReceive();
        }));
  }

  void StartAccept() {
    acceptor.async_accept(Guard([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        auto in = std::make_shared<Inbound>(std::move(socket));
        inbound.insert(in);
        ReadHeader(in);
      }
      StartAccept();
    }));
  }

  void DropInbound(const std::shared_ptr<Inbound>& in, bool bad) {
    if (bad) ++stats.dropped_bad;
    boost::system::error_code ignored;
    in->socket.close(ignored);
    inbound.erase(in);
  }

  void ReadHeader(std::shared_ptr<Inbound> in) {
    asio::async_read(in->socket, asio::buffer(in->header),
                     Guard([this, in](boost::system::error_code ec, size_t) {
                       if (ec) return DropInbound(in, ec != asio::error::eof &&
                                                          ec != asio::error::operation_aborted);
                       if (!ReadEnvelope(ByteView(in->header.data(), in->header.size()), &in->envelope).ok() ||
                           in->envelope.to != options.self) {
                         return DropInbound(in, true);  // a stream out of step cannot resync
                       }
                       in->body.resize(in->envelope.length);
                       asio::async_read(in->socket, asio::buffer(in->body),
                                        Guard([this, in](boost::system::error_code ec2, size_t) {
                                          if (ec2) return DropInbound(in, true);
                                          Accept(in->envelope, in->body);
                                          ReadHeader(in);
                                        }));
                     }));
  }

  void SendTcp(NodeId to, const Peer& peer, Bytes frame) {
    auto& slot = outbound[to];
    if (!slot) slot = std::make_shared<Outbound>(io);
    Outbound& out = *slot;
    if (out.queued_bytes + frame.size() > options.max_queued_bytes) {
      ++stats.send_failed;
      Event("env.send_failed", "to=" + std::to_string(to) + " reason=queue-full bytes=" +
                                   std::to_string(frame.size()));
      return;
    }
    out.queued_bytes += frame.size();
    out.queue.push_back(std::move(frame));
    if (out.connected) return WriteNext(to);
    if (out.connecting) return;
    out.connecting = true;
    out.socket.async_connect(peer.tcp_endpoint, Guard([this, to, keep = slot](boost::system::error_code ec) {
      auto it = outbound.find(to);
      if (it == outbound.end() || it->second != keep) return;  // dropped, or replaced by a new connection
      Outbound& o = *it->second;
      o.connecting = false;
      if (ec) return FailOutbound(to, "connect: " + ec.message());
      boost::system::error_code ignored;
      o.socket.set_option(tcp::no_delay(true), ignored);
      o.connected = true;
      WriteNext(to);
    }));
  }

  void WriteNext(NodeId to) {
    std::shared_ptr<Outbound> keep = outbound[to];
    Outbound& o = *keep;
    if (o.writing || o.queue.empty()) return;
    o.writing = true;
    asio::async_write(o.socket, asio::buffer(o.queue.front()),
                      Guard([this, to, keep](boost::system::error_code ec, size_t) {
                        auto it = outbound.find(to);
                        if (it == outbound.end() || it->second != keep) return;
                        Outbound& out = *it->second;
                        out.writing = false;
                        if (ec) return FailOutbound(to, "write: " + ec.message());
                        ++stats.tcp_frames_sent;
                        out.queued_bytes -= out.queue.front().size();
                        out.queue.pop_front();
                        WriteNext(to);
                      }));
  }

  // The connection is gone: what it held is lost; the next send reconnects.
  void FailOutbound(NodeId to, const std::string& why) {
    auto it = outbound.find(to);
    if (it == outbound.end()) return;
    const size_t lost = it->second->queue.size();
    stats.send_failed += lost;
    Event("env.send_failed", "to=" + std::to_string(to) + " reason=\"" + why +
                                 "\" messages=" + std::to_string(lost));
    boost::system::error_code ignored;
    it->second->socket.close(ignored);
    outbound.erase(it);
  }

  // ---- TLS control connections -----------------------------------------------

  // Where a TLS peer this node dials is.
  struct TlsPeer {
    tcp::endpoint endpoint;
    std::shared_ptr<asio::ssl::context> context;
    std::string ca_hash;
    std::function<void(const std::string&)> on_ca;
  };
  // One TLS connection, dialed or adopted; frames go both ways on it.
  struct TlsConn {
    explicit TlsConn(std::shared_ptr<TlsStream> s) : stream(std::move(s)) {}
    std::shared_ptr<TlsStream> stream;
    NodeId peer = kNoNode;  // the node dialed, or the one that proved itself
    bool dialed = false;
    bool ready = false;     // proven: messages may flow
    uint64_t frames_received = 0;
    bool writing = false, closed = false;
    std::deque<Bytes> queue;
    size_t queued_bytes = 0;
    std::array<uint8_t, kEnvelopeSize> header{};
    Bytes prefix;  // bytes of the first header already read by the acceptor
    Bytes body;
    Envelope envelope;
    std::string remote;  // address:port, for events
    TimerId auth_timer = kNoTimer;
  };

  static std::string RemoteOf(const TlsStream& stream) {
    boost::system::error_code ec;
    const auto endpoint = stream.lowest_layer().remote_endpoint(ec);
    return ec ? std::string("?") : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

  void SendTls(NodeId to, Bytes frame) {
    std::shared_ptr<TlsConn> conn;
    if (auto route = tls_routes.find(to); route != tls_routes.end()) conn = route->second;
    if (!conn) {
      auto peer = tls_peers.find(to);
      if (peer == tls_peers.end()) {
        ++stats.send_failed;
        Event("env.send_dropped", "to=" + std::to_string(to) + " reason=no-connection");
        return;
      }
      conn = Dial(to, peer->second);
    }
    if (conn->queued_bytes + frame.size() > options.max_queued_bytes) {
      ++stats.send_failed;
      Event("env.send_failed", "to=" + std::to_string(to) + " reason=queue-full bytes=" +
                                   std::to_string(frame.size()));
      return;
    }
    conn->queued_bytes += frame.size();
    conn->queue.push_back(std::move(frame));
    WriteNextTls(conn);
  }

  std::shared_ptr<TlsConn> Dial(NodeId to, const TlsPeer& peer) {
    auto stream = std::make_shared<TlsStream>(io, *peer.context);
    auto conn = std::make_shared<TlsConn>(stream);
    conn->peer = to;
    conn->dialed = true;
    conn->remote = peer.endpoint.address().to_string() + ":" + std::to_string(peer.endpoint.port());
    tls_routes[to] = conn;
    tls_conns.insert(conn);
    stream->lowest_layer().async_connect(peer.endpoint, Guard([this, conn](boost::system::error_code ec) {
      if (conn->closed) return;
      if (ec) return FailTls(conn, "connect: " + ec.message());
      boost::system::error_code ignored;
      conn->stream->lowest_layer().set_option(tcp::no_delay(true), ignored);
      conn->stream->async_handshake(
          asio::ssl::stream_base::client, Guard([this, conn](boost::system::error_code ec2) {
            if (conn->closed) return;
            if (ec2) return FailTls(conn, "TLS handshake: " + ec2.message());
            auto peer_it = tls_peers.find(conn->peer);
            if (peer_it != tls_peers.end() && !peer_it->second.ca_hash.empty()) {
              std::string ca_pem;
              Status verified = VerifyPinned(*conn->stream, peer_it->second.ca_hash, &ca_pem);
              if (!verified.ok()) return Refuse(conn, verified.message());
              if (peer_it->second.on_ca) {
                auto on_ca = peer_it->second.on_ca;
                RunCallback([&] { on_ca(ca_pem); });
              }
            }
            StatusOr<Bytes> binding = ExportKeyingMaterial(*conn->stream, kTlsBindingLabel);
            if (!binding.ok()) return FailTls(conn, binding.status().message());
            Bytes proof = options.tls_prove ? options.tls_prove(*binding) : Bytes{};
            Bytes frame = Frame(options.self, conn->peer, 0, proof, kFrameProof);
            conn->queued_bytes += frame.size();
            conn->queue.push_front(std::move(frame));
            conn->ready = true;
            ReadTlsHeader(conn);
            WriteNextTls(conn);
          }));
    }));
    return conn;
  }

  void Adopt(std::shared_ptr<TlsStream> stream, Bytes prefix) {
    if (!*alive) return;
    auto conn = std::make_shared<TlsConn>(std::move(stream));
    conn->remote = RemoteOf(*conn->stream);
    if (prefix.size() > kEnvelopeSize) prefix.resize(kEnvelopeSize);  // cannot be a header then
    conn->prefix = std::move(prefix);
    tls_conns.insert(conn);
    std::weak_ptr<TlsConn> weak = conn;
    conn->auth_timer = ScheduleInternal(options.tls_auth_timeout, [this, weak] {
      auto c = weak.lock();
      if (c && !c->ready && !c->closed) Refuse(c, "no proof within " +
                                                   std::to_string(ToSeconds(options.tls_auth_timeout)) + " s");
    });
    ReadTlsHeader(conn);
  }

  void ReadTlsHeader(const std::shared_ptr<TlsConn>& conn) {
    const size_t have = std::min(conn->prefix.size(), conn->header.size());
    std::copy(conn->prefix.begin(), conn->prefix.begin() + static_cast<std::ptrdiff_t>(have),
              conn->header.begin());
    conn->prefix.clear();
    asio::async_read(*conn->stream, asio::buffer(conn->header.data() + have, conn->header.size() - have),
                     Guard([this, conn](boost::system::error_code ec, size_t) {
                       if (conn->closed) return;
                       if (ec) {
                         // A server that refuses a proof says nothing: it closes.
                         if (conn->dialed && conn->frames_received == 0 && conn->ready)
                           return FailTls(conn, "closed by the peer before any answer: is the token's secret this "
                                                "cluster's?");
                         return FailTls(conn, ec == asio::error::eof ? "closed by the peer" : "read: " + ec.message());
                       }
                       Envelope& e = conn->envelope;
                       if (!ReadEnvelope(ByteView(conn->header.data(), conn->header.size()), &e).ok() ||
                           e.to != options.self) {
                         ++stats.dropped_bad;
                         return Refuse(conn, "a frame that is not this protocol's, or not for this node");
                       }
                       const bool proof = e.type == kFrameProof;
                       if (proof ? (conn->ready || conn->dialed || e.length > kMaxProof)
                                 : (!conn->ready || e.from != conn->peer)) {
                         ++stats.dropped_bad;
                         return Refuse(conn, proof ? "an unexpected proof frame"
                                                   : "a message before the proof, or from another node");
                       }
                       conn->body.resize(e.length);
                       asio::async_read(*conn->stream, asio::buffer(conn->body),
                                        Guard([this, conn](boost::system::error_code ec2, size_t) {
                                          if (conn->closed) return;
                                          if (ec2) return FailTls(conn, "read: " + ec2.message());
                                          OnTlsFrame(conn);
                                        }));
                     }));
  }

  void OnTlsFrame(const std::shared_ptr<TlsConn>& conn) {
    ++conn->frames_received;
    const Envelope& e = conn->envelope;
    ByteView payload(conn->body.data(), conn->body.size());
    if (Crc32c(payload) != e.crc) {
      ++stats.dropped_bad;
      return Refuse(conn, "a frame failed its checksum");
    }
    if (e.type == kFrameProof) {
      StatusOr<Bytes> binding = ExportKeyingMaterial(*conn->stream, kTlsBindingLabel);
      bool ok = false;
      if (binding.ok() && options.tls_verify) {
        RunCallback([&] { ok = options.tls_verify(e.from, *binding, payload); });
      }
      if (!ok) return Refuse(conn, "node " + std::to_string(e.from) + " did not prove the cluster secret");
      if (conn->auth_timer != kNoTimer) CancelInternal(conn->auth_timer);
      conn->auth_timer = kNoTimer;
      conn->peer = e.from;
      conn->ready = true;
      auto old = tls_routes.find(e.from);
      if (old != tls_routes.end() && old->second != conn) CloseTls(old->second);
      tls_routes[e.from] = conn;
      Event("env.tls_peer", "node=" + std::to_string(e.from) + " from=" + conn->remote);
      WriteNextTls(conn);
    } else {
      Deliver(e.from, e.port, payload);
    }
    if (!conn->closed) ReadTlsHeader(conn);
  }

  void WriteNextTls(const std::shared_ptr<TlsConn>& conn) {
    if (conn->closed || !conn->ready || conn->writing || conn->queue.empty()) return;
    conn->writing = true;
    asio::async_write(*conn->stream, asio::buffer(conn->queue.front()),
                      Guard([this, conn](boost::system::error_code ec, size_t) {
                        conn->writing = false;
                        if (conn->closed) return;
                        if (ec) return FailTls(conn, "write: " + ec.message());
                        ++stats.tls_frames_sent;
                        conn->queued_bytes -= conn->queue.front().size();
                        conn->queue.pop_front();
                        WriteNextTls(conn);
                      }));
  }

  // A connection that failed a check: closed, counted, said why.
  void Refuse(const std::shared_ptr<TlsConn>& conn, const std::string& why) {
    ++stats.tls_refused;
    Event("env.tls_refused", "remote=" + conn->remote + " reason=\"" + why + "\"");
    FailTls(conn, why, /*quiet=*/true);
  }

  // The connection is gone: what it held is lost; the next send dials again.
  void FailTls(const std::shared_ptr<TlsConn>& conn, const std::string& why, bool quiet = false) {
    if (conn->closed) return;
    const size_t lost = conn->queue.size();
    stats.send_failed += lost;
    if (!quiet && (lost > 0 || conn->dialed)) {
      Event("env.send_failed", "to=" + (conn->peer == kNoNode ? conn->remote : std::to_string(conn->peer)) +
                                   " reason=\"" + why + "\" messages=" + std::to_string(lost));
    }
    CloseTls(conn);
  }

  void CloseTls(const std::shared_ptr<TlsConn>& conn) {
    if (conn->closed) return;
    conn->closed = true;
    if (conn->auth_timer != kNoTimer) CancelInternal(conn->auth_timer);
    boost::system::error_code ignored;
    conn->stream->lowest_layer().close(ignored);
    auto route = tls_routes.find(conn->peer);
    if (route != tls_routes.end() && route->second == conn) tls_routes.erase(route);
    tls_conns.erase(conn);
  }

  // Timers of the Env itself, not the node's: they never run a node callback.
  TimerId ScheduleInternal(Duration after, std::function<void()> fn) {
    const TimerId id = next_timer++;
    auto timer = std::make_unique<asio::steady_timer>(io);
    timer->expires_after(after);
    timer->async_wait(Guard([this, id, fn = std::move(fn)](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted || timers.erase(id) == 0) return;
      fn();
    }));
    timers.emplace(id, std::move(timer));
    return id;
  }
  void CancelInternal(TimerId id) {
    auto it = timers.find(id);
    if (it == timers.end()) return;
    it->second->cancel();
    timers.erase(it);
  }

  void Close() {
    if (!*alive) return;
    *alive = false;  // every pending handler now returns without touching this
    boost::system::error_code ignored;
    for (auto& [id, timer] : timers) timer->cancel();
    timers.clear();
    udp_socket.close(ignored);
    acceptor.close(ignored);
    for (auto& [id, out] : outbound) out->socket.close(ignored);
    outbound.clear();
    for (auto& in : inbound) in->socket.close(ignored);
    inbound.clear();
    for (auto& conn : tls_conns) {
      conn->closed = true;
      conn->stream->lowest_layer().close(ignored);
    }
    tls_conns.clear();
    tls_routes.clear();
    tls_peers.clear();
    listeners.clear();
  }

  asio::io_context& io;
  HostEnvOptions options;
  std::chrono::steady_clock::time_point epoch;
  Random random;
  StderrSink stderr_sink;
  udp::socket udp_socket;
  tcp::acceptor acceptor;
  std::shared_ptr<bool> alive;
  FileDisk disk;
  std::array<uint8_t, kMaxDatagram> udp_buffer{};
  udp::endpoint udp_sender;
  std::map<NodeId, Peer> peers;
  // Shared with the handlers of its socket's operations: a connection that
  // is dropped (or this Env closed) lives until the last of them has run, as
  // a composed write may touch its socket and buffer between partial writes.
  std::map<NodeId, std::shared_ptr<Outbound>> outbound;
  std::set<std::shared_ptr<Inbound>> inbound;
  std::map<Port, Receiver> listeners;
  std::map<NodeId, TlsPeer> tls_peers;
  // The connection each node is reached over: dialed, or the newest it proved itself on.
  std::map<NodeId, std::shared_ptr<TlsConn>> tls_routes;
  std::set<std::shared_ptr<TlsConn>> tls_conns;  // every open one, proven or not
  TimerId next_timer = 1;
  std::map<TimerId, std::unique_ptr<asio::steady_timer>> timers;
  HostNetStats stats;
};

StatusOr<std::unique_ptr<HostEnv>> HostEnv::Create(asio::io_context& io, HostEnvOptions options) {
  if (options.data_dir.empty()) {
    return InvalidArgument("a data directory is required for the node's disk", "data_dir");
  }
  std::error_code fs_error;
  std::filesystem::create_directories(options.data_dir, fs_error);
  if (fs_error) {
    return IoError("cannot create the data directory: " + fs_error.message(), options.data_dir);
  }
  if (options.udp_max_bytes < kEnvelopeSize + 1 || options.udp_max_bytes > kMaxDatagram) {
    return InvalidArgument("must be between " + std::to_string(kEnvelopeSize + 1) + " and " +
                               std::to_string(kMaxDatagram),
                           "udp_max_bytes");
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.listen_address, ec);
  if (ec) {
    return InvalidArgument("\"" + options.listen_address + "\" is not an IP address",
                           "listen_address");
  }
  const uint64_t seed = options.seed ? *options.seed : (uint64_t{std::random_device{}()} << 32 |
                                                        std::random_device{}());
  auto impl = std::make_unique<Impl>(io, std::move(options), seed);
  const std::string where = impl->options.listen_address + ":" +
                            std::to_string(impl->options.listen_port);
  if (!impl->options.listen) return std::unique_ptr<HostEnv>(new HostEnv(std::move(impl)));
  // TCP first: with port 0 it picks the number, and UDP takes the same one.
  impl->acceptor.open(address.is_v4() ? tcp::v4() : tcp::v6(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(tcp::endpoint(address, impl->options.listen_port), ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen on TCP " + where + ": " + ec.message(), "listen");
  const uint16_t port = impl->acceptor.local_endpoint().port();
  impl->udp_socket.open(address.is_v4() ? udp::v4() : udp::v6(), ec);
  if (!ec) impl->udp_socket.bind(udp::endpoint(address, port), ec);
  if (ec) {
    return Unavailable("cannot bind UDP " + impl->options.listen_address + ":" +
                           std::to_string(port) + ": " + ec.message(),
                       "listen");
  }
  impl->StartUdpReceive();
  impl->StartAccept();
  return std::unique_ptr<HostEnv>(new HostEnv(std::move(impl)));
}

HostEnv::HostEnv(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HostEnv::~HostEnv() { impl_->Close(); }

uint16_t HostEnv::port() const {
  boost::system::error_code ec;
  const auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

Status HostEnv::AddPeer(NodeId id, const std::string& address, uint16_t port) {
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address, ec);
  if (ec) return InvalidArgument("\"" + address + "\" is not an IP address", "peer " + std::to_string(id));
  impl_->peers[id] = Impl::Peer{udp::endpoint(ip, port), tcp::endpoint(ip, port)};
  impl_->outbound.erase(id);  // a new address means a new connection
  return Status::Ok();
}

void HostEnv::RemovePeer(NodeId id) {
  impl_->peers.erase(id);
  impl_->outbound.erase(id);
  impl_->tls_peers.erase(id);
  auto route = impl_->tls_routes.find(id);
  if (route != impl_->tls_routes.end()) impl_->CloseTls(route->second);
}

Status HostEnv::AddTlsPeer(NodeId id, const std::string& address, uint16_t port,
                           std::shared_ptr<asio::ssl::context> context, std::string ca_hash,
                           std::function<void(const std::string&)> on_ca) {
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address, ec);
  if (ec) return InvalidArgument("\"" + address + "\" is not an IP address", "peer " + std::to_string(id));
  if (!context) return InvalidArgument("a TLS peer needs a client context", "peer " + std::to_string(id));
  RemovePeer(id);
  impl_->tls_peers[id] = Impl::TlsPeer{tcp::endpoint(ip, port), std::move(context), std::move(ca_hash),
                                       std::move(on_ca)};
  return Status::Ok();
}

void HostEnv::AdoptTls(std::shared_ptr<TlsStream> stream, Bytes prefix) {
  impl_->Adopt(std::move(stream), std::move(prefix));
}

void HostEnv::Close() { impl_->Close(); }
const HostNetStats& HostEnv::net_stats() const { return impl_->stats; }
NodeId HostEnv::self() const { return impl_->options.self; }
Time HostEnv::now() const { return impl_->Now(); }
Disk& HostEnv::disk() { return impl_->disk; }
Random& HostEnv::random() { return impl_->random; }
MetricsSink& HostEnv::metrics() { return impl_->metrics(); }

TimerId HostEnv::Schedule(Duration after, std::function<void()> fn) {
  const TimerId id = impl_->next_timer++;
  auto timer = std::make_unique<asio::steady_timer>(impl_->io);
  timer->expires_after(std::max(after, Duration::zero()));
  timer->async_wait(impl_->Guard([impl = impl_.get(), id, fn = std::move(fn)](
                                     boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    if (impl->timers.erase(id) == 0) return;  // cancelled
    impl->RunCallback(fn);
  }));
  impl_->timers.emplace(id, std::move(timer));
  return id;
}

bool HostEnv::Cancel(TimerId id) {
  auto it = impl_->timers.find(id);
  if (it == impl_->timers.end()) return false;
  it->second->cancel();
  impl_->timers.erase(it);
  return true;
}

void HostEnv::Send(NodeId to, Port port, Bytes message) {
  Impl& d = *impl_;
  if (!*d.alive) return;
  if (message.size() > kMaxMessageSize) {
    ++d.stats.send_failed;
    d.Event("env.send_dropped", "to=" + std::to_string(to) + " bytes=" +
                                    std::to_string(message.size()) + " reason=oversized");
    return;
  }
  if (to == d.options.self) {
    asio::post(d.io, d.Guard([impl = &d, port, message = std::move(message)] {
      impl->Deliver(impl->options.self, port, message);
    }));
    return;
  }
  if (d.tls_peers.count(to) || d.tls_routes.count(to)) {
    d.SendTls(to, Frame(d.options.self, to, port, message));
    return;
  }
  auto peer = d.peers.find(to);
  if (peer == d.peers.end()) {
    ++d.stats.send_failed;
    d.Event("env.send_dropped", "to=" + std::to_string(to) + " reason=unknown-node");
    return;
  }
  auto frame = std::make_shared<Bytes>(Frame(d.options.self, to, port, message));
  if (!d.options.tcp_only && frame->size() <= d.options.udp_max_bytes) {
    ++d.stats.udp_sent;
    d.udp_socket.async_send_to(asio::buffer(*frame), peer->second.udp_endpoint,
                               [frame](boost::system::error_code, size_t) {});
    return;
  }
  d.SendTcp(to, peer->second, std::move(*frame));
}

Status HostEnv::Listen(Port port, Receiver receiver) {
  if (!receiver) return InvalidArgument("Listen needs a receiver");
  if (!impl_->listeners.emplace(port, std::move(receiver)).second) {
    return Status(StatusCode::kAlreadyExists, "port " + std::to_string(port) +
                                                  " already has a receiver on node " +
                                                  std::to_string(impl_->options.self));
  }
  return Status::Ok();
}

void HostEnv::Unlisten(Port port) { impl_->listeners.erase(port); }

}  // namespace edgebed::host
