// Online scoring of new transactions: see scorer.hpp for the contract.
#include "scorer.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdio.h>
#include <time.h>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

#include "app/output_file.hpp"
#include "app/svg_plot.hpp"
#include "commands.hpp"
#include "generator.hpp"
#include "gnnkit/core/context.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/nn/functional.hpp"
#include "gnnkit/nn/model.hpp"
#include "gnnkit/sampling/neighbor.hpp"
#include "gnnkit/sampling/random.hpp"
#include "gnnkit/train/checkpoint.hpp"
#include "trainer.hpp"

namespace gnnkit::fraud {

std::string ScoreResult::json() const {
  std::string out = "{";
  if (!id_json.empty()) out += "\"id\": " + id_json + ", ";
  if (!error.empty()) return out + "\"error\": " + json_quote(error) + "}";
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"score\": %.6f, \"reasons\": [", score);
  out += buf;
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    std::snprintf(buf, sizeof buf, ", \"weight\": %.3f}", reasons[i].weight);
    out += (i ? ", {\"entity\": " : "{\"entity\": ") + json_quote(reasons[i].entity) +
           ", \"why\": " + json_quote(reasons[i].why) + buf;
  }
  return out + "]}";
}

// ---- scorer ----------------------------------------------------------------------------------

namespace {

constexpr int kEntities = 5;
constexpr const char* kEntityType[kEntities] = {"user", "card", "device", "ip", "merchant"};
constexpr const char* kEntityRel[kEntities] = {"by", "paid_with", "from_device", "from_ip", "at"};
constexpr const char* kEntityPrefix[kEntities] = {"u", "c", "d", "ip", "m"};
constexpr int kUser = 0, kCard = 1, kDevice = 2, kIp = 3, kMerchant = 4;
constexpr std::int64_t kHour = 3600, kDay = 86400;
constexpr int kCat = 3, kVel = kCat + kNumCategories, kTxCols = kVel + 8;
constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kFactScanCap = 2000;  // transactions scanned for distinct-user counts

/// Reads a checkpoint's metadata (header, optimiser kind, metadata entries) without its
/// parameters: the model's shape comes from it. load_checkpoint checks the whole file later.
std::map<std::string, std::string> read_checkpoint_metadata(const std::string& path) {
  constexpr const char* fn = "gnnkit-fraud score";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fn, "cannot open checkpoint '" + path + "'");
  char header[64];
  in.read(header, 64);
  if (!in || std::memcmp(header, "GNNKITCK", 8) != 0)
    throw FormatError(fn, "'" + path + "' is not a gnnkit checkpoint (bad magic or too short)");
  std::uint64_t entries = 0;
  std::memcpy(&entries, header + 24, 8);
  auto read_string = [&](std::string& s) {
    std::uint32_t n = 0;
    in.read(reinterpret_cast<char*>(&n), 4);
    if (!in || n > (1u << 24)) throw FormatError(fn, "checkpoint '" + path + "' is truncated or corrupt");
    s.resize(n);
    in.read(s.data(), n);
    if (!in) throw FormatError(fn, "checkpoint '" + path + "' is truncated");
  };
  std::string kind;
  read_string(kind);
  if (entries > 4096) throw FormatError(fn, "checkpoint '" + path + "' is corrupt (metadata count)");
  std::map<std::string, std::string> meta;
  for (std::uint64_t e = 0; e < entries; ++e) {
    std::string k, v;
    read_string(k);
    read_string(v);
    meta[k] = v;
  }
  return meta;
}

struct Csc {
  const std::int64_t* ptr = nullptr;
  const std::int32_t* i32 = nullptr;
  const std::int64_t* i64 = nullptr;
  const std::int64_t* ts = nullptr;
  std::int64_t num_dst = 0;
  std::int64_t idx(std::int64_t p) const { return i32 ? i32[p] : i64[p]; }
};

/// What resolve() found for an id field.
struct Resolved {
  std::int64_t id = -1;  ///< global id (base or existing overlay); -1: new
  std::string key;       ///< new: the overlay key
  std::string name;      ///< new: display name
};

}  // namespace

struct Scorer::Impl {
  const GraphFile* file = nullptr;
  ScorerOptions opt;
  std::unique_ptr<FraudModel> fm;
  nn::GnnModel* model = nullptr;
  Context ctx = Context::cpu();
  int layers = 2;
  bool recent = false;  // temporal strategy of the checkpoint: most recent, else uniform
  std::vector<std::int64_t> fanouts;
  int num_types = 0, num_rel = 0;
  int t_tx = 0;
  std::array<int, kEntities> t_ent{}, r_fwd{}, r_rev{};
  std::vector<int> rel_entity;  // per relation: entity k; rel_forward: dst is the entity
  std::vector<bool> rel_forward;
  std::array<Csc, kEntities> fwd{}, rev{};
  std::array<std::vector<std::int32_t>, kEntities> fraud_prefix;  // over fwd CSC positions
  const std::int64_t* tx_time = nullptr;
  const std::int64_t* labels = nullptr;
  std::int64_t n_tx = 0;          // base transaction nodes
  std::int64_t base_limit = 0;    // base transactions before as_of
  std::int64_t cutoff = kNone;    // base edges with time <= cutoff are visible
  std::vector<const FeatureMatrix*> feat;  // per node type
  std::array<std::int64_t, kEntities> num_base{};
  std::array<std::vector<float>, kEntities> mean_row;
  std::vector<int> merchant_cat;
  float no_prior_gap = 0;  // hours_since_user_prev_tx of a first transaction
  std::int64_t latest = std::numeric_limits<std::int64_t>::min();
  std::array<std::unordered_map<std::string, std::int64_t>, kEntities> keymap;  // node_keys
  std::array<const KeyMap*, kEntities> keys{};

  // Overlay.
  struct OTx {
    std::int64_t time;
    std::array<std::int64_t, kEntities> ent;
    std::int64_t user_1h, user_24h, card_24h, prior;
    bool new_device, new_ip;
  };
  std::vector<OTx> otx;
  std::vector<float> ox;  // rows of kTxCols
  std::array<std::unordered_map<std::int64_t, std::vector<std::int32_t>>, kEntities> olist;
  std::array<std::vector<float>, kEntities> oent_x;
  std::array<std::vector<std::string>, kEntities> oent_name;
  std::array<std::unordered_map<std::string, std::int64_t>, kEntities> oent_key;
  std::vector<int> omerchant_cat;

  // Batch buffers.
  MiniBatch mb;
  std::vector<sampling_detail::LocalIndex> index;
  std::vector<Tensor> bufs;
  nn::GnnModel::Cache cache;
  std::vector<std::int32_t> tmp;
  const SeedIdentity* identity = nullptr;  // the model's input columns beyond the features
  std::vector<int> identity_entity;        // entity index k of each identity relation

  // ---- set-up ----

