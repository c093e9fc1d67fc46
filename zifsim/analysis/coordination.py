"""Metal-nitrogen coordination: CN per metal per frame, distribution, tau4, dangling linkers.

The M-N cutoff of each metal is, by default, zifsim's one coordination convention
(:func:`zifsim.structures.chemistry.mn_cutoff`: 1.25 x the crystal M-N bond, the
same rule ``zifsim validate`` uses); it can be given per metal, or taken from
the first minimum of the M-N distance histogram of the first frame
(``cutoffs="rdf-minimum"``; the table value where no minimum is found).
Neighbour search uses :class:`freud.locality.AABBQuery` through
:class:`zifsim.structures.neighbours.PeriodicQuery`, so any cell works, also one
narrower than twice the cutoff (a small cell compressed under load).
"""
from __future__ import annotations

import numpy as np

from zifsim.analysis.base import FrameAnalysis
from zifsim.analysis.trajectory import Frame
from zifsim.errors import InputError
from zifsim.geometry import tau4 as tau4_from_vectors
from zifsim.structures.chemistry import METAL_TABLE, MN_CUTOFF_RULE, metals_in, mn_cutoff
from zifsim.structures.neighbours import PeriodicQuery

__all__ = ["Coordination", "first_minimum_cutoff", "tau4_from_vectors", "RDF_MINIMUM"]

#: ``cutoffs=RDF_MINIMUM``: take each metal's cutoff from the first minimum of its M-N
#: histogram in the first frame (opt-in; the default is the table rule).
RDF_MINIMUM = "rdf-minimum"
#: N...N distance (Å) below which two N belong to the same imidazolate ring (N1...N3 ≈ 2.2 Å)
RING_NN_MAX = 2.45


def first_minimum_cutoff(distances: np.ndarray, n_centres: int, lo: float = 1.6, hi: float = 3.4,
                         width: float = 0.05) -> float | None:
    """First minimum (Å) after the first peak of a pair-distance histogram.

    ``distances`` are M-N distances (Å) within ``hi``; returns None when no
    peak is found. A flat zero stretch (crystal) gives its midpoint.
    """
    if len(distances) == 0:
        return None
    edges = np.arange(lo, hi + width, width)
    counts, _ = np.histogram(distances, edges)
    counts = np.convolve(counts / max(n_centres, 1), [0.25, 0.5, 0.25], mode="same")
    centres = 0.5 * (edges[1:] + edges[:-1])
    peak_zone = (centres > 1.7) & (centres < 2.6)
    if not counts[peak_zone].any():
        return None
    ipeak = int(np.flatnonzero(peak_zone)[np.argmax(counts[peak_zone])])
    after = counts[ipeak:]
    cmin = after.min()
    # first local minimum: first index where the smoothed count stops falling
    i = 0
    while i + 1 < len(after) and after[i + 1] < after[i]:
        i += 1
    # flat stretch at this value: midpoint
    j = i
    while j + 1 < len(after) and after[j + 1] == after[i]:
        j += 1
    cut = float(0.5 * (centres[ipeak + i] + centres[ipeak + j]))
    if after[i] > 0.5 * after[0] and cmin < after[i]:
        return None  # no real minimum: peak does not separate
    return min(max(cut, centres[ipeak] + 0.2), 3.0)


