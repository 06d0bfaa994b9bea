// Graph file writer and memory-mapped reader. Layout: docs/graph_file_format.md.
#include "gnnkit/io/graph_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include "graph_file_format.hpp"
#include "mapped_file.hpp"

namespace gnnkit {
namespace {

using namespace io_detail;


void add_array(std::vector<OutArray>& out, std::string name, const HostArray& a) {
  if (!a.defined()) return;
  out.push_back(OutArray{std::move(name), a.dtype(), 1, {a.size(), 0}, a.data(), a.nbytes()});
}

std::string kind_name(FeatureStore::Kind kind) {
  switch (kind) {
    case FeatureStore::Kind::kNodeFeatures: return "node";
    case FeatureStore::Kind::kEdgeFeatures: return "edge";
    case FeatureStore::Kind::kLabels: return "labels";
    case FeatureStore::Kind::kNodeTimes: return "times";
  }
  return "?";
}

/// Checks that every feature entry fits the graph: rows equal node counts (edge-id bound for
/// edge features), owners exist.
void check_features(const char* fn, const HeteroGraph& graph, const FeatureStore& features) {
  for (const auto& [key, m] : features.entries()) {
    std::int64_t expected;
    if (key.kind == FeatureStore::Kind::kEdgeFeatures) {
      expected = graph.relation(key.owner).edge_id_bound;
    } else {
      expected = graph.schema().num_nodes(key.owner);
    }
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, m.rows == expected,
                      "{} must have {} rows (one per {}), got {}", FeatureStore::describe(key),
                      expected, key.kind == FeatureStore::Kind::kEdgeFeatures ? "edge id" : "node",
                      m.rows);
  }
}

}  // namespace

void save_graph(const std::string& path, const HeteroGraph& graph, const FeatureStore& features,
                const std::map<std::string, KeyMap>& node_keys) {
  constexpr const char* fn = "save_graph";
  check_features(fn, graph, features);
  for (const auto& [type, keys] : node_keys)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, keys.size() == graph.schema().num_nodes(type),
                      "keys of '{}' must have {} entries (one per node), got {}", type,
                      graph.schema().num_nodes(type), keys.size());
  const Schema& schema = graph.schema();
  std::string text;
  for (int t = 0; t < schema.num_node_types(); ++t)
    text += node_line(schema.node_type(t), schema.num_nodes(t));
  std::vector<OutArray> arrays;
  for (int r = 0; r < graph.num_relations(); ++r) {
    const Relation& rel = graph.relation(r);
    text += relation_line(rel.type, rel.num_edges(), rel.edge_id_bound, rel.sorted_by_time);
    const std::string p = "rel/" + std::to_string(r) + "/";
    add_array(arrays, p + "csc_indptr", rel.csc_indptr);
    add_array(arrays, p + "csc_indices", rel.csc_indices);
    add_array(arrays, p + "edge_ids", rel.edge_ids);
    add_array(arrays, p + "timestamps", rel.timestamps);
    add_array(arrays, p + "weights", rel.weights);
    add_array(arrays, p + "csr_indptr", rel.csr_indptr);
    add_array(arrays, p + "csr_indices", rel.csr_indices);
    add_array(arrays, p + "csr_to_csc", rel.csr_to_csc);
  }
  for (const auto& [key, m] : features.entries()) {
    std::string name = kind_name(key.kind) + "/" + key.owner;
    if (!key.name.empty()) name += "/" + key.name;
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, name.size() < kNameBytes,
                      "array name '{}' must be shorter than {} bytes", name, kNameBytes);
    const bool matrix = key.kind == FeatureStore::Kind::kNodeFeatures ||
                        key.kind == FeatureStore::Kind::kEdgeFeatures;
    add_array(arrays, name, m.data);
    if (matrix) {
      arrays.back().ndim = 2;
      arrays.back().shape[0] = m.rows;
      arrays.back().shape[1] = m.cols;
    }
  }
  for (const auto& [type, keys] : node_keys) {
    add_array(arrays, "keys/" + type + "/offsets", keys.offsets);
    add_array(arrays, "keys/" + type + "/bytes", keys.bytes);
  }
  Layout layout = plan_layout(std::move(text), arrays);
  AtomicFile file(path, fn);
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    layout.table[i].checksum = Xxh64::hash(arrays[i].data, arrays[i].nbytes);
    file.write_at(layout.table[i].offset, arrays[i].data, arrays[i].nbytes);
  }
  file.write_at(0, encode_head(layout).data(), layout.data_offset);
  // The last array may end before file_bytes (alignment padding): extend to the full size.
  if (ftruncate(file.fd(), off_t(layout.file_bytes)) != 0)
    throw IoError(fn, detail::format("cannot size '{}': {}", file.temp_path(), errno_text()));
  file.commit();
}

