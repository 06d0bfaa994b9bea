#include "src/ranking.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "gnnkit/core/error.hpp"
#include "gnnkit/nn/dense.hpp"
#include "gnnkit/nn/functional.hpp"
#include "gnnkit/train/metrics.hpp"

namespace gnnkit::recsys {
namespace {

constexpr float kNone = -std::numeric_limits<float>::infinity();

/// Selects the k best (score, item) of one row into out (best first), skipping the sorted
/// `seen` items. One pass with a min-heap of size k: an entry below the heap's minimum (the
/// common case once the heap is full) costs one comparison.
void select_row(const float* scores, std::int64_t num_items, std::span<const std::int32_t> seen,
                std::int64_t k, std::vector<std::pair<float, std::int32_t>>& heap,
                std::int32_t* out_items, float* out_scores) {
  heap.clear();
  // Ties keep the lower item id (deterministic): a candidate replaces the minimum only when
  // strictly better, and the minimum of equal scores is the highest id.
  const auto worse = [](const std::pair<float, std::int32_t>& a,
                        const std::pair<float, std::int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  auto next_seen = seen.begin();
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
  for (; next_seen != seen.end(); ++next_seen) {
    consider(from, *next_seen);
    from = std::int64_t(*next_seen) + 1;
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

void check_users(const char* fn, std::span<const std::int64_t> users, std::int64_t num_users) {
  for (std::size_t j = 0; j < users.size(); ++j)
    GNNKIT_EXPECTS_AS(OutOfRange, fn, users[j] >= 0 && users[j] < num_users,
                      "user id {} (entry {}) must be in [0, {})", users[j], j, num_users);
}

std::span<const std::int32_t> seen_of(const UserItems* exclude, std::int64_t user) {
  if (!exclude || user >= exclude->num_users) return {};
  return exclude->of(user);
}

}  // namespace

TopK top_k_dot(const Context& ctx, const Embeddings& emb, std::span<const std::int64_t> users,
               std::int64_t k, const UserItems* exclude, std::int64_t user_block) {
  constexpr const char* fn = "top_k_dot";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, k >= 1, "'k' must be >= 1, got {}", k);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    std::int64_t(emb.user.size()) == emb.num_users * emb.dim &&
                        std::int64_t(emb.item.size()) == emb.num_items * emb.dim && emb.dim > 0,
                    "embeddings must be [{}, {}] and [{}, {}]", emb.num_users, emb.dim,
                    emb.num_items, emb.dim);
  check_users(fn, users, emb.num_users);
  const std::int64_t n = std::int64_t(users.size()), items = emb.num_items, d = emb.dim;
  TopK out;
  out.k = k;
  out.items.resize(std::size_t(n * k));
  out.scores.resize(std::size_t(n * k));
  user_block = std::max<std::int64_t>(1, std::min(user_block, n));
  std::vector<float> rows(std::size_t(user_block * d));
  std::vector<float> scores(std::size_t(user_block * items));
  const TensorView item_t = nn::transposed(
      TensorView(const_cast<float*>(emb.item.data()), DType::kFloat32, Device::cpu(), {items, d}));
  const int threads = ctx.num_threads();
  for (std::int64_t b0 = 0; b0 < n; b0 += user_block) {
    const std::int64_t b = std::min(user_block, n - b0);
    for (std::int64_t r = 0; r < b; ++r)
      std::copy_n(emb.user_row(users[std::size_t(b0 + r)]), d, rows.data() + r * d);
    matmul_into(ctx, TensorView(rows.data(), DType::kFloat32, Device::cpu(), {b, d}), item_t,
                std::nullopt, TensorView(scores.data(), DType::kFloat32, Device::cpu(), {b, items}));
#pragma omp parallel num_threads(threads)
    {
      std::vector<std::pair<float, std::int32_t>> heap;
      heap.reserve(std::size_t(k));
#pragma omp for schedule(dynamic, 8)
      for (std::int64_t r = 0; r < b; ++r) {
        const std::int64_t row = b0 + r;
        select_row(scores.data() + r * items, items, seen_of(exclude, users[std::size_t(row)]), k,
                   heap, out.items.data() + row * k, out.scores.data() + row * k);
      }
    }
  }
  return out;
}

TopK top_k_shared(std::span<const float> item_scores, std::span<const std::int64_t> users,
                  std::int64_t k, const UserItems* exclude, int threads) {
  constexpr const char* fn = "top_k_shared";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, k >= 1, "'k' must be >= 1, got {}", k);
  if (exclude) check_users(fn, users, exclude->num_users);
  const std::int64_t n = std::int64_t(users.size());
  TopK out;
  out.k = k;
  out.items.resize(std::size_t(n * k));
  out.scores.resize(std::size_t(n * k));
#pragma omp parallel num_threads(threads)
  {
    std::vector<std::pair<float, std::int32_t>> heap;
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t r = 0; r < n; ++r)
      select_row(item_scores.data(), std::int64_t(item_scores.size()),
                 seen_of(exclude, users[std::size_t(r)]), k, heap, out.items.data() + r * k,
                 out.scores.data() + r * k);
  }
  return out;
}

RankingMetrics ranking_metrics(const TopK& ranked, std::span<const std::int64_t> users,
                               const UserItems& truth, std::int64_t k, std::int64_t curve) {
  constexpr const char* fn = "ranking_metrics";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, k >= 1 && k <= ranked.k && curve <= ranked.k,
                    "'k' ({}) and 'curve' ({}) must be in [1, {}] (the ranked length)", k, curve,
                    ranked.k);
  std::vector<std::int64_t> list(ranked.items.begin(), ranked.items.end());
  std::vector<std::int64_t> indptr{0}, items;
  for (const std::int64_t u : users) {
    for (const std::int32_t i : truth.of(u)) items.push_back(i);
    indptr.push_back(std::int64_t(items.size()));
  }
  RankingMetrics m;
  m.k = k;
  m.users = std::int64_t(std::count_if(users.begin(), users.end(),
                                       [&](std::int64_t u) { return !truth.of(u).empty(); }));
  m.recall = recall_at_k(list, indptr, items, k);
  m.ndcg = ndcg_at_k(list, indptr, items, k);
  for (std::int64_t c = 1; c <= curve; ++c) m.recall_curve.push_back(recall_at_k(list, indptr, items, c));
  return m;
}

RankingMetrics evaluate_embeddings(const Context& ctx, const Embeddings& emb, const RecData& data,
                                   std::int64_t k, std::int64_t curve) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::int64_t> users = data.test.active_users();
  const TopK ranked = top_k_dot(ctx, emb, users, std::max(k, curve), &data.train);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RankingMetrics m = ranking_metrics(ranked, users, data.test, k, curve);
  m.seconds = seconds;
  return m;
}

}  // namespace gnnkit::recsys
