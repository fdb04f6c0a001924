"""The walk-through docs/fc/walkthrough.md follows the program: scripts/docs/walkthrough.sh runs
its commands on the GaN data of scripts/data/make_crystals.py (CTest fixture crystal_data), and
  * every command of the page's `sh` blocks (lines starting with physfit, mpirun, phonopy or
    phonopy-load; `\\` continuations joined, whitespace normalised) is in the script, word for
    word (the page's `shell` blocks, VASP, Quantum ESPRESSO, Slurm and phono3py, are not run);
  * the script runs to the end (exit 0) in a scratch folder, writes the model, the exports and
    the two figures, and every line of output the page quotes (its `text` blocks; `...` ends a
    quoted prefix) is in what the commands printed, numbers within 0.2 % (or 1e-4: the last
    digits of a LASSO path may differ with the compiler; acoustic modes at Gamma are noise).
PHYSFIT_BIN, PHYSFIT_CRYSTAL_DATA, PHYSFIT_TEST_SCRATCH come from CTest's environment."""

import os
import re
import shutil
import subprocess
import unittest

from harness import SCRATCH, SOURCE

PAGE = os.path.join(SOURCE, "docs", "fc", "walkthrough.md")
SCRIPT = os.path.join(SOURCE, "scripts", "docs", "walkthrough.sh")
COMMANDS = ("physfit ", "mpirun ", "phonopy ", "phonopy-load ")
NUMBER = re.compile(r"([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)")


def blocks(text, language):
    """The contents of the page's fenced blocks of a language."""
    return re.findall(r"^```%s\n(.*?)^```" % language, text, flags=re.S | re.M)


def joined_lines(text):
    """Lines with `\\` continuations joined and whitespace normalised."""
    return [" ".join(line.split()) for line in text.replace("\\\n", " ").split("\n")]


def same_output(quoted, printed):
    """A quoted line (a prefix when it ends with '...') against a printed one: the same words,
    numbers within 0.2 % or 1e-4."""
    quoted = " ".join(quoted.split())
    printed = " ".join(printed.split())
    prefix = quoted.endswith("...")
    if prefix:
        quoted = quoted[:-3].rstrip()
    q, p = NUMBER.split(quoted), NUMBER.split(printed)
    if prefix:
        # Compare as many pieces as the quote has; its last text piece is a prefix.
        if len(p) < len(q):
            return False
        p = p[:len(q)]
        if len(q) % 2 == 1 and not p[-1].startswith(q[-1]):
            return False
        q, p = q[:-1], p[:-1]
    if len(q) != len(p):
        return False
    for k, (a, b) in enumerate(zip(q, p)):
        if k % 2 == 0:
            if a != b:
                return False
        else:
            x, y = float(a), float(b)
            if abs(x - y) > max(2e-3 * max(abs(x), abs(y)), 1e-4):
                return False
    return True


class Commands(unittest.TestCase):
    def test_the_pages_commands_are_the_scripts(self):
        with open(PAGE) as f:
            page = f.read()
        with open(SCRIPT) as f:
            script = "\n".join(joined_lines(f.read()))
        commands = [line for block in blocks(page, "sh") for line in joined_lines(block)
                    if line.startswith(COMMANDS)]
        self.assertGreater(len(commands), 10)
        for command in commands:
            self.assertTrue(command in script, "a command of the page is not in %s:\n%s"
                            % (SCRIPT, command))
        # The INI file the page shows is the one in inputs/, key for key.
        with open(os.path.join(SOURCE, "inputs", "fc_gan.ini")) as f:
            ini = [line for line in joined_lines(f.read()) if line and not line.startswith("#")]
        shown = [line for line in joined_lines(blocks(page, "ini")[0]) if line]
        self.assertEqual(shown, ini)

    def test_the_script_runs_and_prints_what_the_page_quotes(self):
        out = os.path.join(SCRATCH, "test_walkthrough")
        shutil.rmtree(out, ignore_errors=True)
        r = subprocess.run([SCRIPT, "--out", out], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        printed = (r.stdout + r.stderr).split("\n")
        gan = os.path.join(out, "results", "gan")
        for name in ("gan_fc.h5", "gan_bands.png", "gan_bands_nac.png", "export/phonopy.yaml",
                     "export/FORCE_CONSTANTS", "export/fc3.hdf5", "export/BORN"):
            self.assertTrue(os.path.isfile(os.path.join(gan, name)), name)
        for name in ("gan_bands.png", "gan_bands_nac.png"):
            with open(os.path.join(gan, name), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        with open(PAGE) as f:
            quotes = [line for block in blocks(f.read(), "text") for line in block.split("\n")
                      if line.strip()]
        self.assertGreater(len(quotes), 20)
        for quote in quotes:
            self.assertTrue(any(same_output(quote, line) for line in printed),
                            "the page quotes a line the commands did not print:\n" + quote)


if __name__ == "__main__":
    unittest.main()
