#pragma once
/// @file
/// Multi-hop neighbour sampling on a HeteroGraph: uniform (exact: every k-subset equally
/// likely) or weighted, with or without replacement; temporal (each seed carries a time; only
/// edges not later than it are eligible, for every hop of its subtree; uniform or most-recent
/// strategy); disjoint subtrees; per-hop fan-outs for all relations or per relation (-1 = all
/// neighbours). Parallel over destination nodes with counter-based random numbers keyed by
/// (seed, batch, hop, relation, node): the same inputs give the same MiniBatch for any thread
/// count. Output: see mini_batch.hpp.

#include <algorithm>
#include <atomic>
#include <exception>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/large_alloc.hpp"
#include "gnnkit/core/tensor_view.hpp"
#include "gnnkit/graph/hetero_graph.hpp"
#include "gnnkit/sampling/mini_batch.hpp"
#include "gnnkit/sampling/random.hpp"

namespace gnnkit {

/// @brief Which edges a temporal sampler draws among the eligible ones.
enum class TemporalStrategy : std::uint8_t {
  kNone,        ///< not temporal
  kUniform,     ///< uniformly (or by weight) among edges not later than the node's time
  kMostRecent,  ///< the k most recent edges not later than the node's time
};

/// @brief Options of NeighborSampler.
struct SamplingOptions {
  /// Fan-out per hop for every relation (-1: all neighbours, 0: none).
  std::vector<std::int64_t> fanouts;
  /// Per relation ("src__rel__dst" or an unambiguous "rel") fan-outs per hop; relations not
  /// listed use `fanouts` (or 0 when `fanouts` is empty). Every list has the same length.
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> relation_fanouts;
  bool replace = false;   ///< draw with replacement (k draws even when the degree is smaller)
  bool weighted = false;  ///< draw proportionally to edge weights (relations need weights)
  TemporalStrategy temporal = TemporalStrategy::kNone;
  bool strict_time = false;  ///< temporal: only edges strictly earlier than the time
  bool disjoint = false;     ///< every seed gets its own subtree (required for temporal)
  /// What the sampled relations' edge_ids hold (see EdgeIdKind: kCscPosition is faster).
  EdgeIdKind edge_ids = EdgeIdKind::kInput;
};

namespace sampling_detail {
class WorkspacePool;
}

class NeighborSampler {
 public:
  /// @brief Validates the options against the graph and prepares per-relation tables
  /// (weights' prefix sums when weighted).
  /// @throws InvalidArgument naming the bad option (negative fan-outs other than -1, lists of
  ///         different lengths, unknown relations, temporal without timestamps or without
  ///         sorted neighbour lists, weighted without weights, temporal without disjoint)
  NeighborSampler(HeteroGraph graph, SamplingOptions options);

  int num_hops() const noexcept { return num_hops_; }
  /// @brief The options this sampler was built with.
  const SamplingOptions& options() const noexcept { return opt_; }
  /// @brief Scratch memory the sampler keeps between calls (relabel tables and per-hop
  /// arrays of its idle workspaces), beyond the MiniBatches it returns. It grows with the
  /// largest batch sampled, never with the size of the graph.
  std::size_t workspace_bytes() const;
  const HeteroGraph& graph() const noexcept { return graph_; }
  /// @brief Fan-out of relation r at hop h.
  std::int64_t fanout(int r, int h) const { return fanouts_.at(std::size_t(r)).at(std::size_t(h)); }

  /// @brief Samples the num_hops()-hop neighbourhood of `seeds` (int64 ids of `seed_type`).
  /// @param seed_times int64, one per seed: required for temporal sampling
  /// @param batch batch index: keys the random streams (with ctx.seed())
  /// @throws InvalidArgument / OutOfRange naming the argument and first bad index
  MiniBatch sample(const Context& ctx, std::string_view seed_type, const TensorView& seeds,
                   const std::optional<TensorView>& seed_times = std::nullopt,
                   std::uint64_t batch = 0) const {
    MiniBatch out;
    sample_into(ctx, seed_type, seeds, seed_times, batch, out);
    return out;
  }

  /// @brief Seeds of one node type for sample_sets (pointers stay valid during the call).
  struct SeedSet {
    int type = 0;
    const std::int64_t* ids = nullptr;
    std::int64_t count = 0;
    std::int64_t stride = 1;
    const std::int64_t* times = nullptr;  ///< temporal only
    std::int64_t time_stride = 1;
  };

  /// @brief Samples from seeds of several node types at once (link prediction samples the
  /// neighbourhoods of both endpoints together). Seeds must be validated by the caller;
  /// out.seed_local lists the local id of every seed, set after set; out.seed_type is the
  /// first set's type.
  void sample_sets(const Context& ctx, const std::vector<SeedSet>& sets, std::uint64_t batch,
                   MiniBatch& out) const;

  /// @brief Like sample(), writing into `out` and reusing its memory (a loader recycling
  /// MiniBatches allocates nothing in steady state). Thread-safe: concurrent calls use
  /// separate workspaces.
  void sample_into(const Context& ctx, std::string_view seed_type, const TensorView& seeds,
                   const std::optional<TensorView>& seed_times, std::uint64_t batch,
                   MiniBatch& out) const;

