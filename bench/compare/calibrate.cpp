// B0 machine calibration as one JSON line (BENCHMARKING.md rule 1), for bench/compare's Python
// drivers; the measurements themselves are bench/common/calibration.hpp's.
//
//   g++ -O3 -march=native -fopenmp -std=c++20 -I bench/common -o calibrate
//   bench/compare/calibrate.cpp calibrate [--threads N] [--bytes B]   (run pinned: taskset -c
//   0-(N-1))
#include <cstdio>
#include <cstdlib>
#include <string>

#include "calibration.hpp"

int main(int argc, char** argv) {
  int threads = 1;
  std::size_t bytes = std::size_t(1) << 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    if (arg == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (arg == "--bytes")
      bytes = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: calibrate [--threads N] [--bytes B]\n");
      return 2;
    }
  }
  omp_set_num_threads(threads);
  const gnnkit::bench::Calibration c = gnnkit::bench::calibrate_memory(threads, bytes);
  std::printf(
      "{\"threads\": %d, \"bytes\": %zu, \"seq_read_gbs\": %.3f, \"random_lines_per_s\": %.6g, "
      "\"gather_rows_per_s_256\": %.6g, \"gather_rows_per_s_512\": %.6g}\n",
      c.threads, bytes, c.seq_read_gbs, c.random_lines_per_s, c.gather_rows_per_s_256,
      c.gather_rows_per_s_512);
  return 0;
}
