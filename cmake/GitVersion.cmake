# Writes the version source file: run at every build (cmake -P) so that the git hash is that
# of the source actually compiled. configure_file only touches OUTPUT when its text changes,
# so an unchanged hash does not trigger a rebuild.
#   -DSOURCE_DIR=... -DOUTPUT=... -DVERSION=... -DTEMPLATE=...
set(hash "unknown")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --short=12 HEAD
                  WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE out RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0)
    set(hash "${out}")
    execute_process(COMMAND "${GIT_EXECUTABLE}" status --porcelain --untracked-files=no
                    WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE dirty
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(NOT dirty STREQUAL "")
      set(hash "${hash}+dirty")
    endif()
  endif()
endif()
set(PHYSFIT_VERSION "${VERSION}")
set(PHYSFIT_GIT_HASH "${hash}")
configure_file("${TEMPLATE}" "${OUTPUT}" @ONLY)
