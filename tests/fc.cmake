# Force-constant tests (issue 5). Unit tests run in one process, MPI tests at 1-4 ranks; all
# of them may read the silicon data made by the si_data fixture (tests/CMakeLists.txt).
physfit_add_tests(fc_unit_tests SOURCES
  unit/fc/test_bandpath.cpp
  unit/fc/test_clusters.cpp
  unit/fc/test_crystal.cpp
  unit/fc/test_fit.cpp
  unit/fc/test_nac.cpp)
# Structure formats (issue 10): files written by phonopy and ASE at test time, read by physfit.
set(PHYSFIT_FORMAT_DATA ${CMAKE_CURRENT_BINARY_DIR}/data/formats)
add_test(NAME data.MakeFormatFiles
         COMMAND ${PHYSFIT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/unit/fc/make_format_files.py ${PHYSFIT_FORMAT_DATA})
set_tests_properties(data.MakeFormatFiles PROPERTIES FIXTURES_SETUP fc_format_files TIMEOUT 120)
physfit_add_tests(fc_format_tests SOURCES unit/fc/test_structure_io.cpp)
target_compile_definitions(fc_format_tests PRIVATE PHYSFIT_FORMAT_DATA_DEFAULT="${PHYSFIT_FORMAT_DATA}")
physfit_add_tests(fc_mpi_tests RANKS ${PHYSFIT_MPI_RANKS} SOURCES
  mpi/fc/test_clusters_parallel.cpp
  mpi/fc/test_fit_parallel.cpp)
foreach(_target fc_unit_tests fc_mpi_tests)
  target_include_directories(${_target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit/fc)
  target_compile_definitions(${_target} PRIVATE PHYSFIT_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                             PHYSFIT_SI_DATA_DEFAULT="${PHYSFIT_SI_DATA}")
  if(PHYSFIT_SANITIZE)
    target_compile_options(${_target} PRIVATE -O1)  # Eigen at -O0 is too slow (see sources.cmake)
  endif()
endforeach()


# End-to-end tests of import, fc and phonons (Python, Debian's interpreter with h5py and
# phonopy): one CTest test per TestCase class.
file(STRINGS cli/test_fc.py _fc_cli_classes REGEX "^class [A-Za-z0-9_]+\\(unittest.TestCase\\)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_fc.py)
foreach(line IN LISTS _fc_cli_classes)
  string(REGEX REPLACE "^class ([A-Za-z0-9_]+)\\(.*" "\\1" cls "${line}")
  add_test(NAME fc_cli.${cls} COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_fc.${cls}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(fc_cli.${cls} PROPERTIES PROCESSORS 2 TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    FIXTURES_REQUIRED si_data
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;MPIEXEC=${MPIEXEC_EXECUTABLE};PHYSFIT_SI_DATA=${PHYSFIT_SI_DATA}")
endforeach()

# Memory per rank (issue 10, point 7): the plan against the measured peaks, the budget.
file(STRINGS cli/test_fc_memory.py _fc_memory_classes REGEX "^class [A-Za-z0-9_]+\\(unittest.TestCase\\)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_fc_memory.py)
foreach(line IN LISTS _fc_memory_classes)
  string(REGEX REPLACE "^class ([A-Za-z0-9_]+)\\(.*" "\\1" cls "${line}")
  add_test(NAME fc_memory_cli.${cls} COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_fc_memory.${cls}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(fc_memory_cli.${cls} PROPERTIES PROCESSORS 2 TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    FIXTURES_REQUIRED si_data
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;MPIEXEC=${MPIEXEC_EXECUTABLE};PHYSFIT_SI_DATA=${PHYSFIT_SI_DATA}")
endforeach()

# Structures and data in the formats people have (issue 10): import routes, phonons with any
# structure, the phonopy.yaml export read back by phonopy.
file(STRINGS cli/test_fc_formats.py _fc_formats_classes REGEX "^class [A-Za-z0-9_]+\\(Case\\)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_fc_formats.py)
foreach(line IN LISTS _fc_formats_classes)
  string(REGEX REPLACE "^class ([A-Za-z0-9_]+)\\(.*" "\\1" cls "${line}")
  add_test(NAME fc_formats_cli.${cls} COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_fc_formats.${cls}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(fc_formats_cli.${cls} PROPERTIES PROCESSORS 2 TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;MPIEXEC=${MPIEXEC_EXECUTABLE}")
endforeach()

# Polar crystals (issue 10, point 5): the non-analytic correction against phonopy, computed in
# the test from crystals, force constants and BORN files it makes (no silicon data needed).
file(STRINGS cli/test_nac.py _fc_nac_classes REGEX "^class [A-Za-z0-9_]+\\(unittest.TestCase\\)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_nac.py)
foreach(line IN LISTS _fc_nac_classes)
  string(REGEX REPLACE "^class ([A-Za-z0-9_]+)\\(.*" "\\1" cls "${line}")
  add_test(NAME fc_nac.${cls} COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_nac.${cls}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(fc_nac.${cls} PROPERTIES TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;MPIEXEC=${MPIEXEC_EXECUTABLE}")
endforeach()

# Special points and band paths of any crystal (issue 10, point 2), against ASE and phonopy.
file(STRINGS cli/test_bandpath.py _fc_bandpath_classes REGEX "^class [A-Za-z0-9_]+\\(.*unittest.TestCase\\)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_bandpath.py)
foreach(line IN LISTS _fc_bandpath_classes)
  string(REGEX REPLACE "^class ([A-Za-z0-9_]+)\\(.*" "\\1" cls "${line}")
  add_test(NAME fc_bandpath.${cls} COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_bandpath.${cls}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(fc_bandpath.${cls} PROPERTIES TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;MPIEXEC=${MPIEXEC_EXECUTABLE};PHYSFIT_SI_DATA=${PHYSFIT_SI_DATA}")
endforeach()

# Crystals that are not fcc (issue 10, point 6): import, fc and phonons on the data of
# scripts/data/make_crystals.py against phonopy; one test per crystal (class). The sanitizer
# build runs GaN alone (two species, NAC, a 2-rank fit): the others repeat its code paths with
# other numbers.
file(STRINGS cli/test_fc_crystals.py _fc_crystal_classes REGEX "^class [A-Za-z0-9_]+\\(.*unittest.TestCase\\)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_fc_crystals.py)
foreach(line IN LISTS _fc_crystal_classes)
  string(REGEX REPLACE "^class ([A-Za-z0-9_]+)\\(.*" "\\1" cls "${line}")
  if(PHYSFIT_SANITIZE AND NOT cls STREQUAL "GaNWurtzite")
    continue()
  endif()
  add_test(NAME fc_crystals.${cls} COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_fc_crystals.${cls}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(fc_crystals.${cls} PROPERTIES PROCESSORS 2 TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    FIXTURES_REQUIRED crystal_data
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;MPIEXEC=${MPIEXEC_EXECUTABLE};PHYSFIT_CRYSTAL_DATA=${PHYSFIT_CRYSTAL_DATA};PHYSFIT_SANITIZE=$<BOOL:${PHYSFIT_SANITIZE}>")
endforeach()

# The walk-through docs/fc/walkthrough.md: its commands are scripts/docs/walkthrough.sh's, which
# runs them on the GaN data and prints what the page quotes (not in the sanitizer build, where
# fc_crystals.GaNWurtzite runs the same commands).
if(NOT PHYSFIT_SANITIZE)
  add_test(NAME fc_walkthrough.Commands COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_walkthrough.Commands
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(fc_walkthrough.Commands PROPERTIES PROCESSORS 2 TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    FIXTURES_REQUIRED crystal_data
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;PHYSFIT_CRYSTAL_DATA=${PHYSFIT_CRYSTAL_DATA}")
endif()

# Accuracy regression (issue 5, point 8): fitted silicon against phonopy's reference. A
# numerical property of the optimised build: not registered in the sanitizer build, where the
# same code paths run in the unit and end-to-end tests (its fits took over 2 minutes there).
if(NOT PHYSFIT_SANITIZE)
file(STRINGS regression/fc/test_accuracy.py _fc_acc_classes REGEX "^class [A-Za-z0-9_]+\\(unittest.TestCase\\)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/regression/fc/test_accuracy.py)
foreach(line IN LISTS _fc_acc_classes)
  string(REGEX REPLACE "^class ([A-Za-z0-9_]+)\\(.*" "\\1" cls "${line}")
  add_test(NAME fc_regression.Accuracy${cls} COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_accuracy.${cls}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/regression/fc)
  set_tests_properties(fc_regression.Accuracy${cls} PROPERTIES TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    FIXTURES_REQUIRED si_data
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;PHYSFIT_SI_DATA=${PHYSFIT_SI_DATA}")
endforeach()
endif()

# Cross-validation that finds its minimum (issue 10, point 4): Si (Stillinger-Weber, Tersoff)
# and fcc Al (EAM) from scripts/data/make_cv_data.py, made once per test run.
set(PHYSFIT_CV_DATA ${CMAKE_CURRENT_BINARY_DIR}/data/cv)
add_test(NAME data.MakeCvCrystals
         COMMAND ${PHYSFIT_PYTHON} ${PROJECT_SOURCE_DIR}/scripts/data/make_cv_data.py ${PHYSFIT_CV_DATA})
set_tests_properties(data.MakeCvCrystals PROPERTIES FIXTURES_SETUP cv_data TIMEOUT 300)
file(STRINGS cli/test_fc_cv.py _fc_cv_classes REGEX "^class [A-Za-z0-9_]+\\(unittest.TestCase\\)")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_fc_cv.py)
foreach(line IN LISTS _fc_cv_classes)
  string(REGEX REPLACE "^class ([A-Za-z0-9_]+)\\(.*" "\\1" cls "${line}")
  add_test(NAME fc_cv.${cls} COMMAND ${PHYSFIT_PYTHON} -m unittest -v test_fc_cv.${cls}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/cli)
  set_tests_properties(fc_cv.${cls} PROPERTIES TIMEOUT ${PHYSFIT_TEST_TIMEOUT}
    FIXTURES_REQUIRED "si_data;cv_data"
    ENVIRONMENT "${_mpi_env};PHYSFIT_BIN=$<TARGET_FILE:physfit_app>;PHYSFIT_CV_DATA=${PHYSFIT_CV_DATA}")
endforeach()

get_directory_property(_fc_all_tests TESTS)
foreach(_test IN LISTS _fc_all_tests)
  if(_test MATCHES "^fc_format_tests\\.")
    set_property(TEST ${_test} APPEND PROPERTY FIXTURES_REQUIRED fc_format_files)
    set_property(TEST ${_test} APPEND PROPERTY ENVIRONMENT "PHYSFIT_FORMAT_DATA=${PHYSFIT_FORMAT_DATA}")
  endif()
  if(_test MATCHES "^fc_")
    set_property(TEST ${_test} APPEND PROPERTY FIXTURES_REQUIRED si_data)
    set_property(TEST ${_test} APPEND PROPERTY ENVIRONMENT "PHYSFIT_SI_DATA=${PHYSFIT_SI_DATA}")
  endif()
endforeach()
