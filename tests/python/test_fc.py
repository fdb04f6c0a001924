"""The Python module's force constants (physfit.fc) against the command line (`physfit fc`,
`physfit phonons`) and against phonopy's finite-displacement reference.

Run by CTest with pytest: serially (python.fc), where the module and `physfit fc` fit the same
silicon data and must give the same bits, and to_phonopy()'s frequencies must be those of
`physfit phonons`; and under `mpiexec -np 2` (python.fc.mpi2), where every rank passes all the
structures, or its own uneven share, and the force constants must equal the serial command
line's, read from the files the serial run left in the scratch folder (a CTest fixture).
Environment: PHYSFIT_BIN, PHYSFIT_TEST_SCRATCH, PHYSFIT_SI_DATA (scripts/data/make_si.py's
folder); PYTHONPATH holds the build tree's python/ folder."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
MPI = pytest.importorskip("mpi4py.MPI")
ase = pytest.importorskip("ase")
pytest.importorskip("phonopy")
physfit = pytest.importorskip("physfit", reason="the physfit Python module is not built")
from ase.calculators.singlepoint import SinglePointCalculator  # noqa: E402

BIN = os.environ.get("PHYSFIT_BIN", "physfit")
SCRATCH = os.path.join(os.environ.get("PHYSFIT_TEST_SCRATCH", "/tmp/physfit-tests"), "python_fc")
SI = os.environ.get("PHYSFIT_SI_DATA", "")
RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
serial = pytest.mark.skipif(SIZE != 1, reason="runs the command line: serial test only")
parallel = pytest.mark.skipif(SIZE == 1, reason="each rank passes its share: mpiexec -np 2")
if not os.path.exists(os.path.join(SI, "si64_rattle_0.01.h5")):
    pytest.skip("no silicon data in PHYSFIT_SI_DATA=%r (scripts/data/make_si.py)" % SI,
                allow_module_level=True)

COUNT = 20  # configurations used: 16 trained, 4 held out in the LASSO case
# (name, command-line options, keyword arguments): LASSO with CV over orders 2 and 3 (nearest
# neighbour triplets), and least squares of order 2 with the default 5-fold CV error.
CASES = [
    ("lasso_cv", ["--clusters.cutoffs=-1,2.5", "--fit.method=lasso", "--path.count=12",
                  "--cv.folds=4", "--configs.train=16", "--configs.test=4"],
     dict(clusters_cutoffs=[-1, 2.5], fit_method="lasso", path_count=12, cv_folds=4,
          configs_train=16, configs_test=4)),
    ("ols", [], {}),
]


def si_atoms():
    """The ideal 64-atom supercell and COUNT displaced ones with their forces (ase.Atoms)."""
    with h5py.File(os.path.join(SI, "si64_rattle_0.01.h5"), "r") as f:
        s = f["structure"]
        ideal = ase.Atoms(numbers=s["numbers"][...], positions=s["positions"][...],
                          cell=s["lattice"][...], pbc=True, masses=s["masses"][...])
        u = f["configs/displacements"][:COUNT]
        forces = f["configs/forces"][:COUNT]
    displaced = []
    for c in range(COUNT):
        a = ideal.copy()
        a.positions = ideal.positions + u[c]
        a.calc = SinglePointCalculator(a, forces=forces[c])
        displaced.append(a)
    return ideal, displaced, u, forces


def cli_file(name, what):
    return os.path.join(SCRATCH, "%s_%s" % (name, what))


def clean_env():
    """The environment without the MPI variables of this (singleton) MPI process."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OMPI_COMM", "OMPI_MCA_orte", "PMIX_", "OMPI_FILE", "OMPI_APP"))}


def assert_same_bits(r, name):
    """A module result equals `physfit fc`'s model and exports to the bit."""
    with h5py.File(cli_file(name, "out/force_constants.hdf5"), "r") as f:
        assert np.array_equal(r.fc2, f["force_constants"][...])
    with h5py.File(cli_file(name, "out/compact/force_constants.hdf5"), "r") as f:
        assert np.array_equal(r.fc2_compact, f["force_constants"][...])
        assert np.array_equal(r.p2s_map, f["p2s_map"][...])
    if r.fc3_compact is not None:
        with h5py.File(cli_file(name, "out/fc3.hdf5"), "r") as f:
            assert np.array_equal(r.fc3_compact, f["fc3"][...])
    with h5py.File(cli_file(name, "model.h5"), "r") as f:
        g = f["fit"]
        assert r["lambda"] == g.attrs["lambda"]
        assert r.errors.train_rmse == g.attrs["train_rmse"]
        assert np.array_equal(r.errors.cv_rmse, g.attrs["cv_rmse"], equal_nan=True)
        if "lambdas" in g:
            assert np.array_equal(r.cv["lambda"], g["lambdas"][...])
            assert np.array_equal(r.cv.mse, g["cv_mse"][...])
            assert np.array_equal(r.cv.se, g["cv_se"][...])
            assert np.array_equal(r.cv.nonzeros, g["nonzeros"][...])
        else:
            assert r.cv is None
    with open(cli_file(name, "summary.json")) as f:
        summary = json.load(f)["result"]
    assert r.summary["test"] == summary["test"]
    assert r.summary["orders"] == summary["orders"]


