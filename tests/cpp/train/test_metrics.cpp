// Metrics against brute-force references: pairwise AUC, per-threshold scans, enumeration of
// every tie order, and a transcription of the LightGCN evaluation loops.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "gnnkit/train/metrics.hpp"

using namespace gnnkit;
using Catch::Matchers::Contains;

namespace {

struct Binary {
  std::vector<double> scores;
  std::vector<std::int64_t> labels;
};

/// Random scores rounded to `decimals` (few decimals: many ties) and labels with P(1) = rate.
Binary random_binary(std::size_t n, std::uint64_t seed, int decimals, double rate = 0.3) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Binary b;
  const double scale = std::pow(10.0, decimals);
  for (std::size_t i = 0; i < n; ++i) {
    b.scores.push_back(std::round(u(rng) * scale) / scale);
    b.labels.push_back(u(rng) < rate ? 1 : 0);
  }
  if (std::count(b.labels.begin(), b.labels.end(), 1) == 0) b.labels[0] = 1;
  if (std::count(b.labels.begin(), b.labels.end(), 0) == 0) b.labels[1] = 0;
  return b;
}

double brute_auc(const Binary& b) {
  double sum = 0, pairs = 0;
  for (std::size_t i = 0; i < b.scores.size(); ++i)
    for (std::size_t j = 0; j < b.scores.size(); ++j)
      if (b.labels[i] == 1 && b.labels[j] == 0) {
        pairs += 1;
        sum += b.scores[i] > b.scores[j] ? 1.0 : b.scores[i] == b.scores[j] ? 0.5 : 0.0;
      }
  return sum / pairs;
}

/// Distinct scores, decreasing.
std::vector<double> thresholds_of(const Binary& b) {
  std::set<double, std::greater<>> s(b.scores.begin(), b.scores.end());
  return {s.begin(), s.end()};
}

/// (tp, fp) when predicting positive for score >= threshold, by a full scan.
std::pair<double, double> counts_at(const Binary& b, double threshold) {
  double tp = 0, fp = 0;
  for (std::size_t i = 0; i < b.scores.size(); ++i)
    if (b.scores[i] >= threshold) (b.labels[i] ? tp : fp) += 1;
  return {tp, fp};
}

double brute_ap(const Binary& b) {
  const double pos = double(std::count(b.labels.begin(), b.labels.end(), 1));
  double ap = 0, prev_recall = 0;
  for (double thr : thresholds_of(b)) {
    const auto [tp, fp] = counts_at(b, thr);
    ap += (tp / pos - prev_recall) * tp / (tp + fp);
    prev_recall = tp / pos;
  }
  return ap;
}

double brute_recall_at_fpr(const Binary& b, double max_fpr) {
  const double pos = double(std::count(b.labels.begin(), b.labels.end(), 1));
  const double neg = double(b.labels.size()) - pos;
  double best = 0;
  for (double thr : thresholds_of(b)) {
    const auto [tp, fp] = counts_at(b, thr);
    if (fp / neg <= max_fpr) best = std::max(best, tp / pos);
  }
  return best;
}

/// Mean precision of the top k over every order of the items (hence every order of ties).
double brute_precision_at_top(const Binary& b, std::size_t k) {
  std::vector<std::size_t> perm(b.scores.size());
  std::iota(perm.begin(), perm.end(), 0);
  double sum = 0, count = 0;
  do {
    std::vector<std::size_t> order = perm;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return b.scores[x] > b.scores[y]; });
    double hits = 0;
    for (std::size_t i = 0; i < k; ++i) hits += double(b.labels[order[i]]);
    sum += hits / double(k);
    count += 1;
  } while (std::next_permutation(perm.begin(), perm.end()));
  return sum / count;
}

