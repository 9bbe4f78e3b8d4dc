// Network policy in the kernel: what the compiled classifier
// (core/policy/classifier.h) decides for this node's own pods, rendered as
// one nftables table in the manner of Calico Felix's nftables dataplane, and
// kept up to date by small atomic transactions.
//
//   NftPolicy nft;                                   // applies through ApplyNft
//   Status s = nft.Update(classifier, inventory, {"building/sensor-0", ...});
//   // ... policies or pods change, a new classifier is compiled ...
//   s = nft.Update(next_classifier, next_inventory, local_keys);  // only the difference
//
// What the table does, as policy::Dataplane does in simulation:
// - three base chains, in the filter hooks forward, input and output at a
//   priority after destination NAT (a connection to a Service is judged as
//   the pod and port it was translated to), send the traffic of local pods
//   (from or to one of their addresses) to one chain, `judge`;
// - `judge` accepts established and related packets (the kernel's conntrack
//   remembers allowed connections, replies included), drops invalid ones,
//   accepts a pod's traffic to itself, then runs the egress program of the
//   source, when it is a local pod, and the ingress program of the
//   destination, when it is one; a packet both allow is accepted;
// - each program the classifier compiled (shared by every endpoint to which
//   the same policies apply) is one chain per tier it holds, reached from
//   the endpoint's address through a verdict map (`egress`, `ingress`); a
//   pod no policy selects in a direction has no element there: it is
//   allowed, as Kubernetes' default;
// - in a tier's chain each compiled rule is one rule (a few when it has
//   named ports or negations, which nftables cannot write as one): Allow
//   returns (on to the other direction), Deny drops, Pass goes to the next
//   tier's chain, Log counts; the tier ends in its defaultAction;
// - the addresses a rule side matches (selectors resolved into pods and
//   network sets, nets, notNets, ipBlock with except) are one interval set,
//   its ports another, its named ports a set of (address, protocol, port):
//   so the rule count grows with the policies' rules, not with the pods.
//
// Only IPv4, as the classifier. Not thread-safe; one NftPolicy per table.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/policy/classifier.h"
#include "core/policy/inventory.h"

namespace edgebed::host {

struct NftPolicyOptions {
  std::string table = "edgebed-policy";  // an `ip` family table of its own
  // Of the filter hooks; after dstnat (-100), so policy sees translated packets.
  int priority = 0;
};

// The table as a value: what one rendering holds, and what an update compares.
struct NftPolicyRules {
  struct Set {
    std::string type;      // "ipv4_addr", "inet_service", "ipv4_addr . inet_proto . inet_service"
    bool interval = false;
    std::vector<std::string> elements;  // as nft writes them: "10.42.0.0-10.42.0.255", "78-80"
    bool operator==(const Set& o) const {
      return type == o.type && interval == o.interval && elements == o.elements;
    }
  };
  std::map<std::string, Set> sets;  // by name; `local` and `loopback` included
  // The programs' tier chains, by name: their rules, in order.
  std::map<std::string, std::vector<std::string>> chains;
  // A local pod's address -> the first tier chain of its program.
  std::map<std::string, std::string> egress, ingress;

  size_t rule_count() const;     // in the program chains, plus the fixed chains' rules
  size_t element_count() const;  // in every set and map
};

// The table for `classifier`'s decisions on the endpoints `local_endpoints`
// ("namespace/pod" keys; keys the inventory does not hold are skipped, as
// policy::Dataplane does). Names of chains and sets come from `names`, which
// keeps them stable from one rendering to the next.
// REQUIRES: `classifier` was built on `inventory`.
class NftNames;
NftPolicyRules RenderPolicyRules(const policy::Classifier& classifier,
                                 const policy::Inventory& inventory,
                                 const std::vector<std::string>& local_endpoints, NftNames* names);

// The script that makes the table `rules` from nothing, replacing whatever
// table of that name there was, in one transaction.
std::string FullPolicyScript(const NftPolicyRules& rules, const NftPolicyOptions& options);
// The script that turns the table `from` into `to`: new sets and chains
// added, changed interval sets and chains flushed and refilled, elements of
// other sets and of the maps added and deleted one by one, what is gone
// deleted. Empty when nothing changed.
std::string IncrementalPolicyScript(const NftPolicyRules& from, const NftPolicyRules& to,
                                    const NftPolicyOptions& options);

// Stable names for chains and sets: the same program, or the same rule side,
// gets the same name in every rendering while it exists.
class NftNames {
 public:
  // "<prefix><n>" for `identity`: the one it had, or a new number.
  std::string Name(const std::string& prefix, const std::string& identity);
  // Forgets every identity not named since the last Sweep(); numbers are
  // never reused, so a forgotten name cannot come back meaning another thing.
  void Sweep();

 private:
  struct Entry {
    uint64_t id;
    bool used;
  };
  std::map<std::string, Entry> ids_;
  uint64_t next_ = 0;
};

// Keeps the kernel's table equal to the last rendering it applied. Every
// Update() is one nft transaction: all of it applies, or none of it.
class NftPolicy {
 public:
  // `apply` runs a script (ApplyNft by default; tests pass a recorder).
  explicit NftPolicy(NftPolicyOptions options = {},
                     std::function<Status(const std::string&)> apply = nullptr);

  // Renders the policy for the local endpoints and applies what differs
  // from the last update that succeeded. The first update, and the first
  // after Invalidate(), replaces the table whole. When an incremental
  // transaction is refused (someone changed the table behind our back),
  // the whole table is applied in its place at once. On error nothing of
  // this update is applied and the next one starts from scratch; the error
  // is ApplyNft's (kUnavailable without root or nf_tables).
  // REQUIRES: `classifier` was built on `inventory`.
  Status Update(const policy::Classifier& classifier, const policy::Inventory& inventory,
                const std::vector<std::string>& local_endpoints);

  // Forgets what was applied: the next Update() replaces the table whole.
  void Invalidate() { applied_valid_ = false; }
  // Deletes the table (when it exists) and forgets it.
  Status Remove();

  const NftPolicyRules& applied() const { return applied_; }
  bool has_applied() const { return applied_valid_; }
  size_t rule_count() const { return applied_.rule_count(); }
  size_t element_count() const { return applied_.element_count(); }
  // The script of the last update that was attempted, and whether it was a full one.
  const std::string& last_script() const { return last_script_; }
  bool last_was_full() const { return last_full_; }
  const NftPolicyOptions& options() const { return options_; }

 private:
  NftPolicyOptions options_;
  std::function<Status(const std::string&)> apply_;
  NftNames names_;
  NftPolicyRules applied_;
  bool applied_valid_ = false;
  std::string last_script_;
  bool last_full_ = false;
};

// The table as nft lists it, counters and comments included (each rule's
// comment names its policy and rule), for a person reading what a live node
// enforces. Runs in the calling thread's network namespace; kNotFound when
// there is no such table.
StatusOr<std::string> ListPolicyTable(const NftPolicyOptions& options = {});

}  // namespace edgebed::host
