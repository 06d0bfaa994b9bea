#include "trainer.hpp"


#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <numeric>
#include <random>

#include "commands.hpp"
#include "gnnkit/train/checkpoint.hpp"
#include "gnnkit/train/loss.hpp"
#include "gnnkit/train/metrics.hpp"
#include "gnnkit/train/optimizer.hpp"

namespace gnnkit::fraud {
namespace {

using Clock = std::chrono::steady_clock;
double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

const HostArray* find_times(const GraphFile& file, const std::string& type) {
  const FeatureStore::Key key{FeatureStore::Kind::kNodeTimes, type, ""};
  return file.features.contains(key) ? &file.features.node_times(type) : nullptr;
}

}  // namespace

Split make_split(const GraphFile& file, const TrainConfig& config) {
  const Schema& schema = file.graph.schema();
  GNNKIT_EXPECTS_AS(InvalidArgument, "fraud::make_split", schema.find_node_type(config.target).has_value(),
                    "target node type '{}' is not in the graph (node types: {})", config.target,
                    file.graph.str());
  const auto labels = file.features.labels(config.target).as<std::int64_t>();
  std::vector<std::int64_t> ids;
  std::int64_t positives = 0;
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= 0) {
      GNNKIT_EXPECTS_AS(InvalidArgument, "fraud::make_split", labels[i] <= 1,
                        "labels of '{}' must be 0, 1 or -1 (unlabelled), got {} at node {}",
                        config.target, labels[i], i);
      ids.push_back(std::int64_t(i));
      positives += labels[i];
    }
  GNNKIT_EXPECTS_AS(InvalidArgument, "fraud::make_split",
                    positives > 0 && positives < std::int64_t(ids.size()),
                    "'{}' needs labelled nodes of both classes, got {} positives of {}",
                    config.target, positives, ids.size());
  Split split;
  const HostArray* times = find_times(file, config.target);
  const auto n = ids.size();
  const auto n_train = std::size_t(double(n) * config.train_fraction);
  const auto n_val = std::size_t(double(n) * config.val_fraction);
  if (times) {
    const auto t = times->as<std::int64_t>();
    std::stable_sort(ids.begin(), ids.end(), [&](std::int64_t a, std::int64_t b) {
      return t[std::size_t(a)] < t[std::size_t(b)];
    });
    split.train.assign(ids.begin(), ids.begin() + std::ptrdiff_t(n_train));
    split.val.assign(ids.begin() + std::ptrdiff_t(n_train), ids.begin() + std::ptrdiff_t(n_train + n_val));
    split.test.assign(ids.begin() + std::ptrdiff_t(n_train + n_val), ids.end());
    split.note = detail::format(
        "time split of the {} labelled '{}' nodes: earliest {}% train, next {}% validation, "
        "latest {}% test (times {} .. {} | {} .. {} | {} .. {})",
        n, config.target, int(config.train_fraction * 100), int(config.val_fraction * 100),
        100 - int(config.train_fraction * 100) - int(config.val_fraction * 100),
        t[std::size_t(split.train.front())], t[std::size_t(split.train.back())],
        t[std::size_t(split.val.front())], t[std::size_t(split.val.back())],
        t[std::size_t(split.test.front())], t[std::size_t(split.test.back())]);
    return split;
  }
  // No times: per class, shuffle with the seed and cut at the fractions (every part keeps the
  // class balance within one node).
  std::mt19937_64 rng(config.seed);
  for (std::int64_t cls : {0, 1}) {
    std::vector<std::int64_t> c;
    for (auto id : ids)
      if (labels[std::size_t(id)] == cls) c.push_back(id);
    std::shuffle(c.begin(), c.end(), rng);
    const auto a = std::size_t(std::llround(double(c.size()) * config.train_fraction));
    const auto b = a + std::size_t(std::llround(double(c.size()) * config.val_fraction));
    split.train.insert(split.train.end(), c.begin(), c.begin() + std::ptrdiff_t(a));
    split.val.insert(split.val.end(), c.begin() + std::ptrdiff_t(a), c.begin() + std::ptrdiff_t(b));
    split.test.insert(split.test.end(), c.begin() + std::ptrdiff_t(b), c.end());
  }
  for (auto* part : {&split.train, &split.val, &split.test}) std::sort(part->begin(), part->end());
  split.note = detail::format(
      "seeded stratified split (seed {}) of the {} labelled '{}' nodes, no times in the data: "
      "per class {}% train, {}% validation, the rest test",
      config.seed, n, config.target, int(config.train_fraction * 100), int(config.val_fraction * 100));
  return split;
}

