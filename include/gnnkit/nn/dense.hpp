#pragma once
/// @file
/// Dense matrix product with optional bias: the primitive under Linear and every layer's
/// feature transform.

#include <optional>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/tensor.hpp"

namespace gnnkit {

/// @brief out = a·b (+ bias broadcast over rows). (compiled target)
///
/// a is [M, K], b is [K, N], bias is [N] (or [1, N]), out is [M, N]; all float32 (or all
/// float64) on ctx's device. Any positive strides (e.g. a transposed view) are accepted;
/// out must not overlap the inputs. On the CPU float32 runs through oneDNN (cached
/// primitive), else Eigen.
/// @throws InvalidArgument (dtype, null), ShapeMismatch, DeviceMismatch
void matmul_into(const Context& ctx, const TensorView& a, const TensorView& b,
                 const std::optional<TensorView>& bias, const TensorView& out);

/// @brief out += a·b (same checks as matmul_into, no bias). Through sgemm with beta = 1 where
/// the layouts allow (float32, oneDNN), else a product and an addition. Gradient
/// accumulation and residual sums use it to skip a temporary.
void matmul_accumulate(const Context& ctx, const TensorView& a, const TensorView& b,
                       const TensorView& out);

/// @brief Allocating form of matmul_into: returns a new contiguous [M, N] tensor.
Tensor matmul(const Context& ctx, const TensorView& a, const TensorView& b,
              const std::optional<TensorView>& bias = std::nullopt);

}  // namespace gnnkit
