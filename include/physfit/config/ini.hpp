#pragma once
/// @file
/// INI text as physfit reads it: `[section]` headers, `key = value` lines, `#` or `;`
/// comments (whole lines, or after white space at the end of a line), blank lines. A key in
/// section `[train]` is called `train.epochs`. Values may be wrapped in double quotes.

#include <string>
#include <vector>

namespace physfit::config {

/// One `key = value` line.
struct IniEntry {
  std::string key;    ///< "section.key", or "key" before any section
  std::string value;  ///< trimmed, quotes removed
  int line = 0;       ///< 1-based line number in the source
};

/// A parsed INI text and where it came from (a file path, for messages).
struct IniText {
  std::string source;
  std::string text;
  std::vector<IniEntry> entries;
};

/// Parses INI text. Throws UsageError naming the source and line for a malformed line, an
/// empty key or a key given twice.
IniText parse_ini(const std::string& text, const std::string& source);

}  // namespace physfit::config
