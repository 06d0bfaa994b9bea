// Losses: values against the textbook formulas written out naively, gradients against
// central finite differences in float64, and the argument checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "gnnkit/train/loss.hpp"
#include "support/reference.hpp"
#include "support/views.hpp"

using namespace gnnkit;
using Catch::Matchers::Contains;

namespace {

template <typename T>
TensorView view2(std::vector<T>& v, std::int64_t rows, std::int64_t cols) {
  return TensorView(v.data(), dtype_of<T>, Device::cpu(), {rows, cols});
}
template <typename T>
TensorView view1(std::vector<T>& v) {
  return TensorView(v.data(), dtype_of<T>, Device::cpu(), {std::int64_t(v.size())});
}

/// Central differences of f at x, one coordinate at a time.
std::vector<double> numeric_grad(std::vector<double> x,
                                 const std::function<double(const std::vector<double>&)>& f) {
  const double h = 1e-6;
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = f(x);
    x[i] = keep - h;
    const double down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

void require_close(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("index " << i);
    REQUIRE(a[i] == Approx(b[i]).margin(tol));
  }
}

double naive_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

std::vector<float> random_targets(std::size_t n, std::uint64_t seed, bool soft) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<float> t(n);
  for (auto& x : t) x = soft ? float(u(rng)) : float(u(rng) < 0.3);
  return t;
}

const Context ctx = Context::cpu(2);

}  // namespace

TEST_CASE("cross_entropy matches the naive formula and ignores label -1", "[train][loss]") {
  const std::int64_t n = 7, c = 4;
  auto x = test::random_matrix<double>(n, c, 1);
  for (auto& v : x) v *= 3;
  const std::vector<std::int64_t> labels = {0, 3, -1, 2, 1, -1, 3};
  double expected = 0;
  int counted = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0) continue;
    double sum = 0;
    for (std::int64_t j = 0; j < c; ++j) sum += std::exp(x[i * c + j]);
    expected += -std::log(std::exp(x[i * c + labels[i]]) / sum);
    ++counted;
  }
  expected /= counted;
  std::vector<double> grad(x.size(), 99.0);
  const double loss = cross_entropy(ctx, view2(x, n, c), labels, view2(grad, n, c));
  REQUIRE(loss == Approx(expected).epsilon(1e-12));
  for (std::int64_t j = 0; j < c; ++j) {
    REQUIRE(grad[2 * c + j] == 0.0);  // ignored rows get no gradient
    REQUIRE(grad[5 * c + j] == 0.0);
  }
  SECTION("float32 gives the same value to float precision") {
    std::vector<float> xf(x.begin(), x.end()), gf(x.size());
    const double lf = cross_entropy(ctx, view2(xf, n, c), labels, view2(gf, n, c));
    REQUIRE(lf == Approx(expected).epsilon(1e-6));
    for (std::size_t i = 0; i < gf.size(); ++i) REQUIRE(gf[i] == Approx(grad[i]).margin(1e-6));
  }
  SECTION("without a gradient output") {
    REQUIRE(cross_entropy(ctx, view2(x, n, c), labels) == loss);
  }
}

TEST_CASE("cross_entropy gradient matches finite differences", "[train][loss]") {
  const std::int64_t n = 5, c = 3;
  auto x = test::random_matrix<double>(n, c, 2);
  const std::vector<std::int64_t> labels = {2, -1, 0, 1, 1};
  std::vector<double> grad(x.size());
  cross_entropy(ctx, view2(x, n, c), labels, view2(grad, n, c));
  const auto numeric = numeric_grad(x, [&](const std::vector<double>& v) {
    auto copy = v;
    return cross_entropy(ctx, view2(copy, n, c), labels);
  });
  require_close(grad, numeric, 1e-8);
}

TEST_CASE("cross_entropy is stable for huge logits and honours strides", "[train][loss]") {
  // Row 0: logits 1000 apart, where exp overflows without the max shift.
  std::vector<double> x = {1000, 0, -1000, 500, 500, 500};
  const std::vector<std::int64_t> labels = {1, 2};
  const double loss = cross_entropy(ctx, view2(x, 2, 3), labels);
  REQUIRE(std::isfinite(loss));
  REQUIRE(loss == Approx((1000.0 + std::log(3.0)) / 2).epsilon(1e-12));
  // The transpose of a [3, 2] buffer viewed with strides (1, 2) is the same [2, 3] matrix.
  std::vector<double> t = {1000, 500, 0, 500, -1000, 500};
  const std::int64_t shape[] = {2, 3}, strides[] = {1, 2};
  const TensorView strided(t.data(), DType::kFloat64, Device::cpu(), shape, strides);
  std::vector<double> g1(6), g2(6);
  REQUIRE(cross_entropy(ctx, strided, labels, view2(g1, 2, 3)) == loss);
  cross_entropy(ctx, view2(x, 2, 3), labels, view2(g2, 2, 3));
  REQUIRE(g1 == g2);
}

