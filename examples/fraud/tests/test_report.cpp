// Tests of the fraud app's baselines (XGBoost, neighbour-aggregation features), SVG charts and
// evaluation report. The main() comes from test_main.cpp.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gnnkit/core/error.hpp>
#include <gnnkit/graph/hetero_graph.hpp>
#include <gnnkit/train/metrics.hpp>

#include "src/baselines.hpp"
#include "src/report.hpp"
#include "app/svg_plot.hpp"

using namespace gnnkit;
using namespace gnnkit::fraud;
using namespace gnnkit::app;
namespace fs = std::filesystem;

namespace {

/// A fresh folder under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "gnnkit-fraud-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A strict-enough XML well-formedness check (tags balanced and properly nested, one root,
/// attributes quoted and unique, no raw '<' in values, only known or numeric entities).
bool well_formed_xml(const std::string& s, std::string* why) {
  auto fail = [&](const std::string& msg, std::size_t at) {
    *why = msg + " at offset " + std::to_string(at);
    return false;
  };
  auto entity_ok = [&](std::size_t i, std::size_t* end) {
    const std::size_t semi = s.find(';', i);
    if (semi == std::string::npos || semi - i > 10) return false;
    const std::string e = s.substr(i + 1, semi - i - 1);
    *end = semi + 1;
    if (e == "amp" || e == "lt" || e == "gt" || e == "quot" || e == "apos") return true;
    if (e.size() > 1 && e[0] == '#') {
      const bool hex = e[1] == 'x';
      const std::string digits = e.substr(hex ? 2 : 1);
      return !digits.empty() && std::all_of(digits.begin(), digits.end(), [&](char c) {
        return hex ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                   : std::isdigit(static_cast<unsigned char>(c)) != 0;
      });
    }
    return false;
  };
  auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '-' ||
           c == '.';
  };
  std::vector<std::string> stack;
  int roots = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '<') {
      if (s.compare(i, 4, "<!--") == 0) {
        const auto e = s.find("-->", i);
        if (e == std::string::npos) return fail("unclosed comment", i);
        i = e + 3;
        continue;
      }
      if (s.compare(i, 2, "<?") == 0) {
        const auto e = s.find("?>", i);
        if (e == std::string::npos) return fail("unclosed declaration", i);
        i = e + 2;
        continue;
      }
      if (s.compare(i, 2, "</") == 0) {
        std::size_t j = i + 2;
        while (j < s.size() && name_char(s[j])) ++j;
        const std::string name = s.substr(i + 2, j - i - 2);
        while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        if (j >= s.size() || s[j] != '>') return fail("bad end tag", i);
        if (stack.empty() || stack.back() != name) return fail("mismatched </" + name + ">", i);
        stack.pop_back();
        i = j + 1;
        continue;
      }
      std::size_t j = i + 1;
      while (j < s.size() && name_char(s[j])) ++j;
      const std::string name = s.substr(i + 1, j - i - 1);
      if (name.empty()) return fail("empty tag name", i);
      std::set<std::string> attrs;
      bool self_closing = false;
      for (;;) {
        while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        if (j >= s.size()) return fail("unterminated tag", i);
        if (s[j] == '>') {
          ++j;
          break;
        }
        if (s.compare(j, 2, "/>") == 0) {
          self_closing = true;
          j += 2;
          break;
        }
        const std::size_t a = j;
        while (j < s.size() && name_char(s[j])) ++j;
        const std::string attr = s.substr(a, j - a);
        if (attr.empty() || j >= s.size() || s[j] != '=') return fail("bad attribute", j);
        if (!attrs.insert(attr).second) return fail("duplicate attribute " + attr, j);
        ++j;
        if (j >= s.size() || (s[j] != '"' && s[j] != '\'')) return fail("unquoted attribute", j);
        const char q = s[j++];
        while (j < s.size() && s[j] != q) {
          if (s[j] == '<') return fail("'<' in attribute value", j);
          if (s[j] == '&') {
            std::size_t e;
            if (!entity_ok(j, &e)) return fail("bad entity in attribute", j);
            j = e;
          } else {
            ++j;
          }
        }
        if (j >= s.size()) return fail("unterminated attribute value", a);
        ++j;
      }
      if (stack.empty()) ++roots;
      if (!self_closing) stack.push_back(name);
      i = j;
      continue;
    }
    if (s[i] == '&') {
      std::size_t e;
      if (!entity_ok(i, &e)) return fail("bad entity in text", i);
      i = e;
      continue;
    }
    if (stack.empty() && !std::isspace(static_cast<unsigned char>(s[i])))
      return fail("text outside the root element", i);
    ++i;
  }
  if (!stack.empty()) return fail("unclosed <" + stack.back() + ">", s.size());
  if (roots != 1) return fail("expected one root element, got " + std::to_string(roots), 0);
  return true;
}

