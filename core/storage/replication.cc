#include "core/storage/replication.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <optional>
#include <tuple>

#include "core/base/hash.h"
#include "core/wire/codec.h"

namespace edgebed::storage {

namespace {

constexpr uint16_t kMagic = 0x5356;  // "SV"
constexpr uint8_t kVersion = 1;
constexpr size_t kMaxName = 512;
constexpr size_t kMaxBlock = 1 << 20;
constexpr size_t kMaxReplicas = 16;
constexpr size_t kMaxSnapshots = 4096;
constexpr size_t kMaxSnapshotName = 128;
constexpr uint64_t kHeaderBytes = 24;  // a block's (generation, sequence, checksum) on disk

enum Type : uint16_t {
  kAssign = 1,     // controller -> replicas: the volume's record
  kWrite = 2,      // primary -> replica: a block
  kAck = 3,        // replica -> primary
  kRemove = 4,     // primary -> controller: take a replica out of sync
  kAdd = 5,        // primary -> controller: a replica caught up
  kRenew = 6,      // primary -> controller: the lease
  kClaim = 7,      // named primary -> controller: grant me a generation
  kSnap = 8,       // primary -> replica: take a snapshot here, at this barrier
  kSnapBlock = 9,  // primary -> lagging replica: one block of a snapshot it lacks
  kSnapDone = 10,  // primary -> controller: every in-sync replica holds the snapshot
  kSeeded = 11,    // primary -> controller: the clone holds its source's image
  kProbe = 12,     // primary -> lagging replica: are you there? (answered with an ack, no disk work)
  kTakeover = 13,  // new primary -> controller: my takeover goes on (arg: blocks left to rewrite)
};
enum AckStatus : uint8_t { kAckOk = 0, kAckFenced = 1, kAckIoError = 2 };

// (generation, sequence) of a block's last write: newer wins.
struct Version {
  uint64_t gen = 0, seq = 0;
  friend bool operator<(const Version& a, const Version& b) {
    return a.gen != b.gen ? a.gen < b.gen : a.seq < b.seq;
  }
};

struct AssignMsg {
  VolumeRecord rec;
  uint64_t grant = 0;       // the nonce of the claim this generation grants; 0: none
  int64_t lease_from = -1;  // nanoseconds of the renewal it grants; -1: no lease
};

void PutRecord(wire::Writer& w, const VolumeRecord& r) {
  w.PutString(r.layout.name);
  w.PutVarint(r.layout.block_size);
  w.PutVarint(r.layout.blocks);
  w.PutVarint(r.generation);
  w.PutVarint(r.primary);
  w.PutVarint(r.replicas.size());
  for (NodeId n : r.replicas) w.PutVarint(n);
  w.PutVarint(r.in_sync.size());
  for (NodeId n : r.in_sync) w.PutVarint(n);
  w.PutVarint(r.snapshots.size());
  for (const SnapshotRecord& snap : r.snapshots) {
    w.PutString(snap.name);
    w.PutU8(snap.ready ? 1 : 0);
    w.PutI64(snap.requested_ns);
    w.PutI64(snap.ready_ns);
  }
  w.PutString(r.clone_from.volume);
  w.PutString(r.clone_from.snapshot);
  w.PutU8(r.pristine ? 1 : 0);
}

// A count, then that many node ids.
std::vector<NodeId> GetNodes(wire::Reader& r) {
  uint64_t n = 0;
  std::vector<NodeId> nodes;
  (void)r.GetBoundedVarint(kMaxReplicas, &n);
  for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
    uint64_t id = 0;
    (void)r.GetBoundedVarint(UINT32_MAX, &id);
    nodes.push_back(static_cast<NodeId>(id));
  }
  return nodes;
}

Status GetRecord(wire::Reader& r, VolumeRecord* out) {
  uint64_t bs = 0, blocks = 0, primary = 0, n = 0;
  (void)r.GetString(kMaxName, &out->layout.name);
  (void)r.GetBoundedVarint(kMaxBlock, &bs);
  (void)r.GetBoundedVarint(UINT32_MAX, &blocks);
  (void)r.GetVarint(&out->generation);
  (void)r.GetBoundedVarint(UINT32_MAX, &primary);
  out->replicas = GetNodes(r);
  const std::vector<NodeId> in_sync = GetNodes(r);
  out->in_sync = std::set<NodeId>(in_sync.begin(), in_sync.end());
  (void)r.GetBoundedVarint(kMaxSnapshots, &n);
  out->snapshots.clear();
  for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
    SnapshotRecord snap;
    uint8_t ready = 0;
    (void)r.GetString(kMaxSnapshotName, &snap.name);
    (void)r.GetU8(&ready);
    (void)r.GetI64(&snap.requested_ns);
    (void)r.GetI64(&snap.ready_ns);
    snap.ready = ready != 0;
    out->snapshots.push_back(std::move(snap));
  }
  (void)r.GetString(kMaxName, &out->clone_from.volume);
  (void)r.GetString(kMaxSnapshotName, &out->clone_from.snapshot);
  uint8_t pristine = 0;
  (void)r.GetU8(&pristine);
  out->pristine = pristine != 0;
  out->layout.block_size = static_cast<uint32_t>(bs);
  out->layout.blocks = static_cast<uint32_t>(blocks);
  out->primary = static_cast<NodeId>(primary);
  if (r.status().ok() && (bs == 0 || blocks == 0)) return Corruption("a volume record without blocks");
  return r.status();
}

Bytes EncodeAssign(const AssignMsg& m) {
  wire::Writer w;
  wire::WriteHeader(w, {kMagic, kVersion, kAssign});
  PutRecord(w, m.rec);
  w.PutU64(m.grant);
  w.PutI64(m.lease_from);
  return std::move(w).Finish();
}

// A request about one volume from a primary to the controller; `text`
// names a snapshot where the request is about one.
Bytes EncodeRequest(Type type, const std::string& volume, uint64_t gen, uint64_t arg, const std::string& text = {}) {
  wire::Writer w;
  wire::WriteHeader(w, {kMagic, kVersion, type});
  w.PutString(volume);
  w.PutVarint(gen);
  w.PutVarint(arg);
  w.PutString(text);
  return std::move(w).Finish();
}

// What a primary sends a replica: a block (kWrite), a snapshot barrier
// (kSnap: snapshot, barrier), or a block of a snapshot (kSnapBlock: all).
struct WriteMsg {
  Type type = kWrite;
  std::string volume;
  uint32_t block_size = 0, blocks = 0;
  uint64_t gen = 0;   // the sender's generation: fencing
  uint64_t tag = 0;   // echoed in the ack
  Version version;    // stored on the block
  uint32_t block = 0;
  Bytes data;
  std::string snapshot;
  Version barrier;    // the snapshot holds every write up to this version
};

Bytes EncodeWrite(const WriteMsg& m) {
  wire::Writer w;
  wire::WriteHeader(w, {kMagic, kVersion, m.type});
  w.PutString(m.volume);
  w.PutVarint(m.block_size);
  w.PutVarint(m.blocks);
  w.PutVarint(m.gen);
  w.PutVarint(m.tag);
  w.PutVarint(m.version.gen);
  w.PutVarint(m.version.seq);
  w.PutVarint(m.block);
  w.PutBytes(m.data);
  w.PutString(m.snapshot);
  w.PutVarint(m.barrier.gen);
  w.PutVarint(m.barrier.seq);
  return std::move(w).Finish();
}

Status DecodeWrite(wire::Reader& r, Type type, WriteMsg* m) {
  uint64_t bs = 0, blocks = 0, block = 0;
  m->type = type;
  (void)r.GetString(kMaxName, &m->volume);
  (void)r.GetBoundedVarint(kMaxBlock, &bs);
  (void)r.GetBoundedVarint(UINT32_MAX, &blocks);
  (void)r.GetVarint(&m->gen);
  (void)r.GetVarint(&m->tag);
  (void)r.GetVarint(&m->version.gen);
  (void)r.GetVarint(&m->version.seq);
  (void)r.GetBoundedVarint(UINT32_MAX, &block);
  (void)r.GetBytes(kMaxBlock, &m->data);
  (void)r.GetString(kMaxSnapshotName, &m->snapshot);
  (void)r.GetVarint(&m->barrier.gen);
  (void)r.GetVarint(&m->barrier.seq);
  if (Status s = r.ExpectEnd(); !s.ok()) return s;
  if (bs == 0 || blocks == 0 || m->volume.empty() || ((type == kSnap || type == kSnapBlock) && m->snapshot.empty())) {
    return Corruption("a write without its volume's shape or snapshot");
  }
  m->block_size = static_cast<uint32_t>(bs);
  m->blocks = static_cast<uint32_t>(blocks);
  m->block = static_cast<uint32_t>(block);
  return Status::Ok();
}

Bytes EncodeAck(const std::string& volume, uint64_t tag, AckStatus status, uint64_t fence) {
  wire::Writer w;
  wire::WriteHeader(w, {kMagic, kVersion, kAck});
  w.PutString(volume);
  w.PutVarint(tag);
  w.PutU8(status);
  w.PutVarint(fence);
  return std::move(w).Finish();
}

// Over a block's version and bytes: a torn or misdirected block fails it,
// so a replica never serves a block it does not really hold.
uint64_t SlotChecksum(Version v, const uint8_t* data, size_t n) {
  return Hash64(data, n, v.gen * 0x9E3779B97F4A7C15ULL ^ v.seq);
}

void PutU64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

std::string BlocksFile(const std::string& v) { return "vol/" + v + ".blocks"; }
std::string SnapsFile(const std::string& v) { return "vol/" + v + ".snaps"; }
std::string SnapBlocksFile(const std::string& v, const std::string& snap) { return "vol/" + v + "@" + snap + ".blocks"; }

bool ValidSnapshotName(const std::string& name) {
  if (name.empty() || name.size() > kMaxSnapshotName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}
std::string FenceFile(const std::string& v) { return "vol/" + v + ".fence"; }
constexpr const char* kIndexFile = "vol/index";
constexpr const char* kControllerFile = "controller.state";

}  // namespace

// ---------------------------------------------------------------------------
// The controller.

class VolumeController::Impl {
 public:
  Impl(Env& env, ReplicationOptions options) : env_(env), options_(options) {
    (void)env_.Listen(kControllerPort, [this](NodeId from, ByteView m) { OnMessage(from, m); });
    timer_ = env_.Schedule(options_.lease / 4, [this] { Tick(); });
  }
  ~Impl() {
    env_.Unlisten(kControllerPort);
    env_.Cancel(timer_);
  }

  Status Create(const VolumeLayout& layout, const std::vector<NodeId>& replicas, const CloneSource& source) {
    if (records_.count(layout.name)) return AlreadyExists("volume " + layout.name + " exists");
    if (layout.name.empty() || layout.name.size() > kMaxName) {
      return InvalidArgument("a volume name needs 1-" + std::to_string(kMaxName) + " bytes");
    }
    if (replicas.empty() || replicas.size() > kMaxReplicas || layout.blocks == 0 || layout.block_size == 0 ||
        layout.block_size > kMaxBlock) {
      return InvalidArgument("volume " + layout.name + " needs 1-16 replicas and blocks of 1 B-1 MiB");
    }
    std::set<NodeId> distinct(replicas.begin(), replicas.end());
    if (distinct.size() != replicas.size()) return InvalidArgument("volume " + layout.name + ": a replica twice");
    if (!source.volume.empty()) {
      auto src = records_.find(source.volume);
      if (src == records_.end()) return NotFound("no volume " + source.volume + " to clone");
      const VolumeRecord& from = src->second.rec;
      const SnapshotRecord* snap = from.FindSnapshot(source.snapshot);
      if (!snap) return NotFound("volume " + source.volume + " has no snapshot " + source.snapshot);
      if (!snap->ready) return FailedPrecondition("snapshot " + source.snapshot + " is not ready yet");
      if (from.layout.block_size != layout.block_size || from.layout.blocks != layout.blocks) {
        return InvalidArgument("a clone of " + source.volume + " needs its layout: " +
                               std::to_string(from.layout.blocks) + " blocks of " +
                               std::to_string(from.layout.block_size) + " bytes");
      }
      if (!from.in_sync.count(replicas[0])) {
        return FailedPrecondition("node " + std::to_string(replicas[0]) + " does not hold " + source.volume +
                                  "'s snapshots: put the clone's first replica on an in-sync replica of it");
      }
    }
    Entry& e = records_[layout.name];
    e.rec.layout = layout;
    e.rec.replicas = replicas;
    e.rec.primary = replicas[0];
    e.rec.in_sync = distinct;
    e.rec.clone_from = source;
    e.rec.pristine = source.volume.empty();
    e.last_renew = env_.now();
    Commit(layout.name, 0);
    return Status::Ok();
  }

