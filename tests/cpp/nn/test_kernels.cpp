// Sparse kernels and dense building blocks: against naive loops over the edge list, against
// finite differences (float64), and for determinism across thread counts.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "gnnkit/nn/aggregate.hpp"
#include "gnnkit/nn/functional.hpp"
#include "gnnkit/nn/linear.hpp"
#include "support/reference.hpp"
#include "support/reference_nn.hpp"

using namespace gnnkit;
using namespace gnnkit::nn;
using gnnkit::test::EdgeListGraph;

namespace {

template <typename T>
Tensor random_tensor(std::vector<std::int64_t> shape, std::uint64_t seed) {
  Tensor t = Tensor::empty(std::span<const std::int64_t>(shape), dtype_of<T>);
  const auto v = gnnkit::test::random_matrix<double>(1, t.numel(), seed);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data_as<T>()[i] = T(v[std::size_t(i)]);
  return t;
}

template <typename IndexT>
Adjacency adjacency_of(const EdgeListGraph& g, int threads = 2) {
  std::vector<IndexT> indices(g.src.begin(), g.src.end());
  return Adjacency::from_csc<IndexT>(g.num_dst, g.num_src, g.indptr, std::move(indices), threads);
}

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += a.data_as<double>()[i] * b.data_as<double>()[i];
  return s;
}

}  // namespace

TEST_CASE("transpose lists every edge once, grouped by source, with its CSC position",
          "[kernels][transpose]") {
  const EdgeListGraph g = gnnkit::test::random_block(5000, 3000, 200000, 1);
  std::vector<std::int32_t> indices(g.src.begin(), g.src.end());
  const CompressedView<std::int32_t> csc{g.num_dst, g.num_src, g.indptr.data(), indices.data(), nullptr};
  const auto t1 = kernels::cpu::transpose(csc, 1);
  const auto t2 = kernels::cpu::transpose(csc, 2);
  CHECK(t1.indptr == t2.indptr);
  CHECK(t1.indices == t2.indices);
  CHECK(t1.perm == t2.perm);
  REQUIRE(t1.num_edges() == std::int64_t(g.src.size()));
  std::vector<int> seen(g.src.size(), 0);
  for (std::int64_t u = 0; u < t1.num_rows; ++u)
    for (std::int64_t k = t1.indptr[std::size_t(u)]; k < t1.indptr[std::size_t(u) + 1]; ++k) {
      const std::int64_t e = t1.perm[std::size_t(k)];
      REQUIRE(g.src[std::size_t(e)] == u);
      REQUIRE(g.dst[std::size_t(e)] == t1.indices[std::size_t(k)]);
      if (k > t1.indptr[std::size_t(u)]) REQUIRE(t1.perm[std::size_t(k) - 1] < e);  // stable
      ++seen[std::size_t(e)];
    }
  for (int s : seen) REQUIRE(s == 1);
}

