"""End-to-end tests of cross-validation that finds its minimum (issue 10, point 4): `physfit fc`
with FC2 (every pair) + FC3 on 50 rattled configurations of silicon (Stillinger-Weber,
scripts/data/make_si.py; Tersoff) and fcc aluminium (EAM), the last two made by
scripts/data/make_cv_data.py; frequencies of the exported FORCE_CONSTANTS computed by phonopy
(Debian's python3-phonopy) at G, X, L, W, K against phonopy's finite-displacement reference with
the same potential. Run by CTest (one test per class) with PHYSFIT_BIN, PHYSFIT_SI_DATA,
PHYSFIT_CV_DATA and PHYSFIT_TEST_SCRATCH in the environment.

Limits. FC2 + FC3 from 50 configurations at sigma = 0.01 Angstrom on Stillinger-Weber Si: 0.01
THz, the regression limit of issue 5 (tests/regression/fc/test_accuracy.py). On Tersoff Si and
EAM Al, LASSO lands 0.020 and 0.017 THz from phonopy (least squares on the same data does the
same: the anharmonicity of those potentials, not the fit), so the limit there is issue 5's
FC2 limit, 0.03 THz. Adaptive LASSO at its defaults must give LASSO's accuracy: within 0.005 THz
of LASSO's error and within the crystal's limit (before issue 10 it was 0.12-0.36 THz off with
6-7 non-zero parameters, its CV minimum at the end of a grid too short for its weights)."""

import os
import shutil
import unittest

import h5py
import numpy as np

from harness import physfit, scratch, summary

SI = os.environ.get("PHYSFIT_SI_DATA", "/tmp/physfit-si")
CV = os.environ.get("PHYSFIT_CV_DATA", "/tmp/physfit-cv")
FC3_SI = 5.0  # Angstrom: three neighbour shells, below the 64-atom cell's 5.43 A limit
# name: (data at sigma = 0.01, phonopy reference, cutoffs, frequency limit in THz)
CRYSTALS = {
    "si_sw": (os.path.join(SI, "si64_rattle_0.01.h5"), os.path.join(SI, "si64_phonopy.h5"),
              [-1, FC3_SI], 0.01),
    "si_tersoff": (os.path.join(CV, "si_tersoff_rattle_0.01.h5"),
                   os.path.join(CV, "si_tersoff_phonopy.h5"), [-1, FC3_SI], 0.03),
    "al_eam": (os.path.join(CV, "al_eam_rattle_0.01.h5"), os.path.join(CV, "al_eam_phonopy.h5"),
               [-1, 4.5], 0.03),
}


def fit(folder, crystal, method, *extra):
    """physfit fc on 50 configurations; returns (summary, stderr, model file)."""
    data, _, cutoffs, _ = CRYSTALS[crystal]
    os.makedirs(folder, exist_ok=True)
    out = os.path.join(folder, "fc.h5")
    r = physfit("fc", "--input.data", data, "--clusters.cutoffs=" + ",".join(str(c) for c in cutoffs),
                "--configs.train", 50, "--fit.method", method, "--output.file", out, "--output.export-dir", folder,
                "--output.exports", "phonopy", "--json", *extra)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return summary(r), r.stderr, out


def frequency_error(folder, crystal):
    """Largest |f - f_phonopy| (THz) at G, X, L, W, K of the FORCE_CONSTANTS in `folder`."""
    import phonopy
    from phonopy.file_IO import parse_FORCE_CONSTANTS
    from phonopy.structure.atoms import PhonopyAtoms
    data, reference, _, _ = CRYSTALS[crystal]
    with h5py.File(reference) as f:
        s = f["structure"]
        unit, smat, pmat = s["unit_lattice"][...], s["supercell_matrix"][...], s["primitive_matrix"][...]
        positions, numbers, masses = s["positions"][...], s["numbers"][...], s["masses"][...]
        qpoints, expected = f["qpoints"][...], f["frequencies"][...]
    frac = positions @ np.linalg.inv(unit)
    inside = np.all((frac > -1e-6) & (frac < 1 - 1e-6), axis=1)
    cell = PhonopyAtoms(numbers=numbers[inside], cell=unit, scaled_positions=frac[inside],
                        masses=masses[inside])
    ph = phonopy.Phonopy(cell, supercell_matrix=smat, primitive_matrix=pmat, log_level=0)
    np.testing.assert_allclose(ph.supercell.positions, positions, atol=1e-6)  # same atom order
    ph.force_constants = parse_FORCE_CONSTANTS(os.path.join(folder, "FORCE_CONSTANTS"))
    ph.run_qpoints(qpoints)
    return float(np.abs(ph.get_qpoints_dict()["frequencies"] - expected).max())


