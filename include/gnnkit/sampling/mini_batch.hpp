#pragma once
/// @file
/// MiniBatch and Block: the output of the samplers, named fields only (never positional
/// tuples).
///
/// Nodes: per node type, the global ids of the batch's nodes (local id = position), seeds
/// first, then every node in the order it was reached (hop by hop; within a hop by relation,
/// destination and draw). Hop h expands the nodes first reached at hop h-1 (the seeds for
/// h = 1), so every node is expanded at most once and the edges of all hops form one CSC per
/// relation over local ids. Block h (0-based: blocks[0] is the first hop, the seeds' own
/// neighbourhood) views the rows of that CSC for the destinations expanded at hop h+1.
/// A K-layer model runs its first layer (the input layer) over all rows of hops 1..K, its
/// last layer over hop 1's rows only: csc_prefix(relation, num_dst) gives those views.
/// Equivalent to PyG's (node, row, col, edge) per hop and to DGL's blocks.

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gnnkit/core/host_array.hpp"
#include "gnnkit/graph/compressed.hpp"

namespace gnnkit {

/// @brief What SampledRelation::edge_ids holds.
enum class EdgeIdKind : std::uint8_t {
  /// The graph's edge ids (input positions): one more random read per sampled edge.
  kInput,
  /// Positions in the relation's CSC: they index the graph's own per-edge arrays (weights,
  /// timestamps) directly, and relation.edge_ids[p] maps one to its input id when needed
  /// (PyG's sampler returns these positions too). Saves that read: about a quarter of the
  /// sampling time on a graph that stores edge ids.
  kCscPosition,
};

/// @brief The sampled edges of one relation over local ids.
struct SampledRelation {
  int relation = -1;             ///< relation id in the graph's schema
  int src_type = -1, dst_type = -1;
  std::vector<std::int64_t> indptr{0};  ///< [expanded dst nodes of dst_type + 1]
  std::vector<std::int32_t> indices;    ///< local src ids (into nodes[src_type])
  /// Per sampled edge: the graph's edge id (input position; the CSC position when the graph
  /// stores no edge ids), or with EdgeIdKind::kCscPosition its position in the relation's CSC.
  std::vector<std::int64_t> edge_ids;
  std::int64_t num_edges() const noexcept { return std::int64_t(indices.size()); }
};

/// @brief Rows of one hop: for each node type, the local dst range expanded at this hop.
struct Block {
  std::vector<std::int64_t> dst_begin;  ///< per node type
  std::vector<std::int64_t> dst_end;    ///< per node type
  std::vector<std::int64_t> num_src;    ///< per node type: nodes reached by the end of the hop
  std::int64_t num_edges = 0;           ///< edges sampled at this hop, all relations
};

struct MiniBatch {
  int seed_type = -1;
  std::vector<std::int32_t> seed_local;  ///< local id (in nodes[seed_type]) of each given seed
  std::vector<std::vector<std::int64_t>> nodes;       ///< per node type: global ids
  std::vector<std::vector<std::int64_t>> node_times;  ///< temporal: per node type, the time each node carries
  std::vector<std::vector<std::int32_t>> node_seed;   ///< disjoint: per node type, the seed (subtree) of each node
  std::vector<SampledRelation> relations;             ///< one per graph relation
  std::vector<Block> blocks;                          ///< one per hop, first hop first
  EdgeIdKind edge_id_kind = EdgeIdKind::kInput;       ///< what relations[r].edge_ids hold

  std::int64_t num_nodes(int type) const { return std::int64_t(nodes.at(std::size_t(type)).size()); }
  std::int64_t num_edges() const noexcept {
    std::int64_t e = 0;
    for (const auto& r : relations) e += r.num_edges();
    return e;
  }
  /// @brief CSC over the first num_dst local destinations of relation r (zero-copy).
  CompressedView<std::int32_t> csc_prefix(int r, std::int64_t num_dst) const {
    const SampledRelation& s = relations.at(std::size_t(r));
    const std::int64_t rows = std::min<std::int64_t>(num_dst, std::int64_t(s.indptr.size()) - 1);
    return {rows, num_nodes(s.src_type), s.indptr.data(), s.indices.data(), s.edge_ids.data()};
  }
};

}  // namespace gnnkit
