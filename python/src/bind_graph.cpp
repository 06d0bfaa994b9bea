// HeteroGraph + FeatureStore (as one object, gnnkit._core.Graph) and graph files. The
// Pythonic layer is gnnkit/graph.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "gnnkit/graph/hetero_graph.hpp"
#include "gnnkit/io/edge_list.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/io/out_of_core.hpp"

namespace py = pybind11;

namespace gnnkit::python {
namespace {

/// One relation's COO as passed from Python: arrays are kept alive (Tensors) during the build.
struct PyRelationInput {
  EdgeType type;
  Tensor src, dst;
  std::optional<Tensor> timestamps, weights;
};

Tensor ids_tensor(const py::handle& obj, const std::string& rel, const char* arg) {
  // int32/int64 arrays are used in place; anything else integral is converted to int64.
  if (py::isinstance<py::array>(obj)) {
    auto arr = py::reinterpret_borrow<py::array>(obj);
    const char kind = arr.dtype().kind();
    GNNKIT_EXPECTS_AS(InvalidArgument, "HeteroGraph.from_edges", kind == 'i' || kind == 'u',
                      "relation '{}': '{}' must hold integer ids, got dtype {}", rel, arg,
                      std::string(py::str(py::object(arr.dtype()))));
    const bool usable = (kind == 'i' && (arr.itemsize() == 4 || arr.itemsize() == 8)) &&
                        (arr.flags() & py::array::c_style);
    if (usable) return as_tensor(arr, arg);
  }
  return as_tensor(int64_array(obj, "HeteroGraph.from_edges", arg), arg);
}

BuildOptions parse_options(const py::dict& o) {
  BuildOptions opt;
  for (auto item : o) {
    const std::string key = py::str(item.first);
    const py::handle v = item.second;
    if (key == "drop_duplicates") opt.drop_duplicates = v.cast<bool>();
    else if (key == "add_reverse") opt.add_reverse = v.cast<bool>();
    else if (key == "sort_by_time") opt.sort_by_time = v.cast<bool>();
    else if (key == "build_csr") opt.build_csr = v.cast<bool>();
    else if (key == "keep_edge_ids") opt.keep_edge_ids = v.cast<bool>();
    else if (key == "self_loops") {
      const std::string s = py::str(v);
      if (s == "keep") opt.self_loops = SelfLoops::kKeep;
      else if (s == "drop") opt.self_loops = SelfLoops::kDrop;
      else if (s == "add") opt.self_loops = SelfLoops::kAdd;
      else throw InvalidArgument("HeteroGraph.from_edges",
                                 detail::format("'self_loops' must be 'keep', 'drop' or 'add', got '{}'", s));
    } else if (key == "index_width") {
      const std::string s = py::str(v);
      if (s == "auto") opt.index_width = IndexWidth::kAuto;
      else if (s == "int32") opt.index_width = IndexWidth::kInt32;
      else if (s == "int64") opt.index_width = IndexWidth::kInt64;
      else throw InvalidArgument("HeteroGraph.from_edges",
                                 detail::format("'index_width' must be 'auto', 'int32' or 'int64', got '{}'", s));
    } else {
      throw InvalidArgument("HeteroGraph.from_edges", detail::format("unknown option '{}'", key));
    }
  }
  return opt;
}

GraphFile build(const std::vector<std::pair<std::string, std::int64_t>>& num_nodes,
                const py::list& relations, const py::dict& options, int num_threads) {
  std::vector<PyRelationInput> held;
  for (const auto& item : relations) {
    auto t = item.cast<py::tuple>();
    PyRelationInput in;
    in.type = {t[0].cast<std::string>(), t[1].cast<std::string>(), t[2].cast<std::string>()};
    const std::string name = in.type.str();
    in.src = ids_tensor(t[3], name, "src");
    in.dst = ids_tensor(t[4], name, "dst");
    if (!t[5].is_none()) {
      in.timestamps = as_tensor(int64_array(t[5], "HeteroGraph.from_edges", "timestamps"), "timestamps");
    }
    if (!t[6].is_none()) {
      in.weights = as_tensor(float_array<float>(t[6], "HeteroGraph.from_edges", "weights"), "weights");
    }
    if (in.src.dtype() != in.dst.dtype()) {  // mixed widths: widen both to int64
      in.src = as_tensor(int64_array(t[3], "HeteroGraph.from_edges", "src"), "src");
      in.dst = as_tensor(int64_array(t[4], "HeteroGraph.from_edges", "dst"), "dst");
    }
    held.push_back(std::move(in));
  }
  const BuildOptions opt = parse_options(options);
  std::vector<RelationInput> inputs;
  for (const auto& h : held) {
    RelationInput r{h.type, h.src.view(), h.dst.view(), std::nullopt, std::nullopt};
    if (h.timestamps) r.timestamps = h.timestamps->view();
    if (h.weights) r.weights = h.weights->view();
    inputs.push_back(std::move(r));
  }
  GraphFile out;
  py::gil_scoped_release no_gil;
  out.graph = HeteroGraph::from_coo(Context::cpu(num_threads), num_nodes, inputs, opt);
  return out;
}

py::object optional_array(const HostArray& a) {
  return a.defined() ? py::object(to_numpy(a, -1, false)) : py::object(py::none());
}

void set_matrix(GraphFile& g, FeatureStore::Kind kind, const std::string& owner,
                const std::string& name, const py::object& obj, bool check_finite) {
  auto arr = float_array<float>(obj, "HeteroGraph.set_features", "x");
  // The store keeps this array (no copy); a read-only one is copied so that it may.
  if (!arr.writeable()) arr = float_array<float>(arr.attr("copy")(), "HeteroGraph.set_features", "x");
  GNNKIT_EXPECTS_AS(ShapeMismatch, "HeteroGraph.set_features", arr.ndim() == 1 || arr.ndim() == 2,
                    "'{}' features '{}' must be 1-d or 2-d, got {}-d", owner, name, arr.ndim());
  const std::int64_t rows = arr.ndim() ? arr.shape(0) : 0;
  const std::int64_t cols = arr.ndim() == 2 ? arr.shape(1) : 1;
  const std::int64_t expected = kind == FeatureStore::Kind::kEdgeFeatures
                                    ? g.graph.relation(owner).edge_id_bound
                                    : g.graph.schema().num_nodes(owner);
  GNNKIT_EXPECTS_AS(ShapeMismatch, "HeteroGraph.set_features", rows == expected,
                    "'{}' features '{}' must have {} rows (one per {}), got {}", owner, name,
                    expected, kind == FeatureStore::Kind::kEdgeFeatures ? "edge id" : "node", rows);
  HostArray data = HostArray::wrap(arr.mutable_data(), DType::kFloat32, rows * cols, hold(arr));
  py::gil_scoped_release no_gil;
  if (kind == FeatureStore::Kind::kEdgeFeatures)
    g.features.set_edge_features(owner, name, std::move(data), rows, cols, check_finite);
  else
    g.features.set_node_features(owner, name, std::move(data), rows, cols, check_finite);
}

void set_vector(GraphFile& g, FeatureStore::Kind kind, const std::string& type, const py::object& obj) {
  const bool labels = kind == FeatureStore::Kind::kLabels;
  const char* fn = labels ? "HeteroGraph.set_labels" : "HeteroGraph.set_node_times";
  const char* what = labels ? "labels" : "times";
  auto arr = int64_array(obj, fn, what);
  if (!arr.writeable()) arr = int64_array(arr.attr("copy")(), fn, what);
  const std::int64_t n = g.graph.schema().num_nodes(type);
  GNNKIT_EXPECTS_AS(ShapeMismatch, fn, arr.ndim() == 1 && arr.shape(0) == n,
                    "{} of '{}' must be 1-d with {} entries (one per node), got shape {}", what,
                    type, n, std::string(py::str(arr.attr("shape"))));
  HostArray data = HostArray::wrap(arr.mutable_data(), DType::kInt64, n, hold(arr));
  if (labels) g.features.set_labels(type, std::move(data));
  else g.features.set_node_times(type, std::move(data));
}

/// Keys as a list of Python str (UTF-8, undecodable bytes escaped).
py::list keys_to_list(const KeyMap& keys) {
  py::list out(keys.size());
  for (std::int64_t i = 0; i < keys.size(); ++i) {
    const std::string_view k = keys.key(i);
    PyObject* s = PyUnicode_DecodeUTF8(k.data(), py::ssize_t(k.size()), "surrogateescape");
    if (!s) throw py::error_already_set();
    PyList_SET_ITEM(out.ptr(), py::ssize_t(i), s);
  }
  return out;
}

KeyMap keys_from_list(const py::iterable& keys) {
  std::vector<std::string> v;
  for (auto k : keys) v.push_back(py::str(k));
  return KeyMap::from_keys(v);
}

}  // namespace

void init_graph(py::module_& m) {
  py::class_<EdgeList>(m, "EdgeList", "A parsed edge-list CSV (use gnnkit.read_edge_list).")
      .def_property_readonly("src", [](const EdgeList& e) { return to_numpy(e.src); })
      .def_property_readonly("dst", [](const EdgeList& e) { return to_numpy(e.dst); })
      .def_property_readonly("timestamps", [](const EdgeList& e) { return optional_array(e.timestamps); })
      .def_property_readonly("weights", [](const EdgeList& e) { return optional_array(e.weights); })
      .def_property_readonly("header", [](const EdgeList& e) { return e.header; })
      .def_property_readonly("num_src_nodes", [](const EdgeList& e) { return e.num_src_nodes; })
      .def_property_readonly("num_dst_nodes", [](const EdgeList& e) { return e.num_dst_nodes; })
      .def("src_keys", [](const EdgeList& e) { return keys_to_list(e.src_keys); })
      .def("dst_keys", [](const EdgeList& e) { return keys_to_list(e.dst_keys); })
      .def("has_keys", [](const EdgeList& e) { return e.src_keys.size() > 0 || e.dst_keys.size() > 0; })
      .def("__len__", &EdgeList::num_edges);
  m.def("build_graph_file", [](const std::string& output,
                               const std::vector<std::pair<std::string, std::int64_t>>& num_nodes,
                               const std::vector<std::tuple<std::string, std::string, std::string, std::string,
                                                            std::string, std::string, std::string>>& relations,
                               bool add_reverse, bool keep_edge_ids, std::size_t memory_budget,
                               int num_threads) {
        std::vector<DiskRelation> rels;
        for (const auto& [s, r, d, sp, dp, tp, wp] : relations) rels.push_back({{s, r, d}, sp, dp, tp, wp});
        OutOfCoreOptions opt;
        opt.add_reverse = add_reverse;
        opt.keep_edge_ids = keep_edge_ids;
        opt.memory_budget = memory_budget;
        OutOfCoreReport rep;
        {
          py::gil_scoped_release no_gil;
          rep = build_graph_file(Context::cpu(num_threads), num_nodes, rels, output, opt);
        }
        return py::make_tuple(rep.num_edges, rep.windows, rep.file_bytes);
      });
  m.def("read_edge_list", [](const std::string& path, const std::string& delimiter,
                             const std::string& header, bool string_keys, bool shared_ids,
                             int src_column, int dst_column, int timestamp_column,
                             int weight_column, int num_threads) {
        EdgeListOptions opt;
        GNNKIT_EXPECTS_AS(InvalidArgument, "read_edge_list", delimiter.size() == 1,
                          "'delimiter' must be one character, got '{}'", delimiter);
        opt.delimiter = delimiter[0];
        if (header == "auto") opt.header = EdgeListOptions::Header::kAuto;
        else if (header == "yes") opt.header = EdgeListOptions::Header::kYes;
        else if (header == "no") opt.header = EdgeListOptions::Header::kNo;
        else throw InvalidArgument("read_edge_list",
                                   detail::format("'header' must be 'auto', True or False, got '{}'", header));
        opt.string_keys = string_keys;
        opt.shared_ids = shared_ids;
        opt.src_column = src_column;
        opt.dst_column = dst_column;
        opt.timestamp_column = timestamp_column;
        opt.weight_column = weight_column;
        py::gil_scoped_release no_gil;
        return read_edge_list(Context::cpu(num_threads), path, opt);
      }, py::arg("path"), py::arg("delimiter"), py::arg("header"), py::arg("string_keys"),
      py::arg("shared_ids"), py::arg("src_column"), py::arg("dst_column"),
      py::arg("timestamp_column"), py::arg("weight_column"), py::arg("num_threads"));

  py::class_<GraphFile>(m, "Graph", "HeteroGraph storage and its features (use gnnkit.HeteroGraph).")
      .def_static("build", &build, py::arg("num_nodes"), py::arg("relations"), py::arg("options"),
                  py::arg("num_threads") = 0)
      .def_static("load", [](const std::string& path, bool verify) {
        py::gil_scoped_release no_gil;
        return load_graph(path, {verify});
      }, py::arg("path"), py::arg("verify") = false)
      .def("save", [](const GraphFile& g, const std::string& path) {
        py::gil_scoped_release no_gil;
        save_graph(path, g);
      }, py::arg("path"))
      .def_property_readonly("node_types", [](const GraphFile& g) { return g.graph.schema().node_types(); })
      .def_property_readonly("relations", [](const GraphFile& g) {
        std::vector<std::tuple<std::string, std::string, std::string>> out;
        for (const auto& r : g.graph.schema().relations()) out.emplace_back(r.src, r.rel, r.dst);
        return out;
      })
      .def("num_nodes", [](const GraphFile& g, const std::string& type) { return g.graph.num_nodes(type); })
      .def("total_nodes", [](const GraphFile& g) { return g.graph.num_nodes(); })
      .def("total_edges", [](const GraphFile& g) { return g.graph.num_edges(); })
      .def("num_edges", [](const GraphFile& g, const std::string& rel) { return g.graph.relation(rel).num_edges(); })
      .def("relation_name", [](const GraphFile& g, const std::string& rel) {
        return g.graph.relation(rel).type.str();
      })
      .def("nbytes", [](const GraphFile& g) { return g.graph.nbytes(); })
      .def("csc", [](const GraphFile& g, const std::string& rel) {
        const Relation& r = g.graph.relation(rel);
        return py::make_tuple(to_numpy(r.csc_indptr, -1, false), to_numpy(r.csc_indices, -1, false),
                              optional_array(r.edge_ids));
      }, py::arg("relation"))
      .def("csr", [](const GraphFile& g, const std::string& rel) {
        const Relation& r = g.graph.relation(rel);
        if (!r.has_csr()) return py::object(py::none());
        return py::object(py::make_tuple(to_numpy(r.csr_indptr, -1, false),
                                         to_numpy(r.csr_indices, -1, false),
                                         to_numpy(r.csr_to_csc, -1, false)));
      }, py::arg("relation"))
      .def("timestamps", [](const GraphFile& g, const std::string& rel) {
        return optional_array(g.graph.relation(rel).timestamps);
      })
      .def("weights", [](const GraphFile& g, const std::string& rel) {
        return optional_array(g.graph.relation(rel).weights);
      })
      .def("sorted_by_time", [](const GraphFile& g, const std::string& rel) {
        return g.graph.relation(rel).sorted_by_time;
      })
      .def("edge_id_bound", [](const GraphFile& g, const std::string& rel) {
        return g.graph.relation(rel).edge_id_bound;
      })
      .def("set_node_features", [](GraphFile& g, const std::string& type, const std::string& name,
                                   const py::object& x, bool check_finite) {
        set_matrix(g, FeatureStore::Kind::kNodeFeatures, type, name, x, check_finite);
      }, py::arg("node_type"), py::arg("name"), py::arg("x"), py::arg("check_finite") = true)
      .def("set_edge_features", [](GraphFile& g, const std::string& rel, const std::string& name,
                                   const py::object& x, bool check_finite) {
        set_matrix(g, FeatureStore::Kind::kEdgeFeatures, g.graph.relation(rel).type.str(), name, x, check_finite);
      }, py::arg("relation"), py::arg("name"), py::arg("x"), py::arg("check_finite") = true)
      .def("set_labels", [](GraphFile& g, const std::string& type, const py::object& y) {
        set_vector(g, FeatureStore::Kind::kLabels, type, y);
      })
      .def("set_node_times", [](GraphFile& g, const std::string& type, const py::object& t) {
        set_vector(g, FeatureStore::Kind::kNodeTimes, type, t);
      })
      .def("node_features", [](const GraphFile& g, const std::string& type, const std::string& name) {
        const auto& m = g.features.node_features(type, name);
        return to_numpy(m.data, m.rows, true, m.cols);
      })
      .def("edge_features", [](const GraphFile& g, const std::string& rel, const std::string& name) {
        const auto& m = g.features.edge_features(g.graph.relation(rel).type.str(), name);
        return to_numpy(m.data, m.rows, true, m.cols);
      })
      .def("labels", [](const GraphFile& g, const std::string& type) { return to_numpy(g.features.labels(type)); })
      .def("node_times", [](const GraphFile& g, const std::string& type) { return to_numpy(g.features.node_times(type)); })
      .def("feature_keys", [](const GraphFile& g) {
        std::vector<std::tuple<std::string, std::string, std::string>> out;
        static const char* kinds[] = {"node", "labels", "times", "edge"};
        for (const auto& [k, v] : g.features.entries()) out.emplace_back(kinds[int(k.kind)], k.owner, k.name);
        return out;
      })
      .def("gather", [](const GraphFile& g, const std::string& type, const std::string& name,
                        const py::object& ids, const py::object& out, int num_threads) {
        const auto& m = g.features.node_features(type, name);
        const auto id_arr = int64_array(ids, "HeteroGraph.gather", "ids");
        GNNKIT_EXPECTS_AS(ShapeMismatch, "HeteroGraph.gather", id_arr.ndim() == 1,
                          "'ids' must be 1-d, got shape {}", std::string(py::str(id_arr.attr("shape"))));
        // 'out' is written in place: never a converted copy (the caller would not see it).
        GNNKIT_EXPECTS_AS(InvalidArgument, "HeteroGraph.gather",
                          out.is_none() || py::isinstance<py::array_t<float>>(out),
                          "'out' must be a float32 NumPy array, got {}",
                          py::isinstance<py::array>(out) ? std::string(py::str(out.attr("dtype"))) : type_name(out));
        py::array result = out.is_none()
            ? py::array(py::array_t<float>(std::vector<py::ssize_t>{id_arr.shape(0), py::ssize_t(m.cols)}))
            : py::reinterpret_borrow<py::array>(out);
        const Tensor tid = as_tensor(id_arr, "ids"), tout = as_tensor(result, "out", true);
        {
          py::gil_scoped_release no_gil;
          g.features.gather(Context::cpu(num_threads), {FeatureStore::Kind::kNodeFeatures, type, name},
                            tid, tout);
        }
        return result;
      }, py::arg("node_type"), py::arg("name"), py::arg("ids"), py::arg("out") = py::none(),
         py::arg("num_threads") = 0)
      .def("node_keys", [](const GraphFile& g, const std::string& type) -> py::object {
        auto it = g.node_keys.find(type);
        if (it == g.node_keys.end()) return py::none();
        return keys_to_list(it->second);
      })
      .def("key_types", [](const GraphFile& g) {
        std::vector<std::string> out;
        for (const auto& [t, k] : g.node_keys) out.push_back(t);
        return out;
      })
      .def("set_node_keys", [](GraphFile& g, const std::string& type, const py::iterable& keys) {
        KeyMap map = keys_from_list(keys);
        GNNKIT_EXPECTS_AS(ShapeMismatch, "HeteroGraph.node_keys", map.size() == g.graph.num_nodes(type),
                          "keys of '{}' must have {} entries (one per node), got {}", type,
                          g.graph.num_nodes(type), map.size());
        g.node_keys[type] = std::move(map);
      })
      .def("set_edge_list_keys", [](GraphFile& g, const EdgeList& e, const std::string& src_type,
                                    const std::string& dst_type) {
        // Shares the parsed key bytes: no per-key Python objects for big key sets.
        if (e.src_keys.size() > 0) g.node_keys[src_type] = e.src_keys;
        if (e.dst_keys.size() > 0) g.node_keys[dst_type] = e.dst_keys;
      })
      .def("__repr__", [](const GraphFile& g) { return g.graph.str(); });
}

}  // namespace gnnkit::python
