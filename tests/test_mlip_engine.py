"""The MLIP provider under zifsim's MD engine: every stage type runs a few steps (CPU)."""
from __future__ import annotations

import json

import pytest

from zifsim.potentials.mlip import MLIPProvider, mlip_available

pytestmark = [pytest.mark.mlip,
              pytest.mark.skipif(not mlip_available("chgnet"),
                                 reason='chgnet/torch not importable: pip install -e ".[mlip]"')]


def test_every_stage_type_runs_with_the_mlip(tmp_path, every_stage_protocol):
    from zifsim.engine.run import run_protocol
    from zifsim.structures.nets import build_net_cell

    atoms = build_net_cell("dia-c", "Cd", relax=False)  # Cd: not in the ReaxFF set
    provider = MLIPProvider(threads=1)
    meta = run_protocol(atoms, every_stage_protocol("mlip_smoke"), provider, tmp_path / "run", seed=7,
                        threads=1, progress_interval_s=1e9)
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
