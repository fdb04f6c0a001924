#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/inspect.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/io/provenance.hpp"

using namespace physfit;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

io::Provenance sample_provenance() {
  io::Provenance p;
  p.program_version = "0.1.0";
  p.git_hash = "abc";
  p.command = "test";
  p.config = "rows = 3\n[train]\nepochs = 2\n";
  p.ranks = 1;
  p.threads = 2;
  p.start_time = "2026-11-25T00:00:00Z";
  p.host = "node1";
  return p;
}

// Captures what the process writes to file descriptor 2 while `f` runs.
std::string stderr_of(const std::function<void()>& f) {
  std::fflush(stderr);
  char name[] = "/tmp/physfit-stderr-XXXXXX";
  const int fd = mkstemp(name);
  const int saved = dup(2);
  dup2(fd, 2);
  f();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream in(name);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(name);
  return text;
}

}  // namespace

TEST(Hdf5File, WritesAndReadsAThreeDimensionalDatasetByRows) {
  const std::string path = test::scratch_dir() + "/cube.h5";
  std::vector<float> values(5 * 3 * 2);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 0.5f * static_cast<float>(i);
  {
    io::File f = io::File::create(path);
    auto d = f.create_dataset<float>("/group/sub/cube", {5, 3, 2}, "dimensionless");
    d.write_rows(0, 5, values.data());
    f.close();
  }
  io::File f = io::File::open(path);
  const io::Dataset d = f.dataset("/group/sub/cube");
  EXPECT_EQ(d.shape(), (std::vector<std::int64_t>{5, 3, 2}));
  EXPECT_EQ(d.rows(), 5);
  EXPECT_EQ(d.row_size(), 6);
  EXPECT_EQ(d.dtype(), "float32");
  // Rows 2..3 as doubles: HDF5 converts.
  const std::vector<double> middle = d.read_rows<double>(2, 2);
  ASSERT_EQ(middle.size(), 12u);
  for (std::size_t i = 0; i < middle.size(); ++i) EXPECT_EQ(middle[i], 0.5 * (12 + i));
  EXPECT_EQ(d.read_rows<float>(5, 0).size(), 0u);
  EXPECT_EQ(d.read_all<float>(), values);
  EXPECT_TRUE(f.exists("/group/sub"));
  EXPECT_FALSE(f.exists("/group/none/deeper"));
}

TEST(Hdf5File, EveryDatasetCarriesTheUnitItWasCreatedWith) {
  const std::string path = test::scratch_dir() + "/units.h5";
  {
    io::File f = io::File::create(path);
    f.create_dataset<double>("/structure/positions", {2, 3}, "angstrom")
        .write_all(std::vector<double>(6, 0.25));
    f.write_strings("/structure/symbols", {"Si", "Si"});
    std::string message = "no error";
    try {
      f.create_dataset<double>("/x", {1}, "");
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("dataset '/x'"), std::string::npos) << message;
    EXPECT_NE(message.find("no unit"), std::string::npos) << message;
    f.close();
  }
  io::File f = io::File::open(path);
  EXPECT_EQ(io::get_string_attribute(f.dataset("/structure/positions").id(), "unit"), "angstrom");
  EXPECT_EQ(io::get_string_attribute(f.dataset("/structure/symbols").id(), "unit"),
            "dimensionless");
  EXPECT_FALSE(f.exists("/x"));
}

