// Sharedv4: one volume mounted by many pods on many nodes at once.
//
// Portworx serves a sharedv4 volume over NFS from the node that holds its
// primary; when that node fails, the volume fails over (core/storage/
// replication.h) and the clients carry on against the new one. Here a
// SharedVolumeServer beside every StorageNode answers block reads and writes
// of the volumes it serves and points clients elsewhere for the others; a
// SharedVolumeClient on any node (the pod's) follows the pointers, retries
// through a failover, and keeps one client's writes to a block in order.
//
//   SharedVolumeServer server(env, storage_node);            // every storage node
//   SharedVolumeClient client(env, /*servers=*/{1, 2, 3});   // any node: the replicas
//   client.Write("floor-1/models", 7, bytes, [](Status s) { ... });
//
// What a client sees is what the primary's Read and Write promise; a server
// that stops serving mid-way (kUnavailable) is asked again until the
// deadline; a write answered with an error, or not at all by the deadline,
// may or may not have been applied (as over NFS). A write retried across a failover may be
// applied twice, harmlessly: the client sends its next write to that block
// only after the answer to this one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/env/env.h"
#include "core/storage/replication.h"

namespace edgebed::storage {

inline constexpr Port kSharedPort = 7406;        // SharedVolumeServer
inline constexpr Port kSharedClientPort = 7407;  // SharedVolumeClient

class SharedVolumeServer {
 public:
  SharedVolumeServer(Env& env, StorageNode& node);
  ~SharedVolumeServer();
  SharedVolumeServer(const SharedVolumeServer&) = delete;
  SharedVolumeServer& operator=(const SharedVolumeServer&) = delete;

  struct Stats {
    uint64_t served = 0, redirected = 0, bad_messages = 0;
  };
  const Stats& stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

struct SharedVolumeClientOptions {
  Duration timeout = std::chrono::milliseconds(300);  // then the next server is tried
  Duration deadline = std::chrono::seconds(15);       // then the operation fails, kUnavailable
};

class SharedVolumeClient {
 public:
  // `servers`: nodes with a SharedVolumeServer, the volume's replicas first.
  SharedVolumeClient(Env& env, std::vector<NodeId> servers, SharedVolumeClientOptions options = {});
  ~SharedVolumeClient();  // pending operations are dropped without their callbacks
  SharedVolumeClient(const SharedVolumeClient&) = delete;
  SharedVolumeClient& operator=(const SharedVolumeClient&) = delete;

  // More servers to ask (the replicas of volumes mounted since), after those known.
  void AddServers(const std::vector<NodeId>& servers);
  void Read(const std::string& volume, uint32_t block, StorageNode::ReadDone done);
  void Write(const std::string& volume, uint32_t block, Bytes data, StorageNode::WriteDone done);

  struct Stats {
    uint64_t retries = 0, redirects = 0;
  };
  const Stats& stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgebed::storage