  void Open(std::function<void(Status)> done) {
    env_.disk().Read(kControllerFile, 0, UINT64_MAX, [this, done](StatusOr<Bytes> data) {
      if (!data.ok()) return done(data.status().code() == StatusCode::kNotFound ? Status::Ok() : data.status());
      wire::Reader r(*data);
      uint64_t size = 0, hash = 0, count = 0;
      ByteView payload;
      (void)r.GetU64(&size);
      (void)r.GetU64(&hash);
      if (!r.status().ok() || size > r.remaining() || !r.GetRaw(size, &payload).ok() ||
          Hash64(payload.data(), payload.size()) != hash)
        return done(Corruption("volume controller state (" + std::string(kControllerFile) +
                               ") fails its checksum"));
      wire::Reader body(payload);
      (void)body.GetBoundedVarint(1u << 24, &count);
      std::map<std::string, Entry> records;
      for (uint64_t i = 0; i < count && body.status().ok(); ++i) {
        VolumeRecord rec;
        if (!GetRecord(body, &rec).ok()) break;
        Entry& e = records[rec.layout.name];
        e.rec = std::move(rec);
        e.last_renew = env_.now();  // a full lease from now before any failover
      }
      if (!body.status().ok()) return done(Corruption("volume controller state: " + body.status().message()));
      for (auto& [name, e] : records) records_.insert_or_assign(name, std::move(e));
      done(Status::Ok());
    });
  }

  Status Replace(const std::string& volume, NodeId gone, NodeId node) {
    auto it = records_.find(volume);
    if (it == records_.end()) return NotFound("no volume " + volume);
    VolumeRecord& r = it->second.rec;
    auto g = std::find(r.replicas.begin(), r.replicas.end(), gone);
    if (g == r.replicas.end() || gone == r.primary) {
      return FailedPrecondition("node " + std::to_string(gone) + " is not a replaceable replica of " + volume +
                                " (the primary is replaced by failing over first)");
    }
    if (std::find(r.replicas.begin(), r.replicas.end(), node) != r.replicas.end()) {
      return AlreadyExists("node " + std::to_string(node) + " already holds " + volume);
    }
    *g = node;
    r.in_sync.erase(gone);
    it->second.out_since.erase(gone);
    it->second.out_since.emplace(node, env_.now());
    Commit(volume, it->second.grant);
    return Status::Ok();
  }

  Status Attach(const std::string& volume, NodeId node) {
    auto it = records_.find(volume);
    if (it == records_.end()) return NotFound("no volume " + volume);
    Entry& e = it->second;
    if (e.rec.primary == node) return Status::Ok();
    if (std::find(e.rec.replicas.begin(), e.rec.replicas.end(), node) == e.rec.replicas.end())
      return FailedPrecondition("node " + std::to_string(node) + " holds no replica of " + volume +
                                ": its I/O goes to the primary, node " + std::to_string(e.rec.primary));
    if (!e.rec.in_sync.count(node))
      return FailedPrecondition("node " + std::to_string(node) + "'s replica of " + volume +
                                " is catching up; the volume stays on node " + std::to_string(e.rec.primary));
    // A planned move: the old primary stays in sync (the new one's takeover
    // rewrites every replica, it too, before serving).
    e.rec.primary = node;
    e.last_renew = env_.now();
    Commit(volume, 0);
    return Status::Ok();
  }

  Status CreateSnapshot(const std::string& volume, const std::string& name) {
    auto it = records_.find(volume);
    if (it == records_.end()) return NotFound("no volume " + volume);
    if (!ValidSnapshotName(name)) {
      return InvalidArgument("snapshot name \"" + name + "\" needs 1-128 of A-Z, a-z, 0-9, '.', '_', '-'");
    }
    VolumeRecord& r = it->second.rec;
    if (r.FindSnapshot(name)) return AlreadyExists("volume " + volume + " has a snapshot " + name);
    if (r.snapshots.size() >= kMaxSnapshots) {
      return ResourceExhausted("volume " + volume + " has " + std::to_string(kMaxSnapshots) +
                               " snapshots: delete some first");
    }
    r.snapshots.push_back({name, false, ToNanos(env_.now()), 0});
    Commit(volume, it->second.grant);
    return Status::Ok();
  }

  Status DeleteSnapshot(const std::string& volume, const std::string& name) {
    auto it = records_.find(volume);
    if (it == records_.end()) return NotFound("no volume " + volume);
    VolumeRecord& r = it->second.rec;
    auto snap = std::find_if(r.snapshots.begin(), r.snapshots.end(),
                             [&](const SnapshotRecord& s) { return s.name == name; });
    if (snap == r.snapshots.end()) return NotFound("volume " + volume + " has no snapshot " + name);
    for (const auto& [other, e] : records_) {
      if (e.rec.clone_from.volume == volume && e.rec.clone_from.snapshot == name) {
        return FailedPrecondition("clone " + other + " is being seeded from snapshot " + name + ": try again later");
      }
    }
    r.snapshots.erase(snap);
    Commit(volume, it->second.grant);
    return Status::Ok();
  }

  const VolumeRecord* Find(const std::string& v) const {
    auto it = records_.find(v);
    return it == records_.end() ? nullptr : &it->second.rec;
  }
  VolumeController::Stats stats_;

 private:
  struct Entry {
    VolumeRecord rec;
    uint64_t grant = 0;        // the claim nonce the current generation grants
    uint64_t claimed_gen = 0;  // the generation the current primary's claim was granted at
    Time last_renew{};
    uint64_t renewed_gen = 0;  // the generation the primary last renewed under
    // A failover under way: when the old primary was last heard from, so that
    // the new one's first renewal measures the outage.
    std::optional<Time> failing_since;
    // Replicas out of sync, since when (in this controller's life): the
    // time each takes to be back measures how far replication lags.
    std::map<NodeId, Time> out_since;
  };

  // Bumps the generation, persists every record, then tells the replicas.
  // `pristine`: what the replicas are told of it, when not what is persisted
  // (a first claim persists that the volume is served from now on, and tells
  // its claimant that nobody had served it).
  void Commit(const std::string& volume, uint64_t grant, std::optional<bool> pristine = std::nullopt) {
    Entry& e = records_.at(volume);
    ++e.rec.generation;
    e.grant = grant;
    wire::Writer body;
    body.PutVarint(records_.size());
    for (const auto& [name, entry] : records_) PutRecord(body, entry.rec);
    Bytes payload = std::move(body).Finish();
    // Length and checksum first: the file is rewritten in place, so what
    // follows the payload may be an older, longer image's tail.
    wire::Writer w;
    w.PutU64(payload.size());
    w.PutU64(Hash64(payload.data(), payload.size()));
    w.PutRaw(payload);
    AssignMsg m{e.rec, grant, -1};
    if (pristine) m.rec.pristine = *pristine;
    env_.disk().Write(kControllerFile, 0, std::move(w).Finish(), [this, m](Status s) {
      if (!s.ok()) return;  // the tick resends what the disk holds at the next change
      env_.disk().Sync(kControllerFile, [this, m](Status s2) {
        if (s2.ok()) Broadcast(m);
      });
    });
  }

  void Broadcast(const AssignMsg& m) {
    const Bytes msg = EncodeAssign(m);
    for (NodeId n : m.rec.replicas) env_.Send(n, kReplicaPort, msg);
  }

  void Tick() {
    const Time now = env_.now();
    for (auto& [name, e] : records_) {
      const bool expired = now - e.last_renew > options_.lease + options_.lease / 2;
      if (expired && FailOver(name, e)) continue;
      if (expired || e.renewed_gen != e.rec.generation) {
        // An Assign may have been lost, or the primary restarted and must
        // hear that it is the primary to claim the volume again.
        Broadcast({e.rec, e.grant, -1});
      }
    }
    timer_ = env_.Schedule(options_.lease / 4, [this] { Tick(); });
  }

  // Moves the volume to another in-sync replica; false when there is none.
  bool FailOver(const std::string& name, Entry& e) {
    std::vector<NodeId> candidates;
    for (NodeId n : e.rec.replicas) {
      if (n != e.rec.primary && e.rec.in_sync.count(n)) candidates.push_back(n);
    }
    if (candidates.empty()) return false;
    e.rec.in_sync.erase(e.rec.primary);
    e.out_since.emplace(e.rec.primary, env_.now());
    const NodeId old_primary = e.rec.primary;
    // Deterministic, and away from the last one tried when several fail.
    e.rec.primary = candidates[e.rec.generation % candidates.size()];
    if (!e.failing_since) e.failing_since = e.last_renew;
    env_.RecordEvent("storage.failover", "volume=" + name + " from=" + std::to_string(old_primary) +
                                             " to=" + std::to_string(e.rec.primary) +
                                             " silent_s=" + std::to_string(ToSeconds(env_.now() - e.last_renew)));
    e.last_renew = env_.now();  // the new primary's time to claim and take over
    ++stats_.failovers;
    Commit(name, 0);
    return true;
  }

