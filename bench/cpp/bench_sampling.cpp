// Graph construction, graph-file open, and neighbour sampling on the standard input G2
// (RMAT scale 21, ~116M edges; bench/gen), reported against the machine's calibration (B0)
// measured in the same run.
//   build/bench/bench_sampling --dir ~/.cache/gnnkit-bench/G2 [--batches 100] [--fanouts 15,10,5]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "calibration.hpp"
#include "raw_input.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/sampling/neighbor.hpp"

using namespace gnnkit;
using bench::Clock;
using bench::parse_list;
using bench::read_i64;
using bench::seconds_since;

namespace {

std::int64_t meta_count(const std::string& dir) {
  std::smatch m;
  const std::string text = bench::read_text(dir + "/meta.json");
  if (!std::regex_search(text, m, std::regex("\"count\": ([0-9]+)"))) throw std::runtime_error("no node count in meta.json");
  return std::stoll(m[1]);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/gnnkit-bench/G2";
  int batches = 100;
  bool reuse = false;
  bool profile = false;  // --profile 1: uniform sampling only, no calibration (for perf)  // --reuse 1: sample from an existing graph file, skip construction
  std::vector<std::int64_t> fanouts{15, 10, 5};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--dir") dir = v;
    else if (a == "--batches") batches = std::stoi(v);
    else if (a == "--fanouts") fanouts = parse_list(v);
    else if (a == "--reuse") reuse = v == "1";
    else if (a == "--profile") profile = v == "1";
  }
  std::printf("%s\ninput %s\n", build_info().c_str(), dir.c_str());
  const std::int64_t n = meta_count(dir);
  const HostArray src = read_i64(dir + "/node__to__node.src.i64");
  const HostArray dst = read_i64(dir + "/node__to__node.dst.i64");
  const HostArray seeds_all = read_i64(dir + "/seeds.i64");
  const std::int64_t e = src.size();
  std::printf("nodes %lld, edges %lld\n", (long long)n, (long long)e);

  // Weights for the weighted variant: a fixed function of the edge id.
  HostArray w = HostArray::of<float>(e);
  for (std::int64_t i = 0; i < e; ++i) w.as<float>()[std::size_t(i)] = 0.1f + float(bench::mix64(std::uint64_t(i)) % 1000) / 100.f;

  const std::string path = dir + "/graph-weighted.gnnkit";
  if (!reuse) {
  // Construction (2 threads), COO in memory -> CSC with edge ids.
  for (int threads : {1, 2}) {
    const auto t0 = Clock::now();
    const HeteroGraph g = HeteroGraph::from_coo(Context::cpu(threads), n, src.view(), dst.view());
    std::printf("construction %d thread(s): %.2f s, %.2f bytes/edge (int32 indices + int64 edge ids)\n",
                threads, seconds_since(t0), double(g.nbytes()) / double(e));
  }
  BuildOptions no_ids;
  no_ids.keep_edge_ids = false;
  {
    const HeteroGraph g = HeteroGraph::from_coo(Context::cpu(2), n, src.view(), dst.view(), no_ids);
    std::printf("without edge ids: %.2f bytes/edge\n", double(g.nbytes()) / double(e));
  }
  {
    const HeteroGraph g = HeteroGraph::from_coo(Context::cpu(2), n, src.view(), dst.view(), {}, std::nullopt, w.view());
    const auto t0 = Clock::now();
    save_graph(path, g);
    std::printf("save %.2f s\n", seconds_since(t0));
  }
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    const GraphFile f = load_graph(path);
    std::printf("open (mmap) %.2f ms\n", seconds_since(t0) * 1e3);
  }
  {
    const auto t0 = Clock::now();
    const GraphFile f = load_graph(path, {true});
    std::printf("open with verify %.2f s\n", seconds_since(t0));
  }
  }
  // Sample from the mapped file, as users do; populated so that first-touch page faults do
  // not count (they cost about 20 % of the first pass over a cold mapping).
  const auto t_pop = Clock::now();
  LoadOptions populate;
  populate.populate = true;
  const GraphFile file = load_graph(path, populate);
  std::printf("open with populate %.2f s\n", seconds_since(t_pop));

  for (int threads : {1, 2}) {
    if (profile && threads == 2) break;
    bench::Calibration cal;
    cal.random_lines_per_s = 1;
    if (!profile) cal = bench::calibrate_memory(threads);
    bench::print_calibration(cal);
    double uniform_s = 0;
    for (bool weighted : {false, true}) {
      if (profile && weighted) break;
      SamplingOptions opt;
      opt.fanouts = fanouts;
      opt.weighted = weighted;
      const NeighborSampler sampler(file.graph, opt);
      const Context ctx = Context::cpu(threads, 1);
      const std::int64_t batch_size = 1024;
      MiniBatch mb;  // recycled, as the loader does
      auto run = [&](int b) -> const MiniBatch& {
        const std::int64_t shape[] = {batch_size};
        const TensorView seeds(seeds_all.as<std::int64_t>().data() + (b % 100) * batch_size, DType::kInt64, Device::cpu(), shape);
        sampler.sample_into(ctx, "node", seeds, std::nullopt, std::uint64_t(b), mb);
        return mb;
      };
      for (int b = 0; b < 3; ++b) (void)run(b);
      std::int64_t edges = 0, hop1 = 0;
      std::vector<double> per_batch;
      const auto t0 = Clock::now();
      for (int b = 0; b < batches; ++b) {
        const auto tb = Clock::now();
        const MiniBatch& out = run(b);
        per_batch.push_back(seconds_since(tb));
        edges += out.num_edges();
        hop1 += out.blocks[0].num_edges;
      }
      const double total = seconds_since(t0);
      std::sort(per_batch.begin(), per_batch.end());
      const double rate = double(edges) / total;
      if (!weighted) uniform_s = total;
      std::printf("%s sampling %d thread(s): %lld edges in %d batches (hop-1 %lld), median batch %.2f ms, "
                  "%.2f M edges/s = %.0f%% of the random-line bound%s\n",
                  weighted ? "weighted" : "uniform ", threads, (long long)edges, batches, (long long)hop1,
                  per_batch[per_batch.size() / 2] * 1e3, rate / 1e6, 100.0 * rate / cal.random_lines_per_s,
                  weighted ? (" (" + std::to_string(total / uniform_s).substr(0, 4) + "x uniform time)").c_str() : "");
    }
  }
  return 0;
}