TEST_CASE("weighted multi-head SpMM, SDDMM and edge softmax match naive loops", "[kernels]") {
  const EdgeListGraph g = gnnkit::test::random_block(300, 200, 3000, 2);
  const Adjacency plain = adjacency_of<std::int64_t>(g);
  const int H = 3;
  const std::int64_t C = 5, F = H * C, E = std::int64_t(g.src.size());
  const Tensor x = random_tensor<double>({g.num_src, F}, 3);
  const Tensor w = random_tensor<double>({E, H}, 4);
  const Adjacency adj = plain.with_edge_weight(w);
  for (Reduce reduce : {Reduce::kSum, Reduce::kMean, Reduce::kMax}) {
    const Tensor y = aggregate_forward(Context::cpu(2), adj, x, reduce);
    for (std::int64_t v = 0; v < g.num_dst; ++v)
      for (std::int64_t c = 0; c < F; ++c) {
        double acc = reduce == Reduce::kMax ? -1e300 : 0;
        std::int64_t deg = 0;
        for (std::int64_t e = 0; e < E; ++e)
          if (g.dst[std::size_t(e)] == v) {
            const double m = w.data_as<double>()[e * H + c / C] * x.data_as<double>()[g.src[std::size_t(e)] * F + c];
            acc = reduce == Reduce::kMax ? std::max(acc, m) : acc + m;
            ++deg;
          }
        if (deg == 0) acc = 0;
        if (reduce == Reduce::kMean && deg) acc /= double(deg);
        REQUIRE(y.data_as<double>()[v * F + c] == Approx(acc).margin(1e-12));
      }
  }
  // SDDMM: out[e, h] = <a[dst], b[src]> per head.
  const Tensor a = random_tensor<double>({g.num_dst, F}, 5);
  std::vector<double> sd(std::size_t(E * H));
  adj.visit([&](const auto& csc, const auto*) {
    kernels::cpu::sddmm_dot<double>(csc, a.data_as<double>(), F, x.data_as<double>(), F, F, H, sd.data(), 2);
  });
  for (std::int64_t e = 0; e < E; ++e)
    for (int h = 0; h < H; ++h) {
      double s = 0;
      for (std::int64_t c = 0; c < C; ++c)
        s += a.data_as<double>()[g.dst[std::size_t(e)] * F + h * C + c] * x.data_as<double>()[g.src[std::size_t(e)] * F + h * C + c];
      REQUIRE(sd[std::size_t(e * H + h)] == Approx(s).margin(1e-12));
    }
  // Edge softmax: per destination and head, the coefficients are exp(s)/sum exp(s), even for
  // scores far beyond exp's range.
  std::vector<double> scores(std::size_t(E * H)), alpha(std::size_t(E * H));
  for (std::int64_t i = 0; i < E * H; ++i) scores[std::size_t(i)] = 1000.0 * w.data_as<double>()[i];
  adj.visit([&](const auto& csc, const auto*) {
    kernels::cpu::edge_softmax_forward<double>(csc, scores.data(), H, alpha.data(), 2);
  });
  for (std::int64_t v = 0; v < g.num_dst; ++v)
    for (int h = 0; h < H; ++h) {
      double m = -1e300, sum = 0;
      for (std::int64_t e = g.indptr[std::size_t(v)]; e < g.indptr[std::size_t(v) + 1]; ++e) m = std::max(m, scores[std::size_t(e * H + h)]);
      for (std::int64_t e = g.indptr[std::size_t(v)]; e < g.indptr[std::size_t(v) + 1]; ++e) sum += std::exp(scores[std::size_t(e * H + h)] - m);
      for (std::int64_t e = g.indptr[std::size_t(v)]; e < g.indptr[std::size_t(v) + 1]; ++e) {
        REQUIRE(std::isfinite(alpha[std::size_t(e * H + h)]));
        REQUIRE(alpha[std::size_t(e * H + h)] == Approx(std::exp(scores[std::size_t(e * H + h)] - m) / sum).margin(1e-12));
      }
    }
}

TEST_CASE("aggregate gradients match finite differences", "[kernels][grad]") {
  const EdgeListGraph g = gnnkit::test::random_block(9, 6, 25, 3);
  const Context ctx = Context::cpu(2);
  for (bool weighted : {false, true})
    for (Reduce reduce : {Reduce::kSum, Reduce::kMean, Reduce::kMax}) {
      Adjacency adj = adjacency_of<std::int32_t>(g);
      if (weighted) adj = adj.with_edge_weight(random_tensor<double>({adj.num_edges(), 2}, 7));
      Tensor x = random_tensor<double>({g.num_src, 4}, 8);
      const Tensor r = random_tensor<double>({g.num_dst, 4}, 9);
      AggregateCache cache;
      aggregate_forward(ctx, adj, x, reduce, &cache);
      const Tensor gx = aggregate_backward(ctx, adj, cache, r);
      INFO("weighted " << weighted << " reduce " << int(reduce));
      gnnkit::test::check_gradient([&] { return dot(aggregate_forward(ctx, adj, x, reduce), r); },
                                   x.data_as<double>(), x.numel(), gx.data_as<double>(), "x");
    }
}