  void init(const GraphFile& f, const std::string& ckpt, ScorerOptions o) {
    constexpr const char* fn = "gnnkit-fraud score";
    file = &f;
    opt = std::move(o);
    const Schema& schema = f.graph.schema();
    num_types = schema.num_node_types();
    num_rel = schema.num_relations();
    auto need_type = [&](const char* type) {
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, schema.find_node_type(type).has_value(),
                        "the graph is not a gnnkit-fraud graph: node type '{}' is missing (graph: {})",
                        type, f.graph.str());
      return schema.node_type_id(type);
    };
    t_tx = need_type("transaction");
    rel_entity.assign(std::size_t(num_rel), -1);
    rel_forward.assign(std::size_t(num_rel), false);
    auto csc_of = [&](int r) {
      const Relation& rel = f.graph.relation(r);
      Csc c;
      c.ptr = rel.csc_indptr.as<std::int64_t>().data();
      if (rel.index_dtype() == DType::kInt32) c.i32 = rel.csc_indices.as<std::int32_t>().data();
      else c.i64 = rel.csc_indices.as<std::int64_t>().data();
      c.ts = rel.has_timestamps() ? rel.timestamps.as<std::int64_t>().data() : nullptr;
      c.num_dst = rel.num_dst;
      return c;
    };
    for (int k = 0; k < kEntities; ++k) {
      t_ent[std::size_t(k)] = need_type(kEntityType[k]);
      const EdgeType fe{"transaction", kEntityRel[k], kEntityType[k]};
      const EdgeType re{kEntityType[k], std::string("rev_") + kEntityRel[k], "transaction"};
      for (const EdgeType* e : {&fe, &re})
        GNNKIT_EXPECTS_AS(InvalidArgument, fn, schema.find_relation(*e).has_value(),
                          "the graph is not a gnnkit-fraud graph: relation '{}' is missing", e->str());
      r_fwd[std::size_t(k)] = schema.relation_id(fe);
      r_rev[std::size_t(k)] = schema.relation_id(re);
      rel_entity[std::size_t(r_fwd[std::size_t(k)])] = k;
      rel_forward[std::size_t(r_fwd[std::size_t(k)])] = true;
      rel_entity[std::size_t(r_rev[std::size_t(k)])] = k;
      const Relation& rel = f.graph.relation(r_fwd[std::size_t(k)]);
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel.has_timestamps() && rel.sorted_by_time,
                        "relation '{}' needs timestamps sorted by time (gnnkit-fraud generate writes them)",
                        fe.str());
      fwd[std::size_t(k)] = csc_of(r_fwd[std::size_t(k)]);
      rev[std::size_t(k)] = csc_of(r_rev[std::size_t(k)]);
      num_base[std::size_t(k)] = schema.num_nodes(t_ent[std::size_t(k)]);
    }
    for (int r = 0; r < num_rel; ++r)
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel_entity[std::size_t(r)] >= 0,
                        "the graph is not a gnnkit-fraud graph: unexpected relation '{}'",
                        schema.relation(r).str());
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, num_types == kEntities + 1,
                      "the graph is not a gnnkit-fraud graph: {} node types, expected 6", num_types);
    n_tx = schema.num_nodes(t_tx);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, n_tx > 0, "the graph has no transactions");
    tx_time = f.features.node_times("transaction").as<std::int64_t>().data();
    labels = f.features.labels("transaction").as<std::int64_t>().data();
    for (std::int64_t j = 1; j < n_tx; ++j)
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, tx_time[j - 1] <= tx_time[j],
                        "transactions must be numbered in time order (gnnkit-fraud generate does); "
                        "transaction {} has time {} after {}", j, tx_time[j], tx_time[j - 1]);
    feat.resize(std::size_t(num_types));
    for (int t = 0; t < num_types; ++t) feat[std::size_t(t)] = &f.features.node_features(schema.node_type(t), "x");
    for (int t = 0; t < num_types; ++t) {
      const std::string& type = schema.node_type(t);
      const auto& cols = feature_columns(type);
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, feat[std::size_t(t)]->cols == std::int64_t(cols.size()),
                        "features 'x' of '{}' have {} columns, gnnkit-fraud's have {} ({} ...)", type,
                        feat[std::size_t(t)]->cols, cols.size(), cols.front());
    }
    for (int k = 0; k < kEntities; ++k) {
      auto it = f.node_keys.find(kEntityType[k]);
      if (it == f.node_keys.end() || it->second.size() == 0) continue;
      keys[std::size_t(k)] = &it->second;
      for (std::int64_t i = 0; i < it->second.size(); ++i)
        keymap[std::size_t(k)].emplace(std::string(it->second.key(i)), i);
    }

    // as_of: base transactions (and their edges) at or after it are not history.
    if (opt.as_of) {
      base_limit = std::lower_bound(tx_time, tx_time + n_tx, *opt.as_of) - tx_time;
      cutoff = *opt.as_of - 1;
    } else {
      base_limit = n_tx;
    }
    if (base_limit > 0) latest = tx_time[base_limit - 1];
    no_prior_gap = feat[std::size_t(t_tx)]->row(0)[kVel + 7];  // transaction 0 has no prior

    // Confirmed fraud counts by prefix sums over each entity's time-sorted list.
    for (int k = 0; k < kEntities; ++k) {
      const Csc& c = fwd[std::size_t(k)];
      const std::int64_t e = c.ptr[c.num_dst];
      auto& p = fraud_prefix[std::size_t(k)];
      p.resize(std::size_t(e) + 1);
      p[0] = 0;
      for (std::int64_t q = 0; q < e; ++q) p[std::size_t(q) + 1] = p[std::size_t(q)] + (labels[c.idx(q)] == 1);
    }
    // Neutral rows of new entities: the mean row (new users: the mean of accounts opened in
    // the window, the closest thing to a fresh sign-up); merchants' categories from features.
    for (int k = 0; k < kEntities; ++k) {
      const FeatureMatrix& m = *feat[std::size_t(t_ent[std::size_t(k)])];
      std::vector<double> sum(std::size_t(m.cols), 0.0), fresh(std::size_t(m.cols), 0.0);
      std::int64_t n_fresh = 0;
      for (std::int64_t i = 0; i < m.rows; ++i) {
        const float* x = m.row(i);
        const bool is_fresh = k == kUser && x[1] > 0.5f;
        n_fresh += is_fresh;
        for (std::int64_t c = 0; c < m.cols; ++c) {
          sum[std::size_t(c)] += x[c];
          if (is_fresh) fresh[std::size_t(c)] += x[c];
        }
      }
      auto& row = mean_row[std::size_t(k)];
      row.resize(std::size_t(m.cols));
      for (std::int64_t c = 0; c < m.cols; ++c)
        row[std::size_t(c)] = n_fresh > 0 ? float(fresh[std::size_t(c)] / double(n_fresh))
                                          : float(sum[std::size_t(c)] / double(std::max<std::int64_t>(m.rows, 1)));
    }
    {
      const FeatureMatrix& m = *feat[std::size_t(t_ent[kMerchant])];
      merchant_cat.resize(std::size_t(m.rows));
      for (std::int64_t i = 0; i < m.rows; ++i) {
        const float* x = m.row(i);
        merchant_cat[std::size_t(i)] = int(std::max_element(x, x + kNumCategories) - x);
      }
    }

    // The model, shaped by the checkpoint's metadata.
    const auto meta = read_checkpoint_metadata(ckpt);
    auto get = [&](const char* key) -> std::string {
      auto it = meta.find(key);
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, it != meta.end(),
                        "checkpoint '{}' has no '{}' metadata (write it with gnnkit-fraud train)", ckpt, key);
      return it->second;
    };
    auto get_int = [&](const char* key) {
      const std::string v = get(key);
      try {
        std::size_t used = 0;
        const long long x = std::stoll(v, &used);
        if (used == v.size()) return x;
      } catch (const std::exception&) {
      }
      throw InvalidArgument(fn, detail::format("checkpoint '{}': metadata '{}' must be an integer, got '{}'",
                                               ckpt, key, v));
    };
    TrainConfig cfg;
    cfg.conv = get("conv");
    cfg.layers = int(get_int("layers"));
    cfg.hidden = get_int("hidden");
    cfg.heads = int(get_int("heads"));
    cfg.target = get("target");
    cfg.aggr = meta.count("aggr") ? meta.at("aggr") : "mean";  // older checkpoints: mean
    // Checkpoints from before the strategy was recorded were trained with uniform sampling.
    cfg.temporal_strategy = meta.count("temporal_strategy") ? meta.at("temporal_strategy") : "uniform";
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, cfg.temporal_strategy == "recent" || cfg.temporal_strategy == "uniform",
                      "checkpoint '{}': 'temporal_strategy' must be recent or uniform, got '{}'", ckpt,
                      cfg.temporal_strategy);
    // Checkpoints from before the seed-identity columns were recorded were trained without.
    cfg.seed_identity = meta.count("seed_identity") && meta.at("seed_identity") == "1";
    cfg.threads = opt.threads;
    cfg.seed = opt.seed;
    cfg.progress = false;
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, cfg.target == "transaction",
                      "checkpoint '{}' scores '{}' nodes; the scorer needs a model of 'transaction' nodes",
                      ckpt, cfg.target);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, cfg.layers >= 1 && cfg.layers <= 8,
                      "checkpoint '{}': 'layers' must be in [1, 8], got {}", ckpt, cfg.layers);
    layers = cfg.layers;
    recent = cfg.temporal_strategy == "recent";
    // Default: the training fan-outs (checkpoints from before they were stored: 10 per hop).
    fanouts = opt.fanouts;
    if (fanouts.empty() && meta.count("fanouts")) {
      try {
        fanouts = parse_list("checkpoint metadata 'fanouts'", meta.at("fanouts"));
      } catch (const UsageError& e) {
        throw InvalidArgument(fn, detail::format("checkpoint '{}': {}", ckpt, e.message));
      }
    }
    if (fanouts.empty()) fanouts.assign(std::size_t(layers), 10);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, int(fanouts.size()) == layers,
                      "'fanouts' needs one value per layer of the checkpoint ({}), got {}", layers,
                      fanouts.size());
    for (auto x : fanouts)
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, x >= -1, "'fanouts' must be >= 0 or -1 (all), got {}", x);
    cfg.fanouts = fanouts;
    fm = std::make_unique<FraudModel>(f, cfg);
    model = &fm->model();
    identity = &fm->seed_identity();
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, identity->empty() == !cfg.seed_identity,
                      "checkpoint '{}' was trained with seed-identity columns, but the graph's transactions "
                      "have no single user, card, device... to compare", ckpt);
    identity_entity.clear();
    for (const int type : identity->entity_types())
      identity_entity.push_back(int(std::find(t_ent.begin(), t_ent.end(), type) - t_ent.begin()));
    try {
      load_checkpoint(ckpt, model->parameters());
    } catch (const ShapeMismatch& e) {
      throw ShapeMismatch(fn, detail::format("checkpoint '{}' does not fit this graph's schema and feature "
                                             "widths ({}): {}", ckpt, widths(), e.what()));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fn, detail::format("checkpoint '{}' does not fit this graph's schema and feature "
                                               "widths ({}): {}", ckpt, widths(), e.what()));
    }
    ctx = Context::cpu(opt.threads, opt.seed);
    bufs.resize(std::size_t(num_types));
    index.resize(std::size_t(num_types));
  }

  std::string widths() const {
    std::string s;
    const Schema& schema = file->graph.schema();
    for (int t = 0; t < num_types; ++t)
      s += (t ? ", " : "") + schema.node_type(t) + " " + std::to_string(feat[std::size_t(t)]->cols);
    return s;
  }

  // ---- ids ----

  std::string name_of(int k, std::int64_t id) const {
    if (id >= num_base[std::size_t(k)]) return oent_name[std::size_t(k)][std::size_t(id - num_base[std::size_t(k)])];
    if (keys[std::size_t(k)]) return std::string(keys[std::size_t(k)]->key(id));
    return kEntityPrefix[k] + std::to_string(id);
  }

  /// Resolves field `k`'s value; "" or an error message.
  std::string resolve(int k, const JsonValue& v, Resolved& out) const {
    const char* field = kEntityType[k];
    const std::int64_t nb = num_base[std::size_t(k)];
    auto numeric = [&](std::int64_t n, const std::string& shown) {
      if (n < nb && !keys[std::size_t(k)]) {
        out.id = n;
        return;
      }
      lookup_new(k, "#" + std::to_string(n), shown, out);
    };
    if (v.kind == JsonValue::Kind::kNumber) {
      const bool integral = v.text.find_first_of(".eE") == std::string::npos;
      if (!integral || v.number < 0 || v.number > 1e15)
        return "field '" + std::string(field) + "' must be a non-negative integer id or a string, got " + v.json();
      const auto n = std::int64_t(std::llround(v.number));
      numeric(n, kEntityPrefix[k] + std::to_string(n));
      return "";
    }
    if (v.kind != JsonValue::Kind::kString)
      return "field '" + std::string(field) + "' must be an id (string or integer), got " + v.json();
    const std::string& s = v.text;
    if (s.empty()) return "field '" + std::string(field) + "' must not be empty";
    if (keys[std::size_t(k)]) {
      auto it = keymap[std::size_t(k)].find(s);
      if (it != keymap[std::size_t(k)].end()) {
        out.id = it->second;
        return "";
      }
      lookup_new(k, "k" + s, s, out);
      return "";
    }
    std::string_view digits = s;
    const std::string_view prefix = kEntityPrefix[k];
    if (digits.substr(0, prefix.size()) == prefix) digits.remove_prefix(prefix.size());
    const bool all_digits = !digits.empty() && digits.size() <= 15 &&
                            std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (all_digits) {
      numeric(std::stoll(std::string(digits)), s);
      return "";
    }
    lookup_new(k, "k" + s, s, out);
    return "";
  }

  void lookup_new(int k, const std::string& key, const std::string& shown, Resolved& out) const {
    auto it = oent_key[std::size_t(k)].find(key);
    if (it != oent_key[std::size_t(k)].end()) {
      out.id = it->second;
      return;
    }
    out.id = -1;
    out.key = key;
    out.name = shown;
  }

  std::int64_t create(int k, const Resolved& r, int category) {
    if (r.id >= 0) return r.id;
    const std::int64_t id = num_base[std::size_t(k)] + std::int64_t(oent_name[std::size_t(k)].size());
    oent_key[std::size_t(k)].emplace(r.key, id);
    oent_name[std::size_t(k)].push_back(r.name);
    std::vector<float> row = mean_row[std::size_t(k)];
    if (k == kMerchant) {
      for (int c = 0; c < kNumCategories; ++c) row[std::size_t(c)] = float(c == category);
      omerchant_cat.push_back(category);
    }
    oent_x[std::size_t(k)].insert(oent_x[std::size_t(k)].end(), row.begin(), row.end());
    return id;
  }

  int category_of_merchant(std::int64_t m) const {
    return m < num_base[kMerchant] ? merchant_cat[std::size_t(m)] : omerchant_cat[std::size_t(m - num_base[kMerchant])];
  }

  // ---- history ----

  /// Base transactions of entity e (type k) visible at time t: CSC positions [b, b + n).
  std::pair<std::int64_t, std::int64_t> base_range(int k, std::int64_t e, std::int64_t t) const {
    if (e >= num_base[std::size_t(k)]) return {0, 0};
    const Csc& c = fwd[std::size_t(k)];
    const std::int64_t b = c.ptr[e], end = c.ptr[e + 1];
    const std::int64_t limit = std::min(t, cutoff);
    return {b, std::upper_bound(c.ts + b, c.ts + end, limit) - (c.ts + b)};
  }
  const std::vector<std::int32_t>* overlay_list(int k, std::int64_t e) const {
    auto it = olist[std::size_t(k)].find(e);
    return it == olist[std::size_t(k)].end() ? nullptr : &it->second;
  }
  std::int64_t tx_entity(int k, std::int64_t j) const {  // global tx id -> its entity of type k
    if (j < n_tx) return rev[std::size_t(k)].idx(rev[std::size_t(k)].ptr[j]);
    return otx[std::size_t(j - n_tx)].ent[std::size_t(k)];
  }
  const float* tx_row(std::int64_t j) const {
    return j < n_tx ? feat[std::size_t(t_tx)]->row(j) : ox.data() + (j - n_tx) * kTxCols;
  }

  /// The generator's transaction features (generate(): "transaction features (past only)") of
  /// a new transaction, over base and overlay history; fills the velocity facts of tx.
  void compute_features(OTx& tx, float amount, int category, float* x) const {
    const std::int64_t t = tx.time;
    const double hour = double(t % kDay) / double(kHour);
    x[0] = float(std::log1p(double(amount)));
    x[1] = float(std::sin(hour * 6.283185307179586 / 24.0));
    x[2] = float(std::cos(hour * 6.283185307179586 / 24.0));
    for (int c = 0; c < kNumCategories; ++c) x[kCat + c] = 0.f;
    x[kCat + category] = 1.f;
    // User: every earlier transaction at or before t (base first, in time order; then overlay).
    const std::int64_t u = tx.ent[kUser];
    const auto [ub, un] = base_range(kUser, u, t);
    const Csc& uc = fwd[kUser];
    std::int64_t prior = un, w1 = 0, w24 = 0, last = std::numeric_limits<std::int64_t>::min();
    double sum_log = 0;
    bool seen_device = false, seen_ip = false;
    if (un > 0) {
      w1 = (ub + un) - (std::lower_bound(uc.ts + ub, uc.ts + ub + un, t - kHour) - uc.ts);
      w24 = (ub + un) - (std::lower_bound(uc.ts + ub, uc.ts + ub + un, t - kDay) - uc.ts);
      last = uc.ts[ub + un - 1];
      for (std::int64_t p = ub; p < ub + un; ++p) {
        const std::int64_t j = uc.idx(p);
        sum_log += feat[std::size_t(t_tx)]->row(j)[0];
        seen_device = seen_device || tx_entity(kDevice, j) == tx.ent[kDevice];
        seen_ip = seen_ip || tx_entity(kIp, j) == tx.ent[kIp];
      }
    }
    if (const auto* list = overlay_list(kUser, u))
      for (const std::int32_t o : *list) {
        const OTx& p = otx[std::size_t(o)];
        if (p.time > t) continue;  // arrived earlier but happened later: not its past
        ++prior;
        w1 += p.time >= t - kHour;
        w24 += p.time >= t - kDay;
        last = std::max(last, p.time);
        sum_log += ox[std::size_t(o) * kTxCols];
        seen_device = seen_device || p.ent[kDevice] == tx.ent[kDevice];
        seen_ip = seen_ip || p.ent[kIp] == tx.ent[kIp];
      }
    // Card: transactions in the last 24 h.
    const auto [cb, cn] = base_range(kCard, tx.ent[kCard], t);
    const Csc& cc = fwd[kCard];
    std::int64_t c24 = cn > 0 ? (cb + cn) - (std::lower_bound(cc.ts + cb, cc.ts + cb + cn, t - kDay) - cc.ts) : 0;
    if (const auto* list = overlay_list(kCard, tx.ent[kCard]))
      for (const std::int32_t o : *list) {
        const std::int64_t pt = otx[std::size_t(o)].time;
        c24 += pt <= t && pt >= t - kDay;
      }
    x[kVel + 0] = float(std::log1p(double(w1)));
    x[kVel + 1] = float(std::log1p(double(w24)));
    x[kVel + 2] = float(std::log1p(double(c24)));
    x[kVel + 3] = prior ? float(x[0] - sum_log / double(prior)) : 0.f;
    x[kVel + 4] = float(!seen_device);
    x[kVel + 5] = float(!seen_ip);
    x[kVel + 6] = float(std::log1p(double(prior)));
    x[kVel + 7] = prior ? float(std::log1p(double(t - last) / double(kHour))) : no_prior_gap;
    tx.user_1h = w1;
    tx.user_24h = w24;
    tx.card_24h = c24;
    tx.prior = prior;
    tx.new_device = !seen_device;
    tx.new_ip = !seen_ip;
  }

  // ---- one line: validate, resolve, add to the overlay ----

  /// Returns the overlay index of the new transaction, or -1 with res.error set.
  std::int64_t admit(std::string_view line, ScoreResult& res) {
    JsonObject obj;
    if (std::string e = parse_flat_json(line, obj); !e.empty()) {
      res.error = e;
      return -1;
    }
    auto fail = [&](std::string msg) {
      res.error = std::move(msg);
      return std::int64_t(-1);
    };
    const JsonValue* id = obj.find("id");
    if (!id || id->kind == JsonValue::Kind::kNull) return fail("missing field 'id'");
    if (id->kind != JsonValue::Kind::kString && id->kind != JsonValue::Kind::kNumber)
      return fail("field 'id' must be a string or a number, got " + id->json());
    res.id_json = id->json();
    std::array<Resolved, kEntities> ents;
    for (int k = 0; k < kEntities; ++k) {
      const JsonValue* v = obj.find(kEntityType[k]);
      if (!v || v->kind == JsonValue::Kind::kNull) return fail(std::string("missing field '") + kEntityType[k] + "'");
      if (std::string e = resolve(k, *v, ents[std::size_t(k)]); !e.empty()) return fail(e);
    }
    const JsonValue* amount = obj.find("amount");
    if (!amount || amount->kind == JsonValue::Kind::kNull) return fail("missing field 'amount'");
    if (amount->kind != JsonValue::Kind::kNumber) return fail("field 'amount' must be a number, got " + amount->json());
    if (!(std::isfinite(amount->number) && amount->number > 0 && amount->number <= 1e9))
      return fail("field 'amount' must be in (0, 1e9], got " + amount->text);
    const JsonValue* time = obj.find("time");
    if (!time || time->kind == JsonValue::Kind::kNull) return fail("missing field 'time'");
    if (time->kind != JsonValue::Kind::kNumber || time->text.find_first_of(".eE") != std::string::npos)
      return fail("field 'time' must be an integer (Unix seconds), got " + time->json());
    if (!(time->number >= 0 && time->number < 1e12))
      return fail("field 'time' must be Unix seconds in [0, 1e12), got " + time->text);
    const auto t = std::int64_t(std::llround(time->number));
    if (latest != std::numeric_limits<std::int64_t>::min()) {
      if (t < latest - opt.max_delay)
        return fail(detail::format("field 'time' is {}, more than {} s before the latest transaction seen ({}): "
                                   "too far in the past", t, opt.max_delay, latest));
      if (t > latest + opt.max_ahead)
        return fail(detail::format("field 'time' is {}, more than {} s after the latest transaction seen ({}): "
                                   "too far in the future", t, opt.max_ahead, latest));
    }
    int category = -1;
    const JsonValue* cat = obj.find("category");
    if (cat && cat->kind != JsonValue::Kind::kNull) {
      std::string known;
      for (int c = 0; c < kNumCategories; ++c) {
        if (cat->kind == JsonValue::Kind::kString && cat->text == kCategoryNames[std::size_t(c)]) category = c;
        known += std::string(c ? ", " : "") + kCategoryNames[std::size_t(c)];
      }
      if (category < 0) return fail("field 'category' must be one of " + known + "; got " + cat->json());
    }
    const Resolved& m = ents[kMerchant];
    if (m.id >= 0) {
      const int mc = category_of_merchant(m.id);
      if (category >= 0 && category != mc)
        return fail("field 'category' is \"" + std::string(kCategoryNames[std::size_t(category)]) + "\" but merchant " +
                    name_of(kMerchant, m.id) + " is \"" + kCategoryNames[std::size_t(mc)] + "\"");
      category = mc;
    } else if (category < 0) {
      return fail("missing field 'category' (required for a new merchant, " + m.name + ")");
    }
    // Valid: create new entities, compute the features, add to the overlay.
    OTx tx{};
    tx.time = t;
    for (int k = 0; k < kEntities; ++k) tx.ent[std::size_t(k)] = create(k, ents[std::size_t(k)], category);
    const std::size_t row = ox.size();
    ox.resize(row + kTxCols);
    compute_features(tx, float(amount->number), category, ox.data() + row);
    const auto o = std::int32_t(otx.size());
    otx.push_back(tx);
    for (int k = 0; k < kEntities; ++k) olist[std::size_t(k)][tx.ent[std::size_t(k)]].push_back(o);
    latest = std::max(latest, t);
    res.features.assign(ox.begin() + std::ptrdiff_t(row), ox.begin() + std::ptrdiff_t(row + kTxCols));
    return o;
  }

  // ---- the MiniBatch (what NeighborSampler would sample, by hand) ----

  void build_batch(const std::vector<std::int32_t>& seeds) {
    const auto B = std::int64_t(seeds.size());
    mb.seed_type = t_tx;
    mb.nodes.resize(std::size_t(num_types));
    mb.node_seed.resize(std::size_t(num_types));
    mb.node_times.clear();
    for (int t = 0; t < num_types; ++t) {
      mb.nodes[std::size_t(t)].clear();
      mb.node_seed[std::size_t(t)].clear();
      index[std::size_t(t)].reset(std::size_t(t == t_tx ? B * 24 : B * 2) + 64);
    }
    mb.blocks.clear();
    mb.relations.resize(std::size_t(num_rel));
    const Schema& schema = file->graph.schema();
    for (int r = 0; r < num_rel; ++r) {
      SampledRelation& sr = mb.relations[std::size_t(r)];
      sr.relation = r;
      sr.src_type = schema.node_type_id(schema.relation(r).src);
      sr.dst_type = schema.node_type_id(schema.relation(r).dst);
      sr.indptr.assign(1, 0);
      sr.indices.clear();
      sr.edge_ids.clear();
    }
    auto add_node = [&](int type, std::int64_t id, std::int32_t subtree) {
      auto& nodes = mb.nodes[std::size_t(type)];
      const auto [local, inserted] = index[std::size_t(type)].insert(
          sampling_detail::LocalIndex::key(id, subtree), std::int32_t(nodes.size()));
      if (inserted) {
        nodes.push_back(id);
        mb.node_seed[std::size_t(type)].push_back(subtree);
      }
      return local;
    };
    mb.seed_local.clear();
    for (std::int64_t b = 0; b < B; ++b)
      mb.seed_local.push_back(add_node(t_tx, n_tx + seeds[std::size_t(b)], std::int32_t(b)));
    std::vector<std::int64_t> fb(std::size_t(num_types), 0), fe(std::size_t(num_types), 0);
    for (int t = 0; t < num_types; ++t) fe[std::size_t(t)] = mb.num_nodes(t);
    for (int h = 0; h < layers; ++h) {
      Block block;
      block.dst_begin = fb;
      block.dst_end = fe;
      const std::int64_t f = fanouts[std::size_t(h)];
      for (int r = 0; r < num_rel; ++r) {
        SampledRelation& out = mb.relations[std::size_t(r)];
        const int k = rel_entity[std::size_t(r)];
        const int dt = out.dst_type, st = out.src_type;
        for (std::int64_t i = fb[std::size_t(dt)]; i < fe[std::size_t(dt)]; ++i) {
          const std::int64_t v = mb.nodes[std::size_t(dt)][std::size_t(i)];
          const std::int32_t sub = mb.node_seed[std::size_t(dt)][std::size_t(i)];
          const std::int32_t self = seeds[std::size_t(sub)];
          const std::int64_t t = otx[std::size_t(self)].time;
          if (f != 0 && !rel_forward[std::size_t(r)]) {
            // entity -> transaction: a transaction's own entity (its edge has the
            // transaction's time, never later than the seed's).
            const std::int64_t e = tx_entity(k, v);
            out.indices.push_back(add_node(st, e, sub));
            out.edge_ids.push_back(v);
          } else if (f != 0) {
            // transaction -> entity: earlier transactions of entity v, base then overlay.
            const auto [b, nb] = base_range(k, v, t);
            tmp.clear();
            if (const auto* list = overlay_list(k, v))
              for (const std::int32_t o : *list)
                if (o <= self && otx[std::size_t(o)].time <= t) tmp.push_back(o);
            const std::int64_t n = nb + std::int64_t(tmp.size());
            const Csc& c = fwd[std::size_t(k)];
            auto emit = [&](std::int64_t q) {
              const std::int64_t j = q < nb ? c.idx(b + q) : n_tx + tmp[std::size_t(q - nb)];
              out.indices.push_back(add_node(st, j, sub));
              out.edge_ids.push_back(q < nb ? b + q : -1);
            };
            if (f < 0 || f >= n) {
              for (std::int64_t q = 0; q < n; ++q) emit(q);
            } else if (recent) {  // positions are in time order: base list, then overlay
              for (std::int64_t q = n - f; q < n; ++q) emit(q);
            } else {
              // Keyed by what identifies the draw in any batch: scores do not depend on --batch.
              CounterRng rng(opt.seed, std::uint64_t(n_tx + self), (std::uint64_t(h) << 32) | std::uint64_t(r),
                             std::uint64_t(v));
              sampling_detail::choose_uniform(rng, n, f, emit);
            }
          }
          out.indptr.push_back(std::int64_t(out.indices.size()));
        }
      }
      block.num_edges = 0;
      for (int t = 0; t < num_types; ++t) {
        fb[std::size_t(t)] = fe[std::size_t(t)];
        fe[std::size_t(t)] = mb.num_nodes(t);
      }
      block.num_src = fe;
      mb.blocks.push_back(std::move(block));
    }
  }

  std::vector<Tensor> gather() {
    std::vector<Tensor> x(static_cast<std::size_t>(num_types));
    for (int t = 0; t < num_types; ++t) {
      const auto& nodes = mb.nodes[std::size_t(t)];
      const std::int64_t rows = std::int64_t(nodes.size()), cols = feat[std::size_t(t)]->cols;
      const std::int64_t width = cols + identity->columns(t);
      if (!bufs[std::size_t(t)].defined() || bufs[std::size_t(t)].size(0) < rows)
        bufs[std::size_t(t)] = Tensor::empty({rows + rows / 2 + 64, width}, DType::kFloat32);
      Tensor view = nn::slice_rows(bufs[std::size_t(t)], 0, rows);
      float* dst = view.data_as<float>();
      const int k = t == t_tx ? -1 : int(std::find(t_ent.begin(), t_ent.end(), t) - t_ent.begin());
      const std::int64_t nb = t == t_tx ? n_tx : num_base[std::size_t(k)];
      for (std::int64_t i = 0; i < rows; ++i) {
        const std::int64_t id = nodes[std::size_t(i)];
        const float* src = id < nb ? feat[std::size_t(t)]->row(id)
                           : t == t_tx ? ox.data() + (id - n_tx) * kTxCols
                                       : oent_x[std::size_t(k)].data() + (id - nb) * cols;
        std::memcpy(dst + i * width, src, std::size_t(cols) * sizeof(float));
      }
      identity->fill(mb, t, dst + cols, width, [this](std::size_t j, std::int64_t v) {
        return tx_entity(identity_entity[j], v);
      });
      x[std::size_t(t)] = view;
    }
    return x;
  }

  // ---- reasons ----

  std::string why(int k, std::int64_t e, std::int32_t self) const {
    const OTx& tx = otx[std::size_t(self)];
    const std::int64_t t = tx.time;
    const auto [b, nb] = base_range(k, e, t);
    std::int64_t earlier = nb, fraud = 0;
    if (nb > 0) fraud = fraud_prefix[std::size_t(k)][std::size_t(b + nb)] - fraud_prefix[std::size_t(k)][std::size_t(b)];
    const auto* list = overlay_list(k, e);
    if (list)
      for (const std::int32_t o : *list) earlier += o < self && otx[std::size_t(o)].time <= t;
    const bool is_new = e >= num_base[std::size_t(k)];
    auto plural = [](std::int64_t n, const char* one, const char* many) {
      return std::to_string(n) + " " + (n == 1 ? one : many);
    };
    const std::string fraud_text =
        fraud == 0 ? std::string("none confirmed fraud") : std::to_string(fraud) + " confirmed fraud";
    std::string s;
    if (is_new && earlier == 0) s = std::string("new ") + kEntityType[k] + ", never seen before";
    else if (is_new) s = std::string("new ") + kEntityType[k] + " (not in the history)";
    if (k == kUser) {
      if (earlier > 0) {
        if (!s.empty()) s += "; ";
        s += plural(earlier, "earlier transaction", "earlier transactions");
        if (nb > 0) s += " (" + fraud_text + ")";
        s += "; " + std::to_string(tx.user_1h) + " in the last hour, " + std::to_string(tx.user_24h) +
             " in the last 24 h";
      }
      if (!is_new && earlier == 0) s = "known user with no earlier transactions";
      if (tx.new_device && tx.new_ip) s += "; new device and new IP for this user";
      else if (tx.new_device) s += "; new device for this user";
      else if (tx.new_ip) s += "; new IP for this user";
      return s;
    }
    if (k == kMerchant) {
      const std::string cat = kCategoryNames[std::size_t(category_of_merchant(e))];
      if (is_new) return s + "; category " + cat;
      if (earlier == 0) return "category " + cat + "; no earlier transactions";
      std::string out = "category " + cat + "; " + plural(earlier, "earlier transaction", "earlier transactions");
      if (nb > 0) {
        char buf[32];
        std::snprintf(buf, sizeof buf, " (%.2f%%)", 100.0 * double(fraud) / double(nb));
        out += ", " + fraud_text + (fraud ? buf : "");
      }
      return out;
    }
    // card, device, ip: who else used it (the latest kFactScanCap transactions of the history).
    if (earlier == 0) return is_new ? s : std::string("known ") + kEntityType[k] + " with no earlier transactions";
    const std::int64_t user = tx.ent[kUser];
    std::vector<std::int64_t> others;
    const Csc& c = fwd[std::size_t(k)];
    const std::int64_t scan_from = std::max(b, b + nb - kFactScanCap);
    for (std::int64_t p = scan_from; p < b + nb; ++p) {
      const std::int64_t u = tx_entity(kUser, c.idx(p));
      if (u != user) others.push_back(u);
    }
    if (list)
      for (const std::int32_t o : *list)
        if (o < self && otx[std::size_t(o)].time <= t && otx[std::size_t(o)].ent[kUser] != user)
          others.push_back(otx[std::size_t(o)].ent[kUser]);
    std::sort(others.begin(), others.end());
    const auto distinct = std::int64_t(std::unique(others.begin(), others.end()) - others.begin());
    const std::string capped = scan_from > b ? "at least " : "";
    std::string who = distinct == 0 ? "used only by this user"
                                    : "shared with " + capped + plural(distinct, "other user", "other users");
    if (!s.empty()) s += "; ";
    s += who + "; " + plural(earlier, "earlier transaction", "earlier transactions") + " on it";
    if (nb > 0)
      s += ", " + (fraud == 0 ? fraud_text : std::to_string(fraud) + (fraud == 1 ? " was" : " were") + " confirmed fraud");
    if (k == kCard) s += "; " + std::to_string(tx.card_24h) + " in the last 24 h";
    return s;
  }

  void reasons(const std::vector<std::int32_t>& seeds, const std::vector<Tensor>& x,
               const std::vector<Tensor>& gx, std::vector<ScoreResult*>& results) {
    // |grad . x| per node row.
    std::vector<std::vector<float>> sal(static_cast<std::size_t>(num_types));
    for (int t = 0; t < num_types; ++t) {
      const std::int64_t rows = mb.num_nodes(t);
      auto& s = sal[std::size_t(t)];
      s.assign(std::size_t(rows), 0.f);
      if (!gx[std::size_t(t)].defined()) continue;
      const std::int64_t cols = x[std::size_t(t)].size(1);
      const float* xv = x[std::size_t(t)].data_as<float>();
      const float* gv = gx[std::size_t(t)].data_as<float>();
      for (std::int64_t i = 0; i < rows; ++i) {
        double d = 0;
        for (std::int64_t c = 0; c < cols; ++c) d += double(xv[i * cols + c]) * double(gv[i * cols + c]);
        s[std::size_t(i)] = float(std::fabs(d));
      }
    }
    for (std::size_t b = 0; b < seeds.size(); ++b) {
      std::array<double, kEntities> score{};
      double total = 0;
      for (int k = 0; k < kEntities; ++k) {
        // The entity's node of this subtree: reached at hop 1 through rev_<rel> from the seed.
        const SampledRelation& rv = mb.relations[std::size_t(r_rev[std::size_t(k)])];
        const std::int64_t seed_local = mb.seed_local[b];
        if (rv.indptr.size() <= std::size_t(seed_local) + 1 ||
            rv.indptr[std::size_t(seed_local)] == rv.indptr[std::size_t(seed_local) + 1])
          continue;
        const std::int32_t el = rv.indices[std::size_t(rv.indptr[std::size_t(seed_local)])];
        double s = sal[std::size_t(t_ent[std::size_t(k)])][std::size_t(el)];
        const SampledRelation& fw = mb.relations[std::size_t(r_fwd[std::size_t(k)])];
        if (std::size_t(el) + 1 < fw.indptr.size())
          for (std::int64_t p = fw.indptr[std::size_t(el)]; p < fw.indptr[std::size_t(el) + 1]; ++p)
            if (fw.indices[std::size_t(p)] != seed_local) s += sal[std::size_t(t_tx)][std::size_t(fw.indices[std::size_t(p)])];
        score[std::size_t(k)] = s;
        total += s;
      }
      std::array<int, kEntities> order{0, 1, 2, 3, 4};
      std::stable_sort(order.begin(), order.end(), [&](int a, int c) { return score[std::size_t(a)] > score[std::size_t(c)]; });
      const OTx& tx = otx[std::size_t(seeds[b])];
      for (int q = 0; q < std::min(opt.num_reasons, kEntities); ++q) {
        const int k = order[std::size_t(q)];
        const std::int64_t e = tx.ent[std::size_t(k)];
        results[b]->reasons.push_back({std::string(kEntityType[k]) + " " + name_of(k, e), why(k, e, seeds[b]),
                                       total > 0 ? score[std::size_t(k)] / total : 1.0 / kEntities});
      }
    }
  }

  // ---- a batch of lines ----

  std::vector<ScoreResult> score(std::span<const std::string_view> lines) {
    std::vector<ScoreResult> results(lines.size());
    std::vector<std::int32_t> seeds;
    std::vector<ScoreResult*> seed_results;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::int64_t o = admit(lines[i], results[i]);
      if (o >= 0) {
        seeds.push_back(std::int32_t(o));
        seed_results.push_back(&results[i]);
      }
    }
    if (seeds.empty()) return results;
    build_batch(seeds);
    const std::vector<Tensor> x = gather();
    const bool explain = opt.num_reasons > 0;
    const auto lg = nn::layer_graphs(mb, layers, ctx.num_threads(), explain);
    const Tensor out = model->forward(ctx, lg, x, {}, explain ? &cache : nullptr);
    for (std::size_t b = 0; b < seeds.size(); ++b) {
      const double logit = out.data_as<float>()[mb.seed_local[b]];
      seed_results[b]->logit = logit;
      seed_results[b]->score = 1.0 / (1.0 + std::exp(-logit));
    }
    if (explain) {
      Tensor g = Tensor::zeros({out.size(0), 1}, DType::kFloat32);
      for (std::size_t b = 0; b < seeds.size(); ++b) g.data_as<float>()[mb.seed_local[b]] = 1.f;
      const std::vector<Tensor> gx = model->backward(ctx, lg, cache, g, true);
      reasons(seeds, x, gx, seed_results);
    }
    return results;
  }
};

