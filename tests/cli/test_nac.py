"""Polar crystals end to end: Born effective charges, the dielectric tensor and the
non-analytic correction of `physfit phonons` (and `physfit fc --nac.born`) against phonopy 2.17
(Debian's python3-phonopy), computed here with the same force constants and BORN, and against
the analytic LO-TO splitting of a rocksalt crystal.

The crystals are made here: wurtzite GaN (hexagonal, 4 atoms, 2 independent), rocksalt NaCl
(from the conventional cell with phonopy's FCC primitive matrix) and rutile TiO2 (6 atoms, Born
charges with off-diagonal terms that symmetry rotates from atom to atom). Their force constants
come from a made-up model with the crystal's symmetry (central and transverse springs between
every pair of atoms within a cutoff, all periodic images summed), their BORN files are made up
and consistent with the site symmetries. Run by CTest (one test per class) with PHYSFIT_BIN in
the environment."""

import os
import unittest

import h5py
import numpy as np
from phonopy import Phonopy
from phonopy.file_IO import parse_BORN, write_FORCE_CONSTANTS
from phonopy.structure.atoms import PhonopyAtoms
from phonopy.units import VaspToTHz

from harness import physfit, scratch, summary

TOL = 1e-4  # THz: the limit against phonopy
FACTOR = 14.39965172592227  # phonopy's default unit factor (VASP units)
RNG = np.random.default_rng(10)


# ---------------------------------------------------------------- crystals and their data
def wurtzite():
    a, c, u = 3.19, 5.19, 0.377
    lattice = [[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]]
    pos = [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, u], [2 / 3, 1 / 3, 0.5 + u]]
    return PhonopyAtoms(symbols=["Ga", "Ga", "N", "N"], cell=lattice, scaled_positions=pos)


def rocksalt():
    f = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])
    pos = np.vstack([f, f + [.5, 0, 0]]) % 1
    return PhonopyAtoms(symbols=["Na"] * 4 + ["Cl"] * 4, cell=np.eye(3) * 5.64,
                        scaled_positions=pos)


def rutile():
    a, c, u = 4.59, 2.96, 0.305
    pos = [[0, 0, 0], [.5, .5, .5], [u, u, 0], [1 - u, 1 - u, 0], [.5 + u, .5 - u, .5],
           [.5 - u, .5 + u, .5]]
    return PhonopyAtoms(symbols=["Ti", "Ti", "O", "O", "O", "O"], cell=np.diag([a, a, c]),
                        scaled_positions=pos)


FCC = [[0, .5, .5], [.5, 0, .5], [.5, .5, 0]]
CRYSTALS = {  # unit cell, supercell matrix, primitive matrix, spring cutoff (Angstrom)
    "gan": (wurtzite, np.diag([3, 3, 2]), None, 4.0),
    "nacl": (rocksalt, np.diag([2, 2, 2]), FCC, 4.2),
    "tio2": (rutile, np.diag([2, 2, 3]), None, 3.6),
}
BORNS = {
    # wurtzite: Z* and epsilon diagonal, xx = yy != zz; charge neutral
    "gan": "# made-up Born charges of GaN\n5.2 0 0 0 5.2 0 0 0 5.4\n"
           "2.6 0 0 0 2.6 0 0 0 2.7\n-2.6 0 0 0 -2.6 0 0 0 -2.7\n",
    # rocksalt: isotropic; with the factor line
    "nacl": "14.399652\n2.4 0 0 0 2.4 0 0 0 2.4\n1.1 0 0 0 1.1 0 0 0 1.1\n"
            "-1.1 0 0 0 -1.1 0 0 0 -1.1\n",
    # rutile: Z*(Ti) and Z*(O) with xy = yx (site symmetry mmm and m.2m)
    "tio2": "# TiO2\n6.3 0 0 0 6.3 0 0 0 7.9\n3.4 0.9 0 0.9 3.4 0 0 0 7.5\n"
            "-1.7 1.2 0 1.2 -1.7 0 0 0 -3.75\n",
}


