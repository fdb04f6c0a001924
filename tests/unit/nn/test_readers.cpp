// IDX and CSV readers: round trips, gzip, and the errors bad files give.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/io/csv.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/idx.hpp"
#include "physfit/nn/data.hpp"

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

namespace {

// A small dataset file: 4 images of 2 x 3 uint8 and labels of type T with `classes`.
template <class T>
std::string write_data(const std::string& name, std::int64_t classes, double scale = 1.0 / 255,
                       std::vector<std::int64_t> shape = {4, 2, 3}) {
  const std::string path = test::scratch_dir() + "/" + name;
  io::File f = io::File::create(path);
  std::int64_t values = 1;
  for (auto d : shape) values *= d;
  const io::Dataset x = f.create_dataset<std::uint8_t>("/features", shape, "dimensionless");
  if (values > 0) x.write_all(std::vector<std::uint8_t>(static_cast<std::size_t>(values), 7));
  io::set_attribute(x.id(), "scale", scale);
  const io::Dataset l = f.create_dataset<T>("/labels", {shape[0]}, "dimensionless");
  l.write_all(std::vector<T>{0, static_cast<T>(1.5), 2, 1});
  io::set_attribute(l.id(), "classes", classes);
  f.close();
  return path;
}

}  // namespace

TEST(DataReader, AcceptsAGoodFileAndReadsItsLabels) {
  const nn::DataInfo info = nn::inspect_data(write_data<std::int32_t>("good.h5", 3));
  EXPECT_EQ(info.rows, 4);
  EXPECT_EQ(info.classes, 3);
  EXPECT_EQ(info.scale, 1.0 / 255);
  nn::RecordReader reader(info);
  std::vector<unsigned char> records(static_cast<std::size_t>(4 * info.record_bytes()));
  reader.read(0, 4, records.data());
  std::int32_t label;
  std::memcpy(&label, records.data() + info.record_bytes() + 6, 4);
  EXPECT_EQ(label, 1);
}

TEST(DataReader, FloatLabelsAreAnErrorNotTruncated) {
  const std::string path = write_data<double>("float_labels.h5", 3);
  const std::string m = io_error([&] { nn::inspect_data(path); });
  EXPECT_NE(m.find("'/labels' in '" + path +
                   "' has type float64; labels are class indices and "
                   "must be integers"),
            std::string::npos)
      << m;
}

TEST(DataReader, ANonFiniteScaleIsAnError) {
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    const std::string path = write_data<std::int32_t>("nan_scale.h5", 3, bad);
    const std::string m = io_error([&] { nn::inspect_data(path); });
    EXPECT_NE(m.find("attribute 'scale' of '/features' in '" + path + "' is " +
                     (std::isnan(bad) ? "nan" : "inf") + "; it scales every input"),
              std::string::npos)
        << m;
  }
}

TEST(DataReader, AClassCountOutsideAnIntIsAnErrorWithTheExactValue) {
  for (std::int64_t bad : {std::int64_t{1000000000000}, std::int64_t{0}, std::int64_t{-3}}) {
    const std::string path = write_data<std::int32_t>("classes.h5", bad);
    const std::string m = io_error([&] { nn::inspect_data(path); });
    EXPECT_NE(m.find("attribute 'classes' of '/labels' in '" + path + "' is " +
                     std::to_string(bad) + "; it must be the number of classes, 1 to 2147483647"),
              std::string::npos)
        << m;
  }
}

TEST(DataReader, AZeroImageDimensionIsAnError) {
  const std::string path = write_data<std::int32_t>("zero_dim.h5", 3, 1.0, {4, 0, 3});
  const std::string m = io_error([&] { nn::inspect_data(path); });
  EXPECT_NE(m.find("'/features' in '" + path +
                   "' has shape [4, 0, 3]: dimension 1 is 0; every dimension of a sample must be "
                   "positive"),
            std::string::npos)
      << m;
}

