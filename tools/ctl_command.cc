#include "tools/ctl_command.h"

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "core/host/json_yaml.h"
#include "core/host/tls.h"
#include "tools/flags.h"
#include "tools/validate.h"

namespace edgebed::tools {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

std::string UrlEncode(const std::string& s) {
  std::string out;
  static const char* kHex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A TLS connection to the API, the server verified against the credential's CA.
struct ApiConnection {
  asio::io_context io;
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<host::TlsStream> stream;
  std::string host;

  static StatusOr<std::unique_ptr<ApiConnection>> Open(const AdminConfig& config) {
    std::string hostport = config.server.substr(std::string("https://").size());
    while (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
    const size_t colon = hostport.rfind(':');
    auto c = std::make_unique<ApiConnection>();
    c->host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
    const std::string port = colon == std::string::npos ? "6443" : hostport.substr(colon + 1);
    StatusOr<std::shared_ptr<asio::ssl::context>> ctx = host::ClientContext(config.ca_pem);
    if (!ctx.ok()) return ctx.status();
    c->tls = *ctx;
    c->stream = std::make_unique<host::TlsStream>(c->io, *c->tls);
    try {
      asio::ip::tcp::resolver resolver(c->io);
      asio::connect(c->stream->lowest_layer(), resolver.resolve(c->host, port));
      c->stream->handshake(asio::ssl::stream_base::client);
    } catch (const boost::system::system_error& e) {
      return Unavailable("cannot reach the server at " + config.server + ": " + e.code().message() +
                         "; is `edgebed server` running there, and is this its admin.yaml?");
    }
    return c;
  }
};

// Columns padded as kubectl pads them.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return {};
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::ostringstream out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(width[i] - row[i].size() + 3, ' ');
    }
    out << "\n";
  }
  return out.str();
}

std::string Str(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  return json::serialize(v);
}

std::string Field(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it == o.end() ? std::string() : Str(it->value());
}

// Resource names as kubectl takes them, to the API's kinds.
std::string KindFor(const std::string& resource) {
  static const std::map<std::string, std::string> kKinds = {
      {"pod", "Pod"}, {"pods", "Pod"}, {"po", "Pod"},
      {"node", "Node"}, {"nodes", "Node"}, {"no", "Node"},
      {"namespace", "Namespace"}, {"namespaces", "Namespace"}, {"ns", "Namespace"},
      {"deployment", "Deployment"}, {"deployments", "Deployment"}, {"deploy", "Deployment"},
      {"daemonset", "DaemonSet"}, {"daemonsets", "DaemonSet"}, {"ds", "DaemonSet"},
      {"statefulset", "StatefulSet"}, {"statefulsets", "StatefulSet"}, {"sts", "StatefulSet"},
      {"service", "Service"}, {"services", "Service"}, {"svc", "Service"},
      {"job", "Job"}, {"jobs", "Job"}, {"cronjob", "CronJob"}, {"cronjobs", "CronJob"}, {"cj", "CronJob"},
      {"pvc", "PersistentVolumeClaim"}, {"persistentvolumeclaims", "PersistentVolumeClaim"},
      {"persistentvolumeclaim", "PersistentVolumeClaim"},
      {"storageclass", "StorageClass"}, {"storageclasses", "StorageClass"}, {"sc", "StorageClass"},
      {"networkpolicy", "NetworkPolicy"}, {"networkpolicies", "NetworkPolicy"}, {"netpol", "NetworkPolicy"},
      {"globalnetworkpolicy", "GlobalNetworkPolicy"}, {"globalnetworkpolicies", "GlobalNetworkPolicy"},
      {"volumesnapshot", "VolumeSnapshot"}, {"volumesnapshots", "VolumeSnapshot"},
      {"priorityclass", "PriorityClass"}, {"priorityclasses", "PriorityClass"}, {"pc", "PriorityClass"},
  };
  auto it = kKinds.find(resource);
  return it == kKinds.end() ? resource : it->second;
}

bool ClusterScoped(const std::string& kind) {
  return kind == "Node" || kind == "Namespace" || kind == "StorageClass" || kind == "GlobalNetworkPolicy" ||
         kind == "GlobalNetworkSet" || kind == "PriorityClass" || kind == "Tier";
}

