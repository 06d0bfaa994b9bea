#pragma once
/// @file
/// HostArray: an owning, shared, 64-byte aligned 1-d array in CPU memory with a runtime
/// dtype (large ones 2 MiB aligned on huge pages: large_alloc.hpp). Header-only (no CUDA, no
/// compiled target): graph storage and feature stores are made of these, and a
/// memory-mapped file can back one without a copy.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

#include "gnnkit/core/dtype.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/core/large_alloc.hpp"
#include "gnnkit/core/tensor_view.hpp"

namespace gnnkit {

class HostArray {
 public:
  /// @brief An empty (undefined) array: size 0, no owner.
  HostArray() = default;

  /// @brief Uninitialised array of n elements. @throws OutOfMemory, InvalidArgument (n < 0)
  static HostArray allocate(DType dtype, std::int64_t n) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "HostArray::allocate", n >= 0,
                      "'n' must be >= 0, got {}", n);
    const std::size_t bytes = std::size_t(n) * dtype_size(dtype);
    const std::size_t rounded = (bytes + 63) / 64 * 64 + 64 * (bytes == 0);
    void* p = detail::allocate_host_bytes(rounded);
    if (!p)
      throw OutOfMemory("HostArray::allocate",
                        detail::format("cannot allocate {} bytes ({} x {})", rounded, n,
                                       dtype_name(dtype)));
    HostArray a;
    a.owner_ = std::shared_ptr<void>(p, [rounded](void* q) { detail::free_host_bytes(q, rounded); });
    a.data_ = p;
    a.dtype_ = dtype;
    a.size_ = n;
    return a;
  }

  /// @brief Typed allocation: HostArray::of<float>(n).
  template <typename T>
  static HostArray of(std::int64_t n) {
    return allocate(dtype_of<T>, n);
  }

  /// @brief Adopts memory kept alive by `owner` (a memory map, a NumPy array) without copying.
  static HostArray wrap(void* data, DType dtype, std::int64_t n, std::shared_ptr<void> owner) {
    HostArray a;
    a.data_ = data;
    a.dtype_ = dtype;
    a.size_ = n;
    a.owner_ = std::move(owner);
    return a;
  }

  /// @brief A new array holding a copy of `values`.
  template <typename T>
  static HostArray copy_of(std::span<const T> values) {
    HostArray a = of<T>(std::int64_t(values.size()));
    if (!values.empty()) std::memcpy(a.data_, values.data(), values.size_bytes());
    return a;
  }

  bool defined() const noexcept { return data_ != nullptr; }
  DType dtype() const noexcept { return dtype_; }
  std::int64_t size() const noexcept { return size_; }
  std::size_t nbytes() const noexcept { return std::size_t(size_) * dtype_size(dtype_); }
  void* data() const noexcept { return data_; }
  const std::shared_ptr<void>& owner() const noexcept { return owner_; }

  /// @brief Typed span. @throws InvalidArgument when T is not the array's dtype
  template <typename T>
  std::span<T> as() const {
    GNNKIT_EXPECTS_AS(InvalidArgument, "HostArray::as", dtype_of<T> == dtype_,
                      "requested element type {} of a {} array", dtype_name(dtype_of<T>),
                      dtype_name(dtype_));
    return {static_cast<T*>(data_), std::size_t(size_)};
  }

  /// @brief 1-d (or [rows, size/rows] when rows > 0) view on the CPU.
  TensorView view(std::int64_t rows = 0) const {
    if (rows > 0) {
      const std::int64_t shape[] = {rows, size_ / rows};
      return TensorView(data_, dtype_, Device::cpu(), shape);
    }
    const std::int64_t shape[] = {size_};
    return TensorView(data_, dtype_, Device::cpu(), shape);
  }

 private:
  void* data_ = nullptr;
  DType dtype_ = DType::kUInt8;
  std::int64_t size_ = 0;
  std::shared_ptr<void> owner_;
};

}  // namespace gnnkit
