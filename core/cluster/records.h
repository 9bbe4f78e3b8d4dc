// The records the cluster keeps and sends besides manifests: what a node's
// view holds for its agent (pod assignments, endpoints, labels), what an
// agent reports (pod status), and the status the server keeps of nodes and
// pods. Each is a versioned binary record (core/wire/codec.h); every decoder
// is bounds-checked and returns an error for anything malformed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/env/env.h"
#include "core/model/objects.h"
#include "core/policy/inventory.h"
#include "core/policy/services.h"

namespace edgebed::cluster {

// A node's view holds, by key prefix: pod assignments ("pod/"), cloud
// backup requests ("backup/"), services ("svc/"), where the other nodes are
// ("peer/"), and under every other key the policy state of policy_view.h.
inline bool IsPolicyViewKey(const std::string& key) {
  return key.rfind("pod/", 0) != 0 && key.rfind("backup/", 0) != 0 && key.rfind("svc/", 0) != 0 &&
         key.rfind("peer/", 0) != 0;
}

// Where a node's agent is reached and which pod addresses live behind it
// (view key "peer/<node>"), for real nodes: an agent that registers with the
// annotations kInternalIpAnnotation and kAgentPortAnnotation (as K3s's
// k3s.io/internal-ip) is put into every node's view, so agents can dial each
// other for replication and route to each other's pods. Simulated nodes
// carry neither, and their views no peer.
inline constexpr const char* kInternalIpAnnotation = "edgebed.io/internal-ip";
inline constexpr const char* kAgentPortAnnotation = "edgebed.io/agent-port";
struct PeerRecord {
  std::string node;
  NodeId id = kNoNode;
  std::string address;  // IPv4, as the annotation gave it
  uint16_t port = 0;
  std::string pod_cidr;
};
Bytes Encode(const PeerRecord& p);
Status Decode(ByteView b, PeerRecord* p);

// A volume a pod mounts, as the node's agent needs it to reach the data.
struct VolumeMount {
  std::string claim;   // the claim's name in the pod's namespace
  std::string volume;  // the storage engine's volume name: "namespace/claim"
  uint32_t block_size = 4096;
  uint32_t blocks = 0;
  std::vector<NodeId> replicas;  // the nodes holding it, primary-preferred first
  bool sharedv4 = false;
  bool read_only = false;
};

// A pod bound to a node: its manifest (spec.nodeName and status.podIP set)
// and its volumes.
struct PodAssignment {
  std::string manifest;
  std::vector<VolumeMount> volumes;
};
Bytes Encode(const PodAssignment& a);
Status Decode(ByteView b, PodAssignment* a);

Bytes EncodeLabels(const model::Labels& labels);
Status DecodeLabels(ByteView b, model::Labels* labels);

Bytes Encode(const policy::Endpoint& e);
Status Decode(ByteView b, policy::Endpoint* e);

Bytes Encode(const policy::NetworkSet& n);
Status Decode(ByteView b, policy::NetworkSet* n);

// A Service as every node's proxy needs it (view key "svc/<ns>/<name>").
Bytes Encode(const policy::ServiceEntry& e);
Status Decode(ByteView b, policy::ServiceEntry* e);

// What an agent says of a pod it runs.
enum class PodPhase : uint8_t { kPending = 0, kRunning = 1, kSucceeded = 2, kFailed = 3 };
const char* PodPhaseName(PodPhase phase);  // "Pending", ...
struct PodReport {
  PodPhase phase = PodPhase::kPending;
  std::string reason;    // e.g. "ContainerCreating", "Completed", "Error"
  uint32_t restarts = 0;
  // Why it failed or crash-loops: the code its container last exited with
  // (reasons Error and CrashLoopBackOff); 0 otherwise.
  int32_t exit_code = 0;
};
Bytes Encode(const PodReport& r);
Status Decode(ByteView b, PodReport* r);

// A cloud backup the server asks of the agent that holds a volume's primary
// (view key "backup/<volume>"): a cloudsnap of one ready snapshot into the
// object store. Only the newest is asked for: a newer snapshot replaces the
// request, and the agent backs up whatever the view asks once the backup in
// flight is done.
struct BackupRequest {
  std::string volume, snapshot;
  int64_t snapshot_ready_ns = 0;  // the controller's clock
  NodeId object_store = kNoNode;
  std::string bucket;
  uint32_t full_every = 7;        // a full backup at least every this many
};
Bytes Encode(const BackupRequest& r);
Status Decode(ByteView b, BackupRequest* r);

// What the agent says of the last backup it finished or gave up (report key
// "backup/<volume>").
struct BackupReport {
  std::string snapshot;
  int64_t snapshot_ready_ns = 0;  // as the request said
  bool ok = false;
  std::string error;       // when not ok
  uint64_t seq = 0;        // the backup's number in the object store
  bool full = false;
  uint64_t blocks = 0;     // blocks it carried
  uint64_t bytes = 0;
  int64_t started_ns = 0, finished_ns = 0;  // the agent's clock
};
Bytes Encode(const BackupReport& r);
Status Decode(ByteView b, BackupReport* r);

// The status the Job controller keeps of a Job ("s/Job/<namespace>/<name>"),
// so that a restarted server goes on counting where it stopped: each
// terminated pod is counted once, by name, in the same commit as the counts.
struct JobStatusRecord {
  std::string uid;                 // the controller-uid its pods are labelled with
  int64_t start_ns = -1;           // when it first ran (server clock); -1: not yet (or suspended)
  int64_t finish_ns = -1;          // when it completed or failed
  int32_t succeeded = 0, failed = 0;
  std::string condition;           // "", "Complete" or "Failed"
  std::string reason, message;     // of the condition: BackoffLimitExceeded, DeadlineExceeded
  std::vector<std::string> counted;          // pods whose termination is counted
  std::vector<int32_t> completed_indexes;    // Indexed mode, ascending
  int32_t failures_since_success = 0;        // the pod back-off grows with these
  int64_t last_failure_ns = -1;
};
Bytes Encode(const JobStatusRecord& s);
Status Decode(ByteView b, JobStatusRecord* s);

// The status the CronJob controller keeps ("s/CronJob/<namespace>/<name>"),
// on the wall clock (seconds since 1970, UTC).
struct CronJobStatusRecord {
  int64_t created_unix = 0;        // when the controller first saw it: no run is due before
  int64_t last_schedule_unix = -1; // the newest scheduled time a Job was made for
  int64_t last_successful_unix = -1;  // when a Job of it last completed
};
Bytes Encode(const CronJobStatusRecord& s);
Status Decode(ByteView b, CronJobStatusRecord* s);

// The server's status of a node, kept in its datastore beside the Node.
struct NodeStatus {
  std::string pod_cidr;
  bool ready = false;
  bool unreachable_taint = false;  // node.kubernetes.io/unreachable:NoExecute is on it
};
Bytes Encode(const NodeStatus& s);
Status Decode(ByteView b, NodeStatus* s);

// Where a claim's volume was placed: (node, pool) per replica, in placement
// order. Kept so that a restarted server finds volumes where they are.
struct VolumePlacementRecord {
  std::vector<std::pair<std::string, std::string>> replicas;
};
Bytes Encode(const VolumePlacementRecord& v);
Status Decode(ByteView b, VolumePlacementRecord* v);

}  // namespace edgebed::cluster
