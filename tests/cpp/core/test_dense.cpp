#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "gnnkit/build_config.hpp"
#include "gnnkit/gnnkit.hpp"
#include "support/reference.hpp"

using namespace gnnkit;

namespace {

template <typename T>
Tensor tensor_from(const std::vector<T>& values, std::initializer_list<std::int64_t> shape) {
  Tensor t = Tensor::empty(shape, dtype_of<T>);
  std::memcpy(t.data(), values.data(), values.size() * sizeof(T));
  return t;
}

template <typename T>
double max_abs_diff(const Tensor& got, const std::vector<T>& expected) {
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i)
    worst = std::max(worst, std::abs(double(got.data_as<T>()[i]) - double(expected[i])));
  return worst;
}

using Kernel = void (*)(const Context&, const TensorView&, const TensorView&,
                        const std::optional<TensorView>&, const TensorView&);

}  // namespace

TEST_CASE("matmul matches a naive loop for odd shapes, with and without bias") {
  const Context ctx = Context::cpu(2);
  struct Shape {
    std::int64_t m, k, n;
  };
  const Shape shapes[] = {{1, 1, 1}, {7, 13, 5}, {1000, 128, 256}, {3, 1, 9}};
  for (const auto [m, k, n] : shapes) {
    for (bool with_bias : {false, true}) {
      CAPTURE(m, k, n, with_bias);
      const auto a = test::random_matrix(m, k, 1), b = test::random_matrix(k, n, 2);
      const auto bias = test::random_matrix(1, n, 3);
      const auto expected = test::naive_matmul(a, b, with_bias ? &bias : nullptr, m, k, n);
      const Tensor ta = tensor_from(a, {m, k}), tb = tensor_from(b, {k, n});
      const Tensor tbias = tensor_from(bias, {n});
      std::optional<TensorView> bias_arg;
      if (with_bias) bias_arg = tbias.view();
      // The front-end, then each CPU kernel this build has.
      CHECK(max_abs_diff(matmul(ctx, ta, tb, bias_arg), expected) < 1e-4);
      std::vector<Kernel> kernels{&kernels::cpu::matmul_eigen};
      if (GNNKIT_WITH_ONEDNN) kernels.push_back(&kernels::cpu::matmul_onednn);
      for (Kernel kernel : kernels) {
        Tensor out = Tensor::empty({m, n}, DType::kFloat32);
        kernel(ctx, ta, tb, bias_arg, out);
        CHECK(max_abs_diff(out, expected) < 1e-4);
      }
    }
  }
}

TEST_CASE("matmul in float64 and through transposed (strided) views") {
  const Context ctx = Context::cpu(1);
  const std::int64_t m = 6, k = 4, n = 3;
  const auto a = test::random_matrix<double>(m, k, 5), b = test::random_matrix<double>(k, n, 6);
  const auto expected =
      test::naive_matmul(a, b, static_cast<const std::vector<double>*>(nullptr), m, k, n);
  CHECK(max_abs_diff(matmul(ctx, tensor_from(a, {m, k}), tensor_from(b, {k, n})), expected) <
        1e-12);
  // Store a^T contiguously and view it back as a [m, k] matrix with strides {1, m}.
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    Tensor at = Tensor::empty({k, m}, dt), bt = Tensor::empty({k, n}, dt);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t p = 0; p < k; ++p) {
        if (dt == DType::kFloat32) at.data_as<float>()[p * m + i] = float(a[i * k + p]);
        else at.data_as<double>()[p * m + i] = a[i * k + p];
      }
    for (std::int64_t p = 0; p < k * n; ++p) {
      if (dt == DType::kFloat32) bt.data_as<float>()[p] = float(b[p]);
      else bt.data_as<double>()[p] = b[p];
    }
    const std::int64_t shape[] = {m, k}, strides[] = {1, m};
    Tensor c = matmul(ctx, TensorView(at.data(), dt, Device::cpu(), shape, strides), bt);
    for (std::int64_t i = 0; i < m * n; ++i) {
      const double got = dt == DType::kFloat32 ? c.data_as<float>()[i] : c.data_as<double>()[i];
      CHECK(std::abs(got - expected[i]) < 1e-5);
    }
  }
}

