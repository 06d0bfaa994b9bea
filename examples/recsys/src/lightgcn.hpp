#pragma once
/// @file
/// LightGCN (He et al., SIGIR 2020) and BPR matrix factorisation for gnnkit-recsys, trained
/// with the BPR loss as in the LightGCN reference code.
///
/// Model: ID embeddings E0 of the users and items (one [users + items, dim] table). LightGCN
/// propagates them over the user-item graph with the symmetric normalisation
/// Â = D^-1/2 A D^-1/2 (E_{k+1} = Â E_k, K layers) and uses the layer mean
/// (E_0 + ... + E_K) / (K + 1) as the final embedding; BPR-MF is the same with K = 0.
/// Score of (u, i) = <e_u, e_i>.
///
/// Training, per epoch: every training interaction (u, i) once, shuffled, each with one
/// negative item j drawn uniformly among the items u has not interacted with; mini-batches of
/// `batch` triples; loss = mean softplus(s_uj - s_ui) + reg / 2 * (|e0_u|² + |e0_i|² + |e0_j|²)
/// / batch (L2 on the batch's ego embeddings, LightGCN's weight decay); Adam.
/// Â is symmetric, so the backward pass of a propagation is another propagation (the same
/// no-atomics SpMM kernel, no transpose kept).
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/nn/parameter.hpp"
#include "src/interactions.hpp"
#include "src/ranking.hpp"

namespace gnnkit::recsys {

/// @brief Hyper-parameters of LightGCN / BPR-MF training.
struct LightGcnOptions {
  int layers = 3;               ///< propagation layers K (0 = BPR matrix factorisation)
  std::int64_t dim = 64;        ///< embedding width
  int epochs = 100;
  std::int64_t batch = 2048;    ///< BPR triples per Adam step
  double lr = 0.001;            ///< Adam learning rate
  double reg = 1e-4;            ///< L2 weight on the batch's ego embeddings
  double init_scale = 0.1;      ///< E0 ~ N(0, init_scale²) (LightGCN's normal init)
  int eval_every = 10;          ///< epochs between test evaluations (0 = only at the end)
  std::uint64_t seed = 1;
};

/// @brief One epoch's record.
struct EpochRecord {
  int epoch = 0;              ///< 1-based
  double loss = 0;            ///< mean BPR loss over the epoch's batches (without the L2 term)
  double seconds = 0;         ///< training time of the epoch (evaluation excluded)
  bool evaluated = false;
  double recall = 0, ndcg = 0;  ///< at 20, when evaluated
};

/// @brief The outcome of training.
struct LightGcnResult {
  Embeddings final;                  ///< final (propagated) embeddings after the last epoch
  std::vector<EpochRecord> history;
  double seconds_per_epoch = 0;      ///< median training time per epoch
};

/// @brief The symmetric-normalised bipartite adjacency Â of LightGCN over the nodes
/// [users..., items...] (user u is node u, item i is node num_users + i): CSR rows with
/// weights 1/sqrt(deg(a) deg(b)). Symmetric, so it is its own CSC.
struct NormalizedAdjacency {
  std::int64_t num_nodes = 0;
  std::vector<std::int64_t> indptr;
  std::vector<std::int32_t> indices;
  std::vector<float> weights;
  static NormalizedAdjacency build(const UserItems& train);
  /// out = Â x (x, out: [num_nodes, dim] row-major, distinct buffers).
  void propagate(const float* x, std::int64_t dim, float* out, int threads) const;
};

/// @brief The LightGCN / BPR-MF model: its embedding table, propagation and BPR gradient.
class LightGcnModel {
 public:
  /// @param train the interactions that form the graph (and give its sizes)
  LightGcnModel(const UserItems& train, const LightGcnOptions& options, int threads);

  std::int64_t num_users() const noexcept { return users_; }
  std::int64_t num_items() const noexcept { return items_; }
  std::int64_t dim() const noexcept { return dim_; }
  /// One parameter, "embedding" [users + items, dim]: E0 (users first).
  ParameterList& parameters() noexcept { return params_; }

  /// Final embeddings F = (E0 + Â E0 + ... + Â^K E0) / (K + 1), [users + items, dim]; the
  /// pointer stays valid until the next forward or loss_and_grad.
  const float* forward();

  /// Mean BPR loss of the triples (user, positive item, negative item) on F plus the L2 term
  /// reg / 2 * Σ (|e0_u|² + |e0_i|² + |e0_j|²) / B; writes d(loss)/dE0 into the parameter's
  /// grad (overwriting it). Returns the BPR part only (what the epoch log reports).
  double loss_and_grad(const Context& ctx, std::span<const std::int64_t> users,
                       std::span<const std::int64_t> pos, std::span<const std::int64_t> neg,
                       double* l2_term = nullptr);

  /// F split into user and item rows (runs forward).
  Embeddings embeddings();

 private:
  std::int64_t users_, items_, dim_;
  int layers_, threads_;
  double reg_;
  NormalizedAdjacency adj_;
  ParameterList params_;
  std::vector<float> cur_, next_, final_, grad_final_, pos_, neg_, gpos_, gneg_;
};

/// @brief Trains LightGCN (options.layers > 0) or BPR-MF (0) on data.train.
/// @param on_epoch called after each epoch (with the test metrics every eval_every epochs)
/// @throws InvalidArgument for bad options (naming the field and value)
LightGcnResult train_lightgcn(const Context& ctx, const RecData& data, const LightGcnOptions& options,
                              const std::function<void(const EpochRecord&)>& on_epoch = {});

}  // namespace gnnkit::recsys
