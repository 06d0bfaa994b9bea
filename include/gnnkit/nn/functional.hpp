#pragma once
/// @file
/// Dense building blocks of the layers, forward and backward, on CPU tensors of float32 or
/// float64: row slices, transposed views, linear (through matmul), activations, dropout,
/// layer norm, column concatenation and elementwise helpers. Each backward takes what its
/// forward saved and the gradient of the output; parameter gradients accumulate (+=).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/core/isa_clones.hpp"
#include "gnnkit/core/tensor.hpp"
#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/kernels/memory.hpp"
#include "gnnkit/kernels/sparse.hpp"
#include "gnnkit/nn/activation.hpp"
#include "gnnkit/nn/dense.hpp"
#include "gnnkit/nn/dropout_mask.hpp"
#include "gnnkit/nn/parameter.hpp"
#include "gnnkit/sampling/random.hpp"

namespace gnnkit::nn {

/// @brief Calls fn(T{}) with T = float or double according to dtype.
/// @throws InvalidArgument naming `function` for other dtypes
template <typename Fn>
decltype(auto) dispatch_float(DType dtype, const char* function, Fn&& fn) {
  if (dtype == DType::kFloat32) return fn(float{});
  if (dtype == DType::kFloat64) return fn(double{});
  throw InvalidArgument(function,
                        detail::format("features must be float32 or float64, got {}", dtype));
}

/// @brief Rows [begin, end) of a 2-d tensor, sharing its memory.
inline Tensor slice_rows(const Tensor& t, std::int64_t begin, std::int64_t end) {
  GNNKIT_EXPECTS_AS(OutOfRange, "slice_rows", t.ndim() == 2 && 0 <= begin && begin <= end &&
                                                  end <= t.size(0),
                    "rows [{}, {}) must lie in {}", begin, end, t.str());
  const std::int64_t shape[2] = {end - begin, t.size(1)};
  const std::int64_t strides[2] = {t.strides()[0], t.strides()[1]};
  char* data = static_cast<char*>(t.data()) + begin * t.strides()[0] * std::int64_t(dtype_size(t.dtype()));
  return Tensor::wrap(TensorView(data, t.dtype(), t.device(), shape, strides), t.owner());
}

/// @brief The transpose of a 2-d view (strides swapped, no copy).
inline TensorView transposed(const TensorView& t) {
  const std::int64_t shape[2] = {t.size(1), t.size(0)};
  const std::int64_t strides[2] = {t.stride(1), t.stride(0)};
  return TensorView(t.data(), t.dtype(), t.device(), shape, strides);
}

/// @brief Uninitialised contiguous [rows, cols] tensor of dtype on ctx's device.
inline Tensor new_matrix(const Context& ctx, std::int64_t rows, std::int64_t cols, DType dtype) {
  return Tensor::empty({rows, cols}, dtype, ctx.device());
}
/// @brief Zero-filled [rows, cols] on ctx's device (on a GPU: queued on ctx's stream).
inline Tensor zeros_matrix(const Context& ctx, std::int64_t rows, std::int64_t cols,
                           DType dtype) {
  if (ctx.device().is_cpu()) return Tensor::zeros({rows, cols}, dtype);
  Tensor t = new_matrix(ctx, rows, cols, dtype);
  fill(ctx, t, 0.0);
  return t;
}
/// @brief A contiguous copy of t (on ctx's device). On a GPU a 2-d float32 matrix with
/// contiguous rows (any row stride) is copied by a kernel queued on ctx's stream, without
/// waiting for it. @throws DeviceMismatch when t is not on ctx's device
inline Tensor clone_on(const Context& ctx, const Tensor& t) {
  GNNKIT_EXPECTS_AS(DeviceMismatch, "clone", t.device() == ctx.device(),
                    "'t' is {}, but the context is on {}", t.str(), ctx.device());
  if (ctx.device().is_cpu()) return t.clone();
  if (t.ndim() != 2 || t.dtype() != DType::kFloat32 || (t.size(1) > 1 && t.strides()[1] != 1)) {
    Tensor out = Tensor::empty(t.shape(), t.dtype(), ctx.device());
    copy(ctx, out, t);  // contiguous tensors only
    return out;
  }
  Tensor out = Tensor::empty({t.size(0), t.size(1)}, DType::kFloat32, ctx.device());
  kernels::cuda::scale_add(out.data_as<float>(), t.size(1), t.data_as<float>(), t.strides()[0], t.size(0),
                           t.size(1), 1.f, 0.f, ctx.cuda_stream());
  return out;
}

/// @brief out[i] = x[ids[i]]: rows of a float matrix (features) or entries of an int64 vector
/// (labels), gathered on ctx's device, where x and the int64 ids must lie. The ids are checked
/// against x's rows first: on the CPU each one, on a GPU their bounds (one reduction read back).
/// @throws OutOfRange naming the offending id (on a GPU: the ids' range) and x's rows;
///         DeviceMismatch, InvalidArgument (dtypes, strides) naming the argument
inline Tensor select_rows(const Context& ctx, const TensorView& x, const TensorView& ids) {
  constexpr const char* kFn = "select_rows";
  GNNKIT_EXPECTS_AS(DeviceMismatch, kFn, x.device() == ctx.device() && ids.device() == ctx.device(),
                    "'x' is {} and 'ids' {}, but the context is on {}", x.str(), ids.str(), ctx.device());
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, ids.dtype() == DType::kInt64 && ids.ndim() == 1 && ids.is_contiguous(),
                    "'ids' must be a contiguous int64 vector, got {}", ids.str());
  const bool vector = x.ndim() == 1;
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn,
                    vector ? x.dtype() == DType::kInt64 && x.is_contiguous()
                           : x.ndim() == 2 && (x.dtype() == DType::kFloat32 || x.dtype() == DType::kFloat64) && (x.size(1) <= 1 || x.stride(1) == 1),
                    "'x' must be a float matrix with contiguous rows or a contiguous int64 vector, got {}",
                    x.str());
  const std::int64_t n = ids.size(0), rows = x.size(0), cols = vector ? 1 : x.size(1);
  const auto* id = static_cast<const std::int64_t*>(ids.data());
  Tensor out = vector ? Tensor::empty({n}, DType::kInt64, ctx.device()) : new_matrix(ctx, n, cols, x.dtype());
  if (ctx.device().is_cuda()) {
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, vector || x.dtype() == DType::kFloat32,
                      "'x' must be float32 on the GPU, got {}", x.str());
    const kernels::cuda::IndexStats b = kernels::cuda::index_stats(id, n, ctx.cuda_stream());
    GNNKIT_EXPECTS_AS(OutOfRange, kFn, n == 0 || (b.min >= 0 && b.max < rows),
                      "'ids' span [{}, {}], outside the {} rows of 'x' {}", b.min, b.max, rows, x.str());
    if (vector)
      kernels::cuda::gather_int64(static_cast<const std::int64_t*>(x.data()), id, n, out.data_as<std::int64_t>(),
                                  ctx.cuda_stream());
    else
      kernels::cuda::gather_rows(static_cast<const float*>(x.data()), x.stride(0), cols, id, n,
                                 out.data_as<float>(), cols, ctx.cuda_stream());
    return out;
  }
  for (std::int64_t i = 0; i < n; ++i)
    GNNKIT_EXPECTS_AS(OutOfRange, kFn, id[i] >= 0 && id[i] < rows, "'ids[{}]' = {} must be in [0, {}) (the rows of 'x')",
                      i, id[i], rows);
  if (vector) {
    const auto* src = static_cast<const std::int64_t*>(x.data());
    for (std::int64_t i = 0; i < n; ++i) out.data_as<std::int64_t>()[i] = src[id[i]];
    return out;
  }
  dispatch_float(x.dtype(), kFn, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::gather_rows<T, std::int64_t>(static_cast<const T*>(x.data()), x.stride(0), cols, id, n,
                                               out.data_as<T>(), cols, ctx.num_threads());
  });
  return out;
}

