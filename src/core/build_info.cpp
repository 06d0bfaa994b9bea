#include "gnnkit/core/build_info.hpp"

#include <fmt/format.h>

#include "gnnkit/build_config.hpp"
#include "gnnkit/core/context.hpp"
#include "gnnkit/version.hpp"

namespace gnnkit {

std::string build_info() {
  const std::string dense = GNNKIT_WITH_ONEDNN
                                ? fmt::format("onednn {}", GNNKIT_ONEDNN_VERSION_STRING)
                                : std::string("eigen");
  const std::string cuda = GNNKIT_WITH_CUDA
                               ? fmt::format("cuda {} ({} devices)", GNNKIT_CUDA_VERSION_STRING,
                                             cuda_device_count())
                               : std::string("cuda not compiled");
  return fmt::format("gnnkit {} | dense {} | {} | cpu threads {}", kVersion, dense, cuda,
                     detail::default_thread_count());
}

}  // namespace gnnkit