TEST_CASE("cross_entropy is identical for any thread count", "[train][loss]") {
  const std::int64_t n = 20000, c = 5;  // several reduction blocks
  auto x = test::random_matrix<float>(n, c, 3);
  std::vector<std::int64_t> labels(n);
  for (std::int64_t i = 0; i < n; ++i) labels[i] = (i * 7) % c;
  const double one = cross_entropy(Context::cpu(1), view2(x, n, c), labels);
  const double two = cross_entropy(Context::cpu(2), view2(x, n, c), labels);
  const double four = cross_entropy(Context::cpu(4), view2(x, n, c), labels);
  REQUIRE(one == two);
  REQUIRE(one == four);
}

TEST_CASE("cross_entropy rejects bad arguments", "[train][loss]") {
  std::vector<double> x(6, 0.0), g(6);
  std::vector<float> xf(6);
  std::vector<std::int32_t> xi(6);
  const std::vector<std::int64_t> labels = {0, 1};
  REQUIRE_THROWS_MATCHES(
      cross_entropy(ctx, view2(x, 2, 3), std::vector<std::int64_t>{0, 3}), OutOfRange,
      Catch::Matchers::Message(
          "cross_entropy: 'labels[1]' must be -1 (ignored) or in [0, 3), got 3"));
  REQUIRE_THROWS_AS(cross_entropy(ctx, view2(x, 2, 3), std::vector<std::int64_t>{-2, 0}),
                    OutOfRange);
  REQUIRE_THROWS_WITH(cross_entropy(ctx, view2(x, 2, 3), std::vector<std::int64_t>{-1, -1}),
                      Contains("at least one entry != -1"));
  REQUIRE_THROWS_WITH(cross_entropy(ctx, view2(x, 2, 3), std::vector<std::int64_t>{0}),
                      Contains("'labels' must have 2 entries"));
  REQUIRE_THROWS_AS(cross_entropy(ctx, view2(x, 2, 3), std::vector<std::int64_t>{0}),
                    ShapeMismatch);
  REQUIRE_THROWS_AS(cross_entropy(ctx, view1(x), labels), ShapeMismatch);
  REQUIRE_THROWS_WITH(cross_entropy(ctx, view2(xi, 2, 3), labels),
                      Contains("'logits' must be float32 or float64, got int32[2, 3]"));
  REQUIRE_THROWS_WITH(cross_entropy(ctx, view2(x, 2, 3), labels, view2(g, 3, 2)),
                      Contains("'grad' must have the shape of 'logits'"));
  REQUIRE_THROWS_AS(cross_entropy(ctx, view2(x, 2, 3), labels, view2(g, 3, 2)), ShapeMismatch);
  REQUIRE_THROWS_WITH(cross_entropy(ctx, view2(x, 2, 3), labels, view2(xf, 2, 3)),
                      Contains("'grad' must be float64 on cpu"));
  const TensorView on_gpu(x.data(), DType::kFloat64, Device::cuda(0), {2, 3});
  REQUIRE_THROWS_AS(cross_entropy(ctx, on_gpu, labels), DeviceMismatch);
  REQUIRE_THROWS_AS(cross_entropy(ctx, TensorView(), labels), InvalidArgument);
}

