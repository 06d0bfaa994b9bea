#pragma once
// Machine calibration (BENCHMARKING.md rule 1, "B0"): the denominators every gnnkit figure is
// reported against, measured in the same run as the figure itself.
#include <omp.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gnnkit/core/large_alloc.hpp"
#include "timing.hpp"

namespace gnnkit::bench {

/// Counter-based hash (splitmix64 finaliser): random but reproducible indices without a
/// shared generator, so threads draw independently.
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct Calibration {
  int threads = 1;
  double seq_read_gbs = 0;        // streaming read, GB/s
  double random_lines_per_s = 0;  // independent random 64-byte line reads per second
  double gather_rows_per_s_256 = 0, gather_rows_per_s_512 = 0;  // random row gathers per second
  double sgemm_gflops = 0;        // filled by the caller (needs a GEMM)
};

/// A page-touched buffer of `bytes`, allocated as gnnkit allocates its large arrays (2 MiB
/// aligned, on transparent huge pages where the kernel allows): the random-line rate is then
/// the machine's, not inflated by TLB misses that gnnkit's own arrays do not take.
inline std::shared_ptr<std::uint64_t[]> big_buffer(std::size_t bytes) {
  auto* p = static_cast<std::uint64_t*>(gnnkit::detail::allocate_host_bytes(bytes));
  if (!p) {
    std::fprintf(stderr, "calibration: cannot allocate %zu bytes\n", bytes);
    std::exit(1);
  }
  const std::size_t n = bytes / 8;
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) p[i] = i;
  return std::shared_ptr<std::uint64_t[]>(p, [bytes](std::uint64_t* q) { gnnkit::detail::free_host_bytes(q, bytes); });
}

/// Memory figures with `threads` threads over a working set of `bytes` (>= 1 GiB to defeat
/// caches; BENCHMARKING.md quotes 1-4 GiB).
inline Calibration calibrate_memory(int threads, std::size_t bytes = std::size_t(1) << 30) {
  Calibration c;
  c.threads = threads;
  auto buf = big_buffer(bytes);
  const std::uint64_t* data = buf.get();
  const std::size_t words = bytes / 8, lines = bytes / 64;

  const Stats seq = time_runs([&] {
    std::uint64_t sum = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : sum) schedule(static)
    for (std::size_t i = 0; i < words; ++i) sum += data[i];
    keep(sum);
  }, 1, 5);
  c.seq_read_gbs = double(bytes) / seq.median / 1e9;

  const std::size_t reads = std::size_t(1) << 24;
  const Stats rnd = time_runs([&] {
    std::uint64_t sum = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : sum) schedule(static)
    for (std::size_t i = 0; i < reads; ++i) sum += data[(mix64(i) % lines) * 8];
    keep(sum);
  }, 1, 5);
  c.random_lines_per_s = double(reads) / rnd.median;

  for (const std::size_t row_bytes : {std::size_t(256), std::size_t(512)}) {
    const std::size_t row_words = row_bytes / 8, rows = bytes / row_bytes;
    const std::size_t gathers = std::size_t(1) << 21;
    std::vector<std::uint64_t> out(gathers * row_words);
    const Stats g = time_runs([&] {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (std::size_t i = 0; i < gathers; ++i) {
        const std::uint64_t* src = data + (mix64(i ^ 0x5bd1e995) % rows) * row_words;
        std::memcpy(out.data() + i * row_words, src, row_bytes);
      }
      keep(out[gathers / 2]);
    }, 1, 5);
    (row_bytes == 256 ? c.gather_rows_per_s_256 : c.gather_rows_per_s_512) =
        double(gathers) / g.median;
  }
  return c;
}

inline void print_calibration(const Calibration& c) {
  std::printf(
      "B0 threads=%d  seq_read=%.1f GB/s  random_lines=%.1f M/s  gather256=%.1f M rows/s  "
      "gather512=%.1f M rows/s  sgemm=%.1f GFLOP/s\n",
      c.threads, c.seq_read_gbs, c.random_lines_per_s / 1e6, c.gather_rows_per_s_256 / 1e6,
      c.gather_rows_per_s_512 / 1e6, c.sgemm_gflops);
}

}  // namespace gnnkit::bench
