#include "src/generator.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>

#include "app/svg_plot.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/sampling/random.hpp"

namespace gnnkit::recsys {
namespace {

constexpr int kLatent = 16;
constexpr std::int64_t kStart = 1704067200;  // 2024-01-01 00:00 UTC
constexpr std::int64_t kWindow = 180 * 86400;

// Streams of the counter-based generator: (seed, stream, entity) keys one entity's draws.
enum Stream : std::uint64_t { kCategoryStream = 1, kItemStream, kOrderStream, kUserStream };

double normal(CounterRng& rng) {
  const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
  return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

/// Index drawn from cumulative weights cum (last entry = total).
std::int64_t draw(const std::vector<double>& cum, CounterRng& rng) {
  const double x = rng.uniform() * cum.back();
  return std::min<std::int64_t>(std::int64_t(std::upper_bound(cum.begin(), cum.end(), x) - cum.begin()),
                                std::int64_t(cum.size()) - 1);
}

}  // namespace

void validate(const GeneratorOptions& o) {
  constexpr const char* fn = "generate_shop";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.users >= 10 && o.users <= 100'000'000,
                    "'users' must be in [10, 1e8], got {}", o.users);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.items >= 50 && o.items <= 100'000'000,
                    "'items' must be in [50, 1e8], got {}", o.items);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.categories >= 1 && o.categories <= 10000 &&
                                             o.categories <= o.items / 5,
                    "'categories' must be in [1, min(10000, items / 5)], got {}", o.categories);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.sessions_per_user >= 4 && o.sessions_per_user <= 1000,
                    "'sessions_per_user' must be in [4, 1000], got {}", o.sessions_per_user);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.test_fraction > 0 && o.test_fraction < 0.8,
                    "'test_fraction' must be in (0, 0.8), got {}", o.test_fraction);
}

SyntheticShop generate_shop(const GeneratorOptions& opt) {
  validate(opt);
  const std::int64_t U = opt.users, I = opt.items;
  const int C = opt.categories;
  const std::uint64_t seed = opt.seed;
  const int threads = opt.threads > 0 ? opt.threads : omp_get_max_threads();
  SyntheticShop shop;
  const auto nC = static_cast<std::size_t>(C), nI = static_cast<std::size_t>(I),
             nU = static_cast<std::size_t>(U);

  // Categories: heavy-tailed sizes, a latent centroid and a price level each.
  std::vector<double> cat_cum(nC);
  std::vector<float> centroid(nC * kLatent);
  std::vector<double> price_level(nC);
  for (int c = 0; c < C; ++c) {
    CounterRng rng(seed, kCategoryStream, std::uint64_t(c));
    cat_cum[std::size_t(c)] = (c ? cat_cum[std::size_t(c) - 1] : 0) + std::pow(double(c + 1), -0.7);
    for (int l = 0; l < kLatent; ++l) centroid[std::size_t(c * kLatent + l)] = float(normal(rng));
    price_level[std::size_t(c)] = std::exp(3.0 + 0.8 * normal(rng));
  }
  // Items: category, latent vector, Zipf popularity over a random order, price.
  std::vector<std::int64_t> order(nI);
  std::iota(order.begin(), order.end(), 0);
  {
    CounterRng rng(seed, kOrderStream);
    for (std::int64_t p = I - 1; p > 0; --p) std::swap(order[std::size_t(p)], order[rng.below(std::uint64_t(p + 1))]);
  }
  std::vector<double> popularity(nI);
  for (std::int64_t r = 0; r < I; ++r) popularity[std::size_t(order[std::size_t(r)])] = std::pow(double(r + 1), -0.8);
  shop.item_category.resize(nI);
  shop.item_price.resize(nI);
  std::vector<float> item_vec(nI * kLatent);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < I; ++i) {
    CounterRng rng(seed, kItemStream, std::uint64_t(i));
    // The first C items seed every category so none is empty.
    const std::int64_t c = i < C ? i : draw(cat_cum, rng);
    shop.item_category[std::size_t(i)] = std::int32_t(c);
    for (int l = 0; l < kLatent; ++l)
      item_vec[std::size_t(i * kLatent + l)] = centroid[std::size_t(c * kLatent + l)] + 0.8f * float(normal(rng));
    shop.item_price[std::size_t(i)] = float(price_level[std::size_t(c)] * std::exp(0.4 * normal(rng)));
  }
  // Candidate tables: per category, items with cumulative sqrt-popularity; shop-wide, items
  // with cumulative popularity (the best-seller shelf).
  std::vector<std::vector<std::int32_t>> cat_items(nC);
  std::vector<std::vector<double>> cat_item_cum(nC);
  for (std::int64_t i = 0; i < I; ++i) {
    const auto c = std::size_t(shop.item_category[std::size_t(i)]);
    cat_items[c].push_back(std::int32_t(i));
    cat_item_cum[c].push_back((cat_item_cum[c].empty() ? 0 : cat_item_cum[c].back()) +
                              std::sqrt(popularity[std::size_t(i)]));
  }
  std::vector<double> pop_cum(nI);
  std::partial_sum(popularity.begin(), popularity.end(), pop_cum.begin());

  // Users, each independently: sessions of views and at most one purchase.
  struct UserOut {
    std::vector<Event> events;
    std::vector<std::int32_t> train, test;
  };
  std::vector<UserOut> per_user(nU);
  const double sigma = 0.6, mu = std::log(opt.sessions_per_user) - sigma * sigma / 2;