/// @brief Throws DeviceMismatch naming fn and the argument when t is not in host memory, on
/// an op's CPU path (a CPU context given a device operand, or a host operand beside it).
inline void require_host(const char* fn, const char* arg, const TensorView& t) {
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn, t.device().is_cpu(),
                    "'{}' is {}, but this call runs on the CPU: give it a context of that device, "
                    "or move the tensor to the host", arg, t.str());
}

/// @brief A float32 matrix on ctx's CUDA device, rows x cols (cols unchecked when < 0),
/// contiguous rows: what the CUDA ops take. @throws DeviceMismatch naming the argument, its
/// device and sizes, and the context's device; ShapeMismatch; InvalidArgument (dtype)
inline void check_device_matrix(const char* layer, const Context& ctx, const char* arg,
                                const TensorView& t, std::int64_t rows, std::int64_t cols) {
  GNNKIT_EXPECTS_AS(DeviceMismatch, layer, t.device() == ctx.device(),
                    "'{}' is {}, but the context is on {}", arg, t.str(), ctx.device());
  GNNKIT_EXPECTS_AS(InvalidArgument, layer, t.dtype() == DType::kFloat32,
                    "'{}' must be float32 on the GPU, got {}", arg, t.str());
  GNNKIT_EXPECTS_AS(ShapeMismatch, layer, t.ndim() == 2 && (rows < 0 || t.size(0) == rows) &&
                                              (cols < 0 || t.size(1) == cols),
                    "'{}' must be 2-d with {} rows{}, got {}", arg, rows,
                    cols < 0 ? std::string() : detail::format(" and {} columns", cols), t.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, layer, t.size(1) <= 1 || t.stride(1) == 1,
                    "'{}' must have contiguous rows (column stride 1), got stride {}", arg,
                    t.stride(1));
}

/// @brief A contiguous float32 tensor of n elements on ctx's CUDA device (a bias and its
/// gradient). @throws DeviceMismatch, InvalidArgument, ShapeMismatch naming the argument
inline void check_device_vector(const char* layer, const Context& ctx, const char* arg,
                                const TensorView& t, std::int64_t n) {
  GNNKIT_EXPECTS_AS(DeviceMismatch, layer, t.device() == ctx.device(),
                    "'{}' is {}, but the context is on {}", arg, t.str(), ctx.device());
  GNNKIT_EXPECTS_AS(InvalidArgument, layer, t.dtype() == DType::kFloat32 && t.is_contiguous(),
                    "'{}' must be contiguous float32 on the GPU, got {}", arg, t.str());
  GNNKIT_EXPECTS_AS(ShapeMismatch, layer, t.numel() == n, "'{}' must have {} elements, got {}",
                    arg, n, t.str());
}

