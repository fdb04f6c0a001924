"""Outputs never destroy anything (issue 11, point 1): an output that is one of the command's
inputs, or that exists and is not a regular file, is a usage error (exit 2) naming the options
and the path, before any work; the inputs keep their bytes and no temporary file is left. Real
files, every command that writes, at 1 and 2 ranks. Run by CTest (one test per class) with
PHYSFIT_BIN, MPIEXEC, PHYSFIT_SI_DATA and PHYSFIT_TEST_SCRATCH in the environment."""

import glob
import hashlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

from harness import BIN, MPIEXEC, physfit, scratch

DATA = os.environ.get("PHYSFIT_SI_DATA", "/tmp/physfit-si")
# Every case at 1 and 2 ranks; the sanitizer build (PHYSFIT_SANITIZE=1), where each run costs
# seconds, runs the 2-rank one, which takes every path the 1-rank one does and more.
RANKS = (2,) if os.environ.get("PHYSFIT_SANITIZE") == "1" else (1, 2)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Case(unittest.TestCase):
    def refused(self, args, fragments, keep, ranks=RANKS):
        """Runs `physfit args` at each rank count: exit 2, every fragment in the message, the
        files in `keep` byte-identical, no temporary file beside them."""
        before = {p: digest(p) for p in keep}
        for n in ranks:
            r = physfit(*args, ranks=n)
            self.assertEqual(r.returncode, 2, "%d ranks: %s" % (n, r.stderr))
            for fragment in fragments:
                self.assertIn(fragment, r.stderr, "%d ranks" % n)
            for p in keep:
                self.assertEqual(digest(p), before[p], "%s changed (%d ranks)" % (p, n))
                self.assertEqual(glob.glob(p + ".tmp-*"), [], "%d ranks" % n)
        return r


def write_csv(path, rows=40):
    rng = np.random.default_rng(1)
    with open(path, "w") as f:
        f.write("a,b,c,label\n")
        for _ in range(rows):
            x = rng.normal(size=3)
            f.write("%.6f,%.6f,%.6f,%d\n" % (x[0], x[1], x[2], int(x[0] > 0)))


class WithData:
    """A CSV table and the dataset imported from it, in a fresh folder."""

    def setUp(self):
        self.d = scratch(self)
        self.csv = os.path.join(self.d, "table.csv")
        write_csv(self.csv)
        self.data = os.path.join(self.d, "data.h5")
        r = physfit("import", "csv", "--input.file", self.csv, "--csv.label-column", "label", "--output.file",
                    self.data)
        self.assertEqual(r.returncode, 0, r.stderr)


