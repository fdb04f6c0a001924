#!/usr/bin/python3
"""Writes an example LASSO problem for `physfit lasso` (inputs/lasso.ini):

    /usr/bin/python3 scripts/lasso/make_example.py [OUTPUT.h5] [--rows N] [--cols P] [--seed S]

/A (rows x cols, float64, row-major), /y (rows), /x_true (cols), and /groups (rows, int64): rows
come in groups of 12 (like the 3 x 4 force components of one configuration of 4 atoms), which
cross-validation holds out together. Columns span 2^-4 .. 2^4 in scale and are correlated
(0.5); 5 % of the true coefficients are nonzero. Needs numpy and h5py (Debian python3-h5py).
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from problems import Spec, generate  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output", nargs="?", default="results/lasso_example.h5")
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--cols", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--noise-exponent", type=int, default=-2)
    a = ap.parse_args()
    spec = Spec(rows=a.rows, cols=a.cols, seed=a.seed, scale_range=4, nonzeros=max(1, a.cols // 20),
                noise_exponent=a.noise_exponent)
    A, y, x = generate(spec)
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with h5py.File(a.output, "w") as f:
        f["A"] = A
        f["y"] = y
        f["x_true"] = x
        f["groups"] = np.arange(a.rows, dtype=np.int64) // 12
        for k, v in vars(spec).items():
            f.attrs[k] = v
    print("wrote %s: A %d x %d, %d nonzero true coefficients" % (a.output, a.rows, a.cols, np.count_nonzero(x)))


if __name__ == "__main__":
    main()
