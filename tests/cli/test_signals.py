"""Every long-running command stops cleanly (issue 11, point 3): lasso, fc and phonons, stopped
by SIGUSR1 or SIGUSR2 through a real mpirun (which forwards them to every rank) or by SIGTERM
or SIGINT sent to the program itself, end with exit code 3 and a line saying what was kept and
how to continue; a previous output stays byte for byte and no temporary file is left. train is
stopped by SIGKILL at several points chosen by events (its checkpoint appearing or changing, a
log line) and `--train.resume auto` continues to the same bits as an uninterrupted run.

Signals are sent when a log line shows that the long phase has begun, never after a guessed
sleep; the long phases are sized so that they cannot end within a signal's delivery. Run by
CTest with PHYSFIT_BIN, MPIEXEC, PHYSFIT_SI_DATA, PHYSFIT_SOURCE_DIR and PHYSFIT_SANITIZE in the
environment; the sanitizer build runs the 2-rank cases only."""
import glob
import os
import re
import signal
import subprocess
import sys
import time
import unittest

import h5py
import numpy as np

from harness import BIN, MPIEXEC, SOURCE, scratch

sys.path.insert(0, os.path.join(SOURCE, "scripts", "lasso"))
from problems import Spec, generate  # noqa: E402

DATA = os.environ.get("PHYSFIT_SI_DATA", "/tmp/physfit-si")
SANITIZE = os.environ.get("PHYSFIT_SANITIZE", "0") not in ("", "0", "OFF", "FALSE")
# How each signal reaches the ranks: USR1/USR2 through mpirun (it forwards them); TERM/INT to
# the program itself (mpirun handles those itself: see the README, "Stopping a run").
CASES = [("USR2", 2), ("TERM", 1)] if SANITIZE else [("USR1", 1), ("USR2", 2), ("TERM", 1),
                                                     ("INT", 1)]
DEADLINE = 300  # a safety net against hangs only: every wait below is for an event


class Job:
    """physfit started under mpirun (ranks > 1 or a forwarded signal) or alone, its standard
    output read line by line until a pattern appears."""

    def __init__(self, args, ranks, through_mpirun):
        command = ([MPIEXEC, "-n", str(ranks)] if through_mpirun else []) + [BIN] + [
            str(a) for a in args]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, start_new_session=True)
        self.seen = []

    def wait_for_line(self, pattern):
        regex = re.compile(pattern)
        for line in self.process.stdout:
            self.seen.append(line)
            if regex.search(line):
                return line
        raise AssertionError("the program ended before a line matched %r:\n%s" %
                             (pattern, "".join(self.seen)))

    def signal(self, name):
        self.process.send_signal(getattr(signal, "SIG" + name))

    def kill(self):
        """SIGKILL to every rank, then to mpirun: no clean-up anywhere. (The ranks are in
        process groups of their own, so killing mpirun's group would leave them running.)"""
        pid = self.process.pid
        ranks = []
        for task in glob.glob("/proc/%d/task/*/children" % pid):
            with open(task) as f:
                ranks += [int(c) for c in f.read().split()]
        for rank in ranks:
            os.kill(rank, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)

    def finish(self):
        stdout, stderr = self.process.communicate(timeout=DEADLINE)
        return self.process.returncode, "".join(self.seen) + stdout, stderr


def previous_output(path):
    """A previous output of the command: a regular file whose bytes must survive the stop."""
    with open(path, "wb") as f:
        f.write(b"a previous result " + os.path.basename(path).encode())


class StopCase:
    def stop(self, args, ready, name, ranks, outputs):
        """Runs `args`, sends SIG`name` once a line matches `ready`, checks the clean stop."""
        for path in outputs:
            previous_output(path)
        before = {}
        for path in outputs:
            with open(path, "rb") as f:
                before[path] = f.read()
        forwarded = name in ("USR1", "USR2")
        job = Job(args, ranks, through_mpirun=forwarded or ranks > 1)
        job.wait_for_line(ready)
        job.signal(name)
        code, stdout, stderr = job.finish()
        self.assertEqual(code, 3, stdout + stderr)
        print("\n" + name, ranks, [line for line in stderr.splitlines() if "stopped by" in line])
        self.assertRegex(stderr, "error: stopped by SIG%s .*nothing written.*run the same "
                         "command again" % name)
        for path in outputs:
            with open(path, "rb") as f:
                self.assertEqual(f.read(), before[path], path)
            folder = os.path.dirname(path)
            self.assertEqual(glob.glob(os.path.join(folder, "*.tmp*")), [], folder)
        return stderr


