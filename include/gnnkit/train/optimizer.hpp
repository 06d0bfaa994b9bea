#pragma once
/// @file
/// Optimisers over a ParameterList, with PyTorch's update rules: SGD (momentum, dampening,
/// Nesterov, weight decay), Adam (L2 penalty added to the gradient) and AdamW (decoupled
/// weight decay), plus global gradient-norm clipping.
///
/// An optimiser shares the parameters of the list it was built from (the list is copied, the
/// parameters are not): parameters added to the list later are not seen. Its state (step
/// count, learning rate, per-parameter buffers) is exported and imported as named tensors
/// for checkpoints. Updates run element-wise in double and store in the parameter's dtype
/// (float32 or float64), in parallel over the context's threads for large parameters, or
/// on the GPU (float32, dense gradients) when the parameters were moved there
/// (ParameterList::to) before the optimiser was built: one kernel per parameter on the
/// context's stream, the same arithmetic.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gnnkit/core/context.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/core/tensor.hpp"
#include "gnnkit/kernels/cuda_ops.hpp"
#include "gnnkit/nn/parameter.hpp"
#include "gnnkit/train/common.hpp"
#include "gnnkit/train/update_rules.hpp"

namespace gnnkit {

/// @brief A tensor with a name: one entry of an optimiser's exported state.
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

namespace train_detail {

/// Elements below which an update runs on one thread (a parallel region costs microseconds).
inline constexpr std::int64_t kParallelElements = std::int64_t(1) << 15;

/// Shape as "[2, 3]" for messages.
inline std::string shape_str(std::span<const std::int64_t> shape) {
  std::string out = "[";
  for (std::size_t d = 0; d < shape.size(); ++d) out += (d ? ", " : "") + std::to_string(shape[d]);
  return out + "]";
}

/// The parameter must be defined, contiguous, float32 with dense gradients on a GPU, and
/// have a gradient like its value.
inline void check_parameter(const std::string& fn, const Parameter& p) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), p.value.defined(), "parameter '{}' is undefined",
                    p.name);
  if (p.value.device().is_cuda())
    GNNKIT_EXPECTS_AS(NotCompiled, fn.c_str(), p.value.dtype() == DType::kFloat32 && !p.sparse_rows,
                      "parameter '{}' is {}{}: the CUDA updates take float32 with dense gradients",
                      p.name, p.value.str(), p.sparse_rows ? " with row-sparse gradients" : "");
  GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(),
                    p.value.dtype() == DType::kFloat32 || p.value.dtype() == DType::kFloat64,
                    "parameter '{}' must be float32 or float64, got {}", p.name, p.value.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), p.value.is_contiguous(),
                    "parameter '{}' must be contiguous", p.name);
  const bool grad_ok = p.grad.defined() && p.grad.dtype() == p.value.dtype() &&
                       p.grad.device() == p.value.device() && p.grad.numel() == p.value.numel() &&
                       p.grad.is_contiguous();
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn.c_str(), grad_ok,
                    "gradient of parameter '{}' must be a contiguous {} like its value, got {}",
                    p.name, p.value.str(), p.grad.defined() ? p.grad.str() : "undefined");
}

}  // namespace train_detail

