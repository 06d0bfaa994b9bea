#include "src/training.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "gnnkit/core/error.hpp"
#include "gnnkit/sampling/random.hpp"

namespace gnnkit::recsys {

void validate_loop(const char* fn, int epochs, std::int64_t batch, double lr, int eval_every) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, epochs >= 1, "'epochs' must be >= 1, got {}", epochs);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, batch >= 1, "'batch' must be >= 1, got {}", batch);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, lr > 0 && std::isfinite(lr), "'lr' must be positive, got {}", lr);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, eval_every >= 0, "'eval_every' must be >= 0, got {}", eval_every);
}

std::vector<std::int64_t> pair_users(const UserItems& train) {
  std::vector<std::int64_t> out(std::size_t(train.num_interactions()));
  for (std::int64_t u = 0; u < train.num_users; ++u)
    std::fill(out.begin() + train.indptr[std::size_t(u)], out.begin() + train.indptr[std::size_t(u) + 1], u);
  return out;
}

TrainResult EpochLoop::run(
    const Context& ctx,
    const std::function<double(std::span<const std::int64_t>, int, std::int64_t)>& step,
    const std::function<void(Embeddings&)>& embed,
    const std::function<void(const EpochRecord&)>& on_epoch) const {
  const auto now = [] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };
  const std::int64_t num_pairs = data.train.num_interactions();
  std::vector<std::int64_t> order(static_cast<std::size_t>(num_pairs));
  TrainResult result;
  std::vector<double> epoch_seconds;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const double t0 = now();
    std::iota(order.begin(), order.end(), 0);
    CounterRng shuffle_rng(seed, 0x5348554646ull, std::uint64_t(epoch));
    for (std::int64_t p = num_pairs - 1; p > 0; --p)
      std::swap(order[std::size_t(p)], order[shuffle_rng.below(std::uint64_t(p + 1))]);
    double loss_sum = 0;
    std::int64_t batches = 0;
    for (std::int64_t b0 = 0; b0 < num_pairs; b0 += batch, ++batches) {
      const std::int64_t n = std::min(batch, num_pairs - b0);
      loss_sum += step(std::span<const std::int64_t>(order.data() + b0, std::size_t(n)), epoch, batches);
    }
    EpochRecord rec;
    rec.epoch = epoch;
    rec.loss = loss_sum / double(std::max<std::int64_t>(batches, 1));
    rec.seconds = now() - t0;
    epoch_seconds.push_back(rec.seconds);
    if (epoch == epochs || (eval_every > 0 && epoch % eval_every == 0)) {
      embed(result.final);
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
