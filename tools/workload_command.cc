#include "tools/workload_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "core/base/status.h"
#include "tools/flags.h"

namespace edgebed::tools {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxLine = 64 * 1024;

int UsageError(const std::string& command, const std::string& message) {
  std::cerr << "edgebed workload " << command << ": " << message << "\nRun 'edgebed workload " << command
            << " --help' for the flags.\n";
  return 2;
}

StatusOr<uint16_t> ParsePort(const std::string& text, const std::string& flag) {
  char* end = nullptr;
  const long p = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || p < 1 || p > 65535)
    return InvalidArgument("\"" + text + "\" is not a port number 1..65535", flag);
  return static_cast<uint16_t>(p);
}

// "80,8080" -> {80, 8080}; "" -> {}.
StatusOr<std::vector<uint16_t>> ParsePorts(const std::string& text, const std::string& flag) {
  std::vector<uint16_t> out;
  if (text.empty()) return out;
  std::istringstream in(text);
  for (std::string word; std::getline(in, word, ',');) {
    StatusOr<uint16_t> p = ParsePort(word, flag);
    if (!p.ok())
      return InvalidArgument("\"" + word + "\" is not a port number 1..65535; give ports as PORT[,PORT...], e.g. 8080,8081",
                             flag);
    out.push_back(*p);
  }
  return out;
}

// "10.42.1.11:8080" (or "[fd00::1]:8080") -> an address and a port.
StatusOr<std::pair<asio::ip::address, uint16_t>> ParseAddress(const std::string& text, const std::string& flag) {
  StatusOr<HostPort> parsed = ParseHostPort(text, flag);
  if (!parsed.ok()) return parsed.status();
  return std::make_pair(asio::ip::make_address(parsed->host), parsed->port);
}

std::string PodName() {
  if (const char* p = std::getenv("POD_NAME"); p && *p) return p;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

// Stops `io` on SIGTERM or SIGINT, and says so.
void StopOnSignal(asio::io_context& io, asio::signal_set& signals, bool* stopped = nullptr) {
  signals.async_wait([&io, stopped](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (stopped) *stopped = true;
    io.stop();
  });
}

// Reads lines from a TCP connection; `on_lines` gets every complete line
// received in one read and returns what to answer ("" for nothing).
class LineSession : public std::enable_shared_from_this<LineSession> {
 public:
  using Handler = std::function<std::string(const std::vector<std::string>&)>;
  LineSession(tcp::socket socket, Handler on_lines) : socket_(std::move(socket)), on_lines_(std::move(on_lines)) {}

  void Read() {
    auto self = shared_from_this();
    asio::async_read_until(socket_, asio::dynamic_buffer(buffer_, kMaxLine), '\n',
                           [self](const boost::system::error_code& ec, size_t) {
                             if (ec) return;  // closed, or a line past the bound: drop the connection
                             std::vector<std::string> lines;
                             for (size_t nl; (nl = self->buffer_.find('\n')) != std::string::npos;) {
                               std::string line = self->buffer_.substr(0, nl);
                               if (!line.empty() && line.back() == '\r') line.pop_back();
                               lines.push_back(std::move(line));
                               self->buffer_.erase(0, nl + 1);
                             }
                             auto reply = std::make_shared<std::string>(self->on_lines_(lines));
                             if (reply->empty()) return self->Read();
                             asio::async_write(self->socket_, asio::buffer(*reply),
                                               [self, reply](const boost::system::error_code& wec, size_t) {
                                                 if (!wec) self->Read();
                                               });
                           });
  }

 private:
  tcp::socket socket_;
  LineSession::Handler on_lines_;
  std::string buffer_;
};

// Accepts connections on `port` (all IPv4 addresses) and runs a
// LineSession for each.
class LineServer {
 public:
  LineServer(asio::io_context& io, uint16_t port, LineSession::Handler on_lines)
      : acceptor_(io), on_lines_(std::move(on_lines)) {
    boost::system::error_code ec;
    const tcp::endpoint at(tcp::v4(), port);
    acceptor_.open(at.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(at, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) error_ = "cannot listen on TCP port " + std::to_string(port) + ": " + ec.message();
  }
  const std::string& error() const { return error_; }
  void Accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<LineSession>(std::move(socket), on_lines_)->Read();
      Accept();
    });
  }

 private:
  tcp::acceptor acceptor_;
  LineSession::Handler on_lines_;
  std::string error_;
};

