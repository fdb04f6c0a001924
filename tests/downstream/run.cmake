# Installs the build tree into a scratch prefix and builds tests/downstream against it, as a
# user would, in two ways: the CMake project (find_package(physfit), C++ only) and by hand with
# pkg-config (physfit.pc, physfit-static.pc); each with the compiler's default flags, linked to
# the shared and to the static library. Runs every program on 2 ranks (main.cpp checks the
# numbers) and checks which library each one loaded.
#   -DBUILD_DIR -DSOURCE_DIR -DWORK_DIR -DMPIEXEC -DCXX -DSANITIZE
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
file(GLOB_RECURSE installed RELATIVE ${prefix} ${prefix}/*)
foreach(f bin/physfit include/physfit/mpi/comm.hpp cmake/physfit/physfitConfig.cmake libphysfit.a
          libphysfit.so pkgconfig/physfit.pc pkgconfig/physfit-static.pc)
  set(found ${installed})
  list(FILTER found INCLUDE REGEX "(^|/)${f}$")
  if(NOT found)
    message(FATAL_ERROR "install tree lacks ${f}")
  endif()
endforeach()
file(GLOB_RECURSE pc RELATIVE ${prefix} ${prefix}/*/pkgconfig/physfit.pc)
get_filename_component(pkgconfig_dir ${prefix}/${pc} DIRECTORY)
get_filename_component(libdir ${pkgconfig_dir} DIRECTORY)

set(cxxflags)
if(SANITIZE)
  set(cxxflags -fsanitize=address,undefined)
endif()
list(JOIN cxxflags " " cxxflags_string)

# The CMake route.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${prefix}
    "-DCMAKE_CXX_FLAGS=${cxxflags_string}" "-DCMAKE_EXE_LINKER_FLAGS=${cxxflags_string}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
set(programs ${WORK_DIR}/build/downstream ${WORK_DIR}/build/downstream_static)

# The pkg-config route: one compile, linked to each library.
set(pkg ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pkgconfig_dir} pkg-config)
run(${pkg} --cflags physfit)
separate_arguments(cflags UNIX_COMMAND "${out}")
run(${CXX} ${cxxflags} ${cflags} -c ${SOURCE_DIR}/main.cpp -o ${WORK_DIR}/main.o)
foreach(variant physfit physfit-static)
  run(${pkg} --libs ${variant})
  separate_arguments(libs UNIX_COMMAND "${out}")
  run(${CXX} ${cxxflags} ${WORK_DIR}/main.o ${libs} -Wl,-rpath,${libdir}
      -o ${WORK_DIR}/pc-${variant})
  list(APPEND programs ${WORK_DIR}/pc-${variant})
endforeach()

foreach(program IN LISTS programs)
  # Shared or static, as intended: the dynamic section names libphysfit.so or does not.
  run(readelf -d ${program})
  string(FIND "${out}" "[libphysfit.so" shared)
  if((program MATCHES "static" AND NOT shared EQUAL -1) OR
     (NOT program MATCHES "static" AND shared EQUAL -1))
    message(FATAL_ERROR "${program} linked the wrong physfit library:\n${out}")
  endif()
  get_filename_component(name ${program} NAME)
  file(MAKE_DIRECTORY ${WORK_DIR}/${name}.d)
  run(${MPIEXEC} -n 2 ${program} ${WORK_DIR}/${name}.d/downstream.h5 ${WORK_DIR}/${name}.d)
  if(NOT out MATCHES "downstream ok: physfit [0-9.]+, 2 ranks, lasso nn fc checked")
    message(FATAL_ERROR "unexpected output of ${program}: ${out}")
  endif()
  message(STATUS "${name}: ${out}")
endforeach()
run(${prefix}/bin/physfit inspect ${WORK_DIR}/downstream.d/downstream.h5)
message(STATUS "${out}")
