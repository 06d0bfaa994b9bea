#pragma once
// A tiny user-item interaction set for the recommendation models' tests: 5 users, 6 items,
// user 3 has no items and item 5 is never used (an isolated user and an unused item).
#include <cstdint>
#include <vector>

namespace gnnkit::test {

struct TinyInteractions {
  std::int64_t users = 5, items = 6;
  std::vector<std::int64_t> indptr = {0, 2, 5, 6, 6, 8};
  std::vector<std::int32_t> item = {0, 1, 1, 2, 3, 0, 1, 4};
};

}  // namespace gnnkit::test
