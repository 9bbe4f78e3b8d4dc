// edgebed validate: loads manifests and prints what it loaded, or the errors.
#pragma once

namespace edgebed::tools {

// argv[0] is "validate". Exit code: 0 when everything loaded, 1 when any
// manifest has an error, 2 on bad usage (an unknown flag, a missing file).
int RunValidate(int argc, char** argv);

}  // namespace edgebed::tools
