// Dense matmul through gnnkit (oneDNN primitive cached in the Context) against the machine's
// SGEMM (oneDNN's dnnl_sgemm, the best GEMM on the box), same threads, same run, after the
// B0 memory calibration. Shapes: the feature transforms of GraphSAGE/GAT layers.
//   build/bench/bench_matmul [--quick]
#include <cstring>

#include "calibration.hpp"
#include "gnnkit/gnnkit.hpp"

#if GNNKIT_BENCH_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

using namespace gnnkit;

namespace {

/// Reference SGEMM rate: row-major C = A·B through dnnl_sgemm (no primitive cache, no checks).
double reference_sgemm_seconds(const Tensor& a, const Tensor& b, Tensor& c, int threads) {
#if GNNKIT_BENCH_HAVE_ONEDNN
  const auto m = a.size(0), k = a.size(1), n = b.size(1);
  omp_set_num_threads(threads);
  return bench::time_runs([&] {
    dnnl_sgemm('N', 'N', m, n, k, 1.f, a.data_as<float>(), k, b.data_as<float>(), n, 0.f,
               c.data_as<float>(), n);
  }).median;
#else
  (void)a, (void)b, (void)c, (void)threads;
  return 0;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  std::printf("%s\n", build_info().c_str());
  struct Shape {
    std::int64_t m, k, n;
  };
  const Shape shapes[] = {{1024, 128, 256}, {16384, 128, 256}, {16384, 256, 256}, {100000, 64, 64}};
  for (int threads : {1, 2}) {
    bench::Calibration cal = quick ? bench::Calibration{threads} : bench::calibrate_memory(threads);
    const Context ctx = Context::cpu(threads);
    double sgemm_best = 0;
    std::printf("%-22s %10s %10s %10s %12s %12s %8s\n", "shape MxKxN", "median_ms", "p10_ms",
                "p90_ms", "GFLOP/s", "sgemm_GF/s", "%sgemm");
    for (const auto [m, k, n] : shapes) {
      Tensor a = Tensor::empty({m, k}, DType::kFloat32), b = Tensor::empty({k, n}, DType::kFloat32);
      Tensor bias = Tensor::empty({n}, DType::kFloat32), c = Tensor::empty({m, n}, DType::kFloat32);
      fill(ctx, a, 0.5);
      fill(ctx, b, 0.25);
      fill(ctx, bias, 1.0);
      const double flops = 2.0 * double(m) * double(k) * double(n);
      const bench::Stats ours = bench::time_runs([&] { matmul_into(ctx, a, b, bias.view(), c); });
      const double ref_s = reference_sgemm_seconds(a, b, c, threads);
      const double ours_gf = flops / ours.median / 1e9, ref_gf = ref_s > 0 ? flops / ref_s / 1e9 : 0;
      sgemm_best = std::max(sgemm_best, ref_gf);
      char label[64];
      std::snprintf(label, sizeof label, "%ldx%ldx%ld", long(m), long(k), long(n));
      std::printf("%-22s %10.3f %10.3f %10.3f %12.1f %12.1f %7.0f%%\n", label, ours.median * 1e3,
                  ours.p10 * 1e3, ours.p90 * 1e3, ours_gf, ref_gf,
                  ref_gf > 0 ? 100.0 * ours_gf / ref_gf : 0.0);
    }
    cal.sgemm_gflops = sgemm_best;
    bench::print_calibration(cal);
  }
  return 0;
}
