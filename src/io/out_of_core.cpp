// Out-of-core construction of a graph file from COO edge files (see out_of_core.hpp).
#include "gnnkit/io/out_of_core.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "graph_file_format.hpp"
#include "mapped_file.hpp"

namespace gnnkit {
namespace {

using namespace io_detail;
constexpr const char* kFn = "build_graph_file";
constexpr std::int64_t kMaxWindowNodes = std::int64_t(1) << 23;  // bounds T x window histograms

struct Input {
  std::shared_ptr<MappedFile> src, dst, ts, w;
  std::int64_t num_edges = 0;
};

std::shared_ptr<MappedFile> open_array(const std::string& rel, const std::string& path,
                                       const char* what, std::size_t elem, std::int64_t expect) {
  auto f = map_file(path, kFn);
  GNNKIT_EXPECTS_AS(InvalidArgument, kFn, f->size % elem == 0,
                    "relation '{}': {} file '{}' has {} bytes, not a whole number of {}-byte values",
                    rel, what, path, f->size, elem);
  GNNKIT_EXPECTS_AS(ShapeMismatch, kFn, expect < 0 || std::int64_t(f->size / elem) == expect,
                    "relation '{}': {} file '{}' has {} values, the src file {}", rel, what, path,
                    f->size / elem, expect);
  ::madvise(const_cast<char*>(f->data), f->size, MADV_SEQUENTIAL);
  return f;
}

/// A relation to build: inputs, which columns act as src/dst, and where its arrays go.
struct Job {
  EdgeType type;
  const Input* input;
  bool reverse;
  std::int64_t num_src, num_dst;
  DType index_dtype;
  std::size_t first_array;  // index in the layout table of csc_indptr
};

/// Releases the pages of [p, p + bytes) from this process (shared file pages stay in the
/// page cache and are written back): keeps the resident set near the working window.
void release(const void* p, std::size_t bytes) {
  const auto page = std::uintptr_t(4096);
  auto begin = (std::uintptr_t(p) + page - 1) & ~(page - 1);
  auto end = (std::uintptr_t(p) + bytes) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

/// Calls fn(e) for e in [lo, hi) in blocks of 8M edges, releasing each block's input pages
/// when done: streaming passes over inputs larger than memory keep a small resident set.
template <typename Fn>
void stream_edges(std::int64_t lo, std::int64_t hi, const std::int64_t* src, const std::int64_t* dst,
                  const std::int64_t* ts, const float* w, Fn&& fn) {
  constexpr std::int64_t kBlock = std::int64_t(1) << 23;
  for (std::int64_t b = lo; b < hi; b += kBlock) {
    const std::int64_t e_end = std::min(hi, b + kBlock);
    for (std::int64_t e = b; e < e_end; ++e) fn(e);
    const auto n = std::size_t(e_end - b);
    release(src + b, n * 8);
    release(dst + b, n * 8);
    if (ts) release(ts + b, n * 8);
    if (w) release(w + b, n * 4);
  }
}

template <typename IndexT>
void build_job(const Context& ctx, const Job& job, char* out, const Layout& layout,
               const OutOfCoreOptions& opt, OutOfCoreReport& report) {
  const int threads = std::max(1, ctx.num_threads());
  const std::int64_t e_total = job.input->num_edges;
  const auto* a = reinterpret_cast<const std::int64_t*>(job.input->src->data);
  const auto* b = reinterpret_cast<const std::int64_t*>(job.input->dst->data);
  const std::int64_t* src = job.reverse ? b : a;
  const std::int64_t* dst = job.reverse ? a : b;
  const auto* ts_in = job.input->ts ? reinterpret_cast<const std::int64_t*>(job.input->ts->data) : nullptr;
  const auto* w_in = job.input->w ? reinterpret_cast<const float*>(job.input->w->data) : nullptr;
  std::size_t k = job.first_array;
  auto* indptr = reinterpret_cast<std::int64_t*>(out + layout.table[k++].offset);
  auto* indices = reinterpret_cast<IndexT*>(out + layout.table[k++].offset);
  std::int64_t* ids = opt.keep_edge_ids ? reinterpret_cast<std::int64_t*>(out + layout.table[k++].offset) : nullptr;
  std::int64_t* ts = ts_in ? reinterpret_cast<std::int64_t*>(out + layout.table[k++].offset) : nullptr;
  float* w = w_in ? reinterpret_cast<float*>(out + layout.table[k++].offset) : nullptr;
  auto chunk = [&](int c) { return std::pair{e_total * c / threads, e_total * (c + 1) / threads}; };

  // Pass 1: degrees (atomic adds: counts do not depend on order).
  std::fill(indptr, indptr + job.num_dst + 1, 0);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int c = 0; c < threads; ++c) {
    auto [lo, hi] = chunk(c);
    stream_edges(lo, hi, src, dst, nullptr, nullptr, [&](std::int64_t e) {
      std::atomic_ref<std::int64_t>(indptr[dst[e] + 1]).fetch_add(1, std::memory_order_relaxed);
    });
  }
  for (std::int64_t v = 0; v < job.num_dst; ++v) indptr[v + 1] += indptr[v];

  // Windows of destinations whose output fits the budget.
  const std::size_t per_edge = sizeof(IndexT) + (ids ? 8 : 0) + (ts ? 8 : 0) + (w ? 4 : 0);
  const auto window_edges = std::max<std::int64_t>(1, std::int64_t(opt.memory_budget / per_edge));
  std::vector<std::int64_t> cursor;
  for (std::int64_t lo = 0; lo < job.num_dst || (lo == 0 && job.num_dst == 0);) {
    std::int64_t hi = lo + 1;
    // Grow the window while it stays within the edge budget and the node cap.
    std::int64_t step = 1;
    while (hi < job.num_dst) {
      const std::int64_t next = std::min(job.num_dst, hi + step);
      if (next - lo > kMaxWindowNodes || indptr[next] - indptr[lo] > window_edges) break;
      hi = next;
      step *= 2;
    }
    hi = std::min(hi, job.num_dst);
    const std::int64_t n = hi - lo;
    ++report.windows;
    if (n <= 0) break;
    // Per-chunk counts of the window's destinations, then cursors: the stable counting sort
    // of build.hpp restricted to the window.
    cursor.assign(std::size_t(threads) * std::size_t(n), 0);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int c = 0; c < threads; ++c) {
      auto [elo, ehi] = chunk(c);
      std::int64_t* cnt = cursor.data() + std::size_t(c) * std::size_t(n);
      stream_edges(elo, ehi, src, dst, nullptr, nullptr, [&](std::int64_t e) {
        if (dst[e] >= lo && dst[e] < hi) ++cnt[dst[e] - lo];
      });
    }
    for (std::int64_t v = 0; v < n; ++v) {
      std::int64_t pos = indptr[lo + v];
      for (int c = 0; c < threads; ++c) {
        std::int64_t& slot = cursor[std::size_t(c) * std::size_t(n) + std::size_t(v)];
        const std::int64_t count = slot;
        slot = pos;
        pos += count;
      }
    }
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int c = 0; c < threads; ++c) {
      auto [elo, ehi] = chunk(c);
      std::int64_t* pos = cursor.data() + std::size_t(c) * std::size_t(n);
      stream_edges(elo, ehi, src, dst, ts_in, w_in, [&](std::int64_t e) {
        const std::int64_t d = dst[e];
        if (d < lo || d >= hi) return;
        const std::int64_t p = pos[d - lo]++;
        indices[p] = IndexT(src[e]);
        if (ids) ids[p] = e;
        if (ts) ts[p] = ts_in[e];
        if (w) w[p] = w_in[e];
      });
    }
    // The window is done: let its output pages go (written back from the page cache).
    const std::int64_t b0 = indptr[lo], b1 = indptr[hi];
    release(indices + b0, std::size_t(b1 - b0) * sizeof(IndexT));
    if (ids) release(ids + b0, std::size_t(b1 - b0) * 8);
    if (ts) release(ts + b0, std::size_t(b1 - b0) * 8);
    if (w) release(w + b0, std::size_t(b1 - b0) * 4);
    lo = hi;
  }
  release(src, std::size_t(e_total) * 8);
  release(dst, std::size_t(e_total) * 8);
  report.num_edges += e_total;
}

