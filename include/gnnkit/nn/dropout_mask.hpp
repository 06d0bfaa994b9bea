#pragma once
/// @file
/// DropoutMask: which elements dropout keeps, as a pure function of (key, row, column). Its
/// queries are constexpr, so the CUDA kernels (cuda/, built with --expt-relaxed-constexpr)
/// draw exactly the CPU's masks.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "gnnkit/sampling/random.hpp"

namespace gnnkit::nn {

/// @brief A dropout mask as a pure function of (key, row, column): the backward pass
/// regenerates it instead of storing it. Each row gets a 32-bit stream from a 64-bit mix of
/// (key, row); each element one 32-bit hash (Wellons' lowbias32) of its column in that
/// stream. 32-bit multiplies vectorise on every x86-64 level (a 64-bit mix per element needs
/// AVX-512's vpmullq, and ran 16x slower without it), so masking costs about as much as
/// reading the data. Keep probability 1 - p to 2^-32.
class DropoutMask {
 public:
  DropoutMask(std::uint64_t key, double p)
      : base_(mix64(key ^ 0x6a09e667f3bcc909ull)),
        threshold_(static_cast<std::uint32_t>(std::min(std::ldexp(p, 32), 4294967295.0))) {}
  /// A row's stream (its own type: a row index where a stream belongs does not compile).
  struct RowStream {
    std::uint32_t bits;
  };
  /// @brief The stream of row i.
  constexpr RowStream row_stream(std::uint64_t i) const noexcept {
    return {std::uint32_t(mix64(base_ + i * 0x9e3779b97f4a7c15ull) >> 32)};
  }
  /// @brief Whether column j of the row with stream `row` is kept.
  constexpr bool keep(RowStream row, std::uint32_t j) const noexcept {
    std::uint32_t x = row.bits + j * 0x9e3779b9u;  // distinct j, distinct x
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x >= threshold_;
  }

 private:
  std::uint64_t base_;
  std::uint32_t threshold_;
};

}  // namespace gnnkit::nn
