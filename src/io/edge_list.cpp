// Parallel edge-list CSV reader. Three passes over a memory-mapped file, each parallel over
// the same line-aligned chunks: count rows, parse rows (keys get chunk-local ids through a
// chunk-local hash table), then translate local ids to global ones after a merge of the
// chunk tables in chunk order — so ids follow first appearance in the file for any thread
// count.
#include "gnnkit/io/edge_list.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "mapped_file.hpp"

namespace gnnkit {
namespace {

constexpr const char* kFn = "read_edge_list";

std::uint64_t hash_bytes(std::string_view s) {
  // FNV-1a over 8-byte words then a final mix: fast for short keys, good enough spread.
  std::uint64_t h = 0xcbf29ce484222325ull ^ s.size();
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < s.size(); ++i) h = (h ^ std::uint8_t(s[i])) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

/// Open-addressing key -> id table over string_views into the mapped file. Each slot keeps
/// the full hash and, for keys up to 16 bytes (card numbers, device ids), the key itself, so
/// a lookup usually touches one cache line instead of chasing the key into the file.
class KeyTable {
 public:
  KeyTable() { slots_.resize(1 << 12); }
  /// The id of key, inserting it with the next id when new.
  std::int64_t intern(std::string_view key) { return intern_hashed(key, hash_bytes(key)); }
  std::int64_t intern_hashed(std::string_view key, std::uint64_t h) {
    if ((keys_.size() + 1) * 2 > slots_.size()) grow();
    GNNKIT_EXPECTS_AS(OutOfRange, kFn, keys_.size() < std::size_t(INT32_MAX),
                      "more than {} distinct keys in one column", INT32_MAX);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = std::size_t(h) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s.hash = h;
        s.id = std::int32_t(keys_.size());
        s.len = std::uint32_t(key.size());
        s.ptr = key.data();
        if (key.size() <= sizeof s.inline_bytes) std::memcpy(s.inline_bytes, key.data(), key.size());
        keys_.push_back(key);
        hashes_.push_back(h);
        return s.id;
      }
      if (s.hash == h && s.len == key.size() && equal(s, key)) return s.id;
    }
  }
  /// The id of key, or -1; read-only, so many threads may look up at once.
  std::int64_t find_hashed(std::string_view key, std::uint64_t h) const {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = std::size_t(h) & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.len == key.size() && equal(s, key)) return s.id;
    }
  }
  const std::vector<std::string_view>& keys() const { return keys_; }
  const std::vector<std::uint64_t>& hashes() const { return hashes_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    const char* ptr = nullptr;
    std::uint32_t len = 0;
    std::int32_t id = -1;  // chunk tables hold < 2^31 keys (a chunk is < 2^31 rows)
    char inline_bytes[16];
  };
  static bool equal(const Slot& s, std::string_view key) {
    const char* stored = key.size() <= sizeof s.inline_bytes ? s.inline_bytes : s.ptr;
    return std::memcmp(stored, key.data(), key.size()) == 0;
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.id < 0) continue;
      std::size_t i = std::size_t(s.hash) & mask;
      while (slots_[i].id >= 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::vector<std::string_view> keys_;
  std::vector<std::uint64_t> hashes_;
};

struct ParseError {
  std::size_t offset = std::numeric_limits<std::size_t>::max();  // byte offset of the line
  std::string what;
};