def force_rms(crystal):
    with h5py.File(CRYSTALS[crystal][0]) as f:
        return float(np.sqrt(np.mean(f["configs/forces"][:50] ** 2)))


class DefaultGrid(unittest.TestCase):
    def test_lasso_on_silicon_finds_an_interior_minimum_below_the_default_grid(self):
        d = scratch(self)
        # Without the extension: the minimum at the last of the 50 lambdas (the issue's
        # symptom), now a warning that gives the next grid to try.
        s, err, _ = fit(os.path.join(d, "off"), "si_sw", "lasso", "--path.extend", 0)
        cv = s["cv"]
        self.assertEqual(cv["index_min"], 49)
        self.assertEqual(cv["end"], "not-extended")
        self.assertIn("WARNING", err.upper())
        self.assertIn("the minimum of the CV curve is at the end of the grid", err)
        # 50 lambdas over 4 decades (12.25 a decade), 6 more decades: 1e-10 and 50 + 73.
        self.assertIn("--path.ratio 1e-10 --path.count 123", err)
        self.assertTrue(cv["warning"].startswith("cross-validation: lambda_min is the smallest"))
        self.assertIn(cv["warning"], err)  # the JSON carries the logged warning
        # The advice, followed, gives an interior minimum.
        s, err, _ = fit(os.path.join(d, "advised"), "si_sw", "lasso", "--path.extend", 0,
                        "--path.ratio", "1e-10", "--path.count", 123)
        self.assertEqual(s["cv"]["end"], "interior")
        self.assertLess(s["cv"]["index_min"], 122)
        advised_lambda = s["cv"]["lambda_min"]

        # The default: the path extended below the grid to an interior minimum, the fit there.
        s, err, out = fit(os.path.join(d, "default"), "si_sw", "lasso")
        cv = s["cv"]
        self.assertEqual(cv["end"], "interior")
        self.assertEqual(cv["requested"], 50)
        self.assertGreater(cv["extended"], 0)
        self.assertEqual(cv["lambdas"], 50 + cv["extended"])
        self.assertGreater(cv["index_min"], 49)  # below the default grid
        self.assertLess(cv["index_min"], cv["lambdas"] - 1)
        self.assertEqual(cv["warning"], "")
        self.assertNotIn("WARNING", err.upper())
        # The minimum of the advised long grid, to within one step of the grid (its 123 lambdas
        # over 10 decades are 12.2 a decade, the default's 12.25).
        self.assertLess(abs(np.log10(cv["lambda_min"] / advised_lambda)), 4 / 49 + 1e-9)
        self.assertEqual(cv["select"], "min")
        self.assertEqual(s["lambda"], cv["lambda_min"])
        self.assertEqual(sum(s["nonzero"].values()), cv["nonzero_min"])
        self.assertGreaterEqual(cv["lambda_1se"], cv["lambda_min"])
        self.assertGreaterEqual(cv["rmse_1se"], cv["rmse_min"])
        self.assertLessEqual(cv["nonzero_1se"], cv["nonzero_min"])
        rms = force_rms("si_sw")
        self.assertAlmostEqual(cv["relative_min"], cv["rmse_min"] / rms, delta=1e-9 * cv["relative_min"])
        with h5py.File(out) as f:
            g = f["fit"]
            mse, se, nz = f["fit/cv_mse"][...], f["fit/cv_se"][...], f["fit/nonzeros"][...]
            self.assertEqual(len(f["fit/lambdas"]), cv["lambdas"])
            self.assertEqual(int(np.argmin(mse)), cv["index_min"])
            self.assertEqual(g.attrs["index_min"], cv["index_min"])
            self.assertEqual(g.attrs["index_1se"], cv["index_1se"])
            self.assertEqual(g.attrs["lambda_1se"], cv["lambda_1se"])
            self.assertEqual(g.attrs["extended"], cv["extended"])
            self.assertEqual(g.attrs["cv_select"], "min")
            self.assertEqual(g.attrs["end"], "interior")
            self.assertAlmostEqual(g.attrs["cv_rmse_min"], np.sqrt(mse[cv["index_min"]]), delta=1e-15)
            self.assertAlmostEqual(g.attrs["cv_rmse_1se"], np.sqrt(mse[cv["index_1se"]]), delta=1e-15)
            self.assertEqual(g.attrs["nonzero_min"], nz[cv["index_min"]])
            self.assertEqual(g.attrs["nonzero_1se"], nz[cv["index_1se"]])
            # lambda_1se: the largest lambda within one standard error of the minimum.
            i, j = cv["index_min"], cv["index_1se"]
            self.assertLessEqual(mse[j], mse[i] + se[i])
            self.assertTrue(np.all(mse[:j] > mse[i] + se[i]))
        self.assertLess(frequency_error(os.path.join(d, "default"), "si_sw"), 0.01)

        # cv-select 1se: the fit at lambda_1se.
        s1, _, _ = fit(os.path.join(d, "1se"), "si_sw", "lasso", "--cv.select", "1se")
        self.assertEqual(s1["lambda"], cv["lambda_1se"])
        self.assertEqual(s1["cv"]["select"], "1se")
        self.assertEqual(sum(s1["nonzero"].values()), cv["nonzero_1se"])
        self.assertAlmostEqual(s1["cv_rmse"], cv["rmse_1se"], delta=1e-15)


