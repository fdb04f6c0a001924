"""Checks the data of the crystals that are not fcc (scripts/data/make_crystals.py) against facts
that do not come from the script: spglib's space groups of the files as ASE reads them, the
potential's forces recomputed by LAMMPS, phonopy reading the files back, ASE's special points
and the geometry of the Brillouin zone, degeneracies the space group forces, the analytic
LO-TO splitting of the made-up Born charges, and the error of the exact harmonic model on the
random displacements. Run by CTest after the data are made (PHYSFIT_CRYSTAL_DATA = the
folder)."""

import itertools
import os
import sys
import unittest

import ase.io
import h5py
import numpy as np
import phonopy
import spglib
from ase.cell import Cell
from phonopy.file_IO import parse_FORCE_CONSTANTS, parse_FORCE_SETS
from phonopy.interface.vasp import read_vasp

DATA = os.environ.get("PHYSFIT_CRYSTAL_DATA", "/tmp/physfit-crystals")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "data"))
import make_crystals  # noqa: E402

# What each crystal is meant to be: space group, ASE's Bravais lattice, atoms in the POSCAR and
# the supercell, and whether the cell was relaxed (else it is strained on purpose).
INTENT = {
    "mg_hcp": dict(space_group=194, lattice="HEX", unit=2, supercell=96, relaxed_cell=True),
    "gan_wurtzite": dict(space_group=186, lattice="HEX", unit=4, supercell=72, relaxed_cell=True),
    "mg_monoclinic": dict(space_group=15, lattice="MCLC", unit=4, supercell=96, relaxed_cell=False),
    "si_orthorhombic": dict(space_group=74, lattice="ORCI", unit=4, supercell=72, relaxed_cell=False),
    "cuzr2_tetragonal": dict(space_group=139, lattice="BCT", unit=6, supercell=54, relaxed_cell=True),
}
# Relative error of phonopy's finite-displacement force constants on the random displacements
# (force RMSE / force RMS over all configurations), as measured with make_crystals.py's seeds.
HARMONIC_ERROR = {
    "mg_hcp": {0.01: 0.0163, 0.03: 0.0497, 0.1: 0.1565},
    "gan_wurtzite": {0.01: 0.0238, 0.03: 0.0717, 0.06: 0.1418},
    "mg_monoclinic": {0.01: 0.0162, 0.03: 0.0485, 0.1: 0.1558},
    "si_orthorhombic": {0.01: 0.0110, 0.03: 0.0329, 0.1: 0.1132},
    "cuzr2_tetragonal": {0.01: 0.0090, 0.03: 0.0273, 0.1: 0.1237},
}
# Special points of the hexagonal zone in the primitive reciprocal basis (../shared/FC-NOTES.md).
HEXAGONAL = {"G": (0, 0, 0), "M": (0.5, 0, 0), "K": (1 / 3, 1 / 3, 0), "A": (0, 0, 0.5),
             "L": (0.5, 0, 0.5), "H": (1 / 3, 1 / 3, 0.5)}
# SI constants for the LO-TO splitting.
E, EPS0, AMU = 1.602176634e-19, 8.8541878128e-12, 1.66053906660e-27


def path(name, *parts):
    return os.path.join(DATA, name, *parts)


def reference(name):
    with h5py.File(path(name, "phonopy_reference.h5"), "r") as f:
        out = {k: f[k][...] for k in ("force_constants", "special_points/qpoints",
                                      "special_points/frequencies", "path/qpoints",
                                      "path/frequencies", "structure/primitive_matrix",
                                      "finite_difference_0.03/special_frequencies")}
        out["labels"] = f["special_points"].attrs["labels"].split(",")
        out["path"] = f["path"].attrs["path"]
        out["attrs"] = dict(f.attrs)
        out["random"] = {g.attrs["amplitude"]: dict(g.attrs, energies=g["energies"][...])
                         for k, g in f.items() if k.startswith("random_")}
    return out


def load(name, **kwargs):
    """phonopy on the crystal's phonopy_disp.yaml (no NAC unless a BORN is given)."""
    kwargs.setdefault("is_nac", "born_filename" in kwargs)
    return phonopy.load(path(name, "phonopy_disp.yaml"), is_compact_fc=False, log_level=0, **kwargs)


def frequencies(ph, qpoints, **kwargs):
    ph.run_qpoints(qpoints, **kwargs)
    return ph.get_qpoints_dict()["frequencies"]


def spglib_cell(atoms):
    return atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers


