/// @file
/// libFuzzer harness: phonopy's YAML files (fc::read_phonopy_yaml, and fc::read_phonopy_params
/// which turns one into a structure and a data set).
#include "physfit/fc/dataset.hpp"
#include "physfit/fc/structure_io.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physfit::fuzz::write_input(data, size, "phonopy.yaml");
  try {
    physfit::fc::read_phonopy_yaml(path);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  try {
    physfit::fc::read_phonopy_params(path);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
