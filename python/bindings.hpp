#pragma once
// The parts of physfit._physfit, one function per engine, each in its own file and called
// from module.cpp's PYBIND11_MODULE.

#include <pybind11/pybind11.h>

namespace physfit::python {

/// physfit.fc's C++ side (python/fc.cpp): fc_options, fc_run.
void bind_fc(pybind11::module_& m);

}  // namespace physfit::python
