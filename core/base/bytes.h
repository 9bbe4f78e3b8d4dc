// Bytes and ByteView: owned and borrowed byte strings, the unit of messages and disk I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgebed {

using Bytes = std::vector<uint8_t>;

// A borrowed, read-only view of contiguous bytes (C++17 has no std::span).
// REQUIRES: the viewed storage outlives the view.
class ByteView {
 public:
  constexpr ByteView() = default;
  constexpr ByteView(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  ByteView(const Bytes& b) : data_(b.data()), size_(b.size()) {}  // NOLINT: implicit by design
  explicit ByteView(std::string_view s)
      : data_(reinterpret_cast<const uint8_t*>(s.data())), size_(s.size()) {}

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t operator[](size_t i) const { return data_[i]; }
  const uint8_t* begin() const { return data_; }
  const uint8_t* end() const { return data_ + size_; }

  // REQUIRES: pos <= size().
  ByteView substr(size_t pos, size_t n = SIZE_MAX) const {
    if (n > size_ - pos) n = size_ - pos;
    return ByteView(data_ + pos, n);
  }
  Bytes ToBytes() const { return Bytes(begin(), end()); }
  std::string_view AsStringView() const {
    return std::string_view(reinterpret_cast<const char*>(data_), size_);
  }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace edgebed
