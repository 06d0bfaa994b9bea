#pragma once
/// @file
/// Evaluation metrics: classification (accuracy, F1), threshold-free ranking of scores (ROC
/// AUC, average precision, their curves, recall at a false-positive budget, precision in the
/// top fraction: the fraud-detection views) and top-k recommendation (Recall@k, NDCG@k).
///
/// Pure functions of spans, results in double. Binary labels are int64 0/1. Score metrics
/// sort once (O(N log N)) and treat tied scores as one threshold, exactly like scikit-learn:
/// ties are never split by input order, so results do not depend on how ties happen to be
/// ordered. Every function validates its input: empty input, NaN scores, labels other than
/// 0/1 and a single class where a metric is undefined throw InvalidArgument naming the
/// function and the argument.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <span>
#include <vector>

#include "gnnkit/core/error.hpp"

namespace gnnkit {

/// @brief Points of a ROC curve, in scikit-learn's order (`roc_curve(drop_intermediate=False)`):
/// first (0, 0) at threshold +inf, then one point per distinct score, decreasing.
struct RocCurve {
  std::vector<double> fpr;         ///< false-positive rate at each threshold
  std::vector<double> tpr;         ///< true-positive rate (recall) at each threshold
  std::vector<double> thresholds;  ///< score >= threshold is predicted positive
};

/// @brief Points of a precision-recall curve, in scikit-learn's order
/// (`precision_recall_curve`): one point per distinct score, increasing threshold, then the
/// final point precision 1, recall 0 that has no threshold (thresholds has one entry fewer).
struct PrCurve {
  std::vector<double> precision;
  std::vector<double> recall;
  std::vector<double> thresholds;
};

namespace metrics_detail {

/// Counts of one group of tied scores, in decreasing score order.
struct TieGroup {
  double score;
  double positives;
  double negatives;
};

/// Validates scores and 0/1 labels and returns the tie groups in decreasing score order.
template <typename S>
std::vector<TieGroup> tie_groups(const char* fn, std::span<const S> scores,
                                 std::span<const std::int64_t> labels, double* total_pos,
                                 double* total_neg) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, !scores.empty(),
                    "'scores' must not be empty, got 0 "
                    "entries");
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, labels.size() == scores.size(),
                    "'labels' must have {} entries (one per score), got {}", scores.size(),
                    labels.size());
  std::vector<std::size_t> order(scores.size());
  double pos = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, !std::isnan(scores[i]),
                      "'scores[{}]' must not be NaN, got {}", i, scores[i]);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, labels[i] == 0 || labels[i] == 1,
                      "'labels[{}]' must be 0 or 1, got {}", i, labels[i]);
    pos += double(labels[i]);
    order[i] = i;
  }
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::vector<TieGroup> groups;
  for (std::size_t i : order) {
    const double s = double(scores[i]);
    if (groups.empty() || groups.back().score != s) groups.push_back({s, 0, 0});
    (labels[i] ? groups.back().positives : groups.back().negatives) += 1;
  }
  *total_pos = pos;
  *total_neg = double(scores.size()) - pos;
  return groups;
}

/// Throws unless both classes occur (metrics built on rates of each class).
inline void require_both(const char* fn, double pos, double neg) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, pos > 0 && neg > 0,
                    "'labels' must contain both classes (0 and 1) for this metric to be defined, "
                    "got {} positives and {} negatives",
                    pos, neg);
}

template <typename S>
double roc_auc(std::span<const S> scores, std::span<const std::int64_t> labels) {
  double pos, neg;
  const auto groups = tie_groups("roc_auc", scores, labels, &pos, &neg);
  require_both("roc_auc", pos, neg);
  // Mann-Whitney U with ties counting one half: the trapezoidal area under the ROC curve
  // through the tie groups, which is exactly what scikit-learn integrates. Counts are
  // integers in doubles, exact up to 2^53.
  double above = 0, u = 0;
  for (const auto& g : groups) {
    u += g.negatives * (above + 0.5 * g.positives);
    above += g.positives;
  }
  return u / (pos * neg);
}

