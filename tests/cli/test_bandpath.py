"""Special points and band paths of any crystal (`physfit phonons`, issue 10 point 2), against
independent references computed here: ASE's Setyawan-Curtarolo Brillouin zones
(`Cell.bandpath()`, `ase.lattice`, Debian's python3-ase) for all 25 cases of the 14 Bravais
lattices, in standard and non-standard primitive bases; phonopy's frequencies (Debian's
python3-phonopy) at the same Cartesian wave vectors for non-fcc crystals and for silicon whose
primitive cell physfit finds itself; phonopy's unit conversions. Run by CTest (one test per
class) with PHYSFIT_BIN, MPIEXEC, PHYSFIT_SI_DATA and PHYSFIT_TEST_SCRATCH in the environment.

How physfit's points are compared with ASE's (see include/physfit/fc/bandpath.hpp):
  * physfit's standard cell (parameters and primitive vectors) must be one ASE accepts as
    Setyawan-Curtarolo-conventional for that lattice (ASE raises UnconventionalLattice
    otherwise), with the same case, the same metric, and the same special points in that
    cell's reciprocal basis, label by label;
  * in the crystal's own basis, each label's Cartesian wave vector must equal the one ASE's
    `Cell.bandpath()` gives for the same cell, up to one operation of the lattice's point group
    (the same for all labels; equivalent choices of the standard cell) and a reciprocal lattice
    vector. Triclinic lattices are the exception: ASE and physfit choose different (equally
    valid) reduced cells, so there the set of points is compared (Gamma and the seven half
    reciprocal lattice vectors), and the labels through the first check.
"""

import os
import unittest

import h5py
import numpy as np
import spglib
from ase.cell import Cell
from ase.dft.kpoints import parse_path_string
from ase import lattice as asel

from harness import physfit, scratch, summary

DATA = os.environ.get("PHYSFIT_SI_DATA", "/tmp/physfit-si")
RNG = np.random.default_rng(2024)


def unimodular(rng):
    while True:
        m = rng.integers(-2, 3, (3, 3))
        if round(abs(np.linalg.det(m))) == 1:
            return m


def rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    return q if np.linalg.det(q) > 0 else -q


def tri(kcellpar):
    """A triclinic lattice from the parameters of its reciprocal cell (as ASE's examples)."""
    cell = Cell.fromcellpar(kcellpar)
    return asel.TRI(*Cell(4 * cell.reciprocal()).cellpar())


def mclc_kgamma_90(b, c, alpha):
    # MCLC2: k_gamma = 90 degrees when a = b sin(alpha).
    return asel.MCLC(b * np.sin(np.radians(alpha)), b, c, alpha)


def mclc4(b, c, alpha):
    # MCLC4: b cos(alpha)/c + b^2 sin^2(alpha)/a^2 = 1 (with k_gamma < 90).
    s, co = np.sin(np.radians(alpha)), np.cos(np.radians(alpha))
    return asel.MCLC(b * s / np.sqrt(1 - b * co / c), b, c, alpha)


