// libFuzzer target: the edge-list CSV reader must parse or throw gnnkit::Error on any bytes,
// with every option combination the first input byte selects.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "gnnkit/io/edge_list.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("gnnkit-fuzz-csv", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data + 1, size - 1, 0) != ssize_t(size - 1)) return 0;
  gnnkit::EdgeListOptions opt;
  opt.string_keys = mode & 1;
  opt.shared_ids = mode & 2;
  opt.timestamp_column = (mode & 4) ? 2 : -1;
  opt.weight_column = (mode & 8) ? 3 : -1;
  opt.delimiter = (mode & 16) ? '\t' : ',';
  opt.header = (mode & 32) ? gnnkit::EdgeListOptions::Header::kYes : gnnkit::EdgeListOptions::Header::kAuto;
  try {
    const gnnkit::EdgeList e = gnnkit::read_edge_list(gnnkit::Context::cpu(1 + (mode >> 7)), path, opt);
    for (std::int64_t i = 0; i < e.src_keys.size(); ++i) (void)e.src_keys.key(i);
  } catch (const gnnkit::Error&) {
  }
  return 0;
}
