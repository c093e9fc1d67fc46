"""Physics checks of the engine on the relaxed ZIF-4 unit cell (272 atoms, ffield_ZnN_2016):
NVE energy conservation and blow-up detection."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from zifsim.engine import read_cell, run_protocol
from zifsim.errors import SimulationError


def read_csv(path):
    return pd.read_csv(path)


def test_nve_energy_drift(znn_ffield, tmp_path, relaxed_zif4_data, md_protocol):
    """NVE, 200 steps of 0.25 fs from 300 K on the relaxed cell.

    Bounds (per atom): systematic drift (linear fit x 50 fs) < 1e-4 eV/atom and
    largest excursion from E(0) < 5e-4 eV/atom (QEq is solved to 1e-6, so the total
    energy jitters by ~1e-4 eV/atom); the kinetic energy meanwhile swings by ~1e-2 eV/atom.
    """
    cell = read_cell(relaxed_zif4_data)
    proto = md_protocol({"name": "nve", "type": "equilibrate", "ensemble": "nve", "duration_ps": 0.05,
                         "velocity": "create", "temperature_K": 300})
    run_protocol(cell, proto, {"kind": "reaxff", "file": str(znn_ffield)}, tmp_path / "nve", seed=11)
    th = read_csv(tmp_path / "nve" / "00-nve" / "thermo.csv")
    assert len(th) == 21 and th.temp_K.iloc[0] == pytest.approx(300, rel=1e-6)
    e = th.etotal_eV.to_numpy() / 272
    slope = np.polyfit(th.time_ps.to_numpy(), e, 1)[0]                 # eV/atom/ps
    drift = abs(slope) * 0.05
    excursion = np.abs(e - e[0]).max()
    ke_swing = np.ptp(th.ke_eV) / 272
    print(f"NVE 200 steps: drift {drift:.2e} eV/atom, max |E-E0| {excursion:.2e} eV/atom, "
          f"KE swing {ke_swing:.2e} eV/atom")
    assert drift < 1e-4
    assert excursion < 5e-4
    assert ke_swing > 20 * excursion                                     # the bound is meaningful


def test_overlapping_atoms_blow_up(znn_ffield, tmp_path, relaxed_zif4_data, md_protocol):
    cell = read_cell(relaxed_zif4_data)
    pos, symbols = cell.get_positions(), cell.get_chemical_symbols()
    zn = [i for i, s in enumerate(symbols) if s == "Zn"][:8]
    n = [i for i, s in enumerate(symbols) if s == "N"][:8]
    pos[n] = pos[zn] + [0.02, 0.0, 0.0]                                  # 8 N atoms on top of 8 Zn atoms
    cell.set_positions(pos)
    proto = md_protocol({"name": "nvt", "type": "equilibrate", "ensemble": "nvt", "temperature_K": 300,
                         "duration_ps": 0.05})
    out = tmp_path / "boom"
    with pytest.raises(SimulationError) as err:
        run_protocol(cell, proto, {"kind": "reaxff", "file": str(znn_ffield)}, out, seed=3)
    text = str(err.value)
    print(text)
    assert "blew up" in text and "00-nvt" in text and "overlapping" in text
    smeta = json.loads((out / "00-nvt" / "metadata.json").read_text())
    assert smeta["status"] == "failed" and smeta["error"]
    assert json.loads((out / "metadata.json").read_text())["status"] == "failed"
    assert (out / "00-nvt" / "thermo.csv").is_file() and (out / "00-nvt" / "failed.data").is_file()
    assert not (out / "00-nvt" / "final.data").exists()
