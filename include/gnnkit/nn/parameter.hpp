#pragma once
/// @file
/// Parameters and the ParameterList that owns them: every layer registers its weights here,
/// optimisers update them, checkpoints save them. A Parameter is shared (layers keep a
/// pointer, the list keeps the order), so a model is one ParameterList plus its layers.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gnnkit/core/error.hpp"
#include "gnnkit/core/tensor.hpp"
#include "gnnkit/sampling/random.hpp"

namespace gnnkit {

/// @brief How a parameter is initialised.
enum class Init {
  kZeros,           ///< all zero (biases)
  kOnes,            ///< all one (layer-norm gain)
  kGlorotUniform,   ///< U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)
  kKaimingUniform,  ///< U(-a, a), a = sqrt(6 / fan_in) (He et al. 2015, ReLU gain)
  kNormal,          ///< N(0, 1) * scale (embeddings; scale 0.1 by default)
};

/// @brief One trainable tensor and its gradient (same shape, dtype and device).
struct Parameter {
  std::string name;  ///< unique in its list, e.g. "conv1.lin_neigh.weight"
  Tensor value;
  Tensor grad;  ///< accumulated by backward passes; zeroed by ParameterList::zero_grad
  /// Row-sparse gradients (embedding tables, where a batch touches few rows): the backward
  /// pass lists the rows it wrote in `touched_rows`; optimisers then update only those rows
  /// (lazily, as torch.optim.SparseAdam: untouched rows and their optimiser state stay as they
  /// are) and zero_grad clears only them. Off: every element is updated every step.
  bool sparse_rows = false;
  std::vector<std::int64_t> touched_rows;  ///< sorted, unique row ids (when sparse_rows)