/// The first index in [0, n) where bad(i) holds, or n; parallel in streamed blocks whose
/// pages are released after use (inputs may exceed memory).
template <typename T, typename Bad>
std::int64_t first_bad(const Context& ctx, const T* data, std::int64_t n, Bad&& bad) {
  const int threads = std::max(1, ctx.num_threads());
  std::int64_t first = n;
#pragma omp parallel for num_threads(threads) schedule(static, 1) reduction(min : first)
  for (int c = 0; c < threads; ++c) {
    constexpr std::int64_t kBlock = std::int64_t(1) << 23;
    const std::int64_t lo = n * c / threads, hi = n * (c + 1) / threads;
    std::int64_t mine = n;  // the reduction's private copy starts at INT64_MAX, not n
    for (std::int64_t b = lo; b < hi && mine == n; b += kBlock) {
      const std::int64_t end = std::min(hi, b + kBlock);
      for (std::int64_t i = b; i < end; ++i)
        if (bad(data[i])) {
          mine = i;
          break;
        }
      release(data + b, std::size_t(end - b) * sizeof(T));
    }
    first = std::min(first, mine);
  }
  return first;
}

void validate(const Context& ctx, const std::string& rel, const std::string& path,
              const std::int64_t* ids, std::int64_t n, std::int64_t bound, const char* what) {
  const std::int64_t first = first_bad(ctx, ids, n, [bound](std::int64_t v) { return v < 0 || v >= bound; });
  if (first < n)
    throw OutOfRange(kFn, detail::format("relation '{}': '{}[{}]' (file '{}') must be in [0, {}), got {}",
                                         rel, what, first, path, bound, ids[first]));
}

}  // namespace

