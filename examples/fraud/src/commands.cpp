#include "commands.hpp"

#include <cmath>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "baselines.hpp"
#include "generator.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "report.hpp"
#include "trainer.hpp"

namespace gnnkit::fraud {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string fixed(double v, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

const char* train_usage() {
  return "usage: gnnkit-fraud train --graph FILE --out DIR [options]\n"
         "  --conv sage|gat        GNN layer (default sage)\n"
         "  --layers L             layers = sampling hops (default 3)\n"
         "  --hidden H             hidden width (default 64)\n"
         "  --heads H              GAT heads (default 4)\n"
         "  --fanouts A,B          neighbours per hop and relation (default 10,10,5;\n"
         "                         with --layers alone 10 for two hops, 5 beyond)\n"
         "  --epochs N             maximum epochs (default 20); --patience P (default 4)\n"
         "  --batch B              seeds per mini-batch (default 1024)\n"
         "  --lr X                 learning rate (default 0.003); --dropout X (default 0.2)\n"
         "  --pos-weight X         positive-class weight (default sqrt(neg/pos) of train)\n"
         "  --target TYPE          node type to classify (default transaction)\n"
         "  --no-temporal          sample without the time constraint (not leakage-free)\n"
         "  --temporal-strategy S  recent (default: the most recent earlier edges) or uniform\n"
         "  --aggr A               SAGE neighbour aggregation: max (default), mean or sum\n"
         "  --no-seed-identity     without the seed-identity input columns (same user / card /\n"
         "                         device... as the example's, per sampled transaction)\n"
         "  --no-baselines         skip the XGBoost baselines\n"
         "  --threads N            CPU threads (default: all cores)\n"
         "  --seed S               model and split seed (default 1)\n";
}

int train_command(const std::vector<std::string>& args) {
  TrainConfig cfg;
  std::string graph_path, out_dir;
  bool baselines = true, fanouts_given = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--graph") graph_path = value();
    else if (a == "--out") out_dir = value();
    else if (a == "--conv") {
      cfg.conv = value();
      if (cfg.conv != "sage" && cfg.conv != "gat") throw UsageError{"'--conv' must be sage or gat, got '" + cfg.conv + "'"};
    } else if (a == "--layers") cfg.layers = parse_number<int>(a, value());
    else if (a == "--hidden") cfg.hidden = parse_number<std::int64_t>(a, value());
    else if (a == "--heads") cfg.heads = parse_number<int>(a, value());
    else if (a == "--fanouts") {
      cfg.fanouts = parse_list(a, value());
      fanouts_given = true;
    }
    else if (a == "--epochs") cfg.epochs = parse_number<int>(a, value());
    else if (a == "--patience") cfg.patience = parse_number<int>(a, value());
    else if (a == "--batch") cfg.batch_size = parse_number<std::int64_t>(a, value());
    else if (a == "--lr") cfg.lr = parse_number<double>(a, value());
    else if (a == "--dropout") cfg.dropout = parse_number<double>(a, value());
    else if (a == "--pos-weight") {
      cfg.pos_weight = parse_number<double>(a, value());
      // Given, it must be a weight: a NaN or negative value must not mean "the default".
      if (!(cfg.pos_weight > 0 && std::isfinite(cfg.pos_weight)))
        throw UsageError{"--pos-weight must be a positive number, got '" + args[i] + "'"};
    }
    else if (a == "--target") cfg.target = value();
    else if (a == "--threads") cfg.threads = parse_threads(a, value());
    else if (a == "--seed") cfg.seed = parse_number<std::uint64_t>(a, value());
    else if (a == "--no-temporal") cfg.temporal = false;
    else if (a == "--no-seed-identity") cfg.seed_identity = false;
    else if (a == "--aggr") {
      cfg.aggr = value();
      if (cfg.aggr != "mean" && cfg.aggr != "max" && cfg.aggr != "sum")
        throw UsageError{"'--aggr' must be mean, max or sum, got '" + cfg.aggr + "'"};
    }
    else if (a == "--temporal-strategy") {
      cfg.temporal_strategy = value();
      if (cfg.temporal_strategy != "recent" && cfg.temporal_strategy != "uniform")
        throw UsageError{"'--temporal-strategy' must be recent or uniform, got '" + cfg.temporal_strategy + "'"};
    }
    else if (a == "--no-baselines") baselines = false;
    else throw UsageError{"unknown option '" + a + "' for train"};
  }
  if (graph_path.empty()) throw UsageError{"train needs --graph FILE (make one with `gnnkit-fraud generate`)"};
  if (out_dir.empty()) throw UsageError{"train needs --out DIR"};
  if (cfg.layers < 1 || cfg.hidden < 1 || cfg.epochs < 1 || cfg.batch_size < 1)
    throw UsageError{"--layers, --hidden, --epochs and --batch must be positive"};
  if (cfg.layers > 6) throw UsageError{"--layers must be at most 6 (one sampling hop each), got " + std::to_string(cfg.layers)};
  if (cfg.patience < 1) throw UsageError{"--patience must be >= 1, got " + std::to_string(cfg.patience)};
  if (!fanouts_given) {  // --layers alone: 10 neighbours for the first two hops, 5 beyond
    cfg.fanouts.clear();
    for (int h = 0; h < cfg.layers; ++h) cfg.fanouts.push_back(h < 2 ? 10 : 5);
  }
  if (int(cfg.fanouts.size()) != cfg.layers)
    throw UsageError{"--fanouts needs one value per layer (" + std::to_string(cfg.layers) + "), got " +
                     std::to_string(cfg.fanouts.size())};
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw IoError("gnnkit-fraud train", "cannot create output folder '" + out_dir + "': " + ec.message());
  cfg.checkpoint = (std::filesystem::path(out_dir) / "model.ckpt").string();

  const auto t_load = Clock::now();
  LoadOptions load;
  load.populate = true;
  const GraphFile file = load_graph(graph_path, load);
  std::fprintf(stderr, "loaded %s in %.2f s: %s\n", graph_path.c_str(), seconds_since(t_load),
               file.graph.str().c_str());

  // The GNN.
  const auto t_gnn = Clock::now();
  FraudModel model(file, cfg);
  const TrainResult result = train(model, file, cfg, [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
  });
  const double gnn_seconds = seconds_since(t_gnn);

  ReportInput report;
  report.title = "Fraud detection: " + std::filesystem::path(graph_path).filename().string();
  report.dataset = detail::format("{} ({}). Target: '{}' nodes, labels 1 = fraud.", graph_path, file.graph.str(),
                                  cfg.target);
  report.split_note = result.split.note;
  report.models.push_back({"GNN (" + cfg.conv + ")", result.test.scores, result.test.labels});
  for (const auto& h : result.history) {
    report.history.train_loss.push_back(h.train_loss);
    report.history.val_loss.push_back(h.val_loss);
    report.history.val_pr_auc.push_back(h.val_pr_auc);
  }
  report.history.best_epoch = result.best_epoch;
  // Synthetic data carries each transaction's fraud pattern (never a model input): the report
  // then breaks recall down by pattern.
  const FeatureStore::Key pattern_key{FeatureStore::Kind::kNodeFeatures, cfg.target, "fraud_pattern"};
  if (file.features.contains(pattern_key)) {
    const FeatureMatrix& patterns = file.features.get(pattern_key);
    const auto codes = patterns.data.as<float>();
    if (patterns.cols == 1 && patterns.rows == file.graph.num_nodes(cfg.target)) {
      for (int p = 1; p < kNumPatterns; ++p) report.group_names.push_back(kPatternNames[std::size_t(p)]);
      for (std::size_t i = 0; i < result.test.ids.size(); ++i) {
        const int code = int(codes[std::size_t(result.test.ids[i])]);
        report.positive_groups.push_back(result.test.labels[i] == 0 || code < 1 || code >= kNumPatterns ? -1 : code - 1);
      }
      // A label without a known pattern (not from our generator): no breakdown.
      for (std::size_t i = 0; i < result.test.ids.size(); ++i)
        if (result.test.labels[i] != 0 && report.positive_groups[i] < 0) report.group_names.clear();
      if (report.group_names.empty()) report.positive_groups.clear();
    }
  }

  double xgb_seconds[2] = {0, 0};
  if (baselines) {
    const auto train_y = gather_labels(file, cfg.target, result.split.train);
    const auto val_y = gather_labels(file, cfg.target, result.split.val);
    XgbConfig xc;
    xc.threads = cfg.threads;
    xc.seed = cfg.seed;
    for (int kind = 0; kind < 2; ++kind) {
      const auto t0 = Clock::now();
      auto features = [&](const std::vector<std::int64_t>& ids) {
        return kind == 0 ? own_features(file, cfg.target, ids, cfg.threads)
                         : neighbour_aggregated_features(file, cfg.target, ids, cfg.temporal, cfg.threads);
      };
      const DenseMatrix tr = features(result.split.train), va = features(result.split.val),
                        te = features(result.split.test);
      const XgbResult xr = train_and_predict(tr, train_y, va, val_y, te, xc);
      xgb_seconds[kind] = seconds_since(t0);
      report.models.push_back({kind == 0 ? "XGBoost (own features)" : "XGBoost (+ neighbour aggregates)",
                               xr.test_scores, result.test.labels});
      std::fprintf(stderr, "%s: %lld columns, best round %d, %.1f s\n", report.models.back().name.c_str(),
                   (long long)tr.cols, xr.best_iteration + 1, xgb_seconds[kind]);
    }
  }
  report.extra = {
      {"model", cfg.conv + ", " + std::to_string(cfg.layers) + " layers, hidden " + std::to_string(cfg.hidden) +
                    (cfg.conv == "gat" ? ", heads " + std::to_string(cfg.heads) : ", " + cfg.aggr + " aggregation")},
      {"sampling", std::string(cfg.temporal ? "temporal (the " + std::string(cfg.temporal_strategy == "recent" ? "most recent" : "uniformly drawn") +
                                                  " edges no later than the example), "
                                            : "static, ") +
                       "fan-outs " + join_list(cfg.fanouts)},
      {"seed-identity inputs", model.seed_identity().empty() ? std::string("off")
                                                             : "same " + model.seed_identity().describe() + " as the example"},
      {"positive-class weight", fixed(result.pos_weight, 2)},
      {"epochs run / best", std::to_string(result.history.size()) + " / " + std::to_string(result.best_epoch + 1)},
      {"GNN training time", fixed(gnn_seconds, 1) + " s (" + fixed(result.seconds_per_epoch, 1) + " s per epoch)"},
      {"XGBoost time (own / aggregated)", fixed(xgb_seconds[0], 1) + " s / " + fixed(xgb_seconds[1], 1) + " s"},
      {"checkpoint", cfg.checkpoint},
      {"build", build_info()},
  };
  if (baselines) report.extra.push_back({"xgboost", xgboost_version()});
  const ReportOutput out = write_report(out_dir, report);

  std::printf("%-36s %8s %8s %12s %12s\n", "model (test window)", "ROC-AUC", "PR-AUC", "recall@1%FPR",
              "prec@top0.5%");
  for (const ModelMetrics& m : out.metrics)
    std::printf("%-36s %8.4f %8.4f %12.4f %12.4f\n", m.name.c_str(), m.roc_auc, m.pr_auc, m.recall_at_1pct_fpr,
                m.precision_at_top_0_5pct);
  std::printf("report: %s\n", out.files.back().c_str());
  return 0;
}

}  // namespace gnnkit::fraud
