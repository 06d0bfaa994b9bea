#include "src/commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <sstream>

#include "app/cli.hpp"
#include "app/json.hpp"
#include "app/progress.hpp"
#include "app/svg_plot.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/core/context.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/sampling/random.hpp"
#include "src/generator.hpp"
#include "src/interactions.hpp"
#include "src/lightgcn.hpp"
#include "src/ranking.hpp"
#include "src/sage.hpp"
#include "src/serving.hpp"

namespace gnnkit::recsys {
namespace fs = std::filesystem;
using app::option_value;
using app::parse_number;
using app::parse_threads;
using app::UsageError;

namespace {

constexpr std::int64_t kK = 20;       // the headline cut-off (LightGCN protocol)
constexpr std::int64_t kCurve = 100;  // Recall@K plotted for K = 1..kCurve

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// One evaluated model of the report.
struct ModelRow {
  std::string name;
  std::string settings;  // hyper-parameters, as the report shows them
  RankingMetrics metrics;
  std::vector<EpochRecord> history;  // empty for popularity
  double seconds_per_epoch = 0;
  double train_seconds = 0;
};

std::string metrics_json(const std::vector<ModelRow>& rows, const RecData& data,
                         const LightGcnOptions& opt) {
  std::string out = "{\n  \"dataset\": " + app::json_quote(data.name) +
                    ",\n  \"users\": " + std::to_string(data.train.num_users) +
                    ",\n  \"items\": " + std::to_string(data.train.num_items) +
                    ",\n  \"train_interactions\": " + std::to_string(data.train.num_interactions()) +
                    ",\n  \"test_interactions\": " + std::to_string(data.test.num_interactions()) +
                    ",\n  \"k\": " + std::to_string(kK) + ",\n  \"options\": {\"layers\": " +
                    std::to_string(opt.layers) + ", \"dim\": " + std::to_string(opt.dim) +
                    ", \"epochs\": " + std::to_string(opt.epochs) + ", \"batch\": " +
                    std::to_string(opt.batch) + ", \"lr\": " + app::json_number(opt.lr) +
                    ", \"reg\": " + app::json_number(opt.reg) + ", \"lightgcn_negatives\": " +
                    std::to_string(opt.negatives) + ", \"hard_negatives\": " +
                    std::to_string(opt.hard_negatives) + ", \"seed\": " +
                    std::to_string(opt.seed) + "},\n  \"models\": [";
  for (std::size_t m = 0; m < rows.size(); ++m) {
    const ModelRow& r = rows[m];
    out += std::string(m ? "," : "") + "\n    {\"name\": " + app::json_quote(r.name) +
           ", \"settings\": " + app::json_quote(r.settings) +
           ", \"recall_at_20\": " + app::json_number(r.metrics.recall) +
           ", \"ndcg_at_20\": " + app::json_number(r.metrics.ndcg) +
           ", \"users_evaluated\": " + std::to_string(r.metrics.users) +
           ", \"ranking_seconds\": " + app::json_number(r.metrics.seconds) +
           ", \"seconds_per_epoch\": " + app::json_number(r.seconds_per_epoch) +
           ", \"train_seconds\": " + app::json_number(r.train_seconds) + ", \"recall_curve\": [";
    for (std::size_t k = 0; k < r.metrics.recall_curve.size(); ++k)
      out += (k ? ", " : "") + app::json_number(r.metrics.recall_curve[k]);
    out += "], \"history\": [";
    for (std::size_t e = 0; e < r.history.size(); ++e) {
      const EpochRecord& h = r.history[e];
      out += std::string(e ? ", " : "") + "{\"epoch\": " + std::to_string(h.epoch) +
             ", \"loss\": " + app::json_number(h.loss) + ", \"seconds\": " + app::json_number(h.seconds);
      if (h.evaluated)
        out += ", \"recall_at_20\": " + app::json_number(h.recall) + ", \"ndcg_at_20\": " +
               app::json_number(h.ndcg);
      out += "}";
    }
    out += "]}";
  }
  return out + "\n  ]\n}\n";
}

void write_report(const std::string& dir, const std::vector<ModelRow>& rows, const RecData& data,
                  const LightGcnOptions& opt, const std::string& model_dir) {
  constexpr const char* fn = "write_report";
  const fs::path root(dir);
  // Training curves: loss and test Recall@20 per epoch of each trained model.
  app::LineChart loss{.title = "Training loss (BPR)", .x_label = "epoch", .y_label = "loss"};
  app::LineChart recall{.title = "Test Recall@20 during training", .x_label = "epoch",
                        .y_label = "Recall@20"};
  loss.integer_x = recall.integer_x = true;
  loss.legend = app::LegendPosition::kTopRight;
  loss.id = "loss";
  recall.id = "recall";
  // One colour per model in every chart; popularity is the grey reference.
  const auto colour = [&](const ModelRow& r) {
    if (r.history.empty()) return std::string(app::kReferenceGrey);
    std::size_t trained_index = 0;
    for (const ModelRow& o : rows) {
      if (&o == &r) break;
      trained_index += !o.history.empty();
    }
    return std::string(app::kPalette[trained_index % app::kPalette.size()]);
  };
  for (const ModelRow& r : rows) {
    if (r.history.empty()) continue;
    app::Series l{.name = r.name, .colour = colour(r)};
    app::Series rc{.name = r.name, .colour = colour(r), .markers = true};
    for (const EpochRecord& h : r.history) {
      l.x.push_back(h.epoch), l.y.push_back(h.loss);
      if (h.evaluated) rc.x.push_back(h.epoch), rc.y.push_back(h.recall);
    }
    loss.series.push_back(l);
    recall.series.push_back(rc);
  }
  const bool trained = !loss.series.empty();
  if (trained)
    app::write_file_atomic((root / "training.svg").string(), app::render_svg_row({loss, recall}), fn);
  app::LineChart curve{.title = "Recall@K over all items (test users)", .x_label = "K",
                       .y_label = "Recall@K"};
  curve.legend = app::LegendPosition::kBottomRight;
  curve.integer_x = true;
  for (const ModelRow& r : rows) {
    app::Series s{.name = r.name, .colour = colour(r), .dashed = r.history.empty()};
    for (std::size_t k = 0; k < r.metrics.recall_curve.size(); ++k)
      s.x.push_back(double(k + 1)), s.y.push_back(r.metrics.recall_curve[k]);
    curve.series.push_back(s);
  }
  double top = 0;
  for (const ModelRow& r : rows)
    for (double v : r.metrics.recall_curve) top = std::max(top, v);
  curve.y_range = std::make_pair(0.0, std::min(1.0, std::max(0.05, top * 1.1)));
  app::write_file_atomic((root / "recall_at_k.svg").string(), app::render_svg(curve), fn);

  std::string md = "# Recommendation: " + data.name + "\n\n" + data.source + ": " +
                   std::to_string(data.train.num_users) + " users, " +
                   std::to_string(data.train.num_items) + " items, " +
                   std::to_string(data.train.num_interactions()) + " training and " +
                   std::to_string(data.test.num_interactions()) + " test interactions.\n\n" +
                   "## Full-ranking test metrics\n\n"
                   "| Model | Recall@20 | NDCG@20 | Training time per epoch | Ranking time |\n"
                   "|---|---:|---:|---:|---:|\n";
  std::size_t best = 0;
  for (std::size_t m = 0; m < rows.size(); ++m)
    if (rows[m].metrics.recall > rows[best].metrics.recall) best = m;
  for (std::size_t m = 0; m < rows.size(); ++m) {
    const ModelRow& r = rows[m];
    const std::string star = m == best ? " ★" : "";
    md += "| " + r.name + " | " + (m == best ? "**" : "") + fixed(r.metrics.recall, 4) +
          (m == best ? "**" : "") + star + " | " + fixed(r.metrics.ndcg, 4) + " | " +
          (r.history.empty() ? std::string("-") : fixed(r.seconds_per_epoch, 2) + " s") + " | " +
          fixed(r.metrics.seconds, 2) + " s |\n";
  }
  md += "\n" + std::to_string(rows.front().metrics.users) +
        " test users. Every item a user has not interacted with in training is ranked (the "
        "LightGCN protocol): Recall@20 is the share of the user's test items in the top 20, "
        "NDCG@20 also rewards placing them early; both are averaged over test users. ★ best "
        "Recall@20. The metrics are those after the last epoch (no epoch is picked on the "
        "test set).\n\n";
  if (trained)
    md += "## Training\n\n![Training curves](training.svg)\n\nHow to read: left, the BPR loss "
          "per epoch (it should fall); right, the test Recall@20 every few epochs (it should "
          "rise, then flatten; a fall means over-fitting).\n\n";
  md += "## Recall@K\n\n![Recall at K](recall_at_k.svg)\n\nHow to read: the share of test items "
        "found in the top K recommendations, for K = 1..100. Higher is better; the gap between "
        "the GNN and popularity is the personalisation the graph adds.\n\n";
  md += "## Run details\n\n| | |\n|---|---|\n";
  for (const ModelRow& r : rows)
    if (!r.settings.empty()) md += "| " + r.name + " | " + r.settings + " |\n";
  md += "| seed | " + std::to_string(opt.seed) + " |\n| model folder | " + model_dir +
        " |\n| build | " + build_info() + " |\n\nRaw numbers: [metrics.json](metrics.json).\n";
  app::write_file_atomic((root / "report.md").string(), md, fn);
  app::write_file_atomic((root / "metrics.json").string(), metrics_json(rows, data, opt), fn);
}

RecData load_data(const std::string& dataset, const std::string& root, const std::string& folder,
                  const char* command) {
  if (!dataset.empty() && !folder.empty()) throw UsageError{"give --dataset or --data, not both"};
  if (dataset.empty() && folder.empty())
    throw UsageError{std::string(command) + " needs --dataset NAME or --data DIR"};
  return folder.empty() ? load_dataset(dataset, root) : read_lightgcn_folder(folder);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

const char* generate_usage() {
  return "usage: gnnkit-recsys generate --out DIR [options]\n"
         "  --users N            users (default 20000)\n"
         "  --items M            items (default 5000)\n"
         "  --categories C       item categories (default 24)\n"
         "  --sessions S         mean shopping sessions per user (default 12)\n"
         "  --test-fraction F    latest share of each user's sessions held out (default 0.2)\n"
         "  --seed S             random seed (default 1); same seed -> same files\n"
         "  --threads T          worker threads (default: all cores; output does not depend on it)\n"
         "writes DIR/train.txt, test.txt (LightGCN format), meta.json, items.csv, events.csv\n";
}

int generate_command(const std::vector<std::string>& args) {
  GeneratorOptions opt;
  std::string out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return std::fputs(generate_usage(), stdout), 0;
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--users") opt.users = parse_number<std::int64_t>(a, value());
    else if (a == "--items") opt.items = parse_number<std::int64_t>(a, value());
    else if (a == "--categories") opt.categories = parse_number<int>(a, value());
    else if (a == "--sessions") opt.sessions_per_user = parse_number<double>(a, value());
    else if (a == "--test-fraction") opt.test_fraction = parse_number<double>(a, value());
    else if (a == "--seed") opt.seed = parse_number<std::uint64_t>(a, value());
    else if (a == "--threads") opt.threads = parse_threads(a, value());
    else if (a == "--out") out = value();
    else throw UsageError{"unknown option '" + a + "' for generate"};
  }
  if (out.empty()) throw UsageError{"generate needs --out DIR"};
  try {
    validate(opt);
  } catch (const InvalidArgument& e) {
    throw UsageError{e.what()};
  }
  const auto t0 = std::chrono::steady_clock::now();
  const SyntheticShop shop = generate_shop(opt);
  write_shop(out, shop);
  std::printf("wrote %s: %lld users, %lld items, %lld training and %lld test interactions, "
              "%zu events (%.1f s)\n",
              out.c_str(), (long long)shop.data.train.num_users, (long long)shop.data.train.num_items,
              (long long)shop.data.train.num_interactions(),
              (long long)shop.data.test.num_interactions(), shop.events.size(), seconds_since(t0));
  return 0;
}

const char* train_usage() {
  return "usage: gnnkit-recsys train (--dataset NAME [--data-root DIR] | --data DIR) --out DIR [options]\n"
         "  --dataset NAME       movielens-1m-lcfn or amazon-cds, read from --data-root\n"
         "                       (default ../shared/data)\n"
         "  --data DIR           a LightGCN-format folder (train.txt, test.txt), e.g. from generate;\n"
         "                       its items.csv (category, price), when present, feeds SAGE\n"
         "  --out DIR            report folder; the model goes to DIR/model\n"
         "  --model M[,M...]     lightgcn (default), sage (GraphSAGE two-tower) or mf (BPR matrix\n"
         "                       factorisation); several train side by side, the first is saved\n"
         "  --dim D              embedding size of every model (default 64)\n"
         "LightGCN (and mf when it is listed):\n"
         "  --layers K           propagation layers (default 3)\n"
         "  --epochs E           epochs (default 40)\n"
         "  --batch B            BPR triples per step (default 8192)\n"
         "  --lr X               Adam learning rate (default 0.01)\n"
         "  --reg X              L2 weight on the batch's embeddings (default 0.002)\n"
         "  --lr-schedule S      constant (default) or cosine: lr decays to 0 over the epochs\n"
         "  --lightgcn-negatives N  negatives per positive, BPR averaged over them (default 4;\n"
         "                       BPR-MF uses the same number)\n"
         "  --hard-negatives M   each negative is the best-scoring of M uniform unseen draws\n"
         "                       under the current model (dynamic negative sampling; default 8;\n"
         "                       1 = uniform; BPR-MF uses the same M)\n"
         "GraphSAGE two-tower (link neighbour sampling with negatives):\n"
         "  --sage-layers L      SAGE layers (default 2)\n"
         "  --fanouts F1,F2      neighbours sampled per hop, one per layer (default 10,10; -1 = all)\n"
         "  --hidden H           width between layers (default 64)\n"
         "  --negatives N        negative items per positive (default 4)\n"
         "  --sage-epochs E, --sage-batch B, --sage-lr X, --sage-reg X\n"
         "                       (defaults 20, 2048, 0.005, 0.0001)\n"
         "BPR-MF (the baseline, or a model when listed; epochs and batch as LightGCN's):\n"
         "  --mf-lr X, --mf-reg X   learning rate and L2 (default 0.003 and 0.03: MF needs a\n"
         "                       stronger L2 than LightGCN)\n"
         "  --no-baselines       skip BPR-MF (popularity is always reported)\n"
         "  --eval-every N       test Recall@20 every N epochs (default 5; 0 = only at the end)\n"
         "  --seed S             model seed (default 1)\n"
         "  --threads T          CPU threads (default: all cores)\n";
}

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= text.size()) {
    const std::size_t e = std::min(text.find(',', b), text.size());
    out.push_back(text.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

std::string lightgcn_settings(const LightGcnOptions& o) {
  return (o.layers > 0 ? std::to_string(o.layers) + " layers, " : std::string()) + "dim " +
         std::to_string(o.dim) + ", " +
         (o.negatives > 1 ? std::to_string(o.negatives) + " negatives, " : std::string()) +
         (o.hard_negatives > 1 ? "hard of " + std::to_string(o.hard_negatives) + ", " : std::string()) +
         std::to_string(o.epochs) + " epochs, batch " +
         std::to_string(o.batch) + ", lr " + app::json_number(o.lr) + (o.cosine_lr ? " (cosine)" : "") +
         ", L2 " + app::json_number(o.reg);
}

std::string sage_settings(const SageOptions& o) {
  std::string fanouts;
  for (std::size_t h = 0; h < o.fanouts.size(); ++h)
    fanouts += (h ? "," : "") + std::to_string(o.fanouts[h]);
  return std::to_string(o.model.layers) + " layers, fan-outs " + fanouts + ", dim " +
         std::to_string(o.model.dim) + ", hidden " + std::to_string(o.model.hidden) + ", " +
         std::to_string(o.negatives) + " negative(s), " + std::to_string(o.epochs) +
         " epochs, batch " + std::to_string(o.batch) + ", lr " + app::json_number(o.lr) +
         ", L2 " + app::json_number(o.model.reg);
}

}  // namespace

int train_command(const std::vector<std::string>& args) {
  LightGcnOptions opt;
  opt.epochs = 40;
  opt.batch = 8192;
  opt.lr = 0.01;
  // Hard negatives (the best of 8 unseen draws) with L2 0.002: Recall@20 0.281 on
  // movielens-1m-lcfn and 0.154 on amazon-cds within 20-40 epochs, against 0.264 / 0.146 after
  // 60 / 150 epochs with uniform negatives and L2 0.001 (bench/README.md).
  opt.reg = 2e-3;
  opt.hard_negatives = 8;
  opt.eval_every = 5;
  // 4 negatives per positive: +3 % Recall@20 for LightGCN and for BPR-MF on movielens-1m-lcfn
  // (60 epochs: 0.2644 vs 0.2570, MF 0.2531 vs 0.2466) at about the same time per epoch (the
  // full propagation per batch dominates).
  opt.negatives = 4;
  SageOptions sage;
  std::string dataset, root = "../shared/data", folder, out, model_list = "lightgcn";
  // BPR-MF's own defaults: with LightGCN's (lr 0.01, L2 0.001) it over-fits (movielens-1m-lcfn,
  // 60 epochs: Recall@20 0.19); 0.003 / 0.01 was the best of a small sweep there with uniform
  // negatives (0.246). Hard negatives over-fit sooner: L2 0.03 (0.278 after 40 epochs on
  // movielens-1m-lcfn, against 0.268 at epoch 10 and falling with 0.01).
  double mf_lr = 0.003, mf_reg = 0.03;
  bool baselines = true, fanouts_given = false;
  int threads = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return std::fputs(train_usage(), stdout), 0;
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--dataset") dataset = value();
    else if (a == "--data-root") root = value();
    else if (a == "--data") folder = value();
    else if (a == "--out") out = value();
    else if (a == "--model") model_list = value();
    else if (a == "--layers") opt.layers = parse_number<int>(a, value());
    else if (a == "--dim") opt.dim = sage.model.dim = parse_number<std::int64_t>(a, value());
    else if (a == "--epochs") opt.epochs = parse_number<int>(a, value());
    else if (a == "--batch") opt.batch = parse_number<std::int64_t>(a, value());
    else if (a == "--lr") opt.lr = parse_number<double>(a, value());
    else if (a == "--reg") opt.reg = parse_number<double>(a, value());
    else if (a == "--lr-schedule") {
      const std::string& v = value();
      if (v != "constant" && v != "cosine")
        throw UsageError{"'--lr-schedule' must be constant or cosine, got '" + v + "'"};
      opt.cosine_lr = v == "cosine";
    }
    else if (a == "--lightgcn-negatives") opt.negatives = parse_number<std::int64_t>(a, value());
    else if (a == "--hard-negatives") opt.hard_negatives = parse_number<std::int64_t>(a, value());
    else if (a == "--sage-layers") sage.model.layers = parse_number<int>(a, value());
    else if (a == "--fanouts") {
      sage.fanouts.clear();
      for (const std::string& f : split_list(value())) sage.fanouts.push_back(parse_number<std::int64_t>(a, f));
      fanouts_given = true;
    }
    else if (a == "--hidden") sage.model.hidden = parse_number<std::int64_t>(a, value());
    else if (a == "--negatives") sage.negatives = parse_number<std::int64_t>(a, value());
    else if (a == "--sage-epochs") sage.epochs = parse_number<int>(a, value());
    else if (a == "--sage-batch") sage.batch = parse_number<std::int64_t>(a, value());
    else if (a == "--sage-lr") sage.lr = parse_number<double>(a, value());
    else if (a == "--sage-reg") sage.model.reg = parse_number<double>(a, value());
    else if (a == "--mf-lr") mf_lr = parse_number<double>(a, value());
    else if (a == "--mf-reg") mf_reg = parse_number<double>(a, value());
    else if (a == "--eval-every") opt.eval_every = sage.eval_every = parse_number<int>(a, value());
    else if (a == "--no-baselines") baselines = false;
    else if (a == "--seed") opt.seed = sage.model.seed = parse_number<std::uint64_t>(a, value());
    else if (a == "--threads") threads = parse_threads(a, value());
    else throw UsageError{"unknown option '" + a + "' for train"};
  }
  if (out.empty()) throw UsageError{"train needs --out DIR"};
  const std::vector<std::string> models = split_list(model_list);
  for (std::size_t m = 0; m < models.size(); ++m) {
    if (models[m] != "lightgcn" && models[m] != "mf" && models[m] != "sage")
      throw UsageError{"--model must list lightgcn, sage or mf, got '" + models[m] + "'"};
    if (std::count(models.begin(), models.end(), models[m]) > 1)
      throw UsageError{"--model lists '" + models[m] + "' twice"};
  }
  // --sage-layers 3 without --fanouts: repeat the last default fan-out (validate() then
  // checks the layer count; never resize to an absurd one).
  if (!fanouts_given && sage.model.layers >= 1 && sage.model.layers <= 4)
    sage.fanouts.resize(std::size_t(sage.model.layers), sage.fanouts.back());
  LightGcnOptions mf = opt;
  mf.layers = 0;
  mf.lr = mf_lr;
  mf.reg = mf_reg;
  const bool list_mf = std::find(models.begin(), models.end(), "mf") != models.end();
  const bool list_sage = std::find(models.begin(), models.end(), "sage") != models.end();
  // Before any training: a bad flag costs no epochs, and is a usage error (exit code 2).
  try {
    validate(opt);
    if (baselines || list_mf) validate(mf);
    if (list_sage) validate(sage);
  } catch (const InvalidArgument& e) {
    throw UsageError{e.what()};
  }
  const RecData data = load_data(dataset, root, folder, "train");
  const Tensor item_features = list_sage && !folder.empty()
                                   ? read_item_features(folder, data.train.num_items)
                                   : Tensor();
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw IoError("train", detail::format("cannot create '{}': {}", out, ec.message()));
  // Where the model goes must be usable before any epoch is spent on it.
  const fs::path model_path = fs::path(out) / "model";
  if (fs::exists(model_path, ec) && !fs::is_directory(model_path, ec))
    throw IoError("train", detail::format("cannot write the model to '{}': it exists and is not a folder",
                                          model_path.string()));
  const Context ctx = Context::cpu(threads);
  std::printf("%s: %lld users, %lld items, %lld training / %lld test interactions\n",
              data.name.c_str(), (long long)data.train.num_users, (long long)data.train.num_items,
              (long long)data.train.num_interactions(), (long long)data.test.num_interactions());
  if (item_features.defined())
    std::printf("item features: %lld per item (category one-hot, log price)\n",
                (long long)item_features.size(1));
  std::fflush(stdout);

  std::vector<ModelRow> rows;
  const std::vector<std::int64_t> test_users = data.test.active_users();
  {
    ModelRow pop{.name = "popularity"};
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<std::int64_t> counts = data.train.item_counts();
    const std::vector<float> scores(counts.begin(), counts.end());
    const TopK ranked = top_k_shared(scores, test_users, kCurve, &data.train, ctx.num_threads());
    const double seconds = seconds_since(t0);
    pop.metrics = ranking_metrics(ranked, test_users, data.test, kK, kCurve);
    pop.metrics.seconds = seconds;
    rows.push_back(pop);
  }
  // Trains one model through `train` (which reports each epoch to the callback it is given).
  auto train_one = [&](const std::string& name, const std::string& settings, int epochs,
                       const auto& train) {
    app::ProgressLine progress(true);
    const auto t0 = std::chrono::steady_clock::now();
    const TrainResult r = train([&](const EpochRecord& e) {
      const std::string tail = "loss " + fixed(e.loss, 4) +
                               (e.evaluated ? ", Recall@20 " + fixed(e.recall, 4) : std::string());
      progress.update(name + " epoch", e.epoch, epochs, tail);
      if (e.evaluated) {
        if (::isatty(2)) std::fputc('\n', stderr);
        std::printf("%s epoch %d/%d: loss %.4f, %.2f s, test Recall@20 %.4f, NDCG@20 %.4f\n",
                    name.c_str(), e.epoch, epochs, e.loss, e.seconds, e.recall, e.ndcg);
        std::fflush(stdout);
      }
    });
    progress.finish();
    ModelRow row{.name = name, .settings = settings, .history = r.history,
                 .seconds_per_epoch = r.seconds_per_epoch, .train_seconds = seconds_since(t0)};
    row.metrics = evaluate_embeddings(ctx, r.final, data, kK, kCurve);
    rows.push_back(row);
    return r;
  };
  auto train_lightgcn_like = [&](const std::string& name, const LightGcnOptions& o) {
    return train_one(name, lightgcn_settings(o), o.epochs, [&](const auto& on_epoch) {
      return train_lightgcn(ctx, data, o, on_epoch);
    });
  };
  SavedModel model;
  model.info = {{"dataset", data.name}, {"source", data.source}};
  for (std::size_t m = 0; m < models.size(); ++m) {
    TrainResult r;
    if (models[m] == "lightgcn") {
      r = train_lightgcn_like("LightGCN (" + std::to_string(opt.layers) + " layers)", opt);
      if (m == 0) model.info["layers"] = std::to_string(opt.layers), model.info["epochs"] = std::to_string(opt.epochs);
    } else if (models[m] == "mf") {
      r = train_lightgcn_like("BPR-MF", mf);
      if (m == 0) model.info["layers"] = "0", model.info["epochs"] = std::to_string(mf.epochs);
    } else {
      r = train_one("GraphSAGE two-tower (" + std::to_string(sage.model.layers) + " layers)",
                    sage_settings(sage), sage.epochs, [&](const auto& on_epoch) {
                      return train_sage(ctx, data, item_features, sage, on_epoch);
                    });
      if (m == 0) model.info["layers"] = std::to_string(sage.model.layers), model.info["epochs"] = std::to_string(sage.epochs);
    }
    if (m == 0) {
      model.kind = models[0];
      model.embeddings = r.final;
    }
  }
  if (baselines && !list_mf) train_lightgcn_like("BPR-MF", mf);

  const std::vector<std::int64_t> counts = data.train.item_counts();
  model.popularity.assign(counts.begin(), counts.end());
  model.seen = data.train;
  const std::string model_dir = (fs::path(out) / "model").string();
  save_model(model_dir, model);
  write_report(out, rows, data, opt, model_dir);

  std::printf("\nmodel (full ranking, %lld test users)   Recall@20   NDCG@20   s/epoch\n",
              (long long)rows.front().metrics.users);
  for (const ModelRow& r : rows)
    std::printf("%-36s   %9.4f   %7.4f   %7s\n", r.name.c_str(), r.metrics.recall, r.metrics.ndcg,
                r.history.empty() ? "-" : fixed(r.seconds_per_epoch, 2).c_str());
  std::printf("report: %s\nmodel: %s\n", (fs::path(out) / "report.md").string().c_str(),
              model_dir.c_str());
  return 0;
}

const char* recommend_usage() {
  return "usage: gnnkit-recsys recommend --model DIR (--user U | --batch) [-k K]\n"
         "  --model DIR     a model folder written by train (DIR/model)\n"
         "  --user U        one user: prints one JSON line\n"
         "  --batch         read requests from stdin, one per line (a user id, or\n"
         "                  {\"user\": U, \"k\": K}), and write one JSON line per request\n"
         "  -k K            items per answer (default 10)\n"
         "  --threads T     CPU threads (default: all cores)\n"
         "Seen (training) items are never recommended; an unknown user gets the most popular\n"
         "items with a note; a bad request gets {\"line\": N, \"error\": ...} and the rest go on.\n";
}

int recommend_command(const std::vector<std::string>& args) {
  std::string model_dir;
  std::int64_t user = -1, k = 10;
  bool batch = false, have_user = false, k_given = false;
  int threads = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return std::fputs(recommend_usage(), stdout), 0;
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--model") model_dir = value();
    else if (a == "--user") user = parse_number<std::int64_t>(a, value()), have_user = true;
    else if (a == "-k" || a == "--k") k = parse_number<std::int64_t>(a, value()), k_given = true;
    else if (a == "--batch") batch = true;
    else if (a == "--threads") threads = parse_threads(a, value());
    else throw UsageError{"unknown option '" + a + "' for recommend"};
  }
  if (model_dir.empty()) throw UsageError{"recommend needs --model DIR"};
  if (have_user == batch) throw UsageError{"recommend needs exactly one of --user U and --batch"};
  if (k < 1) throw UsageError{"-k must be >= 1, got " + std::to_string(k)};
  const Recommender rec(Context::cpu(threads), load_model(model_dir));
  if (!k_given) k = std::min<std::int64_t>(k, rec.model().embeddings.num_items);  // a small catalogue
  if (k > rec.model().embeddings.num_items)
    throw UsageError{"-k must be at most the catalogue size " +
                     std::to_string(rec.model().embeddings.num_items) + ", got " + std::to_string(k)};
  if (have_user) {
    const std::string line = rec.recommend(user, k);
    std::printf("%s\n", line.c_str());
    if (std::fflush(stdout) != 0 || std::ferror(stdout))
      throw IoError("recommend", detail::format("cannot write standard output: {}", std::strerror(errno)));
    return line.find("\"error\"") == std::string::npos ? 0 : 1;
  }
  std::ios::sync_with_stdio(false);
  rec.serve(std::cin, std::cout, k);
  // A write error (a closed pipe, a full disk) must not pass for success.
  if (!std::cout.flush()) throw IoError("recommend", "cannot write standard output");
  return 0;
}

