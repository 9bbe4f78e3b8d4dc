// Server: the cluster's control plane, as a K3s server is — the datastore,
// the API, the controllers, the scheduler and the storage control plane —
// talking to node agents (agent.h) over Env.
//
//   Server server(env, {.token = "s3cret"});
//   server.Start([](Status s) { ... });                 // recovers its datastore
//   server.Apply(yaml, "site.yaml", [](ApplyResult r) { ... });
//
// State. Everything desired and observed lives in the datastore (SQLite
// behind datastore.h; a file on a real node, memory in simulation) under
//   o/<Kind>/<namespace>/<name>   the manifest of an object (YAML), as applied
//                                 or as a controller made it (pods)
//   s/Pod/<namespace>/<name>     a pod's reported status
//   s/Node/<name>                a node's status (pod CIDR, readiness, taint)
// and every resource version is the datastore's revision. What the server
// holds in memory (the scheduler's cache, the provisioner, the per-node
// views) is rebuilt from there on Start, so a restarted server has lost
// nothing that was acknowledged. Nothing leaves the server — an API answer, a
// watch event, a message to an agent — before the changes it reflects are
// durable.
//
// Controllers, each level-triggered and idempotent, run after every change:
// - Deployments: pods named <deployment>-<template hash>-<n>, labelled with
//   pod-template-hash as upstream; a changed template rolls pods over within
//   maxSurge / maxUnavailable (or all at once for Recreate).
// - DaemonSets: a pod on every registered node the template fits (node
//   selector, required affinity, taints tolerated), pinned there by required
//   node affinity on the node's name and given the tolerations upstream's
//   controller adds (so it stays on a lost node); it goes when its node does
//   or stops fitting. A changed template rolls node by node within
//   maxUnavailable / maxSurge, or waits for deletions (OnDelete).
// - StatefulSets: pods NAME-<ordinal> with claims made from the templates
//   (TEMPLATE-NAME-<ordinal>) before the pods and kept after them, so a pod
//   made again mounts the same volumes; OrderedReady one at a time in order
//   (the highest goes first), Parallel at once; RollingUpdate from the
//   highest ordinal down to the partition within maxUnavailable, or
//   OnDelete. A pod evicted from a lost node is made again elsewhere at
//   once (upstream would wait for the node to confirm it gone); the storage
//   engine's fencing keeps the old node from writing the volume meanwhile.
// - Services: a ClusterIP from service_cidr and node ports from
//   node_port_min..max are allocated at admission (kept from the service as
//   it stands; one asked for is refused in upstream's words when taken or
//   out of range, and a changed clusterIP as immutable). Every node's view
//   holds every service with its endpoints ("svc/<ns>/<name>",
//   core/policy/services.h): the Ready pods its selector picks, a pod being
//   Ready while it runs on a Ready node, each with the targetPort resolved
//   for it. A pod's change reaches the views of all nodes, as every
//   kube-proxy watches every EndpointSlice.
// - Jobs: pods named <job>-<5 random characters> (<job>-<index>-<5> when
//   Indexed), labelled job-name, batch.kubernetes.io/job-name and the Job's
//   controller-uid as upstream's; at most `parallelism` active and no more
//   than the completions still wanted. A Succeeded pod counts toward
//   completions, a Failed one (restartPolicy Never) toward backoffLimit and
//   is replaced after upstream's back-off (10 s, doubling with each failure
//   since the last success, at most 6 min); an active pod lost with its
//   node or deleted counts as failed too, as upstream's tracking with
//   finalizers counts it. Under OnFailure the node restarts the container
//   in place (runtime.h) and the restarts of the active pods count instead:
//   the Job fails once they reach backoffLimit (any restart when it is 0).
//   More failures than backoffLimit: Failed, BackoffLimitExceeded; longer
//   active than activeDeadlineSeconds: Failed, DeadlineExceeded; either
//   way, and on completion, its active pods are removed (finished pods stay
//   until the Job goes; ttlSecondsAfterFinished deletes it). The counts,
//   the pods already counted and the conditions are kept under
//   s/Job/<namespace>/<name>, so a restarted server counts nothing twice.
// - CronJobs: the schedule is read on the wall clock ServerOptions::wall_epoch
//   plus the Env's time (UTC), as the snapshot schedules read it. At each
//   scheduled time a Job <cronjob>-<scheduled unix minutes> is made from the
//   jobTemplate. Of the times missed since the last one (or since the
//   CronJob was first seen, or startingDeadlineSeconds ago if later), only
//   the newest runs; more than 100 missed records an event and still runs
//   it, as upstream's controller does; one past its startingDeadlineSeconds
//   is skipped. Forbid skips a run while a Job is active (the missed time
//   runs when it finishes, within the deadline); Replace deletes the active
//   Jobs first; suspend makes none. Finished Jobs past
//   successfulJobsHistoryLimit / failedJobsHistoryLimit go with their pods.
//   The last scheduled time is kept under s/CronJob/<namespace>/<name>.
// - Pods that terminate (Succeeded, Failed) leave the scheduler's cache, their
//   node's view and the policy world, and give back their address: as
//   upstream, a finished pod no longer counts toward its node's requests.
// - Scheduling: pending pods go through core/sched; the binding (spec.nodeName
//   and an address from the node's pod CIDR) goes into the pod's manifest and
//   so into the node's view.
// - Node lifecycle: an agent renews its lease every lease_renew; a node not
//   heard from for node_monitor_grace becomes NotReady and gets the
//   node.kubernetes.io/unreachable:NoExecute taint; each pod on it is evicted
//   when its toleration of that taint runs out (every pod tolerates it for
//   default_toleration_seconds unless it says otherwise, as upstream's
//   DefaultTolerationSeconds admission adds), and its owner replaces it.
// - Volumes: claims of Portworx classes are placed by the provisioner and
//   created in the storage control plane (the VolumeController runs here);
//   WaitForFirstConsumer claims are placed where their first pod lands. The
//   storage engine fails a volume over when its primary stops renewing.
// - Snapshot schedules: every volume of a class that names Stork schedules
//   (snapshotschedule.stork.libopenstorage.org/<name>, following a
//   SchedulePolicy) or Portworx's snap_schedule gets its snapshots taken and
//   retained by the storage engine's scheduler. A snapshot of a cloud
//   schedule (portworx/snapshot-type: cloud) is then backed up to the object
//   store by the agent holding the volume's primary (a cloudsnap; "backup/"
//   keys in its view and its reports), wherever the primary moves.
// - Policy: each node's view carries exactly the policy state its endpoints
//   need (policy_view.h); a change reaches only the nodes whose view it changes.
//
// Agents join with the cluster token (protocol.h); the server keeps one
// session per node and sends it its view (sync.h), taking back pod status.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/cluster/datastore.h"
#include "core/cluster/store.h"
#include "core/env/env.h"
#include "core/model/loader.h"
#include "core/sched/config.h"
#include "core/storage/replication.h"
#include "core/storage/schedule.h"

