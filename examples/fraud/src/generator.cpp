// Synthetic fraud data: see generator.hpp for the contract. The design (why each pattern looks
// the way it does) is in examples/fraud/README.md.
#include "generator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include <gnnkit/core/context.hpp>
#include <gnnkit/core/error.hpp>
#include <gnnkit/graph/hetero_graph.hpp>
#include <gnnkit/sampling/random.hpp>

namespace gnnkit::fraud {
namespace {

constexpr std::int64_t kHour = 3600, kDay = 86400;

// Stream tags: every random stream is keyed by (seed, tag, entity[, sub-entity]).
enum Tag : std::uint64_t {
  kTagPlan = 1, kTagHousehold, kTagUser, kTagUserTx, kTagRegular, kTagMerchant, kTagCard,
  kTagDevice, kTagIp, kTagRing, kTagRingMember, kTagTakeover, kTagVictim, kTagMule,
  kTagMuleMember, kTagPool, kTagTesting,
};

// Benign share of transactions per category, typical amount (USD) per category.
constexpr std::array<double, kNumCategories> kCategoryShare = {0.25, 0.17, 0.11, 0.15, 0.05,
                                                               0.04, 0.09, 0.03, 0.07, 0.04};
constexpr std::array<double, kNumCategories> kCategoryAmount = {40, 28, 45, 60, 220,
                                                                380, 12, 80, 110, 140};
// Category preference multipliers of fraud-ring members: a weak skew towards resellable goods,
// invisible in any single transaction but clear in the mix of a ring's many transactions.
constexpr std::array<double, kNumCategories> kRingBoost = {0.55, 0.7, 0.6, 1.0, 2.4,
                                                           1.3, 1.7, 2.8, 1.0, 1.5};
enum Category : int { kGrocery, kRestaurant, kFuel, kRetail, kElectronics, kTravel, kDigital,
                       kGiftCards, kP2p, kCrypto };

// Node type ids of the "x" matrices, card / device / ip kinds.
enum CardKind : int { kCredit, kDebit, kPrepaid };
enum DeviceOs : int { kIos, kAndroid, kWindows, kMac, kOtherOs };
enum IpKind : int { kResidential, kMobile, kPublicWifi, kVpn };

/// Counter-based stream with the few distributions the generator needs.
struct Rng : CounterRng {
  using CounterRng::CounterRng;
  double normal() {
    // Box-Muller; 1 - u keeps the log finite.
    const double u = 1.0 - uniform(), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
  double lognormal(double mu, double sigma) { return std::exp(mu + sigma * normal()); }
  bool bernoulli(double p) { return uniform() < p; }
  std::int64_t range(std::int64_t lo, std::int64_t hi) {  // [lo, hi)
    return hi <= lo ? lo : lo + std::int64_t(below(std::uint64_t(hi - lo)));
  }
  std::int64_t poisson(double lambda) {
    if (lambda <= 0) return 0;
    if (lambda > 40) return std::max<std::int64_t>(0, std::llround(lambda + std::sqrt(lambda) * normal()));
    const double limit = std::exp(-lambda);
    std::int64_t k = 0;
    for (double p = uniform(); p > limit; p *= uniform()) ++k;
    return k;
  }
  /// Index drawn from a cumulative weight table.
  int pick(const double* cumulative, int n) {
    const double x = uniform() * cumulative[n - 1];
    return int(std::upper_bound(cumulative, cumulative + n - 1, x) - cumulative);
  }
};

/// Popularity-weighted choice among [first, first + n) entities, O(log n).
struct WeightedPool {
  std::int64_t first = 0;
  std::vector<double> cumulative;
  std::int64_t size() const { return std::int64_t(cumulative.size()); }
  std::int64_t pick(Rng& rng) const {
    const double x = rng.uniform() * cumulative.back();
    return first + std::int64_t(std::upper_bound(cumulative.begin(), cumulative.end() - 1, x) -
                                cumulative.begin());
  }
  static WeightedPool make(std::uint64_t seed, std::uint64_t tag, std::int64_t first,
                           std::int64_t n, double sigma) {
    WeightedPool pool;
    pool.first = first;
    pool.cumulative.resize(std::size_t(n));
    double sum = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      Rng rng(seed, kTagPool, tag, std::uint64_t(i));
      sum += rng.lognormal(0, sigma);
      pool.cumulative[std::size_t(i)] = sum;
    }
    return pool;
  }
};

/// One raw transaction before time ordering.
struct RawTx {
  std::int64_t time;
  std::int64_t user, card, device, ip, merchant;
  float amount;
  Pattern pattern;
};

/// A fraud group (ring, takeover crew, mule chain) and the ids reserved for it.
struct Group {
  Pattern pattern;
  std::uint64_t index;       // within its pattern (keys its random stream)
  std::int64_t size = 0;     // members / victims
  std::int64_t first_user = 0, num_users = 0;   // accounts created by fraudsters
  std::int64_t first_device = 0, num_devices = 0;
  std::int64_t first_ip = 0, num_ips = 0;
};

/// Static attributes of a user, a pure function of (seed, user), so fraud patterns can read
/// a victim's profile without storing every profile.
struct UserProfile {
  std::int64_t signup;        // relative to the window start (may be negative)
  std::int64_t num_txs;       // benign transactions in the window
  double amount_scale;
  double hour_peak, hour_spread;
  int num_devices, num_cards;  // personal, registered
  bool new_phone;              // gets a new phone during the window (one more device)
  std::int64_t new_phone_time;
  bool vpn_user, kyc;
  bool burst;                  // one benign micro-payment burst (app store, transit)
  std::int64_t burst_size;
  bool travel;
  std::int64_t travel_start;
  std::int64_t workplace;      // -1: none
};

/// Everything the per-user and per-group passes share.
struct World {
  GeneratorOptions opt;
  std::int64_t window = 0;          // seconds
  std::int64_t num_benign = 0;      // users [0, num_benign) are ordinary customers
  std::int64_t num_users = 0;
  std::vector<Group> groups;
  std::vector<std::int64_t> fraud_user_group;  // per fraud account: its group (index into groups)
  std::vector<std::int64_t> test_devices;      // rings' card-testing phones (ascending)
  // Households: consecutive benign users; fraud accounts live alone.
  std::vector<std::int64_t> household_of;      // per user
  std::vector<std::int64_t> household_first;   // per household: its first user (+ end)
  std::vector<std::uint8_t> family_device, family_card;  // per household
  std::vector<std::int64_t> family_device_id, family_card_id;
  // Per user: first personal device / card (prefix sums; + end).
  std::vector<std::int64_t> device_first, card_first;
  std::vector<UserProfile> profiles;
  // Shared pools.
  WeightedPool kiosks, mobile_ips, wifi_ips, vpn_ips;
  std::array<WeightedPool, kNumCategories> merchants_by_category;  // over positions in:
  std::array<std::vector<std::int64_t>, kNumCategories> merchant_ids;
  std::int64_t num_merchants = 0, num_devices = 0, num_cards = 0, num_ips = 0;
  std::vector<int> merchant_category;
  std::vector<float> merchant_risk, merchant_popularity;
  std::int64_t kiosk_first = 0, group_device_first = 0;
  // Workplaces: benign colleagues sharing an office computer and the office IP, so that a
  // device or IP shared by a dozen accounts is not by itself a sign of fraud.
  std::int64_t num_workplaces = 0, workplace_device_first = 0, workplace_ip_first = 0;
  std::int64_t household_ip_first = 0, group_ip_first = 0;
};

double cumulative_categories(const std::array<double, kNumCategories>& weights, double* out) {
  double sum = 0;
  for (int c = 0; c < kNumCategories; ++c) out[c] = sum += weights[std::size_t(c)];
  return sum;
}

UserProfile make_profile(const World& w, std::int64_t u) {
  Rng rng(w.opt.seed, kTagUser, std::uint64_t(u));
  UserProfile p{};
  if (rng.bernoulli(0.72)) {
    p.signup = -std::int64_t((20.0 + rng.lognormal(std::log(480.0), 0.9)) * double(kDay));
  } else {
    p.signup = rng.range(0, w.window - kDay);
  }
  const double activity = rng.lognormal(-0.5, 1.0);  // mean 1, heavy tail
  const double active = double(w.window - std::max<std::int64_t>(0, p.signup)) / double(w.window);
  p.num_txs = rng.poisson(w.opt.tx_per_user * activity * active / 0.86);
  p.amount_scale = rng.lognormal(0, 0.5);
  p.hour_peak = 15.0 + 3.5 * rng.normal();
  p.hour_spread = 2.0 + 3.0 * rng.uniform();
  p.num_devices = 1 + int(rng.bernoulli(0.35)) + int(rng.bernoulli(0.1));
  p.num_cards = 1 + int(rng.bernoulli(0.4)) + int(rng.bernoulli(0.12));
  p.new_phone = rng.bernoulli(0.3);
  const std::int64_t begin = std::max<std::int64_t>(0, p.signup);
  p.new_phone_time = rng.range(begin, w.window);
  p.vpn_user = rng.bernoulli(0.08);
  p.kyc = rng.bernoulli(0.85);
  // Benign micro-payment bursts (a few app-store or transit payments up to dozens): short
  // ones look like a fraudster's card test, so a tiny digital payment alone proves nothing.
  p.burst = rng.bernoulli(0.4);
  p.burst_size = p.burst ? 1 + std::min<std::int64_t>(40, rng.poisson(0.5 + 8.0 * rng.uniform() * rng.uniform())) : 0;
  p.travel = rng.bernoulli(0.08);
  p.travel_start = rng.range(begin, w.window);
  p.workplace = rng.bernoulli(0.15) ? rng.range(0, w.num_workplaces) : -1;
  if (u >= w.num_benign) {  // accounts opened by fraudsters (cards often prepaid)
    p.new_phone = false;
    p.burst = false;
    p.burst_size = 0;
    p.travel = false;
    p.num_txs = 0;  // their transactions come from their group
    p.workplace = -1;
    p.kyc = rng.bernoulli(0.7);
  }
  p.num_devices += int(p.new_phone);
  return p;
}

std::int64_t hour_time(Rng& rng, double peak, double spread) {
  double h = rng.bernoulli(0.1) ? 24.0 * rng.uniform() : peak + spread * rng.normal();
  h = std::fmod(h, 24.0);
  if (h < 0) h += 24.0;
  return std::min<std::int64_t>(kDay - 1, std::int64_t(h * double(kHour)));
}

/// A time in [lo, hi) whose hour of day follows the profile.
std::int64_t draw_time(Rng& rng, std::int64_t lo, std::int64_t hi, double peak, double spread) {
  lo = std::max<std::int64_t>(lo, 0);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::int64_t day = rng.range(lo / kDay, (hi - 1) / kDay + 1);
    const std::int64_t t = day * kDay + hour_time(rng, peak, spread);
    if (t >= lo && t < hi) return t;
  }
  return rng.range(lo, hi);
}

float draw_amount(Rng& rng, int category, double scale, double mu = 0.0, double sigma = 0.75) {
  const double a = kCategoryAmount[std::size_t(category)] * scale * rng.lognormal(mu, sigma);
  return float(std::max(0.5, std::round(a * 100.0) / 100.0));
}

std::int64_t pick_merchant(const World& w, Rng& rng, int category) {
  return w.merchant_ids[std::size_t(category)]
                      [std::size_t(w.merchants_by_category[std::size_t(category)].pick(rng))];
}

// ---- planning ---------------------------------------------------------------------------------

void plan(World& w) {
  const GeneratorOptions& o = w.opt;
  w.window = std::int64_t(o.days) * kDay;
  // Expected benign volume decides the number of fraud groups (profile means: 0.86 of users'
  // time is active on average, which make_profile divides out).
  // Benign volume: the regular payments plus the micro-payment bursts (40 % of customers, mean
  // size 3.5; see make_profile).
  const double benign_txs = double(o.users) * (o.tx_per_user + 0.4 * 3.5);
  const double fraud_txs = benign_txs * o.fraud_rate / (1.0 - o.fraud_rate);
  // Expected transactions per group (see the simulate_* functions).
  const double per_ring = 9.5 * 3.5 + 9.5 * 1.5;  // members x txs + one check per card
  const double per_crew = 14.5 * 3.0, per_chain = 5.5 * 4.5, per_testing = 25.0 * 2.0;
  const auto count = [](double x) { return std::max<std::int64_t>(1, std::llround(x)); };
  const std::int64_t rings = count(fraud_txs * 0.68 / per_ring);
  const std::int64_t crews = count(fraud_txs * 0.12 / per_crew);
  const std::int64_t chains = count(fraud_txs * 0.08 / per_chain);
  const std::int64_t testers = count(fraud_txs * 0.12 / per_testing);
  Rng rng(o.seed, kTagPlan);
  std::int64_t fraud_users = 0, group_devices = 0, group_ips = 0;
  auto add = [&](Pattern p, std::uint64_t i, std::int64_t size, std::int64_t users,
                 std::int64_t devices, std::int64_t ips) {
    Group g{p, i, size, fraud_users, users, group_devices, devices, group_ips, ips};
    fraud_users += users;
    group_devices += devices;
    group_ips += ips;
    w.groups.push_back(g);
  };
  for (std::int64_t i = 0; i < rings; ++i) {
    // m existing customers' accounts (bought or taken over) plus one more that tests the cards.
    const std::int64_t m = rng.range(4, 16);
    add(Pattern::kRing, std::uint64_t(i), m, 0, 2 + m / 4, 1 + m / 3);
  }
  for (std::int64_t i = 0; i < crews; ++i)
    add(Pattern::kTakeover, std::uint64_t(i), rng.range(5, 25), 0, rng.range(3, 7), rng.range(2, 5));
  for (std::int64_t i = 0; i < chains; ++i) {
    const std::int64_t len = rng.range(3, 9);
    add(Pattern::kMule, std::uint64_t(i), len, len, len - 1, 0);
  }
  for (std::int64_t i = 0; i < testers; ++i)  // one fresh account testing 10-40 cards
    add(Pattern::kCardTesting, std::uint64_t(i), rng.range(10, 41), 1, 1, 0);
  GNNKIT_EXPECTS_AS(InvalidArgument, "gnnkit::fraud::generate", fraud_users * 4 <= o.users,
                    "'users' ({}) is too small for fraud rate {}: the fraud accounts ({}) would be "
                    "over a quarter of all users; raise --users or lower --fraud-rate",
                    o.users, o.fraud_rate, fraud_users);
  w.num_users = o.users;
  w.num_benign = o.users - fraud_users;
  w.fraud_user_group.resize(std::size_t(fraud_users));
  for (std::size_t g = 0; g < w.groups.size(); ++g)
    for (std::int64_t k = 0; k < w.groups[g].num_users; ++k)
      w.fraud_user_group[std::size_t(w.groups[g].first_user + k)] = std::int64_t(g);
  for (auto& g : w.groups) g.first_user += w.num_benign;

  // Households over benign users (sizes 1-5); every fraud account alone.
  w.household_of.resize(std::size_t(w.num_users));
  for (std::int64_t u = 0; u < w.num_users;) {
    const std::int64_t h = std::int64_t(w.household_first.size());
    Rng hr(o.seed, kTagHousehold, std::uint64_t(h));
    const double x = hr.uniform();
    std::int64_t size = x < 0.5 ? 1 : x < 0.77 ? 2 : x < 0.9 ? 3 : x < 0.97 ? 4 : 5;
    if (u >= w.num_benign) size = 1;
    size = std::min(size, (u < w.num_benign ? w.num_benign : w.num_users) - u);
    w.household_first.push_back(u);
    w.family_device.push_back(size > 1 && hr.bernoulli(0.45));
    w.family_card.push_back(size > 1 && hr.bernoulli(0.25));
    for (std::int64_t k = 0; k < size; ++k) w.household_of[std::size_t(u + k)] = h;
    u += size;
  }
  const std::int64_t households = std::int64_t(w.household_first.size());
  w.household_first.push_back(w.num_users);

  w.num_workplaces = std::max<std::int64_t>(1, w.num_benign * 15 / 100 / 10);
  // Profiles (parallel, pure functions of (seed, user)), then id ranges by prefix sums.
  w.profiles.resize(std::size_t(w.num_users));
  const int threads = o.num_threads;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t u = 0; u < w.num_users; ++u) w.profiles[std::size_t(u)] = make_profile(w, u);
  w.device_first.resize(std::size_t(w.num_users) + 1);
  w.card_first.resize(std::size_t(w.num_users) + 1);
  std::int64_t devices = 0, cards = 0;
  for (std::int64_t u = 0; u < w.num_users; ++u) {
    w.device_first[std::size_t(u)] = devices;
    w.card_first[std::size_t(u)] = cards;
    devices += w.profiles[std::size_t(u)].num_devices;
    cards += w.profiles[std::size_t(u)].num_cards;
  }
  w.device_first.back() = devices;
  w.card_first.back() = cards;
  w.family_device_id.assign(std::size_t(households), -1);
  w.family_card_id.assign(std::size_t(households), -1);
  for (std::int64_t h = 0; h < households; ++h) {
    if (w.family_device[std::size_t(h)]) w.family_device_id[std::size_t(h)] = devices++;
    if (w.family_card[std::size_t(h)]) w.family_card_id[std::size_t(h)] = cards++;
  }
  const std::int64_t kiosks = std::max<std::int64_t>(5, w.num_benign / 1000);
  w.kiosk_first = devices;
  w.kiosks = WeightedPool::make(o.seed, 1, devices, kiosks, 1.5);
  devices += kiosks;
  w.workplace_device_first = devices;
  devices += w.num_workplaces;
  w.group_device_first = devices;
  for (auto& g : w.groups) g.first_device += devices;
  devices += group_devices;
  w.num_devices = devices;
  w.num_cards = cards;

