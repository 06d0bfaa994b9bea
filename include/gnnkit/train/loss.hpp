#pragma once
/// @file
/// Training losses with their analytic gradients: cross-entropy for node classification,
/// binary cross-entropy (with pos_weight, per-sample weights, and a focal variant) for fraud
/// and link prediction, BPR for recommendation.
///
/// Each loss returns the mean loss as a double and, when given a gradient view of the logits'
/// shape, writes d(loss)/d(logits) there, ready for a layer's backward pass. Losses are
/// computed in double whatever the dtype (float32 or float64), with numerically stable
/// formulas (log-sum-exp, softplus) that never overflow for large logits. The sums run over
/// fixed blocks whose partial results are added in order, so a loss is bit-identical for any
/// thread count. Every loss also runs on a GPU (float32 views on the context's device; host
/// labels, targets and weights are uploaded): a kernel writes each sample's loss (in double)
/// and gradient, and the sample losses come back to be added in order.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/core/tensor.hpp"
#include "gnnkit/core/tensor_view.hpp"
#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/train/common.hpp"
#include "gnnkit/train/loss_terms.hpp"

namespace gnnkit {

namespace train_detail {

/// Checks a float input view: float32/float64 on ctx's device; on a GPU float32, 1-d or 2-d
/// with contiguous rows.
inline void check_float_input(const char* fn, const char* arg, const Context& ctx,
                              const TensorView& v) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, !absent(v), "'{}' must be a tensor, got an empty view",
                    arg);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    v.dtype() == DType::kFloat32 || v.dtype() == DType::kFloat64,
                    "'{}' must be float32 or float64, got {}", arg, v.str());
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn, v.device() == ctx.device(),
                    "'{}' must be on the context's device {}, got {}", arg, ctx.device(), v.str());
  if (v.device().is_cuda())
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, v.dtype() == DType::kFloat32 &&
                                               (v.ndim() == 1 || (v.ndim() == 2 && (v.size(1) <= 1 || v.stride(1) == 1))),
                      "'{}' must be float32, 1-d or 2-d with contiguous rows, on a GPU; got {}", arg,
                      v.str());
}

/// Checks an optional gradient output: same dtype, shape and device as `like`.
inline void check_grad(const char* fn, const char* arg, const char* like_arg,
                       const TensorView& grad, const TensorView& like) {
  if (absent(grad)) return;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    grad.dtype() == like.dtype() && grad.device() == like.device(),
                    "'{}' must be {} on {} like '{}', got {}", arg, like.dtype(), like.device(),
                    like_arg, grad.str());
  bool same = grad.ndim() == like.ndim();
  for (int d = 0; same && d < grad.ndim(); ++d) same = grad.size(d) == like.size(d);
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, same, "'{}' must have the shape of '{}' ({}), got {}", arg,
                    like_arg, like.str(), grad.str());
}

/// Element i of a 1-d view or of an [N, 1] view, honouring strides.
template <typename T>
inline T& at1(const TensorView& v, std::int64_t i) {
  return static_cast<T*>(v.data())[i * v.stride(0)];
}

/// Checks a per-sample score/logit view of shape [N] or [N, 1]; returns N.
inline std::int64_t check_column(const char* fn, const char* arg, const TensorView& v) {
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, v.ndim() == 1 || (v.ndim() == 2 && v.size(1) == 1),
                    "'{}' must have shape [N] or [N, 1], got {}", arg, v.str());
  return v.size(0);
}

/// Checks targets (in [0, 1]) and optional non-negative per-sample weights against N.
inline void check_targets(const char* fn, std::int64_t n, std::span<const float> targets,
                          std::span<const float> sample_weights) {
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, std::int64_t(targets.size()) == n,
                    "'targets' must have {} entries (one per logit), got {}", n, targets.size());
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn,
                    sample_weights.empty() || std::int64_t(sample_weights.size()) == n,
                    "'sample_weights' must be empty or have {} entries (one per logit), got {}", n,
                    sample_weights.size());
  for (std::size_t i = 0; i < targets.size(); ++i)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, targets[i] >= 0.0f && targets[i] <= 1.0f,
                      "'targets[{}]' must be in [0, 1], got {}", i, targets[i]);
  for (std::size_t i = 0; i < sample_weights.size(); ++i)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                      sample_weights[i] >= 0.0f && std::isfinite(sample_weights[i]),
                      "'sample_weights[{}]' must be finite and >= 0, got {}", i, sample_weights[i]);
}