/// @brief 2-d and rows x cols (cols unchecked when < 0), of dtype, on `device` (the
/// context's), contiguous rows.
/// @throws ShapeMismatch / InvalidArgument / DeviceMismatch naming the layer and the argument
inline void check_matrix(const char* layer, const char* arg, const TensorView& t,
                         std::int64_t rows, std::int64_t cols, DType dtype,
                         Device device = Device::cpu()) {
  GNNKIT_EXPECTS_AS(InvalidArgument, layer, t.data() != nullptr || t.numel() == 0,
                    "'{}' must be defined", arg);
  GNNKIT_EXPECTS_AS(ShapeMismatch, layer, t.ndim() == 2, "'{}' must be 2-d, got {}", arg,
                    t.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, layer, t.dtype() == dtype,
                    "'{}' must be {} (the layer's parameters), got {}", arg, dtype, t.str());
  GNNKIT_EXPECTS_AS(DeviceMismatch, layer, t.device() == device,
                    "'{}' must be on {} (the context's device), got {}", arg, device, t.str());
  GNNKIT_EXPECTS_AS(ShapeMismatch, layer, rows < 0 || t.size(0) == rows,
                    "'{}' must have {} rows, got {}", arg, rows, t.str());
  GNNKIT_EXPECTS_AS(ShapeMismatch, layer, cols < 0 || t.size(1) == cols,
                    "'{}' must have {} columns, got {}", arg, cols, t.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, layer, t.size(1) <= 1 || t.stride(1) == 1,
                    "'{}' must have contiguous rows (column stride 1), got stride {}", arg,
                    t.stride(1));
}

/// @brief Throws DeviceMismatch naming the layer and the parameter unless p (when not null)
/// lives on ctx's device.
inline void check_parameter_device(const char* layer, const Context& ctx, const Parameter* p) {
  if (p == nullptr) return;
  GNNKIT_EXPECTS_AS(DeviceMismatch, layer, p->value.device() == ctx.device(),
                    "parameter '{}' is on {}, but the context is on {} (move the parameters "
                    "with ParameterList::to)", p->name, p->value.device(), ctx.device());
}

/// @brief Throws InvalidArgument naming the layer, argument and position if t has a NaN or
/// an infinity (the opt-in check_finite of the layers; on a GPU one kernel finds the first
/// and the host reads its value).
inline void check_finite(const Context& ctx, const char* layer, const char* arg, const TensorView& t) {
  if (!t.device().is_cpu()) {
    check_device_matrix(layer, ctx, arg, t, -1, -1);
    const std::int64_t k =
        kernels::cuda::first_non_finite(static_cast<const float*>(t.data()), t.stride(0), t.size(0), t.size(1),
                                        ctx.cuda_stream());
    if (k < 0) return;
    const std::int64_t i = k / t.size(1), j = k % t.size(1);
    float value = 0;
    kernels::cuda::copy_bytes(&value, Device::cpu(), static_cast<const float*>(t.data()) + i * t.stride(0) + j,
                              t.device(), sizeof value, ctx.cuda_stream());
    throw InvalidArgument(layer, detail::format("'{}' has a non-finite value {} at [{}, {}]", arg, double(value), i, j));
  }
  dispatch_float(t.dtype(), layer, [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t i = 0; i < t.size(0); ++i) {
      const T* row = static_cast<const T*>(t.data()) + i * t.stride(0);
      for (std::int64_t j = 0; j < t.size(1); ++j)
        if (!std::isfinite(row[j]))
          throw InvalidArgument(layer, detail::format("'{}' has a non-finite value {} at [{}, {}]",
                                                      arg, double(row[j]), i, j));
    }
  });
}

/// @brief y = x·W (+ b).
inline Tensor linear_forward(const Context& ctx, const TensorView& x, const Parameter& weight,
                             const Parameter* bias) {
  return matmul(ctx, x, weight.value,
                bias ? std::optional<TensorView>(bias->value.view()) : std::nullopt);
}

/// @brief dst += src (same shape, 2-d, row strides honoured).
inline void add_into(const Context& ctx, const TensorView& dst, const TensorView& src) {
  if (!ctx.device().is_cpu() || !dst.device().is_cpu()) {
    check_device_matrix("add_into", ctx, "dst", dst, -1, -1);
    check_device_matrix("add_into", ctx, "src", src, dst.size(0), dst.size(1));
    kernels::cuda::scale_add(static_cast<float*>(dst.data()), dst.stride(0), static_cast<const float*>(src.data()),
                             src.stride(0), dst.size(0), dst.size(1), 1.f, 1.f, ctx.cuda_stream());
    return;
  }
  require_host("add_into", "src", src);
  dispatch_float(dst.dtype(), "add_into", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t rows = dst.size(0), cols = dst.size(1);
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(static) if (rows * cols > 65536)
    for (std::int64_t i = 0; i < rows; ++i) {
      T* d = static_cast<T*>(dst.data()) + i * dst.stride(0);
      const T* s = static_cast<const T*>(src.data()) + i * src.stride(0);
#pragma omp simd
      for (std::int64_t j = 0; j < cols; ++j) d[j] += s[j];
    }
  });
}