int Fail(const std::string& what, const Status& s, int rc = 1) {
  std::cerr << "edgebed ctl " << what << ": " << s.ToString() << "\n";
  return rc;
}

// The API's error body, for a person.
std::string ErrorText(const ApiResponse& r) {
  try {
    json::value v = json::parse(r.body);
    if (v.is_object()) {
      const json::object& o = v.as_object();
      std::string out;
      if (auto it = o.find("errors"); it != o.end() && it->value().is_array())
        for (const json::value& e : it->value().as_array()) out += Str(e) + "\n";
      if (auto it = o.find("error"); it != o.end())
        out += Str(it->value()) + (o.contains("where") ? " (" + Field(o, "where") + ")" : "") + "\n";
      if (!out.empty()) return out;
    }
  } catch (const std::exception&) {
  }
  return "HTTP " + std::to_string(r.status) + ": " + r.body + (r.body.empty() || r.body.back() != '\n' ? "\n" : "");
}

StatusOr<json::value> GetJson(const AdminConfig& config, const std::string& target) {
  StatusOr<ApiResponse> r = CallApi(config, "GET", target);
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    std::string text = ErrorText(*r);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return Status(r->status == 404 ? StatusCode::kNotFound : StatusCode::kUnavailable, text, target);
  }
  try {
    return json::parse(r->body);
  } catch (const std::exception& e) {
    return Corruption(std::string("the server's answer is not JSON: ") + e.what(), target);
  }
}

int Apply(const AdminConfig& config, const std::vector<std::string>& files, bool remove) {
  const char* what = remove ? "delete" : "apply";
  if (files.empty()) {
    std::cerr << "edgebed ctl " << what << ": -f FILE is required\n";
    return 2;
  }
  int rc = 0;
  StatusOr<std::vector<std::string>> paths = ExpandManifestPaths(files);
  if (!paths.ok()) return Fail(what, paths.status(), 2);
  for (const std::string& name : *paths) {
    StatusOr<std::string> text = host::ReadWholeFile(name);
    if (!text.ok()) return Fail(what, text.status(), 2);
    StatusOr<ApiResponse> r = CallApi(config, "POST", std::string(remove ? "/api/delete" : "/api/apply") + "?source=" + UrlEncode(name), *text);
    if (!r.ok()) return Fail(what, r.status());
    json::value v;
    try {
      v = json::parse(r->body);
    } catch (const std::exception&) {
      std::cerr << ErrorText(*r);
      return 1;
    }
    if (!v.is_object()) {
      std::cerr << ErrorText(*r);
      return 1;
    }
    const json::object& o = v.as_object();
    auto list = [&](const char* key, const std::string& suffix, std::ostream& out) {
      if (auto it = o.find(key); it != o.end() && it->value().is_array())
        for (const json::value& e : it->value().as_array()) out << Str(e) << suffix << "\n";
    };
    if (remove) {
      list("deleted", " deleted", std::cout);
      list("notFound", " not found", std::cerr);
      list("failed", "", std::cerr);
    } else {
      list("applied", "", std::cout);
      list("warnings", "", std::cerr);
    }
    if (r->status != 200) {
      std::cerr << ErrorText(*r);
      rc = 1;
    }
  }
  return rc;
}

