#include "physfit/util/json.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

namespace physfit::util {

namespace detail {
struct JsonValue {
  nlohmann::ordered_json j;
};
}  // namespace detail

namespace {

using nlohmann::ordered_json;

const ordered_json& value_of(const std::unique_ptr<detail::JsonValue>& v) {
  static const ordered_json null_value;
  return v ? v->j : null_value;
}

std::string dump_of(const ordered_json& j) {
  // One line; bytes that are not UTF-8 become U+FFFD instead of an exception (nlohmann's
  // default), so that a stray byte in a path or an HDF5 attribute cannot lose the summary.
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace

Json::Json() = default;
Json::Json(std::nullptr_t) {}
Json::Json(bool value) { this->value().j = value; }
Json::Json(double value) { this->value().j = value; }
Json::Json(const char* value) { this->value().j = value; }
Json::Json(std::string value) { this->value().j = std::move(value); }
Json::Json(const Json& other)
    : value_(other.value_ ? new detail::JsonValue(*other.value_) : nullptr) {}
Json::Json(Json&& other) noexcept = default;
Json& Json::operator=(const Json& other) {
  if (this != &other) value_.reset(other.value_ ? new detail::JsonValue(*other.value_) : nullptr);
  return *this;
}
Json& Json::operator=(Json&& other) noexcept = default;
Json::~Json() = default;

Json::Json(Integer kind, std::uint64_t bits) {
  if (kind == Integer::kSigned) {
    std::int64_t v;  // the two's complement bits back (a cast would be implementation-defined)
    std::memcpy(&v, &bits, sizeof v);
    value().j = v;
  } else {
    value().j = bits;
  }
}

detail::JsonValue& Json::value() {
  if (!value_) value_ = std::make_unique<detail::JsonValue>();
  return *value_;
}

Json Json::object() {
  Json j;
  j.value().j = ordered_json::object();
  return j;
}

Json Json::array() {
  Json j;
  j.value().j = ordered_json::array();
  return j;
}

Json::Type Json::type() const {
  switch (value_of(value_).type()) {
    case ordered_json::value_t::boolean:
      return Type::kBool;
    case ordered_json::value_t::number_integer:
    case ordered_json::value_t::number_unsigned:
      return Type::kInt;
    case ordered_json::value_t::number_float:
      return Type::kDouble;
    case ordered_json::value_t::string:
      return Type::kString;
    case ordered_json::value_t::array:
      return Type::kArray;
    case ordered_json::value_t::object:
      return Type::kObject;
    default:
      return Type::kNull;
  }
}

Json::Member Json::operator[](const std::string& key) { return Member(*this, {key}); }

std::optional<Json> Json::find(const std::string& key) const {
  const ordered_json& j = value_of(value_);
  if (!j.is_object()) return std::nullopt;
  const auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  Json out;
  out.value().j = *it;
  return out;
}

void Json::push_back(Json value) { this->value().j.push_back(std::move(value.value().j)); }

std::size_t Json::size() const {
  const ordered_json& j = value_of(value_);
  return j.is_structured() ? j.size() : 0;
}

std::string Json::dump() const { return dump_of(value_of(value_)); }

// -------------------------------------------------------------------------------- Member

namespace {

// The node at `path` below `root`, created (null) where absent; a null on the way becomes an
// object. nlohmann throws type_error if a value on the way is neither null nor an object.
ordered_json& node_at(ordered_json& root, const std::vector<std::string>& path) {
  ordered_json* n = &root;
  for (const auto& key : path) n = &(*n)[key];
  return *n;
}

}  // namespace

Json::Member::Member(Json& root, std::vector<std::string> path)
    : root_(&root), path_(std::move(path)) {
  node_at(root_->value().j, path_);  // the member exists from now on, as before an assignment
}

Json::Member& Json::Member::operator=(Json value) {
  node_at(root_->value().j, path_) = std::move(value.value().j);
  return *this;
}

Json::Member Json::Member::operator[](const std::string& key) const {
  std::vector<std::string> path = path_;
  path.push_back(key);
  return Member(*root_, std::move(path));
}

void Json::Member::push_back(Json value) const {
  node_at(root_->value().j, path_).push_back(std::move(value.value().j));
}

Json Json::Member::get() const {
  Json out;
  out.value().j = node_at(root_->value().j, path_);
  return out;
}

std::string json_quote(const std::string& text) { return dump_of(ordered_json(text)); }

}  // namespace physfit::util
