// The CUDA build of the device sampler against its CPU build: the same algorithm, random
// streams and numbering, so the batches must be identical, edge for edge (homogeneous, and
// heterogeneous with per-relation fan-outs and seeds already on the device).
#include <catch2/catch.hpp>

#include <random>

#include "gnnkit/gnnkit.hpp"
#include "gnnkit/sampling/device_sampler.hpp"

using namespace gnnkit;

TEST_CASE("GPU sampling gives the CPU build's batches exactly") {
  std::mt19937 rng(3);
  const std::int64_t n = 20000;
  std::vector<std::int64_t> src, dst;
  for (std::int64_t v = 0; v < n; ++v) {
    const int deg = v == 7 ? 5000 : v % 11 == 0 ? 0 : int(rng() % 40);
    for (int k = 0; k < deg; ++k) {
      src.push_back(std::int64_t(rng() % n));
      dst.push_back(v);
    }
  }
  const std::int64_t e = std::int64_t(src.size());
  const HeteroGraph graph =
      HeteroGraph::from_coo(Context::cpu(), n, TensorView(src.data(), DType::kInt64, Device::cpu(), {e}),
                            TensorView(dst.data(), DType::kInt64, Device::cpu(), {e}));
  const Context cpu = Context::cpu(4, 9), gpu = Context::cuda(0, 9);
  const DeviceSampler on_cpu(DeviceGraph::upload(cpu, graph), {15, 10, 5});
  const DeviceSampler on_gpu(DeviceGraph::upload(gpu, graph), {15, 10, 5});
  for (std::uint64_t batch = 0; batch < 5; ++batch) {
    std::vector<std::int64_t> seeds(1024);
    for (auto& s : seeds) s = std::int64_t(rng() % n);
    seeds[0] = 7;
    const TensorView sv(seeds.data(), DType::kInt64, Device::cpu(), {1024});
    const MiniBatch a = on_cpu.sample(cpu, sv, batch).to_host(cpu);
    const DeviceMiniBatch d = on_gpu.sample(gpu, sv, batch);
    REQUIRE(d.nodes[0].device() == Device::cuda(0));
    const MiniBatch b = d.to_host(gpu);
    CHECK(a.nodes == b.nodes);
    CHECK(a.seed_local == b.seed_local);
    CHECK(a.relations[0].indptr == b.relations[0].indptr);
    CHECK(a.relations[0].indices == b.relations[0].indices);
    CHECK(a.relations[0].edge_ids == b.relations[0].edge_ids);
    REQUIRE(a.blocks.size() == b.blocks.size());
    for (std::size_t h = 0; h < a.blocks.size(); ++h) CHECK(a.blocks[h].num_src == b.blocks[h].num_src);
  }
}

TEST_CASE("GPU sampling of a heterogeneous graph with per-relation fan-outs and device seeds equals the CPU build") {
  std::mt19937 rng(4);
  const std::int64_t users = 30000, items = 8000;
  std::vector<std::int64_t> buy_src, buy_dst, view_src, view_dst;
  for (std::int64_t i = 0; i < items; ++i)
    for (int k = i == 3 ? 4000 : int(rng() % 25); k > 0; --k) {
      buy_src.push_back(std::int64_t(rng() % users));
      buy_dst.push_back(i);
    }
  for (std::int64_t u = 0; u < users; ++u)
    for (int k = int(rng() % 6); k > 0; --k) {
      view_src.push_back(std::int64_t(rng() % users));
      view_dst.push_back(u);
    }
  auto view = [](const std::vector<std::int64_t>& v) {
    return TensorView(const_cast<std::int64_t*>(v.data()), DType::kInt64, Device::cpu(), {std::int64_t(v.size())});
  };
  BuildOptions bo;
  bo.add_reverse = true;  // buys, follows, rev_buys, rev_follows
  const HeteroGraph graph = HeteroGraph::from_coo(
      Context::cpu(), {{"user", users}, {"item", items}},
      {RelationInput{{"user", "buys", "item"}, view(buy_src), view(buy_dst)},
       RelationInput{{"user", "follows", "user"}, view(view_src), view(view_dst)}},
      bo);
  const Context cpu = Context::cpu(4, 2), gpu = Context::cuda(0, 2);
  const std::vector<std::vector<std::int64_t>> fanouts{{10, 5, 3}, {4, 0, -1}, {0, 6, 2}, {3, 3, 3}};
  const DeviceSampler on_cpu = DeviceSampler::per_relation(DeviceGraph::upload(cpu, graph), fanouts);
  const DeviceSampler on_gpu = DeviceSampler::per_relation(DeviceGraph::upload(gpu, graph), fanouts);
  for (std::uint64_t batch = 0; batch < 4; ++batch) {
    std::vector<std::int64_t> seeds(2048);
    for (auto& s : seeds) s = std::int64_t(rng() % items);
    seeds[0] = 3;
    const TensorView sv = view(seeds);
    const Tensor device_seeds = Tensor::wrap(sv, nullptr).to(Device::cuda(0));  // checked on the device
    const MiniBatch a = on_cpu.sample(cpu, 1, sv, batch).to_host(cpu);
    const MiniBatch b = on_gpu.sample(gpu, 1, device_seeds, batch).to_host(gpu);
    CHECK(a.nodes == b.nodes);
    CHECK(a.seed_local == b.seed_local);
    for (std::size_t r = 0; r < a.relations.size(); ++r) {
      CAPTURE(r);
      CHECK(a.relations[r].indptr == b.relations[r].indptr);
      CHECK(a.relations[r].indices == b.relations[r].indices);
      CHECK(a.relations[r].edge_ids == b.relations[r].edge_ids);
    }
    for (std::size_t h = 0; h < a.blocks.size(); ++h) {
      CHECK(a.blocks[h].num_src == b.blocks[h].num_src);
      CHECK(a.blocks[h].num_edges == b.blocks[h].num_edges);
    }
  }
  std::vector<std::int64_t> bad{5, items};
  CHECK_THROWS_MATCHES(on_gpu.sample(gpu, 1, Tensor::wrap(view(bad), nullptr).to(Device::cuda(0)), 0), OutOfRange,
                       Catch::Matchers::Message("DeviceSampler::sample: 'seeds' span [5, 8000]; each must be in [0, 8000)"));
}