struct FraudModel::State {
  const GraphFile* file = nullptr;
  TrainConfig config;
  Context ctx = Context::cpu();
  int target = 0;
  std::unique_ptr<nn::GnnModel> model;
  std::unique_ptr<NeighborSampler> sampler;
  std::vector<const FeatureMatrix*> features;  // per node type
  const HostArray* times = nullptr;            // of the target type, when temporal
  SeedIdentity identity;                       // extra input columns (empty when off)
  // The last training batch, for backward.
  MiniBatch mb;
  std::vector<nn::LayerGraph> layers;
  nn::GnnModel::Cache cache;
  std::vector<Tensor> buffers;
  std::int64_t out_rows = 0;

  std::vector<Tensor> gather(const MiniBatch& batch, std::vector<Tensor>& bufs) const {
    std::vector<Tensor> x(features.size());
    for (std::size_t t = 0; t < features.size(); ++t) {
      const auto& nodes = batch.nodes[t];
      const std::int64_t rows = std::int64_t(nodes.size()), cols = features[t]->cols;
      const std::int64_t width = cols + identity.columns(int(t));
      if (!bufs[t].defined() || bufs[t].size(0) < rows)
        bufs[t] = Tensor::empty({rows + rows / 4 + 16, width}, DType::kFloat32);
      Tensor view = nn::slice_rows(bufs[t], 0, rows);
      const std::int64_t shape[] = {rows}, out_shape[] = {rows, cols}, out_strides[] = {width, 1};
      file->features.gather(ctx, {FeatureStore::Kind::kNodeFeatures, file->graph.schema().node_type(int(t)), "x"},
                            TensorView(const_cast<std::int64_t*>(nodes.data()), DType::kInt64, Device::cpu(), shape),
                            TensorView(view.data(), DType::kFloat32, Device::cpu(), out_shape, out_strides));
      identity.fill(batch, int(t), view.data_as<float>() + cols, width, ctx.num_threads());
      x[t] = view;
    }
    return x;
  }

  /// Samples ids' neighbourhoods into `batch`; returns the row of each id in the output.
  void sample(const std::vector<std::int64_t>& ids, std::uint64_t key, MiniBatch& batch) const {
    const std::int64_t shape[] = {std::int64_t(ids.size())};
    const TensorView seeds(const_cast<std::int64_t*>(ids.data()), DType::kInt64, Device::cpu(), shape);
    std::vector<std::int64_t> seed_times;
    std::optional<TensorView> tv;
    if (times) {
      const auto t = times->as<std::int64_t>();
      seed_times.resize(ids.size());
      for (std::size_t i = 0; i < ids.size(); ++i) seed_times[i] = t[std::size_t(ids[i])];
      tv = TensorView(seed_times.data(), DType::kInt64, Device::cpu(), shape);
    }
    sampler->sample_into(ctx, config.target, seeds, tv, key, batch);
  }
};

