#pragma once
// Conversions shared by the binding units: NumPy / DLPack objects <-> gnnkit Tensor and
// HostArray, zero-copy whenever the dtype and layout allow.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
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

/// The Python type name of `obj`, for messages.
inline std::string type_name(const py::handle& obj) { return py::str(py::type::of(obj)); }

/// Zero-copy view of a NumPy array (any strides that are multiples of the item size).
/// `writable`: the array receives results ('out' arguments), so a read-only one is an error.
inline Tensor from_numpy(const py::array& arr, const char* arg, bool writable = false) {
  const DType dtype = dtype_from_numpy(arr.dtype(), arg);
  const auto ndim = arr.ndim();
  GNNKIT_EXPECTS_AS(InvalidArgument, "as_tensor", ndim <= TensorView::kMaxDims,
                    "'{}' must have at most {} dims, got {}", arg, TensorView::kMaxDims, ndim);
  GNNKIT_EXPECTS_AS(InvalidArgument, "as_tensor", !writable || arr.writeable(),
                    "'{}' must be writable (it receives the result), got a read-only array", arg);
  std::vector<std::int64_t> shape(ndim), strides(ndim);
  const auto item = static_cast<std::int64_t>(arr.itemsize());
  // A stride that is never stepped (empty arrays, dims of extent 1) can be anything in NumPy
  // (0 for shape (0, 2)): such dims get their C-contiguous stride, so that contiguity checks
  // see what the memory is.
  std::int64_t contiguous = 1;
  for (py::ssize_t d = ndim - 1; d >= 0; --d) {
    shape[d] = arr.shape(d);
    if (arr.size() == 0 || shape[d] == 1) {
      strides[d] = contiguous;
    } else {
      GNNKIT_EXPECTS_AS(InvalidArgument, "as_tensor", arr.strides(d) % item == 0,
                        "'{}' must have strides that are multiples of its item size {}, got {} "
                        "bytes in dim {}",
                        arg, item, arr.strides(d), d);
      strides[d] = arr.strides(d) / item;
    }
    contiguous *= std::max<std::int64_t>(shape[d], 1);
  }
  // data() also works for read-only arrays: inputs are never written.
  void* data = const_cast<void*>(arr.data());
  const TensorView view(data, dtype, Device::cpu(), shape, strides);
  return Tensor::wrap(view, hold(arr));
}

/// Imports anything that speaks DLPack (torch tensors, NumPy arrays, cupy, our own tensors),
/// asking for a versioned (1.x) capsule first and falling back to the legacy protocol.
/// `writable`: the tensor receives results, so a producer's read-only flag is an error.
inline Tensor from_dlpack_object(const py::object& obj, const char* arg = "obj", bool writable = false) {
  GNNKIT_EXPECTS_AS(InvalidArgument, "from_dlpack", py::hasattr(obj, "__dlpack__"),
                    "'{}' must be a DLPack producer (an object with __dlpack__), got {}", arg,
                    type_name(obj));
  py::object capsule_obj;
  try {
    capsule_obj = obj.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(1, 0));
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;  // older producers do not take max_version
    capsule_obj = obj.attr("__dlpack__")();
  }
  GNNKIT_EXPECTS_AS(InvalidArgument, "from_dlpack", PyCapsule_CheckExact(capsule_obj.ptr()),
                    "'{}.__dlpack__()' must return a DLPack capsule, got {}", arg,
                    type_name(capsule_obj));
  py::capsule capsule = py::reinterpret_borrow<py::capsule>(capsule_obj);
  const std::string name = capsule.name() ? capsule.name() : "";
  if (name == kVersionedName) {
    auto* managed = capsule.get_pointer<dlpack::DLManagedTensorVersioned>();
    GNNKIT_EXPECTS_AS(InvalidArgument, "from_dlpack", !writable || !(managed->flags & dlpack::kFlagReadOnly),
                      "'{}' must be writable (it receives the result), got a read-only DLPack tensor", arg);
    PyCapsule_SetName(capsule.ptr(), kUsedVersionedName);  // ours from here on
    return dlpack::from_dlpack(managed);
  }
  GNNKIT_EXPECTS_AS(InvalidArgument, "from_dlpack", name == kDlpackName,
                    "'{}.__dlpack__()' must return an unused DLPack capsule, got '{}'", arg, name);
  auto* managed = capsule.get_pointer<dlpack::DLManagedTensor>();
  PyCapsule_SetName(capsule.ptr(), kUsedDlpackName);
  return dlpack::from_dlpack(managed);
}

/// Anything array-like as a Tensor without copying: Tensor, NumPy array, DLPack producer.
/// `writable`: for 'out' arguments (read-only NumPy arrays and DLPack tensors are refused).
inline Tensor as_tensor(const py::object& obj, const char* arg, bool writable = false) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  if (py::isinstance<py::array>(obj)) return from_numpy(obj.cast<py::array>(), arg, writable);
  if (py::hasattr(obj, "__dlpack__")) return from_dlpack_object(obj, arg, writable);
  throw InvalidArgument("as_tensor",
                        detail::format("'{}' must be a gnnkit.Tensor, a NumPy array or a DLPack "
                                       "producer, got {}",
                                       arg, type_name(obj)));
}

