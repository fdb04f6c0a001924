"""The user's guide and the code agree: every key a command accepts (its `--help`) is in the
key table of the command's page in docs/commands/, and every key a table lists is one the
command accepts; the tables' types, defaults and meanings are the code's
(scripts/docs/options.py --check); every dotted option the README or any page of docs/ names
(`--fit.l1-ratio`) is one some command accepts; a former spelling is refused with its new name
on the command line and in an INI file; nothing user-facing speaks of issues. And the rules the
guide states: paths in an INI file are relative to the file's folder, an error about a path
names its key, default outputs go to results/ (made if missing, removed again if the run fails
and it stays empty). Run by CTest with PHYSFIT_BIN and PHYSFIT_SOURCE_DIR in the environment."""

import glob
import os
import re
import shutil
import subprocess
import unittest

import h5py
import numpy as np

from harness import BIN, MPIEXEC, SOURCE, scratch

DOCS = os.path.join(SOURCE, "docs")
COMMANDS = ["import", "fc", "phonons", "lasso", "train", "evaluate", "predict", "plot",
            "inspect", "selfcheck", "generate", "transition"]


def read(path):
    with open(path) as f:
        return f.read()


def help_text(command):
    return subprocess.run([BIN, command, "--help"], check=True, capture_output=True,
                          text=True).stdout


def code_keys(command):
    return set(re.findall(r"^  --([a-z0-9][a-z0-9.-]*)", help_text(command), re.M))


def table_keys(page, name):
    text = read(page)
    m = re.search(r"<!-- keys: %s -->\n(.*?)<!-- end keys -->" % re.escape(name), text, re.S)
    if not m:
        return None
    return set(re.findall(r"^\| `--([a-z0-9][a-z0-9.-]*)` \|", m.group(1), re.M))


