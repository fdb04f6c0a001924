#include "physfit/config/options.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

#include "physfit/util/strings.hpp"

namespace po = boost::program_options;

namespace physfit::config {
namespace detail {
namespace {

long long parse_integer(const std::string& text, long long lo, long long hi) {
  const std::string t = util::trim(text);
  if (t.empty()) throw std::invalid_argument("expected an integer, got nothing");
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (*end != '\0') throw std::invalid_argument("expected an integer");
  if (errno == ERANGE || v < lo || v > hi) {
    throw std::invalid_argument("integer out of range [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  }
  return v;
}

unsigned long long parse_unsigned(const std::string& text, unsigned long long hi) {
  const std::string t = util::trim(text);
  if (t.empty() || t[0] == '-') throw std::invalid_argument("expected a non-negative integer");
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(t.c_str(), &end, 10);
  if (*end != '\0') throw std::invalid_argument("expected a non-negative integer");
  if (errno == ERANGE || v > hi) throw std::invalid_argument("integer out of range");
  return v;
}

template <class T>
std::vector<T> parse_list(const std::string& text) {
  std::vector<T> out;
  if (util::trim(text).empty()) return out;
  for (const auto& piece : util::split(text, ',')) {
    try {
      out.push_back(parse_value<T>(piece));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(e.what()) + " in list item '" + piece + "'");
    }
  }
  return out;
}

template <class T>
std::string format_list(const std::vector<T>& values) {
  std::vector<std::string> pieces;
  for (const auto& v : values) pieces.push_back(format_value(v));
  return util::join(pieces, ", ");
}

}  // namespace

template <>
bool parse_value<bool>(const std::string& text) {
  const std::string t = util::to_lower(util::trim(text));
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  throw std::invalid_argument("expected true or false");
}
template <>
int parse_value<int>(const std::string& text) {
  return static_cast<int>(parse_integer(text, INT_MIN, INT_MAX));
}
template <>
long parse_value<long>(const std::string& text) {
  return static_cast<long>(parse_integer(text, LONG_MIN, LONG_MAX));
}
template <>
long long parse_value<long long>(const std::string& text) {
  return parse_integer(text, LLONG_MIN, LLONG_MAX);
}
template <>
unsigned long parse_value<unsigned long>(const std::string& text) {
  return static_cast<unsigned long>(parse_unsigned(text, ULONG_MAX));
}
template <>
unsigned long long parse_value<unsigned long long>(const std::string& text) {
  return parse_unsigned(text, ULLONG_MAX);
}
template <>
double parse_value<double>(const std::string& text) {
  const std::string t = util::trim(text);
  if (t.empty()) throw std::invalid_argument("expected a number, got nothing");
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (*end != '\0') throw std::invalid_argument("expected a number");
  if (!std::isfinite(v) || errno == ERANGE) {
    throw std::invalid_argument("expected a finite number");
  }
  return v;
}
template <>
std::string parse_value<std::string>(const std::string& text) {
  return text;
}
template <>
std::vector<int> parse_value<std::vector<int>>(const std::string& text) {
  return parse_list<int>(text);
}
template <>
std::vector<long long> parse_value<std::vector<long long>>(const std::string& text) {
  return parse_list<long long>(text);
}
template <>
std::vector<double> parse_value<std::vector<double>>(const std::string& text) {
  return parse_list<double>(text);
}
template <>
std::vector<std::string> parse_value<std::vector<std::string>>(const std::string& text) {
  return parse_list<std::string>(text);
}

template <>
std::string format_value<bool>(const bool& v) {
  return v ? "true" : "false";
}
template <>
std::string format_value<int>(const int& v) {
  return std::to_string(v);
}
template <>
std::string format_value<long>(const long& v) {
  return std::to_string(v);
}
template <>
std::string format_value<long long>(const long long& v) {
  return std::to_string(v);
}
template <>
std::string format_value<unsigned long>(const unsigned long& v) {
  return std::to_string(v);
}
template <>
std::string format_value<unsigned long long>(const unsigned long long& v) {
  return std::to_string(v);
}
template <>
std::string format_value<double>(const double& v) {
  // The shortest text that reads back as the same double.
  char buffer[40];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v) break;
  }
  return buffer;
}
template <>
std::string format_value<std::string>(const std::string& v) {
  return v;
}
template <>
std::string format_value<std::vector<int>>(const std::vector<int>& v) {
  return format_list(v);
}
template <>
std::string format_value<std::vector<long long>>(const std::vector<long long>& v) {
  return format_list(v);
}
template <>
std::string format_value<std::vector<double>>(const std::vector<double>& v) {
  return format_list(v);
}
template <>
std::string format_value<std::vector<std::string>>(const std::vector<std::string>& v) {
  return format_list(v);
}

template <>
const char* type_name<bool>() {
  return "bool";
}
template <>
const char* type_name<int>() {
  return "int";
}
template <>
const char* type_name<long>() {
  return "int";
}
template <>
const char* type_name<long long>() {
  return "int";
}
template <>
const char* type_name<unsigned long>() {
  return "count";
}
template <>
const char* type_name<unsigned long long>() {
  return "count";
}
template <>
const char* type_name<double>() {
  return "real";
}
template <>
const char* type_name<std::string>() {
  return "text";
}
template <>
const char* type_name<std::vector<int>>() {
  return "int,...";
}
template <>
const char* type_name<std::vector<long long>>() {
  return "int,...";
}
template <>
const char* type_name<std::vector<double>>() {
  return "real,...";
}
template <>
const char* type_name<std::vector<std::string>>() {
  return "text,...";
}

}  // namespace detail

