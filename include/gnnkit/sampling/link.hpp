#pragma once
/// @file
/// Link sampling for link prediction and recommendation: for a batch of positive (src, dst)
/// pairs of one relation, draw k negative destinations per positive (uniformly, or by
/// in-degree^0.75 as word2vec and PinSage do), optionally never an existing edge, then sample
/// the joint neighbourhood of every endpoint in one MiniBatch. Local ids of the positives'
/// endpoints and of the negatives give BCE pairs or BPR triplets directly.

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gnnkit/sampling/neighbor.hpp"

namespace gnnkit {

/// @brief How negative destinations are drawn.
enum class NegativeSampling : std::uint8_t {
  kUniform,  ///< every destination node equally likely
  kDegree,   ///< proportional to in-degree^0.75 in the relation (popular items more often)
};

struct LinkSamplingOptions {
  std::int64_t num_negatives = 1;  ///< negatives per positive pair
  NegativeSampling negatives = NegativeSampling::kUniform;
  bool exclude_positives = false;  ///< never draw (src, neg) that is an edge of the relation
  int max_tries = 100;             ///< draws per negative before giving up (never a hang)
};

/// @brief A link-prediction batch.
struct LinkBatch {
  MiniBatch mini_batch;               ///< neighbourhoods of every src, dst and negative
  std::vector<std::int32_t> src;      ///< local id (nodes[src type]) of each positive's src
  std::vector<std::int32_t> dst;      ///< local id (nodes[dst type]) of each positive's dst
  std::vector<std::int32_t> neg_dst;  ///< [num_positives * k]: local ids of the negatives of
                                      ///< positive i at [i * k, (i + 1) * k); BPR triplets are
                                      ///< (src[i], dst[i], neg_dst[i * k + j])
  std::vector<std::int64_t> neg_dst_global;  ///< the negatives' global ids
};

class LinkSampler {
 public:
  /// @throws InvalidArgument for an unknown relation, num_negatives < 0, or a degree
  ///         distribution with no destination of positive degree
  LinkSampler(std::shared_ptr<const NeighborSampler> sampler, std::string_view relation,
              LinkSamplingOptions options)
      : sampler_(std::move(sampler)), opt_(options) {
    constexpr const char* fn = "LinkSampler";
    const HeteroGraph& g = sampler_->graph();
    relation_ = g.schema().relation_id(relation, fn, "relation");
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, opt_.num_negatives >= 0,
                      "'num_negatives' must be >= 0, got {}", opt_.num_negatives);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, opt_.max_tries >= 1, "'max_tries' must be >= 1, got {}", opt_.max_tries);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, sampler_->options().temporal == TemporalStrategy::kNone,
                      "needs a sampler without 'temporal' (link batches carry no times for their "
                      "endpoints yet)");
    const Relation& rel = g.relation(relation_);
    if (opt_.negatives == NegativeSampling::kDegree) {
      // Vose's alias table over destinations weighted by in-degree^0.75: O(1) per draw.
      const std::int64_t n = rel.num_dst;
      std::vector<double> w(static_cast<std::size_t>(n));
      double total = 0;
      for (std::int64_t v = 0; v < n; ++v) total += w[std::size_t(v)] = std::pow(double(rel.in_degree(v)), 0.75);
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, total > 0,
                        "'negatives' = degree needs destinations with in-edges; relation '{}' has none",
                        rel.type.str());
      prob_.assign(std::size_t(n), 0);
      alias_.assign(std::size_t(n), 0);
      std::vector<std::int64_t> small, large;
      for (std::int64_t v = 0; v < n; ++v) {
        w[std::size_t(v)] *= double(n) / total;
        (w[std::size_t(v)] < 1 ? small : large).push_back(v);
      }
      while (!small.empty() && !large.empty()) {
        const std::int64_t s = small.back(), l = large.back();
        small.pop_back();
        prob_[std::size_t(s)] = w[std::size_t(s)];
        alias_[std::size_t(s)] = l;
        w[std::size_t(l)] -= 1 - w[std::size_t(s)];
        if (w[std::size_t(l)] < 1) {
          large.pop_back();
          small.push_back(l);
        }
      }
      for (std::int64_t v : large) prob_[std::size_t(v)] = 1;
      for (std::int64_t v : small) prob_[std::size_t(v)] = 1;  // rounding leftovers
    }
  }

  int relation() const noexcept { return relation_; }

  /// @brief Samples one batch for positives (src[i], dst[i]) (int64 ids of the relation's
  /// source and destination types).
  /// @throws OutOfRange for ids out of range; InvalidArgument when exclusion cannot find
  ///         num_negatives negatives for a source (naming it) within max_tries draws each
  void sample_into(const Context& ctx, const TensorView& src, const TensorView& dst,
                   std::uint64_t batch, LinkBatch& out) const {
    constexpr const char* fn = "LinkSampler::sample";
    const HeteroGraph& g = sampler_->graph();
    const Relation& rel = g.relation(relation_);
    check::dtype_and_device(fn, "src", src, DType::kInt64, Device::cpu());
    check::dtype_and_device(fn, "dst", dst, DType::kInt64, Device::cpu());
    check::ndim(fn, "src", src, 1);
    check::ndim(fn, "dst", dst, 1);
    const std::int64_t p = src.size(0);
    GNNKIT_EXPECTS_AS(ShapeMismatch, fn, dst.size(0) == p,
                      "'dst' must have the length of 'src' ({}), got {}", p, dst.size(0));
    const auto* s = static_cast<const std::int64_t*>(src.data());
    const auto* d = static_cast<const std::int64_t*>(dst.data());
    const std::int64_t ss = src.stride(0), ds = dst.stride(0);
    for (std::int64_t i = 0; i < p; ++i) {
      GNNKIT_EXPECTS_AS(OutOfRange, fn, s[i * ss] >= 0 && s[i * ss] < rel.num_src,
                        "'src[{}]' must be in [0, {}) (nodes of '{}'), got {}", i, rel.num_src, rel.type.src, s[i * ss]);
      GNNKIT_EXPECTS_AS(OutOfRange, fn, d[i * ds] >= 0 && d[i * ds] < rel.num_dst,
                        "'dst[{}]' must be in [0, {}) (nodes of '{}'), got {}", i, rel.num_dst, rel.type.dst, d[i * ds]);
    }
    const std::int64_t k = opt_.num_negatives;
    // Every positive brings 2 + k endpoints, and a batch holds fewer than 2^24 (checked
    // again by the sampler): checked here before p * k can overflow or allocate.
    constexpr std::int64_t kMaxEndpoints = std::int64_t(1) << 24;
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, p == 0 || k <= (kMaxEndpoints - 2 * std::min(p, kMaxEndpoints)) / p,
                      "'num_negatives' = {} with {} positives makes more than 2^24 endpoints in one batch",
                      k, p);
    out.neg_dst_global.resize(std::size_t(p * k));
    std::int64_t failed = -1;
