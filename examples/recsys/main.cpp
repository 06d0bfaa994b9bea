// gnnkit-recsys: the product-recommendation app. Subcommands: generate (synthetic shop),
// train (LightGCN / BPR-MF + baselines, full-ranking report), recommend (top-K serving),
// export (embeddings to NumPy).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/process.hpp"
#include "src/commands.hpp"

namespace {

constexpr int kUsageError = 2;

constexpr const char* kUsage =
    "usage: gnnkit-recsys <command> [options]\n"
    "\n"
    "commands:\n"
    "  generate   write a synthetic shop (users, items with categories and prices, views and\n"
    "             purchases from latent tastes) as a LightGCN-format folder\n"
    "  train      train LightGCN (or BPR-MF) with BPR, evaluate it and the baselines by full\n"
    "             ranking (Recall@20, NDCG@20), write the model and a report\n"
    "  recommend  top-K items for a user (--user) or for requests on stdin (--batch)\n"
    "  evaluate   full-ranking Recall@20 / NDCG@20 of a trained model, timed\n"
    "  export     write a model's user and item embeddings as NumPy .npy files\n"
    "  bench      measure serving latency and throughput on random embeddings\n"
    "  ann-bench  FAISS HNSW against the exact top-K on millions of synthetic embeddings\n"
    "\n"
    "run 'gnnkit-recsys <command> --help' for the options of a command.\n";

struct Command {
  const char* name;
  int (*run)(const std::vector<std::string>&);
  const char* (*usage)();
};

constexpr Command kCommands[] = {
    {"generate", gnnkit::recsys::generate_command, gnnkit::recsys::generate_usage},
    {"train", gnnkit::recsys::train_command, gnnkit::recsys::train_usage},
    {"recommend", gnnkit::recsys::recommend_command, gnnkit::recsys::recommend_usage},
    {"evaluate", gnnkit::recsys::evaluate_command, gnnkit::recsys::evaluate_usage},
    {"export", gnnkit::recsys::export_command, gnnkit::recsys::export_usage},
    {"bench", gnnkit::recsys::bench_command, gnnkit::recsys::bench_usage},
    {"ann-bench", gnnkit::recsys::ann_bench_command, gnnkit::recsys::ann_bench_usage},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::strcmp(argv[1], "train") == 0 || std::strcmp(argv[1], "generate") == 0))
    gnnkit::app::prefer_short_omp_spin(argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  const Command* command = nullptr;
  try {
    if (args.empty()) throw gnnkit::app::UsageError{"missing command"};
    const std::string name = args[0];
    args.erase(args.begin());
    if (name == "-h" || name == "--help" || name == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    for (const Command& c : kCommands)
      if (name == c.name) command = &c;
    if (!command) throw gnnkit::app::UsageError{"unknown command '" + name + "'"};
    return command->run(args);
  } catch (const gnnkit::app::UsageError& e) {
    std::fprintf(stderr, "gnnkit-recsys: %s\n\n%s", e.message.c_str(),
                 command ? command->usage() : kUsage);
    return kUsageError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gnnkit-recsys: error: %s\n", e.what());
    return 1;
  }
}
