// gnnkit._core: one module, one init function per area; the Pythonic layer is gnnkit/*.py.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "gnnkit/core/build_info.hpp"
#include "gnnkit/core/error.hpp"
#include "gnnkit/version.hpp"

namespace py = pybind11;

namespace gnnkit::python {
namespace {

/// A Python exception class named gnnkit.<name>, deriving from the given bases. The returned
/// handle is deliberately never released: the translator uses it until the process ends, and
/// a static py::object would be destroyed after the interpreter.
py::handle make_exception(py::module_& m, const char* name, py::tuple bases, const char* doc) {
  const std::string qualified = std::string("gnnkit.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (!cls) throw py::error_already_set();
  m.attr(name) = py::handle(cls);
  return cls;
}

}  // namespace

void init_errors(py::module_& m) {
  // Each gnnkit::Error subclass becomes a Python class that is also the matching builtin
  // (ValueError, IndexError, ...), so `except ValueError` works as users expect.
  const py::object builtins = py::module_::import("builtins");
  auto b = [&](const char* name) { return builtins.attr(name); };
  static py::handle error, invalid, shape, device_mismatch, out_of_range, not_compiled,
      device_error, backend, format, io, oom;
  error = make_exception(m, "Error", py::make_tuple(b("Exception")), "Root of gnnkit's errors.");
  invalid = make_exception(m, "InvalidArgument", py::make_tuple(error, b("ValueError")),
                           "An argument has a wrong value, dtype or layout.");
  shape = make_exception(m, "ShapeMismatch", py::make_tuple(invalid),
                         "Shapes of arguments do not fit together.");
  device_mismatch = make_exception(m, "DeviceMismatch", py::make_tuple(invalid),
                                   "Arguments live on different or wrong devices.");
  out_of_range = make_exception(m, "OutOfRange", py::make_tuple(error, b("IndexError")),
                                "An index or id is outside its valid range.");
  not_compiled = make_exception(m, "NotCompiled", py::make_tuple(error, b("NotImplementedError")),
                                "The feature was not compiled into this build.");
  device_error = make_exception(m, "DeviceError", py::make_tuple(error, b("RuntimeError")),
                                "A CUDA call failed or no device is present.");
  backend = make_exception(m, "BackendError", py::make_tuple(error, b("RuntimeError")),
                           "oneDNN, cuBLAS or cuSPARSE reported a failure.");
  format = make_exception(m, "FormatError", py::make_tuple(error, b("OSError")),
                          "A file's content is malformed.");
  io = make_exception(m, "IoError", py::make_tuple(error, b("OSError")),
                      "An operating-system I/O call failed.");
  oom = make_exception(m, "OutOfMemory", py::make_tuple(error, b("MemoryError")),
                       "An allocation failed.");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ShapeMismatch& e) {
      PyErr_SetString(shape.ptr(), e.what());
    } catch (const DeviceMismatch& e) {
      PyErr_SetString(device_mismatch.ptr(), e.what());
    } catch (const InvalidArgument& e) {
      PyErr_SetString(invalid.ptr(), e.what());
    } catch (const OutOfRange& e) {
      PyErr_SetString(out_of_range.ptr(), e.what());
    } catch (const NotCompiled& e) {
      PyErr_SetString(not_compiled.ptr(), e.what());
    } catch (const DeviceError& e) {
      PyErr_SetString(device_error.ptr(), e.what());
    } catch (const BackendError& e) {
      PyErr_SetString(backend.ptr(), e.what());
    } catch (const FormatError& e) {
      PyErr_SetString(format.ptr(), e.what());
    } catch (const IoError& e) {
      PyErr_SetString(io.ptr(), e.what());
    } catch (const OutOfMemory& e) {
      PyErr_SetString(oom.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });
}

}  // namespace gnnkit::python

namespace {
/// Raises the C++ error named `kind` with `message`: lets the tests prove that every error
/// class reaches Python as the documented exception (not part of the public API).
void throw_error_for_test(const std::string& kind, const std::string& message) {
  using namespace gnnkit;
  if (kind == "InvalidArgument") throw InvalidArgument("test", message);
  if (kind == "ShapeMismatch") throw ShapeMismatch("test", message);
  if (kind == "DeviceMismatch") throw DeviceMismatch("test", message);
  if (kind == "OutOfRange") throw OutOfRange("test", message);
  if (kind == "NotCompiled") throw NotCompiled("test", message);
  if (kind == "DeviceError") throw DeviceError("test", message);
  if (kind == "BackendError") throw BackendError("test", message);
  if (kind == "FormatError") throw FormatError("test", message);
  if (kind == "IoError") throw IoError("test", message);
  if (kind == "OutOfMemory") throw OutOfMemory("test", message);
  throw Error("test", message);
}
}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "gnnkit native core (use the gnnkit package, not this module directly)";
  m.attr("__version__") = gnnkit::kVersion;
  m.def("build_info", &gnnkit::build_info, "One line: version, dense backend, CUDA, threads.");
  gnnkit::python::init_errors(m);
  m.def("_throw_error_for_test", &throw_error_for_test);
  gnnkit::python::init_core(m);
  gnnkit::python::init_graph(m);
  gnnkit::python::init_sampling(m);
  gnnkit::python::init_train(m);
  gnnkit::python::init_nn(m);
}
