#pragma once
/// @file
/// HeteroGraph: an immutable heterogeneous graph. Node types with counts, relations
/// (src type, rel, dst type), and per relation a CSC (dst-major, for message passing and for
/// sampling in-neighbours), optional CSR, edge ids (position in the input), optional int64
/// timestamps and float32 weights. Copies are cheap and share the storage, which may be
/// memory-mapped from a graph file. Built in O(E) by HeteroGraph::from_coo; homogeneous
/// graphs are the one-type ("node"), one-relation ("to") case.
/// Model for this comment: dgl graphbolt fused_csc_sampling_graph.h.

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/tensor_view.hpp"
#include "gnnkit/graph/build.hpp"
#include "gnnkit/graph/relation.hpp"
#include "gnnkit/graph/schema.hpp"

namespace gnnkit {

/// @brief COO edges of one relation for HeteroGraph::from_coo. Views are read in place and
/// must stay valid during the call only.
struct RelationInput {
  EdgeType type;
  TensorView src;                         ///< int32 or int64 [E], contiguous, cpu
  TensorView dst;                         ///< same dtype and length as src
  std::optional<TensorView> timestamps;   ///< int64 [E]
  std::optional<TensorView> weights;      ///< float32 [E], finite
};

class HeteroGraph {
 public:
  /// @brief An empty graph (no node types).
  HeteroGraph() : impl_(std::make_shared<Impl>()) {}

  /// @brief Assembles a graph from finished relations (used by the builder and the file
  /// loader). Checks that every array has the length its relation implies.
  /// @throws InvalidArgument naming the relation and array
  HeteroGraph(Schema schema, std::vector<Relation> relations) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "HeteroGraph", int(relations.size()) == schema.num_relations(),
                      "'relations' must have {} entries (one per schema relation), got {}",
                      schema.num_relations(), relations.size());
    for (std::size_t r = 0; r < relations.size(); ++r) check_relation(schema, int(r), relations[r]);
    auto impl = std::make_shared<Impl>();
    impl->schema = std::move(schema);
    impl->relations = std::move(relations);
    impl_ = std::move(impl);
  }

  /// @brief Builds a heterogeneous graph from per-relation COO edges, in O(E) and in parallel
  /// (ctx.num_threads()); the result is identical for any thread count.
  /// @param num_nodes node types and their counts, in schema order
  /// @throws InvalidArgument naming the relation, the array and the first bad index/value
  ///         (ids out of range, length mismatch, wrong dtype, non-finite weight, unknown type)
  static HeteroGraph from_coo(const Context& ctx,
                              const std::vector<std::pair<std::string, std::int64_t>>& num_nodes,
                              const std::vector<RelationInput>& relations,
                              const BuildOptions& options = {});

  /// @brief Homogeneous graph: node type "node", relation "node__to__node".
  static HeteroGraph from_coo(const Context& ctx, std::int64_t num_nodes, const TensorView& src,
                              const TensorView& dst, const BuildOptions& options = {},
                              std::optional<TensorView> timestamps = std::nullopt,
                              std::optional<TensorView> weights = std::nullopt) {
    return from_coo(ctx, {{"node", num_nodes}},
                    {RelationInput{{"node", "to", "node"}, src, dst, timestamps, weights}}, options);
  }

  const Schema& schema() const noexcept { return impl_->schema; }
  int num_relations() const noexcept { return schema().num_relations(); }
  std::int64_t num_nodes(std::string_view type) const { return schema().num_nodes(type); }
  /// @brief Total nodes over all types.
  std::int64_t num_nodes() const {
    std::int64_t n = 0;
    for (int t = 0; t < schema().num_node_types(); ++t) n += schema().num_nodes(t);
    return n;
  }
  /// @brief Total stored edges over all relations.
  std::int64_t num_edges() const noexcept {
    std::int64_t e = 0;
    for (const auto& r : impl_->relations) e += r.num_edges();
    return e;
  }
  const Relation& relation(int id) const {
    GNNKIT_EXPECTS_AS(OutOfRange, "HeteroGraph::relation", id >= 0 && id < num_relations(),
                      "'id' must be in [0, {}), got {}", num_relations(), id);
    return impl_->relations[std::size_t(id)];
  }
  /// @brief By "src__rel__dst" or an unambiguous "rel". @throws InvalidArgument
  const Relation& relation(std::string_view name) const {
    return relation(schema().relation_id(name));
  }
  const Relation& relation(const EdgeType& type) const {
    return relation(schema().relation_id(type));
  }
  /// @brief Bytes held by all relations' arrays.
  std::size_t nbytes() const noexcept {
    std::size_t b = 0;
    for (const auto& r : impl_->relations) b += r.nbytes();
    return b;
  }
  /// @brief "HeteroGraph(nodes={user: 10, card: 4}, edges={user__owns__card: 12})"
  std::string str() const {
    std::string out = "HeteroGraph(nodes={";
    for (int t = 0; t < schema().num_node_types(); ++t)
      out += (t ? ", " : "") + schema().node_type(t) + ": " + std::to_string(schema().num_nodes(t));
    out += "}, edges={";
    for (int r = 0; r < num_relations(); ++r)
      out += (r ? ", " : "") + schema().relation(r).str() + ": " +
             std::to_string(impl_->relations[std::size_t(r)].num_edges());
    return out + "})";
  }

 private:
  struct Impl {
    Schema schema;
    std::vector<Relation> relations;
  };

  static void check_relation(const Schema& schema, int r, const Relation& rel);

  std::shared_ptr<const Impl> impl_;
};

