#pragma once
// Brute-force reference for graph construction: per destination, the surviving edges in
// input order, built with plain loops and std containers.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace gnnkit::test {

struct RefEdge {
  std::int64_t src, id, ts;
  float w;
  friend bool operator==(const RefEdge&, const RefEdge&) = default;
};

/// lists[v] = edges into v. drop_loops / dedupe / add_loops as in BuildOptions.
inline std::vector<std::vector<RefEdge>> reference_csc(
    std::int64_t num_dst, const std::vector<std::int64_t>& src, const std::vector<std::int64_t>& dst,
    const std::vector<std::int64_t>& ts, const std::vector<float>& w, bool drop_loops, bool dedupe,
    bool add_loops, bool sort_by_time) {
  std::vector<std::vector<RefEdge>> lists(static_cast<std::size_t>(num_dst));
  std::set<std::pair<std::int64_t, std::int64_t>> seen;
  const auto e_count = std::int64_t(src.size());
  for (std::int64_t e = 0; e < e_count; ++e) {
    if (drop_loops && src[e] == dst[e]) continue;
    if (dedupe && !seen.insert({src[e], dst[e]}).second) continue;
    lists[std::size_t(dst[e])].push_back({src[e], e, ts.empty() ? 0 : ts[e], w.empty() ? 0.f : w[e]});
  }
  if (add_loops)
    for (std::int64_t v = 0; v < num_dst; ++v) {
      auto& l = lists[std::size_t(v)];
      if (std::none_of(l.begin(), l.end(), [&](const RefEdge& r) { return r.src == v; }))
        l.push_back({v, e_count + v, std::numeric_limits<std::int64_t>::min(), 1.f});
    }
  if (sort_by_time)
    for (auto& l : lists)
      std::stable_sort(l.begin(), l.end(), [](const RefEdge& a, const RefEdge& b) { return a.ts < b.ts; });
  return lists;
}

/// Random COO with duplicates, self-loops, skewed destinations and isolated nodes.
struct RandomCoo {
  std::vector<std::int64_t> src, dst, ts;
  std::vector<float> w;
};
inline RandomCoo random_coo(std::int64_t num_src, std::int64_t num_dst, std::int64_t num_edges,
                            std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  RandomCoo c;
  for (std::int64_t e = 0; e < num_edges; ++e) {
    // Squaring a uniform skews destinations towards low ids (hubs); the top 10 % of ids
    // stay unused so isolated nodes exist.
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    c.dst.push_back(std::int64_t(u * u * double(num_dst) * 0.9));
    c.src.push_back(std::int64_t(rng() % std::uint64_t(std::max<std::int64_t>(1, num_src * 9 / 10))));
    if (e % 7 == 0 && num_src == num_dst) c.src.back() = c.dst.back();        // self-loops
    if (e % 11 == 0 && e > 0) {                                                // duplicates
      c.src.back() = c.src[std::size_t(e - 1)];
      c.dst.back() = c.dst[std::size_t(e - 1)];
    }
    c.ts.push_back(std::int64_t(rng() % 1000));
    c.w.push_back(float(rng() % 100) / 10.f);
  }
  return c;
}

}  // namespace gnnkit::test
