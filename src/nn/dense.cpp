#include "gnnkit/nn/dense.hpp"
#include "gnnkit/core/build_info.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/kernels/dense.hpp"

namespace gnnkit {
namespace {

constexpr const char* kFn = "matmul";

/// Strides of non-trivial dims must be positive: zero or negative strides would alias
/// elements (out) or are not expressible to oneDNN (inputs).
void check_strides(const char* arg, const TensorView& v) {
  for (int d = 0; d < v.ndim(); ++d)
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, v.numel() == 0 || v.size(d) <= 1 || v.stride(d) > 0,
                      "'{}' must have positive strides, got stride {} in dim {}", arg, v.stride(d),
                      d);
}

/// Byte range [first, last) touched by a view with non-negative strides.
std::pair<const char*, const char*> byte_range(const TensorView& v) {
  const auto* p = static_cast<const char*>(v.data());
  std::int64_t last = 0;
  for (int d = 0; d < v.ndim(); ++d) last += (v.size(d) - 1) * v.stride(d);
  return {p, p + (last + 1) * std::int64_t(v.itemsize())};
}

bool overlaps(const TensorView& x, const TensorView& y) {
  if (x.numel() == 0 || y.numel() == 0) return false;
  auto [x0, x1] = byte_range(x);
  auto [y0, y1] = byte_range(y);
  return x0 < y1 && y0 < x1;
}

/// Where a view sits for BLAS: row-major with leading dimension ld, or the transpose of a
/// row-major matrix (column-major: trans). Size-1 dimensions take any stride.
struct BlasOperand {
  bool trans = false;
  std::int64_t ld = 0;
};
std::optional<BlasOperand> blas_operand(const TensorView& v) {
  const std::int64_t r = v.size(0), c = v.size(1);
  if ((c <= 1 || v.stride(1) == 1) && (r <= 1 || v.stride(0) >= c))
    return BlasOperand{false, r <= 1 ? std::max<std::int64_t>(c, 1) : v.stride(0)};
  if ((r <= 1 || v.stride(0) == 1) && (c <= 1 || v.stride(1) >= r))
    return BlasOperand{true, c <= 1 ? std::max<std::int64_t>(r, 1) : v.stride(1)};
  return std::nullopt;
}

/// out = a·b + beta out (+ bias) through cuBLAS on ctx's stream; operands already checked.
void matmul_cuda(const Context& ctx, const TensorView& a, const TensorView& b,
                 const std::optional<TensorView>& bias, const TensorView& out, float beta) {
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, a.dtype() == DType::kFloat32,
                    "CUDA tensors must be float32, got {}", a.str());
  const std::int64_t m = out.size(0), n = out.size(1), k = a.size(1);
  const auto la = blas_operand(a), lb = blas_operand(b), lo = blas_operand(out);
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, la && lb,
                    "CUDA operands need a unit stride in one dimension, got 'a' {} and 'b' {}",
                    a.str(), b.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, lo && !lo->trans,
                    "CUDA 'out' must have contiguous rows, got {}", out.str());
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum: out = beta out (zeros for beta 0)
    if (beta != 1.f) kernels::cuda::scale(static_cast<float*>(out.data()), m, n, lo->ld, beta, ctx.cuda_stream());
  } else {
    kernels::cuda::sgemm(ctx.cublas_handle(), la->trans, lb->trans, m, n, k, 1.f,
                         static_cast<const float*>(a.data()), la->ld,
                         static_cast<const float*>(b.data()), lb->ld, beta,
                         static_cast<float*>(out.data()), lo->ld);
  }
  if (bias)
    kernels::cuda::add_bias_rows(static_cast<float*>(out.data()), m, n, lo->ld,
                                 static_cast<const float*>(bias->data()), ctx.cuda_stream());
}

