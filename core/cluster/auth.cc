#include "core/cluster/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>

namespace edgebed::cluster {
namespace {

constexpr std::string_view kTokenPrefix = "K10";

Key Hmac(ByteView key, std::string_view label, ByteView data) {
  Bytes message;
  message.reserve(label.size() + 1 + data.size());
  message.insert(message.end(), label.begin(), label.end());
  message.push_back(0);  // the label cannot run into the data
  message.insert(message.end(), data.begin(), data.end());
  Key out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(), message.size(),
       out.data(), &length);
  return out;
}

bool IsHex(std::string_view s) {
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

std::string ClusterToken::ToString() const {
  if (ca_hash.empty()) return secret;
  return std::string(kTokenPrefix) + ca_hash + "::server:" + secret;
}

StatusOr<ClusterToken> ParseToken(std::string_view text) {
  const std::string form =
      "; a token is the server's K10<64 hex digits>::server:<secret>, or the bare secret";
  if (text.empty()) return InvalidArgument("the cluster token is empty" + form);
  for (char c : text)
    if (std::isspace(static_cast<unsigned char>(c)) || !std::isprint(static_cast<unsigned char>(c)))
      return InvalidArgument("the cluster token holds whitespace or a control character" + form);
  ClusterToken token;
  if (text.substr(0, kTokenPrefix.size()) != kTokenPrefix || text.find("::") == std::string_view::npos) {
    token.secret = std::string(text);
    return token;
  }
  std::string_view rest = text.substr(kTokenPrefix.size());
  size_t sep = rest.find("::");
  std::string_view hash = rest.substr(0, sep), cred = rest.substr(sep + 2);
  if (hash.size() != 64 || !IsHex(hash))
    return InvalidArgument("the token's CA hash '" + std::string(hash) +
                                   "' is not 64 hex digits" + form);
  size_t colon = cred.find(':');
  if (colon == std::string_view::npos || cred.substr(0, colon) != "server")
    return InvalidArgument("the token's credential must read 'server:<secret>'" + form);
  if (colon + 1 == cred.size()) return InvalidArgument("the token's secret is empty" + form);
  token.ca_hash = std::string(hash);
  token.secret = std::string(cred.substr(colon + 1));
  return token;
}

Key DeriveClusterKey(std::string_view secret) {
  static constexpr uint8_t kSalt[] = "edgebed cluster key v1";
  return Hmac(ByteView(kSalt, sizeof(kSalt) - 1), "cluster", ByteView(secret));
}

Mac Prove(const Key& key, std::string_view label, ByteView data) {
  Key full = Hmac(ByteView(key.data(), key.size()), label, data);
  Mac mac;
  std::copy(full.begin(), full.begin() + mac.size(), mac.begin());
  return mac;
}

bool Verify(const Key& key, std::string_view label, ByteView data, const Mac& presented) {
  Mac expected = Prove(key, label, data);
  return CRYPTO_memcmp(expected.data(), presented.data(), expected.size()) == 0;
}

bool SameMac(const Mac& a, const Mac& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

Key DeriveKey(const Key& key, std::string_view label, ByteView data) {
  return Hmac(ByteView(key.data(), key.size()), label, data);
}

}  // namespace edgebed::cluster
