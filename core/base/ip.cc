#include "core/base/ip.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace edgebed {

bool IpPrefix::Contains(const IpPrefix& inner) const {
  if (family != inner.family || inner.prefix < prefix) return false;
  for (int bit = 0; bit < prefix; ++bit) {
    const int byte = bit / 8, mask = 0x80 >> (bit % 8);
    if ((bytes[byte] & mask) != (inner.bytes[byte] & mask)) return false;
  }
  return true;
}

uint32_t IpPrefix::v4() const {
  return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 | bytes[3];
}

std::string IpPrefix::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix);
}

bool ParseIpAddress(const std::string& text, IpPrefix* out) {
  IpPrefix p;
  if (inet_pton(AF_INET, text.c_str(), p.bytes.data()) == 1) {
    p.family = 4;
    p.prefix = 32;
  } else if (inet_pton(AF_INET6, text.c_str(), p.bytes.data()) == 1) {
    p.family = 6;
    p.prefix = 128;
  } else {
    return false;
  }
  *out = p;
  return true;
}

bool ParseCidr(const std::string& text, IpPrefix* out, std::string* why) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) {
    *why = "\"" + text + "\" is not a CIDR; add the prefix length, e.g. \"" + text + "/32\"";
    return false;
  }
  const std::string address = text.substr(0, slash), length = text.substr(slash + 1);
  IpPrefix p;
  if (!ParseIpAddress(address, &p)) {
    *why = "\"" + text + "\" is not a CIDR: \"" + address + "\" is not an IP address";
    return false;
  }
  const int max = p.prefix;
  if (length.empty() || length.size() > 3 ||
      !std::all_of(length.begin(), length.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      std::stoi(length) > max) {
    *why = "\"" + text + "\" is not a CIDR: the prefix length must be 0.." + std::to_string(max);
    return false;
  }
  p.prefix = std::stoi(length);
  *out = p;
  return true;
}

std::optional<uint32_t> ParseIpv4(const std::string& text) {
  IpPrefix p;
  if (!ParseIpAddress(text, &p) || p.family != 4) return std::nullopt;
  return p.v4();
}

std::string FormatIpv4(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string(address >> 16 & 255) + "." +
         std::to_string(address >> 8 & 255) + "." + std::to_string(address & 255);
}

IpPrefix Ipv4Prefix(uint32_t address, int prefix) {
  IpPrefix p;
  p.family = 4;
  p.prefix = prefix;
  p.bytes[0] = static_cast<uint8_t>(address >> 24);
  p.bytes[1] = static_cast<uint8_t>(address >> 16);
  p.bytes[2] = static_cast<uint8_t>(address >> 8);
  p.bytes[3] = static_cast<uint8_t>(address);
  return p;
}

}  // namespace edgebed
