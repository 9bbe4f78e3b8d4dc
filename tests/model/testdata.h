// Reading the repository's own manifests from tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace edgebed::model {

// The text of `relative` (to the source tree), or "" when it cannot be read.
inline std::string ReadSourceFile(const std::string& relative) {
  std::ifstream in(std::string(EDGEBED_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace edgebed::model
