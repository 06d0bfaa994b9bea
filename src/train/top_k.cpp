#include "gnnkit/train/top_k.hpp"

#include <algorithm>
#include <limits>

#include "gnnkit/core/error.hpp"
#include "gnnkit/nn/dense.hpp"
#include "gnnkit/nn/functional.hpp"

namespace gnnkit {
namespace {

constexpr float kNone = -std::numeric_limits<float>::infinity();
using Entry = std::pair<float, std::int32_t>;

// Ties keep the lower item id (deterministic): items are offered in increasing id order and a
// candidate replaces the heap's minimum only when strictly better.
inline bool worse(const Entry& a, const Entry& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

/// Offers items [begin, end) (scores[i - begin]) to a min-heap of the k best, skipping the
/// sorted `skip` items; *cursor is the position in `skip` of the first item >= begin and is
/// advanced past end. A candidate below the heap's minimum (the common case once the heap is
/// full) costs one comparison.
void offer(const float* scores, std::int64_t begin, std::int64_t end,
           std::span<const std::int32_t> skip, std::size_t* cursor, std::int64_t k,
           std::vector<Entry>& heap) {
  const auto consider = [&](std::int64_t from, std::int64_t to) {
    for (std::int64_t i = from; i < to; ++i) {
      const float s = scores[i - begin];
      if (std::int64_t(heap.size()) < k) {
        heap.emplace_back(s, std::int32_t(i));
        std::push_heap(heap.begin(), heap.end(), worse);
      } else if (s > heap.front().first) {
        std::pop_heap(heap.begin(), heap.end(), worse);
        heap.back() = {s, std::int32_t(i)};
        std::push_heap(heap.begin(), heap.end(), worse);
      }
    }
  };
  std::int64_t from = begin;
  for (; *cursor < skip.size() && skip[*cursor] < end; ++*cursor) {
    consider(from, skip[*cursor]);
    from = std::int64_t(skip[*cursor]) + 1;
  }
  consider(from, end);
}

/// Writes the heap best first into out (padding with -1 / -inf up to k) and empties it.
void finish(std::vector<Entry>& heap, std::int64_t k, std::int32_t* out_items, float* out_scores) {
  std::sort_heap(heap.begin(), heap.end(), worse);  // best first
  std::int64_t j = 0;
  for (; j < std::int64_t(heap.size()); ++j) {
    out_items[j] = heap[std::size_t(j)].second;
    out_scores[j] = heap[std::size_t(j)].first;
  }
  for (; j < k; ++j) out_items[j] = -1, out_scores[j] = kNone;
  heap.clear();
}

void check_matrix_f32(const char* fn, const char* arg, const TensorView& t) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    t.ndim() == 2 && t.dtype() == DType::kFloat32 && t.device().is_cpu() &&
                        t.stride(1) == 1,
                    "'{}' must be a float32 CPU matrix with contiguous rows, got {}", arg, t.str());
}

}  // namespace

namespace {
/// The checks of one user's list: in range, sorted, unique.
void check_user_list(const char* fn, const ItemExclusion& x, std::int64_t u, std::int64_t num_items) {
  const std::int64_t b = x.indptr[std::size_t(u)], e = x.indptr[std::size_t(u) + 1];
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, b <= e && b >= 0 && e <= std::int64_t(x.items.size()),
                    "'indptr' must not decrease and stay within the {} items, got {} then {} at user {}",
                    x.items.size(), b, e, u);
  for (std::int64_t p = b; p < e; ++p) {
    const std::int32_t i = x.items[std::size_t(p)];
    GNNKIT_EXPECTS_AS(OutOfRange, fn, i >= 0 && i < num_items,
                      "excluded item {} of user {} must be in [0, {})", i, u, num_items);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, p == b || x.items[std::size_t(p) - 1] < i,
                      "the excluded items of user {} must be sorted and unique, got {} after {}", u,
                      i, x.items[std::size_t(p) - 1]);
  }
}

void check_ends(const char* fn, const ItemExclusion& x) {
  if (x.indptr.empty()) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, x.items.empty(),
                      "'items' must be empty without 'indptr', got {} items", x.items.size());
    return;
  }
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    x.indptr.front() == 0 && x.indptr.back() == std::int64_t(x.items.size()),
                    "'indptr' must run from 0 to {} (the items), got {} to {}", x.items.size(),
                    x.indptr.front(), x.indptr.back());
}

/// Checks the exclusion lists of the requested users only (a request costs O(its lists)).
void check_rows(const char* fn, const ItemExclusion& x, std::span<const std::int64_t> users,
                std::int64_t num_items) {
  check_ends(fn, x);
  for (const std::int64_t u : users)
    if (u < x.num_users()) check_user_list(fn, x, u, num_items);
}
}  // namespace

void check_exclusion(const ItemExclusion& x, std::int64_t num_items) {
  check_ends("check_exclusion", x);
  for (std::int64_t u = 0; u < x.num_users(); ++u) check_user_list("check_exclusion", x, u, num_items);
}

