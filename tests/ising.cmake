# Tests of the Ising generator (included by tests/CMakeLists.txt).
physfit_add_tests(ising_unit_tests SOURCES
  unit/ising/test_exact.cpp
  unit/ising/test_lattice.cpp
  unit/ising/test_random.cpp
  unit/ising/test_sampling.cpp
  unit/ising/test_transition.cpp)
physfit_add_tests(ising_mpi_tests RANKS ${PHYSFIT_MPI_RANKS} SOURCES
  mpi/ising/test_generate.cpp)

# The engine's speed on one core (not built by default): `cmake --build build --target
# ising_bench && build/bin/ising_bench`.
add_executable(ising_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/ising/ising_bench.cpp)
target_link_libraries(ising_bench PRIVATE physfit::physfit physfit_build_options)
set_target_properties(ising_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)

# End-to-end: the file read back with h5py, and the Binder cumulant crossing (about 15 s).
physfit_add_python_tests(cli.generate. cli/test_generate.py PROCESSORS 2)

# The Ising example (inputs/ising/run.sh --small) and physfit transition (about 30 s).
physfit_add_python_tests(cli.transition. cli/test_transition.py PROCESSORS 2)

# The resident-memory bound is physfit's, not AddressSanitizer's shadow memory and quarantine
# (as for fc's memory checks): not run in the sanitizer build.
if(PHYSFIT_SANITIZE)
  set_tests_properties(cli.generate.StreamedTrainingMemory PROPERTIES DISABLED TRUE)
endif()
