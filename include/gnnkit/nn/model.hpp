#pragma once
/// @file
/// GnnModel: the model runner. A stack of HeteroConv layers (SageConv or GatConv per
/// relation; a homogeneous graph is the one-relation case) with activation and dropout in
/// between, run over a MiniBatch (inner hops first: layer 0 reads the outermost hop) or over
/// a whole graph (layer-wise full-graph inference: every layer computes every node once).
///
///   GnnModel model(spec, options, seed);
///   auto layers = layer_graphs(mini_batch, model.num_layers(), threads);
///   GnnModel::Cache cache;
///   Tensor logits = model.forward(ctx, layers, features, {true, step}, &cache);
///   ... loss and its gradient ...
///   model.backward(ctx, layers, cache, grad_logits);  optimizer.step();

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gnnkit/graph/hetero_graph.hpp"
#include "gnnkit/nn/hetero_conv.hpp"
#include "gnnkit/nn/linear.hpp"
#include "gnnkit/sampling/device_sampler.hpp"
#include "gnnkit/sampling/mini_batch.hpp"

namespace gnnkit::nn {

enum class ConvKind { kSage, kGat };

/// @brief Architecture of a GnnModel.
struct GnnModelOptions {
  ConvKind conv = ConvKind::kSage;
  int num_layers = 2;
  std::int64_t hidden = 64;      ///< width between layers (GAT: heads x hidden/heads)
  std::int64_t out = 2;          ///< output width (classes, or 1 for a binary score)
  int heads = 1;                 ///< GAT heads of hidden layers (concatenated)
  int out_heads = 1;             ///< GAT heads of the last layer (averaged)
  Reduce aggr = Reduce::kMean;   ///< SAGE neighbour aggregation
  Reduce hetero_aggr = Reduce::kSum;  ///< combination over relations
  Activation activation = Activation::kReLU;
  double dropout = 0.5;          ///< on hidden features, after the activation
  double input_dropout = 0.0;    ///< on the input features of every layer (PyG's GAT example)
  double attention_dropout = 0.0;
  bool normalize = false;        ///< SAGE: L2-normalise hidden layers' outputs
  bool root_weight = true;       ///< SAGE: W_root x_dst term
  /// Per-node-type Linear(in_features[t], hidden) before the first layer ("input.<type>"):
  /// node types with different feature widths (transactions vs. accounts) meet in one space.
  bool input_projection = false;
};

/// @brief The graph side of a model: node types' input widths, relations and the node type
/// whose nodes the model scores.
struct ModelSpec {
  std::vector<std::int64_t> in_features;  ///< per node type (> 0)
  std::vector<RelationSpec> relations;
  int target_type = 0;

