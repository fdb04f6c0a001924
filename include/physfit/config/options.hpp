#pragma once
/// @file
/// Options of a subcommand, read from an INI file and the command line; the command line wins.
///
/// Boost.Program_options tokenises the command line and lays out `--help`; physfit converts
/// the values itself, so that every error names the key, the value and where it came from
/// (the file and line, or the command line), and so that the effective configuration can be
/// written back as INI text into every output file.
///
///     config::Options opts("selfcheck");
///     opts.add<long long>("rows", "rows of the test dataset").default_value(1000)
///         .check(config::positive<long long>());
///     opts.add_flag("keep", "keep the output file");
///     config::Values v = opts.parse(args, &ini);
///     long long rows = v.get<long long>("rows");

#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "physfit/config/ini.hpp"
#include "physfit/error.hpp"

namespace physfit::config {

/// A value check: returns "" if the value is acceptable, else the reason it is not.
template <class T>
using Check = std::function<std::string(const T&)>;

namespace detail {

/// Parses `text` as T; throws std::invalid_argument with the reason ("expected an integer").
template <class T>
T parse_value(const std::string& text);
/// Formats a T so that parse_value gives it back.
template <class T>
std::string format_value(const T& value);
/// A readable type name for `--help` ("int", "real", "list of real").
template <class T>
const char* type_name();

// The supported types (defined in options.cpp).
#define PHYSFIT_CONFIG_TYPE(T)                 \
  template <>                                  \
  T parse_value<T>(const std::string& text);   \
  template <>                                  \
  std::string format_value<T>(const T& value); \
  template <>                                  \
  const char* type_name<T>();
PHYSFIT_CONFIG_TYPE(bool)
PHYSFIT_CONFIG_TYPE(int)
PHYSFIT_CONFIG_TYPE(long)
PHYSFIT_CONFIG_TYPE(long long)
PHYSFIT_CONFIG_TYPE(unsigned long)
PHYSFIT_CONFIG_TYPE(unsigned long long)
PHYSFIT_CONFIG_TYPE(double)
PHYSFIT_CONFIG_TYPE(std::string)
PHYSFIT_CONFIG_TYPE(std::vector<int>)
PHYSFIT_CONFIG_TYPE(std::vector<long long>)
PHYSFIT_CONFIG_TYPE(std::vector<double>)
PHYSFIT_CONFIG_TYPE(std::vector<std::string>)
#undef PHYSFIT_CONFIG_TYPE

}  // namespace detail

/// Where a value came from.
struct Origin {
  enum class Kind { kDefault, kCommandLine, kFile };
  Kind kind = Kind::kDefault;
  std::string source;  ///< file path for kFile
  int line = 0;        ///< line in that file
  /// "default", "command line" or "inputs/x.ini:12".
  std::string describe() const;
};

/// The declaration of one option; built by Options::add and its chained setters.
class OptionSpec {
 public:
  /// Value used when neither the file nor the command line gives one.
  template <class T>
  OptionSpec& default_value(const T& value) {
    require_type(typeid(T));
    default_ = value;
    return *this;
  }
  /// Without a default, the option must be given.
  OptionSpec& required() {
    required_ = true;
    return *this;
  }
  /// Accepted on the command line only, never in a file, and not part of the effective
  /// configuration (`--help`, `--config`).
  OptionSpec& command_line_only() {
    command_line_only_ = true;
    return *this;
  }
  /// The value names a file or folder. A relative path given in an INI file is relative to
  /// that file's folder (so a configuration works from any current folder); on the command
  /// line, to the current folder. The empty text and the `keywords` (such as "auto") are kept
  /// as they are.
  OptionSpec& path(std::vector<std::string> keywords = {}) {
    path_ = true;
    path_keywords_ = std::move(keywords);
    return *this;
  }
  /// Adds a check of the value.
  template <class T>
  OptionSpec& check(Check<T> check) {
    require_type(typeid(T));
    checks_.push_back([check](const std::any& v) { return check(std::any_cast<const T&>(v)); });
    return *this;
  }

  const std::string& key() const { return key_; }
  const std::string& help() const { return help_; }
  /// The type as `--help` names it ("int", "real", "text", "true/false").
  const std::string& type_name() const { return type_name_; }
  bool is_flag() const { return flag_; }
  bool is_path() const { return path_; }
  const std::vector<std::string>& path_keywords() const { return path_keywords_; }

 private:
  friend class Options;
  friend class Values;
  void require_type(const std::type_info& type) const;