std::vector<float> as_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("roc_auc equals the pairwise probability, ties counting one half", "[train][metrics]") {
  for (int decimals : {0, 1, 2, 6}) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      INFO("decimals " << decimals << " seed " << seed);
      const auto b = random_binary(300, seed, decimals);
      REQUIRE(roc_auc(b.scores, b.labels) == Approx(brute_auc(b)).epsilon(1e-12));
      // Rounded scores are exact in float32 only approximately, so compare the float path
      // against the brute force of the float scores.
      Binary bf{std::vector<double>(), b.labels};
      for (float s : as_float(b.scores)) bf.scores.push_back(s);
      REQUIRE(roc_auc(as_float(b.scores), b.labels) == Approx(brute_auc(bf)).epsilon(1e-12));
    }
  }
  SECTION("hand-checked values") {
    const std::vector<double> s = {0.1, 0.4, 0.35, 0.8};
    const std::vector<std::int64_t> y = {0, 0, 1, 1};
    REQUIRE(roc_auc(s, y) == 0.75);  // sklearn's documented example
    const std::vector<double> all_tied = {0.5, 0.5, 0.5};
    REQUIRE(roc_auc(all_tied, std::vector<std::int64_t>{0, 1, 1}) == 0.5);
    const std::vector<double> infinite = {-INFINITY, INFINITY};
    REQUIRE(roc_auc(infinite, std::vector<std::int64_t>{0, 1}) == 1.0);
  }
}

TEST_CASE("average_precision equals the step-wise sum over distinct thresholds",
          "[train][metrics]") {
  for (int decimals : {0, 1, 2, 6}) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      INFO("decimals " << decimals << " seed " << seed);
      const auto b = random_binary(250, seed + 10, decimals, 0.2);
      REQUIRE(average_precision(b.scores, b.labels) == Approx(brute_ap(b)).epsilon(1e-12));
    }
  }
  SECTION("hand-checked values") {
    const std::vector<double> s = {0.1, 0.4, 0.35, 0.8};
    const std::vector<std::int64_t> y = {0, 0, 1, 1};
    REQUIRE(average_precision(s, y) == Approx(0.8333333333333333).epsilon(1e-15));
    // All positives tied with all negatives: precision is the positive rate.
    const std::vector<double> tied = {1, 1, 1, 1};
    REQUIRE(average_precision(tied, std::vector<std::int64_t>{1, 0, 0, 0}) == 0.25);
    // Only positives: defined (AP = 1), unlike AUC.
    REQUIRE(average_precision(tied, std::vector<std::int64_t>{1, 1, 1, 1}) == 1.0);
  }
}

TEST_CASE("roc_curve and pr_curve points match a scan at each threshold", "[train][metrics]") {
  const auto b = random_binary(60, 3, 1);
  const auto thr = thresholds_of(b);
  const double pos = double(std::count(b.labels.begin(), b.labels.end(), 1));
  const double neg = double(b.labels.size()) - pos;
  const RocCurve roc = roc_curve(b.scores, b.labels);
  REQUIRE(roc.thresholds.size() == thr.size() + 1);
  REQUIRE(roc.thresholds[0] == std::numeric_limits<double>::infinity());
  REQUIRE(roc.fpr[0] == 0);
  REQUIRE(roc.tpr[0] == 0);
  for (std::size_t i = 0; i < thr.size(); ++i) {
    const auto [tp, fp] = counts_at(b, thr[i]);
    REQUIRE(roc.thresholds[i + 1] == thr[i]);
    REQUIRE(roc.tpr[i + 1] == Approx(tp / pos));
    REQUIRE(roc.fpr[i + 1] == Approx(fp / neg));
  }
  REQUIRE(roc.tpr.back() == 1.0);
  REQUIRE(roc.fpr.back() == 1.0);
  // Trapezoids under the curve give the AUC back.
  double area = 0;
  for (std::size_t i = 1; i < roc.fpr.size(); ++i)
    area += (roc.fpr[i] - roc.fpr[i - 1]) * (roc.tpr[i] + roc.tpr[i - 1]) / 2;
  REQUIRE(area == Approx(roc_auc(b.scores, b.labels)).epsilon(1e-12));

  const PrCurve pr = pr_curve(b.scores, b.labels);
  REQUIRE(pr.thresholds.size() == thr.size());
  REQUIRE(pr.precision.size() == thr.size() + 1);
  REQUIRE(pr.precision.back() == 1.0);
  REQUIRE(pr.recall.back() == 0.0);
  for (std::size_t i = 0; i < thr.size(); ++i) {
    const double t = thr[thr.size() - 1 - i];  // increasing thresholds
    const auto [tp, fp] = counts_at(b, t);
    REQUIRE(pr.thresholds[i] == t);
    REQUIRE(pr.precision[i] == Approx(tp / (tp + fp)));
    REQUIRE(pr.recall[i] == Approx(tp / pos));
  }
}