FraudModel::FraudModel(const GraphFile& file, const TrainConfig& config) : s_(std::make_unique<State>()) {
  s_->file = &file;
  s_->config = config;
  s_->ctx = Context::cpu(config.threads, config.seed);
  const Schema& schema = file.graph.schema();
  GNNKIT_EXPECTS_AS(InvalidArgument, "FraudModel", schema.find_node_type(config.target).has_value(),
                    "target node type '{}' is not in the graph", config.target);
  s_->target = schema.node_type_id(config.target);
  std::vector<std::int64_t> widths;
  for (int t = 0; t < schema.num_node_types(); ++t) {
    const FeatureMatrix& m = file.features.node_features(schema.node_type(t), "x");
    GNNKIT_EXPECTS_AS(InvalidArgument, "FraudModel", m.rows == schema.num_nodes(t),
                      "features of '{}' have {} rows, the graph has {} nodes", schema.node_type(t),
                      m.rows, schema.num_nodes(t));
    s_->features.push_back(&m);
    widths.push_back(m.cols);
  }
  const FeatureStore::Key time_key{FeatureStore::Kind::kNodeTimes, config.target, ""};
  const bool temporal = config.temporal && file.features.contains(time_key);
  if (temporal && config.seed_identity) {
    s_->identity = SeedIdentity(file.graph, s_->target);
    for (int t = 0; t < schema.num_node_types(); ++t) widths[std::size_t(t)] += s_->identity.columns(t);
  }
  s_->buffers.resize(s_->features.size());
  nn::GnnModelOptions o;
  GNNKIT_EXPECTS_AS(InvalidArgument, "FraudModel", config.conv == "sage" || config.conv == "gat",
                    "'conv' must be 'sage' or 'gat', got '{}'", config.conv);
  o.conv = config.conv == "gat" ? nn::ConvKind::kGat : nn::ConvKind::kSage;
  o.num_layers = config.layers;
  o.hidden = config.hidden;
  o.out = 1;
  o.heads = config.conv == "gat" ? config.heads : 1;
  o.dropout = config.dropout;
  o.hetero_aggr = nn::Reduce::kSum;
  GNNKIT_EXPECTS_AS(InvalidArgument, "FraudModel", config.aggr == "mean" || config.aggr == "max" || config.aggr == "sum",
                    "'aggr' must be mean, max or sum, got '{}'", config.aggr);
  o.aggr = config.aggr == "max" ? nn::Reduce::kMax : config.aggr == "sum" ? nn::Reduce::kSum : nn::Reduce::kMean;
  o.input_projection = true;
  s_->model = std::make_unique<nn::GnnModel>(nn::ModelSpec::from_graph(file.graph, widths, s_->target), o,
                                             config.seed);
  SamplingOptions so;
  so.fanouts.assign(std::size_t(config.layers), 10);
  if (!config.fanouts.empty()) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "FraudModel", int(config.fanouts.size()) == config.layers,
                      "'fanouts' needs one entry per layer ({}), got {}", config.layers,
                      config.fanouts.size());
    so.fanouts = config.fanouts;
  }
  if (temporal) {
    s_->times = &file.features.node_times(config.target);
    GNNKIT_EXPECTS_AS(InvalidArgument, "FraudModel",
                      config.temporal_strategy == "recent" || config.temporal_strategy == "uniform",
                      "'temporal_strategy' must be recent or uniform, got '{}'", config.temporal_strategy);
    so.temporal = config.temporal_strategy == "recent" ? TemporalStrategy::kMostRecent : TemporalStrategy::kUniform;
    so.disjoint = true;  // each example gets its own past
  }
  s_->sampler = std::make_unique<NeighborSampler>(file.graph, so);
}

FraudModel::~FraudModel() = default;
FraudModel::FraudModel(FraudModel&&) noexcept = default;
nn::GnnModel& FraudModel::model() { return *s_->model; }
const TrainConfig& FraudModel::config() const { return s_->config; }
const SeedIdentity& FraudModel::seed_identity() const { return s_->identity; }