/// The number after "key": in the JSON object that starts at the model's "name".
double json_value(const std::string& json, const std::string& model, const std::string& key) {
  const auto at = json.find("\"name\": \"" + model + "\"");
  REQUIRE(at != std::string::npos);
  const auto end = json.find('}', at);
  const auto k = json.find("\"" + key + "\": ", at);
  REQUIRE(k != std::string::npos);
  REQUIRE(k < end);
  return std::strtod(json.c_str() + k + key.size() + 4, nullptr);
}

// ---- a small temporal heterogeneous graph and a brute-force reference ----------------------

struct Edge {
  std::int64_t src, dst;
  std::int64_t time;
  bool timed;
};

struct TestGraph {
  GraphFile file;
  // Every stored relation (forward and reverse) as an edge list, by "src__rel__dst".
  std::map<std::string, std::vector<Edge>> edges;
  std::map<std::string, std::vector<float>> x;  // per node type, row-major
  std::map<std::string, std::int64_t> cols;
};

/// user (x: 2 cols), card (no features), transaction (x: 3 cols, times, labels).
/// transaction -by-> user and -paid_with-> card carry the transaction's time, shifted for
/// some edges so that lists hold edges later than some targets; user -owns-> card has no
/// timestamps (a static relation). Reverse relations are added by the builder.
TestGraph make_graph(std::int64_t users, std::int64_t cards, std::int64_t txs, std::uint64_t seed,
                     bool sort_by_time) {
  std::mt19937_64 rng(seed);
  TestGraph g;
  auto uni = [&](std::int64_t n) { return std::int64_t(rng() % std::uint64_t(n)); };
  std::vector<std::int64_t> tx_time(static_cast<std::size_t>(txs));
  for (auto& t : tx_time) t = uni(50);  // many ties on purpose
  std::vector<std::int64_t> by_s, by_d, by_t, pw_s, pw_d, pw_t, own_s, own_d;
  for (std::int64_t t = 0; t < txs; ++t) {
    by_s.push_back(t), by_d.push_back(uni(users)), by_t.push_back(tx_time[std::size_t(t)]);
    const int n_cards = 1 + int(rng() % 2);  // some transactions use two cards (multi-edges)
    for (int c = 0; c < n_cards; ++c) {
      pw_s.push_back(t), pw_d.push_back(uni(cards));
      // Some edges are stamped later than their transaction: "future" for that target.
      pw_t.push_back(tx_time[std::size_t(t)] + (rng() % 4 == 0 ? 1 + uni(20) : 0));
    }
  }
  for (std::int64_t u = 0; u < users; ++u)
    for (int k = 0; k < 2; ++k) own_s.push_back(u), own_d.push_back(uni(cards));

  auto view = [](std::vector<std::int64_t>& v) {
    return TensorView(v.data(), DType::kInt64, Device::cpu(), {std::int64_t(v.size())});
  };
  BuildOptions opt;
  opt.add_reverse = true;
  opt.sort_by_time = sort_by_time;
  g.file.graph = HeteroGraph::from_coo(
      Context::cpu(2), {{"user", users}, {"card", cards}, {"transaction", txs}},
      {RelationInput{{"transaction", "by", "user"}, view(by_s), view(by_d), view(by_t), {}},
       RelationInput{{"transaction", "paid_with", "card"}, view(pw_s), view(pw_d), view(pw_t), {}},
       RelationInput{{"user", "owns", "card"}, view(own_s), view(own_d), {}, {}}},
      opt);
  auto add = [&](const std::string& src, const std::string& rel, const std::string& dst,
                 const std::vector<std::int64_t>& s, const std::vector<std::int64_t>& d,
                 const std::vector<std::int64_t>* t) {
    auto& fwd = g.edges[src + "__" + rel + "__" + dst];
    auto& rev = g.edges[dst + "__rev_" + rel + "__" + src];
    for (std::size_t i = 0; i < s.size(); ++i) {
      fwd.push_back({s[i], d[i], t ? (*t)[i] : 0, t != nullptr});
      rev.push_back({d[i], s[i], t ? (*t)[i] : 0, t != nullptr});
    }
  };
  add("transaction", "by", "user", by_s, by_d, &by_t);
  add("transaction", "paid_with", "card", pw_s, pw_d, &pw_t);
  add("user", "owns", "card", own_s, own_d, nullptr);

  auto features = [&](const std::string& type, std::int64_t rows, std::int64_t c) {
    std::vector<float> v(std::size_t(rows * c));
    std::uniform_real_distribution<float> d(-1, 1);
    for (auto& f : v) f = d(rng);
    g.x[type] = v;
    g.cols[type] = c;
    g.file.features.set_node_features(type, "x", HostArray::copy_of(std::span<const float>(v)),
                                      rows, c);
  };
  features("user", users, 2);
  features("transaction", txs, 3);
  g.cols["card"] = 0;
  g.file.features.set_node_times("transaction",
                                 HostArray::copy_of(std::span<const std::int64_t>(tx_time)));
  std::vector<std::int64_t> labels(static_cast<std::size_t>(txs));
  for (auto& l : labels) l = std::int64_t(rng() % 2);
  g.file.features.set_labels("transaction",
                             HostArray::copy_of(std::span<const std::int64_t>(labels)));
  return g;
}

