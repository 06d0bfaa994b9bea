#include <catch2/catch.hpp>

#include <random>

#include "gnnkit/sampling/neighbor.hpp"
#include "gnnkit/sampling/seed_identity.hpp"
#include "support/views.hpp"

using namespace gnnkit;
using test::view_of;

namespace {

/// Payments with one user and one card each, plus tags: a relation into the payments that
/// is not functional (a payment has zero, one or two tags).
struct Payments {
  std::int64_t users = 40, cards = 60, tags = 5, n = 600;
  std::vector<std::int64_t> tx_ids, user, card, tag_src, tag_dst;
  HeteroGraph graph;
  explicit Payments(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (std::int64_t j = 0; j < n; ++j) {
      tx_ids.push_back(j);
      user.push_back(std::int64_t(rng() % std::uint64_t(users)));
      // Cards mostly stay with one user; a few are used by others.
      card.push_back(rng() % 4 ? user.back() % cards : std::int64_t(rng() % std::uint64_t(cards)));
      for (std::uint64_t k = rng() % 3; k > 0; --k) {
        tag_src.push_back(std::int64_t(rng() % std::uint64_t(tags)));
        tag_dst.push_back(j);
      }
    }
    BuildOptions bo;
    bo.add_reverse = true;
    graph = HeteroGraph::from_coo(
        Context::cpu(1), {{"user", users}, {"card", cards}, {"tag", tags}, {"transaction", n}},
        {RelationInput{{"transaction", "by", "user"}, view_of(tx_ids), view_of(user)},
         RelationInput{{"transaction", "paid_with", "card"}, view_of(tx_ids), view_of(card)},
         RelationInput{{"tag", "marks", "transaction"}, view_of(tag_src), view_of(tag_dst)}},
        bo);
  }
};

}  // namespace

TEST_CASE("seed identity: functional relations found, columns match a brute-force check") {
  const Payments p(7);
  const Schema& schema = p.graph.schema();
  const int tx = schema.node_type_id("transaction"), user = schema.node_type_id("user"),
            card = schema.node_type_id("card"), tag = schema.node_type_id("tag");
  const SeedIdentity id(p.graph, tx);
  // rev_by (user -> transaction) and rev_paid_with (card -> transaction); not marks.
  REQUIRE(id.relations().size() == 2);
  CHECK(id.entity_types() == std::vector<int>{user, card});
  CHECK(id.describe() == "user, card");
  CHECK(id.columns(tx) == 2);
  CHECK(id.columns(user) == 1);
  CHECK(id.columns(card) == 1);
  CHECK(id.columns(tag) == 0);
  for (std::int64_t j = 0; j < p.n; ++j) {
    REQUIRE(id.entity(0, j) == p.user[std::size_t(j)]);
    REQUIRE(id.entity(1, j) == p.card[std::size_t(j)]);
  }

  SamplingOptions so;
  so.fanouts = {4, 4, 3};
  so.disjoint = true;
  const NeighborSampler sampler(p.graph, so);
  std::vector<std::int64_t> seeds;
  for (std::int64_t j = 0; j < p.n; j += 7) seeds.push_back(j);
  const MiniBatch mb = sampler.sample(Context::cpu(2), "transaction", view_of(seeds), std::nullopt, 3);
  REQUIRE(mb.node_seed.size() == mb.nodes.size());
  std::int64_t ones[2] = {0, 0}, zeros[2] = {0, 0}, mismatches = 0;
  const auto seed_of = [&](int type, std::size_t i) {
    return mb.nodes[std::size_t(tx)][std::size_t(mb.seed_local[std::size_t(mb.node_seed[std::size_t(type)][i])])];
  };
  {  // transactions: same user / same card as their own seed
    const auto& nodes = mb.nodes[std::size_t(tx)];
    const std::int64_t ld = 5;  // wider rows: only the first two columns are written
    std::vector<float> out(nodes.size() * std::size_t(ld), -7.f);
    id.fill(mb, tx, out.data(), ld);
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const std::int64_t s = seed_of(tx, i), v = nodes[i];
      const float want[2] = {p.user[std::size_t(v)] == p.user[std::size_t(s)] ? 1.f : 0.f,
                             p.card[std::size_t(v)] == p.card[std::size_t(s)] ? 1.f : 0.f};
      for (int c = 0; c < 2; ++c) {
        mismatches += out[i * std::size_t(ld) + std::size_t(c)] != want[c];
        (want[c] == 1.f ? ones : zeros)[c] += 1;
      }
      for (int c = 2; c < ld; ++c) mismatches += out[i * std::size_t(ld) + std::size_t(c)] != -7.f;
    }
    for (std::size_t b = 0; b < seeds.size(); ++b) {  // a seed is its own user's and card's
      CHECK(out[std::size_t(mb.seed_local[b]) * std::size_t(ld)] == 1.f);
      CHECK(out[std::size_t(mb.seed_local[b]) * std::size_t(ld) + 1] == 1.f);
    }
  }
  // Both values occur (the check could fail either way).
  CHECK(ones[0] > 100);
  CHECK(zeros[0] > 100);
  CHECK(ones[1] > 100);
  CHECK(zeros[1] > 100);
  for (const int type : {user, card}) {  // entities: the seed's own one or not
    const auto& nodes = mb.nodes[std::size_t(type)];
    std::vector<float> out(nodes.size(), -7.f);
    id.fill(mb, type, out.data(), 1);
    std::int64_t own = 0;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const std::int64_t s = seed_of(type, i);
      const bool want = nodes[i] == (type == user ? p.user : p.card)[std::size_t(s)];
      mismatches += out[i] != (want ? 1.f : 0.f);
      own += want;
    }
    CHECK(own == std::int64_t(seeds.size()));  // each subtree reaches its seed's entity once
    CHECK(std::int64_t(nodes.size()) > own);
  }
  CHECK(mismatches == 0);
  std::vector<float> untouched{-7.f};
  id.fill(mb, tag, untouched.data(), 1);  // no columns: nothing written
  CHECK(untouched[0] == -7.f);
}

