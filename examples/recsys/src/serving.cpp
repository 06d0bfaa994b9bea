#include "src/serving.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <sstream>

#include "app/json.hpp"
#include "app/svg_plot.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/graph/hetero_graph.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/nn/parameter.hpp"
#include "gnnkit/train/checkpoint.hpp"

namespace gnnkit::recsys {
namespace fs = std::filesystem;

namespace {

/// A request value for an error message: a long string is cut to 80 bytes (a 20 MB id must
/// not come back whole; json_quote keeps a cut inside a character valid).
std::string excerpt(const app::JsonValue& v) {
  if (v.kind != app::JsonValue::Kind::kString || v.text.size() <= 80) return v.json();
  return app::json_quote(v.text.substr(0, 80)) + "...";
}

constexpr const char* kSeenRelation[3] = {"item", "seen_by", "user"};

std::string read_text(const fs::path& path, const char* fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fn, detail::format("cannot open '{}' for reading", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

namespace {

/// The three files of a model, into an existing folder.
void write_model_files(const std::string& dir, const SavedModel& model, const char* fn) {
  const Embeddings& e = model.embeddings;
  ParameterList params;
  auto put = [&](const char* name, std::vector<std::int64_t> shape, const std::vector<float>& v) {
    auto p = params.add(name, std::move(shape), Init::kZeros, 0);
    std::copy(v.begin(), v.end(), p->value.data_as<float>());
  };
  put("user_embedding", {e.num_users, e.dim}, e.user);
  put("item_embedding", {e.num_items, e.dim}, e.item);
  put("item_popularity", {e.num_items}, model.popularity);
  save_checkpoint((fs::path(dir) / "model.ckpt").string(), params);

  // Seen items: relation item -seen_by-> user, so each user's CSC row lists its items.
  std::vector<std::int32_t> src(model.seen.items.begin(), model.seen.items.end()), dst;
  dst.reserve(src.size());
  for (std::int64_t u = 0; u < model.seen.num_users; ++u)
    dst.insert(dst.end(), std::size_t(model.seen.of(u).size()), std::int32_t(u));
  const Context ctx = Context::cpu(1);
  const auto view = [](std::vector<std::int32_t>& v) {
    return TensorView(v.data(), DType::kInt32, Device::cpu(), {std::int64_t(v.size())});
  };
  const HeteroGraph seen = HeteroGraph::from_coo(
      ctx, {{"user", e.num_users}, {"item", e.num_items}},
      {RelationInput{{kSeenRelation[0], kSeenRelation[1], kSeenRelation[2]}, view(src), view(dst)}});
  save_graph((fs::path(dir) / "seen.gnnkit").string(), seen);

  std::string json = "{\"kind\": " + app::json_quote(model.kind) +
                     ", \"num_users\": " + std::to_string(e.num_users) +
                     ", \"num_items\": " + std::to_string(e.num_items) +
                     ", \"dim\": " + std::to_string(e.dim);
  for (const auto& [k, v] : model.info) json += ", " + app::json_quote(k) + ": " + app::json_quote(v);
  app::write_file_atomic((fs::path(dir) / "model.json").string(), json + "}\n", fn);
}

}  // namespace

void save_model(const std::string& dir, const SavedModel& model) {
  constexpr const char* fn = "save_model";
  // The files go to a new sibling folder, which then takes the place of `dir`: a failure part
  // way leaves the previous model whole (files that match each other), never a mix of both.
  const fs::path target(dir);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw IoError(fn, detail::format("cannot create folder '{}': {}", parent.string(), ec.message()));
  if (fs::exists(target, ec) && !fs::is_directory(target, ec))
    throw IoError(fn, detail::format("cannot write the model to '{}': it exists and is not a folder", dir));
  const auto temp_folder = [&](const char* kind) {
    std::string name = (parent / ("." + target.filename().string() + kind + "XXXXXX")).string();
    if (!::mkdtemp(name.data()))
      throw IoError(fn, detail::format("cannot create a folder next to '{}': {}", dir, std::strerror(errno)));
    ::chmod(name.c_str(), 0755);  // mkdtemp makes it private
    return fs::path(name);
  };
  const fs::path fresh = temp_folder(".new.");
  try {
    write_model_files(fresh.string(), model, fn);
  } catch (...) {
    fs::remove_all(fresh, ec);
    throw;
  }
  fs::path old;
  if (fs::exists(target, ec)) {
    old = temp_folder(".old.");
    if (::rename(target.c_str(), old.c_str()) != 0) {  // onto the empty folder just made
      const int err = errno;
      fs::remove_all(fresh, ec);
      fs::remove(old, ec);
      throw IoError(fn, detail::format("cannot replace '{}': {}", dir, std::strerror(err)));
    }
  }
  if (::rename(fresh.c_str(), target.c_str()) != 0) {
    const int err = errno;
    if (!old.empty()) ::rename(old.c_str(), target.c_str());  // put the previous model back
    fs::remove_all(fresh, ec);
    throw IoError(fn, detail::format("cannot write the model to '{}': {}", dir, std::strerror(err)));
  }
  if (!old.empty()) fs::remove_all(old, ec);
}

SavedModel load_model(const std::string& dir) {
  constexpr const char* fn = "load_model";
  const fs::path root(dir);
  const fs::path json_path = root / "model.json";
  if (!fs::is_directory(root))
    throw IoError(fn, detail::format("model folder '{}' does not exist (train writes it: "
                                     "gnnkit-recsys train --out DIR)", dir));
  std::string text = read_text(json_path, fn);
  std::replace(text.begin(), text.end(), '\n', ' ');
  app::JsonObject meta;
  if (const std::string err = app::parse_flat_json(text, meta); !err.empty())
    throw FormatError(fn, detail::format("{}: {}", json_path.string(), err));
  SavedModel model;
  auto number = [&](const char* key, std::int64_t max) {
    const app::JsonValue* v = meta.find(key);
    if (!v || v->kind != app::JsonValue::Kind::kNumber || v->number < 1 || v->number > double(max) ||
        v->number != std::floor(v->number))
      throw FormatError(fn, detail::format("{}: field '{}' must be an integer in [1, {}], got {}",
                                           json_path.string(), key, max, v ? v->json() : "nothing"));
    return std::int64_t(v->number);
  };
  for (const auto& [k, v] : meta.fields) {
    if (k == "kind") model.kind = v.text;
    else if (k != "num_users" && k != "num_items" && k != "dim") model.info[k] = v.text;
  }
  Embeddings& e = model.embeddings;
  e.num_users = number("num_users", 2147483646);
  e.num_items = number("num_items", 2147483646);
  e.dim = number("dim", 4096);

  ParameterList params;
  const auto user = params.add("user_embedding", {e.num_users, e.dim}, Init::kZeros, 0);
  const auto item = params.add("item_embedding", {e.num_items, e.dim}, Init::kZeros, 0);
  const auto pop = params.add("item_popularity", {e.num_items}, Init::kZeros, 0);
  try {
    load_checkpoint((root / "model.ckpt").string(), params);
  } catch (const ShapeMismatch& err) {
    throw FormatError(fn, detail::format("{} does not match {} ({} users, {} items, dim {}): {}",
                                         (root / "model.ckpt").string(), json_path.string(),
                                         e.num_users, e.num_items, e.dim, err.what()));
  }
  const float* u = user->value.data_as<float>();
  const float* i = item->value.data_as<float>();
  const float* p = pop->value.data_as<float>();
  e.user.assign(u, u + e.num_users * e.dim);
  e.item.assign(i, i + e.num_items * e.dim);
  model.popularity.assign(p, p + e.num_items);

  const fs::path seen_path = root / "seen.gnnkit";
  const GraphFile seen = load_graph(seen_path.string(), LoadOptions{.verify = true});
  const EdgeType want{kSeenRelation[0], kSeenRelation[1], kSeenRelation[2]};
  GNNKIT_EXPECTS_AS(FormatError, fn,
                    seen.graph.num_relations() == 1 && seen.graph.schema().relation(0) == want &&
                        seen.graph.num_nodes("user") == e.num_users &&
                        seen.graph.num_nodes("item") == e.num_items,
                    "{} must hold the relation {} over {} users and {} items (from {}), got {}",
                    seen_path.string(), want.str(), e.num_users, e.num_items, json_path.string(),
                    seen.graph.str());
  const Relation& rel = seen.graph.relation(0);
  std::vector<std::int64_t> users;
  std::vector<std::int32_t> items;
  const auto csc = rel.csc<std::int32_t>();
  for (std::int64_t uu = 0; uu < e.num_users; ++uu)
    for (const std::int32_t it : csc.neighbors(uu)) users.push_back(uu), items.push_back(it);
  model.seen = user_items_from_pairs(e.num_users, e.num_items, users, items);
  return model;
}

Recommender::Recommender(const Context& ctx, SavedModel model)
    : ctx_(ctx), model_(std::move(model)), popularity_scores_(model_.popularity) {}

bool Recommender::known_user(std::int64_t user) const {
  return user >= 0 && user < model_.embeddings.num_users && !model_.seen.of(user).empty();
}

std::string Recommender::answer(std::int64_t user, const std::int32_t* items, const float* scores,
                                std::int64_t k, const char* note) const {
  std::string out = "{\"user\": " + std::to_string(user) + ", \"items\": [";
  std::int64_t n = 0;
  while (n < k && items[n] >= 0) ++n;
  for (std::int64_t j = 0; j < n; ++j) out += (j ? ", " : "") + std::to_string(items[j]);
  out += "], \"scores\": [";
  for (std::int64_t j = 0; j < n; ++j) out += (j ? ", " : "") + app::json_number(scores[j]);
  out += "]";
  if (note) out += std::string(", \"note\": ") + app::json_quote(note);
  return out + "}";
}

std::string Recommender::recommend(std::int64_t user, std::int64_t k) const {
  const Request r = parse_request(std::to_string(user), 1, k);
  std::ostringstream out;
  answer_batch({r}, out);
  std::string line = out.str();
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

Recommender::Request Recommender::parse_request(const std::string& text, std::int64_t line,
                                                std::int64_t default_k) const {
  Request r;
  r.line = line;
  r.k = default_k;
  const std::int64_t catalogue = model_.embeddings.num_items;
  auto integer = [](const std::string& s, std::int64_t& v) {
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size();
  };
  std::string trimmed = text;
  while (!trimmed.empty() && (trimmed.back() == '\r' || trimmed.back() == ' ')) trimmed.pop_back();
  std::size_t lead = 0;
  while (lead < trimmed.size() && trimmed[lead] == ' ') ++lead;
  trimmed.erase(0, lead);
  if (!trimmed.empty() && trimmed[0] == '{') {
    app::JsonObject obj;
    if (std::string err = app::parse_flat_json(trimmed, obj); !err.empty()) {
      r.error = "malformed request: " + err;
      return r;
    }
    for (const auto& [key, v] : obj.fields)
      if (key != "user" && key != "k") {
        r.error = "unknown field '" + key + "' (requests have 'user' and optionally 'k')";
        return r;
      }
    const app::JsonValue* u = obj.find("user");
    if (!u) {
      r.error = "field 'user' is missing";
      return r;
    }
    if (!(u->kind == app::JsonValue::Kind::kNumber && integer(u->text, r.user)) &&
        !(u->kind == app::JsonValue::Kind::kString && integer(u->text, r.user))) {
      r.error = "field 'user' must be an integer id, got " + excerpt(*u);
      return r;
    }
    if (const app::JsonValue* kv = obj.find("k")) {
      if (kv->kind != app::JsonValue::Kind::kNumber || !integer(kv->text, r.k)) {
        r.error = "field 'k' must be an integer, got " + excerpt(*kv);
        return r;
      }
    }
  } else if (!integer(trimmed, r.user)) {
    r.error = "a request is a user id or a JSON object {\"user\": U, \"k\": K}, got '" +
              trimmed.substr(0, 80) + "'";
    return r;
  }
  if (r.user < 0) r.error = detail::format("field 'user' must be >= 0, got {}", r.user);
  else if (r.k < 1 || r.k > catalogue)
    r.error = detail::format("field 'k' must be in [1, {}] (the catalogue size), got {}", catalogue, r.k);
  return r;
}

void Recommender::answer_batch(const std::vector<Request>& batch, std::ostream& out) const {
  std::vector<std::int64_t> users;
  std::int64_t k_max = 1;
  for (const Request& r : batch)
    if (r.error.empty() && known_user(r.user)) users.push_back(r.user), k_max = std::max(k_max, r.k);
  const TopK ranked = users.empty() ? TopK{} : top_k_dot(ctx_, model_.embeddings, users, k_max, &model_.seen);
  std::size_t next = 0;
  for (const Request& r : batch) {
    if (!r.error.empty()) {
      out << "{\"line\": " << r.line << ", \"error\": " << app::json_quote(r.error) << "}\n";
    } else if (known_user(r.user)) {
      const std::size_t row = next++;
      out << answer(r.user, ranked.items.data() + row * std::size_t(k_max),
                    ranked.scores.data() + row * std::size_t(k_max), r.k, nullptr)
          << '\n';
    } else {
      // New or unknown user: the most popular items (minus any the model saw them take).
      const std::int64_t id = r.user;
      const TopK pop = top_k_shared(popularity_scores_, {&id, 1}, r.k,
                                    id < model_.seen.num_users ? &model_.seen : nullptr, 1);
      out << answer(r.user, pop.items.data(), pop.scores.data(), r.k,
                    "unknown user: most popular items")
          << '\n';
    }
  }
}

std::int64_t Recommender::serve(std::istream& in, std::ostream& out, std::int64_t default_k,
                                std::int64_t batch) const {
  std::vector<Request> pending;
  std::int64_t line_no = 0, answered = 0;
  std::string line;
  auto flush = [&]() {
    answer_batch(pending, out);
    out.flush();
    answered += std::int64_t(pending.size());
    pending.clear();
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    pending.push_back(parse_request(line, line_no, default_k));
    // Answer now when the batch is full or nothing more is waiting (an interactive client
    // sending one request at a time must not wait for 255 others).
    if (std::int64_t(pending.size()) >= batch || in.rdbuf()->in_avail() <= 0) flush();
  }
  flush();
  return answered;
}

}  // namespace gnnkit::recsys
