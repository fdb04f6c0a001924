"""End-to-end tests of the physfit program: real mpirun, real files, h5py and h5dump reading
what physfit writes. Run by CTest (one test per class) with PHYSFIT_BIN, MPIEXEC and
PHYSFIT_TEST_SCRATCH in the environment."""

import glob
import os
import signal
import subprocess
import time
import unittest

import h5py
import numpy as np

from harness import BIN, MPIEXEC, last_json, physfit, scratch


def expected_data(rows, cols, iteration):
    return (np.arange(rows * cols, dtype=np.float64) + 0.5 * iteration).reshape(rows, cols)


class ProgramBasics(unittest.TestCase):
    def test_version_names_version_and_git_hash(self):
        r = physfit("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^physfit \d+\.\d+\.\d+ \(git ([0-9a-f]{12}(\+dirty)?|unknown)\)\n")
        self.assertIn("(parallel)", r.stdout)

    def test_help_lists_the_commands_and_exit_codes(self):
        r = physfit("--help")
        self.assertEqual(r.returncode, 0)
        for word in ("inspect", "selfcheck", "Exit codes"):
            self.assertIn(word, r.stdout)
        r = physfit()
        self.assertEqual(r.returncode, 2)
        self.assertIn("Usage:", r.stderr)

    def test_every_command_has_help(self):
        for command in ("inspect", "selfcheck"):
            r = physfit(command, "--help")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Usage: physfit " + command, r.stdout)
            self.assertIn("--json", r.stdout)
            self.assertIn("--log-level", r.stdout)

    def test_unknown_command_and_option_are_usage_errors(self):
        r = physfit("selfchek")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'selfchek' (did you mean 'selfcheck'?)", r.stderr)
        r = physfit("selfcheck", "--row", "5", ranks=2)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.count("unknown option '--row'"), 1, r.stderr)  # rank 0 only
        self.assertIn("did you mean '--check.rows'?", r.stderr)


