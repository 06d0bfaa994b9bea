// Normalisations on the GPU (include/gnnkit/kernels/cuda_ops.hpp): row L2 normalisation and
// layer normalisation, forward and backward, and the finiteness check of the layers' inputs.
// A warp per row, the row's sums in double as on the CPU (nn/functional.hpp), whose
// arithmetic each kernel repeats step by step.
#include <climits>

#include "check.cuh"
#include "launch.cuh"
#include "gnnkit/kernels/cuda_ops.hpp"

namespace gnnkit::kernels::cuda {
namespace {

__global__ void normalize_rows_kernel(float* x, std::int64_t ld, std::int64_t rows, std::int64_t cols,
                                      double* __restrict__ norms) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t i = warp_id(); i < rows; i += warp_count()) {
    float* r = x + i * ld;
    double s = 0;
    for (std::int64_t j = lane; j < cols; j += kWarp) s += double(r[j]) * r[j];
    const double root = sqrt(warp_sum(s));
    const double n = root < 1e-12 ? 1e-12 : root;  // std::max(root, 1e-12): NaN stays NaN
    for (std::int64_t j = lane; j < cols; j += kWarp) r[j] = float(r[j] / n);
    if (lane == 0) norms[i] = n;
  }
}

__global__ void normalize_rows_backward_kernel(const float* __restrict__ y, std::int64_t ldy,
                                               const double* __restrict__ norms, float* grad, std::int64_t ldg,
                                               std::int64_t rows, std::int64_t cols) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t i = warp_id(); i < rows; i += warp_count()) {
    const float* yr = y + i * ldy;
    float* g = grad + i * ldg;
    const double n = norms[i];
    if (n <= 1e-12) {  // the clamped norm: y = x / eps, a plain scale
      for (std::int64_t j = lane; j < cols; j += kWarp) g[j] = float(g[j] / n);
      continue;
    }
    double dot = 0;
    for (std::int64_t j = lane; j < cols; j += kWarp) dot += double(g[j]) * yr[j];
    dot = warp_sum(dot);
    for (std::int64_t j = lane; j < cols; j += kWarp) g[j] = float((g[j] - yr[j] * dot) / n);
  }
}

__global__ void layer_norm_kernel(const float* __restrict__ x, std::int64_t ldx, std::int64_t rows,
                                  std::int64_t cols, const float* __restrict__ gamma, const float* __restrict__ beta,
                                  double eps, float* __restrict__ y, float* __restrict__ xhat,
                                  double* __restrict__ inv_std) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t i = warp_id(); i < rows; i += warp_count()) {
    const float* r = x + i * ldx;
    double mean = 0, var = 0;
    for (std::int64_t j = lane; j < cols; j += kWarp) mean += r[j];
    mean = warp_sum(mean) / double(cols);
    for (std::int64_t j = lane; j < cols; j += kWarp) var += (r[j] - mean) * (r[j] - mean);
    var = warp_sum(var) / double(cols);
    const double is = 1 / sqrt(var + eps);
    if (lane == 0) inv_std[i] = is;
    for (std::int64_t j = lane; j < cols; j += kWarp) {
      const float h = float((r[j] - mean) * is);
      if (xhat) xhat[i * cols + j] = h;
      y[i * cols + j] = h * gamma[j] + beta[j];
    }
  }
}

// gx = is / cols * (cols gy gamma - s1 - xhat s2), s1 = sum gy gamma, s2 = sum gy gamma xhat;
// prod = gy * xhat (the gain's gradient before its column sums).
__global__ void layer_norm_backward_kernel(const float* __restrict__ xhat, std::int64_t rows, std::int64_t cols,
                                           const float* __restrict__ gamma, const double* __restrict__ inv_std,
                                           const float* __restrict__ gy, std::int64_t ldg, float* __restrict__ gx,
                                           float* __restrict__ prod) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t i = warp_id(); i < rows; i += warp_count()) {
    const float* g = gy + i * ldg;
    const float* h = xhat + i * cols;
    double s1 = 0, s2 = 0;
    for (std::int64_t j = lane; j < cols; j += kWarp) {
      const double d = double(g[j]) * gamma[j];
      s1 += d;
      s2 += d * h[j];
      prod[i * cols + j] = g[j] * h[j];
    }
    s1 = warp_sum(s1);
    s2 = warp_sum(s2);
    const double is = inv_std[i];
    for (std::int64_t j = lane; j < cols; j += kWarp)
      gx[i * cols + j] = float(is / double(cols) * (double(cols) * g[j] * gamma[j] - s1 - h[j] * s2));
  }
}

