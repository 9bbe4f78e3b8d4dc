#include "core/host/volume_fs.h"

#define FUSE_USE_VERSION 31
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <string_view>

#include <boost/asio/post.hpp>

#include "core/host/host_env.h"

namespace edgebed::host {
namespace {

constexpr char kSuperMagic[8] = {'E', 'D', 'G', 'E', 'B', 'D', 'F', 'S'};
constexpr uint32_t kVersion = 1;
constexpr size_t kSuperFields = 52;      // bytes covered by the superblock's own CRC
constexpr uint32_t kMetaMagic = 0x444d4245;    // "EBMD"
constexpr uint32_t kStreamMagic = 0x54494245;  // "EBIT"
constexpr uint32_t kMetaHeader = 16;
constexpr uint64_t kRootIno = 1;
// Upper bounds of what the metadata stream spends, for the commit reserve.
constexpr uint64_t kStreamHeaderBytes = 20;
constexpr uint64_t kInodeBytes = 64;   // fixed fields and the list counts
constexpr uint64_t kSlotBytes = 8;     // a run per block, at worst
constexpr uint64_t kDirentBytes = 10;  // plus the name
constexpr uint64_t kMinBlocks = 16;
constexpr uint32_t kMinBlockSize = 512;
constexpr size_t kNameMax = 255;
constexpr uint64_t kBlankProbe = 8;  // blocks checked past the superblocks before formatting

void PutU16(Bytes& b, uint16_t v) { for (int i = 0; i < 2; ++i) b.push_back(uint8_t(v >> (8 * i))); }
void PutU32(Bytes& b, uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i))); }
void PutU64(Bytes& b, uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i))); }
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Bounds-checked reading of the metadata stream; the first failure sticks.
class Cursor {
 public:
  explicit Cursor(ByteView b) : b_(b) {}
  bool ok() const { return ok_; }
  size_t left() const { return b_.size() - pos_; }
  size_t pos() const { return pos_; }
  uint64_t Get(int bytes) {
    if (!ok_ || left() < size_t(bytes)) { ok_ = false; return 0; }
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b_[pos_ + i];
    pos_ += bytes;
    return v;
  }
  std::string Str(size_t n) {
    if (!ok_ || left() < n) { ok_ = false; return {}; }
    std::string s(reinterpret_cast<const char*>(b_.data()) + pos_, n);
    pos_ += n;
    return s;
  }
  ByteView Rest() const { return b_.substr(pos_); }

 private:
  ByteView b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

bool AllZero(const Bytes& b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c == 0; });
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

bool ValidName(const std::string& n) {
  return !n.empty() && n.size() <= kNameMax && n != "." && n != ".." &&
         n.find('/') == std::string::npos && n.find('\0') == std::string::npos;
}

struct Inode {
  uint64_t ino = 0;
  FileKind kind = FileKind::kRegular;
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint64_t parent = 0;
  std::vector<uint32_t> blocks;              // files: device block per file block, 0 a hole
  std::map<std::string, uint64_t> entries;   // directories
  bool dir() const { return kind == FileKind::kDirectory; }
};

struct Super {
  uint64_t generation = 0;
  uint32_t meta_first = 0, meta_blocks = 0;
  uint64_t meta_bytes = 0;
  uint32_t meta_crc = 0;
};

enum class SuperState { kBlank, kForeign, kTorn, kValid };

SuperState ParseSuper(const Bytes& b, Super* s) {
  if (AllZero(b)) return SuperState::kBlank;
  if (b.size() < kSuperFields + 4 || std::memcmp(b.data(), kSuperMagic, 8) != 0) {
    return SuperState::kForeign;
  }
  if (GetU32(b.data() + kSuperFields) != Crc32c(ByteView(b.data(), kSuperFields))) {
    return SuperState::kTorn;
  }
  s->generation = GetU64(b.data() + 24);
  s->meta_first = GetU32(b.data() + 32);
  s->meta_blocks = GetU32(b.data() + 36);
  s->meta_bytes = GetU64(b.data() + 40);
  s->meta_crc = GetU32(b.data() + 48);
  return SuperState::kValid;
}

Bytes EncodeSuper(uint32_t block_size, uint64_t count, const Super& s) {
  Bytes b(kSuperMagic, kSuperMagic + 8);
  PutU32(b, kVersion);
  PutU32(b, block_size);
  PutU64(b, count);
  PutU64(b, s.generation);
  PutU32(b, s.meta_first);
  PutU32(b, s.meta_blocks);
  PutU64(b, s.meta_bytes);
  PutU32(b, s.meta_crc);
  PutU32(b, Crc32c(ByteView(b.data(), kSuperFields)));
  b.resize(block_size, 0);
  return b;
}

}  // namespace

// ---------------------------------------------------------------------------
// MemoryBlockDevice

MemoryBlockDevice::MemoryBlockDevice(uint32_t block_size, uint64_t block_count)
    : block_size_(block_size), block_count_(block_count) {}

Status MemoryBlockDevice::Read(uint64_t block, Bytes* out) {
  if (block >= block_count_) return OutOfRange("block " + std::to_string(block) + " past the device's end");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blocks_.find(block);
  if (it == blocks_.end()) {
    out->assign(block_size_, 0);
  } else {
    *out = it->second;
  }
  return Status::Ok();
}

Status MemoryBlockDevice::Write(uint64_t block, ByteView data) {
  if (block >= block_count_) return OutOfRange("block " + std::to_string(block) + " past the device's end");
  if (data.size() != block_size_) return InvalidArgument("a block write must be exactly one block");
  std::lock_guard<std::mutex> lock(mu_);
  blocks_[block] = data.ToBytes();
  return Status::Ok();
}

std::vector<Bytes> MemoryBlockDevice::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Bytes> all(block_count_, Bytes(block_size_, 0));
  for (const auto& kv : blocks_) all[kv.first] = kv.second;
  return all;
}

// ---------------------------------------------------------------------------
// VolumeAccessDevice

namespace {
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Status status;
  Bytes data;
};
}  // namespace

VolumeAccessDevice::VolumeAccessDevice(boost::asio::io_context& io, cluster::VolumeAccess& access,
                                       std::string volume, uint32_t block_size, uint32_t blocks,
                                       std::chrono::milliseconds timeout)
    : io_(io), access_(access), volume_(std::move(volume)), block_size_(block_size),
      blocks_(blocks), timeout_(timeout) {}

namespace {
Status AwaitAnswer(Waiter& w, std::chrono::milliseconds timeout, const std::string& what) {
  std::unique_lock<std::mutex> lock(w.mu);
  if (!w.cv.wait_for(lock, timeout, [&w] { return w.done; })) {
    return Unavailable(what + ": no answer from the node's volume I/O within " +
                       std::to_string(timeout.count()) +
                       " ms; the replicas may be unreachable or the agent's io thread stalled; retry later");
  }
  return w.status.WithContext(what);
}
}  // namespace

Status VolumeAccessDevice::Read(uint64_t block, Bytes* out) {
  const std::string what = "volume " + volume_ + " block " + std::to_string(block);
  if (io_.get_executor().running_in_this_thread()) {
    return FailedPrecondition("a blocking read from the io_context's own thread would wait on itself; "
                              "call it from another thread", what);
  }
  if (block >= blocks_) return OutOfRange("past the volume's " + std::to_string(blocks_) + " blocks", what);
  auto w = std::make_shared<Waiter>();
  cluster::VolumeAccess* access = &access_;
  std::string volume = volume_;
  uint32_t b = static_cast<uint32_t>(block);
  boost::asio::post(io_, [w, access, volume, b] {
    access->Read(volume, b, [w](StatusOr<Bytes> r) {
      std::lock_guard<std::mutex> lock(w->mu);
      if (r.ok()) {
        w->data = std::move(*r);
      } else {
        w->status = r.status();
      }
      w->done = true;
      w->cv.notify_all();
    });
  });
  EDGEBED_RETURN_IF_ERROR(AwaitAnswer(*w, timeout_, what));
  std::lock_guard<std::mutex> lock(w->mu);
  if (w->data.size() != block_size_) {
    return Corruption("the volume answered " + std::to_string(w->data.size()) + " bytes for a " +
                      std::to_string(block_size_) + "-byte block", what);
  }
  *out = std::move(w->data);
  return Status::Ok();
}

