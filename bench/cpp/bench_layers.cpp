// Layer benchmarks of issue 5 (BENCHMARKING.md): SpMM aggregation, GatConv and a 2-layer
// SageConv forward+backward, and the dense linear GEMMs of those layers, on the standard
// inputs G1 (whole graph) and G2 (sampled blocks). gnnkit's side of
// bench/compare/run_layers.py, which runs the same workloads through DGL and PyG on the same
// bytes (graph arrays, features, sampled blocks and weights, all written here by --prepare).
//
//   bench_layers --prepare 1                       # inputs for every library (once, ~30 s)
//   bench_layers --workload spmm|gat|sage|dense [--threads 2 --warmup 3 --iters 20]
//   bench_layers --workload verify --out DIR       # outputs the anchors are checked against
//   bench_layers --workload spmm --calibrate 1     # standalone: also B0 and % of the bound
//
// Every timed case prints one JSON line; the last line ("GNNKIT_BENCH_RESULT {...}") holds
// them all with the process's peak RSS (VmHWM), for run_layers.py.
//
// Data layout (default ~/.cache/gnnkit-bench/layers, or --data):
//   G1.x.f32          [262144, 128] float32 features (splitmix64 of (1, i), uniform [-1, 1))
//   blocks/b<k>.bin   sampled G2 batch k: int64 header [n_nodes, n1_dst, n2_dst, n2_src, e1,
//                     e2, 0, 0], int64 indptr [n1_dst + 1], int32 indices [e1] (local ids;
//                     layer 1 = all rows, layer 2 = the first n2_dst rows, sources < n2_src)
//   blocks/x.f32      [max n_nodes, 128] float32 features for the blocks (stream 2)
//   blocks/meta.json  batch size, fan-outs, per-batch counts, G2's input hash
//   weights/<name>.f32 and weights/weights.json: every parameter of the compared layers
#include <sys/mman.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "calibration.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/gnnkit.hpp"
#include "gnnkit/nn/aggregate.hpp"
#include "gnnkit/nn/gat_conv.hpp"
#include "gnnkit/nn/sage_conv.hpp"
#include "gnnkit/sampling/neighbor.hpp"

#if GNNKIT_BENCH_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

using namespace gnnkit;
using namespace gnnkit::nn;

namespace {

// ---- small utilities ----------------------------------------------------------------------

struct Args {
  std::string g1, g2, data, workload = "spmm", out;
  int threads = 2, warmup = 3, iters = 20, batches = 10, prepare = 0, calibrate = 0;
  std::string filter;  // only cases whose name contains this
};

std::string home() { return std::getenv("HOME") ? std::getenv("HOME") : "."; }

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

void make_dirs(const std::string& p) {
  std::string cur;
  std::stringstream ss(p);
  for (std::string part; std::getline(ss, part, '/');) {
    cur += part + "/";
    ::mkdir(cur.c_str(), 0755);
  }
}

template <typename T>
std::vector<T> read_vec(const std::string& path, std::int64_t offset_bytes = 0, std::int64_t count = -1) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path + " (run bench_layers --prepare 1)");
  const std::int64_t bytes = std::int64_t(in.tellg()) - offset_bytes;
  if (count < 0) count = bytes / std::int64_t(sizeof(T));
  std::vector<T> v(static_cast<std::size_t>(count));
  in.seekg(offset_bytes);
  in.read(reinterpret_cast<char*>(v.data()), count * std::int64_t(sizeof(T)));
  if (!in) throw std::runtime_error("short read " + path);
  return v;
}

template <typename T>
void write_vec(const std::string& path, const T* data, std::size_t count) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data), std::streamsize(count * sizeof(T)));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::int64_t json_int(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\"" + key + "\": ?([0-9]+)")))
    throw std::runtime_error("no " + key + " in json");
  return std::stoll(m[1]);
}

std::string json_str(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\"" + key + "\": ?\"([^\"]*)\"")))
    throw std::runtime_error("no " + key + " in json");
  return m[1];
}

long vm_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  return 0;
}

