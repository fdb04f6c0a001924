"""physfit under a real Slurm: scripts/slurm/local-cluster.sh starts a single-node cluster,
jobs are submitted with scripts/slurm/physfit.sbatch. Needs root (slurmd) and Debian's Slurm
and munge packages (scripts/setup.sh). Run by CTest with PHYSFIT_BIN and
PHYSFIT_TEST_SCRATCH in the environment."""

import os
import re
import shutil
import subprocess
import time
import unittest

import h5py

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CLUSTER = os.path.join(ROOT, "scripts", "slurm", "local-cluster.sh")
JOB = os.path.join(ROOT, "scripts", "slurm", "physfit.sbatch")
BIN = os.environ.get("PHYSFIT_BIN", "physfit")
SCRATCH = os.path.join(os.environ.get("PHYSFIT_TEST_SCRATCH", "/tmp/physfit-tests"), "slurm")


def read(path):
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read()


def run(*command, env=None, timeout=120):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


class SlurmJobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(SCRATCH, ignore_errors=True)
        os.makedirs(SCRATCH)
        cls.state = os.path.join(SCRATCH, "cluster")
        r = run(CLUSTER, "start", cls.state)
        if r.returncode != 0:
            raise RuntimeError("cannot start the local Slurm cluster:\n" + r.stdout + r.stderr)
        cls.env = dict(os.environ, SLURM_CONF=os.path.join(cls.state, "slurm.conf"),
                       PHYSFIT_BIN=BIN)

    @classmethod
    def tearDownClass(cls):
        run(CLUSTER, "stop", cls.state)

    def submit(self, name, *args, tasks=2, wait=True, env=None, sbatch=(), script=JOB):
        out = os.path.join(SCRATCH, name + ".out")
        command = ["sbatch", "--parsable", "-n", str(tasks), "-o", out, "-D", SCRATCH, *sbatch]
        if wait:
            command.append("--wait")
        r = run(*command, script, *[str(a) for a in args], env=dict(self.env, **(env or {})),
                timeout=600 if wait else 120)
        job = r.stdout.strip().split(";")[0]
        return r, job, out

    def job_field(self, job, field):
        r = run("scontrol", "show", "job", job, env=self.env)
        match = re.search(r"\b%s=(\S+)" % field, r.stdout)
        return match.group(1) if match else None

    def wait_for_text(self, path, text, count=1, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if read(path).count(text) >= count:
                return
            time.sleep(0.1)
        self.fail("'%s' did not appear %d times in %s" % (text, count, path))

    def test_a_job_runs_physfit_on_two_ranks_with_srun(self):
        h5 = os.path.join(SCRATCH, "srun.h5")
        r, job, out = self.submit("srun", "selfcheck", "--output.file", h5, "--check.rows", 500)
        self.assertEqual(r.returncode, 0, read(out))
        text = read(out)
        self.assertIn("selfcheck: 2 ranks on 1 host(s)", text)
        # The log is stamped with the version, the host and the ranks.
        version = run(BIN, "--version").stdout.splitlines()[0]
        self.assertIn("physfit job: " + version, text)
        self.assertIn("on %s (nodes " % os.uname().nodename, text)
        self.assertIn(", 2 ranks, launcher srun --mpi=pmix)", text)
        with h5py.File(h5, "r") as f:
            self.assertEqual(f["/physfit"].attrs["ranks"], 2)

    def test_the_ising_example_runs_as_a_job(self):
        # inputs/ising/ising.sbatch runs inputs/ising/run.sh with srun: the small example.
        folder = os.path.join(SCRATCH, "ising")
        example = os.path.join(ROOT, "inputs", "ising")
        r, job, out = self.submit("ising", "--small", "--out", folder,
                                  script=os.path.join(example, "ising.sbatch"),
                                  env={"PHYSFIT_ISING_RUN": os.path.join(example, "run.sh")})
        self.assertEqual(r.returncode, 0, read(out))
        text = read(out)
        self.assertIn("physfit-ising job %s (run 1) on 2 tasks" % job, text)
        self.assertIn("P(ordered) = 1/2 at T = ", text)
        with h5py.File(os.path.join(folder, "transition_mlp.h5"), "r") as f:
            self.assertEqual(f["/physfit"].attrs["ranks"], 2)
            self.assertLess(abs(f["/transition/crossing"][0] - 2.3166), 0.05)
        with h5py.File(os.path.join(folder, "mlp_L16_0.h5"), "r") as f:
            self.assertEqual(f["/physfit"].attrs["ranks"], 2)

    def test_a_job_can_launch_with_mpirun(self):
        h5 = os.path.join(SCRATCH, "mpirun.h5")
        env = {"PHYSFIT_LAUNCHER": "mpirun", "OMPI_ALLOW_RUN_AS_ROOT": "1",
               "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
        r, job, out = self.submit("mpirun", "selfcheck", "--output.file", h5, "--check.rows", 500, env=env)
        self.assertEqual(r.returncode, 0, read(out))
        with h5py.File(h5, "r") as f:
            self.assertEqual(f["/physfit"].attrs["ranks"], 2)

    def test_a_failed_run_ends_the_job_with_its_code_and_is_not_requeued(self):
        r, job, out = self.submit("failure", "selfcheck", "--output.file", os.path.join(SCRATCH, "f.h5"),
                                  "--check.rows", 100, "--inject.rank", 1, "--inject.kind", "io")
        self.assertEqual(r.returncode, 4, read(out))
        self.assertEqual(self.job_field(job, "Restarts"), "0")
        self.assertEqual(self.job_field(job, "ExitCode"), "4:0")

    def test_a_stop_signal_checkpoints_and_requeues_the_job(self):
        h5 = os.path.join(SCRATCH, "stop.h5")
        r, job, out = self.submit("stop", "selfcheck", "--output.file", h5, "--check.rows", 2000,
                                  "--check.iterations", 1000000, "--check.delay", 0.02, wait=False,
                                  env={"PHYSFIT_REQUEUES": "1"})
        self.assertEqual(r.returncode, 0, r.stderr)
        for run_number in (1, 2):
            self.wait_for_text(out, "physfit job %s (run %d)" % (job, run_number), seconds=240)
            self.wait_for_text(out, "selfcheck: 2 ranks", count=run_number)  # the ranks are up
            time.sleep(1)
            # What Slurm does before the time limit with --signal=B:USR1@120.
            run("scancel", "--signal=USR1", "--batch", job, env=self.env)
            if run_number == 1:
                self.wait_for_text(out, "requeueing the job to continue")
                # Slurm holds a requeued job until the credential of its previous run has
                # expired (cred_expire, 20 s on the test cluster; starting it earlier kills it:
                # "Job credential revoked"), then its main scheduler (every 2 s) starts it. The
                # next run's first line is the event waited for; the bound only ends a hang.
        self.wait_for_text(out, "requeue limit (1) reached", seconds=120)
        deadline = time.monotonic() + 120
        while self.job_field(job, "JobState") not in ("FAILED", "COMPLETED"):
            self.assertLess(time.monotonic(), deadline, "the job did not end")
            time.sleep(0.2)
        text = read(out)
        self.assertEqual(text.count("stopped by SIGUSR1 after iteration"), 2, text)
        self.assertIn("requeue limit (1) reached: not requeued", text)
        self.assertEqual(self.job_field(job, "Restarts"), "1")
        self.assertEqual(self.job_field(job, "ExitCode"), "3:0")
        with h5py.File(h5, "r") as f:  # the checkpoint the second run wrote
            self.assertGreater(int(f["/selfcheck/data"].attrs["iterations_done"]), 0)

    def assert_ended_with_three_and_a_checkpoint(self, job, out, h5):
        """Waits for the job's end: ExitCode 3:0, never restarted, and the checkpoint in `h5`
        that a resubmitted job continues from."""
        deadline = time.monotonic() + 120
        while self.job_field(job, "JobState") not in ("FAILED", "COMPLETED"):
            self.assertLess(time.monotonic(), deadline, "the job did not end")
            time.sleep(0.2)
        self.assertEqual(self.job_field(job, "ExitCode"), "3:0", read(out))
        self.assertEqual(self.job_field(job, "Restarts"), "0")
        with h5py.File(h5, "r") as f:
            self.assertGreater(int(f["/selfcheck/data"].attrs["iterations_done"]), 0)

    def stopped_job(self, name, launcher_env, signal, batch):
        """Starts a long selfcheck job that is not requeued, sends `signal` through scancel once
        its ranks are up (to the batch shell, or to the job's steps), waits for its end and
        returns its output."""
        h5 = os.path.join(SCRATCH, name + ".h5")
        r, job, out = self.submit(name, "selfcheck", "--output.file", h5, "--check.rows", 2000,
                                  "--check.iterations", 1000000, "--check.delay", 0.02, wait=False,
                                  env=dict(launcher_env, PHYSFIT_REQUEUES="0"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_for_text(out, "selfcheck: 2 ranks", seconds=240)  # the ranks are up
        run("scancel", "--signal=" + signal, *(["--batch"] if batch else []), job, env=self.env)
        self.wait_for_text(out, "requeue limit (0) reached", seconds=120)
        self.assert_ended_with_three_and_a_checkpoint(job, out, h5)
        return read(out)

    def test_train_jobs_resume_and_the_command_line_decides(self):
        # The data is missing: the run ends at once with 4, after the script has stamped the
        # command it launched.
        missing = os.path.join(SCRATCH, "missing.h5")
        r, job, out = self.submit("train_resume", "train", "--data.train", missing)
        self.assertEqual(r.returncode, 4, read(out))
        self.assertIn("train --data.train %s --train.resume auto\n" % missing, read(out))
        r, job, out = self.submit("train_noresume", "train", "--data.train", missing,
                                  "--train.resume", "other.h5")
        self.assertEqual(r.returncode, 4, read(out))
        self.assertNotIn("auto", read(out))

    def test_a_refused_requeue_ends_the_job_with_code_three_and_an_error(self):
        h5 = os.path.join(SCRATCH, "norequeue.h5")
        r, job, out = self.submit("norequeue", "selfcheck", "--output.file", h5, "--check.rows", 2000,
                                  "--check.iterations", 1000000, "--check.delay", 0.02, wait=False,
                                  sbatch=["--no-requeue"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.wait_for_text(out, "selfcheck: 2 ranks", seconds=240)  # the ranks are up
        self.assertIn("WARNING: Slurm will not requeue this job", read(out))
        run("scancel", "--signal=USR1", "--batch", job, env=self.env)
        self.wait_for_text(out, "ERROR: Slurm refused to requeue the job", seconds=120)
        self.assert_ended_with_three_and_a_checkpoint(job, out, h5)

    def test_sigterm_to_an_mpirun_job_script_ends_the_job_with_code_three(self):
        # mpirun handles TERM itself (exit 1): the job script turns it into USR1 for mpirun.
        text = self.stopped_job("term_mpirun", {"PHYSFIT_LAUNCHER": "mpirun",
                                                "OMPI_ALLOW_RUN_AS_ROOT": "1",
                                                "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"},
                                "TERM", batch=True)
        self.assertIn("SIGTERM received: forwarding SIGUSR1 to the ranks", text)
        self.assertIn("stopped by SIGUSR1 after iteration", text)

    def test_usr2_to_the_srun_step_ends_the_job_with_code_three(self):
        # Without --batch, scancel signals the job's steps: srun passes USR2 to every rank.
        text = self.stopped_job("usr2_srun", {}, "USR2", batch=False)
        self.assertIn("stopped by SIGUSR2 after iteration", text)


if __name__ == "__main__":
    unittest.main()
