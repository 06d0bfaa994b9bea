// libFuzzer target: the graph-file loader must never crash, hang or read out of bounds,
// whatever the bytes; it loads or throws gnnkit::Error. Also built without libFuzzer as a
// replay runner over the seed corpus and committed crash inputs (ctest: fuzz.replay.*).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "gnnkit/io/graph_file.hpp"

namespace {
/// One in-memory file reused for every input (load_graph takes a path).
const std::string& scratch_path() {
  static const std::string path = [] {
    const int fd = memfd_create("gnnkit-fuzz", 0);
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& path = scratch_path();
  const int fd = std::stoi(path.substr(path.rfind('/') + 1));
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != ssize_t(size)) return 0;
  for (bool verify : {true, false}) {
    try {
      const gnnkit::GraphFile g = gnnkit::load_graph(path, {verify});
      // Touch what a user touches first: the schema and every relation's ends.
      for (int r = 0; r < g.graph.num_relations(); ++r) (void)g.graph.relation(r).num_edges();
      (void)g.graph.str();
    } catch (const gnnkit::Error&) {
    }
  }
  return 0;
}