class OutputIsAnInput(WithData, Case):
    """train and predict: an output path that names an input is refused."""

    def trained_model(self):
        model = os.path.join(self.d, "model.h5")
        r = physfit("train", "--data.train", self.data, "--model.layers", "dense 2",
                    "--train.epochs", 1, "--output.model", model, ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        return model

    def test_train_output_model_is_the_training_file(self):
        self.refused(["train", "--data.train", self.data, "--model.layers", "dense 2",
                      "--output.model", self.data],
                     ["--output.model", "--data.train", "'%s'" % self.data], [self.data])

    def test_train_output_model_is_the_validation_file_through_a_link(self):
        val = os.path.join(self.d, "validation.h5")
        os.link(self.data, val)  # a hard link: another name, the same inode
        link = os.path.join(self.d, "out-link.h5")
        os.symlink("data.h5", link)  # a symbolic link to it
        self.refused(["train", "--data.train", self.data, "--data.validation", val,
                      "--model.layers", "dense 2", "--output.model", link],
                     ["--output.model", "'%s'" % link, "--data."], [self.data])

    def test_predict_output_is_the_model_or_the_data(self):
        model = self.trained_model()
        self.refused(["predict", model, self.data, "--output.file", model],
                     ["--output.file", "--input.model", "'%s'" % model], [model, self.data])
        # The same file under another spelling (./, ..): the canonical path, then the inode.
        other = os.path.join(self.d, ".", "sub", "..", "data.h5")
        os.makedirs(os.path.join(self.d, "sub"))
        self.refused(["predict", model, self.data, "--output.file", other],
                     ["--output.file", "--input.data", "'%s'" % other], [model, self.data])

class OutputIsAnInputOfImportOrLasso(WithData, Case):
    """import (every format of training sets), lasso, and the configuration file of any command."""

    def test_import_output_is_the_input_in_every_format(self):
        self.refused(["import", "csv", "--input.file", self.csv, "--csv.label-column", "label",
                      "--output.file", self.csv], ["--output.file", "--input.file", "'%s'" % self.csv],
                     [self.csv])
        images = os.path.join(self.d, "images.idx")
        labels = os.path.join(self.d, "labels.idx")
        with open(images, "wb") as f:  # 2 images of 2 x 2
            f.write(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2]) + bytes(range(8)))
        with open(labels, "wb") as f:
            f.write(bytes([0, 0, 8, 1, 0, 0, 0, 2, 0, 1]))
        self.refused(["import", "idx", "--input.images", images, "--input.labels", labels, "--output.file", labels],
                     ["--output.file", "--input.labels", "'%s'" % labels], [images, labels])
        self.refused(["import", "idx", "--input.images", images, "--output.file", images],
                     ["--output.file", "--input.images", "'%s'" % images], [images])

    def test_lasso_output_is_the_input_and_two_outputs_are_one_file(self):
        path = os.path.join(self.d, "ay.h5")
        rng = np.random.default_rng(2)
        with h5py.File(path, "w") as f:
            f["A"] = rng.normal(size=(20, 4))
            f["y"] = rng.normal(size=20)
        self.refused(["lasso", "--input.file", path, "--output.file", path],
                     ["--output.file", "--input.file", "'%s'" % path], [path])
        out = os.path.join(self.d, "fit.h5")
        self.refused(["lasso", "--input.file", path, "--fit.task", "cv", "--output.file", out,
                      "--output.figure", out], ["--output.file", "--output.figure", "same file"], [path])
        self.assertFalse(os.path.exists(out))

    def test_the_configuration_file_is_an_input(self):
        ini = os.path.join(self.d, "run.ini")
        with open(ini, "w") as f:
            f.write("[check]\nrows = 8\n")
        self.refused(["selfcheck", ini, "--output.file", ini], ["--output.file", "--config", "'%s'" % ini],
                     [ini])


class NotARegularFile(Case):
    """An existing output that is a device, a folder, a FIFO or a socket is never replaced."""

    def setUp(self):
        self.d = scratch(self)
        self.csv = os.path.join(self.d, "table.csv")
        write_csv(self.csv)

    def test_devices_stay_devices(self):
        for device in ("/dev/full", "/dev/null"):
            before = os.stat(device)
            self.refused(["selfcheck", "--output.file", device],
                         ["--output.file '%s'" % device, "character device"], [self.csv])
            self.refused(["import", "csv", "--input.file", self.csv, "--csv.label-column", "label",
                          "--output.file", device], ["'%s'" % device, "character device"], [self.csv])
            after = os.stat(device)
            self.assertTrue(stat.S_ISCHR(after.st_mode))
            self.assertEqual((after.st_ino, after.st_rdev), (before.st_ino, before.st_rdev))
            self.assertEqual(glob.glob(device + ".tmp-*"), [])

    def test_folder_fifo_and_socket_are_refused(self):
        folder = os.path.join(self.d, "folder")
        os.makedirs(folder)
        fifo = os.path.join(self.d, "fifo")
        os.mkfifo(fifo)
        short = tempfile.mkdtemp(prefix="physfit-")  # a socket's path has at most 107 bytes
        sock_path = os.path.join(short, "sock")
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.bind(sock_path)
            for path, kind in ((folder, "a folder"), (fifo, "a FIFO"), (sock_path, "a socket")):
                self.refused(["selfcheck", "--output.file", path], ["'%s'" % path, kind], [self.csv])
                self.refused(["import", "csv", "--input.file", self.csv, "--csv.label-column", "label",
                              "--output.file", path], ["'%s'" % path, kind], [self.csv])
            self.assertTrue(stat.S_ISFIFO(os.stat(fifo).st_mode))
            self.assertTrue(stat.S_ISSOCK(os.stat(sock_path).st_mode))
            self.assertEqual(os.listdir(folder), [])
        finally:
            sock.close()
            shutil.rmtree(short, ignore_errors=True)

    def test_a_text_export_onto_a_folder_is_refused(self):
        # phonons --output.figure (a PNG, written by the atomic writer of text and figures).
        folder = os.path.join(self.d, "plot.png")
        os.makedirs(folder)
        fc = os.path.join(DATA, "FORCE_CONSTANTS")
        structure = os.path.join(DATA, "si64_phonopy.h5")
        self.refused(["phonons", "--input.fc", fc, "--structure.file", structure, "--output.figure", folder],
                     ["--output.figure", "'%s'" % folder, "a folder"], [fc, structure])


