#!/usr/bin/env bash
# Scale (issue 13, point 4): ROWS L = 32 Ising configurations generated at 1, 2 and 4 ranks
# (configurations/s per rank), then an MLP (dense 64 relu, dense 2; cross_entropy, Adam, batch
# 128 in micro-batches of 32) trained one epoch on them at 1, 2 and 4 ranks, each rank
# streaming its own rows under --data.max-memory: samples/s, the time split (compute,
# allreduce, I/O = what the main thread waited for data), peak resident memory per rank
# against the cap, and the load average.
#   bench/ising/scale.sh [ROWS] [OUT_DIR] [RANKS]
# GEN_RANKS (default RANKS) are the rank counts of the generation runs.
# Defaults: 10000000 rows (about 1.3 GB of packed spins, 10 GB as bytes, 1.6 GB with the
# per-row energy, magnetization, temperature and label), /tmp/scale, "1 2 4". GEN_CAP and
# TRAIN_CAP (default 256M) are the per-rank caps. On the 2-core test machine 4 ranks are
# oversubscribed (2 ranks per core): their figures measure the overhead, not scaling.
# Four temperatures (1.2, 2.0, 2.8, 3.6; 2.0 is sampled with Wolff, the others with
# Metropolis), 48 chains each: 192 chains, the same number of rows on 1, 2 and 4 ranks.
# The file of the first rank count is kept for training; the others are compared with it
# (the same bits) and deleted. Everything is written under OUT_DIR; delete it afterwards.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
rows=${1:-10000000}
out=${2:-/tmp/scale}
ranks_list=${3:-1 2 4}
gen_ranks=${GEN_RANKS:-$ranks_list}
gen_cap=${GEN_CAP:-256M}
train_cap=${TRAIN_CAP:-256M}
bin=${PHYSFIT_BIN:-build/bin/physfit}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out"
rm -f "$out/scale.jsonl"
per_t=$(((rows + 3) / 4))
log() { echo "== $* ($(cut -d' ' -f1-3 /proc/loadavg))" >&2; }
record() {  # kind ranks: the --json summary on stdin -> one line of scale.jsonl
  /usr/bin/python3 -c "import json,sys,os; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); r['kind']='$1'; r['ranks']=$2; r['loadavg']=os.getloadavg(); print(json.dumps(r))" >> "$out/scale.jsonl"
}

data=
for r in $gen_ranks; do
  log "generate $((4 * per_t)) configurations, $r rank(s)"
  file="$out/ising_np$r.h5"
  mpirun -np "$r" "$bin" generate ising --lattice.size 32 --temperatures.min 1.2 \
    --temperatures.max 3.6 --temperatures.count 4 --samples.per-temperature "$per_t" \
    --samples.chains-per-temperature 48 --run.max-memory "$gen_cap" --output.file "$file" \
    --json 2> "$out/generate_np$r.log" | record generate "$r"
  if [[ -z $data ]]; then
    data=$file
  else
    /usr/bin/python3 - "$data" "$file" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
    for name in ("/features", "/labels", "/energy"):
        n = a[name].shape[0]
        for i in range(0, n, 1 << 20):
            if not np.array_equal(a[name][i:i + (1 << 20)], b[name][i:i + (1 << 20)]):
                sys.exit("%s differs between %s and %s" % (name, sys.argv[1], sys.argv[2]))
print("same bits: " + sys.argv[2], file=sys.stderr)
EOF
    rm -f "$file"
  fi
done

for r in $ranks_list; do
  log "train 1 epoch, $r rank(s), --data.max-memory $train_cap"
  mpirun -np "$r" "$bin" train --data.train "$data" --model.layers "dense 64 relu, dense 2" \
    --model.loss cross_entropy --optimizer.type adam --train.batch 128 --train.micro-batch 32 \
    --train.epochs 1 --data.max-memory "$train_cap" --output.model "$out/mlp_np$r.h5" \
    --output.checkpoint-every 0 --json 2> "$out/train_np$r.log" | record train "$r"
done

/usr/bin/python3 - "$out/scale.jsonl" "$train_cap" <<'EOF' | tee "$out/report.md"
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
mib = 1 << 20
print("| generate | ranks | rows | configurations/s per rank | chains s | write s | rounds | peak RSS per rank (MiB) | load |")
print("|---|---|---|---|---|---|---|---|---|")
for r in runs:
    if r["kind"] != "generate":
        continue
    s = r["result"]
    print("| | %d | %d | %.0f-%.0f | %.1f | %.1f | %d | %s | %.2f |" % (
        r["ranks"], s["rows"], s["configurations_per_s_min"], s["configurations_per_s_max"],
        s["chains_s"], s["write_s"], s["rounds"],
        ", ".join("%.0f" % (b / mib) for b in s["peak_rss_bytes_per_rank"]), r["loadavg"][0]))
print()
print("| train (cap %s) | ranks | samples/s | epoch s | compute s | allreduce s | I/O s | window (batches) | overlap | peak RSS per rank (MiB) | loss | load |" % sys.argv[2])
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in runs:
    if r["kind"] != "train":
        continue
    s = r["result"]
    h = s["history"]
    print("| | %d | %.0f | %.1f | %.1f | %.1f | %.1f | %d | %s | %s | %.6f | %.2f |" % (
        r["ranks"], h["samples_per_s"][-1], h["time_s"][-1], h["time_compute_s"][-1],
        h["time_allreduce_s"][-1], h["time_io_s"][-1], s["window_batches"],
        "yes" if s["overlapped"] else "no",
        ", ".join("%.0f" % (b / mib) for b in s["peak_rss_bytes_per_rank"]),
        s["train"]["loss"], r["loadavg"][0]))
EOF
