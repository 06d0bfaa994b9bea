// The device sampler's algorithm, run by its CPU build (the CUDA build runs the same code;
// tests/cpp/cuda/test_cuda_sampler.cpp compares the two on a GPU): the MiniBatch invariants,
// exact output on a tiny graph, uniformity of the draws, determinism, bad input, and a
// training step read straight from the sampled batch (the GPU's path without host copies).
#include <catch2/catch.hpp>

#include <limits>
#include <map>
#include <random>
#include <set>

#include "gnnkit/nn/model.hpp"
#include "gnnkit/sampling/neighbor.hpp"
#include "gnnkit/train/loss.hpp"
#include "gnnkit/sampling/device_sampler.hpp"
#include "support/tiny_batch.hpp"
#include "support/views.hpp"

using namespace gnnkit;
using test::view_of;

namespace {

struct RandomGraph {
  std::vector<std::int64_t> src, dst;
  HeteroGraph graph;
};

/// n nodes; node 0 without in-edges, node 1 with 400 (more than any fan-out), the others 0-12.
RandomGraph random_graph(std::int64_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  RandomGraph g;
  for (std::int64_t v = 1; v < n; ++v) {
    const int deg = v == 1 ? 400 : int(rng() % 13);
    for (int k = 0; k < deg; ++k) {
      g.src.push_back(std::int64_t(rng() % std::uint32_t(n)));
      g.dst.push_back(v);
    }
  }
  g.graph = HeteroGraph::from_coo(Context::cpu(2), n, view_of(g.src), view_of(g.dst));
  return g;
}

/// Every invariant of the MiniBatch layout (sampling/mini_batch.hpp) for uniform sampling
/// without replacement, checked against the graph's CSC.
void check_invariants(const HeteroGraph& graph, const std::vector<std::int64_t>& fanouts,
                      const std::vector<std::int64_t>& seeds, const MiniBatch& mb) {
  std::int64_t violations = 0;
#define EXPECT(cond) violations += (cond) ? 0 : 1
  const auto csc = graph.relation(0).csc<std::int32_t>();
  const std::vector<std::int64_t>& nodes = mb.nodes[0];
  const SampledRelation& r = mb.relations[0];
  // Seeds first, deduplicated in order of first occurrence; seed_local points at them.
  std::vector<std::int64_t> unique;
  for (const std::int64_t s : seeds)
    if (std::find(unique.begin(), unique.end(), s) == unique.end()) unique.push_back(s);
  REQUIRE(nodes.size() >= unique.size());
  EXPECT(std::equal(unique.begin(), unique.end(), nodes.begin()));
  REQUIRE(mb.seed_local.size() == seeds.size());
  for (std::size_t i = 0; i < seeds.size(); ++i) EXPECT(nodes[std::size_t(mb.seed_local[i])] == seeds[i]);
  EXPECT(std::set<std::int64_t>(nodes.begin(), nodes.end()).size() == nodes.size());  // unique
  // Blocks: hop h expands the nodes first reached at hop h - 1.
  REQUIRE(mb.blocks.size() == fanouts.size());
  std::int64_t begin = 0, end = std::int64_t(unique.size()), edges = 0;
  for (std::size_t h = 0; h < fanouts.size(); ++h) {
    const Block& b = mb.blocks[h];
    EXPECT(b.dst_begin[0] == begin && b.dst_end[0] == end);
    for (std::int64_t v = begin; v < end; ++v) {
      const std::int64_t g = nodes[std::size_t(v)], deg = csc.indptr[g + 1] - csc.indptr[g];
      const std::int64_t k = r.indptr[std::size_t(v) + 1] - r.indptr[std::size_t(v)];
      EXPECT(k == (fanouts[h] < 0 ? deg : std::min(fanouts[h], deg)));
      std::set<std::int64_t> seen;
      for (std::int64_t p = r.indptr[std::size_t(v)]; p < r.indptr[std::size_t(v) + 1]; ++p) {
        const std::int64_t e = r.edge_ids[std::size_t(p)];
        EXPECT(e >= csc.indptr[g] && e < csc.indptr[g + 1]);  // an in-edge of g
        EXPECT(seen.insert(e).second);                         // drawn without replacement
        EXPECT(nodes[std::size_t(r.indices[std::size_t(p)])] == std::int64_t(csc.indices[e]));
      }
      edges += k;
    }
    EXPECT(b.num_src[0] >= end);
    begin = end;
    end = b.num_src[0];
  }
  EXPECT(r.indptr.front() == 0 && r.indptr.back() == edges && std::int64_t(r.indices.size()) == edges);
  EXPECT(std::int64_t(r.indptr.size()) == begin + 1);
  EXPECT(std::int64_t(nodes.size()) == end);
  // New nodes are numbered in the order of their first sampled edge.
  std::set<std::int64_t> reached(nodes.begin(), nodes.begin() + std::int64_t(unique.size()));
  std::int64_t next = std::int64_t(unique.size());
  for (const std::int32_t local : r.indices) {
    if (reached.insert(nodes[std::size_t(local)]).second) {
      EXPECT(local == next);
      ++next;
    }
  }
  CHECK(violations == 0);
#undef EXPECT
}

bool same(const MiniBatch& a, const MiniBatch& b) {
  return a.nodes == b.nodes && a.seed_local == b.seed_local && a.relations[0].indptr == b.relations[0].indptr &&
         a.relations[0].indices == b.relations[0].indices && a.relations[0].edge_ids == b.relations[0].edge_ids;
}

}  // namespace

