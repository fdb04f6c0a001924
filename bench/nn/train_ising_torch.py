#!/usr/bin/env python3
"""PyTorch peer of the Ising CNN speed benchmark (issue 13, point 5), timed as the peers'
train_fmnist.py times its models (../shared/peers/nn): only the batch loop (forward, backward,
Adam step) is timed; samples per process-CPU-second is the figure to compare on a shared machine.

Model (physfit: conv2d 16 3 padding=same relu, maxpool2d 2, conv2d 32 3 padding=same relu,
maxpool2d 2, flatten, dense 64 relu, dense 2; cross-entropy, Adam 1e-3): input 1 x L x L spins.

  /usr/bin/python3 bench/nn/train_ising_torch.py --data results/ising_bench.h5 --batch 128 \
      --max-steps 100 --blas-dir DIR --tag ising_b128 --out torch.jsonl

Last line of output: one JSON object (prefix 'SUMMARY ').
"""
import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--data", required=True, help="HDF5 file: /features [N, L, L] float32, /labels [N]")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--blas-dir", default="", help="directory holding libblas.so.3 (re-exec with LD_LIBRARY_PATH)")
p.add_argument("--max-steps", type=int, default=0, help="stop each epoch after this many steps (0 = full epoch)")
p.add_argument("--tag", default="")
p.add_argument("--out", default="", help="append the JSON summary line to this file")
args = p.parse_args()

if args.blas_dir and os.environ.get("_NN_BLAS_REEXEC") != "1":
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = args.blas_dir + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["_NN_BLAS_REEXEC"] = "1"
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
os.environ["OMP_NUM_THREADS"] = str(args.threads)
os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)


class IsingCNN(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * (size // 4) ** 2, 64)
        self.fc2 = nn.Linear(64, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def train_flops_per_sample(size):
    """Multiply-add FLOPs (2 per MAC) of forward + backward; the first layer needs no input gradient."""
    c1 = 2 * size * size * 16 * 9
    c2 = 2 * (size // 2) ** 2 * 32 * 9 * 16
    d1 = 2 * 32 * (size // 4) ** 2 * 64
    d2 = 2 * 64 * 2
    return 2 * (c1 + c2 + d1 + d2) + (c2 + d1 + d2)


def main():
    torch.manual_seed(args.seed)
    with h5py.File(args.data, "r") as f:
        x = torch.from_numpy(np.asarray(f["features"], dtype=np.float32)).unsqueeze(1)
        y = torch.from_numpy(np.asarray(f["labels"]).astype(np.int64))
    n, size = x.shape[0], x.shape[-1]
    model = IsingCNN(size)
    for mod in model.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(mod.weight)
            nn.init.zeros_(mod.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    gen = torch.Generator().manual_seed(args.seed)
    times, cpus, samples = [], [], 0
    for ep in range(args.epochs):
        perm = torch.randperm(n, generator=gen)
        xs, ys = x[perm].contiguous(), y[perm].contiguous()
        nb, lsum = 0, 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, n, args.batch):
            xb, yb = xs[i:i + args.batch], ys[i:i + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            lsum += loss.item()
            nb += 1
            samples += xb.shape[0]
            if args.max_steps and nb >= args.max_steps:
                break
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        print(f"epoch {ep + 1}: {times[-1]:.2f} s, cpu {cpus[-1]:.2f} s, loss {lsum / nb:.4f}", flush=True)
    fl = train_flops_per_sample(size)
    summ = {"script": "train_ising_torch", "tag": args.tag, "model": "ising_cnn", "size": size,
            "batch": args.batch, "threads": args.threads, "train_samples_s": samples / sum(times),
            "cpu_samples_s": samples / sum(cpus), "train_flops_per_sample": fl,
            "cpu_train_gflops_s": fl * samples / sum(cpus) / 1e9, "torch": torch.__version__,
            "loadavg": os.getloadavg()}
    line = json.dumps(summ)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")
    print("SUMMARY " + line, flush=True)


if __name__ == "__main__":
    main()
