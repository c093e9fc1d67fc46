"""Every stage type runs in LAMMPS (40 steps each, relaxed ZIF-4 unit cell) and does what it says:
box deformations follow the prescribed strain, thermostat targets follow the schedule."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from zifsim.engine import read_cell, run_protocol

STAGES = [
    {"name": "tri", "type": "equilibrate", "ensemble": "npt", "barostat": "tri", "temperature_K": 300,
     "duration_ps": 0.01},
    {"name": "aniso", "type": "hold", "barostat": "aniso", "temperature_K": 300, "duration_ps": 0.01},
    {"name": "stairs", "type": "staircase", "T_start_K": 300, "T_stop_K": 400, "T_step_K": 50, "ramp_ps": 0.0025,
     "plateau_ps": 0.0025},
    {"name": "quench", "type": "quench", "T_start_K": 400, "T_stop_K": 300, "rate_K_per_ps": 10000},
    {"name": "reheat", "type": "reheat", "T_start_K": 300, "T_stop_K": 350, "rate_K_per_ps": 10000,
     "hold_ps": 0.005},
    {"name": "uni", "type": "compress", "mode": "uniaxial", "axis": "x", "strain_amplitude": 0.02,
     "strain_rate_per_ps": 4.0},
    {"name": "hydro", "type": "compress", "mode": "hydrostatic", "strain_amplitude": 0.01,
     "strain_rate_per_ps": 2.0},
    {"name": "unifree", "type": "compress", "mode": "uniaxial", "axis": "z", "strain_amplitude": 0.01,
     "strain_rate_per_ps": 2.0, "lateral": "free"},
    {"name": "shearrate", "type": "shear", "plane": "yz", "mode": "constant_rate", "shear_rate_per_ps": 2.0,
     "duration_ps": 0.01, "barostat": "aniso"},
    {"name": "nve", "type": "equilibrate", "ensemble": "nve", "duration_ps": 0.01, "bonds_every_fs": 2.5},
]


@pytest.fixture(scope="module")
def all_types_run(znn_ffield, tmp_path_factory, relaxed_zif4_data, md_protocol):
    out = tmp_path_factory.mktemp("alltypes") / "run"
    proto = md_protocol(*STAGES, thermo_every_fs=1.25, dump_every_fs=5.0, checkpoint_every_ps=0.005)
    meta = run_protocol(read_cell(relaxed_zif4_data), proto,
                        {"kind": "reaxff", "file": str(znn_ffield)}, out, seed=9)
    return out, meta


def thermo(out, i, name):
    return pd.read_csv(out / f"{i:02d}-{name}" / "thermo.csv")


def ensemble_fixes(out, i, name):
    meta = json.loads((out / f"{i:02d}-{name}" / "metadata.json").read_text())
    return [c for ch in meta["commands"] for c in ch["commands"] if c.startswith("fix zs_ens")]


def test_all_stage_types_complete(all_types_run):
    out, meta = all_types_run
    assert meta["status"] == "complete"
    assert [s["status"] for s in meta["stages"]] == ["complete"] * len(STAGES)


def test_barostats_move_the_box(all_types_run):
    out, _ = all_types_run
    tri = thermo(out, 0, "tri")
    assert tri[["xy_A", "xz_A", "yz_A"]].abs().to_numpy().max() > 1e-4      # tri lets the tilts relax
    assert tri.volume_A3.nunique() > 1
    aniso = thermo(out, 1, "aniso")
    assert aniso.lx_A.iloc[-1] != aniso.lx_A.iloc[0] and aniso.lz_A.iloc[-1] != aniso.lz_A.iloc[0]


def test_temperature_schedules(all_types_run):
    out, _ = all_types_run
    stairs = ensemble_fixes(out, 2, "stairs")
    targets = [tuple(float(x) for x in f.split("temp ")[1].split()[:2]) for f in stairs]
    assert targets == [(300, 350), (350, 350), (350, 400), (400, 400)]
    quench = [float(f.split("temp ")[1].split()[1]) for f in ensemble_fixes(out, 3, "quench")]
    assert quench == sorted(quench, reverse=True) and quench[-1] == 300
    reheat = ensemble_fixes(out, 4, "reheat")
    assert "temp 300 350" in reheat[0] and "temp 350 350" in reheat[-1]
    assert set(ensemble_fixes(out, 9, "nve")) == {"fix zs_ens all nve"}


def test_compression_cycles_follow_the_strain(all_types_run):
    out, _ = all_types_run
    uni = thermo(out, 5, "uni")
    lx0 = uni.lx_A.iloc[0]
    mid = uni[uni.step == 20].iloc[0]                                     # half cycle: maximum compression
    assert mid.lx_A == pytest.approx(lx0 * 0.98, rel=1e-6)
    assert uni.lx_A.iloc[-1] == pytest.approx(lx0, rel=1e-9)
    assert uni.ly_A.nunique() == 1 and uni.lz_A.nunique() == 1              # lateral faces fixed
    hydro = thermo(out, 6, "hydro")
    mid = hydro[hydro.step == 20].iloc[0]
    for axis in "xyz":
        assert mid[f"l{axis}_A"] == pytest.approx(hydro[f"l{axis}_A"].iloc[0] * 0.99, rel=1e-6)
    free = thermo(out, 7, "unifree")
    mid = free[free.step == 20].iloc[0]
    assert mid.lz_A == pytest.approx(free.lz_A.iloc[0] * 0.99, rel=1e-6)
    assert free.lx_A.nunique() > 1                                        # lateral faces follow 0 bar


def test_constant_rate_shear(all_types_run):
    out, _ = all_types_run
    sh = thermo(out, 8, "shearrate")
    strain = (sh.yz_A.iloc[-1] - sh.yz_A.iloc[0]) / sh.lz_A.iloc[0]
    assert strain == pytest.approx(2.0 * 0.01, rel=0.01)                  # rate 2/ps for 0.01 ps


def test_reaxff_bond_table(all_types_run):
    out, _ = all_types_run
    text = (out / "09-nve" / "bonds.reaxff").read_text()
    steps = [int(line.split()[2]) for line in text.splitlines() if line.startswith("# Timestep")]
    assert steps == [0, 10, 20, 30, 40]                                   # no duplicate at the checkpoint (20)
    assert text.count("# Number of particles 272") == 5