/// Brute force: per column name, the expected value for target v.
std::map<std::string, double> brute_force(const TestGraph& g, std::int64_t v, bool temporal) {
  const std::string target = "transaction";
  const std::int64_t tv = g.file.features.node_times(target).as<std::int64_t>()[std::size_t(v)];
  auto ok = [&](const Edge& e) { return !temporal || !e.timed || e.time <= tv; };
  auto type_of = [](const std::string& rel, bool src) {
    const auto a = rel.find("__"), b = rel.rfind("__");
    return src ? rel.substr(0, a) : rel.substr(b + 2);
  };
  std::map<std::string, double> out;
  const auto& xt = g.x.at(target);
  for (std::int64_t j = 0; j < 3; ++j)
    out["self.x" + std::to_string(j)] = xt[std::size_t(v * 3 + j)];
  const Schema& schema = g.file.graph.schema();
  for (const auto& t1 : schema.relations()) {
    if (t1.dst != target) continue;
    const std::string r1 = t1.str();
    const std::int64_t ca = g.cols.at(t1.src);
    std::vector<double> sum(std::size_t(ca), 0);
    std::vector<std::int64_t> hop1;  // eligible 1-hop sources, with multiplicity
    for (const Edge& e : g.edges.at(r1))
      if (e.dst == v && ok(e)) hop1.push_back(e.src);
    for (std::int64_t a : hop1)
      for (std::int64_t j = 0; j < ca; ++j)
        sum[std::size_t(j)] += g.x.at(t1.src)[std::size_t(a * ca + j)];
    for (std::int64_t j = 0; j < ca; ++j)
      out["1hop." + r1 + ".mean.x" + std::to_string(j)] =
          hop1.empty() ? 0 : sum[std::size_t(j)] / double(hop1.size());
    out["1hop." + r1 + ".count"] = double(hop1.size());
    for (const auto& t2 : schema.relations()) {
      if (t2.dst != t1.src) continue;
      const std::string r2 = t2.str();
      const std::int64_t cb = g.cols.at(type_of(r2, true));
      std::vector<double> s2(std::size_t(cb), 0);
      double count = 0;
      for (std::int64_t a : hop1)
        for (const Edge& e : g.edges.at(r2))
          if (e.dst == a && ok(e)) {
            count += 1;
            for (std::int64_t j = 0; j < cb; ++j)
              s2[std::size_t(j)] += g.x.at(t2.src)[std::size_t(e.src * cb + j)];
          }
      const std::string prefix = "2hop." + r1 + "." + r2 + ".";
      for (std::int64_t j = 0; j < cb; ++j)
        out[prefix + "mean.x" + std::to_string(j)] = count == 0 ? 0 : s2[std::size_t(j)] / count;
      out[prefix + "count"] = count;
    }
  }
  return out;
}

