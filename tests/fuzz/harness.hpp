#pragma once
/// @file
/// Shared parts of physfit's libFuzzer harnesses (tests/fuzz/fuzz_*.cpp).
///
/// Each harness defines LLVMFuzzerTestOneInput, which feeds one input to one parser. A
/// physfit::Error (a named error with an exit code) is the expected answer to malformed
/// input; anything else escapes and is a finding: a crash, a sanitizer report, or another
/// exception (std::bad_alloc, std::out_of_range, a yaml-cpp exception), which the program
/// would report as "internal error", exit 1. The same harnesses are linked with libFuzzer
/// (scripts/fuzz.sh, clang) and with replay_main.cpp (CTest, any compiler), which runs them
/// over the committed seed corpus and regressions.

#include <cstddef>
#include <cstdint>
#include <string>

#include "physfit/error.hpp"
#include "physfit/fc/crystal.hpp"

namespace physfit::fuzz {

/// Writes the input to `<folder>/<name>` and returns the path, for readers that take a path
/// (their messages name it). The folder is this process's own, in /dev/shm when it exists
/// (no disk I/O per input), removed with its files when the process exits.
std::string write_input(const std::uint8_t* data, std::size_t size, const std::string& name);

/// Called with each physfit::Error a parser throws (the expected answer to malformed input):
/// prints its message when PHYSFIT_FUZZ_VERBOSE is set (to see that seeds parse, and what
/// the parsers say about the reproducers), else nothing. An error with the internal exit
/// code (1, "a bug") is a finding: it aborts.
void expected(const physfit::Error& error);

/// The ideal supercell the data readers (FORCE_SETS, DFSET, extended XYZ) map onto: silicon's
/// conventional cubic cell, 8 atoms, a = 5.43 Angstrom (the seed corpus files are for it).
const fc::Structure& silicon_cell();

/// The crystal of silicon_cell() with its fcc primitive cell (BORN files are for it).
const fc::Crystal& silicon_crystal();

}  // namespace physfit::fuzz

/// The libFuzzer entry point each harness defines.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