def run_cli(name, cli):
    """`physfit fc` on a file of the same structure and displacements (those the module
    computed from the ASE objects), its model and exports (full and compact) in SCRATCH."""
    ideal, displaced, _, forces = si_atoms()
    u = physfit.fc._displacements(physfit.fc._structure(ideal, "supercell"), displaced, "d")
    data = cli_file(name, "data.h5")
    with h5py.File(data, "w") as f:  # no primitive cell: physfit finds it, as for ASE objects
        f["structure/lattice"] = ideal.cell[...]
        f["structure/positions"] = ideal.positions
        f["structure/numbers"] = ideal.numbers
        f["structure/masses"] = ideal.get_masses()
        f["configs/displacements"] = u
        f["configs/forces"] = forces
    for folder, extra in (("out", []), ("out/compact", ["--output.compact"])):
        run = subprocess.run(
            [BIN, "fc", "--input.data", data, "--output.file", cli_file(name, "model.h5"),
             "--output.export-dir", cli_file(name, folder), "--output.exports", "phonopy-hdf5,"
             "phono3py", "--json"] + extra + cli, capture_output=True, text=True, env=clean_env())
        assert run.returncode == 0, run.stderr
    with open(cli_file(name, "summary.json"), "w") as f:
        f.write(run.stdout.strip().splitlines()[-1])


@serial
@pytest.mark.parametrize("name,cli,kwargs", CASES, ids=[c[0] for c in CASES])
def test_module_equals_the_command_line_to_the_bit(name, cli, kwargs):
    os.makedirs(SCRATCH, exist_ok=True)
    run_cli(name, cli)
    ideal, displaced, _, _ = si_atoms()
    r = physfit.fc.fit(ideal, displaced, **kwargs)
    assert_same_bits(r, name)
    assert r.fc2.shape == (64, 64, 3, 3) and r.fc2_compact.shape == (2, 64, 3, 3)
    if name == "lasso_cv":
        assert r.fc3.shape == (64, 64, 64, 3, 3, 3)
        # the full layout is the compact one's translations: phono3py's compact_fc3_to_full
        assert np.array_equal(r.fc3[r.p2s_map], r.fc3_compact)
        assert np.abs(r.fc3).max() > 1  # eV/A^3: silicon's nearest-neighbour triplets
        # the acoustic sum rule of the full layout (imposed exactly: rounding only)
        assert np.abs(r.fc3.sum(axis=2)).max() < 1e-9
    else:
        assert r.fc3_compact is None and r.fc3 is None


@serial
def test_to_phonopy_frequencies_are_those_of_physfit_phonons():
    ideal, displaced, _, _ = si_atoms()
    r = physfit.fc.fit(ideal, displaced, **CASES[0][2])
    out = cli_file("lasso_cv", "phonons.h5")
    run = subprocess.run([BIN, "phonons", "--input.fc", cli_file("lasso_cv", "model.h5"),
                          "--output.file", out, "--bands.segment-points", "4", "--dos.mesh", "2"],
                         capture_output=True, text=True, env=clean_env())
    assert run.returncode == 0, run.stderr
    with h5py.File(out, "r") as f:
        q = f["bands/qpoints"][...]
        cli = f["bands/frequencies"][...]
        assert f["bands/frequencies"].attrs["unit"] in (b"THz", "THz")
    phonon = r.to_phonopy()
    phonon.run_qpoints(q)
    mine = phonon.get_qpoints_dict()["frequencies"]
    assert len(q) > 10 and cli.shape == mine.shape == (len(q), 6)
    diff = np.abs(mine - cli).max()
    print("max |f_phonopy - f_physfit_phonons| = %.3g THz over %d q-points" % (diff, len(q)))
    assert diff < 1e-6
    assert cli.max() > 15  # silicon's optical modes near 16-18 THz: not a trivial comparison


