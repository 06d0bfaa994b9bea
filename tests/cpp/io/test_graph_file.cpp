#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "gnnkit/io/graph_file.hpp"
#include "support/views.hpp"
#include "support/reference_graph.hpp"
#include "support/temp_dir.hpp"

using namespace gnnkit;
using test::read_all;
using test::view_of;

namespace {


void write_all(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

template <typename T>
bool same(const HostArray& a, const HostArray& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  return a.dtype() == b.dtype() && a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

bool same_relation(const Relation& a, const Relation& b) {
  return a.type == b.type && a.num_src == b.num_src && a.num_dst == b.num_dst &&
         a.edge_id_bound == b.edge_id_bound && a.sorted_by_time == b.sorted_by_time &&
         same<char>(a.csc_indptr, b.csc_indptr) && same<char>(a.csc_indices, b.csc_indices) &&
         same<char>(a.edge_ids, b.edge_ids) && same<char>(a.timestamps, b.timestamps) &&
         same<char>(a.weights, b.weights) && same<char>(a.csr_indptr, b.csr_indptr) &&
         same<char>(a.csr_indices, b.csr_indices) && same<char>(a.csr_to_csc, b.csr_to_csc);
}

/// A small hetero graph with every optional array, plus features of every kind.
std::pair<HeteroGraph, FeatureStore> sample_graph() {
  const auto coo = test::random_coo(50, 50, 400, 5);
  std::vector<std::int64_t> own_src, own_dst;
  for (int i = 0; i < 60; ++i) {
    own_src.push_back(i % 50);
    own_dst.push_back((i * 7) % 20);
  }
  BuildOptions opt;
  opt.add_reverse = true;
  opt.build_csr = true;
  opt.sort_by_time = true;
  HeteroGraph g = HeteroGraph::from_coo(
      Context::cpu(2), {{"user", 50}, {"card", 20}},
      {RelationInput{{"user", "pays", "user"}, view_of(coo.src), view_of(coo.dst), view_of(coo.ts), view_of(coo.w)},
       RelationInput{{"user", "owns", "card"}, view_of(own_src), view_of(own_dst)}},
      opt);
  FeatureStore fs;
  HostArray x = HostArray::of<float>(50 * 3);
  for (std::int64_t i = 0; i < 150; ++i) x.as<float>()[std::size_t(i)] = float(i) * 0.5f;
  fs.set_node_features("user", "x", x, 50, 3);
  HostArray y = HostArray::of<std::int64_t>(50);
  for (std::int64_t i = 0; i < 50; ++i) y.as<std::int64_t>()[std::size_t(i)] = i % 2;
  fs.set_labels("user", y);
  fs.set_node_times("card", HostArray::of<std::int64_t>(20));
  std::memset(fs.node_times("card").data(), 0, 20 * 8);
  HostArray ef = HostArray::of<float>(400 * 2);
  for (std::int64_t i = 0; i < 800; ++i) ef.as<float>()[std::size_t(i)] = float(i);
  fs.set_edge_features("user__pays__user", "amount", ef, 400, 2);
  return {g, fs};
}

}  // namespace

TEST_CASE("save then load round-trips every array bit for bit, zero-copy") {
  test::TempDir dir;
  const auto [g, fs] = sample_graph();
  const std::string path = dir.path("g.gnnkit");
  save_graph(path, g, fs);
  for (int mode = 0; mode < 3; ++mode) {
    // plain, verified, populated (pages read in at open, still shared with the page cache)
    const GraphFile loaded = load_graph(path, {.verify = mode == 1, .populate = mode == 2});
    REQUIRE(loaded.graph.num_relations() == g.num_relations());
    CHECK(loaded.graph.str() == g.str());
    for (int r = 0; r < g.num_relations(); ++r) CHECK(same_relation(loaded.graph.relation(r), g.relation(r)));
    REQUIRE(loaded.features.entries().size() == fs.entries().size());
    for (const auto& [key, m] : fs.entries()) {
      const FeatureMatrix& got = loaded.features.get(key);
      CHECK(got.rows == m.rows);
      CHECK(got.cols == m.cols);
      CHECK(same<char>(got.data, m.data));
    }
    // Arrays point into the mapping (64-byte aligned), not into copies.
    const HostArray& ind = loaded.graph.relation(0).csc_indices;
    CHECK(reinterpret_cast<std::uintptr_t>(ind.data()) % 64 == 0);
    CHECK(ind.owner() == loaded.graph.relation(1).csc_indptr.owner());
  }
  // The mapping outlives the GraphFile while an array is held.
  HostArray kept;
  {
    const GraphFile loaded = load_graph(path);
    kept = loaded.graph.relation(0).csc_indices;
  }
  CHECK(std::memcmp(kept.data(), g.relation(0).csc_indices.data(), kept.nbytes()) == 0);
}

TEST_CASE("an empty graph and a graph without edges round-trip") {
  test::TempDir dir;
  save_graph(dir.path("empty"), HeteroGraph());
  CHECK(load_graph(dir.path("empty"), {true}).graph.num_relations() == 0);
  const std::vector<std::int64_t> none;
  const auto g = HeteroGraph::from_coo(Context::cpu(1), 7, view_of(none), view_of(none));
  save_graph(dir.path("edgeless"), g);
  const auto loaded = load_graph(dir.path("edgeless"), {true});
  CHECK(loaded.graph.num_edges() == 0);
  CHECK(loaded.graph.num_nodes() == 7);
}

TEST_CASE("paths with a NUL byte and directories are clear errors") {
  test::TempDir dir;
  const auto [g, fs] = sample_graph();
  const std::string nul = dir.path("g") + std::string(1, '\0') + ".gnnkit";
  CHECK_THROWS_AS(save_graph(nul, g, fs), InvalidArgument);
  CHECK_THROWS_WITH(save_graph(nul, g, fs), Catch::Contains("contains a NUL byte"));
  CHECK_FALSE(std::filesystem::exists(dir.path("g")));  // nothing written under the cut name
  CHECK_THROWS_AS(load_graph(nul), InvalidArgument);
  CHECK_THROWS_WITH(load_graph(dir.path("")), Catch::Contains("it is a directory"));
}

TEST_CASE("bad files give FormatError naming the file and the problem") {
  test::TempDir dir;
  const auto [g, fs] = sample_graph();
  const std::string path = dir.path("g.gnnkit");
  save_graph(path, g, fs);
  const std::vector<char> good = read_all(path);

  auto expect_format_error = [&](const std::vector<char>& bytes, const std::string& fragment,
                                 bool verify = false) {
    const std::string bad = dir.path("bad.gnnkit");
    write_all(bad, bytes);
    CHECK_THROWS_AS(load_graph(bad, {verify}), FormatError);
    CHECK_THROWS_WITH(load_graph(bad, {verify}),
                      Catch::Contains("load_graph: '" + bad + "': ") && Catch::Contains(fragment));
  };
  expect_format_error(std::vector<char>(good.begin(), good.begin() + 10), "truncated: 10 bytes");
  expect_format_error(std::vector<char>(good.begin(), good.end() - 64), "truncated or extended");
  auto magic = good;
  magic[0] = 'X';
  expect_format_error(magic, "bad magic");
  auto future = good;
  future[8] = 9;
  expect_format_error(future, "format version 9 is newer");
  auto header = good;
  header[70] ^= 0x20;  // inside the schema text
  expect_format_error(header, "header checksum mismatch");
  auto data = good;
  data[data.size() - 100] ^= 0x01;  // inside the last array
  expect_format_error(data, "checksum mismatch (data corrupted)", true);
  auto padding = good;
  // The first array (rel 0 csc_indptr, 51 x int64 = 408 bytes) starts at the data offset
  // (header bytes 24..31) and is followed by 40 bytes of alignment padding.
  std::uint64_t data_offset = 0;
  std::memcpy(&data_offset, good.data() + 24, 8);
  padding[data_offset + 408 + 5] = 1;
  expect_format_error(padding, "padding byte", true);
  CHECK_NOTHROW(load_graph(path, {true}));
  CHECK_THROWS_AS(load_graph(dir.path("missing")), IoError);
  CHECK_THROWS_WITH(load_graph(dir.path("missing")), Catch::Contains("cannot open"));
}

TEST_CASE("random corruption never crashes: FormatError or a verified load") {
  test::TempDir dir;
  const auto [g, fs] = sample_graph();
  const std::string path = dir.path("g.gnnkit");
  save_graph(path, g, fs);
  const std::vector<char> good = read_all(path);
  std::mt19937_64 rng(123);
  int rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    auto bytes = good;
    const int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] ^= char(1 << (rng() % 8));
    if (trial % 10 == 0) bytes.resize(rng() % bytes.size());
    write_all(dir.path("c.gnnkit"), bytes);
    try {
      (void)load_graph(dir.path("c.gnnkit"), {true});
    } catch (const FormatError&) {
      ++rejected;
    }
  }
  // Every byte is covered by the header checksum, an array checksum or the zero-padding
  // check, so every corruption is caught.
  CHECK(rejected == 300);
}

TEST_CASE("a failed save leaves an existing file intact and no temporary behind") {
  test::TempDir dir;
  const auto [g, fs] = sample_graph();
  const std::string path = dir.path("g.gnnkit");
  save_graph(path, g, fs);
  const std::vector<char> before = read_all(path);
  // Features that do not fit the graph: rejected before anything is written.
  FeatureStore wrong;
  wrong.set_node_features("user", "x", HostArray::of<float>(6), 2, 3);
  CHECK_THROWS_WITH(save_graph(path, g, wrong),
                    Catch::Contains("node features 'user/x' must have 50 rows (one per node), got 2"));
  CHECK(read_all(path) == before);
  // The rename fails (the target is a non-empty directory): the temporary is removed.
  const std::string target = dir.path("adir");
  std::filesystem::create_directories(target + "/inner");
  CHECK_THROWS_AS(save_graph(target, g, fs), IoError);
  CHECK(std::filesystem::is_directory(target));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.root())) {
    (void)entry;
    ++files;
  }
  CHECK(files == 2);  // g.gnnkit and adir
  CHECK_THROWS_AS(save_graph(dir.path("no/such/dir/g"), g), IoError);
  CHECK(read_all(path) == before);
}
