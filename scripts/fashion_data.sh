#!/usr/bin/env bash
# Imports Fashion-MNIST (Debian's dataset-fashion-mnist, installed by scripts/setup.sh --examples) into
# results/fashion_train.h5 (60000 images) and results/fashion_test.h5 (10000).
#   scripts/fashion_data.sh [PHYSFIT_BINARY]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${1:-build/bin/physfit}
src=/usr/share/datasets/fashion-mnist
if [[ ! -e $src/train-images-idx3-ubyte.gz ]]; then
  echo "fashion_data: $src is missing: run scripts/setup.sh --examples (package dataset-fashion-mnist)" >&2
  exit 4
fi
mkdir -p results
for part in train:train t10k:test; do
  "$bin" import idx --input.images "$src/${part%%:*}-images-idx3-ubyte.gz" \
    --input.labels "$src/${part%%:*}-labels-idx1-ubyte.gz" --output.file "results/fashion_${part##*:}.h5"
done