/// Splits line into fields at delim, honouring "quoted fields" (quotes removed, no escapes).
int split(std::string_view line, char delim, std::string_view* fields, int max_fields) {
  int n = 0;
  std::size_t p = 0;
  while (n < max_fields) {
    if (p < line.size() && line[p] == '"') {
      const std::size_t close = line.find('"', p + 1);
      const std::size_t end = close == std::string_view::npos ? line.size() : close;
      fields[n++] = line.substr(p + 1, end - p - 1);
      const std::size_t next = line.find(delim, end);
      if (next == std::string_view::npos) break;
      p = next + 1;
      continue;
    }
    const std::size_t next = line.find(delim, p);
    fields[n++] = line.substr(p, next == std::string_view::npos ? std::string_view::npos : next - p);
    if (next == std::string_view::npos) break;
    p = next + 1;
  }
  return n;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_int(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_time(std::string_view s, std::int64_t& out) {
  if (parse_int(s, out)) return true;
  double d;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(d) || std::abs(d) > 9.2e18)
    return false;
  out = std::int64_t(std::floor(d));
  return true;
}

bool parse_float(std::string_view s, float& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool looks_like_name(std::string_view s) {
  static constexpr std::string_view names[] = {"src", "dst", "source", "target", "from", "to",
                                               "u", "v", "head", "tail", "node", "user", "item"};
  std::string lower(s);
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (auto n : names)
    if (lower == n || lower.rfind(std::string(n) + "_", 0) == 0) return true;
  return false;
}

/// Line number (1-based) of the byte at offset: only computed for error messages.
std::int64_t line_of(const char* data, std::size_t offset) {
  return 1 + std::count(data, data + offset, '\n');
}

}  // namespace

EdgeList read_edge_list(const Context& ctx, const std::string& path, const EdgeListOptions& opt) {
  const int max_col = std::max({opt.src_column, opt.dst_column, opt.timestamp_column, opt.weight_column});
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, opt.src_column >= 0 && opt.dst_column >= 0 &&
                        opt.src_column != opt.dst_column && max_col < 64,
                    "columns must be distinct and in [0, 64): src {}, dst {}", opt.src_column,
                    opt.dst_column);
  const auto file = io_detail::map_file(path, kFn);
  const char* data = file->data;
  const std::size_t size = file->size;

  // Header: the first non-empty line.
  std::size_t body = 0;
  EdgeList out;
  {
    std::size_t end = 0;
    while (body < size) {
      end = std::find(data + body, data + size, '\n') - data;
      if (!trim(std::string_view(data + body, end - body)).empty()) break;
      body = end + 1;
    }
    if (body < size) {
      std::string_view line = trim(std::string_view(data + body, end - body));
      if (!line.empty() && line.front() == '\xef' && line.size() >= 3) line.remove_prefix(3);  // BOM
      std::string_view f[64];
      const int n = split(line, opt.delimiter, f, 64);
      bool header = opt.header == EdgeListOptions::Header::kYes;
      if (opt.header == EdgeListOptions::Header::kAuto && n > max_col) {
        std::int64_t i;
        float w;
        if (!opt.string_keys && (!parse_int(trim(f[opt.src_column]), i) || !parse_int(trim(f[opt.dst_column]), i)))
          header = true;
        if (opt.timestamp_column >= 0 && !parse_time(trim(f[opt.timestamp_column]), i)) header = true;
        if (opt.weight_column >= 0 && !parse_float(trim(f[opt.weight_column]), w)) header = true;
        if (opt.string_keys && looks_like_name(trim(f[opt.src_column])) && looks_like_name(trim(f[opt.dst_column])))
          header = true;
      }
      if (header) {
        for (int k = 0; k < n; ++k) out.header.emplace_back(trim(f[k]));
        body = end + 1;
      }
    }
  }

  // Line-aligned chunks, one per thread: each chunk interns its keys in its own table, and
  // every extra table costs a merge pass over its keys, so chunks are few and equal in bytes.
  const int threads = size - std::min(size, body) > (1 << 20) ? ctx.num_threads() : 1;
  const int chunks = threads;
  std::vector<std::size_t> start(std::size_t(chunks) + 1, size);
  start[0] = std::min(body, size);
  for (int c = 1; c < chunks; ++c) {
    std::size_t p = std::max(start[std::size_t(c) - 1], body + (size - std::min(size, body)) * std::size_t(c) / std::size_t(chunks));
    while (p < size && data[p - 1] != '\n') ++p;
    start[std::size_t(c)] = std::min(p, size);
  }
  auto for_each_line = [&](int c, auto&& fn) {
    std::size_t p = start[std::size_t(c)];
    const std::size_t end = start[std::size_t(c) + 1];
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(data + p, '\n', end - p));
      const std::size_t e = nl ? std::size_t(nl - data) : end;
      std::string_view line(data + p, e - p);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!trim(line).empty()) fn(p, line);
      p = e + 1;
    }
  };

  // Pass 1: rows per chunk.
  std::vector<std::int64_t> rows(std::size_t(chunks) + 1, 0);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int c = 0; c < chunks; ++c) {
    std::int64_t n = 0;
    for_each_line(c, [&](std::size_t, std::string_view) { ++n; });
    rows[std::size_t(c) + 1] = n;
  }
  for (int c = 0; c < chunks; ++c) rows[std::size_t(c) + 1] += rows[std::size_t(c)];
  const std::int64_t num_edges = rows[std::size_t(chunks)];

  out.src = HostArray::of<std::int64_t>(num_edges);
  out.dst = HostArray::of<std::int64_t>(num_edges);
  if (opt.timestamp_column >= 0) out.timestamps = HostArray::of<std::int64_t>(num_edges);
  if (opt.weight_column >= 0) out.weights = HostArray::of<float>(num_edges);
  std::int64_t* src = out.src.as<std::int64_t>().data();
  std::int64_t* dst = out.dst.as<std::int64_t>().data();
  std::int64_t* ts = out.timestamps.defined() ? out.timestamps.as<std::int64_t>().data() : nullptr;
  float* w = out.weights.defined() ? out.weights.as<float>().data() : nullptr;

  // Pass 2: parse. Keys get chunk-local ids.
  const bool two_tables = opt.string_keys && !opt.shared_ids;
  std::vector<KeyTable> src_tables(opt.string_keys ? std::size_t(chunks) : 0);
  std::vector<KeyTable> dst_tables(two_tables ? std::size_t(chunks) : 0);
  std::vector<ParseError> errors(static_cast<std::size_t>(chunks));
  std::vector<std::int64_t> max_id(std::size_t(chunks) * 2, -1);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int c = 0; c < chunks; ++c) {
    std::int64_t r = rows[std::size_t(c)];
    ParseError& err = errors[std::size_t(c)];
    std::string_view f[64];
    for_each_line(c, [&](std::size_t offset, std::string_view line) {
      if (err.offset != std::numeric_limits<std::size_t>::max()) return;
      const int n = split(line, opt.delimiter, f, 64);
      auto fail = [&](std::string what) {
        err.offset = offset;
        err.what = std::move(what);
      };
      if (n <= max_col) return fail(detail::format("expected at least {} columns, got {}", max_col + 1, n));
      const std::string_view s = trim(f[opt.src_column]), d = trim(f[opt.dst_column]);
      if (opt.string_keys) {
        if (s.empty() || d.empty())
          return fail(detail::format("empty key in column {}", s.empty() ? opt.src_column : opt.dst_column));
        src[r] = src_tables[std::size_t(c)].intern(s);
        dst[r] = (two_tables ? dst_tables[std::size_t(c)] : src_tables[std::size_t(c)]).intern(d);
      } else {
        if (!parse_int(s, src[r]) || src[r] < 0)
          return fail(detail::format("column {} (src) must be an integer id >= 0, got '{}'", opt.src_column, s));
        if (!parse_int(d, dst[r]) || dst[r] < 0)
          return fail(detail::format("column {} (dst) must be an integer id >= 0, got '{}'", opt.dst_column, d));
        max_id[std::size_t(c) * 2] = std::max(max_id[std::size_t(c) * 2], src[r]);
        max_id[std::size_t(c) * 2 + 1] = std::max(max_id[std::size_t(c) * 2 + 1], dst[r]);
      }
      if (ts && !parse_time(trim(f[opt.timestamp_column]), ts[r]))
        return fail(detail::format("column {} (timestamp) must be a number, got '{}'",
                                   opt.timestamp_column, trim(f[opt.timestamp_column])));
      if (w && (!parse_float(trim(f[opt.weight_column]), w[r]) || !std::isfinite(w[r])))
        return fail(detail::format("column {} (weight) must be a finite number, got '{}'",
                                   opt.weight_column, trim(f[opt.weight_column])));
      ++r;
    });
  }
  for (const ParseError& e : errors)  // chunks are in file order: the first is the earliest
    if (e.offset != std::numeric_limits<std::size_t>::max())
      throw FormatError(kFn, detail::format("'{}' line {}: {}", path, line_of(data, e.offset), e.what));

  if (!opt.string_keys) {
    for (int c = 0; c < chunks; ++c) {
      out.num_src_nodes = std::max(out.num_src_nodes, max_id[std::size_t(c) * 2] + 1);
      out.num_dst_nodes = std::max(out.num_dst_nodes, max_id[std::size_t(c) * 2 + 1] + 1);
    }
    if (opt.shared_ids) out.num_src_nodes = out.num_dst_nodes = std::max(out.num_src_nodes, out.num_dst_nodes);
    return out;
  }

  // Merge chunk tables in chunk order: global ids follow first appearance in the file. The
  // first chunk's table becomes the global one as it is (its ids are already global); each
  // later chunk's keys are looked up in parallel, and only the keys new to the global table
  // are inserted, in the chunk's first-appearance order.
  auto merge = [&](std::vector<KeyTable>& tables, std::vector<std::vector<std::int64_t>>& to_global) {
    to_global.resize(tables.size());
    KeyTable global = std::move(tables[0]);
    for (std::size_t c = 1; c < tables.size(); ++c) {
      const auto& keys = tables[c].keys();
      const auto& hashes = tables[c].hashes();
      auto& map = to_global[c];
      map.resize(keys.size());
      const std::int64_t n = std::int64_t(keys.size());
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::int64_t k = 0; k < n; ++k) map[std::size_t(k)] = global.find_hashed(keys[std::size_t(k)], hashes[std::size_t(k)]);
      for (std::size_t k = 0; k < keys.size(); ++k)
        if (map[k] < 0) map[k] = global.intern_hashed(keys[k], hashes[k]);
    }
    std::int64_t total = 0;
    for (auto k : global.keys()) total += std::int64_t(k.size());
    KeyMap keymap;
    keymap.offsets = HostArray::of<std::int64_t>(std::int64_t(global.keys().size()) + 1);
    keymap.bytes = HostArray::of<std::uint8_t>(total);
    auto off = keymap.offsets.as<std::int64_t>();
    char* bytes = static_cast<char*>(keymap.bytes.data());
    std::int64_t pos = 0;
    for (std::size_t i = 0; i < global.keys().size(); ++i) {
      off[i] = pos;
      std::memcpy(bytes + pos, global.keys()[i].data(), global.keys()[i].size());
      pos += std::int64_t(global.keys()[i].size());
    }
    off[global.keys().size()] = pos;
    return keymap;
  };
  std::vector<std::vector<std::int64_t>> src_global, dst_global;
  out.src_keys = merge(src_tables, src_global);
  if (two_tables) out.dst_keys = merge(dst_tables, dst_global);
  const auto& dst_map = two_tables ? dst_global : src_global;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int c = 1; c < chunks; ++c) {  // chunk 0's local ids are the global ids
    for (std::int64_t r = rows[std::size_t(c)]; r < rows[std::size_t(c) + 1]; ++r) {
      src[r] = src_global[std::size_t(c)][std::size_t(src[r])];
      dst[r] = dst_map[std::size_t(c)][std::size_t(dst[r])];
    }
  }
  out.num_src_nodes = out.src_keys.size();
  out.num_dst_nodes = two_tables ? out.dst_keys.size() : out.src_keys.size();
  return out;
}

}  // namespace gnnkit
