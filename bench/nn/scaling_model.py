#!/usr/bin/env python3
"""The alpha-beta scaling model of physfit's exact data-parallel training and its check
(issue 14, point 4). Reads OUT/reduce.jsonl and OUT/train.jsonl (bench/nn/scaling.sh) and prints
a Markdown report:

1. fits t(n) = a + b * bytes (least squares on the medians, weighted by 1/t so that every size
   counts by its relative error) per transport, rank count and operation, with the residuals,
   and the alpha (latency) and beta (seconds per byte) of a ring they imply;
2. the check: per-step time predicted from the 1-rank compute and the shared-memory fits,
   against the measured `physfit train --json` runs at 2 and 4 ranks (4 ranks oversubscribed on
   2 cores: compute x2);
3. the strong-scaling efficiency at P = 1 .. 1024 on 100 Gb/s InfiniBand (alpha 2 us,
   beta 1 / 12.5 GB/s), ring and recursive halving/doubling, physfit's exact reduction today
   and a float32 allreduce.

Bytes per step of a gradient of n parameters:
  float32 allreduce: 2 (P-1)/P * 4n (reduce-scatter + allgather of floats)
  physfit:           (P-1)/P * (4n + 4n): reduce-scatter of int32 fixed-point limbs, allgather
                     of the float parameters (sharded optimiser), plus one small all-reduce of
                     the tensors' maxima and loss sums (latency only): the bytes of float32
  physfit before:    (P-1)/P * (8n + 4n) with int64 limbs (section 3 shows both)

  /usr/bin/python3 bench/nn/scaling_model.py OUT_DIR
"""
import json
import math
import sys

import numpy as np

ALPHA_IB = 2e-6  # s
BETA_IB = 1 / 12.5e9  # s per byte (100 Gb/s)
CORES = 2  # of the machine the check ran on
FIT_MAX = 1 << 18  # fit n <= 256 K floats: above it the time leaves the line (see README)
PAIRWISE_RANKS = 8  # FixedPointReducer::kPairwiseRanks (include/physfit/nn/reduce.hpp)


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def fit(rows):
    """Weighted least squares t = a + b * bytes (weights 1/t) on n <= FIT_MAX; residuals
    relative, for every size."""
    x = np.array([r["bytes"] for r in rows], float)
    t = np.array([r["median_s"] for r in rows], float)
    use = np.array([r["n"] <= FIT_MAX for r in rows])
    w = 1 / t[use]
    A = np.stack([np.ones_like(x[use]), x[use]], 1) * w[:, None]
    (a, b), *_ = np.linalg.lstsq(A, t[use] * w, rcond=None)
    resid = (a + b * x - t) / t
    return a, b, resid, x, t


def ring(p, n, alpha, beta, exact, limb_bytes=4):
    if p == 1:
        return 0.0
    if exact:  # reduce-scatter of limbs + allgather of floats + small all-reduce
        return 2 * (p - 1) * alpha + math.log2(p) * alpha + (p - 1) / p * (limb_bytes + 4) * n * beta
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * 4 * n * beta


def rhd(p, n, alpha, beta, exact, limb_bytes=4):
    if p == 1:
        return 0.0
    lg = math.log2(p)
    if exact:
        # Up to PAIRWISE_RANKS the limbs' reduce-scatter is pairwise (P - 1 messages a rank),
        # above it MPI_Reduce_scatter's recursive halving (log2 P); then the allgather and the
        # small all-reduce.
        scatter = p - 1 if p <= PAIRWISE_RANKS else lg
        return (scatter + lg) * alpha + lg * alpha + (p - 1) / p * (limb_bytes + 4) * n * beta
    return 2 * lg * alpha + 2 * (p - 1) / p * 4 * n * beta


