#pragma once
/// @file
/// DLPack export and import of Tensor, zero-copy both ways: the versioned DLPack 1.x
/// DLManagedTensorVersioned (capsule "dltensor_versioned", what NumPy 2 asks for; it carries a
/// read-only flag, so NumPy gives writable arrays) and the legacy DLManagedTensor
/// (capsule "dltensor", what older consumers take).
/// The structs are declared here in gnnkit::dlpack so that a user's own dlpack.h never
/// conflicts; only their layout matters to the ABI.

#include <cstdint>

#include "gnnkit/core/tensor.hpp"

namespace gnnkit::dlpack {

enum DeviceType : std::int32_t { kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3, kDLCUDAManaged = 13 };
enum DataTypeCode : std::uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBool = 6 };

struct DLDevice {
  std::int32_t device_type;
  std::int32_t device_id;
};
struct DLDataType {
  std::uint8_t code;
  std::uint8_t bits;
  std::uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  std::int32_t ndim;
  DLDataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;  // in elements; null means compact row-major
  std::uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
struct DLPackVersion {
  std::uint32_t major;
  std::uint32_t minor;
};
/// Flag bits of DLManagedTensorVersioned::flags.
inline constexpr std::uint64_t kFlagReadOnly = 1u << 0;
inline constexpr std::uint64_t kFlagIsCopied = 1u << 1;
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  std::uint64_t flags;
  DLTensor dl_tensor;
};
/// @brief The DLPack version gnnkit produces.
inline constexpr DLPackVersion kVersion{1, 0};

/// @brief Exports t without copying. The returned tensor keeps t's memory alive until its
/// deleter is called (by the consumer). @throws InvalidArgument for an undefined tensor
DLManagedTensor* to_dlpack(const Tensor& t);

/// @brief Versioned export (DLPack 1.0): writable, not a copy.
DLManagedTensorVersioned* to_dlpack_versioned(const Tensor& t);

/// @brief Imports a DLPack tensor without copying and takes ownership: its deleter runs when
/// the last copy of the returned Tensor is gone (also when this function throws).
/// @throws InvalidArgument for unsupported dtypes, lanes != 1, or unsupported devices
Tensor from_dlpack(DLManagedTensor* managed);
/// @brief Versioned import; also rejects major versions other than 1. Read-only producers are
/// accepted (gnnkit tensors have no read-only flag: callers must not write to them).
Tensor from_dlpack(DLManagedTensorVersioned* managed);

/// @brief Our dtype as a DLPack dtype. @throws InvalidArgument never (all dtypes map)
DLDataType to_dlpack_dtype(DType dtype) noexcept;
/// @brief Our device as a DLPack device.
DLDevice to_dlpack_device(Device device) noexcept;

}  // namespace gnnkit::dlpack