// ---- serve ----------------------------------------------------------------------------------

class UdpEcho {
 public:
  UdpEcho(asio::io_context& io, uint16_t port) : socket_(io) {
    boost::system::error_code ec;
    socket_.open(udp::v4(), ec);
    if (!ec) socket_.bind(udp::endpoint(udp::v4(), port), ec);
    if (ec) error_ = "cannot bind UDP port " + std::to_string(port) + ": " + ec.message();
  }
  const std::string& error() const { return error_; }
  void Receive() {
    socket_.async_receive_from(asio::buffer(data_), from_, [this](const boost::system::error_code& ec, size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return Receive();
      socket_.async_send_to(asio::buffer(data_, n), from_, [this](const boost::system::error_code&, size_t) { Receive(); });
    });
  }

 private:
  udp::socket socket_;
  udp::endpoint from_;
  std::array<char, 65536> data_{};
  std::string error_;
};

int RunServe(int argc, char** argv) {
  std::string tcp_ports, udp_ports;
  Flags flags("edgebed workload serve",
              "Answers each line on the --tcp ports with \"<pod name> <line>\" and echoes each datagram\n"
              "on the --udp ports, until SIGTERM.");
  flags.String("tcp", "TCP ports, PORT[,PORT...]", &tcp_ports);
  flags.String("udp", "UDP ports, PORT[,PORT...]", &udp_ports);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  StatusOr<std::vector<uint16_t>> tcp_list = ParsePorts(tcp_ports, "--tcp");
  if (!tcp_list.ok()) return UsageError("serve", tcp_list.status().ToString());
  StatusOr<std::vector<uint16_t>> udp_list = ParsePorts(udp_ports, "--udp");
  if (!udp_list.ok()) return UsageError("serve", udp_list.status().ToString());
  if (tcp_list->empty() && udp_list->empty()) return UsageError("serve", "give at least one port: --tcp PORT or --udp PORT");

  asio::io_context io;
  const std::string name = PodName();
  std::vector<std::unique_ptr<LineServer>> servers;
  std::vector<std::unique_ptr<UdpEcho>> echoes;
  for (uint16_t port : *tcp_list) {
    servers.push_back(std::make_unique<LineServer>(io, port, [name](const std::vector<std::string>& lines) {
      std::string out;
      for (const std::string& line : lines) out += name + " " + line + "\n";
      return out;
    }));
    if (!servers.back()->error().empty()) {
      std::cerr << "edgebed workload serve: " << servers.back()->error() << "\n";
      return 1;
    }
    servers.back()->Accept();
  }
  for (uint16_t port : *udp_list) {
    echoes.push_back(std::make_unique<UdpEcho>(io, port));
    if (!echoes.back()->error().empty()) {
      std::cerr << "edgebed workload serve: " << echoes.back()->error() << "\n";
      return 1;
    }
    echoes.back()->Receive();
  }
  std::printf("serve: %s on tcp [%s] udp [%s]\n", name.c_str(), tcp_ports.c_str(), udp_ports.c_str());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  StopOnSignal(io, signals);
  io.run();
  std::printf("serve: stopped\n");
  return 0;
}

// ---- probe ----------------------------------------------------------------------------------

class Prober {
 public:
  Prober(asio::io_context& io, bool use_tcp, tcp::endpoint to, int64_t count, std::chrono::milliseconds timeout,
         std::chrono::milliseconds interval)
      : io_(io), tcp_(use_tcp), to_(to), count_(count), timeout_(timeout), interval_(interval),
        tcp_socket_(io), udp_socket_(io), timer_(io), pause_(io) {}