  /// @brief Every relation of the graph's schema, with the given input widths.
  static ModelSpec from_graph(const HeteroGraph& graph, std::vector<std::int64_t> in_features,
                              int target_type) {
    ModelSpec s;
    s.in_features = std::move(in_features);
    s.target_type = target_type;
    const Schema& schema = graph.schema();
    for (int r = 0; r < schema.num_relations(); ++r) {
      const EdgeType& t = schema.relation(r);
      s.relations.push_back({r, schema.node_type_id(t.src), schema.node_type_id(t.dst)});
    }
    return s;
  }
  /// @brief A homogeneous graph: one node type, one relation.
  static ModelSpec homogeneous(std::int64_t in_features) {
    return ModelSpec{{in_features}, {{0, 0, 0}}, 0};
  }
};

namespace model_detail {
/// The loop of both layer_graphs: layer l reads block K-1-l; per relation r of the batch,
/// make(r, n_dst, n_src, hops) gives its adjacency over the first n_dst destinations and
/// n_src sources, the rows of the first `hops` hops.
template <typename Batch, typename Make>
std::vector<LayerGraph> per_layer(const Batch& mb, int num_layers, Make&& make) {
  GNNKIT_EXPECTS(int(mb.blocks.size()) >= num_layers,
                 "the mini-batch has {} hops, the model {} layers: sample one hop per layer",
                 mb.blocks.size(), num_layers);
  std::vector<LayerGraph> layers(static_cast<std::size_t>(num_layers));
  for (int l = 0; l < num_layers; ++l) {
    const Block& block = mb.blocks[std::size_t(num_layers - 1 - l)];
    LayerGraph& lg = layers[std::size_t(l)];
    lg.num_dst = block.dst_end;
    for (const auto& r : mb.relations)
      lg.relations.push_back(make(r, block.dst_end[std::size_t(r.dst_type)], block.num_src[std::size_t(r.src_type)],
                                  num_layers - l));
  }
  return layers;
}
}  // namespace model_detail

/// @brief The per-layer graphs of a MiniBatch: layer l (0 = input layer) covers the rows of
/// hops 1..K-l, i.e. destinations [0, blocks[K-1-l].dst_end) and sources
/// [0, blocks[K-1-l].num_src) of every relation's CSC (zero-copy views into the batch).
/// @param build_transpose false for inference (no backward)
/// @throws InvalidArgument if the batch has fewer hops than num_layers
inline std::vector<LayerGraph> layer_graphs(const MiniBatch& mb, int num_layers, int threads,
                                            bool build_transpose = true) {
  return model_detail::per_layer(mb, num_layers, [&](const SampledRelation& r, std::int64_t n_dst,
                                                     std::int64_t n_src, int) {
    if (std::int64_t(r.indptr.size()) - 1 < n_dst) {
      // A relation whose destinations were never expanded has no rows: an empty CSC of the
      // right size stands in.
      GNNKIT_EXPECTS(r.indices.empty(), "relation {} has rows for {} destinations, the layer needs {}",
                     r.relation, r.indptr.size() - 1, n_dst);
      return Adjacency::from_csc<std::int32_t>(n_dst, n_src, std::vector<std::int64_t>(std::size_t(n_dst + 1), 0),
                                               {}, threads, build_transpose);
    }
    const CompressedView<std::int32_t> csc{n_dst, n_src, r.indptr.data(), r.indices.data(), r.edge_ids.data()};
    return Adjacency::view(csc, threads, build_transpose);
  });
}

/// @brief layer_graphs of a batch from DeviceSampler, read where it lies: a CUDA batch gives
/// device adjacencies (Adjacency::on_device) over prefixes of each relation's CSC, so a GPU
/// training step never copies the batch to the host; a batch of the CPU build gives host
/// views that keep the batch's arrays alive (build_transpose applies to those).
/// @throws InvalidArgument if the batch has fewer hops than num_layers
inline std::vector<LayerGraph> layer_graphs(const DeviceMiniBatch& mb, int num_layers, int threads,
                                            bool build_transpose = true) {
  return model_detail::per_layer(mb, num_layers, [&](const DeviceSampledRelation& r, std::int64_t n_dst,
                                                     std::int64_t n_src, int hops) {
    if (!r.indptr.device().is_cpu()) {
      // The rows of the first `hops` hops come first, and so do their edges.
      std::int64_t edges = 0;
      for (int h = 0; h < hops; ++h) edges += r.hop_edges.at(std::size_t(h));
      return Adjacency::on_device(n_dst, n_src, edges, r.indptr, r.indices);
    }
    const CompressedView<std::int32_t> csc{n_dst, n_src, r.indptr.data_as<std::int64_t>(),
                                           r.indices.data_as<std::int32_t>(), r.edge_ids.data_as<std::int64_t>()};
    // The batch's tensors stay alive with the views (the batch may go out of scope first).
    return Adjacency::view(csc, threads, build_transpose, {r.indptr, r.indices, r.edge_ids});
  });
}

/// @brief The whole graph as the input of every layer (full-graph training and layer-wise
/// inference): each relation's CSC, shared by all layers.
inline std::vector<LayerGraph> full_graph_layers(const HeteroGraph& graph, int num_layers,
                                                 int threads, bool build_transpose = true) {
  LayerGraph lg;
  const Schema& schema = graph.schema();
  for (int t = 0; t < schema.num_node_types(); ++t) lg.num_dst.push_back(schema.num_nodes(t));
  for (int r = 0; r < graph.num_relations(); ++r) {
    const Relation& rel = graph.relation(r);
    if (rel.index_dtype() == DType::kInt32)
      lg.relations.push_back(Adjacency::view(rel.csc<std::int32_t>(), threads, build_transpose));
    else
      lg.relations.push_back(Adjacency::view(rel.csc<std::int64_t>(), threads, build_transpose));
  }
  return std::vector<LayerGraph>(std::size_t(num_layers), lg);
}

class GnnModel {
 public:
  struct Cache {
    std::vector<Linear::Cache> projections;      ///< input_projection: per node type
    std::vector<HeteroConv::Cache> layers;
    std::vector<std::vector<Tensor>> inputs;     ///< per layer: x per type (after input dropout)
    std::vector<std::vector<Tensor>> activated;  ///< per hidden layer: outputs after activation and dropout
    ForwardMode mode;
  };

