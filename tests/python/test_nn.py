"""The Python module's neural networks (physfit.nn) against the command line (`physfit train`,
`physfit predict`, `physfit evaluate`).

Run by CTest with pytest: serially (python.nn), where the module and the commands train,
predict and evaluate the same data and must give the same bits (the commands' outputs stay in
the scratch folder: the fixture python_nn), and under `mpiexec -np 2` (python.nn.mpi2), where
each rank passes an uneven share of the rows and the results must equal the serial command
line's, read from those files. Environment: PHYSFIT_BIN, MPIEXEC, PHYSFIT_TEST_SCRATCH;
PYTHONPATH holds the build tree's python/ folder."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
# mpi4py first, as a user's script under mpirun would: it initialises MPI and physfit uses it.
MPI = pytest.importorskip("mpi4py.MPI")
physfit = pytest.importorskip("physfit", reason="the physfit Python module is not built")

BIN = os.environ.get("PHYSFIT_BIN", "physfit")
MPIEXEC = os.environ.get("MPIEXEC", "mpiexec")
SCRATCH = os.path.join(os.environ.get("PHYSFIT_TEST_SCRATCH", "/tmp/physfit-tests"), "python_nn")
RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
serial = pytest.mark.skipif(SIZE != 1, reason="runs the command line: serial test only")
parallel = pytest.mark.skipif(SIZE == 1, reason="each rank passes its share: mpiexec -np 2")

N, F, CLASSES = 300, 12, 3
LAYERS = "dense 16 relu, dropout 0.1, dense 3"
# Several micro-batches per batch (exact reduction), a last batch that is not full, dropout
# (masks from global sample indices), validation rows split off the end (not whole chunks).
OPTIONS = {"model.layers": LAYERS, "optimizer.learning-rate": 0.01, "train.epochs": 3,
           "train.batch": 32, "train.micro-batch": 8, "train.seed": 5,
           "data.validation-split": 0.2}
# Regression: mse, two targets, a separate validation set, SGD with momentum.
REG_OPTIONS = {"model.layers": "dense 8 tanh, dense 2", "model.loss": "mse",
               "optimizer.type": "sgd", "optimizer.momentum": 0.5,
               "optimizer.learning-rate": 0.05, "train.epochs": 2, "train.batch": 20,
               "train.micro-batch": 7, "train.seed": 3}
# Columns of /history that are measurements of time, not results.
TIMING = ("samples_per_s", "samples_per_cpu_s", "time_s", "time_compute_s",
          "time_allreduce_s", "time_io_s", "cpu_compute_s")


def classification_data():
    rng = np.random.default_rng(11)
    centres = rng.normal(0, 2, size=(CLASSES, F))
    y = rng.integers(0, CLASSES, size=N).astype(np.int32)
    X = (centres[y] + rng.normal(0, 1.5, size=(N, F))).astype(np.float32)
    return X, y


def regression_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    w = np.array([[0.5, -1.0], [1.5, 0.2], [0.0, 0.7], [-0.3, 0.1], [0.9, -0.4]])
    y = (np.tanh(X @ w) + 0.05 * rng.normal(size=(n, 2))).astype(np.float32)
    return X, y


# uint8 images [rows, H, W] (stored as uint8, scale 1, as the arrays), a conv layer.
IMAGE_OPTIONS = {"model.layers": "conv2d 2 3 relu, flatten, dense 2", "train.epochs": 2,
                 "train.batch": 16, "optimizer.learning-rate": 0.003}


def image_data():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, size=90).astype(np.int32)
    X = rng.integers(0, 120, size=(90, 6, 5))
    X[y == 1, 2:4, :] += 100  # class 1: a bright band
    return X.astype(np.uint8), y


def path(name):
    return os.path.join(SCRATCH, name)


def clean_env():
    """The environment without the MPI variables of this (singleton) MPI process."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OMPI_COMM", "OMPI_MCA_orte", "PMIX_", "OMPI_FILE", "OMPI_APP"))}


def cli(args, ranks=1):
    cmd = [BIN] + args
    if ranks > 1:
        cmd = [MPIEXEC, "-n", str(ranks)] + cmd
    run = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), timeout=600)
    assert run.returncode == 0, run.stderr
    return run.stdout


def cli_options(options):
    out = []
    for key, value in options.items():
        out += ["--" + key, str(value)]
    return out