void require_matches_brute_force(const TestGraph& g, const DenseMatrix& m,
                                 const std::vector<std::int64_t>& ids, bool temporal) {
  REQUIRE(m.rows == std::int64_t(ids.size()));
  REQUIRE(std::int64_t(m.column_names.size()) == m.cols);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto expected = brute_force(g, ids[i], temporal);
    REQUIRE(expected.size() == std::size_t(m.cols));  // same set of columns, no extra
    for (std::int64_t c = 0; c < m.cols; ++c) {
      const std::string& name = m.column_names[std::size_t(c)];
      INFO("target " << ids[i] << ", column " << name);
      REQUIRE(expected.count(name) == 1);
      CHECK(m.row(std::int64_t(i))[c] == Approx(expected.at(name)).margin(1e-5));
    }
  }
}

}  // namespace

// ---- neighbour aggregation -----------------------------------------------------------------

TEST_CASE("neighbour_aggregated_features equals a brute-force loop", "[fraud][baselines]") {
  const TestGraph g = make_graph(7, 5, 60, 11, true);
  std::vector<std::int64_t> ids(60);
  for (std::int64_t i = 0; i < 60; ++i) ids[std::size_t(i)] = (i * 37) % 60;  // shuffled
  ids.push_back(3);                                                           // repeats allowed
  for (bool temporal : {true, false}) {
    DYNAMIC_SECTION("temporal=" << temporal) {
      const DenseMatrix m = neighbour_aggregated_features(g.file, "transaction", ids, temporal, 2);
      require_matches_brute_force(g, m, ids, temporal);
      // Columns: own 3; 1-hop from user (2+1) and card (0+1); 2-hop user<-tx (3+1),
      // user<-card (0+1: no features, count only), card<-tx (3+1), card<-user (2+1).
      CHECK(m.cols == 3 + 3 + 1 + 4 + 1 + 4 + 3);
    }
  }
}

TEST_CASE("neighbour aggregation excludes future edges", "[fraud][baselines]") {
  const TestGraph g = make_graph(3, 4, 40, 5, true);
  std::vector<std::int64_t> ids(40);
  for (std::int64_t i = 0; i < 40; ++i) ids[std::size_t(i)] = i;
  const DenseMatrix now = neighbour_aggregated_features(g.file, "transaction", ids, true, 1);
  const DenseMatrix all = neighbour_aggregated_features(g.file, "transaction", ids, false, 1);
  const auto col = [&](const std::string& name) {
    const auto it = std::find(now.column_names.begin(), now.column_names.end(), name);
    REQUIRE(it != now.column_names.end());
    return std::int64_t(it - now.column_names.begin());
  };
  const std::int64_t same_user = col("2hop.user__rev_by__transaction.transaction__by__user.count");
  const auto times = g.file.features.node_times("transaction").as<std::int64_t>();
  bool some_fewer = false;
  for (std::int64_t i = 0; i < 40; ++i) {
    // Exactly the user's transactions no later than this one (itself included).
    std::int64_t user = -1;
    for (const Edge& e : g.edges.at("transaction__by__user"))
      if (e.src == i) user = e.dst;
    std::int64_t expected = 0, total = 0;
    for (const Edge& e : g.edges.at("transaction__by__user"))
      if (e.dst == user) {
        ++total;
        expected += times[std::size_t(e.src)] <= times[std::size_t(i)];
      }
    CHECK(now.row(i)[same_user] == float(expected));
    CHECK(all.row(i)[same_user] == float(total));
    some_fewer = some_fewer || expected < total;
  }
  CHECK(some_fewer);  // the graph does have future edges to exclude
}

