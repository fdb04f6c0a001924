#!/usr/bin/python3
"""Makes a 512-atom silicon data set (4x4x4 conventional supercell, Stillinger-Weber forces from
LAMMPS, Gaussian rattles) for the force-constant scale benchmark, in physfit's HDF5 layout.

    bench/fc/make_si512.py OUT.h5 [--configs 8] [--sigma 0.03] [--seed 5]
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "data"))
import make_si  # noqa: E402
from phonopy import Phonopy  # noqa: E402
from phonopy.structure.atoms import PhonopyAtoms  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--configs", type=int, default=8)
    p.add_argument("--sigma", type=float, default=0.03)
    p.add_argument("--seed", type=int, default=5)
    a = p.parse_args()
    unit = PhonopyAtoms(symbols=["Si"] * 8, cell=np.eye(3) * make_si.A0,
                        scaled_positions=make_si.CONVENTIONAL, masses=[make_si.MASS] * 8)
    ph = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * 4,
                 primitive_matrix=[[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    sw = make_si.StillingerWeber(ph.supercell.cell, ph.supercell.positions)
    e0, _ = sw(ph.supercell.positions)
    rng = np.random.default_rng(a.seed)
    u = rng.normal(0, a.sigma, (a.configs, len(ph.supercell), 3))
    forces = np.empty_like(u)
    energies = np.empty(a.configs)
    for c in range(a.configs):
        e, f = sw(ph.supercell.positions + u[c])
        energies[c], forces[c] = e - e0, f
    with h5py.File(a.out, "w") as f:
        make_si.write_structure(f, ph)
        f["configs/displacements"] = u
        f["configs/forces"] = forces
        f["configs/energies"] = energies


if __name__ == "__main__":
    main()
