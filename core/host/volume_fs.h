// VolumeFs: a pod's replicated volume as a filesystem on a real node.
//
// The storage engine serves a volume as a block device: block_size bytes
// times `blocks`, read and written one block at a time through the agent's
// asynchronous cluster::VolumeAccess, a write acknowledged only once the
// replicas hold it durably. This header turns that device into something a
// container can use:
//
// - BlockDevice: the blocking, thread-safe view of a block device the
//   filesystem works on. VolumeAccessDevice bridges it to a VolumeAccess that
//   lives on the agent's io_context thread; MemoryBlockDevice keeps the
//   blocks in memory (tests, scratch volumes).
// - VolumeFs: a small copy-on-write filesystem on a BlockDevice (format
//   below), with POSIX-shaped operations that return 0 or a negative errno,
//   as FUSE wants them.
// - VolumeFsMount: VolumeFs mounted at a directory with libfuse3, served by
//   its own thread, unmounted cleanly (also by the destructor).
// - VolumeImage: the fallback where FUSE is unavailable — the volume as a
//   plain image file in the pod's directory, written back block by block.
// - PodVolume: what an agent calls — FUSE when it can, the image otherwise.
//
// On-disk format, version 1 (all integers little-endian):
//
//   block 0, block 1   two superblocks; generation g lives in block g % 2.
//                      magic "EDGEBDFS", version, block_size, block_count,
//                      generation, first metadata block, metadata block
//                      count, metadata byte length, CRC-32C of the metadata
//                      stream, CRC-32C of the superblock itself.
//   other blocks       data and metadata, handed out by the bitmap.
//
//   The metadata of one generation is a stream written to freshly allocated
//   blocks, chained: each starts with a 16-byte header (magic "EBMD", next
//   block or 0, generation). The stream holds the inode table (every inode:
//   number, kind, mode, owner, size, times, parent; a file's block list as
//   runs of consecutive blocks, 0 for a hole; a directory's entries as
//   name -> inode) followed by the block allocation bitmap. A new
//   filesystem's root directory is mode 0777, as Kubernetes makes an
//   emptyDir, since the pod's processes may run as any user.
//
// Crash consistency, by copy-on-write: a block referenced by the last
// committed generation is never written in place. Writes go to blocks that
// the last commit does not reference, and blocks freed since the last commit
// stay reserved until the next one. A commit (Sync) then: flushes the device
// (the data is durable), writes the new metadata stream to free blocks,
// flushes, writes the superblock of generation g + 1 into the other slot and
// flushes again. A crash at any point leaves the superblock of generation g
// or g + 1 intact with everything it references, so the volume always mounts
// and shows exactly the last committed state: everything written before the
// last fsync (or unmount) and nothing half-done after it. Mount picks the
// valid superblock with the highest generation, checks the metadata stream's
// checksum, chain and generation, and cross-checks the stored bitmap against
// the blocks the inodes and the metadata reference; any mismatch refuses the
// mount with kCorruption. Space for the next commit's metadata is held back
// (twice its upper bound), so a full volume can always still commit.
//
// Costs, honestly: each commit rewrites the whole inode table and bitmap
// (a few blocks for a small tree; about 8 bytes per data block at worst), so
// the format suits volumes of files and directories counted in thousands,
// not millions. One lock serializes all operations. No hard links, symbolic
// links or extended attributes.
//
//   MemoryBlockDevice device(4096, 1024);
//   auto fs = VolumeFs::Open(device, "default/data");   // formats all-zero volumes
//   (*fs)->Create("/log", 0644);
//   (*fs)->Write("/log", 0, ByteView(std::string_view("hello")));
//   (*fs)->Fsync();                                      // durable from here
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/cluster/records.h"
#include "core/cluster/runtime.h"

struct fuse;  // libfuse3's handle, from <fuse.h>

