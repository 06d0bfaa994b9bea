// The GPU layer ops against straightforward CPU references (SpMM, SDDMM, gathers, activations;
// and the CPU dropout pass itself,
// whose masks they must reproduce bit for bit). Runs only with a GPU (see cuda_main.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "gnnkit/gnnkit.hpp"
#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/nn/functional.hpp"

using namespace gnnkit;
namespace kc = gnnkit::kernels::cuda;

namespace {

template <typename T>
Tensor host_tensor(const std::vector<T>& v, std::int64_t rows, std::int64_t cols) {
  Tensor t = Tensor::empty({rows, cols}, dtype_of<T>);
  std::copy(v.begin(), v.end(), t.data_as<T>());
  return t;
}
template <typename T>
std::vector<T> to_host(const Tensor& dev) {
  const Tensor h = dev.to(Device::cpu());
  return std::vector<T>(h.data_as<T>(), h.data_as<T>() + h.numel());
}
/// Largest |a - b| / max(1, |b|).
double max_rel_error(const std::vector<float>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(double(a[i]) - b[i]) / std::max(1.0, std::abs(b[i])));
  return worst;
}

/// A random CSC with empty rows, duplicate edges and self loops.
struct HostCsc {
  std::int64_t rows, cols;
  std::vector<std::int64_t> indptr;
  std::vector<std::int32_t> indices;
  std::vector<float> weights;
};
HostCsc random_csc(std::int64_t rows, std::int64_t cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  HostCsc c{rows, cols, {0}, {}, {}};
  for (std::int64_t v = 0; v < rows; ++v) {
    const int deg = v % 7 == 0 ? 0 : int(rng() % 40);
    for (int k = 0; k < deg; ++k) {
      c.indices.push_back(std::int32_t(k % 5 == 4 ? c.indices.back() : std::int32_t(rng() % cols)));
      c.weights.push_back(float(rng() % 1000) / 500.f - 0.5f);
    }
    c.indptr.push_back(std::int64_t(c.indices.size()));
  }
  return c;
}

/// A HostCsc's arrays on the GPU, and the DeviceCsc over them.
struct UploadedCsc {
  Tensor indptr, indices;
  kc::DeviceCsc csc;
  explicit UploadedCsc(const HostCsc& h)
      : indptr(host_tensor(h.indptr, 1, h.rows + 1).to(Device::cuda(0))),
        indices(host_tensor(h.indices, 1, std::int64_t(h.indices.size())).to(Device::cuda(0))),
        csc{h.rows, h.cols, std::int64_t(h.indices.size()), indptr.data_as<std::int64_t>(),
            indices.data_as<std::int32_t>()} {}
};

}  // namespace

