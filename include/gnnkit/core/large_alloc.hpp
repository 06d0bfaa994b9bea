#pragma once
/// @file
/// Host allocation for large arrays read at random places (graphs built in memory, alias
/// tables, feature matrices). With 4 KiB pages, each random read of a multi-GB array also
/// misses the TLB and walks the page table; on Linux such arrays get their own 2 MiB aligned
/// mapping, advised onto transparent huge pages (honoured when THP is "always" or "madvise").
/// Their own mapping, not the heap: glibc serves blocks up to 32 MiB from the heap once it has
/// freed a large one, and huge-page advice there would spread to unrelated small blocks.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace gnnkit::detail {

inline constexpr std::size_t kHugePageBytes = std::size_t(2) << 20;
/// Below this an array fits a few huge pages' worth of 4 KiB TLB entries anyway.
inline constexpr std::size_t kLargeArrayBytes = 4 * kHugePageBytes;

/// Whether arrays of `bytes` get their own huge-page mapping. Not under AddressSanitizer,
/// which checks heap blocks only.
inline constexpr bool own_mapping(std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE) && !defined(__SANITIZE_ADDRESS__)
  return bytes >= kLargeArrayBytes;
#else
  (void)bytes;
  return false;
#endif
}

/// @brief `bytes` (> 0) of host memory, 64-byte aligned, or 2 MiB aligned on huge pages from
/// kLargeArrayBytes up; nullptr when out of memory. Free with free_host_bytes(p, bytes).
inline void* allocate_host_bytes(std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE) && !defined(__SANITIZE_ADDRESS__)
  if (own_mapping(bytes)) {
    // Map 2 MiB more than needed, then unmap the unaligned head and the tail.
    const std::size_t length = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    void* raw = ::mmap(nullptr, length + kHugePageBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    const auto begin = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (begin + kHugePageBytes - 1) & ~std::uintptr_t(kHugePageBytes - 1);
    if (aligned > begin) ::munmap(raw, aligned - begin);
    const std::size_t tail = begin + length + kHugePageBytes - (aligned + length);
    if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + length), tail);
    // Advice only: a kernel without THP ignores it, and the memory is usable either way.
    ::madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);
    return reinterpret_cast<void*>(aligned);
  }
#endif
  void* p = nullptr;
  if (::posix_memalign(&p, 64, bytes) != 0) return nullptr;
  return p;
}

/// @brief Frees what allocate_host_bytes(bytes) returned (null is ignored).
inline void free_host_bytes(void* p, [[maybe_unused]] std::size_t bytes) noexcept {
  if (!p) return;
#if defined(__linux__) && defined(MADV_HUGEPAGE) && !defined(__SANITIZE_ADDRESS__)
  if (own_mapping(bytes)) {
    ::munmap(p, (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes);
    return;
  }
#endif
  std::free(p);
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
    if (n == 0) return nullptr;
    void* p = allocate_host_bytes(n * sizeof(T));
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept { free_host_bytes(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const LargeArrayAllocator<U>&) const noexcept { return true; }
};

}  // namespace gnnkit::detail