std::string Origin::describe() const {
  switch (kind) {
    case Kind::kDefault:
      return "default";
    case Kind::kCommandLine:
      return "command line";
    case Kind::kFile:
      return source + ":" + std::to_string(line);
  }
  return "default";
}

void OptionSpec::require_type(const std::type_info& type) const {
  if (type != *type_) {
    throw Error("option '" + key_ + "' declared as " + type_name_ +
                " but given a default or check of another type");
  }
}

bool Values::has(const std::string& key) const { return entry(key).value.has_value(); }

Origin Values::origin(const std::string& key) const { return entry(key).origin; }

std::string Values::text(const std::string& key) const {
  const Entry& e = entry(key);
  return e.value.has_value() ? e.spec->format_(e.value) : std::string();
}

const Values::Entry& Values::entry(const std::string& key) const {
  for (const auto& e : entries_) {
    if (e.spec->key_ == key) return e;
  }
  throw Error("option '" + key + "' was never declared");
}

std::string Values::effective_ini() const {
  // Keys without a section first (INI has no way back to the top level after a header).
  std::vector<std::string> sections{""};
  for (const auto& e : entries_) {
    const auto dot = e.spec->key_.rfind('.');
    const std::string section = dot == std::string::npos ? "" : e.spec->key_.substr(0, dot);
    bool known = false;
    for (const auto& s : sections) known = known || s == section;
    if (!known) sections.push_back(section);
  }
  std::ostringstream out;
  for (const auto& section : sections) {
    bool header = false;
    for (const auto& e : entries_) {
      if (e.spec->command_line_only_ || !e.value.has_value()) continue;
      const auto dot = e.spec->key_.rfind('.');
      const std::string s = dot == std::string::npos ? "" : e.spec->key_.substr(0, dot);
      if (s != section) continue;
      if (!header && !section.empty()) {
        out << "\n[" << section << "]\n";
      }
      header = true;
      const std::string name =
          dot == std::string::npos ? e.spec->key_ : e.spec->key_.substr(dot + 1);
      out << name << " = " << e.spec->format_(e.value) << "\n";
    }
  }
  return out.str();
}

Options::Options(std::string program) : program_(std::move(program)) {}

OptionSpec& Options::insert(std::shared_ptr<OptionSpec> spec) {
  if (find(spec->key_)) throw Error("option '" + spec->key_ + "' declared twice");
  specs_.push_back(std::move(spec));
  return *specs_.back();
}

OptionSpec& Options::add_flag(const std::string& key, const std::string& help) {
  OptionSpec& spec = add<bool>(key, help);
  spec.flag_ = true;
  spec.default_ = false;
  return spec;
}

void Options::former_names(const std::vector<std::pair<std::string, std::string>>& renames) {
  for (const auto& r : renames) {
    if (find(r.second) && !find(r.first)) former_.push_back(r);
  }
}

std::string Options::renamed_message(const std::string& old, bool command_line) const {
  for (const auto& [before, now] : former_) {
    if (before != old) continue;
    if (command_line) {
      return "unknown option '--" + old + "' for '" + program_ +
             "': it was renamed (did you mean '--" + now + "'?)";
    }
    const auto dot = now.find('.');
    const std::string place =
        dot == std::string::npos
            ? "'" + now + "' before any section"
            : "'" + now.substr(dot + 1) + "' in section [" + now.substr(0, dot) + "]";
    return "unknown key '" + old + "' for '" + program_ + "': it was renamed (did you mean " +
           place + "?)";
  }
  return "";
}

