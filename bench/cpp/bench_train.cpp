// One training step of a 3-layer GraphSAGE and single-seed inference latency on G2
// (issue 5's stack-level targets), with the split per phase.
//
//   build-bench/bench/bench_train --graph ~/.cache/gnnkit-bench/G2/graph-weighted.gnnkit \
//       [--threads 2] [--steps 30] [--features 100] [--hidden 256] [--classes 47]
//
// Step: sample ([15, 10, 5], batch 1024 seeds from seeds.i64) + gather (F = 100 float32
// features of every batch node into a reused buffer) + forward + cross-entropy + backward +
// Adam. Inference: 2-layer SAGE-256, fan-outs [15, 10], one seed per call, one thread,
// sampling and gathering included. Features are a fixed function of (node, column) and the
// labels of the node id, so every library can rebuild the same bytes (bench/compare).
// Prints JSON lines.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gnnkit/core/build_info.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/kernels/sparse.hpp"
#include "gnnkit/nn/model.hpp"
#include "gnnkit/sampling/neighbor.hpp"
#include "gnnkit/train/loss.hpp"
#include "gnnkit/train/optimizer.hpp"

using namespace gnnkit;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const std::size_t lo = std::size_t(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

std::vector<std::int64_t> read_i64(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::int64_t> v(static_cast<std::size_t>(in.tellg()) / 8);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * 8));
  return v;
}

/// The benchmark's node features: uniform in [-1, 1), a pure function of (node, column).
float feature_value(std::int64_t node, std::int64_t col, std::int64_t width) {
  return float(double(mix64(std::uint64_t(node * width + col)) >> 11) * 0x1.0p-53 * 2 - 1);
}

struct Phases {
  std::vector<double> sample, gather, forward, backward, update, total;
  void print(const char* name, std::int64_t edges) const {
    auto med = [](const std::vector<double>& v) { return percentile(v, 0.5); };
    std::printf(
        "{\"bench\": \"%s\", \"total_ms\": %.2f, \"p10_ms\": %.2f, \"p90_ms\": %.2f, "
        "\"sample_ms\": %.2f, \"gather_ms\": %.2f, \"forward_ms\": %.2f, \"backward_ms\": %.2f, "
        "\"update_ms\": %.2f, \"sampled_edges\": %lld}\n",
        name, med(total), percentile(total, 0.1), percentile(total, 0.9), med(sample), med(gather),
        med(forward), med(backward), med(update), (long long)edges);
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string graph_path = std::string(std::getenv("HOME")) + "/.cache/gnnkit-bench/G2/graph-weighted.gnnkit";
  int threads = 2, steps = 30, warmup = 3, seeds_for_latency = 2000;
  std::int64_t F = 100, hidden = 256, classes = 47;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--graph") graph_path = v;
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--steps") steps = std::stoi(v);
    else if (a == "--features") F = std::stoll(v);
    else if (a == "--hidden") hidden = std::stoll(v);
    else if (a == "--classes") classes = std::stoll(v);
    else if (a == "--latency-seeds") seeds_for_latency = std::stoi(v);
    else if (a == "--only") only = v;  // "step" or "latency"
  }
  std::fprintf(stderr, "%s\n", build_info().c_str());
  const std::string dir = graph_path.substr(0, graph_path.find_last_of('/'));
  LoadOptions load;
  load.populate = true;
  const GraphFile file = load_graph(graph_path, load);
  const HeteroGraph& graph = file.graph;
  const std::int64_t n = graph.num_nodes();
  const std::vector<std::int64_t> seeds_all = read_i64(dir + "/seeds.i64");