  // IPs: one per household, then mobile carrier NAT, public Wi-Fi, VPN exits, fraud proxies.
  std::int64_t ips = households;
  w.household_ip_first = 0;
  const std::int64_t mobile = std::max<std::int64_t>(20, w.num_benign / 200);
  const std::int64_t wifi = std::max<std::int64_t>(20, w.num_benign / 40);
  const std::int64_t vpn = std::max<std::int64_t>(5, w.num_benign / 2000);
  w.mobile_ips = WeightedPool::make(o.seed, 2, ips, mobile, 1.0);
  ips += mobile;
  w.wifi_ips = WeightedPool::make(o.seed, 3, ips, wifi, 1.0);
  ips += wifi;
  w.vpn_ips = WeightedPool::make(o.seed, 4, ips, vpn, 0.7);
  ips += vpn;
  w.workplace_ip_first = ips;
  ips += w.num_workplaces;
  w.group_ip_first = ips;
  for (auto& g : w.groups) g.first_ip += ips;
  ips += group_ips;
  w.num_ips = ips;

  // Merchants: the first kNumCategories cover every category once, the rest by share.
  w.num_merchants = std::max<std::int64_t>(4 * kNumCategories, w.num_users / 200);
  w.merchant_category.resize(std::size_t(w.num_merchants));
  w.merchant_risk.resize(std::size_t(w.num_merchants));
  w.merchant_popularity.resize(std::size_t(w.num_merchants));
  double share_cum[kNumCategories];
  cumulative_categories(kCategoryShare, share_cum);
  std::array<std::vector<std::int64_t>, kNumCategories> members;
  for (std::int64_t m = 0; m < w.num_merchants; ++m) {
    Rng mr(o.seed, kTagMerchant, std::uint64_t(m));
    const int c = m < kNumCategories ? int(m) : mr.pick(share_cum, kNumCategories);
    w.merchant_category[std::size_t(m)] = c;
    w.merchant_popularity[std::size_t(m)] = float(mr.lognormal(0, 1.3));
    w.merchant_risk[std::size_t(m)] = float(mr.normal());
    members[std::size_t(c)].push_back(m);
  }
  // Per category a pool over its merchants (ids are not contiguous: map through members).
  for (int c = 0; c < kNumCategories; ++c) {
    WeightedPool& pool = w.merchants_by_category[std::size_t(c)];
    pool.first = 0;
    double sum = 0;
    for (std::int64_t m : members[std::size_t(c)])
      pool.cumulative.push_back(sum += w.merchant_popularity[std::size_t(m)]);
  }
  w.merchant_ids = std::move(members);
}

