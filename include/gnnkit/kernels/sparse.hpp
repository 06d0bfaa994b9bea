#pragma once
/// @file
/// CPU sparse kernels of message passing, over a CSC (rows = destinations, indices =
/// sources) and its transpose: SpMM aggregation (sum / mean / max, optionally weighted per
/// edge and head), SDDMM, edge softmax, per-edge reductions and row gather/scatter.
///
/// Conventions shared by every kernel here:
/// - Dense operands are row-major with a leading dimension (row stride in elements).
/// - Per-edge values are indexed by CSC position e (0 .. num_edges), heads innermost:
///   value of edge e, head h at [e * heads + h]. A feature row of width F = heads * C
///   splits into heads blocks of C columns; a per-edge value of head h scales block h.
/// - Forward kernels are parallel over destination rows, balanced by edge count, and never
///   use atomics. Backward kernels that scatter to sources run over the transpose (CSR
///   with the CSC position of every edge), so they are gathers as well: deterministic,
///   atomic-free, and independent of the thread count.
/// - Kernels trust their inputs: the front-ends (nn/) validate.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "gnnkit/core/isa_clones.hpp"
#include "gnnkit/graph/compressed.hpp"

namespace gnnkit::kernels::cpu {

/// @brief How SpMM combines the messages arriving at one destination.
enum class Reduce { kSum, kMean, kMax };

/// @brief The transpose of a CSC: rows are sources, indices the destinations, and perm the
/// CSC position of every edge (so per-edge values stay in CSC order).
template <typename IndexT>
struct Transposed {
  std::int64_t num_rows = 0;  ///< sources
  std::int64_t num_cols = 0;  ///< destinations
  std::vector<std::int64_t> indptr{0};
  std::vector<IndexT> indices;
  std::vector<std::int64_t> perm;
  std::int64_t num_edges() const noexcept { return std::int64_t(indices.size()); }
};

/// @brief Splits rows [0, num_rows) into about `parts` contiguous ranges of similar cost
/// (edges + rows), so that skewed degree distributions still balance across threads.
inline std::vector<std::int64_t> balanced_row_ranges(const std::int64_t* indptr,
                                                     std::int64_t num_rows, int parts) {
  std::vector<std::int64_t> bounds{0};
  if (num_rows <= 0) {
    bounds.push_back(0);
    return bounds;
  }
  parts = int(std::max<std::int64_t>(1, std::min<std::int64_t>(parts, num_rows)));
  const double total = double(indptr[num_rows] - indptr[0]) + double(num_rows);
  std::int64_t row = 0;
  for (int p = 1; p < parts; ++p) {
    const double target = total * p / parts;
    // cost(r) = indptr[r] - indptr[0] + r is increasing: binary search the first row >= target.
    std::int64_t lo = row, hi = num_rows;
    while (lo < hi) {
      const std::int64_t mid = (lo + hi) / 2;
      if (double(indptr[mid] - indptr[0]) + double(mid) < target)
        lo = mid + 1;
      else
        hi = mid;
    }
    row = lo;
    if (row > bounds.back()) bounds.push_back(row);
  }
  if (bounds.back() != num_rows) bounds.push_back(num_rows);
  return bounds;
}

/// The row loops of the kernels below are compiled per ISA (core/isa_clones.hpp).

/// Runs body(row_begin, row_end) over balanced row ranges on `threads` threads.
template <typename Body>
void parallel_rows(const std::int64_t* indptr, std::int64_t num_rows, int threads, Body&& body) {
  if (num_rows <= 0) return;
  threads = std::max(1, threads);
  // Few edges: the fork costs more than the work.
  if (threads == 1 || indptr[num_rows] - indptr[0] + num_rows < 4096) {
    body(std::int64_t(0), num_rows);
    return;
  }
  const auto bounds = balanced_row_ranges(indptr, num_rows, threads * 8);
  const std::int64_t chunks = std::int64_t(bounds.size()) - 1;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int64_t c = 0; c < chunks; ++c) body(bounds[std::size_t(c)], bounds[std::size_t(c) + 1]);
}

/// Prefetches the cache lines of a feature row that will be read a few edges later.
/// Always inlined: GCC deems a function that only prefetches free of effects and deletes
/// calls to it when it is not inlined (checked with GCC 12).
template <typename ValueT>
[[gnu::always_inline]] inline void prefetch_row(const ValueT* row, std::int64_t width) {
  const char* p = reinterpret_cast<const char*>(row);
  const std::int64_t bytes = width * std::int64_t(sizeof(ValueT));
  for (std::int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 1);
}

inline constexpr int kPrefetchDistance = 6;

/// Most heads the per-edge attention kernels take (they keep per-head values on the stack;
/// GatConv checks its options against this).
inline constexpr int kMaxHeads = 64;

