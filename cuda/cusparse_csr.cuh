#pragma once
// What both cuSPARSE wrappers (CusparseSpmm, CusparseSddmm) keep: the handle and stream, the
// CSC with an int32 copy of indptr (cuSPARSE wants one index type), the sparse descriptor
// (created by the owner, which knows its values), two dense descriptors re-created per
// operand shape, and the external buffer (grown, never shrunk).
#include <algorithm>
#include <climits>

#include "check.cuh"
#include "launch.cuh"
#include "gnnkit/kernels/cuda_ops.hpp"

namespace gnnkit::kernels::cuda {
namespace {

__global__ void narrow_indptr_kernel(const std::int64_t* in, std::int32_t* out, std::int64_t n) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = std::int32_t(in[i]);
}

struct CusparseCsr {
  cusparseHandle_t handle = nullptr;
  cudaStream_t stream = nullptr;
  DeviceCsc csc;
  std::int32_t* indptr32 = nullptr;
  cusparseSpMatDescr_t matrix = nullptr;
  cusparseDnMatDescr_t dense[2] = {nullptr, nullptr};
  void* buffer = nullptr;
  std::size_t buffer_bytes = 0;
  float* values = nullptr;  // an owner's value array (values_buffer), freed after the descriptor
  std::size_t values_count = 0;

  /// @throws InvalidArgument naming fn (2^31 edges, rows or columns or more), DeviceError
  CusparseCsr(cusparseHandle_t h, const DeviceCsc& c, cudaStream_t s, const char* fn)
      : handle(h), stream(s), csc(c) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, c.num_edges < INT_MAX && c.num_rows < INT_MAX && c.num_cols < INT_MAX,
                      "cuSPARSE's int32 CSR holds fewer than 2^31 edges and rows, got {} edges, {} x {}", c.num_edges,
                      c.num_rows, c.num_cols);
    GNNKIT_CUDA_CHECK(cudaMalloc(&indptr32, std::size_t(c.num_rows + 1) * sizeof(std::int32_t)));
    narrow_indptr_kernel<<<blocks_for(c.num_rows + 1, kThreads), kThreads, 0, s>>>(c.indptr, indptr32, c.num_rows + 1);
    const cudaError_t launched = cudaGetLastError();
    if (launched != cudaSuccess) {  // the destructor of a half-built object does not run
      cudaFree(indptr32);
      GNNKIT_CUDA_CHECK(launched);
    }
  }
  ~CusparseCsr() {
    drop_dense();
    if (matrix) cusparseDestroySpMat(matrix);
    cudaFree(indptr32);
    cudaFree(buffer);
    cudaFree(values);
    (void)cudaGetLastError();
  }
  CusparseCsr(const CusparseCsr&) = delete;
  CusparseCsr& operator=(const CusparseCsr&) = delete;

  void drop_dense() {
    for (cusparseDnMatDescr_t& d : dense) {
      if (d) cusparseDestroyDnMat(d);
      d = nullptr;
    }
  }
  /// The CSR over the stored arrays with the given values (one float per edge).
  void create_matrix(float* values) {
    GNNKIT_CUSPARSE_CHECK(cusparseCreateCsr(&matrix, csc.num_rows, csc.num_cols, csc.num_edges, indptr32,
                                            const_cast<std::int32_t*>(csc.indices), values, CUSPARSE_INDEX_32I,
                                            CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
  }
  /// A row-major dense descriptor in slot i (replacing what was there).
  void set_dense(int i, std::int64_t rows, std::int64_t cols, std::int64_t ld, const float* data) {
    if (dense[i]) cusparseDestroyDnMat(dense[i]);
    dense[i] = nullptr;
    GNNKIT_CUSPARSE_CHECK(cusparseCreateDnMat(&dense[i], rows, cols, ld, const_cast<float*>(data), CUDA_R_32F,
                                              CUSPARSE_ORDER_ROW));
  }
  /// At least n floats of device memory kept with the descriptor (an unweighted adjacency's
  /// ones, per-head SDDMM outputs); grown, never shrunk, its old contents dropped.
  float* values_buffer(std::size_t n) {
    if (n > values_count || !values) {
      cudaFree(values);
      values = nullptr;
      values_count = 0;
      GNNKIT_CUDA_CHECK(cudaMalloc(&values, std::max<std::size_t>(n, 1) * sizeof(float)));
      values_count = n;
    }
    return values;
  }
  void reserve(std::size_t bytes) {
    if (bytes <= buffer_bytes && buffer) return;
    cudaFree(buffer);
    buffer = nullptr;
    buffer_bytes = 0;
    GNNKIT_CUDA_CHECK(cudaMalloc(&buffer, std::max<std::size_t>(bytes, 1)));
    buffer_bytes = bytes;
  }
};

}  // namespace
}  // namespace gnnkit::kernels::cuda