def spring(zi, zj, r):
    """Longitudinal and transverse spring constants (eV/A^2) of pairs at distances r."""
    a = np.where(zi != zj, 12.0, 3.0 * (1.0 + 0.1 * (zi % 7)))
    kl = a * np.exp(-(r - 2.0) / 0.6)
    return kl, 0.15 * kl


def pair_force_constants(cell, cutoff):
    """Supercell force constants of springs between every pair within the cutoff (all periodic
    images): translation-invariant, symmetric, with the crystal's full symmetry."""
    lat, pos, z = cell.cell, cell.positions, cell.numbers
    n = len(pos)
    fc = np.zeros((n, n, 3, 3))
    r = range(-2, 3)
    shifts = np.array([[a, b, c] for a in r for b in r for c in r]) @ lat
    for i in range(n):
        d = pos[None, :, :] - pos[i] + shifts[:, None, :]  # [image, j, 3]
        dist = np.linalg.norm(d, axis=2)
        keep = (dist > 1e-8) & (dist < cutoff)
        image, j = np.nonzero(keep)
        e = d[image, j] / dist[image, j][:, None]
        kl, kt = spring(z[i], z[j], dist[image, j])
        ee = e[:, :, None] * e[:, None, :]
        block = -(kl[:, None, None] * ee + kt[:, None, None] * (np.eye(3) - ee))
        np.add.at(fc[i], j, block)
        fc[i, i] -= block.sum(axis=0)
    return fc


class Crystal:
    """A crystal's phonopy object, its files for physfit (FORCE_CONSTANTS, structure.h5, BORN)
    in `folder`, and phonopy's frequencies."""

    def __init__(self, name, folder, born_text=None):
        make, smat, pmat, cutoff = CRYSTALS[name]
        self.folder = folder
        self.ph = Phonopy(make(), supercell_matrix=smat, primitive_matrix=pmat)
        self.fc = pair_force_constants(self.ph.supercell, cutoff)
        self.ph.force_constants = self.fc
        self.fcfile = os.path.join(folder, "FORCE_CONSTANTS")
        write_FORCE_CONSTANTS(self.fc, self.fcfile)
        self.structure = os.path.join(folder, "structure.h5")
        s = self.ph.supercell
        with h5py.File(self.structure, "w") as f:
            f["structure/lattice"] = s.cell
            f["structure/positions"] = s.positions
            f["structure/numbers"] = s.numbers.astype(np.int32)
            f["structure/masses"] = s.masses
            f["structure/primitive_lattice"] = self.ph.primitive.cell
        self.born = os.path.join(folder, "BORN")
        with open(self.born, "w") as f:
            f.write(born_text if born_text is not None else BORNS[name])
        self.set_method("gonze")

    def set_method(self, method):
        nac = parse_BORN(self.ph.primitive, filename=self.born)
        if nac["factor"] is None:
            nac["factor"] = FACTOR
        nac["method"] = method
        self.ph.nac_params = nac  # rebuilds phonopy's dynamical matrix

    def phonopy(self, qpoints, directions=None):
        """phonopy's frequencies (THz) at each q, with its direction of approach (or None)."""
        dm = self.ph.dynamical_matrix
        out = []
        for k, q in enumerate(qpoints):
            d = None if directions is None else directions[k]
            dm.run(np.array(q, dtype=float), q_direction=d)
            e = np.linalg.eigvalsh(dm.dynamical_matrix).real
            out.append(np.sign(e) * np.sqrt(np.abs(e)) * VaspToTHz)
        return np.array(out)

    def physfit(self, qpoints, *extra, fc=None):
        """physfit's frequencies at q-points given as a band path (2 points per segment)."""
        out = os.path.join(self.folder, "phonons.h5")
        labels = ",".join("P%d" % k for k in range(len(qpoints)))
        coords = ",".join("%.17g" % x for q in qpoints for x in q)
        args = ["phonons", "--input.fc", fc or self.fcfile, "--bands.path", labels, "--bands.points=" + coords,
                "--bands.segment-points", 2, "--output.file", out, "--dos.mesh", 2, "--bands.qpoints", "G", "--json"]
        if fc is None:
            args += ["--structure.file", self.structure]
        r = physfit(*args, *extra)
        if r.returncode != 0:
            raise AssertionError(r.stderr)
        with h5py.File(out) as f:
            return f["bands/frequencies"][...], r


