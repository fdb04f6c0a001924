# Finds what physfit is built on, and fails with a message that says how to get it.
set(_physfit_setup "run scripts/setup.sh (Debian 12), or install the packages it lists")

# C for the fuzz harnesses; the library links MPI::MPI_CXX, which a C++-only consumer can find.
set(MPI_CXX_SKIP_MPICXX ON)
find_package(MPI COMPONENTS C CXX)
if(NOT MPI_C_FOUND OR NOT MPI_CXX_FOUND)
  message(FATAL_ERROR "physfit needs MPI (Open MPI: Debian packages libopenmpi-dev openmpi-bin), "
                      "and none was found: ${_physfit_setup}.")
endif()

# The parallel HDF5 build: with the serial one also installed, a plain search picks the serial.
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 COMPONENTS C)
if(NOT HDF5_FOUND)
  message(FATAL_ERROR "physfit needs the parallel HDF5 library (Debian: libhdf5-openmpi-dev), "
                      "and no HDF5 was found: ${_physfit_setup}.")
endif()
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "physfit needs the parallel (MPI) build of HDF5, but the HDF5 found "
                      "(${HDF5_C_INCLUDE_DIRS}) is the serial one. Install libhdf5-openmpi-dev, or "
                      "point HDF5_ROOT (or HDF5_C_COMPILER_EXECUTABLE=h5pcc) at a parallel build.")
endif()

find_package(Boost 1.71 CONFIG COMPONENTS program_options)
if(NOT Boost_FOUND)
  message(FATAL_ERROR "physfit needs Boost.Program_options (Debian: libboost-program-options-dev): "
                      "${_physfit_setup}.")
endif()

find_package(Eigen3 3.3 CONFIG)
if(NOT Eigen3_FOUND)
  message(FATAL_ERROR "physfit needs Eigen 3.3 or newer (Debian: libeigen3-dev): ${_physfit_setup}.")
endif()

find_package(ZLIB)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "physfit needs zlib (Debian: zlib1g-dev): ${_physfit_setup}.")
endif()

# Figures (PNG, SVG, PDF) through cairo, with fonts from fontconfig and freetype.
find_package(PkgConfig)
if(PkgConfig_FOUND)
  pkg_check_modules(CAIRO IMPORTED_TARGET cairo cairo-png cairo-svg cairo-pdf)
endif()
if(NOT CAIRO_FOUND)
  message(FATAL_ERROR "physfit needs cairo with PNG, SVG and PDF output (Debian: libcairo2-dev, "
                      "and pkg-config to find it): ${_physfit_setup}.")
endif()

# nlohmann-json: the --json summaries (header-only, a build dependency only).
find_package(nlohmann_json 3 CONFIG)
if(NOT nlohmann_json_FOUND)
  message(FATAL_ERROR "physfit needs nlohmann-json 3 (Debian: nlohmann-json3-dev): ${_physfit_setup}.")
endif()
