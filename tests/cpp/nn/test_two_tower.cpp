// GraphSAGE two-tower recommender: the interaction graph's layout, batch scores against the
// full-graph embeddings (same neighbourhoods with fan-out -1), the BPR + L2 gradient of every
// parameter kind against central finite differences in float64 (an isolated user, an unused
// item, repeated items across triples, item features), and input errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <memory>
#include <vector>

#include "gnnkit/core/error.hpp"
#include "support/tiny_interactions.hpp"
#include "gnnkit/nn/two_tower.hpp"

using namespace gnnkit;
using namespace gnnkit::nn;

namespace {

using Tiny = test::TinyInteractions;

double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

Tensor features(std::int64_t items, std::int64_t f, DType dtype) {
  Tensor t = Tensor::empty({items, f}, dtype);
  for (std::int64_t i = 0; i < items * f; ++i) {
    const double v = std::sin(0.7 * double(i) + 0.3);
    if (dtype == DType::kFloat64) t.data_as<double>()[i] = v;
    else t.data_as<float>()[i] = float(v);
  }
  return t;
}

LinkBatch sample(const HeteroGraph& g, int hops, std::vector<std::int64_t> src,
                 std::vector<std::int64_t> dst, std::int64_t k) {
  SamplingOptions so;
  so.fanouts.assign(std::size_t(hops), -1);  // every neighbour: deterministic
  auto sampler = std::make_shared<NeighborSampler>(g, so);
  LinkSamplingOptions lo;
  lo.num_negatives = k;
  lo.exclude_positives = true;
  const LinkSampler links(sampler, TwoTower::kRelation, lo);
  LinkBatch b;
  const auto n = std::int64_t(src.size());
  links.sample_into(Context::cpu(2, 7), TensorView(src.data(), DType::kInt64, Device::cpu(), {n}),
                    TensorView(dst.data(), DType::kInt64, Device::cpu(), {n}), 3, b);
  return b;
}

}  // namespace

TEST_CASE("TwoTower::interaction_graph: user -interacts-> item, its reverse, duplicates dropped", "[two_tower]") {
  Tiny t;
  t.item[1] = 0;  // user 0 lists item 0 twice
  const HeteroGraph g = TwoTower::interaction_graph(Context::cpu(2), t.users, t.items, t.indptr, t.item);
  const Schema& s = g.schema();
  REQUIRE(s.num_node_types() == 2);
  CHECK(s.node_type_id("user") == TwoTower::kUser);
  CHECK(s.node_type_id("item") == TwoTower::kItem);
  CHECK(s.relation_id(TwoTower::kRelation) == 0);
  CHECK(s.relation(1).src == "item");
  CHECK(g.relation(0).num_edges() == 7);
  CHECK(g.relation(1).num_edges() == 7);
  CHECK(g.relation(0).in_degree(0) == 2);  // users 0 and 2
  CHECK(g.relation(1).in_degree(3) == 0);  // the isolated user

  std::vector<std::int32_t> bad = t.item;
  bad[4] = 6;
  CHECK_THROWS_WITH(TwoTower::interaction_graph(Context::cpu(1), t.users, t.items, t.indptr, bad),
                    Catch::Contains("item of user 1 (entry 4) must be in [0, 6), got 6"));
  std::vector<std::int64_t> short_ptr = {0, 2, 5};
  CHECK_THROWS_AS(TwoTower::interaction_graph(Context::cpu(1), t.users, t.items, short_ptr, t.item),
                  InvalidArgument);
}

TEST_CASE("TwoTower batch scores equal dot products of the full-graph embeddings", "[two_tower]") {
  const Tiny t;
  const Context ctx = Context::cpu(2);
  const HeteroGraph g = TwoTower::interaction_graph(ctx, t.users, t.items, t.indptr, t.item);
  TwoTowerOptions o;
  o.layers = GENERATE(1, 2);
  o.dim = 4;
  o.hidden = 5;
  o.init_scale = 0.5;
  CAPTURE(o.layers);
  const TwoTower model(t.users, t.items, features(t.items, 3, DType::kFloat32), o);
  const LinkBatch b = sample(g, o.layers, {0, 1, 4, 2}, {1, 3, 4, 0}, 2);
  std::vector<double> pos, neg;
  model.score(ctx, b, pos, neg);
  Tensor eu, ei;
  model.embeddings(ctx, g, eu, ei);
  REQUIRE(eu.size(0) == t.users);
  REQUIRE(ei.size(0) == t.items);
  REQUIRE(ei.size(1) == 4);
  const auto full = [&](std::int64_t u, std::int64_t i) {
    double s = 0;
    for (int c = 0; c < 4; ++c) s += double(eu.data_as<float>()[u * 4 + c]) * ei.data_as<float>()[i * 4 + c];
    return s;
  };
  const std::vector<std::int64_t> src = {0, 1, 4, 2}, dst = {1, 3, 4, 0};
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(pos[i] == Approx(full(src[i], dst[i])).margin(1e-5));
    for (std::size_t j = 0; j < 2; ++j)
      CHECK(neg[i * 2 + j] == Approx(full(src[i], b.neg_dst_global[i * 2 + j])).margin(1e-5));
  }
}

