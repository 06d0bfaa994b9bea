// XGBoost baselines of gnnkit-fraud: tabular feature builders over a GraphFile and a thin,
// exception-safe wrapper of XGBoost's C API with early stopping on validation PR-AUC.
#include "src/baselines.hpp"

#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include <gnnkit/core/context.hpp>
#include <gnnkit/core/error.hpp>
#include <gnnkit/train/metrics.hpp>

namespace gnnkit::fraud {
namespace {

int resolve_threads(int threads) {
  return threads > 0 ? threads : gnnkit::detail::default_thread_count();
}

void require_node_type(const char* fn, const Schema& schema, const std::string& type) {
  if (schema.find_node_type(type)) return;
  std::string known;
  for (const auto& t : schema.node_types()) known += (known.empty() ? "" : ", ") + t;
  throw InvalidArgument(fn,
                        detail::format("'target' must be a node type of the graph ({}), got '{}'",
                                       known.empty() ? "none" : known, type));
}

void require_ids_in_range(const char* fn, std::span<const std::int64_t> ids, std::int64_t bound,
                          const std::string& type) {
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= bound)
      throw OutOfRange(fn, detail::format("'ids[{}]' must be in [0, {}) (nodes of '{}'), got {}", i,
                                          bound, type, ids[i]));
}

/// Node features "x" of a type: data is null when the type has none.
struct NodeX {
  const float* data = nullptr;
  std::int64_t cols = 0;
  const float* row(std::int64_t v) const { return data + v * cols; }
};

NodeX node_x(const char* fn, const GraphFile& file, const std::string& type) {
  const FeatureStore::Key key{FeatureStore::Kind::kNodeFeatures, type, "x"};
  if (!file.features.contains(key)) return {};
  const FeatureMatrix& m = file.features.get(key);
  const std::int64_t n = file.graph.num_nodes(type);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, m.rows == n,
                    "node features '{}/x' must have {} rows (one per node), got {}", type, n,
                    m.rows);
  return {m.data.as<float>().data(), m.cols};
}

/// One relation's CSC neighbour lists walked in time order, with the time of each position,
/// so that "edges no later than t" is a prefix found by binary search. When the relation is
/// already sorted by time this borrows the stored arrays; otherwise it builds a per-list
/// stable order once (O(E log d)).
class TimedLists {
 public:
  TimedLists(const Relation& rel, bool use_time, int threads)
      : indptr_(rel.csc_indptr.as<std::int64_t>().data()) {
    if (rel.index_dtype() == DType::kInt32)
      idx32_ = rel.csc_indices.as<std::int32_t>().data();
    else
      idx64_ = rel.csc_indices.as<std::int64_t>().data();
    if (!use_time || !rel.has_timestamps()) return;  // every edge counts
    const std::int64_t* ts = rel.timestamps.as<std::int64_t>().data();
    if (rel.sorted_by_time) {
      times_ = ts;
      return;
    }
    const std::int64_t e = rel.num_edges(), lists = rel.num_dst;
    own_order_.resize(std::size_t(e));
    own_times_.resize(std::size_t(e));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
    for (std::int64_t v = 0; v < lists; ++v) {
      std::int64_t* o = own_order_.data();
      std::iota(o + indptr_[v], o + indptr_[v + 1], indptr_[v]);
      std::stable_sort(o + indptr_[v], o + indptr_[v + 1],
                       [ts](std::int64_t a, std::int64_t b) { return ts[a] < ts[b]; });
      for (std::int64_t p = indptr_[v]; p < indptr_[v + 1]; ++p)
        own_times_[std::size_t(p)] = ts[o[p]];
    }
    order_ = own_order_.data();
    times_ = own_times_.data();
  }

  std::int64_t begin(std::int64_t v) const { return indptr_[v]; }
  /// Source node at time-ordered position p.
  std::int64_t src(std::int64_t p) const {
    const std::int64_t q = order_ ? order_[p] : p;
    return idx32_ ? std::int64_t(idx32_[q]) : idx64_[q];
  }
  /// Number of edges of list v with timestamp <= t (all of them without a time filter).
  std::int64_t eligible(std::int64_t v, std::optional<std::int64_t> t) const {
    const std::int64_t b = indptr_[v], e = indptr_[v + 1];
    if (!times_ || !t) return e - b;
    return std::upper_bound(times_ + b, times_ + e, *t) - (times_ + b);
  }

