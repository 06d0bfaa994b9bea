// Training: metrics and losses on NumPy arrays (optimisers and checkpoints come with the
// model bindings). The Pythonic layer, argument order and docstrings: gnnkit/train.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <span>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "gnnkit/train/loss.hpp"
#include "gnnkit/train/metrics.hpp"

namespace py = pybind11;

namespace gnnkit::python {
namespace {

template <typename T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

/// A C-contiguous array of T converted from `obj` (no copy when it already is one), checked
/// to have `ndim` dims.
template <typename T>
CArray<T> c_array(const char* fn, const char* arg, const py::handle& obj, int ndim = 1) {
  // Labels: integers or whole-number floats (0.0 / 1.0), and bools; never truncated.
  CArray<T> arr;
  if constexpr (std::is_integral_v<T>) arr = int64_array(obj, fn, arg, /*allow_bool=*/true);
  else arr = float_array<T>(obj, fn, arg);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, arr.ndim() == ndim, "'{}' must be {}-d, got {}-d", arg,
                    ndim, arr.ndim());
  return arr;
}

template <typename T>
std::span<const T> span_of(const CArray<T>& a) {
  return {a.data(), std::size_t(a.size())};
}

/// Runs f(span<const float or double>) on the scores, keeping float32 as it is and converting
/// anything else to float64; the GIL is released during f.
template <typename F>
auto with_scores(const char* fn, const py::handle& scores, F&& f) {
  const auto as_array = py::array::ensure(scores);
  if (as_array && as_array.dtype().is(py::dtype::of<float>())) {
    const auto a = c_array<float>(fn, "scores", as_array);
    py::gil_scoped_release no_gil;
    return f(span_of(a));
  }
  const auto a = c_array<double>(fn, "scores", scores);
  py::gil_scoped_release no_gil;
  return f(span_of(a));
}

py::array_t<double> to_numpy(const std::vector<double>& v) {
  py::array_t<double> out(py::ssize_t(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

/// A float32/float64 tensor viewing `obj` (any strides, no copy) and a fresh NumPy array of
/// the same shape and dtype for its gradient.
std::pair<Tensor, py::array> input_and_grad(const char* fn, const char* arg,
                                            const py::object& obj) {
  const py::array arr = numeric_array(obj, fn, arg);
  const Tensor t = from_numpy(arr, arg);
  GNNKIT_EXPECTS_AS(InvalidArgument, fn,
                    t.dtype() == DType::kFloat32 || t.dtype() == DType::kFloat64,
                    "'{}' must be float32 or float64, got {}", arg, t.str());
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  return {t, py::array(numpy_dtype(t.dtype()), shape)};
}

TensorView view_of_array(py::array& a) {
  std::vector<std::int64_t> shape(a.shape(), a.shape() + a.ndim());
  return TensorView(a.mutable_data(), dtype_from_numpy(a.dtype(), "grad"), Device::cpu(), shape);
}

}  // namespace

void init_train(py::module_& m) {
  using Labels = CArray<std::int64_t>;

  // ---- metrics (scores, labels) ----
  m.def(
      "roc_auc",
      [](const py::object& scores, const py::object& labels) {
        const Labels y = c_array<std::int64_t>("roc_auc", "labels", labels);
        return with_scores("roc_auc", scores, [&](auto s) { return roc_auc(s, span_of(y)); });
      },
      py::arg("scores"), py::arg("labels"));
  m.def(
      "average_precision",
      [](const py::object& scores, const py::object& labels) {
        const Labels y = c_array<std::int64_t>("average_precision", "labels", labels);
        return with_scores("average_precision", scores,
                           [&](auto s) { return average_precision(s, span_of(y)); });
      },
      py::arg("scores"), py::arg("labels"));
  m.def(
      "roc_curve",
      [](const py::object& scores, const py::object& labels) {
        const Labels y = c_array<std::int64_t>("roc_curve", "labels", labels);
        const RocCurve c =
            with_scores("roc_curve", scores, [&](auto s) { return roc_curve(s, span_of(y)); });
        return py::make_tuple(to_numpy(c.fpr), to_numpy(c.tpr), to_numpy(c.thresholds));
      },
      py::arg("scores"), py::arg("labels"));
  m.def(
      "pr_curve",
      [](const py::object& scores, const py::object& labels) {
        const Labels y = c_array<std::int64_t>("pr_curve", "labels", labels);
        const PrCurve c =
            with_scores("pr_curve", scores, [&](auto s) { return pr_curve(s, span_of(y)); });
        return py::make_tuple(to_numpy(c.precision), to_numpy(c.recall), to_numpy(c.thresholds));
      },
      py::arg("scores"), py::arg("labels"));
  m.def(
      "recall_at_fpr",
      [](const py::object& scores, const py::object& labels, double max_fpr) {
        const Labels y = c_array<std::int64_t>("recall_at_fpr", "labels", labels);
        return with_scores("recall_at_fpr", scores,
                           [&](auto s) { return recall_at_fpr(s, span_of(y), max_fpr); });
      },
      py::arg("scores"), py::arg("labels"), py::arg("max_fpr"));
  m.def(
      "precision_at_top_fraction",
      [](const py::object& scores, const py::object& labels, double fraction) {
        const Labels y = c_array<std::int64_t>("precision_at_top_fraction", "labels", labels);
        return with_scores("precision_at_top_fraction", scores, [&](auto s) {
          return precision_at_top_fraction(s, span_of(y), fraction);
        });
      },
      py::arg("scores"), py::arg("labels"), py::arg("fraction"));

  m.def(
      "accuracy",
      [](const py::object& predictions, const py::object& labels) {
        const Labels p = c_array<std::int64_t>("accuracy", "predictions", predictions);
        const Labels y = c_array<std::int64_t>("accuracy", "labels", labels);
        return accuracy(span_of(p), span_of(y));
      },
      py::arg("predictions"), py::arg("labels"));
  m.def(
      "accuracy_from_logits",
      [](const py::object& logits, const py::object& labels) {
        const Labels y = c_array<std::int64_t>("accuracy", "labels", labels);
        const auto as_array = py::array::ensure(logits);
        if (as_array && as_array.dtype().is(py::dtype::of<float>())) {
          const auto a = c_array<float>("accuracy", "logits", as_array, 2);
          return accuracy(span_of(a), a.shape(1), span_of(y));
        }
        const auto a = c_array<double>("accuracy", "logits", logits, 2);
        return accuracy(span_of(a), a.shape(1), span_of(y));
      },
      py::arg("logits"), py::arg("labels"));
  m.def(
      "f1_score",
      [](const py::object& predictions, const py::object& labels) {
        const Labels p = c_array<std::int64_t>("f1_score", "predictions", predictions);
        const Labels y = c_array<std::int64_t>("f1_score", "labels", labels);
        return f1_score(span_of(p), span_of(y));
      },
      py::arg("predictions"), py::arg("labels"));
  m.def(
      "macro_f1_score",
      [](const py::object& predictions, const py::object& labels) {
        const Labels p = c_array<std::int64_t>("macro_f1_score", "predictions", predictions);
        const Labels y = c_array<std::int64_t>("macro_f1_score", "labels", labels);
        return macro_f1_score(span_of(p), span_of(y));
      },
      py::arg("predictions"), py::arg("labels"));

  m.def(
      "recall_at_k",
      [](const py::object& ranked, const py::object& indptr, const py::object& items,
         std::int64_t k) {
        const Labels r = c_array<std::int64_t>("recall_at_k", "ranked", ranked, 2);
        const Labels p = c_array<std::int64_t>("recall_at_k", "truth_indptr", indptr);
        const Labels t = c_array<std::int64_t>("recall_at_k", "truth_items", items);
        py::gil_scoped_release no_gil;
        return recall_at_k(span_of(r), span_of(p), span_of(t), k);
      },
      py::arg("ranked"), py::arg("truth_indptr"), py::arg("truth_items"), py::arg("k"));
  m.def(
      "ndcg_at_k",
      [](const py::object& ranked, const py::object& indptr, const py::object& items,
         std::int64_t k) {
        const Labels r = c_array<std::int64_t>("ndcg_at_k", "ranked", ranked, 2);
        const Labels p = c_array<std::int64_t>("ndcg_at_k", "truth_indptr", indptr);
        const Labels t = c_array<std::int64_t>("ndcg_at_k", "truth_items", items);
        py::gil_scoped_release no_gil;
        return ndcg_at_k(span_of(r), span_of(p), span_of(t), k);
      },
      py::arg("ranked"), py::arg("truth_indptr"), py::arg("truth_items"), py::arg("k"));

  // ---- losses: (loss, gradient arrays) ----
  m.def(
      "cross_entropy",
      [](const Context& ctx, const py::object& logits, const py::object& labels) {
        auto [x, grad] = input_and_grad("cross_entropy", "logits", logits);
        const Labels y = c_array<std::int64_t>("cross_entropy", "labels", labels);
        const TensorView g = view_of_array(grad);
        double loss;
        {
          py::gil_scoped_release no_gil;
          loss = cross_entropy(ctx, x, span_of(y), g);
        }
        return py::make_tuple(loss, grad);
      },
      py::arg("ctx"), py::arg("logits"), py::arg("labels"));
  m.def(
      "binary_cross_entropy_with_logits",
      [](const Context& ctx, const py::object& logits, const py::object& targets, double pos_weight,
         const py::object& weights) {
        constexpr const char* fn = "binary_cross_entropy_with_logits";
        auto [x, grad] = input_and_grad(fn, "logits", logits);
        const auto t = c_array<float>(fn, "targets", targets);
        CArray<float> w;
        if (!weights.is_none()) w = c_array<float>(fn, "sample_weights", weights);
        const std::span<const float> ws = weights.is_none() ? std::span<const float>() : span_of(w);
        const TensorView g = view_of_array(grad);
        double loss;
        {
          py::gil_scoped_release no_gil;
          loss = binary_cross_entropy_with_logits(ctx, x, span_of(t), pos_weight, g, ws);
        }
        return py::make_tuple(loss, grad);
      },
      py::arg("ctx"), py::arg("logits"), py::arg("targets"), py::arg("pos_weight"),
      py::arg("sample_weights"));
  m.def(
      "sigmoid_focal_loss",
      [](const Context& ctx, const py::object& logits, const py::object& targets, double gamma,
         double alpha, const py::object& weights) {
        constexpr const char* fn = "sigmoid_focal_loss";
        auto [x, grad] = input_and_grad(fn, "logits", logits);
        const auto t = c_array<float>(fn, "targets", targets);
        CArray<float> w;
        if (!weights.is_none()) w = c_array<float>(fn, "sample_weights", weights);
        const std::span<const float> ws = weights.is_none() ? std::span<const float>() : span_of(w);
        const TensorView g = view_of_array(grad);
        double loss;
        {
          py::gil_scoped_release no_gil;
          loss = sigmoid_focal_loss(ctx, x, span_of(t), gamma, alpha, g, ws);
        }
        return py::make_tuple(loss, grad);
      },
      py::arg("ctx"), py::arg("logits"), py::arg("targets"), py::arg("gamma"), py::arg("alpha"),
      py::arg("sample_weights"));
  m.def(
      "bpr_loss",
      [](const Context& ctx, const py::object& pos, const py::object& neg) {
        auto [p, pos_grad] = input_and_grad("bpr_loss", "pos_scores", pos);
        auto [n, neg_grad] = input_and_grad("bpr_loss", "neg_scores", neg);
        const TensorView gp = view_of_array(pos_grad), gn = view_of_array(neg_grad);
        double loss;
        {
          py::gil_scoped_release no_gil;
          loss = bpr_loss(ctx, p, n, gp, gn);
        }
        return py::make_tuple(loss, pos_grad, neg_grad);
      },
      py::arg("ctx"), py::arg("pos_scores"), py::arg("neg_scores"));
}

}  // namespace gnnkit::python
