#include <catch2/catch.hpp>

#include <set>

#include "gnnkit/sampling/link.hpp"
#include "support/views.hpp"
#include "support/reference_graph.hpp"

using namespace gnnkit;
using test::view_of;

TEST_CASE("link sampling: endpoints, negatives never edges when excluded, degree-weighted") {
  // users -> items, item i's in-degree grows with i (popular items).
  std::vector<std::int64_t> u, it;
  for (int item = 0; item < 40; ++item)
    for (int k = 0; k <= item; ++k) {
      u.push_back((item * 7 + k * 13) % 30);
      it.push_back(item);
    }
  BuildOptions bo;
  bo.add_reverse = true;
  bo.build_csr = true;
  bo.drop_duplicates = true;
  const auto g = HeteroGraph::from_coo(Context::cpu(2), {{"user", 30}, {"item", 40}},
                                       {RelationInput{{"user", "buys", "item"}, view_of(u), view_of(it)}}, bo);
  std::set<std::pair<std::int64_t, std::int64_t>> edges;
  for (std::size_t e = 0; e < u.size(); ++e) edges.insert({u[e], it[e]});
  SamplingOptions so;
  so.fanouts = {3, 2};
  auto sampler = std::make_shared<NeighborSampler>(g, so);
  std::vector<std::int64_t> ps{0, 5, 9}, pd{1, 20, 39};
  for (int mode = 0; mode < 4; ++mode) {
    const auto dist = mode % 2 ? NegativeSampling::kDegree : NegativeSampling::kUniform;
    const bool exclude = mode >= 2;
    LinkSamplingOptions lo;
    lo.num_negatives = 4;
    lo.negatives = dist;
    lo.exclude_positives = exclude;
    CAPTURE(mode);
    const LinkSampler ls(sampler, "buys", lo);
    std::vector<int> hits(40, 0);
    for (int b = 0; b < 2000; ++b) {
      LinkBatch lb;
      ls.sample_into(Context::cpu(2, 1), view_of(ps), view_of(pd), std::uint64_t(b), lb);
      REQUIRE(lb.src.size() == 3);
      REQUIRE(lb.neg_dst.size() == 12);
      const auto& users = lb.mini_batch.nodes[0];
      const auto& items = lb.mini_batch.nodes[1];
      for (int i = 0; i < 3; ++i) {
        REQUIRE(users[std::size_t(lb.src[std::size_t(i)])] == ps[std::size_t(i)]);
        REQUIRE(items[std::size_t(lb.dst[std::size_t(i)])] == pd[std::size_t(i)]);
        for (int j = 0; j < 4; ++j) {
          const std::int64_t neg = items[std::size_t(lb.neg_dst[std::size_t(i * 4 + j)])];
          REQUIRE(neg == lb.neg_dst_global[std::size_t(i * 4 + j)]);
          if (exclude) REQUIRE(edges.count({ps[std::size_t(i)], neg}) == 0);
          if (i == 0) ++hits[std::size_t(neg)];
        }
      }
    }
    // Popular items are drawn more often by degree weighting, not by uniform draws.
    int low = 0, high = 0;
    for (int item = 0; item < 10; ++item) low += hits[std::size_t(item)];
    for (int item = 30; item < 40; ++item) high += hits[std::size_t(item)];
    if (!exclude && dist == NegativeSampling::kDegree) CHECK(high > 2 * low);
    if (!exclude && dist == NegativeSampling::kUniform) CHECK(std::abs(high - low) < (high + low) / 4);
  }
  // Determinism for any thread count.
  LinkSamplingOptions lo;
  lo.num_negatives = 2;
  const LinkSampler ls(sampler, "buys", lo);
  LinkBatch a, b;
  ls.sample_into(Context::cpu(1, 3), view_of(ps), view_of(pd), 7, a);
  ls.sample_into(Context::cpu(2, 3), view_of(ps), view_of(pd), 7, b);
  CHECK(a.neg_dst_global == b.neg_dst_global);
  CHECK(a.mini_batch.nodes == b.mini_batch.nodes);
}

namespace {

/// users -> items ("buys") with a CSR, and a 1-hop sampler over it.
std::shared_ptr<NeighborSampler> buys_sampler(const std::vector<std::int64_t>& u, const std::vector<std::int64_t>& it,
                                              std::int64_t users, std::int64_t items) {
  BuildOptions bo;
  bo.build_csr = true;
  const auto g = HeteroGraph::from_coo(Context::cpu(1), {{"user", users}, {"item", items}},
                                       {RelationInput{{"user", "buys", "item"}, view_of(u), view_of(it)}}, bo);
  SamplingOptions so;
  so.fanouts = {1};
  return std::make_shared<NeighborSampler>(g, so);
}

}  // namespace

