#pragma once
/// @file
/// Construction of a relation's compressed arrays from COO, in O(E): a chunked, stable,
/// parallel counting sort (each thread histograms its contiguous chunk of edges, the
/// histograms are turned into per-thread write cursors, each thread scatters its chunk), so
/// neighbour lists keep input order whatever the thread count. Used by HeteroGraph::from_coo.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/host_array.hpp"
#include "gnnkit/graph/relation.hpp"

namespace gnnkit {

/// @brief What to do with self-loops (edges v -> v) of relations whose src and dst types match.
enum class SelfLoops : std::uint8_t {
  kKeep,  ///< store them as given
  kDrop,  ///< remove them
  kAdd,   ///< keep existing ones and add one to every node that has none (id bound + v,
          ///< timestamp INT64_MIN so it is never "in the future", weight 1)
};

/// @brief Index width of stored neighbour ids.
enum class IndexWidth : std::uint8_t { kAuto, kInt32, kInt64 };

/// @brief Options of HeteroGraph::from_coo.
struct BuildOptions {
  bool drop_duplicates = false;      ///< keep the first of repeated (src, dst) pairs
  SelfLoops self_loops = SelfLoops::kKeep;
  bool add_reverse = false;          ///< add (dst, rev_<rel>, src) for every relation
  bool sort_by_time = false;         ///< sort each neighbour list by timestamp (stable)
  bool build_csr = false;            ///< also store the src-major CSR
  bool keep_edge_ids = true;         ///< store edge ids (8 bytes/edge)
  IndexWidth index_width = IndexWidth::kAuto;  ///< kAuto: int32 when the source type has < 2^31 nodes
};

namespace graph_detail {

/// Edge list of one relation as the builder reads it (raw pointers into validated inputs).
template <typename InT>
struct Coo {
  const InT* src = nullptr;
  const InT* dst = nullptr;
  std::int64_t num_edges = 0;
  const std::int64_t* timestamps = nullptr;  // may be null
  const float* weights = nullptr;            // may be null
};

inline int thread_count(const Context& ctx, std::int64_t work) {
  // Below ~64K items threads cost more than they save.
  return int(std::max<std::int64_t>(1, std::min<std::int64_t>(ctx.num_threads(), work / 65536 + 1)));
}

inline std::int64_t chunk_begin(std::int64_t n, int chunk, int chunks) {
  return std::int64_t((__int128)n * chunk / chunks);
}

/// Stable counting sort of items [0, n) by key(i) in [0, num_keys). Item i is placed at
/// emit(position, i). reserve(k) extra slots are left at the end of each key's range (for
/// added self-loops). Writes indptr[0..num_keys]. Deterministic for any thread count.
template <typename KeyFn, typename ReserveFn, typename EmitFn>
void counting_sort(int threads, std::int64_t n, std::int64_t num_keys, KeyFn key,
                   ReserveFn reserve, EmitFn emit, std::int64_t* indptr) {
  const int chunks = threads;
  std::vector<std::int64_t> cursor(std::size_t(chunks) * std::size_t(num_keys), 0);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int c = 0; c < chunks; ++c) {
    std::int64_t* counts = cursor.data() + std::size_t(c) * num_keys;
    for (std::int64_t i = chunk_begin(n, c, chunks), e = chunk_begin(n, c + 1, chunks); i < e; ++i)
      ++counts[key(i)];
  }
  std::int64_t running = 0;
  for (std::int64_t v = 0; v < num_keys; ++v) {
    indptr[v] = running;
    for (int c = 0; c < chunks; ++c) {
      std::int64_t& slot = cursor[std::size_t(c) * num_keys + v];
      const std::int64_t count = slot;
      slot = running;
      running += count;
    }
    running += reserve(v);
  }
  indptr[num_keys] = running;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int c = 0; c < chunks; ++c) {
    std::int64_t* pos = cursor.data() + std::size_t(c) * num_keys;
    for (std::int64_t i = chunk_begin(n, c, chunks), e = chunk_begin(n, c + 1, chunks); i < e; ++i)
      emit(pos[key(i)]++, i);
  }
}

