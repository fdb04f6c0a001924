#pragma once
// The parts of the C++ side of the Python module (physfit._physfit), one file each; module.cpp
// calls each bind_* function once, after MPI is initialised and errors are translated.

#include <pybind11/pybind11.h>

namespace physfit::python {

/// physfit.fc's C++ side (python/fc.cpp): fc_options, fc_run.
void bind_fc(pybind11::module_& m);
/// physfit.nn: training, prediction and evaluation of neural networks (python/nn.cpp).
void bind_nn(pybind11::module_& m);

}  // namespace physfit::python
