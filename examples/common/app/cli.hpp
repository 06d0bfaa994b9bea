#pragma once
/// @file
/// Command-line helpers shared by the example apps (gnnkit-fraud, gnnkit-recsys): typed option
/// values with errors that name the option, and comma-separated lists.
#include <cctype>
#include <cstdint>
#include <limits>
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
/// is a UsageError naming the option, and so is a negative value for an unsigned T and a
/// value beyond T's range (4294967297 epochs must not become 1). Leading spaces or '+' are
/// refused too (std::stoll would take them).
template <typename T>
T parse_number(const std::string& option, const std::string& text) {
  std::size_t used = 0;
  T value{};
  bool in_range = true;
  try {
    if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])) || text[0] == '+')
      throw std::invalid_argument("form");
    if constexpr (std::is_floating_point_v<T>) {
      value = T(std::stod(text, &used));
    } else if constexpr (std::is_unsigned_v<T>) {
      if (text[0] == '-') throw std::invalid_argument("negative");
      const unsigned long long v = std::stoull(text, &used);
      in_range = v <= std::numeric_limits<T>::max();
      value = T(v);
    } else {
      const long long v = std::stoll(text, &used);
      in_range = v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
      value = T(v);
    }
  } catch (const std::out_of_range&) {
    in_range = false;
    used = text.size();
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw UsageError{option + " expects a number, got '" + text + "'"};
  if (!in_range)
    throw UsageError{option + " must be in [" + std::to_string(std::numeric_limits<T>::lowest()) + ", " +
                     std::to_string(std::numeric_limits<T>::max()) + "], got '" + text + "'"};
  return value;
}

/// --threads: 0 (all cores) to 1024; more would only crash or crawl.
inline int parse_threads(const std::string& option, const std::string& text) {
  const int threads = parse_number<int>(option, text);
  if (threads < 0 || threads > 1024)
    throw UsageError{option + " must be in [0, 1024] (0: all cores), got " + text};
  return threads;
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
