#include <catch2/catch.hpp>

#include <cstdlib>
#include <set>
#include <thread>
#include <vector>

#include "gnnkit/core/block_cache.hpp"

using gnnkit::detail::BlockCache;

namespace {
std::vector<std::pair<void*, std::size_t>> g_released;
void record_release(void* p, std::size_t bytes, int device) {
  CHECK(device == 3);
  g_released.emplace_back(p, bytes);
  std::free(p);
}
}  // namespace

TEST_CASE("BlockCache: quarter-octave size classes, reuse, limit and release_all") {
  // Size classes: at most 25 % slack, exact below the minimum, monotone.
  CHECK(BlockCache::size_class(1000, 4096) == 1000);
  CHECK(BlockCache::size_class(4096, 4096) == 4096);
  CHECK(BlockCache::size_class(4097, 4096) == 5120);
  CHECK(BlockCache::size_class(6000, 4096) == 6144);
  CHECK(BlockCache::size_class(7169, 4096) == 8192);
  std::size_t previous = 0;
  for (std::size_t b = 4096; b < (std::size_t(1) << 30); b = b * 9 / 7 + 1) {
    const std::size_t c = BlockCache::size_class(b, 4096);
    CHECK(c >= b);
    CHECK(double(c) <= 1.25 * double(b) + 1);
    CHECK(c >= previous);
    previous = c;
  }

  g_released.clear();
  {
    BlockCache cache(4096, 3 * 8192, record_release, 3);
    const std::size_t size = cache.size_class(8000);
    CHECK(cache.take(size) == nullptr);  // empty
    void* a = std::malloc(size);
    void* b = std::malloc(size);
    cache.give(a, size);
    cache.give(b, size);
    CHECK(cache.cached_bytes() == 2 * size);
    std::set<void*> got{cache.take(size), cache.take(size)};
    CHECK(got == std::set<void*>{a, b});  // reused, not released
    CHECK(cache.take(size) == nullptr);
    CHECK(g_released.empty());
    // Over the limit: the third and fourth blocks go straight back.
    void* blocks[4];
    for (void*& p : blocks) p = std::malloc(size);
    for (void* p : blocks) cache.give(p, size);
    CHECK(cache.cached_bytes() == 3 * size);
    REQUIRE(g_released.size() == 1);
    CHECK(g_released[0].first == blocks[3]);
    // Small blocks are never kept.
    void* small = std::malloc(100);
    cache.give(small, 100);
    CHECK(g_released.size() == 2);
    CHECK(cache.release_all() == 3 * size);
    CHECK(cache.cached_bytes() == 0);
    CHECK(g_released.size() == 5);
    for (void* p : got) cache.give(p, size);
  }
  CHECK(g_released.size() == 7);  // the destructor releases what is left

  // Concurrent give / take keep the byte count consistent.
  g_released.clear();
  BlockCache shared(4096, std::size_t(1) << 30, record_release, 3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        void* p = shared.take(8192);
        if (!p) p = std::malloc(8192);
        shared.give(p, 8192);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(shared.cached_bytes() % 8192 == 0);
  CHECK(shared.cached_bytes() <= 4 * 8192);
  shared.release_all();
}