TEST_CASE("device sampler: fan-out -1 on a tiny graph gives the exact batch") {
  // The CPU sampler's tiny test (support/tiny_batch.hpp), same expected batch.
  const auto g = HeteroGraph::from_coo(Context::cpu(1), 4, view_of(test::kTinySrc), view_of(test::kTinyDst));
  const Context cpu = Context::cpu(1);
  const DeviceSampler s(DeviceGraph::upload(cpu, g), {-1, -1});
  const std::vector<std::int64_t> seeds{0};
  const MiniBatch mb = s.sample(cpu, view_of(seeds), 0).to_host(cpu);
  test::check_tiny_full_fanout_batch(mb);
  CHECK(mb.blocks[1].num_src[0] == 4);
  CHECK(mb.edge_id_kind == EdgeIdKind::kCscPosition);
}

TEST_CASE("device sampler: invariants over many batches, and determinism") {
  const RandomGraph rg = random_graph(3000, 5);
  for (const std::vector<std::int64_t>& fanouts :
       {std::vector<std::int64_t>{10, 5}, std::vector<std::int64_t>{15, 10, 5}, std::vector<std::int64_t>{-1, 3}}) {
    CAPTURE(fanouts);
    const Context two = Context::cpu(2, 11), one = Context::cpu(1, 11);
    const DeviceSampler s(DeviceGraph::upload(two, rg.graph), fanouts);
    std::mt19937 rng(1);
    for (std::uint64_t batch = 0; batch < 20; ++batch) {
      std::vector<std::int64_t> seeds(64);
      for (auto& v : seeds) v = std::int64_t(rng() % 3000);
      seeds[3] = seeds[1];  // a duplicate seed
      seeds[5] = 1;         // the 400-edge node
      seeds[6] = 0;         // no in-edges
      const MiniBatch mb = s.sample(two, view_of(seeds), batch).to_host(two);
      check_invariants(rg.graph, fanouts, seeds, mb);
      if (batch < 3) {
        CHECK(same(mb, s.sample(one, view_of(seeds), batch).to_host(one)));   // any thread count
        CHECK(same(mb, s.sample(two, view_of(seeds), batch).to_host(two)));   // any run
        CHECK_FALSE(same(mb, s.sample(two, view_of(seeds), batch + 100).to_host(two)));  // batches differ
      }
      // The layout feeds the model runner unchanged.
      if (batch == 0 && fanouts.size() == 2) {
        nn::GnnModel model(nn::ModelSpec::homogeneous(4), {}, 1);
        const auto layers = nn::layer_graphs(mb, 2, 1);
        const Tensor x = Tensor::zeros({mb.num_nodes(0), 4}, DType::kFloat32);
        CHECK(model.forward(two, layers, {x}, {}, nullptr).size(0) == mb.blocks[0].dst_end[0]);
      }
    }
  }
}

