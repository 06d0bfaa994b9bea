#pragma once
/// @file
/// LightGCN (He et al., SIGIR 2020) over a user-item interaction graph, forward and backward,
/// for BPR training; BPR matrix factorisation is the same model with 0 layers. (compiled target)
///
/// Model: ID embeddings E0 of users and items, one [users + items, dim] table (users first).
/// LightGCN propagates them with the symmetric normalisation Â = D^-1/2 A D^-1/2 of the
/// bipartite graph (E_{k+1} = Â E_k, K layers) and scores with the layer mean
/// F = (E_0 + ... + E_K) / (K + 1): score(u, i) = <F_u, F_i>. Â is symmetric, so the backward
/// pass of a propagation is another propagation (the no-atomics SpMM kernel, no transpose kept).
/// The loss of a batch of (user, positive, negative) triples is the mean BPR loss
/// softplus(s_uj - s_ui) plus reg / 2 * Σ (|e0_u|² + |e0_i|² + |e0_j|²) / B, the L2 on the
/// batch's ego embeddings of the LightGCN reference code.
#include <cstdint>
#include <span>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/nn/parameter.hpp"

namespace gnnkit::nn {

/// @brief Â of LightGCN over the nodes [users..., items...] (user u is node u, item i is node
/// num_users + i): CSR rows with weights 1 / sqrt(deg(a) deg(b)). Symmetric, so also its CSC.
struct BipartiteNormAdjacency {
  std::int64_t num_users = 0, num_items = 0;
  std::vector<std::int64_t> indptr;   ///< [num_users + num_items + 1]
  std::vector<std::int32_t> indices;
  std::vector<float> weights;

  std::int64_t num_nodes() const noexcept { return num_users + num_items; }

  /// @brief From per-user item lists (a user-major CSR: user_indptr [num_users + 1], items in
  /// [0, num_items); duplicates count as separate edges).
  /// @throws InvalidArgument (malformed CSR, an item out of range, more than 2^31 nodes)
  static BipartiteNormAdjacency build(std::int64_t num_users, std::int64_t num_items,
                                      std::span<const std::int64_t> user_indptr,
                                      std::span<const std::int32_t> items);

  /// @brief out = Â x; x and out are [num_nodes, dim] row-major, distinct buffers.
  void propagate(const float* x, std::int64_t dim, float* out, int threads) const;
};

/// @brief Hyper-parameters of a LightGcn model.
struct LightGcnOptions {
  int layers = 3;            ///< propagation layers K (0 = BPR matrix factorisation)
  std::int64_t dim = 64;     ///< embedding width
  double reg = 1e-4;         ///< L2 weight on the batch's ego embeddings
  double init_scale = 0.1;   ///< E0 ~ N(0, init_scale²) (LightGCN's normal init)
  std::uint64_t seed = 1;    ///< initialisation seed
};

/// @throws InvalidArgument naming a bad field and its value
void validate(const LightGcnOptions& options);

/// @brief The LightGCN / BPR-MF model: its embedding table, propagation and BPR gradient.
class LightGcn {
 public:
  /// @param user_indptr, items the training interactions (a user-major CSR) that form the graph
  /// @throws InvalidArgument (options, malformed interactions)
  LightGcn(std::int64_t num_users, std::int64_t num_items,
           std::span<const std::int64_t> user_indptr, std::span<const std::int32_t> items,
           const LightGcnOptions& options, int threads);

  std::int64_t num_users() const noexcept { return users_; }
  std::int64_t num_items() const noexcept { return items_; }
  std::int64_t dim() const noexcept { return dim_; }
  const LightGcnOptions& options() const noexcept { return options_; }
  /// @brief One parameter, "embedding" [users + items, dim]: E0 (users first).
  ParameterList& parameters() noexcept { return params_; }

  /// @brief Final embeddings F, [users + items, dim] row-major; the pointer stays valid until
  /// the next forward or loss_and_grad (for 0 layers it is E0 itself).
  const float* forward();

  /// @brief Dynamic negative sampling (Zhang et al., SIGIR 2013): for each triple t, the
  /// candidate of candidates[t * per_triple, (t + 1) * per_triple) that the model scores
  /// highest for users[t] goes to chosen[t] (ties: the first). With layers > 0 the scores use
  /// F as the last loss_and_grad computed it, before that step's update (one optimizer step
  /// stale in a training loop, so the choice costs dot products, not another propagation;
  /// forward and embeddings do not change it); before any step it propagates the current E0.
  /// With 0 layers F is E0, always current.
  /// @throws InvalidArgument (sizes), OutOfRange (an id out of range)
  void hardest_negatives(std::span<const std::int64_t> users,
                         std::span<const std::int64_t> candidates, std::int64_t per_triple,
                         std::span<std::int64_t> chosen);

  /// @brief BPR negatives for a batch of positive pairs: for pair t (user users[t]),
  /// `per_pair` negatives out[t * per_pair + s], each the best-scoring (as hardest_negatives) of
  /// `candidates` items drawn uniformly among the items the user has no training interaction
  /// with (1 = plain uniform sampling). Draws come from the counter-based stream (seed, stream,
  /// keys[t]), so any thread count and any batching give the same negatives. A user who has
  /// (nearly) every item gets a seen item after 64 rejected draws: a zero-information triple,
  /// never an endless loop.
  /// @throws InvalidArgument (sizes, per_pair or candidates < 1), OutOfRange (a user id)
  void sample_negatives(std::span<const std::int64_t> users, std::span<const std::int64_t> keys,
                        std::int64_t per_pair, std::int64_t candidates, std::uint64_t seed,
                        std::uint64_t stream, std::span<std::int64_t> out);

  /// @brief Mean BPR loss of the triples on F; writes d(loss + L2 term)/dE0 into the
  /// parameter's grad (overwriting it). Returns the BPR part (what an epoch log reports);
  /// *l2_term gets the L2 part when given.
  /// @throws InvalidArgument (lengths differ or are 0), OutOfRange (an id out of range)
  double loss_and_grad(const Context& ctx, std::span<const std::int64_t> users,
                       std::span<const std::int64_t> pos_items,
                       std::span<const std::int64_t> neg_items, double* l2_term = nullptr);

  /// @brief F split into user rows [num_users, dim] and item rows [num_items, dim] (runs
  /// forward).
  void embeddings(std::vector<float>& user, std::vector<float>& item);

 private:
  std::int64_t users_, items_, dim_;
  int threads_;
  LightGcnOptions options_;
  BipartiteNormAdjacency adj_;
  ParameterList params_;
  /// F from E0 into out (resized; E0 itself for 0 layers); cur_ and next_ are scratch.
  const float* propagate_into(std::vector<float>& out);
  const float* final_or_e0() const {
    return options_.layers == 0 ? params_[0]->value.data_as<float>() : final_.data();
  }

  std::vector<std::int64_t> user_indptr_;  ///< each user's training items, sorted (negatives)
  std::vector<std::int32_t> user_items_;
  std::vector<std::int64_t> draws_;        ///< sample_negatives' candidates
  std::vector<float> cur_, next_, grad_final_, pos_, neg_, gpos_, gneg_;
  std::vector<float> final_;  ///< F of the last loss_and_grad (what hard negatives score with)
  std::vector<float> view_;   ///< F of the last forward / embeddings
  bool stepped_ = false;      ///< final_ holds a loss_and_grad's F
};

}  // namespace gnnkit::nn
