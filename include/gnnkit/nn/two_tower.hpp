#pragma once
/// @file
/// A GraphSAGE two-tower recommender over a user-item interaction graph, trained with BPR on
/// link-sampled mini-batches (gnnkit/sampling/link.hpp). (compiled target)
///
/// Inputs: a learned ID embedding per user ([num_users, dim]) and per item ([num_items, dim]),
/// optionally concatenated with fixed item features ([num_items, F], e.g. category one-hot and
/// log price). A GnnModel of `layers` SAGE layers over the two relations user -interacts->
/// item and item -rev_interacts-> user maps both towers into one `dim`-wide space; a pair
/// scores <h_user, h_item>. Training batch: positive pairs (u, i) with a negative item j
/// each, the joint neighbourhood of all endpoints sampled by a LinkSampler; loss = mean
/// softplus(s_uj - s_ui) over the B positives and their k negatives each + reg / 2 *
/// Σ (|e_u|² + |e_i|² + Σ_j |e_j|² / k) / B (L2 on the batch's ID embeddings, as LightGCN's
/// reference code with k triples per positive). Inference is layer-wise over the whole graph
/// (every neighbour, as PyG's inference), giving the final embeddings of every user and item.
///
///   HeteroGraph g = TwoTower::interaction_graph(ctx, U, I, indptr, items);
///   LinkSampler links = TwoTower::link_sampler(g, {10, 10}, /*negatives=*/4);
///   TwoTower model(U, I, Tensor(), options);
///   links.sample_into(ctx, users, items, step, batch);
///   model.parameters().zero_grad();
///   double loss = model.loss_and_grad(ctx, batch, step);  adam.step(ctx);
///   model.embeddings(ctx, g, user_out, item_out);

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/graph/hetero_graph.hpp"
#include "gnnkit/nn/model.hpp"
#include "gnnkit/sampling/link.hpp"

namespace gnnkit::nn {

/// @brief Hyper-parameters of a TwoTower model.
struct TwoTowerOptions {
  int layers = 2;                ///< SAGE layers (the sampler needs as many hops)
  std::int64_t dim = 64;         ///< ID embedding width and output width
  std::int64_t hidden = 64;      ///< width between layers
  Reduce aggr = Reduce::kMean;   ///< SAGE neighbour aggregation
  double dropout = 0.0;          ///< on hidden features during training
  double reg = 1e-4;             ///< L2 weight on the batch's ID embeddings
  double init_scale = 0.1;       ///< ID embeddings ~ N(0, init_scale²)
  /// The embedding tables are row-sparse parameters (Parameter::sparse_rows): an optimiser
  /// step updates only the rows the batch touched (lazy Adam, as torch.optim.SparseAdam)
  /// instead of every row of the catalogue. false: dense updates, as nn.Embedding with Adam.
  bool sparse_updates = true;
  std::uint64_t seed = 1;        ///< initialisation and dropout seed
};

/// @throws InvalidArgument naming a bad field and its value
void validate(const TwoTowerOptions& options);

class TwoTower {
 public:
  static constexpr const char* kRelation = "interacts";  ///< user -> item
  static constexpr int kUser = 0, kItem = 1;              ///< node types of interaction_graph

  /// @brief The bipartite graph the model runs on: node types "user" and "item", relation
  /// user -interacts-> item with its reverse, and the user-major CSR (link sampling's
  /// exclusion of known positives binary-searches it). Duplicate pairs are dropped.
  /// @param user_indptr, items per-user item lists (a user-major CSR over [0, num_items))
  /// @throws InvalidArgument (a malformed CSR), OutOfRange (an item out of range)
  static HeteroGraph interaction_graph(const Context& ctx, std::int64_t num_users,
                                       std::int64_t num_items,
                                       std::span<const std::int64_t> user_indptr,
                                       std::span<const std::int32_t> items);

  /// @brief The link sampler that training draws batches from: `fanouts` per hop over
  /// `graph` (interaction_graph's; it must outlive the sampler) and `negatives` unseen items
  /// per positive. A user who has (nearly) every item cannot get unseen negatives: the
  /// sampler then names the user rather than looping (200 tries cover users with up to ~95 %
  /// of the catalogue).
  /// @throws InvalidArgument (fan-outs, negatives < 1)
  static LinkSampler link_sampler(const HeteroGraph& graph, std::vector<std::int64_t> fanouts,
                                  std::int64_t negatives);

  /// @param item_features [num_items, F] float (the model's dtype), or undefined for none
  /// @throws InvalidArgument (options, sizes), ShapeMismatch (item_features' shape)
  TwoTower(std::int64_t num_users, std::int64_t num_items, const Tensor& item_features,
           const TwoTowerOptions& options, DType dtype = DType::kFloat32);

  std::int64_t num_users() const noexcept { return users_; }
  std::int64_t num_items() const noexcept { return items_; }
  const TwoTowerOptions& options() const noexcept { return options_; }
  /// @brief "user_embedding" [users, dim], "item_embedding" [items, dim], then the GnnModel's.
  ParameterList& parameters() noexcept { return params_; }
  const ParameterList& parameters() const noexcept { return params_; }

  /// @brief BPR loss of the batch's triples (src[i], dst[i], neg_dst[i * k + j]), k =
  /// neg_dst.size() / src.size() (the loss averages over the k negatives); accumulates
  /// d(loss + L2 term)/d(parameter) into every parameter's grad. Returns the BPR part.
  /// @param step varies the dropout masks per step
  /// @throws InvalidArgument (a batch with fewer hops than layers, no positives, a negative
  ///         count that does not divide), OutOfRange (node ids beyond the model's sizes)
  double loss_and_grad(const Context& ctx, const LinkBatch& batch, std::uint64_t step);

  /// @brief Scores of the batch's triples without gradients: pos [P], neg [P * k] (training
  /// mode off). For tests and validation.
  void score(const Context& ctx, const LinkBatch& batch, std::vector<double>& pos,
             std::vector<double>& neg) const;

  /// @brief Final embeddings of every user and item by layer-wise inference over `graph`
  /// (interaction_graph of the training interactions): user [users, dim], item [items, dim].
  /// @throws InvalidArgument when graph's node counts differ from the model's
  void embeddings(const Context& ctx, const HeteroGraph& graph, Tensor& user, Tensor& item) const;

 private:
  std::vector<Tensor> inputs(const Context& ctx, const MiniBatch& mb) const;
  std::vector<Tensor> forward_batch(const Context& ctx, const LinkBatch& batch, bool training,
                                    std::uint64_t step, std::vector<LayerGraph>& graphs,
                                    GnnModel::Cache* cache) const;

  std::int64_t users_ = 0, items_ = 0, features_ = 0;
  TwoTowerOptions options_;
  DType dtype_;
  Tensor item_features_;
  ParameterList params_;  ///< the embedding tables, then the model's parameters (shared)
  ParameterPtr user_embedding_, item_embedding_;
  std::unique_ptr<GnnModel> model_;
};

}  // namespace gnnkit::nn
