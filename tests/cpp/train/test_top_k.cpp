// Exact top-K by dot product and by shared scores against brute-force rankings, with
// exclusions, ties, padding and input errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "gnnkit/core/error.hpp"
#include "gnnkit/train/top_k.hpp"

using namespace gnnkit;

namespace {
struct Embeddings {
  std::int64_t num_users = 0, num_items = 0, dim = 0;
  std::vector<float> user, item;
  const float* user_row(std::int64_t u) const { return user.data() + u * dim; }
  const float* item_row(std::int64_t i) const { return item.data() + i * dim; }
};
}  // namespace

TEST_CASE("top_k_dot equals a brute-force ranking with exclusions", "[top_k]") {
  std::mt19937 gen(7);
  std::normal_distribution<float> normal;
  Embeddings e;
  e.num_users = 37, e.num_items = 501, e.dim = 8;
  for (std::int64_t j = 0; j < e.num_users * e.dim; ++j) e.user.push_back(normal(gen));
  for (std::int64_t j = 0; j < e.num_items * e.dim; ++j) e.item.push_back(normal(gen));
  // Duplicate item 10's row into 11 so ties occur: the lower id must come first.
  std::copy_n(e.item_row(10), e.dim, e.item.begin() + 11 * e.dim);
  std::vector<std::int64_t> su;
  std::vector<std::int32_t> si;
  for (std::int64_t u = 0; u < e.num_users; ++u)
    for (int t = 0; t < 40; ++t) su.push_back(u), si.push_back(std::int32_t(gen() % 501));
  // The exclusion CSR: sorted, unique items per user.
  std::vector<std::int64_t> indptr(1, 0);
  std::vector<std::int32_t> items;
  for (std::int64_t u = 0; u < e.num_users; ++u) {
    std::vector<std::int32_t> mine;
    for (std::size_t p = 0; p < su.size(); ++p)
      if (su[p] == u) mine.push_back(si[p]);
    std::sort(mine.begin(), mine.end());
    mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
    items.insert(items.end(), mine.begin(), mine.end());
    indptr.push_back(std::int64_t(items.size()));
  }
  const ItemExclusion seen{indptr, items};
  auto is_seen = [&](std::int64_t u, std::int32_t i) {
    const auto l = seen.of(u);
    return std::binary_search(l.begin(), l.end(), i);
  };
  const TensorView uv(e.user.data(), DType::kFloat32, Device::cpu(), {e.num_users, e.dim});
  const TensorView iv(e.item.data(), DType::kFloat32, Device::cpu(), {e.num_items, e.dim});
  std::vector<std::int64_t> users = {3, 0, 36, 3, 17};
  const Context ctx = Context::cpu(2);
  for (const std::int64_t k : {1, 7, 470, 501})
  for (const std::int64_t tile : {0, 1, 64, 100}) {  // 0: one tile; else several, uneven last
    INFO("item tile " << tile);
    const TopK got = top_k_dot(ctx, uv, iv, users, k, seen, /*user_block=*/2, tile);
    for (std::size_t r = 0; r < users.size(); ++r) {
      const std::int64_t u = users[r];
      std::vector<std::pair<float, std::int32_t>> all;
      for (std::int32_t i = 0; i < e.num_items; ++i) {
        if (is_seen(u, i)) continue;
        float s = 0;
        for (std::int64_t c = 0; c < e.dim; ++c) s += e.user_row(u)[c] * e.item_row(i)[c];
        all.emplace_back(s, i);
      }
      std::sort(all.begin(), all.end(), [](auto a, auto b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int32_t item = got.items[r * std::size_t(k) + std::size_t(j)];
        if (j < std::int64_t(all.size())) {
          INFO("user " << u << " k " << k << " rank " << j);
          CHECK(item == all[std::size_t(j)].second);
          CHECK(got.scores[r * std::size_t(k) + std::size_t(j)] ==
                Approx(all[std::size_t(j)].first).margin(1e-4));
        } else {
          CHECK(item == -1);  // fewer unseen items than k: padded
        }
      }
    }
  }
  CHECK_THROWS_AS(top_k_dot(ctx, uv, iv, std::vector<std::int64_t>{37}, 5, seen), OutOfRange);
  CHECK_THROWS_AS(top_k_dot(ctx, uv, iv, users, 0, seen), InvalidArgument);
  // Unsorted exclusion lists are named (the ranked users' lists are checked per call).
  std::vector<std::int32_t> unsorted = items;
  std::swap(unsorted[std::size_t(indptr[3])], unsorted[std::size_t(indptr[3]) + 1]);
  CHECK_THROWS_WITH(top_k_dot(ctx, uv, iv, users, 5, ItemExclusion{indptr, unsorted}),
                    Catch::Contains("user 3") && Catch::Contains("sorted"));
  CHECK_THROWS_WITH(check_exclusion(ItemExclusion{indptr, unsorted}, e.num_items),
                    Catch::Contains("user 3"));
  check_exclusion(seen, e.num_items);

  // Shared scores (popularity): the same ranking as a dot product with a constant user.
  std::vector<float> shared(std::size_t(e.num_items));
  for (std::int64_t i = 0; i < e.num_items; ++i) shared[std::size_t(i)] = float((i * 37) % 101);
  const TopK pop = top_k_shared(shared, users, 9, seen, 2);
  for (std::size_t r = 0; r < users.size(); ++r) {
    std::vector<std::pair<float, std::int32_t>> all;
    for (std::int32_t i = 0; i < e.num_items; ++i)
      if (!is_seen(users[r], i)) all.emplace_back(shared[std::size_t(i)], i);
    std::sort(all.begin(), all.end(), [](auto a, auto b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    for (int j = 0; j < 9; ++j) CHECK(pop.items[r * 9 + std::size_t(j)] == all[std::size_t(j)].second);
  }
}

