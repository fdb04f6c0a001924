# The neural-network engine (namespace physfit::nn), the IDX and CSV readers it imports data
# with, and its commands (import, train, evaluate, predict).
find_package(ZLIB REQUIRED)
target_sources(physfit PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/../io/idx.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../io/csv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../cli/import.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../cli/train.cpp
  ${CMAKE_CURRENT_LIST_DIR}/data.cpp
  ${CMAKE_CURRENT_LIST_DIR}/layers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/loss.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/optimizer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/random.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reduce.cpp
  ${CMAKE_CURRENT_LIST_DIR}/trainer.cpp
)
target_link_libraries(physfit PRIVATE ZLIB::ZLIB)
# GCC 12 warns about uninitialised lanes inside Eigen's AVX-512 packet code (a false positive).
get_target_property(_physfit_nn_sources physfit SOURCES)
foreach(_src IN LISTS _physfit_nn_sources)
  if(_src MATCHES "/src/nn/")
    set_source_files_properties(${_src} TARGET_DIRECTORY physfit PROPERTIES
                                COMPILE_OPTIONS "$<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>")
  endif()
endforeach()
