// Layers, losses and optimisers on a CUDA context against the same code on the CPU: matmul
// in every operand layout, the bias and combination helpers, SageConv and GatConv forward
// and backward, heterogeneous GraphSAGE and GAT models' training steps (forward,
// cross-entropy, backward, Adam) and every optimiser. Same weights (one seed, moved with ParameterList::to), same dropout
// masks; relative error <= 1e-4. Also the normalisations, a device-resident adjacency and a
// training step fed by the GPU sampler. Runs only with a GPU (see cuda_main.cpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <tuple>
#include <vector>

#include "gnnkit/gnnkit.hpp"
#include "gnnkit/nn/gat_conv.hpp"
#include "gnnkit/nn/model.hpp"
#include "gnnkit/train/loss.hpp"
#include "gnnkit/train/optimizer.hpp"

using namespace gnnkit;
using namespace gnnkit::nn;

namespace {

const Device kGpu = Device::cuda(0);

Tensor random_matrix(std::int64_t rows, std::int64_t cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor t = Tensor::empty({rows, cols}, DType::kFloat32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = float(rng() % 2001) / 1000.f - 1.f;
  return t;
}

/// max |gpu - cpu| / max |cpu| over two 2-d (or 1-d) float32 tensors of the same shape, any
/// devices and row strides: the error relative to the reference's scale, so small-valued
/// tensors (a loss gradient of 1/N) are held to the same 1e-4.
double rel_error(const Tensor& gpu, const Tensor& cpu) {
  REQUIRE(gpu.defined());
  REQUIRE(cpu.defined());
  REQUIRE(gpu.numel() == cpu.numel());
  auto host = [](const Tensor& t) {  // a contiguous host copy (rows may be strided)
    return t.device().is_cpu() ? t.clone() : clone_on(Context::cuda(t.device().index), t).to(Device::cpu());
  };
  const Tensor a = host(gpu), b = host(cpu);
  double diff = 0, scale = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data_as<float>()[i], y = b.data_as<float>()[i];
    diff = std::max(diff, std::abs(x - y));
    scale = std::max(scale, std::abs(y));
  }
  return scale == 0 ? diff : diff / scale;
}

/// Random dst-major adjacency with empty rows, duplicate edges, self loops and one row of 150
/// edges (longer than a warp's lanes: the per-lane edge loops turn).
Adjacency random_adjacency(std::int64_t num_dst, std::int64_t num_src, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> indices;
  for (std::int64_t v = 0; v < num_dst; ++v) {
    const int deg = v == 2 ? 150 : v % 5 == 0 ? 0 : int(rng() % 12);
    for (int k = 0; k < deg; ++k)
      indices.push_back(k == 3 && !indices.empty() ? indices.back() : std::int32_t(rng() % num_src));
    if (v % 7 == 1 && v < num_src) indices.push_back(std::int32_t(v));
    indptr.push_back(std::int64_t(indices.size()));
  }
  return Adjacency::from_csc<std::int32_t>(num_dst, num_src, std::move(indptr), std::move(indices), 2);
}

}  // namespace

