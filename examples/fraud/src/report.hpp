#pragma once
/// @file
/// The evaluation report of gnnkit-fraud: the test-set metrics of several models (the GNN and
/// its baselines) as JSON, SVG charts (ROC, precision-recall, training curves, score
/// histograms by class) and a human-readable report.md + a self-contained report.html that
/// shows them with a short "how to read" note under each plot.
///
/// Metrics come from gnnkit's train/metrics.hpp (scikit-learn-equal definitions): ROC-AUC,
/// PR-AUC (average precision), recall at a 1% false-positive rate and precision in the top
/// 0.5% of scores. Every file is written atomically (temporary file, then rename).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "app/json.hpp"

namespace gnnkit::fraud {

/// @brief One model's test predictions.
struct ModelScores {
  std::string name;                  ///< shown in tables and legends; non-empty
  std::vector<float> scores;         ///< P(positive) (or any score, higher = more suspicious)
  std::vector<std::int64_t> labels;  ///< 0/1, one per score, both classes present
};

/// @brief Per-epoch curves of the trained model (entry e = epoch e + 1); empty = no training
/// plot. NaN entries are drawn as gaps and written as null.
struct TrainingHistory {
  std::vector<double> train_loss;
  std::vector<double> val_loss;
  std::vector<double> val_pr_auc;
  int best_epoch = -1;  ///< 0-based epoch of the kept model (marked in the plot); -1 = none
};

/// @brief Operating points used in the report.
inline constexpr double kReportMaxFpr = 0.01;        ///< recall at 1% false-positive rate
inline constexpr double kReportTopFraction = 0.005;  ///< precision in the top 0.5%

/// @brief The metrics of one model, as written to metrics.json.
struct ModelMetrics {
  std::string name;
  double roc_auc = 0;
  double pr_auc = 0;                   ///< average precision
  double recall_at_1pct_fpr = 0;       ///< recall_at_fpr(kReportMaxFpr)
  double precision_at_top_0_5pct = 0;  ///< precision_at_top_fraction(kReportTopFraction)
  std::int64_t count = 0, positives = 0, negatives = 0;
};

/// @brief Everything write_report shows.
struct ReportInput {
  std::string title = "Fraud detection: evaluation";
  std::string dataset;              ///< what the data is (one paragraph, plain text)
  std::string split_note;           ///< how train/validation/test were split (plain text)
  std::vector<ModelScores> models;  ///< test predictions, first = the main model
  TrainingHistory history;
  std::vector<std::pair<std::string, std::string>> extra;  ///< timings, config, versions
  /// Optional breakdown of the positives (e.g. fraud patterns): group_names[g] names group g,
  /// and positive_groups holds one entry per test case, in the models' (shared) order: the
  /// group of a positive, -1 for a negative. Empty: no breakdown.
  std::vector<std::string> group_names;
  std::vector<int> positive_groups;
  std::string negative_name = "legitimate";                ///< label 0 in legends
  std::string positive_name = "fraud";                     ///< label 1 in legends
};

/// @brief What write_report wrote.
struct ReportOutput {
  std::vector<ModelMetrics> metrics;  ///< per model, input order
  /// [model][group]: recall at 1% FPR of the positives of each group (threshold from all
  /// negatives); empty without a breakdown.
  std::vector<std::vector<double>> group_recall;
  std::vector<std::string> files;     ///< paths written, report.html last
};

/// @brief The report metrics of one model.
/// @throws gnnkit::InvalidArgument / ShapeMismatch naming the model (empty, NaN score,
///         label not 0/1, one class only, sizes differ)
ModelMetrics compute_metrics(const ModelScores& model);

/// @brief Writes metrics.json, roc.svg, pr.svg, training.svg (when there is a history),
/// hist_<model>.svg per model, report.md and report.html into out_dir (created if missing).
/// File names of models keep [a-z0-9_-] of the lower-cased name, made unique.
/// @throws gnnkit::InvalidArgument / ShapeMismatch for bad input (no model, empty name, bad
///         scores or labels, naming the model); gnnkit::IoError naming the path when the folder
///         cannot be created or a file cannot be written
ReportOutput write_report(const std::string& out_dir, const ReportInput& input);

/// @brief write_report with the parts as arguments.
inline ReportOutput write_report(const std::string& out_dir, const std::string& title,
                                 const std::string& dataset, const std::string& split_note,
                                 const std::vector<ModelScores>& models,
                                 const TrainingHistory& history,
                                 const std::vector<std::pair<std::string, std::string>>& extra) {
  ReportInput in;
  in.title = title;
  in.dataset = dataset;
  in.split_note = split_note;
  in.models = models;
  in.history = history;
  in.extra = extra;
  return write_report(out_dir, in);
}

using app::json_number;  // the shared shortest round-trip number writer

}  // namespace gnnkit::fraud
