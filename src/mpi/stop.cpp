#include "physfit/mpi/stop.hpp"

#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/signal.hpp"

namespace physfit::mpi {

int stop_agreed(const Comm& comm) { return comm.allreduce(util::stop_signal(), Op::kMax); }

void stop_point(const Comm& comm, const std::string& what) {
  const int signal = stop_agreed(comm);
  if (signal != 0) {
    throw_on_all_ranks(
        comm, StoppedError(std::string("stopped by ") + util::signal_name(signal) + " " + what));
  }
}

}  // namespace physfit::mpi