/// @brief Base of the optimisers: owns the step count, the learning rate and per-parameter
/// state buffers (each shaped and typed like its parameter).
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// @brief Applies one update to every parameter from its current gradient.
  /// @param ctx a context on the parameters' device (CPU: threads; GPU: the stream)
  /// @throws DeviceMismatch (a parameter or its state not on ctx's device), NotCompiled (a
  ///         CUDA parameter the kernels do not take), ShapeMismatch (a gradient that no
  ///         longer matches its parameter)
  void step(const Context& ctx) {
    const std::string fn = name() + "::step";
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const auto& p = params_[i];
      train_detail::check_parameter(fn, *p);
      GNNKIT_EXPECTS_AS(DeviceMismatch, fn.c_str(), p->value.device() == ctx.device(),
                        "parameter '{}' is on {}, but the context is on {}", p->name,
                        p->value.device(), ctx.device());
      for (const Tensor& b : buffers_[i])
        GNNKIT_EXPECTS_AS(DeviceMismatch, fn.c_str(), b.device() == p->value.device(),
                          "the state of parameter '{}' is on {}, the parameter on {}: build the "
                          "optimiser after moving the parameters (ParameterList::to)", p->name,
                          b.device(), p->value.device());
      if (!p->sparse_rows) continue;
      // Before anything changes: a bad row must not leave a half-applied step.
      const std::int64_t n = p->value.ndim() ? p->value.size(0) : 1;
      for (std::size_t k = 0; k < p->touched_rows.size(); ++k)
        GNNKIT_EXPECTS_AS(OutOfRange, fn.c_str(),
                          p->touched_rows[k] >= 0 && p->touched_rows[k] < n &&
                              (k == 0 || p->touched_rows[k - 1] < p->touched_rows[k]),
                          "touched row {} of parameter '{}' must be in [0, {}) and the rows "
                          "sorted and unique (use Parameter::mark_rows)", p->touched_rows[k], p->name, n);
    }
    ++step_count_;
    for (std::size_t i = 0; i < params_.size(); ++i) update(ctx, i);
  }

  /// @brief Sets every gradient of the optimised parameters to zero.
  void zero_grad() { params_.zero_grad(); }

  /// @brief The learning rate of the next step.
  double learning_rate() const noexcept { return lr_; }
  /// @brief Sets the learning rate (for schedules). @throws InvalidArgument unless finite, >= 0
  void set_learning_rate(double lr) {
    GNNKIT_EXPECTS_AS(InvalidArgument, (name() + "::set_learning_rate").c_str(),
                      lr >= 0 && std::isfinite(lr), "'lr' must be finite and >= 0, got {}", lr);
    lr_ = lr;
  }
  /// @brief Number of steps taken (Adam's bias correction uses it; SGD's first step too).
  std::int64_t step_count() const noexcept { return step_count_; }
  /// @brief The optimised parameters.
  const ParameterList& params() const noexcept { return params_; }
  /// @brief "Sgd", "Adam" or "AdamW": recorded in checkpoints, used in error messages.
  virtual std::string name() const = 0;

  /// @brief The state as named tensors: "step" (int64 [1]), "lr" (float64 [1]),
  /// "hyper/<name()>" (float64: the other hyper-parameters, e.g. Adam's beta1, beta2, eps,
  /// weight_decay; the name tells which optimiser the state is for) and
  /// one "<parameter>/<buffer>" per buffer (e.g. "conv1.weight/exp_avg"). Like PyTorch's
  /// state_dict, loading it restores the hyper-parameters too. The buffer tensors are the
  /// live state (shared, not copied): clone them to keep a snapshot. For parameters on a GPU
  /// the buffers are host copies (snapshots, waited for).
  std::vector<NamedTensor> state() const {
    std::vector<NamedTensor> out;
    Tensor step = Tensor::empty({1}, DType::kInt64);
    *step.data_as<std::int64_t>() = step_count_;
    Tensor lr = Tensor::empty({1}, DType::kFloat64);
    *lr.data_as<double>() = lr_;
    const std::vector<double> values = hyper_parameters();
    Tensor hyper = Tensor::empty({std::int64_t(values.size())}, DType::kFloat64);
    std::memcpy(hyper.data(), values.data(), hyper.nbytes());
    out.push_back({"step", step});
    out.push_back({"lr", lr});
    out.push_back({hyper_entry(), hyper});
    for (std::size_t i = 0; i < params_.size(); ++i)
      for (std::size_t b = 0; b < buffer_names_.size(); ++b)
        out.push_back({params_[i]->name + "/" + buffer_names_[b],
                       buffers_[i][b].device().is_cpu() ? buffers_[i][b] : buffers_[i][b].to(Device::cpu())});
    return out;
  }

  /// @brief Restores a state exported by state() of the same kind of optimiser over
  /// parameters of the same names and shapes. Everything is checked before anything is
  /// changed, so a failed load leaves the optimiser as it was.
  /// @throws InvalidArgument (a missing, duplicated or unknown entry, a wrong dtype, a
  ///         negative step, invalid lr or hyper-parameters, SGD momentum on/off differing
  ///         from this optimiser's), ShapeMismatch (an entry's shape differs from its
  ///         parameter's: names both shapes)
  void load_state(std::span<const NamedTensor> state) {
    const std::string fn = name() + "::load_state";
    // Hyper-parameters first: a state saved with other settings (e.g. SGD with momentum into
    // one without) then gets that explanation rather than a list of unexpected buffers.
    const std::size_t num_hyper = hyper_parameters().size();
    for (const auto& entry : state) {
      // (A buffer of a parameter named "hyper..." is this optimiser's own, not a record.)
      GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(),
                        !entry.name.starts_with("hyper/") || entry.name == hyper_entry() ||
                            slot_of(entry.name) != kNoSlot,
                        "the state was saved by {}, not by {}", entry.name.substr(6), name());
      if (entry.name == hyper_entry() && entry.tensor.defined() && entry.tensor.device().is_cpu() &&
          entry.tensor.dtype() == DType::kFloat64 && entry.tensor.ndim() == 1 &&
          entry.tensor.numel() == std::int64_t(num_hyper))
        check_hyper_parameters(fn, {entry.tensor.data_as<double>(), num_hyper});
    }
    std::vector<const Tensor*> found(kFixed + params_.size() * buffer_names_.size(), nullptr);
    for (const auto& entry : state) {
      const std::size_t slot = slot_of(entry.name);
      GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), slot != kNoSlot,
                        "unknown state entry '{}' (not a buffer of this {} over these "
                        "parameters)",
                        entry.name, name());
      GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), found[slot] == nullptr,
                        "state entry '{}' appears twice", entry.name);
      found[slot] = &entry.tensor;
    }
    for (std::size_t slot = 0; slot < found.size(); ++slot) {
      const std::string entry = slot_name(slot);
      GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), found[slot] != nullptr,
                        "missing state entry '{}'", entry);
      const Tensor& t = *found[slot];
      const Tensor& like =
          slot < kFixed ? t : params_[(slot - kFixed) / buffer_names_.size()]->value;
      const DType want = slot == 0 ? DType::kInt64 : slot < kFixed ? DType::kFloat64 : like.dtype();
      GNNKIT_EXPECTS_AS(
          InvalidArgument, fn.c_str(),
          t.defined() && t.device().is_cpu() && t.dtype() == want && t.is_contiguous(),
          "state entry '{}' must be a contiguous {} tensor on cpu, got {}", entry, want,
          t.defined() ? t.str() : std::string("undefined"));
      const std::int64_t fixed_size = slot == 2 ? std::int64_t(num_hyper) : 1;
      const std::int64_t fixed_shape[] = {fixed_size};
      const bool same_shape = slot < kFixed ? t.ndim() == 1 && t.numel() == fixed_size
                                            : std::equal(t.shape().begin(), t.shape().end(),
                                                         like.shape().begin(), like.shape().end());
      GNNKIT_EXPECTS_AS(ShapeMismatch, fn.c_str(), same_shape,
                        "state entry '{}' must have shape {}, got {}", entry,
                        train_detail::shape_str(slot < kFixed ? fixed_shape : like.shape()),
                        train_detail::shape_str(t.shape()));
    }
    const double* hyper = found[2]->data_as<double>();
    check_hyper_parameters(fn, {hyper, num_hyper});
    const std::int64_t step = *found[0]->data_as<std::int64_t>();
    const double lr = *found[1]->data_as<double>();
    GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), step >= 0, "'step' must be >= 0, got {}", step);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), lr >= 0 && std::isfinite(lr),
                      "'lr' must be finite and >= 0, got {}", lr);
    auto buffer = [&](std::size_t slot) -> Tensor& {
      return buffers_[(slot - kFixed) / buffer_names_.size()][(slot - kFixed) % buffer_names_.size()];
    };
    // GPU buffers are replaced by device copies, all made before anything changes (an upload
    // can fail).
    std::vector<Tensor> uploaded(found.size());
    for (std::size_t slot = kFixed; slot < found.size(); ++slot)
      if (!buffer(slot).device().is_cpu()) uploaded[slot] = found[slot]->to(buffer(slot).device());
    for (std::size_t slot = kFixed; slot < found.size(); ++slot) {
      Tensor& dst = buffer(slot);
      if (uploaded[slot].defined())
        dst = uploaded[slot];
      else if (dst.data() != found[slot]->data())  // state() of this very optimiser shares them
        std::memcpy(dst.data(), found[slot]->data(), dst.nbytes());
    }
    set_hyper_parameters({hyper, num_hyper});
    step_count_ = step;
    lr_ = lr;
  }

 protected:
  /// @param fn the constructor's name for messages
  /// @param params the parameters to optimise (shared); must not be empty
  /// @param lr learning rate, finite and >= 0
  /// @param buffer_names per-parameter state buffers, allocated zero-filled
  Optimizer(const std::string& fn, const ParameterList& params, double lr,
            std::vector<std::string> buffer_names)
      : params_(params), lr_(lr), buffer_names_(std::move(buffer_names)) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), params.size() > 0, "'params' must not be empty");
    GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), lr >= 0 && std::isfinite(lr),
                      "'lr' must be finite and >= 0, got {}", lr);
    for (const auto& p : params_) {
      train_detail::check_parameter(fn, *p);
      std::vector<Tensor> buffers;
      for (std::size_t b = 0; b < buffer_names_.size(); ++b)
        buffers.push_back(Tensor::zeros(p->value.shape(), p->value.dtype(), p->value.device()));
      buffers_.push_back(std::move(buffers));
    }
  }

  /// Updates parameter i; step_count_ already counts this step (1 on the first).
  virtual void update(const Context& ctx, std::size_t i) = 0;
  /// The hyper-parameters other than lr, in a fixed order, for state().
  virtual std::vector<double> hyper_parameters() const = 0;
  /// Throws InvalidArgument naming fn unless `values` can be loaded into this optimiser.
  virtual void check_hyper_parameters(const std::string& fn,
                                      std::span<const double> values) const = 0;
  /// Adopts checked values (the order of hyper_parameters()).
  virtual void set_hyper_parameters(std::span<const double> values) = 0;

  /// Runs f(j) for every element j of p to update, in parallel when there are many: all of
  /// them, or those of the touched rows of a row-sparse parameter (checked by step()).
  template <typename F>
  static void for_each_element(const Context& ctx, const Parameter& p, F&& f) {
    if (p.sparse_rows) {
      const std::int64_t width = p.row_size();
      const std::int64_t rows = std::int64_t(p.touched_rows.size());
#pragma omp parallel for num_threads(ctx.num_threads()) \
    schedule(static) if (rows * width > train_detail::kParallelElements)
      for (std::int64_t k = 0; k < rows; ++k) {
        const std::int64_t base = p.touched_rows[std::size_t(k)] * width;
        for (std::int64_t j = base; j < base + width; ++j) f(j);
      }
      return;
    }
    const std::int64_t n = p.numel();
#pragma omp parallel for num_threads(ctx.num_threads()) \
    schedule(static) if (n > train_detail::kParallelElements)
    for (std::int64_t j = 0; j < n; ++j) f(j);
  }

  ParameterList params_;
  double lr_;
  std::int64_t step_count_ = 0;
  std::vector<std::string> buffer_names_;
  std::vector<std::vector<Tensor>> buffers_;  ///< [parameter][buffer]

 private:
  static constexpr std::size_t kNoSlot = ~std::size_t(0);
  static constexpr std::size_t kFixed = 3;  ///< "step", "lr", "hyper/<name>"
  std::string hyper_entry() const { return "hyper/" + name(); }
  /// Slots: 0 "step", 1 "lr", 2 "hyper/<name>", then parameter-major buffers.
  std::size_t slot_of(std::string_view entry) const {
    if (entry == "step") return 0;
    if (entry == "lr") return 1;
    if (entry == hyper_entry()) return 2;
    for (std::size_t i = 0; i < params_.size(); ++i)
      for (std::size_t b = 0; b < buffer_names_.size(); ++b)
        if (entry == params_[i]->name + "/" + buffer_names_[b])
          return kFixed + i * buffer_names_.size() + b;
    return kNoSlot;
  }
  std::string slot_name(std::size_t slot) const {
    if (slot < kFixed) return slot == 0 ? "step" : slot == 1 ? "lr" : hyper_entry();
    const std::size_t nb = buffer_names_.size();
    return params_[(slot - kFixed) / nb]->name + "/" + buffer_names_[(slot - kFixed) % nb];
  }
};

