#pragma once
/// @file
/// GatConv: graph attention (Velickovic et al., ICLR 2018) with PyG's GATConv semantics:
///   h = x·W, a_src[u] = <h[u], att_src>, a_dst[v] = <h[v], att_dst> (per head),
///   alpha[u -> v] = softmax_v(leaky_relu(a_src[u] + a_dst[v])), dropout on alpha,
///   out[v] = sum_u alpha[u -> v] h[u], heads concatenated or averaged, plus bias.
/// Attention lives per edge and head only (E x H scalars); messages are never materialised
/// per edge: aggregation is a weighted SpMM and the gradient of alpha an SDDMM.

#include <cstdint>
#include <string>
#include <vector>

#include "gnnkit/nn/adjacency.hpp"
#include "gnnkit/nn/aggregate.hpp"
#include "gnnkit/nn/functional.hpp"
#include "gnnkit/nn/layer.hpp"
#include "gnnkit/nn/parameter.hpp"

namespace gnnkit::nn {

/// @brief Options of GatConv (PyG's GATConv arguments).
struct GatConvOptions {
  std::int64_t in_src = 0;   ///< source feature width
  std::int64_t in_dst = 0;   ///< destination width; 0 or equal to in_src shares one W
  std::int64_t out = 0;      ///< width per head
  int heads = 1;
  bool concat = true;        ///< concatenate heads (out * heads) or average them (out)
  double negative_slope = 0.2;
  double dropout = 0.0;      ///< dropout on attention coefficients (training only)
  bool add_self_loops = true;
  bool bias = true;
};

class GatConv {
 public:
  struct Cache {
    Adjacency adj;  ///< the adjacency attention ran over (with self loops when added)
    Tensor x_src, x_dst, h_src, h_dst, scores, alpha;
    bool shared_dst = false;  ///< h_dst is a row prefix of h_src
    bool dropout_applied = false;
    std::uint64_t dropout_key = 0;
  };

  /// @brief Registers "<name>.lin.weight" [in, heads*out] (or lin_src/lin_dst when the
  /// widths differ), "<name>.att_src" and "<name>.att_dst" [heads, out], "<name>.bias".
  GatConv(ParameterList& params, const std::string& name, GatConvOptions options,
          std::uint64_t seed, DType dtype = DType::kFloat32)
      : options_(options), name_(name) {
    if (options_.in_dst == 0) options_.in_dst = options_.in_src;
    GNNKIT_EXPECTS_AS(InvalidArgument, "GatConv",
                      options_.in_src > 0 && options_.out > 0 && options_.heads > 0,
                      "layer '{}': widths and heads must be positive, got in {} out {} heads {}",
                      name, options_.in_src, options_.out, options_.heads);
    GNNKIT_EXPECTS_AS(InvalidArgument, "GatConv", options_.heads <= kernels::cpu::kMaxHeads,
                      "layer '{}': at most {} heads, got {}", name, kernels::cpu::kMaxHeads, options_.heads);
    GNNKIT_EXPECTS_AS(InvalidArgument, "GatConv", options_.dropout >= 0 && options_.dropout < 1,
                      "layer '{}': 'dropout' must be in [0, 1), got {}", name, options_.dropout);
    const std::int64_t hc = std::int64_t(options_.heads) * options_.out;
    if (options_.in_dst == options_.in_src) {
      w_src_ = params.add(name + ".lin.weight", {options_.in_src, hc}, Init::kGlorotUniform, seed,
                          dtype);
      w_dst_ = w_src_;
    } else {
      w_src_ = params.add(name + ".lin_src.weight", {options_.in_src, hc}, Init::kGlorotUniform,
                          seed, dtype);
      w_dst_ = params.add(name + ".lin_dst.weight", {options_.in_dst, hc}, Init::kGlorotUniform,
                          seed, dtype);
    }
    att_src_ = params.add(name + ".att_src", {options_.heads, options_.out},
                          Init::kGlorotUniform, seed, dtype);
    att_dst_ = params.add(name + ".att_dst", {options_.heads, options_.out},
                          Init::kGlorotUniform, seed, dtype);
    if (options_.bias)
      b_ = params.add(name + ".bias", {options_.concat ? hc : options_.out}, Init::kZeros, seed,
                      dtype);
  }