TEST_CASE("matmul on a CUDA context matches the CPU in every operand layout") {
  const Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  // Padded rows and a padded output: views into wider matrices (row stride > width).
  {
    const Tensor wide_a = random_matrix(50, 40, 11), wide_b = random_matrix(30, 64, 12);
    const Tensor a = slice_columns(wide_a, 3, 33), b = slice_columns(wide_b, 0, 20);  // [50, 30] [30, 20]
    const Tensor wa = wide_a.to(kGpu), wb = wide_b.to(kGpu);
    Tensor out = random_matrix(50, 28, 13), out_d = out.to(kGpu);
    const Tensor o = slice_columns(out, 4, 24), od = slice_columns(out_d, 4, 24);
    matmul_accumulate(cpu, a, b, o);
    matmul_accumulate(gpu, slice_columns(wa, 3, 33), slice_columns(wb, 0, 20), od);
    CHECK(rel_error(out_d, out) <= 1e-4);  // the padding columns untouched on both
  }
  // Size-1 dimensions, and K = 0 accumulating nothing.
  for (auto [M, K, N] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{1, 7, 5}, {6, 1, 4}, {3, 9, 1}, {1, 1, 1}}) {
    CAPTURE(M, K, N);
    const Tensor a = random_matrix(M, K, 1), b = random_matrix(K, N, 2);
    CHECK(rel_error(matmul(gpu, a.to(kGpu), b.to(kGpu)), matmul(cpu, a, b)) <= 1e-5);
    const Tensor at = random_matrix(K, M, 3), bt = random_matrix(N, K, 4);  // transposed storage
    CHECK(rel_error(matmul(gpu, transposed(at.to(kGpu)), transposed(bt.to(kGpu))), matmul(cpu, transposed(at), transposed(bt))) <= 1e-5);
  }
  {
    Tensor acc = random_matrix(4, 3, 5);
    Tensor acc_d = acc.to(kGpu);
    matmul_accumulate(gpu, Tensor::empty({4, 0}, DType::kFloat32, kGpu), Tensor::empty({0, 3}, DType::kFloat32, kGpu),
                      acc_d);
    CHECK(rel_error(acc_d, acc) == 0);
  }
  const std::int64_t M = 70, K = 33, N = 45;
  const Tensor a = random_matrix(M, K, 1), at = random_matrix(K, M, 2);
  const Tensor b = random_matrix(K, N, 3), bt = random_matrix(N, K, 4);
  const Tensor bias = random_matrix(1, N, 5);
  const Tensor bias1d = Tensor::wrap(TensorView(bias.data(), DType::kFloat32, Device::cpu(), {N}), bias.owner());
  const Tensor a_d = a.to(kGpu), at_d = at.to(kGpu), b_d = b.to(kGpu), bt_d = bt.to(kGpu);
  const Tensor bias_d = bias1d.to(kGpu);
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool with_bias : {false, true}) {
        CAPTURE(ta, tb, with_bias);
        const TensorView A = ta ? transposed(at) : a.view(), B = tb ? transposed(bt) : b.view();
        const TensorView Ad = ta ? transposed(at_d) : a_d.view(), Bd = tb ? transposed(bt_d) : b_d.view();
        const auto bias_h = with_bias ? std::optional<TensorView>(bias1d.view()) : std::nullopt;
        const auto bias_g = with_bias ? std::optional<TensorView>(bias_d.view()) : std::nullopt;
        const Tensor ref = matmul(cpu, A, B, bias_h);
        const Tensor out = matmul(gpu, Ad, Bd, bias_g);
        REQUIRE(out.device() == kGpu);
        CHECK(rel_error(out, ref) <= 1e-4);
        // out += A B: the same product on top of the first.
        matmul_accumulate(cpu, A, B, ref);
        matmul_accumulate(gpu, Ad, Bd, out);
        CHECK(rel_error(out, ref) <= 1e-4);
      }
  // A CPU operand in a CUDA call is a device mismatch naming it.
  CHECK_THROWS_AS(matmul(gpu, a_d, b), DeviceMismatch);
  // K = 0: the product of empty factors is zero, even over garbage.
  const Tensor e1 = Tensor::empty({4, 0}, DType::kFloat32, kGpu), e2 = Tensor::empty({0, 3}, DType::kFloat32, kGpu);
  const Tensor z = matmul(gpu, e1, e2);
  CHECK(rel_error(z, Tensor::zeros({4, 3}, DType::kFloat32)) == 0);
}

TEST_CASE("bias, bias gradient, add_into and HeteroConv-style scaling on the GPU") {
  const Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  ParameterList host, device;
  auto hb = host.add("b", {37}, Init::kGlorotUniform, 3);
  auto db = device.add("b", {37}, Init::kGlorotUniform, 3);
  device.to(gpu);
  for (std::int64_t rows : {1, 5, 1000, 20000}) {
    CAPTURE(rows);
    Tensor x = random_matrix(rows, 37, std::uint32_t(rows));
    Tensor xd = x.to(kGpu);
    add_bias_rows(cpu, x, *hb);
    add_bias_rows(gpu, xd, *db);
    CHECK(rel_error(xd, x) <= 1e-5);
    host.zero_grad();
    device.zero_grad();
    for (int twice = 0; twice < 2; ++twice) {  // the gradient accumulates
      bias_backward(cpu, x, *hb);
      bias_backward(gpu, xd, *db);
    }
    CHECK(rel_error(db->grad, hb->grad) <= 1e-4);
    const Tensor y = random_matrix(rows, 37, 77);
    add_into(cpu, x, y);
    add_into(gpu, xd, y.to(kGpu));
    CHECK(rel_error(xd, x) <= 1e-5);
  }
}