Status VolumeAccessDevice::Write(uint64_t block, ByteView data) {
  const std::string what = "volume " + volume_ + " block " + std::to_string(block);
  if (io_.get_executor().running_in_this_thread()) {
    return FailedPrecondition("a blocking write from the io_context's own thread would wait on itself; "
                              "call it from another thread", what);
  }
  if (block >= blocks_) return OutOfRange("past the volume's " + std::to_string(blocks_) + " blocks", what);
  if (data.size() != block_size_) return InvalidArgument("a block write must be exactly one block", what);
  auto w = std::make_shared<Waiter>();
  cluster::VolumeAccess* access = &access_;
  std::string volume = volume_;
  uint32_t b = static_cast<uint32_t>(block);
  Bytes copy = data.ToBytes();
  boost::asio::post(io_, [w, access, volume, b, copy]() mutable {
    access->Write(volume, b, std::move(copy), [w](Status s) {
      std::lock_guard<std::mutex> lock(w->mu);
      w->status = std::move(s);
      w->done = true;
      w->cv.notify_all();
    });
  });
  return AwaitAnswer(*w, timeout_, what);
}

// ---------------------------------------------------------------------------
// VolumeFs

struct VolumeFs::Impl {
  Impl(BlockDevice& d, std::string n)
      : dev(d), name(std::move(n)), bs(d.block_size()), count(d.block_count()),
        payload(bs - kMetaHeader) {}

  BlockDevice& dev;
  const std::string name;
  const uint32_t bs;
  const uint64_t count;
  const uint64_t payload;  // metadata bytes per block

  mutable std::mutex mu;
  std::map<uint64_t, Inode> inodes;
  uint64_t next_ino = kRootIno + 1;
  // A block is busy when the last commit or the current state uses it; only
  // blocks that are neither may be written.
  std::vector<bool> committed, current;
  uint64_t busy_count = 0, current_count = 0;
  std::vector<uint32_t> meta_blocks;  // of the last commit
  uint64_t generation = 0;
  bool dirty = false;
  uint64_t meta_upper = 0;  // an upper bound of the next metadata stream's bytes
  uint64_t alloc_hint = 2;
  Status last_error;

  uint64_t bitmap_bytes() const { return (count + 7) / 8; }
  uint64_t MetaBlocksFor(uint64_t bytes) const { return (bytes + payload - 1) / payload; }
  uint64_t free_blocks() const { return count - busy_count; }
  uint64_t reserve() const { return 2 * MetaBlocksFor(meta_upper); }
  uint64_t max_file_blocks() const { return count; }
  bool busy(uint64_t b) const { return committed[b] || current[b]; }

  uint64_t InodeMetaBytes(const Inode& n) const {
    uint64_t bytes = kInodeBytes + kSlotBytes * n.blocks.size();
    for (const auto& e : n.entries) bytes += kDirentBytes + e.first.size();
    return bytes;
  }
  void RecountMetaUpper() {
    meta_upper = kStreamHeaderBytes + bitmap_bytes();
    for (const auto& kv : inodes) meta_upper += InodeMetaBytes(kv.second);
  }

  int Io(const Status& s) {
    last_error = s;
    return -EIO;
  }

  // --- blocks ---------------------------------------------------------------

