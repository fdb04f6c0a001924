#!/usr/bin/python3
"""Tables from bench/nn/speed.sh's JSON lines: physfit vs PyTorch, and physfit's scaling."""
import json
import sys

out = sys.argv[1]
PEAK = 190.0  # GFLOP/s per core, FP32 (peers/nn/FINDINGS.md)
# Training FLOPs per sample (2 per multiply-add): forward, weight gradients, and input gradients
# of every layer but the first. MLP as in FINDINGS.md. The peers' figure for the valid CNN,
# 10.13 M, left out the input gradients of conv2 and the dense layers (2 x forward - conv1);
# with them it is 3 x 5.262 M - 0.389 M = 15.40 M. Ising CNN (32 x 32 x 1, same padding):
# 3 x 2.917 M - 0.295 M = 8.45 M.
FLOPS = {"mlp": 1.636352e6, "cnn": 15.396864e6, "ising": 8.454912e6}

physfit = {}
for line in open(f"{out}/physfit.jsonl"):
    r = json.loads(line)
    h = r["result"]["history"]
    best = max(range(len(h["samples_per_s"])), key=lambda i: h["samples_per_cpu_s"][i])
    physfit[r["name"]] = dict(wall=h["samples_per_s"][best], cpu=h["samples_per_cpu_s"][best],
                              compute=h["time_compute_s"][best], allreduce=h["time_allreduce_s"][best],
                              io=h["time_io_s"][best], time=h["time_s"][best], load=r["loadavg"][0],
                              cpu_compute=h.get("cpu_compute_s", [float("nan")] * len(h["time_s"]))[best],
                              steps=(60000 + r["result"]["batch"] - 1) // r["result"]["batch"])
torch = {}
try:
    torch_lines = open(f"{out}/torch.jsonl").readlines()
except FileNotFoundError:
    torch_lines = []
for line in torch_lines:
    r = json.loads(line)
    torch.setdefault(r["tag"].replace("_again", ""), []).append(
        dict(wall=r["train_samples_s"], cpu=r["cpu_samples_s"], load=r["loadavg"][0]))

print("## physfit vs PyTorch, 1 rank x 1 thread\n")
print("| case | physfit samples/s (wall) | physfit samples/CPU-s | GFLOP/s by CPU time | % of FP32 peak |"
      " PyTorch samples/s (wall) | PyTorch samples/CPU-s | ratio by CPU time | ratio by wall | load (1 min) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for case, name in (("mlp_b128", "mlp_b128_np1"), ("mlp_b32", "mlp_b32_np1"), ("cnn_b128", "cnn_b128_np1"),
                   ("cnn_b128", "cnn_b128_m128_np1"), ("ising_b128", "ising_b128_np1"),
                   ("ising_b128", "ising_b128_m128_np1")):
    if case not in torch or name not in physfit:
        continue
    p = physfit[name]
    t_cpu = max(t["cpu"] for t in torch[case])
    t_wall = max(t["wall"] for t in torch[case])
    gf = p["cpu"] * FLOPS[case.split("_")[0]] / 1e9
    loads = "/".join("%.1f" % x for x in [p["load"]] + [t["load"] for t in torch[case]])
    label = case + (", micro-batch 128" if "_m128" in name else "")
    print(f"| {label} | {p['wall']:.0f} | {p['cpu']:.0f} | {gf:.1f} | {100 * gf / PEAK:.0f} % | "
          f"{t_wall:.0f} | {t_cpu:.0f} | {p['cpu'] / t_cpu:.2f}x | {p['wall'] / t_wall:.2f}x | {loads} |")
print("\nPyTorch: best of its runs in this benchmark (OpenBLAS AVX-512 kernels, glibc malloc settings).\n")
print("## physfit, 2 ranks vs 1 rank (1 thread each, same micro-batches, bitwise identical results)\n")
print("| case | 1 rank samples/s | 2 ranks samples/s | speed-up (wall) | speed-up (CPU time of the slowest rank) |"
      " compute CPU s per epoch, 1 rank / slowest of 2 | compute-only speed-up | 2 ranks: compute / allreduce / io wall s per epoch |"
      " ceiling: 2 independent runs at once | load |")
print("|---|---|---|---|---|---|---|---|---|---|")
for case in ("cnn_b128", "mlp_g512", "mlp_g128"):
    a, b = physfit.get(case + "_np1"), physfit.get(case + "_np2")
    if not a or not b:
        continue
    # Two independent 1-rank runs at once, one per core: twice the slower one's rate is what a
    # 2-rank run could reach here with no communication and no wait.
    pair = [physfit.get(f"{case}_pair_{core}") for core in (0, 1)]
    ceiling = (f"{2 * min(p['wall'] for p in pair) / a['wall']:.2f}x "
               f"({pair[0]['wall']:.0f} + {pair[1]['wall']:.0f})" if all(pair) else "")
    print(f"| {case} | {a['wall']:.0f} | {b['wall']:.0f} | {b['wall'] / a['wall']:.2f}x | "
          f"{b['cpu'] / a['cpu']:.2f}x | {a['cpu_compute']:.2f} / {b['cpu_compute']:.2f} | "
          f"{a['cpu_compute'] / b['cpu_compute']:.2f}x | "
          f"{b['compute']:.2f} / {b['allreduce']:.2f} / {b['io']:.2f} | {ceiling} | "
          f"{a['load']:.1f}/{b['load']:.1f} |")
print("\nCompute CPU s: thread CPU time of forward, backward, gradient conversion and the optimizer "
      "step (the slowest rank), which excludes descheduling and MPI waits; wall numbers on a loaded "
      "machine measure the share of the CPU the ranks got. Ceiling: twice the slower of two "
      "independent 1-rank runs started together on cores 0 and 1, over the 1-rank rate (their "
      "samples/s in brackets): the 2-rank speed-up this machine allows with no communication.")
