"""Feed any ASE calculator to LAMMPS through ``fix external`` (mode ``pf/callback``).

LAMMPS stays the integrator (thermostats, barostats, ``fix deform``,
restarts); on every force evaluation it calls :meth:`ExternalBridge.callback`
with the local positions, and the bridge returns the calculator's forces,
total energy and virial. Facts this relies on (measured, see
``docs/mlip.md``):

* virial passed to LAMMPS = -(ASE stress) x volume, in energy units (eV for
  ``units metal``), ordered xx, yy, zz, xy, xz, yz;
* ``extract_box()`` returns ``boxlo, boxhi, xy, yz, xz, ...`` (yz before xz)
  and the lattice rows are ``[lx,0,0], [xy,ly,0], [xz,yz,lz]``;
* the callback's arrays hold the *local* atoms in LAMMPS' current order:
  map through ``tag``; per-atom arrays from ``extract_atom`` include ghosts,
  so slice to ``nlocal``;
* one MPI rank only (the model sees the whole cell).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from zifsim.errors import SimulationError
from zifsim.geometry import cell_from_lammps_box

# Mapping from ASE's 3x3 stress to the LAMMPS virial order xx, yy, zz, xy, xz, yz.
_VIRIAL_INDEX = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


def box_cell(box: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Lattice rows (Å) and origin (Å) from ``lammps.extract_box()``'s list
    (``boxlo, boxhi, xy, yz, xz, ...``: yz before xz)."""
    return cell_from_lammps_box(box[0], box[1], xy=box[2], xz=box[4], yz=box[3])


def lammps_state(lmp: Any, elements: Sequence[str]) -> tuple[Any, np.ndarray]:
    """(ase.Atoms in atom-id order, forces in LAMMPS force units) of a serial LAMMPS handle.

    ``elements[t - 1]`` is the symbol of LAMMPS type ``t``; positions are shifted by
    the box origin (Å) so the Atoms' cell starts at 0, as ASE expects.
    """
    from ase import Atoms

    n = lmp.extract_setting("nlocal")
    order = np.argsort(np.asarray(lmp.numpy.extract_atom("id"))[:n])
    x = np.asarray(lmp.numpy.extract_atom("x"))[:n][order]
    f = np.asarray(lmp.numpy.extract_atom("f"))[:n][order].astype(float)
    typ = np.asarray(lmp.numpy.extract_atom("type"))[:n][order]
    cell, origin = box_cell(lmp.extract_box())
    atoms = Atoms([elements[t - 1] for t in typ], positions=x - origin, cell=cell, pbc=True)
    return atoms, f


def stress_to_virial(stress: np.ndarray, volume: float) -> list[float]:
    """LAMMPS global virial (energy units, xx yy zz xy xz yz) from an ASE stress.

    ``stress`` is ASE's stress in eV/Å³, either Voigt (xx yy zz yz xz xy) or
    3x3; ``volume`` in Å³. Returns plain floats.
    """
    s = np.asarray(stress, dtype=float)
    if s.shape == (6,):
        xx, yy, zz, yz, xz, xy = s
        s = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    return [float(-s[i, j] * volume) for i, j in _VIRIAL_INDEX]