TEST_CASE("neighbour aggregation: unsorted lists, thread counts and own features agree",
          "[fraud][baselines]") {
  const TestGraph sorted = make_graph(9, 6, 80, 23, true);
  const TestGraph unsorted = make_graph(9, 6, 80, 23, false);
  REQUIRE_FALSE(unsorted.file.graph.relation("transaction__by__user").sorted_by_time);
  std::vector<std::int64_t> ids(80);
  for (std::int64_t i = 0; i < 80; ++i) ids[std::size_t(i)] = 79 - i;
  const DenseMatrix a = neighbour_aggregated_features(sorted.file, "transaction", ids, true, 1);
  const DenseMatrix b = neighbour_aggregated_features(sorted.file, "transaction", ids, true, 2);
  const DenseMatrix c = neighbour_aggregated_features(unsorted.file, "transaction", ids, true, 2);
  CHECK(a.values == b.values);  // bit-identical whatever the thread count
  require_matches_brute_force(unsorted, c, ids, true);
  REQUIRE(c.column_names == a.column_names);
  for (std::size_t k = 0; k < a.values.size(); ++k)
    REQUIRE(c.values[k] == Approx(a.values[k]).margin(1e-5));

  const DenseMatrix own = own_features(sorted.file, "transaction", ids);
  REQUIRE(own.cols == 3);
  for (std::int64_t i = 0; i < own.rows; ++i)
    for (std::int64_t j = 0; j < 3; ++j)
      CHECK(own.row(i)[j] == sorted.x.at("transaction")[std::size_t(ids[std::size_t(i)] * 3 + j)]);
  const auto labels = gather_labels(sorted.file, "transaction", ids);
  const auto stored = sorted.file.features.labels("transaction").as<std::int64_t>();
  for (std::size_t i = 0; i < ids.size(); ++i) CHECK(labels[i] == stored[std::size_t(ids[i])]);
}

TEST_CASE("feature builders reject bad input clearly", "[fraud][baselines]") {
  const TestGraph g = make_graph(3, 3, 10, 1, true);
  const std::vector<std::int64_t> bad{0, 10};
  CHECK_THROWS_AS(neighbour_aggregated_features(g.file, "transaction", bad, true), OutOfRange);
  CHECK_THROWS_WITH(neighbour_aggregated_features(g.file, "transaction", bad, true),
                    Catch::Contains("ids[1]") && Catch::Contains("[0, 10)"));
  CHECK_THROWS_WITH(own_features(g.file, "payment", std::vector<std::int64_t>{0}),
                    Catch::Contains("'payment'") && Catch::Contains("transaction"));
  CHECK_THROWS_WITH(own_features(g.file, "card", std::vector<std::int64_t>{0}),
                    Catch::Contains("'card'") && Catch::Contains("'x'"));
  CHECK_THROWS_AS(gather_labels(g.file, "user", std::vector<std::int64_t>{0}), InvalidArgument);
}

// ---- XGBoost -------------------------------------------------------------------------------

namespace {
/// y = 1 when 2 x0 + x1 > 2.3 (about 10% positives); x2..x5 are noise.
void synthetic(std::int64_t n, std::uint64_t seed, DenseMatrix* x, std::vector<std::int64_t>* y) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  x->rows = n;
  x->cols = 6;
  x->values.resize(std::size_t(n * 6));
  y->resize(std::size_t(n));
  for (std::int64_t i = 0; i < n; ++i) {
    float* r = x->row(i);
    for (int j = 0; j < 6; ++j) r[j] = u(rng);
    if (i % 17 == 0) r[4] = std::nanf("");  // missing values are allowed
    (*y)[std::size_t(i)] = 2 * r[0] + r[1] > 2.3f;
  }
}
}  // namespace