// ---- simulation -------------------------------------------------------------------------------

/// Cumulative category weights: base share x per-entity taste noise x boost.
void taste(Rng& rng, const std::array<double, kNumCategories>& boost, double* cumulative) {
  std::array<double, kNumCategories> weights;
  for (int c = 0; c < kNumCategories; ++c)
    weights[std::size_t(c)] = kCategoryShare[std::size_t(c)] * boost[std::size_t(c)] * rng.lognormal(0, 0.7);
  cumulative_categories(weights, cumulative);
}

constexpr std::array<double, kNumCategories> kNoBoost = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
constexpr std::array<double, kNumCategories> kTravelBoost = {0.7, 1.5, 1.2, 1, 1, 6, 1, 1, 1, 1};

std::int64_t home_ip(const World& w, std::int64_t u) {
  return w.household_ip_first + w.household_of[std::size_t(u)];
}

/// Transactions of benign user u, written to out[0, profile.num_txs + burst_size).
void simulate_user(const World& w, std::int64_t u, RawTx* out) {
  const UserProfile& p = w.profiles[std::size_t(u)];
  Rng rng(w.opt.seed, kTagUserTx, std::uint64_t(u));
  double usual[kNumCategories], travel[kNumCategories];
  taste(rng, kNoBoost, usual);
  for (int c = 0; c < kNumCategories; ++c) travel[c] = usual[c] * 1.0;  // same taste, boosted:
  {
    std::array<double, kNumCategories> wts;
    for (int c = 0; c < kNumCategories; ++c)
      wts[std::size_t(c)] = (usual[c] - (c ? usual[c - 1] : 0.0)) * kTravelBoost[std::size_t(c)];
    cumulative_categories(wts, travel);
  }
  const std::int64_t h = w.household_of[std::size_t(u)];
  const std::int64_t dev0 = w.device_first[std::size_t(u)];
  const int old_devices = p.num_devices - int(p.new_phone);
  const std::int64_t new_phone = dev0 + p.num_devices - 1;
  const std::int64_t fam_dev = w.family_device_id[std::size_t(h)];
  const std::int64_t fam_card = w.family_card_id[std::size_t(h)];
  const std::int64_t card0 = w.card_first[std::size_t(u)];
  const std::int64_t begin = std::max<std::int64_t>(0, p.signup);
  const std::int64_t hh_first = w.household_first[std::size_t(h)];
  const std::int64_t hh_size = w.household_first[std::size_t(h) + 1] - hh_first;
  auto primary_device = [&](std::int64_t t) {
    return p.new_phone && t >= p.new_phone_time ? new_phone : dev0;
  };
  for (std::int64_t k = 0; k < p.num_txs; ++k) {
    RawTx& tx = out[k];
    tx.time = draw_time(rng, begin, w.window, p.hour_peak, p.hour_spread);
    const bool away = p.travel && tx.time >= p.travel_start && tx.time < p.travel_start + 5 * kDay;
    const int c = rng.pick(away ? travel : usual, kNumCategories);
    if (rng.bernoulli(0.5)) {  // a regular merchant of this user in this category
      Rng regular(w.opt.seed, kTagRegular, std::uint64_t(u) * kNumCategories + std::uint64_t(c),
                  rng.below(3));
      tx.merchant = pick_merchant(w, regular, c);
    } else {
      tx.merchant = pick_merchant(w, rng, c);
    }
    tx.amount = draw_amount(rng, c, p.amount_scale);
    const double x = rng.uniform();
    const bool at_work = p.workplace >= 0 && rng.bernoulli(0.2);
    if (at_work) tx.device = w.workplace_device_first + p.workplace;
    else if (fam_dev >= 0 && x < 0.15) tx.device = fam_dev;
    else if (x > 0.975) tx.device = w.kiosks.pick(rng);
    else if (hh_size > 1 && x < 0.25) tx.device = w.device_first[std::size_t(hh_first + rng.range(0, hh_size))];
    else if (old_devices > 1 && rng.bernoulli(0.25)) tx.device = dev0 + rng.range(1, old_devices);
    else tx.device = primary_device(tx.time);
    const double y = rng.uniform();
    if (at_work) tx.ip = w.workplace_ip_first + p.workplace;
    else if (away) tx.ip = y < 0.7 ? w.wifi_ips.pick(rng) : w.mobile_ips.pick(rng);
    else if (p.vpn_user && y < 0.4) tx.ip = w.vpn_ips.pick(rng);
    else if (y < 0.57) tx.ip = home_ip(w, u);
    else if (y < 0.87) tx.ip = w.mobile_ips.pick(rng);
    else tx.ip = w.wifi_ips.pick(rng);
    if (fam_card >= 0 && rng.bernoulli(0.12)) tx.card = fam_card;
    else if (hh_size > 1 && rng.bernoulli(0.08)) tx.card = w.card_first[std::size_t(hh_first + rng.range(0, hh_size))];
    else if (p.num_cards > 1 && rng.bernoulli(0.3)) tx.card = card0 + rng.range(1, p.num_cards);
    else tx.card = card0;
    tx.user = u;
    tx.pattern = Pattern::kNone;
  }
  if (p.burst) {  // benign micro-payments: app store / transit top-ups, one merchant, one hour
    std::int64_t t = draw_time(rng, begin, w.window, p.hour_peak, p.hour_spread);
    const std::int64_t merchant = pick_merchant(w, rng, kDigital);
    const std::int64_t device = primary_device(t), ip = rng.bernoulli(0.6) ? home_ip(w, u) : w.mobile_ips.pick(rng);
    for (std::int64_t k = 0; k < p.burst_size; ++k) {
      RawTx& tx = out[p.num_txs + k];
      tx = RawTx{std::min(t, w.window - 1), u, card0, device, ip, merchant,
                 float(std::round((0.5 + 4.5 * rng.uniform()) * 100.0) / 100.0), Pattern::kNone};
      t += rng.range(20, 600);
    }
  }
}