/// @brief out[i] += bias for every row i.
inline void add_bias_rows(const Context& ctx, const TensorView& out, const Parameter& bias) {
  if (!ctx.device().is_cpu() || !out.device().is_cpu()) {
    check_device_matrix("add_bias_rows", ctx, "out", out, -1, -1);
    check_device_vector("add_bias_rows", ctx, "bias", bias.value, out.size(1));
    kernels::cuda::add_bias_rows(static_cast<float*>(out.data()), out.size(0), out.size(1), out.stride(0),
                                 bias.value.data_as<float>(), ctx.cuda_stream());
    return;
  }
  require_host("add_bias_rows", "bias", bias.value);
  dispatch_float(out.dtype(), "add_bias_rows", [&](auto tag) {
    using T = decltype(tag);
    const T* b = bias.value.data_as<T>();
    const std::int64_t rows = out.size(0), cols = out.size(1);
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(static) if (rows * cols > 65536)
    for (std::int64_t i = 0; i < rows; ++i) {
      T* __restrict r = static_cast<T*>(out.data()) + i * out.stride(0);
      const T* __restrict bias_row = b;
#pragma omp simd
      for (std::int64_t j = 0; j < cols; ++j) r[j] += bias_row[j];
    }
  });
}

/// @brief out[j] += sum over rows i of row_term(i, partial) contributions, in parallel: rows
/// are cut into a fixed number of blocks (not one per thread), each summed into its own
/// partial vector, and the partials are added in block order, so the result is the same for
/// any thread count.
/// @param add_row called as add_row(i, partial) and adds row i's terms into partial[0, width)
template <typename T, typename AddRow>
void blocked_column_sums(const Context& ctx, std::int64_t rows, std::int64_t width, T* out,
                         AddRow&& add_row) {
  constexpr std::int64_t kBlocks = 64;
  const std::int64_t blocks = std::min<std::int64_t>(kBlocks, std::max<std::int64_t>(rows / 256, 1));
  std::vector<T> partial(static_cast<std::size_t>(blocks * width), T(0));
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(static) if (blocks > 1)
  for (std::int64_t b = 0; b < blocks; ++b) {
    T* p = partial.data() + b * width;
    for (std::int64_t i = rows * b / blocks; i < rows * (b + 1) / blocks; ++i) add_row(i, p);
  }
  for (std::int64_t b = 0; b < blocks; ++b)
    for (std::int64_t j = 0; j < width; ++j) out[j] += partial[std::size_t(b * width + j)];
}

/// @brief Backward of add_bias_rows: bias.grad += column sums of grad.
inline void bias_backward(const Context& ctx, const TensorView& grad, Parameter& bias) {
  if (!ctx.device().is_cpu() || !grad.device().is_cpu()) {
    check_device_matrix("bias_backward", ctx, "grad", grad, -1, -1);
    check_device_vector("bias_backward", ctx, "bias.grad", bias.grad, grad.size(1));
    kernels::cuda::add_column_sums(static_cast<const float*>(grad.data()), grad.size(0), grad.size(1),
                                   grad.stride(0), bias.grad.data_as<float>(), ctx.cuda_stream());
    return;
  }
  require_host("bias_backward", "bias.grad", bias.grad);
  dispatch_float(grad.dtype(), "bias_backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t cols = grad.size(1);
    blocked_column_sums<T>(ctx, grad.size(0), cols, bias.grad.data_as<T>(), [&](std::int64_t i, T* p) {
      const T* g = static_cast<const T*>(grad.data()) + i * grad.stride(0);
#pragma omp simd
      for (std::int64_t j = 0; j < cols; ++j) p[j] += g[j];
    });
  });
}

/// @brief Backward of linear_forward: weight.grad += xᵀ·g, bias.grad += column sums of g,
/// and returns g·Wᵀ when want_grad_x (else an undefined tensor).
inline Tensor linear_backward(const Context& ctx, const TensorView& x, Parameter& weight,
                              Parameter* bias, const TensorView& grad_y, bool want_grad_x) {
  if (x.size(0) > 0) matmul_accumulate(ctx, transposed(x), grad_y, weight.grad);
  if (bias) bias_backward(ctx, grad_y, *bias);
  if (!want_grad_x) return {};
  return matmul(ctx, grad_y, transposed(weight.value));
}


