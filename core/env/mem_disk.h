// MemDisk: an in-memory Disk with a crash model, for the test loop and ns-3.
//
// Reads see every completed write at once; a write becomes durable when a
// Sync of its file completes. Crash() throws away every write that was not
// made durable (and files whose creation was not), which is what a storage
// engine's crash-consistency tests need: a write acknowledged before its sync
// is exactly the write a crash takes away.
//
// Completions are delivered through a Defer function the owner provides, so
// the disk takes simulated time: op_latency plus size / bytes_per_second.
// Failures are not injected here but by FaultEnv (core/env/fault_env.h),
// which works over every Env's disk alike.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/env/env.h"

namespace edgebed {

struct DiskTiming {
  Duration op_latency = std::chrono::microseconds(50);
  Duration sync_latency = std::chrono::microseconds(500);
  double bytes_per_second = 1e9;
};

class MemDisk final : public Disk {
 public:
  // Runs `fn` after `delay` on the owning node's thread.
  using Defer = std::function<void(Duration delay, std::function<void()> fn)>;

  explicit MemDisk(Defer defer, DiskTiming timing = {});

  void Write(const std::string& file, uint64_t offset, Bytes data, Done done) override;
  void Read(const std::string& file, uint64_t offset, uint64_t length, ReadDone done) override;
  void Sync(const std::string& file, Done done) override;
  void Size(const std::string& file, SizeDone done) override;
  void Remove(const std::string& file, Done done) override;

  // Forgets every write not yet made durable, as a power loss would.
  void Crash();

  // Bytes held, durable or not: for tests and memory accounting.
  uint64_t bytes_stored() const;

 private:
  struct Undo {  // what a write overwrote, to put back on a crash
    uint64_t offset;
    Bytes old_bytes;
    uint64_t old_size;
  };
  struct File {
    Bytes data;
    bool durable_exists = false;  // survives a crash even if empty
    std::vector<Undo> undo;       // writes since the last completed Sync
  };

  Duration CostOf(uint64_t bytes) const;

  Defer defer_;
  DiskTiming timing_;
  std::map<std::string, File> files_;
};

}  // namespace edgebed
