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
  std::call_once(slots_->cuda_once, [this] {
    slots_->cuda = std::make_shared<detail::CudaResources>(device_.index);
  });
  return *static_cast<detail::CudaResources*>(slots_->cuda.get());
}

CUstream_st* Context::cuda_stream() const {
  detail::require_cuda_context("Context::cuda_stream", device_);
  return cuda_resources().stream;
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
