#include "physfit/mpi/environment.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "physfit/error.hpp"

namespace physfit::mpi {
namespace {
void (*g_abort_cleanup)() noexcept = nullptr;
}  // namespace

void Environment::set_abort_cleanup(void (*cleanup)() noexcept) { g_abort_cleanup = cleanup; }

Environment::Environment(int& argc, char**& argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Query_thread(&provided_);
    return;
  }
  detail::check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided_), "MPI_Init_thread");
  owns_ = true;
}

Environment::~Environment() {
  if (!owns_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

bool Environment::active() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

void Environment::abort(int code, const std::string& message) {
  if (g_abort_cleanup != nullptr) g_abort_cleanup();
  if (!active()) {
    std::fprintf(stderr, "fatal: %s\n", message.c_str());
    std::fflush(stderr);
    std::_Exit(code);
  }
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::fprintf(stderr,
               "[rank %d] fatal: %s\n[rank %d] fatal: ending all %d ranks (MPI_Abort, code %d)\n",
               rank, message.c_str(), rank, size, code);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this is for the compiler
}

}  // namespace physfit::mpi
