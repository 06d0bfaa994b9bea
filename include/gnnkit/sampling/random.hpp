#pragma once
/// @file
/// Counter-based random numbers: a stream is a pure function of a key (base seed, batch,
/// hop, relation, node), so sampling gives the same result for any thread count and any
/// schedule, and different batches are independent.

#include <cstdint>

namespace gnnkit {

/// @brief splitmix64's finaliser: a strong 64-bit mix.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// @brief A small random stream keyed by up to four words.
class CounterRng {
 public:
  constexpr CounterRng(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0,
                       std::uint64_t d = 0) noexcept
      : state_(mix64(a ^ mix64(b ^ mix64(c ^ mix64(d))))) {}
  /// @brief Next 64 random bits (splitmix64 sequence from the keyed state).
  constexpr std::uint64_t next() noexcept {
    state_ += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// @brief Uniform integer in [0, n) (Lemire's multiply-shift; bias below 2^-32 for
  /// n < 2^32, the sizes neighbour lists have).
  constexpr std::uint64_t below(std::uint64_t n) noexcept {
    return std::uint64_t((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  /// @brief Uniform double in [0, 1).
  constexpr double uniform() noexcept { return double(next() >> 11) * 0x1.0p-53; }
  /// @brief Where the stream is: resume(state()) continues it exactly (for a stream drawn
  /// in two passes).
  constexpr std::uint64_t state() const noexcept { return state_; }
  static constexpr CounterRng resume(std::uint64_t state) noexcept {
    CounterRng rng(0);
    rng.state_ = state;
    return rng;
  }

 private:
  std::uint64_t state_;
};

}  // namespace gnnkit
