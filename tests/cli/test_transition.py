"""The Ising example end to end (inputs/ising/run.sh --small: L = 16, 10,060 configurations, the
MLP, 3 epochs) and `physfit transition` on its outputs: the regression test of the example, the
same numbers at any rank count, and the errors a user meets. Run by CTest (one test per class)
with PHYSFIT_BIN, MPIEXEC and PHYSFIT_TEST_SCRATCH set."""

import os
import subprocess
import unittest

import h5py
import numpy as np

from harness import BIN, MPIEXEC, SOURCE, last_json, physfit, scratch

TC = 2.0 / np.log(1.0 + np.sqrt(2.0))
RUN = os.path.join(SOURCE, "inputs", "ising", "run.sh")

# T(16) of the small example's configuration from six independent runs (data seeds 11-16 for
# the training and 111-116 for the held-out sets, network seeds 11-16): mean 2.3166, standard
# deviation 0.0087 between runs. That spread (training data and initial weights) is about twice
# the statistical error `transition` reports for one run (0.004-0.006), so a run is compared
# with the reference within 4 combined standard deviations.
T16_REFERENCE = 2.3166
T16_SPREAD = 0.0087


def small_example(d):
    env = dict(os.environ, PHYSFIT_BIN=BIN, PHYSFIT_LAUNCHER="%s -n 2" % MPIEXEC)
    r = subprocess.run([RUN, "--small", "--out", d], capture_output=True, text=True,
                       timeout=900, env=env, cwd=d)
    if r.returncode != 0:
        raise AssertionError("run.sh --small failed (%d):\n%s" % (r.returncode, r.stderr[-3000:]))
    return r


class IsingExample(unittest.TestCase):
    """inputs/ising/run.sh --small, as a user runs it, then checks of what it wrote."""

    @classmethod
    def setUpClass(cls):
        cls.dir = scratch(cls("test_tc16_is_within_what_its_statistics_allow"))
        r = small_example(cls.dir)
        cls.log = r.stdout + r.stderr

    def test_tc16_is_within_what_its_statistics_allow(self):
        with h5py.File(os.path.join(self.dir, "transition_mlp.h5")) as f:
            self.assertEqual(list(f["/transition/sizes"][:]), [16])
            t, e = f["/transition/crossing"][0], f["/transition/crossing_error"][0]
            g = f["/transition/L16"]
            self.assertEqual(len(g["temperature"]), 38)
            self.assertEqual(list(g["count"][:]), [120] * 38)
            p = g["probability"][:]
            # Deep in either phase the classifier is sure; the curve falls through 1/2.
            self.assertTrue(np.all(p[g["temperature"][:] <= 1.8] > 0.99), p)
            self.assertTrue(np.all(p[g["temperature"][:] >= 3.0] < 0.05), p)
            self.assertEqual(f["/transition/crossing"].attrs["unit"], "J/k_B")
            self.assertEqual(f["/transition"].attrs["extrapolated"], 0)
        self.assertLess(e, 0.01)  # the statistics the test relies on were reached
        tolerance = 4 * np.hypot(e, T16_SPREAD)
        self.assertLess(abs(t - T16_REFERENCE), tolerance,
                        "T(16) = %.4f +- %.4f, reference %.4f" % (t, e, T16_REFERENCE))
        # A finite lattice orders more easily than the infinite one: T(16) lies above T_c.
        self.assertGreater(t, TC)
        self.assertIn("P(ordered) = 1/2 at T = %.6g" % t, self.log)
        with open(os.path.join(self.dir, "transition_mlp.png"), "rb") as png:
            self.assertEqual(png.read(8), b"\x89PNG\r\n\x1a\n")

    def test_the_training_data_are_packed_and_away_from_tc(self):
        with h5py.File(os.path.join(self.dir, "train_L16_0.h5")) as f:
            self.assertEqual(f["/features"].shape, (5500, 32))
            self.assertEqual(f["/features"].attrs["packing"], "bits")
            t = f["/temperature"][:]
            self.assertGreater(np.abs(t - TC).min(), 0.25)
            np.testing.assert_array_equal(f["/labels"][:], (t < TC).astype(np.int32))

    def test_plot_draws_the_transition_file(self):
        out = os.path.join(self.dir, "replot.png")
        r = physfit("plot", os.path.join(self.dir, "transition_mlp.h5"), "--output.file", out,
                    "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(last_json(r.stdout)["result"]["kind"], "transition")
        with open(out, "rb") as png:
            self.assertEqual(png.read(8), b"\x89PNG\r\n\x1a\n")

    def test_the_same_numbers_at_one_and_three_ranks(self):
        outs = []
        for ranks in (None, 3):
            out = os.path.join(self.dir, "ranks%s.h5" % ranks)
            r = physfit("transition", "--input.models", os.path.join(self.dir, "mlp_L16_0.h5"),
                        "--input.data", os.path.join(self.dir, "test_L16.h5"), "--output.file",
                        out, "--output.figure", "", "--quiet", "--json", ranks=ranks)
            self.assertEqual(r.returncode, 0, r.stderr)
            outs.append(out)
        with h5py.File(outs[0]) as a, h5py.File(outs[1]) as b:
            for name in ("probability", "error", "count", "temperature"):
                np.testing.assert_array_equal(a["/transition/L16/" + name][:],
                                              b["/transition/L16/" + name][:])
            self.assertEqual(a["/transition/crossing"][0], b["/transition/crossing"][0])

    def test_a_rerun_keeps_the_generated_sets(self):
        before = os.stat(os.path.join(self.dir, "test_L16.h5")).st_mtime_ns
        r = small_example(self.dir)
        self.assertIn("test_L16.h5 exists, kept", r.stderr)
        self.assertEqual(os.stat(os.path.join(self.dir, "test_L16.h5")).st_mtime_ns, before)

    def test_errors_name_the_key_or_the_file(self):
        model = os.path.join(self.dir, "mlp_L16_0.h5")
        data = os.path.join(self.dir, "test_L16.h5")
        r = physfit("transition", "--input.models", model + "," + model, "--input.data", data,
                    "--output.file", os.path.join(self.dir, "x.h5"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--input.models has 2 files and --input.data 1", r.stderr)
        # Data without /temperature: exit 4, naming the file.
        plain = os.path.join(self.dir, "plain.h5")
        with h5py.File(data) as f, h5py.File(plain, "w") as g:
            f.copy("/features", g)
            f.copy("/labels", g)
        r = physfit("transition", "--input.models", model, "--input.data", plain,
                    "--output.file", os.path.join(self.dir, "x.h5"), ranks=2)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("'%s' has no /temperature" % plain, r.stderr)
        # A dataset that does not exist: exit 4 naming the key, before anything runs.
        r = physfit("transition", "--input.models", model, "--input.data",
                    os.path.join(SOURCE, "tests", "data", "missing.h5"))
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("--input.data", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.h5")))
