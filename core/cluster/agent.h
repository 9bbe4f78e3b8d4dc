// Agent: what runs on every node of the cluster, as a K3s agent (kubelet,
// the Calico node agent and the Portworx node in one).
//
//   ModelRuntime runtime(env);
//   Agent agent(env, {.token = "s3cret", .server = 0, .node = node}, runtime);
//   agent.Start();
//
// It joins the server with the cluster token (protocol.h: the server proves
// it holds the secret before the agent shows that it does), renews its lease
// every lease_renew, and mirrors the node's view the server sends (sync.h):
// - pods bound here are started and stopped through the WorkloadRuntime, and
//   their status goes back to the server;
// - the policy part of the view is compiled into the node's dataplane
//   (core/policy), whose connection table survives every reprogramming;
// - the services of the view (every Service with its Ready endpoints) are the
//   node's proxy table (core/policy/services.h), which the node's packet path
//   translates connections to a ClusterIP or a node port through;
// - the node hosts its volume replicas (a storage::StorageNode and a sharedv4
//   server beside it) and gives its pods block I/O on the volumes they mount,
//   wherever the primary is.
// When the server cannot be reached, everything keeps running as it is: pods,
// the dataplane, volume I/O (creating, attaching and deleting wait for the
// server, as Portworx's run-flat mode). The agent keeps renewing and joins
// again when the server says it does not know the session (it restarted).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/cluster/runtime.h"
#include "core/env/env.h"
#include "core/model/objects.h"
#include "core/policy/dataplane.h"
#include "core/policy/services.h"
#include "core/storage/object_store.h"
#include "core/storage/replication.h"

namespace edgebed::cluster {

// What a real node's daemon acts on besides pods: the host's routes and
// peers, its nftables. Called on the node's thread after the view changed.
class AgentObserver {
 public:
  virtual ~AgentObserver() = default;
  // The first complete view has been applied: every pod bound here has been
  // started, so what the runtime holds besides is left over from before.
  virtual void ViewComplete() {}
  // Every peer of the view ("peer/" records), sorted by node name.
  virtual void PeersChanged(const std::vector<PeerRecord>& peers) { (void)peers; }
  virtual void ServicesChanged(const policy::ServiceTable& services) { (void)services; }
  // The dataplane was programmed for `local` endpoints ("ns/pod"), or
  // emptied (null classifier) when no pod runs here.
  virtual void PolicyChanged(const policy::Classifier* classifier, const policy::Inventory* inventory,
                             const std::vector<std::string>& local) {
    (void)classifier, (void)inventory, (void)local;
  }
};

struct AgentOptions {
  std::string token;
  NodeId server = kNoNode;
  model::Node node;  // what it registers: name, labels, capacity, taints, pools annotation
  Duration lease_renew = std::chrono::seconds(10);
  Duration join_retry = std::chrono::seconds(2);
  Duration max_join_retry = std::chrono::seconds(30);
  Duration resend = std::chrono::seconds(1);
  // No answer to renewals for this long: the server is unreachable.
  Duration server_timeout = std::chrono::seconds(40);
  storage::ReplicationOptions replication;
  policy::ConntrackOptions conntrack;
  AgentObserver* observer = nullptr;  // must outlive the agent
  // How cloudsnaps reach the object store: the client has no congestion
  // control, so small chunks and few in flight keep a backup from overrunning
  // the queue of a thin WAN link (and losing whole megabyte chunks to it).
  storage::ObjectStoreClientOptions cloud_client = [] {
    storage::ObjectStoreClientOptions o;
    o.chunk_size = 64u << 10;
    o.window = 4;
    return o;
  }();
};

struct AgentStats {
  uint64_t joins = 0, refusals = 0;
  uint64_t bad_messages = 0, unauthenticated = 0, stale_messages = 0;
  uint64_t view_changes = 0;     // keys of the view that changed
  uint64_t policy_programs = 0;  // times the dataplane was (re)programmed
  uint64_t pods_started = 0, pods_stopped = 0;
};

class Agent final : public VolumeAccess {
 public:
  // `runtime` must outlive the agent.
  Agent(Env& env, AgentOptions options, WorkloadRuntime& runtime);
  ~Agent() override;
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts joining. Errors: a malformed token.
  Status Start();

  bool joined() const;
  bool server_reachable() const;
  const std::string& pod_cidr() const;
  // Pods bound here, by "namespace/name".
  std::vector<std::string> pods() const;
  // The node's dataplane; null until the view gave it endpoints and policy.
  policy::Dataplane* dataplane();
  // The services the node's proxy translates and its name lookups answer,
  // as the view last gave them.
  const policy::ServiceTable& services() const;
  // Keys of the view as last received (for tests: what reached this node).
  std::vector<std::string> view_keys() const;
  const AgentStats& stats() const;
  storage::StorageNode& storage();

  // VolumeAccess: for the node's pods.
  void Write(const std::string& volume, uint32_t block, Bytes data, WriteDone done) override;
  void Read(const std::string& volume, uint32_t block, ReadDone done) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgebed::cluster