  const GatConvOptions& options() const noexcept { return options_; }
  const std::string& name() const noexcept { return name_; }
  std::int64_t out_features() const noexcept {
    return options_.concat ? options_.out * options_.heads : options_.out;
  }

  /// @brief Forward over adj (self loops added here unless adj already has them: build them
  /// once with adj.with_self_loops(ctx) to save the copy in a training loop).
  /// x_src [num_src, in_src], x_dst [num_dst, in_dst] (a row prefix of x_src shares work).
  /// @throws ShapeMismatch naming the layer and the shapes
  Tensor forward(const Context& ctx, const Adjacency& adj_in, const Tensor& x_src,
                 const Tensor& x_dst, const ForwardMode& mode, Cache* cache) const {
    const std::string where = "GatConv '" + name_ + "'";
    const DType dtype = w_src_->value.dtype();
    for (const Parameter* p : {w_src_.get(), w_dst_.get(), att_src_.get(), att_dst_.get(), b_.get()})
      check_parameter_device(where.c_str(), ctx, p);
    check_matrix(where.c_str(), "x_src", x_src, adj_in.num_src(), options_.in_src, dtype, ctx.device());
    check_matrix(where.c_str(), "x_dst", x_dst, adj_in.num_dst(), options_.in_dst, dtype, ctx.device());
    if (mode.check_finite) {
      check_finite(ctx, where.c_str(), "x_src", x_src);
      check_finite(ctx, where.c_str(), "x_dst", x_dst);
    }
    const int threads = ctx.num_threads();
    const Adjacency adj = options_.add_self_loops && !adj_in.self_loops_added()
                              ? adj_in.with_self_loops(ctx)
                              : adj_in;
    const int H = options_.heads;
    const std::int64_t C = options_.out, HC = H * C;
    const std::int64_t n_dst = adj.num_dst(), n_src = adj.num_src(), E = adj.num_edges();
    const bool shared_dst = w_dst_ == w_src_ && is_row_prefix(x_src, x_dst);
    Tensor h_src = linear_forward(ctx, x_src, *w_src_, nullptr);
    Tensor h_dst = shared_dst ? slice_rows(h_src, 0, n_dst)
                              : linear_forward(ctx, x_dst, *w_dst_, nullptr);
    Tensor a_src = new_matrix(ctx, n_src, H, dtype), a_dst = new_matrix(ctx, n_dst, H, dtype);
    Tensor scores = new_matrix(ctx, E, H, dtype), alpha = new_matrix(ctx, E, H, dtype);
    Tensor out_full = new_matrix(ctx, n_dst, HC, dtype);
    const bool dropout = mode.training && options_.dropout > 0;
    if (ctx.device().is_cuda()) {  // the same steps through kernels/cuda_ops.hpp
      namespace kc = kernels::cuda;
      const kc::DeviceCsc csc = adj.device_csc(ctx);
      CUstream_st* stream = ctx.cuda_stream();
      kc::head_dots(h_src.data_as<float>(), h_src.strides()[0], n_src, H, C, att_src_->value.data_as<float>(),
                    a_src.data_as<float>(), stream);
      kc::head_dots(h_dst.data_as<float>(), h_dst.strides()[0], n_dst, H, C, att_dst_->value.data_as<float>(),
                    a_dst.data_as<float>(), stream);
      kc::gat_attention_forward(csc, a_src.data_as<float>(), a_dst.data_as<float>(), H,
                                float(options_.negative_slope), scores.data_as<float>(), alpha.data_as<float>(),
                                stream);
      const Tensor weights = dropout ? dropped_attention(ctx, alpha, mode.dropout_key) : alpha;
      kc::spmm_forward(csc, h_src.data_as<float>(), h_src.strides()[0], HC, weights.data_as<float>(), false,
                       out_full.data_as<float>(), HC, stream, H);
    } else {
      dispatch_float(dtype, where.c_str(), [&](auto tag) {
        using T = decltype(tag);
        head_dots<T>(ctx, h_src, att_src_->value.data_as<T>(), H, C, a_src.data_as<T>());
        head_dots<T>(ctx, h_dst, att_dst_->value.data_as<T>(), H, C, a_dst.data_as<T>());
        adj.visit([&](const auto& csc, const auto*) {
          kernels::cpu::gat_attention_forward<T>(csc, a_src.data_as<T>(), a_dst.data_as<T>(), H,
                                                 T(options_.negative_slope), scores.data_as<T>(),
                                                 alpha.data_as<T>(), threads);
          const Tensor weights = dropout ? dropped_attention(ctx, alpha, mode.dropout_key) : alpha;
          kernels::cpu::spmm_forward<T>(csc, h_src.data_as<T>(), HC, HC, weights.data_as<T>(), H,
                                        Reduce::kSum, out_full.data_as<T>(), HC, nullptr, threads);
        });
      });
    }
    Tensor out = options_.concat ? out_full : mean_heads(ctx, out_full, H, C);
    if (b_) add_bias_rows(ctx, out, *b_);
    if (cache) {
      cache->adj = adj;
      cache->x_src = x_src;
      cache->x_dst = x_dst;
      cache->h_src = h_src;
      cache->h_dst = h_dst;
      cache->scores = scores;
      cache->alpha = alpha;
      cache->shared_dst = shared_dst;
      cache->dropout_applied = dropout;
      cache->dropout_key = mode.dropout_key;
    }
    return out;
  }