 private:
  HeteroGraph graph_;
  SamplingOptions opt_;
  int num_hops_ = 0;
  std::vector<std::vector<std::int64_t>> fanouts_;  // [relation][hop]
  // Weighted sampling. Temporal: prefix sums over CSC positions (eligible ranges are list
  // prefixes). Otherwise: one alias table per neighbour list (O(1) per draw).
  std::vector<std::vector<double>> weight_prefix_;          // [relation][csc position + 1]
  std::vector<std::vector<std::int64_t>> positive_prefix_;  // count of weights > 0
  /// One alias-table entry: everything a draw needs in one 16-byte slot, so a weighted draw
  /// misses the cache once, as a uniform draw does: the coin's threshold, the alias, and the
  /// source ids of both outcomes (int32-indexed relations; no read of csc_indices).
  struct AliasEntry {
    float prob = 1.f;
    std::int32_t index = 0;         ///< the alias: offset within the list
    std::int32_t source = 0;        ///< csc_indices at this position (int32 relations)
    std::int32_t alias_source = 0;  ///< csc_indices at the alias's position (int32 relations)
  };
  static_assert(sizeof(AliasEntry) == 16, "four entries per cache line, none straddling two");
  std::vector<std::vector<AliasEntry, detail::LargeArrayAllocator<AliasEntry>>> alias_;  // [relation][csc position]
  std::vector<std::vector<std::int64_t>> row_positive_;     // [relation][dst]: weights > 0
  std::vector<std::pair<std::int64_t, std::int64_t>> time_range_;  // [relation]: earliest, latest edge time
  std::shared_ptr<sampling_detail::WorkspacePool> pool_;
};

// ---- implementation ------------------------------------------------------------------------

namespace sampling_detail {

/// First guess of where time t cuts a sorted list ts[0, n) (n > 0) whose relation's times
/// span [lo, hi]: by linear interpolation, which needs no read of the list itself, and
/// which a node's history of events follows closely when its times spread like the
/// relation's. Only a guess: eligible_prefix corrects it.
inline std::int64_t time_cut_guess(std::int64_t n, std::int64_t t, std::int64_t lo, std::int64_t hi) {
  if (t < lo) return 0;
  if (t >= hi) return n - 1;
  // lo <= t < hi: the differences as unsigned words cannot overflow, and the span is at
  // least 1 even where doubles no longer tell lo from hi (nanosecond epochs near 2^61).
  const double share = double(std::uint64_t(t) - std::uint64_t(lo)) / double(std::uint64_t(hi) - std::uint64_t(lo));
  return std::clamp<std::int64_t>(std::int64_t(share * double(n - 1)), 0, n - 1);
}

/// The number of leading entries of the sorted list ts[0, n) that are not later than t
/// (earlier than t when strict): the eligible prefix of a temporal neighbour list. Gallops
/// from the guess of time_cut_guess(n, t, lo, hi), so a list whose times spread evenly
/// costs one or two cache lines instead of a binary search's log2(n) dependent misses, and
/// any other list at most about twice a binary search. Correct for any lo and hi.
inline std::int64_t eligible_prefix(const std::int64_t* ts, std::int64_t n, std::int64_t t, bool strict,
                                    std::int64_t lo = 0, std::int64_t hi = 0) {
  if (n <= 0) return 0;
  const auto before = [t, strict](std::int64_t x) { return strict ? x < t : x <= t; };
  const auto cut_in = [&](std::int64_t a, std::int64_t b) {  // the cut lies in [a, b]
    return std::int64_t(std::partition_point(ts + a, ts + b, before) - ts);
  };
  const std::int64_t g = time_cut_guess(n, t, lo, hi);
  std::int64_t step = 1;
  if (before(ts[g])) {  // [0, first) is eligible
    std::int64_t first = g + 1;
    while (first + step <= n && before(ts[first + step - 1])) {
      first += step;
      step *= 2;
    }
    return cut_in(first, std::min(n, first + step - 1));
  }
  std::int64_t last = g;  // [last, n) is not
  while (last - step >= 0 && !before(ts[last - step])) {
    last -= step;
    step *= 2;
  }
  return cut_in(std::max<std::int64_t>(0, last - step + 1), last);
}

/// (global id, subtree) -> local id, open addressing; sized by the batch, not the graph.
/// A slot is 16 bytes (four per cache line): the key packs the id (< 2^40) and the subtree
/// (< 2^24). reset() starts a new batch in O(1): slots carry the generation that wrote them,
/// so the table is never cleared.
class LocalIndex {
 public:
  static constexpr int kIdBits = 40;
  /// Empties the table for a new batch and makes room for about `expected` entries.
  void reset(std::size_t expected) {
    std::size_t cap = std::max<std::size_t>(slots_.size(), 64);
    while (cap < expected * 2) cap *= 2;
    if (cap != slots_.size()) {
      slots_.assign(cap, Slot{});
      generation_ = 0;
    }
    ++generation_;
    size_ = 0;
  }
  static std::uint64_t key(std::int64_t id, std::int32_t subtree) {
    return std::uint64_t(id) | (std::uint64_t(std::uint32_t(subtree)) << kIdBits);
  }
  std::size_t bytes() const { return slots_.capacity() * sizeof(Slot); }
  static std::int64_t id_of(std::uint64_t key) { return std::int64_t(key & ((std::uint64_t(1) << kIdBits) - 1)); }
  /// The slot hash of a key: computed once per edge, off the serial path.
  static std::uint64_t hash(std::uint64_t k) { return mix64(k); }
  /// Makes room for `more` inserts without growing (called once per row, not per edge).
  void reserve_more(std::int64_t more) {
    while (std::size_t(size_ + more) * 2 > slots_.size()) grow();
  }
  /// Starts loading the slot of a key hash: called a few inserts ahead. Always inlined, as
  /// kernels::cpu::prefetch_row (GCC deletes calls to a function that only prefetches).
  [[gnu::always_inline]] void prefetch(std::uint64_t hash) const { __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]); }
  /// Returns (local id, inserted). Room must have been reserved (reserve_more).
  std::pair<std::int32_t, bool> insert(std::uint64_t k, std::uint64_t hash, std::int32_t next) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.generation != generation_) {
        s = {k, next, generation_};
        ++size_;
        return {next, true};
      }
      if (s.key == k) return {s.local, false};
    }
  }
  std::pair<std::int32_t, bool> insert(std::uint64_t k, std::int32_t next) {
    reserve_more(1);
    return insert(k, hash(k), next);
  }

 private:
  struct Slot {
    std::uint64_t key = 0;
    std::int32_t local = -1;
    std::uint32_t generation = 0;
  };
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const std::size_t mask = slots_.size() - 1;
    const std::uint32_t gen = generation_;
    generation_ = 1;
    for (const Slot& s : old) {
      if (s.generation != gen) continue;
      std::size_t i = mix64(s.key) & mask;
      while (slots_[i].generation == 1) i = (i + 1) & mask;
      slots_[i] = {s.key, s.local, 1};
    }
  }
  std::vector<Slot> slots_;
  std::int64_t size_ = 0;
  std::uint32_t generation_ = 0;
};

