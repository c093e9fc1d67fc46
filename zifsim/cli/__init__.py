"""Command-line interface: ``zifsim <command> ...``.

Each command lives in its own module of this package and exposes
``register(subparsers)``, which adds its sub-parser and sets ``func`` (a
callable taking the parsed ``argparse.Namespace`` and returning an exit
code). Commands import the heavy science stack lazily so ``--help`` is fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from zifsim import __version__
from zifsim.errors import ZifsimError

#: command modules, in the order ``--help`` lists them
COMMANDS = ["build", "validate", "run", "analyse", "report", "compare_xray", "forcefield"]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="zifsim",
        description="Melt-quench and milling simulations of zeolitic imidazolate "
                    "frameworks (ZIFs): build cells from CIFs, run ReaxFF/MLIP MD "
                    "in LAMMPS, analyse and compare with experiment.")
    parser.add_argument("--version", action="version", version=f"zifsim {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"zifsim.cli.{name}")
        except ModuleNotFoundError as exc:  # command not written yet
            if exc.name != f"zifsim.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``zifsim`` executable; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ZifsimError as exc:
        print(f"zifsim {args.command}: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:  # Ctrl-C outside a run's own handler (reading inputs, analyses)
        if args.verbose:
            raise
        print(f"zifsim {args.command}: interrupted (Ctrl-C); finished outputs are intact", file=sys.stderr)
        return 130
    except OSError as exc:  # disk full, permissions ...: one clear line (a traceback with -v)
        if args.verbose:
            raise
        print(f"zifsim {args.command}: error: {os_error_text(exc)}", file=sys.stderr)
        return 1


def os_error_text(exc: OSError) -> str:
    """One line for an operating-system error: the file, what happened, what to do."""
    import errno
    where = f"{exc.filename}: " if exc.filename else ""
    text = f"{where}{exc.strerror or exc}"
    fix = {errno.ENOSPC: "free disk space (or choose another --out on a disk with room) and rerun: "
                         "finished files were written atomically and are intact",
           errno.EDQUOT: "the disk quota is exhausted: free space and rerun",
           errno.EACCES: "check the permissions of that path",
           errno.EROFS: "the file system is read-only: choose another --out",
           errno.ENOTDIR: "a part of that path is a file, not a folder"}.get(exc.errno)
    return text + (f"\n  fix: {fix}" if fix else "")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
