#pragma once
// Shared declarations of the binding units: one init_<area>() per area, called by module.cpp.
#include <pybind11/pybind11.h>

namespace gnnkit::python {

void init_errors(pybind11::module_& m);
void init_core(pybind11::module_& m);
void init_graph(pybind11::module_& m);
void init_sampling(pybind11::module_& m);
void init_train(pybind11::module_& m);
void init_nn(pybind11::module_& m);

}  // namespace gnnkit::python