class KeysMatchTheCode(unittest.TestCase):
    def test_every_command_has_a_page_with_all_its_keys(self):
        common = table_keys(os.path.join(DOCS, "commands", "README.md"), "common")
        self.assertTrue(common and {"config", "log-level", "json"} <= common, common)
        for command in COMMANDS:
            with self.subTest(command=command):
                page = os.path.join(DOCS, "commands", command + ".md")
                self.assertTrue(os.path.exists(page), "no page " + page)
                documented = table_keys(page, command)
                self.assertIsNotNone(documented, page + ": no key table")
                keys = code_keys(command)
                self.assertGreater(len(keys), len(common), command)
                self.assertEqual(sorted(keys - common - documented), [],
                                 "keys of 'physfit %s' missing from %s" % (command, page))
                self.assertEqual(sorted(documented - keys), [],
                                 "%s names keys 'physfit %s' lacks" % (page, command))
                self.assertEqual(sorted(common - keys), [],
                                 "common keys 'physfit %s' lacks" % command)

    def test_tables_hold_the_codes_types_defaults_and_meanings(self):
        r = subprocess.run(["/usr/bin/python3", os.path.join(SOURCE, "scripts", "docs", "options.py"),
                            BIN, "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_every_dotted_option_the_guide_names_exists(self):
        known = set()
        for command in COMMANDS:
            known |= code_keys(command)
        pages = [os.path.join(SOURCE, "README.md")] + glob.glob(
            os.path.join(DOCS, "**", "*.md"), recursive=True)
        for page in pages:
            text = read(page)
            for key in set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*\.[a-z][a-z0-9-]*)", text)):
                with self.subTest(page=os.path.relpath(page, SOURCE), key=key):
                    self.assertIn(key, known)

    def test_nothing_user_facing_speaks_of_issues(self):
        texts = {"physfit --help": subprocess.run([BIN, "--help"], capture_output=True,
                                                  text=True).stdout}
        for command in COMMANDS:
            texts["physfit %s --help" % command] = help_text(command)
        for page in [os.path.join(SOURCE, "README.md")] + glob.glob(
                os.path.join(DOCS, "**", "*.md"), recursive=True) + glob.glob(
                os.path.join(SOURCE, "inputs", "*.ini")):
            texts[os.path.relpath(page, SOURCE)] = read(page)
        for where, text in texts.items():
            with self.subTest(where=where):
                self.assertIsNone(re.search(r"\bissues? \d+", text, re.I))


class FormerSpellings(unittest.TestCase):
    def test_refused_with_the_new_name(self):
        d = scratch(self)
        ini = os.path.join(d, "old.ini")
        with open(ini, "w") as f:
            f.write("[fit]\nl1_ratio = 0.5\n")
        for args, fragment in [
                (["fc", "--cutoffs", "3"], "did you mean '--clusters.cutoffs'?"),
                (["phonons", "--fc", "x.h5"], "did you mean '--input.fc'?"),
                (["selfcheck", "--rows", "10"], "did you mean '--check.rows'?"),
                (["lasso", "--solver.max_epochs", "5"], "did you mean '--solver.max-epochs'?"),
                (["lasso", ini], "did you mean 'l1-ratio' in section [fit]?")]:
            with self.subTest(args=args):
                r = subprocess.run([BIN] + args, cwd=d, capture_output=True, text=True,
                                   timeout=300)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(fragment, r.stderr)
                self.assertIn("renamed", r.stderr)
        self.assertEqual(sorted(os.listdir(d)), ["old.ini"])


def run_in(folder, *args, ranks=None):
    command = ([MPIEXEC, "-n", str(ranks)] if ranks else []) + [BIN] + [str(a) for a in args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)


class PathsAndDefaultOutputs(unittest.TestCase):
    def test_ini_paths_are_relative_to_the_ini_file(self):
        d = scratch(self)
        sub = os.path.join(d, "project")
        os.makedirs(sub)
        rng = np.random.default_rng(3)
        a = rng.standard_normal((40, 5))
        y = a @ np.array([1.0, -2.0, 0.0, 0.5, 3.0])
        with h5py.File(os.path.join(sub, "ab.h5"), "w") as f:
            f["A"], f["y"] = a, y
        with open(os.path.join(sub, "run.ini"), "w") as f:
            f.write("[input]\nfile = ab.h5\n[fit]\ntask = fit\nmethod = ols\n"
                    "[output]\nfile = out/fit.h5\n")
        for ranks in (None, 2):
            with self.subTest(ranks=ranks):
                shutil.rmtree(os.path.join(sub, "out"), ignore_errors=True)
                r = run_in(d, "lasso", "project/run.ini", ranks=ranks)
                self.assertEqual(r.returncode, 0, r.stderr)
                # next to the INI file (its folder made), nothing in the current folder
                with h5py.File(os.path.join(sub, "out", "fit.h5"), "r") as f:
                    x = f["/lasso/fit/coef"][()]
                np.testing.assert_allclose(x, [1.0, -2.0, 0.0, 0.5, 3.0], atol=1e-10)
                self.assertEqual(sorted(os.listdir(d)), ["project"])
        # The command line's paths stay relative to the current folder.
        r = run_in(d, "lasso", "project/run.ini", "--output.file", "here.h5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(d, "here.h5")))

    def test_a_missing_input_is_named_by_its_key(self):
        d = scratch(self)
        os.makedirs(os.path.join(d, "cfg"))
        with open(os.path.join(d, "cfg", "run.ini"), "w") as f:
            f.write("[input]\ndata = nothere.h5\n[clusters]\ncutoffs = 3\n")
        for ranks in (None, 2):
            with self.subTest(ranks=ranks):
                r = run_in(d, "fc", "cfg/run.ini", ranks=ranks)
                self.assertEqual(r.returncode, 4, r.stderr)
                self.assertIn("--input.data 'cfg/nothere.h5'", r.stderr)
                self.assertIn("No such file", r.stderr)
        r = run_in(d, "phonons", "--input.fc", "cfg")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("--input.fc 'cfg' is a folder", r.stderr)
        self.assertEqual(sorted(os.listdir(d)), ["cfg"])

    def test_default_outputs_go_to_results(self):
        d = scratch(self)
        r = run_in(d, "selfcheck", "--check.rows", 20, "--check.iterations", 1, ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.listdir(os.path.join(d, "results")), ["selfcheck.h5"])
        # A failed run leaves no folder it made.
        e = os.path.join(d, "failed")
        os.makedirs(e)
        r = run_in(e, "selfcheck", "--check.rows", 20, "--inject.rank", 1, "--inject.kind", "io",
                   ranks=2)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertEqual(os.listdir(e), [])


if __name__ == "__main__":
    unittest.main()
