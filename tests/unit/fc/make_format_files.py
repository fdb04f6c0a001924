#!/usr/bin/python3
"""Writes the structure files the format unit tests read (tests/unit/fc/test_structure_io.cpp),
with the programs users have (Debian's phonopy 2.17 and ASE 3.22), and what those programs
make of them, as references:

    make_format_files.py OUTDIR

Crystals: wurtzite GaN (hexagonal, 2 species), rocksalt NaCl (fcc primitive cell), cubic
perovskite SrTiO3 (3 species). Files in OUTDIR:
  GaN_vasp5.POSCAR        phonopy's write_vasp (VASP 5, species line, Direct)
  GaN_vasp4.POSCAR        ASE, vasp5=False (no species line; species on the comment line)
  GaN_vasp4_nocomment.POSCAR  the same with a comment that names no species
  NaCl_sd_cart.POSCAR     ASE, Selective dynamics and Cartesian coordinates
  SrTiO3_negscale.POSCAR  ASE's POSCAR (Cartesian) with the scale replaced by minus the
                          volume, lattice and positions divided by 2 (VASP rescales both)
  NaCl.extxyz             ASE's extended XYZ, 2 frames with forces
  GaN_SPOSCAR_<tag>       phonopy's supercells of GaN_vasp5.POSCAR (read by phonopy): diag
                          (2 2 1) and nondiag ((1 1 0)(-1 1 0)(0 0 2));
  NaCl_SPOSCAR_cubic      the conventional cubic supercell of NaCl_sd_cart.POSCAR
                          ((-1 1 1)(1 -1 1)(1 1 -1))
  phonopy_disp.yaml       phonopy's GaN 2x2x1 type-1 displacements (no forces)
  phonopy_params_type1.yaml   the same with forces, Born charges and dielectric tensor
  phonopy_params_type2.yaml   random displacements (type 2) with forces
  GaN.alamode.in          an ALAMODE input for the GaN 2x2x1 supercell (&cell in Bohr)
  reference.h5            the references (below)

reference.h5: /<name>/{lattice, positions, numbers, masses, symbols} for each structure as its
writer (or phonopy/ASE reading it) has it; /<yaml>/{displacements, forces, atoms} for the
data sets; /nac/{born, dielectric, factor}; /phonopy_weights [119] (phonopy's default mass of
each atomic number, NaN where it has none). Masses are phonopy's defaults (not ASE's)."""
import os
import sys

import h5py
import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixAtoms
from ase.io import write as ase_write
from phonopy import Phonopy
from phonopy.interface.vasp import read_vasp, write_vasp
from phonopy.structure.atoms import PhonopyAtoms, atom_data

BOHR = 0.529177210903


def gan():
    a, c, u = 3.19, 5.19, 0.377
    lattice = [[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]]
    frac = [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, u], [2 / 3, 1 / 3, 0.5 + u]]
    return PhonopyAtoms(symbols=["Ga", "Ga", "N", "N"], cell=lattice, scaled_positions=frac)


