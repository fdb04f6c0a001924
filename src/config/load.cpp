#include "physfit/config/load.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "physfit/error.hpp"
#include "physfit/mpi/guard.hpp"

namespace physfit::config {

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {  // ifstream opens a folder and reads nothing
    throw UsageError("cannot read configuration file '" + path +
                     "': it is a folder; give the INI file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UsageError("cannot read configuration file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw UsageError("error while reading configuration file '" + path + "'");
  return text.str();
}

IniText load_ini(const mpi::Comm& comm, const std::string& path) {
  std::string text;
  mpi::guarded(comm, [&] {
    if (comm.is_root()) text = read_text_file(path);
  });
  comm.broadcast(text, 0);
  return mpi::guarded(comm, [&] { return parse_ini(text, path); });
}

}  // namespace physfit::config