/// @brief Hyper-parameters of Sgd (PyTorch's defaults except lr, which has none there).
struct SgdOptions {
  double lr = 0.01;         ///< learning rate
  double momentum = 0;      ///< momentum factor μ >= 0
  double dampening = 0;     ///< dampening of the momentum's gradient term
  bool nesterov = false;    ///< Nesterov momentum (needs momentum > 0, dampening 0)
  double weight_decay = 0;  ///< L2 penalty λ added to the gradient
};

/// @brief Stochastic gradient descent with PyTorch's `torch.optim.SGD` rule:
/// g = grad + λ p; with momentum, b = g on the first step, else b = μ b + (1 - dampening) g,
/// and g = g + μ b (Nesterov) or g = b; then p -= lr g. State: "momentum_buffer" per
/// parameter when momentum != 0.
class Sgd final : public Optimizer {
 public:
  /// @throws InvalidArgument (empty params, negative or non-finite hyper-parameters,
  ///         Nesterov without momentum or with dampening), NotCompiled (a CUDA parameter)
  Sgd(const ParameterList& params, SgdOptions options = {})
      : Optimizer(validated("Sgd", options), params, options.lr,
                  options.momentum != 0 ? std::vector<std::string>{"momentum_buffer"}
                                        : std::vector<std::string>{}),
        options_(options) {}

