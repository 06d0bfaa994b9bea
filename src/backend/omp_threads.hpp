#pragma once
// Scoped OpenMP thread count for libraries that size their parallel regions from the calling
// thread's nthreads-var (oneDNN's OMP runtime, Eigen's GEMM): a Context's thread count then
// applies to them without changing the caller's setting afterwards.
#ifdef _OPENMP
#include <omp.h>
#endif

namespace gnnkit::kernels::cpu {

class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int num_threads) {
#ifdef _OPENMP
    previous_ = omp_get_max_threads();
    omp_set_num_threads(num_threads);
#else
    (void)num_threads;
#endif
  }
  ~ScopedOmpThreads() {
#ifdef _OPENMP
    omp_set_num_threads(previous_);
#endif
  }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int previous_ = 1;
};

}  // namespace gnnkit::kernels::cpu