  bool Fits(uint64_t data_blocks, uint64_t meta_bytes) const {
    return free_blocks() >= data_blocks + 2 * MetaBlocksFor(meta_upper + meta_bytes);
  }
  // 0 when `data_blocks` more blocks and `meta_bytes` more metadata fit,
  // committing first to release blocks freed since the last commit.
  int EnsureSpace(uint64_t data_blocks, uint64_t meta_bytes) {
    if (Fits(data_blocks, meta_bytes)) return 0;
    if (busy_count > current_count) {
      Status s = Commit();
      if (!s.ok()) return Io(s);
      if (Fits(data_blocks, meta_bytes)) return 0;
    }
    return -ENOSPC;
  }
  // REQUIRES: free_blocks() > 0.
  uint32_t Alloc() {
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t b = alloc_hint + i;
      if (b >= count) b = 2 + (b - count) % (count - 2);
      if (!busy(b)) {
        current[b] = true;
        ++current_count;
        ++busy_count;
        alloc_hint = b + 1 < count ? b + 1 : 2;
        return static_cast<uint32_t>(b);
      }
    }
    return 0;
  }
  void Free(uint32_t b) {
    if (b == 0 || !current[b]) return;
    current[b] = false;
    --current_count;
    if (!committed[b]) --busy_count;
  }

  // --- commit ----------------------------------------------------------------

  Bytes SerializeInodes() const {
    Bytes s;
    PutU32(s, kStreamMagic);
    PutU64(s, next_ino);
    PutU64(s, inodes.size());
    for (const auto& kv : inodes) {
      const Inode& n = kv.second;
      PutU64(s, n.ino);
      s.push_back(static_cast<uint8_t>(n.kind));
      PutU32(s, n.mode);
      PutU32(s, n.uid);
      PutU32(s, n.gid);
      PutU64(s, n.size);
      PutU64(s, static_cast<uint64_t>(n.mtime_ns));
      PutU64(s, static_cast<uint64_t>(n.ctime_ns));
      PutU64(s, n.parent);
      if (n.dir()) {
        PutU32(s, static_cast<uint32_t>(n.entries.size()));
        for (const auto& e : n.entries) {
          PutU16(s, static_cast<uint16_t>(e.first.size()));
          s.insert(s.end(), e.first.begin(), e.first.end());
          PutU64(s, e.second);
        }
      } else {
        std::vector<std::pair<uint32_t, uint32_t>> runs;
        for (uint32_t b : n.blocks) {
          if (!runs.empty()) {
            auto& r = runs.back();
            bool extends = (b == 0 && r.first == 0) || (b != 0 && r.first != 0 && b == r.first + r.second);
            if (extends) { ++r.second; continue; }
          }
          runs.emplace_back(b, 1);
        }
        PutU32(s, static_cast<uint32_t>(runs.size()));
        for (const auto& r : runs) {
          PutU32(s, r.first);
          PutU32(s, r.second);
        }
      }
    }
    return s;
  }

  // Makes the current state the durable one; see the header for the order.
  Status Commit() {
    if (!dirty) return Status::Ok();
    const std::string where = "volume " + name;
    EDGEBED_RETURN_IF_ERROR(dev.Flush().WithContext(where));
    Bytes stream = SerializeInodes();
    const uint64_t total = stream.size() + bitmap_bytes();
    const uint64_t n = MetaBlocksFor(total);
    std::vector<uint32_t> fresh;
    for (uint64_t b = 2; b < count && fresh.size() < n; ++b) {
      if (!busy(b)) fresh.push_back(static_cast<uint32_t>(b));
    }
    if (fresh.size() < n) {
      return Internal("no room for the metadata of a commit although it is held in reserve", where);
    }
    std::vector<bool> next = current;
    for (uint32_t b : meta_blocks) next[b] = false;
    for (uint32_t b : fresh) next[b] = true;
    const size_t bitmap_at = stream.size();
    stream.resize(stream.size() + bitmap_bytes(), 0);
    for (uint64_t b = 0; b < count; ++b) {
      if (next[b]) stream[bitmap_at + b / 8] |= uint8_t(1u << (b % 8));
    }
    Super super;
    super.generation = generation + 1;
    super.meta_first = fresh[0];
    super.meta_blocks = static_cast<uint32_t>(n);
    super.meta_bytes = total;
    super.meta_crc = Crc32c(stream);
    for (uint64_t i = 0; i < n; ++i) {
      Bytes block;
      block.reserve(bs);
      PutU32(block, kMetaMagic);
      PutU32(block, i + 1 < n ? fresh[i + 1] : 0);
      PutU64(block, super.generation);
      const size_t from = i * payload;
      const size_t len = std::min<uint64_t>(payload, stream.size() - from);
      block.insert(block.end(), stream.begin() + from, stream.begin() + from + len);
      block.resize(bs, 0);
      EDGEBED_RETURN_IF_ERROR(dev.Write(fresh[i], block).WithContext(where));
    }
    EDGEBED_RETURN_IF_ERROR(dev.Flush().WithContext(where));
    Status s = dev.Write(super.generation % 2, EncodeSuper(bs, count, super));
    if (s.ok()) s = dev.Flush();
    if (!s.ok()) {
      // The new superblock may have reached the disk all the same: keep what
      // it references unwritten until a later commit replaces it.
      uint64_t pinned = 0;
      for (uint64_t b = 0; b < count; ++b) {
        if (next[b]) committed[b] = true;
        pinned += busy(b) ? 1 : 0;
      }
      busy_count = pinned;
      return s.WithContext(where);
    }
    current = next;
    committed = next;
    current_count = busy_count = static_cast<uint64_t>(std::count(next.begin(), next.end(), true));
    meta_blocks = std::move(fresh);
    generation = super.generation;
    dirty = false;
    return Status::Ok();
  }

  // --- mount -------------------------------------------------------------------

  Status Load(const Super& super) {
    const std::string where = "volume " + name;
    auto bad = [&where](const std::string& what) {
      return Corruption("the filesystem's metadata is damaged: " + what +
                        "; the volume cannot be mounted; restore it from a snapshot or backup",
                        where);
    };
    if (super.meta_blocks == 0 || super.meta_bytes > uint64_t(super.meta_blocks) * payload ||
        super.meta_bytes <= uint64_t(super.meta_blocks - 1) * payload || super.meta_blocks > count) {
      return bad("the superblock's metadata length does not match its block count");
    }
    Bytes stream;
    std::vector<uint32_t> chain;
    uint64_t block = super.meta_first;
    for (uint32_t i = 0; i < super.meta_blocks; ++i) {
      if (block < 2 || block >= count) {
        return bad("metadata block " + std::to_string(i) + " points outside the volume (" +
                   std::to_string(block) + ")");
      }
      Bytes b;
      EDGEBED_RETURN_IF_ERROR(dev.Read(block, &b).WithContext(where));
      if (GetU32(b.data()) != kMetaMagic || GetU64(b.data() + 8) != super.generation) {
        return bad("metadata block " + std::to_string(block) + " is not of generation " +
                   std::to_string(super.generation));
      }
      chain.push_back(static_cast<uint32_t>(block));
      const uint64_t next = GetU32(b.data() + 4);
      if ((next == 0) != (i + 1 == super.meta_blocks)) {
        return bad("the metadata chain's length does not match the superblock");
      }
      stream.insert(stream.end(), b.begin() + kMetaHeader, b.end());
      block = next;
    }
    stream.resize(super.meta_bytes);
    if (Crc32c(stream) != super.meta_crc) return bad("the metadata fails its checksum");

    Cursor c(stream);
    if (c.Get(4) != kStreamMagic) return bad("the inode table has no magic");
    next_ino = c.Get(8);
    const uint64_t n_inodes = c.Get(8);
    if (!c.ok() || n_inodes > c.left() / 53) return bad("the inode count is past the metadata's end");
    inodes.clear();
    for (uint64_t i = 0; i < n_inodes; ++i) {
      Inode n;
      n.ino = c.Get(8);
      const uint64_t kind = c.Get(1);
      n.mode = static_cast<uint32_t>(c.Get(4)) & 07777;
      n.uid = static_cast<uint32_t>(c.Get(4));
      n.gid = static_cast<uint32_t>(c.Get(4));
      n.size = c.Get(8);
      n.mtime_ns = static_cast<int64_t>(c.Get(8));
      n.ctime_ns = static_cast<int64_t>(c.Get(8));
      n.parent = c.Get(8);
      const uint64_t items = c.Get(4);
      if (!c.ok()) return bad("inode " + std::to_string(i) + " is cut short");
      if (kind == uint64_t(FileKind::kDirectory)) {
        n.kind = FileKind::kDirectory;
        if (items > c.left() / (kDirentBytes + 1)) return bad("a directory's entry count is past the end");
        for (uint64_t e = 0; e < items; ++e) {
          const size_t len = c.Get(2);
          std::string nm = c.Str(len);
          const uint64_t ino = c.Get(8);
          if (!c.ok() || !ValidName(nm)) return bad("directory " + std::to_string(n.ino) + " has a bad entry");
          if (!n.entries.emplace(nm, ino).second) return bad("directory " + std::to_string(n.ino) + " names an entry twice");
        }
      } else if (kind == uint64_t(FileKind::kRegular)) {
        n.kind = FileKind::kRegular;
        if (items > c.left() / 8) return bad("a file's run count is past the end");
        for (uint64_t r = 0; r < items; ++r) {
          const uint64_t start = c.Get(4), len = c.Get(4);
          if (!c.ok() || len == 0 || len > max_file_blocks() - n.blocks.size() ||
              (start != 0 && (start < 2 || start + len > count))) {
            return bad("file " + std::to_string(n.ino) + " has a block run outside the volume");
          }
          for (uint64_t k = 0; k < len; ++k) n.blocks.push_back(start == 0 ? 0 : uint32_t(start + k));
        }
        if (n.size > max_file_blocks() * bs) return bad("file " + std::to_string(n.ino) + " is larger than the volume allows");
      } else {
        return bad("inode " + std::to_string(n.ino) + " has unknown kind " + std::to_string(kind));
      }
      if (n.ino == 0 || n.ino >= next_ino || !inodes.emplace(n.ino, std::move(n)).second) {
        return bad("an inode number is zero, repeated or past the next free one");
      }
    }
    if (c.left() != bitmap_bytes()) return bad("the block bitmap has the wrong length");
    ByteView stored = c.Rest();

    // The tree: every inode reached once from the root, parents as recorded.
    auto root = inodes.find(kRootIno);
    if (root == inodes.end() || !root->second.dir()) return bad("the root directory is missing");
    std::vector<bool> derived(count, false);
    derived[0] = derived[1] = true;
    for (uint32_t b : chain) derived[b] = true;
    std::vector<uint64_t> todo{kRootIno};
    size_t reached = 0;
    std::set<uint64_t> seen{kRootIno};
    while (!todo.empty()) {
      const Inode& d = inodes[todo.back()];
      todo.pop_back();
      ++reached;
      for (const auto& e : d.entries) {
        auto it = inodes.find(e.second);
        if (it == inodes.end() || !seen.insert(e.second).second) {
          return bad("directory " + std::to_string(d.ino) + " names a missing or already linked inode " +
                     std::to_string(e.second));
        }
        Inode& child = it->second;
        if (child.parent != d.ino) return bad("inode " + std::to_string(child.ino) + " has the wrong parent");
        if (child.dir()) {
          todo.push_back(child.ino);
        } else {
          ++reached;
          for (uint32_t b : child.blocks) {
            if (b == 0) continue;
            if (derived[b]) return bad("block " + std::to_string(b) + " is used twice");
            derived[b] = true;
          }
        }
      }
    }
    if (reached != inodes.size()) return bad("some inodes are not in the directory tree");
    for (uint64_t b = 0; b < count; ++b) {
      if (((stored[b / 8] >> (b % 8)) & 1) != derived[b]) {
        return bad("the block bitmap disagrees with the inodes at block " + std::to_string(b));
      }
    }
    current = derived;
    committed = derived;
    current_count = busy_count = static_cast<uint64_t>(std::count(derived.begin(), derived.end(), true));
    meta_blocks = chain;
    generation = super.generation;
    dirty = false;
    RecountMetaUpper();
    return Status::Ok();
  }

  void InitEmpty() {
    inodes.clear();
    Inode root;
    root.ino = kRootIno;
    root.kind = FileKind::kDirectory;
    root.mode = 0777;  // as Kubernetes makes an emptyDir: the pod's user may be anyone
    root.mtime_ns = root.ctime_ns = NowNanos();
    root.parent = kRootIno;
    inodes.emplace(kRootIno, root);
    next_ino = kRootIno + 1;
    current.assign(count, false);
    committed.assign(count, false);
    current[0] = current[1] = true;
    current_count = busy_count = 2;
    meta_blocks.clear();
    generation = 0;  // the first commit writes generation 1 into block 1
    dirty = true;
    RecountMetaUpper();
  }

  // --- paths -----------------------------------------------------------------

  static int Split(const std::string& path, std::vector<std::string>* parts) {
    if (path.empty() || path[0] != '/') return -EINVAL;
    size_t i = 1;
    while (i <= path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      if (j > i) {
        std::string part = path.substr(i, j - i);
        if (part.size() > kNameMax) return -ENAMETOOLONG;
        if (part == "." || part == "..") return -EINVAL;
        parts->push_back(std::move(part));
      }
      i = j + 1;
    }
    return 0;
  }
  int Walk(const std::vector<std::string>& parts, size_t n, uint64_t* ino) {
    uint64_t at = kRootIno;
    for (size_t i = 0; i < n; ++i) {
      const Inode& d = inodes[at];
      if (!d.dir()) return -ENOTDIR;
      auto it = d.entries.find(parts[i]);
      if (it == d.entries.end()) return -ENOENT;
      at = it->second;
    }
    *ino = at;
    return 0;
  }
  // An attribute change: `change` on the inode at `path`, its ctime now.
  int ChangeAttributes(const std::string& path, const std::function<void(Inode&)>& change) {
    std::lock_guard<std::mutex> lock(mu);
    Inode* n = nullptr;
    if (int r = Lookup(path, &n); r != 0) return r;
    change(*n);
    n->ctime_ns = NowNanos();
    dirty = true;
    return 0;
  }

  int Lookup(const std::string& path, Inode** out) {
    std::vector<std::string> parts;
    int r = Split(path, &parts);
    uint64_t ino = 0;
    if (r == 0) r = Walk(parts, parts.size(), &ino);
    if (r != 0) return r;
    *out = &inodes[ino];
    return 0;
  }
  // The directory that holds (or would hold) `path`, and the last name.
  // -EBUSY for the root itself.
  int LookupParent(const std::string& path, Inode** parent, std::string* leaf) {
    std::vector<std::string> parts;
    int r = Split(path, &parts);
    if (r != 0) return r;
    if (parts.empty()) return -EBUSY;
    uint64_t ino = 0;
    r = Walk(parts, parts.size() - 1, &ino);
    if (r != 0) return r;
    if (!inodes[ino].dir()) return -ENOTDIR;
    *parent = &inodes[ino];
    *leaf = parts.back();
    return 0;
  }

  // --- files -----------------------------------------------------------------

  int MakeNode(const std::string& path, FileKind kind, uint32_t mode) {
    Inode* parent = nullptr;
    std::string leaf;
    int r = LookupParent(path, &parent, &leaf);
    if (r == -EBUSY) return -EEXIST;
    if (r != 0) return r;
    if (parent->entries.count(leaf)) return -EEXIST;
    r = EnsureSpace(0, kInodeBytes + kDirentBytes + leaf.size());
    if (r != 0) return r;
    const uint64_t parent_ino = parent->ino;  // EnsureSpace may commit, never move inodes
    Inode n;
    n.ino = next_ino++;
    n.kind = kind;
    n.mode = mode & 07777;
    n.mtime_ns = n.ctime_ns = NowNanos();
    n.parent = parent_ino;
    Inode& p = inodes[parent_ino];
    p.entries.emplace(leaf, n.ino);
    p.mtime_ns = n.mtime_ns;
    meta_upper += kInodeBytes + kDirentBytes + leaf.size();
    inodes.emplace(n.ino, std::move(n));
    dirty = true;
    return 0;
  }

  void DropInode(uint64_t ino) {
    Inode& n = inodes[ino];
    for (uint32_t b : n.blocks) Free(b);
    meta_upper -= InodeMetaBytes(n);
    inodes.erase(ino);
  }

  // Rewrites file block `bi` with `piece` at `within` (zeros elsewhere when
  // the block is new), copying it first when the last commit uses it.
  int WriteBlock(Inode& n, uint64_t bi, size_t within, ByteView piece) {
    const uint32_t old = bi < n.blocks.size() ? n.blocks[bi] : 0;
    const bool fresh = old == 0 || committed[old];
    const uint64_t extra_slots = bi >= n.blocks.size() ? bi + 1 - n.blocks.size() : 0;
    if (fresh) {
      int r = EnsureSpace(1, kSlotBytes * extra_slots);
      if (r != 0) return r;
    }
    Bytes buf;
    if (piece.size() == bs) {
      buf = piece.ToBytes();
    } else {
      if (old != 0) {
        Status s = dev.Read(old, &buf);
        if (!s.ok()) return Io(s.WithContext("volume " + name));
      } else {
        buf.assign(bs, 0);
      }
      std::copy(piece.begin(), piece.end(), buf.begin() + within);
    }
    const uint32_t target = fresh ? Alloc() : old;
    Status s = dev.Write(target, buf);
    if (!s.ok()) {
      if (fresh) Free(target);
      return Io(s.WithContext("volume " + name));
    }
    if (extra_slots) {
      n.blocks.resize(bi + 1, 0);
      meta_upper += kSlotBytes * extra_slots;
    }
    n.blocks[bi] = target;
    if (fresh && old != 0) Free(old);
    dirty = true;
    return 0;
  }

  // Frees the file's blocks past `size`. The bytes past the new end in the
  // last block stay as they were: reads stop at the size, and growing the
  // file zeroes them first (ZeroPastEnd), so a shrink never needs a block.
  void Shrink(Inode& n, uint64_t size) {
    const uint64_t keep = (size + bs - 1) / bs;
    if (keep < n.blocks.size()) {
      for (uint64_t i = keep; i < n.blocks.size(); ++i) Free(n.blocks[i]);
      meta_upper -= kSlotBytes * (n.blocks.size() - keep);
      n.blocks.resize(keep);
    }
    while (!n.blocks.empty() && n.blocks.back() == 0) {
      n.blocks.pop_back();
      meta_upper -= kSlotBytes;
    }
    n.size = size;
    dirty = true;
  }

  // Before the file grows: zeroes what its last block holds past the end.
  int ZeroPastEnd(Inode& n) {
    const uint64_t bi = n.size / bs, within = n.size % bs;
    if (within == 0 || bi >= n.blocks.size() || n.blocks[bi] == 0) return 0;
    Bytes zeros(bs - within, 0);
    return WriteBlock(n, bi, within, zeros);
  }
};

