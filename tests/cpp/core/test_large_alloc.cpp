#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "gnnkit/core/host_array.hpp"
#include "gnnkit/core/large_alloc.hpp"

using namespace gnnkit;

TEST_CASE("large host arrays are 2 MiB aligned (huge pages), small ones 64-byte aligned") {
  if (!detail::own_mapping(detail::kLargeArrayBytes)) {
    WARN("skipped: large arrays come from the heap on this platform / build (no huge-page mapping)");
    return;
  }
  const auto address = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p); };
  for (std::size_t bytes : {std::size_t(64), std::size_t(4096), detail::kLargeArrayBytes - 64,
                            detail::kLargeArrayBytes, detail::kLargeArrayBytes + 100}) {
    CAPTURE(bytes);
    void* p = detail::allocate_host_bytes(bytes);
    REQUIRE(p != nullptr);
    CHECK(address(p) % 64 == 0);
    if (bytes >= detail::kLargeArrayBytes) CHECK(address(p) % detail::kHugePageBytes == 0);
    std::memset(p, 0x5a, bytes);  // all of it usable
    CHECK(static_cast<unsigned char*>(p)[bytes - 1] == 0x5a);
    detail::free_host_bytes(p, bytes);
  }
  const HostArray big = HostArray::of<float>(std::int64_t(detail::kLargeArrayBytes / 4) + 3);
  CHECK(address(big.data()) % detail::kHugePageBytes == 0);
  const HostArray small = HostArray::of<float>(10);
  CHECK(address(small.data()) % 64 == 0);
  // The allocator behind large std::vector members (alias tables): values survive growth.
  std::vector<std::int64_t, detail::LargeArrayAllocator<std::int64_t>> v;
  for (std::int64_t i = 0; i < 3'000'000; ++i) v.push_back(i);
  CHECK(address(v.data()) % detail::kHugePageBytes == 0);
  CHECK(v[2'999'999] == 2'999'999);
  CHECK(v[12345] == 12345);
}
