#pragma once
/// @file
/// The built-in synthetic shop for gnnkit-recsys (`gnnkit-recsys generate`): users and items
/// with categories and prices, and time-stamped views and purchases drawn from latent tastes.
///
/// Items: a category (category sizes heavy-tailed), a latent vector near the category's
/// centroid, a heavy-tailed popularity (Zipf over a random order) and a log-normal price
/// around the category's price level. Users: one to three favourite categories, a latent
/// taste near their centroids, a log-normal activity and a price sensitivity. A session:
/// the user looks at candidates from a favourite category (or, now and then, at the shop's
/// best-sellers), views the few that fit their taste best and buys the one that fits best
/// after price. So collaborative signal (users with similar histories buy similar items)
/// exists and popularity alone is a weak predictor.
///
/// Split: per user, the events of the earliest (1 - test_fraction) of their sessions are the
/// training interactions (views and purchases); the purchases of the later sessions that are
/// not already in training are the test items. Reproducible from the seed, for any thread
/// count.
#include <cstdint>
#include <string>
#include <vector>

#include "src/interactions.hpp"

namespace gnnkit::recsys {

/// @brief Size and shape of the synthetic shop.
struct GeneratorOptions {
  std::int64_t users = 20000;
  std::int64_t items = 5000;
  int categories = 24;
  double sessions_per_user = 12;  ///< mean (log-normal, at least 4)
  double test_fraction = 0.2;     ///< of each user's sessions, the latest
  std::uint64_t seed = 1;
  int threads = 0;
};

/// @brief One event of the generated history.
struct Event {
  std::int64_t user = 0;
  std::int32_t item = 0;
  std::int64_t time = 0;  ///< Unix seconds
  bool purchase = false;  ///< else a view
};

/// @brief The generated shop: the split interactions plus what a report or a feature-based
/// model would use.
struct SyntheticShop {
  RecData data;
  std::vector<std::int32_t> item_category;  ///< [items]
  std::vector<float> item_price;            ///< [items]
  std::vector<Event> events;                ///< by user, then time
};

/// @throws InvalidArgument naming a bad option and its value
void validate(const GeneratorOptions& options);

/// @brief Generates the shop (validates the options first).
SyntheticShop generate_shop(const GeneratorOptions& options);

/// @brief Writes the LightGCN folder (train.txt, test.txt, meta.json) plus items.csv
/// (item,category,price) and events.csv (user,item,time,event), each atomically.
void write_shop(const std::string& folder, const SyntheticShop& shop);

}  // namespace gnnkit::recsys