TEST_CASE("seed identity: needs a disjoint batch of target seeds; graphs without functional relations get none") {
  const Payments p(3);
  const int tx = p.graph.schema().node_type_id("transaction"), user = p.graph.schema().node_type_id("user");
  const SeedIdentity id(p.graph, tx);
  SamplingOptions so;
  so.fanouts = {2};
  const NeighborSampler shared(p.graph, so);
  const std::vector<std::int64_t> seeds{1, 2, 3};
  const MiniBatch mb = shared.sample(Context::cpu(1), "transaction", view_of(seeds));
  std::vector<float> out(mb.nodes[std::size_t(tx)].size() * 2);
  CHECK_THROWS_WITH(id.fill(mb, tx, out.data(), 2), Catch::Contains("needs a disjoint mini-batch"));
  so.disjoint = true;
  const std::vector<std::int64_t> users{1, 2};
  const MiniBatch by_user = NeighborSampler(p.graph, so).sample(Context::cpu(1), "user", view_of(users));
  CHECK_THROWS_WITH(id.fill(by_user, tx, out.data(), 2), Catch::Contains("seeds are of node type"));
  CHECK_THROWS_WITH(SeedIdentity(p.graph, 9), Catch::Contains("'target' must be a node type id"));
  // A batch of a bigger graph: its transaction ids are not this graph's (a read out of bounds
  // before the check).
  const std::vector<std::int64_t> far{599};
  const MiniBatch of_big = NeighborSampler(p.graph, so).sample(Context::cpu(1), "transaction", view_of(far));
  std::vector<float> wide(of_big.nodes[std::size_t(tx)].size() * 2);
  std::vector<std::int64_t> few_tx{0, 1}, few_user{0, 1}, few_card{0, 1};
  BuildOptions bo;
  bo.add_reverse = true;
  const auto tiny = HeteroGraph::from_coo(
      Context::cpu(1), {{"user", 2}, {"card", 2}, {"tag", 1}, {"transaction", 2}},
      {RelationInput{{"transaction", "by", "user"}, view_of(few_tx), view_of(few_user)},
       RelationInput{{"transaction", "paid_with", "card"}, view_of(few_tx), view_of(few_card)},
       RelationInput{{"tag", "marks", "transaction"}, view_of(std::vector<std::int64_t>{}), view_of(std::vector<std::int64_t>{})}},
      bo);
  const SeedIdentity tiny_id(tiny, tiny.schema().node_type_id("transaction"));
  REQUIRE(tiny_id.columns(tx) == 2);
  CHECK_THROWS_WITH(tiny_id.fill(of_big, tx, wide.data(), 2),
                    Catch::Contains("node 599 of type 'transaction' is not in this graph (2 nodes)"));
  // Users have no functional relation into them (a user has many payments).
  const SeedIdentity none(p.graph, user);
  CHECK(none.empty());
  for (int t = 0; t < p.graph.schema().num_node_types(); ++t) CHECK(none.columns(t) == 0);
}