Tensor FraudModel::forward_batch(const std::vector<std::int64_t>& ids, bool training, std::uint64_t key) {
  State& s = *s_;
  s.sample(ids, key, s.mb);
  const std::vector<Tensor> x = s.gather(s.mb, s.buffers);
  s.layers = nn::layer_graphs(s.mb, s.model->num_layers(), s.ctx.num_threads(), training);
  Tensor out = s.model->forward(s.ctx, s.layers, x, {training, key, false}, training ? &s.cache : nullptr);
  s.out_rows = out.size(0);
  // One logit per given id (seed_local: the output row of each seed).
  Tensor logits = Tensor::empty({std::int64_t(ids.size())}, DType::kFloat32);
  for (std::size_t i = 0; i < ids.size(); ++i)
    logits.data_as<float>()[i] = out.data_as<float>()[s.mb.seed_local[i]];
  return logits;
}

void FraudModel::backward_batch(const Tensor& grad_logits) {
  State& s = *s_;
  Tensor g = Tensor::zeros({s.out_rows, 1}, DType::kFloat32);
  for (std::size_t i = 0; i < s.mb.seed_local.size(); ++i)
    g.data_as<float>()[s.mb.seed_local[i]] += grad_logits.data_as<float>()[i];
  s.model->backward(s.ctx, s.layers, s.cache, g, false);
}

std::vector<float> FraudModel::predict(const std::vector<std::int64_t>& ids, std::uint64_t batch_key) const {
  const State& s = *s_;
  std::vector<float> scores(ids.size());
  MiniBatch mb;
  std::vector<Tensor> buffers(s.features.size());
  const std::int64_t bs = s.config.batch_size;
  for (std::size_t b = 0; b < ids.size(); b += std::size_t(bs)) {
    const std::vector<std::int64_t> chunk(ids.begin() + std::ptrdiff_t(b),
                                          ids.begin() + std::ptrdiff_t(std::min(ids.size(), b + std::size_t(bs))));
    s.sample(chunk, batch_key + b, mb);
    const auto x = s.gather(mb, buffers);
    const auto layers = nn::layer_graphs(mb, s.model->num_layers(), s.ctx.num_threads(), false);
    const Tensor out = s.model->forward(s.ctx, layers, x, {}, nullptr);
    for (std::size_t i = 0; i < chunk.size(); ++i)
      scores[b + i] = float(1.0 / (1.0 + std::exp(-double(out.data_as<float>()[mb.seed_local[i]]))));
  }
  return scores;
}

