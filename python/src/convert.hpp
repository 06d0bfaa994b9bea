#pragma once
// Conversions shared by the binding units: NumPy / DLPack objects <-> gnnkit Tensor and
// HostArray, zero-copy whenever the dtype and layout allow.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "gnnkit/core/dlpack.hpp"
#include "gnnkit/core/host_array.hpp"
#include "gnnkit/core/tensor.hpp"

namespace gnnkit::python {

namespace py = pybind11;

inline constexpr const char* kDlpackName = "dltensor";
inline constexpr const char* kUsedDlpackName = "used_dltensor";
inline constexpr const char* kVersionedName = "dltensor_versioned";
inline constexpr const char* kUsedVersionedName = "used_dltensor_versioned";

/// Keeps a Python object alive from C++: the deleter takes the GIL to drop the reference, so
/// tensors that wrap NumPy memory may die on any thread.
inline std::shared_ptr<void> hold(py::object obj) {
  auto* raw = obj.release().ptr();
  return std::shared_ptr<void>(raw, [](void* p) {
    if (!Py_IsInitialized()) return;  // interpreter gone: leaking is the only safe option
    py::gil_scoped_acquire gil;
    Py_DECREF(static_cast<PyObject*>(p));
  });
}

inline DType dtype_from_numpy(const py::dtype& dt, const char* arg) {
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

inline py::dtype numpy_dtype(DType dt) {
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

inline std::string buffer_format(DType dt) {
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
inline Tensor from_numpy(const py::array& arr, const char* arg) {
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
inline Tensor from_dlpack_object(const py::object& obj) {
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
inline Tensor as_tensor(const py::object& obj, const char* arg) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  if (py::isinstance<py::array>(obj)) return from_numpy(obj.cast<py::array>(), arg);
  if (py::hasattr(obj, "__dlpack__")) return from_dlpack_object(obj);
  throw InvalidArgument("as_tensor",
                        detail::format("'{}' must be a gnnkit.Tensor, a NumPy array or a DLPack "
                                       "producer, got {}",
                                       arg, std::string(py::str(py::type::of(obj)))));
}

/// A NumPy array viewing a HostArray (shape [n] or [rows, n / rows]); the array keeps the
/// HostArray's owner alive. Read-only for graph structure, which is immutable.
inline py::array to_numpy(const HostArray& a, std::int64_t rows = 0, bool writable = true) {
  if (!a.defined()) return py::array(numpy_dtype(DType::kFloat32), std::vector<py::ssize_t>{0});
  std::vector<py::ssize_t> shape{py::ssize_t(a.size())};
  if (rows > 0) shape = {py::ssize_t(rows), py::ssize_t(a.size() / rows)};
  auto* keep = new std::shared_ptr<void>(a.owner());
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<void>*>(p); });
  py::array out(numpy_dtype(a.dtype()), shape, {}, a.data(), base);
  if (!writable) out.attr("setflags")(py::arg("write") = false);
  return out;
}

/// A HostArray sharing the memory of `obj` when it is a C-contiguous NumPy array of dtype
/// T, else a converted copy (documented: zero-copy needs the exact dtype and layout).
template <typename T>
HostArray host_array_from(const py::handle& obj, const char* function, const char* arg) {
  if (!py::isinstance<py::array>(obj) && !py::hasattr(obj, "__array__") && !py::isinstance<py::sequence>(obj))
    throw InvalidArgument(function, detail::format("'{}' must be array-like, got {}", arg,
                                                   std::string(py::str(py::type::of(obj)))));
  auto arr = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!arr) throw py::error_already_set();
  const auto n = arr.size();
  return HostArray::wrap(arr.mutable_data(), dtype_of<T>, std::int64_t(n), hold(arr));
}

}  // namespace gnnkit::python