namespace functional_detail {
/// act(v) for one element; the switch sits outside the loops so that each loop vectorises.
template <Activation A, typename T>
inline T activate(T v, T slope) {
  if constexpr (A == Activation::kReLU) return v > 0 ? v : T(0);
  if constexpr (A == Activation::kLeakyReLU) return v > 0 ? v : slope * v;
  if constexpr (A == Activation::kELU) return v > 0 ? v : slope * std::expm1(v);
  return v;
}
/// The derivative of act at the input that produced output y (all three are recoverable from
/// the output: ReLU/LeakyReLU by its sign, ELU as y + alpha).
template <Activation A, typename T>
inline T derivative_from_output(T y, T slope) {
  if constexpr (A == Activation::kReLU) return y > 0 ? T(1) : T(0);
  if constexpr (A == Activation::kLeakyReLU) return y > 0 ? T(1) : slope;
  if constexpr (A == Activation::kELU) return y > 0 ? T(1) : y + slope;
  return T(1);
}
template <typename Fn>
void dispatch_activation(Activation act, Fn&& fn) {
  switch (act) {
    case Activation::kReLU: return fn(std::integral_constant<Activation, Activation::kReLU>{});
    case Activation::kLeakyReLU:
      return fn(std::integral_constant<Activation, Activation::kLeakyReLU>{});
    case Activation::kELU: return fn(std::integral_constant<Activation, Activation::kELU>{});
    case Activation::kNone: return fn(std::integral_constant<Activation, Activation::kNone>{});
  }
}

/// Runs body(begin, end) over rows [0, rows) in one static block per thread: in parallel
/// when the tensor has more than 65,536 elements. The body holds the whole row loop, so a
/// GNNKIT_ISA_CLONES body costs one indirect call per block.
template <typename Body>
void for_row_blocks(const Context& ctx, std::int64_t rows, std::int64_t cols, Body&& body) {
  const int threads = rows * cols > 65536 ? ctx.num_threads() : 1;
  if (threads <= 1 || rows < 2) {
    body(std::int64_t(0), rows);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) body(rows * t / threads, rows * (t + 1) / threads);
}
}  // namespace functional_detail

/// @brief y = act(x) in place. negative_slope is LeakyReLU's slope and ELU's alpha.
inline void activation_forward(const Context& ctx, Activation act, const TensorView& x,
                               double negative_slope = 0.01) {
  if (act == Activation::kNone) return;
  if (!x.device().is_cpu()) {  // the CUDA pass (kernels/cuda_ops.hpp), without dropout
    check_device_matrix("activation_forward", ctx, "x", x, -1, -1);
    kernels::cuda::activation_dropout_forward(act, static_cast<float*>(x.data()), x.size(0), x.size(1),
                                              x.stride(0), float(negative_slope), 0.0, 0, ctx.cuda_stream());
    return;
  }
  dispatch_float(x.dtype(), "activation_forward", [&](auto tag) {
    using T = decltype(tag);
    const T slope = T(negative_slope);
    const std::int64_t rows = x.size(0), cols = x.size(1);
    T* const data = static_cast<T*>(x.data());
    const std::int64_t ld = x.stride(0);
    functional_detail::dispatch_activation(act, [&](auto a) {
      constexpr Activation kAct = decltype(a)::value;
      functional_detail::for_row_blocks(ctx, rows, cols, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
        const T k_slope = slope;  // a local, not a closure read per element (see activation_dropout_backward)
        for (std::int64_t i = begin; i < end; ++i) {
          T* __restrict r = data + i * ld;
#pragma omp simd
          for (std::int64_t j = 0; j < cols; ++j) r[j] = functional_detail::activate<kAct, T>(r[j], k_slope);
        }
      });
    });
  });
}

/// @brief grad (in place) *= act'(x), computed from the activation's output y (all three
/// activations are invertible in sign, so the output suffices: no input copy is kept).
inline void activation_backward(const Context& ctx, Activation act, const TensorView& y,
                                const TensorView& grad, double negative_slope = 0.01);

/// @brief Backward of activation then inverted dropout (probability p, 0 for none), from the
/// final output alone: a dropped element is 0 and gets no gradient, a kept one is
/// act(x) / (1 - p), from which act'(x) is recovered. So a model keeps one tensor per hidden
/// layer (the next layer's input) instead of a copy of the pre-dropout activation.
inline void activation_dropout_backward(const Context& ctx, Activation act, const TensorView& y,
                                        const TensorView& grad, double p,
                                        double negative_slope = 0.01) {
  if (!y.device().is_cpu() || !grad.device().is_cpu()) {  // the CUDA pass
    check_device_matrix("activation_backward", ctx, "y", y, -1, -1);
    check_device_matrix("activation_backward", ctx, "grad", grad, y.size(0), y.size(1));
    kernels::cuda::activation_dropout_backward(act, static_cast<const float*>(y.data()), y.stride(0),
                                               static_cast<float*>(grad.data()), grad.stride(0), y.size(0),
                                               y.size(1), float(negative_slope), p, ctx.cuda_stream());
    return;
  }
  dispatch_float(y.dtype(), "activation_backward", [&](auto tag) {
    using T = decltype(tag);
    const T slope = T(negative_slope), scale = T(1 / (1 - p)), unscale = T(1 - p);
    const bool dropped_zero = p > 0;
    const std::int64_t rows = y.size(0), cols = y.size(1);
    const T* const y_data = static_cast<const T*>(y.data());
    T* const g_data = static_cast<T*>(grad.data());
    const std::int64_t y_ld = y.stride(0), g_ld = grad.stride(0);
    functional_detail::dispatch_activation(act, [&](auto a) {
      constexpr Activation kAct = decltype(a)::value;
      functional_detail::for_row_blocks(ctx, rows, cols, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
        // Constants as locals: read through the closure, the compiler must reload them after
        // every store to g (they might alias), and the loop stays scalar (a fifth of a SAGE
        // layer's backward time before this).
        const T k_slope = slope, k_scale = scale, k_unscale = unscale;
        const bool k_dropped_zero = dropped_zero;
        for (std::int64_t i = begin; i < end; ++i) {
          const T* __restrict yr = y_data + i * y_ld;
          T* __restrict g = g_data + i * g_ld;
#pragma omp simd
          for (std::int64_t j = 0; j < cols; ++j) {
            const T d = functional_detail::derivative_from_output<kAct, T>(yr[j] * k_unscale, k_slope);
            g[j] = (k_dropped_zero && yr[j] == T(0)) ? T(0) : g[j] * d * k_scale;
          }
        }
      });
    });
  });
}