TEST_CASE("dense blocks: gradients match finite differences", "[nn][functional][grad]") {
  const Context ctx = Context::cpu(2);
  const Tensor r = random_tensor<double>({7, 6}, 1);
  SECTION("activations") {
    for (Activation act : {Activation::kReLU, Activation::kLeakyReLU, Activation::kELU}) {
      Tensor x = random_tensor<double>({7, 6}, 2);
      auto f = [&] {
        Tensor y = x.clone();
        activation_forward(ctx, act, y, 0.1);
        return y;
      };
      Tensor g = r.clone();
      activation_backward(ctx, act, f(), g, 0.1);
      INFO("activation " << int(act));
      gnnkit::test::check_gradient([&] { return dot(f(), r); }, x.data_as<double>(), x.numel(),
                                   g.data_as<double>(), "x");
    }
  }
  SECTION("layer norm") {
    ParameterList params;
    auto gamma = params.add("ln.gamma", {6}, Init::kGlorotUniform, 3, DType::kFloat64);
    auto beta = params.add("ln.beta", {6}, Init::kGlorotUniform, 4, DType::kFloat64);
    Tensor x = random_tensor<double>({7, 6}, 5);
    LayerNormCache cache;
    layer_norm_forward(ctx, x, *gamma, *beta, 1e-5, &cache);
    const Tensor gx = layer_norm_backward(ctx, cache, *gamma, *beta, r);
    auto loss = [&] { return dot(layer_norm_forward(ctx, x, *gamma, *beta, 1e-5, nullptr), r); };
    gnnkit::test::check_gradient(loss, x.data_as<double>(), x.numel(), gx.data_as<double>(), "x");
    for (const auto& p : params)
      gnnkit::test::check_gradient(loss, p->value.data_as<double>(), p->numel(), p->grad.data_as<double>(), p->name.c_str());
  }
  SECTION("MLP with dropout") {
    ParameterList params;
    Mlp mlp(params, "mlp", {5, 8, 6}, Activation::kELU, 0.4, 3, DType::kFloat64);
    Tensor x = random_tensor<double>({7, 5}, 6);
    const ForwardMode mode{true, 42, false};
    Mlp::Cache cache;
    mlp.forward(ctx, x, mode, &cache);
    const Tensor gx = mlp.backward(ctx, cache, r, mode);
    auto loss = [&] { return dot(mlp.forward(ctx, x, mode, nullptr), r); };
    gnnkit::test::check_gradient(loss, x.data_as<double>(), x.numel(), gx.data_as<double>(), "x");
    for (const auto& p : params)
      gnnkit::test::check_gradient(loss, p->value.data_as<double>(), p->numel(), p->grad.data_as<double>(), p->name.c_str());
  }
  SECTION("concatenation") {
    const Tensor a = random_tensor<double>({7, 2}, 7), b = random_tensor<double>({7, 4}, 8);
    const Tensor c = concat_columns(ctx, a, b);
    for (std::int64_t i = 0; i < 7; ++i) {
      for (std::int64_t j = 0; j < 2; ++j) CHECK(c.data_as<double>()[i * 6 + j] == a.data_as<double>()[i * 2 + j]);
      for (std::int64_t j = 0; j < 4; ++j) CHECK(c.data_as<double>()[i * 6 + 2 + j] == b.data_as<double>()[i * 4 + j]);
    }
    const Tensor right = slice_columns(c, 2, 6);
    CHECK(right.size(1) == 4);
    CHECK(right.data_as<double>()[right.strides()[0] + 1] == b.data_as<double>()[5]);
  }
}

TEST_CASE("fused activation + dropout equals the two passes, element for element",
          "[nn][functional][dropout]") {
  const std::int64_t rows = 300, cols = 257;
  for (Activation act : {Activation::kNone, Activation::kReLU, Activation::kLeakyReLU, Activation::kELU})
    for (double p : {0.0, 0.25, 0.5})
      for (int threads : {1, 2}) {
        Tensor a = Tensor::empty({rows, cols}, DType::kFloat32);
        for (std::int64_t i = 0; i < a.numel(); ++i) a.data_as<float>()[i] = float((i * 7919) % 2001 - 1000) / 250.0f;
        Tensor b = a.clone();
        activation_forward(Context::cpu(threads), act, a, 0.2);
        dropout_forward(Context::cpu(threads), a, p, 42);
        activation_dropout_forward(Context::cpu(threads), act, b, p, 42, 0.2);
        std::int64_t differ = 0, zeros = 0;
        for (std::int64_t i = 0; i < a.numel(); ++i) {
          differ += a.data_as<float>()[i] != b.data_as<float>()[i];
          zeros += b.data_as<float>()[i] == 0.0f;
        }
        CHECK(differ == 0);
        if (p > 0) CHECK(zeros >= std::int64_t(double(rows * cols) * p * 0.9));
      }
  Tensor x = Tensor::empty({4, 4}, DType::kFloat32);
  CHECK_THROWS_AS(activation_dropout_forward(Context::cpu(1), Activation::kReLU, x, 1.0, 1), InvalidArgument);
}

