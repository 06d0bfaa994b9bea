// LightGCN: the normalised adjacency against a dense construction, the forward pass against
// dense propagations, the gradient against central finite differences (with repeated rows,
// an isolated user and an unused item), and input errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "gnnkit/core/error.hpp"
#include "support/tiny_interactions.hpp"
#include "gnnkit/nn/lightgcn.hpp"

using namespace gnnkit;
using namespace gnnkit::nn;

using Tiny = test::TinyInteractions;

TEST_CASE("BipartiteNormAdjacency is D^-1/2 A D^-1/2 of the user-item graph", "[lightgcn]") {
  const Tiny t;
  const auto a = BipartiteNormAdjacency::build(t.users, t.items, t.indptr, t.item);
  const std::int64_t U = t.users, N = U + t.items;
  std::vector<double> dense(std::size_t(N * N), 0.0), deg(std::size_t(N), 0.0);
  for (std::int64_t u = 0; u < U; ++u)
    for (std::int64_t e = t.indptr[std::size_t(u)]; e < t.indptr[std::size_t(u) + 1]; ++e) {
      const std::int64_t i = U + t.item[std::size_t(e)];
      dense[std::size_t(u * N + i)] = dense[std::size_t(i * N + u)] = 1;
      ++deg[std::size_t(u)], ++deg[std::size_t(i)];
    }
  std::vector<double> got(std::size_t(N * N), 0.0);
  for (std::int64_t r = 0; r < N; ++r)
    for (std::int64_t p = a.indptr[std::size_t(r)]; p < a.indptr[std::size_t(r) + 1]; ++p)
      got[std::size_t(r * N + a.indices[std::size_t(p)])] += a.weights[std::size_t(p)];
  for (std::int64_t r = 0; r < N; ++r)
    for (std::int64_t c = 0; c < N; ++c) {
      const double want = dense[std::size_t(r * N + c)] == 0
                              ? 0
                              : 1 / std::sqrt(deg[std::size_t(r)] * deg[std::size_t(c)]);
      CHECK(got[std::size_t(r * N + c)] == Approx(want).margin(1e-7));
    }
  std::vector<std::int32_t> bad = t.item;
  bad[3] = 6;
  CHECK_THROWS_WITH(BipartiteNormAdjacency::build(t.users, t.items, t.indptr, bad),
                    Catch::Contains("'items'[3] = 6"));
  CHECK_THROWS_AS(BipartiteNormAdjacency::build(t.users + 1, t.items, t.indptr, t.item),
                  InvalidArgument);
}

TEST_CASE("LightGcn forward is the mean of dense propagations and its gradient matches finite differences", "[lightgcn]") {
  const Tiny t;
  LightGcnOptions opt;
  opt.layers = GENERATE(0, 1, 3);
  opt.dim = 3;
  opt.reg = 0.05;
  opt.init_scale = 0.5;
  opt.seed = 3;
  LightGcn model(t.users, t.items, t.indptr, t.item, opt, 2);
  const std::int64_t N = t.users + t.items, d = opt.dim;
  float* E0 = model.parameters()[0]->value.data_as<float>();
  const float* G0 = model.parameters()[0]->grad.data_as<float>();

  const auto a = BipartiteNormAdjacency::build(t.users, t.items, t.indptr, t.item);
  std::vector<double> layer(E0, E0 + N * d), mean = layer;
  for (int k = 0; k < opt.layers; ++k) {
    std::vector<double> next(std::size_t(N * d), 0.0);
    for (std::int64_t r = 0; r < N; ++r)
      for (std::int64_t p = a.indptr[std::size_t(r)]; p < a.indptr[std::size_t(r) + 1]; ++p)
        for (std::int64_t c = 0; c < d; ++c)
          next[std::size_t(r * d + c)] +=
              a.weights[std::size_t(p)] * layer[std::size_t(a.indices[std::size_t(p)] * d + c)];
    layer = next;
    for (std::size_t j = 0; j < mean.size(); ++j) mean[j] += layer[j];
  }
  const float* F = model.forward();
  for (std::size_t j = 0; j < mean.size(); ++j)
    CHECK(F[j] == Approx(mean[j] / (opt.layers + 1)).margin(1e-6));

  // Triples with repeated rows (user 0 twice, item 1 as positive and as negative).
  const std::vector<std::int64_t> users = {0, 1, 0, 4}, pos = {1, 2, 0, 4}, neg = {5, 1, 3, 1};
  const Context ctx = Context::cpu(2);
  auto total = [&]() {
    double l2 = 0;
    const double bpr = model.loss_and_grad(ctx, users, pos, neg, &l2);
    return bpr + l2;
  };
  total();
  const std::vector<float> grad(G0, G0 + N * d);
  const float h = 1e-2f;
  for (std::int64_t j = 0; j < N * d; ++j) {
    const float keep = E0[j];
    E0[j] = keep + h;
    const double up = total();
    E0[j] = keep - h;
    const double down = total();
    E0[j] = keep;
    INFO("layers " << opt.layers << " entry " << j);
    CHECK(grad[std::size_t(j)] == Approx((up - down) / (2 * h)).margin(2e-4));
  }

  const std::vector<std::int64_t> out_of_range = {0, 1, 0, 5};
  CHECK_THROWS_WITH(model.loss_and_grad(ctx, out_of_range, pos, neg), Catch::Contains("'users'[3] = 5"));
  CHECK_THROWS_AS(model.loss_and_grad(ctx, users, pos, std::vector<std::int64_t>{1}), InvalidArgument);
  LightGcnOptions bad = opt;
  bad.layers = 9;
  CHECK_THROWS_WITH(LightGcn(t.users, t.items, t.indptr, t.item, bad, 1), Catch::Contains("'layers'"));
}

