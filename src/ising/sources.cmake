# The Ising generator (namespace physfit::ising): lattice, Wolff and Metropolis updates,
# autocorrelation times, exact results; the `physfit generate` command.
target_sources(physfit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/../cli/generate.cpp
  ${CMAKE_CURRENT_LIST_DIR}/autocorrelation.cpp
  ${CMAKE_CURRENT_LIST_DIR}/exact.cpp
  ${CMAKE_CURRENT_LIST_DIR}/generate.cpp
  ${CMAKE_CURRENT_LIST_DIR}/lattice.cpp
  ${CMAKE_CURRENT_LIST_DIR}/transition.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../cli/transition.cpp)
