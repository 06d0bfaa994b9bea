// Eigen GEMM: the dense CPU backend when oneDNN is absent, and the float64 path always.
#include <Eigen/Core>

#include "gnnkit/kernels/dense.hpp"
#include "omp_threads.hpp"

namespace gnnkit::kernels::cpu {
namespace {

template <typename T>
using Strided = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>,
                           Eigen::Unaligned, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>>;

template <typename T>
Strided<T> as_matrix(const TensorView& v) {
  // Row-major map: outer stride = stride between rows, inner = stride between columns.
  return Strided<T>(static_cast<T*>(v.data()), v.size(0), v.size(1),
                    Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(v.stride(0), v.stride(1)));
}

template <typename T>
void matmul_typed(const TensorView& a, const TensorView& b, const std::optional<TensorView>& bias,
                  const TensorView& c) {
  auto cm = as_matrix<T>(c);
  cm.noalias() = as_matrix<T>(a) * as_matrix<T>(b);
  if (bias) {
    const T* bp = static_cast<const T*>(bias->data());
    const std::int64_t step = bias->stride(-1);
    for (Eigen::Index j = 0; j < cm.cols(); ++j) cm.col(j).array() += bp[j * step];
  }
}

}  // namespace

void matmul_eigen(const Context& ctx, const TensorView& a, const TensorView& b,
                  const std::optional<TensorView>& bias, const TensorView& c) {
  const ScopedOmpThreads threads(ctx.num_threads());
  if (c.dtype() == DType::kFloat64)
    matmul_typed<double>(a, b, bias, c);
  else
    matmul_typed<float>(a, b, bias, c);
}

}  // namespace gnnkit::kernels::cpu
