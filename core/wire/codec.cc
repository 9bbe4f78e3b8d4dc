#include "core/wire/codec.h"

#include <cstdio>

namespace edgebed::wire {

void Writer::PutU16(uint16_t v) {
  for (int i = 0; i < 2; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void Writer::PutU32(uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void Writer::PutU64(uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void Writer::PutVarint(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<uint8_t>(v));
}
void Writer::PutBytes(ByteView b) {
  PutVarint(b.size());
  PutRaw(b);
}

Status Reader::Fail(std::string what) {
  if (status_.ok()) {
    status_ = Corruption(std::move(what), "byte " + std::to_string(pos_));
  }
  return status_;
}

Status Reader::Need(size_t n, const char* what) {
  if (!status_.ok()) return status_;
  if (remaining() < n) {
    return Fail(std::string("truncated message: ") + what + " needs " + std::to_string(n) +
                " bytes, " + std::to_string(remaining()) + " remain");
  }
  return Status::Ok();
}

Status Reader::GetU8(uint8_t* v) {
  EDGEBED_RETURN_IF_ERROR(Need(1, "u8"));
  *v = in_[pos_++];
  return Status::Ok();
}

Status Reader::GetU16(uint16_t* v) {
  EDGEBED_RETURN_IF_ERROR(Need(2, "u16"));
  *v = static_cast<uint16_t>(in_[pos_] | (in_[pos_ + 1] << 8));
  pos_ += 2;
  return Status::Ok();
}

Status Reader::GetU32(uint32_t* v) {
  EDGEBED_RETURN_IF_ERROR(Need(4, "u32"));
  uint32_t x = 0;
  for (int i = 0; i < 4; ++i) x |= static_cast<uint32_t>(in_[pos_ + i]) << (8 * i);
  *v = x;
  pos_ += 4;
  return Status::Ok();
}

Status Reader::GetU64(uint64_t* v) {
  EDGEBED_RETURN_IF_ERROR(Need(8, "u64"));
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i) x |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
  *v = x;
  pos_ += 8;
  return Status::Ok();
}

Status Reader::GetI64(int64_t* v) {
  uint64_t u = 0;
  EDGEBED_RETURN_IF_ERROR(GetU64(&u));
  *v = static_cast<int64_t>(u);
  return Status::Ok();
}

Status Reader::GetVarint(uint64_t* v) {
  if (!status_.ok()) return status_;
  uint64_t x = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= in_.size()) return Fail("truncated message: varint runs past the end");
    const uint8_t b = in_[pos_++];
    if (i == 9 && b > 1) return Fail("corrupt varint: more than 64 bits");
    x |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *v = x;
      return Status::Ok();
    }
  }
  return Fail("corrupt varint: longer than 10 bytes");
}

Status Reader::GetBoundedVarint(uint64_t max, uint64_t* v) {
  uint64_t x = 0;
  EDGEBED_RETURN_IF_ERROR(GetVarint(&x));
  if (x > max) {
    return Fail("count " + std::to_string(x) + " exceeds the bound " + std::to_string(max));
  }
  *v = x;
  return Status::Ok();
}

Status Reader::GetRaw(size_t n, ByteView* v) {
  EDGEBED_RETURN_IF_ERROR(Need(n, "byte string"));
  *v = in_.substr(pos_, n);
  pos_ += n;
  return Status::Ok();
}

Status Reader::GetBytes(size_t max_len, Bytes* v) {
  uint64_t n = 0;
  EDGEBED_RETURN_IF_ERROR(GetBoundedVarint(max_len, &n));
  ByteView raw;
  EDGEBED_RETURN_IF_ERROR(GetRaw(static_cast<size_t>(n), &raw));
  *v = raw.ToBytes();
  return Status::Ok();
}

Status Reader::GetString(size_t max_len, std::string* v) {
  uint64_t n = 0;
  EDGEBED_RETURN_IF_ERROR(GetBoundedVarint(max_len, &n));
  ByteView raw;
  EDGEBED_RETURN_IF_ERROR(GetRaw(static_cast<size_t>(n), &raw));
  v->assign(raw.AsStringView());
  return Status::Ok();
}

Status Reader::ExpectEnd() const {
  if (!status_.ok()) return status_;
  if (remaining() != 0) {
    return Corruption(std::to_string(remaining()) + " unexpected trailing bytes",
                      "byte " + std::to_string(pos_));
  }
  return Status::Ok();
}

void WriteHeader(Writer& w, const Header& h) {
  w.PutU16(h.magic);
  w.PutU8(h.version);
  w.PutU16(h.type);
}

Status ReadHeader(Reader& r, uint16_t magic, uint8_t version, Header* h) {
  EDGEBED_RETURN_IF_ERROR(r.GetU16(&h->magic));
  EDGEBED_RETURN_IF_ERROR(r.GetU8(&h->version));
  EDGEBED_RETURN_IF_ERROR(r.GetU16(&h->type));
  if (h->magic != magic) {
    char text[64];
    std::snprintf(text, sizeof text, "wrong magic 0x%04x, expected 0x%04x", h->magic, magic);
    return Corruption(std::string(text) + ": not a message of this protocol");
  }
  if (h->version != version) {
    return InvalidArgument("protocol version " + std::to_string(h->version) +
                           " is not spoken here (this build speaks " +
                           std::to_string(version) + "); upgrade the older side");
  }
  return Status::Ok();
}

}  // namespace edgebed::wire
