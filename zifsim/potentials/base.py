"""The one interface between a force model and the MD engine.

A provider tells the engine which LAMMPS ``units`` it needs, which elements
it covers, which commands set it up (``pair_style``, ``pair_coeff``, QEq
fixes ...) and, for Python-side models, installs a ``fix external``
callback. Protocols are written in physical units (fs, ps, K, bar) and the
engine converts them with :attr:`ForceProvider.units`, so one protocol
definition serves every provider.

Like ASE's ``Calculator``, the base class declares every hook the engine calls,
with a default that does nothing, so the engine never probes a provider
(no ``hasattr``): a subclass overrides what it needs.

==========================  ==================================================
hook                         called by the engine
==========================  ==================================================
:meth:`prepare`              on the root rank, before the setup commands of a chunk
:meth:`setup_commands`       after ``read_data`` / ``read_restart`` (abstract)
:meth:`attach`               after the setup commands (Python-side models)
:meth:`output_commands`      extra per-stage output the model offers (ReaxFF bonds)
:meth:`failure_checks`       LAMMPS conditions meaning the model failed (halt)
:meth:`raise_if_failed`      after every ``run``: an error the model recorded
:meth:`metadata`             provenance for metadata.json (abstract)
==========================  ==================================================

Providers are built from a spec by :func:`zifsim.potentials.factory.get_provider`.
"""
from __future__ import annotations

import abc
import os
from typing import Any, Iterable, Sequence

from zifsim.errors import ForceFieldError


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

    def prepare(self, workdir: str | os.PathLike) -> None:
        """Write files the setup commands refer to (e.g. a ReaxFF control file) into
        ``workdir``; called on the root MPI rank before :meth:`setup_commands`. Default: nothing."""

    def attach(self, lmp: Any, type_elements: Sequence[str]) -> None:
        """Hook for Python-side models: install callbacks on the ``lammps`` handle.

        Called after :meth:`setup_commands` have been issued. Default: nothing.
        """

    def output_commands(self, path: str | os.PathLike, every_steps: int) -> list[str]:
        """LAMMPS commands for the model's optional per-stage output (e.g. the ReaxFF bond
        table) written to ``path`` every ``every_steps`` steps. Default: none."""
        return []

    def failure_checks(self) -> list[tuple[str, str]]:
        """``(LAMMPS equal-style condition, message)`` pairs meaning the model failed; the
        engine halts the run when one is true. Default: none."""
        return []

    def raise_if_failed(self) -> None:
        """Raise :class:`~zifsim.errors.SimulationError` when the model recorded a failure
        during the last ``run`` (a Python callback cannot raise through LAMMPS). Default: never."""

    @abc.abstractmethod
    def metadata(self) -> dict[str, Any]:
        """JSON-able provenance: model name, version / sha256, citation, settings."""
