// IP addresses and prefixes, v4 and v6, as manifests write them.
//
//   IpPrefix p;
//   std::string why;
//   if (!ParseCidr("10.1.0.0/16", &p, &why)) return InvalidArgument(why);
//   p.Contains(*Ipv4Prefix(address, 32));
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace edgebed {

struct IpPrefix {
  int family = 0;  // 4 or 6
  std::array<uint8_t, 16> bytes{};  // network order; v4 uses the first four
  int prefix = 0;  // 0..32 or 0..128

  // True if every address of `inner` lies in this prefix (same family).
  bool Contains(const IpPrefix& inner) const;
  // For a v4 prefix: the address as a host-order integer.
  uint32_t v4() const;
  std::string ToString() const;  // "10.1.0.0/16"
};

// "10.0.0.0/8" or "fd00::/64". A bare address is refused (as a Kubernetes
// ipBlock refuses it); *why then says what is wrong and how to write it.
bool ParseCidr(const std::string& text, IpPrefix* out, std::string* why);
// A bare address, "10.0.0.5" or "fd00::5", as its host prefix (/32, /128).
bool ParseIpAddress(const std::string& text, IpPrefix* out);

// Host-order IPv4 integers, as the dataplane keeps them.
std::optional<uint32_t> ParseIpv4(const std::string& text);
std::string FormatIpv4(uint32_t address);
IpPrefix Ipv4Prefix(uint32_t address, int prefix);

}  // namespace edgebed