 private:
  const std::int64_t* indptr_;
  const std::int32_t* idx32_ = nullptr;
  const std::int64_t* idx64_ = nullptr;
  const std::int64_t* times_ = nullptr;  // null: no time filter
  const std::int64_t* order_ = nullptr;  // null: identity
  std::vector<std::int64_t> own_order_, own_times_;
};

std::string x_name(const std::string& prefix, std::int64_t j) {
  return prefix + "x" + std::to_string(j);
}

// Float prefix sums (accumulated in double) cost 4 bytes per edge and column; bigger
// relations are processed in column blocks so memory stays below this many floats.
constexpr std::int64_t kPrefixBudgetFloats = std::int64_t(1) << 27;  // 512 MiB

}  // namespace

DenseMatrix own_features(const GraphFile& file, const std::string& target,
                         std::span<const std::int64_t> ids, int threads) {
  constexpr const char* fn = "own_features";
  require_node_type(fn, file.graph.schema(), target);
  const NodeX x = node_x(fn, file, target);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, x.data != nullptr,
                    "node type '{}' must have node features 'x', got none", target);
  require_ids_in_range(fn, ids, file.graph.num_nodes(target), target);
  DenseMatrix out;
  out.rows = std::int64_t(ids.size());
  out.cols = x.cols;
  out.values.resize(std::size_t(out.rows * out.cols));
  for (std::int64_t j = 0; j < x.cols; ++j) out.column_names.push_back(x_name("self.", j));
  const int nt = resolve_threads(threads);
#pragma omp parallel for num_threads(nt) schedule(static) if (out.rows > 16384)
  for (std::int64_t i = 0; i < out.rows; ++i)
    std::copy_n(x.row(ids[std::size_t(i)]), x.cols, out.row(i));
  return out;
}

std::vector<std::int64_t> gather_labels(const GraphFile& file, const std::string& target,
                                        std::span<const std::int64_t> ids) {
  constexpr const char* fn = "gather_labels";
  require_node_type(fn, file.graph.schema(), target);
  const FeatureStore::Key key{FeatureStore::Kind::kLabels, target, ""};
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, file.features.contains(key),
                    "node type '{}' must have labels, got none", target);
  const auto labels = file.features.labels(target).as<std::int64_t>();
  require_ids_in_range(fn, ids, std::int64_t(labels.size()), target);
  std::vector<std::int64_t> out(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) out[i] = labels[std::size_t(ids[i])];
  return out;
}

