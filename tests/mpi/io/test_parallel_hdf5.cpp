#include <gtest/gtest.h>
#include <unistd.h>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/io/provenance.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/partition.hpp"

using namespace physfit;

namespace {

// Value of element (row, i, j) of the test cube.
double cube(std::int64_t row, std::int64_t i, std::int64_t j) { return row * 100 + i * 10 + j; }

// Rank 0 writes a [rows, 3, 2] cube with the POSIX driver.
std::string write_cube(const mpi::Comm& c, std::int64_t rows) {
  const std::string path = test::scratch_dir() + "/cube.h5";
  if (c.is_root()) {
    std::vector<double> v;
    for (std::int64_t r = 0; r < rows; ++r)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j) v.push_back(cube(r, i, j));
    io::File f = io::File::create(path);
    f.create_dataset<double>("/cube", {rows, 3, 2}, "dimensionless").write_rows(0, rows, v.data());
  }
  c.barrier();
  return path;
}

void expect_block(const std::vector<double>& got, const util::Block& b) {
  ASSERT_EQ(got.size(), static_cast<std::size_t>(b.count * 6));
  for (std::int64_t r = 0; r < b.count; ++r)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 2; ++j) EXPECT_EQ(got[(r * 3 + i) * 2 + j], cube(b.begin + r, i, j));
}

}  // namespace

TEST(RowBlocks, EachRankReadsOnlyItsOwnUnevenBlockOfTenRows) {
  const mpi::Comm c = test::world();
  const std::string path = write_cube(c, 10);
  io::File f = io::File::open(c, path);
  const io::Dataset d = f.dataset("/cube");
  const util::Block mine = util::block_of(d.rows(), c.size(), c.rank());
  if (c.size() == 3) {
    const std::int64_t expected[3][2] = {{0, 4}, {4, 3}, {7, 3}};
    EXPECT_EQ(mine.begin, expected[c.rank()][0]);
    EXPECT_EQ(mine.count, expected[c.rank()][1]);
  }
  expect_block(d.read_rows<double>(mine.begin, mine.count), mine);
  EXPECT_EQ(c.allreduce(mine.count, mpi::Op::kSum), 10);
}

TEST(RowBlocks, RanksWithoutRowsStillTakePartInCollectiveReads) {
  const mpi::Comm c = test::world();
  const std::string path = write_cube(c, 2);  // fewer rows than ranks at 3 and 4
  io::File f = io::File::open(c, path);
  const io::Dataset d = f.dataset("/cube");
  const util::Block mine = util::block_of(2, c.size(), c.rank());
  expect_block(d.read_rows<double>(mine.begin, mine.count), mine);
}

TEST(RowBlocks, CollectiveWritesOfBlocksReadBackWhole) {
  const mpi::Comm c = test::world();
  const std::string path = test::scratch_dir() + "/written.h5";
  const std::int64_t rows = 11;
  const util::Block mine = util::block_of(rows, c.size(), c.rank());
  std::vector<double> local;
  for (std::int64_t r = mine.begin; r < mine.end(); ++r)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 2; ++j) local.push_back(cube(r, i, j));
  {
    io::File f = io::File::create(c, path);
    f.create_dataset<double>("/cube", {rows, 3, 2}, "dimensionless")
        .write_rows(mine.begin, mine.count, local.data());
    f.close();
  }
  if (c.is_root()) {
    io::File f = io::File::open(path);
    expect_block(f.dataset("/cube").read_all<double>(), util::Block{0, rows});
  }
}

TEST(RowBlocks, AMissingFileIsTheSameErrorOnEveryRank) {
  const mpi::Comm c = test::world();
  const std::string path = test::scratch_dir() + "/absent.h5";
  try {
    io::File::open(c, path);
    FAIL() << "no exception";
  } catch (const mpi::CollectiveError& e) {
    EXPECT_EQ(e.code(), ExitCode::kIo);
    EXPECT_EQ(std::string(e.what()),
              "cannot open HDF5 file '" + path + "': No such file or directory");
  }
}

TEST(ParallelOutput, AllRanksWriteOneFileThatAppearsOnlyOnCommit) {
  const mpi::Comm c = test::world();
  const std::string path = test::scratch_dir() + "/out.h5";
  io::Provenance p = io::current_provenance(c, "test", "x = 1\n", "2026-11-25T00:00:00Z", 1);
  const util::Block mine = util::block_of(7, c.size(), c.rank());
  std::string temporary;
  {
    io::OutputFile out(c, path, p, io::OutputFile::Writers::kAllRanks);
    temporary = out.temporary_path();
    EXPECT_TRUE(out.writes_here());
    std::vector<std::int64_t> ids(mine.count);
    for (std::int64_t i = 0; i < mine.count; ++i) ids[i] = mine.begin + i;
    out.file()
        .create_dataset<std::int64_t>("/ids", {7}, "dimensionless")
        .write_rows(mine.begin, mine.count, ids.data());
    c.barrier();
    EXPECT_EQ(access(path.c_str(), F_OK), -1);
    out.commit();
  }
  c.barrier();
  EXPECT_EQ(access(temporary.c_str(), F_OK), -1);
  io::File f = io::File::open(c, path);
  EXPECT_EQ(f.dataset("/ids").read_all<std::int64_t>(),
            (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
  const io::Provenance back = io::read_provenance(f);
  EXPECT_EQ(back.ranks, c.size());
  EXPECT_EQ(back.config, "x = 1\n");
}

TEST(ParallelOutput, ACollectiveFailureRemovesTheTemporaryAndKeepsThePreviousFile) {
  const mpi::Comm c = test::world();
  const std::string path = test::scratch_dir() + "/out.h5";
  const io::Provenance p = io::current_provenance(c, "test", "", "now", 1);
  {
    io::OutputFile out(c, path, p, io::OutputFile::Writers::kRank0);
    if (out.writes_here()) {
      out.file()
          .create_dataset<int>("/v", {1}, "dimensionless")
          .write_rows(0, 1, std::vector<int>{1}.data());
    }
    out.commit();
  }
  std::string temporary;
  try {
    io::OutputFile out(c, path, p, io::OutputFile::Writers::kAllRanks);
    temporary = out.temporary_path();
    out.file().create_dataset<int>("/v", {1}, "dimensionless").write_all(std::vector<int>{2});
    mpi::guarded(c, [&] {
      if (c.rank() == c.size() - 1) throw NumericalError("diverged");
    });
    out.commit();
    FAIL() << "no exception";
  } catch (const mpi::CollectiveError& e) {
    EXPECT_EQ(e.code(), ExitCode::kNumerical);
  }
  c.barrier();
  EXPECT_EQ(access(temporary.c_str(), F_OK), -1);
  if (c.is_root()) {
    EXPECT_EQ(io::File::open(path).dataset("/v").read_all<int>(), std::vector<int>{1});
  }
}
