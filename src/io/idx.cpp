#include "physfit/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "physfit/error.hpp"

namespace physfit::io {

namespace {

class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), f_(gzopen(path.c_str(), "rb")) {
    if (f_ == nullptr) {
      throw IoError("cannot open IDX file '" + path + "': " + std::strerror(errno) +
                    " (check the path; Fashion-MNIST is under /usr/share/datasets/fashion-mnist "
                    "after installing dataset-fashion-mnist)");
    }
    gzbuffer(f_, 1 << 20);
  }
  ~GzFile() { gzclose(f_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  // Reads exactly n bytes; false at a clean end of file before any byte.
  std::size_t read(void* out, std::size_t n) {
    std::size_t done = 0;
    auto* p = static_cast<unsigned char*>(out);
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
      const int got = gzread(f_, p + done, chunk);
      if (got < 0) {
        int code = 0;
        throw IoError("cannot read IDX file '" + path_ + "': " + gzerror(f_, &code));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

 private:
  std::string path_;
  gzFile f_;
};

std::uint32_t big_endian32(const unsigned char* b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  GzFile f(path);
  unsigned char magic[4];
  if (f.read(magic, 4) != 4 || magic[0] != 0 || magic[1] != 0) {
    throw IoError("'" + path +
                  "' is not an IDX file: it does not start with the IDX magic "
                  "number (two zero bytes, a type byte and the number of dimensions)");
  }
  IdxArray a;
  int size = 0;
  switch (magic[2]) {
    case 0x08:
      a.dtype = "uint8", size = 1;
      break;
    case 0x09:
      a.dtype = "int8", size = 1;
      break;
    case 0x0B:
      a.dtype = "int16", size = 2;
      break;
    case 0x0C:
      a.dtype = "int32", size = 4;
      break;
    case 0x0D:
      a.dtype = "float32", size = 4;
      break;
    case 0x0E:
      a.dtype = "float64", size = 8;
      break;
    default: {
      char code[8];
      std::snprintf(code, sizeof code, "0x%02X", magic[2]);
      throw IoError("'" + path + "': unknown IDX data type " + code +
                    " (expected 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32 or "
                    "0x0E float64)");
    }
  }
  const int dims = magic[3];
  if (dims == 0) throw IoError("'" + path + "': IDX header declares 0 dimensions");
  std::int64_t count = 1;
  for (int d = 0; d < dims; ++d) {
    unsigned char b[4];
    if (f.read(b, 4) != 4) throw IoError("'" + path + "': truncated IDX header");
    a.shape.push_back(big_endian32(b));
    if (a.shape.back() == 0) {
      throw IoError("'" + path + "': IDX header declares dimension " + std::to_string(d) +
                    " as 0: the file holds no data (wrong file, or a header written wrongly)");
    }
    // No file holds 2^62 bytes: stop before the product overflows.
    if (count > (std::int64_t{1} << 62) / size / a.shape.back()) {
      throw IoError("'" + path + "': the IDX header declares dimensions of more than 2^62 " +
                    "bytes of data in all; it is corrupt");
    }
    count *= a.shape.back();
  }
  // Read in growing steps (1 MiB, then as much as has been read, at most 64 MiB), so that a
  // header promising more than the file holds (2^31 images in a small file) is a truncation
  // error after allocating about twice what the file has, not everything it promises.
  const auto total = static_cast<std::size_t>(count * size);
  std::vector<unsigned char> raw;
  std::size_t got = 0;
  while (got < total) {
    const std::size_t step = std::min<std::size_t>(
        total - got, std::clamp<std::size_t>(got, std::size_t{1} << 20, std::size_t{64} << 20));
    raw.resize(got + step);
    const std::size_t n = f.read(raw.data() + got, step);
    got += n;
    if (n < step) break;
  }
  if (got != total) {
    throw IoError("'" + path + "': truncated IDX data: the header promises " +
                  std::to_string(count) + " values (" + std::to_string(total) +
                  " bytes), the file has " + std::to_string(got) + " bytes of data");
  }
  unsigned char extra;
  if (f.read(&extra, 1) != 0) {
    throw IoError("'" + path + "': bytes after the " + std::to_string(count) +
                  " values the IDX header declares (wrong header or concatenated files)");
  }
  if (size == 1 && a.dtype == "uint8") {
    a.bytes.assign(raw.begin(), raw.end());
    return a;
  }
  a.values.resize(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const unsigned char* b = raw.data() + i * size;
    unsigned char le[8];
    for (int k = 0; k < size; ++k) le[k] = b[size - 1 - k];
    double v = 0;
    if (a.dtype == "int8") {
      v = static_cast<std::int8_t>(b[0]);
    } else if (a.dtype == "int16") {
      std::int16_t x;
      std::memcpy(&x, le, 2);
      v = x;
    } else if (a.dtype == "int32") {
      std::int32_t x;
      std::memcpy(&x, le, 4);
      v = x;
    } else if (a.dtype == "float32") {
      float x;
      std::memcpy(&x, le, 4);
      v = x;
    } else {
      std::memcpy(&v, le, 8);
    }
    a.values[static_cast<std::size_t>(i)] = static_cast<float>(v);
  }
  return a;
}

void write_idx(const std::string& path, const std::vector<std::int64_t>& shape,
               const std::vector<std::uint8_t>& data) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw IoError("cannot write '" + path + "'");
  const unsigned char magic[4] = {0, 0, 0x08, static_cast<unsigned char>(shape.size())};
  out.write(reinterpret_cast<const char*>(magic), 4);
  for (std::int64_t d : shape) {
    const auto v = static_cast<std::uint32_t>(d);
    const unsigned char b[4] = {static_cast<unsigned char>(v >> 24),
                                static_cast<unsigned char>(v >> 16),
                                static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
    out.write(reinterpret_cast<const char*>(b), 4);
  }
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) throw IoError("cannot write '" + path + "'");
}

}  // namespace physfit::io