TEST_CASE("SageConv forward and backward on a CUDA context match the CPU") {
  const Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  const Adjacency adj = random_adjacency(300, 400, 11);
  // (in, out) = (16, 64): aggregate then transform; (96, 8): transform first.
  for (auto [in, out] : {std::pair<std::int64_t, std::int64_t>{16, 64}, {96, 8}})
    for (Reduce aggr : {Reduce::kMean, Reduce::kSum, Reduce::kMax})
      for (bool root : {true, false}) {
        CAPTURE(in, out, int(aggr), root);
        ParameterList hp, dp;
        const SageConvOptions o{in, in, out, aggr, root, false, true};
        SageConv host(hp, "sage", o, 5), device(dp, "sage", o, 5);
        dp.to(gpu);
        const Tensor x = random_matrix(400, in, 21);
        const Tensor xd = x.to(kGpu);
        const Tensor x_dst = slice_rows(x, 0, 300), xd_dst = slice_rows(xd, 0, 300);
        SageConv::Cache hc, dc;
        const Tensor y = host.forward(cpu, adj, x, x_dst, {true, 1, false}, &hc);
        const Tensor yd = device.forward(gpu, adj, xd, xd_dst, {true, 1, false}, &dc);
        REQUIRE(hc.transform_first == (aggr != Reduce::kMax && in > out));
        CHECK(rel_error(yd, y) <= 1e-4);
        const Tensor g = random_matrix(300, out, 31);
        hp.zero_grad();
        dp.zero_grad();
        const ConvGrads gh = host.backward(cpu, adj, hc, g);
        const ConvGrads gd = device.backward(gpu, adj, dc, g.to(kGpu));
        CHECK(rel_error(gd.x_src, gh.x_src) <= 1e-4);
        if (root) CHECK(rel_error(gd.x_dst, gh.x_dst) <= 1e-4);
        for (std::size_t i = 0; i < hp.size(); ++i) {
          INFO(hp[i]->name);
          CHECK(rel_error(dp[i]->grad, hp[i]->grad) <= 1e-4);
        }
      }
}

TEST_CASE("GatConv forward and backward on a CUDA context match the CPU") {
  const Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  const Adjacency adj = random_adjacency(300, 400, 12);
  struct Case {
    std::int64_t in_src, in_dst, out;
    int heads;
    bool concat;
    double dropout;
    bool self_loops;
  };
  // One W shared by sources and destinations (x_dst a prefix of x_src) or two; heads
  // concatenated or averaged; attention dropout on or off; self loops added or not.
  // Heads x width 150 > 128: spmm's second column pass with per-head weights.
  for (const Case k : {Case{16, 16, 8, 1, true, 0.0, true}, Case{16, 16, 40, 3, true, 0.3, true},
                       Case{24, 10, 12, 4, false, 0.2, false}, Case{33, 33, 64, 2, false, 0.0, true},
                       Case{20, 20, 50, 3, true, 0.25, true}}) {
    CAPTURE(k.in_src, k.in_dst, k.out, k.heads, k.concat, k.dropout, k.self_loops);
    ParameterList hp, dp;
    const GatConvOptions o{k.in_src, k.in_dst, k.out, k.heads, k.concat, 0.2, k.dropout, k.self_loops, true};
    GatConv host(hp, "gat", o, 5), device(dp, "gat", o, 5);
    // Non-zero biases and attention vectors: the defaults would hide a bias or head mix-up.
    std::mt19937 rng(8);
    for (const auto& p : hp)
      if (p->name.find("bias") != std::string::npos)
        for (std::int64_t i = 0; i < p->numel(); ++i) p->value.data_as<float>()[i] = float(rng() % 2001) / 1000.f - 1.f;
    for (std::size_t i = 0; i < hp.size(); ++i) copy(cpu, dp[i]->value, hp[i]->value);
    dp.to(gpu);
    const Tensor x = random_matrix(400, k.in_src, 21), xd = x.to(kGpu);
    const Tensor x_dst = k.in_dst == k.in_src ? slice_rows(x, 0, 300) : random_matrix(300, k.in_dst, 22);
    const Tensor xd_dst = k.in_dst == k.in_src ? slice_rows(xd, 0, 300) : x_dst.to(kGpu);
    GatConv::Cache hc, dc;
    const ForwardMode mode{true, 17, false};
    const Tensor y = host.forward(cpu, adj, x, x_dst, mode, &hc);
    const Tensor yd = device.forward(gpu, adj, xd, xd_dst, mode, &dc);
    CHECK(rel_error(dc.alpha, hc.alpha) <= 1e-4);
    CHECK(rel_error(yd, y) <= 1e-4);
    // Inference: no attention dropout whatever its rate.
    CHECK(rel_error(device.forward(gpu, adj, xd, xd_dst, {}, nullptr), host.forward(cpu, adj, x, x_dst, {}, nullptr)) <=
          1e-4);
    const Tensor g = random_matrix(300, host.out_features(), 31);
    hp.zero_grad();
    dp.zero_grad();
    const ConvGrads gh = host.backward(cpu, hc, g);
    const ConvGrads gd = device.backward(gpu, dc, g.to(kGpu));
    CHECK(rel_error(gd.x_src, gh.x_src) <= 1e-4);
    REQUIRE(gd.x_dst.defined() == gh.x_dst.defined());
    if (gh.x_dst.defined()) CHECK(rel_error(gd.x_dst, gh.x_dst) <= 1e-4);
    for (std::size_t i = 0; i < hp.size(); ++i) {
      INFO(hp[i]->name);
      CHECK(rel_error(dp[i]->grad, hp[i]->grad) <= 1e-4);
    }
  }
}