class LassoStops(StopCase, unittest.TestCase):
    def setUp(self):
        self.d = scratch(self)
        self.data = os.path.join(self.d, "data.h5")
        A, y, _ = generate(Spec(rows=400, cols=60, seed=3, scale_range=3, nonzeros=8,
                                noise_exponent=-1))
        with h5py.File(self.data, "w") as f:
            f["A"], f["y"] = A, y
            f["groups"] = np.arange(400, dtype=np.int64) // 10

    def test_a_signal_stops_the_path_or_the_cross_validation_with_code_three(self):
        for k, (name, ranks) in enumerate(CASES):
            with self.subTest(signal=name, ranks=ranks):
                out = os.path.join(self.d, "fit%d.h5" % k)
                # A path far longer than a signal takes to arrive (200000 lambdas, minutes).
                stderr = self.stop(
                    ["lasso", os.path.join(SOURCE, "inputs", "lasso.ini"), "--input.file",
                     self.data, "--output.file", out, "--fit.task", "cv" if k % 2 else "path",
                     "--path.count", 200000, "--path.ratio", 1e-6, "--solver.tol", 1e-14],
                    r"lasso: \w+ mode .*reduced in", name, ranks, [out])
                self.assertRegex(stderr, r"after (the reduction|\d+ of \d+ lambdas of the "
                                 r"(path|cross-validation))")


class ForceConstantsStop(StopCase, unittest.TestCase):
    def setUp(self):
        self.d = scratch(self)

    def test_a_signal_stops_fc_before_it_writes_with_code_three(self):
        for k, (name, ranks) in enumerate(CASES):
            with self.subTest(signal=name, ranks=ranks):
                out = os.path.join(self.d, "fc%d.h5" % k)
                exports = os.path.join(self.d, "exports%d" % k)
                os.makedirs(exports, exist_ok=True)
                fcs = os.path.join(exports, "FORCE_CONSTANTS")
                # Sent when the sensitivity rows begin, or when they are done and the fit (a
                # cross-validated path of 100000 lambdas per fold) begins.
                ready = [r"fc: memory plan", r"fc: \d+ training configurations"]
                stderr = self.stop(
                    ["fc", "--input.data", os.path.join(DATA, "si64_rattle_0.01.h5"), "--configs.train", 20,
                     "--output.file", out, "--output.export-dir", exports, "--output.exports", "phonopy",
                     "--fit.method", "lasso", "--path.count", 100000, "--path.ratio", 1e-8, "--solver.tol",
                     1e-14], ready[k % 2], name, ranks, [out, fcs])
                self.assertRegex(stderr, r"(while building the sensitivity rows|after fc's \w+ "
                                 r"phase|after \d+ of \d+ lambdas of fc's fit)")


class GenerateStops(StopCase, unittest.TestCase):
    def setUp(self):
        self.d = scratch(self)

    def test_a_signal_stops_the_ising_chains_with_code_three(self):
        for k, (name, ranks) in enumerate(CASES):
            with self.subTest(signal=name, ranks=ranks):
                out = os.path.join(self.d, "ising%d.h5" % k)
                # Sent once the pilot runs are done (the last temperature's line): the chains
                # (520000 configurations of 16 x 16, seconds of work) are running.
                stderr = self.stop(["generate", "ising", "--lattice.size", 16,
                                    "--samples.per-temperature", 20000, "--output.file", out],
                                   r"generate: T = 3.5 ", name, ranks, [out])
                self.assertRegex(stderr, r"(while generating|after the pilot runs)")


class PhononsStop(StopCase, unittest.TestCase):
    def setUp(self):
        self.d = scratch(self)

    def test_a_signal_stops_the_density_of_states_with_code_three(self):
        for k, (name, ranks) in enumerate(CASES):
            with self.subTest(signal=name, ranks=ranks):
                out = os.path.join(self.d, "bands%d.h5" % k)
                png = os.path.join(self.d, "bands%d.png" % k)
                # The last line before the density of states on 160^3 q-points (minutes).
                stderr = self.stop(
                    ["phonons", "--input.fc", os.path.join(DATA, "FORCE_CONSTANTS"), "--structure.file",
                     os.path.join(DATA, "si64_phonopy.h5"), "--output.file", out, "--output.figure", png,
                     "--dos.mesh", 160], r"phonons: X ", name, ranks, [out, png])
                self.assertIn("while computing the density of states", stderr)


