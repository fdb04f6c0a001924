#include "mpi_test.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace physfit::test {

std::string scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const char* root_env = std::getenv("PHYSFIT_TEST_SCRATCH");
  const std::string root = root_env && *root_env ? root_env : "/tmp/physfit-tests";
  const mpi::Comm comm = world();
  std::string path;
  if (comm.is_root()) {
    path = root + "/" + (info ? std::string(info->test_suite_name()) + "." + info->name() : "x") +
           ".np" + std::to_string(comm.size()) + "." + std::to_string(::getpid());
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  comm.broadcast(path, 0);
  return path;
}

int run_command(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace physfit::test