TEST_CASE("A heterogeneous GraphSAGE or GAT model trains a step on the GPU like on the CPU") {
  const Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  // user (400) and item (250): buys user -> item, rev_buys item -> user, knows user -> user.
  LayerGraph lg;
  lg.num_dst = {400, 250};
  lg.relations.push_back(random_adjacency(250, 400, 1));
  lg.relations.push_back(random_adjacency(400, 250, 2));
  lg.relations.push_back(random_adjacency(400, 400, 3));
  const std::vector<LayerGraph> layers(2, lg);
  const ModelSpec spec{{12, 20}, {{0, 0, 1}, {1, 1, 0}, {2, 0, 0}}, 0};
  for (ConvKind conv : {ConvKind::kSage, ConvKind::kGat})
  for (Reduce combine : {Reduce::kSum, Reduce::kMean, Reduce::kMax})
    for (bool projection : {false, true}) {
      CAPTURE(int(conv), int(combine), projection);
      GnnModelOptions o;
      o.conv = conv;
      o.heads = 4;
      o.attention_dropout = 0.1;
      o.hidden = 32;
      o.out = 47;  // more classes than a warp's lanes: the loss kernel's column loop turns
      o.hetero_aggr = combine;
      o.dropout = 0.4;
      o.input_dropout = 0.1;
      o.input_projection = projection;
      GnnModel host(spec, o, 9), device(spec, o, 9);
      device.parameters().to(Context::cuda(0));  // another context of the device than gpu's
      Adam host_opt(host.parameters(), {.lr = 0.01, .weight_decay = 1e-4});
      Adam device_opt(device.parameters(), {.lr = 0.01, .weight_decay = 1e-4});
      const std::vector<Tensor> x = {random_matrix(400, 12, 1), random_matrix(250, 20, 2)};
      const std::vector<Tensor> xd = {x[0].to(kGpu), x[1].to(kGpu)};
      std::vector<std::int64_t> labels(400);
      for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = i % 9 == 0 ? -1 : std::int64_t(i * 7 % 47);
      for (int step = 0; step < 3; ++step) {
        CAPTURE(step);
        const ForwardMode mode{true, std::uint64_t(100 + step), false};
        GnnModel::Cache hc, dc;
        const Tensor yh = host.forward(cpu, layers, x, mode, &hc);
        const Tensor yd = device.forward(gpu, layers, xd, mode, &dc);
        CHECK(rel_error(yd, yh) <= 1e-4);
        Tensor gh = Tensor::empty({400, 47}, DType::kFloat32);
        Tensor gd = Tensor::empty({400, 47}, DType::kFloat32, kGpu);
        const double lh = cross_entropy(cpu, yh, labels, gh);
        const double ld = cross_entropy(gpu, yd, labels, gd);
        CHECK(std::abs(ld - lh) <= 1e-4 * std::max(1.0, std::abs(lh)));
        CHECK(rel_error(gd, gh) <= 1e-4);
        host_opt.zero_grad();
        device_opt.zero_grad();
        host.backward(cpu, layers, hc, gh, false);
        device.backward(gpu, layers, dc, gd, false);
        for (std::size_t i = 0; i < host.parameters().size(); ++i) {
          INFO(host.parameters()[i]->name);
          CHECK(rel_error(device.parameters()[i]->grad, host.parameters()[i]->grad) <= 1e-4);
        }
        host_opt.step(cpu);
        device_opt.step(gpu);
        for (std::size_t i = 0; i < host.parameters().size(); ++i) {
          INFO(host.parameters()[i]->name);
          CHECK(rel_error(device.parameters()[i]->value, host.parameters()[i]->value) <= 1e-4);
        }
      }
    }
}