  std::string name() const override { return "Sgd"; }
  /// @brief The hyper-parameters (lr as given at construction; see learning_rate()).
  const SgdOptions& options() const noexcept { return options_; }

 private:
  static std::string validated(const char* fn, const SgdOptions& o) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.momentum >= 0 && std::isfinite(o.momentum),
                      "'momentum' must be finite and >= 0, got {}", o.momentum);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, std::isfinite(o.dampening),
                      "'dampening' must be finite, got {}", o.dampening);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.weight_decay >= 0 && std::isfinite(o.weight_decay),
                      "'weight_decay' must be finite and >= 0, got {}", o.weight_decay);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, !o.nesterov || (o.momentum > 0 && o.dampening == 0),
                      "'nesterov' needs momentum > 0 and dampening 0, got momentum {} and "
                      "dampening {}",
                      o.momentum, o.dampening);
    return fn;
  }

  std::vector<double> hyper_parameters() const override {
    return {options_.momentum, options_.dampening, options_.nesterov ? 1.0 : 0.0,
            options_.weight_decay};
  }
  void check_hyper_parameters(const std::string& fn, std::span<const double> h) const override {
    const SgdOptions o{lr_, h[0], h[1], h[2] != 0, h[3]};
    validated(fn.c_str(), o);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn.c_str(), (o.momentum != 0) == (options_.momentum != 0),
                      "the state has momentum {} but this Sgd has momentum {}: build it with "
                      "momentum {} to hold the momentum buffers",
                      o.momentum, options_.momentum, o.momentum == 0 ? "0" : "!= 0");
  }
  void set_hyper_parameters(std::span<const double> h) override {
    options_.momentum = h[0];
    options_.dampening = h[1];
    options_.nesterov = h[2] != 0;
    options_.weight_decay = h[3];
  }

  void update(const Context& ctx, std::size_t i) override {
    const Parameter& p = *params_[i];
    const train_detail::SgdStep s{lr_, options_.momentum, options_.dampening, options_.weight_decay,
                                  step_count_ == 1, options_.nesterov};
    const bool momentum = s.mu != 0;
    if (p.value.device().is_cuda()) {
      kernels::cuda::sgd_update(s, p.value.data_as<float>(), p.grad.data_as<float>(),
                                momentum ? buffers_[i][0].data_as<float>() : nullptr, p.numel(),
                                ctx.cuda_stream());
      return;
    }
    train_detail::dispatch_float(p.value.dtype(), [&]<typename T>() {
      T* w = p.value.data_as<T>();
      const T* g = p.grad.data_as<T>();
      T* buf = momentum ? buffers_[i][0].data_as<T>() : nullptr;
      for_each_element(ctx, p, [&](std::int64_t j) { train_detail::sgd_element(s, w[j], g[j], buf ? buf + j : nullptr); });
    });
  }

  SgdOptions options_;
};

