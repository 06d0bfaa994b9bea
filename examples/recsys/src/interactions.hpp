#pragma once
/// @file
/// User-item interactions for gnnkit-recsys: per-user item lists (train and held-out test), the
/// LightGCN text format they are read from and written to, and the popularity counts.
///
/// LightGCN text format (the format of movielens-1m-lcfn and amazon-cds in ../shared/data):
/// one line per user, space-separated, `user_id item_id item_id ...`, 0-based ids. A data
/// folder holds train.txt and test.txt; an optional meta.json beside them
/// ({"num_users": U, "num_items": I}, written by `gnnkit-recsys generate`) declares the id
/// ranges, otherwise they are the largest id seen + 1.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace gnnkit::recsys {

/// @brief Per-user item lists: a user-major CSR with sorted, unique items per user.
struct UserItems {
  std::int64_t num_users = 0;
  std::int64_t num_items = 0;
  std::vector<std::int64_t> indptr{0};  ///< [num_users + 1]
  std::vector<std::int32_t> items;      ///< [num_interactions], sorted within each user

  std::int64_t num_interactions() const noexcept { return std::int64_t(items.size()); }
  std::span<const std::int32_t> of(std::int64_t user) const noexcept {
    return {items.data() + indptr[std::size_t(user)],
            std::size_t(indptr[std::size_t(user) + 1] - indptr[std::size_t(user)])};
  }
  bool contains(std::int64_t user, std::int32_t item) const noexcept;
  /// Interactions per item ([num_items]).
  std::vector<std::int64_t> item_counts() const;
  /// Users with at least one item, in id order.
  std::vector<std::int64_t> active_users() const;
};

/// @brief A dataset: training interactions (the graph) and the held-out test interactions.
struct RecData {
  std::string name;    ///< dataset name or folder
  std::string source;  ///< where it was read from
  UserItems train;
  UserItems test;      ///< same num_users / num_items as train
};

/// @brief Builds UserItems from (user, item) pairs: sorts, removes duplicates (counted in
/// *duplicates when given). Ids must be in range (checked by the readers).
UserItems user_items_from_pairs(std::int64_t num_users, std::int64_t num_items,
                                std::span<const std::int64_t> users,
                                std::span<const std::int32_t> items,
                                std::int64_t* duplicates = nullptr);

/// @brief Reads FOLDER/train.txt and FOLDER/test.txt (and FOLDER/meta.json when present).
/// @throws IoError (a file cannot be read: names it), FormatError naming the file, the line
///         and the offending token (not an integer, negative, beyond the declared range, a
///         user listed twice, a malformed meta.json)
RecData read_lightgcn_folder(const std::string& folder, const std::string& name = "");

/// @brief Writes data in the LightGCN format to FOLDER (created if missing): train.txt,
/// test.txt and meta.json, each atomically (a temporary file renamed into place).
/// @throws IoError naming the path
void write_lightgcn_folder(const std::string& folder, const RecData& data);

/// @brief The shared datasets gnnkit-recsys knows (name -> folder under the data root).
const std::vector<std::string>& known_datasets();

/// @brief Loads a known dataset from DATA_ROOT/NAME.
/// @throws InvalidArgument for an unknown name (listing the known ones), IoError when the
///         folder is missing (naming where it looked), FormatError for bad lines
RecData load_dataset(const std::string& name, const std::string& data_root);

}  // namespace gnnkit::recsys