/// Calls fn(std::integral_constant<int, H>) with H = heads for 1, 2, 4 and 8 heads, H = 0
/// (read the count at run time) otherwise: with H fixed, the loop over one edge's heads
/// compiles to a single vector operation instead of a scalar loop.
template <typename Fn>
inline void dispatch_heads(int heads, Fn&& fn) {
  switch (heads) {
    case 1: return fn(std::integral_constant<int, 1>{});
    case 2: return fn(std::integral_constant<int, 2>{});
    case 4: return fn(std::integral_constant<int, 4>{});
    case 8: return fn(std::integral_constant<int, 8>{});
    default: return fn(std::integral_constant<int, 0>{});
  }
}

/// @brief Builds the transpose of a CSC (stable: within a source row, destinations ascend).
///
/// Parallel counting sort with per-thread histograms: O(E + threads * num_src) time,
/// deterministic for any thread count.
template <typename IndexT>
Transposed<IndexT> transpose(const CompressedView<IndexT>& csc, int threads) {
  Transposed<IndexT> t;
  t.num_rows = csc.num_cols;
  t.num_cols = csc.num_rows;
  const std::int64_t n_src = csc.num_cols, n_dst = csc.num_rows;
  const std::int64_t base = n_dst ? csc.indptr[0] : 0;
  const std::int64_t num_edges = n_dst ? csc.indptr[n_dst] - base : 0;
  t.indptr.assign(std::size_t(n_src + 1), 0);
  t.indices.resize(std::size_t(num_edges));
  t.perm.resize(std::size_t(num_edges));
  if (num_edges == 0) return t;
  threads = std::max(1, threads);
  if (num_edges < 65536) threads = 1;
  const auto bounds = balanced_row_ranges(csc.indptr, n_dst, threads);
  const int parts = int(bounds.size()) - 1;
  // counts[p][s]: edges of part p from source s; becomes the write cursor.
  std::vector<std::vector<std::int64_t>> cursor(static_cast<std::size_t>(parts));
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    auto& c = cursor[std::size_t(p)];
    c.assign(std::size_t(n_src), 0);
    for (std::int64_t e = csc.indptr[bounds[std::size_t(p)]];
         e < csc.indptr[bounds[std::size_t(p) + 1]]; ++e)
      ++c[std::size_t(csc.indices[e])];
  }
  // Exclusive scan over (source, part): part p's edges of source s follow those of parts < p.
  std::int64_t running = 0;
  for (std::int64_t s = 0; s < n_src; ++s) {
    t.indptr[std::size_t(s)] = running;
    for (int p = 0; p < parts; ++p) {
      const std::int64_t count = cursor[std::size_t(p)][std::size_t(s)];
      cursor[std::size_t(p)][std::size_t(s)] = running;
      running += count;
    }
  }
  t.indptr[std::size_t(n_src)] = running;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int p = 0; p < parts; ++p) {
    auto& c = cursor[std::size_t(p)];
    for (std::int64_t v = bounds[std::size_t(p)]; v < bounds[std::size_t(p) + 1]; ++v)
      for (std::int64_t e = csc.indptr[v]; e < csc.indptr[v + 1]; ++e) {
        const std::int64_t slot = c[std::size_t(csc.indices[e])]++;
        t.indices[std::size_t(slot)] = IndexT(v);
        t.perm[std::size_t(slot)] = e - base;
      }
  }
  return t;
}

