#!/usr/bin/env bash
# The Ising phase transition learned by classifiers (docs/ising.md): for each lattice size L,
# generate a held-out set at every temperature and, for each of an ensemble of K networks, its
# own training set away from T_c; train the MLP and the CNN (network k: training set k, seed k);
# then `physfit transition` reads P(ordered | T) (the ensemble's mean), T_c(L) and the
# finite-size extrapolation off them.
#
#   inputs/ising/run.sh [--out DIR] [--sizes "16 32 64"] [--models "mlp cnn"] [--ensemble K]
#                       [--small]
#
#   --ensemble K  networks per model and size (default 8): one network's crossing moves with
#               its training set and initial weights (at L = 16 by ~0.01 for the MLP, ~0.03 for
#               the CNN); the mean of K moves sqrt(K) times less; their spread enters the errors.
#   --out DIR   where everything goes (default results/ising); a generated set that exists there
#               is kept (a rerun or a requeued job does not redo it: delete DIR to start over);
#               training resumes from its model file (--train.resume auto).
#   --small     the regression-test size: L = 16 only, the MLP, one network, about 10^4
#               configurations, 3 epochs (about 10 s on 2 cores).
#
# Environment: PHYSFIT_BIN (default: physfit on PATH), PHYSFIT_LAUNCHER (how ranks start;
# default "mpirun -np 2"; inputs/ising/ising.sbatch sets "srun --mpi=pmix").
# Exit code: that of the first physfit run that fails (3: stopped by a signal; run it again).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
physfit=${PHYSFIT_BIN:-physfit}
read -r -a launch <<<"${PHYSFIT_LAUNCHER:-mpirun -np 2}"
out=results/ising
sizes="16 32 64"
models="mlp cnn"
ensemble=8
small=0
while (($#)); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --ensemble) ensemble=$2; shift 2 ;;
    --small) small=1; shift ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
gen_train=() gen_test=() fit=()
if ((small)); then
  [[ "$sizes" == "16 32 64" ]] && sizes=16
  [[ "$models" == "mlp cnn" ]] && models=mlp
  ensemble=1
  # 11 x 500 training and 38 x 120 held-out configurations: 10,060 in all.
  gen_train=(--samples.per-temperature 500)
  gen_test=(--samples.per-temperature 120)
  fit=(--train.epochs 3)
fi
mkdir -p "$out"
run() { echo "ising: physfit $*" >&2; "${launch[@]}" "$physfit" "$@"; }

if ! [[ "$ensemble" =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: --ensemble '$ensemble' is not a positive integer" >&2
  exit 2
fi
generate() {  # set file seed extra...
  local set=$1 file=$2 seed=$3
  shift 3
  if [[ -e "$file" ]]; then
    echo "ising: $file exists, kept" >&2
    return
  fi
  run generate ising "$here/$set.ini" --lattice.size "$L" --run.seed "$seed" --output.file "$file" "$@"
}

for L in $sizes; do
  generate test "$out/test_L$L.h5" 1000 ${gen_test[@]+"${gen_test[@]}"}
  for ((k = 0; k < ensemble; k++)); do
    # Training set k: its own chains (seed 1 + k), so the ensemble samples the data's spread.
    generate train "$out/train_L${L}_$k.h5" $((1 + k)) ${gen_train[@]+"${gen_train[@]}"}
    for m in $models; do
      run train "$here/$m.ini" --data.train "$out/train_L${L}_$k.h5" \
        --output.model "$out/${m}_L${L}_$k.h5" --train.seed "$k" --train.resume auto \
        ${fit[@]+"${fit[@]}"}
    done
  done
done
for m in $models; do
  list_models="" list_data=""
  for L in $sizes; do
    for ((k = 0; k < ensemble; k++)); do
      list_models+="${list_models:+,}$out/${m}_L${L}_$k.h5"
      list_data+="${list_data:+,}$out/test_L$L.h5"
    done
  done
  run transition --input.models "$list_models" --input.data "$list_data" \
    --output.file "$out/transition_$m.h5" --output.figure "$out/transition_$m.png"
done
