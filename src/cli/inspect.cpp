#include <iostream>

#include "physfit/cli/command.hpp"
#include "physfit/io/inspect.hpp"
#include "physfit/mpi/guard.hpp"

namespace physfit::cli {

Command inspect_command() {
  Command c;
  c.name = "inspect";
  c.summary = "print the tree, shapes, types and provenance of an HDF5 file";
  c.description =
      "Lists every group and dataset of FILE.h5 with its type, shape and attributes; for files\n"
      "written by physfit, first the provenance: version, git hash, command, ranks, threads,\n"
      "start time and the effective configuration. Works on any HDF5 file. With --json the\n"
      "listing is the JSON summary's \"result\".";
  c.declare = [](config::Options& opts) {
    opts.add<std::string>("file", "the HDF5 file to inspect").required().command_line_only();
    opts.positional("file");
    opts.add<int>("output.max-values", "numeric attribute values shown per attribute")
        .default_value(8)
        .check(config::positive<int>());
  };
  c.files = [](const config::Values& o) {
    Files f;
    f.input(o, "file");
    return f;
  };
  c.run = [](Context& ctx) {
    const auto file = ctx.options.get<std::string>("file");
    const int max_values = ctx.options.get<int>("output.max-values");
    const bool json = ctx.options.get<bool>("json");
    mpi::guarded(ctx.comm, [&] {
      if (!ctx.comm.is_root()) return;
      if (json) {
        ctx.summary = io::describe_file(file, max_values);
      } else {
        io::print_tree(file, std::cout, max_values);
      }
    });
  };
  return c;
}

}  // namespace physfit::cli