/// @brief SpMM aggregation: out[v] = reduce over edges (u -> v) of w[e, h] * x[u].
///
/// @param x [num_src, F] with leading dimension ldx; F = heads * C
/// @param edge_weight per-edge, per-head weights [E, heads] in CSC order, or null (all 1)
/// @param reduce kSum, kMean (divides by the in-degree) or kMax (elementwise; argmax gets,
///        per output element, the position of the winning edge within its row, -1 for an
///        empty row, whose output is 0)
/// @param out [num_dst, F] with leading dimension ldo, overwritten
/// @param argmax [num_dst, F] (contiguous), only for kMax
template <typename ValueT, typename IndexT>
void spmm_forward(const CompressedView<IndexT>& csc, const ValueT* x, std::int64_t ldx,
                  std::int64_t F, const ValueT* edge_weight, int heads, Reduce reduce,
                  ValueT* out, std::int64_t ldo, std::int32_t* argmax, int threads) {
  const std::int64_t C = heads > 0 ? F / heads : F;
  parallel_rows(csc.indptr, csc.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    // Prefetch across rows: the chunk's edges are contiguous, and short rows are common.
    const std::int64_t e_end = csc.indptr[end];
    for (std::int64_t v = begin; v < end; ++v) {
      ValueT* __restrict o = out + v * ldo;
      const std::int64_t e0 = csc.indptr[v], e1 = csc.indptr[v + 1];
      if (reduce == Reduce::kMax) {
        std::int32_t* __restrict am = argmax + v * F;
        if (e0 == e1) {
          std::fill(o, o + F, ValueT(0));
          std::fill(am, am + F, -1);
          continue;
        }
        for (std::int64_t e = e0; e < e1; ++e) {
          if (e + kPrefetchDistance < e_end)
            prefetch_row(x + std::int64_t(csc.indices[e + kPrefetchDistance]) * ldx, F);
          const ValueT* __restrict xr = x + std::int64_t(csc.indices[e]) * ldx;
          const std::int32_t j = std::int32_t(e - e0);
          for (int h = 0; h < heads; ++h) {
            const ValueT w = edge_weight ? edge_weight[e * heads + h] : ValueT(1);
            const std::int64_t c0 = h * C;
            if (e == e0) {
              for (std::int64_t c = c0; c < c0 + C; ++c) {
                o[c] = w * xr[c];
                am[c] = 0;
              }
            } else {
#pragma omp simd
              for (std::int64_t c = c0; c < c0 + C; ++c) {
                const ValueT m = w * xr[c];
                const bool better = m > o[c];
                o[c] = better ? m : o[c];
                am[c] = better ? j : am[c];
              }
            }
          }
        }
        continue;
      }
      if (!edge_weight || heads == 1) {
        // Register-blocked: each 64-column block accumulates over the whole row in a local
        // array the compiler keeps in vector registers, then is stored once.
        constexpr std::int64_t kBlock = 64;
        std::int64_t c0 = 0;
        for (; c0 + kBlock <= F; c0 += kBlock) {
          ValueT acc[kBlock] = {};
          for (std::int64_t e = e0; e < e1; ++e) {
            if (e + kPrefetchDistance < e_end)
              prefetch_row(x + std::int64_t(csc.indices[e + kPrefetchDistance]) * ldx + c0, kBlock);
            const ValueT* __restrict xr = x + std::int64_t(csc.indices[e]) * ldx + c0;
            const ValueT w = edge_weight ? edge_weight[e] : ValueT(1);
#pragma omp simd
            for (std::int64_t c = 0; c < kBlock; ++c) acc[c] += w * xr[c];
          }
          for (std::int64_t c = 0; c < kBlock; ++c) o[c0 + c] = acc[c];
        }
        if (c0 < F) {
          // The last F % 64 columns: their own pass with their own prefetch (without it, a
          // width like 100 waited on the tail lines of every row).
          const std::int64_t rem = F - c0;
          ValueT acc[kBlock] = {};
          for (std::int64_t e = e0; e < e1; ++e) {
            if (e + kPrefetchDistance < e_end)
              prefetch_row(x + std::int64_t(csc.indices[e + kPrefetchDistance]) * ldx + c0, rem);
            const ValueT* __restrict xr = x + std::int64_t(csc.indices[e]) * ldx + c0;
            const ValueT w = edge_weight ? edge_weight[e] : ValueT(1);
#pragma omp simd
            for (std::int64_t c = 0; c < rem; ++c) acc[c] += w * xr[c];
          }
          for (std::int64_t c = 0; c < rem; ++c) o[c0 + c] = acc[c];
        }
        if (reduce == Reduce::kMean && e1 > e0) {
          const ValueT inv = ValueT(1) / ValueT(e1 - e0);
#pragma omp simd
          for (std::int64_t c = 0; c < F; ++c) o[c] *= inv;
        }
        continue;
      }
      if (F % 64 == 0 && (C == 16 || C == 32 || C == 64)) {
        // Multi-head weights with heads of 16, 32 or 64 columns (GAT's usual shapes):
        // register-blocked like the single-weight path, one weight per head and edge.
        auto blocked = [&](auto c_tag) {
          constexpr std::int64_t kC = decltype(c_tag)::value, kBlock = 64, kHeads = kBlock / kC;
          for (std::int64_t c0 = 0; c0 < F; c0 += kBlock) {
            ValueT acc[kBlock] = {};
            const std::int64_t h0 = c0 / kC;
            for (std::int64_t e = e0; e < e1; ++e) {
              if (e + kPrefetchDistance < e_end)
                prefetch_row(x + std::int64_t(csc.indices[e + kPrefetchDistance]) * ldx + c0, kBlock);
              const ValueT* __restrict xr = x + std::int64_t(csc.indices[e]) * ldx + c0;
              const ValueT* w = edge_weight + e * heads + h0;
              for (std::int64_t hb = 0; hb < kHeads; ++hb) {
#pragma omp simd
                for (std::int64_t c = 0; c < kC; ++c) acc[hb * kC + c] += w[hb] * xr[hb * kC + c];
              }
            }
            for (std::int64_t c = 0; c < kBlock; ++c) o[c0 + c] = acc[c];
          }
        };
        if (C == 16) blocked(std::integral_constant<std::int64_t, 16>{});
        else if (C == 32) blocked(std::integral_constant<std::int64_t, 32>{});
        else blocked(std::integral_constant<std::int64_t, 64>{});
        if (reduce == Reduce::kMean && e1 > e0) {
          const ValueT inv = ValueT(1) / ValueT(e1 - e0);
#pragma omp simd
          for (std::int64_t c = 0; c < F; ++c) o[c] *= inv;
        }
        continue;
      }
      std::fill(o, o + F, ValueT(0));
      for (std::int64_t e = e0; e < e1; ++e) {
        if (e + kPrefetchDistance < e_end)
          prefetch_row(x + std::int64_t(csc.indices[e + kPrefetchDistance]) * ldx, F);
        const ValueT* __restrict xr = x + std::int64_t(csc.indices[e]) * ldx;
        {
          for (int h = 0; h < heads; ++h) {
            const ValueT w = edge_weight[e * heads + h];
            const std::int64_t c0 = h * C;
#pragma omp simd
            for (std::int64_t c = c0; c < c0 + C; ++c) o[c] += w * xr[c];
          }
        }
      }
      if (reduce == Reduce::kMean && e1 > e0) {
        const ValueT inv = ValueT(1) / ValueT(e1 - e0);
#pragma omp simd
        for (std::int64_t c = 0; c < F; ++c) o[c] *= inv;
      }
    }
  });
}