TrainResult train(FraudModel& fm, const GraphFile& file, const TrainConfig& config,
                  const std::function<void(const std::string&)>& log) {
  TrainResult result;
  result.split = make_split(file, config);
  const auto labels = file.features.labels(config.target).as<std::int64_t>();
  std::int64_t pos = 0;
  for (auto id : result.split.train) pos += labels[std::size_t(id)];
  const std::int64_t neg = std::int64_t(result.split.train.size()) - pos;
  result.pos_weight = config.pos_weight > 0 ? config.pos_weight : std::sqrt(double(neg) / double(std::max<std::int64_t>(pos, 1)));
  const Context ctx = Context::cpu(config.threads, config.seed);
  ParameterList& params = fm.model().parameters();
  AdamW adam(params, AdamWOptions{config.lr, 0.9, 0.999, 1e-8, config.weight_decay});
  std::vector<Tensor> best;
  double best_pr = -1;
  int waited = 0;
  std::vector<double> epoch_seconds;
  auto label_of = [&](const std::vector<std::int64_t>& ids) {
    std::vector<std::int64_t> y(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) y[i] = labels[std::size_t(ids[i])];
    return y;
  };
  const auto val_labels = label_of(result.split.val);
  ProgressLine progress(config.progress);
  for (int epoch = 0; epoch < config.epochs; ++epoch) {
    const double t0 = now_s();
    std::vector<std::int64_t> order = result.split.train;
    std::mt19937_64 rng(config.seed * 1000003 + std::uint64_t(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    const std::int64_t batches = (std::int64_t(order.size()) + config.batch_size - 1) / config.batch_size;
    double loss_sum = 0;
    for (std::int64_t b = 0; b < batches; ++b) {
      const auto first = order.begin() + std::ptrdiff_t(b * config.batch_size);
      const std::vector<std::int64_t> ids(first, order.begin() + std::ptrdiff_t(std::min<std::int64_t>(
                                                                    (b + 1) * config.batch_size, std::int64_t(order.size()))));
      params.zero_grad();
      const Tensor logits = fm.forward_batch(ids, true, (std::uint64_t(epoch) << 32) + std::uint64_t(b));
      std::vector<float> targets(ids.size());
      for (std::size_t i = 0; i < ids.size(); ++i) targets[i] = float(labels[std::size_t(ids[i])]);
      Tensor grad = Tensor::empty({std::int64_t(ids.size())}, DType::kFloat32);
      const double loss = binary_cross_entropy_with_logits(ctx, logits, targets, result.pos_weight, grad);
      fm.backward_batch(grad);
      adam.step(ctx);
      loss_sum += loss;
      progress.update("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(config.epochs), b + 1, batches,
                      detail::format("loss {}", loss_sum / double(b + 1)));
    }
    const double train_seconds = now_s() - t0;
    epoch_seconds.push_back(train_seconds);
    const std::vector<float> val_scores = fm.predict(result.split.val, 1ull << 60);
    EpochStats st;
    st.epoch = epoch;
    st.train_loss = loss_sum / double(std::max<std::int64_t>(batches, 1));
    st.val_pr_auc = average_precision(std::span<const float>(val_scores), val_labels);
    st.val_roc_auc = roc_auc(std::span<const float>(val_scores), val_labels);
    double vl = 0;  // weighted BCE on probabilities, as the training loss
    for (std::size_t i = 0; i < val_scores.size(); ++i) {
      const double p = std::clamp(double(val_scores[i]), 1e-7, 1 - 1e-7);
      vl -= val_labels[i] ? result.pos_weight * std::log(p) : std::log(1 - p);
    }
    st.val_loss = vl / double(std::max<std::size_t>(val_scores.size(), 1));
    st.seconds = now_s() - t0;
    result.history.push_back(st);
    progress.finish();
    if (log)
      log(detail::format("epoch {}: train loss {}, val loss {}, val PR-AUC {}, val ROC-AUC {}, {} s", epoch + 1,
                         st.train_loss, st.val_loss, st.val_pr_auc, st.val_roc_auc, st.seconds));
    if (st.val_pr_auc > best_pr) {
      best_pr = st.val_pr_auc;
      result.best_epoch = epoch;
      waited = 0;
      best.clear();
      for (const auto& p : params) best.push_back(p->value.clone());
      if (!config.checkpoint.empty())
        save_checkpoint(config.checkpoint, params, &adam,
                        {{"epoch", std::to_string(epoch + 1)},
                         {"val_pr_auc", std::to_string(st.val_pr_auc)},
                         {"conv", config.conv},
                         {"layers", std::to_string(config.layers)},
                         {"fanouts", join_list(config.fanouts)},
                         {"temporal_strategy", config.temporal_strategy},
                         {"aggr", config.aggr},
                         {"seed_identity", fm.seed_identity().empty() ? "0" : "1"},
                         {"hidden", std::to_string(config.hidden)},
                         {"heads", std::to_string(config.heads)},
                         {"target", config.target}});
    } else if (++waited >= config.patience) {
      break;
    }
  }
  for (std::size_t i = 0; i < best.size(); ++i)
    std::memcpy(params[i]->value.data(), best[i].data(), best[i].nbytes());
  std::sort(epoch_seconds.begin(), epoch_seconds.end());
  result.seconds_per_epoch = epoch_seconds.empty() ? 0 : epoch_seconds[epoch_seconds.size() / 2];
  result.val = {result.split.val, fm.predict(result.split.val, 1ull << 60), val_labels};
  result.test = {result.split.test, fm.predict(result.split.test, 1ull << 61), label_of(result.split.test)};
  return result;
}

}  // namespace gnnkit::fraud
