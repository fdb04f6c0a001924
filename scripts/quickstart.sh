#!/usr/bin/env bash
# Installs what is missing, builds physfit and runs real jobs end to end on 2 ranks:
#  1. the MPI + parallel HDF5 self-check (inputs/selfcheck.ini);
#  2. silicon force constants: Stillinger-Weber forces from LAMMPS on rattled configurations
#     (scripts/data/make_si.py), FC2 + FC3 fitted by LASSO with 5-fold cross-validation
#     (inputs/fc_si.ini), phonons along a band path compared with phonopy's reference;
#  3. the Keras MLP example on Fashion-MNIST (Debian's dataset-fashion-mnist), 5 epochs
#     (inputs/fashion_mlp.ini), evaluated on the 10000 test images;
#  4. the Ising phase transition learned by MLPs (inputs/ising/run.sh --models mlp): Monte
#     Carlo configurations of L = 16, 32, 64, eight networks per size, T_c extrapolated.
# Results in results/: selfcheck.h5, si_fc.h5 (+ phonopy/phono3py/ShengBTE files),
# si_bands.png, si_phonons.h5, fashion_mlp.h5, ising/ (transition_mlp.png and .h5).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh --examples
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPHYSFIT_SANITIZE=OFF
cmake --build build --parallel "$(nproc)" --target physfit_app

# Open MPI refuses root unless told; 2 ranks on a 1-core machine need oversubscription.
if ((EUID == 0)); then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
if (($(nproc) < 2)); then
  export OMPI_MCA_rmaps_base_oversubscribe=1
fi
physfit=build/bin/physfit
si=build/tests/data/si

mkdir -p results
set -x
$physfit --version
mpirun -np 2 $physfit selfcheck inputs/selfcheck.ini

/usr/bin/python3 scripts/data/make_si.py $si
$physfit import extxyz --input.file $si/si64_rattle_0.01.extxyz --structure.file $si/si64_rattle_0.01.h5 \
  --output.file results/si.h5
mpirun -np 2 $physfit fc inputs/fc_si.ini
$physfit phonons --input.fc results/si_fc.h5 --output.figure results/si_bands.png --output.file results/si_phonons.h5 \
  --figure.difference \
  --reference.fc $si/FORCE_CONSTANTS --reference.structure results/si.h5

scripts/fashion_data.sh $physfit
# Batch 32 in micro-batches of 16, so that both ranks compute (the results depend on the
# micro-batch size, never on the number of ranks).
mpirun -np 2 $physfit train inputs/fashion_mlp.ini --train.micro-batch 16
$physfit evaluate results/fashion_mlp.h5 results/fashion_test.h5

PHYSFIT_BIN=$physfit inputs/ising/run.sh --models mlp