TEST(Hdf5File, ErrorsNameTheFileAndTheDatasetAndPrintNothing) {
  const std::string dir = test::scratch_dir();
  const std::string path = dir + "/data.h5";
  {
    io::File f = io::File::create(path);
    f.create_dataset<double>("/x", {4, 2}, "dimensionless")
        .write_rows(0, 4, std::vector<double>(8, 1.0).data());
  }
  std::string printed = stderr_of([&] {
    EXPECT_EQ(error_of([&] { io::File::open(dir + "/missing.h5"); }),
              "cannot open HDF5 file '" + dir + "/missing.h5': No such file or directory");
    std::ofstream(dir + "/text.h5") << "not hdf5";
    EXPECT_EQ(error_of([&] { io::File::open(dir + "/text.h5"); }),
              "'" + dir + "/text.h5' is not an HDF5 file");
    {
      // A failure inside HDF5 itself: creating a dataset that exists.
      io::File w = io::File::open(path, io::File::Mode::kReadWrite);
      const std::string message =
          error_of([&] { w.create_dataset<double>("/x", {1}, "dimensionless"); });
      EXPECT_EQ(message.rfind("cannot create dataset '/x' in '" + path + "': ", 0), 0u) << message;
    }
    io::File f = io::File::open(path);
    EXPECT_EQ(error_of([&] { f.dataset("/y"); }), "no dataset '/y' in '" + path + "'");
    const io::Dataset x = f.dataset("/x");
    EXPECT_EQ(
        error_of([&] { x.read_rows<double>(3, 2); }),
        "cannot read rows 3 to 5 (exclusive) of dataset '/x' in '" + path + "': it has 4 rows");
    EXPECT_EQ(error_of([&] {
                x.require_shape({4, 3});
              }),
              "dataset '/x' in '" + path + "' has shape [4, 2], expected [4, 3]");
    EXPECT_EQ(error_of([&] { x.require_rank(3); }),
              "dataset '/x' in '" + path +
                  "' has shape [4, 2] (2 dimensions), expected 3 "
                  "dimensions");
  });
  EXPECT_EQ(printed, "") << "HDF5 printed its error stack";
}

TEST(Hdf5Attributes, RoundTripStringsNumbersAndArrays) {
  const std::string path = test::scratch_dir() + "/attrs.h5";
  io::File f = io::File::create(path);
  auto d = f.create_dataset<double>("/x", {2}, "dimensionless");
  io::set_attribute(d.id(), "unit", "eV/Angstrom");
  io::set_attribute(d.id(), "count", std::int64_t{42});
  io::set_attribute(d.id(), "scale", 0.125);
  io::set_attribute(d.id(), "cell", std::vector<double>{5.43, 5.43, 5.43});
  io::set_attribute(d.id(), "unit", "Ry/Bohr");  // replaced
  EXPECT_EQ(io::get_string_attribute(d.id(), "unit"), "Ry/Bohr");
  EXPECT_EQ(io::get_int_attribute(d.id(), "count"), 42);
  EXPECT_EQ(io::get_numeric_attribute(d.id(), "scale"), std::vector<double>{0.125});
  EXPECT_EQ(io::get_numeric_attribute(d.id(), "cell"), (std::vector<double>{5.43, 5.43, 5.43}));
  EXPECT_TRUE(io::has_attribute(d.id(), "cell"));
  EXPECT_FALSE(io::has_attribute(d.id(), "mass"));
  EXPECT_THROW(io::get_string_attribute(d.id(), "count"), IoError);
  EXPECT_THROW(io::get_string_attribute(d.id(), "mass"), IoError);
}

TEST(Hdf5File, StringDatasetsRoundTripAndOtherTypesAreRefused) {
  const std::string path = test::scratch_dir() + "/strings.h5";
  io::File f = io::File::create(path);
  const std::vector<std::string> names{"Ga", "N", "", "Fe1", "Å-site"};
  f.write_strings("/structure/symbols", names);
  f.create_dataset<double>("/x", {2}, "dimensionless");
  f.close();
  const io::File g = io::File::open(path);
  const io::Dataset d = g.dataset("/structure/symbols");
  EXPECT_EQ(d.dtype(), "string");
  EXPECT_EQ(d.shape(), (std::vector<std::int64_t>{5}));
  EXPECT_EQ(d.read_strings(), names);
  EXPECT_THROW(g.dataset("/x").read_strings(), IoError);
}