  std::int64_t numel() const noexcept { return value.numel(); }
  /// Elements per row (the product of the dimensions after the first).
  std::int64_t row_size() const noexcept { return value.ndim() ? value.numel() / value.size(0) : 1; }
  /// Records rows a backward pass wrote gradient into (any order, repeats allowed). Use this
  /// rather than writing touched_rows, which must stay sorted and unique.
  /// @throws OutOfRange naming the parameter for a row outside [0, rows)
  void mark_rows(std::span<const std::int64_t> rows) {
    const std::int64_t n = value.ndim() ? value.size(0) : 1;
    for (const std::int64_t r : rows)
      GNNKIT_EXPECTS_AS(OutOfRange, "Parameter::mark_rows", r >= 0 && r < n,
                        "row {} of parameter '{}' must be in [0, {})", r, name, n);
    const bool was_empty = touched_rows.empty();
    touched_rows.insert(touched_rows.end(), rows.begin(), rows.end());
    bool sorted_unique = true;
    for (std::size_t i = 1; i < touched_rows.size() && sorted_unique; ++i)
      sorted_unique = touched_rows[i - 1] < touched_rows[i];
    if (!sorted_unique || !was_empty) {
      std::sort(touched_rows.begin(), touched_rows.end());
      touched_rows.erase(std::unique(touched_rows.begin(), touched_rows.end()), touched_rows.end());
    }
  }
};

using ParameterPtr = std::shared_ptr<Parameter>;

/// @brief An ordered, named set of parameters.
class ParameterList {
 public:
  /// @brief Creates, initialises and registers a parameter.
  ///
  /// Initialisation is a pure function of (seed, name, element index), so a model built with
  /// the same seed has the same weights whatever the order layers are created in.
  /// For 2-d shapes [fan_in, fan_out]; 1-d shapes use fan_in = fan_out = size.
  /// @throws InvalidArgument if the name is taken or empty, or a dimension is not positive
  ParameterPtr add(std::string name, std::vector<std::int64_t> shape, Init init,
                   std::uint64_t seed, DType dtype = DType::kFloat32, double scale = 0.1) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "ParameterList::add", !name.empty(),
                      "'name' must not be empty");
    GNNKIT_EXPECTS_AS(InvalidArgument, "ParameterList::add", find(name) == nullptr,
                      "parameter '{}' already exists", name);
    GNNKIT_EXPECTS_AS(InvalidArgument, "ParameterList::add",
                      dtype == DType::kFloat32 || dtype == DType::kFloat64,
                      "parameter '{}' must be float32 or float64, got {}", name, dtype);
    for (auto d : shape)
      GNNKIT_EXPECTS_AS(InvalidArgument, "ParameterList::add", d > 0,
                        "parameter '{}' dimensions must be positive, got {}", name, d);
    auto p = std::make_shared<Parameter>();
    p->name = std::move(name);
    p->value = Tensor::empty(std::span<const std::int64_t>(shape), dtype);
    p->grad = Tensor::zeros(std::span<const std::int64_t>(shape), dtype);
    const double fan_in = double(shape.empty() ? 1 : shape[0]);
    const double fan_out = double(shape.size() >= 2 ? shape[1] : shape.empty() ? 1 : shape[0]);
    std::uint64_t name_hash = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : p->name) name_hash = (name_hash ^ c) * 1099511628211ull;
    const auto fill = [&](auto* data) {
      using T = std::remove_pointer_t<decltype(data)>;
      const std::int64_t n = p->value.numel();
      double bound = 0;
      if (init == Init::kGlorotUniform) bound = std::sqrt(6.0 / (fan_in + fan_out));
      if (init == Init::kKaimingUniform) bound = std::sqrt(6.0 / fan_in);
      for (std::int64_t i = 0; i < n; ++i) {
        CounterRng rng(seed, name_hash, std::uint64_t(i));
        switch (init) {
          case Init::kZeros: data[i] = T(0); break;
          case Init::kOnes: data[i] = T(1); break;
          case Init::kGlorotUniform:
          case Init::kKaimingUniform: data[i] = T((2 * rng.uniform() - 1) * bound); break;
          case Init::kNormal: {  // Box-Muller
            const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
            data[i] = T(scale * std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2));
            break;
          }
        }
      }
    };
    if (dtype == DType::kFloat32)
      fill(p->value.data_as<float>());
    else
      fill(p->value.data_as<double>());
    params_.push_back(p);
    return p;
  }

  /// @brief Registers an existing parameter (shared, not copied): a composite model lists
  /// its own parameters and those of the parts it is built from.
  /// @throws InvalidArgument if p is null or its name is taken
  void adopt(ParameterPtr p) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "ParameterList::adopt", p != nullptr,
                      "'p' must not be null");
    GNNKIT_EXPECTS_AS(InvalidArgument, "ParameterList::adopt", find(p->name) == nullptr,
                      "parameter '{}' already exists", p->name);
    params_.push_back(std::move(p));
  }

  /// @brief The parameter called name, or nullptr.
  ParameterPtr find(std::string_view name) const {
    for (const auto& p : params_)
      if (p->name == name) return p;
    return nullptr;
  }
  /// @brief The parameter called name. @throws InvalidArgument naming it when absent
  const ParameterPtr& at(std::string_view name) const {
    for (const auto& p : params_)
      if (p->name == name) return p;
    throw InvalidArgument("ParameterList::at",
                          detail::format("no parameter named '{}'", std::string(name)));
  }

  /// @brief Moves every parameter (value and gradient, both copied) to ctx's device, for
  /// training there: the layers see the moved tensors (they share the Parameter objects), and
  /// zero_grad then fills on the device. Build optimisers after the move: their state lives
  /// beside the parameters. Row-sparse gradients have no CUDA update yet.
  /// @throws NotCompiled (a row-sparse or float64 parameter to a GPU, a build without CUDA),
  ///         DeviceError, OutOfMemory
  void to(const Context& ctx) {
    const Device device = ctx.device();
    for (const auto& p : params_) {
      if (device.is_cuda()) {
        GNNKIT_EXPECTS_AS(NotCompiled, "ParameterList::to", !p->sparse_rows,
                          "parameter '{}' has row-sparse gradients, which have no CUDA update "
                          "yet", p->name);
        GNNKIT_EXPECTS_AS(NotCompiled, "ParameterList::to", p->value.dtype() == DType::kFloat32,
                          "parameter '{}' is {}: the CUDA kernels are float32", p->name,
                          p->value.str());
      }
    }
    for (const auto& p : params_) {
      if (p->value.device() == device) continue;
      p->value = p->value.to(device);
      p->grad = p->grad.to(device);
    }
  }

  /// @brief Sets every gradient to zero (on a GPU: queued on the device's stream, which every
  /// context of the device shares, so it runs after the work that used the old values).
  void zero_grad() {
    for (auto& p : params_) {
      if (!p->grad.device().is_cpu()) {
        fill(Context::cuda(p->grad.device().index), p->grad, 0.0);
        continue;
      }
      if (!p->sparse_rows) {
        std::memset(p->grad.data(), 0, p->grad.nbytes());
        continue;
      }
      const std::size_t row_bytes = std::size_t(p->row_size()) * dtype_size(p->grad.dtype());
      char* g = static_cast<char*>(p->grad.data());
      for (const std::int64_t r : p->touched_rows) std::memset(g + std::size_t(r) * row_bytes, 0, row_bytes);
      p->touched_rows.clear();
    }
  }

  std::size_t size() const noexcept { return params_.size(); }
  const ParameterPtr& operator[](std::size_t i) const { return params_[i]; }
  auto begin() const noexcept { return params_.begin(); }
  auto end() const noexcept { return params_.end(); }
  /// @brief Total number of scalar parameters.
  std::int64_t numel() const noexcept {
    std::int64_t n = 0;
    for (const auto& p : params_) n += p->numel();
    return n;
  }

 private:
  std::vector<ParameterPtr> params_;
};

}  // namespace gnnkit