DenseMatrix neighbour_aggregated_features(const GraphFile& file, const std::string& target,
                                          std::span<const std::int64_t> ids, bool temporal,
                                          int threads) {
  constexpr const char* fn = "neighbour_aggregated_features";
  const HeteroGraph& graph = file.graph;
  const Schema& schema = graph.schema();
  require_node_type(fn, schema, target);
  const NodeX xt = node_x(fn, file, target);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, xt.data != nullptr,
                    "node type '{}' must have node features 'x', got none", target);
  const std::int64_t n_target = graph.num_nodes(target);
  require_ids_in_range(fn, ids, n_target, target);
  const int nt = resolve_threads(threads);

  // The target nodes' times, when the filter applies.
  const std::int64_t* node_time = nullptr;
  const FeatureStore::Key time_key{FeatureStore::Kind::kNodeTimes, target, ""};
  if (temporal && file.features.contains(time_key)) {
    const auto t = file.features.node_times(target).as<std::int64_t>();
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, std::int64_t(t.size()) == n_target,
                      "node times of '{}' must have {} entries, got {}", target, n_target,
                      t.size());
    node_time = t.data();
  }
  const bool use_time = node_time != nullptr;

  // Plan: r1 = relations into the target, r2 = relations into each r1's source type.
  struct Hop1 {
    int rel;
    NodeX x;
    std::int64_t col;  // first output column (mean), then the count after x.cols
  };
  struct Hop2 {
    int r1, r2;  // r1 indexes hop1
    NodeX x;
    std::int64_t col;
  };
  DenseMatrix out;
  for (std::int64_t j = 0; j < xt.cols; ++j) out.column_names.push_back(x_name("self.", j));
  std::vector<Hop1> hop1;
  for (int r = 0; r < graph.num_relations(); ++r) {
    const EdgeType& type = schema.relation(r);
    if (type.dst != target) continue;
    Hop1 h{r, node_x(fn, file, type.src), std::int64_t(out.column_names.size())};
    const std::string prefix = "1hop." + type.str() + ".";
    for (std::int64_t j = 0; j < h.x.cols; ++j)
      out.column_names.push_back(x_name(prefix + "mean.", j));
    out.column_names.push_back(prefix + "count");
    hop1.push_back(h);
  }
  std::vector<Hop2> hop2;
  for (int i = 0; i < int(hop1.size()); ++i) {
    const EdgeType& t1 = schema.relation(hop1[std::size_t(i)].rel);
    for (int r = 0; r < graph.num_relations(); ++r) {
      const EdgeType& t2 = schema.relation(r);
      if (t2.dst != t1.src) continue;
      Hop2 h{i, r, node_x(fn, file, t2.src), std::int64_t(out.column_names.size())};
      const std::string prefix = "2hop." + t1.str() + "." + t2.str() + ".";
      for (std::int64_t j = 0; j < h.x.cols; ++j)
        out.column_names.push_back(x_name(prefix + "mean.", j));
      out.column_names.push_back(prefix + "count");
      hop2.push_back(h);
    }
  }
  out.rows = std::int64_t(ids.size());
  out.cols = std::int64_t(out.column_names.size());
  out.values.assign(std::size_t(out.rows * out.cols), 0.f);
  if (out.rows == 0) return out;

  std::vector<std::optional<TimedLists>> lists(std::size_t(graph.num_relations()));
  auto lists_of = [&](int r) -> const TimedLists& {
    auto& slot = lists[std::size_t(r)];
    if (!slot) slot.emplace(graph.relation(r), use_time, nt);
    return *slot;
  };
  for (const Hop1& h : hop1) lists_of(h.rel);
  for (const Hop2& h : hop2) lists_of(h.r2);
  auto time_of = [&](std::int64_t v) -> std::optional<std::int64_t> {
    if (!use_time) return std::nullopt;
    return node_time[v];
  };

  // Own features and the first hop: every target's row independently (deterministic).