def main():
    out = sys.argv[1]
    red = load(f"{out}/reduce.jsonl")
    train = load(f"{out}/train.jsonl")
    try:
        at_size = {(r["ranks"], r["n"]): r for r in load(f"{out}/reduce_models.jsonl")
                   if r["op"] == "exact"}
    except FileNotFoundError:
        at_size = {}
    for r in train:  # the command's summary is under "result"
        r.update({k: v for k, v in r.get("result", {}).items() if k not in r})
    loads = [r["loadavg"][0] for r in red]
    print(f"# Scaling model of physfit's exact reduction ({out})\n")
    print(f"Reduction benchmark: load average (1 min) {min(loads):.1f}-{max(loads):.1f} on "
          f"{CORES} cores; 4 ranks are oversubscribed (2 per core).\n")
    print("## 1. Fits t(n) = a + b * bytes (median of repeats; bytes: exact 8 n, its "
          "reduce-scatter 4 n, its allgather 4 n, float 4 n)\n")
    print(f"Fitted on n <= {FIT_MAX >> 10} K floats; residuals in brackets are sizes outside the "
          "fit (extrapolated).\n")
    print("| transport | ranks | operation | a (us) | b (ns/byte) | alpha (us, ring) | "
          "1/beta (GB/s, ring) | residuals (relative, per size 1K..16M) |")
    print("|---|---|---|---|---|---|---|---|")
    fits = {}
    ops = ("exact", "exact_rs", "exact_ag", "float")
    for tr in ("shm", "tcp", "shm_thp"):
        for p in (2, 4):
            for op in ops:
                rows = sorted((r for r in red if r["transport"] == tr and r["ranks"] == p
                               and r["op"] == op), key=lambda r: r["n"])
                if not rows:
                    continue
                a, b, resid, _, _ = fit(rows)
                if op == "exact":
                    alpha = a / (2 * (p - 1) + math.log2(p))
                    beta = b * p / (p - 1)
                elif op == "exact_rs":
                    alpha = a / ((p - 1) + math.log2(p))
                    beta = b * p / (p - 1)
                elif op == "exact_ag":
                    alpha = a / (p - 1)
                    beta = b * p / (p - 1)
                else:
                    alpha = a / (2 * (p - 1))
                    beta = b * p / (2 * (p - 1))
                fits[tr, p, op] = (a, b, alpha, beta)
                res = " ".join(f"{v:+.0%}" if r["n"] <= FIT_MAX else f"({v:+.0%})"
                               for v, r in zip(resid, rows))
                print(f"| {tr} | {p} | {op} | {a * 1e6:.1f} | {b * 1e9:.3f} | {alpha * 1e6:.1f} | "
                      f"{1 / beta / 1e9:.2f} | {res} |")
    print("\nMedians (ms) per n:\n")
    sizes = sorted({r["n"] for r in red})
    print("| transport | ranks | operation | " + " | ".join(
        f"{n // 1024}K" if n < 1 << 20 else f"{n >> 20}M" for n in sizes) + " |")
    print("|---|---|---|" + "---|" * len(sizes))
    for tr in ("shm", "tcp", "shm_thp"):
        for p in (2, 4):
            for op in ops:
                d = {r["n"]: r["median_s"] for r in red
                     if r["transport"] == tr and r["ranks"] == p and r["op"] == op}
                if d:
                    print(f"| {tr} | {p} | {op} | " + " | ".join(
                        f"{d[n] * 1e3:.3g}" if n in d else "" for n in sizes) + " |")

    # Per model: 1-rank compute per sample (CPU seconds: robust to the machine's load).
    cases = []
    for name in dict.fromkeys(r["name"] for r in train):
        runs = {r["ranks"]: r for r in train if r["name"] == name}
        if 1 not in runs:
            continue
        one = runs[1]
        h = one["history"]
        rows = one["train_rows"]
        cpu_sample = h["cpu_compute_s"][-1] / rows
        wall_sample = h["time_compute_s"][-1] / rows
        cases.append(dict(name=name, runs=runs, n=one["parameters"], batch=one["batch"],
                          micro=one["micro_batch"], rows=rows, cpu_sample=cpu_sample,
                          wall_sample=wall_sample))

    print("\n## 2. Check: predicted vs measured per-step time at 2 and 4 ranks (shared memory)\n")
    print("Predicted compute per step = 1-rank compute per sample x B / P: in CPU time (what "
          "a rank computes), and in wall time (the 1-rank run's wall time per sample, at its "
          "load) x2 at 4 ranks (2 ranks per core). Predicted reduction = the exact operation's fit at P "
          "(a + b * 8 n), and the ring formula with the alpha and beta of the 2-rank fit "
          "(for 4 ranks a real prediction); and reduce_bench's median at the model's own n. "
          "Measured: `physfit train --json`, one epoch; its "
          "reduction time also holds the wait for the slowest rank.\n")
    print("| model | params | B / micro | P | load | compute pred. CPU / wall (ms) | compute meas. "
          "CPU / wall (ms) | reduce pred. fit at P / ring from P=2 / bench at n (ms) | reduce meas. (ms) | "
          "step pred. (wall) / meas. (ms) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c in cases:
        for p in (2, 4):
            r = c["runs"].get(p)
            if r is None or ("shm", p, "exact") not in fits:
                continue
            h = r["history"]
            steps = math.ceil(c["rows"] / c["batch"])
            factor = max(1, p / CORES)
            pc_cpu = c["cpu_sample"] * c["batch"] / p
            pc_wall = c["wall_sample"] * c["batch"] / p * factor
            a, b, _, _ = fits["shm", p, "exact"]
            pr_fit = a + b * 8 * c["n"]
            _, _, al2, be2 = fits["shm", 2, "exact"]
            pr_ring = ring(p, c["n"], al2, be2, True)
            bench = at_size.get((p, c["n"]))
            bench = f"{bench['median_s'] * 1e3:.3g}" if bench else "n/a"
            mc = h["time_compute_s"][-1] / steps
            mcpu = h["cpu_compute_s"][-1] / steps
            mr = h["time_allreduce_s"][-1] / steps
            print(f"| {c['name']} | {c['n']:,} | {c['batch']} / {c['micro']} | {p}"
                  f"{' (oversubscribed)' if p > CORES else ''} | {r['loadavg'][0]:.1f} | "
                  f"{pc_cpu * 1e3:.3g} / {pc_wall * 1e3:.3g} | {mcpu * 1e3:.3g} / {mc * 1e3:.3g} | "
                  f"{pr_fit * 1e3:.3g} / {pr_ring * 1e3:.3g} / {bench} | {mr * 1e3:.3g} | "
                  f"{(pc_wall + pr_fit) * 1e3:.3g} / {(mc + mr) * 1e3:.3g} |")
    print("\n1-rank runs (the compute the predictions use):\n")
    print("| model | load | samples | compute wall (s) | compute CPU (s) | us per sample (CPU) |")
    print("|---|---|---|---|---|---|")
    for c in cases:
        r = c["runs"][1]
        h = r["history"]
        print(f"| {c['name']} | {r['loadavg'][0]:.1f} | {c['rows']} | {h['time_compute_s'][-1]:.3g} | "
              f"{h['cpu_compute_s'][-1]:.3g} | {c['cpu_sample'] * 1e6:.3g} |")

    print("\n## 3. Predicted strong-scaling efficiency on 100 Gb/s InfiniBand "
          "(alpha 2 us, beta 1/12.5 GB/s)\n")
    print("T(P) = t_sample x B / P + T_reduce(P); efficiency T(1) / (P T(P)); t_sample = the "
          "1-rank CPU time per sample measured here (one core, the Zen 5 of the VM). "
          "At every P >= 8 a rank holds B / P samples, fewer than the micro-batch measured (32, "
          "128, 8): the run needs micro-batch <= B / P (physfit's bits depend on the micro-batch, "
          "not on P) and the per-sample cost is assumed unchanged at that micro-batch, which is "
          "optimistic. `-`: P > B, less than one sample per rank: strong scaling stops.\n")
    ps = [1 << k for k in range(0, 11)]
    for algo, fn in (("ring", ring), ("recursive halving/doubling", rhd)):
        print(f"\n### {algo}: physfit exact with int64 limbs (before) / 32-bit limbs (now) / float32 "
              "allreduce\n")
        print("| model | params | B | " + " | ".join(str(p) for p in ps[3:]) + " |")
        print("|---|---|---|" + "---|" * len(ps[3:]))
        for c in cases:
            cells = []
            t1 = c["cpu_sample"] * c["batch"]
            for p in ps[3:]:
                if p > c["batch"]:
                    cells.append("-")
                    continue
                tc = c["cpu_sample"] * c["batch"] / p
                e = [t1 / (p * (tc + fn(p, c["n"], ALPHA_IB, BETA_IB, exact, limb)))
                     for exact, limb in ((True, 8), (True, 4), (False, 0))]
                cells.append("/".join(f"{v:.0%}" for v in e))
            print(f"| {c['name']} | {c['n']:,} | {c['batch']} | " + " | ".join(cells) + " |")
    print("\nPer-step reduction on InfiniBand (ms, ring, P = 1024): " + ", ".join(
        f"{c['name']} exact {ring(1024, c['n'], ALPHA_IB, BETA_IB, True) * 1e3:.2f} / float "
        f"{ring(1024, c['n'], ALPHA_IB, BETA_IB, False) * 1e3:.2f}" for c in cases))


if __name__ == "__main__":
    main()
