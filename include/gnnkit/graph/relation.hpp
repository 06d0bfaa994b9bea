#pragma once
/// @file
/// The stored arrays of one relation of a HeteroGraph.

#include <cstdint>

#include "gnnkit/core/host_array.hpp"
#include "gnnkit/graph/compressed.hpp"
#include "gnnkit/graph/schema.hpp"

namespace gnnkit {

/// @brief One relation's adjacency and edge data. CSC (dst-major) always; CSR optionally.
///
/// Arrays in CSC order (position p in [0, num_edges)):
///   csc_indices[p]  source node of the edge (int32 when num_src < 2^31, else int64)
///   edge_ids[p]     the edge's position in the construction input (int64; optional)
///   timestamps[p]   int64 (optional), weights[p] float32 (optional)
/// csc_indptr is int64 [num_dst + 1]. The optional CSR has csr_indptr int64 [num_src + 1],
/// csr_indices (destination ids) and csr_to_csc[q], the CSC position of CSR entry q, through
/// which edge ids, timestamps and weights are reached.
struct Relation {
  EdgeType type;
  std::int64_t num_src = 0;
  std::int64_t num_dst = 0;
  /// Edge ids are < this: the number of input edges, plus one id per destination node when
  /// self-loops were added (the loop of node v has id num_input_edges_before + v).
  std::int64_t edge_id_bound = 0;
  /// Each CSC neighbour list is sorted by timestamp (ascending, stable).
  bool sorted_by_time = false;

  HostArray csc_indptr, csc_indices, edge_ids, timestamps, weights;
  HostArray csr_indptr, csr_indices, csr_to_csc;

  std::int64_t num_edges() const noexcept { return csc_indices.size(); }
  DType index_dtype() const noexcept { return csc_indices.dtype(); }
  bool has_edge_ids() const noexcept { return edge_ids.defined(); }
  bool has_timestamps() const noexcept { return timestamps.defined(); }
  bool has_weights() const noexcept { return weights.defined(); }
  bool has_csr() const noexcept { return csr_indptr.defined(); }

  /// @brief Typed CSC view. @throws InvalidArgument when IndexT is not index_dtype()
  template <typename IndexT>
  CompressedView<IndexT> csc() const {
    return {num_dst, num_src, csc_indptr.as<std::int64_t>().data(),
            csc_indices.as<IndexT>().data(),
            has_edge_ids() ? edge_ids.as<std::int64_t>().data() : nullptr};
  }
  /// @brief Typed CSR view (edge_ids there are CSC positions). @throws InvalidArgument
  template <typename IndexT>
  CompressedView<IndexT> csr() const {
    GNNKIT_EXPECTS_AS(InvalidArgument, "Relation::csr", has_csr(),
                      "relation '{}' was built without CSR (BuildOptions::build_csr)", type.str());
    return {num_src, num_dst, csr_indptr.as<std::int64_t>().data(),
            csr_indices.as<IndexT>().data(), csr_to_csc.as<std::int64_t>().data()};
  }

  /// @brief In-degree of destination v (number of stored edges into v).
  std::int64_t in_degree(std::int64_t v) const {
    const auto ptr = csc_indptr.as<std::int64_t>();
    return ptr[std::size_t(v) + 1] - ptr[std::size_t(v)];
  }

  /// @brief Bytes held by this relation's arrays.
  std::size_t nbytes() const noexcept {
    return csc_indptr.nbytes() + csc_indices.nbytes() + edge_ids.nbytes() + timestamps.nbytes() +
           weights.nbytes() + csr_indptr.nbytes() + csr_indices.nbytes() + csr_to_csc.nbytes();
  }
};

}  // namespace gnnkit