template <typename S>
double average_precision(std::span<const S> scores, std::span<const std::int64_t> labels) {
  double pos, neg;
  const auto groups = tie_groups("average_precision", scores, labels, &pos, &neg);
  GNNKIT_EXPECTS_AS(InvalidArgument, "average_precision", pos > 0,
                    "'labels' must contain at least one positive (1) for average precision to "
                    "be defined, got {} negatives only",
                    neg);
  // AP = Σ_n (R_n - R_{n-1}) P_n over thresholds at each distinct score (no interpolation).
  double tp = 0, fp = 0, ap = 0;
  for (const auto& g : groups) {
    tp += g.positives;
    fp += g.negatives;
    ap += (g.positives / pos) * (tp / (tp + fp));
  }
  return ap;
}

}  // namespace metrics_detail

// ---- classification ---------------------------------------------------------------------

/// @brief Fraction of predictions equal to their label.
/// @param predictions predicted class per sample
/// @param labels true class per sample (same length)
/// @returns accuracy in [0, 1]
/// @throws InvalidArgument (empty), ShapeMismatch (lengths differ)
inline double accuracy(std::span<const std::int64_t> predictions,
                       std::span<const std::int64_t> labels) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "accuracy", !labels.empty(),
                    "'labels' must not be empty, got 0 entries");
  GNNKIT_EXPECTS_AS(ShapeMismatch, "accuracy", predictions.size() == labels.size(),
                    "'predictions' must have {} entries (one per label), got {}", labels.size(),
                    predictions.size());
  std::size_t hits = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) hits += predictions[i] == labels[i];
  return double(hits) / double(labels.size());
}

namespace metrics_detail {
template <typename S>
double accuracy_from_logits(std::span<const S> logits, std::int64_t num_classes,
                            std::span<const std::int64_t> labels) {
  constexpr const char* fn = "accuracy";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, num_classes >= 1, "'num_classes' must be >= 1, got {}",
                    num_classes);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, !labels.empty(),
                    "'labels' must not be empty, got 0 entries");
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, logits.size() == labels.size() * std::size_t(num_classes),
                    "'logits' must have {} x {} = {} entries (labels x num_classes), got {}",
                    labels.size(), num_classes, labels.size() * std::size_t(num_classes),
                    logits.size());
  std::size_t hits = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    GNNKIT_EXPECTS_AS(OutOfRange, fn, labels[i] >= 0 && labels[i] < num_classes,
                      "'labels[{}]' must be in [0, {}), got {}", i, num_classes, labels[i]);
    const S* row = logits.data() + i * std::size_t(num_classes);
    std::int64_t best = 0;  // first maximum, like numpy.argmax
    for (std::int64_t j = 0; j < num_classes; ++j) {
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, !std::isnan(row[j]),
                        "'logits[{}, {}]' must not be NaN, got {}", i, j, row[j]);
      if (row[j] > row[best]) best = j;
    }
    hits += best == labels[i];
  }
  return double(hits) / double(labels.size());
}
}  // namespace metrics_detail

/// @brief Accuracy of argmax(logits) over each row of an [N, C] row-major matrix (ties: the
/// first maximal class, like numpy.argmax).
/// @param logits N * num_classes scores, row-major
/// @param num_classes C >= 1
/// @param labels N true classes in [0, C)
/// @returns accuracy in [0, 1]
/// @throws InvalidArgument (empty, NaN, num_classes < 1), ShapeMismatch (sizes),
///         OutOfRange (a label outside [0, C))
inline double accuracy(std::span<const float> logits, std::int64_t num_classes,
                       std::span<const std::int64_t> labels) {
  return metrics_detail::accuracy_from_logits(logits, num_classes, labels);
}
/// @brief accuracy() for float64 logits.
inline double accuracy(std::span<const double> logits, std::int64_t num_classes,
                       std::span<const std::int64_t> labels) {
  return metrics_detail::accuracy_from_logits(logits, num_classes, labels);
}