TEST_CASE("GPU SpMM (own kernel and cuSPARSE) and its input gradient match CPU references") {
  const Context ctx = Context::cuda(0);
  const HostCsc h = random_csc(3000, 2500, 7);
  const std::int64_t E = std::int64_t(h.indices.size());
  const UploadedCsc device(h);
  const kc::DeviceCsc& csc = device.csc;
  const Tensor weights = host_tensor(h.weights, 1, E).to(Device::cuda(0));
  for (std::int64_t F : {1, 33, 64, 130, 256}) {
    std::mt19937 rng{std::uint32_t(F)};
    std::vector<float> x(std::size_t(h.cols * F)), g(std::size_t(h.rows * F));
    for (float& v : x) v = float(rng() % 2001) / 1000.f - 1.f;
    for (float& v : g) v = float(rng() % 2001) / 1000.f - 1.f;
    const Tensor xd = host_tensor(x, h.cols, F).to(Device::cuda(0));
    const Tensor gd = host_tensor(g, h.rows, F).to(Device::cuda(0));
    for (bool weighted : {false, true})
      for (bool mean : {false, true}) {
        CAPTURE(F, weighted, mean);
        std::vector<double> ref(std::size_t(h.rows * F), 0.0), ref_gx(std::size_t(h.cols * F), 0.0);
        for (std::int64_t v = 0; v < h.rows; ++v) {
          const std::int64_t e0 = h.indptr[std::size_t(v)], e1 = h.indptr[std::size_t(v) + 1];
          const double scale = mean && e1 > e0 ? 1.0 / double(e1 - e0) : 1.0;
          for (std::int64_t e = e0; e < e1; ++e) {
            const double w = (weighted ? h.weights[std::size_t(e)] : 1.0) * scale;
            const std::int64_t u = h.indices[std::size_t(e)];
            for (std::int64_t c = 0; c < F; ++c) {
              ref[std::size_t(v * F + c)] += w * x[std::size_t(u * F + c)];
              ref_gx[std::size_t(u * F + c)] += w * g[std::size_t(v * F + c)];
            }
          }
        }
        const float* w = weighted ? weights.data_as<float>() : nullptr;
        Tensor out = Tensor::empty({h.rows, F}, DType::kFloat32, Device::cuda(0));
        kc::spmm_forward(csc, xd.data_as<float>(), F, F, w, mean, out.data_as<float>(), F, ctx.cuda_stream());
        ctx.synchronize();
        CHECK(max_rel_error(to_host<float>(out), ref) <= 1e-4);
        Tensor gx = Tensor::empty({h.cols, F}, DType::kFloat32, Device::cuda(0));
        fill(ctx, gx, 123.0);  // overwritten, not accumulated
        kc::spmm_backward_x(csc, gd.data_as<float>(), F, F, w, mean, gx.data_as<float>(), F, false, ctx.cuda_stream());
        ctx.synchronize();
        CHECK(max_rel_error(to_host<float>(gx), ref_gx) <= 1e-4);
        if (!mean) {
          kc::CusparseSpmm sp(ctx.cusparse_handle(), csc, w, ctx.cuda_stream());
          Tensor out2 = Tensor::empty({h.rows, F}, DType::kFloat32, Device::cuda(0));
          for (int rep = 0; rep < 2; ++rep) sp.run(xd.data_as<float>(), F, out2.data_as<float>());  // cached descriptors
          ctx.synchronize();
          CHECK(max_rel_error(to_host<float>(out2), ref) <= 1e-4);
        }
      }
  }
}

TEST_CASE("GPU SDDMM (own kernel and cusparseSDDMM, per head on column slices) matches a CPU loop") {
  const Context ctx = Context::cuda(0);
  const HostCsc h = random_csc(2000, 1700, 9);
  const std::int64_t E = std::int64_t(h.indices.size());
  const UploadedCsc device(h);
  const kc::DeviceCsc& csc = device.csc;
  kc::CusparseSddmm sp(ctx.cusparse_handle(), csc, ctx.cuda_stream());
  // (heads, C, padding of the row strides): one head, several, a head wider than a warp, padded rows.
  // C = 7: operand slices not 16-byte aligned.
  for (auto [heads, C, pad] : {std::tuple<int, std::int64_t, std::int64_t>{1, 64, 0}, {4, 16, 0}, {3, 40, 5},
                               {2, 8, 3}, {3, 7, 1}}) {
    CAPTURE(heads, C, pad);
    const std::int64_t lda = heads * C + pad, ldb = heads * C + 2 * pad;
    std::mt19937 rng{std::uint32_t(heads * 100 + C)};
    std::vector<float> a(std::size_t(h.rows * lda)), b(std::size_t(h.cols * ldb));
    for (float& v : a) v = float(rng() % 2001) / 1000.f - 1.f;
    for (float& v : b) v = float(rng() % 2001) / 1000.f - 1.f;
    std::vector<double> ref(std::size_t(E * heads));
    for (std::int64_t v = 0; v < h.rows; ++v)
      for (std::int64_t e = h.indptr[std::size_t(v)]; e < h.indptr[std::size_t(v) + 1]; ++e)
        for (int hh = 0; hh < heads; ++hh) {
          double dot = 0;
          for (std::int64_t c = hh * C; c < (hh + 1) * C; ++c)
            dot += double(a[std::size_t(v * lda + c)]) * b[std::size_t(std::int64_t(h.indices[std::size_t(e)]) * ldb + c)];
          ref[std::size_t(e * heads + hh)] = dot;
        }
    const Tensor ad = host_tensor(a, h.rows, lda).to(Device::cuda(0)), bd = host_tensor(b, h.cols, ldb).to(Device::cuda(0));
    Tensor own = Tensor::empty({E, heads}, DType::kFloat32, Device::cuda(0));
    kc::edge_dots(csc, ad.data_as<float>(), lda, bd.data_as<float>(), ldb, heads, C, own.data_as<float>(), ctx.cuda_stream());
    Tensor cus = Tensor::empty({E, heads}, DType::kFloat32, Device::cuda(0));
    Tensor again = Tensor::empty({E, heads}, DType::kFloat32, Device::cuda(0));
    sp.run(ad.data_as<float>(), lda, bd.data_as<float>(), ldb, heads, C, cus.data_as<float>());
    // The second call reuses the descriptors with another output.
    sp.run(ad.data_as<float>(), lda, bd.data_as<float>(), ldb, heads, C, again.data_as<float>());
    ctx.synchronize();
    CHECK(max_rel_error(to_host<float>(own), ref) <= 1e-4);
    CHECK(max_rel_error(to_host<float>(cus), ref) <= 1e-4);
    CHECK(max_rel_error(to_host<float>(again), ref) <= 1e-4);
  }
}

