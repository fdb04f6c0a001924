# Tests of the LASSO engine (included by tests/CMakeLists.txt).
physfit_add_tests(lasso_unit_tests SOURCES
  unit/lasso/test_gram.cpp
  unit/lasso/test_path.cpp
  unit/lasso/test_residual.cpp
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

# The benchmark (not built by default: `cmake --build build --target lasso_bench`), run by
# bench/lasso/run.sh next to scikit-learn.
add_executable(lasso_bench EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/lasso/lasso_bench.cpp)
target_link_libraries(lasso_bench PRIVATE physfit::physfit physfit_build_options)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(lasso_bench PRIVATE -Wno-maybe-uninitialized)
endif()

# End-to-end tests of `physfit lasso` (Debian's Python with numpy and h5py).
physfit_add_python_tests(cli. cli/test_lasso.py PROCESSORS 2
  ENVIRONMENT PHYSFIT_SOURCE_DIR=${PROJECT_SOURCE_DIR})