TEST_CASE("device sampler: every k-subset of a neighbour list is equally likely") {
  // Node 1 has 400 in-edges; with fan-out 3 each position has probability 3/400 per batch. Over
  // 4000 batches: 30 expected draws per position; chi-square with 399 degrees of freedom, whose
  // 99.9th percentile is about 489.
  const RandomGraph rg = random_graph(500, 9);
  const Context cpu = Context::cpu(2, 3);
  const DeviceSampler s(DeviceGraph::upload(cpu, rg.graph), {3});
  const std::vector<std::int64_t> seeds{1};
  const std::int64_t e0 = rg.graph.relation(0).csc<std::int32_t>().indptr[1];
  std::vector<int> hits(400, 0);
  const int batches = 4000;
  for (int b = 0; b < batches; ++b) {
    const MiniBatch mb = s.sample(cpu, view_of(seeds), std::uint64_t(b)).to_host(cpu);
    for (const std::int64_t e : mb.relations[0].edge_ids) ++hits[std::size_t(e - e0)];
  }
  const double expected = 3.0 * batches / 400;
  double chi2 = 0;
  for (const int h : hits) chi2 += (h - expected) * (h - expected) / expected;
  CHECK(chi2 < 489);
}

TEST_CASE("device sampler: bad input names what is wrong") {
  const RandomGraph rg = random_graph(100, 2);
  const Context cpu = Context::cpu(1);
  const DeviceGraph g = DeviceGraph::upload(cpu, rg.graph);
  CHECK_THROWS_WITH(DeviceSampler(g, {}), Catch::Contains("'fanouts' must name at least one hop"));
  CHECK_THROWS_WITH(DeviceSampler(g, {5, 0}), Catch::Contains("'fanouts[1]' must be positive or -1, got 0") ||
                                                   Catch::Contains("'fanouts[1]' must be positive or -1 (every neighbour), got 0"));
  const DeviceSampler s(g, {5});
  const std::vector<std::int64_t> bad{3, 100};
  CHECK_THROWS_MATCHES(s.sample(cpu, view_of(bad), 0), OutOfRange,
                       Catch::Matchers::Message("DeviceSampler::sample: 'seeds[1]' = 100 must be in [0, 100)"));
  const std::vector<std::int32_t> wrong_type{1};
  CHECK_THROWS_AS(s.sample(cpu, view_of(wrong_type), 0), InvalidArgument);
  const std::vector<std::int64_t> none;
  const MiniBatch empty = s.sample(cpu, view_of(none), 0).to_host(cpu);  // an empty batch is fine
  CHECK(empty.nodes[0].empty());
  CHECK(empty.relations[0].indptr == std::vector<std::int64_t>{0});
}

