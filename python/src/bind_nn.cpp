// Layers, the model runner, optimisers and checkpoints. A Model keeps the cache of its last
// training forward pass so that Python calls forward(...) then backward(grad) as with any
// autograd-free framework; tensors cross as zero-copy gnnkit.Tensor / NumPy views.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/nn/gat_conv.hpp"
#include "gnnkit/nn/lightgcn.hpp"
#include "gnnkit/nn/model.hpp"
#include "gnnkit/nn/sage_conv.hpp"
#include "gnnkit/nn/two_tower.hpp"
#include "gnnkit/train/checkpoint.hpp"
#include "gnnkit/train/optimizer.hpp"
#include "gnnkit/train/top_k.hpp"

namespace py = pybind11;

namespace gnnkit::python {
namespace {

using nn::Reduce;

Reduce parse_reduce(const std::string& s, const char* fn, const char* arg) {
  if (s == "mean") return Reduce::kMean;
  if (s == "sum" || s == "add") return Reduce::kSum;
  if (s == "max") return Reduce::kMax;
  throw InvalidArgument(fn, detail::format("'{}' must be 'mean', 'sum' or 'max', got '{}'", arg, s));
}

nn::Activation parse_activation(const std::string& s) {
  if (s == "relu") return nn::Activation::kReLU;
  if (s == "leaky_relu") return nn::Activation::kLeakyReLU;
  if (s == "elu") return nn::Activation::kELU;
  if (s == "none") return nn::Activation::kNone;
  throw InvalidArgument("Model", detail::format("'activation' must be 'relu', 'leaky_relu', 'elu' or 'none', got '{}'", s));
}

DType parse_dtype(const std::string& s) {
  if (s == "float32") return DType::kFloat32;
  if (s == "float64") return DType::kFloat64;
  throw InvalidArgument("Model", detail::format("'dtype' must be 'float32' or 'float64', got '{}'", s));
}

std::vector<Tensor> tensors_of(const py::list& xs, const char* arg) {
  std::vector<Tensor> out;
  for (const auto& x : xs) out.push_back(x.is_none() ? Tensor() : as_tensor(py::reinterpret_borrow<py::object>(x), arg));
  return out;
}

py::list to_list(const std::vector<Tensor>& ts) {
  py::list out;
  for (const Tensor& t : ts) out.append(t.defined() ? py::cast(t) : py::none());
  return out;
}

/// An Adjacency built from NumPy arrays, which it keeps alive.
struct PyAdjacency {
  nn::Adjacency adj;
  py::object indptr, indices;
};

PyAdjacency make_adjacency(py::array indptr, py::array indices, std::int64_t num_src, int threads) {
  Tensor p = from_numpy(indptr, "indptr"), i = from_numpy(indices, "indices");
  GNNKIT_EXPECTS_AS(InvalidArgument, "Adjacency", p.dtype() == DType::kInt64 && p.ndim() == 1 && p.is_contiguous(),
                    "'indptr' must be contiguous 1-d int64, got {}", p.str());
  GNNKIT_EXPECTS_AS(InvalidArgument, "Adjacency",
                    (i.dtype() == DType::kInt32 || i.dtype() == DType::kInt64) && i.ndim() == 1 && i.is_contiguous(),
                    "'indices' must be contiguous 1-d int32 or int64, got {}", i.str());
  const std::int64_t n_dst = p.numel() - 1;
  GNNKIT_EXPECTS_AS(InvalidArgument, "Adjacency", n_dst >= 0 && p.data_as<std::int64_t>()[n_dst] == i.numel(),
                    "'indptr' must end at len(indices) = {}", i.numel());
  PyAdjacency out;
  out.indptr = indptr;
  out.indices = indices;
  const Context ctx = Context::cpu(threads);
  auto build = [&](auto tag) {
    using IndexT = decltype(tag);
    const IndexT* idx = i.data_as<IndexT>();
    for (std::int64_t e = 0; e < i.numel(); ++e)
      GNNKIT_EXPECTS_AS(OutOfRange, "Adjacency", idx[e] >= 0 && std::int64_t(idx[e]) < num_src,
                        "'indices'[{}] = {} must be in [0, {})", e, std::int64_t(idx[e]), num_src);
    const std::int64_t* ptr = p.data_as<std::int64_t>();
    for (std::int64_t v = 0; v < n_dst; ++v)
      GNNKIT_EXPECTS_AS(InvalidArgument, "Adjacency", ptr[v] <= ptr[v + 1],
                        "'indptr' must not decrease, got {} then {} at row {}", ptr[v], ptr[v + 1], v);
    out.adj = nn::Adjacency::view(CompressedView<IndexT>{n_dst, num_src, ptr, idx, nullptr},
                                  ctx.num_threads());
  };
  if (i.dtype() == DType::kInt32) build(std::int32_t{});
  else build(std::int64_t{});
  return out;
}

/// A single layer with the cache of its last forward pass.
template <typename Layer>
struct PyLayer {
  ParameterList params;
  std::optional<Layer> layer;
  typename Layer::Cache cache;
  std::optional<PyAdjacency> adj;
  bool has_cache = false;
  Context ctx = Context::cpu();
};

/// (x_src gradient, x_dst gradient or None).
py::tuple grads_pair(const nn::ConvGrads& gr) {
  return py::make_tuple(py::cast(gr.x_src), gr.x_dst.defined() ? py::cast(gr.x_dst) : py::none());
}

py::dict parameter_dict(const ParameterList& params) {
  py::dict d;
  for (const auto& p : params) d[py::str(p->name)] = py::cast(p->value);
  return d;
}
py::dict gradient_dict(const ParameterList& params) {
  py::dict d;
  for (const auto& p : params) d[py::str(p->name)] = py::cast(p->grad);
  return d;
}

/// The model runner with the state Python needs between forward and backward.
struct PyModel {
  std::unique_ptr<nn::GnnModel> model;
  Context ctx = Context::cpu();
  std::vector<nn::LayerGraph> graphs;     // of the last forward
  py::object graph_owner;                 // the MiniBatch or Graph those views point into
  nn::GnnModel::Cache cache;
  bool has_cache = false;
  // Full-graph layers, built once per graph (transposes included).
  // The Graph object is held while cached, so its address cannot be reused by another.
  py::object full_owner;
  bool full_with_transpose = false;
  std::vector<nn::LayerGraph> full_graphs;

