#include "core/storage/object_store.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "core/base/hash.h"
#include "core/wire/codec.h"

namespace edgebed::storage {

namespace {

// ---------------------------------------------------------------------------
// The wire protocol.
//
// Every request starts with (after the header) the client's session nonce,
// the server epoch it believes in, its floor (the lowest request id it still
// waits for), the request id and the port to answer to. Every answer starts
// with the server's epoch, the nonce and id it answers, and a status.

constexpr uint16_t kMagic = 0x534f;  // "OS"
constexpr uint8_t kVersion = 1;
constexpr uint64_t kMaxChunks = 4096;
constexpr size_t kMaxWireName = 4096;  // parsed this far so that a long name gets an answer
constexpr size_t kMaxStatusText = 256;

enum Type : uint16_t {
  // client -> server
  kHello = 1,
  kPutChunk = 2,
  kPutStatus = 3,
  kGet = 4,
  kHead = 5,
  kList = 6,
  kDelete = 7,
  // server -> client
  kWelcome = 16,
  kPutReply = 17,
  kGetReply = 18,
  kHeadReply = 19,
  kListReply = 20,
  kDeleteReply = 21,
};

// What a kPutReply says about the upload.
enum PutState : uint8_t {
  kStored = 0,     // the chunk is on disk (not yet synced)
  kCommitted = 1,  // the object is durable and visible
  kReceived = 2,   // a bitmap of the chunks the server holds: send the others
  kRestart = 3,    // the upload was lost (a disk error): send every chunk again
};

struct RequestHead {
  uint64_t nonce = 0, epoch = 0, floor = 0, id = 0;
  uint16_t reply_port = 0;
};

void PutRequestHead(wire::Writer& w, Type type, const RequestHead& q) {
  wire::WriteHeader(w, {kMagic, kVersion, type});
  w.PutU64(q.nonce);
  w.PutU64(q.epoch);
  w.PutVarint(q.floor);
  w.PutVarint(q.id);
  w.PutU16(q.reply_port);
}

void GetRequestHead(wire::Reader& r, RequestHead* q) {
  (void)r.GetU64(&q->nonce);
  (void)r.GetU64(&q->epoch);
  (void)r.GetVarint(&q->floor);
  (void)r.GetVarint(&q->id);
  (void)r.GetU16(&q->reply_port);
}

struct ReplyHead {
  uint64_t epoch = 0, nonce = 0, id = 0;
  Status status;
};

wire::Writer StartReply(Type type, uint64_t epoch, uint64_t nonce, uint64_t id, const Status& s) {
  wire::Writer w;
  wire::WriteHeader(w, {kMagic, kVersion, type});
  w.PutU64(epoch);
  w.PutU64(nonce);
  w.PutVarint(id);
  w.PutU8(static_cast<uint8_t>(s.code()));
  w.PutString(std::string_view(s.message()).substr(0, kMaxStatusText));
  return w;
}

Status GetReplyHead(wire::Reader& r, ReplyHead* a) {
  uint8_t code = 0;
  std::string message;
  (void)r.GetU64(&a->epoch);
  (void)r.GetU64(&a->nonce);
  (void)r.GetVarint(&a->id);
  (void)r.GetU8(&code);
  (void)r.GetString(kMaxStatusText, &message);
  if (!r.status().ok()) return r.status();
  if (code > static_cast<uint8_t>(StatusCode::kInternal)) return Corruption("unknown status code");
  a->status = code == 0 ? Status::Ok() : Status(static_cast<StatusCode>(code), std::move(message));
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Objects, chunks and digests.

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

// Checksums of chunks and log records (XXH3: 20x a byte-at-a-time hash).
uint64_t Sum(const uint8_t* p, size_t n) { return Hash64(p, n); }
uint64_t FnvU64(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) h = (h ^ static_cast<uint8_t>(v >> (8 * i))) * kFnvPrime;
  return h;
}

uint64_t ChunkCount(uint64_t size, uint64_t chunk_size) { return size == 0 ? 1 : (size - 1) / chunk_size + 1; }
uint64_t ChunkLength(uint64_t size, uint64_t chunk_size, uint64_t index) {
  const uint64_t offset = index * chunk_size;
  return offset >= size ? 0 : std::min(chunk_size, size - offset);
}

// The digest of an object: of its size and the hash of each chunk, so that
// the server computes it from chunks arriving in any order and the client
// from the whole object.
uint64_t CombineDigest(uint64_t size, const std::vector<uint64_t>& chunk_hashes) {
  uint64_t h = FnvU64(kFnvOffset, size);
  for (uint64_t c : chunk_hashes) h = FnvU64(h, c);
  return h;
}

uint64_t ObjectDigest(ByteView data, uint64_t chunk_size) {
  const uint64_t n = ChunkCount(data.size(), chunk_size);
  std::vector<uint64_t> hashes;
  hashes.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    hashes.push_back(Sum(data.data() + i * chunk_size, ChunkLength(data.size(), chunk_size, i)));
  }
  return CombineDigest(data.size(), hashes);
}

// Checks what a Put declares before anything is allocated for it.
Status CheckPutShape(uint64_t size, uint64_t chunk_size) {
  if (size > kMaxObjectSize) {
    return InvalidArgument("an object of " + std::to_string(size) + " bytes is over the limit of " +
                           std::to_string(kMaxObjectSize) + "; split it");
  }
  if (chunk_size == 0 || chunk_size > kMaxChunkSize || ChunkCount(size, chunk_size) > kMaxChunks) {
    return InvalidArgument("chunks of " + std::to_string(chunk_size) + " bytes: need 1 B-1 MiB and at most " +
                           std::to_string(kMaxChunks) + " chunks per object");
  }
  return Status::Ok();
}

Status CheckName(const std::string& bucket, const std::string& key) {
  EDGEBED_RETURN_IF_ERROR(ValidateBucketName(bucket));
  return ValidateObjectKey(key);
}

// ---------------------------------------------------------------------------
// The server's disk: a log of records (two files, rewritten alternately by
// compaction) and one file per blob.
//
// A log file is a 24-byte header (magic, version, generation, checksum)
// followed by records: u32 length, u64 checksum of the body, body. A
// compaction writes the snapshot body first, syncs it, and only then writes
// and syncs the header, so a file with a valid header always holds a whole
// snapshot; the valid file of the highest generation is the log. Replay
// stops at the first record that fails its checksum (a torn tail).

constexpr uint32_t kLogMagic = 0x474c534f;  // "OSLG"
constexpr uint32_t kLogVersion = 1;
constexpr uint64_t kLogHeaderSize = 24;
constexpr size_t kRecordFrame = 12;

enum RecordType : uint8_t {
  kRecBegin = 1,        // blob: about to be written (removed at recovery unless committed)
  kRecCommit = 2,       // bucket, key, blob, size, chunk size, digest
  kRecDelete = 3,       // bucket, key
  kRecIncarnation = 4,  // the number of the server start that wrote the snapshot
  kRecNextBlob = 5,     // the next blob id to hand out
};

std::string LogFile(int index) { return "objstore/log." + std::to_string(index); }
std::string BlobFile(uint64_t blob) {
  char name[40];
  std::snprintf(name, sizeof name, "objstore/blob/%016llx", static_cast<unsigned long long>(blob));
  return name;
}

void PutLe(Bytes& b, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint64_t GetLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

Bytes LogHeader(uint64_t generation) {
  Bytes h;
  PutLe(h, kLogMagic, 4);
  PutLe(h, kLogVersion, 4);
  PutLe(h, generation, 8);
  PutLe(h, Sum(h.data(), h.size()), 8);
  return h;
}

// The generation of a log file, or nullopt if its header is not whole.
std::optional<uint64_t> ParseLogHeader(const Bytes& file) {
  if (file.size() < kLogHeaderSize) return std::nullopt;
  const uint8_t* p = file.data();
  if (GetLe(p, 4) != kLogMagic || GetLe(p + 4, 4) != kLogVersion || GetLe(p + 16, 8) != Sum(p, 16)) {
    return std::nullopt;
  }
  return GetLe(p + 8, 8);
}

void Frame(Bytes& out, const Bytes& body) {
  PutLe(out, body.size(), 4);
  PutLe(out, Sum(body.data(), body.size()), 8);
  out.insert(out.end(), body.begin(), body.end());
}

Bytes RecordOf(RecordType type, uint64_t value) {
  wire::Writer w;
  w.PutU8(type);
  w.PutVarint(value);
  Bytes out;
  Frame(out, std::move(w).Finish());
  return out;
}

using ObjectName = std::pair<std::string, std::string>;  // bucket, key

struct Object {
  uint64_t blob = 0;  // also the object's version: never reused while the log lasts
  uint64_t size = 0;
  uint32_t chunk_size = 1;
  uint64_t digest = 0;
};

Bytes CommitRecord(const ObjectName& name, const Object& o) {
  wire::Writer w;
  w.PutU8(kRecCommit);
  w.PutString(name.first);
  w.PutString(name.second);
  w.PutVarint(o.blob);
  w.PutVarint(o.size);
  w.PutVarint(o.chunk_size);
  w.PutU64(o.digest);
  Bytes out;
  Frame(out, std::move(w).Finish());
  return out;
}

Bytes DeleteRecord(const ObjectName& name) {
  wire::Writer w;
  w.PutU8(kRecDelete);
  w.PutString(name.first);
  w.PutString(name.second);
  Bytes out;
  Frame(out, std::move(w).Finish());
  return out;
}

// Runs `fn` only while the object `alive` belongs to exists: disk completions
// may outlive a server that was destroyed without a crash.
template <typename Fn>
auto Guard(const std::shared_ptr<bool>& alive, Fn fn) {
  return [weak = std::weak_ptr<bool>(alive), fn = std::move(fn)](auto&&... args) mutable {
    if (weak.expired()) return;
    fn(std::forward<decltype(args)>(args)...);
  };
}

}  // namespace

Status ValidateBucketName(std::string_view b) {
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  bool ok = b.size() >= 3 && b.size() <= 63 && alnum(b.front()) && alnum(b.back()) &&
            b.find("..") == std::string_view::npos;
  for (char c : b) ok = ok && (alnum(c) || c == '.' || c == '-');
  if (ok) return Status::Ok();
  std::string shown(b.substr(0, 80));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return InvalidArgument("bucket name \"" + shown +
                             "\" must be 3-63 characters of a-z, 0-9, '.' and '-', start and end with a "
                             "letter or digit, and not contain \"..\"",
                         "bucket");
}

Status ValidateObjectKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxObjectKeySize) {
    return InvalidArgument("an object key needs 1-" + std::to_string(kMaxObjectKeySize) + " bytes, not " +
                               std::to_string(key.size()),
                           "key");
  }
  if (key.front() == '/') return InvalidArgument("an object key may not start with '/'", "key");
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return InvalidArgument("an object key may not contain control characters", "key");
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    const std::string_view segment = key.substr(start, end - start);
    if (segment == "." || segment == "..") {
      return InvalidArgument("an object key may not have a \".\" or \"..\" path segment", "key");
    }
    start = end + 1;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// The server.

