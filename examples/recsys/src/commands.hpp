#pragma once
/// @file
/// The subcommands of gnnkit-recsys. Each returns the process exit code; bad command lines
/// throw app::UsageError (exit code 2, message and usage printed by main).
#include <cstdint>
#include <string>
#include <vector>

namespace gnnkit::recsys {

/// `generate --users N --items M --seed S --out DIR`: the synthetic shop as a LightGCN folder.
int generate_command(const std::vector<std::string>& args);
const char* generate_usage();

/// `train (--dataset NAME [--data-root DIR] | --data DIR) --out DIR [options]`: trains the
/// model (LightGCN by default) and the baselines (popularity, BPR-MF), evaluates them with
/// full ranking, writes the model folder and the report (report.md, metrics.json, plots).
int train_command(const std::vector<std::string>& args);
const char* train_usage();

/// `recommend --model DIR (--user U | --batch) [-k K]`: top-K items for users.
int recommend_command(const std::vector<std::string>& args);
const char* recommend_usage();

/// `export --model DIR --out PREFIX`: PREFIX.users.npy and PREFIX.items.npy (float32).
int export_command(const std::vector<std::string>& args);
const char* export_usage();

/// `evaluate --model DIR (--dataset NAME | --data DIR)`: full-ranking metrics and timing.
int evaluate_command(const std::vector<std::string>& args);
const char* evaluate_usage();

/// `bench [--items N] [--dim D] [--queries Q] ...`: serving latency and throughput on random
/// embeddings.
int bench_command(const std::vector<std::string>& args);
const char* bench_usage();

/// `ann-bench [--items N] ...`: FAISS HNSW against the exact top-K (src/ann.cpp; without
/// FAISS the command reports that it was not built in).
int ann_bench_command(const std::vector<std::string>& args);
const char* ann_bench_usage();

/// The float32 [rows, cols] C-order matrix as a NumPy .npy file (format version 1.0), written
/// atomically. (Exposed for the tests.)
void write_npy(const std::string& path, const float* data, std::int64_t rows, std::int64_t cols);

}  // namespace gnnkit::recsys
