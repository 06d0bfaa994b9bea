#pragma once
// Turns CUDA, cuBLAS and cuSPARSE status codes into gnnkit errors that name the failing call
// and carry the library's own message.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <string>

#include "gnnkit/core/error.hpp"

namespace gnnkit::cuda_detail {

[[noreturn]] inline void throw_cuda(cudaError_t status, const char* call, const char* function) {
  (void)cudaGetLastError();  // clear the sticky-free error so later calls are not poisoned
  const std::string msg = detail::format("{} failed: {} ({})", call, cudaGetErrorString(status),
                                         cudaGetErrorName(status));
  if (status == cudaErrorMemoryAllocation) throw OutOfMemory(function, msg);
  throw DeviceError(function, msg);
}

[[noreturn]] inline void throw_cublas(cublasStatus_t status, const char* call,
                                      const char* function) {
  throw BackendError(function, detail::format("{} failed: {} ({})", call,
                                              cublasGetStatusString(status), int(status)));
}

[[noreturn]] inline void throw_cusparse(cusparseStatus_t status, const char* call,
                                        const char* function) {
  throw BackendError(function, detail::format("{} failed: {} ({})", call,
                                              cusparseGetErrorString(status), int(status)));
}

}  // namespace gnnkit::cuda_detail

/// Checks a CUDA runtime call; on failure throws DeviceError (OutOfMemory for allocation
/// failures) naming the enclosing function, the call and CUDA's message.
#define GNNKIT_CUDA_CHECK(call)                                                               \
  do {                                                                                        \
    const cudaError_t gnnkit_status_ = (call);                                                \
    if (gnnkit_status_ != cudaSuccess)                                                        \
      ::gnnkit::cuda_detail::throw_cuda(gnnkit_status_, #call, __func__);                     \
  } while (0)

#define GNNKIT_CUBLAS_CHECK(call)                                                             \
  do {                                                                                        \
    const cublasStatus_t gnnkit_status_ = (call);                                             \
    if (gnnkit_status_ != CUBLAS_STATUS_SUCCESS)                                              \
      ::gnnkit::cuda_detail::throw_cublas(gnnkit_status_, #call, __func__);                   \
  } while (0)

#define GNNKIT_CUSPARSE_CHECK(call)                                                           \
  do {                                                                                        \
    const cusparseStatus_t gnnkit_status_ = (call);                                           \
    if (gnnkit_status_ != CUSPARSE_STATUS_SUCCESS)                                            \
      ::gnnkit::cuda_detail::throw_cusparse(gnnkit_status_, #call, __func__);                 \
  } while (0)