std::int64_t old_signup(Rng& rng) {
  return -std::int64_t((20.0 + rng.lognormal(std::log(480.0), 0.9)) * double(kDay));
}

/// A fraud ring: existing customers' accounts (bought from their owners or taken over: an
/// ordinary history, profile, cards and home IP) sharing a few phones and spending on stolen
/// cards, plus one more such account that checked those cards first with an ordinary-looking
/// purchase from the ring's checking phone (mostly an emulator) over a VPN exit or ring proxy.
/// One by one the members' payments look ordinary, and so do the averages of their user's,
/// card's and phone's earlier payments; what gives a ring payment away is three hops out: the
/// stolen card's earlier purchase came from that phone and IP (payment -> card -> the check ->
/// its device and IP).
void simulate_ring(World& w, const Group& g, std::vector<RawTx>& out) {
  Rng rng(w.opt.seed, kTagRing, g.index);
  const std::int64_t s = rng.range(std::min<std::int64_t>(26 * kDay, w.window / 3), w.window - 10 * kDay);
  const std::int64_t end = std::min(w.window, s + rng.range(21 * kDay, 56 * kDay));
  const std::int64_t members = g.size;
  const std::int64_t shared_devices = g.num_devices - 1, test_device = g.first_device + shared_devices;
  std::vector<std::int64_t> stolen(static_cast<std::size_t>(g.size + rng.range(0, g.size)));
  for (auto& card : stolen) {
    const std::int64_t v = rng.range(0, w.num_benign);
    card = w.card_first[std::size_t(v)] + rng.range(0, w.profiles[std::size_t(v)].num_cards);
  }
  // Checking the cards: one more established account of the ring makes one ordinary-looking
  // purchase with every stolen card, in the weeks before the members use them, from the
  // ring's checking phone (mostly an emulator) over one VPN exit or ring proxy. The purchase
  // looks like any other; only its phone and IP are out of the ordinary.
  const auto established_account = [&](Rng& r) {
    std::int64_t u = r.range(0, w.num_benign);
    for (int attempt = 0; attempt < 20 && w.profiles[std::size_t(u)].signup > -60 * kDay; ++attempt)
      u = r.range(0, w.num_benign);
    return u;
  };
  const std::int64_t checker = established_account(rng);
  const std::int64_t check_ip = rng.bernoulli(0.85) ? w.vpn_ips.pick(rng) : g.first_ip + rng.range(0, g.num_ips);
  w.test_devices.push_back(test_device);
  {
    const UserProfile& p = w.profiles[std::size_t(checker)];
    double taste_cum[kNumCategories];
    taste(rng, kRingBoost, taste_cum);
    for (std::size_t c = 0; c < stolen.size(); ++c) {
      RawTx tx;
      tx.time = draw_time(rng, std::max<std::int64_t>(0, s - 25 * kDay), s, p.hour_peak, p.hour_spread);
      const int category = rng.pick(taste_cum, kNumCategories);
      tx.merchant = pick_merchant(w, rng, category);
      tx.amount = draw_amount(rng, category, p.amount_scale);
      tx.user = checker;
      tx.card = stolen[c];
      tx.device = test_device;
      tx.ip = check_ip;
      tx.pattern = Pattern::kRing;
      out.push_back(tx);
    }
  }
  const std::int64_t share = std::max<std::int64_t>(1, std::int64_t(stolen.size()) / members);
  for (std::int64_t k = 0; k < members; ++k) {
    Rng mr(w.opt.seed, kTagRingMember, g.index, std::uint64_t(k));
    const std::int64_t u = established_account(mr);
    const UserProfile& p = w.profiles[std::size_t(u)];
    const double scale = p.amount_scale * mr.lognormal(0.1, 0.3);
    double taste_cum[kNumCategories];
    taste(mr, kRingBoost, taste_cum);
    // A few payments each over weeks, on top of the account's usual activity: no burst.
    const std::int64_t n = 1 + mr.poisson(2.5);
    const std::int64_t own_device = w.device_first[std::size_t(u)], own_card = w.card_first[std::size_t(u)];
    for (std::int64_t j = 0; j < n; ++j) {
      RawTx tx;
      tx.time = draw_time(mr, s, end, p.hour_peak, p.hour_spread);
      const int c = mr.pick(taste_cum, kNumCategories);
      tx.merchant = pick_merchant(w, mr, c);
      tx.amount = draw_amount(mr, c, scale);
      const double x = mr.uniform();
      tx.device = x < 0.55 ? own_device
                  : x < 0.9 ? g.first_device + k % shared_devices
                            : g.first_device + mr.range(0, shared_devices);
      const double y = mr.uniform();
      tx.ip = y < 0.1 ? g.first_ip + mr.range(0, g.num_ips)
              : y < 0.4 ? w.mobile_ips.pick(mr)
                        : home_ip(w, u);
      // Each member works its own share of the stolen cards (one or two), so a card is seen
      // with its owner and one ring member, as a family card is.
      tx.card = mr.bernoulli(0.95) ? stolen[std::size_t((k * share + mr.range(0, share)) % std::int64_t(stolen.size()))]
                                  : own_card;
      tx.user = u;
      tx.pattern = Pattern::kRing;
      out.push_back(tx);
    }
  }
}

