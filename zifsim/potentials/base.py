"""The one interface between a force model and the MD engine.

A provider tells the engine which LAMMPS ``units`` it needs, which elements
it covers, which commands set it up (``pair_style``, ``pair_coeff``, QEq
fixes ...) and, for Python-side models, installs a ``fix external``
callback. Protocols are written in physical units (fs, ps, K, bar) and the
engine converts them with :attr:`ForceProvider.units`, so one protocol
definition serves every provider.
"""
from __future__ import annotations

import abc
from typing import Any, Iterable, Sequence

from zifsim.errors import ConfigError, ForceFieldError


class ForceProvider(abc.ABC):
    """Abstract force model.

    Attributes
    ----------
    name : short identifier recorded in metadata (e.g. ``reaxff:ffield_ZnN_2016``).
    units : LAMMPS unit style the model needs (``"real"`` or ``"metal"``).
    atom_style : LAMMPS atom style of the data file (``"charge"`` for ReaxFF).
    """

    name: str = "abstract"
    units: str = "real"
    atom_style: str = "charge"

    @property
    @abc.abstractmethod
    def elements(self) -> tuple[str, ...]:
        """Chemical symbols this model has parameters for."""

    def check_elements(self, symbols: Iterable[str], source: str | None = None) -> None:
        """Raise :class:`ForceFieldError` naming every element the model lacks."""
        missing = sorted(set(symbols) - set(self.elements))
        if missing:
            raise ForceFieldError(
                f"force field {self.name} has no parameters for element(s) "
                f"{', '.join(missing)} (it covers {' '.join(self.elements)})",
                source=source,
                fix="choose a force field that covers these elements "
                    "(e.g. provider: {kind: mlip} for Cd/Co cells) or substitute the metal")

    @abc.abstractmethod
    def setup_commands(self, type_elements: Sequence[str]) -> list[str]:
        """LAMMPS commands that define the interactions for atom types 1..n.

        ``type_elements[i]`` is the element of LAMMPS type ``i + 1``. Issued after
        ``read_data``/``read_restart``; must include any charge-equilibration fix.
        """

    def attach(self, lmp: Any, type_elements: Sequence[str]) -> None:
        """Hook for Python-side models: install callbacks on the ``lammps`` handle.

        Called after :meth:`setup_commands` have been issued. Default: nothing.
        """

    @abc.abstractmethod
    def metadata(self) -> dict[str, Any]:
        """JSON-able provenance: model name, version / sha256, citation, settings."""


def get_provider(spec: str | dict | None) -> ForceProvider:
    """Build a provider from a config entry.

    ``spec`` is e.g. ``{"kind": "reaxff", "file": "ffield_ZnN_2016"}``,
    ``{"kind": "mlip", "model": "chgnet"}`` or the shorthand strings
    ``"reaxff"`` / ``"mlip"``.
    """
    if spec is None or isinstance(spec, str):
        spec = {"kind": spec or "reaxff"}
    spec = dict(spec)
    kind = spec.pop("kind", "reaxff")
    if kind == "reaxff":
        from zifsim.potentials.reaxff import ReaxFFProvider
        return ReaxFFProvider.from_config(spec)
    if kind == "mlip":
        from zifsim.potentials.mlip import MLIPProvider
        return MLIPProvider.from_config(spec)
    raise ConfigError(f"unknown force provider kind {kind!r}", where="provider.kind",
                      fix="use 'reaxff' or 'mlip'")
