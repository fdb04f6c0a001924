#!/usr/bin/python3
"""Generates torch_reference.h5: forward scores, loss, gradients and two optimiser steps of
small models computed by PyTorch (Debian's python3-torch), an implementation independent of
physfit's. tests/unit/nn/test_torch_reference.cpp rebuilds the same models from the layer
lists stored here, loads the same initial parameters and compares.

Run with Debian's interpreter after `apt-get install python3-torch python3-h5py`:
    /usr/bin/python3 tests/reference/nn/make_torch_reference.py
The CI does not need PyTorch: the small output file is committed.

Layouts (physfit's): a sample is H x W x C with the channel fastest; a dense kernel is saved
as [in, out] (torch's weight transposed), a conv kernel as [K, K, C_in, C_out] (torch's
[C_out, C_in, K, K] permuted); parameters are kernel then bias, layer after layer."""

import os

import h5py
import numpy as np
import torch

torch.set_default_dtype(torch.float64)  # the reference in double: differences are physfit's
HERE = os.path.dirname(os.path.abspath(__file__))


class HWCFlatten(torch.nn.Module):
    def forward(self, x):  # N C H W -> N (H W C), physfit's order
        return x.permute(0, 2, 3, 1).flatten(1)


def flat_params(model):
    """physfit's parameter buffer from a torch model."""
    out = []
    for m in model:
        if isinstance(m, torch.nn.Linear):
            out += [m.weight.detach().t().reshape(-1), m.bias.detach().reshape(-1)]
        elif isinstance(m, torch.nn.Conv2d):
            out += [m.weight.detach().permute(2, 3, 1, 0).reshape(-1), m.bias.detach().reshape(-1)]
    return torch.cat(out).numpy()


def flat_grads(model):
    out = []
    for m in model:
        if isinstance(m, torch.nn.Linear):
            out += [m.weight.grad.t().reshape(-1), m.bias.grad.reshape(-1)]
        elif isinstance(m, torch.nn.Conv2d):
            out += [m.weight.grad.permute(2, 3, 1, 0).reshape(-1), m.bias.grad.reshape(-1)]
    return torch.cat(out).numpy()


def loss_of(kind, scores, target, n_classes):
    if kind == "cross_entropy":
        return torch.nn.functional.cross_entropy(scores, target, reduction="mean")
    if kind == "hinge":  # sum_{j != y} max(0, s_j - s_y + 1), mean over samples
        return n_classes * torch.nn.functional.multi_margin_loss(scores, target, margin=1.0)
    return ((scores - target) ** 2).sum(dim=1).mean()  # mse: mean over samples of ||y - d||^2


def make_case(f, name, layers, model, x_hwc, target, loss, optimizer, l2):
    g = f.create_group(name)
    g.attrs["layers"] = ", ".join(layers)
    g.attrs["input_shape"] = np.array(x_hwc.shape[1:], dtype=np.int64)
    g.attrs["loss"] = loss
    g.attrs["optimizer"] = optimizer["type"]
    g.attrs["learning_rate"] = optimizer["lr"]
    g.attrs["momentum"] = optimizer.get("momentum", 0.0)
    g.attrs["l2"] = l2
    g["x"] = x_hwc.reshape(x_hwc.shape[0], -1).astype(np.float32)
    if loss == "mse":
        g["targets"] = target.numpy().astype(np.float32)
    else:
        g["labels"] = target.numpy().astype(np.int32)
    # physfit works in float32: start torch from the float32-rounded parameters and inputs.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.float().double())
    g["initial"] = flat_params(model).astype(np.float32)
    x = torch.tensor(x_hwc.astype(np.float32).astype(np.float64)).permute(0, 3, 1, 2)
    # L2 term lambda * sum(W^2) -> gradient 2 lambda W: torch's weight_decay = 2 lambda, on
    # weights only (parameter groups).
    weights = [m.weight for m in model if hasattr(m, "weight")]
    biases = [m.bias for m in model if hasattr(m, "bias")]
    groups = [{"params": weights, "weight_decay": 2 * l2}, {"params": biases, "weight_decay": 0.0}]
    if optimizer["type"] == "adam":
        opt = torch.optim.Adam(groups, lr=optimizer["lr"], betas=(0.9, 0.999), eps=1e-8)
    else:
        opt = torch.optim.SGD(groups, lr=optimizer["lr"], momentum=optimizer.get("momentum", 0.0))
    n_classes = None
    for step in range(3):
        opt.zero_grad()
        scores = model(x)
        n_classes = scores.shape[1]
        value = loss_of(loss, scores, target, n_classes)
        value.backward()
        g[f"scores_{step}"] = scores.detach().numpy().astype(np.float32)
        g[f"loss_{step}"] = float(value)
        g[f"gradient_{step}"] = flat_grads(model).astype(np.float32)
        if step < 2:
            opt.step()
            g[f"after_step_{step + 1}"] = flat_params(model).astype(np.float32)


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    path = os.path.join(HERE, "torch_reference.h5")
    with h5py.File(path, "w") as f:
        f.attrs["generator"] = "tests/reference/nn/make_torch_reference.py"
        f.attrs["torch_version"] = str(torch.__version__)

        # 1. MLP, softmax cross-entropy, Adam with L2.
        model = torch.nn.Sequential(HWCFlatten(), torch.nn.Linear(6, 5), torch.nn.ReLU(),
                                    torch.nn.Linear(5, 4), torch.nn.Sigmoid(),
                                    torch.nn.Linear(4, 3))
        x = rng.uniform(-1, 1, size=(4, 1, 1, 6))
        make_case(f, "mlp_cross_entropy_adam",
                  ["flatten", "dense 5 relu", "dense 4 sigmoid", "dense 3"], model, x,
                  torch.tensor([0, 2, 1, 2]), "cross_entropy", {"type": "adam", "lr": 0.01}, 0.01)

        # 2. CNN, hinge loss, SGD with momentum.
        model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.Tanh(),
                                    torch.nn.MaxPool2d(2), torch.nn.Conv2d(3, 2, 2),
                                    torch.nn.ReLU(), HWCFlatten(), torch.nn.Linear(2, 4))
        x = rng.uniform(-1, 1, size=(3, 5, 4, 2))
        make_case(f, "cnn_hinge_sgd",
                  ["conv2d 3 3 padding=same tanh", "maxpool2d 2", "conv2d 2 2 relu", "flatten",
                   "dense 4"], model, x, torch.tensor([3, 0, 1]), "hinge",
                  {"type": "sgd", "lr": 0.1, "momentum": 0.9}, 0.001)

        # 3. Regression, least squares, Adam; strided valid convolution.
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 2, stride=2), torch.nn.Sigmoid(),
                                    HWCFlatten(), torch.nn.Linear(8, 4), torch.nn.Tanh(),
                                    torch.nn.Linear(4, 2))
        x = rng.uniform(-1, 1, size=(5, 4, 4, 1))
        make_case(f, "regression_mse_adam",
                  ["conv2d 2 2 stride=2 sigmoid", "flatten", "dense 4 tanh", "dense 2"], model, x,
                  torch.tensor(rng.uniform(-1, 1, size=(5, 2))), "mse",
                  {"type": "adam", "lr": 0.05}, 0.0)
    print("wrote", path)


if __name__ == "__main__":
    main()
