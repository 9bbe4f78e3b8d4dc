// Provisioner: turns PersistentVolumeClaims of Portworx storage classes into
// replicated volumes placed on the nodes' storage pools, and tells the
// scheduler where a pod's volumes can be used and where their data lives.
//
//   Provisioner px;
//   px.UpsertNode(node);                 // pools from its storage.edgebed.io/pools annotation
//   px.UpsertStorageClass(sc);
//   StatusOr<const Volume*> v = px.UpsertClaim(pvc);   // Immediate: placed now
//   sched::Scheduler s(config, &px, random);             // the scheduler asks px
//   px.BindFirstConsumer(pod, node);     // WaitForFirstConsumer: placed beside the pod
//
// What a node offers is declared on it, as Portworx discovers it from the
// node's disks: the annotation
//   storage.edgebed.io/pools: "ssd=500Gi/high, hdd=2Ti/low"
// names each pool, its size and its io priority (high, medium, low). A node
// without it runs no storage driver.
//
// Placement follows Portworx: `repl` replicas (1..3) on distinct nodes, in
// pools of the class's priority_io, each with the claim's size free
// (capacity is accounted per pool as provisioned size: a volume reserves its
// whole size); replicas spread across failure domains taken from the node
// labels — buildings (edgebed.io/building, else topology.kubernetes.io/zone),
// then floors (edgebed.io/floor) — where possible, then onto the pool with the
// most room left; ties by node name, so placement is deterministic. A claim
// that cannot be placed gets a reason that says what was missing and where.
//
// For the scheduler (sched::VolumePlacement): a pod's volumes can be used on
// a node that runs the storage driver; a ReadWriteOnce volume already
// attached to another node's pod cannot be attached again elsewhere, unless
// it is sharedv4 (served over NFS by one node, so mountable anywhere). A
// WaitForFirstConsumer claim not yet placed can be used where a replica
// could start. Locality is the share of the pod's volumes with a replica on
// the node (what Stork's hyperconvergence prefers).
//
// Not thread-safe; one owner (the control plane) calls it. No I/O.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/model/objects.h"
#include "core/sched/volume_placement.h"

namespace edgebed::storage {

inline constexpr const char* kPoolsAnnotation = "storage.edgebed.io/pools";
inline constexpr const char* kBuildingLabel = "edgebed.io/building";
inline constexpr const char* kFloorLabel = "edgebed.io/floor";

enum class IoPriority { kLow = 0, kMedium = 1, kHigh = 2 };
const char* ToString(IoPriority p);
bool ParseIoPriority(const std::string& text, IoPriority* out);

struct Pool {
  std::string name;
  uint64_t capacity = 0;     // bytes
  uint64_t provisioned = 0;  // bytes reserved by replicas
  IoPriority priority = IoPriority::kLow;
  uint64_t free() const { return capacity > provisioned ? capacity - provisioned : 0; }
};

// Parses a pools annotation ("ssd=500Gi/high, hdd=2Ti/low"). Errors say which
// entry is wrong and how to write it.
StatusOr<std::vector<Pool>> ParsePools(const std::string& text);

struct Replica {
  std::string node, pool;
  friend bool operator==(const Replica& a, const Replica& b) {
    return a.node == b.node && a.pool == b.pool;
  }
};

struct Volume {
  std::string name;           // namespace/claim
  std::string storage_class;
  uint64_t size = 0;          // bytes
  int repl = 1;
  bool sharedv4 = false;
  std::string io_profile;
  IoPriority priority = IoPriority::kLow;
  model::Labels labels;       // the claim's
  std::vector<Replica> replicas;     // placement order: the first is preferred for attachment
  std::set<std::string> attached;    // nodes with a pod using it
};

class Provisioner final : public sched::VolumePlacement {
 public:
  // A node and its pools. Pools that shrink below what is provisioned on
  // them keep their replicas (the volume does not move) and accept no more.
  // Errors: a malformed pools annotation (the node is then taken as having
  // none), naming the node's manifest position.
  Status UpsertNode(const model::Node& node);
  // Forgets a node; its replicas are reported by LostReplicas() until the
  // repair path replaces them.
  void RemoveNode(const std::string& name);

