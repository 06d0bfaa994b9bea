#pragma once
/// @file
/// Graph files: a versioned, little-endian, 64-byte aligned binary format holding a
/// HeteroGraph and (optionally) its FeatureStore. Saving writes a temporary file and renames
/// it over the target, so a crash or an error never leaves a half-written file and never
/// destroys an existing one. Loading memory-maps the file: no array is read or copied, so
/// opening takes milliseconds whatever the size. Format: docs/graph_file_format.md.
/// (compiled target)

#include <cstdint>
#include <map>
#include <string>

#include "gnnkit/graph/feature_store.hpp"
#include "gnnkit/graph/hetero_graph.hpp"
#include "gnnkit/io/edge_list.hpp"

namespace gnnkit {

/// @brief Current graph file format version (files of a newer version are rejected).
inline constexpr std::uint32_t kGraphFileVersion = 1;

/// @brief A loaded (memory-mapped) graph, its features and the original keys of node types
/// whose ids were made from string keys (e.g. by read_edge_list).
struct GraphFile {
  HeteroGraph graph;
  FeatureStore features;
  std::map<std::string, KeyMap> node_keys;
};

/// @brief Options of load_graph.
struct LoadOptions {
  /// Also check every array's checksum and every index range (indptr monotone and
  /// consistent, ids below their bounds, feature rows matching node counts). O(file size).
  /// Without it only the header, schema and array table are checked (O(1) in the data).
  bool verify = false;
  /// Read every page in now (MADV_POPULATE_READ): opening reads the whole file, but the first
  /// batches then take no page faults. For servers and benchmarks that want steady-state
  /// latency. The pages stay shared with the page cache (no private copy), so under memory
  /// pressure the kernel may drop and re-read them; a file replaced by rename (as save_graph
  /// does) never shows through an open mapping.
  bool populate = false;
};

/// @brief Writes graph (+ features) to path atomically (temp file, fsync, rename).
/// @throws IoError naming the path and the OS error; InvalidArgument when a feature matrix
///         does not fit the graph (rows != node count)
void save_graph(const std::string& path, const HeteroGraph& graph,
                const FeatureStore& features = {},
                const std::map<std::string, KeyMap>& node_keys = {});

/// @brief save_graph of all parts of a GraphFile.
inline void save_graph(const std::string& path, const GraphFile& file) {
  save_graph(path, file.graph, file.features, file.node_keys);
}

/// @brief Memory-maps a graph file. The returned arrays point into the mapping, which stays
/// alive as long as any of them does.
/// @throws IoError (cannot open / map), FormatError naming the file and what is wrong
///         (bad magic, future version, truncation, checksum, out-of-range index, ...)
GraphFile load_graph(const std::string& path, const LoadOptions& options = {});

}  // namespace gnnkit
