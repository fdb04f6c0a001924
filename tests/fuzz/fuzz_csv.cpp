/// @file
/// libFuzzer harness: numeric CSV tables (io::read_csv), with and without a header.
#include "physfit/io/csv.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physfit::fuzz::write_input(data, size, "table.csv");
  try {
    physfit::io::read_csv(path, ',', true);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  try {
    physfit::io::read_csv(path, ';', false);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