/// @brief Binary F1 of the positive class 1: 2 TP / (2 TP + FP + FN); 0 when there are no
/// positives among labels and predictions (scikit-learn's `f1_score` with zero_division=0).
/// @param predictions predicted 0/1 per sample
/// @param labels true 0/1 per sample
/// @throws InvalidArgument (empty, values other than 0/1), ShapeMismatch (lengths differ)
inline double f1_score(std::span<const std::int64_t> predictions,
                       std::span<const std::int64_t> labels) {
  constexpr const char* fn = "f1_score";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, !labels.empty(),
                    "'labels' must not be empty, got 0 entries");
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, predictions.size() == labels.size(),
                    "'predictions' must have {} entries (one per label), got {}", labels.size(),
                    predictions.size());
  double tp = 0, fp = 0, fn_count = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, labels[i] == 0 || labels[i] == 1,
                      "'labels[{}]' must be 0 or 1, got {}", i, labels[i]);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, predictions[i] == 0 || predictions[i] == 1,
                      "'predictions[{}]' must be 0 or 1, got {}", i, predictions[i]);
    tp += predictions[i] && labels[i];
    fp += predictions[i] && !labels[i];
    fn_count += !predictions[i] && labels[i];
  }
  const double denom = 2 * tp + fp + fn_count;
  return denom == 0 ? 0.0 : 2 * tp / denom;
}

/// @brief Macro-averaged F1 for multi-class predictions: the unweighted mean of the per-class
/// F1 over the classes that occur in labels or predictions (scikit-learn's
/// `f1_score(average="macro")`, zero_division=0).
/// @param predictions predicted class per sample (any int64 ids)
/// @param labels true class per sample
/// @throws InvalidArgument (empty), ShapeMismatch (lengths differ)
inline double macro_f1_score(std::span<const std::int64_t> predictions,
                             std::span<const std::int64_t> labels) {
  constexpr const char* fn = "macro_f1_score";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, !labels.empty(),
                    "'labels' must not be empty, got 0 entries");
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, predictions.size() == labels.size(),
                    "'predictions' must have {} entries (one per label), got {}", labels.size(),
                    predictions.size());
  struct Counts {
    double tp = 0, fp = 0, fn = 0;
  };
  std::map<std::int64_t, Counts> classes;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (predictions[i] == labels[i]) {
      classes[labels[i]].tp += 1;
    } else {
      classes[predictions[i]].fp += 1;
      classes[labels[i]].fn += 1;
    }
  }
  double sum = 0;
  for (const auto& [cls, c] : classes) {
    const double denom = 2 * c.tp + c.fp + c.fn;
    sum += denom == 0 ? 0.0 : 2 * c.tp / denom;
  }
  return sum / double(classes.size());
}

// ---- score ranking (binary) ---------------------------------------------------------------

/// @brief Area under the ROC curve: the probability that a random positive scores above a
/// random negative, ties counting one half. Equal to scikit-learn's `roc_auc_score`.
/// @param scores N finite-or-infinite scores (higher = more likely positive), no NaN
/// @param labels N labels 0/1
/// @returns AUC in [0, 1]
/// @throws InvalidArgument (empty, NaN score, label not 0/1, only one class present),
///         ShapeMismatch (lengths differ)
inline double roc_auc(std::span<const float> scores, std::span<const std::int64_t> labels) {
  return metrics_detail::roc_auc(scores, labels);
}
/// @brief roc_auc() for float64 scores.
inline double roc_auc(std::span<const double> scores, std::span<const std::int64_t> labels) {
  return metrics_detail::roc_auc(scores, labels);
}

/// @brief Average precision, Σ_n (R_n - R_{n-1}) P_n over the distinct scores as thresholds
/// (step-wise, no interpolation); equal to scikit-learn's `average_precision_score`.
/// @param scores N scores, no NaN
/// @param labels N labels 0/1, at least one 1
/// @returns AP in [0, 1]
/// @throws InvalidArgument (empty, NaN, label not 0/1, no positive), ShapeMismatch
inline double average_precision(std::span<const float> scores,
                                std::span<const std::int64_t> labels) {
  return metrics_detail::average_precision(scores, labels);
}
/// @brief average_precision() for float64 scores.
inline double average_precision(std::span<const double> scores,
                                std::span<const std::int64_t> labels) {
  return metrics_detail::average_precision(scores, labels);
}