/// A host array of n values as a new tensor on ctx's GPU (labels, targets, weights).
template <typename T>
inline Tensor upload(const Context& ctx, std::span<const T> values) {
  const std::int64_t shape[1] = {std::int64_t(values.size())};
  Tensor out = Tensor::empty({shape[0]}, dtype_of<T>, ctx.device());
  copy(ctx, out, TensorView(const_cast<T*>(values.data()), dtype_of<T>, Device::cpu(), shape));
  return out;
}

/// The per-sample losses a GPU kernel wrote ([n] double on ctx's device), added in order on
/// the host (the copy waits for the kernel).
inline double sum_on_host(const Context& ctx, const Tensor& sample_losses) {
  Tensor host = Tensor::empty({sample_losses.numel()}, DType::kFloat64);
  copy(ctx, host, sample_losses);
  const double* l = host.data_as<double>();
  return ordered_sum(host.numel(), 1, [&](std::int64_t i) { return l[i]; });
}

/// binary_cross_entropy_with_logits and sigmoid_focal_loss on a GPU, after the checks.
inline double binary_loss_cuda(const Context& ctx, const BinaryLossTerm& term, const TensorView& logits,
                               std::span<const float> targets, std::span<const float> sample_weights,
                               const TensorView& grad, double inv) {
  const std::int64_t n = logits.size(0);
  const Tensor t = upload(ctx, targets);
  const Tensor w = sample_weights.empty() ? Tensor() : upload(ctx, sample_weights);
  Tensor losses = Tensor::empty({n}, DType::kFloat64, ctx.device());
  const bool want_grad = !absent(grad);
  kernels::cuda::binary_loss_rows(term, static_cast<const float*>(logits.data()), logits.stride(0), n,
                                  t.data_as<float>(), w.defined() ? w.data_as<float>() : nullptr, inv,
                                  losses.data_as<double>(), want_grad ? static_cast<float*>(grad.data()) : nullptr,
                                  want_grad ? grad.stride(0) : 0, ctx.cuda_stream());
  return inv * sum_on_host(ctx, losses);
}

/// The mean of binary_term over the samples on either device (inputs already checked).
inline double binary_loss(const Context& ctx, const BinaryLossTerm& term, const TensorView& logits,
                          std::span<const float> targets, std::span<const float> sample_weights,
                          const TensorView& grad) {
  const std::int64_t n = logits.size(0);
  const double inv = 1.0 / double(n);
  if (logits.device().is_cuda()) {
    if (!absent(grad)) check_float_input("binary loss", "grad", ctx, grad);
    return binary_loss_cuda(ctx, term, logits, targets, sample_weights, grad, inv);
  }
  const bool want_grad = !absent(grad);
  return dispatch_float(logits.dtype(), [&]<typename T>() {
    const double total = ordered_sum(n, ctx.num_threads(), [&](std::int64_t i) {
      const double w = sample_weights.empty() ? 1.0 : double(sample_weights[std::size_t(i)]);
      double dx = 0;
      const double l = binary_term(term, double(at1<T>(logits, i)), double(targets[std::size_t(i)]), w, inv,
                                   want_grad ? &dx : nullptr);
      if (want_grad) at1<T>(grad, i) = T(dx);
      return l;
    });
    return inv * total;
  });
}

