#!/usr/bin/env bash
# Training speed of physfit side by side with PyTorch in the same run (issue 3, point 7; the
# CNNs: issue 13, point 5).
#   bench/nn/speed.sh [OUT_DIR] [PARTS]     (PARTS: "peers scaling", the default, or one of them)
# Needs Debian's python3-torch and the peer scripts (PEERS, default ../shared/peers/nn); PyTorch
# gets Debian's OpenBLAS (unpacked by the peers' get_openblas.sh, not installed system-wide) with
# OPENBLAS_CORETYPE unset so that it uses its AVX-512 kernels, and glibc's malloc settings that
# keep it from page-faulting (see the peers' FINDINGS.md). Both run 1 thread.
# Reported: samples/s by wall time and per CPU-second (robust on a shared machine), the load
# average, and the 2-rank vs 1-rank scaling of physfit with the time split, beside the ceiling
# of two ranks on this machine (two independent 1-rank runs at once, one per core).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${1:-results/bench-speed}
parts=${2:-peers scaling}
peers=${PEERS:-$(cd .. && pwd)/shared/peers/nn}
bin=build/bin/physfit
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
scripts/setup.sh --bench >&2  # Debian's python3-torch, the peer (nothing to do when present)
mkdir -p "$out"
[[ -e results/fashion_train.h5 ]] || scripts/fashion_data.sh "$bin"
[[ -e results/ising_bench.h5 ]] || /usr/bin/python3 bench/nn/ising_data.py results/ising_bench.h5 16384 32
blas=$("$peers/get_openblas.sh" /tmp/physfit-bench-openblas)
log() { echo "== $* ($(cut -d' ' -f1-3 /proc/loadavg))" >&2; }

record() {  # name: the JSON summary on stdin, named and with the load, into physfit.jsonl
  /usr/bin/python3 -c "import json,sys,os; r=json.load(sys.stdin); r['name']='$1'; r['loadavg']=os.getloadavg(); print(json.dumps(r))" >> "$out/physfit.jsonl"
}

physfit_run() {  # name ranks config epochs args...
  local name=$1 ranks=$2 config=$3 epochs=$4
  shift 4
  log "physfit $name, $ranks rank(s)"
  mpirun -np "$ranks" "$bin" train "$config" --data.validation "" --train.epochs "$epochs" \
    --output.model "$out/$name.h5" --output.checkpoint-every 0 --json "$@" 2> "$out/$name.log" |
    tail -1 | record "$name"
}

# The same 1-rank job twice at once, pinned to cores 0 and 1 and not talking to each other: the
# most two ranks could reach on this machine's two cores with no communication at all (they
# share caches, memory bandwidth and the host's scheduling).
physfit_pair() {  # name config epochs args...
  local name=$1 config=$2 epochs=$3
  shift 3
  (($(getconf _NPROCESSORS_ONLN) >= 2)) || return 0  # one core: no ceiling (nproc obeys OMP_NUM_THREADS)
  log "physfit $name, two independent 1-rank runs at once"
  local core
  for core in 0 1; do
    taskset -c "$core" mpirun -np 1 --bind-to none "$bin" train "$config" --data.validation "" \
      --train.epochs "$epochs" --output.model "$out/${name}_$core.h5" --output.checkpoint-every 0 \
      --json "$@" 2> "$out/${name}_$core.log" | tail -1 > "$out/${name}_$core.json" &
  done
  wait
  for core in 0 1; do
    record "${name}_$core" < "$out/${name}_$core.json"
    rm -f "$out/${name}_$core.json"
  done
}

torch_run() {  # name args...   (SCRIPT= another peer script, default the peers' Fashion-MNIST one)
  local name=$1
  shift
  log "pytorch $name"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_TRIM_THRESHOLD_=1000000000 \
    MALLOC_MMAP_THRESHOLD_=1000000000 /usr/bin/python3 "${SCRIPT:-$peers/train_fmnist.py}" --threads 1 \
    --epochs 1 --blas-dir "$blas" --tag "$name" --out "$out/torch.jsonl" "$@" > "$out/torch_$name.log" 2>&1
}