  /// @brief Backward: accumulates parameter gradients; returns the gradient of x_src and,
  /// when x_dst was not a prefix of x_src, of x_dst (neither when input_grads is false).
  ConvGrads backward(const Context& ctx, const Cache& cache, const Tensor& grad_out,
                     bool input_grads = true) const {
    const std::string where = "GatConv '" + name_ + "' backward";
    const DType dtype = w_src_->value.dtype();
    const Adjacency& adj = cache.adj;
    check_matrix(where.c_str(), "grad_out", grad_out, adj.num_dst(), out_features(), dtype, ctx.device());
    GNNKIT_EXPECTS_AS(InvalidArgument, where.c_str(), ctx.device().is_cuda() || adj.has_transpose(),
                      "the adjacency was built without its transpose (inference only)");
    const int threads = ctx.num_threads();
    const int H = options_.heads;
    const std::int64_t C = options_.out, HC = H * C;
    const std::int64_t n_dst = adj.num_dst(), n_src = adj.num_src(), E = adj.num_edges();
    if (b_) bias_backward(ctx, grad_out, *b_);
    Tensor g_full = options_.concat ? grad_out : spread_heads(ctx, grad_out, H, C);
    Tensor grad_h_src = new_matrix(ctx, n_src, HC, dtype);
    Tensor grad_h_dst = zeros_matrix(ctx, n_dst, HC, dtype);
    if (ctx.device().is_cuda()) {  // the same steps through kernels/cuda_ops.hpp
      namespace kc = kernels::cuda;
      const kc::DeviceCsc csc = adj.device_csc(ctx);
      CUstream_st* stream = ctx.cuda_stream();
      const Tensor weights =
          cache.dropout_applied ? dropped_attention(ctx, cache.alpha, cache.dropout_key) : cache.alpha;
      Tensor grad_alpha = new_matrix(ctx, E, H, dtype);
      kc::gat_aggregate_backward(csc, g_full.data_as<float>(), g_full.strides()[0], cache.h_src.data_as<float>(),
                                 cache.h_src.strides()[0], HC, weights.data_as<float>(), H,
                                 grad_h_src.data_as<float>(), HC, grad_alpha.data_as<float>(), stream);
      if (cache.dropout_applied) dropout_backward(ctx, grad_alpha, options_.dropout, cache.dropout_key);
      kc::gat_attention_backward(csc, cache.scores.data_as<float>(), cache.alpha.data_as<float>(), H,
                                 float(options_.negative_slope), grad_alpha.data_as<float>(), stream);
      Tensor grad_a_src = new_matrix(ctx, n_src, H, dtype), grad_a_dst = new_matrix(ctx, n_dst, H, dtype);
      kc::edge_sum_to_src(csc, grad_alpha.data_as<float>(), H, grad_a_src.data_as<float>(), stream);
      kc::edge_sum_to_dst(csc, grad_alpha.data_as<float>(), H, grad_a_dst.data_as<float>(), stream);
      kc::head_dots_backward(cache.h_src.data_as<float>(), cache.h_src.strides()[0], n_src, H, C,
                             grad_a_src.data_as<float>(), att_src_->value.data_as<float>(),
                             grad_h_src.data_as<float>(), HC, att_src_->grad.data_as<float>(), stream);
      kc::head_dots_backward(cache.h_dst.data_as<float>(), cache.h_dst.strides()[0], n_dst, H, C,
                             grad_a_dst.data_as<float>(), att_dst_->value.data_as<float>(),
                             grad_h_dst.data_as<float>(), HC, att_dst_->grad.data_as<float>(), stream);
    } else {
      dispatch_float(dtype, where.c_str(), [&](auto tag) {
        using T = decltype(tag);
        adj.visit([&](const auto& csc, const auto* t) {
          // Weights the aggregation used: alpha after dropout.
          const Tensor dropped =
              cache.dropout_applied ? dropped_attention(ctx, cache.alpha, cache.dropout_key) : cache.alpha;
          const T* weights = dropped.data_as<T>();
          // One gather of g per edge gives both the gradient of h_src and of the weights.
          Tensor grad_alpha = new_matrix(ctx, E, H, dtype);
          kernels::cpu::gat_aggregate_backward<T>(*t, g_full.data_as<T>(), g_full.strides()[0],
                                                  cache.h_src.data_as<T>(), HC, HC, weights, H,
                                                  grad_h_src.data_as<T>(), HC,
                                                  grad_alpha.data_as<T>(), threads);
          if (cache.dropout_applied)
            dropout_backward(ctx, grad_alpha, options_.dropout, cache.dropout_key);
          T* gs = grad_alpha.data_as<T>();  // becomes the gradient of a_src[u] + a_dst[v]
          kernels::cpu::gat_attention_backward<T>(csc, cache.scores.data_as<T>(),
                                                  cache.alpha.data_as<T>(), H,
                                                  T(options_.negative_slope), gs, threads);
          Tensor grad_a_src = new_matrix(ctx, n_src, H, dtype);
          Tensor grad_a_dst = new_matrix(ctx, n_dst, H, dtype);
          kernels::cpu::edge_sum_to_src<T>(*t, gs, H, grad_a_src.data_as<T>(), false, threads);
          kernels::cpu::edge_sum_to_dst<T>(csc, gs, H, grad_a_dst.data_as<T>(), false, threads);
          head_dots_backward<T>(ctx, cache.h_src, grad_a_src.data_as<T>(), *att_src_, H, C, grad_h_src);
          head_dots_backward<T>(ctx, cache.h_dst, grad_a_dst.data_as<T>(), *att_dst_, H, C, grad_h_dst);
        });
      });
    }
    ConvGrads grads;
    if (cache.shared_dst) {
      add_into(ctx, slice_rows(grad_h_src, 0, n_dst), grad_h_dst);
      grads.x_src = linear_backward(ctx, cache.x_src, *w_src_, nullptr, grad_h_src, input_grads);
    } else {
      grads.x_src = linear_backward(ctx, cache.x_src, *w_src_, nullptr, grad_h_src, input_grads);
      grads.x_dst = linear_backward(ctx, cache.x_dst, *w_dst_, nullptr, grad_h_dst, input_grads);
    }
    return grads;
  }

