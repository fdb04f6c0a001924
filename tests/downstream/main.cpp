// Uses the installed physfit: MPI environment, a collective, a parallel HDF5 file with
// provenance, and the version; prints one line that the test checks.
#include <cstdio>
#include <string>

#include "physfit/io/output_file.hpp"
#include "physfit/mpi/environment.hpp"
#include "physfit/util/partition.hpp"
#include "physfit/version.hpp"

int main(int argc, char** argv) {
  physfit::mpi::Environment env(argc, argv);
  const auto comm = env.world();
  const std::string path = argc > 1 ? argv[1] : "downstream.h5";
  const auto p = physfit::io::current_provenance(comm, "downstream", "", "now");
  const auto block = physfit::util::block_of(10, comm.size(), comm.rank());
  std::vector<double> rows(block.count, 1.0 + comm.rank());
  physfit::io::OutputFile out(comm, path, p, physfit::io::OutputFile::Writers::kAllRanks);
  out.file().create_dataset<double>("/x", {10}, "dimensionless").write_rows(block.begin, block.count, rows.data());
  out.commit();
  const int sum = comm.allreduce(1, physfit::mpi::Op::kSum);
  if (comm.is_root()) std::printf("downstream ok: physfit %s, %d ranks\n", physfit::version(), sum);
  return 0;
}