def unmatched(a, b, tol=1e-4):
    """The values of sorted a and of sorted b left over when equal values (within tol) pair."""
    a, b = list(a), list(b)
    for x in list(a):
        match = [i for i, y in enumerate(b) if abs(x - y) < tol]
        if match:
            a.remove(x)
            b.pop(match[0])
    return a, b


def random_sets(name):
    """{amplitude: (displacements [N, n, 3], forces [N, n, 3])} from the type-2 FORCE_SETS."""
    n = INTENT[name]["supercell"]
    out = {}
    for amplitude in reference(name)["random"]:
        d = parse_FORCE_SETS(natom=n, filename=path(name, "random_%g" % amplitude, "FORCE_SETS"))
        out[amplitude] = (np.array(d["displacements"]), np.array(d["forces"]))
    return out


class Structures(unittest.TestCase):
    def test_space_groups_of_the_files_are_the_intended_ones(self):
        for name, intent in INTENT.items():
            with self.subTest(name):
                unit = ase.io.read(path(name, "POSCAR"), format="vasp")
                supercell = ase.io.read(path(name, "SPOSCAR"), format="vasp")
                self.assertEqual(len(unit), intent["unit"])
                self.assertEqual(len(supercell), intent["supercell"])
                for atoms in (unit, supercell):
                    dataset = spglib.get_symmetry_dataset(spglib_cell(atoms), symprec=1e-5)
                    self.assertEqual(dataset["number"], intent["space_group"])
                # A looser tolerance finds no higher symmetry: the structure is not accidentally
                # closer to its parent (hcp, diamond) than the strain makes it.
                loose = spglib.get_symmetry_dataset(spglib_cell(unit), symprec=1e-3)
                self.assertEqual(loose["number"], intent["space_group"])
                self.assertEqual(load(name, produce_fc=False).symmetry.get_dataset()["number"],
                                 intent["space_group"])

    def test_forces_vanish_at_the_ideal_positions_and_relaxed_cells_carry_no_stress(self):
        for name, intent in INTENT.items():
            with self.subTest(name):
                crystal = make_crystals.CRYSTALS[name]
                supercell = ase.io.read(path(name, "SPOSCAR"), format="vasp")
                pot = make_crystals.Potential(crystal, supercell.cell[:], supercell.get_chemical_symbols())
                _, forces, _ = pot(supercell.positions)
                self.assertLess(np.abs(forces).max(), 1e-9)
                unit = ase.io.read(path(name, "POSCAR"), format="vasp")
                pot = make_crystals.Potential(crystal, unit.cell[:], unit.get_chemical_symbols())
                _, forces, pressure = pot(unit.positions)
                self.assertLess(np.abs(forces).max(), 1e-9)
                gpa = pressure * 1e-4
                if intent["relaxed_cell"]:
                    self.assertLess(np.abs(gpa).max(), 1e-5)  # GPa: 0.1 bar
                else:  # strained on purpose: the stress the script reports, a few GPa at most
                    np.testing.assert_allclose(gpa, reference(name)["attrs"]["relaxed_pressure"],
                                               atol=1e-6)
                    self.assertGreater(np.abs(gpa).max(), 0.1)
                    self.assertLess(np.abs(gpa).max(), 5)

    def test_files_describe_one_structure_in_one_atom_order(self):
        for name in INTENT:
            with self.subTest(name):
                ph = load(name, produce_fc=False)
                poscar = ase.io.read(path(name, "POSCAR"), format="vasp")
                sposcar = ase.io.read(path(name, "SPOSCAR"), format="vasp")
                np.testing.assert_allclose(ph.unitcell.cell, poscar.cell[:], atol=1e-13)
                np.testing.assert_allclose(ph.unitcell.scaled_positions, poscar.get_scaled_positions(),
                                           atol=1e-13)
                self.assertEqual(list(ph.unitcell.symbols), poscar.get_chemical_symbols())
                np.testing.assert_allclose(ph.supercell.cell, sposcar.cell[:], atol=1e-12)
                self.assertEqual(list(ph.supercell.symbols), sposcar.get_chemical_symbols())
                diff = ph.supercell.scaled_positions - sposcar.get_scaled_positions()
                np.testing.assert_allclose(diff - np.round(diff), 0, atol=1e-13)
                # phonopy's supercell is the POSCAR cell times the supercell matrix.
                np.testing.assert_allclose(ph.supercell.cell, ph.supercell_matrix @ poscar.cell[:],
                                           atol=1e-12)
                np.testing.assert_allclose(ph.primitive_matrix,
                                           reference(name)["structure/primitive_matrix"])
                # FORCE_SETS (type 1) holds phonopy_disp.yaml's displacements.
                fs = parse_FORCE_SETS(natom=len(ph.supercell), filename=path(name, "FORCE_SETS"))
                self.assertEqual([d["number"] for d in fs["first_atoms"]],
                                 [d["number"] for d in ph.dataset["first_atoms"]])
                np.testing.assert_allclose([d["displacement"] for d in fs["first_atoms"]],
                                           [d["displacement"] for d in ph.dataset["first_atoms"]],
                                           atol=1e-15)

    def test_the_supercell_holds_the_third_neighbour_shell(self):
        # Half the shortest supercell lattice vector (the inscribed sphere of its Wigner-Seitz
        # cell) is beyond the third shell of neighbours (shells closer than 0.1 A merged).
        for name in INTENT:
            with self.subTest(name):
                sc = ase.io.read(path(name, "SPOSCAR"), format="vasp")
                lattice = sc.cell[:]
                n = np.array(list(itertools.product(range(-2, 3), repeat=3)))
                lengths = np.linalg.norm(n @ lattice, axis=1)
                radius = lengths[lengths > 0].min() / 2
                d = sc.get_all_distances(mic=True)[0]  # from atom 0; mic is exact below radius
                shells = []
                for r in np.sort(d[d > 0]):
                    if not shells or r - shells[-1] > 0.1:
                        shells.append(r)
                self.assertGreater(radius, shells[2] + 0.1, shells[:4])


