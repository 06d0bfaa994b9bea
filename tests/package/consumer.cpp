// A service-like program using gnnkit: the header-only part and the compiled part.
#include <gnnkit/gnnkit.hpp>

#include <cstdio>

int main() {
  const gnnkit::Context ctx = gnnkit::Context::cpu(1);
  gnnkit::Tensor a = gnnkit::Tensor::empty({2, 2}, gnnkit::DType::kFloat32);
  gnnkit::fill(ctx, a, 1.0);
  gnnkit::Tensor c = gnnkit::matmul(ctx, a, a);  // [[2, 2], [2, 2]]
  const float* p = c.data_as<float>();
  if (p[0] != 2.f || p[3] != 2.f) return 1;
  try {
    (void)gnnkit::matmul(ctx, a, gnnkit::Tensor::empty({3, 1}, gnnkit::DType::kFloat32));
    return 2;
  } catch (const gnnkit::ShapeMismatch&) {
  }
  std::printf("%s\n", gnnkit::build_info().c_str());
  return 0;
}