namespace metrics_detail {
template <typename S>
RocCurve roc_curve(std::span<const S> scores, std::span<const std::int64_t> labels) {
  double pos, neg;
  const auto groups = tie_groups("roc_curve", scores, labels, &pos, &neg);
  require_both("roc_curve", pos, neg);
  RocCurve c;
  c.fpr.push_back(0);
  c.tpr.push_back(0);
  c.thresholds.push_back(std::numeric_limits<double>::infinity());
  double tp = 0, fp = 0;
  for (const auto& g : groups) {
    tp += g.positives;
    fp += g.negatives;
    c.fpr.push_back(fp / neg);
    c.tpr.push_back(tp / pos);
    c.thresholds.push_back(g.score);
  }
  return c;
}

template <typename S>
PrCurve pr_curve(std::span<const S> scores, std::span<const std::int64_t> labels) {
  double pos, neg;
  const auto groups = tie_groups("pr_curve", scores, labels, &pos, &neg);
  GNNKIT_EXPECTS_AS(InvalidArgument, "pr_curve", pos > 0,
                    "'labels' must contain at least one positive (1) for recall to be defined, "
                    "got {} negatives only",
                    neg);
  PrCurve c;
  double tp = 0, fp = 0;
  for (const auto& g : groups) {
    tp += g.positives;
    fp += g.negatives;
    c.precision.push_back(tp / (tp + fp));
    c.recall.push_back(tp / pos);
    c.thresholds.push_back(g.score);
  }
  std::reverse(c.precision.begin(), c.precision.end());
  std::reverse(c.recall.begin(), c.recall.end());
  std::reverse(c.thresholds.begin(), c.thresholds.end());
  c.precision.push_back(1);
  c.recall.push_back(0);
  return c;
}

template <typename S>
double recall_at_fpr(std::span<const S> scores, std::span<const std::int64_t> labels,
                     double max_fpr) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "recall_at_fpr", max_fpr >= 0 && max_fpr <= 1,
                    "'max_fpr' must be in [0, 1], got {}", max_fpr);
  double pos, neg;
  const auto groups = tie_groups("recall_at_fpr", scores, labels, &pos, &neg);
  require_both("recall_at_fpr", pos, neg);
  // Thresholds sit between tie groups only: a threshold inside a group would need to split
  // equal scores, which no real decision rule can do.
  double tp = 0, fp = 0, best = 0;
  for (const auto& g : groups) {
    tp += g.positives;
    fp += g.negatives;
    if (fp / neg > max_fpr) break;  // FPR only grows from here
    best = tp / pos;
  }
  return best;
}

template <typename S>
double precision_at_top_fraction(std::span<const S> scores, std::span<const std::int64_t> labels,
                                 double fraction) {
  constexpr const char* fn = "precision_at_top_fraction";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, fraction > 0 && fraction <= 1,
                    "'fraction' must be in (0, 1], got {}", fraction);
  double pos, neg;
  const auto groups = tie_groups(fn, scores, labels, &pos, &neg);
  const double n = double(scores.size());
  // k = ceil(fraction * N), forgiving the rounding error of products such as 0.3 * 10.
  const double exact = fraction * n;
  const double rounded = std::round(exact);
  const double k = std::max(
      1.0, std::abs(exact - rounded) < 1e-9 * std::max(1.0, n) ? rounded : std::ceil(exact));
  // The group straddling the cut contributes its expected positives under a uniformly random
  // order of the tied items, so the result does not depend on input order.
  double taken = 0, hits = 0;
  for (const auto& g : groups) {
    const double size = g.positives + g.negatives;
    const double take = std::min(size, k - taken);
    hits += g.positives * (take / size);
    taken += take;
    if (taken >= k) break;
  }
  return hits / k;
}
}  // namespace metrics_detail

/// @brief ROC curve points (see RocCurve for the order).
/// @throws InvalidArgument (empty, NaN, label not 0/1, one class only), ShapeMismatch
inline RocCurve roc_curve(std::span<const float> scores, std::span<const std::int64_t> labels) {
  return metrics_detail::roc_curve(scores, labels);
}
/// @brief roc_curve() for float64 scores.
inline RocCurve roc_curve(std::span<const double> scores, std::span<const std::int64_t> labels) {
  return metrics_detail::roc_curve(scores, labels);
}
/// @brief Precision-recall curve points (see PrCurve for the order).
/// @throws InvalidArgument (empty, NaN, label not 0/1, no positive), ShapeMismatch
inline PrCurve pr_curve(std::span<const float> scores, std::span<const std::int64_t> labels) {
  return metrics_detail::pr_curve(scores, labels);
}
/// @brief pr_curve() for float64 scores.
inline PrCurve pr_curve(std::span<const double> scores, std::span<const std::int64_t> labels) {
  return metrics_detail::pr_curve(scores, labels);
}