TEST(IdxReader, AHeaderPromisingMoreThanTheFileIsATruncationErrorNotAnAllocation) {
  const std::string dir = test::scratch_dir();
  // 2^31 images of 28 x 28 (1.7 TB) promised, 100 bytes present.
  std::string raw = {0, 0, 0x08, 3, char(0x80), 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
  raw += std::string(100, 'x');
  std::ofstream(dir + "/huge.idx", std::ios::binary) << raw;
  const std::string m = io_error([&] { io::read_idx(dir + "/huge.idx"); });
  EXPECT_NE(m.find("huge.idx': truncated IDX data: the header promises 1683627180032 values "
                   "(1683627180032 bytes), the file has 100 bytes of data"),
            std::string::npos)
      << m;
  // Dimensions whose product overflows 64 bits.
  raw = {0, 0, 0x0E, 3};
  for (int d = 0; d < 3; ++d) raw += std::string({char(0xFF), char(0xFF), char(0xFF), char(0xFF)});
  std::ofstream(dir + "/overflow.idx", std::ios::binary) << raw;
  EXPECT_NE(io_error([&] { io::read_idx(dir + "/overflow.idx"); }).find("it is corrupt"),
            std::string::npos);
}

TEST(IdxReader, AZeroDimensionIsAnError) {
  const std::string dir = test::scratch_dir();
  io::write_idx(dir + "/zero.idx", {5, 0, 3}, {});
  EXPECT_NE(io_error([&] {
              io::read_idx(dir + "/zero.idx");
            }).find("zero.idx': IDX header declares dimension 1 as 0: the file holds no data"),
            std::string::npos);
}

namespace {

// 3 samples of 5 x 3 = 15 bits packed in 2 bytes each, with `packing` and `sample_shape`.
std::string write_packed(const std::string& name, const std::string& packing,
                         std::vector<std::int64_t> sample_shape, std::int64_t bytes = 2) {
  const std::string path = test::scratch_dir() + "/" + name;
  io::File f = io::File::create(path);
  const io::Dataset x = f.create_dataset<std::uint8_t>("/features", {3, bytes}, "dimensionless");
  std::vector<std::uint8_t> v(static_cast<std::size_t>(3 * bytes), 0);
  v[0] = 0b00000101;  // sample 0: values 0 and 2 set
  v[1] = 0b01000000;  // sample 0: value 14 set (the last of 15)
  v[static_cast<std::size_t>(bytes)] = 0xff;
  x.write_all(v);
  io::set_attribute(x.id(), "packing", packing);
  io::set_attribute(x.id(), "sample_shape", sample_shape);
  io::set_attribute(x.id(), "scale", 2.0);
  io::set_attribute(x.id(), "offset", -1.0);
  const io::Dataset l = f.create_dataset<std::int32_t>("/labels", {3}, "dimensionless");
  l.write_all(std::vector<std::int32_t>{0, 1, 1});
  io::set_attribute(l.id(), "classes", std::int64_t{2});
  f.close();
  return path;
}

}  // namespace

TEST(DataReader, PackedBitsUnpackToScaledValuesInTheDocumentedOrder) {
  const nn::DataInfo info = nn::inspect_data(write_packed("packed.h5", "bits", {5, 3}));
  EXPECT_TRUE(info.bits);
  EXPECT_EQ(info.sample, (nn::Shape{5, 3, 1}));
  EXPECT_EQ(info.feature_bytes(), 2);
  EXPECT_EQ(info.record_bytes(), 6);
  nn::RecordReader reader(info);
  std::vector<unsigned char> records(static_cast<std::size_t>(3 * info.record_bytes()));
  reader.read(0, 3, records.data());
  const unsigned char* pointers[3] = {records.data(), records.data() + 6, records.data() + 12};
  std::vector<float> x(45);
  std::vector<std::int32_t> labels(3);
  nn::unpack_records(info, pointers, 3, x.data(), labels.data(), nullptr);
  for (int k = 0; k < 15; ++k) {
    EXPECT_EQ(x[static_cast<std::size_t>(k)], (k == 0 || k == 2 || k == 14) ? 1.0f : -1.0f) << k;
    EXPECT_EQ(x[static_cast<std::size_t>(15 + k)], k < 8 ? 1.0f : -1.0f) << k;
    EXPECT_EQ(x[static_cast<std::size_t>(30 + k)], -1.0f) << k;
  }
  EXPECT_EQ(labels, (std::vector<std::int32_t>{0, 1, 1}));
}

TEST(DataReader, BadPackingAttributesAreErrorsNamingTheAttribute) {
  const struct {
    std::string name, packing;
    std::vector<std::int64_t> shape;
    std::int64_t bytes;
    std::string message;
  } cases[] = {
      {"zip.h5", "zip", {5, 3}, 2, "attribute 'packing' of '/features' in '"},
      {"short.h5", "bits", {5, 4}, 2, "is [5, 4] (20 bits) but a row holds 2 bytes"},
      {"long.h5", "bits", {5, 3}, 3, "is [5, 3] (15 bits) but a row holds 3 bytes"},
      {"zero.h5", "bits", {0, 3}, 2, "holds 0; every dimension must be a positive integer"},
      {"rank4.h5", "bits", {1, 1, 3, 5}, 2, "has 4 dimensions; give [F], [H, W] or [H, W, C]"},
  };
  for (const auto& c : cases) {
    const std::string path = write_packed(c.name, c.packing, c.shape, c.bytes);
    const std::string m = io_error([&] { nn::inspect_data(path); });
    EXPECT_NE(m.find(c.message), std::string::npos) << c.name << ": " << m;
    EXPECT_NE(m.find(path), std::string::npos) << m;
  }
}

TEST(DataReader, ScatteredRowsReadDirectlyEqualRowByRowReads) {
  // 3000 packed rows of 16 bytes: wanted rows close together are read as spans, far ones alone.
  const std::string path = test::scratch_dir() + "/scattered.h5";
  const std::int64_t rows = 3000;
  {
    io::File f = io::File::create(path);
    std::vector<std::uint8_t> x(static_cast<std::size_t>(rows * 16));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(i * 31 + i / 16);
    const io::Dataset d = f.create_dataset<std::uint8_t>("/features", {rows, 16}, "dimensionless");
    d.write_rows(0, rows, x.data());
    io::set_attribute(d.id(), "packing", std::string("bits"));
    io::set_attribute(d.id(), "sample_shape", std::vector<std::int64_t>{128});
    std::vector<std::int32_t> y(static_cast<std::size_t>(rows));
    for (std::int64_t r = 0; r < rows; ++r) y[static_cast<std::size_t>(r)] = r % 3;
    const io::Dataset l = f.create_dataset<std::int32_t>("/labels", {rows}, "dimensionless");
    l.write_rows(0, rows, y.data());
    io::set_attribute(l.id(), "classes", std::int64_t{3});
    f.close();
  }
  const nn::DataInfo info = nn::inspect_data(path);
  nn::RecordReader reader(info);
  EXPECT_TRUE(reader.direct());
  const std::vector<std::int64_t> ids = {0, 1, 2, 40, 41, 300, 301, 2000, 2999};
  const auto rb = static_cast<std::size_t>(info.record_bytes());
  std::vector<unsigned char> got(ids.size() * rb), one(rb);
  reader.read_ids(ids.data(), ids.size(), got.data());
  for (std::size_t k = 0; k < ids.size(); ++k) {
    reader.read(ids[k], 1, one.data());
    EXPECT_EQ(std::memcmp(got.data() + k * rb, one.data(), rb), 0) << "row " << ids[k];
    std::int32_t label;
    std::memcpy(&label, got.data() + k * rb + 16, 4);
    EXPECT_EQ(label, ids[k] % 3);
  }
}