/// The plain case of build_relation (every input edge kept, with edge ids, no timestamps or
/// weights) as a cache-friendly two-level counting sort, same result: (1) per-thread counts of
/// coarse destination buckets (at most 4096, so counts stay in L1); (2) a stable scatter into
/// the output, bucket by bucket, whose few thousand sequential write streams stay in cache,
/// with each edge's id packed next to its destination's low bits in the edge-id slot;
/// (3) per bucket (a few hundred KB, in L2), a stable counting sort by the low bits, which
/// also yields indptr. Every random access of the one-level sort now hits cache, and no
/// memory beyond the output is needed.
template <typename InT, typename OutT>
void bucketed_csc(int threads, std::int64_t n, std::int64_t num_dst, const InT* src, const InT* dst,
                  OutT* out_idx, std::int64_t* out_ids, std::int64_t* indptr) {
  int shift = 0;
  while ((num_dst >> shift) > 4096) ++shift;
  const std::int64_t buckets = (num_dst >> shift) + 1, mask = (std::int64_t(1) << shift) - 1;
  const int chunks = threads;
  std::vector<std::int64_t> cursor(static_cast<std::size_t>(chunks * buckets), 0);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int c = 0; c < chunks; ++c) {
    std::int64_t* cnt = cursor.data() + std::size_t(c) * std::size_t(buckets);
    for (std::int64_t e = chunk_begin(n, c, chunks), end = chunk_begin(n, c + 1, chunks); e < end; ++e)
      ++cnt[std::int64_t(dst[e]) >> shift];
  }
  std::vector<std::int64_t> bucket_start(static_cast<std::size_t>(buckets + 1), 0);
  std::int64_t running = 0;
  for (std::int64_t b = 0; b < buckets; ++b) {
    bucket_start[std::size_t(b)] = running;
    for (int c = 0; c < chunks; ++c) {
      std::int64_t& slot = cursor[std::size_t(c) * std::size_t(buckets) + std::size_t(b)];
      const std::int64_t count = slot;
      slot = running;
      running += count;
    }
  }
  bucket_start[std::size_t(buckets)] = running;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int c = 0; c < chunks; ++c) {
    std::int64_t* pos = cursor.data() + std::size_t(c) * std::size_t(buckets);
    for (std::int64_t e = chunk_begin(n, c, chunks), end = chunk_begin(n, c + 1, chunks); e < end; ++e) {
      const std::int64_t d = std::int64_t(dst[e]);
      const std::int64_t p = pos[d >> shift]++;
      out_idx[p] = OutT(src[e]);
      out_ids[p] = (e << shift) | (d & mask);
    }
  }
#pragma omp parallel num_threads(threads)
  {
    std::vector<std::int64_t> counts(static_cast<std::size_t>(mask + 2));
    std::vector<OutT> tmp_idx;
    std::vector<std::int64_t> tmp_ids;
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t b = 0; b < buckets; ++b) {
      const std::int64_t lo = bucket_start[std::size_t(b)], hi = bucket_start[std::size_t(b) + 1];
      const std::int64_t first_node = b << shift;
      std::fill(counts.begin(), counts.end(), 0);
      for (std::int64_t p = lo; p < hi; ++p) ++counts[std::size_t((out_ids[p] & mask) + 1)];
      for (std::int64_t j = 0; j <= mask; ++j) {
        counts[std::size_t(j) + 1] += counts[std::size_t(j)];
        if (first_node + j < num_dst) indptr[first_node + j] = lo + counts[std::size_t(j)];
      }
      tmp_idx.resize(std::size_t(hi - lo));
      tmp_ids.resize(std::size_t(hi - lo));
      for (std::int64_t p = lo; p < hi; ++p) {
        const std::int64_t q = counts[std::size_t(out_ids[p] & mask)]++;
        tmp_idx[std::size_t(q)] = out_idx[p];
        tmp_ids[std::size_t(q)] = out_ids[p] >> shift;
      }
      std::copy(tmp_idx.begin(), tmp_idx.end(), out_idx + lo);
      std::copy(tmp_ids.begin(), tmp_ids.end(), out_ids + lo);
    }
  }
  indptr[num_dst] = n;
}

