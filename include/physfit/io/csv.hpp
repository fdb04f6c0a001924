#pragma once
/// @file
/// Numeric CSV tables: one header line of column names (or none), then one row per line of
/// numbers separated by a delimiter. Blank lines and lines starting with '#' are skipped.

#include <string>
#include <vector>

namespace physfit::io {

/// A numeric table, row-major.
struct CsvTable {
  std::vector<std::string> columns;  ///< header names, or "c0", "c1", ... without a header
  std::vector<double> values;        ///< rows() x columns.size()
  std::string path;                  ///< the file read (named in errors)
  std::int64_t rows() const {
    return columns.empty() ? 0 : static_cast<std::int64_t>(values.size() / columns.size());
  }
  /// Index of a column; throws UsageError listing the columns if absent.
  std::size_t column(const std::string& name, const std::string& option) const;
};

/// Reads a CSV file. Throws IoError naming the file, line and column for a value that is not
/// a finite number, a row with the wrong number of fields, or an empty table.
CsvTable read_csv(const std::string& path, char delimiter = ',', bool header = true);

}  // namespace physfit::io
