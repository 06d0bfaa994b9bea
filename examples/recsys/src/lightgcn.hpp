#pragma once
/// @file
/// Training LightGCN and BPR matrix factorisation (the library's gnnkit::nn::LightGcn, see
/// gnnkit/nn/lightgcn.hpp for the model and loss) for gnnkit-recsys, as the LightGCN reference
/// code does.
///
/// Training, per epoch: every training interaction (u, i) once, shuffled, each with
/// `negatives` negative items j, each the best-scoring under the current model of
/// `hard_negatives` uniform draws among the items u has not interacted with (dynamic negative
/// sampling; 1 = uniform); mini-batches of `batch` interactions; loss = mean softplus(s_uj -
/// s_ui) + reg / 2 * (|e0_u|² + |e0_i|² + |e0_j|²) / triples (L2 on the batch's ego
/// embeddings, LightGCN's weight decay); Adam.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/nn/lightgcn.hpp"
#include "src/interactions.hpp"
#include "src/ranking.hpp"
#include "src/training.hpp"

namespace gnnkit::recsys {

/// @brief Hyper-parameters of LightGCN / BPR-MF training: the model's (layers, dim, reg,
/// init_scale, seed: gnnkit::nn::LightGcnOptions) and the loop's.
struct LightGcnOptions {
  int layers = 3;               ///< propagation layers K (0 = BPR matrix factorisation)
  std::int64_t dim = 64;        ///< embedding width
  int epochs = 100;
  std::int64_t batch = 2048;    ///< BPR triples per Adam step
  std::int64_t negatives = 1;   ///< negatives per positive: k triples (u, i, j_1..k), BPR
                                ///< averaged over them (batch counts positives)
  std::int64_t hard_negatives = 1;  ///< dynamic negative sampling (Zhang et al., SIGIR 2013):
                                ///< each negative is the best-scoring of this many uniform
                                ///< unseen draws under the current model (1 = uniform)
  double lr = 0.001;            ///< Adam learning rate
  bool cosine_lr = false;       ///< decay lr over the epochs as lr * (1 + cos(pi * t / E)) / 2,
                                ///< t = epochs done (the last epoch runs at lr (1 - cos(pi / E)) / 2)
  double reg = 1e-4;            ///< L2 weight on the batch's ego embeddings
  double init_scale = 0.1;      ///< E0 ~ N(0, init_scale²) (LightGCN's normal init)
  int eval_every = 10;          ///< epochs between test evaluations (0 = only at the end)
  std::uint64_t seed = 1;

  nn::LightGcnOptions model() const { return {layers, dim, reg, init_scale, seed}; }
};

/// @brief Checks the model's and the loop's options.
/// @throws InvalidArgument naming the bad field and its value
void validate(const LightGcnOptions& options);

/// @brief The learning rate of epoch `epoch` (1-based): options.lr, or with cosine_lr
/// lr * (1 + cos(pi * (epoch - 1) / epochs)) / 2.
double epoch_learning_rate(const LightGcnOptions& options, int epoch);

/// @brief Trains LightGCN (options.layers > 0) or BPR-MF (0) on data.train.
/// @param on_epoch called after each epoch (with the test metrics every eval_every epochs)
/// @throws InvalidArgument for bad options (naming the field and value)
TrainResult train_lightgcn(const Context& ctx, const RecData& data, const LightGcnOptions& options,
                              const std::function<void(const EpochRecord&)>& on_epoch = {});

}  // namespace gnnkit::recsys
