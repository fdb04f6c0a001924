// `physfit import idx|csv`: converts IDX files (MNIST, Fashion-MNIST) or a CSV table into an
// HDF5 dataset in the layout `physfit train` reads (see docs/neural-networks.md, "Datasets").

#include <algorithm>
#include <cmath>

#include "import_fc.hpp"
#include "physfit/cli/command.hpp"
#include "physfit/error.hpp"
#include "physfit/io/csv.hpp"
#include "physfit/io/idx.hpp"
#include "physfit/io/output_file.hpp"
#include "physfit/log/log.hpp"
#include "physfit/mpi/guard.hpp"
#include "physfit/util/strings.hpp"

namespace physfit::cli {
namespace {

void write_feature_attributes(const io::Dataset& d, double scale, double offset,
                              const std::string& source) {
  io::set_attribute(d.id(), "scale", scale);
  io::set_attribute(d.id(), "offset", offset);
  io::set_attribute(d.id(), "source", source);
}

void import_idx(Context& ctx) {
  const auto& o = ctx.options;
  const auto images_path = o.get<std::string>("input.images");
  const auto labels_path = o.get<std::string>("input.labels");
  const auto output = o.get<std::string>("output.file");
  if (images_path.empty()) throw UsageError("import idx: give the image file with --input.images");
  // Rank 0 reads and writes; the others wait for the outcome.
  struct Result {
    std::int64_t rows = 0, classes = 0;
    std::string shape;
  };
  io::IdxArray images, labels;
  mpi::guarded(ctx.comm, [&] {
    if (!ctx.comm.is_root()) return;
    images = io::read_idx(images_path);
    if (images.dtype != "uint8" || images.shape.size() < 2) {
      throw IoError("'" + images_path + "': expected uint8 images [N, ...] , found " +
                    images.dtype + " with " + std::to_string(images.shape.size()) +
                    " dimension(s)");
    }
    if (!labels_path.empty()) {
      labels = io::read_idx(labels_path);
      if (labels.shape.size() != 1 || labels.rows() != images.rows()) {
        throw IoError("'" + labels_path + "': expected one label per image (" +
                      std::to_string(images.rows()) + "), found shape [" +
                      std::to_string(labels.rows()) + (labels.shape.size() > 1 ? ", ..." : "") +
                      "]");
      }
    }
  });
  io::OutputFile out(ctx.comm, output, ctx.provenance(), io::OutputFile::Writers::kRank0);
  Result r;
  mpi::guarded(ctx.comm, [&] {
    if (!out.writes_here()) return;
    const io::Dataset f =
        out.file().create_dataset<std::uint8_t>("/features", images.shape, "dimensionless");
    f.write_rows(0, images.rows(), images.bytes.data());
    const double scale = o.get<double>("features.scale");
    write_feature_attributes(f, scale < 0 ? 1.0 / 255.0 : scale, o.get<double>("features.offset"),
                             images_path);
    r.rows = images.rows();
    for (std::size_t i = 1; i < images.shape.size(); ++i) {
      r.shape += (i > 1 ? "x" : "") + std::to_string(images.shape[i]);
    }
    if (!labels_path.empty()) {
      std::vector<std::int32_t> l;
      if (!labels.bytes.empty()) {
        l.assign(labels.bytes.begin(), labels.bytes.end());
      } else {
        for (std::size_t i = 0; i < labels.values.size(); ++i) {
          const float v = labels.values[i];
          if (!(v >= 0 && v <= 1e9f && v == std::floor(v))) {
            throw IoError("'" + labels_path + "', label " + std::to_string(i) + ": " +
                          std::to_string(v) + " (IDX type " + labels.dtype +
                          ") is not a non-negative integer; labels are class indices");
          }
          l.push_back(static_cast<std::int32_t>(v));
        }
      }
      const std::int32_t top = *std::max_element(l.begin(), l.end());
      const std::int32_t low = *std::min_element(l.begin(), l.end());
      if (low < 0) throw IoError("'" + labels_path + "': negative label " + std::to_string(low));
      std::int64_t classes = o.get<int>("features.classes");
      if (classes == 0) classes = top + 1;
      if (top >= classes) {
        throw UsageError("bad value '" + std::to_string(classes) + "' for classes: '" +
                         labels_path + "' has label " + std::to_string(top));
      }
      const io::Dataset d =
          out.file().create_dataset<std::int32_t>("/labels", {images.rows()}, "dimensionless");
      d.write_rows(0, images.rows(), l.data());
      io::set_attribute(d.id(), "classes", classes);
      io::set_attribute(d.id(), "source", labels_path);
      r.classes = classes;
    }
  });
  out.commit();
  log::info("import idx: ", r.rows, " samples of ", r.shape, " uint8", r.classes ? ", " : "",
            r.classes ? std::to_string(r.classes) + " classes" : std::string(), " -> '", output,
            "'");
  if (ctx.comm.is_root()) {
    ctx.summary["rows"] = r.rows;
    ctx.summary["sample_shape"] = r.shape;
    ctx.summary["classes"] = r.classes;
  }
  ctx.summary["output"] = output;
}

void import_csv(Context& ctx) {
  const auto& o = ctx.options;
  const auto input = o.get<std::string>("input.file");
  const auto output = o.get<std::string>("output.file");
  const auto delimiter = o.get<std::string>("csv.delimiter");
  const auto label_column = o.get<std::string>("csv.label-column");
  const auto targets = o.get<std::vector<std::string>>("csv.target-columns");
  const auto features = o.get<std::vector<std::string>>("csv.feature-columns");
  if (input.empty()) throw UsageError("import csv: give the CSV file with --input.file");
  if (delimiter.size() != 1) {
    throw UsageError("bad value '" + delimiter + "' for delimiter: expected one character");
  }
  if (label_column.empty() == targets.empty()) {
    throw UsageError(
        "import csv: give either --csv.label-column (classification) or --csv.target-columns "
        "(regression)");
  }
  io::OutputFile out(ctx.comm, output, ctx.provenance(), io::OutputFile::Writers::kRank0);
  std::int64_t rows = 0, nf = 0;
  mpi::guarded(ctx.comm, [&] {
    if (!out.writes_here()) return;
    const io::CsvTable t = io::read_csv(input, delimiter[0], o.get<bool>("csv.header"));
    std::vector<std::size_t> out_cols;
    std::vector<std::size_t> target_cols;
    if (!label_column.empty()) {
      out_cols.push_back(t.column(label_column, "csv.label-column"));
    } else {
      for (const auto& n : targets) out_cols.push_back(t.column(n, "csv.target-columns"));
    }
    std::vector<std::size_t> feature_cols;
    if (!features.empty()) {
      for (const auto& n : features) feature_cols.push_back(t.column(n, "csv.feature-columns"));
    } else {
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        if (std::find(out_cols.begin(), out_cols.end(), c) == out_cols.end()) {
          feature_cols.push_back(c);
        }
      }
    }
    if (feature_cols.empty()) {
      throw UsageError("import csv: no feature columns left in '" + input + "' (columns " +
                       util::join(t.columns, ", ") +
                       "); check --csv.feature-columns and the label "
                       "and target columns");
    }
    rows = t.rows();
    nf = static_cast<std::int64_t>(feature_cols.size());
    const std::size_t width = t.columns.size();
    std::vector<float> x;
    x.reserve(static_cast<std::size_t>(rows * nf));
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::size_t c : feature_cols) x.push_back(static_cast<float>(t.values[r * width + c]));
    }
    const io::Dataset f =
        out.file().create_dataset<float>("/features", {rows, nf}, "as in the CSV file");
    f.write_rows(0, rows, x.data());
    const double scale = o.get<double>("features.scale");
    write_feature_attributes(f, scale < 0 ? 1.0 : scale, o.get<double>("features.offset"), input);
    std::vector<std::string> names;
    for (std::size_t c : feature_cols) names.push_back(t.columns[c]);
    io::set_attribute(f.id(), "columns", util::join(names, ","));
    if (!label_column.empty()) {
      std::vector<std::int32_t> l;
      std::int32_t top = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        const double v = t.values[r * width + out_cols[0]];
        if (v < 0 || v != std::floor(v) || v > 1e9) {
          throw IoError(input + ": row " + std::to_string(r + 1) + " of the data, column '" +
                        label_column + "': label " + std::to_string(v) +
                        " is not a non-negative integer");
        }
        l.push_back(static_cast<std::int32_t>(v));
        top = std::max(top, l.back());
      }
      const io::Dataset d =
          out.file().create_dataset<std::int32_t>("/labels", {rows}, "dimensionless");
      d.write_rows(0, rows, l.data());
      std::int64_t classes = o.get<int>("features.classes");
      if (classes == 0) classes = top + 1;
      io::set_attribute(d.id(), "classes", classes);
    } else {
      std::vector<float> y;
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::size_t c : out_cols) y.push_back(static_cast<float>(t.values[r * width + c]));
      }
      const auto nt = static_cast<std::int64_t>(out_cols.size());
      const io::Dataset d =
          out.file().create_dataset<float>("/targets", {rows, nt}, "as in the CSV file");
      d.write_rows(0, rows, y.data());
      io::set_attribute(d.id(), "columns", util::join(targets, ","));
    }
  });
  out.commit();
  log::info("import csv: ", rows, " rows, ", nf, " features, ",
            label_column.empty() ? std::to_string(targets.size()) + " target(s)"
                                 : "labels from '" + label_column + "'",
            " -> '", output, "'");
  if (ctx.comm.is_root()) {
    ctx.summary["rows"] = rows;
    ctx.summary["features"] = nf;
  }
  ctx.summary["output"] = output;
}

