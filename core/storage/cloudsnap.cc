#include "core/storage/cloudsnap.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "core/wire/codec.h"

namespace edgebed::storage {

namespace {

constexpr uint16_t kManifestMagic = 0x4353;  // "CS"
constexpr uint8_t kManifestVersion = 1;
constexpr uint16_t kManifestType = 1;
constexpr uint64_t kPartBytes = uint64_t{16} << 20;
constexpr size_t kWindow = 64;  // snapshot reads and volume writes in flight

std::string SeqText(uint64_t seq) {
  char b[24];
  std::snprintf(b, sizeof b, "%08llu", static_cast<unsigned long long>(seq));
  return b;
}
std::string ManifestKey(const std::string& volume, uint64_t seq) {
  return volume + "/" + SeqText(seq) + ".manifest";
}
std::string PartKey(const std::string& volume, uint64_t seq, uint32_t part) {
  return volume + "/" + SeqText(seq) + ".data." + std::to_string(part);
}
uint32_t BlocksPerPart(uint32_t block_size) {
  return static_cast<uint32_t>(std::max<uint64_t>(1, kPartBytes / block_size));
}
uint32_t PartsFor(size_t carried, uint32_t block_size) {
  const uint32_t per = BlocksPerPart(block_size);
  return static_cast<uint32_t>((carried + per - 1) / per);
}

// Runs task(0..count-1), at most `window` at a time; `done` gets the first
// error, or OK once every task has finished.
class Runner : public std::enable_shared_from_this<Runner> {
 public:
  using Task = std::function<void(size_t, std::function<void(Status)>)>;
  Runner(size_t count, size_t window, Task task, std::function<void(Status)> done)
      : count_(count), window_(window), task_(std::move(task)), done_(std::move(done)) {}

  void Pump() {
    auto self = shared_from_this();
    while (status_.ok() && running_ < window_ && next_ < count_) {
      const size_t i = next_++;
      ++running_;
      task_(i, [self](Status s) { self->Finished(std::move(s)); });
    }
    if (running_ == 0 && (next_ == count_ || !status_.ok()) && !reported_) {
      reported_ = true;
      done_(status_);
    }
  }

 private:
  void Finished(Status s) {
    --running_;
    if (!s.ok() && status_.ok()) status_ = std::move(s);
    Pump();
  }

