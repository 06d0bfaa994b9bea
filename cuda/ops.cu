// The layer ops on the GPU (include/gnnkit/kernels/cuda_ops.hpp): one warp per row for the
// row-wise kernels (lanes across features: coalesced 128-byte reads of feature rows), one
// thread per element for the elementwise ones.
#include <algorithm>
#include <climits>

#include "check.cuh"
#include "gnnkit/kernels/cuda_ops.hpp"

namespace gnnkit::kernels::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;  // 8 warps per block
constexpr std::int64_t kMaxBlocks = std::int64_t(1) << 20;  // grid-stride loops past this

unsigned blocks_for(std::int64_t work_items, std::int64_t items_per_block) {
  const std::int64_t b = (work_items + items_per_block - 1) / items_per_block;
  return unsigned(std::clamp<std::int64_t>(b, 1, kMaxBlocks));
}
unsigned blocks_for_rows(std::int64_t rows) { return blocks_for(rows, kThreads / kWarp); }

__device__ inline std::int64_t warp_id() {
  return (std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
}
__device__ inline std::int64_t warp_count() { return std::int64_t(gridDim.x) * blockDim.x / kWarp; }

// The factor of a destination row's sum: 1 / in-degree for mean (rows without edges stay 0).
__device__ inline float row_scale(bool mean, std::int64_t e0, std::int64_t e1) {
  return mean && e1 > e0 ? 1.f / float(e1 - e0) : 1.f;
}

// Four column slices of 32 lanes per pass: four independent loads in flight per lane.
constexpr int kSlices = 4;

__global__ void spmm_forward_kernel(DeviceCsc csc, const float* __restrict__ x, std::int64_t ldx,
                                    std::int64_t F, const float* __restrict__ w, bool mean,
                                    float* __restrict__ out, std::int64_t ldo) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t v = warp_id(); v < csc.num_rows; v += warp_count()) {
    const std::int64_t e0 = csc.indptr[v], e1 = csc.indptr[v + 1];
    const float scale = row_scale(mean, e0, e1);
    for (std::int64_t c0 = 0; c0 < F; c0 += kSlices * kWarp) {
      float acc[kSlices] = {};
      for (std::int64_t e = e0; e < e1; ++e) {
        const float* xr = x + std::int64_t(csc.indices[e]) * ldx;
        const float we = w ? w[e] : 1.f;
#pragma unroll
        for (int k = 0; k < kSlices; ++k) {
          const std::int64_t c = c0 + k * kWarp + lane;
          if (c < F) acc[k] += we * xr[c];
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

__global__ void narrow_indptr_kernel(const std::int64_t* in, std::int32_t* out, std::int64_t n) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = std::int32_t(in[i]);
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
__global__ void column_partial_sums_kernel(const float* __restrict__ x, std::int64_t rows, std::int64_t cols,
                                           std::int64_t ld, float* __restrict__ partial) {
  const std::int64_t chunk = blockIdx.y;
  const std::int64_t r0 = rows * chunk / kSumChunks, r1 = rows * (chunk + 1) / kSumChunks;
  for (std::int64_t c = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols;
       c += std::int64_t(gridDim.x) * blockDim.x) {
    float acc = 0.f;
    for (std::int64_t r = r0; r < r1; ++r) acc += x[r * ld + c];
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
                  CUstream_st* stream) {
  if (csc.num_rows == 0 || F == 0) return;
  spmm_forward_kernel<<<blocks_for_rows(csc.num_rows), kThreads, 0, stream>>>(csc, x, ldx, F, edge_weight,
                                                                            mean, out, ldo);
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

void add_column_sums(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t ld, float* out,
                     CUstream_st* stream) {
  if (rows == 0 || cols == 0) return;
  float* partial = nullptr;
  GNNKIT_CUDA_CHECK(cudaMallocAsync(&partial, std::size_t(kSumChunks * cols) * sizeof(float), stream));
  const dim3 grid(blocks_for(cols, kThreads), kSumChunks);
  column_partial_sums_kernel<<<grid, kThreads, 0, stream>>>(x, rows, cols, ld, partial);
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) {
    add_partial_sums_kernel<<<blocks_for(cols, kThreads), kThreads, 0, stream>>>(partial, cols, out);
    status = cudaGetLastError();
  }
  GNNKIT_CUDA_CHECK(cudaFreeAsync(partial, stream));
  GNNKIT_CUDA_CHECK(status);
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
  double* sums = nullptr;
  GNNKIT_CUDA_CHECK(cudaMallocAsync(&sums, kSquareBlocks * sizeof(double), stream));
  sum_squares_kernel<<<kSquareBlocks, kThreads, 0, stream>>>(x, n, sums);
  double host[kSquareBlocks];
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) status = cudaMemcpyAsync(host, sums, sizeof host, cudaMemcpyDeviceToHost, stream);
  if (status == cudaSuccess) status = cudaStreamSynchronize(stream);
  GNNKIT_CUDA_CHECK(cudaFreeAsync(sums, stream));
  GNNKIT_CUDA_CHECK(status);
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

void cross_entropy_rows(const float* logits, std::int64_t ld, std::int64_t n, std::int64_t c,
                        const std::int64_t* labels, double inv_count, double* row_loss, float* grad,
                        std::int64_t ldg, CUstream_st* stream) {
  if (n == 0) return;
  cross_entropy_kernel<<<blocks_for_rows(n), kThreads, 0, stream>>>(logits, ld, n, c, labels, inv_count,
                                                                   row_loss, grad, ldg);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

struct CusparseSpmm::State {
  cusparseHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  DeviceCsc csc;
  std::int32_t* indptr32 = nullptr;
  float* ones = nullptr;
  cusparseSpMatDescr_t matrix = nullptr;
  // Per feature width: dense descriptors (pointers updated per call) and the buffer.
  std::int64_t width = -1;
  cusparseDnMatDescr_t x_desc = nullptr, out_desc = nullptr;
  void* buffer = nullptr;
  std::size_t buffer_bytes = 0;

  void drop_dense() {
    if (x_desc) cusparseDestroyDnMat(x_desc);
    if (out_desc) cusparseDestroyDnMat(out_desc);
    x_desc = out_desc = nullptr;
  }
  ~State() {
    drop_dense();
    if (matrix) cusparseDestroySpMat(matrix);
    cudaFree(indptr32);
    cudaFree(ones);
    cudaFree(buffer);
    (void)cudaGetLastError();
  }
};

CusparseSpmm::CusparseSpmm(cusparseContext* handle, const DeviceCsc& csc, const float* edge_weight,
                           CUstream_st* stream)
    : state_(std::make_unique<State>()) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "CusparseSpmm", csc.num_edges < INT_MAX && csc.num_rows < INT_MAX &&
                                                         csc.num_cols < INT_MAX,
                    "cuSPARSE's int32 CSR holds fewer than 2^31 edges and rows, got {} edges, {} x {}",
                    csc.num_edges, csc.num_rows, csc.num_cols);
  State& s = *state_;
  s.handle = handle;
  s.stream = stream;
  s.csc = csc;
  GNNKIT_CUDA_CHECK(cudaMalloc(&s.indptr32, std::size_t(csc.num_rows + 1) * sizeof(std::int32_t)));
  narrow_indptr_kernel<<<blocks_for(csc.num_rows + 1, kThreads), kThreads, 0, stream>>>(csc.indptr, s.indptr32,
                                                                                        csc.num_rows + 1);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
  const float* values = edge_weight;
  if (!values) {
    GNNKIT_CUDA_CHECK(cudaMalloc(&s.ones, std::size_t(std::max<std::int64_t>(csc.num_edges, 1)) * sizeof(float)));
    if (csc.num_edges > 0) {
      ones_kernel<<<blocks_for(csc.num_edges, kThreads), kThreads, 0, stream>>>(s.ones, csc.num_edges);
      GNNKIT_CUDA_CHECK(cudaGetLastError());
    }
    values = s.ones;
  }
  GNNKIT_CUSPARSE_CHECK(cusparseCreateCsr(&s.matrix, csc.num_rows, csc.num_cols, csc.num_edges, s.indptr32,
                                          const_cast<std::int32_t*>(csc.indices), const_cast<float*>(values),
                                          CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO,
                                          CUDA_R_32F));
}

CusparseSpmm::~CusparseSpmm() = default;

void CusparseSpmm::run(const float* x, std::int64_t F, float* out) {
  State& s = *state_;
  if (s.csc.num_rows == 0 || F == 0) return;
  const float alpha = 1.f, beta = 0.f;
  GNNKIT_CUSPARSE_CHECK(cusparseSetStream(s.handle, s.stream));
  if (F != s.width) {
    s.drop_dense();
    GNNKIT_CUSPARSE_CHECK(cusparseCreateDnMat(&s.x_desc, s.csc.num_cols, F, F, const_cast<float*>(x), CUDA_R_32F,
                                              CUSPARSE_ORDER_ROW));
    GNNKIT_CUSPARSE_CHECK(cusparseCreateDnMat(&s.out_desc, s.csc.num_rows, F, F, out, CUDA_R_32F, CUSPARSE_ORDER_ROW));
    std::size_t bytes = 0;
    GNNKIT_CUSPARSE_CHECK(cusparseSpMM_bufferSize(s.handle, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                  CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha, s.matrix, s.x_desc,
                                                  &beta, s.out_desc, CUDA_R_32F, CUSPARSE_SPMM_ALG_DEFAULT, &bytes));
    if (bytes > s.buffer_bytes) {
      cudaFree(s.buffer);
      s.buffer = nullptr;
      s.buffer_bytes = 0;
      GNNKIT_CUDA_CHECK(cudaMalloc(&s.buffer, bytes));
      s.buffer_bytes = bytes;
    }
    s.width = F;
  } else {
    GNNKIT_CUSPARSE_CHECK(cusparseDnMatSetValues(s.x_desc, const_cast<float*>(x)));
    GNNKIT_CUSPARSE_CHECK(cusparseDnMatSetValues(s.out_desc, out));
  }
  GNNKIT_CUSPARSE_CHECK(cusparseSpMM(s.handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                     &alpha, s.matrix, s.x_desc, &beta, s.out_desc, CUDA_R_32F,
                                     CUSPARSE_SPMM_ALG_DEFAULT, s.buffer));
}

}  // namespace gnnkit::kernels::cuda