@serial
def test_phonopy_data_set_gives_phonopys_frequencies():
    """Least squares on phonopy's own finite-displacement data (type 1, +-0.01 A) against
    phonopy's force constants from the same data (si64_phonopy.h5, an independent fit)."""
    import phonopy
    phonon = phonopy.load(os.path.join(SI, "phonopy_params.yaml"), produce_fc=False)
    r = physfit.fc.fit_phonopy(phonon, cv_folds=0)
    assert r.spacegroup == "Fd-3m"
    with h5py.File(os.path.join(SI, "si64_phonopy.h5"), "r") as f:
        q, ref, fc_ref = f["qpoints"][...], f["frequencies"][...], f["force_constants"][...]
    ph = r.to_phonopy()
    ph.run_qpoints(q)
    mine = ph.get_qpoints_dict()["frequencies"]
    print("fit_phonopy: max |f - f_phonopy| = %.3g THz, max |fc2 - fc2_phonopy| = %.3g eV/A^2"
          % (np.abs(mine - ref).max(), np.abs(r.fc2 - fc_ref).max()))
    # the same least-squares problem, solved two ways: rounding apart
    assert np.abs(mine - ref).max() < 1e-4
    assert np.abs(r.fc2 - fc_ref).max() < 1e-9 * np.abs(fc_ref).max()


