// The Datastore's files and why they look so.
//
// checkpoint-<N % 2>: the store's whole state after checkpoint N.
//   header: wire header {kMagic, kVersion, kCheckpointType}, u64 N,
//           i64 revision, u64 image size, u64 checksum of the image,
//           u64 checksum of the header before it
//   image:  Store::Checkpoint(), an SQLite database file
// The header has its own checksum so that a checkpoint whose image is torn
// still says which one it was: recovery refuses to fall back past a newer
// checkpoint that was once complete (that would go back in time) and only
// accepts that the newest one was being written when the node went down.
// Two files alternate, so the checkpoint being written never overwrites the
// one recovery would fall back to.
//
// log-<N>: the commits after checkpoint N, one record per batch:
//   u32 payload size, u64 checksum of the payload seeded with the size,
//   payload: wire header {kMagic, kVersion, kLogRecordType}, varint revision
//            before, varint revision after, varint count, count x
//            {u8 op, string key, bytes value}
// A record carries the revision it starts from, so replay can tell a record
// that continues the state from a stale one.
//
// Checkpoint N+1 is written as: remove log-<N+1> (nothing stale may follow
// it), remove and write checkpoint-<(N+1) % 2>, sync it — from here it is
// the state and log-<N> is history — then remove log-<N> and log-<N-1>
// (the latter left over if a crash came between a sync and its removal).
// Open always ends with a new checkpoint, so a log that recovery found torn
// is never appended to: what follows a torn record could otherwise be read
// as part of it, or an old record after it taken for a new one.
#include "core/cluster/datastore.h"

#include <algorithm>
#include <utility>

#include "core/base/hash.h"
#include "core/wire/codec.h"

