# libFuzzer build of the parser harnesses (PHYSFIT_FUZZ=ON, clang only; scripts/fuzz.sh).
# Only what the parsers need is compiled, with AddressSanitizer, UndefinedBehaviorSanitizer
# (every report fatal) and libFuzzer's coverage instrumentation: the parsers and the few
# modules they call, not the whole library, so that the build stays short on CI's 2 cores.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "PHYSFIT_FUZZ=ON needs clang (libFuzzer): configure with "
                      "-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang, or run scripts/fuzz.sh")
endif()
include(${CMAKE_CURRENT_LIST_DIR}/harnesses.cmake)
find_path(PHYSFIT_SPGLIB_INCLUDE_DIR spglib.h)
find_library(PHYSFIT_SPGLIB_LIBRARY NAMES symspg spglib)
find_path(PHYSFIT_YAMLCPP_INCLUDE_DIR yaml-cpp/yaml.h)
find_library(PHYSFIT_YAMLCPP_LIBRARY NAMES yaml-cpp)
set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1)
set(_src ${PROJECT_SOURCE_DIR}/src)
add_library(physfit_fuzz_parsers STATIC
  ${_src}/error.cpp
  ${_src}/config/ini.cpp
  ${_src}/io/atomic_write.cpp
  ${_src}/io/csv.cpp
  ${_src}/io/hdf5.cpp
  ${_src}/io/idx.cpp
  ${_src}/io/output_paths.cpp
  ${_src}/io/temporary.cpp
  ${_src}/mpi/comm.cpp
  ${_src}/mpi/environment.cpp
  ${_src}/mpi/guard.cpp
  ${_src}/util/partition.cpp
  ${_src}/util/strings.cpp
  ${_src}/fc/crystal.cpp
  ${_src}/fc/dataset.cpp
  ${_src}/fc/elements.cpp
  ${_src}/fc/nac.cpp
  ${_src}/fc/structure_io.cpp
  ${PHYSFIT_FUZZ_DIR}/harness.cpp)
target_include_directories(physfit_fuzz_parsers PUBLIC ${PROJECT_SOURCE_DIR}/include
  PRIVATE ${PHYSFIT_SPGLIB_INCLUDE_DIR} ${PHYSFIT_YAMLCPP_INCLUDE_DIR})
target_compile_features(physfit_fuzz_parsers PUBLIC cxx_std_17)
target_compile_definitions(physfit_fuzz_parsers PUBLIC OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)
target_compile_options(physfit_fuzz_parsers PUBLIC ${_san} -fsanitize=fuzzer-no-link)
target_link_options(physfit_fuzz_parsers PUBLIC ${_san})
target_link_libraries(physfit_fuzz_parsers PUBLIC MPI::MPI_C hdf5::hdf5 Eigen3::Eigen ZLIB::ZLIB
  ${PHYSFIT_SPGLIB_LIBRARY} ${PHYSFIT_YAMLCPP_LIBRARY})
foreach(_h IN LISTS PHYSFIT_FUZZ_HARNESSES)
  add_executable(fuzz_${_h} ${PHYSFIT_FUZZ_DIR}/fuzz_${_h}.cpp)
  target_link_libraries(fuzz_${_h} PRIVATE physfit_fuzz_parsers)
  target_link_options(fuzz_${_h} PRIVATE -fsanitize=fuzzer)
endforeach()
# Open MPI unloads its plugins at MPI_Finalize, before LeakSanitizer looks at the exit: with
# this preloaded (as in the sanitizer test suite) their allocations name their libraries and
# lsan.supp suppresses them (the hdf5 harness initialises MPI for MPI-IO).
add_library(physfit_fuzz_keep_loaded MODULE ${PROJECT_SOURCE_DIR}/tests/support/keep_loaded.c)
