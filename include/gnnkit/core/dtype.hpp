#pragma once
/// @file
/// Element types of tensors, with sizes, names and the mapping from C++ types.

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>
#include <type_traits>

namespace gnnkit {

/// @brief Element type of a tensor.
enum class DType : std::uint8_t { kFloat32, kFloat64, kInt32, kInt64, kUInt8, kInt8, kBool };

/// @brief Size of one element in bytes.
constexpr std::size_t dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kUInt8:
    case DType::kInt8:
    case DType::kBool:
      return 1;
  }
  return 0;
}

/// @brief NumPy-style name: "float32", "int64", ...
constexpr std::string_view dtype_name(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kUInt8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kBool: return "bool";
  }
  return "unknown";
}

inline std::ostream& operator<<(std::ostream& out, DType dtype) { return out << dtype_name(dtype); }

namespace detail {
template <typename T>
struct DTypeOf;
template <> struct DTypeOf<float> : std::integral_constant<DType, DType::kFloat32> {};
template <> struct DTypeOf<double> : std::integral_constant<DType, DType::kFloat64> {};
template <> struct DTypeOf<std::int32_t> : std::integral_constant<DType, DType::kInt32> {};
template <> struct DTypeOf<std::int64_t> : std::integral_constant<DType, DType::kInt64> {};
template <> struct DTypeOf<std::uint8_t> : std::integral_constant<DType, DType::kUInt8> {};
template <> struct DTypeOf<std::int8_t> : std::integral_constant<DType, DType::kInt8> {};
template <> struct DTypeOf<bool> : std::integral_constant<DType, DType::kBool> {};
}  // namespace detail

/// @brief The DType of a C++ element type: dtype_of<float> == DType::kFloat32.
template <typename T>
inline constexpr DType dtype_of = detail::DTypeOf<std::remove_cv_t<T>>::value;

}  // namespace gnnkit