def special_and_general_points(special):
    """Special points, random general points and points near Gamma along several directions."""
    q = list(special)
    q += list(RNG.uniform(-0.5, 0.5, (8, 3)))
    for d in ([1, 0, 0], [0, 0, 1], [1, 1, 0], [0.3, -0.2, 0.7]):
        for t in (1e-3, 2e-2):
            q.append(t * np.array(d, dtype=float))
    return [list(x) for x in q]


HEX = [[0.5, 0, 0], [1 / 3, 1 / 3, 0], [0, 0, 0.5], [0.5, 0, 0.5], [1 / 3, 1 / 3, 0.5],
       [0.5, 0.5, 0.5]]
CUBIC_FCC = [[0.5, 0, 0.5], [0.5, 0.5, 0.5], [0.5, 0.25, 0.75], [0.375, 0.375, 0.75]]
TETRAGONAL = [[0.5, 0, 0], [0.5, 0.5, 0], [0, 0, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0.5]]


class MatchesPhonopy(unittest.TestCase):
    """Frequencies equal phonopy's with the same FORCE_CONSTANTS and BORN, Gonze-Lee and Wang,
    at special, general and near-Gamma points and at Gamma along chosen directions."""

    def check_crystal(self, name, special):
        c = Crystal(name, scratch(self))
        qs = special_and_general_points(special)
        for method in ("gonze", "wang"):
            c.set_method(method)
            ours, r = c.physfit(qs, "--nac.born", c.born, "--nac.method", method)
            self.assertEqual(summary(r)["nac"], method)
            theirs = c.phonopy(qs)
            diff = np.abs(ours - theirs).max()
            print("%s %s: %d q-points, largest difference to phonopy %.2e THz"
                  % (name, method, len(qs), diff))
            self.assertLess(diff, TOL, (name, method))
            # The correction matters: without it the optical modes differ.
            if method == "gonze":
                plain = Phonopy(c.ph.unitcell, c.ph.supercell_matrix, c.ph.primitive_matrix)
                plain.force_constants = c.fc
                without = np.array([plain.get_frequencies(q) for q in qs])
                self.assertGreater(np.abs(without - theirs).max(), 0.1)
            # Gamma along x, z and a general direction (reduced coordinates, as phonopy's).
            for direction in ([1, 0, 0], [0, 0, 1], [0.3, -0.2, 0.7]):
                _, r = c.physfit([[0.5, 0, 0], [0, 0, 0]], "--nac.born", c.born, "--nac.method",
                                 method, "--nac.q-direction=" + ",".join(map(str, direction)))
                ours = np.array(summary(r)["frequencies"]["G"])
                theirs = c.phonopy([[0, 0, 0]], [direction])[0]
                self.assertLess(np.abs(ours - theirs).max(), TOL, (name, method, direction))
            # Without a direction Gamma gets no correction (as phonopy): the analytic frequencies.
            _, r = c.physfit([[0.5, 0, 0], [0, 0, 0]], "--nac.born", c.born, "--nac.method", method)
            np.testing.assert_allclose(summary(r)["frequencies"]["G"],
                                       c.phonopy([[0, 0, 0]])[0], atol=TOL)

    def test_wurtzite_gan(self):
        self.check_crystal("gan", HEX)

    def test_rocksalt_nacl_from_the_conventional_cell(self):
        self.check_crystal("nacl", CUBIC_FCC)

    def test_rutile_tio2_whose_born_charges_symmetry_rotates(self):
        self.check_crystal("tio2", TETRAGONAL)

    def test_band_path_through_gamma_takes_the_segments_direction_as_phonopy(self):
        c = Crystal("gan", scratch(self))
        m, g, a = [0.5, 0, 0], [0, 0, 0], [0, 0, 0.5]
        n = 11
        phonopy_bands = []
        for path in ([m, g], [g, a]):
            c.ph.run_band_structure([np.linspace(path[0], path[1], n)])
            phonopy_bands.append(np.array(c.ph.get_band_structure_dict()["frequencies"][0]))
        out = os.path.join(c.folder, "bands.h5")
        r = physfit("phonons", "--input.fc", c.fcfile, "--structure.file", c.structure, "--nac.born", c.born,
                    "--bands.path", "M,G,A", "--bands.points=0.5,0,0,0,0,0,0,0,0.5", "--bands.segment-points", n,
                    "--output.file", out, "--dos.mesh", 2)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out) as f:
            ours = f["bands/frequencies"][...]
        # physfit shares the Gamma point: it ends segment M-G (direction M-G, as phonopy's).
        theirs = np.vstack([phonopy_bands[0], phonopy_bands[1][1:]])
        self.assertLess(np.abs(ours - theirs).max(), TOL)
        # LO-TO: Gamma approached along x (end of M-G) and along z (start of G-A) differ.
        self.assertGreater(np.abs(phonopy_bands[0][-1] - phonopy_bands[1][0]).max(), 0.05)


