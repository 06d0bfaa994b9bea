#pragma once
/// @file
/// Host allocation for large arrays read at random places (graphs built in memory, alias
/// tables, feature matrices). With 4 KiB pages, each random read of a multi-GB array also
/// misses the TLB and walks the page table; on Linux such arrays are 2 MiB aligned and
/// advised onto transparent huge pages (honoured when THP is "always" or "madvise").

#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace gnnkit::detail {

inline constexpr std::size_t kHugePageBytes = std::size_t(2) << 20;
/// Below this an array fits a few huge pages' worth of 4 KiB TLB entries anyway.
inline constexpr std::size_t kLargeArrayBytes = 4 * kHugePageBytes;

/// @brief `bytes` (> 0) of host memory, 64-byte aligned, or 2 MiB aligned and advised for
/// huge pages from kLargeArrayBytes up; nullptr when out of memory. Free with std::free.
inline void* allocate_host_bytes(std::size_t bytes) {
  const std::size_t align = bytes >= kLargeArrayBytes ? kHugePageBytes : 64;
  void* p = nullptr;
  if (::posix_memalign(&p, align, bytes) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Advice only: a kernel without THP ignores it, and the memory is usable either way.
  if (align == kHugePageBytes) ::madvise(p, bytes / kHugePageBytes * kHugePageBytes, MADV_HUGEPAGE);
#endif
  return p;
}

/// @brief std::allocator replacement for std::vector members that are large and read at
/// random (allocate_host_bytes behind it).
template <typename T>
struct LargeArrayAllocator {
  using value_type = T;
  LargeArrayAllocator() = default;
  template <typename U>
  LargeArrayAllocator(const LargeArrayAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    void* p = n == 0 ? nullptr : allocate_host_bytes(n * sizeof(T));
    if (n != 0 && !p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  template <typename U>
  bool operator==(const LargeArrayAllocator<U>&) const noexcept { return true; }
};

}  // namespace gnnkit::detail