  // Features (n x F float32) and labels, generated in parallel.
  Tensor features = Tensor::empty({n, F}, DType::kFloat32);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t v = 0; v < n; ++v) {
    for (std::int64_t c = 0; c < F; ++c) features.data_as<float>()[v * F + c] = feature_value(v, c, F);
    labels[std::size_t(v)] = std::int64_t(mix64(std::uint64_t(v) ^ 0xabcdefull) % std::uint64_t(classes));
  }
  std::fprintf(stderr, "graph %lld nodes, %lld edges; features %lld x %lld\n", (long long)n,
               (long long)graph.relation(0).num_edges(), (long long)n, (long long)F);

  auto gather = [&](const Context& ctx, const std::vector<std::int64_t>& nodes, Tensor& buffer) {
    const std::int64_t rows = std::int64_t(nodes.size());
    if (!buffer.defined() || buffer.size(0) < rows)
      buffer = Tensor::empty({std::max<std::int64_t>(rows, 1) * 5 / 4 + 1, F}, DType::kFloat32);
    kernels::cpu::gather_rows(features.data_as<float>(), F, F, nodes.data(), rows,
                              buffer.data_as<float>(), F, ctx.num_threads());
    return nn::slice_rows(buffer, 0, rows);
  };

  if (only.empty() || only == "step") {
    const Context ctx = Context::cpu(threads, 7);
    nn::GnnModelOptions o;
    o.conv = nn::ConvKind::kSage;
    o.num_layers = 3;
    o.hidden = hidden;
    o.out = classes;
    o.dropout = 0.5;
    nn::GnnModel model(nn::ModelSpec::homogeneous(F), o, 1);
    Adam adam(model.parameters(), AdamOptions{1e-3});
    SamplingOptions so;
    so.fanouts = {15, 10, 5};
    const NeighborSampler sampler(graph, so);
    Phases p;
    MiniBatch mb;
    Tensor buffer;
    std::int64_t edges = 0;
    double dense_flops = 0, dst_rows[3] = {0, 0, 0};
    for (int s = 0; s < warmup + steps; ++s) {
      const auto t0 = Clock::now();
      const std::int64_t shape[] = {1024};
      const TensorView seeds(const_cast<std::int64_t*>(seeds_all.data()) + (s % 100) * 1024,
                             DType::kInt64, Device::cpu(), shape);
      sampler.sample_into(ctx, "node", seeds, std::nullopt, std::uint64_t(s), mb);
      const double t_sample = ms_since(t0);
      const auto t1 = Clock::now();
      const Tensor x = gather(ctx, mb.nodes[0], buffer);
      const double t_gather = ms_since(t1);
      const auto t2 = Clock::now();
      const auto layers = nn::layer_graphs(mb, 3, ctx.num_threads(), true);
      nn::GnnModel::Cache cache;
      const Tensor logits = model.forward(ctx, layers, {x}, {true, std::uint64_t(s), false}, &cache);
      std::vector<std::int64_t> y(static_cast<std::size_t>(logits.size(0)));
      for (std::size_t i = 0; i < y.size(); ++i) y[i] = labels[std::size_t(mb.nodes[0][i])];
      Tensor grad = Tensor::empty({logits.size(0), classes}, DType::kFloat32);
      cross_entropy(ctx, logits, y, grad);
      const double t_forward = ms_since(t2);
      const auto t3 = Clock::now();
      model.parameters().zero_grad();
      model.backward(ctx, layers, cache, grad, false);
      const double t_backward = ms_since(t3);
      const auto t4 = Clock::now();
      adam.step(ctx);
      const double t_update = ms_since(t4);
      if (s < warmup) continue;
      edges += mb.num_edges();
      // Dense work of the step: per layer, x_dst·W_root and aggregated·W_neigh forward, the
      // same two products for the weight gradients, and for layers > 0 the input gradients.
      for (int l = 0; l < 3; ++l) {
        const double rows = double(layers[std::size_t(l)].num_dst[0]);
        const double in = l == 0 ? double(F) : double(hidden), out = l == 2 ? double(classes) : double(hidden);
        dst_rows[l] += rows;
        dense_flops += 2 * rows * in * out * 2 * (l == 0 ? 2 : 3);
      }
      p.sample.push_back(t_sample);
      p.gather.push_back(t_gather);
      p.forward.push_back(t_forward);
      p.backward.push_back(t_backward);
      p.update.push_back(t_update);
      p.total.push_back(ms_since(t0));
    }
    p.print("train_step_sage3x256", edges / steps);
    std::printf("{\"bench\": \"train_step_work\", \"dst_rows_per_layer\": [%.0f, %.0f, %.0f], "
                "\"dense_gflop_per_step\": %.2f}\n", dst_rows[0] / steps, dst_rows[1] / steps,
                dst_rows[2] / steps, dense_flops / steps / 1e9);
  }

  if (only.empty() || only == "latency") {
    const Context ctx = Context::cpu(1, 7);
    nn::GnnModelOptions o;
    o.conv = nn::ConvKind::kSage;
    o.num_layers = 2;
    o.hidden = hidden;
    o.out = classes;
    nn::GnnModel model(nn::ModelSpec::homogeneous(F), o, 2);
    SamplingOptions so;
    so.fanouts = {15, 10};
    const NeighborSampler sampler(graph, so);
    MiniBatch mb;
    Tensor buffer;
    std::vector<double> lat, sample_us, model_us;
    for (int s = 0; s < 100 + seeds_for_latency; ++s) {
      std::int64_t seed = seeds_all[std::size_t(s) % seeds_all.size()];
      const auto t0 = Clock::now();
      const std::int64_t shape[] = {1};
      sampler.sample_into(ctx, "node", TensorView(&seed, DType::kInt64, Device::cpu(), shape),
                          std::nullopt, std::uint64_t(s), mb);
      const Tensor x = gather(ctx, mb.nodes[0], buffer);
      const auto t1 = Clock::now();
      const auto layers = nn::layer_graphs(mb, 2, 1, false);
      const Tensor out = model.forward(ctx, layers, {x}, {}, nullptr);
      const double total = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      if (s < 100) continue;
      lat.push_back(total);
      sample_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      model_us.push_back(total - sample_us.back());
    }
    std::printf(
        "{\"bench\": \"single_seed_inference_sage2x256\", \"threads\": 1, \"p50_us\": %.1f, "
        "\"p90_us\": %.1f, \"p99_us\": %.1f, \"sample_gather_p50_us\": %.1f, \"model_p50_us\": %.1f}\n",
        percentile(lat, 0.5), percentile(lat, 0.9), percentile(lat, 0.99), percentile(sample_us, 0.5),
        percentile(model_us, 0.5));
  }
  return 0;
}