/// Scratch memory of one sample() call, kept by the sampler between calls so that steady-state
/// batches allocate (and page-fault) nothing but their outputs.
struct Workspace {
  /// Bytes held (capacities, not sizes): what the sampler keeps beyond its outputs.
  std::size_t bytes() const {
    std::size_t b = 0;
    for (const LocalIndex& t : index) b += t.bytes();
    for (const auto* v : {&begin, &avail, &positions, &count, &chunk_row}) b += v->capacity() * sizeof(std::int64_t);
    b += (keys.capacity() + hashes.capacity() + row_stream.capacity()) * sizeof(std::uint64_t) + chunk_done.capacity();
    b += uniforms.capacity() * sizeof(double) + sources.capacity() * sizeof(std::int32_t);
    return b;
  }
  std::vector<LocalIndex> index;
  std::vector<std::int64_t> begin, avail, positions, count, chunk_row;
  std::vector<std::uint64_t> keys, hashes;  // per sampled edge: (id, subtree) key and its hash
  std::vector<double> uniforms;              // weighted: per draw, its alias coin (drawn ahead)
  std::vector<std::uint64_t> row_stream;     // weighted: per row, its stream after those draws
  std::vector<std::int32_t> sources;         // alias draws: each draw's source id, from its entry
  std::vector<std::uint8_t> chunk_done;     // per chunk: drawn and gathered (atomic_ref)
};

/// A lock-protected stack of reusable objects (workspaces, loader batches): taken and given
/// back once per call or batch, never in a hot loop. Keeps at most `capacity` spares.
template <typename T>
class RecyclePool {
 public:
  explicit RecyclePool(std::size_t capacity = 64) : capacity_(capacity) {}
  std::unique_ptr<T> take() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return std::make_unique<T>();
    auto item = std::move(free_.back());
    free_.pop_back();
    return item;
  }
  void give(std::unique_ptr<T> item) {
    std::lock_guard lock(mutex_);
    if (free_.size() < capacity_) free_.push_back(std::move(item));
  }
  /// Calls f(const T&) for every spare (not for those taken).
  template <typename F>
  void for_each_spare(F&& f) {
    std::lock_guard lock(mutex_);
    for (const auto& item : free_) f(*item);
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<T>> free_;
  std::size_t capacity_;
};

class WorkspacePool : public RecyclePool<Workspace> {};

/// k distinct positions of [0, n), uniformly over k-subsets: Floyd's algorithm for small k,
/// selection sampling (Knuth's algorithm S) when k is a large part of n.
template <typename Out>
void choose_uniform(CounterRng& rng, std::int64_t n, std::int64_t k, Out out) {
  if (k >= n) {
    for (std::int64_t i = 0; i < n; ++i) out(i);
    return;
  }
  if (k <= 32 && k * 4 <= n) {
    std::int64_t chosen[32];
    int m = 0;
    for (std::int64_t j = n - k; j < n; ++j) {
      std::int64_t t = std::int64_t(rng.below(std::uint64_t(j + 1)));
      for (int q = 0; q < m; ++q)
        if (chosen[q] == t) {
          t = j;
          break;
        }
      chosen[m++] = t;
      out(t);
    }
    return;
  }
  std::int64_t need = k;
  for (std::int64_t i = 0; i < n && need > 0; ++i)
    if (rng.uniform() * double(n - i) < double(need)) {
      out(i);
      --need;
    }
}

}  // namespace sampling_detail

inline std::size_t NeighborSampler::workspace_bytes() const {
  std::size_t b = 0;
  pool_->for_each_spare([&](const sampling_detail::Workspace& w) { b += w.bytes(); });
  return b;
}

inline NeighborSampler::NeighborSampler(HeteroGraph graph, SamplingOptions options)
    : graph_(std::move(graph)),
      opt_(std::move(options)),
      pool_(std::make_shared<sampling_detail::WorkspacePool>()) {
  constexpr const char* fn = "NeighborSampler";
  const Schema& schema = graph_.schema();
  const int num_rel = schema.num_relations();
  num_hops_ = int(opt_.fanouts.size());
  for (const auto& [name, list] : opt_.relation_fanouts) {
    schema.relation_id(name, fn, "relation_fanouts");  // throws for unknown relations
    if (num_hops_ == 0 && opt_.fanouts.empty()) num_hops_ = int(list.size());
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, int(list.size()) == num_hops_,
                      "'relation_fanouts[{}]' must have {} entries (one per hop), got {}", name,
                      num_hops_, list.size());
  }
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, num_hops_ > 0,
                    "'fanouts' must list at least one hop, got none");
  for (int t = 0; t < schema.num_node_types(); ++t)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, schema.num_nodes(t) < (std::int64_t(1) << sampling_detail::LocalIndex::kIdBits),
                      "node type '{}' has {} nodes; the sampler supports fewer than 2^40",
                      schema.node_type(t), schema.num_nodes(t));
  fanouts_.assign(std::size_t(num_rel), opt_.fanouts.empty() ? std::vector<std::int64_t>(std::size_t(num_hops_), 0)
                                                             : opt_.fanouts);
  for (const auto& [name, list] : opt_.relation_fanouts) fanouts_[std::size_t(schema.relation_id(name))] = list;
  for (int r = 0; r < num_rel; ++r)
    for (int h = 0; h < num_hops_; ++h) {
      const std::int64_t f = fanouts_[std::size_t(r)][std::size_t(h)];
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, f >= -1,
                        "fan-out of relation '{}' at hop {} must be >= 0 or -1 (all), got {}",
                        schema.relation(r).str(), h, f);
    }
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    !(opt_.weighted && opt_.temporal == TemporalStrategy::kMostRecent),
                    "'weighted' cannot be combined with the most-recent temporal strategy (it "
                    "takes the latest edges, not a weighted draw)");
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    !(opt_.replace && opt_.temporal == TemporalStrategy::kMostRecent),
                    "'replace' cannot be combined with the most-recent temporal strategy (it "
                    "takes the latest edges, not draws)");
  if (opt_.temporal != TemporalStrategy::kNone)
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, opt_.disjoint,
                      "'temporal' sampling needs 'disjoint' = true (each seed's subtree carries "
                      "its own time), got disjoint = false");
  weight_prefix_.resize(std::size_t(num_rel));
  positive_prefix_.resize(std::size_t(num_rel));
  alias_.resize(std::size_t(num_rel));
  row_positive_.resize(std::size_t(num_rel));
  time_range_.assign(std::size_t(num_rel), {0, 0});
  for (int r = 0; r < num_rel; ++r) {
    bool used = false;
    for (int h = 0; h < num_hops_; ++h) used = used || fanouts_[std::size_t(r)][std::size_t(h)] != 0;
    if (!used) continue;
    const Relation& rel = graph_.relation(r);
    if (opt_.temporal != TemporalStrategy::kNone) {
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel.has_timestamps(),
                        "'temporal' sampling needs timestamps on relation '{}', which has none",
                        rel.type.str());
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel.sorted_by_time,
                        "'temporal' sampling needs relation '{}' built with sort_by_time",
                        rel.type.str());
      const auto ts = rel.timestamps.as<std::int64_t>();
      std::int64_t lo = std::numeric_limits<std::int64_t>::max(), hi = std::numeric_limits<std::int64_t>::min();