TEST_CASE("device sampler: a training step read straight from the batch equals the MiniBatch path") {
  // Path A is what a GPU training loop runs (layer_graphs of the DeviceMiniBatch, features and
  // labels gathered by select_rows at the batch's ids, the tensor-label loss); path B rebuilds
  // the same step from to_host() with plain loops. Same numbers, so the layer views, the edge
  // prefixes per layer and the gathers agree.
  const RandomGraph rg = random_graph(3000, 7);
  const Context ctx = Context::cpu(2, 5);
  const std::int64_t F = 6, classes = 3;
  std::mt19937 rng(4);
  Tensor features = Tensor::empty({3000, F}, DType::kFloat32);
  Tensor labels = Tensor::empty({3000}, DType::kInt64);
  for (std::int64_t i = 0; i < features.numel(); ++i) features.data_as<float>()[i] = float(rng() % 1000) / 500.f - 1.f;
  for (std::int64_t i = 0; i < 3000; ++i) labels.data_as<std::int64_t>()[i] = i % 11 == 0 ? -1 : std::int64_t(rng() % classes);
  const DeviceSampler sampler(DeviceGraph::upload(ctx, rg.graph), {10, 5});
  std::vector<std::int64_t> seeds(96);
  for (auto& v : seeds) v = std::int64_t(rng() % 3000);
  seeds[7] = seeds[2];  // a duplicate: the output has one row per distinct seed
  const DeviceMiniBatch dmb = sampler.sample(ctx, view_of(seeds), 3);
  const MiniBatch mb = dmb.to_host(ctx);
  const std::int64_t rows = mb.blocks[0].dst_end[0];
  REQUIRE(dmb.output_nodes().numel() == rows);
  CHECK(std::equal(mb.nodes[0].begin(), mb.nodes[0].begin() + rows, dmb.output_nodes().data_as<std::int64_t>()));

  for (const nn::ConvKind conv : {nn::ConvKind::kSage, nn::ConvKind::kGat}) {
    CAPTURE(int(conv));
    nn::GnnModelOptions o;
    o.conv = conv;
    o.hidden = 8;
    o.heads = 2;
    o.out = classes;
    o.dropout = 0.3;
    nn::GnnModel a(nn::ModelSpec::homogeneous(F), o, 3), b(nn::ModelSpec::homogeneous(F), o, 3);
    const nn::ForwardMode mode{true, 17, false};
    // Path A.
    const auto layers_a = nn::layer_graphs(dmb, 2, ctx.num_threads());
    const Tensor x_a = nn::select_rows(ctx, features, dmb.nodes[0]);
    nn::GnnModel::Cache cache_a;
    const Tensor logits_a = a.forward(ctx, layers_a, {x_a}, mode, &cache_a);
    Tensor grad_a = Tensor::empty({rows, classes}, DType::kFloat32);
    const double loss_a = cross_entropy(ctx, logits_a, nn::select_rows(ctx, labels, dmb.output_nodes()), grad_a);
    a.backward(ctx, layers_a, cache_a, grad_a);
    // Path B.
    const auto layers_b = nn::layer_graphs(mb, 2, ctx.num_threads());
    Tensor x_b = Tensor::empty({mb.num_nodes(0), F}, DType::kFloat32);
    for (std::int64_t i = 0; i < mb.num_nodes(0); ++i)
      for (std::int64_t j = 0; j < F; ++j)
        x_b.data_as<float>()[i * F + j] = features.data_as<float>()[mb.nodes[0][std::size_t(i)] * F + j];
    std::vector<std::int64_t> y_b;
    for (std::int64_t i = 0; i < rows; ++i) y_b.push_back(labels.data_as<std::int64_t>()[mb.nodes[0][std::size_t(i)]]);
    nn::GnnModel::Cache cache_b;
    const Tensor logits_b = b.forward(ctx, layers_b, {x_b}, mode, &cache_b);
    Tensor grad_b = Tensor::empty({rows, classes}, DType::kFloat32);
    const double loss_b = cross_entropy(ctx, logits_b, y_b, grad_b);
    b.backward(ctx, layers_b, cache_b, grad_b);

    REQUIRE(logits_a.size(0) == rows);
    CHECK(std::equal(logits_a.data_as<float>(), logits_a.data_as<float>() + logits_a.numel(), logits_b.data_as<float>()));
    CHECK(loss_a == loss_b);
    for (std::size_t p = 0; p < a.parameters().size(); ++p) {
      INFO(a.parameters()[p]->name);
      const Tensor& ga = a.parameters()[p]->grad;
      CHECK(std::equal(ga.data_as<float>(), ga.data_as<float>() + ga.numel(), b.parameters()[p]->grad.data_as<float>()));
    }
  }
}