Scorer::Scorer(const GraphFile& file, const std::string& checkpoint, ScorerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->init(file, checkpoint, std::move(options));
}
Scorer::~Scorer() = default;

std::vector<ScoreResult> Scorer::score(std::span<const std::string_view> lines) { return impl_->score(lines); }
ScoreResult Scorer::score_one(std::string_view line) {
  const std::string_view lines[] = {line};
  return std::move(impl_->score(lines)[0]);
}
std::int64_t Scorer::latest_time() const { return impl_->latest; }
std::int64_t Scorer::overlay_size() const { return std::int64_t(impl_->otx.size()); }
std::int64_t Scorer::base_transactions() const { return impl_->base_limit; }
FraudModel& Scorer::model() { return *impl_->fm; }
std::string Scorer::describe() const {
  const TrainConfig& c = impl_->fm->config();
  return detail::format("{}, {} layers, hidden {}{}, fan-outs {}{}", c.conv, c.layers, c.hidden,
                        c.conv == "gat" ? ", heads " + std::to_string(c.heads) : std::string(),
                        join_list(impl_->fanouts),
                        impl_->identity->empty() ? std::string() : ", seed-identity inputs");
}

// ---- export-test -----------------------------------------------------------------------------

std::string export_transactions(const GraphFile& file, std::int64_t count, std::int64_t* first_time,
                                std::int64_t* exported) {
  constexpr const char* fn = "gnnkit-fraud export-test";
  const Schema& schema = file.graph.schema();
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, schema.find_node_type("transaction").has_value(),
                    "the graph has no 'transaction' nodes: not a gnnkit-fraud graph");
  const std::int64_t n = schema.num_nodes("transaction");
  const auto times = file.features.node_times("transaction").as<std::int64_t>();
  const auto labels = file.features.labels("transaction").as<std::int64_t>();
  const FeatureMatrix& x = file.features.node_features("transaction", "x");
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, x.cols == kTxCols,
                    "transaction features have {} columns, gnnkit-fraud's have {}", x.cols, kTxCols);
  count = std::clamp<std::int64_t>(count, 0, n);
  std::int64_t start = n - count;
  // Whole seconds only: ties with the first exported transaction go too, so that --as-of
  // (which hides times >= it) hides exactly the exported transactions.
  while (start > 0 && start < n && times[std::size_t(start - 1)] == times[std::size_t(start)]) --start;
  std::array<const Relation*, kEntities> rev{};
  for (int k = 0; k < kEntities; ++k)
    rev[std::size_t(k)] = &file.graph.relation(EdgeType{kEntityType[k], std::string("rev_") + kEntityRel[k], "transaction"});
  auto entity = [&](int k, std::int64_t j) -> std::int64_t {
    const Relation& r = *rev[std::size_t(k)];
    const std::int64_t p = r.csc_indptr.as<std::int64_t>()[std::size_t(j)];
    return r.index_dtype() == DType::kInt32 ? r.csc_indices.as<std::int32_t>()[std::size_t(p)]
                                            : r.csc_indices.as<std::int64_t>()[std::size_t(p)];
  };
  const auto keys_of = [&](int k) -> const KeyMap* {
    auto it = file.node_keys.find(kEntityType[k]);
    return it == file.node_keys.end() || it->second.size() == 0 ? nullptr : &it->second;
  };
  std::string out;
  for (std::int64_t j = start; j < n; ++j) {
    const float* row = x.row(j);
    // The generator stores log1p(amount) of a cent amount: find that amount again.
    double amount = std::round(std::expm1(double(row[0])) * 100.0) / 100.0;
    for (int d = -3; d <= 3; ++d) {
      const double a = std::round(std::expm1(double(row[0])) * 100.0 + d) / 100.0;
      if (a > 0 && float(std::log1p(double(float(a)))) == row[0]) {
        amount = a;
        break;
      }
    }
    int category = 0;
    for (int c = 0; c < kNumCategories; ++c)
      if (row[kCat + c] > 0.5f) category = c;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", amount);
    out += "{\"id\": \"tx-" + std::to_string(j) + "\"";
    for (int k = 0; k < kEntities; ++k) {
      const std::int64_t e = entity(k, j);
      const KeyMap* km = keys_of(k);
      out += std::string(", \"") + kEntityType[k] + "\": " +
             json_quote(km ? std::string(km->key(e)) : kEntityPrefix[k] + std::to_string(e));
    }
    out += std::string(", \"amount\": ") + buf + ", \"time\": " + std::to_string(times[std::size_t(j)]) +
           ", \"category\": \"" + kCategoryNames[std::size_t(category)] + "\", \"label\": " +
           std::to_string(labels[std::size_t(j)]) + "}\n";
  }
  if (first_time) *first_time = start < n ? times[std::size_t(start)] : 0;
  if (exported) *exported = n - start;
  return out;
}

