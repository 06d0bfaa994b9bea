// The device sampler's front end and its CPU build (include/gnnkit/sampling/device_sampler.hpp):
// the same algorithm as the CUDA build (cuda/sampler.cu), run by OpenMP loops, so the tests
// of a machine without a GPU exercise it.
#include "gnnkit/sampling/device_sampler.hpp"

#include <cstring>

#include "gnnkit/kernels/cuda_ops.hpp"

#include "device_sampler_impl.hpp"

namespace gnnkit {
namespace sampling_detail {
namespace {

struct HostExec {
  const Context& ctx;
  const Context& context() const { return ctx; }
  template <typename F>
  void for_each(std::int64_t n, F f) const {
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(static) if (n > 4096)
    for (std::int64_t i = 0; i < n; ++i) f(i);
  }
  std::int64_t exclusive_scan(const std::int64_t* in, std::int64_t* out, std::int64_t n) const {
    std::int64_t total = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      out[i] = total;
      total += in[i];
    }
    return total;
  }
};

}  // namespace

DeviceMiniBatch sample_on_host(const Context& ctx, const DeviceGraph& g, const Fanouts& fanouts, int seed_type,
                               const TensorView& seeds, std::uint64_t batch) {
  HostExec exec{ctx};
  return sample_impl(exec, g, fanouts, seed_type, seeds, batch);
}

}  // namespace sampling_detail

DeviceGraph DeviceGraph::upload(const Context& ctx, const HeteroGraph& graph) {
  constexpr const char* fn = "DeviceGraph::upload";
  const Schema& schema = graph.schema();
  DeviceGraph g;
  for (int t = 0; t < schema.num_node_types(); ++t) g.num_nodes.push_back(schema.num_nodes(t));
  for (int r = 0; r < graph.num_relations(); ++r) {
    const Relation& rel = graph.relation(r);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel.index_dtype() == DType::kInt32,
                      "relation {} ('{}') has {} source indices; the device sampler takes int32", r,
                      rel.type.str(), rel.index_dtype());
    DeviceRelation d;
    d.src_type = schema.node_type_id(rel.type.src);
    d.dst_type = schema.node_type_id(rel.type.dst);
    d.indptr = Tensor::empty({rel.num_dst + 1}, DType::kInt64, ctx.device());
    d.indices = Tensor::empty({std::max<std::int64_t>(rel.num_edges(), 1)}, DType::kInt32, ctx.device());
    copy(ctx, d.indptr, rel.csc_indptr.view());
    if (rel.num_edges() > 0)
      copy(ctx, TensorView(d.indices.data(), DType::kInt32, ctx.device(), {rel.num_edges()}), rel.csc_indices.view());
    g.relations.push_back(std::move(d));
  }
  return g;
}

namespace {
void check_graph(const DeviceGraph& g) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "DeviceSampler", !g.relations.empty(),
                    "'graph' has no relations (upload one with DeviceGraph::upload)");
  // The arrays' contents are trusted (DeviceGraph::upload copies a validated HeteroGraph);
  // their types, sizes and devices are checked.
  for (std::size_t r = 0; r < g.relations.size(); ++r) {
    const DeviceRelation& rel = g.relations[r];
    GNNKIT_EXPECTS_AS(InvalidArgument, "DeviceSampler",
                      rel.indptr.defined() && rel.indices.defined() && rel.src_type >= 0 &&
                          rel.dst_type >= 0 && std::size_t(rel.src_type) < g.num_nodes.size() &&
                          std::size_t(rel.dst_type) < g.num_nodes.size() &&
                          rel.indptr.device() == g.relations.front().indptr.device() &&
                          rel.indices.device() == rel.indptr.device(),
                      "relation {} of 'graph' is not a relation of its node types on one device", r);
    GNNKIT_EXPECTS_AS(InvalidArgument, "DeviceSampler",
                      rel.indptr.dtype() == DType::kInt64 && rel.indices.dtype() == DType::kInt32 &&
                          rel.indptr.numel() == g.num_nodes[std::size_t(rel.dst_type)] + 1,
                      "relation {} of 'graph' needs an int64 indptr of {} entries and int32 indices, got {} and {}",
                      r, g.num_nodes[std::size_t(rel.dst_type)] + 1, rel.indptr.str(), rel.indices.str());
  }
}
}  // namespace

DeviceSampler::DeviceSampler(DeviceGraph graph, std::vector<std::int64_t> fanouts) : graph_(std::move(graph)) {
  constexpr const char* fn = "DeviceSampler";
  check_graph(graph_);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, !fanouts.empty(), "'fanouts' must name at least one hop");
  for (std::size_t h = 0; h < fanouts.size(); ++h)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, fanouts[h] == -1 || fanouts[h] > 0,
                      "'fanouts[{}]' must be positive or -1 (every neighbour), got {}", h, fanouts[h]);
  fanouts_.assign(graph_.relations.size(), fanouts);
}

DeviceSampler::DeviceSampler(DeviceGraph graph, std::vector<std::vector<std::int64_t>> relation_fanouts, bool)
    : graph_(std::move(graph)), fanouts_(std::move(relation_fanouts)) {}