/// Uniform [-1, 1) float from (stream, index): identical in C++ and NumPy (run_layers.py
/// reads the files instead of recomputing, but the rule is documented).
float feature_value(std::uint64_t stream, std::uint64_t i) {
  return float(bench::mix64(stream * 0x100000000ull + i) >> 40) / float(1 << 23) - 1.f;
}

bool g_thp = false;  // --thp 1: inputs in transparent huge pages (experiment)

Tensor tensor_from(const float* data, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  Tensor t;
  if (g_thp) {
    const std::size_t huge = std::size_t(2) << 20;
    const std::size_t bytes = (std::size_t(rows * cols) * 4 + huge - 1) / huge * huge;
    void* p = std::aligned_alloc(huge, bytes);
    ::madvise(p, bytes, MADV_HUGEPAGE);
    const std::int64_t shape[] = {rows, cols};
    t = Tensor::wrap(TensorView(p, DType::kFloat32, Device::cpu(), shape),
                     std::shared_ptr<void>(p, [](void* q) { std::free(q); }));
  } else {
    t = Tensor::empty({rows, cols}, DType::kFloat32);
  }
  for (std::int64_t i = 0; i < rows; ++i)
    std::memcpy(t.data_as<float>() + i * cols, data + i * ld, std::size_t(cols) * 4);
  return t;
}

// ---- results ---------------------------------------------------------------------------------

std::vector<std::string> g_cases;  // JSON objects

std::string seconds_json(const std::vector<double>& s) {
  std::string out = "[";
  char buf[32];
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.6g", i ? ", " : "", s[i]);
    out += buf;
  }
  return out + "]";
}

struct Timed {
  std::vector<double> seconds;
  double median = 0, p10 = 0, p90 = 0;
};

Timed time_it(const Args& a, const std::function<void()>& fn, int warmup = -1, int iters = -1) {
  if (warmup < 0) warmup = a.warmup;
  if (iters < 0) iters = a.iters;
  for (int i = 0; i < warmup; ++i) fn();
  Timed t;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<double> s = t.seconds;
  std::sort(s.begin(), s.end());
  auto at = [&](double q) { return s[std::size_t(q * double(s.size() - 1) + 0.5)]; };
  t.median = at(0.5), t.p10 = at(0.1), t.p90 = at(0.9);
  return t;
}

/// Records one case: name, timings and extra JSON fields ("key": value, ...).
void record(const std::string& workload, const std::string& name, const Timed& t,
            const std::string& extra) {
  char head[512];
  std::snprintf(head, sizeof head,
                "{\"workload\": \"%s\", \"case\": \"%s\", \"median_s\": %.6g, \"p10_s\": %.6g, "
                "\"p90_s\": %.6g, \"vm_hwm_kib\": %ld",
                workload.c_str(), name.c_str(), t.median, t.p10, t.p90, vm_kib("VmHWM:"));
  std::string line = std::string(head) + (extra.empty() ? "" : ", " + extra) +
                     ", \"seconds\": " + seconds_json(t.seconds) + "}";
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  g_cases.push_back(line);
}

bool wanted(const Args& a, const std::string& name) {
  return a.filter.empty() || name.find(a.filter) != std::string::npos;
}

// ---- inputs ------------------------------------------------------------------------------------

struct G1 {
  std::int64_t n = 0, e = 0;
  HeteroGraph graph;
  std::string input_hash;
};

G1 load_g1(const Args& a, const Context& ctx) {
  G1 g;
  const std::string meta = read_text(a.g1 + "/meta.json");
  g.n = json_int(meta, "num_nodes_total");
  g.input_hash = json_str(meta, "input_hash");
  auto src = read_vec<std::int64_t>(a.g1 + "/node__to__node.src.i64");
  auto dst = read_vec<std::int64_t>(a.g1 + "/node__to__node.dst.i64");
  g.e = std::int64_t(src.size());
  const std::int64_t shape[] = {g.e};
  BuildOptions opt;
  opt.keep_edge_ids = false;
  g.graph = HeteroGraph::from_coo(ctx, g.n,
                                  TensorView(src.data(), DType::kInt64, Device::cpu(), shape),
                                  TensorView(dst.data(), DType::kInt64, Device::cpu(), shape), opt);
  return g;
}