class ForceConstantOutputs(Case):
    """fc, its exports, phonons and the structure/force imports on the silicon data."""

    def setUp(self):
        self.d = scratch(self)

    def si(self, name):
        return os.path.join(DATA, name)

    def test_fc_output_is_the_data(self):
        data = os.path.join(self.d, "si.h5")
        with open(self.si("si64_rattle_0.01.h5"), "rb") as src, open(data, "wb") as dst:
            dst.write(src.read())
        self.refused(["fc", "--input.data", data, "--output.file", data],
                     ["--output.file", "--input.data", "'%s'" % data], [data])

    def test_an_export_would_replace_an_input(self):
        # The reference FORCE_CONSTANTS lives in the export folder the phonopy export writes to.
        ref = os.path.join(self.d, "FORCE_CONSTANTS")
        with open(self.si("FORCE_CONSTANTS"), "rb") as src, open(ref, "wb") as dst:
            dst.write(src.read())
        out = os.path.join(self.d, "fc.h5")
        self.refused(["fc", "--input.data", self.si("si64_rattle_0.01.h5"), "--configs.reference-fc2", ref,
                      "--output.file", out, "--output.export-dir", self.d, "--output.exports", "phonopy"],
                     ["--output.export-dir", "--configs.reference-fc2", "'%s'" % ref], [ref])
        self.assertFalse(os.path.exists(out))

    def test_phonons_outputs_are_not_its_inputs(self):
        fc = os.path.join(self.d, "FORCE_CONSTANTS")
        with open(self.si("FORCE_CONSTANTS"), "rb") as src, open(fc, "wb") as dst:
            dst.write(src.read())
        structure = self.si("si64_phonopy.h5")
        self.refused(["phonons", "--input.fc", fc, "--structure.file", structure, "--output.file", fc],
                     ["--output.file", "--input.fc", "'%s'" % fc], [fc, structure])
        self.refused(["phonons", "--input.fc", fc, "--structure.file", structure, "--output.figure", structure],
                     ["--output.figure", "--structure.file", "'%s'" % structure], [fc, structure])

    def test_structure_imports_do_not_replace_their_inputs(self):
        dfset = os.path.join(self.d, "DFSET")
        with open(self.si("DFSET_0.01"), "rb") as src, open(dfset, "wb") as dst:
            dst.write(src.read())
        structure = os.path.join(self.d, "si64.h5")
        with open(self.si("si64_rattle_0.01.h5"), "rb") as src, open(structure, "wb") as dst:
            dst.write(src.read())
        self.refused(["import", "dfset", "--input.file", dfset, "--structure.file", structure, "--output.file",
                      dfset], ["--output.file", "--input.file", "'%s'" % dfset], [dfset, structure])
        self.refused(["import", "dfset", "--input.file", dfset, "--structure.file", structure, "--output.file",
                      structure], ["--output.file", "--structure.file", "'%s'" % structure],
                     [dfset, structure])


