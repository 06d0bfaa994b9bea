#pragma once
/// @file
/// Non-owning views of compressed adjacency (CSC: rows are destinations and indices are
/// sources; CSR: the transpose). The kernels and samplers iterate these.

#include <cstdint>
#include <span>

namespace gnnkit {

/// @brief Compressed sparse rows over `num_rows` rows: row v's neighbours are
/// indices[indptr[v] .. indptr[v+1]). edge_ids (may be null) maps each position to the
/// edge's id (its position in the construction input).
template <typename IndexT>
struct CompressedView {
  std::int64_t num_rows = 0;  ///< destinations for CSC, sources for CSR
  std::int64_t num_cols = 0;  ///< sources for CSC, destinations for CSR
  const std::int64_t* indptr = nullptr;
  const IndexT* indices = nullptr;
  const std::int64_t* edge_ids = nullptr;

  std::int64_t num_edges() const noexcept { return num_rows ? indptr[num_rows] : 0; }
  std::int64_t degree(std::int64_t row) const noexcept { return indptr[row + 1] - indptr[row]; }
  std::span<const IndexT> neighbors(std::int64_t row) const noexcept {
    return {indices + indptr[row], std::size_t(degree(row))};
  }
};

}  // namespace gnnkit