class Reference(unittest.TestCase):
    def test_acoustic_modes_vanish_at_gamma_and_no_mode_is_imaginary(self):
        for name in INTENT:
            with self.subTest(name):
                ph = load(name, force_constants_filename=path(name, "FORCE_CONSTANTS"))
                gamma = frequencies(ph, [[0, 0, 0]])[0]
                self.assertLess(np.abs(gamma[:3]).max(), 1e-5)
                self.assertGreater(gamma[3], 1.0)  # optical modes are well away from zero
                self.assertLess(np.abs(ph.force_constants.sum(axis=1)).max(), 1e-10)
                ph.run_mesh([8, 8, 8], is_gamma_center=True)
                self.assertGreater(ph.get_mesh_dict()["frequencies"].min(), -1e-3)
                self.assertGreater(reference(name)["path/frequencies"].min(), -1e-3)

    def test_phonopy_reads_the_displacement_files_back_to_the_same_force_constants(self):
        for name in INTENT:
            with self.subTest(name):
                expected = parse_FORCE_CONSTANTS(path(name, "FORCE_CONSTANTS"))
                np.testing.assert_allclose(reference(name)["force_constants"], expected, atol=1e-14)
                ph = load(name, force_sets_filename=path(name, "FORCE_SETS"))
                np.testing.assert_allclose(ph.force_constants, expected, atol=1e-13)
                ph = phonopy.load(path(name, "phonopy_params.yaml"), is_nac=False,
                                  is_compact_fc=False, log_level=0)
                np.testing.assert_allclose(ph.force_constants, expected, atol=1e-8)
                # As `phonopy -c POSCAR --dim ... --pa ...` reads them.
                ph0 = load(name, produce_fc=False)
                ph = phonopy.load(unitcell_filename=path(name, "POSCAR"),
                                  supercell_matrix=ph0.supercell_matrix,
                                  primitive_matrix=ph0.primitive_matrix,
                                  force_sets_filename=path(name, "FORCE_SETS"), is_nac=False,
                                  is_compact_fc=False, log_level=0)
                np.testing.assert_allclose(ph.force_constants, expected, atol=1e-13)

    def test_force_constants_give_the_reference_frequencies(self):
        for name in INTENT:
            with self.subTest(name):
                ref = reference(name)
                ph = load(name, force_constants_filename=path(name, "FORCE_CONSTANTS"))
                # (to 1e-6 THz: the acoustic modes at Gamma are square roots of rounding errors)
                np.testing.assert_allclose(frequencies(ph, ref["special_points/qpoints"]),
                                           ref["special_points/frequencies"], atol=1e-6)
                np.testing.assert_allclose(frequencies(ph, ref["path/qpoints"]),
                                           ref["path/frequencies"], atol=1e-6)
                # Larger finite displacements move them by the anharmonicity: little, not zero.
                moved = np.abs(ref["finite_difference_0.03/special_frequencies"]
                               - ref["special_points/frequencies"]).max()
                self.assertGreater(moved, 1e-4)
                self.assertLess(moved, 0.03)

    def test_special_points_are_ases_in_phonopys_primitive_basis_and_on_the_zone_boundary(self):
        for name, intent in INTENT.items():
            with self.subTest(name):
                ref = reference(name)
                ph = load(name, produce_fc=False)
                primitive = ph.primitive.cell
                # phonopy's primitive cell is primitive_matrix^T applied to the POSCAR cell.
                poscar = ase.io.read(path(name, "POSCAR"), format="vasp")
                np.testing.assert_allclose(primitive, ref["structure/primitive_matrix"].T @ poscar.cell[:],
                                           atol=1e-12)
                self.assertEqual(len(ph.primitive) * 3, ref["special_points/frequencies"].shape[1])
                bandpath = Cell(primitive).bandpath(npoints=make_crystals.PATH_POINTS)
                self.assertEqual(bandpath.path, ref["path"])
                np.testing.assert_allclose(ref["path/qpoints"], bandpath.kpts, atol=1e-12)
                self.assertEqual(Cell(primitive).get_bravais_lattice().name, intent["lattice"])
                for label, q in zip(ref["labels"], ref["special_points/qpoints"]):
                    np.testing.assert_allclose(q, bandpath.special_points[label], atol=1e-12)
                self.assertEqual(sorted(ref["labels"]), sorted(bandpath.special_points))
                # Every special point but Gamma is on the surface of the first Brillouin zone:
                # as close to some other reciprocal lattice point as to the origin, to none
                # closer. A q-point in the wrong basis would miss it.
                recip = np.linalg.inv(primitive).T
                g = np.array(list(itertools.product(range(-3, 4), repeat=3))) @ recip
                g = g[np.linalg.norm(g, axis=1) > 0]
                for label, q in zip(ref["labels"], ref["special_points/qpoints"]):
                    if label == "G":
                        continue
                    k = q @ recip
                    margin = np.linalg.norm(k - g, axis=1) - np.linalg.norm(k)
                    self.assertAlmostEqual(margin.min(), 0, delta=1e-9, msg=label)
                if intent["lattice"] == "HEX":
                    self.assertEqual(ref["path"], "GMKGALHA,LM,KH")
                    for label, q in zip(ref["labels"], ref["special_points/qpoints"]):
                        np.testing.assert_allclose(q, HEXAGONAL[label], atol=1e-12)

    def test_the_six_fold_screw_pairs_every_band_on_the_top_face_of_the_hexagonal_zone(self):
        # With a 6_3 screw axis and time reversal, bands are degenerate in pairs on the plane
        # q_z = 1/2 (A, L, H): a property of the space group that phonopy's force constants
        # must show, and a check that A, L and H are where the labels say.
        for name in ("mg_hcp", "gan_wurtzite"):
            with self.subTest(name):
                ref = reference(name)
                for label, freqs in zip(ref["labels"], ref["special_points/frequencies"]):
                    if label in ("A", "L", "H"):
                        np.testing.assert_allclose(freqs[0::2], freqs[1::2], atol=1e-6, err_msg=label)
                # and not on the bottom face (M), where the screw gives no such pairing
                freqs = ref["special_points/frequencies"][ref["labels"].index("M")]
                self.assertGreater(np.abs(freqs[0::2] - freqs[1::2]).max(), 0.05)


