# The LASSO engine (namespace physfit::lasso).
target_sources(physfit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/../cli/lasso.cpp
  ${CMAKE_CURRENT_LIST_DIR}/cd.cpp
  ${CMAKE_CURRENT_LIST_DIR}/chunks.cpp
  ${CMAKE_CURRENT_LIST_DIR}/generate.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gram.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gram_kernel.cpp
  ${CMAKE_CURRENT_LIST_DIR}/path.cpp
  ${CMAKE_CURRENT_LIST_DIR}/problem.cpp
  ${CMAKE_CURRENT_LIST_DIR}/residual.cpp
  ${CMAKE_CURRENT_LIST_DIR}/solver.cpp)
# GCC 12 reports -Wmaybe-uninitialized inside Eigen 3.4's AVX-512 reductions (a false positive
# of the intrinsics headers); keep the build log readable for this module.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  file(GLOB _lasso_sources ${CMAKE_CURRENT_LIST_DIR}/*.cpp ${CMAKE_CURRENT_LIST_DIR}/../cli/lasso.cpp)
  set_source_files_properties(${_lasso_sources} PROPERTIES COMPILE_OPTIONS -Wno-maybe-uninitialized)
  # The kernel's 512-bit vector helpers are internal (inlined): the ABI note of builds without
  # -march=native (the sanitizer build) does not apply.
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/gram_kernel.cpp PROPERTIES COMPILE_OPTIONS
                              "-Wno-maybe-uninitialized;-Wno-psabi")
endif()