ORCF_A0 = 1 / np.sqrt(1 / 4.0**2 + 1 / 5.0**2)  # ORCF3: 1/a^2 = 1/b^2 + 1/c^2
LATTICES = {
    "Cubic": [asel.CUB(3.1), asel.FCC(5.43), asel.BCC(3.3)],
    "Tetragonal": [asel.TET(3.0, 5.0), asel.BCT(4.0, 3.0), asel.BCT(3.0, 5.0)],
    "Orthorhombic": [asel.ORC(3, 4, 5), asel.ORCF(2.5, 4, 5), asel.ORCF(3.6, 4, 5),
                     asel.ORCF(ORCF_A0, 4, 5), asel.ORCI(3, 4, 5), asel.ORCC(3, 4, 5)],
    "Hexagonal": [asel.HEX(3.0, 5.0), asel.RHL(3.0, 55.0), asel.RHL(3.0, 105.0)],
    "Monoclinic": [asel.MCL(3, 4, 5, 70), asel.MCLC(3, 4, 5, 80), mclc_kgamma_90(4, 5, 80),
                   asel.MCLC(5.4, 4, 10, 80), mclc4(4, 10, 80), asel.MCLC(4, 4, 4.4, 70)],
    # Reciprocal cells already Niggli-reduced (TRI1a, TRI1b, TRI2a, TRI2b), then ASE's own
    # examples, which are not.
    "Triclinic": [tri([1., 1.2, 1.4, 100., 105., 95.]), tri([1., 1.2, 1.4, 80., 75., 85.]),
                  tri([1., 1.2, 1.4, 100., 105., 90.]), tri([1., 1.2, 1.4, 80., 75., 90.]),
                  tri([1., 1.2, 1.4, 120., 110., 100.]), tri([1., 1.2, 1.4, 50., 60., 70.]),
                  tri([1., 1.2, 1.4, 120., 110., 90.]), tri([1., 1.2, 1.4, 50., 60., 90.])],
}


def expected_variant(lat):
    """The case physfit must find. For triclinic lattices the case depends on the reduced cell
    chosen; physfit's rule (bandpath.hpp): the reciprocal lattice Niggli-reduced has all angles
    acute (TRI1b), all obtuse (TRI1a) or one right and two obtuse (TRI2a; TRI2b is the same
    lattice with b3 reversed)."""
    if lat.name != "TRI":
        return lat.variant
    reduced = spglib.niggli_reduce(lat.tocell().reciprocal()[:])
    cosines = np.array(Cell(reduced).cellpar()[3:]) * np.pi / 180
    cosines = np.cos(cosines)
    if (np.abs(cosines) < 1e-5).any():
        return "TRI2a"
    return "TRI1a" if (cosines < 0).all() else "TRI1b"


def conventional_cell(lat):
    """ASE's conventional cell of a lattice (same Cartesian frame; the hexagonal cell for RHL)
    and its lattice points."""
    primitive = lat.tocell()[:]
    conventional = lat.conventional().tocell()[:]
    if lat.name == "RHL":  # the hexagonal triple cell (obverse), as hexagonal-setting files
        conventional = np.array([[1, -1, 0], [0, 1, -1], [1, 1, 1]]) @ primitive
    ratio = int(round(abs(np.linalg.det(conventional) / np.linalg.det(primitive))))
    points = []
    for n in np.ndindex(5, 5, 5):
        r = (np.array(n) - 2) @ primitive
        f = r @ np.linalg.inv(conventional)
        if (f > -1e-9).all() and (f < 1 - 1e-9).all():
            points.append(r)
    assert len(points) == ratio, (lat, len(points), ratio)
    return conventional, np.array(points)


def write_cell(path, lattice, primitive=None, positions=None, numbers=None, masses=None):
    """A physfit /structure: the cell `lattice` (rows) with its atoms (one at the origin by
    default) and, when given, the primitive lattice physfit must use."""
    positions = np.zeros((1, 3)) if positions is None else positions
    numbers = np.full(len(positions), 14) if numbers is None else numbers
    masses = np.full(len(positions), 28.0855) if masses is None else masses
    with h5py.File(path, "w") as f:
        g = f.create_group("structure")
        g["lattice"] = lattice
        g["positions"] = positions
        g["numbers"] = np.asarray(numbers, dtype=np.int32)
        g["masses"] = np.asarray(masses, dtype=float)
        if primitive is not None:
            g["primitive_lattice"] = primitive


def list_points(test, structure):
    r = physfit("phonons", "--structure.file", structure, "--bands.list-points", "--json")
    test.assertEqual(r.returncode, 0, r.stderr)
    return summary(r)["lattice"]


def cartesian(q, lattice):
    return np.asarray(q, float) @ np.linalg.inv(lattice).T  # k = sum q_i b_i (no 2 pi)


