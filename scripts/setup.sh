#!/usr/bin/env bash
# Installs the Debian packages physfit needs, in layers. Idempotent: when the packages are
# present it changes nothing and needs no network. Works as root, or as a user who can use sudo.
#
#   scripts/setup.sh                  # build and run physfit (compilers, MPI, HDF5, libraries)
#   scripts/setup.sh --examples       # + what scripts/quickstart.sh runs (LAMMPS, phonopy, data)
#   scripts/setup.sh --tests          # + what scripts/test.sh and scripts/fuzz.sh need
#   scripts/setup.sh --bench          # + the peers of the benchmarks in bench/ (PyTorch)
#   scripts/setup.sh --print [LAYER]  # only list the packages of a layer (--examples, --tests)
set -euo pipefail

build_packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # MPI and the parallel HDF5 built against it (the C++ HDF5 API is absent there: we use C)
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  # numerics, options, symmetry
  libeigen3-dev libboost-program-options-dev libsymspg-dev zlib1g-dev
  # figures: cairo (PNG, SVG, PDF) and a font that fontconfig always finds
  libcairo2-dev fonts-dejavu-core
  # phonopy's YAML files; the --json summaries
  libyaml-cpp-dev nlohmann-json3-dev
  # the Python module physfit (built when both are present; docs/python.md) and numpy
  pybind11-dev python3-dev python3-numpy
)
example_packages=(
  # data: Fashion-MNIST (IDX files under /usr/share/datasets/fashion-mnist)
  dataset-fashion-mnist
  # silicon forces from LAMMPS (Stillinger-Weber) and phonopy's reference, made by Debian's
  # Python with h5py and numpy (scripts/data/make_si.py)
  python3 python3-numpy python3-h5py python3-lammps liblammps-dev lammps-data python3-phonopy
)
test_packages=(
  # unit and MPI tests, the formatting check
  googletest libgtest-dev clang-format
  # fuzzing the parsers (scripts/fuzz.sh): clang with libFuzzer and its sanitizer runtimes
  clang libclang-rt-14-dev
  # a real single-node Slurm for the job-script tests (scripts/slurm/)
  slurmctld slurmd slurm-client munge
  # crystals that are not fcc and the format tests: ASE (band paths, POSCAR and extended XYZ
  # files) and spglib (space groups)
  python3-ase python3-spglib
  # the Python module's tests (tests/python/): pytest, and mpi4py for the runs under mpiexec
  python3-pytest python3-mpi4py
  # the worked example examples/python/si_fc.py (run by the tests): its band plot
  python3-matplotlib
)

bench_packages=(
  # the PyTorch peer of bench/nn/speed.sh (Debian's build of PyTorch 1.13)
  python3-torch
)

print=0
layer=build
while (($#)); do
  case "$1" in
    --print) print=1 ;;
    --examples) layer=examples ;;
    --tests) layer=tests ;;
    --bench) layer=bench ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "setup: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
packages=("${build_packages[@]}")
case "$layer" in
  examples) packages+=("${example_packages[@]}") ;;
  tests) packages+=("${example_packages[@]}" "${test_packages[@]}") ;;
  bench) packages+=("${example_packages[@]}" "${bench_packages[@]}") ;;
esac

if ((print)); then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run this script as root, or install sudo, to install them" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt (unattended upgrades, a parallel session) rather than fail.
lock=(-o DPkg::Lock::Timeout=600)
"${as_root[@]}" apt-get "${lock[@]}" update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get "${lock[@]}" install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