namespace edgebed::host {

// A fixed-size array of equal blocks, used with blocking calls.
//
// Thread-safe: any thread may call any method, concurrently. After Flush()
// returns OK, every Write that returned OK before Flush was called survives
// a crash; writes not yet flushed may be lost, each block whole or not.
class BlockDevice {
 public:
  virtual ~BlockDevice() = default;
  virtual uint32_t block_size() const = 0;
  virtual uint64_t block_count() const = 0;
  // Fills *out with exactly block_size() bytes. REQUIRES: block < block_count().
  virtual Status Read(uint64_t block, Bytes* out) = 0;
  // REQUIRES: block < block_count() and data.size() == block_size().
  virtual Status Write(uint64_t block, ByteView data) = 0;
  virtual Status Flush() = 0;
};

// Blocks in memory, all zero at first. Flush has nothing to do.
class MemoryBlockDevice final : public BlockDevice {
 public:
  MemoryBlockDevice(uint32_t block_size, uint64_t block_count);
  uint32_t block_size() const override { return block_size_; }
  uint64_t block_count() const override { return block_count_; }
  Status Read(uint64_t block, Bytes* out) override;
  Status Write(uint64_t block, ByteView data) override;
  Status Flush() override { return Status::Ok(); }
  // A copy of every block (the unwritten ones all zero).
  std::vector<Bytes> Snapshot() const;

 private:
  const uint32_t block_size_;
  const uint64_t block_count_;
  mutable std::mutex mu_;
  std::map<uint64_t, Bytes> blocks_;  // only the blocks ever written
};

// A BlockDevice over the agent's asynchronous cluster::VolumeAccess.
//
// Each call posts the request to `io` (whose thread runs the VolumeAccess)
// and waits for its callback, at most `timeout`; past it the call returns
// kUnavailable and a late answer is dropped harmlessly. A Write returns once
// the replicas hold the block durably, so Flush has nothing left to wait for.
// REQUIRES: no call is made from the thread running `io` (it would wait on
// itself; such a call fails with kFailedPrecondition). `io` and `access`
// outlive the device.
class VolumeAccessDevice final : public BlockDevice {
 public:
  VolumeAccessDevice(boost::asio::io_context& io, cluster::VolumeAccess& access,
                     std::string volume, uint32_t block_size, uint32_t blocks,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  uint32_t block_size() const override { return block_size_; }
  uint64_t block_count() const override { return blocks_; }
  Status Read(uint64_t block, Bytes* out) override;
  Status Write(uint64_t block, ByteView data) override;
  Status Flush() override { return Status::Ok(); }

 private:
  boost::asio::io_context& io_;
  cluster::VolumeAccess& access_;
  const std::string volume_;
  const uint32_t block_size_;
  const uint32_t blocks_;
  const std::chrono::milliseconds timeout_;
};

enum class FileKind : uint8_t { kDirectory = 1, kRegular = 2 };

struct FileAttr {
  uint64_t ino = 0;
  FileKind kind = FileKind::kRegular;
  uint32_t mode = 0;  // permission bits only (07777)
  uint32_t uid = 0, gid = 0;
  uint32_t nlink = 1;
  uint64_t size = 0;
  uint64_t blocks_used = 0;  // device blocks holding the file's data
  int64_t mtime_ns = 0, ctime_ns = 0;  // since the Unix epoch
};

struct FsStats {
  uint32_t block_size = 0;
  uint64_t blocks = 0;       // the whole device
  uint64_t blocks_free = 0;  // what data may still use (the commit reserve excluded)
  uint64_t files = 0;        // inodes in use
  uint32_t name_max = 255;
};

struct VolumeFsOptions {
  // Format a volume whose superblocks (and first blocks) are all zero.
  bool format_if_empty = true;
};

// The filesystem. Thread-safe (one lock). Paths are absolute ("/", "/a/b").
// Operations return 0 (or a count) on success and a negative errno on
// failure: ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL, ENOSPC,
// ENAMETOOLONG, EFBIG, EBUSY, and EIO when the device fails (last_error()
// then says why). A failed operation changes nothing, but a Write cut short
// by ENOSPC keeps (and reports) the bytes it wrote.
class VolumeFs {
 public:
  // Mounts the filesystem on `device`, formatting an all-zero volume first.
  // `name` (e.g. the volume's name) goes into error messages. Fails with
  // kCorruption for a torn or foreign volume, kFailedPrecondition for an
  // unknown version or a geometry that does not match the device, kIoError
  // when the device fails. REQUIRES: `device` outlives the VolumeFs.
  static StatusOr<std::unique_ptr<VolumeFs>> Open(BlockDevice& device, std::string name,
                                                  VolumeFsOptions options = {});
  // Writes an empty filesystem over whatever the device holds.
  static Status Format(BlockDevice& device, std::string name);