// As kubectl's get -w: lists the objects of one kind, then streams every
// change after the list's revision as it becomes durable, one line each
// (EVENT  NAMESPACE/NAME  REVISION; the list's objects as LISTED), until the
// server ends the watch or the connection drops. Nothing falls between the
// list and the watch.
int Watch(const AdminConfig& config, const std::string& kind, const std::string& ns) {
  std::string prefix = "o/" + kind + "/";
  if (!ClusterScoped(kind) && !ns.empty()) prefix += ns + "/";
  std::string list_target = "/api/objects?kind=" + UrlEncode(kind);
  if (!ClusterScoped(kind) && !ns.empty()) list_target += "&namespace=" + UrlEncode(ns);
  StatusOr<json::value> listed = GetJson(config, list_target);
  if (!listed.ok()) return Fail("get", listed.status());
  const std::string revision = listed->is_object() ? Field(listed->as_object(), "revision") : "";
  if (listed->is_object() && listed->as_object().contains("items") && listed->at("items").is_array()) {
    for (const json::value& item : listed->at("items").as_array()) {
      const json::value* meta = item.is_object() ? item.as_object().if_contains("metadata") : nullptr;
      if (!meta || !meta->is_object()) continue;
      const std::string item_ns = Field(meta->as_object(), "namespace");
      std::cout << std::left << std::setw(8) << "LISTED" << " " << std::setw(50)
                << ((item_ns.empty() ? "" : item_ns + "/") + Field(meta->as_object(), "name")) << " "
                << Field(meta->as_object(), "resourceVersion") << std::endl;
    }
  }
  StatusOr<std::unique_ptr<ApiConnection>> conn = ApiConnection::Open(config);
  if (!conn.ok()) return Fail("get", conn.status());
  host::TlsStream& stream = *(*conn)->stream;
  try {
    http::request<http::empty_body> req(
        http::verb::get, "/api/watch?prefix=" + UrlEncode(prefix) + (revision.empty() ? "" : "&revision=" + revision), 11);
    req.set(http::field::host, (*conn)->host);
    req.set(http::field::authorization, "Bearer " + config.token);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    http::read_header(stream, buffer, parser);
    if (parser.get().result_int() != 200) {
      http::read(stream, buffer, parser);
      std::cerr << "edgebed ctl get: " << ErrorText(ApiResponse{static_cast<int>(parser.get().result_int()), parser.get().body()});
      return 1;
    }
    std::string pending;
    auto on_chunk = [&](std::uint64_t, beast::string_view body, beast::error_code&) -> std::size_t {
      pending.append(body.data(), body.size());
      for (size_t nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
        const std::string line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        try {
          json::value v = json::parse(line);
          const json::object& o = v.as_object();
          const std::string type = Field(o, "type");
          if (type == "EXPIRED") {
            std::cout << "EXPIRED (the history was compacted; list again, then watch)" << std::endl;
            continue;
          }
          std::string name = Field(o, "key").substr(prefix.size() - (ns.empty() || ClusterScoped(kind) ? 0 : ns.size() + 1));
          std::cout << std::left << std::setw(8) << type << " " << std::setw(50) << name << " " << Field(o, "revision")
                    << std::endl;
        } catch (const std::exception&) {
        }
      }
      return body.size();
    };
    parser.on_chunk_body(on_chunk);
    http::read(stream, buffer, parser);
    return 0;
  } catch (const boost::system::system_error& e) {
    return Fail("get", Unavailable("the watch ended: " + e.code().message()));
  }
}

