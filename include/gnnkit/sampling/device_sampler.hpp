#pragma once
/// @file
/// DeviceSampler: multi-hop uniform neighbour sampling without replacement over a graph
/// resident in one device's memory (issue 6's GPU sampling), producing the MiniBatch layout of
/// sampling/neighbor.hpp (one relation; seeds first, then nodes in the order they were
/// reached; one CSC over local ids across the hops; edge ids are CSC positions).
///
/// The algorithm is written once (src/sampling/device_sampler_impl.hpp) over a tiny execution
/// interface (parallel for, exclusive scan, 64-bit atomics) and built twice: for the CPU
/// (src/sampling/device_sampler.cpp; what the tests run on a machine without a GPU) and for
/// CUDA (cuda/sampler.cu). Per hop: each frontier node draws min(fan-out, degree) distinct
/// positions (Floyd's algorithm, a counter-based stream keyed by (seed, batch, hop, node), so
/// the result does not depend on the thread or block count); the sources are relabelled
/// through a hash table keyed by global id, new ones numbered in the order of their first
/// sampled edge; one read of the hop's edge count per hop goes to the host.

#include <cstdint>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/tensor.hpp"
#include "gnnkit/graph/hetero_graph.hpp"
#include "gnnkit/sampling/mini_batch.hpp"

namespace gnnkit {

/// @brief One relation's CSC (int64 indptr, int32 indices) on a device.
struct DeviceGraph {
  std::int64_t num_nodes = 0;  ///< destinations = sources (a homogeneous relation)
  Tensor indptr;               ///< int64 [num_nodes + 1]
  Tensor indices;              ///< int32 [num_edges]

  /// @brief Copies relation `r` of a homogeneous graph (int32 indices) to ctx's device.
  /// @throws InvalidArgument (source and destination types differ, int64 indices), as Tensor
  static DeviceGraph upload(const Context& ctx, const HeteroGraph& graph, int r = 0);
};

/// @brief The sampled batch where it was sampled (ctx's device): what a training step on that
/// device reads, and to_host() gives the MiniBatch.
struct DeviceMiniBatch {
  Tensor nodes;       ///< int64 [num_nodes]: global ids, seeds first
  Tensor seed_local;  ///< int32 [num_seeds]: local id of each given seed
  Tensor indptr;      ///< int64 [expanded rows + 1]
  Tensor indices;     ///< int32 [num_edges]: local source ids
  Tensor edge_ids;    ///< int64 [num_edges]: CSC positions in the graph
  std::vector<Block> blocks;  ///< one per hop (one node type)

  /// @brief The same batch as a host MiniBatch (seed_type 0, EdgeIdKind::kCscPosition).
  MiniBatch to_host(const Context& ctx) const;
};

class DeviceSampler {
 public:
  /// @param fanouts one per hop; -1 takes every neighbour
  /// @throws InvalidArgument (no hops, a fan-out below -1 or zero, an undefined graph)
  DeviceSampler(DeviceGraph graph, std::vector<std::int64_t> fanouts);

  /// @brief Samples the neighbourhood of `seeds` (int64 global ids, on ctx's device or the
  /// host; duplicates are merged, the first occurrence numbered first).
  /// @param batch keys the random streams with ctx.seed(): the same (seed, batch) gives the
  ///        same batch on any device and thread count
  /// @throws OutOfRange (a seed outside the graph), DeviceMismatch (the graph on another
  ///         device than ctx), NotCompiled (a GPU context in a build without CUDA)
  DeviceMiniBatch sample(const Context& ctx, const TensorView& seeds, std::uint64_t batch) const;

  const DeviceGraph& graph() const noexcept { return graph_; }
  const std::vector<std::int64_t>& fanouts() const noexcept { return fanouts_; }

 private:
  DeviceGraph graph_;
  std::vector<std::int64_t> fanouts_;
};

namespace sampling_detail {
/// The two builds of the algorithm (src/sampling/device_sampler.cpp, cuda/sampler.cu or the
/// stub): seeds already on the graph's device, checked.
DeviceMiniBatch sample_on_host(const Context& ctx, const DeviceGraph& g, const std::vector<std::int64_t>& fanouts,
                               const Tensor& seeds, std::uint64_t batch);
DeviceMiniBatch sample_on_cuda(const Context& ctx, const DeviceGraph& g, const std::vector<std::int64_t>& fanouts,
                               const Tensor& seeds, std::uint64_t batch);
}  // namespace sampling_detail

}  // namespace gnnkit