  void Next() {
    if (attempt_ >= count_) return io_.stop();
    ++attempt_;
    finished_ = false;
    started_ = Clock::now();
    const int64_t attempt = attempt_;
    timer_.expires_after(timeout_);
    timer_.async_wait([this, attempt](const boost::system::error_code& ec) {
      if (!ec) Finish(attempt, false, "timeout");
    });
    const std::string hello = "probe " + std::to_string(attempt) + " from " + PodName();
    if (tcp_) {
      tcp_socket_ = tcp::socket(io_);
      tcp_socket_.async_connect(to_, [this, attempt, hello](const boost::system::error_code& ec) {
        if (ec) return Finish(attempt, false, Describe(ec));
        line_ = hello + "\n";
        asio::async_write(tcp_socket_, asio::buffer(line_), [this, attempt](const boost::system::error_code& wec, size_t) {
          if (wec) return Finish(attempt, false, Describe(wec));
          reply_.clear();
          asio::async_read_until(tcp_socket_, asio::dynamic_buffer(reply_, kMaxLine), '\n',
                                 [this, attempt](const boost::system::error_code& rec, size_t n) {
                                   if (rec) return Finish(attempt, false, Describe(rec));
                                   Finish(attempt, true, reply_.substr(0, n - 1));
                                 });
        });
      });
    } else {
      boost::system::error_code ec;
      udp_socket_ = udp::socket(io_);
      udp_socket_.open(to_.address().is_v4() ? udp::v4() : udp::v6(), ec);
      // Connected, so an ICMP port unreachable comes back as "refused".
      if (!ec) udp_socket_.connect(udp::endpoint(to_.address(), to_.port()), ec);
      if (ec) return Finish(attempt, false, Describe(ec));
      line_ = hello;
      udp_socket_.async_send(asio::buffer(line_), [this, attempt](const boost::system::error_code& sec, size_t) {
        if (sec) return Finish(attempt, false, Describe(sec));
        udp_socket_.async_receive(asio::buffer(datagram_), [this, attempt](const boost::system::error_code& rec, size_t n) {
          if (rec) return Finish(attempt, false, Describe(rec));
          Finish(attempt, true, std::string(datagram_.data(), n));
        });
      });
    }
  }

  int64_t failures() const { return failures_; }
  int64_t attempts() const { return attempt_; }

 private:
  static std::string Describe(const boost::system::error_code& ec) {
    if (ec == asio::error::connection_refused) return "refused";
    if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) return "unreachable";
    return "error " + ec.message();
  }
  void Finish(int64_t attempt, bool ok, const std::string& what) {
    if (attempt != attempt_ || finished_) return;
    finished_ = true;
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
    if (ok) {
      std::printf("attempt %lld ok rtt=%.2fms reply=%s\n", static_cast<long long>(attempt), ms, what.c_str());
    } else {
      std::printf("attempt %lld %s\n", static_cast<long long>(attempt), what.c_str());
      ++failures_;
    }
    std::fflush(stdout);
    timer_.cancel();
    boost::system::error_code ignored;
    tcp_socket_.close(ignored);
    udp_socket_.close(ignored);
    if (attempt_ >= count_) return io_.stop();
    pause_.expires_after(interval_);
    pause_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Next();
    });
  }

  asio::io_context& io_;
  bool tcp_;
  tcp::endpoint to_;
  int64_t count_;
  std::chrono::milliseconds timeout_, interval_;
  tcp::socket tcp_socket_;
  udp::socket udp_socket_;
  asio::steady_timer timer_, pause_;
  int64_t attempt_ = 0, failures_ = 0;
  bool finished_ = false;
  Clock::time_point started_;
  std::string line_, reply_;
  std::array<char, 65536> datagram_{};
};

