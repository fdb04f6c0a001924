#pragma once
// Where the force-constant tests find their data: the source tree (committed references) and
// the silicon data CTest makes once per run (fixture si_data, scripts/data/make_si.py).

#include <cstdlib>
#include <string>

namespace fc_test {

inline std::string source_dir() { return PHYSFIT_SOURCE_DIR; }

/// The folder of the silicon data ($PHYSFIT_SI_DATA, else the build's).
inline std::string si_data() {
  const char* env = std::getenv("PHYSFIT_SI_DATA");
  return env ? env : PHYSFIT_SI_DATA_DEFAULT;
}

}  // namespace fc_test