TEST_CASE("recall_at_fpr picks the best threshold within the budget, never splitting ties",
          "[train][metrics]") {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const auto b = random_binary(200, seed + 20, seed % 2 ? 1 : 3);
    for (double max_fpr : {0.0, 0.01, 0.05, 0.1, 0.33, 1.0}) {
      INFO("seed " << seed << " max_fpr " << max_fpr);
      REQUIRE(recall_at_fpr(b.scores, b.labels, max_fpr) ==
              Approx(brute_recall_at_fpr(b, max_fpr)).epsilon(1e-15));
    }
  }
  // A negative tied with the top positive: any threshold taking the positive has FPR 1/2.
  const std::vector<double> s = {0.9, 0.9, 0.1};
  const std::vector<std::int64_t> y = {1, 0, 0};
  REQUIRE(recall_at_fpr(s, y, 0.4) == 0.0);
  REQUIRE(recall_at_fpr(s, y, 0.5) == 1.0);
}

TEST_CASE("precision_at_top_fraction averages over the orders of boundary ties",
          "[train][metrics]") {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const auto b = random_binary(8, seed + 30, 1, 0.5);
    for (double fraction : {0.125, 0.25, 0.3, 0.5, 0.75, 1.0}) {
      INFO("seed " << seed << " fraction " << fraction);
      const auto k = std::size_t(std::ceil(fraction * 8 - 1e-9));
      REQUIRE(precision_at_top_fraction(b.scores, b.labels, fraction) ==
              Approx(brute_precision_at_top(b, k)).epsilon(1e-12));
    }
  }
  // ceil(0.3 * 10) is 3, although 0.3 * 10 is 3.0000000000000004 in floating point.
  std::vector<double> s(10);
  std::iota(s.rbegin(), s.rend(), 0.0);  // 9, 8, ..., 0
  const std::vector<std::int64_t> y = {1, 1, 0, 1, 0, 0, 0, 0, 0, 0};
  REQUIRE(precision_at_top_fraction(s, y, 0.3) == Approx(2.0 / 3));
  REQUIRE(precision_at_top_fraction(s, y, 0.31) == Approx(3.0 / 4));
}

TEST_CASE("accuracy and F1 match naive counts", "[train][metrics]") {
  std::mt19937_64 rng(5);
  const std::int64_t n = 200, c = 4;
  std::vector<float> logits(n * c);
  std::vector<std::int64_t> labels(n), preds(n);
  std::uniform_int_distribution<int> cls(0, c - 1), coarse(0, 3);
  for (auto& v : logits) v = float(coarse(rng));  // coarse values: many ties in argmax
  for (auto& v : labels) v = cls(rng);
  std::int64_t hits = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < c; ++j)
      if (logits[i * c + j] > logits[i * c + best]) best = j;
    preds[i] = best;
    hits += best == labels[i];
  }
  REQUIRE(accuracy(logits, c, labels) == double(hits) / n);
  REQUIRE(accuracy(preds, labels) == double(hits) / n);
  std::vector<double> logits64(logits.begin(), logits.end());
  REQUIRE(accuracy(logits64, c, labels) == double(hits) / n);

  // Macro F1: per-class F1 from explicit precision and recall, classes in either array.
  double sum = 0;
  int classes = 0;
  for (std::int64_t k = 0; k < c; ++k) {
    double tp = 0, fp = 0, fn = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      tp += preds[i] == k && labels[i] == k;
      fp += preds[i] == k && labels[i] != k;
      fn += preds[i] != k && labels[i] == k;
    }
    if (tp + fp + fn == 0) continue;
    const double precision = tp + fp > 0 ? tp / (tp + fp) : 0;
    const double recall = tp + fn > 0 ? tp / (tp + fn) : 0;
    sum += precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    ++classes;
  }
  REQUIRE(macro_f1_score(preds, labels) == Approx(sum / classes).epsilon(1e-12));
  // sklearn's documented example: f1_score([0,1,2,0,1,2], [0,2,1,0,0,1], average="macro").
  REQUIRE(macro_f1_score(std::vector<std::int64_t>{0, 2, 1, 0, 0, 1},
                         std::vector<std::int64_t>{0, 1, 2, 0, 1, 2}) ==
          Approx(0.26666666666666666));

  const std::vector<std::int64_t> yb = {1, 1, 0, 0, 1, 0, 1}, pb = {1, 0, 0, 1, 1, 1, 1};
  // tp 3, fp 2, fn 1: precision 3/5, recall 3/4.
  REQUIRE(f1_score(pb, yb) == Approx(2 * 0.6 * 0.75 / (0.6 + 0.75)).epsilon(1e-15));
  const std::vector<std::int64_t> zeros = {0, 0, 0};
  REQUIRE(f1_score(zeros, zeros) == 0.0);
}

