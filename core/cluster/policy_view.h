// PolicyViews: the policy state each node needs for its own endpoints, and
// nothing more — Calico Felix's calculation graph, computed once at the
// server instead of on every node.
//
// A node's view holds its local endpoints; the policies that apply to any of
// them (and the tiers they sit in); every endpoint or network set that a
// rule of those policies can select (by selector, namespace, service account
// or notSelector) or whose named port such a rule names — the IP-set members
// of Felix; and the labels of the namespaces of the endpoints and network
// sets it holds, and of those endpoints' service accounts. A classifier built
// from a node's view decides every packet to or from a local endpoint exactly
// as one built from the whole cluster would (a property tests/cluster holds it
// to): an address the view leaves out is one no rule of those policies could
// single out.
//
// The views are kept up to date incrementally, as Felix's calculation graph
// keeps its own: per policy, the endpoints it applies to and how many of them
// each node holds; per rule side, the endpoints and network sets it picks;
// per port name, the endpoints that have it and the policies that name it.
// A change is judged only against what it can reach (an endpoint against the
// policies and rule sides that can select in its namespace; a policy against
// the endpoints of the namespaces it can select in), and only the nodes whose
// inputs it touched get their view rebuilt and compared. The plain full
// recompute these views must equal, key for key and byte for byte, is
// tests/cluster/policy_view_reference.h.
//
// Values are the bytes an agent receives (records.h; policies as manifests),
// under keys:
//   policy/<kind>/<namespace>/<name>   the manifest (NetworkPolicy, Calico policies, Tier)
//   ep/<namespace>/<name>              an endpoint
//   ns/<name>                          a namespace's labels
//   sa/<namespace>/<name>              a service account's labels
//   netset/<namespace>/<name>          a network set (namespace empty: global)
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/model/objects.h"
#include "core/policy/classifier.h"
#include "core/policy/inventory.h"
#include "core/policy/policy_set.h"

namespace edgebed::cluster {

class PolicyViews {
 public:
  using View = std::map<std::string, Bytes>;

  PolicyViews();
  ~PolicyViews();
  PolicyViews(const PolicyViews&) = delete;
  PolicyViews& operator=(const PolicyViews&) = delete;

  // A NetworkPolicy, Calico (Global)NetworkPolicy or Tier, with its manifest.
  // Refused (and nothing changes) if it does not compile or names a tier no
  // Tier defines; judged by what the change can break (its compilation, its
  // tier; for a Tier, the policies in it), not by rebuilding every policy.
  // Two keys holding the same policy (or Tier) leave the greater key's in force.
  Status UpsertPolicy(const std::string& key, const model::Object& object, const std::string& manifest);
  // REQUIRES: CheckRemove(key) is ok.
  void RemovePolicy(const std::string& key);
  // Whether removing it would leave policies naming a missing tier.
  Status CheckRemove(const std::string& key) const;

  void UpsertNamespace(const std::string& name, const model::Labels& labels);
  void UpsertServiceAccount(const std::string& ns, const std::string& name, const model::Labels& labels);
  void UpsertNetworkSet(const policy::NetworkSet& network);
  void RemoveNetworkSet(const std::string& ns, const std::string& name);
  // An endpoint (a pod with an address) and the node it runs on. Of two
  // endpoints holding the same address, the one of the lesser key counts and
  // the other is left out of every view until the address is its alone.
  void UpsertEndpoint(const policy::Endpoint& endpoint, const std::string& node);
  void RemoveEndpoint(const std::string& key);

  // Brings the views up to date with every change since the last call.
  // Returns the nodes whose view differs from before, sorted. Costs in
  // proportion to what the changes reach: the views of the nodes they touch.
  std::vector<std::string> Compute();
  // A node's view as of the last Compute (empty for a node with no endpoints).
  const View& ViewOf(const std::string& node) const;

 private:
  class Graph;  // the calculation graph and the views (policy_view.cc)
  std::unique_ptr<Graph> graph_;
};

// What an agent builds from a view: the policies, the endpoints and the
// classifier over them. Moved, never copied (the classifier points into it).
struct CompiledView {
  policy::PolicySet set;
  std::vector<policy::PolicySet::OrderedTier> tiers;
  policy::Inventory inventory;
  std::unique_ptr<policy::Classifier> classifier;
};
// The policy manifests of a view, parsed, kept between compilations so that
// a change re-reads only the manifests that changed.
class ManifestCache {
 public:
  // The objects of `value` (a manifest stored under `key`), parsed once per value.
  StatusOr<const std::vector<model::Object>*> Parse(const std::string& key, const Bytes& value);
  // Forgets what `view` no longer holds.
  void Retain(const PolicyViews::View& view);

 private:
  std::map<std::string, std::pair<Bytes, std::vector<model::Object>>> entries_;
};

// Compiles a node's view (as PolicyViews makes it). Errors name the key whose
// value is malformed or the policy that does not compile.
StatusOr<std::unique_ptr<CompiledView>> CompileView(const PolicyViews::View& view, ManifestCache* cache = nullptr);

}  // namespace edgebed::cluster
