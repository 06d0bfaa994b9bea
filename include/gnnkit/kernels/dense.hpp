#pragma once
/// @file
/// Dense matrix kernels. The CPU ones are compiled (src/backend/cpu_dense.cpp) because they
/// wrap oneDNN and Eigen, whose headers never appear in public headers.
/// Kernels trust their inputs: the front-end gnnkit::matmul (nn/dense.hpp) validates.

#include <optional>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/tensor_view.hpp"

namespace gnnkit::kernels::cpu {

/// @brief c = a·b (+ bias broadcast over rows) through a oneDNN matmul primitive, built once
/// per (shapes, strides, bias) and cached in ctx. float32 only.
/// @throws NotCompiled when built without oneDNN; BackendError when oneDNN fails
void matmul_onednn(const Context& ctx, const TensorView& a, const TensorView& b,
                   const std::optional<TensorView>& bias, const TensorView& c);

/// @brief c += a·b through oneDNN's sgemm (beta = 1) when every operand has a BLAS layout
/// (row- or column-major with a unit stride). Returns false, touching nothing, otherwise or
/// without oneDNN. float32 only.
bool matmul_accumulate_sgemm(const Context& ctx, const TensorView& a, const TensorView& b,
                             const TensorView& c);

/// @brief Number of oneDNN matmul primitives cached in ctx (0 without oneDNN): lets tests and
/// benchmarks see that repeated shapes reuse one primitive.
std::size_t onednn_cached_primitives(const Context& ctx);

/// @brief The same product through Eigen: the stand-in when oneDNN is absent, and the path
/// for float64. Strided views are supported.
void matmul_eigen(const Context& ctx, const TensorView& a, const TensorView& b,
                  const std::optional<TensorView>& bias, const TensorView& c);

}  // namespace gnnkit::kernels::cpu