class ObjectStoreServer::Impl {
 public:
  Impl(Env& env, ObjectStoreServerOptions options) : env_(env), o_(options) {
    o_.max_uploads = std::max<size_t>(o_.max_uploads, 1);
    o_.max_sessions = std::max<size_t>(o_.max_sessions, 1);
    o_.max_reads = std::max<size_t>(o_.max_reads, 1);
    if (o_.sweep_interval <= Duration::zero()) o_.sweep_interval = std::chrono::seconds(1);
    if (o_.disk_retry <= Duration::zero()) o_.disk_retry = std::chrono::milliseconds(200);
    (void)env_.Listen(o_.port, [this](NodeId from, ByteView m) { OnMessage(from, m); });
    Recover();
    sweep_timer_ = env_.Schedule(o_.sweep_interval, [this] { Sweep(); });
  }
  ~Impl() {
    env_.Unlisten(o_.port);
    env_.Cancel(sweep_timer_);
    env_.Cancel(retry_timer_);
  }

  bool ready() const { return ready_; }
  size_t object_count() const { return objects_.size(); }
  ObjectStoreServer::Stats stats_;

 private:
  using SessionKey = std::pair<NodeId, uint64_t>;  // the client's node and nonce
  using UploadKey = std::tuple<NodeId, uint64_t, uint64_t>;  // session, request id

  struct DoneRecord {
    StatusCode code = StatusCode::kOk;
    std::string message;
  };
  struct Session {
    uint64_t floor = 0;                     // ids below it are finished at the client
    std::map<uint64_t, DoneRecord> done;    // finished mutations, answered again if asked again
    std::set<uint64_t> deleting;            // deletes in the log queue
    size_t uploads = 0;
    Time last_seen{};
  };
  enum ChunkState : uint8_t { kMissing = 0, kWriting = 1, kOnDisk = 2 };
  struct Upload {
    UploadKey key;
    NodeId node = kNoNode;
    Port port = 0;
    ObjectName name;
    Object object;
    bool begun = false;    // its Begin record is durable: chunks may go to disk
    bool sealed = false;   // its commit is going to the log: it can no longer be aborted
    bool aborted = false;
    int busy = 0;          // disk and log operations in flight
    std::vector<uint8_t> chunks;
    std::vector<uint64_t> hashes;
    uint64_t on_disk = 0;
    std::vector<std::pair<uint64_t, Bytes>> held;  // chunks that came before the Begin was durable
    Time last_activity{};
  };
  struct LogEntry {
    Bytes record;
    std::function<void(Status)> done;
  };

  // ---- recovery ----

  void Recover() {
    const uint64_t attempt = ++recover_attempt_;
    auto files = std::make_shared<std::array<std::optional<Bytes>, 2>>();
    auto left = std::make_shared<int>(2);
    auto failed = std::make_shared<bool>(false);
    for (int i = 0; i < 2; ++i) {
      env_.disk().Read(LogFile(i), 0, UINT64_MAX,
                       Guard(alive_, [this, i, attempt, files, left, failed](StatusOr<Bytes> data) {
                         if (attempt != recover_attempt_) return;
                         if (data.ok()) {
                           (*files)[i] = std::move(*data);
                         } else if (data.status().code() != StatusCode::kNotFound) {
                           *failed = true;
                         }
                         if (--*left > 0) return;
                         if (*failed) {
                           retry_timer_ = env_.Schedule(o_.disk_retry, [this] { Recover(); });
                           return;
                         }
                         Replay(*files);
                       }));
    }
  }

  void Replay(const std::array<std::optional<Bytes>, 2>& files) {
    int best = -1;
    uint64_t best_gen = 0;
    for (int i = 0; i < 2; ++i) {
      if (!files[i]) continue;
      const std::optional<uint64_t> gen = ParseLogHeader(*files[i]);
      if (gen && (best < 0 || *gen > best_gen)) {
        best = i;
        best_gen = *gen;
      }
    }
    objects_.clear();
    std::set<uint64_t> named;  // every blob the log names
    uint64_t max_blob = 0;
    size_t records = 0;
    bool torn = false;
    if (best >= 0) {
      const Bytes& f = *files[best];
      size_t at = kLogHeaderSize;
      while (at < f.size()) {
        if (f.size() - at < kRecordFrame) {
          torn = true;
          break;
        }
        const uint64_t len = GetLe(f.data() + at, 4);
        const uint64_t sum = GetLe(f.data() + at + 4, 8);
        if (len > f.size() - at - kRecordFrame || Sum(f.data() + at + kRecordFrame, len) != sum ||
            !ApplyRecord(ByteView(f.data() + at + kRecordFrame, len), &named, &max_blob)) {
          torn = true;
          break;
        }
        at += kRecordFrame + len;
        ++records;
      }
      log_index_ = best;
      log_gen_ = best_gen;
    }
    ++incarnation_;
    next_blob_ = std::max(next_blob_, max_blob + 1);
    std::set<uint64_t> live;
    for (const auto& [name, o] : objects_) live.insert(o.blob);
    size_t orphans = 0;
    for (uint64_t blob : named) {
      if (!live.count(blob)) {
        dead_blobs_.insert(blob);
        ++orphans;
      }
    }
    env_.RecordEvent("objectstore.recovered", "objects=" + std::to_string(objects_.size()) +
                                                  " records=" + std::to_string(records) +
                                                  " orphans=" + std::to_string(orphans) +
                                                  " torn_tail=" + (torn ? "yes" : "no") +
                                                  " incarnation=" + std::to_string(incarnation_));
    // Always start on a freshly written log: it persists this incarnation
    // (so epochs never repeat), and nothing is ever appended after a torn tail.
    compaction_needed_ = true;
    FlushLog();
  }

  // Applies one replayed record; false if it is not one this build wrote.
  bool ApplyRecord(ByteView body, std::set<uint64_t>* named, uint64_t* max_blob) {
    wire::Reader r(body);
    uint8_t type = 0;
    (void)r.GetU8(&type);
    if (type == kRecBegin || type == kRecIncarnation || type == kRecNextBlob) {
      uint64_t v = 0;
      (void)r.GetVarint(&v);
      if (!r.ExpectEnd().ok()) return false;
      if (type == kRecBegin) {
        named->insert(v);
        *max_blob = std::max(*max_blob, v);
      } else if (type == kRecIncarnation) {
        incarnation_ = std::max(incarnation_, v);
      } else {
        next_blob_ = std::max(next_blob_, v);
      }
      return true;
    }
    if (type == kRecCommit || type == kRecDelete) {
      ObjectName name;
      (void)r.GetString(kMaxWireName, &name.first);
      (void)r.GetString(kMaxWireName, &name.second);
      if (type == kRecDelete) {
        if (!r.ExpectEnd().ok()) return false;
        objects_.erase(name);
        return true;
      }
      Object o;
      uint64_t chunk_size = 0;
      (void)r.GetVarint(&o.blob);
      (void)r.GetVarint(&o.size);
      (void)r.GetBoundedVarint(kMaxChunkSize, &chunk_size);
      (void)r.GetU64(&o.digest);
      if (!r.ExpectEnd().ok() || !CheckPutShape(o.size, chunk_size).ok()) return false;
      o.chunk_size = static_cast<uint32_t>(chunk_size);
      named->insert(o.blob);
      *max_blob = std::max(*max_blob, o.blob);
      objects_[name] = o;
      return true;
    }
    return false;
  }

