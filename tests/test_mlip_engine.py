"""The MLIP provider under zifsim's MD engine: every stage type runs a few steps (CPU)."""
from __future__ import annotations

import json

import pytest

from zifsim.potentials.mlip import MLIPProvider, mlip_available

pytestmark = [pytest.mark.mlip,
              pytest.mark.skipif(not mlip_available("chgnet"),
                                 reason='chgnet/torch not importable: pip install -e ".[mlip]"')]

# every stage type of the engine, a handful of 0.5 fs steps each
PROTOCOL = {
    "name": "mlip_smoke",
    "description": "MLIP through the engine: each stage type for a few steps (not physics)",
    "defaults": {"timestep_fs": 0.5, "tdamp_fs": 25, "pdamp_fs": 250, "thermo_every_fs": 1.0,
                 "dump_every_fs": 2.0, "checkpoint_every_ps": 0.002},
    "stages": [
        {"name": "relax", "type": "minimise", "box_relax": "iso", "max_iter": 5, "ftol_eV_per_A": 0.05},
        {"name": "nvt", "type": "equilibrate", "ensemble": "nvt", "temperature_K": 300,
         "duration_ps": 0.002},
        {"name": "heat", "type": "ramp", "ensemble": "npt", "barostat": "iso", "pressure_bar": 0,
         "T_start_K": 300, "T_stop_K": 400, "duration_ps": 0.002},
        {"name": "shear", "type": "shear", "plane": "xy", "mode": "cyclic", "strain_amplitude": 0.02,
         "period_ps": 0.002, "cycles": 1, "temperature_K": 300},
        {"name": "hydro", "type": "compress", "mode": "hydrostatic", "strain_amplitude": 0.02,
         "strain_rate_per_ps": 10.0, "cycles": 1, "temperature_K": 300},
    ],
}


def test_every_stage_type_runs_with_the_mlip(tmp_path):
    from zifsim.engine.run import run_protocol
    from zifsim.structures.nets import build_net_cell

    atoms = build_net_cell("dia-c", "Cd", relax=False)  # Cd: not in the ReaxFF set
    provider = MLIPProvider(threads=1)
    meta = run_protocol(atoms, PROTOCOL, provider, tmp_path / "run", seed=7, threads=1,
                        progress_interval_s=1e9)
    assert meta["status"] == "complete"
    run_meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert "chgnet" in json.dumps(run_meta)
    import csv
    rows = list(csv.DictReader(open(tmp_path / "run" / "thermo.csv")))
    stages = {r["stage"].split("-", 1)[-1] for r in rows}  # "00-relax" -> "relax"
    assert {"relax", "nvt", "heat", "shear", "hydro"} <= stages
    pe = [float(r["pe_eV"]) for r in rows]
    assert all(p < 0 for p in pe)  # MLIP + D3 cohesive energies, finite
    def column(stage, key):
        return [float(r[key]) for r in rows if r["stage"].endswith(stage)]
    hydro = column("hydro", "volume_A3")  # cyclic 2 % strain: ~6 % volume swing
    assert (max(hydro) - min(hydro)) / min(hydro) > 0.02
    shear = column("shear", "xy_A")
    assert max(shear) - min(shear) > 0.05  # the tilt changed (Å; 2 % of ~10 Å is 0.2)