VolumeFs::VolumeFs(std::unique_ptr<Impl> impl, std::string name)
    : impl_(std::move(impl)), name_(std::move(name)) {}

VolumeFs::~VolumeFs() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  (void)impl_->Commit();
}

namespace {
Status CheckGeometry(const BlockDevice& device, const std::string& where) {
  if (device.block_size() < kMinBlockSize || device.block_size() % 8 != 0) {
    return InvalidArgument("block size " + std::to_string(device.block_size()) +
                           " is too small or odd; use at least 512 bytes, a multiple of 8", where);
  }
  if (device.block_count() < kMinBlocks || device.block_count() > UINT32_MAX) {
    return InvalidArgument("a volume of " + std::to_string(device.block_count()) +
                           " blocks is out of range; use 16 to 2^32-1 blocks", where);
  }
  return Status::Ok();
}
}  // namespace

Status VolumeFs::Format(BlockDevice& device, std::string name) {
  const std::string where = "volume " + name;
  EDGEBED_RETURN_IF_ERROR(CheckGeometry(device, where));
  Impl impl(device, name);
  impl.InitEmpty();
  // The other slot goes first, so that no superblock of an earlier
  // filesystem outlives the format.
  EDGEBED_RETURN_IF_ERROR(device.Write(0, Bytes(device.block_size(), 0)).WithContext(where));
  return impl.Commit();
}