/// Every check of matmul_into (dtypes, devices, shapes, strides, overlap).
void check_operands(const Context& ctx, const TensorView& a, const TensorView& b,
                    const std::optional<TensorView>& bias, const TensorView& out) {
  const DType dtype = a.dtype();
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, dtype == DType::kFloat32 || dtype == DType::kFloat64,
                    "'a' must be float32 or float64, got {}", dtype);
  const Device device = ctx.device();
  check::dtype_and_device(kFn, "a", a, dtype, device);
  check::dtype_and_device(kFn, "b", b, dtype, device);
  check::dtype_and_device(kFn, "out", out, dtype, device);
  check::not_null(kFn, "a", a);
  check::not_null(kFn, "b", b);
  check::not_null(kFn, "out", out);
  check::ndim(kFn, "a", a, 2);
  check::ndim(kFn, "b", b, 2);
  check::ndim(kFn, "out", out, 2);
  const std::int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  GNNKIT_EXPECTS_AS(ShapeMismatch, kFn, b.size(0) == k,
                    "'b' must have {} rows (the columns of 'a' {}), got {}", k, a.str(), b.str());
  GNNKIT_EXPECTS_AS(ShapeMismatch, kFn, out.size(0) == m && out.size(1) == n,
                    "'out' must be [{}, {}], got {}", m, n, out.str());
  if (bias) {
    check::dtype_and_device(kFn, "bias", *bias, dtype, device);
    check::not_null(kFn, "bias", *bias);
    const bool row = bias->ndim() == 2 && bias->size(0) == 1 && bias->size(1) == n;
    GNNKIT_EXPECTS_AS(ShapeMismatch, kFn, row || (bias->ndim() == 1 && bias->size(0) == n),
                      "'bias' must be [{}] or [1, {}], got {}", n, n, bias->str());
    check_strides("bias", *bias);
  }
  check_strides("a", a);
  check_strides("b", b);
  check_strides("out", out);
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, !overlaps(out, a) && !overlaps(out, b),
                    "'out' must not overlap 'a' or 'b'");
  if (bias && device.is_cuda())
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, bias->numel() <= 1 || bias->stride(bias->ndim() - 1) == 1,
                      "CUDA 'bias' must be contiguous, got {}", bias->str());
}

}  // namespace

void matmul_into(const Context& ctx, const TensorView& a, const TensorView& b,
                 const std::optional<TensorView>& bias, const TensorView& out) {
  check_operands(ctx, a, b, bias, out);
  if (ctx.device().is_cuda()) return matmul_cuda(ctx, a, b, bias, out, 0.f);
  const std::int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  const DType dtype = a.dtype();
  if (m == 0 || n == 0) return;
  if (dtype == DType::kFloat32 && k > 0 && std::string_view(dense_backend_name()) == "onednn")
    kernels::cpu::matmul_onednn(ctx, a, b, bias, out);
  else
    kernels::cpu::matmul_eigen(ctx, a, b, bias, out);
}

void matmul_accumulate(const Context& ctx, const TensorView& a, const TensorView& b,
                       const TensorView& out) {
  if (ctx.device().is_cuda() || a.device().is_cuda() || out.device().is_cuda()) {
    check_operands(ctx, a, b, std::nullopt, out);
    return matmul_cuda(ctx, a, b, std::nullopt, out, 1.f);
  }
  if (a.dtype() == DType::kFloat32 && out.dtype() == DType::kFloat32 && a.ndim() == 2 &&
      b.ndim() == 2 && out.ndim() == 2 && a.size(1) == b.size(0) && out.size(0) == a.size(0) &&
      out.size(1) == b.size(1) && ctx.device().is_cpu() && b.dtype() == DType::kFloat32 &&
      a.device().is_cpu() && b.device().is_cpu() && out.device().is_cpu() &&
      !overlaps(out, a) && !overlaps(out, b) && a.data() && b.data() && out.data() &&
      kernels::cpu::matmul_accumulate_sgemm(ctx, a, b, out))
    return;
  // Validation and every other case: a product into a temporary, then an addition.
  Tensor product = matmul(ctx, a, b);
  GNNKIT_EXPECTS_AS(ShapeMismatch, "matmul_accumulate",
                    out.ndim() == 2 && out.size(0) == product.size(0) && out.size(1) == product.size(1),
                    "'out' must be [{}, {}], got {}", product.size(0), product.size(1), out.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, "matmul_accumulate", out.dtype() == product.dtype() && out.device().is_cpu(),
                    "'out' must be {} on cpu, got {}", product.dtype(), out.str());
  const auto add = [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t i = 0; i < out.size(0); ++i)
      for (std::int64_t j = 0; j < out.size(1); ++j)
        static_cast<T*>(out.data())[i * out.stride(0) + j * out.stride(1)] +=
            product.data_as<T>()[i * product.size(1) + j];
  };
  if (out.dtype() == DType::kFloat32) add(float{});
  else add(double{});
}

Tensor matmul(const Context& ctx, const TensorView& a, const TensorView& b,
              const std::optional<TensorView>& bias) {
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, a.dtype() == DType::kFloat32 || a.dtype() == DType::kFloat64,
                    "'a' must be float32 or float64, got {}", a.dtype());
  check::ndim(kFn, "a", a, 2);
  check::ndim(kFn, "b", b, 2);
  Tensor out = Tensor::empty({a.size(0), b.size(1)}, a.dtype(), ctx.device());
  matmul_into(ctx, a, b, bias, out);
  return out;
}

}  // namespace gnnkit
