#pragma once
/// @file
/// HeteroConv: one convolution per relation (PyG's HeteroConv), outputs combined per
/// destination node type by sum, mean or max. Node types without incoming relations get no
/// output (an undefined tensor), as in PyG.

#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "gnnkit/nn/adjacency.hpp"
#include "gnnkit/nn/gat_conv.hpp"
#include "gnnkit/nn/layer.hpp"
#include "gnnkit/nn/sage_conv.hpp"

namespace gnnkit::nn {

/// @brief A relation as the layers see it: its id and endpoint node types.
struct RelationSpec {
  int relation = -1;
  int src_type = -1;
  int dst_type = -1;
};

/// @brief Either convolution; HeteroConv and the model runner hold these.
using Conv = std::variant<SageConv, GatConv>;

/// @brief Per node type: the graph's (or block's) inputs of one layer.
struct LayerGraph {
  std::vector<Adjacency> relations;    ///< indexed by relation id (undefined: not present)
  std::vector<std::int64_t> num_dst;   ///< per node type: destination rows of this layer
};

class HeteroConv {
 public:
  struct Cache {
    std::vector<std::variant<SageConv::Cache, GatConv::Cache>> convs;
    std::vector<std::vector<std::int8_t>> winner;  ///< max: per type, index of the winning conv
    std::vector<Tensor> device_winner;             ///< max on a GPU: the same, int8 there
    std::vector<int> count;                        ///< per type: convs writing to it
  };

