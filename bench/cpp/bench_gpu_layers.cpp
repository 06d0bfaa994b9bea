// GPU layer benchmark for scripts/gpu-check (issue 6): a 2-layer GraphSAGE (mean, root
// weight, bias; F -> hidden -> classes, ReLU between, no dropout) and a 2-layer GAT (4 heads
// of hidden/4, then one head) forward + backward on one sampled mini-batch of G2 (batch 1024,
// fan-outs [15, 10]), on the GPU, with the same models on the CPU for scale. The blocks are written to --export so that
// bench/gpu/pyg_layers.py runs PyG's SAGEConv on the very same edges side by side. Then a
// whole training step of bench_train's 3-layer model on each device (sampling on the CPU, or
// everything resident on the device), and GPU sampling (DeviceSampler) against the CPU
// sampler on 2 threads.
//
//   build-gpu/bench/bench_gpu_layers --inputs DIR [--graph G2] [--batch 1024]
//       [--features 100] [--hidden 256] [--classes 47] [--iters 20] [--export DIR] [--out F]
//
// Without a GPU (or CUDA) only the CPU side runs, which is how the benchmark and the export
// are checked on build machines. No CUDA header: it drives the library's public API.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gnnkit/gnnkit.hpp"
#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/kernels/sparse.hpp"
#include "gnnkit/nn/model.hpp"
#include "gnnkit/sampling/device_sampler.hpp"
#include "gnnkit/sampling/neighbor.hpp"
#include "gnnkit/train/loss.hpp"
#include "gnnkit/train/optimizer.hpp"
#include "raw_input.hpp"
#include "timing.hpp"

using namespace gnnkit;
using bench::Clock;
using bench::seconds_since;

