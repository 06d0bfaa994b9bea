#pragma once
// The graph file format (docs/graph_file_format.md) shared by the in-memory writer, the
// out-of-core builder and the reader: header and table structs, layout planning, and the
// temporary-file-then-rename writer.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gnnkit/core/dtype.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/graph/relation.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "mapped_file.hpp"
#include "xxhash64.hpp"

namespace gnnkit::io_detail {

static_assert(std::endian::native == std::endian::little,
              "graph files are little-endian; a big-endian reader needs byte swapping");

inline constexpr char kMagic[8] = {'G', 'N', 'N', 'K', 'I', 'T', 'G', 'F'};
inline constexpr std::uint64_t kAlign = 64;
inline constexpr std::size_t kHeaderBytes = 64;
inline constexpr std::size_t kEntryBytes = 128;
inline constexpr std::size_t kNameBytes = 80;

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t flags;
  std::uint64_t file_bytes;
  std::uint64_t data_offset;  // where the arrays start (end of header + schema + table)
  std::uint64_t schema_bytes;
  std::uint64_t num_arrays;
  std::uint64_t header_checksum;  // XXH64 of [0, data_offset) with this field zeroed
  std::uint64_t reserved;
};
static_assert(sizeof(Header) == kHeaderBytes);

struct Entry {
  char name[kNameBytes];
  std::uint8_t dtype;
  std::uint8_t ndim;
  std::uint8_t reserved[6];
  std::int64_t shape[2];
  std::uint64_t offset;
  std::uint64_t nbytes;
  std::uint64_t checksum;
};
static_assert(sizeof(Entry) == kEntryBytes);

inline std::uint64_t align_up(std::uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

inline std::string errno_text() { return std::strerror(errno); }

// ---- writing ------------------------------------------------------------------------------

/// An array to write: name, dtype, shape and the bytes.
struct OutArray {
  std::string name;
  DType dtype;
  int ndim;
  std::int64_t shape[2];
  const void* data;
  std::uint64_t nbytes;
};

/// Owns the temporary file until commit(): a failure anywhere unlinks it and leaves the
/// target untouched.
class AtomicFile {
 public:
  /// @param function the public function reported in errors
  AtomicFile(std::string path, const char* function, bool read_write = false)
      : path_(std::move(path)), function_(function) {
    check_path(path_, function_);
    std::random_device rd;
    temp_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
    fd_ = ::open(temp_.c_str(), (read_write ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw IoError(function_, detail::format("cannot create '{}': {}", temp_, errno_text()));
  }
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write_at(std::uint64_t offset, const void* data, std::uint64_t bytes) {
    const auto* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const std::size_t chunk = std::size_t(std::min<std::uint64_t>(bytes, std::uint64_t(1) << 30));
      const ssize_t n = ::pwrite(fd_, p, chunk, off_t(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw IoError(function_, detail::format("writing '{}' failed at byte {}: {}", temp_,
                                                   offset, n < 0 ? errno_text() : "no progress"));
      p += n;
      offset += std::uint64_t(n);
      bytes -= std::uint64_t(n);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0)
      throw IoError(function_, detail::format("fsync of '{}' failed: {}", temp_, errno_text()));
    if (::close(fd_) != 0) {
      fd_ = -1;
      throw IoError(function_, detail::format("closing '{}' failed: {}", temp_, errno_text()));
    }
    fd_ = -1;
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
      throw IoError(function_, detail::format("cannot rename '{}' to '{}': {}", temp_, path_,
                                                 errno_text()));
    committed_ = true;
    // Make the rename itself durable.
    const auto slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 public:
  int fd() const noexcept { return fd_; }
  const std::string& temp_path() const noexcept { return temp_; }

  std::string path_, temp_;
  const char* function_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Where every array goes: the table (checksums filled in later) and the total size.
struct Layout {
  std::string schema_text;
  std::vector<Entry> table;
  std::uint64_t data_offset = 0;
  std::uint64_t file_bytes = 0;
};

/// Places arrays (name, dtype, ndim, shape, nbytes given in `arrays`) after the header,
/// schema and table, each at a 64-byte boundary.
inline Layout plan_layout(std::string schema_text, const std::vector<OutArray>& arrays) {
  Layout layout;
  const std::uint64_t table_offset = align_up(kHeaderBytes + schema_text.size());
  std::uint64_t offset = align_up(table_offset + arrays.size() * kEntryBytes);
  layout.data_offset = offset;
  layout.table.resize(arrays.size());
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    Entry& e = layout.table[i];
    std::memset(&e, 0, sizeof e);
    std::memcpy(e.name, arrays[i].name.data(), std::min(arrays[i].name.size(), kNameBytes - 1));
    e.dtype = std::uint8_t(arrays[i].dtype);
    e.ndim = std::uint8_t(arrays[i].ndim);
    e.shape[0] = arrays[i].shape[0];
    e.shape[1] = arrays[i].shape[1];
    e.offset = offset;
    e.nbytes = arrays[i].nbytes;
    offset = align_up(offset + e.nbytes);
  }
  layout.file_bytes = offset;
  layout.schema_text = std::move(schema_text);
  return layout;
}

/// Header + schema + table bytes [0, data_offset), with the header checksum, for a layout
/// whose table checksums are filled in.
inline std::vector<char> encode_head(const Layout& layout) {
  std::vector<char> head(layout.data_offset, 0);
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kGraphFileVersion;
  h.file_bytes = layout.file_bytes;
  h.data_offset = layout.data_offset;
  h.schema_bytes = layout.schema_text.size();
  h.num_arrays = layout.table.size();
  std::memcpy(head.data(), &h, sizeof h);
  std::memcpy(head.data() + kHeaderBytes, layout.schema_text.data(), layout.schema_text.size());
  const std::uint64_t table_offset = align_up(kHeaderBytes + layout.schema_text.size());
  if (!layout.table.empty())
    std::memcpy(head.data() + table_offset, layout.table.data(), layout.table.size() * kEntryBytes);
  h.header_checksum = Xxh64::hash(head.data(), head.size());
  std::memcpy(head.data(), &h, sizeof h);
  return head;
}

inline std::string node_line(const std::string& type, std::int64_t count) {
  return "node " + type + " " + std::to_string(count) + "\n";
}

inline std::string relation_line(const EdgeType& type, std::int64_t num_edges,
                                 std::int64_t edge_id_bound, bool sorted_by_time) {
  return "relation " + type.src + " " + type.rel + " " + type.dst + " edges " +
         std::to_string(num_edges) + " edge_id_bound " + std::to_string(edge_id_bound) +
         " sorted_by_time " + std::to_string(int(sorted_by_time)) + "\n";
}

}  // namespace gnnkit::io_detail
