#include <catch2/catch.hpp>

#include <limits>
#include <map>
#include <set>

#include "gnnkit/sampling/neighbor.hpp"
#include "support/views.hpp"
#include "support/reference_graph.hpp"
#include "support/tiny_batch.hpp"

using namespace gnnkit;
using test::view_of;

namespace {


struct Coo {
  std::vector<std::int64_t> src, dst, ts;
  std::vector<float> w;
};

/// Checks every structural invariant of a MiniBatch against the input edges of each relation.
void check_invariants(const HeteroGraph& g, const NeighborSampler& s, const MiniBatch& mb,
                      const std::vector<const Coo*>& inputs, bool replace) {
  // Counted, then asserted once: a Catch assertion per edge is slow under sanitizers.
  std::int64_t violations = 0;
#define EXPECT(cond) violations += (cond) ? 0 : 1
  const Schema& schema = g.schema();
  for (int t = 0; t < schema.num_node_types(); ++t)
    for (std::int64_t id : mb.nodes[std::size_t(t)]) EXPECT((id >= 0 && id < schema.num_nodes(t)));
  for (int r = 0; r < schema.num_relations(); ++r) {
    const SampledRelation& sr = mb.relations[std::size_t(r)];
    const Coo& in = *inputs[std::size_t(r)];
    EXPECT(sr.indptr.front() == 0);
    EXPECT(sr.indptr.back() == sr.num_edges());
    for (std::size_t v = 0; v + 1 < sr.indptr.size(); ++v) {
      std::set<std::int64_t> seen;
      for (std::int64_t p = sr.indptr[v]; p < sr.indptr[v + 1]; ++p) {
        const std::int64_t e = sr.edge_ids[std::size_t(p)];
        // The edge exists, from this src to this dst.
        EXPECT(in.src[std::size_t(e)] == mb.nodes[std::size_t(sr.src_type)][std::size_t(sr.indices[std::size_t(p)])]);
        EXPECT(in.dst[std::size_t(e)] == mb.nodes[std::size_t(sr.dst_type)][v]);
        if (!replace) EXPECT(seen.insert(e).second);  // no duplicates without replacement
        if (!mb.node_times.empty()) {
          EXPECT(in.ts[std::size_t(e)] <= mb.node_times[std::size_t(sr.dst_type)][v]);
          // Nodes reached through an edge inherit the time of the node they were reached from.
          EXPECT(mb.node_times[std::size_t(sr.src_type)][std::size_t(sr.indices[std::size_t(p)])] ==
                  mb.node_times[std::size_t(sr.dst_type)][v]);
        }
      }
    }
    // Fan-out bounds per hop.
    for (int h = 0; h < s.num_hops(); ++h) {
      const Block& b = mb.blocks[std::size_t(h)];
      const std::int64_t f = s.fanout(r, h);
      for (std::int64_t v = b.dst_begin[std::size_t(sr.dst_type)]; v < b.dst_end[std::size_t(sr.dst_type)]; ++v) {
        const std::int64_t k = sr.indptr[std::size_t(v) + 1] - sr.indptr[std::size_t(v)];
        if (f >= 0) EXPECT(k <= f);
        if (!replace) EXPECT(k <= g.relation(r).in_degree(mb.nodes[std::size_t(sr.dst_type)][std::size_t(v)]));
      }
    }
  }
  CHECK(violations == 0);
#undef EXPECT
}

bool same(const MiniBatch& a, const MiniBatch& b) {
  if (a.nodes != b.nodes || a.node_times != b.node_times || a.node_seed != b.node_seed ||
      a.seed_local != b.seed_local || a.relations.size() != b.relations.size())
    return false;
  for (std::size_t r = 0; r < a.relations.size(); ++r)
    if (a.relations[r].indptr != b.relations[r].indptr || a.relations[r].indices != b.relations[r].indices ||
        a.relations[r].edge_ids != b.relations[r].edge_ids)
      return false;
  return true;
}

}  // namespace