// ---- reading ------------------------------------------------------------------------------

namespace {

class Reader {
 public:
  Reader(std::string path, const LoadOptions& options) : path_(std::move(path)), options_(options) {}

  GraphFile load() {
    map_file();
    const Header h = read_header();
    parse_schema(h);
    parse_table(h);
    return assemble();
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("load_graph", detail::format("'{}': {}", path_, what));
  }

  void map_file() {
    // Private and writable: pages are copied on write, so callers may modify loaded feature
    // arrays (e.g. a NumPy view) without ever touching the file or faulting.
    mapping_ = io_detail::map_file(path_, "load_graph", /*writable=*/true, options_.populate);
    base_ = mapping_->data;
    size_ = mapping_->size;
  }

  Header read_header() {
    if (size_ < kHeaderBytes)
      fail(detail::format("truncated: {} bytes, the header alone needs {}", size_, kHeaderBytes));
    Header h;
    std::memcpy(&h, base_, sizeof h);
    if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) fail("not a gnnkit graph file (bad magic)");
    if (h.version > kGraphFileVersion)
      fail(detail::format("format version {} is newer than this gnnkit reads ({}); upgrade gnnkit",
                          h.version, kGraphFileVersion));
    if (h.version == 0) fail("format version 0 is invalid");
    if (h.file_bytes != size_)
      fail(detail::format("truncated or extended: the header says {} bytes, the file has {}",
                          h.file_bytes, size_));
    if (h.data_offset < kHeaderBytes || h.data_offset > size_ || h.data_offset % kAlign != 0)
      fail(detail::format("bad data offset {}", h.data_offset));
    if (h.schema_bytes > h.data_offset - kHeaderBytes)
      fail(detail::format("schema of {} bytes does not fit before offset {}", h.schema_bytes, h.data_offset));
    const std::uint64_t table_offset = align_up(kHeaderBytes + h.schema_bytes);
    if (h.num_arrays > (h.data_offset - table_offset) / kEntryBytes || table_offset > h.data_offset)
      fail(detail::format("array table of {} entries does not fit before offset {}", h.num_arrays,
                          h.data_offset));
    // The header checksum covers header, schema and table: every structural byte.
    std::vector<char> head(base_, base_ + h.data_offset);
    Header zeroed = h;
    zeroed.header_checksum = 0;
    std::memcpy(head.data(), &zeroed, sizeof zeroed);
    if (io_detail::Xxh64::hash(head.data(), head.size()) != h.header_checksum)
      fail("header checksum mismatch (the header, schema or array table is corrupted)");
    table_offset_ = table_offset;
    return h;
  }