class DataThatDoNotFit(unittest.TestCase):
    def test_forces_of_other_configurations_are_a_loud_warning(self):
        # Each configuration's forces replaced by the next one's: no force constants explain
        # them. The CV error at lambda_min is that of the all-zero model within its standard
        # error, and the log says the data do not support the model.
        d = scratch(self)
        data = os.path.join(d, "shuffled.h5")
        shutil.copy(CRYSTALS["si_sw"][0], data)
        with h5py.File(data, "r+") as f:
            f["configs/forces"][...] = np.roll(f["configs/forces"][...], 1, axis=0)
        out = os.path.join(d, "fc.h5")
        r = physfit("fc", "--input.data", data, "--clusters.cutoffs=-1," + str(FC3_SI), "--configs.train", 50,
                    "--fit.method", "lasso", "--output.file", out, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        cv = summary(r)["cv"]
        self.assertEqual(cv["end"], "top")
        self.assertEqual(cv["index_1se"], 0)
        self.assertGreater(cv["relative_min"], 0.95)  # nothing explained
        self.assertIn("warning", r.stderr.lower())
        self.assertIn("the data do not support this model", r.stderr)
        self.assertIn("wrong units", cv["warning"])
        with h5py.File(out) as f:
            self.assertEqual(f["fit"].attrs["end"], "top")
            self.assertEqual(f["fit/nonzeros"][0], 0)
            self.assertEqual(f["fit"].attrs["warning"], cv["warning"])


class AdaptiveLasso(unittest.TestCase):
    def test_defaults_fit_every_crystal_as_well_as_lasso(self):
        d = scratch(self)
        for crystal, (_, _, _, limit) in CRYSTALS.items():
            errors = {}
            for method in ("lasso", "adaptive-lasso"):
                folder = os.path.join(d, crystal, method)
                s, err, _ = fit(folder, crystal, method)
                errors[method] = frequency_error(folder, crystal)
                cv = s["cv"]
                print(crystal, method, "error %.4f THz" % errors[method], "lambdas", cv["lambdas"],
                      "index_min", cv["index_min"], "end", cv["end"], "non-zero",
                      cv["nonzero_min"])
                self.assertIn(cv["end"], ("interior", "flat"), err)
                self.assertGreater(cv["nonzero_min"], 10)
                if method == "adaptive-lasso":
                    self.assertEqual(cv["requested"], 99)  # 1e-8 at the spacing of 50 to 1e-4
            self.assertLess(errors["lasso"], limit, crystal)
            self.assertLess(errors["adaptive-lasso"], limit, crystal)
            self.assertLess(errors["adaptive-lasso"], errors["lasso"] + 0.005, crystal)


if __name__ == "__main__":
    unittest.main()
