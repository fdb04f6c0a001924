#!/usr/bin/python3
"""The regression example: energies of Lennard-Jones trimers.

Three atoms interact pairwise through the Lennard-Jones potential
V(r) = 4 eps ((sigma / r)^12 - (sigma / r)^6), in units eps = sigma = 1. A configuration is
described by its three interatomic distances (sorted, so that the description does not depend
on how the atoms are numbered), and the target is the total energy. This is the smallest case
of what machine-learned interatomic potentials do (fit an energy surface from geometric
descriptors), and the surface is strongly non-linear (repulsive wall, well at 2^(1/6)), so a
linear least-squares fit on the same descriptors is a poor baseline that a small network must
beat by a wide margin.

Writes lj_trimer_train.csv (8000 rows) and lj_trimer_test.csv (2000 rows) next to OUT_PREFIX.
    /usr/bin/python3 inputs/lj_trimer/generate.py results/lj_trimer
"""
import sys

import numpy as np


def configurations(n, rng):
    """Random triangles with every side in [0.95, 2.2] sigma."""
    out = []
    while len(out) < n:
        r = rng.uniform(0.95, 2.2, size=(4 * n, 3))
        ok = (r[:, 0] < r[:, 1] + r[:, 2]) & (r[:, 1] < r[:, 0] + r[:, 2]) & (r[:, 2] < r[:, 0] + r[:, 1])
        out.extend(r[ok])
    return np.sort(np.array(out[:n]), axis=1)


def energy(r):
    inv6 = r ** -6.0
    return (4.0 * (inv6 * inv6 - inv6)).sum(axis=1)


def main():
    prefix = sys.argv[1] if len(sys.argv) > 1 else "results/lj_trimer"
    rng = np.random.default_rng(2026)
    for part, n in (("train", 8000), ("test", 2000)):
        r = configurations(n, rng)
        e = energy(r)
        with open(f"{prefix}_{part}.csv", "w") as f:
            f.write("r1,r2,r3,energy\n")
            for ri, ei in zip(r, e):
                f.write("%.8f,%.8f,%.8f,%.8f\n" % (ri[0], ri[1], ri[2], ei))
        print(f"{prefix}_{part}.csv: {n} trimers, energy in [{e.min():.3f}, {e.max():.3f}] eps")


if __name__ == "__main__":
    main()