StatusOr<std::unique_ptr<VolumeFs>> VolumeFs::Open(BlockDevice& device, std::string name,
                                                   VolumeFsOptions options) {
  const std::string where = "volume " + name;
  EDGEBED_RETURN_IF_ERROR(CheckGeometry(device, where));
  auto impl = std::make_unique<Impl>(device, name);
  Bytes slot[2];
  Super super[2];
  SuperState state[2];
  for (int i = 0; i < 2; ++i) {
    EDGEBED_RETURN_IF_ERROR(device.Read(i, &slot[i]).WithContext(where));
    state[i] = ParseSuper(slot[i], &super[i]);
    if (state[i] == SuperState::kValid) {
      const uint32_t version = GetU32(slot[i].data() + 8);
      if (version != kVersion) {
        return FailedPrecondition("the filesystem is of format version " + std::to_string(version) +
                                  ", this build reads version " + std::to_string(kVersion) +
                                  "; mount it with a matching edgebed", where);
      }
      const uint32_t bs = GetU32(slot[i].data() + 12);
      const uint64_t count = GetU64(slot[i].data() + 16);
      if (bs != device.block_size() || count != device.block_count()) {
        return FailedPrecondition("the filesystem was made for " + std::to_string(count) + " blocks of " +
                                  std::to_string(bs) + " bytes but the volume has " +
                                  std::to_string(device.block_count()) + " of " +
                                  std::to_string(device.block_size()) +
                                  "; a resized volume needs its filesystem grown offline", where);
      }
    }
  }
  int pick = -1;
  for (int i = 0; i < 2; ++i) {
    if (state[i] == SuperState::kValid && (pick < 0 || super[i].generation > super[pick].generation)) pick = i;
  }
  if (pick >= 0) {
    EDGEBED_RETURN_IF_ERROR(impl->Load(super[pick]));
    return std::unique_ptr<VolumeFs>(new VolumeFs(std::move(impl), std::move(name)));
  }
  bool blank = state[0] == SuperState::kBlank && state[1] == SuperState::kBlank;
  // A format cut short: slot 0 zeroed, slot 1 torn.
  const bool interrupted_format = state[0] == SuperState::kBlank && state[1] == SuperState::kTorn;
  if (blank) {
    for (uint64_t b = 2; b < std::min<uint64_t>(device.block_count(), 2 + kBlankProbe); ++b) {
      Bytes probe;
      EDGEBED_RETURN_IF_ERROR(device.Read(b, &probe).WithContext(where));
      // Metadata blocks of a format cut short before its superblock are ours.
      if (!AllZero(probe) && GetU32(probe.data()) != kMetaMagic) {
        return Corruption("the volume has no filesystem superblock but block " + std::to_string(b) +
                          " holds data: it is not blank, so it is not formatted; if its content is "
                          "disposable, zero its first blocks",
                          where);
      }
    }
  }
  if (blank || interrupted_format) {
    if (!options.format_if_empty) {
      return FailedPrecondition("the volume is blank; format it, or open it with format_if_empty", where);
    }
    EDGEBED_RETURN_IF_ERROR(Format(device, name));
    return Open(device, std::move(name), options);
  }
  if (state[0] == SuperState::kTorn || state[1] == SuperState::kTorn) {
    return Corruption("both superblocks fail their checksum (torn or damaged blocks 0 and 1); "
                      "the volume cannot be mounted; restore it from a snapshot or backup",
                      where);
  }
  return Corruption("the volume does not hold an edgebed filesystem (no superblock magic in blocks 0 "
                    "and 1) and is not blank: refusing to format over what is there; if its content "
                    "is disposable, zero its first blocks",
                    where);
}

int VolumeFs::GetAttr(const std::string& path, FileAttr* attr) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Inode* n = nullptr;
  int r = impl_->Lookup(path, &n);
  if (r != 0) return r;
  attr->ino = n->ino;
  attr->kind = n->kind;
  attr->mode = n->mode;
  attr->uid = n->uid;
  attr->gid = n->gid;
  attr->size = n->dir() ? impl_->bs : n->size;
  attr->mtime_ns = n->mtime_ns;
  attr->ctime_ns = n->ctime_ns;
  attr->blocks_used = static_cast<uint64_t>(
      std::count_if(n->blocks.begin(), n->blocks.end(), [](uint32_t b) { return b != 0; }));
  attr->nlink = 1;
  if (n->dir()) {
    attr->nlink = 2;
    for (const auto& e : n->entries) attr->nlink += impl_->inodes[e.second].dir() ? 1 : 0;
  }
  return 0;
}

int VolumeFs::ReadDir(const std::string& path, std::vector<std::string>* names) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Inode* n = nullptr;
  int r = impl_->Lookup(path, &n);
  if (r != 0) return r;
  if (!n->dir()) return -ENOTDIR;
  names->clear();
  for (const auto& e : n->entries) names->push_back(e.first);
  return 0;
}

int VolumeFs::Create(const std::string& path, uint32_t mode) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->MakeNode(path, FileKind::kRegular, mode);
}

int VolumeFs::Mkdir(const std::string& path, uint32_t mode) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->MakeNode(path, FileKind::kDirectory, mode);
}

int VolumeFs::Unlink(const std::string& path) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Inode* parent = nullptr;
  std::string leaf;
  int r = impl_->LookupParent(path, &parent, &leaf);
  if (r == -EBUSY) return -EISDIR;
  if (r != 0) return r;
  auto it = parent->entries.find(leaf);
  if (it == parent->entries.end()) return -ENOENT;
  if (impl_->inodes[it->second].dir()) return -EISDIR;
  impl_->DropInode(it->second);
  parent->entries.erase(it);
  parent->mtime_ns = NowNanos();
  impl_->meta_upper -= kDirentBytes + leaf.size();
  impl_->dirty = true;
  return 0;
}

int VolumeFs::Rmdir(const std::string& path) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Inode* parent = nullptr;
  std::string leaf;
  int r = impl_->LookupParent(path, &parent, &leaf);
  if (r != 0) return r;
  auto it = parent->entries.find(leaf);
  if (it == parent->entries.end()) return -ENOENT;
  const Inode& d = impl_->inodes[it->second];
  if (!d.dir()) return -ENOTDIR;
  if (!d.entries.empty()) return -ENOTEMPTY;
  impl_->DropInode(it->second);
  parent->entries.erase(it);
  parent->mtime_ns = NowNanos();
  impl_->meta_upper -= kDirentBytes + leaf.size();
  impl_->dirty = true;
  return 0;
}

int VolumeFs::Rename(const std::string& from, const std::string& to, bool no_replace) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  Inode* from_dir = nullptr;
  Inode* to_dir = nullptr;
  std::string from_leaf, to_leaf;
  int r = m.LookupParent(from, &from_dir, &from_leaf);
  if (r != 0) return r;
  r = m.LookupParent(to, &to_dir, &to_leaf);
  if (r != 0) return r;
  auto src = from_dir->entries.find(from_leaf);
  if (src == from_dir->entries.end()) return -ENOENT;
  const uint64_t moving = src->second;
  const bool moving_dir = m.inodes[moving].dir();
  // A directory may not move into itself or below itself.
  if (moving_dir) {
    for (uint64_t at = to_dir->ino;; at = m.inodes[at].parent) {
      if (at == moving) return -EINVAL;
      if (at == kRootIno) break;
    }
  }
  auto dst = to_dir->entries.find(to_leaf);
  if (dst != to_dir->entries.end()) {
    if (dst->second == moving) return 0;
    if (no_replace) return -EEXIST;
    const Inode& victim = m.inodes[dst->second];
    if (moving_dir && !victim.dir()) return -ENOTDIR;
    if (!moving_dir && victim.dir()) return -EISDIR;
    if (victim.dir() && !victim.entries.empty()) return -ENOTEMPTY;
  }
  if (to_leaf.size() > from_leaf.size()) {
    r = m.EnsureSpace(0, to_leaf.size() - from_leaf.size());
    if (r != 0) return r;
  }
  const uint64_t from_dir_ino = from_dir->ino, to_dir_ino = to_dir->ino;
  Inode& fd = m.inodes[from_dir_ino];
  Inode& td = m.inodes[to_dir_ino];
  auto old = td.entries.find(to_leaf);
  if (old != td.entries.end()) {
    m.DropInode(old->second);
    td.entries.erase(old);
    m.meta_upper -= kDirentBytes + to_leaf.size();
  }
  fd.entries.erase(from_leaf);
  m.meta_upper -= kDirentBytes + from_leaf.size();
  td.entries.emplace(to_leaf, moving);
  m.meta_upper += kDirentBytes + to_leaf.size();
  Inode& mv = m.inodes[moving];
  mv.parent = to_dir_ino;
  mv.ctime_ns = fd.mtime_ns = td.mtime_ns = NowNanos();
  m.dirty = true;
  return 0;
}

