#include "physfit/config/ini.hpp"

#include <cctype>
#include <map>
#include <sstream>

#include "physfit/error.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::config {
namespace {

std::string strip_comment(const std::string& line) {
  // A comment starts at # or ; at the start of the line or after white space.
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((line[i] == '#' || line[i] == ';') &&
        (i == 0 || std::isspace(static_cast<unsigned char>(line[i - 1])))) {
      return line.substr(0, i);
    }
  }
  return line;
}

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

IniText parse_ini(const std::string& text, const std::string& source) {
  IniText ini;
  ini.source = source;
  ini.text = text;
  std::map<std::string, int> seen;
  std::string section;
  std::istringstream in(text);
  std::string raw;
  int line_number = 0;
  auto fail = [&](const std::string& what) {
    throw UsageError(source + ":" + std::to_string(line_number) + ": " + what);
  };
  while (std::getline(in, raw)) {
    ++line_number;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::string line = util::trim(strip_comment(raw));
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') fail("malformed section header '" + line + "': expected [name]");
      section = util::trim(line.substr(1, line.size() - 2));
      if (!valid_name(section)) fail("bad section name '" + section + "'");
      continue;
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string::npos) {
      fail("malformed line '" + line + "': expected 'key = value' or '[section]'");
    }
    const std::string name = util::trim(line.substr(0, eq));
    std::string value = util::trim(line.substr(eq + 1));
    if (!valid_name(name)) fail("bad key '" + name + "' (letters, digits, _ - . only)");
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    const std::string key = section.empty() ? name : section + "." + name;
    const auto [it, inserted] = seen.emplace(key, line_number);
    if (!inserted) {
      fail("key '" + key + "' is given twice (first on line " + std::to_string(it->second) + ")");
    }
    ini.entries.push_back({key, value, line_number});
  }
  return ini;
}

}  // namespace physfit::config
