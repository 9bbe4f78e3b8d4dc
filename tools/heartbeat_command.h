// edgebed heartbeat: the heartbeat failure detector of core/probe on this
// host, over real sockets — the same protocol code that runs on the test loop
// and in ns-3, here as one process per node.
#pragma once

namespace edgebed::tools {

// argv[0] is "heartbeat". Runs until --duration passes or SIGINT/SIGTERM;
// exit 0 then, 2 on bad usage, 1 if the node cannot start.
int RunHeartbeat(int argc, char** argv);

}  // namespace edgebed::tools
