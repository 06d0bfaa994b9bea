// Tensor <-> NumPy (buffer protocol, zero-copy both ways), DLPack, Context and matmul.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings.hpp"
#include "gnnkit/gnnkit.hpp"

namespace py = pybind11;

namespace gnnkit::python {
namespace {

constexpr const char* kDlpackName = "dltensor";
constexpr const char* kUsedDlpackName = "used_dltensor";
constexpr const char* kVersionedName = "dltensor_versioned";
constexpr const char* kUsedVersionedName = "used_dltensor_versioned";

/// Keeps a Python object alive from C++: the deleter takes the GIL to drop the reference, so
/// tensors that wrap NumPy memory may die on any thread.
std::shared_ptr<void> hold(py::object obj) {
  auto* raw = obj.release().ptr();
  return std::shared_ptr<void>(raw, [](void* p) {
    if (!Py_IsInitialized()) return;  // interpreter gone: leaking is the only safe option
    py::gil_scoped_acquire gil;
    Py_DECREF(static_cast<PyObject*>(p));
  });
}

DType dtype_from_numpy(const py::dtype& dt, const char* arg) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && size == 4) return DType::kFloat32;
  if (kind == 'f' && size == 8) return DType::kFloat64;
  if (kind == 'i' && size == 4) return DType::kInt32;
  if (kind == 'i' && size == 8) return DType::kInt64;
  if (kind == 'i' && size == 1) return DType::kInt8;
  if (kind == 'u' && size == 1) return DType::kUInt8;
  if (kind == 'b' && size == 1) return DType::kBool;
  throw InvalidArgument("as_tensor", detail::format("'{}' must have dtype float32/64, int8/32/64, "
                                                    "uint8 or bool, got {}",
                                                    arg, std::string(py::str(py::object(dt)))));
}

py::dtype numpy_dtype(DType dt) {
  switch (dt) {
    case DType::kFloat32: return py::dtype::of<float>();
    case DType::kFloat64: return py::dtype::of<double>();
    case DType::kInt32: return py::dtype::of<std::int32_t>();
    case DType::kInt64: return py::dtype::of<std::int64_t>();
    case DType::kUInt8: return py::dtype::of<std::uint8_t>();
    case DType::kInt8: return py::dtype::of<std::int8_t>();
    case DType::kBool: return py::dtype::of<bool>();
  }
  return py::dtype::of<float>();
}

std::string buffer_format(DType dt) {
  switch (dt) {
    case DType::kFloat32: return py::format_descriptor<float>::format();
    case DType::kFloat64: return py::format_descriptor<double>::format();
    case DType::kInt32: return py::format_descriptor<std::int32_t>::format();
    case DType::kInt64: return py::format_descriptor<std::int64_t>::format();
    case DType::kUInt8: return py::format_descriptor<std::uint8_t>::format();
    case DType::kInt8: return py::format_descriptor<std::int8_t>::format();
    case DType::kBool: return py::format_descriptor<bool>::format();
  }
  return "B";
}

/// Zero-copy view of a NumPy array (any strides that are multiples of the item size).
Tensor from_numpy(const py::array& arr, const char* arg) {
  const DType dtype = dtype_from_numpy(arr.dtype(), arg);
  const auto ndim = arr.ndim();
  GNNKIT_EXPECTS_AS(InvalidArgument, "as_tensor", ndim <= TensorView::kMaxDims,
                    "'{}' must have at most {} dims, got {}", arg, TensorView::kMaxDims, ndim);
  std::vector<std::int64_t> shape(ndim), strides(ndim);
  const auto item = static_cast<std::int64_t>(arr.itemsize());
  for (py::ssize_t d = 0; d < ndim; ++d) {
    shape[d] = arr.shape(d);
    GNNKIT_EXPECTS_AS(InvalidArgument, "as_tensor", arr.strides(d) % item == 0,
                      "'{}' must have strides that are multiples of its item size {}, got {} "
                      "bytes in dim {}",
                      arg, item, arr.strides(d), d);
    strides[d] = arr.strides(d) / item;
  }
  // mutable_data is not needed: gnnkit tensors carry no read-only flag, and matmul never
  // writes its inputs. data() works for read-only arrays too.
  void* data = const_cast<void*>(arr.data());
  const TensorView view(data, dtype, Device::cpu(), shape, strides);
  return Tensor::wrap(view, hold(arr));
}

/// Imports anything that speaks DLPack (torch tensors, NumPy arrays, cupy, our own tensors),
/// asking for a versioned (1.x) capsule first and falling back to the legacy protocol.
Tensor from_dlpack_object(const py::object& obj) {
  py::object capsule_obj;
  try {
    capsule_obj = obj.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(1, 0));
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;  // older producers do not take max_version
    capsule_obj = obj.attr("__dlpack__")();
  }
  py::capsule capsule = py::reinterpret_borrow<py::capsule>(capsule_obj);
  const std::string name = capsule.name() ? capsule.name() : "";
  if (name == kVersionedName) {
    auto* managed = capsule.get_pointer<dlpack::DLManagedTensorVersioned>();
    PyCapsule_SetName(capsule.ptr(), kUsedVersionedName);  // ours from here on
    return dlpack::from_dlpack(managed);
  }
  GNNKIT_EXPECTS_AS(InvalidArgument, "from_dlpack", name == kDlpackName,
                    "'obj.__dlpack__()' must return an unused DLPack capsule, got '{}'", name);
  auto* managed = capsule.get_pointer<dlpack::DLManagedTensor>();
  PyCapsule_SetName(capsule.ptr(), kUsedDlpackName);
  return dlpack::from_dlpack(managed);
}

/// Anything array-like as a Tensor without copying: Tensor, NumPy array, DLPack producer.
Tensor as_tensor(const py::object& obj, const char* arg) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  if (py::isinstance<py::array>(obj)) return from_numpy(obj.cast<py::array>(), arg);
  if (py::hasattr(obj, "__dlpack__")) return from_dlpack_object(obj);
  throw InvalidArgument("as_tensor",
                        detail::format("'{}' must be a gnnkit.Tensor, a NumPy array or a DLPack "
                                       "producer, got {}",
                                       arg, std::string(py::str(py::type::of(obj)))));
}

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
        if (device.rfind("cuda", 0) == 0) {
          const int index = device.size() > 5 ? std::stoi(device.substr(5)) : 0;
          return t.to(Device::cuda(index));
        }
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
  m.def("from_dlpack", &from_dlpack_object, py::arg("obj"),
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
          const Tensor tout = as_tensor(out, "out");
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