// ---- commands --------------------------------------------------------------------------------

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
/// CPU seconds of the calling thread: latency without the time other processes took the core
/// (shared, loaded machines), next to the wall-clock numbers.
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace

const char* score_usage() {
  return "usage: gnnkit-fraud score --graph FILE --model DIR/model.ckpt [options]\n"
         "  reads transactions as JSON lines, writes one JSON line per input line, in order:\n"
         "    in:  {\"id\": \"tx-1\", \"user\": \"u123\", \"card\": \"c9\", \"device\": \"d7\", \"ip\": \"ip42\",\n"
         "          \"merchant\": \"m3\", \"amount\": 42.5, \"time\": 1712345678, \"category\": \"electronics\"}\n"
         "    out: {\"id\": \"tx-1\", \"score\": 0.93, \"reasons\": [{\"entity\": \"device d7\", \"why\": \"...\",\n"
         "          \"weight\": 0.41}, ...]}   or   {\"id\": \"tx-1\", \"error\": \"field 'amount' must be ...\"}\n"
         "  ids: integers (123), digit strings (\"123\") or prefixed names (u123 c9 d7 ip42 m3); unknown\n"
         "  ids are new entities. category: optional for known merchants (must match), required for\n"
         "  new ones. Other fields (e.g. \"label\") are ignored.\n"
         "  --graph FILE          the base graph (gnnkit-fraud generate); memory-mapped\n"
         "  --model FILE          checkpoint written by gnnkit-fraud train (DIR/model.ckpt)\n"
         "  --input FILE          JSON lines to score (default: stdin)\n"
         "  --output FILE         results (default: stdout)\n"
         "  --batch N             score N lines per mini-batch (default 1: lowest latency)\n"
         "  --threads T           CPU threads (default 1)\n"
         "  --fanouts A,B         earlier transactions sampled per entity and hop (default 10 per\n"
         "                        layer; -1: all)\n"
         "  --as-of TIME          ignore base-graph transactions at or after TIME (Unix seconds), e.g.\n"
         "                        the test window written by export-test\n"
         "  --max-delay S         reject times more than S seconds before the latest seen (default 3600)\n"
         "  --max-ahead S         reject times more than S seconds after the latest seen (default 86400)\n"
         "  --reasons K           reasons per transaction (default 3; 0: scores only, faster)\n"
         "  --seed S              sampling seed (default 1)\n"
         "  --bench               print latency (p50/p99) and throughput to stderr at the end\n";
}