TEST_CASE("GPU gather, activation + dropout and sgemm match the CPU") {
  const Context ctx = Context::cuda(0);
  const Context cpu = Context::cpu(2);
  std::mt19937 rng(3);
  const std::int64_t rows = 777, cols = 129;
  std::vector<float> x(std::size_t(rows * cols));
  for (float& v : x) v = float(rng() % 2001) / 500.f - 2.f;

  SECTION("gather_rows") {
    std::vector<std::int64_t> index;
    for (int i = 0; i < 1000; ++i) index.push_back(std::int64_t(rng() % rows));
    const Tensor xd = host_tensor(x, rows, cols).to(Device::cuda(0));
    const Tensor id = host_tensor(index, 1, 1000).to(Device::cuda(0));
    Tensor out = Tensor::empty({1000, cols}, DType::kFloat32, Device::cuda(0));
    kc::gather_rows(xd.data_as<float>(), cols, cols, id.data_as<std::int64_t>(), 1000, out.data_as<float>(), cols,
                    ctx.cuda_stream());
    ctx.synchronize();
    const std::vector<float> got = to_host<float>(out);
    std::int64_t wrong = 0;
    for (std::int64_t i = 0; i < 1000; ++i)
      for (std::int64_t c = 0; c < cols; ++c)
        wrong += got[std::size_t(i * cols + c)] != x[std::size_t(index[std::size_t(i)] * cols + c)];
    CHECK(wrong == 0);
  }

  SECTION("activation + dropout, forward and backward, same masks as the CPU") {
    for (nn::Activation act : {nn::Activation::kNone, nn::Activation::kReLU, nn::Activation::kLeakyReLU, nn::Activation::kELU})
      for (double p : {0.0, 0.3}) {
        CAPTURE(int(act), p);
        Tensor h = host_tensor(x, rows, cols);
        Tensor d = h.to(Device::cuda(0));
        nn::activation_dropout_forward(cpu, act, h, p, 99, 0.2);
        kc::activation_dropout_forward(act, d.data_as<float>(), rows, cols, cols, 0.2f, p, 99, ctx.cuda_stream());
        ctx.synchronize();
        const std::vector<float> got = to_host<float>(d);
        std::vector<double> want(h.data_as<float>(), h.data_as<float>() + h.numel());
        CHECK(max_rel_error(got, want) <= 1e-5);
        std::int64_t mask_differs = 0;
        for (std::size_t i = 0; i < got.size(); ++i) mask_differs += (got[i] == 0.f) != (want[i] == 0.0);
        CHECK(mask_differs == 0);
        // Backward from the outputs.
        std::vector<float> g(x.size());
        for (float& v : g) v = float(rng() % 2001) / 1000.f - 1.f;
        Tensor gh = host_tensor(g, rows, cols);
        Tensor gd = gh.to(Device::cuda(0));
        nn::activation_dropout_backward(cpu, act, h, gh, p, 0.2);
        kc::activation_dropout_backward(act, d.data_as<float>(), cols, gd.data_as<float>(), cols, rows, cols, 0.2f, p,
                                        ctx.cuda_stream());
        ctx.synchronize();
        CHECK(max_rel_error(to_host<float>(gd), std::vector<double>(gh.data_as<float>(), gh.data_as<float>() + gh.numel())) <= 1e-5);
      }
  }

  SECTION("sgemm, every transpose combination, against a double-precision loop") {
    const std::int64_t M = 70, N = 45, K = 33;
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        CAPTURE(ta, tb);
        std::vector<float> a(std::size_t(M * K)), b(std::size_t(K * N)), c(std::size_t(M * N));
        for (float& v : a) v = float(rng() % 2001) / 1000.f - 1.f;
        for (float& v : b) v = float(rng() % 2001) / 1000.f - 1.f;
        for (float& v : c) v = float(rng() % 2001) / 1000.f - 1.f;
        // A stored [K, M] when ta, B stored [N, K] when tb.
        auto A = [&](std::int64_t i, std::int64_t k) { return double(ta ? a[std::size_t(k * M + i)] : a[std::size_t(i * K + k)]); };
        auto B = [&](std::int64_t k, std::int64_t j) { return double(tb ? b[std::size_t(j * K + k)] : b[std::size_t(k * N + j)]); };
        std::vector<double> want(c.size());
        for (std::int64_t i = 0; i < M; ++i)
          for (std::int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (std::int64_t k = 0; k < K; ++k) s += A(i, k) * B(k, j);
            want[std::size_t(i * N + j)] = 1.5 * s + 0.5 * c[std::size_t(i * N + j)];
          }
        const Tensor ad = host_tensor(a, 1, M * K).to(Device::cuda(0));
        const Tensor bd = host_tensor(b, 1, K * N).to(Device::cuda(0));
        Tensor cd = host_tensor(c, M, N).to(Device::cuda(0));
        kc::sgemm(ctx.cublas_handle(), ta, tb, M, N, K, 1.5f, ad.data_as<float>(), ta ? M : K, bd.data_as<float>(),
                  tb ? K : N, 0.5f, cd.data_as<float>(), N);
        ctx.synchronize();
        CHECK(max_rel_error(to_host<float>(cd), want) <= 1e-4);
      }
  }
}

