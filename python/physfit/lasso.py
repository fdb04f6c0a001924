"""Least squares, ridge, LASSO, elastic net and adaptive LASSO on numpy arrays: the engine and
the options of ``physfit lasso`` (docs/commands/lasso.md), with the same results to the bit.

Every option of the command except ``input.*`` and ``output.*`` is a keyword argument: the key
with its section kept and ``.`` and ``-`` written ``_`` (``--fit.l1-ratio`` is ``fit_l1_ratio``,
``--cv.folds`` is ``cv_folds``). Defaults, checks and meanings are the command's: they come from
its declarations (``options()`` lists them). ``fit``, ``path`` and ``cv`` set ``fit_task``.
"""

import difflib
import numbers
import re
import warnings

from . import _physfit

__all__ = ["fit", "path", "cv", "run", "options", "Result"]


def _name(key):
    return key.replace(".", "_").replace("-", "_")


# key -> (type, default text or None, help), in the command's order
_OPTIONS = {key: (typ, default, text) for key, typ, default, text in _physfit.lasso_options()}
_KEY_OF = {_name(key): key for key in _OPTIONS}


def options():
    """{keyword: (type, default as the command writes it or None, help)} of every option."""
    return {_name(key): v for key, v in _OPTIONS.items()}


class Result(dict):
    """A dict whose keys are also attributes (``r.coef`` is ``r["coef"]``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return list(self.keys())


def _text(name, value):
    """A keyword's value as the command line would spell it."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))  # the shortest text that reads back to the same double
    if isinstance(value, str):
        return value
    raise TypeError("physfit.lasso: %s = %r: expected a number, a bool or a string"
                    % (name, value))


def _python_words(message):
    """physfit's message with the command's option names replaced by keyword names."""
    for key in sorted(_OPTIONS, key=len, reverse=True):  # fit.lambda-ratio before fit.lambda
        message = re.sub(r"(?<![\w.-])(--)?%s(?![\w-])" % re.escape(key), _name(key), message)
    return message.replace("(command line)", "(keyword argument)")


def _wrap(d):
    return Result({k: _wrap(v) if isinstance(v, dict) else v for k, v in d.items()})


def run(A, y, groups=None, **kwargs):
    """The task of ``fit_task`` (default ``"cv"``, as the command) on rows A (n x p) and y (n).

    A, y: float64 arrays, any layout (C or Fortran order, or strided views: read in place);
    other dtypes and byte orders are converted (a copy). groups: integer ids per row for the CV
    folds (rows of one group are held out together; None: every row its own group). Under MPI
    each rank passes its own rows (rank r's rows follow rank r-1's), and every rank gets the
    same result. **Collective**: every rank calls it with the same keywords.
    """
    args = []
    for name, value in kwargs.items():
        key = _KEY_OF.get(name)
        if key is None:
            close = difflib.get_close_matches(name, list(_KEY_OF), n=1)
            raise TypeError("physfit.lasso: unknown keyword argument '%s'%s"
                            % (name, " (did you mean '%s'?)" % close[0] if close else ""))
        args += ["--" + key, _text(name, value)]
    method = kwargs.get("fit_method", _OPTIONS["fit.method"][1])
    if "fit_l1_ratio" in kwargs and method != "enet":
        warnings.warn("physfit.lasso: fit_l1_ratio is ignored by method '%s'" % method,
                      RuntimeWarning, stacklevel=3)
    grid_names = [_name(k) + "=" for k in ("path.ratio", "path.count", "path.extend",
                                           "cv.select")]
    try:
        d = _physfit.lasso_run(A, y, groups, args, grid_names)
    except ValueError as e:
        raise ValueError(_python_words(str(e))) from None
    r = _wrap(d)
    r["coef"] = r.fit.coef
    r["intercept"] = r.fit.intercept
    r["lambda_"] = r.fit["lambda"]
    if r.cv is not None and r.cv.warning:
        warnings.warn("physfit.lasso: " + r.cv.warning, RuntimeWarning, stacklevel=3)
    if not r.fit.converged:
        warnings.warn("physfit.lasso: not converged after %d epochs: relative gap %.4g "
                      "(raise solver_max_epochs or solver_tol)"
                      % (r.fit.epochs, r.fit.relative_gap), RuntimeWarning, stacklevel=3)
    return r


def _task(task, kwargs):
    if "fit_task" in kwargs:
        raise TypeError("physfit.lasso.%s sets fit_task itself (use physfit.lasso.run)" % task)
    kwargs["fit_task"] = task
    return kwargs


def fit(A, y, **kwargs):
    """One lambda: ``fit_lambda`` (absolute) or ``fit_lambda_ratio`` (times lambda_max); method
    ``ols`` needs neither. Returns a Result: coef, intercept, lambda_, fit (the certificate:
    objective, duality_gap, relative_gap, kkt_violation, epochs, nonzeros, converged...),
    debiased (with fit_debias=True), column_scale, adaptive_weights, lambda_max, mode."""
    return run(A, y, None, **_task("fit", kwargs))


def path(A, y, **kwargs):
    """The lambda path (``path_count`` lambdas from lambda_max down to ``path_ratio``
    lambda_max), then the fit at its last lambda (or at fit_lambda / fit_lambda_ratio).
    Result.path: lambda (L), coef (L x p), intercept, objective, duality_gap, relative_gap,
    nonzeros, epochs; and everything fit() returns."""
    return run(A, y, None, **_task("path", kwargs))


def cv(A, y, groups=None, **kwargs):
    """The path plus K-fold cross-validation over groups of rows, then the fit at lambda_min
    (or lambda_1se: cv_select="1se"). Result.cv: lambda, mean_error, standard_error,
    fold_error (K x L), fold_rows, lambda_min, lambda_1se, index_min, index_1se, error_min,
    end, warning...; and everything path() returns."""
    return run(A, y, groups, **_task("cv", kwargs))
