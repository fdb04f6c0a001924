#!/usr/bin/python3
"""Counts independent force-constant parameters by brute force, independently of physfit's
orbit machinery, and writes the reference file physfit's tests compare against.

    scripts/fc/brute_force_counts.py OUT.txt

For each small case (structure, orders and cutoffs) the unknowns are the full force-constant
tensor of every ordered tuple of supercell atoms whose pairwise minimum-image distances are
within the cutoff. The symmetry group is every operation spglib finds for the *supercell*
(point operations times all translations, no orbits), plus the permutations of the tuple's
slots. The symmetric subspace is the range of the group average (Reynolds operator) applied to
random vectors; the acoustic sum rule sum_j Phi(i..., j) = 0 is then imposed by a rank
computation on that subspace. Counts: 'symmetric' (before the sum rule) and 'independent'.
"""
import itertools
import sys

import numpy as np
import spglib


def fcc_si_16():
    """Si, diamond, 2x2x2 supercell of the 2-atom primitive cell (16 atoms)."""
    a = 5.43095
    prim = np.array([[0, .5, .5], [.5, 0, .5], [.5, .5, 0]]) * a
    basis = np.array([[0, 0, 0], [.25, .25, .25]])
    return supercell(prim, basis, [14, 14], np.eye(3, dtype=int) * 2), prim


def si_64():
    """Si, diamond, 2x2x2 conventional supercell (64 atoms), primitive FCC cell."""
    a = 5.43095
    unit = np.eye(3) * a
    basis = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0], [.25, .25, .25],
                      [.25, .75, .75], [.75, .25, .75], [.75, .75, .25]])
    prim = np.array([[0, .5, .5], [.5, 0, .5], [.5, .5, 0]]) * a
    return supercell(unit, basis, [14] * 8, np.eye(3, dtype=int) * 2), prim


def hcp_16():
    """Mg-like hcp (P6_3/mmc, c/a = 1.62), 2x2x2 supercell (16 atoms): lower symmetry."""
    a, c = 3.2, 3.2 * 1.62
    prim = np.array([[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]])
    basis = np.array([[1 / 3, 2 / 3, .25], [2 / 3, 1 / 3, .75]])
    return supercell(prim, basis, [12, 12], np.eye(3, dtype=int) * 2), prim


def rocksalt_orthorhombic_16():
    """A two-species orthorhombic cell (Pmmm-like distortion of rock salt), 2x2x1 supercell."""
    prim = np.diag([2.9, 3.1, 3.4])
    basis = np.array([[0, 0, 0], [.5, .5, .5]])
    return supercell(prim, basis, [11, 17], np.diag([2, 2, 2])), prim


def supercell(lattice, basis, numbers, m):
    cells = [np.array(c) for c in itertools.product(*[range(int(m[i, i])) for i in range(3)])]
    frac, nums = [], []
    for s, b in enumerate(basis):
        for c in cells:
            frac.append((b + c) / np.diag(m))
            nums.append(numbers[s])
    sl = m @ lattice
    return sl, np.array(frac) @ sl, np.array(nums)


def min_image_distances(lattice, positions):
    inv = np.linalg.inv(lattice)
    d = positions[None, :, :] - positions[:, None, :]
    f = d @ inv
    f -= np.round(f)
    best = np.full(f.shape[:2], np.inf)
    for shift in itertools.product((-1, 0, 1), repeat=3):
        v = (f + np.array(shift)) @ lattice
        best = np.minimum(best, np.sqrt((v ** 2).sum(-1)))
    return best


def supercell_group(lattice, positions, numbers):
    """Every space-group operation of the supercell: atom permutations, Cartesian rotations."""
    inv = np.linalg.inv(lattice)
    frac = positions @ inv
    sym = spglib.get_symmetry((lattice, frac, numbers), symprec=1e-5)
    perms, rots = [], []
    for r, t in zip(sym["rotations"], sym["translations"]):
        image = frac @ r.T + t
        d = image[:, None, :] - frac[None, :, :]
        d -= np.round(d)
        hit = np.abs(d).max(-1) < 1e-5
        assert (hit.sum(1) == 1).all()
        perms.append(hit.argmax(1))
        rots.append(lattice.T @ r @ inv.T)
    return np.array(perms), np.array(rots)


