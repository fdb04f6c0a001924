"""End-to-end tests of `physfit generate ising`: the file read with h5py as a user would (the
documented bit order), and the Binder cumulant crossing of L = 16, 32 and 64 near T_c (a fixed
seed: the same numbers every run, so the tolerance is about physics, not luck).
Run by CTest (one test per class) with PHYSFIT_BIN, MPIEXEC and PHYSFIT_TEST_SCRATCH set."""

import os
import unittest

import h5py
import numpy as np

from harness import last_json, physfit, scratch

TC = 2.0 / np.log(1.0 + np.sqrt(2.0))


def generate(d, name, *args, ranks=2):
    out = os.path.join(d, name)
    r = physfit("generate", "ising", "--quiet", "--json", "--output.file", out, *args,
                ranks=ranks, timeout=600)
    if r.returncode != 0:
        raise AssertionError("physfit generate failed (%d): %s" % (r.returncode, r.stderr))
    return out, last_json(r.stdout)


class GenerateFile(unittest.TestCase):
    def test_spins_unpack_to_the_recorded_energy_and_magnetization(self):
        d = scratch(self)
        out, summary = generate(d, "ising.h5", "--lattice.size", "16", "--temperatures.count",
                                "6", "--samples.per-temperature", "40")
        self.assertEqual(summary["result"]["rows"], 240)
        with h5py.File(out) as f:
            g = f["/ising"]
            L = int(g.attrs["L"])
            bits = np.unpackbits(f["/features"][:], axis=1, bitorder="little")
            s = (2 * bits.astype(np.int64) - 1).reshape(-1, L, L)
            e = -(s * np.roll(s, -1, 1) + s * np.roll(s, -1, 2)).sum((1, 2)) / (L * L)
            np.testing.assert_array_equal(e, f["/energy"][:])
            np.testing.assert_array_equal(s.sum((1, 2)) / (L * L), f["/magnetization"][:])
            t = f["/temperature"][:]
            np.testing.assert_array_equal(f["/labels"][:], (t < TC).astype(np.int32))
            np.testing.assert_allclose(np.unique(t), np.linspace(1.0, 3.5, 6))
            self.assertEqual(f["/features"].dtype, np.uint8)
            for name in ("/features", "/temperature", "/labels", "/energy", "/magnetization",
                         "/ising/tau_abs_m", "/ising/equilibration", "/ising/algorithm"):
                self.assertTrue(f[name].attrs["unit"], name)
            self.assertEqual(len(g["tau_abs_m"]), 6)
            self.assertTrue(all(g["spacing"][:] >= 2 * np.maximum(g["tau_abs_m"][:],
                                                                    g["tau_energy"][:])))
            self.assertIn("command", f["/physfit"].attrs)


def run(*args, ranks=None):
    r = physfit(*args, "--quiet", "--json", ranks=ranks, timeout=600)
    if r.returncode != 0:
        raise AssertionError("physfit %s failed (%d): %s" % (args[0], r.returncode, r.stderr))
    return last_json(r.stdout)["result"]


class PackedTraining(unittest.TestCase):
    """train, evaluate and predict read the packed spins as they are: the same numbers, bit for
    bit, as the same spins stored as float32 +-1 (unpacked by numpy), cached or streamed in
    small windows, at 1 and 2 ranks."""

    def test_packed_spins_train_exactly_like_their_float_copy(self):
        d = scratch(self)
        packed, _ = generate(d, "packed.h5", "--lattice.size", "16", "--temperatures.count", "4",
                             "--samples.per-temperature", "150")
        plain = os.path.join(d, "plain.h5")
        with h5py.File(packed) as f, h5py.File(plain, "w") as g:
            bits = np.unpackbits(f["/features"][:], axis=1, bitorder="little")
            g["/features"] = (2 * bits.astype(np.float32) - 1).reshape(-1, 16, 16)
            g["/labels"] = f["/labels"][:]
            g["/labels"].attrs["classes"] = 2
        model = ["--model.layers", "conv2d 4 3 padding=same relu, maxpool2d 2, flatten, dense 2",
                 "--model.loss", "cross_entropy", "--train.epochs", "2", "--train.batch", "32",
                 "--data.validation-split", "0.2"]
        results = {}
        for name, data, ranks, extra in (("plain", plain, None, []),
                                         ("packed", packed, None, []),
                                         ("streamed", packed, 2, ["--data.max-memory", "8k"])):
            m = os.path.join(d, name + "_model.h5")
            s = run("train", "--data.train", data, "--output.model", m, *model, *extra,
                    ranks=ranks)
            out = os.path.join(d, name + "_pred.h5")
            run("predict", m, packed, "--output.file", out, ranks=ranks)
            with h5py.File(out) as f:
                results[name] = (s["train"]["loss"], f["/scores"][:], f["/predicted"][:])
        for name in ("packed", "streamed"):
            self.assertEqual(results[name][0], results["plain"][0], name)
            np.testing.assert_array_equal(results[name][1], results["plain"][1], name)
            np.testing.assert_array_equal(results[name][2], results["plain"][2], name)
        # The configurations far from T_c are easy: better than chance by far.
        with h5py.File(packed) as f:
            agree = (results["packed"][2] == f["/labels"][:]).mean()
        self.assertGreater(agree, 0.8)


