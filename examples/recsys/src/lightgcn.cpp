#include "src/lightgcn.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>

#include "gnnkit/core/error.hpp"
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
  const auto max_pairs = static_cast<std::size_t>(std::min(opt.batch, train.num_interactions()));
  std::vector<std::int64_t> users(max_pairs), bu(max_pairs * std::size_t(k)),
      bi(bu.size()), bj(bu.size());
  const auto step = [&](std::span<const std::int64_t> pairs, int epoch, std::int64_t) {
    const std::size_t P = pairs.size(), B = P * std::size_t(k);
    for (std::size_t t = 0; t < P; ++t) {
      const std::int64_t p = pairs[t];
      users[t] = pair_user[std::size_t(p)];
      for (std::int64_t s = 0; s < k; ++s) {
        bu[t * std::size_t(k) + std::size_t(s)] = users[t];
        bi[t * std::size_t(k) + std::size_t(s)] = train.items[std::size_t(p)];
      }
    }
    // Negatives of pair p from the stream (seed, epoch, p): any thread count agrees.
    model.sample_negatives({users.data(), P}, pairs, k, opt.hard_negatives, opt.seed,
                           std::uint64_t(epoch), {bj.data(), B});
    const auto first = [&](const std::vector<std::int64_t>& v) {
      return std::span<const std::int64_t>(v.data(), B);
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
