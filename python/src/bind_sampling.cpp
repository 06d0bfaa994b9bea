// Neighbour sampling: NeighborSampler and MiniBatch, whose arrays reach Python as NumPy
// views of the C++ vectors (the MiniBatch stays alive while any view does); DeviceSampler and
// DeviceMiniBatch, whose arrays are gnnkit Tensors where they were sampled (DLPack to torch).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "bindings.hpp"
#include "convert.hpp"
#include "gnnkit/io/graph_file.hpp"
#include "gnnkit/sampling/device_sampler.hpp"
#include "gnnkit/sampling/link.hpp"
#include "gnnkit/sampling/loader.hpp"
#include "gnnkit/sampling/neighbor.hpp"
#include "gnnkit/sampling/seed_identity.hpp"

namespace py = pybind11;

namespace gnnkit::python {
namespace {

using MiniBatchPtr = std::shared_ptr<MiniBatch>;

/// A read-only NumPy view of a vector owned by the MiniBatch held in `owner`.
template <typename T>
py::array view(const std::vector<T>& v, const py::object& owner) {
  py::array a(py::dtype::of<T>(), {py::ssize_t(v.size())}, {py::ssize_t(sizeof(T))}, v.data(), owner);
  a.attr("setflags")(py::arg("write") = false);
  return a;
}

TemporalStrategy parse_temporal(const py::object& t) {
  if (t.is_none()) return TemporalStrategy::kNone;
  const std::string s = py::str(t);
  if (s == "uniform") return TemporalStrategy::kUniform;
  if (s == "recent" || s == "most_recent") return TemporalStrategy::kMostRecent;
  throw InvalidArgument("NeighborSampler", detail::format("'temporal' must be None, 'uniform' or 'recent', got '{}'", s));
}

EdgeIdKind parse_edge_ids(const std::string& s) {
  if (s == "input") return EdgeIdKind::kInput;
  if (s == "csc") return EdgeIdKind::kCscPosition;
  throw InvalidArgument("NeighborSampler", detail::format("'edge_ids' must be 'input' or 'csc', got '{}'", s));
}

/// v[i], or OutOfRange naming what was indexed (instead of std::vector::at's message).
template <typename V>
const auto& element(const V& v, std::int64_t i, const char* fn, const char* what) {
  GNNKIT_EXPECTS_AS(OutOfRange, fn, i >= 0 && i < std::int64_t(v.size()), "'{}' must be in [0, {}), got {}",
                    what, v.size(), i);
  return v[std::size_t(i)];
}

}  // namespace

void init_sampling(py::module_& m) {
  py::class_<MiniBatch, MiniBatchPtr>(m, "MiniBatch", "Output of a sampler (see gnnkit.sampling).")
      .def_property_readonly("seed_type", [](const MiniBatch& b) { return b.seed_type; })
      .def("nodes", [](py::object self, int t) { return view(element(self.cast<const MiniBatch&>().nodes, t, "MiniBatch.nodes", "node_type"), self); })
      .def("node_times", [](py::object self, int t) -> py::object {
        const auto& b = self.cast<const MiniBatch&>();
        if (b.node_times.empty()) return py::none();
        return view(element(b.node_times, t, "MiniBatch.node_times", "node_type"), self);
      })
      .def("node_seed", [](py::object self, int t) -> py::object {
        const auto& b = self.cast<const MiniBatch&>();
        if (b.node_seed.empty()) return py::none();
        return view(element(b.node_seed, t, "MiniBatch.node_seed", "node_type"), self);
      })
      .def_property_readonly("seed_local", [](py::object self) { return view(self.cast<const MiniBatch&>().seed_local, self); })
      .def_property_readonly("num_relations", [](const MiniBatch& b) { return b.relations.size(); })
      .def("relation", [](py::object self, int r) {
        const SampledRelation& s = element(self.cast<const MiniBatch&>().relations, r, "MiniBatch.relation", "relation");
        return py::make_tuple(view(s.indptr, self), view(s.indices, self), view(s.edge_ids, self),
                              s.src_type, s.dst_type);
      })
      .def_property_readonly("blocks", [](const MiniBatch& b) {
        py::list out;
        for (const Block& k : b.blocks)
          out.append(py::make_tuple(k.dst_begin, k.dst_end, k.num_src, k.num_edges));
        return out;
      })
      .def("num_edges", &MiniBatch::num_edges);

  using BatchPtr = std::shared_ptr<LoaderBatch>;
  py::class_<LoaderBatch, BatchPtr>(m, "LoaderBatch")
      .def_property_readonly("index", [](const LoaderBatch& b) { return b.index; })
      .def_property_readonly("seeds", [](py::object self) { return view(self.cast<const LoaderBatch&>().seeds, self); })
      .def_property_readonly("seed_times", [](py::object self) -> py::object {
        const auto& b = self.cast<const LoaderBatch&>();
        if (b.seed_times.empty()) return py::none();
        return view(b.seed_times, self);
      })
      .def_property_readonly("mini_batch", [](const BatchPtr& b) {
        return MiniBatchPtr(b, &b->mini_batch);  // shares ownership of the whole batch
      })
      .def("features", [](py::object self, std::size_t i) {
        const FeatureMatrix& f = element(self.cast<const LoaderBatch&>().features, std::int64_t(i), "LoaderBatch.features", "index");
        py::array a(py::dtype::of<float>(), {py::ssize_t(f.rows), py::ssize_t(f.cols)},
                    {py::ssize_t(f.cols * 4), py::ssize_t(4)}, f.data.data(), self);
        return a;
      });

  py::class_<NeighborLoader>(m, "NeighborLoader")
      .def(py::init([](std::shared_ptr<NeighborSampler> sampler, const GraphFile& g,
                       const std::string& seed_type, std::vector<std::int64_t> seeds,
                       std::vector<std::int64_t> seed_times, std::int64_t batch_size, bool shuffle,
                       bool drop_last, std::uint64_t seed, int prefetch, int num_workers,
                       int threads_per_worker,
                       std::vector<std::pair<std::string, std::string>> features) {
             LoaderOptions o;
             o.batch_size = batch_size;
             o.shuffle = shuffle;
             o.drop_last = drop_last;
             o.seed = seed;
             o.prefetch = prefetch;
             o.num_workers = num_workers;
             o.threads_per_worker = threads_per_worker;
             o.features = std::move(features);
             // The store is copied: the copy shares every array (no feature data is copied).
             return std::make_unique<NeighborLoader>(std::move(sampler), std::make_shared<FeatureStore>(g.features),
                                                     seed_type, std::move(seeds), std::move(seed_times), std::move(o));
           }),
           py::arg("sampler"), py::arg("graph"), py::arg("seed_type"), py::arg("seeds"),
           py::arg("seed_times"), py::arg("batch_size"), py::arg("shuffle"), py::arg("drop_last"),
           py::arg("seed"), py::arg("prefetch"), py::arg("num_workers"),
           py::arg("threads_per_worker"), py::arg("features"))
      .def("num_batches", &NeighborLoader::num_batches)
      .def("start_epoch", [](NeighborLoader& l, std::uint64_t epoch) {
        py::gil_scoped_release no_gil;
        l.start_epoch(epoch);
      })
      .def("next", [](NeighborLoader& l) -> py::object {
        std::shared_ptr<const LoaderBatch> b;
        {
          py::gil_scoped_release no_gil;
          b = l.next();
        }
        if (!b) return py::none();
        return py::cast(std::const_pointer_cast<LoaderBatch>(b));
      });

  using LinkPtr = std::shared_ptr<LinkBatch>;
  py::class_<LinkBatch, LinkPtr>(m, "LinkBatch")
      .def_property_readonly("mini_batch", [](const LinkPtr& b) { return MiniBatchPtr(b, &b->mini_batch); })
      .def_property_readonly("src", [](py::object self) { return view(self.cast<const LinkBatch&>().src, self); })
      .def_property_readonly("dst", [](py::object self) { return view(self.cast<const LinkBatch&>().dst, self); })
      .def_property_readonly("neg_dst", [](py::object self) { return view(self.cast<const LinkBatch&>().neg_dst, self); })
      .def_property_readonly("neg_dst_global", [](py::object self) {
        return view(self.cast<const LinkBatch&>().neg_dst_global, self);
      });

  py::class_<LinkSampler>(m, "LinkSampler")
      .def(py::init([](std::shared_ptr<NeighborSampler> sampler, const std::string& relation,
                       std::int64_t num_negatives, const std::string& negatives, bool exclude, int max_tries) {
             LinkSamplingOptions o;
             o.num_negatives = num_negatives;
             if (negatives == "uniform") o.negatives = NegativeSampling::kUniform;
             else if (negatives == "degree") o.negatives = NegativeSampling::kDegree;
             else throw InvalidArgument("LinkSampler", detail::format("'negatives' must be 'uniform' or 'degree', got '{}'", negatives));
             o.exclude_positives = exclude;
             o.max_tries = max_tries;
             return std::make_unique<LinkSampler>(std::move(sampler), relation, o);
           }),
           py::arg("sampler"), py::arg("relation"), py::arg("num_negatives"), py::arg("negatives"),
           py::arg("exclude_positives"), py::arg("max_tries"))
      .def("sample", [](const LinkSampler& ls, const py::object& src, const py::object& dst,
                        std::uint64_t batch, std::uint64_t seed, int num_threads) {
        const auto s = int64_array(src, "LinkSampler.sample", "src");
        const auto d = int64_array(dst, "LinkSampler.sample", "dst");
        const Tensor ts = as_tensor(s, "src"), td = as_tensor(d, "dst");
        auto out = std::make_shared<LinkBatch>();
        {
          py::gil_scoped_release no_gil;
          ls.sample_into(Context::cpu(num_threads, seed), ts, td, batch, *out);
        }
        return out;
      }, py::arg("src"), py::arg("dst"), py::arg("batch") = 0, py::arg("seed") = 0, py::arg("num_threads") = 0);

  py::class_<SeedIdentity>(m, "SeedIdentity")
      .def(py::init([](const GraphFile& g, const std::string& target) {
             const auto t = g.graph.schema().find_node_type(target);
             if (!t)
               throw InvalidArgument("SeedIdentity", detail::format("unknown target node type '{}' (graph: {})",
                                                                    target, g.graph.str()));
             return SeedIdentity(g.graph, *t);
           }),
           py::arg("graph"), py::arg("target"), py::keep_alive<1, 2>())
      .def("columns", &SeedIdentity::columns)
      .def_property_readonly("entity_types", &SeedIdentity::entity_types)
      .def("describe", &SeedIdentity::describe)
      .def("fill", [](const SeedIdentity& s, const MiniBatch& mb, int type) {
        if (type < 0 || std::size_t(type) >= mb.nodes.size())
          throw OutOfRange("SeedIdentity.fill", detail::format("'node_type' must be in [0, {}), got {}",
                                                               mb.nodes.size(), type));
        const auto rows = py::ssize_t(mb.nodes[std::size_t(type)].size());
        const auto cols = py::ssize_t(s.columns(type));
        py::array_t<float> out({rows, cols});
        if (cols > 0) s.fill(mb, type, out.mutable_data(), cols);
        return out;
      });

  py::class_<NeighborSampler, std::shared_ptr<NeighborSampler>>(m, "NeighborSampler")
      .def(py::init([](const GraphFile& g, const std::vector<std::int64_t>& fanouts,
                       const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& relation_fanouts,
                       bool replace, bool weighted, const py::object& temporal, bool strict_time,
                       bool disjoint, const std::string& edge_ids) {
             SamplingOptions o;
             o.edge_ids = parse_edge_ids(edge_ids);
             o.fanouts = fanouts;
             o.relation_fanouts = relation_fanouts;
             o.replace = replace;
             o.weighted = weighted;
             o.temporal = parse_temporal(temporal);
             o.strict_time = strict_time;
             o.disjoint = disjoint;
             return std::make_shared<NeighborSampler>(g.graph, std::move(o));
           }),
           py::arg("graph"), py::arg("fanouts"), py::arg("relation_fanouts"), py::arg("replace"),
           py::arg("weighted"), py::arg("temporal"), py::arg("strict_time"), py::arg("disjoint"),
           py::arg("edge_ids") = "input")
      .def_property_readonly("num_hops", &NeighborSampler::num_hops)
      .def("fanout", &NeighborSampler::fanout)
      .def("sample", [](const NeighborSampler& s, const std::string& seed_type, const py::object& seeds,
                        const py::object& seed_times, std::uint64_t batch, std::uint64_t seed,
                        int num_threads) {
        const auto ids = int64_array(seeds, "NeighborSampler.sample", "seeds");
        const Tensor tid = as_tensor(ids, "seeds");
        std::optional<Tensor> ttimes;
        if (!seed_times.is_none()) {
          const auto t = int64_array(seed_times, "NeighborSampler.sample", "seed_times");
          ttimes = as_tensor(t, "seed_times");
        }
        std::optional<TensorView> tv;
        if (ttimes) tv = ttimes->view();
        MiniBatchPtr out;
        {
          py::gil_scoped_release no_gil;
          out = std::make_shared<MiniBatch>(s.sample(Context::cpu(num_threads, seed), seed_type, tid, tv, batch));
        }
        return out;
      }, py::arg("seed_type"), py::arg("seeds"), py::arg("seed_times") = py::none(),
         py::arg("batch") = 0, py::arg("seed") = 0, py::arg("num_threads") = 0);

  py::class_<DeviceMiniBatch, std::shared_ptr<DeviceMiniBatch>>(
      m, "DeviceMiniBatch", "A DeviceSampler batch where it was sampled (see gnnkit.sampling).")
      .def_property_readonly("seed_type", [](const DeviceMiniBatch& b) { return b.seed_type; })
      .def_property_readonly("nodes", [](const DeviceMiniBatch& b) { return b.nodes; })
      .def_property_readonly("seed_local", [](const DeviceMiniBatch& b) { return b.seed_local; })
      .def("output_nodes", &DeviceMiniBatch::output_nodes)
      .def("relation", [](const DeviceMiniBatch& b, int r) {
        const DeviceSampledRelation& s = element(b.relations, r, "DeviceMiniBatch.relation", "relation");
        return py::make_tuple(s.indptr, s.indices, s.edge_ids, s.src_type, s.dst_type);
      })
      .def_property_readonly("blocks", [](const DeviceMiniBatch& b) {
        py::list out;
        for (const Block& k : b.blocks) out.append(py::make_tuple(k.dst_begin, k.dst_end, k.num_src, k.num_edges));
        return out;
      })
      .def("to_host", [](const DeviceMiniBatch& b, const Context& ctx) {
        py::gil_scoped_release no_gil;
        return std::make_shared<MiniBatch>(b.to_host(ctx));
      }, py::arg("context"));

  py::class_<DeviceSampler, std::shared_ptr<DeviceSampler>>(m, "DeviceSampler")
      .def(py::init([](const GraphFile& g, const Context& ctx, const std::vector<std::int64_t>& fanouts,
                       const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& relation_fanouts) {
             py::gil_scoped_release no_gil;
             DeviceGraph dg = DeviceGraph::upload(ctx, g.graph);
             if (relation_fanouts.empty()) return std::make_shared<DeviceSampler>(std::move(dg), fanouts);
             // Per relation: the named lists, `fanouts` (or 0 when empty) for the others.
             const Schema& schema = g.graph.schema();
             std::size_t hops = fanouts.size();
             if (hops == 0) hops = relation_fanouts.front().second.size();
             std::vector<std::vector<std::int64_t>> per(
                 std::size_t(schema.num_relations()),
                 fanouts.empty() ? std::vector<std::int64_t>(hops, 0) : fanouts);
             for (const auto& [name, list] : relation_fanouts) per[std::size_t(schema.relation_id(name))] = list;
             return std::make_shared<DeviceSampler>(DeviceSampler::per_relation(std::move(dg), std::move(per)));
           }),
           py::arg("graph"), py::arg("context"), py::arg("fanouts"), py::arg("relation_fanouts"))
      .def("sample", [](const DeviceSampler& s, const Context& ctx, int seed_type, const py::object& seeds,
                        std::uint64_t batch) {
        const Tensor ids = as_tensor(seeds, "seeds");
        py::gil_scoped_release no_gil;
        return std::make_shared<DeviceMiniBatch>(s.sample(ctx, seed_type, ids, batch));
      }, py::arg("context"), py::arg("seed_type"), py::arg("seeds"), py::arg("batch") = 0);
}

}  // namespace gnnkit::python
