"""physfit from Python: the engines of the physfit program on numpy arrays.

    import numpy as np
    import physfit
    r = physfit.lasso.cv(A, y)          # path + 5-fold CV, then the fit at lambda_min
    r.coef, r.cv.lambda_min

MPI is initialised on import when nothing did it before (and finalised at exit), so a plain
``python3 script.py`` works; under ``mpirun -np N python3 script.py`` every rank passes its
share of the rows. The user guide is docs/python.md.
"""

from . import _physfit
from . import lasso
from . import fc
from . import nn

__all__ = ["lasso", "fc", "nn", "mpi_rank", "mpi_size", "mpi_owned"]


def mpi_rank():
    """This process's rank in MPI_COMM_WORLD (0 when run without mpirun)."""
    return _physfit.mpi_rank()


def mpi_size():
    """The number of ranks in MPI_COMM_WORLD (1 when run without mpirun)."""
    return _physfit.mpi_size()


def mpi_owned():
    """True if physfit initialised MPI (and finalises it at exit); False if mpi4py or a host
    program did, who then finalises it."""
    return _physfit.mpi_owned()