TEST_CASE("matmul builds no primitive for BLAS layouts, one per shape for others") {
  // Sampled batches change the row count every step: row- and column-major operands go to
  // sgemm, so no per-shape state accumulates.
  const Context ctx = Context::cpu(2);
  const Tensor b = Tensor::zeros({16, 4}, DType::kFloat32);
  for (std::int64_t rows = 1; rows < 40; ++rows) (void)matmul(ctx, Tensor::zeros({rows, 16}, DType::kFloat32), b);
  CHECK(kernels::cpu::onednn_cached_primitives(ctx) == 0u);
  // Every other column of a wider matrix: no unit stride, so a (cached) primitive runs.
  Tensor wide = Tensor::zeros({8, 32}, DType::kFloat32);
  const std::int64_t shape[] = {8, 16}, strides[] = {32, 2};
  const TensorView strided(wide.data(), DType::kFloat32, Device::cpu(), shape, strides);
  for (std::int64_t i = 0; i < wide.numel(); ++i) wide.data_as<float>()[i] = float(i % 7) - 3.0f;
  Tensor b2 = Tensor::empty({16, 4}, DType::kFloat32);
  for (std::int64_t i = 0; i < b2.numel(); ++i) b2.data_as<float>()[i] = float(i % 5) - 2.0f;
  Tensor c;
  for (int i = 0; i < 3; ++i) c = matmul(ctx, strided, b2);
  CHECK(kernels::cpu::onednn_cached_primitives(ctx) == (GNNKIT_WITH_ONEDNN ? 1u : 0u));
  for (std::int64_t i = 0; i < 8; ++i)
    for (std::int64_t j = 0; j < 4; ++j) {
      double expected = 0;
      for (std::int64_t p = 0; p < 16; ++p)
        expected += double(wide.data_as<float>()[i * 32 + 2 * p]) * b2.data_as<float>()[p * 4 + j];
      CHECK(c.data_as<float>()[i * 4 + j] == Approx(expected));
    }
  CHECK(std::string(dense_backend_name()) == (GNNKIT_WITH_ONEDNN ? "onednn" : "eigen"));
}

TEST_CASE("matmul with empty dimensions") {
  const Context ctx = Context::cpu(1);
  Tensor a = Tensor::zeros({3, 0}, DType::kFloat32), b = Tensor::zeros({0, 2}, DType::kFloat32);
  Tensor bias = Tensor::empty({2}, DType::kFloat32);
  bias.data_as<float>()[0] = 1.5f;
  bias.data_as<float>()[1] = -2.f;
  Tensor c = matmul(ctx, a, b, bias.view());
  for (int i = 0; i < 3; ++i) {
    CHECK(c.data_as<float>()[i * 2] == 1.5f);
    CHECK(c.data_as<float>()[i * 2 + 1] == -2.f);
  }
  CHECK(matmul(ctx, Tensor::zeros({0, 4}, DType::kFloat32), Tensor::zeros({4, 2}, DType::kFloat32))
            .numel() == 0);
}

