#include "core/host/api_server.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <sstream>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include "core/host/json_yaml.h"
#include "core/model/loader.h"

namespace edgebed::host {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;

constexpr uint8_t kEnvelopeFirstByte = 0x4E;  // host_env.cc's magic 0xEB4E, little-endian

http::status HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return http::status::ok;
    case StatusCode::kInvalidArgument: return http::status::unprocessable_entity;
    case StatusCode::kNotFound: return http::status::not_found;
    case StatusCode::kAlreadyExists: return http::status::conflict;
    case StatusCode::kFailedPrecondition: return http::status::conflict;
    case StatusCode::kPermissionDenied: return http::status::forbidden;
    case StatusCode::kOutOfRange: return http::status::gone;
    case StatusCode::kUnavailable: return http::status::service_unavailable;
    case StatusCode::kResourceExhausted: return http::status::payload_too_large;
    case StatusCode::kDeadlineExceeded: return http::status::gateway_timeout;
    default: return http::status::internal_server_error;
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

Target ParseTarget(std::string_view target) {
  Target t;
  const size_t q = target.find('?');
  t.path = PercentDecode(target.substr(0, q));
  if (q == std::string_view::npos) return t;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    t.query[PercentDecode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return t;
}

json::object ErrorBody(const Status& s) {
  json::object o;
  o["error"] = s.message();
  if (!s.where().empty()) o["where"] = s.where();
  o["code"] = StatusCodeName(s.code());
  return o;
}

json::value ObjectJson(const cluster::StoredObject& o) {
  json::value v = YamlToJson(o.manifest);
  if (v.is_object()) {
    json::object& obj = v.as_object();
    json::value& meta = obj["metadata"];
    if (!meta.is_object()) meta = json::object();
    meta.as_object()["resourceVersion"] = std::to_string(o.resource_version);
  }
  return v;
}

std::string PhaseOf(const cluster::PodInfo& p) { return p.phase.empty() ? "Pending" : p.phase; }

}  // namespace

struct ApiServer::Impl : std::enable_shared_from_this<ApiServer::Impl> {
  Impl(asio::io_context& io_context, cluster::Server& s, HostEnv& e, PrometheusSink& m,
       std::shared_ptr<asio::ssl::context> t, ApiServerOptions o)
      : io(io_context), server(s), env(e), metrics(m), tls(std::move(t)), options(std::move(o)), acceptor(io) {}

  // One HTTP connection.
  struct Session {
    Session(std::shared_ptr<TlsStream> s, asio::io_context& io) : stream(std::move(s)), timer(io) {}
    std::shared_ptr<TlsStream> stream;
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::string_body>> parser;
    asio::steady_timer timer;
    bool closed = false;
    // A watch streams chunks; these wait their turn to be written.
    std::deque<std::string> chunks;
    bool writing = false, watching = false;
    uint64_t watch_id = 0;
  };