/// @brief Hyper-parameters of Adam (PyTorch's defaults).
struct AdamOptions {
  double lr = 1e-3;         ///< learning rate
  double beta1 = 0.9;       ///< decay of the first-moment average, in [0, 1)
  double beta2 = 0.999;     ///< decay of the second-moment average, in [0, 1)
  double eps = 1e-8;        ///< added to the denominator, >= 0
  double weight_decay = 0;  ///< L2 penalty added to the gradient (coupled)
};

/// @brief Hyper-parameters of AdamW (PyTorch's defaults: weight_decay 0.01).
struct AdamWOptions {
  double lr = 1e-3;            ///< learning rate
  double beta1 = 0.9;          ///< decay of the first-moment average, in [0, 1)
  double beta2 = 0.999;        ///< decay of the second-moment average, in [0, 1)
  double eps = 1e-8;           ///< added to the denominator, >= 0
  double weight_decay = 0.01;  ///< decoupled decay: p *= 1 - lr λ before the Adam update
};

/// @brief Adam (Kingma & Ba 2015) with PyTorch's `torch.optim.Adam` rule (amsgrad off):
/// g = grad + λ p; m = β1 m + (1 - β1) g; v = β2 v + (1 - β2) g²;
/// p -= lr / (1 - β1^t) · m / (sqrt(v) / sqrt(1 - β2^t) + eps).
/// State: "exp_avg" (m) and "exp_avg_sq" (v) per parameter.
class Adam : public Optimizer {
 public:
  /// @throws InvalidArgument (empty params, betas outside [0, 1), negative or non-finite
  ///         eps, lr or weight_decay), NotCompiled (a CUDA parameter)
  Adam(const ParameterList& params, AdamOptions options = {})
      : Adam("Adam", params, options, /*decoupled=*/false) {}

  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  /// @brief The hyper-parameters (lr as given at construction; see learning_rate()).
  const AdamOptions& options() const noexcept { return options_; }

