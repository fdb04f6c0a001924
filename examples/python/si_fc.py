#!/usr/bin/python3
"""Silicon force constants from ASE objects with physfit.fc, and its phonon bands (matplotlib).

    PYTHONPATH=build/python python3 examples/python/si_fc.py build/tests/data/si si_bands.png

The data are those of the quick start (scripts/data/make_si.py DIR makes them): the ideal
64-atom supercell (si64_rattle_0.01.h5's /structure) and supercells with every atom rattled by
0.01 Angstrom, with Stillinger-Weber forces, as extended XYZ (ase.io.read attaches the forces).
The fit is physfit fc's: orders 2 (every pair) and 3 (nearest-neighbour triplets), LASSO with
5-fold cross-validation. The bands are phonopy's, from r.to_phonopy(); the reference is
phonopy's finite-displacement result with the same potential (si64_phonopy.h5), drawn as
points. With --check the script fails if the fitted frequencies miss phonopy's by more than
0.1 THz at its special points, or if the PNG is not written (the test suite runs it so).
Under mpirun (mpi4py) every rank reads the data and the fit is shared; rank 0 plots.
"""

import argparse
import os
import sys

import ase.io
import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import physfit  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="folder of scripts/data/make_si.py's files")
    parser.add_argument("png", help="the figure to write")
    parser.add_argument("--check", action="store_true", help="fail if the bands are wrong")
    args = parser.parse_args()

    # The ideal supercell, as ase.Atoms, and the displaced ones with their forces.
    with h5py.File(os.path.join(args.data, "si64_rattle_0.01.h5"), "r") as f:
        s = f["structure"]
        ideal = ase.Atoms(numbers=s["numbers"][...], positions=s["positions"][...],
                          cell=s["lattice"][...], pbc=True, masses=s["masses"][...])
    displaced = ase.io.read(os.path.join(args.data, "si64_rattle_0.01.extxyz"), index=":60")

    r = physfit.fc.fit(ideal, displaced, clusters_cutoffs=[-1, 3.0], fit_method="lasso",
                       path_count=30, configs_train=50, configs_test=10)
    rank = physfit.mpi_rank()
    if rank == 0:
        print("space group %s, %d parameters; lambda %.3g (CV minimum of %d lambdas)"
              % (r.spacegroup, r.parameters, r["lambda"], len(r.cv["lambda"])))
        print("force RMSE: training %.2e eV/A, CV %.2e, held-out %.2e (%.2f %% of the force RMS)"
              % (r.errors.train_rmse, r.errors.cv_rmse, r.errors.test["rmse"],
                 100 * r.errors.test["relative"]))
        print("fc2 %s eV/A^2, fc3 %s eV/A^3" % (r.fc2.shape, r.fc3_compact.shape))
    phonon = r.to_phonopy()

    # q in Cartesian coordinates (1/Angstrom, no 2 pi) -> reduced in the primitive basis.
    a0 = np.linalg.norm(ideal.cell[0]) / 2  # the conventional cube's edge
    primitive = np.array(phonon.primitive.cell)
    reduced = lambda q_cart: np.asarray(q_cart) @ primitive.T  # noqa: E731
    points = {"G": (0, 0, 0), "X": (1, 0, 0), "X'": (1, 1, 0), "K": (0.75, 0.75, 0),
              "L": (0.5, 0.5, 0.5)}
    segments = [("G", "X"), ("X'", "K"), ("K", "G"), ("G", "L")]
    distance, frequencies, ticks = [], [], [0.0]
    start = 0.0
    for p, q in segments:
        a, b = np.array(points[p]) / a0, np.array(points[q]) / a0
        t = np.linspace(0, 1, 41)[:, None]
        qs = a + t * (b - a)
        phonon.run_qpoints(reduced(qs))
        frequencies.append(phonon.get_qpoints_dict()["frequencies"])
        distance.append(start + t[:, 0] * np.linalg.norm(b - a))
        start += np.linalg.norm(b - a)
        ticks.append(start)

    # phonopy's reference at its special points (reduced in its own primitive basis).
    with h5py.File(os.path.join(args.data, "si64_phonopy.h5"), "r") as f:
        ref_q = f["qpoints"][...]
        ref = f["frequencies"][...]
        names = f["qpoints"].attrs["names"]
        names = (names.decode() if isinstance(names, bytes) else names).split(",")
        unit = f["structure/unit_lattice"][...]
        pmat = f["structure/primitive_matrix"][...]
    ref_primitive = pmat.T @ unit
    ref_cart = np.linalg.solve(ref_primitive, ref_q.T).T
    phonon.run_qpoints(reduced(ref_cart))
    fitted = phonon.get_qpoints_dict()["frequencies"]
    worst = np.abs(fitted - ref).max()

    if rank == 0:
        for name, f_fit, f_ref in zip(names, fitted, ref):
            print("%-2s fitted %s THz\n   phonopy %s" % (name, " ".join("%7.3f" % v for v in f_fit),
                                                       " ".join("%7.3f" % v for v in f_ref)))
        print("largest difference from phonopy at its special points: %.4f THz" % worst)
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for d, f in zip(distance, frequencies):
            ax.plot(d, f, color="C0", lw=1.2)
        ax.plot([], [], color="C0", label="physfit.fc (LASSO, orders 2-3)")
        at = {"G": 0.0, "X": ticks[1], "K": ticks[2], "L": ticks[4]}
        for name, f_ref in zip(names, ref):
            if name in at:
                ax.plot([at[name]] * len(f_ref), f_ref, "o", color="C3", ms=4,
                        label="phonopy (finite displacements)" if name == "G" else None)
        ax.set_xticks(ticks)
        ax.set_xticklabels(["$\\Gamma$", "X", "K", "$\\Gamma$", "L"])
        for x in ticks:
            ax.axvline(x, color="0.8", lw=0.8)
        ax.set_xlim(ticks[0], ticks[-1])
        ax.set_ylim(0, 1.18 * max(f.max() for f in frequencies))
        ax.set_ylabel("frequency (THz)")
        ax.set_title("Si (Stillinger-Weber), 64-atom supercell")
        ax.legend(loc="upper center", ncol=2, fontsize=8)
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.path.abspath(args.png)), exist_ok=True)
        fig.savefig(args.png, dpi=120)
        print("bands written to", args.png)
        if args.check:
            with open(args.png, "rb") as f:
                head = f.read(8)
            size = os.path.getsize(args.png)
            if head != b"\x89PNG\r\n\x1a\n" or size < 10000:
                sys.exit("check: %s is not a PNG of bands (%d bytes)" % (args.png, size))
            if not worst < 0.1:
                sys.exit("check: the fitted frequencies miss phonopy's by %.3g THz" % worst)
            print("check: passed")


if __name__ == "__main__":
    main()
