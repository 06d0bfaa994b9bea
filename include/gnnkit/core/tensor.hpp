#pragma once
/// @file
/// Tensor: an owning, reference-counted dense array on the CPU (64-byte aligned) or a CUDA
/// device. Copies share the memory (like torch.Tensor); clone() and to() copy it.
/// Allocation, copies and fills live in the compiled target gnnkit::gnnkit.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/tensor_view.hpp"

namespace gnnkit {

/// @brief Alignment in bytes of every CPU allocation gnnkit makes (one cache line / AVX-512).
inline constexpr std::size_t kCpuAlignment = 64;

class Tensor {
 public:
  /// @brief An undefined tensor (no data, 0-d). defined() is false.
  Tensor() = default;

  /// @brief Uninitialised contiguous tensor.
  /// @throws InvalidArgument for bad shapes, OutOfMemory when allocation fails,
  ///         NotCompiled / DeviceError for CUDA devices without CUDA
  static Tensor empty(std::span<const std::int64_t> shape, DType dtype,
                      Device device = Device::cpu());
  static Tensor empty(std::initializer_list<std::int64_t> shape, DType dtype,
                      Device device = Device::cpu()) {
    return empty(std::span<const std::int64_t>(shape.begin(), shape.size()), dtype, device);
  }
  /// @brief Zero-filled contiguous tensor (same throws as empty()).
  static Tensor zeros(std::span<const std::int64_t> shape, DType dtype,
                      Device device = Device::cpu());
  static Tensor zeros(std::initializer_list<std::int64_t> shape, DType dtype,
                      Device device = Device::cpu()) {
    return zeros(std::span<const std::int64_t>(shape.begin(), shape.size()), dtype, device);
  }

  /// @brief Uninitialised contiguous tensor in page-locked host memory (device cpu): the
  /// staging buffer of batch uploads, which copy_async then moves by DMA while the host goes
  /// on. Not cached: allocate it once and reuse it.
  /// @throws NotCompiled (a build without CUDA), OutOfMemory, InvalidArgument (shape)
  static Tensor empty_pinned(std::span<const std::int64_t> shape, DType dtype);
  static Tensor empty_pinned(std::initializer_list<std::int64_t> shape, DType dtype) {
    return empty_pinned(std::span<const std::int64_t>(shape.begin(), shape.size()), dtype);
  }

  /// @brief Adopts memory owned elsewhere without copying: `owner` keeps it alive (a NumPy
  /// array, a DLPack producer, a memory map) and is released with the last copy.
  static Tensor wrap(const TensorView& view, std::shared_ptr<void> owner) {
    Tensor t;
    t.view_ = view;
    t.owner_ = std::move(owner);
    return t;
  }

  bool defined() const noexcept { return owner_ != nullptr; }
  const TensorView& view() const noexcept { return view_; }
  operator const TensorView&() const noexcept { return view_; }  // NOLINT: views are cheap

  void* data() const noexcept { return view_.data(); }
  template <typename T>
  T* data_as() const {
    return view_.data_as<T>();
  }
  DType dtype() const noexcept { return view_.dtype(); }
  Device device() const noexcept { return view_.device(); }
  int ndim() const noexcept { return view_.ndim(); }
  std::span<const std::int64_t> shape() const noexcept { return view_.shape(); }
  std::span<const std::int64_t> strides() const noexcept { return view_.strides(); }
  std::int64_t size(int d) const { return view_.size(d); }
  std::int64_t numel() const noexcept { return view_.numel(); }
  std::size_t nbytes() const noexcept { return view_.nbytes(); }
  bool is_contiguous() const noexcept { return view_.is_contiguous(); }
  std::string str() const { return view_.str(); }

  /// @brief The shared owner of the memory (for zero-copy exports such as DLPack).
  const std::shared_ptr<void>& owner() const noexcept { return owner_; }

  /// @brief A contiguous copy on `device` (a copy even when already there).
  /// @throws InvalidArgument when this tensor is undefined
  Tensor to(Device device) const;
  /// @brief A contiguous copy on the same device.
  Tensor clone() const { return to(device()); }

 private:
  TensorView view_;
  std::shared_ptr<void> owner_;
};

/// @brief Copies src into dst element by element; shapes and dtypes must match, devices may
/// differ (host<->device copies run on ctx's stream and complete before returning).
/// Non-contiguous views are supported on the CPU; CUDA copies need contiguous views.
/// @throws InvalidArgument, ShapeMismatch, DeviceMismatch, NotCompiled, DeviceError
void copy(const Context& ctx, const TensorView& dst, const TensorView& src);

/// @brief copy, without waiting for a copy that involves a GPU: it is queued on ctx's stream
/// and ordered before the kernels queued after it. The caller keeps src unchanged and both
/// tensors alive until the stream has run it (ctx.synchronize(), or any call that waits,
/// such as reading a loss). From pinned host memory (Tensor::empty_pinned) the copy runs by
/// DMA while the host goes on; from pageable memory CUDA stages it before returning.
/// @throws as copy
void copy_async(const Context& ctx, const TensorView& dst, const TensorView& src);

/// @brief Sets every element of out to value (converted to out's dtype), on ctx's device.
/// @throws DeviceMismatch when out is not on ctx's device; InvalidArgument for CUDA views that
///         are not contiguous
void fill(const Context& ctx, const TensorView& out, double value);

}  // namespace gnnkit