TEST_CASE("matmul rejects wrong dtype, device, shape, null and overlapping output") {
  const Context ctx = Context::cpu(1);
  const Tensor a = Tensor::zeros({4, 3}, DType::kFloat32), b = Tensor::zeros({3, 2}, DType::kFloat32);
  const Tensor ai = Tensor::zeros({4, 3}, DType::kInt32);
  CHECK_THROWS_WITH(matmul(ctx, ai, b), "matmul: 'a' must be float32 or float64, got int32");
  CHECK_THROWS_WITH(matmul(ctx, a, Tensor::zeros({3, 2}, DType::kFloat64)),
                    "matmul: 'b' must be float32 on cpu, got float64 on cpu");
  CHECK_THROWS_AS(matmul(ctx, a, Tensor::zeros({3, 2}, DType::kFloat64)), InvalidArgument);
  CHECK_THROWS_WITH(matmul(ctx, a, Tensor::zeros({4, 2}, DType::kFloat32)),
                    "matmul: 'b' must have 3 rows (the columns of 'a' float32[4, 3] on cpu), got "
                    "float32[4, 2] on cpu");
  CHECK_THROWS_AS(matmul(ctx, a, Tensor::zeros({4, 2}, DType::kFloat32)), ShapeMismatch);
  CHECK_THROWS_WITH(matmul(ctx, a, Tensor::zeros({3}, DType::kFloat32)),
                    "matmul: 'b' must be 2-d, got 1-d shape float32[3] on cpu");
  CHECK_THROWS_WITH(matmul(ctx, a, b, Tensor::zeros({3}, DType::kFloat32).view()),
                    "matmul: 'bias' must be [2] or [1, 2], got float32[3] on cpu");
  float dummy = 0;
  const TensorView on_gpu(&dummy, DType::kFloat32, Device::cuda(0), {1, 1});
  CHECK_THROWS_WITH(matmul(ctx, on_gpu, Tensor::zeros({1, 1}, DType::kFloat32)),
                    "matmul: 'a' must be float32 on cpu, got float32 on cuda:0");
  CHECK_THROWS_AS(matmul(ctx, on_gpu, Tensor::zeros({1, 1}, DType::kFloat32)), DeviceMismatch);
  CHECK_THROWS_AS(matmul(ctx, TensorView(), b), Error);
  Tensor square = Tensor::zeros({3, 3}, DType::kFloat32);
  CHECK_THROWS_WITH(matmul_into(ctx, square, square, std::nullopt, square),
                    "matmul: 'out' must not overlap 'a' or 'b'");
  Tensor out = Tensor::empty({4, 2}, DType::kFloat32);
  const std::int64_t shape[] = {4, 2}, zero_strides[] = {0, 1};
  CHECK_THROWS_WITH(
      matmul_into(ctx, a, b, std::nullopt,
                  TensorView(out.data(), DType::kFloat32, Device::cpu(), shape, zero_strides)),
      "matmul: 'out' must have positive strides, got stride 0 in dim 0");
}

TEST_CASE("matmul_accumulate adds the product to out, for every layout and dtype") {
  const Context ctx = Context::cpu(2);
  for (DType dt : {DType::kFloat32, DType::kFloat64})
    for (bool transposed_a : {false, true}) {
      const std::int64_t m = 7, k = 5, n = 3;
      Tensor a_store = Tensor::empty({transposed_a ? k : m, transposed_a ? m : k}, dt);
      Tensor b = Tensor::empty({k, n}, dt), out = Tensor::empty({m, n}, dt);
      auto set = [&](Tensor& t, std::int64_t i, double v) {
        if (dt == DType::kFloat32) t.data_as<float>()[i] = float(v);
        else t.data_as<double>()[i] = v;
      };
      auto get = [&](const Tensor& t, std::int64_t i) {
        return dt == DType::kFloat32 ? double(t.data_as<float>()[i]) : t.data_as<double>()[i];
      };
      for (std::int64_t i = 0; i < a_store.numel(); ++i) set(a_store, i, double(i % 5) - 2);
      for (std::int64_t i = 0; i < b.numel(); ++i) set(b, i, double(i % 3) + 0.5);
      for (std::int64_t i = 0; i < out.numel(); ++i) set(out, i, double(i));
      const std::int64_t shape[] = {m, k};
      const std::int64_t strides_t[] = {1, m}, strides_n[] = {k, 1};
      const TensorView a(a_store.data(), dt, Device::cpu(), shape, transposed_a ? strides_t : strides_n);
      matmul_accumulate(ctx, a, b, out);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          double expected = double(i * n + j);
          for (std::int64_t p = 0; p < k; ++p)
            expected += get(a_store, transposed_a ? p * m + i : i * k + p) * get(b, p * n + j);
          CHECK(get(out, i * n + j) == Approx(expected));
        }
    }
  Tensor small = Tensor::zeros({2, 2}, DType::kFloat32);
  CHECK_THROWS_AS(matmul_accumulate(ctx, Tensor::zeros({3, 4}, DType::kFloat32),
                                    Tensor::zeros({4, 2}, DType::kFloat32), small),
                  ShapeMismatch);
}