class TrainStops(unittest.TestCase):
    """train writes its state on SIGUSR2 through mpirun and on SIGINT (Ctrl-C) sent to it."""

    def test_usr2_and_int_write_the_state_and_exit_with_three(self):
        from test_nn import write_blobs_csv, write_config
        d = scratch(self)
        csv = os.path.join(d, "blobs.csv")
        write_blobs_csv(csv, rows=240)
        data = os.path.join(d, "blobs.h5")
        r = subprocess.run([BIN, "import", "csv", "--input.file", csv, "--csv.label-column", "kind",
                            "--output.file", data], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        for name, ranks in [("USR2", 2)] if SANITIZE else [("USR2", 2), ("INT", 1)]:
            with self.subTest(signal=name, ranks=ranks):
                ini = os.path.join(d, name + ".ini")
                out = os.path.join(d, name + ".h5")
                write_config(ini, data, out, epochs=100000, extra="checkpoint-every = 0\n")
                job = Job(["train", ini], ranks, through_mpirun=name == "USR2")
                job.wait_for_line(r"^epoch 2/")
                job.signal(name)
                code, stdout, stderr = job.finish()
                self.assertEqual(code, 3, stdout + stderr)
                self.assertRegex(stderr, "error: stopped by SIG%s in epoch \\d+ after batch "
                                 "\\d+; '%s' holds the state: continue with --train.resume"
                                 % (name, re.escape(out)))
                with h5py.File(out, "r") as f:
                    self.assertGreaterEqual(int(f["/training"].attrs["epochs_done"]), 2)
                self.assertEqual(glob.glob(out + ".tmp*"), [])


class TrainKilled(unittest.TestCase):
    """SIGKILL at points chosen by events, then `--train.resume auto`: the same bits as a run
    that was never interrupted (tests/cli/test_nn.py's model and data)."""

    def setUp(self):
        from test_nn import write_blobs_csv, write_config
        self.write_config = write_config
        self.d = scratch(self)
        csv = os.path.join(self.d, "blobs.csv")
        write_blobs_csv(csv, rows=240)
        self.data = os.path.join(self.d, "blobs.h5")
        r = subprocess.run([BIN, "import", "csv", "--input.file", csv, "--csv.label-column", "kind",
                            "--output.file", self.data], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def wait_for_checkpoint(self, job, out, after_inode=None):
        """Polls for the event: the checkpoint's temporary file exists (a write in progress:
        'during'), or `out` exists with another inode than `after_inode` (a write just ended:
        'after'). Returns which one was seen."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if glob.glob(out + ".tmp-*"):
                return "during"
            try:
                inode = os.stat(out).st_ino
                if inode != after_inode:
                    return "after"
            except FileNotFoundError:
                pass
            if job.process.poll() is not None:
                self.fail("train ended before its checkpoint: " + job.process.stderr.read())
            time.sleep(0.001)
        self.fail("no checkpoint within %d s" % DEADLINE)

    def test_sigkill_at_several_points_then_resume_auto_gives_the_same_bits(self):
        seen = []
        straight_runs = {}  # epochs -> the uninterrupted run (the same bits on any rank count)
        for ranks in [2] if SANITIZE else [1, 2]:
            for point in ["first checkpoint", "between checkpoints", "at a checkpoint write"]:
                with self.subTest(ranks=ranks, point=point):
                    name = "r%d_%s" % (ranks, point.replace(" ", "_"))
                    ini = os.path.join(self.d, name + ".ini")
                    out = os.path.join(self.d, name + ".h5")
                    every = 20 if point == "between checkpoints" else 1
                    self.write_config(ini, self.data, out, epochs=100000,
                                      extra="checkpoint-every = %d\n" % every)
                    job = Job(["train", ini, "--train.resume", "auto"], ranks, True)
                    if point == "first checkpoint":
                        seen.append(self.wait_for_checkpoint(job, out))
                    elif point == "between checkpoints":
                        job.wait_for_line(r"^epoch 23/")  # checkpoints at epochs 20 and 40
                    else:
                        job.wait_for_line(r"^epoch 2/")
                        seen.append(self.wait_for_checkpoint(job, out, os.stat(out).st_ino))
                    job.kill()
                    job.finish()
                    done = 0  # killed while its first checkpoint was written: starts afresh
                    if os.path.exists(out):
                        with h5py.File(out, "r") as f:
                            done = int(f["/training"].attrs["epochs_done"])
                    self.assertLess(done, 100000)
                    seen.append("%s: checkpoint after epoch %d" % (point, done))
                    # Continue to two epochs past the checkpoint; train as much in one go.
                    total = done + 2
                    r = subprocess.run([MPIEXEC, "-n", str(ranks), BIN, "train", ini,
                                        "--train.resume", "auto", "--train.epochs", str(total)],
                                       capture_output=True, text=True, timeout=DEADLINE)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertIn("resuming from '%s' after epoch %d" % (out, done) if done else
                                  "starting afresh", r.stdout)
                    if total not in straight_runs:
                        straight = os.path.join(self.d, "straight%d.h5" % total)
                        r = subprocess.run([MPIEXEC, "-n", str(ranks), BIN, "train", ini,
                                            "--train.epochs", str(total), "--output.model",
                                            straight], capture_output=True, text=True,
                                           timeout=DEADLINE)
                        self.assertEqual(r.returncode, 0, r.stderr)
                        straight_runs[total] = straight
                    straight = straight_runs[total]
                    with h5py.File(out, "r") as a, h5py.File(straight, "r") as b:
                        self.assertEqual(int(a["/training"].attrs["epochs_done"]), total)
                        for key in ["/model/parameters", "/history/loss", "/history/val_loss"]:
                            np.testing.assert_array_equal(a[key][...], b[key][...], key)
        print("checkpoint events seen at the kills:", seen)


if __name__ == "__main__":
    unittest.main()