TEST_CASE("Binary cross-entropy, focal and BPR losses on the GPU match the CPU") {
  const Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  const std::int64_t n = 5000;
  // Logits spread wide (|x| up to 40: the stable forms matter), soft and hard targets, weights.
  Tensor x = random_matrix(n, 1, 3);
  for (std::int64_t i = 0; i < n; ++i) x.data_as<float>()[i] *= i % 10 == 0 ? 40.f : 4.f;
  std::vector<float> targets(n), weights(n);
  std::mt19937 rng(4);
  for (std::int64_t i = 0; i < n; ++i) {
    targets[std::size_t(i)] = i % 7 == 0 ? float(rng() % 101) / 100.f : float(rng() % 2);
    weights[std::size_t(i)] = float(rng() % 300) / 100.f;
  }
  const Tensor xd = x.to(kGpu);
  for (int kind = 0; kind < 4; ++kind) {
    CAPTURE(kind);
    Tensor gh = Tensor::empty({n, 1}, DType::kFloat32), gd = Tensor::empty({n, 1}, DType::kFloat32, kGpu);
    const std::span<const float> w = kind % 2 ? std::span<const float>(weights) : std::span<const float>();
    const double lh = kind < 2 ? binary_cross_entropy_with_logits(cpu, x, targets, 3.0, gh, w)
                               : sigmoid_focal_loss(cpu, x, targets, kind == 2 ? 2.0 : 1.5, 0.25, gh, w);
    const double ld = kind < 2 ? binary_cross_entropy_with_logits(gpu, xd, targets, 3.0, gd, w)
                               : sigmoid_focal_loss(gpu, xd, targets, kind == 2 ? 2.0 : 1.5, 0.25, gd, w);
    CHECK(std::abs(ld - lh) <= 1e-6 * std::abs(lh));
    CHECK(rel_error(gd, gh) <= 1e-5);
  }
  for (std::int64_t k : {1, 4, 40}) {
    CAPTURE(k);
    const Tensor pos = random_matrix(1, n, 5), neg = random_matrix(n, k, 6);
    const Tensor pos1 = Tensor::wrap(TensorView(pos.data(), DType::kFloat32, Device::cpu(), {n}), pos.owner());
    const Tensor pos_d = pos1.to(kGpu), neg_d = neg.to(kGpu);
    Tensor pg = Tensor::empty({n}, DType::kFloat32), ng = Tensor::empty({n, k}, DType::kFloat32);
    Tensor pgd = Tensor::empty({n}, DType::kFloat32, kGpu), ngd = Tensor::empty({n, k}, DType::kFloat32, kGpu);
    const double lh = bpr_loss(cpu, pos1, neg, pg, ng), ld = bpr_loss(gpu, pos_d, neg_d, pgd, ngd);
    CHECK(std::abs(ld - lh) <= 1e-6 * std::abs(lh));
    CHECK(rel_error(pgd, pg) <= 1e-5);
    CHECK(rel_error(ngd, ng) <= 1e-5);
  }
}

TEST_CASE("Optimisers, gradient clipping and optimiser state on the GPU match the CPU") {
  const Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  auto make = [](ParameterList& p) {
    p.add("w", {300, 17}, Init::kGlorotUniform, 1);
    p.add("b", {17}, Init::kGlorotUniform, 2);
  };
  auto set_grads = [&](ParameterList& p, int step) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      const Tensor g = random_matrix(1, p[i]->numel(), std::uint32_t(10 * step + i));
      copy(p[i]->grad.device().is_cpu() ? cpu : gpu, p[i]->grad,
           TensorView(g.data(), DType::kFloat32, Device::cpu(), p[i]->grad.shape()));
    }
  };
  for (int kind = 0; kind < 4; ++kind) {
    CAPTURE(kind);
    ParameterList hp, dp;
    make(hp);
    make(dp);
    dp.to(gpu);
    auto build = [&](const ParameterList& p) -> std::unique_ptr<Optimizer> {
      if (kind == 0) return std::make_unique<Sgd>(p, SgdOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-3});
      if (kind == 1) return std::make_unique<Sgd>(p, SgdOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true});
      if (kind == 2) return std::make_unique<Adam>(p, AdamOptions{.lr = 0.01, .weight_decay = 1e-3});
      return std::make_unique<AdamW>(p, AdamWOptions{.lr = 0.01});
    };
    auto ho = build(hp), dopt = build(dp);
    for (int step = 0; step < 4; ++step) {
      set_grads(hp, step);
      set_grads(dp, step);
      const double nh = clip_grad_norm(cpu, hp, 5.0), nd = clip_grad_norm(gpu, dp, 5.0);
      CHECK(std::abs(nd - nh) <= 1e-5 * nh);
      ho->step(cpu);
      dopt->step(gpu);
    }
    for (std::size_t i = 0; i < hp.size(); ++i) CHECK(rel_error(dp[i]->value, hp[i]->value) <= 1e-5);
    // The exported state is on the host, and loads back (into a fresh optimiser on the GPU).
    const auto hs = ho->state(), ds = dopt->state();
    REQUIRE(hs.size() == ds.size());
    for (std::size_t i = 3; i < ds.size(); ++i) {
      REQUIRE(ds[i].tensor.device().is_cpu());
      CHECK(rel_error(ds[i].tensor, hs[i].tensor) <= 1e-5);
    }
    auto fresh = build(dp);
    fresh->load_state(ds);
    set_grads(dp, 9);
    set_grads(hp, 9);
    fresh->step(gpu);
    ho->step(cpu);
    for (std::size_t i = 0; i < hp.size(); ++i) CHECK(rel_error(dp[i]->value, hp[i]->value) <= 1e-5);
  }
}

