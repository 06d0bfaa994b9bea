#pragma once
/// @file
/// Validated front-ends of the sparse kernels on tensors: neighbourhood aggregation (SpMM)
/// forward and backward over an Adjacency, with its optional edge weights.

#include <cstdint>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/kernels/sparse.hpp"
#include "gnnkit/nn/adjacency.hpp"
#include "gnnkit/nn/functional.hpp"

namespace gnnkit::nn {

using kernels::cpu::Reduce;

/// @brief What aggregate_backward needs from the forward pass.
struct AggregateCache {
  Reduce reduce = Reduce::kSum;
  std::vector<std::int32_t> argmax;  ///< kMax only: winning edge (position in its row)
  Tensor device_argmax;              ///< kMax on a GPU: the same, int32 [num_dst, F] there
};

/// What the CUDA aggregation supports: sum, mean and max, with one weight per edge (float32,
/// on the context's device) or none. @throws InvalidArgument / DeviceMismatch naming the rest
inline void check_cuda_aggregation(const char* fn, const Context& ctx, const Adjacency& adj) {
  const Tensor& w = adj.edge_weight();
  if (!w.defined()) return;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, w.ndim() == 1 && w.dtype() == DType::kFloat32,
                    "CUDA aggregation takes one float32 weight per edge, got {}", w.str());
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn, w.device() == ctx.device(),
                    "edge weights {} are not on the context's device {}", w.str(), ctx.device());
}

/// @brief out[v] = reduce over edges (u -> v) of w_e * x[u], for the adjacency's
/// destinations; w is adj.edge_weight() ([E] or [E, heads], heads dividing F) or 1.
/// @param x [adj.num_src(), F], float32 or float64
/// On a CUDA context (x in its memory, float32) it runs the CUDA kernel over
/// adj.device_csc(ctx): sum, mean and max, optionally weighted (one weight per edge).
/// @throws ShapeMismatch when x's rows differ from the adjacency's sources or the weights do
/// not fit; InvalidArgument for other dtypes; DeviceMismatch when x and the context differ
inline Tensor aggregate_forward(const Context& ctx, const Adjacency& adj, const TensorView& x,
                                Reduce reduce, AggregateCache* cache = nullptr) {
  constexpr const char* kFn = "aggregate";
  const Tensor& w = adj.edge_weight();
  const int heads = w.defined() && w.ndim() == 2 ? int(w.size(1)) : 1;
  if (!ctx.device().is_cpu() || !x.device().is_cpu()) {  // the CUDA kernel
    check_device_matrix(kFn, ctx, "x", x, adj.num_src(), -1);
    check_cuda_aggregation(kFn, ctx, adj);
    const std::int64_t F = x.size(1);
    Tensor out = new_matrix(ctx, adj.num_dst(), F, DType::kFloat32);
    const float* weights = w.defined() ? w.data_as<float>() : nullptr;
    if (reduce == Reduce::kMax) {
      Tensor argmax = Tensor::empty({adj.num_dst(), F}, DType::kInt32, ctx.device());
      kernels::cuda::spmm_max_forward(adj.device_csc(ctx), static_cast<const float*>(x.data()), x.stride(0), F,
                                      weights, out.data_as<float>(), F, argmax.data_as<std::int32_t>(),
                                      ctx.cuda_stream());
      if (cache) cache->device_argmax = argmax;
    } else {
      kernels::cuda::spmm_forward(adj.device_csc(ctx), static_cast<const float*>(x.data()), x.stride(0), F,
                                  weights, reduce == Reduce::kMean, out.data_as<float>(), F, ctx.cuda_stream());
    }
    if (cache) cache->reduce = reduce;
    return out;
  }
  check_matrix(kFn, "x", x, adj.num_src(), -1, x.dtype());
  const std::int64_t F = x.size(1);
  if (w.defined()) {
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, w.dtype() == x.dtype(),
                      "edge weights must have the features' dtype {}, got {}", x.dtype(), w.str());
    GNNKIT_EXPECTS_AS(ShapeMismatch, kFn, F % heads == 0,
                      "feature width {} must be a multiple of the weight heads {}", F, heads);
  }
  Tensor out = new_matrix(ctx, adj.num_dst(), F, x.dtype());
  std::vector<std::int32_t> argmax;
  if (reduce == Reduce::kMax) argmax.resize(std::size_t(adj.num_dst() * F));
  dispatch_float(x.dtype(), kFn, [&](auto tag) {
    using T = decltype(tag);
    adj.visit([&](const auto& csc, const auto*) {
      kernels::cpu::spmm_forward<T>(csc, static_cast<const T*>(x.data()), x.stride(0), F,
                                    w.defined() ? w.data_as<T>() : nullptr, heads, reduce,
                                    out.data_as<T>(), F, argmax.data(), ctx.num_threads());
    });
  });
  if (cache) {
    cache->reduce = reduce;
    cache->argmax = std::move(argmax);
  }
  return out;
}