[[ $parts == *peers* ]] && rm -f "$out/physfit.jsonl" "$out/torch.jsonl"
cnn_valid="conv2d 32 3 relu, maxpool2d 2, conv2d 64 3 relu, maxpool2d 2, flatten, dense 128 relu, dense 10"
# 1 rank x 1 thread against PyTorch, interleaved so that both see the same machine.
for b in 128 32; do
  [[ $parts == *peers* ]] || break
  steps=$((b == 32 ? 900 : 300))
  torch_run "mlp_b$b" --model mlp --batch "$b" --max-steps "$steps"
  physfit_run "mlp_b${b}_np1" 1 inputs/fashion_mlp.ini 2 --train.batch "$b" --train.micro-batch "$b"
  torch_run "mlp_b${b}_again" --model mlp --batch "$b" --max-steps "$steps"
done
# The CNNs at batch 128: the peers' valid-padding Fashion-MNIST CNN and the Ising CNN
# (bench/nn/ising_cnn.ini, 32 x 32 spins), each in micro-batches of 32 (the configs' setting,
# 4 ranks' worth) and of 128; PyTorch before and after.
if [[ $parts == *peers* ]]; then
  torch_run cnn_b128 --model cnn --batch 128 --max-steps 60
  physfit_run cnn_b128_np1 1 inputs/fashion_cnn.ini 1 --train.batch 128 --train.micro-batch 32 \
    --model.layers "$cnn_valid"
  physfit_run cnn_b128_m128_np1 1 inputs/fashion_cnn.ini 1 --train.batch 128 \
    --train.micro-batch 128 --model.layers "$cnn_valid"
  torch_run cnn_b128_again --model cnn --batch 128 --max-steps 60
  SCRIPT=bench/nn/train_ising_torch.py torch_run ising_b128 --data results/ising_bench.h5 \
    --batch 128 --max-steps 100
  physfit_run ising_b128_np1 1 bench/nn/ising_cnn.ini 2
  physfit_run ising_b128_m128_np1 1 bench/nn/ising_cnn.ini 2 --train.micro-batch 128
  SCRIPT=bench/nn/train_ising_torch.py torch_run ising_b128_again --data results/ising_bench.h5 \
    --batch 128 --max-steps 100
else
  physfit_run cnn_b128_np1 1 inputs/fashion_cnn.ini 1 --train.batch 128 --train.micro-batch 32 \
    --model.layers "$cnn_valid"
fi
[[ $parts == *scaling* ]] || { /usr/bin/python3 bench/nn/speed_report.py "$out" | tee "$out/report.md"; exit 0; }
# 2 ranks vs 1 rank (same micro-batches: the same bits), and the ceiling of two ranks here (two
# independent 1-rank runs at once).
physfit_run cnn_b128_np2 2 inputs/fashion_cnn.ini 1 --train.batch 128 --train.micro-batch 32 \
  --model.layers "$cnn_valid"
physfit_pair cnn_b128_pair inputs/fashion_cnn.ini 1 --train.batch 128 --train.micro-batch 32 \
  --model.layers "$cnn_valid"
for b in 512 128; do
  micro=$((b / 2))
  physfit_run "mlp_g${b}_np1" 1 inputs/fashion_mlp.ini 2 --train.batch "$b" --train.micro-batch "$micro"
  physfit_run "mlp_g${b}_np2" 2 inputs/fashion_mlp.ini 2 --train.batch "$b" --train.micro-batch "$micro"
  physfit_pair "mlp_g${b}_pair" inputs/fashion_mlp.ini 2 --train.batch "$b" --train.micro-batch "$micro"
done
/usr/bin/python3 bench/nn/speed_report.py "$out" | tee "$out/report.md"
