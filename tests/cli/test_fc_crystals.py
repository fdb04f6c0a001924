"""DRAFT, NOT YET WIRED INTO CTEST (issue 10, point 6): end-to-end tests of `physfit import`,
`physfit fc` and `physfit phonons` on the crystals that are not fcc, made by
scripts/data/make_crystals.py (data checked by tests/data/test_crystal_data.py), against
phonopy's reference and phonopy reading physfit's exports. It needs the features of points 1, 2,
3 and 5 (POSCAR/phonopy-yaml structures, band paths for any lattice, compact clusters and the
largest safe cutoff, NAC); the coordinator wires it (like test_fc.py, one CTest test per class,
FIXTURES_REQUIRED crystal_data, PHYSFIT_CRYSTAL_DATA in the environment) once they are merged,
and adjusts the interfaces marked ASSUMED below to the ones that landed:
  - `import force-sets --input FORCE_SETS --structure phonopy_disp.yaml` (type 1 and type 2),
    `import phonopy --input phonopy_params.yaml`, `import extxyz --structure SPOSCAR|POSCAR`;
    the output's /structure keeps species names in /structure/species (ASSUMED name);
  - `phonons` without --path takes the crystal's Setyawan-Curtarolo path (ASE's labels); its
    --json "frequencies" has one entry per special point of the crystal (ASSUMED: all of them,
    by ASE's labels); its --output stores /bands/qpoints in reduced coordinates of the primitive
    reciprocal basis it used, with that basis as /bands/reciprocal_lattice (rows, 1/Angstrom,
    no 2 pi; ASSUMED name);
  - `phonons --fc FORCE_CONSTANTS --structure phonopy_disp.yaml` (phonopy's own constants);
  - `fc` reports the largest cutoff the supercell represents in --json as "max_cutoff"
    (ASSUMED name) and refuses a larger one with exit code 2;
  - `phonons --born BORN` and `--q-direction a,b,c` (reduced reciprocal) for the non-analytic
    correction (ASSUMED names).

Limits, and why (the fits were measured with physfit 41c84e4, before the features above,
by importing phonopy_params.yaml and configs.extxyz with the structure that import made, and
giving phonopy physfit's FORCE_CONSTANTS: largest difference to the reference at the special
points and along the path, THz, for mg_hcp, gan_wurtzite, mg_monoclinic, si_orthorhombic,
cuzr2_tetragonal):
  - phonopy's own FORCE_CONSTANTS through `physfit phonons`: 1e-6 THz at the special points and
    along the path (the same constants and the same dynamical matrix; test_fc.py reaches 1e-6
    THz on Si), 1e-4 THz with the non-analytic correction (issue 10, point 5).
  - FC2 (every pair) fitted by OLS on phonopy's own finite displacements (type-1 FORCE_SETS,
    0.01 A, plus and minus): 1e-3 THz. Same data as phonopy's reference; the cubic terms cancel
    in each plus/minus pair, so only the way symmetry is imposed differs (phonopy: site-symmetry
    expansion, then translational/permutation symmetrisation; physfit: exact symmetric basis
    and sum rule). Measured: 3e-5, 2e-4, 1e-4, 3e-5, 1e-4.
  - FC2 (every pair) + FC3 (second neighbours) fitted (LASSO, 5-fold CV) on 40 random
    displacements of 0.01 A: max(0.01 THz, 2 x the crystal's finite-difference sensitivity),
    the sensitivity being the largest change of phonopy's frequencies at the special points
    between 0.01 and 0.03 A displacements (/finite_difference_0.03 in phonopy_reference.h5:
    0.0056, 0.0114, 0.0071, 0.0055, 0.0124): what the fit cannot model (quartic terms, triplets
    beyond the FC3 cutoff) is anharmonicity of the size that moves the reference itself. Limits
    0.011, 0.023, 0.014, 0.011, 0.025; measured 0.0029, 0.0038, 0.0034, 0.0012, 0.0043 (on Si,
    test_accuracy.py: 0.0053 for a sensitivity of 0.0056).
  - FC2 alone on the same data: 0.06 THz. The cubic forces (1 to 2.4 % of the force at 0.01 A,
    test_crystal_data.py) are then noise the harmonic fit absorbs; measured 0.015, 0.047, 0.020,
    0.025, 0.015 (Si: 0.016).
  - No imaginary mode beyond -1e-3 THz anywhere on the path (the reference has none; the fits
    above have none beyond -5e-7 THz).
"""

