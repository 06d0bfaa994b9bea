#pragma once
/// @file
/// What the compiled target was built with. (compiled target)

#include <string>

namespace gnnkit {

/// @brief True when this build of the compiled target includes the CUDA backend.
bool cuda_compiled() noexcept;

/// @brief Name of the dense CPU backend compiled in: "onednn" or "eigen".
const char* dense_backend_name() noexcept;

/// @brief One line for logs and bug reports: version, dense backend, CUDA (compiled, toolkit
/// version, devices visible), OpenMP threads available.
std::string build_info();

}  // namespace gnnkit