/// @brief Gradient of spmm_forward w.r.t. x: grad_x[u] (+)= sum over edges (u -> v) of
/// w[e, h] * grad_out[v] (/ deg(v) for kMean; only the argmax winners for kMax).
///
/// Runs over the transpose t of csc (a gather per source: no atomics).
/// @param accumulate add to grad_x instead of overwriting it
template <typename ValueT, typename IndexT>
void spmm_backward_x(const CompressedView<IndexT>& csc, const Transposed<IndexT>& t,
                     const ValueT* grad_out, std::int64_t ldg, std::int64_t F,
                     const ValueT* edge_weight, int heads, Reduce reduce,
                     const std::int32_t* argmax, ValueT* grad_x, std::int64_t ldx,
                     bool accumulate, int threads) {
  const std::int64_t C = heads > 0 ? F / heads : F;
  const std::int64_t base = csc.num_rows ? csc.indptr[0] : 0;
  parallel_rows(t.indptr.data(), t.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    // Prefetch across rows: the chunk's edges are contiguous, and short rows are common.
    const std::int64_t k_end = t.indptr[std::size_t(end)];
    for (std::int64_t u = begin; u < end; ++u) {
      ValueT* __restrict gx = grad_x + u * ldx;
      const std::int64_t k0 = t.indptr[std::size_t(u)], k1 = t.indptr[std::size_t(u) + 1];
      if (reduce != Reduce::kMax && (!edge_weight || heads == 1) && F >= 64) {
        // Register-blocked as in spmm_forward: one store per 64-column block.
        constexpr std::int64_t kBlock = 64;
        std::int64_t c0 = 0;
        for (; c0 + kBlock <= F; c0 += kBlock) {
          ValueT acc[kBlock] = {};
          for (std::int64_t k = k0; k < k1; ++k) {
            if (k + kPrefetchDistance < k_end)
              prefetch_row(grad_out + std::int64_t(t.indices[std::size_t(k + kPrefetchDistance)]) * ldg + c0,
                           kBlock);
            const std::int64_t v = std::int64_t(t.indices[std::size_t(k)]);
            ValueT w = reduce == Reduce::kMean
                           ? ValueT(1) / ValueT(csc.indptr[v + 1] - csc.indptr[v])
                           : ValueT(1);
            if (edge_weight) w *= edge_weight[t.perm[std::size_t(k)] + base];
            const ValueT* __restrict g = grad_out + v * ldg + c0;
#pragma omp simd
            for (std::int64_t c = 0; c < kBlock; ++c) acc[c] += w * g[c];
          }
          for (std::int64_t c = 0; c < kBlock; ++c) gx[c0 + c] = (accumulate ? gx[c0 + c] : ValueT(0)) + acc[c];
        }
        if (c0 == F) continue;
        const std::int64_t rem = F - c0;  // the tail columns, prefetched like the blocks
        ValueT acc[kBlock] = {};
        for (std::int64_t k = k0; k < k1; ++k) {
          if (k + kPrefetchDistance < k_end)
            prefetch_row(grad_out + std::int64_t(t.indices[std::size_t(k + kPrefetchDistance)]) * ldg + c0, rem);
          const std::int64_t v = std::int64_t(t.indices[std::size_t(k)]);
          ValueT w = reduce == Reduce::kMean ? ValueT(1) / ValueT(csc.indptr[v + 1] - csc.indptr[v])
                                             : ValueT(1);
          if (edge_weight) w *= edge_weight[t.perm[std::size_t(k)] + base];
          const ValueT* __restrict g = grad_out + v * ldg + c0;
#pragma omp simd
          for (std::int64_t c = 0; c < rem; ++c) acc[c] += w * g[c];
        }
        for (std::int64_t c = 0; c < rem; ++c) gx[c0 + c] = (accumulate ? gx[c0 + c] : ValueT(0)) + acc[c];
        continue;
      }
      if (!accumulate) std::fill(gx, gx + F, ValueT(0));
      for (std::int64_t k = k0; k < k1; ++k) {
        const std::int64_t v = std::int64_t(t.indices[std::size_t(k)]);
        if (k + kPrefetchDistance < k_end)
          prefetch_row(grad_out + std::int64_t(t.indices[std::size_t(k + kPrefetchDistance)]) * ldg,
                       F);
        const std::int64_t e = t.perm[std::size_t(k)] + base;
        const ValueT* __restrict g = grad_out + v * ldg;
        if (reduce == Reduce::kMax) {
          const std::int32_t* __restrict am = argmax + v * F;
          const std::int32_t j = std::int32_t(e - csc.indptr[v]);
          for (int h = 0; h < heads; ++h) {
            const ValueT w = edge_weight ? edge_weight[e * heads + h] : ValueT(1);
#pragma omp simd
            for (std::int64_t c = h * C; c < (h + 1) * C; ++c)
              gx[c] += am[c] == j ? w * g[c] : ValueT(0);
          }
          continue;
        }
        const ValueT scale =
            reduce == Reduce::kMean ? ValueT(1) / ValueT(csc.indptr[v + 1] - csc.indptr[v])
                                    : ValueT(1);
        if (!edge_weight) {
#pragma omp simd
          for (std::int64_t c = 0; c < F; ++c) gx[c] += scale * g[c];
        } else {
          for (int h = 0; h < heads; ++h) {
            const ValueT w = scale * edge_weight[e * heads + h];
#pragma omp simd
            for (std::int64_t c = h * C; c < (h + 1) * C; ++c) gx[c] += w * g[c];
          }
        }
      }
    }
  });
}