CompressedView<std::int32_t> g1_csc(const G1& g) { return g.graph.relation(0).csc<std::int32_t>(); }

/// G1 features [n, F] (contiguous copy of the first F columns of G1.x.f32).
Tensor g1_features(const Args& a, std::int64_t n, std::int64_t F) {
  const auto x = read_vec<float>(a.data + "/G1.x.f32");
  if (std::int64_t(x.size()) != n * 128) throw std::runtime_error("G1.x.f32 has the wrong size");
  return tensor_from(x.data(), n, F, 128);
}

struct BlockBatch {
  std::int64_t n_nodes, n1_dst, n2_dst, n2_src, e1, e2;
  std::vector<std::int64_t> indptr;
  std::vector<std::int32_t> indices;
  Adjacency adj1, adj2;
};

std::vector<BlockBatch> load_blocks(const Args& a, int threads, int max_batches) {
  std::vector<BlockBatch> out;
  for (int k = 0; k < max_batches; ++k) {
    const std::string p = a.data + "/blocks/b" + std::to_string(k) + ".bin";
    if (!exists(p)) break;
    const auto h = read_vec<std::int64_t>(p, 0, 8);
    BlockBatch b{h[0], h[1], h[2], h[3], h[4], h[5], {}, {}, {}, {}};
    b.indptr = read_vec<std::int64_t>(p, 64, b.n1_dst + 1);
    b.indices = read_vec<std::int32_t>(p, 64 + 8 * (b.n1_dst + 1), b.e1);
    out.push_back(std::move(b));
  }
  if (out.empty()) throw std::runtime_error("no blocks in " + a.data + "/blocks (run --prepare 1)");
  for (auto& b : out) {  // adjacencies (with transposes) built once, outside timing
    b.adj1 = Adjacency::view(CompressedView<std::int32_t>{b.n1_dst, b.n_nodes, b.indptr.data(), b.indices.data(), nullptr}, threads);
    b.adj2 = Adjacency::view(CompressedView<std::int32_t>{b.n2_dst, b.n2_src, b.indptr.data(), b.indices.data(), nullptr}, threads);
  }
  return out;
}

// The compared layers' parameters: created from fixed seeds, written for the anchors.
struct Model {
  ParameterList params;
  GatConv gat;
  SageConv sage1, sage2;
  Model()
      : gat(params, "gat", GatConvOptions{64, 64, 16, 4, true, 0.2, 0.0, true, true}, 11),
        sage1(params, "sage1", SageConvOptions{128, 128, 256, Reduce::kMean, true, false, true}, 12),
        sage2(params, "sage2", SageConvOptions{256, 256, 256, Reduce::kMean, true, false, true}, 13) {
    // Non-zero biases so that the copies are checked too.
    for (const auto& p : params)
      if (p->name.find("bias") != std::string::npos)
        for (std::int64_t i = 0; i < p->numel(); ++i) p->value.data_as<float>()[i] = 0.01f * float(i % 7) - 0.03f;
  }
};