/// Builds the CSC arrays of one relation. `reverse` reads the COO transposed (for rev_<rel>).
template <typename InT, typename OutT>
Relation build_relation(const Context& ctx, EdgeType type, std::int64_t num_src,
                        std::int64_t num_dst, const Coo<InT>& coo, bool reverse,
                        const BuildOptions& opt) {
  const InT* src = reverse ? coo.dst : coo.src;
  const InT* dst = reverse ? coo.src : coo.dst;
  const std::int64_t num_input = coo.num_edges;
  const bool same_type = type.src == type.dst;
  const bool drop_loops = same_type && opt.self_loops == SelfLoops::kDrop;
  const bool add_loops = same_type && opt.self_loops == SelfLoops::kAdd;
  const bool has_ts = coo.timestamps != nullptr, has_w = coo.weights != nullptr;
  int threads = thread_count(ctx, num_input);

  // The input positions that survive (self-loop dropping, duplicate removal), in input order.
  std::vector<std::int64_t> kept;
  const std::int64_t* order = nullptr;  // null: identity over [0, num_input)
  std::int64_t n = num_input;
  if (drop_loops || opt.drop_duplicates) {
    std::vector<std::uint8_t> keep(std::size_t(num_input), 1);
    if (drop_loops) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::int64_t e = 0; e < num_input; ++e) keep[std::size_t(e)] = src[e] != dst[e];
    }
    if (opt.drop_duplicates) {
      // Two stable counting sorts (by src, then by dst) group each destination's edges by
      // source, in input order within a source: every edge after the first of its
      // (src, dst) pair is a duplicate. O(E), no comparison sort.
      std::vector<std::int64_t> candidates;
      candidates.reserve(std::size_t(num_input));
      for (std::int64_t e = 0; e < num_input; ++e)
        if (keep[std::size_t(e)]) candidates.push_back(e);
      const std::int64_t m = std::int64_t(candidates.size());
      std::vector<std::int64_t> by_src(static_cast<std::size_t>(m)), grouped(static_cast<std::size_t>(m));
      std::vector<std::int64_t> ptr(std::size_t(std::max(num_src, num_dst)) + 1);
      auto no_reserve = [](std::int64_t) { return std::int64_t(0); };
      counting_sort(
          threads, m, num_src, [&](std::int64_t i) { return std::int64_t(src[candidates[i]]); },
          no_reserve, [&](std::int64_t pos, std::int64_t i) { by_src[pos] = candidates[i]; },
          ptr.data());
      counting_sort(
          threads, m, num_dst, [&](std::int64_t i) { return std::int64_t(dst[by_src[i]]); },
          no_reserve, [&](std::int64_t pos, std::int64_t i) { grouped[pos] = by_src[i]; },
          ptr.data());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4096)
      for (std::int64_t v = 0; v < num_dst; ++v)
        for (std::int64_t p = ptr[v] + 1; p < ptr[v + 1]; ++p)
          if (src[grouped[p]] == src[grouped[p - 1]]) keep[std::size_t(grouped[p])] = 0;
    }
    kept.reserve(std::size_t(num_input));
    for (std::int64_t e = 0; e < num_input; ++e)
      if (keep[std::size_t(e)]) kept.push_back(e);
    order = kept.data();
    n = std::int64_t(kept.size());
  }
  std::vector<std::uint8_t> needs_loop;
  if (add_loops) {
    needs_loop.assign(std::size_t(num_dst), 1);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t e = order ? order[i] : i;
      if (src[e] == dst[e]) needs_loop[std::size_t(dst[e])] = 0;
    }
  }
  auto reserve = [&](std::int64_t v) -> std::int64_t {
    return add_loops ? needs_loop[std::size_t(v)] : 0;
  };

  Relation rel;
  rel.type = std::move(type);
  rel.num_src = num_src;
  rel.num_dst = num_dst;
  rel.edge_id_bound = num_input + (add_loops ? num_dst : 0);
  rel.csc_indptr = HostArray::of<std::int64_t>(num_dst + 1);
  std::int64_t* indptr = rel.csc_indptr.as<std::int64_t>().data();

  // Count to size the arrays: n edges plus reserved loops.
  std::int64_t total = n;
  if (add_loops)
    for (std::int64_t v = 0; v < num_dst; ++v) total += needs_loop[std::size_t(v)];
  HostArray indices = HostArray::of<OutT>(total);
  // Edge ids are needed while sorting by time (to permute), even when not kept.
  HostArray ids = (opt.keep_edge_ids || (opt.sort_by_time && has_ts))
                      ? HostArray::of<std::int64_t>(total)
                      : HostArray();
  HostArray ts = has_ts ? HostArray::of<std::int64_t>(total) : HostArray();
  HostArray w = has_w ? HostArray::of<float>(total) : HostArray();
  OutT* out_idx = indices.as<OutT>().data();
  std::int64_t* out_ids = ids.defined() ? ids.as<std::int64_t>().data() : nullptr;
  std::int64_t* out_ts = has_ts ? ts.as<std::int64_t>().data() : nullptr;
  float* out_w = has_w ? w.as<float>().data() : nullptr;
  if (!order && !add_loops && out_ids && !out_ts && !out_w && num_input < (std::int64_t(1) << 40)) {
    bucketed_csc(threads, n, num_dst, src, dst, out_idx, out_ids, indptr);
  } else {
    counting_sort(
        threads, n, num_dst, [&](std::int64_t i) { return std::int64_t(dst[order ? order[i] : i]); },
        reserve,
        [&](std::int64_t pos, std::int64_t i) {
          const std::int64_t e = order ? order[i] : i;
          out_idx[pos] = OutT(src[e]);
          if (out_ids) out_ids[pos] = e;
          if (out_ts) out_ts[pos] = coo.timestamps[e];
          if (out_w) out_w[pos] = coo.weights[e];
        },
        indptr);
  }
  if (add_loops) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t v = 0; v < num_dst; ++v) {
      if (!needs_loop[std::size_t(v)]) continue;
      const std::int64_t pos = indptr[v + 1] - 1;  // the reserved last slot
      out_idx[pos] = OutT(v);
      if (out_ids) out_ids[pos] = num_input + v;
      if (out_ts) out_ts[pos] = std::numeric_limits<std::int64_t>::min();
      if (out_w) out_w[pos] = 1.0f;
    }
  }

  if (opt.sort_by_time && has_ts) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
    for (std::int64_t v = 0; v < num_dst; ++v) {
      const std::int64_t b = indptr[v], e = indptr[v + 1];
      if (e - b < 2 || std::is_sorted(out_ts + b, out_ts + e)) continue;
      std::vector<std::int64_t> perm(std::size_t(e - b));
      std::iota(perm.begin(), perm.end(), b);
      std::stable_sort(perm.begin(), perm.end(),
                       [&](std::int64_t x, std::int64_t y) { return out_ts[x] < out_ts[y]; });
      std::vector<OutT> tmp_idx(perm.size());
      std::vector<std::int64_t> tmp_ids(perm.size()), tmp_ts(perm.size());
      std::vector<float> tmp_w(out_w ? perm.size() : 0);
      for (std::size_t k = 0; k < perm.size(); ++k) {
        tmp_idx[k] = out_idx[perm[k]];
        tmp_ids[k] = out_ids[perm[k]];
        tmp_ts[k] = out_ts[perm[k]];
        if (out_w) tmp_w[k] = out_w[perm[k]];
      }
      std::copy(tmp_idx.begin(), tmp_idx.end(), out_idx + b);
      std::copy(tmp_ids.begin(), tmp_ids.end(), out_ids + b);
      std::copy(tmp_ts.begin(), tmp_ts.end(), out_ts + b);
      if (out_w) std::copy(tmp_w.begin(), tmp_w.end(), out_w + b);
    }
    rel.sorted_by_time = true;
  }

  rel.csc_indices = std::move(indices);
  rel.edge_ids = opt.keep_edge_ids ? std::move(ids) : HostArray();
  rel.timestamps = std::move(ts);
  rel.weights = std::move(w);
  return rel;
}

