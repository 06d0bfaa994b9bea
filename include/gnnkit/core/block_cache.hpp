#pragma once
/// @file
/// BlockCache: freed memory blocks kept for reuse, by size class. A training step allocates
/// the same activation-sized buffers every step; fresh host blocks page-fault on first touch
/// (tens of ms per step on a 3-layer SAGE-256 batch) and fresh device blocks cost a
/// synchronising cudaMalloc. Both the host and the CUDA allocators of Tensor use one.

#include <cstddef>
#include <map>
#include <mutex>

namespace gnnkit::detail {

class BlockCache {
 public:
  /// Frees a block the cache gives up (over its limit, or in release_all).
  using Release = void (*)(void* block, std::size_t bytes, int device);

  /// @param min_cached blocks below this are not cached (size_class returns them as asked)
  /// @param limit most bytes kept; a block that would exceed it is released at once
  BlockCache(std::size_t min_cached, std::size_t limit, Release release, int device = 0)
      : min_cached_(min_cached), limit_(limit), release_(release), device_(device) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() { release_all(); }

  /// @brief The size actually allocated for a request of `bytes`: below min_cached the
  /// request itself, else the next of 2^k * {1, 1.25, 1.5, 1.75} (at most 25 % slack), so
  /// blocks of nearby sizes are interchangeable.
  static std::size_t size_class(std::size_t bytes, std::size_t min_cached) {
    if (bytes < min_cached) return bytes;
    const std::size_t octave = std::size_t(1) << (63 - __builtin_clzll(bytes));
    for (std::size_t q = 4; q <= 8; ++q)
      if (octave / 4 * q >= bytes) return octave / 4 * q;
    return octave * 2;
  }
  std::size_t size_class(std::size_t bytes) const { return size_class(bytes, min_cached_); }
  bool caches(std::size_t size) const { return size >= min_cached_; }

  /// @brief A cached block of exactly `size` (a size class), or nullptr.
  void* take(std::size_t size) {
    std::lock_guard lock(mutex_);
    auto it = free_.find(size);
    if (it == free_.end()) return nullptr;
    void* p = it->second;
    free_.erase(it);
    cached_ -= size;
    return p;
  }
  /// @brief Returns a block of `size` (its size class): kept, or released when over the limit.
  void give(void* p, std::size_t size) {
    {
      std::lock_guard lock(mutex_);
      if (size >= min_cached_ && cached_ + size <= limit_) {
        free_.emplace(size, p);
        cached_ += size;
        return;
      }
    }
    release_(p, size, device_);
  }
  /// @brief Releases every cached block (before retrying an allocation that ran out).
  /// @return the bytes released
  std::size_t release_all() {
    std::multimap<std::size_t, void*> blocks;
    {
      std::lock_guard lock(mutex_);
      blocks.swap(free_);
      cached_ = 0;
    }
    std::size_t bytes = 0;
    for (const auto& [size, p] : blocks) {
      release_(p, size, device_);
      bytes += size;
    }
    return bytes;
  }
  std::size_t cached_bytes() const {
    std::lock_guard lock(mutex_);
    return cached_;
  }

 private:
  const std::size_t min_cached_, limit_;
  const Release release_;
  const int device_;
  mutable std::mutex mutex_;
  std::multimap<std::size_t, void*> free_;
  std::size_t cached_ = 0;
};

}  // namespace gnnkit::detail