/// Card testing: a fresh account tries 10-40 stolen cards of customers with one to three tiny
/// payments each at one digital-goods merchant, a few cards per session over a few days, from
/// one phone over mobile data or a VPN (the cards are then sold on).
void simulate_card_testing(World& w, const Group& g, std::vector<RawTx>& out) {
  Rng rng(w.opt.seed, kTagTesting, g.index);
  const std::int64_t u = g.first_user;
  UserProfile& p = w.profiles[std::size_t(u)];
  const std::int64_t s = rng.range(kDay, w.window - 4 * kDay);
  p.signup = s - rng.range(0, 10 * kDay);
  p.kyc = rng.bernoulli(0.3);
  const std::int64_t merchant = pick_merchant(w, rng, kDigital);
  const std::int64_t ip = rng.bernoulli(0.5) ? w.mobile_ips.pick(rng) : w.vpn_ips.pick(rng);
  const std::int64_t device = g.first_device;
  std::int64_t t = s + hour_time(rng, 15, 4);
  for (std::int64_t c = 0; c < g.size; ++c) {
    const std::int64_t v = rng.range(0, w.num_benign);
    const std::int64_t card = w.card_first[std::size_t(v)] + rng.range(0, w.profiles[std::size_t(v)].num_cards);
    if (rng.bernoulli(0.25)) t += rng.range(6 * kHour, 30 * kHour);  // next session
    for (std::int64_t k = rng.range(1, 4); k > 0; --k) {
      t += rng.range(20, 600);
      out.push_back(RawTx{std::min(t, w.window - 1), u, card, device, ip, merchant,
                          float(std::round((0.5 + 4.5 * rng.uniform()) * 100.0) / 100.0),
                          Pattern::kCardTesting});
    }
  }
}

/// An account-takeover crew: a few devices and IPs logging into many old accounts, each then
/// paying unusual amounts for resellable goods within a day and a half.
void simulate_takeover(World& w, const Group& g, std::vector<RawTx>& out, std::int64_t& victims) {
  Rng rng(w.opt.seed, kTagTakeover, g.index);
  const std::int64_t s = rng.range(0, w.window - 3 * kDay);
  const std::int64_t span_end = std::min(w.window - 2 * kDay, s + 30 * kDay);
  const double peak = 24.0 * rng.uniform(), spread = 3.0 + 4.0 * rng.uniform();
  constexpr std::array<double, kNumCategories> kWants = {0, 0, 0, 0.05, 0.3, 0.15, 0, 0.25, 0.15, 0.1};
  double wants[kNumCategories];
  cumulative_categories(kWants, wants);
  for (std::int64_t j = 0; j < g.size; ++j) {
    Rng vr(w.opt.seed, kTagVictim, g.index, std::uint64_t(j));
    std::int64_t v = vr.range(0, w.num_benign);
    for (int attempt = 0; attempt < 20 && w.profiles[std::size_t(v)].signup > -30 * kDay; ++attempt)
      v = vr.range(0, w.num_benign);
    const UserProfile& p = w.profiles[std::size_t(v)];
    const std::int64_t t0 = vr.range(s, std::max(s + 1, span_end));
    const std::int64_t device = g.first_device + vr.range(0, g.num_devices);  // one login per victim
    const std::int64_t ip = g.first_ip + vr.range(0, g.num_ips);
    ++victims;
    for (std::int64_t k = vr.range(1, 6); k > 0; --k) {
      RawTx tx;
      tx.time = draw_time(vr, t0, std::min(w.window, t0 + 36 * kHour), peak, spread);
      const int c = vr.pick(wants, kNumCategories);
      tx.merchant = pick_merchant(w, vr, c);
      tx.amount = draw_amount(vr, c, p.amount_scale, 0.5, 0.7);
      tx.device = device;
      tx.ip = vr.bernoulli(0.75) ? ip : w.vpn_ips.pick(vr);
      tx.card = w.card_first[std::size_t(v)] + (vr.bernoulli(0.7) ? 0 : vr.range(0, p.num_cards));
      tx.user = v;
      tx.pattern = Pattern::kTakeover;
      out.push_back(tx);
    }
  }
}

/// A money-mule chain: recruited accounts, each moving money on (transfers, crypto) a day after
/// the previous one, consecutive mules sharing their handler's device.
void simulate_mules(World& w, const Group& g, std::vector<RawTx>& out) {
  Rng rng(w.opt.seed, kTagMule, g.index);
  const std::int64_t s = rng.range(0, std::max<std::int64_t>(1, w.window - (g.size + 3) * kDay));
  constexpr std::array<double, kNumCategories> kMoves = {0, 0, 0, 0, 0, 0, 0, 0.1, 0.6, 0.3};
  double moves[kNumCategories];
  cumulative_categories(kMoves, moves);
  for (std::int64_t k = 0; k < g.num_users; ++k) {
    const std::int64_t u = g.first_user + k;
    Rng mr(w.opt.seed, kTagMuleMember, g.index, std::uint64_t(k));
    UserProfile& p = w.profiles[std::size_t(u)];
    p.signup = mr.bernoulli(0.6) ? old_signup(mr) : s - mr.range(0, 30 * kDay);
    const std::int64_t lo = std::min(w.window - kDay, s + k * kDay);
    const std::int64_t hi = std::min(w.window, lo + 3 * kDay);
    const double peak = 15.0 + 3.5 * mr.normal(), spread = 2.0 + 3.0 * mr.uniform();
    for (std::int64_t j = mr.range(2, 8); j > 0; --j) {
      RawTx tx;
      tx.time = draw_time(mr, std::max(lo, p.signup), hi, peak, spread);
      const int c = mr.pick(moves, kNumCategories);
      tx.merchant = pick_merchant(w, mr, c);
      tx.amount = draw_amount(mr, c, 1.0, 0.3, 0.8);
      const double x = mr.uniform();
      tx.device = (x < 0.25 && k > 0)               ? g.first_device + k - 1
                  : (x > 0.75 && k + 1 < g.num_users) ? g.first_device + k
                                                      : w.device_first[std::size_t(u)];
      tx.ip = mr.bernoulli(0.6) ? home_ip(w, u) : w.mobile_ips.pick(mr);
      tx.card = w.card_first[std::size_t(u)];
      tx.user = u;
      tx.pattern = Pattern::kMule;
      out.push_back(tx);
    }
  }
}

