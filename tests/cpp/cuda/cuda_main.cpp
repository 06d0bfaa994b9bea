// Entry point of the GPU tests: without a usable GPU they exit with 77, which ctest reports
// as Skipped (SKIP_RETURN_CODE), never as Passed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include "gnnkit/core/build_info.hpp"
#include "gnnkit/core/context.hpp"

int main(int argc, char** argv) {
  if (!gnnkit::cuda_compiled()) {
    std::puts("SKIPPED: gnnkit was built without CUDA; GPU tests not run");
    return 77;
  }
  if (gnnkit::cuda_device_count() == 0) {
    std::puts("SKIPPED: no CUDA device present; GPU tests not run");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
