#pragma once
/// @file
/// TensorView: a non-owning, strided view of a dense array on one device, and the argument
/// checks every public function makes on the views it receives.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include "gnnkit/core/device.hpp"
#include "gnnkit/core/dtype.hpp"
#include "gnnkit/core/error.hpp"

namespace gnnkit {

/// @brief A non-owning view: data pointer, dtype, device, shape and strides (in elements).
///
/// Cheap to copy (no allocation). The viewed memory must outlive the view. Strides are in
/// elements, as in DLPack; an empty strides argument means contiguous row-major.
class TensorView {
 public:
  /// @brief Most dimensions a tensor may have.
  static constexpr int kMaxDims = 6;

  TensorView() = default;

  /// @param data first element (may be null only when the view has no elements)
  /// @param shape extents, each >= 0; at most kMaxDims of them
  /// @param strides element strides per dimension, or empty for contiguous row-major
  /// @throws InvalidArgument for too many dims, negative extents, null data with elements,
  ///         or a strides list of the wrong length
  TensorView(void* data, DType dtype, Device device, std::span<const std::int64_t> shape,
             std::span<const std::int64_t> strides = {})
      : data_(data), dtype_(dtype), device_(device), ndim_(static_cast<int>(shape.size())) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "TensorView", ndim_ <= kMaxDims,
                      "'shape' must have at most {} dims, got {}", kMaxDims, ndim_);
    GNNKIT_EXPECTS_AS(InvalidArgument, "TensorView",
                      strides.empty() || strides.size() == shape.size(),
                      "'strides' must have {} entries (one per dim), got {}", shape.size(),
                      strides.size());
    for (int d = 0; d < ndim_; ++d) {
      GNNKIT_EXPECTS_AS(InvalidArgument, "TensorView", shape[d] >= 0,
                        "'shape[{}]' must be >= 0, got {}", d, shape[d]);
      shape_[d] = shape[d];
    }
    if (strides.empty()) {
      std::int64_t stride = 1;
      for (int d = ndim_ - 1; d >= 0; --d) {
        strides_[d] = stride;
        stride *= shape_[d];
      }
    } else {
      for (int d = 0; d < ndim_; ++d) strides_[d] = strides[d];
    }
    GNNKIT_EXPECTS_AS(InvalidArgument, "TensorView", data_ != nullptr || numel() == 0,
                      "'data' must not be null for a view of {} elements", numel());
  }

  TensorView(void* data, DType dtype, Device device, std::initializer_list<std::int64_t> shape)
      : TensorView(data, dtype, device, std::span<const std::int64_t>(shape.begin(), shape.size())) {}

  void* data() const noexcept { return data_; }
  DType dtype() const noexcept { return dtype_; }
  Device device() const noexcept { return device_; }
  int ndim() const noexcept { return ndim_; }
  std::span<const std::int64_t> shape() const noexcept { return {shape_.data(), std::size_t(ndim_)}; }
  std::span<const std::int64_t> strides() const noexcept {
    return {strides_.data(), std::size_t(ndim_)};
  }
  /// @brief Extent of dim d (negative d counts from the end). @throws OutOfRange
  std::int64_t size(int d) const { return shape_[normalize_dim(d)]; }
  /// @brief Stride of dim d in elements (negative d counts from the end). @throws OutOfRange
  std::int64_t stride(int d) const { return strides_[normalize_dim(d)]; }

  /// @brief Number of elements (1 for a 0-d view).
  std::int64_t numel() const noexcept {
    std::int64_t n = 1;
    for (int d = 0; d < ndim_; ++d) n *= shape_[d];
    return n;
  }
  std::size_t itemsize() const noexcept { return dtype_size(dtype_); }
  /// @brief Bytes covered by the elements (numel * itemsize); for contiguous views the extent.
  std::size_t nbytes() const noexcept { return std::size_t(numel()) * itemsize(); }

  /// @brief True when the elements are dense in row-major order (size-1 dims ignored).
  bool is_contiguous() const noexcept {
    std::int64_t expected = 1;
    for (int d = ndim_ - 1; d >= 0; --d) {
      if (shape_[d] != 1 && strides_[d] != expected) return numel() == 0;
      expected *= shape_[d];
    }
    return true;
  }

  /// @brief Typed pointer. @throws InvalidArgument when T does not match dtype()
  template <typename T>
  T* data_as() const {
    GNNKIT_EXPECTS_AS(InvalidArgument, "TensorView::data_as", dtype_of<T> == dtype_,
                      "requested element type {} of a {} view", dtype_name(dtype_of<T>),
                      dtype_name(dtype_));
    return static_cast<T*>(data_);
  }

  /// @brief "float32[7, 13] on cpu"
  std::string str() const {
    std::string out(dtype_name(dtype_));
    out += '[';
    for (int d = 0; d < ndim_; ++d) out += (d ? ", " : "") + std::to_string(shape_[d]);
    out += "] on " + device_.str();
    return out;
  }

 private:
  int normalize_dim(int d) const {
    const int nd = d < 0 ? d + ndim_ : d;
    GNNKIT_EXPECTS_AS(OutOfRange, "TensorView::size", nd >= 0 && nd < ndim_,
                      "'dim' must be in [{}, {}), got {}", -ndim_, ndim_, d);
    return nd;
  }

  void* data_ = nullptr;
  DType dtype_ = DType::kFloat32;
  Device device_{};
  int ndim_ = 0;
  std::array<std::int64_t, kMaxDims> shape_{};
  std::array<std::int64_t, kMaxDims> strides_{};
};

/// Argument checks shared by the front-ends. Each throws with the DESIGN.md message format,
/// naming the public function and the argument.
namespace check {

/// @brief 'arg' must be `dtype` on `device`. @throws InvalidArgument (dtype) or DeviceMismatch
inline void dtype_and_device(const char* function, const char* arg, const TensorView& view,
                             DType dtype, Device device) {
  if (view.dtype() != dtype)
    throw InvalidArgument(function, detail::format("'{}' must be {} on {}, got {} on {}", arg,
                                                   dtype, device, view.dtype(), view.device()));
  if (view.device() != device)
    throw DeviceMismatch(function, detail::format("'{}' must be {} on {}, got {} on {}", arg,
                                                  dtype, device, view.dtype(), view.device()));
}

/// @brief 'arg' must have `ndim` dimensions. @throws ShapeMismatch
inline void ndim(const char* function, const char* arg, const TensorView& view, int ndim) {
  if (view.ndim() != ndim)
    throw ShapeMismatch(function, detail::format("'{}' must be {}-d, got {}-d shape {}", arg,
                                                 ndim, view.ndim(), view.str()));
}

/// @brief 'arg' must hold data (not a default-constructed view). @throws InvalidArgument
inline void not_null(const char* function, const char* arg, const TensorView& view) {
  if (view.data() == nullptr && view.numel() > 0)
    throw InvalidArgument(function, detail::format("'{}' must not be null", arg));
  if (view.data() == nullptr && view.ndim() == 0)
    throw InvalidArgument(function, detail::format("'{}' must not be null (empty view)", arg));
}

}  // namespace check
}  // namespace gnnkit
