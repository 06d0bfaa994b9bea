#pragma once
/// @file
/// Linear (y = x·W + b) and MLP (Linear, activation, dropout, ..., Linear): input
/// projections, per-node-type encoders and prediction heads.

#include <cstdint>
#include <string>
#include <vector>

#include "gnnkit/nn/functional.hpp"
#include "gnnkit/nn/layer.hpp"
#include "gnnkit/nn/parameter.hpp"

namespace gnnkit::nn {

class Linear {
 public:
  struct Cache {
    Tensor x;
  };
  /// @brief Registers "<name>.weight" [in, out] (Glorot) and "<name>.bias" [out].
  Linear(ParameterList& params, const std::string& name, std::int64_t in, std::int64_t out,
         bool bias, std::uint64_t seed, DType dtype = DType::kFloat32)
      : name_(name), in_(in), out_(out) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "Linear", in > 0 && out > 0,
                      "layer '{}': widths must be positive, got in {} out {}", name, in, out);
    w_ = params.add(name + ".weight", {in, out}, Init::kGlorotUniform, seed, dtype);
    if (bias) b_ = params.add(name + ".bias", {out}, Init::kZeros, seed, dtype);
  }
  std::int64_t in_features() const noexcept { return in_; }
  std::int64_t out_features() const noexcept { return out_; }
  const std::string& name() const noexcept { return name_; }

  /// @throws ShapeMismatch naming the layer when x is not [*, in]
  Tensor forward(const Context& ctx, const Tensor& x, const ForwardMode& mode,
                 Cache* cache) const {
    const std::string where = "Linear '" + name_ + "'";
    check_parameter_device(where.c_str(), ctx, w_.get());
    check_parameter_device(where.c_str(), ctx, b_.get());
    check_matrix(where.c_str(), "x", x, -1, in_, w_->value.dtype(), ctx.device());
    if (mode.check_finite) check_finite(ctx, where.c_str(), "x", x);
    if (cache) cache->x = x;
    return linear_forward(ctx, x, *w_, b_.get());
  }
  /// @brief Accumulates parameter gradients; returns the gradient of x.
  Tensor backward(const Context& ctx, const Cache& cache, const Tensor& grad_out) const {
    const std::string where = "Linear '" + name_ + "' backward";
    check_parameter_device(where.c_str(), ctx, w_.get());
    check_parameter_device(where.c_str(), ctx, b_.get());
    check_matrix(where.c_str(), "grad_out", grad_out, cache.x.size(0), out_, w_->value.dtype(),
                 ctx.device());
    return linear_backward(ctx, cache.x, *w_, b_.get(), grad_out, true);
  }

 private:
  std::string name_;
  std::int64_t in_, out_;
  ParameterPtr w_, b_;
};

/// @brief Multi-layer perceptron: widths {in, h1, ..., out}; activation and dropout after
/// every layer but the last.
class Mlp {
 public:
  struct Cache {
    std::vector<Linear::Cache> linear;  ///< linear[i + 1].x is layer i's output after
                                        ///< activation and dropout: all its backward needs
  };
  Mlp(ParameterList& params, const std::string& name, const std::vector<std::int64_t>& widths,
      Activation activation, double dropout, std::uint64_t seed, DType dtype = DType::kFloat32)
      : activation_(activation), dropout_(dropout) {
    GNNKIT_EXPECTS_AS(InvalidArgument, "Mlp", widths.size() >= 2,
                      "layer '{}': needs at least input and output widths, got {}", name,
                      widths.size());
    for (std::size_t i = 0; i + 1 < widths.size(); ++i)
      layers_.emplace_back(params, name + "." + std::to_string(i), widths[i], widths[i + 1], true,
                           seed, dtype);
  }
  std::int64_t out_features() const noexcept { return layers_.back().out_features(); }

  Tensor forward(const Context& ctx, const Tensor& x, const ForwardMode& mode,
                 Cache* cache) const {
    if (cache) cache->linear.assign(layers_.size(), {});
    Tensor h = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      h = layers_[i].forward(ctx, h, mode, cache ? &cache->linear[i] : nullptr);
      if (i + 1 == layers_.size()) break;
      activation_dropout_forward(ctx, activation_, h, mode.training ? dropout_ : 0.0,
                                 mode.dropout_key ^ (0x51ull + i));
    }
    return h;
  }
  Tensor backward(const Context& ctx, const Cache& cache, const Tensor& grad_out,
                  const ForwardMode& mode) const {
    Tensor g = grad_out;
    for (std::size_t i = layers_.size(); i-- > 0;) {
      if (i + 1 < layers_.size())  // g is the fresh gradient from layer i + 1's backward
        activation_dropout_backward(ctx, activation_, cache.linear[i + 1].x, g,
                                    mode.training ? dropout_ : 0.0);
      g = layers_[i].backward(ctx, cache.linear[i], g);
    }
    return g;
  }

 private:
  std::vector<Linear> layers_;
  Activation activation_;
  double dropout_;
};

}  // namespace gnnkit::nn