TEST_CASE("Mixed devices name the parameter; the context stays usable") {
  const Context gpu = Context::cuda(0);
  const Adjacency adj = random_adjacency(20, 30, 3);
  ParameterList params;
  GatConv gat(params, "gat", GatConvOptions{8, 8, 4, 2, true, 0.2, 0.0, false, true}, 1);
  SageConv sage(params, "sage", SageConvOptions{8, 8, 4}, 1);
  const Tensor x = random_matrix(30, 8, 1).to(kGpu);
  // Parameters still on the CPU.
  CHECK_THROWS_MATCHES(sage.forward(gpu, adj, x, slice_rows(x, 0, 20), {}, nullptr), DeviceMismatch,
                       Catch::Matchers::Message("SageConv 'sage': parameter 'sage.lin_neigh.weight' is on "
                                                "cpu, but the context is on cuda:0 (move the parameters with "
                                                "ParameterList::to)"));
  params.to(gpu);
  CHECK(gat.forward(gpu, adj, x, slice_rows(x, 0, 20), {}, nullptr).size(1) == 8);
  CHECK(sage.forward(gpu, adj, x, slice_rows(x, 0, 20), {}, nullptr).size(0) == 20);
}

TEST_CASE("Row-normalised SageConv, layer norm, concatenation and the finiteness check on the GPU match the CPU") {
  const Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  const Adjacency adj = random_adjacency(300, 400, 5);
  {  // SageConv(normalize): forward and backward
    ParameterList hp, dp;
    const SageConvOptions o{40, 40, 70, Reduce::kMean, true, true, true};
    SageConv host(hp, "sage", o, 3), device(dp, "sage", o, 3);
    dp.to(gpu);
    const Tensor x = random_matrix(400, 40, 2), xd = x.to(kGpu);
    SageConv::Cache hc, dc;
    const Tensor y = host.forward(cpu, adj, x, slice_rows(x, 0, 300), {true, 1, false}, &hc);
    const Tensor yd = device.forward(gpu, adj, xd, slice_rows(xd, 0, 300), {true, 1, false}, &dc);
    CHECK(rel_error(yd, y) <= 1e-4);
    const Tensor g = random_matrix(300, 70, 4);
    const ConvGrads gh = host.backward(cpu, adj, hc, g);
    const ConvGrads gd = device.backward(gpu, adj, dc, g.to(kGpu));
    CHECK(rel_error(gd.x_src, gh.x_src) <= 1e-4);
    for (std::size_t i = 0; i < hp.size(); ++i) {
      INFO(hp[i]->name);
      CHECK(rel_error(dp[i]->grad, hp[i]->grad) <= 1e-4);
    }
  }
  for (std::int64_t cols : {1, 7, 64, 300}) {  // layer norm: rows narrower and wider than a warp
    CAPTURE(cols);
    ParameterList hp, dp;
    auto hg = hp.add("gamma", {cols}, Init::kGlorotUniform, 1), hb = hp.add("beta", {cols}, Init::kGlorotUniform, 2);
    auto dg = dp.add("gamma", {cols}, Init::kGlorotUniform, 1), db = dp.add("beta", {cols}, Init::kGlorotUniform, 2);
    dp.to(gpu);
    const Tensor wide = random_matrix(500, cols + 3, 6);  // padded rows: a strided view
    const Tensor x = slice_columns(wide, 1, cols + 1), xd = slice_columns(wide.to(kGpu), 1, cols + 1);
    LayerNormCache hc, dc;
    const Tensor y = layer_norm_forward(cpu, x, *hg, *hb, 1e-5, &hc);
    const Tensor yd = layer_norm_forward(gpu, xd, *dg, *db, 1e-5, &dc);
    CHECK(rel_error(yd, y) <= 1e-4);
    const Tensor g = random_matrix(500, cols, 8);
    hp.zero_grad();
    dp.zero_grad();
    const Tensor gx = layer_norm_backward(cpu, hc, *hg, *hb, g);
    const Tensor gxd = layer_norm_backward(gpu, dc, *dg, *db, g.to(kGpu));
    CHECK(rel_error(gxd, gx) <= 1e-4);
    CHECK(rel_error(dg->grad, hg->grad) <= 1e-4);
    CHECK(rel_error(db->grad, hb->grad) <= 1e-4);
    // Concatenation of a strided view and a contiguous matrix.
    const Tensor other = random_matrix(500, 5, 9);
    CHECK(rel_error(concat_columns(gpu, xd, other.to(kGpu)), concat_columns(cpu, x, other)) == 0);
  }
  // check_finite names the first non-finite element, as on the CPU.
  Tensor bad = random_matrix(200, 33, 3);
  bad.data_as<float>()[150 * 33 + 17] = std::nanf("");
  bad.data_as<float>()[160 * 33 + 2] = INFINITY;
  std::string cpu_message, gpu_message;
  try { check_finite(cpu, "layer", "x", bad); } catch (const InvalidArgument& e) { cpu_message = e.what(); }
  try { check_finite(gpu, "layer", "x", bad.to(kGpu)); } catch (const InvalidArgument& e) { gpu_message = e.what(); }
  CHECK(cpu_message == "layer: 'x' has a non-finite value nan at [150, 17]");
  CHECK(gpu_message == cpu_message);
  CHECK_NOTHROW(check_finite(gpu, "layer", "x", random_matrix(200, 33, 4).to(kGpu)));
}