int Get(const AdminConfig& config, const std::vector<std::string>& words, const std::string& ns_flag, bool all,
        const std::string& output, bool watch) {
  if (words.empty()) {
    std::cerr << "edgebed ctl get: say what: pods, nodes, volumes, policies, or a kind (deployments, services, ...)\n";
    return 2;
  }
  if (!output.empty() && output != "yaml" && output != "json" && output != "wide") {
    std::cerr << "edgebed ctl get: -o takes yaml, json or wide, not \"" << output << "\"\n";
    return 2;
  }
  const std::string resource = words[0];
  const std::string name = words.size() > 1 ? words[1] : "";
  const std::string ns = all ? "" : (ns_flag.empty() ? "default" : ns_flag);
  if (watch) {
    std::string kind = KindFor(resource);
    if (kind == "volumes" || kind == "volume") kind = "PersistentVolumeClaim";
    if (kind == "policies" || kind == "policy") kind = "NetworkPolicy";
    return Watch(config, kind, ns);
  }
  const std::string ns_query = ns.empty() ? "" : "namespace=" + UrlEncode(ns);
  const bool table = output.empty() || output == "wide";
  const bool views = resource == "pods" || resource == "pod" || resource == "po" || resource == "nodes" ||
                     resource == "node" || resource == "no" || resource == "volumes" || resource == "volume" ||
                     resource == "policies" || resource == "policy";
  if (table && views && name.empty()) {
    std::string path = resource;
    if (path == "pod" || path == "po") path = "pods";
    if (path == "node" || path == "no") path = "nodes";
    if (path == "volume") path = "volumes";
    if (path == "policy") path = "policies";
    StatusOr<json::value> v = GetJson(config, "/api/" + path + (path == "nodes" || ns_query.empty() ? "" : "?" + ns_query));
    if (!v.ok()) return Fail("get", v.status());
    std::vector<std::vector<std::string>> rows;
    const json::array empty;
    const json::array& items = v->is_object() && v->as_object().contains("items") && v->at("items").is_array()
                                   ? v->at("items").as_array()
                                   : empty;
    if (path == "pods") {
      rows.push_back(all ? std::vector<std::string>{"NAMESPACE", "NAME", "STATUS", "NODE", "IP"}
                         : std::vector<std::string>{"NAME", "STATUS", "NODE", "IP"});
      for (const json::value& item : items) {
        const json::object& p = item.as_object();
        // As kubectl shows it: the phase, or why the pod is not (yet) running.
        std::string status = Field(p, "phase");
        const std::string reason = Field(p, "reason");
        if (!reason.empty() && reason != "Started" && (status != "Running" || reason == "CrashLoopBackOff"))
          status = reason;
        std::vector<std::string> row{Field(p, "name"), status, Field(p, "node").empty() ? "<none>" : Field(p, "node"),
                                     Field(p, "ip").empty() ? "<none>" : Field(p, "ip")};
        if (all) row.insert(row.begin(), Field(p, "namespace"));
        rows.push_back(std::move(row));
      }
    } else if (path == "nodes") {
      rows.push_back({"NAME", "STATUS", "POD-CIDR", "ID"});
      for (const json::value& item : items) {
        const json::object& n = item.as_object();
        const bool ready = n.contains("ready") && n.at("ready").is_bool() && n.at("ready").get_bool();
        const bool joined = n.contains("joined") && n.at("joined").is_bool() && n.at("joined").get_bool();
        rows.push_back({Field(n, "name"), joined ? (ready ? "Ready" : "NotReady") : "Registered", Field(n, "podCIDR"),
                        Field(n, "id")});
      }
    } else if (path == "volumes") {
      rows.push_back(all ? std::vector<std::string>{"NAMESPACE", "CLAIM", "STATE", "PRIMARY", "REPLICAS", "SIZE"}
                         : std::vector<std::string>{"CLAIM", "STATE", "PRIMARY", "REPLICAS", "SIZE"});
      for (const json::value& item : items) {
        const json::object& o = item.as_object();
        std::string replicas;
        if (o.contains("replicas") && o.at("replicas").is_array())
          for (const json::value& r : o.at("replicas").as_array()) {
            const json::object& rep = r.as_object();
            const bool in_sync = rep.contains("inSync") && rep.at("inSync").is_bool() && rep.at("inSync").get_bool();
            replicas += (replicas.empty() ? "" : ",") + Field(rep, "node") + (in_sync ? "" : "(syncing)");
          }
        std::string size = Field(o, "sizeBytes");
        if (!size.empty()) size = std::to_string(std::stoull(size) >> 20) + "Mi";
        std::vector<std::string> row{Field(o, "claim"), Field(o, "state"), Field(o, "primary").empty() ? "-" : Field(o, "primary"),
                                     replicas.empty() ? "-" : replicas, size.empty() ? "-" : size};
        if (all) row.insert(row.begin(), Field(o, "namespace"));
        rows.push_back(std::move(row));
      }
    } else {
      rows.push_back({"NAMESPACE", "KIND", "NAME"});
      for (const json::value& item : items) {
        const json::object& o = item.as_object();
        rows.push_back({Field(o, "namespace").empty() ? "-" : Field(o, "namespace"), Field(o, "kind"), Field(o, "name")});
      }
    }
    if (rows.size() == 1) {
      std::cerr << (path == "nodes" || all ? std::string("No resources found.\n")
                                           : "No resources found in " + ns + " namespace.\n");
      return 0;
    }
    std::cout << Table(rows);
    return 0;
  }
  // Objects as stored.
  std::string kind = KindFor(resource);
  if (kind == "volumes" || kind == "volume") kind = "PersistentVolumeClaim";
  if (kind == "policies" || kind == "policy") kind = "NetworkPolicy";
  std::string target = "/api/objects?kind=" + UrlEncode(kind);
  if (!ClusterScoped(kind) && !ns.empty()) target += "&namespace=" + UrlEncode(ns);
  if (!name.empty()) target += "&name=" + UrlEncode(name);
  StatusOr<json::value> v = GetJson(config, target);
  if (!v.ok()) return Fail("get", v.status(), v.status().code() == StatusCode::kNotFound ? 1 : 1);
  std::vector<json::value> objects;
  if (name.empty()) {
    if (v->is_object() && v->as_object().contains("items") && v->at("items").is_array())
      for (const json::value& item : v->at("items").as_array()) objects.push_back(item);
  } else {
    objects.push_back(*v);
  }
  if (output == "json") {
    if (name.empty()) {
      json::object list;
      list["apiVersion"] = "v1";
      list["kind"] = "List";
      list["items"] = json::array(objects.begin(), objects.end());
      std::cout << json::serialize(list) << "\n";
    } else {
      std::cout << json::serialize(objects.front()) << "\n";
    }
    return 0;
  }
  if (output == "yaml") {
    for (size_t i = 0; i < objects.size(); ++i) std::cout << (i ? "---\n" : "") << host::JsonToYaml(objects[i]);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAMESPACE", "NAME", "REVISION"});
  for (const json::value& o : objects) {
    const json::value* meta = o.is_object() ? o.as_object().if_contains("metadata") : nullptr;
    if (!meta || !meta->is_object()) continue;
    const json::object& m = meta->as_object();
    rows.push_back({Field(m, "namespace").empty() ? "-" : Field(m, "namespace"), Field(m, "name"),
                    Field(m, "resourceVersion")});
  }
  if (rows.size() == 1) {
    std::cerr << "No resources found.\n";
    return 0;
  }
  std::cout << Table(rows);
  return 0;
}

int DeleteNamed(const AdminConfig& config, const std::vector<std::string>& words, const std::string& ns_flag) {
  if (words.size() != 2) {
    std::cerr << "edgebed ctl delete: give -f FILE, or KIND NAME\n";
    return 2;
  }
  const std::string kind = KindFor(words[0]);
  std::string target = "/api/objects?kind=" + UrlEncode(kind) + "&name=" + UrlEncode(words[1]);
  if (!ClusterScoped(kind)) target += "&namespace=" + UrlEncode(ns_flag.empty() ? "default" : ns_flag);
  StatusOr<ApiResponse> r = CallApi(config, "DELETE", target);
  if (!r.ok()) return Fail("delete", r.status());
  if (r->status != 200) {
    std::cerr << "edgebed ctl delete: " << ErrorText(*r);
    return 1;
  }
  std::cout << kind << " " << words[1] << " deleted\n";
  return 0;
}

}  // namespace

