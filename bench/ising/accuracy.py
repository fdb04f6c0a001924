#!/usr/bin/python3
"""Accuracy of `physfit generate ising` against Onsager's energy and Yang's magnetisation.

    /usr/bin/python3 bench/ising/accuracy.py [--bin build/bin/physfit] [--ranks 2]
        [--sizes 32 64] [--samples 4000] [--temperatures 1.5 2.0 3.0]

For each L, generates the temperatures given (the default algorithm choice: Metropolis at 1.5
and 3.0, Wolff at 2.0), then prints <|m|> and u = E / N with standard errors from binning
(20 bins of consecutive rows, i.e. of whole stretches of chains) next to the exact values and
the deviation in standard errors. Below T_c at L >= 32 and |T - T_c| >= 0.3 finite-size
corrections are O(exp(-L / xi)); above T_c a finite lattice has <|m|> ~ L^-1, not Yang's 0.
"""
import argparse
import os
import subprocess
import sys
import time

import h5py
import numpy as np

TC = 2.0 / np.log(1.0 + np.sqrt(2.0))


def elliptic_k(k):
    a, b = 1.0, np.sqrt(1 - k * k)
    while abs(a - b) > 1e-15 * a:
        a, b = (a + b) / 2, np.sqrt(a * b)
    return np.pi / (a + b)


def onsager(t):
    b2 = 2 / t
    kappa = 2 * np.sinh(b2) / np.cosh(b2) ** 2
    if kappa >= 1:
        return -1 / np.tanh(b2)
    return -1 / np.tanh(b2) * (1 + 2 / np.pi * (2 * np.tanh(b2) ** 2 - 1) * elliptic_k(kappa))


def yang(t):
    return (1 - np.sinh(2 / t) ** -4) ** 0.125 if t < TC else 0.0


def binned(x, bins=20):
    n = len(x) // bins * bins
    b = x[:n].reshape(bins, -1).mean(1)
    return x.mean(), b.std(ddof=1) / np.sqrt(bins)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", default="build/bin/physfit")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--temperatures", type=float, nargs="+", default=[1.5, 2.0, 3.0])
    p.add_argument("--out", default="results/accuracy")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    worst = 0.0
    for L in a.sizes:
        for t in a.temperatures:
            path = os.path.join(a.out, "ising%d_%.3f.h5" % (L, t))
            cmd = ["mpirun", "--oversubscribe", "-np", str(a.ranks), a.bin, "generate", "ising",
                   "--lattice.size", str(L), "--temperatures.min", repr(t),
                   "--temperatures.count", "1", "--samples.per-temperature", str(a.samples),
                   "--samples.chains-per-temperature", "8", "--quiet", "--output.file", path]
            t0 = time.time()
            subprocess.run(cmd, check=True, env=env)
            dt = time.time() - t0
            with h5py.File(path) as f:
                m, e = np.abs(f["/magnetization"][:]), f["/energy"][:]
                alg = f["/ising/algorithm"][0].decode()
                tau = max(f["/ising/tau_abs_m"][0], f["/ising/tau_energy"][0])
            (mm, ms), (em, es) = binned(m), binned(e)
            m0, e0 = yang(t), onsager(t)
            dm, de = (mm - m0) / ms, (em - e0) / es
            if t < TC:
                worst = max(worst, abs(dm))
            worst = max(worst, abs(de))
            print("L = %2d T = %.3f %-10s tau %6.2f: <|m|> = %.5f +- %.5f (Yang %.5f, %+5.1f se)"
                  "  u = %.5f +- %.5f (Onsager %.5f, %+5.1f se)  [%.1f s]" %
                  (L, t, alg, tau, mm, ms, m0, dm, em, es, e0, de, dt))
    print("largest deviation: %.1f standard errors (|m| below T_c only)" % worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