TEST_CASE("fan-out -1 on a tiny graph: exact nodes, CSC and blocks") {
  const auto g = HeteroGraph::from_coo(Context::cpu(1), 4, view_of(test::kTinySrc), view_of(test::kTinyDst));
  SamplingOptions opt;
  opt.fanouts = {-1, -1};
  const NeighborSampler s(g, opt);
  const std::vector<std::int64_t> seeds{0};
  test::check_tiny_full_fanout_batch(s.sample(Context::cpu(1), "node", view_of(seeds)));
}

TEST_CASE("invariants on random graphs for every mode, identical for 1, 2, 3 threads") {
  const auto rc = test::random_coo(2000, 2000, 40000, 21);
  Coo c{rc.src, rc.dst, rc.ts, rc.w};
  for (float& w : c.w) w = w * 0.5f + (w > 3 ? 1.f : 0.f);  // some zero weights
  BuildOptions bo;
  bo.sort_by_time = true;
  const auto g = HeteroGraph::from_coo(Context::cpu(2), 2000, view_of(c.src), view_of(c.dst), bo,
                                       view_of(c.ts), view_of(c.w));
  std::vector<std::int64_t> seeds, times;
  for (int i = 0; i < 300; ++i) {
    seeds.push_back((i * 7919) % 2000);
    times.push_back(i * 3);
  }
  seeds.push_back(seeds[0]);  // a repeated seed
  times.push_back(500);
  for (int mode = 0; mode < 7; ++mode) {
    SamplingOptions opt;
    opt.fanouts = {10, 5, 3};
    opt.replace = mode == 1 || mode == 3;
    opt.weighted = mode == 2 || mode == 3;
    opt.disjoint = mode >= 4;
    if (mode == 5) opt.temporal = TemporalStrategy::kUniform;
    if (mode == 6) opt.temporal = TemporalStrategy::kMostRecent;
    if (mode == 4) opt.fanouts = {-1, 4};
    CAPTURE(mode);
    const NeighborSampler s(g, opt);
    std::optional<TensorView> t;
    if (opt.temporal != TemporalStrategy::kNone) t = view_of(times);
    const MiniBatch first = s.sample(Context::cpu(1, 5), "node", view_of(seeds), t, 3);
    check_invariants(g, s, first, {&c}, opt.replace);
    CHECK(first.num_edges() > 0);
    // Later hops span many chunks, drawn by several threads while one relabels: repeated
    // runs catch an order that depends on the schedule.
    for (int threads : {2, 3, 4})
      for (int run = 0; run < 4; ++run) CHECK(same(first, s.sample(Context::cpu(threads, 5), "node", view_of(seeds), t, 3)));
    // CSC positions instead of input edge ids: the same edges, mapped by the graph's edge ids.
    SamplingOptions csc_opt = opt;
    csc_opt.edge_ids = EdgeIdKind::kCscPosition;
    const MiniBatch pos = NeighborSampler(g, csc_opt).sample(Context::cpu(2, 5), "node", view_of(seeds), t, 3);
    CHECK(pos.edge_id_kind == EdgeIdKind::kCscPosition);
    CHECK(first.edge_id_kind == EdgeIdKind::kInput);
    CHECK(pos.nodes == first.nodes);
    CHECK(pos.relations[0].indices == first.relations[0].indices);
    std::vector<std::int64_t> mapped;
    const auto graph_eids = g.relation(0).edge_ids.as<std::int64_t>();
    for (std::int64_t p : pos.relations[0].edge_ids) mapped.push_back(graph_eids[std::size_t(p)]);
    CHECK(mapped == first.relations[0].edge_ids);
    if (opt.temporal != TemporalStrategy::kMostRecent)  // most-recent draws nothing at random
      CHECK_FALSE(same(first, s.sample(Context::cpu(1, 5), "node", view_of(seeds), t, 4)));
    if (opt.disjoint) {
      // Every seed has its own subtree, so repeated seeds are separate nodes.
      CHECK(first.nodes[0].size() >= seeds.size());
      CHECK(first.seed_local.back() == std::int32_t(seeds.size() - 1));
    } else {
      CHECK(first.seed_local.back() == first.seed_local.front());
    }
  }
}

