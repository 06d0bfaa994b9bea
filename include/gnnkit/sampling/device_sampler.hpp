#pragma once
/// @file
/// DeviceSampler: multi-hop uniform neighbour sampling without replacement over a graph
/// resident in one device's memory (issue 6's GPU sampling), homogeneous or heterogeneous
/// with per-relation fan-outs, producing the MiniBatch layout of sampling/neighbor.hpp
/// (per node type: seeds first, then nodes in the order they were reached, hop by hop and
/// within a hop by relation, destination and draw; per relation one CSC over local ids across
/// the hops; edge ids are CSC positions).
///
/// The algorithm is written once (src/sampling/device_sampler_impl.hpp) over a tiny execution
/// interface (parallel for, exclusive scan, 64-bit atomics) and built twice: for the CPU
/// (src/sampling/device_sampler.cpp; what the tests run on a machine without a GPU) and for
/// CUDA (cuda/sampler.cu). Per hop and relation: each frontier node of the relation's
/// destination type draws min(fan-out, degree) distinct positions (Floyd's algorithm, a
/// counter-based stream keyed by (seed, batch, hop, relation, node), so the result does not
/// depend on the thread or block count); the sources are relabelled through a hash table per
/// node type keyed by global id, new ones numbered in the order of their first sampled edge;
/// one read of the edge count per hop and relation goes to the host.

#include <cstdint>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/tensor.hpp"
#include "gnnkit/graph/hetero_graph.hpp"
#include "gnnkit/sampling/mini_batch.hpp"

namespace gnnkit {

/// @brief One relation's CSC (int64 indptr, int32 indices) on a device.
struct DeviceRelation {
  int src_type = 0, dst_type = 0;
  Tensor indptr;   ///< int64 [num_nodes[dst_type] + 1]
  Tensor indices;  ///< int32 [num_edges]: source ids of src_type
};

/// @brief A graph's relations on a device (its schema's node types and relation ids).
struct DeviceGraph {
  std::vector<std::int64_t> num_nodes;     ///< per node type
  std::vector<DeviceRelation> relations;   ///< per relation id

  /// @brief Copies every relation of the graph (int32 indices) to ctx's device.
  /// @throws InvalidArgument (a relation with int64 indices), as Tensor
  static DeviceGraph upload(const Context& ctx, const HeteroGraph& graph);
};

/// @brief One relation of a DeviceMiniBatch (SampledRelation where it was sampled).
struct DeviceSampledRelation {
  int relation = 0, src_type = 0, dst_type = 0;
  Tensor indptr;    ///< int64 [expanded destinations of dst_type + 1]
  Tensor indices;   ///< int32 [num_edges]: local source ids
  Tensor edge_ids;  ///< int64 [num_edges]: CSC positions in the graph's relation
  std::vector<std::int64_t> hop_edges;  ///< edges sampled at each hop (their rows come in hop order)
  std::int64_t num_edges() const noexcept { return indices.numel(); }
};

/// @brief The sampled batch where it was sampled (ctx's device): what a training step on that
/// device reads (nn::layer_graphs takes it), and to_host() gives the MiniBatch.
struct DeviceMiniBatch {
  int seed_type = 0;
  std::vector<Tensor> nodes;   ///< per node type: int64 global ids, seeds first
  Tensor seed_local;           ///< int32 [num_seeds]: local id of each given seed
  std::vector<DeviceSampledRelation> relations;  ///< per relation id
  std::vector<Block> blocks;   ///< one per hop

  /// @brief The same batch as a host MiniBatch (EdgeIdKind::kCscPosition).
  MiniBatch to_host(const Context& ctx) const;

  /// @brief Global ids of the rows a model run on this batch outputs: nodes[seed_type][0,
  /// blocks[0]'s dst_end), the distinct seeds in first-occurrence order (a view; select
  /// labels with it).
  Tensor output_nodes() const {
    const Tensor& n = nodes.at(std::size_t(seed_type));
    const std::int64_t rows = blocks.empty() ? seed_local.numel() : blocks.front().dst_end.at(std::size_t(seed_type));
    return Tensor::wrap(TensorView(n.data(), DType::kInt64, n.device(), {rows}), n.owner());
  }
};

class DeviceSampler {
 public:
  /// @param fanouts one per hop, the same for every relation; -1 takes every neighbour
  /// @throws InvalidArgument (no hops, a fan-out below -1 or zero, an empty graph)
  DeviceSampler(DeviceGraph graph, std::vector<std::int64_t> fanouts);
  /// @brief Per-relation fan-outs, as SamplingOptions::relation_fanouts.
  /// @param relation_fanouts [relation id][hop]: 0 skips the relation at that hop, -1 takes
  ///        every neighbour; every list as long
  /// @throws InvalidArgument (one list per relation, equal lengths, values -1, 0 or positive)
  static DeviceSampler per_relation(DeviceGraph graph, std::vector<std::vector<std::int64_t>> relation_fanouts);

  /// @brief Samples the neighbourhood of `seeds` (int64 global ids of seed_type, on ctx's
  /// device or the host; duplicates are merged, the first occurrence numbered first).
  /// @param batch keys the random streams with ctx.seed(): the same (seed, batch) gives the
  ///        same batch on any device and thread count
  /// @throws OutOfRange (a seed outside its type: the position on the host, the range of
  ///         device seeds), DeviceMismatch (the graph on another device than ctx),
  ///         NotCompiled (a GPU context in a build without CUDA)
  DeviceMiniBatch sample(const Context& ctx, int seed_type, const TensorView& seeds, std::uint64_t batch) const;
  /// @brief sample() with seeds of node type 0 (a homogeneous graph's).
  DeviceMiniBatch sample(const Context& ctx, const TensorView& seeds, std::uint64_t batch) const {
    return sample(ctx, 0, seeds, batch);
  }

  const DeviceGraph& graph() const noexcept { return graph_; }
  /// @brief [relation][hop]
  const std::vector<std::vector<std::int64_t>>& fanouts() const noexcept { return fanouts_; }

 private:
  DeviceSampler(DeviceGraph graph, std::vector<std::vector<std::int64_t>> relation_fanouts, bool checked);
  DeviceGraph graph_;
  std::vector<std::vector<std::int64_t>> fanouts_;
};

namespace sampling_detail {
/// The two builds of the algorithm (src/sampling/device_sampler.cpp, cuda/sampler.cu or the
/// stub): seeds already on the graph's device, checked.
using Fanouts = std::vector<std::vector<std::int64_t>>;
DeviceMiniBatch sample_on_host(const Context& ctx, const DeviceGraph& g, const Fanouts& fanouts, int seed_type,
                               const TensorView& seeds, std::uint64_t batch);
DeviceMiniBatch sample_on_cuda(const Context& ctx, const DeviceGraph& g, const Fanouts& fanouts, int seed_type,
                               const TensorView& seeds, std::uint64_t batch);
}  // namespace sampling_detail

}  // namespace gnnkit
