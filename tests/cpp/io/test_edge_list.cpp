#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>
#include <unordered_map>

#include "gnnkit/io/edge_list.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "support/temp_dir.hpp"

using namespace gnnkit;

namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<std::int64_t> vec(const HostArray& a) {
  auto s = a.as<std::int64_t>();
  return {s.begin(), s.end()};
}

}  // namespace

TEST_CASE("string keys get dense ids in order of first appearance; header, CRLF, quotes") {
  test::TempDir dir;
  write(dir.path("e.csv"),
        "card,device,time,amount\r\n"
        "4111-1,dev-a,100.9,1.5\r\n"
        "\r\n"
        "\"5500,2\",dev-a,200,2\r\n"
        "4111-1,dev-b,300,3.25\r\n"
        "dev-b,4111-1,400,4\r\n");
  EdgeListOptions opt;
  opt.timestamp_column = 2;
  opt.weight_column = 3;
  for (int threads : {1, 2}) {
    const EdgeList e = read_edge_list(Context::cpu(threads), dir.path("e.csv"), opt);
    CHECK(e.header == std::vector<std::string>{"card", "device", "time", "amount"});
    REQUIRE(e.num_edges() == 4);
    // shared id space: 4111-1=0, dev-a=1, "5500,2"=2, dev-b=3
    CHECK(vec(e.src) == std::vector<std::int64_t>{0, 2, 0, 3});
    CHECK(vec(e.dst) == std::vector<std::int64_t>{1, 1, 3, 0});
    CHECK(e.src_keys.size() == 4);
    CHECK(e.src_keys.key(2) == "5500,2");
    CHECK(e.src_keys.key(3) == "dev-b");
    CHECK(vec(e.timestamps) == std::vector<std::int64_t>{100, 200, 300, 400});
    CHECK(e.weights.as<float>()[2] == 3.25f);
    CHECK(e.num_src_nodes == 4);
  }
  opt.shared_ids = false;
  const EdgeList sep = read_edge_list(Context::cpu(1), dir.path("e.csv"), opt);
  CHECK(vec(sep.src) == std::vector<std::int64_t>{0, 1, 0, 2});
  CHECK(vec(sep.dst) == std::vector<std::int64_t>{0, 0, 1, 2});
  CHECK(sep.dst_keys.key(2) == "4111-1");
  CHECK(sep.num_src_nodes == 3);
  CHECK(sep.num_dst_nodes == 3);
}

TEST_CASE("integer ids, header detection and tab delimiters") {
  test::TempDir dir;
  write(dir.path("a.tsv"), "3\t0\n1\t7\n");
  EdgeListOptions opt;
  opt.delimiter = '\t';
  opt.string_keys = false;
  EdgeList e = read_edge_list(Context::cpu(1), dir.path("a.tsv"), opt);
  CHECK(e.header.empty());
  CHECK(vec(e.src) == std::vector<std::int64_t>{3, 1});
  CHECK(e.num_src_nodes == 8);  // shared id space: max id + 1
  write(dir.path("b.csv"), "src,dst\nx,y\n");
  e = read_edge_list(Context::cpu(1), dir.path("b.csv"), {});
  CHECK(e.header == std::vector<std::string>{"src", "dst"});
  CHECK(e.num_edges() == 1);
  write(dir.path("c.csv"), "x,y\nz,x\n");  // no header: keys do not read like column names
  CHECK(read_edge_list(Context::cpu(1), dir.path("c.csv"), {}).num_edges() == 2);
  write(dir.path("empty.csv"), "");
  CHECK(read_edge_list(Context::cpu(1), dir.path("empty.csv"), {}).num_edges() == 0);
}

