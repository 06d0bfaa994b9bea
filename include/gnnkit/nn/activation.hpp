#pragma once
/// @file
/// The activation functions between layers (the CPU passes are in functional.hpp, the CUDA
/// ones in kernels/cuda_ops.hpp).

namespace gnnkit::nn {

/// @brief Activation functions between layers. LeakyReLU's slope and ELU's alpha are given
/// with each call (negative_slope).
enum class Activation { kNone, kReLU, kLeakyReLU, kELU };

}  // namespace gnnkit::nn
