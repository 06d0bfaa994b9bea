// The device sampler's algorithm, run by its CPU build (the CUDA build runs the same code;
// tests/cpp/cuda/test_cuda_sampler.cpp compares the two on a GPU): the MiniBatch invariants,
// exact output on a tiny graph, uniformity of the draws, determinism, and bad input.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>

#include "gnnkit/nn/model.hpp"
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
