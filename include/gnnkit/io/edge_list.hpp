#pragma once
/// @file
/// Edge-list CSV reader: `src,dst[,timestamp][,weight]` with integer ids or string keys
/// (card numbers, device ids) mapped to dense ids in order of first appearance. Parses in
/// parallel over chunks of a memory-mapped file; the result is identical for any thread
/// count. (compiled target)

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/host_array.hpp"

namespace gnnkit {

/// @brief Dense id <-> key of one id space. Key of id i is bytes[offsets[i], offsets[i+1]).
struct KeyMap {
  HostArray offsets;  ///< int64 [size + 1]
  HostArray bytes;    ///< uint8, the keys back to back

  std::int64_t size() const noexcept { return offsets.defined() ? offsets.size() - 1 : 0; }
  /// @throws OutOfRange
  std::string_view key(std::int64_t id) const {
    GNNKIT_EXPECTS_AS(OutOfRange, "KeyMap::key", id >= 0 && id < size(),
                      "'id' must be in [0, {}), got {}", size(), id);
    const auto off = offsets.as<std::int64_t>();
    return {static_cast<const char*>(bytes.data()) + off[std::size_t(id)],
            std::size_t(off[std::size_t(id) + 1] - off[std::size_t(id)])};
  }
  /// @brief Builds a map from keys given in id order.
  static KeyMap from_keys(const std::vector<std::string>& keys) {
    KeyMap m;
    m.offsets = HostArray::of<std::int64_t>(std::int64_t(keys.size()) + 1);
    std::int64_t total = 0;
    auto off = m.offsets.as<std::int64_t>();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      off[i] = total;
      total += std::int64_t(keys[i].size());
    }
    off[keys.size()] = total;
    m.bytes = HostArray::of<std::uint8_t>(total);
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (!keys[i].empty()) std::memcpy(static_cast<char*>(m.bytes.data()) + off[i], keys[i].data(), keys[i].size());
    return m;
  }
};

/// @brief Options of read_edge_list.
struct EdgeListOptions {
  enum class Header : std::uint8_t {
    kAuto,  ///< the first line is a header when a numeric field of it does not parse as a
            ///< number, or (string keys, no numeric columns) when its src/dst fields read
            ///< like column names (src, dst, source, target, from, to, ...)
    kYes,
    kNo
  };
  char delimiter = ',';
  Header header = Header::kAuto;
  bool string_keys = true;   ///< false: src/dst are integer ids >= 0, used as they are
  bool shared_ids = true;    ///< src and dst keys share one id space (one node type)
  int src_column = 0;
  int dst_column = 1;
  int timestamp_column = -1;  ///< int64; fractional values are floored (e.g. 1289241911.72)
  int weight_column = -1;     ///< float32, must be finite
};

/// @brief A parsed edge list.
struct EdgeList {
  HostArray src, dst;    ///< int64 [E] dense ids
  HostArray timestamps;  ///< int64 [E] when a timestamp column was given
  HostArray weights;     ///< float32 [E] when a weight column was given
  KeyMap src_keys;       ///< string keys: key of each src id (the shared map when shared_ids)
  KeyMap dst_keys;       ///< string keys with shared_ids = false
  std::vector<std::string> header;  ///< column names when the file had a header
  std::int64_t num_src_nodes = 0, num_dst_nodes = 0;
  std::int64_t num_edges() const noexcept { return src.size(); }
};

/// @brief Reads an edge-list CSV in parallel (ctx.num_threads()).
/// @throws IoError (cannot open/map), FormatError naming the file, line, column and the bad
///         text (missing column, not a number, negative id, non-finite weight)
EdgeList read_edge_list(const Context& ctx, const std::string& path,
                        const EdgeListOptions& options = {});

}  // namespace gnnkit