#pragma omp parallel num_threads(threads)
  {
    std::vector<std::int32_t> cand;
    std::vector<std::pair<double, std::int32_t>> scored;
    std::vector<std::int64_t> times;
#pragma omp for schedule(dynamic, 256)
    for (std::int64_t u = 0; u < U; ++u) {
      CounterRng rng(seed, kUserStream, std::uint64_t(u));
      const int nfav = 1 + int(rng.below(3));
      int fav[3];
      float taste[kLatent] = {};
      for (int f = 0; f < nfav; ++f) {
        fav[f] = int(draw(cat_cum, rng));
        for (int l = 0; l < kLatent; ++l) taste[l] += centroid[std::size_t(fav[f] * kLatent + l)] / float(nfav);
      }
      for (int l = 0; l < kLatent; ++l) taste[l] += 0.6f * float(normal(rng));
      const double price_sensitivity = rng.uniform();
      const int sessions = std::max(4, int(std::lround(std::exp(mu + sigma * normal(rng)))));
      times.resize(std::size_t(sessions));
      for (auto& t : times) t = kStart + std::int64_t(rng.below(std::uint64_t(kWindow)));
      std::sort(times.begin(), times.end());
      const int test_sessions = std::max(1, int(std::lround(opt.test_fraction * sessions)));
      UserOut& out = per_user[std::size_t(u)];
      for (int s = 0; s < sessions; ++s) {
        cand.clear();
        if (rng.uniform() < 0.1) {
          for (int k = 0; k < 20; ++k) cand.push_back(std::int32_t(draw(pop_cum, rng)));
        } else {
          const auto c = std::size_t(fav[rng.below(std::uint64_t(nfav))]);
          for (int k = 0; k < 30; ++k) cand.push_back(cat_items[c][std::size_t(draw(cat_item_cum[c], rng))]);
        }
        scored.clear();
        for (const std::int32_t i : cand) {
          double fit = 0;
          for (int l = 0; l < kLatent; ++l) fit += double(taste[l]) * item_vec[std::size_t(i * kLatent + l)];
          const double gumbel = -std::log(-std::log(std::max(1e-12, rng.uniform())));
          scored.emplace_back(3.0 * fit / std::sqrt(double(kLatent)) + 0.3 * std::log(popularity[std::size_t(i)]) + gumbel, i);
        }
        std::sort(scored.begin(), scored.end(), std::greater<>());
        scored.erase(std::unique(scored.begin(), scored.end(),
                                 [](const auto& a, const auto& b) { return a.second == b.second; }),
                     scored.end());
        const std::size_t views = std::min<std::size_t>(scored.size(), 1 + rng.below(4));
        // The purchase: the best viewed item after price (log price relative to its category).
        std::int32_t bought = scored[0].second;
        double best = -1e300;
        for (std::size_t v = 0; v < views; ++v) {
          const std::int32_t i = scored[v].second;
          const double rel = std::log(double(shop.item_price[std::size_t(i)]) /
                                      price_level[std::size_t(shop.item_category[std::size_t(i)])]);
          const double value = scored[v].first - 2.0 * price_sensitivity * rel;
          if (value > best) best = value, bought = i;
        }
        const bool is_test = s >= sessions - test_sessions;
        for (std::size_t v = 0; v < views; ++v) {
          const std::int32_t i = scored[v].second;
          out.events.push_back({u, i, times[std::size_t(s)] + std::int64_t(v) * 40, false});
          if (!is_test) out.train.push_back(i);
        }
        out.events.push_back({u, bought, times[std::size_t(s)] + std::int64_t(views) * 40 + 30, true});
        (is_test ? out.test : out.train).push_back(bought);
      }
      std::sort(out.train.begin(), out.train.end());
      out.train.erase(std::unique(out.train.begin(), out.train.end()), out.train.end());
      std::sort(out.test.begin(), out.test.end());
      out.test.erase(std::unique(out.test.begin(), out.test.end()), out.test.end());
      std::vector<std::int32_t> fresh;
      std::set_difference(out.test.begin(), out.test.end(), out.train.begin(), out.train.end(),
                          std::back_inserter(fresh));
      out.test = std::move(fresh);
    }
  }
  std::vector<std::int64_t> tu, su;
  std::vector<std::int32_t> ti, si;
  for (std::int64_t u = 0; u < U; ++u) {
    UserOut& o = per_user[std::size_t(u)];
    tu.insert(tu.end(), o.train.size(), u);
    ti.insert(ti.end(), o.train.begin(), o.train.end());
    su.insert(su.end(), o.test.size(), u);
    si.insert(si.end(), o.test.begin(), o.test.end());
    shop.events.insert(shop.events.end(), o.events.begin(), o.events.end());
    o = UserOut{};
  }
  shop.data.name = "synthetic-shop";
  shop.data.source = "gnnkit-recsys generate (seed " + std::to_string(seed) + ")";
  shop.data.train = user_items_from_pairs(U, I, tu, ti);
  shop.data.test = user_items_from_pairs(U, I, su, si);
  return shop;
}

void write_shop(const std::string& folder, const SyntheticShop& shop) {
  constexpr const char* fn = "write_shop";
  write_lightgcn_folder(folder, shop.data);
  const std::filesystem::path dir(folder);
  std::string items = "item,category,price\n";
  char buf[64];
  for (std::size_t i = 0; i < shop.item_category.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%zu,%d,%.2f\n", i, int(shop.item_category[i]), double(shop.item_price[i]));
    items += buf;
  }
  app::write_file_atomic((dir / "items.csv").string(), items, fn);
  std::string events = "user,item,time,event\n";
  events.reserve(shop.events.size() * 32);
  for (const Event& e : shop.events) {
    std::snprintf(buf, sizeof buf, "%lld,%d,%lld,%s\n", (long long)e.user, int(e.item),
                  (long long)e.time, e.purchase ? "purchase" : "view");
    events += buf;
  }
  app::write_file_atomic((dir / "events.csv").string(), events, fn);
}

}  // namespace gnnkit::recsys
