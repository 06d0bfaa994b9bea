// Tests of gnnkit-recsys: data reading, metrics, training determinism, the generator and
// serving. (LightGCN's forward and gradient and the exact top-K are tested with the library:
// tests/cpp/nn/test_lightgcn.cpp, tests/cpp/train/test_top_k.cpp.)
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <fstream>
#include <random>
#include <sstream>

#include "app/json.hpp"
#include "gnnkit/core/error.hpp"
#include "src/commands.hpp"
#include "src/generator.hpp"
#include "src/interactions.hpp"
#include "src/lightgcn.hpp"
#include "src/ranking.hpp"
#include "src/sage.hpp"
#include "src/serving.hpp"

using namespace gnnkit;
using namespace gnnkit::recsys;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("gnnkit-recsys-test-" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

template <typename E, typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

/// A small interaction set: user 3 has no items, item 5 is never used.
UserItems tiny_train() {
  const std::vector<std::int64_t> u = {0, 0, 1, 1, 1, 2, 4, 4, 0};
  const std::vector<std::int32_t> i = {0, 1, 1, 2, 3, 0, 4, 1, 1};  // (0, 1) twice
  return user_items_from_pairs(5, 6, u, i);
}

}  // namespace

TEST_CASE("user_items_from_pairs sorts and removes duplicates", "[recsys][data]") {
  std::int64_t dup = -1;
  const std::vector<std::int64_t> u = {1, 0, 1, 1, 0};
  const std::vector<std::int32_t> i = {5, 2, 3, 5, 1};
  const UserItems x = user_items_from_pairs(3, 6, u, i, &dup);
  CHECK(dup == 1);
  CHECK(x.num_interactions() == 4);
  CHECK(std::vector<std::int32_t>(x.of(0).begin(), x.of(0).end()) == std::vector<std::int32_t>{1, 2});
  CHECK(std::vector<std::int32_t>(x.of(1).begin(), x.of(1).end()) == std::vector<std::int32_t>{3, 5});
  CHECK(x.of(2).empty());
  CHECK(x.contains(1, 5));
  CHECK_FALSE(x.contains(1, 4));
  CHECK(x.item_counts() == std::vector<std::int64_t>{0, 1, 1, 1, 0, 1});
  CHECK(x.active_users() == std::vector<std::int64_t>{0, 1});
}

TEST_CASE("LightGCN folders round-trip and bad lines name file and line", "[recsys][data]") {
  const fs::path dir = scratch("folder");
  RecData d;
  d.train = tiny_train();
  d.test = user_items_from_pairs(5, 6, std::vector<std::int64_t>{0, 2}, std::vector<std::int32_t>{5, 4});
  write_lightgcn_folder(dir.string(), d);
  const RecData back = read_lightgcn_folder(dir.string());
  CHECK(back.train.num_users == 5);
  CHECK(back.train.num_items == 6);  // declared in meta.json, although item 5 is only in test
  CHECK(back.train.indptr == d.train.indptr);
  CHECK(back.train.items == d.train.items);
  CHECK(back.test.items == d.test.items);

  const fs::path bad = scratch("bad");
  write(bad / "test.txt", "0 1\n");
  write(bad / "train.txt", "0 1 2\n\n1 x 3\n");
  std::string msg = error_of<FormatError>([&] { read_lightgcn_folder(bad.string()); });
  CHECK_THAT(msg, Catch::Contains("train.txt: line 3") && Catch::Contains("'x' is not an integer"));
  write(bad / "train.txt", "0 1 -2\n");
  msg = error_of<FormatError>([&] { read_lightgcn_folder(bad.string()); });
  CHECK_THAT(msg, Catch::Contains("line 1") && Catch::Contains("negative"));
  write(bad / "train.txt", "0 1\n0 2\n");
  msg = error_of<FormatError>([&] { read_lightgcn_folder(bad.string()); });
  CHECK_THAT(msg, Catch::Contains("line 2") && Catch::Contains("user 0 already has a list on line 1"));
  write(bad / "train.txt", "0 1 7\n");
  write(bad / "meta.json", "{\"num_users\": 3, \"num_items\": 5}\n");
  msg = error_of<FormatError>([&] { read_lightgcn_folder(bad.string()); });
  CHECK_THAT(msg, Catch::Contains("train.txt: line 1") && Catch::Contains("item id 7 is beyond the declared range [0, 5)"));
  write(bad / "meta.json", "{\"num_users\": \"three\", \"num_items\": 5}\n");
  msg = error_of<FormatError>([&] { read_lightgcn_folder(bad.string()); });
  CHECK_THAT(msg, Catch::Contains("meta.json") && Catch::Contains("num_users"));
  fs::remove(bad / "meta.json");
  fs::remove(bad / "test.txt");
  msg = error_of<IoError>([&] { read_lightgcn_folder(bad.string()); });
  CHECK_THAT(msg, Catch::Contains("test.txt"));
  msg = error_of<InvalidArgument>([&] { load_dataset("netflix", bad.string()); });
  CHECK_THAT(msg, Catch::Contains("unknown dataset 'netflix'") && Catch::Contains("movielens-1m-lcfn"));
  msg = error_of<IoError>([&] { load_dataset("amazon-cds", (bad / "nowhere").string()); });
  CHECK_THAT(msg, Catch::Contains("nowhere/amazon-cds"));
}

