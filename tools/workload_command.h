// edgebed workload: small real programs for pods to run on a real node (the
// ProcessRuntime of core/host runs a container's command as a process), and
// for tests to talk to them.
//
//   serve  --tcp PORT[,PORT...] --udp PORT[,PORT...]
//          TCP: answers each line with "<pod name> <line>"; UDP: echoes each
//          datagram. The pod name is $POD_NAME (else the host name).
//   probe  --to ADDRESS:PORT --proto tcp|udp [--count N] [--timeout MS] [--interval MS]
//          one line per attempt ("attempt 1 ok rtt=0.31ms reply=...", or
//          "refused" / "timeout" / "error ..."); exit 0 if every attempt
//          succeeded, 1 otherwise. A TCP attempt connects, sends a line and
//          reads the answer; a UDP one sends a datagram and waits for one.
//   sensor --broker ADDRESS:PORT --topic T [--interval MS] [--count N]
//          publishes readings as "PUB <topic> <payload>" lines over TCP,
//          reconnecting after a failure; a reading whose write failed is
//          sent again (one the broker took but lost on its way out is not).
//   broker --listen PORT [--forward ADDRESS:PORT] [--store DIR]
//          counts PUB lines per topic, forwards them if asked, appends them
//          to DIR/messages.log (fsync per batch received); a "STATS" line is
//          answered with "STATS topic=count ..." (topics sorted).
//
// Every one of them exits 0 on SIGTERM or SIGINT (probe: 1 if an attempt
// so far failed), and 2 with a message naming the flag on bad usage.
#pragma once

namespace edgebed::tools {

// argv[0] is "workload".
int RunWorkload(int argc, char** argv);

}  // namespace edgebed::tools