const char* export_test_usage() {
  return "usage: gnnkit-fraud export-test --graph FILE --count N --out FILE\n"
         "  writes the latest N transactions of the graph (the test window; plus any with the same\n"
         "  second as the first) as JSON lines in score's input format, with their \"label\", and\n"
         "  prints the --as-of TIME that hides them from the base graph when scoring.\n";
}

int export_test_command(const std::vector<std::string>& args) {
  std::string graph_path, out_path;
  std::int64_t count = 1000;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--graph") graph_path = value();
    else if (a == "--out") out_path = value();
    else if (a == "--count") count = parse_number<std::int64_t>(a, value());
    else throw UsageError{"unknown option '" + a + "' for export-test"};
  }
  if (graph_path.empty()) throw UsageError{"export-test needs --graph FILE"};
  if (out_path.empty()) throw UsageError{"export-test needs --out FILE"};
  if (count < 1) throw UsageError{"--count must be positive"};
  const GraphFile file = load_graph(graph_path);
  std::int64_t first = 0, n = 0;
  const std::string text = export_transactions(file, count, &first, &n);
  app::write_file_atomic(out_path, text, "gnnkit-fraud export-test");
  std::printf("wrote %lld transactions to %s; score them with --as-of %lld\n", (long long)n, out_path.c_str(),
              (long long)first);
  return 0;
}