TEST_CASE("select_rows gathers features and labels and names an id out of range") {
  const Context ctx = Context::cpu(1);
  Tensor x = Tensor::empty({4, 3}, DType::kFloat32);
  for (std::int64_t i = 0; i < 12; ++i) x.data_as<float>()[i] = float(i);
  const std::vector<std::int64_t> ids{3, 0, 3};
  const Tensor rows = nn::select_rows(ctx, x, view_of(ids));
  REQUIRE(rows.size(0) == 3);
  for (std::int64_t j = 0; j < 3; ++j) {
    CHECK(rows.data_as<float>()[j] == float(9 + j));
    CHECK(rows.data_as<float>()[3 + j] == float(j));
  }
  const std::vector<std::int64_t> values{10, 20, 30, 40};
  const Tensor picked = nn::select_rows(ctx, view_of(values), view_of(ids));
  CHECK(std::vector<std::int64_t>(picked.data_as<std::int64_t>(), picked.data_as<std::int64_t>() + 3) ==
        std::vector<std::int64_t>{40, 10, 40});
  const std::vector<std::int64_t> bad{1, 4};
  CHECK_THROWS_MATCHES(nn::select_rows(ctx, x, view_of(bad)), OutOfRange,
                       Catch::Matchers::Message("select_rows: 'ids[1]' = 4 must be in [0, 4) (the rows of 'x')"));
  const std::vector<std::int32_t> narrow{1};
  CHECK_THROWS_AS(nn::select_rows(ctx, x, view_of(narrow)), InvalidArgument);
  // The tensor-label loss checks its labels like the span one.
  const std::vector<std::int64_t> labels{0, 5, 1};
  CHECK_THROWS_MATCHES(cross_entropy(ctx, rows, view_of(labels)), OutOfRange,
                       Catch::Matchers::Message("cross_entropy: 'labels[1]' must be -1 (ignored) or in [0, 3), got 5"));
}

