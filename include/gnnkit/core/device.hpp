#pragma once
/// @file
/// Where memory lives and kernels run: the CPU or one CUDA device.

#include <cstdint>
#include <ostream>
#include <string>

namespace gnnkit {

/// @brief Kind of device.
enum class DeviceType : std::uint8_t { kCpu, kCuda };

/// @brief A device: the CPU, or CUDA device number `index`.
struct Device {
  DeviceType type = DeviceType::kCpu;
  int index = 0;

  /// @brief The host CPU.
  static constexpr Device cpu() noexcept { return {DeviceType::kCpu, 0}; }
  /// @brief CUDA device number `index`.
  static constexpr Device cuda(int index = 0) noexcept { return {DeviceType::kCuda, index}; }

  constexpr bool is_cpu() const noexcept { return type == DeviceType::kCpu; }
  constexpr bool is_cuda() const noexcept { return type == DeviceType::kCuda; }
  friend constexpr bool operator==(Device, Device) = default;

  /// @brief "cpu" or "cuda:<index>".
  std::string str() const {
    return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
  }
};

inline std::ostream& operator<<(std::ostream& out, Device device) { return out << device.str(); }

}  // namespace gnnkit
