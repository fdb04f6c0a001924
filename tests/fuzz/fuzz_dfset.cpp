/// @file
/// libFuzzer harness: ALAMODE's DFSET (fc::read_dfset onto the 8-atom silicon cell).
#include "physfit/fc/dataset.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physfit::fuzz::write_input(data, size, "DFSET");
  try {
    physfit::fc::read_dfset(path, physfit::fuzz::silicon_cell(),
                            physfit::fc::DfsetUnits::kRydbergBohr);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