TEST_CASE("metrics reject bad input", "[train][metrics]") {
  const std::vector<double> s = {0.2, 0.4, 0.6};
  const std::vector<std::int64_t> y = {0, 1, 0};
  const std::vector<double> empty;
  const std::vector<std::int64_t> no_labels;
  REQUIRE_THROWS_WITH(roc_auc(empty, no_labels),
                      "roc_auc: 'scores' must not be empty, got 0 entries");
  REQUIRE_THROWS_WITH(roc_auc(s, std::vector<std::int64_t>{1, 1, 1}),
                      Contains("roc_auc: 'labels' must contain both classes (0 and 1)"));
  REQUIRE_THROWS_AS(roc_auc(s, std::vector<std::int64_t>{0, 0, 0}), InvalidArgument);
  REQUIRE_THROWS_WITH(roc_auc(std::vector<double>{0.1, NAN, 0.3}, y),
                      Contains("'scores[1]' must not be NaN"));
  REQUIRE_THROWS_WITH(roc_auc(s, std::vector<std::int64_t>{0, 2, 1}),
                      Contains("'labels[1]' must be 0 or 1, got 2"));
  REQUIRE_THROWS_AS(roc_auc(s, std::vector<std::int64_t>{0, 1}), ShapeMismatch);
  REQUIRE_THROWS_WITH(average_precision(s, std::vector<std::int64_t>{0, 0, 0}),
                      Contains("at least one positive"));
  REQUIRE_THROWS_AS(average_precision(std::vector<float>{NAN}, std::vector<std::int64_t>{1}),
                    InvalidArgument);
  REQUIRE_THROWS_AS(roc_curve(s, std::vector<std::int64_t>{1, 1, 1}), InvalidArgument);
  REQUIRE_THROWS_AS(pr_curve(s, std::vector<std::int64_t>{0, 0, 0}), InvalidArgument);
  REQUIRE_THROWS_WITH(recall_at_fpr(s, y, 1.5), Contains("'max_fpr' must be in [0, 1]"));
  REQUIRE_THROWS_AS(recall_at_fpr(s, std::vector<std::int64_t>{1, 1, 1}, 0.1), InvalidArgument);
  REQUIRE_THROWS_WITH(precision_at_top_fraction(s, y, 0.0),
                      Contains("'fraction' must be in (0, 1]"));
  REQUIRE_THROWS_AS(accuracy(no_labels, no_labels), InvalidArgument);
  REQUIRE_THROWS_AS(accuracy(y, std::vector<std::int64_t>{0}), ShapeMismatch);
  REQUIRE_THROWS_AS(accuracy(std::vector<float>{1, 2, 3, 4}, 2, std::vector<std::int64_t>{0, 2}),
                    OutOfRange);
  REQUIRE_THROWS_AS(accuracy(std::vector<float>{1, 2, 3}, 2, std::vector<std::int64_t>{0, 1}),
                    ShapeMismatch);
  REQUIRE_THROWS_WITH(f1_score(std::vector<std::int64_t>{0, 3}, std::vector<std::int64_t>{0, 1}),
                      Contains("'predictions[1]' must be 0 or 1, got 3"));
  REQUIRE_THROWS_AS(macro_f1_score(no_labels, no_labels), InvalidArgument);
}

namespace {

/// The LightGCN evaluation (utils.getLabel, RecallPrecision_ATk, NDCGatK_r) transcribed to
/// loops: r[u][j] = ranked[u][j] in truth[u]; recall = sum(r[:k]) / |truth|; NDCG with the
/// test matrix holding min(k, |truth|) ones.
std::pair<double, double> lightgcn_reference(const std::vector<std::vector<std::int64_t>>& ranked,
                                             const std::vector<std::vector<std::int64_t>>& truth,
                                             std::size_t k) {
  double recall = 0, ndcg = 0;
  for (std::size_t u = 0; u < ranked.size(); ++u) {
    std::vector<double> r(k);
    for (std::size_t j = 0; j < k; ++j)
      r[j] = std::find(truth[u].begin(), truth[u].end(), ranked[u][j]) != truth[u].end();
    recall += std::accumulate(r.begin(), r.end(), 0.0) / double(truth[u].size());
    double dcg = 0, idcg = 0;
    const std::size_t length = std::min(k, truth[u].size());
    for (std::size_t j = 0; j < k; ++j) {
      dcg += r[j] * (1.0 / std::log2(double(j) + 2));
      idcg += (j < length ? 1.0 : 0.0) * (1.0 / std::log2(double(j) + 2));
    }
    ndcg += dcg / idcg;
  }
  return {recall / double(ranked.size()), ndcg / double(ranked.size())};
}

}  // namespace