TEST_CASE("dropout keeps 1-p of the elements, scaled, with the same mask for any thread count",
          "[nn][functional][dropout]") {
  const std::int64_t rows = 400, cols = 500;
  std::vector<Tensor> out;
  for (int threads : {1, 2}) {
    Tensor x = Tensor::empty({rows, cols}, DType::kFloat32);
    for (std::int64_t i = 0; i < x.numel(); ++i) x.data_as<float>()[i] = 1.0f;
    dropout_forward(Context::cpu(threads), x, 0.3, 5);
    out.push_back(x);
  }
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < rows * cols; ++i) {
    REQUIRE(out[0].data_as<float>()[i] == out[1].data_as<float>()[i]);
    const float v = out[0].data_as<float>()[i];
    REQUIRE((v == 0.0f || v == Approx(1 / 0.7)));
    kept += v != 0.0f;
  }
  // Binomial(200000, 0.7): standard deviation 205; 5 sigma.
  CHECK(std::abs(double(kept) - 0.7 * rows * cols) < 5 * 205);
  // Elements are independent: neighbours along a row and down a column agree as often as two
  // independent draws do (0.7^2 + 0.3^2 = 0.58), and every column keeps about 70 %.
  const float* m = out[0].data_as<float>();
  std::int64_t row_pairs = 0, row_agree = 0, col_pairs = 0, col_agree = 0;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) {
      const bool k = m[i * cols + j] != 0.0f;
      if (j + 1 < cols) row_pairs += 1, row_agree += k == (m[i * cols + j + 1] != 0.0f);
      if (i + 1 < rows) col_pairs += 1, col_agree += k == (m[(i + 1) * cols + j] != 0.0f);
    }
  // Binomial(~200000, 0.58): standard deviation about 221; 5 sigma.
  CHECK(std::abs(double(row_agree) - 0.58 * double(row_pairs)) < 5 * 221);
  CHECK(std::abs(double(col_agree) - 0.58 * double(col_pairs)) < 5 * 221);
  double chi2 = 0;  // per-column kept counts, Binomial(400, 0.7) each
  for (std::int64_t j = 0; j < cols; ++j) {
    std::int64_t c = 0;
    for (std::int64_t i = 0; i < rows; ++i) c += m[i * cols + j] != 0.0f;
    chi2 += (double(c) - 280.0) * (double(c) - 280.0) / (400 * 0.7 * 0.3);
  }
  CHECK(chi2 < 617.0);  // 499 degrees of freedom (about), p = 0.0002
  Tensor other = Tensor::empty({rows, cols}, DType::kFloat32);
  for (std::int64_t i = 0; i < other.numel(); ++i) other.data_as<float>()[i] = 1.0f;
  dropout_forward(Context::cpu(1), other, 0.3, 6);
  std::int64_t same = 0;
  for (std::int64_t i = 0; i < rows * cols; ++i) same += other.data_as<float>()[i] == out[0].data_as<float>()[i];
  CHECK(same < rows * cols * 0.65);  // another key, another mask (0.58 expected agreement)
  CHECK_THROWS_AS(dropout_forward(Context::cpu(1), other, 1.0, 1), InvalidArgument);
}

