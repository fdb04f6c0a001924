/// @file
/// libFuzzer harness: phonopy's FORCE_SETS, type 1 and 2 (fc::read_force_sets onto the 8-atom
/// silicon cell).
#include "physfit/fc/dataset.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physfit::fuzz::write_input(data, size, "FORCE_SETS");
  try {
    physfit::fc::read_force_sets(path, physfit::fuzz::silicon_cell());
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