namespace {

/// user (n_user) -owns-> card (n_card) -uses-> device (n_device), with their reverses: random
/// edges, some nodes without any.
struct HeteroCase {
  std::vector<std::int64_t> owns_src, owns_dst, uses_src, uses_dst;
  HeteroGraph graph;
};
HeteroCase hetero_graph(std::int64_t n_user, std::int64_t n_card, std::int64_t n_device, std::uint32_t seed) {
  std::mt19937 rng(seed);
  HeteroCase c;
  for (std::int64_t card = 0; card < n_card; ++card)
    for (int k = card % 9 == 0 ? 0 : int(rng() % 6); k > 0; --k) {
      c.owns_src.push_back(std::int64_t(rng() % std::uint32_t(n_user)));
      c.owns_dst.push_back(card);
    }
  for (std::int64_t dev = 0; dev < n_device; ++dev)
    for (int k = dev % 7 == 0 ? 0 : dev == 1 ? 300 : int(rng() % 20); k > 0; --k) {
      c.uses_src.push_back(std::int64_t(rng() % std::uint32_t(n_card)));
      c.uses_dst.push_back(dev);
    }
  BuildOptions bo;
  bo.add_reverse = true;
  c.graph = HeteroGraph::from_coo(
      Context::cpu(2), {{"user", n_user}, {"card", n_card}, {"device", n_device}},
      {RelationInput{{"user", "owns", "card"}, view_of(c.owns_src), view_of(c.owns_dst)},
       RelationInput{{"card", "uses", "device"}, view_of(c.uses_src), view_of(c.uses_dst)}},
      bo);
  return c;
}

/// The MiniBatch invariants for any node types and per-relation fan-outs (uniform without
/// replacement): seeds first, each type's nodes distinct and in range, per hop and relation
/// min(fan-out, degree) distinct in-edges of the destination, sources numbered where the
/// graph's CSC says, rows of a type's frontier only, and new nodes in order of first edge.
/// Returns the rows a zero fan-out skipped (so a test can require that it skipped some).
std::int64_t check_hetero_invariants(const HeteroGraph& g, const std::vector<std::vector<std::int64_t>>& fanouts,
                                     int seed_type, const std::vector<std::int64_t>& seeds, const MiniBatch& mb) {
  std::int64_t skipped_rows = 0;
  std::int64_t violations = 0;
#define EXPECT(cond) violations += (cond) ? 0 : 1
  const Schema& schema = g.schema();
  const std::size_t types = std::size_t(schema.num_node_types());
  REQUIRE(mb.nodes.size() == types);
  REQUIRE(mb.seed_type == seed_type);
  std::vector<std::int64_t> unique;
  for (const std::int64_t s : seeds)
    if (std::find(unique.begin(), unique.end(), s) == unique.end()) unique.push_back(s);
  const std::vector<std::int64_t>& seed_nodes = mb.nodes[std::size_t(seed_type)];
  REQUIRE(seed_nodes.size() >= unique.size());
  EXPECT(std::equal(unique.begin(), unique.end(), seed_nodes.begin()));
  for (std::size_t i = 0; i < seeds.size(); ++i) EXPECT(seed_nodes[std::size_t(mb.seed_local[i])] == seeds[i]);
  for (std::size_t t = 0; t < types; ++t) {
    const auto& n = mb.nodes[t];
    EXPECT(std::set<std::int64_t>(n.begin(), n.end()).size() == n.size());
    for (const std::int64_t id : n) EXPECT(id >= 0 && id < schema.num_nodes(int(t)));
  }
  // Replay the hops: frontiers per type, and the order new nodes must have been numbered in.
  std::vector<std::int64_t> begin(types, 0), end(types, 0), next(types, 0);
  end[std::size_t(seed_type)] = next[std::size_t(seed_type)] = std::int64_t(unique.size());
  std::vector<std::int64_t> row_of(g.num_relations(), 0), edge_of(g.num_relations(), 0);
  std::vector<std::set<std::int64_t>> reached(types);
  reached[std::size_t(seed_type)].insert(unique.begin(), unique.end());
  REQUIRE(mb.blocks.size() == fanouts.front().size());
  for (std::size_t h = 0; h < mb.blocks.size(); ++h) {
    const Block& b = mb.blocks[h];
    EXPECT(b.dst_begin == begin && b.dst_end == end);
    std::int64_t hop_edges = 0;
    for (int r = 0; r < g.num_relations(); ++r) {
      const SampledRelation& sr = mb.relations[std::size_t(r)];
      const auto csc = g.relation(r).csc<std::int32_t>();
      const std::size_t d = std::size_t(sr.dst_type), st = std::size_t(sr.src_type);
      const std::int64_t f = fanouts[std::size_t(r)][h];
      EXPECT(row_of[std::size_t(r)] == begin[d]);  // this relation's rows go on in hop order
      for (std::int64_t v = begin[d]; v < end[d]; ++v) {
        const std::int64_t gv = mb.nodes[d][std::size_t(v)], deg = csc.indptr[gv + 1] - csc.indptr[gv];
        const std::int64_t k = sr.indptr[std::size_t(v) + 1] - sr.indptr[std::size_t(v)];
        EXPECT(k == (f < 0 ? deg : std::min(f, deg)));
        skipped_rows += f == 0 && deg > 0;
        std::set<std::int64_t> seen;
        for (std::int64_t p = sr.indptr[std::size_t(v)]; p < sr.indptr[std::size_t(v) + 1]; ++p) {
          const std::int64_t e = sr.edge_ids[std::size_t(p)];
          EXPECT(e >= csc.indptr[gv] && e < csc.indptr[gv + 1]);
          EXPECT(seen.insert(e).second);
          const std::int32_t local = sr.indices[std::size_t(p)];
          EXPECT(mb.nodes[st][std::size_t(local)] == std::int64_t(csc.indices[e]));
          if (reached[st].insert(std::int64_t(csc.indices[e])).second) {
            EXPECT(local == next[st]);
            ++next[st];
          }
        }
        hop_edges += k;
      }
      row_of[std::size_t(r)] = end[d];
    }
    EXPECT(b.num_edges == hop_edges);
    EXPECT(b.num_src == next);
    begin = end;
    end = next;
  }
  for (std::size_t t = 0; t < types; ++t) EXPECT(std::int64_t(mb.nodes[t].size()) == next[t]);
  for (int r = 0; r < g.num_relations(); ++r) {
    const SampledRelation& sr = mb.relations[std::size_t(r)];
    EXPECT(std::int64_t(sr.indptr.size()) == row_of[std::size_t(r)] + 1 && sr.indptr.back() == sr.num_edges());
  }
  CHECK(violations == 0);
#undef EXPECT
  return skipped_rows;
}

}  // namespace