@parallel
@pytest.mark.parametrize("distributed", [False, True])
def test_every_rank_passing_all_or_its_share_gives_the_serial_bits(distributed):
    name, _, kwargs = CASES[0]
    if not os.path.exists(cli_file(name, "summary.json")):
        pytest.skip("no serial output (run python.fc first: a CTest fixture)")
    ideal, displaced, _, _ = si_atoms()
    if distributed:  # uneven shares: rank r holds [cut_r, cut_{r+1})
        cuts = [0] + [COUNT * (r + 1) // (SIZE + 1) + 3 for r in range(SIZE - 1)] + [COUNT]
        displaced = displaced[cuts[RANK]:cuts[RANK + 1]]
    r = physfit.fc.fit(ideal, displaced, distributed=distributed, **kwargs)
    assert_same_bits(r, name)


@parallel
def test_an_error_on_one_rank_is_raised_on_every_rank():
    ideal, displaced, _, _ = si_atoms()
    mine = displaced[RANK::SIZE]
    if RANK == 1:
        mine[0].calc = None  # no forces on rank 1 only
    with pytest.raises(ValueError, match=r"displaced\[0\] has no forces"):
        physfit.fc.fit(ideal, mine, distributed=True)
    # distributed=False: every rank must pass the same structures
    ideal, displaced, _, _ = si_atoms()
    order = displaced if RANK == 0 else displaced[1:] + displaced[:1]
    with pytest.raises(ValueError, match="rank 1 passed other displacements or forces than "
                                         "rank 0"):
        physfit.fc.fit(ideal, order)
    # and the ranks go on together afterwards
    r = physfit.fc.fit(ideal, displaced[:8], clusters_cutoffs=[4.0])
    assert r.fc2.shape == (64, 64, 3, 3)


def test_defaults_are_the_command_line_declarations():
    o = physfit.fc.options()
    assert o["fit_method"][1] == "ols" and o["clusters_cutoffs"][1] == "-1"
    assert o["fit_l1_ratio"][1] == "0.5" and o["cv_folds"][1] == "5"
    assert o["structure_symprec"][1] == "1e-05"
    assert not any(k.startswith(("input_", "output_")) for k in o)


def test_bad_inputs_are_value_errors_naming_what_is_wrong():
    ideal, displaced, u, forces = si_atoms()
    with pytest.raises(TypeError, match="did you mean 'fit_method'"):
        physfit.fc.fit(ideal, displaced, fit_methods="lasso")
    with pytest.raises(ValueError, match="fit_method"):
        physfit.fc.fit(ideal, displaced, fit_method="ridge")
    with pytest.raises(ValueError, match="fit_l1_ratio"):
        physfit.fc.fit(ideal, displaced, fit_l1_ratio=2.0)
    with pytest.raises(ValueError, match=r"displaced\[2\] has 63 atoms but the supercell has 64"):
        physfit.fc.fit(ideal, displaced[:2] + [displaced[2][:-1]] + displaced[3:])
    swapped = displaced[1].copy()
    swapped.numbers[5] = 32
    swapped.calc = SinglePointCalculator(swapped, forces=forces[1])
    with pytest.raises(ValueError, match=r"displaced\[1\]: atom 5 is Ge \(Z = 32\)"):
        physfit.fc.fit(ideal, [displaced[0], swapped])
    shuffled = displaced[0][np.roll(np.arange(64), 1)]
    shuffled.calc = SinglePointCalculator(shuffled, forces=forces[0])
    with pytest.raises(ValueError, match="in the supercell's order"):
        physfit.fc.fit(ideal, [shuffled])
    with pytest.raises(ValueError, match=r"forces has shape \(20, 64, 2\)"):
        physfit.fc.fit(ideal, displacements=u, forces=forces[:, :, :2])
    bad = forces.copy()
    bad[3, 7, 1] = np.nan
    with pytest.raises(ValueError, match=r"forces\[3, 7, 1\] = nan is not finite"):
        physfit.fc.fit(ideal, displacements=u, forces=bad)
    with pytest.raises(ValueError, match="but 'displaced' has 20 configurations"):
        physfit.fc.fit(ideal, displaced, configs_train=30)
    with pytest.raises(ValueError, match="no forces"):
        physfit.fc.fit(ideal, [ideal.copy()])
    with pytest.raises(ValueError, match="forces are zero in every configuration"):
        physfit.fc.fit(ideal, displacements=u, forces=np.zeros_like(forces))


@serial
def test_arrays_and_atoms_give_the_same_force_constants():
    ideal, displaced, u, forces = si_atoms()
    a = physfit.fc.fit(ideal, displaced, clusters_cutoffs=[4.0])
    b = physfit.fc.fit(ideal, displacements=u, forces=forces, clusters_cutoffs=[4.0])
    # the displacements from positions differ from u by rounding only
    assert np.abs(a.fc2 - b.fc2).max() < 1e-8 * np.abs(b.fc2).max()


def test_the_commands_warnings_are_runtime_warnings_in_keyword_names():
    import warnings
    ideal, displaced, _, _ = si_atoms()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        physfit.fc.fit(ideal, displaced, fit_method="lasso", path_count=5, path_ratio=0.5,
                       path_extend=0)
    messages = [str(x.message) for x in w if x.category is RuntimeWarning]
    assert any(m.startswith("physfit.fc: cross-validation: lambda_min is the smallest lambda")
               and "path_extend 0" in m and "--path" not in m for m in messages), messages


@serial
def test_to_phonopy_carries_the_born_charges_of_nac_born():
    """A polar crystal: rocksalt NaCl (64-atom supercell, phonopy's FCC primitive cell) with the
    spring-model force constants and the made-up BORN of tests/cli/test_nac.py; its forces on
    phonopy's displacements are exact (F = -Phi u), so least squares gives the model's force
    constants back. to_phonopy() must then equal phonopy with those force constants and that
    BORN (the LO-TO splitting near Gamma, where the correction matters), and differ from the
    fit without nac_born there."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
    from phonopy import Phonopy
    from phonopy.file_IO import parse_BORN
    from test_nac import BORNS, FCC, pair_force_constants, rocksalt

    ph = Phonopy(rocksalt(), supercell_matrix=np.diag([2, 2, 2]), primitive_matrix=FCC)
    fc = pair_force_constants(ph.supercell, 4.2)
    n = len(ph.supercell)
    ph.generate_displacements(distance=0.01)
    ideal = ph.supercell.positions
    phi = fc.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    ph.forces = [-(phi @ (s.positions - ideal).ravel()).reshape(n, 3)
                 for s in ph.supercells_with_displacements]
    os.makedirs(SCRATCH, exist_ok=True)
    born = os.path.join(SCRATCH, "BORN_nacl")
    with open(born, "w") as f:
        f.write(BORNS["nacl"])
    polar = physfit.fc.fit_phonopy(ph, cv_folds=0, nac_born=born).to_phonopy()
    plain = physfit.fc.fit_phonopy(ph, cv_folds=0).to_phonopy()
    assert polar.nac_params is not None and plain.nac_params is None

    ref = Phonopy(rocksalt(), supercell_matrix=np.diag([2, 2, 2]), primitive_matrix=FCC)
    ref.force_constants = fc
    nac = parse_BORN(ref.primitive, filename=born)
    nac.update(factor=physfit.fc.NAC_FACTOR, method="gonze")
    ref.nac_params = nac
    q = [[0.02, 0.01, 0.0], [0.05, 0.05, 0.05], [0.3, 0.1, 0.0], [0.5, 0.5, 0.5]]
    out = []
    for p in (polar, plain, ref):
        p.run_qpoints(q)
        out.append(p.get_qpoints_dict()["frequencies"])
    mine, without, exact = out
    print("NaCl with nac_born: max |f - f_phonopy| = %.3g THz; LO-TO at q = %s: %.3f THz"
          % (np.abs(mine - exact).max(), q[0], mine[0].max() - without[0].max()))
    assert np.abs(mine - exact).max() < 1e-4
    assert mine[0].max() - without[0].max() > 0.5  # the LO mode pushed up near Gamma