def reynolds(v, ops, slots):
    """The group average of each column of v: the average over slot permutations, then over
    the supercell's operations (the two commute: operations act alike on every slot)."""
    acc = np.zeros_like(v)
    for target, _, comp in slots:
        acc[target] += v[:, comp, :]
    v = acc / len(slots)
    acc = np.zeros_like(v)
    for target, big, _ in ops:
        acc[target] += np.einsum("ab,tbk->tak", big, v)
    return acc / len(ops)


def count(lattice, positions, numbers, order, cutoff):
    n = len(positions)
    dist = min_image_distances(lattice, positions)
    rc = np.inf if cutoff < 0 else cutoff + 1e-6
    tuples = [t for t in itertools.product(range(n), repeat=order)
              if all(dist[a, b] <= rc for a, b in itertools.combinations(t, 2))]
    index = {t: k for k, t in enumerate(tuples)}
    perms, rots = supercell_group(lattice, positions, numbers)
    dim = 3 ** order
    # The group: every supercell operation composed with every slot permutation.
    maps = []
    for p, r in zip(perms, rots):
        big = r
        for _ in range(order - 1):
            big = np.kron(big, r)
        maps.append((np.array([index[tuple(p[list(t)])] for t in tuples]), big, None))
    for sigma in itertools.permutations(range(order)):
        target = np.array([index[tuple(t[s] for s in sigma)] for t in tuples])
        # New slot q holds old slot sigma[q]: component a' of the new tensor is component a
        # of the old with a[sigma[q]] = a'[q].
        inverse = np.argsort(sigma)
        comp = np.zeros(dim, dtype=int)
        for alpha in range(dim):
            digits = np.unravel_index(alpha, (3,) * order)
            comp[alpha] = np.ravel_multi_index(tuple(digits[inverse[s]] for s in range(order)),
                                               (3,) * order)
        maps.append((target, None, comp))
    rng = np.random.default_rng(0)
    ops, slots = maps[:len(perms)], maps[len(perms):]
    k = 16
    while True:
        v = reynolds(rng.normal(size=(len(tuples), dim, k)), ops, slots)
        s = np.linalg.svd(v.reshape(-1, k), compute_uv=False)
        if int((s > s[0] * 1e-8).sum()) < k or k >= len(tuples) * dim:
            break
        k *= 2
    flat = v.reshape(-1, k)
    u, s, _ = np.linalg.svd(flat, full_matrices=False)
    rank = int((s > s[0] * 1e-8).sum())
    basis = u[:, :rank]
    # Acoustic sum rule: for every (order-1)-tuple and components, sum over the last atom.
    heads = sorted({t[:-1] for t in tuples})
    head_index = {h: k for k, h in enumerate(heads)}
    rows = np.zeros((len(heads) * dim, rank))
    b3 = basis.reshape(len(tuples), dim, rank)
    for t, k_t in index.items():
        h = head_index[t[:-1]]
        rows[h * dim:(h + 1) * dim] += b3[k_t]
    s = np.linalg.svd(rows, compute_uv=False)
    asr_rank = int((s > s[0] * 1e-8).sum()) if len(s) else 0
    return rank, rank - asr_rank


CASES = [
    ("si16", fcc_si_16, [(2, -1.0), (3, 4.0), (4, 2.5)]),
    ("si64", si_64, [(2, -1.0)]),
    ("hcp16", hcp_16, [(2, -1.0), (3, 3.3)]),
    ("ortho16", rocksalt_orthorhombic_16, [(2, -1.0), (3, 3.2), (4, 2.5)]),
]


def main():
    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    out.write("# Independent force-constant parameters by brute force "
              "(scripts/fc/brute_force_counts.py)\n")
    for name, make, orders in CASES:
        (lattice, positions, numbers), prim = make()
        out.write(f"case {name}\n")
        out.write("lattice " + " ".join(f"{x:.12f}" for x in lattice.ravel()) + "\n")
        out.write("primitive " + " ".join(f"{x:.12f}" for x in prim.ravel()) + "\n")
        for z, p in zip(numbers, positions):
            out.write(f"atom {z} " + " ".join(f"{x:.12f}" for x in p) + "\n")
        for order, cutoff in orders:
            sym, indep = count(lattice, positions, numbers, order, cutoff)
            out.write(f"order {order} cutoff {cutoff} symmetric {sym} independent {indep}\n")
            out.flush()
            print(name, order, cutoff, sym, indep, file=sys.stderr)
        out.write("end\n")


if __name__ == "__main__":
    main()