StatusOr<ApiResponse> CallApi(const AdminConfig& config, const std::string& method, const std::string& target,
                              const std::string& body, const std::string& content_type) {
  StatusOr<std::unique_ptr<ApiConnection>> conn = ApiConnection::Open(config);
  if (!conn.ok()) return conn.status();
  host::TlsStream& stream = *(*conn)->stream;
  try {
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, (*conn)->host);
    req.set(http::field::authorization, "Bearer " + config.token);
    req.set(http::field::user_agent, "edgebed-ctl");
    if (!body.empty()) {
      req.set(http::field::content_type, content_type);
      req.body() = body;
    }
    req.keep_alive(false);
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::read(stream, buffer, parser);
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);
    return ApiResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
  } catch (const boost::system::system_error& e) {
    return Unavailable("the server at " + config.server + " dropped the request: " + e.code().message());
  }
}

StatusOr<std::string> LivePolicyManifests(const AdminConfig& config) {
  std::string out;
  // Pods as they run, not the workloads that made them (the policy tools would
  // make their pods again, at other addresses).
  for (const char* kind : {"Namespace", "ServiceAccount", "Pod", "NetworkPolicy", "projectcalico.org/NetworkPolicy",
                           "GlobalNetworkPolicy", "GlobalNetworkSet", "NetworkSet", "Tier"}) {
    StatusOr<json::value> v = GetJson(config, "/api/objects?kind=" + UrlEncode(kind));
    if (!v.ok()) return v.status();
    if (!v->is_object() || !v->as_object().contains("items") || !v->at("items").is_array()) continue;
    for (const json::value& item : v->at("items").as_array()) out += "---\n" + host::JsonToYaml(item);
  }
  return out;
}

