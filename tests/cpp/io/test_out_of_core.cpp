#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/io/out_of_core.hpp"
#include "support/views.hpp"
#include "support/reference_graph.hpp"
#include "support/temp_dir.hpp"

using namespace gnnkit;
using test::read_all;
using test::view_of;

namespace {

template <typename T>
void write_raw(const std::string& path, const std::vector<T>& v) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(v.data()),
                                              std::streamsize(v.size() * sizeof(T)));
}

}  // namespace

TEST_CASE("out-of-core build writes the same file as save_graph(from_coo) for any budget") {
  test::TempDir dir;
  const auto a = test::random_coo(3000, 3000, 50000, 11);
  std::vector<std::int64_t> own_src, own_dst;
  for (int i = 0; i < 7000; ++i) {
    own_src.push_back((i * 37) % 3000);
    own_dst.push_back((i * i) % 500);
  }
  write_raw(dir.path("a.src"), a.src);
  write_raw(dir.path("a.dst"), a.dst);
  write_raw(dir.path("a.ts"), a.ts);
  write_raw(dir.path("a.w"), a.w);
  write_raw(dir.path("o.src"), own_src);
  write_raw(dir.path("o.dst"), own_dst);
  const std::vector<std::pair<std::string, std::int64_t>> nodes{{"user", 3000}, {"card", 500}};
  BuildOptions bo;
  bo.add_reverse = true;
  const HeteroGraph ref = HeteroGraph::from_coo(
      Context::cpu(2), nodes,
      {RelationInput{{"user", "pays", "user"}, view_of(a.src), view_of(a.dst), view_of(a.ts), view_of(a.w)},
       RelationInput{{"user", "owns", "card"}, view_of(own_src), view_of(own_dst)}},
      bo);
  save_graph(dir.path("ref.gnnkit"), ref);
  const std::vector<char> expected = read_all(dir.path("ref.gnnkit"));
  const std::vector<DiskRelation> rels{
      {{"user", "pays", "user"}, dir.path("a.src"), dir.path("a.dst"), dir.path("a.ts"), dir.path("a.w")},
      {{"user", "owns", "card"}, dir.path("o.src"), dir.path("o.dst"), "", ""}};
  for (std::size_t budget : {std::size_t(1) << 30, std::size_t(400000), std::size_t(40000)}) {
    for (int threads : {1, 2, 3}) {
      CAPTURE(budget, threads);
      OutOfCoreOptions opt;
      opt.add_reverse = true;
      opt.memory_budget = budget;
      const auto report = build_graph_file(Context::cpu(threads), nodes, rels, dir.path("ooc.gnnkit"), opt);
      CHECK(report.num_edges == ref.num_edges());
      if (budget == 40000) CHECK(report.windows > 10);
      CHECK(read_all(dir.path("ooc.gnnkit")) == expected);  // byte for byte
    }
  }
  CHECK_NOTHROW(load_graph(dir.path("ooc.gnnkit"), {true}));
}

TEST_CASE("out-of-core bad input names relation, file and index; no output is left") {
  test::TempDir dir;
  write_raw(dir.path("s"), std::vector<std::int64_t>{0, 1, 2});
  write_raw(dir.path("d"), std::vector<std::int64_t>{1, 9, 0});
  write_raw(dir.path("short"), std::vector<std::int64_t>{1});
  write_raw(dir.path("odd"), std::vector<char>{1, 2, 3});
  const std::vector<std::pair<std::string, std::int64_t>> nodes{{"n", 3}};
  auto build = [&](const std::string& d) {
    return build_graph_file(Context::cpu(1), nodes, {{{"n", "to", "n"}, dir.path("s"), d, "", ""}},
                            dir.path("out.gnnkit"));
  };
  CHECK_THROWS_AS(build(dir.path("d")), OutOfRange);
  CHECK_THROWS_WITH(build(dir.path("d")),
                    "build_graph_file: relation 'n__to__n': 'dst[1]' (file '" + dir.path("d") +
                        "') must be in [0, 3), got 9");
  CHECK_THROWS_WITH(build(dir.path("short")), Catch::Contains("has 1 values, the src file 3"));
  CHECK_THROWS_WITH(build(dir.path("odd")), Catch::Contains("has 3 bytes, not a whole number of 8-byte values"));
  CHECK_THROWS_AS(build(dir.path("missing")), IoError);
  CHECK_FALSE(std::filesystem::exists(dir.path("out.gnnkit")));
  CHECK(std::distance(std::filesystem::directory_iterator(dir.root()), {}) == 4);
}