def same_modulo_reciprocal(k1, k2, lattice, tol=1e-8):
    d = lattice @ (k1 - k2)  # reduced coordinates of the difference
    return np.abs(d - np.round(d)).max() < tol


def point_group(lattice):
    """Cartesian rotations of the lattice's point group (a one-atom crystal has it whole)."""
    sym = spglib.get_symmetry((lattice, [[0, 0, 0]], [1]), symprec=1e-5)
    return [lattice.T @ w @ np.linalg.inv(lattice.T) for w in sym["rotations"]]


def ase_lattice_of(zone):
    """ASE's lattice object for physfit's standard cell parameters (raises
    UnconventionalLattice when they are outside Setyawan and Curtarolo's conventions)."""
    p = zone["parameters"]
    cls = getattr(asel, zone["lattice"])
    names = cls.parameters
    return cls(**{n: p[n] for n in names})


class ZoneChecks:
    family = None

    def check_standard_cell(self, zone, expected_variant):
        """physfit's standard cell is SC-conventional for ASE, with ASE's points."""
        lat = ase_lattice_of(zone)
        self.assertEqual(zone["variant"], lat.variant)
        self.assertEqual(zone["variant"], expected_variant)
        ours = np.array(zone["standard_primitive"])
        theirs = lat.tocell()[:]
        np.testing.assert_allclose(ours @ ours.T, theirs @ theirs.T, atol=1e-8)
        ase_points = lat.get_special_points()
        self.assertEqual(set(zone["points_standard"]), set(ase_points))
        for label, q in zone["points_standard"].items():
            np.testing.assert_allclose(q, ase_points[label], atol=1e-9, err_msg=label)
        self.assertEqual(parse_path_string(zone["path"].replace("|", ",").replace("-", "")),
                         parse_path_string(lat.special_path))
        # The crystal-basis points are the standard ones, expressed in the crystal's basis.
        primitive = np.array(zone["primitive_lattice"])
        for label, q in zone["points"].items():
            np.testing.assert_allclose(cartesian(q, primitive),
                                       cartesian(zone["points_standard"][label], ours),
                                       atol=1e-9, err_msg=label)

    def check_against_ase_bandpath(self, zone, primitive=None):
        """Each label at ASE's Cartesian wave vector for the same cell (or `primitive`, the
        lattice's primitive cell when physfit was given a larger one), up to one lattice
        point-group operation and reciprocal lattice vectors."""
        given = np.array(zone["primitive_lattice"])
        primitive = given if primitive is None else primitive
        bandpath = Cell(primitive).bandpath(npoints=0)
        ours = {k: cartesian(q, given) for k, q in zone["points"].items()}
        theirs = {k: cartesian(q, primitive) for k, q in bandpath.special_points.items()}
        if zone["lattice"] == "TRI":
            # Different reduced cells: the same eight points, labelled differently.
            for k in ours.values():
                self.assertTrue(any(same_modulo_reciprocal(k, t, primitive)
                                    for t in theirs.values()))
            self.assertEqual(len(ours), len(theirs))
            return None
        self.assertEqual(set(ours), set(theirs))
        for r in point_group(primitive):
            if all(same_modulo_reciprocal(r @ ours[k], theirs[k], primitive) for k in ours):
                return r
        self.fail(f"{zone['variant']}: no point-group operation maps physfit's points onto "
                  f"ASE's:\n{zone['points']}\n{bandpath.special_points}")

    def run_family(self):
        d = scratch(self)
        for n, lat in enumerate(LATTICES[self.family]):
            variant = expected_variant(lat)
            standard = lat.tocell()[:]
            # 1. The standard cell, physfit finding the primitive basis itself.
            path = os.path.join(d, f"{n}_found.h5")
            write_cell(path, standard)
            zone = list_points(self, path)
            with self.subTest(lattice=str(lat), basis="found"):
                self.check_standard_cell(zone, variant)
                self.check_against_ase_bandpath(zone)
                if zone["lattice"] != "TRI":
                    got = ase_lattice_of(zone).vars()
                    want = Cell(np.array(zone["primitive_lattice"])).get_bravais_lattice().vars()
                    for key, value in want.items():
                        self.assertAlmostEqual(got[key], value, places=6, msg=key)
            # 2. The conventional cell of a centred lattice given as "primitive" (as phonopy's
            # unit cell without a primitive matrix): the same wave vectors, in its basis.
            conventional, points = conventional_cell(lat)
            if len(points) > 1:
                path = os.path.join(d, f"{n}_conventional.h5")
                write_cell(path, conventional, primitive=conventional, positions=points,
                           numbers=[14] * len(points), masses=[28.0855] * len(points))
                zone = list_points(self, path)
                with self.subTest(lattice=str(lat), basis="conventional"):
                    self.assertEqual(zone["cells"], len(points))
                    self.check_standard_cell(zone, variant)
                    self.check_against_ase_bandpath(zone, primitive=standard)
            # 3. A random unimodular change of basis in a rotated Cartesian frame, given as
            # the primitive lattice.
            cell = unimodular(RNG) @ standard @ rotation(RNG).T
            path = os.path.join(d, f"{n}_given.h5")
            write_cell(path, cell, primitive=cell)
            zone = list_points(self, path)
            with self.subTest(lattice=str(lat), basis="unimodular, rotated"):
                np.testing.assert_allclose(zone["primitive_lattice"], cell, atol=1e-12)
                self.check_standard_cell(zone, variant)
                self.check_against_ase_bandpath(zone)


    def check_polar_crystal(self, lat, fractional, numbers, spacegroup):
        """A two-species crystal on lattice `lat` (atoms at conventional fractional
        coordinates, repeated on every lattice point) whose space group is `spacegroup`:
        physfit finds its primitive cell, and its zone is the lattice's."""
        d = scratch(self)
        conventional, points = conventional_cell(lat)
        positions = [p + np.asarray(f) @ conventional for p in points for f in fractional]
        path = os.path.join(d, "polar.h5")
        write_cell(path, conventional, positions=np.array(positions),
                   numbers=[z for _ in points for z in numbers],
                   masses=[{11: 22.99, 17: 35.45}[z] for _ in points for z in numbers])
        zone = list_points(self, path)
        self.assertEqual(zone["spacegroup"], spacegroup)
        self.assertEqual(zone["cells"], 1)
        self.check_standard_cell(zone, lat.variant)
        self.check_against_ase_bandpath(zone)


