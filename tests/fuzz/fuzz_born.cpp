/// @file
/// libFuzzer harness: phonopy's BORN (fc::read_born for silicon's crystal: one independent atom).
#include "physfit/fc/nac.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physfit::fuzz::write_input(data, size, "BORN");
  try {
    physfit::fc::read_born(path, physfit::fuzz::silicon_crystal());
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