class LoToSplitting(unittest.TestCase):
    def test_rocksalt_splitting_is_the_analytic_value(self):
        """omega_LO^2 - omega_TO^2 = Z^2 e^2 / (epsilon_0 epsilon_inf Omega mu) in SI units, with
        CODATA constants (not phonopy's), for an isotropic Z* in a cubic two-atom crystal."""
        z, eps = 1.1, 2.4
        c = Crystal("nacl", scratch(self), "# no factor\n%g 0 0 0 %g 0 0 0 %g\n%g 0 0 0 %g 0 0 0 %g\n"
                    "%g 0 0 0 %g 0 0 0 %g\n" % ((eps,) * 3 + (z,) * 3 + (-z,) * 3))
        e, eps0, amu = 1.602176634e-19, 8.8541878128e-12, 1.66053906660e-27
        volume = abs(np.linalg.det(c.ph.primitive.cell)) * 1e-30
        m1, m2 = c.ph.primitive.masses
        mu = m1 * m2 / (m1 + m2) * amu
        domega2 = z * z * e * e / (eps0 * eps * volume * mu)
        for method in ("gonze", "wang"):
            for direction in ([1, 0, 0], [1, 1, 1], [0.2, 0.5, -0.3]):
                _, r = c.physfit([[0.5, 0, 0.5], [0, 0, 0]], "--nac.born", c.born, "--nac.method",
                                 method, "--nac.q-direction=" + ",".join(map(str, direction)))
                f = np.array(summary(r)["frequencies"]["G"])
                to, lo = f[3], f[5]
                self.assertAlmostEqual(f[4], to, delta=1e-6)  # two transverse modes
                expected_lo = np.sqrt(to ** 2 + domega2 / (2 * np.pi * 1e12) ** 2)
                print("%s %s: TO %.6f LO %.6f THz, analytic LO %.6f THz"
                      % (method, direction, to, lo, expected_lo))
                self.assertAlmostEqual(lo, expected_lo, delta=TOL)
                self.assertGreater(lo - to, 1.0)


