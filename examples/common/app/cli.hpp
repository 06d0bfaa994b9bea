#pragma once
/// @file
/// Command-line helpers shared by the example apps (gnnkit-fraud, gnnkit-recsys): typed option
/// values with errors that name the option, and comma-separated lists.
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace gnnkit::app {

/// Thrown for bad command lines: main prints the message and the usage, exit code 2.
struct UsageError {
  std::string message;
};

/// The value of a numeric option; anything but a whole number (or, for floating T, a number)
/// is a UsageError naming the option, and so is a negative value for an unsigned T.
template <typename T>
T parse_number(const std::string& option, const std::string& text) {
  std::size_t used = 0;
  T value{};
  try {
    if constexpr (std::is_floating_point_v<T>) {
      value = T(std::stod(text, &used));
    } else if constexpr (std::is_unsigned_v<T>) {
      if (!text.empty() && text[0] == '-') throw std::invalid_argument("negative");
      value = T(std::stoull(text, &used));
    } else {
      value = T(std::stoll(text, &used));
    }
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw UsageError{option + " expects a number, got '" + text + "'"};
  return value;
}

/// The value after option args[i] (advancing i past it); a UsageError when it is missing.
inline const std::string& option_value(const std::vector<std::string>& args, std::size_t& i) {
  if (i + 1 >= args.size()) throw UsageError{"option '" + args[i] + "' needs a value"};
  return args[++i];
}

/// A comma-separated list of integers (e.g. --fanouts 10,10).
inline std::vector<std::int64_t> parse_list(const std::string& option, const std::string& text) {
  std::vector<std::int64_t> out;
  std::stringstream ss(text);
  for (std::string token; std::getline(ss, token, ',');)
    out.push_back(parse_number<std::int64_t>(option, token));
  return out;
}

/// The inverse of parse_list: "10,10,5".
inline std::string join_list(const std::vector<std::int64_t>& values) {
  std::string out;
  for (std::int64_t v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

}  // namespace gnnkit::app