  std::string key_;
  std::string help_;
  std::string type_name_;
  const std::type_info* type_ = nullptr;
  bool flag_ = false;
  bool required_ = false;
  bool command_line_only_ = false;
  bool path_ = false;
  std::vector<std::string> path_keywords_;
  std::any default_;
  std::function<std::any(const std::string&)> parse_;
  std::function<std::string(const std::any&)> format_;
  std::vector<std::function<std::string(const std::any&)>> checks_;
};

/// The parsed values of one run, in declaration order.
class Values {
 public:
  /// True if the option has a value (given or defaulted).
  bool has(const std::string& key) const;
  /// The value; throws Error (internal) if undeclared, absent or of another type.
  template <class T>
  T get(const std::string& key) const {
    const Entry& e = entry(key);
    if (!e.value.has_value()) {
      throw Error("option '" + key + "' has no value (declare a default or make it required)");
    }
    if (e.value.type() != typeid(T)) {
      throw Error("option '" + key + "' read with the wrong type");
    }
    return std::any_cast<T>(e.value);
  }
  /// Where the value came from.
  Origin origin(const std::string& key) const;
  /// The value as text, as it would be written in an INI file ("" if absent).
  std::string text(const std::string& key) const;
  /// Every option with a value (command-line-only ones excepted) as INI text: keys without a
  /// section first, then one `[section]` block per section, in declaration order. Reading it
  /// back reproduces this run's configuration.
  std::string effective_ini() const;

 private:
  friend class Options;
  struct Entry {
    const OptionSpec* spec;
    std::any value;
    Origin origin;
  };
  const Entry& entry(const std::string& key) const;
  std::vector<Entry> entries_;
  std::vector<std::shared_ptr<OptionSpec>> specs_;  // keeps specs alive with the values
};

/// The options a subcommand accepts.
class Options {
 public:
  /// `program` names the command in messages ("physfit selfcheck").
  explicit Options(std::string program);

  /// Declares an option of type T (bool, int, long, long long, unsigned long,
  /// unsigned long long, double, std::string, or std::vector of int, long long, double or
  /// std::string written comma-separated). Keys with a dot live in an INI section:
  /// "train.epochs" is `epochs` in `[train]`, `--train.epochs` on the command line.
  template <class T>
  OptionSpec& add(const std::string& key, const std::string& help) {
    auto spec = std::make_shared<OptionSpec>();
    spec->key_ = key;
    spec->help_ = help;
    spec->type_ = &typeid(T);
    spec->type_name_ = detail::type_name<T>();
    spec->parse_ = [](const std::string& s) { return std::any(detail::parse_value<T>(s)); };
    spec->format_ = [](const std::any& v) {
      return detail::format_value<T>(std::any_cast<const T&>(v));
    };
    return insert(std::move(spec));
  }
  /// A bool switched on by `--key` on the command line (`key = true|false` in a file).
  OptionSpec& add_flag(const std::string& key, const std::string& help);
  /// The next bare command-line argument fills `key` (call in order for several).
  void positional(const std::string& key);
  /// Former spellings of keys, {old, new}: an old one, on the command line or in a file, is a
  /// usage error that names the new key. Pairs whose new key this command lacks are ignored.
  void former_names(const std::vector<std::pair<std::string, std::string>>& renames);

  /// Parses the command-line arguments (without the program and command names) and, if
  /// given, the INI entries; a key given in both takes the command-line value. Throws
  /// UsageError naming the key, the value and the file and line (or "command line").
  /// `check_required` = false skips the check of required options (a first pass over the
  /// command line alone, to find the configuration file that may hold them).
  Values parse(const std::vector<std::string>& args, const IniText* ini = nullptr,
               bool check_required = true) const;

  /// The option list as `--help` prints it.
  std::string help() const;
  bool declared(const std::string& key) const;
  const std::string& program() const { return program_; }
  /// The declared keys, in declaration order.
  std::vector<std::string> keys() const;
  /// The declaration of `key`, or null if it was never declared.
  const OptionSpec* find(const std::string& key) const;

 private:
  OptionSpec& insert(std::shared_ptr<OptionSpec> spec);
  /// The declared key `word` is probably a typo of ("" if none is close).
  std::string guess_key(const std::string& word) const;

  std::string program_;
  std::vector<std::shared_ptr<OptionSpec>> specs_;
  std::vector<std::string> positional_;
  std::vector<std::pair<std::string, std::string>> former_;
  /// "--old is now --new" for a former spelling of a declared key, else "".
  std::string renamed_message(const std::string& old, bool command_line) const;
};

/// Checks for Options::check.
template <class T>
Check<T> positive() {
  return [](const T& v) { return v > T(0) ? std::string() : std::string("must be positive"); };
}
template <class T>
Check<T> non_negative() {
  return [](const T& v) { return v >= T(0) ? std::string() : std::string("must not be negative"); };
}
template <class T>
Check<T> in_range(T lo, T hi) {
  return [lo, hi](const T& v) {
    return (v >= lo && v <= hi)
               ? std::string()
               : "must be between " + detail::format_value(lo) + " and " + detail::format_value(hi);
  };
}
/// The value must be one of `choices`.
Check<std::string> one_of(std::vector<std::string> choices);
/// Every element of a list value must be one of `choices`.
Check<std::vector<std::string>> each_one_of(std::vector<std::string> choices);

}  // namespace physfit::config