  // One call at a time per model: run and backward write the state above with the GIL
  // released (two Python threads calling forward would race on it).
  std::shared_ptr<std::mutex> busy = std::make_shared<std::mutex>();
  std::unique_lock<std::mutex> exclusive() {
    std::unique_lock<std::mutex> lock(*busy, std::defer_lock);
    py::gil_scoped_release no_gil;  // wait without the GIL: the holder may need it
    lock.lock();
    return lock;
  }

  Tensor run(const py::object& source, const py::list& xs, bool training, std::uint64_t step,
             bool check_finite) {
    const auto lock = exclusive();
    std::vector<Tensor> x = tensors_of(xs, "x");
    const int layers = model->num_layers();
    std::vector<nn::LayerGraph> g;
    if (py::isinstance<MiniBatch>(source)) {
      const auto& mb = source.cast<const MiniBatch&>();
      py::gil_scoped_release no_gil;
      g = nn::layer_graphs(mb, layers, ctx.num_threads(), training);
    } else if (py::isinstance<GraphFile>(source)) {
      const auto& gf = source.cast<const GraphFile&>();
      if (!full_owner.is(source) || (training && !full_with_transpose)) {
        {
          py::gil_scoped_release no_gil;
          full_graphs = nn::full_graph_layers(gf.graph, layers, ctx.num_threads(), training);
        }
        full_owner = source;
        full_with_transpose = training;
      }
      g = full_graphs;
    } else {
      throw InvalidArgument("Model.forward", detail::format(
          "'source' must be a gnnkit MiniBatch or a Graph, got {}", std::string(py::str(py::type::of(source)))));
    }
    const nn::ForwardMode mode{training, mix64(ctx.seed() ^ mix64(step)), check_finite};
    Tensor out;
    {
      py::gil_scoped_release no_gil;
      out = model->forward(ctx, g, x, mode, training ? &cache : nullptr);
    }
    if (training) {
      graphs = std::move(g);
      graph_owner = source;
      has_cache = true;
    }
    return out;
  }