TEST_CASE("ranking_metrics follow the LightGCN definitions", "[recsys][ranking]") {
  // Two users; user 0's truth {2, 5}, user 1's truth {9}; user 2 has none (not evaluated).
  const UserItems truth = user_items_from_pairs(3, 10, std::vector<std::int64_t>{0, 0, 1},
                                                std::vector<std::int32_t>{2, 5, 9});
  TopK ranked;
  ranked.k = 3;
  ranked.items = {5, 1, 2, /**/ 0, 1, 3, /**/ 9, 8, 7};
  ranked.scores.assign(9, 0.f);
  const std::vector<std::int64_t> users = {0, 1, 2};
  const RankingMetrics m = ranking_metrics(ranked, users, truth, 2, 3);
  CHECK(m.users == 2);
  CHECK(m.recall == Approx((0.5 + 0.0) / 2));  // @2: user 0 finds 5 of {2, 5}
  const double idcg0 = 1 + 1 / std::log2(3.0);
  CHECK(m.ndcg == Approx((1.0 / idcg0 + 0.0) / 2));
  REQUIRE(m.recall_curve.size() == 3);
  CHECK(m.recall_curve[0] == Approx(0.25));
  CHECK(m.recall_curve[2] == Approx(0.5));  // @3: user 0 finds both
}

namespace {

/// Recall@20 of the popularity ranking on the shop's test users (the bar a model must clear).
double popularity_recall(const SyntheticShop& shop) {
  const std::vector<std::int64_t> users = shop.data.test.active_users();
  const std::vector<std::int64_t> counts = shop.data.train.item_counts();
  const std::vector<float> pop(counts.begin(), counts.end());
  return ranking_metrics(top_k_shared(pop, users, 20, &shop.data.train, 2), users, shop.data.test, 20)
      .recall;
}

}  // namespace

TEST_CASE("training is deterministic across thread counts and beats popularity", "[recsys][lightgcn]") {
  GeneratorOptions g;
  g.users = 600, g.items = 300, g.categories = 6, g.seed = 5;
  const SyntheticShop shop = generate_shop(g);
  LightGcnOptions opt;
  opt.epochs = 8, opt.batch = 1024, opt.lr = 0.01, opt.reg = 1e-3, opt.layers = 2, opt.dim = 16;
  opt.eval_every = 0;
  opt.hard_negatives = GENERATE(1, 8);  // uniform and hard negatives
  const TrainResult one = train_lightgcn(Context::cpu(1), shop.data, opt);
  const TrainResult two = train_lightgcn(Context::cpu(2), shop.data, opt);
  INFO("hard candidates " << opt.hard_negatives);
  CHECK(one.final.user == two.final.user);
  CHECK(one.final.item == two.final.item);
  CHECK(one.history.back().loss < one.history.front().loss);
  CHECK(one.history.back().evaluated);
  CHECK(one.history.back().recall > 1.5 * popularity_recall(shop));
}

