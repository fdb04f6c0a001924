// IDX and CSV readers: round trips, gzip, and the errors bad files give.

#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/io/csv.hpp"
#include "physfit/io/idx.hpp"

using namespace physfit;

namespace {

std::string io_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(IdxReader, ReadsPlainAndGzipFiles) {
  const std::string dir = test::scratch_dir();
  std::vector<std::uint8_t> data(3 * 2 * 4);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  io::write_idx(dir + "/a.idx", {3, 2, 4}, data);
  io::IdxArray a = io::read_idx(dir + "/a.idx");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{3, 2, 4}));
  EXPECT_EQ(a.dtype, "uint8");
  EXPECT_EQ(a.bytes, data);
  // The same bytes gzip-compressed.
  std::ifstream in(dir + "/a.idx", std::ios::binary);
  const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gzFile gz = gzopen((dir + "/a.idx.gz").c_str(), "wb");
  gzwrite(gz, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(gz);
  EXPECT_EQ(io::read_idx(dir + "/a.idx.gz").bytes, data);
}

TEST(IdxReader, BadFilesGiveErrorsNamingTheFileAndTheProblem) {
  const std::string dir = test::scratch_dir();
  EXPECT_NE(io_error([&] { io::read_idx(dir + "/none.gz"); }).find("cannot open IDX file"),
            std::string::npos);
  std::ofstream(dir + "/text.idx") << "hello world";
  EXPECT_NE(io_error([&] { io::read_idx(dir + "/text.idx"); }).find("is not an IDX file"),
            std::string::npos);
  io::write_idx(dir + "/t.idx", {10, 2}, std::vector<std::uint8_t>(20, 1));
  std::ifstream in(dir + "/t.idx", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/short.idx", std::ios::binary) << raw.substr(0, raw.size() - 5);
  EXPECT_NE(io_error([&] {
              io::read_idx(dir + "/short.idx");
            }).find("short.idx': truncated IDX data: the header promises 20 values"),
            std::string::npos);
  std::ofstream(dir + "/long.idx", std::ios::binary) << raw << "xx";
  EXPECT_NE(io_error([&] { io::read_idx(dir + "/long.idx"); }).find("bytes after the 20 values"),
            std::string::npos);
  raw[2] = 0x42;
  std::ofstream(dir + "/type.idx", std::ios::binary) << raw;
  EXPECT_NE(io_error([&] { io::read_idx(dir + "/type.idx"); }).find("unknown IDX data type 0x42"),
            std::string::npos);
}

TEST(CsvReader, ReadsNumbersAndReportsBadValuesWithLineAndColumn) {
  const std::string dir = test::scratch_dir();
  std::ofstream(dir + "/a.csv") << "# comment\nx,y,\"e\"\n1,2.5,-3e2\n\n4,5,6\r\n";
  const io::CsvTable t = io::read_csv(dir + "/a.csv");
  EXPECT_EQ(t.columns, (std::vector<std::string>{"x", "y", "e"}));
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.values, (std::vector<double>{1, 2.5, -300, 4, 5, 6}));
  EXPECT_EQ(t.column("e", "target-columns"), 2u);
  EXPECT_THROW(t.column("energy", "target-columns"), UsageError);
  std::ofstream(dir + "/nan.csv") << "x,y\n1,2\n3,nan\n";
  EXPECT_NE(io_error([&] {
              io::read_csv(dir + "/nan.csv");
            }).find("nan.csv:3: column 'y': bad value 'nan': expected a finite number"),
            std::string::npos);
  std::ofstream(dir + "/short.csv") << "x,y\n1,2\n3\n";
  EXPECT_NE(
      io_error([&] { io::read_csv(dir + "/short.csv"); }).find("short.csv:3: 1 fields, expected 2"),
      std::string::npos);
  std::ofstream(dir + "/empty.csv") << "x,y\n";
  EXPECT_NE(io_error([&] { io::read_csv(dir + "/empty.csv"); }).find("has no data rows"),
            std::string::npos);
  std::ofstream(dir + "/semi.csv") << "1;2\n3;4\n";
  EXPECT_EQ(io::read_csv(dir + "/semi.csv", ';', false).columns,
            (std::vector<std::string>{"c0", "c1"}));
}