int RunCtl(int argc_in, char** argv_in) {
  // --config may come before the subcommand too, as kubectl's global flags.
  std::string config_path = DefaultAdminConfigPath();
  std::vector<char*> kept{argv_in[0]};
  for (int i = 1; i < argc_in; ++i) {
    const std::string a = argv_in[i];
    if (a == "--config" && i + 1 < argc_in) {
      config_path = argv_in[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else {
      kept.push_back(argv_in[i]);
    }
  }
  const int argc = static_cast<int>(kept.size());
  char** argv = kept.data();
  const std::string sub = argc > 1 ? argv[1] : "";
  if (sub != "apply" && sub != "get" && sub != "delete") {
    const bool help = sub == "--help" || sub == "-h" || sub == "help";
    (help ? std::cout : std::cerr)
        << (help || sub.empty() ? "" : "edgebed ctl: unknown subcommand '" + sub + "'\n")
        << "Usage: edgebed ctl apply -f FILE... [--config admin.yaml]\n"
           "       edgebed ctl get pods|nodes|volumes|policies|KIND [NAME] [-n NS | -A] [-o yaml|json] [-w]\n"
           "       edgebed ctl delete -f FILE...\n"
           "       edgebed ctl delete KIND NAME [-n NS]\n"
           "The admin credential comes from --config, $EDGEBED_CONFIG or "
        << DefaultAdminConfigPath() << ".\n";
    return help ? 0 : 2;
  }
  std::string ns, output;
  std::vector<std::string> files, words;
  bool all = false, watch = false;
  Flags flags("edgebed ctl " + sub,
              "Talks to the server's API with the admin credential: --config FILE (anywhere on\n"
              "the line), $EDGEBED_CONFIG, or " + DefaultAdminConfigPath() + ".");
  if (sub != "get") flags.Repeated("filename", "f", "a manifest file or directory", &files);
  if (sub != "apply") flags.Repeated("namespace", "n", "the namespace (default: default)", &words);
  if (sub == "get") {
    flags.Bool("all-namespaces", "every namespace (-A)", &all);
    flags.String("output", "yaml or json (-o)", &output);
    flags.Bool("watch", "after listing nothing, stream every change as it becomes durable (-w)", &watch);
  }
  // kubectl's short flags.
  std::vector<std::string> args;
  std::vector<std::string> namespaces;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-A") a = "--all-namespaces";
    if (a == "-w") a = "--watch";
    if (a == "-o" || a == "-n") {
      if (i + 1 >= argc) {
        std::cerr << "edgebed ctl " << sub << ": " << a << " needs a value\n";
        return 2;
      }
      (a == "-o" ? output : ns) = argv[++i];
      continue;
    }
    if (a.rfind("-o", 0) == 0 && a.size() > 2 && a[2] != '-') {
      output = a.substr(2);
      continue;
    }
    args.push_back(a);
  }
  std::vector<std::string> positional;
  flags.Positional("KIND [NAME]", &positional);
  std::vector<char*> argv2{argv[0]};
  for (std::string& a : args) argv2.push_back(a.data());
  if (int rc = flags.Parse(static_cast<int>(argv2.size()), argv2.data()); rc >= 0) return rc;
  if (!words.empty()) ns = words.back();
  StatusOr<AdminConfig> config = LoadAdminConfig(config_path);
  if (!config.ok()) return Fail(sub, config.status(), 2);
  if (sub == "apply") {
    if (!positional.empty()) {
      std::cerr << "edgebed ctl apply: unexpected \"" << positional.front() << "\"; give manifests with -f FILE\n";
      return 2;
    }
    return Apply(*config, files, false);
  }
  if (sub == "delete") return files.empty() ? DeleteNamed(*config, positional, ns) : Apply(*config, files, true);
  return Get(*config, positional, ns, all, output, watch);
}

}  // namespace edgebed::tools