  /// @param convs one convolution per relation (relation ids index LayerGraph::relations)
  /// @param aggr kSum, kMean or kMax over the relations that reach a node type
  HeteroConv(std::vector<std::pair<RelationSpec, Conv>> convs, Reduce aggr, int num_node_types)
      : convs_(std::move(convs)), aggr_(aggr), num_node_types_(num_node_types) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "HeteroConv", !convs_.empty() && convs_.size() < 128,
                      "needs between 1 and 127 relations, got {}", convs_.size());
  }

  const std::vector<std::pair<RelationSpec, Conv>>& convs() const noexcept { return convs_; }
  std::int64_t out_features() const {
    return std::visit([](const auto& c) { return c.out_features(); }, convs_.front().second);
  }

  /// @brief x: per node type, features of every node the layer reads (rows = the sources);
  /// destinations are each type's first graph.num_dst[t] rows. Returns per node type
  /// [num_dst[t], out] (undefined for types no relation reaches).
  /// @throws ShapeMismatch / InvalidArgument naming the relation's layer
  std::vector<Tensor> forward(const Context& ctx, const LayerGraph& graph,
                              const std::vector<Tensor>& x, const ForwardMode& mode,
                              Cache* cache) const {
    std::vector<Tensor> out(static_cast<std::size_t>(num_node_types_));
    if (cache) {
      cache->convs.clear();
      cache->winner.assign(std::size_t(num_node_types_), {});
      cache->device_winner.assign(std::size_t(num_node_types_), Tensor());
      cache->count.assign(std::size_t(num_node_types_), 0);
    }
    std::vector<int> count(static_cast<std::size_t>(num_node_types_), 0);
    for (std::size_t i = 0; i < convs_.size(); ++i) {
      const RelationSpec& r = convs_[i].first;
      const Adjacency& adj = relation_adjacency(graph, r);
      const Tensor& xs = input(x, r.src_type, r);
      const Tensor xd = slice_rows(input(x, r.dst_type, r), 0, graph.num_dst.at(std::size_t(r.dst_type)));
      Tensor y = std::visit(
          [&](const auto& conv) -> Tensor {
            using C = std::decay_t<decltype(conv)>;
            typename C::Cache* c = nullptr;
            if (cache) c = &std::get<typename C::Cache>(cache->convs.emplace_back(typename C::Cache{}));
            // Each relation its own dropout stream: with one key, edge e of every relation
            // got the same attention mask.
            ForwardMode relation_mode = mode;
            relation_mode.dropout_key = mix64(mode.dropout_key ^ (0x7265ull + i));
            return conv.forward(ctx, adj, xs, xd, relation_mode, c);
          },
          convs_[i].second);
      combine(ctx, out, count, r.dst_type, std::move(y), std::int8_t(i), cache);
    }
    if (aggr_ == Reduce::kMean)
      for (int t = 0; t < num_node_types_; ++t)
        if (count[std::size_t(t)] > 1) scale(ctx, out[std::size_t(t)], 1.0 / count[std::size_t(t)]);
    if (cache) cache->count = count;
    return out;
  }

  /// @brief Backward: accumulates parameter gradients; returns per node type the gradient
  /// of x (same rows as x; undefined for types the layer did not read, and for all when
  /// input_grads is false).
  std::vector<Tensor> backward(const Context& ctx, const LayerGraph& graph, const Cache& cache,
                               const std::vector<Tensor>& x, const std::vector<Tensor>& grad_out,
                               bool input_grads = true) const {
    std::vector<Tensor> gx(static_cast<std::size_t>(num_node_types_));
    auto grad_of = [&](int type) -> Tensor& {
      Tensor& g = gx[std::size_t(type)];
      if (!g.defined()) {
        const Tensor& xt = x[std::size_t(type)];
        g = zeros_matrix(ctx, xt.size(0), xt.size(1), xt.dtype());
      }
      return g;
    };
    // Adds a conv's input gradient (rows [0, g.rows) of x[type]). The first one that covers
    // the whole of x[type] becomes the sum itself: the conv returned a fresh tensor, and
    // taking it saves a zero fill and an addition over the layer's largest matrix.
    auto add_grad = [&](int type, const Tensor& g) {
      Tensor& sum = gx[std::size_t(type)];
      const Tensor& xt = x[std::size_t(type)];
      if (!sum.defined() && g.is_contiguous() && g.dtype() == xt.dtype() &&
          g.size(0) == xt.size(0) && g.size(1) == xt.size(1)) {
        sum = g;
        return;
      }
      add_into(ctx, slice_rows(grad_of(type), 0, g.size(0)), g);
    };
    for (std::size_t i = 0; i < convs_.size(); ++i) {
      const RelationSpec& r = convs_[i].first;
      const Tensor& go = grad_out.at(std::size_t(r.dst_type));
      GNNKIT_EXPECTS_AS(InvalidArgument, "HeteroConv::backward", go.defined(),
                        "'grad_out' for node type {} is missing", r.dst_type);
      Tensor g = go;
      if (aggr_ == Reduce::kMean && cache.count[std::size_t(r.dst_type)] > 1) {
        g = clone_on(ctx, go);
        scale(ctx, g, 1.0 / cache.count[std::size_t(r.dst_type)]);
      } else if (aggr_ == Reduce::kMax && cache.count[std::size_t(r.dst_type)] > 1) {
        g = clone_on(ctx, go);
        if (g.device().is_cuda())
          kernels::cuda::mask_winner(g.data_as<float>(), g.strides()[0], g.size(0), g.size(1),
                                     cache.device_winner[std::size_t(r.dst_type)].data_as<std::int8_t>(),
                                     std::int8_t(i), ctx.cuda_stream());
        else
          mask_winner(g, cache.winner[std::size_t(r.dst_type)], std::int8_t(i));
      }
      const Adjacency& adj = relation_adjacency(graph, r);
      const ConvGrads grads = std::visit(
          [&](const auto& conv) -> ConvGrads {
            using C = std::decay_t<decltype(conv)>;
            const auto& c = std::get<typename C::Cache>(cache.convs[i]);
            if constexpr (std::is_same_v<C, SageConv>)
              return conv.backward(ctx, adj, c, g, input_grads);
            else
              return conv.backward(ctx, c, g, input_grads);
          },
          convs_[i].second);
      if (!input_grads) continue;
      add_grad(r.src_type, grads.x_src);
      if (grads.x_dst.defined()) add_grad(r.dst_type, grads.x_dst);
    }
    return gx;
  }

 private:
  static const Adjacency& relation_adjacency(const LayerGraph& graph, const RelationSpec& r) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "HeteroConv",
                      r.relation >= 0 && r.relation < int(graph.relations.size()) &&
                          graph.relations[std::size_t(r.relation)].defined(),
                      "relation {} has no adjacency in this layer's graph ({} relations given)",
                      r.relation, graph.relations.size());
    return graph.relations[std::size_t(r.relation)];
  }
  static const Tensor& input(const std::vector<Tensor>& x, int type, const RelationSpec& r) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "HeteroConv",
                      type >= 0 && type < int(x.size()) && x[std::size_t(type)].defined(),
                      "relation {} needs features of node type {}, which are missing", r.relation,
                      type);
    return x[std::size_t(type)];
  }
  static void scale(const Context& ctx, const Tensor& t, double s) {
    if (!t.device().is_cpu()) {
      check_device_matrix("HeteroConv", ctx, "out", t, -1, -1);
      kernels::cuda::scale(t.data_as<float>(), t.size(0), t.size(1), t.strides()[0], float(s),
                           ctx.cuda_stream());
      return;
    }
    dispatch_float(t.dtype(), "HeteroConv", [&](auto tag) {
      using T = decltype(tag);
      T* p = t.data_as<T>();
      for (std::int64_t i = 0; i < t.numel(); ++i) p[i] *= T(s);
    });
  }
  static void mask_winner(const Tensor& g, const std::vector<std::int8_t>& winner, std::int8_t i) {
    require_host("HeteroConv (max over relations)", "grad", g);
    dispatch_float(g.dtype(), "HeteroConv", [&](auto tag) {
      using T = decltype(tag);
      T* p = g.data_as<T>();
      for (std::int64_t k = 0; k < g.numel(); ++k)
        if (winner[std::size_t(k)] != i) p[k] = T(0);
    });
  }
  void combine(const Context& ctx, std::vector<Tensor>& out, std::vector<int>& count, int type,
               Tensor y, std::int8_t conv_index, Cache* cache) const {
    Tensor& o = out[std::size_t(type)];
    ++count[std::size_t(type)];
    if (!o.defined()) {
      o = y.is_contiguous() ? y : clone_on(ctx, y);
      if (aggr_ == Reduce::kMax && cache) {
        if (o.device().is_cuda()) {
          Tensor winner = Tensor::empty({o.size(0), o.size(1)}, DType::kInt8, ctx.device());
          fill(ctx, winner, double(conv_index));
          cache->device_winner[std::size_t(type)] = winner;
        } else {
          cache->winner[std::size_t(type)].assign(std::size_t(o.numel()), conv_index);
        }
      }
      return;
    }
    GNNKIT_EXPECTS_AS(ShapeMismatch, "HeteroConv", o.size(0) == y.size(0) && o.size(1) == y.size(1),
                      "outputs for node type {} differ in shape: {} and {}", type, o.str(), y.str());
    if (aggr_ != Reduce::kMax) {
      add_into(ctx, o, y);
      return;
    }
    if (o.device().is_cuda()) {
      check_device_matrix("HeteroConv", ctx, "y", y, o.size(0), o.size(1));
      kernels::cuda::max_combine(o.data_as<float>(), o.strides()[0], y.data_as<float>(), y.strides()[0], o.size(0),
                                 o.size(1),
                                 cache ? cache->device_winner[std::size_t(type)].data_as<std::int8_t>() : nullptr,
                                 conv_index, ctx.cuda_stream());
      return;
    }
    dispatch_float(o.dtype(), "HeteroConv", [&](auto tag) {
      using T = decltype(tag);
      T* a = o.data_as<T>();
      const T* b = y.data_as<T>();
      for (std::int64_t k = 0; k < o.numel(); ++k)
        if (b[k] > a[k]) {
          a[k] = b[k];
          if (cache) cache->winner[std::size_t(type)][std::size_t(k)] = conv_index;
        }
    });
  }

  std::vector<std::pair<RelationSpec, Conv>> convs_;
  Reduce aggr_;
  int num_node_types_;
};

}  // namespace gnnkit::nn
