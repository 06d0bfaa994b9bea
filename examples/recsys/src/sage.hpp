#pragma once
/// @file
/// Training the GraphSAGE two-tower recommender (the library's gnnkit::nn::TwoTower, see
/// gnnkit/nn/two_tower.hpp) for gnnkit-recsys.
///
/// Per epoch every training interaction (u, i) is a positive once, in shuffled batches; the
/// LinkSampler draws `negatives` items per positive uniformly among the items u has not
/// interacted with and samples the joint neighbourhood of all endpoints with `fanouts`
/// (one per layer, innermost hop first); Adam on the ID embeddings and the SAGE weights.
/// Evaluation uses the full-graph (layer-wise, every neighbour) embeddings.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/tensor.hpp"
#include "gnnkit/nn/two_tower.hpp"
#include "src/interactions.hpp"
#include "src/training.hpp"

namespace gnnkit::recsys {

struct SageOptions {
  nn::TwoTowerOptions model;                  ///< layers 2, dim 64, hidden 64, mean, L2 1e-4
  std::vector<std::int64_t> fanouts{10, 10};  ///< neighbours per hop; -1 = all
  std::int64_t negatives = 4;                 ///< negative items per positive
  int epochs = 20;
  std::int64_t batch = 2048;                  ///< positive interactions per Adam step
  double lr = 0.005;
  int eval_every = 5;                         ///< epochs between test evaluations (0: at the end)
};

/// @throws InvalidArgument naming a bad field and its value
void validate(const SageOptions& options);

/// @brief Item features for the two-tower model from a data folder's items.csv
/// (`item,category,price`, as `gnnkit-recsys generate` writes it): a one-hot category and the
/// standardised log price per item. Undefined when the folder has no items.csv.
/// @throws IoError / FormatError naming the file and line (an item out of [0, num_items), a
///         bad number, an item listed twice or missing)
Tensor read_item_features(const std::string& folder, std::int64_t num_items);

/// @brief Trains the two-tower model on data.train (item_features: as read_item_features,
/// or undefined).
TrainResult train_sage(const Context& ctx, const RecData& data, const Tensor& item_features,
                       const SageOptions& options,
                       const std::function<void(const EpochRecord&)>& on_epoch = {});

}  // namespace gnnkit::recsys