  void BecomeReady() {
    uint64_t epoch = MixSeed(incarnation_, env_.random().Next() ^ static_cast<uint64_t>(ToNanos(env_.now())));
    epoch_ = epoch == 0 ? 1 : epoch;
    ready_ = true;
  }

  // ---- the log ----

  void AppendLog(Bytes record, std::function<void(Status)> done) {
    log_queue_.push_back({std::move(record), std::move(done)});
    FlushLog();
  }

  // Starts the next log task: a compaction if one is due, else one write and
  // one sync for every record queued (group commit).
  void FlushLog() {
    if (log_busy_) return;
    if (!compaction_needed_ && !log_queue_.empty() &&
        log_end_ - kLogHeaderSize > std::max(o_.compact_min_bytes, 4 * snapshot_bytes_)) {
      compaction_needed_ = true;
    }
    if (compaction_needed_) return Compact();
    if (log_queue_.empty()) return;
    log_busy_ = true;
    auto batch = std::make_shared<std::vector<LogEntry>>(std::move(log_queue_));
    log_queue_.clear();
    Bytes bytes;
    for (const LogEntry& e : *batch) bytes.insert(bytes.end(), e.record.begin(), e.record.end());
    const uint64_t n = bytes.size();
    const std::string file = LogFile(log_index_);
    env_.disk().Write(file, log_end_, std::move(bytes), Guard(alive_, [this, batch, n, file](Status s) {
      if (!s.ok()) return LogFailed(*batch, s);
      env_.disk().Sync(file, Guard(alive_, [this, batch, n](Status s2) {
        if (!s2.ok()) return LogFailed(*batch, s2);
        log_end_ += n;
        log_busy_ = false;
        for (LogEntry& e : *batch) e.done(Status::Ok());
        FlushLog();
      }));
    }));
  }

  // The failed range of the log is unspecified now: nothing more is appended
  // to it, the next task rewrites the log from memory.
  void LogFailed(std::vector<LogEntry>& batch, const Status& s) {
    env_.RecordEvent("objectstore.log_error", s.ToString());
    compaction_needed_ = true;
    log_busy_ = false;
    for (LogEntry& e : batch) e.done(s);
    FlushLog();
  }

  // Writes everything live into the other log file and switches to it.
  void Compact() {
    log_busy_ = true;
    const int target = log_index_ == 0 ? 1 : 0;
    const uint64_t gen = log_gen_ + 1;
    Bytes body;
    Bytes rec = RecordOf(kRecIncarnation, incarnation_);
    body.insert(body.end(), rec.begin(), rec.end());
    rec = RecordOf(kRecNextBlob, next_blob_);
    body.insert(body.end(), rec.begin(), rec.end());
    for (const auto& [name, o] : objects_) {
      rec = CommitRecord(name, o);
      body.insert(body.end(), rec.begin(), rec.end());
    }
    // Blobs that exist or may: still listed, so that a crash leaves none behind.
    std::set<uint64_t> unnamed = dead_blobs_;
    unnamed.insert(parked_blobs_.begin(), parked_blobs_.end());
    for (const auto& [token, u] : uploads_) {
      if (u.begun) unnamed.insert(u.object.blob);
    }
    for (uint64_t blob : unnamed) {
      rec = RecordOf(kRecBegin, blob);
      body.insert(body.end(), rec.begin(), rec.end());
    }
    const uint64_t body_size = body.size();
    const std::set<uint64_t> parked = parked_blobs_;
    const std::string file = LogFile(target);
    const auto fail = [this](const Status& s) {
      env_.RecordEvent("objectstore.compaction_error", s.ToString());
      log_busy_ = false;
      env_.Cancel(retry_timer_);
      retry_timer_ = env_.Schedule(o_.disk_retry, [this] { FlushLog(); });
    };
    env_.disk().Remove(file, Guard(alive_, [=, body = std::move(body)](Status s) mutable {
      if (!s.ok()) return fail(s);
      env_.disk().Write(file, kLogHeaderSize, std::move(body), Guard(alive_, [=](Status s2) {
        if (!s2.ok()) return fail(s2);
        env_.disk().Sync(file, Guard(alive_, [=](Status s3) {
          if (!s3.ok()) return fail(s3);
          env_.disk().Write(file, 0, LogHeader(gen), Guard(alive_, [=](Status s4) {
            if (!s4.ok()) return fail(s4);
            env_.disk().Sync(file, Guard(alive_, [=](Status s5) {
              if (!s5.ok()) return fail(s5);
              log_index_ = target;
              log_gen_ = gen;
              log_end_ = kLogHeaderSize + body_size;
              snapshot_bytes_ = body_size;
              compaction_needed_ = false;
              log_busy_ = false;
              ++stats_.compactions;
              // The log that may have named them is gone: they are garbage now.
              for (uint64_t blob : parked) {
                parked_blobs_.erase(blob);
                dead_blobs_.insert(blob);
              }
              if (!ready_) BecomeReady();
              RemoveDeadBlobs();
              FlushLog();
            }));
          }));
        }));
      }));
    }));
  }

  // ---- blobs ----

  void KillBlob(uint64_t blob) {
    dead_blobs_.insert(blob);
    RemoveDeadBlobs();
  }

  void RemoveDeadBlobs() {
    for (uint64_t blob : dead_blobs_) {
      if (removing_.count(blob) || readers_.count(blob)) continue;
      removing_.insert(blob);
      env_.disk().Remove(BlobFile(blob), Guard(alive_, [this, blob](Status s) {
        removing_.erase(blob);
        if (s.ok() && dead_blobs_.erase(blob)) ++stats_.blobs_removed;
      }));
    }
  }

  // ---- sessions ----

  Session* FindSession(const SessionKey& key) {
    auto it = sessions_.find(key);
    return it == sessions_.end() ? nullptr : &it->second;
  }

  // The session a request belongs to, once it is known to be current; null
  // if the request is for another epoch, stale, or malformed.
  Session* Admit(NodeId from, const RequestHead& q) {
    if (q.epoch != epoch_) {
      Welcome(from, q);
      return nullptr;
    }
    if (q.nonce == 0 || q.id == 0 || q.floor > q.id) {
      ++stats_.bad_messages;
      return nullptr;
    }
    const SessionKey key{from, q.nonce};
    auto it = sessions_.find(key);
    if (it == sessions_.end()) {
      if (sessions_.size() >= o_.max_sessions) EvictSession();
      it = sessions_.emplace(key, Session{}).first;
    }
    Session& s = it->second;
    s.last_seen = env_.now();
    if (q.floor > s.floor) {
      // The client is done with every id below the floor: what it gave up
      // on must not happen later.
      s.floor = q.floor;
      s.done.erase(s.done.begin(), s.done.lower_bound(q.floor));
      std::vector<uint64_t> gone;
      for (auto u = uploads_by_key_.lower_bound({from, q.nonce, 0});
           u != uploads_by_key_.end() && u->first < UploadKey{from, q.nonce, q.floor}; ++u) {
        gone.push_back(u->second);
      }
      for (uint64_t token : gone) Abort(token);
    }
    if (q.id < s.floor) return nullptr;  // a late copy of something finished
    return &s;
  }

