"""Bad inputs end as errors with the README's exit codes (issue 11, point 4): each test writes
one bad file with h5py/numpy (beside a good one that the same command accepts, so the check
cannot pass by the command failing for another reason), runs physfit at 1 and 2 ranks and checks
the exit code (2 usage, 4 malformed or unreadable input data, 5 numerical failure) and a
fragment of the message naming the file, the field and the value. Run by CTest (one test per
class) with PHYSFIT_BIN, MPIEXEC and PHYSFIT_TEST_SCRATCH in the environment."""

import os
import re
import struct
import unittest

import h5py
import numpy as np

from harness import physfit, scratch

# Every case at 1 and 2 ranks; the sanitizer build (PHYSFIT_SANITIZE=1), where each run costs
# seconds, runs the 2-rank one, which takes every path the 1-rank one does and more.
RANKS = (2,) if os.environ.get("PHYSFIT_SANITIZE") == "1" else (1, 2)


def write_training_data(path, rows=24, labels=None, scale=1.0 / 255, classes=3, shape=(2, 3)):
    """An image data set in the layout 'physfit import' writes: uint8 [rows, *shape] features
    with scale/offset attributes and int32 labels with a classes attribute."""
    rng = np.random.default_rng(1)
    with h5py.File(path, "w") as f:
        x = f.create_dataset("features", data=rng.integers(0, 256, (rows,) + tuple(shape),
                                                           dtype=np.uint8))
        x.attrs["scale"] = np.float64(scale)
        x.attrs["offset"] = np.float64(0.0)
        if labels is None:
            labels = (np.arange(rows) % 3).astype(np.int32)
        l = f.create_dataset("labels", data=labels)
        l.attrs["classes"] = np.int64(classes)


def write_config(path, data, model):
    with open(path, "w") as f:
        f.write(f"""[data]
train = {data}
validation-split = 0.25
[model]
layers = flatten, dense 4 tanh, dense 3
[train]
epochs = 1
batch = 6
seed = 2
[output]
model = {model}
""")


class Case(unittest.TestCase):
    def assert_fails(self, args, code, *fragments, ranks=RANKS):
        """physfit `args` ends with `code` at every rank count, its standard error holding every
        fragment, and no traceback of an internal error."""
        for n in ranks:
            r = physfit(*args, ranks=n)
            self.assertEqual(r.returncode, code, "%d ranks: %s" % (n, r.stderr))
            for fragment in fragments:
                self.assertIn(fragment, r.stderr, "%d ranks" % n)
            self.assertNotIn("internal error", r.stderr)
        return r


