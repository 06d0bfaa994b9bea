#include "app/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace gnnkit::app {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

/// Recursive-descent parser of one flat object; errors name the byte offset (1-based column).
class FlatParser {
 public:
  explicit FlatParser(std::string_view s) : s_(s) {}

  std::string parse(JsonObject& out) {
    out.fields.clear();
    ws();
    if (at_end()) return "empty line (expected a JSON object)";
    if (s_[i_] != '{') return fail(s_[i_] == '[' ? "expected a JSON object, got an array" : "expected '{'");
    ++i_;
    ws();
    if (peek() == '}') {
      ++i_;
      return finish();
    }
    for (;;) {
      ws();
      if (peek() != '"') return fail("expected a field name in double quotes");
      std::string key;
      if (auto e = string(key); !e.empty()) return e;
      ws();
      if (peek() != ':') return fail("expected ':' after field name '" + key + "'");
      ++i_;
      ws();
      JsonValue v;
      if (auto e = value(key, v); !e.empty()) return e;
      for (const auto& [k, _] : out.fields)
        if (k == key) return "duplicate field '" + key + "'";
      out.fields.emplace_back(std::move(key), std::move(v));
      ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() == '}') {
        ++i_;
        return finish();
      }
      return fail("expected ',' or '}'");
    }
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  void ws() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
  }
  std::string fail(const std::string& what) const {
    return "malformed JSON at column " + std::to_string(i_ + 1) + ": " + what +
           (at_end() ? " (end of line)" : "");
  }
  std::string finish() {
    ws();
    return at_end() ? "" : fail("unexpected text after the object");
  }
  std::string string(std::string& out) {
    ++i_;  // opening quote
    for (;;) {
      if (at_end()) return fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return "";
      if (static_cast<unsigned char>(c) < 0x20) {
        --i_;
        return fail("control character in a string");
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) return fail("unterminated escape");
      const char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return fail("bad \\u escape");
          if (cp >= 0xD800 && cp < 0xDC00) {  // surrogate pair
            std::uint32_t lo = 0;
            if (i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
              i_ += 2;
              if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return fail("bad surrogate pair");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              return fail("unpaired surrogate");
            }
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --i_;
          return fail(std::string("bad escape '\\") + e + "'");
      }
    }
  }
  bool hex4(std::uint32_t& cp) {
    if (i_ + 4 > s_.size()) return false;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= std::uint32_t(h - '0');
      else if (h >= 'a' && h <= 'f') cp |= std::uint32_t(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') cp |= std::uint32_t(h - 'A' + 10);
      else return false;
    }
    return true;
  }
  std::string value(const std::string& key, JsonValue& v) {
    const char c = peek();
    if (c == '"') {
      v.kind = JsonValue::Kind::kString;
      return string(v.text);
    }
    if (c == '{' || c == '[')
      return "field '" + key + "' holds " + (c == '{' ? "an object" : "an array") +
             "; only flat objects of strings and numbers are accepted";
    if (c == '-' || (c >= '0' && c <= '9')) return number(v);
    for (const char* word : {"true", "false", "null"}) {
      const std::size_t n = std::strlen(word);
      if (s_.substr(i_, n) == word) {
        i_ += n;
        v.kind = word[0] == 'n' ? JsonValue::Kind::kNull : JsonValue::Kind::kBool;
        v.boolean = word[0] == 't';
        v.text = word;
        return "";
      }
    }
    return fail("bad value of field '" + key + "'");
  }
  std::string number(JsonValue& v) {
    const std::size_t begin = i_;
    if (peek() == '-') ++i_;
    if (peek() == '0') {
      ++i_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++i_;
    } else {
      return fail("bad number");
    }
    if (peek() == '.') {
      ++i_;
      if (!(peek() >= '0' && peek() <= '9')) return fail("bad number (digits expected after '.')");
      while (peek() >= '0' && peek() <= '9') ++i_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!(peek() >= '0' && peek() <= '9')) return fail("bad number (exponent digits expected)");
      while (peek() >= '0' && peek() <= '9') ++i_;
    }
    v.kind = JsonValue::Kind::kNumber;
    v.text.assign(s_.substr(begin, i_ - begin));
    v.number = std::strtod(v.text.c_str(), nullptr);
    return "";
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

namespace {
/// The length of the well-formed UTF-8 sequence at s[i] (1-4), or 0 if it is not one (a stray
/// continuation byte, a truncated or overlong sequence, a surrogate, beyond U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (i + n > s.size() || b(1) < lo || b(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  return n;
}
}  // namespace

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      // JSON text is UTF-8: a valid sequence is copied, an invalid byte (echoed input, a
      // cut in the middle of a character) becomes U+FFFD, so every line stays parseable.
      const std::size_t n = utf8_sequence(s, i);
      if (n == 0) {
        out += "\\ufffd";
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string JsonValue::json() const { return kind == Kind::kString ? json_quote(text) : text; }

const JsonValue* JsonObject::find(std::string_view key) const {
  for (const auto& [k, v] : fields)
    if (k == key) return &v;
  return nullptr;
}

std::string parse_flat_json(std::string_view line, JsonObject& out) { return FlatParser(line).parse(out); }

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

}  // namespace gnnkit::app
