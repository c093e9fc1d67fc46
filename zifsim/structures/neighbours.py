"""Periodic neighbour pairs with freud, for any (small, triclinic) cell.

freud needs ``r_max`` below half of every perpendicular box width, which a
ZIF primitive cell (5.4 Å wide for ZIF-Cu-1) violates; the query is then run
against an internal replica of the cell and the indices folded back.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from zifsim.geometry import lammps_cell, perpendicular_widths


@dataclass
class NeighbourPairs:
    """All ordered pairs (i, j) with |r_j + shift - r_i| < r_max (both i->j and j->i).

    Attributes: ``i``, ``j`` atom indices; ``distances`` (Å); ``vectors``
    (Å, from i to the image of j, in the cell's own Cartesian frame).
    """

    i: np.ndarray
    j: np.ndarray
    distances: np.ndarray
    vectors: np.ndarray

    def select(self, mask: np.ndarray) -> "NeighbourPairs":
        """The subset of pairs where ``mask`` is true."""
        return NeighbourPairs(self.i[mask], self.j[mask], self.distances[mask], self.vectors[mask])


class PeriodicQuery:
    """freud neighbour query of fixed ``points`` in a cell of any width (Å, rows a, b, c).

    Where ``r_max`` is at most half of every perpendicular width the query is freud's
    own AABBQuery on the cell; otherwise the points are replicated into the smallest
    supercell that is wide enough and the point indices are folded back, so every
    periodic image within ``r_max`` is found exactly once (a 5.4 Å ZIF-Cu-1 cell
    compressed under load, where freud alone refuses "r_max is too large").
    """

    def __init__(self, cell: np.ndarray, frac_points: np.ndarray, r_max: float):
        logging.getLogger("freud").setLevel(logging.WARNING)
        import freud
        self.cell = lammps_cell(cell)
        self.r_max = float(r_max)
        self.n_points = len(frac_points)
        # 2.02: freud asks for r_max strictly below half the width, in float32
        self.reps = np.maximum(1, np.ceil(2.02 * self.r_max / perpendicular_widths(self.cell))).astype(int)
        shifts = np.array([(x, y, z) for x in range(self.reps[0]) for y in range(self.reps[1])
                           for z in range(self.reps[2])], float)
        frac_super = ((np.asarray(frac_points)[None] % 1.0 + shifts[:, None]) / self.reps).reshape(-1, 3)
        self.super_cell = self.cell * self.reps[:, None]
        self.box = freud.box.Box.from_matrix(self.super_cell.T)
        self._aabb = freud.locality.AABBQuery(self.box, self._positions(frac_super))

    def _positions(self, frac_super: np.ndarray) -> np.ndarray:
        return (frac_super - 0.5) @ self.super_cell

    def query(self, frac_query: np.ndarray, r_max: float | None = None, exclude_ii: bool = False):
        """Pairs within ``r_max`` (Å, at most the constructor's) of each query point.

        Returns (query index, point index, vectors Å), sorted by query index (freud's order); vectors point from the query point to the
        neighbour's image. ``exclude_ii`` drops pairs whose indices are equal (the
        query points are the points themselves), not their periodic images.
        """
        r = self.r_max if r_max is None else float(r_max)
        if r > self.r_max:
            raise ValueError(f"query r_max {r} Å exceeds the {self.r_max} Å this query was built for")
        q = self._positions((np.asarray(frac_query) % 1.0) / self.reps)
        nl = self._aabb.query(q, {"r_max": r, "exclude_ii": False}).toNeighborList()
        i = np.asarray(nl.query_point_indices, np.int64)
        j_super = np.asarray(nl.point_indices, np.int64)
        vec = np.asarray(nl.vectors, float)
        keep = ~(j_super == i) if exclude_ii else np.ones(len(i), bool)
        return i[keep], j_super[keep] % self.n_points, vec[keep]


def neighbour_pairs(atoms: Atoms, r_max: float) -> NeighbourPairs:
    """Every pair of atoms closer than ``r_max`` (Å) under periodic boundaries (freud AABB)."""
    cell = np.asarray(atoms.cell, float)
    frac = atoms.cell.scaled_positions(atoms.positions) % 1.0
    query = PeriodicQuery(cell, frac, r_max)
    # exclude only the atom itself: two distinct atoms at one position are a pair (d = 0)
    i, j, vec_std = query.query(frac, exclude_ii=True)
    # freud works in single precision: recover the integer image shift and
    # recompute the vector in double precision from the fractional coordinates.
    dfrac_approx = vec_std @ np.linalg.inv(query.cell)
    image = np.rint(dfrac_approx - (frac[j] - frac[i]))
    vec = (frac[j] - frac[i] + image) @ cell
    dist = np.linalg.norm(vec, axis=1)
    order = np.lexsort((dist, j, i))
    return NeighbourPairs(i[order], j[order], dist[order], vec[order])
