"""End-to-end tests of `physfit lasso`: real mpiexec, HDF5 in and out, the results checked
with numpy against the optimality conditions and against each other across rank counts.
Run by CTest (one test per class) with PHYSFIT_BIN, MPIEXEC, PHYSFIT_SOURCE_DIR and
PHYSFIT_TEST_SCRATCH in the environment."""

import glob
import os
import sys
import unittest

import h5py
import numpy as np

from harness import SOURCE, last_json, physfit, scratch

sys.path.insert(0, os.path.join(SOURCE, "scripts", "lasso"))
from problems import Spec, generate  # noqa: E402


def write_problem(path, spec, groups_of=12, nan_at=None, y_rows=None):
    A, y, x = generate(spec)
    if nan_at is not None:
        A[nan_at] = np.nan
    with h5py.File(path, "w") as f:
        f["A"] = A
        f["y"] = y if y_rows is None else y[:y_rows]
        f["groups"] = np.arange(spec.rows, dtype=np.int64) // groups_of
    return A, y, x


SPEC = Spec(rows=600, cols=40, seed=4, scale_range=3, nonzeros=6, noise_exponent=-1)


class LassoCommand(unittest.TestCase):
    def run_cv(self, d, ranks, *extra):
        data = os.path.join(d, "data.h5")
        if not os.path.exists(data):
            write_problem(data, SPEC)
        out = os.path.join(d, "fit%d.h5" % ranks)
        r = physfit("lasso", os.path.join(SOURCE, "inputs", "lasso.ini"), "--input.file", data,
                    "--output.file", out, "--path.count", 40, "--json", *extra, ranks=ranks)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(glob.glob(out + ".tmp-*"), [])
        return out, last_json(r.stdout), r

    def test_cross_validation_on_two_ranks_writes_a_certified_solution(self):
        d = scratch(self)
        out, summary, r = self.run_cv(d, 2)
        res = summary["result"]
        self.assertEqual(summary["status"], "ok")
        self.assertEqual(res["mode"], "gram")
        self.assertEqual(res["rows"], 600)
        self.assertLessEqual(res["fit"]["relative_gap"], 1e-10)
        self.assertTrue(res["fit"]["converged"])
        self.assertIn("lambda_min", r.stderr)  # the log goes to stderr with --json
        A, y, x_true = generate(SPEC)
        with h5py.File(out, "r") as f:
            fit = f["/lasso/fit"]
            coef = fit["coef"][...]
            lam = fit.attrs["lambda"]
            self.assertEqual(lam, f["/lasso/cv"].attrs["lambda_min"])
            self.assertEqual(f["/lasso/cv/fold_error"].shape, (5, 40))
            self.assertEqual(f["/lasso/path/coef"].shape, (40, 40))
            self.assertEqual(list(f["/lasso/cv/fold_rows"][...]), [120] * 5)  # 50 groups of 12
            mean = f["/lasso/cv/mean_error"][...]
            self.assertEqual(np.argmin(mean), f["/lasso/cv"].attrs["index_min"])
            self.assertIn("debiased", f["/lasso"])
            p = f["/physfit"].attrs
            self.assertEqual(p["command"], "lasso")
            self.assertEqual(p["ranks"], 2)
            self.assertIn("method = lasso\n", p["config"])
            for key in ("read", "reduce", "solve", "reduce_kernel"):
                self.assertIn(key, f["/lasso/timings"].attrs)
        # Optimality conditions, from the rows, in the standardised coordinates.
        n = len(y)
        s = np.sqrt((A * A).mean(axis=0))
        Z = A / s
        g = Z.T @ (y - A @ coef) / n
        support = coef != 0
        self.assertTrue(support.any())
        np.testing.assert_allclose(g[support], lam * np.sign(coef[support]), rtol=0, atol=1e-8 * lam)
        self.assertLessEqual(np.max(np.abs(g[~support])), lam * (1 + 1e-8))
        # The true nonzero coefficients are found.
        self.assertTrue(np.all(coef[x_true != 0] != 0))

    def test_one_and_three_ranks_give_the_same_bits(self):
        d = scratch(self)
        out1, _, _ = self.run_cv(d, 1)
        out3, _, _ = self.run_cv(d, 3)
        with h5py.File(out1, "r") as a, h5py.File(out3, "r") as b:
            for name in ("/lasso/fit/coef", "/lasso/path/coef", "/lasso/cv/fold_error",
                         "/lasso/debiased/coef"):
                self.assertTrue(np.array_equal(a[name][...], b[name][...]), name)

    def test_methods_and_the_residual_mode(self):
        d = scratch(self)
        data = os.path.join(d, "data.h5")
        A, y, _ = write_problem(data, Spec(rows=200, cols=12, seed=9, duplicates=2, noise_exponent=-2))
        out = os.path.join(d, "ols.h5")
        r = physfit("lasso", "--input.file", data, "--output.file", out, "--fit.task", "fit",
                    "--fit.method", "ols", "--fit.standardize", "false", "--json", ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out, "r") as f:
            coef = f["/lasso/fit/coef"][...]
            self.assertEqual(f["/lasso/fit"].attrs["rank"], 10)
        np.testing.assert_allclose(coef, np.linalg.lstsq(A, y, rcond=None)[0], rtol=1e-8, atol=1e-10)
        # enet at a fixed lambda, in Gram and residual modes: the same solution.
        coefs = {}
        for mode in ("gram", "residual"):
            out = os.path.join(d, mode + ".h5")
            r = physfit("lasso", "--input.file", data, "--output.file", out, "--fit.task", "fit",
                        "--fit.method", "enet", "--fit.l1-ratio", 0.5, "--fit.lambda-ratio", 0.01,
                        "--solver.mode", mode, "--json", ranks=2)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(last_json(r.stdout)["result"]["mode"], mode)
            with h5py.File(out, "r") as f:
                coefs[mode] = f["/lasso/fit/coef"][...]
        np.testing.assert_allclose(coefs["residual"], coefs["gram"], rtol=1e-8, atol=1e-12)

    def test_a_minimum_below_the_grid_is_found_or_said_with_the_next_grid(self):
        # Quiet data (noise 2^-16): the CV minimum of a 41-lambda grid to 1e-4 lambda_max is at
        # its end; the path is extended below it by decades until the minimum is interior.
        d = scratch(self)
        data = os.path.join(d, "quiet.h5")
        write_problem(data, Spec(rows=600, cols=40, seed=4, scale_range=3, nonzeros=6,
                                 noise_exponent=-16))
        def cv(name, *extra):
            out = os.path.join(d, name + ".h5")
            r = physfit("lasso", "--input.file", data, "--input.groups", "/groups",
                        "--output.file", out, "--path.count", 41, "--path.ratio", 1e-4, "--json",
                        *extra, ranks=2)
            self.assertEqual(r.returncode, 0, r.stderr)
            return out, last_json(r.stdout)["result"], r.stderr
        out, res, err = cv("off", "--path.extend", 0)
        self.assertEqual(res["cv"]["index_min"], 40)
        self.assertEqual(res["cv"]["end"], "not-extended")
        self.assertIn("warning", err.lower())
        self.assertIn("--path.ratio 1e-10 --path.count 101", err)
        self.assertIn(res["cv"]["warning"], err)
        out, res, err = cv("extended")
        c = res["cv"]
        self.assertEqual(c["end"], "interior")
        self.assertEqual(c["requested"], 41)
        self.assertEqual(c["extended"] % 10, 0)  # whole decades of 10 lambdas
        self.assertGreater(c["extended"], 0)
        self.assertLessEqual(c["index_min"], 41 + c["extended"] - 11)  # a decade below it
        self.assertEqual(c["warning"], "")
        self.assertEqual(res["fit"]["lambda"], c["lambda_min"])
        with h5py.File(out, "r") as f:
            g = f["/lasso/cv"]
            mean, se = g["mean_error"][...], g["standard_error"][...]
            nz = f["/lasso/path/nonzeros"][...]
            self.assertEqual(len(mean), 41 + c["extended"])
            self.assertEqual(f["/lasso/path/coef"].shape, (41 + c["extended"], 40))
            self.assertEqual(f["/lasso/cv/fold_error"].shape, (5, 41 + c["extended"]))
            i, j = g.attrs["index_min"], g.attrs["index_1se"]
            self.assertEqual((i, j), (c["index_min"], c["index_1se"]))
            self.assertEqual(int(np.argmin(mean)), i)
            self.assertEqual(g.attrs["error_min"], mean[i])
            self.assertEqual(g.attrs["standard_error_min"], se[i])
            self.assertEqual(g.attrs["error_1se"], mean[j])
            self.assertEqual(g.attrs["standard_error_1se"], se[j])
            self.assertEqual(g.attrs["nonzero_min"], nz[i])
            self.assertEqual(g.attrs["nonzero_1se"], nz[j])
            self.assertEqual(g.attrs["extended"], c["extended"])
            self.assertEqual(g.attrs["end"], "interior")
            self.assertEqual(g.attrs["select"], "min")
            self.assertLessEqual(mean[j], mean[i] + se[i])
            self.assertTrue(np.all(mean[:j] > mean[i] + se[i]))
            lam = g["lambda"][...]
            np.testing.assert_allclose(lam[1:] / lam[:-1], (1e-4) ** 0.025, rtol=1e-12)
        # Adaptive LASSO's default grid: (1 + gamma) times the decades at the same spacing.
        out = os.path.join(d, "adaptive.h5")
        r = physfit("lasso", "--input.file", data, "--input.groups", "/groups", "--output.file",
                    out, "--fit.method", "adaptive", "--json", ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        c = last_json(r.stdout)["result"]["cv"]
        self.assertEqual(c["requested"], 199)
        with h5py.File(out, "r") as f:
            lam = f["/lasso/cv/lambda"][...]
            self.assertAlmostEqual(lam[198] / lam[0], 1e-8, delta=1e-20)

    def test_bad_inputs_are_clear_errors_without_output(self):
        d = scratch(self)
        out = os.path.join(d, "never.h5")
        data = os.path.join(d, "nan.h5")
        write_problem(data, Spec(rows=50, cols=5), nan_at=(37, 3))
        cases = [
            # A NaN in the input file is malformed input data (4), not a numerical failure of
            # the computation (5).
            (("--input.file", data), 4, "A(37, 3) = nan is not finite"),
            (("--input.file", os.path.join(d, "missing.h5")), 4, "missing.h5"),
            (("--input.file", data, "--input.matrix", "/X"), 4, "/X"),
            (("--input.file", data, "--fit.task", "fit"), 2, "needs fit.lambda"),
            (("--input.file", data, "--fit.method", "lars"), 2, "lars"),
            (("--input.file", data, "--solver.mode", "residual"), 2, "cross-validation needs the Gram mode"),
        ]
        for args, code, text in cases:
            r = physfit("lasso", "--output.file", out, *args, ranks=2)
            self.assertEqual(r.returncode, code, (args, r.stderr))
            self.assertIn(text, r.stderr, args)
            self.assertEqual(r.stderr.count("error: "), 1, r.stderr)  # reported once, by rank 0
            self.assertFalse(os.path.exists(out))
        short = os.path.join(d, "short.h5")
        write_problem(short, Spec(rows=50, cols=5), y_rows=49)
        r = physfit("lasso", "--input.file", short, "--output.file", out, ranks=2)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("has 49 rows but '/A' has 50", r.stderr)

    def test_cv_curve_as_png(self):
        d = scratch(self)
        png = os.path.join(d, "cv.png")
        data = os.path.join(d, "data.h5")
        write_problem(data, SPEC)
        r = physfit("lasso", "--input.file", data, "--output.file", os.path.join(d, "o.h5"),
                    "--output.figure", png, "--path.count", 30, ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(png, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(int.from_bytes(head[16:20], "big"), 900)
        self.assertEqual(int.from_bytes(head[20:24], "big"), 560)
        r = physfit("lasso", "--input.file", data, "--output.figure", png, "--fit.task", "path", ranks=2)
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs task = cv", r.stderr)
        # The same option writes SVG by the extension, and refuses an unknown one before work.
        svg = os.path.join(d, "cv.svg")
        r = physfit("lasso", "--input.file", data, "--output.figure", svg, "--path.count", 30)
        self.assertEqual(r.returncode, 0, r.stderr)
        import xml.etree.ElementTree as ET
        self.assertTrue(ET.parse(svg).getroot().tag.endswith("svg"))
        r = physfit("lasso", "--input.file", data, "--output.figure", os.path.join(d, "cv.gif"))
        self.assertEqual(r.returncode, 2)
        self.assertIn(".png, .svg or .pdf", r.stderr)

    def test_help_lists_the_options(self):
        r = physfit("lasso", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for key in ("--input.file", "--fit.method", "--cv.folds", "--solver.memory-mib", "--json"):
            self.assertIn(key, r.stdout)


if __name__ == "__main__":
    unittest.main()