/// cross_entropy on a GPU, after the checks (labels on the device): one warp per row writes
/// its loss (double) and gradient, and the row losses come back to be added in order.
inline double cross_entropy_cuda(const Context& ctx, const TensorView& logits,
                                 const std::int64_t* device_labels, const TensorView& grad, double inv) {
  const std::int64_t n = logits.size(0), c = logits.size(1);
  Tensor row_loss = Tensor::empty({n}, DType::kFloat64, ctx.device());
  const bool want_grad = !absent(grad);
  kernels::cuda::cross_entropy_rows(static_cast<const float*>(logits.data()), logits.stride(0), n, c,
                                    device_labels, inv, row_loss.data_as<double>(),
                                    want_grad ? static_cast<float*>(grad.data()) : nullptr,
                                    want_grad ? grad.stride(0) : 0, ctx.cuda_stream());
  return inv * sum_on_host(ctx, row_loss);
}

}  // namespace train_detail

/// @brief Mean cross-entropy of softmax(logits) against integer class labels.
///
/// loss = mean over rows i with labels[i] != -1 of (logsumexp(logits[i, :]) - logits[i, y_i]),
/// computed with the max-shifted (stable) log-softmax. Like PyTorch's
/// `cross_entropy(..., ignore_index=-1, reduction="mean")`.
/// @param ctx CPU context (threads), or a GPU context for logits on its device
/// @param logits [N, C] float32 or float64, any strides, C >= 1 (on a GPU: float32,
///        contiguous rows)
/// @param labels N class ids in [0, C), or -1 for rows that do not count (unlabelled nodes)
/// @param grad optional [N, C] output of logits' dtype: d(loss)/d(logits) =
///        (softmax - one_hot) / (number of counted rows); ignored rows get 0
/// @returns the mean loss over the counted rows
/// @throws InvalidArgument (dtype, no counted row), ShapeMismatch (shapes), OutOfRange (a label
///         outside [0, C) other than -1), DeviceMismatch (a view not on ctx's device)
inline double cross_entropy(const Context& ctx, const TensorView& logits,
                            std::span<const std::int64_t> labels,
                            const TensorView& grad = TensorView()) {
  constexpr const char* fn = "cross_entropy";
  using namespace train_detail;
  check_float_input(fn, "logits", ctx, logits);
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, logits.ndim() == 2 && logits.size(1) >= 1,
                    "'logits' must have shape [N, C] with C >= 1, got {}", logits.str());
  const std::int64_t n = logits.size(0), c = logits.size(1);
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, std::int64_t(labels.size()) == n,
                    "'labels' must have {} entries (one per row of 'logits' {}), got {}", n,
                    logits.str(), labels.size());
  check_grad(fn, "grad", "logits", grad, logits);
  std::int64_t counted = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t y = labels[std::size_t(i)];
    GNNKIT_EXPECTS_AS(OutOfRange, fn, y == -1 || (y >= 0 && y < c),
                      "'labels[{}]' must be -1 (ignored) or in [0, {}), got {}", i, c, y);
    counted += y != -1;
  }
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, counted > 0,
                    "'labels' must have at least one entry != -1, got {} rows all ignored", n);
  const double inv = 1.0 / double(counted);
  if (logits.device().is_cuda()) {
    if (!absent(grad)) check_float_input(fn, "grad", ctx, grad);
    return cross_entropy_cuda(ctx, logits, upload(ctx, labels).data_as<std::int64_t>(), grad, inv);
  }
  const bool want_grad = !absent(grad);
  return dispatch_float(logits.dtype(), [&]<typename T>() {
    const T* x = static_cast<const T*>(logits.data());
    const std::int64_t xs0 = logits.stride(0), xs1 = logits.stride(1);
    T* g = want_grad ? static_cast<T*>(grad.data()) : nullptr;
    const std::int64_t gs0 = want_grad ? grad.stride(0) : 0, gs1 = want_grad ? grad.stride(1) : 0;
    const double total = ordered_sum(n, ctx.num_threads(), [&](std::int64_t i) {
      const std::int64_t y = labels[std::size_t(i)];
      const T* row = x + i * xs0;
      if (y == -1) {
        if (g)
          for (std::int64_t j = 0; j < c; ++j) g[i * gs0 + j * gs1] = T(0);
        return 0.0;
      }
      double m = double(row[0]);
      for (std::int64_t j = 1; j < c; ++j) m = std::max(m, double(row[j * xs1]));
      double sum = 0;
      for (std::int64_t j = 0; j < c; ++j) sum += std::exp(double(row[j * xs1]) - m);
      const double lse = m + std::log(sum);
      if (g)
        for (std::int64_t j = 0; j < c; ++j) {
          const double p = std::exp(double(row[j * xs1]) - lse);
          g[i * gs0 + j * gs1] = T((p - (j == y ? 1.0 : 0.0)) * inv);
        }
      return lse - double(row[y * xs1]);
    });
    return inv * total;
  });
}

