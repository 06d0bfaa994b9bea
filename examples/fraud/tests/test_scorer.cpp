// Tests of the online scorer (gnnkit-fraud score): one output per input line in order, errors
// naming the field, the overlay, equality with the generator's features and with
// FraudModel::predict on base-graph transactions, checkpoint mismatches, the JSON parser.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gnnkit/core/error.hpp>
#include <gnnkit/nn/model.hpp>
#include <gnnkit/train/checkpoint.hpp>

#include "src/generator.hpp"
#include "src/scorer.hpp"
#include "src/trainer.hpp"

using namespace gnnkit;
using namespace gnnkit::fraud;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("gnnkit_scorer_" + std::to_string(::getpid()) + "_" + name)).string();
}

/// A small graph and an (untrained: random weights are as good for equality checks) model
/// checkpoint, shared by the tests.
struct World {
  GraphFile file;
  std::string ckpt;        // with seed-identity columns (the default)
  std::string ckpt_plain;  // without (as checkpoints from before them)
  World() {
    GeneratorOptions o;
    o.users = 2000;
    o.seed = 5;
    o.num_threads = 1;
    file = generate(o);
    TrainConfig cfg;
    cfg.hidden = 16;
    cfg.layers = 2;
    cfg.fanouts = {-1, -1};
    cfg.seed = 3;
    cfg.threads = 1;
    FraudModel fm(file, cfg);
    REQUIRE(fm.seed_identity().columns(file.graph.schema().node_type_id("transaction")) == 5);
    ckpt = temp_path("model.ckpt");
    save_checkpoint(ckpt, fm.model().parameters(), nullptr,
                    {{"conv", "sage"}, {"layers", "2"}, {"hidden", "16"}, {"heads", "4"}, {"target", "transaction"},
                     {"seed_identity", "1"}});
    cfg.seed_identity = false;
    FraudModel plain(file, cfg);
    ckpt_plain = temp_path("plain.ckpt");
    save_checkpoint(ckpt_plain, plain.model().parameters(), nullptr,
                    {{"conv", "sage"}, {"layers", "2"}, {"hidden", "16"}, {"heads", "4"}, {"target", "transaction"}});
  }
  ~World() {
    std::filesystem::remove(ckpt);
    std::filesystem::remove(ckpt_plain);
  }
  std::int64_t num_tx() const { return file.graph.num_nodes("transaction"); }
  std::int64_t time(std::int64_t j) const { return file.features.node_times("transaction").as<std::int64_t>()[std::size_t(j)]; }
};

World& world() {
  static World w;
  return w;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

ScorerOptions full_fanout(std::int64_t as_of) {
  ScorerOptions o;
  o.fanouts = {-1, -1};
  o.as_of = as_of;
  return o;
}

}  // namespace

