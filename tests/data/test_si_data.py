"""Checks the silicon data physfit's force-constant tests and examples are made from
(scripts/data/make_si.py), against facts measured independently (../shared/FC-NOTES.md):
phonopy frequencies of Stillinger-Weber Si, and the error of the exact harmonic model on
rattled configurations. Run by CTest after the data are made (PHYSFIT_SI_DATA = the folder)."""

import os
import re
import sys
import unittest

import h5py
import numpy as np

DATA = os.environ.get("PHYSFIT_SI_DATA", "/tmp/physfit-si")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "data"))
import make_si  # noqa: E402

BOHR, RYDBERG = 0.529177210903, 13.605693122994


def load(sigma):
    with h5py.File(os.path.join(DATA, "si64_rattle_%g.h5" % sigma), "r") as f:
        return {k: f[k][...] for k in ("structure/lattice", "structure/positions", "configs/displacements",
                                        "configs/forces", "configs/energies")}


class Reference(unittest.TestCase):
    def test_phonopy_frequencies_match_the_published_values(self):
        expected = {  # THz, FC-NOTES.md (phonopy, 0.01 Angstrom, 64 and 216 atoms agree)
            "G": [0, 0, 0, 17.8324, 17.8324, 17.8324],
            "X": [6.6514, 6.6514, 12.9934, 12.9934, 15.6286, 15.6286],
            "L": [4.7032, 4.7032, 11.7682, 13.3980, 16.7667, 16.7667],
            "W": [7.3955, 7.3955, 12.1122, 12.1122, 15.9977, 15.9977],
        }
        with h5py.File(os.path.join(DATA, "si64_phonopy.h5"), "r") as f:
            names = f["qpoints"].attrs["names"].split(",")
            freqs = dict(zip(names, f["frequencies"][...]))
            fc = f["force_constants"][...]
        for name, values in expected.items():
            np.testing.assert_allclose(freqs[name], values, atol=6e-5, err_msg=name)
        self.assertEqual(fc.shape, (64, 64, 3, 3))
        # Acoustic sum rule of the reference force constants.
        self.assertLess(np.abs(fc.sum(axis=1)).max(), 1e-8)

    def test_the_exact_harmonic_model_explains_the_forces_as_measured(self):
        with h5py.File(os.path.join(DATA, "si64_phonopy.h5"), "r") as f:
            fc = f["force_constants"][...]
        phi = fc.transpose(0, 2, 1, 3).reshape(192, 192)
        for sigma, measured in ((0.01, 0.022), (0.03, 0.065), (0.1, 0.235)):
            d = load(sigma)
            u = d["configs/displacements"].reshape(len(d["configs/energies"]), 192)
            f = d["configs/forces"].reshape(u.shape)
            error = np.sqrt(np.mean((f + u @ phi.T) ** 2) / np.mean(f ** 2))
            self.assertAlmostEqual(error, measured, delta=0.1 * measured, msg="sigma %g" % sigma)


class Configurations(unittest.TestCase):
    def test_structure_is_the_64_atom_diamond_supercell(self):
        d = load(0.01)
        np.testing.assert_allclose(d["structure/lattice"], np.eye(3) * 2 * make_si.A0)
        p = d["structure/positions"]
        self.assertEqual(p.shape, (64, 3))
        diff = p[:, None, :] - p[None, :, :]
        diff -= np.round(diff / (2 * make_si.A0)) * 2 * make_si.A0
        dist = np.sqrt((diff ** 2).sum(-1)) + np.eye(64) * 100
        np.testing.assert_allclose(dist.min(axis=1), make_si.A0 * np.sqrt(3) / 4, rtol=1e-12)

    def test_forces_sum_to_zero_and_are_the_energy_gradient(self):
        d = load(0.03)
        self.assertLess(np.abs(d["configs/forces"].sum(axis=1)).max(), 1e-10)
        ph = make_si.phonopy_model()
        sw = make_si.StillingerWeber(ph.supercell.cell, ph.supercell.positions)
        x = d["structure/positions"] + d["configs/displacements"][7]
        h = 1e-5
        for atom, axis in ((0, 0), (17, 1), (63, 2)):
            plus, minus = x.copy(), x.copy()
            plus[atom, axis] += h
            minus[atom, axis] -= h
            derivative = (sw(plus)[0] - sw(minus)[0]) / (2 * h)
            self.assertAlmostEqual(-derivative, d["configs/forces"][7, atom, axis], delta=1e-6)

    def test_text_formats_hold_the_same_numbers(self):
        d = load(0.1)
        rows = np.loadtxt(os.path.join(DATA, "DFSET_0.1"), comments="#")
        n = len(d["configs/energies"])
        np.testing.assert_allclose(rows[:, :3].reshape(n, 64, 3) * BOHR, d["configs/displacements"],
                                   rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(rows[:, 3:].reshape(n, 64, 3) * RYDBERG / BOHR, d["configs/forces"],
                                   rtol=1e-11, atol=1e-12)
        with open(os.path.join(DATA, "si64_rattle_0.1.extxyz")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "64")
        energy = float(re.search(r"energy=(\S+)", lines[1]).group(1))
        self.assertAlmostEqual(energy, d["configs/energies"][0], places=9)
        atom = np.array(lines[2].split()[1:], dtype=float)
        np.testing.assert_allclose(atom[:3], d["structure/positions"][0] + d["configs/displacements"][0, 0],
                                   atol=1e-9)
        np.testing.assert_allclose(atom[3:], d["configs/forces"][0, 0], atol=1e-9)


if __name__ == "__main__":
    unittest.main()
