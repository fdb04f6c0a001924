#include "physfit/io/inspect.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <ostream>
#include <sstream>
#include <vector>

#include "physfit/error.hpp"
#include "physfit/io/hdf5.hpp"
#include "physfit/io/provenance.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::io {
namespace {

struct Attribute {
  std::string name;
  std::string dtype;
  bool is_string = false;
  std::string text;            // strings
  std::vector<double> values;  // numbers (first max_values)
  std::int64_t count = 0;      // number of elements
};

struct Object {
  std::string path;
  std::string kind;  // group, dataset, datatype, soft link, external link
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::vector<Attribute> attributes;
};

herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

std::vector<Attribute> read_attributes(hid_t object, int max_values) {
  std::vector<std::string> names;
  hsize_t index = 0;
  H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, collect_attribute_name, &names);
  H5Eclear2(H5E_DEFAULT);
  std::vector<Attribute> out;
  for (const auto& name : names) {
    Attribute a;
    a.name = name;
    Handle attribute(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!attribute.valid()) continue;
    Handle type(H5Aget_type(attribute.id()), H5Tclose);
    Handle space(H5Aget_space(attribute.id()), H5Sclose);
    a.dtype = dtype_name(type.id());
    a.count = H5Sget_simple_extent_npoints(space.id());
    const H5T_class_t cls = H5Tget_class(type.id());
    if (cls == H5T_STRING && a.count == 1) {
      a.is_string = true;
      a.text = get_string_attribute(object, name);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
      std::vector<double> all = get_numeric_attribute(object, name);
      if (static_cast<int>(all.size()) > max_values) all.resize(max_values);
      a.values = all;
    }
    out.push_back(std::move(a));
  }
  return out;
}

void visit(hid_t file, const std::string& group_path, int max_values, std::vector<Object>& out) {
  Handle group(H5Gopen2(file, group_path.c_str(), H5P_DEFAULT), H5Gclose);
  detail::check(group.id(), "cannot open group '" + group_path + "'");
  H5G_info_t info;
  detail::check(H5Gget_info(group.id(), &info), "cannot list group '" + group_path + "'");
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length =
        H5Lget_name_by_idx(group.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (length < 0) continue;
    std::string name(static_cast<std::size_t>(length) + 1, '\0');
    H5Lget_name_by_idx(group.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(length));
    const std::string path = (group_path == "/" ? "" : group_path) + "/" + name;

    Object o;
    o.path = path;
    H5L_info_t link;
    if (H5Lget_info(group.id(), name.c_str(), &link, H5P_DEFAULT) >= 0 &&
        link.type != H5L_TYPE_HARD) {
      o.kind = link.type == H5L_TYPE_SOFT ? "soft link" : "external link";
      out.push_back(std::move(o));
      continue;
    }
    Handle object(H5Oopen(group.id(), name.c_str(), H5P_DEFAULT), H5Oclose);
    if (!object.valid()) {
      H5Eclear2(H5E_DEFAULT);
      o.kind = "unreadable";
      out.push_back(std::move(o));
      continue;
    }
    switch (H5Iget_type(object.id())) {
      case H5I_GROUP:
        o.kind = "group";
        break;
      case H5I_DATASET: {
        o.kind = "dataset";
        Handle type(H5Dget_type(object.id()), H5Tclose);
        o.dtype = dtype_name(type.id());
        Handle space(H5Dget_space(object.id()), H5Sclose);
        const int rank = H5Sget_simple_extent_ndims(space.id());
        std::vector<hsize_t> dims(rank > 0 ? rank : 0);
        if (rank > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
        o.shape.assign(dims.begin(), dims.end());
        break;
      }
      case H5I_DATATYPE:
        o.kind = "datatype";
        break;
      default:
        o.kind = "object";
    }
    o.attributes = read_attributes(object.id(), max_values);
    const bool is_group = o.kind == "group";
    out.push_back(std::move(o));
    if (is_group) visit(file, path, max_values, out);
  }
}

std::vector<Object> collect(const File& file, int max_values) {
  std::vector<Object> objects;
  Object root;
  root.path = "/";
  root.kind = "group";
  Handle group(H5Gopen2(file.id(), "/", H5P_DEFAULT), H5Gclose);
  root.attributes = read_attributes(group.id(), max_values);
  objects.push_back(std::move(root));
  visit(file.id(), "/", max_values, objects);
  return objects;
}

std::string number_text(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::vector<std::string> parts;
  for (auto d : shape) parts.push_back(std::to_string(d));
  return "[" + util::join(parts, ", ") + "]";
}

std::string value_text(const Attribute& a) {
  if (a.is_string) return "\"" + a.text + "\"";
  if (a.values.empty()) return "<" + a.dtype + ", " + std::to_string(a.count) + " values>";
  std::vector<std::string> parts;
  for (double v : a.values) parts.push_back(number_text(v));
  if (a.count == 1) return parts.front();
  std::string text = "[" + util::join(parts, ", ");
  if (a.count > static_cast<std::int64_t>(a.values.size())) {
    text += ", ... (" + std::to_string(a.count) + " values)";
  }
  return text + "]";
}

std::int64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_size) : -1;
}

}  // namespace

