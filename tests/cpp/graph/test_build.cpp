#include <catch2/catch.hpp>

#include <cmath>

#include "gnnkit/graph/hetero_graph.hpp"
#include "support/views.hpp"
#include "support/reference_graph.hpp"

using namespace gnnkit;
using test::view_of;

namespace {


/// The relation's CSC as per-destination lists, for comparison with the reference.
template <typename IndexT>
std::vector<std::vector<test::RefEdge>> lists_of(const Relation& rel) {
  const auto csc = rel.csc<IndexT>();
  std::vector<std::vector<test::RefEdge>> lists(std::size_t(rel.num_dst));
  for (std::int64_t v = 0; v < rel.num_dst; ++v)
    for (std::int64_t p = csc.indptr[v]; p < csc.indptr[v + 1]; ++p)
      lists[std::size_t(v)].push_back(
          {std::int64_t(csc.indices[p]), csc.edge_ids[p],
           rel.has_timestamps() ? rel.timestamps.as<std::int64_t>()[std::size_t(p)] : 0,
           rel.has_weights() ? rel.weights.as<float>()[std::size_t(p)] : 0.f});
  return lists;
}

}  // namespace

TEST_CASE("tiny homogeneous graph: exact CSC, edge ids and degrees") {
  // Edges (src -> dst): 0->1, 2->1, 1->0, 2->2, 0->1 (duplicate), 3 is isolated.
  const std::vector<std::int64_t> src{0, 2, 1, 2, 0}, dst{1, 1, 0, 2, 1};
  const auto g = HeteroGraph::from_coo(Context::cpu(1), 4, view_of(src), view_of(dst));
  const Relation& rel = g.relation("to");
  CHECK(g.num_nodes() == 4);
  CHECK(g.num_edges() == 5);
  CHECK(rel.index_dtype() == DType::kInt32);
  const auto csc = rel.csc<std::int32_t>();
  CHECK(std::vector<std::int64_t>(csc.indptr, csc.indptr + 5) == std::vector<std::int64_t>{0, 1, 4, 5, 5});
  CHECK(std::vector<std::int32_t>(csc.indices, csc.indices + 5) == std::vector<std::int32_t>{1, 0, 2, 0, 2});
  CHECK(std::vector<std::int64_t>(csc.edge_ids, csc.edge_ids + 5) == std::vector<std::int64_t>{2, 0, 1, 4, 3});
  CHECK(rel.in_degree(1) == 3);
  CHECK(rel.in_degree(3) == 0);
  CHECK(g.str() == "HeteroGraph(nodes={node: 4}, edges={node__to__node: 5})");

  BuildOptions opt;
  opt.drop_duplicates = true;
  opt.self_loops = SelfLoops::kDrop;
  const auto clean = HeteroGraph::from_coo(Context::cpu(1), 4, view_of(src), view_of(dst), opt);
  const auto c = clean.relation(0).csc<std::int32_t>();
  CHECK(std::vector<std::int32_t>(c.indices, c.indices + 3) == std::vector<std::int32_t>{1, 0, 2});
  CHECK(std::vector<std::int64_t>(c.edge_ids, c.edge_ids + 3) == std::vector<std::int64_t>{2, 0, 1});
}

TEST_CASE("random graphs match the brute-force reference for every option, any thread count") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const std::int64_t n = seed == 3 ? 100000 : 500, e = seed == 3 ? 400000 : 4000;
    const auto coo = test::random_coo(n, n, e, seed);
    for (int mask = 0; mask < 16; ++mask) {
      BuildOptions opt;
      opt.drop_duplicates = mask & 1;
      opt.self_loops = (mask & 2) ? SelfLoops::kDrop : (mask & 4) ? SelfLoops::kAdd : SelfLoops::kKeep;
      opt.sort_by_time = mask & 8;
      if (seed == 3 && mask % 5 != 0) continue;  // the big graph: a few combinations
      CAPTURE(seed, mask);
      const auto expected = test::reference_csc(n, coo.src, coo.dst, coo.ts, coo.w,
                                                opt.self_loops == SelfLoops::kDrop,
                                                opt.drop_duplicates,
                                                opt.self_loops == SelfLoops::kAdd, opt.sort_by_time);
      std::vector<std::vector<test::RefEdge>> first;
      for (int threads : {1, 2, 3}) {
        const auto g = HeteroGraph::from_coo(Context::cpu(threads), n, view_of(coo.src),
                                             view_of(coo.dst), opt, view_of(coo.ts), view_of(coo.w));
        const auto lists = lists_of<std::int32_t>(g.relation(0));
        CHECK(lists == expected);
        // Without timestamps and weights the plain case takes the bucketed path: same lists.
        const auto bare = HeteroGraph::from_coo(Context::cpu(threads), n, view_of(coo.src), view_of(coo.dst), opt);
        auto bare_lists = lists_of<std::int32_t>(bare.relation(0));
        auto expected_bare = expected;
        for (auto& l : expected_bare)
          for (auto& r : l) r.ts = 0, r.w = 0;
        if (!opt.sort_by_time) CHECK(bare_lists == expected_bare);
        CHECK(g.relation(0).sorted_by_time == opt.sort_by_time);
        CHECK(g.relation(0).edge_id_bound == e + (opt.self_loops == SelfLoops::kAdd ? n : 0));
      }
    }
  }
}