/// @brief SDDMM, dot form: out[e, h] = sum over c of dst_rows[v, h*C + c] * src_rows[u, h*C + c]
/// for every edge e = (u -> v). With dst_rows = grad_out and src_rows = x this is the
/// gradient of a weighted SpMM w.r.t. its edge weights.
template <typename ValueT, typename IndexT>
void sddmm_dot(const CompressedView<IndexT>& csc, const ValueT* dst_rows, std::int64_t ldd,
               const ValueT* src_rows, std::int64_t lds, std::int64_t F, int heads, ValueT* out,
               int threads) {
  const std::int64_t C = F / heads;
  const std::int64_t base = csc.num_rows ? csc.indptr[0] : 0;
  parallel_rows(csc.indptr, csc.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    // Prefetch across rows: the chunk's edges are contiguous, and short rows are common.
    const std::int64_t e_end = csc.indptr[end];
    for (std::int64_t v = begin; v < end; ++v) {
      const ValueT* __restrict d = dst_rows + v * ldd;
      const std::int64_t e1 = csc.indptr[v + 1];
      for (std::int64_t e = csc.indptr[v]; e < e1; ++e) {
        if (e + kPrefetchDistance < e_end)
          prefetch_row(src_rows + std::int64_t(csc.indices[e + kPrefetchDistance]) * lds, F);
        const ValueT* __restrict s = src_rows + std::int64_t(csc.indices[e]) * lds;
        for (int h = 0; h < heads; ++h) {
          ValueT acc = 0;
#pragma omp simd reduction(+ : acc)
          for (std::int64_t c = h * C; c < (h + 1) * C; ++c) acc += d[c] * s[c];
          out[(e - base) * heads + h] = acc;
        }
      }
    }
  });
}

/// @brief Edge softmax over the incoming edges of every destination, per head, numerically
/// stable (max subtracted): alpha[e, h] = exp(s[e, h]) / sum over e' in row(v) exp(s[e', h]).
template <typename ValueT, typename IndexT>
void edge_softmax_forward(const CompressedView<IndexT>& csc, const ValueT* scores, int heads,
                          ValueT* alpha, int threads) {
  const std::int64_t base = csc.num_rows ? csc.indptr[0] : 0;
  parallel_rows(csc.indptr, csc.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    for (std::int64_t v = begin; v < end; ++v) {
      const std::int64_t e0 = csc.indptr[v] - base, e1 = csc.indptr[v + 1] - base;
      if (e0 == e1) continue;
      for (int h = 0; h < heads; ++h) {
        ValueT m = -std::numeric_limits<ValueT>::infinity();
        for (std::int64_t e = e0; e < e1; ++e) m = std::max(m, scores[e * heads + h]);
        ValueT sum = 0;
        for (std::int64_t e = e0; e < e1; ++e) {
          const ValueT a = std::exp(scores[e * heads + h] - m);
          alpha[e * heads + h] = a;
          sum += a;
        }
        const ValueT inv = ValueT(1) / sum;
        for (std::int64_t e = e0; e < e1; ++e) alpha[e * heads + h] *= inv;
      }
    }
  });
}

