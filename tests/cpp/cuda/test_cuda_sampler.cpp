// The CUDA build of the device sampler against its CPU build: the same algorithm, random
// streams and numbering, so the batches must be identical, edge for edge.
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
    REQUIRE(d.nodes.device() == Device::cuda(0));
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
