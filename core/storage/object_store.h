// Object store: an S3-like store of (bucket, key) -> bytes on one node (the
// cloud, reached over a WAN), and the client storage nodes use to put their
// backups there, as Portworx cloudsnaps go to an S3-compatible store.
//
//   ObjectStoreServer cloud(env_of(cloud_node));                     // listens on kObjectStorePort
//   ObjectStoreClient s3(env_of(node), cloud_node, {});
//   s3.Put("backups", "floor-1/db/snap-7", bytes, [](Status s) { ... });
//   s3.Get("backups", "floor-1/db/snap-7", [](StatusOr<Bytes> b) { ... });
//   s3.List("backups", "floor-1/", [](StatusOr<std::vector<std::string>> keys) { ... });
//
// What the server promises:
// - A Put is acknowledged only once the object's bytes and the log record
//   that names them are synced; after a crash every acknowledged object is
//   there, whole, and no partly uploaded object is ever listed or read.
//   Objects replace each other atomically; a Get returns one whole version.
// - Bad input never crashes it: malformed messages are dropped, bad names
//   and sizes are answered with kInvalidArgument. Its memory is bounded:
//   incomplete uploads, sessions and buffered chunks have caps, and an upload
//   that hears nothing for `upload_idle_timeout` is dropped.
// What the client promises:
// - Every request and chunk is retried with a timeout (from measured round
//   trips) and exponential backoff; an operation that hears nothing useful
//   from the server for `deadline` fails with kUnavailable, and may or may
//   not have taken effect. Duplicated, reordered and delayed messages never
//   apply an operation twice or after the client gave up on it.
// - Objects travel in chunks of at most 1 MiB, at most `window` of them in
//   flight, so one large upload over a long link is pipelined; each Put and
//   Get records the bytes per second it achieved
//   (objectstore.put_bytes_per_s, objectstore.get_bytes_per_s).
// - kNotFound for a missing object, kInvalidArgument for a bad name or an
//   object over kMaxObjectSize, kCorruption if a Get's bytes fail the digest
//   the uploader computed.
//
// How (see object_store.cc): the server keeps an index of the objects in
// memory, rebuilt at start from a checksummed log on its disk (two files,
// compacted alternately); each object's bytes are one blob file, written
// chunk by chunk at its offset, synced, and only then named by a log record.
// A log record announces every blob before it is written, so a crash leaves
// no blob that recovery cannot find and remove. Clients speak in sessions (a
// random nonce per client) under the server's epoch (new at every start):
// requests carry ids and the lowest id the client still waits for, which
// lets the server drop stale and duplicated messages and answer repeats of a
// finished mutation from memory instead of doing it again.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/env/env.h"

namespace edgebed::storage {

inline constexpr Port kObjectStorePort = 7402;        // ObjectStoreServer
inline constexpr Port kObjectStoreClientPort = 7403;  // where ObjectStoreClient hears answers

inline constexpr uint64_t kMaxObjectSize = uint64_t{64} << 20;
inline constexpr uint32_t kMaxChunkSize = 1u << 20;  // bytes of an object in one message
inline constexpr size_t kMaxObjectKeySize = 1024;
inline constexpr size_t kMaxListPage = 1000;

// S3's rules: 3-63 characters of a-z, 0-9, '.' and '-', starting and ending
// with a letter or digit, no "..".
Status ValidateBucketName(std::string_view bucket);
// 1-1024 bytes, no control characters, not starting with '/', and no path
// segment that is "." or "..".
Status ValidateObjectKey(std::string_view key);

struct ObjectStoreServerOptions {
  Port port = kObjectStorePort;
  Duration upload_idle_timeout = std::chrono::seconds(60);  // an incomplete upload hearing nothing is dropped
  size_t max_uploads = 256;                                 // incomplete uploads held at once
  uint64_t max_buffered_bytes = uint64_t{64} << 20;         // chunk bytes in memory on their way to disk
  size_t max_reads = 64;                                    // chunk reads from disk in flight
  size_t max_sessions = 4096;                               // clients remembered (least recently heard go first)
  Duration session_idle_timeout = std::chrono::minutes(10);
  Duration sweep_interval = std::chrono::seconds(1);        // expiry, blob removal and disk retries
  Duration disk_retry = std::chrono::milliseconds(200);     // after a failed recovery or log rewrite
  uint64_t compact_min_bytes = uint64_t{1} << 20;           // the log is rewritten past max(this, 4 x live)
};

class ObjectStoreServer {
 public:
  // Recovers the store from `env`'s disk, then serves (see ready()).
  explicit ObjectStoreServer(Env& env, ObjectStoreServerOptions options = {});
  ~ObjectStoreServer();
  ObjectStoreServer(const ObjectStoreServer&) = delete;
  ObjectStoreServer& operator=(const ObjectStoreServer&) = delete;

