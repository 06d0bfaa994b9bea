#include "src/lightgcn.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include "gnnkit/core/error.hpp"
#include "gnnkit/sampling/random.hpp"
#include "gnnkit/train/optimizer.hpp"

namespace gnnkit::recsys {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// The loop's options; the model's are checked by nn::validate.
void validate(const LightGcnOptions& o) {
  constexpr const char* fn = "train_lightgcn";
  nn::validate(o.model());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.epochs >= 1, "'epochs' must be >= 1, got {}", o.epochs);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.batch >= 1, "'batch' must be >= 1, got {}", o.batch);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.lr > 0 && std::isfinite(o.lr),
                    "'lr' must be positive, got {}", o.lr);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.eval_every >= 0, "'eval_every' must be >= 0, got {}",
                    o.eval_every);
}

}  // namespace

LightGcnResult train_lightgcn(const Context& ctx, const RecData& data, const LightGcnOptions& opt,
                              const std::function<void(const EpochRecord&)>& on_epoch) {
  validate(opt);
  const UserItems& train = data.train;
  GNNKIT_EXPECTS_AS(InvalidArgument, "train_lightgcn", train.num_interactions() > 0,
                    "dataset '{}' has no training interactions", data.name);
  const std::int64_t U = train.num_users, I = train.num_items;
  const int threads = ctx.num_threads();
  nn::LightGcn model(U, I, train.indptr, train.items, opt.model(), threads);
  Adam adam(model.parameters(), AdamOptions{.lr = opt.lr});

  // Training triples: every interaction once per epoch, shuffled.
  std::vector<std::int64_t> pair_user(std::size_t(train.num_interactions()));
  for (std::int64_t u = 0; u < U; ++u)
    std::fill(pair_user.begin() + train.indptr[std::size_t(u)],
              pair_user.begin() + train.indptr[std::size_t(u) + 1], u);
  std::vector<std::int64_t> order(pair_user.size());
  const std::int64_t num_pairs = std::int64_t(order.size());
  const auto mb = static_cast<std::size_t>(std::min(opt.batch, num_pairs));
  std::vector<std::int64_t> bu(mb), bi(mb), bj(mb);

  LightGcnResult result;
  std::vector<double> epoch_seconds;
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    const double t0 = now_s();
    std::iota(order.begin(), order.end(), 0);
    CounterRng shuffle_rng(opt.seed, 0x5348554646ull, std::uint64_t(epoch));
    for (std::int64_t p = num_pairs - 1; p > 0; --p)
      std::swap(order[std::size_t(p)], order[shuffle_rng.below(std::uint64_t(p + 1))]);
    double loss_sum = 0;
    std::int64_t batches = 0;
    for (std::int64_t b0 = 0; b0 < num_pairs; b0 += opt.batch) {
      const std::int64_t B = std::min(opt.batch, num_pairs - b0);
      // Triples; the negative of pair p is keyed by (seed, epoch, p): any thread count agrees.
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::int64_t t = 0; t < B; ++t) {
        const std::int64_t p = order[std::size_t(b0 + t)];
        const std::int64_t u = pair_user[std::size_t(p)];
        bu[std::size_t(t)] = u;
        bi[std::size_t(t)] = train.items[std::size_t(p)];
        CounterRng rng(opt.seed, std::uint64_t(epoch), std::uint64_t(p));
        std::int32_t j = 0;
        // Rejection: a user who has every item would loop forever, so give up after 64 draws
        // (the negative is then a positive: a zero-information triple, never wrong data).
        for (int tries = 0; tries < 64; ++tries) {
          j = std::int32_t(rng.below(std::uint64_t(I)));
          if (!train.contains(u, j)) break;
        }
        bj[std::size_t(t)] = j;
      }
      const auto first = [&](const std::vector<std::int64_t>& v) {
        return std::span<const std::int64_t>(v.data(), std::size_t(B));
      };
      loss_sum += model.loss_and_grad(ctx, first(bu), first(bi), first(bj));
      ++batches;
      adam.step(ctx);
    }
    EpochRecord rec;
    rec.epoch = epoch;
    rec.loss = loss_sum / double(std::max<std::int64_t>(batches, 1));
    rec.seconds = now_s() - t0;
    epoch_seconds.push_back(rec.seconds);
    const bool last = epoch == opt.epochs;
    if (last || (opt.eval_every > 0 && epoch % opt.eval_every == 0)) {
      result.final.num_users = U;
      result.final.num_items = I;
      result.final.dim = opt.dim;
      model.embeddings(result.final.user, result.final.item);
      if (data.test.num_interactions() > 0) {
        const RankingMetrics m = evaluate_embeddings(ctx, result.final, data, 20);
        rec.evaluated = true;
        rec.recall = m.recall;
        rec.ndcg = m.ndcg;
      }
    }
    result.history.push_back(rec);
    if (on_epoch) on_epoch(rec);
  }
  std::sort(epoch_seconds.begin(), epoch_seconds.end());
  result.seconds_per_epoch = epoch_seconds[epoch_seconds.size() / 2];
  return result;
}

}  // namespace gnnkit::recsys