TEST_CASE("Adjacency validates its CSC and adds self loops the PyG way", "[nn][adjacency]") {
  CHECK_THROWS_WITH(Adjacency::from_csc<std::int32_t>(2, 3, {0, 1, 3}, {0, 5, 1}, 1),
                    Catch::Contains("'indices'[1] = 5 must be in [0, 3)"));
  CHECK_THROWS_WITH(Adjacency::from_csc<std::int32_t>(2, 3, {0, 2, 1}, {0}, 1),
                    Catch::Contains("indptr"));
  // dst 0 <- {0 (loop), 1}, dst 1 <- {2}, dst 2 <- {}: 3 destinations, 4 sources.
  const Adjacency a = Adjacency::from_csc<std::int64_t>(3, 4, {0, 2, 3, 3}, {0, 1, 2}, 1);
  const Adjacency s = a.with_self_loops(1);
  CHECK(s.self_loops_added());
  s.visit([](const auto& csc, const auto* t) {
    REQUIRE(t != nullptr);
    const std::vector<std::int64_t> indptr(csc.indptr, csc.indptr + 4);
    CHECK(indptr == std::vector<std::int64_t>{0, 2, 4, 5});
    std::vector<std::int64_t> idx;
    for (std::int64_t e = 0; e < 5; ++e) idx.push_back(std::int64_t(csc.indices[e]));
    CHECK(idx == std::vector<std::int64_t>{1, 0, 2, 1, 2});
  });
}

TEST_CASE("fused GAT kernels equal their unfused compositions", "[kernels][gat]") {
  const EdgeListGraph g = gnnkit::test::random_block(400, 300, 5000, 9);
  const Adjacency adj = adjacency_of<std::int32_t>(g);
  const int H = 3;
  const std::int64_t C = 4, F = H * C, E = std::int64_t(g.src.size());
  const Tensor a_src = random_tensor<double>({g.num_src, H}, 1), a_dst = random_tensor<double>({g.num_dst, H}, 2);
  const Tensor h_src = random_tensor<double>({g.num_src, F}, 3), go = random_tensor<double>({g.num_dst, F}, 4);
  const Tensor w = random_tensor<double>({E, H}, 5), ga = random_tensor<double>({E, H}, 6);
  std::vector<double> s1(std::size_t(E * H)), a1(s1.size()), s2(s1.size()), a2(s1.size());
  std::vector<double> gw1(s1.size()), gw2(s1.size()), gz1(s1.size()), gz2(s1.size());
  std::vector<double> gx1(std::size_t(g.num_src * F)), gx2(gx1.size());
  adj.visit([&](const auto& csc, const auto* t) {
    kernels::cpu::gat_scores<double>(csc, a_src.data_as<double>(), a_dst.data_as<double>(), H, 0.2, s1.data(), 2);
    kernels::cpu::edge_softmax_forward<double>(csc, s1.data(), H, a1.data(), 2);
    kernels::cpu::gat_attention_forward<double>(csc, a_src.data_as<double>(), a_dst.data_as<double>(), H, 0.2, s2.data(), a2.data(), 2);
    kernels::cpu::sddmm_dot<double>(csc, go.data_as<double>(), F, h_src.data_as<double>(), F, F, H, gw1.data(), 2);
    kernels::cpu::spmm_backward_x<double>(csc, *t, go.data_as<double>(), F, F, w.data_as<double>(), H, Reduce::kSum, nullptr, gx1.data(), F, false, 2);
    kernels::cpu::gat_aggregate_backward<double>(*t, go.data_as<double>(), F, h_src.data_as<double>(), F, F, w.data_as<double>(), H, gx2.data(), F, gw2.data(), 2);
    std::copy(ga.data_as<double>(), ga.data_as<double>() + E * H, gz1.begin());
    std::copy(gz1.begin(), gz1.end(), gz2.begin());
    kernels::cpu::edge_softmax_backward<double>(csc, a1.data(), gz1.data(), H, gz1.data(), 2);
    for (std::size_t i = 0; i < gz1.size(); ++i) gz1[i] *= s1[i] > 0 ? 1.0 : 0.2;
    kernels::cpu::gat_attention_backward<double>(csc, s1.data(), a1.data(), H, 0.2, gz2.data(), 2);
  });
  for (std::size_t i = 0; i < s1.size(); ++i) {
    REQUIRE(s1[i] == Approx(s2[i]).margin(1e-12));
    REQUIRE(a1[i] == Approx(a2[i]).margin(1e-12));
    REQUIRE(gw1[i] == Approx(gw2[i]).margin(1e-12));
    REQUIRE(gz1[i] == Approx(gz2[i]).margin(1e-12));
  }
  for (std::size_t i = 0; i < gx1.size(); ++i) REQUIRE(gx1[i] == Approx(gx2[i]).margin(1e-12));
}