class Cubic(ZoneChecks, unittest.TestCase):
    family = "Cubic"

    def test_special_points_are_ases_in_any_basis(self):
        self.run_family()


class Tetragonal(ZoneChecks, unittest.TestCase):
    family = "Tetragonal"

    def test_special_points_are_ases_in_any_basis(self):
        self.run_family()


class Orthorhombic(ZoneChecks, unittest.TestCase):
    family = "Orthorhombic"

    def test_special_points_are_ases_in_any_basis(self):
        self.run_family()

    def test_an_a_centred_polar_crystal(self):
        # C-centred lattice, 2-fold axis along a (in the centred face): spglib's setting is
        # Amm2 (38), A-centred, which physfit brings back to SC's ORCC (centred face a, b).
        self.check_polar_crystal(asel.ORCC(3, 4, 5), [[0, 0, 0], [0.3, 0, 0]], [11, 17], 38)


class Hexagonal(ZoneChecks, unittest.TestCase):
    family = "Hexagonal"

    def test_special_points_are_ases_in_any_basis(self):
        self.run_family()


class Monoclinic(ZoneChecks, unittest.TestCase):
    family = "Monoclinic"

    def test_special_points_are_ases_in_any_basis(self):
        self.run_family()

    def test_a_centred_polar_crystal(self):
        # Cm (8): a mirror normal to the unique axis and no 2-fold axis.
        self.check_polar_crystal(asel.MCLC(3, 4, 5, 80), [[0, 0, 0], [0, 0.2, 0.3]], [11, 17], 8)