 private:
  /// The attention after dropout: a copy of alpha with the mask of `key` applied (the
  /// backward redraws the same mask instead of storing it).
  Tensor dropped_attention(const Context& ctx, const Tensor& alpha, std::uint64_t key) const {
    Tensor dropped = clone_on(ctx, alpha);
    dropout_forward(ctx, dropped, options_.dropout, key);
    return dropped;
  }
  /// a[i, h] = sum_c h[i, h*C + c] * att[h, c]
  template <typename T>
  static void head_dots(const Context& ctx, const Tensor& h, const T* att, int H, std::int64_t C,
                        T* a) {
    const std::int64_t rows = h.size(0), ld = h.strides()[0];
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(static) if (rows * H * C > 65536)
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* r = h.data_as<T>() + i * ld;
      for (int k = 0; k < H; ++k) {
        T acc = 0;
        for (std::int64_t c = 0; c < C; ++c) acc += r[k * C + c] * att[k * C + c];
        a[i * H + k] = acc;
      }
    }
  }
  /// att.grad[h, c] += sum_i ga[i, h] h[i, h*C + c];  grad_h[i, h*C + c] += ga[i, h] att[h, c]
  template <typename T>
  static void head_dots_backward(const Context& ctx, const Tensor& h, const T* ga,
                                 Parameter& att, int H, std::int64_t C, const Tensor& grad_h) {
    const std::int64_t rows = h.size(0), ld = h.strides()[0], ldg = grad_h.strides()[0];
    const T* w = att.value.data_as<T>();
    blocked_column_sums<T>(ctx, rows, H * C, att.grad.data_as<T>(), [&](std::int64_t i, T* p) {
      const T* r = h.data_as<T>() + i * ld;
      T* g = grad_h.data_as<T>() + i * ldg;
      for (int k = 0; k < H; ++k) {
        const T s = ga[i * H + k];
#pragma omp simd
        for (std::int64_t c = 0; c < C; ++c) {
          p[k * C + c] += s * r[k * C + c];
          g[k * C + c] += s * w[k * C + c];
        }
      }
    });
  }
  /// [n, H*C] -> [n, C]: mean over heads.
  static Tensor mean_heads(const Context& ctx, const Tensor& x, int H, std::int64_t C) {
    Tensor out = new_matrix(ctx, x.size(0), C, x.dtype());
    if (ctx.device().is_cuda()) {
      kernels::cuda::mean_heads(x.data_as<float>(), x.strides()[0], x.size(0), H, C, out.data_as<float>(),
                                ctx.cuda_stream());
      return out;
    }
    dispatch_float(x.dtype(), "GatConv", [&](auto tag) {
      using T = decltype(tag);
      for (std::int64_t i = 0; i < x.size(0); ++i)
        for (std::int64_t c = 0; c < C; ++c) {
          T acc = 0;
          for (int k = 0; k < H; ++k) acc += x.data_as<T>()[i * H * C + k * C + c];
          out.data_as<T>()[i * C + c] = acc / T(H);
        }
    });
    return out;
  }
  /// Backward of mean_heads: [n, C] -> [n, H*C], each head gets g / H.
  static Tensor spread_heads(const Context& ctx, const Tensor& g, int H, std::int64_t C) {
    Tensor out = new_matrix(ctx, g.size(0), H * C, g.dtype());
    if (ctx.device().is_cuda()) {
      kernels::cuda::spread_heads(g.data_as<float>(), g.strides()[0], g.size(0), H, C, out.data_as<float>(),
                                  ctx.cuda_stream());
      return out;
    }
    dispatch_float(g.dtype(), "GatConv", [&](auto tag) {
      using T = decltype(tag);
      for (std::int64_t i = 0; i < g.size(0); ++i)
        for (int k = 0; k < H; ++k)
          for (std::int64_t c = 0; c < C; ++c)
            out.data_as<T>()[i * H * C + k * C + c] =
                g.data_as<T>()[i * g.strides()[0] + c] / T(H);
    });
    return out;
  }

  GatConvOptions options_;
  std::string name_;
  ParameterPtr w_src_, w_dst_, att_src_, att_dst_, b_;
};

}  // namespace gnnkit::nn