TEST_CASE("A device adjacency: self loops and GatConv on the GPU match the host adjacency") {
  const Context gpu = Context::cuda(0), cpu = Context::cpu(2);
  const Adjacency host = random_adjacency(300, 400, 13);
  // The same CSC as device arrays (what DeviceMiniBatch holds).
  Tensor indptr, indices;
  host.visit([&](const auto& csc, const auto*) {
    using IndexT = std::remove_cv_t<std::remove_reference_t<decltype(*csc.indices)>>;
    indptr = Tensor::wrap(TensorView(const_cast<std::int64_t*>(csc.indptr), DType::kInt64, Device::cpu(),
                                     {csc.num_rows + 1}), nullptr).to(kGpu);
    indices = Tensor::wrap(TensorView(const_cast<IndexT*>(csc.indices), dtype_of<IndexT>, Device::cpu(),
                                      {csc.num_edges()}), nullptr).to(kGpu);
  });
  const Adjacency device = Adjacency::on_device(300, 400, host.num_edges(), indptr, indices);
  CHECK(device.on_device());
  CHECK_THROWS_AS(device.visit([](const auto&, const auto*) { return 0; }), DeviceMismatch);
  // Self loops: the same CSC, edge for edge.
  const Adjacency looped_host = host.with_self_loops(2), looped = device.with_self_loops(gpu);
  REQUIRE(looped.num_edges() == looped_host.num_edges());
  const kernels::cuda::DeviceCsc d = looped.device_csc(gpu);
  std::vector<std::int64_t> got_indptr(301);
  std::vector<std::int32_t> got_indices(std::size_t(d.num_edges));
  kernels::cuda::copy_bytes(got_indptr.data(), Device::cpu(), d.indptr, kGpu, 301 * sizeof(std::int64_t),
                            gpu.cuda_stream());
  kernels::cuda::copy_bytes(got_indices.data(), Device::cpu(), d.indices, kGpu, got_indices.size() * 4,
                            gpu.cuda_stream());
  looped_host.visit([&](const auto& csc, const auto*) {
    CHECK(std::equal(got_indptr.begin(), got_indptr.end(), csc.indptr));
    CHECK(std::equal(got_indices.begin(), got_indices.end(), csc.indices));
  });
  // GatConv (self loops added inside) on the device adjacency against the host one.
  ParameterList hp, dp;
  const GatConvOptions o{16, 16, 8, 2, true, 0.2, 0.0, true, true};
  GatConv on_host(hp, "gat", o, 5), on_device(dp, "gat", o, 5);
  dp.to(gpu);
  const Tensor x = random_matrix(400, 16, 3), xd = x.to(kGpu);
  GatConv::Cache hc, dc;
  const Tensor y = on_host.forward(cpu, host, x, slice_rows(x, 0, 300), {true, 1, false}, &hc);
  const Tensor yd = on_device.forward(gpu, device, xd, slice_rows(xd, 0, 300), {true, 1, false}, &dc);
  CHECK(rel_error(yd, y) <= 1e-4);
  const Tensor g = random_matrix(300, 16, 4);
  const ConvGrads gh = on_host.backward(cpu, hc, g);
  const ConvGrads gd = on_device.backward(gpu, dc, g.to(kGpu));
  CHECK(rel_error(gd.x_src, gh.x_src) <= 1e-4);
  for (std::size_t i = 0; i < hp.size(); ++i) {
    INFO(hp[i]->name);
    CHECK(rel_error(dp[i]->grad, hp[i]->grad) <= 1e-4);
  }
}

