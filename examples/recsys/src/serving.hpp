#pragma once
/// @file
/// A trained recommender on disk and in service (`gnnkit-recsys recommend`).
///
/// Model folder: model.json (kind, sizes: read first, so the checkpoint can be checked),
/// model.ckpt (gnnkit checkpoint: user_embedding [U, d], item_embedding [I, d], the final
/// propagated embeddings, and item_popularity [I]) and seen.gnnkit (a gnnkit graph file: the
/// training interactions, relation item -seen_by-> user, whose CSC lists each user's seen
/// items). Every file is written atomically.
///
/// Requests (one per input line): a bare user id, or a flat JSON object
/// {"user": U, "k": K} (k optional). Answers (one JSON line per request, in input order):
/// {"user": U, "items": [...], "scores": [...]} best first, seen items excluded; a user
/// beyond the model or without training interactions gets the most popular unseen items and
/// a "note"; a bad request gets {"line": N, "error": "..."} and the stream goes on.
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "src/interactions.hpp"
#include "src/ranking.hpp"

namespace gnnkit::recsys {

/// @brief What a model folder holds.
struct SavedModel {
  std::string kind;                         ///< "lightgcn", "mf"
  Embeddings embeddings;
  std::vector<float> popularity;            ///< [num_items]: training interactions per item
  UserItems seen;                           ///< training interactions (never recommended)
  std::map<std::string, std::string> info;  ///< extra strings stored in model.json
};

/// @brief Writes DIR/model.json, DIR/model.ckpt and DIR/seen.gnnkit (DIR is created).
/// @throws IoError naming the path
void save_model(const std::string& dir, const SavedModel& model);

/// @brief Reads a model folder written by save_model.
/// @throws IoError (missing files: names them), FormatError (malformed model.json, a
///         checkpoint or seen graph that does not match model.json's sizes: names both)
SavedModel load_model(const std::string& dir);

/// @brief Answers recommendation requests against a loaded model.
class Recommender {
 public:
  Recommender(const Context& ctx, SavedModel model);

  const SavedModel& model() const noexcept { return model_; }

  /// @brief The answer line (JSON, no newline) of one request for user with k items.
  std::string recommend(std::int64_t user, std::int64_t k) const;

  /// @brief Reads requests from in (one per line) and writes one answer line per request
  /// to out, scoring up to `batch` valid requests per matrix product (a batch is answered
  /// early when no further input is buffered, so interactive clients get answers at once).
  /// Empty lines are skipped. Returns the number of requests answered (errors included).
  std::int64_t serve(std::istream& in, std::ostream& out, std::int64_t default_k,
                     std::int64_t batch = 256) const;

 private:
  struct Request {
    std::int64_t line = 0, user = -1, k = 0;
    std::string error;  ///< set: answer with it
  };
  Request parse_request(const std::string& text, std::int64_t line, std::int64_t default_k) const;
  bool known_user(std::int64_t user) const;
  std::string answer(std::int64_t user, const std::int32_t* items, const float* scores,
                     std::int64_t k, const char* note) const;
  void answer_batch(const std::vector<Request>& batch, std::ostream& out) const;

  Context ctx_;
  SavedModel model_;
  std::vector<float> popularity_scores_;
};

}  // namespace gnnkit::recsys