namespace {
/// The negative-sampling tests' model: 4 wide, with scores far enough apart to rank.
LightGcnOptions negative_test_options(int layers, std::uint64_t seed) {
  LightGcnOptions opt;
  opt.layers = layers;
  opt.dim = 4;
  opt.init_scale = 0.5;
  opt.seed = seed;
  return opt;
}
}  // namespace

TEST_CASE("LightGcn::hardest_negatives picks each row's best-scoring candidate under the last forward", "[lightgcn]") {
  const Tiny t;
  const LightGcnOptions opt = negative_test_options(GENERATE(0, 2), 11);
  LightGcn model(t.users, t.items, t.indptr, t.item, opt, 2);
  const std::int64_t U = t.users, d = opt.dim;
  // Every user against every item, in three orders: the winner is the brute-force argmax of
  // <F_u, F_i> whatever the order (first on ties).
  const std::vector<std::int64_t> users = {0, 1, 2, 3, 4, 0};
  const std::int64_t m = t.items;
  std::vector<std::int64_t> candidates;
  for (std::size_t r = 0; r < users.size(); ++r)
    for (std::int64_t c = 0; c < m; ++c)
      candidates.push_back(r % 2 ? m - 1 - c : (c + std::int64_t(r)) % m);
  std::vector<std::int64_t> chosen(users.size(), -1);
  model.hardest_negatives(users, candidates, m, chosen);  // runs forward itself the first time
  const auto check_argmax = [&](const float* F) {
    for (std::size_t r = 0; r < users.size(); ++r) {
      std::int64_t best = -1;
      double best_score = -1e30;
      for (std::int64_t c = 0; c < m; ++c) {
        const std::int64_t item = candidates[r * std::size_t(m) + std::size_t(c)];
        double s = 0;
        for (std::int64_t j = 0; j < d; ++j) s += double(F[users[r] * d + j]) * F[(U + item) * d + j];
        if (s > best_score) best_score = s, best = item;
      }
      INFO("layers " << opt.layers << " row " << r);
      CHECK(chosen[r] == best);
    }
  };
  std::vector<float> F(model.forward(), model.forward() + (U + t.items) * d);
  check_argmax(F.data());

  // A training step fixes the F that later choices score with: after a parameter change and an
  // evaluation (forward) it is still that step's F for LightGCN (one step stale, and the eval
  // schedule cannot change training); BPR-MF's F is E0 itself, always current.
  const Context ctx = Context::cpu(2);
  model.loss_and_grad(ctx, std::vector<std::int64_t>{0, 1}, std::vector<std::int64_t>{1, 2},
                      std::vector<std::int64_t>{5, 0});
  F.assign(model.forward(), model.forward() + (U + t.items) * d);
  float* E0 = model.parameters()[0]->value.data_as<float>();
  for (std::int64_t j = 0; j < (U + t.items) * d; ++j) E0[j] = -E0[j] + 0.01f * float(j % 7);
  const std::vector<float> after(model.forward(), model.forward() + (U + t.items) * d);
  REQUIRE(after != F);
  model.hardest_negatives(users, candidates, m, chosen);
  check_argmax(opt.layers == 0 ? after.data() : F.data());

  // A single candidate is returned as is.
  std::vector<std::int64_t> one = {5, 4, 3, 2, 1, 0}, out(6);
  model.hardest_negatives(users, one, 1, out);
  CHECK(out == one);

  CHECK_THROWS_WITH(model.hardest_negatives(users, std::vector<std::int64_t>(6, 6), 1, out),
                    Catch::Contains("'candidates'[0] = 6"));
  CHECK_THROWS_AS(model.hardest_negatives(users, one, 2, out), InvalidArgument);
  // per_triple * users would overflow: refused, never read past the candidates.
  std::vector<std::int64_t> four(4);
  CHECK_THROWS_AS(model.hardest_negatives(std::vector<std::int64_t>(4, 0), std::vector<std::int64_t>{},
                                          std::int64_t(1) << 62, four),
                  InvalidArgument);
}

