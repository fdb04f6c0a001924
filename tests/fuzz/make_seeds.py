#!/usr/bin/python3
"""Writes the seed corpus of the fuzz harnesses (tests/fuzz/corpus/<name>/): small real files of
each format, written by the programs people use (phonopy, ASE) for silicon's conventional cell
(8 atoms, the cell the harnesses map data onto), plus physfit's own example inputs. Run it
again only to change the seeds; the files are committed.

    /usr/bin/python3 tests/fuzz/make_seeds.py
"""
import gzip
import io
import os
import shutil
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
ROOT = os.path.dirname(os.path.dirname(HERE))
BOHR = 0.529177210903
RYDBERG = 13.605693122994


def path(name, file):
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, file)


def main():
    from ase.build import bulk
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write as ase_write
    from phonopy import Phonopy
    from phonopy.file_IO import write_FORCE_SETS
    from phonopy.interface.vasp import write_vasp
    from phonopy.structure.atoms import PhonopyAtoms

    rng = np.random.default_rng(7)
    si = bulk("Si", "diamond", a=5.43, cubic=True)
    unit = PhonopyAtoms(symbols=list(si.symbols), cell=si.cell[:], scaled_positions=si.get_scaled_positions())
    # VASP POSCAR (VASP 5) and a VASP 4 one (no species line) with a negative scale (volume).
    write_vasp(path("poscar", "POSCAR_vasp5"), unit)
    lines = open(path("poscar", "POSCAR_vasp5")).read().splitlines()
    vol = abs(np.linalg.det(si.cell[:]))
    vasp4 = ["Si", "-%.6f" % vol] + lines[2:5] + lines[6:]
    open(path("poscar", "POSCAR_vasp4"), "w").write("\n".join(vasp4) + "\n")
    sel = lines[:7] + ["Selective dynamics", "Cartesian"]
    for r in si.positions:
        sel.append("%.10f %.10f %.10f T T F" % tuple(r))
    open(path("poscar", "POSCAR_selective_cartesian"), "w").write("\n".join(sel) + "\n")

    # phonopy: type 1 data set (phonopy_disp.yaml, FORCE_SETS, phonopy_params.yaml).
    ph = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int), primitive_matrix="F")
    ph.generate_displacements(distance=0.01)
    ph.save(path("phonopy_yaml", "phonopy_disp.yaml"))
    n = len(ph.supercell)
    ph.forces = [rng.normal(scale=0.1, size=(n, 3)) for _ in ph.supercells_with_displacements]
    write_FORCE_SETS(ph.dataset, path("force_sets", "FORCE_SETS_type1"))
    ph.nac_params = {"born": np.array([np.eye(3) * 0.01] * 2), "dielectric": np.eye(3) * 13.0,
                     "factor": 14.4}
    ph.save(path("phonopy_yaml", "phonopy_params.yaml"), settings={"force_sets": True,
                                                                   "born_effective_charge": True,
                                                                   "dielectric_constant": True})
    # Type 2: random displacements of every atom.
    ph2 = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int))
    ph2.generate_displacements(distance=0.03, number_of_snapshots=2, random_seed=11)
    u2 = np.array(ph2.dataset["displacements"])
    f2 = rng.normal(scale=0.1, size=u2.shape)
    ph2.forces = f2
    write_FORCE_SETS(ph2.dataset, path("force_sets", "FORCE_SETS_type2"))
    ph2.save(path("phonopy_yaml", "phonopy_params_type2.yaml"))

    # Extended XYZ (ASE): the ideal cell, then two displaced ones with forces and energies.
    frames = []
    for k, (u, f) in enumerate(zip([np.zeros((n, 3))] + list(u2), [np.zeros((n, 3))] + list(f2))):
        a = si.copy()
        a.positions += u
        a.calc = SinglePointCalculator(a, forces=f, energy=-43.0 + 0.01 * k)
        frames.append(a)
    ase_write(path("extxyz", "si.extxyz"), frames, format="extxyz")
    ase_write(path("extxyz", "si_one.extxyz"), frames[1], format="extxyz")

    # ALAMODE: DFSET (Bohr, Ry/Bohr) and an input file.
    with open(path("dfset", "DFSET"), "w") as f:
        for c, (u, force) in enumerate(zip(u2, f2)):
            f.write("# snapshot %d\n" % (c + 1))
            for x, y in zip(u / BOHR, force * BOHR / RYDBERG):
                f.write("%15.8e %15.8e %15.8e %15.8e %15.8e %15.8e\n" % (*x, *y))
    with open(path("alamode", "si.alm.in"), "w") as f:
        f.write("&general\n  PREFIX = si; MODE = optimize\n  NAT = %d; NKD = 1\n  KD = Si\n"
                "  MASS = 28.0855\n/\n&interaction\n  NORDER = 1\n/\n&cell\n  %.10f\n" % (n, 1 / BOHR))
        for row in si.cell[:]:
            f.write("  %.10f %.10f %.10f\n" % tuple(row))
        f.write("/\n&cutoff\n  *-* None\n/\n&position\n")
        for p in si.get_scaled_positions():
            f.write("  1 %.10f %.10f %.10f\n" % tuple(p))
        f.write("/\n")

    # phonopy BORN: factor line, dielectric tensor, one independent atom (silicon); and the
    # same with G_cutoff and Lambda, and with a comment line instead of the factor.
    born = ["14.400", " ".join(["13.0", "0", "0", "0", "13.0", "0", "0", "0", "13.0"]),
            " ".join(["0.01", "0", "0", "0", "0.01", "0", "0", "0", "0.01"])]
    open(path("born", "BORN"), "w").write("\n".join(born) + "\n")
    open(path("born", "BORN_gcut"), "w").write("\n".join(["14.4 2.0 0.25"] + born[1:]) + "\n")
    open(path("born", "BORN_comment"), "w").write("\n".join(["# default factor"] + born[1:]) + "\n")

    # INI: physfit's example inputs (the small ones).
    for name in ["fc_si.ini", "lasso.ini", "fashion_mlp.ini", "selfcheck.ini"]:
        shutil.copy(os.path.join(ROOT, "inputs", name), path("ini", name))

    # CSV: a header and rows; no header with ';' (the harness reads both ways).
    with open(path("csv", "table.csv"), "w") as f:
        f.write("# energies\nx,y,energy\n")
        for r in rng.normal(size=(5, 3)):
            f.write("%.6g,%.6g,%.6g\n" % tuple(r))
    with open(path("csv", "plain.csv"), "w") as f:
        for r in rng.normal(size=(4, 2)):
            f.write("%.6g;%.6g\n" % tuple(r))

    # IDX: a few uint8 images (as Fashion-MNIST), labels, float32 data, and a gzip file.
    def idx(code, shape, payload):
        return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">i", s) for s in shape) + payload
    images = idx(0x08, [2, 4, 4], bytes(rng.integers(0, 256, 32, dtype=np.uint8)))
    open(path("idx", "images.idx"), "wb").write(images)
    open(path("idx", "labels.idx"), "wb").write(idx(0x08, [3], bytes([1, 7, 9])))
    open(path("idx", "float32.idx"), "wb").write(idx(0x0D, [2, 3], np.arange(6, dtype=">f4").tobytes()))
    open(path("idx", "int16.idx"), "wb").write(idx(0x0B, [3], np.array([-1, 2, 300], ">i2").tobytes()))
    open(path("idx", "float64.idx"), "wb").write(idx(0x0E, [2], np.array([0.5, -2], ">f8").tobytes()))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(images)
    open(path("idx", "images.idx.gz"), "wb").write(buf.getvalue())


if __name__ == "__main__":
    main()