// ---- implementation (header-only) -------------------------------------------------------

inline void HeteroGraph::check_relation(const Schema& schema, int r, const Relation& rel) {
  constexpr const char* fn = "HeteroGraph";
  const EdgeType& type = schema.relation(r);
  const std::string name = type.str();
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel.type == type,
                    "relation {} must be '{}', got '{}'", r, name, rel.type.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    rel.num_src == schema.num_nodes(type.src) &&
                        rel.num_dst == schema.num_nodes(type.dst),
                    "relation '{}': node counts {}x{} do not match the schema ({}x{})", name,
                    rel.num_src, rel.num_dst, schema.num_nodes(type.src),
                    schema.num_nodes(type.dst));
  auto expect = [&](const HostArray& a, const char* array, DType dtype, std::int64_t size) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, a.defined() && a.dtype() == dtype && a.size() == size,
                      "relation '{}': '{}' must be {}[{}], got {}[{}]{}", name, array, dtype, size,
                      a.dtype(), a.size(), a.defined() ? "" : " (missing)");
  };
  expect(rel.csc_indptr, "csc_indptr", DType::kInt64, rel.num_dst + 1);
  const std::int64_t e = rel.csc_indices.size();
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    rel.csc_indices.dtype() == DType::kInt32 || rel.csc_indices.dtype() == DType::kInt64,
                    "relation '{}': 'csc_indices' must be int32 or int64, got {}", name,
                    rel.csc_indices.dtype());
  if (rel.has_edge_ids()) expect(rel.edge_ids, "edge_ids", DType::kInt64, e);
  if (rel.has_timestamps()) expect(rel.timestamps, "timestamps", DType::kInt64, e);
  if (rel.has_weights()) expect(rel.weights, "weights", DType::kFloat32, e);
  if (rel.has_csr()) {
    expect(rel.csr_indptr, "csr_indptr", DType::kInt64, rel.num_src + 1);
    expect(rel.csr_to_csc, "csr_to_csc", DType::kInt64, e);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel.csr_indices.size() == e,
                      "relation '{}': 'csr_indices' must have {} entries, got {}", name, e,
                      rel.csr_indices.size());
  }
  // The ends of indptr are O(1) to check and catch most truncation or mix-ups.
  const auto ptr = rel.csc_indptr.as<std::int64_t>();
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, ptr.front() == 0 && ptr.back() == e,
                    "relation '{}': 'csc_indptr' must run from 0 to {}, got {} .. {}", name, e,
                    ptr.front(), ptr.back());
}

