#pragma once
/// @file
/// Flat JSON objects for the example apps' line protocols (one object per input and output
/// line): a strict reader of string/number/bool/null fields and a string quoter.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gnnkit::app {

/// @brief One value of a flat JSON object.
struct JsonValue {
  enum class Kind : std::uint8_t { kString, kNumber, kBool, kNull };
  Kind kind = Kind::kNull;
  std::string text;    ///< kString: the decoded string; kNumber: the number as written
  double number = 0;   ///< kNumber
  bool boolean = false;
  /// The value as JSON (strings quoted and escaped, numbers as written).
  std::string json() const;
};

/// @brief A flat JSON object: fields in input order.
struct JsonObject {
  std::vector<std::pair<std::string, JsonValue>> fields;
  const JsonValue* find(std::string_view key) const;
};

/// @brief Parses one line holding a flat JSON object (string keys; string, number, true,
/// false or null values). Returns "" on success, else a message saying what is wrong and where
/// (nested objects and arrays are rejected by name).
std::string parse_flat_json(std::string_view line, JsonObject& out);

/// @brief s as a JSON string literal (quoted, escaped).
std::string json_quote(std::string_view s);

/// @brief The shortest text that reads back as value (JSON number); "null" when not finite.
std::string json_number(double value);

}  // namespace gnnkit::app