/// @brief The best recall (TPR) of any score threshold whose false-positive rate is at most
/// max_fpr, e.g. "share of fraud caught while flagging at most 1% of good customers".
/// Thresholds lie between distinct scores (tied scores are never split); 0 when even the
/// top tie group exceeds the budget.
/// @param scores N scores, no NaN
/// @param labels N labels 0/1 with both classes present
/// @param max_fpr budget in [0, 1]
/// @throws InvalidArgument (bad input, max_fpr outside [0, 1], one class only), ShapeMismatch
inline double recall_at_fpr(std::span<const float> scores, std::span<const std::int64_t> labels,
                            double max_fpr) {
  return metrics_detail::recall_at_fpr(scores, labels, max_fpr);
}
/// @brief recall_at_fpr() for float64 scores.
inline double recall_at_fpr(std::span<const double> scores, std::span<const std::int64_t> labels,
                            double max_fpr) {
  return metrics_detail::recall_at_fpr(scores, labels, max_fpr);
}

/// @brief Precision among the top k = ceil(fraction * N) scores ("of the 1% we review, how
/// many are fraud"). When the cut falls inside a group of tied scores, that group counts with
/// its expected share of positives (its positive rate times the places left), i.e. the mean
/// over all orders of the ties.
/// @param scores N scores, no NaN
/// @param labels N labels 0/1
/// @param fraction share of items reviewed, in (0, 1]
/// @throws InvalidArgument (bad input, fraction outside (0, 1]), ShapeMismatch
inline double precision_at_top_fraction(std::span<const float> scores,
                                        std::span<const std::int64_t> labels, double fraction) {
  return metrics_detail::precision_at_top_fraction(scores, labels, fraction);
}
/// @brief precision_at_top_fraction() for float64 scores.
inline double precision_at_top_fraction(std::span<const double> scores,
                                        std::span<const std::int64_t> labels, double fraction) {
  return metrics_detail::precision_at_top_fraction(scores, labels, fraction);
}

// ---- top-k recommendation -----------------------------------------------------------------

namespace metrics_detail {
/// Shared walk of recall_at_k / ndcg_at_k: validates, then averages per_user(hits, n_truth)
/// over users with at least one ground-truth item, where hits[j] says whether the item
/// ranked j-th (j < k) is a ground-truth item.
template <typename F>
double mean_over_users(const char* fn, std::span<const std::int64_t> ranked,
                       std::span<const std::int64_t> truth_indptr,
                       std::span<const std::int64_t> truth_items, std::int64_t k, F&& per_user) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, truth_indptr.size() >= 2,
                    "'truth_indptr' must have at least 2 entries (one user), got {}",
                    truth_indptr.size());
  const std::size_t users = truth_indptr.size() - 1;
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, ranked.size() % users == 0,
                    "'ranked' must hold {} equal-length lists (one per user), got {} entries",
                    users, ranked.size());
  const std::int64_t length = std::int64_t(ranked.size() / users);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, k >= 1 && k <= length,
                    "'k' must be in [1, {}] (the ranked list length), got {}", length, k);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    truth_indptr[0] == 0 && truth_indptr[users] == std::int64_t(truth_items.size()),
                    "'truth_indptr' must start at 0 and end at {} (the size of 'truth_items'), "
                    "got {} and {}",
                    truth_items.size(), truth_indptr[0], truth_indptr[users]);
  // With the ends pinned, a non-decreasing indptr keeps every user's slice in bounds.
  for (std::size_t u = 0; u < users; ++u)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, truth_indptr[u] <= truth_indptr[u + 1],
                      "'truth_indptr' must be non-decreasing, got {} then {} at user {}",
                      truth_indptr[u], truth_indptr[u + 1], u);
  // Item ids are >= 0 (-1 pads ranked lists, so it must never count as a hit), and a ranked
  // list names an item once (a repeat would count one held-out item several times).
  for (std::size_t i = 0; i < truth_items.size(); ++i)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, truth_items[i] >= 0,
                      "'truth_items[{}]' must be an item id >= 0, got {}", i, truth_items[i]);
  double sum = 0;
  std::size_t counted = 0;
  std::vector<std::int64_t> truth, head;
  std::vector<char> hits(std::size_t(k), 0);
  for (std::size_t u = 0; u < users; ++u) {
    const std::int64_t* list = ranked.data() + u * std::size_t(length);
    head.assign(list, list + k);
    std::sort(head.begin(), head.end());
    for (std::size_t j = 1; j < head.size(); ++j)
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, head[j] < 0 || head[j] != head[j - 1],
                        "'ranked' row {} names item {} more than once in its first {}", u, head[j], k);
    if (truth_indptr[u] == truth_indptr[u + 1]) continue;  // nothing to find: not evaluated
    truth.assign(truth_items.begin() + truth_indptr[u], truth_items.begin() + truth_indptr[u + 1]);
    std::sort(truth.begin(), truth.end());
    truth.erase(std::unique(truth.begin(), truth.end()), truth.end());
    for (std::int64_t j = 0; j < k; ++j)
      hits[std::size_t(j)] = std::binary_search(truth.begin(), truth.end(), list[j]);
    sum += per_user(hits, double(truth.size()));
    ++counted;
  }
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, counted > 0,
                    "'truth_indptr' must give at least one user a ground-truth item, got {} "
                    "users with none",
                    users);
  return sum / double(counted);
}
}  // namespace metrics_detail

