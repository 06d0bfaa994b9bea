#include "src/lightgcn.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>

#include "gnnkit/core/error.hpp"
#include "gnnkit/sampling/random.hpp"
#include "gnnkit/train/optimizer.hpp"

namespace gnnkit::recsys {
void validate(const LightGcnOptions& o) {
  constexpr const char* fn = "train_lightgcn";
  nn::validate(o.model());
  validate_loop(fn, o.epochs, o.batch, o.lr, o.eval_every);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.negatives >= 1 && o.negatives <= 1024,
                    "'negatives' must be in [1, 1024], got {}", o.negatives);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.hard_negatives >= 1 && o.hard_negatives <= 1024,
                    "'hard_negatives' must be in [1, 1024], got {}", o.hard_negatives);
}

double epoch_learning_rate(const LightGcnOptions& o, int epoch) {
  if (!o.cosine_lr) return o.lr;
  return o.lr * 0.5 * (1 + std::cos(std::numbers::pi * double(epoch - 1) / double(o.epochs)));
}

TrainResult train_lightgcn(const Context& ctx, const RecData& data, const LightGcnOptions& opt,
                              const std::function<void(const EpochRecord&)>& on_epoch) {
  validate(opt);
  const UserItems& train = data.train;
  GNNKIT_EXPECTS_AS(InvalidArgument, "train_lightgcn", train.num_interactions() > 0,
                    "dataset '{}' has no training interactions", data.name);
  const std::int64_t U = train.num_users, I = train.num_items;
  const int threads = ctx.num_threads();
  nn::LightGcn model(U, I, train.indptr, train.items, opt.model(), threads);
  Adam adam(model.parameters(), AdamOptions{.lr = opt.lr});

  const std::vector<std::int64_t> pair_user = pair_users(train);
  const std::int64_t k = opt.negatives;
  const auto mb = static_cast<std::size_t>(std::min(opt.batch, train.num_interactions()) * k);
  std::vector<std::int64_t> bu(mb), bi(mb), bj(mb);
  const std::int64_t m = opt.hard_negatives;
  std::vector<std::int64_t> candidates(m > 1 ? mb * std::size_t(m) : 0);
  const auto step = [&](std::span<const std::int64_t> pairs, int epoch, std::int64_t) {
    const std::int64_t B = std::int64_t(pairs.size()) * k;
    // Triples with m candidate negatives each; the draws of pair p come from a stream keyed by
    // (seed, epoch, p): any thread count agrees.
    std::int64_t* draws = m > 1 ? candidates.data() : bj.data();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t t = 0; t < std::int64_t(pairs.size()); ++t) {
      const std::int64_t p = pairs[std::size_t(t)];
      const std::int64_t u = pair_user[std::size_t(p)];
      CounterRng rng(opt.seed, std::uint64_t(epoch), std::uint64_t(p));
      for (std::int64_t s = 0; s < k; ++s) {
        const std::size_t slot = std::size_t(t * k + s);
        bu[slot] = u;
        bi[slot] = train.items[std::size_t(p)];
        for (std::int64_t c = 0; c < m; ++c) {
          // Rejection: a user who has every item would loop forever, so give up after 64
          // draws (the negative is then a positive: a zero-information triple, never wrong).
          std::int32_t j = 0;
          for (int tries = 0; tries < 64; ++tries) {
            j = std::int32_t(rng.below(std::uint64_t(I)));
            if (!train.contains(u, j)) break;
          }
          draws[slot * std::size_t(m) + std::size_t(c)] = j;
        }
      }
    }
    if (m > 1)
      model.hardest_negatives({bu.data(), std::size_t(B)}, {candidates.data(), std::size_t(B * m)},
                              m, {bj.data(), std::size_t(B)});
    const auto first = [&](const std::vector<std::int64_t>& v) {
      return std::span<const std::int64_t>(v.data(), std::size_t(B));
    };
    const double loss = model.loss_and_grad(ctx, first(bu), first(bi), first(bj));
    adam.set_learning_rate(epoch_learning_rate(opt, epoch));
    adam.step(ctx);
    return loss;
  };
  const auto embed = [&](Embeddings& out) {
    out.num_users = U;
    out.num_items = I;
    out.dim = opt.dim;
    model.embeddings(out.user, out.item);
  };
  return EpochLoop{data, opt.epochs, opt.batch, opt.eval_every, opt.seed}.run(ctx, step, embed, on_epoch);
}

}  // namespace gnnkit::recsys