OutOfCoreReport build_graph_file(const Context& ctx,
                                 const std::vector<std::pair<std::string, std::int64_t>>& num_nodes,
                                 const std::vector<DiskRelation>& relations,
                                 const std::string& output_path, const OutOfCoreOptions& opt) {
  Schema schema;
  for (const auto& [type, count] : num_nodes) schema.add_node_type(type, count);
  std::vector<Input> inputs(relations.size());
  for (std::size_t r = 0; r < relations.size(); ++r) {
    const DiskRelation& d = relations[r];
    schema.add_relation(d.type);
    const std::string name = d.type.str();
    Input& in = inputs[r];
    in.src = open_array(name, d.src_path, "src", 8, -1);
    in.num_edges = std::int64_t(in.src->size / 8);
    in.dst = open_array(name, d.dst_path, "dst", 8, in.num_edges);
    if (!d.timestamps_path.empty()) in.ts = open_array(name, d.timestamps_path, "timestamps", 8, in.num_edges);
    if (!d.weights_path.empty()) {
      in.w = open_array(name, d.weights_path, "weights", 4, in.num_edges);
      const auto* wp = reinterpret_cast<const float*>(in.w->data);
      const std::int64_t first = first_bad(ctx, wp, in.num_edges, [](float v) { return !std::isfinite(v); });
      GNNKIT_EXPECTS_AS(InvalidArgument, kFn, first == in.num_edges,
                        "relation '{}': 'weights[{}]' (file '{}') must be finite, got {}", name,
                        first, d.weights_path, first < in.num_edges ? wp[first] : 0.f);
    }
    validate(ctx, name, d.src_path, reinterpret_cast<const std::int64_t*>(in.src->data),
             in.num_edges, schema.num_nodes(d.type.src), "src");
    validate(ctx, name, d.dst_path, reinterpret_cast<const std::int64_t*>(in.dst->data),
             in.num_edges, schema.num_nodes(d.type.dst), "dst");
  }
  std::vector<Job> jobs;
  for (std::size_t r = 0; r < relations.size(); ++r)
    jobs.push_back({relations[r].type, &inputs[r], false, 0, 0, DType::kInt64, 0});
  if (opt.add_reverse)
    for (std::size_t r = 0; r < relations.size(); ++r) {
      const EdgeType& t = relations[r].type;
      EdgeType rev{t.dst, "rev_" + t.rel, t.src};
      schema.add_relation(rev);
      jobs.push_back({rev, &inputs[r], true, 0, 0, DType::kInt64, 0});
    }

  std::string text;
  for (int t = 0; t < schema.num_node_types(); ++t) text += node_line(schema.node_type(t), schema.num_nodes(t));
  std::vector<OutArray> arrays;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    Job& job = jobs[j];
    job.num_src = schema.num_nodes(job.type.src);
    job.num_dst = schema.num_nodes(job.type.dst);
    const bool narrow = opt.index_width == IndexWidth::kInt32 ||
                        (opt.index_width == IndexWidth::kAuto && job.num_src < (std::int64_t(1) << 31));
    GNNKIT_EXPECTS_AS(InvalidArgument, kFn, !narrow || job.num_src < (std::int64_t(1) << 31),
                      "relation '{}': int32 indices need fewer than 2^31 source nodes, got {}",
                      job.type.str(), job.num_src);
    job.index_dtype = narrow ? DType::kInt32 : DType::kInt64;
    const std::int64_t e = job.input->num_edges;
    text += relation_line(job.type, e, e, false);
    const std::string p = "rel/" + std::to_string(j) + "/";
    job.first_array = arrays.size();
    auto add = [&](const std::string& name, DType dt, std::int64_t n) {
      arrays.push_back(OutArray{p + name, dt, 1, {n, 0}, nullptr, std::uint64_t(n) * dtype_size(dt)});
    };
    add("csc_indptr", DType::kInt64, job.num_dst + 1);
    add("csc_indices", job.index_dtype, e);
    if (opt.keep_edge_ids) add("edge_ids", DType::kInt64, e);
    if (job.input->ts) add("timestamps", DType::kInt64, e);
    if (job.input->w) add("weights", DType::kFloat32, e);
  }
  Layout layout = plan_layout(std::move(text), arrays);

  AtomicFile file(output_path, kFn, /*read_write=*/true);
  if (::ftruncate(file.fd(), off_t(layout.file_bytes)) != 0)
    throw IoError(kFn, detail::format("cannot size '{}' to {} bytes: {}", file.temp_path(),
                                      layout.file_bytes, errno_text()));
  char* out = nullptr;
  if (layout.file_bytes > 0) {
    void* p = ::mmap(nullptr, layout.file_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd(), 0);
    if (p == MAP_FAILED)
      throw IoError(kFn, detail::format("cannot map '{}': {}", file.temp_path(), errno_text()));
    out = static_cast<char*>(p);
  }
  struct Unmap {
    char* p;
    std::size_t n;
    ~Unmap() {
      if (p) ::munmap(p, n);
    }
  } unmap{out, layout.file_bytes};

  OutOfCoreReport report;
  for (const Job& job : jobs) {
    if (job.index_dtype == DType::kInt32) build_job<std::int32_t>(ctx, job, out, layout, opt, report);
    else build_job<std::int64_t>(ctx, job, out, layout, opt, report);
  }
  // Checksums, one array per task; each array is read once, sequentially.
  const auto n_arrays = std::int64_t(layout.table.size());
#pragma omp parallel for num_threads(ctx.num_threads()) schedule(dynamic, 1)
  for (std::int64_t i = 0; i < n_arrays; ++i) {
    Entry& e = layout.table[std::size_t(i)];
    e.checksum = Xxh64::hash(out + e.offset, e.nbytes);
    release(out + e.offset, e.nbytes);
  }
  if (out && ::msync(out, layout.file_bytes, MS_SYNC) != 0)
    throw IoError(kFn, detail::format("msync of '{}' failed: {}", file.temp_path(), errno_text()));
  file.write_at(0, encode_head(layout).data(), layout.data_offset);
  file.commit();
  report.file_bytes = layout.file_bytes;
  return report;
}

}  // namespace gnnkit
