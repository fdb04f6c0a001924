# Tests of the neural-network engine: unit tests (one process), MPI tests at 1-4 ranks, and
# end-to-end tests of the import/train/evaluate/predict commands.
physfit_add_tests(nn_unit_tests SOURCES
  unit/nn/test_layers.cpp
  unit/nn/test_model.cpp
  unit/nn/test_torch_reference.cpp
  unit/nn/test_readers.cpp)
target_compile_definitions(nn_unit_tests PRIVATE
  PHYSFIT_NN_TORCH_REFERENCE="${CMAKE_CURRENT_SOURCE_DIR}/reference/nn/torch_reference.h5")

physfit_add_tests(nn_mpi_tests RANKS ${PHYSFIT_MPI_RANKS} SOURCES
  mpi/nn/test_reproducible.cpp
  mpi/nn/test_reduce.cpp)
target_compile_definitions(nn_mpi_tests PRIVATE
  PHYSFIT_NN_TORCH_REFERENCE="${CMAKE_CURRENT_SOURCE_DIR}/reference/nn/torch_reference.h5")

# End-to-end tests of the commands: one CTest test per Python TestCase class.
physfit_add_python_tests(cli.nn. cli/test_nn.py PROCESSORS 2)

# The benchmark of the exact gradient reduction (not built by default, never a test:
# `cmake --build build --target reduce_bench`), run by bench/nn/scaling.sh.
add_executable(reduce_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/nn/reduce_bench.cpp)
target_link_libraries(reduce_bench PRIVATE physfit::physfit physfit_build_options)
set_target_properties(reduce_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