  void Accept() {
    acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
      if (self->closed || !self->acceptor.is_open()) return;
      if (!ec) self->Handshake(std::move(socket));
      self->Accept();
    });
  }

  void Handshake(tcp::socket socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto stream = std::make_shared<TlsStream>(std::move(socket), *tls);
    auto timer = std::make_shared<asio::steady_timer>(io);
    timer->expires_after(options.handshake_timeout);
    timer->async_wait([stream](boost::system::error_code ec) {
      if (!ec) {
        boost::system::error_code ignored2;
        stream->lowest_layer().close(ignored2);
      }
    });
    stream->async_handshake(asio::ssl::stream_base::server,
                            [self = shared_from_this(), stream, timer](boost::system::error_code ec) {
                              if (ec || self->closed) {
                                timer->cancel();
                                return;
                              }
                              // The first byte says what the connection is for.
                              auto first = std::make_shared<std::array<uint8_t, 1>>();
                              asio::async_read(*stream, asio::buffer(*first),
                                               [self, stream, timer, first](boost::system::error_code ec2, size_t) {
                                                 timer->cancel();
                                                 if (ec2 || self->closed) return;
                                                 if ((*first)[0] == kEnvelopeFirstByte) {
                                                   self->env.AdoptTls(stream, Bytes{(*first)[0]});
                                                 } else {
                                                   self->StartHttp(stream, static_cast<char>((*first)[0]));
                                                 }
                                               });
                            });
  }

  void StartHttp(std::shared_ptr<TlsStream> stream, char first) {
    auto session = std::make_shared<Session>(std::move(stream), io);
    sessions.insert(session);
    auto buf = session->buffer.prepare(1);
    static_cast<char*>(buf.data())[0] = first;
    session->buffer.commit(1);
    Read(session);
  }

  void Arm(const std::shared_ptr<Session>& s) {
    s->timer.expires_after(options.idle_timeout);
    s->timer.async_wait([self = shared_from_this(), weak = std::weak_ptr<Session>(s)](boost::system::error_code ec) {
      auto s2 = weak.lock();
      if (!ec && s2 && !s2->watching) self->CloseSession(s2);
    });
  }

  void Read(const std::shared_ptr<Session>& s) {
    if (s->closed) return;
    s->parser.emplace();
    s->parser->body_limit(options.max_body_bytes);
    s->parser->header_limit(64 * 1024);
    Arm(s);
    http::async_read(*s->stream, s->buffer, *s->parser,
                     [self = shared_from_this(), s](beast::error_code ec, size_t) {
                       if (s->closed) return;
                       if (ec == http::error::body_limit) {
                         return self->Reply(s, http::status::payload_too_large,
                                            ErrorBody(ResourceExhausted("the body is larger than " +
                                                                        std::to_string(self->options.max_body_bytes) +
                                                                        " bytes; split the manifests")),
                                            false);
                       }
                       if (ec) return self->CloseSession(s);
                       self->Handle(s, s->parser->release());
                     });
  }

  void CloseSession(const std::shared_ptr<Session>& s) {
    if (s->closed) return;
    s->closed = true;
    if (s->watching) server.Unwatch(s->watch_id);
    s->timer.cancel();
    boost::system::error_code ignored;
    s->stream->lowest_layer().close(ignored);
    sessions.erase(s);
  }

  void Reply(const std::shared_ptr<Session>& s, http::status status, const json::value& body, bool keep_alive) {
    ReplyText(s, status, json::serialize(body) + "\n", "application/json", keep_alive);
  }

  void ReplyText(const std::shared_ptr<Session>& s, http::status status, std::string body,
                 const std::string& content_type, bool keep_alive) {
    if (s->closed) return;
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "edgebed");
    res->set(http::field::content_type, content_type);
    if (status == http::status::unauthorized) res->set(http::field::www_authenticate, "Bearer realm=\"edgebed\"");
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    http::async_write(*s->stream, *res, [self = shared_from_this(), s, res](beast::error_code ec, size_t) {
      if (ec || !res->keep_alive()) return self->CloseSession(s);
      self->Read(s);
    });
  }

  bool Authorized(const http::request<http::string_body>& req) const {
    const auto header = req[http::field::authorization];
    const std::string expected = "Bearer " + options.admin_token;
    if (options.admin_token.empty() || header.size() != expected.size()) return false;
    return CRYPTO_memcmp(header.data(), expected.data(), expected.size()) == 0;
  }

  void Handle(const std::shared_ptr<Session>& s, http::request<http::string_body> req) {
    const Target t = ParseTarget(std::string_view(req.target().data(), req.target().size()));
    const bool keep = req.keep_alive();
    const auto method = req.method();
    if (t.path == "/healthz" || t.path == "/readyz" || t.path == "/livez") {
      if (method != http::verb::get) return Reply(s, http::status::method_not_allowed, ErrorBody(InvalidArgument("use GET")), keep);
      const bool up = t.path == "/livez" || server.serving();
      return ReplyText(s, up ? http::status::ok : http::status::service_unavailable, up ? "ok\n" : "starting\n",
                       "text/plain", keep);
    }
    if (!Authorized(req)) {
      env.RecordEvent("api.unauthorized", "path=" + t.path);
      return Reply(s, http::status::unauthorized,
                   ErrorBody(PermissionDenied("send \"Authorization: Bearer <token>\" with the admin token "
                                              "from the server's admin.yaml")),
                   keep);
    }
    if (!server.serving()) return Reply(s, http::status::service_unavailable, ErrorBody(Unavailable("the server is starting")), keep);
    auto want = [&](http::verb v) {
      if (method == v) return true;
      Reply(s, http::status::method_not_allowed,
            ErrorBody(InvalidArgument(std::string("use ") + std::string(http::to_string(v)) + " for " + t.path)), keep);
      return false;
    };
    auto param = [&](const std::string& k) {
      auto it = t.query.find(k);
      return it == t.query.end() ? std::string() : it->second;
    };
    if (t.path == "/metrics") {
      if (want(http::verb::get)) ReplyText(s, http::status::ok, metrics.Render(), "text/plain; version=0.0.4", keep);
      return;
    }
    if (t.path == "/api/apply") {
      if (!want(http::verb::post)) return;
      const std::string source = param("source").empty() ? "<api request>" : param("source");
      server.Apply(req.body(), source, [self = shared_from_this(), s, keep](cluster::ApplyResult r) {
        json::object out;
        json::array applied, errors, warnings;
        for (const auto& a : r.applied) applied.emplace_back(a);
        for (const auto& e : r.errors) errors.emplace_back(e.ToString());
        for (const auto& w : r.warnings) warnings.emplace_back(w.ToString());
        out["applied"] = std::move(applied);
        out["errors"] = std::move(errors);
        out["warnings"] = std::move(warnings);
        out["revision"] = r.revision;
        if (!r.status.ok() && r.errors.empty()) out["error"] = r.status.ToString();
        self->Reply(s, r.status.ok() ? http::status::ok : HttpStatusOf(r.status), out, keep);
      });
      return;
    }
    if (t.path == "/api/delete") {
      if (!want(http::verb::post)) return;
      model::LoadResult loaded = model::LoadManifests(req.body(), param("source").empty() ? "<api request>" : param("source"));
      if (!loaded.ok()) {
        json::object out;
        json::array errors;
        for (const auto& e : loaded.errors) errors.emplace_back(e.ToString());
        out["errors"] = std::move(errors);
        return Reply(s, http::status::unprocessable_entity, out, keep);
      }
      struct Pending {
        size_t left = 0;
        json::array deleted, not_found, failed;
      };
      auto pending = std::make_shared<Pending>();
      pending->left = loaded.objects.size();
      if (pending->left == 0) return Reply(s, http::status::ok, json::object{{"deleted", json::array()}}, keep);
      auto finish = [self = shared_from_this(), s, keep, pending] {
        if (--pending->left > 0) return;
        json::object out;
        out["deleted"] = pending->deleted;
        out["notFound"] = pending->not_found;
        out["failed"] = pending->failed;
        self->Reply(s, pending->failed.empty() ? http::status::ok : http::status::internal_server_error, out, keep);
      };
      for (const model::Object& o : loaded.objects) {
        const std::string kind = model::KindOf(o);
        const model::ObjectMeta& meta = model::MetaOf(o);
        const std::string label = kind + " " + (meta.namespace_.empty() ? "" : meta.namespace_ + "/") + meta.name;
        server.Delete(kind, meta.namespace_, meta.name, [pending, finish, label](Status st) {
          if (st.ok()) pending->deleted.emplace_back(label);
          else if (st.code() == StatusCode::kNotFound) pending->not_found.emplace_back(label);
          else pending->failed.emplace_back(label + ": " + st.ToString());
          finish();
        });
      }
      return;
    }
    if (t.path == "/api/objects") {
      const std::string kind = param("kind"), ns = param("namespace"), name = param("name");
      if (kind.empty()) return Reply(s, http::status::bad_request, ErrorBody(InvalidArgument("add ?kind=<Kind>, e.g. kind=Deployment", "kind")), keep);
      if (method == http::verb::delete_) {
        if (name.empty()) return Reply(s, http::status::bad_request, ErrorBody(InvalidArgument("name the object: &name=", "name")), keep);
        server.Delete(kind, ns, name, [self = shared_from_this(), s, keep, kind, ns, name](Status st) {
          if (!st.ok()) return self->Reply(s, HttpStatusOf(st), ErrorBody(st), keep);
          self->Reply(s, http::status::ok, json::object{{"deleted", kind + " " + (ns.empty() ? "" : ns + "/") + name}}, keep);
        });
        return;
      }
      if (!want(http::verb::get)) return;
      if (!name.empty()) {
        std::optional<cluster::StoredObject> o = server.Get(kind, ns, name);
        if (!o) return Reply(s, http::status::not_found, ErrorBody(NotFound(kind + " " + (ns.empty() ? "" : ns + "/") + name + " does not exist")), keep);
        return Reply(s, http::status::ok, ObjectJson(*o), keep);
      }
      json::array items;
      for (const cluster::StoredObject& o : server.List(kind, ns)) items.push_back(ObjectJson(o));
      json::object list;
      list["kind"] = "List";
      list["revision"] = server.revision();
      list["items"] = std::move(items);
      return Reply(s, http::status::ok, list, keep);
    }
    if (t.path == "/api/watch") {
      if (!want(http::verb::get)) return;
      return StartWatch(s, param("prefix"), param("revision"));
    }
    if (t.path == "/api/pods") {
      if (!want(http::verb::get)) return;
      json::array items;
      const std::string ns = param("namespace");
      for (const cluster::PodInfo& p : server.Pods()) {
        if (!ns.empty() && p.namespace_ != ns) continue;
        json::object o;
        o["namespace"] = p.namespace_;
        o["name"] = p.name;
        o["node"] = p.node;
        o["ip"] = p.ip;
        o["phase"] = PhaseOf(p);
        o["reason"] = p.reason;
        o["exitCode"] = p.exit_code;
        o["owner"] = p.owner;
        o["resourceVersion"] = p.resource_version;
        items.push_back(std::move(o));
      }
      return Reply(s, http::status::ok, json::object{{"items", std::move(items)}}, keep);
    }
    if (t.path == "/api/nodes") {
      if (!want(http::verb::get)) return;
      json::array items;
      for (const cluster::NodeInfo& n : server.Nodes()) {
        json::object o;
        o["name"] = n.name;
        o["podCIDR"] = n.pod_cidr;
        o["id"] = n.id;
        o["ready"] = n.ready;
        o["joined"] = n.joined;
        o["unreachable"] = n.unreachable_taint;
        items.push_back(std::move(o));
      }
      return Reply(s, http::status::ok, json::object{{"items", std::move(items)}}, keep);
    }
    if (t.path == "/api/volumes") {
      if (!want(http::verb::get)) return;
      std::map<NodeId, std::string> names;
      for (const cluster::NodeInfo& n : server.Nodes()) names[n.id] = n.name;
      auto name_of = [&](NodeId id) {
        auto it = names.find(id);
        return it == names.end() ? (id == kNoNode ? std::string("-") : std::to_string(id)) : it->second;
      };
      json::array items;
      const std::string ns = param("namespace");
      for (const cluster::StoredObject& claim : server.List("PersistentVolumeClaim", ns)) {
        json::object o;
        o["namespace"] = claim.namespace_;
        o["claim"] = claim.name;
        const std::string volume = claim.namespace_ + "/" + claim.name;
        o["volume"] = volume;
        if (const storage::VolumeRecord* r = server.volumes().Find(volume)) {
          o["primary"] = name_of(r->primary);
          json::array replicas;
          for (NodeId id : r->replicas) {
            json::object rep;
            rep["node"] = name_of(id);
            rep["inSync"] = r->in_sync.count(id) > 0;
            replicas.push_back(std::move(rep));
          }
          o["replicas"] = std::move(replicas);
          o["sizeBytes"] = uint64_t{r->layout.block_size} * r->layout.blocks;
          o["snapshots"] = r->snapshots.size();
          o["state"] = r->primary == kNoNode ? "Detached" : (r->in_sync.size() == r->replicas.size() ? "Healthy" : "Degraded");
        } else {
          o["state"] = "Pending";
        }
        items.push_back(std::move(o));
      }
      return Reply(s, http::status::ok, json::object{{"items", std::move(items)}}, keep);
    }
    if (t.path == "/api/policies") {
      if (!want(http::verb::get)) return;
      json::array items;
      const std::string ns = param("namespace");
      for (const char* kind : {"GlobalNetworkPolicy", "projectcalico.org/NetworkPolicy", "NetworkPolicy",
                               "GlobalNetworkSet", "NetworkSet"}) {
        for (const cluster::StoredObject& o : server.List(kind, ns)) {
          json::object p;
          p["kind"] = kind;
          p["namespace"] = o.namespace_;
          p["name"] = o.name;
          p["resourceVersion"] = o.resource_version;
          items.push_back(std::move(p));
        }
      }
      return Reply(s, http::status::ok, json::object{{"items", std::move(items)}}, keep);
    }
    Reply(s, http::status::not_found, ErrorBody(NotFound("no route " + t.path + "; see the API in the README")), keep);
  }

  void StartWatch(const std::shared_ptr<Session>& s, const std::string& prefix, const std::string& revision) {
    cluster::Revision from = 0;
    if (!revision.empty()) {
      try {
        size_t used = 0;
        from = std::stoull(revision, &used);
        if (used != revision.size()) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        return Reply(s, http::status::bad_request, ErrorBody(InvalidArgument("revision must be a number", "revision")), false);
      }
    } else {
      from = server.revision();
    }
    std::weak_ptr<Session> weak = s;
    auto self = shared_from_this();
    StatusOr<uint64_t> id = server.Watch(prefix, from, [self, weak](const cluster::WatchEvent& e) {
      auto session = weak.lock();
      if (!session || session->closed) return;
      json::object o;
      if (e.expired) {
        o["type"] = "EXPIRED";
      } else {
        o["type"] = e.deleted ? "DELETED" : "PUT";
        o["revision"] = e.revision;
        o["key"] = e.key;
        if (!e.deleted) o["object"] = e.key.rfind("o/", 0) == 0 ? YamlToJson(e.value) : json::value(e.value);
      }
      self->Chunk(session, json::serialize(o) + "\n");
      if (e.expired) self->EndWatch(session);
    });
    if (!id.ok()) return Reply(s, HttpStatusOf(id.status()), ErrorBody(id.status()), false);
    s->watching = true;
    s->watch_id = *id;
    s->timer.cancel();
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, 11);
    res->set(http::field::server, "edgebed");
    res->set(http::field::content_type, "application/json");
    res->chunked(true);
    auto sr = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    s->writing = true;
    http::async_write_header(*s->stream, *sr, [self, s, res, sr](beast::error_code ec, size_t) {
      s->writing = false;
      if (ec) return self->CloseSession(s);
      self->WriteChunks(s);
    });
    // A watch ends when the client goes: read to notice.
    auto sink = std::make_shared<std::array<char, 256>>();
    s->stream->async_read_some(asio::buffer(*sink), [self, s, sink](beast::error_code, size_t) { self->CloseSession(s); });
  }

  void Chunk(const std::shared_ptr<Session>& s, std::string data) {
    s->chunks.push_back(std::move(data));
    WriteChunks(s);
  }

  void EndWatch(const std::shared_ptr<Session>& s) {
    s->chunks.push_back(std::string());  // the last chunk
    WriteChunks(s);
  }

  void WriteChunks(const std::shared_ptr<Session>& s) {
    if (s->closed || s->writing || s->chunks.empty()) return;
    s->writing = true;
    auto data = std::make_shared<std::string>(std::move(s->chunks.front()));
    s->chunks.pop_front();
    auto done = [self = shared_from_this(), s, data](beast::error_code ec, size_t) {
      s->writing = false;
      if (ec || data->empty()) return self->CloseSession(s);
      self->WriteChunks(s);
    };
    if (data->empty()) {
      asio::async_write(*s->stream, http::make_chunk_last(), done);
    } else {
      asio::async_write(*s->stream, http::make_chunk(asio::buffer(*data)), done);
    }
  }

  void Close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    auto all = sessions;
    for (const auto& s : all) CloseSession(s);
  }

  asio::io_context& io;
  cluster::Server& server;
  HostEnv& env;
  PrometheusSink& metrics;
  std::shared_ptr<asio::ssl::context> tls;
  ApiServerOptions options;
  tcp::acceptor acceptor;
  std::set<std::shared_ptr<Session>> sessions;
  bool closed = false;
};

StatusOr<std::unique_ptr<ApiServer>> ApiServer::Create(asio::io_context& io, cluster::Server& server, HostEnv& env,
                                                       PrometheusSink& metrics, std::shared_ptr<asio::ssl::context> tls,
                                                       ApiServerOptions options) {
  if (!tls) return InvalidArgument("the API needs a TLS server context");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.listen_address, ec);
  if (ec) return InvalidArgument("\"" + options.listen_address + "\" is not an IP address", "--listen");
  auto impl = std::make_shared<Impl>(io, server, env, metrics, std::move(tls), std::move(options));
  const std::string where = impl->options.listen_address + ":" + std::to_string(impl->options.port);
  impl->acceptor.open(address.is_v4() ? tcp::v4() : tcp::v6(), ec);
  if (!ec) impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(tcp::endpoint(address, impl->options.port), ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen on " + where + ": " + ec.message() + "; pick another --listen", "--listen");
  impl->Accept();
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

ApiServer::ApiServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() { impl_->Close(); }

uint16_t ApiServer::port() const {
  boost::system::error_code ec;
  const auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void ApiServer::Close() { impl_->Close(); }

}  // namespace edgebed::host