class GenerationInRounds(unittest.TestCase):
    """--run.max-memory writes the rows in rounds as they are generated: the same file, bit for
    bit, as all rows at once, at 1 and 3 ranks (3: blocks of chains that do not divide)."""

    def test_rounds_give_the_same_bits_as_one_write(self):
        d = scratch(self)
        common = ("--lattice.size", "16", "--temperatures.count", "5",
                  "--samples.per-temperature", "60", "--samples.chains-per-temperature", "3")
        # 32 + 28 bytes a configuration: 1k holds 17 of them, so rank 0 writes in 6+ rounds.
        whole, s0 = generate(d, "whole.h5", *common, "--run.max-memory", "0", ranks=1)
        rounds, s1 = generate(d, "rounds.h5", *common, "--run.max-memory", "1k", ranks=3)
        self.assertEqual(s0["result"]["rounds"], 1)
        self.assertGreater(s1["result"]["rounds"], 5)
        for s in (s0, s1):
            self.assertGreater(s["result"]["peak_rss_bytes"], 1e6)
        self.assertEqual(len(s1["result"]["peak_rss_bytes_per_rank"]), 3)
        with h5py.File(whole) as a, h5py.File(rounds) as b:
            for name in ("/features", "/temperature", "/labels", "/energy", "/magnetization"):
                np.testing.assert_array_equal(a[name][:], b[name][:], name)


class StreamedTrainingMemory(unittest.TestCase):
    """With --data.max-memory well below the data, train streams and its peak resident memory
    stays within the cap + the model + the epoch's permutation (8 bytes a row) + what the same
    training takes on a tiny file (the process's fixed allowance), + 8 MiB of slack; held in
    memory, the same data need more. Memory, never speed, is asserted."""

    def test_peak_memory_of_a_streaming_run_is_bounded_by_the_cap(self):
        d = scratch(self)
        big, _ = generate(d, "big.h5", "--lattice.size", "32", "--temperatures.count", "4",
                          "--samples.per-temperature", "40000", "--algorithm.choice",
                          "metropolis", "--sampling.pilot-steps", "400")
        tiny, _ = generate(d, "tiny.h5", "--lattice.size", "32", "--temperatures.count", "4",
                           "--samples.per-temperature", "250", "--algorithm.choice",
                           "metropolis", "--sampling.pilot-steps", "400")
        model = ["--model.layers", "dense 64 relu, dense 2", "--model.loss", "cross_entropy",
                 "--train.epochs", "1", "--train.batch", "128"]
        cap = 1 << 20

        def train(name, data, *extra):
            return run("train", "--data.train", data, "--output.model",
                       os.path.join(d, name + "_model.h5"), *model, *extra, ranks=2)

        base = train("tiny", tiny)
        streamed = train("streamed", big, "--data.max-memory", str(cap))
        cached = train("cached", big)
        self.assertFalse(base["streamed"])
        self.assertTrue(streamed["streamed"])
        self.assertTrue(streamed["overlapped"])
        self.assertFalse(cached["streamed"])
        rows = 160000
        model_bytes = 32 * streamed["parameters"]  # parameters, gradients, 2 moments, reducer
        bound = base["peak_rss_bytes"] + cap + model_bytes + 8 * rows + (8 << 20)
        self.assertLess(streamed["peak_rss_bytes"], bound, (base, streamed))
        # The records alone are 132 bytes a row (80000 a rank: 10.6 MB) held in memory.
        self.assertGreater(cached["peak_rss_bytes"], streamed["peak_rss_bytes"] + 8e6)
        self.assertEqual(streamed["train"]["loss"], cached["train"]["loss"])


def binder(m):
    return 1 - (m ** 4).mean() / (3 * (m ** 2).mean() ** 2)


class BinderCrossing(unittest.TestCase):
    def test_cumulants_of_16_32_64_cross_near_tc(self):
        # Wolff on 8 temperatures from 2.20 to 2.34, 2000 samples each: about 15 s on 2 ranks.
        # (bench/ising/binder.py runs the same with more samples and prints the curves.)
        d = scratch(self)
        curves = {}
        for L in (16, 32, 64):
            out, _ = generate(d, "L%d.h5" % L, "--lattice.size", str(L), "--temperatures.min",
                              "2.20", "--temperatures.max", "2.34", "--temperatures.count",
                              "8", "--samples.per-temperature", "2000",
                              "--algorithm.choice", "wolff", "--run.seed", "13")
            with h5py.File(out) as f:
                t, m = f["/temperature"][:], f["/magnetization"][:]
                temps = f["/ising/temperatures"][:]
            curves[L] = (temps, np.array([binder(m[t == x]) for x in temps]))
        for small, large in ((16, 32), (32, 64), (16, 64)):
            temps, u1 = curves[small]
            diff = u1 - curves[large][1]
            # Above T_c the larger lattice's cumulant falls faster; below, it is larger.
            self.assertLess(diff[0], 0, (small, large, diff))
            self.assertGreater(diff[-1], 0, (small, large, diff))
            i = int(np.nonzero(np.diff(np.sign(diff)))[0][0])
            cross = temps[i] - diff[i] * (temps[i + 1] - temps[i]) / (diff[i + 1] - diff[i])
            self.assertLess(abs(cross - TC), 0.02, "L = %d / %d cross at %.4f" %
                            (small, large, cross))


if __name__ == "__main__":
    unittest.main()