/// `obj` as a NumPy array of numbers in its own dtype (lists and other array-likes converted).
/// @throws InvalidArgument naming `arg` for anything NumPy cannot make a numeric array of
/// (ragged lists, strings, objects).
inline py::array numeric_array(const py::handle& obj, const char* function, const char* arg) {
  py::array arr;
  if (py::isinstance<py::array>(obj)) {
    arr = py::reinterpret_borrow<py::array>(obj);
  } else {
    arr = py::array::ensure(obj);  // clears NumPy's error on failure: ours names the argument
    if (!arr)
      throw InvalidArgument(function, detail::format("'{}' must be array-like (a NumPy array or a "
                                                     "rectangular list of numbers), got {}",
                                                     arg, type_name(obj)));
  }
  const char kind = arr.dtype().kind();
  GNNKIT_EXPECTS_AS(InvalidArgument, function, kind == 'i' || kind == 'u' || kind == 'f' || kind == 'b',
                    "'{}' must hold numbers, got dtype {}", arg, std::string(py::str(py::object(arr.dtype()))));
  return arr;
}

using Int64Array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

/// Integer ids, labels or times as a C-contiguous int64 array (the array itself when it
/// already is one). Floats pass only when every value is a whole number (2.0, not 2.9 or
/// NaN, which a cast would silently turn into 2 or garbage); uint64 values must fit int64;
/// bools only where `allow_bool` (a mask passed as ids is a mistake).
inline Int64Array int64_array(const py::handle& obj, const char* function, const char* arg,
                              bool allow_bool = false) {
  const py::array arr = numeric_array(obj, function, arg);
  const char kind = arr.dtype().kind();
  if (arr.size() > 0 && kind == 'b')
    GNNKIT_EXPECTS_AS(InvalidArgument, function, allow_bool,
                      "'{}' must hold integers, got dtype bool (for a mask's positions use "
                      "numpy.flatnonzero(mask))", arg);
  if (arr.size() > 0 && kind == 'f') {
    const auto f = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(arr);
    const double* v = f.data();
    for (py::ssize_t i = 0; i < f.size(); ++i)
      GNNKIT_EXPECTS_AS(InvalidArgument, function,
                        std::isfinite(v[i]) && v[i] == std::trunc(v[i]) && std::abs(v[i]) < 9.2e18,
                        "'{}' must hold integers, got {} at flat index {} (dtype {})", arg, v[i], i,
                        std::string(py::str(py::object(arr.dtype()))));
  }
  if (arr.size() > 0 && kind == 'u' && arr.itemsize() == 8) {
    const auto u = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
    const std::uint64_t* v = u.data();
    for (py::ssize_t i = 0; i < u.size(); ++i)
      GNNKIT_EXPECTS_AS(OutOfRange, function, v[i] <= std::uint64_t(INT64_MAX),
                        "'{}' must fit int64, got {} at flat index {}", arg, v[i], i);
  }
  Int64Array out = Int64Array::ensure(arr);
  GNNKIT_EXPECTS_AS(InvalidArgument, function, bool(out), "'{}' could not be converted to int64", arg);
  return out;
}

/// Numbers as a C-contiguous array of T (float or double), converted when needed.
template <typename T>
py::array_t<T, py::array::c_style | py::array::forcecast> float_array(const py::handle& obj,
                                                                      const char* function,
                                                                      const char* arg) {
  const py::array arr = numeric_array(obj, function, arg);
  auto out = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(arr);
  GNNKIT_EXPECTS_AS(InvalidArgument, function, bool(out), "'{}' could not be converted to {}", arg,
                    sizeof(T) == 4 ? "float32" : "float64");
  return out;
}

/// A NumPy array viewing a HostArray: shape [n], or [rows, cols] when rows >= 0 (cols =
/// n / rows, or `cols` when given: a matrix of 0 rows still has its width). The array keeps
/// the HostArray's owner alive. Read-only for graph structure, which is immutable.
inline py::array to_numpy(const HostArray& a, std::int64_t rows = -1, bool writable = true,
                          std::int64_t cols = -1) {
  std::vector<py::ssize_t> shape{py::ssize_t(a.defined() ? a.size() : 0)};
  if (rows >= 0) {
    if (cols < 0) cols = rows > 0 ? std::int64_t(shape[0]) / rows : 0;
    shape = {py::ssize_t(rows), py::ssize_t(cols)};
  }
  if (!a.defined()) return py::array(numpy_dtype(DType::kFloat32), shape);
  auto* keep = new std::shared_ptr<void>(a.owner());
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<void>*>(p); });
  py::array out(numpy_dtype(a.dtype()), shape, {}, a.data(), base);
  if (!writable) out.attr("setflags")(py::arg("write") = false);
  return out;
}

}  // namespace gnnkit::python