TEST_CASE("int32 input, int64 index width, no edge ids") {
  const auto coo = test::random_coo(1000, 1000, 20000, 9);
  std::vector<std::int32_t> s32(coo.src.begin(), coo.src.end()), d32(coo.dst.begin(), coo.dst.end());
  BuildOptions opt;
  opt.index_width = IndexWidth::kInt64;
  const auto g64 = HeteroGraph::from_coo(Context::cpu(2), 1000, view_of(s32), view_of(d32), opt);
  CHECK(g64.relation(0).index_dtype() == DType::kInt64);
  const auto g32 = HeteroGraph::from_coo(Context::cpu(2), 1000, view_of(coo.src), view_of(coo.dst));
  CHECK(lists_of<std::int64_t>(g64.relation(0)) == lists_of<std::int32_t>(g32.relation(0)));
  opt.keep_edge_ids = false;
  opt.sort_by_time = true;  // ids are needed internally for the permutation, then dropped
  const auto bare = HeteroGraph::from_coo(Context::cpu(2), 1000, view_of(coo.src), view_of(coo.dst),
                                          opt, view_of(coo.ts));
  CHECK_FALSE(bare.relation(0).has_edge_ids());
  const auto ts = bare.relation(0).timestamps.as<std::int64_t>();
  const auto ptr = bare.relation(0).csc_indptr.as<std::int64_t>();
  for (std::int64_t v = 0; v < 1000; ++v)
    CHECK(std::is_sorted(ts.begin() + ptr[v], ts.begin() + ptr[v + 1]));
}

TEST_CASE("bytes per edge: int32 indices with edge ids <= 12.5, without <= 4.5") {
  const std::int64_t n = 100000, e = 3000000;
  const auto coo = test::random_coo(n, n, e, 4);
  const auto with_ids = HeteroGraph::from_coo(Context::cpu(2), n, view_of(coo.src), view_of(coo.dst));
  BuildOptions opt;
  opt.keep_edge_ids = false;
  const auto without = HeteroGraph::from_coo(Context::cpu(2), n, view_of(coo.src), view_of(coo.dst), opt);
  const double per_edge_ids = double(with_ids.nbytes()) / double(e);
  const double per_edge = double(without.nbytes()) / double(e);
  CAPTURE(per_edge_ids, per_edge);
  CHECK(per_edge_ids <= 12.5);
  CHECK(per_edge <= 4.5);
  CHECK(per_edge_ids == Approx(12.0 + 8.0 * double(n + 1) / double(e)));
}

