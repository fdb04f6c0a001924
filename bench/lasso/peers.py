#!/usr/bin/python3
"""scikit-learn (and optionally glmnet through R) on the problem lasso_bench wrote, the same
objective 1/(2n)||y - A x||^2 + lam ||x||_1 (no intercept, no standardisation), 1 BLAS thread.

    OPENBLAS_NUM_THREADS=1 LD_LIBRARY_PATH=<OpenBLAS> peers.py FILE.h5 --task gram|fit|nogram|path|cv
        [--lambda-ratio 0.01] [--tol 1e-10] [--count 100] [--timeout 300]

Prints one JSON object per line: wall and CPU seconds of the peer, and the duality gap of its
solution computed here (scikit-learn's enet formula, from the residual), so that the physfit
side can be compared at the same or a smaller gap. Every fit runs in a forked child killed
after --timeout CPU seconds.
"""
import argparse
import json
import multiprocessing as mp
import os
import time
import warnings

import h5py
import numpy as np

warnings.filterwarnings("ignore")


def rel_gap(A, y, x, lam):
    n = len(y)
    r = y - A @ x
    d = np.max(np.abs(A.T @ r)) / n
    s = min(1.0, lam / d) if d > 0 else 1.0
    rr, ry = r @ r / n, r @ y / n
    P = 0.5 * rr + lam * np.abs(x).sum()
    gap = 0.5 * (1 + s * s) * rr + lam * np.abs(x).sum() - s * ry
    return gap / P


def _child(conn, fn):
    try:
        conn.send(fn())
    except Exception as e:  # noqa: BLE001
        conn.send({"error": repr(e)})
    conn.close()


def _cpu_of(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def forked(fn, timeout):
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe(False)
    p = ctx.Process(target=_child, args=(b, fn))
    t0 = time.perf_counter()
    p.start()
    while True:
        if a.poll(0.2):
            out = a.recv()
            p.join()
            return out
        if _cpu_of(p.pid) > timeout or time.perf_counter() - t0 > 20 * timeout:
            cpu = _cpu_of(p.pid)
            p.terminate()
            p.join()
            return {"killed_after_cpu_s": cpu, "timeout_s": timeout}


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    extra = fn()
    return dict(wall_s=time.perf_counter() - w, cpu_s=time.process_time() - c, **(extra or {}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("h5")
    ap.add_argument("--task", required=True)
    ap.add_argument("--lambda-ratio", type=float, default=0.01)
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--ratio", type=float, default=1e-4)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--problem", default="")
    a = ap.parse_args()
    import sklearn
    from sklearn.linear_model import Lasso, LassoCV, lasso_path
    from sklearn.model_selection import KFold

    with h5py.File(a.h5, "r") as f:
        A = np.asfortranarray(f["A"][...])
        y = f["y"][...]
    n, p = A.shape
    lam_max = np.max(np.abs(A.T @ y)) / n
    lams = lam_max * a.ratio ** (np.arange(a.count) / (a.count - 1))
    lam = a.lambda_ratio * lam_max
    load = os.getloadavg()[0]
    out = dict(bench="sklearn", sklearn=sklearn.__version__, problem=a.problem, task=a.task, rows=n, cols=p,
               load_before=load, blas_threads=os.environ.get("OPENBLAS_NUM_THREADS"),
               blas=os.environ.get("LD_LIBRARY_PATH", "system"), tol=a.tol)
    if a.task in ("fit", "nogram"):
        out["lambda_ratio"] = a.lambda_ratio

    def gram():
        return timed(lambda: (A.T @ A, None)[1])

    def fit(precompute):
        def run():
            m = Lasso(alpha=lam, fit_intercept=False, precompute=precompute, tol=a.tol, max_iter=10_000_000)
            r = timed(lambda: (m.fit(A, y), None)[1])
            r.update(relative_gap=float(rel_gap(A, y, m.coef_, lam)), epochs=int(m.n_iter_),
                     nonzeros=int(np.count_nonzero(m.coef_)), lambda_=lam)
            return r
        return run

    def path():
        holder = {}

        def go():
            holder["r"] = lasso_path(A, y, alphas=lams, precompute=True, tol=a.tol, max_iter=10_000_000)
        r = timed(go)
        _, coefs, _ = holder["r"]
        gaps = [rel_gap(A, y, coefs[:, k], lams[k]) for k in range(1, len(lams), max(1, len(lams) // 10))]
        gaps.append(rel_gap(A, y, coefs[:, -1], lams[-1]))
        r.update(max_relative_gap_sampled=float(max(gaps)), relative_gap_last=float(gaps[-1]))
        return r

    def cv():
        m = LassoCV(alphas=lams, cv=KFold(a.folds), fit_intercept=False, precompute="auto", tol=a.tol,
                    max_iter=10_000_000)
        r = timed(lambda: (m.fit(A, y), None)[1])
        r.update(lambda_min_ratio=float(m.alpha_ / lam_max))
        return r

    task = {"gram": gram, "fit": fit(True), "nogram": fit(False), "path": path, "cv": cv}[a.task]
    best = None
    for _ in range(a.reps):
        r = forked(task, a.timeout)
        if "wall_s" not in r:
            best = r
            break
        if best is None or r["wall_s"] < best["wall_s"]:
            best = r
    out.update(best)
    if a.task == "gram" and "wall_s" in best:
        out["gnp2_per_s"] = n * p * p / best["wall_s"] / 1e9
    out["load_after"] = os.getloadavg()[0]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
