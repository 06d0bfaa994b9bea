// The model runner: gradients of a heterogeneous 2-layer model (SAGE and GAT, every
// combination rule, dropout on) against finite differences, and a sampled mini-batch with
// full fan-out giving exactly the full-graph result at the seeds.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "gnnkit/nn/model.hpp"
#include "gnnkit/sampling/neighbor.hpp"
#include "support/reference.hpp"
#include "support/reference_nn.hpp"
#include "support/views.hpp"

using namespace gnnkit;
using namespace gnnkit::nn;

namespace {

struct TinyHetero {
  HeteroGraph graph;
  std::vector<std::vector<std::int64_t>> src, dst;
};

/// user (8) and item (6); buys: user -> item, rev_buys: item -> user, knows: user -> user
/// (with a self loop and a duplicate), and a user without any edge.
HeteroGraph tiny_hetero(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> bs, bd, ks, kd;
  for (int e = 0; e < 14; ++e) {
    bs.push_back(std::int64_t(rng() % 7));
    bd.push_back(std::int64_t(rng() % 6));
  }
  for (int e = 0; e < 10; ++e) {
    ks.push_back(std::int64_t(rng() % 7));
    kd.push_back(std::int64_t(rng() % 7));
  }
  ks.push_back(2), kd.push_back(2);
  ks.push_back(3), kd.push_back(4);
  ks.push_back(3), kd.push_back(4);
  static std::vector<std::vector<std::int64_t>> keep;  // the views below must outlive from_coo
  keep = {bs, bd, bd, bs, ks, kd};
  auto view = [](std::vector<std::int64_t>& v) {
    return TensorView(v.data(), DType::kInt64, Device::cpu(), {std::int64_t(v.size())});
  };
  BuildOptions options;
  return HeteroGraph::from_coo(
      Context::cpu(1), {{"user", 8}, {"item", 6}},
      {RelationInput{{"user", "buys", "item"}, view(keep[0]), view(keep[1]), {}, {}},
       RelationInput{{"item", "rev_buys", "user"}, view(keep[2]), view(keep[3]), {}, {}},
       RelationInput{{"user", "knows", "user"}, view(keep[4]), view(keep[5]), {}, {}}},
      options);
}

template <typename T>
Tensor random_features(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  const auto v = gnnkit::test::random_matrix<double>(rows, cols, seed);
  Tensor t = Tensor::empty({rows, cols}, dtype_of<T>);
  for (std::int64_t i = 0; i < rows * cols; ++i) t.data_as<T>()[i] = T(v[std::size_t(i)]);
  return t;
}

}  // namespace

TEST_CASE("GnnModel gradients match finite differences on a heterogeneous graph",
          "[nn][model][grad]") {
  const HeteroGraph graph = tiny_hetero(1);
  const Context ctx = Context::cpu(2);
  for (ConvKind kind : {ConvKind::kSage, ConvKind::kGat})
    for (int variant = 0; variant < 4; ++variant) {  // sum, mean, max; sum with projections
      const Reduce combine = variant == 1 ? Reduce::kMean : variant == 2 ? Reduce::kMax : Reduce::kSum;
      GnnModelOptions o;
      o.input_projection = variant == 3;
      o.conv = kind;
      o.num_layers = 2;
      o.hidden = 4;
      o.out = 3;
      o.heads = 2;
      o.hetero_aggr = combine;
      o.dropout = 0.3;
      o.input_dropout = 0.2;
      o.attention_dropout = 0.2;
      GnnModel model(ModelSpec::from_graph(graph, {3, 5}, 0), o, 4, DType::kFloat64);
      // Distinct non-zero biases: with zero biases, rows without messages tie exactly under
      // max combination, where the function has no derivative.
      std::mt19937_64 rng(17);
      for (const auto& p : model.parameters())
        if (p->name.find("bias") != std::string::npos)
          for (std::int64_t i = 0; i < p->numel(); ++i)
            p->value.data_as<double>()[i] = double(rng() % 1000) / 1000.0 - 0.5;
      const auto layers = full_graph_layers(graph, 2, 2);
      std::vector<Tensor> x = {random_features<double>(8, 3, 1), random_features<double>(6, 5, 2)};
      const ForwardMode mode{true, 99, false};
      GnnModel::Cache cache;
      const Tensor y = model.forward(ctx, layers, x, mode, &cache);
      REQUIRE(y.size(0) == 8);
      REQUIRE(y.size(1) == 3);
      const auto r = gnnkit::test::random_matrix<double>(8, 3, 5);
      Tensor rt = random_features<double>(8, 3, 5);
      model.parameters().zero_grad();
      const std::vector<Tensor> gx = model.backward(ctx, layers, cache, rt);
      auto loss = [&] {
        const Tensor out = model.forward(ctx, layers, x, mode, nullptr);
        double s = 0;
        for (std::int64_t i = 0; i < out.numel(); ++i) s += out.data_as<double>()[i] * r[std::size_t(i)];
        return s;
      };
      INFO("kind " << int(kind) << " variant " << variant);
      for (int t = 0; t < 2; ++t)
        gnnkit::test::check_gradient(loss, x[std::size_t(t)].data_as<double>(), x[std::size_t(t)].numel(),
                                     gx[std::size_t(t)].data_as<double>(), t ? "x[item]" : "x[user]");
      for (const auto& p : model.parameters())
        gnnkit::test::check_gradient(loss, p->value.data_as<double>(), p->numel(),
                                     p->grad.data_as<double>(), p->name.c_str());
    }
}

