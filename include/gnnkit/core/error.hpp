#pragma once
/// @file
/// The gnnkit error hierarchy and the GNNKIT_EXPECTS precondition macro.
///
/// Every message reads "<function>: <what>", and preconditions phrase <what> as
/// "'<arg>' <expectation>, got <actual>", e.g.
/// "matmul: 'a' must be float32 on cpu, got int32 on cuda:0".

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace gnnkit {

/// @brief Root of every exception gnnkit throws. what() is the full message.
class Error : public std::runtime_error {
 public:
  /// @param function the public function that detected the problem
  /// @param detail what is wrong, naming the argument, the expectation and the actual value
  Error(std::string function, const std::string& detail)
      : std::runtime_error(function.empty() ? detail : function + ": " + detail),
        function_(std::move(function)) {}
  /// @brief The public function that raised the error.
  const std::string& function() const noexcept { return function_; }

 private:
  std::string function_;
};

/// @brief An argument has a wrong value, dtype or layout (Python: ValueError).
class InvalidArgument : public Error {
  using Error::Error;
};
/// @brief Shapes of arguments do not fit together (Python: ValueError).
class ShapeMismatch : public InvalidArgument {
  using InvalidArgument::InvalidArgument;
};
/// @brief Arguments live on different or wrong devices (Python: ValueError).
class DeviceMismatch : public InvalidArgument {
  using InvalidArgument::InvalidArgument;
};
/// @brief An index or id is outside its valid range (Python: IndexError).
class OutOfRange : public Error {
  using Error::Error;
};
/// @brief The feature was not compiled into this build, e.g. CUDA (Python: NotImplementedError).
class NotCompiled : public Error {
  using Error::Error;
};
/// @brief A device (CUDA) call failed or no device is present (Python: RuntimeError).
class DeviceError : public Error {
  using Error::Error;
};
/// @brief A backend library (oneDNN, cuBLAS, cuSPARSE) reported a failure (Python: RuntimeError).
class BackendError : public Error {
  using Error::Error;
};
/// @brief A file's content is malformed: bad magic, version, checksum, range (Python: OSError).
class FormatError : public Error {
  using Error::Error;
};
/// @brief An operating-system I/O call failed: open, read, write, rename (Python: OSError).
class IoError : public Error {
  using Error::Error;
};
/// @brief An allocation failed (Python: MemoryError).
class OutOfMemory : public Error {
  using Error::Error;
};

namespace detail {

inline void format_into(std::ostringstream& out, std::string_view fmt) { out << fmt; }

/// Replaces each "{}" in fmt by the next argument (streamed with operator<<). A tiny subset of
/// std::format: public headers may include only the standard library, and GCC 12 lacks <format>.
template <typename First, typename... Rest>
void format_into(std::ostringstream& out, std::string_view fmt, const First& first,
                 const Rest&... rest) {
  const auto pos = fmt.find("{}");
  if (pos == std::string_view::npos) {
    out << fmt;
    return;
  }
  out << fmt.substr(0, pos) << first;
  format_into(out, fmt.substr(pos + 2), rest...);
}

/// @brief Formats a message with "{}" placeholders.
template <typename... Args>
std::string format(std::string_view fmt, const Args&... args) {
  std::ostringstream out;
  format_into(out, fmt, args...);
  return out.str();
}

/// Out of line and cold so that the happy path of GNNKIT_EXPECTS is a single branch.
template <typename ErrorT, typename... Args>
[[noreturn]] __attribute__((noinline, cold)) void throw_error(const char* function,
                                                              std::string_view fmt,
                                                              const Args&... args) {
  throw ErrorT(function, format(fmt, args...));
}

}  // namespace detail
}  // namespace gnnkit

/// @brief Precondition check, always on: throws gnnkit::InvalidArgument naming the enclosing
/// function when cond is false. Usage: GNNKIT_EXPECTS(k > 0, "'k' must be positive, got {}", k).
#define GNNKIT_EXPECTS(cond, ...)                                                        \
  ((cond) ? static_cast<void>(0)                                                         \
          : ::gnnkit::detail::throw_error<::gnnkit::InvalidArgument>(__func__, __VA_ARGS__))

/// @brief Like GNNKIT_EXPECTS with an explicit error type and function name, for checks
/// made in helpers on behalf of a public function.
#define GNNKIT_EXPECTS_AS(ErrorT, function, cond, ...) \
  ((cond) ? static_cast<void>(0) : ::gnnkit::detail::throw_error<ErrorT>(function, __VA_ARGS__))