class RandomDisplacements(unittest.TestCase):
    def test_files_hold_phonopys_random_displacements_and_the_same_numbers(self):
        for name in INTENT:
            with self.subTest(name):
                ref = reference(name)
                sposcar = ase.io.read(path(name, "SPOSCAR"), format="vasp")
                for amplitude, (u, forces) in random_sets(name).items():
                    info = ref["random"][amplitude]
                    self.assertEqual(u.shape, (info["configs"], len(sposcar), 3))
                    # phonopy's random displacements: every atom moved by the amplitude.
                    np.testing.assert_allclose(np.linalg.norm(u, axis=2), amplitude, atol=2e-8)
                    # phonopy regenerates them from the seed.
                    ph = load(name, produce_fc=False)
                    ph.generate_displacements(distance=amplitude, number_of_snapshots=int(info["configs"]),
                                              random_seed=int(info["seed"]))
                    np.testing.assert_allclose(ph.displacements, u, atol=6e-9)
                    disp = phonopy.load(path(name, "random_%g" % amplitude, "phonopy_disp.yaml"),
                                        produce_fc=False, is_nac=False, log_level=0)
                    np.testing.assert_allclose(disp.displacements, u, atol=6e-9)
                    self.assertNotIn("forces", disp.dataset)
                    frames = ase.io.read(path(name, "random_%g" % amplitude, "configs.extxyz"), ":")
                    self.assertEqual(len(frames), len(u))
                    for c in (0, len(u) - 1):
                        frame = frames[c]
                        np.testing.assert_allclose(frame.positions - sposcar.positions, u[c], atol=2e-8)
                        np.testing.assert_allclose(frame.get_forces(), forces[c], atol=2e-8)
                        self.assertEqual(frame.get_chemical_symbols(), sposcar.get_chemical_symbols())
                        energy = frame.get_potential_energy() - ref["attrs"]["ideal_energy"]
                        self.assertAlmostEqual(energy, info["energies"][c], delta=1e-8)
                    self.assertLess(np.abs(forces.sum(axis=1)).max(), 1e-6)  # 8 decimals per atom

    def test_forces_are_the_potentials_and_its_energy_gradient(self):
        for name in INTENT:
            with self.subTest(name):
                crystal = make_crystals.CRYSTALS[name]
                sposcar = ase.io.read(path(name, "SPOSCAR"), format="vasp")
                pot = make_crystals.Potential(crystal, sposcar.cell[:], sposcar.get_chemical_symbols())
                sets = random_sets(name)
                amplitude = max(sets)
                info = reference(name)["random"][amplitude]
                # the unrounded displacements (the file has 8 decimals), from phonopy and the seed
                ph = load(name, produce_fc=False)
                ph.generate_displacements(distance=amplitude, number_of_snapshots=int(info["configs"]),
                                          random_seed=int(info["seed"]))
                x = sposcar.positions + ph.displacements[3]
                _, f, _ = pot(x)
                np.testing.assert_allclose(f, sets[amplitude][1][3], atol=6e-9)
                h = 1e-5
                for atom, axis in ((0, 0), (len(x) // 2, 1), (len(x) - 1, 2)):
                    plus, minus = x.copy(), x.copy()
                    plus[atom, axis] += h
                    minus[atom, axis] -= h
                    derivative = (pot(plus)[0] - pot(minus)[0]) / (2 * h)
                    self.assertAlmostEqual(-derivative, f[atom, axis], delta=1e-6)

    def test_the_harmonic_model_error_grows_with_the_amplitude_as_measured(self):
        # phonopy's force constants predict the forces up to the anharmonic part: the relative
        # error grows linearly with the amplitude where the cubic term leads (0.01 to 0.03 A),
        # at least linearly beyond; the energy error is smaller than the force error.
        for name in INTENT:
            with self.subTest(name):
                ref = reference(name)
                fc = ref["force_constants"]
                n = fc.shape[0]
                phi = fc.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
                errors = {}
                for amplitude, (u, forces) in sorted(random_sets(name).items()):
                    u, forces = u.reshape(len(u), 3 * n), forces.reshape(len(u), 3 * n)
                    errors[amplitude] = np.sqrt(np.mean((forces + u @ phi.T) ** 2) / np.mean(forces ** 2))
                    harmonic = 0.5 * np.einsum("ci,ij,cj->c", u, phi, u)
                    energies = ref["random"][amplitude]["energies"]
                    energy_error = np.sqrt(np.mean((energies - harmonic) ** 2) / np.mean(energies ** 2))
                    self.assertLess(energy_error, errors[amplitude] / 3)
                    measured = HARMONIC_ERROR[name][amplitude]
                    self.assertAlmostEqual(errors[amplitude], measured, delta=0.1 * measured,
                                           msg="amplitude %g" % amplitude)
                amplitudes = sorted(errors)
                self.assertAlmostEqual(errors[0.03] / errors[0.01], 3, delta=0.3)
                ratio = errors[amplitudes[2]] / errors[amplitudes[1]]
                expected = amplitudes[2] / amplitudes[1]
                self.assertGreater(ratio, 0.9 * expected)
                self.assertLess(ratio, 1.5 * expected)


class PolarCrystal(unittest.TestCase):
    NAME = "gan_wurtzite"
    Z = {"Ga": np.diag([2.60, 2.60, 2.74]), "N": -np.diag([2.60, 2.60, 2.74])}
    EPSILON = np.diag([5.20, 5.20, 5.40])

    def test_born_charges_are_symmetric_under_the_space_group_and_neutral(self):
        ph = load(self.NAME, produce_fc=False, born_filename=path(self.NAME, "BORN"))
        born, epsilon = ph.nac_params["born"], ph.nac_params["dielectric"]
        np.testing.assert_allclose(epsilon, self.EPSILON, atol=1e-12)
        for z, symbol in zip(born, ph.primitive.symbols):
            np.testing.assert_allclose(z, self.Z[symbol], atol=1e-12)
        np.testing.assert_allclose(born.sum(axis=0), 0, atol=1e-12)
        # Two symmetry-independent atoms (one Ga, one N), one line each, in phonopy's order.
        with open(path(self.NAME, "BORN")) as f:
            rows = [line.split() for line in f if not line.startswith("#")]
        self.assertEqual(len(rows), 3)
        independent = ph.primitive_symmetry.get_independent_atoms()
        np.testing.assert_allclose(np.array(rows[1:], float).reshape(-1, 3, 3), born[independent],
                                   atol=1e-12)
        # Every rotation of the space group (Cartesian, from spglib on ASE's reading of the
        # POSCAR) leaves both tensors as they are.
        poscar = ase.io.read(path(self.NAME, "POSCAR"), format="vasp")
        lattice = poscar.cell[:]
        for r in spglib.get_symmetry(spglib_cell(poscar), symprec=1e-5)["rotations"]:
            rc = lattice.T @ r @ np.linalg.inv(lattice.T)
            for tensor in (self.Z["Ga"], self.EPSILON):
                np.testing.assert_allclose(rc @ tensor @ rc.T, tensor, atol=1e-12)
        # and phonopy's own symmetrisation changes nothing.
        from phonopy.structure.symmetry import symmetrize_borns_and_epsilon
        sym_born, sym_epsilon = symmetrize_borns_and_epsilon(
            born, epsilon, ph.primitive, primitive_matrix=np.eye(3))
        np.testing.assert_allclose(sym_born, born, atol=1e-12)
        np.testing.assert_allclose(sym_epsilon, epsilon, atol=1e-12)

    def test_lo_to_splitting_is_the_analytic_one_of_the_rigid_sublattice_modes(self):
        # At q -> 0 along z only the polar A1 mode (Ga against N along z; fixed by symmetry)
        # moves: w_LO^2 = w_TO^2 + 2 Z_zz^2 e^2 / (eps0 eps_zz V mu) for the two formula units
        # of volume V, mu the Ga-N reduced mass; along x the same with the E1 mode, Z_xx, eps_xx.
        ph = load(self.NAME, force_constants_filename=path(self.NAME, "FORCE_CONSTANTS"),
                  born_filename=path(self.NAME, "BORN"))
        analytic = load(self.NAME, force_constants_filename=path(self.NAME, "FORCE_CONSTANTS"))
        tos = frequencies(analytic, [[0, 0, 0]])[0]
        masses = dict(zip(ph.primitive.symbols, ph.primitive.masses))
        mu = masses["Ga"] * masses["N"] / (masses["Ga"] + masses["N"]) * AMU
        volume = ph.primitive.volume * 1e-30
        with h5py.File(path(self.NAME, "phonopy_reference.h5"), "r") as f:
            stored = {m: (f["nac"][m]["gamma_directions"][...], f["nac"][m]["gamma_frequencies"][...])
                      for m in ("gonze", "wang")}
        for direction, axis in (([0, 0, 1], 2), ([1, 0, 0], 0)):
            los = frequencies(ph, [[0, 0, 0]], nac_q_direction=direction)[0]
            gone, new = unmatched(tos, los)
            self.assertEqual((len(gone), len(new)), (1, 1), (tos, los))
            split = (2 * (self.Z["Ga"][axis, axis] * E) ** 2
                     / (EPS0 * self.EPSILON[axis, axis] * volume * mu)) / (2 * np.pi * 1e12) ** 2
            self.assertGreater(new[0], gone[0])
            self.assertAlmostEqual(new[0] ** 2 - gone[0] ** 2, split, delta=2e-4 * split)
            # the stored references, both NAC methods (equal at q -> 0)
            for method, (directions, freqs) in stored.items():
                row = [i for i, d in enumerate(directions) if np.allclose(d, direction)][0]
                np.testing.assert_allclose(freqs[row], los, atol=1e-5, err_msg=method)


if __name__ == "__main__":
    unittest.main()