class Selfcheck(unittest.TestCase):
    def run_selfcheck(self, ranks, rows, cols=5, iterations=2):
        d = scratch(self)
        out = os.path.join(d, "check.h5")
        r = physfit("selfcheck", "--output.file", out, "--check.rows", rows, "--check.cols", cols,
                    "--check.iterations", iterations, "--json", "--progress-interval", "0.001",
                    "--check.delay", "0.01", ranks=ranks)
        self.assertEqual(r.returncode, 0, r.stderr)
        summary = last_json(r.stdout)
        self.assertEqual(summary["status"], "ok")
        self.assertEqual(summary["exit_code"], 0)
        self.assertEqual(summary["ranks"], ranks)
        self.assertEqual(summary["result"]["iterations"], iterations)
        with h5py.File(out, "r") as f:
            np.testing.assert_array_equal(f["/selfcheck/data"][...],
                                          expected_data(rows, cols, iterations))
            p = f["/physfit"].attrs
            self.assertEqual(p["format_version"], 1)
            self.assertEqual(p["ranks"], ranks)
            self.assertEqual(p["threads"], 1)
            self.assertEqual(p["command"], "selfcheck")
            self.assertRegex(p["start_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertIn("rows = %d\n" % rows, p["config"])
            self.assertIn("[output]\nfile = %s\n" % out, p["config"])
        self.assertEqual(glob.glob(out + ".tmp-*"), [])
        return out, r

    def test_two_ranks_write_and_read_back_exact_values(self):
        out, r = self.run_selfcheck(ranks=2, rows=1000, iterations=3)
        # Not a terminal: plain progress lines on standard error, from rank 0 only.
        self.assertRegex(r.stderr, r"selfcheck: +67% 2/3, ")
        self.assertEqual(r.stderr.count("100% 3/3"), 1, r.stderr)

    def test_three_ranks_on_ten_rows_divide_unevenly(self):
        self.run_selfcheck(ranks=3, rows=10)

    def test_more_ranks_than_rows(self):
        self.run_selfcheck(ranks=4, rows=3)

    def test_output_is_readable_by_h5dump_and_inspect(self):
        out, _ = self.run_selfcheck(ranks=2, rows=20)
        r = subprocess.run(["h5dump", "-H", out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('DATASET "data"', r.stdout)
        r = physfit("inspect", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("provenance (/physfit):", r.stdout)
        self.assertIn("  ranks            2\n", r.stdout)
        self.assertRegex(r.stdout, r"/selfcheck/data +dataset  float64 \[20, 5\]")
        self.assertIn("@iterations_done = 2", r.stdout)
        r = physfit("inspect", out, "--json", ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        listing = last_json(r.stdout)["result"]
        self.assertEqual(listing["provenance"]["ranks"], 2)
        data = [o for o in listing["objects"] if o["path"] == "/selfcheck/data"][0]
        self.assertEqual(data["shape"], [20, 5])
        self.assertEqual(data["dtype"], "float64")

    def test_inspect_reports_a_missing_file(self):
        r = physfit("inspect", "/nonexistent/x.h5", "--json")
        self.assertEqual(r.returncode, 4)
        self.assertIn("--file '/nonexistent/x.h5': No such file or directory", r.stderr)
        self.assertEqual(last_json(r.stdout)["exit_code"], 4)


class Configuration(unittest.TestCase):
    def write(self, d, text):
        path = os.path.join(d, "check.ini")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_command_line_overrides_the_file(self):
        d = scratch(self)
        out = os.path.join(d, "o.h5")
        ini = self.write(d, "[check]\nrows = 40\ncols = 3\niterations = 1\n")
        r = physfit("selfcheck", ini, "--check.rows", 12, "--output.file", out, ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out, "r") as f:
            self.assertEqual(f["/selfcheck/data"].shape, (12, 3))
            config = f["/physfit"].attrs["config"]
        self.assertIn("rows = 12\n", config)
        self.assertIn("cols = 3\n", config)

    def test_unknown_key_names_file_line_and_key(self):
        d = scratch(self)
        ini = self.write(d, "[check]\nrows = 40\n# comment\niteratons = 1\n")
        r = physfit("selfcheck", ini, "--json", ranks=2)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:4: unknown key 'check.iteratons' (did you mean 'check.iterations'?)" % ini, r.stderr)
        self.assertEqual(last_json(r.stdout)["exit_code"], 2)

    def test_bad_value_names_file_line_key_and_value(self):
        d = scratch(self)
        ini = self.write(d, "[check]\nrows = -4\n")
        r = physfit("selfcheck", ini, ranks=2)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:2: bad value '-4' for check.rows: must be positive" % ini, r.stderr)
        r = physfit("selfcheck", "--check.delay", "NaN")
        self.assertEqual(r.returncode, 2)
        self.assertIn("command line: bad value 'NaN' for check.delay: expected a finite number", r.stderr)

    def test_a_required_option_can_come_from_the_file(self):
        d = scratch(self)
        table = os.path.join(d, "t.csv")
        with open(table, "w") as f:
            f.write("x,y\n1,2\n3,4\n")
        # paths relative to the file's folder
        ini = self.write(d, "[input]\nformat = csv\nfile = t.csv\n[output]\nfile = t.h5\n"
                         "[csv]\ntarget-columns = y\n")
        r = physfit("import", "--config", ini, ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(os.path.join(d, "t.h5"), "r") as f:
            np.testing.assert_array_equal(f["/targets"][...].ravel(), [2, 4])

    def test_missing_configuration_file(self):
        r = physfit("selfcheck", "/nonexistent/run.ini", ranks=2)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read configuration file '/nonexistent/run.ini'", r.stderr)

    def test_unwritable_output_leaves_nothing(self):
        d = scratch(self)
        with open(os.path.join(d, "a_file"), "w") as f:
            f.write("not a folder\n")
        r = physfit("selfcheck", "--output.file", os.path.join(d, "a_file", "dir", "o.h5"),
                    ranks=2)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("--output.file", r.stderr)
        self.assertIn("cannot create the folder '%s'" % os.path.join(d, "a_file", "dir"), r.stderr)
        self.assertEqual(os.listdir(d), ["a_file"])


class Failures(unittest.TestCase):
    def run_failing(self, ranks, kind, where, expected_code):
        d = scratch(self)
        out = os.path.join(d, "o.h5")
        start = time.monotonic()
        r = physfit("selfcheck", "--output.file", out, "--inject.rank", 1, "--inject.kind", kind,
                    "--inject.where", where, "--log-level", "debug", "--check.rows", 100,
                    ranks=ranks, timeout=30)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 10.0, "the job took %.1f s to end" % elapsed)
        self.assertEqual(r.returncode, expected_code, r.stderr)
        self.assertFalse(os.path.exists(out), "partial output under the real name")
        return r, d

    def test_a_throw_on_rank_one_ends_all_four_ranks_with_code_six(self):
        r, d = self.run_failing(4, "parallel", "guarded", 6)
        self.assertIn("[rank 1] error: failure injected on rank 1 by --inject.rank (parallel)",
                      r.stderr)
        for rank in range(4):
            self.assertIn("[rank %d] debug: exiting with code 6 (parallel)" % rank, r.stderr)
        self.assertEqual(glob.glob(os.path.join(d, "o.h5.tmp-*")), [], "temporary left behind")

    def test_every_rank_exits_with_the_code_of_the_error(self):
        r, _ = self.run_failing(3, "io", "guarded", 4)
        for rank in range(3):
            self.assertIn("[rank %d] debug: exiting with code 4 (io)" % rank, r.stderr)
        self.run_failing(2, "numerical", "guarded", 5)

    def test_an_unguarded_throw_aborts_the_job_naming_the_rank(self):
        r, _ = self.run_failing(4, "parallel", "unguarded", 6)
        self.assertIn("[rank 1] fatal: failure injected on rank 1", r.stderr)
        self.assertIn("ending all 4 ranks (MPI_Abort, code 6)", r.stderr)


class Signals(unittest.TestCase):
    def start_slow(self, out, ranks, iterations):
        return subprocess.Popen(
            [MPIEXEC, "-n", str(ranks), BIN, "selfcheck", "--output.file", out, "--check.rows", "2000",
             "--check.cols", "50", "--check.iterations", str(iterations), "--check.delay", "0.02"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def wait_for(self, pattern, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = glob.glob(pattern)
            if found:
                return found
            time.sleep(0.05)
        self.fail("nothing matched %s within %d s" % (pattern, seconds))

    def test_usr1_stops_after_the_current_iteration_with_code_three(self):
        d = scratch(self)
        out = os.path.join(d, "o.h5")
        job = self.start_slow(out, 2, 100000)
        self.wait_for(out + ".tmp-*")
        time.sleep(1.0)
        job.send_signal(signal.SIGUSR1)  # mpirun forwards USR1 to every rank
        stdout, stderr = job.communicate(timeout=30)
        self.assertEqual(job.returncode, 3, stderr)
        self.assertIn("error: stopped by SIGUSR1 after iteration", stderr)
        with h5py.File(out, "r") as f:
            done = int(f["/selfcheck/data"].attrs["iterations_done"])
            self.assertGreater(done, 0)
            self.assertLess(done, 100000)
            np.testing.assert_array_equal(f["/selfcheck/data"][...], expected_data(2000, 50, done))

    def test_a_writer_killed_mid_write_leaves_the_previous_file_intact(self):
        d = scratch(self)
        out = os.path.join(d, "o.h5")
        r = physfit("selfcheck", "--output.file", out, "--check.rows", 2000, "--check.cols", 50, "--check.iterations",
                    1, ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            before = f.read()
        job = self.start_slow(out, 2, 100000)
        temporary = self.wait_for(out + ".tmp-*")
        time.sleep(0.5)
        os.killpg(job.pid, signal.SIGKILL)  # mpirun and every rank, no chance to clean up
        job.communicate(timeout=30)
        self.assertTrue(os.path.exists(temporary[0]), "the killed writer's temporary file")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), before)
        with h5py.File(out, "r") as f:
            self.assertEqual(int(f["/selfcheck/data"].attrs["iterations_done"]), 1)
            np.testing.assert_array_equal(f["/selfcheck/data"][...], expected_data(2000, 50, 1))


if __name__ == "__main__":
    unittest.main()
