#pragma once
/// @file
/// SageConv: GraphSAGE convolution with PyG's SAGEConv formula
///   out = W_neigh · aggr_{u -> v} x_src[u] + b  (+ W_root · x_dst[v])  (then optionally L2
///   normalised per row),
/// aggr = mean | sum | max. For mean and sum the layer picks the cheaper order: aggregate
/// then transform, or transform then aggregate (the product commutes with the sum), from the
/// edge and node counts of the adjacency at hand.

#include <cstdint>
#include <string>
#include <vector>

#include "gnnkit/nn/adjacency.hpp"
#include "gnnkit/nn/aggregate.hpp"
#include "gnnkit/nn/functional.hpp"
#include "gnnkit/nn/layer.hpp"
#include "gnnkit/nn/parameter.hpp"

namespace gnnkit::nn {

/// @brief Options of SageConv (PyG's SAGEConv arguments).
struct SageConvOptions {
  std::int64_t in_src = 0;   ///< source feature width
  std::int64_t in_dst = 0;   ///< destination feature width (0: same as in_src)
  std::int64_t out = 0;      ///< output width
  Reduce aggr = Reduce::kMean;
  bool root_weight = true;   ///< add W_root · x_dst
  bool normalize = false;    ///< L2-normalise output rows
  bool bias = true;
};

class SageConv {
 public:
  struct Cache {
    Tensor x_src, x_dst, aggregated, out;
    bool transform_first = false;
    AggregateCache agg;
    Tensor norms;  ///< normalize: float64 row norms
  };

  /// @brief Registers "<name>.lin_neigh.weight" [in_src, out], "<name>.lin_neigh.bias"
  /// [out] and "<name>.lin_root.weight" [in_dst, out] (Glorot-initialised from seed).
  /// @throws InvalidArgument for non-positive widths
  SageConv(ParameterList& params, const std::string& name, SageConvOptions options,
           std::uint64_t seed, DType dtype = DType::kFloat32)
      : options_(options), name_(name) {
    if (options_.in_dst == 0) options_.in_dst = options_.in_src;
    GNNKIT_EXPECTS_AS(InvalidArgument, "SageConv", options_.in_src > 0 && options_.out > 0,
                      "layer '{}': widths must be positive, got in {} out {}", name,
                      options_.in_src, options_.out);
    w_neigh_ = params.add(name + ".lin_neigh.weight", {options_.in_src, options_.out},
                          Init::kGlorotUniform, seed, dtype);
    if (options_.bias)
      b_ = params.add(name + ".lin_neigh.bias", {options_.out}, Init::kZeros, seed, dtype);
    if (options_.root_weight)
      w_root_ = params.add(name + ".lin_root.weight", {options_.in_dst, options_.out},
                           Init::kGlorotUniform, seed, dtype);
  }

  const SageConvOptions& options() const noexcept { return options_; }
  const std::string& name() const noexcept { return name_; }
  std::int64_t out_features() const noexcept { return options_.out; }

  /// @brief Forward over adj: x_src [adj.num_src(), in_src], x_dst [adj.num_dst(), in_dst]
  /// (usually a row prefix of x_src). Returns [adj.num_dst(), out].
  /// @throws ShapeMismatch naming the layer and the shapes when widths or rows do not fit
  Tensor forward(const Context& ctx, const Adjacency& adj, const Tensor& x_src,
                 const Tensor& x_dst, const ForwardMode& mode, Cache* cache) const {
    const std::string where = "SageConv '" + name_ + "'";
    const DType dtype = w_neigh_->value.dtype();
    for (const Parameter* p : {w_neigh_.get(), b_.get(), w_root_.get()})
      check_parameter_device(where.c_str(), ctx, p);
    check_matrix(where.c_str(), "x_src", x_src, adj.num_src(), options_.in_src, dtype, ctx.device());
    if (options_.root_weight)
      check_matrix(where.c_str(), "x_dst", x_dst, adj.num_dst(), options_.in_dst, dtype, ctx.device());
    if (mode.check_finite) {
      check_finite(ctx, where.c_str(), "x_src", x_src);
      if (options_.root_weight) check_finite(ctx, where.c_str(), "x_dst", x_dst);
    }
    const Parameter* bias = b_.get();
    Tensor out;
    bool transform_first = false;
    Tensor aggregated;
    AggregateCache agg;
    if (options_.aggr != Reduce::kMax) {
      const double in = double(options_.in_src), o = double(options_.out);
      const double e = double(adj.num_edges());
      const double aggregate_first = e * in + double(adj.num_dst()) * in * o;
      const double project_first = double(adj.num_src()) * in * o + e * o;
      transform_first = project_first < aggregate_first;
    }
    if (transform_first) {
      Tensor h = linear_forward(ctx, x_src, *w_neigh_, nullptr);
      out = aggregate_forward(ctx, adj, h, options_.aggr, &agg);
      if (bias) add_bias_rows(ctx, out, *bias);
    } else {
      aggregated = aggregate_forward(ctx, adj, x_src, options_.aggr, &agg);
      out = linear_forward(ctx, aggregated, *w_neigh_, bias);
    }
    if (options_.root_weight) matmul_accumulate(ctx, x_dst, w_root_->value, out);
    Tensor norms;
    if (options_.normalize) norms = normalize_rows_forward(ctx, out);
    if (cache) {
      cache->x_src = x_src;
      cache->x_dst = x_dst;
      cache->aggregated = aggregated;
      cache->transform_first = transform_first;
      cache->agg = std::move(agg);
      // The caller may apply an activation in place: keep normalize's output apart.
      if (options_.normalize) cache->out = clone_on(ctx, out);
      cache->norms = std::move(norms);
    }
    return out;
  }

  /// @brief Backward: accumulates the parameter gradients and returns the gradients of
  /// x_src and x_dst (x_dst undefined without root weight; both undefined when
  /// input_grads is false, which saves the work for a model's input layer).
  /// @throws ShapeMismatch if grad_out is not [num_dst, out]
  ConvGrads backward(const Context& ctx, const Adjacency& adj, const Cache& cache,
                     const Tensor& grad_out, bool input_grads = true) const {
    const std::string where = "SageConv '" + name_ + "' backward";
    check_matrix(where.c_str(), "grad_out", grad_out, adj.num_dst(), options_.out,
                 w_neigh_->value.dtype(), ctx.device());
    Tensor g = grad_out;
    if (options_.normalize) {
      g = clone_on(ctx, grad_out);
      normalize_rows_backward(ctx, cache.out, cache.norms, g);
    }
    ConvGrads grads;
    if (options_.root_weight)
      grads.x_dst = linear_backward(ctx, cache.x_dst, *w_root_, nullptr, g, input_grads);
    if (cache.transform_first) {
      if (b_) bias_backward(ctx, g, *b_);
      Tensor gh = aggregate_backward(ctx, adj, cache.agg, g);
      grads.x_src = linear_backward(ctx, cache.x_src, *w_neigh_, nullptr, gh, input_grads);
    } else {
      Tensor ga = linear_backward(ctx, cache.aggregated, *w_neigh_, b_.get(), g, input_grads);
      if (input_grads) grads.x_src = aggregate_backward(ctx, adj, cache.agg, ga);
    }
    return grads;
  }

 private:
  SageConvOptions options_;
  std::string name_;
  ParameterPtr w_neigh_, b_, w_root_;
};

}  // namespace gnnkit::nn
