#pragma once
// Timing helpers for gnnkit benchmarks (../shared/docs/BENCHMARKING.md): warm-up, repeated
// timed runs, median and p10/p90, so every figure is reported the same way.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

namespace gnnkit::bench {

struct Stats {
  double median = 0, p10 = 0, p90 = 0;  // seconds
};

/// Runs fn `warmup` times untimed, then `iterations` times timed.
inline Stats time_runs(const std::function<void()>& fn, int warmup = 3, int iterations = 20) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> seconds;
  seconds.reserve(iterations);
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  auto at = [&](double q) { return seconds[std::size_t(q * double(seconds.size() - 1) + 0.5)]; };
  return {at(0.5), at(0.1), at(0.9)};
}

/// Keeps a value alive so the compiler cannot drop the work that produced it.
template <typename T>
inline void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

}  // namespace gnnkit::bench
