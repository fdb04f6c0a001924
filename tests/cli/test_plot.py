"""End-to-end tests of `physfit plot`: every kind of file physfit writes (a real `train` model,
a real `lasso` result, a phonons.h5 and an fc model with cross-validation in physfit's layout)
drawn as PNG, SVG and PDF; each figure opened (PNG signature and size, SVG parsed as XML, PDF
header and trailer) and its SVG checked for the curves it must hold, in their colours and
styles. Run by CTest with PHYSFIT_BIN, MPIEXEC, PHYSFIT_SOURCE_DIR and PHYSFIT_TEST_SCRATCH."""

import os
import re
import sys
import unittest
import xml.etree.ElementTree as ET

import h5py
import numpy as np

from harness import SOURCE, last_json, physfit, scratch

sys.path.insert(0, os.path.join(SOURCE, "scripts", "lasso"))
from problems import Spec, generate  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
# Okabe-Ito colours as cairo writes them in SVG (percentages of 255).
BLUE = (0, 114, 178)
VERMILLION = (213, 94, 0)
BLACK = (0, 0, 0)
GREEN = (0, 158, 115)


def strokes(svg_path, rgb, dashed=None):
    """The <path> elements of the SVG stroked in colour rgb (dashed or solid if asked)."""
    root = ET.parse(svg_path).getroot()
    found = []
    for e in root.iter(SVG + "path"):
        style = e.get("style", "")
        m = re.search(r"stroke:rgb\(([^)]*)\)", style)
        if not m:
            continue
        got = tuple(float(v.rstrip("%")) for v in m.group(1).split(","))
        if max(abs(a - 100 * b / 255) for a, b in zip(got, rgb)) > 0.01:
            continue
        if dashed is not None and ("stroke-dasharray" in style) != dashed:
            continue
        found.append(e)
    return found


def fill_matches(style, rgb):
    m = re.search(r"fill:rgb\(([^)]*)\)", style)
    if not m:
        return False
    got = tuple(float(v.rstrip("%")) for v in m.group(1).split(","))
    return max(abs(a - 100 * b / 255) for a, b in zip(got, rgb)) < 0.01


def points_of(path_element):
    """The number of nodes (M and L commands) of an SVG path. Cairo merges nodes that are
    collinear or closer than its fixed-point resolution, so a curve of n points may have fewer."""
    return len(re.findall(r"[ML]", path_element.get("d", "")))


def curves(svg_path, rgb, dashed, width):
    """Stroked curves (more than two nodes: not a legend's sample) of a colour, dash and width."""
    return [e for e in strokes(svg_path, rgb, dashed)
            if points_of(e) > 2 and "stroke-width:%g;" % width in e.get("style", "")]


