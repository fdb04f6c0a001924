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
set_tests_properties(data.MakeFormatFiles PROPERTIES FIXTURES_SETUP fc_format_files TIMEOUT ${PHYSFIT_TEST_TIMEOUT})
physfit_add_tests(fc_format_tests SOURCES unit/fc/test_structure_io.cpp)
target_compile_definitions(fc_format_tests PRIVATE PHYSFIT_FORMAT_DATA_DEFAULT="${PHYSFIT_FORMAT_DATA}")
physfit_add_tests(fc_mpi_tests RANKS ${PHYSFIT_MPI_RANKS} SOURCES
  mpi/fc/test_clusters_parallel.cpp
  mpi/fc/test_fit_parallel.cpp)
foreach(_target fc_unit_tests fc_mpi_tests)
  target_include_directories(${_target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit/fc)
  target_compile_definitions(${_target} PRIVATE PHYSFIT_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                             PHYSFIT_SI_DATA_DEFAULT="${PHYSFIT_SI_DATA}")
endforeach()


# End-to-end tests of import, fc and phonons (Python, Debian's interpreter with h5py and
# phonopy): one CTest test per TestCase class.
physfit_add_python_tests(fc_cli. cli/test_fc.py PROCESSORS 2)

# Memory per rank (issue 10, point 7): the plan against the measured peaks, the budget.
physfit_add_python_tests(fc_memory_cli. cli/test_fc_memory.py PROCESSORS 2)

# Structures and data in the formats people have (issue 10): import routes, phonons with any
# structure, the phonopy.yaml export read back by phonopy.
physfit_add_python_tests(fc_formats_cli. cli/test_fc_formats.py BASE Case PROCESSORS 2)

# Polar crystals (issue 10, point 5): the non-analytic correction against phonopy, computed in
# the test from crystals, force constants and BORN files it makes (no silicon data needed).
physfit_add_python_tests(fc_nac. cli/test_nac.py)

# Special points and band paths of any crystal (issue 10, point 2), against ASE and phonopy.
physfit_add_python_tests(fc_bandpath. cli/test_bandpath.py BASE ".*unittest\\.TestCase")

# Crystals that are not fcc (issue 10, point 6): import, fc and phonons on the data of
# scripts/data/make_crystals.py against phonopy; one test per crystal (class).
physfit_add_python_tests(fc_crystals. cli/test_fc_crystals.py BASE ".*unittest\\.TestCase"
  PROCESSORS 2 FIXTURES crystal_data
  ENVIRONMENT PHYSFIT_CRYSTAL_DATA=${PHYSFIT_CRYSTAL_DATA} PHYSFIT_SANITIZE=$<BOOL:${PHYSFIT_SANITIZE}>)

# The walk-through docs/fc/walkthrough.md: its commands are scripts/docs/walkthrough.sh's, which
# runs them on the GaN data and prints what the page quotes.
physfit_add_python_tests(fc_walkthrough. cli/test_walkthrough.py PROCESSORS 2 FIXTURES crystal_data
  ENVIRONMENT PHYSFIT_CRYSTAL_DATA=${PHYSFIT_CRYSTAL_DATA})

# Accuracy regression (issue 5, point 8): fitted silicon against phonopy's reference.
physfit_add_python_tests(fc_regression.Accuracy regression/fc/test_accuracy.py)

# Cross-validation that finds its minimum (issue 10, point 4): Si (Stillinger-Weber, Tersoff)
# and fcc Al (EAM) from scripts/data/make_cv_data.py, made once per test run.
set(PHYSFIT_CV_DATA ${CMAKE_CURRENT_BINARY_DIR}/data/cv)
add_test(NAME data.MakeCvCrystals
         COMMAND ${PHYSFIT_PYTHON} ${PROJECT_SOURCE_DIR}/scripts/data/make_cv_data.py ${PHYSFIT_CV_DATA})
set_tests_properties(data.MakeCvCrystals PROPERTIES FIXTURES_SETUP cv_data TIMEOUT ${PHYSFIT_TEST_TIMEOUT})
physfit_add_python_tests(fc_cv. cli/test_fc_cv.py FIXTURES cv_data
  ENVIRONMENT PHYSFIT_CV_DATA=${PHYSFIT_CV_DATA})

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

# The sanitizer build runs every code path the end-to-end comparisons run, not every comparison:
# these repeat, on more crystals and against phonopy/ASE, what the ones kept (and the unit tests,
# in one process) already run under the sanitizers, and took 1-2 minutes each there: the
# accuracy regression (numbers of the optimised build), the walk-through (fc_crystals.GaNWurtzite
# runs its commands), the crystals other than GaN (two species, NAC, a 2-rank fit), the NAC
# against phonopy on three crystals and the BORN file checks (test_nac.cpp reads malformed BORN
# files in one process), four of the lattice families, and cross-validation's minimum on three
# crystals and their data (fc_mpi_tests and lasso_unit_tests extend the path under the
# sanitizers). The memory plan's test compares the plan with the resident memory measured, which
# under AddressSanitizer is its shadow memory and quarantine, not physfit's. ctest lists them as
# disabled here.
if(PHYSFIT_SANITIZE)
  get_directory_property(_fc_all_tests TESTS)
  foreach(_test IN LISTS _fc_all_tests)
    if(_test MATCHES "^(fc_regression|fc_walkthrough|fc_crystals|fc_cv|fc_memory_cli)\\." AND
       NOT _test STREQUAL "fc_crystals.GaNWurtzite")
      set_tests_properties(${_test} PROPERTIES DISABLED TRUE)
    endif()
  endforeach()
  set_tests_properties(
    fc_nac.MatchesPhonopy fc_nac.BornFiles data.MakeCvCrystals
    fc_bandpath.Tetragonal fc_bandpath.Orthorhombic fc_bandpath.Monoclinic fc_bandpath.Triclinic
    PROPERTIES DISABLED TRUE)
endif()