class Triclinic(ZoneChecks, unittest.TestCase):
    family = "Triclinic"

    def test_special_points_are_ases_in_any_basis(self):
        self.run_family()


# --- Frequencies against phonopy at the same Cartesian wave vectors ---

def spring_force_constants(lattice, positions, cutoff, radial=2.0, tangential=-0.3):
    """Supercell force constants (eV/A^2) of springs between atoms closer than `cutoff`
    (smaller than half the supercell), radial and tangential: any crystal's symmetry holds
    them, and the acoustic sum rule is exact."""
    n = len(positions)
    fc = np.zeros((n, n, 3, 3))
    inverse = np.linalg.inv(lattice)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            f = (positions[j] - positions[i]) @ inverse
            v = (f - np.round(f)) @ lattice
            r = np.linalg.norm(v)
            if r < cutoff:
                u = np.outer(v, v) / r**2
                fc[i, j] = -(radial * u + tangential * (np.eye(3) - u))
    for i in range(n):
        fc[i, i] = -fc[i].sum(axis=0)
    return fc


def phonopy_model(unit_lattice, fractional, numbers, supercell, cutoff):
    import phonopy
    from phonopy.structure.atoms import PhonopyAtoms
    unit = PhonopyAtoms(numbers=numbers, cell=unit_lattice, scaled_positions=fractional)
    ph = phonopy.Phonopy(unit, supercell_matrix=np.diag(supercell), primitive_matrix="auto",
                         log_level=0)
    sc = ph.supercell
    ph.force_constants = spring_force_constants(sc.cell, sc.positions, cutoff)
    return ph


def physfit_inputs(d, ph, rotation_matrix=np.eye(3), primitive=None):
    """FORCE_CONSTANTS and /structure of phonopy's supercell, in a rotated Cartesian frame
    (force constants rotated with it), with the primitive lattice given or left to physfit."""
    from phonopy.file_IO import write_FORCE_CONSTANTS
    sc = ph.supercell
    r = rotation_matrix
    fc = np.einsum("ab,ijbc,dc->ijad", r, ph.force_constants, r)
    write_FORCE_CONSTANTS(fc, filename=os.path.join(d, "FORCE_CONSTANTS"))
    structure = os.path.join(d, "structure.h5")
    write_cell(structure, sc.cell @ r.T, primitive=None if primitive is None else primitive @ r.T,
               positions=sc.positions @ r.T, numbers=sc.numbers, masses=sc.masses)
    return os.path.join(d, "FORCE_CONSTANTS"), structure


def to_phonopy(q, zone, ph, rotation_matrix=np.eye(3)):
    """physfit's reduced q (its primitive basis, rotated frame) in phonopy's primitive basis."""
    k = cartesian(q, np.array(zone["primitive_lattice"])) @ rotation_matrix  # back to phonopy's
    return ph.primitive.cell @ k


