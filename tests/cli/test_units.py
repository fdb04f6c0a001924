"""Every dataset physfit writes says its unit: each command that writes HDF5 runs on real data
(silicon from LAMMPS, a CSV table, IDX images, a least-squares problem), and every dataset of
every file it writes must carry a non-empty `unit` attribute ("dimensionless" for counts,
indices, labels and ratios). The units of the physical quantities are checked by name, and the
stated DOS normalisation against the physics: the density integrates to 3 x the atoms of the
primitive cell. Run by CTest with PHYSFIT_BIN, MPIEXEC, PHYSFIT_SI_DATA and
PHYSFIT_TEST_SCRATCH in the environment."""

import glob
import os
import unittest

import h5py
import numpy as np

from harness import physfit, scratch

DATA = os.environ.get("PHYSFIT_SI_DATA", "/tmp/physfit-si")


def datasets(path):
    """{name: unit attribute or None} of every dataset in an HDF5 file."""
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            unit = obj.attrs.get("unit")
            if isinstance(unit, bytes):
                unit = unit.decode()
            out["/" + name] = unit

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


class EveryDatasetHasAUnit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = d = scratch(cls("run"))
        si = lambda name: os.path.join(DATA, name)  # noqa: E731
        p = lambda name: os.path.join(d, name)  # noqa: E731
        rng = np.random.default_rng(7)
        with open(p("class.csv"), "w") as f:
            f.write("a,b,c,label\n")
            for x in rng.normal(size=(60, 3)):
                f.write("%.6f,%.6f,%.6f,%d\n" % (x[0], x[1], x[2], int(x[0] + x[1] > 0)))
        with open(p("regress.csv"), "w") as f:
            f.write("a,b,y\n")
            for x in rng.normal(size=(60, 2)):
                f.write("%.6f,%.6f,%.6f\n" % (x[0], x[1], 2 * x[0] - x[1]))
        with open(p("images.idx"), "wb") as f:  # 2 images of 2 x 2
            f.write(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2]) + bytes(range(8)))
        with open(p("labels.idx"), "wb") as f:
            f.write(bytes([0, 0, 8, 1, 0, 0, 0, 2, 0, 1]))
        with h5py.File(p("ay.h5"), "w") as f:
            a = rng.normal(size=(40, 6))
            f["A"] = a
            f["y"] = a @ np.array([1.0, 0, -2, 0, 0, 0.5]) + 0.01 * rng.normal(size=40)
        cls.commands = [
            ["import", "csv", "--input.file", p("class.csv"), "--csv.label-column", "label",
             "--output.file", p("class.h5")],
            ["import", "csv", "--input.file", p("regress.csv"), "--csv.target-columns", "y",
             "--output.file", p("regress.h5")],
            ["import", "idx", "--input.images", p("images.idx"), "--input.labels", p("labels.idx"),
             "--output.file", p("idx.h5")],
            ["import", "extxyz", "--input.file", si("si64_rattle_0.01.extxyz"), "--structure.file",
             si("si64_rattle_0.01.h5"), "--output.file", p("si.h5")],
            ["import", "phonopy", "--input.file", si("phonopy_params.yaml"), "--output.file",
             p("phonopy.h5")],
            ["train", "--data.train", p("class.h5"), "--data.validation-split", 0.25,
             "--model.layers", "dense 4, relu, dense 2", "--train.epochs", 2,
             "--optimizer.type", "adam", "--output.model", p("class_model.h5")],
            ["train", "--data.train", p("regress.h5"), "--model.layers", "dense 1",
             "--model.loss", "mse", "--data.validation-split", 0.25, "--train.epochs", 2,
             "--optimizer.type", "sgd", "--optimizer.momentum", 0.9,
             "--output.model", p("regress_model.h5")],
            ["predict", p("class_model.h5"), p("class.h5"), "--output.file", p("class_pred.h5")],
            ["predict", p("regress_model.h5"), p("regress.h5"), "--output.file",
             p("regress_pred.h5")],
            ["lasso", "--input.file", p("ay.h5"), "--fit.task", "cv", "--fit.method", "adaptive",
             "--fit.debias", "true", "--output.file", p("lasso.h5")],
            ["fc", "--input.data", p("si.h5"), "--clusters.cutoffs", "5.0,3.0", "--fit.method", "lasso",
             "--cv.folds", 3, "--path.count", 8, "--output.file", p("fc.h5"), "--output.export-dir",
             p("exports"), "--output.exports", "phonopy-hdf5,phono3py"],
            ["phonons", "--input.fc", p("fc.h5"), "--dos.mesh", 8, "--output.file", p("phonons.h5")],
            ["selfcheck", "--output.file", p("selfcheck.h5"), "--check.rows", 100, "--check.cols", 4],
            ["generate", "ising", "--lattice.size", 16, "--temperatures.count", 3,
             "--samples.per-temperature", 10, "--output.file", p("ising.h5")],
            ["train", "--data.train", p("ising.h5"), "--model.layers", "dense 2",
             "--train.epochs", 1, "--output.model", p("ising_model.h5")],
            ["transition", "--input.models", p("ising_model.h5"), "--input.data", p("ising.h5"),
             "--output.file", p("transition.h5"), "--output.figure", ""],
        ]
        cls.results = [physfit(*c) for c in cls.commands]

    def run_ok(self):
        for c, r in zip(self.commands, self.results):
            self.assertEqual(r.returncode, 0, "%s: %s" % (" ".join(map(str, c[:2])), r.stderr))

    def test_every_dataset_of_every_output_has_a_unit(self):
        self.run_ok()
        files = [f for f in glob.glob(os.path.join(self.d, "**", "*"), recursive=True)
                 if f.endswith((".h5", ".hdf5")) and not f.endswith("ay.h5")]
        self.assertEqual(len(files), 18, files)
        count = 0
        for path in files:
            for name, unit in datasets(path).items():
                count += 1
                self.assertTrue(unit, "%s in %s has no unit attribute" % (name, path))
        self.assertGreater(count, 100)

    def test_physical_quantities_have_their_units(self):
        self.run_ok()
        p = lambda name: os.path.join(self.d, name)  # noqa: E731
        expected = {
            "si.h5": {"/structure/lattice": "angstrom", "/structure/positions": "angstrom",
                      "/structure/masses": "amu", "/configs/displacements": "angstrom",
                      "/configs/forces": "eV/angstrom", "/structure/numbers": "dimensionless"},
            "fc.h5": {"/fc/force_constants": "eV/angstrom^2", "/fc/fc3": "eV/angstrom^3",
                      "/fc/orbits/max_distance": "angstrom", "/fit/cv_mse": "(eV/angstrom)^2",
                      "/fit/lambdas": "eV/angstrom"},
            "exports/force_constants.hdf5": {"/force_constants": "eV/angstrom^2"},
            "exports/fc3.hdf5": {"/fc3": "eV/angstrom^3"},
            "phonons.h5": {"/bands/distance": "1/angstrom", "/bands/frequencies": "THz",
                           "/bands/qpoints": "dimensionless", "/dos/frequency": "THz",
                           "/dos/density": "1/THz"},
            "class_model.h5": {"/history/loss": "dimensionless", "/history/time_s": "s",
                               "/history/val_accuracy": "dimensionless",
                               "/history/samples_per_s": "1/s"},
            "regress_model.h5": {"/history/rmse": "unit of /targets",
                                 "/history/val_loss": "(unit of /targets)^2"},
            "lasso.h5": {"/lasso/cv/mean_error": "(unit of y)^2",
                         "/lasso/path/lambda": "unit of y",
                         "/lasso/path/coef": "unit of y / unit of the column of A"},
            "ising.h5": {"/features": "dimensionless", "/temperature": "J/k_B",
                         "/labels": "dimensionless", "/energy": "J per spin",
                         "/magnetization": "dimensionless", "/ising/tau_abs_m": "steps",
                         "/ising/spacing": "steps"},
            "transition.h5": {"/transition/L16/temperature": "J/k_B",
                              "/transition/L16/probability": "dimensionless",
                              "/transition/crossing": "J/k_B",
                              "/transition/L16/member_crossing": "J/k_B"},
        }
        for name, units in expected.items():
            found = datasets(p(name))
            for dataset, unit in units.items():
                self.assertEqual(found.get(dataset), unit, "%s in %s" % (dataset, name))

    def test_the_density_of_states_integrates_to_the_number_of_modes(self):
        self.run_ok()
        with h5py.File(os.path.join(self.d, "phonons.h5"), "r") as f:
            w = f["/dos/frequency"][...]
            g = f["/dos/density"][...]
            self.assertIn("3 x the atoms of the primitive cell",
                          f["/dos/density"].attrs["normalisation"])
            self.assertEqual(list(f["/dos/density"].attrs["mesh"]), [8, 8, 8])
        # Diamond silicon: 2 atoms in the primitive cell, 6 modes per q-point. The Gaussians'
        # tails beyond the grid (3 sigma past the extreme frequencies) hold 0.13 % of a mode.
        self.assertAlmostEqual(np.trapz(g, w), 6.0, delta=0.02)


if __name__ == "__main__":
    unittest.main()
