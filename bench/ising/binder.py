#!/usr/bin/python3
"""Binder cumulant crossing of L = 16, 32, 64 near T_c, from `physfit generate ising`.

    /usr/bin/python3 bench/ising/binder.py [--bin build/bin/physfit] [--ranks 2] [--samples 4000]

Generates (Wolff everywhere) a fine temperature grid around T_c = 2.2692 for each L, computes
U_4 = 1 - <m^4> / (3 <m^2>^2) with jackknife error bars (the samples are kept 2 tau apart),
and prints where each pair of curves crosses (linear interpolation of the difference). The
crossings must lie near T_c (within a few 0.01 for these sizes; corrections to scaling shift
them slightly). Minutes, not seconds: a benchmark, not a CTest test.
"""
import argparse
import os
import subprocess
import sys
import time

import h5py
import numpy as np

TC = 2.0 / np.log(1.0 + np.sqrt(2.0))


def binder(m, blocks=20):
    m2, m4 = m ** 2, m ** 4
    u = 1 - m4.mean() / (3 * m2.mean() ** 2)
    n = len(m) // blocks * blocks
    b2 = m2[:n].reshape(blocks, -1).mean(1)
    b4 = m4[:n].reshape(blocks, -1).mean(1)
    jack = []
    for i in range(blocks):
        k = np.arange(blocks) != i
        jack.append(1 - b4[k].mean() / (3 * b2[k].mean() ** 2))
    jack = np.array(jack)
    return u, np.sqrt((blocks - 1) * ((jack - jack.mean()) ** 2).mean())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", default="build/bin/physfit")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--tmin", type=float, default=2.20)
    p.add_argument("--tmax", type=float, default=2.34)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--out", default="results/binder")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    curves = {}
    for L in (16, 32, 64):
        path = os.path.join(a.out, "ising%d.h5" % L)
        cmd = ["mpirun", "--oversubscribe", "-np", str(a.ranks), a.bin, "generate", "ising",
               "--lattice.size", str(L), "--temperatures.min", str(a.tmin),
               "--temperatures.max", str(a.tmax), "--temperatures.count", str(a.count),
               "--samples.per-temperature", str(a.samples), "--algorithm.choice", "wolff",
               "--samples.chains-per-temperature", "4", "--quiet", "--output.file", path]
        t0 = time.time()
        subprocess.run(cmd, check=True, env=env)
        dt = time.time() - t0
        with h5py.File(path) as f:
            T, m = f["/temperature"][:], f["/magnetization"][:]
            temps = f["/ising/temperatures"][:]
        rows = [binder(m[T == t]) for t in temps]
        curves[L] = (temps, np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
        print("L = %d: %d configurations in %.1f s (%.0f /s over %d ranks)" %
              (L, len(T), dt, len(T) / dt, a.ranks))
        for t, (u, e) in zip(temps, rows):
            print("  T = %.4f  U4 = %.4f +- %.4f" % (t, u, e))
    for L1, L2 in ((16, 32), (32, 64), (16, 64)):
        t, u1, e1 = curves[L1]
        _, u2, e2 = curves[L2]
        d = u1 - u2
        s = np.where(np.sign(d[:-1]) != np.sign(d[1:]))[0]
        if len(s) == 0:
            print("L = %d / %d: no crossing in [%.3f, %.3f]" % (L1, L2, t[0], t[-1]))
            continue
        i = s[0]
        tc = t[i] - d[i] * (t[i + 1] - t[i]) / (d[i + 1] - d[i])
        print("L = %d / %d: U4 curves cross at T = %.4f (T_c = %.4f, difference %+.4f)" %
              (L1, L2, tc, TC, tc - TC))
    return 0


if __name__ == "__main__":
    sys.exit(main())
