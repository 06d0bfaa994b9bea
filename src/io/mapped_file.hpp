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

/// Maps `path`. Copy-on-write private pages when `writable` (callers may modify them without
/// touching the file). @throws IoError naming `function`, the path and the OS error
inline std::shared_ptr<MappedFile> map_file(const std::string& path, const char* function,
                                            bool writable = false, bool populate = false) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw IoError(function, detail::format("cannot open '{}': {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw IoError(function, detail::format("cannot stat '{}': {}", path, std::strerror(err)));
  }
  auto mapped = std::make_shared<MappedFile>();
  mapped->size = std::size_t(st.st_size);
  if (mapped->size > 0) {
    void* p = ::mmap(nullptr, mapped->size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                     MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      mapped->size = 0;
      throw IoError(function, detail::format("cannot map '{}': {}", path, std::strerror(err)));
    }
    mapped->data = static_cast<const char*>(p);
  }
  ::close(fd);
  return mapped;
}

}  // namespace gnnkit::io_detail