inline void activation_backward(const Context& ctx, Activation act, const TensorView& y,
                                const TensorView& grad, double negative_slope) {
  activation_dropout_backward(ctx, act, y, grad, 0.0, negative_slope);
}


/// @brief Inverted dropout of act(x) in place, in one pass: zero with probability p, scale
/// survivors by 1/(1-p). Element (i, j) is kept by DropoutMask(key, p) at (i, j), so the same
/// key gives the same mask for any thread count and any activation.
inline void activation_dropout_forward(const Context& ctx, Activation act, const TensorView& x,
                                       double p, std::uint64_t key, double negative_slope = 0.01) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "dropout", p >= 0 && p < 1, "'p' must be in [0, 1), got {}",
                    p);
  if (!x.device().is_cpu()) {  // the CUDA pass: the same masks (DropoutMask is constexpr)
    check_device_matrix("activation_dropout_forward", ctx, "x", x, -1, -1);
    kernels::cuda::activation_dropout_forward(act, static_cast<float*>(x.data()), x.size(0), x.size(1),
                                              x.stride(0), float(negative_slope), p, key, ctx.cuda_stream());
    return;
  }
  if (p == 0) return activation_forward(ctx, act, x, negative_slope);
  const DropoutMask mask(key, p);
  dispatch_float(x.dtype(), "activation_dropout_forward", [&](auto tag) {
    using T = decltype(tag);
    const T slope = T(negative_slope), scale = T(1 / (1 - p));
    const std::int64_t rows = x.size(0), cols = x.size(1);
    T* const data = static_cast<T*>(x.data());
    const std::int64_t ld = x.stride(0);
    functional_detail::dispatch_activation(act, [&](auto a) {
      constexpr Activation kAct = decltype(a)::value;
      functional_detail::for_row_blocks(ctx, rows, cols, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
        const DropoutMask k_mask = mask;  // locals: closure reads would be reloaded per store
        const T k_slope = slope, k_scale = scale;
        for (std::int64_t i = begin; i < end; ++i) {
          const DropoutMask::RowStream stream = k_mask.row_stream(std::uint64_t(i));
          T* __restrict r = data + i * ld;
#pragma omp simd
          for (std::int64_t j = 0; j < cols; ++j)
            r[j] = k_mask.keep(stream, std::uint32_t(j)) ? functional_detail::activate<kAct, T>(r[j], k_slope) * k_scale : T(0);
        }
      });
    });
  });
}

/// @brief Inverted dropout in place (no activation); dropout_backward applies the same
/// mask to the gradient.
inline void dropout_forward(const Context& ctx, const TensorView& x, double p,
                            std::uint64_t key) {
  activation_dropout_forward(ctx, Activation::kNone, x, p, key);
}

/// @brief Backward of dropout_forward (same mask, same scale): in place on grad.
inline void dropout_backward(const Context& ctx, const TensorView& grad, double p,
                             std::uint64_t key) {
  dropout_forward(ctx, grad, p, key);
}

