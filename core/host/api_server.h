// ApiServer: the one TLS port of a real cluster's server, as K3s's 6443 —
// the HTTP API for people and tools, and the control channel for agents.
//
// Every connection is TLS (tls.h). After the handshake the first byte tells
// the two apart: a control frame (host_env.h's envelope) goes to the
// server's HostEnv (HostEnv::AdoptTls), anything else is HTTP/1.1.
//
// The HTTP API speaks JSON (Boost.JSON; manifests as JSON objects, their
// YAML scalars typed as YAML 1.2's core schema reads them). Every route but
// /healthz and /readyz needs "Authorization: Bearer <admin token>", else
// 401; as upstream's, the health probes are public.
//
//   GET    /healthz, /readyz          "ok" once the server serves (503 before)
//   GET    /metrics                   the Prometheus text format (prometheus.h)
//   POST   /api/apply?source=NAME     body: a YAML manifest stream; as kubectl apply,
//                                     every good document is applied: 200, or 422
//                                     with the errors (file:line:column) and what
//                                     was applied
//   POST   /api/delete                body: a YAML manifest stream; deletes the
//                                     objects it names: 200 {deleted, notFound}
//   GET    /api/objects?kind=K[&namespace=NS][&name=N]
//                                     one object (404 if none) or a List with the
//                                     revision it was read at
//   DELETE /api/objects?kind=K&namespace=NS&name=N
//   GET    /api/watch?prefix=P&revision=R
//                                     every change after R under the datastore
//                                     prefix P (o/<Kind>/..., s/Pod/...), one JSON
//                                     object per line, as it becomes durable;
//                                     a compacted R ends with {"type":"EXPIRED"}
//   GET    /api/pods|nodes|volumes|policies[?namespace=NS]
//                                     the observed state, for `edgebed ctl get`
//
// Bad requests get a JSON {"error": ..., "where": ...} with the HTTP code
// that fits; nothing a client sends can crash the server. Runs on the
// io_context's one thread, with the Server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "core/base/status.h"
#include "core/cluster/server.h"
#include "core/host/host_env.h"
#include "core/host/prometheus.h"

namespace edgebed::host {

struct ApiServerOptions {
  std::string listen_address = "0.0.0.0";
  uint16_t port = 6443;  // 0: the system picks; see port()
  std::string admin_token;
  size_t max_body_bytes = 8u << 20;
  Duration idle_timeout = std::chrono::seconds(60);  // an idle HTTP connection closes
  Duration handshake_timeout = std::chrono::seconds(10);
};

class ApiServer {
 public:
  // Listens at once. `server`, `env` and `metrics` must outlive it.
  static StatusOr<std::unique_ptr<ApiServer>> Create(boost::asio::io_context& io, cluster::Server& server,
                                                     HostEnv& env, PrometheusSink& metrics,
                                                     std::shared_ptr<boost::asio::ssl::context> tls,
                                                     ApiServerOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  uint16_t port() const;
  // Stops accepting and closes every connection. Idempotent.
  void Close();

 private:
  struct Impl;
  explicit ApiServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgebed::host