TEST_CASE("binary_cross_entropy_with_logits matches the naive formula", "[train][loss]") {
  const std::size_t n = 9;
  auto x = test::random_matrix<double>(1, n, 4);
  for (auto& v : x) v *= 4;
  const auto t = random_targets(n, 5, /*soft=*/true);
  const std::vector<float> w = {1, 0.5f, 2, 0, 1, 3, 1, 1, 0.25f};
  for (double pw : {1.0, 3.5}) {
    for (bool weighted : {false, true}) {
      INFO("pos_weight " << pw << " weighted " << weighted);
      double expected = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double s = naive_sigmoid(x[i]), ti = t[i];
        const double wi = weighted ? w[i] : 1.0;
        expected += -wi * (pw * ti * std::log(s) + (1 - ti) * std::log(1 - s));
      }
      expected /= double(n);
      std::vector<double> grad(n);
      const std::span<const float> weights =
          weighted ? std::span<const float>(w) : std::span<const float>();
      const double loss =
          binary_cross_entropy_with_logits(ctx, view1(x), t, pw, view1(grad), weights);
      REQUIRE(loss == Approx(expected).epsilon(1e-12));
      const auto numeric = numeric_grad(x, [&](const std::vector<double>& v) {
        auto copy = v;
        return binary_cross_entropy_with_logits(ctx, view1(copy), t, pw, TensorView(), weights);
      });
      require_close(grad, numeric, 1e-8);
    }
  }
}

TEST_CASE("binary_cross_entropy_with_logits: [N, 1], float32, extreme logits", "[train][loss]") {
  std::vector<double> x = {100, -100, 0, 40};
  const std::vector<float> t = {0, 1, 1, 1};
  // softplus(100) = 100 + log1p(e^-100); naive log(1 - σ(100)) would be log(0).
  const double expected = (100.0 + 100.0 + std::log(2.0) + std::log1p(std::exp(-40.0))) / 4;
  std::vector<double> grad(4);
  const double loss =
      binary_cross_entropy_with_logits(ctx, view2(x, 4, 1), t, 1.0, view2(grad, 4, 1));
  REQUIRE(loss == Approx(expected).epsilon(1e-14));
  REQUIRE(grad[0] == Approx(0.25).epsilon(1e-12));   // (σ(100) - 0) / 4
  REQUIRE(grad[1] == Approx(-0.25).epsilon(1e-12));  // (σ(-100) - 1) / 4
  std::vector<float> xf(x.begin(), x.end()), gf(4);
  REQUIRE(binary_cross_entropy_with_logits(ctx, view1(xf), t, 1.0, view1(gf)) ==
          Approx(expected).epsilon(1e-7));
  REQUIRE(gf[2] == Approx(-0.125f));
}

TEST_CASE("binary_cross_entropy_with_logits rejects bad arguments", "[train][loss]") {
  std::vector<double> x(3, 0.0), g(2);
  std::vector<double> m(6, 0.0);
  const std::vector<float> t = {0, 1, 0};
  REQUIRE_THROWS_WITH(
      binary_cross_entropy_with_logits(ctx, view1(x), std::vector<float>{0, 1.5f, 0}),
      Contains("'targets[1]' must be in [0, 1], got 1.5"));
  REQUIRE_THROWS_AS(binary_cross_entropy_with_logits(ctx, view1(x), std::vector<float>{0, 1}),
                    ShapeMismatch);
  REQUIRE_THROWS_WITH(binary_cross_entropy_with_logits(ctx, view2(m, 3, 2), t),
                      Contains("'logits' must have shape [N] or [N, 1], got float64[3, 2]"));
  REQUIRE_THROWS_AS(binary_cross_entropy_with_logits(ctx, view1(x), t, 0.0), InvalidArgument);
  REQUIRE_THROWS_AS(binary_cross_entropy_with_logits(ctx, view1(x), t, 1.0, view1(g)),
                    ShapeMismatch);
  REQUIRE_THROWS_WITH(binary_cross_entropy_with_logits(ctx, view1(x), t, 1.0, TensorView(),
                                                       std::vector<float>{1, -1, 1}),
                      Contains("'sample_weights[1]' must be finite and >= 0, got -1"));
  std::vector<double> empty;
  REQUIRE_THROWS_AS(binary_cross_entropy_with_logits(ctx, view1(empty), std::vector<float>{}),
                    InvalidArgument);
}

