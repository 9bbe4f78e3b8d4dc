#include "core/host/tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace edgebed::host {
namespace {

namespace ssl = boost::asio::ssl;

constexpr long kCaDays = 3650;
constexpr long kServingDays = 365;
constexpr long kRenewWithinDays = 90;

struct Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

std::string OpenSslError(const std::string& what) {
  std::string out = what;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += ": ";
    out += buf;
  }
  return out;
}

Owned<EVP_PKEY> NewKey() {
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) <= 0 ||
      EVP_PKEY_keygen(ctx.get(), &key) <= 0) {
    return nullptr;
  }
  return Owned<EVP_PKEY>(key);
}

std::string KeyPem(EVP_PKEY* key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string CertPem(X509* cert) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Owned<X509> ParseCert(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Owned<X509>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

Owned<EVP_PKEY> ParseKey(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Owned<EVP_PKEY>(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool IsIpAddress(const std::string& s) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(s, ec);
  return !ec;
}

// The subjectAltName value naming every address.
std::string AltNames(const std::vector<std::string>& addresses) {
  std::set<std::string> names{"localhost"}, ips{"127.0.0.1"};
  for (const std::string& a : addresses) {
    if (a.empty() || a == "0.0.0.0" || a == "::") continue;
    (IsIpAddress(a) ? ips : names).insert(a);
  }
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + std::string("DNS:") + n;
  for (const std::string& ip : ips) out += (out.empty() ? "" : ",") + std::string("IP:") + ip;
  return out;
}

// A certificate for `key`, signed by `issuer_key` (the issuer itself when
// `issuer` is null: a self-signed CA).
Owned<X509> MakeCert(EVP_PKEY* key, const std::string& common_name, long days, X509* issuer,
                     EVP_PKEY* issuer_key, bool ca, const std::string& alt_names) {
  Owned<X509> cert(X509_new());
  if (!cert) return nullptr;
  X509_set_version(cert.get(), 2);
  uint8_t serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7F;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate a little clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("edgebed"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (ca) {
    ok = AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") &&
         AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  } else {
    ok = AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
         AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth") &&
         AddExtension(cert.get(), signer, NID_subject_alt_name, alt_names);
  }
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) return nullptr;
  return cert;
}

// The subjectAltName of `cert` in AltNames' form, to see whether it still fits.
std::string AltNamesOf(X509* cert) {
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return {};
  std::vector<std::string> list;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      const ASN1_IA5STRING* s = n->d.dNSName;
      list.push_back(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                 static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (n->type == GEN_IPADD && ASN1_STRING_length(n->d.iPAddress) == 4) {
      const unsigned char* b = ASN1_STRING_get0_data(n->d.iPAddress);
      list.push_back(std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) +
                     "." + std::to_string(b[3]));
    }
  }
  GENERAL_NAMES_free(names);
  return AltNames(list);
}

Status WriteFile(const std::string& path, const std::string& contents, mode_t mode) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create the directory: " + ec.message(), dir.string());
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return IoError(std::string("cannot create: ") + std::strerror(errno), tmp);
  (void)::fchmod(fd, mode);  // whatever the umask took away
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return IoError(std::string("cannot write: ") + std::strerror(err), tmp);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return IoError(std::string("cannot sync: ") + std::strerror(errno), tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return IoError(std::string("cannot rename into place: ") + std::strerror(errno), path);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(std::string("cannot read: ") + std::strerror(errno), path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Status WriteSecretFile(const std::string& path, const std::string& contents) {
  return WriteFile(path, contents, 0600);
}
Status WritePublicFile(const std::string& path, const std::string& contents) {
  return WriteFile(path, contents, 0644);
}

std::string CaHash(const std::string& ca_pem) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(ca_pem.data()), ca_pem.size(), digest);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

StatusOr<ServerCredentials> LoadOrCreateServerCredentials(const std::string& dir,
                                                          const std::vector<std::string>& addresses) {
  const std::string ca_cert_path = dir + "/server-ca.crt", ca_key_path = dir + "/server-ca.key";
  const std::string cert_path = dir + "/serving.crt", key_path = dir + "/serving.key";
  ServerCredentials c;
  Owned<X509> ca;
  Owned<EVP_PKEY> ca_key;
  const bool have_ca = std::filesystem::exists(ca_cert_path) || std::filesystem::exists(ca_key_path);
  if (have_ca) {
    // A CA that exists is never made again: every token names its hash.
    StatusOr<std::string> cert = ReadWholeFile(ca_cert_path);
    if (!cert.ok()) return cert.status().WithContext("the server's CA is half there; restore it from a backup");
    StatusOr<std::string> key = ReadWholeFile(ca_key_path);
    if (!key.ok()) return key.status().WithContext("the server's CA is half there; restore it from a backup");
    ca = ParseCert(*cert);
    ca_key = ParseKey(*key);
    if (!ca) return Corruption(OpenSslError("not a PEM certificate"), ca_cert_path);
    if (!ca_key) return Corruption(OpenSslError("not a PEM private key"), ca_key_path);
    if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
      return Corruption("the CA's key does not belong to its certificate", ca_key_path);
    }
    c.ca_cert = *cert;
    c.ca_key = *key;
  } else {
    ca_key = NewKey();
    if (!ca_key) return Internal(OpenSslError("cannot make a key"));
    ca = MakeCert(ca_key.get(), "edgebed-server-ca@" + std::to_string(std::time(nullptr)), kCaDays,
                  nullptr, ca_key.get(), true, {});
    if (!ca) return Internal(OpenSslError("cannot make the CA certificate"));
    c.ca_cert = CertPem(ca.get());
    c.ca_key = KeyPem(ca_key.get());
    EDGEBED_RETURN_IF_ERROR(WriteSecretFile(ca_key_path, c.ca_key));
    EDGEBED_RETURN_IF_ERROR(WritePublicFile(ca_cert_path, c.ca_cert));
  }

  const std::string wanted = AltNames(addresses);
  StatusOr<std::string> cert = ReadWholeFile(cert_path);
  StatusOr<std::string> key = ReadWholeFile(key_path);
  if (cert.ok() && key.ok()) {
    Owned<X509> serving = ParseCert(*cert);
    Owned<EVP_PKEY> serving_key = ParseKey(*key);
    std::time_t horizon = std::time(nullptr) + kRenewWithinDays * 24 * 3600;
    if (serving && serving_key && X509_check_private_key(serving.get(), serving_key.get()) == 1 &&
        X509_cmp_time(X509_get0_notAfter(serving.get()), &horizon) > 0 &&
        X509_check_issued(ca.get(), serving.get()) == X509_V_OK && AltNamesOf(serving.get()) == wanted) {
      c.cert = *cert;
      c.key = *key;
      return c;
    }
  }
  Owned<EVP_PKEY> serving_key = NewKey();
  if (!serving_key) return Internal(OpenSslError("cannot make a key"));
  Owned<X509> serving = MakeCert(serving_key.get(), "edgebed", kServingDays, ca.get(), ca_key.get(), false, wanted);
  if (!serving) return Internal(OpenSslError("cannot make the serving certificate"));
  c.cert = CertPem(serving.get());
  c.key = KeyPem(serving_key.get());
  EDGEBED_RETURN_IF_ERROR(WriteSecretFile(key_path, c.key));
  EDGEBED_RETURN_IF_ERROR(WritePublicFile(cert_path, c.cert));
  return c;
}

StatusOr<std::shared_ptr<ssl::context>> ServerContext(const ServerCredentials& c) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* raw = ctx->native_handle();
  SSL_CTX_set_min_proto_version(raw, TLS1_3_VERSION);
  Owned<X509> cert = ParseCert(c.cert), ca = ParseCert(c.ca_cert);
  Owned<EVP_PKEY> key = ParseKey(c.key);
  if (!cert || !ca || !key) return InvalidArgument(OpenSslError("unreadable server credentials"));
  if (SSL_CTX_use_certificate(raw, cert.get()) != 1 || SSL_CTX_use_PrivateKey(raw, key.get()) != 1 ||
      SSL_CTX_check_private_key(raw) != 1) {
    return InvalidArgument(OpenSslError("the serving key does not fit its certificate"));
  }
  // The CA goes in the chain: an agent holding only the token finds it there.
  if (SSL_CTX_add1_chain_cert(raw, ca.get()) != 1) return Internal(OpenSslError("cannot chain the CA"));
  return ctx;
}

StatusOr<std::shared_ptr<ssl::context>> ClientContext(const std::string& ca_pem) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* raw = ctx->native_handle();
  SSL_CTX_set_min_proto_version(raw, TLS1_3_VERSION);
  if (ca_pem.empty()) {
    ctx->set_verify_mode(ssl::verify_none);  // VerifyPinned decides, after the handshake
    return ctx;
  }
  Owned<X509> ca = ParseCert(ca_pem);
  if (!ca) return InvalidArgument(OpenSslError("the CA is not a PEM certificate"));
  X509_STORE* store = SSL_CTX_get_cert_store(raw);
  if (X509_STORE_add_cert(store, ca.get()) != 1) return Internal(OpenSslError("cannot trust the CA"));
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return ctx;
}