  void UpsertStorageClass(const model::StorageClass& sc);

  // Feeds the Nodes, StorageClasses and PersistentVolumeClaims of some
  // manifests, in that order, then attaches the volumes of pods already
  // bound (spec.nodeName). A claim that cannot be placed yet is not an error
  // (it waits, and the scheduler says so); a claim that can never be (no such
  // class, a bad parameter) is, as is a malformed pools annotation.
  Status AddObjects(const std::vector<model::Object>& objects);

  // Records a claim. One of an Immediate class is placed at once (or
  // returns why it cannot be, and stays pending; retried by Retry()); one of
  // a WaitForFirstConsumer class waits for BindFirstConsumer. Errors:
  // kNotFound (no such class), kInvalidArgument (not a Portworx class, no
  // size, a parameter combination Portworx refuses), kFailedPrecondition
  // (cannot be placed now: the reason).
  StatusOr<const Volume*> UpsertClaim(const model::PersistentVolumeClaim& claim);
  // Records a claim whose volume was placed before (by an earlier life of
  // the control plane) on `replicas`, taking their pools' space again.
  // Errors: kNotFound (no such class), kInvalidArgument as UpsertClaim.
  Status Adopt(const model::PersistentVolumeClaim& claim, const std::vector<Replica>& replicas);
  // Deletes a claim's volume, giving back its pools' space.
  Status DeleteClaim(const std::string& ns, const std::string& name);

  // The pod `pod` was bound to `node`: places its WaitForFirstConsumer
  // claims with the first replica there where possible, and attaches every
  // volume it mounts. Errors name the claim that could not be placed.
  Status BindFirstConsumer(const model::Pod& pod, const std::string& node);
  // The pod is gone from `node`: detaches its volumes there.
  void ReleaseConsumer(const model::Pod& pod, const std::string& node);

  const Volume* Find(const std::string& ns, const std::string& claim) const;
  const std::map<std::string, Volume>& volumes() const { return volumes_; }
  std::vector<Pool> PoolsOf(const std::string& node) const;
  // Replicas on nodes that are gone: (volume, replica).
  std::vector<std::pair<std::string, Replica>> LostReplicas() const;

  // sched::VolumePlacement.
  std::string CannotPlace(const model::Pod& pod, const model::Node& node) const override;
  int Locality(const model::Pod& pod, const model::Node& node) const override;

 private:
  struct NodeInfo {
    model::Labels labels;
    std::vector<Pool> pools;
  };
  struct Request {
    std::string name;  // namespace/claim
    uint64_t size = 0;
    int repl = 1;
    IoPriority priority = IoPriority::kLow;
  };

  // Chooses replicas; `first` (may be empty) is where the first must go.
  StatusOr<std::vector<Replica>> Place(const Request& request, const std::string& first) const;
  StatusOr<Request> RequestFor(const model::PersistentVolumeClaim& claim,
                               const model::StorageClass** sc) const;
  StatusOr<const Volume*> Create(const model::PersistentVolumeClaim& claim, const std::string& first);
  // Records the claim's volume on `replicas`, taking their pools' space.
  const Volume* Record(const model::PersistentVolumeClaim& claim, const Request& request,
                       const model::StorageClass& sc, std::vector<Replica> replicas);
  Pool* FindPool(const Replica& r);
  // Whether `repl` distinct nodes could each hold a replica now: what Place
  // needs before it chooses. Remembered until the next change of nodes or
  // volumes, since the scheduler asks once per pod and node.
  bool Placeable(const Request& request) const;

  std::map<std::string, NodeInfo> nodes_;
  uint64_t generation_ = 0;  // bumped by every change Placeable depends on
  mutable std::map<std::tuple<IoPriority, uint64_t, int>, std::pair<uint64_t, bool>> placeable_;
  std::map<std::string, model::StorageClass> classes_;
  std::map<std::string, model::PersistentVolumeClaim> claims_;  // by namespace/name
  std::map<std::string, Volume> volumes_;                          // by namespace/name
};

}  // namespace edgebed::storage
