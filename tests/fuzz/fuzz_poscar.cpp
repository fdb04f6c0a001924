/// @file
/// libFuzzer harness: VASP POSCAR files (fc::read_poscar), VASP 4 and 5.
#include "physfit/fc/structure_io.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physfit::fuzz::write_input(data, size, "POSCAR");
  try {
    physfit::fc::read_poscar(path);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