#pragma omp parallel num_threads(nt)
  {
    std::vector<double> acc;
#pragma omp for schedule(dynamic, 256)
    for (std::int64_t i = 0; i < out.rows; ++i) {
      const std::int64_t v = ids[std::size_t(i)];
      float* row = out.row(i);
      std::copy_n(xt.row(v), xt.cols, row);
      for (const Hop1& h : hop1) {
        const TimedLists& l = lists_of(h.rel);
        const std::int64_t k = l.eligible(v, time_of(v)), b = l.begin(v);
        if (h.x.data && k > 0) {
          acc.assign(std::size_t(h.x.cols), 0.0);
          for (std::int64_t p = b; p < b + k; ++p) {
            const float* xs = h.x.row(l.src(p));
            for (std::int64_t j = 0; j < h.x.cols; ++j) acc[std::size_t(j)] += xs[j];
          }
          for (std::int64_t j = 0; j < h.x.cols; ++j)
            row[h.col + j] = float(acc[std::size_t(j)] / double(k));
        }
        row[h.col + h.x.cols] = float(k);
      }
    }
  }

  // Second hop, one r2 at a time (its prefix sums serve every r1 paired with it).
  std::vector<int> done(std::size_t(graph.num_relations()), 0);
  std::vector<float> prefix;
  for (const Hop2& first : hop2) {
    if (done[std::size_t(first.r2)]) continue;
    done[std::size_t(first.r2)] = 1;
    std::vector<const Hop2*> users;
    for (const Hop2& h : hop2)
      if (h.r2 == first.r2) users.push_back(&h);
    const Relation& rel2 = graph.relation(first.r2);
    const TimedLists& l2 = lists_of(first.r2);
    const NodeX xb = first.x;
    const std::int64_t e2 = rel2.num_edges(), lists2 = rel2.num_dst;

    // Counts need no features: Σ over eligible 1-hop neighbours a of a's eligible prefix.
#pragma omp parallel for num_threads(nt) schedule(dynamic, 256)
    for (std::int64_t i = 0; i < out.rows; ++i) {
      const std::int64_t v = ids[std::size_t(i)];
      const auto t = time_of(v);
      for (const Hop2* h : users) {
        const TimedLists& l1 = lists_of(hop1[std::size_t(h->r1)].rel);
        std::int64_t count = 0;
        for (std::int64_t p = l1.begin(v), e = p + l1.eligible(v, t); p < e; ++p)
          count += l2.eligible(l1.src(p), t);
        out.row(i)[h->col + xb.cols] = float(count);
      }
    }
    if (!xb.data || xb.cols == 0 || e2 == 0) continue;

    const std::int64_t width =
        std::clamp<std::int64_t>(kPrefixBudgetFloats / std::max<std::int64_t>(1, e2), 1, xb.cols);
    prefix.resize(std::size_t(e2 * width));
    for (std::int64_t c0 = 0; c0 < xb.cols; c0 += width) {
      const std::int64_t w = std::min(width, xb.cols - c0);
      // prefix[p * w + j] = Σ of column c0 + j over positions begin(a) .. p of a's time order.
#pragma omp parallel num_threads(nt)
      {
        std::vector<double> run(static_cast<std::size_t>(w));
#pragma omp for schedule(dynamic, 1024)
        for (std::int64_t a = 0; a < lists2; ++a) {
          std::fill(run.begin(), run.end(), 0.0);
          for (std::int64_t p = l2.begin(a), e = l2.begin(a + 1); p < e; ++p) {
            const float* xs = xb.row(l2.src(p)) + c0;
            float* dst = prefix.data() + p * w;
            for (std::int64_t j = 0; j < w; ++j) dst[j] = float(run[std::size_t(j)] += xs[j]);
          }
        }
      }
#pragma omp parallel num_threads(nt)
      {
        std::vector<double> acc(static_cast<std::size_t>(w));
#pragma omp for schedule(dynamic, 256)
        for (std::int64_t i = 0; i < out.rows; ++i) {
          const std::int64_t v = ids[std::size_t(i)];
          const auto t = time_of(v);
          float* row = out.row(i);
          for (const Hop2* h : users) {
            const float count = row[h->col + xb.cols];
            if (count == 0) continue;
            const TimedLists& l1 = lists_of(hop1[std::size_t(h->r1)].rel);
            std::fill(acc.begin(), acc.end(), 0.0);
            std::int64_t walks = 0;  // exact, unlike the float count column beyond 2^24
            for (std::int64_t p = l1.begin(v), e = p + l1.eligible(v, t); p < e; ++p) {
              const std::int64_t a = l1.src(p);
              const std::int64_t k = l2.eligible(a, t);
              if (k == 0) continue;
              walks += k;
              const float* s = prefix.data() + (l2.begin(a) + k - 1) * w;
              for (std::int64_t j = 0; j < w; ++j) acc[std::size_t(j)] += s[j];
            }
            for (std::int64_t j = 0; j < w; ++j)
              row[h->col + c0 + j] = float(acc[std::size_t(j)] / double(walks));
          }
        }
      }
    }
  }
  return out;
}

// ---- XGBoost ------------------------------------------------------------------------------

namespace {

constexpr const char* kXgbFn = "train_and_predict";

void xgb_check(int rc, const char* call) {
  if (rc == 0) return;
  const char* message = XGBGetLastError();
  const std::string_view name(call);  // "XGBoosterUpdateOneIter(booster, ...)": keep the name
  throw BackendError(kXgbFn, detail::format("XGBoost {} failed: {}", name.substr(0, name.find('(')),
                                            message && *message ? message : "(no message)"));
}
#define GNNKIT_XGB(call) xgb_check((call), #call)

struct DMatrixGuard {
  DMatrixHandle handle = nullptr;
  DMatrixGuard() = default;
  DMatrixGuard(const DMatrixGuard&) = delete;
  DMatrixGuard& operator=(const DMatrixGuard&) = delete;
  ~DMatrixGuard() {
    if (handle) XGDMatrixFree(handle);
  }
};

struct BoosterGuard {
  BoosterHandle handle = nullptr;
  BoosterGuard() = default;
  BoosterGuard(const BoosterGuard&) = delete;
  BoosterGuard& operator=(const BoosterGuard&) = delete;
  ~BoosterGuard() {
    if (handle) XGBoosterFree(handle);
  }
};

void check_matrix(const char* name, const DenseMatrix& x, bool allow_empty) {
  GNNKIT_EXPECTS_AS(ShapeMismatch, kXgbFn,
                    x.rows >= 0 && x.cols >= 0 && std::int64_t(x.values.size()) == x.rows * x.cols,
                    "'{}' must hold rows x cols = {} x {} values, got {}", name, x.rows, x.cols,
                    x.values.size());
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, allow_empty || x.rows > 0,
                    "'{}' must have at least one row, got 0", name);
  for (std::size_t i = 0; i < x.values.size(); ++i)
    GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, !std::isinf(x.values[i]),
                      "'{}' must be finite or NaN (missing), got {} at row {}, column {}", name,
                      x.values[i], std::int64_t(i) / x.cols, std::int64_t(i) % x.cols);
}