  ~VolumeFs();  // commits what is pending, best effort; call Sync() to see errors
  VolumeFs(const VolumeFs&) = delete;
  VolumeFs& operator=(const VolumeFs&) = delete;

  int GetAttr(const std::string& path, FileAttr* attr);
  // The names in a directory, sorted, without "." and "..".
  int ReadDir(const std::string& path, std::vector<std::string>* names);
  int Create(const std::string& path, uint32_t mode);  // a regular file; EEXIST if present
  int Mkdir(const std::string& path, uint32_t mode);
  int Unlink(const std::string& path);  // files only
  int Rmdir(const std::string& path);   // empty directories only
  // POSIX rename: replaces a file, or an empty directory with a directory.
  // `no_replace`: EEXIST instead of replacing (RENAME_NOREPLACE).
  int Rename(const std::string& from, const std::string& to, bool no_replace = false);
  int Truncate(const std::string& path, uint64_t size);
  int Chmod(const std::string& path, uint32_t mode);
  int Chown(const std::string& path, uint32_t uid, uint32_t gid);
  int SetTimes(const std::string& path, int64_t mtime_ns);
  // Reads up to `size` bytes at `offset` into *out (fewer at the end of the
  // file); returns the count.
  int64_t Read(const std::string& path, uint64_t offset, size_t size, Bytes* out);
  // Returns the count written: all of `data`, or fewer when the volume filled.
  int64_t Write(const std::string& path, uint64_t offset, ByteView data);
  // Commits: everything done so far survives a crash once this returns 0.
  int Fsync();
  int StatFs(FsStats* stats);

  // Fsync with the reason when it fails.
  Status Sync();
  // The error behind the last EIO, for logs.
  Status last_error() const;
  const std::string& name() const { return name_; }
  uint64_t generation() const;  // of the last commit

 private:
  struct Impl;
  explicit VolumeFs(std::unique_ptr<Impl> impl, std::string name);
  std::unique_ptr<Impl> impl_;
  std::string name_;
};

struct VolumeFsMountOptions {
  std::string mount_point;  // an existing, empty directory
  bool read_only = false;
  bool allow_other = true;  // let the pod's (non-root) processes in
  // How often the serving thread commits what was written, so that a pod
  // that never calls fsync loses at most this much in a crash; zero: only
  // fsync and unmount commit.
  std::chrono::milliseconds commit_interval = std::chrono::seconds(5);
};

// A VolumeFs mounted at a directory through FUSE (libfuse3's high-level API),
// served by one thread of its own, which also commits every commit_interval.
// Unmount() (or the destructor) stops that
// thread, detaches the mount lazily if it is busy — processes still inside
// it get errors, nothing hangs — and commits the filesystem.
class VolumeFsMount {
 public:
  // Mounts `fs` at options.mount_point. Errors say what is missing: no
  // /dev/fuse (kUnavailable), not permitted (kPermissionDenied), the mount
  // point missing or not a directory (kNotFound / kInvalidArgument).
  // REQUIRES: `fs` outlives the mount.
  static StatusOr<std::unique_ptr<VolumeFsMount>> Mount(VolumeFs& fs,
                                                        VolumeFsMountOptions options);
  // OK when /dev/fuse can be opened; otherwise why not, and the fix.
  static Status FuseAvailable();

  ~VolumeFsMount();
  VolumeFsMount(const VolumeFsMount&) = delete;
  VolumeFsMount& operator=(const VolumeFsMount&) = delete;

  // Stops serving, unmounts and commits. Idempotent; the commit's error, if any.
  Status Unmount();
  const std::string& mount_point() const { return options_.mount_point; }

