#pragma once
/// @file
/// Non-graph-learning baselines of gnnkit-fraud: gradient-boosted trees (XGBoost, through its
/// C API) on two tabular views of the target nodes.
///
///   own_features                  the target node's own feature row ("what a tabular model
///                                 sees"), the weakest sensible baseline;
///   neighbour_aggregated_features own features + per relation the mean and count of 1-hop and
///                                 2-hop neighbours' features (GADBench's "neighbour
///                                 aggregation" baseline), optionally restricted to edges no
///                                 later than the target node's time, so that nothing leaks
///                                 from the future.
///
/// A GNN that does not beat the second one has not learned anything a feature engineer could
/// not write down in an afternoon.

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <gnnkit/io/graph_file.hpp>

namespace gnnkit::fraud {

/// @brief A dense, row-major float32 matrix with optional column names (a tabular data set).
struct DenseMatrix {
  std::vector<float> values;  ///< rows * cols entries, row-major
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::string> column_names;  ///< empty, or one name per column

  const float* row(std::int64_t r) const { return values.data() + r * cols; }
  float* row(std::int64_t r) { return values.data() + r * cols; }
};

// ---- feature builders -------------------------------------------------------------------

/// @brief The own feature rows (node features "x") of target nodes `ids`.
/// Columns are named "self.x<j>".
/// @param file graph and features; `target` must have node features "x"
/// @param target node type of the examples (e.g. "transaction")
/// @param ids node ids of `target`, any order, repeats allowed; row i is ids[i]
/// @param threads worker threads (<= 0: all cores)
/// @throws InvalidArgument (unknown type, no "x"), OutOfRange (an id outside the type)
DenseMatrix own_features(const GraphFile& file, const std::string& target,
                         std::span<const std::int64_t> ids, int threads = 0);

/// @brief Own features plus neighbour aggregates of target nodes `ids`.
///
/// Columns, in this order (F_T = width of the target's "x", relations in schema order):
///  - "self.x<j>": the own features (F_T columns);
///  - per relation r1 = (A -> target): "1hop.<r1>.mean.x<j>" (mean of the source nodes'
///    "x", width F_A, 0 when there is none) and "1hop.<r1>.count";
///  - per such r1 and per relation r2 = (B -> A) (every relation whose destination is r1's
///    source type): "2hop.<r1>.<r2>.mean.x<j>" and "2hop.<r1>.<r2>.count", the mean and the
///    number of 2-hop walks w -(r2)-> a -(r1)-> v. Walks are counted with multiplicity and
///    may come back to v itself (v -> its user -> v), exactly like two rounds of mean
///    message passing without normalisation in between.
/// A node type without features "x" contributes counts only.
///
/// Temporal (no leakage): when `temporal` is true and the target type has node times, an
/// edge counts only if the relation has no timestamps or its timestamp is <= the target
/// node's time — for both hops, i.e. the second hop uses edges no later than the *target's*
/// time too. Without node times on the target every edge counts.
///
/// Cost: O(E * F) to build per-list prefix sums of the second hop's features over
/// time-ordered neighbour lists (by column blocks, bounded memory), then per target
/// O(sum over eligible 1-hop neighbours of (log degree + F)): a binary search finds the
/// eligible prefix of each neighbour's list and one prefix row gives its sum. Parallel
/// (OpenMP) over relations' lists and over targets; the result does not depend on the
/// thread count.
/// @param file graph and features
/// @param target node type of the examples
/// @param ids node ids of `target`, any order; row i is ids[i]
/// @param temporal only count edges no later than the target node's time
/// @param threads worker threads (<= 0: all cores)
/// @throws InvalidArgument (unknown type, no "x" on the target, bad feature shapes),
///         OutOfRange (an id outside the type)
DenseMatrix neighbour_aggregated_features(const GraphFile& file, const std::string& target,
                                          std::span<const std::int64_t> ids, bool temporal,
                                          int threads = 0);

/// @brief The labels (int64) of target nodes `ids`.
/// @throws InvalidArgument (no labels for the type), OutOfRange (an id outside the type)
std::vector<std::int64_t> gather_labels(const GraphFile& file, const std::string& target,
                                        std::span<const std::int64_t> ids);

// ---- XGBoost ------------------------------------------------------------------------------

/// @brief Hyper-parameters of the XGBoost baseline (binary:logistic, hist trees).
struct XgbConfig {
  int rounds = 300;                ///< maximum boosting rounds (>= 1)
  int max_depth = 6;               ///< tree depth (>= 1)
  double eta = 0.1;                ///< learning rate, in (0, 1]
  double subsample = 0.8;          ///< row sampling per tree, in (0, 1]
  double colsample = 0.8;          ///< column sampling per tree, in (0, 1]
  int early_stopping_rounds = 30;  ///< stop after this many rounds without a better
                                   ///< validation PR-AUC (<= 0: never stop early)
  double scale_pos_weight = 0;     ///< weight of positives; 0 = negatives / positives of train
  int threads = 0;                 ///< <= 0: all cores
  std::uint64_t seed = 1;          ///< XGBoost's seed (row and column sampling)
  /// Further XGBoost parameters passed as they are (e.g. {"min_child_weight", "5"},
  /// {"max_bin", "512"}); set after the ones above, so they may override them.
  std::vector<std::pair<std::string, std::string>> extra_params;
};

/// @brief What train_and_predict returns.
struct XgbResult {
  std::vector<float> val_scores;        ///< P(y = 1) per validation row, from the best model
  std::vector<float> test_scores;       ///< P(y = 1) per test row, from the best model
  int best_iteration = -1;              ///< 0-based round with the best validation PR-AUC
  int rounds_trained = 0;               ///< rounds run before stopping
  double best_val_pr_auc = 0;           ///< validation average precision of the best model
  std::vector<double> val_pr_auc;       ///< validation average precision after each round
  std::vector<double> gain_importance;  ///< per column: average gain of its splits (0 = unused)
  double scale_pos_weight = 1;          ///< the weight used
  double seconds = 0;                   ///< wall time of training and prediction
};

/// @brief Trains XGBoost on (train_x, train_y) with early stopping on the validation average
/// precision (PR-AUC, gnnkit::average_precision, the metric the GNN stops on), then predicts
/// validation and test probabilities with the best round's model.
///
/// Missing values may be given as NaN (XGBoost routes them down a learned default branch).
/// @param train_x, val_x, test_x feature matrices with the same number of columns
/// @param train_y, val_y labels 0/1, one per row; both classes in train, a positive in val
/// @throws InvalidArgument / ShapeMismatch naming the bad argument (sizes, labels, infinite
///         values, config); BackendError with XGBoost's own message (XGBGetLastError) when
///         any XGBoost call fails
XgbResult train_and_predict(const DenseMatrix& train_x, std::span<const std::int64_t> train_y,
                            const DenseMatrix& val_x, std::span<const std::int64_t> val_y,
                            const DenseMatrix& test_x, const XgbConfig& config = {});

/// @brief "xgboost 1.7.4" (the library linked at run time).
std::string xgboost_version();

}  // namespace gnnkit::fraud