const char* evaluate_usage() {
  return "usage: gnnkit-recsys evaluate --model DIR (--dataset NAME [--data-root DIR] | --data DIR)\n"
         "                              [--repeat R] [--threads T]\n"
         "full-ranking Recall@20 / NDCG@20 of a trained model on the data's test items (training\n"
         "items excluded), with the ranking time (the best of R runs, default 1)\n";
}

int evaluate_command(const std::vector<std::string>& args) {
  std::string model_dir, dataset, root = "../shared/data", folder;
  int threads = 0, repeat = 1;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return std::fputs(evaluate_usage(), stdout), 0;
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--model") model_dir = value();
    else if (a == "--dataset") dataset = value();
    else if (a == "--data-root") root = value();
    else if (a == "--data") folder = value();
    else if (a == "--repeat") repeat = parse_number<int>(a, value());
    else if (a == "--threads") threads = parse_threads(a, value());
    else throw UsageError{"unknown option '" + a + "' for evaluate"};
  }
  if (model_dir.empty()) throw UsageError{"evaluate needs --model DIR"};
  if (repeat < 1) throw UsageError{"--repeat must be >= 1"};
  const RecData data = load_data(dataset, root, folder, "evaluate");
  const SavedModel m = load_model(model_dir);
  if (m.embeddings.num_users != data.train.num_users || m.embeddings.num_items != data.train.num_items)
    throw FormatError("evaluate", detail::format("the model in '{}' has {} users and {} items, the "
                                                 "data '{}' {} and {}", model_dir, m.embeddings.num_users,
                                                 m.embeddings.num_items, data.name, data.train.num_users,
                                                 data.train.num_items));
  const Context ctx = Context::cpu(threads);
  RankingMetrics best;
  for (int r = 0; r < repeat; ++r) {
    const RankingMetrics now = evaluate_embeddings(ctx, m.embeddings, data, kK);
    if (r == 0 || now.seconds < best.seconds) best = now;
  }
  std::printf("{\"recall_at_20\": %s, \"ndcg_at_20\": %s, \"users\": %lld, \"seconds\": %s, "
              "\"threads\": %d}\n",
              app::json_number(best.recall).c_str(), app::json_number(best.ndcg).c_str(),
              (long long)best.users, app::json_number(best.seconds).c_str(), ctx.num_threads());
  return 0;
}