void prepare(const Args& a) {
  make_dirs(a.data + "/blocks");
  make_dirs(a.data + "/weights");
  const Context ctx = Context::cpu(a.threads);
  // G1 features.
  {
    const std::string meta = read_text(a.g1 + "/meta.json");
    const std::int64_t n = json_int(meta, "num_nodes_total");
    std::vector<float> x(std::size_t(n * 128));
#pragma omp parallel for num_threads(a.threads)
    for (std::int64_t i = 0; i < n * 128; ++i) x[std::size_t(i)] = feature_value(1, std::uint64_t(i));
    write_vec(a.data + "/G1.x.f32", x.data(), x.size());
    std::printf("prepare: G1.x.f32 [%lld, 128]\n", (long long)n);
  }
  // Weights.
  {
    Model m;
    std::string json = "{\"seed_note\": \"gnnkit ParameterList, layout [in, out] as gnnkit stores it\", \"params\": [";
    bool first = true;
    for (const auto& p : m.params) {
      write_vec(a.data + "/weights/" + p->name + ".f32", p->value.data_as<float>(), std::size_t(p->numel()));
      std::string shape;
      for (std::size_t d = 0; d < p->value.shape().size(); ++d) shape += (d ? ", " : "") + std::to_string(p->value.shape()[d]);
      json += std::string(first ? "" : ", ") + "{\"name\": \"" + p->name + "\", \"shape\": [" + shape + "]}";
      first = false;
    }
    json += "]}\n";
    std::ofstream(a.data + "/weights/weights.json") << json;
    std::printf("prepare: %zu parameters\n", m.params.size());
  }
  // Sampled G2 blocks.
  {
    const std::string meta = read_text(a.g2 + "/meta.json");
    const std::int64_t n = json_int(meta, "num_nodes_total");
    auto src = read_vec<std::int64_t>(a.g2 + "/node__to__node.src.i64");
    auto dst = read_vec<std::int64_t>(a.g2 + "/node__to__node.dst.i64");
    const auto seeds = read_vec<std::int64_t>(a.g2 + "/seeds.i64");
    const std::int64_t shape[] = {std::int64_t(src.size())};
    BuildOptions bo;
    bo.keep_edge_ids = false;
    const HeteroGraph g = HeteroGraph::from_coo(ctx, n, TensorView(src.data(), DType::kInt64, Device::cpu(), shape),
                                                TensorView(dst.data(), DType::kInt64, Device::cpu(), shape), bo);
    src = {};
    dst = {};
    SamplingOptions so;
    so.fanouts = {15, 10};
    const NeighborSampler sampler(g, so);
    std::int64_t max_nodes = 0;
    std::string per_batch;
    for (int k = 0; k < a.batches; ++k) {
      const std::int64_t sshape[] = {1024};
      const TensorView sv(const_cast<std::int64_t*>(seeds.data()) + k * 1024, DType::kInt64, Device::cpu(), sshape);
      const MiniBatch mb = sampler.sample(ctx, "node", sv, std::nullopt, std::uint64_t(k));
      const SampledRelation& r = mb.relations[0];
      const std::int64_t n_nodes = mb.num_nodes(0), n1_dst = std::int64_t(r.indptr.size()) - 1;
      const std::int64_t n2_dst = mb.blocks[0].dst_end[0], n2_src = mb.blocks[0].num_src[0];
      if (n1_dst != mb.blocks[1].dst_end[0] || n2_src != n1_dst)
        throw std::runtime_error("unexpected block layout");
      const std::int64_t h[8] = {n_nodes, n1_dst, n2_dst, n2_src, r.num_edges(), r.indptr[std::size_t(n2_dst)], 0, 0};
      std::ofstream out(a.data + "/blocks/b" + std::to_string(k) + ".bin", std::ios::binary);
      out.write(reinterpret_cast<const char*>(h), sizeof h);
      out.write(reinterpret_cast<const char*>(r.indptr.data()), std::streamsize(r.indptr.size() * 8));
      out.write(reinterpret_cast<const char*>(r.indices.data()), std::streamsize(r.indices.size() * 4));
      max_nodes = std::max(max_nodes, n_nodes);
      char buf[256];
      std::snprintf(buf, sizeof buf, "%s{\"n_nodes\": %lld, \"n1_dst\": %lld, \"n2_dst\": %lld, \"n2_src\": %lld, \"e1\": %lld, \"e2\": %lld}",
                    k ? ", " : "", (long long)n_nodes, (long long)n1_dst, (long long)n2_dst, (long long)n2_src,
                    (long long)r.num_edges(), (long long)h[5]);
      per_batch += buf;
    }
    std::vector<float> x(std::size_t(max_nodes * 256));  // 256 columns: also the grads of [*, 256]
#pragma omp parallel for num_threads(a.threads)
    for (std::int64_t i = 0; i < max_nodes * 256; ++i) x[std::size_t(i)] = feature_value(2, std::uint64_t(i));
    write_vec(a.data + "/blocks/x.f32", x.data(), x.size());
    std::ofstream(a.data + "/blocks/meta.json")
        << "{\"graph\": \"G2\", \"g2_input_hash\": \"" << json_str(meta, "input_hash")
        << "\", \"batch_size\": 1024, \"fanouts\": [15, 10], \"sampler\": \"gnnkit NeighborSampler, uniform without replacement, batch k = seeds.i64[1024k:1024(k+1)], key k\", "
        << "\"x_cols\": 256, \"max_nodes\": " << max_nodes << ", \"batches\": [" << per_batch << "]}\n";
    std::printf("prepare: %d blocks of G2, max %lld nodes\n", a.batches, (long long)max_nodes);
  }
}