import os
import re
import unittest

import h5py
import numpy as np

from harness import physfit, scratch, summary

DATA = os.environ.get("PHYSFIT_CRYSTAL_DATA", "/tmp/physfit-crystals")
# FC3 cutoffs: beyond the second shell of neighbours of the parent structure, below the third
# and below the supercell's inscribed radius (shells and radii in Angstrom, from SPOSCAR).
#   mg_hcp        shells 3.18, 4.50, 5.18; radius 6.37
#   gan_wurtzite  shells 1.95, 3.18, 3.73; radius 4.77
#   mg_monoclinic shells 3.14/3.25, 4.45/4.59, 5.21; radius 5.46
#   si_orthorhombic shells 2.35, 3.76/3.92, 4.45; radius 5.49
#   cuzr2_tetragonal shells 2.86, 3.12, 3.40, 3.69; radius 5.09 (three shells)
FC3_CUTOFF = {"mg_hcp": 4.8, "gan_wurtzite": 3.5, "mg_monoclinic": 4.8, "si_orthorhombic": 4.2,
              "cuzr2_tetragonal": 3.55}
RADIUS = {"mg_hcp": 6.368, "gan_wurtzite": 4.771, "mg_monoclinic": 5.460,
          "si_orthorhombic": 5.485, "cuzr2_tetragonal": 5.093}
TRAIN = 40  # of the 50 random configurations


def data(name, *parts):
    return os.path.join(DATA, name, *parts)


def reference(name):
    with h5py.File(data(name, "phonopy_reference.h5"), "r") as f:
        return {"labels": f["special_points"].attrs["labels"].split(","),
                "qpoints": f["special_points/qpoints"][...],
                "frequencies": f["special_points/frequencies"][...],
                "path": f["path"].attrs["path"],
                "path_qpoints": f["path/qpoints"][...],
                "path_frequencies": f["path/frequencies"][...],
                "fd_sensitivity": np.abs(f["finite_difference_0.03/special_frequencies"][...]
                                         - f["special_points/frequencies"][...]).max(),
                "nac": ({m: {k: f["nac"][m][k][...] for k in f["nac"][m]} for m in ("gonze", "wang")}
                        if "nac" in f else None)}


def phonopy_model(name, force_constants=None, born=False):
    """phonopy on the crystal's phonopy_disp.yaml with the given FORCE_CONSTANTS file."""
    import phonopy
    from phonopy.file_IO import parse_FORCE_CONSTANTS
    ph = phonopy.load(data(name, "phonopy_disp.yaml"), produce_fc=False, is_compact_fc=False,
                      born_filename=data(name, "BORN") if born else None, is_nac=born, log_level=0)
    if force_constants is not None:
        ph.force_constants = parse_FORCE_CONSTANTS(force_constants)
    return ph


def phonopy_frequencies(ph, qpoints, **kwargs):
    ph.run_qpoints(qpoints, **kwargs)
    return ph.get_qpoints_dict()["frequencies"]


def physfit_path(name, phonons_h5):
    """physfit's band path: q-points in phonopy's primitive reciprocal basis, frequencies, the
    label string (ASSUMED layout, see the module docstring)."""
    ph = phonopy_model(name)
    with h5py.File(phonons_h5, "r") as f:
        q = f["bands/qpoints"][...]
        recip = f["bands/reciprocal_lattice"][...]
        freqs = f["bands/frequencies"][...]
        labels = f["bands/frequencies"].attrs["labels"]
    cartesian = q @ recip
    return cartesian @ ph.primitive.cell.T, freqs, labels


def run_import(test, name, kind, source, structure, out):
    r = physfit("import", kind, "--input", source, *(["--structure", structure] if structure else []),
                "--output", out, "--json")
    test.assertEqual(r.returncode, 0, r.stderr)
    return summary(r)


