"""Force constants from ASE or phonopy objects: the engine and the options of ``physfit fc``
(docs/commands/fc.md), with the same force constants to the bit.

    import physfit
    r = physfit.fc.fit(ideal, displaced, clusters_cutoffs=[-1, 5.0], fit_method="lasso")
    r.fc2            # (N, N, 3, 3) eV/Angstrom^2, phonopy's full layout
    r.fc3            # (N, N, N, 3, 3, 3) eV/Angstrom^3 (order >= 3), phono3py's layout
    phonon = r.to_phonopy()

Every option of the command except ``input.*`` and ``output.*`` is a keyword argument: the key
with its section kept and ``.`` and ``-`` written ``_`` (``--fit.l1-ratio`` is ``fit_l1_ratio``,
``--clusters.cutoffs`` is ``clusters_cutoffs``). Defaults, checks and meanings are the
command's: they come from its declarations (``options()`` lists them). The user guide is
docs/python.md.
"""

import difflib
import json
import numbers
import os
import re
import sys
import warnings

import numpy as np

from . import _physfit
from .lasso import Result

__all__ = ["fit", "fit_phonopy", "options", "ForceConstants"]


def _name(key):
    return key.replace(".", "_").replace("-", "_")


# key -> (type, default text or None, help), in the command's order
# e^2 / (4 pi epsilon_0) in eV Angstrom: the unit factor of the non-analytic correction that
# physfit uses (fc/nac.hpp's kDefaultNacFactor, phonopy's default for VASP units).
NAC_FACTOR = 14.39965172592227
_OPTIONS = {key: (typ, default, text) for key, typ, default, text in _physfit.fc_options()}
_KEY_OF = {_name(key): key for key in _OPTIONS}


def options():
    """{keyword: (type, default as the command writes it or None, help)} of every option."""
    return {_name(key): v for key, v in _OPTIONS.items()}


