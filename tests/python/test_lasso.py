"""The Python module's LASSO (physfit.lasso) against the command line (`physfit lasso`).

Run by CTest with pytest: serially (python.lasso), where the module and `physfit lasso` fit the
same data and must give the same bits, and under `mpiexec -np 2` (python.lasso.mpi2), where each
rank passes its share of the rows and the result must equal the serial command line's, read
from the files the serial run left in the scratch folder (a CTest fixture).
Environment: PHYSFIT_BIN, PHYSFIT_TEST_SCRATCH, PHYSFIT_SOURCE_DIR; PYTHONPATH holds the build
tree's python/ folder."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
# mpi4py first, as a user's script under mpirun would: it initialises MPI and physfit uses it.
MPI = pytest.importorskip("mpi4py.MPI")
physfit = pytest.importorskip("physfit", reason="the physfit Python module is not built")

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("PHYSFIT_SOURCE_DIR", os.path.join(HERE, "..", ".."))
BIN = os.environ.get("PHYSFIT_BIN", "physfit")
SCRATCH = os.path.join(os.environ.get("PHYSFIT_TEST_SCRATCH", "/tmp/physfit-tests"), "python")
sys.path.insert(0, os.path.join(SOURCE, "scripts", "lasso"))
from problems import Spec, generate  # noqa: E402

SPEC = Spec(rows=600, cols=40, seed=4, scale_range=3, nonzeros=6, noise_exponent=-1)
RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
serial = pytest.mark.skipif(SIZE != 1, reason="runs the command line: serial test only")
parallel = pytest.mark.skipif(SIZE == 1, reason="each rank passes its share: mpiexec -np 2")

# The runs compared: (name, command-line options, keyword arguments). Small grids: the point is
# the bits, not the statistics.
CASES = [
    ("cv", ["--path.count", "30"], dict(path_count=30)),
    ("cv_groups_1se", ["--path.count", "25", "--cv.folds", "4", "--cv.select", "1se",
                       "--input.groups", "/groups", "--cv.seed", "7"],
     dict(path_count=25, cv_folds=4, cv_select="1se", cv_seed=7)),
    ("enet_fit", ["--fit.task", "fit", "--fit.method", "enet", "--fit.l1-ratio", "0.7",
                  "--fit.lambda-ratio", "0.01", "--fit.debias", "true"],
     dict(fit_task="fit", fit_method="enet", fit_l1_ratio=0.7, fit_lambda_ratio=0.01,
          fit_debias=True)),
    ("adaptive_path", ["--fit.task", "path", "--fit.method", "adaptive", "--fit.intercept",
                       "true", "--path.count", "20"],
     dict(fit_task="path", fit_method="adaptive", fit_intercept=True, path_count=20)),
]


def data():
    A, y, _ = generate(SPEC)
    groups = np.arange(SPEC.rows, dtype=np.int64) // 12
    return np.ascontiguousarray(A), np.ascontiguousarray(y), groups


def cli_output(name):
    return os.path.join(SCRATCH, "cli_%s.h5" % name)


def clean_env():
    """The environment without the MPI variables of this (singleton) MPI process."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OMPI_COMM", "OMPI_MCA_orte", "PMIX_", "OMPI_FILE", "OMPI_APP"))}


def module_run(A, y, groups, kwargs):
    use_groups = groups if "cv_seed" in kwargs else None
    return physfit.lasso.run(A, y, use_groups, **kwargs)


def assert_same_bits(r, f):
    """A module Result equals a `physfit lasso` output file to the bit."""
    assert np.array_equal(r.coef, f["/lasso/fit/coef"][...])
    assert r.fit.intercept == f["/lasso/fit"].attrs["intercept"]
    assert r.fit["lambda"] == f["/lasso/fit"].attrs["lambda"]
    assert r.fit.objective == f["/lasso/fit"].attrs["objective"]
    assert r.lambda_max == f["/lasso"].attrs["lambda_max"]
    assert np.array_equal(r.column_scale, f["/lasso/column_scale"][...])
    if "/lasso/debiased" in f:
        assert np.array_equal(r.debiased.coef, f["/lasso/debiased/coef"][...])
    else:
        assert r.debiased is None
    if "/lasso/path" in f:
        assert np.array_equal(r.path["lambda"], f["/lasso/path/lambda"][...])
        assert np.array_equal(r.path.coef, f["/lasso/path/coef"][...])
        assert np.array_equal(r.path.intercept, f["/lasso/path/intercept"][...])
    else:
        assert r.path is None
    if "/lasso/cv" in f:
        assert np.array_equal(r.cv.mean_error, f["/lasso/cv/mean_error"][...])
        assert np.array_equal(r.cv.fold_error, f["/lasso/cv/fold_error"][...])
        assert r.cv.lambda_min == f["/lasso/cv"].attrs["lambda_min"]
        assert r.cv.lambda_1se == f["/lasso/cv"].attrs["lambda_1se"]
    else:
        assert r.cv is None


