// libFuzzer target for the storage engine's wire: any bytes, to any of its
// ports (replication, controller, object store, DR, sharedv4), from any node,
// in any order — never a crash, a hang or a leak, and the engine still runs
// a write afterwards. (The network is trusted: forged messages may well
// change what the volume holds, so what it returns is not checked here; the
// torture test checks that against faults the network really has.) Build
// and run with ./build.sh fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "core/env/test_loop.h"
#include "core/storage/dr.h"
#include "core/storage/object_store.h"
#include "core/storage/replication.h"
#include "core/storage/sharedv4.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace edgebed;
  using namespace edgebed::storage;
  using std::chrono::milliseconds;
  static const Port kPorts[] = {kReplicaPort, kControllerPort,  kObjectStorePort,     kObjectStoreClientPort,
                                kDrPort,      kDrSenderPort,    kSharedPort,          kSharedClientPort};
  TestLoop loop(1);
  for (int i = 0; i < 5; ++i) loop.AddNode();
  ReplicationOptions o;
  VolumeController controller(loop.env(0), o);
  std::unique_ptr<StorageNode> nodes[4];
  std::unique_ptr<SharedVolumeServer> shared[4];
  for (NodeId n = 1; n <= 3; ++n) {
    nodes[n] = std::make_unique<StorageNode>(loop.env(n), 0, o);
    shared[n] = std::make_unique<SharedVolumeServer>(loop.env(n), *nodes[n]);
  }
  DrReceiver dr(loop.env(3), *nodes[3]);
  ObjectStoreServer cloud(loop.env(4));
  if (!controller.CreateVolume({"v", 64, 8}, {1, 2, 3}).ok()) std::abort();
  loop.RunFor(milliseconds(50));

  // Records: sender, target, port, length (2 bytes), payload.
  size_t at = 0;
  while (at + 5 <= size) {
    const NodeId from = data[at] % 5, to = data[at + 1] % 5;
    const Port port = kPorts[data[at + 2] % 8];
    const size_t len = std::min<size_t>(size - at - 5, data[at + 3] | (size_t{data[at + 4]} << 8));
    loop.env(from).Send(to, port, Bytes(data + at + 5, data + at + 5 + len));
    at += 5 + len;
    loop.RunFor(milliseconds(1));
  }
  loop.RunFor(milliseconds(3000));

  // The engine still runs: a write and a read go through whatever state it is in.
  const NodeId p = controller.Find("v")->primary;
  if (p < 1 || p > 3) std::abort();
  nodes[p]->Write("v", 1, Bytes(64, 7), [](Status) {});
  nodes[p]->Read("v", 1, [](StatusOr<Bytes>) {});
  loop.RunFor(milliseconds(2000));
  return 0;
}