DeviceSampler DeviceSampler::per_relation(DeviceGraph graph, std::vector<std::vector<std::int64_t>> relation_fanouts) {
  DeviceSampler s(std::move(graph), std::move(relation_fanouts), true);
  constexpr const char* fn = "DeviceSampler::per_relation";
  const auto& fanouts = s.fanouts_;
  check_graph(s.graph_);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, fanouts.size() == s.graph_.relations.size(),
                    "'relation_fanouts' must have one list per relation ({}), got {}", s.graph_.relations.size(),
                    fanouts.size());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, !fanouts.front().empty(), "'relation_fanouts' must name at least one hop");
  for (std::size_t r = 0; r < fanouts.size(); ++r) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, fanouts[r].size() == fanouts.front().size(),
                      "'relation_fanouts[{}]' has {} hops, relation 0 {}: every list needs one entry per hop", r,
                      fanouts[r].size(), fanouts.front().size());
    for (std::size_t h = 0; h < fanouts[r].size(); ++h)
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, fanouts[r][h] >= -1,
                        "'relation_fanouts[{}][{}]' must be -1 (every neighbour), 0 (skip) or positive, got {}", r,
                        h, fanouts[r][h]);
  }
  return s;
}

DeviceMiniBatch DeviceSampler::sample(const Context& ctx, int seed_type, const TensorView& seeds,
                                      std::uint64_t batch) const {
  constexpr const char* fn = "DeviceSampler::sample";
  const Device where = graph_.relations.front().indptr.device();
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn, where == ctx.device(), "the graph is on {}, the context on {}", where,
                    ctx.device());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, seed_type >= 0 && std::size_t(seed_type) < graph_.num_nodes.size(),
                    "'seed_type' must be a node type of the graph (0..{}), got {}", graph_.num_nodes.size() - 1,
                    seed_type);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, seeds.dtype() == DType::kInt64 && seeds.ndim() == 1 && seeds.is_contiguous(),
                    "'seeds' must be a contiguous int64 vector, got {}", seeds.str());
  const std::int64_t n = seeds.numel(), limit = graph_.num_nodes[std::size_t(seed_type)];
  if (ctx.device().is_cuda() && seeds.device() == ctx.device()) {
    // Seeds already beside the graph: checked there (one reduction read back), never copied.
    const kernels::cuda::IndexStats st =
        kernels::cuda::index_stats(static_cast<const std::int64_t*>(seeds.data()), n, ctx.cuda_stream());
    GNNKIT_EXPECTS_AS(OutOfRange, fn, n == 0 || (st.min >= 0 && st.max < limit),
                      "'seeds' span [{}, {}]; each must be in [0, {})", st.min, st.max, limit);
    return sampling_detail::sample_on_cuda(ctx, graph_, fanouts_, seed_type, seeds, batch);
  }
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn, seeds.device().is_cpu(), "'seeds' is {}, but the context is on {}",
                    seeds.str(), ctx.device());
  const auto* host = static_cast<const std::int64_t*>(seeds.data());
  for (std::int64_t i = 0; i < n; ++i)
    GNNKIT_EXPECTS_AS(OutOfRange, fn, host[i] >= 0 && host[i] < limit, "'seeds[{}]' = {} must be in [0, {})", i,
                      host[i], limit);
  if (ctx.device().is_cpu()) return sampling_detail::sample_on_host(ctx, graph_, fanouts_, seed_type, seeds, batch);
  Tensor device_seeds = Tensor::empty({std::max<std::int64_t>(n, 1)}, DType::kInt64, ctx.device());
  if (n > 0) copy(ctx, TensorView(device_seeds.data(), DType::kInt64, ctx.device(), {n}), seeds);
  return sampling_detail::sample_on_cuda(ctx, graph_, fanouts_, seed_type,
                                         TensorView(device_seeds.data(), DType::kInt64, ctx.device(), {n}), batch);
}

MiniBatch DeviceMiniBatch::to_host(const Context& ctx) const {
  auto host_vector = [&](const Tensor& t, auto tag) {
    using T = decltype(tag);
    std::vector<T> v(static_cast<std::size_t>(t.numel()));
    if (t.numel() == 0) return v;
    const std::int64_t shape[1] = {t.numel()};
    copy(t.device().is_cpu() ? Context::cpu() : ctx, TensorView(v.data(), dtype_of<T>, Device::cpu(), shape), t);
    return v;
  };
  MiniBatch mb;
  mb.seed_type = seed_type;
  mb.seed_local = host_vector(seed_local, std::int32_t{});
  for (const Tensor& t : nodes) mb.nodes.push_back(host_vector(t, std::int64_t{}));
  for (const DeviceSampledRelation& d : relations) {
    SampledRelation r;
    r.relation = d.relation;
    r.src_type = d.src_type;
    r.dst_type = d.dst_type;
    r.indptr = host_vector(d.indptr, std::int64_t{});
    r.indices = host_vector(d.indices, std::int32_t{});
    r.edge_ids = host_vector(d.edge_ids, std::int64_t{});
    mb.relations.push_back(std::move(r));
  }
  mb.blocks = blocks;
  mb.edge_id_kind = EdgeIdKind::kCscPosition;
  return mb;
}

}  // namespace gnnkit
