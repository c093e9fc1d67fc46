"""Supercells and the LAMMPS-ready standard orientation of a cell.

The perpendicular width of a cell along lattice vector i is V / |a_j x a_k|:
the distance between opposite faces, which is what a minimum-image cut-off
must not exceed half of. For a triclinic cell it is smaller than the vector
length, so repeats are chosen on widths, not lengths.
"""
from __future__ import annotations

import numpy as np
from ase import Atoms

from zifsim.errors import InputError
from zifsim.geometry import lammps_cell, perpendicular_widths


def repeats_for_width(atoms: Atoms, min_width_A: float) -> tuple[int, int, int]:
    """Smallest (na, nb, nc) so that every perpendicular width is >= ``min_width_A`` (Å)."""
    if not min_width_A or min_width_A <= 0:
        raise InputError(f"minimum width must be positive (got {min_width_A})", where="--min-width",
                         fix="give a width in Å, e.g. 2 x the interaction cut-off: --min-width 20")
    widths = perpendicular_widths(np.asarray(atoms.cell, float))
    return tuple(int(n) for n in np.maximum(1, np.ceil(min_width_A / widths - 1e-9)))


def make_supercell(atoms: Atoms, repeats=None, min_width_A: float | None = None) -> Atoms:
    """Repeat ``atoms`` ``repeats`` = (na, nb, nc) times, or enough for ``min_width_A`` (Å)."""
    if repeats is None and min_width_A is None:
        return atoms.copy()
    if repeats is not None and min_width_A is not None:
        raise InputError("give either a supercell or a minimum width, not both",
                         where="--supercell/--min-width", fix="drop one of the two options")
    if repeats is None:
        repeats = repeats_for_width(atoms, min_width_A)
    repeats = tuple(int(n) for n in repeats)
    if len(repeats) != 3 or any(n < 1 for n in repeats):
        raise InputError(f"supercell must be three positive integers (got {repeats})",
                         where="--supercell", fix="e.g. --supercell 2,2,1")
    return atoms.repeat(repeats)


def parse_supercell(text: str) -> tuple[int, int, int]:
    """'2,2,1' or '2x2x1' -> (2, 2, 1)."""
    parts = text.replace("x", ",").replace("X", ",").split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or any(v < 1 for v in values):
        raise InputError(f"cannot read supercell {text!r}", where="--supercell",
                         fix="give three positive integers, e.g. --supercell 2,2,1")
    return values


def standard_orientation(atoms: Atoms) -> Atoms:
    """Same crystal with a LAMMPS-legal cell: lower-triangular, tilts reduced, atoms wrapped.

    The lattice is unchanged (only its basis is reduced: |xy| <= lx/2,
    |xz| <= lx/2, |yz| <= ly/2), so every file written from it describes the
    same periodic structure.
    """
    std = lammps_cell(np.asarray(atoms.cell, float))
    a, b, c = std
    c = c - np.round(c[1] / b[1]) * b
    c = c - np.round(c[0] / a[0]) * a
    b = b - np.round(b[0] / a[0]) * a
    new_cell = lammps_cell(np.array([a, b, c]))
    frac_old = atoms.cell.scaled_positions(atoms.positions)
    cart = frac_old @ std
    frac = np.linalg.solve(np.array([a, b, c]).T, cart.T).T % 1.0
    frac[np.isclose(frac, 1.0, atol=1e-12)] = 0.0
    out = Atoms(atoms.get_chemical_symbols(), positions=frac @ new_cell, cell=new_cell, pbc=True)
    out.set_initial_charges(atoms.get_initial_charges())
    out.info.update(atoms.info)
    return out
