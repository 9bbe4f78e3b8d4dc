#include "core/env/mem_disk.h"

#include <algorithm>

namespace edgebed {

MemDisk::MemDisk(Defer defer, DiskTiming timing) : defer_(std::move(defer)), timing_(timing) {}

Duration MemDisk::CostOf(uint64_t bytes) const {
  const double seconds =
      timing_.bytes_per_second > 0 ? static_cast<double>(bytes) / timing_.bytes_per_second : 0;
  return timing_.op_latency + Duration(static_cast<int64_t>(seconds * 1e9));
}

void MemDisk::Write(const std::string& file, uint64_t offset, Bytes data, Done done) {
  const uint64_t end = offset + data.size();
  if (end < offset || end > (uint64_t{1} << 40)) {
    defer_(timing_.op_latency, [done = std::move(done), file] {
      done(InvalidArgument("write past the 1 TiB bound of a simulated file", file));
    });
    return;
  }
  File& f = files_[file];
  Undo undo{offset, {}, f.data.size()};
  if (offset < f.data.size()) {
    const uint64_t overlap_end = std::min<uint64_t>(end, f.data.size());
    undo.old_bytes.assign(f.data.begin() + offset, f.data.begin() + overlap_end);
  }
  f.undo.push_back(std::move(undo));
  if (end > f.data.size()) f.data.resize(end, 0);
  std::copy(data.begin(), data.end(), f.data.begin() + offset);
  defer_(CostOf(data.size()), [done = std::move(done)] { done(Status::Ok()); });
}

void MemDisk::Read(const std::string& file, uint64_t offset, uint64_t length, ReadDone done) {
  auto it = files_.find(file);
  if (it == files_.end()) {
    defer_(timing_.op_latency,
           [done = std::move(done), file] { done(NotFound("no such file", file)); });
    return;
  }
  const Bytes& data = it->second.data;
  Bytes out;
  if (offset < data.size()) {
    const uint64_t n = std::min<uint64_t>(length, data.size() - offset);
    out.assign(data.begin() + offset, data.begin() + offset + n);
  }
  const Duration cost = CostOf(out.size());
  defer_(cost, [done = std::move(done), out = std::move(out)]() mutable {
    done(StatusOr<Bytes>(std::move(out)));
  });
}

void MemDisk::Sync(const std::string& file, Done done) {
  auto it = files_.find(file);
  if (it == files_.end()) {
    defer_(timing_.op_latency,
           [done = std::move(done), file] { done(NotFound("no such file", file)); });
    return;
  }
  // Durability is granted at issue time: writes issued after the Sync became
  // durable too, which a real disk may also do and the contract allows.
  it->second.undo.clear();
  it->second.durable_exists = true;
  defer_(timing_.sync_latency, [done = std::move(done)] { done(Status::Ok()); });
}

void MemDisk::Size(const std::string& file, SizeDone done) {
  auto it = files_.find(file);
  StatusOr<uint64_t> result =
      it == files_.end() ? StatusOr<uint64_t>(NotFound("no such file", file))
                         : StatusOr<uint64_t>(static_cast<uint64_t>(it->second.data.size()));
  defer_(timing_.op_latency,
         [done = std::move(done), result = std::move(result)] { done(result); });
}

void MemDisk::Remove(const std::string& file, Done done) {
  files_.erase(file);
  defer_(timing_.sync_latency, [done = std::move(done)] { done(Status::Ok()); });
}

void MemDisk::Crash() {
  for (auto it = files_.begin(); it != files_.end();) {
    File& f = it->second;
    for (auto u = f.undo.rbegin(); u != f.undo.rend(); ++u) {
      std::copy(u->old_bytes.begin(), u->old_bytes.end(), f.data.begin() + u->offset);
      f.data.resize(u->old_size);
    }
    f.undo.clear();
    if (!f.durable_exists) {
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
}

uint64_t MemDisk::bytes_stored() const {
  uint64_t total = 0;
  for (const auto& [name, f] : files_) total += f.data.size();
  return total;
}

}  // namespace edgebed