TEST_CASE("A mini-batch with full fan-out gives the full-graph output at its seeds",
          "[nn][model][sampling]") {
  const HeteroGraph graph = tiny_hetero(2);
  const Context ctx = Context::cpu(2);
  const std::vector<Tensor> x = {random_features<float>(8, 3, 3), random_features<float>(6, 5, 4)};
  for (ConvKind kind : {ConvKind::kSage, ConvKind::kGat}) {
    GnnModelOptions o;
    o.conv = kind;
    o.num_layers = 2;
    o.hidden = 8;
    o.out = 2;
    o.heads = 2;
    GnnModel model(ModelSpec::from_graph(graph, {3, 5}, 0), o, 6);
    const Tensor full = model.forward(ctx, full_graph_layers(graph, 2, 2), x, {}, nullptr);
    SamplingOptions so;
    so.fanouts = {-1, -1};
    NeighborSampler sampler(graph, so);
    std::vector<std::int64_t> seeds = {5, 0, 3};
    const MiniBatch mb = sampler.sample(
        ctx, "user", TensorView(seeds.data(), DType::kInt64, Device::cpu(), {3}));
    // Gather the batch's input features per node type.
    std::vector<Tensor> xb;
    for (int t = 0; t < 2; ++t) {
      const auto& nodes = mb.nodes[std::size_t(t)];
      const std::int64_t cols = x[std::size_t(t)].size(1);
      Tensor b = Tensor::empty({std::int64_t(nodes.size()), cols}, DType::kFloat32);
      for (std::size_t i = 0; i < nodes.size(); ++i)
        for (std::int64_t c = 0; c < cols; ++c)
          b.data_as<float>()[std::int64_t(i) * cols + c] = x[std::size_t(t)].data_as<float>()[nodes[i] * cols + c];
      xb.push_back(b);
    }
    const Tensor out = model.forward(ctx, layer_graphs(mb, 2, 2), xb, {}, nullptr);
    REQUIRE(out.size(0) == 3);
    for (std::size_t s = 0; s < seeds.size(); ++s) {
      const std::int64_t row = mb.seed_local[s];
      for (std::int64_t c = 0; c < 2; ++c) {
        INFO("kind " << int(kind) << " seed " << seeds[s] << " column " << c);
        CHECK(out.data_as<float>()[row * 2 + c] ==
              Approx(full.data_as<float>()[seeds[s] * 2 + c]).margin(1e-5));
      }
    }
  }
}

TEST_CASE("GnnModel rejects inconsistent inputs", "[nn][model][errors]") {
  const HeteroGraph graph = tiny_hetero(3);
  const Context ctx = Context::cpu(1);
  GnnModelOptions o;
  o.hidden = 4;
  GnnModel model(ModelSpec::from_graph(graph, {3, 5}, 0), o, 1);
  const auto layers = full_graph_layers(graph, 2, 1);
  CHECK_THROWS_WITH(model.forward(ctx, layers, {random_features<float>(8, 3, 1)}, {}, nullptr),
                    Catch::Contains("features for 2 node types"));
  CHECK_THROWS_WITH(model.forward(ctx, layers, {random_features<float>(8, 4, 1), random_features<float>(6, 5, 1)}, {}, nullptr),
                    Catch::Contains("conv0.r") && Catch::Contains("'x_src' must have 3 columns"));
  CHECK_THROWS_WITH(model.forward(ctx, {layers[0]}, {random_features<float>(8, 3, 1), random_features<float>(6, 5, 1)}, {}, nullptr),
                    Catch::Contains("one LayerGraph per layer"));
  // Rows that are not the graph's nodes: a shape error naming x[t], not a slice error.
  CHECK_THROWS_AS(model.forward(ctx, layers, {random_features<float>(7, 3, 1), random_features<float>(6, 5, 1)}, {}, nullptr),
                  ShapeMismatch);
  CHECK_THROWS_WITH(model.forward(ctx, layers, {random_features<float>(7, 3, 1), random_features<float>(6, 5, 1)}, {}, nullptr),
                    Catch::Contains("x[0] (node type 0) must have 8 rows"));
  // A graph of another schema (one node type, one relation): an error, not numbers.
  std::vector<std::int64_t> hs{0, 1, 2}, hd{1, 2, 0};
  const HeteroGraph homo = HeteroGraph::from_coo(Context::cpu(1), 3, test::view_of(hs), test::view_of(hd));
  CHECK_THROWS_WITH(model.forward(ctx, full_graph_layers(homo, 2, 1), {random_features<float>(3, 3, 1), random_features<float>(6, 5, 1)}, {}, nullptr),
                    Catch::Contains("layer 0's graph has 1 node types, the model was built for 2"));
  // Only user -> item: items are sources nowhere, users receive nothing, so layer 2 has no
  // user features.
  ModelSpec one_way{{3, 5}, {{0, 0, 1}}, 1};
  CHECK_THROWS_WITH(GnnModel(one_way, o, 1), Catch::Contains("add reverse relations"));
  for (double bad : {-0.1, 1.0}) {
    GnnModelOptions d = o;
    d.dropout = bad;
    CHECK_THROWS_WITH(GnnModel(ModelSpec::from_graph(graph, {3, 5}, 0), d, 1),
                      Catch::Contains("'dropout' must be in [0, 1)"));
    d = o;
    d.input_dropout = bad;
    CHECK_THROWS_WITH(GnnModel(ModelSpec::from_graph(graph, {3, 5}, 0), d, 1),
                      Catch::Contains("'input_dropout' must be in [0, 1)"));
  }
}