TEST_CASE("wide rows (register-blocked SpMM paths) match naive loops, forward and backward",
          "[kernels][wide]") {
  const EdgeListGraph g = gnnkit::test::random_block(300, 200, 3000, 12);
  const std::int64_t E = std::int64_t(g.src.size());
  const Tensor w = random_tensor<double>({E}, 15);
  for (std::int64_t F : {130, 100})  // two 64-column blocks + 2; one + a 36-column tail
  for (bool weighted : {false, true})
    for (Reduce reduce : {Reduce::kSum, Reduce::kMean}) {
      const Tensor x = random_tensor<double>({g.num_src, F}, 13), go = random_tensor<double>({g.num_dst, F}, 14);
      Adjacency adj = adjacency_of<std::int64_t>(g);
      if (weighted) adj = adj.with_edge_weight(w);
      AggregateCache cache;
      const Tensor y = aggregate_forward(Context::cpu(2), adj, x, reduce, &cache);
      const Tensor gx = aggregate_backward(Context::cpu(2), adj, cache, go);
      std::vector<double> ey(std::size_t(g.num_dst * F), 0.0), egx(std::size_t(g.num_src * F), 0.0);
      for (std::int64_t e = 0; e < E; ++e) {
        const std::int64_t u = g.src[std::size_t(e)], v = g.dst[std::size_t(e)];
        const double deg = double(g.indptr[std::size_t(v) + 1] - g.indptr[std::size_t(v)]);
        const double s = (weighted ? w.data_as<double>()[e] : 1.0) / (reduce == Reduce::kMean ? deg : 1.0);
        for (std::int64_t c = 0; c < F; ++c) {
          ey[std::size_t(v * F + c)] += s * x.data_as<double>()[u * F + c];
          egx[std::size_t(u * F + c)] += s * go.data_as<double>()[v * F + c];
        }
      }
      INFO("F " << F << " weighted " << weighted << " reduce " << int(reduce));
      for (std::size_t i = 0; i < ey.size(); ++i) REQUIRE(y.data_as<double>()[i] == Approx(ey[i]).margin(1e-10));
      for (std::size_t i = 0; i < egx.size(); ++i) REQUIRE(gx.data_as<double>()[i] == Approx(egx[i]).margin(1e-10));
    }
}

TEST_CASE("multi-head weighted SpMM with 16/32/64-column heads matches naive loops",
          "[kernels][heads]") {
  const EdgeListGraph g = gnnkit::test::random_block(200, 150, 2000, 16);
  const std::int64_t E = std::int64_t(g.src.size());
  for (std::int64_t C : {16, 32, 64})
    for (Reduce reduce : {Reduce::kSum, Reduce::kMean}) {
      const int H = int(128 / C);
      const std::int64_t F = H * C;
      const Tensor x = random_tensor<double>({g.num_src, F}, 17), w = random_tensor<double>({E, H}, 18);
      const Adjacency adj = adjacency_of<std::int32_t>(g).with_edge_weight(w);
      const Tensor y = aggregate_forward(Context::cpu(2), adj, x, reduce);
      std::vector<double> ey(std::size_t(g.num_dst * F), 0.0);
      for (std::int64_t e = 0; e < E; ++e) {
        const std::int64_t u = g.src[std::size_t(e)], v = g.dst[std::size_t(e)];
        const double deg = double(g.indptr[std::size_t(v) + 1] - g.indptr[std::size_t(v)]);
        for (std::int64_t c = 0; c < F; ++c)
          ey[std::size_t(v * F + c)] += w.data_as<double>()[e * H + c / C] * x.data_as<double>()[u * F + c] /
                                        (reduce == Reduce::kMean ? deg : 1.0);
      }
      INFO("C " << C << " reduce " << int(reduce));
      for (std::size_t i = 0; i < ey.size(); ++i) REQUIRE(y.data_as<double>()[i] == Approx(ey[i]).margin(1e-10));
    }
}