TEST_CASE("recall_at_k and ndcg_at_k follow the LightGCN evaluation", "[train][metrics]") {
  std::mt19937_64 rng(11);
  const std::size_t users = 40, length = 20, items = 60;
  std::vector<std::vector<std::int64_t>> ranked(users), truth(users);
  std::vector<std::int64_t> flat, indptr = {0}, truth_flat;
  for (std::size_t u = 0; u < users; ++u) {
    std::vector<std::int64_t> all(items);
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    ranked[u].assign(all.begin(), all.begin() + length);
    std::shuffle(all.begin(), all.end(), rng);
    truth[u].assign(all.begin(), all.begin() + 1 + std::int64_t(rng() % 30));
    flat.insert(flat.end(), ranked[u].begin(), ranked[u].end());
    truth_flat.insert(truth_flat.end(), truth[u].begin(), truth[u].end());
    indptr.push_back(std::int64_t(truth_flat.size()));
  }
  for (std::size_t k : {1, 5, 20}) {
    INFO("k = " << k);
    const auto [recall, ndcg] = lightgcn_reference(ranked, truth, k);
    REQUIRE(recall_at_k(flat, indptr, truth_flat, std::int64_t(k)) ==
            Approx(recall).epsilon(1e-12));
    REQUIRE(ndcg_at_k(flat, indptr, truth_flat, std::int64_t(k)) == Approx(ndcg).epsilon(1e-12));
  }
  SECTION("hand-checked values") {
    // One user: hits at ranks 1 and 3, three relevant items.
    const std::vector<std::int64_t> r = {7, 1, 8, 2}, ptr = {0, 3}, t = {8, 9, 7};
    REQUIRE(recall_at_k(r, ptr, t, 3) == Approx(2.0 / 3));
    REQUIRE(ndcg_at_k(r, ptr, t, 3) ==
            Approx((1 + 1 / std::log2(4.0)) / (1 + 1 / std::log2(3.0) + 1 / std::log2(4.0))));
  }
  SECTION("users without ground truth are not evaluated; bad input throws") {
    const std::vector<std::int64_t> r = {1, 2, 3, 4}, ptr = {0, 0, 1}, t = {3};
    REQUIRE(recall_at_k(r, ptr, t, 2) == 1.0);  // only user 1 counts: item 3 at rank 1
    REQUIRE_THROWS_WITH(recall_at_k(r, ptr, t, 3), Contains("'k' must be in [1, 2]"));
    REQUIRE_THROWS_AS(recall_at_k(r, std::vector<std::int64_t>{0, 0, 0}, {}, 1), InvalidArgument);
    REQUIRE_THROWS_AS(ndcg_at_k(std::vector<std::int64_t>{1, 2, 3}, ptr, t, 1), ShapeMismatch);
    REQUIRE_THROWS_WITH(ndcg_at_k(r, std::vector<std::int64_t>{0, 5, 1}, t, 1),
                        Contains("'truth_indptr' must be non-decreasing"));
  }
  SECTION("a pad is never a hit, and a repeated item is an error, so the result stays in [0, 1]") {
    const std::vector<std::int64_t> one = {0, 1};
    REQUIRE_THROWS_WITH(recall_at_k(std::vector<std::int64_t>{1, 1, 1}, one, std::vector<std::int64_t>{1}, 3),
                        Contains("'ranked' row 0 names item 1 more than once in its first 3"));
    REQUIRE_THROWS_WITH(ndcg_at_k(std::vector<std::int64_t>{1, -1, -1}, one, std::vector<std::int64_t>{-1}, 3),
                        Contains("'truth_items[0]' must be an item id >= 0, got -1"));
    // Pads repeat freely and never count.
    REQUIRE(recall_at_k(std::vector<std::int64_t>{4, -1, -1}, one, std::vector<std::int64_t>{4}, 3) == 1.0);
  }
}