TEST_CASE("nn::aggregate and the activation passes run on a CUDA context like on the CPU") {
  const Context gpu = Context::cuda(0);
  const Context cpu = Context::cpu(2);
  const HostCsc h = random_csc(500, 400, 11);
  const std::int64_t F = 48;
  const nn::Adjacency adj = nn::Adjacency::from_csc<std::int32_t>(h.rows, h.cols, h.indptr, h.indices, 1);
  std::vector<float> x(std::size_t(h.cols * F)), g(std::size_t(h.rows * F));
  std::mt19937 rng{5u};
  for (float& v : x) v = float(rng() % 2001) / 1000.f - 1.f;
  for (float& v : g) v = float(rng() % 2001) / 1000.f - 1.f;
  const Tensor xh = host_tensor(x, h.cols, F), gh = host_tensor(g, h.rows, F);
  const Tensor xd = xh.to(Device::cuda(0)), gd = gh.to(Device::cuda(0));
  for (nn::Reduce reduce : {nn::Reduce::kSum, nn::Reduce::kMean}) {
    nn::AggregateCache cc, gc;
    const Tensor want = nn::aggregate_forward(cpu, adj, xh, reduce, &cc);
    const Tensor got = nn::aggregate_forward(gpu, adj, xd, reduce, &gc);
    CHECK(got.device() == Device::cuda(0));
    const std::vector<float> w = to_host<float>(want);
    CHECK(max_rel_error(to_host<float>(got), std::vector<double>(w.begin(), w.end())) <= 1e-4);
    const Tensor want_gx = nn::aggregate_backward(cpu, adj, cc, gh);
    const Tensor got_gx = nn::aggregate_backward(gpu, adj, gc, gd);
    const std::vector<float> wg = to_host<float>(want_gx);
    CHECK(max_rel_error(to_host<float>(got_gx), std::vector<double>(wg.begin(), wg.end())) <= 1e-4);
  }
  CHECK_THROWS_AS(nn::aggregate_forward(gpu, adj, xd, nn::Reduce::kMax), InvalidArgument);
  CHECK_THROWS_AS(nn::aggregate_forward(gpu, adj, xh, nn::Reduce::kSum), DeviceMismatch);  // CPU x
  // ReLU + dropout through the nn entry points: the same masks as the CPU.
  Tensor a = xh.clone(), b = xd.clone();
  nn::activation_dropout_forward(cpu, nn::Activation::kReLU, a, 0.4, 17);
  nn::activation_dropout_forward(gpu, nn::Activation::kReLU, b, 0.4, 17);
  CHECK(to_host<float>(b) == to_host<float>(a));
}
