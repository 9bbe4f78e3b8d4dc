// TLS for a real cluster's control channel and API, as K3s sets it up.
//
// On its first start the server makes its own certificate authority and a
// serving certificate signed by it (ECDSA P-256; the CA for ten years, the
// serving certificate for one, made again when it nears its end or when the
// addresses it must name change). The join token carries the SHA-256 of the
// CA's PEM text (K3s's "K10<hash>::server:<secret>"), so an agent that has
// nothing but the token can tell the real server from an impostor: it takes
// the chain the server presents, finds the CA whose hash is the token's, and
// verifies the serving certificate against that CA alone. Only TLS 1.3 is
// spoken.
//
// Keys and tokens are written 0600, atomically (a temporary file, fsync,
// rename, fsync of the directory), so a crash never leaves half a key.
//
// Once connected, each side can draw keying material from the TLS session
// (RFC 8446 exporter): the agent proves the cluster secret over it, which
// binds the proof to this one connection, so a recorded proof replayed on
// another connection fails.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace edgebed::host {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

// What the server serves with, as PEM text.
struct ServerCredentials {
  std::string ca_cert, ca_key;
  std::string cert, key;  // the serving certificate, signed by the CA
};

// Loads the credentials under `dir` (server-ca.crt, server-ca.key,
// serving.crt, serving.key) or makes what is missing. The serving
// certificate names `addresses` (IP addresses or DNS names) besides
// "localhost" and 127.0.0.1, and is made again when it would expire within
// 90 days or does not name them all. Errors name the file and the fix.
StatusOr<ServerCredentials> LoadOrCreateServerCredentials(const std::string& dir,
                                                          const std::vector<std::string>& addresses);

// SHA-256 of the CA certificate's PEM text, as 64 lowercase hex digits.
std::string CaHash(const std::string& ca_pem);

// A TLS 1.3 server context serving `credentials` (the CA goes in the chain).
StatusOr<std::shared_ptr<boost::asio::ssl::context>> ServerContext(const ServerCredentials& credentials);

// A TLS 1.3 client context. With `ca_pem`, the peer must present a
// certificate that CA signed (OpenSSL verifies it in the handshake). Without
// it the handshake verifies nothing and the caller must call VerifyPinned
// before trusting the connection.
StatusOr<std::shared_ptr<boost::asio::ssl::context>> ClientContext(const std::string& ca_pem = {});

// After a handshake: finds the certificate in the peer's chain whose PEM
// text hashes to `ca_hash` and verifies the peer's certificate against it
// alone. On success `ca_pem` (if given) gets that CA. kPermissionDenied,
// naming what did not match, otherwise.
Status VerifyPinned(TlsStream& stream, const std::string& ca_hash, std::string* ca_pem = nullptr);

// `length` bytes of keying material exported from the connection's TLS
// session under `label` (RFC 8446 section 7.5): both ends get the same bytes,
// and no other connection does.
StatusOr<Bytes> ExportKeyingMaterial(TlsStream& stream, const std::string& label, size_t length = 32);

// Writes `contents` to `path` with mode 0600, atomically and durably.
Status WriteSecretFile(const std::string& path, const std::string& contents);
// Writes a file that is not secret (0644), atomically and durably.
Status WritePublicFile(const std::string& path, const std::string& contents);
StatusOr<std::string> ReadWholeFile(const std::string& path);

}  // namespace edgebed::host