class FcCommitsTogether(Case):
    """fc writes its model and exports to temporary files and renames them all at the end: an
    export that fails (a full file system, a small tmpfs here) leaves the previous model and
    exports byte-identical and no temporary file behind."""

    def setUp(self):
        self.d = scratch(self)
        self.fs = os.path.join(self.d, "fs")
        os.makedirs(self.fs)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4M", "tmpfs", self.fs],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs (needs root): " + r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", self.fs], capture_output=True)

    def fc(self, ranks):
        return physfit("fc", "--input.data", os.path.join(DATA, "si64_rattle_0.01.h5"), "--configs.train", 20,
                       "--output.file", os.path.join(self.fs, "fc.h5"), "--output.export-dir",
                       os.path.join(self.fs, "exports"), "--output.exports", "phonopy", ranks=ranks)

    def files(self):
        out = []
        for root, _, names in os.walk(self.fs):
            out += [os.path.join(root, n) for n in names if n != "filler"]
        return sorted(out)

    def test_a_failed_export_keeps_the_previous_model_and_exports(self):
        r = self.fc(2)
        self.assertEqual(r.returncode, 0, r.stderr)
        model = os.path.join(self.fs, "fc.h5")
        fcs = os.path.join(self.fs, "exports", "FORCE_CONSTANTS")
        previous = {p: digest(p) for p in self.files()}
        self.assertEqual(len(previous), 5)  # fc.h5, FORCE_CONSTANTS, phonopy.yaml, S/PPOSCAR
        # Fill the file system but for the model's size and 256 KiB: a new model fits, the
        # FORCE_CONSTANTS export after it (800 KiB) does not.
        self.assertGreater(os.path.getsize(fcs), 512 * 1024)
        st = os.statvfs(self.fs)
        free = st.f_bavail * st.f_frsize
        with open(os.path.join(self.fs, "filler"), "wb") as f:
            f.write(bytes(free - os.path.getsize(model) - 256 * 1024))
        for n in RANKS:
            r = self.fc(n)
            self.assertEqual(r.returncode, 4, "%d ranks: %s" % (n, r.stderr))
            self.assertIn("cannot write '%s': No space left on device" % fcs, r.stderr)
            self.assertEqual({p: digest(p) for p in self.files()}, previous, "%d ranks" % n)
        # With room again, the next run replaces them all.
        os.remove(os.path.join(self.fs, "filler"))
        r = self.fc(2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.files(), sorted(previous))
        self.assertNotEqual(digest(model), previous[model])  # a new model (new provenance)

    def test_an_export_onto_a_folder_is_refused_before_the_fit(self):
        r = self.fc(2)
        self.assertEqual(r.returncode, 0, r.stderr)
        yaml = os.path.join(self.fs, "exports", "phonopy.yaml")
        os.remove(yaml)
        os.makedirs(yaml)
        previous = {p: digest(p) for p in self.files()}
        for n in RANKS:
            r = self.fc(n)
            self.assertEqual(r.returncode, 2, "%d ranks: %s" % (n, r.stderr))
            self.assertIn("cannot write --output.export-dir '%s': it is a folder" % yaml, r.stderr)
            self.assertNotIn("fc: phase", r.stderr)  # refused before any work
            self.assertEqual({p: digest(p) for p in self.files()}, previous, "%d ranks" % n)


