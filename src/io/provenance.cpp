#include "physfit/io/provenance.hpp"

#include "physfit/error.hpp"
#include "physfit/util/clock.hpp"
#include "physfit/version.hpp"

namespace physfit::io {

Provenance current_provenance(const mpi::Comm& comm, const std::string& command,
                              const std::string& config, const std::string& start_time,
                              std::int64_t threads) {
  Provenance p;
  p.program_version = version();
  p.git_hash = git_hash();
  p.command = command;
  p.config = config;
  p.ranks = comm.size();
  p.threads = threads;
  p.start_time = start_time;
  // Rank 0's host, the same text on every rank (attribute writes must agree in parallel).
  p.host = util::host_name();
  comm.broadcast(p.host, 0);
  return p;
}

void write_provenance(const File& file, const Provenance& p) {
  Group g = file.create_group("/physfit");
  set_attribute(g.id(), "format_version", p.format_version);
  set_attribute(g.id(), "program_version", p.program_version);
  set_attribute(g.id(), "git_hash", p.git_hash);
  set_attribute(g.id(), "command", p.command);
  set_attribute(g.id(), "config", p.config);
  set_attribute(g.id(), "ranks", p.ranks);
  set_attribute(g.id(), "threads", p.threads);
  set_attribute(g.id(), "start_time", p.start_time);
  set_attribute(g.id(), "host", p.host);
}

Provenance read_provenance(const File& file) {
  if (!file.exists("/physfit")) {
    throw IoError("'" + file.path() + "' has no /physfit provenance group: not written by physfit");
  }
  Group g = file.group("/physfit");
  Provenance p;
  p.format_version = get_int_attribute(g.id(), "format_version");
  p.program_version = get_string_attribute(g.id(), "program_version");
  p.git_hash = get_string_attribute(g.id(), "git_hash");
  p.command = get_string_attribute(g.id(), "command");
  p.config = get_string_attribute(g.id(), "config");
  p.ranks = get_int_attribute(g.id(), "ranks");
  p.threads = get_int_attribute(g.id(), "threads");
  p.start_time = get_string_attribute(g.id(), "start_time");
  p.host = get_string_attribute(g.id(), "host");
  return p;
}

}  // namespace physfit::io