class PhonopyNonCubic(unittest.TestCase):
    def check(self, d, ph, rot, primitive, expected_lattice):
        fc, structure = physfit_inputs(d, ph, rot, primitive)
        out = os.path.join(d, "phonons.h5")
        r = physfit("phonons", "--input.fc", fc, "--structure.file", structure, "--output.file", out,
                    "--output.figure", os.path.join(d, "bands.png"), "--dos.mesh", 4, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = summary(r)
        zone = s["lattice"]
        self.assertEqual(zone["lattice"], expected_lattice)
        self.assertIn(f"{expected_lattice} lattice", r.stderr + r.stdout)
        # Every special point of the crystal, printed.
        self.assertEqual(set(s["frequencies"]), set(zone["points"]))
        labels = list(zone["points"])
        ph.run_qpoints([to_phonopy(zone["points"][k], zone, ph, rot) for k in labels])
        theirs = ph.get_qpoints_dict()["frequencies"]
        for label, f in zip(labels, theirs):
            np.testing.assert_allclose(s["frequencies"][label], f, atol=2e-6, err_msg=label)
        # The whole default path, with its breaks.
        with h5py.File(out) as f:
            q = f["bands/qpoints"][...]
            bands = f["bands/frequencies"][...]
            branch = f["bands/branch"][...]
            self.assertEqual(f["bands/frequencies"].attrs["unit"], "THz")
            ticks = f["bands/frequencies"].attrs["labels"]
        self.assertEqual(branch.max() + 1, zone["path"].count("|") + 1)
        self.assertEqual(ticks.count("|"), zone["path"].count("|"))
        ph.run_qpoints([to_phonopy(x, zone, ph, rot) for x in q])
        np.testing.assert_allclose(bands, ph.get_qpoints_dict()["frequencies"], atol=2e-6)
        with open(os.path.join(d, "bands.png"), "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        return s

    def test_hcp_in_a_rotated_frame_and_a_skewed_primitive_basis(self):
        d = scratch(self)
        a, c = 3.2, 5.0
        hexagonal = np.array([[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]])
        ph = phonopy_model(hexagonal, [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]], [12, 12],
                           [3, 3, 2], cutoff=3.5)
        skewed = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]]) @ ph.primitive.cell
        s = self.check(d, ph, rotation(RNG), skewed, "HEX")
        self.assertEqual(s["lattice"]["spacegroup"], 194)
        # The hexagonal zone's points (FC-NOTES.md) in physfit's standard basis.
        for label, q in {"M": [.5, 0, 0], "K": [1 / 3, 1 / 3, 0], "A": [0, 0, .5],
                         "L": [.5, 0, .5], "H": [1 / 3, 1 / 3, .5]}.items():
            np.testing.assert_allclose(s["lattice"]["points_standard"][label], q, atol=1e-12)

    def test_two_species_orthorhombic_crystal_with_axes_out_of_order(self):
        d = scratch(self)
        # a > b, c largest: Setyawan and Curtarolo's a < b < c needs the axes permuted.
        cell = np.diag([4.0, 3.2, 4.6])
        ph = phonopy_model(cell, [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]], [11, 17, 17],
                           [2, 2, 2], cutoff=3.6)
        s = self.check(d, ph, np.eye(3), None, "ORC")
        p = s["lattice"]["parameters"]
        self.assertEqual([p["a"], p["b"], p["c"]], [3.2, 4.0, 4.6])
        # X is half the reciprocal vector of the shortest axis (b here): (0, 1/2, 0).
        k = cartesian(s["lattice"]["points"]["X"], np.array(s["lattice"]["primitive_lattice"]))
        self.assertTrue(same_modulo_reciprocal(np.abs(k), [0, 0.5 / 3.2, 0], cell))


