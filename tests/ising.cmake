# Tests of the Ising generator (included by tests/CMakeLists.txt).
physfit_add_tests(ising_unit_tests SOURCES
  unit/ising/test_exact.cpp
  unit/ising/test_lattice.cpp
  unit/ising/test_random.cpp
  unit/ising/test_sampling.cpp)
physfit_add_tests(ising_mpi_tests RANKS ${PHYSFIT_MPI_RANKS} SOURCES
  mpi/ising/test_generate.cpp)