class ExternalBridge:
    """Callback object that evaluates an ASE calculator for a ``fix external``.

    Parameters
    ----------
    lmp : the ``lammps.lammps`` handle (after ``read_data`` and the fix command).
    fix_id : ID of the ``fix external ... pf/callback 1 1`` to serve.
    calculator : an ASE calculator returning energy (eV), forces (eV/Å) and
        stress (eV/Å³).
    type_elements : element of LAMMPS type ``i + 1`` at index ``i``.
    """

    def __init__(self, lmp: Any, fix_id: str, calculator: Any,
                 type_elements: Sequence[str]):
        from ase import Atoms
        from ase.data import atomic_numbers

        self.lmp, self.fix_id, self.calculator = lmp, fix_id, calculator
        nprocs = int(lmp.extract_setting("world_size"))
        if nprocs != 1:
            raise SimulationError(
                f"the MLIP bridge runs the model on one MPI rank, but LAMMPS has {nprocs}; "
                "run LAMMPS serially (threads, not ranks, for the MLIP)")
        self.type_numbers = np.array([0] + [atomic_numbers[e] for e in type_elements])
        natoms = int(lmp.get_natoms())
        self.atoms = Atoms(numbers=np.ones(natoms, dtype=int), positions=np.zeros((natoms, 3)),
                           cell=np.eye(3), pbc=True)
        self.calls = 0
        self.seconds_in_model = 0.0
        self.last_energy = float("nan")
        self.last_virial = [0.0] * 6
        self.error: BaseException | None = None
        self.error_step = -1

    def install(self) -> None:
        """Register :meth:`callback` with LAMMPS for this bridge's fix."""
        self.lmp.set_fix_external_callback(self.fix_id, self.callback, None)

    def current_atoms(self, nlocal: int, tag: np.ndarray, x: np.ndarray):
        """ASE atoms in tag order for LAMMPS' current state (positions Å); returns (atoms, order)."""
        tag = np.asarray(tag).reshape(-1)[:nlocal]
        order = np.argsort(tag, kind="stable")
        types = np.asarray(self.lmp.numpy.extract_atom("type")).reshape(-1)[:nlocal]
        cell, origin = box_cell(self.lmp.extract_box())
        atoms = self.atoms
        if len(atoms) != nlocal:
            raise SimulationError(f"LAMMPS has {nlocal} local atoms but the cell has {len(atoms)}; "
                                  "atoms were lost or the run uses several MPI ranks")
        numbers = self.type_numbers[types[order]]
        if not np.array_equal(numbers, atoms.numbers):
            atoms.numbers = numbers
        atoms.set_cell(cell, scale_atoms=False)
        atoms.positions = np.asarray(x)[:nlocal][order] - origin
        return atoms, order

    def evaluate(self, atoms) -> tuple[float, np.ndarray, list[float]]:
        """Energy (eV), forces (eV/Å, atoms order) and LAMMPS virial (eV) from the calculator."""
        from ase.calculators.calculator import all_changes

        calc = self.calculator
        t0 = time.perf_counter()
        calc.calculate(atoms, ["energy", "forces", "stress"], all_changes)
        self.seconds_in_model += time.perf_counter() - t0
        res = calc.results
        energy = float(res["energy"])
        forces = np.asarray(res["forces"], dtype=float)
        virial = stress_to_virial(res["stress"], float(atoms.get_volume()))
        return energy, forces, virial

    def callback(self, caller, ntimestep, nlocal, tag, x, fext) -> None:
        """``fix external`` callback: fill ``fext`` and set the global energy/virial."""
        try:
            atoms, order = self.current_atoms(nlocal, tag, x)
            energy, forces, virial = self.evaluate(atoms)
            if not (np.isfinite(energy) and np.isfinite(forces).all()):
                raise SimulationError(f"the MLIP returned non-finite energy/forces at step {ntimestep}")
            out = np.empty_like(forces)
            out[order] = forces
            fext[:nlocal] = out
            self.lmp.fix_external_set_energy_global(self.fix_id, energy)
            self.lmp.fix_external_set_virial_global(self.fix_id, virial)
            self.last_energy, self.last_virial = energy, virial
            self.calls += 1
        except Exception as exc:  # ctypes would swallow it: stop the run, keep the error
            self.fail(exc, ntimestep, nlocal, fext)

    def fail(self, exc: BaseException, ntimestep: int, nlocal: int, fext) -> None:
        """Record ``exc``, zero the forces, set energy NaN and stop the run softly.

        ``lammps.error()`` from inside a callback aborts the whole process, so
        instead the run is ended with ``force_timeout`` at the next step and the
        error is raised by :meth:`raise_if_failed` (call it after every ``run``).
        """
        if self.error is None:
            self.error = exc
            self.error_step = int(ntimestep)
        fext[:nlocal] = 0.0
        self.lmp.fix_external_set_energy_global(self.fix_id, float("nan"))
        self.lmp.force_timeout()

    def raise_if_failed(self) -> None:
        """Raise :class:`SimulationError` if a callback failed during the last run."""
        if self.error is not None:
            exc = self.error
            raise SimulationError(
                f"MLIP evaluation failed at step {self.error_step}: "
                f"{type(exc).__name__}: {exc}") from exc


def open_bridged_lammps(atoms, provider: Any, elements: Sequence[str], workdir) -> Any:
    """A LAMMPS instance (units metal) holding ``atoms`` with ``provider`` attached.

    Writes ``workdir/cell.data`` (types in the order of ``elements``), reads it,
    issues the provider's setup commands and installs its callback; the caller
    adds integrators and runs. Used by the MLIP tests and benchmark.
    """
    from pathlib import Path

    from zifsim.lammps_loader import new_lammps
    from zifsim.structures.io import write_lammps_data
    data = Path(workdir) / "cell.data"
    write_lammps_data(atoms, data, list(elements))
    lmp = new_lammps()
    lmp.commands_list(["units metal", "atom_style charge", "atom_modify map array",
                       f"read_data {data}"])
    lmp.commands_list(provider.setup_commands(elements))
    provider.attach(lmp, elements)
    return lmp
