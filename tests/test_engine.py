"""The MD engine on the ZIF-4 unit cell (272 atoms) with ffield_ZnN_2016.

Runs the tiny protocol (minimise, NVT, NPT ramp, cyclic shear; 300 MD steps)
and checks the run-directory contract, skipping of completed stages and the
element-coverage check. Physics checks: test_engine_physics.py.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from zifsim.cli import main as cli_main
from zifsim.engine import THERMO_COLUMNS, read_cell, run_protocol
from zifsim.errors import ConfigError, ForceFieldError

CONTRACT_COLUMNS = ["step", "time_ps", "temp_K", "press_bar", "volume_A3", "density_gcm3", "pe_eV",
                    "enthalpy_eV", "lx_A", "ly_A", "lz_A", "xy_A", "xz_A", "yz_A"]


@pytest.fixture(scope="module")
def tiny_run(znn_ffield, tmp_path_factory, zif4_unit_cell):
    out = tmp_path_factory.mktemp("tiny") / "run"
    meta = run_protocol(zif4_unit_cell, "tiny", {"kind": "reaxff", "file": str(znn_ffield)}, out, seed=7)
    return out, meta


def read_csv(path):
    import pandas as pd
    return pd.read_csv(path)


def test_tiny_run_directory_layout(tiny_run):
    out, meta = tiny_run
    assert meta["status"] == "complete"
    disk = json.loads((out / "metadata.json").read_text())
    assert disk["status"] == "complete" and disk["lammps_version"].isdigit()
    assert disk["provider"]["sha256"].startswith("353617bb") and disk["seed"] == 7
    assert [s["dir"] for s in disk["stages"]] == ["00-relax", "01-nvt", "02-heat", "03-shear"]
    assert all(s["status"] == "complete" for s in disk["stages"])
    assert (out / "input.data").is_file()
    assert (out / "thermo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for stage in disk["stages"]:
        d = out / stage["dir"]
        for name in ("thermo.csv", "traj.lammpstrj", "final.data", "metadata.json"):
            assert (d / name).is_file(), f"{d / name} missing"
        assert not list(d.glob("*.part")) and not list(d.glob("restart.*"))
        smeta = json.loads((d / "metadata.json").read_text())
        assert smeta["status"] == "complete" and smeta["timesteps_per_s"] > 0 and smeta["wall_s"] > 0
        issued = [c for chunk in smeta["commands"] for c in chunk["commands"]]
        assert any(c.startswith("pair_style reaxff") for c in issued)
        assert any("qeq/reaxff" in c for c in issued)
        th = read_csv(d / "thermo.csv")
        assert list(th.columns[:len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
        assert np.isfinite(th.drop(columns=["step"]).to_numpy()).all()
    run_th = read_csv(out / "thermo.csv")
    assert list(run_th.columns) == THERMO_COLUMNS + ["stage"]
    assert (np.diff(run_th["time_ps"]) >= 0).all()
    assert run_th["time_ps"].iloc[-1] == pytest.approx(0.075)
    md = run_th[run_th.stage != "00-relax"]
    assert md.temp_K.between(100, 1000).all()
    assert md.density_gcm3.between(0.9, 1.5).all()


def test_tiny_stages_do_what_they_say(tiny_run):
    out, _ = tiny_run
    relax = read_csv(out / "00-relax" / "thermo.csv")
    assert relax.pe_eV.iloc[-1] < relax.pe_eV.iloc[0]                    # minimisation lowers the energy
    heat = json.loads((out / "02-heat" / "metadata.json").read_text())
    fixes = [c for ch in heat["commands"] for c in ch["commands"] if c.startswith("fix zs_ens")]
    assert "npt temp 300 350" in fixes[0] and "iso 0 0" in fixes[0]    # first half of the 300->400 K ramp
    assert "temp 350 400" in fixes[-1]
    shear = read_csv(out / "03-shear" / "thermo.csv")
    ly = shear.ly_A.iloc[0]
    quarter = shear.iloc[(shear.step - 25).abs().argmin()]             # quarter period: maximum strain
    assert quarter.xy_A == pytest.approx(0.02 * ly, rel=0.05)
    assert abs(shear.xy_A.iloc[-1]) < 0.02 * 0.05 * ly                  # back to zero after a full cycle


def test_trajectory_readable_by_ase_and_mdanalysis(tiny_run, zif4_unit_cell):
    import ase.io
    import MDAnalysis as mda
    out, _ = tiny_run
    traj = out / "01-nvt" / "traj.lammpstrj"
    frames = ase.io.read(traj, index=":", format="lammps-dump-text")
    assert len(frames) == 3                                              # steps 0, 50, 100, no duplicates
    ref = zif4_unit_cell
    assert sorted(frames[-1].get_chemical_symbols()) == sorted(ref.get_chemical_symbols())
    u = mda.Universe(str(out / "01-nvt" / "final.data"), str(traj), format="LAMMPSDUMP",
                     atom_style="id type charge x y z")
    assert u.trajectory.n_frames == 3 and len(u.atoms) == 272
    final = read_cell(out / "03-shear" / "final.data")
    assert final.get_chemical_formula() == ref.get_chemical_formula()


def test_completed_run_is_not_rerun(tiny_run, znn_ffield, zif4_unit_cell):
    out, _ = tiny_run
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/final.data")}
    meta = run_protocol(zif4_unit_cell, "tiny", {"kind": "reaxff", "file": str(znn_ffield)}, out, seed=7)
    assert meta["status"] == "complete"
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/final.data")} == before


def test_changed_stage_is_refused(tiny_run, znn_ffield, zif4_unit_cell, md_protocol):
    out, _ = tiny_run
    changed = md_protocol({"name": "relax", "type": "minimise", "box_relax": "aniso"})
    with pytest.raises(ConfigError, match="other settings"):
        run_protocol(zif4_unit_cell, changed, {"kind": "reaxff", "file": str(znn_ffield)}, out, seed=7)


def test_resume_with_another_force_model_is_refused(tiny_run, znn_ffield, tmp_path, zif4_unit_cell):
    """A run folder started with one force model must not be continued with another."""
    import json
    import shutil
    out = tmp_path / "copy"
    shutil.copytree(tiny_run[0], out)
    meta = json.loads((out / "metadata.json").read_text())
    meta["provider"] = {"kind": "mlip", "name": "mlip:chgnet-0.3.0+d3bj", "model": "chgnet",
                        "weights_sha256": "d14ab7c0", "dispersion": "d3bj"}
    (out / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="mix two force models") as err:
        run_protocol(zif4_unit_cell, "tiny", {"kind": "reaxff", "file": str(znn_ffield)}, out, seed=7)
    assert err.value.where == "provider" and "mlip:chgnet" in str(err.value)


@pytest.mark.parametrize("metal", ["Cd", "Co"])
def test_uncovered_metal_refused_before_anything_runs(znn_ffield, tmp_path, metal, zif4_unit_cell):
    cell = zif4_unit_cell.copy()
    cell.set_chemical_symbols([metal if s == "Zn" else s for s in cell.get_chemical_symbols()])
    out = tmp_path / "run"
    with pytest.raises(ForceFieldError) as err:
        run_protocol(cell, "tiny", {"kind": "reaxff", "file": str(znn_ffield)}, out, seed=1)
    assert metal in str(err.value) and "fix:" in str(err.value)
    assert not out.exists()


def test_cli_reports_uncovered_metal(znn_ffield, tmp_path, capsys, zif4_unit_cell):
    import ase.io
    cell = zif4_unit_cell.copy()
    cell.set_chemical_symbols(["Cd" if s == "Zn" else s for s in cell.get_chemical_symbols()])
    path = tmp_path / "cd.extxyz"
    ase.io.write(path, cell)
    code = cli_main(["run", str(path), "--protocol", "tiny", "--out", str(tmp_path / "r"),
                     "--forcefield", str(znn_ffield)])
    err = capsys.readouterr().err
    assert code == 1 and "Cd" in err and "fix:" in err and "Traceback" not in err