  void EvictSession() {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.last_seen < oldest->second.last_seen) oldest = it;
    }
    const SessionKey key = oldest->first;
    std::vector<uint64_t> gone;
    for (auto u = uploads_by_key_.lower_bound({key.first, key.second, 0});
         u != uploads_by_key_.end() && std::get<0>(u->first) == key.first && std::get<1>(u->first) == key.second;
         ++u) {
      gone.push_back(u->second);
    }
    for (uint64_t token : gone) Abort(token);
    sessions_.erase(key);
  }

  void Remember(const SessionKey& key, uint64_t id, const Status& s) {
    Session* session = FindSession(key);
    if (!session || id < session->floor) return;
    session->done[id] = DoneRecord{s.code(), s.message()};
    constexpr size_t kMaxDone = 4096;
    if (session->done.size() > kMaxDone) session->done.erase(session->done.begin());
  }

  // ---- messages ----

  void Bad() { ++stats_.bad_messages; }

  void Send(NodeId to, Port port, wire::Writer w) { env_.Send(to, port, std::move(w).Finish()); }

  void Welcome(NodeId from, const RequestHead& q) {
    wire::Writer w = StartReply(kWelcome, epoch_, q.nonce, q.id, Status::Ok());
    w.PutU64(q.epoch);  // the epoch the request believed in: a late welcome changes nothing
    Send(from, q.reply_port, std::move(w));
  }

  void OnMessage(NodeId from, ByteView bytes) {
    if (!ready_) return;  // the client retries
    wire::Reader r(bytes);
    wire::Header h;
    if (!wire::ReadHeader(r, kMagic, kVersion, &h).ok()) return Bad();
    RequestHead q;
    GetRequestHead(r, &q);
    std::string bucket, key;
    switch (h.type) {
      case kHello:
        if (!r.ExpectEnd().ok()) return Bad();
        return Welcome(from, q);
      case kPutChunk: {
        uint64_t size = 0, chunk_size = 0, digest = 0, index = 0;
        Bytes data;
        (void)r.GetString(kMaxWireName, &bucket);
        (void)r.GetString(kMaxWireName, &key);
        (void)r.GetVarint(&size);
        (void)r.GetVarint(&chunk_size);
        (void)r.GetU64(&digest);
        (void)r.GetVarint(&index);
        (void)r.GetBytes(kMaxChunkSize, &data);
        if (!r.ExpectEnd().ok()) return Bad();
        Session* s = Admit(from, q);
        if (!s) return;
        return OnPutChunk(from, q, *s, {std::move(bucket), std::move(key)}, size, chunk_size, digest, index,
                          std::move(data));
      }
      case kPutStatus: {
        uint64_t size = 0, chunk_size = 0, digest = 0;
        (void)r.GetString(kMaxWireName, &bucket);
        (void)r.GetString(kMaxWireName, &key);
        (void)r.GetVarint(&size);
        (void)r.GetVarint(&chunk_size);
        (void)r.GetU64(&digest);
        if (!r.ExpectEnd().ok()) return Bad();
        Session* s = Admit(from, q);
        if (!s) return;
        return OnPutStatus(from, q, *s, {std::move(bucket), std::move(key)}, size, chunk_size, digest);
      }
      case kGet: {
        uint64_t version = 0, index = 0;
        (void)r.GetString(kMaxWireName, &bucket);
        (void)r.GetString(kMaxWireName, &key);
        (void)r.GetVarint(&version);
        (void)r.GetVarint(&index);
        if (!r.ExpectEnd().ok()) return Bad();
        if (!Admit(from, q)) return;
        return OnGet(from, q, {std::move(bucket), std::move(key)}, version, index);
      }
      case kHead: {
        (void)r.GetString(kMaxWireName, &bucket);
        (void)r.GetString(kMaxWireName, &key);
        if (!r.ExpectEnd().ok()) return Bad();
        if (!Admit(from, q)) return;
        return OnHead(from, q, {std::move(bucket), std::move(key)});
      }
      case kList: {
        std::string prefix, start_after;
        uint64_t max_keys = 0;
        (void)r.GetString(kMaxWireName, &bucket);
        (void)r.GetString(kMaxWireName, &prefix);
        (void)r.GetString(kMaxWireName, &start_after);
        (void)r.GetVarint(&max_keys);
        if (!r.ExpectEnd().ok()) return Bad();
        if (!Admit(from, q)) return;
        return OnList(from, q, bucket, prefix, start_after, max_keys);
      }
      case kDelete: {
        (void)r.GetString(kMaxWireName, &bucket);
        (void)r.GetString(kMaxWireName, &key);
        if (!r.ExpectEnd().ok()) return Bad();
        Session* s = Admit(from, q);
        if (!s) return;
        return OnDelete(from, q, *s, {std::move(bucket), std::move(key)});
      }
      default:
        return Bad();
    }
  }

  void ReplyPut(NodeId to, Port port, uint64_t nonce, uint64_t id, const Status& s, PutState state,
                uint64_t index, ByteView bitmap = {}) {
    wire::Writer w = StartReply(kPutReply, epoch_, nonce, id, s);
    w.PutU8(state);
    w.PutVarint(index);
    w.PutBytes(bitmap);
    Send(to, port, std::move(w));
  }

  Upload* FindUpload(uint64_t token) {
    auto it = uploads_.find(token);
    return it == uploads_.end() ? nullptr : &it->second;
  }

  void OnPutChunk(NodeId from, const RequestHead& q, Session& s, ObjectName name, uint64_t size,
                  uint64_t chunk_size, uint64_t digest, uint64_t index, Bytes data) {
    const auto reply = [&](const Status& st, PutState state) {
      ReplyPut(from, q.reply_port, q.nonce, q.id, st, state, index);
    };
    if (auto d = s.done.find(q.id); d != s.done.end()) {
      return reply(Status(d->second.code, d->second.message), kCommitted);
    }
    if (Status st = CheckName(name.first, name.second); !st.ok()) return reply(st, kStored);
    if (Status st = CheckPutShape(size, chunk_size); !st.ok()) return reply(st, kStored);
    const uint64_t chunks = ChunkCount(size, chunk_size);
    if (index >= chunks || data.size() != ChunkLength(size, chunk_size, index)) {
      return reply(InvalidArgument("chunk " + std::to_string(index) + " does not fit an object of " +
                                   std::to_string(size) + " bytes in chunks of " + std::to_string(chunk_size)),
                   kStored);
    }
    const UploadKey ukey{from, q.nonce, q.id};
    auto found = uploads_by_key_.find(ukey);
    Upload* u = found == uploads_by_key_.end() ? nullptr : FindUpload(found->second);
    if (u && (u->name != name || u->object.size != size || u->object.chunk_size != chunk_size ||
              u->object.digest != digest)) {
      return reply(InvalidArgument("chunk " + std::to_string(index) + " disagrees with the upload's other chunks"),
                   kStored);
    }
    if (u && u->aborted) return;  // going away; a later copy starts it anew
    if (!u) {
      if (uploads_.size() >= o_.max_uploads) {
        return reply(ResourceExhausted("too many uploads in progress; try again later"), kStored);
      }
      u = StartUpload(ukey, name, size, static_cast<uint32_t>(chunk_size), digest);
      ++s.uploads;
    }
    u->node = from;
    u->port = q.reply_port;
    u->last_activity = env_.now();
    uint8_t& state = u->chunks[index];
    if (state == kOnDisk) return reply(Status::Ok(), kStored);
    if (state == kWriting) return;  // answered when its write completes
    if (buffered_bytes_ + data.size() > o_.max_buffered_bytes) return;  // the client sends it again
    state = kWriting;
    u->hashes[index] = Sum(data.data(), data.size());
    buffered_bytes_ += data.size();
    if (!u->begun) {
      u->held.emplace_back(index, std::move(data));
      return;
    }
    WriteChunk(*u, index, std::move(data));
  }

  Upload* StartUpload(const UploadKey& ukey, const ObjectName& name, uint64_t size, uint32_t chunk_size,
                      uint64_t digest) {
    const uint64_t token = next_token_++;
    Upload& u = uploads_[token];
    u.key = ukey;
    u.name = name;
    u.object = Object{next_blob_++, size, chunk_size, digest};
    const uint64_t chunks = ChunkCount(size, chunk_size);
    u.chunks.assign(chunks, kMissing);
    u.hashes.assign(chunks, 0);
    uploads_by_key_[ukey] = token;
    // The blob is named in the log before a byte of it is written, so a
    // crash can leave no blob that recovery does not know to remove.
    ++u.busy;
    AppendLog(RecordOf(kRecBegin, u.object.blob), [this, token](Status s) {
      Upload* up = FindUpload(token);
      --up->busy;
      if (up->aborted) return MaybeErase(token);
      if (!s.ok()) return Abort(token);  // its held chunks are dropped; the client sends them again
      up->begun = true;
      std::vector<std::pair<uint64_t, Bytes>> held = std::move(up->held);
      up->held.clear();
      for (auto& [index, data] : held) WriteChunk(*up, index, std::move(data));
    });
    return &u;
  }

  void WriteChunk(Upload& u, uint64_t index, Bytes data) {
    const uint64_t token = uploads_by_key_.at(u.key);
    const uint64_t length = data.size();
    ++u.busy;
    env_.disk().Write(BlobFile(u.object.blob), index * u.object.chunk_size, std::move(data),
                      Guard(alive_, [this, token, index, length](Status s) {
                        buffered_bytes_ -= length;
                        Upload* up = FindUpload(token);
                        --up->busy;
                        if (up->aborted) return MaybeErase(token);
                        if (!s.ok()) {
                          up->chunks[index] = kMissing;  // the client sends it again
                          return;
                        }
                        up->chunks[index] = kOnDisk;
                        ++up->on_disk;
                        ++stats_.chunks_stored;
                        ReplyPut(up->node, up->port, std::get<1>(up->key), std::get<2>(up->key), Status::Ok(),
                                 kStored, index);
                        if (up->on_disk == up->chunks.size()) Commit(token);
                      }));
  }

  void Commit(uint64_t token) {
    Upload& u = uploads_.at(token);
    const auto tell = [this, token](const Status& s, PutState state) {
      const Upload& up = uploads_.at(token);
      ReplyPut(up.node, up.port, std::get<1>(up.key), std::get<2>(up.key), s, state, 0);
    };
    if (CombineDigest(u.object.size, u.hashes) != u.object.digest) {
      const Status bad = Corruption("the object's chunks do not match the digest its uploader computed");
      Remember({std::get<0>(u.key), std::get<1>(u.key)}, std::get<2>(u.key), bad);
      tell(bad, kCommitted);
      return Abort(token);
    }
    ++u.busy;
    env_.disk().Sync(BlobFile(u.object.blob), Guard(alive_, [this, token, tell](Status s) {
      Upload* up = FindUpload(token);
      --up->busy;
      if (up->aborted) return MaybeErase(token);
      if (!s.ok()) {
        tell(Unavailable("the object store's disk failed; upload again"), kRestart);
        return Abort(token);
      }
      up->sealed = true;
      ++up->busy;
      AppendLog(CommitRecord(up->name, up->object), [this, token, tell](Status s2) {
        Upload* u2 = FindUpload(token);
        --u2->busy;
        if (!s2.ok()) {
          // The record may yet be in the log: keep the blob until a
          // rewritten log has surely dropped it.
          parked_blobs_.insert(u2->object.blob);
          tell(Unavailable("the object store's disk failed; upload again"), kRestart);
          return Erase(token);
        }
        auto [it, inserted] = objects_.try_emplace(u2->name, u2->object);
        if (!inserted) {
          KillBlob(it->second.blob);
          it->second = u2->object;
        }
        ++stats_.puts_committed;
        Remember({std::get<0>(u2->key), std::get<1>(u2->key)}, std::get<2>(u2->key), Status::Ok());
        tell(Status::Ok(), kCommitted);
        Erase(token);
      });
    }));
  }

  void Abort(uint64_t token) {
    Upload* u = FindUpload(token);
    if (!u || u->sealed || u->aborted) return;
    u->aborted = true;
    ++stats_.uploads_aborted;
    for (const auto& [index, data] : u->held) buffered_bytes_ -= data.size();
    u->held.clear();
    MaybeErase(token);
  }

  void MaybeErase(uint64_t token) {
    Upload& u = uploads_.at(token);
    if (!u.aborted || u.busy > 0) return;
    dead_blobs_.insert(u.object.blob);
    Erase(token);
    RemoveDeadBlobs();
  }

  void Erase(uint64_t token) {
    Upload& u = uploads_.at(token);
    if (Session* s = FindSession({std::get<0>(u.key), std::get<1>(u.key)}); s && s->uploads > 0) --s->uploads;
    uploads_by_key_.erase(u.key);
    uploads_.erase(token);
  }

  void OnPutStatus(NodeId from, const RequestHead& q, Session& s, const ObjectName& name, uint64_t size,
                   uint64_t chunk_size, uint64_t digest) {
    if (auto d = s.done.find(q.id); d != s.done.end()) {
      return ReplyPut(from, q.reply_port, q.nonce, q.id, Status(d->second.code, d->second.message), kCommitted, 0);
    }
    if (Status st = CheckPutShape(size, chunk_size); !st.ok()) {
      return ReplyPut(from, q.reply_port, q.nonce, q.id, st, kStored, 0);
    }
    Bytes bitmap((ChunkCount(size, chunk_size) + 7) / 8, 0);
    auto found = uploads_by_key_.find({from, q.nonce, q.id});
    if (found != uploads_by_key_.end()) {
      const Upload& u = uploads_.at(found->second);
      if (u.name == name && u.object.size == size && u.object.chunk_size == chunk_size &&
          u.object.digest == digest && !u.aborted) {
        for (size_t i = 0; i < u.chunks.size(); ++i) {
          if (u.chunks[i] == kOnDisk) bitmap[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
        }
      }
    }
    ReplyPut(from, q.reply_port, q.nonce, q.id, Status::Ok(), kReceived, 0, bitmap);
  }

  void OnGet(NodeId from, const RequestHead& q, const ObjectName& name, uint64_t version, uint64_t index) {
    const auto reply = [this, from, q, version, index](const Status& s, const Object& o, ByteView data) {
      wire::Writer w = StartReply(kGetReply, epoch_, q.nonce, q.id, s);
      w.PutVarint(version);  // what was asked: answers to an earlier attempt are told apart
      w.PutVarint(index);
      w.PutVarint(o.blob);
      w.PutVarint(o.size);
      w.PutVarint(o.chunk_size);
      w.PutU64(o.digest);
      w.PutBytes(data);
      Send(from, q.reply_port, std::move(w));
    };
    if (Status st = CheckName(name.first, name.second); !st.ok()) return reply(st, {}, {});
    auto it = objects_.find(name);
    if (it == objects_.end()) return reply(NotFound("no object " + name.second + " in bucket " + name.first), {}, {});
    const Object o = it->second;
    if (version != 0 && version != o.blob) {
      return reply(FailedPrecondition("the object changed while it was read; read it again"), {}, {});
    }
    if (index >= ChunkCount(o.size, o.chunk_size)) return reply(InvalidArgument("no such chunk"), {}, {});
    const uint64_t length = ChunkLength(o.size, o.chunk_size, index);
    if (length == 0) return reply(Status::Ok(), o, {});
    if (reads_in_flight_ >= o_.max_reads) return;  // the client asks again
    ++reads_in_flight_;
    ++readers_[o.blob];  // the blob stays until the read is done
    env_.disk().Read(BlobFile(o.blob), index * o.chunk_size, length,
                     Guard(alive_, [this, o, length, reply](StatusOr<Bytes> data) {
                       --reads_in_flight_;
                       if (--readers_[o.blob] == 0) {
                         readers_.erase(o.blob);
                         if (dead_blobs_.count(o.blob)) RemoveDeadBlobs();
                       }
                       if (!data.ok() || data->size() != length) {
                         return reply(Unavailable("the object store could not read the object; try again"), {},
                                      {});
                       }
                       reply(Status::Ok(), o, *data);
                     }));
  }

  void OnHead(NodeId from, const RequestHead& q, const ObjectName& name) {
    Status s = CheckName(name.first, name.second);
    Object o;
    if (s.ok()) {
      auto it = objects_.find(name);
      if (it == objects_.end()) {
        s = NotFound("no object " + name.second + " in bucket " + name.first);
      } else {
        o = it->second;
      }
    }
    wire::Writer w = StartReply(kHeadReply, epoch_, q.nonce, q.id, s);
    w.PutVarint(o.blob);
    w.PutVarint(o.size);
    w.PutU64(o.digest);
    Send(from, q.reply_port, std::move(w));
  }

  void OnList(NodeId from, const RequestHead& q, const std::string& bucket, const std::string& prefix,
              const std::string& start_after, uint64_t max_keys) {
    Status s = ValidateBucketName(bucket);
    if (s.ok() && (prefix.size() > kMaxObjectKeySize || start_after.size() > kMaxObjectKeySize)) {
      s = InvalidArgument("a prefix or start key over " + std::to_string(kMaxObjectKeySize) + " bytes");
    }
    if (s.ok() && (max_keys == 0 || max_keys > kMaxListPage)) {
      s = InvalidArgument("a page of 1-" + std::to_string(kMaxListPage) + " keys");
    }
    std::vector<const std::string*> keys;
    bool truncated = false;
    if (s.ok()) {
      auto it = start_after < prefix ? objects_.lower_bound({bucket, prefix}) : objects_.upper_bound({bucket, start_after});
      for (; it != objects_.end() && it->first.first == bucket &&
             it->first.second.compare(0, prefix.size(), prefix) == 0;
           ++it) {
        if (keys.size() == max_keys) {
          truncated = true;
          break;
        }
        keys.push_back(&it->first.second);
      }
    }
    wire::Writer w = StartReply(kListReply, epoch_, q.nonce, q.id, s);
    w.PutString(start_after);
    w.PutVarint(keys.size());
    for (const std::string* k : keys) w.PutString(*k);
    w.PutU8(truncated ? 1 : 0);
    Send(from, q.reply_port, std::move(w));
  }

  void OnDelete(NodeId from, const RequestHead& q, Session& s, const ObjectName& name) {
    const auto reply = [this, from, q](const Status& st) {
      Send(from, q.reply_port, StartReply(kDeleteReply, epoch_, q.nonce, q.id, st));
    };
    if (auto d = s.done.find(q.id); d != s.done.end()) return reply(Status(d->second.code, d->second.message));
    if (s.deleting.count(q.id)) return;  // answered when its record is durable
    if (Status st = CheckName(name.first, name.second); !st.ok()) return reply(st);
    const SessionKey key{from, q.nonce};
    if (!objects_.count(name)) {
      Remember(key, q.id, Status::Ok());
      return reply(Status::Ok());
    }
    s.deleting.insert(q.id);
    AppendLog(DeleteRecord(name), [this, key, q, name, reply](Status st) {
      if (Session* session = FindSession(key)) session->deleting.erase(q.id);
      if (!st.ok()) return reply(Unavailable("the object store's disk failed; try again"));
      auto it = objects_.find(name);
      if (it != objects_.end()) {
        KillBlob(it->second.blob);
        objects_.erase(it);
        ++stats_.deletes;
      }
      Remember(key, q.id, Status::Ok());
      reply(Status::Ok());
    });
  }

  // ---- housekeeping ----

  void Sweep() {
    const Time now = env_.now();
    if (ready_) {
      std::vector<uint64_t> idle;
      for (const auto& [token, u] : uploads_) {
        if (!u.sealed && !u.aborted && now - u.last_activity > o_.upload_idle_timeout) idle.push_back(token);
      }
      for (uint64_t token : idle) {
        ++stats_.uploads_expired;
        Abort(token);
      }
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        const Session& s = it->second;
        if (s.uploads == 0 && s.deleting.empty() && now - s.last_seen > o_.session_idle_timeout) {
          it = sessions_.erase(it);
        } else {
          ++it;
        }
      }
      RemoveDeadBlobs();
    }
    sweep_timer_ = env_.Schedule(o_.sweep_interval, [this] { Sweep(); });
  }

  Env& env_;
  ObjectStoreServerOptions o_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool ready_ = false;
  uint64_t recover_attempt_ = 0;
  uint64_t incarnation_ = 0;
  uint64_t epoch_ = 0;
  uint64_t next_blob_ = 1;
  std::map<ObjectName, Object> objects_;
  std::map<SessionKey, Session> sessions_;
  std::map<uint64_t, Upload> uploads_;  // by token: uploads are erased while callbacks may still name them
  std::map<UploadKey, uint64_t> uploads_by_key_;
  uint64_t next_token_ = 1;
  uint64_t buffered_bytes_ = 0;
  size_t reads_in_flight_ = 0;
  std::map<uint64_t, int> readers_;  // blob -> reads in flight
  std::set<uint64_t> dead_blobs_;    // to remove; named in every snapshot until removed
  std::set<uint64_t> removing_;
  std::set<uint64_t> parked_blobs_;  // maybe named by a failed log write: dead once the log is rewritten
  // The log.
  int log_index_ = -1;
  uint64_t log_gen_ = 0;
  uint64_t log_end_ = kLogHeaderSize;
  uint64_t snapshot_bytes_ = 0;
  std::vector<LogEntry> log_queue_;
  bool log_busy_ = false;
  bool compaction_needed_ = false;
  TimerId sweep_timer_ = kNoTimer;
  TimerId retry_timer_ = kNoTimer;
};