namespace graph_detail {

/// Validates one relation input and returns the index of the first id out of [0, bound), or
/// -1; in parallel, and the reported index is the smallest whatever the thread count.
template <typename T>
std::int64_t first_out_of_range(const Context& ctx, const T* ids, std::int64_t n, std::int64_t bound) {
  std::int64_t first = n;
#pragma omp parallel for num_threads(thread_count(ctx, n)) reduction(min : first) schedule(static)
  for (std::int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || std::int64_t(ids[i]) >= bound) first = std::min(first, i);
  return first == n ? -1 : first;
}

inline void validate_input(const Context& ctx, const Schema& schema, const RelationInput& in) {
  constexpr const char* fn = "HeteroGraph::from_coo";
  const std::string name = in.type.str();
  const std::int64_t num_src = schema.num_nodes(in.type.src);
  const std::int64_t num_dst = schema.num_nodes(in.type.dst);
  for (const auto& [array, view] : {std::pair<const char*, const TensorView*>{"src", &in.src},
                                    std::pair<const char*, const TensorView*>{"dst", &in.dst}}) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                      view->dtype() == DType::kInt32 || view->dtype() == DType::kInt64,
                      "relation '{}': '{}' must be int32 or int64, got {}", name, array, view->dtype());
    GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                      view->device().is_cpu() && view->ndim() == 1 && view->is_contiguous(),
                      "relation '{}': '{}' must be a contiguous 1-d array on cpu, got {}", name,
                      array, view->str());
  }
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, in.src.dtype() == in.dst.dtype(),
                    "relation '{}': 'dst' must have the dtype of 'src' ({}), got {}", name,
                    in.src.dtype(), in.dst.dtype());
  const std::int64_t e = in.src.numel();
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, in.dst.numel() == e,
                    "relation '{}': 'dst' must have the length of 'src' ({}), got {}", name, e,
                    in.dst.numel());
  auto check_ids = [&](const char* array, const TensorView& v, std::int64_t bound) {
    const std::int64_t bad =
        v.dtype() == DType::kInt32
            ? first_out_of_range(ctx, static_cast<const std::int32_t*>(v.data()), e, bound)
            : first_out_of_range(ctx, static_cast<const std::int64_t*>(v.data()), e, bound);
    if (bad < 0) return;
    const std::int64_t value = v.dtype() == DType::kInt32
                                   ? static_cast<const std::int32_t*>(v.data())[bad]
                                   : static_cast<const std::int64_t*>(v.data())[bad];
    throw OutOfRange(fn, detail::format("relation '{}': '{}[{}]' must be in [0, {}), got {}", name,
                                        array, bad, bound, value));
  };
  check_ids("src", in.src, num_src);
  check_ids("dst", in.dst, num_dst);
  if (in.timestamps) {
    const TensorView& t = *in.timestamps;
    GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                      t.dtype() == DType::kInt64 && t.device().is_cpu() && t.ndim() == 1 &&
                          t.is_contiguous() && t.numel() == e,
                      "relation '{}': 'timestamps' must be contiguous int64[{}] on cpu, got {}",
                      name, e, t.str());
  }
  if (in.weights) {
    const TensorView& w = *in.weights;
    GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                      w.dtype() == DType::kFloat32 && w.device().is_cpu() && w.ndim() == 1 &&
                          w.is_contiguous() && w.numel() == e,
                      "relation '{}': 'weights' must be contiguous float32[{}] on cpu, got {}",
                      name, e, w.str());
    const float* wp = static_cast<const float*>(w.data());
    std::int64_t first = e;
#pragma omp parallel for num_threads(thread_count(ctx, e)) reduction(min : first) schedule(static)
    for (std::int64_t i = 0; i < e; ++i)
      if (!std::isfinite(wp[i])) first = std::min(first, i);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, first == e,
                      "relation '{}': 'weights[{}]' must be finite, got {}", name, first,
                      first < e ? wp[first] : 0.f);
  }
}