  void OnMessage(NodeId from, ByteView m) {
    wire::Reader r(m);
    wire::Header h;
    if (!wire::ReadHeader(r, kMagic, kVersion, &h).ok()) return;
    std::string volume, text;
    uint64_t gen = 0, arg = 0;
    (void)r.GetString(kMaxName, &volume);
    (void)r.GetVarint(&gen);
    (void)r.GetVarint(&arg);
    (void)r.GetString(kMaxSnapshotName, &text);
    if (!r.ExpectEnd().ok()) return;
    auto it = records_.find(volume);
    if (it == records_.end()) return;
    Entry& e = it->second;
    // Reports of work done hold for the whole primaryship, whatever changed
    // in the record meanwhile.
    if ((h.type == kSnapDone || h.type == kSeeded) && from == e.rec.primary && gen >= e.claimed_gen) {
      if (h.type == kSnapDone) {
        for (SnapshotRecord& snap : e.rec.snapshots) {
          if (snap.name == text && !snap.ready) {
            snap.ready = true;
            snap.ready_ns = ToNanos(env_.now());
            Commit(volume, e.grant);
          }
        }
      } else if (!e.rec.clone_from.volume.empty()) {
        e.rec.clone_from = {};
        Commit(volume, e.grant);
      }
      return;
    }
    if (from != e.rec.primary || gen != e.rec.generation) {
      // A stale primary, or one that missed a change: tell it where things stand.
      env_.Send(from, kReplicaPort, EncodeAssign({e.rec, e.grant, -1}));
      return;
    }
    const NodeId node = static_cast<NodeId>(arg);
    const bool member = std::find(e.rec.replicas.begin(), e.rec.replicas.end(), node) != e.rec.replicas.end();
    switch (h.type) {
      case kTakeover:
        // The takeover rewrites every block, which takes longer than a lease
        // for a large volume: progress keeps the new primary from being
        // taken for dead. No lease is granted until it renews.
        e.last_renew = env_.now();
        break;
      case kClaim: {
        e.last_renew = env_.now();
        const bool pristine = e.rec.pristine;
        e.rec.pristine = false;  // durable before the claimant may serve
        Commit(volume, arg, pristine);
        e.claimed_gen = e.rec.generation;
        break;
      }
      case kRenew:
        e.last_renew = env_.now();
        e.renewed_gen = gen;
        if (e.failing_since && gen == e.rec.generation && from == e.rec.primary) {
          // The new primary serves: from the old one's last word to now.
          env_.RecordMetric("storage.failover_s", ToSeconds(env_.now() - *e.failing_since), "volume=" + volume);
          e.failing_since.reset();
        }
        env_.Send(from, kReplicaPort, EncodeAssign({e.rec, e.grant, static_cast<int64_t>(arg)}));
        break;
      case kRemove:
        if (node == e.rec.primary) {
          // The primary resigns (its disk failed). With no one to take over,
          // it claims the volume again when it hears it is still the primary.
          if (!FailOver(volume, e)) e.last_renew = Time{};
        } else if (member) {
          // Commits even when the node is already out: the new generation
          // voids any request to add it back that is still on the wire.
          e.rec.in_sync.erase(node);
          e.out_since.emplace(node, env_.now());
          ++stats_.removals;
          Commit(volume, e.grant);
        }
        break;
      case kAdd:
        if (member && e.rec.in_sync.insert(node).second) {
          ++stats_.additions;
          if (auto out = e.out_since.find(node); out != e.out_since.end()) {
            env_.RecordMetric("storage.replica_catchup_s", ToSeconds(env_.now() - out->second),
                              "volume=" + volume);
            e.out_since.erase(out);
          }
          Commit(volume, e.grant);
        }
        break;
      default:
        break;
    }
  }

  Env& env_;
  ReplicationOptions options_;
  std::map<std::string, Entry> records_;
  TimerId timer_ = kNoTimer;
};

VolumeController::VolumeController(Env& env, ReplicationOptions options)
    : impl_(std::make_unique<Impl>(env, options)) {}
VolumeController::~VolumeController() = default;
void VolumeController::Open(std::function<void(Status)> done) { impl_->Open(std::move(done)); }
Status VolumeController::CreateVolume(const VolumeLayout& layout, const std::vector<NodeId>& replicas) {
  return impl_->Create(layout, replicas, {});
}
Status VolumeController::CloneVolume(const VolumeLayout& layout, const std::vector<NodeId>& replicas,
                                     const CloneSource& source) {
  if (source.volume.empty()) return InvalidArgument("a clone needs a source volume");
  return impl_->Create(layout, replicas, source);
}
Status VolumeController::CreateSnapshot(const std::string& volume, const std::string& name) {
  return impl_->CreateSnapshot(volume, name);
}
Status VolumeController::DeleteSnapshot(const std::string& volume, const std::string& name) {
  return impl_->DeleteSnapshot(volume, name);
}

const SnapshotRecord* VolumeRecord::FindSnapshot(const std::string& name) const {
  for (const SnapshotRecord& s : snapshots) {
    if (s.name == name) return &s;
  }
  return nullptr;
}
Status VolumeController::Attach(const std::string& volume, NodeId node) { return impl_->Attach(volume, node); }
Status VolumeController::ReplaceReplica(const std::string& volume, NodeId gone, NodeId node) {
  return impl_->Replace(volume, gone, node);
}
const VolumeRecord* VolumeController::Find(const std::string& volume) const { return impl_->Find(volume); }
const VolumeController::Stats& VolumeController::stats() const { return impl_->stats_; }

// ---------------------------------------------------------------------------
// A storage node: replicas, and the primary of the volumes attached here.

namespace {

// Disk work of one replica (or of the node's index), one task at a time, in
// order: a task calls `next` when it is done. Completions that come at once
// do not nest, so a long queue does not deepen the stack.
class TaskQueue {
 public:
  using Task = std::function<void(std::function<void()> next)>;
  void Run(Task task) {
    tasks_.push_back(std::move(task));
    if (!busy_) Next();
  }

 private:
  void Next() {
    if (in_next_) {
      again_ = true;
      return;
    }
    in_next_ = true;
    do {
      again_ = false;
      busy_ = !tasks_.empty();
      if (!busy_) break;
      Task task = std::move(tasks_.front());
      tasks_.pop_front();
      task([this] { Next(); });
    } while (again_);
    in_next_ = false;
  }

  std::deque<Task> tasks_;
  bool busy_ = false, in_next_ = false, again_ = false;
};

}  // namespace

class StorageNode::Impl {
 public:
  Impl(Env& env, NodeId controller, ReplicationOptions options)
      : env_(env),
        controller_(controller),
        options_(options),
        nonce_((env.random().Next() ^ static_cast<uint64_t>(ToNanos(env.now()))) | 1) {
    (void)env_.Listen(kReplicaPort, [this](NodeId from, ByteView m) { OnMessage(from, m); });
    Recover();
    timer_ = env_.Schedule(options_.ack_timeout / 2, [this] { Tick(); });
  }
  ~Impl() {
    env_.Unlisten(kReplicaPort);
    env_.Cancel(timer_);
    env_.Cancel(recover_timer_);
  }

  void Write(const std::string& volume, uint32_t block, Bytes data, WriteDone done);
  void Read(const std::string& volume, uint32_t block, ReadDone done);
  void ReadSnapshot(const std::string& volume, const std::string& snapshot, uint32_t block, ReadDone done);
  void Restore(const std::string& volume, const std::string& snapshot, WriteDone done);
  void DiffSnapshots(const std::string& volume, const std::string& base, const std::string& snapshot,
                     std::function<void(StatusOr<std::vector<uint32_t>>)> done);
  NodeId KnownPrimary(const std::string& volume) const {
    auto it = known_primary_.find(volume);
    return it == known_primary_.end() ? kNoNode : it->second.second;
  }
  StatusOr<VolumeLayout> Layout(const std::string& volume) const {
    auto it = replicas_.find(volume);
    if (it == replicas_.end()) return NotFound("node " + std::to_string(env_.self()) + " holds no replica of " + volume);
    return it->second.layout;
  }
  StatusOr<uint64_t> DataBlocks(const std::string& volume) const {
    auto it = replicas_.find(volume);
    if (it == replicas_.end()) return NotFound("node " + std::to_string(env_.self()) + " holds no replica of " + volume);
    return it->second.data_blocks;
  }
  bool Serving(const std::string& volume) const {
    auto it = primaries_.find(volume);
    if (it == primaries_.end() || it->second.phase != Primary::kServing) return false;
    const Primary& p = it->second;
    const Time now = env_.now();
    if (now < p.serve_after) return false;
    return now < p.lease_until || (p.granted && now < PeerLease(p));
  }
  StorageNode::Stats stats_;

 private:
  // ---- replicas ----
  // A snapshot as this replica keeps it: the blocks overwritten since its
  // barrier are copied to its own file first (copy-on-write); the others are
  // read from the volume, whose version there is still at or below the barrier.
  struct Snap {
    Version barrier;
    uint64_t taken_gen = 0;          // the generation of the message that brought it
    bool materialized = false;       // copied in whole from a primary, not taken here: no copy-on-write
    std::vector<uint8_t> preserved;  // per block: its image is in the snapshot's own file
  };
  struct Replica {
    VolumeLayout layout;
    uint64_t fence = 0;             // the newest generation written under; older writes are refused
    // The fence on disk. An Assign raises `fence` in memory only, so the
    // first write of a generation must still persist it: whether to is
    // judged against this, never against the in-memory fence.
    uint64_t durable_fence = 0;
    std::vector<Version> versions;  // per block; (0, 0): never written
    std::vector<uint8_t> damaged;   // per block: found torn on disk; reads fail until rewritten
    std::vector<uint8_t> has_data;  // per block: holds something other than zeros (its used space)
    uint64_t data_blocks = 0;       // how many do
    std::map<std::string, Snap> snaps;
    TaskQueue queue;
  };

  // Messages to this node itself skip the network (it cannot lose them) but
  // stay asynchronous, as a send is.
  void Transmit(NodeId to, Bytes msg) {
    if (to == env_.self()) {
      env_.Schedule(Duration::zero(), [this, msg = std::move(msg)] { OnMessage(env_.self(), msg); });
    } else {
      env_.Send(to, kReplicaPort, std::move(msg));
    }
  }

  void ToController(Bytes msg) { env_.Send(controller_, kControllerPort, std::move(msg)); }

  Replica& EnsureReplica(const VolumeLayout& l) {
    Replica& r = replicas_[l.name];
    if (r.versions.empty()) {
      r.layout = l;
      r.versions.assign(l.blocks, Version{});
      r.damaged.assign(l.blocks, 0);
      r.has_data.assign(l.blocks, 0);
      r.data_blocks = 0;
    }
    return r;
  }

  static bool AllZero(const uint8_t* data, size_t size) {
    return std::all_of(data, data + size, [](uint8_t b) { return b == 0; });
  }

  static void SetHasData(Replica& r, uint32_t block, bool has) {
    if (r.has_data[block] == has) return;
    r.has_data[block] = has;
    if (has) ++r.data_blocks;
    else --r.data_blocks;
  }

  static uint64_t SlotBytes(const VolumeLayout& l) { return kHeaderBytes + l.block_size; }

  // A block as it lies on disk: version, checksum, data.
  static Bytes MakeSlot(Version v, const Bytes& data) {
    Bytes slot;
    slot.reserve(kHeaderBytes + data.size());
    PutU64(slot, v.gen);
    PutU64(slot, v.seq);
    PutU64(slot, SlotChecksum(v, data.data(), data.size()));
    slot.insert(slot.end(), data.begin(), data.end());
    return slot;
  }
  // The version a slot read from disk holds, if it is whole.
  static std::optional<Version> SlotVersion(const uint8_t* at, uint32_t block_size) {
    const Version v{GetU64(at), GetU64(at + 8)};
    if (GetU64(at + 16) != SlotChecksum(v, at + kHeaderBytes, block_size)) return std::nullopt;
    return v;
  }

  // Loads every replica this node holds: the index, then each volume's
  // fence, block headers and snapshots. A disk error starts it over a little
  // later (answering nothing meanwhile): a replica that came up without its
  // versions would read as empty while in sync.
  void Recover() {
    recovering_ = true;
    const uint64_t attempt = ++recover_attempt_;
    env_.disk().Read(kIndexFile, 0, 1 << 20, [this, attempt](StatusOr<Bytes> index) {
      if (attempt != recover_attempt_) return;
      if (!index.ok() && index.status().code() != StatusCode::kNotFound) return RecoverFailed(attempt);
      std::vector<VolumeLayout> layouts;
      if (index.ok()) {
        wire::Reader r(*index);
        while (r.remaining() > 0 && r.status().ok()) {
          VolumeLayout l;
          uint64_t bs = 0, blocks = 0;
          (void)r.GetString(kMaxName, &l.name);
          (void)r.GetBoundedVarint(kMaxBlock, &bs);
          (void)r.GetBoundedVarint(UINT32_MAX, &blocks);
          l.block_size = static_cast<uint32_t>(bs);
          l.blocks = static_cast<uint32_t>(blocks);
          if (r.status().ok() && bs > 0 && blocks > 0) layouts.push_back(l);
        }
      }
      indexed_ = layouts;
      replicas_.clear();
      recover_left_ = layouts.size();
      if (layouts.empty()) recovering_ = false;
      for (const VolumeLayout& l : layouts) RecoverVolume(l, attempt);
    });
  }