#pragma omp parallel for num_threads(p * k > 4096 ? ctx.num_threads() : 1) schedule(dynamic, 64)
    for (std::int64_t i = 0; i < p; ++i) {
      CounterRng rng(ctx.seed(), batch, 0x4E4547ull, std::uint64_t(i));
      for (std::int64_t j = 0; j < k; ++j) {
        std::int64_t cand = -1;
        for (int t = 0; t < opt_.max_tries; ++t) {
          cand = draw(rng, rel.num_dst);
          if (!opt_.exclude_positives || !is_edge(rel, s[i * ss], cand)) break;
          cand = -1;
        }
        // A source with few non-neighbours: rejection may keep failing by chance; a uniform
        // draw among the non-neighbours (from the sorted CSR list) is then exact.
        if (cand < 0 && prob_.empty() && rel.has_csr()) cand = uniform_non_neighbour(rng, rel, s[i * ss]);
        if (cand < 0) {
#pragma omp critical(gnnkit_link_failed)
          if (failed < 0 || i < failed) failed = i;
          cand = 0;
        }
        out.neg_dst_global[std::size_t(i * k + j)] = cand;
      }
    }
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, failed < 0,
                      "'num_negatives' = {} could not be met for src[{}] = {}: no destination "
                      "outside its {} was drawn in {} tries (too few non-neighbours?)",
                      k, failed, failed >= 0 ? s[failed * ss] : 0,
                      failed >= 0 && out_degree(rel, s[failed * ss]) >= 0
                          ? detail::format("{} neighbours (of {} destinations)", out_degree(rel, s[failed * ss]), rel.num_dst)
                          : std::string("neighbours"),
                      opt_.max_tries);
    // One sample for every endpoint: sources, then destinations and negatives.
    std::vector<std::int64_t>& dst_all = out.neg_dst_global;  // reused below as the second set
    std::vector<std::int64_t> second(std::size_t(p + p * k));
    for (std::int64_t i = 0; i < p; ++i) second[std::size_t(i)] = d[i * ds];
    std::copy(dst_all.begin(), dst_all.end(), second.begin() + p);
    const Schema& schema = g.schema();
    const int st = schema.node_type_id(rel.type.src), dt = schema.node_type_id(rel.type.dst);
    sampler_->sample_sets(ctx,
                          {NeighborSampler::SeedSet{st, s, p, ss, nullptr, 1},
                           NeighborSampler::SeedSet{dt, second.data(), std::int64_t(second.size()), 1, nullptr, 1}},
                          batch, out.mini_batch);
    const auto& local = out.mini_batch.seed_local;
    out.src.assign(local.begin(), local.begin() + p);
    out.dst.assign(local.begin() + p, local.begin() + 2 * p);
    out.neg_dst.assign(local.begin() + 2 * p, local.end());
  }

 private:
  std::int64_t draw(CounterRng& rng, std::int64_t n) const {
    if (prob_.empty()) return std::int64_t(rng.below(std::uint64_t(n)));
    const auto v = std::int64_t(rng.below(std::uint64_t(n)));
    return rng.uniform() < prob_[std::size_t(v)] ? v : alias_[std::size_t(v)];
  }

  /// Whether src -> cand is an edge: binary search in the sorted CSR list when the relation
  /// has one, else a scan of cand's in-neighbours.
  static bool is_edge(const Relation& rel, std::int64_t src, std::int64_t cand) {
    if (rel.has_csr()) {
      const auto ptr = rel.csr_indptr.as<std::int64_t>();
      const std::int64_t b = ptr[std::size_t(src)], e = ptr[std::size_t(src) + 1];
      if (rel.csr_indices.dtype() == DType::kInt32) {
        const std::int32_t* idx = rel.csr_indices.as<std::int32_t>().data();
        return std::binary_search(idx + b, idx + e, std::int32_t(cand));
      }
      const std::int64_t* idx = rel.csr_indices.as<std::int64_t>().data();
      return std::binary_search(idx + b, idx + e, cand);
    }
    const auto ptr = rel.csc_indptr.as<std::int64_t>();
    const std::int64_t b = ptr[std::size_t(cand)], e = ptr[std::size_t(cand) + 1];
    if (rel.index_dtype() == DType::kInt32) {
      const std::int32_t* idx = rel.csc_indices.as<std::int32_t>().data();
      return std::find(idx + b, idx + e, std::int32_t(src)) != idx + e;
    }
    const std::int64_t* idx = rel.csc_indices.as<std::int64_t>().data();
    return std::find(idx + b, idx + e, src) != idx + e;
  }

  /// A uniform destination that is not a neighbour of src (CSR lists are sorted; repeats
  /// of an edge count once), or -1 when every destination is one.
  static std::int64_t uniform_non_neighbour(CounterRng& rng, const Relation& rel, std::int64_t src) {
    const auto ptr = rel.csr_indptr.as<std::int64_t>();
    const std::int64_t b = ptr[std::size_t(src)], e = ptr[std::size_t(src) + 1];
    auto visit = [&](const auto* idx) -> std::int64_t {
      std::int64_t distinct = 0;
      for (std::int64_t q = b; q < e; ++q) distinct += q == b || idx[q] != idx[q - 1];
      const std::int64_t free = rel.num_dst - distinct;
      if (free <= 0) return -1;
      // The r-th non-neighbour: walk the sorted list, stepping over each neighbour <= it.
      std::int64_t cand = std::int64_t(rng.below(std::uint64_t(free)));
      for (std::int64_t q = b; q < e; ++q) {
        if (q > b && idx[q] == idx[q - 1]) continue;
        if (std::int64_t(idx[q]) <= cand) ++cand;
        else break;
      }
      return cand;
    };
    if (rel.csr_indices.dtype() == DType::kInt32) return visit(rel.csr_indices.as<std::int32_t>().data());
    return visit(rel.csr_indices.as<std::int64_t>().data());
  }

  static std::int64_t out_degree(const Relation& rel, std::int64_t src) {
    if (rel.has_csr()) {
      const auto ptr = rel.csr_indptr.as<std::int64_t>();
      return ptr[std::size_t(src) + 1] - ptr[std::size_t(src)];
    }
    return -1;  // unknown without a CSR
  }

  std::shared_ptr<const NeighborSampler> sampler_;
  LinkSamplingOptions opt_;
  int relation_ = 0;
  std::vector<double> prob_;
  std::vector<std::int64_t> alias_;
};

}  // namespace gnnkit
