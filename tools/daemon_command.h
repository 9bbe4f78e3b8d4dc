// `edgebed server` and `edgebed agent`: the cluster's core as daemons on
// real nodes, as `k3s server` and `k3s agent` are.
//
// Both run in the foreground, log to stderr, stop cleanly on SIGTERM or
// SIGINT, and keep their state under --data-dir, so a restart loses
// nothing: the server's datastore (its SQLite checkpoint and log), its CA,
// token and admin credential; an agent's volume replicas and the server CA
// it learned. The server's one TLS port carries the agents' control channel
// and the HTTP API (core/host/api_server.h).
#pragma once

#include <cstdint>
#include <string>

namespace edgebed::tools {

int RunServer(int argc, char** argv);
int RunAgent(int argc, char** argv);

// The Env node id of an agent: a stable hash of its node name (the server is
// node 0), so it is the same on every start and on every machine.
uint32_t AgentNodeId(const std::string& node_name);

}  // namespace edgebed::tools