 protected:
  Adam(const char* fn, const ParameterList& params, AdamOptions options, bool decoupled)
      : Optimizer(validated(fn, options), params, options.lr, {"exp_avg", "exp_avg_sq"}),
        options_(options),
        decoupled_(decoupled) {}

 private:
  static std::string validated(const char* fn, const AdamOptions& o) {
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.beta1 >= 0 && o.beta1 < 1,
                      "'beta1' must be in [0, 1), got {}", o.beta1);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.beta2 >= 0 && o.beta2 < 1,
                      "'beta2' must be in [0, 1), got {}", o.beta2);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.eps >= 0 && std::isfinite(o.eps),
                      "'eps' must be finite and >= 0, got {}", o.eps);
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, o.weight_decay >= 0 && std::isfinite(o.weight_decay),
                      "'weight_decay' must be finite and >= 0, got {}", o.weight_decay);
    return fn;
  }

  std::vector<double> hyper_parameters() const override {
    return {options_.beta1, options_.beta2, options_.eps, options_.weight_decay};
  }
  void check_hyper_parameters(const std::string& fn, std::span<const double> h) const override {
    validated(fn.c_str(), AdamOptions{lr_, h[0], h[1], h[2], h[3]});
  }
  void set_hyper_parameters(std::span<const double> h) override {
    options_.beta1 = h[0];
    options_.beta2 = h[1];
    options_.eps = h[2];
    options_.weight_decay = h[3];
  }

  void update(const Context& ctx, std::size_t i) override {
    const Parameter& p = *params_[i];
    const double lr = lr_, wd = options_.weight_decay, t = double(step_count_);
    const train_detail::AdamStep s{lr / (1 - std::pow(options_.beta1, t)), options_.beta1, options_.beta2,
                                   std::sqrt(1 - std::pow(options_.beta2, t)), options_.eps,
                                   decoupled_ ? 0.0 : wd, decoupled_ ? 1 - lr * wd : 1.0};
    if (p.value.device().is_cuda()) {
      kernels::cuda::adam_update(s, p.value.data_as<float>(), p.grad.data_as<float>(),
                                 buffers_[i][0].data_as<float>(), buffers_[i][1].data_as<float>(), p.numel(),
                                 ctx.cuda_stream());
      return;
    }
    train_detail::dispatch_float(p.value.dtype(), [&]<typename T>() {
      T* w = p.value.data_as<T>();
      const T* g = p.grad.data_as<T>();
      T* m = buffers_[i][0].data_as<T>();
      T* v = buffers_[i][1].data_as<T>();
      for_each_element(ctx, p, [&](std::int64_t j) { train_detail::adam_element(s, w[j], g[j], m[j], v[j]); });
    });
  }

  AdamOptions options_;
  bool decoupled_;
};

