// The quickstart of docs/quickstart.md as a program: a Context, tensors, one dense transform,
// and what an error looks like.
#include <gnnkit/gnnkit.hpp>

#include <cstdio>

int main() {
  std::printf("%s\n", gnnkit::build_info().c_str());
  const auto ctx = gnnkit::Context::cpu(/*num_threads=*/0, /*seed=*/42);
  auto x = gnnkit::Tensor::empty({1000, 128}, gnnkit::DType::kFloat32);  // node features
  auto w = gnnkit::Tensor::empty({128, 256}, gnnkit::DType::kFloat32);   // layer weight
  gnnkit::fill(ctx, x, 1.0);
  gnnkit::fill(ctx, w, 0.5);
  const gnnkit::Tensor h = gnnkit::matmul(ctx, x, w);
  std::printf("h = x·w: %s, h[0, 0] = %.1f (expected 64.0)\n", h.str().c_str(),
              h.data_as<float>()[0]);
  try {
    (void)gnnkit::matmul(ctx, x, x);  // [1000, 128]·[1000, 128] does not fit
  } catch (const gnnkit::Error& e) {
    std::printf("error, as expected: %s\n", e.what());
  }
  return h.data_as<float>()[0] == 64.f ? 0 : 1;
}
