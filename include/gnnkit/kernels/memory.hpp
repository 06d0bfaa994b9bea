#pragma once
/// @file
/// Memory kernels: allocation, copies and fills. The CPU versions are templates defined here;
/// the CUDA twins are declared here and defined in cuda/memory.cu (or cuda_stub.cpp).

#include <cstddef>
#include <cstdint>

#include "gnnkit/core/device.hpp"
#include "gnnkit/core/fwd.hpp"

namespace gnnkit::kernels::cpu {

/// @brief Writes value to n contiguous elements, in parallel over num_threads.
template <typename T>
void fill(T* data, std::int64_t n, T value, int num_threads) {
#pragma omp parallel for num_threads(num_threads) schedule(static) if (n > (1 << 16))
  for (std::int64_t i = 0; i < n; ++i) data[i] = value;
}

}  // namespace gnnkit::kernels::cpu

namespace gnnkit::kernels::cuda {

/// @brief Number of visible CUDA devices (0 without CUDA or driver). Never throws.
int device_count() noexcept;
/// @brief `bytes` of device memory on `device`: a cached block of the size class
/// (core/block_cache.hpp) when one is free, else cudaMalloc; when that runs out, the cache is
/// released and cudaMalloc tried once more, so a training loop calls cudaMalloc only while
/// its working set grows. @throws OutOfMemory (naming the bytes asked, cached and free),
/// DeviceError, NotCompiled
void* allocate(int device, std::size_t bytes);
/// @brief Returns a block from allocate(device, bytes) to the cache (cudaFree beyond its
/// limit) at once, though kernels that use it may still be queued: safe because all of
/// gnnkit's work on a device runs on its one stream (core/context.hpp), so the block's next
/// user is queued after them. Errors are swallowed (called from destructors).
void deallocate(int device, void* ptr, std::size_t bytes) noexcept;
/// @brief Frees every cached block of `device` (cudaFree); returns the bytes freed.
std::size_t release_cached(int device) noexcept;
/// @brief Copies bytes between any two of host and device memory, queued on stream and
/// waited for unless `wait` is false (then the caller keeps both ends alive, and a host
/// destination unread, until the stream has run it). @throws DeviceError, NotCompiled
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device,
                std::size_t bytes, CUstream_st* stream, bool wait = true);
/// @brief `bytes` of page-locked host memory (cudaHostAlloc): host<->device copies from it
/// run by DMA without staging, asynchronously. @throws OutOfMemory, NotCompiled
void* allocate_pinned(std::size_t bytes);
/// @brief Frees memory from allocate_pinned; errors are swallowed (called from destructors).
void free_pinned(void* ptr) noexcept;
/// @brief Fills n contiguous elements of element size elem_bytes with the bit pattern
/// `pattern` (the value already converted to the element type), queued on stream.
/// @throws DeviceError, NotCompiled
void fill_bytes(void* data, std::int64_t n, std::size_t elem_bytes, std::uint64_t pattern,
                CUstream_st* stream);

}  // namespace gnnkit::kernels::cuda