const char* bench_usage() {
  return "usage: gnnkit-recsys bench [--items N] [--users U] [--dim D] [--queries Q] [-k K]\n"
         "                           [--batch B] [--seen S] [--threads T] [--seed S]\n"
         "measures serving on random embeddings (defaults: 100000 items, 10000 users, dim 64,\n"
         "2000 queries, k 10, batch 256, 50 seen items per user): the latency of one request\n"
         "(parse, exact top-k over every item, seen items filtered, JSON answer) as\n"
         "p50/p90/p99, and the throughput of batches of B requests\n";
}

int bench_command(const std::vector<std::string>& args) {
  std::int64_t items = 100000, users = 10000, dim = 64, queries = 2000, k = 10, batch = 256, seen = 50;
  std::uint64_t seed = 1;
  int threads = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return std::fputs(bench_usage(), stdout), 0;
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--items") items = parse_number<std::int64_t>(a, value());
    else if (a == "--users") users = parse_number<std::int64_t>(a, value());
    else if (a == "--dim") dim = parse_number<std::int64_t>(a, value());
    else if (a == "--queries") queries = parse_number<std::int64_t>(a, value());
    else if (a == "-k" || a == "--k") k = parse_number<std::int64_t>(a, value());
    else if (a == "--batch") batch = parse_number<std::int64_t>(a, value());
    else if (a == "--seen") seen = parse_number<std::int64_t>(a, value());
    else if (a == "--threads") threads = parse_threads(a, value());
    else if (a == "--seed") seed = parse_number<std::uint64_t>(a, value());
    else throw UsageError{"unknown option '" + a + "' for bench"};
  }
  if (items < 1 || users < 1 || dim < 1 || queries < 1 || batch < 1 || k < 1 || k > items ||
      seen < 0 || seen >= items)
    throw UsageError{"bench needs positive sizes, 1 <= k <= items and 0 <= seen < items"};
  SavedModel m;
  m.kind = "random";
  Embeddings& e = m.embeddings;
  e.num_users = users, e.num_items = items, e.dim = dim;
  e.user.resize(std::size_t(users * dim));
  e.item.resize(std::size_t(items * dim));
  auto fill = [&](std::vector<float>& v, std::uint64_t stream) {
    for (std::size_t j = 0; j < v.size(); ++j) {
      CounterRng rng(seed, stream, j);
      v[j] = float(rng.uniform() - 0.5);
    }
  };
  fill(e.user, 1);
  fill(e.item, 2);
  std::vector<std::int64_t> su;
  std::vector<std::int32_t> si;
  for (std::int64_t u = 0; u < users; ++u)
    for (std::int64_t t = 0; t < seen; ++t) {
      CounterRng rng(seed, 3, std::uint64_t(u * seen + t));
      su.push_back(u), si.push_back(std::int32_t(rng.below(std::uint64_t(items))));
    }
  m.seen = user_items_from_pairs(users, items, su, si);
  m.popularity.assign(std::size_t(items), 1.f);
  const Recommender rec(Context::cpu(threads), std::move(m));
  std::vector<double> lat;
  std::size_t bytes = 0;
  for (std::int64_t q = -20; q < queries; ++q) {  // 20 warm-up requests
    const std::int64_t u = CounterRng(seed, 4, std::uint64_t(q + 20)).below(std::uint64_t(users));
    const auto t0 = std::chrono::steady_clock::now();
    bytes += rec.recommend(u, k).size();
    if (q >= 0) lat.push_back(seconds_since(t0));
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return 1e3 * lat[std::min(lat.size() - 1, std::size_t(p * double(lat.size())))]; };
  std::string requests;
  for (std::int64_t q = 0; q < std::max<std::int64_t>(queries, batch); ++q)
    requests += std::to_string(CounterRng(seed, 5, std::uint64_t(q)).below(std::uint64_t(users))) + "\n";
  std::istringstream in(requests);
  std::ostringstream out;
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t answered = rec.serve(in, out, k, batch);
  const double batch_seconds = seconds_since(t0);
  std::printf("serving %lld items x dim %lld, k %lld, %d threads, %lld seen per user (%zu answer bytes)\n"
              "one request:   p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms (%lld requests)\n"
              "batches of %lld: %.0f requests/s (%lld requests in %.2f s)\n",
              (long long)items, (long long)dim, (long long)k, Context::cpu(threads).num_threads(),
              (long long)seen, bytes, pct(0.5), pct(0.9), pct(0.99), 1e3 * lat.back(),
              (long long)queries, (long long)batch, double(answered) / batch_seconds,
              (long long)answered, batch_seconds);
  return 0;
}

