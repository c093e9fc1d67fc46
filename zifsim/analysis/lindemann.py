"""Lindemann ratios over sliding windows of a trajectory, and the melting estimate.

(a) Per-atom ratio: RMS displacement of each atom about its time-averaged
    position within a window (positions unwrapped with image flags, centre-of-
    mass drift removed), divided by the mean nearest M...M distance (Å/Å).
(b) Generalised (pair) Lindemann index of the selected atoms (default the
    metals): δ_i = <sqrt(<r_ij²> - <r_ij>²) / <r_ij>>_j, pair vectors followed
    continuously from their minimum image at the window start.

Windows are ``window`` frames long and start every ``stride`` frames, within
one stage; only running sums are kept, so memory does not grow with frames.
"""
from __future__ import annotations

import numpy as np

from zifsim.analysis.base import FrameAnalysis
from zifsim.structures.chemistry import METALS, metals_in
from zifsim.analysis.trajectory import Frame
from zifsim.errors import InputError

__all__ = ["Lindemann", "melting_estimate", "nearest_distance"]


def nearest_distance(frame: Frame, idx: np.ndarray) -> float:
    """Mean nearest-neighbour distance (Å, minimum image) among the atoms ``idx``."""
    import freud
    if len(idx) < 2:
        return float("nan")
    box = frame.freud_box()
    pos = frame.freud_positions()[idx]
    nl = freud.locality.AABBQuery(box, pos).query(
        pos, {"num_neighbors": 1, "exclude_ii": True}).toNeighborList()
    return float(nl.distances.mean())


class _Window:
    """Running sums of one window."""

    def __init__(self, frame: Frame, u: np.ndarray, sel: np.ndarray, d_mm: float, with_pairs: bool):
        self.n = 0
        self.step0 = frame.step
        self.u0 = u.copy()
        self.sum_u = np.zeros_like(u)
        self.sum_u2 = np.zeros(len(u))
        self.sum_T = self.sum_t = 0.0
        self.T_min, self.T_max = np.inf, -np.inf
        self.d_mm = d_mm
        self.with_pairs = with_pairs
        if with_pairs:
            pos = frame.freud_positions()[sel]
            vec = pos[None, :, :] - pos[:, None, :]
            vec = frame.freud_box().wrap(vec.reshape(-1, 3)).reshape(vec.shape)
            self.pair0 = vec
            self.sum_r = np.zeros(vec.shape[:2])
            self.sum_r2 = np.zeros(vec.shape[:2])

    def add(self, frame: Frame, u: np.ndarray, sel: np.ndarray) -> None:
        self.n += 1
        self.sum_u += u
        self.sum_u2 += np.einsum("ij,ij->i", u, u)
        T = frame.temp_K
        self.sum_T += T
        self.sum_t += frame.time_ps
        self.T_min, self.T_max = min(self.T_min, T), max(self.T_max, T)
        if self.with_pairs:
            du = u[sel] - self.u0[sel]
            vec = self.pair0 + du[None, :, :] - du[:, None, :]
            r = np.sqrt(np.einsum("ijk,ijk->ij", vec, vec))
            self.sum_r += r
            self.sum_r2 += r * r


