#include "gnnkit/nn/lightgcn.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "gnnkit/core/error.hpp"
#include "gnnkit/kernels/sparse.hpp"
#include "gnnkit/sampling/random.hpp"
#include "gnnkit/train/loss.hpp"

namespace gnnkit::nn {
namespace {

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

void validate(const LightGcnOptions& o) {
  constexpr const char* fn = "LightGcn";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.layers >= 0 && o.layers <= 8,
                    "'layers' must be in [0, 8], got {}", o.layers);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.dim >= 1 && o.dim <= 4096,
                    "'dim' must be in [1, 4096], got {}", o.dim);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.reg >= 0 && std::isfinite(o.reg),
                    "'reg' must be >= 0, got {}", o.reg);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.init_scale > 0 && std::isfinite(o.init_scale),
                    "'init_scale' must be positive, got {}", o.init_scale);
}

BipartiteNormAdjacency BipartiteNormAdjacency::build(std::int64_t num_users, std::int64_t num_items,
                                                     std::span<const std::int64_t> user_indptr,
                                                     std::span<const std::int32_t> items) {
  constexpr const char* fn = "BipartiteNormAdjacency::build";
  const std::int64_t U = num_users, I = num_items, N = U + I;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, U >= 0 && I >= 0 && N < std::numeric_limits<std::int32_t>::max(),
                    "users + items must be in [0, 2^31), got {} + {}", U, I);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    std::int64_t(user_indptr.size()) == U + 1 && user_indptr[0] == 0 &&
                        user_indptr[std::size_t(U)] == std::int64_t(items.size()),
                    "'user_indptr' must have num_users + 1 = {} entries from 0 to {} (the items), "
                    "got {} entries",
                    U + 1, items.size(), user_indptr.size());
  for (std::int64_t u = 0; u < U; ++u)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, user_indptr[std::size_t(u)] <= user_indptr[std::size_t(u) + 1],
                      "'user_indptr' must not decrease, got {} then {} at user {}",
                      user_indptr[std::size_t(u)], user_indptr[std::size_t(u) + 1], u);
  std::vector<std::int64_t> item_deg(std::size_t(I), 0);
  for (std::size_t e = 0; e < items.size(); ++e) {
    GNNKIT_EXPECTS_AS(OutOfRange, fn, items[e] >= 0 && items[e] < I,
                      "'items'[{}] = {} must be in [0, {})", e, items[e], I);
    ++item_deg[std::size_t(items[e])];
  }
  BipartiteNormAdjacency a;
  a.num_users = U;
  a.num_items = I;
  a.indptr.assign(std::size_t(N) + 1, 0);
  for (std::int64_t u = 0; u < U; ++u)
    a.indptr[std::size_t(u) + 1] = user_indptr[std::size_t(u) + 1] - user_indptr[std::size_t(u)];
  for (std::int64_t i = 0; i < I; ++i) a.indptr[std::size_t(U + i) + 1] = item_deg[std::size_t(i)];
  std::partial_sum(a.indptr.begin(), a.indptr.end(), a.indptr.begin());
  a.indices.resize(std::size_t(a.indptr.back()));
  a.weights.resize(a.indices.size());
  std::vector<std::int64_t> next(a.indptr.begin() + U, a.indptr.end() - 1);  // item rows
  for (std::int64_t u = 0; u < U; ++u) {
    const double du = double(user_indptr[std::size_t(u) + 1] - user_indptr[std::size_t(u)]);
    std::int64_t p = a.indptr[std::size_t(u)];
    for (std::int64_t e = user_indptr[std::size_t(u)]; e < user_indptr[std::size_t(u) + 1]; ++e) {
      const std::int32_t i = items[std::size_t(e)];
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

void BipartiteNormAdjacency::propagate(const float* x, std::int64_t dim, float* out,
                                       int threads) const {
  const CompressedView<std::int32_t> view{num_nodes(), num_nodes(), indptr.data(), indices.data(),
                                          nullptr};
  kernels::cpu::spmm_forward<float>(view, x, dim, dim, weights.data(), 1,
                                    kernels::cpu::Reduce::kSum, out, dim, nullptr, threads);
}

LightGcn::LightGcn(std::int64_t num_users, std::int64_t num_items,
                   std::span<const std::int64_t> user_indptr, std::span<const std::int32_t> items,
                   const LightGcnOptions& options, int threads)
    : users_(num_users),
      items_(num_items),
      dim_(options.dim),
      threads_(std::max(1, threads)),
      options_(options) {
  validate(options);
  // Built (and so checked) for every K: BPR-MF needs no propagation but the same inputs.
  adj_ = BipartiteNormAdjacency::build(num_users, num_items, user_indptr, items);
  if (options.layers == 0) adj_ = BipartiteNormAdjacency{};
  // Each user's items sorted, for the unseen-item test of sample_negatives.
  user_indptr_.assign(user_indptr.begin(), user_indptr.end());
  user_items_.assign(items.begin(), items.end());
  for (std::int64_t u = 0; u < num_users; ++u)
    std::sort(user_items_.begin() + user_indptr_[std::size_t(u)],
              user_items_.begin() + user_indptr_[std::size_t(u) + 1]);
  params_.add("embedding", {users_ + items_, dim_}, Init::kNormal, options.seed, DType::kFloat32,
              options.init_scale);
  const std::size_t nd = std::size_t((users_ + items_) * dim_);
  if (options.layers > 0) cur_.resize(nd), next_.resize(nd), final_.resize(nd), grad_final_.resize(nd);
}

const float* LightGcn::propagate_into(std::vector<float>& out) {
  const float* E0 = params_[0]->value.data_as<float>();
  const int K = options_.layers;
  if (K == 0) return E0;
  const std::int64_t nd = (users_ + items_) * dim_;
  out.resize(std::size_t(nd));
  const float inv_layers = 1.0f / float(K + 1);
  std::memcpy(cur_.data(), E0, std::size_t(nd) * sizeof(float));
  std::memcpy(out.data(), E0, std::size_t(nd) * sizeof(float));
  for (int k = 0; k < K; ++k) {
    adj_.propagate(cur_.data(), dim_, next_.data(), threads_);
    std::swap(cur_, next_);
    float* f = out.data();
    const float* c = cur_.data();
    const bool last = k + 1 == K;
#pragma omp parallel for simd num_threads(threads_) schedule(static)
    for (std::int64_t j = 0; j < nd; ++j) f[j] = last ? (f[j] + c[j]) * inv_layers : f[j] + c[j];
  }
  return out.data();
}

// Its own buffer: an evaluation between training steps must not change the F that the next
// hard-negative choice scores with (else the eval schedule would change the model).
const float* LightGcn::forward() { return propagate_into(view_); }

void LightGcn::hardest_negatives(std::span<const std::int64_t> users,
                                 std::span<const std::int64_t> candidates, std::int64_t per_triple,
                                 std::span<std::int64_t> chosen) {
  constexpr const char* fn = "LightGcn::hardest_negatives";
  const std::int64_t B = std::int64_t(users.size()), m = per_triple, d = dim_;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, m >= 1 && chosen.size() == users.size() &&
                                             candidates.size() % std::uint64_t(m) == 0 &&
                                             candidates.size() / std::uint64_t(m) == users.size(),
                    "needs per_triple >= 1 candidates per user and one output per user, got "
                    "{} users, {} candidates, per_triple {}, {} outputs",
                    users.size(), candidates.size(), m, chosen.size());
  for (std::size_t t = 0; t < users.size(); ++t)
    GNNKIT_EXPECTS_AS(OutOfRange, fn, users[t] >= 0 && users[t] < users_,
                      "'users'[{}] = {} must be in [0, {})", t, users[t], users_);
  for (std::size_t c = 0; c < candidates.size(); ++c)
    GNNKIT_EXPECTS_AS(OutOfRange, fn, candidates[c] >= 0 && candidates[c] < items_,
                      "'candidates'[{}] = {} must be in [0, {})", c, candidates[c], items_);
  const float* F = stepped_ || options_.layers == 0 ? final_or_e0() : propagate_into(final_);
  const float* items = F + users_ * d;
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (std::int64_t t = 0; t < B; ++t) {
    const float* fu = F + users[std::size_t(t)] * d;
    const std::int64_t* cand = candidates.data() + t * m;
    std::int64_t best = cand[0];
    float best_score = dot(fu, items + best * d, d);
    for (std::int64_t c = 1; c < m; ++c) {
      const float score = dot(fu, items + cand[c] * d, d);
      if (score > best_score) best_score = score, best = cand[c];
    }
    chosen[std::size_t(t)] = best;
  }
}

void LightGcn::sample_negatives(std::span<const std::int64_t> users,
                                std::span<const std::int64_t> keys, std::int64_t per_pair,
                                std::int64_t candidates, std::uint64_t seed, std::uint64_t stream,
                                std::span<std::int64_t> out) {
  constexpr const char* fn = "LightGcn::sample_negatives";
  const std::int64_t P = std::int64_t(users.size()), k = per_pair, m = candidates;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, k >= 1 && k <= 1024 && m >= 1 && m <= 1024,
                    "'per_pair' and 'candidates' must be in [1, 1024], got {} and {}", k, m);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    keys.size() == users.size() && out.size() == users.size() * std::size_t(k),
                    "needs one key per user and per_pair = {} outputs per user, got {} users, {} "
                    "keys, {} outputs", k, users.size(), keys.size(), out.size());
  for (std::size_t t = 0; t < users.size(); ++t)
    GNNKIT_EXPECTS_AS(OutOfRange, fn, users[t] >= 0 && users[t] < users_,
                      "'users'[{}] = {} must be in [0, {})", t, users[t], users_);
  // Candidates in the order of the stream: pair t's negative s takes draws m*s .. m*s + m-1.
  std::int64_t* draws = out.data();
  if (m > 1) {
    draws_.resize(std::size_t(P * k * m));
    draws = draws_.data();
  }
  const std::uint64_t I = std::uint64_t(items_);
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (std::int64_t t = 0; t < P; ++t) {
    const std::int64_t u = users[std::size_t(t)];
    const auto seen_begin = user_items_.begin() + user_indptr_[std::size_t(u)];
    const auto seen_end = user_items_.begin() + user_indptr_[std::size_t(u) + 1];
    CounterRng rng(seed, stream, std::uint64_t(keys[std::size_t(t)]));
    for (std::int64_t q = 0; q < k * m; ++q) {
      std::int32_t j = 0;
      for (int tries = 0; tries < 64; ++tries) {
        j = std::int32_t(rng.below(I));
        if (!std::binary_search(seen_begin, seen_end, j)) break;
      }
      draws[t * k * m + q] = j;
    }
  }
  if (m > 1) {
    std::vector<std::int64_t> triple_users(std::size_t(P * k));
    for (std::int64_t t = 0; t < P * k; ++t) triple_users[std::size_t(t)] = users[std::size_t(t / k)];
    hardest_negatives(triple_users, {draws, std::size_t(P * k * m)}, m, out);
  }
}

