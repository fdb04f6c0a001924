/// @file
/// libFuzzer harness: ALAMODE input files (fc::read_alamode_input).
#include "physfit/fc/structure_io.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physfit::fuzz::write_input(data, size, "alm.in");
  try {
    physfit::fc::read_alamode_input(path);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