class FitExportsAndModel(unittest.TestCase):
    def test_fc_stores_born_data_and_exports_a_born_phonopy_reads(self):
        d = scratch(self)
        c = Crystal("gan", d)
        # Harmonic forces of the model on rattled configurations.
        n = len(c.ph.supercell)
        u = RNG.normal(0, 0.01, (6, n, 3))
        phi = c.fc.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
        forces = -(u.reshape(6, 3 * n) @ phi.T).reshape(6, n, 3)
        data = os.path.join(d, "data.h5")
        with h5py.File(c.structure) as f, h5py.File(data, "w") as g:
            for k in f["structure"]:
                g["structure/" + k] = f["structure/" + k][...]
            g["configs/displacements"] = u
            g["configs/forces"] = forces
        exports = os.path.join(d, "exports")
        os.makedirs(exports)
        model = os.path.join(d, "fc.h5")
        # A bad BORN ends every rank with its error before the fit.
        bad = os.path.join(d, "BORN_bad")
        with open(bad, "w") as f:
            f.write(BORNS["gan"].replace("-2.6 0 0 0 -2.6 0 0 0 -2.7", "-2.6 0 0 0 -2.6"))
        r = physfit("fc", "--input.data", data, "--clusters.cutoffs=-1", "--cv.folds", 0, "--nac.born", bad,
                    "--output.file", model, ranks=2)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("BORN_bad:4", r.stderr)
        self.assertFalse(os.path.exists(model))
        r = physfit("fc", "--input.data", data, "--clusters.cutoffs=-1", "--cv.folds", 0, "--nac.born", c.born,
                    "--output.file", model, "--output.export-dir", exports, "--output.exports", "phonopy", ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The model carries /nac; the export folder a BORN that phonopy reads back.
        with h5py.File(model) as f:
            self.assertEqual(f["nac"].attrs["method"], "gonze")
            np.testing.assert_allclose(f["nac/born"][...], c.ph.nac_params["born"], atol=1e-12)
            np.testing.assert_allclose(f["nac/epsilon"][...], c.ph.nac_params["dielectric"],
                                       atol=1e-12)
        exported = parse_BORN(c.ph.primitive, filename=os.path.join(exports, "BORN"))
        self.assertAlmostEqual(exported["factor"], FACTOR, places=12)
        np.testing.assert_allclose(exported["born"], c.ph.nac_params["born"], atol=1e-12)
        np.testing.assert_allclose(exported["dielectric"], c.ph.nac_params["dielectric"],
                                   atol=1e-12)
        # phonons on the model applies /nac by itself; phonopy with the exported files agrees.
        from phonopy.file_IO import parse_FORCE_CONSTANTS
        fitted = parse_FORCE_CONSTANTS(os.path.join(exports, "FORCE_CONSTANTS"))
        self.assertLess(np.abs(fitted - c.fc).max(), 1e-8)
        c.ph.force_constants = fitted
        c.ph.nac_params = dict(exported, method="gonze")
        qs = special_and_general_points(HEX)
        ours, r = c.physfit(qs, "--nac.q-direction=0,0,1", fc=model)
        self.assertEqual(summary(r)["nac"], "gonze")
        self.assertIn("non-analytic correction: Gonze and Lee", r.stderr + r.stdout)
        self.assertLess(np.abs(ours - c.phonopy(qs)).max(), TOL)
        np.testing.assert_allclose(summary(r)["frequencies"]["G"],
                                   c.phonopy([[0, 0, 0]], [[0, 0, 1]])[0], atol=TOL)
        # --nac.method none: phonopy without the correction.
        ours, r = c.physfit(qs, "--nac.method", "none", fc=model)
        self.assertEqual(summary(r)["nac"], "none")
        plain = Phonopy(c.ph.unitcell, c.ph.supercell_matrix)
        plain.force_constants = fitted
        self.assertLess(np.abs(ours - np.array([plain.get_frequencies(q) for q in qs])).max(), TOL)


class BornFiles(unittest.TestCase):
    def run_born(self, c, text):
        with open(c.born, "w") as f:
            f.write(text)
        return physfit("phonons", "--input.fc", c.fcfile, "--structure.file", c.structure, "--nac.born", c.born,
                       "--output.file", "", "--dos.mesh", 2, "--bands.path", "A,B",
                       "--bands.points=0.5,0,0,0,0,0.5", "--bands.qpoints", "G")

    def test_factor_line_comments_and_phonopys_extra_parameters(self):
        c = Crystal("gan", scratch(self))
        base = BORNS["gan"].split("\n", 1)[1]
        reference = None
        for head in ("# a comment\n", "14.39965172592227\n", "14.39965172592227 # factor\n",
                     "epsilon and Z* (no number)\n"):
            r = self.run_born(c, head + base + "\n\n")  # trailing blank lines are fine
            self.assertEqual(r.returncode, 0, head + r.stderr)
            if reference is None:
                reference = r.stdout
        # A factor for another calculator's units (Quantum ESPRESSO's Rydberg-Bohr: 2) is
        # replaced by the eV-Angstrom one, physfit's units, with a warning: same frequencies.
        def gamma_line(text):
            return [line for line in text.splitlines() if line.startswith("phonons: G ")]
        r = self.run_born(c, "2.0\n" + base)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the unit factor 2 on line 1", r.stderr)
        self.assertIn("14.39965173 (e^2 / 4 pi epsilon_0 in eV Angstrom) is used", r.stderr)
        self.assertEqual(gamma_line(r.stdout), gamma_line(reference))
        self.assertTrue(gamma_line(reference))
        # G_cutoff and Lambda on line 1 (phonopy's optional parameters) are used as phonopy does.
        with open(c.born, "w") as f:
            f.write("14.4 1.5 0.4\n" + base)
        nac = parse_BORN(c.ph.primitive, filename=c.born)
        self.assertEqual((nac["G_cutoff"], nac["Lambda"]), (1.5, 0.4))
        c.ph.nac_params = nac
        qs = [[0.1, 0.2, 0.3], [0.01, 0, 0], [1 / 3, 1 / 3, 0.1]]
        ours, r = c.physfit(qs, "--nac.born", c.born)
        self.assertIn("within 1.5 1/A, Lambda 0.4", r.stderr)
        self.assertLess(np.abs(ours - c.phonopy(qs)).max(), TOL)

    def test_malformed_and_inconsistent_files_are_clear_errors(self):
        c = Crystal("gan", scratch(self))
        eps, zga, zn = BORNS["gan"].split("\n")[1:4]
        cases = [  # text, exit code, expected fragments of the message
            ("# c\n" + eps + "\n2.6 0 0 0 2.6 0 0 0\n" + zn + "\n", 4,
             ["BORN:3", "found 8 fields", "atom 1"]),
            ("# c\n" + eps + "\n" + zga + "\n-2.6 0 0 0 nan 0 0 0 -2.7\n", 4,
             ["BORN:4", "field 5 (yy", "'nan'"]),
            ("# c\n" + eps + "\n" + zga + "\n", 4,
             ["ends after line 3", "2 symmetry-independent atoms", "lines 3 to 4"]),
            ("# c\n" + eps + "\n" + zga + "\n" + zn + "\n" + zn + "\n", 4,
             ["BORN:5", "one line too many"]),
            (eps + "\n" + zga + "\n" + zn + "\n", 4, ["BORN:1", "9 numbers", "add a first line"]),
            ("# c\n" + eps + "\n2.6 0 0 0 3.0 0 0 0 2.7\n" + zn + "\n", 2,
             ["BORN:3", "breaks its site symmetry", "P6_3mc", "Z*"]),
            ("# c\n5.2 0.4 0 0.4 5.2 0 0 0 5.4\n" + zga + "\n" + zn + "\n", 2,
             ["dielectric tensor breaks the crystal's symmetry"]),
            ("-3\n" + eps + "\n" + zga + "\n" + zn + "\n", 4, ["BORN:1", "unit factor"]),
        ]
        for text, code, fragments in cases:
            r = self.run_born(c, text)
            self.assertEqual(r.returncode, code, text + r.stderr)
            for fragment in fragments:
                self.assertIn(fragment, r.stderr, text)
        # Charges that do not sum to zero: a warning, and phonopy's correction.
        r = self.run_born(c, "# c\n" + eps + "\n2.8 0 0 0 2.8 0 0 0 2.9\n" + zn + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("not zero", r.stderr)
        # Options that need Born data, and a bad direction.
        r = physfit("phonons", "--input.fc", c.fcfile, "--structure.file", c.structure, "--nac.method",
                    "wang", "--output.file", "")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--nac.born", r.stderr)
        r = physfit("phonons", "--input.fc", c.fcfile, "--structure.file", c.structure, "--nac.born", c.born,
                    "--nac.q-direction=1,0", "--output.file", "")
        self.assertEqual(r.returncode, 2)
        self.assertIn("3 numbers", r.stderr)


if __name__ == "__main__":
    unittest.main()