class Lindemann(FrameAnalysis):
    """Sliding-window Lindemann ratios (per-atom RMS / d_MM, and pair index).

    Parameters
    ----------
    window : frames per window (≥ 2).
    stride : frames between window starts (default ``window``: no overlap).
    pair_elements : elements for the pair index (default the metals); None-like
        empty tuple switches it off.

    Results
    -------
    table : DataFrame, one row per window: stage, step0, time_ps, temp_K, T_min_K,
        T_max_K, d_MM_A, lindemann_metal, lindemann_all, pair_index.
    per_atom_last : (N,) ratio of every atom in the last window.
    """

    def __init__(self, window: int = 20, stride: int | None = None, pair_elements=None,
                 max_pair_atoms: int = 1024):
        super().__init__()
        if window < 2:
            raise InputError(f"Lindemann window of {window} frames", where="window",
                             fix="use a window of at least 2 frames (10-50 is typical)")
        self.window = int(window)
        self.stride = int(stride or window)
        self.pair_elements = pair_elements
        self.max_pair_atoms = max_pair_atoms

    def _prepare(self, frame: Frame) -> None:
        from ase.data import atomic_masses, atomic_numbers
        self.masses = np.array([atomic_masses[atomic_numbers[e]] if e in atomic_numbers else 1.0
                                for e in frame.elements])
        self.metal_mask = np.isin(frame.elements, list(METALS))
        pe = self.pair_elements
        if pe is None:
            pe = metals_in(np.unique(frame.elements))
        self.pair_sel = np.flatnonzero(np.isin(frame.elements, list(pe)))
        self.with_pairs = 1 < len(self.pair_sel) <= self.max_pair_atoms
        self.norm_sel = np.flatnonzero(self.metal_mask) if self.metal_mask.any() else np.arange(frame.n_atoms)
        self._rows = []
        self.per_atom_last = None
        self._stage = None

    def _start_stage(self, frame: Frame) -> None:
        self._stage = frame.stage
        self._count = 0
        self._active: list[_Window] = []
        self._com0 = None

    def _single_frame(self, frame: Frame) -> None:
        if frame.stage != self._stage or self._count == 0 and self._stage is None:
            self._start_stage(frame)
        u = frame.unwrapped()
        com = self.masses @ u / self.masses.sum()
        if self._com0 is None:
            self._com0 = com
        u = u - (com - self._com0)
        if self._count % self.stride == 0:
            self._active.append(_Window(frame, u, self.pair_sel, float("nan"), self.with_pairs))
        for w in self._active:
            w.add(frame, u, self.pair_sel)
        done = [w for w in self._active if w.n >= self.window]
        for w in done:
            self._close(w, frame)
        self._active = [w for w in self._active if w.n < self.window]
        self._count += 1

    def _close(self, w: _Window, frame: Frame) -> None:
        import dataclasses
        stage = frame.stage
        mean_u = w.sum_u / w.n
        # nearest M...M distance of the time-averaged structure (thermal noise averaged out)
        avg = dataclasses.replace(frame, positions=mean_u, origin=np.zeros(3))
        w.d_mm = nearest_distance(avg, self.norm_sel)
        msd = np.maximum(w.sum_u2 / w.n - np.einsum("ij,ij->i", mean_u, mean_u), 0.0)
        ratio = np.sqrt(msd) / w.d_mm
        self.per_atom_last = ratio
        row = {"stage": stage, "step0": w.step0, "n_frames": w.n, "time_ps": w.sum_t / w.n,
               "temp_K": w.sum_T / w.n, "T_min_K": w.T_min, "T_max_K": w.T_max, "d_MM_A": w.d_mm,
               "lindemann_metal": float(ratio[self.metal_mask].mean()) if self.metal_mask.any() else np.nan,
               "lindemann_all": float(ratio.mean())}
        if w.with_pairs:
            mean_r = w.sum_r / w.n
            var = np.maximum(w.sum_r2 / w.n - mean_r ** 2, 0.0)
            m = len(self.pair_sel)
            off = ~np.eye(m, dtype=bool)
            q = np.zeros_like(mean_r)
            q[off] = np.sqrt(var[off]) / mean_r[off]
            row["pair_index"] = float((q.sum(axis=1) / (m - 1)).mean())
        else:
            row["pair_index"] = np.nan
        self._rows.append(row)

    def _conclude(self) -> None:
        import pandas as pd
        cols = ["stage", "step0", "n_frames", "time_ps", "temp_K", "T_min_K", "T_max_K", "d_MM_A",
                "lindemann_metal", "lindemann_all", "pair_index"]
        self.table = pd.DataFrame(self._rows, columns=cols)


def melting_estimate(temp_K: np.ndarray, ratio: np.ndarray, thresholds=(0.10, 0.15),
                     T_span_K: np.ndarray | None = None) -> dict:
    """Tm (K) where a Lindemann ratio first crosses the thresholds on heating.

    The windows are taken in the order given (time order on a heating ramp);
    a crossing is the first window at or above the threshold after which the
    ratio never returns below it, interpolated linearly in T. Tm is the mean
    of the crossings at the lowest and highest threshold and its uncertainty
    half their distance, combined in quadrature with half the T span of a window.
    """
    temp_K = np.asarray(temp_K, float)
    ratio = np.asarray(ratio, float)
    ok = np.isfinite(temp_K) & np.isfinite(ratio)
    temp_K, ratio = temp_K[ok], ratio[ok]
    out = {"thresholds": list(thresholds), "crossings_K": {}, "Tm_K": None, "Tm_err_K": None,
           "note": ""}
    if len(ratio) < 2:
        out["note"] = "fewer than 2 windows on heating"
        return out
    for thr in thresholds:
        below = np.flatnonzero(ratio < thr)
        if len(below) == 0:
            out["crossings_K"][str(thr)] = None
            out["note"] += f"ratio above {thr} from the first window; "
            continue
        last_below = below[-1]
        if last_below == len(ratio) - 1:
            out["crossings_K"][str(thr)] = None
            out["note"] += f"ratio stays below {thr} up to {temp_K.max():.0f} K; "
            continue
        i, j = last_below, last_below + 1
        f = (thr - ratio[i]) / (ratio[j] - ratio[i])
        out["crossings_K"][str(thr)] = float(temp_K[i] + f * (temp_K[j] - temp_K[i]))
    c = [out["crossings_K"][str(t)] for t in thresholds]
    span = float(np.nanmedian(T_span_K)) / 2 if T_span_K is not None and len(T_span_K) else 0.0
    if c[0] is not None and c[-1] is not None:
        out["Tm_K"] = 0.5 * (c[0] + c[-1])
        out["Tm_err_K"] = float(np.hypot(0.5 * abs(c[-1] - c[0]), span))
    elif c[0] is not None:
        out["Tm_K"] = c[0]
        out["Tm_err_K"] = None
        out["note"] += "Tm is a lower bound (upper threshold not reached)"
    return out
