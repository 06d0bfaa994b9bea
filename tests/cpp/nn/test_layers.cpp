// SageConv and GatConv: forward against the reference formulas (float32, 1e-5), gradients of
// every input and parameter against central finite differences (float64), thread-count
// independence and bad input.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "gnnkit/nn/gat_conv.hpp"
#include "gnnkit/nn/sage_conv.hpp"
#include "support/reference.hpp"
#include "support/reference_nn.hpp"

using namespace gnnkit;
using namespace gnnkit::nn;
using gnnkit::test::EdgeListGraph;

namespace {

template <typename T>
Tensor matrix_from(const std::vector<double>& values, std::int64_t rows, std::int64_t cols) {
  Tensor t = Tensor::empty({rows, cols}, dtype_of<T>);
  for (std::int64_t i = 0; i < rows * cols; ++i) t.data_as<T>()[i] = T(values[std::size_t(i)]);
  return t;
}

template <typename T>
std::vector<double> values_of(const Tensor& t) {
  std::vector<double> out(std::size_t(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) out[std::size_t(i)] = double(t.data_as<T>()[i]);
  return out;
}

template <typename IndexT>
Adjacency adjacency_of(const EdgeListGraph& g, int threads = 2) {
  std::vector<IndexT> indices(g.src.begin(), g.src.end());
  return Adjacency::from_csc<IndexT>(g.num_dst, g.num_src, g.indptr, std::move(indices), threads);
}

double weighted_sum(const Tensor& out, const std::vector<double>& r) {
  double s = 0;
  for (std::int64_t i = 0; i < out.numel(); ++i) s += out.data_as<double>()[i] * r[std::size_t(i)];
  return s;
}

/// Checks d(sum(out * R))/d(every input and parameter) of a layer by central differences.
template <typename Forward, typename Backward>
void check_layer_gradients(ParameterList& params, Tensor& x_src, Tensor* x_dst,
                           Forward&& forward, Backward&& backward, std::int64_t out_rows,
                           std::int64_t out_cols, const char* what) {
  const auto r = gnnkit::test::random_matrix<double>(out_rows, out_cols, 99);
  params.zero_grad();
  const ConvGrads grads = backward(Tensor(matrix_from<double>(r, out_rows, out_cols)));
  auto loss = [&] { return weighted_sum(forward(), r); };
  INFO(what);
  gnnkit::test::check_gradient(loss, x_src.data_as<double>(), x_src.numel(),
                               grads.x_src.data_as<double>(), "x_src");
  if (x_dst) {
    REQUIRE(grads.x_dst.defined());
    gnnkit::test::check_gradient(loss, x_dst->data_as<double>(), x_dst->numel(),
                                 grads.x_dst.data_as<double>(), "x_dst");
  }
  for (const auto& p : params)
    gnnkit::test::check_gradient(loss, p->value.data_as<double>(), p->numel(),
                                 p->grad.data_as<double>(), p->name.c_str());
}

}  // namespace

TEST_CASE("SageConv forward matches the reference formula", "[nn][sage]") {
  const EdgeListGraph g = gnnkit::test::random_block(40, 25, 160, 1);
  const Context ctx = Context::cpu(2);
  const std::int64_t in = 12;
  for (int aggr : {0, 1, 2})
    for (std::int64_t out : {5, 30})  // 5 < in: transform first; 30 > in: aggregate first
      for (bool normalize : {false, true})
        for (bool root : {false, true}) {
          ParameterList params;
          SageConvOptions o{in, in, out, aggr == 0 ? Reduce::kMean : aggr == 1 ? Reduce::kSum : Reduce::kMax,
                            root, normalize, true};
          SageConv conv(params, "sage", o, 7);
          // A non-zero bias, so that it is checked too.
          for (std::int64_t j = 0; j < out; ++j) params.at("sage.lin_neigh.bias")->value.data_as<float>()[j] = 0.1f * float(j);
          const auto x = gnnkit::test::random_matrix<double>(g.num_src, in, 3);
          Tensor xs = matrix_from<float>(x, g.num_src, in);
          Tensor xd = slice_rows(xs, 0, g.num_dst);
          const Adjacency adj = adjacency_of<std::int32_t>(g);
          const Tensor y = conv.forward(ctx, adj, xs, xd, {}, nullptr);
          const auto expected = gnnkit::test::reference_sage(
              g, x, in, values_of<float>(params.at("sage.lin_neigh.weight")->value),
              values_of<float>(params.at("sage.lin_neigh.bias")->value),
              root ? values_of<float>(params.at("sage.lin_root.weight")->value) : std::vector<double>{},
              out, aggr, normalize);
          REQUIRE(y.size(0) == g.num_dst);
          REQUIRE(y.size(1) == out);
          double max_diff = 0;
          for (std::int64_t i = 0; i < y.numel(); ++i)
            max_diff = std::max(max_diff, std::abs(double(y.data_as<float>()[i]) - expected[std::size_t(i)]));
          INFO("aggr " << aggr << " out " << out << " normalize " << normalize << " root " << root);
          CHECK(max_diff <= 1e-5);
        }
}

TEST_CASE("SageConv gradients match finite differences", "[nn][sage][grad]") {
  const EdgeListGraph g = gnnkit::test::random_block(9, 6, 20, 2);
  const Context ctx = Context::cpu(2);
  const std::int64_t in = 4;
  for (int aggr : {0, 1, 2})
    for (std::int64_t out : {2, 7})
      for (bool normalize : {false, true})
        for (bool separate_dst : {false, true}) {
          ParameterList params;
          SageConvOptions o{in, separate_dst ? 3 : in, out,
                            aggr == 0 ? Reduce::kMean : aggr == 1 ? Reduce::kSum : Reduce::kMax,
                            true, normalize, true};
          SageConv conv(params, "sage", o, 11, DType::kFloat64);
          Tensor xs = matrix_from<double>(gnnkit::test::random_matrix<double>(g.num_src, in, 5), g.num_src, in);
          Tensor xd = separate_dst ? matrix_from<double>(gnnkit::test::random_matrix<double>(g.num_dst, 3, 6), g.num_dst, 3)
                                   : slice_rows(xs, 0, g.num_dst);
          for (auto idx : {std::int32_t(0), std::int32_t(1)}) {
            const Adjacency adj = idx == 0 ? adjacency_of<std::int32_t>(g) : adjacency_of<std::int64_t>(g);
            SageConv::Cache cache;
            conv.forward(ctx, adj, xs, xd, {}, &cache);
            std::string what = "aggr " + std::to_string(aggr) + " out " + std::to_string(out) +
                               " normalize " + std::to_string(normalize) + " separate " +
                               std::to_string(separate_dst) + " index " + std::to_string(idx);
            // With x_dst a prefix of x_src the finite differences move both at once, so the
            // analytic x_src gradient must include x_dst's: the runner adds it.
            check_layer_gradients(
                params, xs, separate_dst ? &xd : nullptr,
                [&] { return conv.forward(ctx, adj, xs, xd, {}, nullptr); },
                [&](const Tensor& r) {
                  ConvGrads gr = conv.backward(ctx, adj, cache, r);
                  if (!separate_dst) add_into(ctx, slice_rows(gr.x_src, 0, g.num_dst), gr.x_dst);
                  return gr;
                },
                g.num_dst, out, what.c_str());
          }
        }
}

TEST_CASE("GatConv forward matches the reference formula", "[nn][gat]") {
  const EdgeListGraph g = gnnkit::test::random_block(40, 25, 160, 3);
  const Context ctx = Context::cpu(2);
  const std::int64_t in = 10, C = 6;
  // 1, 2, 4 and 8 heads take the kernels' compile-time head-count paths, 3 the general one.
  for (int heads : {1, 3, 4, 8})
    for (bool concat : {true, false})
      for (bool loops : {true, false}) {
        ParameterList params;
        GatConv conv(params, "gat", {in, in, C, heads, concat, 0.2, 0.0, loops, true}, 5);
        auto& bias = params.at("gat.bias")->value;
        for (std::int64_t j = 0; j < bias.numel(); ++j) bias.data_as<float>()[j] = 0.05f * float(j);
        const auto x = gnnkit::test::random_matrix<double>(g.num_src, in, 4);
        Tensor xs = matrix_from<float>(x, g.num_src, in);
        const Tensor y = conv.forward(ctx, adjacency_of<std::int32_t>(g), xs,
                                      slice_rows(xs, 0, g.num_dst), {}, nullptr);
        const auto expected = gnnkit::test::reference_gat(
            g, x, in, values_of<float>(params.at("gat.lin.weight")->value), heads, C,
            values_of<float>(params.at("gat.att_src")->value),
            values_of<float>(params.at("gat.att_dst")->value), values_of<float>(bias), concat,
            0.2, loops);
        double max_diff = 0;
        for (std::int64_t i = 0; i < y.numel(); ++i)
          max_diff = std::max(max_diff, std::abs(double(y.data_as<float>()[i]) - expected[std::size_t(i)]));
        INFO("heads " << heads << " concat " << concat << " loops " << loops);
        CHECK(max_diff <= 1e-5);
      }
}

TEST_CASE("GatConv gradients match finite differences", "[nn][gat][grad]") {
  const EdgeListGraph g = gnnkit::test::random_block(9, 6, 20, 4);
  const Context ctx = Context::cpu(2);
  const std::int64_t in = 4, C = 3;
  for (int heads : {1, 3, 4})
    for (bool concat : {true, false})
      for (int dst_mode : {0, 1, 2})  // 0: prefix of x_src; 1: separate, shared W; 2: other width
        for (double dropout : {0.0, 0.3}) {
          ParameterList params;
          const std::int64_t in_dst = dst_mode == 2 ? 5 : in;
          GatConv conv(params, "gat", {in, in_dst, C, heads, concat, 0.2, dropout, true, true}, 9,
                       DType::kFloat64);
          for (const auto& p : params)  // non-zero biases
            if (p->name == "gat.bias")
              for (std::int64_t j = 0; j < p->numel(); ++j) p->value.data_as<double>()[j] = 0.1 * double(j);
          Tensor xs = matrix_from<double>(gnnkit::test::random_matrix<double>(g.num_src, in, 8), g.num_src, in);
          Tensor xd = dst_mode == 0 ? slice_rows(xs, 0, g.num_dst)
                                    : matrix_from<double>(gnnkit::test::random_matrix<double>(g.num_dst, in_dst, 9), g.num_dst, in_dst);
          const Adjacency adj = adjacency_of<std::int64_t>(g);
          ForwardMode mode{true, 1234, false};
          GatConv::Cache cache;
          const Tensor y = conv.forward(ctx, adj, xs, xd, mode, &cache);
          std::string what = "heads " + std::to_string(heads) + " concat " + std::to_string(concat) +
                             " dst_mode " + std::to_string(dst_mode) + " dropout " + std::to_string(dropout);
          check_layer_gradients(
              params, xs, dst_mode == 0 ? nullptr : &xd,
              [&] { return conv.forward(ctx, adj, xs, xd, mode, nullptr); },
              [&](const Tensor& r) { return conv.backward(ctx, cache, r); }, y.size(0), y.size(1),
              what.c_str());
        }
}

TEST_CASE("Layers give identical results for any thread count", "[nn][determinism]") {
  const EdgeListGraph g = gnnkit::test::random_block(3000, 1500, 40000, 6);
  const auto x = gnnkit::test::random_matrix<double>(g.num_src, 32, 7);
  Tensor xs = matrix_from<float>(x, g.num_src, 32);
  std::vector<std::vector<float>> outputs;
  for (int threads : {1, 2}) {
    const Context ctx = Context::cpu(threads);
    ParameterList params;
    GatConv gat(params, "gat", {32, 32, 8, 4, true, 0.2, 0.5, true, true}, 3);
    SageConv sage(params, "sage", {32, 32, 16, Reduce::kMean, true, false, true}, 3);
    const Adjacency adj = adjacency_of<std::int32_t>(g, threads);
    GatConv::Cache gc;
    SageConv::Cache sc;
    const Tensor a = gat.forward(ctx, adj, xs, slice_rows(xs, 0, g.num_dst), {true, 77, false}, &gc);
    const Tensor b = sage.forward(ctx, adj, xs, slice_rows(xs, 0, g.num_dst), {}, &sc);
    const ConvGrads ga = gat.backward(ctx, gc, a);
    const ConvGrads gb = sage.backward(ctx, adj, sc, b);
    std::vector<float> all;
    for (const Tensor* t : {&a, &b, &ga.x_src, &gb.x_src, &gb.x_dst})
      all.insert(all.end(), t->data_as<float>(), t->data_as<float>() + t->numel());
    outputs.push_back(std::move(all));
  }
  REQUIRE(outputs[0].size() == outputs[1].size());
  // oneDNN's GEMM may split K differently with another thread count; the sparse parts are
  // bitwise identical, so the difference stays at rounding level.
  double max_diff = 0;
  for (std::size_t i = 0; i < outputs[0].size(); ++i)
    max_diff = std::max(max_diff, double(std::abs(outputs[0][i] - outputs[1][i])));
  CHECK(max_diff <= 1e-5);
}

TEST_CASE("Layers reject bad input with the layer's name and the shapes", "[nn][errors]") {
  const EdgeListGraph g = gnnkit::test::random_block(9, 6, 20, 4);
  const Context ctx = Context::cpu(1);
  ParameterList params;
  SageConv sage(params, "conv1", {4, 4, 3, Reduce::kMean, true, false, true}, 1);
  const Adjacency adj = adjacency_of<std::int32_t>(g);
  Tensor wrong_width = Tensor::zeros({9, 5}, DType::kFloat32);
  CHECK_THROWS_WITH(sage.forward(ctx, adj, wrong_width, slice_rows(wrong_width, 0, 6), {}, nullptr),
                    Catch::Contains("SageConv 'conv1'") && Catch::Contains("'x_src' must have 4 columns") &&
                        Catch::Contains("[9, 5]"));
  Tensor wrong_rows = Tensor::zeros({8, 4}, DType::kFloat32);  // a block from another graph
  CHECK_THROWS_AS(sage.forward(ctx, adj, wrong_rows, slice_rows(wrong_rows, 0, 6), {}, nullptr),
                  ShapeMismatch);
  Tensor wrong_dtype = Tensor::zeros({9, 4}, DType::kFloat64);
  CHECK_THROWS_AS(sage.forward(ctx, adj, wrong_dtype, slice_rows(wrong_dtype, 0, 6), {}, nullptr),
                  InvalidArgument);
  Tensor nan = Tensor::zeros({9, 4}, DType::kFloat32);
  nan.data_as<float>()[13] = std::numeric_limits<float>::quiet_NaN();
  CHECK_NOTHROW(sage.forward(ctx, adj, nan, slice_rows(nan, 0, 6), {}, nullptr));
  CHECK_THROWS_WITH(sage.forward(ctx, adj, nan, slice_rows(nan, 0, 6), {false, 0, true}, nullptr),
                    Catch::Contains("non-finite") && Catch::Contains("[3, 1]"));
  SageConv::Cache cache;
  Tensor x = Tensor::zeros({9, 4}, DType::kFloat32);
  sage.forward(ctx, adj, x, slice_rows(x, 0, 6), {}, &cache);
  CHECK_THROWS_WITH(sage.backward(ctx, adj, cache, Tensor::zeros({6, 2}, DType::kFloat32)),
                    Catch::Contains("'grad_out' must have 3 columns"));
  GatConv gat(params, "gat1", {4, 4, 2, 2, true, 0.2, 0.0, true, true}, 1);
  CHECK_THROWS_WITH(gat.forward(ctx, adj, wrong_width, slice_rows(wrong_width, 0, 6), {}, nullptr),
                    Catch::Contains("GatConv 'gat1'"));
  CHECK_THROWS_WITH(ParameterList().add("", {2}, Init::kZeros, 0), Catch::Contains("name"));
  CHECK_THROWS_AS(SageConv(params, "conv1", {4, 4, 3, Reduce::kMean, true, false, true}, 1),
                  InvalidArgument);  // duplicate parameter names
}
