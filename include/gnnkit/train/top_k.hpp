#pragma once
/// @file
/// Exact top-K recommendation over a whole catalogue (full-ranking evaluation, serving).
/// (compiled target)
///
/// Scores are dot products of user and item embeddings, computed for a block of users and a
/// tile of items at a time with one matrix product (oneDNN), then each user's tile row is
/// offered to that user's K-entry heap, skipping the user's excluded (seen) items, in parallel
/// over users. No [users, items] matrix is ever materialised: memory is one block x tile.
#include <cstdint>
#include <span>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/tensor_view.hpp"

namespace gnnkit {

/// @brief The best k items of each listed user, best first; ties go to the lower item id.
/// Rows with fewer than k candidates are padded with item -1 and score -inf.
struct TopK {
  std::int64_t k = 0;
  std::vector<std::int32_t> items;  ///< [users, k]
  std::vector<float> scores;        ///< [users, k]
};

/// @brief Items never to recommend, per user: a CSR over user ids (indptr [num_users + 1],
/// each user's items sorted ascending). Users beyond num_users() have none. Default: none.
struct ItemExclusion {
  std::span<const std::int64_t> indptr;
  std::span<const std::int32_t> items;

  std::int64_t num_users() const noexcept {
    return indptr.empty() ? 0 : std::int64_t(indptr.size()) - 1;
  }
  std::span<const std::int32_t> of(std::int64_t user) const noexcept {
    if (user >= num_users()) return {};
    return items.subspan(std::size_t(indptr[std::size_t(user)]),
                         std::size_t(indptr[std::size_t(user) + 1] - indptr[std::size_t(user)]));
  }
};

/// @brief Checks a whole exclusion CSR: indptr from 0 to items.size(), non-decreasing, items
/// sorted and unique within each user and in [0, num_items). (top_k_* check only the lists
/// of the users they rank, so a single request stays O(its own list).)
/// @throws InvalidArgument / OutOfRange naming the user and value
void check_exclusion(const ItemExclusion& exclude, std::int64_t num_items);

/// @brief Exact top-k by dot product for `users`.
/// @param user_emb [num_users, dim] float32 (CPU, any row stride)
/// @param item_emb [num_items, dim] float32 (CPU, any row stride)
/// @param exclude items to skip per user (the listed users' lists are checked)
/// @param user_block users scored together (their item scores come from shared products)
/// @param item_tile items per matrix product; 0 = about 16 MiB of scores per product
///        (memory: user_block x item_tile floats, whatever the catalogue size)
/// @throws InvalidArgument (k < 1, shapes or dtypes), OutOfRange (a user id)
TopK top_k_dot(const Context& ctx, const TensorView& user_emb, const TensorView& item_emb,
               std::span<const std::int64_t> users, std::int64_t k,
               const ItemExclusion& exclude = {}, std::int64_t user_block = 512,
               std::int64_t item_tile = 0);

/// @brief Top-k by one score per item shared by all users (e.g. popularity), skipping each
/// user's excluded items.
/// @throws InvalidArgument (k < 1, exclusion), OutOfRange (a negative user id)
TopK top_k_shared(std::span<const float> item_scores, std::span<const std::int64_t> users,
                  std::int64_t k, const ItemExclusion& exclude, int threads);

}  // namespace gnnkit
