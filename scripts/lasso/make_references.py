#!/usr/bin/python3
"""Writes the scikit-learn reference solutions the LASSO tests compare with
(tests/unit/lasso/reference/*.txt), for problems made by physfit's own seeded generator
(problems.py, bit-identical to include/physfit/lasso/generate.hpp).

Needs Debian's python3-sklearn (apt-get install python3-sklearn); the tests do not: the small
text files it writes are committed. Run from anywhere:

    /usr/bin/python3 scripts/lasso/make_references.py [OUTPUT_DIR]

Each case is solved by scikit-learn (Lasso or ElasticNet, tol=1e-12, coordinate descent on the
residual), then checked independently: the duality gap is recomputed from the residual, and the
solution is compared with the exact solution of the optimality conditions on its support
(a linear solve); a case whose coefficients differ from that by more than 1e-10 relative is
re-solved with tol=1e-15, and rejected if it still does.
"""
import os
import sys

import numpy as np
import sklearn
from sklearn.linear_model import ElasticNet, Lasso

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from problems import Spec, generate  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "tests", "unit", "lasso", "reference")

CASES = [
    # name, spec, standardize, intercept, y_offset, l1_ratio, lambda / lambda_max, adaptive
    ("lasso_corr_a", Spec(rows=200, cols=30, seed=3, nonzeros=6, noise_exponent=-4), 0, 0, 0.0, 1.0, 0.1, 0),
    ("lasso_corr_b", Spec(rows=200, cols=30, seed=3, nonzeros=6, noise_exponent=-4), 0, 0, 0.0, 1.0, 0.01, 0),
    ("lasso_scaled_a", Spec(rows=240, cols=40, seed=5, scale_range=4, nonzeros=8, noise_exponent=-6), 1, 0, 0.0, 1.0, 0.05, 0),
    ("lasso_scaled_b", Spec(rows=240, cols=40, seed=5, scale_range=4, nonzeros=8, noise_exponent=-6), 1, 0, 0.0, 1.0, 0.002, 0),
    ("enet_corr", Spec(rows=200, cols=30, seed=3, nonzeros=6, noise_exponent=-4), 0, 0, 0.0, 0.5, 0.05, 0),
    ("enet_scaled", Spec(rows=240, cols=40, seed=5, scale_range=4, nonzeros=8, noise_exponent=-6), 1, 0, 0.0, 0.3, 0.01, 0),
    ("lasso_wide_a", Spec(rows=40, cols=80, seed=11, correlation=0.5, nonzeros=5, noise_exponent=-5), 0, 0, 0.0, 1.0, 0.1, 0),
    ("lasso_wide_b", Spec(rows=40, cols=80, seed=11, correlation=0.5, nonzeros=5, noise_exponent=-5), 0, 0, 0.0, 1.0, 0.02, 0),
    ("lasso_intercept", Spec(rows=150, cols=20, seed=13, correlation=2.0, scale_range=2, nonzeros=5), 1, 1, 3.0, 1.0, 0.02, 0),
    ("adaptive_corr", Spec(rows=200, cols=30, seed=3, nonzeros=6, noise_exponent=-4), 0, 0, 0.0, 1.0, 0.05, 1),
]


def design(A, y, standardize, intercept):
    """The matrix and vector scikit-learn solves with: centred (scikit-learn does it itself when
    fit_intercept) and divided by the column scales physfit uses (RMS, or std when centred)."""
    Ac = A - A.mean(axis=0) if intercept else A
    s = np.sqrt((Ac * Ac).mean(axis=0)) if standardize else np.ones(A.shape[1])
    return A / s, s


def certificate(Z, y, x, b0, lam, r, w):
    """Objective and duality gap (scikit-learn's enet formula, weights w) from the residual."""
    n = len(y)
    if b0 is not None:
        Zc = Z - Z.mean(axis=0)
        yc = y - y.mean()
    else:
        Zc, yc = Z, y
    R = yc - Zc @ x
    l1, l2 = lam * r, lam * (1 - r)
    P = R @ R / (2 * n) + l1 * np.sum(w * np.abs(x)) + 0.5 * l2 * x @ x
    g = Zc.T @ R / n - l2 * x
    d = np.max(np.abs(g) / w)
    s = min(1.0, l1 / d) if d > 0 else 1.0
    rr, ry = R @ R / n, R @ yc / n
    gap = 0.5 * (1 + s * s) * rr + l1 * np.sum(w * np.abs(x)) - s * ry + 0.5 * l2 * (1 + s * s) * x @ x
    return P, gap


def support_solution(Z, y, x, lam, r, w, intercept):
    """Exact solution of the optimality conditions on the support and signs of x."""
    n = len(y)
    Zc = Z - Z.mean(axis=0) if intercept else Z
    yc = y - y.mean() if intercept else y
    S = np.flatnonzero(x)
    Q = Zc[:, S].T @ Zc[:, S] / n + lam * (1 - r) * np.eye(len(S))
    rhs = Zc[:, S].T @ yc / n - lam * r * w[S] * np.sign(x[S])
    out = np.zeros_like(x)
    out[S] = np.linalg.solve(Q, rhs)
    return out


def solve(Z, y, lam, r, intercept, tol):
    kw = dict(alpha=lam, fit_intercept=bool(intercept), tol=tol, max_iter=10_000_000, precompute=False)
    m = Lasso(**kw) if r == 1.0 else ElasticNet(l1_ratio=r, **kw)
    m.fit(Z, y)
    return m.coef_.copy(), float(m.intercept_), m.n_iter_


