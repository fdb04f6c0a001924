#!/usr/bin/python3
"""Counts independent force-constant parameters by brute force, independently of physfit's
orbit machinery, and writes the reference file physfit's tests compare against.

    scripts/fc/brute_force_counts.py OUT.txt [--definition compact|min-image] [--only NAME]

Clusters. A multiset of supercell atoms is a cluster of cutoff rc (the compact definition of
ALAMODE and hiPhive, physfit's) if one choice of periodic images puts every pair within rc:
here, with the first atom at its site, every image of each other atom within rc of it is
tried (images n L, L the supercell lattice vectors, over a box of n wide enough for rc) and
every pair of the chosen images is checked. `--definition min-image` keeps instead the
multisets whose pairwise minimum-image distances are all within rc (physfit's definition
before issue 10; kept to check this script against the earlier reference). A negative cutoff
keeps every multiset. For a cutoff at or above half the shortest supercell lattice vector
(the limit, written per case) a cluster can have several compact embeddings; ALAMODE then
tries only the images in the 27 supercells next to the home one, which hold every image
within rc when rc is below every interplanar spacing of the supercell: the script checks
that, so its count is ALAMODE's definition too.

Parameters. The unknowns are the full force-constant tensors of every ordered tuple of
supercell atoms that is a cluster, with its first atom in the home cell (the lowest index of
its class of pure translations; translation invariance relates the others). The symmetry
group is every operation spglib finds for the *supercell* (point operations times all
translations, as atom permutations), acting on these tuples after bringing the first atom
home, plus the permutations of the tuple's slots. The symmetric subspace is the range of the
group average (Reynolds operator) applied to random vectors, computed separately on each set
of tuples the group connects; the acoustic sum rule sum_j Phi(i..., j) = 0 is then imposed by
a rank computation on that subspace (at or above the limit in ALAMODE's periodic-image form:
each constant spread evenly over its compact embeddings of smallest total distance, and the
sum taken separately for each choice of images of the other atoms, as ALAMODE's alm does). Counts: 'symmetric' (before the sum rule) and
'independent'. The shortest lattice vector is found by enumerating integer combinations.
"""
import argparse
import itertools
import sys

import numpy as np
import spglib

BOHR = 0.529177210903
TOL = 1e-6  # added to every cutoff, as physfit does


def fcc_si_16():
    """Si, diamond, 2x2x2 supercell of the 2-atom primitive cell (16 atoms)."""
    a = 5.43095
    prim = np.array([[0, .5, .5], [.5, 0, .5], [.5, .5, 0]]) * a
    basis = np.array([[0, 0, 0], [.25, .25, .25]])
    return supercell(prim, basis, [14, 14], np.eye(3, dtype=int) * 2), prim


def si_conventional(n):
    a = 5.43095
    unit = np.eye(3) * a
    basis = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0], [.25, .25, .25],
                      [.25, .75, .75], [.75, .25, .75], [.75, .75, .25]])
    prim = np.array([[0, .5, .5], [.5, 0, .5], [.5, .5, 0]]) * a
    return supercell(unit, basis, [14] * 8, np.eye(3, dtype=int) * n), prim


def si_64():
    """Si, diamond, 2x2x2 conventional supercell (64 atoms), primitive FCC cell."""
    return si_conventional(2)


def si_216():
    """Si, diamond, 3x3x3 conventional supercell (216 atoms)."""
    return si_conventional(3)


def hcp(m):
    a, c = 3.2, 3.2 * 1.62
    prim = np.array([[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]])
    basis = np.array([[1 / 3, 2 / 3, .25], [2 / 3, 1 / 3, .75]])
    return supercell(prim, basis, [12, 12], np.diag(m)), prim


def hcp_16():
    """Mg-like hcp (P6_3/mmc, c/a = 1.62), 2x2x2 supercell (16 atoms): lower symmetry."""
    return hcp([2, 2, 2])


def hcp_36():
    """The same hcp crystal, 3x3x2 supercell (36 atoms)."""
    return hcp([3, 3, 2])


def rocksalt_orthorhombic(m):
    prim = np.diag([2.9, 3.1, 3.4])
    basis = np.array([[0, 0, 0], [.5, .5, .5]])
    return supercell(prim, basis, [11, 17], np.diag(m)), prim


def rocksalt_orthorhombic_16():
    """A two-species orthorhombic cell (Pmmm-like distortion of rock salt), 2x2x2 supercell."""
    return rocksalt_orthorhombic([2, 2, 2])


def rocksalt_orthorhombic_54():
    """The same orthorhombic crystal, 3x3x3 supercell (54 atoms)."""
    return rocksalt_orthorhombic([3, 3, 3])


def supercell(lattice, basis, numbers, m):
    cells = [np.array(c) for c in itertools.product(*[range(int(m[i, i])) for i in range(3)])]
    frac, nums = [], []
    for s, b in enumerate(basis):
        for c in cells:
            frac.append((b + c) / np.diag(m))
            nums.append(numbers[s])
    sl = m @ lattice
    return sl, np.array(frac) @ sl, np.array(nums)


