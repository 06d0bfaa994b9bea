#pragma once
/// @file
/// Forward declarations of the opaque CUDA library types that appear in public signatures,
/// so public headers never include CUDA headers. They match the CUDA toolkit's own names.

struct CUstream_st;      // cudaStream_t == CUstream_st*
struct cublasContext;    // cublasHandle_t == cublasContext*
struct cusparseContext;  // cusparseHandle_t == cusparseContext*

namespace gnnkit::detail {
struct DnnlResources;  // oneDNN engine, stream and primitive cache (src/backend only)
struct CudaResources;  // CUDA stream, cuBLAS and cuSPARSE handles (cuda/ only)
}  // namespace gnnkit::detail