void check_labels(const char* name, std::span<const std::int64_t> y, std::int64_t rows,
                  double* positives) {
  GNNKIT_EXPECTS_AS(ShapeMismatch, kXgbFn, std::int64_t(y.size()) == rows,
                    "'{}' must have {} entries (one per row), got {}", name, rows, y.size());
  double pos = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, y[i] == 0 || y[i] == 1,
                      "'{}[{}]' must be 0 or 1, got {}", name, i, y[i]);
    pos += double(y[i]);
  }
  *positives = pos;
}

void make_dmatrix(DMatrixGuard& g, const DenseMatrix& x, std::span<const std::int64_t> y,
                  int threads) {
  GNNKIT_XGB(XGDMatrixCreateFromMat_omp(x.values.data(), bst_ulong(x.rows), bst_ulong(x.cols),
                                        std::numeric_limits<float>::quiet_NaN(), &g.handle,
                                        threads));
  if (!y.empty()) {
    std::vector<float> labels(y.begin(), y.end());
    GNNKIT_XGB(XGDMatrixSetFloatInfo(g.handle, "label", labels.data(), bst_ulong(labels.size())));
  }
}

std::vector<float> predict(BoosterHandle booster, DMatrixHandle data, std::int64_t rows) {
  // iteration_end 0 = all trees; a booster's own evaluation sets reuse its prediction cache,
  // so predicting the validation set after every round costs one tree, not all of them.
  const char* config =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  GNNKIT_XGB(XGBoosterPredictFromDMatrix(booster, data, config, &shape, &dim, &result));
  bst_ulong n = 1;
  for (bst_ulong d = 0; d < dim; ++d) n *= shape[d];
  if (std::int64_t(n) != rows)
    throw BackendError(kXgbFn,
                       detail::format("XGBoost returned {} predictions for {} rows", n, rows));
  return std::vector<float>(result, result + n);
}

std::string number(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

}  // namespace

std::string xgboost_version() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return detail::format("xgboost {}.{}.{}", major, minor, patch);
}

