// Tests of the synthetic fraud data generator: determinism, fraud rate, graph invariants,
// past-only features (by naive recomputation) and option validation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <gnnkit/core/error.hpp>
#include <gnnkit/io/graph_file.hpp>

#include "src/generator.hpp"

using gnnkit::fraud::GeneratorOptions;

namespace {

GeneratorOptions small(std::int64_t users = 3000, std::uint64_t seed = 11, int threads = 1) {
  GeneratorOptions o;
  o.users = users;
  o.seed = seed;
  o.num_threads = threads;
  return o;
}

bool same_bytes(const gnnkit::HostArray& a, const gnnkit::HostArray& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  return a.dtype() == b.dtype() && a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

std::int64_t index_at(const gnnkit::HostArray& a, std::int64_t i) {
  return a.dtype() == gnnkit::DType::kInt32 ? a.as<std::int32_t>()[std::size_t(i)]
                                            : a.as<std::int64_t>()[std::size_t(i)];
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Entity of every transaction through the reverse relation (one in-neighbour each).
std::vector<std::int64_t> ends_of(const gnnkit::HeteroGraph& g, const std::string& rel,
                                  const std::string& type) {
  const auto& r = g.relation(gnnkit::EdgeType{type, "rev_" + rel, "transaction"});
  std::vector<std::int64_t> out(std::size_t(r.num_dst));
  for (std::int64_t t = 0; t < r.num_dst; ++t) out[std::size_t(t)] = index_at(r.csc_indices, r.csc_indptr.as<std::int64_t>()[std::size_t(t)]);
  return out;
}

const char* const kRelations[][2] = {{"by", "user"},
                                     {"paid_with", "card"},
                                     {"from_device", "device"},
                                     {"from_ip", "ip"},
                                     {"at", "merchant"}};

}  // namespace

TEST_CASE("same seed gives identical data for 1 and 2 threads", "[fraud][determinism]") {
  const auto a = gnnkit::fraud::generate(small(3000, 5, 1));
  const auto b = gnnkit::fraud::generate(small(3000, 5, 2));
  const auto& sa = a.graph.schema();
  REQUIRE(sa.num_relations() == b.graph.schema().num_relations());
  for (int r = 0; r < sa.num_relations(); ++r) {
    const auto& x = a.graph.relation(r);
    const auto& y = b.graph.relation(r);
    INFO(sa.relation(r).str());
    CHECK(same_bytes(x.csc_indptr, y.csc_indptr));
    CHECK(same_bytes(x.csc_indices, y.csc_indices));
    CHECK(same_bytes(x.edge_ids, y.edge_ids));
    CHECK(same_bytes(x.timestamps, y.timestamps));
  }
  REQUIRE(a.features.entries().size() == b.features.entries().size());
  for (const auto& [key, m] : a.features.entries()) {
    INFO(gnnkit::FeatureStore::describe(key));
    CHECK(same_bytes(m.data, b.features.get(key).data));
  }
  // And the saved files are byte-identical.
  const std::string pa = "fraud_det_a.gnn", pb = "fraud_det_b.gnn";
  gnnkit::save_graph(pa, a);
  gnnkit::save_graph(pb, b);
  CHECK(read_all(pa) == read_all(pb));
  std::remove(pa.c_str());
  std::remove(pb.c_str());

  const auto c = gnnkit::fraud::generate(small(3000, 6, 2));
  CHECK_FALSE(same_bytes(a.features.labels("transaction"), c.features.labels("transaction")));
}

TEST_CASE("fraud rate and patterns", "[fraud]") {
  gnnkit::fraud::GeneratorStats stats;
  const auto f = gnnkit::fraud::generate(small(20000, 3, 2), &stats);
  const auto labels = f.features.labels("transaction").as<std::int64_t>();
  const auto pattern = f.features.node_features("transaction", "fraud_pattern");
  std::int64_t fraud = 0;
  std::vector<std::int64_t> per(gnnkit::fraud::kNumPatterns, 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const int p = int(pattern.row(std::int64_t(i))[0]);
    REQUIRE(labels[i] == (p != 0 ? 1 : 0));
    ++per[std::size_t(p)];
    fraud += labels[i];
  }
  const double rate = double(fraud) / double(labels.size());
  INFO("fraud rate " << rate);
  CHECK(rate >= 0.01);
  CHECK(rate <= 0.03);
  for (int p = 1; p < gnnkit::fraud::kNumPatterns; ++p) {
    INFO(gnnkit::fraud::kPatternNames[std::size_t(p)]);
    CHECK(per[std::size_t(p)] > 0);
    CHECK(per[std::size_t(p)] == stats.tx_per_pattern[std::size_t(p)]);
  }
  const std::string meta = gnnkit::fraud::metadata_json(small(20000, 3, 2), stats, f);
  for (const char* key : {"\"num_nodes\"", "\"num_edges\"", "\"patterns\"", "\"time_range\"",
                          "\"feature_columns\"", "\"account_takeover\"", "\"card_testing\""})
    CHECK(meta.find(key) != std::string::npos);
}

TEST_CASE("rings: established accounts on stolen cards checked first from an emulator or VPN", "[fraud]") {
  // The property the graph model relies on, checked by brute force: a ring payment's own user
  // has ordinary payments too, while the first ring payment on its card (the check) came from
  // the ring's checking phone (emulator) or over a VPN, by another account; card testers are
  // fresh accounts.
  const auto f = gnnkit::fraud::generate(small(20000, 5, 2));
  const auto& g = f.graph;
  const std::int64_t n = g.num_nodes("transaction");
  const auto pattern = f.features.node_features("transaction", "fraud_pattern");
  const auto user = ends_of(g, "by", "user"), card = ends_of(g, "paid_with", "card");
  const auto device = ends_of(g, "from_device", "device"), ip = ends_of(g, "from_ip", "ip");
  const auto ux = f.features.node_features("user", "x");    // 0: account_age_years, 1: opened_in_window
  const auto dx = f.features.node_features("device", "x");  // column 5: emulator
  const auto ix = f.features.node_features("ip", "x");      // column 3: vpn_hosting
  std::vector<int> p(static_cast<std::size_t>(n));
  for (std::int64_t t = 0; t < n; ++t) p[std::size_t(t)] = int(pattern.row(t)[0]);
  std::vector<std::int64_t> first_ring(static_cast<std::size_t>(g.num_nodes("card")), -1);
  std::set<std::int64_t> ring_users, ring_users_with_benign, testers;
  std::int64_t ring = 0, later = 0, later_other_user = 0;
  for (std::int64_t t = 0; t < n; ++t) {  // ids are in time order
    if (p[std::size_t(t)] == 3) testers.insert(user[std::size_t(t)]);
    if (p[std::size_t(t)] != 1) continue;
    ++ring;
    ring_users.insert(user[std::size_t(t)]);
    auto& first = first_ring[std::size_t(card[std::size_t(t)])];
    if (first < 0) {
      first = t;
    } else {
      ++later;
      later_other_user += user[std::size_t(first)] != user[std::size_t(t)];
    }
  }
  for (std::int64_t t = 0; t < n; ++t)
    if (p[std::size_t(t)] == 0 && ring_users.count(user[std::size_t(t)])) ring_users_with_benign.insert(user[std::size_t(t)]);
  std::int64_t checks = 0, suspicious_checks = 0;
  for (std::int64_t t : first_ring) {
    if (t < 0) continue;
    ++checks;
    suspicious_checks += dx.row(device[std::size_t(t)])[5] > 0.5f || ix.row(ip[std::size_t(t)])[3] > 0.5f;
  }
  REQUIRE(ring > 100);
  REQUIRE(later > 50);
  INFO(ring << " ring payments on " << checks << " cards");
  CHECK(double(suspicious_checks) / double(checks) >= 0.8);
  CHECK(double(later_other_user) / double(later) >= 0.9);  // the checker is not the member
  CHECK(double(ring_users_with_benign.size()) / double(ring_users.size()) >= 0.9);
  REQUIRE(!testers.empty());
  std::int64_t fresh = 0;
  for (std::int64_t u : testers) fresh += ux.row(u)[1] > 0.5f || ux.row(u)[0] < 0.1f;
  CHECK(fresh == std::int64_t(testers.size()));
}

TEST_CASE("every transaction has one edge per relation, at its own time", "[fraud][graph]") {
  const auto f = gnnkit::fraud::generate(small(3000, 9, 2));
  const auto& g = f.graph;
  const std::int64_t n = g.num_nodes("transaction");
  REQUIRE(n > 1000);
  const auto times = f.features.node_times("transaction").as<std::int64_t>();
  REQUIRE(std::int64_t(times.size()) == n);
  CHECK(std::is_sorted(times.begin(), times.end()));  // ids are in time order
  CHECK(g.schema().num_relations() == 10);
  for (const auto& [rel, type] : kRelations) {
    INFO(rel);
    // Reverse: entity -> transaction, dst-major over transactions: exactly one each.
    const auto& rev = g.relation(gnnkit::EdgeType{type, std::string("rev_") + rel, "transaction"});
    const auto rptr = rev.csc_indptr.as<std::int64_t>();
    REQUIRE(rev.has_timestamps());
    for (std::int64_t t = 0; t < n; ++t) {
      REQUIRE(rptr[std::size_t(t) + 1] - rptr[std::size_t(t)] == 1);
      REQUIRE(rev.timestamps.as<std::int64_t>()[std::size_t(rptr[std::size_t(t)])] == times[std::size_t(t)]);
    }
    // Forward: transaction -> entity; every transaction appears once, lists sorted by time.
    const auto& fwd = g.relation(gnnkit::EdgeType{"transaction", rel, type});
    REQUIRE(fwd.num_edges() == n);
    CHECK(fwd.sorted_by_time);
    std::vector<std::uint8_t> seen(std::size_t(n), 0);
    const auto ptr = fwd.csc_indptr.as<std::int64_t>();
    const auto ts = fwd.timestamps.as<std::int64_t>();
    for (std::int64_t v = 0; v < fwd.num_dst; ++v) {
      for (std::int64_t p = ptr[std::size_t(v)]; p < ptr[std::size_t(v) + 1]; ++p) {
        const std::int64_t tx = index_at(fwd.csc_indices, p);
        REQUIRE(ts[std::size_t(p)] == times[std::size_t(tx)]);
        if (p > ptr[std::size_t(v)]) REQUIRE(ts[std::size_t(p) - 1] <= ts[std::size_t(p)]);
        REQUIRE(seen[std::size_t(tx)] == 0);
        seen[std::size_t(tx)] = 1;
      }
    }
    CHECK(std::count(seen.begin(), seen.end(), 1) == n);
  }
}

TEST_CASE("features are finite and sized by the schema", "[fraud][features]") {
  const auto f = gnnkit::fraud::generate(small(2000, 4, 2));
  for (const char* type : {"user", "card", "device", "ip", "merchant", "transaction"}) {
    INFO(type);
    const auto& m = f.features.node_features(type, "x");
    CHECK(m.rows == f.graph.num_nodes(type));
    CHECK(m.cols == std::int64_t(gnnkit::fraud::feature_columns(type).size()));
    const auto values = m.data.as<float>();
    CHECK(std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); }));
  }
  CHECK_THROWS_AS(gnnkit::fraud::feature_columns("planet"), gnnkit::InvalidArgument);
}