ObjectStoreServer::ObjectStoreServer(Env& env, ObjectStoreServerOptions options)
    : impl_(std::make_unique<Impl>(env, options)) {}
ObjectStoreServer::~ObjectStoreServer() = default;
bool ObjectStoreServer::ready() const { return impl_->ready(); }
size_t ObjectStoreServer::object_count() const { return impl_->object_count(); }
const ObjectStoreServer::Stats& ObjectStoreServer::stats() const { return impl_->stats_; }

// ---------------------------------------------------------------------------
// The client.

namespace {

bool Retryable(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kResourceExhausted ||
         code == StatusCode::kIoError || code == StatusCode::kDeadlineExceeded;
}

// Chunks big enough that no object needs more than kMaxChunks of them.
uint32_t ChunkSizeFor(uint64_t size, uint32_t wanted) {
  const uint64_t least = (size + kMaxChunks - 1) / kMaxChunks;
  return static_cast<uint32_t>(std::min<uint64_t>(std::max<uint64_t>(wanted, least), kMaxChunkSize));
}

}  // namespace

class ObjectStoreClient::Impl {
 public:
  Impl(Env& env, NodeId server, Options options) : env_(env), server_(server), o_(options) {
    o_.chunk_size = std::clamp<uint32_t>(o_.chunk_size, 1, kMaxChunkSize);
    o_.window = std::max<size_t>(o_.window, 1);
    o_.list_page = std::clamp<size_t>(o_.list_page, 1, kMaxListPage);
    o_.min_timeout = std::max<Duration>(o_.min_timeout, std::chrono::milliseconds(1));
    o_.max_timeout = std::max(o_.max_timeout, o_.min_timeout);
    o_.initial_timeout = std::clamp(o_.initial_timeout, o_.min_timeout, o_.max_timeout);
    nonce_ = env_.random().Next() ^ static_cast<uint64_t>(ToNanos(env_.now()));
    if (nonce_ == 0) nonce_ = 1;
    last_heard_ = env_.now();
    Status s = env_.Listen(o_.port, [this](NodeId from, ByteView m) { OnMessage(from, m); });
    if (!s.ok()) env_.RecordEvent("objectstore.client_listen_failed", s.ToString());
  }

