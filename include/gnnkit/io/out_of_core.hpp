#pragma once
/// @file
/// Out-of-core graph construction: builds a graph file straight from COO edge files that
/// need not fit in memory, in two kinds of sequential passes over the inputs (degree count,
/// then, per window of destination nodes, a stable counting-sort scatter into the memory-
/// mapped output). Memory stays near `memory_budget` plus 8 bytes per destination node,
/// whatever the edge count. The result is identical to save_graph(from_coo(...)) with the
/// same options, for any thread count and budget. (compiled target)

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/graph/build.hpp"
#include "gnnkit/graph/schema.hpp"

namespace gnnkit {

/// @brief One relation's edges as raw little-endian files of equal length.
struct DiskRelation {
  EdgeType type;
  std::string src_path;         ///< int64 [E]
  std::string dst_path;         ///< int64 [E]
  std::string timestamps_path;  ///< int64 [E], optional ("" = none)
  std::string weights_path;     ///< float32 [E], optional
};

/// @brief Options of build_graph_file.
struct OutOfCoreOptions {
  bool add_reverse = false;    ///< also store (dst, rev_<rel>, src) for every relation
  bool keep_edge_ids = true;
  IndexWidth index_width = IndexWidth::kAuto;
  /// Bytes of output written per window (one pass pair over the inputs per window).
  std::size_t memory_budget = std::size_t(1) << 30;
};

/// @brief What a build did (for logs and benchmarks).
struct OutOfCoreReport {
  std::int64_t num_edges = 0;   ///< stored edges over all relations
  int windows = 0;              ///< destination windows over all relations
  std::uint64_t file_bytes = 0;
};

/// @brief Builds the graph file `output_path` (temp file + rename, as save_graph).
/// @throws IoError (files), InvalidArgument / OutOfRange naming the relation, file and first
///         bad index and value (ids out of range, lengths that differ or are not whole
///         elements, non-finite weights)
OutOfCoreReport build_graph_file(const Context& ctx,
                                 const std::vector<std::pair<std::string, std::int64_t>>& num_nodes,
                                 const std::vector<DiskRelation>& relations,
                                 const std::string& output_path,
                                 const OutOfCoreOptions& options = {});

}  // namespace gnnkit
