// VolumeFs without FUSE: the filesystem's operations called directly on
// in-memory block devices, against a plain reference model; crashes between
// flushes; damaged and foreign volumes; a full volume; the blocking adapter
// over an asynchronous VolumeAccess; the image-file fallback.
//
// Randomized tests print their seed on failure; EDGEBED_SEED=N replays one.
#include "core/host/volume_fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/env/random.h"
#include "core/host/host_env.h"

namespace edgebed::host {
namespace {

std::vector<uint64_t> Seeds(uint64_t count) {
  if (const char* one = std::getenv("EDGEBED_SEED")) return {std::strtoull(one, nullptr, 10)};
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= count; ++s) seeds.push_back(s);
  return seeds;
}
std::string Replay(uint64_t seed) {
  return "seed " + std::to_string(seed) + " (replay: EDGEBED_SEED=" + std::to_string(seed) + ")";
}

std::string Str(const Bytes& b) { return std::string(b.begin(), b.end()); }
ByteView View(const std::string& s) { return ByteView(std::string_view(s)); }

// What a tree holds: directories and files with their contents.
struct Tree {
  std::set<std::string> dirs{"/"};
  std::map<std::string, std::string> files;
  bool operator==(const Tree& o) const { return dirs == o.dirs && files == o.files; }
};

std::ostream& operator<<(std::ostream& os, const Tree& t) {
  for (const auto& d : t.dirs) os << d << "/ ";
  for (const auto& f : t.files) os << f.first << "(" << f.second.size() << ") ";
  return os;
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

void DumpInto(VolumeFs& fs, const std::string& dir, Tree* t) {
  std::vector<std::string> names;
  ASSERT_EQ(fs.ReadDir(dir, &names), 0) << dir;
  for (const auto& n : names) {
    const std::string p = Join(dir, n);
    FileAttr a;
    ASSERT_EQ(fs.GetAttr(p, &a), 0) << p;
    if (a.kind == FileKind::kDirectory) {
      t->dirs.insert(p);
      DumpInto(fs, p, t);
    } else {
      Bytes out;
      ASSERT_EQ(fs.Read(p, 0, a.size + 10, &out), int64_t(a.size)) << p;
      t->files[p] = Str(out);
    }
  }
}

Tree Dump(VolumeFs& fs) {
  Tree t;
  DumpInto(fs, "/", &t);
  return t;
}

// The plain reference: paths to contents, errors as POSIX gives them.
class Model {
 public:
  Tree tree;

  static std::string Parent(const std::string& p) {
    const size_t slash = p.rfind('/');
    return slash == 0 ? "/" : p.substr(0, slash);
  }
  bool IsDir(const std::string& p) const { return tree.dirs.count(p) > 0; }
  bool IsFile(const std::string& p) const { return tree.files.count(p) > 0; }
  bool Exists(const std::string& p) const { return IsDir(p) || IsFile(p); }

  int Resolve(const std::string& p) const {
    std::string at = "/";
    size_t i = 1;
    while (i < p.size()) {
      size_t j = p.find('/', i);
      if (j == std::string::npos) j = p.size();
      if (IsFile(at)) return -ENOTDIR;
      at = Join(at, p.substr(i, j - i));
      if (!Exists(at)) return -ENOENT;
      i = j + 1;
    }
    return 0;
  }
  int ResolveParent(const std::string& p) const {
    const std::string parent = Parent(p);
    int r = Resolve(parent);
    if (r != 0) return r;
    return IsFile(parent) ? -ENOTDIR : 0;
  }
  bool HasChildren(const std::string& d) const {
    const std::string prefix = d + "/";
    auto it = tree.dirs.lower_bound(prefix);
    if (it != tree.dirs.end() && it->rfind(prefix, 0) == 0) return true;
    auto f = tree.files.lower_bound(prefix);
    return f != tree.files.end() && f->first.rfind(prefix, 0) == 0;
  }

  int Make(const std::string& p, bool dir) {
    int r = ResolveParent(p);
    if (r != 0) return r;
    if (Exists(p)) return -EEXIST;
    if (dir) {
      tree.dirs.insert(p);
    } else {
      tree.files[p];
    }
    return 0;
  }
  int Unlink(const std::string& p) {
    int r = ResolveParent(p);
    if (r != 0) return r;
    if (!Exists(p)) return -ENOENT;
    if (IsDir(p)) return -EISDIR;
    tree.files.erase(p);
    return 0;
  }
  int Rmdir(const std::string& p) {
    int r = ResolveParent(p);
    if (r != 0) return r;
    if (!Exists(p)) return -ENOENT;
    if (!IsDir(p)) return -ENOTDIR;
    if (HasChildren(p)) return -ENOTEMPTY;
    tree.dirs.erase(p);
    return 0;
  }
  int Rename(const std::string& from, const std::string& to) {
    int r = ResolveParent(from);
    if (r != 0) return r;
    r = ResolveParent(to);
    if (r != 0) return r;
    if (!Exists(from)) return -ENOENT;
    const bool dir = IsDir(from);
    const std::string to_parent = Parent(to);
    if (dir && (to_parent == from || to_parent.rfind(from + "/", 0) == 0)) return -EINVAL;
    if (Exists(to)) {
      if (to == from) return 0;
      if (dir && !IsDir(to)) return -ENOTDIR;
      if (!dir && IsDir(to)) return -EISDIR;
      if (IsDir(to) && HasChildren(to)) return -ENOTEMPTY;
      tree.dirs.erase(to);
      tree.files.erase(to);
    }
    Tree moved;
    moved.dirs.clear();
    const std::string prefix = from + "/";
    for (const auto& d : tree.dirs) {
      if (d == from) moved.dirs.insert(to);
      else if (d.rfind(prefix, 0) == 0) moved.dirs.insert(to + d.substr(from.size()));
      else moved.dirs.insert(d);
    }
    for (const auto& f : tree.files) {
      if (f.first == from) moved.files[to] = f.second;
      else if (f.first.rfind(prefix, 0) == 0) moved.files[to + f.first.substr(from.size())] = f.second;
      else moved.files[f.first] = f.second;
    }
    tree = std::move(moved);
    return 0;
  }
  int Truncate(const std::string& p, uint64_t size) {
    int r = Resolve(p);
    if (r != 0) return r;
    if (IsDir(p)) return -EISDIR;
    tree.files[p].resize(size, '\0');
    return 0;
  }
  int64_t Write(const std::string& p, uint64_t off, const std::string& data) {
    int r = Resolve(p);
    if (r != 0) return r;
    if (IsDir(p)) return -EISDIR;
    std::string& c = tree.files[p];
    if (c.size() < off + data.size()) c.resize(off + data.size(), '\0');
    c.replace(off, data.size(), data);
    return int64_t(data.size());
  }
};

// A path of one to three names drawn from a few, so that operations collide.
std::string RandomPath(Random& rng) {
  static const char* kNames[] = {"a", "b", "c", "dir", "file.txt"};
  std::string p;
  const int depth = 1 + int(rng.Uniform(3));
  for (int i = 0; i < depth; ++i) p += "/" + std::string(kNames[rng.Uniform(5)]);
  return p;
}

std::string RandomData(Random& rng, size_t max) {
  std::string s(rng.Uniform(max + 1), '\0');
  for (auto& c : s) c = char('a' + rng.Uniform(26));
  return s;
}

// Applies one random operation to both, checking that they agree.
void Step(Random& rng, VolumeFs& fs, Model& model, uint32_t bs) {
  const std::string p = RandomPath(rng);
  switch (rng.Uniform(11)) {
    case 0:
      ASSERT_EQ(fs.Create(p, 0644), model.Make(p, false)) << "create " << p;
      break;
    case 1:
      ASSERT_EQ(fs.Mkdir(p, 0755), model.Make(p, true)) << "mkdir " << p;
      break;
    case 2:
      ASSERT_EQ(fs.Unlink(p), model.Unlink(p)) << "unlink " << p;
      break;
    case 3:
      ASSERT_EQ(fs.Rmdir(p), model.Rmdir(p)) << "rmdir " << p;
      break;
    case 4: {
      const std::string to = RandomPath(rng);
      ASSERT_EQ(fs.Rename(p, to), model.Rename(p, to)) << "rename " << p << " " << to;
      break;
    }
    case 5: {
      const uint64_t size = rng.Uniform(4 * bs);
      ASSERT_EQ(fs.Truncate(p, size), model.Truncate(p, size)) << "truncate " << p << " " << size;
      break;
    }
    case 6:
    case 7:
    case 8: {
      const uint64_t off = rng.Uniform(3 * bs);
      const std::string data = RandomData(rng, 2 * bs);
      ASSERT_EQ(fs.Write(p, off, View(data)), model.Write(p, off, data))
          << "write " << p << " at " << off << " len " << data.size();
      break;
    }
    case 9: {
      Bytes out;
      const uint64_t off = rng.Uniform(4 * bs);
      const size_t len = rng.Uniform(3 * bs);
      const int64_t r = fs.Read(p, off, len, &out);
      const int want = model.Resolve(p);
      if (want != 0) {
        ASSERT_EQ(r, want) << "read " << p;
      } else if (model.IsDir(p)) {
        ASSERT_EQ(r, -EISDIR) << "read " << p;
      } else {
        const std::string& c = model.tree.files[p];
        const std::string expect = off >= c.size() ? "" : c.substr(off, len);
        ASSERT_EQ(Str(out), expect) << "read " << p << " at " << off << " len " << len;
        ASSERT_EQ(r, int64_t(expect.size()));
      }
      break;
    }
    case 10: {
      std::vector<std::string> names;
      const std::string dir = rng.Chance(0.3) ? "/" : p;
      const int r = fs.ReadDir(dir, &names);
      int want = model.Resolve(dir);
      if (want == 0 && model.IsFile(dir)) want = -ENOTDIR;
      ASSERT_EQ(r, want) << "readdir " << dir;
      if (r == 0) {
        std::vector<std::string> expect;
        for (const auto& d : model.tree.dirs) {
          if (d != "/" && Model::Parent(d) == dir) expect.push_back(d.substr(d.rfind('/') + 1));
        }
        for (const auto& f : model.tree.files) {
          if (Model::Parent(f.first) == dir) expect.push_back(f.first.substr(f.first.rfind('/') + 1));
        }
        std::sort(expect.begin(), expect.end());
        ASSERT_EQ(names, expect) << "readdir " << dir;
      }
      break;
    }
  }
}

TEST(VolumeFsTest, RandomOperationsMatchTheReferenceAcrossRemounts) {
  const uint32_t bs = 512;
  size_t nodes = 0, bytes = 0;  // at the end of each run: the test must build real trees
  for (uint64_t seed : Seeds(40)) {
    SCOPED_TRACE(Replay(seed));
    Random rng(seed);
    MemoryBlockDevice device(bs, 2048);
    auto fs = VolumeFs::Open(device, "test/prop");
    ASSERT_TRUE(fs.ok()) << fs.status().ToString();
    std::unique_ptr<VolumeFs> live = std::move(*fs);
    Model model;
    for (int i = 0; i < 400; ++i) {
      ASSERT_NO_FATAL_FAILURE(Step(rng, *live, model, bs)) << "step " << i;
      if (rng.Chance(0.05)) {
        ASSERT_EQ(live->Fsync(), 0);
      }
      if (rng.Chance(0.03)) {
        live.reset();  // commits
        auto again = VolumeFs::Open(device, "test/prop");
        ASSERT_TRUE(again.ok()) << again.status().ToString();
        live = std::move(*again);
        ASSERT_EQ(Dump(*live), model.tree) << "after a remount at step " << i;
      }
    }
    ASSERT_EQ(Dump(*live), model.tree);
    nodes += model.tree.dirs.size() + model.tree.files.size();
    for (const auto& f : model.tree.files) bytes += f.second.size();
    live.reset();
    auto again = VolumeFs::Open(device, "test/prop");
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(Dump(**again), model.tree);
  }
  std::cout << "final trees: " << nodes << " nodes, " << bytes << " bytes\n";
  EXPECT_GT(nodes, Seeds(40).size() * 4);
}

TEST(VolumeFsTest, SparseFilesAndTruncationReadZerosPastTheOldEnd) {
  MemoryBlockDevice device(512, 256);
  auto fs = VolumeFs::Open(device, "test/sparse");
  ASSERT_TRUE(fs.ok()) << fs.status().ToString();
  VolumeFs& v = **fs;
  ASSERT_EQ(v.Create("/f", 0600), 0);
  ASSERT_EQ(v.Write("/f", 0, View(std::string(700, 'x'))), 700);
  ASSERT_EQ(v.Truncate("/f", 100), 0);
  ASSERT_EQ(v.Truncate("/f", 5000), 0);
  Bytes out;
  ASSERT_EQ(v.Read("/f", 0, 6000, &out), 5000);
  EXPECT_EQ(Str(out), std::string(100, 'x') + std::string(4900, '\0'));
  FileAttr a;
  ASSERT_EQ(v.GetAttr("/f", &a), 0);
  EXPECT_EQ(a.blocks_used, 1u);  // the rest is a hole
  EXPECT_EQ(v.Write("/", 0, View(std::string("x"))), -EISDIR);
  EXPECT_EQ(v.Rename("/", "/x"), -EBUSY);
  EXPECT_EQ(v.Create("/" + std::string(300, 'n'), 0600), -ENAMETOOLONG);
}

// A device that keeps what was flushed apart from what was only written,
// and can show what a crash would leave: the flushed blocks plus any subset
// of the later writes, some of them torn.
class CrashDevice final : public BlockDevice {
 public:
  CrashDevice(uint32_t bs, uint64_t count) : bs_(bs), durable_(count, Bytes(bs, 0)) {}
  uint32_t block_size() const override { return bs_; }
  uint64_t block_count() const override { return durable_.size(); }
  Status Read(uint64_t block, Bytes* out) override {
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      if (it->first == block) {
        *out = it->second;
        return Status::Ok();
      }
    }
    *out = durable_[block];
    return Status::Ok();
  }
  Status Write(uint64_t block, ByteView data) override {
    if (on_io) on_io();
    pending_.emplace_back(block, data.ToBytes());
    return Status::Ok();
  }
  Status Flush() override {
    if (on_io) on_io();
    for (auto& w : pending_) durable_[w.first] = std::move(w.second);
    pending_.clear();
    if (fail_flush_in >= 0 && fail_flush_in-- == 0) return IoError("injected: the flush reached the disk but failed");
    return Status::Ok();
  }
  int fail_flush_in = -1;  // the flush after this many fails (having written everything)
  std::vector<Bytes> CrashImage(Random& rng) const {
    std::vector<Bytes> image = durable_;
    for (const auto& w : pending_) {
      const uint64_t fate = rng.Uniform(3);
      if (fate == 0) continue;  // lost
      if (fate == 1) {
        image[w.first] = w.second;
      } else {  // torn: a prefix of the new content over the old
        const size_t cut = rng.Uniform(bs_);
        std::copy(w.second.begin(), w.second.begin() + cut, image[w.first].begin());
      }
    }
    return image;
  }
  std::vector<Bytes> Latest() const {
    std::vector<Bytes> image = durable_;
    for (const auto& w : pending_) image[w.first] = w.second;
    return image;
  }
  std::function<void()> on_io;

 private:
  uint32_t bs_;
  std::vector<Bytes> durable_;
  std::vector<std::pair<uint64_t, Bytes>> pending_;
};

std::unique_ptr<MemoryBlockDevice> DeviceFrom(const std::vector<Bytes>& blocks) {
  auto d = std::make_unique<MemoryBlockDevice>(uint32_t(blocks[0].size()), blocks.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    bool zero = std::all_of(blocks[b].begin(), blocks[b].end(), [](uint8_t c) { return c == 0; });
    if (!zero) {
      EXPECT_TRUE(d->Write(b, blocks[b]).ok());
    }
  }
  return d;
}

TEST(VolumeFsTest, ACrashBetweenFlushesLeavesTheLastCommitIntact) {
  const uint32_t bs = 512;
  size_t total_crashes = 0;
  for (uint64_t seed : Seeds(25)) {
    SCOPED_TRACE(Replay(seed));
    Random rng(seed);
    CrashDevice device(bs, 4096);
    struct Crash {
      std::vector<Bytes> image;
      size_t committed;  // states[committed] is the last commit that returned
      bool in_commit;    // a commit of states[committed + 1] was under way
    };
    std::vector<Crash> crashes;
    std::vector<Tree> states;
    bool in_commit = false;
    Random crash_rng = rng.Fork(1);
    device.on_io = [&] {
      if (crash_rng.Chance(0.1)) {
        crashes.push_back(Crash{device.CrashImage(crash_rng), states.size() - 1, in_commit});
      }
    };
    states.push_back(Tree());  // a crash during the format leaves a blank or empty volume
    auto fs = VolumeFs::Open(device, "test/crash");
    ASSERT_TRUE(fs.ok()) << fs.status().ToString();
    Model model;
    for (int i = 0; i < 200; ++i) {
      ASSERT_NO_FATAL_FAILURE(Step(rng, **fs, model, bs)) << "step " << i;
      if (rng.Chance(0.08)) {
        in_commit = true;
        ASSERT_EQ((*fs)->Fsync(), 0);
        in_commit = false;
        states.push_back(model.tree);
      }
    }
    device.on_io = nullptr;
    total_crashes += crashes.size();
    for (size_t c = 0; c < crashes.size(); ++c) {
      const Crash& crash = crashes[c];
      auto image = DeviceFrom(crash.image);
      auto after = VolumeFs::Open(*image, "test/crash");
      ASSERT_TRUE(after.ok()) << "crash " << c << ": " << after.status().ToString();
      const Tree got = Dump(**after);
      const bool old_state = got == states[crash.committed];
      const bool new_state = crash.in_commit && crash.committed + 1 < states.size() &&
                             got == states[crash.committed + 1];
      ASSERT_TRUE(old_state || new_state)
          << "crash " << c << " after commit " << crash.committed << (crash.in_commit ? " (in a commit)" : "")
          << "\n got: " << got << "\nwant: " << states[crash.committed];
    }
  }
  EXPECT_GT(total_crashes, 0u);
}

TEST(VolumeFsTest, ACommitThatFailsAfterItsSuperblockLeavesAMountableVolume) {
  for (uint64_t seed : Seeds(20)) {
    SCOPED_TRACE(Replay(seed));
    Random rng(seed);
    CrashDevice device(512, 256);
    auto fs = VolumeFs::Open(device, "test/flaky");
    ASSERT_TRUE(fs.ok()) << fs.status().ToString();
    Model model;
    for (int i = 0; i < 60; ++i) ASSERT_NO_FATAL_FAILURE(Step(rng, **fs, model, 512));
    ASSERT_EQ((*fs)->Fsync(), 0);
    const Tree before = model.tree;
    for (int i = 0; i < 60; ++i) ASSERT_NO_FATAL_FAILURE(Step(rng, **fs, model, 512));
    const Tree attempted = model.tree;
    device.fail_flush_in = 2;  // data, metadata, then the superblock's flush fails
    ASSERT_EQ((*fs)->Fsync(), -EIO);
    EXPECT_NE((*fs)->last_error().message().find("injected"), std::string::npos);
    // Writing on, as a pod would, must not touch what that superblock
    // references: every file overwritten, then most of the free space used.
    for (const auto& f : attempted.files) {
      const std::string data(f.second.size(), 'X');
      ASSERT_EQ((*fs)->Write(f.first, 0, View(data)), model.Write(f.first, 0, data));
    }
    FsStats st;
    ASSERT_EQ((*fs)->StatFs(&st), 0);
    ASSERT_EQ((*fs)->Create("/big", 0600), model.Make("/big", false));
    const std::string big((st.blocks_free - 8) * 512, 'B');
    ASSERT_EQ((*fs)->Write("/big", 0, View(big)), model.Write("/big", 0, big));
    auto image = DeviceFrom(device.Latest());  // a crash after every write reached the disk
    auto after = VolumeFs::Open(*image, "test/flaky");
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    const Tree got = Dump(**after);
    EXPECT_TRUE(got == attempted || got == before) << got;
    // And a later commit succeeds and holds everything.
    ASSERT_EQ((*fs)->Fsync(), 0);
    fs->reset();
    auto again = VolumeFs::Open(device, "test/flaky");
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(Dump(**again), model.tree);
  }
}

Bytes Block(const MemoryBlockDevice& d, uint64_t b) { return d.Snapshot()[b]; }

std::unique_ptr<MemoryBlockDevice> FormattedWithAFile() {
  auto d = std::make_unique<MemoryBlockDevice>(512, 128);
  auto fs = VolumeFs::Open(*d, "test/damage");
  EXPECT_TRUE(fs.ok()) << fs.status().ToString();
  EXPECT_EQ((*fs)->Create("/f", 0600), 0);
  EXPECT_EQ((*fs)->Write("/f", 0, View(std::string("kept"))), 4);
  EXPECT_EQ((*fs)->Fsync(), 0);
  return d;
}

TEST(VolumeFsTest, AForeignVolumeIsRefusedAndNotFormatted) {
  MemoryBlockDevice d(512, 128);
  Bytes foreign(512, 0);
  const std::string ext = "\x53\xef some other filesystem";
  std::copy(ext.begin(), ext.end(), foreign.begin() + 56);
  ASSERT_TRUE(d.Write(0, foreign).ok());
  auto fs = VolumeFs::Open(d, "test/foreign");
  ASSERT_FALSE(fs.ok());
  EXPECT_EQ(fs.status().code(), StatusCode::kCorruption);
  EXPECT_NE(fs.status().ToString().find("volume test/foreign"), std::string::npos) << fs.status().ToString();
  EXPECT_NE(fs.status().message().find("does not hold an edgebed filesystem"), std::string::npos)
      << fs.status().ToString();
  EXPECT_EQ(Block(d, 0), foreign);  // untouched

  MemoryBlockDevice data(512, 128);
  ASSERT_TRUE(data.Write(5, Bytes(512, 7)).ok());
  auto fs2 = VolumeFs::Open(data, "test/data");
  ASSERT_FALSE(fs2.ok());
  EXPECT_NE(fs2.status().message().find("not blank"), std::string::npos) << fs2.status().ToString();
}

TEST(VolumeFsTest, DamagedSuperblocksAndMetadataAreDetected) {
  {  // both superblocks torn
    auto d = FormattedWithAFile();
    for (uint64_t b : {0, 1}) {
      Bytes s = Block(*d, b);
      s[30] ^= 0xff;
      ASSERT_TRUE(d->Write(b, s).ok());
    }
    auto fs = VolumeFs::Open(*d, "test/damage");
    ASSERT_FALSE(fs.ok());
    EXPECT_EQ(fs.status().code(), StatusCode::kCorruption);
    EXPECT_NE(fs.status().message().find("both superblocks fail their checksum"), std::string::npos)
        << fs.status().ToString();
  }
  {  // the newest superblock torn: the previous commit mounts
    auto d = FormattedWithAFile();
    Bytes s = Block(*d, 0);  // generation 2
    s[30] ^= 0xff;
    ASSERT_TRUE(d->Write(0, s).ok());
    auto fs = VolumeFs::Open(*d, "test/damage");
    ASSERT_TRUE(fs.ok()) << fs.status().ToString();
    EXPECT_EQ((*fs)->generation(), 1u);
    EXPECT_EQ(Dump(**fs), Tree());
  }
  {  // a flipped bit in the metadata
    auto d = FormattedWithAFile();
    for (uint64_t b = 2; b < d->block_count(); ++b) {
      Bytes m = Block(*d, b);
      if (m[0] == 'E' && m[1] == 'B' && m[2] == 'M' && m[3] == 'D') {
        m[40] ^= 0x01;
        ASSERT_TRUE(d->Write(b, m).ok());
      }
    }
    auto fs = VolumeFs::Open(*d, "test/damage");
    ASSERT_FALSE(fs.ok());
    EXPECT_EQ(fs.status().code(), StatusCode::kCorruption);
    EXPECT_NE(fs.status().message().find("metadata is damaged"), std::string::npos) << fs.status().ToString();
  }
  {  // a newer format version
    auto d = FormattedWithAFile();
    for (uint64_t b : {0, 1}) {
      Bytes s = Block(*d, b);
      s[8] = 9;
      const uint32_t crc = Crc32c(ByteView(s.data(), 52));
      for (int i = 0; i < 4; ++i) s[52 + i] = uint8_t(crc >> (8 * i));
      ASSERT_TRUE(d->Write(b, s).ok());
    }
    auto fs = VolumeFs::Open(*d, "test/damage");
    ASSERT_FALSE(fs.ok());
    EXPECT_EQ(fs.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(fs.status().message().find("version 9"), std::string::npos) << fs.status().ToString();
  }
  {  // a resized volume
    auto d = FormattedWithAFile();
    MemoryBlockDevice bigger(512, 256);
    const auto blocks = d->Snapshot();
    for (size_t b = 0; b < blocks.size(); ++b) ASSERT_TRUE(bigger.Write(b, blocks[b]).ok());
    auto fs = VolumeFs::Open(bigger, "test/damage");
    ASSERT_FALSE(fs.ok());
    EXPECT_EQ(fs.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(fs.status().message().find("made for 128 blocks"), std::string::npos) << fs.status().ToString();
  }
}

uint64_t Le(const Bytes& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[at + i];
  return v;
}
void PutLe(Bytes& b, size_t at, int n, uint64_t v) {
  for (int i = 0; i < n; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// Metadata that is well-formed as far as its checksum goes but says
// something impossible (as a bug, or a deliberate forgery, would write):
// the mount refuses it with kCorruption, or, when the change is harmless,
// mounts a filesystem that works — never crashes or trusts a bad pointer.
TEST(VolumeFsTest, MetadataThatPassesItsChecksumButLiesIsRefusedOrHarmless) {
  const uint32_t bs = 512;
  size_t refused = 0, mounted = 0;
  for (uint64_t seed : Seeds(150)) {
    SCOPED_TRACE(Replay(seed));
    Random rng(seed);
    MemoryBlockDevice d(bs, 256);
    {
      auto fs = VolumeFs::Open(d, "test/lies");
      ASSERT_TRUE(fs.ok()) << fs.status().ToString();
      Model model;
      for (int i = 0; i < 80; ++i) ASSERT_NO_FATAL_FAILURE(Step(rng, **fs, model, bs));
    }
    std::vector<Bytes> blocks = d.Snapshot();
    const int slot = Le(blocks[0], 24, 8) > Le(blocks[1], 24, 8) ? 0 : 1;
    Bytes& super = blocks[slot];
    std::vector<uint64_t> chain;
    Bytes stream;
    for (uint64_t b = Le(super, 32, 4); b != 0; b = Le(blocks[b], 4, 4)) {
      chain.push_back(b);
      stream.insert(stream.end(), blocks[b].begin() + 16, blocks[b].end());
    }
    const uint64_t bytes = Le(super, 40, 8);
    ASSERT_EQ(chain.size(), Le(super, 36, 4));
    stream.resize(bytes);
    const int flips = 1 + int(rng.Uniform(3));
    for (int f = 0; f < flips; ++f) {
      stream[rng.Uniform(bytes)] = uint8_t(rng.Next());
    }
    for (size_t i = 0; i < chain.size(); ++i) {
      const size_t from = i * (bs - 16), len = std::min<size_t>(bs - 16, bytes - from);
      std::copy(stream.begin() + from, stream.begin() + from + len, blocks[chain[i]].begin() + 16);
    }
    PutLe(super, 48, 4, Crc32c(stream));
    PutLe(super, 52, 4, Crc32c(ByteView(super.data(), 52)));
    auto image = DeviceFrom(blocks);
    auto fs = VolumeFs::Open(*image, "test/lies");
    if (!fs.ok()) {
      ++refused;
      EXPECT_EQ(fs.status().code(), StatusCode::kCorruption) << fs.status().ToString();
      EXPECT_NE(fs.status().message().find("metadata is damaged"), std::string::npos) << fs.status().ToString();
      continue;
    }
    ++mounted;
    const Tree tree = Dump(**fs);
    ASSERT_EQ((*fs)->Create("/after", 0600), 0);
    ASSERT_EQ((*fs)->Write("/after", 0, View(std::string(1500, 'a'))), 1500);
    ASSERT_EQ((*fs)->Fsync(), 0);
    fs->reset();
    auto again = VolumeFs::Open(*image, "test/lies");
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    Tree want = tree;
    want.files["/after"] = std::string(1500, 'a');
    EXPECT_EQ(Dump(**again), want);
  }
  std::cout << "lying metadata: " << refused << " refused, " << mounted << " harmless\n";
  if (std::getenv("EDGEBED_SEED") == nullptr) {
    EXPECT_GT(refused, 0u);
  }
}

TEST(VolumeFsTest, AFullVolumeSaysEnospcAndLosesNothing) {
  MemoryBlockDevice d(512, 64);
  auto fs = VolumeFs::Open(d, "test/full");
  ASSERT_TRUE(fs.ok()) << fs.status().ToString();
  VolumeFs& v = **fs;
  ASSERT_EQ(v.Create("/keep", 0600), 0);
  const std::string keep(1500, 'k');
  ASSERT_EQ(v.Write("/keep", 0, View(keep)), 1500);
  ASSERT_EQ(v.Fsync(), 0);

  ASSERT_EQ(v.Create("/fill", 0600), 0);
  std::string filled;
  int64_t r = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string chunk(512, char('a' + i % 26));
    r = v.Write("/fill", filled.size(), View(chunk));
    if (r < 0) break;
    filled += chunk.substr(0, size_t(r));
    if (r < 512) break;
  }
  ASSERT_TRUE(r == -ENOSPC || (r >= 0 && r < 512)) << r;
  EXPECT_EQ(v.Write("/fill", filled.size(), View(std::string(512, 'z'))), -ENOSPC);
  FsStats st;
  ASSERT_EQ(v.StatFs(&st), 0);
  EXPECT_EQ(st.blocks_free, 0u);
  // Overwriting committed data needs a fresh block too (copy-on-write), and
  // a commit (which frees the old one) is what makes that possible.
  ASSERT_EQ(v.Fsync(), 0);
  int mkdirs = 0;
  while (v.Mkdir("/d" + std::to_string(mkdirs), 0700) == 0) ++mkdirs;
  EXPECT_EQ(v.Mkdir("/one-more", 0700), -ENOSPC);
  ASSERT_EQ(v.Fsync(), 0);

  Tree want;
  want.files["/keep"] = keep;
  want.files["/fill"] = filled;
  for (int i = 0; i < mkdirs; ++i) want.dirs.insert("/d" + std::to_string(i));
  EXPECT_EQ(Dump(v), want);
  fs->reset();
  auto again = VolumeFs::Open(d, "test/full");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Dump(**again), want);
  // Space comes back.
  ASSERT_EQ((*again)->Unlink("/fill"), 0);
  ASSERT_EQ((*again)->Create("/new", 0600), 0);
  EXPECT_EQ((*again)->Write("/new", 0, View(std::string(2048, 'n'))), 2048);
}

// A VolumeAccess on an io_context thread, as the agent's: it answers on its
// own thread, later, never inside the call.
class ThreadedVolume final : public cluster::VolumeAccess {
 public:
  ThreadedVolume(boost::asio::io_context& io, uint32_t bs) : io_(io), bs_(bs) {}
  void Write(const std::string& volume, uint32_t block, Bytes data, WriteDone done) override {
    EXPECT_TRUE(io_.get_executor().running_in_this_thread());
    if (silent) return;
    EXPECT_EQ(volume, "ns/claim");
    blocks_[block] = std::move(data);
    boost::asio::post(io_, [done] { done(Status::Ok()); });
  }
  void Read(const std::string&, uint32_t block, ReadDone done) override {
    EXPECT_TRUE(io_.get_executor().running_in_this_thread());
    if (silent) return;
    auto it = blocks_.find(block);
    Bytes b = it == blocks_.end() ? Bytes(bs_, 0) : it->second;
    if (short_answers) b.resize(10);
    boost::asio::post(io_, [done, b] { done(b); });
  }
  bool silent = false;
  bool short_answers = false;

 private:
  boost::asio::io_context& io_;
  uint32_t bs_;
  std::map<uint32_t, Bytes> blocks_;
};

struct IoThread {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~IoThread() {
    work.reset();
    io.stop();
    thread.join();
  }
};

TEST(VolumeAccessDeviceTest, TheFilesystemRunsOverAnAsynchronousVolume) {
  IoThread t;
  ThreadedVolume volume(t.io, 4096);
  VolumeAccessDevice device(t.io, volume, "ns/claim", 4096, 64);
  {
    auto fs = VolumeFs::Open(device, "ns/claim");
    ASSERT_TRUE(fs.ok()) << fs.status().ToString();
    ASSERT_EQ((*fs)->Mkdir("/data", 0755), 0);
    ASSERT_EQ((*fs)->Create("/data/log", 0644), 0);
    ASSERT_EQ((*fs)->Write("/data/log", 0, View(std::string(10000, 'q'))), 10000);
    ASSERT_EQ((*fs)->Fsync(), 0);
  }
  auto fs = VolumeFs::Open(device, "ns/claim");
  ASSERT_TRUE(fs.ok()) << fs.status().ToString();
  Tree want;
  want.dirs.insert("/data");
  want.files["/data/log"] = std::string(10000, 'q');
  EXPECT_EQ(Dump(**fs), want);
}

TEST(VolumeAccessDeviceTest, NoAnswerIsUnavailableAndTheIoThreadIsRefused) {
  IoThread t;
  ThreadedVolume volume(t.io, 4096);
  VolumeAccessDevice device(t.io, volume, "ns/claim", 4096, 64, std::chrono::milliseconds(50));
  Bytes out;
  volume.short_answers = true;
  Status s = device.Read(3, &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  volume.short_answers = false;
  volume.silent = true;
  s = device.Read(3, &out);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.ToString().find("volume ns/claim block 3"), std::string::npos) << s.ToString();
  s = device.Write(4, Bytes(4096, 1));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_EQ(device.Read(64, &out).code(), StatusCode::kOutOfRange);
  std::promise<Status> on_io;
  boost::asio::post(t.io, [&] {
    Bytes b;
    on_io.set_value(device.Read(1, &b));
  });
  EXPECT_EQ(on_io.get_future().get().code(), StatusCode::kFailedPrecondition);
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("edgebed-volume-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(VolumeImageTest, TheImageHoldsTheVolumeAndChangedBlocksGoBack) {
  TempDir dir;
  MemoryBlockDevice device(512, 32);
  ASSERT_TRUE(device.Write(3, Bytes(512, 'x')).ok());
  VolumeImageOptions o;
  o.path = (dir.path / "claim.img").string();
  o.flush_interval = std::chrono::milliseconds(0);
  auto img = VolumeImage::Open(device, o);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(std::filesystem::file_size(o.path), 512u * 32);
  int fd = ::open(o.path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char c = 0;
  ASSERT_EQ(::pread(fd, &c, 1, 3 * 512 + 7), 1);
  EXPECT_EQ(c, 'x');
  const std::string hello = "hello";
  ASSERT_EQ(::pwrite(fd, hello.data(), hello.size(), 10 * 512 + 100), ssize_t(hello.size()));
  ASSERT_EQ(::pwrite(fd, hello.data(), hello.size(), 3 * 512), ssize_t(hello.size()));
  ::close(fd);
  ASSERT_TRUE((*img)->WriteBack().ok());
  EXPECT_EQ((*img)->blocks_written_back(), 2u);
  Bytes b;
  ASSERT_TRUE(device.Read(10, &b).ok());
  EXPECT_EQ(std::string(b.begin() + 100, b.begin() + 105), hello);
  ASSERT_TRUE((*img)->WriteBack().ok());
  EXPECT_EQ((*img)->blocks_written_back(), 2u);  // nothing changed since
  EXPECT_TRUE((*img)->Close().ok());
}

}  // namespace
}  // namespace edgebed::host
