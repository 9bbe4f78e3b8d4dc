// `edgebed ctl`: the API's client, in kubectl's habits.
//
//   edgebed ctl apply -f FILE...
//   edgebed ctl get pods|nodes|volumes|policies|KIND [NAME] [-n NS | -A] [-o yaml|json]
//   edgebed ctl delete -f FILE...
//   edgebed ctl delete KIND NAME [-n NS]
//
// It reads the admin credential (--config, $EDGEBED_CONFIG, or the default
// server's admin.yaml) and trusts only the CA written there.
#pragma once

#include <string>
#include <vector>

#include "core/base/status.h"
#include "tools/admin_config.h"

namespace edgebed::tools {

int RunCtl(int argc, char** argv);

// One HTTPS request to the API with the admin credential. On a transport
// error, a Status naming the server and the fix.
struct ApiResponse {
  int status = 0;
  std::string body;
};
StatusOr<ApiResponse> CallApi(const AdminConfig& config, const std::string& method, const std::string& target,
                              const std::string& body = {}, const std::string& content_type = "application/yaml");

// Every object the live cluster holds of the kinds policy needs, as one
// manifest stream (for `edgebed policy explain|matrix --live`).
StatusOr<std::string> LivePolicyManifests(const AdminConfig& config);

}  // namespace edgebed::tools