  void RecoverFailed(uint64_t attempt) {
    if (attempt != recover_attempt_) return;
    ++recover_attempt_;  // the other reads of this attempt are void
    recover_timer_ = env_.Schedule(options_.ack_timeout, [this] { Recover(); });
  }

  // Reads a file whole for recovery: a missing file is empty; any other
  // error starts recovery over.
  void RecoverRead(const std::string& file, uint64_t length, uint64_t attempt, std::function<void(Bytes)> then) {
    env_.disk().Read(file, 0, length, [this, attempt, then](StatusOr<Bytes> b) {
      if (attempt != recover_attempt_) return;
      if (!b.ok() && b.status().code() != StatusCode::kNotFound) return RecoverFailed(attempt);
      then(b.ok() ? std::move(*b) : Bytes{});
    });
  }

  void RecoverVolume(const VolumeLayout& l, uint64_t attempt) {
    EnsureReplica(l);
    const uint64_t slot = SlotBytes(l);
    RecoverRead(FenceFile(l.name), 8, attempt, [this, l, slot, attempt](Bytes fence) {
      Replica& rep = replicas_[l.name];
      if (fence.size() == 8) {
        rep.durable_fence = GetU64(fence.data());
        rep.fence = std::max(rep.fence, rep.durable_fence);  // an Assign may have raised it meanwhile
      }
      RecoverRead(BlocksFile(l.name), slot * l.blocks, attempt, [this, l, slot, attempt](Bytes blocks) {
        Replica& rep = replicas_[l.name];
        for (uint32_t i = 0; i < l.blocks && (i + 1) * slot <= blocks.size(); ++i) {
          const uint8_t* at = blocks.data() + i * slot;
          if (GetU64(at) == 0 && GetU64(at + 8) == 0) continue;  // never written
          if (std::optional<Version> v = SlotVersion(at, l.block_size)) {
            rep.versions[i] = *v;
            SetHasData(rep, i, !AllZero(at + kHeaderBytes, l.block_size));
          } else {
            rep.damaged[i] = 1;
          }
        }
        RecoverRead(SnapsFile(l.name), 1 << 20, attempt, [this, l, attempt](Bytes meta) {
          Replica& rep = replicas_[l.name];
          wire::Reader r(meta);
          uint64_t n = 0;
          if (!meta.empty()) (void)r.GetBoundedVarint(kMaxSnapshots, &n);
          std::vector<std::string> names;
          for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
            std::string name;
            Snap snap;
            uint8_t materialized = 0;
            (void)r.GetString(kMaxSnapshotName, &name);
            (void)r.GetVarint(&snap.barrier.gen);
            (void)r.GetVarint(&snap.barrier.seq);
            (void)r.GetVarint(&snap.taken_gen);
            (void)r.GetU8(&materialized);
            snap.materialized = materialized != 0;
            snap.preserved.assign(l.blocks, 0);
            if (r.status().ok()) {
              names.push_back(name);
              rep.snaps[name] = std::move(snap);
            }
          }
          RecoverSnapshots(l, std::move(names), attempt);
        });
      });
    });
  }

  // Which blocks each snapshot holds in its own file: those whose slot there is whole.
  void RecoverSnapshots(const VolumeLayout& l, std::vector<std::string> names, uint64_t attempt) {
    if (names.empty()) {
      if (--recover_left_ == 0) recovering_ = false;
      return;
    }
    const std::string name = names.back();
    names.pop_back();
    const uint64_t slot = SlotBytes(l);
    RecoverRead(SnapBlocksFile(l.name, name), slot * l.blocks, attempt,
                [this, l, name, slot, names = std::move(names), attempt](Bytes blocks) mutable {
                  Snap& snap = replicas_[l.name].snaps[name];
                  for (uint32_t i = 0; i < l.blocks && (i + 1) * slot <= blocks.size(); ++i) {
                    if (SlotVersion(blocks.data() + i * slot, l.block_size)) snap.preserved[i] = 1;
                  }
                  RecoverSnapshots(l, std::move(names), attempt);
                });
  }

  // Makes sure the volume is in the index on disk before `then` runs. Index
  // writes go one at a time, so two new volumes cannot overwrite each other.
  void Indexed(const VolumeLayout& l, std::function<void(Status)> then) {
    index_queue_.Run([this, l, then](std::function<void()> next) {
      for (const auto& known : indexed_) {
        if (known.name == l.name) {
          then(Status::Ok());
          return next();
        }
      }
      std::vector<VolumeLayout> all = indexed_;
      all.push_back(l);
      wire::Writer w;
      for (const auto& v : all) {
        w.PutString(v.name);
        w.PutVarint(v.block_size);
        w.PutVarint(v.blocks);
      }
      env_.disk().Write(kIndexFile, 0, std::move(w).Finish(), [this, l, then, next](Status s) {
        if (!s.ok()) {
          then(s);
          return next();
        }
        env_.disk().Sync(kIndexFile, [this, l, then, next](Status s2) {
          if (s2.ok()) indexed_.push_back(l);
          then(s2);
          next();
        });
      });
    });
  }

  // Writes `data` at `offset` of `file` and syncs it.
  void WriteSynced(const std::string& file, uint64_t offset, Bytes data, std::function<void(Status)> then) {
    env_.disk().Write(file, offset, std::move(data), [this, file, then](Status s) {
      if (!s.ok()) return then(s);
      env_.disk().Sync(file, then);
    });
  }

  // The list of snapshots, rewritten whole (a length-prefixed list: stale
  // bytes past its end are never read).
  void PersistSnaps(const std::string& volume, Replica& rep, std::function<void(Status)> then) {
    wire::Writer w;
    w.PutVarint(rep.snaps.size());
    for (const auto& [name, snap] : rep.snaps) {
      w.PutString(name);
      w.PutVarint(snap.barrier.gen);
      w.PutVarint(snap.barrier.seq);
      w.PutVarint(snap.taken_gen);
      w.PutU8(snap.materialized ? 1 : 0);
    }
    WriteSynced(SnapsFile(volume), 0, std::move(w).Finish(), std::move(then));
  }

  // The index, then the fence, before anything of a generation is stored:
  // once this replica holds a write of a generation, no older primary may
  // write here again, even after a crash.
  void Admit(Replica* rp, const std::string& volume, uint64_t gen, std::function<void(Status)> then) {
    Indexed(rp->layout, [this, rp, volume, gen, then](Status indexed) {
      if (!indexed.ok() || gen <= rp->durable_fence) return then(indexed);
      Bytes f;
      PutU64(f, gen);
      WriteSynced(FenceFile(volume), 0, std::move(f), [rp, gen, then](Status s) {
        if (s.ok()) {
          rp->fence = std::max(rp->fence, gen);
          rp->durable_fence = std::max(rp->durable_fence, gen);
        }
        then(s);
      });
    });
  }

  void OnWrite(NodeId from, WriteMsg m) {
    Replica& r = EnsureReplica({m.volume, m.block_size, m.blocks});
    const bool carries_block = m.type != kSnap;
    if (r.layout.block_size != m.block_size || r.layout.blocks != m.blocks ||
        (carries_block && (m.block >= r.layout.blocks || m.data.size() != r.layout.block_size))) {
      return;  // not this volume's shape: no answer, the primary times out
    }
    auto msg = std::make_shared<WriteMsg>(std::move(m));
    Replica* rp = &r;
    rp->queue.Run([this, from, msg, rp](std::function<void()> next) {
      const auto ack = [this, from, msg, next, rp](AckStatus s) {
        Transmit(from, EncodeAck(msg->volume, msg->tag, s, rp->fence));
        next();
      };
      if (msg->gen < rp->fence) return ack(kAckFenced);
      Admit(rp, msg->volume, msg->gen, [this, msg, rp, ack](Status admitted) {
        if (!admitted.ok()) return ack(kAckIoError);
        const auto acked = [ack](Status s) { ack(s.ok() ? kAckOk : kAckIoError); };
        if (msg->type == kSnap) return TakeSnapshot(rp, *msg, acked);
        if (msg->type == kSnapBlock) return StoreSnapshotBlock(rp, msg, acked);
        ApplyWrite(rp, msg, acked);
      });
    });
  }

  void ApplyWrite(Replica* rp, std::shared_ptr<WriteMsg> msg, std::function<void(Status)> done) {
    const uint32_t b = msg->block;
    if (!(rp->versions[b] < msg->version)) {
      // As new already (a duplicate, or a copy overtaken by a newer write):
      // acknowledge once it is durable.
      return env_.disk().Sync(BlocksFile(msg->volume), done);
    }
    // Snapshots whose image of this block is what is about to be overwritten.
    std::vector<std::string> cow;
    for (const auto& [name, snap] : rp->snaps) {
      if (!snap.materialized && !snap.preserved[b] && !(snap.barrier < rp->versions[b]) &&
          snap.barrier < msg->version) {
        cow.push_back(name);
      }
    }
    Preserve(rp, msg->volume, b, std::move(cow), [this, rp, msg, done](Status preserved) {
      if (!preserved.ok()) return done(preserved);
      const uint32_t blk = msg->block;
      const Version before = rp->versions[blk];
      const bool had_data = rp->has_data[blk] != 0;
      rp->versions[blk] = msg->version;
      SetHasData(*rp, blk, !AllZero(msg->data.data(), msg->data.size()));
      env_.disk().Write(BlocksFile(msg->volume), blk * SlotBytes(rp->layout), MakeSlot(msg->version, msg->data),
                        [this, rp, msg, before, had_data, done](Status s) {
                          if (!s.ok()) {
                            // What the slot holds now is the checksum's to judge
                            // when read; the version it had is the best claim.
                            rp->versions[msg->block] = before;
                            SetHasData(*rp, msg->block, had_data);
                            return done(s);
                          }
                          rp->damaged[msg->block] = 0;
                          // A failed sync leaves the block readable here but maybe
                          // not durable: the primary takes this replica out of sync.
                          env_.disk().Sync(BlocksFile(msg->volume), done);
                        });
    });
  }

  // Copies the block's current slot into each named snapshot's file, durably,
  // before the block is overwritten.
  void Preserve(Replica* rp, const std::string& volume, uint32_t block, std::vector<std::string> snaps,
                std::function<void(Status)> then) {
    if (snaps.empty()) return then(Status::Ok());
    ReadSlot(rp, volume, block, [this, rp, volume, block, snaps, then](StatusOr<Bytes> slot) {
      if (!slot.ok()) return then(slot.status());
      auto left = std::make_shared<size_t>(snaps.size());
      auto failed = std::make_shared<Status>();
      for (const std::string& name : snaps) {
        WriteSynced(SnapBlocksFile(volume, name), block * SlotBytes(rp->layout), *slot,
                    [this, rp, name, block, left, failed, then](Status s) {
                      auto it = rp->snaps.find(name);
                      if (s.ok() && it != rp->snaps.end()) {
                        it->second.preserved[block] = 1;
                        ++stats_.blocks_preserved;
                      }
                      if (!s.ok() && failed->ok()) *failed = s;
                      if (--*left == 0) then(*failed);
                    });
      }
    });
  }

  // The block's slot in the volume, checked; a never-written block is a
  // slot of zeros at version (0, 0).
  void ReadSlot(Replica* rp, const std::string& volume, uint32_t block, std::function<void(StatusOr<Bytes>)> done) {
    const Version v = rp->versions[block];
    if (rp->damaged[block]) return done(IoError("block " + std::to_string(block) + " of " + volume + " is torn on disk"));
    if (v.gen == 0) return done(MakeSlot(v, Bytes(rp->layout.block_size, 0)));
    const uint64_t slot = SlotBytes(rp->layout);
    env_.disk().Read(BlocksFile(volume), block * slot, slot, [rp, v, block, volume, slot, done](StatusOr<Bytes> b) {
      if (!b.ok()) return done(b.status());
      std::optional<Version> got = b->size() == slot ? SlotVersion(b->data(), rp->layout.block_size) : std::nullopt;
      if (!got || got->gen != v.gen || got->seq != v.seq) {
        return done(IoError("block " + std::to_string(block) + " of " + volume + " fails its checksum"));
      }
      done(std::move(b));
    });
  }

  void TakeSnapshot(Replica* rp, const WriteMsg& m, std::function<void(Status)> done) {
    auto it = rp->snaps.find(m.snapshot);
    if (it != rp->snaps.end()) {
      const Snap& had = it->second;
      if (!had.materialized && had.barrier.gen == m.barrier.gen && had.barrier.seq == m.barrier.seq) {
        return done(Status::Ok());  // a duplicate barrier
      }
      // Taken before by a primary that failed before it was ready: this
      // primary's barrier replaces it, so every replica holds one image.
      rp->snaps.erase(it);
    }
    Snap& snap = rp->snaps[m.snapshot];
    snap.barrier = m.barrier;
    snap.taken_gen = m.gen;
    snap.preserved.assign(rp->layout.blocks, 0);
    const std::string volume = m.volume, name = m.snapshot;
    env_.disk().Remove(SnapBlocksFile(volume, name), [this, rp, volume, name, done](Status removed) {
      if (!removed.ok()) {
        rp->snaps.erase(name);
        return done(removed);
      }
      PersistSnaps(volume, *rp, [rp, name, done](Status s) {
        if (!s.ok()) rp->snaps.erase(name);  // not durable: not taken
        done(s);
      });
    });
  }

  // One block of a snapshot this replica lacks, from the primary, which
  // sends every block of it before counting this replica in sync.
  void StoreSnapshotBlock(Replica* rp, std::shared_ptr<WriteMsg> msg, std::function<void(Status)> done) {
    auto it = rp->snaps.find(msg->snapshot);
    if (it != rp->snaps.end()) {
      const Snap& had = it->second;
      const bool same = had.barrier.gen == msg->barrier.gen && had.barrier.seq == msg->barrier.seq;
      if (same && (!had.materialized || had.preserved[msg->block])) {
        return done(Status::Ok());  // it took this very snapshot itself, or has this block
      }
      if (!same) {
        // Its own copy is of a barrier that never became the snapshot (its
        // primary failed first): the primary's is the one.
        rp->snaps.erase(it);
        it = rp->snaps.end();
      }
    }
    const auto store = [this, rp, msg, done](Status listed) {
      if (!listed.ok()) {
        rp->snaps.erase(msg->snapshot);  // not durably listed: not held
        return done(listed);
      }
      WriteSynced(SnapBlocksFile(msg->volume, msg->snapshot), msg->block * SlotBytes(rp->layout),
                  MakeSlot(msg->version, msg->data), [rp, msg, done](Status s) {
                    auto snap = rp->snaps.find(msg->snapshot);
                    if (s.ok() && snap != rp->snaps.end()) snap->second.preserved[msg->block] = 1;
                    done(s);
                  });
    };
    if (it != rp->snaps.end()) return store(Status::Ok());
    Snap& snap = rp->snaps[msg->snapshot];
    snap.barrier = msg->barrier;
    snap.taken_gen = msg->gen;
    snap.materialized = true;
    snap.preserved.assign(rp->layout.blocks, 0);
    env_.disk().Remove(SnapBlocksFile(msg->volume, msg->snapshot), [this, rp, msg, store](Status removed) {
      if (!removed.ok()) return store(removed);
      PersistSnaps(msg->volume, *rp, store);
    });
  }

  // Frees the snapshots the controller no longer lists.
  void CollectSnapshots(const VolumeRecord& rec) {
    auto it = replicas_.find(rec.layout.name);
    if (it == replicas_.end()) return;
    Replica* rp = &it->second;
    std::vector<std::string> gone;
    for (const auto& [name, snap] : rp->snaps) {
      // Only a record newer than the message that brought the snapshot says
      // it is gone: an older one, late on the wire, predates it.
      if (rec.generation > snap.taken_gen && !rec.FindSnapshot(name)) gone.push_back(name);
    }
    if (gone.empty()) return;
    const std::string volume = rec.layout.name;
    rp->queue.Run([this, rp, volume, gone](std::function<void()> next) {
      for (const std::string& name : gone) rp->snaps.erase(name);
      PersistSnaps(volume, *rp, [this, volume, gone, next](Status) {
        // The list no longer names them: their files are garbage either way.
        for (const std::string& name : gone) env_.disk().Remove(SnapBlocksFile(volume, name), [](Status) {});
        next();
      });
    });
  }

  // Reads one block and its version through the replica's queue, so that it
  // is never torn against a write in progress.
  void ReadLocal(const std::string& volume, uint32_t block, std::function<void(StatusOr<Bytes>, Version)> done) {
    auto it = replicas_.find(volume);
    if (it == replicas_.end()) return done(NotFound("no replica of " + volume), Version{});
    Replica* rp = &it->second;
    rp->queue.Run([this, rp, volume, block, done](std::function<void()> next) {
      const Version v = rp->versions[block];
      ReadSlot(rp, volume, block, [rp, v, done, next](StatusOr<Bytes> slot) {
        if (slot.ok()) slot = Bytes(slot->begin() + kHeaderBytes, slot->end());
        done(std::move(slot), v);
        next();
      });
    });
  }

  // A block of a snapshot, with the version of the write it holds.
  void ReadSnapshotLocal(const std::string& volume, const std::string& snapshot, uint32_t block,
                         std::function<void(StatusOr<Bytes>, Version)> done) {
    auto it = replicas_.find(volume);
    if (it == replicas_.end()) return done(NotFound("no replica of " + volume), Version{});
    Replica* rp = &it->second;
    rp->queue.Run([this, rp, volume, snapshot, block, done](std::function<void()> next) {
      auto snap = rp->snaps.find(snapshot);
      const auto finish = [done, next](StatusOr<Bytes> slot) {
        Version v;
        if (slot.ok()) {
          v = {GetU64(slot->data()), GetU64(slot->data() + 8)};
          slot = Bytes(slot->begin() + kHeaderBytes, slot->end());
        }
        done(std::move(slot), v);
        next();
      };
      if (snap == rp->snaps.end()) return finish(NotFound("no snapshot " + snapshot + " of " + volume + " here"));
      if (snap->second.preserved[block]) {
        const uint64_t slot = SlotBytes(rp->layout);
        env_.disk().Read(SnapBlocksFile(volume, snapshot), block * slot, slot,
                         [rp, block, slot, snapshot, finish](StatusOr<Bytes> b) {
                           if (b.ok() && (b->size() != slot || !SlotVersion(b->data(), rp->layout.block_size))) {
                             b = IoError("block " + std::to_string(block) + " of snapshot " + snapshot +
                                         " fails its checksum");
                           }
                           finish(std::move(b));
                         });
        return;
      }
      if (snap->second.materialized || snap->second.barrier < rp->versions[block]) {
        return finish(IoError("snapshot " + snapshot + " of " + volume + " lacks block " + std::to_string(block) +
                              " here"));
      }
      ReadSlot(rp, volume, block, finish);
    });
  }

  // ---- primaries ----
  struct Pending {
    uint32_t block = 0;
    Version version;
    Bytes data;                // kept to resend under a new generation
    std::set<NodeId> waiting;  // replicas yet to acknowledge
    WriteDone done;            // client writes; empty for a takeover's rewrite and a barrier
    Time deadline{};
    std::vector<std::function<void(bool)>> readers;  // reads that saw it: told when it settles or fails
    std::string snapshot;      // a snapshot barrier (at `version`), not a block
  };
  // A replica of the volume outside the in-sync set.
  struct Lagging {
    enum State { kOut, kCopying, kAdding } state = kOut;
    bool dirty_known = false;          // `dirty` holds every block it may lack
    std::set<uint32_t> dirty;          // blocks written since it left
    std::set<uint64_t> outstanding;    // copies and new writes it has yet to acknowledge
    size_t copies_unsent = 0;          // copies still being read here
    uint64_t round = 0;                // the catch-up the copies in flight belong to
    Time last_progress{}, last_add{};
    Time abandoned{};                  // when its last catch-up failed
    bool snaps_known = false;           // `snaps_missing` holds every snapshot it may lack
    std::set<std::string> snaps_missing;  // snapshots taken since it left
  };
  struct Primary {
    enum Phase { kTakingOver, kServing, kResigned } phase = kTakingOver;
    uint64_t entry = 0;  // which primaryship of this incarnation
    VolumeRecord rec;
    Time lease_until{};
    // Run-flat: while the controller cannot be reached, the primary serves
    // on as long as every other replica it writes to confirms, within a
    // lease, that it has seen no newer generation (a failover elsewhere
    // would have fenced it). `confirmed` holds, per replica, when the newest
    // probe it answered so was sent. A new primary serves only a lease after
    // its takeover began, when every confirmation given before its fences
    // has run out.
    bool granted = false;  // the controller granted this primaryship a lease at least once
    Time serve_after{};
    std::map<NodeId, Time> confirmed;
    std::map<uint64_t, Time> lease_probes;  // tag -> when sent
    Time last_lease_probe{};
    std::map<uint64_t, Pending> pending;  // by tag
    std::map<NodeId, Lagging> lagging;
    std::map<NodeId, Time> removing;      // removals asked for, when
    std::map<NodeId, Time> heard;         // the last answer of each replica, to anything
    std::map<NodeId, uint64_t> newest_acked;  // the newest tag each replica acknowledged
    size_t takeover_left = 0;
    // What the controller last heard of the takeover's progress, and when.
    size_t takeover_reported = std::numeric_limits<size_t>::max();
    Time last_takeover_report{};
    Time last_resync{}, last_report{};
    // Snapshots: the one waiting for writes in flight to settle before its
    // barrier; writes that came meanwhile, sent once it is taken; barriers
    // done here that the controller has yet to mark ready.
    std::string barrier_wanted;
    uint64_t barrier_tag = 0;  // the barrier's pending entry while it is on its way; 0: none
    std::deque<std::tuple<uint32_t, Bytes, WriteDone>> held;
    std::set<std::string> snaps_taken;
  };

  // Every client write asks this: a flag, not a walk of the pending writes.
  static bool BarrierInFlight(const Primary& p) { return !p.barrier_wanted.empty() || p.barrier_tag != 0; }

  static Bytes EncodePending(const VolumeRecord& rec, uint64_t tag, const Pending& pend) {
    WriteMsg m;
    m.type = pend.snapshot.empty() ? kWrite : kSnap;
    m.volume = rec.layout.name;
    m.block_size = rec.layout.block_size;
    m.blocks = rec.layout.blocks;
    m.gen = rec.generation;
    m.tag = tag;
    m.version = pend.version;
    m.block = pend.block;
    m.data = pend.data;
    m.snapshot = pend.snapshot;
    m.barrier = pend.version;
    return EncodeWrite(m);
  }

  static bool Required(const Primary& p, NodeId n) {
    if (p.rec.in_sync.count(n)) return true;
    auto l = p.lagging.find(n);
    return l != p.lagging.end() && l->second.state == Lagging::kAdding;
  }

  void OnAssign(const AssignMsg& a) {
    const VolumeRecord& rec = a.rec;
    const std::string& name = rec.layout.name;
    auto rep = replicas_.find(name);
    if (rep != replicas_.end() && rec.generation > rep->second.fence) {
      // In memory only; persisted with the first write of that generation.
      // Until then a stale primary's write still meets it here, and after a
      // crash the new primary's rewrite supersedes whatever got through.
      rep->second.fence = rec.generation;
    }
    CollectSnapshots(rec);
    auto [known, fresh] = known_primary_.try_emplace(name, rec.generation, rec.primary);
    if (!fresh && rec.generation >= known->second.first) known->second = {rec.generation, rec.primary};
    auto it = primaries_.find(name);
    if (rec.primary != env_.self()) {
      if (it != primaries_.end() && rec.generation > it->second.rec.generation) StepDown(it);
      return;
    }
    if (it == primaries_.end()) {
      if (a.grant == nonce_) {
        TakeOver(rec);
      } else {
        Claim(name, rec.generation);
      }
      return;
    }
    Primary& p = it->second;
    if (rec.generation < p.rec.generation) return;
    if (a.grant != nonce_) {
      // Named again, but under another primaryship (a failover came and went
      // while this node heard nothing): what it holds may be stale, so it
      // starts over with a claim and a takeover.
      StepDown(it);
      Claim(name, rec.generation);
      return;
    }
    if (p.phase == Primary::kResigned) {
      // Resigned, and still the primary: no other replica is in sync, so
      // try again under a new claim (the disk error may have passed).
      if (rec.in_sync.size() == 1) {
        StepDown(it);
        Claim(name, rec.generation);
      }
      return;
    }
    if (rec.generation > p.rec.generation) Reconfigure(p, rec);
    if (a.lease_from >= 0 && rec.generation == p.rec.generation) {
      p.lease_until = Time{} + Duration(a.lease_from) + options_.lease;
      p.granted = true;
    }
    MaybeStartBarrier(p);
  }

  // Asks the controller for the volume under a fresh generation. At most one
  // claim per generation and ack timeout: every Assign, duplicated or not,
  // would otherwise answer with a claim, and every claim with an Assign.
  void Claim(const std::string& volume, uint64_t gen) {
    const Time now = env_.now();
    auto [it, fresh] = claimed_.try_emplace(volume, gen, now);
    if (!fresh) {
      if (it->second.first == gen && now - it->second.second < options_.ack_timeout) return;
      it->second = {gen, now};
    }
    ToController(EncodeRequest(kClaim, volume, gen, nonce_));
  }

  // The controller changed the volume (a replica out, in, or replaced).
  void Reconfigure(Primary& p, const VolumeRecord& rec) {
    const VolumeRecord old = p.rec;
    const auto has = [](const std::vector<NodeId>& v, NodeId n) { return std::find(v.begin(), v.end(), n) != v.end(); };
    for (NodeId n : old.in_sync) {
      if (rec.in_sync.count(n) || !has(rec.replicas, n)) continue;
      Lagging& l = p.lagging[n];
      l = Lagging{};
      l.dirty_known = true;  // what it lacks: what it had not acknowledged, and every later write
      l.snaps_known = true;  // in sync until now, it holds every snapshot taken so far
      for (const auto& [tag, pend] : p.pending) {
        if (pend.waiting.count(n)) l.dirty.insert(pend.block);
      }
    }
    for (NodeId n : rec.replicas) {
      if (!rec.in_sync.count(n) && !p.lagging.count(n)) p.lagging[n];  // new here: copy everything
    }
    for (auto it = p.lagging.begin(); it != p.lagging.end();) {
      if (rec.in_sync.count(it->first) || !has(rec.replicas, it->first)) {
        it = p.lagging.erase(it);
        continue;
      }
      if (it->second.state == Lagging::kAdding) it->second.state = Lagging::kOut;  // its addition is void
      for (auto m = it->second.snaps_missing.begin(); m != it->second.snaps_missing.end();) {
        m = rec.FindSnapshot(*m) ? std::next(m) : it->second.snaps_missing.erase(m);  // deleted: nothing to send
      }
      ++it;
    }
    for (auto t = p.snaps_taken.begin(); t != p.snaps_taken.end();) {
      const SnapshotRecord* snap = rec.FindSnapshot(*t);
      t = snap && !snap->ready ? std::next(t) : p.snaps_taken.erase(t);
    }
    p.removing.clear();
    p.rec = rec;
    // Writes in flight go again under the new generation, which replicas
    // that heard of it will take.
    const Time now = env_.now();
    std::vector<uint64_t> tags;
    for (auto& [tag, pend] : p.pending) {
      tags.push_back(tag);
      pend.deadline = now + options_.ack_timeout;
      const Bytes msg = EncodePending(rec, tag, pend);
      for (NodeId n : pend.waiting) {
        if (Required(p, n)) Transmit(n, msg);
      }
    }
    for (uint64_t tag : tags) {
      auto it = p.pending.find(tag);
      if (it != p.pending.end()) Settle(p, it);
    }
  }

  void StepDown(std::map<std::string, Primary>::iterator it) {
    std::vector<WriteDone> failed;
    std::vector<std::function<void(bool)>> readers;
    for (auto& [tag, pend] : it->second.pending) {
      if (pend.done) failed.push_back(std::move(pend.done));
      for (auto& r : pend.readers) readers.push_back(std::move(r));
    }
    for (auto& held : it->second.held) failed.push_back(std::move(std::get<2>(held)));
    const std::string volume = it->first;
    primaries_.erase(it);
    for (auto& done : failed) {
      ++stats_.writes_failed;
      done(Unavailable("no longer the primary of " + volume));
    }
    for (auto& r : readers) r(false);
  }

  void TakeOver(const VolumeRecord& rec) {
    const std::string name = rec.layout.name;
    EnsureReplica(rec.layout);  // a new volume's first primary holds nothing yet
    Primary& p = primaries_[name];
    p.rec = rec;
    p.entry = ++entries_;
    p.serve_after = env_.now() + options_.lease;
    for (NodeId n : rec.replicas) {
      if (!rec.in_sync.count(n)) p.lagging[n];  // what it lacks is unknown here: copy everything
    }
    ++stats_.takeovers;
    // Nobody has served a pristine volume: every replica holds only zeros, as
    // this one does. One block rewritten is enough to fence every replica at
    // this generation (what lets them confirm the primary's leases).
    const bool pristine = rec.pristine && rec.clone_from.volume.empty() && p.lagging.empty();
    const uint32_t rewrite = pristine ? 1 : rec.layout.blocks;
    p.takeover_left = rewrite;
    for (uint32_t b = 0; b < rewrite; ++b) {
      // The entry, not the generation, identifies the takeover: the
      // controller may change the volume again while it runs.
      auto rewrite = [this, name, entry = p.entry, b](StatusOr<Bytes> data, Version) {
        auto it = primaries_.find(name);
        if (it == primaries_.end() || it->second.entry != entry || it->second.phase != Primary::kTakingOver) {
          return;
        }
        if (!data.ok()) return Resign(name, it->second);
        Send(it->second, b, std::move(*data), nullptr);
      };
      // A clone not yet seeded takes its blocks from its source's snapshot,
      // which this node holds as an in-sync replica of the source.
      if (rec.clone_from.volume.empty()) {
        ReadLocal(name, b, rewrite);
      } else {
        ReadSnapshotLocal(rec.clone_from.volume, rec.clone_from.snapshot, b, rewrite);
      }
    }
  }

  void Renew(const std::string& volume, const Primary& p) {
    ToController(EncodeRequest(kRenew, volume, p.rec.generation, static_cast<uint64_t>(ToNanos(env_.now()))));
  }

  // This node's own replica failed: stop serving and let the controller fail over.
  void Resign(const std::string& volume, Primary& p) {
    if (p.phase == Primary::kResigned) return;
    p.phase = Primary::kResigned;
    p.lease_until = Time{};
    ToController(EncodeRequest(kRemove, volume, p.rec.generation, env_.self()));
  }

  void RequestRemoval(const std::string& volume, Primary& p, NodeId node) {
    if (node == env_.self()) return Resign(volume, p);
    const Time now = env_.now();
    auto it = p.removing.find(node);
    if (it != p.removing.end() && now - it->second < options_.ack_timeout) return;
    p.removing[node] = now;
    ToController(EncodeRequest(kRemove, volume, p.rec.generation, node));
  }

  // Sends one block write under a new version to every replica that must
  // have it, and to those catching up; `done` (client writes) runs once the
  // in-sync replicas all hold it.
  void Send(Primary& p, uint32_t block, Bytes data, WriteDone done) {
    const uint64_t tag = next_tag_++;
    Pending pend;
    pend.block = block;
    pend.version = {p.rec.generation, next_seq_++};
    pend.done = std::move(done);
    pend.deadline = env_.now() + options_.ack_timeout;
    for (NodeId n : p.rec.replicas) {
      if (Required(p, n)) pend.waiting.insert(n);
    }
    pend.data = std::move(data);
    const Bytes msg = EncodePending(p.rec, tag, pend);
    for (NodeId n : pend.waiting) Transmit(n, msg);
    for (auto& [n, l] : p.lagging) {
      l.dirty.insert(block);
      if (l.state == Lagging::kCopying) {
        l.outstanding.insert(tag);
        Transmit(n, msg);
      }
    }
    p.pending.emplace(tag, std::move(pend));
  }

  // The replicas whose confirmation run-flat serving needs: every other one
  // this primary writes to (in sync, or being added back).
  std::vector<NodeId> Peers(const Primary& p) const {
    std::vector<NodeId> peers;
    for (NodeId n : p.rec.replicas) {
      if (n == env_.self()) continue;
      auto lag = p.lagging.find(n);
      if (p.rec.in_sync.count(n) || (lag != p.lagging.end() && lag->second.state != Lagging::kOut)) peers.push_back(n);
    }
    return peers;
  }

  // Until when the other replicas' confirmations let this primary serve.
  Time PeerLease(const Primary& p) const {
    Time until = Time::max();
    for (NodeId n : Peers(p)) {
      auto c = p.confirmed.find(n);
      if (c == p.confirmed.end()) return Time{};
      until = std::min(until, c->second + options_.lease);
    }
    return until;
  }

  void ProbePeers(const std::string& name, Primary& p) {
    const Time now = env_.now();
    if (now - p.last_lease_probe < options_.lease / 4) return;
    p.last_lease_probe = now;
    for (auto it = p.lease_probes.begin(); it != p.lease_probes.end();)
      it = now - it->second > options_.lease * 2 ? p.lease_probes.erase(it) : std::next(it);
    for (NodeId n : Peers(p)) p.lease_probes[Probe(name, p, n)] = now;
  }

  // Asks replica `n` whether it is there (and what generation it has seen);
  // returns the probe's tag.
  uint64_t Probe(const std::string& name, const Primary& p, NodeId n) {
    WriteMsg probe;
    probe.type = kProbe;
    probe.volume = name;
    probe.block_size = p.rec.layout.block_size;
    probe.blocks = p.rec.layout.blocks;
    probe.gen = p.rec.generation;
    probe.tag = next_tag_++;
    Transmit(n, EncodeWrite(probe));
    return probe.tag;
  }

  // Completes a pending write once no replica it waits for is still required.
  void Settle(Primary& p, std::map<uint64_t, Pending>::iterator it) {
    for (NodeId n : it->second.waiting) {
      if (Required(p, n)) return;
    }
    WriteDone done = std::move(it->second.done);
    std::vector<std::function<void(bool)>> readers = std::move(it->second.readers);
    const std::string snapshot = std::move(it->second.snapshot);
    const bool rewrite = !done && snapshot.empty();
    p.pending.erase(it);
    for (auto& r : readers) r(true);
    if (rewrite && p.phase == Primary::kTakingOver && --p.takeover_left == 0) {
      p.phase = Primary::kServing;
      Renew(p.rec.layout.name, p);  // serves once the controller grants the lease
      if (!p.rec.clone_from.volume.empty()) Report(kSeeded, p, {});
    }
    if (done) {
      ++stats_.writes_acked;
      done(Status::Ok());  // may call Write or Read, never destroy this primary
    }
    if (!snapshot.empty()) SnapshotTaken(p, snapshot);
    TryBarrier(p);
  }

  void Report(Type type, const Primary& p, const std::string& snapshot) {
    ToController(EncodeRequest(type, p.rec.layout.name, p.rec.generation, 0, snapshot));
  }

  // Takes the next snapshot the controller asked for, once serving.
  void MaybeStartBarrier(Primary& p) {
    if (p.phase != Primary::kServing || BarrierInFlight(p)) return;
    for (const SnapshotRecord& snap : p.rec.snapshots) {
      if (!snap.ready && !p.snaps_taken.count(snap.name)) {
        p.barrier_wanted = snap.name;  // writes are held from now on
        return TryBarrier(p);
      }
    }
  }

  // Sends the barrier once the writes before it have settled: every write
  // acknowledged before it is then in the snapshot, and none after it.
  void TryBarrier(Primary& p) {
    if (p.barrier_wanted.empty()) return;
    for (const auto& [tag, pend] : p.pending) {
      if (pend.done) return;
    }
    const uint64_t tag = next_tag_++;
    Pending pend;
    pend.snapshot = std::move(p.barrier_wanted);
    p.barrier_wanted.clear();
    pend.version = {p.rec.generation, next_seq_++};
    pend.deadline = env_.now() + options_.ack_timeout;
    for (NodeId n : p.rec.replicas) {
      if (Required(p, n)) pend.waiting.insert(n);
    }
    const Bytes msg = EncodePending(p.rec, tag, pend);
    for (NodeId n : pend.waiting) Transmit(n, msg);
    p.pending.emplace(tag, std::move(pend));
    p.barrier_tag = tag;
  }

  // Every replica that must have the snapshot holds it.
  void SnapshotTaken(Primary& p, const std::string& snapshot) {
    p.barrier_tag = 0;
    ++stats_.snapshots_taken;
    p.snaps_taken.insert(snapshot);
    Report(kSnapDone, p, snapshot);
    for (auto& [n, l] : p.lagging) {
      l.snaps_missing.insert(snapshot);
      if (l.state == Lagging::kCopying) Abandon(l);  // it starts again, the snapshot included
    }
    auto held = std::move(p.held);
    p.held.clear();
    const std::string volume = p.rec.layout.name;
    for (auto& [block, data, done] : held) Write(volume, block, std::move(data), std::move(done));
  }

  void Abandon(Lagging& l) {
    l.state = Lagging::kOut;
    l.abandoned = env_.now();
    l.outstanding.clear();
    l.copies_unsent = 0;
  }

  void MaybeAdd(const std::string& volume, const Primary& p, NodeId n, Lagging& l) {
    if (l.state != Lagging::kCopying || l.copies_unsent > 0 || !l.outstanding.empty()) return;
    if (BarrierInFlight(p)) return;  // once taken, it is added to what this replica lacks
    // It holds everything: from now on every write waits for it too, so it
    // misses nothing between this request and the controller's answer.
    l.state = Lagging::kAdding;
    l.last_add = env_.now();
    ToController(EncodeRequest(kAdd, volume, p.rec.generation, n));
  }

  void StartCatchUp(const std::string& volume, Primary& p, NodeId n, Lagging& l) {
    std::vector<uint32_t> blocks;
    if (l.dirty_known) {
      blocks.assign(l.dirty.begin(), l.dirty.end());
    } else {
      for (uint32_t b = 0; b < p.rec.layout.blocks; ++b) blocks.push_back(b);
    }
    std::vector<std::string> snaps;
    if (l.snaps_known) {
      snaps.assign(l.snaps_missing.begin(), l.snaps_missing.end());
    } else {
      for (const SnapshotRecord& snap : p.rec.snapshots) {
        if (snap.ready || p.snaps_taken.count(snap.name)) snaps.push_back(snap.name);
      }
    }
    l.state = Lagging::kCopying;
    l.round = ++rounds_;
    l.last_progress = env_.now();
    l.outstanding.clear();
    // Writes still in flight went out before it was copying, and the copies
    // read this node's replica, which may not hold them yet: they go to it
    // too, and it is added back only once it has acknowledged them.
    for (const auto& [tag, pend] : p.pending) {
      if (!pend.snapshot.empty()) continue;  // barriers: it gets taken snapshots whole
      l.outstanding.insert(tag);
      Transmit(n, EncodePending(p.rec, tag, pend));
    }
    l.copies_unsent = blocks.size() + snaps.size() * p.rec.layout.blocks;
    if (l.copies_unsent == 0) return MaybeAdd(volume, p, n, l);
    // Snapshots it lacks go whole; it keeps them as they are sent.
    for (const std::string& snap : snaps) {
      for (uint32_t b = 0; b < p.rec.layout.blocks; ++b) {
        ReadSnapshotLocal(volume, snap, b, [this, volume, snap, n, b, round = l.round](StatusOr<Bytes> data, Version v) {
          Copy(volume, n, round, b, std::move(data), v, snap);
        });
      }
    }
    for (uint32_t b : blocks) {
      ReadLocal(volume, b, [this, volume, n, b, round = l.round](StatusOr<Bytes> data, Version v) {
        Copy(volume, n, round, b, std::move(data), v, {});
      });
    }
  }

  // Sends one copied block (of the volume, or of `snapshot`) to a replica
  // catching up, if that catch-up round is still on.
  void Copy(const std::string& volume, NodeId n, uint64_t round, uint32_t block, StatusOr<Bytes> data, Version v,
            const std::string& snapshot) {
    auto it = primaries_.find(volume);
    if (it == primaries_.end()) return;
    Primary& q = it->second;
    auto lit = q.lagging.find(n);
    if (lit == q.lagging.end() || lit->second.round != round || lit->second.state != Lagging::kCopying) return;
    Lagging& lag = lit->second;
    if (!data.ok()) {
      Abandon(lag);
      // A snapshot deleted meanwhile is no fault of this replica: try again.
      if (snapshot.empty() || data.status().code() != StatusCode::kNotFound) Resign(volume, q);
      return;
    }
    const uint64_t tag = next_tag_++;
    lag.outstanding.insert(tag);
    --lag.copies_unsent;
    WriteMsg m;
    m.type = snapshot.empty() ? kWrite : kSnapBlock;
    m.volume = volume;
    m.block_size = q.rec.layout.block_size;
    m.blocks = q.rec.layout.blocks;
    m.gen = q.rec.generation;
    m.tag = tag;
    // The copy keeps the block's version, so it never rolls back a newer
    // write the replica already has from this primary.
    m.version = v;
    m.block = block;
    m.data = std::move(*data);
    if (!snapshot.empty()) {
      m.snapshot = snapshot;
      m.barrier = replicas_.at(volume).snaps.at(snapshot).barrier;  // held here: the read just succeeded
    }
    Transmit(n, EncodeWrite(m));
  }

  void OnAck(NodeId from, const std::string& volume, uint64_t tag, AckStatus status, uint64_t fence) {
    auto pit = primaries_.find(volume);
    if (pit == primaries_.end()) return;
    Primary& p = pit->second;
    p.heard[from] = env_.now();
    if (auto probe = p.lease_probes.find(tag); probe != p.lease_probes.end()) {
      // An in-sync replica holds a fence of at least its first generation; 0
      // is a replica that holds nothing (new, or still recovering its disk).
      if (status == kAckOk && fence != 0 && fence <= p.rec.generation) {
        Time& c = p.confirmed[from];
        c = std::max(c, probe->second);
      } else if (fence > p.rec.generation) {
        Renew(volume, p);
      }
      return;
    }
    uint64_t& newest = p.newest_acked[from];
    newest = std::max(newest, tag);
    auto lag = p.lagging.find(from);
    // It is back: copy now, not at the next round — on a good answer, and not
    // again straight after a catch-up failed (every answer to that round's
    // messages would start another, each sending the writes in flight anew).
    if (lag != p.lagging.end() && lag->second.state == Lagging::kOut && p.phase == Primary::kServing &&
        status == kAckOk && env_.now() - lag->second.abandoned >= options_.ack_timeout) {
      StartCatchUp(volume, p, from, lag->second);
    }
    if (lag != p.lagging.end() && lag->second.outstanding.erase(tag)) {
      ++stats_.blocks_resynced;
      if (status == kAckOk) {
        lag->second.last_progress = env_.now();
        MaybeAdd(volume, p, from, lag->second);
      } else {
        Abandon(lag->second);
      }
    }
    if (status == kAckFenced) {
      // Refused for its generation: either the controller moved on (its
      // answer to a renewal says how), or the message left before this
      // primary's last change and went again under the new generation.
      if (fence > p.rec.generation) Renew(volume, p);
      return;
    }
    auto it = p.pending.find(tag);
    if (it == p.pending.end()) return;
    if (status != kAckOk) {
      if (Required(p, from)) RequestRemoval(volume, p, from);
      return;
    }
    it->second.waiting.erase(from);
    Settle(p, it);
  }

  void Tick() {
    const Time now = env_.now();
    for (auto& [name, p] : primaries_) {
      if (p.phase == Primary::kServing && now >= p.lease_until - options_.lease * 2 / 3) {
        Renew(name, p);
        ProbePeers(name, p);
      }
      // A takeover is alive while it makes progress; a stuck one goes quiet
      // and the controller moves the volume on.
      if (p.phase == Primary::kTakingOver && p.takeover_left < p.takeover_reported &&
          now - p.last_takeover_report >= options_.lease / 4) {
        p.takeover_reported = p.takeover_left;
        p.last_takeover_report = now;
        ToController(EncodeRequest(kTakeover, name, p.rec.generation, p.takeover_left));
      }
      // A replica that answers nothing for a timeout leaves the in-sync set.
      // One that answers, but not this write, is busy (it takes writes in
      // order) or lost it (it answered later ones): then it gets it again.
      // This node's own replica is never timed out: its failures come back
      // as errors, and a slow disk only slows the volume.
      for (auto& [tag, pend] : p.pending) {
        if (now < pend.deadline) continue;
        pend.deadline = now + options_.ack_timeout;
        for (NodeId n : pend.waiting) {
          if (!Required(p, n) || n == env_.self()) continue;
          auto heard = p.heard.find(n);
          if (heard == p.heard.end() || now - heard->second > options_.ack_timeout) {
            RequestRemoval(name, p, n);
          } else if (p.newest_acked[n] > tag) {
            Transmit(n, EncodePending(p.rec, tag, pend));
          }
        }
      }
      for (auto& [n, l] : p.lagging) {
        if (l.state == Lagging::kCopying && now - l.last_progress > options_.ack_timeout) {
          Abandon(l);
        } else if (l.state == Lagging::kAdding && now - l.last_add >= options_.resync_interval) {
          l.last_add = now;  // the request or its answer may have been lost
          ToController(EncodeRequest(kAdd, name, p.rec.generation, n));
        }
      }
      // Replicas out of sync are probed, and copied to once they answer,
      // rather than sent every block they lack while they are away.
      if (p.phase == Primary::kServing && now - p.last_resync >= options_.resync_interval) {
        p.last_resync = now;
        for (auto& [n, l] : p.lagging) {
          if (l.state != Lagging::kOut) continue;
          auto heard = p.heard.find(n);
          if (heard != p.heard.end() && now - heard->second <= options_.ack_timeout) {
            StartCatchUp(name, p, n, l);
          } else {
            Probe(name, p, n);
          }
        }
      }
      // Reports the controller may not have heard.
      if (p.phase == Primary::kServing && now - p.last_report >= options_.resync_interval) {
        p.last_report = now;
        for (const std::string& snap : p.snaps_taken) Report(kSnapDone, p, snap);
        if (!p.rec.clone_from.volume.empty()) Report(kSeeded, p, {});
        MaybeStartBarrier(p);
      }
    }
    timer_ = env_.Schedule(options_.ack_timeout / 2, [this] { Tick(); });
  }

  void OnMessage(NodeId from, ByteView bytes) {
    if (recovering_) return;  // the sender retries or times out
    wire::Reader r(bytes);
    wire::Header h;
    if (!wire::ReadHeader(r, kMagic, kVersion, &h).ok()) return;
    if (h.type == kAssign) {
      AssignMsg a;
      if (!GetRecord(r, &a.rec).ok()) return;
      (void)r.GetU64(&a.grant);
      (void)r.GetI64(&a.lease_from);
      if (r.ExpectEnd().ok() && from == controller_ && a.rec.in_sync.count(a.rec.primary)) OnAssign(a);
    } else if (h.type == kWrite || h.type == kSnap || h.type == kSnapBlock) {
      WriteMsg m;
      if (DecodeWrite(r, static_cast<Type>(h.type), &m).ok()) OnWrite(from, std::move(m));
    } else if (h.type == kProbe) {
      WriteMsg m;
      if (!DecodeWrite(r, kProbe, &m).ok()) return;
      // The fence says what generation it has seen: 0 when it holds nothing
      // of the volume yet (new, or still recovering), which vouches for nothing.
      auto rep = replicas_.find(m.volume);
      Transmit(from, EncodeAck(m.volume, m.tag, kAckOk, rep == replicas_.end() ? 0 : rep->second.fence));
    } else if (h.type == kAck) {
      std::string volume;
      uint64_t tag = 0, fence = 0;
      uint8_t status = 0;
      (void)r.GetString(kMaxName, &volume);
      (void)r.GetVarint(&tag);
      (void)r.GetU8(&status);
      (void)r.GetVarint(&fence);
      if (r.ExpectEnd().ok() && status <= kAckIoError) OnAck(from, volume, tag, static_cast<AckStatus>(status), fence);
    }
  }

  Env& env_;
  NodeId controller_;
  ReplicationOptions options_;
  const uint64_t nonce_;  // this incarnation's: claims carry it, grants echo it
  bool recovering_ = true;
  uint64_t recover_attempt_ = 0;
  size_t recover_left_ = 0;  // volumes still loading
  TimerId recover_timer_ = kNoTimer;
  std::vector<VolumeLayout> indexed_;
  TaskQueue index_queue_;
  std::map<std::string, Replica> replicas_;
  std::map<std::string, Primary> primaries_;
  std::map<std::string, std::pair<uint64_t, NodeId>> known_primary_;  // volume -> (generation, primary)
  std::map<std::string, std::pair<uint64_t, Time>> claimed_;          // volume -> (generation, when) of the last claim
  uint64_t next_tag_ = 1;
  uint64_t next_seq_ = 1;  // per incarnation: its generations are its own
  uint64_t rounds_ = 0;
  uint64_t entries_ = 0;
  TimerId timer_ = kNoTimer;
};

