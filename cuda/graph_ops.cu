// Index ops on the GPU (include/gnnkit/kernels/cuda_ops.hpp): GAT's self loops on a device
// CSC, int64 gathers (labels of a sampled batch) and the statistics of an id array (checked on the
// host before a gather reads through it).
#include <cub/device/device_scan.cuh>

#include <climits>

#include "check.cuh"
#include "launch.cuh"
#include "gnnkit/kernels/cuda_ops.hpp"

namespace gnnkit::kernels::cuda {
namespace {

// counts[v] = row v's edges that are not self loops, plus one where a loop is added; counts[n] = 0
// (so the exclusive scan of n + 1 counts ends with the total).
__global__ void self_loop_counts_kernel(DeviceCsc csc, std::int64_t loops, std::int64_t* __restrict__ counts) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t v = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; v <= csc.num_rows; v += stride) {
    if (v == csc.num_rows) {
      counts[v] = 0;
      continue;
    }
    std::int64_t kept = 0;
    for (std::int64_t e = csc.indptr[v]; e < csc.indptr[v + 1]; ++e) kept += std::int64_t(csc.indices[e]) != v;
    counts[v] = kept + (v < loops ? 1 : 0);
  }
}

// A warp per row: the lanes take 32 edges at a time and keep their order with a ballot.
__global__ void self_loop_fill_kernel(DeviceCsc csc, std::int64_t loops, const std::int64_t* __restrict__ new_indptr,
                                      std::int32_t* __restrict__ new_indices) {
  const int lane = int(threadIdx.x % kWarp);
  for (std::int64_t v = warp_id(); v < csc.num_rows; v += warp_count()) {
    std::int64_t k = new_indptr[v];
    const std::int64_t e1 = csc.indptr[v + 1];
    for (std::int64_t base = csc.indptr[v]; base < e1; base += kWarp) {
      const std::int64_t e = base + lane;
      const bool keep = e < e1 && std::int64_t(csc.indices[e]) != v;
      const unsigned mask = __ballot_sync(0xffffffffu, keep);
      if (keep) new_indices[k + __popc(mask & ((1u << lane) - 1u))] = csc.indices[e];
      k += __popc(mask);
    }
    if (lane == 0 && v < loops) new_indices[k] = std::int32_t(v);
  }
}

__global__ void gather_int64_kernel(const std::int64_t* __restrict__ src, const std::int64_t* __restrict__ index,
                                    std::int64_t n, std::int64_t* __restrict__ out) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = src[index[i]];
}

// stats[0] = min, stats[1] = max (initialised to LLONG_MAX, LLONG_MIN), stats[2] = the count
// of negative entries (initialised to 0).
__global__ void index_stats_kernel(const std::int64_t* __restrict__ ids, std::int64_t n, long long* stats) {
  long long lo = LLONG_MAX, hi = LLONG_MIN;
  unsigned long long negatives = 0;
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const long long v = static_cast<long long>(ids[i]);
    lo = min(lo, v);
    hi = max(hi, v);
    negatives += v < 0 ? 1 : 0;
  }
  for (int o = kWarp / 2; o > 0; o /= 2) {
    lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, o));
    hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, o));
    negatives += __shfl_xor_sync(0xffffffffu, negatives, o);
  }
  if (threadIdx.x % kWarp == 0) {
    atomicMin(stats, lo);
    atomicMax(stats + 1, hi);
    atomicAdd(reinterpret_cast<unsigned long long*>(stats + 2), negatives);
  }
}

}  // namespace

std::int64_t self_loop_indptr(const DeviceCsc& csc, std::int64_t loops, std::int64_t* indptr, CUstream_st* stream) {
  const std::int64_t n = csc.num_rows;
  GNNKIT_EXPECTS_AS(InvalidArgument, "self_loop_indptr", n + 1 < INT_MAX, "{} rows are beyond CUB's int range", n);
  const Scratch counts(std::size_t(n + 1) * sizeof(std::int64_t));
  self_loop_counts_kernel<<<blocks_for(n + 1, kThreads), kThreads, 0, stream>>>(csc, loops, counts.as<std::int64_t>());
  GNNKIT_CUDA_CHECK(cudaGetLastError());
  std::size_t bytes = 0;
  GNNKIT_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, bytes, counts.as<std::int64_t>(), indptr, int(n + 1), stream));
  const Scratch temp(std::max<std::size_t>(bytes, 1));
  GNNKIT_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(temp.as<void>(), bytes, counts.as<std::int64_t>(), indptr, int(n + 1),
                                                  stream));
  std::int64_t total = 0;
  GNNKIT_CUDA_CHECK(cudaMemcpyAsync(&total, indptr + n, sizeof total, cudaMemcpyDeviceToHost, stream));
  GNNKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  return total;
}

void self_loop_indices(const DeviceCsc& csc, std::int64_t loops, const std::int64_t* indptr, std::int32_t* indices,
                       CUstream_st* stream) {
  if (csc.num_rows == 0) return;
  self_loop_fill_kernel<<<blocks_for_rows(csc.num_rows), kThreads, 0, stream>>>(csc, loops, indptr, indices);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

void gather_int64(const std::int64_t* src, const std::int64_t* index, std::int64_t n, std::int64_t* out,
                  CUstream_st* stream) {
  if (n == 0) return;
  gather_int64_kernel<<<blocks_for(n, kThreads), kThreads, 0, stream>>>(src, index, n, out);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

IndexStats index_stats(const std::int64_t* ids, std::int64_t n, CUstream_st* stream) {
  if (n == 0) return {};
  const Scratch stats(3 * sizeof(long long));
  const long long init[3] = {LLONG_MAX, LLONG_MIN, 0};
  GNNKIT_CUDA_CHECK(cudaMemcpyAsync(stats.as<long long>(), init, sizeof init, cudaMemcpyHostToDevice, stream));
  index_stats_kernel<<<std::min<unsigned>(blocks_for(n, kThreads), 1024u), kThreads, 0, stream>>>(
      ids, n, stats.as<long long>());
  GNNKIT_CUDA_CHECK(cudaGetLastError());
  long long host[3];
  GNNKIT_CUDA_CHECK(cudaMemcpyAsync(host, stats.as<long long>(), sizeof host, cudaMemcpyDeviceToHost, stream));
  GNNKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  return {std::int64_t(host[0]), std::int64_t(host[1]), std::int64_t(host[2])};
}

}  // namespace gnnkit::kernels::cuda
