"""The report scores every run of a material against its measured X-ray files (config `experiments`)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from zifsim.errors import InputError


@pytest.fixture(scope="module")
def zif4_analysis(tmp_path_factory):
    """`zifsim analyse` of the ZIF-4 crystal (pores off) and a 'measured' D(r) made from its own model."""
    from zifsim.analysis.pipeline import analyse
    from zifsim.analysis.synthetic import zif4_crystal
    try:
        atoms = zif4_crystal()
    except Exception as exc:
        pytest.skip(f"ZIF-4 crystal unavailable: {exc}")
    tmp = tmp_path_factory.mktemp("rep")
    atoms.write(tmp / "zif4.extxyz")
    adir = tmp / "adir"
    analyse(tmp / "zif4.extxyz", adir, material="ZIF-4", pores=False, progress=False, r_max=12.0)
    from zifsim.compare.xray_fit import model_from_analysis
    model = model_from_analysis(adir)
    r = np.arange(0.5, 11.0, 0.02)
    d = model.measured_D(0.6, 22.0, r=r)
    meas = tmp / "meas.csv"
    meas.write_text("r,D\n" + "\n".join(f"{a:.4f},{0.4 * b:.6f}" for a, b in zip(r, d)))
    return tmp, adir, meas


def test_analysis_folder_holds_the_xray_model(zif4_analysis):
    """rdf.csv + xray_lattice.csv + summary xray_model rebuild the same D(r) as a fresh calculation."""
    from zifsim.analysis.xray import xray_of_atoms
    from zifsim.compare.xray_fit import model_from_analysis
    tmp, adir, _ = zif4_analysis
    s = json.loads((adir / "summary.json").read_text())
    assert s["xray_model"]["lattice_frames"] == 1 and s["rdf_r_max_A"] == pytest.approx(12.0)
    model = model_from_analysis(adir)
    fresh = xray_of_atoms(tmp / "zif4.extxyz", r_max=12.0, dr=0.02, lattice_q_max=2.0)
    r = np.arange(1.0, 8.0, 0.05)
    a, b = model.measured_D(0.6, 22.0, r=r), fresh.measured_D(0.6, 22.0, r=r)
    assert np.abs(a - b).max() < 1e-3 * np.abs(b).max()  # rdf.csv is written with 6 significant digits


def test_report_shows_overlay_and_rw_for_every_run(zif4_analysis, tmp_path):
    from zifsim.cli import main
    tmp, adir, meas = zif4_analysis
    exp = {"ZIF-4": {"xray_D": str(meas), "q_range": [0.6, 22.0], "T_C": 25, "state": "crystal"}}
    out = tmp_path / "report"
    assert main(["report", str(adir), "--out", str(out), "--experiments", json.dumps(exp)]) == 0
    md = (out / "report.md").read_text()
    assert "X-ray total scattering against measurement" in md
    row = next(line for line in md.splitlines() if "meas.csv" in line)
    rw = float(row.split("|")[-3])
    assert rw < 0.01  # same model, same processing
    assert (out / "xray_ZIF-4.png").stat().st_size > 5000
    # a glass datum against a crystal is flagged, not hidden
    exp["ZIF-4"]["state"] = "glass"
    assert main(["report", str(adir), "--out", str(tmp_path / "r2"), "--experiments", json.dumps(exp)]) == 0
    assert "not like with like" in (tmp_path / "r2" / "report.md").read_text()


def test_bad_experiments_refused_before_writing(zif4_analysis, tmp_path):
    from zifsim.compare.report import write_report
    _, adir, meas = zif4_analysis
    with pytest.raises(InputError, match="unknown key"):
        write_report([adir], tmp_path / "x", experiments={"ZIF-4": {"xray_G": str(meas)}})
    assert not (tmp_path / "x").exists()


def test_missing_measured_file_is_noted_not_fatal_and_reference_paths_resolve(zif4_analysis, tmp_path, reference_dir):
    from zifsim.compare.report import write_report
    from zifsim.compare.xray_fit import resolve_data_path
    _, adir, _ = zif4_analysis
    write_report([adir], tmp_path / "r", experiments={"ZIF-4": {"xray_D": "no/such/file.dofr"}})
    assert "not found" in (tmp_path / "r" / "report.md").read_text()
    rel = "xray/ZIF-4-glass-Gaillac2017/ZIF4glassa_31.dofr"
    if (reference_dir / rel).is_file():
        assert resolve_data_path(rel) == reference_dir / rel


def test_workflow_config_experiments_key(ff_dir, write_ffield):
    """The shipped config declares ZIF-4's measured glass; the plan accepts it and names a typo."""
    from pathlib import Path

    import yaml
    from zifsim.errors import ConfigError
    from zifsim.workflow import plan
    write_ffield(ff_dir / "ffield_ZnN_2016")
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "config.yaml").read_text())
    p = plan(cfg)
    assert p.config["experiments"]["ZIF-4"]["xray_D"].endswith("ZIF4glassa_31.dofr")
    assert p.config["experiments"]["ZIF-4"]["state"] == "glass"
    bad = {**cfg, "experiments": {"ZIF-4": {"xray_G": "x.gr"}}}
    with pytest.raises(ConfigError, match="experiments.ZIF-4"):
        plan(bad)


