// Built when CUDA is off: every CUDA entry point exists and throws NotCompiled, so the rest
// of the library and its users link and fail with a clear message (ginkgo's device hooks).
#include "gnnkit/core/context.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/kernels/memory.hpp"
#include "gnnkit/sampling/device_sampler.hpp"

namespace gnnkit {
namespace {

constexpr const char* kNoCuda = "gnnkit was built without CUDA (GNNKIT_WITH_CUDA=OFF or no nvcc)";

[[noreturn]] void no_cuda(const char* function) { throw NotCompiled(function, kNoCuda); }

/// A CPU context asking for CUDA resources is a device mismatch whatever the build; a CUDA
/// context cannot exist here, so anything else is NotCompiled.
[[noreturn]] void require_cuda_context(const char* function, Device device) {
  detail::require_cuda_context(function, device);
  no_cuda(function);
}

}  // namespace

bool cuda_compiled() noexcept { return false; }
int cuda_device_count() noexcept { return 0; }

Context Context::cuda(int, std::uint64_t) { no_cuda("Context::cuda"); }
detail::CudaResources& Context::cuda_resources() const {
  require_cuda_context("Context::cuda_resources", device_);
}
CUstream_st* Context::cuda_stream() const {
  require_cuda_context("Context::cuda_stream", device_);
}
cublasContext* Context::cublas_handle() const {
  require_cuda_context("Context::cublas_handle", device_);
}
cusparseContext* Context::cusparse_handle() const {
  require_cuda_context("Context::cusparse_handle", device_);
}
void Context::synchronize() const {}

namespace kernels::cuda {
int device_count() noexcept { return 0; }
void* allocate(int, std::size_t) { no_cuda("allocate"); }
void deallocate(int, void*, std::size_t) noexcept {}
std::size_t release_cached(int) noexcept { return 0; }
void* allocate_pinned(std::size_t) { no_cuda("allocate_pinned"); }
void free_pinned(void*) noexcept {}
void copy_bytes(void*, Device, const void*, Device, std::size_t, CUstream_st*, bool) {
  no_cuda("copy");
}
void fill_bytes(void*, std::int64_t, std::size_t, std::uint64_t, CUstream_st*) { no_cuda("fill"); }
void spmm_forward(const DeviceCsc&, const float*, std::int64_t, std::int64_t, const float*, bool, float*,
                  std::int64_t, CUstream_st*, int) {
  no_cuda("spmm_forward");
}
void spmm_backward_x(const DeviceCsc&, const float*, std::int64_t, std::int64_t, const float*, bool, float*,
                     std::int64_t, bool, CUstream_st*) {
  no_cuda("spmm_backward_x");
}
void spmm_max_forward(const DeviceCsc&, const float*, std::int64_t, std::int64_t, const float*, float*, std::int64_t,
                      std::int32_t*, CUstream_st*) {
  no_cuda("spmm_max_forward");
}
void spmm_max_backward_x(const DeviceCsc&, const float*, std::int64_t, std::int64_t, const float*,
                         const std::int32_t*, float*, std::int64_t, bool, CUstream_st*) {
  no_cuda("spmm_max_backward_x");
}
void max_combine(float*, std::int64_t, const float*, std::int64_t, std::int64_t, std::int64_t, std::int8_t*,
                 std::int8_t, CUstream_st*) {
  no_cuda("max_combine");
}
void mask_winner(float*, std::int64_t, std::int64_t, std::int64_t, const std::int8_t*, std::int8_t, CUstream_st*) {
  no_cuda("mask_winner");
}
struct CusparseSpmm::State {};
CusparseSpmm::CusparseSpmm(cusparseContext*, const DeviceCsc&, const float*, CUstream_st*) {
  no_cuda("CusparseSpmm");
}
CusparseSpmm::~CusparseSpmm() = default;
void CusparseSpmm::run(const float*, std::int64_t, float*) { no_cuda("CusparseSpmm::run"); }
void edge_dots(const DeviceCsc&, const float*, std::int64_t, const float*, std::int64_t, int, std::int64_t, float*,
               CUstream_st*) {
  no_cuda("edge_dots");
}
struct CusparseSddmm::State {};
CusparseSddmm::CusparseSddmm(cusparseContext*, const DeviceCsc&, CUstream_st*) { no_cuda("CusparseSddmm"); }
CusparseSddmm::~CusparseSddmm() = default;
void CusparseSddmm::run(const float*, std::int64_t, const float*, std::int64_t, int, std::int64_t, float*) {
  no_cuda("CusparseSddmm::run");
}
void gather_rows(const float*, std::int64_t, std::int64_t, const std::int64_t*, std::int64_t, float*,
                 std::int64_t, CUstream_st*) {
  no_cuda("gather_rows");
}
void gather_int64(const std::int64_t*, const std::int64_t*, std::int64_t, std::int64_t*, CUstream_st*) {
  no_cuda("gather_int64");
}
IndexStats index_stats(const std::int64_t*, std::int64_t, CUstream_st*) { no_cuda("index_stats"); }
std::int64_t self_loop_indptr(const DeviceCsc&, std::int64_t, std::int64_t*, CUstream_st*) {
  no_cuda("self_loop_indptr");
}
void self_loop_indices(const DeviceCsc&, std::int64_t, const std::int64_t*, std::int32_t*, CUstream_st*) {
  no_cuda("self_loop_indices");
}
void normalize_rows_forward(float*, std::int64_t, std::int64_t, std::int64_t, double*, CUstream_st*) {
  no_cuda("normalize_rows_forward");
}
void normalize_rows_backward(const float*, std::int64_t, const double*, float*, std::int64_t, std::int64_t,
                             std::int64_t, CUstream_st*) {
  no_cuda("normalize_rows_backward");
}
void layer_norm_forward(const float*, std::int64_t, std::int64_t, std::int64_t, const float*, const float*, double,
                        float*, float*, double*, CUstream_st*) {
  no_cuda("layer_norm_forward");
}
void layer_norm_backward(const float*, std::int64_t, std::int64_t, const float*, const double*, const float*,
                         std::int64_t, float*, float*, float*, CUstream_st*) {
  no_cuda("layer_norm_backward");
}
std::int64_t first_non_finite(const float*, std::int64_t, std::int64_t, std::int64_t, CUstream_st*) {
  no_cuda("first_non_finite");
}
void activation_dropout_forward(nn::Activation, float*, std::int64_t, std::int64_t, std::int64_t, float,
                                double, std::uint64_t, CUstream_st*) {
  no_cuda("activation_dropout_forward");
}
void activation_dropout_backward(nn::Activation, const float*, std::int64_t, float*, std::int64_t,
                                 std::int64_t, std::int64_t, float, double, CUstream_st*) {
  no_cuda("activation_dropout_backward");
}
void sgemm(cublasContext*, bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*,
           std::int64_t, const float*, std::int64_t, float, float*, std::int64_t, bool) {
  no_cuda("sgemm");
}
void add_bias_rows(float*, std::int64_t, std::int64_t, std::int64_t, const float*, CUstream_st*) {
  no_cuda("add_bias_rows");
}
void add_column_sums(const float*, std::int64_t, std::int64_t, std::int64_t, float*, CUstream_st*) {
  no_cuda("add_column_sums");
}
void scale_add(float*, std::int64_t, const float*, std::int64_t, std::int64_t, std::int64_t, float, float,
               CUstream_st*) {
  no_cuda("scale_add");
}
void scale(float*, std::int64_t, std::int64_t, std::int64_t, float, CUstream_st*) { no_cuda("scale"); }
double sum_squares(const float*, std::int64_t, CUstream_st*) { no_cuda("sum_squares"); }
void sgd_update(const train_detail::SgdStep&, float*, const float*, float*, std::int64_t, CUstream_st*) {
  no_cuda("sgd_update");
}
void adam_update(const train_detail::AdamStep&, float*, const float*, float*, float*, std::int64_t,
                 CUstream_st*) {
  no_cuda("adam_update");
}
void binary_loss_rows(const train_detail::BinaryLossTerm&, const float*, std::int64_t, std::int64_t, const float*,
                      const float*, double, double*, float*, std::int64_t, CUstream_st*) {
  no_cuda("binary_loss_rows");
}
void bpr_rows(const float*, std::int64_t, const float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, double,
              double*, float*, std::int64_t, float*, std::int64_t, std::int64_t, CUstream_st*) {
  no_cuda("bpr_rows");
}
void cross_entropy_rows(const float*, std::int64_t, std::int64_t, std::int64_t, const std::int64_t*, double,
                        double*, float*, std::int64_t, CUstream_st*) {
  no_cuda("cross_entropy_rows");
}
void head_dots(const float*, std::int64_t, std::int64_t, int, std::int64_t, const float*, float*, CUstream_st*) {
  no_cuda("head_dots");
}
void head_dots_backward(const float*, std::int64_t, std::int64_t, int, std::int64_t, const float*, const float*,
                        float*, std::int64_t, float*, CUstream_st*) {
  no_cuda("head_dots_backward");
}
void gat_attention_forward(const DeviceCsc&, const float*, const float*, int, float, float*, float*, CUstream_st*) {
  no_cuda("gat_attention_forward");
}
void gat_attention_backward(const DeviceCsc&, const float*, const float*, int, float, float*, CUstream_st*) {
  no_cuda("gat_attention_backward");
}
void gat_aggregate_backward(const DeviceCsc&, const float*, std::int64_t, const float*, std::int64_t, std::int64_t,
                            const float*, int, float*, std::int64_t, float*, CUstream_st*) {
  no_cuda("gat_aggregate_backward");
}
void edge_sum_to_dst(const DeviceCsc&, const float*, int, float*, CUstream_st*) { no_cuda("edge_sum_to_dst"); }
void edge_sum_to_src(const DeviceCsc&, const float*, int, float*, CUstream_st*) { no_cuda("edge_sum_to_src"); }
void mean_heads(const float*, std::int64_t, std::int64_t, int, std::int64_t, float*, CUstream_st*) {
  no_cuda("mean_heads");
}
void spread_heads(const float*, std::int64_t, std::int64_t, int, std::int64_t, float*, CUstream_st*) {
  no_cuda("spread_heads");
}
}  // namespace kernels::cuda

namespace sampling_detail {
DeviceMiniBatch sample_on_cuda(const Context&, const DeviceGraph&, const Fanouts&, int, const TensorView&,
                               std::uint64_t) {
  no_cuda("DeviceSampler::sample");
}
}  // namespace sampling_detail

}  // namespace gnnkit
