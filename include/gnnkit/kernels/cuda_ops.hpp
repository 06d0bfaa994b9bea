#pragma once
/// @file
/// The layer ops on CUDA device memory, float32: SpMM aggregation (own kernel and
/// cusparseSpMM), its input gradient, row gathers, activation + dropout forward and backward,
/// and row-major GEMM through cuBLAS. Plain pointers into device memory and the Context's
/// stream / handles; no CUDA header here. Defined in cuda/ops.cu, or in cuda_stub.cpp (which
/// throws NotCompiled) when CUDA is off. Every op has a CPU twin it is tested against
/// (tests/cpp/cuda/test_cuda_ops.cpp): same shapes, same masks, relative error <= 1e-4.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "gnnkit/core/fwd.hpp"
#include "gnnkit/nn/activation.hpp"
#include "gnnkit/nn/dropout_mask.hpp"

namespace gnnkit::kernels::cuda {

/// A CSC (dst-major) adjacency in device memory: row v's sources are
/// indices[indptr[v], indptr[v + 1]). indptr starts at 0.
struct DeviceCsc {
  std::int64_t num_rows = 0;   ///< destinations
  std::int64_t num_cols = 0;   ///< sources
  std::int64_t num_edges = 0;
  const std::int64_t* indptr = nullptr;
  const std::int32_t* indices = nullptr;
};

/// @brief out[v] = sum (or mean, `mean`) over v's edges e of w[e] * x[src(e)] (w = 1 when
/// edge_weight is null); rows without edges get 0. One warp per destination row, lanes
/// across the features (coalesced row reads). @throws DeviceError
void spmm_forward(const DeviceCsc& csc, const float* x, std::int64_t ldx, std::int64_t F,
                  const float* edge_weight, bool mean, float* out, std::int64_t ldo,
                  CUstream_st* stream);

/// @brief Gradient of spmm_forward w.r.t. x: grad_x[src(e)] (+)= w[e] * grad_out[v]
/// (/ deg(v) for mean), by atomic adds (the order of additions may vary between runs, within
/// float rounding). Overwrites grad_x ([num_cols, F], ldx) unless `accumulate`.
void spmm_backward_x(const DeviceCsc& csc, const float* grad_out, std::int64_t ldg,
                     std::int64_t F, const float* edge_weight, bool mean, float* grad_x,
                     std::int64_t ldx, bool accumulate, CUstream_st* stream);

/// @brief cusparseSpMM for the sum (optionally weighted) aggregation of one adjacency, with
/// its descriptors and external buffer kept per feature width F, so a training loop creates
/// them once. Holds an int32 copy of indptr (cuSPARSE wants one index type).
class CusparseSpmm {
 public:
  /// @throws InvalidArgument (2^31 edges or more), DeviceError, BackendError
  CusparseSpmm(cusparseContext* handle, const DeviceCsc& csc, const float* edge_weight,
               CUstream_st* stream);
  ~CusparseSpmm();
  CusparseSpmm(const CusparseSpmm&) = delete;
  CusparseSpmm& operator=(const CusparseSpmm&) = delete;
  /// @brief out[num_rows, F] = A x, x [num_cols, F]; both row-major and contiguous.
  void run(const float* x, std::int64_t F, float* out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// @brief out[i] = x[index[i]] for i < n (rows of width F). @throws DeviceError
void gather_rows(const float* x, std::int64_t ldx, std::int64_t F, const std::int64_t* index,
                 std::int64_t n, float* out, std::int64_t ldo, CUstream_st* stream);

/// @brief x = dropout(act(x)) in place over [rows, cols] (ld): the CPU's
/// nn::activation_dropout_forward, with the same DropoutMask(key, p) (p = 0: no dropout).
void activation_dropout_forward(nn::Activation act, float* x, std::int64_t rows,
                                std::int64_t cols, std::int64_t ld, float negative_slope,
                                double p, std::uint64_t key, CUstream_st* stream);

/// @brief grad *= the derivative of dropout(act(.)), from the forward's output y: the CPU's
/// nn::activation_dropout_backward.
void activation_dropout_backward(nn::Activation act, const float* y, std::int64_t ldy,
                                 float* grad, std::int64_t ldg, std::int64_t rows,
                                 std::int64_t cols, float negative_slope, double p,
                                 CUstream_st* stream);

/// @brief Row-major C[M, N] = alpha op(A) op(B) + beta C through cublasSgemm (FP32; TF32 only
/// when allow_tf32). op(A) is [M, K]: A is stored [K, M] when trans_a; op(B) is [K, N]: B is
/// stored [N, K] when trans_b. @throws BackendError naming the cuBLAS status
void sgemm(cublasContext* handle, bool trans_a, bool trans_b, std::int64_t M, std::int64_t N,
           std::int64_t K, float alpha, const float* A, std::int64_t lda, const float* B,
           std::int64_t ldb, float beta, float* C, std::int64_t ldc, bool allow_tf32 = false);

}  // namespace gnnkit::kernels::cuda
