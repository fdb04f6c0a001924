/// @file
/// libFuzzer harness: extended XYZ (fc::read_extxyz_structure, and fc::read_extxyz onto the
/// 8-atom silicon cell).
#include "physfit/fc/dataset.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physfit::fuzz::write_input(data, size, "data.xyz");
  try {
    physfit::fc::read_extxyz_structure(path);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  try {
    physfit::fc::read_extxyz(path, physfit::fuzz::silicon_cell(), 0.5);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
