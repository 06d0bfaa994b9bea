// Checkpoint writer and reader. Layout: docs/checkpoint_format.md.
#include "gnnkit/train/checkpoint.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>
#include <string_view>
#include <vector>

#include "../io/graph_file_format.hpp"  // AtomicFile: temporary file, fsync, rename
#include "../io/mapped_file.hpp"
#include "../io/xxhash64.hpp"

namespace gnnkit {
namespace {

static_assert(std::endian::native == std::endian::little,
              "checkpoints are little-endian; a big-endian build needs byte swapping");

constexpr char kMagic[8] = {'G', 'N', 'N', 'K', 'I', 'T', 'C', 'K'};
constexpr std::uint64_t kHeaderBytes = 64;
constexpr std::uint64_t kTrailerBytes = 8;  // XXH64 of everything before it
constexpr std::uint64_t kDataAlign = 64;    // tensor data offsets (mmap-friendly, aligned loads)

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t flags;
  std::uint64_t file_bytes;
  std::uint64_t num_metadata;
  std::uint64_t num_params;
  std::uint64_t num_state;
  std::uint64_t reserved[2];
};
static_assert(sizeof(Header) == kHeaderBytes);

/// A tensor record's fixed part, after its name.
struct RecordHead {
  std::uint8_t dtype;
  std::uint8_t ndim;
  std::uint8_t reserved[6];
};

std::uint64_t align_up(std::uint64_t x) { return (x + kDataAlign - 1) / kDataAlign * kDataAlign; }

// ---- writing ------------------------------------------------------------------------------

/// Counts the bytes a checkpoint takes: the first pass, so the header can hold the size.
class CountingSink {
 public:
  void put(const void*, std::uint64_t n) { offset_ += n; }
  std::uint64_t offset() const { return offset_; }

 private:
  std::uint64_t offset_ = 0;
};

/// Writes sequentially into the temporary file and hashes every byte. Small pieces are
/// gathered in a buffer so a model of many small tensors does not cost a syscall each.
class FileSink {
 public:
  explicit FileSink(io_detail::AtomicFile& file) : file_(file) {}
  void put(const void* data, std::uint64_t n) {
    if (n == 0) return;  // empty tensors may have no data pointer at all
    hash_.update(data, n);
    if (n >= kDirect) {
      flush();
      file_.write_at(offset_, data, n);
      offset_ += n;
      return;
    }
    const auto* p = static_cast<const char*>(data);
    buffer_.insert(buffer_.end(), p, p + n);
    offset_ += n;  // before flushing: flush() writes the buffer at offset_ - its size
    if (buffer_.size() >= kDirect) flush();
  }
  std::uint64_t offset() const { return offset_; }
  std::uint64_t digest() const { return hash_.digest(); }
  void flush() {
    file_.write_at(offset_ - buffered_bytes(), buffer_.data(), buffer_.size());
    buffer_.clear();
  }

 private:
  static constexpr std::uint64_t kDirect = std::uint64_t(1) << 20;
  std::uint64_t buffered_bytes() const { return buffer_.size(); }

  io_detail::AtomicFile& file_;
  io_detail::Xxh64 hash_;
  std::vector<char> buffer_;
  std::uint64_t offset_ = 0;
};

template <typename Sink>
void put_string(Sink& sink, const std::string& s) {
  const auto n = std::uint32_t(s.size());
  sink.put(&n, sizeof n);
  sink.put(s.data(), s.size());
}

template <typename Sink>
void put_tensor(Sink& sink, const std::string& name, const Tensor& t) {
  put_string(sink, name);
  RecordHead head{};
  head.dtype = std::uint8_t(t.dtype());
  head.ndim = std::uint8_t(t.ndim());
  sink.put(&head, sizeof head);
  sink.put(t.shape().data(), sizeof(std::int64_t) * t.shape().size());
  const std::uint64_t nbytes = t.nbytes();
  sink.put(&nbytes, sizeof nbytes);
  static constexpr char kZeros[kDataAlign] = {};
  sink.put(kZeros, align_up(sink.offset()) - sink.offset());
  sink.put(t.data(), nbytes);
}

/// Everything after the header and before the trailer, in file order.
template <typename Sink>
void put_body(Sink& sink, const std::string& kind, const std::map<std::string, std::string>& meta,
              const ParameterList& params, const std::vector<NamedTensor>& state) {
  put_string(sink, kind);
  for (const auto& [key, value] : meta) {
    put_string(sink, key);
    put_string(sink, value);
  }
  for (const auto& p : params) put_tensor(sink, p->name, p->value);
  for (const auto& e : state) put_tensor(sink, e.name, e.tensor);
}

void check_saveable(const char* fn, const std::string& what, const Tensor& t) {
  GNNKIT_EXPECTS_AS(NotCompiled, fn, t.defined() && t.device().is_cpu(),
                    "{} is {}: checkpoints of CUDA tensors are not supported yet", what,
                    t.defined() ? t.str() : std::string("undefined"));
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, t.is_contiguous(), "{} must be contiguous, got {}", what,
                    t.str());
}

