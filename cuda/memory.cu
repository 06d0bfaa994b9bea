// Device memory, host<->device copies and the fill kernel.
#include <cstring>

#include "check.cuh"
#include "gnnkit/kernels/memory.hpp"

namespace gnnkit::kernels::cuda {
namespace {

template <typename T>
__global__ void fill_kernel(T* data, std::int64_t n, T value) {
  const std::int64_t stride = std::int64_t(blockDim.x) * gridDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    data[i] = value;
}

template <typename T>
void launch_fill(void* data, std::int64_t n, std::uint64_t pattern, cudaStream_t stream) {
  T value;
  std::memcpy(&value, &pattern, sizeof(T));
  constexpr int kThreads = 256;
  const std::int64_t blocks = std::min<std::int64_t>((n + kThreads - 1) / kThreads, 65535 * 8);
  fill_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(static_cast<T*>(data),
                                                                          n, value);
  GNNKIT_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: report zero, leave no sticky error
    return 0;
  }
  return count;
}

void* allocate(int device, std::size_t bytes) {
  GNNKIT_CUDA_CHECK(cudaSetDevice(device));
  void* ptr = nullptr;
  GNNKIT_CUDA_CHECK(cudaMalloc(&ptr, bytes));
  return ptr;
}

void deallocate(int device, void* ptr) noexcept {
  if (cudaSetDevice(device) == cudaSuccess) cudaFree(ptr);
  (void)cudaGetLastError();
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device,
                std::size_t bytes, CUstream_st* stream) {
  if (bytes == 0) return;
  (void)dst_device;
  (void)src_device;
  // cudaMemcpyDefault: unified addressing tells the direction from the pointers.
  GNNKIT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
  GNNKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void fill_bytes(void* data, std::int64_t n, std::size_t elem_bytes, std::uint64_t pattern,
                CUstream_st* stream) {
  if (n == 0) return;
  switch (elem_bytes) {
    case 1: return launch_fill<std::uint8_t>(data, n, pattern, stream);
    case 4: return launch_fill<std::uint32_t>(data, n, pattern, stream);
    case 8: return launch_fill<std::uint64_t>(data, n, pattern, stream);
    default:
      throw InvalidArgument("fill", detail::format("element size {} is not 1, 4 or 8 bytes",
                                                   elem_bytes));
  }
}

}  // namespace gnnkit::kernels::cuda
