"""Exceptions raised by zifsim.

Every user-facing error names *where* the problem is (file, line, config key)
and *what to do about it*, so that the CLI can print it and exit non-zero
without a traceback.
"""
from __future__ import annotations


class ZifsimError(Exception):
    """Base class of all zifsim errors; the CLI prints these without traceback."""


class InputError(ZifsimError):
    """Bad user input: a file, a config key or a command-line value.

    Parameters
    ----------
    message : what is wrong.
    source : the file path (or config name) the problem is in.
    where : line number, CIF tag, config key ... inside ``source``.
    fix : one sentence telling the user what to do.
    """

    def __init__(self, message: str, source: str | None = None,
                 where: str | int | None = None, fix: str | None = None):
        self.message, self.source, self.where, self.fix = message, source, where, fix
        super().__init__(self.format())

    def format(self) -> str:
        loc = ""
        if self.source is not None:
            loc = str(self.source)
            if self.where is not None:
                loc += f" ({'line ' if isinstance(self.where, int) else ''}{self.where})"
            loc += ": "
        text = loc + self.message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class StructureError(InputError):
    """A structure that cannot be cleaned or fails validation."""


class ConfigError(InputError):
    """A YAML config / protocol / registry entry that is malformed."""


class ForceFieldError(InputError):
    """Missing or unusable force field (file absent, element not covered ...)."""


class SimulationError(ZifsimError):
    """A LAMMPS run that failed physically (lost atoms, NaN, runaway T, QEq failure)."""
