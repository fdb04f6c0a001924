#!/usr/bin/env bash
# The regression example (issue 3, point 1): Lennard-Jones trimer energies, physfit's network
# against a linear least-squares fit on the same descriptors (numpy lstsq with an intercept).
#   bench/nn/regression.sh [RANKS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ranks=${1:-2}
bin=build/bin/physfit
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p results
/usr/bin/python3 inputs/lj_trimer/generate.py results/lj_trimer
for part in train test; do
  "$bin" import csv --input.file "results/lj_trimer_$part.csv" --csv.target-columns energy \
    --output.file "results/lj_trimer_$part.h5" --quiet
done
mpirun -np "$ranks" "$bin" train inputs/lj_trimer.ini --output.checkpoint-every 0 --json \
  2> results/lj_trimer.log | tail -1 > results/lj_trimer.json
"$bin" evaluate results/lj_trimer.h5 results/lj_trimer_test.h5
/usr/bin/python3 - <<'PY'
import json
import numpy as np
train = np.loadtxt("results/lj_trimer_train.csv", delimiter=",", skiprows=1)
test = np.loadtxt("results/lj_trimer_test.csv", delimiter=",", skiprows=1)
design = lambda d: np.hstack([d[:, :3], np.ones((len(d), 1))])
coef, *_ = np.linalg.lstsq(design(train), train[:, 3], rcond=None)
err = design(test) @ coef - test[:, 3]
net = json.load(open("results/lj_trimer.json"))["result"]["validation"]
print(f"test set (2000 trimers, energy std {test[:, 3].std():.3f} eps):")
print(f"  linear least squares on (r1, r2, r3, 1): RMSE {np.sqrt((err ** 2).mean()):.4f}, MAE {np.abs(err).mean():.4f}")
print(f"  physfit network (dense 64 tanh, dense 64 tanh, dense 1): RMSE {net['rmse']:.4f}, MAE {net['mae']:.4f}")
PY
