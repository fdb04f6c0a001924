#pragma once
/// @file
/// A JSON value for the one-line summaries every subcommand prints with `--json` and for
/// `physfit inspect --json`. Objects keep their keys in insertion order.
///
/// The value is stored, escaped and written by nlohmann-json (Debian nlohmann-json3-dev,
/// `nlohmann::ordered_json`), which stays out of this installed header (pointer to
/// implementation): a program that uses physfit needs no nlohmann-json. What is written:
///  - doubles in the shortest form that reads back as the same double (so `0.1` is `0.1`, and
///    a whole double keeps a decimal point: `2.0`, not `2`); integers exactly (64 bits, signed
///    or unsigned);
///  - NaN and infinities as `null` (JSON has no such numbers: the output stays valid JSON, and
///    a reader sees "no value" rather than a made-up number);
///  - strings escaped as JSON requires; bytes that are not UTF-8 (a path in Latin-1, say)
///    replaced by U+FFFD, so that the line is still valid JSON.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace physfit::util {

namespace detail {
struct JsonValue;  // holds the nlohmann::ordered_json (json.cpp)
}

/// A JSON value (null, bool, integer, double, string, array or object) with value semantics.
class Json {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  class Member;

  Json();  ///< null
  Json(std::nullptr_t);
  Json(bool value);
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Json(T value)
      : Json(std::is_signed_v<T> ? Integer::kSigned : Integer::kUnsigned,
             static_cast<std::uint64_t>(value)) {}
  Json(double value);
  Json(float value) : Json(static_cast<double>(value)) {}
  Json(const char* value);
  Json(std::string value);
  Json(const Json& other);
  Json(Json&& other) noexcept;
  Json& operator=(const Json& other);
  Json& operator=(Json&& other) noexcept;
  ~Json();

  static Json object();
  static Json array();
  template <class T>
  static Json array(const std::vector<T>& values) {
    Json j = array();
    for (const auto& v : values) j.push_back(Json(v));
    return j;
  }

  Type type() const;
  /// Object member `key`, created (null) if absent, at the end; a null value becomes an object.
  /// The result refers to this value by its key path (assign to it, index it further, append
  /// to it); it stays valid while this value lives, whatever else is added.
  Member operator[](const std::string& key);
  /// A copy of object member `key`; nullopt if absent or if this is not an object.
  std::optional<Json> find(const std::string& key) const;
  /// Appends to an array; a null value becomes an array.
  void push_back(Json value);
  /// Members of an object, elements of an array; 0 otherwise.
  std::size_t size() const;

  /// Compact, one-line JSON (see the file comment for numbers, NaN and strings).
  std::string dump() const;

 private:
  enum class Integer { kSigned, kUnsigned };
  Json(Integer kind, std::uint64_t bits);  // a signed value as its two's complement bits
  detail::JsonValue& value();

  std::unique_ptr<detail::JsonValue> value_;  // null pointer: a JSON null (moved-from)
};

/// A member of a Json object, named by its key path from the root value.
class Json::Member {
 public:
  Member(const Member&) = default;
  /// Replaces the member's value (an existing key keeps its position).
  Member& operator=(Json value);
  Member& operator=(const Member& other) { return *this = other.get(); }
  Member operator[](const std::string& key) const;
  void push_back(Json value) const;
  /// A copy of the member's value.
  Json get() const;
  Type type() const { return get().type(); }
  std::size_t size() const { return get().size(); }

 private:
  friend class Json;
  Member(Json& root, std::vector<std::string> path);

  Json* root_;
  std::vector<std::string> path_;
};

/// `text` as a quoted, escaped JSON string (non-UTF-8 bytes replaced by U+FFFD).
std::string json_quote(const std::string& text);

}  // namespace physfit::util
