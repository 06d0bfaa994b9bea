// gnnkit-fraud: the fraud-detection app. Subcommands: generate (synthetic data), train (GNN,
// XGBoost baselines, report), score (online scoring of new transactions), export-test.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <gnnkit/core/error.hpp>
#include <gnnkit/io/graph_file.hpp>

#include "app/process.hpp"
#include "app/svg_plot.hpp"
#include "src/commands.hpp"
#include "src/generator.hpp"
#include "src/scorer.hpp"

namespace {

constexpr int kUsageError = 2;

constexpr const char* kUsage =
    "usage: gnnkit-fraud <command> [options]\n"
    "\n"
    "commands:\n"
    "  generate   write a synthetic fraud graph (users, cards, devices, IPs, merchants,\n"
    "             transactions) with injected fraud rings, account takeovers, card testing\n"
    "             and money-mule chains, plus FILE.meta.json\n"
    "  train      train the GNN (and XGBoost baselines); writes DIR/model.ckpt and a report\n"
    "  score      score new transactions (JSON lines in, one JSON line out per line, with\n"
    "             reasons) against a graph and a trained checkpoint\n"
    "  export-test\n"
    "             write the latest transactions of a graph in score's input format\n"
    "\n"
    "run 'gnnkit-fraud <command> --help' for the options of a command.\n";

constexpr const char* kGenerateUsage =
    "usage: gnnkit-fraud generate --users N --seed S --out FILE [options]\n"
    "\n"
    "  --users N          user accounts, fraudsters' included (>= 100)\n"
    "  --seed S           random seed (unsigned 64-bit); same seed -> byte-identical file\n"
    "  --out FILE         graph file to write (atomically); FILE.meta.json is written beside it\n"
    "  --tx-per-user M    mean benign transactions per user over the window (default 6)\n"
    "  --fraud-rate R     target share of fraudulent transactions, in (0, 0.1] (default 0.02)\n"
    "  --days D           length of the simulated window in days, in [14, 3650] (default 90)\n"
    "  --threads T        worker threads (default: all cores; the output does not depend on it)\n"
    "  -h, --help         show this help\n";

using gnnkit::fraud::UsageError;

using gnnkit::fraud::parse_number;
using gnnkit::fraud::parse_threads;

int generate(const std::vector<std::string>& args) {
  gnnkit::fraud::GeneratorOptions opt;
  std::string out;
  bool have_users = false, have_seed = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kGenerateUsage, stdout);
      return 0;
    }
    auto value = [&]() -> const std::string& { return gnnkit::fraud::option_value(args, i); };
    if (a == "--users") opt.users = parse_number<std::int64_t>(a, value()), have_users = true;
    else if (a == "--seed") opt.seed = parse_number<std::uint64_t>(a, value()), have_seed = true;
    else if (a == "--out") out = value();
    else if (a == "--tx-per-user") opt.tx_per_user = parse_number<double>(a, value());
    else if (a == "--fraud-rate") opt.fraud_rate = parse_number<double>(a, value());
    else if (a == "--days") opt.days = parse_number<int>(a, value());
    else if (a == "--threads") opt.num_threads = parse_threads(a, value());
    else throw UsageError{"unknown option '" + a + "' for generate"};
  }
  if (!have_users) throw UsageError{"generate needs --users N"};
  if (!have_seed) throw UsageError{"generate needs --seed S"};
  if (out.empty()) throw UsageError{"generate needs --out FILE"};
  try {
    gnnkit::fraud::validate(opt);
  } catch (const gnnkit::InvalidArgument& e) {
    throw UsageError{e.what()};
  }

  const auto t0 = std::chrono::steady_clock::now();
  gnnkit::fraud::GeneratorStats stats;
  const gnnkit::GraphFile file = gnnkit::fraud::generate(opt, &stats);
  const auto t1 = std::chrono::steady_clock::now();
  gnnkit::save_graph(out, file);
  const auto t2 = std::chrono::steady_clock::now();
  const std::string meta_path = out + ".meta.json";
  gnnkit::app::write_file_atomic(meta_path, gnnkit::fraud::metadata_json(opt, stats, file), "gnnkit-fraud generate");
  const double gen = std::chrono::duration<double>(t1 - t0).count();
  const double save = std::chrono::duration<double>(t2 - t1).count();
  const std::int64_t n = file.graph.num_nodes("transaction");
  std::int64_t fraud = 0;
  for (int p = 1; p < gnnkit::fraud::kNumPatterns; ++p) fraud += stats.tx_per_pattern[std::size_t(p)];
  std::printf("wrote %s (%lld users, %lld transactions, %.2f%% fraud: ", out.c_str(),
              static_cast<long long>(file.graph.num_nodes("user")), static_cast<long long>(n),
              n ? 100.0 * double(fraud) / double(n) : 0.0);
  for (int p = 1; p < gnnkit::fraud::kNumPatterns; ++p)
    std::printf("%s%s %lld", p > 1 ? ", " : "", gnnkit::fraud::kPatternNames[std::size_t(p)],
                static_cast<long long>(stats.tx_per_pattern[std::size_t(p)]));
  std::printf(")\n  generate %.2fs (simulate %.2fs, features %.2fs, graph %.2fs), save %.2fs\n", gen,
              stats.seconds_simulate, stats.seconds_features, stats.seconds_build, save);
  std::printf("  %s\n", meta_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::strcmp(argv[1], "train") == 0 || std::strcmp(argv[1], "generate") == 0))
    gnnkit::app::prefer_short_omp_spin(argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string command;
  try {
    if (args.empty()) throw UsageError{"missing command"};
    command = args[0];
    args.erase(args.begin());
    if (command == "-h" || command == "--help" || command == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    const bool help = !args.empty() && (args[0] == "-h" || args[0] == "--help");
    if (command == "generate") return generate(args);
    if (command == "train") {
      if (help) {
        std::fputs(gnnkit::fraud::train_usage(), stdout);
        return 0;
      }
      return gnnkit::fraud::train_command(args);
    }
    if (command == "score") {
      if (help) {
        std::fputs(gnnkit::fraud::score_usage(), stdout);
        return 0;
      }
      return gnnkit::fraud::score_command(args);
    }
    if (command == "export-test") {
      if (help) {
        std::fputs(gnnkit::fraud::export_test_usage(), stdout);
        return 0;
      }
      return gnnkit::fraud::export_test_command(args);
    }
    throw UsageError{"unknown command '" + command + "'"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "gnnkit-fraud: %s\n\n%s", e.message.c_str(),
                 command == "generate" ? kGenerateUsage
                 : command == "train"  ? gnnkit::fraud::train_usage()
                 : command == "score"  ? gnnkit::fraud::score_usage()
                 : command == "export-test" ? gnnkit::fraud::export_test_usage()
                                       : kUsage);
    return kUsageError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gnnkit-fraud: error: %s\n", e.what());
    return 1;
  }
}
