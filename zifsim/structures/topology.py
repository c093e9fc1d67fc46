"""Bond graph of a ZIF cell: covalent bonds, M-N coordination bonds, molecules.

A bond is a pair of atoms closer than a cut-off that depends on the two
elements (:mod:`zifsim.structures.chemistry`). H-H and metal-metal pairs are
never bonds; metals bond only to N and O (coordinated solvent).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from zifsim.structures.chemistry import METALS, covalent_cutoff, mn_cutoff
from zifsim.structures.neighbours import NeighbourPairs, neighbour_pairs

_R_SEARCH_A = 2.8  # longest bond considered (Cd-N cut-off 2.75 Å)


@dataclass
class BondGraph:
    """Bonds of a periodic cell, each stored in both directions.

    ``pairs``: :class:`NeighbourPairs` of bonded atoms (i, j, distance Å,
    vector i->j Å); ``is_metal``: bool per atom.
    """

    n_atoms: int
    pairs: NeighbourPairs
    is_metal: np.ndarray
    symbols: list[str]

    def neighbours(self, index: int) -> np.ndarray:
        """Indices of the atoms bonded to ``index``."""
        return self.pairs.j[self.pairs.i == index]

    def degree(self) -> np.ndarray:
        """Number of bonds of every atom."""
        return np.bincount(self.pairs.i, minlength=self.n_atoms)

    def components(self, without_metals: bool = False) -> list[np.ndarray]:
        """Connected groups of atom indices (molecules, linkers, frameworks).

        With ``without_metals`` the metal-ligand bonds are cut, so each
        linker is its own component (metals come out as single atoms).
        """
        mask = np.ones(len(self.pairs.i), bool)
        if without_metals:
            mask = ~(self.is_metal[self.pairs.i] | self.is_metal[self.pairs.j])
        graph = coo_matrix((np.ones(mask.sum()), (self.pairs.i[mask], self.pairs.j[mask])),
                           shape=(self.n_atoms, self.n_atoms))
        n, label = connected_components(graph, directed=False)
        return [np.flatnonzero(label == k) for k in range(n)]


def bond_graph(atoms: Atoms) -> BondGraph:
    """Bonds of ``atoms`` from element-pair cut-offs (freud neighbour search)."""
    symbols = atoms.get_chemical_symbols()
    sym = np.array(symbols)
    is_metal = np.isin(sym, list(METALS))
    pairs = neighbour_pairs(atoms, _R_SEARCH_A)
    elements = sorted(set(symbols))
    cut = {}
    for a in elements:
        for b in elements:
            if a in METALS and b in METALS:
                cut[a, b] = 0.0
            elif a in METALS or b in METALS:
                metal, other = (a, b) if a in METALS else (b, a)
                cut[a, b] = mn_cutoff(metal) if other in ("N", "O") else 0.0
            elif a == "H" and b == "H":
                cut[a, b] = 0.0
            else:
                cut[a, b] = covalent_cutoff(a, b)
    limit = np.array([cut[sym[i], sym[j]] for i, j in zip(pairs.i, pairs.j)]) if len(pairs.i) else np.zeros(0)
    return BondGraph(len(atoms), pairs.select(pairs.distances < limit), is_metal, symbols)


def unwrapped_positions(atoms: Atoms, graph: BondGraph, indices: np.ndarray) -> np.ndarray:
    """Cartesian positions (Å) of a finite molecule made whole across the cell boundary.

    The first index stays where it is; the others follow bond vectors
    (breadth-first). ``indices`` must be one connected, non-periodic group.
    """
    indices = np.asarray(indices)
    member = set(indices.tolist())
    pos = {int(indices[0]): atoms.positions[indices[0]].copy()}
    queue = [int(indices[0])]
    while queue:
        a = queue.pop(0)
        sel = graph.pairs.i == a
        for b, v in zip(graph.pairs.j[sel], graph.pairs.vectors[sel]):
            b = int(b)
            if b in member and b not in pos and not graph.is_metal[b]:
                pos[b] = pos[a] + v
                queue.append(b)
    return np.array([pos[int(k)] for k in indices])