TEST_CASE("hard negatives are the harder ones and reach the model", "[recsys][lightgcn]") {
  GeneratorOptions g;
  g.users = 400, g.items = 200, g.categories = 4, g.seed = 9;
  const SyntheticShop shop = generate_shop(g);
  LightGcnOptions opt;
  opt.epochs = 4, opt.batch = 1024, opt.lr = 0.02, opt.reg = 1e-3, opt.layers = 2, opt.dim = 16;
  opt.eval_every = 0, opt.negatives = 2, opt.hard_negatives = 8;
  const TrainResult hard = train_lightgcn(Context::cpu(2), shop.data, opt);
  opt.hard_negatives = 1;
  const TrainResult uniform = train_lightgcn(Context::cpu(2), shop.data, opt);
  // The best-scoring of 8 draws scores above a uniform one: the BPR loss is higher throughout.
  for (std::size_t e = 0; e < hard.history.size(); ++e)
    CHECK(hard.history[e].loss > uniform.history[e].loss);
  opt.hard_negatives = 0;
  CHECK_THROWS_WITH(train_lightgcn(Context::cpu(1), shop.data, opt),
                    Catch::Contains("'hard_negatives' must be in [1, 1024], got 0"));
}

TEST_CASE("a cosine learning rate decays from lr towards 0 and changes training", "[recsys][lightgcn]") {
  LightGcnOptions opt;
  opt.epochs = 8, opt.lr = 0.02;
  for (int e = 1; e <= 8; ++e) CHECK(epoch_learning_rate(opt, e) == 0.02);  // constant by default
  opt.cosine_lr = true;
  CHECK(epoch_learning_rate(opt, 1) == Approx(0.02));
  CHECK(epoch_learning_rate(opt, 5) == Approx(0.01));  // halfway: (1 + cos(pi / 2)) / 2
  for (int e = 1; e < 8; ++e) CHECK(epoch_learning_rate(opt, e + 1) < epoch_learning_rate(opt, e));
  CHECK(epoch_learning_rate(opt, 8) > 0);
  CHECK(epoch_learning_rate(opt, 8) == Approx(0.02 * (1 - std::cos(std::numbers::pi / 8)) / 2));

  GeneratorOptions g;
  g.users = 400, g.items = 200, g.categories = 4, g.seed = 9;
  const SyntheticShop shop = generate_shop(g);
  opt.batch = 1024, opt.reg = 1e-3, opt.layers = 2, opt.dim = 16, opt.eval_every = 0;
  const TrainResult cosine = train_lightgcn(Context::cpu(2), shop.data, opt);
  opt.cosine_lr = false;
  const TrainResult constant = train_lightgcn(Context::cpu(2), shop.data, opt);
  CHECK(cosine.history.back().loss < cosine.history.front().loss);
  CHECK(cosine.final.user != constant.final.user);  // the schedule reaches the optimiser
}

TEST_CASE("the SAGE two-tower trains reproducibly on the shop and beats popularity", "[recsys][sage]") {
  GeneratorOptions g;
  g.users = 600, g.items = 300, g.categories = 6, g.seed = 5;
  const SyntheticShop shop = generate_shop(g);
  const fs::path dir = scratch("sage");
  write_shop(dir.string(), shop);
  const Tensor features = read_item_features(dir.string(), g.items);
  REQUIRE(features.defined());
  CHECK(features.size(1) == 6 + 1);  // one-hot category + log price
  SageOptions opt;
  opt.model.dim = opt.model.hidden = 16;
  opt.fanouts = {5, 5};
  opt.epochs = 6, opt.batch = 512, opt.lr = 0.01, opt.eval_every = 0;
  const TrainResult a = train_sage(Context::cpu(2), shop.data, features, opt);
  const TrainResult b = train_sage(Context::cpu(2), shop.data, features, opt);
  CHECK(a.final.user == b.final.user);  // same seed, same batches and negatives
  CHECK(a.history.back().loss < a.history.front().loss);
  CHECK(a.history.back().recall > 1.5 * popularity_recall(shop));
  opt.fanouts = {5};
  CHECK_THROWS_WITH(train_sage(Context::cpu(1), shop.data, features, opt),
                    Catch::Contains("'fanouts' must list one fan-out per layer (2), got 1"));
}