TEST_CASE("64-bit and 32-bit index graphs sample the same edges in every mode") {
  // Alias draws of int32 relations take source ids from the alias entries, int64 relations
  // read csc_indices: both must give the same MiniBatch.
  const auto rc = test::random_coo(1500, 1500, 30000, 31);
  Coo c{rc.src, rc.dst, rc.ts, rc.w};
  for (float& w : c.w) w = w * 0.5f + (w > 3 ? 1.f : 0.f);  // some zero weights
  std::vector<std::int64_t> seeds, times;
  for (int i = 0; i < 200; ++i) {
    seeds.push_back((i * 7919) % 1500);
    times.push_back(i * 4);
  }
  HeteroGraph graphs[2];
  for (int wide = 0; wide < 2; ++wide) {
    BuildOptions bo;
    bo.sort_by_time = true;
    bo.index_width = wide ? IndexWidth::kInt64 : IndexWidth::kInt32;
    graphs[wide] = HeteroGraph::from_coo(Context::cpu(2), 1500, view_of(c.src), view_of(c.dst), bo,
                                         view_of(c.ts), view_of(c.w));
  }
  REQUIRE(graphs[0].relation(0).index_dtype() == DType::kInt32);
  REQUIRE(graphs[1].relation(0).index_dtype() == DType::kInt64);
  for (int mode = 0; mode < 6; ++mode) {
    SamplingOptions opt;
    opt.fanouts = {mode == 5 ? 25 : 10, 5};
    opt.weighted = mode >= 1;
    opt.replace = mode == 2;
    opt.disjoint = mode == 3 || mode == 4;
    if (mode == 4) opt.temporal = TemporalStrategy::kUniform;
    CAPTURE(mode);
    std::optional<TensorView> t;
    if (opt.temporal != TemporalStrategy::kNone) t = view_of(times);
    const MiniBatch narrow = NeighborSampler(graphs[0], opt).sample(Context::cpu(2, 9), "node", view_of(seeds), t, 1);
    const MiniBatch wide = NeighborSampler(graphs[1], opt).sample(Context::cpu(2, 9), "node", view_of(seeds), t, 1);
    check_invariants(graphs[0], NeighborSampler(graphs[0], opt), narrow, {&c}, opt.replace);
    CHECK(narrow.num_edges() > 0);
    CHECK(same(narrow, wide));
  }
}

TEST_CASE("scratch memory grows with the batch, not with the graph") {
  // The same batch shape from graphs of 2,000 and 1,000,000 nodes (4 edges per node): the
  // sampler's retained workspace is bounded by the batch's edges on both, and on the large
  // graph stays far below anything per node (an int32 per node would be 4 MB).
  for (std::int64_t n : {2000, 1000000}) {
    const auto rc = test::random_coo(n, n, 4 * n, 5);
    const auto g = HeteroGraph::from_coo(Context::cpu(2), n, view_of(rc.src), view_of(rc.dst));
    for (bool disjoint : {false, true}) {
      SamplingOptions opt;
      opt.fanouts = {10, 5};
      opt.disjoint = disjoint;
      const NeighborSampler s(g, opt);
      CHECK(s.workspace_bytes() == 0);  // nothing until the first call
      std::vector<std::int64_t> seeds;
      for (std::int64_t i = 0; i < 256; ++i) seeds.push_back((i * 7919) % (n * 9 / 10));
      MiniBatch mb;
      std::int64_t most_edges = 0;
      for (int b = 0; b < 3; ++b) {
        s.sample_into(Context::cpu(2, 1), "node", view_of(seeds), std::nullopt, std::uint64_t(b), mb);
        most_edges = std::max(most_edges, mb.num_edges());
      }
      const std::size_t bytes = s.workspace_bytes();
      CAPTURE(n, disjoint, bytes, most_edges);
      CHECK(bytes > 0);
      CHECK(bytes <= std::size_t(4096 + 128 * most_edges));
      if (n >= 1000000) CHECK(bytes < std::size_t(n / 2));
    }
  }
}