TEST_CASE("sigmoid_focal_loss matches the naive formula and finite differences", "[train][loss]") {
  const std::size_t n = 8;
  auto x = test::random_matrix<double>(1, n, 6);
  for (auto& v : x) v *= 3;
  for (bool soft : {false, true}) {
    const auto t = random_targets(n, 7, soft);
    for (double gamma : {0.0, 0.5, 1.0, 2.0}) {
      for (double alpha : {-1.0, 0.25}) {
        INFO("soft " << soft << " gamma " << gamma << " alpha " << alpha);
        double expected = 0;
        for (std::size_t i = 0; i < n; ++i) {
          const double p = naive_sigmoid(x[i]), ti = t[i];
          const double ce = -(ti * std::log(p) + (1 - ti) * std::log(1 - p));
          const double pt = p * ti + (1 - p) * (1 - ti);
          const double at = alpha >= 0 ? alpha * ti + (1 - alpha) * (1 - ti) : 1.0;
          expected += at * ce * std::pow(1 - pt, gamma);
        }
        expected /= double(n);
        std::vector<double> grad(n);
        const double loss = sigmoid_focal_loss(ctx, view1(x), t, gamma, alpha, view1(grad));
        REQUIRE(loss == Approx(expected).epsilon(1e-11));
        const auto numeric = numeric_grad(x, [&](const std::vector<double>& v) {
          auto copy = v;
          return sigmoid_focal_loss(ctx, view1(copy), t, gamma, alpha);
        });
        require_close(grad, numeric, 1e-8);
      }
    }
  }
  SECTION("gamma 0 without alpha is plain BCE") {
    const auto t = random_targets(n, 8, false);
    REQUIRE(sigmoid_focal_loss(ctx, view1(x), t, 0.0, -1.0) ==
            Approx(binary_cross_entropy_with_logits(ctx, view1(x), t)).epsilon(1e-14));
  }
  SECTION("bad gamma and alpha") {
    const auto t = random_targets(n, 8, false);
    REQUIRE_THROWS_WITH(sigmoid_focal_loss(ctx, view1(x), t, -1.0),
                        Contains("sigmoid_focal_loss: 'gamma' must be finite and >= 0, got -1"));
    REQUIRE_THROWS_AS(sigmoid_focal_loss(ctx, view1(x), t, 2.0, 1.5), InvalidArgument);
  }
}

TEST_CASE("bpr_loss matches -log sigmoid(pos - neg) and finite differences", "[train][loss]") {
  const std::int64_t n = 6;
  for (std::int64_t k : {1, 3}) {
    INFO("K = " << k);
    auto pos = test::random_matrix<double>(1, n, 9);
    auto neg = test::random_matrix<double>(n, k, 10);
    for (auto& v : pos) v *= 5;
    for (auto& v : neg) v *= 5;
    double expected = 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < k; ++j)
        expected += -std::log(naive_sigmoid(pos[i] - neg[i * k + j]));
    expected /= double(n * k);
    std::vector<double> gp(n), gn(n * k);
    const TensorView neg_view = k == 1 ? view1(neg) : view2(neg, n, k);
    const TensorView gn_view = k == 1 ? view1(gn) : view2(gn, n, k);
    const double loss = bpr_loss(ctx, view1(pos), neg_view, view1(gp), gn_view);
    REQUIRE(loss == Approx(expected).epsilon(1e-12));
    const auto num_pos = numeric_grad(pos, [&](const std::vector<double>& v) {
      auto copy = v;
      return bpr_loss(ctx, view1(copy), neg_view);
    });
    const auto num_neg = numeric_grad(neg, [&](const std::vector<double>& v) {
      auto copy = v;
      return bpr_loss(ctx, view1(pos), k == 1 ? view1(copy) : view2(copy, n, k));
    });
    require_close(gp, num_pos, 1e-8);
    require_close(gn, num_neg, 1e-8);
  }
  SECTION("stable for large margins") {
    std::vector<double> pos = {-800, 800}, neg = {800, -800};
    REQUIRE(bpr_loss(ctx, view1(pos), view1(neg)) == Approx(800.0).epsilon(1e-12));
  }
  SECTION("bad arguments") {
    std::vector<double> pos(3), neg(4), negm(6);
    std::vector<float> posf(3);
    REQUIRE_THROWS_WITH(bpr_loss(ctx, view1(pos), view1(neg)),
                        Contains("'neg_scores' must have shape [3] or [3, K]"));
    REQUIRE_THROWS_AS(bpr_loss(ctx, view1(pos), view1(neg)), ShapeMismatch);
    REQUIRE_THROWS_AS(bpr_loss(ctx, view1(posf), view2(negm, 3, 2)), InvalidArgument);
    std::vector<double> gneg(3);
    REQUIRE_THROWS_AS(bpr_loss(ctx, view1(pos), view2(negm, 3, 2), TensorView(), view1(gneg)),
                      ShapeMismatch);
  }
}