/// @brief L2-normalises every row in place (PyG's F.normalize(p=2, eps=1e-12)); returns the
/// row norms clamped at eps (float64 [rows] on ctx's device, for the backward).
inline Tensor normalize_rows_forward(const Context& ctx, const TensorView& x) {
  Tensor norms = Tensor::empty({x.size(0)}, DType::kFloat64, ctx.device());
  if (!ctx.device().is_cpu() || !x.device().is_cpu()) {
    check_device_matrix("normalize", ctx, "x", x, -1, -1);
    kernels::cuda::normalize_rows_forward(static_cast<float*>(x.data()), x.stride(0), x.size(0), x.size(1),
                                          norms.data_as<double>(), ctx.cuda_stream());
    return norms;
  }
  double* n_out = norms.data_as<double>();
  dispatch_float(x.dtype(), "normalize", [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t i = 0; i < x.size(0); ++i) {
      T* r = static_cast<T*>(x.data()) + i * x.stride(0);
      double s = 0;
      for (std::int64_t j = 0; j < x.size(1); ++j) s += double(r[j]) * r[j];
      const double n = std::max(std::sqrt(s), 1e-12);
      n_out[i] = n;
      for (std::int64_t j = 0; j < x.size(1); ++j) r[j] = T(r[j] / n);
    }
  });
  return norms;
}
/// @brief Backward of normalize_rows_forward given its output y: in place on grad,
/// g <- (g - y <g, y>) / n (or g / eps where the norm was clamped).
inline void normalize_rows_backward(const Context& ctx, const TensorView& y, const Tensor& norms,
                                    const TensorView& grad) {
  if (!ctx.device().is_cpu() || !grad.device().is_cpu()) {
    check_device_matrix("normalize backward", ctx, "grad", grad, -1, -1);
    check_device_matrix("normalize backward", ctx, "y", y, grad.size(0), grad.size(1));
    GNNKIT_EXPECTS_AS(DeviceMismatch, "normalize backward",
                      norms.device() == ctx.device() && norms.dtype() == DType::kFloat64 && norms.numel() == grad.size(0),
                      "'norms' must be the forward's float64 [{}] on {}, got {}", grad.size(0), ctx.device(), norms.str());
    kernels::cuda::normalize_rows_backward(static_cast<const float*>(y.data()), y.stride(0),
                                           norms.data_as<double>(), static_cast<float*>(grad.data()),
                                           grad.stride(0), grad.size(0), grad.size(1), ctx.cuda_stream());
    return;
  }
  require_host("normalize backward", "y", y);
  require_host("normalize backward", "norms", norms);
  const double* n_in = norms.data_as<double>();
  dispatch_float(y.dtype(), "normalize", [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t i = 0; i < y.size(0); ++i) {
      const T* yr = static_cast<const T*>(y.data()) + i * y.stride(0);
      T* g = static_cast<T*>(grad.data()) + i * grad.stride(0);
      const double n = n_in[i];
      if (n <= 1e-12) {
        for (std::int64_t j = 0; j < y.size(1); ++j) g[j] = T(g[j] / n);
        continue;
      }
      double dot = 0;
      for (std::int64_t j = 0; j < y.size(1); ++j) dot += double(g[j]) * yr[j];
      for (std::int64_t j = 0; j < y.size(1); ++j) g[j] = T((g[j] - yr[j] * dot) / n);
    }
  });
}

/// @brief Layer normalisation over the last dimension with gain and bias:
/// y = (x - mean) / sqrt(var + eps) * gamma + beta. Returns y; keeps xhat and 1/std.
struct LayerNormCache {
  Tensor xhat;
  Tensor inv_std;  ///< float64 [rows], on the context's device
};
inline Tensor layer_norm_forward(const Context& ctx, const TensorView& x, const Parameter& gamma,
                                 const Parameter& beta, double eps, LayerNormCache* cache) {
  const std::int64_t rows = x.size(0), cols = x.size(1);
  Tensor y = new_matrix(ctx, rows, cols, x.dtype());
  Tensor xhat = cache ? new_matrix(ctx, rows, cols, x.dtype()) : Tensor();
  Tensor inv_std_t = Tensor::empty({rows}, DType::kFloat64, ctx.device());
  if (!ctx.device().is_cpu() || !x.device().is_cpu()) {
    check_device_matrix("layer_norm", ctx, "x", x, -1, -1);
    check_device_vector("layer_norm", ctx, "gamma", gamma.value, cols);
    check_device_vector("layer_norm", ctx, "beta", beta.value, cols);
    kernels::cuda::layer_norm_forward(static_cast<const float*>(x.data()), x.stride(0), rows, cols,
                                      gamma.value.data_as<float>(), beta.value.data_as<float>(), eps,
                                      y.data_as<float>(), cache ? xhat.data_as<float>() : nullptr,
                                      inv_std_t.data_as<double>(), ctx.cuda_stream());
    if (cache) *cache = LayerNormCache{xhat, inv_std_t};
    return y;
  }
  require_host("layer_norm", "gamma", gamma.value);
  require_host("layer_norm", "beta", beta.value);
  double* inv_std = inv_std_t.data_as<double>();
  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* g = gamma.value.data_as<T>();
    const T* b = beta.value.data_as<T>();
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(static) if (rows * cols > 65536)
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* r = static_cast<const T*>(x.data()) + i * x.stride(0);
      double mean = 0, var = 0;
      for (std::int64_t j = 0; j < cols; ++j) mean += r[j];
      mean /= double(cols);
      for (std::int64_t j = 0; j < cols; ++j) var += (r[j] - mean) * (r[j] - mean);
      var /= double(cols);
      const double is = 1 / std::sqrt(var + eps);
      inv_std[i] = is;
      T* yr = y.data_as<T>() + i * cols;
      for (std::int64_t j = 0; j < cols; ++j) {
        const T h = T((r[j] - mean) * is);
        if (cache) xhat.data_as<T>()[i * cols + j] = h;
        yr[j] = h * g[j] + b[j];
      }
    }
  });
  if (cache) *cache = LayerNormCache{xhat, inv_std_t};
  return y;
}
/// @brief Backward of layer_norm_forward: gamma/beta grads accumulate; returns grad of x.
inline Tensor layer_norm_backward(const Context& ctx, const LayerNormCache& cache,
                                  Parameter& gamma, Parameter& beta, const TensorView& grad_y) {
  const std::int64_t rows = cache.xhat.size(0), cols = cache.xhat.size(1);
  Tensor gx = new_matrix(ctx, rows, cols, cache.xhat.dtype());
  if (!ctx.device().is_cpu() || !grad_y.device().is_cpu()) {
    check_device_matrix("layer_norm backward", ctx, "grad_y", grad_y, rows, cols);
    check_device_vector("layer_norm backward", ctx, "gamma.grad", gamma.grad, cols);
    check_device_vector("layer_norm backward", ctx, "beta.grad", beta.grad, cols);
    check_device_vector("layer_norm backward", ctx, "gamma", gamma.value, cols);
    check_device_matrix("layer_norm backward", ctx, "cache.xhat", cache.xhat, rows, cols);
    GNNKIT_EXPECTS_AS(DeviceMismatch, "layer_norm backward", cache.inv_std.device() == ctx.device(),
                      "'cache.inv_std' is {}, but the context is on {}", cache.inv_std.str(), ctx.device());
    kernels::cuda::layer_norm_backward(cache.xhat.data_as<float>(), rows, cols, gamma.value.data_as<float>(),
                                       cache.inv_std.data_as<double>(), static_cast<const float*>(grad_y.data()),
                                       grad_y.stride(0), gx.data_as<float>(), gamma.grad.data_as<float>(),
                                       beta.grad.data_as<float>(), ctx.cuda_stream());
    return gx;
  }
  for (const auto& [arg, t] : {std::pair<const char*, const Tensor*>{"cache.xhat", &cache.xhat},
                               {"gamma", &gamma.value}, {"gamma.grad", &gamma.grad}, {"beta.grad", &beta.grad}})
    require_host("layer_norm backward", arg, *t);
  dispatch_float(cache.xhat.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* g = gamma.value.data_as<T>();
    T* gg = gamma.grad.data_as<T>();
    T* gb = beta.grad.data_as<T>();
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* gy = static_cast<const T*>(grad_y.data()) + i * grad_y.stride(0);
      const T* h = cache.xhat.data_as<T>() + i * cols;
      double s1 = 0, s2 = 0;
      for (std::int64_t j = 0; j < cols; ++j) {
        gg[j] += gy[j] * h[j];
        gb[j] += gy[j];
        const double d = double(gy[j]) * g[j];
        s1 += d;
        s2 += d * h[j];
      }
      T* out = gx.data_as<T>() + i * cols;
      const double is = cache.inv_std.data_as<double>()[i];
      for (std::int64_t j = 0; j < cols; ++j)
        out[j] = T(is / double(cols) * (double(cols) * gy[j] * g[j] - s1 - h[j] * s2));
    }
  });
  return gx;
}