def _text(name, value):
    """A keyword's value as the command line would spell it (lists: comma-separated)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ",".join(_text(name, v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))  # the shortest text that reads back to the same double
    if isinstance(value, str):
        return value
    raise TypeError("physfit.fc: %s = %r: expected a number, a bool, a string or a list of them"
                    % (name, value))


def _python_words(message):
    """physfit's message with the command's option names replaced by keyword names."""
    for key in sorted(_OPTIONS, key=len, reverse=True):
        message = re.sub(r"(?<![\w.-])(--)?%s(?![\w-])" % re.escape(key), _name(key), message)
    return message.replace("(command line)", "(keyword argument)")


def _args(kwargs):
    args = []
    for name, value in kwargs.items():
        key = _KEY_OF.get(name)
        if key is None:
            close = difflib.get_close_matches(name, list(_KEY_OF), n=1)
            raise TypeError("physfit.fc: unknown keyword argument '%s'%s"
                            % (name, " (did you mean '%s'?)" % close[0] if close else ""))
        if _OPTIONS[key][0] == "flag":
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError("physfit.fc: %s = %r: a flag is True or False" % (name, value))
            args += ["--" + key] if value else []
        else:  # one token: values such as "-1,2.5" are not taken for options
            args.append("--%s=%s" % (key, _text(name, value)))
    return args


def _structure(atoms, what):
    """The dict fc_run reads from an ASE Atoms or a PhonopyAtoms."""
    try:
        cell = np.array(atoms.cell, dtype=float).reshape(3, 3)
        if not hasattr(type(atoms), "scaled_positions"):  # ase.Atoms (not a PhonopyAtoms)
            positions = np.array(atoms.get_positions(), dtype=float)
            numbers_ = np.array(atoms.get_atomic_numbers(), dtype=np.int64)
            masses = np.array(atoms.get_masses(), dtype=float)
            symbols = list(atoms.get_chemical_symbols())
        else:  # PhonopyAtoms
            positions = np.array(atoms.positions, dtype=float)
            numbers_ = np.array(atoms.numbers, dtype=np.int64)
            masses = np.array(atoms.masses, dtype=float)
            symbols = list(atoms.symbols)
    except AttributeError as e:
        raise ValueError("physfit.fc: %s must be an ase.Atoms (or a PhonopyAtoms): %s"
                         % (what, e)) from None
    if abs(np.linalg.det(cell)) < 1e-6:
        raise ValueError("physfit.fc: %s has no periodic cell (cell %s): the supercell needs "
                         "its three lattice vectors" % (what, cell.tolist()))
    if len(positions) == 0:
        raise ValueError("physfit.fc: %s has no atoms" % what)
    return dict(lattice=cell, positions=positions, numbers=numbers_, masses=masses,
                symbols=symbols)


def _shortest_distance(s):
    """The shortest distance between two atoms of structure dict s (minimum image)."""
    frac = s["positions"] @ np.linalg.inv(s["lattice"])
    d = frac[:, None, :] - frac[None, :, :]
    d -= np.round(d)
    r = np.linalg.norm(d @ s["lattice"], axis=-1)
    r[np.diag_indices_from(r)] = np.inf
    return float(r.min()) if len(r) > 1 else np.inf


def _displacements(ideal, displaced, what):
    """Displacements (count, n, 3) of ASE Atoms in the supercell's order, checked."""
    n = len(ideal["positions"])
    inverse = np.linalg.inv(ideal["lattice"])
    limit = 0.5 * _shortest_distance(ideal)
    out = np.empty((len(displaced), n, 3))
    for k, atoms in enumerate(displaced):
        name = "%s[%d]" % (what, k)
        s = _structure(atoms, name)
        if len(s["positions"]) != n:
            raise ValueError("physfit.fc: %s has %d atoms but the supercell has %d"
                             % (name, len(s["positions"]), n))
        bad = np.nonzero(s["numbers"] != ideal["numbers"])[0]
        if len(bad):
            i = bad[0]
            raise ValueError("physfit.fc: %s: atom %d is %s (Z = %d) but the supercell's atom %d "
                             "is %s (Z = %d): the atoms must be in the supercell's order"
                             % (name, i, s["symbols"][i], s["numbers"][i], i,
                                ideal["symbols"][i], ideal["numbers"][i]))
        if not np.allclose(s["lattice"], ideal["lattice"], rtol=0, atol=1e-6):
            raise ValueError("physfit.fc: %s.cell %s differs from the supercell's %s (by %.3g "
                             "Angstrom): a displaced supercell keeps the ideal cell"
                             % (name, s["lattice"].tolist(), ideal["lattice"].tolist(),
                                np.abs(s["lattice"] - ideal["lattice"]).max()))
        frac = (s["positions"] - ideal["positions"]) @ inverse
        frac -= np.round(frac)
        u = frac @ ideal["lattice"]
        size = np.linalg.norm(u, axis=1)
        if not np.all(np.isfinite(size)):
            i = int(np.nonzero(~np.isfinite(size))[0][0])
            raise ValueError("physfit.fc: %s: atom %d has a position that is not finite" % (name, i))
        if size.max() > limit:
            i = int(np.argmax(size))
            raise ValueError("physfit.fc: %s: atom %d is %.3g Angstrom from its site in the "
                             "supercell, over half the shortest interatomic distance (%.3g): the "
                             "atoms must be in the supercell's order, displaced a little"
                             % (name, i, size[i], limit))
        out[k] = u
    return out


def _forces_of(displaced, what):
    out = []
    for k, atoms in enumerate(displaced):
        f = None
        if getattr(atoms, "calc", None) is not None:
            try:
                f = atoms.get_forces()
            except Exception as e:  # a calculator that cannot give them (no results stored)
                raise ValueError("physfit.fc: %s[%d] has a calculator that gives no forces "
                                 "(%s): attach the forces (ase's SinglePointCalculator) or pass "
                                 "forces=" % (what, k, e)) from None
        elif hasattr(atoms, "arrays") and "forces" in atoms.arrays:
            f = atoms.arrays["forces"]
        if f is None:
            raise ValueError("physfit.fc: %s[%d] has no forces: attach them (ase's "
                             "SinglePointCalculator, as ase.io.read gives them) or pass forces="
                             % (what, k))
        out.append(np.asarray(f, dtype=float))
    return out