namespace edgebed::cluster {

struct ServerOptions {
  std::string token;  // the cluster secret, or a K10 token holding it
  std::string cluster_cidr = "10.42.0.0/16";  // K3s's default
  int node_cidr_prefix = 24;                  // each node's share of it
  std::string service_cidr = "10.43.0.0/16";  // K3s's: where ClusterIPs come from
  int32_t node_port_min = 30000, node_port_max = 32767;
  Duration lease_renew = std::chrono::seconds(10);         // what agents are told... and use
  Duration node_monitor_period = std::chrono::seconds(5);
  Duration node_monitor_grace = std::chrono::seconds(40);
  int64_t default_toleration_seconds = 300;
  Duration resend = std::chrono::seconds(1);  // an unacknowledged view chunk goes again
  size_t max_chunk_bytes = 256u << 10;
  sched::Config scheduler = sched::DefaultConfig();
  storage::ReplicationOptions replication;
  DatastoreOptions datastore;
  uint32_t volume_block_size = 4096;
  // A volume's blocks in the storage data path are capped here: the engine
  // models a volume's first blocks, not terabytes of them.
  uint32_t max_volume_blocks = 1024;
  // Where cloudsnaps go: the node an ObjectStoreServer runs on (kNoNode:
  // none; cloud schedules then only take their snapshots, and say so).
  NodeId object_store = kNoNode;
  std::string cloudsnap_bucket = "edgebed-cloudsnaps";
  uint32_t cloudsnap_full_every = 7;  // Portworx's: six incrementals, then a full one
  // The wall clock (seconds since 1970, UTC) at the Env's time zero: what
  // CronJob schedules and snapshot schedules read their calendar from.
  int64_t wall_epoch = storage::UnixSeconds(2026, 1, 1);
};

// A Job as the API's status shows it.
struct JobInfo {
  std::string namespace_, name;
  std::string owner;  // "CronJob/<name>", or empty
  int32_t active = 0, ready = 0, succeeded = 0, failed = 0;
  uint32_t restarts = 0;           // of its active pods' containers (OnFailure)
  std::string condition;           // "", "Complete", "Failed", "Suspended"
  std::string reason, message;     // of the condition
  std::vector<int32_t> completed_indexes;  // Indexed
  int64_t start_ns = -1, completion_ns = -1, failed_ns = -1;  // server clock; -1: not (yet)
};

// A CronJob as the API's status shows it (times on the wall clock).
struct CronJobInfo {
  std::string namespace_, name;
  std::vector<std::string> active;     // its Jobs that have not finished
  int64_t last_schedule_unix = -1;
  int64_t last_successful_unix = -1;
  int64_t next_schedule_unix = -1;     // -1: none due (suspended, or a date that never comes)
};

// The cloud backups of one volume with a cloud schedule.
struct CloudBackupInfo {
  std::string volume;
  int64_t since_ns = 0;          // when its cloud schedule began (server clock)
  int64_t newest_ready_ns = -1;  // when the newest snapshot in the cloud was taken; -1: none yet
  std::string newest_snapshot;
  uint64_t backups = 0, failures = 0;  // since the server started
  bool in_flight = false;              // a backup is asked for and not reported yet
};

struct StoredObject {
  std::string kind, namespace_, name;
  Revision resource_version = 0;
  std::string manifest;  // YAML
};

struct ApplyResult {
  Status status;  // the first error, or OK when every object was applied
  std::vector<model::Diagnostic> errors, warnings;
  std::vector<std::string> applied;  // "Kind namespace/name created|configured|unchanged"
  Revision revision = 0;             // the datastore's revision once durable
};

struct WatchEvent {
  // The history the watch needed was compacted away before it was read: the
  // watch ends here (list again, then watch from the list's revision).
  bool expired = false;
  Revision revision = 0;
  std::string key;  // o/<Kind>/<namespace>/<name> or s/...
  bool deleted = false;
  std::string value;  // the manifest (or the status record) after the change
};

// The observed state of a pod, as the API shows it.
struct PodInfo {
  std::string namespace_, name, node, ip, phase, reason, owner;
  int32_t exit_code = 0;  // with reason Error or CrashLoopBackOff: what its container exited with
  model::Labels labels;
  Revision resource_version = 0;
};
struct NodeInfo {
  std::string name, pod_cidr;
  NodeId id = kNoNode;
  bool ready = false, joined = false, unreachable_taint = false;
};

struct ServerStats {
  uint64_t joins = 0, refused_joins = 0;
  uint64_t bad_messages = 0, unauthenticated = 0, stale_messages = 0;
  uint64_t view_chunks_sent = 0;
  uint64_t bindings = 0, evictions = 0, preemptions = 0;
  // Per node: how many times its view changed (to see which nodes a change reached).
  std::map<std::string, uint64_t> view_updates;
};

class Server {
 public:
  Server(Env& env, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Recovers the datastore and rebuilds the server's state from it, then
  // listens for agents. `done` says when it serves (or why it cannot).
  void Start(std::function<void(Status)> done);
  bool serving() const;

  // Applies every document of a manifest stream; a document with an error
  // is not applied and the others are (as kubectl apply). `done` once the
  // applied objects are durable.
  void Apply(const std::string& yaml, const std::string& source, std::function<void(ApplyResult)> done);
  // Deletes one object. kNotFound if there is none.
  void Delete(const std::string& kind, const std::string& ns, const std::string& name,
              std::function<void(Status)> done);
  // Kinds as manifests write them: "Pod", "Deployment", "NetworkPolicy",
  // "projectcalico.org/NetworkPolicy", "GlobalNetworkPolicy", ...
  std::optional<StoredObject> Get(const std::string& kind, const std::string& ns, const std::string& name) const;
  std::vector<StoredObject> List(const std::string& kind, const std::string& ns = {}) const;
  // Every durable change with revision > `from` whose key starts with
  // `prefix`, in revision order, as it becomes durable. kOutOfRange when the
  // history since `from` was compacted (list again, then watch).
  StatusOr<uint64_t> Watch(const std::string& prefix, Revision from, std::function<void(const WatchEvent&)> fn);
  void Unwatch(uint64_t id);
  Revision revision() const;  // the durable one

  std::vector<PodInfo> Pods() const;
  std::optional<PodInfo> FindPod(const std::string& ns, const std::string& name) const;
  std::vector<NodeInfo> Nodes() const;
  std::vector<JobInfo> Jobs() const;
  std::vector<CronJobInfo> CronJobs() const;
  const ServerStats& stats() const;
  // The storage control plane (for tests and tools that look at volumes).
  const storage::VolumeController& volumes() const;
  // Cloud backups by volume: the recovery point each has in the object store.
  std::vector<CloudBackupInfo> CloudBackups() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgebed::cluster