#pragma omp parallel for reduction(min : lo) reduction(max : hi) schedule(static)
      for (std::int64_t e = 0; e < std::int64_t(ts.size()); ++e) {
        lo = std::min(lo, ts[std::size_t(e)]);
        hi = std::max(hi, ts[std::size_t(e)]);
      }
      time_range_[std::size_t(r)] = {lo, hi};
    }
    if (opt_.weighted) {
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, rel.has_weights(),
                        "'weighted' sampling needs weights on relation '{}', which has none",
                        rel.type.str());
      const auto w = rel.weights.as<float>();
      for (std::size_t i = 0; i < w.size(); ++i)
        GNNKIT_EXPECTS_AS(InvalidArgument, fn, w[i] >= 0,
                          "'weighted' sampling needs weights >= 0; relation '{}' has {} at CSC "
                          "position {}", rel.type.str(), w[i], i);
      if (opt_.temporal != TemporalStrategy::kNone) {
        auto& prefix = weight_prefix_[std::size_t(r)];
        auto& positive = positive_prefix_[std::size_t(r)];
        prefix.resize(w.size() + 1);
        positive.resize(w.size() + 1);
        prefix[0] = 0;
        positive[0] = 0;
        for (std::size_t i = 0; i < w.size(); ++i) {
          prefix[i + 1] = prefix[i] + double(w[i]);
          positive[i + 1] = positive[i] + (w[i] > 0);
        }
      } else {
        // Vose's alias method per neighbour list, in parallel over lists.
        auto& table = alias_[std::size_t(r)];
        auto& positive = row_positive_[std::size_t(r)];
        table.assign(w.size(), AliasEntry{});
        positive.assign(std::size_t(rel.num_dst), 0);
        const std::int64_t* ptr = rel.csc_indptr.as<std::int64_t>().data();
        const std::int32_t* idx32 = rel.index_dtype() == DType::kInt32 ? rel.csc_indices.as<std::int32_t>().data() : nullptr;
#pragma omp parallel for schedule(dynamic, 1024)
        for (std::int64_t v = 0; v < rel.num_dst; ++v) {
          const std::int64_t b = ptr[v], n = ptr[v + 1] - b;
          double total = 0;
          std::int64_t pos = 0;
          for (std::int64_t j = 0; j < n; ++j) {
            total += w[std::size_t(b + j)];
            pos += w[std::size_t(b + j)] > 0;
          }
          positive[std::size_t(v)] = pos;
          if (n == 0 || total <= 0) continue;
          std::vector<double> scaled(static_cast<std::size_t>(n));
          std::vector<std::int32_t> small, large;
          for (std::int64_t j = 0; j < n; ++j) {
            scaled[std::size_t(j)] = double(w[std::size_t(b + j)]) * double(n) / total;
            (scaled[std::size_t(j)] < 1 ? small : large).push_back(std::int32_t(j));
          }
          while (!small.empty() && !large.empty()) {
            const std::int32_t sj = small.back(), lj = large.back();
            small.pop_back();
            table[std::size_t(b + sj)] = {float(scaled[std::size_t(sj)]), lj};
            scaled[std::size_t(lj)] -= 1 - scaled[std::size_t(sj)];
            if (scaled[std::size_t(lj)] < 1) {
              large.pop_back();
              small.push_back(lj);
            }
          }
          // Leftovers (rounding) keep probability 1 and alias themselves; a zero weight
          // never ends up here because its column is always drained first.
          for (std::int32_t j : large) table[std::size_t(b + j)] = {1.f, j};
          for (std::int32_t j : small)
            table[std::size_t(b + j)] = {w[std::size_t(b + j)] > 0 ? 1.f : 0.f, large.empty() ? j : large.back()};
          if (idx32)
            for (std::int64_t j = 0; j < n; ++j) {
              AliasEntry& a = table[std::size_t(b + j)];
              a.source = idx32[b + j];
              a.alias_source = idx32[b + a.index];
            }
        }
      }
    }
  }
}

inline void NeighborSampler::sample_into(const Context& ctx, std::string_view seed_type,
                                         const TensorView& seeds,
                                         const std::optional<TensorView>& seed_times,
                                         std::uint64_t batch, MiniBatch& mb) const {
  constexpr const char* fn = "NeighborSampler::sample";
  const Schema& schema = graph_.schema();
  const int seed_t = schema.node_type_id(seed_type, fn, "seed_type");
  check::dtype_and_device(fn, "seeds", seeds, DType::kInt64, Device::cpu());
  check::ndim(fn, "seeds", seeds, 1);
  const std::int64_t num_seeds = seeds.size(0);
  const std::int64_t n_seed_type = schema.num_nodes(seed_t);
  const auto* seed_ids = static_cast<const std::int64_t*>(seeds.data());
  const std::int64_t seed_stride = seeds.stride(0);
  for (std::int64_t i = 0; i < num_seeds; ++i) {
    const std::int64_t s = seed_ids[i * seed_stride];
    GNNKIT_EXPECTS_AS(OutOfRange, fn, s >= 0 && s < n_seed_type,
                      "'seeds[{}]' must be in [0, {}) (nodes of '{}'), got {}", i, n_seed_type,
                      seed_type, s);
  }
  const bool temporal = opt_.temporal != TemporalStrategy::kNone;
  const std::int64_t* times = nullptr;
  std::int64_t time_stride = 0;
  if (temporal) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, seed_times.has_value(),
                      "'seed_times' must be given for temporal sampling");
    check::dtype_and_device(fn, "seed_times", *seed_times, DType::kInt64, Device::cpu());
    GNNKIT_EXPECTS_AS(ShapeMismatch, fn, seed_times->ndim() == 1 && seed_times->size(0) == num_seeds,
                      "'seed_times' must be int64[{}] (one per seed), got {}", num_seeds,
                      seed_times->str());
    times = static_cast<const std::int64_t*>(seed_times->data());
    time_stride = seed_times->stride(0);
  }
  sample_sets(ctx, {SeedSet{seed_t, seed_ids, num_seeds, seed_stride, times, time_stride}}, batch, mb);
}