TEST_CASE("heterogeneous graph with reverse relations and CSR") {
  // user -owns-> card, card -used_at-> merchant
  const std::vector<std::int64_t> own_src{0, 1, 1, 2}, own_dst{0, 0, 2, 1};
  const std::vector<std::int64_t> at_src{0, 0, 2, 1, 2}, at_dst{1, 0, 1, 1, 1};
  BuildOptions opt;
  opt.add_reverse = true;
  opt.build_csr = true;
  const auto g = HeteroGraph::from_coo(
      Context::cpu(2), {{"user", 3}, {"card", 3}, {"merchant", 2}},
      {RelationInput{{"user", "owns", "card"}, view_of(own_src), view_of(own_dst)},
       RelationInput{{"card", "used_at", "merchant"}, view_of(at_src), view_of(at_dst)}},
      opt);
  REQUIRE(g.num_relations() == 4);
  CHECK(g.schema().relation(2).str() == "card__rev_owns__user");
  CHECK(g.schema().relation(3).str() == "merchant__rev_used_at__card");
  CHECK(g.num_edges() == 18);
  // The reverse relation's CSC holds the forward relation's CSR edges (same ids); CSR lists
  // are in destination order, reverse CSC lists in input order, so compare sorted rows.
  for (int r : {0, 1}) {
    const Relation& fwd = g.relation(r);
    const Relation& rev = g.relation(r + 2);
    const auto csr = fwd.csr<std::int32_t>();
    const auto rcsc = rev.csc<std::int32_t>();
    CHECK(std::vector<std::int64_t>(csr.indptr, csr.indptr + fwd.num_src + 1) ==
          std::vector<std::int64_t>(rcsc.indptr, rcsc.indptr + rev.num_dst + 1));
    for (std::int64_t u = 0; u < fwd.num_src; ++u) {
      std::vector<std::pair<std::int64_t, std::int64_t>> a, b;
      for (std::int64_t q = csr.indptr[u]; q < csr.indptr[u + 1]; ++q) {
        a.emplace_back(csr.indices[q], fwd.edge_ids.as<std::int64_t>()[std::size_t(csr.edge_ids[q])]);
        b.emplace_back(rcsc.indices[q], rcsc.edge_ids[q]);
      }
      CHECK(std::is_sorted(a.begin(), a.end()));
      std::sort(b.begin(), b.end());
      CHECK(a == b);
    }
  }
  CHECK(&g.relation("owns") == &g.relation(EdgeType{"user", "owns", "card"}));
  CHECK_THROWS_WITH(g.relation("pays"), Catch::Contains("unknown relation 'pays' (known: user__owns__card"));
}

TEST_CASE("bad input names the relation, the array and the first bad index") {
  const Context ctx = Context::cpu(2);
  std::vector<std::int64_t> src{0, 1, 2, 7, -1}, dst{0, 1, 2, 3, 4};
  CHECK_THROWS_AS(HeteroGraph::from_coo(ctx, 5, view_of(src), view_of(dst)), OutOfRange);
  CHECK_THROWS_WITH(HeteroGraph::from_coo(ctx, 5, view_of(src), view_of(dst)),
                    "HeteroGraph::from_coo: relation 'node__to__node': 'src[3]' must be in [0, 5), got 7");
  src = {0, 1, 2, 3, 4};
  dst = {0, 1, -2, 3, 4};
  CHECK_THROWS_WITH(HeteroGraph::from_coo(ctx, 5, view_of(src), view_of(dst)),
                    Catch::Contains("'dst[2]' must be in [0, 5), got -2"));
  const std::vector<std::int64_t> short_dst{0, 1};
  CHECK_THROWS_AS(HeteroGraph::from_coo(ctx, 5, view_of(src), view_of(short_dst)), ShapeMismatch);
  CHECK_THROWS_WITH(HeteroGraph::from_coo(ctx, 5, view_of(src), view_of(short_dst)),
                    Catch::Contains("'dst' must have the length of 'src' (5), got 2"));
  const std::vector<float> fsrc{0, 1, 2, 3, 4};
  CHECK_THROWS_WITH(HeteroGraph::from_coo(ctx, 5, view_of(fsrc), view_of(src)),
                    Catch::Contains("'src' must be int32 or int64, got float32"));
  std::vector<float> w{1, 2, NAN, 4, 5};
  CHECK_THROWS_WITH(HeteroGraph::from_coo(ctx, 5, view_of(src), view_of(src), {}, std::nullopt, view_of(w)),
                    Catch::Contains("'weights[2]' must be finite, got nan"));
  const std::vector<std::int64_t> ts{1, 2};
  CHECK_THROWS_WITH(HeteroGraph::from_coo(ctx, 5, view_of(src), view_of(src), {}, view_of(ts)),
                    Catch::Contains("'timestamps' must be contiguous int64[5] on cpu"));
  CHECK_THROWS_WITH(HeteroGraph::from_coo(ctx, {{"user", 3}},
                                          {RelationInput{{"user", "owns", "card"}, view_of(src), view_of(src)}}),
                    Catch::Contains("unknown node type 'card' (known: user)"));
  CHECK_THROWS_WITH(HeteroGraph::from_coo(ctx, {{"user", -3}}, {}),
                    Catch::Contains("'num_nodes' of 'user' must be >= 0, got -3"));
  CHECK_THROWS_WITH(HeteroGraph::from_coo(ctx, {{"bad name", 3}}, {}),
                    Catch::Contains("node type name must be 1-64 characters"));
}