/// @brief Gradient of edge_softmax_forward: grad_s[e] = alpha[e] * (grad_alpha[e] -
/// sum over e' in row(v) alpha[e'] * grad_alpha[e']), per head. grad_scores may alias
/// grad_alpha.
template <typename ValueT, typename IndexT>
void edge_softmax_backward(const CompressedView<IndexT>& csc, const ValueT* alpha,
                           const ValueT* grad_alpha, int heads, ValueT* grad_scores,
                           int threads) {
  const std::int64_t base = csc.num_rows ? csc.indptr[0] : 0;
  parallel_rows(csc.indptr, csc.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    for (std::int64_t v = begin; v < end; ++v) {
      const std::int64_t e0 = csc.indptr[v] - base, e1 = csc.indptr[v + 1] - base;
      for (int h = 0; h < heads; ++h) {
        ValueT dot = 0;
        for (std::int64_t e = e0; e < e1; ++e) dot += alpha[e * heads + h] * grad_alpha[e * heads + h];
        for (std::int64_t e = e0; e < e1; ++e)
          grad_scores[e * heads + h] = alpha[e * heads + h] * (grad_alpha[e * heads + h] - dot);
      }
    }
  });
}

/// @brief Per-edge attention logits of GAT: s[e, h] = leaky_relu(a_src[u, h] + a_dst[v, h]).
template <typename ValueT, typename IndexT>
void gat_scores(const CompressedView<IndexT>& csc, const ValueT* a_src, const ValueT* a_dst,
                int heads, ValueT negative_slope, ValueT* scores, int threads) {
  const std::int64_t base = csc.num_rows ? csc.indptr[0] : 0;
  parallel_rows(csc.indptr, csc.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    for (std::int64_t v = begin; v < end; ++v) {
      const ValueT* ad = a_dst + v * heads;
      for (std::int64_t e = csc.indptr[v]; e < csc.indptr[v + 1]; ++e) {
        const ValueT* as = a_src + std::int64_t(csc.indices[e]) * heads;
        ValueT* s = scores + (e - base) * heads;
        for (int h = 0; h < heads; ++h) {
          const ValueT z = as[h] + ad[h];
          s[h] = z > 0 ? z : negative_slope * z;
        }
      }
    }
  });
}

namespace gat_detail {
/// One destination row of gat_attention_forward. kHeads > 0 fixes the head count at compile
/// time, so the per-edge head loop becomes one short vector operation instead of a scalar
/// loop with a branch per element; kHeads = 0 reads it from `heads`.
template <int kHeads, typename ValueT, typename IndexT>
[[gnu::always_inline]] inline void attention_row(const CompressedView<IndexT>& csc, std::int64_t v,
                                                 std::int64_t e_end, const ValueT* a_src,
                                                 const ValueT* a_dst, int runtime_heads,
                                                 ValueT slope, ValueT* scores, ValueT* alpha) {
  const int heads = kHeads > 0 ? kHeads : runtime_heads;
  const std::int64_t e0 = csc.indptr[v], e1 = csc.indptr[v + 1];
  if (e0 == e1) return;
  ValueT ad[kMaxHeads], m[kMaxHeads], sum[kMaxHeads];
  for (int h = 0; h < heads; ++h) {
    ad[h] = a_dst[v * heads + h];
    m[h] = -std::numeric_limits<ValueT>::infinity();
    sum[h] = 0;
  }
  for (std::int64_t e = e0; e < e1; ++e) {
    if (e + 16 < e_end) __builtin_prefetch(a_src + std::int64_t(csc.indices[e + 16]) * heads);
    const ValueT* __restrict as = a_src + std::int64_t(csc.indices[e]) * heads;
    ValueT* __restrict s = scores + e * heads;
#pragma omp simd
    for (int h = 0; h < heads; ++h) {
      const ValueT z = as[h] + ad[h];
      const ValueT sz = z > 0 ? z : slope * z;
      s[h] = sz;
      m[h] = m[h] > sz ? m[h] : sz;
    }
  }
  for (std::int64_t e = e0; e < e1; ++e)
    for (int h = 0; h < heads; ++h) {
      const ValueT a = std::exp(scores[e * heads + h] - m[h]);
      alpha[e * heads + h] = a;
      sum[h] += a;
    }
  for (int h = 0; h < heads; ++h) sum[h] = ValueT(1) / sum[h];
  for (std::int64_t e = e0; e < e1; ++e) {
    ValueT* __restrict a = alpha + e * heads;
#pragma omp simd
    for (int h = 0; h < heads; ++h) a[h] *= sum[h];
  }
}
}  // namespace gat_detail

