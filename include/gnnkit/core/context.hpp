#pragma once
/// @file
/// Context: the first argument of every compute function. It names the device and carries
/// the CPU thread count, the base seed and the backend resources (oneDNN engine/stream,
/// CUDA stream, cuBLAS/cuSPARSE handles), each created lazily on first use and shared by
/// all copies of the context. Model: raft::resources.

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "gnnkit/core/device.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/core/fwd.hpp"

namespace gnnkit {

/// @brief Number of CUDA devices visible to this process; 0 when CUDA was not compiled in
/// or no device/driver is present. Never throws. (compiled target)
int cuda_device_count() noexcept;

namespace detail {
/// Lazily filled slots for backend resources. Kept type-erased (shared_ptr<void>) so this
/// header needs no backend headers; only src/backend and cuda/ know the concrete types.
struct ResourceSlots {
  std::once_flag dnnl_once;
  std::shared_ptr<void> dnnl;
  std::once_flag cuda_once;
  std::shared_ptr<void> cuda;
};

/// OMP_NUM_THREADS if set to a positive number, else the hardware concurrency.
inline int default_thread_count() noexcept {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(env, env + std::strlen(env), value);
    if (ec == std::errc() && value > 0) return value;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}
/// Throws DeviceMismatch naming `function` unless `device` is a CUDA device.
inline void require_cuda_context(const char* function, Device device) {
  GNNKIT_EXPECTS_AS(DeviceMismatch, function, device.is_cuda(),
                    "'ctx' must be a CUDA context, got {}", device);
}
}  // namespace detail

/// @brief Cheap, copyable handle to a device and its resources. Copies share the lazily
/// created backend resources; with_seed / with_threads derive contexts that share them too.
/// All CUDA contexts of one device share its stream and library handles, so work queued
/// through any of them runs in order. Thread-safe: resource creation is guarded.
class Context {
 public:
  /// @brief A CPU context. Header-only: usable without the compiled target.
  /// @param num_threads CPU threads for kernels; <= 0 means OMP_NUM_THREADS or all cores
  /// @param seed base seed of every random stream derived from this context
  static Context cpu(int num_threads = 0, std::uint64_t seed = 0) {
    return Context(Device::cpu(), num_threads, seed);
  }

  /// @brief A context on CUDA device `index`. (compiled target)
  /// @throws NotCompiled when the library was built without CUDA
  /// @throws DeviceError when the device does not exist (e.g. no GPU present)
  static Context cuda(int index = 0, std::uint64_t seed = 0);

  Device device() const noexcept { return device_; }
  /// @brief CPU threads used by kernels launched through this context (>= 1).
  int num_threads() const noexcept { return num_threads_; }
  std::uint64_t seed() const noexcept { return seed_; }

  /// @brief Same device and resources, another base seed.
  Context with_seed(std::uint64_t seed) const {
    Context copy = *this;
    copy.seed_ = seed;
    return copy;
  }
  /// @brief Same device and resources, another CPU thread count (<= 0: default).
  Context with_threads(int num_threads) const {
    Context copy = *this;
    copy.num_threads_ = num_threads > 0 ? num_threads : detail::default_thread_count();
    return copy;
  }

  /// @brief The CUDA stream every kernel of this context is queued on (one per device,
  /// shared by its contexts); also makes the context's device the current one. (compiled
  /// target)
  /// @throws DeviceMismatch on a CPU context
  CUstream_st* cuda_stream() const;
  /// @brief cuBLAS handle bound to cuda_stream(), created on first use. (compiled target)
  cublasContext* cublas_handle() const;
  /// @brief cuSPARSE handle bound to cuda_stream(), created on first use. (compiled target)
  cusparseContext* cusparse_handle() const;
  /// @brief Waits until all work queued on this context has finished. (compiled target)
  void synchronize() const;

  /// @brief oneDNN engine, stream and primitive cache (internal to src/backend).
  detail::DnnlResources& dnnl() const;
  /// @brief CUDA stream and handles (internal to cuda/).
  detail::CudaResources& cuda_resources() const;

 private:
  Context(Device device, int num_threads, std::uint64_t seed)
      : device_(device),
        num_threads_(num_threads > 0 ? num_threads : detail::default_thread_count()),
        seed_(seed),
        slots_(std::make_shared<detail::ResourceSlots>()) {
    // OpenMP teams of 10^5 threads crash (or crawl) long before any speed-up.
    GNNKIT_EXPECTS_AS(InvalidArgument, "Context", num_threads <= 4096,
                      "'num_threads' must be at most 4096 (0: all cores), got {}", num_threads);
  }

  Device device_;
  int num_threads_;
  std::uint64_t seed_;
  std::shared_ptr<detail::ResourceSlots> slots_;
};

}  // namespace gnnkit