void Options::positional(const std::string& key) {
  if (!find(key)) throw Error("positional option '" + key + "' was never declared");
  positional_.push_back(key);
}

bool Options::declared(const std::string& key) const { return find(key) != nullptr; }

const OptionSpec* Options::find(const std::string& key) const {
  for (const auto& s : specs_) {
    if (s->key_ == key) return s.get();
  }
  return nullptr;
}

std::string Options::guess_key(const std::string& word) const {
  const std::vector<std::string> all = keys();
  std::string guess = util::closest_match(word, all);
  if (!guess.empty() || word.find('.') != std::string::npos) return guess;
  // A key typed without its section ("--row" for "--check.rows"): match the part after the
  // dot, when one key alone matches.
  std::vector<std::string> names;
  for (const auto& k : all) names.push_back(k.substr(k.find('.') + 1));
  const std::string name = util::closest_match(word, names);
  if (name.empty()) return "";
  std::string only;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (names[i] != name) continue;
    if (!only.empty()) return "";  // ambiguous (output.file, input.file)
    only = all[i];
  }
  return only;
}

std::vector<std::string> Options::keys() const {
  std::vector<std::string> keys;
  for (const auto& s : specs_) keys.push_back(s->key_);
  return keys;
}

namespace {

// The option table Boost parses the command line with: every value arrives as text and is
// converted by the spec's own codec, so errors can name the key and the value.
po::options_description describe(const std::vector<std::shared_ptr<OptionSpec>>& specs,
                                 const std::string& caption) {
  po::options_description desc(caption);
  for (const auto& s : specs) {
    auto* semantic = po::value<std::string>();
    if (s->is_flag()) semantic->zero_tokens();
    desc.add_options()(s->key().c_str(), semantic, "");
  }
  return desc;
}

// A path value of an INI file, relative to the file's folder.
std::string one_relative_to_file(const OptionSpec& spec, const std::string& text,
                                 const std::string& source) {
  if (text.empty()) return text;
  for (const auto& k : spec.path_keywords()) {
    if (text == k) return text;
  }
  const std::filesystem::path p(text);
  if (p.is_absolute()) return text;
  const std::filesystem::path folder = std::filesystem::path(source).parent_path();
  if (folder.empty()) return text;
  return (folder / p).lexically_normal().string();
}

// The same for a list of paths (a comma-separated std::vector<std::string>): each item.
std::string relative_to_file(const OptionSpec& spec, const std::string& text,
                             const std::string& source, bool list) {
  if (!spec.is_path() || text.empty()) return text;
  if (!list) return one_relative_to_file(spec, text, source);
  std::vector<std::string> items;
  for (const auto& piece : util::split(text, ',')) {
    items.push_back(one_relative_to_file(spec, util::trim(piece), source));
  }
  return util::join(items, ", ");
}

}  // namespace