/// @brief GAT attention in one pass per destination row: s[e, h] = leaky_relu(a_src[u, h] +
/// a_dst[v, h]) and alpha[e, h] = softmax over the row of s (max subtracted). Equivalent to
/// gat_scores then edge_softmax_forward, reading each source's a_src once.
/// At most kMaxHeads heads.
template <typename ValueT, typename IndexT>
void gat_attention_forward(const CompressedView<IndexT>& csc, const ValueT* a_src,
                           const ValueT* a_dst, int heads, ValueT negative_slope,
                           ValueT* scores, ValueT* alpha, int threads) {
  parallel_rows(csc.indptr, csc.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    // Prefetch across rows: the chunk's edges are contiguous, and short rows are common.
    const std::int64_t e_end = csc.indptr[end];
    const ValueT slope = negative_slope;
    auto rows = [&](auto heads_tag) {
      constexpr int kHeads = decltype(heads_tag)::value;
      for (std::int64_t v = begin; v < end; ++v)
        gat_detail::attention_row<kHeads>(csc, v, e_end, a_src, a_dst, heads, slope, scores, alpha);
    };
    dispatch_heads(heads, rows);
  });
}

/// @brief The backward of GAT's aggregation out[v] = sum_e w[e, h] * h_src[u], in one pass
/// over the transpose: grad_h_src[u] = sum over edges (u -> v) of w[e, h] * g[v] and, from
/// the same gathered row g[v], grad_w[e, h] = <g[v], h_src[u]> per head (what sddmm_dot
/// computes in a separate gather pass). grad_w is written in CSC order.
template <typename ValueT, typename IndexT>
void gat_aggregate_backward(const Transposed<IndexT>& t, const ValueT* grad_out,
                            std::int64_t ldg, const ValueT* h_src, std::int64_t ldh,
                            std::int64_t F, const ValueT* weights, int heads, ValueT* grad_h_src,
                            std::int64_t ldx, ValueT* grad_w, int threads) {
  const std::int64_t C = F / heads;
  parallel_rows(t.indptr.data(), t.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    // Prefetch across rows: the chunk's edges are contiguous, and short rows are common.
    const std::int64_t k_end = t.indptr[std::size_t(end)];
    for (std::int64_t u = begin; u < end; ++u) {
      ValueT* __restrict gx = grad_h_src + u * ldx;
      const ValueT* __restrict hs = h_src + u * ldh;
      std::fill(gx, gx + F, ValueT(0));
      const std::int64_t k0 = t.indptr[std::size_t(u)], k1 = t.indptr[std::size_t(u) + 1];
      for (std::int64_t k = k0; k < k1; ++k) {
        if (k + kPrefetchDistance < k_end) {
          prefetch_row(grad_out + std::int64_t(t.indices[std::size_t(k + kPrefetchDistance)]) * ldg, F);
          __builtin_prefetch(weights + t.perm[std::size_t(k + kPrefetchDistance)] * heads);
          __builtin_prefetch(grad_w + t.perm[std::size_t(k + kPrefetchDistance)] * heads, 1);
        }
        const ValueT* __restrict g = grad_out + std::int64_t(t.indices[std::size_t(k)]) * ldg;
        const std::int64_t e = t.perm[std::size_t(k)];
        for (int h = 0; h < heads; ++h) {
          const ValueT w = weights[e * heads + h];
          ValueT dot = 0;
#pragma omp simd reduction(+ : dot)
          for (std::int64_t c = h * C; c < (h + 1) * C; ++c) {
            dot += g[c] * hs[c];
            gx[c] += w * g[c];
          }
          grad_w[e * heads + h] = dot;
        }
      }
    }
  });
}

/// @brief The backward of gat_attention_forward from the gradient of alpha, per destination
/// row: softmax backward, then leaky_relu's derivative (read from the sign of the score).
/// In place: grad holds d/d(alpha) on entry and d/d(a_src[u] + a_dst[v]) on return.
/// At most kMaxHeads heads.
template <typename ValueT, typename IndexT>
void gat_attention_backward(const CompressedView<IndexT>& csc, const ValueT* scores,
                            const ValueT* alpha, int heads, ValueT negative_slope, ValueT* grad,
                            int threads) {
  parallel_rows(csc.indptr, csc.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    const ValueT slope = negative_slope;
    // As in gat_attention_forward: a compile-time head count turns the head loops into
    // vector operations over one edge's heads.
    auto rows = [&](auto heads_tag) {
      constexpr int kHeads = decltype(heads_tag)::value;
      const int nh = kHeads > 0 ? kHeads : heads;
      for (std::int64_t v = begin; v < end; ++v) {
        const std::int64_t e0 = csc.indptr[v], e1 = csc.indptr[v + 1];
        ValueT dot[kMaxHeads];
        for (int h = 0; h < nh; ++h) dot[h] = 0;
        for (std::int64_t e = e0; e < e1; ++e) {
          const ValueT* __restrict a = alpha + e * nh;
          const ValueT* __restrict g = grad + e * nh;
#pragma omp simd
          for (int h = 0; h < nh; ++h) dot[h] += a[h] * g[h];
        }
        for (std::int64_t e = e0; e < e1; ++e) {
          const ValueT* __restrict a = alpha + e * nh;
          const ValueT* __restrict sc = scores + e * nh;
          ValueT* __restrict g = grad + e * nh;
#pragma omp simd
          for (int h = 0; h < nh; ++h) {
            const ValueT gs = a[h] * (g[h] - dot[h]);
            g[h] = sc[h] > 0 ? gs : slope * gs;
          }
        }
      }
    };
    dispatch_heads(heads, rows);
  });
}