void print_tree(const std::string& path, std::ostream& out, int max_values) {
  File file = File::open(path);
  const auto objects = collect(file, max_values);
  out << "file '" << path << "' (" << util::format_bytes(static_cast<double>(file_size(path)))
      << ")\n";
  if (file.exists("/physfit")) {
    const Provenance p = read_provenance(file);
    out << "\nprovenance (/physfit):\n";
    out << "  program_version  " << p.program_version << "\n";
    out << "  git_hash         " << p.git_hash << "\n";
    out << "  command          " << p.command << "\n";
    out << "  ranks            " << p.ranks << "\n";
    out << "  threads          " << p.threads << "\n";
    out << "  start_time       " << p.start_time << "\n";
    out << "  host             " << p.host << "\n";
    out << "  format_version   " << p.format_version << "\n";
    out << "  config:\n";
    std::istringstream lines(p.config);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) out << "    " << line << "\n";
    }
  }
  out << "\nobjects:\n";
  std::size_t width = 0;
  for (const auto& o : objects) width = std::max(width, o.path.size());
  for (const auto& o : objects) {
    out << "  " << o.path << std::string(width - o.path.size() + 2, ' ') << o.kind;
    if (o.kind == "dataset") {
      out << "  " << o.dtype << " " << (o.shape.empty() ? "scalar" : shape_text(o.shape));
    }
    out << "\n";
    if (o.path == "/physfit") continue;  // shown above
    for (const auto& a : o.attributes) {
      std::string text = value_text(a);
      if (text.find('\n') != std::string::npos) {
        text = "<text, " + std::to_string(text.size()) + " characters>";
      }
      out << "      @" << a.name << " = " << text << "\n";
    }
  }
}

util::Json describe_file(const std::string& path, int max_values) {
  File file = File::open(path);
  const auto objects = collect(file, max_values);
  util::Json j = util::Json::object();
  j["file"] = path;
  j["size_bytes"] = file_size(path);
  if (file.exists("/physfit")) {
    const Provenance p = read_provenance(file);
    auto q = j["provenance"];
    q["format_version"] = p.format_version;
    q["program_version"] = p.program_version;
    q["git_hash"] = p.git_hash;
    q["command"] = p.command;
    q["ranks"] = p.ranks;
    q["threads"] = p.threads;
    q["start_time"] = p.start_time;
    q["host"] = p.host;
    q["config"] = p.config;
  }
  util::Json list = util::Json::array();
  for (const auto& o : objects) {
    util::Json item = util::Json::object();
    item["path"] = o.path;
    item["kind"] = o.kind;
    if (o.kind == "dataset") {
      item["dtype"] = o.dtype;
      item["shape"] = util::Json::array(o.shape);
    }
    util::Json attributes = util::Json::object();
    for (const auto& a : o.attributes) {
      if (a.is_string) {
        attributes[a.name] = a.text;
      } else if (a.count == 1 && !a.values.empty()) {
        attributes[a.name] = a.values.front();
      } else if (!a.values.empty()) {
        attributes[a.name] = util::Json::array(a.values);
      } else {
        attributes[a.name] = "<" + a.dtype + ">";
      }
    }
    item["attributes"] = std::move(attributes);
    list.push_back(std::move(item));
  }
  j["objects"] = std::move(list);
  return j;
}

}  // namespace physfit::io
