# Installation: the program, the headers, the static library (libphysfit.a, what physfit's own
# programs and tests link) and a shared one (libphysfit.so) linked from the same objects, an
# exported CMake package (find_package(physfit)) and pkg-config files (physfit, physfit-static).
include(CMakePackageConfigHelpers)

# The shared library: physfit's objects (position independent) linked once more, with the same
# usage requirements. -Bsymbolic-functions binds the library's calls to its own functions, so
# that the template code it instantiates (Eigen's kernels, compiled for the library's -march)
# is not replaced at run time by a consumer's copy of the same function.
add_library(physfit_shared SHARED $<TARGET_OBJECTS:physfit>)
add_dependencies(physfit_shared physfit)
foreach(_property INTERFACE_INCLUDE_DIRECTORIES INTERFACE_COMPILE_DEFINITIONS
                  INTERFACE_COMPILE_FEATURES LINK_LIBRARIES)
  get_target_property(_value physfit ${_property})
  if(_value)
    set_property(TARGET physfit_shared PROPERTY ${_property} "${_value}")
  endif()
endforeach()
get_target_property(_interface physfit INTERFACE_LINK_LIBRARIES)
# The public dependencies are imported targets (MPI::MPI_CXX, hdf5::hdf5, ...); the others are the
# static library's private ones (spglib, zlib...), which the shared library links itself.
list(FILTER _interface INCLUDE REGEX "^[A-Za-z0-9_]+::")
set_property(TARGET physfit_shared PROPERTY INTERFACE_LINK_LIBRARIES "${_interface}")
set_target_properties(physfit_shared PROPERTIES
  OUTPUT_NAME physfit
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
  INSTALL_RPATH_USE_LINK_PATH TRUE  # MPI and HDF5 from where they were found (cluster modules)
  EXPORT_NAME physfit_shared)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_link_options(physfit_shared PRIVATE LINKER:-Bsymbolic-functions)
endif()
set_target_properties(physfit PROPERTIES EXPORT_NAME physfit_static)

install(TARGETS physfit physfit_shared EXPORT physfitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS physfit_app RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/physfit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT physfitTargets NAMESPACE physfit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/physfit)

# The package configuration records the HDF5 physfit was built with (FindHDF5 needs the C
# language, which a C++-only consumer has not enabled, and could find another HDF5).
set(PHYSFIT_HDF5_INCLUDE_DIRS "${HDF5_C_INCLUDE_DIRS}")
set(PHYSFIT_HDF5_LIBRARIES "${HDF5_C_LIBRARIES}")
string(REPLACE "-D" "" PHYSFIT_HDF5_DEFINITIONS "${HDF5_C_DEFINITIONS}")
configure_package_config_file(cmake/physfitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/physfitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/physfit)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/physfitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/physfitConfig.cmake ${PROJECT_BINARY_DIR}/physfitConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/physfit)

# pkg-config: the flags and libraries of physfit's usage requirements, collected from its targets.
set(_pc_cflags)
set(_pc_libs)
set(_pc_private)
set(_pc_seen)
function(_physfit_pc_collect item out)
  if(item MATCHES "^\\$<LINK_ONLY:(.*)>$")
    set(item "${CMAKE_MATCH_1}")
  elseif(item MATCHES "^\\$<")
    return()  # build-tree only ($<BUILD_INTERFACE:...>)
  endif()
  if(item IN_LIST _pc_seen)
    return()
  endif()
  list(APPEND _pc_seen "${item}")
  if(TARGET ${item})
    get_target_property(_type ${item} TYPE)
    get_target_property(_imported ${item} IMPORTED)
    if(NOT _type STREQUAL "INTERFACE_LIBRARY" AND _imported)
      list(APPEND ${out} "$<TARGET_LINKER_FILE:${item}>")
    endif()
    get_target_property(_inc ${item} INTERFACE_INCLUDE_DIRECTORIES)
    foreach(_d IN LISTS _inc)
      if(_d AND NOT _d MATCHES "^\\$<")
        list(APPEND _pc_cflags "-I${_d}")
      endif()
    endforeach()
    get_target_property(_def ${item} INTERFACE_COMPILE_DEFINITIONS)
    foreach(_d IN LISTS _def)
      if(_d AND NOT _d MATCHES "^\\$<")
        list(APPEND _pc_cflags "-D${_d}")
      endif()
    endforeach()
    get_target_property(_deps ${item} INTERFACE_LINK_LIBRARIES)
    foreach(_d IN LISTS _deps)
      if(_d)
        _physfit_pc_collect("${_d}" ${out})
      endif()
    endforeach()
  elseif(IS_ABSOLUTE "${item}" OR item MATCHES "^-")
    list(APPEND ${out} "${item}")
  elseif(item)
    list(APPEND ${out} "-l${item}")
  endif()
  set(_pc_seen "${_pc_seen}" PARENT_SCOPE)
  set(_pc_cflags "${_pc_cflags}" PARENT_SCOPE)
  set(${out} "${${out}}" PARENT_SCOPE)
endfunction()
foreach(_item IN LISTS _interface)
  _physfit_pc_collect("${_item}" _pc_libs)
endforeach()
get_target_property(_all physfit LINK_LIBRARIES)
foreach(_item IN LISTS _all)
  _physfit_pc_collect("${_item}" _pc_private)
endforeach()
get_target_property(_defs physfit INTERFACE_COMPILE_DEFINITIONS)
foreach(_d IN LISTS _defs)
  list(APPEND _pc_cflags "-D${_d}")
endforeach()
list(REMOVE_DUPLICATES _pc_cflags)
list(JOIN _pc_cflags " " PHYSFIT_PC_CFLAGS)
list(JOIN _pc_libs " " PHYSFIT_PC_LIBS)
list(JOIN _pc_private " " PHYSFIT_PC_LIBS_PRIVATE)
set(_pc_libdir "${CMAKE_INSTALL_LIBDIR}")
set(_pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
file(RELATIVE_PATH _pc_up /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)  # ../.. for lib
foreach(_variant physfit physfit-static)
  if(_variant STREQUAL "physfit")
    set(_link "-L\${libdir} -lphysfit ${PHYSFIT_PC_LIBS}")
    set(_private "Libs.private: ${PHYSFIT_PC_LIBS_PRIVATE}")
    set(_what "shared library")
  else()
    set(_link "\${libdir}/libphysfit.a ${PHYSFIT_PC_LIBS} ${PHYSFIT_PC_LIBS_PRIVATE}")
    set(_private "")
    set(_what "static library")
  endif()
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/pkgconfig/${_variant}.pc CONTENT
"prefix=\${pcfiledir}/${_pc_up}
libdir=\${prefix}/${_pc_libdir}
includedir=\${prefix}/${_pc_includedir}

Name: ${_variant}
Description: ${PROJECT_DESCRIPTION} (${_what})
Version: ${PROJECT_VERSION}
Cflags: -std=c++17 -I\${includedir} ${PHYSFIT_PC_CFLAGS}
Libs: ${_link}
${_private}
")
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${_variant}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
