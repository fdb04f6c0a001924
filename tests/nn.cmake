# Tests of the neural-network engine: unit tests (one process) and MPI tests at 1-4 ranks.
physfit_add_tests(nn_unit_tests SOURCES
  unit/nn/test_layers.cpp
  unit/nn/test_model.cpp)
physfit_add_tests(nn_mpi_tests RANKS ${PHYSFIT_MPI_RANKS} SOURCES
  mpi/nn/test_reproducible.cpp)
