// edgebed: the command-line front door to the real-node side of edgebed.
//
//   edgebed server ...            the control plane daemon
//   edgebed agent ...             the node daemon
//   edgebed ctl apply|get|delete  the API's client
//   edgebed validate -f FILE...   load manifests, print what loaded or the errors
//   edgebed heartbeat ...         run the heartbeat failure detector on real sockets
//   edgebed policy matrix|explain what the network policies of manifests allow
//   edgebed sched -f FILE...      place the pods of manifests onto their nodes
//   edgebed storage torture ...   the randomized fault test of replicated volumes
//   edgebed workload serve|...    small programs for pods on a real node
//   edgebed report RESULTS.db...  an HTML report (and CSV files) of results databases
#include <iostream>
#include <string>

#include "tools/ctl_command.h"
#include "tools/daemon_command.h"
#include "tools/heartbeat_command.h"
#include "tools/policy_command.h"
#include "tools/report_command.h"
#include "tools/sched_command.h"
#include "tools/storage_command.h"
#include "tools/validate.h"
#include "tools/workload_command.h"

namespace {

constexpr const char* kUsage =
    "Usage: edgebed COMMAND [flags]\n"
    "\n"
    "Commands:\n"
    "  server      run the cluster's control plane on this machine (as k3s server):\n"
    "              datastore, controllers, scheduler, storage; agents and the API on\n"
    "              one TLS port\n"
    "  agent       run a node (as k3s agent): join a server with its token, run pods,\n"
    "              hold volume replicas, program services and policy into the kernel\n"
    "  ctl         the API's client, as kubectl: apply -f, get, delete\n"
    "  validate    load Kubernetes-style manifests (-f FILE...) and print what was\n"
    "              loaded, or every error as file:line:column\n"
    "  heartbeat   run the heartbeat failure detector of core/probe on this host,\n"
    "              over real UDP/TCP sockets, against peers given as ID=ADDR:PORT\n"
    "  policy      matrix: which pods of the manifests may reach which;\n"
    "              explain: which tier, policy and rule decide one connection\n"
    "  sched       place the pods of the manifests onto their nodes as kube-scheduler\n"
    "              would (filter, score, preempt) and say why a pod fits nowhere\n"
    "  storage     torture: the randomized fault test of replicated volumes over many\n"
    "              seeds; no acknowledged write may be lost\n"
    "  workload    serve, probe, sensor, broker: small programs for pods to run on a\n"
    "              real node (TCP/UDP servers, a reachability probe, a publisher, a broker)\n"
    "  report      one self-contained HTML report of results databases (plots by\n"
    "              gnuplot), and --csv: every series as a CSV file\n"
    "\n"
    "Run 'edgebed COMMAND --help' for a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "server") return edgebed::tools::RunServer(argc - 1, argv + 1);
  if (command == "agent") return edgebed::tools::RunAgent(argc - 1, argv + 1);
  if (command == "ctl") return edgebed::tools::RunCtl(argc - 1, argv + 1);
  if (command == "validate") return edgebed::tools::RunValidate(argc - 1, argv + 1);
  if (command == "heartbeat") return edgebed::tools::RunHeartbeat(argc - 1, argv + 1);
  if (command == "policy") return edgebed::tools::RunPolicy(argc - 1, argv + 1);
  if (command == "sched") return edgebed::tools::RunSched(argc - 1, argv + 1);
  if (command == "storage") return edgebed::tools::RunStorage(argc - 1, argv + 1);
  if (command == "report") return edgebed::tools::RunReport(argc - 1, argv + 1);
  if (command == "workload") return edgebed::tools::RunWorkload(argc - 1, argv + 1);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << (command.empty() ? "edgebed: missing command\n"
                                : "edgebed: unknown command '" + command + "'\n")
            << kUsage;
  return 2;
}
