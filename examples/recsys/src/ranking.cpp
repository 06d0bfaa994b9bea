#include "src/ranking.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "gnnkit/core/error.hpp"
#include "gnnkit/train/metrics.hpp"

namespace gnnkit::recsys {
ItemExclusion exclusion_of(const UserItems* x) {
  if (!x) return {};
  return {x->indptr, x->items};
}

TopK top_k_dot(const Context& ctx, const Embeddings& emb, std::span<const std::int64_t> users,
               std::int64_t k, const UserItems* exclude, std::int64_t user_block) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "top_k_dot",
                    std::int64_t(emb.user.size()) == emb.num_users * emb.dim &&
                        std::int64_t(emb.item.size()) == emb.num_items * emb.dim && emb.dim > 0,
                    "embeddings must be [{}, {}] and [{}, {}]", emb.num_users, emb.dim,
                    emb.num_items, emb.dim);
  const TensorView u(const_cast<float*>(emb.user.data()), DType::kFloat32, Device::cpu(),
                     {emb.num_users, emb.dim});
  const TensorView i(const_cast<float*>(emb.item.data()), DType::kFloat32, Device::cpu(),
                     {emb.num_items, emb.dim});
  return gnnkit::top_k_dot(ctx, u, i, users, k, exclusion_of(exclude), user_block);
}

TopK top_k_shared(std::span<const float> item_scores, std::span<const std::int64_t> users,
                  std::int64_t k, const UserItems* exclude, int threads) {
  return gnnkit::top_k_shared(item_scores, users, k, exclusion_of(exclude), threads);
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
