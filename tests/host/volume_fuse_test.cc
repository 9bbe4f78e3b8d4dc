// VolumeFs mounted through FUSE and used with plain POSIX calls, and a pod's
// volume attached the way the agent does it. Skips where FUSE is missing or
// mounting is not permitted.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/host/volume_fs.h"

namespace edgebed::host {
namespace {

// A fresh directory for the test, and whatever is mounted on it: unmounted
// and removed when the test ends, failed assertions included.
class MountGuard {
 public:
  MountGuard() {
    root_ = std::filesystem::temp_directory_path() /
            ("edgebed-fuse-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "mnt");
  }
  ~MountGuard() {
    if (mount) {
      EXPECT_TRUE(mount->Unmount().ok());
    }
    mount.reset();
    fs.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  std::string dir() const { return (root_ / "mnt").string(); }
  std::string root() const { return root_.string(); }
  std::string at(const std::string& rel) const { return dir() + "/" + rel; }

  // Mounts `volume` (kept in `fs` until the guard ends); false, with the
  // reason in *why, when this node cannot.
  bool Mount(std::unique_ptr<VolumeFs> volume, std::string* why,
             std::chrono::milliseconds commit_interval = std::chrono::milliseconds(0)) {
    fs = std::move(volume);
    VolumeFsMountOptions o;
    o.mount_point = dir();
    o.allow_other = false;
    o.commit_interval = commit_interval;
    auto m = VolumeFsMount::Mount(*fs, o);
    if (!m.ok()) {
      *why = m.status().ToString();
      return false;
    }
    mount = std::move(*m);
    return true;
  }
  std::unique_ptr<VolumeFs> fs;
  std::unique_ptr<VolumeFsMount> mount;  // of fs

 private:
  std::filesystem::path root_;
};

bool CannotMount(const std::string& why) {
  return why.find("/dev/fuse") != std::string::npos || why.find("not permitted") != std::string::npos;
}

#define MOUNT_OR_SKIP(guard, fs) MOUNT_OR_SKIP_EVERY(guard, fs, std::chrono::milliseconds(0))
#define MOUNT_OR_SKIP_EVERY(guard, fs, interval)                                         \
  do {                                                                                   \
    std::string why_;                                                                    \
    if (!(guard).Mount(std::move(fs), &why_, (interval))) {                              \
      if (CannotMount(why_)) GTEST_SKIP() << "FUSE cannot be used here: " << why_;       \
      FAIL() << why_;                                                                    \
    }                                                                                    \
  } while (0)

void WriteFile(const std::string& path, const std::string& data, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ASSERT_EQ(::write(fd, data.data(), data.size()), ssize_t(data.size())) << std::strerror(errno);
  if (sync) {
    ASSERT_EQ(::fsync(fd), 0) << std::strerror(errno);
  }
  ASSERT_EQ(::close(fd), 0);
}

std::string ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return "<" + std::string(std::strerror(errno)) + ">";
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return {"<" + std::string(std::strerror(errno)) + ">"};
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

TEST(VolumeFuseTest, PosixCallsOnTheMountSurviveARemount) {
  MountGuard guard;
  MemoryBlockDevice device(4096, 1024);
  auto fs = VolumeFs::Open(device, "default/data");
  ASSERT_TRUE(fs.ok()) << fs.status().ToString();
  MOUNT_OR_SKIP(guard, *fs);

  ASSERT_EQ(::mkdir(guard.at("logs").c_str(), 0755), 0) << std::strerror(errno);
  std::string big;
  for (int i = 0; i < 30000; ++i) big += char('A' + i % 23);
  ASSERT_NO_FATAL_FAILURE(WriteFile(guard.at("logs/app.log.tmp"), big, true));
  ASSERT_EQ(::rename(guard.at("logs/app.log.tmp").c_str(), guard.at("logs/app.log").c_str()), 0)
      << std::strerror(errno);
  ASSERT_NO_FATAL_FAILURE(WriteFile(guard.at("gone"), "bye", false));
  ASSERT_EQ(::unlink(guard.at("gone").c_str()), 0) << std::strerror(errno);
  ASSERT_NO_FATAL_FAILURE(WriteFile(guard.at("note"), "hello", false));
  EXPECT_EQ(List(guard.dir()), (std::vector<std::string>{"logs", "note"}));
  EXPECT_EQ(List(guard.at("logs")), std::vector<std::string>{"app.log"});
  struct stat st;
  ASSERT_EQ(::stat(guard.at("logs/app.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, off_t(big.size()));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(::rmdir(guard.at("logs").c_str()), -1);
  EXPECT_EQ(errno, ENOTEMPTY);

  ASSERT_TRUE(guard.mount->Unmount().ok());
  guard.mount.reset();
  guard.fs.reset();

  // The same blocks, opened again: everything is there.
  auto again = VolumeFs::Open(device, "default/data");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  Bytes out;
  ASSERT_EQ((*again)->Read("/note", 0, 100, &out), 5);
  MOUNT_OR_SKIP(guard, *again);
  EXPECT_EQ(ReadFile(guard.at("logs/app.log")), big);
  EXPECT_EQ(ReadFile(guard.at("note")), "hello");
  EXPECT_EQ(List(guard.dir()), (std::vector<std::string>{"logs", "note"}));
}

TEST(VolumeFuseTest, UnmountingABusyMountDetachesItWithoutHanging) {
  MountGuard guard;
  MemoryBlockDevice device(4096, 256);
  auto fs = VolumeFs::Open(device, "default/busy");
  ASSERT_TRUE(fs.ok()) << fs.status().ToString();
  MOUNT_OR_SKIP(guard, *fs);
  ASSERT_NO_FATAL_FAILURE(WriteFile(guard.at("open"), "still open", false));
  int fd = ::open(guard.at("open").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(guard.mount->Unmount().ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  char buf[16];
  EXPECT_EQ(::read(fd, buf, sizeof buf), -1);  // the connection is gone, not hanging
  ::close(fd);
  guard.mount.reset();
  // Written through the mount before it went: committed by the unmount.
  auto again = VolumeFs::Open(device, "default/busy");
  guard.fs.reset();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  Bytes out;
  EXPECT_EQ((*again)->Read("/open", 0, 100, &out), 10);
}

TEST(VolumeFuseTest, TheMountCommitsOnItsOwnWithoutFsync) {
  MountGuard guard;
  MemoryBlockDevice device(4096, 256);
  auto fs = VolumeFs::Open(device, "default/lazy");
  ASSERT_TRUE(fs.ok()) << fs.status().ToString();
  MOUNT_OR_SKIP_EVERY(guard, *fs, std::chrono::milliseconds(50));
  const uint64_t before = guard.fs->generation();
  ASSERT_NO_FATAL_FAILURE(WriteFile(guard.at("unsynced"), "data", false));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (guard.fs->generation() == before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(guard.fs->generation(), before);
  // What a crash now would keep: the blocks as they are, mounted afresh.
  MemoryBlockDevice copy(4096, 256);
  const auto blocks = device.Snapshot();
  for (size_t b = 0; b < blocks.size(); ++b) ASSERT_TRUE(copy.Write(b, blocks[b]).ok());
  auto crashed = VolumeFs::Open(copy, "default/lazy");
  ASSERT_TRUE(crashed.ok()) << crashed.status().ToString();
  Bytes out;
  EXPECT_EQ((*crashed)->Read("/unsynced", 0, 100, &out), 4);
}

TEST(VolumeFuseTest, MountErrorsSayWhatIsMissing) {
  MemoryBlockDevice device(4096, 64);
  auto fs = VolumeFs::Open(device, "default/data");
  ASSERT_TRUE(fs.ok()) << fs.status().ToString();
  VolumeFsMountOptions o;
  o.mount_point = "/nonexistent/edgebed-mount";
  auto m = VolumeFsMount::Mount(**fs, o);
  ASSERT_FALSE(m.ok());
  if (m.status().code() == StatusCode::kNotFound) {
    EXPECT_NE(m.status().message().find("create the directory"), std::string::npos) << m.status().ToString();
  } else {  // no FUSE at all here: that is said first
    EXPECT_NE(m.status().ToString().find("/dev/fuse"), std::string::npos) << m.status().ToString();
  }
}

// The agent's volume I/O: blocks in memory, answered on the io thread.
class MemoryVolume final : public cluster::VolumeAccess {
 public:
  MemoryVolume(boost::asio::io_context& io, uint32_t bs) : io_(io), bs_(bs) {}
  void Write(const std::string&, uint32_t block, Bytes data, WriteDone done) override {
    blocks[block] = std::move(data);
    boost::asio::post(io_, [done] { done(Status::Ok()); });
  }
  void Read(const std::string&, uint32_t block, ReadDone done) override {
    auto it = blocks.find(block);
    Bytes b = it == blocks.end() ? Bytes(bs_, 0) : it->second;
    boost::asio::post(io_, [done, b] { done(b); });
  }
  std::map<uint32_t, Bytes> blocks;  // touched only on the io thread

 private:
  boost::asio::io_context& io_;
  uint32_t bs_;
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

cluster::VolumeMount DataVolume() {
  cluster::VolumeMount v;
  v.claim = "data";
  v.volume = "default/data";
  v.block_size = 4096;
  v.blocks = 256;
  return v;
}

TEST(PodVolumeTest, AttachMountsTheVolumeInThePodDirectory) {
  MountGuard guard;  // its root is the pod's directory
  IoThread t;
  MemoryVolume volume(t.io, 4096);
  {
    auto pv = PodVolume::Attach(t.io, volume, DataVolume(), guard.root());
    ASSERT_TRUE(pv.ok()) << pv.status().ToString();
    if (!(*pv)->fuse()) GTEST_SKIP() << "FUSE cannot be used here: " << (*pv)->fuse_status().ToString();
    EXPECT_EQ((*pv)->path(), guard.root() + "/volumes/data");
    ASSERT_NO_FATAL_FAILURE(WriteFile((*pv)->path() + "/state.json", "{\"n\":1}", true));
    EXPECT_TRUE((*pv)->Detach().ok());
  }
  auto pv = PodVolume::Attach(t.io, volume, DataVolume(), guard.root());
  ASSERT_TRUE(pv.ok()) << pv.status().ToString();
  EXPECT_EQ(ReadFile((*pv)->path() + "/state.json"), "{\"n\":1}");
  EXPECT_TRUE((*pv)->Detach().ok());
}

TEST(PodVolumeTest, WithoutFuseTheVolumeIsAnImageFile) {
  MountGuard guard;
  IoThread t;
  MemoryVolume volume(t.io, 4096);
  PodVolumeOptions o;
  o.use_fuse = false;
  o.image_flush_interval = std::chrono::milliseconds(0);
  auto pv = PodVolume::Attach(t.io, volume, DataVolume(), guard.root(), o);
  ASSERT_TRUE(pv.ok()) << pv.status().ToString();
  EXPECT_FALSE((*pv)->fuse());
  EXPECT_EQ((*pv)->path(), guard.root() + "/volumes/data.img");
  EXPECT_EQ(std::filesystem::file_size((*pv)->path()), 4096u * 256);
  int fd = ::open((*pv)->path().c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "abc", 3, 4096 * 7), 3);
  ::close(fd);
  ASSERT_TRUE((*pv)->Detach().ok());
  std::promise<Bytes> block;
  boost::asio::post(t.io, [&] { block.set_value(volume.blocks[7]); });
  Bytes b = block.get_future().get();
  ASSERT_EQ(b.size(), 4096u);
  EXPECT_EQ(std::string(b.begin(), b.begin() + 3), "abc");
}

}  // namespace
}  // namespace edgebed::host