/// Adds the src-major CSR (indices = destinations, csr_to_csc = CSC positions) to rel,
/// each list in ascending destination order.
template <typename CscT, typename CsrT>
void add_csr(const Context& ctx, Relation& rel) {
  const std::int64_t num_edges = rel.num_edges();
  const int threads = thread_count(ctx, num_edges);
  const std::int64_t* csc_ptr = rel.csc_indptr.as<std::int64_t>().data();
  const CscT* csc_idx = rel.csc_indices.as<CscT>().data();
  // Destination of every CSC position, so the sort can run over positions in parallel.
  std::vector<CsrT> dst_of(static_cast<std::size_t>(num_edges));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4096)
  for (std::int64_t v = 0; v < rel.num_dst; ++v)
    for (std::int64_t p = csc_ptr[v]; p < csc_ptr[v + 1]; ++p) dst_of[std::size_t(p)] = CsrT(v);
  rel.csr_indptr = HostArray::of<std::int64_t>(rel.num_src + 1);
  rel.csr_indices = HostArray::of<CsrT>(num_edges);
  rel.csr_to_csc = HostArray::of<std::int64_t>(num_edges);
  CsrT* idx = rel.csr_indices.as<CsrT>().data();
  std::int64_t* to_csc = rel.csr_to_csc.as<std::int64_t>().data();
  counting_sort(
      threads, num_edges, rel.num_src, [&](std::int64_t p) { return std::int64_t(csc_idx[p]); },
      [](std::int64_t) { return std::int64_t(0); },
      [&](std::int64_t q, std::int64_t p) {
        idx[q] = dst_of[std::size_t(p)];
        to_csc[q] = p;
      },
      rel.csr_indptr.as<std::int64_t>().data());
}

}  // namespace graph_detail
}  // namespace gnnkit