// ---- workloads -------------------------------------------------------------------------------

void run_spmm(const Args& a, const Context& ctx) {
  const G1 g = load_g1(a, ctx);
  const auto csc = g1_csc(g);
  const Adjacency adj = Adjacency::view(csc, a.threads);  // transpose built once
  for (std::int64_t F : {64, 128}) {
    const Tensor x = g1_features(a, g.n, F);
    const Tensor grad = x;  // grad of the output: the same values (same shape)
    for (Reduce r : {Reduce::kSum, Reduce::kMean})
      for (bool backward : {false, true}) {
        const std::string name = std::string(r == Reduce::kSum ? "sum" : "mean") + " F=" +
                                 std::to_string(F) + (backward ? " fwd+bwd" : " fwd");
        if (!wanted(a, name)) continue;
        const Timed t = time_it(a, [&] {
          AggregateCache cache;
          Tensor out = aggregate_forward(ctx, adj, x, r, backward ? &cache : nullptr);
          if (backward) {
            Tensor gx = aggregate_backward(ctx, adj, cache, grad);
            bench::keep(gx);
          }
          bench::keep(out);
        });
        char extra[256];
        std::snprintf(extra, sizeof extra, "\"F\": %lld, \"reduce\": \"%s\", \"backward\": %s, \"nodes\": %lld, \"edges\": %lld",
                      (long long)F, r == Reduce::kSum ? "sum" : "mean", backward ? "true" : "false", (long long)g.n,
                      (long long)g.e);
        record("spmm", name, t, extra);
      }
  }
}

void run_gat(const Args& a, const Context& ctx) {
  const G1 g = load_g1(a, ctx);
  // Self loops once, with the transpose (with_self_loops keeps a transpose only when its
  // input had one, so the temporary loop-free adjacency needs one too).
  const Adjacency adj = Adjacency::view(g1_csc(g), a.threads).with_self_loops(a.threads);
  const Tensor x = g1_features(a, g.n, 64);
  const Tensor grad = x;  // output is [n, 4 x 16]
  Model m;
  const long rss_before = vm_kib("VmRSS:"), hwm_before = vm_kib("VmHWM:");
  ForwardMode mode;
  mode.training = true;
  const Timed t = time_it(a, [&] {
    GatConv::Cache cache;
    Tensor out = m.gat.forward(ctx, adj, x, x, mode, &cache);
    ConvGrads gr = m.gat.backward(ctx, cache, grad);
    bench::keep(out);
    bench::keep(gr);
  });
  char extra[256];
  std::snprintf(extra, sizeof extra, "\"nodes\": %lld, \"edges\": %lld, \"rss_before_kib\": %ld, \"hwm_before_kib\": %ld",
                (long long)g.n, (long long)adj.num_edges(), rss_before, hwm_before);
  record("gat", "GatConv 64->4x16 fwd+bwd", t, extra);
  if (wanted(a, "split")) {
    // Timing split of the forward alone (for the report).
    const Timed f = time_it(a, [&] {
      Tensor out = m.gat.forward(ctx, adj, x, x, ForwardMode{}, nullptr);
      bench::keep(out);
    });
    record("gat", "GatConv 64->4x16 fwd", f, "\"edges\": " + std::to_string(adj.num_edges()));
  }
}

struct SageRun {
  Tensor x_blocks;  // [max_nodes, 256]
};

