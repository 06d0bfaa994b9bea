#include <catch2/catch.hpp>

#include <numeric>
#include <set>

#include "gnnkit/sampling/loader.hpp"
#include "support/views.hpp"
#include "support/reference_graph.hpp"

using namespace gnnkit;
using test::view_of;

namespace {

struct Fixture {
  test::RandomCoo coo = test::random_coo(1000, 1000, 20000, 3);
  HeteroGraph graph = HeteroGraph::from_coo(Context::cpu(2), 1000, view_of(coo.src), view_of(coo.dst));
  std::shared_ptr<FeatureStore> store = [] {
    auto fs = std::make_shared<FeatureStore>();
    HostArray x = HostArray::of<float>(1000 * 3);
    for (std::int64_t i = 0; i < 3000; ++i) x.as<float>()[std::size_t(i)] = float(i);
    fs->set_node_features("node", "x", x, 1000, 3);
    return fs;
  }();
  std::shared_ptr<NeighborSampler> sampler = [this] {
    SamplingOptions o;
    o.fanouts = {5, 3};
    return std::make_shared<NeighborSampler>(graph, o);
  }();
};

std::vector<std::vector<std::int64_t>> run_epoch(NeighborLoader& loader, std::uint64_t epoch,
                                                 const Fixture& f, std::int64_t* checked) {
  std::vector<std::vector<std::int64_t>> out;
  loader.start_epoch(epoch);
  while (auto b = loader.next()) {
    out.push_back(b->seeds);
    out.push_back(b->mini_batch.nodes[0]);
    const FeatureMatrix& x = b->features.at(0);
    REQUIRE(x.rows == std::int64_t(b->mini_batch.nodes[0].size()));
    for (std::int64_t r = 0; r < x.rows; ++r)
      for (int c = 0; c < 3; ++c) {
        REQUIRE(x.row(r)[c] == float(b->mini_batch.nodes[0][std::size_t(r)] * 3 + c));
        ++*checked;
      }
  }
  (void)f;
  return out;
}
}  // namespace

TEST_CASE("loader: every seed once per epoch, in order, same for any worker count") {
  Fixture f;
  std::vector<std::int64_t> seeds(250);
  std::iota(seeds.begin(), seeds.end(), 100);
  std::vector<std::vector<std::vector<std::int64_t>>> runs;
  std::int64_t checked = 0;
  for (int workers : {1, 3}) {
    LoaderOptions opt;
    opt.batch_size = 64;
    opt.seed = 9;
    opt.num_workers = workers;
    opt.prefetch = 3;
    opt.features = {{"node", "x"}};
    NeighborLoader loader(f.sampler, f.store, "node", seeds, {}, opt);
    CHECK(loader.num_batches() == 4);
    const auto epoch1 = run_epoch(loader, 1, f, &checked);
    REQUIRE(epoch1.size() == 8);
    std::multiset<std::int64_t> seen;
    for (std::size_t b = 0; b < epoch1.size(); b += 2) seen.insert(epoch1[b].begin(), epoch1[b].end());
    CHECK(seen == std::multiset<std::int64_t>(seeds.begin(), seeds.end()));
    CHECK(epoch1[0] != std::vector<std::int64_t>(seeds.begin(), seeds.begin() + 64));  // shuffled
    const auto epoch2 = run_epoch(loader, 2, f, &checked);
    CHECK(epoch2 != epoch1);  // reshuffled per epoch
    runs.push_back(epoch1);
  }
  CHECK(runs[0] == runs[1]);
  CHECK(checked > 1000);
}

TEST_CASE("loader: drop_last, no shuffle, errors") {
  Fixture f;
  std::vector<std::int64_t> seeds{1, 2, 3, 4, 5};
  LoaderOptions opt;
  opt.batch_size = 2;
  opt.shuffle = false;
  opt.drop_last = true;
  NeighborLoader loader(f.sampler, nullptr, "node", seeds, {}, opt);
  CHECK(loader.num_batches() == 2);
  loader.start_epoch(0);
  CHECK(loader.next()->seeds == std::vector<std::int64_t>{1, 2});
  CHECK(loader.next()->seeds == std::vector<std::int64_t>{3, 4});
  CHECK(loader.next() == nullptr);
  opt.batch_size = 0;
  CHECK_THROWS_WITH(NeighborLoader(f.sampler, nullptr, "node", seeds, {}, opt),
                    "NeighborLoader: 'batch_size' must be > 0, got 0");
  opt.batch_size = 2;
  opt.features = {{"node", "y"}};
  CHECK_THROWS_WITH(NeighborLoader(f.sampler, f.store, "node", seeds, {}, opt),
                    Catch::Contains("no node features 'node/y' (stored for 'node': node features 'node/x')"));
  // A seed out of range is named by its place in 'seeds' when the loader is built (in a
  // batch, its place would be the shuffled one, and the error would wait for that batch).
  opt.features = {};
  CHECK_THROWS_AS(NeighborLoader(f.sampler, nullptr, "node", {1, 5000}, {}, opt), OutOfRange);
  CHECK_THROWS_WITH(NeighborLoader(f.sampler, nullptr, "node", {1, 2, 3, -4}, {}, opt),
                    "NeighborLoader: 'seeds[3]' must be in [0, 1000) (nodes of 'node'), got -4");
  CHECK_THROWS_WITH(NeighborLoader(f.sampler, nullptr, "user", seeds, {}, opt),
                    Catch::StartsWith("NeighborLoader: 'seed_type': unknown node type 'user'"));
  // next() before start_epoch() is an error, not a wait that nothing ends.
  NeighborLoader idle(f.sampler, nullptr, "node", seeds, {}, opt);
  CHECK_THROWS_WITH(idle.next(), "NeighborLoader::next: call start_epoch() before next()");
}
