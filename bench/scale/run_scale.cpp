// Scale check (issue 3): a 1,000,000,000-edge power-law graph built out of core into a graph
// file, opened, and sampled (1000 two-hop mini-batches), with the peak resident set of each
// phase. Every phase runs in its own process (so each peak is its own):
//   build-bench/bench/run_scale --phase generate|build|sample [--dir DIR] [--edges 1000000000]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gnnkit/core/build_info.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/io/out_of_core.hpp"
#include "gnnkit/sampling/neighbor.hpp"

using namespace gnnkit;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// Peak resident set (VmHWM) of this process in GiB.
double peak_rss_gib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / (1024.0 * 1024.0);
  return -1;
}

constexpr int kNodeBits = 26;  // 67,108,864 nodes
constexpr std::int64_t kNodes = std::int64_t(1) << kNodeBits;

/// A power-law endpoint: u^exponent concentrates mass on low ranks (hubs), then an odd
/// multiplier modulo 2^26 scatters the ranks over the id space (a bijection).
std::int64_t endpoint(std::uint64_t bits, double exponent) {
  const double u = double(bits >> 11) * 0x1.0p-53;
  const auto rank = std::int64_t(std::pow(u, exponent) * double(kNodes));
  return std::int64_t((std::uint64_t(std::min(rank, kNodes - 1)) * 0x9E3779B1ull) & (kNodes - 1));
}

}  // namespace

int main(int argc, char** argv) {
  std::string phase = "all", dir = std::string(std::getenv("HOME")) + "/.cache/gnnkit-bench/scale";
  std::int64_t edges = 1'000'000'000;
  std::size_t budget = std::size_t(3) << 30;
  int batches = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--phase") phase = v;
    else if (a == "--dir") dir = v;
    else if (a == "--edges") edges = std::stoll(v);
    else if (a == "--budget") budget = std::size_t(std::stod(v) * double(1 << 30));
    else if (a == "--batches") batches = std::stoi(v);
  }
  std::filesystem::create_directories(dir);
  const std::string src_path = dir + "/src.i64", dst_path = dir + "/dst.i64", graph_path = dir + "/graph.gnnkit";
  std::printf("%s\n", build_info().c_str());

  if (phase == "generate") {
    const auto t0 = Clock::now();
    std::FILE* fs = std::fopen(src_path.c_str(), "wb");
    std::FILE* fd = std::fopen(dst_path.c_str(), "wb");
    const std::int64_t chunk = std::int64_t(1) << 24;
    std::vector<std::int64_t> s(static_cast<std::size_t>(chunk));
    std::vector<std::int64_t> d(static_cast<std::size_t>(chunk));
    for (std::int64_t b = 0; b < edges; b += chunk) {
      const std::int64_t n = std::min(chunk, edges - b);
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < n; ++i) {
        CounterRng rng(42, std::uint64_t(b + i));
        s[std::size_t(i)] = endpoint(rng.next(), 2.0);
        d[std::size_t(i)] = endpoint(rng.next(), 3.0);
      }
      std::fwrite(s.data(), 8, std::size_t(n), fs);
      std::fwrite(d.data(), 8, std::size_t(n), fd);
    }
    std::fclose(fs);
    std::fclose(fd);
    std::printf("generate: %lld edges over %lld nodes, %.1f GB of COO in %.1f s, peak RSS %.2f GiB\n",
                (long long)edges, (long long)kNodes, double(edges) * 16 / 1e9, since(t0), peak_rss_gib());
  } else if (phase == "build") {
    OutOfCoreOptions opt;
    opt.keep_edge_ids = false;  // 4 bytes/edge + indptr: the sampled file stays near RAM/5
    opt.memory_budget = budget;
    const auto t0 = Clock::now();
    const auto report = build_graph_file(Context::cpu(0), {{"node", kNodes}},
                                         {{{"node", "to", "node"}, src_path, dst_path, "", ""}},
                                         graph_path, opt);
    std::printf("build (out of core, budget %.1f GiB): %lld edges, %d windows, %.1f GB file in %.1f s, peak RSS %.2f GiB\n",
                double(budget) / double(1 << 30), (long long)report.num_edges, report.windows,
                double(report.file_bytes) / 1e9, since(t0), peak_rss_gib());
  } else if (phase == "sample") {
    auto t0 = Clock::now();
    const GraphFile file = load_graph(graph_path);
    std::printf("open (mmap): %.2f ms\n", since(t0) * 1e3);
    SamplingOptions opt;
    opt.fanouts = {15, 10};
    const NeighborSampler sampler(file.graph, opt);
    const Context ctx = Context::cpu(0, 7);
    MiniBatch mb;
    std::vector<std::int64_t> seeds(1024);
    std::int64_t total = 0;
    t0 = Clock::now();
    for (int b = 0; b < batches; ++b) {
      for (std::size_t i = 0; i < seeds.size(); ++i) seeds[i] = std::int64_t(mix64(std::uint64_t(b) * 1024 + i) & (kNodes - 1));
      const std::int64_t shape[] = {std::int64_t(seeds.size())};
      sampler.sample_into(ctx, "node", TensorView(seeds.data(), DType::kInt64, Device::cpu(), shape), std::nullopt, std::uint64_t(b), mb);
      total += mb.num_edges();
    }
    const double s = since(t0);
    std::printf("sample: %d two-hop batches of 1024 ([15, 10]) in %.1f s (%.1f ms/batch, %.2f M edges/s, %lld edges), peak RSS %.2f GiB\n",
                batches, s, s / batches * 1e3, double(total) / s / 1e6, (long long)total, peak_rss_gib());
  }
  return 0;
}
