"""What the end-to-end tests share: the program and its launcher (PHYSFIT_BIN, MPIEXEC from the
environment CTest sets), scratch folders (PHYSFIT_TEST_SCRATCH) and the JSON summary that every
command prints last with --json."""
import json
import os
import shutil
import subprocess

BIN = os.environ.get("PHYSFIT_BIN", "physfit")
MPIEXEC = os.environ.get("MPIEXEC", "mpiexec")
SCRATCH = os.environ.get("PHYSFIT_TEST_SCRATCH", "/tmp/physfit-tests")
SOURCE = os.environ.get("PHYSFIT_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def unmount_under(path):
    """Unmounts what is mounted at or below `path`: a test killed by its timeout can leave the
    small file system it mounted there (the full-disk test's tmpfs)."""
    prefix = os.path.realpath(path)
    with open("/proc/mounts") as f:
        points = [line.split()[1].encode().decode("unicode_escape") for line in f]
    for point in sorted(points, reverse=True):
        if point == prefix or point.startswith(prefix + os.sep):
            subprocess.run(["umount", "-l", point], capture_output=True)


def scratch(test):
    """An empty folder of its own for a test method: SCRATCH/<module>/<class>.<method>."""
    path = os.path.join(SCRATCH, type(test).__module__, test.id().split(".", 1)[1])
    if os.path.exists(path):
        unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def workdir():
    """The working folder of physfit runs that give no output path: one per test process, in
    SCRATCH, so that default outputs (phonons.h5, ...) never land in the source tree and two
    tests running at once never write (or lock) the same file."""
    path = os.path.join(SCRATCH, "cwd", str(os.getpid()))
    os.makedirs(path, exist_ok=True)
    return path


def physfit(*args, ranks=None, timeout=120):
    """Runs physfit (under mpiexec when ranks is given) in workdir(); returns the
    CompletedProcess."""
    command = ([MPIEXEC, "-n", str(ranks)] if ranks else []) + [BIN] + [str(a) for a in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          cwd=workdir())


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def summary(result):
    """The "result" object of the --json summary of a CompletedProcess."""
    return last_json(result.stdout)["result"]