// ---- reading ------------------------------------------------------------------------------

/// A tensor record as found in the file; data points into the mapping.
struct Record {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  const char* data;
  std::uint64_t nbytes;
};

struct Parsed {
  std::string kind;
  std::map<std::string, std::string> metadata;
  std::vector<Record> params;
  std::vector<Record> state;
};

/// Bounds-checked cursor over the mapped file; every problem is a FormatError naming the file.
class Parser {
 public:
  Parser(std::string path, const char* base, std::uint64_t size)
      : path_(std::move(path)), base_(base), size_(size) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("load_checkpoint", detail::format("'{}': {}", path_, what));
  }

  Parsed parse() {
    if (size_ < kHeaderBytes + kTrailerBytes)
      fail(detail::format("truncated: {} bytes, the header and checksum alone need {}", size_,
                          kHeaderBytes + kTrailerBytes));
    Header h;
    std::memcpy(&h, base_, sizeof h);
    if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0)
      fail("not a gnnkit checkpoint (bad magic)");
    if (h.version == 0) fail("format version 0 is invalid");
    if (h.version > kCheckpointVersion)
      fail(
          detail::format("format version {} is newer than this gnnkit reads ({}); upgrade "
                         "gnnkit",
                         h.version, kCheckpointVersion));
    if (h.file_bytes != size_)
      fail(detail::format("truncated or extended: the header says {} bytes, the file has {}",
                          h.file_bytes, size_));
    std::uint64_t stored;
    std::memcpy(&stored, base_ + size_ - kTrailerBytes, sizeof stored);
    if (io_detail::Xxh64::hash(base_, size_ - kTrailerBytes) != stored)
      fail("checksum mismatch (the file is corrupted)");
    end_ = size_ - kTrailerBytes;
    offset_ = kHeaderBytes;
    Parsed out;
    out.kind = text("optimizer kind");
    // Counts are bounded by the bytes left (each entry takes at least 4), so a crafted count
    // cannot make us loop or reserve absurdly.
    const std::uint64_t left = end_ - offset_;
    if (h.num_metadata > left / 8 || h.num_params > left / 4 || h.num_state > left / 4)
      fail(detail::format("entry counts {} / {} / {} do not fit in {} bytes", h.num_metadata,
                          h.num_params, h.num_state, left));
    for (std::uint64_t i = 0; i < h.num_metadata; ++i) {
      std::string key = text("metadata key");
      std::string value = text("metadata value");
      if (!out.metadata.emplace(std::move(key), std::move(value)).second)
        fail("duplicate metadata key");
    }
    for (std::uint64_t i = 0; i < h.num_params; ++i) out.params.push_back(record("parameter"));
    for (std::uint64_t i = 0; i < h.num_state; ++i) out.state.push_back(record("optimizer state"));
    if (offset_ != end_)
      fail(detail::format("{} unexpected bytes after the last record", end_ - offset_));
    if (out.kind.empty() && !out.state.empty()) fail("optimizer state without optimizer kind");
    return out;
  }

 private:
  void need(std::uint64_t n, const char* what) const {
    if (n > end_ - offset_)
      fail(detail::format("{} at byte {} needs {} bytes, only {} left", what, offset_, n,
                          end_ - offset_));
  }
  template <typename T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, base_ + offset_, sizeof value);
    offset_ += sizeof value;
    return value;
  }
  std::string text(const char* what) {
    const auto n = pod<std::uint32_t>(what);
    need(n, what);
    std::string s(base_ + offset_, n);
    offset_ += n;
    return s;
  }
  Record record(const char* what) {
    Record r;
    r.name = text(what);
    const auto head = pod<RecordHead>(what);
    if (head.dtype > std::uint8_t(DType::kBool))
      fail(detail::format("{} '{}' has unknown dtype code {}", what, r.name, int(head.dtype)));
    if (head.ndim > TensorView::kMaxDims)
      fail(detail::format("{} '{}' has {} dims, at most {} are supported", what, r.name,
                          int(head.ndim), TensorView::kMaxDims));
    r.dtype = DType(head.dtype);
    std::uint64_t numel = 1;
    for (int d = 0; d < head.ndim; ++d) {
      const auto extent = pod<std::int64_t>(what);
      if (extent < 0) fail(detail::format("{} '{}' has a negative extent", what, r.name));
      r.shape.push_back(extent);
      // Overflow-safe: extents beyond the file's size cannot be real.
      if (extent != 0 && numel > size_ / std::uint64_t(extent))
        fail(detail::format("{} '{}' has a shape larger than the file", what, r.name));
      numel *= std::uint64_t(extent);
    }
    r.nbytes = pod<std::uint64_t>(what);
    if (r.nbytes != numel * dtype_size(r.dtype))
      fail(detail::format("{} '{}' has {} data bytes, its shape needs {}", what, r.name, r.nbytes,
                          numel * dtype_size(r.dtype)));
    need(align_up(offset_) - offset_, what);
    offset_ = align_up(offset_);
    need(r.nbytes, what);
    r.data = base_ + offset_;
    offset_ += r.nbytes;
    return r;
  }

  std::string path_;
  const char* base_;
  std::uint64_t size_;
  std::uint64_t offset_ = 0, end_ = 0;
};