/// @brief Sums per-edge values into their destinations: out[v, h] (+)= sum over row(v) of
/// values[e, h].
template <typename ValueT, typename IndexT>
void edge_sum_to_dst(const CompressedView<IndexT>& csc, const ValueT* values, int heads,
                     ValueT* out, bool accumulate, int threads) {
  const std::int64_t base = csc.num_rows ? csc.indptr[0] : 0;
  parallel_rows(csc.indptr, csc.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    for (std::int64_t v = begin; v < end; ++v) {
      for (int h = 0; h < heads; ++h) {
        ValueT acc = accumulate ? out[v * heads + h] : ValueT(0);
        for (std::int64_t e = csc.indptr[v] - base; e < csc.indptr[v + 1] - base; ++e)
          acc += values[e * heads + h];
        out[v * heads + h] = acc;
      }
    }
  });
}

/// @brief Sums per-edge values into their sources (over the transpose): out[u, h] (+)=
/// sum over edges leaving u of values[e, h].
/// At most kMaxHeads heads.
template <typename ValueT, typename IndexT>
void edge_sum_to_src(const Transposed<IndexT>& t, const ValueT* values, int heads, ValueT* out,
                     bool accumulate, int threads) {
  parallel_rows(t.indptr.data(), t.num_rows, threads, [&](std::int64_t begin, std::int64_t end) GNNKIT_ISA_CLONES {
    const std::int64_t k_end = t.indptr[std::size_t(end)];
    // One pass over each source's edges, all heads of an edge at once (its values are one
    // random read, prefetched ahead across rows), the head count fixed at compile time.
    auto rows = [&](auto heads_tag) {
      constexpr int kHeads = decltype(heads_tag)::value;
      const int nh = kHeads > 0 ? kHeads : heads;
      for (std::int64_t u = begin; u < end; ++u) {
        ValueT acc[kMaxHeads];
        for (int h = 0; h < nh; ++h) acc[h] = accumulate ? out[u * nh + h] : ValueT(0);
        for (std::int64_t k = t.indptr[std::size_t(u)]; k < t.indptr[std::size_t(u) + 1]; ++k) {
          if (k + 16 < k_end) __builtin_prefetch(values + t.perm[std::size_t(k + 16)] * nh);
          const ValueT* __restrict val = values + t.perm[std::size_t(k)] * nh;
#pragma omp simd
          for (int h = 0; h < nh; ++h) acc[h] += val[h];
        }
        for (int h = 0; h < nh; ++h) out[u * nh + h] = acc[h];
      }
    };
    dispatch_heads(heads, rows);
  });
}

/// @brief out[i] = x[index[i]] for i < n (rows of width F).
template <typename ValueT, typename IndexT>
void gather_rows(const ValueT* x, std::int64_t ldx, std::int64_t F, const IndexT* index,
                 std::int64_t n, ValueT* out, std::int64_t ldo, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (n * F > 65536)
  for (std::int64_t i = 0; i < n; ++i) {
    if (i + kPrefetchDistance < n) prefetch_row(x + std::int64_t(index[i + kPrefetchDistance]) * ldx, F);
    std::memcpy(out + i * ldo, x + std::int64_t(index[i]) * ldx, std::size_t(F) * sizeof(ValueT));
  }
}

/// @brief Backward of gather_rows: grad_x[index[i]] += grad_out[i]. Parallel over column
/// slices, so repeated indices never race and the summation order is fixed.
template <typename ValueT, typename IndexT>
void scatter_add_rows(const ValueT* grad_out, std::int64_t ldg, std::int64_t F,
                      const IndexT* index, std::int64_t n, ValueT* grad_x, std::int64_t ldx,
                      int threads) {
  const std::int64_t slice = 16;  // one cache line of float32
  const std::int64_t slices = (F + slice - 1) / slice;
#pragma omp parallel for num_threads(threads) schedule(static) if (n * F > 65536)
  for (std::int64_t s = 0; s < slices; ++s) {
    const std::int64_t c0 = s * slice, c1 = std::min(F, c0 + slice);
    for (std::int64_t i = 0; i < n; ++i) {
      ValueT* gx = grad_x + std::int64_t(index[i]) * ldx;
      const ValueT* g = grad_out + i * ldg;
      for (std::int64_t c = c0; c < c1; ++c) gx[c] += g[c];
    }
  }
}

}  // namespace gnnkit::kernels::cpu