TEST_CASE("uniform without replacement: every k-subset equally likely (chi-square)") {
  // One destination with 8 in-neighbours; fan-out 3: C(8,3) = 56 subsets.
  Coo c;
  for (int i = 1; i <= 8; ++i) {
    c.src.push_back(i);
    c.dst.push_back(0);
  }
  const auto g = HeteroGraph::from_coo(Context::cpu(1), 9, view_of(c.src), view_of(c.dst));
  SamplingOptions opt;
  opt.fanouts = {3};
  const NeighborSampler s(g, opt);
  const std::vector<std::int64_t> seeds{0};
  std::map<std::set<std::int64_t>, int> subsets;
  const int draws = 11200;  // 200 per subset expected
  for (int b = 0; b < draws; ++b) {
    const MiniBatch mb = s.sample(Context::cpu(1, 77), "node", view_of(seeds), std::nullopt, std::uint64_t(b));
    std::set<std::int64_t> subset(mb.relations[0].edge_ids.begin(), mb.relations[0].edge_ids.end());
    REQUIRE(subset.size() == 3);
    ++subsets[subset];
  }
  REQUIRE(subsets.size() == 56);
  double chi2 = 0;
  for (const auto& [k, n] : subsets) chi2 += (n - 200.0) * (n - 200.0) / 200.0;
  CHECK(chi2 < 99.6);  // 55 degrees of freedom, p = 0.001
}

TEST_CASE("weighted draws are proportional to weights, with and without replacement") {
  Coo c;
  for (int i = 1; i <= 5; ++i) {
    c.src.push_back(i);
    c.dst.push_back(0);
    c.w.push_back(float(i));  // weights 1..5, total 15
  }
  c.src.push_back(6);  // a zero-weight edge is never drawn
  c.dst.push_back(0);
  c.w.push_back(0.f);
  const auto g = HeteroGraph::from_coo(Context::cpu(1), 7, view_of(c.src), view_of(c.dst), {},
                                       std::nullopt, view_of(c.w));
  const std::vector<std::int64_t> seeds{0};
  for (bool replace : {true, false}) {
    SamplingOptions opt;
    opt.fanouts = {1};
    opt.weighted = true;
    opt.replace = replace;
    const NeighborSampler s(g, opt);
    std::vector<int> hits(7, 0);
    const int draws = 15000;
    for (int b = 0; b < draws; ++b) {
      const MiniBatch mb = s.sample(Context::cpu(1, 3), "node", view_of(seeds), std::nullopt, std::uint64_t(b));
      REQUIRE(mb.relations[0].edge_ids.size() == 1);
      ++hits[std::size_t(mb.relations[0].edge_ids[0])];
    }
    CHECK(hits[5] == 0);
    double chi2 = 0;
    for (int i = 0; i < 5; ++i) {
      const double expected = draws * (i + 1) / 15.0;
      chi2 += (hits[std::size_t(i)] - expected) * (hits[std::size_t(i)] - expected) / expected;
    }
    CHECK(chi2 < 18.47);  // 4 degrees of freedom, p = 0.001
    // k equal to the number of positive weights takes exactly those.
    opt.fanouts = {5};
    const MiniBatch all = NeighborSampler(g, opt).sample(Context::cpu(1), "node", view_of(seeds));
    if (!replace)
      CHECK(std::set<std::int64_t>(all.relations[0].edge_ids.begin(), all.relations[0].edge_ids.end()) ==
            std::set<std::int64_t>{0, 1, 2, 3, 4});
  }
}