/// @brief cross_entropy with the labels in an int64 [N] tensor on ctx's device: on a GPU the
/// labels of a sampled batch (select_rows of the label vector at DeviceMiniBatch::output_nodes)
/// never visit the host; one reduction, read back, checks their range and counts the ignored.
/// @throws as the span overload; OutOfRange names the labels' range on a GPU
inline double cross_entropy(const Context& ctx, const TensorView& logits, const TensorView& labels,
                            const TensorView& grad = TensorView()) {
  constexpr const char* fn = "cross_entropy";
  using namespace train_detail;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, labels.dtype() == DType::kInt64 && labels.ndim() == 1 && labels.is_contiguous(),
                    "'labels' must be a contiguous int64 vector, got {}", labels.str());
  GNNKIT_EXPECTS_AS(DeviceMismatch, fn, labels.device() == ctx.device(),
                    "'labels' is {}, but the context is on {}", labels.str(), ctx.device());
  const auto* y = static_cast<const std::int64_t*>(labels.data());
  if (ctx.device().is_cpu())
    return cross_entropy(ctx, logits, std::span<const std::int64_t>(y, std::size_t(labels.size(0))), grad);
  check_float_input(fn, "logits", ctx, logits);
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, logits.ndim() == 2 && logits.size(1) >= 1 && labels.size(0) == logits.size(0),
                    "'logits' must be [N, C] with C >= 1 and 'labels' [N], got {} and {}", logits.str(),
                    labels.str());
  check_grad(fn, "grad", "logits", grad, logits);
  if (!absent(grad)) check_float_input(fn, "grad", ctx, grad);
  const std::int64_t n = logits.size(0), c = logits.size(1);
  const kernels::cuda::IndexStats stats = kernels::cuda::index_stats(y, n, ctx.cuda_stream());
  GNNKIT_EXPECTS_AS(OutOfRange, fn, n == 0 || (stats.min >= -1 && stats.max < c),
                    "'labels' span [{}, {}]: each must be -1 (ignored) or in [0, {})", stats.min, stats.max, c);
  const std::int64_t counted = n - stats.negatives;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, counted > 0,
                    "'labels' must have at least one entry != -1, got {} rows all ignored", n);
  return cross_entropy_cuda(ctx, logits, y, grad, 1.0 / double(counted));
}

/// @brief Mean binary cross-entropy of sigmoid(logits) against targets in [0, 1].
///
/// Per sample, PyTorch's stable form of `binary_cross_entropy_with_logits`:
/// l_i = w_i * [(1 - t_i) x_i + (1 + (pos_weight - 1) t_i) * softplus(-x_i)], which equals
/// -w_i [pos_weight t_i log σ(x_i) + (1 - t_i) log(1 - σ(x_i))]; the loss is mean_i l_i.
/// pos_weight > 1 up-weights the positives of an imbalanced problem (e.g. #neg / #pos).
/// @param ctx CPU context (threads)
/// @param logits [N] or [N, 1] float32 or float64, any stride
/// @param targets N values in [0, 1] (soft labels allowed)
/// @param pos_weight weight of the positive term, > 0 and finite (1: plain BCE)
/// @param grad optional output of logits' shape and dtype: d(loss)/d(logits) =
///        w_i [(1 + (pos_weight - 1) t_i) σ(x_i) - pos_weight t_i] / N
/// @param sample_weights empty, or N finite weights >= 0 (PyTorch's `weight`)
/// @returns the mean weighted loss
/// @throws InvalidArgument (dtype, N == 0, a target outside [0, 1], bad weights or pos_weight),
///         ShapeMismatch (shapes), DeviceMismatch (a view not on ctx's device)
inline double binary_cross_entropy_with_logits(const Context& ctx, const TensorView& logits,
                                               std::span<const float> targets,
                                               double pos_weight = 1.0,
                                               const TensorView& grad = TensorView(),
                                               std::span<const float> sample_weights = {}) {
  constexpr const char* fn = "binary_cross_entropy_with_logits";
  using namespace train_detail;
  check_float_input(fn, "logits", ctx, logits);
  const std::int64_t n = check_column(fn, "logits", logits);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, n > 0, "'logits' must not be empty, got {}", logits.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, pos_weight > 0 && std::isfinite(pos_weight),
                    "'pos_weight' must be positive and finite, got {}", pos_weight);
  check_targets(fn, n, targets, sample_weights);
  check_grad(fn, "grad", "logits", grad, logits);
  return binary_loss(ctx, BinaryLossTerm{false, pos_weight}, logits, targets, sample_weights, grad);
}

