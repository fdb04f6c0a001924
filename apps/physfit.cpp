// The `physfit` program: one executable, one subcommand per engine. Everything but the
// dispatch lives in the library (physfit::cli), where the tests reach it.
#include "physfit/cli/main.hpp"

int main(int argc, char** argv) { return physfit::cli::main(argc, argv); }