void StorageNode::Impl::Write(const std::string& volume, uint32_t block, Bytes data, WriteDone done) {
  auto it = primaries_.find(volume);
  if (it == primaries_.end() || !Serving(volume)) {
    return done(Unavailable("node " + std::to_string(env_.self()) + " is not serving volume " + volume));
  }
  Primary& p = it->second;
  if (block >= p.rec.layout.blocks || data.size() != p.rec.layout.block_size) {
    return done(InvalidArgument("block " + std::to_string(block) + " of " + volume + ": out of range or not " +
                                std::to_string(p.rec.layout.block_size) + " bytes"));
  }
  if (BarrierInFlight(p)) {
    p.held.emplace_back(block, std::move(data), std::move(done));
    return;
  }
  Send(p, block, std::move(data), std::move(done));
}

void StorageNode::Impl::ReadSnapshot(const std::string& volume, const std::string& snapshot, uint32_t block,
                                     ReadDone done) {
  auto it = primaries_.find(volume);
  if (it == primaries_.end() || !Serving(volume)) {
    return done(Unavailable("node " + std::to_string(env_.self()) + " is not serving volume " + volume));
  }
  const SnapshotRecord* snap = it->second.rec.FindSnapshot(snapshot);
  if (!snap || !snap->ready) return done(NotFound("volume " + volume + " has no ready snapshot " + snapshot));
  if (block >= it->second.rec.layout.blocks) return done(InvalidArgument("block out of range"));
  ReadSnapshotLocal(volume, snapshot, block, [done](StatusOr<Bytes> data, Version) { done(std::move(data)); });
}