/// @brief Mean sigmoid focal loss (Lin et al. 2017), for heavily imbalanced binary problems.
///
/// Per sample, like torchvision's `sigmoid_focal_loss`: with p = σ(x) and
/// q = t (1 - p) + (1 - t) p (the probability of the wrong answer),
/// l_i = w_i * α_t * BCE(x_i, t_i) * q^gamma, where α_t = alpha t + (1 - alpha)(1 - t) when
/// alpha >= 0 and 1 otherwise. gamma = 0 and alpha < 0 give plain BCE. The loss is mean_i l_i.
/// @param ctx CPU context (threads)
/// @param logits [N] or [N, 1] float32 or float64, any stride
/// @param targets N values in [0, 1]
/// @param gamma focusing exponent >= 0 (2 in the paper)
/// @param alpha weight of positives in [0, 1] (0.25 in the paper), or negative for none
/// @param grad optional output of logits' shape and dtype: the analytic d(loss)/d(logits)
/// @param sample_weights empty, or N finite weights >= 0
/// @returns the mean weighted loss
/// @throws InvalidArgument (dtype, N == 0, bad targets, weights, gamma or alpha),
///         ShapeMismatch (shapes), DeviceMismatch (a view not on ctx's device)
inline double sigmoid_focal_loss(const Context& ctx, const TensorView& logits,
                                 std::span<const float> targets, double gamma = 2.0,
                                 double alpha = 0.25, const TensorView& grad = TensorView(),
                                 std::span<const float> sample_weights = {}) {
  constexpr const char* fn = "sigmoid_focal_loss";
  using namespace train_detail;
  check_float_input(fn, "logits", ctx, logits);
  const std::int64_t n = check_column(fn, "logits", logits);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, n > 0, "'logits' must not be empty, got {}", logits.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, gamma >= 0 && std::isfinite(gamma),
                    "'gamma' must be finite and >= 0, got {}", gamma);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, alpha <= 1 && !std::isnan(alpha),
                    "'alpha' must be in [0, 1] (or negative for no weighting), got {}", alpha);
  check_targets(fn, n, targets, sample_weights);
  check_grad(fn, "grad", "logits", grad, logits);
  return binary_loss(ctx, BinaryLossTerm{true, 1.0, gamma, alpha}, logits, targets, sample_weights, grad);
}