def srtio3():
    return Atoms("SrTiO3", cell=np.eye(3) * 3.905, pbc=True,
                 scaled_positions=[[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])


def default_masses(symbols):
    weight = {row[1]: row[3] for row in atom_data}
    return np.array([weight[s] for s in symbols])


def store(ref, name, lattice, positions, symbols, masses=None):
    g = ref.create_group(name)
    g["lattice"] = np.asarray(lattice, float)
    g["positions"] = np.asarray(positions, float)
    g["symbols"] = np.array(list(symbols), dtype="S")
    g["masses"] = default_masses(symbols) if masses is None else np.asarray(masses, float)


def main(out):
    os.makedirs(out, exist_ok=True)
    ref = h5py.File(os.path.join(out, "reference.h5"), "w")
    ref["phonopy_weights"] = np.array([np.nan if r[3] is None else r[3] for r in atom_data])

    unit = gan()
    write_vasp(os.path.join(out, "GaN_vasp5.POSCAR"), unit)
    store(ref, "GaN", unit.cell, unit.positions, unit.symbols)
    atoms = Atoms(unit.symbols, cell=unit.cell, scaled_positions=unit.scaled_positions, pbc=True)
    ase_write(os.path.join(out, "GaN_vasp4.POSCAR"), atoms, format="vasp", vasp5=False)
    with open(os.path.join(out, "GaN_vasp4.POSCAR")) as f:
        lines = f.readlines()
    lines[0] = "wurtzite from a VASP 4 run\n"
    with open(os.path.join(out, "GaN_vasp4_nocomment.POSCAR"), "w") as f:
        f.writelines(lines)

    a = bulk("NaCl", "rocksalt", a=5.64)
    a.set_constraint(FixAtoms([0]))
    ase_write(os.path.join(out, "NaCl_sd_cart.POSCAR"), a, format="vasp", direct=False)
    store(ref, "NaCl", a.cell[:], a.positions, a.get_chemical_symbols())

    s = srtio3()
    ase_write(os.path.join(out, "SrTiO3.POSCAR"), s, format="vasp")
    with open(os.path.join(out, "SrTiO3.POSCAR")) as f:
        lines = f.readlines()
    volume = abs(np.linalg.det(s.cell[:]))
    lines[1] = " %.12f\n" % -volume
    first = [k for k, l in enumerate(lines) if l.strip().lower().startswith("c")][-1] + 1
    for k in [2, 3, 4] + list(range(first, len(lines))):  # lattice and Cartesian positions
        lines[k] = " ".join("%.16f" % (float(x) / 2) for x in lines[k].split()) + "\n"
    with open(os.path.join(out, "SrTiO3_negscale.POSCAR"), "w") as f:
        f.writelines(lines)
    os.remove(os.path.join(out, "SrTiO3.POSCAR"))
    store(ref, "SrTiO3", s.cell[:], s.positions, s.get_chemical_symbols())

    # Extended XYZ, two frames with forces and energies (ASE's writer).
    rng = np.random.default_rng(5)
    frames = []
    for k in range(2):
        b = bulk("NaCl", "rocksalt", a=5.64).repeat((2, 1, 1))
        b.positions += rng.normal(0, 0.02 * k, b.positions.shape)
        b.calc = SinglePointCalculator(b, energy=-1.5 * k, forces=rng.normal(0, 0.1, (len(b), 3)))
        frames.append(b)
    ase_write(os.path.join(out, "NaCl.extxyz"), frames, format="extxyz")
    store(ref, "NaCl_xyz", frames[0].cell[:], frames[0].positions, frames[0].get_chemical_symbols())

    # phonopy's supercells, diagonal and not.
    # phonopy reads the unit cell from the same POSCAR physfit reads (its atom order depends on
    # the coordinates as written, e.g. Cl of NaCl at fractional (-1/2, 1/2, 1/2)).
    for tag, poscar, smat in (
            ("GaN_SPOSCAR_diag", "GaN_vasp5.POSCAR", [[2, 0, 0], [0, 2, 0], [0, 0, 1]]),
            ("GaN_SPOSCAR_nondiag", "GaN_vasp5.POSCAR", [[1, 1, 0], [-1, 1, 0], [0, 0, 2]]),
            ("NaCl_SPOSCAR_cubic", "NaCl_sd_cart.POSCAR", [[-1, 1, 1], [1, -1, 1], [1, 1, -1]])):
        ph = Phonopy(read_vasp(os.path.join(out, poscar)), supercell_matrix=smat)
        write_vasp(os.path.join(out, tag), ph.supercell)
        store(ref, tag, ph.supercell.cell, ph.supercell.positions, ph.supercell.symbols)
        ref[tag]["supercell_matrix"] = np.array(smat)

    # phonopy's YAML files.
    ph = Phonopy(gan(), supercell_matrix=[2, 2, 1])
    ph.generate_displacements(distance=0.02)
    ph.save(os.path.join(out, "phonopy_disp.yaml"))
    n = len(ph.supercell)
    forces = rng.normal(0, 0.5, (len(ph.supercells_with_displacements), n, 3))
    ph.forces = forces
    born = np.array([np.diag([2.7, 2.7, 2.8]), np.diag([2.7, 2.7, 2.8]),
                     -np.diag([2.7, 2.7, 2.8]), -np.diag([2.7, 2.7, 2.8])])
    ph.nac_params = {"born": born, "dielectric": np.diag([5.2, 5.2, 5.4]), "factor": 14.399652}
    ph.save(os.path.join(out, "phonopy_params_type1.yaml"))
    store(ref, "GaN_221", ph.supercell.cell, ph.supercell.positions, ph.supercell.symbols)
    g = ref.create_group("type1")
    g["atoms"] = [d["number"] for d in ph.dataset["first_atoms"]]
    u = np.zeros((len(forces), n, 3))
    for k, d in enumerate(ph.dataset["first_atoms"]):
        u[k, d["number"]] = d["displacement"]
    g["displacements"] = u
    g["forces"] = forces
    ref["nac/born"] = born
    ref["nac/dielectric"] = np.diag([5.2, 5.2, 5.4])
    ref["nac/factor"] = 14.399652

    ph2 = Phonopy(gan(), supercell_matrix=[2, 2, 1])
    ph2.generate_displacements(distance=0.03, number_of_snapshots=3, random_seed=7)
    f2 = rng.normal(0, 0.5, (3, n, 3))
    ph2.forces = f2
    ph2.save(os.path.join(out, "phonopy_params_type2.yaml"))
    g = ref.create_group("type2")
    g["displacements"] = ph2.dataset["displacements"]
    g["forces"] = f2

    # An ALAMODE input for the same supercell (alm's format: &cell factor in Bohr).
    sc = ph.supercell
    kinds = ["Ga", "N"]
    with open(os.path.join(out, "GaN.alamode.in"), "w") as f:
        f.write("&general\n  PREFIX = gan; MODE = suggest\n  NAT = %d; NKD = 2  # two kinds\n"
                "  KD = Ga N\n  MASS = 69.723 14.0067\n/\n\n" % n)
        f.write("&interaction\n  NORDER = 1\n/\n\n&cell\n  %.15f  # 1 Angstrom in Bohr\n" %
                (1 / BOHR))
        for row in sc.cell:
            f.write("  %.15f %.15f %.15f\n" % tuple(row))
        f.write("/\n\n&cutoff\n  *-* None\n/\n\n&position\n")
        for sym, p in zip(sc.symbols, sc.scaled_positions):
            f.write("  %d %.15f %.15f %.15f\n" % (kinds.index(sym) + 1, *p))
        f.write("/\n")
    ref.close()


if __name__ == "__main__":
    main(sys.argv[1])
