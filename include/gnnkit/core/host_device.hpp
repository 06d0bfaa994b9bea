#pragma once
/// @file
/// GNNKIT_HOST_DEVICE marks small inline functions that the CPU code and the CUDA kernels
/// (cuda/, compiled by nvcc) share, so one formula serves both devices. Empty for host
/// compilers; no CUDA header is included.

#if defined(__CUDACC__)
#define GNNKIT_HOST_DEVICE __host__ __device__
#else
#define GNNKIT_HOST_DEVICE
#endif
