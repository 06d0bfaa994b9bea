#pragma once
/// @file
/// Exact top-K over a whole catalogue for gnnkit-recsys: scores are dot products of user and
/// item embeddings, computed a block of users at a time with one matrix product (oneDNN), then
/// each user's row is scanned once with a K-entry heap that skips the user's seen items, in
/// parallel over users. Used by the full-ranking evaluation (LightGCN protocol) and by serving.
#include <cstdint>
#include <span>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "src/interactions.hpp"

namespace gnnkit::recsys {

/// @brief Row-major float32 embeddings of users and items ([num_users, dim], [num_items, dim]).
struct Embeddings {
  std::int64_t num_users = 0, num_items = 0, dim = 0;
  std::vector<float> user, item;
  const float* user_row(std::int64_t u) const { return user.data() + u * dim; }
  const float* item_row(std::int64_t i) const { return item.data() + i * dim; }
};

/// @brief The best k items of each listed user, best first. Rows with fewer than k unseen
/// items are padded with item -1 and score -inf.
struct TopK {
  std::int64_t k = 0;
  std::vector<std::int32_t> items;  ///< [users, k]
  std::vector<float> scores;        ///< [users, k]
};

/// @brief Exact top-k by embedding dot product for `users`, excluding each user's items in
/// `exclude` (e.g. the training interactions; nullptr = none).
/// @param user_block users scored per matrix product (memory: user_block x num_items floats)
/// @throws InvalidArgument (k < 1, a user id out of range, mismatched dims)
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