def shortest_lattice_vector(lattice):
    best = np.inf
    for n in itertools.product(range(-4, 5), repeat=3):
        if any(n):
            best = min(best, np.linalg.norm(np.array(n) @ lattice))
    return best


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


class Compact:
    """Decides whether a multiset of atoms is compact (memoised on the sorted multiset)."""

    def __init__(self, lattice, positions, rc):
        self.rc = rc
        self.pos = positions
        self.lattice = lattice
        # Box of shifts holding every image within rc: |n_k| <= rc |b*_k| + 1.
        dual = np.linalg.norm(np.linalg.inv(lattice), axis=0)
        m = [int(np.ceil(rc * d)) + 1 for d in dual]
        self.shifts = np.array(list(itertools.product(*[range(-k, k + 1) for k in m]))) @ lattice
        self.memo = {}

    def images(self, a, j):
        v = self.pos[j] - self.pos[a] + self.shifts
        return v[np.sqrt((v ** 2).sum(-1)) <= self.rc]

    def __call__(self, atoms):
        key = tuple(sorted(atoms))
        if key not in self.memo:
            anchor, others = key[0], sorted(set(key[1:]) - {key[0]})
            choices = [self.images(anchor, j) for j in others]
            ok = all(len(c) for c in choices) and any(
                all(np.linalg.norm(x - y) <= self.rc for x, y in itertools.combinations(pick, 2))
                for pick in itertools.product(*choices))
            self.memo[key] = ok
        return self.memo[key]


def embedding_keys(compact, t):
    """Images (rounded, relative to t[0]) of the atoms t[1:-1] in each compact embedding of
    the tuple t of smallest total distance."""
    others = sorted(set(t[1:]))
    choices = [compact.images(t[0], j) for j in others]
    found = []
    for pick in itertools.product(*choices):
        image = dict(zip(others, pick))
        points = [np.zeros(3)] + [image[a] for a in t[1:]]
        pairs = [np.linalg.norm(x - y) for x, y in itertools.combinations(points, 2)]
        if max(pairs) <= compact.rc:
            found.append((sum(pairs), tuple(tuple(np.round(p, 4)) for p in points[1:-1])))
    best = min(f[0] for f in found)
    return [key for total, key in found if total <= best + 1e-6]


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