void StorageNode::Impl::DiffSnapshots(const std::string& volume, const std::string& base, const std::string& snapshot,
                                      std::function<void(StatusOr<std::vector<uint32_t>>)> done) {
  auto it = primaries_.find(volume);
  if (it == primaries_.end() || !Serving(volume)) {
    return done(Unavailable("node " + std::to_string(env_.self()) + " is not serving volume " + volume));
  }
  std::vector<std::string> names = {snapshot};
  if (!base.empty()) names.push_back(base);
  for (const std::string& name : names) {
    const SnapshotRecord* snap = it->second.rec.FindSnapshot(name);
    if (!snap || !snap->ready) return done(NotFound("volume " + volume + " has no ready snapshot " + name));
  }
  struct Diff {
    size_t left;
    std::vector<uint64_t> base, next;  // content hashes
    Status status;
  };
  const uint32_t blocks = it->second.rec.layout.blocks;
  const uint64_t zeros = SlotChecksum(Version{}, Bytes(it->second.rec.layout.block_size, 0).data(),
                                      it->second.rec.layout.block_size);
  auto diff = std::make_shared<Diff>(Diff{blocks * (base.empty() ? 1u : 2u), std::vector<uint64_t>(blocks, zeros),
                                          std::vector<uint64_t>(blocks, zeros), Status::Ok()});
  const auto finished = [diff, done] {
    if (--diff->left > 0) return;
    if (!diff->status.ok()) return done(diff->status);
    std::vector<uint32_t> changed;
    for (uint32_t b = 0; b < diff->next.size(); ++b) {
      if (diff->base[b] != diff->next[b]) changed.push_back(b);
    }
    done(std::move(changed));
  };
  // By content, not version: a failover rewrites every block under a new
  // version without changing a byte, and that must not make the next
  // incremental backup a full one.
  const auto hash_into = [diff, finished](std::vector<uint64_t> Diff::*side, uint32_t b) {
    return [diff, finished, side, b](StatusOr<Bytes> data, Version) {
      if (data.ok()) {
        ((*diff).*side)[b] = SlotChecksum(Version{}, data->data(), data->size());
      } else if (diff->status.ok()) {
        diff->status = data.status();
      }
      finished();
    };
  };
  for (uint32_t b = 0; b < blocks; ++b) {
    ReadSnapshotLocal(volume, snapshot, b, hash_into(&Diff::next, b));
    if (!base.empty()) ReadSnapshotLocal(volume, base, b, hash_into(&Diff::base, b));
  }
}