TEST_CASE("device sampler: heterogeneous graphs with per-relation fan-outs") {
  const HeteroCase c = hetero_graph(400, 300, 200, 3);
  const HeteroGraph& g = c.graph;  // relations: owns, uses, rev_owns, rev_uses
  REQUIRE(g.num_relations() == 4);
  const int device_type = g.schema().node_type_id("device");
  const Context two = Context::cpu(2, 8), one = Context::cpu(1, 8);
  const DeviceGraph dg = DeviceGraph::upload(two, g);
  REQUIRE(dg.num_nodes == std::vector<std::int64_t>{400, 300, 200});

  SECTION("every neighbour (and skipped relations): the CPU NeighborSampler's batch exactly") {
    // Every seed type; each relation skipped at one hop (fan-out 0) in one pattern.
    std::int64_t skipped = 0;
    for (const std::vector<std::vector<std::int64_t>>& fanouts :
         {std::vector<std::vector<std::int64_t>>{{-1, -1, -1}, {-1, -1, -1}, {-1, -1, -1}, {-1, -1, -1}},
          std::vector<std::vector<std::int64_t>>{{0, -1, -1}, {-1, 0, -1}, {-1, -1, 0}, {-1, -1, -1}},
          std::vector<std::vector<std::int64_t>>{{-1, -1, 0}, {0, -1, -1}, {-1, 0, -1}, {0, -1, -1}}})
      for (const std::string type : {"user", "card", "device"}) {
        CAPTURE(fanouts, type);
        const DeviceSampler s = DeviceSampler::per_relation(dg, fanouts);
        SamplingOptions o;
        o.relation_fanouts = {{"owns", fanouts[0]}, {"uses", fanouts[1]}, {"rev_owns", fanouts[2]},
                              {"rev_uses", fanouts[3]}};
        o.edge_ids = EdgeIdKind::kCscPosition;
        const NeighborSampler reference(g, o);
        const std::vector<std::int64_t> seeds{5, 1, 5, 44, 0, 199};
        const int t = g.schema().node_type_id(type);
        const MiniBatch a = s.sample(two, t, view_of(seeds), 0).to_host(two);
        const MiniBatch b = reference.sample(two, type, view_of(seeds));
        skipped += check_hetero_invariants(g, fanouts, t, seeds, a);
        CHECK(a.nodes == b.nodes);
        CHECK(a.seed_local == b.seed_local);
        for (std::size_t r = 0; r < 4; ++r) {
          CAPTURE(r);
          CHECK(a.relations[r].indptr == b.relations[r].indptr);
          CHECK(a.relations[r].indices == b.relations[r].indices);
          CHECK(a.relations[r].edge_ids == b.relations[r].edge_ids);
        }
        for (std::size_t h = 0; h < 3; ++h) CHECK(a.blocks[h].num_src == b.blocks[h].num_src);
      }
    CHECK(skipped > 100);  // the zero fan-outs met frontiers with neighbours
    // A huge fan-out means every neighbour too (the capacity bound must not overflow).
    const std::vector<std::int64_t> seeds{5, 1, 44};
    const auto huge = std::numeric_limits<std::int64_t>::max();
    const MiniBatch all = DeviceSampler(dg, {-1, -1}).sample(two, device_type, view_of(seeds), 0).to_host(two);
    const MiniBatch big = DeviceSampler(dg, {huge, huge}).sample(two, device_type, view_of(seeds), 0).to_host(two);
    CHECK(all.nodes == big.nodes);
    CHECK(all.relations[1].indices == big.relations[1].indices);
  }
  SECTION("random draws: invariants, determinism, and the model runner") {
    const std::vector<std::vector<std::int64_t>> fanouts{{3, 2}, {10, 4}, {2, 0}, {5, -1}};
    const DeviceSampler s = DeviceSampler::per_relation(dg, fanouts);
    std::mt19937 rng(2);
    for (std::uint64_t batch = 0; batch < 10; ++batch) {
      std::vector<std::int64_t> seeds(40);
      for (auto& v : seeds) v = std::int64_t(rng() % 200);
      seeds[3] = 1;  // the 300-edge device
      const MiniBatch mb = s.sample(two, device_type, view_of(seeds), batch).to_host(two);
      check_hetero_invariants(g, fanouts, device_type, seeds, mb);
      if (batch < 2) {
        const MiniBatch again = s.sample(one, device_type, view_of(seeds), batch).to_host(one);
        CHECK(mb.nodes == again.nodes);
        for (std::size_t r = 0; r < 4; ++r) CHECK(mb.relations[r].edge_ids == again.relations[r].edge_ids);
      }
    }
    // A two-layer heterogeneous model reads the device batch as it reads the MiniBatch.
    std::vector<std::int64_t> seeds{1, 2, 3, 4, 5};
    const DeviceMiniBatch dmb = s.sample(two, device_type, view_of(seeds), 99);
    const MiniBatch mb = dmb.to_host(two);
    nn::GnnModelOptions o;
    o.hidden = 8;
    o.out = 2;
    o.dropout = 0;
    nn::GnnModel model(nn::ModelSpec::from_graph(g, {3, 3, 3}, device_type), o, 1);
    std::vector<Tensor> x;
    for (std::size_t t = 0; t < 3; ++t) {
      Tensor xt = Tensor::empty({mb.num_nodes(int(t)), 3}, DType::kFloat32);
      for (std::int64_t i = 0; i < xt.numel(); ++i) xt.data_as<float>()[i] = float(i % 7) - 3.f;
      x.push_back(xt);
    }
    const Tensor ya = model.forward(two, nn::layer_graphs(dmb, 2, 2), x, {}, nullptr);
    const Tensor yb = model.forward(two, nn::layer_graphs(mb, 2, 2), x, {}, nullptr);
    REQUIRE(ya.size(0) == 5);
    CHECK(std::equal(ya.data_as<float>(), ya.data_as<float>() + ya.numel(), yb.data_as<float>()));
    CHECK(std::vector<std::int64_t>(dmb.output_nodes().data_as<std::int64_t>(),
                                    dmb.output_nodes().data_as<std::int64_t>() + 5) == seeds);
  }
  SECTION("bad per-relation fan-outs and seed types are named") {
    CHECK_THROWS_WITH(DeviceSampler::per_relation(dg, {{1}, {1}, {1}}),
                      Catch::Contains("'relation_fanouts' must have one list per relation (4), got 3"));
    CHECK_THROWS_WITH(DeviceSampler::per_relation(dg, {{1, 2}, {1}, {1, 1}, {1, 1}}),
                      Catch::Contains("'relation_fanouts[1]' has 1 hops, relation 0 2"));
    CHECK_THROWS_WITH(DeviceSampler::per_relation(dg, {{1}, {1}, {-2}, {1}}),
                      Catch::Contains("'relation_fanouts[2][0]' must be -1 (every neighbour), 0 (skip) or positive, got -2"));
    const DeviceSampler s(dg, {2});
    const std::vector<std::int64_t> seeds{250};
    CHECK_THROWS_MATCHES(s.sample(two, device_type, view_of(seeds), 0), OutOfRange,
                         Catch::Matchers::Message("DeviceSampler::sample: 'seeds[0]' = 250 must be in [0, 200)"));
    CHECK_THROWS_WITH(s.sample(two, 3, view_of(seeds), 0), Catch::Contains("'seed_type' must be a node type"));
  }
}
