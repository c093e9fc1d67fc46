"""Partial and total radial distribution functions g_ab(r), accumulated over frames (scipy k-d tree, no freud).

Pair distances come from one periodic k-d tree search per frame
(:func:`periodic_pairs`, ghost images for any triclinic cell), histogrammed
for every element pair at once with one ``bincount``. (freud's AABBQuery gives
the same pairs, but materialising its neighbour lists was 3x slower here, and
freud.density.RDF took ~430 MB per instance at 475 bins.)

g_ab(r) is the number of b atoms in a shell around an a atom divided by
``N_b/V`` times the shell volume, for like AND unlike pairs (normalisation
N_a N_b / V, the Faber-Ziman convention; docs/xray.md), summed over frames.
So g_ab(r) of a crystal is the same for its unit cell and any supercell. In a finite
cell of N_a atoms a disordered g_aa tends to 1 - 1/N_a (not 1) for r below half the
cell width (an atom has N_a - 1 others there); beyond it the atom's own periodic images
count too and g_aa averages back to ~1. Any r_max in any cell: periodic images beyond
half the cell width are counted (:func:`periodic_pairs`). With ``sigma`` > 0 the pairs
are searched to r_max + 4 sigma so the broadening near r_max sees the pairs beyond it.
(MDAnalysis InterRDF with ``exclusion_block=(1, 1)`` divides like pairs by
N_a (N_a - 1) instead: its g_aa is larger by N_a / (N_a - 1).)
"""
from __future__ import annotations

import itertools
import logging

import numpy as np

from zifsim.analysis.base import FrameAnalysis
from zifsim.analysis.trajectory import Frame
from zifsim.errors import InputError
from zifsim.geometry import perpendicular_widths

log = logging.getLogger(__name__)

__all__ = ["PartialRDF", "max_rdf_range", "periodic_pairs"]


def periodic_pairs(cell: np.ndarray, frac: np.ndarray, r_max: float, unordered_ok: bool = False):
    """Pairs (i, j, d) of atoms closer than r_max (Å) through the periodic boundaries, every image.

    Returns ``(i, j, d, ordered)``. Any r_max in any cell: when r_max exceeds half
    a perpendicular width, several periodic images of a pair (and images of an
    atom itself, i == j with d > 0) are all returned, so the RDF of a unit cell
    equals that of any supercell. Fast path (``unordered_ok`` and an orthorhombic
    cell with r_max below half its smallest width): every unordered pair once
    (periodic k-d tree, ``ordered`` False). Otherwise: ghost copies of the atoms
    within r_max of the cell, then one k-d tree search from the atoms of the cell;
    every ordered pair (``ordered`` True); only the zero-distance self pair is dropped.
    """
    from scipy.spatial import cKDTree
    cell = np.asarray(cell, float)
    widths = perpendicular_widths(cell)
    orthorhombic = not np.any(cell[np.triu_indices(3, 1)]) and not np.any(cell[np.tril_indices(3, -1)])
    if unordered_ok and orthorhombic and r_max < 0.5 * widths.min():
        box = np.diag(cell).copy()
        pos = np.mod(frac * box, box)
        pairs = cKDTree(pos, boxsize=box).query_pairs(r_max, output_type="ndarray")
        i, j = np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
        d2 = np.zeros(len(i))
        for k in range(3):  # column by column: 1-D takes are ~2x faster than row gathers
            x = np.ascontiguousarray(pos[:, k])
            dx = x.take(j) - x.take(i)
            dx -= box[k] * np.rint(dx * (1.0 / box[k]))
            d2 += dx * dx
        d = np.sqrt(d2)
        return i, j, d, False
    margin = r_max / widths
    n_img = np.ceil(margin).astype(int)
    idx_parts, frac_parts = [], []
    for shift in itertools.product(*[range(-n, n + 1) for n in n_img]):
        f = frac + np.array(shift)
        inside = np.all((f >= -margin) & (f < 1 + margin), axis=1)
        idx_parts.append(np.flatnonzero(inside))
        frac_parts.append(f[inside])
    ghost_idx = np.concatenate(idx_parts)
    ghost_pos = np.concatenate(frac_parts) @ cell
    pos = frac @ cell
    pairs = cKDTree(pos).sparse_distance_matrix(cKDTree(ghost_pos), r_max, output_type="ndarray")
    i, jg, d = pairs["i"], pairs["j"], pairs["v"]
    j = ghost_idx[jg]
    keep = (i != j) | (d > 1e-8)  # drop only the atom itself; its periodic images count
    return i[keep], j[keep], d[keep], True


def max_rdf_range(cell: np.ndarray) -> float:
    """Half the smallest perpendicular cell width (Å): the minimum-image range.

    :class:`PartialRDF` is not limited by it (periodic images are counted); it is
    kept as the range beyond which a small cell repeats its own atoms.
    """
    return 0.5 * float(perpendicular_widths(cell).min())