TEST_CASE("read_item_features names the file and line of a bad row", "[recsys][sage]") {
  const fs::path dir = scratch("items");
  const std::string folder = dir.string();
  CHECK_FALSE(read_item_features(folder, 3).defined());  // no items.csv: no features
  const auto items = [&](const std::string& text) { write(dir / "items.csv", text); };
  items("item,category,price\n0,0,1.5\n1,1,2\n2,0,4\n");
  const Tensor f = read_item_features(folder, 3);
  REQUIRE(f.size(0) == 3);
  REQUIRE(f.size(1) == 3);
  CHECK(f.data_as<float>()[0] == 1.0f);  // item 0: category 0
  CHECK(f.data_as<float>()[4] == 1.0f);  // item 1: category 1
  items("item,category,price\n0,0,1.5\n1,x,2\n2,0,4\n");
  CHECK_THROWS_WITH(read_item_features(folder, 3), Catch::Contains("items.csv: line 3: category"));
  items("item,category,price\n0,0,1.5\n7,1,2\n");
  CHECK_THROWS_WITH(read_item_features(folder, 3), Catch::Contains("line 3: item 7 is outside [0, 3)"));
  items("item,category,price\n0,0,1.5\n1,1,-2\n2,0,4\n");
  CHECK_THROWS_WITH(read_item_features(folder, 3), Catch::Contains("line 3: price"));
  items("item,category,price\n0,0,1.5\n2,0,4\n");
  CHECK_THROWS_WITH(read_item_features(folder, 3), Catch::Contains("item 1 has no line"));
  items("item,cat\n");
  CHECK_THROWS_WITH(read_item_features(folder, 3), Catch::Contains("line 1: the header"));
}

TEST_CASE("the synthetic shop is reproducible and its split is clean", "[recsys][generator]") {
  GeneratorOptions g;
  g.users = 800, g.items = 400, g.categories = 8, g.seed = 11;
  g.threads = 1;
  const SyntheticShop a = generate_shop(g);
  g.threads = 2;
  const SyntheticShop b = generate_shop(g);
  CHECK(a.data.train.items == b.data.train.items);
  CHECK(a.data.test.items == b.data.test.items);
  CHECK(a.item_price == b.item_price);
  REQUIRE(a.data.test.num_interactions() > 0);
  for (std::int64_t u = 0; u < a.data.train.num_users; ++u) {
    CHECK_FALSE(a.data.train.of(u).empty());
    for (const std::int32_t i : a.data.test.of(u)) CHECK_FALSE(a.data.train.contains(u, i));
  }
  // Heavy-tailed popularity: the top 5% of items take far more than 5% of interactions.
  std::vector<std::int64_t> counts = a.data.train.item_counts();
  std::sort(counts.rbegin(), counts.rend());
  const double top = std::accumulate(counts.begin(), counts.begin() + 20, 0.0);
  CHECK(top / double(a.data.train.num_interactions()) > 0.15);
  g.items = 10;
  CHECK_THROWS_WITH(generate_shop(g), Catch::Contains("'items'"));
}

