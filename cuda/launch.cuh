#pragma once
// Launch helpers shared by the CUDA op files: block and grid sizes, warp indexing and
// reductions, and Scratch (temporary device memory from the device's block cache).
#include <algorithm>
#include <cstdint>

#include "check.cuh"
#include "gnnkit/kernels/memory.hpp"

namespace gnnkit::kernels::cuda {
namespace {

constexpr int kWarp = 32;

// Scratch device memory from the device's block cache (kernels/memory.hpp), given back when
// it goes out of scope, right after the kernels that use it are queued: every context of a
// device shares one stream (core/context.hpp), so the block's next user runs after them.
class Scratch {
 public:
  explicit Scratch(std::size_t bytes) : bytes_(bytes) {
    GNNKIT_CUDA_CHECK(cudaGetDevice(&device_));
    ptr_ = allocate(device_, bytes_);
  }
  ~Scratch() { deallocate(device_, ptr_, bytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  int device_ = 0;
  std::size_t bytes_;
  void* ptr_ = nullptr;
};
constexpr int kThreads = 256;  // 8 warps per block
constexpr std::int64_t kMaxBlocks = std::int64_t(1) << 20;  // grid-stride loops past this

inline unsigned blocks_for(std::int64_t work_items, std::int64_t items_per_block) {
  const std::int64_t b = (work_items + items_per_block - 1) / items_per_block;
  return unsigned(std::clamp<std::int64_t>(b, 1, kMaxBlocks));
}
inline unsigned blocks_for_rows(std::int64_t rows) { return blocks_for(rows, kThreads / kWarp); }

__device__ inline std::int64_t warp_id() {
  return (std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
}
__device__ inline std::int64_t warp_count() { return std::int64_t(gridDim.x) * blockDim.x / kWarp; }

// Sum over the 32 lanes of a warp (every lane gets it).
__device__ inline float warp_sum(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline double warp_sum(double v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

}  // namespace
}  // namespace gnnkit::kernels::cuda
