#pragma once
/// @file
/// Embeddings and full-ranking evaluation (the LightGCN protocol) for gnnkit-recsys, on the
/// library's exact top-K (gnnkit/train/top_k.hpp: blocked matrix products, one heap pass per
/// user that skips the seen items).
#include <cstdint>
#include <span>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/train/top_k.hpp"
#include "src/interactions.hpp"

namespace gnnkit::recsys {

/// @brief Row-major float32 embeddings of users and items ([num_users, dim], [num_items, dim]).
struct Embeddings {
  std::int64_t num_users = 0, num_items = 0, dim = 0;
  std::vector<float> user, item;
  const float* user_row(std::int64_t u) const { return user.data() + u * dim; }
  const float* item_row(std::int64_t i) const { return item.data() + i * dim; }
};

using gnnkit::TopK;

/// @brief A UserItems as the library's exclusion lists (a view: keep `x` alive).
ItemExclusion exclusion_of(const UserItems* x);

/// @brief Exact top-k by embedding dot product for `users`, excluding each user's items in
/// `exclude` (e.g. the training interactions; nullptr = none): gnnkit::top_k_dot.
/// @throws InvalidArgument (k < 1, mismatched dims), OutOfRange (a user id out of range)
TopK top_k_dot(const Context& ctx, const Embeddings& emb, std::span<const std::int64_t> users,
               std::int64_t k, const UserItems* exclude, std::int64_t user_block = 512);

/// @brief Top-k by a score shared by all users (popularity), excluding each user's seen items.
TopK top_k_shared(std::span<const float> item_scores, std::span<const std::int64_t> users,
                  std::int64_t k, const UserItems* exclude, int threads);

/// @brief Full-ranking evaluation (the LightGCN protocol): over the users with test items,
/// Recall@k and NDCG@k of the ranking of all items not in their training set.
struct RankingMetrics {
  std::int64_t users = 0;            ///< users evaluated (with at least one test item)
  std::int64_t k = 20;
  double recall = 0, ndcg = 0;       ///< at k
  std::vector<double> recall_curve;  ///< Recall@K for K = 1..curve (when asked)
  double seconds = 0;                ///< ranking time (excludes the curve)
};

/// @brief Recall@k / NDCG@k of `ranked` (one row per user of `users`, length >= k) against
/// `truth`; curve > 0 also fills Recall@1..curve (curve <= ranked.k).
RankingMetrics ranking_metrics(const TopK& ranked, std::span<const std::int64_t> users,
                               const UserItems& truth, std::int64_t k, std::int64_t curve = 0);

/// @brief Ranks every user with test items by embeddings (seen training items excluded) and
/// scores the ranking against the test items.
RankingMetrics evaluate_embeddings(const Context& ctx, const Embeddings& emb, const RecData& data,
                                   std::int64_t k = 20, std::int64_t curve = 0);

}  // namespace gnnkit::recsys
