#pragma once
// Reads the scikit-learn reference files of tests/unit/lasso/reference (written by
// scripts/lasso/make_references.py).

#include <Eigen/Core>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "physfit/lasso/generate.hpp"

namespace physfit::lasso::test {

struct Reference {
  std::string name;
  std::map<std::string, std::vector<double>> values;

  const std::vector<double>& list(const std::string& key) const {
    auto it = values.find(key);
    if (it == values.end()) throw std::runtime_error(name + ": no '" + key + "'");
    return it->second;
  }
  double scalar(const std::string& key) const { return list(key).at(0); }
  Eigen::VectorXd vector(const std::string& key) const {
    const auto& v = list(key);
    return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
  }
  SyntheticSpec spec() const {
    const auto& s = list("spec");
    SyntheticSpec out;
    out.rows = static_cast<std::int64_t>(s.at(0));
    out.cols = static_cast<std::int64_t>(s.at(1));
    out.seed = static_cast<std::uint64_t>(s.at(2));
    out.correlation = s.at(3);
    out.scale_range = static_cast<int>(s.at(4));
    out.nonzeros = static_cast<std::int64_t>(s.at(5));
    out.noise_exponent = static_cast<int>(s.at(6));
    out.duplicates = static_cast<std::int64_t>(s.at(7));
    return out;
  }
};

inline Reference read_reference(const std::string& name) {
  const std::string path = std::string(PHYSFIT_LASSO_REFERENCE_DIR) + "/" + name + ".txt";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  Reference r;
  r.name = name;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string key;
    s >> key;
    std::vector<double> v;
    std::string word;
    while (s >> word) v.push_back(std::stod(word));
    r.values[key] = v;
  }
  return r;
}

}  // namespace physfit::lasso::test