TEST_CASE("XGBoost baseline learns a simple rule", "[fraud][xgboost]") {
  DenseMatrix tx, vx, sx;
  std::vector<std::int64_t> ty, vy, sy;
  synthetic(4000, 1, &tx, &ty);
  synthetic(1500, 2, &vx, &vy);
  synthetic(1500, 3, &sx, &sy);
  XgbConfig cfg;
  cfg.rounds = 120;
  cfg.early_stopping_rounds = 15;
  cfg.threads = 2;
  const XgbResult r = train_and_predict(tx, ty, vx, vy, sx, cfg);
  REQUIRE(r.test_scores.size() == 1500);
  REQUIRE(r.val_scores.size() == 1500);
  const double auc =
      roc_auc(std::span<const float>(r.test_scores), std::span<const std::int64_t>(sy));
  CHECK(auc > 0.95);
  CHECK(r.best_iteration >= 0);
  CHECK(r.best_iteration < r.rounds_trained);
  CHECK(r.rounds_trained <= cfg.rounds);
  CHECK(r.rounds_trained <= r.best_iteration + 1 + cfg.early_stopping_rounds);
  REQUIRE(int(r.val_pr_auc.size()) == r.rounds_trained);
  CHECK(r.best_val_pr_auc == *std::max_element(r.val_pr_auc.begin(), r.val_pr_auc.end()));
  // The kept model is the best round's: its validation AP is the recorded best.
  CHECK(
      average_precision(std::span<const float>(r.val_scores), std::span<const std::int64_t>(vy)) ==
      Approx(r.best_val_pr_auc).epsilon(1e-6));
  CHECK(r.scale_pos_weight > 1);  // automatic: negatives / positives
  for (float p : r.test_scores) REQUIRE((p >= 0 && p <= 1));
  REQUIRE(r.gain_importance.size() == 6);
  // The informative columns carry the most gain.
  const double top_noise =
      *std::max_element(r.gain_importance.begin() + 2, r.gain_importance.end());
  CHECK(r.gain_importance[0] > top_noise);
  CHECK(r.gain_importance[1] > top_noise);
  CHECK(xgboost_version().rfind("xgboost ", 0) == 0);
}

TEST_CASE("XGBoost baseline errors are clear", "[fraud][xgboost]") {
  DenseMatrix tx, vx;
  std::vector<std::int64_t> ty, vy;
  synthetic(300, 1, &tx, &ty);
  synthetic(100, 2, &vx, &vy);
  XgbConfig cfg;
  cfg.rounds = 5;
  SECTION("column mismatch") {
    DenseMatrix narrow = vx;
    narrow.cols = 5;
    narrow.values.resize(std::size_t(narrow.rows * 5));
    CHECK_THROWS_AS(train_and_predict(tx, ty, vx, vy, narrow, cfg), ShapeMismatch);
    CHECK_THROWS_WITH(train_and_predict(tx, ty, vx, vy, narrow, cfg),
                      Catch::Contains("'test_x' must have 6 columns"));
  }
  SECTION("labels") {
    auto y = ty;
    y[7] = 2;
    CHECK_THROWS_WITH(train_and_predict(tx, y, vx, vy, vx, cfg),
                      Catch::Contains("'train_y[7]' must be 0 or 1, got 2"));
    std::vector<std::int64_t> zeros(ty.size(), 0);
    CHECK_THROWS_WITH(train_and_predict(tx, zeros, vx, vy, vx, cfg),
                      Catch::Contains("both classes"));
    std::vector<std::int64_t> short_y(ty.begin(), ty.end() - 1);
    CHECK_THROWS_AS(train_and_predict(tx, short_y, vx, vy, vx, cfg), ShapeMismatch);
  }
  SECTION("values and config") {
    DenseMatrix inf = tx;
    inf.row(3)[2] = INFINITY;
    CHECK_THROWS_WITH(train_and_predict(inf, ty, vx, vy, vx, cfg),
                      Catch::Contains("row 3, column 2"));
    XgbConfig bad = cfg;
    bad.eta = 0;
    CHECK_THROWS_AS(train_and_predict(tx, ty, vx, vy, vx, bad), InvalidArgument);
  }
  SECTION("XGBoost's own errors become BackendError with its message") {
    XgbConfig bad = cfg;
    bad.extra_params = {{"max_bin", "-3"}};
    try {
      train_and_predict(tx, ty, vx, vy, vx, bad);
      FAIL("no exception");
    } catch (const BackendError& e) {
      const std::string what = e.what();
      CHECK_THAT(what, Catch::StartsWith("train_and_predict: XGBoost "));
      CHECK_THAT(what, Catch::Contains("max_bin"));
    }
  }
}

