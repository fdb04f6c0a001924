#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "../../support/mpi_test.hpp"
#include "physfit/error.hpp"
#include "physfit/io/atomic_write.hpp"
#include "physfit/io/output_paths.hpp"

using namespace physfit;

namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string usage_error_of(const std::vector<io::NamedPath>& in,
                           const std::vector<io::NamedPath>& out) {
  try {
    io::check_output_paths(in, out);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(OutputPaths, SameFileFollowsLinksAndSpellings) {
  const std::string dir = test::scratch_dir();
  const std::string a = dir + "/a.h5";
  write_text(a, "x");
  ASSERT_EQ(::link(a.c_str(), (dir + "/hard.h5").c_str()), 0);
  ASSERT_EQ(::symlink("a.h5", (dir + "/soft.h5").c_str()), 0);
  ASSERT_EQ(::mkdir((dir + "/sub").c_str(), 0755), 0);
  EXPECT_TRUE(io::same_file(a, dir + "/hard.h5"));
  EXPECT_TRUE(io::same_file(a, dir + "/soft.h5"));
  EXPECT_TRUE(io::same_file(a, dir + "/sub/../a.h5"));
  EXPECT_FALSE(io::same_file(a, dir + "/b.h5"));
  // Neither exists: the canonical paths decide (a link in the existing part is resolved).
  ASSERT_EQ(::symlink("sub", (dir + "/link-to-sub").c_str()), 0);
  EXPECT_TRUE(io::same_file(dir + "/sub/new.h5", dir + "/link-to-sub/new.h5"));
  EXPECT_TRUE(io::same_file(dir + "/./new.h5", dir + "/sub/../new.h5"));
  EXPECT_FALSE(io::same_file(dir + "/sub/new.h5", dir + "/new.h5"));
}

TEST(OutputPaths, AClashNamesBothOptionsAndThePath) {
  const std::string dir = test::scratch_dir();
  const std::string data = dir + "/data.h5";
  write_text(data, "x");
  EXPECT_EQ(usage_error_of({{"--input.data", data}}, {{"--output.file", data}}),
            "the output --output.file '" + data + "' is the input --input.data '" + data +
                "': writing it would destroy the input; give another output path");
  EXPECT_EQ(
      usage_error_of({{"--input.data", data}}, {{"--a", dir + "/o.h5"}, {"--b", dir + "/o.h5"}}),
      "the outputs --a '" + dir + "/o.h5' and --b '" + dir +
          "/o.h5' are the same file; give different paths");
  EXPECT_EQ(usage_error_of({{"--input.data", data}, {"--none", ""}}, {{"--output.file", ""}}),
            "no error");
  EXPECT_EQ(usage_error_of({{"--input.data", data}}, {{"--output.file", "/dev/null"}}),
            "cannot write --output.file '/dev/null': it is a character device; only a regular file "
            "is ever replaced: give the path of a file");
  EXPECT_NE(usage_error_of({}, {{"--output.file", dir}}).find("it is a folder"), std::string::npos);
}

TEST(StagedOutputs, FilesAreRenamedTogetherOnlyOnCommit) {
  const std::string dir = test::scratch_dir();
  const std::string a = dir + "/a.txt", b = dir + "/b.txt";
  write_text(a, "old a");
  {
    io::StagedOutputs staged;
    io::write_file_atomic(a, "new a");
    io::write_file_atomic(b, "new b");
    EXPECT_EQ(read_text(a), "old a");  // not yet
    EXPECT_FALSE(exists(b));
    ASSERT_EQ(staged.files().size(), 2u);
    EXPECT_TRUE(exists(staged.files()[1].first));
    // No commit: an error left the scope; the temporaries go, the old file stays.
  }
  EXPECT_EQ(read_text(a), "old a");
  EXPECT_FALSE(exists(b));
  EXPECT_FALSE(exists(a + ".tmp-" + std::to_string(::getpid())));
  EXPECT_FALSE(exists(b + ".tmp-" + std::to_string(::getpid())));
  {
    io::StagedOutputs staged;
    io::write_file_atomic(a, "new a");
    io::write_file_atomic(b, "new b");
    staged.commit();
  }
  EXPECT_EQ(read_text(a), "new a");
  EXPECT_EQ(read_text(b), "new b");
  io::write_file_atomic(a, "now");  // no staging: at once
  EXPECT_EQ(read_text(a), "now");
}

TEST(StagedOutputs, OnlyARegularFileIsReplaced) {
  // A FIFO here (a device would be the same check; a failing test must not replace /dev/null).
  const std::string fifo = test::scratch_dir() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_THROW(io::write_file_atomic(fifo, "x"), UsageError);
  struct stat st {};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_FALSE(exists(fifo + ".tmp-" + std::to_string(::getpid())));
}