template <typename InT>
Relation build_any(const Context& ctx, const Schema& schema, const RelationInput& in,
                   const EdgeType& type, bool reverse, const BuildOptions& opt) {
  Coo<InT> coo;
  coo.src = static_cast<const InT*>(in.src.data());
  coo.dst = static_cast<const InT*>(in.dst.data());
  coo.num_edges = in.src.numel();
  coo.timestamps = in.timestamps ? static_cast<const std::int64_t*>(in.timestamps->data()) : nullptr;
  coo.weights = in.weights ? static_cast<const float*>(in.weights->data()) : nullptr;
  const std::int64_t num_src = schema.num_nodes(type.src), num_dst = schema.num_nodes(type.dst);
  const bool narrow = opt.index_width == IndexWidth::kInt32 ||
                      (opt.index_width == IndexWidth::kAuto && num_src < (std::int64_t(1) << 31));
  const bool csr_narrow = opt.index_width == IndexWidth::kInt32 ||
                          (opt.index_width == IndexWidth::kAuto && num_dst < (std::int64_t(1) << 31));
  GNNKIT_EXPECTS_AS(InvalidArgument, "HeteroGraph::from_coo",
                    !narrow || num_src < (std::int64_t(1) << 31),
                    "relation '{}': int32 indices need fewer than 2^31 source nodes, got {}",
                    type.str(), num_src);
  Relation rel = narrow ? build_relation<InT, std::int32_t>(ctx, type, num_src, num_dst, coo, reverse, opt)
                        : build_relation<InT, std::int64_t>(ctx, type, num_src, num_dst, coo, reverse, opt);
  if (opt.build_csr) {
    if (narrow && csr_narrow) add_csr<std::int32_t, std::int32_t>(ctx, rel);
    else if (narrow) add_csr<std::int32_t, std::int64_t>(ctx, rel);
    else if (csr_narrow) add_csr<std::int64_t, std::int32_t>(ctx, rel);
    else add_csr<std::int64_t, std::int64_t>(ctx, rel);
  }
  return rel;
}

}  // namespace graph_detail

inline HeteroGraph HeteroGraph::from_coo(
    const Context& ctx, const std::vector<std::pair<std::string, std::int64_t>>& num_nodes,
    const std::vector<RelationInput>& relations, const BuildOptions& options) {
  constexpr const char* fn = "HeteroGraph::from_coo";
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn, ctx.device().is_cpu(),
                    "'ctx' must be a cpu context (graphs are built on the host), got {}",
                    ctx.device());
  Schema schema;
  for (const auto& [type, count] : num_nodes) schema.add_node_type(type, count);
  for (const auto& in : relations) {
    schema.add_relation(in.type);
    graph_detail::validate_input(ctx, schema, in);
  }
  // Reverse relations after all forward ones, in the same order.
  std::vector<std::pair<const RelationInput*, bool>> plan;
  for (const auto& in : relations) plan.emplace_back(&in, false);
  if (options.add_reverse) {
    for (const auto& in : relations) {
      schema.add_relation(EdgeType{in.type.dst, "rev_" + in.type.rel, in.type.src});
      plan.emplace_back(&in, true);
    }
  }
  std::vector<Relation> built;
  built.reserve(plan.size());
  for (std::size_t r = 0; r < plan.size(); ++r) {
    const auto& [in, reverse] = plan[r];
    const EdgeType& type = schema.relation(int(r));
    built.push_back(in->src.dtype() == DType::kInt32
                        ? graph_detail::build_any<std::int32_t>(ctx, schema, *in, type, reverse, options)
                        : graph_detail::build_any<std::int64_t>(ctx, schema, *in, type, reverse, options));
  }
  return HeteroGraph(std::move(schema), std::move(built));
}

}  // namespace gnnkit