// ---- features --------------------------------------------------------------------------------

/// Groups ids [0, n) by key (stable, so each group keeps id order = time order).
void group_by(const std::vector<std::int64_t>& key, std::int64_t num_keys,
              std::vector<std::int64_t>& ptr, std::vector<std::int64_t>& items) {
  ptr.assign(std::size_t(num_keys) + 1, 0);
  for (std::int64_t k : key) ++ptr[std::size_t(k) + 1];
  for (std::size_t i = 1; i < ptr.size(); ++i) ptr[i] += ptr[i - 1];
  items.resize(key.size());
  std::vector<std::int64_t> cursor(ptr.begin(), ptr.end() - 1);
  for (std::size_t i = 0; i < key.size(); ++i) items[std::size_t(cursor[std::size_t(key[i])]++)] = std::int64_t(i);
}

HostArray floats(std::int64_t n) { return HostArray::of<float>(n); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

const std::vector<std::string>& feature_columns(const std::string& node_type) {
  static const auto with_categories = [](std::vector<std::string> head, std::vector<std::string> tail) {
    for (const char* c : kCategoryNames) head.push_back(std::string("category_") + c);
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  static const std::vector<std::string> tx = with_categories(
      {"log_amount", "hour_sin", "hour_cos"},
      {"user_tx_1h", "user_tx_24h", "card_tx_24h", "amount_vs_user_mean", "new_device_for_user",
       "new_ip_for_user", "user_prior_tx", "hours_since_user_prev_tx"});
  static const std::vector<std::string> user = {"account_age_years", "opened_in_window",
                                                "registered_cards", "registered_devices",
                                                "prior_log_amount", "kyc_verified"};
  static const std::vector<std::string> card = {"credit", "debit", "prepaid", "bin_risk", "holders"};
  static const std::vector<std::string> device = {"ios", "android", "windows", "mac", "other_os", "emulator"};
  static const std::vector<std::string> ip = {"residential", "mobile", "public_wifi", "vpn_hosting", "reputation"};
  static const std::vector<std::string> merchant = with_categories({}, {"risk", "log_popularity"});
  if (node_type == "transaction") return tx;
  if (node_type == "user") return user;
  if (node_type == "card") return card;
  if (node_type == "device") return device;
  if (node_type == "ip") return ip;
  if (node_type == "merchant") return merchant;
  throw InvalidArgument("gnnkit::fraud::feature_columns",
                        detail::format("unknown node type '{}' (known: transaction, user, card, "
                                       "device, ip, merchant)", node_type));
}

void validate(const GeneratorOptions& o) {
  constexpr const char* fn = "gnnkit::fraud::generate";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.users >= 100 && o.users <= 500'000'000,
                    "'users' must be in [100, 5e8], got {}", o.users);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, std::isfinite(o.tx_per_user) && o.tx_per_user > 0 && o.tx_per_user <= 1000,
                    "'tx_per_user' must be in (0, 1000], got {}", o.tx_per_user);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, std::isfinite(o.fraud_rate) && o.fraud_rate > 0 && o.fraud_rate <= 0.1,
                    "'fraud_rate' must be in (0, 0.1], got {}", o.fraud_rate);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.days >= 14 && o.days <= 3650,
                    "'days' must be in [14, 3650], got {}", o.days);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.start_time >= 0 && o.start_time <= (std::int64_t(1) << 40),
                    "'start_time' must be in [0, 2^40] (Unix seconds), got {}", o.start_time);
  const double expected = double(o.users) * o.tx_per_user;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, expected <= 2e9,
                    "'users' x 'tx_per_user' must stay below 2e9 transactions, got {}", expected);
}

GraphFile generate(const GeneratorOptions& options, GeneratorStats* stats_out) {
  validate(options);
  const auto t_start = std::chrono::steady_clock::now();
  World w;
  w.opt = options;
  const Context ctx = Context::cpu(options.num_threads, options.seed);
  w.opt.num_threads = ctx.num_threads();
  const int threads = w.opt.num_threads;
  plan(w);
  GeneratorStats stats;

  // Benign transactions: per-user counts, prefix sums, then each user fills its own slice.
  std::vector<std::int64_t> offset(std::size_t(w.num_benign) + 1, 0);
  for (std::int64_t u = 0; u < w.num_benign; ++u)
    offset[std::size_t(u) + 1] = offset[std::size_t(u)] + w.profiles[std::size_t(u)].num_txs +
                                 w.profiles[std::size_t(u)].burst_size;
  const std::int64_t num_benign_txs = offset.back();
  std::vector<RawTx> raw(static_cast<std::size_t>(num_benign_txs));
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
  for (std::int64_t u = 0; u < w.num_benign; ++u) simulate_user(w, u, raw.data() + offset[std::size_t(u)]);
  // Fraud groups, in plan order (each group owns its accounts, devices and IPs).
  for (const Group& g : w.groups) {
    ++stats.groups_per_pattern[std::size_t(g.pattern)];
    if (g.pattern == Pattern::kRing) simulate_ring(w, g, raw);
    else if (g.pattern == Pattern::kTakeover) simulate_takeover(w, g, raw, stats.takeover_victims);
    else if (g.pattern == Pattern::kCardTesting) simulate_card_testing(w, g, raw);
    else simulate_mules(w, g, raw);
  }
  stats.fraud_users = w.num_users - w.num_benign;

  // Transactions are numbered in time order (ties: generation order, fixed for a seed).
  const std::int64_t n = std::int64_t(raw.size());
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return raw[std::size_t(a)].time != raw[std::size_t(b)].time ? raw[std::size_t(a)].time < raw[std::size_t(b)].time : a < b;
  });
  std::vector<std::int64_t> times(static_cast<std::size_t>(n)), tx_user(static_cast<std::size_t>(n)), tx_card(static_cast<std::size_t>(n)),
      tx_device(static_cast<std::size_t>(n)), tx_ip(static_cast<std::size_t>(n)), tx_merchant(static_cast<std::size_t>(n));
  HostArray labels = HostArray::of<std::int64_t>(n), node_times = HostArray::of<std::int64_t>(n);
  HostArray pattern = floats(n);
  std::vector<float> amount(static_cast<std::size_t>(n));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    const RawTx& tx = raw[std::size_t(order[std::size_t(i)])];
    times[std::size_t(i)] = options.start_time + tx.time;
    tx_user[std::size_t(i)] = tx.user;
    tx_card[std::size_t(i)] = tx.card;
    tx_device[std::size_t(i)] = tx.device;
    tx_ip[std::size_t(i)] = tx.ip;
    tx_merchant[std::size_t(i)] = tx.merchant;
    amount[std::size_t(i)] = tx.amount;
    labels.as<std::int64_t>()[std::size_t(i)] = tx.pattern != Pattern::kNone;
    node_times.as<std::int64_t>()[std::size_t(i)] = times[std::size_t(i)];
    pattern.as<float>()[std::size_t(i)] = float(int(tx.pattern));
  }
  for (const RawTx& tx : raw) ++stats.tx_per_pattern[std::size_t(tx.pattern)];
  stats.min_time = n ? times.front() : options.start_time;
  stats.max_time = n ? times.back() : options.start_time;
  std::vector<RawTx>().swap(raw);
  stats.seconds_simulate = seconds_since(t_start);

  // ---- transaction features (past only) ----
  const auto t_features = std::chrono::steady_clock::now();
  const std::int64_t ftx = std::int64_t(feature_columns("transaction").size());
  HostArray xtx = floats(n * ftx);
  float* X = xtx.as<float>().data();
  std::vector<std::int64_t> by_user_ptr, by_user, by_card_ptr, by_card;
  group_by(tx_user, w.num_users, by_user_ptr, by_user);
  group_by(tx_card, w.num_cards, by_card_ptr, by_card);
  constexpr int kCat = 3, kVel = kCat + kNumCategories;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    float* x = X + i * ftx;
    const double hour = double(times[std::size_t(i)] % kDay) / double(kHour);
    x[0] = float(std::log1p(double(amount[std::size_t(i)])));
    x[1] = float(std::sin(hour * 6.283185307179586 / 24.0));
    x[2] = float(std::cos(hour * 6.283185307179586 / 24.0));
    for (int c = 0; c < kNumCategories; ++c) x[kCat + c] = 0.f;
    x[kCat + w.merchant_category[std::size_t(tx_merchant[std::size_t(i)])]] = 1.f;
  }
  // Per user, in time order: sliding windows, running mean, devices and IPs seen before.