class TrainingData(Case):
    """physfit train on a data file whose labels or attributes are wrong: exit 4 naming the
    file, the dataset or attribute and the value."""

    def setUp(self):
        self.d = scratch(self)

    def train(self, data, ranks):
        ini = os.path.join(self.d, "run.ini")
        write_config(ini, data, os.path.join(self.d, "model.h5"))
        return physfit("train", ini, ranks=ranks)

    def check(self, data, *fragments):
        ini = os.path.join(self.d, "run.ini")
        write_config(ini, data, os.path.join(self.d, "model.h5"))
        self.assert_fails(["train", ini], 4, *fragments)

    def test_the_good_file_trains(self):
        good = os.path.join(self.d, "good.h5")
        write_training_data(good)
        for n in RANKS:
            r = self.train(good, n)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_float_labels_are_an_error_not_truncated(self):
        bad = os.path.join(self.d, "float_labels.h5")
        write_training_data(bad, labels=(np.arange(24) % 3) + 0.5)
        self.check(bad, "'/labels' in '%s' has type float64" % bad, "must be integers")

    def test_a_nan_or_infinite_scale_is_an_error(self):
        for value, text in ((np.nan, "nan"), (np.inf, "inf")):
            bad = os.path.join(self.d, "scale_%s.h5" % text)
            write_training_data(bad, scale=value)
            self.check(bad, "attribute 'scale' of '/features' in '%s' is %s" % (bad, text))

    def test_a_class_count_beyond_an_int_is_named_exactly(self):
        bad = os.path.join(self.d, "classes.h5")
        write_training_data(bad, classes=10**12)
        self.check(bad, "attribute 'classes' of '/labels' in '%s' is 1000000000000" % bad,
                   "1 to 2147483647")

    def test_float_idx_labels_are_an_error_not_truncated(self):
        images = os.path.join(self.d, "images.idx")
        write_idx_header(images, 0x08, (3, 2, 2), bytes(12))
        out = os.path.join(self.d, "out.h5")
        for values, ok in (([0, 2, 1], True), ([0, 2.5, 1], False)):
            labels = os.path.join(self.d, "labels.idx")
            write_idx_header(labels, 0x0D, (3,), np.array(values, ">f4").tobytes())
            args = ["import", "idx", "--input.images", images, "--input.labels", labels, "--output.file", out]
            if ok:  # whole numbers stored as float32 are class indices
                r = physfit(*args)
                self.assertEqual(r.returncode, 0, r.stderr)
                with h5py.File(out, "r") as f:
                    np.testing.assert_array_equal(f["/labels"][...], [0, 2, 1])
                os.remove(out)
            else:
                self.assert_fails(args, 4, "'%s', label 1: 2.500000 (IDX type float32) is not "
                                  "a non-negative integer" % labels)
                self.assertFalse(os.path.exists(out))

    def test_a_zero_image_dimension_is_an_error(self):
        bad = os.path.join(self.d, "zero.h5")
        write_training_data(bad, shape=(0, 3))
        self.check(bad, "'/features' in '%s' has shape [24, 0, 3]: dimension 1 is 0" % bad)


class ModelFile(Case):
    """A model file with a NaN parameter: evaluate and predict end with exit 4 naming the file
    and the dataset, instead of printing scores computed from NaN."""

    def test_a_nan_parameter_is_an_error_naming_the_file_and_dataset(self):
        d = scratch(self)
        data = os.path.join(d, "data.h5")
        write_training_data(data)
        ini = os.path.join(d, "run.ini")
        model = os.path.join(d, "model.h5")
        write_config(ini, data, model)
        r = physfit("train", ini)
        self.assertEqual(r.returncode, 0, r.stderr)
        for n in RANKS:  # the good model evaluates
            r = physfit("evaluate", model, data, ranks=n)
            self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(model, "r+") as f:
            p = f["/model/parameters"]
            p[5] = np.nan
        self.assert_fails(["evaluate", model, data], 4,
                          "dataset '/model/parameters' in '%s': parameter 5" % model, "is nan")
        self.assert_fails(["predict", model, data, "--output.file", os.path.join(d, "pred.h5")], 4,
                          "dataset '/model/parameters' in '%s': parameter 5" % model)
        self.assertFalse(os.path.exists(os.path.join(d, "pred.h5")))


def write_fc_data(path, numbers=None, seed=3):
    """Force-constant data in the layout 'physfit import' writes: a 3 x 3 x 3 supercell of
    simple-cubic argon (27 atoms, a = 3.7 Angstrom) and 6 configurations of random displacements
    with forces from nearest-neighbour springs (k = 1 eV/Angstrom^2, minimum image)."""
    a, n = 3.7, 3
    lattice = np.eye(3) * a * n
    frac = np.array([[i, j, k] for i in range(n) for j in range(n) for k in range(n)], float) / n
    positions = frac @ lattice
    rng = np.random.default_rng(seed)
    u = 0.02 * rng.standard_normal((6, 27, 3))
    forces = np.zeros_like(u)
    for c in range(6):
        for i in range(27):
            for j in range(27):
                if i == j:
                    continue
                df = frac[j] - frac[i]
                df -= np.round(df)
                r = df @ lattice
                if abs(np.linalg.norm(r) - a) > 1e-6:
                    continue
                e = r / np.linalg.norm(r)
                forces[c, i] += e * (e @ (u[c, j] - u[c, i]))
    with h5py.File(path, "w") as f:
        f["structure/lattice"] = lattice
        f["structure/positions"] = positions
        f["structure/numbers"] = np.array(numbers if numbers is not None else [18] * 27, np.int32)
        f["structure/masses"] = np.full(27, 39.948)
        f["configs/displacements"] = u
        f["configs/forces"] = forces
    return u, forces


