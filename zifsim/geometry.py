"""Cell geometry shared by every layer: THE cell-matrix, width, tau4 and density helpers.

A low-level module (numpy only, like :mod:`zifsim.errors`): structures,
potentials, engine and analysis all import these instead of writing their own.

* :func:`lammps_cell` - any cell (rows a, b, c) -> the LAMMPS / freud
  lower-triangular form ``[[lx,0,0],[xy,ly,0],[xz,yz,lz]]`` (same lengths and angles).
* :func:`cell_from_lammps_box` - LAMMPS box bounds (a data/dump header or
  ``lammps.extract_box()``) -> cell rows and origin.
* :func:`perpendicular_widths` - distances between opposite cell faces.
* :func:`tau4` - the four-coordinate geometry index (Yang, Powell & Houser,
  Dalton Trans. 2007, 955).
* :func:`density_gcm3` - mass density.

Lengths in Å, angles in degrees, masses in g/mol (amu), densities in g/cm³.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from zifsim.errors import InputError

__all__ = ["lammps_cell", "cell_from_lammps_box", "perpendicular_widths", "tau4", "density_gcm3",
           "AMU_PER_A3_TO_GCM3"]

#: 1 amu/Å³ in g/cm³ (1e24 / N_A).
AMU_PER_A3_TO_GCM3 = 1.66053906660


def lammps_cell(cell: np.ndarray) -> np.ndarray:
    """Lower-triangular cell (rows a, b, c; Å) with the same lengths and angles.

    ``a`` along x, ``b`` in the xy plane: the LAMMPS / freud convention
    ``[[lx,0,0],[xy,ly,0],[xz,yz,lz]]``. Raises :class:`InputError` for a
    left-handed (or flat) cell, which no rotation can bring into that form.
    """
    cell = np.asarray(cell, float)
    det = np.linalg.det(cell)
    if det <= 0:
        raise InputError("left-handed or flat cell (det %.3g Å^3)" % det,
                         fix="reorder the lattice vectors into a right-handed set (a, b, c)")
    a, b, c = cell
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = np.sqrt(max(b @ b - xy ** 2, 0.0))
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    lz = np.sqrt(max(c @ c - xz ** 2 - yz ** 2, 0.0))
    return np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])


def cell_from_lammps_box(lo: Sequence[float], hi: Sequence[float], xy: float = 0.0, xz: float = 0.0,
                         yz: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Cell rows (Å) and origin (Å) of a LAMMPS box ``lo``/``hi`` (xlo ylo zlo / xhi yhi zhi) + tilts.

    For ``lammps.extract_box()`` call ``cell_from_lammps_box(*box[:2], xy=box[2], xz=box[4],
    yz=box[3])`` (it returns yz before xz). Dump headers give the bounding box
    instead; :func:`zifsim.analysis.trajectory.read_dump` converts it first.
    """
    lx, ly, lz = (float(hi[k]) - float(lo[k]) for k in range(3))
    cell = np.array([[lx, 0.0, 0.0], [float(xy), ly, 0.0], [float(xz), float(yz), lz]])
    return cell, np.array([float(v) for v in lo])


def perpendicular_widths(cell: np.ndarray) -> np.ndarray:
    """Distances (Å) between opposite faces of the cell, one per lattice vector: V / |a_j x a_k|.

    Half the smallest is the largest minimum-image cut-off of the cell.
    """
    cell = np.asarray(cell, float)
    volume = abs(np.linalg.det(cell))
    areas = np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    return volume / areas


def tau4(vectors: np.ndarray) -> Any:
    """tau4 = (360° - (α + β)) / 141° of four-coordinate centres; α, β the two largest L-M-L angles.

    ``vectors`` are centre -> ligand vectors (Å), shape (4, 3) for one centre
    (returns a float) or (n, 4, 3) (returns an (n,) array). 1 = tetrahedral,
    0 = square planar (Yang, Powell & Houser, Dalton Trans. 2007, 955).
    """
    v = np.asarray(vectors, float)
    single = v.ndim == 2
    v = v.reshape(-1, 4, 3)
    unit = v / np.linalg.norm(v, axis=-1, keepdims=True)
    i, j = np.triu_indices(4, 1)
    cosang = np.einsum("nkd,nkd->nk", unit[:, i], unit[:, j])
    ang = np.sort(np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0))), axis=1)
    out = (360.0 - ang[:, -1] - ang[:, -2]) / 141.0
    return float(out[0]) if single else out


def density_gcm3(atoms_or_symbols, volume_A3: float | None = None) -> float:
    """Mass density (g/cm³) of an :class:`ase.Atoms` (its masses and cell volume), or of
    element symbols in ``volume_A3`` (Å³) with standard atomic masses."""
    if volume_A3 is None:
        mass = float(np.sum(atoms_or_symbols.get_masses()))
        volume_A3 = float(atoms_or_symbols.get_volume())
    else:
        from ase.data import atomic_masses, atomic_numbers
        symbols = np.asarray(atoms_or_symbols)
        uniq, counts = np.unique(symbols, return_counts=True)
        mass = float(sum(atomic_masses[atomic_numbers[str(s)]] * n for s, n in zip(uniq, counts)))
    return mass / abs(float(volume_A3)) * AMU_PER_A3_TO_GCM3
