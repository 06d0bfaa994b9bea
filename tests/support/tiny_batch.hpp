#pragma once
// The tiny graph both samplers' exact-output tests share: 4 nodes, edges (src -> dst)
// 1 -> 0, 2 -> 0, 3 -> 1, 3 -> 2, 0 -> 3, and the batch of seed 0 with fan-outs [-1, -1].
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "gnnkit/sampling/mini_batch.hpp"

namespace gnnkit::test {

inline const std::vector<std::int64_t> kTinySrc{1, 2, 3, 3, 0}, kTinyDst{0, 0, 1, 2, 3};

/// Hop 1 expands 0 (neighbours 1, 2); hop 2 expands 1 (3) and 2 (3).
inline void check_tiny_full_fanout_batch(const MiniBatch& mb) {
  CHECK(mb.nodes[0] == std::vector<std::int64_t>{0, 1, 2, 3});
  const SampledRelation& r = mb.relations[0];
  CHECK(r.indptr == std::vector<std::int64_t>{0, 2, 3, 4});
  CHECK(r.indices == std::vector<std::int32_t>{1, 2, 3, 3});
  CHECK(r.edge_ids == std::vector<std::int64_t>{0, 1, 2, 3});
  REQUIRE(mb.blocks.size() == 2);
  CHECK(mb.blocks[0].dst_begin[0] == 0);
  CHECK(mb.blocks[0].dst_end[0] == 1);
  CHECK(mb.blocks[0].num_src[0] == 3);
  CHECK(mb.blocks[1].dst_begin[0] == 1);
  CHECK(mb.blocks[1].dst_end[0] == 3);
  CHECK(mb.blocks[1].num_edges == 2);
  CHECK(mb.csc_prefix(0, 1).num_edges() == 2);
  CHECK(mb.seed_local == std::vector<std::int32_t>{0});
}

}  // namespace gnnkit::test
