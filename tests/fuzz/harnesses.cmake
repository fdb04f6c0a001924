# The fuzz harnesses (tests/fuzz/fuzz_<name>.cpp), each with its seed corpus corpus/<name>/ and
# its reproducers regressions/<name>/. Used by fuzz.cmake (libFuzzer, PHYSFIT_FUZZ=ON) and
# replay.cmake (CTest replays the files with any compiler).
set(PHYSFIT_FUZZ_HARNESSES ini csv idx poscar alamode phonopy_yaml extxyz force_sets dfset born hdf5)
set(PHYSFIT_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