/// @brief Bayesian personalised ranking loss (Rendle et al. 2009), as in LightGCN:
/// mean over (user, positive, negative) triples of -log σ(pos - neg) = softplus(neg - pos).
///
/// @param ctx CPU context (threads)
/// @param pos_scores [N] float32 or float64: the score of each positive pair
/// @param neg_scores [N] (one negative per positive) or [N, K] (K negatives per positive), the
///        dtype of pos_scores
/// @param pos_grad optional output of pos_scores' shape: -Σ_k σ(neg_ik - pos_i) / (N K)
/// @param neg_grad optional output of neg_scores' shape: σ(neg_ik - pos_i) / (N K)
/// @returns the mean over the N K pairs
/// @throws InvalidArgument (dtypes, N == 0 or K == 0), ShapeMismatch (shapes),
///         DeviceMismatch (a view not on ctx's device)
inline double bpr_loss(const Context& ctx, const TensorView& pos_scores,
                       const TensorView& neg_scores, const TensorView& pos_grad = TensorView(),
                       const TensorView& neg_grad = TensorView()) {
  constexpr const char* fn = "bpr_loss";
  using namespace train_detail;
  check_float_input(fn, "pos_scores", ctx, pos_scores);
  check_float_input(fn, "neg_scores", ctx, neg_scores);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, pos_scores.dtype() == neg_scores.dtype(),
                    "'neg_scores' must have the dtype of 'pos_scores' ({}), got {}",
                    pos_scores.dtype(), neg_scores.dtype());
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, pos_scores.ndim() == 1,
                    "'pos_scores' must have shape [N], got {}", pos_scores.str());
  const std::int64_t n = pos_scores.size(0);
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn,
                    (neg_scores.ndim() == 1 || neg_scores.ndim() == 2) && neg_scores.size(0) == n,
                    "'neg_scores' must have shape [{}] or [{}, K] (N from 'pos_scores'), got {}", n,
                    n, neg_scores.str());
  const std::int64_t k = neg_scores.ndim() == 2 ? neg_scores.size(1) : 1;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, n > 0 && k > 0,
                    "'pos_scores' and 'neg_scores' must not be empty, got {} and {}",
                    pos_scores.str(), neg_scores.str());
  check_grad(fn, "pos_grad", "pos_scores", pos_grad, pos_scores);
  check_grad(fn, "neg_grad", "neg_scores", neg_grad, neg_scores);
  const double inv = 1.0 / (double(n) * double(k));
  if (pos_scores.device().is_cuda()) {
    Tensor losses = Tensor::empty({n}, DType::kFloat64, ctx.device());
    const bool pg = !absent(pos_grad), ng = !absent(neg_grad);
    kernels::cuda::bpr_rows(static_cast<const float*>(pos_scores.data()), pos_scores.stride(0),
                            static_cast<const float*>(neg_scores.data()), neg_scores.stride(0),
                            k > 1 ? neg_scores.stride(1) : 0, n, k, inv, losses.data_as<double>(),
                            pg ? static_cast<float*>(pos_grad.data()) : nullptr, pg ? pos_grad.stride(0) : 0,
                            ng ? static_cast<float*>(neg_grad.data()) : nullptr, ng ? neg_grad.stride(0) : 0,
                            ng && k > 1 ? neg_grad.stride(1) : 0, ctx.cuda_stream());
    return inv * sum_on_host(ctx, losses);
  }
  return dispatch_float(pos_scores.dtype(), [&]<typename T>() {
    const T* neg = static_cast<const T*>(neg_scores.data());
    const std::int64_t ns0 = neg_scores.stride(0), ns1 = k > 1 ? neg_scores.stride(1) : 0;
    T* ng = absent(neg_grad) ? nullptr : static_cast<T*>(neg_grad.data());
    const std::int64_t gs0 = ng ? neg_grad.stride(0) : 0;
    const std::int64_t gs1 = ng && k > 1 ? neg_grad.stride(1) : 0;
    const double total = ordered_sum(n, ctx.num_threads(), [&](std::int64_t i) {
      const double pos = double(at1<T>(pos_scores, i));
      double loss = 0, dpos = 0;
      for (std::int64_t j = 0; j < k; ++j) {
        const double diff = double(neg[i * ns0 + j * ns1]) - pos;
        const double s = sigmoid(diff);
        loss += softplus(diff);
        dpos -= s;
        if (ng) ng[i * gs0 + j * gs1] = T(s * inv);
      }
      if (!absent(pos_grad)) at1<T>(pos_grad, i) = T(dpos * inv);
      return loss;
    });
    return inv * total;
  });
}

}  // namespace gnnkit
