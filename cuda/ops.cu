// The layer ops on the GPU (include/gnnkit/kernels/cuda_ops.hpp): one warp per row for the
// row-wise kernels (lanes across features: coalesced 128-byte reads of feature rows), one
// thread per element for the elementwise ones.
#include <algorithm>
#include <climits>

#include "check.cuh"
#include "cusparse_csr.cuh"
#include "launch.cuh"
#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/kernels/memory.hpp"

namespace gnnkit::kernels::cuda {
namespace {

// The factor of a destination row's sum: 1 / in-degree for mean (rows without edges stay 0).
__device__ inline float row_scale(bool mean, std::int64_t e0, std::int64_t e1) {
  return mean && e1 > e0 ? 1.f / float(e1 - e0) : 1.f;
}

// Four column slices of 32 lanes per pass: four independent loads in flight per lane.
constexpr int kSlices = 4;

__global__ void spmm_forward_kernel(DeviceCsc csc, const float* __restrict__ x, std::int64_t ldx,
                                    std::int64_t F, const float* __restrict__ w, bool mean,
                                    float* __restrict__ out, std::int64_t ldo, int heads) {
  const int lane = int(threadIdx.x % kWarp);
  const std::int64_t C = F / heads;  // columns per head: column c takes weight w[e, c / C]
  for (std::int64_t v = warp_id(); v < csc.num_rows; v += warp_count()) {
    const std::int64_t e0 = csc.indptr[v], e1 = csc.indptr[v + 1];
    const float scale = row_scale(mean, e0, e1);
    for (std::int64_t c0 = 0; c0 < F; c0 += kSlices * kWarp) {
      float acc[kSlices] = {};
      std::int64_t head[kSlices];
#pragma unroll
      for (int k = 0; k < kSlices; ++k) head[k] = std::min<std::int64_t>((c0 + k * kWarp + lane) / C, heads - 1);
      for (std::int64_t e = e0; e < e1; ++e) {
        const float* xr = x + std::int64_t(csc.indices[e]) * ldx;
#pragma unroll
        for (int k = 0; k < kSlices; ++k) {
          const std::int64_t c = c0 + k * kWarp + lane;
          if (c < F) acc[k] += (w ? w[e * heads + head[k]] : 1.f) * xr[c];
        }
      }
#pragma unroll
      for (int k = 0; k < kSlices; ++k) {
        const std::int64_t c = c0 + k * kWarp + lane;
        if (c < F) out[v * ldo + c] = acc[k] * scale;
      }
    }
  }
}

__global__ void spmm_backward_kernel(DeviceCsc csc, const float* __restrict__ g, std::int64_t ldg,
                                     std::int64_t F, const float* __restrict__ w, bool mean,
                                     float* __restrict__ gx, std::int64_t ldx) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t v = warp_id(); v < csc.num_rows; v += warp_count()) {
    const std::int64_t e0 = csc.indptr[v], e1 = csc.indptr[v + 1];
    const float scale = row_scale(mean, e0, e1);
    for (std::int64_t e = e0; e < e1; ++e) {
      float* gr = gx + std::int64_t(csc.indices[e]) * ldx;
      const float we = (w ? w[e] : 1.f) * scale;
      for (std::int64_t c = lane; c < F; c += kWarp) atomicAdd(gr + c, we * g[v * ldg + c]);
    }
  }
}

__global__ void spmm_max_forward_kernel(DeviceCsc csc, const float* __restrict__ x, std::int64_t ldx,
                                        std::int64_t F, const float* __restrict__ w, float* __restrict__ out,
                                        std::int64_t ldo, std::int32_t* __restrict__ argmax) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t v = warp_id(); v < csc.num_rows; v += warp_count()) {
    const std::int64_t e0 = csc.indptr[v], e1 = csc.indptr[v + 1];
    for (std::int64_t c = lane; c < F; c += kWarp) {
      float best = 0.f;
      std::int32_t arg = -1;
      for (std::int64_t e = e0; e < e1; ++e) {
        const float m = (w ? w[e] : 1.f) * x[std::int64_t(csc.indices[e]) * ldx + c];
        if (e == e0 || m > best) {
          best = m;
          arg = std::int32_t(e - e0);
        }
      }
      out[v * ldo + c] = best;
      argmax[v * F + c] = arg;
    }
  }
}

__global__ void spmm_max_backward_kernel(DeviceCsc csc, const float* __restrict__ g, std::int64_t ldg, std::int64_t F,
                                         const float* __restrict__ w, const std::int32_t* __restrict__ argmax,
                                         float* gx, std::int64_t ldx) {
  const std::int64_t n = csc.num_rows * F, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t k = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const std::int32_t arg = argmax[k];
    if (arg < 0) continue;
    const std::int64_t v = k / F, c = k % F, e = csc.indptr[v] + arg;
    atomicAdd(gx + std::int64_t(csc.indices[e]) * ldx + c, (w ? w[e] : 1.f) * g[v * ldg + c]);
  }
}

