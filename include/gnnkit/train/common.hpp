#pragma once
/// @file
/// Helpers shared by the training headers (losses, optimisers): dtype dispatch and a
/// reduction whose result does not depend on the thread count. Internal (train_detail).

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gnnkit/core/dtype.hpp"
#include "gnnkit/core/tensor_view.hpp"

namespace gnnkit::train_detail {

/// Rows per block of the deterministic reduction: big enough to amortise the parallel loop,
/// small enough to balance a few threads.
inline constexpr std::int64_t kReduceBlock = 4096;

/// True for a default-constructed TensorView: the "no output wanted" marker of optional grads.
inline bool absent(const TensorView& v) noexcept { return v.data() == nullptr && v.ndim() == 0; }

/// Runs f<T>() with T = float or double according to dtype; other dtypes never reach it.
template <typename F>
decltype(auto) dispatch_float(DType dtype, F&& f) {
  if (dtype == DType::kFloat64) return f.template operator()<double>();
  return f.template operator()<float>();
}

/// Sum of f(i) over [0, n), computed as per-block partial sums added in block order: the
/// result does not depend on the thread count (an OpenMP reduction's order would).
template <typename F>
double ordered_sum(std::int64_t n, int num_threads, F&& f) {
  const std::int64_t blocks = (n + kReduceBlock - 1) / kReduceBlock;
  std::vector<double> partial(std::size_t(std::max<std::int64_t>(blocks, 1)), 0.0);
#pragma omp parallel for num_threads(num_threads) schedule(static) if (blocks > 1)
  for (std::int64_t b = 0; b < blocks; ++b) {
    double acc = 0;
    const std::int64_t end = std::min(n, (b + 1) * kReduceBlock);
    for (std::int64_t i = b * kReduceBlock; i < end; ++i) acc += f(i);
    partial[std::size_t(b)] = acc;
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

}  // namespace gnnkit::train_detail
