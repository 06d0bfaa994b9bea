#pragma once
/// @file
/// What every layer shares: the run mode of a forward pass and the gradients a backward
/// pass returns. Layers have explicit forward(ctx, adjacency, x_src, x_dst, mode, cache) and
/// backward(ctx, adjacency, cache, grad_out) (DESIGN §3): no autograd engine; the cache
/// holds what the backward needs and is only filled when one is passed.

#include <cstdint>

#include "gnnkit/core/tensor.hpp"

namespace gnnkit::nn {

/// @brief How a forward pass runs.
struct ForwardMode {
  bool training = false;           ///< dropout on (and caches filled by the caller's choice)
  std::uint64_t dropout_key = 0;   ///< random stream of dropout masks; vary it per step
  bool check_finite = false;       ///< opt-in: throw on NaN/Inf in the inputs
};

/// @brief Gradients w.r.t. a convolution's inputs. x_dst is undefined when the layer reads
/// destination features only through x_src (x_dst a prefix view of x_src).
struct ConvGrads {
  Tensor x_src;
  Tensor x_dst;
};

/// @brief Whether b is a prefix view of a's rows (same memory, same row stride): sampled
/// blocks list destinations first, so x_dst is usually x_src's first rows.
inline bool is_row_prefix(const TensorView& a, const TensorView& b) {
  return a.data() == b.data() && a.ndim() == 2 && b.ndim() == 2 && b.size(0) <= a.size(0) &&
         a.size(1) == b.size(1) && (b.size(0) <= 1 || a.stride(0) == b.stride(0));
}

}  // namespace gnnkit::nn