class CrystalChecks:
    """The checks every crystal gets; each TestCase below names its crystal."""
    NAME = None

    def import_reads_every_format_to_the_same_numbers(self):
        from phonopy.file_IO import parse_FORCE_SETS
        d = scratch(self)
        name = self.NAME
        n = len(phonopy_model(name).supercell)
        # type 1: phonopy's finite displacements
        out = os.path.join(d, "fd.h5")
        s = run_import(self, name, "force-sets", data(name, "FORCE_SETS"),
                       data(name, "phonopy_disp.yaml"), out)
        fs = parse_FORCE_SETS(natom=n, filename=data(name, "FORCE_SETS"))
        self.assertEqual(s["configurations"], len(fs["first_atoms"]))
        with h5py.File(out) as f:
            for c, disp in enumerate(fs["first_atoms"]):
                u = np.zeros((n, 3))
                u[disp["number"]] = disp["displacement"]
                np.testing.assert_allclose(f["configs/displacements"][c], u, atol=1e-12)
                np.testing.assert_allclose(f["configs/forces"][c], disp["forces"], atol=1e-12)
            ph = phonopy_model(name)
            np.testing.assert_allclose(f["structure/lattice"][...], ph.supercell.cell, atol=1e-12)
            np.testing.assert_allclose(f["structure/positions"][...], ph.supercell.positions, atol=1e-10)
            np.testing.assert_allclose(f["structure/masses"][...], ph.supercell.masses, atol=1e-6)
            np.testing.assert_allclose(f["structure/primitive_matrix"][...], ph.primitive_matrix, atol=1e-12)
            species = [s.decode() if isinstance(s, bytes) else s for s in f["structure/species"][...]]
            self.assertEqual(species, list(ph.supercell.symbols))
        # phonopy_params.yaml: the same numbers
        out2 = os.path.join(d, "params.h5")
        run_import(self, name, "phonopy", data(name, "phonopy_params.yaml"), None, out2)
        with h5py.File(out) as f, h5py.File(out2) as g:
            np.testing.assert_allclose(g["configs/forces"][...], f["configs/forces"][...], atol=1e-10)
        # type 2 (random), and the same configurations as extended XYZ with SPOSCAR or POSCAR
        folder = data(name, "random_0.03")
        out = os.path.join(d, "random.h5")
        s = run_import(self, name, "force-sets", os.path.join(folder, "FORCE_SETS"),
                       os.path.join(folder, "phonopy_disp.yaml"), out)
        fs = parse_FORCE_SETS(natom=n, filename=os.path.join(folder, "FORCE_SETS"))
        self.assertEqual(s["configurations"], len(fs["displacements"]))
        with h5py.File(out) as f:
            np.testing.assert_allclose(f["configs/displacements"][...], fs["displacements"], atol=1e-12)
            np.testing.assert_allclose(f["configs/forces"][...], fs["forces"], atol=1e-12)
            for structure in ("SPOSCAR", "POSCAR"):
                out3 = os.path.join(d, "xyz_%s.h5" % structure)
                run_import(self, name, "extxyz", os.path.join(folder, "configs.extxyz"),
                           data(name, structure), out3)
                with h5py.File(out3) as g:
                    np.testing.assert_allclose(g["configs/displacements"][...], fs["displacements"],
                                               atol=2e-8)
                    np.testing.assert_allclose(g["configs/forces"][...], fs["forces"], atol=2e-8)

    def phonons_of_phonopys_constants_are_phonopys(self):
        # The band path and special points of physfit against ASE's, with phonopy's constants:
        # no fit in between, so any difference is the path, the labels or the dynamical matrix.
        d = scratch(self)
        name = self.NAME
        ref = reference(name)
        out = os.path.join(d, "phonons.h5")
        r = physfit("phonons", "--fc", data(name, "FORCE_CONSTANTS"), "--structure",
                    data(name, "phonopy_disp.yaml"), "--output", out, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        ours = summary(r)["frequencies"]
        for label, q, freqs in zip(ref["labels"], ref["qpoints"], ref["frequencies"]):
            np.testing.assert_allclose(ours[label], freqs, atol=1e-6, err_msg=label)
        q, freqs, labels = physfit_path(name, out)
        # the labels in ASE's order, whatever marks the breaks of the path
        self.assertEqual(re.findall(r"[A-Z][0-9]*", labels), re.findall(r"[A-Z][0-9]*", ref["path"]))
        ph = phonopy_model(name, data(name, "FORCE_CONSTANTS"))
        np.testing.assert_allclose(freqs, phonopy_frequencies(ph, q), atol=1e-6)

    def fits_match_phonopy_at_the_special_points_and_along_the_path(self):
        d = scratch(self)
        name = self.NAME
        ref = reference(name)
        ph_ref = phonopy_model(name, data(name, "FORCE_CONSTANTS"))
        # FC2 on phonopy's own finite displacements.
        fd = os.path.join(d, "fd.h5")
        run_import(self, name, "force-sets", data(name, "FORCE_SETS"), data(name, "phonopy_disp.yaml"), fd)
        r = physfit("fc", "--data", fd, "--cutoffs=-1", "--method", "ols", "--folds", 0,
                    "--output", os.path.join(d, "fc_fd.h5"), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = physfit("phonons", "--fc", os.path.join(d, "fc_fd.h5"), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        ours = summary(r)["frequencies"]
        for label, freqs in zip(ref["labels"], ref["frequencies"]):
            np.testing.assert_allclose(ours[label], freqs, atol=1e-3, err_msg=label)
        # FC2 + FC3 on the random displacements of 0.01 A; the cutoff limit is reported.
        limit = max(0.01, 2 * ref["fd_sensitivity"])
        rnd = os.path.join(d, "random.h5")
        folder = data(name, "random_0.01")
        run_import(self, name, "force-sets", os.path.join(folder, "FORCE_SETS"),
                   os.path.join(folder, "phonopy_disp.yaml"), rnd)
        for cutoffs, tolerance in (("-1,%g" % FC3_CUTOFF[name], limit), ("-1", 0.06)):
            with self.subTest(cutoffs=cutoffs):
                fit = os.path.join(d, "fc_%s.h5" % cutoffs.replace(",", "_"))
                r = physfit("fc", "--data", rnd, "--cutoffs=" + cutoffs, "--train", TRAIN,
                            "--output", fit, "--export-dir", d, "--json", ranks=2)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertAlmostEqual(summary(r)["max_cutoff"], RADIUS[name], delta=1e-3)
                bands = os.path.join(d, "bands_%s.h5" % cutoffs.replace(",", "_"))
                r = physfit("phonons", "--fc", fit, "--output", bands, "--json")
                self.assertEqual(r.returncode, 0, r.stderr)
                ours = summary(r)["frequencies"]
                for label, freqs in zip(ref["labels"], ref["frequencies"]):
                    np.testing.assert_allclose(ours[label], freqs, atol=tolerance, err_msg=label)
                q, freqs, _ = physfit_path(name, bands)
                np.testing.assert_allclose(freqs, phonopy_frequencies(ph_ref, q), atol=tolerance)
                self.assertGreater(freqs.min(), -1e-3)
        # A cutoff beyond what the supercell represents is refused, and says so.
        r = physfit("fc", "--data", rnd, "--cutoffs=-1,%g" % (RADIUS[name] + 0.1), "--train", TRAIN,
                    "--output", os.path.join(d, "too_far.h5"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("%.3f" % RADIUS[name], r.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "too_far.h5")))

    def phonopy_reads_the_exports(self):
        d = scratch(self)
        name = self.NAME
        rnd = os.path.join(d, "random.h5")
        folder = data(name, "random_0.03")
        run_import(self, name, "force-sets", os.path.join(folder, "FORCE_SETS"),
                   os.path.join(folder, "phonopy_disp.yaml"), rnd)
        fit = os.path.join(d, "fc.h5")
        r = physfit("fc", "--data", rnd, "--cutoffs=-1,%g" % FC3_CUTOFF[name], "--train", TRAIN,
                    "--folds", 0, "--output", fit, "--export-dir", d)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = physfit("phonons", "--fc", fit, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        ours = summary(r)["frequencies"]
        ref = reference(name)
        # phonopy, given physfit's FORCE_CONSTANTS with the crystal's phonopy_disp.yaml, gets
        # physfit's frequencies; force_constants.hdf5 holds the same numbers.
        ph = phonopy_model(name, os.path.join(d, "FORCE_CONSTANTS"))
        for label, freqs in zip(ref["labels"], phonopy_frequencies(ph, ref["qpoints"])):
            np.testing.assert_allclose(ours[label], freqs, atol=1e-6, err_msg=label)
        full = ph.force_constants
        with h5py.File(os.path.join(d, "force_constants.hdf5")) as f:
            np.testing.assert_allclose(f["force_constants"][...], full, atol=1e-14)
        self.assertLess(np.abs(full.sum(axis=1)).max(), 1e-10)
        np.testing.assert_allclose(full, full.transpose(1, 0, 3, 2), atol=1e-12)
        # phono3py's fc3.hdf5: compact, p2s_map = phonopy's primitive atoms in the supercell,
        # index-permutation symmetric, sum rule on the last index.
        n = len(ph.supercell)
        with h5py.File(os.path.join(d, "fc3.hdf5")) as f:
            fc3, p2s = f["fc3"][...], f["p2s_map"][...]
        self.assertEqual(fc3.shape, (len(ph.primitive), n, n, 3, 3, 3))
        np.testing.assert_array_equal(p2s, ph.primitive.p2s_map)
        self.assertGreater(np.abs(fc3).max(), 0.1)
        np.testing.assert_allclose(fc3, fc3.transpose(0, 2, 1, 3, 5, 4), atol=1e-12)
        self.assertLess(np.abs(fc3.sum(axis=2)).max(), 1e-9)


class MgHcp(unittest.TestCase):
    NAME = "mg_hcp"
    test_import = CrystalChecks.import_reads_every_format_to_the_same_numbers
    test_phonopy_constants = CrystalChecks.phonons_of_phonopys_constants_are_phonopys
    test_fits = CrystalChecks.fits_match_phonopy_at_the_special_points_and_along_the_path
    test_exports = CrystalChecks.phonopy_reads_the_exports


class GaNWurtzite(unittest.TestCase):
    NAME = "gan_wurtzite"
    test_import = CrystalChecks.import_reads_every_format_to_the_same_numbers
    test_phonopy_constants = CrystalChecks.phonons_of_phonopys_constants_are_phonopys
    test_fits = CrystalChecks.fits_match_phonopy_at_the_special_points_and_along_the_path
    test_exports = CrystalChecks.phonopy_reads_the_exports

    def test_born_charges_give_phonopys_non_analytic_correction(self):
        # phonopy's constants and BORN: physfit's frequencies with the correction equal
        # phonopy's (both methods stored; Gonze-Lee is phonopy's default) to 1e-4 THz at the
        # special points, and the LO-TO splitting at Gamma along each stored direction.
        name = self.NAME
        ref = reference(name)
        r = physfit("phonons", "--fc", data(name, "FORCE_CONSTANTS"), "--structure",
                    data(name, "phonopy_disp.yaml"), "--born", data(name, "BORN"), "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        ours = summary(r)["frequencies"]
        for label, freqs in zip(ref["labels"], ref["nac"]["gonze"]["special_frequencies"]):
            if label != "G":  # at Gamma itself the correction needs a direction
                np.testing.assert_allclose(ours[label], freqs, atol=1e-4, err_msg=label)
        for direction, freqs in zip(ref["nac"]["gonze"]["gamma_directions"],
                                    ref["nac"]["gonze"]["gamma_frequencies"]):
            r = physfit("phonons", "--fc", data(name, "FORCE_CONSTANTS"), "--structure",
                        data(name, "phonopy_disp.yaml"), "--born", data(name, "BORN"),
                        "--q-direction", ",".join("%g" % v for v in direction), "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            np.testing.assert_allclose(summary(r)["frequencies"]["G"], freqs, atol=1e-4)


class MgMonoclinic(unittest.TestCase):
    NAME = "mg_monoclinic"
    test_import = CrystalChecks.import_reads_every_format_to_the_same_numbers
    test_phonopy_constants = CrystalChecks.phonons_of_phonopys_constants_are_phonopys
    test_fits = CrystalChecks.fits_match_phonopy_at_the_special_points_and_along_the_path
    test_exports = CrystalChecks.phonopy_reads_the_exports


class SiOrthorhombic(unittest.TestCase):
    NAME = "si_orthorhombic"
    test_import = CrystalChecks.import_reads_every_format_to_the_same_numbers
    test_phonopy_constants = CrystalChecks.phonons_of_phonopys_constants_are_phonopys
    test_fits = CrystalChecks.fits_match_phonopy_at_the_special_points_and_along_the_path
    test_exports = CrystalChecks.phonopy_reads_the_exports


class CuZr2Tetragonal(unittest.TestCase):
    NAME = "cuzr2_tetragonal"
    test_import = CrystalChecks.import_reads_every_format_to_the_same_numbers
    test_phonopy_constants = CrystalChecks.phonons_of_phonopys_constants_are_phonopys
    test_fits = CrystalChecks.fits_match_phonopy_at_the_special_points_and_along_the_path
    test_exports = CrystalChecks.phonopy_reads_the_exports


if __name__ == "__main__":
    unittest.main()