TEST_CASE("a saved model serves the same ranking, filters seen items and reports bad requests", "[recsys][serving]") {
  const fs::path dir = scratch("model");
  SavedModel m;
  m.kind = "lightgcn";
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  Embeddings& e = m.embeddings;
  e.num_users = 6, e.num_items = 30, e.dim = 4;
  for (int j = 0; j < 24; ++j) e.user.push_back(normal(gen));
  for (int j = 0; j < 120; ++j) e.item.push_back(normal(gen));
  m.seen = user_items_from_pairs(6, 30, std::vector<std::int64_t>{0, 0, 1, 2, 2, 2, 3},
                                 std::vector<std::int32_t>{1, 2, 3, 4, 5, 6, 29});
  for (int i = 0; i < 30; ++i) m.popularity.push_back(float((i * 7) % 30));
  m.info["dataset"] = "unit";
  save_model(dir.string(), m);
  // Saving again replaces the whole folder (a new sibling folder renamed into place) and
  // leaves nothing else behind; a file where the folder should be is an error.
  save_model(dir.string(), m);
  for (const auto& entry : fs::directory_iterator(dir.parent_path()))
    CHECK(entry.path().filename().string().find(".model.") != 0);
  const fs::path blocked = dir.parent_path() / "blocked";
  { std::ofstream(blocked) << "x"; }
  CHECK_THROWS_WITH(save_model(blocked.string(), m), Catch::Contains("it exists and is not a folder"));
  const SavedModel back = load_model(dir.string());
  CHECK(back.kind == "lightgcn");
  CHECK(back.embeddings.user == e.user);
  CHECK(back.embeddings.item == e.item);
  CHECK(back.popularity == m.popularity);
  CHECK(back.seen.items == m.seen.items);
  CHECK(back.seen.indptr == m.seen.indptr);
  CHECK(back.info.at("dataset") == "unit");

  const Recommender rec(Context::cpu(2), back);
  const TopK want = top_k_dot(Context::cpu(1), e, std::vector<std::int64_t>{2}, 5, &m.seen);
  std::string expect = "{\"user\": 2, \"items\": [";
  for (int j = 0; j < 5; ++j) expect += (j ? ", " : "") + std::to_string(want.items[std::size_t(j)]);
  CHECK_THAT(rec.recommend(2, 5), Catch::StartsWith(expect + "]"));

  std::istringstream in("2\n\n{\"user\": 0, \"k\": 3}\nfoo\n{\"user\": 5}\n100\n{\"user\": 1, \"k\": 31}\n{\"user\": 1,\n");
  std::ostringstream out;
  CHECK(rec.serve(in, out, 4) == 7);
  std::vector<std::string> lines;
  std::istringstream result(out.str());
  for (std::string l; std::getline(result, l);) lines.push_back(l);
  REQUIRE(lines.size() == 7);
  CHECK_THAT(lines[0], Catch::StartsWith("{\"user\": 2, \"items\": ["));
  CHECK_THAT(lines[1], Catch::StartsWith("{\"user\": 0,"));
  CHECK_THAT(lines[2], Catch::Contains("\"line\": 4") && Catch::Contains("\"error\""));
  // User 5 exists but has no history; user 100 is beyond the model: popularity with a note.
  CHECK_THAT(lines[3], Catch::Contains("\"user\": 5") && Catch::Contains("most popular"));
  CHECK_THAT(lines[4], Catch::Contains("\"user\": 100") && Catch::Contains("most popular"));
  CHECK_THAT(lines[5], Catch::Contains("\"line\": 7") && Catch::Contains("'k' must be in [1, 30]"));
  CHECK_THAT(lines[6], Catch::Contains("\"line\": 8") && Catch::Contains("malformed"));
  // Seen items are never recommended, whatever k.
  for (std::int64_t u = 0; u < 4; ++u) {
    const std::string line = rec.recommend(u, 30 - std::int64_t(m.seen.of(u).size()));
    for (const std::int32_t s : m.seen.of(u))
      CHECK(line.find("[" + std::to_string(s) + ",") == std::string::npos);
  }

  // A model.json that disagrees with the checkpoint is named in the error.
  write(dir / "model.json", "{\"kind\": \"lightgcn\", \"num_users\": 7, \"num_items\": 30, \"dim\": 4}\n");
  CHECK_THROWS_WITH(load_model(dir.string()), Catch::Contains("model.ckpt") && Catch::Contains("model.json"));
  CHECK_THROWS_WITH(load_model((dir / "missing").string()), Catch::Contains("does not exist"));
}

TEST_CASE("write_npy writes a NumPy 1.0 header padded to 64 bytes", "[recsys][export]") {
  const fs::path dir = scratch("npy");
  const std::vector<float> v = {1, 2, 3, 4, 5, 6};
  write_npy((dir / "x.npy").string(), v.data(), 2, 3);
  std::ifstream in(dir / "x.npy", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  REQUIRE(bytes.size() > 10);
  CHECK(bytes.substr(0, 6) == "\x93NUMPY");
  const std::size_t header = std::size_t(std::uint8_t(bytes[8])) | std::size_t(std::uint8_t(bytes[9])) << 8;
  CHECK((10 + header) % 64 == 0);
  CHECK_THAT(bytes.substr(10, header), Catch::Contains("'shape': (2, 3)") && Catch::Contains("'<f4'"));
  CHECK(bytes.size() == 10 + header + 6 * sizeof(float));
  float last = 0;
  std::memcpy(&last, bytes.data() + bytes.size() - 4, 4);
  CHECK(last == 6.f);
}

TEST_CASE("JSON lines stay valid UTF-8 whatever the input bytes", "[recsys][serving]") {
  using gnnkit::app::json_quote;
  CHECK(json_quote("ab\xff" "cd") == "\"ab\\ufffdcd\"");          // a stray byte
  CHECK(json_quote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");          // valid: copied
  CHECK(json_quote("x\xc3") == "\"x\\ufffd\"");                    // cut inside a character
  CHECK(json_quote("\xf0\x9f\x99\x82!") == "\"\xf0\x9f\x99\x82!\"");  // 4 bytes, valid
  CHECK(json_quote("\xc0\xaf") == "\"\\ufffd\\ufffd\"");           // overlong '/'
  CHECK(json_quote("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  CHECK(json_quote("q\"\n") == "\"q\\\"\\n\"");
}