def test_report_and_cli_give_the_same_rw_for_q_space_data(zif4_analysis, tmp_path):
    """One default r window: the report (compare_xray's default) and `zifsim compare-xray` (its
    --r-window default) process Q-space data alike, so the same model and file give the same Rw."""
    from zifsim.cli import main
    from zifsim.compare.xray_fit import model_from_analysis, xray_report
    tmp, adir, _ = zif4_analysis
    model = model_from_analysis(adir)
    q = np.arange(0.5, 20.5, 0.02)
    # a 'measurement' made without r window: the two windows give clearly different Rw
    fk = tmp_path / "zif4_fk.int01"
    fk.write_text("# F(Q)\n" + "\n".join(f"{a:.4f} {0.7 * b:.6f}" for a, b in zip(q, model.s_minus_1(q, "none"))))
    s = json.loads((adir / "summary.json").read_text())
    s["adir"] = str(adir)
    exp = {"ZIF-4": {"xray_Fk": str(fk), "fit_range_Q": [0.6, 20.0], "state": "crystal"}}
    rows = xray_report([s], exp, tmp_path / "rep")["ZIF-4"]["rows"]
    rw_report = next(r["rw"] for r in rows if "rw" in r)
    out = tmp_path / "cli"
    assert main(["compare-xray", str(tmp / "zif4.extxyz"), str(fk), "--fit-range", "0.6", "20",
                 "--r-max", "12", "--dr", "0.02", "--out", str(out)]) == 0
    res = json.loads((out / "fit.json").read_text())
    assert res["processing"]["r_window"] == "lorch"
    assert res["rw"] > 0.02                      # the Lorch window vs data made without: not ~0
    assert rw_report == pytest.approx(res["rw"], abs=2e-3)  # rdf.csv holds 6 significant digits


@pytest.mark.parametrize("summary, state", [
    ({"kind": "structure"}, "crystal"),
    ({"kind": "run", "stage_directions": {"00-heat": "heating", "01-cool": "cooling"}, "Tm_K": 900.0}, "glass"),
    ({"kind": "run", "stage_directions": {"00-heat": "heating", "01-hold": "isothermal"}, "Tm_K": 900.0}, "liquid"),
    ({"kind": "run", "stage_directions": {"00-heat": "heating"}, "Tm_K": None}, "crystal"),
    ({"kind": "run", "stage_directions": {"00-hold": "isothermal"}}, "crystal"),
])
def test_run_state_uses_the_words_of_the_experiments(summary, state):
    """Every run state is one a measured `state:` can have (glass|crystal|liquid): a melt matches liquid data."""
    from zifsim.compare.xray_fit import _run_state
    assert _run_state(summary) == state
    assert _run_state(summary) in ("glass", "crystal", "liquid")
