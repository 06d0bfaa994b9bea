#pragma once
// A read-only view of a whole file through mmap, shared by everything that points into it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "gnnkit/core/error.hpp"

namespace gnnkit::io_detail {

struct MappedFile {
  const char* data = nullptr;
  std::size_t size = 0;
  ~MappedFile() {
    if (data && size) ::munmap(const_cast<char*>(data), size);
  }
};

/// Faults in every page of [data, data + size) for reading (shared with the page cache).
inline void populate_read(const char* data, std::size_t size) {
#if defined(MADV_POPULATE_READ)
  if (::madvise(const_cast<char*>(data), size, MADV_POPULATE_READ) == 0) return;
  // Only a kernel without MADV_POPULATE_READ (before 5.14) says EINVAL. Other failures (a
  // file truncated underneath, a read error) are left to surface on access, as MAP_POPULATE
  // left them: touching here would raise SIGBUS now.
  if (errno != EINVAL) return;
#endif
  // Kernels before 5.14: touch one byte per page.
  volatile char sink = 0;
  for (std::size_t i = 0; i < size; i += 4096) sink = sink + data[i];
}

/// Refuses a path with a NUL byte: the OS would see only the part before it (Python's open()
/// raises ValueError for the same). @throws InvalidArgument naming `function`
inline void check_path(const std::string& path, const char* function) {
  const auto nul = path.find('\0');
  if (nul == std::string::npos) return;
  throw InvalidArgument(function, detail::format("path '{}\\0...' contains a NUL byte at offset {}",
                                                 path.substr(0, nul), nul));
}

/// Maps `path`. Copy-on-write private pages when `writable` (callers may modify them without
/// touching the file). @throws IoError naming `function`, the path and the OS error
inline std::shared_ptr<MappedFile> map_file(const std::string& path, const char* function,
                                            bool writable = false, bool populate = false) {
  check_path(path, function);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw IoError(function, detail::format("cannot open '{}': {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw IoError(function, detail::format("cannot stat '{}': {}", path, std::strerror(err)));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw IoError(function, detail::format("cannot open '{}': it is a directory", path));
  }
  auto mapped = std::make_shared<MappedFile>();
  mapped->size = std::size_t(st.st_size);
  if (mapped->size > 0) {
    void* p = ::mmap(nullptr, mapped->size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                     MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      mapped->size = 0;
      throw IoError(function, detail::format("cannot map '{}': {}", path, std::strerror(err)));
    }
    // Graph arrays are read at random places: huge pages (where the kernel keeps the file's
    // page cache in 2 MiB folios) spare a TLB miss per read. Advice only.
#if defined(MADV_HUGEPAGE)
    ::madvise(p, mapped->size, MADV_HUGEPAGE);
#endif
    // Populate by reading, not MAP_POPULATE: that write-faults a private writable mapping,
    // copying the whole file into private memory.
    if (populate) populate_read(static_cast<const char*>(p), mapped->size);
    mapped->data = static_cast<const char*>(p);
  }
  ::close(fd);
  return mapped;
}

}  // namespace gnnkit::io_detail
