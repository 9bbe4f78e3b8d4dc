// libFuzzer target for the manifest loader: any bytes in, diagnostics out,
// never a crash, a hang or a leak. Build and run with ./build.sh fuzz.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/model/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const edgebed::model::LoadResult result = edgebed::model::LoadManifests(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  for (const auto& o : result.objects) (void)edgebed::model::Summarize(o);
  for (const auto& e : result.errors) (void)e.ToString();
  return 0;
}
