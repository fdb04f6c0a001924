"""The synthetic least-squares problems of physfit's LASSO engine, bit for bit as the C++
generator makes them (include/physfit/lasso/generate.hpp documents the formulas).

Every value is a dyadic rational, so y = A x_true + noise is exact in double precision whatever
the order of the sums: numpy and C++ agree to the bit.

    from problems import Spec, generate
    A, y, x_true = generate(Spec(rows=200, cols=30, seed=3))
"""
from dataclasses import dataclass

import numpy as np

M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass
class Spec:
    rows: int = 100
    cols: int = 10
    seed: int = 1
    correlation: float = 1.0
    scale_range: int = 0
    nonzeros: int = 3
    noise_exponent: int = -6
    duplicates: int = 0


def splitmix64(x):
    """splitmix64 on uint64 scalars or arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def key(seed, stream):
    return splitmix64(np.uint64(seed) ^ (np.uint64(stream) << np.uint64(32)))


def hash_(k, index):
    with np.errstate(over="ignore"):
        return splitmix64(np.uint64(k) + np.asarray(index, dtype=np.uint64))


def n4(h):
    h = np.asarray(h, dtype=np.uint64)
    s = np.zeros(h.shape)
    for f in range(4):
        field = ((h >> np.uint64(16 * f)) & np.uint64(0xFFFF)).astype(np.int64)
        s = s + ((field >> 6) - 512).astype(np.float64)
    return s / 512.0


def scales(spec):
    h = hash_(key(spec.seed, 4), np.arange(spec.cols))
    e = ((h >> np.uint64(40)) % np.uint64(2 * spec.scale_range + 1)).astype(np.int64) - spec.scale_range
    for t in range(spec.duplicates):
        e[spec.cols - spec.duplicates + t] = e[t] + 1
    return e


def truth(spec):
    e = scales(spec)
    x = np.zeros(spec.cols)
    if spec.nonzeros == 0:
        return x
    free = spec.cols - spec.duplicates
    stride = max(1, free // spec.nonzeros)
    k = key(spec.seed, 5)
    placed = 0
    j = 0
    while j < free and placed < spec.nonzeros:
        h = int(hash_(k, j))
        m = int((h >> 50) % 16) - 8
        if m == 0:
            m = 8
        x[j] = np.ldexp(m / 4.0, -int(e[j]))
        j += stride
        placed += 1
    return x


def generate(spec, begin=0, count=None):
    """Rows [begin, begin + count) of A (n x p, C order) and y, and x_true."""
    if count is None:
        count = spec.rows - begin
    p = spec.cols
    free = p - spec.duplicates
    e = scales(spec)
    x = truth(spec)
    i = np.arange(begin, begin + count, dtype=np.uint64)
    z = spec.correlation * n4(hash_(key(spec.seed, 2), i))
    idx = i[:, None] * np.uint64(p) + np.arange(free, dtype=np.uint64)[None, :]
    g = n4(hash_(key(spec.seed, 1), idx))
    A = np.empty((count, p))
    A[:, :free] = np.ldexp(g + z[:, None], e[None, :free])
    for t in range(spec.duplicates):
        A[:, free + t] = 2.0 * A[:, t]
    noise = np.ldexp(1.0, spec.noise_exponent) * n4(hash_(key(spec.seed, 3), i))
    y = A @ x + noise  # exact: every term is a multiple of a common power of two
    return A, y, x
