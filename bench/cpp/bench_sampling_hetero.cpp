// Heterogeneous (G5, per-relation fan-outs) and temporal (G6, disjoint, uniform-before-t and
// most-recent) neighbour sampling, against homogeneous sampling on G2 in the same run and the
// machine's random-line rate (BENCHMARKING.md B0). Also checks that 1 and 2 threads give the
// same MiniBatch, and that no temporal sample holds an edge later than its seed's time.
//   gen_graphs --graph G5,G6 --out ~/.cache/gnnkit-bench/full
//   build/bench/bench_sampling_hetero --inputs ~/.cache/gnnkit-bench/full [--batches 50]
//       [--fanouts 15,10,5] [--g2-file ~/.cache/gnnkit-bench/full/G2.gnnkit]
// G2's graph file is the one bench_sampling writes (graph-weighted.gnnkit) or any gnnkit file
// of G2; without it the homogeneous reference is built from G2's arrays.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <tuple>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "calibration.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/sampling/neighbor.hpp"
#include "raw_input.hpp"

using namespace gnnkit;
using bench::Clock;
using bench::seconds_since;

namespace {

/// One standard input as arrays plus the graph built from them.
struct Input {
  std::string id;
  HeteroGraph graph;
  std::vector<EdgeType> relations;        // in the graph's relation order
  std::vector<HostArray> timestamps;      // per relation (empty when none), by edge id
  HostArray seeds, seed_times;            // seed_times empty when none
  std::string seed_type;
  std::int64_t batch_size = 1024, num_batches = 0;
};

Input load_input(const std::string& dir, const std::string& id, bool sort_by_time) {
  Input in;
  in.id = id;
  const std::string meta = bench::read_text(dir + "/meta.json");
  std::vector<std::pair<std::string, std::int64_t>> types;
  const std::regex type_re(R"re(\{"name": "([^"]+)", "count": ([0-9]+)\})re");
  for (std::sregex_iterator it(meta.begin(), meta.end(), type_re), end; it != end; ++it)
    types.emplace_back((*it)[1], std::stoll((*it)[2]));
  const std::regex rel_re(
      R"re(\{"name": "[^"]+", "src_type": "([^"]+)", "rel": "([^"]+)", "dst_type": "([^"]+)", "num_edges": [0-9]+, "src": "([^"]+)", "dst": "([^"]+)"(, "ts": "([^"]+)")?\})re");
  std::vector<HostArray> src, dst;
  std::vector<RelationInput> inputs;
  std::vector<HostArray> ts;
  for (std::sregex_iterator it(meta.begin(), meta.end(), rel_re), end; it != end; ++it) {
    const auto& m = *it;
    in.relations.push_back({m[1], m[2], m[3]});
    src.push_back(bench::read_i64(dir + "/" + m[4].str()));
    dst.push_back(bench::read_i64(dir + "/" + m[5].str()));
    ts.push_back(m[7].matched ? bench::read_i64(dir + "/" + m[7].str()) : HostArray());
  }
  if (types.empty() || in.relations.empty()) throw std::runtime_error(dir + "/meta.json: no node types or relations");
  for (std::size_t r = 0; r < in.relations.size(); ++r) {
    std::optional<TensorView> t;
    if (ts[r].size() > 0) t = ts[r].view();
    inputs.push_back({in.relations[r], src[r].view(), dst[r].view(), t, std::nullopt});
  }
  std::smatch m;
  if (!std::regex_search(meta, m, std::regex(R"re("node_type": "([^"]+)", "num_batches": ([0-9]+), "batch_size": ([0-9]+))re")))
    throw std::runtime_error(dir + "/meta.json: no seeds entry");
  in.seed_type = m[1];
  in.num_batches = std::stoll(m[2]);
  in.batch_size = std::stoll(m[3]);
  in.seeds = bench::read_i64(dir + "/seeds.i64");
  if (meta.find("\"times\": \"seed_times.i64\"") != std::string::npos)
    in.seed_times = bench::read_i64(dir + "/seed_times.i64");
  BuildOptions bo;
  bo.sort_by_time = sort_by_time;
  const auto t0 = Clock::now();
  in.graph = HeteroGraph::from_coo(Context::cpu(2), types, inputs, bo);
  std::printf("%s: %zu node types, %zu relations, %lld edges, built in %.2f s (2 threads)\n", id.c_str(),
              types.size(), in.relations.size(), (long long)in.graph.num_edges(), seconds_since(t0));
  // The graph keeps its own copies; keep the timestamps for the future-edge check.
  in.timestamps = std::move(ts);
  return in;
}

TensorView batch_view(const HostArray& a, const Input& in, std::int64_t b) {
  const std::int64_t shape[] = {in.batch_size};
  return TensorView(a.as<std::int64_t>().data() + (b % in.num_batches) * in.batch_size, DType::kInt64, Device::cpu(), shape);
}

void sample(const NeighborSampler& s, const Input& in, const Context& ctx, std::int64_t b, MiniBatch& mb) {
  std::optional<TensorView> times;
  if (in.seed_times.size() > 0) times = batch_view(in.seed_times, in, b);
  s.sample_into(ctx, in.seed_type, batch_view(in.seeds, in, b), times, std::uint64_t(b), mb);
}

struct Rate {
  double edges_per_s = 0, median_batch_ms = 0;
  std::int64_t edges = 0;
};

Rate time_sampling(const NeighborSampler& s, const Input& in, int threads, int batches) {
  const Context ctx = Context::cpu(threads, 1);
  MiniBatch mb;  // recycled, as the loader does
  for (int b = 0; b < 3; ++b) sample(s, in, ctx, b, mb);
  std::vector<double> per_batch;
  Rate r;
  const auto t0 = Clock::now();
  for (int b = 0; b < batches; ++b) {
    const auto tb = Clock::now();
    sample(s, in, ctx, b, mb);
    per_batch.push_back(seconds_since(tb));
    r.edges += mb.num_edges();
  }
  r.edges_per_s = double(r.edges) / seconds_since(t0);
  std::sort(per_batch.begin(), per_batch.end());
  r.median_batch_ms = per_batch[per_batch.size() / 2] * 1e3;
  return r;
}

bool same(const MiniBatch& a, const MiniBatch& b) {
  if (a.nodes != b.nodes || a.node_times != b.node_times || a.node_seed != b.node_seed ||
      a.seed_local != b.seed_local || a.relations.size() != b.relations.size())
    return false;
  for (std::size_t r = 0; r < a.relations.size(); ++r) {
    const auto &x = a.relations[r], &y = b.relations[r];
    if (x.indptr != y.indptr || x.indices != y.indices || x.edge_ids != y.edge_ids) return false;
  }
  return true;
}

/// Batches [0, batches) sampled with 1 and with 2 threads are identical.
bool thread_independent(const NeighborSampler& s, const Input& in, int batches) {
  const Context one = Context::cpu(1, 1), two = Context::cpu(2, 1);
  MiniBatch a, b;
  for (int k = 0; k < batches; ++k) {
    sample(s, in, one, k, a);
    sample(s, in, two, k, b);
    if (!same(a, b)) return false;
  }
  return true;
}

/// Samples batches 0, 1, ... until at least `min_edges` sampled edges have been checked
/// against the time of the seed whose subtree holds them; returns {checked, later, batches}.
std::tuple<std::int64_t, std::int64_t, int> future_edges(const NeighborSampler& s, const Input& in,
                                                         std::int64_t min_edges) {
  const Context ctx = Context::cpu(2, 1);
  MiniBatch mb;
  std::int64_t checked = 0, later = 0;
  int b = 0;
  for (; checked < min_edges; ++b) {
    sample(s, in, ctx, b, mb);
    const std::int64_t* seed_time = in.seed_times.as<std::int64_t>().data() + (b % in.num_batches) * in.batch_size;
    for (const SampledRelation& sr : mb.relations) {
      const HostArray& ts = in.timestamps[std::size_t(sr.relation)];
      if (ts.size() == 0) continue;
      const std::int64_t* t = ts.as<std::int64_t>().data();
      const auto& owner = mb.node_seed[std::size_t(sr.dst_type)];
      for (std::size_t d = 0; d + 1 < sr.indptr.size(); ++d)
        for (std::int64_t k = sr.indptr[d]; k < sr.indptr[d + 1]; ++k) {
          ++checked;
          later += t[sr.edge_ids[std::size_t(k)]] > seed_time[owner[d]];
        }
    }
  }
  return {checked, later, b};
}

}  // namespace

int main(int argc, char** argv) {
  std::string inputs = std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/gnnkit-bench/full";
  std::string g2_file;
  int batches = 50;
  std::vector<std::int64_t> fanouts{15, 10, 5};
  std::vector<std::int64_t> thread_counts{1, 2};
  std::vector<std::int64_t> case_list{0, 1, 2, 3};  // G2 (the reference) always runs first
  bool checks = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--inputs") inputs = v;
    else if (a == "--batches") batches = std::stoi(v);
    else if (a == "--fanouts") fanouts = bench::parse_list(v);
    else if (a == "--g2-file") g2_file = v;
    else if (a == "--threads") thread_counts = bench::parse_list(v);
    else if (a == "--cases") case_list = bench::parse_list(v);  // 1 G5, 2 G6 uniform, 3 G6 recent
    else if (a == "--checks") checks = v != "0";  // the 1 == 2 threads and future-edge checks
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::printf("%s\ninputs %s, %d timed batches per case, fan-outs %s\n", build_info().c_str(), inputs.c_str(),
              batches, [&] { std::string s; for (auto f : fanouts) s += (s.empty() ? "" : ",") + std::to_string(f); return s; }().c_str());

  // Homogeneous reference: G2, uniform without replacement, from a mapped file when given.
  Input g2;
  std::optional<GraphFile> g2_mapped;  // keeps the mapping alive
  if (!g2_file.empty()) {
    LoadOptions populate;
    populate.populate = true;
    g2.id = "G2";
    g2_mapped = load_graph(g2_file, populate);
    g2.graph = g2_mapped->graph;
    g2.seeds = bench::read_i64(inputs + "/G2/seeds.i64");
    g2.seed_type = "node";
    g2.num_batches = g2.seeds.size() / g2.batch_size;
    std::printf("G2: %lld edges from %s\n", (long long)g2.graph.num_edges(), g2_file.c_str());
  } else {
    g2 = load_input(inputs + "/G2", "G2", false);
  }
  const Input g5 = load_input(inputs + "/G5", "G5", false);
  const Input g6 = load_input(inputs + "/G6", "G6", true);

  SamplingOptions homo;
  homo.fanouts = fanouts;
  // G5: per-relation fan-outs: the device relations (hub-heavy: emulators, shared phones)
  // get smaller ones than the rest.
  SamplingOptions hetero = homo;
  std::vector<std::int64_t> small;
  for (auto f : fanouts) small.push_back(std::max<std::int64_t>(1, f * 2 / 3));
  hetero.relation_fanouts = {{"uses", small}, {"rev_uses", small}};
  SamplingOptions uniform_t = homo, recent_t = homo;
  uniform_t.disjoint = recent_t.disjoint = true;
  uniform_t.temporal = TemporalStrategy::kUniform;
  recent_t.temporal = TemporalStrategy::kMostRecent;

  struct Case {
    const char* name;
    const Input* in;
    SamplingOptions opt;
  };
  const std::vector<Case> cases = {{"G2 homogeneous, uniform", &g2, homo},
                                   {"G5 hetero, per-relation fan-outs", &g5, hetero},
                                   {"G6 temporal uniform-before-t, disjoint", &g6, uniform_t},
                                   {"G6 temporal most-recent, disjoint", &g6, recent_t}};
  std::vector<std::unique_ptr<NeighborSampler>> samplers;
  for (const Case& c : cases) samplers.push_back(std::make_unique<NeighborSampler>(c.in->graph, c.opt));

  auto listed = [&](std::size_t i) {
    return i == 0 || std::find(case_list.begin(), case_list.end(), std::int64_t(i)) != case_list.end();
  };
  for (const std::int64_t t : thread_counts) {
    const int threads = int(t);
    const bench::Calibration cal = bench::calibrate_memory(threads);
    bench::print_calibration(cal);
    double homo_rate = 0;
    for (std::size_t i = 0; i < cases.size(); ++i) {
      if (!listed(i)) continue;
      const Rate r = time_sampling(*samplers[i], *cases[i].in, threads, batches);
      if (i == 0) homo_rate = r.edges_per_s;
      std::printf("%d thread(s) %-40s %6.2f M edges/s (%.0f%% of the random-line bound, %.2fx G2), median batch %.2f ms, %.0f edges/batch\n",
                  threads, cases[i].name, r.edges_per_s / 1e6, 100.0 * r.edges_per_s / cal.random_lines_per_s,
                  r.edges_per_s / homo_rate, r.median_batch_ms, double(r.edges) / batches);
    }
  }
  if (!checks) return 0;
  for (std::size_t i = 1; i < cases.size(); ++i)
    if (listed(i)) std::printf("%-40s 1 thread == 2 threads over 20 batches: %s\n", cases[i].name,
                thread_independent(*samplers[i], *cases[i].in, 20) ? "yes" : "NO");
  for (std::size_t i = 2; i < cases.size(); ++i) {
    if (!listed(i)) continue;
    const auto [checked, later, n] = future_edges(*samplers[i], *cases[i].in, 1000000);
    std::printf("%-40s %lld sampled edges in %d batches checked against their seed's time: %lld later\n",
                cases[i].name, (long long)checked, n, (long long)later);
  }
  return 0;
}