std::string shape_str(std::span<const std::int64_t> shape) {
  return train_detail::shape_str(shape);
}

}  // namespace

void save_checkpoint(const std::string& path, const ParameterList& params,
                     const Optimizer* optimizer,
                     const std::map<std::string, std::string>& metadata) {
  constexpr const char* fn = "save_checkpoint";
  for (const auto& p : params) check_saveable(fn, "parameter '" + p->name + "'", p->value);
  std::vector<NamedTensor> state;
  std::string kind;
  if (optimizer) {
    state = optimizer->state();
    kind = optimizer->name();
    for (const auto& e : state) check_saveable(fn, "optimizer state '" + e.name + "'", e.tensor);
  }
  CountingSink counter;
  counter.put(nullptr, kHeaderBytes);
  put_body(counter, kind, metadata, params, state);
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kCheckpointVersion;
  h.file_bytes = counter.offset() + kTrailerBytes;
  h.num_metadata = metadata.size();
  h.num_params = params.size();
  h.num_state = state.size();

  io_detail::AtomicFile file(path, fn);  // a failure from here on unlinks the temporary
  FileSink sink(file);
  sink.put(&h, sizeof h);
  put_body(sink, kind, metadata, params, state);
  const std::uint64_t digest = sink.digest();
  sink.put(&digest, sizeof digest);
  sink.flush();
  file.commit();
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, ParameterList& params,
                                                   Optimizer* optimizer) {
  constexpr const char* fn = "load_checkpoint";
  const auto mapping = io_detail::map_file(path, fn);
  Parser parser(path, mapping->data, mapping->size);
  const Parsed file = parser.parse();

  // Match parameters both ways, by name, before touching anything.
  std::map<std::string_view, const Record*> by_name;
  for (const Record& r : file.params)
    if (!by_name.emplace(r.name, &r).second)
      parser.fail(detail::format("parameter '{}' appears twice", r.name));
  for (const auto& p : params) {
    check_saveable(fn, "parameter '" + p->name + "'", p->value);
    const auto it = by_name.find(p->name);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, it != by_name.end(),
                      "parameter '{}' of the model is missing from checkpoint '{}'", p->name, path);
    const Record& r = *it->second;
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, r.dtype == p->value.dtype(),
                      "parameter '{}' is {} in the model but {} in checkpoint '{}'", p->name,
                      p->value.dtype(), r.dtype, path);
    GNNKIT_EXPECTS_AS(ShapeMismatch, fn,
                      std::equal(r.shape.begin(), r.shape.end(), p->value.shape().begin(),
                                 p->value.shape().end()),
                      "parameter '{}' has shape {} in the model but {} in checkpoint '{}'", p->name,
                      shape_str(p->value.shape()), shape_str(r.shape), path);
  }
  for (const Record& r : file.params)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, params.find(r.name) != nullptr,
                      "checkpoint '{}' holds parameter '{}', which the model does not have", path,
                      r.name);

  if (optimizer) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, !file.kind.empty(),
                      "checkpoint '{}' holds no optimizer state; load it without an optimizer",
                      path);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, file.kind == optimizer->name(),
                      "checkpoint '{}' holds {} state, not {} state", path, file.kind,
                      optimizer->name());
    // Zero-copy views of the mapping: records are 64-byte aligned in the file and the
    // mapping is page-aligned, so typed reads are aligned. The mapping outlives the call.
    std::vector<NamedTensor> state;
    for (const Record& r : file.state) {
      const TensorView view(const_cast<char*>(r.data), r.dtype, Device::cpu(), r.shape);
      state.push_back({r.name, Tensor::wrap(view, mapping)});
    }
    optimizer->load_state(state);  // validates everything before changing anything
  }
  for (const auto& p : params)
    std::memcpy(p->value.data(), by_name.at(p->name)->data, p->value.nbytes());
  return file.metadata;
}

}  // namespace gnnkit