class PartialRDF(FrameAnalysis):
    """Partial g_ab(r) of every element pair (or the given pairs), plus the total g(r).

    Parameters
    ----------
    r_max : Å, any value (periodic images are counted; no clipping to half the cell).
    dr : bin width in Å.
    pairs : list of (a, b) element pairs; default every unordered pair.
    sigma : Å, Gaussian broadening of every pair distance (0: none). For a static
        structure it stands for thermal motion (a Debye-Waller factor
        exp(-σ²Q²/2) on S_ab(Q)); MD frames need none.
    margin : ignored (kept for callers of the old clipped RDF).

    Results
    -------
    r : (nbins,) bin centres, Å.
    partials : {(a, b): g_ab(r)}; total : number-weighted total g(r).
    concentrations : {element: c_a}; number_density : atoms/Å³ (frame average).
    table : DataFrame with r_A and one column ``g_a-b`` per pair plus ``g_total``.
    """

    def __init__(self, r_max: float = 10.0, dr: float = 0.02, pairs=None, margin=None, sigma: float = 0.0):
        super().__init__()
        self.sigma = float(sigma)
        self.margin = margin
        self.r_max_requested = float(r_max)
        self.dr = float(dr)
        self.pairs_requested = pairs

    def _prepare(self, frame: Frame) -> None:
        from zifsim.structures.chemistry import METALS
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
        self.r_max = self.r_max_requested
        if not self.r_max > 0:
            raise InputError(f"RDF range r_max = {self.r_max}", where="r_max", fix="give r_max > 0 (Å)")
        self.n_skipped = 0  # no frame is left out any more (kept for callers)
        self._n_used = 0
        self.nbins = max(1, int(np.floor(self.r_max / self.dr + 1e-9)))
        self.r_max = self.nbins * self.dr
        self.masks = {e: frame.elements == e for e in elements}
        self.counts = {e: int(m.sum()) for e, m in self.masks.items()}
        self.type_index = np.array([elements.index(e) for e in frame.elements])
        self._norm = {p: 0.0 for p in self.pairs}  # sum over frames of N_a * N_b / V
        self._density = 0.0
        self.edges = np.linspace(0.0, self.r_max, self.nbins + 1)
        # broadening: pairs counted in extra bins to r_max + 4 sigma, cut back after the convolution
        self._half = int(np.ceil(4 * self.sigma / self.dr)) if self.sigma > 0 else 0
        self._nb_ext = self.nbins + self._half
        self._r_search = self._nb_ext * self.dr
        self._hist = {p: np.zeros(self._nb_ext) for p in self.pairs}
        # histogram code of a pair (i, j): (t_i * nt + t_j) * nb + bin, nb = the extended bin count
        self._pair_code = (self.type_index * len(elements) * self._nb_ext).astype(np.int64)
        self._type_nb = (self.type_index * self._nb_ext).astype(np.int64)

    def _single_frame(self, frame: Frame) -> None:
        vol = frame.volume
        self._density += frame.n_atoms / vol
        self._n_used += 1
        nb = self._nb_ext
        i, j, d, ordered = periodic_pairs(frame.cell, frame.fractional(), self._r_search, unordered_ok=True)
        nt = len(self.elements)
        code = self._pair_code.take(i) + self._type_nb.take(j)  # (t_i * nt + t_j) * nb
        bins = (d * (1.0 / self.dr)).astype(np.int64)
        np.minimum(bins, nb - 1, out=bins)
        code += bins
        hist = np.bincount(code, minlength=nt * nt * nb).reshape(nt, nt, nb)
        if not ordered:  # each unordered pair counts for both directions
            hist = hist + hist.transpose(1, 0, 2)
        for a, b in self.pairs:
            ia, ib = self.elements.index(a), self.elements.index(b)
            self._hist[(a, b)] += hist[ia, ib]
            self._norm[(a, b)] += self.counts[a] * self.counts[b] / vol

    def _conclude(self) -> None:
        import pandas as pd
        shell = 4.0 / 3.0 * np.pi * (self.edges[1:] ** 3 - self.edges[:-1] ** 3)
        self.r = 0.5 * (self.edges[1:] + self.edges[:-1])
        self.partials = {}
        kernel = None
        if self.sigma > 0:  # Gaussian broadening of the pair counts (number of pairs per bin)
            half = self._half
            x = np.arange(-half, half + 1) * self.dr
            kernel = np.exp(-0.5 * (x / self.sigma) ** 2)
            kernel /= kernel.sum()
        for p in self.pairs:
            norm = self._norm[p] * shell
            if kernel is None:
                h = self._hist[p][:self.nbins]
            else:  # full convolution of the extended bins; output bin k is centred on full[k + half]
                h = np.convolve(self._hist[p], kernel, mode="full")[self._half:self._half + self.nbins]
            self.partials[p] = np.divide(h, norm, out=np.zeros_like(norm), where=norm > 0)
        n = sum(self.counts.values())
        self.concentrations = {e: self.counts[e] / n for e in self.elements}
        self.number_density = self._density / max(self._n_used, 1)
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
        """Running coordination number n_ab(r) = 4π ρ_b ∫ r² g_ab dr (b around a), at the upper bin edges.

        Summed with the exact shell volumes, so it inverts the normalisation of g.
        """
        g = self.partial(a, b)
        rho_b = self.number_density * self.concentrations[b]  # N_b / V, as in the normalisation of g
        shell = 4.0 / 3.0 * np.pi * (self.edges[1:] ** 3 - self.edges[:-1] ** 3)
        return np.cumsum(rho_b * shell * g)

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