TEST_CASE("LightGcn::sample_negatives draws unseen items, reproducibly, harder with more candidates", "[lightgcn]") {
  const Tiny t;
  const LightGcnOptions opt = negative_test_options(GENERATE(0, 2), 5);
  LightGcn model(t.users, t.items, t.indptr, t.item, opt, 2);
  const std::int64_t U = t.users, d = opt.dim, k = 3;
  const auto seen = [&](std::int64_t u, std::int64_t i) {
    for (std::int64_t e = t.indptr[std::size_t(u)]; e < t.indptr[std::size_t(u) + 1]; ++e)
      if (t.item[std::size_t(e)] == i) return true;
    return false;
  };
  // Many pairs of every user (user 3 has no items: every item is unseen for it).
  std::vector<std::int64_t> users, keys;
  for (std::int64_t r = 0; r < 400; ++r) users.push_back(r % U), keys.push_back(1000 + r);
  std::vector<std::int64_t> uniform(users.size() * k), hard(users.size() * k);
  model.sample_negatives(users, keys, k, 1, 9, 2, uniform);
  model.sample_negatives(users, keys, k, 4, 9, 2, hard);
  const float* F = model.forward();  // no step yet: what sample_negatives scored with
  const auto score = [&](std::int64_t u, std::int64_t i) {
    double s = 0;
    for (std::int64_t j = 0; j < d; ++j) s += double(F[u * d + j]) * F[(U + i) * d + j];
    return s;
  };
  std::vector<int> count(std::size_t(t.items), 0);
  for (std::size_t r = 0; r < users.size(); ++r)
    for (std::int64_t s = 0; s < k; ++s) {
      const std::int64_t iu = uniform[r * k + std::size_t(s)], ih = hard[r * k + std::size_t(s)];
      REQUIRE((iu >= 0 && iu < t.items && ih >= 0 && ih < t.items));
      CHECK_FALSE(seen(users[r], iu));
      CHECK_FALSE(seen(users[r], ih));
      ++count[std::size_t(iu)];
    }
  // The first negative's candidates start with the uniform stream's first draw: never worse.
  for (std::size_t r = 0; r < users.size(); ++r)
    CHECK(score(users[r], hard[r * k]) >= score(users[r], uniform[r * k]) - 1e-6);
  // Every item is drawn (each is unseen by someone), and hard negatives score higher on average.
  for (const int c : count) CHECK(c > 0);
  double mean_u = 0, mean_h = 0;
  for (std::size_t q = 0; q < hard.size(); ++q)
    mean_u += score(users[q / k], uniform[q]), mean_h += score(users[q / k], hard[q]);
  CHECK(mean_h > mean_u);

  // Keyed by (seed, stream, key): a pair's negatives do not depend on the batch or threads.
  LightGcn one_thread(t.users, t.items, t.indptr, t.item, opt, 1);
  std::vector<std::int64_t> part(std::size_t(7 * k));
  one_thread.sample_negatives(std::span(users).subspan(13, 7), std::span(keys).subspan(13, 7), k, 4, 9, 2, part);
  CHECK(std::equal(part.begin(), part.end(), hard.begin() + 13 * k));
  std::vector<std::int64_t> other(hard.size());
  model.sample_negatives(users, keys, k, 4, 9, 3, other);  // another stream (epoch)
  CHECK(other != hard);

  CHECK_THROWS_WITH(model.sample_negatives(std::vector<std::int64_t>{5}, std::vector<std::int64_t>{0}, 1, 1, 0, 0, part),
                    Catch::Contains("needs one key per user"));
  std::vector<std::int64_t> one_out(1);
  CHECK_THROWS_WITH(model.sample_negatives(std::vector<std::int64_t>{5}, std::vector<std::int64_t>{0}, 1, 1, 0, 0, one_out),
                    Catch::Contains("'users'[0] = 5"));
  CHECK_THROWS_WITH(model.sample_negatives(std::vector<std::int64_t>{0}, std::vector<std::int64_t>{0}, 1, 0, 0, 0, one_out),
                    Catch::Contains("got 1 and 0"));
}
