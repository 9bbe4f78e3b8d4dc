#include "tools/policy_command.h"

#include <algorithm>
#include <iostream>
#include <optional>
#include <sstream>

#include "core/host/nft_policy.h"
#include "core/policy/inventory.h"
#include "core/policy/policy_set.h"
#include "core/policy/reference.h"
#include "tools/ctl_command.h"
#include "tools/flags.h"
#include "tools/validate.h"

namespace edgebed::tools {

namespace {

using policy::Endpoint;
using policy::Inventory;
using policy::Packet;
using policy::PolicySet;
using policy::ReferenceEvaluator;

// The packet a probe sends, ports or ICMP fields filled; `with_icmp` says
// whether ICMP probes are accepted. Errors name the flag to fix.
StatusOr<Packet> ProbePacket(const Probe& probe, bool with_icmp) {
  const std::optional<uint8_t> p = policy::ProtocolNumber(probe.protocol);
  Packet packet;
  if (p && (*p == policy::kIcmp || *p == policy::kIcmpv6) && with_icmp) {
    if (probe.icmp_type < 0 || probe.icmp_type > 255 || probe.icmp_code < 0 || probe.icmp_code > 255) {
      return InvalidArgument("ICMP type and code are 0..255", "--icmp-type");
    }
    packet.protocol = *p;
    packet.icmp_type = static_cast<uint8_t>(probe.icmp_type);
    packet.icmp_code = static_cast<uint8_t>(probe.icmp_code);
    return packet;
  }
  if (!p || (*p != policy::kTcp && *p != policy::kUdp && *p != policy::kSctp)) {
    return InvalidArgument("\"" + probe.protocol + "\" is not a protocol with ports; use TCP, UDP or SCTP" +
                               (with_icmp ? std::string(", or ICMP with --icmp-type") : std::string()),
                           "--protocol");
  }
  if (probe.port < 1 || probe.port > 65535) {
    return InvalidArgument(std::to_string(probe.port) + " is not a port; use 1..65535", "--port");
  }
  packet.protocol = *p;
  packet.src_port = 40000;
  packet.dst_port = static_cast<uint16_t>(probe.port);
  return packet;
}

// Pods sorted by namespace, then name; each with its first address.
std::vector<const Endpoint*> SortedPods(const Inventory& inventory) {
  std::vector<const Endpoint*> pods;
  for (const Endpoint& e : inventory.endpoints()) {
    if (!e.ips.empty()) pods.push_back(&e);
  }
  std::sort(pods.begin(), pods.end(), [](const Endpoint* a, const Endpoint* b) {
    return std::tie(a->namespace_, a->name) < std::tie(b->namespace_, b->name);
  });
  return pods;
}

// The first pod (by name) of the Deployment, DaemonSet or StatefulSet
// "NS/NAME" of the manifests: its pods are named NAME-..., and its selector
// picks them. Pods a live cluster made say their owner instead (the
// edgebed.io/owned-by annotation). Null when there is no such workload or it
// has no pod.
const Endpoint* FirstPodOf(const std::vector<model::Object>& objects, const Inventory& inventory,
                           const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return nullptr;
  const std::string ns = text.substr(0, slash), name = text.substr(slash + 1);
  const model::LabelSelector* selector = nullptr;
  for (const model::Object& o : objects) {
    const model::ObjectMeta& meta = model::MetaOf(o);
    if (meta.namespace_ != ns || meta.name != name) continue;
    if (const auto* d = std::get_if<model::Deployment>(&o)) selector = &d->selector;
    if (const auto* ds = std::get_if<model::DaemonSet>(&o)) selector = &ds->selector;
    if (const auto* ss = std::get_if<model::StatefulSet>(&o)) selector = &ss->selector;
  }
  if (!selector) {
    std::string first;
    for (const model::Object& o : objects) {
      const auto* pod = std::get_if<model::Pod>(&o);
      if (!pod || pod->meta.namespace_ != ns) continue;
      auto owner = pod->meta.annotations.find("edgebed.io/owned-by");
      if (owner == pod->meta.annotations.end()) continue;
      const std::string& o_name = owner->second;
      if (o_name.size() > name.size() && o_name.compare(o_name.size() - name.size(), name.size(), name) == 0 &&
          o_name[o_name.size() - name.size() - 1] == '/' && (first.empty() || pod->meta.name < first))
        first = pod->meta.name;
    }
    return first.empty() ? nullptr : inventory.FindEndpoint(ns + "/" + first);
  }
  for (const Endpoint* e : SortedPods(inventory))
    if (e->namespace_ == ns && e->name.rfind(name + "-", 0) == 0 && model::Matches(*selector, e->labels)) return e;
  return nullptr;
}

// An address for "NS/POD", "NS/WORKLOAD" (its first pod) or an IPv4 address.
StatusOr<uint32_t> Resolve(const std::vector<model::Object>& objects, const Inventory& inventory,
                           const std::string& text, const std::string& flag) {
  if (auto ip = ParseIpv4(text)) return *ip;
  const Endpoint* e = inventory.FindEndpoint(text);
  if (!e) e = FirstPodOf(objects, inventory, text);
  if (!e) {
    return NotFound("\"" + text + "\" is neither a pod of the manifests (NS/POD), a Deployment, DaemonSet or "
                    "StatefulSet with pods (NS/NAME), nor an IPv4 address",
                    flag);
  }
  if (e->ips.empty()) return NotFound("pod " + text + " has no address (hostNetwork)", flag);
  return e->ips.front();
}

std::string Describe(const Inventory& inventory, uint32_t address) {
  const policy::Entity entity = inventory.Lookup(address);
  if (entity.endpoint) return entity.endpoint->Key() + " (" + FormatIpv4(address) + ")";
  if (entity.network) {
    return FormatIpv4(address) + " (network set " +
           (entity.network->namespace_.empty() ? "" : entity.network->namespace_ + "/") +
           entity.network->name + ")";
  }
  return FormatIpv4(address) + " (not a pod)";
}


constexpr const char* kMatrixSummary =
    "Prints which pods of the manifests may open a connection to which: a header line\n"
    "'-' then each destination NS/POD, then per source NS/POD one cell per destination,\n"
    "'.' allowed and 'X' denied, tab-separated, pods sorted by namespace then name.\n"
    "Kubernetes and Calico policies are evaluated together, as Calico does. Pod\n"
    "addresses come from status.podIP or are assigned from 10.42.0.0/16.";
constexpr const char* kExplainSummary =
    "Says, for one new connection, which tier, policy and rule decided at the\n"
    "source (egress) and at the destination (ingress), and the verdict.";

}  // namespace

StatusOr<std::string> ReachabilityMatrix(const std::vector<model::Object>& objects,
                                         const Probe& probe) {
  StatusOr<Packet> packet = ProbePacket(probe, /*with_icmp=*/false);
  if (!packet.ok()) return packet.status();
  StatusOr<policy::PolicyWorld> e = policy::PolicyWorldFromObjects(objects);
  if (!e.ok()) return e.status();
  const ReferenceEvaluator evaluator(e->tiers, e->inventory);
  const std::vector<const Endpoint*> pods = SortedPods(e->inventory);
  std::string out = "-";
  for (const Endpoint* dst : pods) out += "\t" + dst->Key();
  out += "\n";
  for (const Endpoint* src : pods) {
    out += src->Key();
    for (const Endpoint* dst : pods) {
      Packet p = *packet;
      p.src = src->ips.front();
      p.dst = dst->ips.front();
      out += evaluator.Evaluate(p).allowed ? "\t." : "\tX";
    }
    out += "\n";
  }
  return out;
}

StatusOr<std::string> ExplainConnection(const std::vector<model::Object>& objects,
                                        const std::string& from, const std::string& to,
                                        const Probe& probe) {
  StatusOr<Packet> packet = ProbePacket(probe, /*with_icmp=*/true);
  if (!packet.ok()) return packet.status();
  StatusOr<policy::PolicyWorld> e = policy::PolicyWorldFromObjects(objects);
  if (!e.ok()) return e.status();
  StatusOr<uint32_t> src = Resolve(objects, e->inventory, from, "--from");
  if (!src.ok()) return src.status();
  StatusOr<uint32_t> dst = Resolve(objects, e->inventory, to, "--to");
  if (!dst.ok()) return dst.status();
  Packet p = *packet;
  p.src = *src;
  p.dst = *dst;
  const ReferenceEvaluator evaluator(e->tiers, e->inventory);
  const policy::Verdict v = evaluator.Evaluate(p);
  std::ostringstream out;
  out << "connection: " << Describe(e->inventory, p.src) << " -> "
      << Describe(e->inventory, p.dst) << " " << policy::ProtocolName(p.protocol)
      << (p.protocol == policy::kIcmp || p.protocol == policy::kIcmpv6
              ? " type " + std::to_string(p.icmp_type) + " code " + std::to_string(p.icmp_code)
              : " " + std::to_string(p.dst_port))
      << "\n";
  const auto side = [&](const char* what, const policy::Decision& d) {
    out << what << ": " << d.ToString() << "\n";
    for (const std::string& t : d.trace) out << "  " << t << "\n";
    if (d.policy) out << "  policy defined at " << d.policy->pos.ToString() << "\n";
  };
  side("egress at the source", v.egress);
  side("ingress at the destination", v.ingress);
  out << "verdict: " << (v.allowed ? "allowed" : "denied") << "\n";
  return out.str();
}

// `edgebed policy rules`: the policy table a node's agent put into this
// host's kernel, with comments naming each rule's policy.
int RunRules(int argc, char** argv) {
  std::string table = host::NftPolicyOptions{}.table;
  Flags flags("edgebed policy rules",
              "Prints the nftables table the agent on this node programs its pods' policy into,\n"
              "each rule commented with the tier, policy and rule it comes from. Needs root.");
  flags.String("table", "the table's name", &table);
  if (int rc = flags.Parse(argc, argv); rc >= 0) return rc;
  host::NftPolicyOptions options;
  options.table = table;
  StatusOr<std::string> listed = host::ListPolicyTable(options);
  if (!listed.ok()) {
    std::cerr << "edgebed policy rules: " << listed.status().ToString() << "\n";
    return 1;
  }
  std::cout << *listed;
  return 0;
}

int RunPolicy(int argc, char** argv) {
  const std::string sub = argc > 1 ? argv[1] : "";
  if (sub == "rules") return RunRules(argc - 1, argv + 1);
  const bool matrix = sub == "matrix";
  if (!matrix && sub != "explain") {
    const bool help = sub == "--help" || sub == "-h" || sub == "help";
    (help ? std::cout : std::cerr)
        << (help || sub.empty() ? "" : "edgebed policy: unknown subcommand '" + sub + "'\n")
        << "Usage: edgebed policy matrix -f FILE... [--port N] [--protocol TCP|UDP|SCTP]\n"
           "       edgebed policy explain -f FILE... --from NS/POD|NS/WORKLOAD|IP --to NS/POD|NS/WORKLOAD|IP --port N "
           "[--protocol P]\n"
           "       edgebed policy explain -f FILE... --from ... --to ... --protocol ICMP "
           "[--icmp-type T] [--icmp-code C]\n"
           "       edgebed policy matrix|explain --live [--config admin.yaml] ...   (a running cluster's pods)\n"
           "       edgebed policy rules   (the node's policy as the kernel holds it)\n"
           "Run 'edgebed policy matrix --help' or 'edgebed policy explain --help' for more.\n";
    return help ? 0 : 2;
  }
  std::vector<std::string> names;
  int64_t port = matrix ? 80 : 0, icmp_type = 8, icmp_code = 0;
  std::string protocol = "TCP", from, to, live_config;
  bool live = false;
  Flags flags(std::string("edgebed policy ") + sub, matrix ? kMatrixSummary : kExplainSummary);
  flags.Repeated("filename", "f", "a manifest file or directory", &names);
  flags.Bool("live", "read the policies and pods of a running cluster through its API instead of files", &live);
  flags.String("config", "with --live: the admin credential (default: $EDGEBED_CONFIG or the server's admin.yaml)",
               &live_config);
  flags.Int("port", "destination port", &port);
  flags.String("protocol", matrix ? "TCP, UDP or SCTP" : "TCP, UDP, SCTP, ICMP or ICMPv6", &protocol);
  if (!matrix) {
    flags.String("from", "the source: NS/POD, NS/WORKLOAD (its first pod) or an IPv4 address", &from);
    flags.String("to", "the destination: NS/POD, NS/WORKLOAD (its first pod) or an IPv4 address", &to);
    flags.Int("icmp-type", "ICMP type (8: echo request)", &icmp_type);
    flags.Int("icmp-code", "ICMP code", &icmp_code);
  }
  if (int rc = flags.Parse(argc - 1, argv + 1); rc >= 0) return rc;
  const auto clamp = [](int64_t v) { return static_cast<int>(std::clamp<int64_t>(v, -1, 1 << 20)); };
  const Probe probe{protocol, clamp(port), clamp(icmp_type), clamp(icmp_code)};
  const std::optional<uint8_t> number = policy::ProtocolNumber(protocol);
  const bool icmp = number && (*number == policy::kIcmp || *number == policy::kIcmpv6);
  const char* missing = names.empty() && !live            ? "-f FILE or --live"
                        : !matrix && from.empty()          ? "--from"
                        : !matrix && to.empty()            ? "--to"
                        : !matrix && !icmp && port == 0    ? "--port"
                                                           : nullptr;
  if (missing) {
    std::cerr << "edgebed policy " << sub << ": " << missing << " is required (see --help)\n";
    return 2;
  }
  if (StatusOr<Packet> checked = ProbePacket(probe, !matrix); !checked.ok()) {
    std::cerr << "edgebed policy " << sub << ": " << checked.status().ToString() << "\n";
    return 2;
  }
  std::vector<model::Object> objects;
  int rc = 0;
  if (live) {
    if (!names.empty()) {
      std::cerr << "edgebed policy " << sub << ": give -f FILE or --live, not both\n";
      return 2;
    }
    StatusOr<AdminConfig> config = LoadAdminConfig(live_config.empty() ? DefaultAdminConfigPath() : live_config);
    if (!config.ok()) {
      std::cerr << "edgebed policy " << sub << ": " << config.status().ToString() << "\n";
      return 2;
    }
    StatusOr<std::string> manifests = LivePolicyManifests(*config);
    if (!manifests.ok()) {
      std::cerr << "edgebed policy " << sub << ": " << manifests.status().ToString() << "\n";
      return 1;
    }
    model::LoadResult loaded = model::LoadManifests(*manifests, config->server);
    for (const model::Diagnostic& d : loaded.errors) std::cerr << "edgebed policy " << sub << ": " << d.ToString() << "\n";
    if (!loaded.ok()) return 1;
    objects = std::move(loaded.objects);
  } else if (!LoadAll("edgebed policy", names, &objects, &rc)) {
    return rc;
  }
  StatusOr<std::string> out = matrix ? ReachabilityMatrix(objects, probe)
                                     : ExplainConnection(objects, from, to, probe);
  if (!out.ok()) {
    const bool usage = out.status().where() == "--from" || out.status().where() == "--to";
    std::cerr << "edgebed policy " << sub << ": " << out.status().ToString() << "\n";
    return usage ? 2 : 1;
  }
  std::cout << *out;
  return 0;
}

}  // namespace edgebed::tools
