#include "src/lightgcn.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include "gnnkit/core/error.hpp"
#include "gnnkit/kernels/sparse.hpp"
#include "gnnkit/nn/parameter.hpp"
#include "gnnkit/sampling/random.hpp"
#include "gnnkit/train/loss.hpp"
#include "gnnkit/train/optimizer.hpp"

namespace gnnkit::recsys {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void validate(const LightGcnOptions& o) {
  constexpr const char* fn = "train_lightgcn";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.layers >= 0 && o.layers <= 8,
                    "'layers' must be in [0, 8], got {}", o.layers);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.dim >= 1 && o.dim <= 4096,
                    "'dim' must be in [1, 4096], got {}", o.dim);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.epochs >= 1, "'epochs' must be >= 1, got {}", o.epochs);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.batch >= 1, "'batch' must be >= 1, got {}", o.batch);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.lr > 0 && std::isfinite(o.lr),
                    "'lr' must be positive, got {}", o.lr);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.reg >= 0 && std::isfinite(o.reg),
                    "'reg' must be >= 0, got {}", o.reg);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.init_scale > 0 && std::isfinite(o.init_scale),
                    "'init_scale' must be positive, got {}", o.init_scale);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.eval_every >= 0, "'eval_every' must be >= 0, got {}",
                    o.eval_every);
}

inline float dot(const float* a, const float* b, std::int64_t d) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (std::int64_t j = 0; j < d; ++j) s += a[j] * b[j];
  return s;
}

inline void axpy(float alpha, const float* x, float* y, std::int64_t d) {
#pragma omp simd
  for (std::int64_t j = 0; j < d; ++j) y[j] += alpha * x[j];
}

}  // namespace

NormalizedAdjacency NormalizedAdjacency::build(const UserItems& train) {
  const std::int64_t U = train.num_users, I = train.num_items, N = U + I;
  GNNKIT_EXPECTS_AS(InvalidArgument, "NormalizedAdjacency::build",
                    N < std::int64_t(std::numeric_limits<std::int32_t>::max()),
                    "users + items must be below 2^31, got {}", N);
  NormalizedAdjacency a;
  a.num_nodes = N;
  const std::vector<std::int64_t> item_deg = train.item_counts();
  a.indptr.assign(std::size_t(N) + 1, 0);
  for (std::int64_t u = 0; u < U; ++u) a.indptr[std::size_t(u) + 1] = std::int64_t(train.of(u).size());
  for (std::int64_t i = 0; i < I; ++i) a.indptr[std::size_t(U + i) + 1] = item_deg[std::size_t(i)];
  std::partial_sum(a.indptr.begin(), a.indptr.end(), a.indptr.begin());
  a.indices.resize(std::size_t(a.indptr.back()));
  a.weights.resize(a.indices.size());
  std::vector<std::int64_t> next(a.indptr.begin() + U, a.indptr.end() - 1);  // item rows
  for (std::int64_t u = 0; u < U; ++u) {
    const auto list = train.of(u);
    const double du = double(list.size());
    std::int64_t p = a.indptr[std::size_t(u)];
    for (const std::int32_t i : list) {
      const float w = float(1.0 / std::sqrt(du * double(item_deg[std::size_t(i)])));
      a.indices[std::size_t(p)] = std::int32_t(U + i);
      a.weights[std::size_t(p++)] = w;
      const std::int64_t q = next[std::size_t(i)]++;  // users in increasing order: rows sorted
      a.indices[std::size_t(q)] = std::int32_t(u);
      a.weights[std::size_t(q)] = w;
    }
  }
  return a;
}

void NormalizedAdjacency::propagate(const float* x, std::int64_t dim, float* out, int threads) const {
  const CompressedView<std::int32_t> view{num_nodes, num_nodes, indptr.data(), indices.data(),
                                          nullptr};
  kernels::cpu::spmm_forward<float>(view, x, dim, dim, weights.data(), 1, kernels::cpu::Reduce::kSum,
                                    out, dim, nullptr, threads);
}

LightGcnModel::LightGcnModel(const UserItems& train, const LightGcnOptions& opt, int threads)
    : users_(train.num_users),
      items_(train.num_items),
      dim_(opt.dim),
      layers_(opt.layers),
      threads_(threads),
      reg_(opt.reg) {
  validate(opt);
  if (layers_ > 0) adj_ = NormalizedAdjacency::build(train);
  params_.add("embedding", {users_ + items_, dim_}, Init::kNormal, opt.seed, DType::kFloat32,
              opt.init_scale);
  const std::size_t nd = std::size_t((users_ + items_) * dim_);
  if (layers_ > 0) cur_.resize(nd), next_.resize(nd), final_.resize(nd), grad_final_.resize(nd);
}

const float* LightGcnModel::forward() {
  const float* E0 = params_[0]->value.data_as<float>();
  if (layers_ == 0) return E0;
  const std::int64_t nd = (users_ + items_) * dim_;
  const float inv_layers = 1.0f / float(layers_ + 1);
  std::memcpy(cur_.data(), E0, std::size_t(nd) * sizeof(float));
  std::memcpy(final_.data(), E0, std::size_t(nd) * sizeof(float));
  for (int k = 0; k < layers_; ++k) {
    adj_.propagate(cur_.data(), dim_, next_.data(), threads_);
    std::swap(cur_, next_);
    float* f = final_.data();
    const float* c = cur_.data();
    const bool last = k + 1 == layers_;
#pragma omp parallel for simd num_threads(threads_) schedule(static)
    for (std::int64_t j = 0; j < nd; ++j) f[j] = last ? (f[j] + c[j]) * inv_layers : f[j] + c[j];
  }
  return final_.data();
}

