#pragma once
/// @file
/// A small JSON value for the one-line summaries every subcommand prints with `--json`.
/// Objects keep their keys in insertion order. Writing only: physfit never parses JSON.

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace physfit::util {

class Json {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kArray, kObject };

  Json() = default;  ///< null
  Json(std::nullptr_t) {}
  Json(bool value) : type_(Type::kBool), bool_(value) {}
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Json(T value) : type_(Type::kInt), int_(static_cast<std::int64_t>(value)) {}
  Json(double value) : type_(Type::kDouble), double_(value) {}
  Json(float value) : type_(Type::kDouble), double_(value) {}
  Json(const char* value) : type_(Type::kString), string_(value) {}
  Json(std::string value) : type_(Type::kString), string_(std::move(value)) {}

  static Json object() {
    Json j;
    j.type_ = Type::kObject;
    return j;
  }
  static Json array() {
    Json j;
    j.type_ = Type::kArray;
    return j;
  }
  template <class T>
  static Json array(const std::vector<T>& values) {
    Json j = array();
    for (const auto& v : values) j.push_back(Json(v));
    return j;
  }

  Type type() const { return type_; }
  /// Object member, created (null) if absent; a null value becomes an object.
  Json& operator[](const std::string& key);
  /// Object member lookup; nullptr if absent or not an object.
  const Json* find(const std::string& key) const;
  /// Appends to an array; a null value becomes an array.
  void push_back(Json value);
  std::size_t size() const { return type_ == Type::kObject ? keys_.size() : items_.size(); }

  /// Compact, one-line JSON. Non-finite doubles are written as null.
  std::string dump() const;

 private:
  void dump_to(std::string& out) const;

  Type type_ = Type::kNull;
  bool bool_ = false;
  std::int64_t int_ = 0;
  double double_ = 0.0;
  std::string string_;
  std::vector<std::string> keys_;
  std::vector<Json> items_;
};

/// `text` as a quoted, escaped JSON string.
std::string json_quote(const std::string& text);

}  // namespace physfit::util