def _checked(array, name, shape):
    a = np.ascontiguousarray(array, dtype=float)
    if a.shape != shape:
        raise ValueError("physfit.fc: %s has shape %s but (configurations, atoms, 3) = %s is "
                         "needed" % (name, a.shape, shape))
    bad = np.argwhere(~np.isfinite(a))
    if len(bad):
        c, i, x = bad[0]
        raise ValueError("physfit.fc: %s[%d, %d, %d] = %r is not finite (configuration %d, atom "
                         "%d): remove or repair that configuration" % (name, c, i, x, a[c, i, x],
                                                                       c, i))
    return a


class ForceConstants(Result):
    """The result of a fit: a dict whose keys are also attributes.

    fc2 (N, N, 3, 3) and fc2_compact (Np, N, 3, 3): phonopy's full and compact layouts
    (eV/Angstrom^2; compact rows are the atoms p2s_map); fc3_compact (Np, N, N, 3, 3, 3) and fc3
    (N, N, N, 3, 3, 3, made on first use): phono3py's (eV/Angstrom^3), None below order 3.
    cv: the cross-validation curve; errors: the force errors; summary: the command's --json.
    """

    @property
    def fc2_compact(self):
        return self["fc2"][self["p2s_map"]]

    @property
    def fc3(self):
        """The full third order (N, N, N, 3, 3, 3), expanded from fc3_compact by translations
        (N^3 x 27 doubles: 57 MB for 64 atoms)."""
        if self.get("fc3_compact") is None:
            return None
        if self.get("_fc3") is None:
            c, s2p, t = self["fc3_compact"], self["s2p_map"], self["translations"]
            n = len(s2p)
            full = np.empty((n, n, n, 3, 3, 3))
            for i in range(n):
                # fc3[i, j, k] = fc3[p, T j, T k] for the translation T taking i to p
                full[i] = c[s2p[i]][t[i]][:, t[i]]  # t[i, j] = T j
            self["_fc3"] = full
        return self["_fc3"]

    def __dir__(self):
        return [k for k in self.keys() if not k.startswith("_")] + ["fc2_compact", "fc3",
                                                                      "to_phonopy"]

    def to_phonopy(self):
        """A phonopy.Phonopy with these second-order force constants (full layout, in the atom
        order of phonopy's supercell): phonopy's unit cell, supercell and primitive matrices
        when the data came from phonopy, else the primitive cell physfit found with the
        supercell matrix that builds this supercell from it. With ``nac_born`` given to the fit, its
        ``nac_params`` are that BORN's (Gonze's method, physfit's unit factor). Its frequencies
        are those of ``physfit phonons`` on the command's model."""
        from phonopy import Phonopy
        from phonopy.structure.atoms import PhonopyAtoms

        src = self["_phonopy"]
        if src is not None:
            cell = src["unitcell"]
            phonon = Phonopy(PhonopyAtoms(cell=cell["lattice"], positions=cell["positions"],
                                          numbers=cell["numbers"], masses=cell["masses"]),
                             supercell_matrix=src["supercell_matrix"],
                             primitive_matrix=src["primitive_matrix"])
        else:
            p = self["primitive"]
            phonon = Phonopy(PhonopyAtoms(cell=p["lattice"], positions=p["positions"],
                                          numbers=p["numbers"], masses=p["masses"]),
                             supercell_matrix=self["supercell_matrix"].T)
        order = self._phonopy_order(phonon.supercell)
        phonon.force_constants = self["fc2"][order][:, order]
        if self.get("_nac_born"):
            # The fit's BORN, as `physfit phonons` applies it from the model's /nac: phonopy
            # maps the charges to its primitive cell; the unit factor is physfit's, whatever
            # the file says (physfit warns when they differ), and the method its default.
            from phonopy.file_IO import parse_BORN
            nac = parse_BORN(phonon.primitive, filename=self["_nac_born"])
            nac["factor"] = NAC_FACTOR
            nac["method"] = "gonze"
            phonon.nac_params = nac
        return phonon

    def _phonopy_order(self, supercell):
        """physfit's atom at each atom of phonopy's supercell (same position modulo the
        lattice)."""
        s = self["supercell"]
        lattice = s["lattice"]
        inverse = np.linalg.inv(lattice)
        d = (np.asarray(supercell.positions)[:, None, :] - s["positions"][None, :, :]) @ inverse
        d -= np.round(d)
        r = np.linalg.norm(d @ lattice, axis=-1)
        order = np.argmin(r, axis=1)
        worst = r[np.arange(len(order)), order].max()
        if worst > 1e-4 or len(set(order.tolist())) != len(order):
            raise RuntimeError("physfit.fc: phonopy's supercell does not match physfit's (an atom "
                               "%.3g Angstrom from any of physfit's)" % worst)
        return order