Status VerifyPinned(TlsStream& stream, const std::string& ca_hash, std::string* ca_pem) {
  SSL* ssl = stream.native_handle();
  X509* leaf = SSL_get0_peer_certificate(ssl);
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (!leaf || !chain) return PermissionDenied("the server presented no certificate");
  X509* anchor = nullptr;
  std::string anchor_pem;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* c = sk_X509_value(chain, i);
    std::string pem = CertPem(c);
    if (CaHash(pem) == ca_hash) {
      anchor = c;
      anchor_pem = std::move(pem);
      break;
    }
  }
  if (!anchor) {
    return PermissionDenied("no CA in the server's chain has the token's hash " + ca_hash.substr(0, 12) +
                            "...: this is not the server the token was made for");
  }
  Owned<X509_STORE> store(X509_STORE_new());
  Owned<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), anchor) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain) != 1) {
    return Internal(OpenSslError("cannot set up verification"));
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    return PermissionDenied(std::string("the server's certificate does not verify against the token's CA: ") +
                            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  if (ca_pem) *ca_pem = std::move(anchor_pem);
  return Status::Ok();
}

StatusOr<Bytes> ExportKeyingMaterial(TlsStream& stream, const std::string& label, size_t length) {
  Bytes out(length, 0);
  if (SSL_export_keying_material(stream.native_handle(), out.data(), out.size(), label.data(), label.size(),
                                 nullptr, 0, 0) != 1) {
    return Internal(OpenSslError("cannot export keying material"));
  }
  return out;
}

}  // namespace edgebed::host
