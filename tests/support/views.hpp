#pragma once
// Small helpers shared by the C++ tests: views of std::vectors and whole-file reads.
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gnnkit/core/tensor_view.hpp"

namespace gnnkit::test {

/// A 1-d CPU view of a vector (the vector must outlive the view).
template <typename T>
TensorView view_of(const std::vector<T>& v) {
  const std::int64_t shape[] = {std::int64_t(v.size())};
  return TensorView(const_cast<T*>(v.data()), dtype_of<T>, Device::cpu(), shape);
}

inline std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace gnnkit::test