class Coordination(FrameAnalysis):
    """M-N coordination numbers of every metal per frame.

    Parameters
    ----------
    cutoffs : {metal: Å} for the metals to override; the others get
        :func:`~zifsim.structures.chemistry.mn_cutoff`. Or ``"rdf-minimum"``: every
        metal's cutoff from the first minimum of its M-N histogram in the first frame.
    nominal_cn : CN of the intact framework (4 for tetrahedral ZIFs).
    ligand : the coordinating element ("N").

    Results (after ``run``/``compute``)
    -----------------------------------
    cutoffs : {metal: Å} used; cutoff_source : {metal: "user" | "table" | "rdf-minimum"};
    cutoff_rule : the sentence that says how the default was chosen
    cn : (n_frames, n_metals) int8, CN of every metal
    tau4 : (n_frames, n_metals) float32, NaN where CN != 4
    table : pandas DataFrame, one row per frame (stage, step, time_ps, temp_K,
        frac_CN0..frac_CN6, mean_CN, n_undercoordinated, frac_dangling_linkers, ...)
    distribution : fractions of CN 0..6 over all frames and metals
    """

    def __init__(self, cutoffs: dict[str, float] | str | None = None, nominal_cn: int = 4,
                 ligand: str = "N", max_cn: int = 6):
        super().__init__()
        if isinstance(cutoffs, str) and cutoffs != RDF_MINIMUM:
            raise InputError(f"unknown cutoff mode {cutoffs!r}", where="--cutoff",
                             fix=f"give element=Å pairs (Zn=2.5,Cd=2.8) or {RDF_MINIMUM}")
        self.from_rdf = cutoffs == RDF_MINIMUM
        self.user_cutoffs = {} if isinstance(cutoffs, str) else dict(cutoffs or {})
        self.nominal_cn = nominal_cn
        self.ligand = ligand
        self.max_cn = max_cn

    def __init_state__(self):
        super().__init_state__()

    # ------------------------------------------------------------------ prepare
    def _prepare(self, frame: Frame) -> None:
        self.metal_elements = metals_in(np.unique(frame.elements))
        if not self.metal_elements:
            raise InputError(f"no metal atoms among elements {sorted(set(frame.elements))}",
                             fix=f"coordination needs one of {', '.join(METAL_TABLE)}")
        if not np.any(frame.elements == self.ligand):
            raise InputError(f"no {self.ligand} atoms in the structure",
                             fix="coordination counts metal-N bonds of imidazolate frameworks")
        self.metal_idx = {m: np.flatnonzero(frame.elements == m) for m in self.metal_elements}
        self.metal_all = np.concatenate([self.metal_idx[m] for m in self.metal_elements])
        self.metal_label = np.concatenate([[m] * len(self.metal_idx[m]) for m in self.metal_elements])
        self.lig_idx = np.flatnonzero(frame.elements == self.ligand)
        frac = frame.fractional()
        self.cutoffs, self.cutoff_source = {}, {}
        pairs = None
        for m in self.metal_elements:
            if m in self.user_cutoffs:
                self.cutoffs[m], self.cutoff_source[m] = float(self.user_cutoffs[m]), "user"
                continue
            cut = None
            if self.from_rdf:  # zifsim's neighbour pairs: any cell, also narrower than 2 x 3.4 Å
                if pairs is None:
                    from zifsim.structures.neighbours import neighbour_pairs
                    pairs = neighbour_pairs(frame.to_atoms(), 3.4)
                sel = (frame.elements[pairs.i] == m) & (frame.elements[pairs.j] == self.ligand)
                cut = first_minimum_cutoff(pairs.distances[sel], len(self.metal_idx[m]))
            if cut is None:
                self.cutoffs[m], self.cutoff_source[m] = mn_cutoff(m), "table"
            else:
                self.cutoffs[m], self.cutoff_source[m] = round(cut, 3), RDF_MINIMUM
        self.cutoff_rule = (f"first minimum of the M-N histogram of the first frame; else {MN_CUTOFF_RULE}"
                            if self.from_rdf else MN_CUTOFF_RULE)
        # imidazolate rings: N pairs closer than RING_NN_MAX (N1...N3 of one linker)
        lig = frac[self.lig_idx]
        i, j, _ = PeriodicQuery(frame.cell, lig, RING_NN_MAX).query(lig, exclude_ii=True)
        deg = np.bincount(i, minlength=len(self.lig_idx))
        keep = (i < j) & (deg[i] == 1) & (deg[j] == 1)
        self.linkers = np.stack([i[keep], j[keep]], axis=1)  # indices into lig_idx
        self._cn, self._tau4, self._rows = [], [], []

    # ------------------------------------------------------------------ per frame
    def _single_frame(self, frame: Frame) -> None:
        frac = frame.fractional()
        nq = PeriodicQuery(frame.cell, frac[self.lig_idx], max(self.cutoffs.values()))
        cn_parts, tau_parts = [], []
        bound = np.zeros(len(self.lig_idx), bool)
        for m in self.metal_elements:
            idx = self.metal_idx[m]
            qi, pj, vectors = nq.query(frac[idx], self.cutoffs[m])
            cn = np.bincount(qi, minlength=len(idx))
            bound[pj] = True
            tau = np.full(len(idx), np.nan, np.float32)
            four = np.flatnonzero(cn == 4)
            if len(four):
                starts = np.searchsorted(qi, four)
                sel = (starts[:, None] + np.arange(4)).ravel()
                tau[four] = tau4_from_vectors(vectors[sel].reshape(-1, 4, 3))
            cn_parts.append(cn)
            tau_parts.append(tau)
        cn = np.concatenate(cn_parts)
        tau = np.concatenate(tau_parts)
        self._cn.append(cn.astype(np.int8))
        self._tau4.append(tau)
        frac = np.bincount(np.minimum(cn, self.max_cn), minlength=self.max_cn + 1) / len(cn)
        row = {"stage": frame.stage, "step": frame.step, "time_ps": frame.time_ps,
               "temp_K": frame.temp_K}
        row.update({f"frac_CN{k}": frac[k] for k in range(self.max_cn + 1)})
        row["mean_CN"] = cn.mean()
        for m in self.metal_elements if len(self.metal_elements) > 1 else []:
            row[f"mean_CN_{m}"] = cn[self.metal_label == m].mean()
        row["n_undercoordinated"] = int(np.sum(cn < self.nominal_cn))
        row["n_overcoordinated"] = int(np.sum(cn > self.nominal_cn))
        row["mean_tau4"] = float(np.nanmean(tau)) if np.isfinite(tau).any() else np.nan
        if len(self.linkers):
            nb = bound[self.linkers].sum(axis=1)
            row["frac_dangling_linkers"] = float(np.mean(nb == 1))
            row["frac_free_linkers"] = float(np.mean(nb == 0))
        else:
            row["frac_dangling_linkers"] = row["frac_free_linkers"] = np.nan
        self._rows.append(row)

    # ------------------------------------------------------------------ conclude
    def _conclude(self) -> None:
        import pandas as pd
        self.cn = np.array(self._cn)
        self.tau4 = np.array(self._tau4)
        self.table = pd.DataFrame(self._rows)
        self.distribution = np.bincount(np.minimum(self.cn.ravel(), self.max_cn),
                                        minlength=self.max_cn + 1) / self.cn.size
        self.mean_cn = float(self.cn.mean())
        self.n_linkers = len(self.linkers)

    @property
    def per_metal_table(self):
        """Tidy per-metal table of the last frame: index, element, CN, tau4."""
        import pandas as pd
        return pd.DataFrame({"atom_index": self.metal_all, "element": self.metal_label,
                             "CN": self.cn[-1], "tau4": self.tau4[-1]})