int VolumeFs::Truncate(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Inode* n = nullptr;
  int r = impl_->Lookup(path, &n);
  if (r != 0) return r;
  if (n->dir()) return -EISDIR;
  if (size > impl_->max_file_blocks() * impl_->bs) return -EFBIG;
  if (size < n->size) {
    impl_->Shrink(*n, size);
  } else if (size > n->size) {
    r = impl_->ZeroPastEnd(*n);
    if (r != 0) return r;
  }
  n->size = size;
  n->mtime_ns = n->ctime_ns = NowNanos();
  impl_->dirty = true;
  return 0;
}

int VolumeFs::Chmod(const std::string& path, uint32_t mode) {
  return impl_->ChangeAttributes(path, [mode](Inode& n) { n.mode = mode & 07777; });
}

int VolumeFs::Chown(const std::string& path, uint32_t uid, uint32_t gid) {
  return impl_->ChangeAttributes(path, [uid, gid](Inode& n) {
    if (uid != UINT32_MAX) n.uid = uid;
    if (gid != UINT32_MAX) n.gid = gid;
  });
}

int VolumeFs::SetTimes(const std::string& path, int64_t mtime_ns) {
  return impl_->ChangeAttributes(path, [mtime_ns](Inode& n) { n.mtime_ns = mtime_ns; });
}

int64_t VolumeFs::Read(const std::string& path, uint64_t offset, size_t size, Bytes* out) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  Inode* n = nullptr;
  int r = m.Lookup(path, &n);
  if (r != 0) return r;
  if (n->dir()) return -EISDIR;
  out->clear();
  if (offset >= n->size) return 0;
  const uint64_t end = std::min<uint64_t>(n->size, offset + size);
  out->reserve(end - offset);
  Bytes block;
  for (uint64_t pos = offset; pos < end;) {
    const uint64_t bi = pos / m.bs, within = pos % m.bs;
    const uint64_t len = std::min<uint64_t>(m.bs - within, end - pos);
    const uint32_t b = bi < n->blocks.size() ? n->blocks[bi] : 0;
    if (b == 0) {
      out->insert(out->end(), len, 0);
    } else {
      Status s = m.dev.Read(b, &block);
      if (!s.ok()) return m.Io(s.WithContext("volume " + m.name));
      out->insert(out->end(), block.begin() + within, block.begin() + within + len);
    }
    pos += len;
  }
  return static_cast<int64_t>(out->size());
}

int64_t VolumeFs::Write(const std::string& path, uint64_t offset, ByteView data) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  Inode* n = nullptr;
  int r = m.Lookup(path, &n);
  if (r != 0) return r;
  if (n->dir()) return -EISDIR;
  const uint64_t limit = m.max_file_blocks() * m.bs;
  if (offset > limit || data.size() > limit - offset) return -EFBIG;
  if (offset > n->size && !data.empty()) {
    r = m.ZeroPastEnd(*n);
    if (r != 0) return r;
  }
  size_t written = 0;
  int err = 0;
  while (written < data.size()) {
    const uint64_t pos = offset + written;
    const uint64_t bi = pos / m.bs, within = pos % m.bs;
    const size_t len = std::min<uint64_t>(m.bs - within, data.size() - written);
    err = m.WriteBlock(*n, bi, within, data.substr(written, len));
    if (err != 0) break;
    written += len;
    n->size = std::max<uint64_t>(n->size, pos + len);
  }
  if (written == 0 && err != 0) return err;
  if (written > 0) {
    n->mtime_ns = NowNanos();
    m.dirty = true;
  }
  return static_cast<int64_t>(written);
}

int VolumeFs::Fsync() {
  Status s = Sync();
  return s.ok() ? 0 : -EIO;
}

Status VolumeFs::Sync() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Status s = impl_->Commit();
  if (!s.ok()) impl_->last_error = s;
  return s;
}

int VolumeFs::StatFs(FsStats* stats) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const Impl& m = *impl_;
  stats->block_size = m.bs;
  stats->blocks = m.count;
  const uint64_t reserve = m.reserve();
  stats->blocks_free = m.free_blocks() > reserve ? m.free_blocks() - reserve : 0;
  stats->files = m.inodes.size();
  stats->name_max = kNameMax;
  return 0;
}

Status VolumeFs::last_error() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->last_error;
}

uint64_t VolumeFs::generation() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->generation;
}

// ---------------------------------------------------------------------------
// FUSE