  static bool parse_int(std::string_view token, std::int64_t& out) {
    auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), out);
    return ec == std::errc() && ptr == token.data() + token.size();
  }

  void parse_schema(const Header& h) {
    std::string_view text(base_ + kHeaderBytes, h.schema_bytes);
    int line_no = 0;
    while (!text.empty()) {
      const auto nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
      ++line_no;
      std::vector<std::string_view> tok;
      for (std::size_t p = 0; p < line.size();) {
        const auto q = line.find(' ', p);
        tok.push_back(line.substr(p, q - p));
        p = q == std::string_view::npos ? line.size() : q + 1;
      }
      try {
        std::int64_t a = 0, b = 0, c = 0;
        if (tok.size() == 3 && tok[0] == "node" && parse_int(tok[2], a)) {
          schema_.add_node_type(std::string(tok[1]), a);
        } else if (tok.size() == 10 && tok[0] == "relation" && tok[4] == "edges" &&
                   tok[6] == "edge_id_bound" && tok[8] == "sorted_by_time" &&
                   parse_int(tok[5], a) && parse_int(tok[7], b) && parse_int(tok[9], c) &&
                   a >= 0 && b >= 0 && (c == 0 || c == 1)) {
          schema_.add_relation({std::string(tok[1]), std::string(tok[2]), std::string(tok[3])});
          rel_edges_.push_back(a);
          rel_bound_.push_back(b);
          rel_sorted_.push_back(c == 1);
        } else {
          fail(detail::format("schema line {} is malformed: '{}'", line_no, line));
        }
      } catch (const InvalidArgument& e) {
        fail(detail::format("schema line {}: {}", line_no, e.what()));
      }
    }
  }

  void parse_table(const Header& h) {
    for (std::uint64_t i = 0; i < h.num_arrays; ++i) {
      Entry e;
      std::memcpy(&e, base_ + table_offset_ + i * kEntryBytes, sizeof e);
      const std::size_t len = strnlen(e.name, kNameBytes);
      if (len == 0 || len == kNameBytes) fail(detail::format("array {} has no valid name", i));
      std::string name(e.name, len);
      if (e.dtype > std::uint8_t(DType::kBool))
        fail(detail::format("array '{}' has unknown dtype code {}", name, e.dtype));
      if (e.ndim < 1 || e.ndim > 2) fail(detail::format("array '{}' has {} dims (1 or 2 allowed)", name, e.ndim));
      const DType dtype = DType(e.dtype);
      std::uint64_t count = 1;
      for (int d = 0; d < e.ndim; ++d) {
        if (e.shape[d] < 0 || (e.shape[d] > 0 && count > (std::uint64_t(1) << 62) / std::uint64_t(e.shape[d])))
          fail(detail::format("array '{}' has a bad shape", name));
        count *= std::uint64_t(e.shape[d]);
      }
      if (count * dtype_size(dtype) != e.nbytes)
        fail(detail::format("array '{}': {} bytes do not match its shape and dtype ({} x {})", name,
                            e.nbytes, count, dtype_name(dtype)));
      if (e.offset % kAlign != 0 || e.offset < h.data_offset || e.offset > size_ ||
          e.nbytes > size_ - e.offset)
        fail(detail::format("array '{}' at offset {} with {} bytes lies outside the file ({} bytes)",
                            name, e.offset, e.nbytes, size_));
      if (options_.verify && io_detail::Xxh64::hash(base_ + e.offset, e.nbytes) != e.checksum)
        fail(detail::format("array '{}' checksum mismatch (data corrupted)", name));
      if (!arrays_.emplace(name, e).second) fail(detail::format("array '{}' appears twice", name));
    }
    if (options_.verify) check_padding(h);
  }

  /// Every byte of a file is covered by the header checksum, an array checksum or this
  /// check: the gaps between arrays (alignment padding) must be zero, and arrays must not
  /// overlap.
  void check_padding(const Header& h) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> extents;
    for (const auto& [name, e] : arrays_) extents.emplace_back(e.offset, e.offset + e.nbytes);
    std::sort(extents.begin(), extents.end());
    std::uint64_t pos = h.data_offset;
    for (const auto& [begin, end] : extents) {
      if (begin < pos) fail(detail::format("arrays overlap at byte {}", begin));
      for (std::uint64_t b = pos; b < begin; ++b)
        if (base_[b] != 0) fail(detail::format("padding byte {} is not zero (corrupted)", b));
      pos = end;
    }
    for (std::uint64_t b = pos; b < size_; ++b)
      if (base_[b] != 0) fail(detail::format("padding byte {} is not zero (corrupted)", b));
  }

  HostArray array(const std::string& name, bool required) {
    auto it = arrays_.find(name);
    if (it == arrays_.end()) {
      if (required) fail(detail::format("required array '{}' is missing", name));
      return {};
    }
    used_.insert(name);
    const Entry& e = it->second;
    const std::int64_t n = e.ndim == 2 ? e.shape[0] * e.shape[1] : e.shape[0];
    return HostArray::wrap(const_cast<char*>(base_) + e.offset, DType(e.dtype), n, mapping_);
  }

  GraphFile assemble() {
    std::vector<Relation> relations;
    for (int r = 0; r < schema_.num_relations(); ++r) {
      Relation rel;
      rel.type = schema_.relation(r);
      rel.num_src = schema_.num_nodes(rel.type.src);
      rel.num_dst = schema_.num_nodes(rel.type.dst);
      rel.edge_id_bound = rel_bound_[std::size_t(r)];
      rel.sorted_by_time = rel_sorted_[std::size_t(r)];
      const std::string p = "rel/" + std::to_string(r) + "/";
      rel.csc_indptr = array(p + "csc_indptr", true);
      rel.csc_indices = array(p + "csc_indices", true);
      rel.edge_ids = array(p + "edge_ids", false);
      rel.timestamps = array(p + "timestamps", false);
      rel.weights = array(p + "weights", false);
      rel.csr_indptr = array(p + "csr_indptr", false);
      rel.csr_indices = array(p + "csr_indices", false);
      rel.csr_to_csc = array(p + "csr_to_csc", false);
      if (rel.num_edges() != rel_edges_[std::size_t(r)])
        fail(detail::format("relation '{}' has {} edges, the schema says {}", rel.type.str(),
                            rel.num_edges(), rel_edges_[std::size_t(r)]));
      relations.push_back(std::move(rel));
    }
    GraphFile out;
    try {
      out.graph = HeteroGraph(schema_, std::move(relations));
    } catch (const InvalidArgument& e) {
      fail(e.what());
    }
    for (int t = 0; t < schema_.num_node_types(); ++t) {
      const std::string& type = schema_.node_type(t);
      const std::string p = "keys/" + type + "/";
      if (!arrays_.count(p + "offsets") && !arrays_.count(p + "bytes")) continue;
      KeyMap keys{array(p + "offsets", true), array(p + "bytes", true)};
      if (keys.offsets.dtype() != DType::kInt64 || keys.bytes.dtype() != DType::kUInt8 ||
          keys.size() != schema_.num_nodes(t))
        fail(detail::format("keys of '{}' must be int64 offsets [{}] and uint8 bytes", type,
                            schema_.num_nodes(t) + 1));
      // Offsets are used to slice the bytes: check them always (O(nodes), not O(edges)).
      const auto off = keys.offsets.as<std::int64_t>();
      for (std::size_t i = 0; i + 1 < off.size(); ++i)
        if (off[i] > off[i + 1]) fail(detail::format("keys of '{}': offsets decrease at {}", type, i));
      if (off.front() != 0 || off.back() != keys.bytes.size())
        fail(detail::format("keys of '{}': offsets must run from 0 to {}", type, keys.bytes.size()));
      out.node_keys.emplace(type, std::move(keys));
    }
    for (const auto& [name, e] : arrays_) {
      if (used_.count(name)) continue;
      const auto slash1 = name.find('/');
      const auto slash2 = name.find('/', slash1 + 1);
      const std::string kind = name.substr(0, slash1);
      const std::string owner = name.substr(slash1 + 1, slash2 == std::string::npos ? std::string::npos : slash2 - slash1 - 1);
      const std::string fname = slash2 == std::string::npos ? "" : name.substr(slash2 + 1);
      FeatureStore::Key key;
      if (kind == "node" && !fname.empty()) key = {FeatureStore::Kind::kNodeFeatures, owner, fname};
      else if (kind == "edge" && !fname.empty()) key = {FeatureStore::Kind::kEdgeFeatures, owner, fname};
      else if (kind == "labels" && fname.empty()) key = {FeatureStore::Kind::kLabels, owner, ""};
      else if (kind == "times" && fname.empty()) key = {FeatureStore::Kind::kNodeTimes, owner, ""};
      else fail(detail::format("unknown array '{}'", name));
      const bool matrix = kind == "node" || kind == "edge";
      const DType want = matrix ? DType::kFloat32 : DType::kInt64;
      if (DType(e.dtype) != want || e.ndim != (matrix ? 2 : 1))
        fail(detail::format("array '{}' must be {} with {} dims", name, dtype_name(want), matrix ? 2 : 1));
      const std::int64_t rows = e.shape[0], cols = matrix ? e.shape[1] : 1;
      out.features.insert_unchecked(key, FeatureMatrix{array(name, true), rows, cols});
    }
    try {
      check_features("load_graph", out.graph, out.features);
    } catch (const Error& e) {
      fail(e.what());
    }
    if (options_.verify) verify_structure(out.graph);
    return out;
  }

  template <typename IndexT>
  void verify_compressed(const std::string& rel_name, const char* which, const HostArray& indptr,
                         const HostArray& indices, std::int64_t bound) {
    const auto ptr = indptr.as<std::int64_t>();
    const auto idx = indices.as<IndexT>();
    for (std::size_t v = 0; v + 1 < ptr.size(); ++v)
      if (ptr[v] > ptr[v + 1])
        fail(detail::format("relation '{}': {}_indptr decreases at {} ({} > {})", rel_name, which, v,
                            ptr[v], ptr[v + 1]));
    for (std::size_t p = 0; p < idx.size(); ++p)
      if (idx[p] < 0 || std::int64_t(idx[p]) >= bound)
        fail(detail::format("relation '{}': {}_indices[{}] = {} is outside [0, {})", rel_name,
                            which, p, std::int64_t(idx[p]), bound));
  }

  void verify_structure(const HeteroGraph& g) {
    for (int r = 0; r < g.num_relations(); ++r) {
      const Relation& rel = g.relation(r);
      const std::string name = rel.type.str();
      if (rel.index_dtype() == DType::kInt32)
        verify_compressed<std::int32_t>(name, "csc", rel.csc_indptr, rel.csc_indices, rel.num_src);
      else
        verify_compressed<std::int64_t>(name, "csc", rel.csc_indptr, rel.csc_indices, rel.num_src);
      if (rel.has_edge_ids()) {
        const auto ids = rel.edge_ids.as<std::int64_t>();
        for (std::size_t p = 0; p < ids.size(); ++p)
          if (ids[p] < 0 || ids[p] >= rel.edge_id_bound)
            fail(detail::format("relation '{}': edge_ids[{}] = {} is outside [0, {})", name, p,
                                ids[p], rel.edge_id_bound));
      }
      if (rel.sorted_by_time && rel.has_timestamps()) {
        const auto ts = rel.timestamps.as<std::int64_t>();
        const auto ptr = rel.csc_indptr.as<std::int64_t>();
        for (std::int64_t v = 0; v < rel.num_dst; ++v)
          for (std::int64_t p = ptr[std::size_t(v)] + 1; p < ptr[std::size_t(v) + 1]; ++p)
            if (ts[std::size_t(p)] < ts[std::size_t(p - 1)])
              fail(detail::format("relation '{}': timestamps not sorted in the list of node {}", name, v));
      }
      if (rel.has_csr()) {
        if (rel.csr_indices.dtype() == DType::kInt32)
          verify_compressed<std::int32_t>(name, "csr", rel.csr_indptr, rel.csr_indices, rel.num_dst);
        else if (rel.csr_indices.dtype() == DType::kInt64)
          verify_compressed<std::int64_t>(name, "csr", rel.csr_indptr, rel.csr_indices, rel.num_dst);
        else
          fail(detail::format("relation '{}': csr_indices must be int32 or int64", name));
        const auto to_csc = rel.csr_to_csc.as<std::int64_t>();
        for (std::size_t q = 0; q < to_csc.size(); ++q)
          if (to_csc[q] < 0 || to_csc[q] >= rel.num_edges())
            fail(detail::format("relation '{}': csr_to_csc[{}] = {} is outside [0, {})", name, q,
                                to_csc[q], rel.num_edges()));
      }
    }
  }

  std::string path_;
  LoadOptions options_;
  std::shared_ptr<io_detail::MappedFile> mapping_;
  const char* base_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t table_offset_ = 0;
  Schema schema_;
  std::vector<std::int64_t> rel_edges_, rel_bound_;
  std::vector<bool> rel_sorted_;
  std::map<std::string, Entry> arrays_;
  std::set<std::string> used_;
};

}  // namespace

GraphFile load_graph(const std::string& path, const LoadOptions& options) {
  return Reader(path, options).load();
}

}  // namespace gnnkit