#ifndef GNNKIT_RECSYS_HAVE_FAISS
const char* ann_bench_usage() {
  return "usage: gnnkit-recsys ann-bench ...\n"
         "not available: this gnnkit-recsys was built without FAISS (apt-get install libfaiss-dev,\n"
         "then reconfigure)\n";
}

int ann_bench_command(const std::vector<std::string>&) {
  std::fputs("gnnkit-recsys: ann-bench needs FAISS, which this build did not find (apt-get install "
             "libfaiss-dev, then reconfigure)\n", stderr);
  return 1;
}
#endif

void write_npy(const std::string& path, const float* data, std::int64_t rows, std::int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) + "), }";
  // Magic (6) + version (2) + header length (2) + header + newline, padded to 64 bytes.
  const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1), out += char(0);
  out += char(header.size() & 0xff), out += char(header.size() >> 8);
  out += header;
  out.append(reinterpret_cast<const char*>(data), std::size_t(rows * cols) * sizeof(float));
  app::write_file_atomic(path, out, "write_npy");
}

const char* export_usage() {
  return "usage: gnnkit-recsys export --model DIR --out PREFIX\n"
         "writes PREFIX.users.npy [users, dim] and PREFIX.items.npy [items, dim] (float32;\n"
         "score = users[u] @ items[i]) for use elsewhere (numpy.load, FAISS, ...)\n";
}

int export_command(const std::vector<std::string>& args) {
  std::string model_dir, prefix;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") return std::fputs(export_usage(), stdout), 0;
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--model") model_dir = value();
    else if (a == "--out") prefix = value();
    else throw UsageError{"unknown option '" + a + "' for export"};
  }
  if (model_dir.empty() || prefix.empty()) throw UsageError{"export needs --model DIR and --out PREFIX"};
  const SavedModel m = load_model(model_dir);
  const Embeddings& e = m.embeddings;
  write_npy(prefix + ".users.npy", e.user.data(), e.num_users, e.dim);
  write_npy(prefix + ".items.npy", e.item.data(), e.num_items, e.dim);
  std::printf("wrote %s.users.npy [%lld, %lld] and %s.items.npy [%lld, %lld]\n", prefix.c_str(),
              (long long)e.num_users, (long long)e.dim, prefix.c_str(), (long long)e.num_items,
              (long long)e.dim);
  return 0;
}

}  // namespace gnnkit::recsys
