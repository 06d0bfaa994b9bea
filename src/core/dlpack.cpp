#include "gnnkit/core/dlpack.hpp"

#include <type_traits>

namespace gnnkit::dlpack {
namespace {

/// What a DLManagedTensor(Versioned) we export points at: the tensor (keeps the memory alive)
/// and the shape/stride arrays the DLTensor refers to.
template <typename Managed>
struct ExportState {
  Tensor tensor;
  std::int64_t shape[TensorView::kMaxDims];
  std::int64_t strides[TensorView::kMaxDims];
  Managed managed;
};

DType from_dlpack_dtype(const DLDataType& t) {
  constexpr const char* fn = "from_dlpack";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, t.lanes == 1,
                    "'dtype.lanes' must be 1 (no vector types), got {}", t.lanes);
  switch (t.code) {
    case kDLFloat:
      if (t.bits == 32) return DType::kFloat32;
      if (t.bits == 64) return DType::kFloat64;
      break;
    case kDLInt:
      if (t.bits == 32) return DType::kInt32;
      if (t.bits == 64) return DType::kInt64;
      if (t.bits == 8) return DType::kInt8;
      break;
    case kDLUInt:
      if (t.bits == 8) return DType::kUInt8;
      break;
    case kDLBool:
      if (t.bits == 8) return DType::kBool;
      break;
    default:
      break;
  }
  throw InvalidArgument(fn, detail::format("'dtype' must be one of float32/64, int8/32/64, uint8, "
                                           "bool, got DLPack code {} with {} bits",
                                           int(t.code), int(t.bits)));
}

}  // namespace

DLDataType to_dlpack_dtype(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32: return {kDLFloat, 32, 1};
    case DType::kFloat64: return {kDLFloat, 64, 1};
    case DType::kInt32: return {kDLInt, 32, 1};
    case DType::kInt64: return {kDLInt, 64, 1};
    case DType::kUInt8: return {kDLUInt, 8, 1};
    case DType::kInt8: return {kDLInt, 8, 1};
    case DType::kBool: return {kDLBool, 8, 1};
  }
  return {kDLUInt, 8, 1};
}

DLDevice to_dlpack_device(Device device) noexcept {
  return device.is_cpu() ? DLDevice{kDLCPU, 0} : DLDevice{kDLCUDA, device.index};
}

namespace {

template <typename Managed>
Managed* export_tensor(const Tensor& t) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "to_dlpack", t.defined(), "'tensor' must be defined");
  auto* state = new ExportState<Managed>{};
  state->tensor = t;
  for (int d = 0; d < t.ndim(); ++d) {
    state->shape[d] = t.size(d);
    state->strides[d] = t.view().stride(d);
  }
  DLTensor& dl = state->managed.dl_tensor;
  dl.data = t.data();
  dl.device = to_dlpack_device(t.device());
  dl.ndim = t.ndim();
  dl.dtype = to_dlpack_dtype(t.dtype());
  dl.shape = state->shape;
  dl.strides = state->strides;
  dl.byte_offset = 0;
  state->managed.manager_ctx = state;
  state->managed.deleter = [](Managed* self) {
    delete static_cast<ExportState<Managed>*>(self->manager_ctx);
  };
  return &state->managed;
}

template <typename Managed>
Tensor import_tensor(Managed* managed) {
  constexpr const char* fn = "from_dlpack";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, managed != nullptr, "'tensor' must not be null");
  // Own it from here on, so every error path below still releases the producer's memory.
  std::shared_ptr<void> owner(managed, [](void* p) {
    auto* m = static_cast<Managed*>(p);
    if (m->deleter) m->deleter(m);
  });
  if constexpr (std::is_same_v<Managed, DLManagedTensorVersioned>) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, managed->version.major == kVersion.major,
                      "'version' must be DLPack {}.x, got {}.{}", kVersion.major,
                      managed->version.major, managed->version.minor);
  }
  const DLTensor& dl = managed->dl_tensor;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, dl.ndim >= 0 && dl.ndim <= TensorView::kMaxDims,
                    "'ndim' must be in [0, {}], got {}", TensorView::kMaxDims, dl.ndim);
  Device device;
  switch (dl.device.device_type) {
    case kDLCPU:
    case kDLCUDAHost:  // pinned host memory is ordinary CPU memory to us
      device = Device::cpu();
      break;
    case kDLCUDA:
      device = Device::cuda(dl.device.device_id);
      break;
    default:
      throw InvalidArgument(fn, detail::format("'device' must be CPU, CUDA or CUDA host, got "
                                               "DLPack device type {}",
                                               dl.device.device_type));
  }
  const DType dtype = from_dlpack_dtype(dl.dtype);
  std::span<const std::int64_t> shape(dl.shape, std::size_t(dl.ndim));
  std::span<const std::int64_t> strides;
  if (dl.strides) strides = {dl.strides, std::size_t(dl.ndim)};
  void* data = static_cast<char*>(dl.data) + dl.byte_offset;
  return Tensor::wrap(TensorView(data, dtype, device, shape, strides), std::move(owner));
}

}  // namespace

DLManagedTensor* to_dlpack(const Tensor& t) { return export_tensor<DLManagedTensor>(t); }

DLManagedTensorVersioned* to_dlpack_versioned(const Tensor& t) {
  DLManagedTensorVersioned* m = export_tensor<DLManagedTensorVersioned>(t);
  m->version = kVersion;
  m->flags = 0;
  return m;
}

Tensor from_dlpack(DLManagedTensor* managed) { return import_tensor(managed); }
Tensor from_dlpack(DLManagedTensorVersioned* managed) { return import_tensor(managed); }

}  // namespace gnnkit::dlpack
