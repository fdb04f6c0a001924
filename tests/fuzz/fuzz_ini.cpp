/// @file
/// libFuzzer harness: INI text (config::parse_ini), the format of every input file.
#include <string>

#include "physfit/config/ini.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    physfit::config::parse_ini(std::string(reinterpret_cast<const char*>(data), size), "fuzz.ini");
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
