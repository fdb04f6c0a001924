#include "physfit/io/csv.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "physfit/error.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::io {

std::size_t CsvTable::column(const std::string& name, const std::string& option) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return i;
  }
  const std::string guess = util::closest_match(name, columns);
  throw UsageError("bad value '" + name + "' for " + option + ": no such column in '" + path + "'" +
                   (guess.empty() ? "" : " (did you mean '" + guess + "'?)") +
                   "; the columns are " + util::join(columns, ", "));
}

CsvTable read_csv(const std::string& path, char delimiter, bool header) {
  std::ifstream in(path);
  if (!in) {
    throw IoError("cannot open CSV file '" + path + "': " + std::strerror(errno));
  }
  CsvTable t;
  t.path = path;
  std::string line;
  int number = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string trimmed = util::trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    std::vector<std::string> fields = util::split(trimmed, delimiter);
    if (first) {
      first = false;
      if (header) {
        for (auto& f : fields) {
          if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
        }
        t.columns = fields;
        continue;
      }
      for (std::size_t i = 0; i < fields.size(); ++i) t.columns.push_back("c" + std::to_string(i));
    }
    if (fields.size() != t.columns.size()) {
      throw IoError(path + ":" + std::to_string(number) + ": " + std::to_string(fields.size()) +
                    " fields, expected " + std::to_string(t.columns.size()) +
                    " (one per column of the header); check the delimiter ('" +
                    std::string(1, delimiter) + "')");
    }
    for (std::size_t c = 0; c < fields.size(); ++c) {
      const std::string& f = fields[c];
      char* end = nullptr;
      errno = 0;
      const double v = f.empty() ? 0.0 : std::strtod(f.c_str(), &end);
      if (f.empty() || end != f.c_str() + f.size() || !std::isfinite(v)) {
        throw IoError(path + ":" + std::to_string(number) + ": column '" + t.columns[c] +
                      "': bad value '" + f + "': expected a finite number");
      }
      t.values.push_back(v);
    }
  }
  if (t.values.empty()) {
    throw IoError("'" + path + "' has no data rows" + (header ? " after its header" : ""));
  }
  return t;
}

}  // namespace physfit::io