void run_sage(const Args& a, const Context& ctx) {
  std::vector<BlockBatch> blocks = load_blocks(a, a.threads, a.batches);
  const std::string meta = read_text(a.data + "/blocks/meta.json");
  const std::int64_t max_nodes = json_int(meta, "max_nodes");
  const auto xall = read_vec<float>(a.data + "/blocks/x.f32");
  if (std::int64_t(xall.size()) != max_nodes * 256) throw std::runtime_error("blocks/x.f32 has the wrong size");
  // Per batch: x [n_nodes, 128] = first 128 columns of the stream-2 rows; grad [n2_dst, 256].
  std::vector<Tensor> xs, grads;
  std::int64_t edges = 0;
  for (const auto& b : blocks) {
    xs.push_back(tensor_from(xall.data(), b.n_nodes, 128, 256));
    grads.push_back(tensor_from(xall.data(), b.n2_dst, 256, 256));
    edges += b.e1 + b.e2;
  }
  Model m;
  std::size_t k = 0;
  const Activation act = Activation::kReLU;
  auto step = [&](bool backward) {
    const BlockBatch& b = blocks[k % blocks.size()];
    const Tensor& x = xs[k % blocks.size()];
    const Tensor& g = grads[k % blocks.size()];
    ++k;
    ForwardMode mode;
    mode.training = backward;
    SageConv::Cache c1, c2;
    Tensor h1 = m.sage1.forward(ctx, b.adj1, x, slice_rows(x, 0, b.n1_dst), mode, backward ? &c1 : nullptr);
    activation_forward(ctx, act, h1);
    Tensor out = m.sage2.forward(ctx, b.adj2, h1, slice_rows(h1, 0, b.n2_dst), mode, backward ? &c2 : nullptr);
    if (!backward) {
      bench::keep(out);
      return;
    }
    ConvGrads g2 = m.sage2.backward(ctx, b.adj2, c2, g);
    add_into(ctx, slice_rows(g2.x_src, 0, b.n2_dst), g2.x_dst);
    activation_backward(ctx, act, h1, g2.x_src);
    // Input layer: no gradient w.r.t. the input features (the anchors' x has no
    // requires_grad either).
    ConvGrads g1 = m.sage1.backward(ctx, b.adj1, c1, g2.x_src, /*input_grads=*/false);
    bench::keep(g1);
  };
  for (bool backward : {false, true}) {
    const std::string name = std::string("SAGE-mean 2 layers 128->256->256 ") + (backward ? "fwd+bwd" : "fwd");
    if (!wanted(a, name)) continue;
    k = 0;
    // Each timed call runs every batch once (so every library sees the same batches).
    const Timed t = time_it(a, [&] {
      for (std::size_t i = 0; i < blocks.size(); ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        step(backward);
        if (std::getenv("GNNKIT_BENCH_VERBOSE"))
          std::fprintf(stderr, "batch %zu: %.2f ms\n", i,
                       1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    });
    char extra[256];
    std::snprintf(extra, sizeof extra, "\"batches\": %zu, \"edges\": %lld", blocks.size(), (long long)edges);
    record("sage", name, t, extra);
  }
}

/// Dense GEMMs of the layers: gnnkit::matmul (as linear_forward / linear_backward call it)
/// against dnnl_sgemm on the same operands, plus the machine's SGEMM peak (2048^3).
void run_dense(const Args& a, const Context& ctx) {
  struct Shape {
    std::string what;
    std::int64_t m, k, n;
    bool ta, tb;  // A given as [k, m] transposed view (dW = xT g); B as [n, k] (dX = g WT)
  };
  std::vector<Shape> shapes;
  auto layer = [&](const std::string& what, std::int64_t rows, std::int64_t in, std::int64_t out) {
    shapes.push_back({what + " fwd x.W", rows, in, out, false, false});
    shapes.push_back({what + " bwd xT.g", in, rows, out, true, false});
    shapes.push_back({what + " bwd g.WT", rows, out, in, false, true});
  };
  std::int64_t n1 = 15000, n2 = 1000;
  if (exists(a.data + "/blocks/b0.bin")) {
    const auto h = read_vec<std::int64_t>(a.data + "/blocks/b0.bin", 0, 8);
    n1 = h[1];
    n2 = h[2];
  }
  layer("GAT G1 262144x64->64", 262144, 64, 64);
  layer("SAGE l1 " + std::to_string(n1) + "x128->256", n1, 128, 256);
  layer("SAGE l2 " + std::to_string(n2) + "x256->256", n2, 256, 256);
  shapes.push_back({"square 2048 (SGEMM peak)", 2048, 2048, 2048, false, false});
  double ours_total = 0, ref_total = 0, flops_total = 0, peak = 0;
  for (const auto& s : shapes) {
    Tensor A = s.ta ? Tensor::empty({s.k, s.m}, DType::kFloat32) : Tensor::empty({s.m, s.k}, DType::kFloat32);
    Tensor B = s.tb ? Tensor::empty({s.n, s.k}, DType::kFloat32) : Tensor::empty({s.k, s.n}, DType::kFloat32);
    Tensor C = Tensor::empty({s.m, s.n}, DType::kFloat32);
    fill(ctx, A, 0.5);
    fill(ctx, B, 0.25);
    const TensorView av = s.ta ? transposed(A.view()) : A.view();
    const TensorView bv = s.tb ? transposed(B.view()) : B.view();
    const double flops = 2.0 * double(s.m) * double(s.k) * double(s.n);
    const Timed ours = time_it(a, [&] {
      Tensor c = matmul(ctx, av, bv);
      bench::keep(c);
    }, 3, std::max(a.iters, 20));
    double ref = 0;
#if GNNKIT_BENCH_HAVE_ONEDNN
    omp_set_num_threads(a.threads);
    ref = time_it(a, [&] {
      dnnl_sgemm(s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', s.m, s.n, s.k, 1.f, A.data_as<float>(), s.ta ? s.m : s.k,
                 B.data_as<float>(), s.tb ? s.k : s.n, 0.f, C.data_as<float>(), s.n);
    }, 3, std::max(a.iters, 20)).median;
#endif
    if (s.m == 2048 && s.k == 2048) {
      peak = flops / ref / 1e9;
    } else {
      ours_total += ours.median;
      ref_total += ref;
      flops_total += flops;
    }
    char extra[512];
    std::snprintf(extra, sizeof extra, "\"m\": %lld, \"k\": %lld, \"n\": %lld, \"gflops\": %.1f, \"sgemm_same_shape_s\": %.6g, \"sgemm_same_shape_gflops\": %.1f",
                  (long long)s.m, (long long)s.k, (long long)s.n, flops / ours.median / 1e9, ref, ref > 0 ? flops / ref / 1e9 : 0.0);
    record("dense", s.what, ours, extra);
  }
  Timed t;
  t.median = ours_total;
  char extra[256];
  std::snprintf(extra, sizeof extra, "\"gflops\": %.1f, \"sgemm_same_shapes_gflops\": %.1f, \"sgemm_peak_gflops\": %.1f",
                flops_total / ours_total / 1e9, ref_total > 0 ? flops_total / ref_total / 1e9 : 0.0, peak);
  record("dense", "all layer GEMMs (sum of medians)", t, extra);
}

/// Outputs the anchors are checked against (rule 7), written to --out.
void run_verify(const Args& a, const Context& ctx) {
  make_dirs(a.out);
  const G1 g = load_g1(a, ctx);
  {
    const Adjacency adj = Adjacency::view(g1_csc(g), a.threads);
    const Tensor x = g1_features(a, g.n, 64);
    for (Reduce r : {Reduce::kSum, Reduce::kMean}) {
      AggregateCache cache;
      const Tensor out = aggregate_forward(ctx, adj, x, r, &cache);
      const Tensor gx = aggregate_backward(ctx, adj, cache, x);
      const std::string tag = r == Reduce::kSum ? "sum" : "mean";
      write_vec(a.out + "/spmm_" + tag + "_F64.out.f32", out.data_as<float>(), std::size_t(out.numel()));
      write_vec(a.out + "/spmm_" + tag + "_F64.gx.f32", gx.data_as<float>(), std::size_t(gx.numel()));
    }
  }
  Model m;
  {
    const Adjacency adj = Adjacency::view(g1_csc(g), a.threads).with_self_loops(a.threads);
    const Tensor x = g1_features(a, g.n, 64);
    GatConv::Cache cache;
    const Tensor out = m.gat.forward(ctx, adj, x, x, ForwardMode{true, 0, false}, &cache);
    m.params.zero_grad();
    m.gat.backward(ctx, cache, x);
    write_vec(a.out + "/gat.out.f32", out.data_as<float>(), std::size_t(out.numel()));
    write_vec(a.out + "/gat.lin.weight.grad.f32", m.params.at("gat.lin.weight")->grad.data_as<float>(),
              std::size_t(m.params.at("gat.lin.weight")->numel()));
  }
  {
    std::vector<BlockBatch> blocks = load_blocks(a, a.threads, 1);
    const BlockBatch& b = blocks[0];
    const std::string meta = read_text(a.data + "/blocks/meta.json");
    const auto xall = read_vec<float>(a.data + "/blocks/x.f32");
    const Tensor x = tensor_from(xall.data(), b.n_nodes, 128, 256);
    const Tensor gr = tensor_from(xall.data(), b.n1_dst, 256, 256);
    SageConv::Cache c;
    const Tensor out = m.sage1.forward(ctx, b.adj1, x, slice_rows(x, 0, b.n1_dst), ForwardMode{true, 0, false}, &c);
    m.params.zero_grad();
    m.sage1.backward(ctx, b.adj1, c, gr);
    write_vec(a.out + "/sage1.out.f32", out.data_as<float>(), std::size_t(out.numel()));
    for (const char* p : {"sage1.lin_neigh.weight", "sage1.lin_root.weight", "sage1.lin_neigh.bias"})
      write_vec(a.out + "/" + p + ".grad.f32", m.params.at(p)->grad.data_as<float>(), std::size_t(m.params.at(p)->numel()));
  }
  Timed t;
  record("verify", "outputs written", t, "\"out\": \"" + a.out + "\"");
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  a.g1 = home() + "/.cache/gnnkit-bench/full/G1";
  a.g2 = home() + "/.cache/gnnkit-bench/full/G2";
  a.data = home() + "/.cache/gnnkit-bench/layers";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--g1") a.g1 = v;
    else if (k == "--g2") a.g2 = v;
    else if (k == "--data") a.data = v;
    else if (k == "--workload") a.workload = v;
    else if (k == "--out") a.out = v;
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--warmup") a.warmup = std::stoi(v);
    else if (k == "--iters") a.iters = std::stoi(v);
    else if (k == "--batches") a.batches = std::stoi(v);
    else if (k == "--prepare") a.prepare = std::stoi(v);
    else if (k == "--calibrate") a.calibrate = std::stoi(v);
    else if (k == "--filter") a.filter = v;
    else if (k == "--thp") g_thp = v == "1";
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::printf("%s\n", build_info().c_str());
  const Context ctx = Context::cpu(a.threads);
  try {
    if (a.prepare) {
      prepare(a);
      return 0;
    }
    if (a.calibrate) {
      bench::Calibration c = bench::calibrate_memory(a.threads);
      bench::print_calibration(c);
      char buf[256];
      std::snprintf(buf, sizeof buf, "\"threads\": %d, \"seq_read_gbs\": %.3f, \"random_lines_per_s\": %.4g, \"gather_rows_per_s_256\": %.4g, \"gather_rows_per_s_512\": %.4g",
                    c.threads, c.seq_read_gbs, c.random_lines_per_s, c.gather_rows_per_s_256, c.gather_rows_per_s_512);
      record("calibration", "B0", Timed{}, buf);
    }
    std::stringstream ss(a.workload);
    for (std::string w; std::getline(ss, w, ',');) {
      if (w == "spmm") run_spmm(a, ctx);
      else if (w == "gat") run_gat(a, ctx);
      else if (w == "sage") run_sage(a, ctx);
      else if (w == "dense") run_dense(a, ctx);
      else if (w == "verify") run_verify(a, ctx);
      else throw std::runtime_error("unknown workload " + w);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_layers: %s\n", e.what());
    return 1;
  }
  std::string all = "{\"lib\": \"gnnkit\", \"threads\": " + std::to_string(a.threads) + ", \"peak_rss\": " +
                    std::to_string(vm_kib("VmHWM:") * 1024) + ", \"versions\": {\"gnnkit\": \"" + GNNKIT_VERSION_STRING +
                    "\"}, \"cases\": [";
  for (std::size_t i = 0; i < g_cases.size(); ++i) all += (i ? ", " : "") + g_cases[i];
  std::printf("GNNKIT_BENCH_RESULT %s]}\n", all.c_str());
  return 0;
}
