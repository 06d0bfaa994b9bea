#pragma once
/// @file
/// The per-sample terms of the losses (train/loss.hpp), written once for the CPU loops and
/// the CUDA kernels (cuda/ops.cu): numerically stable in double on both devices.

#include <cmath>

#include "gnnkit/core/host_device.hpp"

namespace gnnkit::train_detail {

/// log(1 + exp(x)) without overflow (x large) or loss of precision (x very negative).
GNNKIT_HOST_DEVICE inline double softplus(double x) noexcept {
  return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x)));
}
/// 1 / (1 + exp(-x)) without overflow for either sign of x.
GNNKIT_HOST_DEVICE inline double sigmoid(double x) noexcept {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}

/// @brief Which binary loss binary_term computes, with its constants.
struct BinaryLossTerm {
  bool focal = false;       ///< sigmoid focal loss instead of binary cross-entropy
  double pos_weight = 1.0;  ///< BCE: weight of the positive term
  double gamma = 2.0;       ///< focal: focusing exponent
  double alpha = 0.25;      ///< focal: weight of positives, or negative for none
};

/// @brief Sample i's weighted loss w l(x, t); when dx is not null, *dx = w dl/dx * inv.
/// BCE: l = (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x) (PyTorch's stable form).
/// Focal (Lin et al.): l = alpha_t BCE(x, t) q^gamma with q = t (1 - p) + (1 - t) p.
GNNKIT_HOST_DEVICE inline double binary_term(const BinaryLossTerm& k, double x, double t, double w,
                                             double inv, double* dx) {
  if (!k.focal) {
    const double log_weight = 1.0 + (k.pos_weight - 1.0) * t;
    // d/dx = (1 - t) - L (1 - σ(x)) = L σ(x) - pos_weight t, as L - (1 - t) = pw t.
    if (dx) *dx = w * (log_weight * sigmoid(x) - k.pos_weight * t) * inv;
    return w * ((1.0 - t) * x + log_weight * softplus(-x));
  }
  const double alpha_t = k.alpha >= 0 ? k.alpha * t + (1 - k.alpha) * (1 - t) : 1.0;
  const double p = sigmoid(x), p_neg = sigmoid(-x);  // p_neg = 1 - p without cancellation
  const double ce = (x > 0 ? x : 0.0) - x * t + log1p(exp(-fabs(x)));
  const double q = t * p_neg + (1 - t) * p;
  const double q_gamma = k.gamma == 0 ? 1.0 : pow(q, k.gamma);
  if (dx) {
    // d/dx [ce q^g] = (p - t) q^g + ce g q^(g-1) dq/dx, dq/dx = (1 - 2t) p (1 - p). At q = 0
    // the factor q^(g-1) is 1 for g = 1 and taken as 0 otherwise (the limit for g > 1; a
    // subgradient choice for g < 1, where the derivative is unbounded).
    const double q_gm1 = q > 0 ? pow(q, k.gamma - 1) : (k.gamma == 1 ? 1.0 : 0.0);
    const double dq = (1 - 2 * t) * p * p_neg;
    const double d = (p - t) * q_gamma + (k.gamma == 0 ? 0.0 : ce * k.gamma * q_gm1 * dq);
    *dx = w * alpha_t * d * inv;
  }
  return w * alpha_t * ce * q_gamma;
}

}  // namespace gnnkit::train_detail
