// Wire codec: the bounds-checked binary encoding every edgebed message uses.
//
// A Writer appends little-endian fixed-width integers, LEB128 varints and
// length-prefixed byte strings. A Reader takes them back out and never reads
// past its input: every getter returns a Status, a declared length is checked
// against both the bytes that remain and a caller-given bound before any
// allocation, and the first failure sticks so a decoder can read a whole
// message and check once at the end.
//
// Every message starts with a Header: a 2-byte magic, a version and a message
// type. A receiver rejects other magics, versions it does not speak and types
// it does not know, so peers of different releases fail loudly, not subtly.
//
//   Writer w;
//   WriteHeader(w, {kProbeMagic, 1, kPing});
//   w.PutVarint(seq);
//   ...
//   Reader r(message);
//   Header h;
//   if (Status s = ReadHeader(r, kProbeMagic, 1, &h); !s.ok()) return s;
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace edgebed::wire {

class Writer {
 public:
  void PutU8(uint8_t v) { out_.push_back(v); }
  void PutU16(uint16_t v);
  void PutU32(uint32_t v);
  void PutU64(uint64_t v);
  void PutI64(int64_t v) { PutU64(static_cast<uint64_t>(v)); }
  void PutVarint(uint64_t v);
  void PutBytes(ByteView b);  // varint length, then the bytes
  void PutString(std::string_view s) { PutBytes(ByteView(s)); }
  void PutRaw(ByteView b) { out_.insert(out_.end(), b.begin(), b.end()); }

  size_t size() const { return out_.size(); }
  Bytes Finish() && { return std::move(out_); }

 private:
  Bytes out_;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}

  Status GetU8(uint8_t* v);
  Status GetU16(uint16_t* v);
  Status GetU32(uint32_t* v);
  Status GetU64(uint64_t* v);
  Status GetI64(int64_t* v);
  // At most 10 bytes; an overlong or unterminated varint is corruption.
  Status GetVarint(uint64_t* v);
  // A varint no larger than `max`: for counts that size an allocation.
  Status GetBoundedVarint(uint64_t max, uint64_t* v);
  // A length-prefixed string of at most `max_len` bytes.
  Status GetBytes(size_t max_len, Bytes* v);
  Status GetString(size_t max_len, std::string* v);
  // The next `n` bytes, borrowed from the input.
  Status GetRaw(size_t n, ByteView* v);

  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  // The first error met, or OK.
  const Status& status() const { return status_; }
  // OK if every byte was consumed and nothing failed.
  Status ExpectEnd() const;

 private:
  Status Fail(std::string what);
  Status Need(size_t n, const char* what);

  ByteView in_;
  size_t pos_ = 0;
  Status status_;
};

struct Header {
  uint16_t magic = 0;
  uint8_t version = 0;
  uint16_t type = 0;
};

inline constexpr size_t kHeaderSize = 5;

void WriteHeader(Writer& w, const Header& h);
// Reads a header and checks its magic and version against what the caller speaks.
Status ReadHeader(Reader& r, uint16_t magic, uint8_t version, Header* h);

}  // namespace edgebed::wire