def _nonzero(u, f, distributed):
    """Displacements or forces zero everywhere are refused (by the command too, as errors of
    its file: here of the arguments). A rank's share may be empty: checked by the command."""
    if distributed:
        return
    for name, a in (("displacements", u), ("forces", f)):
        if len(a) and not np.any(a):
            raise ValueError("physfit.fc: the %s are zero in every configuration: they carry no "
                             "information about the force constants" % name)


def _run(prepare, distributed, log_level, kwargs):
    """Calls fc_run with what prepare() returns (ideal, u, f, name, phonopy cells); an error of
    prepare() (this rank's objects) is raised on every rank by fc_run, so that no rank waits
    for this one under MPI."""
    if log_level not in ("debug", "info", "warning", "error", "off"):
        raise ValueError("physfit.fc: log_level = %r: debug, info, warning, error or off"
                         % (log_level,))
    args = _args(kwargs)
    try:
        ideal, u, f, name, phonopy_cell = prepare()
        _nonzero(u, f, distributed)
        error = ""
    except ValueError as e:
        if _physfit.mpi_size() > 1:
            e = "on rank %d: %s" % (_physfit.mpi_rank(), e)
        empty = np.zeros((0, 1, 3))
        ideal = dict(lattice=np.eye(3), positions=np.zeros((1, 3)), numbers=[1], masses=[1.0],
                     symbols=["H"])
        u, f, name, phonopy_cell, error = empty, empty, "", None, str(e)
    try:
        d = _physfit.fc_run(ideal, u, f, bool(distributed), args, name, log_level, error)
    except ValueError as e:
        raise ValueError(_python_words(str(e))) from None
    r = ForceConstants(d)
    for line in r.pop("log").splitlines():  # the command's warnings as Python's
        warning = re.match(r"(\[rank \d+\] )?warning: (.*)", line)
        if warning:
            warnings.warn("physfit." + _python_words(warning.group(2)), RuntimeWarning,
                          stacklevel=3)
        else:
            print(line, file=sys.stderr)
    r["summary"] = json.loads(d["summary"])
    r["_phonopy"] = phonopy_cell
    born = kwargs.get("nac_born")
    r["_nac_born"] = os.path.abspath(born) if born else ""
    r["_fc3"] = None
    if "z" not in d:  # solver_plan_only: the plan, no fit
        return r
    r["cv"] = None
    s = r.summary
    if len(d["lambdas"]):
        cv = Result(
            {"lambda": d["lambdas"], "mse": d["cv_mse"], "se": d["cv_se"],
             "nonzeros": d["nonzeros"], "chosen": d["chosen"]})
        cv.update(s.get("cv", {}))
        r["cv"] = cv
    r["errors"] = Result(train_rmse=d["train_rmse"], train_relative=d["train_relative"],
                         cv_rmse=d["cv_rmse"], cv_relative=d["cv_relative"],
                         test=Result(s.get("test", {})))
    return r


