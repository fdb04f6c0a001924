#!/usr/bin/env bash
# physfit's LASSO engine next to scikit-learn (and glmnet if R and r-cran-glmnet are there) on
# the same seeded problems, 1 rank x 1 thread unless stated; results as JSON lines in
# $OUT/results.jsonl, tables from bench/lasso/summarize.py.
#
#   bench/lasso/run.sh [OUT_DIR] [PROBLEMS...]        (default: /tmp/physfit-lasso-bench fcl gauss tall)
#   PEERS=0 bench/lasso/run.sh ...                      (physfit only; earlier peer records are kept)
#
# scikit-learn runs on OpenBLAS extracted from Debian's libopenblas0-pthread into $OUT/openblas
# (apt-get download + dpkg -x: nothing is installed system-wide), with OPENBLAS_CORETYPE unset
# for it alone, one BLAS thread. Run it on a quiet machine: every record carries the load
# average before and after, and CPU seconds besides wall seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${1:-/tmp/physfit-lasso-bench}
shift || true
PROBLEMS=("$@")
((${#PROBLEMS[@]})) || PROBLEMS=(fcl gauss tall)
mkdir -p "$OUT"
RES=$OUT/results.jsonl

nice -n 10 cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
nice -n 10 cmake --build build --target lasso_bench >/dev/null
BENCH=build/tests/lasso_bench

if [[ ! -d $OUT/openblas ]]; then
  (cd "$OUT" && apt-get download libopenblas0-pthread >/dev/null && dpkg -x libopenblas0-pthread_*.deb openblas)
fi
OPENBLAS=$(dirname "$(find "$OUT/openblas" -name 'libblas.so.3' | head -1)")
peer() { [[ ${PEERS:-1} == 1 ]] || return 0; env -u OPENBLAS_CORETYPE LD_LIBRARY_PATH="$OPENBLAS" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
         /usr/bin/python3 bench/lasso/peers.py "$@" | tee -a "$RES"; }
ours() { OMP_NUM_THREADS=1 "$BENCH" "$@" | tee -a "$RES"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

ours --task peak
for p in "${PROBLEMS[@]}"; do
  H5=$OUT/$p.h5
  [[ -f $H5 ]] || ours --problem "$p" --task write --h5 "$H5"
  ours --problem "$p" --task gram --reps 3
  peer "$H5" --problem "$p" --task gram --reps 3
  for lr in 0.1 0.01; do
    ours --problem "$p" --task fit --lambda-ratio $lr --reps 3
    ours --problem "$p" --task fit --lambda-ratio $lr --reps 3 --mode residual
    peer "$H5" --problem "$p" --task fit --lambda-ratio $lr --reps 2
    peer "$H5" --problem "$p" --task nogram --lambda-ratio $lr --timeout 120
  done
  ours --problem "$p" --task path --reps 2
  peer "$H5" --problem "$p" --task path --tol 1e-8 --timeout 600
  ours --problem "$p" --task cv --reps 1
  peer "$H5" --problem "$p" --task cv --tol 1e-8 --timeout 1200
done
# Two ranks on the tall problem (each rank one thread; the Gram is split, the solve replicated).
for n in 1 2; do
  mpirun -np $n "$BENCH" --problem tall --task fit --lambda-ratio 0.01 --reps 3 | tee -a "$RES"
done
/usr/bin/python3 bench/lasso/summarize.py "$RES"
