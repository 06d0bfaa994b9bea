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

/// Selects the k best (score, item) of one row into out (best first), skipping the sorted
/// `skip` items. One pass with a min-heap of size k: a candidate below the heap's minimum (the
/// common case once the heap is full) costs one comparison.
void select_row(const float* scores, std::int64_t num_items, std::span<const std::int32_t> skip,
                std::int64_t k, std::vector<Entry>& heap, std::int32_t* out_items,
                float* out_scores) {
  heap.clear();
  // Ties keep the lower item id (deterministic): items arrive in increasing id order and a
  // candidate replaces the heap's minimum only when strictly better.
  const auto worse = [](const Entry& a, const Entry& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  const auto consider = [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const float s = scores[i];
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
  std::int64_t from = 0;
  for (const std::int32_t s : skip) {
    consider(from, s);
    from = std::int64_t(s) + 1;
  }
  consider(from, num_items);
  std::sort_heap(heap.begin(), heap.end(), worse);  // best first
  std::int64_t j = 0;
  for (; j < std::int64_t(heap.size()); ++j) {
    out_items[j] = heap[std::size_t(j)].second;
    out_scores[j] = heap[std::size_t(j)].first;
  }
  for (; j < k; ++j) out_items[j] = -1, out_scores[j] = kNone;
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
               std::int64_t user_block) {
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
  // At most ~16 MiB of scores per block: the block stays in the last-level cache and a big
  // catalogue does not page-fault a fresh [users, items] buffer on every call.
  constexpr std::int64_t kMaxBlockScores = std::int64_t(1) << 22;
  user_block = std::max<std::int64_t>(
      1, std::min({user_block, n, std::max<std::int64_t>(1, kMaxBlockScores / std::max<std::int64_t>(items, 1))}));
  std::vector<float> rows(std::size_t(user_block * d));
  std::vector<float> scores(std::size_t(user_block * items));
  const TensorView item_t = nn::transposed(item_emb);
  const float* ubase = static_cast<const float*>(user_emb.data());
  const int threads = ctx.num_threads();
  for (std::int64_t b0 = 0; b0 < n; b0 += user_block) {
    const std::int64_t b = std::min(user_block, n - b0);
    for (std::int64_t r = 0; r < b; ++r)
      std::copy_n(ubase + users[std::size_t(b0 + r)] * user_emb.stride(0), d, rows.data() + r * d);
    matmul_into(ctx, TensorView(rows.data(), DType::kFloat32, Device::cpu(), {b, d}), item_t,
                std::nullopt, TensorView(scores.data(), DType::kFloat32, Device::cpu(), {b, items}));
#pragma omp parallel num_threads(threads) if (b > 1)
    {
      std::vector<Entry> heap;
      heap.reserve(std::size_t(k));
#pragma omp for schedule(dynamic, 8)
      for (std::int64_t r = 0; r < b; ++r) {
        const std::int64_t row = b0 + r;
        select_row(scores.data() + r * items, items, exclude.of(users[std::size_t(row)]), k, heap,
                   out.items.data() + row * k, out.scores.data() + row * k);
      }
    }
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
    for (std::int64_t r = 0; r < n; ++r)
      select_row(item_scores.data(), std::int64_t(item_scores.size()), exclude.of(users[std::size_t(r)]),
                 k, heap, out.items.data() + r * k, out.scores.data() + r * k);
  }
  return out;
}

}  // namespace gnnkit