int RunProbe(int argc, char** argv) {
  std::string to, proto = "tcp";
  int64_t count = 1, timeout_ms = 1000, interval_ms = 200;
  Flags flags("edgebed workload probe",
              "Tries --count times to reach --to over --proto and prints one line per attempt;\n"
              "exits 0 if every attempt was answered, 1 otherwise.");
  flags.String("to", "ADDRESS:PORT to reach (required)", &to);
  flags.String("proto", "tcp or udp", &proto);
  flags.Int("count", "attempts", &count);
  flags.Int("timeout", "milliseconds to wait for an answer", &timeout_ms);
  flags.Int("interval", "milliseconds between attempts", &interval_ms);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (to.empty()) return UsageError("probe", "--to is required: give ADDRESS:PORT, e.g. --to 10.42.1.11:8080");
  auto address = ParseAddress(to, "--to");
  if (!address.ok()) return UsageError("probe", address.status().ToString());
  if (proto != "tcp" && proto != "udp") return UsageError("probe", "--proto \"" + proto + "\" is neither tcp nor udp");
  if (count < 1) return UsageError("probe", "--count must be at least 1");
  if (timeout_ms < 1) return UsageError("probe", "--timeout must be at least 1 (milliseconds)");
  if (interval_ms < 0) return UsageError("probe", "--interval must not be negative (milliseconds)");

  asio::io_context io;
  Prober prober(io, proto == "tcp", tcp::endpoint(address->first, address->second), count,
                std::chrono::milliseconds(timeout_ms), std::chrono::milliseconds(interval_ms));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  StopOnSignal(io, signals);
  prober.Next();
  io.run();
  const bool all = prober.attempts() == count && prober.failures() == 0;
  std::printf("probe: %lld of %lld answered\n", static_cast<long long>(prober.attempts() - prober.failures()),
              static_cast<long long>(count));
  return all ? 0 : 1;
}

// ---- sensor ---------------------------------------------------------------------------------

// Publishes one reading per interval; a reading whose write fails is sent
// again on the next connection.
class Sensor {
 public:
  Sensor(asio::io_context& io, tcp::endpoint broker, std::string topic, std::chrono::milliseconds interval, int64_t count)
      : io_(io), broker_(broker), topic_(std::move(topic)), interval_(interval), count_(count), socket_(io), timer_(io) {}

  void Connect() {
    socket_ = tcp::socket(io_);
    socket_.async_connect(broker_, [this](const boost::system::error_code& ec) {
      if (ec) {
        std::printf("sensor: cannot reach the broker %s:%u: %s; retrying\n", broker_.address().to_string().c_str(),
                    broker_.port(), ec.message().c_str());
        std::fflush(stdout);
        return Retry();
      }
      connected_ = true;
      WatchClose();
      Publish();
    });
  }
  bool done() const { return count_ > 0 && sent_ >= count_; }

 private:
  void Retry() {
    connected_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.expires_after(interval_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Connect();
    });
  }
  // The broker says nothing back; a read ends only when it goes away.
  void WatchClose() {
    socket_.async_read_some(asio::buffer(sink_), [this](const boost::system::error_code& ec, size_t) {
      if (!ec) return WatchClose();
      if (ec != asio::error::operation_aborted && connected_ && !done()) {
        timer_.cancel();
        Retry();
      }
    });
  }
  void Publish() {
    const double value = 20.0 + static_cast<double>(sent_ % 50) / 10.0;
    char payload[128];
    std::snprintf(payload, sizeof payload, "seq=%lld value=%.1f from=%s", static_cast<long long>(sent_ + 1), value,
                  PodName().c_str());
    line_ = "PUB " + topic_ + " " + payload + "\n";
    asio::async_write(socket_, asio::buffer(line_), [this](const boost::system::error_code& ec, size_t) {
      if (ec) return Retry();
      ++sent_;
      if (done()) {
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        std::printf("sensor: published %lld readings\n", static_cast<long long>(sent_));
        return io_.stop();
      }
      timer_.expires_after(interval_);
      timer_.async_wait([this](const boost::system::error_code& tec) {
        if (!tec && connected_) Publish();
      });
    });
  }

  asio::io_context& io_;
  tcp::endpoint broker_;
  std::string topic_;
  std::chrono::milliseconds interval_;
  int64_t count_, sent_ = 0;
  tcp::socket socket_;
  asio::steady_timer timer_;
  bool connected_ = false;
  std::string line_;
  std::array<char, 256> sink_{};
};

