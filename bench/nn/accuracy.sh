#!/usr/bin/env bash
# Accuracy of the three Fashion-MNIST models after 5 epochs on the 10000 test images, for
# seeds 0, 1, 2 (issue 3, point 6). A benchmark, not a test: about 10-20 min on one core.
#   bench/nn/accuracy.sh [OUT_DIR] [RANKS] [MODELS...]    (models: mlp hinge cnn)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${1:-results/bench-accuracy}
ranks=${2:-1}
shift $(( $# > 2 ? 2 : $# )) || true
models=("$@")
((${#models[@]})) || models=(mlp hinge cnn)
bin=build/bin/physfit
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
[[ -e results/fashion_test.h5 ]] || scripts/fashion_data.sh "$bin"
mkdir -p "$out"
for m in "${models[@]}"; do
  for seed in 0 1 2; do
    echo "== $m seed $seed ($(uptime | sed 's/.*load/load/'))" >&2
    mpirun -np "$ranks" "$bin" train "inputs/fashion_$m.ini" --train.seed "$seed" \
      --output.model "$out/${m}_seed$seed.h5" --output.checkpoint-every 0 --json \
      2> "$out/${m}_seed$seed.log" | tail -1 >> "$out/$m.jsonl"
    tail -2 "$out/${m}_seed$seed.log" | head -1 >&2
  done
done
/usr/bin/python3 - "$out" "${models[@]}" <<'PY'
import json, sys, statistics
out = sys.argv[1]
for m in sys.argv[2:]:
    runs = [json.loads(l) for l in open(f"{out}/{m}.jsonl")]
    acc = [100 * r["result"]["validation"]["accuracy"] for r in runs]
    sps = [r["result"]["history"]["samples_per_s"] for r in runs]
    print(f"{m}: test accuracy after 5 epochs {statistics.mean(acc):.2f} % (seeds: "
          + ", ".join(f"{a:.2f}" for a in acc) + "); samples/s per epoch (seed 0): "
          + " ".join(f"{s:.0f}" for s in sps[0]))
PY
