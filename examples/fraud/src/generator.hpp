#pragma once
/// @file
/// Synthetic fraud-detection data for gnnkit-fraud: a heterogeneous, time-stamped graph of
/// users, cards, devices, IPs, merchants and transactions with heavy-tailed benign activity
/// and four injected fraud patterns (fraud rings, account takeover, card testing, money-mule
/// chains). Tuned so that a transaction's own features are a weak signal and the graph (who
/// shares devices, cards and IPs with whom, and how those neighbours behave) a strong one.
///
/// Every random draw comes from a counter-based stream keyed by (seed, entity), and every
/// parallel loop writes disjoint rows, so the result is byte-identical for any thread count.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <gnnkit/io/graph_file.hpp>

namespace gnnkit::fraud {

/// @brief Options of generate().
struct GeneratorOptions {
  std::int64_t users = 200000;   ///< user accounts, fraudulent ones included (>= 100)
  double tx_per_user = 6.0;      ///< mean benign transactions per user over the window (> 0)
  double fraud_rate = 0.02;      ///< target share of fraudulent transactions, in (0, 0.1]
  std::uint64_t seed = 1;        ///< same seed (and options) -> byte-identical output
  int days = 90;                 ///< length of the simulated window in days, in [14, 3650]
  std::int64_t start_time = 1704067200;  ///< Unix seconds of the window start (2024-01-01)
  int num_threads = 0;           ///< <= 0: all cores; the output does not depend on it
};

/// @brief Fraud patterns; a transaction's pattern is stored as node feature
/// "transaction/fraud_pattern" (float32 [n, 1]; a report field, never a model input).
enum class Pattern : std::uint8_t { kNone = 0, kRing = 1, kTakeover = 2, kCardTesting = 3, kMule = 4 };

inline constexpr int kNumPatterns = 5;
/// @brief Names of the patterns, indexed by Pattern.
inline constexpr std::array<const char*, kNumPatterns> kPatternNames = {
    "none", "ring", "account_takeover", "card_testing", "mule"};

/// @brief Merchant categories (one-hot columns of transaction and merchant features).
inline constexpr int kNumCategories = 10;
inline constexpr std::array<const char*, kNumCategories> kCategoryNames = {
    "grocery", "restaurant", "fuel", "retail", "electronics",
    "travel", "digital_goods", "gift_cards", "p2p_transfer", "crypto_gambling"};

/// @brief Column names of the "x" feature matrix of a node type ("transaction", "user",
/// "card", "device", "ip", "merchant").
/// @throws InvalidArgument for an unknown node type
const std::vector<std::string>& feature_columns(const std::string& node_type);

/// @brief Counts and timings of one generate() call (also written to the JSON sidecar).
struct GeneratorStats {
  std::array<std::int64_t, kNumPatterns> tx_per_pattern{};     ///< transactions by pattern
  std::array<std::int64_t, kNumPatterns> groups_per_pattern{};  ///< rings, crews, chains
  std::int64_t fraud_users = 0;      ///< accounts created by fraudsters (rings, mules)
  std::int64_t takeover_victims = 0; ///< benign accounts taken over
  std::int64_t min_time = 0, max_time = 0;  ///< transaction time range (Unix seconds)
  double seconds_simulate = 0, seconds_features = 0, seconds_build = 0;
};

/// @brief Checks the options. @throws gnnkit::InvalidArgument naming the bad option
void validate(const GeneratorOptions& options);

/// @brief Generates the graph and its features.
///
/// Node types: user, card, device, ip, merchant, transaction. Relations (timestamps = the
/// transaction's time, neighbour lists sorted by time): transaction -> user "by", -> card
/// "paid_with", -> device "from_device", -> ip "from_ip", -> merchant "at", and their reverses
/// "rev_<rel>". Transactions are numbered in time order. Features: "x" (float32) per node type
/// (columns: feature_columns()), transaction labels (1 = fraud), transaction node times and
/// "transaction/fraud_pattern". Transaction features use only the past of the transaction.
/// @throws gnnkit::InvalidArgument for bad options
GraphFile generate(const GeneratorOptions& options, GeneratorStats* stats = nullptr);

/// @brief The JSON sidecar (FILE.meta.json): options, counts per node type and relation,
/// fraud counts and rates per pattern, time range, feature columns.
std::string metadata_json(const GeneratorOptions& options, const GeneratorStats& stats,
                          const GraphFile& file);

}  // namespace gnnkit::fraud