/// @brief AdamW (Loshchilov & Hutter 2019) with PyTorch's `torch.optim.AdamW` rule: the
/// weight decay is decoupled from the gradient, p *= 1 - lr λ, then the Adam update with
/// λ = 0. State as Adam's.
class AdamW final : public Adam {
 public:
  /// @throws InvalidArgument (as Adam), NotCompiled (a CUDA parameter)
  AdamW(const ParameterList& params, AdamWOptions options = {})
      : Adam("AdamW", params,
             AdamOptions{options.lr, options.beta1, options.beta2, options.eps,
                         options.weight_decay},
             /*decoupled=*/true) {}
};

/// @brief Scales all gradients together so that their global L2 norm is at most max_norm
/// (PyTorch's `clip_grad_norm_`: factor max_norm / (norm + 1e-6) when below 1).
/// @param ctx a context on the parameters' device (on a GPU the norm is read back: one wait)
/// @param params the parameters whose gradients are clipped
/// @param max_norm the largest allowed norm, > 0
/// @returns the global norm before clipping
/// @throws InvalidArgument (max_norm not positive; a non-finite gradient, naming the first
///         parameter that has one: nothing is scaled then), DeviceMismatch (a parameter not
///         on ctx's device)
inline double clip_grad_norm(const Context& ctx, const ParameterList& params, double max_norm) {
  constexpr const char* fn = "clip_grad_norm";
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, max_norm > 0 && !std::isnan(max_norm),
                    "'max_norm' must be positive, got {}", max_norm);
  double total = 0;
  for (const auto& p : params) {
    train_detail::check_parameter(fn, *p);
    GNNKIT_EXPECTS_AS(DeviceMismatch, fn, p->grad.device() == ctx.device(),
                      "parameter '{}' is on {}, but the context is on {}", p->name, p->grad.device(),
                      ctx.device());
    const double sq = p->grad.device().is_cuda()
        ? kernels::cuda::sum_squares(p->grad.data_as<float>(), p->numel(), ctx.cuda_stream())
        : train_detail::dispatch_float(p->grad.dtype(), [&]<typename T>() {
      const T* g = p->grad.data_as<T>();
      return train_detail::ordered_sum(p->numel(), ctx.num_threads(),
                                       [&](std::int64_t j) { return double(g[j]) * double(g[j]); });
    });
    GNNKIT_EXPECTS_AS(InvalidArgument, fn, std::isfinite(sq),
                      "gradient of parameter '{}' must be finite, got a norm of {}", p->name,
                      std::sqrt(sq));
    total += sq;
  }
  const double norm = std::sqrt(total);
  const double scale = max_norm / (norm + 1e-6);
  if (scale < 1)
    for (const auto& p : params) {
      if (p->grad.device().is_cuda()) {
        kernels::cuda::scale(p->grad.data_as<float>(), 1, p->numel(), p->numel(), float(scale),
                             ctx.cuda_stream());
        continue;
      }
      train_detail::dispatch_float(p->grad.dtype(), [&]<typename T>() {
        T* g = p->grad.data_as<T>();
        const std::int64_t n = p->numel();
#pragma omp parallel for num_threads(ctx.num_threads()) \
    schedule(static) if (n > train_detail::kParallelElements)
        for (std::int64_t j = 0; j < n; ++j) g[j] = T(double(g[j]) * scale);
      });
    }
  return norm;
}

}  // namespace gnnkit