XgbResult train_and_predict(const DenseMatrix& train_x, std::span<const std::int64_t> train_y,
                            const DenseMatrix& val_x, std::span<const std::int64_t> val_y,
                            const DenseMatrix& test_x, const XgbConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, config.rounds >= 1,
                    "'config.rounds' must be >= 1, got {}", config.rounds);
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, config.max_depth >= 1,
                    "'config.max_depth' must be >= 1, got {}", config.max_depth);
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, config.eta > 0 && config.eta <= 1,
                    "'config.eta' must be in (0, 1], got {}", config.eta);
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, config.subsample > 0 && config.subsample <= 1,
                    "'config.subsample' must be in (0, 1], got {}", config.subsample);
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, config.colsample > 0 && config.colsample <= 1,
                    "'config.colsample' must be in (0, 1], got {}", config.colsample);
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn,
                    config.scale_pos_weight >= 0 && std::isfinite(config.scale_pos_weight),
                    "'config.scale_pos_weight' must be >= 0 (0 = automatic), got {}",
                    config.scale_pos_weight);
  check_matrix("train_x", train_x, false);
  check_matrix("val_x", val_x, false);
  check_matrix("test_x", test_x, true);
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, train_x.cols > 0,
                    "'train_x' must have at least one column, got 0");
  GNNKIT_EXPECTS_AS(ShapeMismatch, kXgbFn, val_x.cols == train_x.cols,
                    "'val_x' must have {} columns (like train_x), got {}", train_x.cols,
                    val_x.cols);
  GNNKIT_EXPECTS_AS(ShapeMismatch, kXgbFn, test_x.cols == train_x.cols,
                    "'test_x' must have {} columns (like train_x), got {}", train_x.cols,
                    test_x.cols);
  double train_pos = 0, val_pos = 0;
  check_labels("train_y", train_y, train_x.rows, &train_pos);
  check_labels("val_y", val_y, val_x.rows, &val_pos);
  const double train_neg = double(train_x.rows) - train_pos;
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, train_pos > 0 && train_neg > 0,
                    "'train_y' must contain both classes, got {} positives and {} negatives",
                    train_pos, train_neg);
  GNNKIT_EXPECTS_AS(InvalidArgument, kXgbFn, val_pos > 0,
                    "'val_y' must contain a positive for PR-AUC early stopping, got {} negatives "
                    "only",
                    val_x.rows);

  XgbResult result;
  result.scale_pos_weight =
      config.scale_pos_weight > 0 ? config.scale_pos_weight : train_neg / train_pos;
  const int threads = resolve_threads(config.threads);

  DMatrixGuard dtrain, dval, dtest;
  make_dmatrix(dtrain, train_x, train_y, threads);
  make_dmatrix(dval, val_x, val_y, threads);
  if (test_x.rows > 0) make_dmatrix(dtest, test_x, {}, threads);

  BoosterGuard booster;
  DMatrixHandle cached[] = {dtrain.handle, dval.handle};
  GNNKIT_XGB(XGBoosterCreate(cached, 2, &booster.handle));
  const std::pair<const char*, std::string> params[] = {
      {"objective", "binary:logistic"},
      {"eval_metric", "aucpr"},
      {"tree_method", "hist"},
      {"max_depth", std::to_string(config.max_depth)},
      {"eta", number(config.eta)},
      {"subsample", number(config.subsample)},
      {"colsample_bytree", number(config.colsample)},
      {"scale_pos_weight", number(result.scale_pos_weight)},
      {"nthread", std::to_string(threads)},
      {"seed", std::to_string(config.seed % 2147483648ULL)},
      {"verbosity", "1"},
  };
  for (const auto& [key, value] : params)
    GNNKIT_XGB(XGBoosterSetParam(booster.handle, key, value.c_str()));
  for (const auto& [key, value] : config.extra_params)
    GNNKIT_XGB(XGBoosterSetParam(booster.handle, key.c_str(), value.c_str()));

  // Early stopping on the library's average precision (the GNN's stopping metric too), from
  // incremental validation predictions.
  double best = -1;
  for (int it = 0; it < config.rounds; ++it) {
    GNNKIT_XGB(XGBoosterUpdateOneIter(booster.handle, it, dtrain.handle));
    const std::vector<float> p = predict(booster.handle, dval.handle, val_x.rows);
    const double ap = average_precision(std::span<const float>(p), val_y);
    result.val_pr_auc.push_back(ap);
    result.rounds_trained = it + 1;
    if (ap > best) {
      best = ap;
      result.best_iteration = it;
    }
    if (config.early_stopping_rounds > 0 &&
        it - result.best_iteration >= config.early_stopping_rounds)
      break;
  }
  result.best_val_pr_auc = best;

  // Keep the trees up to the best round only: predictions and importances of that model.
  BoosterGuard best_model;
  BoosterHandle model = booster.handle;
  if (result.best_iteration + 1 < result.rounds_trained) {
    GNNKIT_XGB(XGBoosterSlice(booster.handle, 0, result.best_iteration + 1, 1, &best_model.handle));
    model = best_model.handle;
  }
  result.val_scores = predict(model, dval.handle, val_x.rows);
  if (test_x.rows > 0) result.test_scores = predict(model, dtest.handle, test_x.rows);

  result.gain_importance.assign(std::size_t(train_x.cols), 0.0);
  bst_ulong n_features = 0, dim = 0;
  const char** names = nullptr;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  GNNKIT_XGB(XGBoosterFeatureScore(model, R"({"importance_type": "gain"})", &n_features, &names,
                                   &dim, &shape, &scores));
  for (bst_ulong i = 0; i < n_features; ++i) {
    // Without feature names XGBoost calls column j "f<j>".
    const char* name = names[i];
    if (name[0] != 'f') continue;
    char* end = nullptr;
    const long j = std::strtol(name + 1, &end, 10);
    if (end != name + 1 && *end == '\0' && j >= 0 && j < train_x.cols)
      result.gain_importance[std::size_t(j)] = scores[i];
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace gnnkit::fraud
