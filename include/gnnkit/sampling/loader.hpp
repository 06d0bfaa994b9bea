#pragma once
/// @file
/// NeighborLoader: iterates seed nodes in mini-batches (shuffled per epoch, batch_size,
/// drop_last) and prepares the next batches — sampling plus feature gathering — on
/// background threads while the caller trains. Batches come out in order and are identical
/// for any number of workers or threads: batch i of epoch k is sampled with batch index
/// k * num_batches + i. Batches are recycled (their memory reused) once the caller lets go.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gnnkit/graph/feature_store.hpp"
#include "gnnkit/sampling/neighbor.hpp"

namespace gnnkit {

/// @brief Options of NeighborLoader.
struct LoaderOptions {
  std::int64_t batch_size = 1024;
  bool shuffle = true;
  bool drop_last = false;
  std::uint64_t seed = 0;      ///< keys shuffling and sampling (with the epoch)
  int prefetch = 2;            ///< batches prepared ahead of the caller
  int num_workers = 1;         ///< background threads preparing batches
  int threads_per_worker = 1;  ///< OpenMP threads inside each worker's sampling/gathering
  /// Node features gathered for every batch: (node type, feature name) pairs.
  std::vector<std::pair<std::string, std::string>> features;
};

/// @brief One prepared batch.
struct LoaderBatch {
  std::int64_t index = 0;                  ///< position in the epoch
  std::vector<std::int64_t> seeds;         ///< this batch's seed ids
  std::vector<std::int64_t> seed_times;    ///< temporal loaders
  MiniBatch mini_batch;
  /// One float32 [rows, cols] matrix per LoaderOptions::features entry, rows in the
  /// mini-batch's local order. Its buffer is reused across batches and may hold more than
  /// rows x cols values: use rows and cols, not data.size().
  std::vector<FeatureMatrix> features;
};

class NeighborLoader {
 public:
  /// @param seeds int64 ids of `seed_type` to iterate (copied)
  /// @param seed_times int64 per seed for temporal samplers (copied)
  /// @throws InvalidArgument for a bad batch size, unknown features, missing seed times;
  /// OutOfRange for a seed that is not a node of `seed_type`
  NeighborLoader(std::shared_ptr<const NeighborSampler> sampler,
                 std::shared_ptr<const FeatureStore> features, std::string seed_type,
                 std::vector<std::int64_t> seeds, std::vector<std::int64_t> seed_times,
                 LoaderOptions options)
      : sampler_(std::move(sampler)), store_(std::move(features)), seed_type_(std::move(seed_type)),
        seeds_(std::move(seeds)), seed_times_(std::move(seed_times)), opt_(std::move(options)) {
    constexpr const char* fn = "NeighborLoader";
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, opt_.batch_size > 0, "'batch_size' must be > 0, got {}", opt_.batch_size);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, opt_.num_workers >= 1, "'num_workers' must be >= 1, got {}", opt_.num_workers);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, opt_.prefetch >= 1, "'prefetch' must be >= 1, got {}", opt_.prefetch);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, seed_times_.empty() || seed_times_.size() == seeds_.size(),
                      "'seed_times' must have {} entries (one per seed), got {}", seeds_.size(), seed_times_.size());
    // Checked here, by their place in `seeds`: in a batch the place would be the shuffled one,
    // and the error would come only when that batch is drawn.
    const Schema& schema = sampler_->graph().schema();
    const std::int64_t n = schema.num_nodes(schema.node_type_id(seed_type_, fn, "seed_type"));
    for (std::size_t i = 0; i < seeds_.size(); ++i)
      GNNKIT_EXPECTS_AS(OutOfRange, fn, seeds_[i] >= 0 && seeds_[i] < n,
                        "'seeds[{}]' must be in [0, {}) (nodes of '{}'), got {}", i, n, seed_type_, seeds_[i]);
    for (const auto& [type, name] : opt_.features) {
      GNNKIT_EXPECTS_AS(InvalidArgument, fn, store_ != nullptr, "'features' requested without a feature store");
      store_->node_features(type, name);  // throws naming what exists
    }
    order_.resize(seeds_.size());
  }

  ~NeighborLoader() { stop(); }
  NeighborLoader(const NeighborLoader&) = delete;
  NeighborLoader& operator=(const NeighborLoader&) = delete;

  std::int64_t num_batches() const noexcept {
    const auto n = std::int64_t(seeds_.size());
    return opt_.drop_last ? n / opt_.batch_size : (n + opt_.batch_size - 1) / opt_.batch_size;
  }

  /// @brief Starts epoch `epoch`: reshuffles and starts preparing batches in the background.
  void start_epoch(std::uint64_t epoch) {
    stop();
    epoch_ = epoch;
    std::iota(order_.begin(), order_.end(), std::int64_t(0));
    if (opt_.shuffle) {  // Fisher-Yates with a counter-based stream keyed by (seed, epoch)
      CounterRng rng(opt_.seed, epoch, 0x5EED);
      for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.below(i)]);
    }
    next_to_hand_ = 0;
    next_to_make_ = 0;
    ready_.clear();
    stopping_ = false;
    for (int w = 0; w < opt_.num_workers; ++w) workers_.emplace_back([this] { work(); });
  }

  /// @brief The next batch in order, or nullptr at the end of the epoch. Blocks while it is
  /// being prepared. @throws whatever preparing it threw
  std::shared_ptr<const LoaderBatch> next() {
    std::unique_lock lock(mutex_);
    if (next_to_hand_ >= num_batches()) return nullptr;
    // No workers: nothing would ever wake the wait below.
    GNNKIT_EXPECTS_AS(InvalidArgument, "NeighborLoader::next", !workers_.empty(),
                      "call start_epoch() before next()");
    const std::int64_t want = next_to_hand_;
    ready_cv_.wait(lock, [&] { return error_ || has_ready(want); });
    if (error_) std::rethrow_exception(error_);
    auto it = std::find_if(ready_.begin(), ready_.end(), [&](const auto& b) { return b->index == want; });
    std::unique_ptr<LoaderBatch> batch = std::move(*it);
    ready_.erase(it);
    ++next_to_hand_;
    space_cv_.notify_all();
    // Recycled when the caller lets go: its vectors keep their capacity for a later batch.
    return std::shared_ptr<const LoaderBatch>(batch.release(), [pool = pool_](const LoaderBatch* b) {
      pool->give(std::unique_ptr<LoaderBatch>(const_cast<LoaderBatch*>(b)));
    });
  }

 private:
  using Pool = sampling_detail::RecyclePool<LoaderBatch>;

  bool has_ready(std::int64_t index) const {
    return std::any_of(ready_.begin(), ready_.end(), [&](const auto& b) { return b->index == index; });
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    space_cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    error_ = nullptr;
  }

  void work() {
    while (true) {
      std::int64_t index;
      {
        std::unique_lock lock(mutex_);
        // Stay at most `prefetch` batches ahead of the caller.
        space_cv_.wait(lock, [&] { return stopping_ || next_to_make_ >= num_batches() ||
                                          next_to_make_ < next_to_hand_ + opt_.prefetch; });
        if (stopping_ || next_to_make_ >= num_batches() || error_) return;
        index = next_to_make_++;
      }
      try {
        std::unique_ptr<LoaderBatch> batch = pool_->take();
        prepare(index, *batch);
        std::lock_guard lock(mutex_);
        ready_.push_back(std::move(batch));
      } catch (...) {
        std::lock_guard lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      ready_cv_.notify_all();
    }
  }

  void prepare(std::int64_t index, LoaderBatch& b) {
    b.index = index;
    const std::int64_t begin = index * opt_.batch_size;
    const std::int64_t end = std::min<std::int64_t>(begin + opt_.batch_size, std::int64_t(seeds_.size()));
    b.seeds.clear();
    b.seed_times.clear();
    for (std::int64_t i = begin; i < end; ++i) {
      b.seeds.push_back(seeds_[std::size_t(order_[std::size_t(i)])]);
      if (!seed_times_.empty()) b.seed_times.push_back(seed_times_[std::size_t(order_[std::size_t(i)])]);
    }
    const Context ctx = Context::cpu(opt_.threads_per_worker, opt_.seed);
    const std::int64_t shape[] = {std::int64_t(b.seeds.size())};
    const TensorView seeds(b.seeds.data(), DType::kInt64, Device::cpu(), shape);
    std::optional<TensorView> times;
    if (!b.seed_times.empty()) times = TensorView(b.seed_times.data(), DType::kInt64, Device::cpu(), shape);
    sampler_->sample_into(ctx, seed_type_, seeds, times, epoch_ * std::uint64_t(num_batches()) + std::uint64_t(index),
                          b.mini_batch);
    b.features.resize(opt_.features.size());
    const Schema& schema = sampler_->graph().schema();
    for (std::size_t f = 0; f < opt_.features.size(); ++f) {
      const auto& [type, name] = opt_.features[f];
      const FeatureMatrix& src = store_->node_features(type, name);
      const auto& nodes = b.mini_batch.nodes[std::size_t(schema.node_type_id(type))];
      FeatureMatrix& out = b.features[f];
      const std::int64_t rows = std::int64_t(nodes.size());
      if (!out.data.defined() || out.data.size() < rows * src.cols)
        out.data = HostArray::of<float>(std::max<std::int64_t>(rows * src.cols * 5 / 4, 64));
      out.rows = rows;
      out.cols = src.cols;
      const std::int64_t id_shape[] = {rows};
      const std::int64_t out_shape[] = {rows, src.cols};
      store_->gather(ctx, {FeatureStore::Kind::kNodeFeatures, type, name},
                     TensorView(const_cast<std::int64_t*>(nodes.data()), DType::kInt64, Device::cpu(), id_shape),
                     TensorView(out.data.data(), DType::kFloat32, Device::cpu(), out_shape));
    }
  }

  std::shared_ptr<const NeighborSampler> sampler_;
  std::shared_ptr<const FeatureStore> store_;
  std::string seed_type_;
  std::vector<std::int64_t> seeds_, seed_times_, order_;
  LoaderOptions opt_;
  std::uint64_t epoch_ = 0;
  std::shared_ptr<Pool> pool_ = std::make_shared<Pool>(16);

  std::mutex mutex_;
  std::condition_variable ready_cv_, space_cv_;
  std::deque<std::unique_ptr<LoaderBatch>> ready_;
  std::vector<std::thread> workers_;
  std::int64_t next_to_hand_ = 0, next_to_make_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace gnnkit