TEST_CASE("TwoTower BPR + L2 gradient matches central finite differences (float64)", "[two_tower]") {
  const Tiny t;
  const Context ctx = Context::cpu(2);
  const HeteroGraph g = TwoTower::interaction_graph(ctx, t.users, t.items, t.indptr, t.item);
  TwoTowerOptions o;
  o.layers = 2;
  o.dim = 3;
  o.hidden = 4;
  o.reg = 0.3;
  o.init_scale = 0.5;
  o.aggr = GENERATE(Reduce::kMean, Reduce::kSum);
  const bool with_features = GENERATE(false, true);
  CAPTURE(int(o.aggr), with_features);
  TwoTower model(t.users, t.items, with_features ? features(t.items, 2, DType::kFloat64) : Tensor(), o,
                 DType::kFloat64);
  // Users 0 and 1 twice (repeated rows); item 1 is a positive of two triples.
  const std::vector<std::int64_t> src = {0, 1, 0, 4, 1}, dst = {1, 1, 0, 4, 3};
  const LinkBatch b = sample(g, 2, src, dst, 2);
  const std::int64_t P = 5, K = 2, D = 3;

  // The objective computed independently: mean softplus(neg - pos) from the model's scores
  // plus reg / 2 * (Σ |e_u|² + |e_i|² + Σ_j |e_j|² / K) / P over the triples' ID embedding rows.
  const auto objective = [&]() {
    std::vector<double> pos, neg;
    model.score(ctx, b, pos, neg);
    double bpr = 0;
    for (std::int64_t i = 0; i < P; ++i)
      for (std::int64_t j = 0; j < K; ++j) bpr += softplus(neg[std::size_t(i * K + j)] - pos[std::size_t(i)]);
    bpr /= double(P * K);
    const double* eu = model.parameters().at("user_embedding")->value.data_as<double>();
    const double* ei = model.parameters().at("item_embedding")->value.data_as<double>();
    const auto sq = [&](const double* e, std::int64_t r) {
      double s = 0;
      for (std::int64_t c = 0; c < D; ++c) s += e[r * D + c] * e[r * D + c];
      return s;
    };
    double l2 = 0;
    for (std::int64_t i = 0; i < P; ++i) {
      l2 += sq(eu, src[std::size_t(i)]) + sq(ei, dst[std::size_t(i)]);
      for (std::int64_t j = 0; j < K; ++j) l2 += sq(ei, b.neg_dst_global[std::size_t(i * K + j)]) / double(K);
    }
    return bpr + o.reg / 2 * l2 / double(P);
  };

  model.parameters().zero_grad();
  const double reported = model.loss_and_grad(ctx, b, 1);
  CHECK(std::isfinite(reported));
  std::int64_t checked = 0;
  for (const ParameterPtr& p : model.parameters()) {
    double* w = p->value.data_as<double>();
    const double* grad = p->grad.data_as<double>();
    // Every entry of the small tables; a strided subset of the weights.
    const std::int64_t step = p->name.find("embedding") != std::string::npos ? 1 : 3;
    for (std::int64_t e = 0; e < p->numel(); e += step) {
      const double keep = w[e], h = 1e-6;
      w[e] = keep + h;
      const double up = objective();
      w[e] = keep - h;
      const double down = objective();
      w[e] = keep;
      CAPTURE(p->name, e);
      CHECK(grad[e] == Approx((up - down) / (2 * h)).margin(1e-7).epsilon(1e-5));
      ++checked;
    }
  }
  CHECK(checked > 40);
}

TEST_CASE("TwoTower input errors name the argument", "[two_tower]") {
  const Tiny t;
  const Context ctx = Context::cpu(1);
  TwoTowerOptions o;
  o.layers = 0;
  CHECK_THROWS_WITH(TwoTower(t.users, t.items, Tensor(), o), Catch::Contains("'layers' must be in [1, 4], got 0"));
  o.layers = 2;
  o.dropout = 1.0;
  CHECK_THROWS_WITH(TwoTower(t.users, t.items, Tensor(), o), Catch::Contains("'dropout'"));
  o.dropout = 0;
  CHECK_THROWS_WITH(TwoTower(t.users, t.items, features(t.items + 1, 2, DType::kFloat32), o),
                    Catch::Contains("'item_features' must have shape [6, F]"));
  CHECK_THROWS_WITH(TwoTower(t.users, t.items, features(t.items, 2, DType::kFloat64), o),
                    Catch::Contains("'item_features' must be float32"));

  const HeteroGraph g = TwoTower::interaction_graph(ctx, t.users, t.items, t.indptr, t.item);
  const TwoTower small(t.users - 1, t.items, Tensor(), o);
  Tensor eu, ei;
  CHECK_THROWS_WITH(small.embeddings(ctx, g, eu, ei), Catch::Contains("the graph has 5 users and 6 items, the model 4 and 6"));
  // A batch sampled with fewer hops than the model has layers.
  const LinkBatch one_hop = sample(g, 1, {0}, {1}, 1);
  TwoTower model(t.users, t.items, Tensor(), o);
  CHECK_THROWS_WITH(model.loss_and_grad(ctx, one_hop, 0), Catch::Contains("the mini-batch has 1 hops, the model 2 layers"));
  // A batch from a graph with more users than the model.
  const TwoTower fewer(2, t.items, Tensor(), TwoTowerOptions{1});
  const LinkBatch b = sample(g, 1, {4}, {0}, 1);
  std::vector<double> pos, neg;
  CHECK_THROWS_WITH(fewer.score(ctx, b, pos, neg), Catch::Contains("outside the model's [0, 2)"));
}