class Plot(unittest.TestCase):
    def setUp(self):
        self.d = scratch(self)

    def draw(self, source, name, *extra, ranks=None):
        out = os.path.join(self.d, name)
        r = physfit("plot", source, "--output.file", out, "--json", *extra, ranks=ranks)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([f for f in os.listdir(self.d) if ".tmp-" in f], [])
        return out, last_json(r.stdout)["result"]

    def check_files(self, source, kind, width=1100, height=560):
        """PNG, SVG and PDF of `source`: each opens and has the size asked for. Returns the
        SVG's path."""
        png, res = self.draw(source, "f.png")
        self.assertEqual(res["kind"], kind)
        with open(png, "rb") as f:
            head = f.read(24)
        self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(int.from_bytes(head[16:20], "big"), width)
        self.assertEqual(int.from_bytes(head[20:24], "big"), height)
        svg, _ = self.draw(source, "f.svg")
        root = ET.parse(svg).getroot()
        self.assertEqual(root.tag, SVG + "svg")
        self.assertEqual(root.get("width"), "%dpt" % width)
        pdf, _ = self.draw(source, "f.pdf")
        with open(pdf, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"%PDF-1."))
        self.assertIn(b"%%EOF", data[-32:])
        return svg

    def test_training_history_of_a_real_train_run(self):
        data = os.path.join(self.d, "data.h5")
        rng = np.random.default_rng(3)
        with h5py.File(data, "w") as f:
            x = f.create_dataset("features", data=rng.integers(0, 256, (90, 4, 4), dtype=np.uint8))
            x.attrs["scale"] = np.float64(1 / 255)
            x.attrs["offset"] = np.float64(0.0)
            labels = f.create_dataset("labels", data=(np.arange(90) % 3).astype(np.int32))
            labels.attrs["classes"] = np.int64(3)
        ini = os.path.join(self.d, "run.ini")
        model = os.path.join(self.d, "model.h5")
        with open(ini, "w") as f:
            f.write(f"[data]\ntrain = {data}\nvalidation-split = 0.25\n"
                    f"[model]\nlayers = flatten, dense 8 tanh, dense 3\n"
                    f"[train]\nepochs = 6\nbatch = 8\nseed = 2\n[output]\nmodel = {model}\n")
        r = physfit("train", ini, ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(model, "r") as f:
            epochs = len(f["/history/epoch"])
            self.assertIn("val_loss", f["/history"])
        svg = self.check_files(model, "history")
        self.assertGreaterEqual(epochs, 6)
        # Loss and accuracy: training solid blue, validation dashed vermillion, each with its
        # legend sample; throughput in its own panel (bluish green).
        self.assertEqual(len(curves(svg, BLUE, False, 2.2)), 2)
        self.assertEqual(len(curves(svg, VERMILLION, True, 2.2)), 2)
        self.assertEqual(len(strokes(svg, VERMILLION, True)), 4)
        self.assertEqual(len(curves(svg, (0, 158, 115), False, 2.2)), 1)

    def test_lasso_path_and_cross_validation_of_a_real_lasso_run(self):
        data = os.path.join(self.d, "data.h5")
        A, y, _ = generate(Spec(rows=300, cols=20, seed=4, scale_range=3, nonzeros=5,
                                noise_exponent=-1))
        with h5py.File(data, "w") as f:
            f["A"], f["y"] = A, y
        out = os.path.join(self.d, "lasso.h5")
        r = physfit("lasso", "--input.file", data, "--output.file", out, "--path.count", 25,
                    ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out, "r") as f:
            coef = f["/lasso/path/coef"][...]
        svg = self.check_files(out, "lasso")
        # Every coefficient ever selected is one path line with one node per lambda.
        selected = int((np.abs(coef) > 0).any(axis=0).sum())
        lines = [e for e in ET.parse(svg).getroot().iter(SVG + "path")
                 if points_of(e) > 2 and "stroke-width:1.5;" in e.get("style", "")]
        self.assertEqual(len(lines), selected)
        # lambda_min vermillion and lambda_1se black, both dashed, in both panels and in both
        # legends: four each.
        self.assertEqual(len(strokes(svg, VERMILLION, dashed=True)), 4)
        self.assertEqual(len(strokes(svg, BLACK, dashed=True)), 4)

    def write_bands(self, path, reference=False):
        """A phonons.h5 in physfit's layout (two branches of a chain, analytic), with a DOS."""
        q = np.linspace(0, np.pi, 120)
        freq = np.stack([2 * np.sin(q / 2), 6 - np.sin(q / 2)], axis=1)
        with h5py.File(path, "w") as f:
            f["/bands/distance"] = q
            f["/bands/branch"] = np.zeros(len(q), np.int32)
            ds = f.create_dataset("/bands/frequencies", data=freq)
            ds.attrs["unit"] = "THz"
            ds.attrs["labels"] = "G,X"
            f["/bands/label_distance"] = np.array([0, np.pi])
            f["/dos/frequency"] = np.linspace(0, 6.5, 80)
            f["/dos/density"] = np.exp(-(np.linspace(0, 6.5, 80) - 5.5) ** 2)
            if reference:
                f["/reference/frequencies"] = freq - np.array([0, 0.5])
        return len(q)

    def test_phonon_bands_with_dos_and_reference(self):
        source = os.path.join(self.d, "phonons.h5")
        n = self.write_bands(source, reference=True)
        svg = self.check_files(source, "bands")
        # Two fitted bands solid blue with every q-point, the DOS (80 points) in blue beside
        # them, the reference dashed vermillion over both bands.
        fit = curves(svg, BLUE, False, 2.2)
        self.assertEqual(len(fit), 2)
        self.assertTrue(all(points_of(e) > n // 2 for e in fit))
        self.assertEqual(len(curves(svg, BLUE, False, 2)), 1)
        ref = curves(svg, VERMILLION, True, 1.8)
        self.assertEqual(len(ref), 2)
        # Drawn above the fit: the reference paths come after the fitted ones in the document.
        key = lambda e: (e.get("style"), e.get("d"))  # noqa: E731
        order = [key(e) for e in ET.parse(svg).getroot().iter(SVG + "path")]
        self.assertLess(max(order.index(key(e)) for e in fit), min(order.index(key(e)) for e in ref))

    def test_bands_of_a_real_phonons_run_with_its_reference(self):
        # Si: physfit's phonons of phonopy's finite-difference constants, with the same
        # constants read back as reference: /reference/frequencies is stored and drawn.
        data = os.environ["PHYSFIT_SI_DATA"]
        out = os.path.join(self.d, "phonons.h5")
        fc = os.path.join(data, "FORCE_CONSTANTS")
        structure = os.path.join(data, "si64_phonopy.h5")
        r = physfit("phonons", "--input.fc", fc, "--structure.file", structure, "--reference.fc", fc,
                    "--output.file", out, "--output.figure", os.path.join(self.d, "direct.svg"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out, "r") as f:
            bands = f["/bands/frequencies"][...]
            reference = f["/reference/frequencies"][...]
            self.assertEqual(f["/reference/frequencies"].attrs["unit"], "THz")
        np.testing.assert_allclose(reference, bands, atol=1e-9)
        svg = self.check_files(out, "bands")
        # Six bands of the fit, six of the reference; the path has breaks ('|'), so a band is
        # one path per connected piece: at least six of each.
        fit = curves(svg, BLUE, False, 2.2)
        ref = curves(svg, VERMILLION, True, 1.8)
        self.assertGreaterEqual(len(fit), 6)
        self.assertEqual(len(ref), len(fit))
        # phonons --output.figure draws the same figure as plot of its output (the title aside).
        direct = os.path.join(self.d, "direct.svg")
        self.assertEqual(len(curves(direct, VERMILLION, True, 1.8)), len(ref))

    def test_the_difference_panel_of_bands_and_reference(self):
        # The chain's optical branch is 0.5 above its reference: fit - reference is 0 for the
        # acoustic band and 0.5 for the optical one, two green curves under the bands.
        source = os.path.join(self.d, "phonons_diff.h5")
        n = self.write_bands(source, reference=True)
        svg = os.path.join(self.d, "diff.svg")
        r = physfit("plot", source, "--figure.difference", "--figure.height", 800,
                    "--output.file", svg)
        self.assertEqual(r.returncode, 0, r.stderr)
        # (cairo merges the collinear nodes of a flat line: two nodes each)
        diff = [e for e in strokes(svg, GREEN, False) if "stroke-width:1.6;" in e.get("style", "")]
        self.assertEqual(len(diff), 2)
        # Flat lines: every node of a difference curve has one y (0 and 0.5 apart).
        ys = sorted({round(float(y), 3) for e in diff
                     for y in re.findall(r"[ML] [-0-9.e]+ ([-0-9.e]+)", e.get("d"))})
        self.assertEqual(len(ys), 2, ys)
        # Without a reference the panel is an error naming the file; phonons refuses it without
        # --reference.fc.
        bare = os.path.join(self.d, "phonons_bare.h5")
        self.write_bands(bare)
        r = physfit("plot", bare, "--figure.difference", "--output.file",
                    os.path.join(self.d, "bare.svg"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--figure.difference needs /reference/frequencies", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.d, "bare.svg")))
        data = os.environ["PHYSFIT_SI_DATA"]
        r = physfit("phonons", "--input.fc", os.path.join(data, "FORCE_CONSTANTS"),
                    "--structure.file", os.path.join(data, "si64_phonopy.h5"),
                    "--figure.difference", "--output.figure", os.path.join(self.d, "x.png"),
                    "--output.file", "")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("give --reference.fc", r.stderr)
        self.assertEqual(n, 120)

    def test_force_constant_cross_validation(self):
        source = os.path.join(self.d, "fc.h5")
        lambdas = np.logspace(-6, -1, 40)
        mse = 1e-4 * (1 + (np.log10(lambdas) + 4) ** 2)
        with h5py.File(source, "w") as f:
            f["/fit/lambdas"] = lambdas
            f["/fit/cv_mse"] = mse
            f["/fit/cv_se"] = 0.1 * mse
            f["/fit"].attrs["lambda_min"] = 1e-4
            f["/fit"].attrs["lambda_1se"] = 3e-4
        svg = self.check_files(source, "fc")
        self.assertEqual(len(strokes(svg, VERMILLION, dashed=True)), 2)  # guide + legend
        self.assertEqual(len(strokes(svg, BLACK, dashed=True)), 2)

    def test_force_parity_of_a_real_fc_run(self):
        # Si, FC2 + FC3 by LASSO with CV on 40 configurations, 10 held out: the model holds the
        # held-out forces of the data and the fit's, and plot draws them beside the CV curve.
        data = os.path.join(os.environ["PHYSFIT_SI_DATA"], "si64_rattle_0.03.h5")
        model = os.path.join(self.d, "si_fc.h5")
        r = physfit("fc", "--input.data", data, "--clusters.cutoffs=-1,4.0", "--fit.method",
                    "lasso", "--cv.folds", 4, "--configs.train", 40, "--configs.test", 10,
                    "--output.file", model, "--json", ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        held_out_rmse = last_json(r.stdout)["result"]["test"]["rmse"]
        with h5py.File(model, "r") as f:
            truth = f["/parity/true_forces"][...]
            predicted = f["/parity/predicted_forces"][...]
            self.assertEqual(f["/parity"].attrs["configurations"], "held-out")
            self.assertEqual(f["/parity/true_forces"].attrs["unit"], "eV/angstrom")
        with h5py.File(data, "r") as f:
            np.testing.assert_array_equal(truth, f["/configs/forces"][40:50])
        self.assertEqual(predicted.shape, (10, 64, 3))
        self.assertAlmostEqual(np.sqrt(np.mean((predicted - truth) ** 2)), held_out_rmse,
                               delta=1e-12 * held_out_rmse)
        svg = self.check_files(model, "fc")
        # Three series of markers (F_x, F_y, F_z), each with every held-out component, and the
        # CV panel's lambda_min guide.
        root = ET.parse(svg).getroot()
        for rgb in (BLUE, VERMILLION, GREEN):
            counts = [len(re.findall("M", e.get("d", ""))) for e in root.iter(SVG + "path")
                      if fill_matches(e.get("style", ""), rgb) and "stroke:none" in e.get("style", "")]
            self.assertIn(10 * 64, counts, rgb)
        self.assertEqual(len(strokes(svg, VERMILLION, dashed=True)), 2)

    def test_parity_of_a_regression(self):
        data = os.path.join(self.d, "data.h5")
        rng = np.random.default_rng(5)
        truth = rng.normal(size=(40, 2))
        with h5py.File(data, "w") as f:
            f["features"] = rng.normal(size=(40, 3))
            f["targets"] = truth
        source = os.path.join(self.d, "predictions.h5")
        with h5py.File(source, "w") as f:
            s = f.create_dataset("scores", data=(truth + 0.1 * rng.normal(size=truth.shape)))
            s.attrs["data"] = data
        svg = self.check_files(source, "parity", 560, 560)
        # One filled marker per sample and output, in the output's colour (circles start with
        # M), the legend's own marker apart; the diagonal dashed black.
        root = ET.parse(svg).getroot()
        def markers(rgb):
            return sorted(len(re.findall("M", e.get("d", ""))) for e in root.iter(SVG + "path")
                          if fill_matches(e.get("style", ""), rgb))
        self.assertEqual(markers(BLUE), [1, 40])
        self.assertEqual(markers(VERMILLION), [1, 40])
        self.assertEqual(len(strokes(svg, BLACK, dashed=True)), 2)  # diagonal and its legend
        # Predictions of another data file: refused, naming both sizes.
        other = os.path.join(self.d, "other.h5")
        with h5py.File(other, "w") as f:
            f["targets"] = truth[:30]
        r = physfit("plot", source, "--parity.data", other, "--output.file",
                    os.path.join(self.d, "x.png"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("80 values", r.stderr)
        self.assertIn("60", r.stderr)

    def test_one_rank_draws_under_mpi_and_errors_are_clear(self):
        source = os.path.join(self.d, "phonons.h5")
        self.write_bands(source)
        out, _ = self.draw(source, "bands.pdf", ranks=3)
        self.assertTrue(os.path.getsize(out) > 1000)
        # The default output: FILE with the extension .png, next to it.
        r = physfit("plot", source)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.d, "phonons.png")))
        # Unknown format, the input as output, a file with nothing to draw: usage errors that
        # name the option or the file, and nothing written.
        r = physfit("plot", source, "--output.file", os.path.join(self.d, "b.gif"), ranks=2)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--output.file", r.stderr)
        self.assertIn(".png, .svg or .pdf", r.stderr)
        with open(source, "rb") as f:
            before = f.read()
        r = physfit("plot", source, "--output.file", source)
        self.assertEqual(r.returncode, 2, r.stderr)
        with open(source, "rb") as f:
            self.assertEqual(f.read(), before)
        empty = os.path.join(self.d, "empty.h5")
        with h5py.File(empty, "w") as f:
            f["x"] = np.zeros(3)
        r = physfit("plot", empty, "--output.file", os.path.join(self.d, "e.png"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("nothing to draw", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.d, "e.png")))

    def test_help_documents_the_options(self):
        r = physfit("plot", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for key in ("--output.file", "--figure.width", "--figure.height", "--figure.title"):
            self.assertIn(key, r.stdout)


if __name__ == "__main__":
    unittest.main()
