#pragma once
/// @file
/// The per-element update rules of the optimisers (PyTorch's SGD and Adam / AdamW), written
/// once for the CPU loops (optimizer.hpp) and the CUDA kernels (cuda/ops.cu): the same
/// formulas in double on both devices, stored in the parameter's type (equal to rounding:
/// the compilers may fuse multiply-adds differently).

#include <cmath>

#include "gnnkit/core/host_device.hpp"

namespace gnnkit::train_detail {

/// @brief One SGD step's constants: d = g + wd w; with momentum b = first ? d :
/// mu b + (1 - damp) d, then d = nesterov ? d + mu b : b; w -= lr d.
struct SgdStep {
  double lr = 0, mu = 0, damp = 0, wd = 0;
  bool first = false, nesterov = false;
};

/// @brief Updates one element w (and its momentum buffer, when buf is not null).
template <typename T>
GNNKIT_HOST_DEVICE inline void sgd_element(const SgdStep& s, T& w, T g, T* buf) {
  double d = double(g) + s.wd * double(w);
  if (buf) {
    const double b = s.first ? d : s.mu * double(*buf) + (1 - s.damp) * d;
    *buf = T(b);
    d = s.nesterov ? d + s.mu * b : b;
  }
  w = T(double(w) - s.lr * d);
}

/// @brief One Adam / AdamW step's constants: x = w shrink (AdamW's decoupled decay);
/// d = g + coupled x (Adam's L2); m += (1 - b1)(d - m); v = b2 v + (1 - b2) d^2;
/// w = x - step_size m / (sqrt(v) / bc2_sqrt + eps), with step_size = lr / (1 - b1^t) and
/// bc2_sqrt = sqrt(1 - b2^t).
struct AdamStep {
  double step_size = 0, b1 = 0, b2 = 0, bc2_sqrt = 1, eps = 0, coupled = 0, shrink = 1;
};

/// @brief Updates one element w and its moment estimates m and v.
template <typename T>
GNNKIT_HOST_DEVICE inline void adam_element(const AdamStep& s, T& w, T g, T& m, T& v) {
  const double x = double(w) * s.shrink;
  const double d = double(g) + s.coupled * x;
  const double mj = double(m) + (1 - s.b1) * (d - double(m));
  const double vj = s.b2 * double(v) + (1 - s.b2) * d * d;
  m = T(mj);
  v = T(vj);
  w = T(x - s.step_size * mj / (sqrt(vj) / s.bc2_sqrt + s.eps));
}

}  // namespace gnnkit::train_detail
