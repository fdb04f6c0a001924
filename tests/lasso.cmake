# Tests of the LASSO engine (included by tests/CMakeLists.txt).
physfit_add_tests(lasso_unit_tests SOURCES
  unit/lasso/test_gram.cpp
  unit/lasso/test_path.cpp
  unit/lasso/test_solver.cpp)
target_compile_definitions(lasso_unit_tests PRIVATE
  PHYSFIT_LASSO_REFERENCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}/unit/lasso/reference")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(lasso_unit_tests PRIVATE -Wno-maybe-uninitialized)
endif()
physfit_add_tests(lasso_mpi_tests RANKS ${PHYSFIT_MPI_RANKS} SOURCES
  mpi/lasso/test_distributed.cpp)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(lasso_mpi_tests PRIVATE -Wno-maybe-uninitialized)
endif()