  std::vector<Tensor> backward(const py::object& grad, bool input_grads) {
    const auto lock = exclusive();
    GNNKIT_EXPECTS_AS(InvalidArgument, "Model.backward", has_cache,
                      "call forward(..., training=True) before backward");
    Tensor g = as_tensor(grad, "grad_out");
    std::vector<Tensor> gx;
    {
      py::gil_scoped_release no_gil;
      gx = model->backward(ctx, graphs, cache, g, input_grads);
    }
    return gx;
  }
};

using OptimizerPtr = std::shared_ptr<Optimizer>;

/// A LightGcn with the context its calls run on.
struct PyLightGcn {
  std::unique_ptr<nn::LightGcn> model;
  Context ctx = Context::cpu();
};

/// A TwoTower with its graph, link sampler and context: one training step is a sample plus a
/// forward and backward pass, all in C++ without the GIL.
struct PyTwoTower {
  std::unique_ptr<nn::TwoTower> model;
  HeteroGraph graph;
  std::unique_ptr<LinkSampler> links;
  LinkBatch batch;
  Context ctx = Context::cpu();
  std::uint64_t seed = 0, steps = 0;
};

/// A contiguous array of int64 or int32 ids (converted when needed: callers pass Python
/// lists too); non-integers and ids beyond T's range are errors naming `arg`, not casts.
template <typename T>
py::array_t<T, py::array::c_style | py::array::forcecast> vector_arg(const py::object& obj,
                                                                   const char* fn, const char* arg) {
  static_assert(std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::int32_t>);
  const Int64Array ids = int64_array(obj, fn, arg);
  if constexpr (std::is_same_v<T, std::int64_t>) {
    return ids;
  } else {
    const std::int64_t* v = ids.data();
    for (py::ssize_t i = 0; i < ids.size(); ++i)
      GNNKIT_EXPECTS_AS(OutOfRange, fn, v[i] >= INT32_MIN && v[i] <= INT32_MAX,
                        "'{}'[{}] = {} does not fit int32", arg, i, v[i]);
    return py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(ids);
  }
}

template <typename T>
std::span<const T> span_of(const py::array_t<T, py::array::c_style | py::array::forcecast>& a,
                           const char* fn, const char* arg) {
  GNNKIT_EXPECTS_AS(InvalidArgument, fn, a && a.ndim() == 1, "'{}' must be a 1-d array", arg);
  return {a.data(), std::size_t(a.size())};
}

py::array_t<float> float_matrix(const std::vector<float>& v, std::int64_t rows, std::int64_t cols) {
  py::array_t<float> out({py::ssize_t(rows), py::ssize_t(cols)});
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

}  // namespace

void init_nn(py::module_& m) {
  py::class_<PyAdjacency>(m, "Adjacency", "One relation's CSC (destinations x sources) for the layers.")
      .def(py::init(&make_adjacency), py::arg("indptr"), py::arg("indices"), py::arg("num_src"),
           py::arg("num_threads") = 0)
      .def_property_readonly("num_dst", [](const PyAdjacency& a) { return a.adj.num_dst(); })
      .def_property_readonly("num_src", [](const PyAdjacency& a) { return a.adj.num_src(); })
      .def_property_readonly("num_edges", [](const PyAdjacency& a) { return a.adj.num_edges(); });

  using PySage = PyLayer<nn::SageConv>;
  py::class_<PySage>(m, "SageConv")
      .def(py::init([](std::int64_t in_src, std::int64_t in_dst, std::int64_t out, const std::string& aggr,
                       bool root_weight, bool normalize, bool bias, std::uint64_t seed, const std::string& dtype,
                       int threads) {
             auto l = std::make_unique<PySage>();
             l->ctx = Context::cpu(threads, seed);
             l->layer.emplace(l->params, "sage",
                              nn::SageConvOptions{in_src, in_dst, out, parse_reduce(aggr, "SageConv", "aggr"),
                                                  root_weight, normalize, bias},
                              seed, parse_dtype(dtype));
             return l;
           }),
           py::arg("in_src"), py::arg("in_dst"), py::arg("out"), py::arg("aggr"), py::arg("root_weight"),
           py::arg("normalize"), py::arg("bias"), py::arg("seed"), py::arg("dtype"), py::arg("num_threads"))
      .def("parameters", [](const PySage& l) { return parameter_dict(l.params); })
      .def("gradients", [](const PySage& l) { return gradient_dict(l.params); })
      .def("zero_grad", [](PySage& l) { l.params.zero_grad(); })
      .def("forward", [](PySage& l, const PyAdjacency& adj, const py::object& x_src, const py::object& x_dst, bool training) {
        const Tensor xs = as_tensor(x_src, "x_src"), xd = as_tensor(x_dst, "x_dst");
        Tensor out;
        {
          py::gil_scoped_release no_gil;
          out = l.layer->forward(l.ctx, adj.adj, xs, xd, {training, 0, false}, training ? &l.cache : nullptr);
        }
        if (training) {
          l.adj = adj;
          l.has_cache = true;
        }
        return out;
      }, py::arg("adj"), py::arg("x_src"), py::arg("x_dst"), py::arg("training") = true)
      .def("backward", [](PySage& l, const py::object& grad) {
        GNNKIT_EXPECTS_AS(InvalidArgument, "SageConv.backward", l.has_cache, "call forward(..., training=True) first");
        const Tensor g = as_tensor(grad, "grad_out");
        nn::ConvGrads gr;
        {
          py::gil_scoped_release no_gil;
          gr = l.layer->backward(l.ctx, l.adj->adj, l.cache, g);
        }
        return grads_pair(gr);
      });

  using PyGat = PyLayer<nn::GatConv>;
  py::class_<PyGat>(m, "GatConv")
      .def(py::init([](std::int64_t in_src, std::int64_t in_dst, std::int64_t out, int heads, bool concat,
                       double negative_slope, double dropout, bool add_self_loops, bool bias, std::uint64_t seed,
                       const std::string& dtype, int threads) {
             auto l = std::make_unique<PyGat>();
             l->ctx = Context::cpu(threads, seed);
             l->layer.emplace(l->params, "gat",
                              nn::GatConvOptions{in_src, in_dst, out, heads, concat, negative_slope, dropout,
                                                 add_self_loops, bias},
                              seed, parse_dtype(dtype));
             return l;
           }),
           py::arg("in_src"), py::arg("in_dst"), py::arg("out"), py::arg("heads"), py::arg("concat"),
           py::arg("negative_slope"), py::arg("dropout"), py::arg("add_self_loops"), py::arg("bias"),
           py::arg("seed"), py::arg("dtype"), py::arg("num_threads"))
      .def("parameters", [](const PyGat& l) { return parameter_dict(l.params); })
      .def("gradients", [](const PyGat& l) { return gradient_dict(l.params); })
      .def("zero_grad", [](PyGat& l) { l.params.zero_grad(); })
      .def("forward", [](PyGat& l, const PyAdjacency& adj, const py::object& x_src, const py::object& x_dst,
                         bool training, std::uint64_t step) {
        const Tensor xs = as_tensor(x_src, "x_src"), xd = as_tensor(x_dst, "x_dst");
        Tensor out;
        {
          py::gil_scoped_release no_gil;
          out = l.layer->forward(l.ctx, adj.adj, xs, xd, {training, mix64(l.ctx.seed() ^ mix64(step)), false},
                                 training ? &l.cache : nullptr);
        }
        if (training) {
          l.adj = adj;
          l.has_cache = true;
        }
        return out;
      }, py::arg("adj"), py::arg("x_src"), py::arg("x_dst"), py::arg("training") = true, py::arg("step") = 0)
      .def("backward", [](PyGat& l, const py::object& grad) {
        GNNKIT_EXPECTS_AS(InvalidArgument, "GatConv.backward", l.has_cache, "call forward(..., training=True) first");
        const Tensor g = as_tensor(grad, "grad_out");
        nn::ConvGrads gr;
        {
          py::gil_scoped_release no_gil;
          gr = l.layer->backward(l.ctx, l.cache, g);
        }
        return grads_pair(gr);
      });

  py::class_<PyModel>(m, "Model")
      .def(py::init([](const std::vector<std::int64_t>& in_features,
                       const std::vector<std::tuple<int, int, int>>& relations, int target_type,
                       const std::string& conv, int num_layers, std::int64_t hidden, std::int64_t out,
                       int heads, int out_heads, const std::string& aggr, const std::string& hetero_aggr,
                       const std::string& activation, double dropout, double input_dropout,
                       double attention_dropout, bool normalize, bool root_weight, bool input_projection,
                       std::uint64_t seed, const std::string& dtype, int threads) {
             nn::ModelSpec spec;
             spec.in_features = in_features;
             spec.target_type = target_type;
             for (auto [r, s, d] : relations) spec.relations.push_back({r, s, d});
             nn::GnnModelOptions o;
             if (conv == "sage") o.conv = nn::ConvKind::kSage;
             else if (conv == "gat") o.conv = nn::ConvKind::kGat;
             else throw InvalidArgument("Model", detail::format("'conv' must be 'sage' or 'gat', got '{}'", conv));
             o.num_layers = num_layers;
             o.hidden = hidden;
             o.out = out;
             o.heads = heads;
             o.out_heads = out_heads;
             o.aggr = parse_reduce(aggr, "Model", "aggr");
             o.hetero_aggr = parse_reduce(hetero_aggr, "Model", "hetero_aggr");
             o.activation = parse_activation(activation);
             o.dropout = dropout;
             o.input_dropout = input_dropout;
             o.attention_dropout = attention_dropout;
             o.normalize = normalize;
             o.root_weight = root_weight;
             o.input_projection = input_projection;
             auto pm = std::make_unique<PyModel>();
             pm->ctx = Context::cpu(threads, seed);
             pm->model = std::make_unique<nn::GnnModel>(spec, o, seed, parse_dtype(dtype));
             return pm;
           }),
           py::arg("in_features"), py::arg("relations"), py::arg("target_type"), py::arg("conv"),
           py::arg("num_layers"), py::arg("hidden"), py::arg("out"), py::arg("heads"), py::arg("out_heads"),
           py::arg("aggr"), py::arg("hetero_aggr"), py::arg("activation"), py::arg("dropout"),
           py::arg("input_dropout"), py::arg("attention_dropout"), py::arg("normalize"),
           py::arg("root_weight"), py::arg("input_projection"), py::arg("seed"), py::arg("dtype"),
           py::arg("num_threads"))
      .def_property_readonly("num_layers", [](const PyModel& p) { return p.model->num_layers(); })
      .def_property_readonly("num_parameters", [](const PyModel& p) { return p.model->parameters().numel(); })
      .def("parameters", [](const PyModel& p) { return parameter_dict(p.model->parameters()); })
      .def("gradients", [](const PyModel& p) { return gradient_dict(p.model->parameters()); })
      .def("zero_grad", [](PyModel& p) { p.model->parameters().zero_grad(); })
      .def("forward", &PyModel::run, py::arg("source"), py::arg("x"), py::arg("training"), py::arg("step"),
           py::arg("check_finite"))
      .def("backward", [](PyModel& p, const py::object& grad, bool input_grads) {
        return to_list(p.backward(grad, input_grads));
      }, py::arg("grad_out"), py::arg("input_grads"));

  py::class_<PyLightGcn>(m, "LightGCN",
                         "LightGCN / BPR-MF embeddings over a user-item graph (gnnkit/nn/lightgcn.hpp).")
      .def(py::init([](std::int64_t num_users, std::int64_t num_items, const py::object& user_indptr,
                       const py::object& items, int layers, std::int64_t dim, double reg,
                       double init_scale, std::uint64_t seed, int threads) {
             auto p = std::make_unique<PyLightGcn>();
             p->ctx = Context::cpu(threads);
             const auto indptr = vector_arg<std::int64_t>(user_indptr, "LightGCN", "user_indptr");
             const auto item = vector_arg<std::int32_t>(items, "LightGCN", "items");
             p->model = std::make_unique<nn::LightGcn>(
                 num_users, num_items, span_of(indptr, "LightGCN", "user_indptr"),
                 span_of(item, "LightGCN", "items"),
                 nn::LightGcnOptions{layers, dim, reg, init_scale, seed}, p->ctx.num_threads());
             return p;
           }),
           py::arg("num_users"), py::arg("num_items"), py::arg("user_indptr"), py::arg("items"),
           py::arg("layers"), py::arg("dim"), py::arg("reg"), py::arg("init_scale"), py::arg("seed"),
           py::arg("num_threads") = 0)
      .def_property_readonly("num_users", [](const PyLightGcn& p) { return p.model->num_users(); })
      .def_property_readonly("num_items", [](const PyLightGcn& p) { return p.model->num_items(); })
      .def_property_readonly("dim", [](const PyLightGcn& p) { return p.model->dim(); })
      .def_property_readonly("embedding", [](PyLightGcn& p) {
        return py::cast(p.model->parameters()[0]->value);
      }, "E0 [users + items, dim] (a gnnkit.Tensor sharing the model's memory)")
      .def("loss_and_grad", [](PyLightGcn& p, const py::object& users, const py::object& pos,
                               const py::object& neg) {
        const auto u = vector_arg<std::int64_t>(users, "LightGCN.loss_and_grad", "users"),
                   i = vector_arg<std::int64_t>(pos, "LightGCN.loss_and_grad", "pos_items"),
                   j = vector_arg<std::int64_t>(neg, "LightGCN.loss_and_grad", "neg_items");
        const auto su = span_of(u, "LightGCN.loss_and_grad", "users");
        const auto si = span_of(i, "LightGCN.loss_and_grad", "pos_items");
        const auto sj = span_of(j, "LightGCN.loss_and_grad", "neg_items");
        double bpr = 0, l2 = 0;
        {
          py::gil_scoped_release no_gil;
          bpr = p.model->loss_and_grad(p.ctx, su, si, sj, &l2);
        }
        return py::make_tuple(bpr, l2);
      }, py::arg("users"), py::arg("pos_items"), py::arg("neg_items"))
      .def("hardest_negatives", [](PyLightGcn& p, const py::object& users, const py::object& candidates) {
        constexpr const char* fn = "LightGCN.hardest_negatives";
        const auto u = vector_arg<std::int64_t>(users, fn, "users");
        const auto c = vector_arg<std::int64_t>(candidates, fn, "candidates");
        const auto su = span_of(u, fn, "users");
        std::string shape;
        for (py::ssize_t k = 0; c && k < c.ndim(); ++k) shape += (k ? ", " : "") + std::to_string(c.shape(k));
        GNNKIT_EXPECTS_AS(InvalidArgument, fn, c && c.ndim() == 2 && c.shape(0) == u.size() && c.shape(1) >= 1,
                          "'candidates' must be a [len(users) = {}, m >= 1] integer array, got shape ({})",
                          u.size(), shape);
        py::array_t<std::int64_t> chosen(u.size());
        const std::span<std::int64_t> out(chosen.mutable_data(), std::size_t(u.size()));
        {
          py::gil_scoped_release no_gil;
          p.model->hardest_negatives(su, {c.data(), std::size_t(c.size())}, c.shape(1), out);
        }
        return chosen;
      }, py::arg("users"), py::arg("candidates"),
      "Dynamic negative sampling: per row, the candidate item the model (as of its last forward) "
      "scores highest for the user.")
      .def("sample_negatives", [](PyLightGcn& p, const py::object& users, const py::object& keys,
                                  std::int64_t per_pair, std::int64_t candidates, std::uint64_t seed,
                                  std::uint64_t stream) {
        constexpr const char* fn = "LightGCN.sample_negatives";
        const auto u = vector_arg<std::int64_t>(users, fn, "users"), k = vector_arg<std::int64_t>(keys, fn, "keys");
        const auto su = span_of(u, fn, "users");
        const auto sk = span_of(k, fn, "keys");
        GNNKIT_EXPECTS_AS(InvalidArgument, fn, per_pair >= 1 && per_pair <= 1024,
                          "'per_pair' must be in [1, 1024], got {}", per_pair);
        py::array_t<std::int64_t> out(py::ssize_t(su.size()) * per_pair);
        const std::span<std::int64_t> o(out.mutable_data(), std::size_t(out.size()));
        {
          py::gil_scoped_release no_gil;
          p.model->sample_negatives(su, sk, per_pair, candidates, seed, stream, o);
        }
        return out;
      }, py::arg("users"), py::arg("keys"), py::arg("per_pair"), py::arg("candidates"), py::arg("seed"),
      py::arg("stream"),
      "BPR negatives: per pair, per_pair unseen items, each the hardest of `candidates` uniform draws.")
      .def("embeddings", [](PyLightGcn& p) {
        std::vector<float> u, i;
        {
          py::gil_scoped_release no_gil;
          p.model->embeddings(u, i);
        }
        return py::make_tuple(float_matrix(u, p.model->num_users(), p.model->dim()),
                              float_matrix(i, p.model->num_items(), p.model->dim()));
      });

  py::class_<PyTwoTower>(m, "TwoTower",
                         "GraphSAGE two-tower recommender trained with BPR on link-sampled batches "
                         "(gnnkit/nn/two_tower.hpp).")
      .def(py::init([](std::int64_t num_users, std::int64_t num_items, const py::object& user_indptr,
                       const py::object& items, const py::object& item_features, int layers,
                       std::int64_t dim, std::int64_t hidden, const std::string& aggr, double dropout,
                       double reg, double init_scale, std::uint64_t seed,
                       const std::vector<std::int64_t>& fanouts, std::int64_t negatives, int threads) {
             auto p = std::make_unique<PyTwoTower>();
             p->ctx = Context::cpu(threads);
             p->seed = seed;
             const auto indptr = vector_arg<std::int64_t>(user_indptr, "TwoTower", "user_indptr");
             const auto item = vector_arg<std::int32_t>(items, "TwoTower", "items");
             const Tensor features = item_features.is_none() ? Tensor() : as_tensor(item_features, "item_features");
             nn::TwoTowerOptions o;
             o.layers = layers;
             o.dim = dim;
             o.hidden = hidden;
             o.aggr = parse_reduce(aggr, "TwoTower", "aggr");
             o.dropout = dropout;
             o.reg = reg;
             o.init_scale = init_scale;
             o.seed = seed;
             GNNKIT_EXPECTS_AS(InvalidArgument, "TwoTower", negatives >= 1,
                               "'negatives' must be >= 1, got {}", negatives);
             GNNKIT_EXPECTS_AS(InvalidArgument, "TwoTower", std::int64_t(fanouts.size()) == layers,
                               "'fanouts' must list one fan-out per layer ({}), got {}", layers,
                               fanouts.size());
             p->model = std::make_unique<nn::TwoTower>(num_users, num_items, features, o);
             p->graph = nn::TwoTower::interaction_graph(p->ctx, num_users, num_items,
                                                        span_of(indptr, "TwoTower", "user_indptr"),
                                                        span_of(item, "TwoTower", "items"));
             p->links = std::make_unique<LinkSampler>(nn::TwoTower::link_sampler(p->graph, fanouts, negatives));
             return p;
           }),
           py::arg("num_users"), py::arg("num_items"), py::arg("user_indptr"), py::arg("items"),
           py::arg("item_features"), py::arg("layers"), py::arg("dim"), py::arg("hidden"),
           py::arg("aggr"), py::arg("dropout"), py::arg("reg"), py::arg("init_scale"), py::arg("seed"),
           py::arg("fanouts"), py::arg("negatives"), py::arg("num_threads") = 0)
      .def_property_readonly("num_users", [](const PyTwoTower& p) { return p.model->num_users(); })
      .def_property_readonly("num_items", [](const PyTwoTower& p) { return p.model->num_items(); })
      .def("train_step", [](PyTwoTower& p, const py::object& users, const py::object& items,
                            std::uint64_t key) {
        const auto u = vector_arg<std::int64_t>(users, "TwoTower.train_step", "users");
        const auto i = vector_arg<std::int64_t>(items, "TwoTower.train_step", "items");
        const Tensor tu = as_tensor(u, "users"), ti = as_tensor(i, "items");
        py::gil_scoped_release no_gil;
        p.links->sample_into(p.ctx.with_seed(mix64(p.seed ^ mix64(key >> 32))), tu, ti,
                             key & 0xffffffffull, p.batch);
        p.model->parameters().zero_grad();
        return p.model->loss_and_grad(p.ctx, p.batch, ++p.steps);
      }, py::arg("users"), py::arg("items"), py::arg("key"))
      .def("embeddings", [](PyTwoTower& p) {
        Tensor u, i;
        {
          py::gil_scoped_release no_gil;
          p.model->embeddings(p.ctx, p.graph, u, i);
        }
        return py::make_tuple(py::cast(u), py::cast(i));
      });

  m.def("top_k", [](const py::object& user_emb, const py::object& item_emb, const py::object& users,
                    std::int64_t k, const py::object& exclude_indptr, const py::object& exclude_items,
                    std::int64_t user_block, int threads) {
    const Tensor ue = as_tensor(user_emb, "user_emb"), ie = as_tensor(item_emb, "item_emb");
    const auto u = vector_arg<std::int64_t>(users, "top_k", "users");
    py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> xp;
    py::array_t<std::int32_t, py::array::c_style | py::array::forcecast> xi;
    ItemExclusion exclude;
    if (!exclude_indptr.is_none()) {
      xp = vector_arg<std::int64_t>(exclude_indptr, "top_k", "exclude_indptr");
      xi = vector_arg<std::int32_t>(exclude_items, "top_k", "exclude_items");
      exclude = {span_of(xp, "top_k", "exclude_indptr"), span_of(xi, "top_k", "exclude_items")};
    }
    const auto su = span_of(u, "top_k", "users");
    TopK r;
    {
      py::gil_scoped_release no_gil;
      r = top_k_dot(Context::cpu(threads), ue, ie, su, k, exclude, user_block);
    }
    const py::ssize_t n = py::ssize_t(su.size());
    py::array_t<std::int32_t> items({n, py::ssize_t(k)});
    py::array_t<float> scores({n, py::ssize_t(k)});
    std::copy(r.items.begin(), r.items.end(), items.mutable_data());
    std::copy(r.scores.begin(), r.scores.end(), scores.mutable_data());
    return py::make_tuple(items, scores);
  }, py::arg("user_emb"), py::arg("item_emb"), py::arg("users"), py::arg("k"),
     py::arg("exclude_indptr") = py::none(), py::arg("exclude_items") = py::none(),
     py::arg("user_block") = 512, py::arg("num_threads") = 0);

  py::class_<Optimizer, OptimizerPtr>(m, "Optimizer")
      .def("step", [](Optimizer& o, int threads) {
        py::gil_scoped_release no_gil;
        o.step(Context::cpu(threads));
      }, py::arg("num_threads") = 0)
      .def("zero_grad", &Optimizer::zero_grad)
      .def_property("lr", &Optimizer::learning_rate, &Optimizer::set_learning_rate)
      .def_property_readonly("step_count", &Optimizer::step_count)
      .def_property_readonly("name", &Optimizer::name);
  // Optimisers of a model or layer: the Python object keeps the model alive.
  auto params_of = [](const py::object& owner) -> ParameterList& {
    if (py::isinstance<PyModel>(owner)) return owner.cast<PyModel&>().model->parameters();
    if (py::isinstance<PySage>(owner)) return owner.cast<PySage&>().params;
    if (py::isinstance<PyGat>(owner)) return owner.cast<PyGat&>().params;
    if (py::isinstance<PyLightGcn>(owner)) return owner.cast<PyLightGcn&>().model->parameters();
    if (py::isinstance<PyTwoTower>(owner)) return owner.cast<PyTwoTower&>().model->parameters();
    throw InvalidArgument("optimizer", "'model' must be a gnnkit Model, SageConv, GatConv, LightGCN or TwoTower");
  };
  m.def("sgd", [params_of](const py::object& model, double lr, double momentum, double dampening, bool nesterov,
                           double weight_decay) -> OptimizerPtr {
    return std::make_shared<Sgd>(params_of(model), SgdOptions{lr, momentum, dampening, nesterov, weight_decay});
  }, py::keep_alive<0, 1>(), py::arg("model"), py::arg("lr"), py::arg("momentum"), py::arg("dampening"),
        py::arg("nesterov"), py::arg("weight_decay"));
  m.def("adam", [params_of](const py::object& model, double lr, double beta1, double beta2, double eps,
                            double weight_decay, bool decoupled) -> OptimizerPtr {
    if (decoupled) return std::make_shared<AdamW>(params_of(model), AdamWOptions{lr, beta1, beta2, eps, weight_decay});
    return std::make_shared<Adam>(params_of(model), AdamOptions{lr, beta1, beta2, eps, weight_decay});
  }, py::keep_alive<0, 1>(), py::arg("model"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
        py::arg("weight_decay"), py::arg("decoupled"));
  m.def("save_checkpoint", [params_of](const std::string& path, const py::object& model, const OptimizerPtr& opt,
                                       const std::map<std::string, std::string>& metadata) {
    ParameterList& params = params_of(model);
    py::gil_scoped_release no_gil;
    save_checkpoint(path, params, opt.get(), metadata);
  }, py::arg("path"), py::arg("model"), py::arg("optimizer"), py::arg("metadata"));
  m.def("load_checkpoint", [params_of](const std::string& path, const py::object& model, const OptimizerPtr& opt) {
    ParameterList& params = params_of(model);
    py::gil_scoped_release no_gil;
    return load_checkpoint(path, params, opt.get());
  }, py::arg("path"), py::arg("model"), py::arg("optimizer"));
}

}  // namespace gnnkit::python