  ~Impl() {
    env_.Unlisten(o_.port);
    env_.Cancel(hello_timer_);
    for (auto& [id, op] : ops_) {
      env_.Cancel(op.deadline_timer);
      env_.Cancel(op.single.timer);
      for (Slot& c : op.chunks) env_.Cancel(c.timer);
    }
  }

  void Put(const std::string& bucket, const std::string& key, Bytes data, Done done) {
    Status s = CheckNames(bucket, key);
    if (s.ok() && data.size() > kMaxObjectSize) {
      s = InvalidArgument("an object of " + std::to_string(data.size()) + " bytes is over the limit of " +
                          std::to_string(kMaxObjectSize) + "; split it");
    }
    if (!s.ok()) return Later([done = std::move(done), s] { done(s); });
    Op& op = NewOp(Kind::kPut, bucket, key);
    op.chunk_size = ChunkSizeFor(data.size(), o_.chunk_size);
    op.digest = ObjectDigest(data, op.chunk_size);
    op.chunks.assign(ChunkCount(data.size(), op.chunk_size), Slot{});
    op.data = std::move(data);
    op.done = std::move(done);
    Pump();
  }

  void Get(const std::string& bucket, const std::string& key, GetDone done) {
    if (Status s = CheckNames(bucket, key); !s.ok()) return Later([done = std::move(done), s] { done(s); });
    NewOp(Kind::kGet, bucket, key).get_done = std::move(done);
    Pump();
  }

  void Head(const std::string& bucket, const std::string& key, HeadDone done) {
    if (Status s = CheckNames(bucket, key); !s.ok()) return Later([done = std::move(done), s] { done(s); });
    NewOp(Kind::kHead, bucket, key).head_done = std::move(done);
    Pump();
  }

  void List(const std::string& bucket, const std::string& prefix, ListDone done) {
    Status s = o_.check_names ? ValidateBucketName(bucket) : Status::Ok();
    if (s.ok() && prefix.size() > kMaxObjectKeySize) {
      s = InvalidArgument("a prefix over " + std::to_string(kMaxObjectKeySize) + " bytes matches no key", "prefix");
    }
    if (!s.ok()) return Later([done = std::move(done), s] { done(s); });
    NewOp(Kind::kList, bucket, prefix).list_done = std::move(done);
    Pump();
  }

  void Delete(const std::string& bucket, const std::string& key, Done done) {
    if (Status s = CheckNames(bucket, key); !s.ok()) return Later([done = std::move(done), s] { done(s); });
    NewOp(Kind::kDelete, bucket, key).done = std::move(done);
    Pump();
  }

  ObjectStoreClient::Stats stats_;

 private:
  enum class Kind { kPut, kGet, kHead, kList, kDelete };
  // One message the client waits for an answer to.
  struct Slot {
    enum State : uint8_t { kIdle, kSent, kDone } state = kIdle;
    uint32_t attempts = 0;  // sends so far; 0 while kSent means "waiting before the first send"
    Time sent_at{};
    TimerId timer = kNoTimer;
  };
  static constexpr size_t kSingle = SIZE_MAX;
  struct Op {
    Kind kind = Kind::kPut;
    uint64_t id = 0;
    std::string bucket, key;  // key: the prefix of a List
    Time started{}, last_progress{};
    TimerId deadline_timer = kNoTimer;
    Slot single;               // Head, List, Delete; a Put's status probe; a Get's first chunk
    std::vector<Slot> chunks;  // of a Put or a Get
    size_t chunks_done = 0;
    size_t next_idle = 0;      // no chunk before it is idle
    Bytes data;
    uint64_t version = 0, digest = 0;
    uint32_t chunk_size = 0;
    std::string start_after;   // of a List's next page
    std::vector<std::string> keys;
    Done done;
    GetDone get_done;
    HeadDone head_done;
    ListDone list_done;
  };
  using OpIt = std::map<uint64_t, Op>::iterator;

  Status CheckNames(const std::string& bucket, const std::string& key) const {
    return o_.check_names ? CheckName(bucket, key) : Status::Ok();
  }

  // Completions are asynchronous, as the Env's are.
  void Later(std::function<void()> fn) { env_.Schedule(Duration::zero(), std::move(fn)); }

  Op& NewOp(Kind kind, const std::string& bucket, const std::string& key) {
    const uint64_t id = next_id_++;
    Op& op = ops_[id];
    op.kind = kind;
    op.id = id;
    op.bucket = bucket;
    op.key = key;
    op.started = op.last_progress = env_.now();
    op.deadline_timer = env_.Schedule(o_.deadline, [this, id] { OnDeadline(id); });
    return op;
  }

  uint64_t Floor() const { return ops_.empty() ? next_id_ : ops_.begin()->first; }

  // ---- timing ----

  void SampleRtt(const Slot& slot) {
    if (slot.attempts != 1) return;  // Karn: an answer to a resent message times nothing
    const Duration rtt = env_.now() - slot.sent_at;
    if (!have_rtt_) {
      srtt_ = rtt;
      rttvar_ = rtt / 2;
      have_rtt_ = true;
    } else {
      rttvar_ = (3 * rttvar_ + std::chrono::abs(srtt_ - rtt)) / 4;
      srtt_ = (7 * srtt_ + rtt) / 8;
    }
  }

  Duration Backoff(uint32_t attempts) {
    Duration rto = have_rtt_ ? srtt_ + std::max<Duration>(4 * rttvar_, std::chrono::milliseconds(1))
                             : o_.initial_timeout;
    rto = std::clamp(rto, o_.min_timeout, o_.max_timeout);
    for (uint32_t i = 1; i < attempts && rto < o_.max_timeout; ++i) rto *= 2;
    rto = std::min(rto, o_.max_timeout);
    // A little spread, so that many retries do not go out in step.
    return rto + Duration(static_cast<int64_t>(static_cast<double>(rto.count()) * 0.2 * env_.random().UnitReal()));
  }

