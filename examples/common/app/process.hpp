#pragma once
/// @file
/// Process set-up shared by the example apps' batch commands.
#include <cstdlib>

#include <unistd.h>

namespace gnnkit::app {

/// GNU OpenMP reads its wait policy once, when it loads (before main): by default idle workers
/// spin for a long while before sleeping. When another job holds the cores that spinning
/// starves the thread doing the work: a training epoch that takes 2.6 s alone took 24-228 s
/// beside a 2-thread PyTorch job. The batch commands therefore re-execute themselves once
/// with a short spin (GOMP_SPINCOUNT) unless the user set a policy; if exec fails they go on.
inline void prefer_short_omp_spin(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  setenv("GOMP_SPINCOUNT", "10000", 1);
  execv("/proc/self/exe", argv);
}

}  // namespace gnnkit::app