 private:
  VolumeFsMount(VolumeFs& fs, VolumeFsMountOptions options);
  void Serve();
  VolumeFs& fs_;
  VolumeFsMountOptions options_;
  ::fuse* fuse_ = nullptr;
  int wake_fd_ = -1;  // an eventfd that ends Serve()
  std::thread thread_;
  bool mounted_ = false;
};

struct VolumeImageOptions {
  std::string path;  // the image file; created, or replaced
  // How often the background thread writes changed blocks back; zero: never
  // (only WriteBack() and Close()).
  std::chrono::milliseconds flush_interval = std::chrono::seconds(5);
  // A read-only volume: the file is loaded but never written back.
  bool read_only = false;
};

// The fallback where FUSE is unavailable: the volume as a plain file of
// block_count * block_size bytes (a raw disk image the pod may use directly
// or through a loop device).
//
// What it is, and is not: at Open the whole volume is read from the device
// into the file (all-zero blocks left as holes). The pod reads and writes the
// file; nothing reaches the replicas until a write-back, which sends every
// block whose content changed since the last one (found by a 64-bit hash per
// block) to the device, then flushes the device and fsyncs the file.
// Write-backs run every flush_interval on a thread of their own and at
// Close(). A crash of the node loses what the pod wrote since the last
// write-back; a write-back is not atomic (the replicas may hold some blocks
// of it and not others), and a block the pod writes while it is read may go
// out torn and is sent again next time. Nothing here understands a
// filesystem inside the image: the pod should quiesce its writes for a
// consistent copy.
class VolumeImage {
 public:
  // REQUIRES: `device` outlives the image.
  static StatusOr<std::unique_ptr<VolumeImage>> Open(BlockDevice& device,
                                                     VolumeImageOptions options);
  ~VolumeImage();  // Close(), errors dropped
  VolumeImage(const VolumeImage&) = delete;
  VolumeImage& operator=(const VolumeImage&) = delete;

  // Sends the changed blocks to the device and flushes it.
  Status WriteBack();
  // Stops the background thread, writes back a last time and closes the
  // file (which stays). Idempotent.
  Status Close();
  const std::string& path() const { return options_.path; }
  uint64_t blocks_written_back() const;

 private:
  VolumeImage(BlockDevice& device, VolumeImageOptions options, int fd);
  Status WriteBackLocked();
  BlockDevice& device_;
  VolumeImageOptions options_;
  int fd_ = -1;
  std::vector<uint64_t> hashes_;  // of each block as the device last had it
  uint64_t written_back_ = 0;
  mutable std::mutex mu_;  // guards the above
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread flusher_;
};

struct PodVolumeOptions {
  bool use_fuse = true;  // false: always the image file
  std::chrono::milliseconds io_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds image_flush_interval = std::chrono::seconds(5);
};

// One volume of one pod on a real node, as the agent attaches it: the
// volume's filesystem mounted with FUSE at <pod_dir>/volumes/<claim>, or,
// when FUSE is unavailable (or not wanted), the image file
// <pod_dir>/volumes/<claim>.img. The two are not interchangeable for the
// pod: through the image it sees the volume's raw blocks, which hold this
// filesystem's format once a FUSE node has mounted the volume. A blank
// volume is formatted at its first FUSE attach, read-only or not.
// REQUIRES: called off the thread running `io`; `io` and `access` outlive it.
class PodVolume {
 public:
  static StatusOr<std::unique_ptr<PodVolume>> Attach(boost::asio::io_context& io,
                                                     cluster::VolumeAccess& access,
                                                     const cluster::VolumeMount& volume,
                                                     const std::string& pod_dir,
                                                     PodVolumeOptions options = {});
  ~PodVolume();  // Detach(), errors dropped
  // Unmounts (or writes the image back) and commits. Idempotent.
  Status Detach();
  // The directory or image file the pod uses.
  const std::string& path() const { return path_; }
  bool fuse() const { return mount_ != nullptr; }
  // Why FUSE was not used, when it was not.
  const Status& fuse_status() const { return fuse_status_; }

 private:
  PodVolume() = default;
  std::unique_ptr<VolumeAccessDevice> device_;
  std::unique_ptr<VolumeFs> fs_;
  std::unique_ptr<VolumeFsMount> mount_;
  std::unique_ptr<VolumeImage> image_;
  std::string path_;
  Status fuse_status_;
};

}  // namespace edgebed::host
