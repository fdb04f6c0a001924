#include "physfit/mpi/stop.hpp"

#include "physfit/util/signal.hpp"

namespace physfit::mpi {

int stop_agreed(const Comm& comm) { return comm.allreduce(util::stop_signal(), Op::kMax); }

}  // namespace physfit::mpi
