#!/usr/bin/env python3
"""Synthetic L x L Ising-like images for the CNN speed benchmark (issue 13, point 5).

Writes N random +-1 spin images in physfit's classification layout (include/physfit/nn/data.hpp):
/features float32 [N, L, L], /labels int32 [N] with attribute classes = 2. Label 1 ("ordered")
images have a majority of one sign drawn with probability 0.8 per spin, label 0 images are
uniform: learnable, but the benchmark only times training.

  /usr/bin/python3 bench/nn/ising_data.py OUT.h5 [N] [L] [SEED]
"""
import sys

import h5py
import numpy as np


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 16384
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype(np.int32)
    p_up = np.where(labels == 1, np.where(rng.random(n) < 0.5, 0.8, 0.2), 0.5)
    spins = rng.random((n, size, size)) < p_up[:, None, None]
    features = np.where(spins, 1.0, -1.0).astype(np.float32)
    with h5py.File(out, "w") as f:
        f.create_dataset("features", data=features)
        d = f.create_dataset("labels", data=labels)
        d.attrs["classes"] = np.int64(2)


if __name__ == "__main__":
    main()