Values Options::parse(const std::vector<std::string>& args, const IniText* ini,
                      bool check_required) const {
  Values values;
  values.specs_ = specs_;
  for (const auto& s : specs_) {
    values.entries_.push_back({s.get(), s->default_, Origin{}});
  }
  auto slot = [&](const std::string& key) -> Values::Entry& {
    for (auto& e : values.entries_) {
      if (e.spec->key_ == key) return e;
    }
    throw Error("option '" + key + "' was never declared");
  };
  auto assign = [&](const OptionSpec& spec, const std::string& text, const Origin& origin,
                    const std::string& where) {
    std::any value;
    try {
      value = spec.parse_(text);
    } catch (const std::invalid_argument& e) {
      throw UsageError(where + ": bad value '" + text + "' for " + spec.key_ + ": " + e.what());
    }
    for (const auto& check : spec.checks_) {
      const std::string reason = check(value);
      if (!reason.empty()) {
        throw UsageError(where + ": bad value '" + text + "' for " + spec.key_ + ": " + reason);
      }
    }
    Values::Entry& e = slot(spec.key_);
    e.value = std::move(value);
    e.origin = origin;
  };

  // Command line.
  std::map<std::string, bool> from_command_line;
  {
    po::options_description desc = describe(specs_, program_);
    po::positional_options_description pos;
    for (const auto& key : positional_) pos.add(key.c_str(), 1);
    po::parsed_options parsed(&desc);
    try {
      const int style =
          po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
      parsed = po::command_line_parser(args).options(desc).positional(pos).style(style).run();
    } catch (const po::unknown_option& e) {
      std::string name = e.get_option_name();
      std::string bare = name;
      while (!bare.empty() && bare.front() == '-') bare.erase(0, 1);
      if (const std::string renamed = renamed_message(bare, true); !renamed.empty()) {
        throw UsageError(renamed + "; see '" + program_ + " --help'");
      }
      const std::string guess = guess_key(bare);
      throw UsageError("unknown option '" + name + "' for '" + program_ + "'" +
                       (guess.empty() ? "" : " (did you mean '--" + guess + "'?)") + "; see '" +
                       program_ + " --help'");
    } catch (const po::too_many_positional_options_error&) {
      throw UsageError("too many arguments for '" + program_ + "'; see '" + program_ + " --help'");
    } catch (const po::error& e) {
      throw UsageError("command line of '" + program_ + "': " + e.what());
    }
    for (const auto& option : parsed.options) {
      const OptionSpec* spec = find(option.string_key);
      if (!spec) throw UsageError("unknown argument '" + option.string_key + "'");
      if (from_command_line.count(spec->key_)) {
        throw UsageError("option '--" + spec->key_ + "' is given twice on the command line");
      }
      from_command_line[spec->key_] = true;
      std::string text = option.value.empty() ? std::string("true") : option.value.front();
      if (spec->flag_ && option.value.empty()) text = "true";
      Origin origin{Origin::Kind::kCommandLine, "", 0};
      assign(*spec, text, origin, "command line");
    }
  }

  // File: every entry is checked, the command line keeps precedence.
  if (ini) {
    for (const auto& entry : ini->entries) {
      const OptionSpec* spec = find(entry.key);
      const std::string where = ini->source + ":" + std::to_string(entry.line);
      if (!spec) {
        if (const std::string renamed = renamed_message(entry.key, false); !renamed.empty()) {
          throw UsageError(where + ": " + renamed + "; see '" + program_ + " --help'");
        }
        const std::string guess = guess_key(entry.key);
        throw UsageError(where + ": unknown key '" + entry.key + "'" +
                         (guess.empty() ? "" : " (did you mean '" + guess + "'?)") + "; see '" +
                         program_ + " --help' for the keys it accepts");
      }
      if (spec->command_line_only_) {
        throw UsageError(where + ": key '" + entry.key + "' can only be given on the command line");
      }
      if (from_command_line.count(spec->key_)) {
        // Validate the file's value anyway: a broken file is an error even when overridden.
        Values::Entry saved = slot(spec->key_);
        assign(*spec, entry.value, Origin{}, where);
        slot(spec->key_) = saved;
        continue;
      }
      assign(*spec,
             relative_to_file(*spec, entry.value, ini->source,
                              spec->type_ == &typeid(std::vector<std::string>)),
             Origin{Origin::Kind::kFile, ini->source, entry.line}, where);
    }
  }

  for (const auto& e : values.entries_) {
    if (check_required && e.spec->required_ && !e.value.has_value()) {
      throw UsageError(
          "missing required option '" + e.spec->key_ + "' for '" + program_ + "': give it " +
          (e.spec->command_line_only_ ? std::string("on the command line")
                                      : "in the configuration file or as --" + e.spec->key_) +
          "; see '" + program_ + " --help'");
    }
  }
  return values;
}

std::string Options::help() const {
  po::options_description desc("Options", 100, 44);
  for (const auto& s : specs_) {
    std::string help = s->help_;
    if (s->default_.has_value() && !s->flag_) {
      help += " (default: " + s->format_(s->default_) + ")";
    } else if (s->required_) {
      help += " (required)";
    }
    if (s->command_line_only_) help += " [command line only]";
    auto* semantic = po::value<std::string>();
    if (s->flag_) {
      semantic->zero_tokens();
    } else {
      semantic->value_name("<" + s->type_name_ + ">");
    }
    desc.add_options()(s->key_.c_str(), semantic, help.c_str());
  }
  std::ostringstream out;
  out << desc;
  return out.str();
}

Check<std::string> one_of(std::vector<std::string> choices) {
  return [choices](const std::string& v) {
    for (const auto& c : choices) {
      if (c == v) return std::string();
    }
    return "must be one of: " + util::join(choices, ", ");
  };
}

Check<std::vector<std::string>> each_one_of(std::vector<std::string> choices) {
  return [choices](const std::vector<std::string>& values) {
    for (const auto& v : values) {
      if (std::find(choices.begin(), choices.end(), v) == choices.end()) {
        return "'" + v + "' is not one of: " + util::join(choices, ", ");
      }
    }
    return std::string();
  };
}

}  // namespace physfit::config
