# Force constants (issue 5): crystal and symmetry (spglib), data readers, clusters and the
# symmetry-adapted basis, sensitivity rows and fits, phonons, exports.
find_path(PHYSFIT_SPGLIB_INCLUDE_DIR spglib.h)
find_library(PHYSFIT_SPGLIB_LIBRARY NAMES symspg spglib)
if(NOT PHYSFIT_SPGLIB_INCLUDE_DIR OR NOT PHYSFIT_SPGLIB_LIBRARY)
  message(FATAL_ERROR "physfit needs spglib (Debian: libsymspg-dev): ${_physfit_setup}.")
endif()
# yaml-cpp reads and writes phonopy's YAML files (structure_io.cpp), privately like spglib.
find_path(PHYSFIT_YAMLCPP_INCLUDE_DIR yaml-cpp/yaml.h)
find_library(PHYSFIT_YAMLCPP_LIBRARY NAMES yaml-cpp)
if(NOT PHYSFIT_YAMLCPP_INCLUDE_DIR OR NOT PHYSFIT_YAMLCPP_LIBRARY)
  message(FATAL_ERROR "physfit needs yaml-cpp (Debian: libyaml-cpp-dev): ${_physfit_setup}.")
endif()
target_sources(physfit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/bandpath.cpp
  ${CMAKE_CURRENT_LIST_DIR}/clusters.cpp
  ${CMAKE_CURRENT_LIST_DIR}/crystal.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dataset.cpp
  ${CMAKE_CURRENT_LIST_DIR}/elements.cpp
  ${CMAKE_CURRENT_LIST_DIR}/structure_io.cpp
  ${CMAKE_CURRENT_LIST_DIR}/exports.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fit.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/nac.cpp
  ${CMAKE_CURRENT_LIST_DIR}/phonons.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../cli/fc.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../cli/import_fc.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../cli/phonons.cpp)
# spglib is used by physfit's sources only (no spglib type in a public header): linked
# privately. The static library's export then names the library file (LINK_ONLY), so a
# consumer links it without a find_dependency.
target_include_directories(physfit PRIVATE ${PHYSFIT_SPGLIB_INCLUDE_DIR}
                           ${PHYSFIT_YAMLCPP_INCLUDE_DIR})
target_link_libraries(physfit PRIVATE ${PHYSFIT_SPGLIB_LIBRARY} ${PHYSFIT_YAMLCPP_LIBRARY})
# GCC 12 warns inside Eigen's AVX-512 matrix-product kernels (a false positive).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/clusters.cpp ${CMAKE_CURRENT_LIST_DIR}/fit.cpp
  ${CMAKE_CURRENT_LIST_DIR}/phonons.cpp ${CMAKE_CURRENT_LIST_DIR}/model.cpp ${CMAKE_CURRENT_LIST_DIR}/nac.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../cli/fc.cpp ${CMAKE_CURRENT_LIST_DIR}/../cli/phonons.cpp PROPERTIES COMPILE_OPTIONS
  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
