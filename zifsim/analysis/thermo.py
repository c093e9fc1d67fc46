"""Thermodynamics from thermo tables: V/ρ/H vs T, Tg by a two-line fit, onsets, cold crystallisation.

Every function works on plain arrays (K, Å³, eV, g/cm³) so it can be used
from a notebook on any table.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from zifsim.errors import InputError

__all__ = ["two_line_fit", "classify_stages", "read_run_thermo", "binned", "onset_temperature",
           "cold_crystallisation", "ThermoAnalysis"]


def binned(T: np.ndarray, y: np.ndarray, width_K: float = 10.0):
    """Average ``y`` in temperature bins of ``width_K`` (K); returns (T_mean, y_mean, count)."""
    T, y = np.asarray(T, float), np.asarray(y, float)
    ok = np.isfinite(T) & np.isfinite(y)
    T, y = T[ok], y[ok]
    if len(T) == 0:
        return np.array([]), np.array([]), np.array([])
    k = np.floor((T - T.min()) / width_K).astype(int)
    n = np.bincount(k)
    keep = n > 0
    tm = np.bincount(k, T)[keep] / n[keep]
    ym = np.bincount(k, y)[keep] / n[keep]
    return tm, ym, n[keep]


def _hinge_sse(T, y, tb):
    X = np.column_stack([np.ones_like(T), T - tb, np.maximum(T - tb, 0.0)])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    return float(resid @ resid), coef


def two_line_fit(T: np.ndarray, y: np.ndarray, min_points: int = 4, n_grid: int = 200) -> dict:
    """Continuous two-line (hinge) fit of y(T); the break is the glass transition Tg (K).

    Returns Tg_K, Tg_err_K (68 % interval half-width from the profile of the
    residual sum of squares, ΔSSE = σ²; an underestimate for correlated MD
    data), slopes below / above the break (units of y per K) and their ratio.
    """
    T, y = np.asarray(T, float), np.asarray(y, float)
    ok = np.isfinite(T) & np.isfinite(y)
    T, y = T[ok], y[ok]
    order = np.argsort(T)
    T, y = T[order], y[order]
    if len(T) < 2 * min_points + 1:
        return {"Tg_K": None, "Tg_err_K": None, "note": f"only {len(T)} points (need {2 * min_points + 1})"}
    lo, hi = T[min_points - 1], T[-min_points]
    grid = np.linspace(lo, hi, n_grid)
    sse = np.array([_hinge_sse(T, y, tb)[0] for tb in grid])
    i = int(np.argmin(sse))
    from scipy.optimize import minimize_scalar
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
    res = minimize_scalar(lambda tb: _hinge_sse(T, y, tb)[0], bounds=(a, b), method="bounded")
    tg = float(res.x)
    sse_min, coef = _hinge_sse(T, y, tg)
    sse_lin = float(np.sum((y - np.polyval(np.polyfit(T, y, 1), T)) ** 2))
    sigma2 = sse_min / max(len(T) - 4, 1)
    inside = grid[sse <= sse_min + sigma2]
    err = float(max(tg - inside.min(), inside.max() - tg)) if len(inside) else float("nan")
    err = max(err, (grid[1] - grid[0]) / 2)
    slope_lo, slope_hi = float(coef[1]), float(coef[1] + coef[2])
    # is the kink significant? F-test of hinge vs single line
    f_stat = (sse_lin - sse_min) / (sigma2 * 2) if sigma2 > 0 else np.inf
    return {"Tg_K": tg, "Tg_err_K": err, "slope_below": slope_lo, "slope_above": slope_hi,
            "slope_ratio": slope_hi / slope_lo if slope_lo else None, "F_kink": float(f_stat),
            "significant": bool(f_stat > 10.0), "n_points": int(len(T)),
            "T_range_K": [float(T[0]), float(T[-1])]}


def _protocol_direction(stage: dict) -> str | None:
    """'heating' / 'cooling' / 'isothermal' from a resolved protocol stage, None if it does not say."""
    t0 = stage.get("T_start_K")
    t1 = stage.get("T_stop_K", stage.get("T_end_K"))
    if t0 is not None and t1 is not None:
        if t1 > t0 + 50:
            return "heating"
        if t1 < t0 - 50:
            return "cooling"
        return "isothermal"
    if stage.get("type") == "quench":
        return "cooling"
    if stage.get("type") in ("minimise", "equilibrate", "hold", "shear", "compress", "press", "mill"):
        return "isothermal"
    return None


def classify_stages(thermo, protocol_stages: list[dict] | None = None) -> dict:
    """Direction of every stage: 'heating', 'cooling', 'reheating' (heating after a cooling) or 'isothermal'.

    Taken from the resolved protocol (T_start_K / T_stop_K, type) when given;
    otherwise from the temperature trend in the thermo table (mean of the
    last vs first quarter differing by > 50 K, and T monotonic in time with a
    rank correlation > 0.8, so a thermostat relaxing at the start of an NVT
    stage is not read as a quench).
    """
    from scipy.stats import spearmanr
    by_name = {st.get("name"): st for st in (protocol_stages or []) if isinstance(st, dict)}
    out = {}
    cooled = False
    for stage, tab in thermo.groupby("stage", sort=False):
        direction = _protocol_direction(by_name[stage]) if stage in by_name else None
        if direction is None:
            T = tab["temp_K"].to_numpy(float)
            n = max(len(T) // 4, 1)
            dT = np.nanmean(T[-n:]) - np.nanmean(T[:n])
            rho = spearmanr(np.arange(len(T)), T).statistic if len(T) > 3 and np.nanstd(T) > 0 else 0.0
            if dT > 50 and rho > 0.8:
                direction = "heating"
            elif dT < -50 and rho < -0.8:
                direction = "cooling"
            else:
                direction = "isothermal"
        if direction == "heating" and cooled:
            direction = "reheating"
        if direction == "cooling":
            cooled = True
        out[stage] = direction
    return out


def read_run_thermo(rundir):
    """RUNDIR/thermo.csv (all stages) as a DataFrame; falls back to the stage tables."""
    import pandas as pd
    rundir = Path(rundir)
    path = rundir / "thermo.csv"
    if path.is_file():
        tab = pd.read_csv(path)
    else:
        parts = []
        for sdir in sorted(rundir.glob("[0-9][0-9]-*")):
            if (sdir / "thermo.csv").is_file():
                t = pd.read_csv(sdir / "thermo.csv")
                t["stage"] = sdir.name
                parts.append(t)
        if not parts:
            raise InputError("no thermo.csv", source=rundir,
                             fix="give a run directory written by `zifsim run`")
        tab = pd.concat(parts, ignore_index=True)
    # the run-level table may label stages by folder ("03-heat"): use the stage names
    # of metadata.json ("heat"), as the trajectory frames do
    try:
        from zifsim.analysis.trajectory import run_stages
        names = {st["dir"].name: st["name"] for st in run_stages(rundir)}
        if "stage" in tab:
            tab["stage"] = tab["stage"].astype(str).map(lambda v: names.get(v, v))
    except InputError:
        pass
    for col in ("temp_K", "stage"):
        if col not in tab:
            raise InputError(f"thermo table has no '{col}' column", source=path, where="header",
                             fix="columns as in docs/architecture.md §2")
    return tab


def onset_temperature(T: np.ndarray, y: np.ndarray, baseline_frac: float = 0.25, n_sigma: float = 3.0,
                      width_K: float = 25.0, direction: int = 1) -> float | None:
    """First T (K) where binned y leaves its low-T linear baseline by n_sigma and stays out.

    ``direction`` +1 looks for a rise (Lindemann ratio), -1 for a drop (mean CN).
    """
    tb, yb, _ = binned(T, y, width_K)
    if len(tb) < 6:
        return None
    nb = max(3, int(len(tb) * baseline_frac))
    coef = np.polyfit(tb[:nb], yb[:nb], 1)
    resid = yb - np.polyval(coef, tb)
    sigma = max(np.std(resid[:nb], ddof=1), 1e-12)
    out = direction * resid > n_sigma * sigma
    for i in range(nb, len(tb)):
        if out[i:].all():
            return float(tb[i])
    return None


def cold_crystallisation(T: np.ndarray, H: np.ndarray, width_K: float = 20.0, n_sigma: float = 4.0) -> dict:
    """Exothermic event on reheating: a drop of H(T) (eV) below the glass line.

    Fits the lowest third of binned H(T) linearly (the glass), returns the onset
    T (K) where H falls n_sigma below it, the T of the steepest fall and the
    enthalpy released (eV, at the end of the drop), or None values.
    """
    tb, hb, _ = binned(T, H, width_K)
    out = {"onset_K": None, "peak_K": None, "delta_H_eV": None}
    if len(tb) < 9:
        return out
    nb = len(tb) // 3
    coef = np.polyfit(tb[:nb], hb[:nb], 1)
    resid = hb - np.polyval(coef, tb)
    sigma = max(np.std(resid[:nb], ddof=1), 1e-12)
    slope = np.gradient(hb, tb)
    below = np.flatnonzero(resid < -n_sigma * sigma)
    if len(below) and np.min(slope[nb:]) < 0:
        out["onset_K"] = float(tb[below[0]])
        i = nb + int(np.argmin(slope[nb:]))
        out["peak_K"] = float(tb[i])
        out["delta_H_eV"] = float(resid[below].min())
    return out


class ThermoAnalysis:
    """Tg (two-line fits of V and H on cooling and reheating) and cold crystallisation of a run.

    ``compute(thermo)`` takes the run's concatenated thermo DataFrame.
    Results: ``stages`` {stage: direction}, ``tg`` {stage: {volume: fit, enthalpy: fit}},
    ``cold_crystallisation`` {stage: dict}, ``table`` (T-binned V, ρ, H per stage).
    """

    def __init__(self, bin_K: float = 10.0):
        self.bin_K = bin_K

    def compute(self, thermo, protocol_stages: list[dict] | None = None):
        """Analyse a thermo DataFrame (columns of docs/architecture.md §2 + stage); returns self.

        ``protocol_stages``: the resolved protocol's stages (metadata.json), used to
        tell heating / cooling / isothermal stages apart.
        """
        import pandas as pd
        self.stages = classify_stages(thermo, protocol_stages)
        self.tg, self.cold_crystallisation = {}, {}
        rows = []
        for stage, tab in thermo.groupby("stage", sort=False):
            T = tab["temp_K"].to_numpy(float)
            cols = {}
            for q in ("volume_A3", "density_gcm3", "enthalpy_eV", "pe_eV"):
                if q in tab:
                    tb, yb, nb = binned(T, tab[q].to_numpy(float), self.bin_K)
                    cols[q] = (tb, yb)
            if "volume_A3" in cols:
                tb = cols["volume_A3"][0]
                part = pd.DataFrame({"stage": stage, "direction": self.stages[stage], "temp_K": tb})
                for q, (_, yb) in cols.items():
                    part[q] = yb
                rows.append(part)
            if self.stages[stage] in ("cooling", "reheating"):
                fits = {}
                for q, label in (("volume_A3", "volume"), ("enthalpy_eV", "enthalpy")):
                    if q in cols and np.nanstd(cols[q][1]) > 1e-9 * abs(np.nanmean(cols[q][1])):
                        fits[label] = two_line_fit(*cols[q])
                self.tg[stage] = fits
            if self.stages[stage] == "reheating" and "enthalpy_eV" in tab:
                self.cold_crystallisation[stage] = cold_crystallisation(T, tab["enthalpy_eV"].to_numpy(float))
        self.table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        return self

    def best_tg(self, direction: str = "cooling") -> dict | None:
        """The first significant Tg fit of a stage with this direction (volume preferred over enthalpy)."""
        for stage, fits in self.tg.items():
            if self.stages.get(stage) == direction:
                for label in ("volume", "enthalpy"):
                    fit = fits.get(label)
                    if fit and fit.get("Tg_K") is not None and fit.get("significant"):
                        return dict(fit, stage=stage, quantity=label)
        return None
