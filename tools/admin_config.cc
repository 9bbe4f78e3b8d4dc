#include "tools/admin_config.h"

#include <cstdlib>

#include <yaml-cpp/yaml.h>

#include "core/host/tls.h"

namespace edgebed::tools {

std::string RenderAdminConfig(const AdminConfig& config) {
  YAML::Emitter out;
  out << YAML::Comment("edgebed admin credential: whoever holds it runs the cluster. Keep it 0600.");
  out << YAML::BeginMap;
  out << YAML::Key << "server" << YAML::Value << config.server;
  out << YAML::Key << "token" << YAML::Value << config.token;
  out << YAML::Key << "certificate-authority" << YAML::Value << YAML::Literal << config.ca_pem;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

StatusOr<AdminConfig> LoadAdminConfig(const std::string& path) {
  StatusOr<std::string> text = host::ReadWholeFile(path);
  if (!text.ok()) {
    return NotFound(text.status().message() +
                        "; give --config the admin.yaml the server wrote (in its --data-dir), or set EDGEBED_CONFIG",
                    path);
  }
  AdminConfig c;
  try {
    YAML::Node root = YAML::Load(*text);
    if (!root.IsMap()) return InvalidArgument("not an admin credential (a map of server, token, certificate-authority)", path);
    for (const char* key : {"server", "token", "certificate-authority"}) {
      if (!root[key] || !root[key].IsScalar() || root[key].Scalar().empty())
        return InvalidArgument(std::string("missing ") + key + "; take the admin.yaml the server wrote", path);
    }
    c.server = root["server"].Scalar();
    c.token = root["token"].Scalar();
    c.ca_pem = root["certificate-authority"].Scalar();
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("not YAML: ") + e.what(), path);
  }
  if (c.server.rfind("https://", 0) != 0) return InvalidArgument("server must be https://HOST:PORT", path + ": server");
  return c;
}

std::string DefaultAdminConfigPath() {
  if (const char* env = std::getenv("EDGEBED_CONFIG"); env && *env) return env;
  return std::string(kDefaultServerDataDir) + "/admin.yaml";
}

}  // namespace edgebed::tools