TopK top_k_dot(const Context& ctx, const TensorView& user_emb, const TensorView& item_emb,
               std::span<const std::int64_t> users, std::int64_t k, const ItemExclusion& exclude,
               std::int64_t user_block, std::int64_t item_tile) {
  constexpr const char* fn = "top_k_dot";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, k >= 1, "'k' must be >= 1, got {}", k);
  check_matrix_f32(fn, "user_emb", user_emb);
  check_matrix_f32(fn, "item_emb", item_emb);
  const std::int64_t num_users = user_emb.size(0), items = item_emb.size(0), d = user_emb.size(1);
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, item_emb.size(1) == d && d > 0,
                    "'user_emb' and 'item_emb' must have the same positive width, got {} and {}",
                    user_emb.str(), item_emb.str());
  for (std::size_t j = 0; j < users.size(); ++j)
    GNNKIT_EXPECTS_AS(OutOfRange, fn, users[j] >= 0 && users[j] < num_users,
                      "user id {} (entry {}) must be in [0, {})", users[j], j, num_users);
  check_rows(fn, exclude, users, items);
  const std::int64_t n = std::int64_t(users.size());
  TopK out;
  out.k = k;
  out.items.resize(std::size_t(n * k));
  out.scores.resize(std::size_t(n * k));
  if (n == 0) return out;
  // Users in blocks of user_block, items in tiles: one [block, tile] product at a time, at
  // most ~16 MiB of scores, so it stays in the last-level cache and a catalogue of millions
  // needs neither a [users, items] buffer nor one pass over the item table per user. Each
  // user's heap carries over from tile to tile.
  constexpr std::int64_t kMaxBlockScores = std::int64_t(1) << 22;
  user_block = std::max<std::int64_t>(1, std::min(user_block, n));
  const std::int64_t tile = std::max<std::int64_t>(
      1, std::min(items, item_tile > 0 ? item_tile : kMaxBlockScores / user_block));
  std::vector<float> rows(std::size_t(user_block * d));
  std::vector<float> scores(std::size_t(user_block * tile));
  const auto nb = static_cast<std::size_t>(user_block);
  std::vector<std::vector<Entry>> heaps(nb);
  for (auto& h : heaps) h.reserve(std::size_t(k));
  std::vector<std::size_t> cursor(nb);
  const float* ubase = static_cast<const float*>(user_emb.data());
  const float* ibase = static_cast<const float*>(item_emb.data());
  const std::int64_t istride = item_emb.stride(0);
  const int threads = ctx.num_threads();
  for (std::int64_t b0 = 0; b0 < n; b0 += user_block) {
    const std::int64_t b = std::min(user_block, n - b0);
    for (std::int64_t r = 0; r < b; ++r) {
      std::copy_n(ubase + users[std::size_t(b0 + r)] * user_emb.stride(0), d, rows.data() + r * d);
      cursor[std::size_t(r)] = 0;
    }
    for (std::int64_t t0 = 0; t0 < items; t0 += tile) {
      const std::int64_t t = std::min(tile, items - t0);
      const std::int64_t item_shape[2] = {t, d}, item_strides[2] = {istride, 1};
      const TensorView item_tile_view(const_cast<float*>(ibase + t0 * istride), DType::kFloat32,
                                      Device::cpu(), item_shape, item_strides);
      matmul_into(ctx, TensorView(rows.data(), DType::kFloat32, Device::cpu(), {b, d}),
                  nn::transposed(item_tile_view), std::nullopt,
                  TensorView(scores.data(), DType::kFloat32, Device::cpu(), {b, t}));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 8) if (b > 1)
      for (std::int64_t r = 0; r < b; ++r)
        offer(scores.data() + r * t, t0, t0 + t, exclude.of(users[std::size_t(b0 + r)]),
              &cursor[std::size_t(r)], k, heaps[std::size_t(r)]);
    }
#pragma omp parallel for num_threads(threads) schedule(static) if (b > 64)
    for (std::int64_t r = 0; r < b; ++r)
      finish(heaps[std::size_t(r)], k, out.items.data() + (b0 + r) * k, out.scores.data() + (b0 + r) * k);
  }
  return out;
}

TopK top_k_shared(std::span<const float> item_scores, std::span<const std::int64_t> users,
                  std::int64_t k, const ItemExclusion& exclude, int threads) {
  constexpr const char* fn = "top_k_shared";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, k >= 1, "'k' must be >= 1, got {}", k);
  for (std::size_t j = 0; j < users.size(); ++j)
    GNNKIT_EXPECTS_AS(OutOfRange, fn, users[j] >= 0, "user id {} (entry {}) must be >= 0",
                      users[j], j);
  check_rows(fn, exclude, users, std::int64_t(item_scores.size()));
  const std::int64_t n = std::int64_t(users.size());
  TopK out;
  out.k = k;
  out.items.resize(std::size_t(n * k));
  out.scores.resize(std::size_t(n * k));
#pragma omp parallel num_threads(std::max(1, threads)) if (n > 1)
  {
    std::vector<Entry> heap;
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t r = 0; r < n; ++r) {
      std::size_t cursor = 0;
      offer(item_scores.data(), 0, std::int64_t(item_scores.size()), exclude.of(users[std::size_t(r)]),
            &cursor, k, heap);
      finish(heap, k, out.items.data() + r * k, out.scores.data() + r * k);
    }
  }
  return out;
}

}  // namespace gnnkit
