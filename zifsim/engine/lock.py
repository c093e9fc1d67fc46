"""One writer per run directory: ``RUNDIR/.zifsim.lock``, held for the whole run.

The lock is an ``fcntl.flock`` on the lock file, so the kernel releases it when
the holder exits in any way (return, exception, SIGKILL, crash): a lock file left
by a dead process is *stale* and the next run takes it over (and says so). The
file records who holds it (pid, host, start time, command) so that a refused
second run can name the holder. A run that ends removes the file while it still
holds the lock; a waiting opener checks that the file it locked is still the one
at the path (else it retries), so two runs can never both believe they hold it.

Caveat: ``flock`` on network file systems (NFS) works on Linux >= 2.6.12, where it
is emulated with POSIX byte-range locks; on a file system without locks the
acquisition fails with a clear error rather than running unlocked.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path

from zifsim.errors import InputError

log = logging.getLogger("zifsim.engine")

LOCK_NAME = ".zifsim.lock"


class RunDirectoryBusy(InputError):
    """Another live process is running into this run directory."""


def _holder_text(info: dict) -> str:
    if not info:
        return "another process (no holder information recorded)"
    started = info.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)) if started else "?"
    return f"pid {info.get('pid', '?')} on host {info.get('host', '?')}, started {when}"


def _read_info(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 65536).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True
    return True


class RunLock:
    """Exclusive lock of a run directory (context manager).

    >>> with RunLock("runs/zif4-tiny"):      # doctest: +SKIP
    ...     run the stages
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.dir = Path(run_dir)
        self.path = self.dir / LOCK_NAME
        self.fd: int | None = None
        self.stale: dict | None = None

    def acquire(self) -> "RunLock":
        """Take the lock or raise :class:`RunDirectoryBusy` naming the holder (never waits)."""
        for _ in range(20):   # retry only when the file was replaced between open and lock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                info = _read_info(fd)
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise RunDirectoryBusy(
                        f"run directory {self.dir} is in use by {_holder_text(info)}"
                        + (f" (command: {info['command']})" if info.get("command") else ""),
                        source=str(self.path),
                        fix="wait for that run to finish, stop it (Ctrl-C leaves it resumable), "
                            "or choose another --out directory") from None
                raise InputError(f"cannot lock the run directory {self.dir}: {exc.strerror}",
                                 source=str(self.path),
                                 fix="use a run directory on a local file system that supports locks") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:   # the previous holder removed it after we opened it: try the new file
                os.close(fd)
                continue
            old = _read_info(fd)
            if old.get("pid"):
                self.stale = old
                alive = old.get("host") == socket.gethostname() and _pid_alive(old["pid"])
                log.warning("run directory %s: taking over the stale lock of %s%s", self.dir,
                            _holder_text(old), "" if alive else " (that process is gone)")
            info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                    "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "command": " ".join(sys.argv)[:2000]}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, (json.dumps(info) + "\n").encode())
            os.fsync(fd)
            self.fd = fd
            return self
        raise InputError(f"cannot lock the run directory {self.dir}: the lock file keeps changing",
                         source=str(self.path), fix="check that no other program deletes files in it")

    def release(self) -> None:
        """Remove the lock file (while still holding it) and unlock."""
        if self.fd is None:
            return
        try:
            try:
                if os.fstat(self.fd).st_ino == os.stat(self.path).st_ino:
                    os.unlink(self.path)
            except OSError:
                pass
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