// ---- SVG charts ----------------------------------------------------------------------------

TEST_CASE("SVG charts are well-formed XML", "[fraud][svg]") {
  LineChart c;
  c.title = "A & B <test> \"quoted\"";
  c.x_label = "x";
  c.y_label = "y";
  std::vector<double> x, y;
  for (int i = 0; i < 5000; ++i) x.push_back(i / 5000.0), y.push_back(std::sqrt(i / 5000.0));
  y[100] = NAN;  // a gap
  c.series.push_back({"curve <1>", x, y, ""});
  c.series.push_back({"chance", {0, 1}, {0, 1}, kReferenceGrey, true, 1.5});
  const std::string svg = render_svg(c);
  std::string why;
  const bool line_ok = well_formed_xml(svg, &why);
  INFO(why);
  CHECK(line_ok);
  CHECK(svg.find("A &amp; B &lt;test&gt;") != std::string::npos);
  CHECK(svg.size() < 200000);  // 5000 points thinned to what the pixels show

  Histogram h;
  h.title = "scores";
  h.classes = {{"negative", {0.1, 0.2, 0.2, 0.3}, ""}, {"positive", {0.8, 0.9, NAN}, ""}};
  h.range = {{0.0, 1.0}};
  const std::string hs = render_svg(h);
  const bool hist_ok = well_formed_xml(hs, &why);
  INFO(why);
  CHECK(hist_ok);
  const bool row_ok = well_formed_xml(render_svg_row({c, c}), &why);
  INFO(why);
  CHECK(row_ok);

  LineChart bad = c;
  bad.series[0].y.pop_back();
  CHECK_THROWS_AS(render_svg(bad), InvalidArgument);
  Histogram no_bins = h;
  no_bins.bins = 0;
  CHECK_THROWS_AS(render_svg(no_bins), InvalidArgument);
}

// ---- report --------------------------------------------------------------------------------

namespace {
ModelScores noisy_model(const std::string& name, const std::vector<std::int64_t>& labels,
                        double signal, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  ModelScores m{name, {}, labels};
  for (std::int64_t l : labels)
    m.scores.push_back(float(1 / (1 + std::exp(-(signal * double(l) - 2.5 + noise(rng))))));
  return m;
}
}  // namespace