double LightGcn::loss_and_grad(const Context& ctx, std::span<const std::int64_t> users,
                               std::span<const std::int64_t> pos_items,
                               std::span<const std::int64_t> neg_items, double* l2_term) {
  constexpr const char* fn = "LightGcn::loss_and_grad";
  const std::int64_t B = std::int64_t(users.size()), U = users_, d = dim_;
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    B > 0 && pos_items.size() == users.size() && neg_items.size() == users.size(),
                    "needs as many positives and negatives as users (> 0), got {}, {} and {}",
                    users.size(), pos_items.size(), neg_items.size());
  for (std::size_t t = 0; t < users.size(); ++t) {
    GNNKIT_EXPECTS_AS(OutOfRange, fn, users[t] >= 0 && users[t] < U,
                      "'users'[{}] = {} must be in [0, {})", t, users[t], U);
    GNNKIT_EXPECTS_AS(OutOfRange, fn, pos_items[t] >= 0 && pos_items[t] < items_,
                      "'pos_items'[{}] = {} must be in [0, {})", t, pos_items[t], items_);
    GNNKIT_EXPECTS_AS(OutOfRange, fn, neg_items[t] >= 0 && neg_items[t] < items_,
                      "'neg_items'[{}] = {} must be in [0, {})", t, neg_items[t], items_);
  }
  const std::size_t nb = std::size_t(B);
  pos_.resize(nb), neg_.resize(nb), gpos_.resize(nb), gneg_.resize(nb);
  const float* F = propagate_into(final_);
  stepped_ = true;
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
  const int K = options_.layers;
  const std::int64_t nd = (U + items_) * d;
  float* G = K > 0 ? grad_final_.data() : G0;
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
  if (K > 0) {
    const float inv_layers = 1.0f / float(K + 1);
    std::memcpy(cur_.data(), G, std::size_t(nd) * sizeof(float));
    std::memcpy(G0, G, std::size_t(nd) * sizeof(float));
    for (int k = 0; k < K; ++k) {
      adj_.propagate(cur_.data(), d, next_.data(), threads_);
      std::swap(cur_, next_);
      const float* c = cur_.data();
      const bool last = k + 1 == K;
#pragma omp parallel for simd num_threads(threads_) schedule(static)
      for (std::int64_t q = 0; q < nd; ++q) G0[q] = last ? (G0[q] + c[q]) * inv_layers : G0[q] + c[q];
    }
  }
  // L2 on the batch's ego embeddings, per occurrence (as the LightGCN reference code).
  double l2 = 0;
  if (options_.reg > 0) {
    const float r = float(options_.reg / double(B));
    for (std::int64_t t = 0; t < B; ++t)
      for (const std::int64_t row : {users[std::size_t(t)], U + pos_items[std::size_t(t)],
                                     U + neg_items[std::size_t(t)]}) {
        l2 += double(dot(E0 + row * d, E0 + row * d, d));
        axpy(r, E0 + row * d, G0 + row * d, d);
      }
    l2 *= options_.reg / 2 / double(B);
  }
  if (l2_term) *l2_term = l2;
  return loss;
}

void LightGcn::embeddings(std::vector<float>& user, std::vector<float>& item) {
  const float* F = forward();
  user.assign(F, F + users_ * dim_);
  item.assign(F + users_ * dim_, F + (users_ + items_) * dim_);
}

}  // namespace gnnkit::nn
