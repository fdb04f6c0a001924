#!/usr/bin/env bash
# Installs what is missing, builds physfit and runs the whole test suite (CTest: unit tests,
# MPI tests at 1, 2, 3 and 4 ranks, end-to-end tests of the program, the installed package).
#
#   scripts/test.sh              # optimised build in build/
#   scripts/test.sh --sanitize   # AddressSanitizer + UndefinedBehaviorSanitizer build in build-sanitize/
#
# Extra arguments after -- go to ctest (for example: scripts/test.sh -- -R mpi_tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build
flags=(-DCMAKE_BUILD_TYPE=Release -DPHYSFIT_BUILD_TESTS=ON -DPHYSFIT_SANITIZE=OFF)
ctest_args=()
while (($#)); do
  case "$1" in
    --sanitize)
      build=build-sanitize
      flags=(-DCMAKE_BUILD_TYPE=Debug -DPHYSFIT_BUILD_TESTS=ON -DPHYSFIT_SANITIZE=ON)
      ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

scripts/setup.sh --tests
jobs=$(nproc)
cmake -S . -B "$build" -G Ninja "${flags[@]}"
cmake --build "$build" --parallel "$jobs"
# Twice as many tests as cores: most of a test's time is process start-up, MPI_Init and waiting
# on its processes (a whole run keeps about one core of two busy at --parallel 2), and tests
# that need more than one core declare it (PROCESSORS), which ctest counts against this limit.
ctest --test-dir "$build" --parallel $((2 * jobs)) --output-on-failure "${ctest_args[@]}"
