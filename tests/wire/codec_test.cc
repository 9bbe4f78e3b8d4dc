#include "core/wire/codec.h"

#include <gtest/gtest.h>

#include "core/env/random.h"

namespace edgebed::wire {
namespace {

TEST(Codec, RoundTripsEveryType) {
  Writer w;
  WriteHeader(w, {0xEB01, 3, 9});
  w.PutU8(0xab);
  w.PutU16(0xbeef);
  w.PutU32(0xdeadbeef);
  w.PutU64(0x0123456789abcdefULL);
  w.PutI64(-42);
  w.PutVarint(300);
  w.PutString("floor-1");
  Bytes bytes = std::move(w).Finish();

  Reader r(bytes);
  Header h;
  ASSERT_TRUE(ReadHeader(r, 0xEB01, 3, &h).ok());
  EXPECT_EQ(h.type, 9);
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64, var;
  int64_t i64;
  std::string s;
  ASSERT_TRUE(r.GetU8(&u8).ok());
  ASSERT_TRUE(r.GetU16(&u16).ok());
  ASSERT_TRUE(r.GetU32(&u32).ok());
  ASSERT_TRUE(r.GetU64(&u64).ok());
  ASSERT_TRUE(r.GetI64(&i64).ok());
  ASSERT_TRUE(r.GetVarint(&var).ok());
  ASSERT_TRUE(r.GetString(100, &s).ok());
  EXPECT_TRUE(r.ExpectEnd().ok());
  EXPECT_EQ(u8, 0xab);
  EXPECT_EQ(u16, 0xbeef);
  EXPECT_EQ(u32, 0xdeadbeefu);
  EXPECT_EQ(u64, 0x0123456789abcdefULL);
  EXPECT_EQ(i64, -42);
  EXPECT_EQ(var, 300u);
  EXPECT_EQ(s, "floor-1");
}

TEST(Codec, VarintsRoundTripOverManySeeds) {
  Random rnd(1);
  for (int i = 0; i < 20000; ++i) {
    const uint64_t v = rnd.Next() >> rnd.Uniform(64);
    Writer w;
    w.PutVarint(v);
    Bytes b = std::move(w).Finish();
    EXPECT_LE(b.size(), 10u);
    Reader r(b);
    uint64_t back = 0;
    ASSERT_TRUE(r.GetVarint(&back).ok());
    ASSERT_EQ(back, v);
    ASSERT_TRUE(r.ExpectEnd().ok());
  }
}

TEST(Codec, TruncationIsCorruptionWithAPosition) {
  Writer w;
  w.PutU64(7);
  Bytes b = std::move(w).Finish();
  b.resize(5);
  Reader r(b);
  uint64_t v;
  Status s = r.GetU64(&v);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.ToString(), "byte 0: truncated message: u64 needs 8 bytes, 5 remain");
  // The first error sticks.
  uint8_t u;
  EXPECT_EQ(r.GetU8(&u), s);
}

TEST(Codec, LengthIsCheckedBeforeAllocation) {
  Writer w;
  w.PutVarint(uint64_t{1} << 40);  // claims a terabyte
  Bytes b = std::move(w).Finish();
  Reader r(b);
  Bytes out;
  Status s = r.GetBytes(1 << 20, &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("exceeds the bound 1048576"), std::string::npos);
  Reader r2(b);
  EXPECT_FALSE(r2.GetBytes(SIZE_MAX, &out).ok());  // within bound, but past the input
}

TEST(Codec, OverlongVarintIsRejected) {
  Bytes b(11, 0xff);
  Reader r(b);
  uint64_t v;
  EXPECT_EQ(r.GetVarint(&v).code(), StatusCode::kCorruption);
}

TEST(Codec, HeaderChecksMagicAndVersion) {
  Writer w;
  WriteHeader(w, {0xEB01, 2, 1});
  Bytes b = std::move(w).Finish();
  Header h;
  Reader wrong_magic(b);
  EXPECT_EQ(ReadHeader(wrong_magic, 0xEB02, 2, &h).ToString(),
            "wrong magic 0xeb01, expected 0xeb02: not a message of this protocol");
  Reader wrong_version(b);
  EXPECT_EQ(ReadHeader(wrong_version, 0xEB01, 1, &h).ToString(),
            "protocol version 2 is not spoken here (this build speaks 1); upgrade the older side");
}

TEST(Codec, TrailingBytesAreReported) {
  Bytes b{1, 2};
  Reader r(b);
  uint8_t u;
  ASSERT_TRUE(r.GetU8(&u).ok());
  EXPECT_EQ(r.ExpectEnd().ToString(), "byte 1: 1 unexpected trailing bytes");
}

// Random bytes never crash a reader and never read out of bounds (ASan checks).
TEST(Codec, GarbageNeverReadsPastTheEnd) {
  Random rnd(2);
  for (int i = 0; i < 5000; ++i) {
    Bytes b(rnd.Uniform(24));
    for (auto& x : b) x = static_cast<uint8_t>(rnd.Next());
    Reader r(b);
    Header h;
    uint64_t v;
    std::string s;
    (void)ReadHeader(r, 0xEB01, 1, &h);
    (void)r.GetVarint(&v);
    (void)r.GetString(64, &s);
    EXPECT_LE(r.position(), b.size());
  }
}

}  // namespace
}  // namespace edgebed::wire