__global__ void max_combine_kernel(float* out, std::int64_t ldo, const float* __restrict__ y, std::int64_t ldy,
                                   std::int64_t rows, std::int64_t cols, std::int8_t* winner, std::int8_t index) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t k = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const std::int64_t r = k / cols, c = k % cols;
    const float b = y[r * ldy + c];
    if (b > out[r * ldo + c]) {
      out[r * ldo + c] = b;
      if (winner) winner[k] = index;
    }
  }
}

__global__ void mask_winner_kernel(float* g, std::int64_t ld, std::int64_t rows, std::int64_t cols,
                                   const std::int8_t* __restrict__ winner, std::int8_t index) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t k = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride)
    if (winner[k] != index) g[(k / cols) * ld + k % cols] = 0.f;
}

__global__ void zero_rows_kernel(float* p, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    p[(i / cols) * ld + i % cols] = 0.f;
}

__global__ void gather_rows_kernel(const float* __restrict__ x, std::int64_t ldx, std::int64_t F,
                                   const std::int64_t* __restrict__ index, std::int64_t n,
                                   float* __restrict__ out, std::int64_t ldo) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t i = warp_id(); i < n; i += warp_count()) {
    const float* xr = x + index[i] * ldx;
    for (std::int64_t c = lane; c < F; c += kWarp) out[i * ldo + c] = xr[c];
  }
}

__device__ inline float activate(nn::Activation a, float v, float slope) {
  switch (a) {
    case nn::Activation::kReLU: return v > 0.f ? v : 0.f;
    case nn::Activation::kLeakyReLU: return v > 0.f ? v : slope * v;
    case nn::Activation::kELU: return v > 0.f ? v : slope * expm1f(v);
    case nn::Activation::kNone: break;
  }
  return v;
}
// The derivative at the input that produced output y (as functional.hpp's).
__device__ inline float derivative_from_output(nn::Activation a, float y, float slope) {
  switch (a) {
    case nn::Activation::kReLU: return y > 0.f ? 1.f : 0.f;
    case nn::Activation::kLeakyReLU: return y > 0.f ? 1.f : slope;
    case nn::Activation::kELU: return y > 0.f ? 1.f : y + slope;
    case nn::Activation::kNone: break;
  }
  return 1.f;
}

__global__ void activation_dropout_forward_kernel(nn::Activation act, float* x, std::int64_t rows,
                                                  std::int64_t cols, std::int64_t ld, float slope,
                                                  bool dropout, nn::DropoutMask mask, float scale) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::int64_t r = i / cols, c = i % cols;
    float& v = x[r * ld + c];
    if (!dropout) {
      v = activate(act, v, slope);
    } else {
      const bool kept = mask.keep(mask.row_stream(std::uint64_t(r)), std::uint32_t(c));
      v = kept ? activate(act, v, slope) * scale : 0.f;
    }
  }
}

__global__ void activation_dropout_backward_kernel(nn::Activation act, const float* y, std::int64_t ldy,
                                                   float* g, std::int64_t ldg, std::int64_t rows,
                                                   std::int64_t cols, float slope, bool dropped_zero,
                                                   float scale, float unscale) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::int64_t r = i / cols, c = i % cols;
    const float yv = y[r * ldy + c];
    float& gv = g[r * ldg + c];
    const float d = derivative_from_output(act, yv * unscale, slope);
    gv = (dropped_zero && yv == 0.f) ? 0.f : gv * d * scale;
  }
}

__global__ void ones_kernel(float* p, std::int64_t n) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    p[i] = 1.f;
}

__global__ void add_bias_rows_kernel(float* out, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                                     const float* __restrict__ bias) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[(i / cols) * ld + i % cols] += bias[i % cols];
}

// Column sums in two passes: block b of the grid sums rows [b R / B, (b + 1) R / B) of the
// columns its threads cover into partial[b, :] (threads across columns: coalesced row reads),
// then one thread per column adds the B partials in order. No atomics, the same result in
// every run.
constexpr int kSumChunks = 64;
// With row_scale (GAT's attention-vector gradient), row r's column c counts
// row_scale[r * heads + c / C] times.
__global__ void column_partial_sums_kernel(const float* __restrict__ x, std::int64_t rows, std::int64_t cols,
                                           std::int64_t ld, const float* __restrict__ row_scale, int heads,
                                           std::int64_t C, float* __restrict__ partial) {
  const std::int64_t chunk = blockIdx.y;
  const std::int64_t r0 = rows * chunk / kSumChunks, r1 = rows * (chunk + 1) / kSumChunks;
  for (std::int64_t c = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
       c += std::int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.f;
    const std::int64_t h = row_scale ? c / C : 0;
    for (std::int64_t r = r0; r < r1; ++r) acc += x[r * ld + c] * (row_scale ? row_scale[r * heads + h] : 1.f);
    partial[chunk * cols + c] = acc;
  }
}
__global__ void add_partial_sums_kernel(const float* __restrict__ partial, std::int64_t cols, float* out) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t c = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += stride) {
    float acc = 0.f;
    for (int b = 0; b < kSumChunks; ++b) acc += partial[b * cols + c];
    out[c] += acc;
  }
}

