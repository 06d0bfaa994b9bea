#pragma once
/// @file
/// What a training run of gnnkit-recsys records (LightGCN, BPR-MF and the SAGE two-tower):
/// per-epoch loss, time and test metrics, and the final embeddings.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "src/interactions.hpp"
#include "src/ranking.hpp"

namespace gnnkit::recsys {

/// @brief One epoch's record.
struct EpochRecord {
  int epoch = 0;              ///< 1-based
  double loss = 0;            ///< mean BPR loss over the epoch's batches (without the L2 term)
  double seconds = 0;         ///< training time of the epoch (evaluation excluded)
  bool evaluated = false;
  double recall = 0, ndcg = 0;  ///< at 20, when evaluated
};

/// @brief The outcome of training.
struct TrainResult {
  Embeddings final;                  ///< final (propagated) embeddings after the last epoch
  std::vector<EpochRecord> history;
  double seconds_per_epoch = 0;      ///< median training time per epoch
};

/// @brief The epoch loop both trainers share. Every epoch visits each training interaction
/// once, in an order shuffled by (seed, epoch): `step(pairs, epoch, batch_index)` gets a
/// batch's interaction indices (into data.train.items; pair_user() gives their users) and
/// returns its loss. After every `eval_every`-th epoch and the last, `embed(out)` writes the
/// current final embeddings, which are scored on data.test (full ranking, Recall@20 /
/// NDCG@20); on_epoch sees each epoch's record.
struct EpochLoop {
  const RecData& data;
  int epochs = 1;
  std::int64_t batch = 1;
  int eval_every = 0;
  std::uint64_t seed = 1;

  TrainResult run(const Context& ctx,
                  const std::function<double(std::span<const std::int64_t>, int, std::int64_t)>& step,
                  const std::function<void(Embeddings&)>& embed,
                  const std::function<void(const EpochRecord&)>& on_epoch) const;
};

/// @brief Checks the loop's options (epochs >= 1, batch >= 1, lr > 0, eval_every >= 0).
/// @throws InvalidArgument naming fn, the field and its value
void validate_loop(const char* fn, int epochs, std::int64_t batch, double lr, int eval_every);

/// @brief The user of every training interaction ([num_interactions]: data.train's CSR rows).
std::vector<std::int64_t> pair_users(const UserItems& train);

}  // namespace gnnkit::recsys
