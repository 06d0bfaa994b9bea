#pragma once
// Reference implementations for tests: plain loops, no cleverness, so that a disagreement
// points at the library.
#include <cstdint>
#include <random>
#include <vector>

namespace gnnkit::test {

/// Row-major random matrix in [-1, 1) from a fixed seed.
template <typename T = float>
std::vector<T> random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> out(std::size_t(rows * cols));
  for (auto& x : out) x = static_cast<T>(dist(rng));
  return out;
}

/// c[i][j] = sum_k a[i][k] b[k][j] (+ bias[j]), accumulated in double.
template <typename T>
std::vector<T> naive_matmul(const std::vector<T>& a, const std::vector<T>& b,
                            const std::vector<T>* bias, std::int64_t m, std::int64_t k,
                            std::int64_t n) {
  std::vector<T> c(std::size_t(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = bias ? double((*bias)[j]) : 0.0;
      for (std::int64_t p = 0; p < k; ++p) acc += double(a[i * k + p]) * double(b[p * n + j]);
      c[i * n + j] = static_cast<T>(acc);
    }
  return c;
}

}  // namespace gnnkit::test
