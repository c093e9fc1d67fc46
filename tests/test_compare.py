"""Comparison with the registry's experimental facts: table, units, plots, report.md."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from zifsim.cli import main
from zifsim.compare.report import COLUMNS, comparison_table, load_summaries
from zifsim.errors import InputError


def summary(material="ZIF-4", **kw):
    s = {"material": material, "protocol": "melt_quench", "replica": 1, "kind": "run", "n_frames": 10,
         "stage_directions": {"heat": "heating", "quench": "cooling"},
         "Tm_K": 1400.0, "Tm_err_K": 60.0, "Tg_cooling_K": 700.0, "Tg_cooling_err_K": 20.0,
         "Tg_reheating_K": None, "density_gcm3_first": 1.21, "density_gcm3_last": 1.33,
         "mean_tau4_first_stage": 0.96, "MM_peaks_first_stage_A": [5.95, 8.8],
         "n_metals": 16, "volume_A3_first": 4373.3, "FSDP_first_stage_invA": None,
         "mean_CN_first_stage": 4.0, "mean_CN_last_stage": 3.9}
    s.update(kw)
    return s


def write_adir(path, s):
    path.mkdir(parents=True)
    (path / "summary.json").write_text(json.dumps(s))
    return path


@pytest.fixture(scope="module")
def registry():
    try:
        from zifsim.registry import load_registry
        return load_registry()
    except Exception as exc:
        pytest.skip(f"materials registry unavailable: {exc}")


def test_table_matches_facts_and_converts_units(registry):
    t = comparison_table([summary(), summary(replica=2, Tm_K=1500.0)], registry)
    assert list(t.columns) == COLUMNS
    tm = t[t.quantity == "Tm_C"].iloc[0]
    assert tm.simulated == pytest.approx(1450 - 273.15)  # mean of the replicas, in °C
    assert tm.simulated_err == pytest.approx(50.0)  # standard error: sd 70.7 / sqrt(2)
    assert tm.experimental == 590 and tm.unit == "°C" and tm.reference.startswith("MH22")
    assert tm.n_runs == 2
    tg = t[t.quantity == "Tg_C"].iloc[0]
    assert tg.simulated == pytest.approx(700 - 273.15) and "cooling" in tg.simulated_from
    # a [low, high] fact: midpoint plus both ends
    fp = t[t.quantity == "Tm_simulated_FPMD_C"].iloc[0]
    assert (fp.experimental_low, fp.experimental_high, fp.experimental) == (727, 1227, 977)


def test_unknown_material_gives_no_rows(registry):
    assert comparison_table([summary(material="not-a-zif")], registry).empty


def test_cd_metal_metal_peaks(registry):
    s = summary(material="Cd-im2", MM_peaks_first_stage_A=[5.25, 6.45, 6.85, 9.0])
    t = comparison_table([s], registry).set_index("quantity")
    assert t.loc["MM_across_linker_A", "simulated"] == pytest.approx(6.45)
    assert t.loc["MM_internetwork_short_A", "simulated"] == pytest.approx(5.25)
    assert t.loc["MM_internetwork_long_A", "simulated"] == pytest.approx(6.85)


def test_report_cli_writes_table_plots_and_markdown(tmp_path, registry):
    a = write_adir(tmp_path / "a", summary())
    b = write_adir(tmp_path / "b", summary(material="ZIF-62", Tm_K=1300.0))
    out = tmp_path / "report"
    assert main(["report", str(a), str(b), "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert set(table.material) == {"ZIF-4", "ZIF-62"}
    for name in ("comparison.png", "comparison_ZIF-4.png", "comparison_ZIF-62.png", "overlay_ZIF-4.png",
                 "quantity_Tm_C.png"):
        assert (out / name).stat().st_size > 1000, name
    md = (out / "report.md").read_text()
    assert "ReaxFF is known to overestimate Tm" in md
    assert "above experiment" in md  # 1127 °C simulated vs 590 °C measured
    assert "## ZIF-62" in md and "[MH22]" in md


def test_missing_summary_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no summary.json"):
        load_summaries([tmp_path])


def test_diffusion_matched_to_the_fpmd_temperature(registry):
    s = summary(stage_directions={"heat": "heating", "melt": "isothermal", "quench": "cooling"},
                metals=["Zn"],
                diffusion=[{"stage": "melt", "element": "Zn", "temp_K": 1495.0, "D_m2s": 3e-10, "fit_window_ps": 0.5},
                           {"stage": "melt", "element": "N", "temp_K": 1495.0, "D_m2s": 2e-10, "fit_window_ps": 0.5},
                           {"stage": "heat", "element": "Zn", "temp_K": 900.0, "D_m2s": 1e-11, "fit_window_ps": 0.5}])
    t = comparison_table([s], registry).set_index("quantity")
    assert t.loc["D_Zn_1227C_FPMD_m2s", "simulated"] == pytest.approx(3e-10)
    assert t.loc["D_Zn_1227C_FPMD_m2s", "experimental"] == pytest.approx(7.7e-10)
    assert t.loc["D_im_1227C_FPMD_m2s", "simulated"] == pytest.approx(2e-10)
    # no isothermal stage near 1500 K: no row
    s2 = summary(diffusion=[{"stage": "heat", "element": "Zn", "temp_K": 1500.0, "D_m2s": 1e-9,
                             "fit_window_ps": 0.5}])
    assert "D_Zn_1227C_FPMD_m2s" not in set(comparison_table([s2], registry).quantity)


def test_melting_note_names_the_force_models_used():
    from zifsim.compare.report import MLIP_TM_NOTE, REAXFF_TM_NOTE, melting_note
    assert melting_note([{"provider": "reaxff:ffield_ZnN_2016"}]) == REAXFF_TM_NOTE
    assert melting_note([{"provider": "mlip:chgnet-0.3.0+d3bj"}]) == MLIP_TM_NOTE
    both = melting_note([{"provider": "reaxff:ffield_ZnN_2016"}, {"provider": "mlip:chgnet-0.3.0+d3bj"}])
    assert "ReaxFF" in both and "CHGNet" in both and both.count("upper bounds") == 1
    assert "ReaxFF" not in MLIP_TM_NOTE


def test_fsdp_glass_fact_only_from_a_quenched_run(registry):
    """The ZIF-4 FSDP fact (1.11 1/Å) is of the glass: a quenched run's last frame answers it, a crystal does not."""
    glass = summary(FSDP_first_stage_invA=0.78, FSDP_last_stage_invA=1.05)
    t = comparison_table([glass], registry).set_index("quantity")
    assert t.loc["FSDP_glass_invA", "simulated"] == pytest.approx(1.05)
    assert "after the quench" in t.loc["FSDP_glass_invA", "simulated_from"]
    crystal = summary(kind="structure", stage_directions={}, FSDP_first_stage_invA=0.78, FSDP_last_stage_invA=0.78)
    assert "FSDP_glass_invA" not in set(comparison_table([crystal], registry).quantity)