/// @brief [a | b]: column concatenation of two matrices with the same rows.
inline Tensor concat_columns(const Context& ctx, const TensorView& a, const TensorView& b) {
  GNNKIT_EXPECTS_AS(ShapeMismatch, "concat_columns", a.ndim() == 2 && b.ndim() == 2 && a.size(0) == b.size(0),
                    "'a' {} and 'b' {} must be matrices with the same rows", a.str(), b.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, "concat_columns", a.dtype() == b.dtype(),
                    "'a' {} and 'b' {} must have one dtype", a.str(), b.str());
  const std::int64_t rows = a.size(0), ca = a.size(1), cb = b.size(1);
  Tensor out = new_matrix(ctx, rows, ca + cb, a.dtype());
  if (!ctx.device().is_cpu() || !a.device().is_cpu() || !b.device().is_cpu()) {
    check_device_matrix("concat_columns", ctx, "a", a, rows, ca);
    check_device_matrix("concat_columns", ctx, "b", b, rows, cb);
    // Two strided copies into the column blocks of out.
    kernels::cuda::scale_add(out.data_as<float>(), ca + cb, static_cast<const float*>(a.data()), a.stride(0), rows,
                             ca, 1.f, 0.f, ctx.cuda_stream());
    kernels::cuda::scale_add(out.data_as<float>() + ca, ca + cb, static_cast<const float*>(b.data()), b.stride(0),
                             rows, cb, 1.f, 0.f, ctx.cuda_stream());
    return out;
  }
  require_host("concat_columns", "a", a);
  require_host("concat_columns", "b", b);
  const std::size_t item = dtype_size(a.dtype());
  for (std::int64_t i = 0; i < rows; ++i) {
    char* o = static_cast<char*>(out.data()) + std::size_t(i * (ca + cb)) * item;
    std::memcpy(o, static_cast<const char*>(a.data()) + std::size_t(i * a.stride(0)) * item,
                std::size_t(ca) * item);
    std::memcpy(o + std::size_t(ca) * item,
                static_cast<const char*>(b.data()) + std::size_t(i * b.stride(0)) * item,
                std::size_t(cb) * item);
  }
  return out;
}
/// @brief The column block [begin, end) of a matrix as a view (the backward of
/// concat_columns splits its gradient this way).
inline Tensor slice_columns(const Tensor& t, std::int64_t begin, std::int64_t end) {
  const std::int64_t shape[2] = {t.size(0), end - begin};
  const std::int64_t strides[2] = {t.strides()[0], t.strides()[1]};
  char* data = static_cast<char*>(t.data()) + begin * t.strides()[1] * std::int64_t(dtype_size(t.dtype()));
  return Tensor::wrap(TensorView(data, t.dtype(), t.device(), shape, strides), t.owner());
}

}  // namespace gnnkit::nn