  // True once recovery is done; until then requests go unanswered (clients retry).
  bool ready() const;
  size_t object_count() const;

  struct Stats {
    uint64_t chunks_stored = 0;
    uint64_t puts_committed = 0;
    uint64_t deletes = 0;
    uint64_t uploads_aborted = 0;  // expired, given up by their client, or failed on disk
    uint64_t uploads_expired = 0;
    uint64_t bad_messages = 0;     // dropped as malformed
    uint64_t blobs_removed = 0;    // superseded, deleted, aborted or orphaned by a crash
    uint64_t compactions = 0;
  };
  const Stats& stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

struct ObjectStoreClientOptions {
  Port port = kObjectStoreClientPort;  // this client's; one client per port on a node
  Port server_port = kObjectStorePort;
  uint32_t chunk_size = kMaxChunkSize;  // 1 B - 1 MiB; raised for objects that would need over 4096 chunks
  size_t window = 8;                    // chunks of Puts and Gets in flight at once
  Duration initial_timeout = std::chrono::seconds(1);  // before any round trip was measured
  Duration min_timeout = std::chrono::milliseconds(200);
  Duration max_timeout = std::chrono::seconds(2);      // cap of the exponential backoff
  Duration deadline = std::chrono::seconds(30);        // hearing nothing useful this long fails an operation
  size_t list_page = kMaxListPage;                     // keys per List message, 1-1000
  bool check_names = true;  // false only to test the server's own checks
};

class ObjectStoreClient {
 public:
  using Options = ObjectStoreClientOptions;
  using Done = std::function<void(Status)>;
  using GetDone = std::function<void(StatusOr<Bytes>)>;
  using HeadDone = std::function<void(StatusOr<uint64_t>)>;
  using ListDone = std::function<void(StatusOr<std::vector<std::string>>)>;

  // `server`: the node the ObjectStoreServer runs on.
  ObjectStoreClient(Env& env, NodeId server, Options options = {});
  // Pending operations are dropped without their callbacks.
  ~ObjectStoreClient();
  ObjectStoreClient(const ObjectStoreClient&) = delete;
  ObjectStoreClient& operator=(const ObjectStoreClient&) = delete;

  // Callbacks run later on the node's thread, never inside these calls; they
  // may start operations but must not destroy the client.
  void Put(const std::string& bucket, const std::string& key, Bytes data, Done done);
  void Get(const std::string& bucket, const std::string& key, GetDone done);
  // The object's size.
  void Head(const std::string& bucket, const std::string& key, HeadDone done);
  // Every key of `bucket` starting with `prefix`, sorted; fetched in pages
  // (not a snapshot: keys changed meanwhile may or may not appear).
  void List(const std::string& bucket, const std::string& prefix, ListDone done);
  // OK whether or not the object existed.
  void Delete(const std::string& bucket, const std::string& key, Done done);

  struct Stats {
    uint64_t retransmissions = 0;
    uint64_t server_restarts = 0;  // epoch changes seen
    uint64_t ops_ok = 0;
    uint64_t ops_failed = 0;
  };
  const Stats& stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgebed::storage
