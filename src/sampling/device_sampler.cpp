// The device sampler's front end and its CPU build (include/gnnkit/sampling/device_sampler.hpp):
// the same algorithm as the CUDA build (cuda/sampler.cu), run by OpenMP loops, so the tests
// of a machine without a GPU exercise it.
#include "gnnkit/sampling/device_sampler.hpp"

#include <cstring>

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

DeviceMiniBatch sample_on_host(const Context& ctx, const DeviceGraph& g, const std::vector<std::int64_t>& fanouts,
                               const Tensor& seeds, std::uint64_t batch) {
  HostExec exec{ctx};
  return sample_impl(exec, g, fanouts, seeds, batch);
}

}  // namespace sampling_detail

DeviceGraph DeviceGraph::upload(const Context& ctx, const HeteroGraph& graph, int r) {
  constexpr const char* fn = "DeviceGraph::upload";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, r >= 0 && r < graph.num_relations(),
                    "'r' must be a relation of the graph (0..{}), got {}", graph.num_relations() - 1, r);
  const Relation& rel = graph.relation(r);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel.num_src == rel.num_dst,
                    "relation {} joins {} sources to {} destinations; the device sampler takes one node type", r,
                    rel.num_src, rel.num_dst);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel.index_dtype() == DType::kInt32,
                    "relation {} has {} source indices; the device sampler takes int32", r, rel.index_dtype());
  DeviceGraph g;
  g.num_nodes = rel.num_dst;
  g.indptr = Tensor::empty({rel.num_dst + 1}, DType::kInt64, ctx.device());
  g.indices = Tensor::empty({std::max<std::int64_t>(rel.num_edges(), 1)}, DType::kInt32, ctx.device());
  copy(ctx, g.indptr, rel.csc_indptr.view());
  if (rel.num_edges() > 0)
    copy(ctx, TensorView(g.indices.data(), DType::kInt32, ctx.device(), {rel.num_edges()}), rel.csc_indices.view());
  return g;
}

DeviceSampler::DeviceSampler(DeviceGraph graph, std::vector<std::int64_t> fanouts)
    : graph_(std::move(graph)), fanouts_(std::move(fanouts)) {
  constexpr const char* fn = "DeviceSampler";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, graph_.indptr.defined() && graph_.indices.defined(),
                    "'graph' must be uploaded (DeviceGraph::upload)");
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, !fanouts_.empty(), "'fanouts' must name at least one hop");
  for (std::size_t h = 0; h < fanouts_.size(); ++h)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, fanouts_[h] == -1 || fanouts_[h] > 0,
                      "'fanouts[{}]' must be positive or -1 (every neighbour), got {}", h, fanouts_[h]);
}

DeviceMiniBatch DeviceSampler::sample(const Context& ctx, const TensorView& seeds, std::uint64_t batch) const {
  constexpr const char* fn = "DeviceSampler::sample";
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn, graph_.indptr.device() == ctx.device(),
                    "the graph is on {}, the context on {}", graph_.indptr.device(), ctx.device());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, seeds.dtype() == DType::kInt64 && seeds.ndim() == 1 && seeds.is_contiguous(),
                    "'seeds' must be a contiguous int64 vector, got {}", seeds.str());
  // Checked on the host (a seed list is small), then placed beside the graph.
  Tensor host = Tensor::empty({seeds.numel()}, DType::kInt64);
  if (seeds.numel() > 0)
    copy(seeds.device().is_cpu() ? Context::cpu() : ctx, host, seeds);
  for (std::int64_t i = 0; i < host.numel(); ++i) {
    const std::int64_t s = host.data_as<std::int64_t>()[i];
    GNNKIT_EXPECTS_AS(OutOfRange, fn, s >= 0 && s < graph_.num_nodes, "'seeds[{}]' = {} must be in [0, {})", i, s,
                      graph_.num_nodes);
  }
  if (ctx.device().is_cpu()) return sampling_detail::sample_on_host(ctx, graph_, fanouts_, host, batch);
  Tensor device_seeds = Tensor::empty({host.numel()}, DType::kInt64, ctx.device());
  if (host.numel() > 0) copy(ctx, device_seeds, host);
  return sampling_detail::sample_on_cuda(ctx, graph_, fanouts_, device_seeds, batch);
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
  mb.seed_type = 0;
  mb.seed_local = host_vector(seed_local, std::int32_t{});
  mb.nodes = {host_vector(nodes, std::int64_t{})};
  SampledRelation r;
  r.relation = 0;
  r.src_type = r.dst_type = 0;
  r.indptr = host_vector(indptr, std::int64_t{});
  r.indices = host_vector(indices, std::int32_t{});
  r.edge_ids = host_vector(edge_ids, std::int64_t{});
  mb.relations = {std::move(r)};
  mb.blocks = blocks;
  mb.edge_id_kind = EdgeIdKind::kCscPosition;
  return mb;
}

}  // namespace gnnkit