TEST_CASE("aggregation and activation passes name a device mismatch (CUDA data, CPU context)",
          "[nn][device]") {
  // Views of host memory labelled cuda:0: the checks must reject them before any read.
  std::vector<float> host(12, 1.f);
  const TensorView on_gpu(host.data(), DType::kFloat32, Device::cuda(0), {3, 4});
  const Adjacency adj = Adjacency::from_csc<std::int32_t>(2, 3, {0, 1, 2}, {0, 2}, 1);
  const Context cpu = Context::cpu(1);
  CHECK_THROWS_AS(aggregate_forward(cpu, adj, on_gpu, Reduce::kSum), DeviceMismatch);
  CHECK_THROWS_WITH(aggregate_forward(cpu, adj, on_gpu, Reduce::kMean),
                    "aggregate: 'x' is float32[3, 4] on cuda:0, but the context is on cpu");
  AggregateCache cache;
  const TensorView grad_on_gpu(host.data(), DType::kFloat32, Device::cuda(0), {2, 4});
  CHECK_THROWS_AS(aggregate_backward(cpu, adj, cache, grad_on_gpu), DeviceMismatch);
  CHECK_THROWS_AS(activation_dropout_forward(cpu, Activation::kReLU, on_gpu, 0.5, 1), DeviceMismatch);
  CHECK_THROWS_AS(activation_forward(cpu, Activation::kELU, on_gpu), DeviceMismatch);
  CHECK_THROWS_AS(activation_dropout_backward(cpu, Activation::kReLU, on_gpu, on_gpu, 0.5), DeviceMismatch);
  // A CPU adjacency asked for its device copy on a CPU context.
  CHECK_THROWS_AS(adj.device_csc(cpu), DeviceMismatch);
  CHECK(host[0] == 1.f);  // untouched
}

TEST_CASE("a device adjacency knows its sizes, and the CPU kernels refuse it", "[nn][device]") {
  // Host arrays labelled cuda:0 stand in for DeviceMiniBatch arrays: nothing may read them.
  std::vector<std::int64_t> indptr{0, 2, 3, 3};
  std::vector<std::int32_t> indices{1, 0, 2};
  const Tensor device_indptr = Tensor::wrap(TensorView(indptr.data(), DType::kInt64, Device::cuda(0), {4}), nullptr);
  const Tensor device_indices = Tensor::wrap(TensorView(indices.data(), DType::kInt32, Device::cuda(0), {3}), nullptr);
  // A prefix of the rows (2 of 3), as layer_graphs takes for inner layers.
  const Adjacency adj = Adjacency::on_device(2, 4, 3, device_indptr, device_indices);
  CHECK(adj.on_device());
  CHECK(adj.num_dst() == 2);
  CHECK(adj.num_src() == 4);
  CHECK(adj.num_edges() == 3);
  CHECK_FALSE(adj.has_transpose());
  const Context cpu = Context::cpu(1);
  std::vector<float> x(16, 1.f);
  const TensorView host_x(x.data(), DType::kFloat32, Device::cpu(), {4, 4});
  CHECK_THROWS_WITH(aggregate_forward(cpu, adj, host_x, Reduce::kSum),
                    "Adjacency: this adjacency lies in cuda:0 memory, where the CPU kernels cannot read it: run the "
                    "layer on a context of that device");
  CHECK_THROWS_AS(adj.device_csc(cpu), DeviceMismatch);  // a CPU context has no device copy to give
  // Bad arrays are named.
  const Tensor host_indptr = Tensor::wrap(TensorView(indptr.data(), DType::kInt64, Device::cpu(), {4}), nullptr);
  CHECK_THROWS_AS(Adjacency::on_device(2, 4, 3, host_indptr, device_indices), InvalidArgument);
  CHECK_THROWS_AS(Adjacency::on_device(2, 4, 3, device_indices, device_indices), InvalidArgument);
  CHECK_THROWS_AS(Adjacency::on_device(4, 4, 3, device_indptr, device_indices), ShapeMismatch);  // 5 > 4 entries
  CHECK_THROWS_AS(Adjacency::on_device(3, 4, 9, device_indptr, device_indices), ShapeMismatch);  // 9 > 3 edges
}