TEST_CASE("flat JSON parser: values, escapes and clear rejections", "[fraud][scorer]") {
  JsonObject obj;
  REQUIRE(parse_flat_json(R"({"id": "tx\"1\u00e9", "amount": -4.5e1, "ok": true, "n": null})", obj).empty());
  REQUIRE(obj.fields.size() == 4);
  CHECK(obj.find("id")->text == "tx\"1\xc3\xa9");
  CHECK(obj.find("amount")->number == -45.0);
  CHECK(obj.find("amount")->json() == "-4.5e1");
  CHECK(obj.find("ok")->boolean);
  CHECK(parse_flat_json(R"({"a": {"b": 1}})", obj).find("field 'a' holds an object") != std::string::npos);
  CHECK(parse_flat_json(R"({"a": [1]})", obj).find("field 'a' holds an array") != std::string::npos);
  CHECK(parse_flat_json(R"({"a": 1,})", obj).find("malformed JSON") != std::string::npos);
  CHECK(parse_flat_json(R"({"a": 1} x)", obj).find("unexpected text") != std::string::npos);
  CHECK(parse_flat_json(R"({"a": 1, "a": 2})", obj).find("duplicate field 'a'") != std::string::npos);
  CHECK(parse_flat_json("", obj).find("empty line") != std::string::npos);
  CHECK(parse_flat_json(R"({"a": 01})", obj).find("expected ',' or '}'") != std::string::npos);
  CHECK(parse_flat_json(R"({"a": "x)", obj).find("unterminated string") != std::string::npos);
}

TEST_CASE("scorer: base-graph transactions get the generator's features and predict()'s score",
          "[fraud][scorer]") {
  World& w = world();
  const bool identity = GENERATE(true, false);
  const std::string& ckpt = identity ? w.ckpt : w.ckpt_plain;
  INFO("seed-identity columns: " << identity);
  const std::int64_t n = w.num_tx();
  std::int64_t first_time = 0, count = 0;
  const auto lines = split_lines(export_transactions(w.file, 150, &first_time, &count));
  REQUIRE(std::int64_t(lines.size()) == count);
  const std::int64_t i0 = n - count;
  Scorer scorer(w.file, ckpt, full_fanout(first_time));
  CHECK(scorer.model().seed_identity().empty() == !identity);
  CHECK(scorer.base_transactions() == i0);
  std::vector<ScoreResult> results;
  for (const auto& line : lines) results.push_back(scorer.score_one(line));
  std::vector<std::int64_t> ids;
  for (std::int64_t j = i0; j < n; ++j) ids.push_back(j);
  const std::vector<float> expected = scorer.model().predict(ids);
  // predict() also sees base transactions of the same second that come later (ties): the
  // stream has not seen them yet. Skip transactions with such a tie on one of their entities.
  const auto& times = w.file.features.node_times("transaction").as<std::int64_t>();
  auto entity = [&](const char* rel, const char* type, std::int64_t j) {
    const Relation& r = w.file.graph.relation(EdgeType{type, std::string("rev_") + rel, "transaction"});
    const std::int64_t p = r.csc_indptr.as<std::int64_t>()[std::size_t(j)];
    return r.index_dtype() == DType::kInt32 ? std::int64_t(r.csc_indices.as<std::int32_t>()[std::size_t(p)])
                                            : r.csc_indices.as<std::int64_t>()[std::size_t(p)];
  };
  const char* rels[][2] = {{"by", "user"}, {"paid_with", "card"}, {"from_device", "device"}, {"from_ip", "ip"}, {"at", "merchant"}};
  const auto& x = w.file.features.node_features("transaction", "x");
  int compared = 0;
  double max_feature_diff = 0, max_score_diff = 0;
  for (std::int64_t j = i0; j < n; ++j) {
    const ScoreResult& r = results[std::size_t(j - i0)];
    REQUIRE(r.error.empty());
    REQUIRE(r.features.size() == std::size_t(x.cols));
    for (std::int64_t c = 0; c < x.cols; ++c)
      max_feature_diff = std::max(max_feature_diff, double(std::fabs(r.features[std::size_t(c)] - x.row(j)[c])));
    bool tie = false;
    for (std::int64_t q = j + 1; q < n && times[std::size_t(q)] == times[std::size_t(j)]; ++q)
      for (const auto& rt : rels) tie = tie || entity(rt[0], rt[1], q) == entity(rt[0], rt[1], j);
    if (tie) continue;
    ++compared;
    max_score_diff = std::max(max_score_diff, std::fabs(r.score - double(expected[std::size_t(j - i0)])));
    REQUIRE(r.reasons.size() == 3);
  }
  CHECK(max_feature_diff <= 1e-5);
  CHECK(compared >= 140);
  CHECK(max_score_diff <= 1e-4);

  SECTION("a batch scores like one line at a time") {
    Scorer batch_scorer(w.file, ckpt, full_fanout(first_time));
    std::vector<std::string_view> views(lines.begin(), lines.end());
    const auto batch = batch_scorer.score(views);
    REQUIRE(batch.size() == lines.size());
    for (std::size_t i = 0; i < batch.size(); ++i) CHECK(std::fabs(batch[i].score - results[i].score) <= 1e-5);
  }
}

TEST_CASE("scorer: one output per input line, in order, errors naming the field", "[fraud][scorer]") {
  World& w = world();
  Scorer scorer(w.file, w.ckpt);
  const std::int64_t t = scorer.latest_time() + 60;
  const std::string ts = std::to_string(t);
  auto tx = [&](const std::string& id, const std::string& extra) {
    return "{\"id\": \"" + id + "\", \"user\": \"u12\", \"card\": 7, \"device\": \"d3\", \"ip\": \"ip4\", \"merchant\": \"m1\"" + extra + "}";
  };
  const std::vector<std::string> lines = {
      tx("ok-1", ", \"amount\": 12.5, \"time\": " + ts),
      "{\"id\": \"bad-json\", \"amount\": ",
      tx("no-amount", ", \"time\": " + ts),
      tx("abc", ", \"amount\": \"abc\", \"time\": " + ts),
      tx("cat", ", \"amount\": 3, \"time\": " + ts + ", \"category\": \"toys\""),
      tx("past", ", \"amount\": 3, \"time\": " + std::to_string(t - 100000)),
      tx("future", ", \"amount\": 3, \"time\": " + std::to_string(t + 10000000)),
      tx("nested", ", \"amount\": 3, \"time\": " + ts + ", \"x\": {\"y\": 1}"),
      tx("float-time", ", \"amount\": 3, \"time\": 1.5"),
      "{\"user\": \"u1\"}",
      "{\"id\": \"new-merchant\", \"user\": 1, \"card\": 1, \"device\": 1, \"ip\": 1, \"merchant\": \"m999999\", \"amount\": 3, \"time\": " + ts + "}",
      "",
      tx("ok-2", ", \"amount\": 99, \"time\": " + ts + ", \"label\": 1"),
  };
  std::vector<std::string_view> views(lines.begin(), lines.end());
  const auto results = scorer.score(views);
  REQUIRE(results.size() == lines.size());
  CHECK(results[0].error.empty());
  CHECK(results[0].id_json == "\"ok-1\"");
  CHECK(results[1].error.find("malformed JSON") != std::string::npos);
  CHECK(results[2].error == "missing field 'amount'");
  CHECK(results[3].error == "field 'amount' must be a number, got \"abc\"");
  CHECK(results[4].error.find("field 'category' must be one of") != std::string::npos);
  CHECK(results[4].error.find("\"toys\"") != std::string::npos);
  CHECK(results[5].error.find("field 'time'") != std::string::npos);
  CHECK(results[5].error.find("past") != std::string::npos);
  CHECK(results[6].error.find("future") != std::string::npos);
  CHECK(results[7].error.find("field 'x' holds an object") != std::string::npos);
  CHECK(results[8].error.find("field 'time' must be an integer") != std::string::npos);
  CHECK(results[9].error == "missing field 'id'");
  CHECK(results[10].error.find("'category'") != std::string::npos);
  CHECK(results[10].error.find("m999999") != std::string::npos);
  CHECK(results[11].error.find("empty line") != std::string::npos);
  CHECK(results[12].error.empty());
  CHECK(results[12].score >= 0.0);
  CHECK(results[12].score <= 1.0);
  for (std::size_t i = 1; i + 1 < results.size(); ++i) CHECK(!results[i].error.empty());
  // Ids are echoed as given; errors keep them.
  CHECK(results[3].json().rfind("{\"id\": \"abc\", \"error\": ", 0) == 0);
  CHECK(results[0].json().find("\"reasons\": [{\"entity\": ") != std::string::npos);
  CHECK(scorer.overlay_size() == 2);  // rejected lines leave no trace

  SECTION("the CLI writes exactly one line per input line") {
    const std::string in = temp_path("in.jsonl"), out = temp_path("out.jsonl"), graph = temp_path("g.gnn");
    save_graph(graph, w.file);
    {
      std::ofstream f(in);
      for (const auto& l : lines) f << l << "\n";
    }
    for (const char* batch : {"1", "5"}) {
      const int rc = score_command({"--graph", graph, "--model", w.ckpt, "--input", in, "--output", out, "--batch", batch});
      CHECK(rc == 0);
      std::ifstream f(out);
      std::vector<std::string> got;
      for (std::string l; std::getline(f, l);) got.push_back(l);
      REQUIRE(got.size() == lines.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        // Another batch split may change the last float bits (GEMM blocking): compare scores
        // with a tolerance, everything else exactly.
        JsonObject a, b;
        auto head = [](const std::string& line) {  // the line without its reasons array
          const auto cut = line.find(", \"reasons\"");
          return cut == std::string::npos ? line : line.substr(0, cut) + "}";
        };
        const std::string ga = head(got[i]), gb = head(results[i].json());
        REQUIRE(parse_flat_json(ga, a).empty());
        REQUIRE(parse_flat_json(gb, b).empty());
        REQUIRE((a.find("id") == nullptr) == (b.find("id") == nullptr));
        if (a.find("id")) CHECK(a.find("id")->json() == b.find("id")->json());
        if (b.find("error")) CHECK(a.find("error")->text == b.find("error")->text);
        else CHECK(a.find("score")->number == Approx(b.find("score")->number).margin(1e-5));
      }
    }
    std::filesystem::remove(in);
    std::filesystem::remove(out);
    std::filesystem::remove(graph);
  }
}

TEST_CASE("scorer: the overlay makes later transactions see earlier ones", "[fraud][scorer]") {
  World& w = world();
  ScorerOptions o;
  o.num_reasons = 5;
  const std::string t1 = std::to_string(w.time(w.num_tx() - 1) + 10), t2 = std::to_string(w.time(w.num_tx() - 1) + 70);
  const std::string a = R"({"id": 1, "user": "alice", "card": "card-a", "device": "new-phone", "ip": "ip1", "merchant": "m2", "amount": 50, "time": )" + t1 + "}";
  const std::string b = R"({"id": 2, "user": "bob", "card": "card-b", "device": "new-phone", "ip": "ip1", "merchant": "m2", "amount": 70, "time": )" + t2 + "}";
  const std::string a2 = R"({"id": 3, "user": "alice", "card": "card-a", "device": "new-phone", "ip": "ip1", "merchant": "m2", "amount": 60, "time": )" + t2 + "}";
  Scorer scorer(w.file, w.ckpt, o);
  const ScoreResult ra = scorer.score_one(a);
  const ScoreResult rb = scorer.score_one(b);
  const ScoreResult ra2 = scorer.score_one(a2);
  REQUIRE(ra.error.empty());
  REQUIRE(rb.error.empty());
  REQUIRE(ra2.error.empty());
  auto reason = [](const ScoreResult& r, const std::string& entity) {
    for (const auto& x : r.reasons)
      if (x.entity == entity) return x.why;
    return std::string("(none)");
  };
  CHECK(reason(ra, "device new-phone") == "new device, never seen before");
  CHECK(reason(rb, "device new-phone").find("shared with 1 other user") != std::string::npos);
  CHECK(reason(rb, "device new-phone").find("1 earlier transaction on it") != std::string::npos);
  // alice's second transaction: one prior (1 in the last hour), same device, not new for her.
  const auto& cols = feature_columns("transaction");
  auto col = [&](const char* name) { return std::size_t(std::find(cols.begin(), cols.end(), name) - cols.begin()); };
  CHECK(ra.features[col("user_prior_tx")] == 0.f);
  CHECK(ra2.features[col("user_prior_tx")] == Approx(std::log1p(1.0)));
  CHECK(ra2.features[col("user_tx_1h")] == Approx(std::log1p(1.0)));
  CHECK(ra2.features[col("new_device_for_user")] == 0.f);
  CHECK(ra2.features[col("hours_since_user_prev_tx")] == Approx(std::log1p(60.0 / 3600.0)));
  CHECK(reason(ra2, "user alice").find("1 earlier transaction") != std::string::npos);
  // Without the overlay, bob's transaction has a different neighbourhood, hence score.
  Scorer fresh(w.file, w.ckpt, o);
  const ScoreResult rb_alone = fresh.score_one(b);
  CHECK(reason(rb_alone, "device new-phone") == "new device, never seen before");
  CHECK(std::fabs(rb_alone.logit - rb.logit) > 1e-6);
  // Reasons' weights are shares of the saliency.
  double sum = 0;
  for (const auto& x : rb.reasons) sum += x.weight;
  CHECK(sum == Approx(1.0).margin(1e-6));
}

TEST_CASE("scorer: a checkpoint that does not fit the graph fails at start-up, naming why",
          "[fraud][scorer]") {
  World& w = world();
  const Schema& schema = w.file.graph.schema();
  SECTION("feature widths differ") {
    std::vector<std::int64_t> widths;
    for (int t = 0; t < schema.num_node_types(); ++t)
      widths.push_back(w.file.features.node_features(schema.node_type(t), "x").cols + (schema.node_type(t) == "device"));
    nn::GnnModelOptions o;
    o.num_layers = 2;
    o.hidden = 16;
    o.out = 1;
    o.input_projection = true;
    nn::GnnModel other(nn::ModelSpec::from_graph(w.file.graph, widths, schema.node_type_id("transaction")), o, 1);
    const std::string path = temp_path("other.ckpt");
    save_checkpoint(path, other.parameters(), nullptr,
                    {{"conv", "sage"}, {"layers", "2"}, {"hidden", "16"}, {"heads", "4"}, {"target", "transaction"}});
    try {
      Scorer s(w.file, path);
      FAIL("no error");
    } catch (const ShapeMismatch& e) {
      const std::string msg = e.what();
      CHECK(msg.find("does not fit this graph") != std::string::npos);
      CHECK(msg.find("device 6") != std::string::npos);
      CHECK(msg.find("input.t") != std::string::npos);  // the parameter
    }
    std::filesystem::remove(path);
  }
  SECTION("hidden width differs from the metadata") {
    TrainConfig cfg;
    cfg.hidden = 32;
    FraudModel fm(w.file, cfg);
    const std::string path = temp_path("h32.ckpt");
    save_checkpoint(path, fm.model().parameters(), nullptr,
                    {{"conv", "sage"}, {"layers", "2"}, {"hidden", "64"}, {"heads", "4"}, {"target", "transaction"}});
    CHECK_THROWS_WITH(Scorer(w.file, path), Catch::Contains("does not fit") && Catch::Contains("32"));
    std::filesystem::remove(path);
  }
  SECTION("metadata missing") {
    TrainConfig cfg;
    FraudModel fm(w.file, cfg);
    const std::string path = temp_path("nometa.ckpt");
    save_checkpoint(path, fm.model().parameters());
    CHECK_THROWS_WITH(Scorer(w.file, path), Catch::Contains("no 'conv' metadata"));
    std::filesystem::remove(path);
  }
  SECTION("fan-outs must match the layers") {
    ScorerOptions o;
    o.fanouts = {10};
    CHECK_THROWS_WITH(Scorer(w.file, w.ckpt, o), Catch::Contains("'fanouts' needs one value per layer"));
  }
}