class SiliconPrimitiveFoundFromTheSupercell(unittest.TestCase):
    def test_special_points_are_right_without_phonopys_primitive_matrix(self):
        """The issue's symptom: without /structure/primitive_matrix physfit finds a reduced
        primitive basis that is not phonopy's, and W and K must still be phonopy's W and K."""
        d = scratch(self)
        structure = os.path.join(d, "si.h5")
        with h5py.File(os.path.join(DATA, "si64_rattle_0.01.h5")) as f:
            g = f["structure"]
            write_cell(structure, g["lattice"][...], positions=g["positions"][...],
                       numbers=g["numbers"][...], masses=g["masses"][...])
        # The reference: the same force constants on phonopy's primitive basis (the data's
        # primitive_matrix), compared along the same Cartesian path.
        r = physfit("phonons", "--input.fc", os.path.join(DATA, "FORCE_CONSTANTS"), "--structure.file",
                    structure, "--output.file", "", "--dos.mesh", "4,4,4", "--reference.fc",
                    os.path.join(DATA, "FORCE_CONSTANTS"), "--reference.structure",
                    os.path.join(DATA, "si64_rattle_0.01.h5"), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = summary(r)
        self.assertLess(s["frequencies"]["max_difference_to_reference"], 1e-6)
        primitive = np.array(s["lattice"]["primitive_lattice"])
        phonopy_basis = 5.43095 * np.array([[0, .5, .5], [.5, 0, .5], [.5, .5, 0]])
        self.assertGreater(np.abs(primitive - phonopy_basis).max(), 1.0)  # another basis
        with h5py.File(os.path.join(DATA, "si64_phonopy.h5")) as f:
            names = f["qpoints"].attrs["names"].split(",")
            reference = dict(zip(names, f["frequencies"][...]))
        self.assertEqual(names, ["G", "X", "L", "W", "K"])
        for name in names:
            np.testing.assert_allclose(s["frequencies"][name], reference[name], atol=1e-6,
                                       err_msg=name)
        del s["frequencies"]["max_difference_to_reference"]
        self.assertEqual(set(s["frequencies"]), {"G", "K", "L", "U", "W", "X"})
        # The numbers: W is 7.40 x2, 12.11 x2, 16.00 x2 THz.
        np.testing.assert_allclose(s["frequencies"]["W"], [7.3955] * 2 + [12.1122] * 2 +
                                   [15.9977] * 2, atol=6e-5)


    def test_a_conventional_cell_given_as_primitive_gives_phonopys_folded_bands(self):
        """phonopy's unit cell taken as primitive (no primitive matrix): 8 atoms, 4 lattice
        points. The points are still the crystal's wave vectors; the 24 bands equal phonopy's
        with primitive_matrix = None at the same Cartesian q."""
        import phonopy
        from phonopy.file_IO import parse_FORCE_CONSTANTS
        d = scratch(self)
        structure = os.path.join(d, "si.h5")
        with h5py.File(os.path.join(DATA, "si64_rattle_0.01.h5")) as f:
            g = f["structure"]
            unit = g["unit_lattice"][...]
            write_cell(structure, g["lattice"][...], primitive=unit, positions=g["positions"][...],
                       numbers=g["numbers"][...], masses=g["masses"][...])
        r = physfit("phonons", "--input.fc", os.path.join(DATA, "FORCE_CONSTANTS"), "--structure.file",
                    structure, "--output.file", "", "--dos.mesh", 2, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("folded 4 times", r.stderr + r.stdout)
        s = summary(r)
        zone = s["lattice"]
        self.assertEqual((zone["lattice"], zone["cells"]), ("FCC", 4))
        ph = phonopy.load(os.path.join(DATA, "phonopy_params.yaml"), produce_fc=False,
                          log_level=0)
        conventional = phonopy.Phonopy(ph.unitcell, supercell_matrix=ph.supercell_matrix,
                                       primitive_matrix=None, log_level=0)
        conventional.force_constants = parse_FORCE_CONSTANTS(os.path.join(DATA,
                                                                          "FORCE_CONSTANTS"))
        labels = list(zone["points"])
        conventional.run_qpoints([to_phonopy(zone["points"][k], zone, conventional)
                                  for k in labels])
        for label, f in zip(labels, conventional.get_qpoints_dict()["frequencies"]):
            self.assertEqual(len(s["frequencies"][label]), 24)
            np.testing.assert_allclose(s["frequencies"][label], f, atol=1e-6, err_msg=label)
        # W is a W point: the primitive cell's six W frequencies are among the 24.
        with h5py.File(os.path.join(DATA, "si64_phonopy.h5")) as f:
            w = f["frequencies"][3]
        for value in w:
            self.assertLess(np.abs(np.array(s["frequencies"]["W"]) - value).min(), 1e-6)


class UnitsAndPathOptions(unittest.TestCase):
    def model(self, d):
        a, c = 3.2, 5.0
        hexagonal = np.array([[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]])
        ph = phonopy_model(hexagonal, [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]], [12, 12],
                           [3, 3, 2], cutoff=3.5)
        return physfit_inputs(d, ph)

    def test_frequencies_in_cm1_and_mev_use_phonopys_constants(self):
        from phonopy import units
        d = scratch(self)
        fc, structure = self.model(d)
        runs = {}
        for unit in ("THz", "cm-1", "meV"):
            out = os.path.join(d, unit + ".h5")
            r = physfit("phonons", "--input.fc", fc, "--structure.file", structure, "--output.unit", unit,
                        "--dos.mesh", 4, "--output.file", out, "--output.figure", os.path.join(d, unit + ".png"),
                        "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(" " + unit, r.stderr + r.stdout)
            s = summary(r)
            self.assertEqual(s["unit"], unit)
            with h5py.File(out) as f:
                self.assertEqual(f["bands/frequencies"].attrs["unit"], unit)
                self.assertEqual(f["dos/frequency"].attrs["unit"], unit)
                runs[unit] = (s, f["bands/frequencies"][...], f["dos/frequency"][...],
                              f["dos/density"][...])
        for unit, factor in (("cm-1", units.THzToCm), ("meV", units.THzToEv * 1000)):
            s, bands, dos_f, dos_d = runs[unit]
            for label, f in runs["THz"][0]["frequencies"].items():
                np.testing.assert_allclose(s["frequencies"][label], np.array(f) * factor,
                                           rtol=1e-12, atol=1e-9, err_msg=label)
            np.testing.assert_allclose(bands, runs["THz"][1] * factor, rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(dos_f, runs["THz"][2] * factor, rtol=1e-12, atol=1e-9)
            # The density integrates to 3 np = 6 states in any unit.
            self.assertAlmostEqual(np.trapz(dos_d, dos_f), np.trapz(runs["THz"][3],
                                                                     runs["THz"][2]), places=9)
        self.assertAlmostEqual(units.THzToCm, 33.35641, places=5)

    def test_paths_by_label_by_coordinates_and_the_errors_name_the_options(self):
        d = scratch(self)
        fc, structure = self.model(d)
        # Labels of this crystal's zone (hexagonal), Gamma spelt three ways, with a break.
        r = physfit("phonons", "--input.fc", fc, "--structure.file", structure, "--bands.path", "Gamma,M,K|Γ,A",
                    "--bands.qpoints", "K,H", "--output.file", os.path.join(d, "p.h5"), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(set(summary(r)["frequencies"]), {"K", "H"})
        with h5py.File(os.path.join(d, "p.h5")) as f:
            self.assertEqual(f["bands/frequencies"].attrs["labels"], "Gamma,M,K|Γ,A")
            self.assertEqual(list(np.unique(f["bands/branch"][...])), [0, 1])
        # A label this crystal does not have: the message lists the crystal's labels.
        r = physfit("phonons", "--input.fc", fc, "--structure.file", structure, "--bands.path", "G,X,W",
                    "--output.file", os.path.join(d, "refused.h5"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("'X'", r.stderr)
        self.assertIn("HEX lattice", r.stderr)
        self.assertIn("G, A, H, K, L, M", r.stderr)
        self.assertIn("--bands.points", r.stderr)
        # Any labels with coordinates; a count that does not match names --bands.points.
        r = physfit("phonons", "--input.fc", fc, "--structure.file", structure, "--bands.path", "P1,P2",
                    "--bands.points=0,0,0,0.25,0.25,0", "--bands.qpoints", "P2", "--output.file", "", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(set(summary(r)["frequencies"]), {"P2"})
        r = physfit("phonons", "--input.fc", fc, "--structure.file", structure, "--bands.path", "P1,P2",
                    "--bands.points=0,0,0,0.25", "--output.file", "")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--bands.points needs 3 reduced coordinates per label", r.stderr)
        self.assertNotIn("band.points", r.stderr)
        r = physfit("phonons", "--input.fc", fc, "--structure.file", structure, "--output.unit", "eV",
                    "--output.file", os.path.join(d, "refused.h5"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("unit", r.stderr)
