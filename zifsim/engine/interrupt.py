"""Ctrl-C (SIGINT) and SIGTERM during a run: stop at once, cleanly, resumably.

Python runs a signal handler only between bytecodes. While LAMMPS runs, those are
the ``fix external`` callbacks (progress line, MLIP forces); a ``KeyboardInterrupt``
raised there is swallowed by ctypes ("Exception ignored on calling ctypes
callback") and the run goes on. So while a run is active the handler only records
the signal and asks the running LAMMPS instance to end its ``run`` / ``minimize``
at the next step (``lammps.force_timeout()``); the engine then raises
:class:`RunInterrupted` at the next check, before it writes anything for the
unfinished chunk. The stage resumes from its last checkpoint.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Iterator

from zifsim.errors import ZifsimError

log = logging.getLogger("zifsim.engine")

#: exit status of a run stopped by a signal (shell convention 128 + SIGINT)
EXIT_INTERRUPTED = 130


class RunInterrupted(ZifsimError):
    """The run was stopped by SIGINT / SIGTERM; the run directory is resumable."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, signum: int = signal.SIGINT):
        self.signum = signum
        super().__init__(message)


class _State:
    signum: int | None = None
    lammps = None          # the LAMMPS instance running now (force_timeout target)
    depth = 0


_state = _State()


def requested() -> int | None:
    """The signal number received since the run started (None: none)."""
    return _state.signum


def set_active_lammps(lmp) -> None:
    """Tell the handler which LAMMPS instance to stop (None when it is closed)."""
    _state.lammps = lmp
    if lmp is not None and _state.signum is not None:
        _stop_lammps()


def _stop_lammps() -> None:
    lmp = _state.lammps
    if lmp is None:
        return
    try:
        lmp.force_timeout()
    except Exception:  # noqa: BLE001 - an instance being closed
        pass


def _handler(signum, _frame) -> None:
    first = _state.signum is None
    _state.signum = signum
    if first:
        log.warning("%s received: stopping at the next step; the run directory stays resumable",
                    signal.Signals(signum).name)
    _stop_lammps()


def check(where: str = "") -> None:
    """Raise :class:`RunInterrupted` if a stop signal arrived."""
    if _state.signum is not None:
        name = signal.Signals(_state.signum).name
        raise RunInterrupted(f"run stopped by {name}{' ' + where if where else ''}", _state.signum)


@contextlib.contextmanager
def stop_signals_handled() -> Iterator[None]:
    """Install the recording handler for SIGINT and SIGTERM (main thread only; nests)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _state.depth == 0:
        _state.signum = None
    _state.depth += 1
    old = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _state.depth -= 1
        if _state.depth == 0:
            _state.lammps = None
