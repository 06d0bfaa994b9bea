// The CUDA side of Context: device selection, the per-context stream and library handles.
#include "check.cuh"
#include "gnnkit/core/context.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/kernels/memory.hpp"

namespace gnnkit {
namespace detail {

/// A context's CUDA stream and handles, created together on first use and destroyed with
/// the last copy of the context.
struct CudaResources {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cusparseHandle_t cusparse = nullptr;

  explicit CudaResources(int index) : device(index) {
    GNNKIT_CUDA_CHECK(cudaSetDevice(device));
    GNNKIT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  }
  ~CudaResources() {
    cudaSetDevice(device);
    if (cusparse) cusparseDestroy(cusparse);
    if (cublas) cublasDestroy(cublas);
    if (stream) cudaStreamDestroy(stream);
  }
  CudaResources(const CudaResources&) = delete;
  CudaResources& operator=(const CudaResources&) = delete;
  std::mutex mutex;  // guards lazy handle creation
};

/// Every context of a device shares one stream and one cuBLAS / cuSPARSE handle (PyTorch's
/// default-stream model): work queued through any context of the device runs in order, so a
/// block one of them frees to the cache is never overwritten through another while still in
/// use, and a model moved with one context trains with another. Created on first use and
/// never destroyed (tensors and handles may be released after the CUDA runtime at exit).
CudaResources& device_resources(int index) {
  constexpr int kMaxDevices = 64;
  static CudaResources* resources[kMaxDevices] = {};
  static std::mutex mutex;
  GNNKIT_EXPECTS_AS(DeviceError, "Context::cuda", index >= 0 && index < kMaxDevices,
                    "'index' must be in [0, {}), got {}", kMaxDevices, index);
  std::lock_guard lock(mutex);
  if (!resources[index]) resources[index] = new CudaResources(index);
  return *resources[index];
}

}  // namespace detail

bool cuda_compiled() noexcept { return true; }

int cuda_device_count() noexcept { return kernels::cuda::device_count(); }

Context Context::cuda(int index, std::uint64_t seed) {
  const int count = cuda_device_count();
  if (count == 0)
    throw DeviceError("Context::cuda", "no CUDA device is present (cudaGetDeviceCount found none)");
  GNNKIT_EXPECTS_AS(DeviceError, "Context::cuda", index >= 0 && index < count,
                    "'index' must be in [0, {}), got {}", count, index);
  return Context(Device::cuda(index), 0, seed);
}

detail::CudaResources& Context::cuda_resources() const {
  detail::require_cuda_context("Context::cuda_resources", device_);
  return detail::device_resources(device_.index);
}

CUstream_st* Context::cuda_stream() const {
  detail::require_cuda_context("Context::cuda_stream", device_);
  detail::CudaResources& res = cuda_resources();
  // Every op fetches the stream right before it queues work: make its device the current one
  // there, so kernels and allocations land on the stream's device with several GPUs.
  GNNKIT_CUDA_CHECK(cudaSetDevice(res.device));
  return res.stream;
}

cublasContext* Context::cublas_handle() const {
  detail::require_cuda_context("Context::cublas_handle", device_);
  auto& res = cuda_resources();
  std::lock_guard lock(res.mutex);
  if (!res.cublas) {
    GNNKIT_CUDA_CHECK(cudaSetDevice(res.device));
    GNNKIT_CUBLAS_CHECK(cublasCreate(&res.cublas));
    GNNKIT_CUBLAS_CHECK(cublasSetStream(res.cublas, res.stream));
  }
  return res.cublas;
}

cusparseContext* Context::cusparse_handle() const {
  detail::require_cuda_context("Context::cusparse_handle", device_);
  auto& res = cuda_resources();
  std::lock_guard lock(res.mutex);
  if (!res.cusparse) {
    GNNKIT_CUDA_CHECK(cudaSetDevice(res.device));
    GNNKIT_CUSPARSE_CHECK(cusparseCreate(&res.cusparse));
    GNNKIT_CUSPARSE_CHECK(cusparseSetStream(res.cusparse, res.stream));
  }
  return res.cusparse;
}

void Context::synchronize() const {
  if (device_.is_cpu()) return;
  GNNKIT_CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
}

}  // namespace gnnkit