#pragma omp parallel num_threads(threads)
  {
    std::vector<std::int64_t> seen_devices, seen_ips;
#pragma omp for schedule(dynamic, 256)
    for (std::int64_t u = 0; u < w.num_users; ++u) {
      const std::int64_t b = by_user_ptr[std::size_t(u)], e = by_user_ptr[std::size_t(u) + 1];
      seen_devices.clear();
      seen_ips.clear();
      std::int64_t w1 = b, w24 = b;
      double sum_log = 0;
      for (std::int64_t p = b; p < e; ++p) {
        const std::int64_t i = by_user[std::size_t(p)], t = times[std::size_t(i)];
        while (times[std::size_t(by_user[std::size_t(w1)])] < t - kHour) ++w1;
        while (times[std::size_t(by_user[std::size_t(w24)])] < t - kDay) ++w24;
        float* x = X + i * ftx;
        const std::int64_t prior = p - b;
        x[kVel + 0] = float(std::log1p(double(p - w1)));
        x[kVel + 1] = float(std::log1p(double(p - w24)));
        x[kVel + 3] = prior ? float(x[0] - sum_log / double(prior)) : 0.f;
        const std::int64_t d = tx_device[std::size_t(i)], ipa = tx_ip[std::size_t(i)];
        const bool new_device = std::find(seen_devices.begin(), seen_devices.end(), d) == seen_devices.end();
        const bool new_ip = std::find(seen_ips.begin(), seen_ips.end(), ipa) == seen_ips.end();
        if (new_device) seen_devices.push_back(d);
        if (new_ip) seen_ips.push_back(ipa);
        x[kVel + 4] = float(new_device);
        x[kVel + 5] = float(new_ip);
        x[kVel + 6] = float(std::log1p(double(prior)));
        const double gap_hours = prior ? double(t - times[std::size_t(by_user[std::size_t(p - 1)])]) / double(kHour)
                                       : 24.0 * options.days;
        x[kVel + 7] = float(std::log1p(gap_hours));
        sum_log += x[0];
      }
    }
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
  for (std::int64_t card = 0; card < w.num_cards; ++card) {
    const std::int64_t b = by_card_ptr[std::size_t(card)], e = by_card_ptr[std::size_t(card) + 1];
    std::int64_t w24 = b;
    for (std::int64_t p = b; p < e; ++p) {
      const std::int64_t i = by_card[std::size_t(p)], t = times[std::size_t(i)];
      while (times[std::size_t(by_card[std::size_t(w24)])] < t - kDay) ++w24;
      X[i * ftx + kVel + 2] = float(std::log1p(double(p - w24)));
    }
  }

  // ---- entity features (static attributes, known before any transaction) ----
  FeatureStore features;
  const std::int64_t nu = w.num_users;
  HostArray xu = floats(nu * 6);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t u = 0; u < nu; ++u) {
    const UserProfile& p = w.profiles[std::size_t(u)];
    float* x = xu.as<float>().data() + u * 6;
    x[0] = float(double(-p.signup) / (365.0 * kDay));
    x[1] = float(p.signup >= 0);
    x[2] = float(std::log1p(double(p.num_cards)));
    x[3] = float(std::log1p(double(p.num_devices - int(p.new_phone))));
    x[4] = p.signup < 0 ? float(std::log(50.0 * p.amount_scale)) : 0.f;
    x[5] = float(p.kyc);
  }
  // Card owners: personal cards by prefix sums, family cards by household.
  std::vector<std::int64_t> card_holders(static_cast<std::size_t>(w.num_cards), 1);
  std::vector<std::uint8_t> card_of_fraudster(static_cast<std::size_t>(w.num_cards), 0);
  for (std::int64_t u = w.num_benign; u < nu; ++u)
    for (std::int64_t c = w.card_first[std::size_t(u)]; c < w.card_first[std::size_t(u) + 1]; ++c)
      card_of_fraudster[std::size_t(c)] = 1;
  for (std::size_t h = 0; h + 1 < w.household_first.size(); ++h)
    if (w.family_card_id[h] >= 0)
      card_holders[std::size_t(w.family_card_id[h])] = w.household_first[h + 1] - w.household_first[h];
  HostArray xc = floats(w.num_cards * 5);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t c = 0; c < w.num_cards; ++c) {
    Rng rng(options.seed, kTagCard, std::uint64_t(c));
    const double x0 = rng.uniform();
    const int kind = card_of_fraudster[std::size_t(c)] ? (x0 < 0.5 ? kPrepaid : x0 < 0.9 ? kDebit : kCredit)
                                                       : (x0 < 0.45 ? kCredit : x0 < 0.9 ? kDebit : kPrepaid);
    float* x = xc.as<float>().data() + c * 5;
    x[0] = float(kind == kCredit);
    x[1] = float(kind == kDebit);
    x[2] = float(kind == kPrepaid);
    x[3] = float(rng.normal() + (kind == kPrepaid ? 0.4 : 0.0));
    x[4] = float(std::log1p(double(card_holders[std::size_t(c)])));
  }
  HostArray xd = floats(w.num_devices * 6);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t d = 0; d < w.num_devices; ++d) {
    Rng rng(options.seed, kTagDevice, std::uint64_t(d));
    const bool kiosk = d >= w.kiosk_first && d < w.workplace_device_first;
    const bool office = d >= w.workplace_device_first && d < w.group_device_first;
    const bool fraud = d >= w.group_device_first;
    const double r = rng.uniform();
    const int os = office ? (r < 0.8 ? kWindows : kMac)
                   : kiosk ? (r < 0.4 ? kWindows : r < 0.8 ? kAndroid : kIos)
                   : r < 0.45 ? kAndroid : r < 0.8 ? kIos : r < 0.92 ? kWindows : r < 0.98 ? kMac : kOtherOs;
    float* x = xd.as<float>().data() + d * 6;
    for (int k = 0; k < 5; ++k) x[k] = float(os == k);
    // Rings' checking phones are mostly emulators (scripted checks); other fraud phones are real.
    const bool tester = std::binary_search(w.test_devices.begin(), w.test_devices.end(), d);
    x[5] = float(rng.bernoulli(tester ? 0.85 : fraud ? 0.12 : 0.01));
  }
  HostArray xi = floats(w.num_ips * 5);
  const std::int64_t households = std::int64_t(w.household_first.size()) - 1;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t a = 0; a < w.num_ips; ++a) {
    Rng rng(options.seed, kTagIp, std::uint64_t(a));
    const bool fraud = a >= w.group_ip_first;
    const int kind = a < households ? kResidential
                     : a < w.wifi_ips.first ? kMobile
                     : a < w.vpn_ips.first ? kPublicWifi
                     : a < w.workplace_ip_first ? kVpn
                     : a < w.group_ip_first ? kResidential  // office broadband
                     : (rng.bernoulli(0.85) ? kResidential : kVpn);  // residential proxies
    float* x = xi.as<float>().data() + a * 5;
    for (int k = 0; k < 4; ++k) x[k] = float(kind == k);
    x[4] = float(rng.normal() + (fraud ? 0.3 : 0.0) + (kind == kVpn ? 0.5 : 0.0));
  }
  const std::int64_t nm = w.num_merchants, fm = kNumCategories + 2;
  HostArray xm = floats(nm * fm);
  for (std::int64_t m = 0; m < nm; ++m) {
    float* x = xm.as<float>().data() + m * fm;
    for (int c = 0; c < kNumCategories; ++c) x[c] = float(w.merchant_category[std::size_t(m)] == c);
    x[kNumCategories] = w.merchant_risk[std::size_t(m)];
    x[kNumCategories + 1] = std::log(w.merchant_popularity[std::size_t(m)]);
  }
  features.set_node_features("transaction", "x", std::move(xtx), n, ftx);
  features.set_node_features("transaction", "fraud_pattern", std::move(pattern), n, 1);
  features.set_labels("transaction", std::move(labels));
  features.set_node_times("transaction", std::move(node_times));
  features.set_node_features("user", "x", std::move(xu), nu, 6);
  features.set_node_features("card", "x", std::move(xc), w.num_cards, 5);
  features.set_node_features("device", "x", std::move(xd), w.num_devices, 6);
  features.set_node_features("ip", "x", std::move(xi), w.num_ips, 5);
  features.set_node_features("merchant", "x", std::move(xm), nm, fm);
  stats.seconds_features = seconds_since(t_features);

  // ---- graph ----
  const auto t_build = std::chrono::steady_clock::now();
  std::vector<std::int64_t> tx_ids(static_cast<std::size_t>(n));
  std::iota(tx_ids.begin(), tx_ids.end(), 0);
  const Device cpu = Device::cpu();
  auto view = [&](std::vector<std::int64_t>& v) { return TensorView(v.data(), DType::kInt64, cpu, {n}); };
  std::vector<RelationInput> relations;
  const std::pair<const char*, std::vector<std::int64_t>*> rels[] = {
      {"user", &tx_user}, {"card", &tx_card}, {"device", &tx_device}, {"ip", &tx_ip}, {"merchant", &tx_merchant}};
  const char* names[] = {"by", "paid_with", "from_device", "from_ip", "at"};
  for (int r = 0; r < 5; ++r)
    relations.push_back(RelationInput{{"transaction", names[r], rels[r].first}, view(tx_ids),
                                      view(*rels[r].second), view(times), std::nullopt});
  BuildOptions build;
  build.add_reverse = true;
  build.sort_by_time = true;
  GraphFile file;
  file.graph = HeteroGraph::from_coo(ctx,
                                     {{"user", nu}, {"card", w.num_cards}, {"device", w.num_devices},
                                      {"ip", w.num_ips}, {"merchant", nm}, {"transaction", n}},
                                     relations, build);
  file.features = std::move(features);
  stats.seconds_build = seconds_since(t_build);
  if (stats_out) *stats_out = stats;
  return file;
}