__global__ void scale_add_kernel(float* dst, std::int64_t ldd, const float* __restrict__ src, std::int64_t lds,
                                 std::int64_t rows, std::int64_t cols, float alpha, float beta) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::int64_t r = i / cols, c = i % cols;
    float& d = dst[r * ldd + c];
    const float a = alpha * src[r * lds + c];
    d = beta == 0.f ? a : beta * d + a;
  }
}

__global__ void scale_kernel(float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float s) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float& v = x[(i / cols) * ld + i % cols];
    v = s == 0.f ? 0.f : v * s;  // 0 clears NaN too: a product over an empty K
  }
}

// Sum of squares: each block reduces a fixed slice [b n / B, (b + 1) n / B) in shared memory
// (fixed tree order), the host adds the B block sums in order.
constexpr int kSquareBlocks = 256;
__global__ void sum_squares_kernel(const float* __restrict__ x, std::int64_t n, double* block_sums) {
  __shared__ double shared[kThreads];
  const std::int64_t b0 = n * blockIdx.x / gridDim.x, b1 = n * (blockIdx.x + 1) / gridDim.x;
  double acc = 0;
  for (std::int64_t i = b0 + threadIdx.x; i < b1; i += blockDim.x) acc += double(x[i]) * double(x[i]);
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) block_sums[blockIdx.x] = shared[0];
}

__global__ void sgd_kernel(train_detail::SgdStep step, float* w, const float* __restrict__ g, float* buf,
                           std::int64_t n) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t j = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += stride)
    train_detail::sgd_element(step, w[j], g[j], buf ? buf + j : nullptr);
}

__global__ void adam_kernel(train_detail::AdamStep step, float* w, const float* __restrict__ g, float* m,
                            float* v, std::int64_t n) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t j = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += stride)
    train_detail::adam_element(step, w[j], g[j], m[j], v[j]);
}

__global__ void binary_loss_kernel(train_detail::BinaryLossTerm term, const float* __restrict__ x, std::int64_t stride,
                                   std::int64_t n, const float* __restrict__ t, const float* __restrict__ w,
                                   double inv, double* __restrict__ loss, float* grad, std::int64_t grad_stride) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    double dx = 0;
    loss[i] = train_detail::binary_term(term, double(x[i * stride]), double(t[i]), w ? double(w[i]) : 1.0, inv,
                                        grad ? &dx : nullptr);
    if (grad) grad[i * grad_stride] = float(dx);
  }
}

__global__ void bpr_kernel(const float* __restrict__ pos, std::int64_t ps, const float* __restrict__ neg,
                           std::int64_t ns0, std::int64_t ns1, std::int64_t n, std::int64_t k, double inv,
                           double* __restrict__ loss, float* pos_grad, std::int64_t pgs, float* neg_grad,
                           std::int64_t gs0, std::int64_t gs1) {
  const std::int64_t step = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const double p = pos[i * ps];
    double l = 0, dpos = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      const double diff = double(neg[i * ns0 + j * ns1]) - p;
      const double s = train_detail::sigmoid(diff);
      l += train_detail::softplus(diff);
      dpos -= s;
      if (neg_grad) neg_grad[i * gs0 + j * gs1] = float(s * inv);
    }
    if (pos_grad) pos_grad[i * pgs] = float(dpos * inv);
    loss[i] = l;
  }
}

// One warp per row: the max, the sum of exponentials and the loss in double, as the CPU's.
__global__ void cross_entropy_kernel(const float* __restrict__ x, std::int64_t ld, std::int64_t n,
                                     std::int64_t c, const std::int64_t* __restrict__ labels, double inv,
                                     double* row_loss, float* grad, std::int64_t ldg) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t i = warp_id(); i < n; i += warp_count()) {
    const std::int64_t y = labels[i];
    const float* row = x + i * ld;
    if (y < 0) {
      if (grad)
        for (std::int64_t j = lane; j < c; j += kWarp) grad[i * ldg + j] = 0.f;
      if (lane == 0) row_loss[i] = 0;
      continue;
    }
    double m = -HUGE_VAL;
    for (std::int64_t j = lane; j < c; j += kWarp) m = fmax(m, double(row[j]));
    for (int o = kWarp / 2; o > 0; o /= 2) m = fmax(m, __shfl_xor_sync(0xffffffffu, m, o));
    double sum = 0;
    for (std::int64_t j = lane; j < c; j += kWarp) sum += exp(double(row[j]) - m);
    for (int o = kWarp / 2; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    const double lse = m + log(sum);
    if (grad)
      for (std::int64_t j = lane; j < c; j += kWarp)
        grad[i * ldg + j] = float((exp(double(row[j]) - lse) - (j == y ? 1.0 : 0.0)) * inv);
    if (lane == 0) row_loss[i] = lse - double(row[y]);
  }
}

