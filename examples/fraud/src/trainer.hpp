#pragma once
// Training and batch scoring of the fraud model: a heterogeneous GraphSAGE or GAT over
// temporally sampled neighbourhoods (every example sees only edges no later than itself),
// binary cross-entropy with a positive-class weight, early stopping on validation PR-AUC and
// a checkpoint of the best model. Works on any gnnkit graph file whose target node type has
// labels (0/1, -1 unlabelled) and float32 features "x" for every node type; with node times on
// the target type the split is by time (train on the earliest window, validate on the next,
// test on the latest), else a seeded stratified split.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/nn/model.hpp"
#include "gnnkit/sampling/neighbor.hpp"
#include "gnnkit/sampling/seed_identity.hpp"

#include "app/progress.hpp"

namespace gnnkit::fraud {

struct TrainConfig {
  std::string target = "transaction";
  std::string conv = "sage";  ///< "sage" or "gat"
  /// SAGE neighbour aggregation: "max" (default: one suspicious earlier payment on a card
  /// stands out instead of being averaged away), "mean" or "sum".
  std::string aggr = "max";
  int layers = 3;  ///< 3: a ring shows three hops from a payment (card -> its tester)
  std::int64_t hidden = 64;
  int heads = 4;                               ///< GAT
  std::vector<std::int64_t> fanouts{10, 10, 5};  ///< per hop, every relation
  std::int64_t batch_size = 1024;
  int epochs = 20;
  int patience = 4;  ///< epochs without a better validation PR-AUC before stopping
  double lr = 3e-3;
  double weight_decay = 0.0;
  double dropout = 0.2;
  double pos_weight = 0.0;  ///< 0: sqrt(negatives / positives) of the training set
  bool temporal = true;     ///< temporal sampling when the target has node times
  /// Which earlier edges a temporal hop keeps: "recent" (the fan-out most recent ones: what
  /// happened just before a payment matters most) or "uniform" (a uniform sample of them).
  std::string temporal_strategy = "recent";
  /// Seed-identity input columns (gnnkit/sampling/seed_identity.hpp) when sampling is
  /// temporal and disjoint: whether an earlier payment on the card was made by the paying user
  /// or by another account, and the like. Recorded in the checkpoint.
  bool seed_identity = true;
  double train_fraction = 0.6, val_fraction = 0.2;
  int threads = 0;
  std::uint64_t seed = 1;
  std::string checkpoint;  ///< where the best model goes ("" for none)
  bool progress = true;    ///< a progress line on stderr when it is a terminal
};

/// Node ids of the target type in each part, and how the split was made.
struct Split {
  std::vector<std::int64_t> train, val, test;
  std::string note;
};

struct EpochStats {
  int epoch = 0;
  double train_loss = 0, val_loss = 0, val_pr_auc = 0, val_roc_auc = 0, seconds = 0;
};

/// Scores (probabilities) and labels of one part.
struct Scored {
  std::vector<std::int64_t> ids;
  std::vector<float> scores;
  std::vector<std::int64_t> labels;
};

struct TrainResult {
  std::vector<EpochStats> history;
  int best_epoch = -1;
  Split split;
  Scored val, test;
  double pos_weight = 1;
  double seconds_per_epoch = 0;  ///< median over epochs, training only (no validation)
};

/// The split of config's target node type (labelled nodes only).
/// @throws InvalidArgument naming what is missing (labels, classes)
Split make_split(const GraphFile& file, const TrainConfig& config);

/// A trained (or loaded) fraud model with the sampler and feature gathering around it.
class FraudModel {
 public:
  /// Builds the model for file's schema and feature widths.
  FraudModel(const GraphFile& file, const TrainConfig& config);
  ~FraudModel();
  FraudModel(FraudModel&&) noexcept;

  nn::GnnModel& model();
  const TrainConfig& config() const;
  /// The seed-identity columns in use (empty when off or when the graph has none).
  const SeedIdentity& seed_identity() const;
  /// Scores (sigmoid of the logit) of target nodes, sampled with their own times.
  std::vector<float> predict(const std::vector<std::int64_t>& ids, std::uint64_t batch_key = 0) const;
  /// Logits of one mini-batch of target nodes; with training set, the caches for backward.
  Tensor forward_batch(const std::vector<std::int64_t>& ids, bool training, std::uint64_t key);
  /// Backward of the last training forward_batch for d(loss)/d(logits).
  void backward_batch(const Tensor& grad_logits);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

/// Trains with early stopping; on return the model holds the best epoch's parameters (also
/// written to config.checkpoint when set).
/// @param log one line per epoch (may be empty)
TrainResult train(FraudModel& model, const GraphFile& file, const TrainConfig& config,
                  const std::function<void(const std::string&)>& log = {});

using app::ProgressLine;

}  // namespace gnnkit::fraud
