// Tensor <-> NumPy (buffer protocol, zero-copy both ways), DLPack, Context and matmul.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "gnnkit/gnnkit.hpp"

namespace py = pybind11;

namespace gnnkit::python {
namespace {



/// A DLPack capsule sharing t's memory: versioned when the consumer asks for 1.x.
py::capsule to_dlpack_capsule(const Tensor& t, bool versioned) {
  // A capsule nobody consumed still owns the tensor: its destructor releases it.
  if (versioned) {
    return py::capsule(dlpack::to_dlpack_versioned(t), kVersionedName, [](PyObject* cap) {
      if (!PyCapsule_IsValid(cap, kVersionedName)) return;
      auto* m = static_cast<dlpack::DLManagedTensorVersioned*>(
          PyCapsule_GetPointer(cap, kVersionedName));
      if (m && m->deleter) m->deleter(m);
    });
  }
  return py::capsule(dlpack::to_dlpack(t), kDlpackName, [](PyObject* cap) {
    if (!PyCapsule_IsValid(cap, kDlpackName)) return;
    auto* m = static_cast<dlpack::DLManagedTensor*>(PyCapsule_GetPointer(cap, kDlpackName));
    if (m && m->deleter) m->deleter(m);
  });
}

std::string tensor_repr(const Tensor& t) {
  if (!t.defined()) return "gnnkit.Tensor(undefined)";
  return "gnnkit.Tensor(" + t.str() + ")";
}

}  // namespace

void init_core(py::module_& m) {
  py::class_<Context>(m, "Context", "Device, CPU threads and base seed for compute calls.")
      .def_static("cpu", &Context::cpu, py::arg("num_threads") = 0, py::arg("seed") = 0,
                  "A CPU context; num_threads <= 0 means OMP_NUM_THREADS or all cores.")
      .def_static("cuda", &Context::cuda, py::arg("index") = 0, py::arg("seed") = 0,
                  "A context on CUDA device `index` (raises DeviceError / NotCompiled).")
      .def_property_readonly("device", [](const Context& c) { return c.device().str(); })
      .def_property_readonly("num_threads", &Context::num_threads)
      .def_property_readonly("seed", &Context::seed)
      .def("with_seed", &Context::with_seed, py::arg("seed"))
      .def("with_threads", &Context::with_threads, py::arg("num_threads"))
      .def("__repr__", [](const Context& c) {
        return detail::format("gnnkit.Context(device={}, num_threads={}, seed={})", c.device(),
                              c.num_threads(), c.seed());
      });

  py::class_<Tensor>(m, "Tensor", py::buffer_protocol(),
                     "A dense array owned by gnnkit (or shared zero-copy with NumPy/DLPack).")
      .def_buffer([](const Tensor& t) -> py::buffer_info {
        GNNKIT_EXPECTS_AS(InvalidArgument, "Tensor.__buffer__", t.defined(),
                          "'self' must be a defined tensor");
        GNNKIT_EXPECTS_AS(DeviceMismatch, "Tensor.__buffer__", t.device().is_cpu(),
                          "'self' must be on cpu for NumPy access, got {} (use .to('cpu'))",
                          t.device());
        std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
        std::vector<py::ssize_t> strides;
        for (auto s : t.strides()) strides.push_back(s * py::ssize_t(t.view().itemsize()));
        return py::buffer_info(t.data(), py::ssize_t(t.view().itemsize()),
                               buffer_format(t.dtype()), t.ndim(), shape, strides);
      })
      .def_property_readonly("shape",
                             [](const Tensor& t) {
                               return py::tuple(py::cast(std::vector<std::int64_t>(
                                   t.shape().begin(), t.shape().end())));
                             })
      .def_property_readonly("strides",
                             [](const Tensor& t) {
                               return py::tuple(py::cast(std::vector<std::int64_t>(
                                   t.strides().begin(), t.strides().end())));
                             }, "Strides in elements (as DLPack and torch count them).")
      .def_property_readonly("dtype", [](const Tensor& t) { return numpy_dtype(t.dtype()); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("ndim", &Tensor::ndim)
      .def_property_readonly("nbytes", &Tensor::nbytes)
      .def_property_readonly("data_ptr", [](const Tensor& t) {
        return reinterpret_cast<std::uintptr_t>(t.data());
      })
      .def("numel", &Tensor::numel)
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("__len__", [](const Tensor& t) {
        GNNKIT_EXPECTS_AS(InvalidArgument, "Tensor.__len__", t.ndim() > 0,
                          "'self' must have at least one dim, got a 0-d tensor");
        return t.size(0);
      })
      .def("numpy", [](py::object self) {
        // Zero-copy: the array's base is this Tensor, which keeps the memory alive.
        return py::array(py::buffer(self).request(), self);
      }, "A NumPy array sharing this tensor's memory (CPU tensors only).")
      .def("to", [](const Tensor& t, const std::string& device) {
        if (device == "cpu") return t.to(Device::cpu());
        if (device == "cuda") return t.to(Device::cuda(0));
        if (device.rfind("cuda:", 0) == 0 && device.size() > 5 && device.size() <= 9 &&
            device.find_first_not_of("0123456789", 5) == std::string::npos)
          return t.to(Device::cuda(std::stoi(device.substr(5))));
        throw InvalidArgument("Tensor.to", detail::format("'device' must be 'cpu' or "
                                                          "'cuda[:N]', got '{}'", device));
      }, py::arg("device"), "A contiguous copy on `device` ('cpu', 'cuda', 'cuda:1').")
      .def("clone", &Tensor::clone)
      .def("__dlpack__", [](const Tensor& t, const py::object& stream, const py::object& max_version,
                            const py::object& dl_device, const py::object& copy) {
        (void)stream;
        (void)dl_device;
        GNNKIT_EXPECTS_AS(InvalidArgument, "Tensor.__dlpack__",
                          copy.is_none() || !copy.cast<bool>(),
                          "'copy' must be None or False (gnnkit exports share memory), got {}",
                          std::string(py::str(copy)));
        // Work queued on our streams finishes before a consumer on another stream reads.
        if (t.device().is_cuda()) Context::cuda(t.device().index).synchronize();
        const bool versioned =
            !max_version.is_none() && max_version.cast<py::tuple>()[0].cast<int>() >= 1;
        return to_dlpack_capsule(t, versioned);
      }, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
         py::arg("dl_device") = py::none(), py::arg("copy") = py::none(),
         "DLPack capsule sharing this tensor's memory (numpy/torch.from_dlpack).")
      .def("__dlpack_device__", [](const Tensor& t) {
        const auto d = dlpack::to_dlpack_device(t.device());
        return py::make_tuple(d.device_type, d.device_id);
      })
      .def("__repr__", &tensor_repr);

  m.def("empty", [](const std::vector<std::int64_t>& shape, const py::object& dtype) {
        return Tensor::empty(shape, dtype_from_numpy(py::dtype::from_args(dtype), "dtype"));
      }, py::arg("shape"), py::arg("dtype") = "float32", "Uninitialised CPU tensor (64-byte aligned).");
  m.def("zeros", [](const std::vector<std::int64_t>& shape, const py::object& dtype) {
        return Tensor::zeros(shape, dtype_from_numpy(py::dtype::from_args(dtype), "dtype"));
      }, py::arg("shape"), py::arg("dtype") = "float32", "Zero-filled CPU tensor.");
  m.def("as_tensor", [](const py::object& obj) { return as_tensor(obj, "obj"); }, py::arg("obj"),
        "A Tensor sharing memory with obj (NumPy array, DLPack producer or Tensor), no copy.");
  m.def("from_dlpack", [](const py::object& obj) { return from_dlpack_object(obj, "obj"); }, py::arg("obj"),
        "A Tensor sharing memory with a DLPack producer (e.g. a torch tensor), no copy.");
  m.def("cuda_device_count", &cuda_device_count);
  m.def("cuda_compiled", &cuda_compiled);
  m.def("dense_backend", &dense_backend_name);

  m.def("matmul", [](const Context& ctx, const py::object& a, const py::object& b,
                     const py::object& bias, const py::object& out) {
        const Tensor ta = as_tensor(a, "a"), tb = as_tensor(b, "b");
        std::optional<Tensor> tbias;
        if (!bias.is_none()) tbias = as_tensor(bias, "bias");
        std::optional<TensorView> bias_view;
        if (tbias) bias_view = tbias->view();
        if (!out.is_none()) {
          const Tensor tout = as_tensor(out, "out", true);
          py::gil_scoped_release no_gil;
          matmul_into(ctx, ta, tb, bias_view, tout);
          return tout;
        }
        py::gil_scoped_release no_gil;
        return matmul(ctx, ta, tb, bias_view);
      }, py::arg("ctx"), py::arg("a"), py::arg("b"), py::arg("bias") = py::none(),
      py::arg("out") = py::none(), "out = a @ b (+ bias); see gnnkit.matmul.");
}

}  // namespace gnnkit::python
