// GPU SpMM benchmark for scripts/gpu-check (issue 6): sum aggregation on G1 and G2 at
// F = 32, 64, 128, 256, gnnkit's own kernel against cusparseSpMM on the same device arrays,
// each as a % of the device-memory bound (bytes of indptr + indices + gathered feature rows +
// output, over time, against the device-to-device copy bandwidth measured in the same run);
// and SDDMM (GAT's per-edge gradient) with the own kernel against cusparseSDDMM.
//
//   build-gpu/bench/bench_gpu --inputs DIR [--graphs G1,G2] [--features 32,64,128,256]
//                             [--iters 20] [--out results.json]
// Exits 77 (skipped) without a GPU. No CUDA header: it drives the library's CUDA ops.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gnnkit/gnnkit.hpp"
#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/kernels/memory.hpp"
#include "raw_input.hpp"
#include "timing.hpp"

using namespace gnnkit;
namespace kc = gnnkit::kernels::cuda;

namespace {

/// Median seconds of `iters` synchronised calls after 3 warm-up calls.
template <typename Fn>
double median_seconds(const Context& ctx, int iters, Fn&& fn) {
  return bench::time_runs([&] { fn(); ctx.synchronize(); }, 3, iters).median;
}

Tensor upload(const void* host, DType dtype, std::int64_t n) {
  Tensor t = Tensor::empty({n}, dtype, Device::cuda(0));
  kc::copy_bytes(t.data(), Device::cuda(0), host, Device::cpu(), t.nbytes(), Context::cuda(0).cuda_stream());
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::string inputs = std::string(std::getenv("HOME") ? std::getenv("HOME") : ".") + "/.cache/gnnkit-bench/full";
  std::string graphs = "G1,G2", out_path;
  std::vector<std::int64_t> features{32, 64, 128, 256};
  int iters = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--inputs") inputs = v;
    else if (a == "--graphs") graphs = v;
    else if (a == "--features") features = bench::parse_list(v);
    else if (a == "--iters") iters = std::stoi(v);
    else if (a == "--out") out_path = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (!cuda_compiled() || cuda_device_count() == 0) {
    std::puts("SKIPPED: no CUDA device (or a build without CUDA): bench_gpu not run");
    return 77;
  }
  const Context ctx = Context::cuda(0);
  std::printf("%s\n", build_info().c_str());

  // Device bandwidth: a 1 GiB device-to-device copy reads and writes every byte.
  const std::size_t copy_bytes = std::size_t(1) << 30;
  Tensor a = Tensor::zeros({std::int64_t(copy_bytes / 4)}, DType::kFloat32, Device::cuda(0));
  Tensor b = Tensor::zeros({std::int64_t(copy_bytes / 4)}, DType::kFloat32, Device::cuda(0));
  const double copy_s = median_seconds(ctx, 10, [&] {
    kc::copy_bytes(b.data(), Device::cuda(0), a.data(), Device::cuda(0), copy_bytes, ctx.cuda_stream());
  });
  const double bandwidth = 2.0 * double(copy_bytes) / copy_s;
  std::printf("B0 device: copy bandwidth %.0f GB/s (read + write)\n", bandwidth / 1e9);
  a = Tensor();
  b = Tensor();

  std::string json = "{\"bench\": \"gpu_spmm\", \"bandwidth_gbs\": " + std::to_string(bandwidth / 1e9) + ", \"cases\": [";
  bool first = true;
  std::size_t begin = 0;
  while (begin <= graphs.size()) {
    const std::size_t comma = std::min(graphs.find(',', begin), graphs.size());
    const std::string name = graphs.substr(begin, comma - begin);
    begin = comma + 1;
    if (name.empty()) continue;
    const std::string dir = inputs + "/" + name;
    const std::int64_t n = bench::meta_node_count(dir);
    const HostArray src = bench::read_i64(dir + "/node__to__node.src.i64");
    const HostArray dst = bench::read_i64(dir + "/node__to__node.dst.i64");
    BuildOptions no_ids;
    no_ids.keep_edge_ids = false;
    const HeteroGraph g = HeteroGraph::from_coo(Context::cpu(), n, src.view(), dst.view(), no_ids);
    const Relation& rel = g.relation(0);
    const std::int64_t E = rel.num_edges();
    const Tensor indptr = upload(rel.csc_indptr.data(), DType::kInt64, n + 1);
    const Tensor indices = upload(rel.csc_indices.data(), DType::kInt32, E);
    const kc::DeviceCsc csc{n, n, E, indptr.data_as<std::int64_t>(), indices.data_as<std::int32_t>()};
    std::printf("%s: %lld nodes, %lld edges\n", name.c_str(), (long long)n, (long long)E);
    kc::CusparseSpmm cusparse(ctx.cusparse_handle(), csc, nullptr, ctx.cuda_stream());
    for (const std::int64_t F : features) {
      std::vector<float> xh(std::size_t(n * F));
      std::mt19937 rng{std::uint32_t(F)};
      for (float& v : xh) v = float(rng() % 2001) / 1000.f - 1.f;
      const Tensor x = upload(xh.data(), DType::kFloat32, n * F);
      Tensor out = Tensor::empty({n * F}, DType::kFloat32, Device::cuda(0));
      const double own = median_seconds(ctx, iters, [&] {
        kc::spmm_forward(csc, x.data_as<float>(), F, F, nullptr, false, out.data_as<float>(), F, ctx.cuda_stream());
      });
      const double sp = median_seconds(ctx, iters, [&] { cusparse.run(x.data_as<float>(), F, out.data_as<float>()); });
      const double bytes = 8.0 * double(n + 1) + 4.0 * double(E) + 4.0 * double(F) * double(E) + 4.0 * double(F) * double(n);
      std::printf("  F=%-4lld own %8.3f ms (%5.1f %% of bound)  cusparseSpMM %8.3f ms (%5.1f %%)  own/cusparse speed %.2fx\n",
                  (long long)F, own * 1e3, 100.0 * bytes / own / bandwidth, sp * 1e3, 100.0 * bytes / sp / bandwidth, sp / own);
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "%s{\"graph\": \"%s\", \"nodes\": %lld, \"edges\": %lld, \"F\": %lld, \"own_ms\": %.4f, "
                    "\"cusparse_ms\": %.4f, \"own_pct_bound\": %.1f, \"cusparse_pct_bound\": %.1f}",
                    first ? "" : ", ", name.c_str(), (long long)n, (long long)E, (long long)F, own * 1e3, sp * 1e3,
                    100.0 * bytes / own / bandwidth, 100.0 * bytes / sp / bandwidth);
      json += buf;
      first = false;
    }
    // SDDMM (GAT's per-edge attention gradient): own edge_dots against cusparseSDDMM, 4 heads
    // of 16 and 1 head of 64; bound: indptr + indices + a destination row per row + a source
    // row per edge + the outputs. gat_aggregate_backward (the layer's fused pass, which also
    // scatters the source gradient) for reference.
    kc::CusparseSddmm sddmm(ctx.cusparse_handle(), csc, ctx.cuda_stream());
    for (const auto& [heads, C] : {std::pair<int, std::int64_t>{4, 16}, {1, 64}}) {
      const std::int64_t F = heads * C;
      Tensor a_rows = Tensor::empty({n * F}, DType::kFloat32, Device::cuda(0));
      Tensor b_rows = Tensor::empty({n * F}, DType::kFloat32, Device::cuda(0));
      fill(ctx, a_rows, 0.5);
      fill(ctx, b_rows, 0.25);
      Tensor dots = Tensor::empty({E * heads}, DType::kFloat32, Device::cuda(0));
      const double own = median_seconds(ctx, iters, [&] {
        kc::edge_dots(csc, a_rows.data_as<float>(), F, b_rows.data_as<float>(), F, heads, C, dots.data_as<float>(),
                      ctx.cuda_stream());
      });
      const double sp = median_seconds(ctx, iters, [&] {
        sddmm.run(a_rows.data_as<float>(), F, b_rows.data_as<float>(), F, heads, C, dots.data_as<float>());
      });
      Tensor grad_src = Tensor::empty({n * F}, DType::kFloat32, Device::cuda(0));
      Tensor w = Tensor::empty({E * heads}, DType::kFloat32, Device::cuda(0));
      fill(ctx, w, 0.1);
      const double fused = median_seconds(ctx, iters, [&] {
        kc::gat_aggregate_backward(csc, a_rows.data_as<float>(), F, b_rows.data_as<float>(), F, F, w.data_as<float>(),
                                   heads, grad_src.data_as<float>(), F, dots.data_as<float>(), ctx.cuda_stream());
      });
      const double bytes = 8.0 * double(n + 1) + 4.0 * double(E) + 4.0 * double(F) * double(n + E) +
                           4.0 * double(E) * double(heads);
      std::printf("  SDDMM %d x %lld: own %8.3f ms (%5.1f %% of bound)  cusparseSDDMM %8.3f ms (%5.1f %%)  own/cusparse "
                  "speed %.2fx; fused GAT backward %8.3f ms\n", heads, (long long)C, own * 1e3,
                  100.0 * bytes / own / bandwidth, sp * 1e3, 100.0 * bytes / sp / bandwidth, sp / own, fused * 1e3);
      char buf[512];
      std::snprintf(buf, sizeof buf,
                    "%s{\"graph\": \"%s\", \"op\": \"sddmm\", \"heads\": %d, \"C\": %lld, \"own_ms\": %.4f, "
                    "\"cusparse_ms\": %.4f, \"own_pct_bound\": %.1f, \"cusparse_pct_bound\": %.1f, "
                    "\"fused_gat_backward_ms\": %.4f}",
                    first ? "" : ", ", name.c_str(), heads, (long long)C, own * 1e3, sp * 1e3,
                    100.0 * bytes / own / bandwidth, 100.0 * bytes / sp / bandwidth, fused * 1e3);
      json += buf;
      first = false;
    }
  }
  json += "]}\n";
  if (!out_path.empty()) {
    if (FILE* f = std::fopen(out_path.c_str(), "w")) {
      std::fputs(json.c_str(), f);
      std::fclose(f);
    }
  }
  return 0;
}
