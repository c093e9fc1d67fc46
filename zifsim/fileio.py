"""Atomic output: nothing half-written ever looks complete.

Write to a temporary file in the destination folder, fsync, then
``os.replace`` onto the final name (atomic on POSIX).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results are shared
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kw) -> Iterator[Any]:
    """``open()`` that only creates ``path`` once the ``with`` block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode, **kw) as fh:
        yield fh


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Atomically write ``data`` as indented JSON (numpy scalars/arrays allowed)."""
    def default(o):
        if hasattr(o, "tolist"):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")
    with atomic_open(path) as fh:
        json.dump(data, fh, indent=2, default=default, sort_keys=False)
        fh.write("\n")


#: characters LAMMPS gives a meaning inside a file name even when quoted:
#: ``*`` (one file per timestep / newest restart) and ``%`` (one file per MPI rank)
LAMMPS_WILDCARDS = "*%"


def lammps_path(path: str | os.PathLike, what: str = "path") -> str:
    """``path`` as one quoted LAMMPS argument, safe against ``#`` (comment), ``$`` (variable)
    and blanks; refuses what no quoting can make safe (newline, ``*``, ``%``, both quote kinds).

    ``what`` names the option or key the path came from (``--out``, ``provider.file``) in the error.
    """
    from zifsim.errors import InputError
    text = os.fspath(path)
    bad = sorted({c for c in text if c in LAMMPS_WILDCARDS or c in "\n\r\0"})
    if not bad and '"' in text and "'" in text:
        bad = ['"', "'"]
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise InputError(f"the path {text!r} contains {shown}, which LAMMPS cannot take in a file name",
                         source=what, fix="choose a folder / file name without * % newlines "
                                          "(and not both kinds of quote)")
    return f"'{text}'" if '"' in text else f'"{text}"'


def check_input_file(path: str | os.PathLike, what: str = "input file", fix: str | None = None) -> Path:
    """Return ``path`` if it is a readable regular file; else raise InputError saying what it is
    instead (missing, a directory, a symbolic-link loop, a device or pipe, unreadable)."""
    from zifsim.errors import InputError
    import errno
    import stat
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            reason = "is a symbolic link loop"
        elif exc.errno == errno.ENOENT:
            reason = "not found" + (" (a dangling symbolic link)" if os.path.islink(path) else "")
        elif exc.errno == errno.ENOTDIR:
            reason = "not found (a part of the path is a file, not a folder)"
        else:
            reason = f"cannot be read ({exc.strerror})"
        raise InputError(f"{what} {reason}", source=str(path), fix=fix) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what} is a directory, not a file", source=str(path), fix=fix)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{what} is not a regular file (a device, pipe or socket)", source=str(path), fix=fix)
    if not os.access(path, os.R_OK):
        raise InputError(f"{what} is not readable (permission denied)", source=str(path), fix=fix)
    return path


def check_output_dir(path: str | os.PathLike, what: str = "--out", create: bool = True) -> Path:
    """Create the output folder ``path`` (parents too; only checked with ``create=False``); a clear
    InputError when an existing file (or a file in its parents) is in the way, or it cannot be created."""
    from zifsim.errors import InputError
    path = Path(path)
    for p in [path, *path.parents]:
        if p.exists() and not p.is_dir():
            where = "is an existing file" if p == path else f"lies under {p}, which is a file"
            raise InputError(f"output folder {path} {where}, not a folder", source=what,
                             fix="give a folder name that is not taken by a file")
        if p.exists():
            break
    if not create:
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {path}: {exc.strerror}", source=what,
                         fix="choose a writable location") from None
    return path