double LightGcnModel::loss_and_grad(const Context& ctx, std::span<const std::int64_t> users,
                                    std::span<const std::int64_t> pos_items,
                                    std::span<const std::int64_t> neg_items, double* l2_term) {
  const std::int64_t B = std::int64_t(users.size()), U = users_, d = dim_;
  GNNKIT_EXPECTS_AS(InvalidArgument, "LightGcnModel::loss_and_grad",
                    B > 0 && pos_items.size() == users.size() && neg_items.size() == users.size(),
                    "needs as many positives and negatives as users (> 0), got {}, {} and {}",
                    users.size(), pos_items.size(), neg_items.size());
  const std::size_t nb = std::size_t(B);
  pos_.resize(nb), neg_.resize(nb), gpos_.resize(nb), gneg_.resize(nb);
  const float* F = forward();
  const float* E0 = params_[0]->value.data_as<float>();
  float* G0 = params_[0]->grad.data_as<float>();
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (std::int64_t t = 0; t < B; ++t) {
    const float* fu = F + users[std::size_t(t)] * d;
    pos_[std::size_t(t)] = dot(fu, F + (U + pos_items[std::size_t(t)]) * d, d);
    neg_[std::size_t(t)] = dot(fu, F + (U + neg_items[std::size_t(t)]) * d, d);
  }
  const auto view1 = [&](std::vector<float>& v) {
    return TensorView(v.data(), DType::kFloat32, Device::cpu(), {B});
  };
  const double loss = bpr_loss(ctx, view1(pos_), view1(neg_), view1(gpos_), view1(gneg_));

  // dLoss/dF on the batch rows (serial: rows repeat within a batch), then back through the
  // propagation: dE0 = (G + Â G + ... + Â^K G) / (K + 1), Â being symmetric.
  const std::int64_t nd = (U + items_) * d;
  float* G = layers_ > 0 ? grad_final_.data() : G0;
  std::memset(G, 0, std::size_t(nd) * sizeof(float));
  for (std::int64_t t = 0; t < B; ++t) {
    const std::int64_t u = users[std::size_t(t)], i = U + pos_items[std::size_t(t)],
                       j = U + neg_items[std::size_t(t)];
    const float gp = gpos_[std::size_t(t)], gn = gneg_[std::size_t(t)];
    axpy(gp, F + i * d, G + u * d, d);
    axpy(gn, F + j * d, G + u * d, d);
    axpy(gp, F + u * d, G + i * d, d);
    axpy(gn, F + u * d, G + j * d, d);
  }
  if (layers_ > 0) {
    const float inv_layers = 1.0f / float(layers_ + 1);
    std::memcpy(cur_.data(), G, std::size_t(nd) * sizeof(float));
    std::memcpy(G0, G, std::size_t(nd) * sizeof(float));
    for (int k = 0; k < layers_; ++k) {
      adj_.propagate(cur_.data(), d, next_.data(), threads_);
      std::swap(cur_, next_);
      const float* c = cur_.data();
      const bool last = k + 1 == layers_;
#pragma omp parallel for simd num_threads(threads_) schedule(static)
      for (std::int64_t q = 0; q < nd; ++q) G0[q] = last ? (G0[q] + c[q]) * inv_layers : G0[q] + c[q];
    }
  }
  // L2 on the batch's ego embeddings, per occurrence (as the LightGCN reference code).
  double l2 = 0;
  if (reg_ > 0) {
    const float r = float(reg_ / double(B));
    for (std::int64_t t = 0; t < B; ++t)
      for (const std::int64_t row : {users[std::size_t(t)], U + pos_items[std::size_t(t)],
                                     U + neg_items[std::size_t(t)]}) {
        l2 += double(dot(E0 + row * d, E0 + row * d, d));
        axpy(r, E0 + row * d, G0 + row * d, d);
      }
    l2 *= reg_ / 2 / double(B);
  }
  if (l2_term) *l2_term = l2;
  return loss;
}

Embeddings LightGcnModel::embeddings() {
  const float* F = forward();
  Embeddings e;
  e.num_users = users_;
  e.num_items = items_;
  e.dim = dim_;
  e.user.assign(F, F + users_ * dim_);
  e.item.assign(F + users_ * dim_, F + (users_ + items_) * dim_);
  return e;
}

LightGcnResult train_lightgcn(const Context& ctx, const RecData& data, const LightGcnOptions& opt,
                              const std::function<void(const EpochRecord&)>& on_epoch) {
  validate(opt);
  const UserItems& train = data.train;
  GNNKIT_EXPECTS_AS(InvalidArgument, "train_lightgcn", train.num_interactions() > 0,
                    "dataset '{}' has no training interactions", data.name);
  const std::int64_t U = train.num_users, I = train.num_items;
  const int threads = ctx.num_threads();
  LightGcnModel model(train, opt, threads);
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
      result.final = model.embeddings();
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