namespace {

/// Median seconds of `iters` synchronised calls after 3 warm-up calls.
template <typename Fn>
double median_seconds(const Context& ctx, int iters, Fn&& fn) {
  return bench::time_runs([&] { fn(); ctx.synchronize(); }, 3, iters).median;
}

/// layer<l>.i64: num_dst, num_src, num_edges, then indptr; layer<l>.indices.i32: sources.
void export_layer(const std::string& dir, int l, const nn::Adjacency& adj) {
  adj.visit([&](const auto& csc, const auto*) {
    std::vector<std::int64_t> head{csc.num_rows, csc.num_cols, csc.num_edges()};
    head.insert(head.end(), csc.indptr, csc.indptr + csc.num_rows + 1);
    std::vector<std::int32_t> indices(csc.indices, csc.indices + csc.num_edges());
    std::ofstream(dir + "/layer" + std::to_string(l) + ".i64", std::ios::binary)
        .write(reinterpret_cast<const char*>(head.data()), std::streamsize(head.size() * 8));
    std::ofstream(dir + "/layer" + std::to_string(l) + ".indices.i32", std::ios::binary)
        .write(reinterpret_cast<const char*>(indices.data()), std::streamsize(indices.size() * 4));
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string inputs = std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/gnnkit-bench/full";
  std::string graph_name = "G2", export_dir, out_path;
  std::int64_t batch = 1024, F = 100, hidden = 256, classes = 47;
  int iters = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--inputs") inputs = v;
    else if (a == "--graph") graph_name = v;
    else if (a == "--batch") batch = std::stoll(v);
    else if (a == "--features") F = std::stoll(v);
    else if (a == "--hidden") hidden = std::stoll(v);
    else if (a == "--classes") classes = std::stoll(v);
    else if (a == "--iters") iters = std::stoi(v);
    else if (a == "--export") export_dir = v;
    else if (a == "--out") out_path = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const bool have_gpu = cuda_compiled() && cuda_device_count() > 0;
  if (!have_gpu) std::puts("no CUDA device (or a build without CUDA): the CPU side only");
  const Context cpu = Context::cpu();
  std::vector<Context> contexts;
  if (have_gpu) contexts.push_back(Context::cuda(0));
  contexts.push_back(cpu);
  std::printf("%s\n", build_info().c_str());

  const std::string dir = inputs + "/" + graph_name;
  const std::int64_t n = bench::meta_node_count(dir);
  const HostArray src = bench::read_i64(dir + "/node__to__node.src.i64");
  const HostArray dst = bench::read_i64(dir + "/node__to__node.dst.i64");
  const HeteroGraph graph = HeteroGraph::from_coo(cpu, n, src.view(), dst.view(), BuildOptions{});
  SamplingOptions so;
  so.fanouts = {15, 10};
  const NeighborSampler sampler(graph, so);
  std::vector<std::int64_t> seeds(static_cast<std::size_t>(batch));
  std::mt19937_64 rng(1);
  for (auto& s : seeds) s = std::int64_t(rng() % std::uint64_t(n));
  const std::int64_t shape[] = {batch};
  const MiniBatch mb = sampler.sample(cpu, "node", TensorView(seeds.data(), DType::kInt64, Device::cpu(), shape),
                                      std::nullopt, 1);
  const auto layers = nn::layer_graphs(mb, 2, cpu.num_threads(), true);
  const std::int64_t rows = std::int64_t(mb.nodes[0].size());
  std::printf("%s: batch %lld, fan-outs [15, 10]: %lld nodes, layer edges %lld + %lld\n", graph_name.c_str(),
              (long long)batch, (long long)rows, (long long)layers[0].relations[0].num_edges(),
              (long long)layers[1].relations[0].num_edges());
  if (!export_dir.empty()) {
    for (int l = 0; l < 2; ++l) export_layer(export_dir, l, layers[std::size_t(l)].relations[0]);
    std::ofstream(export_dir + "/meta.json") << "{\"nodes\": " << rows << ", \"features\": " << F
                                             << ", \"hidden\": " << hidden << ", \"classes\": " << classes << "}\n";
  }

  // The layers compared with PyG (bench/gpu/pyg_layers.py runs the same two convs on the
  // exported blocks): GraphSAGE (mean) and GAT (4 heads of 64 concatenated, then one head of
  // `classes`; self loops added; no attention dropout), ReLU between, no dropout.
  std::string json = "{\"bench\": \"gpu_sage_layers\", \"nodes\": " + std::to_string(rows) + ", \"cases\": [";
  bool first_case = true;
  for (const nn::ConvKind conv : {nn::ConvKind::kSage, nn::ConvKind::kGat}) {
    nn::GnnModelOptions o;
    o.conv = conv;
    o.num_layers = 2;
    o.hidden = hidden;
    o.heads = 4;
    o.out = classes;
    o.dropout = 0;
    const char* conv_name = conv == nn::ConvKind::kSage ? "sage" : "gat";
    // GAT adds self loops to each block once per batch, as a training loop would.
    std::vector<nn::LayerGraph> conv_layers = layers;
    if (conv == nn::ConvKind::kGat)
      for (nn::LayerGraph& lg : conv_layers) lg.relations[0] = lg.relations[0].with_self_loops(cpu.num_threads());
    for (std::size_t c = 0; c < contexts.size(); ++c) {
      const Context* ctx = &contexts[c];
      nn::GnnModel model(nn::ModelSpec::homogeneous(F), o, 3);
      model.parameters().to(*ctx);
      Tensor x = Tensor::empty({rows, F}, DType::kFloat32);
      std::mt19937 frng(7);
      for (std::int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = float(frng() % 2001) / 1000.f - 1.f;
      Tensor g = Tensor::empty({layers[1].num_dst[0], classes}, DType::kFloat32);  // seeds, deduplicated
      for (std::int64_t i = 0; i < g.numel(); ++i) g.data_as<float>()[i] = float(frng() % 2001) / 1e6f;
      x = x.to(ctx->device());
      g = g.to(ctx->device());
      const nn::ForwardMode mode{true, 1, false};
      const double fwd = median_seconds(*ctx, iters, [&] { model.forward(*ctx, conv_layers, {x}, mode, nullptr); });
      const double step = median_seconds(*ctx, iters, [&] {
        nn::GnnModel::Cache cache;
        model.forward(*ctx, conv_layers, {x}, mode, &cache);
        model.parameters().zero_grad();
        model.backward(*ctx, conv_layers, cache, g, false);
      });
      const char* where = ctx->device().is_cpu() ? "cpu" : "gpu";
      std::printf("  %s on the %s%s: forward %.3f ms, forward + backward %.3f ms\n", conv_name, where,
                  ctx->device().is_cpu() ? (" (" + std::to_string(ctx->num_threads()) + " threads)").c_str() : "",
                  fwd * 1e3, step * 1e3);
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "%s{\"conv\": \"%s\", \"device\": \"%s\", \"cpu_threads\": %d, \"forward_ms\": %.4f, "
                    "\"fwd_bwd_ms\": %.4f}",
                    first_case ? "" : ", ", conv_name, where, ctx->device().is_cpu() ? ctx->num_threads() : 0,
                    fwd * 1e3, step * 1e3);
      json += buf;
      first_case = false;
    }
  }
  json += "], \"train_step\": [";

  // A training step of bench_train's model (3 SAGE layers of 256, [15, 10, 5], batch 1024,
  // F = 100, 47 classes, dropout 0.5, Adam), three ways:
  //  - "cpu": sampling (NeighborSampler, every core), feature gather and the step on the CPU;
  //  - "gpu": sampling on the CPU; the batch's node ids go up through a pinned buffer
  //    (copy_async) to gather the device-resident features, the adjacency goes without its
  //    transpose (the CUDA backward scatters by atomics); forward, loss, backward, Adam there;
  //  - "resident": nothing per batch goes through the host but the seeds and the loss: graph,
  //    features and labels in device memory, DeviceSampler on the context, layer_graphs of the
  //    device batch, select_rows for features and labels, the tensor-label cross-entropy. On
  //    the CPU this runs DeviceSampler's CPU build (the same pipeline, for reference).
  Tensor features = Tensor::empty({n, F}, DType::kFloat32);
  Tensor label_tensor = Tensor::empty({n}, DType::kInt64);
  std::int64_t* labels = label_tensor.data_as<std::int64_t>();
#pragma omp parallel for schedule(static)
  for (std::int64_t v = 0; v < n; ++v) {
    for (std::int64_t c = 0; c < F; ++c)
      features.data_as<float>()[v * F + c] = float(double(mix64(std::uint64_t(v * F + c)) >> 11) * 0x1.0p-53 * 2 - 1);
    labels[v] = std::int64_t(mix64(std::uint64_t(v) ^ 0xabcdefull) % std::uint64_t(classes));
  }
  SamplingOptions so3;
  so3.fanouts = {15, 10, 5};
  const NeighborSampler sampler3(graph, so3);
  const HostArray seed_pool = bench::read_i64(dir + "/seeds.i64");
  bool first_step_case = true;
  for (std::size_t c = 0; c < contexts.size(); ++c) {
    for (const bool resident : {false, true}) {
      const Context& ctx = contexts[c];
      const bool on_gpu = ctx.device().is_cuda();
      nn::GnnModelOptions o3;
      o3.num_layers = 3;
      o3.hidden = hidden;
      o3.out = classes;
      o3.dropout = 0.5;
      nn::GnnModel model(nn::ModelSpec::homogeneous(F), o3, 1);
      model.parameters().to(ctx);
      Adam adam(model.parameters(), AdamOptions{1e-3});
      const Tensor device_features = on_gpu ? features.to(ctx.device()) : features;
      const Tensor device_labels = on_gpu ? label_tensor.to(ctx.device()) : label_tensor;
      const std::optional<DeviceSampler> device_sampler =
          resident ? std::optional<DeviceSampler>(std::in_place, DeviceGraph::upload(ctx, graph),
                                                  std::vector<std::int64_t>{15, 10, 5})
                   : std::nullopt;
      Tensor pinned_ids = on_gpu ? Tensor::empty_pinned({std::int64_t(1) << 22}, DType::kInt64) : Tensor();
      Tensor device_seeds = on_gpu ? Tensor::empty({1024}, DType::kInt64, ctx.device()) : Tensor();
      MiniBatch mb;
      std::vector<double> totals, samples;
      for (int s = 0; s < 3 + iters; ++s) {
        const auto t0 = Clock::now();
        const std::int64_t shape3[] = {1024};
        const TensorView seeds3(static_cast<std::int64_t*>(seed_pool.data()) + (s % 100) * 1024,
                                DType::kInt64, Device::cpu(), shape3);
        std::vector<nn::LayerGraph> layers3;
        Tensor x, y;
        if (resident) {
          TensorView seeds_here = seeds3;
          if (on_gpu) {  // the seed ids up through the pinned buffer
            std::memcpy(pinned_ids.data(), seeds3.data(), 1024 * 8);  // the last copy has run
            copy_async(ctx, device_seeds, TensorView(pinned_ids.data(), DType::kInt64, Device::cpu(), shape3));
            seeds_here = device_seeds;
          }
          const DeviceMiniBatch dmb = device_sampler->sample(ctx, seeds_here, std::uint64_t(s));
          layers3 = nn::layer_graphs(dmb, 3, ctx.num_threads(), /*build_transpose=*/!on_gpu);
          x = nn::select_rows(ctx, device_features, dmb.nodes[0]);
          y = nn::select_rows(ctx, device_labels, dmb.output_nodes());
        } else {
          sampler3.sample_into(cpu, "node", seeds3, std::nullopt, std::uint64_t(s), mb);
          layers3 = nn::layer_graphs(mb, 3, cpu.num_threads(), /*build_transpose=*/!on_gpu);
          const std::int64_t rows3 = std::int64_t(mb.nodes[0].size());
          x = Tensor::empty({rows3, F}, DType::kFloat32, ctx.device());
          if (on_gpu) {
            if (rows3 > pinned_ids.numel()) pinned_ids = Tensor::empty_pinned({rows3}, DType::kInt64);
            std::memcpy(pinned_ids.data(), mb.nodes[0].data(), std::size_t(rows3) * 8);  // the last copy has run
            Tensor ids = Tensor::empty({rows3}, DType::kInt64, ctx.device());
            const std::int64_t id_shape[] = {rows3};
            copy_async(ctx, ids, TensorView(pinned_ids.data(), DType::kInt64, Device::cpu(), id_shape));
            kernels::cuda::gather_rows(device_features.data_as<float>(), F, F, ids.data_as<std::int64_t>(), rows3,
                                       x.data_as<float>(), F, ctx.cuda_stream());
          } else {
            kernels::cpu::gather_rows(features.data_as<float>(), F, F, mb.nodes[0].data(), rows3, x.data_as<float>(), F,
                                      ctx.num_threads());
          }
          const std::int64_t out_rows = mb.blocks[0].dst_end[0];
          Tensor host_y = Tensor::empty({out_rows}, DType::kInt64);
          for (std::int64_t i = 0; i < out_rows; ++i) host_y.data_as<std::int64_t>()[i] = labels[mb.nodes[0][std::size_t(i)]];
          y = on_gpu ? host_y.to(ctx.device()) : host_y;
        }
        const double t_sample = seconds_since(t0);  // on the GPU: the queueing, plus the sampler's hop syncs
        nn::GnnModel::Cache cache;
        const Tensor logits = model.forward(ctx, layers3, {x}, {true, std::uint64_t(s), false}, &cache);
        Tensor grad = Tensor::empty({logits.size(0), classes}, DType::kFloat32, ctx.device());
        cross_entropy(ctx, logits, y, grad);
        model.parameters().zero_grad();
        model.backward(ctx, layers3, cache, grad, false);
        adam.step(ctx);
        ctx.synchronize();
        if (s < 3) continue;
        totals.push_back(seconds_since(t0));
        samples.push_back(t_sample);
      }
      std::sort(totals.begin(), totals.end());
      std::sort(samples.begin(), samples.end());
      const double total = totals[totals.size() / 2], sample = samples[samples.size() / 2];
      const char* where = on_gpu ? "gpu" : "cpu";
      std::printf("  train step (3 x SAGE-256, [15, 10, 5], batch 1024) on the %s, %s: %.2f ms (batch ready after %.2f ms)\n",
                  where, resident ? "resident (DeviceSampler, select_rows)" : "sampled by NeighborSampler on the CPU",
                  total * 1e3, sample * 1e3);
      char buf[256];
      std::snprintf(buf, sizeof buf, "%s{\"device\": \"%s\", \"resident\": %s, \"step_ms\": %.3f, \"sample_ms\": %.3f}",
                    first_step_case ? "" : ", ", where, resident ? "true" : "false", total * 1e3, sample * 1e3);
      json += buf;
      first_step_case = false;
    }
  }
  json += "], \"sampling\": [";

  // GPU sampling (issue 6): DeviceSampler on the GPU against the CPU sampler on 2 threads
  // ("our 2-core CPU sampler"), [15, 10, 5], batches of 1024 and 8192 seeds; the GPU as a %
  // of the device-memory bound at 72 bytes per sampled edge (BENCHMARKING.md) over the
  // copy bandwidth measured here.
  if (have_gpu) {
    const Context& gpu = contexts[0];
    const std::size_t copy_bytes = std::size_t(1) << 30;
    const Tensor a = Tensor::zeros({std::int64_t(copy_bytes / 4)}, DType::kFloat32, gpu.device());
    Tensor b = Tensor::zeros({std::int64_t(copy_bytes / 4)}, DType::kFloat32, gpu.device());
    const double copy_s = median_seconds(gpu, 10, [&] { copy_async(gpu, b, a); });
    const double bandwidth = 2.0 * double(copy_bytes) / copy_s;
    const DeviceSampler device_sampler(DeviceGraph::upload(gpu, graph), {15, 10, 5});
    const Context two = Context::cpu(2, 0);
    bool first_sampling = true;
    for (const std::int64_t size : {std::int64_t(1024), std::int64_t(8192)}) {
      const std::int64_t shape_s[] = {size};
      std::uint64_t b_gpu = 0, b_cpu = 0;
      std::int64_t edges = 0;
      auto seeds_at = [&](std::uint64_t k) {
        const std::int64_t offset = std::int64_t(k % std::uint64_t(std::max<std::int64_t>(seed_pool.size() / size, 1))) * size;
        return TensorView(static_cast<std::int64_t*>(seed_pool.data()) + offset, DType::kInt64, Device::cpu(), shape_s);
      };
      const double t_gpu = median_seconds(gpu, iters, [&] {
        const DeviceMiniBatch d = device_sampler.sample(gpu, seeds_at(b_gpu), b_gpu);
        ++b_gpu;
        edges = 0;
        for (const Block& blk : d.blocks) edges += blk.num_edges;
      });
      MiniBatch mb3;
      const double t_cpu = median_seconds(two, iters, [&] {
        sampler3.sample_into(two, "node", seeds_at(b_cpu), std::nullopt, b_cpu, mb3);
        ++b_cpu;
      });
      const double pct = 100.0 * 72.0 * double(edges) / t_gpu / bandwidth;
      std::printf("  sampling [15, 10, 5], batch %lld: GPU %.3f ms (%.1f M edges/s, %.1f %% of the %.0f GB/s bound), "
                  "CPU 2 threads %.3f ms: %.1fx\n", (long long)size, t_gpu * 1e3, double(edges) / t_gpu / 1e6, pct,
                  bandwidth / 1e9, t_cpu * 1e3, t_cpu / t_gpu);
      char buf[256];
      std::snprintf(buf, sizeof buf, "%s{\"batch\": %lld, \"edges\": %lld, \"gpu_ms\": %.4f, \"cpu2_ms\": %.4f, "
                    "\"pct_bound\": %.1f}", first_sampling ? "" : ", ", (long long)size, (long long)edges, t_gpu * 1e3,
                    t_cpu * 1e3, pct);
      json += buf;
      first_sampling = false;
    }
  }
  json += "]}\n";
  if (!out_path.empty()) std::ofstream(out_path) << json;
  return 0;
}
