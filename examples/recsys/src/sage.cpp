#include "src/sage.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "gnnkit/core/error.hpp"
#include "gnnkit/sampling/link.hpp"
#include "gnnkit/train/optimizer.hpp"

namespace gnnkit::recsys {
namespace fs = std::filesystem;

void validate(const SageOptions& o) {
  constexpr const char* fn = "train_sage";
  nn::validate(o.model);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, std::int64_t(o.fanouts.size()) == o.model.layers,
                    "'fanouts' must list one fan-out per layer ({}), got {}", o.model.layers,
                    o.fanouts.size());
  for (std::size_t h = 0; h < o.fanouts.size(); ++h)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.fanouts[h] == -1 || o.fanouts[h] >= 1,
                      "'fanouts[{}]' must be >= 1 or -1 (all), got {}", h, o.fanouts[h]);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.negatives >= 1 && o.negatives <= 1024,
                    "'negatives' must be in [1, 1024], got {}", o.negatives);
  validate_loop(fn, o.epochs, o.batch, o.lr, o.eval_every);
}

Tensor read_item_features(const std::string& folder, std::int64_t num_items) {
  constexpr const char* fn = "read_item_features";
  const fs::path path = fs::path(folder) / "items.csv";
  if (!fs::exists(path)) return Tensor();
  std::ifstream in(path);
  if (!in) throw IoError(fn, detail::format("cannot open '{}' for reading", path.string()));
  std::vector<std::int32_t> category(std::size_t(num_items), -1);
  std::vector<double> log_price(std::size_t(num_items), 0);
  std::string line;
  std::int64_t line_no = 0, categories = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1) {
      if (line != "item,category,price")
        throw FormatError(fn, detail::format("{}: line 1: the header must be 'item,category,price', got '{}'",
                                             path.string(), line));
      continue;
    }
    if (line.empty()) continue;
    const std::size_t c1 = line.find(','), c2 = c1 == std::string::npos ? c1 : line.find(',', c1 + 1);
    if (c2 == std::string::npos)
      throw FormatError(fn, detail::format("{}: line {}: expected 3 fields (item,category,price), got '{}'",
                                           path.string(), line_no, line));
    std::int64_t item = -1, cat = -1;
    double price = 0;
    const char* s = line.data();
    const auto bad = [&](const char* field, std::size_t b, std::size_t e) {
      return FormatError(fn, detail::format("{}: line {}: {} '{}' is not valid", path.string(),
                                            line_no, field, line.substr(b, e - b)));
    };
    if (auto [p, ec] = std::from_chars(s, s + c1, item); ec != std::errc() || p != s + c1 || item < 0 || item >= num_items) {
      if (ec == std::errc() && p == s + c1)
        throw FormatError(fn, detail::format("{}: line {}: item {} is outside [0, {})", path.string(), line_no, item, num_items));
      throw bad("item", 0, c1);
    }
    if (auto [p, ec] = std::from_chars(s + c1 + 1, s + c2, cat); ec != std::errc() || p != s + c2 || cat < 0 || cat >= 4096)
      throw bad("category (an integer in [0, 4096))", c1 + 1, c2);
    if (auto [p, ec] = std::from_chars(s + c2 + 1, s + line.size(), price);
        ec != std::errc() || p != s + line.size() || !(price > 0) || !std::isfinite(price))
      throw bad("price (a positive number)", c2 + 1, line.size());
    if (category[std::size_t(item)] >= 0)
      throw FormatError(fn, detail::format("{}: line {}: item {} is listed twice", path.string(), line_no, item));
    category[std::size_t(item)] = std::int32_t(cat);
    log_price[std::size_t(item)] = std::log(price);
    categories = std::max(categories, cat + 1);
  }
  if (in.bad()) throw IoError(fn, detail::format("error while reading '{}'", path.string()));
  for (std::int64_t i = 0; i < num_items; ++i)
    if (category[std::size_t(i)] < 0)
      throw FormatError(fn, detail::format("{}: item {} has no line (items 0..{} must all be listed)",
                                           path.string(), i, num_items - 1));
  double mean = 0, var = 0;
  for (double v : log_price) mean += v;
  mean /= double(num_items);
  for (double v : log_price) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / double(num_items)) + 1e-12;
  const std::int64_t width = categories + 1;
  Tensor out = Tensor::zeros({num_items, width}, DType::kFloat32);
  float* x = out.data_as<float>();
  for (std::int64_t i = 0; i < num_items; ++i) {
    x[i * width + category[std::size_t(i)]] = 1.0f;
    x[i * width + categories] = float((log_price[std::size_t(i)] - mean) / sd);
  }
  return out;
}

TrainResult train_sage(const Context& ctx, const RecData& data, const Tensor& item_features,
                       const SageOptions& opt,
                       const std::function<void(const EpochRecord&)>& on_epoch) {
  validate(opt);
  const UserItems& train = data.train;
  GNNKIT_EXPECTS_AS(InvalidArgument, "train_sage", train.num_interactions() > 0,
                    "dataset '{}' has no training interactions", data.name);
  const std::int64_t U = train.num_users, I = train.num_items;
  const HeteroGraph graph = nn::TwoTower::interaction_graph(ctx, U, I, train.indptr, train.items);
  const LinkSampler links = nn::TwoTower::link_sampler(graph, opt.fanouts, opt.negatives);
  nn::TwoTower model(U, I, item_features, opt.model);
  Adam adam(model.parameters(), AdamOptions{.lr = opt.lr});

  const std::vector<std::int64_t> pair_user = pair_users(train);
  std::vector<std::int64_t> src, dst;
  LinkBatch batch;
  std::uint64_t step_count = 0;
  const auto step = [&](std::span<const std::int64_t> pairs, int epoch, std::int64_t b) {
    src.resize(pairs.size());
    dst.resize(pairs.size());
    for (std::size_t t = 0; t < pairs.size(); ++t) {
      src[t] = pair_user[std::size_t(pairs[t])];
      dst[t] = train.items[std::size_t(pairs[t])];
    }
    const auto n = std::int64_t(pairs.size());
    // Batch key (epoch, batch): negatives and neighbourhoods are reproducible and differ
    // from batch to batch.
    const Context keyed = ctx.with_seed(mix64(opt.model.seed ^ mix64(std::uint64_t(epoch))));
    links.sample_into(keyed, TensorView(src.data(), DType::kInt64, Device::cpu(), {n}),
                      TensorView(dst.data(), DType::kInt64, Device::cpu(), {n}),
                      std::uint64_t(b), batch);
    model.parameters().zero_grad();
    const double loss = model.loss_and_grad(ctx, batch, ++step_count);
    adam.step(ctx);
    return loss;
  };
  const auto embed = [&](Embeddings& out) {
    Tensor eu, ei;
    model.embeddings(ctx, graph, eu, ei);
    out.num_users = U;
    out.num_items = I;
    out.dim = opt.model.dim;
    out.user.assign(eu.data_as<float>(), eu.data_as<float>() + U * opt.model.dim);
    out.item.assign(ei.data_as<float>(), ei.data_as<float>() + I * opt.model.dim);
  };
  return EpochLoop{data, opt.epochs, opt.batch, opt.eval_every, opt.model.seed}.run(ctx, step, embed,
                                                                                    on_epoch);
}

}  // namespace gnnkit::recsys
