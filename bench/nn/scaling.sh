#!/usr/bin/env bash
# A scaling model of physfit's exact data-parallel training and its check (issue 14, point 4).
#   bench/nn/scaling.sh [OUT_DIR] [PARTS]     (PARTS: "reduce train model", the default, or some)
#   reduce: build/bin/reduce_bench (bench/nn/reduce_bench.cpp) at 2 and 4 ranks (4 oversubscribed
#           on a 2-core machine), shared memory (--mca btl self,vader) and loopback TCP
#           (--mca btl self,tcp --mca btl_tcp_if_include lo): the exact reduction of one step
#           and its two parts, and MPI_Allreduce of float32, n = 1 K .. 16 M floats; at 2 ranks
#           also shared memory with glibc's malloc on huge pages (shm_thp) -> OUT/reduce.jsonl;
#           then the same at the models' parameter counts (shm) -> OUT/reduce_models.jsonl
#           (part "sizes" alone runs only these)
#   train:  one epoch of `physfit train --json` at 1, 2 and 4 ranks for the MLP 784-512-10 at
#           global batch 128 and 512, the Fashion CNN (inputs/fashion_cnn.ini) at 128 and the
#           Ising MLP and CNN (inputs/ising/) at their batch 32 -> OUT/train.jsonl
#   model:  bench/nn/scaling_model.py OUT: alpha-beta fits, predicted vs measured at 2 and 4
#           ranks, strong-scaling efficiency at 8-1024 ranks on 100 Gb/s InfiniBand -> OUT/report.md
# Every measurement records /proc/loadavg. Environment: MAX (largest n, default 16777216),
# SECONDS_PER_SIZE (timing budget per size and operation, default 1.5).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${1:-results/bench-scaling}
parts=${2:-reduce train model}
bin=build/bin/physfit
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out"
log() { echo "== $* ($(cut -d' ' -f1-3 /proc/loadavg))" >&2; }

if [[ $parts == *reduce* ]]; then
  nice -n 5 cmake --build build -j1 --target reduce_bench >&2
  rm -f "$out/reduce.jsonl"
  for ranks in 2 4; do
    for transport in shm tcp shm_thp; do
      case $transport in
        shm) btl=(--mca btl self,vader) ;;
        tcp) btl=(--mca btl self,tcp --mca btl_tcp_if_include lo) ;;
        # glibc's malloc on transparent huge pages: Open MPI's temporary buffers of a large
        # reduce-scatter otherwise page-fault at every call (4 KiB pages, ~20 us each here).
        shm_thp) ((ranks == 2)) || continue
          btl=(--mca btl self,vader -x GLIBC_TUNABLES=glibc.malloc.hugetlb=1) ;;
      esac
      log "reduce_bench $ranks ranks $transport"
      mpirun -np "$ranks" --oversubscribe "${btl[@]}" build/bin/reduce_bench --transport "$transport" \
        --max "${MAX:-16777216}" --seconds "${SECONDS_PER_SIZE:-1.5}" >> "$out/reduce.jsonl"
    done
  done
fi

if [[ $parts == *sizes* || $parts == *reduce* ]]; then
  # The reduction at the models' own sizes (Ising MLP, Ising CNN, MLP, Fashion CNN), shared
  # memory: the check of the fit where the training runs are.
  rm -f "$out/reduce_models.jsonl"
  for ranks in 2 4; do
    log "reduce_bench $ranks ranks shm, the models' sizes"
    for n in 65730 136066 407050 421642; do
      mpirun -np "$ranks" --oversubscribe --mca btl self,vader build/bin/reduce_bench \
        --transport shm --min $n --max $n --seconds "${SECONDS_PER_SIZE:-1.5}" >> "$out/reduce_models.jsonl"
    done
  done
fi

if [[ $parts == *train* ]]; then
  [[ -e results/fashion_train.h5 ]] || scripts/fashion_data.sh "$bin"
  [[ -e results/ising_bench.h5 ]] || /usr/bin/python3 bench/nn/ising_data.py results/ising_bench.h5 16384 32
  rm -f "$out/train.jsonl"
  run() {  # name ranks rows config args...   (rows: training rows, for the step count)
    local name=$1 ranks=$2 rows=$3 config=$4
    shift 4
    log "physfit $name, $ranks rank(s)"
    mpirun -np "$ranks" --oversubscribe "$bin" train "$config" --data.validation "" \
      --train.epochs 1 --output.model "$out/$name.h5" --output.checkpoint-every 0 --json "$@" \
      2> "$out/${name}_np$ranks.log" | tail -1 |
      /usr/bin/python3 -c "import json,sys,os; r=json.load(sys.stdin); r['name']='$name'; r['train_rows']=$rows; r['loadavg']=os.getloadavg(); print(json.dumps(r))" \
      >> "$out/train.jsonl"
  }
  for ranks in 1 2 4; do
    # Micro-batches: 4 per global batch, so that 4 ranks each compute one (the same bits at
    # every rank count).
    run mlp_b128 "$ranks" 60000 inputs/fashion_mlp.ini --train.batch 128 --train.micro-batch 32
    run mlp_b512 "$ranks" 60000 inputs/fashion_mlp.ini --train.batch 512 --train.micro-batch 128
    # The CNN trains on the 10000 test images: a short run (79 steps).
    run cnn_b128 "$ranks" 10000 inputs/fashion_cnn.ini --data.train results/fashion_test.h5 \
      --train.batch 128 --train.micro-batch 32
    run ising_mlp_b32 "$ranks" 16384 inputs/ising/mlp.ini --data.train results/ising_bench.h5 \
      --train.batch 32 --train.micro-batch 8
    run ising_cnn_b32 "$ranks" 16384 inputs/ising/cnn.ini --data.train results/ising_bench.h5 \
      --train.batch 32 --train.micro-batch 8
  done
fi

if [[ $parts == *model* ]]; then
  /usr/bin/python3 bench/nn/scaling_model.py "$out" | tee "$out/report.md"
fi
