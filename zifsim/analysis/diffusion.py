"""Mean-squared displacement and self-diffusion coefficients per stage (streaming, constant memory).

MSD(t) of each element from the start of every stage (one time origin, so
memory does not grow), positions unwrapped with image flags and the
centre-of-mass drift removed. D = slope / 6 of a straight line fitted to the
second half of MSD(t) (the diffusive regime), in m²/s (1 Å²/ps = 1e-8 m²/s).
"""
from __future__ import annotations

import numpy as np

from zifsim.analysis.base import FrameAnalysis
from zifsim.analysis.trajectory import Frame

__all__ = ["Diffusion"]

A2_PER_PS_TO_M2_PER_S = 1e-8


class Diffusion(FrameAnalysis):
    """MSD per element and stage; D per element for every stage.

    Results: ``msd`` DataFrame (stage, time_ps, temp_K, msd_<El>_A2), ``table``
    DataFrame (stage, element, temp_K, D_m2s, fit_window_ps, n_frames).
    """

    def _prepare(self, frame: Frame) -> None:
        from ase.data import atomic_masses, atomic_numbers
        self.elements = sorted(set(frame.elements.tolist()))
        self.masks = {e: frame.elements == e for e in self.elements}
        self.masses = np.array([atomic_masses[atomic_numbers[e]] if e in atomic_numbers else 1.0
                                for e in frame.elements])
        self._stage = None
        self._rows = []

    def _single_frame(self, frame: Frame) -> None:
        u = frame.unwrapped()
        com = self.masses @ u / self.masses.sum()
        if frame.stage != self._stage:
            self._stage, self._u0, self._com0, self._t0 = frame.stage, u.copy(), com, frame.time_ps
        disp = (u - self._u0) - (com - self._com0)
        d2 = np.einsum("ij,ij->i", disp, disp)
        row = {"stage": frame.stage, "time_ps": frame.time_ps - self._t0, "temp_K": frame.temp_K}
        row.update({f"msd_{e}_A2": float(d2[m].mean()) for e, m in self.masks.items()})
        self._rows.append(row)

    def _conclude(self) -> None:
        import pandas as pd
        self.msd = pd.DataFrame(self._rows)
        rows = []
        for stage, sub in self.msd.groupby("stage", sort=False):
            half = sub[sub.time_ps >= sub.time_ps.max() / 2]
            for e in self.elements:
                d = np.nan
                if len(half) >= 3 and half.time_ps.std() > 0:
                    slope = np.polyfit(half.time_ps, half[f"msd_{e}_A2"], 1)[0]
                    d = slope / 6 * A2_PER_PS_TO_M2_PER_S
                rows.append({"stage": stage, "element": e, "temp_K": float(sub.temp_K.mean()), "D_m2s": d,
                             "fit_window_ps": float(half.time_ps.max() - half.time_ps.min()) if len(half) else 0.0,
                             "n_frames": len(sub)})
        self.table = pd.DataFrame(rows, columns=["stage", "element", "temp_K", "D_m2s", "fit_window_ps",
                                                 "n_frames"])