__global__ void first_non_finite_kernel(const float* __restrict__ x, std::int64_t ld, std::int64_t rows,
                                        std::int64_t cols, unsigned long long* first) {
  const std::int64_t n = rows * cols, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t k = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const std::int64_t i = k / cols, j = k % cols;
    if (!isfinite(x[i * ld + j])) atomicMin(first, static_cast<unsigned long long>(k));
  }
}

}  // namespace

void normalize_rows_forward(float* x, std::int64_t ld, std::int64_t rows, std::int64_t cols, double* norms,
                            CUstream_st* stream) {
  if (rows == 0) return;
  normalize_rows_kernel<<<blocks_for_rows(rows), kThreads, 0, stream>>>(x, ld, rows, cols, norms);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void normalize_rows_backward(const float* y, std::int64_t ldy, const double* norms, float* grad, std::int64_t ldg,
                             std::int64_t rows, std::int64_t cols, CUstream_st* stream) {
  if (rows == 0) return;
  normalize_rows_backward_kernel<<<blocks_for_rows(rows), kThreads, 0, stream>>>(y, ldy, norms, grad, ldg, rows,
                                                                                  cols);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void layer_norm_forward(const float* x, std::int64_t ldx, std::int64_t rows, std::int64_t cols, const float* gamma,
                        const float* beta, double eps, float* y, float* xhat, double* inv_std, CUstream_st* stream) {
  if (rows == 0) return;
  layer_norm_kernel<<<blocks_for_rows(rows), kThreads, 0, stream>>>(x, ldx, rows, cols, gamma, beta, eps, y, xhat,
                                                                     inv_std);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void layer_norm_backward(const float* xhat, std::int64_t rows, std::int64_t cols, const float* gamma,
                         const double* inv_std, const float* grad_y, std::int64_t ldg, float* grad_x,
                         float* gamma_grad, float* beta_grad, CUstream_st* stream) {
  if (rows == 0 || cols == 0) return;
  const Scratch prod(std::size_t(rows * cols) * sizeof(float));
  layer_norm_backward_kernel<<<blocks_for_rows(rows), kThreads, 0, stream>>>(xhat, rows, cols, gamma, inv_std,
                                                                              grad_y, ldg, grad_x, prod.as<float>());
  GNNKIT_CUDA_CHECK(cudaGetLastError());
  add_column_sums(prod.as<float>(), rows, cols, cols, gamma_grad, stream);
  add_column_sums(grad_y, rows, cols, ldg, beta_grad, stream);
}

std::int64_t first_non_finite(const float* x, std::int64_t ld, std::int64_t rows, std::int64_t cols,
                              CUstream_st* stream) {
  if (rows == 0 || cols == 0) return -1;
  const Scratch first(sizeof(unsigned long long));
  GNNKIT_CUDA_CHECK(cudaMemsetAsync(first.as<void>(), 0xff, sizeof(unsigned long long), stream));
  first_non_finite_kernel<<<blocks_for(rows * cols, kThreads), kThreads, 0, stream>>>(x, ld, rows, cols,
                                                                                       first.as<unsigned long long>());
  GNNKIT_CUDA_CHECK(cudaGetLastError());
  unsigned long long host = 0;
  GNNKIT_CUDA_CHECK(cudaMemcpyAsync(&host, first.as<unsigned long long>(), sizeof host, cudaMemcpyDeviceToHost, stream));
  GNNKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  return host == ULLONG_MAX ? -1 : std::int64_t(host);
}

}  // namespace gnnkit::kernels::cuda