class PhononsCommitsTogether(Case):
    """phonons writes its PNG and its HDF5 file together: when the HDF5 file cannot be written,
    the previous figure stays as it was."""

    def test_a_failed_output_keeps_the_previous_figure(self):
        d = scratch(self)
        png = os.path.join(d, "bands.png")
        args = ["phonons", "--input.fc", os.path.join(DATA, "FORCE_CONSTANTS"), "--structure.file",
                os.path.join(DATA, "si64_phonopy.h5"), "--output.figure", png]
        kept = os.path.join(d, "kept")
        os.makedirs(kept)
        r = physfit(*args, "--output.file", os.path.join(kept, "bands.h5"), ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        before = digest(png)
        # A name longer than the file system allows: the HDF5 file cannot be made when the
        # outputs are written, after the figure was drawn (missing folders are made).
        too_long = os.path.join(d, "x" * 300 + ".h5")
        for n in RANKS:
            r = physfit(*args, "--figure.title", "another figure", "--output.file", too_long,
                        ranks=n)
            self.assertEqual(r.returncode, 4, "%d ranks: %s" % (n, r.stderr))
            self.assertIn("File name too long", r.stderr)
            self.assertEqual(digest(png), before, "%d ranks" % n)
            self.assertEqual(sorted(os.listdir(d)), ["bands.png", "kept"], "%d ranks" % n)


def a_dead_pid():
    """The process id of a process that has ended (and been reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


class Temporaries(Case):
    """Temporary files go on every exit path (issue 11, point 1): an error on one rank that ends
    the job through MPI_Abort removes them, and a temporary left by a process that died (SIGKILL,
    a rank killed by mpirun) is removed by the next run writing the same output when it can be
    proven dead (same host, no such process); one of a live process is kept."""

    def test_an_abort_on_one_rank_leaves_no_temporary(self):
        d = scratch(self)
        out = os.path.join(d, "check.h5")
        args = ["selfcheck", "--output.file", out, "--check.rows", 64, "--check.cols", 8]
        r = physfit(*args, ranks=2)
        self.assertEqual(r.returncode, 0, r.stderr)
        before = digest(out)
        # Rank 1 fails outside a collective phase: main ends the job with MPI_Abort while
        # rank 0 has the (parallel) temporary file and the lock file open.
        r = physfit(*args, "--inject.rank", 1, "--inject.where", "unguarded", "--inject.kind", "io",
                    ranks=2)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("outside a collective phase", r.stderr)
        self.assertIn("MPI_Abort", r.stderr)
        self.assertEqual(os.listdir(d), ["check.h5"])  # no .tmp-*, no .lock
        self.assertEqual(digest(out), before)

    def test_stale_temporaries_of_dead_processes_are_removed(self):
        d = scratch(self)
        csv = os.path.join(d, "table.csv")
        write_csv(csv)
        out = os.path.join(d, "data.h5")
        host = socket.gethostname()
        dead = a_dead_pid()
        with self.assertRaises(ProcessLookupError):
            os.kill(dead, 0)
        stale = out + ".tmp-%d-%s" % (dead, host)
        kept = [out + ".tmp-%d-%s" % (os.getpid(), host),  # a live process (this one)
                out + ".tmp-%d-another.host" % dead,          # another host: cannot tell
                out + ".tmp-%d" % dead]                       # not a name physfit makes
        for n in RANKS:
            for p in [stale] + kept:
                with open(p, "wb") as f:
                    f.write(b"partial")
            r = physfit("import", "csv", "--input.file", csv, "--csv.label-column", "label", "--output.file",
                        out, ranks=n)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sorted(os.listdir(d)),
                             sorted(["table.csv", "data.h5"] + [os.path.basename(p) for p in kept]))


class OneWriter(Case):
    """Two jobs writing the same output (issue 11, point 1): while the first writes it holds
    OUTPUT.lock; the second fails at once with exit 4 naming the file and the holder, or, with
    --output-lock wait, waits until the first has finished and then writes."""

    def test_a_second_job_fails_at_once_or_waits(self):
        d = scratch(self)
        out = os.path.join(d, "check.h5")
        small = ["--check.rows", 16, "--check.cols", 4]
        # The first job runs until it is told to stop (SIGUSR1: it stops, commits, exits 3).
        first = subprocess.Popen([BIN, "selfcheck", "--output.file", out, "--check.iterations", "1000000",
                                  "--check.delay", "0.01"] + [str(a) for a in small],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        waiting = None
        try:
            # Its first log line comes after the lock is taken (before any work).
            self.assertIn("selfcheck:", first.stdout.readline())
            with open(out + ".lock") as f:
                self.assertEqual(f.read(), "%s %d\n" % (socket.gethostname(), first.pid))
            for n in RANKS:
                r = physfit("selfcheck", "--output.file", out, *small, ranks=n)
                self.assertEqual(r.returncode, 4, "%d ranks: %s" % (n, r.stderr))
                self.assertIn("cannot write '%s': another job is writing it (process %d on host "
                              "%s holds '%s.lock')" % (out, first.pid, socket.gethostname(), out),
                              r.stderr)
                self.assertIn("--output-lock wait", r.stderr)
                self.assertNotIn("selfcheck:", r.stdout)  # refused before any work
            self.assertIsNone(first.poll())
            self.assertFalse(os.path.exists(out))  # the first has not committed yet
            waiting = subprocess.Popen(
                [MPIEXEC, "-n", str(RANKS[-1]), BIN, "selfcheck", "--output.file", out,
                 "--output-lock", "wait", "--check.iterations", "2"] + [str(a) for a in small],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = waiting.stdout.readline()
            while line and "waiting for" not in line:
                line = waiting.stdout.readline()
            self.assertIn("waiting for process %d on host %s to finish writing '%s'"
                          % (first.pid, socket.gethostname(), out), line)
            first.send_signal(signal.SIGUSR1)
            _, err = first.communicate(timeout=120)
            self.assertEqual(first.returncode, 3, err)
            out_text, err = waiting.communicate(timeout=120)
            self.assertEqual(waiting.returncode, 0, out_text + err)
            with h5py.File(out, "r") as f:  # then the waiting job's
                self.assertEqual(f["selfcheck/data"].attrs["iterations_done"], 2)
            self.assertEqual(os.listdir(d), ["check.h5"])  # no lock file, no temporary
        finally:
            for p in (first, waiting):
                if p is not None and p.poll() is None:
                    p.kill()
                    p.wait()


class FullDisk(WithData, Case):
    """A full file system (issue 11, point 2): every command that writes ends with exit 4 and a
    message in physfit's words (the file and "No space left on device", none of HDF5's raw
    fields), on 1 and 2 ranks, without a signal or a core; the previous output stays
    byte-identical and no temporary or lock file is left. A small tmpfs is filled to the last
    byte; the inputs live outside it."""

    def setUp(self):
        super().setUp()
        self.fs = os.path.join(self.d, "fs")
        os.makedirs(self.fs)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", self.fs],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs (needs root): " + r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", self.fs], capture_output=True)

    def test_every_command_that_writes_fails_cleanly_on_a_full_disk(self):
        d, fs = self.d, self.fs
        si = lambda name: os.path.join(DATA, name)  # noqa: E731
        model = os.path.join(d, "model.h5")
        r = physfit("train", "--data.train", self.data, "--model.layers", "dense 2",
                    "--train.epochs", 1, "--output.model", model)
        self.assertEqual(r.returncode, 0, r.stderr)
        images = os.path.join(d, "images.idx")
        with open(images, "wb") as f:  # 2 images of 2 x 2
            f.write(bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2]) + bytes(range(8)))
        ay = os.path.join(d, "ay.h5")
        rng = np.random.default_rng(2)
        with h5py.File(ay, "w") as f:
            f["A"] = rng.normal(size=(20, 4))
            f["y"] = rng.normal(size=20)
        out = lambda name: os.path.join(fs, name)  # noqa: E731
        train = ["train", "--data.train", self.data, "--model.layers", "dense 2"]
        cases = [  # (the command, its outputs)
            (["import", "csv", "--input.file", self.csv, "--csv.label-column", "label", "--output.file",
              out("data.h5")], ["data.h5"]),
            (["import", "idx", "--input.images", images, "--output.file", out("idx.h5")], ["idx.h5"]),
            (["import", "dfset", "--input.file", si("DFSET_0.01"), "--structure.file",
              si("si64_rattle_0.01.h5"), "--output.file", out("dfset.h5")], ["dfset.h5"]),
            (["import", "phonopy", "--input.file", si("phonopy_params.yaml"), "--output.file",
              out("phonopy.h5")], ["phonopy.h5"]),
            (train + ["--train.epochs", 1, "--output.model", out("model.h5")], ["model.h5"]),
            # The checkpoint after the first of two epochs is the first write.
            (train + ["--train.epochs", 2, "--output.checkpoint-every", 1, "--output.model",
                      out("model.h5")], ["model.h5"]),
            (["predict", model, self.data, "--output.file", out("pred.h5")], ["pred.h5"]),
            (["lasso", "--input.file", ay, "--fit.task", "cv", "--output.file", out("fit.h5"),
              "--output.figure", out("fit.png")], ["fit.h5", "fit.png"]),
            (["fc", "--input.data", si("si64_rattle_0.01.h5"), "--configs.train", 20, "--output.file", out("fc.h5"),
              "--output.export-dir", fs, "--output.exports", "phonopy"], ["fc.h5", "FORCE_CONSTANTS"]),
            (["phonons", "--input.fc", si("FORCE_CONSTANTS"), "--structure.file", si("si64_phonopy.h5"),
              "--output.file", out("bands.h5"), "--output.figure", out("bands.png")], ["bands.h5", "bands.png"]),
            (["selfcheck", "--output.file", out("check.h5"), "--check.rows", 4096, "--check.cols", 8],
             ["check.h5"]),
        ]
        # The previous outputs, then a filler that takes every byte left.
        previous = {}
        for _, names in cases:
            for name in names:
                with open(out(name), "wb") as f:
                    f.write(b"previous " + name.encode())
                previous[name] = digest(out(name))
        st = os.statvfs(fs)
        with open(out("filler"), "wb") as f:
            f.write(bytes(st.f_bavail * st.f_frsize))
        listing = sorted(os.listdir(fs))
        for args, names in cases:
            for n in RANKS:
                what = "%s at %d ranks" % (" ".join(map(str, args[:2])), n)
                r = physfit(*args, ranks=n)
                self.assertEqual(r.returncode, 4, "%s: %s" % (what, r.stderr))
                self.assertIn("No space left on device", r.stderr, what)
                self.assertIn("'%s" % fs, r.stderr, what)  # names the file
                for raw in ("bytes actually written", "errno =", "file descriptor =", "MPI_ERR"):
                    self.assertNotIn(raw, r.stderr, what)
                self.assertNotIn("Segmentation", r.stderr, what)
                self.assertEqual(sorted(os.listdir(fs)), listing, what)  # no .tmp-*, no .lock
                for name in names:
                    self.assertEqual(digest(out(name)), previous[name], "%s: %s" % (what, name))


if __name__ == "__main__":
    unittest.main()