def fmt(v):
    return " ".join(repr(float(t)) for t in np.atleast_1d(v))


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, spec, standardize, intercept, offset, r, frac, adaptive in CASES:
        A, y, _ = generate(spec)
        y = y + offset
        Z, s = design(A, y, standardize, intercept)
        n, p = Z.shape
        w = np.ones(p)
        if adaptive:  # weights 1/|x_OLS| in the standardised coordinates
            Zc = Z - Z.mean(axis=0) if intercept else Z
            yc = y - y.mean() if intercept else y
            ols = np.linalg.lstsq(Zc, yc, rcond=None)[0]
            w = 1.0 / np.abs(ols)
        Zw = Z / w  # a weighted LASSO is a LASSO on columns divided by the weights
        Zc = Zw - Zw.mean(axis=0) if intercept else Zw
        yc = y - y.mean() if intercept else y
        lam_max = np.max(np.abs(Zc.T @ yc)) / n / max(r, 1e-3)
        lam = frac * lam_max
        for tol in (1e-12, 1e-15):
            xw, b0, iters = solve(Zw, y, lam, r, intercept, tol)
            x = xw / w  # back to the standardised coordinates
            exact = support_solution(Z, y, x, lam, r, w, intercept)
            err = np.max(np.abs(x - exact)) / np.max(np.abs(exact))
            if err < 1e-10:
                break
        else:
            raise SystemExit("%s: scikit-learn's solution is %.1e off the support solution" % (name, err))
        P, gap = certificate(Z, y, x, b0 if intercept else None, lam, r, w)
        coef = x / s  # original units
        with open(os.path.join(OUT, name + ".txt"), "w") as f:
            f.write("# %s: scikit-learn %s %s(tol=%g, precompute=False), %d epochs, written by\n"
                    "# scripts/lasso/make_references.py. Coefficients within %.1e of the exact support solution.\n"
                    % (name, sklearn.__version__, "Lasso" if r == 1 else "ElasticNet", tol, iters, err))
            f.write("spec %d %d %d %r %d %d %d %d\n" % (spec.rows, spec.cols, spec.seed, spec.correlation,
                                                      spec.scale_range, spec.nonzeros, spec.noise_exponent,
                                                      spec.duplicates))
            f.write("check %s\n" % fmt([A[0, 0], A[-1, -1], y[0], y[-1], np.sum(np.abs(A)), np.sum(y)]))
            f.write("standardize %d\nintercept %d\ny_offset %r\nadaptive %d\n" % (standardize, intercept, offset, adaptive))
            f.write("lambda %r\nl1_ratio %r\n" % (lam, r))
            f.write("weights %s\n" % fmt(w))
            f.write("objective %r\ngap %r\n" % (P, gap))
            f.write("intercept_value %r\n" % (b0 if intercept else 0.0))
            f.write("coef_standardized %s\n" % fmt(x))
            f.write("coef %s\n" % fmt(coef))
        print("%-16s n=%d p=%d lam/lam_max=%g nnz=%d obj=%.15g rel_gap=%.1e support_err=%.1e epochs=%d tol=%g"
              % (name, n, p, frac, np.count_nonzero(x), P, gap / P, err, iters, tol))


def path_and_cv():
    """A 20-lambda path (lasso_path) and 5-fold CV (LassoCV on contiguous folds of rows)."""
    from sklearn.linear_model import LassoCV, lasso_path
    from sklearn.model_selection import KFold
    spec = Spec(rows=200, cols=30, seed=3, nonzeros=6, noise_exponent=1)
    A, y, _ = generate(spec)
    n, p = A.shape
    lam_max = np.max(np.abs(A.T @ y)) / n
    lams = lam_max * 1e-3 ** (np.arange(20) / 19.0)
    _, coefs, gaps = lasso_path(A, y, alphas=lams, tol=1e-12, max_iter=10_000_000)
    worst = 0.0
    for k, lam in enumerate(lams):
        x = coefs[:, k]
        if not np.any(x):
            continue
        exact = support_solution(A, y, x, lam, 1.0, np.ones(p), False)
        worst = max(worst, np.max(np.abs(x - exact)) / np.max(np.abs(exact)))
    if worst > 1e-10:
        raise SystemExit("path: scikit-learn's solutions are %.1e off the support solutions" % worst)
    cv = LassoCV(alphas=lams, cv=KFold(5), fit_intercept=False, tol=1e-12, max_iter=10_000_000).fit(A, y)
    with open(os.path.join(OUT, "path_cv_corr.txt"), "w") as f:
        f.write("# scikit-learn %s lasso_path(tol=1e-12) and LassoCV(cv=KFold(5), tol=1e-12), written by\n"
                "# scripts/lasso/make_references.py. Path within %.1e of the exact support solutions.\n"
                % (sklearn.__version__, worst))
        f.write("spec %d %d %d %r %d %d %d %d\n" % (spec.rows, spec.cols, spec.seed, spec.correlation,
                                                  spec.scale_range, spec.nonzeros, spec.noise_exponent,
                                                  spec.duplicates))
        f.write("lambdas %s\n" % fmt(lams))
        for k in range(len(lams)):
            f.write("coef_%d %s\n" % (k, fmt(coefs[:, k])))
        for fold in range(5):
            f.write("mse_%d %s\n" % (fold, fmt(cv.mse_path_[:, fold])))
        f.write("lambda_min %r\n" % cv.alpha_)
    print("path_cv_corr     20 lambdas, support_err=%.1e, lambda_min/lambda_max=%.3g" % (worst, cv.alpha_ / lam_max))


if __name__ == "__main__":
    main()
    path_and_cv()