  void OnDeadline(uint64_t id) {
    auto it = ops_.find(id);
    if (it == ops_.end()) return;
    Op& op = it->second;
    op.deadline_timer = kNoTimer;
    Time last = op.last_progress;
    // Waiting for room in the window is not the server's silence.
    if (in_flight_ >= o_.window && op.next_idle < op.chunks.size()) last = std::max(last, last_heard_);
    const Time now = env_.now();
    if (now - last >= o_.deadline) {
      return Fail(it, Unavailable("no answer from the object store on node " + std::to_string(server_) + " for " +
                                  std::to_string(ToSeconds(o_.deadline)) + " s; it may or may not have applied",
                                  op.bucket + "/" + op.key));
    }
    op.deadline_timer = env_.Schedule(last + o_.deadline - now, [this, id] { OnDeadline(id); });
  }

  // ---- sending ----

  Slot& SlotOf(Op& op, size_t which) { return which == kSingle ? op.single : op.chunks[which]; }

  // Arms `which` to be sent after a timeout instead of now.
  void Wait(Op& op, size_t which) {
    Slot& slot = SlotOf(op, which);
    env_.Cancel(slot.timer);
    slot.state = Slot::kSent;
    slot.attempts = 0;
    slot.timer = env_.Schedule(Backoff(1), [this, id = op.id, which] { OnTimeout(id, which); });
  }

  void Transmit(Op& op, size_t which) {
    Slot& slot = SlotOf(op, which);
    if (slot.attempts > 0) ++stats_.retransmissions;
    if (which != kSingle && slot.state != Slot::kSent) ++in_flight_;
    slot.state = Slot::kSent;
    ++slot.attempts;
    slot.sent_at = env_.now();
    env_.Cancel(slot.timer);
    slot.timer = env_.Schedule(Backoff(slot.attempts), [this, id = op.id, which] { OnTimeout(id, which); });
    env_.Send(server_, o_.server_port, Encode(op, which));
  }

  void OnTimeout(uint64_t id, size_t which) {
    auto it = ops_.find(id);
    if (it == ops_.end()) return;
    Slot& slot = SlotOf(it->second, which);
    slot.timer = kNoTimer;
    if (slot.state == Slot::kSent) Transmit(it->second, which);
  }

  // Puts an unanswered slot back to idle, to be sent afresh.
  void Reset(Op& op, size_t which) {
    Slot& slot = SlotOf(op, which);
    env_.Cancel(slot.timer);
    if (which != kSingle && slot.state == Slot::kSent) --in_flight_;
    if (which != kSingle && slot.state == Slot::kDone) --op.chunks_done;
    slot = Slot{};
    if (which != kSingle) op.next_idle = std::min(op.next_idle, which);
  }

  void ChunkDone(Op& op, size_t index) {
    Slot& slot = op.chunks[index];
    env_.Cancel(slot.timer);
    slot.timer = kNoTimer;
    if (slot.state == Slot::kSent) --in_flight_;
    slot.state = Slot::kDone;
    ++op.chunks_done;
  }

  Bytes Encode(const Op& op, size_t which) const {
    wire::Writer w;
    const RequestHead q{nonce_, epoch_, Floor(), op.id, o_.port};
    switch (op.kind) {
      case Kind::kPut:
        PutRequestHead(w, which == kSingle ? kPutStatus : kPutChunk, q);
        w.PutString(op.bucket);
        w.PutString(op.key);
        w.PutVarint(op.data.size());
        w.PutVarint(op.chunk_size);
        w.PutU64(op.digest);
        if (which != kSingle) {
          w.PutVarint(which);
          w.PutBytes(ByteView(op.data).substr(which * op.chunk_size,
                                              ChunkLength(op.data.size(), op.chunk_size, which)));
        }
        break;
      case Kind::kGet:
        PutRequestHead(w, kGet, q);
        w.PutString(op.bucket);
        w.PutString(op.key);
        w.PutVarint(op.version);
        w.PutVarint(which == kSingle ? 0 : which);
        break;
      case Kind::kHead:
      case Kind::kDelete:
        PutRequestHead(w, op.kind == Kind::kHead ? kHead : kDelete, q);
        w.PutString(op.bucket);
        w.PutString(op.key);
        break;
      case Kind::kList:
        PutRequestHead(w, kList, q);
        w.PutString(op.bucket);
        w.PutString(op.key);
        w.PutString(op.start_after);
        w.PutVarint(o_.list_page);
        break;
    }
    return std::move(w).Finish();
  }

  bool WantsSingle(const Op& op) const {
    switch (op.kind) {
      case Kind::kPut:
        return op.chunks_done == op.chunks.size();
      case Kind::kGet:
        return op.version == 0;
      default:
        return true;
    }
  }

  // Sends what is due: every idle request, and idle chunks (oldest
  // operation first) while the window has room.
  void Pump() {
    if (epoch_ == 0) {
      if (!ops_.empty() && hello_timer_ == kNoTimer) SendHello();
      return;
    }
    for (auto& [id, op] : ops_) {
      if (op.single.state == Slot::kIdle && WantsSingle(op)) {
        if (op.kind == Kind::kPut) {
          // Every chunk is stored: the commit's answer is due. Ask only if it does not come.
          Wait(op, kSingle);
        } else {
          Transmit(op, kSingle);
        }
      }
      while (in_flight_ < o_.window && op.next_idle < op.chunks.size()) {
        if (op.chunks[op.next_idle].state == Slot::kIdle) Transmit(op, op.next_idle);
        ++op.next_idle;
      }
    }
  }

  void SendHello() {
    if (hello_attempts_ > 0) ++stats_.retransmissions;
    ++hello_attempts_;
    wire::Writer w;
    PutRequestHead(w, kHello, RequestHead{nonce_, 0, 0, 0, o_.port});
    env_.Send(server_, o_.server_port, std::move(w).Finish());
    hello_timer_ = env_.Schedule(Backoff(hello_attempts_), [this] {
      hello_timer_ = kNoTimer;
      Pump();
    });
  }

  // ---- finishing ----

  Op Take(OpIt it) {
    Op op = std::move(it->second);
    ops_.erase(it);
    env_.Cancel(op.deadline_timer);
    env_.Cancel(op.single.timer);
    for (Slot& c : op.chunks) {
      env_.Cancel(c.timer);
      if (c.state == Slot::kSent) --in_flight_;
    }
    return op;
  }

  void Fail(OpIt it, const Status& s) {
    Op op = Take(it);
    ++stats_.ops_failed;
    switch (op.kind) {
      case Kind::kPut:
      case Kind::kDelete:
        return op.done(s);
      case Kind::kGet:
        return op.get_done(s);
      case Kind::kHead:
        return op.head_done(s);
      case Kind::kList:
        return op.list_done(s);
    }
  }

  void RecordRate(const char* metric, const Op& op, uint64_t bytes) {
    const double seconds = ToSeconds(env_.now() - op.started);
    if (bytes > 0 && seconds > 0) env_.RecordMetric(metric, static_cast<double>(bytes) / seconds, "bucket=" + op.bucket);
  }

  // ---- answers ----