/// @brief Gradient of aggregate_forward w.r.t. x: a new [num_src, F] tensor, or added into
/// grad_x when it is given.
/// @throws InvalidArgument if the adjacency was built without its transpose
inline Tensor aggregate_backward(const Context& ctx, const Adjacency& adj,
                                 const AggregateCache& cache, const TensorView& grad_out,
                                 const Tensor& grad_x = Tensor()) {
  constexpr const char* kFn = "aggregate_backward";
  if (!ctx.device().is_cpu() || !grad_out.device().is_cpu()) {  // the CUDA kernel (atomic adds)
    check_device_matrix(kFn, ctx, "grad_out", grad_out, adj.num_dst(), -1);
    check_cuda_aggregation(kFn, ctx, adj);
    const std::int64_t F = grad_out.size(1);
    const bool accumulate = grad_x.defined();
    if (accumulate) check_device_matrix(kFn, ctx, "grad_x", grad_x, adj.num_src(), F);
    Tensor gx = accumulate ? grad_x : new_matrix(ctx, adj.num_src(), F, DType::kFloat32);
    const Tensor& w = adj.edge_weight();
    const float* weights = w.defined() ? w.data_as<float>() : nullptr;
    if (cache.reduce == Reduce::kMax) {
      GNNKIT_EXPECTS_AS(InvalidArgument, kFn,
                        cache.device_argmax.defined() && cache.device_argmax.device() == ctx.device() &&
                            cache.device_argmax.numel() == adj.num_dst() * F,
                        "the cache holds no GPU max aggregation of this shape ([{}, {}]): pass the "
                        "cache to aggregate_forward on this context", adj.num_dst(), F);
      kernels::cuda::spmm_max_backward_x(adj.device_csc(ctx), static_cast<const float*>(grad_out.data()),
                                         grad_out.stride(0), F, weights,
                                         cache.device_argmax.data_as<std::int32_t>(), gx.data_as<float>(),
                                         gx.strides()[0], accumulate, ctx.cuda_stream());
      return gx;
    }
    kernels::cuda::spmm_backward_x(adj.device_csc(ctx), static_cast<const float*>(grad_out.data()),
                                   grad_out.stride(0), F, weights, cache.reduce == Reduce::kMean,
                                   gx.data_as<float>(), gx.strides()[0], accumulate, ctx.cuda_stream());
    return gx;
  }
  check_matrix(kFn, "grad_out", grad_out, adj.num_dst(), -1, grad_out.dtype());
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, adj.has_transpose(),
                    "the adjacency was built without its transpose (inference only)");
  const std::int64_t F = grad_out.size(1);
  const bool accumulate = grad_x.defined();
  if (accumulate) check_matrix(kFn, "grad_x", grad_x, adj.num_src(), F, grad_out.dtype());
  Tensor gx = accumulate ? grad_x : new_matrix(ctx, adj.num_src(), F, grad_out.dtype());
  const Tensor& w = adj.edge_weight();
  const int heads = w.defined() && w.ndim() == 2 ? int(w.size(1)) : 1;
  dispatch_float(grad_out.dtype(), kFn, [&](auto tag) {
    using T = decltype(tag);
    adj.visit([&](const auto& csc, const auto* t) {
      kernels::cpu::spmm_backward_x<T>(csc, *t, static_cast<const T*>(grad_out.data()),
                                       grad_out.stride(0), F,
                                       w.defined() ? w.data_as<T>() : nullptr, heads,
                                       cache.reduce, cache.argmax.data(), gx.data_as<T>(),
                                       gx.strides()[0], accumulate, ctx.num_threads());
    });
  });
  return gx;
}

}  // namespace gnnkit::nn