TEST_CASE("temporal: no sampled edge is later than its seed's time, and every row draws min(fan-out, eligible edges)") {
  const auto rc = test::random_coo(5000, 5000, 100000, 8);
  const Coo c{rc.src, rc.dst, rc.ts, {}};
  BuildOptions bo;
  bo.sort_by_time = true;
  const auto g = HeteroGraph::from_coo(Context::cpu(2), 5000, view_of(c.src), view_of(c.dst), bo, view_of(c.ts));
  std::vector<std::int64_t> seeds, times;
  for (int i = 0; i < 4000; ++i) {
    seeds.push_back((i * 104729) % 5000);
    times.push_back((i * 37) % 1000);
  }
  std::vector<std::vector<std::size_t>> into(5000);  // edges into each node, for the reference
  for (std::size_t e = 0; e < c.dst.size(); ++e) into[std::size_t(c.dst[e])].push_back(e);
  std::int64_t checked = 0, cut_rows = 0;
  for (auto strategy : {TemporalStrategy::kUniform, TemporalStrategy::kMostRecent}) {
    for (bool strict : {false, true}) {
      SamplingOptions opt;
      opt.fanouts = {8, 4};
      opt.temporal = strategy;
      opt.strict_time = strict;
      opt.disjoint = true;
      const MiniBatch mb = NeighborSampler(g, opt).sample(Context::cpu(2), "node", view_of(seeds), view_of(times));
      const SampledRelation& r = mb.relations[0];
      for (std::size_t v = 0; v + 1 < r.indptr.size(); ++v) {
        const std::int64_t t = mb.node_times[0][v];
        REQUIRE(t == times[std::size_t(mb.node_seed[0][v])]);
        std::int64_t eligible = 0;  // the time cut, by brute force
        for (std::size_t e : into[std::size_t(mb.nodes[0][v])]) eligible += strict ? c.ts[e] < t : c.ts[e] <= t;
        const std::int64_t fanout = std::int64_t(v) < mb.blocks[0].dst_end[0] ? 8 : 4;
        REQUIRE(r.indptr[v + 1] - r.indptr[v] == std::min(fanout, eligible));
        cut_rows += eligible < fanout;
        for (std::int64_t p = r.indptr[v]; p < r.indptr[v + 1]; ++p) {
          const std::int64_t ets = c.ts[std::size_t(r.edge_ids[std::size_t(p)])];
          REQUIRE((strict ? ets < t : ets <= t));
          ++checked;
        }
        if (strategy == TemporalStrategy::kMostRecent) {
          // Exactly the latest eligible edges: none left out is later than one taken.
          std::int64_t min_taken = std::numeric_limits<std::int64_t>::max();
          for (std::int64_t p = r.indptr[v]; p < r.indptr[v + 1]; ++p)
            min_taken = std::min(min_taken, c.ts[std::size_t(r.edge_ids[std::size_t(p)])]);
          const std::int64_t id = mb.nodes[0][v];
          std::int64_t later_left = 0;
          for (std::size_t e : into[std::size_t(id)])
            if ((strict ? c.ts[e] < t : c.ts[e] <= t) && c.ts[e] > min_taken) ++later_left;
          REQUIRE(later_left <= r.indptr[v + 1] - r.indptr[v]);
        }
      }
    }
  }
  CHECK(checked > 100000);
  CHECK(cut_rows > 1000);  // the time cut, not the fan-out, limited many rows
}