namespace {

VolumeFs* Fs() { return static_cast<VolumeFs*>(fuse_get_context()->private_data); }

void ToStat(const FileAttr& a, uint32_t block_size, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = a.ino;
  st->st_mode = (a.kind == FileKind::kDirectory ? S_IFDIR : S_IFREG) | a.mode;
  st->st_nlink = a.nlink;
  st->st_uid = a.uid;
  st->st_gid = a.gid;
  st->st_size = static_cast<off_t>(a.size);
  st->st_blksize = block_size;
  st->st_blocks = static_cast<blkcnt_t>(a.blocks_used * block_size / 512);
  st->st_mtim.tv_sec = a.mtime_ns / 1000000000;
  st->st_mtim.tv_nsec = a.mtime_ns % 1000000000;
  st->st_atim = st->st_mtim;
  st->st_ctim.tv_sec = a.ctime_ns / 1000000000;
  st->st_ctim.tv_nsec = a.ctime_ns % 1000000000;
}

uint32_t BlockSizeOf(VolumeFs* fs) {
  FsStats s;
  fs->StatFs(&s);
  return s.block_size;
}

// libfuse may hand a null path for a file that is open but gone.
#define EDGEBED_FUSE_PATH(p) \
  if ((p) == nullptr) return -ENOENT

int OpGetAttr(const char* path, struct stat* st, struct fuse_file_info*) {
  EDGEBED_FUSE_PATH(path);
  FileAttr a;
  int r = Fs()->GetAttr(path, &a);
  if (r == 0) ToStat(a, BlockSizeOf(Fs()), st);
  return r;
}

int OpReadDir(const char* path, void* buf, fuse_fill_dir_t filler, off_t, struct fuse_file_info*,
              enum fuse_readdir_flags) {
  EDGEBED_FUSE_PATH(path);
  std::vector<std::string> names;
  int r = Fs()->ReadDir(path, &names);
  if (r != 0) return r;
  filler(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  filler(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (const auto& n : names) {
    if (filler(buf, n.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  return 0;
}

int OwnByCaller(const char* path) {
  const struct fuse_context* ctx = fuse_get_context();
  return Fs()->Chown(path, ctx->uid, ctx->gid);
}

int OpMkdir(const char* path, mode_t mode) {
  EDGEBED_FUSE_PATH(path);
  int r = Fs()->Mkdir(path, mode);
  return r == 0 ? OwnByCaller(path) : r;
}

int OpCreate(const char* path, mode_t mode, struct fuse_file_info*) {
  EDGEBED_FUSE_PATH(path);
  int r = Fs()->Create(path, mode);
  return r == 0 ? OwnByCaller(path) : r;
}

int OpUnlink(const char* path) {
  EDGEBED_FUSE_PATH(path);
  return Fs()->Unlink(path);
}

int OpRmdir(const char* path) {
  EDGEBED_FUSE_PATH(path);
  return Fs()->Rmdir(path);
}

int OpRename(const char* from, const char* to, unsigned int flags) {
  EDGEBED_FUSE_PATH(from);
  EDGEBED_FUSE_PATH(to);
  if (flags & ~static_cast<unsigned int>(RENAME_NOREPLACE)) return -EINVAL;  // no RENAME_EXCHANGE
  return Fs()->Rename(from, to, (flags & RENAME_NOREPLACE) != 0);
}

int OpChmod(const char* path, mode_t mode, struct fuse_file_info*) {
  EDGEBED_FUSE_PATH(path);
  return Fs()->Chmod(path, mode);
}

int OpChown(const char* path, uid_t uid, gid_t gid, struct fuse_file_info*) {
  EDGEBED_FUSE_PATH(path);
  return Fs()->Chown(path, uid, gid);
}

int OpTruncate(const char* path, off_t size, struct fuse_file_info*) {
  EDGEBED_FUSE_PATH(path);
  if (size < 0) return -EINVAL;
  return Fs()->Truncate(path, static_cast<uint64_t>(size));
}

int OpOpen(const char* path, struct fuse_file_info*) {
  EDGEBED_FUSE_PATH(path);
  FileAttr a;
  int r = Fs()->GetAttr(path, &a);
  if (r != 0) return r;
  return a.kind == FileKind::kDirectory ? -EISDIR : 0;
}

int OpRead(const char* path, char* buf, size_t size, off_t offset, struct fuse_file_info*) {
  EDGEBED_FUSE_PATH(path);
  if (offset < 0) return -EINVAL;
  Bytes out;
  int64_t r = Fs()->Read(path, static_cast<uint64_t>(offset), size, &out);
  if (r > 0) std::memcpy(buf, out.data(), out.size());
  return static_cast<int>(r);
}

int OpWrite(const char* path, const char* buf, size_t size, off_t offset, struct fuse_file_info*) {
  EDGEBED_FUSE_PATH(path);
  if (offset < 0) return -EINVAL;
  return static_cast<int>(Fs()->Write(path, static_cast<uint64_t>(offset),
                                      ByteView(reinterpret_cast<const uint8_t*>(buf), size)));
}

int OpStatFs(const char*, struct statvfs* st) {
  FsStats s;
  int r = Fs()->StatFs(&s);
  if (r != 0) return r;
  std::memset(st, 0, sizeof *st);
  st->f_bsize = st->f_frsize = s.block_size;
  st->f_blocks = s.blocks;
  st->f_bfree = st->f_bavail = s.blocks_free;
  st->f_files = s.files + s.blocks_free;
  st->f_ffree = st->f_favail = s.blocks_free;
  st->f_namemax = s.name_max;
  return 0;
}

int OpFsync(const char*, int, struct fuse_file_info*) { return Fs()->Fsync(); }

int OpUtimens(const char* path, const struct timespec tv[2], struct fuse_file_info*) {
  EDGEBED_FUSE_PATH(path);
  if (tv != nullptr && tv[1].tv_nsec == UTIME_OMIT) return 0;
  int64_t t = tv == nullptr || tv[1].tv_nsec == UTIME_NOW
                  ? NowNanos()
                  : int64_t(tv[1].tv_sec) * 1000000000 + tv[1].tv_nsec;
  return Fs()->SetTimes(path, t);
}

void* OpInit(struct fuse_conn_info*, struct fuse_config* cfg) {
  cfg->use_ino = 1;
  return fuse_get_context()->private_data;
}

void OpDestroy(void* data) { (void)static_cast<VolumeFs*>(data)->Fsync(); }

struct fuse_operations MakeOperations() {
  struct fuse_operations ops;
  std::memset(&ops, 0, sizeof ops);
  ops.getattr = OpGetAttr;
  ops.readdir = OpReadDir;
  ops.mkdir = OpMkdir;
  ops.create = OpCreate;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.rename = OpRename;
  ops.chmod = OpChmod;
  ops.chown = OpChown;
  ops.truncate = OpTruncate;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.statfs = OpStatFs;
  ops.fsync = OpFsync;
  ops.fsyncdir = OpFsync;
  ops.utimens = OpUtimens;
  ops.init = OpInit;
  ops.destroy = OpDestroy;
  return ops;
}

}  // namespace

Status VolumeFsMount::FuseAvailable() {
  int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return Status::Ok();
  }
  const int err = errno;
  if (err == ENOENT || err == ENODEV || err == ENXIO) {
    return Unavailable("no usable /dev/fuse on this node (" + std::string(std::strerror(err)) +
                       "): load the fuse module (modprobe fuse), or give the container the device "
                       "(--device /dev/fuse)", "/dev/fuse");
  }
  if (err == EACCES || err == EPERM) {
    return PermissionDenied("cannot open /dev/fuse: permission denied; run the agent as root or give "
                            "it the device (--device /dev/fuse --cap-add SYS_ADMIN in a container)",
                            "/dev/fuse");
  }
  return Unavailable("cannot open /dev/fuse: " + std::string(std::strerror(err)), "/dev/fuse");
}

VolumeFsMount::VolumeFsMount(VolumeFs& fs, VolumeFsMountOptions options)
    : fs_(fs), options_(std::move(options)) {}

StatusOr<std::unique_ptr<VolumeFsMount>> VolumeFsMount::Mount(VolumeFs& fs,
                                                              VolumeFsMountOptions options) {
  const std::string where = options.mount_point;
  EDGEBED_RETURN_IF_ERROR(FuseAvailable());
  struct stat st;
  if (::stat(options.mount_point.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound("the mount point does not exist: create the directory first", where);
    return InvalidArgument("cannot reach the mount point: " + std::string(std::strerror(err)), where);
  }
  if (!S_ISDIR(st.st_mode)) return InvalidArgument("the mount point is not a directory", where);

  std::string fsname = "edgebed:" + fs.name();
  std::replace(fsname.begin(), fsname.end(), ',', '_');
  std::string opts = "fsname=" + fsname + ",subtype=edgebed,default_permissions";
  if (options.allow_other) opts += ",allow_other";
  if (options.read_only) opts += ",ro";
  std::vector<std::string> argv_s = {"edgebed-volume", "-o", opts};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const struct fuse_operations ops = MakeOperations();
  std::unique_ptr<VolumeFsMount> m(new VolumeFsMount(fs, std::move(options)));
  m->fuse_ = fuse_new(&args, &ops, sizeof ops, &fs);
  fuse_opt_free_args(&args);
  if (m->fuse_ == nullptr) {
    return InvalidArgument("libfuse refused the mount options '" + opts + "'", where);
  }
  errno = 0;
  if (fuse_mount(m->fuse_, where.c_str()) != 0) {
    const int err = errno;
    fuse_destroy(m->fuse_);
    m->fuse_ = nullptr;
    const std::string why = err != 0 ? std::string(std::strerror(err)) : "see libfuse's message above";
    if (err == EPERM || err == EACCES || ::geteuid() != 0) {
      return PermissionDenied("mounting FUSE was not permitted (" + why +
                              "): the agent needs CAP_SYS_ADMIN, or fusermount3 (package fuse3) "
                              "and user_allow_other in /etc/fuse.conf",
                              where);
    }
    return Unavailable("mounting FUSE failed (" + why + ")", where);
  }
  m->wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (m->wake_fd_ < 0) {
    fuse_unmount(m->fuse_);
    fuse_destroy(m->fuse_);
    m->fuse_ = nullptr;
    return IoError("eventfd failed: " + std::string(std::strerror(errno)), where);
  }
  m->mounted_ = true;
  VolumeFsMount* raw = m.get();
  m->thread_ = std::thread([raw] { raw->Serve(); });
  return m;
}

// One request at a time, until the eventfd is written or the kernel ends
// the connection; unlike fuse_loop() it can be stopped from outside without
// unmounting first.
void VolumeFsMount::Serve() {
  struct fuse_session* se = fuse_get_session(fuse_);
  const int fd = fuse_session_fd(se);
  struct fuse_buf buf;
  std::memset(&buf, 0, sizeof buf);
  const auto interval = options_.commit_interval;
  auto next_commit = std::chrono::steady_clock::now() + interval;
  while (!fuse_session_exited(se)) {
    int timeout_ms = -1;
    if (interval.count() > 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_commit) {
        (void)fs_.Sync();  // a failure stays in last_error() and is retried next time
        next_commit = now + interval;
      }
      timeout_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next_commit - now).count()) + 1;
    }
    struct pollfd p[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int ready = ::poll(p, 2, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) continue;  // time to commit
    if (p[1].revents != 0) {
      // Answer what the kernel already queued — chiefly the releases of
      // files and directories closed before the unmount — then stop.
      struct pollfd q = {fd, POLLIN, 0};
      while (::poll(&q, 1, 0) == 1 && (q.revents & POLLIN) != 0) {
        if (fuse_session_receive_buf(se, &buf) <= 0) break;
        fuse_session_process_buf(se, &buf);
      }
      break;
    }
    if ((p[0].revents & POLLIN) == 0 && (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) break;
    const int res = fuse_session_receive_buf(se, &buf);
    if (res == -EINTR || res == -EAGAIN) continue;
    if (res <= 0) break;
    fuse_session_process_buf(se, &buf);
  }
  std::free(buf.mem);
}

Status VolumeFsMount::Unmount() {
  if (!mounted_) return Status::Ok();
  mounted_ = false;
  const uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) != sizeof one) {
    fuse_exit(fuse_);  // the loop then ends at its next request
  }
  thread_.join();
  // Closes the connection first, then detaches lazily: a process still
  // inside the mount gets an error rather than a hang.
  fuse_unmount(fuse_);
  fuse_destroy(fuse_);
  fuse_ = nullptr;
  ::close(wake_fd_);
  wake_fd_ = -1;
  return fs_.Sync().WithContext(options_.mount_point);
}

VolumeFsMount::~VolumeFsMount() { (void)Unmount(); }

// ---------------------------------------------------------------------------
// VolumeImage

namespace {
uint64_t HashBlock(const Bytes& b) {
  return std::hash<std::string_view>()(
      std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}
std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }
}  // namespace

VolumeImage::VolumeImage(BlockDevice& device, VolumeImageOptions options, int fd)
    : device_(device), options_(std::move(options)), fd_(fd) {}

StatusOr<std::unique_ptr<VolumeImage>> VolumeImage::Open(BlockDevice& device,
                                                         VolumeImageOptions options) {
  const std::string where = options.path;
  int fd = ::open(options.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
  if (fd < 0) return IoError(Errno("cannot create the volume image") + "; check the pod directory exists and is writable", where);
  std::unique_ptr<VolumeImage> img(new VolumeImage(device, std::move(options), fd));
  const uint32_t bs = device.block_size();
  if (::ftruncate(fd, static_cast<off_t>(device.block_count() * bs)) != 0) {
    return IoError(Errno("cannot size the volume image"), where);
  }
  img->hashes_.resize(device.block_count());
  Bytes block;
  for (uint64_t b = 0; b < device.block_count(); ++b) {
    EDGEBED_RETURN_IF_ERROR(device.Read(b, &block).WithContext(where));
    img->hashes_[b] = HashBlock(block);
    if (AllZero(block)) continue;  // a hole reads as zeros
    if (::pwrite(fd, block.data(), bs, static_cast<off_t>(b * bs)) != static_cast<ssize_t>(bs)) {
      return IoError(Errno("cannot write the volume image"), where);
    }
  }
  if (::fsync(fd) != 0) return IoError(Errno("cannot fsync the volume image"), where);
  if (img->options_.flush_interval.count() > 0 && !img->options_.read_only) {
    VolumeImage* raw = img.get();
    img->flusher_ = std::thread([raw] {
      std::unique_lock<std::mutex> lock(raw->stop_mu_);
      while (!raw->stop_cv_.wait_for(lock, raw->options_.flush_interval, [raw] { return raw->stop_; })) {
        lock.unlock();
        (void)raw->WriteBack();  // a failure is retried at the next interval
        lock.lock();
      }
    });
  }
  return img;
}

Status VolumeImage::WriteBack() {
  std::lock_guard<std::mutex> lock(mu_);
  return WriteBackLocked();
}

Status VolumeImage::WriteBackLocked() {
  if (fd_ < 0) return FailedPrecondition("the volume image is closed", options_.path);
  if (options_.read_only) return Status::Ok();
  const uint32_t bs = device_.block_size();
  Bytes block(bs);
  for (uint64_t b = 0; b < hashes_.size(); ++b) {
    const ssize_t n = ::pread(fd_, block.data(), bs, static_cast<off_t>(b * bs));
    if (n < 0) return IoError(Errno("cannot read the volume image"), options_.path);
    std::fill(block.begin() + n, block.end(), 0);  // the pod truncated the file
    const uint64_t h = HashBlock(block);
    if (h == hashes_[b]) continue;
    EDGEBED_RETURN_IF_ERROR(device_.Write(b, block).WithContext(options_.path));
    hashes_[b] = h;
    ++written_back_;
  }
  EDGEBED_RETURN_IF_ERROR(device_.Flush().WithContext(options_.path));
  if (::fsync(fd_) != 0) return IoError(Errno("cannot fsync the volume image"), options_.path);
  return Status::Ok();
}

Status VolumeImage::Close() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) return Status::Ok();
  Status s = WriteBackLocked();
  ::close(fd_);
  fd_ = -1;
  return s;
}

VolumeImage::~VolumeImage() { (void)Close(); }

uint64_t VolumeImage::blocks_written_back() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_back_;
}