def share(n):
    """This rank's rows: uneven shares that do not fall on micro-batch or chunk boundaries."""
    cuts = [0] + [n * (r + 1) // (SIZE + 1) + 37 for r in range(SIZE - 1)] + [n]
    return slice(cuts[RANK], cuts[RANK + 1])


def datasets(f):
    """{name: value} of every dataset of a file but the provenance and the timings."""
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith("physfit"):
            if name.split("/")[-1] not in TIMING:
                out[name] = obj[...]
    f.visititems(visit)
    return out


def attributes(f):
    out = {}

    def visit(name, obj):
        if not name.startswith("physfit"):
            for k, v in obj.attrs.items():
                if k not in ("partial_seconds",):
                    out[(name, k)] = v
    f.visititems(visit)
    return out


def assert_same_files(a, b):
    """Two training files hold the same datasets and attributes, equal to the bit (provenance
    and timings aside)."""
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        da, db = datasets(fa), datasets(fb)
        assert sorted(da) == sorted(db)
        for name in da:
            assert np.array_equal(da[name], db[name]), name
        aa, ab = attributes(fa), attributes(fb)
        assert sorted(aa) == sorted(ab)
        for key in aa:
            assert np.array_equal(aa[key], ab[key]), key


def assert_result_is_file(r, file):
    """A train() Result equals a training file to the bit: parameters and per-epoch results."""
    with h5py.File(file, "r") as f:
        params = f["/model/parameters"][...]
        assert params.dtype == np.float32
        assert np.array_equal(r.model.parameters, params)
        assert r.epochs_done == f["/training"].attrs["epochs_done"]
        for key, values in r.history.items():
            if key not in TIMING:
                assert np.array_equal(values, f["/history/" + key][...]), key
        assert set(r.history) == set(f["/history"])


@pytest.fixture(scope="module")
def written():
    """The data files and the commands' outputs (serial run; the MPI run reads them)."""
    if SIZE == 1:
        os.makedirs(SCRATCH, exist_ok=True)
        X, y = classification_data()
        with h5py.File(path("data.h5"), "w") as f:
            f["features"] = X
            f["labels"] = y
            f["labels"].attrs["classes"] = np.int64(CLASSES)
        Xr, yr = regression_data(140, 1)
        Xv, yv = regression_data(45, 2)
        for name, (a, b) in (("reg.h5", (Xr, yr)), ("reg_val.h5", (Xv, yv))):
            with h5py.File(path(name), "w") as f:
                f["features"], f["targets"] = a, b
        Xu, yu = image_data()
        with h5py.File(path("images.h5"), "w") as f:
            f["features"] = Xu
            f["labels"] = yu
            f["labels"].attrs["classes"] = np.int64(2)
        cli(["train", "--data.train", path("images.h5"), "--output.model", path("cli_images.h5")]
            + cli_options(IMAGE_OPTIONS))
        for ranks in (1, 2):
            cli(["train", "--data.train", path("data.h5"), "--output.model",
                 path("cli_model_np%d.h5" % ranks)] + cli_options(OPTIONS), ranks)
        cli(["train", "--data.train", path("reg.h5"), "--data.validation", path("reg_val.h5"),
             "--output.model", path("cli_reg.h5")] + cli_options(REG_OPTIONS))
        cli(["predict", path("cli_model_np1.h5"), path("data.h5"), "--output.file",
             path("cli_predict.h5")])
        out = cli(["evaluate", path("cli_model_np1.h5"), path("data.h5"), "--json"])
        with open(path("cli_evaluate.json"), "w") as f:
            f.write(out)
    elif not os.path.exists(path("cli_evaluate.json")):
        pytest.skip("no serial outputs in %s (run python.nn first: a CTest fixture)" % SCRATCH)
    return path


def cli_evaluate():
    with open(path("cli_evaluate.json")) as f:
        return json.loads(f.read())["result"]


# ---------------------------------------------------------------------- serial: vs the CLI

@serial
def test_the_command_line_trains_the_same_bits_on_1_and_2_ranks(written):
    assert_same_files(path("cli_model_np1.h5"), path("cli_model_np2.h5"))


@serial
def test_training_from_arrays_equals_the_command_line_to_the_bit(written):
    X, y = classification_data()
    out = path("py_model.h5")
    if os.path.exists(out):
        os.remove(out)
    r = physfit.nn.train(X, y, OPTIONS, output_model=out)
    assert r.output == out and r.epochs_done == 3 and not r.stopped
    assert r.rows == 240 and r.validation_rows == 60
    assert len(r.history["loss"]) == 3 and r.history["val_accuracy"][-1] > 0.5
    assert_result_is_file(r, path("cli_model_np1.h5"))
    # The file Python wrote is the command's file (same datasets and attributes, same bits).
    assert_same_files(out, path("cli_model_np1.h5"))
    with h5py.File(out, "r") as f:
        assert f["/physfit"].attrs["command"] == "python: physfit.nn.train"


@serial
def test_keywords_an_ini_file_and_float64_give_the_same_bits(written):
    X, y = classification_data()
    ini = path("train.ini")
    with open(ini, "w") as f:
        f.write("[model]\nlayers = %s\n[train]\nepochs = 3\nbatch = 32\nseed = 5\n"
                "[data]\nvalidation-split = 0.2\n" % LAYERS)
    # the file, with keywords over it (as the command line over the file)
    r = physfit.nn.train(X.astype(np.float64), y.astype(np.int64), ini,
                         optimizer_learning_rate=0.01, train_micro_batch=8)
    assert_result_is_file(r, path("cli_model_np1.h5"))
    kw = {k.replace(".", "_").replace("-", "_"): v for k, v in OPTIONS.items()}
    kw["model_layers"] = [s.strip() for s in LAYERS.split(",")]  # a list of layers
    r = physfit.nn.train(np.asfortranarray(X), y, **kw)
    assert_result_is_file(r, path("cli_model_np1.h5"))


@serial
def test_training_from_a_dataset_file_equals_the_command_line(written):
    r = physfit.nn.train(config=dict(OPTIONS, **{"data.train": path("data.h5")}))
    assert_result_is_file(r, path("cli_model_np1.h5"))


@serial
def test_regression_with_validation_arrays_equals_the_command_line(written):
    Xr, yr = regression_data(140, 1)
    Xv, yv = regression_data(45, 2)
    r = physfit.nn.train(Xr, yr, REG_OPTIONS, X_val=Xv, y_val=yv)
    assert "val_rmse" in r.history and r.validation_rows == 45
    assert_result_is_file(r, path("cli_reg.h5"))
    # predictions of a regression: no classes
    p = r.model.predict(Xv)
    assert p.predicted is None and p.scores.shape == (45, 2)


@serial
def test_uint8_images_equal_the_command_line(written):
    X, y = image_data()
    r = physfit.nn.train(X, y, IMAGE_OPTIONS)
    assert r.model.input_shape == (6, 5, 1)
    assert_result_is_file(r, path("cli_images.h5"))


@serial
def test_predict_and_evaluate_equal_the_commands(written):
    X, y = classification_data()
    model = physfit.nn.load(path("cli_model_np1.h5"))
    assert model.layers == ["dense 16", "relu", "dropout 0.1", "dense 3"]
    assert model.input_shape == (1, 1, F) and model.outputs == 3
    p = model.predict(X)
    with h5py.File(path("cli_predict.h5"), "r") as f:
        assert np.array_equal(p.scores, f["/scores"][...])
        assert np.array_equal(p.predicted, f["/predicted"][...])
    e = model.evaluate(X, y)
    ref = cli_evaluate()
    assert e.loss == ref["loss"] and e.accuracy == ref["accuracy"]
    assert e.samples == ref["samples"] == N
    # independent of physfit: the accuracy is the fraction of argmax(scores) == y
    assert e.accuracy == np.mean(np.argmax(p.scores, axis=1) == y)


@serial
def test_a_saved_model_is_the_command_lines_file(written):
    model = physfit.nn.load(path("cli_model_np1.h5"))
    out = path("resaved.h5")
    model.save(out)
    assert_same_files(out, path("cli_model_np1.h5"))


# ----------------------------------------------------------------------------- callbacks

def test_a_callback_sees_every_epoch_and_false_stops_training():
    X, y = classification_data()
    rows = share(N)
    full = physfit.nn.train(X[rows], y[rows], OPTIONS)
    seen = []

    tiny = np.array([1e-40], dtype=np.float32)  # a denormal

    def callback(epoch, loss, metrics):
        # the callback's arithmetic is Python's: denormals are not flushed to zero
        assert (tiny * np.float32(1.5))[0] != 0
        seen.append((epoch, loss, dict(metrics)))
        # rank 1 alone asks to stop under MPI: every rank stops
        return not (epoch == 2 and RANK == SIZE - 1)
    r = physfit.nn.train(X[rows], y[rows], OPTIONS, callback=callback)
    assert r.stopped and r.epochs_done == 2
    assert [s[0] for s in seen] == [1, 2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert np.array_equal(r.history[key], full.history[key][:2])
    assert [s[1] for s in seen] == list(full.history["loss"][:2])
    assert seen[1][2]["val_accuracy"] == full.history["val_accuracy"][1]


def test_a_stopped_run_resumed_from_its_file_equals_an_uninterrupted_one():
    """train_resume as the command's: a run stopped by its callback after epoch 1 leaves its
    state in output_model; train_resume="auto" continues it (with the file's settings) to the
    bits of the run that was never stopped, at any rank count."""
    X, y = classification_data()
    rows = share(N)
    full = physfit.nn.train(X[rows], y[rows], OPTIONS)
    out = path("resumed_%d.h5" % SIZE)
    if RANK == 0 and os.path.exists(out):
        os.remove(out)
    MPI.COMM_WORLD.Barrier()
    first = physfit.nn.train(X[rows], y[rows], OPTIONS, output_model=out,
                             callback=lambda epoch, loss, m: epoch < 1)
    assert first.stopped and first.epochs_done == 1
    r = physfit.nn.train(X[rows], y[rows], OPTIONS, output_model=out, train_resume="auto")
    assert not r.stopped and r.epochs_done == OPTIONS["train.epochs"]
    assert np.array_equal(r.model.parameters, full.model.parameters)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert np.array_equal(r.history[key], full.history[key])
    with pytest.raises(OSError, match="missing.h5"):
        physfit.nn.train(X[rows], y[rows], OPTIONS, train_resume=path("missing.h5"))


def test_a_callback_that_raises_stops_every_rank_and_raises():
    X, y = classification_data()
    rows = share(N)

    class Boom(Exception):
        pass

    def callback(epoch, loss, metrics):
        if epoch == 1 and RANK == SIZE - 1:
            raise Boom("stop here")
    if RANK == SIZE - 1:
        with pytest.raises(Boom, match="stop here"):
            physfit.nn.train(X[rows], y[rows], OPTIONS, callback=callback)
    else:
        with pytest.raises(RuntimeError, match="callback raised an exception on rank %d"
                           % (SIZE - 1)):
            physfit.nn.train(X[rows], y[rows], OPTIONS, callback=callback)
    # and the module still works afterwards (no rank left in a collective)
    r = physfit.nn.train(X[rows], y[rows], OPTIONS, train_epochs=1)
    assert r.epochs_done == 1


# ------------------------------------------------------------------------------ bad input

def test_bad_inputs_are_exceptions_with_physfits_message():
    X, y = classification_data()
    rows = share(N)
    X, y = X[rows], y[rows]
    opts = dict(OPTIONS, **{"train.epochs": 1})
    with pytest.raises(ValueError, match="rows but y has"):
        physfit.nn.train(X, y[:-1], opts)
    with pytest.raises(ValueError, match="dtype int64"):
        physfit.nn.train(X.astype(np.int64), y, opts)
    with pytest.raises(ValueError, match="integer class labels"):
        physfit.nn.train(X, y.astype(np.float64), opts)
    bad = y.copy()
    bad[3] = 3
    with pytest.raises(ValueError, match=r"is outside \[0, 3\)"):
        physfit.nn.train(X, bad, opts)
    with pytest.raises(ValueError, match="dimensions"):
        physfit.nn.train(X[:, 0], y, opts)
    nan = X.copy()
    nan[2, 4] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        physfit.nn.train(nan, y, opts)
    with pytest.raises(TypeError, match="did you mean 'train_epochs'"):
        physfit.nn.train(X, y, opts, train_epoch=2)
    with pytest.raises(ValueError, match="did you mean 'model.layers'"):
        physfit.nn.train(X, y, {"model.layer": LAYERS})
    with pytest.raises(ValueError, match="optimizer.learning-rate"):
        physfit.nn.train(X, y, dict(opts, **{"optimizer.learning-rate": -1}))
    # labels are classes of the last layer's outputs: 2 outputs cannot take label 2
    with pytest.raises(ValueError, match=r"is outside \[0, 2\)"):
        physfit.nn.train(X, y, dict(opts, **{"model.layers": "dense 2"}))
    r = physfit.nn.train(X, y, opts)
    with pytest.raises(ValueError, match="samples of"):
        r.model.predict(X[:, :5])


def test_a_bad_label_on_one_rank_fails_every_rank():
    X, y = classification_data()
    rows = share(N)
    y = y[rows].copy()
    if RANK == SIZE - 1:
        y[0] = -1
    with pytest.raises(ValueError, match=r"= -1.*is outside \[0, 3\)"):
        physfit.nn.train(X[rows], y, OPTIONS)


@serial
def test_the_output_never_overwrites_an_input(written):
    before = open(path("data.h5"), "rb").read()
    with pytest.raises(ValueError, match="data_train|input"):
        physfit.nn.train(config=dict(OPTIONS, **{"data.train": path("data.h5")}),
                         output_model=path("data.h5"))
    assert open(path("data.h5"), "rb").read() == before


# ------------------------------------------------------------------- MPI: each rank's rows

@parallel
def test_each_rank_passing_its_rows_trains_the_command_lines_bits(written):
    X, y = classification_data()
    rows = share(N)
    out = path("py_model_mpi.h5")
    r = physfit.nn.train(X[rows], y[rows], OPTIONS, output_model=out)
    assert r.rows == 240 and r.validation_rows == 60
    assert_result_is_file(r, path("cli_model_np1.h5"))
    assert_result_is_file(r, path("cli_model_np2.h5"))
    assert_same_files(out, path("cli_model_np2.h5"))


@parallel
def test_each_rank_gets_the_predictions_of_its_rows(written):
    X, y = classification_data()
    rows = share(N)
    model = physfit.nn.load(path("cli_model_np1.h5"))
    p = model.predict(X[rows])
    with h5py.File(path("cli_predict.h5"), "r") as f:
        assert np.array_equal(p.scores, f["/scores"][rows])
        assert np.array_equal(p.predicted, f["/predicted"][rows])
    e = model.evaluate(X[rows], y[rows])
    ref = cli_evaluate()
    assert (e.loss, e.accuracy, e.samples) == (ref["loss"], ref["accuracy"], ref["samples"])


@parallel
def test_a_rank_with_no_rows_and_ranks_that_disagree(written):
    X, y = classification_data()
    model = physfit.nn.load(path("cli_model_np1.h5"))
    rows = slice(0, N) if RANK == 0 else slice(0, 0)  # rank 0 passes every row
    p = model.predict(X[rows])
    assert p.scores.shape == (N if RANK == 0 else 0, CLASSES)
    with h5py.File(path("cli_predict.h5"), "r") as f:
        assert np.array_equal(p.scores, f["/scores"][rows])
    r = physfit.nn.train(X[rows], y[rows], OPTIONS)  # rank 1 trains on rows it gets from 0
    assert_result_is_file(r, path("cli_model_np1.h5"))
    mine = X[share(N)]
    if RANK == 1:
        mine = mine[:, :-1]
    with pytest.raises(ValueError, match="samples of 12 on rank 0 but 11 on rank 1"):
        physfit.nn.train(mine, y[share(N)], OPTIONS)
    # options or arrays that differ between ranks: an error on every rank, not a hang
    with pytest.raises(ValueError, match="options of physfit.nn.train differ between ranks"):
        physfit.nn.train(X[share(N)], y[share(N)], OPTIONS, train_epochs=1 + RANK)
    with pytest.raises(ValueError, match="y given on some ranks and not on others"):
        model.evaluate(X[share(N)], y[share(N)] if RANK == 0 else None)
    with pytest.raises(ValueError, match="None on others"):
        physfit.nn.train(X[share(N)], y[share(N)], OPTIONS,
                         X_val=X[:10] if RANK == 0 else None, y_val=y[:10] if RANK == 0 else None)


@parallel
def test_ranks_as_mpi4py_sees_them():
    assert (physfit.mpi_rank(), physfit.mpi_size()) == (RANK, SIZE)
    assert not physfit.mpi_owned()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