def count(lattice, positions, numbers, order, cutoff, definition):
    n = len(positions)
    perms, rots = supercell_group(lattice, positions, numbers)
    # Pure translations: operations with the identity rotation.
    trans = perms[[np.allclose(r, np.eye(3)) for r in rots]]
    home = trans.min(axis=0)  # lowest index of each translation class
    to_home = np.array([trans[np.argmax(trans[:, a] == home[a])] for a in range(n)])
    homes = sorted(set(home))
    rc = np.inf if cutoff < 0 else cutoff + TOL
    dist = min_image_distances(lattice, positions)
    compact = Compact(lattice, positions, rc) if cutoff >= 0 else None
    if cutoff >= 0:
        spacing = 1 / np.linalg.norm(np.linalg.inv(lattice), axis=0).max()
        assert rc < spacing, "ALAMODE's 27 supercells would miss images"
    # The unknown tuples: first atom home, a cluster.
    tuples = []
    for p in homes:
        near = [j for j in range(n) if dist[p, j] <= rc]
        for rest in itertools.product(near, repeat=order - 1):
            t = (p,) + rest
            if cutoff >= 0:
                if definition == "compact":
                    if not compact(t):
                        continue
                elif not all(dist[a, b] <= rc for a, b in itertools.combinations(t, 2)):
                    continue
            tuples.append(t)
    tuples = np.array(tuples)
    weights = n ** np.arange(order - 1, -1, -1)
    keys = tuples @ weights
    assert (np.diff(keys) > 0).all()  # tuples were made in increasing order
    dim = 3 ** order

    def index(t):  # rows of atoms -> their rows in `tuples`
        k = t @ weights
        at = np.searchsorted(keys, k)
        assert (keys[np.minimum(at, len(keys) - 1)] == k).all(), "the group leaves the clusters"
        return at

    def canonical(t):  # rows of atoms -> the same tuples with the first atom home
        return to_home[t[:, 0]][np.arange(len(t))[:, None], t]

    # Every map of the group on the tuples: an operation, then a slot permutation, then the
    # translation that brings the first atom home; with the tensor map of each.
    # Operations that differ by a pure translation act alike on these tuples: keep one of each.
    kept, classes = [], set()
    for p, r in zip(perms, rots):
        c = (np.round(r, 6).tobytes(), tuple(home[p[homes]]))
        if c not in classes:
            classes.add(c)
            kept.append((p, r))
    maps, seen = [], set()
    for sigma in itertools.permutations(range(order)):
        inverse = np.argsort(sigma)
        comp = np.zeros(dim, dtype=int)
        for alpha in range(dim):
            digits = np.unravel_index(alpha, (3,) * order)
            comp[alpha] = np.ravel_multi_index(tuple(digits[inverse[s]] for s in range(order)),
                                               (3,) * order)
        for p, r in kept:
            target = index(canonical(p[tuples][:, list(sigma)]))
            key = (target.tobytes(), np.round(r, 6).tobytes(), sigma)
            if key in seen:
                continue
            seen.add(key)
            big = r
            for _ in range(order - 1):
                big = np.kron(big, r)
            # New slot q holds old slot sigma[q]: component a' of the new tensor is component
            # a of the old with a[sigma[q]] = a'[q]; then rotated.
            maps.append((target, big[comp, :]))
    # Connected sets of tuples.
    label = np.arange(len(tuples))
    for target, _ in maps:
        np.minimum.at(label, target, label)
    changed = True
    while changed:
        old = label.copy()
        for target, _ in maps:
            label = np.minimum(label, label[target])
            np.minimum.at(label, target, label)
        changed = not np.array_equal(old, label)
    # Each connected set is one orbit: its symmetric tensors are fixed by those of its first
    # tuple, which are the range of the group average over the maps that fix that tuple (the
    # Reynolds operator restricted to it); any map sending the first tuple to another carries
    # them there.
    columns = []
    for lab in np.unique(label):
        members = np.flatnonzero(label == lab)
        first = members[0]
        average = np.zeros((dim, dim))
        fixing = 0
        carry = {}
        for target, big in maps:
            if target[first] == first:
                average += big
                fixing += 1
            carry.setdefault(target[first], big)
        assert set(carry) == set(members)
        u, s, _ = np.linalg.svd(average / fixing)
        rank = int((s > 1e-8).sum())
        if rank:
            full = np.zeros((len(tuples), dim, rank))
            for m in members:
                full[m] = carry[m] @ u[:, :rank]
            columns.append(full)
    if not columns:
        return 0, 0
    basis = np.concatenate(columns, axis=2)
    rank = basis.shape[2]
    # Acoustic sum rule: for every head (the tuple less its last atom) and component, the sum
    # over the last atom. At or above the limit, ALAMODE's periodic-image convention: each
    # tuple's constant is spread evenly over its compact embeddings of smallest total distance
    # (every pair, with repetitions), and the sum runs separately for each choice of images of
    # the head's atoms relative to its first.
    wraps = (definition == "compact" and cutoff >= 0
             and rc >= shortest_lattice_vector(lattice) / 2)
    blocks = {}
    terms = []
    for k_t, t in enumerate(tuples):
        keys = [()]
        if wraps:
            keys = embedding_keys(compact, t)
        for key in keys:
            b = blocks.setdefault((tuple(t[:-1]), key), len(blocks))
            terms.append((b, k_t, 1.0 / len(keys)))
    rows = np.zeros((len(blocks) * dim, rank))
    for b, k_t, w in terms:
        rows[b * dim:(b + 1) * dim] += w * basis[k_t]
    s = np.linalg.svd(rows, compute_uv=False)
    asr_rank = int((s > s[0] * 1e-8).sum()) if len(s) else 0
    return rank, rank - asr_rank


CASES = [
    ("si16", fcc_si_16, [(2, -1.0), (3, 3.0), (3, 4.0), (4, 2.5)]),
    ("si64", si_64, [(2, -1.0), (3, 4.6), (3, 10.5 * BOHR), (3, 12.0 * BOHR), (4, 8.6 * BOHR)]),
    ("si216", si_216, [(3, 10.5 * BOHR)]),
    ("hcp16", hcp_16, [(2, -1.0), (3, 3.3)]),
    ("hcp36", hcp_36, [(2, -1.0), (3, 3.3), (4, 3.3)]),
    ("ortho16", rocksalt_orthorhombic_16, [(2, -1.0), (3, 3.2), (4, 2.5)]),
    ("ortho54", rocksalt_orthorhombic_54, [(3, 3.2), (4, 3.0)]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?")
    ap.add_argument("--definition", choices=["compact", "min-image"], default="compact")
    ap.add_argument("--only", help="one case by name")
    a = ap.parse_args()
    out = open(a.out, "w") if a.out else sys.stdout
    out.write("# Independent force-constant parameters by brute force "
              "(scripts/fc/brute_force_counts.py, %s clusters)\n" % a.definition)
    for name, make, orders in CASES:
        if a.only and name != a.only:
            continue
        (lattice, positions, numbers), prim = make()
        out.write(f"case {name}\n")
        out.write("lattice " + " ".join(f"{x:.12f}" for x in lattice.ravel()) + "\n")
        out.write("primitive " + " ".join(f"{x:.12f}" for x in prim.ravel()) + "\n")
        out.write(f"limit {shortest_lattice_vector(lattice) / 2:.12f}\n")
        for z, p in zip(numbers, positions):
            out.write(f"atom {z} " + " ".join(f"{x:.12f}" for x in p) + "\n")
        for order, cutoff in orders:
            sym, indep = count(lattice, positions, numbers, order, cutoff, a.definition)
            out.write(f"order {order} cutoff {cutoff!r} symmetric {sym} independent {indep}\n")
            out.flush()
            print(name, order, cutoff, sym, indep, file=sys.stderr)
        out.write("end\n")


if __name__ == "__main__":
    main()