inline void NeighborSampler::sample_sets(const Context& ctx, const std::vector<SeedSet>& sets,
                                         std::uint64_t batch, MiniBatch& mb) const {
  const Schema& schema = graph_.schema();
  const bool temporal = opt_.temporal != TemporalStrategy::kNone;
  // Local ids are int32; the relabel table packs ids in 40 bits and subtrees in 24 (link
  // batches come here directly, with all their endpoints).
  std::int64_t total_seeds = 0;
  for (const SeedSet& set : sets) total_seeds += set.count;
  GNNKIT_EXPECTS_AS(InvalidArgument, "NeighborSampler::sample", total_seeds < (std::int64_t(1) << 24),
                    "'seeds' must hold fewer than 2^24 ids in one batch, got {}", total_seeds);
  const int seed_t = sets.empty() ? 0 : sets.front().type;
  const int num_types = schema.num_node_types();
  const int num_rel = schema.num_relations();
  // Reuse out's memory: clear, never shrink.
  mb.seed_type = seed_t;
  mb.edge_id_kind = opt_.edge_ids;
  mb.nodes.resize(std::size_t(num_types));
  for (auto& v : mb.nodes) v.clear();
  mb.node_times.resize(temporal ? std::size_t(num_types) : 0);
  for (auto& v : mb.node_times) v.clear();
  mb.node_seed.resize(opt_.disjoint ? std::size_t(num_types) : 0);
  for (auto& v : mb.node_seed) v.clear();
  mb.blocks.clear();
  mb.relations.resize(std::size_t(num_rel));
  for (int r = 0; r < num_rel; ++r) {
    const EdgeType& t = schema.relation(r);
    SampledRelation& sr = mb.relations[std::size_t(r)];
    sr.indptr.assign(1, 0);
    sr.indices.clear();
    sr.edge_ids.clear();
    mb.relations[std::size_t(r)].relation = r;
    mb.relations[std::size_t(r)].src_type = schema.node_type_id(t.src);
    mb.relations[std::size_t(r)].dst_type = schema.node_type_id(t.dst);
  }
  std::unique_ptr<sampling_detail::Workspace> workspace = pool_->take();
  struct GiveBack {  // returns the workspace on every exit, exceptions included
    sampling_detail::WorkspacePool& pool;
    std::unique_ptr<sampling_detail::Workspace>& w;
    ~GiveBack() { pool.give(std::move(w)); }
  } give_back{*pool_, workspace};
  sampling_detail::Workspace& ws = *workspace;
  auto& index = ws.index;
  index.resize(std::size_t(num_types));
  for (int t = 0; t < num_types; ++t) {
    std::int64_t expected = 256;
    for (const SeedSet& set : sets)
      if (set.type == t) expected += set.count * 4;
    index[std::size_t(t)].reset(std::size_t(expected));
  }
  auto add_node = [&](int type, std::int64_t id, std::int32_t subtree, std::int64_t time) {
    auto& nodes = mb.nodes[std::size_t(type)];
    const auto [local, inserted] =
        index[std::size_t(type)].insert(sampling_detail::LocalIndex::key(id, subtree), std::int32_t(nodes.size()));
    if (inserted) {
      nodes.push_back(id);
      if (temporal) mb.node_times[std::size_t(type)].push_back(time);
      if (opt_.disjoint) mb.node_seed[std::size_t(type)].push_back(subtree);
    }
    return local;
  };
  mb.seed_local.clear();
  std::int32_t subtree = 0;  // disjoint: one subtree per seed, counted over all sets
  for (const SeedSet& set : sets)
    for (std::int64_t i = 0; i < set.count; ++i, ++subtree)
      mb.seed_local.push_back(add_node(set.type, set.ids[i * set.stride], opt_.disjoint ? subtree : 0,
                                       temporal ? set.times[i * set.time_stride] : 0));

  std::vector<std::int64_t> frontier_begin(static_cast<std::size_t>(num_types), 0);
  std::vector<std::int64_t> frontier_end(static_cast<std::size_t>(num_types), 0);
  for (int t = 0; t < num_types; ++t) frontier_end[std::size_t(t)] = mb.num_nodes(t);
  auto& count = ws.count;
  const std::uint64_t base = ctx.seed();
  constexpr std::int64_t kPrefetch = 32;
  for (int h = 0; h < num_hops_; ++h) {
    Block block;
    block.dst_begin = frontier_begin;
    block.dst_end = frontier_end;
    for (int r = 0; r < num_rel; ++r) {
      SampledRelation& out = mb.relations[std::size_t(r)];
      const Relation& rel = graph_.relation(r);
      const int dt = out.dst_type, st = out.src_type;
      const std::int64_t fb = frontier_begin[std::size_t(dt)], fe = frontier_end[std::size_t(dt)];
      const std::int64_t rows = fe - fb;
      const std::int64_t f = fanouts_[std::size_t(r)][std::size_t(h)];
      const std::int64_t first_edge = out.num_edges();
      const std::vector<std::int64_t>& dst_nodes = mb.nodes[std::size_t(dt)];
      const std::int64_t* csc_ptr = rel.csc_indptr.as<std::int64_t>().data();
      const std::int64_t* ts = rel.has_timestamps() ? rel.timestamps.as<std::int64_t>().data() : nullptr;
      const bool weighted = opt_.weighted && f != 0;
      const double* wpre = weighted && temporal ? weight_prefix_[std::size_t(r)].data() : nullptr;
      const std::int64_t* ppre = weighted && temporal ? positive_prefix_[std::size_t(r)].data() : nullptr;
      const AliasEntry* atab = weighted && !temporal ? alias_[std::size_t(r)].data() : nullptr;
      const std::int64_t* rpos = weighted && !temporal ? row_positive_[std::size_t(r)].data() : nullptr;
      const float* wraw = weighted ? rel.weights.as<float>().data() : nullptr;
      out.indptr.reserve(std::size_t(fe) + 1);
      // Phase A: the eligible range [begin, begin + n) of each row, its draw count, and the
      // row offsets. Temporal lists are sorted by time, so the eligible edges are a prefix
      // found by eligible_prefix. indptr reads are random: prefetched a few rows ahead.
      ws.begin.resize(std::size_t(rows));
      ws.avail.resize(std::size_t(rows));
      count.assign(std::size_t(rows) + 1, 0);
      const bool active = f != 0 && rel.num_edges() > 0;
      const int threads = rows * std::max<std::int64_t>(f, 1) > 8192 ? ctx.num_threads() : 1;
      const std::int64_t* time_of = temporal ? mb.node_times[std::size_t(dt)].data() : nullptr;
      // Plain variables, not a structured binding: the OpenMP region below captures them.
      const std::int64_t t_lo = temporal ? time_range_[std::size_t(r)].first : 0;
      const std::int64_t t_hi = temporal ? time_range_[std::size_t(r)].second : 0;
      if (active) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (std::int64_t i = 0; i < rows; ++i) {
          if (i + kPrefetch < rows) {
            __builtin_prefetch(csc_ptr + dst_nodes[std::size_t(fb + i + kPrefetch)]);
            if (rpos) __builtin_prefetch(rpos + dst_nodes[std::size_t(fb + i + kPrefetch)]);
          }
          if (temporal) {
            // The time filter searches each list from an interpolation guess over the
            // relation's time range (eligible_prefix): half the prefetch distance ahead, the
            // indptr entries loaded above tell where the list lies, so load the times around
            // the guess (about one line per list, against five for a binary search).
            if (i + kPrefetch / 2 < rows) {
              const std::int64_t u = dst_nodes[std::size_t(fb + i + kPrefetch / 2)];
              const std::int64_t ub = csc_ptr[u], un = csc_ptr[u + 1] - ub;
              if (un > 0)
                __builtin_prefetch(ts + ub + sampling_detail::time_cut_guess(un, time_of[fb + i + kPrefetch / 2], t_lo, t_hi));
            }
          }
          const std::int64_t v = dst_nodes[std::size_t(fb + i)];
          const std::int64_t b = csc_ptr[v];
          std::int64_t n = csc_ptr[v + 1] - b;
          if (temporal) n = sampling_detail::eligible_prefix(ts + b, n, time_of[fb + i], opt_.strict_time, t_lo, t_hi);
          ws.begin[std::size_t(i)] = b;
          ws.avail[std::size_t(i)] = n;
          // Zero-weight edges are never drawn: count the positive ones.
          if (ppre) n = ppre[b + n] - ppre[b];
          if (rpos) n = rpos[v];
          count[std::size_t(i) + 1] = f < 0 ? n : opt_.replace ? (n > 0 ? f : 0) : std::min(f, n);
        }
      }
      for (std::int64_t i = 0; i < rows; ++i) count[std::size_t(i) + 1] += count[std::size_t(i)];
      const std::int64_t sampled = count[std::size_t(rows)];
      out.edge_ids.resize(std::size_t(first_edge + sampled));
      out.indices.resize(std::size_t(first_edge + sampled));
      ws.positions.resize(std::size_t(sampled));
      ws.keys.resize(std::size_t(sampled));
      ws.hashes.resize(std::size_t(sampled));
      if (atab) {
        ws.uniforms.resize(std::size_t(sampled));
        ws.row_stream.resize(std::size_t(rows));
      }
      if (atab && rel.index_dtype() == DType::kInt32) ws.sources.resize(std::size_t(sampled));
      // The relabel (phase D) appends to the source type's node lists while other threads
      // still read the destination rows: reserve so that no append reallocates.
      mb.nodes[std::size_t(st)].reserve(mb.nodes[std::size_t(st)].size() + std::size_t(sampled));
      if (temporal) mb.node_times[std::size_t(st)].reserve(mb.node_times[std::size_t(st)].size() + std::size_t(sampled));
      if (opt_.disjoint) mb.node_seed[std::size_t(st)].reserve(mb.node_seed[std::size_t(st)].size() + std::size_t(sampled));
      const std::int64_t* dst_ids = mb.nodes[std::size_t(dt)].data() + fb;
      const std::int32_t* dst_seed = opt_.disjoint ? mb.node_seed[std::size_t(dt)].data() + fb : nullptr;
      const std::int64_t* dst_time = temporal ? mb.node_times[std::size_t(dt)].data() + fb : nullptr;
      std::int64_t* positions = ws.positions.data();
      std::uint64_t* keys = ws.keys.data();
      std::uint64_t* hashes = ws.hashes.data();
      std::int64_t* eids = out.edge_ids.data() + first_edge;
      std::int32_t* local = out.indices.data() + first_edge;
      const std::int64_t* rel_eids = rel.has_edge_ids() && opt_.edge_ids == EdgeIdKind::kInput ? rel.edge_ids.as<std::int64_t>().data() : nullptr;
      const bool narrow = rel.index_dtype() == DType::kInt32;
      const std::int32_t* idx32 = narrow ? rel.csc_indices.as<std::int32_t>().data() : nullptr;
      const std::int64_t* idx64 = narrow ? nullptr : rel.csc_indices.as<std::int64_t>().data();
      // Alias draws of an int32 relation take their source ids from the alias entries they
      // read anyway: phase C then reads no csc_indices line for them.
      std::int32_t* sources = atab && narrow ? ws.sources.data() : nullptr;
      auto& table = index[std::size_t(st)];
      auto& src_nodes = mb.nodes[std::size_t(st)];
      // Rows in chunks of about kChunkEdges draws. Each chunk is drawn (phase B) and gathered
      // (phase C) by whichever thread takes it; the relabel (phase D) must follow the order
      // (relation, row, draw) so that discovery order is the same in every run: it is serial,
      // and runs chunk after chunk on whichever thread holds it while the others draw and
      // gather later chunks. One thread: B, C, D per chunk, while the chunk is in cache.
      constexpr std::int64_t kChunkEdges = 4096;
      auto& chunk_row = ws.chunk_row;
      chunk_row.assign(1, 0);
      for (std::int64_t target = kChunkEdges; target < sampled; target += kChunkEdges) {
        const auto it = std::lower_bound(count.begin() + chunk_row.back() + 1, count.begin() + rows, target);
        const std::int64_t row = std::int64_t(it - count.begin());
        if (row > chunk_row.back() && row < rows) chunk_row.push_back(row);
      }
      chunk_row.push_back(rows);
      const std::int64_t num_chunks = std::int64_t(chunk_row.size()) - 1;
      ws.chunk_done.assign(std::size_t(num_chunks), 0);
      std::uint8_t* chunk_done = ws.chunk_done.data();
      std::atomic<std::int64_t> next_chunk{0};
      std::atomic<std::int64_t> relabelled{0};  // chunks relabelled so far
      std::atomic<bool> relabel_busy{false};
      std::atomic<bool> failed{false};
      std::exception_ptr error;
      std::mutex error_mutex;
      // Phase B: draw CSC positions of a chunk's rows (no graph memory touched for uniform
      // draws). Phase C: gather their source ids and edge ids (random reads, prefetched ahead
      // so many misses are in flight at once), key them by subtree and hash the keys.
      // The stream of a row: keyed by what identifies it in any run.
      auto row_stream = [&](std::int64_t i) {
        const std::int64_t subtree = dst_seed ? dst_seed[i] : 0;
        return CounterRng(base, batch, (std::uint64_t(h) << 32) | std::uint64_t(r),
                          std::uint64_t(dst_ids[i]) ^ (std::uint64_t(subtree) << 42));
      };
      auto draw_and_gather = [&](std::int64_t row_begin, std::int64_t row_end) {
        const std::int64_t chunk_end = count[std::size_t(row_end)];
        if (atab) {
          // Weighted draws look up alias entries at random places of long lists. Done row
          // by row, every draw waited for its entry. So first draw every row's first k
          // candidates (the stream only: positions and uniforms), then resolve them below
          // with the entries prefetched a fixed distance ahead across rows, as the gather
          // does. The streams are consumed in the same order: same draws as one pass.
          for (std::int64_t i = row_begin; i < row_end; ++i) {
            if (i + 8 < row_end) __builtin_prefetch(rpos + dst_ids[i + 8]);
            const std::int64_t q0 = count[std::size_t(i)], k = count[std::size_t(i) + 1] - q0;
            if (k == 0) continue;
            const std::int64_t b = ws.begin[std::size_t(i)], n = ws.avail[std::size_t(i)];
            if (!opt_.replace && k == rpos[dst_ids[i]]) {  // taken whole: no draws
              __builtin_prefetch(wraw + b);
              for (std::int64_t q = 0; q < k; ++q) positions[q0 + q] = b + q;
              continue;
            }
            CounterRng rng = row_stream(i);
            for (std::int64_t q = q0; q < q0 + k; ++q) {
              positions[q] = b + std::int64_t(rng.below(std::uint64_t(n)));
              ws.uniforms[std::size_t(q)] = rng.uniform();
            }
            ws.row_stream[std::size_t(i)] = rng.state();
          }
        }
        for (std::int64_t i = row_begin; i < row_end; ++i) {
          std::int64_t pos = count[std::size_t(i)];
          const std::int64_t k = count[std::size_t(i) + 1] - pos;
          if (k == 0) continue;
          const std::int64_t b = ws.begin[std::size_t(i)], n = ws.avail[std::size_t(i)];
          auto emit = [&](std::int64_t p) {
            if (sources) sources[pos] = idx32[p];
            positions[pos++] = p;
          };
          CounterRng rng = atab ? CounterRng::resume(ws.row_stream[std::size_t(i)]) : row_stream(i);
          if (f < 0 && !weighted) {
            for (std::int64_t q = 0; q < n; ++q) emit(b + q);
          } else if (opt_.temporal == TemporalStrategy::kMostRecent) {
            for (std::int64_t q = n - k; q < n; ++q) emit(b + q);
          } else if (weighted) {
            const double lo = wpre ? wpre[b] : 0, hi = wpre ? wpre[b + n] : 0;
            // A draw: its CSC position and, for alias draws, its source id (from the entry).
            struct Pick {
              std::int64_t position;
              std::int32_t source;
            };
            auto draw = [&]() -> Pick {
              if (atab) {  // alias table of the whole list: O(1)
                const auto j = std::int64_t(rng.below(std::uint64_t(n)));
                const AliasEntry& a = atab[b + j];
                return rng.uniform() < a.prob ? Pick{b + j, a.source} : Pick{b + a.index, a.alias_source};
              }
              const double u = lo + rng.uniform() * (hi - lo);
              // The first position whose cumulative weight exceeds u (zero weights skipped).
              std::int64_t p = std::int64_t(std::upper_bound(wpre + b + 1, wpre + b + n + 1, u) - wpre) - 1;
              return {std::min(p, b + n - 1), 0};
            };
            const std::int64_t positive = ppre ? ppre[b + n] - ppre[b] : rpos[dst_ids[i]];
            // The first k draws of an alias row, drawn above: resolved from their entries.
            auto candidate = [&](std::int64_t q) -> Pick {
              if (q + kPrefetch < chunk_end) __builtin_prefetch(atab + positions[q + kPrefetch]);
              const std::int64_t j = positions[q];
              const AliasEntry& a = atab[j];
              return ws.uniforms[std::size_t(q)] < a.prob ? Pick{j, a.source} : Pick{b + a.index, a.alias_source};
            };
            // Writes draw q of the batch (positions, and sources when kept).
            auto put = [&](std::int64_t q, Pick pick) {
              positions[q] = pick.position;
              if (sources) sources[q] = pick.source;
            };
            if (opt_.replace) {
              if (atab)
                for (std::int64_t q = pos; q < pos + k; ++q) put(q, candidate(q));
              else
                for (std::int64_t q = 0; q < k; ++q) emit(draw().position);
            } else if (k == positive) {
              for (std::int64_t p = b; p < b + n; ++p)
                if (wraw[p] > 0) emit(p);
            } else {
              // Successive sampling by rejection of repeats is exactly PPSWOR; after many
              // repeats (a few heavy weights) finish with Efraimidis-Spirakis keys log(u) / w
              // over the edges not yet chosen, which continues the same distribution.
              const std::int64_t* chosen = positions + pos;
              std::int64_t m = 0;
              int tries = 0;
              auto keep_new = [&](Pick pick) {
                if (std::find(chosen, chosen + m, pick.position) == chosen + m) put(pos + m++, pick);
              };
              if (atab)  // in place: draw m is written only after candidate m is read
                for (; tries < int(k); ++tries) keep_new(candidate(pos + tries));
              while (m < k && tries < 16 * int(k) + 64) {
                ++tries;
                keep_new(draw());
              }
              if (m < k) {
                std::vector<std::pair<double, std::int64_t>> keys;
                for (std::int64_t p = b; p < b + n; ++p) {
                  const double w = wraw[p];
                  if (w <= 0 || std::find(chosen, chosen + m, p) != chosen + m) continue;
                  keys.emplace_back(std::log(std::max(rng.uniform(), 1e-300)) / w, p);
                }
                const std::size_t need = std::size_t(k - m);
                std::partial_sort(keys.begin(), keys.begin() + std::ptrdiff_t(need), keys.end(),
                                  [](const auto& x, const auto& y) { return x.first > y.first; });
                for (std::size_t q = 0; q < need; ++q) {
                  const std::int64_t p = keys[q].second;
                  put(pos + m++, {p, sources ? idx32[p] : 0});
                }
              }
              pos += k;
            }
          } else if (opt_.replace) {
            for (std::int64_t q = 0; q < k; ++q) emit(b + std::int64_t(rng.below(std::uint64_t(n))));
          } else {
            sampling_detail::choose_uniform(rng, n, k, [&](std::int64_t q) { emit(b + q); });
          }
        }
        const std::int64_t e0 = count[std::size_t(row_begin)], e1 = count[std::size_t(row_end)];
        for (std::int64_t q = e0; q < std::min(e1, e0 + kPrefetch); ++q) {
          if (!sources) __builtin_prefetch(narrow ? static_cast<const void*>(idx32 + positions[q]) : static_cast<const void*>(idx64 + positions[q]));
          if (rel_eids) __builtin_prefetch(rel_eids + positions[q]);
        }
        for (std::int64_t i = row_begin; i < row_end; ++i) {
          const std::int32_t subtree = dst_seed ? dst_seed[i] : 0;
          for (std::int64_t q = count[std::size_t(i)]; q < count[std::size_t(i) + 1]; ++q) {
            if (q + kPrefetch < e1) {
              const std::int64_t ahead = positions[q + kPrefetch];
              if (!sources) __builtin_prefetch(narrow ? static_cast<const void*>(idx32 + ahead) : static_cast<const void*>(idx64 + ahead));
              if (rel_eids) __builtin_prefetch(rel_eids + ahead);
            }
            const std::int64_t p = positions[q];
            const std::int64_t source = sources ? sources[q] : narrow ? idx32[p] : idx64[p];
            const std::uint64_t k = sampling_detail::LocalIndex::key(source, subtree);
            keys[q] = k;
            hashes[q] = sampling_detail::LocalIndex::hash(k);
            eids[q] = rel_eids ? rel_eids[p] : p;
          }
        }
      };
      // Phase D for chunks [c0, c1): local ids in order; a node first reached here is
      // appended to its type's list.
      // The lists a new node appends to, looked up once (not per edge through mb).
      std::vector<std::int64_t>* const src_times = temporal ? &mb.node_times[std::size_t(st)] : nullptr;
      std::vector<std::int32_t>* const src_seeds = opt_.disjoint ? &mb.node_seed[std::size_t(st)] : nullptr;
      auto relabel = [&](std::int64_t c0, std::int64_t c1) {
        const std::int64_t row_begin = chunk_row[std::size_t(c0)], row_end = chunk_row[std::size_t(c1)];
        const std::int64_t e1 = count[std::size_t(row_end)];
        for (std::int64_t i = row_begin; i < row_end; ++i) {
          const std::int64_t q0 = count[std::size_t(i)], q1 = count[std::size_t(i) + 1];
          table.reserve_more(q1 - q0);
          const std::int32_t subtree = dst_seed ? dst_seed[i] : 0;
          const std::int64_t time = temporal ? dst_time[i] : 0;
          for (std::int64_t q = q0; q < q1; ++q) {
            if (q + kPrefetch < e1) table.prefetch(hashes[q + kPrefetch]);
            const auto [id, inserted] = table.insert(keys[q], hashes[q], std::int32_t(src_nodes.size()));
            local[q] = id;
            if (inserted) {
              src_nodes.push_back(sampling_detail::LocalIndex::id_of(keys[q]));
              if (src_times) src_times->push_back(time);
              if (src_seeds) src_seeds->push_back(subtree);
            }
          }
          out.indptr.push_back(first_edge + q1);
        }
      };
      // Relabels every chunk that is ready, in order, unless another thread is at it.
      auto relabel_ready = [&]() {
        if (relabel_busy.load(std::memory_order_relaxed) || relabel_busy.exchange(true, std::memory_order_acquire)) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
          return;
        }
        std::int64_t c = relabelled.load(std::memory_order_relaxed);
        std::int64_t e = c;
        while (e < num_chunks && std::atomic_ref<std::uint8_t>(chunk_done[e]).load(std::memory_order_acquire)) ++e;
        if (e > c) relabel(c, e);
        relabelled.store(e, std::memory_order_release);
        relabel_busy.store(false, std::memory_order_release);
      };
      const int chunk_threads = int(std::min<std::int64_t>(threads, num_chunks));
#pragma omp parallel num_threads(std::max(chunk_threads, 1))
      {
        try {
          for (std::int64_t c = next_chunk.fetch_add(1); c < num_chunks && !failed.load(std::memory_order_relaxed);
               c = next_chunk.fetch_add(1)) {
            draw_and_gather(chunk_row[std::size_t(c)], chunk_row[std::size_t(c) + 1]);
            std::atomic_ref<std::uint8_t>(chunk_done[c]).store(1, std::memory_order_release);
            relabel_ready();
          }
          // Out of chunks to draw: help finish the relabel (it ends once every chunk is in).
          while (!failed.load(std::memory_order_relaxed) && relabelled.load(std::memory_order_acquire) < num_chunks)
            relabel_ready();
        } catch (...) {
          std::lock_guard lock(error_mutex);
          if (!error) error = std::current_exception();
          failed.store(true);
        }
      }
      if (error) std::rethrow_exception(error);
      block.num_edges += sampled;
    }
    for (int t = 0; t < num_types; ++t) {
      frontier_begin[std::size_t(t)] = frontier_end[std::size_t(t)];
      frontier_end[std::size_t(t)] = mb.num_nodes(t);
    }
    block.num_src = frontier_end;
    mb.blocks.push_back(std::move(block));
  }
}

}  // namespace gnnkit