namespace {
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
std::string json_number(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", x);
  return buf;
}
}  // namespace

std::string metadata_json(const GeneratorOptions& o, const GeneratorStats& s, const GraphFile& file) {
  std::ostringstream out;
  const HeteroGraph& g = file.graph;
  const Schema& schema = g.schema();
  out << "{\n  \"generator\": \"gnnkit-fraud generate\",\n  \"format_version\": 1,\n";
  out << "  \"options\": {\"users\": " << o.users << ", \"tx_per_user\": " << json_number(o.tx_per_user)
      << ", \"fraud_rate\": " << json_number(o.fraud_rate) << ", \"seed\": " << o.seed
      << ", \"days\": " << o.days << ", \"start_time\": " << o.start_time << "},\n";
  out << "  \"num_nodes\": {";
  for (int t = 0; t < schema.num_node_types(); ++t)
    out << (t ? ", " : "") << json_string(schema.node_type(t)) << ": " << schema.num_nodes(t);
  out << "},\n  \"num_edges\": {";
  for (int r = 0; r < schema.num_relations(); ++r)
    out << (r ? ", " : "") << json_string(schema.relation(r).str()) << ": " << g.relation(r).num_edges();
  const std::int64_t n = schema.num_nodes("transaction");
  std::int64_t fraud = 0;
  for (int p = 1; p < kNumPatterns; ++p) fraud += s.tx_per_pattern[std::size_t(p)];
  out << "},\n  \"fraud\": {\"transactions\": " << fraud
      << ", \"rate\": " << json_number(n ? double(fraud) / double(n) : 0.0)
      << ", \"fraud_accounts\": " << s.fraud_users << ", \"takeover_victims\": " << s.takeover_victims
      << ",\n    \"patterns\": {";
  for (int p = 1; p < kNumPatterns; ++p)
    out << (p > 1 ? ", " : "") << "\n      " << json_string(kPatternNames[std::size_t(p)])
        << ": {\"code\": " << p << ", \"transactions\": " << s.tx_per_pattern[std::size_t(p)]
        << ", \"rate\": " << json_number(n ? double(s.tx_per_pattern[std::size_t(p)]) / double(n) : 0.0)
        << ", \"groups\": " << s.groups_per_pattern[std::size_t(p)] << "}";
  out << "}},\n  \"pattern_feature\": \"transaction/fraud_pattern (0 = none; report only, not a model input)\",\n";
  out << "  \"time_range\": {\"min\": " << s.min_time << ", \"max\": " << s.max_time << ", \"unit\": \"unix_seconds\"},\n";
  out << "  \"feature_columns\": {";
  const char* types[] = {"user", "card", "device", "ip", "merchant", "transaction"};
  for (int t = 0; t < 6; ++t) {
    out << (t ? "," : "") << "\n    " << json_string(types[t]) << ": [";
    const auto& cols = feature_columns(types[t]);
    for (std::size_t c = 0; c < cols.size(); ++c) out << (c ? ", " : "") << json_string(cols[c]);
    out << "]";
  }
  out << "\n  },\n  \"seconds\": {\"simulate\": " << json_number(s.seconds_simulate)
      << ", \"features\": " << json_number(s.seconds_features) << ", \"build\": " << json_number(s.seconds_build)
      << "}\n}\n";
  return out.str();
}

}  // namespace gnnkit::fraud