void StorageNode::Impl::Restore(const std::string& volume, const std::string& snapshot, WriteDone done) {
  auto it = primaries_.find(volume);
  if (it == primaries_.end() || !Serving(volume)) {
    return done(Unavailable("node " + std::to_string(env_.self()) + " is not serving volume " + volume));
  }
  const SnapshotRecord* snap = it->second.rec.FindSnapshot(snapshot);
  if (!snap || !snap->ready) return done(NotFound("volume " + volume + " has no ready snapshot " + snapshot));
  struct Progress {
    size_t left;
    Status status;
    WriteDone done;
  };
  const uint32_t blocks = it->second.rec.layout.blocks;
  auto progress = std::make_shared<Progress>(Progress{blocks, Status::Ok(), std::move(done)});
  const auto finished = [progress](Status s) {
    if (!s.ok() && progress->status.ok()) progress->status = s;
    if (--progress->left == 0) progress->done(progress->status);
  };
  for (uint32_t b = 0; b < blocks; ++b) {
    ReadSnapshotLocal(volume, snapshot, b, [this, volume, b, finished](StatusOr<Bytes> image, Version image_version) {
      if (!image.ok()) return finished(image.status());
      const Replica& rep = replicas_.at(volume);
      const Version live = rep.versions[b];
      if (live.gen == image_version.gen && live.seq == image_version.seq) return finished(Status::Ok());
      Write(volume, b, std::move(*image), finished);
    });
  }
}

