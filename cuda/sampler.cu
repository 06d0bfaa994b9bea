// The CUDA build of the device sampler (include/gnnkit/sampling/device_sampler.hpp): the
// algorithm of src/sampling/device_sampler_impl.hpp, its loops as grid-stride kernels on the
// context's stream and its scans through CUB.
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <climits>

#include "check.cuh"
#include "../src/sampling/device_sampler_impl.hpp"

namespace gnnkit::sampling_detail {
namespace {

template <typename F>
__global__ void for_each_kernel(std::int64_t n, F f) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) f(i);
}

struct CudaExec {
  const Context& ctx;
  const Context& context() const { return ctx; }
  template <typename F>
  void for_each(std::int64_t n, F f) const {
    if (n == 0) return;
    constexpr int kThreads = 256;
    const std::int64_t blocks = std::min<std::int64_t>((n + kThreads - 1) / kThreads, std::int64_t(1) << 20);
    for_each_kernel<<<unsigned(blocks), kThreads, 0, ctx.cuda_stream()>>>(n, f);
    GNNKIT_CUDA_CHECK(cudaGetLastError());
  }
  std::int64_t exclusive_scan(const std::int64_t* in, std::int64_t* out, std::int64_t n) const {
    if (n == 0) return 0;
    GNNKIT_EXPECTS_AS(InvalidArgument, "DeviceSampler", n < INT_MAX, "a hop of {} items is beyond CUB's int range", n);
    cudaStream_t stream = ctx.cuda_stream();
    std::size_t bytes = 0;
    GNNKIT_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, bytes, in, out, int(n), stream));
    const Tensor scratch = Tensor::empty({std::int64_t(bytes) + 1}, DType::kUInt8, ctx.device());
    GNNKIT_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scratch.data(), bytes, in, out, int(n), stream));
    std::int64_t last[2] = {0, 0};  // out[n - 1] + in[n - 1]: the total
    GNNKIT_CUDA_CHECK(cudaMemcpyAsync(&last[0], out + n - 1, sizeof(std::int64_t), cudaMemcpyDeviceToHost, stream));
    GNNKIT_CUDA_CHECK(cudaMemcpyAsync(&last[1], in + n - 1, sizeof(std::int64_t), cudaMemcpyDeviceToHost, stream));
    GNNKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
    return last[0] + last[1];
  }
};

}  // namespace

DeviceMiniBatch sample_on_cuda(const Context& ctx, const DeviceGraph& g, const Fanouts& fanouts, int seed_type,
                               const TensorView& seeds, std::uint64_t batch) {
  CudaExec exec{ctx};
  return sample_impl(exec, g, fanouts, seed_type, seeds, batch);
}

}  // namespace gnnkit::sampling_detail
