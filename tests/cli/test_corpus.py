"""The malformed-input corpus (issue 11, point 5): every case of tests/corpus/cases.tsv is one
physfit command line on one bad file (HDF5, IDX, CSV, INI, POSCAR, extended XYZ, DFSET and
ALAMODE input, phonopy YAML, FORCE_SETS, BORN, FORCE_CONSTANTS, physfit models). Each runs at 1
rank (a singleton job, as a user runs physfit without a launcher: half the CPU of mpiexec -n 1)
and at 2 ranks under mpiexec (1 only in the sanitizer build, PHYSFIT_SANITIZE=1, which runs one
case of each format a fuzzer covers), in an empty
folder holding only a previous output file, and must end:
  - with the exit code of the manifest (README's table: 2 usage, 4 malformed or unreadable input
    data, 5 numerical failure), never a signal, "internal error", or a sanitizer report;
  - with a message naming the bad file (its path as given) and holding the manifest's fragment;
  - leaving the previous output byte-identical and no new file in the folder or the corpus;
  - within a generous safety-net timeout (a hang fails the case; it is not a speed check).
One test class per group of formats, so CTest runs them in parallel."""

import os
import shlex
import shutil
import subprocess
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import BIN, MPIEXEC, SCRATCH, SOURCE

CORPUS = os.path.abspath(os.path.join(SOURCE, "tests", "corpus"))
# The sanitizer build (PHYSFIT_SANITIZE=1), where each launch costs seconds of CPU, runs the
# singleton only: the parsers' paths are the same at any rank count, and the 2-rank ending of a
# failed read (a guarded phase) is checked by the optimised build.
SANITIZE = os.environ.get("PHYSFIT_SANITIZE") == "1"
RANKS = (1,) if SANITIZE else (1, 2)
# Groups whose parser a libFuzzer harness runs under AddressSanitizer and UBSan
# (scripts/fuzz.sh, in CI): the sanitizer build runs the first case of each, for the command's
# ending of a failed read, and leaves the parser's paths to the fuzzer.
FUZZED = {"born", "csv", "dfset", "extxyz", "fc-hdf5", "force-sets", "idx", "ini",
          "phonopy-yaml", "poscar"}
PREVIOUS = b"the previous output of this command, which a failed run must keep\n"
TIMEOUT = 300  # a safety net for hangs only; a case takes well under a second


def load_cases():
    cases = []
    with open(os.path.join(CORPUS, "cases.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cid, code, culprit, fragment, command = line.rstrip("\n").split("\t")
            cases.append((cid, int(code), culprit, fragment, command))
    return cases


CASES = load_cases()


def listing(root):
    out = set()
    for d, _, files in os.walk(root):
        out.update(os.path.relpath(os.path.join(d, f), root) for f in files)
    return out


class Corpus:
    """Runs the cases whose id starts with one of GROUPS. The runs wait mostly on the launcher
    (mpiexec takes seconds to end a failed job but little CPU), so WORKERS run at once, each in
    a folder of its own; the checks do not depend on their timing."""
    GROUPS = ()
    WORKERS = 12

    def test_every_case_fails_cleanly(self):
        cases = [c for c in CASES if c[0].split("/")[0] in self.GROUPS]
        self.assertTrue(cases, "no case of %s in cases.tsv" % (self.GROUPS,))
        if SANITIZE:
            seen = set()
            for c in list(cases):
                group = c[0].split("/")[0]
                if group in FUZZED and group in seen:
                    cases.remove(c)
                seen.add(group)
        before = listing(CORPUS)
        root = os.path.join(SCRATCH, "test_corpus", type(self).__name__)
        shutil.rmtree(root, ignore_errors=True)
        runs = [(case, n, os.path.join(root, "%d-%d" % (k, n)))
                for k, case in enumerate(cases) for n in RANKS]
        with ThreadPoolExecutor(self.WORKERS) as pool:
            results = list(pool.map(lambda run: run_case(*run), runs))
        for (case, n, _), problems in zip(runs, results):
            with self.subTest(case=case[0], ranks=n):
                if problems:
                    self.fail(problems)
        self.assertEqual(listing(CORPUS), before, "files left in the corpus folder")
        shutil.rmtree(root, ignore_errors=True)


def run_case(case, ranks, folder):
    """Runs one case in `folder` (made empty); returns what went wrong ('' if nothing)."""
    cid, code, culprit, fragment, command = case
    os.makedirs(folder)
    out = os.path.join(folder, "previous.h5")
    with open(out, "wb") as f:
        f.write(PREVIOUS)
    args = [a.replace("{dir}", CORPUS).replace("{out}", out) for a in shlex.split(command)]
    try:
        launcher = [MPIEXEC, "-n", str(ranks)] if ranks > 1 else []  # 1: a singleton job
        r = subprocess.run(launcher + [BIN] + args, cwd=folder,
                           capture_output=True, text=True, errors="replace", timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "hung (no end within %d s): %s" % (TIMEOUT, " ".join(args))
    what = "\n  %s\n  exit %d: %s" % (" ".join(args), r.returncode, r.stderr[-3000:])
    problems = []
    if r.returncode < 0:
        problems.append("killed by signal %d" % -r.returncode)
    for text in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "internal error",
                 "terminate called"):
        if text in r.stderr:
            problems.append("'%s' in the output" % text)
    if r.returncode != code:
        problems.append("exit %d, expected %d" % (r.returncode, code))
    if os.path.join(CORPUS, culprit) not in r.stderr:
        problems.append("the message does not name " + culprit)
    if not fragment:
        problems.append("the manifest gives no fragment of the message")
    elif fragment not in r.stderr:
        problems.append("the message lacks '%s'" % fragment)
    left = sorted(set(os.listdir(folder)) - {"previous.h5"})
    if left:
        problems.append("files left: %s" % left)
    with open(out, "rb") as f:
        if f.read() != PREVIOUS:
            problems.append("the previous output changed")
    return "; ".join(problems) + what if problems else ""


class NeuralNetworkData(Corpus, unittest.TestCase):
    """train, evaluate, predict and import on HDF5 data and models, IDX and CSV files."""
    GROUPS = ("hdf5-train", "hdf5-model", "idx", "csv")


class ConfigurationAndLasso(Corpus, unittest.TestCase):
    """INI files of every command; lasso's (A, y) HDF5 files; inspect on broken HDF5."""
    GROUPS = ("ini", "hdf5-lasso", "inspect")


class ForceConstantData(Corpus, unittest.TestCase):
    """fc on its HDF5 data; import on POSCAR, extended XYZ, DFSET and ALAMODE inputs."""
    GROUPS = ("fc-hdf5", "poscar", "extxyz", "dfset")


class PhonopyFormats(Corpus, unittest.TestCase):
    """import on phonopy YAML and FORCE_SETS; phonons and fc on BORN, FORCE_CONSTANTS and
    physfit force-constant models."""
    GROUPS = ("phonopy-yaml", "force-sets", "born", "fc-text", "fc-model")


if __name__ == "__main__":
    unittest.main()
