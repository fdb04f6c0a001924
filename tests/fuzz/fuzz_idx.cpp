/// @file
/// libFuzzer harness: IDX files, plain or gzip-compressed (io::read_idx).
#include "physfit/io/idx.hpp"

#include "harness.hpp"
#include "physfit/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = physfit::fuzz::write_input(data, size, "images.idx");
  try {
    physfit::io::read_idx(path);
  } catch (const physfit::Error& e) {
    physfit::fuzz::expected(e);
  }
  return 0;
}