int RunSensor(int argc, char** argv) {
  std::string broker, topic;
  int64_t interval_ms = 1000, count = 0;
  Flags flags("edgebed workload sensor",
              "Publishes a reading every --interval to --broker as \"PUB <topic> <payload>\", reconnecting\n"
              "after failures; stops after --count readings (0: never).");
  flags.String("broker", "ADDRESS:PORT of the broker (required)", &broker);
  flags.String("topic", "the topic (required)", &topic);
  flags.Int("interval", "milliseconds between readings", &interval_ms);
  flags.Int("count", "readings to publish, 0 for no end", &count);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (broker.empty()) return UsageError("sensor", "--broker is required: give ADDRESS:PORT");
  auto address = ParseAddress(broker, "--broker");
  if (!address.ok()) return UsageError("sensor", address.status().ToString());
  if (topic.empty() || topic.find_first_of(" \t\r\n") != std::string::npos)
    return UsageError("sensor", "--topic is required and may not contain spaces, e.g. --topic floor1/temperature");
  if (interval_ms < 1) return UsageError("sensor", "--interval must be at least 1 (milliseconds)");
  if (count < 0) return UsageError("sensor", "--count must not be negative");
  asio::io_context io;
  Sensor sensor(io, tcp::endpoint(address->first, address->second), topic, std::chrono::milliseconds(interval_ms), count);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  StopOnSignal(io, signals);
  sensor.Connect();
  io.run();
  return 0;
}

// ---- broker ---------------------------------------------------------------------------------

// Sends lines to one peer in order, reconnecting after failures; holds at
// most `kMaxQueued`, dropping the oldest past that.
class Forwarder {
 public:
  static constexpr size_t kMaxQueued = 10000;
  Forwarder(asio::io_context& io, tcp::endpoint to) : io_(io), to_(to), socket_(io), timer_(io) {}
  void Push(std::string line) {
    if (queue_.size() >= kMaxQueued) {
      queue_.pop_front();
      ++dropped_;
    }
    queue_.push_back(std::move(line));
    Pump();
  }

 private:
  void Pump() {
    if (busy_ || queue_.empty()) return;
    busy_ = true;
    if (!connected_) {
      socket_ = tcp::socket(io_);
      socket_.async_connect(to_, [this](const boost::system::error_code& ec) {
        if (ec) return Failed();
        connected_ = true;
        busy_ = false;
        Pump();
      });
      return;
    }
    asio::async_write(socket_, asio::buffer(queue_.front()), [this](const boost::system::error_code& ec, size_t) {
      if (ec) return Failed();
      queue_.pop_front();
      busy_ = false;
      Pump();
    });
  }
  void Failed() {
    connected_ = false;
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      busy_ = false;
      Pump();
    });
  }

  asio::io_context& io_;
  tcp::endpoint to_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::deque<std::string> queue_;
  bool busy_ = false, connected_ = false;
  uint64_t dropped_ = 0;
};