int score_command(const std::vector<std::string>& args) {
  std::string graph_path, model_path, input, output;
  ScorerOptions opt;
  std::int64_t batch = 1;
  bool bench = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& { return option_value(args, i); };
    if (a == "--graph") graph_path = value();
    else if (a == "--model") model_path = value();
    else if (a == "--input") input = value();
    else if (a == "--output") output = value();
    else if (a == "--batch") batch = parse_number<std::int64_t>(a, value());
    else if (a == "--threads") opt.threads = parse_threads(a, value());
    else if (a == "--as-of") opt.as_of = parse_number<std::int64_t>(a, value());
    else if (a == "--max-delay") opt.max_delay = parse_number<std::int64_t>(a, value());
    else if (a == "--max-ahead") opt.max_ahead = parse_number<std::int64_t>(a, value());
    else if (a == "--reasons") opt.num_reasons = parse_number<int>(a, value());
    else if (a == "--seed") opt.seed = parse_number<std::uint64_t>(a, value());
    else if (a == "--bench") bench = true;
    else if (a == "--fanouts") {
      opt.fanouts = parse_list(a, value());
    } else throw UsageError{"unknown option '" + a + "' for score"};
  }
  if (graph_path.empty()) throw UsageError{"score needs --graph FILE"};
  if (model_path.empty()) throw UsageError{"score needs --model DIR/model.ckpt"};
  if (batch < 1 || batch > (1 << 20)) throw UsageError{"--batch must be in [1, 2^20]"};
  if (opt.threads < 1) throw UsageError{"--threads must be positive"};
  // Bounded so that latest -/+ them cannot overflow (times are below 1e12 s).
  if (opt.max_delay < 0 || opt.max_ahead < 0 || opt.max_delay > 1000000000000 || opt.max_ahead > 1000000000000)
    throw UsageError{"--max-delay and --max-ahead must be in [0, 1e12] seconds"};
  if (opt.num_reasons < 0 || opt.num_reasons > 5) throw UsageError{"--reasons must be in [0, 5]"};

  const double t_load = now_s();
  LoadOptions load;
  load.populate = true;
  const GraphFile file = load_graph(graph_path, load);
  Scorer scorer(file, model_path, opt);
  std::fprintf(stderr, "score: %s (%lld base transactions%s), model %s: %s, ready in %.2f s\n", graph_path.c_str(),
               (long long)scorer.base_transactions(),
               opt.as_of ? (" before " + std::to_string(*opt.as_of)).c_str() : "", model_path.c_str(),
               scorer.describe().c_str(), now_s() - t_load);

  std::FILE* in = stdin;
  if (!input.empty()) {
    in = std::fopen(input.c_str(), "rb");
    if (!in) throw IoError("gnnkit-fraud score", "cannot open input '" + input + "'");
  }
  struct Closer {
    std::FILE* f;
    char* buf = nullptr;
    ~Closer() {
      if (f != stdin) std::fclose(f);
      std::free(buf);
    }
  } closer{in};
  std::size_t cap = 0;
  app::OutputFile out(output, "gnnkit-fraud score");  // stdout when no --output
  std::vector<std::string> lines;
  std::vector<std::string_view> views;
  std::vector<double> latencies, cpu_times;  // per batch, seconds (wall, this thread's CPU)
  std::int64_t total = 0, errors = 0;
  std::string buffer;
  const double t_start = now_s();
  for (bool eof = false; !eof;) {
    lines.clear();
    while (std::int64_t(lines.size()) < batch) {
      ssize_t len = ::getline(&closer.buf, &cap, in);
      if (len < 0) {
        // The end, or a read error (a folder given as --input): not the same thing.
        if (std::ferror(in))
          throw IoError("gnnkit-fraud score", "cannot read '" + (input.empty() ? std::string("standard input") : input) +
                                                  "': " + std::strerror(errno));
        eof = true;
        break;
      }
      while (len > 0 && (closer.buf[len - 1] == '\n' || closer.buf[len - 1] == '\r')) --len;
      lines.emplace_back(closer.buf, std::size_t(len));
    }
    if (lines.empty()) break;
    const double t0 = now_s(), c0 = thread_cpu_s();
    views.assign(lines.begin(), lines.end());
    const std::vector<ScoreResult> results = scorer.score(views);
    buffer.clear();
    for (const ScoreResult& r : results) {
      buffer += r.json();
      buffer += '\n';
      errors += !r.error.empty();
    }
    out.write(buffer);
    if (input.empty() || batch == 1) out.flush();  // streaming: results as they come
    latencies.push_back(now_s() - t0);
    cpu_times.push_back(thread_cpu_s() - c0);
    total += std::int64_t(lines.size());
  }
  const double wall = now_s() - t_start;
  out.commit();  // a write error (a full disk, /dev/full) fails the command
  std::fprintf(stderr, "score: %lld lines (%lld errors) in %.3f s\n", (long long)total, (long long)errors, wall);
  if (bench && !latencies.empty()) {
    std::vector<double> sorted = latencies, cpu = cpu_times;
    std::sort(sorted.begin(), sorted.end());
    std::sort(cpu.begin(), cpu.end());
    auto at = [](const std::vector<double>& v, double p) { return v[std::min(v.size() - 1, std::size_t(p * double(v.size())))]; };
    auto pct = [&](double p) { return at(sorted, p); };
    double load1 = 0;
    if (std::FILE* la = std::fopen("/proc/loadavg", "r")) {
      if (std::fscanf(la, "%lf", &load1) != 1) load1 = 0;
      std::fclose(la);
    }
    std::fprintf(stderr,
                 "bench: %s per %s (parse, overlay, sampling, forward%s, output): p50 %.3f ms, p99 %.3f ms, "
                 "max %.3f ms; throughput %.0f transactions/s (%lld lines, batch %lld, threads %d, load avg %.2f)\n",
                 batch == 1 ? "latency" : "batch latency", batch == 1 ? "transaction" : "batch",
                 opt.num_reasons > 0 ? ", reasons" : "", 1e3 * pct(0.5), 1e3 * pct(0.99), 1e3 * sorted.back(),
                 double(total) / wall, (long long)total, (long long)batch, opt.threads, load1);
    std::fprintf(stderr, "bench: main-thread CPU time per %s: p50 %.3f ms, p99 %.3f ms (load-independent when "
                 "threads = 1)\n", batch == 1 ? "transaction" : "batch", 1e3 * at(cpu, 0.5), 1e3 * at(cpu, 0.99));
  }
  return 0;
}

}  // namespace gnnkit::fraud
