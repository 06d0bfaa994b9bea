// Device memory, host<->device copies and the fill kernel.
#include <cstring>
#include <mutex>

#include "check.cuh"
#include "gnnkit/core/block_cache.hpp"
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

void free_block(void* p, std::size_t, int device) {
  if (cudaSetDevice(device) == cudaSuccess) cudaFree(p);
  (void)cudaGetLastError();
}

/// Per device: blocks of 64 KiB or more, up to 16 GiB (or less when the device is smaller:
/// allocate releases the cache before giving up). Never destroyed: Tensor deleters may run
/// during static destruction, after the CUDA runtime is gone, where cudaFree would fail.
detail::BlockCache& device_cache(int device) {
  constexpr int kMaxDevices = 64;
  static detail::BlockCache* caches[kMaxDevices] = {};
  static std::mutex mutex;
  GNNKIT_EXPECTS_AS(DeviceError, "allocate", device >= 0 && device < kMaxDevices,
                    "'device' must be in [0, {}), got {}", kMaxDevices, device);
  std::lock_guard lock(mutex);
  if (!caches[device])
    caches[device] = new detail::BlockCache(std::size_t(64) << 10, std::size_t(16) << 30, free_block, device);
  return *caches[device];
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
  detail::BlockCache& cache = device_cache(device);
  const std::size_t size = cache.size_class(bytes);
  if (void* p = cache.take(size)) return p;
  void* ptr = nullptr;
  cudaError_t status = cudaMalloc(&ptr, size);
  if (status == cudaErrorMemoryAllocation) {
    // Cached blocks of other sizes may be what is missing: give them back and try once more.
    (void)cudaGetLastError();
    const std::size_t released = cache.release_all();
    status = cudaMalloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      std::size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      (void)cudaGetLastError();
      throw OutOfMemory("allocate", detail::format(
          "cudaMalloc of {} bytes on cuda:{} failed after releasing {} cached bytes: {} of {} bytes free",
          size, device, released, free_bytes, total_bytes));
    }
  }
  GNNKIT_CUDA_CHECK(status);
  return ptr;
}

void deallocate(int device, void* ptr, std::size_t bytes) noexcept {
  // Called from Tensor deleters: never throws (a cache insert can only fail to allocate, and
  // then the block is freed instead).
  try {
    detail::BlockCache& cache = device_cache(device);
    cache.give(ptr, cache.size_class(bytes));
  } catch (...) {
    free_block(ptr, 0, device);
  }
}

std::size_t release_cached(int device) noexcept {
  try {
    return device_cache(device).release_all();
  } catch (...) {
    return 0;
  }
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device,
                std::size_t bytes, CUstream_st* stream, bool wait) {
  if (bytes == 0) return;
  (void)dst_device;
  (void)src_device;
  // cudaMemcpyDefault: unified addressing tells the direction from the pointers.
  GNNKIT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
  if (wait) GNNKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void* allocate_pinned(std::size_t bytes) {
  void* p = nullptr;
  const cudaError_t status = cudaHostAlloc(&p, bytes, cudaHostAllocPortable);
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    throw OutOfMemory("allocate_pinned", detail::format("cudaHostAlloc of {} bytes failed", bytes));
  }
  GNNKIT_CUDA_CHECK(status);
  return p;
}

void free_pinned(void* ptr) noexcept {
  cudaFreeHost(ptr);
  (void)cudaGetLastError();
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
