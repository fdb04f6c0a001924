"""End-to-end tests of the neural-network commands: physfit import, train, evaluate and
predict under mpiexec, checked with h5py. Run by CTest (one test per class) with PHYSFIT_BIN,
MPIEXEC and PHYSFIT_TEST_SCRATCH in the environment (see tests/nn.cmake)."""

import gzip
import os
import signal
import struct
import subprocess
import time
import unittest

import h5py
import numpy as np

from harness import BIN, MPIEXEC, last_json, physfit, scratch


def write_idx(path, array):
    """An IDX file of uint8 data, gzip-compressed if the name ends with .gz."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def write_blobs_csv(path, rows=240, seed=0):
    """Three noisy clusters in 4 dimensions, with an integer class column."""
    rng = np.random.default_rng(seed)
    centres = np.array([[1, 0, 0, 1], [-1, 1, 0, 0], [0, -1, 1, -1]], dtype=float)
    labels = rng.integers(0, 3, rows)
    x = centres[labels] + 0.6 * rng.standard_normal((rows, 4))
    with open(path, "w") as f:
        f.write("a,b,c,d,kind\n")
        for xi, li in zip(x, labels):
            f.write(",".join("%.6f" % v for v in xi) + ",%d\n" % li)
    return x, labels


def write_config(path, data, model_out, epochs=3, extra=""):
    with open(path, "w") as f:
        f.write(f"""[data]