class Structure(Case):
    """Atomic numbers that are not elements (negative, zero, beyond Og): exit 4 naming the
    file, the dataset, the atom and the number."""

    def test_invalid_atomic_numbers_are_errors(self):
        d = scratch(self)
        good = os.path.join(d, "good.h5")
        write_fc_data(good)
        for n in RANKS:
            r = physfit("fc", "--input.data", good, "--clusters.cutoffs=3.8", "--cv.folds", 0, "--fit.lambda", 0,
                        "--fit.method", "ols", "--output.file", os.path.join(d, "good_fc.h5"),
                        "--output.export-dir", "", ranks=n)
            self.assertEqual(r.returncode, 0, r.stderr)
        for z in (-18, 0, 119):
            bad = os.path.join(d, "z%d.h5" % z)
            write_fc_data(bad, numbers=[18] * 26 + [z])
            self.assert_fails(["fc", "--input.data", bad, "--clusters.cutoffs=3.8", "--output.file",
                               os.path.join(d, "fc.h5"), "--output.export-dir", ""], 4,
                              "%s: /structure/numbers, atom 27: atomic number %d is not an element"
                              % (bad, z))


def write_idx_header(path, dtype, shape, data=b""):
    """An IDX file: magic number, big-endian dimensions, then `data` (not necessarily as many
    bytes as the header promises)."""
    with open(path, "wb") as f:
        f.write(bytes([0, 0, dtype, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape))
        f.write(data)


class Sizes(Case):
    """Sizes no machine holds are refused before anything is allocated: a usage error (exit 2)
    naming the option and the memory against what the machine has, or, for a file whose header
    promises more than it holds, an error naming the file (exit 4)."""

    def setUp(self):
        self.d = scratch(self)
        self.data = os.path.join(self.d, "data.h5")
        write_training_data(self.data)
        self.ini = os.path.join(self.d, "run.ini")
        write_config(self.ini, self.data, os.path.join(self.d, "model.h5"))

    def test_a_batch_of_ten_to_the_twelve_is_a_usage_error_with_the_memory(self):
        self.assert_fails(["train", self.ini, "--train.batch", 10**12], 2,
                          "train.batch 1000000000000 in micro-batches of 64 samples "
                          "(train.micro-batch) needs", "of memory per rank, but ",
                          " is available (")
        # Within the machine but beyond the reducer: still a usage error, not an overflow.
        self.assert_fails(["train", self.ini, "--train.batch", 10**6, "--train.micro-batch", 1],
                          2, "makes 1000000 micro-batches per batch; at most 4096")

    def test_a_layer_of_a_billion_units_is_a_usage_error_with_the_memory(self):
        # 10^12 parameters after the wide layer: 8 TB, beyond any node.
        self.assert_fails(["train", self.ini, "--model.layers",
                           "flatten, dense 1000000000, dense 1000"],
                          2, "model.layers: the model's 1007000001000 parameters (with their "
                          "gradients) needs 7.3 TiB of memory per rank, but ", " is available (")

    def test_an_idx_header_promising_two_to_the_31_images_is_a_truncation_error(self):
        images = os.path.join(self.d, "images.idx")
        write_idx_header(images, 0x08, (2**31, 28, 28), bytes(1000))
        self.assert_fails(["import", "idx", "--input.images", images, "--output.file",
                           os.path.join(self.d, "out.h5")], 4,
                          "'%s': truncated IDX data: the header promises 1683627180032 values"
                          % images, "the file has 1000 bytes of data")
        self.assertFalse(os.path.exists(os.path.join(self.d, "out.h5")))

    def test_a_zero_image_dimension_is_an_error(self):
        images = os.path.join(self.d, "images.idx")
        write_idx_header(images, 0x08, (5, 0, 28))
        self.assert_fails(["import", "idx", "--input.images", images, "--output.file",
                           os.path.join(self.d, "out.h5")], 4,
                          "'%s': IDX header declares dimension 1 as 0" % images)
        good = os.path.join(self.d, "good.idx")
        write_idx_header(good, 0x08, (5, 2, 3), bytes(30))
        r = physfit("import", "idx", "--input.images", good, "--output.file", os.path.join(self.d, "out.h5"))
        self.assertEqual(r.returncode, 0, r.stderr)


class DesignMatrix(Case):
    """physfit lasso on a design matrix without information (every column zero), a target that
    is zero, or an empty problem: exit 4 naming the file and the dataset (an all-zero matrix
    "solved" with a NaN duality gap and exit 0)."""

    def setUp(self):
        self.d = scratch(self)
        self.out = os.path.join(self.d, "out.h5")

    def write(self, name, a, y):
        path = os.path.join(self.d, name)
        with h5py.File(path, "w") as f:
            f["A"], f["y"] = a, y
        return path

    def lasso(self, path, task):
        args = ["lasso", "--input.file", path, "--output.file", self.out, "--fit.task", task]
        return args + (["--fit.lambda-ratio", 0.1] if task == "fit" else [])

    def test_the_good_problem_solves_and_the_bad_ones_are_errors(self):
        rng = np.random.default_rng(5)
        a = rng.standard_normal((30, 6))
        y = a @ [1, 0, -2, 0, 0, 0.5] + 0.01 * rng.standard_normal(30)
        good = self.write("good.h5", a, y)
        for n in RANKS:
            r = physfit(*self.lasso(good, "fit"), ranks=n)
            self.assertEqual(r.returncode, 0, r.stderr)
            os.remove(self.out)
        zero_a = self.write("zero_a.h5", np.zeros((30, 6)), y)
        zero_y = self.write("zero_y.h5", a, np.zeros(30))
        for task in ("fit", "cv"):
            self.assert_fails(self.lasso(zero_a, task), 4,
                              "dataset '/A' in '%s': every one of its 6 columns is zero" % zero_a)
            self.assert_fails(self.lasso(zero_y, task), 4,
                              "dataset '/y' in '%s' is zero in every row" % zero_y)
        self.assert_fails(self.lasso(zero_a, "fit") + ["--fit.intercept", "true"], 4,
                          "every one of its 6 columns is zero or constant")
        no_rows = self.write("no_rows.h5", np.zeros((0, 6)), np.zeros(0))
        no_cols = self.write("no_cols.h5", np.zeros((30, 0)), y)
        for path in (no_rows, no_cols):
            self.assert_fails(self.lasso(path, "fit"), 4, "dataset '/A' in '%s' is empty" % path)
        self.assertFalse(os.path.exists(self.out))


class ForceData(Case):
    """physfit fc on data whose displacements or forces are zero everywhere: exit 4 naming the
    file and the dataset (the fit gave a NaN relative error with exit 0, or exit 5)."""

    def test_zero_displacements_or_forces_are_errors(self):
        d = scratch(self)
        out = os.path.join(d, "fc.h5")
        for field in ("displacements", "forces"):
            bad = os.path.join(d, "zero_%s.h5" % field)
            write_fc_data(bad)
            with h5py.File(bad, "r+") as f:
                f["configs/" + field][...] = 0
            for method in ("ols", "lasso"):
                self.assert_fails(["fc", "--input.data", bad, "--clusters.cutoffs=3.8", "--fit.method", method,
                                   "--output.file", out, "--output.export-dir", ""], 4,
                                  "%s: /configs/%s are zero in every atom of the training "
                                  "configurations 1 to 6" % (bad, field))
        self.assertFalse(os.path.exists(out))


def write_extxyz(path, data, shift):
    """The configurations of a write_fc_data file as extended XYZ (as ASE writes it), atom 5 of
    the first one moved by `shift` Angstrom along x."""
    with h5py.File(data, "r") as f:
        lattice, positions = f["structure/lattice"][...], f["structure/positions"][...]
        u, forces = f["configs/displacements"][...], f["configs/forces"][...]
    with open(path, "w") as out:
        for c in range(len(u)):
            out.write("%d\nLattice=\"%s\" Properties=species:S:1:pos:R:3:forces:R:3 pbc=\"T T T\"\n"
                      % (len(positions), " ".join("%.10f" % v for v in lattice.ravel())))
            for i, (p, f) in enumerate(zip(positions + u[c], forces[c])):
                if c == 0 and i == 4:
                    p = p + [shift, 0, 0]
                out.write("Ar %.10f %.10f %.10f %.10f %.10f %.10f\n" % (tuple(p) + tuple(f)))


class ExitCodes(Case):
    """The exit-code table (README): malformed input data is 4, whatever the format and the
    command. A NaN force gave 2 (HDF5 data) and a configuration off the ideal supercell gave 2,
    the code of a bad option; a NaN in the lasso's A gave 5, the code of a numerical failure
    during the computation."""

    def setUp(self):
        self.d = scratch(self)
        self.data = os.path.join(self.d, "data.h5")
        write_fc_data(self.data)

    def test_a_non_finite_force_in_hdf5_data_is_4(self):
        bad = os.path.join(self.d, "nan.h5")
        write_fc_data(bad)
        with h5py.File(bad, "r+") as f:
            f["configs/forces"][1, 2, 0] = np.inf
        self.assert_fails(["fc", "--input.data", bad, "--clusters.cutoffs=3.8", "--output.file",
                           os.path.join(self.d, "fc.h5"), "--output.export-dir", ""], 4,
                          "%s: configuration 2, atom 3: displacement or force is not finite" % bad)

    def test_a_configuration_off_the_ideal_supercell_is_4(self):
        out = os.path.join(self.d, "out.h5")
        good = os.path.join(self.d, "good.extxyz")
        write_extxyz(good, self.data, 0.0)
        for n in RANKS:
            r = physfit("import", "extxyz", "--input.file", good, "--structure.file", self.data, "--output.file",
                        out, ranks=n)
            self.assertEqual(r.returncode, 0, r.stderr)
            with h5py.File(out, "r") as f, h5py.File(self.data, "r") as ref:
                np.testing.assert_allclose(f["configs/displacements"][...],
                                           ref["configs/displacements"][...], atol=1e-9)
            os.remove(out)
        bad = os.path.join(self.d, "far.extxyz")
        write_extxyz(bad, self.data, 1.6)
        with h5py.File(self.data, "r") as f:
            distance = np.linalg.norm(f["configs/displacements"][0, 4] + [1.6, 0, 0])
        r = self.assert_fails(["import", "extxyz", "--input.file", bad, "--structure.file", self.data,
                               "--output.file", out], 4,
                              "%s: configuration 1 (line 1), atom 5: the nearest site of the "
                              "ideal supercell (site 5) is " % bad,
                              "Angstrom away, beyond the mapping tolerance 1.000000 Angstrom")
        printed = re.search(r"\(site 5\) is ([0-9.]+) Angstrom away", r.stderr).group(1)
        self.assertAlmostEqual(float(printed), distance, delta=1e-6)
        self.assertFalse(os.path.exists(out))

    def test_a_nan_in_the_lasso_design_matrix_is_4(self):
        rng = np.random.default_rng(2)
        a = rng.standard_normal((20, 4))
        y = a @ [1, 2, 0, 0]
        a[7, 2] = np.nan
        path = os.path.join(self.d, "nan_a.h5")
        with h5py.File(path, "w") as f:
            f["A"], f["y"] = a, y
        self.assert_fails(["lasso", "--input.file", path, "--output.file",
                           os.path.join(self.d, "out.h5")], 4, "A(7, 2) = nan is not finite")


if __name__ == "__main__":
    unittest.main()