  void OnMessage(NodeId from, ByteView bytes) {
    if (from != server_) return;
    wire::Reader r(bytes);
    wire::Header h;
    ReplyHead a;
    if (!wire::ReadHeader(r, kMagic, kVersion, &h).ok() || !GetReplyHead(r, &a).ok() || a.nonce != nonce_) return;
    if (h.type == kWelcome) {
      uint64_t echo = 0;
      (void)r.GetU64(&echo);
      if (r.ExpectEnd().ok()) OnWelcome(a.epoch, echo);
      return;
    }
    if (epoch_ == 0 || a.epoch != epoch_) return;  // from another life of the server
    auto it = ops_.find(a.id);
    if (it == ops_.end()) return;
    switch (h.type) {
      case kPutReply: {
        uint8_t state = 0;
        uint64_t index = 0;
        Bytes bitmap;
        (void)r.GetU8(&state);
        (void)r.GetVarint(&index);
        (void)r.GetBytes(kMaxChunks / 8, &bitmap);
        if (!r.ExpectEnd().ok() || it->second.kind != Kind::kPut) return;
        last_heard_ = env_.now();
        OnPutReply(it, a.status, state, index, bitmap);
        break;
      }
      case kGetReply: {
        uint64_t asked = 0, index = 0, version = 0, size = 0, chunk_size = 0, digest = 0;
        ByteView data;
        uint64_t length = 0;
        (void)r.GetVarint(&asked);
        (void)r.GetVarint(&index);
        (void)r.GetVarint(&version);
        (void)r.GetVarint(&size);
        (void)r.GetVarint(&chunk_size);
        (void)r.GetU64(&digest);
        (void)r.GetBoundedVarint(kMaxChunkSize, &length);
        (void)r.GetRaw(static_cast<size_t>(length), &data);
        if (!r.ExpectEnd().ok() || it->second.kind != Kind::kGet) return;
        last_heard_ = env_.now();
        OnGetReply(it, a.status, asked, index, version, size, chunk_size, digest, data);
        break;
      }
      case kHeadReply: {
        uint64_t version = 0, size = 0, digest = 0;
        (void)r.GetVarint(&version);
        (void)r.GetVarint(&size);
        (void)r.GetU64(&digest);
        if (!r.ExpectEnd().ok() || it->second.kind != Kind::kHead) return;
        last_heard_ = env_.now();
        OnSimpleReply(it, a.status, [&](Op& op) {
          ++stats_.ops_ok;
          op.head_done(size);
        });
        break;
      }
      case kListReply: {
        std::string echo;
        uint64_t n = 0;
        uint8_t truncated = 0;
        std::vector<std::string> keys;
        (void)r.GetString(kMaxWireName, &echo);
        (void)r.GetBoundedVarint(kMaxListPage, &n);
        for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
          std::string k;
          (void)r.GetString(kMaxObjectKeySize, &k);
          keys.push_back(std::move(k));
        }
        (void)r.GetU8(&truncated);
        if (!r.ExpectEnd().ok() || it->second.kind != Kind::kList) return;
        last_heard_ = env_.now();
        OnListReply(it, a.status, echo, std::move(keys), truncated != 0);
        break;
      }
      case kDeleteReply:
        if (!r.ExpectEnd().ok() || it->second.kind != Kind::kDelete) return;
        last_heard_ = env_.now();
        OnSimpleReply(it, a.status, [&](Op& op) {
          ++stats_.ops_ok;
          op.done(Status::Ok());
        });
        break;
      default:
        return;
    }
    Pump();
  }

  void OnWelcome(uint64_t epoch, uint64_t echo) {
    // Only an answer to a message sent under the epoch believed now: a late
    // welcome from an earlier life of the server changes nothing.
    if (echo != epoch_ || epoch == 0 || epoch == epoch_) return;
    if (epoch_ != 0) ++stats_.server_restarts;
    epoch_ = epoch;
    last_heard_ = env_.now();
    env_.Cancel(hello_timer_);
    hello_timer_ = kNoTimer;
    hello_attempts_ = 0;
    // The server kept nothing of what it was sent before: start everything over.
    for (auto& [id, op] : ops_) {
      if (op.kind == Kind::kPut) {
        RestartPut(op);
      } else if (op.kind == Kind::kGet) {
        RestartGet(op);
      } else {
        Reset(op, kSingle);
      }
    }
    Pump();
  }

  void RestartPut(Op& op) {
    for (size_t i = 0; i < op.chunks.size(); ++i) Reset(op, i);
    Reset(op, kSingle);
  }

  void RestartGet(Op& op) {
    for (size_t i = 0; i < op.chunks.size(); ++i) Reset(op, i);
    op.chunks.clear();
    op.chunks_done = 0;
    op.next_idle = 0;
    op.version = 0;
    op.data.clear();
    Reset(op, kSingle);
  }

  void OnPutReply(OpIt it, const Status& s, uint8_t state, uint64_t index, const Bytes& bitmap) {
    Op& op = it->second;
    if (!s.ok()) {
      if (state == kRestart) return RestartPut(op);
      if (Retryable(s.code())) return;  // the timers send again
      return Fail(it, s.WithContext(op.bucket + "/" + op.key));
    }
    switch (state) {
      case kCommitted: {
        Op done = Take(it);
        ++stats_.ops_ok;
        RecordRate("objectstore.put_bytes_per_s", done, done.data.size());
        return done.done(Status::Ok());
      }
      case kStored:
        if (index < op.chunks.size() && op.chunks[index].state == Slot::kSent) {
          SampleRtt(op.chunks[index]);
          ChunkDone(op, index);
          op.last_progress = env_.now();
        }
        return;
      case kReceived: {
        if (op.single.state != Slot::kSent || op.single.attempts == 0 ||
            bitmap.size() != (op.chunks.size() + 7) / 8) {
          return;
        }
        SampleRtt(op.single);
        op.last_progress = env_.now();
        bool all = true;
        for (size_t i = 0; i < op.chunks.size(); ++i) {
          if (bitmap[i / 8] & (1u << (i % 8))) continue;
          all = false;
          if (op.chunks[i].state == Slot::kDone) Reset(op, i);
        }
        // All there: the commit is under way, and the probe asks again on its timer.
        if (!all) Reset(op, kSingle);
        return;
      }
      case kRestart:
        return RestartPut(op);
      default:
        return;
    }
  }

  void OnGetReply(OpIt it, const Status& s, uint64_t asked, uint64_t index, uint64_t version, uint64_t size,
                  uint64_t chunk_size, uint64_t digest, ByteView data) {
    Op& op = it->second;
    if (asked != op.version) return;  // an answer to an earlier attempt
    if (!s.ok()) {
      if (s.code() == StatusCode::kFailedPrecondition && op.version != 0) {
        // Overwritten between two chunks: read the new version whole.
        op.last_progress = env_.now();
        return RestartGet(op);
      }
      if (Retryable(s.code())) return;
      return Fail(it, s.WithContext(op.bucket + "/" + op.key));
    }
    if (op.version == 0) {
      if (index != 0 || op.single.state != Slot::kSent || version == 0 || !CheckPutShape(size, chunk_size).ok() ||
          data.size() != ChunkLength(size, chunk_size, 0)) {
        return;
      }
      SampleRtt(op.single);
      env_.Cancel(op.single.timer);
      op.single.state = Slot::kDone;
      op.version = version;
      op.digest = digest;
      op.chunk_size = static_cast<uint32_t>(chunk_size);
      op.data.assign(size, 0);
      std::copy(data.begin(), data.end(), op.data.begin());
      op.chunks.assign(ChunkCount(size, chunk_size), Slot{});
      op.chunks[0].state = Slot::kDone;
      op.chunks_done = 1;
      op.next_idle = 1;
    } else {
      if (index >= op.chunks.size() || op.chunks[index].state != Slot::kSent || version != op.version ||
          data.size() != ChunkLength(op.data.size(), op.chunk_size, index)) {
        return;
      }
      SampleRtt(op.chunks[index]);
      std::copy(data.begin(), data.end(), op.data.begin() + static_cast<ptrdiff_t>(index * op.chunk_size));
      ChunkDone(op, index);
    }
    op.last_progress = env_.now();
    if (op.chunks_done < op.chunks.size()) return;
    if (ObjectDigest(op.data, op.chunk_size) != op.digest) {
      return Fail(it, Corruption("the object's bytes do not match the digest its uploader computed",
                                 op.bucket + "/" + op.key));
    }
    Op done = Take(it);
    ++stats_.ops_ok;
    RecordRate("objectstore.get_bytes_per_s", done, done.data.size());
    done.get_done(std::move(done.data));
  }

  // Head and Delete: one request, one answer.
  template <typename Succeed>
  void OnSimpleReply(OpIt it, const Status& s, Succeed succeed) {
    Op& op = it->second;
    if (op.single.state != Slot::kSent) return;
    if (!s.ok()) {
      if (Retryable(s.code())) return;
      return Fail(it, s.WithContext(op.bucket + "/" + op.key));
    }
    Op done = Take(it);
    succeed(done);
  }

  void OnListReply(OpIt it, const Status& s, const std::string& echo, std::vector<std::string> keys,
                   bool truncated) {
    Op& op = it->second;
    if (echo != op.start_after || op.single.state != Slot::kSent) return;  // an earlier page's answer
    if (!s.ok()) {
      if (Retryable(s.code())) return;
      return Fail(it, s.WithContext(op.bucket));
    }
    SampleRtt(op.single);
    op.last_progress = env_.now();
    for (std::string& k : keys) {
      const std::string& last = op.keys.empty() ? op.start_after : op.keys.back();
      if (k.compare(0, op.key.size(), op.key) == 0 && k > last) op.keys.push_back(std::move(k));
    }
    if (truncated && !op.keys.empty() && op.keys.back() > op.start_after) {
      op.start_after = op.keys.back();
      Reset(op, kSingle);  // the next page
      return;
    }
    Op done = Take(it);
    ++stats_.ops_ok;
    done.list_done(std::move(done.keys));
  }

  Env& env_;
  const NodeId server_;
  Options o_;
  uint64_t nonce_ = 0;
  uint64_t epoch_ = 0;  // the server's, once it said; 0: not known yet
  uint64_t next_id_ = 1;
  std::map<uint64_t, Op> ops_;  // by request id: the first is the floor
  size_t in_flight_ = 0;        // chunks sent and unanswered
  Time last_heard_{};
  TimerId hello_timer_ = kNoTimer;
  uint32_t hello_attempts_ = 0;
  bool have_rtt_ = false;
  Duration srtt_{0}, rttvar_{0};
};

ObjectStoreClient::ObjectStoreClient(Env& env, NodeId server, Options options)
    : impl_(std::make_unique<Impl>(env, server, options)) {}
ObjectStoreClient::~ObjectStoreClient() = default;
void ObjectStoreClient::Put(const std::string& bucket, const std::string& key, Bytes data, Done done) {
  impl_->Put(bucket, key, std::move(data), std::move(done));
}
void ObjectStoreClient::Get(const std::string& bucket, const std::string& key, GetDone done) {
  impl_->Get(bucket, key, std::move(done));
}
void ObjectStoreClient::Head(const std::string& bucket, const std::string& key, HeadDone done) {
  impl_->Head(bucket, key, std::move(done));
}
void ObjectStoreClient::List(const std::string& bucket, const std::string& prefix, ListDone done) {
  impl_->List(bucket, prefix, std::move(done));
}
void ObjectStoreClient::Delete(const std::string& bucket, const std::string& key, Done done) {
  impl_->Delete(bucket, key, std::move(done));
}
const ObjectStoreClient::Stats& ObjectStoreClient::stats() const { return impl_->stats_; }

}  // namespace edgebed::storage