train = {data}
validation-split = 0.25
[model]
layers = dense 16 tanh, dropout 0.2, dense 3
[train]
epochs = {epochs}
batch = 20
micro-batch = 6
seed = 4
[optimizer]
learning-rate = 0.02
[output]
model = {model_out}
{extra}""")


class Import(unittest.TestCase):
    def test_idx_images_and_labels_become_the_documented_layout(self):
        d = scratch(self)
        images = np.arange(5 * 4 * 3, dtype=np.uint8).reshape(5, 4, 3)
        write_idx(os.path.join(d, "img.gz"), images)
        write_idx(os.path.join(d, "lab"), np.array([0, 3, 1, 3, 2], dtype=np.uint8))
        out = os.path.join(d, "set.h5")
        r = physfit("import", "idx", "--input.images", os.path.join(d, "img.gz"), "--input.labels",
                    os.path.join(d, "lab"), "--output.file", out, "--json", ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(last_json(r.stdout)["result"]["rows"], 5)
        with h5py.File(out, "r") as f:
            x = f["/features"]
            self.assertEqual(x.dtype, np.uint8)
            np.testing.assert_array_equal(x[...], images)
            self.assertAlmostEqual(float(x.attrs["scale"]), 1 / 255)
            self.assertEqual(float(x.attrs["offset"]), 0.0)
            np.testing.assert_array_equal(f["/labels"][...], [0, 3, 1, 3, 2])
            self.assertEqual(f["/labels"].dtype, np.int32)
            self.assertEqual(int(f["/labels"].attrs["classes"]), 4)
            self.assertEqual(f["/physfit"].attrs["command"], "import")

    def test_csv_regression_table(self):
        d = scratch(self)
        with open(os.path.join(d, "t.csv"), "w") as f:
            f.write("r1,r2,energy\n1.0,2.0,-0.5\n1.5,2.5,-0.25\n")
        out = os.path.join(d, "t.h5")
        r = physfit("import", "csv", "--input.file", os.path.join(d, "t.csv"), "--csv.target-columns",
                    "energy", "--output.file", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(f["/features"][...], [[1, 2], [1.5, 2.5]])
            self.assertEqual(f["/features"].dtype, np.float32)
            np.testing.assert_array_equal(f["/targets"][...], [[-0.5], [-0.25]])

    def test_bad_inputs_fail_cleanly(self):
        d = scratch(self)
        out = os.path.join(d, "x.h5")
        r = physfit("import", "idx", "--input.images", os.path.join(d, "none.gz"), "--output.file", out,
                    ranks=2)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("--input.images '%s': No such file" % os.path.join(d, "none.gz"), r.stderr)
        self.assertFalse(os.path.exists(out))
        with open(os.path.join(d, "bad.csv"), "w") as f:
            f.write("a,b\n1,2\n3,oops\n")
        r = physfit("import", "csv", "--input.file", os.path.join(d, "bad.csv"), "--csv.target-columns",
                    "b", "--output.file", out)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("bad.csv:3: column 'b': bad value 'oops'", r.stderr)
        self.assertFalse(os.path.exists(out))
        with open(os.path.join(d, "good.csv"), "w") as f:
            f.write("a,b\n1,2\n3,4\n")
        r = physfit("import", "csv", "--input.file", os.path.join(d, "good.csv"), "--csv.target-columns",
                    "energy", "--output.file", out)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("bad value 'energy' for csv.target-columns: no such column", r.stderr)
        r = physfit("import", "tar", "--output.file", out)
        self.assertEqual(r.returncode, 2, r.stderr)


class Train(unittest.TestCase):
    def setUp(self):
        self.d = scratch(self)
        write_blobs_csv(os.path.join(self.d, "blobs.csv"))
        self.data = os.path.join(self.d, "blobs.h5")
        r = physfit("import", "csv", "--input.file", os.path.join(self.d, "blobs.csv"),
                    "--csv.label-column", "kind", "--output.file", self.data)
        self.assertEqual(r.returncode, 0, r.stderr)

    def train(self, ranks, name, *extra, epochs=3):
        ini = os.path.join(self.d, name + ".ini")
        out = os.path.join(self.d, name + ".h5")
        write_config(ini, self.data, out, epochs)
        r = physfit("train", ini, "--json", *extra, ranks=ranks)
        return r, out

    def test_one_and_three_ranks_give_the_same_bits_and_history(self):
        r1, out1 = self.train(1, "one")
        self.assertEqual(r1.returncode, 0, r1.stderr)
        r3, out3 = self.train(3, "three")
        self.assertEqual(r3.returncode, 0, r3.stderr)
        with h5py.File(out1, "r") as a, h5py.File(out3, "r") as b:
            np.testing.assert_array_equal(a["/model/parameters"][...], b["/model/parameters"][...])
            np.testing.assert_array_equal(a["/optimizer/m"][...], b["/optimizer/m"][...])
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                np.testing.assert_array_equal(a["/history/" + key][...], b["/history/" + key][...])
            self.assertEqual(len(a["/history/loss"]), 3)
            for key in ("samples_per_s", "time_compute_s", "time_allreduce_s", "time_io_s"):
                self.assertEqual(len(a["/history/" + key]), 3)
            self.assertEqual(b["/physfit"].attrs["ranks"], 3)
            self.assertEqual(a["/model"].attrs["layers"], "dense 16, tanh, dropout 0.2, dense 3")
        summary = last_json(r3.stdout)["result"]
        self.assertGreater(summary["validation"]["accuracy"], 0.8)  # well-separated clusters
        self.assertIn("epoch 3/3:", r3.stderr)  # with --json the log goes to standard error
        self.assertIn("val_accuracy", r3.stderr)

    def test_evaluate_and_predict_agree_with_training(self):
        r, out = self.train(2, "m")
        self.assertEqual(r.returncode, 0, r.stderr)
        e1 = physfit("evaluate", out, self.data, "--json")
        e2 = physfit("evaluate", out, self.data, "--json", ranks=2)
        self.assertEqual(e1.returncode, 0, e1.stderr)
        self.assertEqual(last_json(e1.stdout)["result"], last_json(e2.stdout)["result"])
        pred = os.path.join(self.d, "pred.h5")
        p = physfit("predict", out, self.data, "--output.file", pred, ranks=3)
        self.assertEqual(p.returncode, 0, p.stderr)
        with h5py.File(pred, "r") as f, h5py.File(self.data, "r") as data:
            scores = f["/scores"][...]
            self.assertEqual(scores.shape, (240, 3))
            np.testing.assert_array_equal(f["/predicted"][...], scores.argmax(axis=1))
            accuracy = (f["/predicted"][...] == data["/labels"][...]).mean()
        self.assertAlmostEqual(accuracy, last_json(e1.stdout)["result"]["accuracy"], places=12)
        # New data without labels: predict needs only /features.
        bare = os.path.join(self.d, "bare.h5")
        with h5py.File(self.data, "r") as src, h5py.File(bare, "w") as dst:
            dst["/features"] = src["/features"][:50]
        p = physfit("predict", out, bare, "--output.file", pred, "--json", ranks=2)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(last_json(p.stdout)["result"]["rows"], 50)
        with h5py.File(pred, "r") as f:
            # Close, not equal: a 50-row chunk is a product of other sizes than a 240-row one.
            np.testing.assert_allclose(f["/scores"][...], scores[:50], rtol=1e-5, atol=1e-6)
        e = physfit("evaluate", out, bare)
        self.assertEqual(e.returncode, 4, e.stderr)
        self.assertIn("has neither /labels", e.stderr)

    def test_resuming_from_a_checkpoint_gives_the_same_bits(self):
        r, straight = self.train(2, "straight", epochs=4)
        self.assertEqual(r.returncode, 0, r.stderr)
        r, half = self.train(2, "half", epochs=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = physfit("train", os.path.join(self.d, "half.ini"), "--train.resume", half,
                    "--train.epochs", 4, "--output.model", half, ranks=3)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(straight, "r") as a, h5py.File(half, "r") as b:
            np.testing.assert_array_equal(a["/model/parameters"][...], b["/model/parameters"][...])
            np.testing.assert_array_equal(a["/history/val_loss"][...], b["/history/val_loss"][...])
            self.assertEqual(int(b["/training"].attrs["epochs_done"]), 4)

    def test_resume_auto_starts_afresh_then_continues_from_the_output(self):
        r, straight = self.train(2, "straight", epochs=4)
        self.assertEqual(r.returncode, 0, r.stderr)
        r, auto = self.train(2, "auto", epochs=2)  # writes auto.ini
        os.remove(auto)
        ini = os.path.join(self.d, "auto.ini")
        r = physfit("train", ini, "--train.resume", "auto", "--train.epochs", 2, ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("starting afresh", r.stdout)
        r = physfit("train", ini, "--train.resume", "auto", "--train.epochs", 4, ranks=3)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("resuming from", r.stdout)
        with h5py.File(straight, "r") as a, h5py.File(auto, "r") as b:
            np.testing.assert_array_equal(a["/model/parameters"][...], b["/model/parameters"][...])
            self.assertEqual(int(b["/training"].attrs["epochs_done"]), 4)

    def test_usr1_checkpoints_mid_epoch_and_the_run_resumes_to_the_same_bits(self):
        ini = os.path.join(self.d, "long.ini")
        out = os.path.join(self.d, "long.h5")
        write_config(ini, self.data, out, epochs=100000, extra="checkpoint-every = 0\n")
        job = subprocess.Popen([MPIEXEC, "-n", "2", BIN, "train", ini, "--progress-interval", "1000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
        line = job.stdout.readline()  # "train: ..." once the ranks are ready
        self.assertIn("train:", line)
        time.sleep(0.5)
        job.send_signal(signal.SIGUSR1)
        stdout, stderr = job.communicate(timeout=60)
        self.assertEqual(job.returncode, 3, stderr)
        self.assertIn("stopped by SIGUSR1 in epoch", stderr)
        with h5py.File(out, "r") as f:
            done = int(f["/training"].attrs["epochs_done"])
            batches = int(f["/training"].attrs["batches_done"])
        self.assertGreater(done, 0)
        # Finish 2 more epochs from the checkpoint on 1 rank; train as much straight on 3.
        r = physfit("train", ini, "--train.resume", out, "--train.epochs", done + 2)
        self.assertEqual(r.returncode, 0, r.stderr)
        straight = os.path.join(self.d, "straight.h5")
        r = physfit("train", ini, "--train.epochs", done + 2, "--output.model", straight, ranks=3)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out, "r") as a, h5py.File(straight, "r") as b:
            np.testing.assert_array_equal(a["/model/parameters"][...], b["/model/parameters"][...])
            self.assertEqual(len(a["/history/loss"]), done + 2)
        self.assertGreaterEqual(batches, 0)


class TrainErrors(unittest.TestCase):
    def setUp(self):
        self.d = scratch(self)
        write_blobs_csv(os.path.join(self.d, "blobs.csv"), rows=30)
        self.data = os.path.join(self.d, "blobs.h5")
        physfit("import", "csv", "--input.file", os.path.join(self.d, "blobs.csv"), "--csv.label-column",
                "kind", "--output.file", self.data)
        self.ini = os.path.join(self.d, "m.ini")
        self.out = os.path.join(self.d, "m.h5")
        write_config(self.ini, self.data, self.out)

    def test_a_bad_layer_names_the_file_and_line(self):
        r = physfit("train", self.ini, "--model.layers", "dense 16 softplus, dense 3", ranks=2)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("unknown activation 'softplus'", r.stderr)
        with open(self.ini) as f:
            text = f.read().replace("dense 16 tanh", "dense -16 tanh")
        with open(self.ini, "w") as f:
            f.write(text)
        r = physfit("train", self.ini, ranks=2)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("m.ini:5: layer 'dense -16 tanh': bad number of units '-16'", r.stderr)
        self.assertFalse(os.path.exists(self.out))

    def test_a_model_that_does_not_fit_the_data(self):
        r = physfit("train", self.ini, "--model.layers", "dense 5", ranks=2)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("the last layer gives 5 outputs but", r.stderr)
        self.assertIn("has 3 classes; make the last layer 'dense 3'", r.stderr)
        r = physfit("train", self.ini, "--model.loss", "mse", ranks=2)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("needs /targets", r.stderr)

    def test_missing_data_and_missing_model(self):
        r = physfit("train", self.ini, "--data.train", os.path.join(self.d, "none.h5"), ranks=2)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("none.h5", r.stderr)
        r = physfit("evaluate", os.path.join(self.d, "none.h5"), self.data)
        self.assertEqual(r.returncode, 4, r.stderr)
        r = physfit("evaluate", self.data, self.data)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("holds no model", r.stderr)

    def test_divergence_is_a_numerical_error(self):
        table = os.path.join(self.d, "table.h5")
        physfit("import", "csv", "--input.file", os.path.join(self.d, "blobs.csv"), "--csv.target-columns",
                "d", "--output.file", table)
        r = physfit("train", self.ini, "--data.train", table, "--model.loss", "mse",
                    "--model.layers", "dense 1", "--optimizer.type", "sgd",
                    "--optimizer.learning-rate", "1e10", "--train.epochs", 20, ranks=2)
        self.assertEqual(r.returncode, 5, r.stderr)
        self.assertIn("is not finite", r.stderr)


if __name__ == "__main__":
    unittest.main()