TEST_CASE("temporal cut: the eligible prefix equals a binary search for any time spread") {
  // Lists whose times spread evenly (the interpolation guess lands close), bunch at one end,
  // repeat one value, or jump: the gallop from any guess must end at the exact cut.
  std::uint64_t state = 12345;
  auto next = [&] { return (state = state * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  std::int64_t cases = 0;
  for (int shape = 0; shape < 5; ++shape)
    for (std::int64_t n : {1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, 4097}) {
      std::vector<std::int64_t> ts(static_cast<std::size_t>(n), 0);
      for (std::int64_t i = 0; i < n; ++i) {
        const auto u = std::int64_t(next() % 1000000);
        ts[std::size_t(i)] = shape == 0 ? u                            // even spread
                             : shape == 1 ? u * u / 1000000 / 1000     // bunched early
                             : shape == 2 ? 500                        // one value
                             : shape == 3 ? (u % 2 ? 0 : 999999)       // two far values
                                          : i;                         // distinct, dense
      }
      std::sort(ts.begin(), ts.end());
      // Relation ranges as given to the sampler (its own), wider, narrower and inverted.
      const std::vector<std::pair<std::int64_t, std::int64_t>> ranges{
          {ts.front(), ts.back()}, {-5000000, 5000000}, {400, 600}, {0, 0}, {999999, 0}};
      for (const auto& [lo, hi] : ranges)
        for (int k = 0; k < 40; ++k) {
          const std::int64_t t = k < 4 ? std::vector<std::int64_t>{-1, 0, 500, 999999}[std::size_t(k)]
                                       : std::int64_t(next() % 1100000) - 50000;
          for (bool strict : {false, true}) {
            const auto want = strict ? std::lower_bound(ts.begin(), ts.end(), t) - ts.begin()
                                     : std::upper_bound(ts.begin(), ts.end(), t) - ts.begin();
            const std::int64_t got = sampling_detail::eligible_prefix(ts.data(), n, t, strict, lo, hi);
            if (got != want) FAIL("n " << n << " shape " << shape << " t " << t << " strict " << strict << ": " << got << " != " << want);
            ++cases;
          }
        }
    }
  CHECK(cases == 5 * 11 * 5 * 40 * 2);
  // Nanosecond epochs: times a few ns apart near 1.7e18, where doubles are 256 apart, and
  // ranges as wide as int64 allows.
  const std::int64_t T = 1700000000000000000;
  const std::vector<std::int64_t> close{T, T + 1, T + 1, T + 3, T + 200, T + 300};
  const std::int64_t n_close = std::int64_t(close.size());
  const std::int64_t lowest = std::numeric_limits<std::int64_t>::min(), highest = std::numeric_limits<std::int64_t>::max();
  for (const auto& [lo, hi] : std::vector<std::pair<std::int64_t, std::int64_t>>{{T, T + 300}, {T, T + 1}, {lowest, highest}, {highest, lowest}})
    for (std::int64_t t : {T - 1, T, T + 1, T + 2, T + 3, T + 250, T + 300, T + 301, lowest, highest})
      for (bool strict : {false, true}) {
        const auto want = strict ? std::lower_bound(close.begin(), close.end(), t) - close.begin()
                                 : std::upper_bound(close.begin(), close.end(), t) - close.begin();
        CHECK(sampling_detail::eligible_prefix(close.data(), n_close, t, strict, lo, hi) == want);
        const std::int64_t g = sampling_detail::time_cut_guess(n_close, t, lo, hi);
        CHECK((g >= 0 && g < n_close));
      }
  CHECK(sampling_detail::eligible_prefix(nullptr, 0, 7, false) == 0);
}

TEST_CASE("heterogeneous: per-relation fan-outs and node types") {
  Coo owns{{0, 1, 2, 3, 0, 1}, {0, 0, 1, 1, 2, 2}, {}, {}};     // user -> card
  Coo uses{{0, 1, 2, 0, 1, 2, 2}, {0, 0, 0, 1, 1, 1, 2}, {}, {}};  // card -> device
  BuildOptions bo;
  bo.add_reverse = true;
  const auto g = HeteroGraph::from_coo(
      Context::cpu(1), {{"user", 4}, {"card", 3}, {"device", 3}},
      {RelationInput{{"user", "owns", "card"}, view_of(owns.src), view_of(owns.dst)},
       RelationInput{{"card", "uses", "device"}, view_of(uses.src), view_of(uses.dst)}},
      bo);
  Coo rev_owns{owns.dst, owns.src, {}, {}}, rev_uses{uses.dst, uses.src, {}, {}};
  SamplingOptions opt;
  opt.fanouts = {1, 1};
  opt.relation_fanouts = {{"uses", {-1, 0}}, {"rev_owns", {0, 2}}};
  const NeighborSampler s(g, opt);
  CHECK(s.fanout(1, 0) == -1);
  CHECK(s.fanout(2, 1) == 2);
  CHECK(s.fanout(0, 1) == 1);
  const std::vector<std::int64_t> seeds{0, 2};
  const MiniBatch mb = s.sample(Context::cpu(2), "device", view_of(seeds));
  check_invariants(g, s, mb, {&owns, &uses, &rev_owns, &rev_uses}, false);
  CHECK(mb.seed_type == 2);
  // Hop 1 from devices {0, 2} over card->device with fan-out -1: cards {0, 1, 2} (all in-edges).
  CHECK(mb.relations[1].indptr[1] - mb.relations[1].indptr[0] == 3);
  CHECK(mb.relations[1].indptr[2] - mb.relations[1].indptr[1] == 1);
  CHECK(std::set<std::int64_t>(mb.nodes[1].begin(), mb.nodes[1].end()) == std::set<std::int64_t>{0, 1, 2});
  CHECK(mb.relations[2].num_edges() == 0);  // rev_owns (card -> user) never expands a user
}

TEST_CASE("bad sampling arguments name the argument; never a hang") {
  const Coo c{{0, 1}, {1, 0}, {}, {}};
  const auto g = HeteroGraph::from_coo(Context::cpu(1), 2, view_of(c.src), view_of(c.dst));
  auto make = [&](SamplingOptions o) { return NeighborSampler(g, o); };
  SamplingOptions o;
  o.fanouts = {2, -2};
  CHECK_THROWS_WITH(make(o), "NeighborSampler: fan-out of relation 'node__to__node' at hop 1 must be >= 0 or -1 (all), got -2");
  o.fanouts = {};
  CHECK_THROWS_WITH(make(o), Catch::Contains("'fanouts' must list at least one hop"));
  o.fanouts = {2, 2};
  o.relation_fanouts = {{"to", {1}}};
  CHECK_THROWS_WITH(make(o), Catch::Contains("'relation_fanouts[to]' must have 2 entries (one per hop), got 1"));
  o.relation_fanouts = {{"pays", {1, 1}}};
  CHECK_THROWS_WITH(make(o), Catch::Contains("unknown relation 'pays'"));
  o.relation_fanouts = {};
  o.temporal = TemporalStrategy::kUniform;
  CHECK_THROWS_WITH(make(o), Catch::Contains("'temporal' sampling needs 'disjoint' = true"));
  o.disjoint = true;
  CHECK_THROWS_WITH(make(o), Catch::Contains("needs timestamps on relation 'node__to__node'"));
  o.temporal = TemporalStrategy::kNone;
  o.weighted = true;
  CHECK_THROWS_WITH(make(o), Catch::Contains("'weighted' sampling needs weights on relation 'node__to__node'"));
  o.weighted = false;
  const NeighborSampler s = make(o);
  const std::vector<std::int64_t> bad{0, 5};
  CHECK_THROWS_AS(s.sample(Context::cpu(1), "node", view_of(bad)), OutOfRange);
  CHECK_THROWS_WITH(s.sample(Context::cpu(1), "node", view_of(bad)),
                    "NeighborSampler::sample: 'seeds[1]' must be in [0, 2) (nodes of 'node'), got 5");
  const std::vector<std::int32_t> narrow{0};
  CHECK_THROWS_WITH(s.sample(Context::cpu(1), "node", view_of(narrow)),
                    "NeighborSampler::sample: 'seeds' must be int64 on cpu, got int32 on cpu");
  const std::vector<std::int64_t> ok{0};
  CHECK_THROWS_WITH(s.sample(Context::cpu(1), "user", view_of(ok)), Catch::Contains("unknown node type 'user'"));
}
