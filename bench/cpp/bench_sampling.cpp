// Graph construction, graph-file open, neighbour sampling, feature gathering and the loader's
// overlap on the standard input G2 (RMAT scale 21, ~116M edges; bench/gen), reported against
// the machine's calibration (B0) measured in the same run.
//   build/bench/bench_sampling --dir ~/.cache/gnnkit-bench/G2 [--batches 100] [--fanouts 15,10,5]
//   --gather 0 / --loader 0 skip the feature-gather / loader-overlap parts
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
#include "gnnkit/sampling/loader.hpp"
#include "gnnkit/sampling/neighbor.hpp"

using namespace gnnkit;
using bench::Clock;
using bench::parse_list;
using bench::read_i64;
using bench::seconds_since;

int main(int argc, char** argv) {
  std::string dir = std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/gnnkit-bench/G2";
  int batches = 100;
  bool reuse = false;
  bool do_gather = true, do_loader = true;
  bool profile = false;  // --profile 1: one mode only (--profile-mode), 1 thread, no calibration (for perf)
  int profile_mode = 0;  // 0 uniform, 1 uniform with CSC positions, 2 weighted
  std::vector<std::int64_t> fanouts{15, 10, 5};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--dir") dir = v;
    else if (a == "--batches") batches = std::stoi(v);
    else if (a == "--fanouts") fanouts = parse_list(v);
    else if (a == "--reuse") reuse = v == "1";
    else if (a == "--profile") profile = v == "1";
    else if (a == "--profile-mode") profile_mode = std::stoi(v);
    else if (a == "--gather") do_gather = v == "1";
    else if (a == "--loader") do_loader = v == "1";
  }
  std::printf("%s\ninput %s\n", build_info().c_str(), dir.c_str());
  const std::int64_t n = bench::meta_node_count(dir);
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
    // uniform (input edge ids), uniform with CSC positions as edge ids, weighted
    for (int mode = 0; mode < 3; ++mode) {
      const bool weighted = mode == 2;
      if (profile && mode != profile_mode) continue;
      SamplingOptions opt;
      opt.fanouts = fanouts;
      opt.weighted = weighted;
      if (mode == 1) opt.edge_ids = EdgeIdKind::kCscPosition;
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
      if (mode == 0) uniform_s = total;
      std::printf("%s sampling %d thread(s): %lld edges in %d batches (hop-1 %lld), batch p10/median/p90/max "
                  "%.2f/%.2f/%.2f/%.2f ms, %.2f M edges/s = %.0f%% of the random-line bound%s\n",
                  mode == 2 ? "weighted" : mode == 1 ? "uniform, CSC positions," : "uniform ", threads, (long long)edges, batches, (long long)hop1,
                  per_batch[per_batch.size() / 10] * 1e3, per_batch[per_batch.size() / 2] * 1e3,
                  per_batch[per_batch.size() * 9 / 10] * 1e3, per_batch.back() * 1e3, rate / 1e6,
                  100.0 * rate / cal.random_lines_per_s,
                  weighted ? (" (" + std::to_string(total / uniform_s).substr(0, 4) + "x uniform time)").c_str() : "");
    }
    if (!profile && threads == 1) {
      // Scratch memory the sampler keeps beyond its outputs, by batch size: it must follow
      // the batch (bytes per sampled edge about constant), not the graph's node count.
      for (std::int64_t batch_size : {256, 1024, 4096}) {
        const NeighborSampler sampler(file.graph, SamplingOptions{.fanouts = fanouts});
        const Context ctx = Context::cpu(threads, 1);
        MiniBatch mb;
        std::int64_t most_edges = 0;
        for (int b = 0; b < 5; ++b) {
          const std::int64_t shape[] = {batch_size};
          const TensorView seeds(seeds_all.as<std::int64_t>().data() + b * batch_size, DType::kInt64, Device::cpu(), shape);
          sampler.sample_into(ctx, "node", seeds, std::nullopt, std::uint64_t(b), mb);
          most_edges = std::max(most_edges, mb.num_edges());
        }
        const double bytes = double(sampler.workspace_bytes());
        std::printf("sampler scratch, batch %lld: %.2f MB beyond outputs, %lld edges per batch (%.1f bytes per edge, "
                    "%.3f bytes per graph node)\n", (long long)batch_size, bytes / 1e6, (long long)most_edges,
                    bytes / double(most_edges), bytes / double(n));
      }
    }
    if (profile || !do_gather) continue;
    // Feature gathering for the batches' input nodes (every node of the mini-batch) into a
    // reused buffer, against the random row-gather rate of the same row size.
    const SamplingOptions opt{.fanouts = fanouts};
    const NeighborSampler sampler(file.graph, opt);
    const Context ctx = Context::cpu(threads, 1);
    std::vector<std::vector<std::int64_t>> inputs;
    for (int b = 0; b < 10; ++b) {
      const std::int64_t shape[] = {1024};
      const TensorView seeds(seeds_all.as<std::int64_t>().data() + b * 1024, DType::kInt64, Device::cpu(), shape);
      inputs.push_back(sampler.sample(ctx, "node", seeds, std::nullopt, std::uint64_t(b)).nodes[0]);
    }
    for (const std::int64_t cols : {64, 128}) {
      FeatureStore store;
      HostArray x = HostArray::allocate(DType::kFloat32, n * cols);
      float* xp = x.as<float>().data();
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::int64_t i = 0; i < n * cols; ++i) xp[i] = float(i % 1013) * 1e-3f;
      store.set_node_features("node", "x", std::move(x), n, cols, false);
      std::int64_t max_rows = 0;
      for (const auto& v : inputs) max_rows = std::max<std::int64_t>(max_rows, std::int64_t(v.size()));
      std::vector<float> out(std::size_t(max_rows * cols));
      auto gather = [&](const std::vector<std::int64_t>& ids) {
        const std::int64_t is[] = {std::int64_t(ids.size())}, os[] = {std::int64_t(ids.size()), cols};
        store.gather(ctx, {FeatureStore::Kind::kNodeFeatures, "node", "x"},
                     TensorView(const_cast<std::int64_t*>(ids.data()), DType::kInt64, Device::cpu(), is),
                     TensorView(out.data(), DType::kFloat32, Device::cpu(), os));
      };
      gather(inputs[0]);
      std::vector<double> rates;
      for (int rep = 0; rep < 3; ++rep) {
        std::int64_t rows = 0;
        const auto t0 = Clock::now();
        for (const auto& ids : inputs) {
          gather(ids);
          rows += std::int64_t(ids.size());
        }
        rates.push_back(double(rows) / seconds_since(t0));
      }
      std::sort(rates.begin(), rates.end());
      const double bound = cols == 64 ? cal.gather_rows_per_s_256 : cal.gather_rows_per_s_512;
      std::printf("feature gather %d thread(s), %lld-byte rows: %.2f M rows/s = %.0f%% of the random row-gather "
                  "rate (%.2f M rows/s), %lld rows per batch\n",
                  threads, (long long)(cols * 4), rates[1] / 1e6, 100.0 * rates[1] / bound, bound / 1e6,
                  (long long)inputs[0].size());
    }
  }
  if (profile || !do_loader) return 0;
  // Loader overlap: one background worker samples and gathers (64 features) while the caller
  // "trains" (spins) for as long as one batch's sampling + gathering takes on its own. The stall
  // is the caller's time blocked in next(), as a share of the loop's time.
  {
    const std::int64_t cols = 64;
    auto store = std::make_shared<FeatureStore>();
    HostArray x = HostArray::allocate(DType::kFloat32, n * cols);
    std::memset(x.data(), 0, std::size_t(n * cols) * sizeof(float));
    store->set_node_features("node", "x", std::move(x), n, cols, false);
    SamplingOptions so;
    so.fanouts = fanouts;
    auto sampler = std::make_shared<const NeighborSampler>(file.graph, so);
    const std::int64_t batches_in_loop = std::min<std::int64_t>(batches, 60);
    std::vector<std::int64_t> seeds(seeds_all.as<std::int64_t>().begin(),
                                    seeds_all.as<std::int64_t>().begin() + batches_in_loop * 1024);
    LoaderOptions lo;
    lo.batch_size = 1024;
    lo.shuffle = false;
    lo.prefetch = 2;
    lo.num_workers = 1;
    lo.threads_per_worker = 1;
    lo.features = {{"node", "x"}};
    // The work per batch on its own: the loader with nothing else running.
    double produce_s = 0;
    {
      NeighborLoader alone(sampler, store, "node", seeds, {}, lo);
      alone.start_epoch(0);
      const auto t0 = Clock::now();
      std::int64_t got = 0;
      while (auto b = alone.next()) ++got;
      produce_s = seconds_since(t0) / double(got);
    }
    NeighborLoader loader(sampler, store, "node", seeds, {}, lo);
    loader.start_epoch(1);
    double waited = 0;
    std::int64_t got = 0;
    const auto t0 = Clock::now();
    for (;;) {
      const auto tw = Clock::now();
      auto b = loader.next();
      waited += seconds_since(tw);
      if (!b) break;
      ++got;
      const auto ts = Clock::now();  // the training step: as long as producing a batch
      volatile std::uint64_t spin = 0;
      while (seconds_since(ts) < produce_s) spin = spin + 1;
    }
    const double loop = seconds_since(t0);
    std::printf("loader overlap (1 worker thread, prefetch 2, %lld batches, training step = %.2f ms = one batch's "
                "sampling + gathering alone): stall %.1f%% of the loop (%.2f ms per batch waiting; loop %.2f ms "
                "per batch)\n",
                (long long)got, produce_s * 1e3, 100.0 * waited / loop, waited / double(got) * 1e3,
                loop / double(got) * 1e3);
  }
  return 0;
}