TEST_CASE("link sampling bad input: clear errors, never a hang") {
  const std::vector<std::int64_t> u{0, 0, 1}, it{0, 1, 0};
  auto sampler = buys_sampler(u, it, 2, 2);
  LinkSamplingOptions lo;
  lo.exclude_positives = true;
  const LinkSampler ls(sampler, "buys", lo);
  LinkBatch out;
  const std::vector<std::int64_t> s0{0}, d0{0};
  // User 0 bought both items: no negative exists.
  CHECK_THROWS_WITH(ls.sample_into(Context::cpu(1), view_of(s0), view_of(d0), 0, out),
                    Catch::Contains("'num_negatives' = 1 could not be met for src[0] = 0") &&
                        Catch::Contains("outside its 2 neighbours (of 2 destinations)"));
  const std::vector<std::int64_t> bad{5};
  CHECK_THROWS_WITH(ls.sample_into(Context::cpu(1), view_of(bad), view_of(d0), 0, out),
                    "LinkSampler::sample: 'src[0]' must be in [0, 2) (nodes of 'user'), got 5");
  CHECK_THROWS_WITH(LinkSampler(sampler, "sells", lo), Catch::StartsWith("LinkSampler: 'relation': unknown relation 'sells'"));
  lo.num_negatives = -1;
  CHECK_THROWS_WITH(LinkSampler(sampler, "buys", lo), "LinkSampler: 'num_negatives' must be >= 0, got -1");
}

TEST_CASE("link sampling: exclusion is exact for nearly saturated sources, and limits are errors") {
  // User 0 bought 999 of 1000 items: only item 999 is a valid negative. Rejection alone fails
  // by chance (5 tries); the exact fallback must always find it.
  std::vector<std::int64_t> u, it;
  for (int item = 0; item < 999; ++item) {
    u.push_back(0);
    it.push_back(item);
  }
  u.push_back(0);  // a repeated edge counts once
  it.push_back(3);
  u.push_back(1);
  it.push_back(0);
  auto sampler = buys_sampler(u, it, 2, 1000);
  LinkSamplingOptions lo;
  lo.exclude_positives = true;
  lo.num_negatives = 3;
  const LinkSampler ls(sampler, "buys", lo);
  LinkBatch out;
  const std::vector<std::int64_t> s0{0}, d0{5};
  for (std::uint64_t batch = 0; batch < 100; ++batch) {
    ls.sample_into(Context::cpu(1), view_of(s0), view_of(d0), batch, out);
    for (const std::int64_t neg : out.neg_dst_global) REQUIRE(neg == 999);
  }
  // More negatives per positive than a batch can hold: an error before any allocation.
  lo.num_negatives = std::int64_t(1) << 62;
  const LinkSampler huge(sampler, "buys", lo);
  const std::vector<std::int64_t> s4{0, 1, 0, 1}, d4{1, 0, 2, 0};
  CHECK_THROWS_WITH(huge.sample_into(Context::cpu(1), view_of(s4), view_of(d4), 0, out),
                    Catch::Contains("'num_negatives' = 4611686018427387904 with 4 positives makes more than 2^24 endpoints"));
  // A temporal sampler would need times for every endpoint: refused when built.
  SamplingOptions temporal;
  temporal.fanouts = {1};
  temporal.temporal = TemporalStrategy::kUniform;
  temporal.disjoint = true;
  std::vector<std::int64_t> ts(u.size(), 1);
  BuildOptions bt;
  bt.build_csr = true;
  bt.sort_by_time = true;
  const auto gt = HeteroGraph::from_coo(Context::cpu(1), {{"user", 2}, {"item", 1000}},
                                        {RelationInput{{"user", "buys", "item"}, view_of(u), view_of(it), view_of(ts)}}, bt);
  lo.num_negatives = 1;
  CHECK_THROWS_WITH(LinkSampler(std::make_shared<NeighborSampler>(gt, temporal), "buys", lo),
                    Catch::Contains("LinkSampler: needs a sampler without 'temporal'"));
}

TEST_CASE("sampler: most-recent with replacement is refused, and 2^24 seeds per batch at most") {
  std::vector<std::int64_t> u{0, 1, 2}, it{1, 2, 0}, ts{1, 2, 3};
  BuildOptions bo;
  bo.sort_by_time = true;
  const auto g = HeteroGraph::from_coo(Context::cpu(1), 3, view_of(u), view_of(it), bo, view_of(ts));
  SamplingOptions so;
  so.fanouts = {3};
  so.temporal = TemporalStrategy::kMostRecent;
  so.disjoint = true;
  so.replace = true;
  CHECK_THROWS_WITH(NeighborSampler(g, so), Catch::Contains("'replace' cannot be combined with the most-recent"));
  so.temporal = TemporalStrategy::kNone;
  so.disjoint = false;
  so.replace = false;
  const NeighborSampler sampler(g, so);
  std::vector<std::int64_t> many(std::size_t(1) << 24, 0);
  CHECK_THROWS_WITH(sampler.sample(Context::cpu(1), "node", view_of(many), std::nullopt, 0),
                    Catch::Contains("'seeds' must hold fewer than 2^24 ids in one batch, got 16777216"));
}