/// @brief Recall@k as in the LightGCN evaluation: per user, (ground-truth items among the
/// first k ranked) / |ground truth|, averaged over users with a non-empty ground truth.
/// @param ranked users x L item ids, row-major, best first (L >= k; -1 pads short lists)
/// @param truth_indptr users + 1 offsets into truth_items (CSR)
/// @param truth_items every user's held-out items (duplicates count once)
/// @param k cut-off, 1 <= k <= L
/// @throws InvalidArgument (k out of range, malformed CSR, no user with ground truth),
///         ShapeMismatch (ranked not users x L)
inline double recall_at_k(std::span<const std::int64_t> ranked,
                          std::span<const std::int64_t> truth_indptr,
                          std::span<const std::int64_t> truth_items, std::int64_t k) {
  return metrics_detail::mean_over_users("recall_at_k", ranked, truth_indptr, truth_items, k,
                                         [](const std::vector<char>& hits, double n_truth) {
                                           return double(std::count(hits.begin(), hits.end(), 1)) /
                                                  n_truth;
                                         });
}

/// @brief NDCG@k as in the LightGCN evaluation: binary relevance,
/// DCG = Σ_{j<k} hit_j / log2(j + 2), IDCG = Σ_{j<min(k, |truth|)} 1 / log2(j + 2), averaged
/// over users with a non-empty ground truth.
/// @param ranked users x L item ids, row-major, best first (L >= k; -1 pads short lists)
/// @param truth_indptr users + 1 offsets into truth_items (CSR)
/// @param truth_items every user's held-out items (duplicates count once)
/// @param k cut-off, 1 <= k <= L
/// @throws InvalidArgument (k out of range, malformed CSR, no user with ground truth),
///         ShapeMismatch (ranked not users x L)
inline double ndcg_at_k(std::span<const std::int64_t> ranked,
                        std::span<const std::int64_t> truth_indptr,
                        std::span<const std::int64_t> truth_items, std::int64_t k) {
  return metrics_detail::mean_over_users("ndcg_at_k", ranked, truth_indptr, truth_items, k,
                                         [k](const std::vector<char>& hits, double n_truth) {
                                           double dcg = 0, idcg = 0;
                                           for (std::int64_t j = 0; j < k; ++j) {
                                             const double discount =
                                                 1.0 / std::log2(double(j) + 2.0);
                                             if (hits[std::size_t(j)]) dcg += discount;
                                             if (double(j) < n_truth) idcg += discount;
                                           }
                                           return dcg / idcg;
                                         });
}

}  // namespace gnnkit
