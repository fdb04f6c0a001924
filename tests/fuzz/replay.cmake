# Replays every fuzz harness over its committed seed corpus and reproducers (issue 11, point 6),
# in the normal test suite, so that a fixed finding stays fixed without clang or libFuzzer:
# one test fuzz.<name> per harness, one process each.
include(${CMAKE_CURRENT_LIST_DIR}/harnesses.cmake)
add_library(physfit_fuzz_support STATIC ${PHYSFIT_FUZZ_DIR}/harness.cpp ${PHYSFIT_FUZZ_DIR}/replay_main.cpp)
target_link_libraries(physfit_fuzz_support PUBLIC physfit::physfit PRIVATE physfit_build_options)
foreach(_h IN LISTS PHYSFIT_FUZZ_HARNESSES)
  add_executable(fuzz_replay_${_h} ${PHYSFIT_FUZZ_DIR}/fuzz_${_h}.cpp)
  target_link_libraries(fuzz_replay_${_h} PRIVATE physfit_fuzz_support physfit_build_options)
  set(_dirs ${PHYSFIT_FUZZ_DIR}/corpus/${_h})
  if(EXISTS ${PHYSFIT_FUZZ_DIR}/regressions/${_h})
    list(APPEND _dirs ${PHYSFIT_FUZZ_DIR}/regressions/${_h})
  endif()
  add_test(NAME fuzz.${_h} COMMAND fuzz_replay_${_h} ${_dirs})
  set_tests_properties(fuzz.${_h} PROPERTIES TIMEOUT ${PHYSFIT_TEST_TIMEOUT} ENVIRONMENT "${_mpi_env}")
endforeach()