TEST_CASE("large file: identical for 1, 2, 3 threads and equal to a sequential reference") {
  test::TempDir dir;
  std::mt19937_64 rng(7);
  std::ostringstream text;
  text << "src,dst,t\n";
  std::vector<std::string> lines;
  for (int i = 0; i < 200000; ++i) {
    const std::string s = "card-" + std::to_string(rng() % 5000), d = "dev" + std::to_string(rng() % 700);
    text << s << ',' << d << ',' << i << '\n';
    lines.push_back(s + ',' + d);
  }
  write(dir.path("big.csv"), text.str());
  // Reference: sequential parse with std::unordered_map, ids by first appearance.
  std::unordered_map<std::string, std::int64_t> ids;
  std::vector<std::int64_t> ref_src, ref_dst;
  for (const auto& l : lines) {
    const auto comma = l.find(',');
    for (const std::string key : {l.substr(0, comma), l.substr(comma + 1)}) {
      auto [it, inserted] = ids.emplace(key, std::int64_t(ids.size()));
      (ref_src.size() == ref_dst.size() ? ref_src : ref_dst).push_back(it->second);
    }
  }
  EdgeListOptions opt;
  opt.timestamp_column = 2;
  for (int threads : {1, 2, 3}) {
    const EdgeList e = read_edge_list(Context::cpu(threads), dir.path("big.csv"), opt);
    CHECK(vec(e.src) == ref_src);
    CHECK(vec(e.dst) == ref_dst);
    CHECK(e.src_keys.size() == std::int64_t(ids.size()));
    CHECK(e.timestamps.as<std::int64_t>()[199999] == 199999);
  }
}

TEST_CASE("bad rows: FormatError naming file, line, column and text") {
  test::TempDir dir;
  const std::string p = dir.path("bad.csv");
  EdgeListOptions opt;
  opt.timestamp_column = 2;
  write(p, "a,b,1\nc,d\n");
  CHECK_THROWS_AS(read_edge_list(Context::cpu(1), p, opt), FormatError);
  CHECK_THROWS_WITH(read_edge_list(Context::cpu(1), p, opt),
                    "read_edge_list: '" + p + "' line 2: expected at least 3 columns, got 2");
  write(p, "a,b,1\nc,d,x1\n");
  CHECK_THROWS_WITH(read_edge_list(Context::cpu(1), p, opt),
                    Catch::Contains("line 2: column 2 (timestamp) must be a number, got 'x1'"));
  opt = {};
  opt.string_keys = false;
  write(p, "1,2\n3,-4\n");
  CHECK_THROWS_WITH(read_edge_list(Context::cpu(1), p, opt),
                    Catch::Contains("line 2: column 1 (dst) must be an integer id >= 0, got '-4'"));
  opt = {};
  opt.weight_column = 2;
  write(p, "a,b,1\na,c,nan\n");
  CHECK_THROWS_WITH(read_edge_list(Context::cpu(1), p, opt),
                    Catch::Contains("line 2: column 2 (weight) must be a finite number, got 'nan'"));
  write(p, "a,b\n,c\n");
  CHECK_THROWS_WITH(read_edge_list(Context::cpu(1), p, {}), Catch::Contains("line 2: empty key in column 0"));
  CHECK_THROWS_AS(read_edge_list(Context::cpu(1), dir.path("none.csv"), {}), IoError);
}

TEST_CASE("node keys are saved with the graph and loaded back") {
  test::TempDir dir;
  write(dir.path("e.csv"), "u1,u2\nu2,u3\n");
  const EdgeList e = read_edge_list(Context::cpu(1), dir.path("e.csv"), {});
  GraphFile gf;
  gf.graph = HeteroGraph::from_coo(Context::cpu(1), e.num_src_nodes, e.src.view(), e.dst.view());
  gf.node_keys["node"] = e.src_keys;
  save_graph(dir.path("g"), gf);
  const GraphFile back = load_graph(dir.path("g"), {true});
  REQUIRE(back.node_keys.count("node"));
  CHECK(back.node_keys.at("node").key(2) == "u3");
  gf.node_keys["node"] = KeyMap::from_keys({"only-one"});
  CHECK_THROWS_WITH(save_graph(dir.path("g2"), gf),
                    Catch::Contains("keys of 'node' must have 3 entries (one per node), got 1"));
}
