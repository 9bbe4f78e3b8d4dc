// The admin credential a server writes and `edgebed ctl` reads, as K3s
// writes its k3s.yaml: where the API is, the CA to trust it by, and the
// bearer token. Written 0600 under the server's data dir (admin.yaml).
//
//   server: https://127.0.0.1:6443
//   token: 3f9c...
//   certificate-authority: |
//     -----BEGIN CERTIFICATE-----
//     ...
#pragma once

#include <string>

#include "core/base/status.h"

namespace edgebed::tools {

struct AdminConfig {
  std::string server;  // https://HOST:PORT
  std::string token;
  std::string ca_pem;
};

std::string RenderAdminConfig(const AdminConfig& config);
// Errors name the file and what is missing.
StatusOr<AdminConfig> LoadAdminConfig(const std::string& path);

// Where ctl looks without --config: $EDGEBED_CONFIG, else the default server
// data dir's admin.yaml.
std::string DefaultAdminConfigPath();
inline constexpr const char* kDefaultServerDataDir = "/var/lib/edgebed/server";
inline constexpr const char* kDefaultAgentDataDir = "/var/lib/edgebed/agent";

}  // namespace edgebed::tools
