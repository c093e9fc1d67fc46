"""Which simulated number answers which experimental fact of the registry.

Each rule maps a registry fact key (regular expression) to a function of one
analysis ``summary.json`` returning ``(value, error, note)`` in the fact's
unit (°C, g/cm³, Å, 1/Å, %, 1/nm³), or None when the run has no such number.
"""
from __future__ import annotations

import re

import numpy as np

__all__ = ["RULES", "simulated_for", "K_TO_C", "has_cooling"]

K_TO_C = 273.15


def has_cooling(summary: dict) -> bool:
    """True when the run contains a cooling stage (so the last frame is a quenched glass)."""
    return any(d == "cooling" for d in (summary.get("stage_directions") or {}).values())


def _temp(key, note):
    def f(s, fact):
        v = s.get(key)
        if v is None:
            return None
        err = s.get(key.replace("_K", "_err_K")) if key.endswith("_K") else None
        return v - K_TO_C, err, note
    return f


def _tg(s, fact):
    for key, label in (("Tg_reheating_K", "two-line fit of V or H(T) on reheating"),
                       ("Tg_cooling_K", "two-line fit of V or H(T) on cooling")):
        if s.get(key) is not None:
            err = s.get("Tg_cooling_err_K") if key == "Tg_cooling_K" else None
            return s[key] - K_TO_C, err, label
    return None


def _density_first(s, fact):
    v = s.get("density_gcm3_first")
    return (v, None, "first frame (crystal as built / start of run)") if v is not None else None


def _density_glass(s, fact):
    if s.get("kind") != "run" or not has_cooling(s):
        return None
    return s.get("density_gcm3_last"), None, "last frame after the quench"


def _tau4(s, fact):
    v = s.get("mean_tau4_first_stage")
    return (v, None, "mean tau4 of 4-coordinated metals, first stage") if v is not None and np.isfinite(v) else None


def _mm_peak(s, fact):
    peaks = s.get("MM_peaks_first_stage_A") or []
    if not peaks:
        return None
    target = fact.mid
    best = min(peaks, key=lambda r: abs(r - target))
    if abs(best - target) > 0.6:
        return np.nan, None, f"no M...M peak within 0.6 Å (peaks at {', '.join(f'{p:.2f}' for p in peaks)})"
    return best, None, "nearest M...M peak of g(r), first stage"


def _fsdp(s, fact):
    """Crystal FSDP: the first frame (the crystal as built); never a quenched glass."""
    v = s.get("FSDP_first_stage_invA")
    return (v, None, "max of the X-ray S(Q) of the first frame (crystal; powder average over the cell's "
                     "reciprocal lattice) in 0.6-2 1/Å") if v is not None else None


def _fsdp_glass(s, fact):
    """Glass FSDP: the last frame of a run that was quenched (glass with glass)."""
    if s.get("kind") != "run" or not has_cooling(s):
        return None
    v = s.get("FSDP_last_stage_invA")
    return (v, None, "max of the X-ray S(Q) of the last frame after the quench (powder average over the cell's "
                     "reciprocal lattice) in 0.6-2 1/Å") if v is not None else None


def _pores(frame_label, probe, kind, require_glass=False):
    def f(s, fact):
        p = s.get("pores") or {}
        if require_glass and (s.get("kind") != "run" or not has_cooling(s)):
            return None
        grid = (p.get(frame_label) or {}).get("grid") or {}
        v = (grid.get(kind) or {}).get(probe)
        if v is None:
            return None
        r = (p.get("probe_radii_A") or {}).get(probe)
        what = {"occupiable_fraction": "probe-occupiable volume (Ongari 2017), all pores",
                "probe_centre_fraction": "probe-centre volume (Zeo++ AV + NAV), all pores"}.get(
                    kind, kind.replace("_", " "))
        return 100 * v, None, f"{what}, probe radius {r} Å, Zeo++ radii, {frame_label} frame"
    return f


def _diffusion(element_kind):
    """D (m²/s) of the metal (or N, as a proxy for the linker) in an isothermal stage at the fact's T."""
    def f(s, fact):
        import re as _re
        m = _re.search(r"_(\d+)C_", fact.key)
        if not m:
            return None
        target_K = float(m.group(1)) + K_TO_C
        dirs = s.get("stage_directions") or {}
        metals = s.get("metals") or []
        el = metals[0] if element_kind == "metal" and metals else "N"
        best = None
        for row in s.get("diffusion") or []:
            if row.get("element") != el or dirs.get(row.get("stage")) != "isothermal":
                continue
            if row.get("D_m2s") is None or not np.isfinite(row["D_m2s"]):
                continue
            if abs(row["temp_K"] - target_K) <= 100 and (best is None or row["fit_window_ps"] > best["fit_window_ps"]):
                best = row
        if best is None:
            return None
        what = el if element_kind == "metal" else "N atoms (proxy for the linker)"
        note = (f"MSD slope/6 of {what}, stage {best['stage']} at {best['temp_K']:.0f} K, "
                f"fit over {best['fit_window_ps']:.2g} ps")
        if best["fit_window_ps"] < 5:
            note += " (too short for the diffusive regime: an upper bound dominated by fast local motion)"
        return best["D_m2s"], None, note
    return f


def _metal_density(s, fact):
    n, v = s.get("n_metals"), s.get("volume_A3_first")
    return (1000.0 * n / v, None, "metals per nm³, first frame") if n and v else None


#: (fact-key pattern, function(summary, fact) -> (value, err, note) | None)
RULES = [
    (r"Tm_C", _temp("Tm_K", "Lindemann ratio (metals) crossing 0.10-0.15 on heating")),
    (r"Tm_simulated_FPMD_C", _temp("Tm_K", "Lindemann ratio (metals) crossing 0.10-0.15 on heating")),
    (r"Tg_C", _tg),
    (r"T_recrystallisation_C", _temp("cold_crystallisation_K", "enthalpy drop on reheating (onset)")),
    (r"T_undercoordination_FPMD_C", _temp("cn_onset_K", "onset of the mean-CN drop on heating")),
    (r"density_(gcm3|crystallographic_gcm3|dft_ordered_gcm3)", _density_first),
    (r"density_glass_(skeletal|envelope)_gcm3", _density_glass),
    (r"tau4", _tau4),
    (r"MM_.*_A", _mm_peak),
    (r"FSDP_crystal_invA", _fsdp),
    (r"FSDP_glass_invA", _fsdp_glass),
    (r"porous_volume_glass_percent", _pores("last", "He", "probe_centre_fraction", require_glass=True)),
    (r"void_fraction_percent", _pores("first", "X24", "occupiable_fraction")),
    (r"metal_density_per_nm3", _metal_density),
    (r"D_Zn_\d+C_FPMD_m2s", _diffusion("metal")),
    (r"D_im_\d+C_FPMD_m2s", _diffusion("linker")),
]


def simulated_for(fact, summary: dict):
    """(value, err, note) of the simulated counterpart of a registry Fact, or None."""
    for pattern, func in RULES:
        if re.fullmatch(pattern, fact.key):
            return func(summary, fact)
    return None
