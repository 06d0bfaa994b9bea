#pragma once
/// @file
/// Online scoring of new transactions for gnnkit-fraud (`gnnkit-fraud score`).
///
/// A Scorer holds a memory-mapped fraud graph (the "base": confirmed history), a trained
/// FraudModel loaded from a checkpoint, and an in-memory overlay of the transactions (and new
/// users, cards, devices, IPs, merchants) it has scored so far. For each input transaction,
/// given as one flat JSON object per line, it
///   1. validates the fields and resolves the entity ids (base or overlay, new ones allowed),
///   2. computes the transaction's feature row exactly as the generator does at that time
///      (velocity windows, running mean, new device / IP for the user... over base and overlay
///      history), and adds the transaction to the overlay, so later ones see it,
///   3. builds the model's temporal, disjoint neighbourhood by hand (hop 1: the transaction's
///      own five entities; hop 2: up to fanout earlier transactions per entity from the base
///      graph, edges at or before the transaction's time, plus the overlay's), the same
///      MiniBatch NeighborSampler would produce for a base transaction,
///   4. runs the model (forward; with reasons, backward for input gradients) and writes the
///      score and the top entities by gradient saliency |grad . x| (an entity's own row plus
///      its hop-2 transactions'), described with history facts.
/// Several lines scored together form one MiniBatch (one subtree per transaction); a line
/// still sees every earlier line of its batch.
///
/// Accepted ids (fields user, card, device, ip, merchant): a JSON integer (123), a string of
/// digits ("123") or the generator's name of the entity: a type prefix and its number ("u123"
/// user, "c9" card, "d7" device, "ip42" ip, "m3" merchant). When the graph file stores string
/// keys for the type, the key itself. An integer beyond the graph's range or any other
/// non-empty string names a new entity (an overlay node with neutral features: the type's mean
/// row; a new user looks like a fresh sign-up, a new merchant takes the given category).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gnnkit/io/graph_file.hpp"

#include "app/json.hpp"

namespace gnnkit::fraud {

class FraudModel;

// The flat JSON reader and writer shared with the other apps.
using app::json_quote;
using app::JsonObject;
using app::JsonValue;
using app::parse_flat_json;

// ---- scorer ----------------------------------------------------------------------------------

/// @brief Options of a Scorer.
struct ScorerOptions {
  std::vector<std::int64_t> fanouts;  ///< per hop (= layer); empty: 10 per hop; -1: all
  int threads = 1;                    ///< CPU threads of the model's kernels
  std::optional<std::int64_t> as_of;  ///< ignore base transactions at or after this time
  std::int64_t max_delay = 3600;      ///< a transaction may be this much older than the latest seen
  std::int64_t max_ahead = 86400;     ///< ... and this much newer (seconds)
  int num_reasons = 3;                ///< 0: no reasons (forward only)
  std::uint64_t seed = 1;             ///< keys the neighbour sampling streams
};

/// @brief One explanation of a score.
struct Reason {
  std::string entity;  ///< "device d7"
  std::string why;     ///< history facts in words
  double weight = 0;   ///< share of the saliency over the transaction's entities
};

/// @brief The result of one input line.
struct ScoreResult {
  std::string id_json;     ///< the input "id" as JSON ("" when unknown)
  std::string error;       ///< "" when scored
  double score = 0;        ///< probability of fraud
  double logit = 0;
  std::vector<Reason> reasons;
  std::vector<float> features;  ///< the transaction's feature row (for tests and debugging)
  /// The output line (no newline).
  std::string json() const;
};

/// @brief Scores new transactions against a base graph and a trained model (see the file
/// comment). Not thread-safe: one caller at a time (it parallelises inside).
class Scorer {
 public:
  /// @brief Loads the checkpoint into a FraudModel built with its metadata (conv, layers,
  /// hidden, heads, target) for file's schema and feature widths.
  /// @param file the base graph; must outlive the Scorer
  /// @throws InvalidArgument naming what does not match (not a gnnkit-fraud graph, metadata
  ///         missing or invalid, fan-outs), ShapeMismatch / InvalidArgument from the
  ///         checkpoint (naming the parameter and both shapes), IoError / FormatError
  Scorer(const GraphFile& file, const std::string& checkpoint, ScorerOptions options = {});
  ~Scorer();

  /// @brief Scores lines in order as one MiniBatch; one result per line, errors included.
  std::vector<ScoreResult> score(std::span<const std::string_view> lines);
  /// @brief score() of one line.
  ScoreResult score_one(std::string_view line);

  /// The latest transaction time seen (base graph before as_of, or scored).
  std::int64_t latest_time() const;
  /// Transactions in the overlay.
  std::int64_t overlay_size() const;
  /// Base transactions visible (those before as_of).
  std::int64_t base_transactions() const;
  /// The loaded model (its config holds the checkpoint's metadata).
  FraudModel& model();
  /// "conv sage, 2 layers, hidden 64, fan-outs 10,10" for logs.
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// @brief The transactions of file with time >= the time of the count-th latest one, in the
/// scorer's input format (one JSON object per line, plus "label"), oldest first.
/// @param first_time set to the time of the first exported transaction (use it as --as-of)
/// @returns the lines, each ending with '\n'
std::string export_transactions(const GraphFile& file, std::int64_t count, std::int64_t* first_time,
                                std::int64_t* exported);

/// `gnnkit-fraud score ...`; returns the exit code. @throws UsageError for bad options
int score_command(const std::vector<std::string>& args);
const char* score_usage();
/// `gnnkit-fraud export-test ...`; returns the exit code.
int export_test_command(const std::vector<std::string>& args);
const char* export_test_usage();

}  // namespace gnnkit::fraud
