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
  mpi/nn/test_reproducible.cpp)

# End-to-end tests of the commands: one CTest test per Python TestCase class.
file(STRINGS cli/test_nn.py _nn_cli_classes REGEX "^class [A-Za-z0-9_]+\\(unittest.TestCase\\)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_nn.py)
foreach(line IN LISTS _nn_cli_classes)
  string(REGEX REPLACE "^class ([A-Za-z0-9_]+)\\(.*" "\\1" cls "${line}")
  add_test(NAME cli.nn.${cls} COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_nn.${cls}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(cli.nn.${cls} PROPERTIES PROCESSORS 2 TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;MPIEXEC=${MPIEXEC_EXECUTABLE}")
endforeach()