// GAT. A warp per row; per head, lanes stride over that head's C columns (or the row's edges)
// and the warp reduces.
__global__ void head_dots_kernel(const float* __restrict__ x, std::int64_t ldx, std::int64_t rows, int heads,
                                 std::int64_t C, const float* __restrict__ att, float* __restrict__ a) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t i = warp_id(); i < rows; i += warp_count())
    for (int h = 0; h < heads; ++h) {
      float acc = 0.f;
      for (std::int64_t c = lane; c < C; c += kWarp) acc += x[i * ldx + h * C + c] * att[h * C + c];
      acc = warp_sum(acc);
      if (lane == 0) a[i * heads + h] = acc;
    }
}

__global__ void head_scale_add_kernel(const float* __restrict__ ga, const float* __restrict__ att, int heads,
                                      std::int64_t C, std::int64_t rows, float* g, std::int64_t ldg) {
  const std::int64_t F = heads * C, n = rows * F, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t k = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const std::int64_t i = k / F, c = k % F;
    g[i * ldg + c] += ga[i * heads + c / C] * att[c];
  }
}

__global__ void gat_attention_forward_kernel(DeviceCsc csc, const float* __restrict__ a_src,
                                             const float* __restrict__ a_dst, int heads, float slope,
                                             float* __restrict__ scores, float* __restrict__ alpha) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t v = warp_id(); v < csc.num_rows; v += warp_count()) {
    const std::int64_t e0 = csc.indptr[v], e1 = csc.indptr[v + 1];
    for (int h = 0; h < heads; ++h) {
      const float ad = a_dst[v * heads + h];
      float m = -INFINITY;
      for (std::int64_t e = e0 + lane; e < e1; e += kWarp) {
        const float z = a_src[std::int64_t(csc.indices[e]) * heads + h] + ad;
        const float sz = z > 0.f ? z : slope * z;
        scores[e * heads + h] = sz;
        m = fmaxf(m, sz);
      }
      m = warp_max(m);
      float sum = 0.f;
      for (std::int64_t e = e0 + lane; e < e1; e += kWarp) {
        const float p = expf(scores[e * heads + h] - m);
        alpha[e * heads + h] = p;
        sum += p;
      }
      const float inv = 1.f / warp_sum(sum);
      for (std::int64_t e = e0 + lane; e < e1; e += kWarp) alpha[e * heads + h] *= inv;
    }
  }
}

__global__ void gat_attention_backward_kernel(DeviceCsc csc, const float* __restrict__ scores,
                                              const float* __restrict__ alpha, int heads, float slope,
                                              float* __restrict__ grad) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t v = warp_id(); v < csc.num_rows; v += warp_count()) {
    const std::int64_t e0 = csc.indptr[v], e1 = csc.indptr[v + 1];
    for (int h = 0; h < heads; ++h) {
      float dot = 0.f;
      for (std::int64_t e = e0 + lane; e < e1; e += kWarp) dot += alpha[e * heads + h] * grad[e * heads + h];
      dot = warp_sum(dot);
      for (std::int64_t e = e0 + lane; e < e1; e += kWarp) {
        const std::int64_t k = e * heads + h;
        const float gs = alpha[k] * (grad[k] - dot);
        grad[k] = scores[k] > 0.f ? gs : slope * gs;
      }
    }
  }
}

__global__ void gat_aggregate_backward_kernel(DeviceCsc csc, const float* __restrict__ g, std::int64_t ldg,
                                              const float* __restrict__ h_src, std::int64_t ldh, std::int64_t F,
                                              const float* __restrict__ w, int heads, float* grad_h_src,
                                              std::int64_t ldx, float* __restrict__ grad_w) {
  const int lane = int(threadIdx.x % kWarp);
  const std::int64_t C = F / heads;
  for (std::int64_t v = warp_id(); v < csc.num_rows; v += warp_count()) {
    const float* gv = g + v * ldg;
    for (std::int64_t e = csc.indptr[v]; e < csc.indptr[v + 1]; ++e) {
      const std::int64_t u = csc.indices[e];
      const float* hu = h_src + u * ldh;
      float* gx = grad_h_src + u * ldx;
      for (int h = 0; h < heads; ++h) {
        const float we = w[e * heads + h];
        float dot = 0.f;
        for (std::int64_t c = h * C + lane; c < (h + 1) * C; c += kWarp) {
          dot += gv[c] * hu[c];
          atomicAdd(gx + c, we * gv[c]);
        }
        dot = warp_sum(dot);
        if (lane == 0) grad_w[e * heads + h] = dot;
      }
    }
  }
}

