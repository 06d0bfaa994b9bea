#pragma once
/// @file
/// GNNKIT_ISA_CLONES: compile a hot loop three times, for x86-64-v4 (AVX-512), x86-64-v3
/// (AVX2 + FMA) and the baseline, and let the loader pick the best the CPU has (GCC's function
/// multi-versioning, which needs GCC 11+ and glibc's ifunc). A default build stays portable
/// yet runs its row loops with the widest vectors. Put it on a function or lambda that holds
/// a whole loop (one indirect call per row range, never per element). Off for other compilers
/// and platforms, under sanitizers, and with -DGNNKIT_NO_ISA_CLONES.

#if defined(__GNUC__) && !defined(__clang__) && !defined(__INTEL_COMPILER) && __GNUC__ >= 11 && \
    defined(__x86_64__) && defined(__ELF__) && defined(__GLIBC__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__) && !defined(GNNKIT_NO_ISA_CLONES)
#define GNNKIT_ISA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GNNKIT_ISA_CLONES
#endif