TEST_CASE("write_report writes every file and the metrics of the library", "[fraud][report]") {
  TempDir tmp;
  std::vector<std::int64_t> labels(3000);
  std::mt19937_64 rng(9);
  for (auto& l : labels) l = rng() % 25 == 0;
  ReportInput in;
  in.title = "Fraud <GNN> vs baselines";
  in.dataset = "Synthetic test data & more.";
  in.split_note = "by time: 60/20/20";
  in.models = {noisy_model("GNN (sage)", labels, 3.0, 1),
               noisy_model("XGBoost own", labels, 1.0, 2),
               noisy_model("XGBoost own", labels, 2.0, 3)};  // duplicate names get unique files
  in.history.train_loss = {0.6, 0.4, 0.3, 0.25};
  in.history.val_loss = {0.62, 0.45, 0.41, NAN};
  in.history.val_pr_auc = {0.2, 0.35, 0.4, 0.38};
  in.history.best_epoch = 2;
  in.extra = {{"seconds per epoch", "1.25"}, {"threads", "2"}};
  const fs::path dir = tmp.path / "nested" / "report";
  const ReportOutput out = write_report(dir.string(), in);

  for (const char* f :
       {"metrics.json", "roc.svg", "pr.svg", "training.svg", "hist_gnn_sage.svg",
        "hist_xgboost_own.svg", "hist_xgboost_own_2.svg", "report.md", "report.html"})
    CHECK(fs::exists(dir / f));
  CHECK(out.files.size() == 9);
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    CHECK(name.find(".tmp") == std::string::npos);  // no temporary left behind
    if (entry.path().extension() == ".svg") {
      std::string why;
      const bool ok = well_formed_xml(read_file(entry.path()), &why);
      INFO(name << ": " << why);
      CHECK(ok);
    }
  }
  const std::string json = read_file(dir / "metrics.json");
  for (std::size_t k = 0; k < 2; ++k) {
    const ModelScores& m = in.models[k];
    const std::span<const float> s(m.scores);
    const std::span<const std::int64_t> y(m.labels);
    CHECK(json_value(json, m.name, "roc_auc") == roc_auc(s, y));
    CHECK(json_value(json, m.name, "pr_auc") == average_precision(s, y));
    CHECK(json_value(json, m.name, "recall_at_1pct_fpr") == recall_at_fpr(s, y, 0.01));
    CHECK(json_value(json, m.name, "precision_at_top_0.5pct") ==
          precision_at_top_fraction(s, y, 0.005));
    CHECK(json_value(json, m.name, "count") == 3000);
    CHECK(out.metrics[k].roc_auc == roc_auc(s, y));
  }
  CHECK(json.find("\"val_loss\": [0.62, 0.45, 0.41, null]") != std::string::npos);
  CHECK(json.find("\"best\": {\"roc_auc\": \"GNN (sage)\"") != std::string::npos);

  const std::string md = read_file(dir / "report.md");
  CHECK(md.find("![ROC curves](roc.svg)") != std::string::npos);
  CHECK(md.find("by time: 60/20/20") != std::string::npos);
  CHECK(md.find("★") != std::string::npos);
  const std::string html = read_file(dir / "report.html");
  CHECK(html.find("Fraud &lt;GNN&gt; vs baselines") != std::string::npos);
  CHECK(html.find("<svg") != std::string::npos);  // inlined charts
  CHECK(html.find("class=\"best\"") != std::string::npos);
  // Inlined SVGs must not share element ids.
  std::set<std::string> ids;
  for (std::size_t p = html.find(" id=\""); p != std::string::npos;
       p = html.find(" id=\"", p + 1)) {
    const std::string id = html.substr(p + 5, html.find('"', p + 5) - p - 5);
    CHECK(ids.insert(id).second);
  }

  SECTION("without a training history there is no training plot") {
    ReportInput no_history = in;
    no_history.history = {};
    const fs::path d2 = tmp.path / "no-history";
    write_report(d2.string(), no_history);
    CHECK_FALSE(fs::exists(d2 / "training.svg"));
    CHECK(fs::exists(d2 / "report.html"));
  }
}

TEST_CASE("write_report errors are clear", "[fraud][report]") {
  TempDir tmp;
  ReportInput in;
  std::vector<std::int64_t> labels{0, 1, 0, 1};
  in.models = {ModelScores{"m", {0.1f, 0.9f, 0.2f, 0.7f}, labels}};
  SECTION("the folder cannot be created") {
    const fs::path file = tmp.path / "plain-file";
    std::ofstream(file) << "x";
    const std::string bad = (file / "report").string();
    CHECK_THROWS_AS(write_report(bad, in), IoError);
    CHECK_THROWS_WITH(write_report(bad, in), Catch::Contains(bad));
    CHECK_THROWS_WITH(write_report(file.string(), in), Catch::Contains(file.string()));
  }
  SECTION("bad models name the model") {
    in.models[0].labels = {0, 0, 0, 0};
    CHECK_THROWS_WITH(write_report(tmp.path.string(), in),
                      Catch::Contains("model 'm'") && Catch::Contains("both classes"));
    in.models[0].labels = {0, 1};
    CHECK_THROWS_AS(write_report(tmp.path.string(), in), ShapeMismatch);
    in.models.clear();
    CHECK_THROWS_AS(write_report(tmp.path.string(), in), InvalidArgument);
  }
  SECTION("a folder cannot be replaced by a file") {
    fs::create_directories(tmp.path / "metrics.json");  // a directory where a file goes
    CHECK_THROWS_WITH(write_report(tmp.path.string(), in),
                      Catch::Contains((tmp.path / "metrics.json").string()));
    for (const auto& entry : fs::directory_iterator(tmp.path))
      CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);
  }
}