void StorageNode::Impl::Read(const std::string& volume, uint32_t block, ReadDone done) {
  auto it = primaries_.find(volume);
  if (it == primaries_.end() || !Serving(volume)) {
    return done(Unavailable("node " + std::to_string(env_.self()) + " is not serving volume " + volume));
  }
  if (block >= it->second.rec.layout.blocks) return done(InvalidArgument("block out of range"));
  const uint64_t gen = it->second.rec.generation;
  ReadLocal(volume, block, [this, volume, gen, done](StatusOr<Bytes> data, Version v) {
    // The lease must still hold when the data is in hand.
    auto p = primaries_.find(volume);
    if (p == primaries_.end() || p->second.rec.generation != gen || !Serving(volume)) {
      return done(Unavailable("lost volume " + volume + " while reading"));
    }
    if (!data.ok()) {
      Resign(volume, p->second);  // another in-sync replica may still have it
      return done(std::move(data));
    }
    // A value is readable only once it is acknowledged: one still on its way
    // to the replicas could vanish in a failover after a reader saw it.
    for (auto& [tag, pend] : p->second.pending) {
      if (pend.version.gen == v.gen && pend.version.seq == v.seq) {
        pend.readers.push_back([this, volume, gen, done, data = std::move(*data)](bool settled) {
          if (!settled || !Serving(volume) || primaries_.at(volume).rec.generation != gen) {
            return done(Unavailable("lost volume " + volume + " while reading"));
          }
          done(data);
        });
        return;
      }
    }
    done(std::move(data));
  });
}

StorageNode::StorageNode(Env& env, NodeId controller, ReplicationOptions options)
    : impl_(std::make_unique<Impl>(env, controller, options)) {}
StorageNode::~StorageNode() = default;
void StorageNode::Write(const std::string& volume, uint32_t block, Bytes data, WriteDone done) {
  impl_->Write(volume, block, std::move(data), std::move(done));
}
void StorageNode::Read(const std::string& volume, uint32_t block, ReadDone done) {
  impl_->Read(volume, block, std::move(done));
}
void StorageNode::ReadSnapshot(const std::string& volume, const std::string& snapshot, uint32_t block,
                               ReadDone done) {
  impl_->ReadSnapshot(volume, snapshot, block, std::move(done));
}
void StorageNode::Restore(const std::string& volume, const std::string& snapshot, WriteDone done) {
  impl_->Restore(volume, snapshot, std::move(done));
}
void StorageNode::DiffSnapshots(const std::string& volume, const std::string& base, const std::string& snapshot,
                                std::function<void(StatusOr<std::vector<uint32_t>>)> done) {
  impl_->DiffSnapshots(volume, base, snapshot, std::move(done));
}
bool StorageNode::Serving(const std::string& volume) const { return impl_->Serving(volume); }
StatusOr<VolumeLayout> StorageNode::Layout(const std::string& volume) const { return impl_->Layout(volume); }
StatusOr<uint64_t> StorageNode::DataBlocks(const std::string& volume) const {
  return impl_->DataBlocks(volume);
}
NodeId StorageNode::KnownPrimary(const std::string& volume) const { return impl_->KnownPrimary(volume); }
const StorageNode::Stats& StorageNode::stats() const { return impl_->stats_; }

}  // namespace edgebed::storage
