"""Partial and total radial distribution functions g_ab(r) with freud, accumulated over frames.

g_ab(r) is normalised like MDAnalysis InterRDF with ``norm="rdf"``: the
number of b atoms in a shell around an a atom divided by ``N_b/V`` times the
shell volume, averaged over frames (a == b excludes the self pair only).
"""
from __future__ import annotations

import itertools

import numpy as np

from zifsim.analysis.base import FrameAnalysis
from zifsim.analysis.trajectory import Frame
from zifsim.errors import InputError

__all__ = ["PartialRDF", "max_rdf_range"]


def max_rdf_range(cell: np.ndarray) -> float:
    """Largest r (Å) for a minimum-image RDF: half the smallest perpendicular cell width."""
    cell = np.asarray(cell, float)
    vol = abs(np.linalg.det(cell))
    widths = [vol / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)]
    return 0.5 * min(widths)


class PartialRDF(FrameAnalysis):
    """Partial g_ab(r) of every element pair (or the given pairs), plus the total g(r).

    Parameters
    ----------
    r_max : Å (clipped to half the smallest cell width of the first frame).
    dr : bin width in Å.
    pairs : list of (a, b) element pairs; default every unordered pair.

    Results
    -------
    r : (nbins,) bin centres, Å.
    partials : {(a, b): g_ab(r)}; total : number-weighted total g(r).
    concentrations : {element: c_a}; number_density : atoms/Å³ (frame average).
    table : DataFrame with r_A and one column ``g_a-b`` per pair plus ``g_total``.
    """

    def __init__(self, r_max: float = 10.0, dr: float = 0.02, pairs=None):
        super().__init__()
        self.r_max_requested = float(r_max)
        self.dr = float(dr)
        self.pairs_requested = pairs

    def _prepare(self, frame: Frame) -> None:
        from zifsim.analysis.coordination import METALS
        order = {"N": 1, "C": 2, "H": 3}
        elements = sorted(set(frame.elements.tolist()),
                          key=lambda e: (0 if e in METALS else order.get(e, 4), e))
        self.elements = elements
        if self.pairs_requested is None:
            self.pairs = list(itertools.combinations_with_replacement(elements, 2))
        else:
            self.pairs = [tuple(p) for p in self.pairs_requested]
            for p in self.pairs:
                for e in p:
                    if e not in elements:
                        raise InputError(f"RDF pair {p}: no {e} atoms", where="pairs",
                                         fix=f"choose pairs among {elements}")
        self.r_max = min(self.r_max_requested, max_rdf_range(frame.cell) * 0.999)
        self.nbins = max(1, int(np.floor(self.r_max / self.dr + 1e-9)))
        self.r_max = self.nbins * self.dr
        self.masks = {e: frame.elements == e for e in elements}
        self.counts = {e: int(m.sum()) for e, m in self.masks.items()}
        self._hist = {p: np.zeros(self.nbins) for p in self.pairs}
        self._norm = {p: 0.0 for p in self.pairs}  # sum over frames of N_a * N_b(-1) / V
        self._density = 0.0
        self.edges = np.linspace(0.0, self.r_max, self.nbins + 1)

    def _single_frame(self, frame: Frame) -> None:
        import freud
        if max_rdf_range(frame.cell) < self.r_max:
            self.r_max_violation = True  # box shrank below 2 r_max: minimum image still used
        box = frame.freud_box()
        pos = frame.freud_positions()
        vol = frame.volume
        self._density += frame.n_atoms / vol
        aabb = {}
        for a, b in self.pairs:
            if b not in aabb:
                aabb[b] = freud.locality.AABBQuery(box, pos[self.masks[b]])
            same = a == b
            qargs = {"r_max": self.r_max, "exclude_ii": same}
            nl = aabb[b].query(pos[self.masks[a]], qargs).toNeighborList()
            ibin = (nl.distances * (1.0 / self.dr)).astype(np.int64)
            self._hist[(a, b)] += np.bincount(ibin[ibin < self.nbins], minlength=self.nbins)
            nb = self.counts[b] - (1 if same else 0)
            self._norm[(a, b)] += self.counts[a] * nb / vol

    def _conclude(self) -> None:
        import pandas as pd
        shell = 4.0 / 3.0 * np.pi * (self.edges[1:] ** 3 - self.edges[:-1] ** 3)
        self.r = 0.5 * (self.edges[1:] + self.edges[:-1])
        self.partials = {}
        for p in self.pairs:
            norm = self._norm[p] * shell
            self.partials[p] = np.divide(self._hist[p], norm, out=np.zeros_like(norm), where=norm > 0)
        n = sum(self.counts.values())
        self.concentrations = {e: self.counts[e] / n for e in self.elements}
        self.number_density = self._density / max(self.n_frames, 1)
        self.total = self._total()
        cols = {"r_A": self.r}
        for (a, b), g in self.partials.items():
            cols[f"g_{a}-{b}"] = g
        cols["g_total"] = self.total
        self.table = pd.DataFrame(cols)

    def _total(self) -> np.ndarray:
        """Number-weighted total g(r) = Σ_ab c_a c_b g_ab (needs all pairs)."""
        total = np.zeros_like(self.r)
        wsum = 0.0
        for (a, b), g in self.partials.items():
            w = self.concentrations[a] * self.concentrations[b] * (1 if a == b else 2)
            total += w * g
            wsum += w
        return total / wsum if wsum else total

    def partial(self, a: str, b: str) -> np.ndarray:
        """g_ab(r) for one pair, in either order."""
        if (a, b) in self.partials:
            return self.partials[(a, b)]
        if (b, a) in self.partials:
            return self.partials[(b, a)]
        raise KeyError(f"pair {a}-{b} not computed; pairs: {self.pairs}")

    def running_cn(self, a: str, b: str) -> np.ndarray:
        """Running coordination number n_ab(r) = 4π ρ_b ∫ r² g_ab dr (b around a)."""
        g = self.partial(a, b)
        nb = self.counts[b]
        # same normalisation as g: N_b - 1 partners when a == b
        rho_b = self.number_density * self.concentrations[b] * ((nb - 1) / nb if a == b else 1.0)
        return np.cumsum(4 * np.pi * rho_b * self.r ** 2 * g * self.dr)

    def peaks(self, min_height: float = 1.2, min_separation_A: float = 0.3):
        """Table of peak positions (Å) and heights of every partial."""
        import pandas as pd
        from scipy.signal import find_peaks
        rows = []
        dist = max(1, int(min_separation_A / self.dr))
        for (a, b), g in self.partials.items():
            gs = np.convolve(g, np.ones(3) / 3, mode="same")
            idx, _ = find_peaks(gs, height=min_height, distance=dist)
            for i in idx:
                rows.append({"pair": f"{a}-{b}", "r_A": float(self.r[i]), "g": float(g[i])})
        return pd.DataFrame(rows, columns=["pair", "r_A", "g"])
