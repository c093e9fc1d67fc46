"""Tg two-line fits, stage classification, onsets and cold crystallisation on synthetic tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zifsim.analysis.thermo import (ThermoAnalysis, classify_stages, cold_crystallisation,
                                    onset_temperature, two_line_fit)


def kinked(T, tg, slope_lo, slope_hi, noise, seed=0):
    rng = np.random.default_rng(seed)
    return 1000 + slope_lo * (T - tg) + (slope_hi - slope_lo) * np.maximum(T - tg, 0) + rng.normal(0, noise, T.size)


@pytest.mark.parametrize("tg", [450.0, 612.5, 800.0])
def test_two_line_fit_recovers_a_known_kink(tg):
    T = np.linspace(300, 1000, 400)
    fit = two_line_fit(T, kinked(T, tg, 0.05, 0.20, noise=0.8))
    assert fit["significant"]
    assert abs(fit["Tg_K"] - tg) < max(3 * fit["Tg_err_K"], 10)
    assert fit["Tg_err_K"] < 25
    assert fit["slope_below"] == pytest.approx(0.05, abs=0.01)
    assert fit["slope_above"] == pytest.approx(0.20, abs=0.01)


def test_straight_line_has_no_significant_kink():
    T = np.linspace(300, 1000, 400)
    fit = two_line_fit(T, kinked(T, 600, 0.1, 0.1, noise=0.8))
    assert not fit["significant"]


def test_too_few_points():
    assert two_line_fit(np.arange(5.0), np.arange(5.0))["Tg_K"] is None


def thermo_table():
    """heat 300->1500, quench 1500->300 (kink at 700 K in V), reheat 300->1200."""
    rows = []
    rng = np.random.default_rng(4)
    for stage, t0, t1 in (("heat", 300, 1500), ("quench", 1500, 300), ("reheat", 300, 1200)):
        T = np.linspace(t0, t1, 300) + rng.normal(0, 5, 300)
        V = kinked(T, 700, 0.3, 1.2, noise=2.0, seed=len(rows)) + 4000
        H = -5000 + 0.02 * T + rng.normal(0, 0.3, T.size)
        rows.append(pd.DataFrame({"stage": stage, "temp_K": T, "volume_A3": V, "enthalpy_eV": H,
                                  "density_gcm3": 5300 / V}))
    return pd.concat(rows, ignore_index=True)


def test_thermo_analysis_of_a_melt_quench_reheat():
    t = thermo_table()
    assert classify_stages(t) == {"heat": "heating", "quench": "cooling", "reheat": "reheating"}
    ta = ThermoAnalysis(bin_K=10).compute(t)
    cool = ta.best_tg("cooling")
    assert cool["stage"] == "quench" and cool["quantity"] == "volume"
    assert cool["Tg_K"] == pytest.approx(700, abs=15)
    assert ta.best_tg("reheating")["Tg_K"] == pytest.approx(700, abs=15)
    assert set(ta.table.stage) == {"heat", "quench", "reheat"}
    # no exothermic event in a linear H(T)
    assert ta.cold_crystallisation["reheat"]["onset_K"] is None


def test_cold_crystallisation_detected():
    rng = np.random.default_rng(5)
    T = np.linspace(300, 900, 600)
    H = 0.01 * T - 0.8 / (1 + np.exp(-(T - 600) / 10)) + rng.normal(0, 0.02, T.size)  # drop at ~600 K
    cc = cold_crystallisation(T, H)
    assert cc["onset_K"] == pytest.approx(580, abs=40)
    assert cc["peak_K"] == pytest.approx(600, abs=25)
    assert cc["delta_H_eV"] < -0.5


def test_onset_of_a_cn_drop():
    rng = np.random.default_rng(6)
    T = np.linspace(300, 2000, 800)
    cn = 4.0 - 0.3 * np.clip((T - 1200) / 800, 0, None) + rng.normal(0, 0.005, T.size)
    assert onset_temperature(T, cn, direction=-1) == pytest.approx(1200, abs=60)


def test_stage_directions_from_the_protocol_and_robust_trend():
    rng = np.random.default_rng(8)
    # NVT at 300 K that starts hot (velocities at 600 K relax within a few steps): not a quench
    T_nvt = np.concatenate([[600, 450, 380], 300 + rng.normal(0, 10, 60)])
    t = pd.DataFrame({"stage": ["nvt"] * len(T_nvt) + ["heat"] * 50,
                      "temp_K": np.concatenate([T_nvt, np.linspace(300, 400, 50) + rng.normal(0, 5, 50)])})
    assert classify_stages(t) == {"nvt": "isothermal", "heat": "heating"}
    proto = [{"name": "nvt", "type": "equilibrate", "temperature_K": 300},
             {"name": "heat", "type": "ramp", "T_start_K": 300, "T_stop_K": 400}]
    assert classify_stages(t, proto) == {"nvt": "isothermal", "heat": "heating"}
    proto[1] = {"name": "heat", "type": "quench", "T_start_K": 1500, "T_stop_K": 300}
    assert classify_stages(t, proto)["heat"] == "cooling"
