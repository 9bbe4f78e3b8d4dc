#include "core/env/mem_disk.h"

#include <gtest/gtest.h>

#include "core/env/test_loop.h"

namespace edgebed {
namespace {

struct DiskFixture : ::testing::Test {
  TestLoop loop{1};
  NodeId node = loop.AddNode();
  Disk& disk = loop.env(node).disk();

  Status Write(const std::string& f, uint64_t off, std::string_view data) {
    Status out = Internal("no completion");
    disk.Write(f, off, ToBytes(data), [&](Status s) { out = s; });
    loop.RunUntilIdle();
    return out;
  }
  StatusOr<std::string> Read(const std::string& f, uint64_t off, uint64_t len) {
    StatusOr<std::string> out = Internal("no completion");
    disk.Read(f, off, len, [&](StatusOr<Bytes> b) {
      out = b.ok() ? StatusOr<std::string>(std::string(b->begin(), b->end()))
                   : StatusOr<std::string>(b.status());
    });
    loop.RunUntilIdle();
    return out;
  }
  Status Sync(const std::string& f) {
    Status out = Internal("no completion");
    disk.Sync(f, [&](Status s) { out = s; });
    loop.RunUntilIdle();
    return out;
  }
};

TEST_F(DiskFixture, ReadsSeeWritesAndGapsAreZero) {
  ASSERT_TRUE(Write("a", 4, "data").ok());
  auto r = Read("a", 0, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::string("\0\0\0\0data", 8));
  EXPECT_EQ(Read("missing", 0, 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*Read("a", 100, 5), "");
}

TEST_F(DiskFixture, CompletionsTakeSimulatedTime) {
  disk.Write("a", 0, Bytes(1000000), [](Status) {});
  loop.RunUntilIdle();
  // 50 us per op plus 1 MB at 1 GB/s.
  EXPECT_EQ(loop.now(), Time(std::chrono::microseconds(1050)));
}

TEST_F(DiskFixture, CrashLosesExactlyTheUnsyncedWrites) {
  ASSERT_TRUE(Write("a", 0, "AAAAAAAA").ok());
  ASSERT_TRUE(Sync("a").ok());
  ASSERT_TRUE(Write("a", 2, "bb").ok());
  ASSERT_TRUE(Write("a", 6, "cccc").ok());  // extends the file
  ASSERT_TRUE(Write("b", 0, "never synced").ok());
  EXPECT_EQ(*Read("a", 0, 100), "AAbbAAcccc");
  loop.Crash(node);
  loop.Restart(node);
  EXPECT_EQ(*Read("a", 0, 100), "AAAAAAAA");
  EXPECT_EQ(Read("b", 0, 1).status().code(), StatusCode::kNotFound);
}

// Property: after any mix of writes, syncs and a crash, a file holds exactly
// what a plain model of "last synced image" says.
TEST(MemDiskProperty, CrashMatchesTheSyncedImage) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    TestLoop loop(seed);
    NodeId node = loop.AddNode();
    Disk& disk = loop.env(node).disk();
    Random r(seed);
    std::string current, synced;
    bool exists_durably = false;
    for (int op = 0; op < 30; ++op) {
      if (r.Chance(0.3)) {
        disk.Sync("f", [](Status) {});
        if (!current.empty() || exists_durably) {
          synced = current;
          exists_durably = true;
        }
      } else {
        const uint64_t off = r.Uniform(64);
        std::string data(1 + r.Uniform(16), static_cast<char>('a' + r.Uniform(26)));
        disk.Write("f", off, ToBytes(data), [](Status) {});
        if (current.size() < off + data.size()) current.resize(off + data.size(), '\0');
        current.replace(off, data.size(), data);
      }
    }
    loop.RunUntilIdle();
    loop.Crash(node);
    loop.Restart(node);
    std::string got;
    bool found = false;
    disk.Read("f", 0, 1000, [&](StatusOr<Bytes> b) {
      found = b.ok();
      if (found) got.assign(b->begin(), b->end());
    });
    loop.RunUntilIdle();
    ASSERT_EQ(found, exists_durably) << "seed " << seed;
    ASSERT_EQ(got, synced) << "seed " << seed;
  }
}

}  // namespace
}  // namespace edgebed