TEST(OutputFile, CommitsUnderTheRealNameWithProvenance) {
  const std::string path = test::scratch_dir() + "/result.h5";
  {
    io::OutputFile out(mpi::Comm::self(), path, sample_provenance(),
                       io::OutputFile::Writers::kRank0);
    ASSERT_TRUE(out.writes_here());
    EXPECT_NE(out.temporary_path(), path);
    out.file()
        .create_dataset<double>("/x", {1}, "dimensionless")
        .write_rows(0, 1, std::vector<double>{7}.data());
    EXPECT_EQ(access(path.c_str(), F_OK), -1) << "visible before commit";
    out.commit();
    EXPECT_EQ(access(out.temporary_path().c_str(), F_OK), -1);
  }
  io::File f = io::File::open(path);
  const io::Provenance p = io::read_provenance(f);
  EXPECT_EQ(p.format_version, 1);
  EXPECT_EQ(p.config, sample_provenance().config);
  EXPECT_EQ(p.threads, 2);
  EXPECT_EQ(p.host, "node1");
  EXPECT_EQ(f.dataset("/x").read_all<double>(), std::vector<double>{7});
}

TEST(OutputFile, AFailedWriterLeavesThePreviousFileAndNoTemporary) {
  const std::string path = test::scratch_dir() + "/result.h5";
  {
    io::OutputFile out(mpi::Comm::self(), path, sample_provenance(),
                       io::OutputFile::Writers::kRank0);
    out.file()
        .create_dataset<int>("/version", {1}, "dimensionless")
        .write_rows(0, 1, std::vector<int>{1}.data());
    out.commit();
  }
  std::string temporary;
  try {
    io::OutputFile out(mpi::Comm::self(), path, sample_provenance(),
                       io::OutputFile::Writers::kRank0);
    temporary = out.temporary_path();
    out.file()
        .create_dataset<int>("/version", {1}, "dimensionless")
        .write_rows(0, 1, std::vector<int>{2}.data());
    throw NumericalError("diverged");
  } catch (const NumericalError&) {
  }
  EXPECT_EQ(access(temporary.c_str(), F_OK), -1) << "temporary left behind";
  EXPECT_EQ(io::File::open(path).dataset("/version").read_all<int>(), std::vector<int>{1});
}

TEST(OutputFile, RefusesAMissingDirectoryBeforeWritingAnything) {
  const std::string dir = test::scratch_dir();
  try {
    io::OutputFile out(mpi::Comm::self(), dir + "/no/such/out.h5", sample_provenance(),
                       io::OutputFile::Writers::kRank0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kIo);
    EXPECT_EQ(std::string(e.what()), "cannot write '" + dir + "/no/such/out.h5': directory '" +
                                         dir + "/no/such' No such file or directory");
  }
}

TEST(Inspect, ListsProvenanceObjectsShapesTypesAndAttributes) {
  const std::string path = test::scratch_dir() + "/inspect.h5";
  {
    io::OutputFile out(mpi::Comm::self(), path, sample_provenance(),
                       io::OutputFile::Writers::kRank0);
    auto d = out.file().create_dataset<std::uint8_t>("/data/images", {3, 28, 28}, "dimensionless");
    io::set_attribute(d.id(), "unit", "pixel");
    out.commit();
  }
  std::ostringstream text;
  io::print_tree(path, text);
  const std::string s = text.str();
  EXPECT_NE(s.find("  git_hash         abc\n"), std::string::npos) << s;
  EXPECT_NE(s.find("    [train]\n    epochs = 2\n"), std::string::npos) << s;
  EXPECT_NE(s.find("/data/images  dataset  uint8 [3, 28, 28]\n"), std::string::npos) << s;
  EXPECT_NE(s.find("      @unit = \"pixel\"\n"), std::string::npos) << s;
  const std::string json = io::describe_file(path).dump();
  EXPECT_NE(json.find(R"({"path":"/data/images","kind":"dataset","dtype":"uint8",)"
                      R"("shape":[3,28,28],"attributes":{"unit":"pixel"}})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("ranks":1,"threads":2)"), std::string::npos) << json;
}