  /// @brief Builds the layers and registers their parameters ("conv<l>.<relation>...").
  /// @throws InvalidArgument for an inconsistent spec (widths, types, a node type that is a
  /// source in later layers but receives no relation)
  GnnModel(ModelSpec spec, GnnModelOptions options, std::uint64_t seed,
           DType dtype = DType::kFloat32)
      : spec_(std::move(spec)), options_(options) {
    const int types = int(spec_.in_features.size());
    GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel", options_.num_layers >= 1,
                      "'num_layers' must be at least 1, got {}", options_.num_layers);
    GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel", !spec_.relations.empty(),
                      "the model needs at least one relation");
    for (const auto& [name, p] : {std::pair<const char*, double>{"dropout", options_.dropout},
                                  {"input_dropout", options_.input_dropout},
                                  {"attention_dropout", options_.attention_dropout}})
      GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel", p >= 0 && p < 1,
                        "'{}' must be in [0, 1), got {}", name, p);
    GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel",
                      spec_.target_type >= 0 && spec_.target_type < types,
                      "'target_type' must be in [0, {}), got {}", types, spec_.target_type);
    if (options_.conv == ConvKind::kGat)
      GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel",
                        options_.heads > 0 && options_.hidden % options_.heads == 0,
                        "GAT 'hidden' {} must be a multiple of 'heads' {}", options_.hidden,
                        options_.heads);
    std::vector<bool> receives(static_cast<std::size_t>(types), false);
    for (const RelationSpec& r : spec_.relations) {
      GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel",
                        r.src_type >= 0 && r.src_type < types && r.dst_type >= 0 && r.dst_type < types,
                        "relation {} has node types ({}, {}) outside [0, {})", r.relation,
                        r.src_type, r.dst_type, types);
      GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel",
                        spec_.in_features[std::size_t(r.src_type)] > 0 &&
                            spec_.in_features[std::size_t(r.dst_type)] > 0,
                        "relation {}: node types need input features (widths {} and {})",
                        r.relation, spec_.in_features[std::size_t(r.src_type)],
                        spec_.in_features[std::size_t(r.dst_type)]);
      receives[std::size_t(r.dst_type)] = true;
    }
    if (options_.num_layers > 1)
      for (const RelationSpec& r : spec_.relations)
        GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel", receives[std::size_t(r.src_type)],
                          "node type {} is a source of relation {} but receives no relation, so "
                          "layers after the first have no features for it: add reverse relations",
                          r.src_type, r.relation);
    std::vector<std::int64_t> first_widths = spec_.in_features;
    if (options_.input_projection)
      for (int t = 0; t < types; ++t) {
        if (spec_.in_features[std::size_t(t)] <= 0) {
          projections_.emplace_back(std::nullopt);
          continue;
        }
        projections_.emplace_back(std::in_place, params_, "input.t" + std::to_string(t),
                                  spec_.in_features[std::size_t(t)], options_.hidden, true, seed,
                                  dtype);
        first_widths[std::size_t(t)] = options_.hidden;
      }
    for (int l = 0; l < options_.num_layers; ++l) {
      const bool last = l + 1 == options_.num_layers;
      std::vector<std::pair<RelationSpec, Conv>> convs;
      for (const RelationSpec& r : spec_.relations) {
        const std::int64_t in_src = l == 0 ? first_widths[std::size_t(r.src_type)] : options_.hidden;
        const std::int64_t in_dst = l == 0 ? first_widths[std::size_t(r.dst_type)] : options_.hidden;
        const std::string name = "conv" + std::to_string(l) + ".r" + std::to_string(r.relation);
        const std::int64_t width = last ? options_.out : options_.hidden;
        if (options_.conv == ConvKind::kSage) {
          SageConvOptions o{in_src, in_dst, width, options_.aggr, options_.root_weight,
                            options_.normalize && !last, true};
          convs.emplace_back(r, Conv(std::in_place_type<SageConv>, params_, name, o, seed, dtype));
        } else {
          const int heads = last ? options_.out_heads : options_.heads;
          GatConvOptions o{in_src, in_dst, last ? width : width / heads, heads, !last, 0.2,
                           options_.attention_dropout, r.src_type == r.dst_type, true};
          convs.emplace_back(r, Conv(std::in_place_type<GatConv>, params_, name, o, seed, dtype));
        }
      }
      layers_.emplace_back(std::move(convs), options_.hetero_aggr, types);
    }
  }

  int num_layers() const noexcept { return options_.num_layers; }
  const GnnModelOptions& options() const noexcept { return options_; }
  const ModelSpec& spec() const noexcept { return spec_; }
  ParameterList& parameters() noexcept { return params_; }
  const ParameterList& parameters() const noexcept { return params_; }

  /// @brief Runs every layer. x: per node type, features of all nodes of layer 0's sources
  /// (a MiniBatch's nodes, or the whole graph's). Returns [layers.back().num_dst[target], out].
  /// @throws InvalidArgument / ShapeMismatch naming the layer and the shapes
  Tensor forward(const Context& ctx, const std::vector<LayerGraph>& graphs,
                 const std::vector<Tensor>& x, const ForwardMode& mode, Cache* cache) const {
    std::vector<Tensor> h = forward_types(ctx, graphs, x, mode, cache);
    const Tensor& out = h[std::size_t(spec_.target_type)];
    GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel::forward", out.defined(),
                      "no relation reaches the target node type {}", spec_.target_type);
    return out;
  }

  /// @brief forward for every node type at once (two-tower models score users against
  /// items): entry t is [layers.back().num_dst[t], out], undefined for a type that no
  /// relation of the last layer reaches.
  std::vector<Tensor> forward_types(const Context& ctx, const std::vector<LayerGraph>& graphs,
                                    const std::vector<Tensor>& x, const ForwardMode& mode,
                                    Cache* cache) const {
    GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel::forward", int(graphs.size()) == num_layers(),
                      "needs one LayerGraph per layer ({}), got {}", num_layers(), graphs.size());
    GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel::forward", x.size() == spec_.in_features.size(),
                      "needs features for {} node types, got {}", spec_.in_features.size(),
                      x.size());
    // A graph of another schema (other node types or relations) is an error, not numbers.
    for (int l = 0; l < num_layers(); ++l) {
      const LayerGraph& lg = graphs[std::size_t(l)];
      GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel::forward", lg.num_dst.size() == spec_.in_features.size(),
                        "layer {}'s graph has {} node types, the model was built for {}", l,
                        lg.num_dst.size(), spec_.in_features.size());
      for (const RelationSpec& r : spec_.relations)
        GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel::forward",
                          r.relation < int(lg.relations.size()) && lg.relations[std::size_t(r.relation)].defined(),
                          "layer {}'s graph has no relation {} (it has {}): the model was built for "
                          "another schema", l, r.relation, lg.relations.size());
    }
    for (const RelationSpec& r : spec_.relations) {
      const Tensor& xs = x[std::size_t(r.src_type)];
      const std::int64_t rows = graphs.front().relations[std::size_t(r.relation)].num_src();
      GNNKIT_EXPECTS_AS(ShapeMismatch, "GnnModel::forward", xs.defined() && xs.ndim() == 2 && xs.size(0) == rows,
                        "x[{}] (node type {}) must have {} rows, one per node of that type in the "
                        "graph or batch, got {}", r.src_type, r.src_type, rows, xs.str());
    }
    if (cache) {
      cache->projections.assign(projections_.size(), {});
      cache->layers.assign(std::size_t(num_layers()), {});
      cache->inputs.assign(std::size_t(num_layers()), {});
      cache->activated.assign(std::size_t(num_layers()), {});
      cache->mode = mode;
    }
    std::vector<Tensor> h = x;
    for (std::size_t t = 0; t < projections_.size(); ++t)
      if (projections_[t] && h[t].defined())
        h[t] = projections_[t]->forward(ctx, h[t], mode, cache ? &cache->projections[t] : nullptr);
    for (int l = 0; l < num_layers(); ++l) {
      ForwardMode layer_mode = mode;
      layer_mode.dropout_key = mix64(mode.dropout_key ^ mix64(std::uint64_t(l) + 1));
      if (mode.training && options_.input_dropout > 0)
        for (std::size_t t = 0; t < h.size(); ++t)
          if (h[t].defined()) {
            h[t] = clone_on(ctx, h[t]);
            dropout_forward(ctx, h[t], options_.input_dropout, layer_mode.dropout_key + 7 + t);
          }
      if (cache) cache->inputs[std::size_t(l)] = h;
      std::vector<Tensor> y = layers_[std::size_t(l)].forward(
          ctx, graphs[std::size_t(l)], h, layer_mode,
          cache ? &cache->layers[std::size_t(l)] : nullptr);
      if (l + 1 < num_layers()) {
        for (std::size_t t = 0; t < y.size(); ++t) {
          if (!y[t].defined()) continue;
          activation_dropout_forward(ctx, options_.activation, y[t],
                                     mode.training ? options_.dropout : 0.0,
                                     layer_mode.dropout_key + 101 + t);
          // The backward recovers act' and the dropout mask from this output alone.
          if (cache) cache->activated[std::size_t(l)].push_back(y[t]);
        }
      }
      h = std::move(y);
    }
    return h;
  }

  /// @brief Backward of the last forward (its cache): accumulates every parameter's gradient
  /// and returns the gradient of the input features per node type (all undefined when
  /// input_grads is false: the input layer then skips that work, often its largest product).
  std::vector<Tensor> backward(const Context& ctx, const std::vector<LayerGraph>& graphs,
                               const Cache& cache, const Tensor& grad_out,
                               bool input_grads = true) const {
    std::vector<Tensor> g(spec_.in_features.size());
    g[std::size_t(spec_.target_type)] = grad_out;
    return backward_types(ctx, graphs, cache, std::move(g), input_grads);
  }

  /// @brief backward of forward_types: grad_outs[t] is the gradient of output t (undefined:
  /// zero). The tensors are updated in place.
  std::vector<Tensor> backward_types(const Context& ctx, const std::vector<LayerGraph>& graphs,
                                     const Cache& cache, std::vector<Tensor> g,
                                     bool input_grads = true) const {
    GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel::backward",
                      int(cache.layers.size()) == num_layers(),
                      "the cache holds no forward pass (pass a cache to forward first)");
    GNNKIT_EXPECTS_AS(InvalidArgument, "GnnModel::backward", g.size() == spec_.in_features.size(),
                      "needs one output gradient per node type ({}), got {}",
                      spec_.in_features.size(), g.size());
    for (int l = num_layers() - 1; l >= 0; --l) {
      const std::uint64_t key = mix64(cache.mode.dropout_key ^ mix64(std::uint64_t(l) + 1));
      if (l + 1 < num_layers()) {
        std::size_t k = 0;
        for (std::size_t t = 0; t < g.size(); ++t) {
          // activated[l] holds the defined outputs of layer l in type order.
          if (!layer_output_defined(l, int(t))) continue;
          const Tensor& y = cache.activated[std::size_t(l)][k++];
          if (!g[t].defined()) {
            g[t] = zeros_matrix(ctx, y.size(0), y.size(1), y.dtype());
            continue;
          }
          // g[t] came from the layer above's backward: a fresh tensor, updated in place.
          activation_dropout_backward(ctx, options_.activation, y, g[t],
                                      cache.mode.training ? options_.dropout : 0.0);
        }
      }
      // Node types this layer produces but nothing downstream read get a zero gradient.
      for (std::size_t t = 0; t < g.size(); ++t)
        if (!g[t].defined() && layer_output_defined(l, int(t)))
          g[t] = zeros_matrix(ctx, graphs[std::size_t(l)].num_dst[t],
                              layers_[std::size_t(l)].out_features(),
                              params_[0]->value.dtype());
      std::vector<Tensor> gx = layers_[std::size_t(l)].backward(
          ctx, graphs[std::size_t(l)], cache.layers[std::size_t(l)],
          cache.inputs[std::size_t(l)], g, l > 0 || input_grads || !projections_.empty());
      if (cache.mode.training && options_.input_dropout > 0)
        for (std::size_t t = 0; t < gx.size(); ++t)
          if (gx[t].defined()) dropout_backward(ctx, gx[t], options_.input_dropout, key + 7 + t);
      g = std::move(gx);
    }
    if (!projections_.empty()) {
      std::vector<Tensor> gx(g.size());
      for (std::size_t t = 0; t < projections_.size(); ++t) {
        if (!projections_[t] || cache.projections[t].x.data() == nullptr) continue;
        if (!g[t].defined()) continue;  // the type fed no relation
        Tensor gi = projections_[t]->backward(ctx, cache.projections[t], g[t]);
        if (input_grads) gx[t] = gi;
      }
      g = std::move(gx);
    }
    return g;
  }

 private:
  bool layer_output_defined(int l, int type) const {
    for (const auto& [r, conv] : layers_[std::size_t(l)].convs())
      if (r.dst_type == type) return true;
    return false;
  }

  ModelSpec spec_;
  GnnModelOptions options_;
  ParameterList params_;
  std::vector<std::optional<Linear>> projections_;  ///< input_projection: per node type
  std::vector<HeteroConv> layers_;
};

}  // namespace gnnkit::nn