namespace edgebed::cluster {
namespace {

constexpr uint16_t kMagic = 0x4453;  // "DS"
constexpr uint8_t kVersion = 1;
constexpr uint16_t kCheckpointType = 1;
constexpr uint16_t kLogRecordType = 2;

constexpr size_t kCheckpointHeaderSize = wire::kHeaderSize + 5 * 8;
constexpr size_t kFrameSize = 4 + 8;  // a log record's size and checksum

// An upper bound on a batch's record payload, checked before the batch is
// applied so that everything applied can be logged.
size_t EncodedBound(const std::vector<Mutation>& batch) {
  size_t n = wire::kHeaderSize + 3 * 10;
  for (const Mutation& m : batch) {
    n += 1 + 10 + m.key.size() + 10 + m.value.size();
    if (n > kMaxBatchBytes) break;
  }
  return n;
}

uint64_t PayloadChecksum(ByteView payload) {
  return Hash64(payload.data(), payload.size(), payload.size());
}

Bytes EncodeRecord(Revision before, Revision after, const std::vector<Mutation>& batch) {
  wire::Writer payload;
  wire::WriteHeader(payload, {kMagic, kVersion, kLogRecordType});
  payload.PutVarint(static_cast<uint64_t>(before));
  payload.PutVarint(static_cast<uint64_t>(after));
  payload.PutVarint(batch.size());
  for (const Mutation& m : batch) {
    payload.PutU8(m.op);
    payload.PutString(m.key);
    // A delete's value means nothing to the store.
    payload.PutBytes(m.op == Mutation::kPut ? ByteView(m.value) : ByteView());
  }
  const Bytes body = std::move(payload).Finish();
  wire::Writer frame;
  frame.PutU32(static_cast<uint32_t>(body.size()));
  frame.PutU64(PayloadChecksum(body));
  frame.PutRaw(body);
  return std::move(frame).Finish();
}

struct LogRecord {
  Revision before = 0;
  Revision after = 0;
  std::vector<Mutation> batch;
};

// Decodes the record at the start of `in`; *used is its size with framing.
// kCorruption says why the bytes are not a whole, intact record.
Status DecodeRecord(ByteView in, LogRecord* record, size_t* used) {
  if (in.size() < kFrameSize) return Corruption("a record's frame is cut short");
  wire::Reader frame(in.substr(0, kFrameSize));
  uint32_t size = 0;
  uint64_t checksum = 0;
  (void)frame.GetU32(&size);
  (void)frame.GetU64(&checksum);
  if (size == 0 || size > kMaxBatchBytes) {
    return Corruption("a record claims " + std::to_string(size) + " bytes");
  }
  if (in.size() - kFrameSize < size) return Corruption("a record is cut short");
  const ByteView payload = in.substr(kFrameSize, size);
  if (PayloadChecksum(payload) != checksum) return Corruption("a record fails its checksum");

  wire::Reader r(payload);
  wire::Header header;
  EDGEBED_RETURN_IF_ERROR(wire::ReadHeader(r, kMagic, kVersion, &header));
  if (header.type != kLogRecordType) return Corruption("not a log record");
  uint64_t before = 0, after = 0, count = 0;
  (void)r.GetVarint(&before);
  (void)r.GetVarint(&after);
  // Each mutation takes at least three bytes.
  (void)r.GetBoundedVarint(r.remaining() / 3, &count);
  record->batch.clear();
  for (uint64_t i = 0; i < count && r.status().ok(); ++i) {
    Mutation m;
    uint8_t op = 0;
    (void)r.GetU8(&op);
    (void)r.GetString(kMaxKeySize, &m.key);
    (void)r.GetBytes(kMaxValueSize, &m.value);
    if (op > Mutation::kDelete) return Corruption("a record holds op " + std::to_string(op));
    m.op = static_cast<Mutation::Op>(op);
    record->batch.push_back(std::move(m));
  }
  EDGEBED_RETURN_IF_ERROR(r.ExpectEnd());
  if (before > static_cast<uint64_t>(INT64_MAX) || after < before ||
      after > static_cast<uint64_t>(INT64_MAX)) {
    return Corruption("a record's revisions run backwards");
  }
  record->before = static_cast<Revision>(before);
  record->after = static_cast<Revision>(after);
  *used = kFrameSize + size;
  return Status::Ok();
}

struct CheckpointHeader {
  uint64_t sequence = 0;
  Revision revision = 0;
  uint64_t image_size = 0;
  uint64_t image_checksum = 0;
};

Bytes EncodeCheckpoint(uint64_t sequence, Revision revision, const Bytes& image) {
  wire::Writer w;
  wire::WriteHeader(w, {kMagic, kVersion, kCheckpointType});
  w.PutU64(sequence);
  w.PutI64(revision);
  w.PutU64(image.size());
  w.PutU64(Hash64(image.data(), image.size()));
  const Bytes header = std::move(w).Finish();
  wire::Writer out;
  out.PutRaw(header);
  out.PutU64(Hash64(header.data(), header.size()));
  out.PutRaw(image);
  return std::move(out).Finish();
}

StatusOr<CheckpointHeader> DecodeCheckpointHeader(ByteView file) {
  if (file.size() < kCheckpointHeaderSize) return Corruption("shorter than a checkpoint header");
  wire::Reader r(file.substr(0, kCheckpointHeaderSize));
  wire::Header header;
  CheckpointHeader c;
  uint64_t checksum = 0;
  (void)wire::ReadHeader(r, kMagic, kVersion, &header);
  (void)r.GetU64(&c.sequence);
  (void)r.GetI64(&c.revision);
  (void)r.GetU64(&c.image_size);
  (void)r.GetU64(&c.image_checksum);
  (void)r.GetU64(&checksum);
  if (checksum != Hash64(file.data(), kCheckpointHeaderSize - 8)) {
    return Corruption("the checkpoint header fails its checksum");
  }
  EDGEBED_RETURN_IF_ERROR(r.status());
  if (header.type != kCheckpointType) return Corruption("not a checkpoint");
  return c;
}

}  // namespace

// What Open has found so far.
struct Datastore::Recovered {
  std::optional<CheckpointHeader> best;  // the newest intact checkpoint
  Bytes best_file;
  uint64_t newest_named = 0;  // the newest sequence any intact header names
  std::string damaged;        // what was wrong with the checkpoint that named it
};

template <typename Fn>
auto Datastore::Guard(Fn fn) {
  return [alive = std::weak_ptr<bool>(alive_), fn = std::move(fn)](auto&&... args) mutable {
    if (alive.expired()) return;
    fn(std::forward<decltype(args)>(args)...);
  };
}

Datastore::Datastore(Env& env, std::unique_ptr<Store> store, DatastoreOptions options)
    : env_(env), store_(std::move(store)), options_(std::move(options)) {}

Datastore::~Datastore() = default;

std::string Datastore::CheckpointFile(int slot) const {
  return options_.prefix + "checkpoint-" + std::to_string(slot);
}
std::string Datastore::LogFile(uint64_t sequence) const {
  return options_.prefix + "log-" + std::to_string(sequence);
}

// ---- Recovery

void Datastore::Open(std::function<void(Status)> done) {
  if (open_ || opening_ || !failure_.ok()) {
    env_.Schedule(Duration::zero(), Guard([done = std::move(done)] {
      done(FailedPrecondition("Open is called once per Datastore"));
    }));
    return;
  }
  opening_ = true;
  busy_ = true;
  auto finish = [this, done = std::move(done)](Status s) {
    opening_ = false;
    if (!s.ok()) {
      Fail(s);
      done(s);
      return;
    }
    open_ = true;
    busy_ = false;
    done(Status::Ok());
    Flush();
  };
  ReadCheckpoints(0, std::make_shared<Recovered>(), std::move(finish));
}

void Datastore::ReadWhole(const std::string& file,
                          std::function<void(StatusOr<std::optional<Bytes>>)> done) {
  env_.disk().Size(file, Guard([this, file, done](StatusOr<uint64_t> size) {
    if (!size.ok()) {
      if (size.status().code() == StatusCode::kNotFound) return done(std::optional<Bytes>());
      return done(size.status());
    }
    env_.disk().Read(file, 0, *size, Guard([done](StatusOr<Bytes> data) {
      if (!data.ok()) return done(data.status());
      done(std::optional<Bytes>(std::move(*data)));
    }));
  }));
}

void Datastore::ReadCheckpoints(int slot, std::shared_ptr<Recovered> r,
                                std::function<void(Status)> done) {
  if (slot == 2) return Recover(std::move(r), std::move(done));
  const std::string file = CheckpointFile(slot);
  ReadWhole(file, [this, slot, file, r, done](StatusOr<std::optional<Bytes>> data) {
    if (!data.ok()) return done(data.status());
    if (data->has_value()) {
      const Bytes& bytes = **data;
      auto invalid = [&](const std::string& why) {
        ++stats_.invalid_checkpoints;
        env_.RecordEvent("datastore.checkpoint_invalid", "file=" + file + " reason=\"" + why + "\"");
      };
      StatusOr<CheckpointHeader> header = DecodeCheckpointHeader(bytes);
      if (!header.ok()) {
        invalid(header.status().message());
      } else if (header->sequence % 2 != static_cast<uint64_t>(slot)) {
        invalid("checkpoint " + std::to_string(header->sequence) + " in the wrong file");
      } else {
        const ByteView image = ByteView(bytes).substr(kCheckpointHeaderSize);
        std::string why;
        if (image.size() < header->image_size) {
          why = "the image is cut short";
        } else if (Hash64(image.data(), header->image_size) != header->image_checksum) {
          why = "the image fails its checksum";
        }
        if (header->sequence > r->newest_named) {
          r->newest_named = header->sequence;
          r->damaged = why;
        }
        if (!why.empty()) {
          invalid(why);
        } else if (!r->best || header->sequence > r->best->sequence) {
          r->best = *header;
          r->best_file = std::move(**data);
        }
      }
    }
    ReadCheckpoints(slot + 1, r, done);
  });
}

void Datastore::Recover(std::shared_ptr<Recovered> r, std::function<void(Status)> done) {
  const uint64_t best = r->best ? r->best->sequence : 0;
  // Only the checkpoint after the best can be one that was being written
  // when the node went down; one further on was complete once, and its
  // state (and the log that led to it) would be lost.
  if (r->newest_named > best + 1) {
    return done(Corruption("checkpoint " + std::to_string(r->newest_named) + " is damaged (" +
                               r->damaged + ") and " +
                               (best == 0 ? std::string("no intact one remains")
                                          : "the newest intact one is " + std::to_string(best)) +
                               ": refusing to go back in time",
                           options_.prefix));
  }
  if (r->best) {
    const ByteView image = ByteView(r->best_file).substr(kCheckpointHeaderSize, r->best->image_size);
    if (Status s = store_->Restore(image); !s.ok()) {
      return done(s.WithContext(CheckpointFile(static_cast<int>(best % 2))));
    }
    if (store_->revision() != r->best->revision) {
      return done(Corruption("checkpoint " + std::to_string(best) + " says revision " +
                                 std::to_string(r->best->revision) + " but holds " +
                                 std::to_string(store_->revision()),
                             CheckpointFile(static_cast<int>(best % 2))));
    }
    r->best_file = Bytes();  // the store has it now
  } else if (store_->revision() != 0) {
    return done(FailedPrecondition("the store given to the Datastore was already changed"));
  }
  sequence_ = best;
  const std::string log = LogFile(sequence_);
  ReadWhole(log, [this, log, done](StatusOr<std::optional<Bytes>> data) {
    if (!data.ok()) return done(data.status());
    if (data->has_value()) {
      if (Status s = ReplayLog(**data, log); !s.ok()) return done(s);
    }
    MaybeCompact();
    const Revision recovered = store_->revision();
    WriteCheckpoint([this, done, recovered, from = sequence_](Status s) {
      if (!s.ok()) return done(s);
      env_.RecordEvent("datastore.recovered",
                       "checkpoint=" + std::to_string(from) + " revision=" +
                           std::to_string(recovered) + " records=" +
                           std::to_string(stats_.recovered_records) + " discarded_bytes=" +
                           std::to_string(stats_.discarded_bytes) + " invalid_checkpoints=" +
                           std::to_string(stats_.invalid_checkpoints));
      done(Status::Ok());
    });
  });
}

Status Datastore::ReplayLog(ByteView log, const std::string& file) {
  size_t offset = 0;
  while (offset < log.size()) {
    LogRecord record;
    size_t used = 0;
    Status s = DecodeRecord(log.substr(offset), &record, &used);
    if (s.ok() && record.before != store_->revision()) {
      s = Corruption("a record continues revision " + std::to_string(record.before) +
                     " where the store is at " + std::to_string(store_->revision()));
    }
    if (!s.ok()) {
      // The end of a log whose last write did not finish: those commits were
      // never acknowledged.
      ++stats_.discarded_tails;
      stats_.discarded_bytes += log.size() - offset;
      env_.RecordEvent("datastore.log_tail_discarded",
                       "file=" + file + " offset=" + std::to_string(offset) + " bytes=" +
                           std::to_string(log.size() - offset) + " reason=\"" + s.message() + "\"");
      return Status::Ok();
    }
    StatusOr<Revision> applied = store_->Commit(record.batch);
    if (!applied.ok() || *applied != record.after) {
      // An intact record the store takes differently than it did: applying
      // more would build on a state that never was.
      return Corruption("replaying the record at offset " + std::to_string(offset) + " gave " +
                            (applied.ok() ? "revision " + std::to_string(*applied)
                                          : applied.status().ToString()) +
                            ", it recorded " + std::to_string(record.after),
                        file);
    }
    offset += used;
    ++stats_.recovered_records;
  }
  return Status::Ok();
}

// ---- Commits

void Datastore::Commit(std::vector<Mutation> batch, std::function<void(StatusOr<Revision>)> done) {
  const Revision before = store_->revision();
  Waiter w;
  w.needed = before;
  w.done = std::move(done);
  if (!open_) {
    w.error = failure_.ok() ? Unavailable("the datastore is not open yet") : failure_;
    return Enqueue(std::move(w));
  }
  if (const size_t bound = EncodedBound(batch); bound > kMaxBatchBytes) {
    w.error = ResourceExhausted("the batch is over " + std::to_string(kMaxBatchBytes) +
                                " bytes; split it");
    return Enqueue(std::move(w));
  }
  StatusOr<Revision> after = store_->Commit(batch);
  if (!after.ok()) {
    w.error = after.status();
    return Enqueue(std::move(w));
  }
  w.needed = *after;
  if (*after != before) {
    Bytes record = EncodeRecord(before, *after, batch);
    pending_.insert(pending_.end(), record.begin(), record.end());
    pending_revision_ = *after;
    ++pending_commits_;
    ++stats_.commits;
    MaybeCompact();
  }
  Enqueue(std::move(w));
  Flush();
}

void Datastore::AfterDurable(std::function<void()> fn) {
  Waiter w;
  w.needed = store_->revision();
  w.durable = std::move(fn);
  Enqueue(std::move(w));
}

void Datastore::Enqueue(Waiter w) {
  waiters_.push_back(std::move(w));
  const Waiter& front = waiters_.front();
  if (drain_scheduled_ || (front.needed > durable_revision_ && failure_.ok())) return;
  // Ready now, but callbacks never run inside the call that registered them.
  drain_scheduled_ = true;
  env_.Schedule(Duration::zero(), Guard([this] {
    drain_scheduled_ = false;
    Drain();
  }));
}

bool Datastore::Drain() {
  const std::weak_ptr<bool> alive = alive_;
  while (!waiters_.empty()) {
    const bool durable = waiters_.front().needed <= durable_revision_;
    if (!durable && failure_.ok()) break;
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    if (w.done) {
      if (!durable) {
        w.done(failure_);
      } else if (!w.error.ok()) {
        w.done(w.error);
      } else {
        w.done(w.needed);
      }
    } else if (durable && w.durable) {
      w.durable();
    }
    if (alive.expired()) return false;  // a callback destroyed the datastore
  }
  return true;
}

void Datastore::MaybeCompact() {
  const Revision keep = options_.keep_revisions;
  if (keep <= 0) return;
  const Revision newest = store_->revision();
  if (newest - store_->compacted() >= 2 * keep) store_->Compact(newest - keep);
}

// ---- Writing

void Datastore::Flush() {
  if (busy_ || !open_) return;
  if (log_size_ >= options_.checkpoint_log_bytes) {
    WriteCheckpoint([this](Status s) {
      if (!s.ok()) return Fail(s);
      Flush();
    });
    return;
  }
  if (!pending_.empty()) WriteLog();
}

void Datastore::WriteLog() {
  busy_ = true;
  const std::string file = LogFile(sequence_);
  const uint64_t offset = log_size_;
  const uint64_t size = pending_.size();
  const Revision reaches = pending_revision_;
  const uint32_t commits = pending_commits_;
  const Time start = env_.now();
  Bytes data;
  data.swap(pending_);
  pending_commits_ = 0;
  env_.disk().Write(file, offset, std::move(data), Guard([=](Status s) {
    if (!s.ok()) return Fail(s);
    env_.disk().Sync(file, Guard([=](Status s2) {
      if (!s2.ok()) return Fail(s2);
      log_size_ = offset + size;
      durable_revision_ = std::max(durable_revision_, reaches);
      ++stats_.log_writes;
      env_.RecordMetric("datastore.log_bytes", static_cast<double>(log_size_));
      env_.RecordMetric("datastore.group_commits", commits);
      env_.RecordMetric("datastore.log_write_ms", ToMillis(env_.now() - start));
      busy_ = false;
      // Acknowledge first: commits made by the callbacks join the next write.
      if (Drain()) Flush();
    }));
  }));
}

void Datastore::WriteCheckpoint(std::function<void(Status)> done) {
  busy_ = true;
  StatusOr<Bytes> image = store_->Checkpoint();
  if (!image.ok()) return done(image.status());
  const uint64_t next = sequence_ + 1;
  const Revision covered = store_->revision();
  // The image holds every commit applied so far, written or not.
  pending_.clear();
  pending_commits_ = 0;
  auto file_bytes = std::make_shared<Bytes>(EncodeCheckpoint(next, covered, *image));
  const size_t checkpoint_bytes = file_bytes->size();
  const std::string file = CheckpointFile(static_cast<int>(next % 2));
  const std::string next_log = LogFile(next);
  Disk& disk = env_.disk();
  disk.Remove(next_log, Guard([=, &disk](Status s) {
    if (!s.ok()) return done(s);
    disk.Remove(file, Guard([=, &disk](Status s2) {
      if (!s2.ok()) return done(s2);
      disk.Write(file, 0, std::move(*file_bytes), Guard([=, &disk](Status s3) {
        if (!s3.ok()) return done(s3);
        disk.Sync(file, Guard([=, &disk](Status s4) {
          if (!s4.ok()) return done(s4);
          const uint64_t old = sequence_;
          sequence_ = next;
          log_size_ = 0;
          durable_revision_ = std::max(durable_revision_, covered);
          ++stats_.checkpoints;
          env_.RecordMetric("datastore.checkpoint_bytes", static_cast<double>(checkpoint_bytes));
          if (!Drain()) return;
          disk.Remove(LogFile(old), Guard([=, &disk](Status s5) {
            if (!s5.ok()) return done(s5);
            if (old == 0) {
              busy_ = false;
              return done(Status::Ok());
            }
            disk.Remove(LogFile(old - 1), Guard([=](Status s6) {
              if (!s6.ok()) return done(s6);
              busy_ = false;
              done(Status::Ok());
            }));
          }));
        }));
      }));
    }));
  }));
}

void Datastore::Fail(const Status& why) {
  if (!failure_.ok()) return;
  failure_ = Unavailable("the datastore stopped: " + why.ToString(), options_.prefix);
  open_ = false;
  pending_.clear();
  pending_commits_ = 0;
  env_.RecordEvent("datastore.failed", "reason=\"" + why.ToString() + "\"");
  // Every waiting commit hears it; never from inside the call that failed.
  if (!waiters_.empty() && !drain_scheduled_) {
    drain_scheduled_ = true;
    env_.Schedule(Duration::zero(), Guard([this] {
      drain_scheduled_ = false;
      Drain();
    }));
  }
}

}  // namespace edgebed::cluster