  size_t count_, window_, next_ = 0, running_ = 0;
  Status status_;
  bool reported_ = false;
  Task task_;
  std::function<void(Status)> done_;
};

void RunAll(size_t count, size_t window, Runner::Task task, std::function<void(Status)> done) {
  std::make_shared<Runner>(count, window, std::move(task), std::move(done))->Pump();
}

}  // namespace

Bytes EncodeManifest(const CloudBackup& b) {
  wire::Writer w;
  wire::WriteHeader(w, {kManifestMagic, kManifestVersion, kManifestType});
  w.PutString(b.volume);
  w.PutString(b.snapshot);
  w.PutVarint(b.seq);
  w.PutU8(b.full ? 1 : 0);
  w.PutVarint(b.parent);
  w.PutVarint(b.block_size);
  w.PutVarint(b.blocks);
  w.PutVarint(b.carried.size());
  uint32_t prev = 0;
  for (size_t i = 0; i < b.carried.size(); ++i) {  // ascending: deltas are small
    w.PutVarint(i == 0 ? b.carried[i] : b.carried[i] - prev);
    prev = b.carried[i];
  }
  w.PutVarint(b.parts);
  w.PutI64(b.snapshot_ready_ns);
  w.PutI64(b.created_ns);
  return std::move(w).Finish();
}

StatusOr<CloudBackup> DecodeManifest(ByteView bytes) {
  wire::Reader r(bytes);
  wire::Header h;
  if (Status s = wire::ReadHeader(r, kManifestMagic, kManifestVersion, &h); !s.ok()) return s.WithContext("manifest");
  CloudBackup b;
  uint8_t full = 0;
  uint64_t block_size = 0, blocks = 0, count = 0, parts = 0;
  (void)r.GetString(1024, &b.volume);
  (void)r.GetString(128, &b.snapshot);
  (void)r.GetVarint(&b.seq);
  (void)r.GetU8(&full);
  (void)r.GetVarint(&b.parent);
  (void)r.GetBoundedVarint(1 << 20, &block_size);
  (void)r.GetBoundedVarint(UINT32_MAX, &blocks);
  (void)r.GetBoundedVarint(blocks, &count);
  uint64_t at = 0;
  for (uint64_t i = 0; i < count && r.status().ok(); ++i) {
    uint64_t delta = 0;
    (void)r.GetVarint(&delta);
    at = i == 0 ? delta : at + delta;
    if ((i > 0 && delta == 0) || at >= blocks) return Corruption("blocks not ascending within the volume", "manifest.carried");
    b.carried.push_back(static_cast<uint32_t>(at));
  }
  (void)r.GetBoundedVarint(UINT32_MAX, &parts);
  (void)r.GetI64(&b.snapshot_ready_ns);
  (void)r.GetI64(&b.created_ns);
  if (Status s = r.ExpectEnd(); !s.ok()) return s.WithContext("manifest");
  if (block_size == 0 || blocks == 0) return Corruption("a volume without blocks", "manifest.blocks");
  b.full = full != 0;
  b.block_size = static_cast<uint32_t>(block_size);
  b.blocks = static_cast<uint32_t>(blocks);
  b.parts = static_cast<uint32_t>(parts);
  if (b.parts != PartsFor(b.carried.size(), b.block_size)) return Corruption("parts do not match the blocks", "manifest.parts");
  if (b.full != (b.parent == 0)) return Corruption("a full backup has no parent, an incremental one has", "manifest.parent");
  return b;
}

CloudSnap::CloudSnap(Env& env, StorageNode& node, ObjectStoreClient& store, CloudSnapOptions options)
    : env_(env), node_(node), store_(store), options_(std::move(options)) {}

void CloudSnap::List(const std::string& volume, std::function<void(StatusOr<std::vector<CloudBackup>>)> done) {
  store_.List(options_.bucket, volume + "/", [this, volume, done](StatusOr<std::vector<std::string>> keys) {
    if (!keys.ok()) return done(keys.status());
    auto names = std::make_shared<std::vector<std::string>>();
    for (const std::string& k : *keys) {
      // Only this volume's own manifests: not those of "floor-1/db/x".
      if (k.size() > volume.size() + 1 && k.find('/', volume.size() + 1) == std::string::npos &&
          k.size() >= 9 && k.compare(k.size() - 9, 9, ".manifest") == 0) {
        names->push_back(k);
      }
    }
    auto found = std::make_shared<std::vector<CloudBackup>>(names->size());
    RunAll(
        names->size(), kWindow,
        [this, names, found](size_t i, std::function<void(Status)> cb) {
          store_.Get(options_.bucket, (*names)[i], [found, i, cb, key = (*names)[i]](StatusOr<Bytes> m) {
            if (!m.ok()) return cb(m.status());
            StatusOr<CloudBackup> b = DecodeManifest(*m);
            if (!b.ok()) return cb(b.status().WithContext(key));
            (*found)[i] = std::move(*b);
            cb(Status::Ok());
          });
        },
        [found, done](Status s) {
          if (!s.ok()) return done(s);
          std::sort(found->begin(), found->end(), [](const CloudBackup& a, const CloudBackup& b) { return a.seq < b.seq; });
          done(std::move(*found));
        });
  });
}

void CloudSnap::Backup(const std::string& volume, const std::string& snapshot, int64_t snapshot_ready_ns,
                       std::function<void(StatusOr<CloudBackup>)> done) {
  StatusOr<VolumeLayout> layout = node_.Layout(volume);
  if (!layout.ok()) return done(layout.status());
  List(volume, [this, volume, snapshot, snapshot_ready_ns, l = *layout, done](StatusOr<std::vector<CloudBackup>> list) {
    if (!list.ok()) return done(list.status());
    auto backup = std::make_shared<CloudBackup>();
    backup->volume = volume;
    backup->snapshot = snapshot;
    backup->seq = list->empty() ? 1 : list->back().seq + 1;
    backup->block_size = l.block_size;
    backup->blocks = l.blocks;
    backup->snapshot_ready_ns = snapshot_ready_ns;
    std::string base;
    if (!list->empty()) {
      int since_full = 0;
      for (auto it = list->rbegin(); it != list->rend() && !it->full; ++it) ++since_full;
      const CloudBackup& last = list->back();
      if (since_full + 1 < options_.full_every && last.block_size == l.block_size && last.blocks == l.blocks &&
          last.snapshot != snapshot) {
        base = last.snapshot;
        backup->parent = last.seq;
      }
    }
    auto upload = [this, backup, done](StatusOr<std::vector<uint32_t>> changed) {
      if (!changed.ok()) return done(changed.status());
      backup->full = backup->parent == 0;
      backup->carried = std::move(*changed);
      backup->parts = PartsFor(backup->carried.size(), backup->block_size);
      auto data = std::make_shared<std::vector<Bytes>>(backup->carried.size());
      RunAll(
          backup->carried.size(), kWindow,
          [this, backup, data](size_t i, std::function<void(Status)> cb) {
            node_.ReadSnapshot(backup->volume, backup->snapshot, backup->carried[i], [data, i, cb](StatusOr<Bytes> b) {
              if (!b.ok()) return cb(b.status());
              (*data)[i] = std::move(*b);
              cb(Status::Ok());
            });
          },
          [this, backup, data, done](Status read) {
            if (!read.ok()) return done(read);
            const uint32_t per = BlocksPerPart(backup->block_size);
            RunAll(
                backup->parts, 4,
                [this, backup, data, per](size_t part, std::function<void(Status)> cb) {
                  Bytes bytes;
                  const size_t from = part * per, to = std::min<size_t>(data->size(), from + per);
                  bytes.reserve((to - from) * backup->block_size);
                  for (size_t i = from; i < to; ++i) bytes.insert(bytes.end(), (*data)[i].begin(), (*data)[i].end());
                  store_.Put(options_.bucket, PartKey(backup->volume, backup->seq, static_cast<uint32_t>(part)),
                             std::move(bytes), cb);
                },
                [this, backup, done](Status parts) {
                  if (!parts.ok()) return done(parts);
                  backup->created_ns = ToNanos(env_.now());
                  // Last: the manifest makes the backup exist.
                  store_.Put(options_.bucket, ManifestKey(backup->volume, backup->seq), EncodeManifest(*backup),
                             [backup, done](Status s) {
                               if (!s.ok()) return done(s);
                               done(*backup);
                             });
                });
          });
    };
    if (base.empty()) return node_.DiffSnapshots(volume, "", snapshot, upload);
    node_.DiffSnapshots(volume, base, snapshot,
                        [this, volume, snapshot, backup, upload](StatusOr<std::vector<uint32_t>> changed) {
                          if (changed.ok() || changed.status().code() != StatusCode::kNotFound) return upload(changed);
                          // The last backup's snapshot is gone here: this one is full.
                          backup->parent = 0;
                          node_.DiffSnapshots(volume, "", snapshot, upload);
                        });
  });
}

void CloudSnap::Restore(const std::string& source_volume, uint64_t seq, const std::string& target_volume,
                        std::function<void(Status)> done) {
  List(source_volume, [this, source_volume, seq, target_volume, done](StatusOr<std::vector<CloudBackup>> list) {
    if (!list.ok()) return done(list.status());
    std::map<uint64_t, const CloudBackup*> by_seq;
    for (const CloudBackup& b : *list) by_seq[b.seq] = &b;
    // The chain, oldest (the full one) first.
    auto chain = std::make_shared<std::vector<CloudBackup>>();
    for (uint64_t at = seq;;) {
      auto it = by_seq.find(at);
      if (it == by_seq.end()) {
        return done(NotFound(at == seq ? "no backup " + std::to_string(seq) + " of " + source_volume
                                       : "the backups of " + source_volume + " lack " + std::to_string(at) +
                                             ", which backup " + std::to_string(seq) + " builds on"));
      }
      chain->insert(chain->begin(), *it->second);
      if (it->second->full) break;
      at = it->second->parent;
    }
    StatusOr<VolumeLayout> layout = node_.Layout(target_volume);
    if (!layout.ok()) return done(layout.status());
    const CloudBackup& last = chain->back();
    if (layout->block_size != last.block_size || layout->blocks != last.blocks) {
      return done(InvalidArgument("volume " + target_volume + " is not laid out as the backup: " +
                                  std::to_string(last.blocks) + " blocks of " + std::to_string(last.block_size) +
                                  " bytes"));
    }
    // Every part of every backup of the chain, newest last, so that later
    // blocks overwrite earlier ones.
    auto image = std::make_shared<std::map<uint32_t, Bytes>>();
    auto parts = std::make_shared<std::vector<std::pair<size_t, uint32_t>>>();
    for (size_t c = 0; c < chain->size(); ++c) {
      for (uint32_t p = 0; p < (*chain)[c].parts; ++p) parts->push_back({c, p});
    }
    RunAll(
        parts->size(), 1,  // in order: a newer backup's blocks land after an older one's
        [this, chain, parts, image](size_t i, std::function<void(Status)> cb) {
          const size_t c = (*parts)[i].first;
          const uint32_t part = (*parts)[i].second;
          const CloudBackup& b = (*chain)[c];
          store_.Get(options_.bucket, PartKey(b.volume, b.seq, part), [chain, c, part, image, cb](StatusOr<Bytes> data) {
            if (!data.ok()) return cb(data.status());
            const CloudBackup& bk = (*chain)[c];
            const uint32_t per = BlocksPerPart(bk.block_size);
            const size_t from = size_t{part} * per, to = std::min<size_t>(bk.carried.size(), from + per);
            if (data->size() != (to - from) * bk.block_size) {
              return cb(Corruption("part " + std::to_string(part) + " of backup " + std::to_string(bk.seq) +
                                   " has " + std::to_string(data->size()) + " bytes"));
            }
            for (size_t i2 = from; i2 < to; ++i2) {
              const auto at = data->begin() + static_cast<std::ptrdiff_t>((i2 - from) * bk.block_size);
              (*image)[bk.carried[i2]] = Bytes(at, at + bk.block_size);
            }
            cb(Status::Ok());
          });
        },
        [this, target_volume, image, chain, done](Status fetched) {
          if (!fetched.ok()) return done(fetched);
          const CloudBackup& b = chain->back();
          RunAll(
              b.blocks, kWindow,
              [this, target_volume, image, bs = b.block_size](size_t block, std::function<void(Status)> cb) {
                auto it = image->find(static_cast<uint32_t>(block));
                node_.Write(target_volume, static_cast<uint32_t>(block), it == image->end() ? Bytes(bs, 0) : it->second,
                            cb);
              },
              done);
        });
  });
}

}  // namespace edgebed::storage