@serial
@pytest.mark.parametrize("name,cli,kwargs", CASES, ids=[c[0] for c in CASES])
def test_module_equals_the_command_line_to_the_bit(name, cli, kwargs):
    os.makedirs(SCRATCH, exist_ok=True)
    A, y, groups = data()
    path = os.path.join(SCRATCH, "data.h5")
    with h5py.File(path, "w") as f:
        f["A"], f["y"], f["groups"] = A, y, groups
    out = cli_output(name)
    run = subprocess.run([BIN, "lasso", "--input.file", path, "--output.file", out] + cli,
                         capture_output=True, text=True, env=clean_env())
    assert run.returncode == 0, run.stderr
    with h5py.File(out, "r") as f:
        for layout in ("C", "F"):
            r = module_run(np.asarray(A, order=layout), y, groups, kwargs)
            assert_same_bits(r, f)


@parallel
@pytest.mark.parametrize("name,cli,kwargs", CASES, ids=[c[0] for c in CASES])
def test_each_rank_passing_its_rows_gives_the_serial_bits(name, cli, kwargs):
    out = cli_output(name)
    if not os.path.exists(out):
        pytest.skip("no serial output %s (run python.lasso first: a CTest fixture)" % out)
    A, y, groups = data()
    # Uneven shares, not on chunk boundaries: rank r holds rows [cut_r, cut_{r+1}).
    cuts = [0] + [SPEC.rows * (r + 1) // (SIZE + 1) + 37 for r in range(SIZE - 1)] + [SPEC.rows]
    rows = slice(cuts[RANK], cuts[RANK + 1])
    layout = "F" if RANK % 2 else "C"
    r = module_run(np.asarray(A[rows], order=layout), y[rows], groups[rows], kwargs)
    with h5py.File(out, "r") as f:
        assert_same_bits(r, f)


def test_defaults_are_the_command_line_declarations():
    o = physfit.lasso.options()
    assert o["fit_task"][1] == "cv" and o["fit_method"][1] == "lasso"
    assert o["path_count"][1] == "100" and o["cv_folds"][1] == "5"
    assert o["solver_tol"][1] == "1e-10" and o["fit_lambda"][1] is None
    assert not any(k.startswith(("input_", "output_")) for k in o)


def test_strided_and_converted_inputs_give_the_same_bits():
    A, y, _ = data()
    ref = physfit.lasso.fit(A, y, fit_lambda_ratio=0.05)
    wide = np.zeros((A.shape[0], 2 * A.shape[1]))
    wide[:, ::2] = A
    assert np.array_equal(physfit.lasso.fit(wide[:, ::2], y, fit_lambda_ratio=0.05).coef, ref.coef)
    a32 = A.astype(">f8")  # another byte order: converted
    assert np.array_equal(physfit.lasso.fit(a32, y, fit_lambda_ratio=0.05).coef, ref.coef)


def test_errors_are_python_exceptions_with_physfits_message():
    A, y, _ = data()
    with pytest.raises(ValueError, match="fit_lambda"):
        physfit.lasso.fit(A, y)  # no lambda
    with pytest.raises(ValueError, match="fit_l1_ratio"):
        physfit.lasso.fit(A, y, fit_method="enet", fit_l1_ratio=2.0, fit_lambda=0.1)
    with pytest.raises(ValueError, match="ols"):
        physfit.lasso.cv(A, y, fit_method="ols")
    with pytest.raises(TypeError, match="did you mean 'cv_folds'"):
        physfit.lasso.cv(A, y, cv_fold=3)
    with pytest.raises(ValueError, match="same rows"):
        physfit.lasso.fit(A, y[:-1], fit_lambda=0.1)
    with pytest.raises(ValueError, match="columns is zero"):
        physfit.lasso.fit(np.zeros_like(A), y, fit_lambda=0.1)
    bad = A.copy()
    bad[5, 3] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        physfit.lasso.fit(bad, y, fit_lambda=0.1)


def test_a_warning_when_l1_ratio_is_ignored():
    A, y, _ = data()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        physfit.lasso.fit(A, y, fit_l1_ratio=0.3, fit_lambda_ratio=0.1)
    assert any("fit_l1_ratio is ignored" in str(x.message) for x in w)


def test_ranks_as_mpi4py_sees_them():
    assert (physfit.mpi_rank(), physfit.mpi_size()) == (RANK, SIZE)
    assert not physfit.mpi_owned()  # mpi4py initialised MPI: physfit leaves it alone


@serial
def test_without_mpirun_and_mpi4py_physfit_initialises_and_finalises_mpi():
    script = ("import numpy as np, physfit; assert physfit.mpi_owned(); "
              "A = np.eye(4); print(physfit.lasso.fit(A, np.arange(4.0), fit_method='ols').coef)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=clean_env(), timeout=120)
    assert run.returncode == 0, run.stderr
    assert "[0. 1. 2. 3.]" in run.stdout


def test_float64_arrays_are_read_in_place_and_others_copied():
    """numpy's allocations are traced by tracemalloc: a copy of A shows in the peak."""
    import tracemalloc
    A, y, _ = data()
    A = np.repeat(A, 20, axis=0)  # 12000 x 40: 3.8 MB
    y = np.repeat(y, 20)
    for a, copied in [(A, False), (np.asfortranarray(A), False),
                      (np.repeat(A, 2, axis=1)[:, ::2], False), (A.astype(np.float32), True)]:
        tracemalloc.start()
        physfit.lasso.fit(a, y, fit_lambda_ratio=0.05)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert (peak > A.nbytes / 2) == copied, (a.dtype, a.flags, peak)
