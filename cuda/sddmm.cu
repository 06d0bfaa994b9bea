// SDDMM on the GPU (include/gnnkit/kernels/cuda_ops.hpp): per edge and head, the dot product
// of a destination row slice and a source row slice, as GAT's backward needs for its per-edge
// attention gradient. Two implementations, timed against each other by bench_gpu: an own
// kernel (a warp per destination row, its row slice read once per edge from L1/L2) and
// cusparseSDDMM (one call per head on column slices of row-major operands).
#include <algorithm>
#include <climits>

#include "check.cuh"
#include "cusparse_csr.cuh"
#include "launch.cuh"
#include "gnnkit/kernels/cuda_ops.hpp"

namespace gnnkit::kernels::cuda {
namespace {

__global__ void edge_dots_kernel(DeviceCsc csc, const float* __restrict__ a, std::int64_t lda,
                                 const float* __restrict__ b, std::int64_t ldb, int heads, std::int64_t C,
                                 float* __restrict__ out) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t v = warp_id(); v < csc.num_rows; v += warp_count()) {
    const float* av = a + v * lda;
    for (std::int64_t e = csc.indptr[v]; e < csc.indptr[v + 1]; ++e) {
      const float* bu = b + std::int64_t(csc.indices[e]) * ldb;
      for (int h = 0; h < heads; ++h) {
        float dot = 0.f;
        for (std::int64_t c = h * C + lane; c < (h + 1) * C; c += kWarp) dot += av[c] * bu[c];
        dot = warp_sum(dot);
        if (lane == 0) out[e * heads + h] = dot;
      }
    }
  }
}

// out[e, h] = head_major[h * head_stride + e]: cuSPARSE writes one head's values contiguously.
__global__ void interleave_heads_kernel(const float* __restrict__ head_major, std::int64_t head_stride, std::int64_t E,
                                        int heads, float* __restrict__ out) {
  const std::int64_t n = E * heads, stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t k = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride)
    out[k] = head_major[(k % heads) * head_stride + k / heads];
}

}  // namespace

void edge_dots(const DeviceCsc& csc, const float* a, std::int64_t lda, const float* b, std::int64_t ldb, int heads,
               std::int64_t C, float* out, CUstream_st* stream) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "edge_dots", heads >= 1 && C >= 1 && lda >= heads * C && ldb >= heads * C,
                    "needs heads >= 1, C >= 1 and row strides of at least heads * C = {}, got {}, {}, {}, {}",
                    std::int64_t(heads) * C, heads, C, lda, ldb);
  if (csc.num_rows == 0 || csc.num_edges == 0) return;
  edge_dots_kernel<<<blocks_for_rows(csc.num_rows), kThreads, 0, stream>>>(csc, a, lda, b, ldb, heads, C, out);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

struct CusparseSddmm::State {
  CusparseCsr csr;  // its values_buffer holds [heads, head_stride] outputs when heads > 1
  std::int64_t shape[4] = {-1, -1, -1, -1};  // (heads, C, lda, ldb) of the dense descriptors (a, b)
  State(cusparseHandle_t handle, const DeviceCsc& csc, cudaStream_t stream)
      : csr(handle, csc, stream, "CusparseSddmm") {}
};

CusparseSddmm::CusparseSddmm(cusparseContext* handle, const DeviceCsc& csc, CUstream_st* stream)
    : state_(std::make_unique<State>(handle, csc, stream)) {}

CusparseSddmm::~CusparseSddmm() = default;

void CusparseSddmm::run(const float* a, std::int64_t lda, const float* b, std::int64_t ldb, int heads, std::int64_t C,
                        float* out) {
  State& s = *state_;
  CusparseCsr& c = s.csr;
  GNNKIT_EXPECTS_AS(InvalidArgument, "CusparseSddmm::run", heads >= 1 && C >= 1 && lda >= heads * C &&
                                                               ldb >= heads * C,
                    "needs heads >= 1, C >= 1 and row strides of at least heads * C = {}, got {}, {}, {}, {}",
                    std::int64_t(heads) * C, heads, C, lda, ldb);
  const std::int64_t E = c.csc.num_edges;
  if (c.csc.num_rows == 0 || E == 0) return;
  const float alpha = 1.f, beta = 0.f;
  GNNKIT_CUSPARSE_CHECK(cusparseSetStream(c.handle, c.stream));
  // cuSPARSE may write its values with 16-byte vector stores: every head's slice starts
  // 256-byte aligned (E rounded up to 64 floats).
  const std::int64_t head_stride = (E + 63) / 64 * 64;
  float* head_values = heads > 1 ? c.values_buffer(std::size_t(head_stride) * std::size_t(heads)) : nullptr;
  const std::int64_t shape[4] = {heads, C, lda, ldb};
  const bool new_shape = !std::equal(shape, shape + 4, s.shape);
  for (int h = 0; h < heads; ++h) {
    // The sparse descriptor's values: the output, or this head's slice of head_values.
    float* values = heads == 1 ? out : head_values + std::int64_t(h) * head_stride;
    // beta is 0, but the values are read-modify-written by some algorithms: start from zeros.
    GNNKIT_CUDA_CHECK(cudaMemsetAsync(values, 0, std::size_t(E) * sizeof(float), c.stream));
    if (!c.matrix)
      c.create_matrix(values);
    else
      GNNKIT_CUSPARSE_CHECK(cusparseCsrSetPointers(c.matrix, c.indptr32, const_cast<std::int32_t*>(c.csc.indices),
                                                   values));
    const float* ah = a + std::int64_t(h) * C;
    const float* bh = b + std::int64_t(h) * C;
    if (h == 0 && new_shape) {
      // A: the destination rows [num_rows, C] (stride lda); B: the source rows [num_cols, C]
      // (stride ldb), used transposed, so op(A) op(B) is [num_rows, num_cols].
      c.set_dense(0, c.csc.num_rows, C, lda, ah);
      c.set_dense(1, c.csc.num_cols, C, ldb, bh);
      std::size_t bytes = 0;
      GNNKIT_CUSPARSE_CHECK(cusparseSDDMM_bufferSize(c.handle, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                                     CUSPARSE_OPERATION_TRANSPOSE, &alpha, c.dense[0], c.dense[1],
                                                     &beta, c.matrix, CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, &bytes));
      c.reserve(bytes);
      std::copy(shape, shape + 4, s.shape);
    } else {
      GNNKIT_CUSPARSE_CHECK(cusparseDnMatSetValues(c.dense[0], const_cast<float*>(ah)));
      GNNKIT_CUSPARSE_CHECK(cusparseDnMatSetValues(c.dense[1], const_cast<float*>(bh)));
    }
    GNNKIT_CUSPARSE_CHECK(cusparseSDDMM(c.handle, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_TRANSPOSE,
                                        &alpha, c.dense[0], c.dense[1], &beta, c.matrix, CUDA_R_32F,
                                        CUSPARSE_SDDMM_ALG_DEFAULT, c.buffer));
  }
  if (heads > 1) {
    interleave_heads_kernel<<<blocks_for(E * heads, kThreads), kThreads, 0, c.stream>>>(head_values, head_stride, E,
                                                                                         heads, out);
    GNNKIT_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace gnnkit::kernels::cuda