// ---------------------------------------------------------------------------
// PodVolume

StatusOr<std::unique_ptr<PodVolume>> PodVolume::Attach(boost::asio::io_context& io,
                                                       cluster::VolumeAccess& access,
                                                       const cluster::VolumeMount& volume,
                                                       const std::string& pod_dir,
                                                       PodVolumeOptions options) {
  const std::string where = "volume " + volume.volume + " of claim " + volume.claim;
  if (!ValidName(volume.claim)) return InvalidArgument("the claim name is not a file name", where);
  const std::filesystem::path dir = std::filesystem::path(pod_dir) / "volumes";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir.string() + ": " + ec.message(), where);
  std::unique_ptr<PodVolume> pv(new PodVolume());
  pv->device_ = std::make_unique<VolumeAccessDevice>(io, access, volume.volume, volume.block_size,
                                                     volume.blocks, options.io_timeout);
  pv->fuse_status_ = options.use_fuse
                         ? VolumeFsMount::FuseAvailable()
                         : FailedPrecondition("FUSE not wanted (PodVolumeOptions.use_fuse is false)");
  if (pv->fuse_status_.ok()) {
    auto fs = VolumeFs::Open(*pv->device_, volume.volume);
    if (!fs.ok()) return fs.status();
    pv->fs_ = std::move(*fs);
    const std::string mount_point = (dir / volume.claim).string();
    std::filesystem::create_directories(mount_point, ec);
    if (ec) return IoError("cannot create the mount point " + mount_point + ": " + ec.message(), where);
    VolumeFsMountOptions mo;
    mo.mount_point = mount_point;
    mo.read_only = volume.read_only;
    auto m = VolumeFsMount::Mount(*pv->fs_, mo);
    if (m.ok()) {
      pv->mount_ = std::move(*m);
      pv->path_ = mount_point;
      return pv;
    }
    if (m.status().code() != StatusCode::kUnavailable &&
        m.status().code() != StatusCode::kPermissionDenied) {
      return m.status();
    }
    pv->fuse_status_ = m.status();
    pv->fs_.reset();
  }
  VolumeImageOptions io_options;
  io_options.path = (dir / (volume.claim + ".img")).string();
  io_options.flush_interval = options.image_flush_interval;
  io_options.read_only = volume.read_only;
  auto image = VolumeImage::Open(*pv->device_, io_options);
  if (!image.ok()) return image.status();
  pv->image_ = std::move(*image);
  pv->path_ = io_options.path;
  return pv;
}

Status PodVolume::Detach() {
  Status s;
  if (mount_) {
    s = mount_->Unmount();
    mount_.reset();
  }
  if (fs_) {
    Status c = fs_->Sync();
    if (s.ok()) s = c;
    fs_.reset();
  }
  if (image_) {
    Status c = image_->Close();
    if (s.ok()) s = c;
    image_.reset();
  }
  return s;
}

PodVolume::~PodVolume() { (void)Detach(); }

}  // namespace edgebed::host