void run(Context& ctx) {
  if (ctx.options.get<std::string>("output.file").empty()) {
    throw UsageError("import: give the HDF5 file to write with --output.file");
  }
  const auto format = ctx.options.get<std::string>("input.format");
  if (format == "idx") {
    import_idx(ctx);
  } else if (format == "csv") {
    import_csv(ctx);
  } else {
    run_import_fc(ctx);  // structure and displacement/force formats (src/cli/import_fc.cpp)
  }
  ctx.summary["format"] = format;
}

}  // namespace

Command import_command() {
  Command c;
  c.name = "import";
  c.summary = "convert data to HDF5: training sets (idx, csv) and structure/force data (" +
              util::join(import_fc_formats(), ", ") + ")";
  c.description =
      "physfit import idx --input.images train-images-idx3-ubyte.gz --input.labels "
      "train-labels-idx1-ubyte.gz\n"
      "               --output.file fashion_train.h5\n"
      "physfit import csv --input.file table.csv --csv.target-columns energy --output.file "
      "data.h5\n"
      "physfit import force-sets --input.file FORCE_SETS --structure.file phonopy_disp.yaml "
      "--output.file d.h5\n"
      "physfit import force-sets --input.file FORCE_SETS --structure.file POSCAR "
      "--structure.supercell-matrix '3 3 2'\n"
      "               --output.file d.h5\n"
      "physfit import phonopy --input.file phonopy_params.yaml --output.file d.h5\n"
      "physfit import extxyz --input.file md.extxyz --output.file d.h5 [--structure.file SPOSCAR]\n"
      "physfit import dfset --input.file DFSET --structure.file alm.in --output.file d.h5\n\n"
      "Training sets: /features (IDX: uint8 [N, H, W] as stored; CSV: float32 [N, F]) with the\n"
      "attributes scale and offset (the model's input is features * scale + offset; 1/255 and\n"
      "0 for IDX images by default), and /labels (int32 [N], attribute classes) or /targets\n"
      "(float32 [N, T]). IDX files may be gzip-compressed.\n\n"
      "Structure/force data: /structure (lattice, positions, numbers, masses, species names\n"
      "and the primitive cell when known) and /configs (displacements, forces, energies) in\n"
      "Angstrom, eV/Angstrom, eV and amu. --structure.file takes any structure file, its format\n"
      "detected from the content: VASP POSCAR/CONTCAR/SPOSCAR (VASP 5, or VASP 4 with\n"
      "--structure.species), phonopy_disp.yaml/phonopy.yaml, an ALAMODE input (&general, &cell,\n"
      "&position), extended XYZ (its first frame) or physfit HDF5. It is the supercell itself,\n"
      "or with --structure.supercell-matrix (phonopy's DIM) the unit cell, from which the "
      "supercell is\n"
      "built in phonopy's atom order (so FORCE_SETS indices agree). Masses: the file's, else\n"
      "--structure.masses, else standard atomic weights (phonopy's). Formats:\n" +
      import_fc_help() +
      "Atoms of extended XYZ frames are mapped to the sites of the ideal supercell within\n"
      "--structure.map-tolerance; an atom with no site is an error naming the configuration and "
      "atom.\n"
      "Rank 0 reads and writes.";
  c.declare = [](config::Options& opts) {
    std::vector<std::string> formats{"idx", "csv"};
    for (const auto& f : import_fc_formats()) formats.push_back(f);
    opts.add<std::string>("input.format", "input format: " + util::join(formats, ", "))
        .required()
        .check(config::one_of(formats));
    opts.positional("input.format");
    opts.positional("config");
    opts.add<std::string>("output.file", "the HDF5 dataset to write")
        .path()
        .default_value(std::string());
    opts.add<std::string>("input.images", "idx: the image file (.gz or not)")
        .path()
        .default_value(std::string());
    opts.add<std::string>("input.labels", "idx: the label file (optional)")
        .path()
        .default_value(std::string());
    opts.add<std::string>("input.file", "csv: the CSV file").path().default_value(std::string());
    opts.add<std::string>("csv.delimiter", "csv: field separator").default_value(std::string(","));
    opts.add<bool>("csv.header", "csv: the first line names the columns").default_value(true);
    opts.add<std::string>("csv.label-column", "csv: the column of integer class labels")
        .default_value(std::string());
    opts.add<std::vector<std::string>>("csv.target-columns", "csv: the regression target columns")
        .default_value(std::vector<std::string>{});
    opts.add<std::vector<std::string>>("csv.feature-columns",
                                       "csv: the feature columns (default: all others)")
        .default_value(std::vector<std::string>{});
    opts.add<double>("features.scale",
                     "the /features attribute scale (input = stored * scale + offset; -1: 1/255 "
                     "for idx, 1 for csv)")
        .default_value(-1.0);
    opts.add<double>("features.offset", "the /features attribute offset").default_value(0.0);
    opts.add<int>("features.classes", "number of classes (0: largest label + 1)")
        .default_value(0)
        .check(config::non_negative<int>());
    declare_import_fc(opts);
  };
  c.run = [](Context& ctx) { run(ctx); };
  c.files = [](const config::Values& o) {
    Files f;
    for (const char* key : {"input.images", "input.labels", "input.file", "structure.file"}) {
      f.input(o, key);
    }
    f.output(o, "output.file");
    return f;
  };
  return c;
}

}  // namespace physfit::cli