__global__ void edge_sum_to_dst_kernel(DeviceCsc csc, const float* __restrict__ values, int heads,
                                       float* __restrict__ out) {
  const std::int64_t n = csc.num_rows * heads, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t k = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const std::int64_t v = k / heads, h = k % heads;
    float acc = 0.f;
    for (std::int64_t e = csc.indptr[v]; e < csc.indptr[v + 1]; ++e) acc += values[e * heads + h];
    out[k] = acc;
  }
}

__global__ void edge_sum_to_src_kernel(DeviceCsc csc, const float* __restrict__ values, int heads, float* out) {
  const std::int64_t n = csc.num_edges * heads, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t k = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride)
    atomicAdd(out + std::int64_t(csc.indices[k / heads]) * heads + k % heads, values[k]);
}

// mean_heads (spread false): out[i, c] = mean over h of x[i, h C + c]; spread_heads (true):
// out[i, h C + c] = x[i, c] / heads.
__global__ void heads_kernel(const float* __restrict__ x, std::int64_t ldx, std::int64_t rows, int heads,
                             std::int64_t C, bool spread, float* __restrict__ out) {
  const std::int64_t width = spread ? heads * C : C, n = rows * width;
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t k = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const std::int64_t i = k / width, c = k % width;
    if (spread) {
      out[k] = x[i * ldx + c % C] / float(heads);
    } else {
      float acc = 0.f;
      for (int h = 0; h < heads; ++h) acc += x[i * ldx + h * C + c];
      out[k] = acc / float(heads);
    }
  }
}