TEST_CASE("A training step from a GPU-sampled batch never leaves the device and matches the CPU") {
  // Graph, features and labels live on the GPU; per step: DeviceSampler -> select_rows of
  // features and labels -> layer_graphs of the device batch -> forward -> tensor-label
  // cross-entropy -> backward -> Adam. The CPU build of the sampler gives the same batch, so
  // the CPU runs the same step.
  const Context gpu = Context::cuda(0, 21), cpu = Context::cpu(2, 21);
  std::mt19937 rng(5);
  const std::int64_t n = 5000, F = 24, classes = 5;
  std::vector<std::int64_t> src, dst;
  for (std::int64_t v = 0; v < n; ++v)
    for (int k = v % 13 == 0 ? 0 : int(rng() % 30); k > 0; --k) {
      src.push_back(std::int64_t(rng() % n));
      dst.push_back(v);
    }
  const std::int64_t e = std::int64_t(src.size());
  const HeteroGraph graph =
      HeteroGraph::from_coo(cpu, n, TensorView(src.data(), DType::kInt64, Device::cpu(), {e}),
                            TensorView(dst.data(), DType::kInt64, Device::cpu(), {e}));
  const Tensor features = random_matrix(n, F, 6), features_d = features.to(kGpu);
  Tensor labels = Tensor::empty({n}, DType::kInt64);
  for (std::int64_t i = 0; i < n; ++i) labels.data_as<std::int64_t>()[i] = i % 17 == 0 ? -1 : std::int64_t(rng() % classes);
  const Tensor labels_d = labels.to(kGpu);
  const DeviceSampler on_cpu(DeviceGraph::upload(cpu, graph), {10, 5});
  const DeviceSampler on_gpu(DeviceGraph::upload(gpu, graph), {10, 5});
  for (ConvKind conv : {ConvKind::kSage, ConvKind::kGat}) {
    CAPTURE(int(conv));
    GnnModelOptions o;
    o.conv = conv;
    o.hidden = 32;
    o.heads = 4;
    o.out = classes;
    o.dropout = 0.3;
    GnnModel host(ModelSpec::homogeneous(F), o, 4), device(ModelSpec::homogeneous(F), o, 4);
    device.parameters().to(gpu);
    Adam host_opt(host.parameters(), {.lr = 0.01}), device_opt(device.parameters(), {.lr = 0.01});
    for (std::uint64_t step = 0; step < 3; ++step) {
      CAPTURE(step);
      std::vector<std::int64_t> seeds(512);
      for (auto& s : seeds) s = std::int64_t(rng() % n);
      const TensorView sv(seeds.data(), DType::kInt64, Device::cpu(), {512});
      const Tensor seeds_d = Tensor::wrap(sv, nullptr).to(kGpu);
      const ForwardMode mode{true, 50 + step, false};
      auto train = [&](const Context& ctx, const DeviceSampler& sampler, const TensorView& seed_ids, GnnModel& model,
                       Adam& opt, const Tensor& x_all, const Tensor& y_all, Tensor& logits_out) {
        const DeviceMiniBatch mb = sampler.sample(ctx, seed_ids, step);
        const auto layers = layer_graphs(mb, 2, ctx.num_threads());
        GnnModel::Cache cache;
        logits_out = model.forward(ctx, layers, {select_rows(ctx, x_all, mb.nodes[0])}, mode, &cache);
        Tensor grad = Tensor::empty(logits_out.shape(), DType::kFloat32, ctx.device());
        const double loss = cross_entropy(ctx, logits_out, select_rows(ctx, y_all, mb.output_nodes()), grad);
        opt.zero_grad();
        model.backward(ctx, layers, cache, grad, false);
        opt.step(ctx);
        return loss;
      };
      Tensor logits_h, logits_d;
      const double lh = train(cpu, on_cpu, sv, host, host_opt, features, labels, logits_h);
      const double ld = train(gpu, on_gpu, seeds_d, device, device_opt, features_d, labels_d, logits_d);
      CHECK(rel_error(logits_d, logits_h) <= 1e-4);
      CHECK(std::abs(ld - lh) <= 1e-4 * std::max(1.0, std::abs(lh)));
      for (std::size_t i = 0; i < host.parameters().size(); ++i) {
        INFO(host.parameters()[i]->name);
        CHECK(rel_error(device.parameters()[i]->value, host.parameters()[i]->value) <= 1e-4);
      }
    }
  }
  // Bad ids and labels on the device are named, and the context stays usable.
  const std::vector<std::int64_t> bad{3, n};
  const Tensor bad_d = Tensor::wrap(TensorView(const_cast<std::int64_t*>(bad.data()), DType::kInt64, Device::cpu(), {2}),
                                    nullptr).to(kGpu);
  CHECK_THROWS_MATCHES(select_rows(gpu, features_d, bad_d), OutOfRange,
                       Catch::Matchers::Message("select_rows: 'ids' span [3, 5000], outside the 5000 rows of 'x' "
                                                "float32[5000, 24] on cuda:0"));
  CHECK_THROWS_MATCHES(cross_entropy(gpu, random_matrix(2, 4, 1).to(kGpu), bad_d), OutOfRange,
                       Catch::Matchers::Message("cross_entropy: 'labels' span [3, 5000]: each must be -1 (ignored) "
                                                "or in [0, 4)"));
  CHECK(select_rows(gpu, labels_d, TensorView(bad_d.data(), DType::kInt64, kGpu, {1})).numel() == 1);  // id 3 alone
}
