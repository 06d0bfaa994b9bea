// Optimisers against scalar transcriptions of PyTorch's documented algorithms (torch.optim.SGD,
// Adam, AdamW pseudo-code), convergence on a quadratic, state round trips and clipping.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "gnnkit/train/optimizer.hpp"

using namespace gnnkit;
using Catch::Matchers::Contains;

namespace {

const Context ctx = Context::cpu(2);

/// Two parameters ("w" [3, 4] and "b" [4]) of the given dtype, seeded.
ParameterList make_params(DType dtype, std::uint64_t seed = 1) {
  ParameterList params;
  params.add("w", {3, 4}, Init::kGlorotUniform, seed, dtype);
  params.add("b", {4}, Init::kNormal, seed, dtype, 0.5);
  return params;
}

template <typename T>
std::vector<double> values(const Parameter& p) {
  const T* v = p.value.data_as<T>();
  return std::vector<double>(v, v + p.numel());
}
std::vector<double> all_values(const ParameterList& params) {
  std::vector<double> out;
  for (const auto& p : params) {
    const auto v = p->value.dtype() == DType::kFloat64 ? values<double>(*p) : values<float>(*p);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

/// Gradient of a loss that depends on the values, so every step sees new gradients:
/// g_j = sin(3 x_j + j) + 0.1 x_j (varied signs and scales).
double grad_of(double x, std::size_t j) { return std::sin(3 * x + double(j)) + 0.1 * x; }

void set_grads(const ParameterList& params) {
  std::size_t j = 0;
  for (const auto& p : params) {
    for (std::int64_t i = 0; i < p->numel(); ++i, ++j) {
      if (p->value.dtype() == DType::kFloat64)
        p->grad.data_as<double>()[i] = grad_of(p->value.data_as<double>()[i], j);
      else
        p->grad.data_as<float>()[i] = float(grad_of(p->value.data_as<float>()[i], j));
    }
  }
}

/// torch.optim.SGD's documented algorithm on a flat vector.
struct RefSgd {
  SgdOptions o;
  std::vector<double> buf;
  int t = 0;
  void step(std::vector<double>& x) {
    ++t;
    buf.resize(x.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
      double g = grad_of(x[j], j);
      if (o.weight_decay != 0) g = g + o.weight_decay * x[j];
      if (o.momentum != 0) {
        if (t > 1)
          buf[j] = o.momentum * buf[j] + (1 - o.dampening) * g;
        else
          buf[j] = g;
        g = o.nesterov ? g + o.momentum * buf[j] : buf[j];
      }
      x[j] = x[j] - o.lr * g;
    }
  }
};

/// torch.optim.Adam / AdamW's documented algorithm on a flat vector.
struct RefAdam {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
  std::vector<double> m, v;
  int t = 0;
  void step(std::vector<double>& x) {
    ++t;
    m.resize(x.size());
    v.resize(x.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
      double g = grad_of(x[j], j);
      if (decoupled)
        x[j] = x[j] - lr * weight_decay * x[j];
      else if (weight_decay != 0)
        g = g + weight_decay * x[j];
      m[j] = beta1 * m[j] + (1 - beta1) * g;
      v[j] = beta2 * v[j] + (1 - beta2) * g * g;
      const double m_hat = m[j] / (1 - std::pow(beta1, t));
      const double v_hat = v[j] / (1 - std::pow(beta2, t));
      x[j] = x[j] - lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
};

void require_close(const std::vector<double>& a, const std::vector<double>& b, double rel) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("element " << i);
    REQUIRE(a[i] == Approx(b[i]).epsilon(rel).margin(rel));
  }
}

}  // namespace

TEST_CASE("Sgd follows torch.optim.SGD", "[train][optimizer]") {
  const std::vector<SgdOptions> variants = {{0.1, 0, 0, false, 0},      {0.1, 0.9, 0, false, 0},
                                            {0.05, 0.9, 0.3, false, 0}, {0.1, 0.8, 0, true, 0},
                                            {0.1, 0.9, 0, true, 0.01},  {0.2, 0, 0, false, 0.05}};
  for (std::size_t v = 0; v < variants.size(); ++v) {
    for (DType dtype : {DType::kFloat64, DType::kFloat32}) {
      INFO("variant " << v << " dtype " << dtype);
      ParameterList params = make_params(dtype);
      Sgd opt(params, variants[v]);
      RefSgd ref{variants[v], {}, 0};
      auto x = all_values(params);
      for (int s = 0; s < 6; ++s) {
        set_grads(params);
        opt.step(ctx);
        ref.step(x);
      }
      REQUIRE(opt.step_count() == 6);
      require_close(all_values(params), x, dtype == DType::kFloat64 ? 1e-13 : 2e-5);
    }
  }
}

TEST_CASE("Adam and AdamW follow torch.optim, including a learning-rate change",
          "[train][optimizer]") {
  for (bool decoupled : {false, true}) {
    for (DType dtype : {DType::kFloat64, DType::kFloat32}) {
      INFO((decoupled ? "AdamW" : "Adam") << " " << dtype);
      ParameterList params = make_params(dtype, 2);
      std::unique_ptr<Optimizer> opt;
      if (decoupled)
        opt = std::make_unique<AdamW>(params, AdamWOptions{0.01, 0.8, 0.95, 1e-6, 0.1});
      else
        opt = std::make_unique<Adam>(params, AdamOptions{0.01, 0.8, 0.95, 1e-6, 0.1});
      REQUIRE(opt->name() == (decoupled ? "AdamW" : "Adam"));
      RefAdam ref{0.01, 0.8, 0.95, 1e-6, 0.1, decoupled, {}, {}, 0};
      auto x = all_values(params);
      for (int s = 0; s < 8; ++s) {
        if (s == 4) {  // a schedule halves the rate
          opt->set_learning_rate(0.005);
          ref.lr = 0.005;
        }
        set_grads(params);
        opt->step(ctx);
        ref.step(x);
      }
      require_close(all_values(params), x, dtype == DType::kFloat64 ? 1e-12 : 2e-5);
    }
  }
  SECTION("default hyper-parameters are PyTorch's") {
    ParameterList params = make_params(DType::kFloat64);
    REQUIRE(AdamW(params).options().weight_decay == 0.01);
    REQUIRE(Adam(params).options().weight_decay == 0.0);
    REQUIRE(Adam(params).learning_rate() == 1e-3);
  }
}

TEST_CASE("Adam minimises a quadratic", "[train][optimizer]") {
  ParameterList params;
  auto w = params.add("w", {50}, Init::kNormal, 3, DType::kFloat32, 3.0);
  Adam opt(params, {.lr = 0.05});
  // f(w) = Σ a_j (w_j - c_j)², badly conditioned (a from 0.1 to 10).
  auto loss = [&] {
    double f = 0;
    for (int j = 0; j < 50; ++j) {
      const double a = 0.1 + 0.2 * j, c = std::cos(j);
      const double d = w->value.data_as<float>()[j] - c;
      f += a * d * d;
      w->grad.data_as<float>()[j] = float(2 * a * d);
    }
    return f;
  };
  const double start = loss();
  for (int s = 0; s < 3000; ++s) {
    loss();
    opt.step(ctx);
  }
  REQUIRE(start > 10);
  REQUIRE(loss() < 1e-6);
  for (int j = 0; j < 50; ++j)
    REQUIRE(w->value.data_as<float>()[j] == Approx(std::cos(j)).margin(1e-3));
}

TEST_CASE("row-sparse parameters: lazy Adam and SGD update only the touched rows", "[train][optimizer]") {
  ParameterList params;
  auto table = params.add("table", {6, 3}, Init::kNormal, 5, DType::kFloat64, 0.5);
  table->sparse_rows = true;
  const bool sgd = GENERATE(false, true);
  CAPTURE(sgd);
  std::unique_ptr<Optimizer> opt;
  if (sgd) opt = std::make_unique<Sgd>(params, SgdOptions{0.1, 0.9, 0.0, false, 0.01});
  else opt = std::make_unique<Adam>(params, AdamOptions{0.05, 0.8, 0.95, 1e-8, 0.01});
  std::vector<double> x(table->value.data_as<double>(), table->value.data_as<double>() + 18);
  std::vector<double> m(18, 0), v(18, 0), buf(18, 0);
  std::vector<bool> seen(18, false);
  const std::vector<std::vector<std::int64_t>> rows = {{0, 2}, {4, 2, 1}, {2}, {5, 0}};
  for (int t = 1; t <= 4; ++t) {
    params.zero_grad();
    for (std::int64_t r = 0; r < 6; ++r)  // zero_grad cleared the previous step's rows
      for (int c = 0; c < 3; ++c) REQUIRE(table->grad.data_as<double>()[r * 3 + c] == 0);
    REQUIRE(table->touched_rows.empty());
    for (const std::int64_t r : rows[std::size_t(t - 1)])
      for (int c = 0; c < 3; ++c)
        table->grad.data_as<double>()[r * 3 + c] = grad_of(x[std::size_t(r * 3 + c)], std::size_t(r * 3 + c));
    table->mark_rows(rows[std::size_t(t - 1)]);
    opt->step(ctx);
    // Reference: the dense rule applied to the touched rows' elements only, with the global
    // step count for Adam's bias correction (torch.optim.SparseAdam / TF LazyAdam).
    for (const std::int64_t r : rows[std::size_t(t - 1)])
      for (std::size_t j = std::size_t(r * 3); j < std::size_t(r * 3 + 3); ++j) {
        const double g = grad_of(x[j], j) + 0.01 * x[j];
        if (sgd) {
          buf[j] = seen[j] ? 0.9 * buf[j] + g : g;
          seen[j] = true;
          x[j] -= 0.1 * buf[j];
        } else {
          m[j] = 0.8 * m[j] + 0.2 * g;
          v[j] = 0.95 * v[j] + 0.05 * g * g;
          x[j] -= 0.05 * (m[j] / (1 - std::pow(0.8, t))) / (std::sqrt(v[j] / (1 - std::pow(0.95, t))) + 1e-8);
        }
      }
    require_close(values<double>(*table), x, 1e-12);
  }
  // Row 3 was never touched: it still has its initial value, which a dense step with weight
  // decay would have changed.
  REQUIRE_THROWS_WITH(table->mark_rows(std::vector<std::int64_t>{7}),
                      Contains("row 7 of parameter 'table' must be in [0, 6)"));
  // Rows written into the list directly are checked before anything changes.
  params.zero_grad();
  table->touched_rows = {3, 2};
  const auto steps = opt->step_count();
  REQUIRE_THROWS_WITH(opt->step(ctx), Contains("sorted and unique"));
  CHECK(opt->step_count() == steps);
  require_close(values<double>(*table), x, 1e-12);
}

TEST_CASE("large parameters update identically for any thread count", "[train][optimizer]") {
  auto run = [](int threads) {
    ParameterList params;
    params.add("big", {300, 500}, Init::kGlorotUniform, 4);  // 150k > the parallel threshold
    Adam opt(params, {.lr = 0.01, .weight_decay = 0.01});
    for (int s = 0; s < 3; ++s) {
      set_grads(params);
      opt.step(Context::cpu(threads));
    }
    return all_values(params);
  };
  REQUIRE(run(1) == run(3));
}

TEST_CASE("optimizer state round-trips and failed loads change nothing", "[train][optimizer]") {
  ParameterList a = make_params(DType::kFloat32, 5);
  Adam opt_a(a, {.lr = 0.02, .beta1 = 0.8, .eps = 1e-6, .weight_decay = 0.01});
  for (int s = 0; s < 3; ++s) {
    set_grads(a);
    opt_a.step(ctx);
  }
  opt_a.set_learning_rate(0.015);
  // A second model with the same names, copied weights and a fresh optimiser.
  ParameterList b = make_params(DType::kFloat32, 99);
  for (std::size_t i = 0; i < a.size(); ++i)
    std::memcpy(b[i]->value.data(), a[i]->value.data(), a[i]->value.nbytes());
  Adam opt_b(b);
  const auto state = opt_a.state();
  REQUIRE(state.size() == 3 + 2 * 2);
  REQUIRE(state[0].name == "step");
  REQUIRE(state[2].name == "hyper/Adam");
  REQUIRE(state[3].name == "w/exp_avg");
  REQUIRE(state[6].name == "b/exp_avg_sq");
  opt_b.load_state(state);
  REQUIRE(opt_b.step_count() == 3);
  REQUIRE(opt_b.learning_rate() == 0.015);
  REQUIRE(opt_b.options().beta1 == 0.8);  // hyper-parameters come with the state
  REQUIRE(opt_b.options().beta2 == 0.999);
  REQUIRE(opt_b.options().eps == 1e-6);
  REQUIRE(opt_b.options().weight_decay == 0.01);
  for (int s = 0; s < 3; ++s) {
    set_grads(a);
    set_grads(b);
    opt_a.step(ctx);
    opt_b.step(ctx);
  }
  REQUIRE(all_values(a) == all_values(b));

  SECTION("bad states are rejected before anything changes") {
    Adam fresh(b);
    auto missing = opt_a.state();
    missing.pop_back();
    REQUIRE_THROWS_WITH(fresh.load_state(missing),
                        "Adam::load_state: missing state entry 'b/exp_avg_sq'");
    auto unknown = opt_a.state();
    unknown.push_back({"c/exp_avg", unknown[3].tensor});
    REQUIRE_THROWS_WITH(fresh.load_state(unknown), Contains("unknown state entry 'c/exp_avg'"));
    auto reshaped = opt_a.state();
    reshaped[4].tensor = Tensor::zeros({4, 3}, DType::kFloat32);
    REQUIRE_THROWS_MATCHES(fresh.load_state(reshaped), ShapeMismatch,
                           Catch::Matchers::Message("Adam::load_state: state entry "
                                                    "'w/exp_avg_sq' must have shape [3, 4], got "
                                                    "[4, 3]"));
    auto retyped = opt_a.state();
    retyped[3].tensor = Tensor::zeros({3, 4}, DType::kFloat64);
    REQUIRE_THROWS_AS(fresh.load_state(retyped), InvalidArgument);
    Sgd sgd(b, {.lr = 0.1, .momentum = 0.9});
    REQUIRE_THROWS_WITH(sgd.load_state(opt_a.state()),
                        "Sgd::load_state: the state was saved by Adam, not by Sgd");
    AdamW adamw(b);
    REQUIRE_THROWS_WITH(adamw.load_state(opt_a.state()), Contains("saved by Adam, not by AdamW"));
    auto bad_hyper = opt_a.state();
    bad_hyper[2].tensor = Tensor::empty({4}, DType::kFloat64);
    const double values[] = {1.0, 0.999, 1e-8, 0.0};
    std::memcpy(bad_hyper[2].tensor.data(), values, sizeof values);
    REQUIRE_THROWS_WITH(fresh.load_state(bad_hyper),
                        "Adam::load_state: 'beta1' must be in [0, 1), got 1");
    REQUIRE(fresh.step_count() == 0);
    REQUIRE(fresh.options().beta1 == 0.9);
    REQUIRE(sgd.step_count() == 0);
  }
}

TEST_CASE("a parameter named 'hyper' keeps its own state loadable", "[train][optimizer]") {
  ParameterList params;
  params.add("hyper", {2}, Init::kNormal, 3, DType::kFloat32, 0.5);
  Adam opt(params);
  fill(ctx, params[0]->grad.view(), 0.25);
  opt.step(ctx);
  const auto state = opt.state();
  REQUIRE(std::any_of(state.begin(), state.end(), [](const auto& e) { return e.name == "hyper/exp_avg"; }));
  Adam again(params);
  again.load_state(state);
  REQUIRE(again.step_count() == 1);
  // Another optimiser's record is still recognised as one.
  Sgd sgd(params);
  REQUIRE_THROWS_WITH(sgd.load_state(state), Catch::Contains("the state was saved by Adam, not by Sgd"));
}

TEST_CASE("optimizers validate their arguments", "[train][optimizer]") {
  ParameterList params = make_params(DType::kFloat64);
  REQUIRE_THROWS_WITH(Sgd(params, {.lr = 0.1, .nesterov = true}),
                      Contains("Sgd: 'nesterov' needs momentum > 0 and dampening 0"));
  REQUIRE_THROWS_AS(Sgd(params, {.lr = -1}), InvalidArgument);
  REQUIRE_THROWS_WITH(Adam(params, {.beta1 = 1.0}), Contains("Adam: 'beta1' must be in [0, 1)"));
  REQUIRE_THROWS_WITH(AdamW(params, {.eps = -1}), Contains("AdamW: 'eps' must be finite"));
  REQUIRE_THROWS_WITH(Adam(ParameterList()), Contains("'params' must not be empty"));
  Adam opt(params);
  REQUIRE_THROWS_AS(opt.set_learning_rate(NAN), InvalidArgument);
  // A parameter on a GPU (a view that is never dereferenced) is named in the error: on
  // another device than the context, or in a form the CUDA updates do not take.
  ParameterList gpu;
  auto real = gpu.add("ok", {4}, Init::kZeros, 0);
  Sgd sgd(gpu);
  float fake[4] = {1, 2, 3, 4};
  const Tensor on_gpu = Tensor::wrap(TensorView(fake, DType::kFloat32, Device::cuda(0), {4}),
                                     std::make_shared<int>());
  real->value = on_gpu;
  real->grad = on_gpu;
  REQUIRE_THROWS_MATCHES(
      sgd.step(ctx), DeviceMismatch,
      Catch::Matchers::Message("Sgd::step: parameter 'ok' is on cuda:0, but the context is on cpu"));
  REQUIRE_THROWS_MATCHES(
      clip_grad_norm(ctx, gpu, 1.0), DeviceMismatch,
      Catch::Matchers::Message("clip_grad_norm: parameter 'ok' is on cuda:0, but the context is on cpu"));
  real->sparse_rows = true;
  REQUIRE_THROWS_MATCHES(Adam(gpu), NotCompiled,
                         Catch::Matchers::Message("Adam: parameter 'ok' is float32[4] on cuda:0 with "
                                                  "row-sparse gradients: the CUDA updates take float32 "
                                                  "with dense gradients"));
  // zero_grad fills a GPU gradient on the device (never a host memset of device memory):
  // here, without a device, that is an error (NotCompiled, or DeviceError with CUDA built).
  REQUIRE_THROWS_AS(gpu.zero_grad(), Error);
  REQUIRE(fake[0] == 1.f);  // untouched (not zeroed on the host)
  double fake64[4];
  real->sparse_rows = false;
  real->value = real->grad = Tensor::wrap(TensorView(fake64, DType::kFloat64, Device::cuda(0), {4}),
                                          std::make_shared<int>());
  REQUIRE_THROWS_WITH(Adam(gpu), Contains("Adam: parameter 'ok' is float64[4] on cuda:0: the CUDA "
                                          "updates take float32"));
  // A gradient that does not match its parameter.
  ParameterList mismatched = make_params(DType::kFloat64);
  Sgd sgd2(mismatched);
  mismatched[0]->grad = Tensor::zeros({2}, DType::kFloat64);
  REQUIRE_THROWS_WITH(sgd2.step(ctx), Contains("gradient of parameter 'w' must be"));
}

TEST_CASE("clip_grad_norm scales all gradients by max_norm / norm", "[train][optimizer]") {
  ParameterList params = make_params(DType::kFloat32);
  set_grads(params);
  double sq = 0;
  std::vector<double> before;
  for (const auto& p : params)
    for (std::int64_t i = 0; i < p->numel(); ++i) {
      const double g = p->grad.data_as<float>()[i];
      sq += g * g;
      before.push_back(g);
    }
  const double norm = std::sqrt(sq);
  REQUIRE(norm > 1);
  REQUIRE(clip_grad_norm(ctx, params, 10 * norm) == Approx(norm).epsilon(1e-12));
  std::size_t j = 0;
  for (const auto& p : params)  // under the limit: untouched
    for (std::int64_t i = 0; i < p->numel(); ++i)
      REQUIRE(p->grad.data_as<float>()[i] == float(before[j++]));
  REQUIRE(clip_grad_norm(ctx, params, 0.5) == Approx(norm).epsilon(1e-12));
  j = 0;
  double after = 0;
  for (const auto& p : params)
    for (std::int64_t i = 0; i < p->numel(); ++i, ++j) {
      const double g = p->grad.data_as<float>()[i];
      REQUIRE(g == Approx(before[j] * 0.5 / (norm + 1e-6)).epsilon(1e-6));
      after += g * g;
    }
  REQUIRE(std::sqrt(after) == Approx(0.5).epsilon(1e-5));
  params[1]->grad.data_as<float>()[2] = INFINITY;
  REQUIRE_THROWS_WITH(clip_grad_norm(ctx, params, 1.0),
                      Contains("gradient of parameter 'b' must be finite"));
  REQUIRE_THROWS_AS(clip_grad_norm(ctx, params, 0.0), InvalidArgument);
}

TEST_CASE("Sgd state carries momentum buffers and hyper-parameters", "[train][optimizer]") {
  ParameterList a = make_params(DType::kFloat64, 6);
  Sgd opt_a(a, {.lr = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 0.01});
  for (int s = 0; s < 2; ++s) {
    set_grads(a);
    opt_a.step(ctx);
  }
  ParameterList b = make_params(DType::kFloat64, 7);
  for (std::size_t i = 0; i < a.size(); ++i)
    std::memcpy(b[i]->value.data(), a[i]->value.data(), a[i]->value.nbytes());
  Sgd opt_b(b, {.lr = 1.0, .momentum = 0.5});
  opt_b.load_state(opt_a.state());
  REQUIRE(opt_b.options().nesterov);
  REQUIRE(opt_b.options().momentum == 0.9);
  REQUIRE(opt_b.learning_rate() == 0.05);
  for (int s = 0; s < 3; ++s) {
    set_grads(a);
    set_grads(b);
    opt_a.step(ctx);
    opt_b.step(ctx);
  }
  REQUIRE(all_values(a) == all_values(b));
  Sgd plain(b, {.lr = 0.1});
  REQUIRE_THROWS_WITH(plain.load_state(opt_a.state()),
                      Contains("the state has momentum 0.9 but this Sgd has momentum 0"));
}
