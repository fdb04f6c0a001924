#include "physfit/fc/model.hpp"

#include "physfit/error.hpp"

namespace physfit::fc {

void write_model(const io::File& f, const IdealStructure& ideal, const ClusterSpace& space,
                 const Eigen::VectorXd& z) {
  const Crystal& cr = space.crystal();
  IdealStructure with_primitive = ideal;
  with_primitive.primitive_lattice = cr.primitive().lattice;
  write_dataset_hdf5(f, with_primitive, Configurations{});
  const std::int64_t n = cr.num_atoms(), np = cr.num_primitive();
  const io::Group g = f.create_group("/fc");
  io::set_attribute(g.id(), "max_order", static_cast<std::int64_t>(space.max_order()));
  io::set_attribute(g.id(), "cutoffs", space.options().cutoffs);
  io::set_attribute(g.id(), "cutoff_limit", space.cutoff_limit());
  io::set_attribute(g.id(), "allow_wrapping",
                    static_cast<std::int64_t>(space.options().allow_wrapping));
  io::set_attribute(g.id(), "spacegroup", cr.international());
  io::set_attribute(g.id(), "spacegroup_number", static_cast<std::int64_t>(cr.spacegroup_number()));
  for (int order = 2; order <= space.max_order(); ++order) {
    const std::string o = std::to_string(order);
    io::set_attribute(g.id(), "orbits_" + o, static_cast<std::int64_t>(space.num_orbits(order)));
    io::set_attribute(g.id(), "clusters_" + o, space.num_clusters(order));
    io::set_attribute(g.id(), "symmetry_parameters_" + o,
                      static_cast<std::int64_t>(space.num_symmetry_parameters(order)));
    io::set_attribute(g.id(), "parameters_" + o,
                      static_cast<std::int64_t>(space.num_parameters(order)));
  }
  std::vector<double> zv(z.data(), z.data() + z.size());
  auto d = f.create_dataset<double>("/fc/parameters", {static_cast<std::int64_t>(zv.size())},
                                    "eV/angstrom^n (n = order)");
  d.write_all(zv);
  const Eigen::VectorXd x = space.elimination() * z;
  f.create_dataset<double>("/fc/symmetry_parameters", {static_cast<std::int64_t>(x.size())},
                           "eV/angstrom^n (n = order)")
      .write_all(std::vector<double>(x.data(), x.data() + x.size()));
  std::vector<std::int64_t> rows, cols;
  std::vector<double> values;
  const auto& t = space.elimination();
  for (int k = 0; k < t.outerSize(); ++k)
    for (Eigen::SparseMatrix<double>::InnerIterator it(t, k); it; ++it) {
      rows.push_back(it.row());
      cols.push_back(it.col());
      values.push_back(it.value());
    }
  const std::int64_t nnz = static_cast<std::int64_t>(values.size());
  f.create_dataset<std::int64_t>("/fc/elimination/row", {nnz}, "dimensionless").write_all(rows);
  f.create_dataset<std::int64_t>("/fc/elimination/col", {nnz}, "dimensionless").write_all(cols);
  f.create_dataset<double>("/fc/elimination/value", {nnz}, "dimensionless").write_all(values);

  const auto& orbits = space.orbits();
  const std::int64_t no = static_cast<std::int64_t>(orbits.size());
  std::vector<std::int64_t> order, rep, first, size, count;
  std::vector<double> dist, basis;
  for (const auto& o : orbits) {
    order.push_back(o.order);
    for (int k = 0; k < 4; ++k) rep.push_back(k < o.order ? o.representative[k] : -1);
    first.push_back(o.first_parameter);
    size.push_back(o.size());
    count.push_back(o.num_clusters);
    dist.push_back(o.max_distance);
    basis.insert(basis.end(), o.basis.data(), o.basis.data() + o.basis.size());
  }
  f.create_dataset<std::int64_t>("/fc/orbits/order", {no}, "dimensionless").write_all(order);
  f.create_dataset<std::int64_t>("/fc/orbits/representative", {no, 4}, "dimensionless")
      .write_all(rep);
  f.create_dataset<std::int64_t>("/fc/orbits/first_parameter", {no}, "dimensionless")
      .write_all(first);
  f.create_dataset<std::int64_t>("/fc/orbits/size", {no}, "dimensionless").write_all(size);
  f.create_dataset<std::int64_t>("/fc/orbits/num_clusters", {no}, "dimensionless").write_all(count);
  f.create_dataset<double>("/fc/orbits/max_distance", {no}, "angstrom").write_all(dist);
  f.create_dataset<double>("/fc/orbits/basis", {static_cast<std::int64_t>(basis.size())},
                           "dimensionless")
      .write_all(basis);
  // Every cluster, generated from the members and written a block at a time (the list is not
  // held: 6 million clusters of 512-atom silicon would be 240 MB).
  constexpr std::int64_t kBlock = std::int64_t(1) << 20;
  for (int o = 2; o <= space.max_order(); ++o) {
    const std::string base = "/fc/clusters/order_" + std::to_string(o);
    const std::int64_t nc = space.num_clusters(o);
    const io::Dataset atoms_set =
        f.create_dataset<std::int64_t>(base + "/atoms", {nc, o}, "dimensionless");
    const io::Dataset orbit_set =
        f.create_dataset<std::int64_t>(base + "/orbit", {nc}, "dimensionless");
    std::vector<std::int64_t> atoms, orbit;
    std::int64_t written = 0;
    auto flush = [&] {
      const auto count = static_cast<std::int64_t>(orbit.size());
      atoms_set.write_rows(written, count, atoms.data());
      orbit_set.write_rows(written, count, orbit.data());
      written += count;
      atoms.clear();
      orbit.clear();
    };
    space.for_each_instance(o, [&](const ClusterSpace::Instance& c) {
      for (int k = 0; k < o; ++k) atoms.push_back(c.atoms[k]);
      orbit.push_back(space.member_orbit(c.member));
      if (static_cast<std::int64_t>(orbit.size()) == kBlock) flush();
    });
    if (!orbit.empty()) flush();
    if (written != nc)
      throw Error("write_model: " + std::to_string(written) + " clusters of order " +
                  std::to_string(o) + " written, " + std::to_string(nc) + " counted");
  }
  const Eigen::MatrixXd phi = space.fc2(z);
  std::vector<double> full(static_cast<std::size_t>(n * n * 9));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) full[((i * n + j) * 3 + a) * 3 + b] = phi(3 * i + a, 3 * j + b);
  d = f.create_dataset<double>("/fc/force_constants", {n, n, 3, 3}, "eV/angstrom^2");
  d.write_all(full);
  if (space.max_order() >= 3) {
    d = f.create_dataset<double>("/fc/fc3", {np, n, n, 3, 3, 3}, "eV/angstrom^3");
    d.write_all(space.fc3_compact(z));
  }
  f.create_dataset<std::int64_t>("/fc/p2s_map", {np}, "dimensionless")
      .write_all(std::vector<std::int64_t>(cr.p2s().begin(), cr.p2s().end()));
}

std::pair<IdealStructure, Eigen::MatrixXd> read_model_fc2(const std::string& path) {
  IdealStructure ideal = read_structure_hdf5(path);
  const io::File f = io::File::open(path);
  const std::int64_t n = ideal.supercell.size();
  const io::Dataset d = f.dataset("/fc/force_constants");
  d.require_shape({n, n, 3, 3});
  const auto v = d.read_all<double>();
  Eigen::MatrixXd phi(3 * n, 3 * n);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) {
          const double x = v[((i * n + j) * 3 + a) * 3 + b];
          if (!std::isfinite(x))
            throw IoError(path + ": /fc/force_constants has a non-finite value");
          phi(3 * i + a, 3 * j + b) = x;
        }
  return {ideal, phi};
}

}  // namespace physfit::fc