def fit(supercell, displaced=None, *, displacements=None, forces=None, distributed=False,
        log_level="warning", **options):
    """Fits force constants to displaced supercells, as ``physfit fc`` does.

    supercell: the ideal supercell (ase.Atoms). displaced: a list of ase.Atoms, the supercell
    with every atom displaced a little, in the same atom order and cell, with forces (a
    calculator's, as ase.io.read attaches them, or atoms.arrays["forces"]); or give
    displacements (count, N, 3) Angstrom instead. forces (count, N, 3) eV/Angstrom, if given,
    are used instead of the structures' own. The primitive cell and the space group are found
    by physfit (structure_symprec).

    MPI: **collective**: every rank calls it with the same keywords. With distributed=False
    (the default) every rank passes all the structures and uses its share (as the command
    reads its file); with distributed=True each passes its own share (any number, rank r's
    after rank r - 1's). Either way every rank gets the whole result.

    log_level: physfit's log for this call (the command's --log-level; "info" prints the
    command's progress lines). Returns a ForceConstants.
    """
    def prepare():
        structures, f_given = displaced, forces
        ideal = _structure(supercell, "supercell")
        n = len(ideal["positions"])
        if structures is not None and displacements is not None:
            raise ValueError("physfit.fc: give displaced (structures) or displacements (an "
                             "array), not both")
        if structures is not None:
            if hasattr(structures, "get_positions"):
                raise ValueError("physfit.fc: displaced must be a list of ase.Atoms (one Atoms "
                                 "given: wrap it in a list)")
            structures = list(structures)
            u = _displacements(ideal, structures, "displaced")
            if f_given is None:
                f_given = _forces_of(structures, "displaced")
                bad = [k for k, f in enumerate(f_given) if f.shape != (n, 3)]
                if bad:
                    raise ValueError("physfit.fc: displaced[%d] has forces of shape %s, not "
                                     "(%d, 3)" % (bad[0], f_given[bad[0]].shape, n))
                f_given = np.array(f_given).reshape(len(structures), n, 3)
            name = "displaced"
        elif displacements is not None:
            u = displacements
            name = "displacements"
            if f_given is None:
                raise ValueError("physfit.fc: displacements given without forces=")
        else:
            raise ValueError("physfit.fc: give displaced (a list of ase.Atoms with forces) or "
                             "displacements= and forces=")
        u = np.asarray(u, dtype=float)
        count = u.shape[0] if u.ndim == 3 else -1
        u = _checked(u, "displacements", (count if count >= 0 else len(u), n, 3))
        f = _checked(f_given, "forces", u.shape)
        return ideal, u, f, name, None

    return _run(prepare, distributed, log_level, options)


def fit_phonopy(phonon, *, distributed=False, log_level="warning", **options):
    """Fits force constants to a phonopy object's displacement data set with its forces (type
    1, one displaced atom per supercell, or type 2, every atom displaced), as ``physfit fc``
    does on the same data: phonopy's supercell (its atom order), unit cell and primitive matrix.
    The other arguments are fit()'s; to_phonopy() gives a Phonopy of the same cells.
    """
    def prepare():
        ideal = _structure(phonon.supercell, "phonon.supercell")
        n = len(ideal["positions"])
        unit = _structure(phonon.unitcell, "phonon.unitcell")
        pmat = phonon.primitive_matrix
        pmat = np.eye(3) if pmat is None else np.array(pmat, dtype=float)
        smat = np.array(phonon.supercell_matrix, dtype=float)
        ideal.update(unit_lattice=unit["lattice"], primitive_matrix=pmat, supercell_matrix=smat)
        dataset = phonon.dataset
        if not dataset:
            raise ValueError("physfit.fc: phonon.dataset is empty: generate displacements and set "
                             "their forces (phonon.forces = ...) first")
        if "first_atoms" in dataset:  # type 1
            u = np.zeros((len(dataset["first_atoms"]), n, 3))
            f = np.zeros_like(u)
            for k, d in enumerate(dataset["first_atoms"]):
                if "forces" not in d:
                    raise ValueError("physfit.fc: phonon.dataset['first_atoms'][%d] has no forces: "
                                     "set phonon.forces first" % k)
                u[k, d["number"]] = d["displacement"]
                f[k] = d["forces"]
        elif "displacements" in dataset:  # type 2
            if "forces" not in dataset:
                raise ValueError("physfit.fc: phonon.dataset has displacements but no forces: set "
                                 "phonon.forces first")
            u = dataset["displacements"]
            f = dataset["forces"]
        else:
            raise ValueError("physfit.fc: phonon.dataset has neither 'first_atoms' (type 1) nor "
                             "'displacements' (type 2): keys %s" % sorted(dataset))
        u = _checked(u, "phonon.dataset displacements", (len(u), n, 3))
        f = _checked(f, "phonon.dataset forces", u.shape)
        cell = dict(unitcell=unit, supercell_matrix=np.array(phonon.supercell_matrix),
                    primitive_matrix=pmat)
        return ideal, u, f, "phonon.dataset", cell

    return _run(prepare, distributed, log_level, options)