void zero_rows(float* p, std::int64_t rows, std::int64_t cols, std::int64_t ld, cudaStream_t s) {
  if (rows == 0 || cols == 0) return;
  if (ld == cols) {
    GNNKIT_CUDA_CHECK(cudaMemsetAsync(p, 0, std::size_t(rows * cols) * sizeof(float), s));
    return;
  }
  zero_rows_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, s>>>(p, rows, cols, ld);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void spmm_forward(const DeviceCsc& csc, const float* x, std::int64_t ldx, std::int64_t F,
                  const float* edge_weight, bool mean, float* out, std::int64_t ldo,
                  CUstream_st* stream, int heads) {
  if (csc.num_rows == 0 || F == 0) return;
  GNNKIT_EXPECTS_AS(InvalidArgument, "spmm_forward", heads >= 1 && F % heads == 0,
                    "'heads' ({}) must divide the feature width {}", heads, F);
  spmm_forward_kernel<<<blocks_for_rows(csc.num_rows), kThreads, 0, stream>>>(csc, x, ldx, F, edge_weight,
                                                                            mean, out, ldo, heads);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void spmm_backward_x(const DeviceCsc& csc, const float* grad_out, std::int64_t ldg, std::int64_t F,
                     const float* edge_weight, bool mean, float* grad_x, std::int64_t ldx,
                     bool accumulate, CUstream_st* stream) {
  if (!accumulate) zero_rows(grad_x, csc.num_cols, F, ldx, stream);
  if (csc.num_rows == 0 || F == 0) return;
  spmm_backward_kernel<<<blocks_for_rows(csc.num_rows), kThreads, 0, stream>>>(csc, grad_out, ldg, F,
                                                                             edge_weight, mean, grad_x, ldx);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void spmm_max_forward(const DeviceCsc& csc, const float* x, std::int64_t ldx, std::int64_t F,
                      const float* edge_weight, float* out, std::int64_t ldo, std::int32_t* argmax,
                      CUstream_st* stream) {
  if (csc.num_rows == 0 || F == 0) return;
  spmm_max_forward_kernel<<<blocks_for_rows(csc.num_rows), kThreads, 0, stream>>>(csc, x, ldx, F, edge_weight, out,
                                                                                ldo, argmax);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void spmm_max_backward_x(const DeviceCsc& csc, const float* grad_out, std::int64_t ldg, std::int64_t F,
                         const float* edge_weight, const std::int32_t* argmax, float* grad_x, std::int64_t ldx,
                         bool accumulate, CUstream_st* stream) {
  if (!accumulate) zero_rows(grad_x, csc.num_cols, F, ldx, stream);
  if (csc.num_rows == 0 || F == 0) return;
  spmm_max_backward_kernel<<<blocks_for(csc.num_rows * F, kThreads), kThreads, 0, stream>>>(
      csc, grad_out, ldg, F, edge_weight, argmax, grad_x, ldx);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void max_combine(float* out, std::int64_t ldo, const float* y, std::int64_t ldy, std::int64_t rows,
                 std::int64_t cols, std::int8_t* winner, std::int8_t index, CUstream_st* stream) {
  if (rows == 0 || cols == 0) return;
  max_combine_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, stream>>>(out, ldo, y, ldy, rows, cols,
                                                                                winner, index);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void mask_winner(float* grad, std::int64_t ld, std::int64_t rows, std::int64_t cols, const std::int8_t* winner,
                 std::int8_t index, CUstream_st* stream) {
  if (rows == 0 || cols == 0) return;
  mask_winner_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, stream>>>(grad, ld, rows, cols, winner,
                                                                                index);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void gather_rows(const float* x, std::int64_t ldx, std::int64_t F, const std::int64_t* index,
                 std::int64_t n, float* out, std::int64_t ldo, CUstream_st* stream) {
  if (n == 0 || F == 0) return;
  gather_rows_kernel<<<blocks_for_rows(n), kThreads, 0, stream>>>(x, ldx, F, index, n, out, ldo);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void activation_dropout_forward(nn::Activation act, float* x, std::int64_t rows, std::int64_t cols,
                                std::int64_t ld, float negative_slope, double p, std::uint64_t key,
                                CUstream_st* stream) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "activation_dropout_forward", p >= 0 && p < 1,
                    "'p' must be in [0, 1), got {}", p);
  if (rows == 0 || cols == 0 || (act == nn::Activation::kNone && p == 0)) return;
  activation_dropout_forward_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, stream>>>(
      act, x, rows, cols, ld, negative_slope, p > 0, nn::DropoutMask(key, p), float(1 / (1 - p)));
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void activation_dropout_backward(nn::Activation act, const float* y, std::int64_t ldy, float* grad,
                                 std::int64_t ldg, std::int64_t rows, std::int64_t cols,
                                 float negative_slope, double p, CUstream_st* stream) {
  if (rows == 0 || cols == 0) return;
  activation_dropout_backward_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, stream>>>(
      act, y, ldy, grad, ldg, rows, cols, negative_slope, p > 0, float(1 / (1 - p)), float(1 - p));
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void sgemm(cublasContext* handle, bool trans_a, bool trans_b, std::int64_t M, std::int64_t N,
           std::int64_t K, float alpha, const float* A, std::int64_t lda, const float* B,
           std::int64_t ldb, float beta, float* C, std::int64_t ldc, bool allow_tf32) {
  for (const std::int64_t d : {M, N, K, lda, ldb, ldc})
    GNNKIT_EXPECTS_AS(InvalidArgument, "sgemm", d >= 0 && d <= INT_MAX,
                      "dimensions and leading dimensions must fit cuBLAS's int, got {}", d);
  if (M == 0 || N == 0) return;
  GNNKIT_CUBLAS_CHECK(cublasSetMathMode(handle, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: B's storage seen
  // column-major is op(B)^T untransposed (trans_b: transposed), and likewise A.
  GNNKIT_CUBLAS_CHECK(cublasSgemm(handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  int(N), int(M), int(K), &alpha, B, int(ldb), A, int(lda), &beta, C, int(ldc)));
}

void add_bias_rows(float* out, std::int64_t rows, std::int64_t cols, std::int64_t ld, const float* bias,
                   CUstream_st* stream) {
  if (rows == 0 || cols == 0) return;
  add_bias_rows_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, stream>>>(out, rows, cols, ld, bias);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

// out[c] += sum over rows of x[r, c] (times row_scale[r, c / C] when given).
static void column_sums_into(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                             const float* row_scale, int heads, std::int64_t C, float* out, cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  const Scratch partial(std::size_t(kSumChunks * cols) * sizeof(float));
  const dim3 grid(blocks_for(cols, kThreads), kSumChunks);
  column_partial_sums_kernel<<<grid, kThreads, 0, stream>>>(x, rows, cols, ld, row_scale, heads, C,
                                                            partial.as<float>());
  GNNKIT_CUDA_CHECK(cudaGetLastError());
  add_partial_sums_kernel<<<blocks_for(cols, kThreads), kThreads, 0, stream>>>(partial.as<float>(), cols, out);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void add_column_sums(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float* out,
                     CUstream_st* stream) {
  column_sums_into(x, rows, cols, ld, nullptr, 1, 1, out, stream);
}

void head_dots(const float* x, std::int64_t ldx, std::int64_t rows, int heads, std::int64_t C, const float* att,
               float* a, CUstream_st* stream) {
  if (rows == 0) return;
  head_dots_kernel<<<blocks_for_rows(rows), kThreads, 0, stream>>>(x, ldx, rows, heads, C, att, a);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void head_dots_backward(const float* x, std::int64_t ldx, std::int64_t rows, int heads, std::int64_t C,
                        const float* ga, const float* att, float* grad_x, std::int64_t ldg, float* att_grad,
                        CUstream_st* stream) {
  if (rows == 0) return;
  column_sums_into(x, rows, heads * C, ldx, ga, heads, C, att_grad, stream);
  head_scale_add_kernel<<<blocks_for(rows * heads * C, kThreads), kThreads, 0, stream>>>(ga, att, heads, C, rows,
                                                                                      grad_x, ldg);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void gat_attention_forward(const DeviceCsc& csc, const float* a_src, const float* a_dst, int heads,
                           float negative_slope, float* scores, float* alpha, CUstream_st* stream) {
  if (csc.num_rows == 0) return;
  gat_attention_forward_kernel<<<blocks_for_rows(csc.num_rows), kThreads, 0, stream>>>(
      csc, a_src, a_dst, heads, negative_slope, scores, alpha);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void gat_attention_backward(const DeviceCsc& csc, const float* scores, const float* alpha, int heads,
                            float negative_slope, float* grad, CUstream_st* stream) {
  if (csc.num_rows == 0) return;
  gat_attention_backward_kernel<<<blocks_for_rows(csc.num_rows), kThreads, 0, stream>>>(
      csc, scores, alpha, heads, negative_slope, grad);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void gat_aggregate_backward(const DeviceCsc& csc, const float* g, std::int64_t ldg, const float* h_src,
                            std::int64_t ldh, std::int64_t F, const float* w, int heads, float* grad_h_src,
                            std::int64_t ldx, float* grad_w, CUstream_st* stream) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "gat_aggregate_backward", heads >= 1 && F % heads == 0,
                    "'heads' ({}) must divide the feature width {}", heads, F);
  zero_rows(grad_h_src, csc.num_cols, F, ldx, stream);
  if (csc.num_rows == 0) return;
  gat_aggregate_backward_kernel<<<blocks_for_rows(csc.num_rows), kThreads, 0, stream>>>(
      csc, g, ldg, h_src, ldh, F, w, heads, grad_h_src, ldx, grad_w);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void edge_sum_to_dst(const DeviceCsc& csc, const float* values, int heads, float* out, CUstream_st* stream) {
  if (csc.num_rows == 0) return;
  edge_sum_to_dst_kernel<<<blocks_for(csc.num_rows * heads, kThreads), kThreads, 0, stream>>>(csc, values, heads,
                                                                                           out);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void edge_sum_to_src(const DeviceCsc& csc, const float* values, int heads, float* out, CUstream_st* stream) {
  zero_rows(out, csc.num_cols, heads, heads, stream);
  if (csc.num_edges == 0) return;
  edge_sum_to_src_kernel<<<blocks_for(csc.num_edges * heads, kThreads), kThreads, 0, stream>>>(csc, values, heads,
                                                                                            out);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void mean_heads(const float* x, std::int64_t ldx, std::int64_t rows, int heads, std::int64_t C, float* out,
                CUstream_st* stream) {
  if (rows == 0 || C == 0) return;
  heads_kernel<<<blocks_for(rows * C, kThreads), kThreads, 0, stream>>>(x, ldx, rows, heads, C, false, out);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void spread_heads(const float* g, std::int64_t ldg, std::int64_t rows, int heads, std::int64_t C, float* out,
                  CUstream_st* stream) {
  if (rows == 0 || C == 0) return;
  heads_kernel<<<blocks_for(rows * heads * C, kThreads), kThreads, 0, stream>>>(g, ldg, rows, heads, C, true, out);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void scale_add(float* dst, std::int64_t ldd, const float* src, std::int64_t lds, std::int64_t rows,
               std::int64_t cols, float alpha, float beta, CUstream_st* stream) {
  if (rows == 0 || cols == 0) return;
  scale_add_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, stream>>>(dst, ldd, src, lds, rows, cols,
                                                                              alpha, beta);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void scale(float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float s, CUstream_st* stream) {
  if (rows == 0 || cols == 0) return;
  scale_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, stream>>>(x, rows, cols, ld, s);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

double sum_squares(const float* x, std::int64_t n, CUstream_st* stream) {
  if (n == 0) return 0;
  const Scratch sums(kSquareBlocks * sizeof(double));
  sum_squares_kernel<<<kSquareBlocks, kThreads, 0, stream>>>(x, n, sums.as<double>());
  GNNKIT_CUDA_CHECK(cudaGetLastError());
  double host[kSquareBlocks];
  GNNKIT_CUDA_CHECK(cudaMemcpyAsync(host, sums.as<double>(), sizeof host, cudaMemcpyDeviceToHost, stream));
  GNNKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  double total = 0;
  for (const double b : host) total += b;
  return total;
}

void sgd_update(const train_detail::SgdStep& step, float* w, const float* g, float* buf, std::int64_t n,
                CUstream_st* stream) {
  if (n == 0) return;
  sgd_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(step, w, g, buf, n);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void adam_update(const train_detail::AdamStep& step, float* w, const float* g, float* m, float* v,
                 std::int64_t n, CUstream_st* stream) {
  if (n == 0) return;
  adam_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(step, w, g, m, v, n);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void binary_loss_rows(const train_detail::BinaryLossTerm& term, const float* logits, std::int64_t stride,
                      std::int64_t n, const float* targets, const float* weights, double inv, double* loss,
                      float* grad, std::int64_t grad_stride, CUstream_st* stream) {
  if (n == 0) return;
  binary_loss_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(term, logits, stride, n, targets, weights, inv,
                                                                      loss, grad, grad_stride);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void bpr_rows(const float* pos, std::int64_t pos_stride, const float* neg, std::int64_t ns0, std::int64_t ns1,
              std::int64_t n, std::int64_t k, double inv, double* loss, float* pos_grad, std::int64_t pgs,
              float* neg_grad, std::int64_t gs0, std::int64_t gs1, CUstream_st* stream) {
  if (n == 0) return;
  bpr_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(pos, pos_stride, neg, ns0, ns1, n, k, inv, loss,
                                                              pos_grad, pgs, neg_grad, gs0, gs1);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void cross_entropy_rows(const float* logits, std::int64_t ld, std::int64_t n, std::int64_t c,
                        const std::int64_t* labels, double inv_count, double* row_loss, float* grad,
                        std::int64_t ldg, CUstream_st* stream) {
  if (n == 0) return;
  cross_entropy_kernel<<<blocks_for_rows(n), kThreads, 0, stream>>>(logits, ld, n, c, labels, inv_count,
                                                                   row_loss, grad, ldg);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

struct CusparseSpmm::State {
  CusparseCsr csr;
  std::int64_t width = -1;  // the feature width of the dense descriptors (x, out)
  State(cusparseHandle_t handle, const DeviceCsc& csc, cudaStream_t stream)
      : csr(handle, csc, stream, "CusparseSpmm") {}
};

CusparseSpmm::CusparseSpmm(cusparseContext* handle, const DeviceCsc& csc, const float* edge_weight,
                           CUstream_st* stream)
    : state_(std::make_unique<State>(handle, csc, stream)) {
  State& s = *state_;
  const float* values = edge_weight;
  if (!values) {  // an unweighted adjacency: ones
    float* ones = s.csr.values_buffer(std::size_t(csc.num_edges));
    if (csc.num_edges > 0) {
      ones_kernel<<<blocks_for(csc.num_edges, kThreads), kThreads, 0, stream>>>(ones, csc.num_edges);
      GNNKIT_CUDA_CHECK(cudaGetLastError());
    }
    values = ones;
  }
  s.csr.create_matrix(const_cast<float*>(values));
}

CusparseSpmm::~CusparseSpmm() = default;

void CusparseSpmm::run(const float* x, std::int64_t F, float* out) {
  State& s = *state_;
  CusparseCsr& c = s.csr;
  if (c.csc.num_rows == 0 || F == 0) return;
  const float alpha = 1.f, beta = 0.f;
  GNNKIT_CUSPARSE_CHECK(cusparseSetStream(c.handle, c.stream));
  if (F != s.width) {
    c.set_dense(0, c.csc.num_cols, F, F, x);
    c.set_dense(1, c.csc.num_rows, F, F, out);
    std::size_t bytes = 0;
    GNNKIT_CUSPARSE_CHECK(cusparseSpMM_bufferSize(c.handle, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                  CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, c.matrix, c.dense[0],
                                                  &beta, c.dense[1], CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
    c.reserve(bytes);
    s.width = F;
  } else {
    GNNKIT_CUSPARSE_CHECK(cusparseDnMatSetValues(c.dense[0], const_cast<float*>(x)));
    GNNKIT_CUSPARSE_CHECK(cusparseDnMatSetValues(c.dense[1], out));
  }
  GNNKIT_CUSPARSE_CHECK(cusparseSpMM(c.handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                     &alpha, c.matrix, c.dense[0], &beta, c.dense[1], CUDA_R_32F,
                                     CUSPARSE_SPMM_ALG_DEFAULT, c.buffer));
}

}  // namespace gnnkit::kernels::cuda