TEST_CASE("velocity and novelty features use only earlier transactions", "[fraud][features]") {
  // Naive O(n^2)-per-entity recomputation from the stored graph: for transaction i, only
  // transactions j < i (ids are time-ordered) of the same user / card count.
  const auto f = gnnkit::fraud::generate(small(400, 21, 2));
  const auto& g = f.graph;
  const std::int64_t n = g.num_nodes("transaction");
  const auto times = f.features.node_times("transaction").as<std::int64_t>();
  const auto user = ends_of(g, "by", "user"), card = ends_of(g, "paid_with", "card");
  const auto device = ends_of(g, "from_device", "device"), ip = ends_of(g, "from_ip", "ip");
  const auto& x = f.features.node_features("transaction", "x");
  const auto& cols = gnnkit::fraud::feature_columns("transaction");
  auto col = [&](const char* name) {
    return std::int64_t(std::find(cols.begin(), cols.end(), name) - cols.begin());
  };
  const std::int64_t c1h = col("user_tx_1h"), c24h = col("user_tx_24h"), ccard = col("card_tx_24h");
  const std::int64_t cdev = col("new_device_for_user"), cip = col("new_ip_for_user");
  const std::int64_t cprior = col("user_prior_tx"), crel = col("amount_vs_user_mean");
  REQUIRE(crel < std::int64_t(cols.size()));
  std::vector<std::vector<std::int64_t>> by_user(std::size_t(g.num_nodes("user")));
  for (std::int64_t i = 0; i < n; ++i) by_user[std::size_t(user[std::size_t(i)])].push_back(i);
  std::int64_t checked = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t t = times[std::size_t(i)];
    std::int64_t h1 = 0, h24 = 0, c24 = 0, prior = 0;
    bool dev_seen = false, ip_seen = false;
    double sum = 0;
    for (std::int64_t j : by_user[std::size_t(user[std::size_t(i)])]) {
      if (j >= i) break;
      ++prior;
      h1 += times[std::size_t(j)] >= t - 3600;
      h24 += times[std::size_t(j)] >= t - 86400;
      dev_seen |= device[std::size_t(j)] == device[std::size_t(i)];
      ip_seen |= ip[std::size_t(j)] == ip[std::size_t(i)];
      sum += x.row(j)[0];
    }
    for (std::int64_t j = i - 1; j >= 0 && times[std::size_t(j)] >= t - 86400; --j)
      c24 += card[std::size_t(j)] == card[std::size_t(i)];
    const float* r = x.row(i);
    INFO("transaction " << i);
    REQUIRE(r[c1h] == Approx(std::log1p(double(h1))));
    REQUIRE(r[c24h] == Approx(std::log1p(double(h24))));
    REQUIRE(r[ccard] == Approx(std::log1p(double(c24))));
    REQUIRE(r[cprior] == Approx(std::log1p(double(prior))));
    REQUIRE(r[cdev] == float(!dev_seen));
    REQUIRE(r[cip] == float(!ip_seen));
    REQUIRE(r[crel] == Approx(prior ? r[0] - sum / double(prior) : 0.0).margin(1e-4));
    ++checked;
  }
  CHECK(checked == n);
}

TEST_CASE("bad options are rejected with the option's name", "[fraud][options]") {
  auto expect_error = [](GeneratorOptions o, const char* name) {
    try {
      gnnkit::fraud::generate(o);
      FAIL("no error for " << name);
    } catch (const gnnkit::InvalidArgument& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(name) != std::string::npos);
    }
  };
  GeneratorOptions o = small();
  o.users = 10;
  expect_error(o, "'users'");
  o = small();
  o.tx_per_user = 0;
  expect_error(o, "'tx_per_user'");
  o.tx_per_user = std::nan("");
  expect_error(o, "'tx_per_user'");
  o = small();
  o.fraud_rate = 0.5;
  expect_error(o, "'fraud_rate'");
  o.fraud_rate = 0;
  expect_error(o, "'fraud_rate'");
  o = small();
  o.days = 3;
  expect_error(o, "'days'");
  o = small();
  o.start_time = -1;
  expect_error(o, "'start_time'");
}