int RunBroker(int argc, char** argv) {
  int64_t listen = 0;
  std::string forward, store;
  Flags flags("edgebed workload broker",
              "Accepts \"PUB <topic> <payload>\" lines on --listen, counts them per topic, forwards them to\n"
              "--forward and appends them to --store/messages.log (fsync per batch); answers a \"STATS\"\n"
              "line with \"STATS topic=count ...\".");
  flags.Int("listen", "TCP port to listen on (required)", &listen);
  flags.String("forward", "ADDRESS:PORT of a broker to forward every message to", &forward);
  flags.String("store", "a directory (e.g. $EDGEBED_VOLUME_<CLAIM>) to append the messages to", &store);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  if (listen < 1 || listen > 65535) return UsageError("broker", "--listen is required: a TCP port 1..65535");
  std::optional<std::pair<asio::ip::address, uint16_t>> forward_to;
  if (!forward.empty()) {
    auto address = ParseAddress(forward, "--forward");
    if (!address.ok()) return UsageError("broker", address.status().ToString());
    forward_to = *address;
  }
  int store_fd = -1;
  if (!store.empty()) {
    const std::string path = store + "/messages.log";
    store_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (store_fd < 0) {
      std::cerr << "edgebed workload broker: --store: cannot open " << path << ": " << std::strerror(errno)
                << "; give a directory that exists and may be written\n";
      return 1;
    }
  }

  asio::io_context io;
  std::unique_ptr<Forwarder> forwarder;
  if (forward_to) forwarder = std::make_unique<Forwarder>(io, tcp::endpoint(forward_to->first, forward_to->second));
  std::map<std::string, uint64_t> counts;
  LineServer server(io, static_cast<uint16_t>(listen), [&](const std::vector<std::string>& lines) {
    std::string reply, batch;
    for (const std::string& line : lines) {
      if (line.rfind("PUB ", 0) == 0) {
        const size_t end = line.find(' ', 4);
        const std::string topic = line.substr(4, end == std::string::npos ? std::string::npos : end - 4);
        if (topic.empty()) {
          reply += "ERR PUB needs a topic: PUB <topic> <payload>\n";
          continue;
        }
        ++counts[topic];
        batch += line + "\n";
        if (forwarder) forwarder->Push(line + "\n");
      } else if (line == "STATS") {
        reply += "STATS";
        for (const auto& kv : counts) reply += " " + kv.first + "=" + std::to_string(kv.second);
        reply += "\n";
      } else if (!line.empty()) {
        reply += "ERR unknown command; send PUB <topic> <payload> or STATS\n";
      }
    }
    if (store_fd >= 0 && !batch.empty()) {
      if (::write(store_fd, batch.data(), batch.size()) != static_cast<ssize_t>(batch.size()) || ::fsync(store_fd) != 0)
        std::fprintf(stderr, "broker: writing %s/messages.log failed: %s\n", store.c_str(), std::strerror(errno));
    }
    return reply;
  });
  if (!server.error().empty()) {
    std::cerr << "edgebed workload broker: " << server.error() << "\n";
    return 1;
  }
  server.Accept();
  std::printf("broker: listening on %lld\n", static_cast<long long>(listen));
  std::fflush(stdout);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  StopOnSignal(io, signals);
  io.run();
  for (const auto& kv : counts) std::printf("broker: %s=%llu\n", kv.first.c_str(), static_cast<unsigned long long>(kv.second));
  if (store_fd >= 0) ::close(store_fd);
  return 0;
}

constexpr const char* kUsage =
    "Usage: edgebed workload serve|probe|sensor|broker [flags]\n"
    "\n"
    "Small programs for pods to run on a real node:\n"
    "  serve   TCP servers answering each line, UDP echo\n"
    "  probe   try to reach ADDRESS:PORT over TCP or UDP; exit 0 if every attempt succeeded\n"
    "  sensor  publish readings to a broker\n"
    "  broker  count, forward and store published readings\n"
    "\n"
    "Run 'edgebed workload COMMAND --help' for a command's flags.\n";

}  // namespace

int RunWorkload(int argc, char** argv) {
  // Output goes to a pod's log file: a line at a time, as it happens.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "serve") return RunServe(argc - 1, argv + 1);
  if (command == "probe") return RunProbe(argc - 1, argv + 1);
  if (command == "sensor") return RunSensor(argc - 1, argv + 1);
  if (command == "broker") return RunBroker(argc - 1, argv + 1);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "edgebed workload: " << (command.empty() ? "missing program" : "unknown program '" + command + "'")
            << "; choose serve, probe, sensor or broker\n"
            << kUsage;
  return 2;
}

}  // namespace edgebed::tools
