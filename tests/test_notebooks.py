"""notebooks/*.ipynb execute (nbclient) on a results tree in the workflow's layout.

The tiny-workflow test (tests/test_workflow.py) runs the notebook on real
results; this one needs no force field: it writes small tables in the formats
of docs/architecture.md (thermo.csv columns, analysis tables) and checks that
the notebook reads every run and saves its figures.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "workflow_results.ipynb"


def _fake_results(root: Path, runs: list[tuple[str, str, int]]) -> None:
    rng = np.random.default_rng(0)
    for material, protocol, rep in runs:
        rd = root / "runs" / material / protocol / f"rep{rep}"
        rd.mkdir(parents=True)
        t = np.linspace(0, 2, 41)
        temp = 300 + 600 * np.sin(np.pi * t / 2)
        thermo = pd.DataFrame({
            "step": np.arange(41) * 100, "time_ps": t, "temp_K": temp,
            "press_bar": rng.normal(0, 500, 41), "volume_A3": 4000 + temp,
            "density_gcm3": 1.2 - temp * 1e-4, "pe_eV": -5000 + temp * 0.02,
            "enthalpy_eV": -5000 + temp * 0.02, "lx_A": 15.0, "ly_A": 15.0, "lz_A": 18.0,
            "xy_A": 0.0, "xz_A": 0.0, "yz_A": 0.0, "stage": ["heat"] * 20 + ["cool"] * 21})
        thermo.to_csv(rd / "thermo.csv", index=False)
        (rd / "metadata.json").write_text(json.dumps(
            {"status": "complete", "seed": rep,
             "stages": [{"name": "heat", "dir": "00-heat", "status": "complete"},
                        {"name": "cool", "dir": "01-cool", "status": "complete"}]}))
        ad = root / "analysis" / material / protocol / f"rep{rep}"
        ad.mkdir(parents=True)
        pd.DataFrame({"stage": thermo["stage"], "time_ps": t, "temp_K": temp,
                      "frac_CN4": 1 - temp / 5000, "mean_CN": 4 - temp / 5000}
                     ).to_csv(ad / "coordination.csv", index=False)
        pd.DataFrame({"stage": ["heat", "cool"], "time_ps": [0.5, 1.5], "temp_K": [600, 600],
                      "lindemann_metal": [0.05, 0.12]}).to_csv(ad / "lindemann.csv", index=False)
        r = np.linspace(0.05, 10, 200)
        pd.DataFrame({"r_A": r, "Zn-N": np.exp(-((r - 2.0) / 0.1) ** 2) * 10 + 1,
                      "Zn-Zn": np.exp(-((r - 6.0) / 0.3) ** 2) * 3 + 1}
                     ).to_csv(ad / "rdf.csv", index=False)
        (ad / "summary.json").write_text(json.dumps({"material": material}))
    (root / "report").mkdir()
    pd.DataFrame({"material": ["ZIF-4"], "quantity": ["Tm"], "simulated": [850.0],
                  "experimental": [863.0], "unit": ["K"], "reference": ["MH22"]}
                 ).to_csv(root / "report" / "comparison.csv", index=False)


def _execute(results: Path) -> dict:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    old = os.environ.get("ZIFSIM_RESULTS")
    os.environ["ZIFSIM_RESULTS"] = str(results)
    try:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        if old is None:
            os.environ.pop("ZIFSIM_RESULTS", None)
        else:
            os.environ["ZIFSIM_RESULTS"] = old
    return nb


def test_notebook_plots_every_run(tmp_path):
    runs = [("ZIF-4", "melt_quench_short", 1), ("ZIF-4", "melt_quench_short", 2),
            ("ZIF-62", "shear_short", 1)]
    _fake_results(tmp_path, runs)
    nb = _execute(tmp_path)
    for name in ("thermo.png", "coordination_lindemann.png", "rdf.png"):
        assert (tmp_path / "notebook" / name).stat().st_size > 5000, name
    # the runs table lists the three runs, the thermo cell read 41 rows of each
    outputs = "\n".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", ""))
                        for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    for material, protocol, rep in runs:
        assert f"{material} {protocol} rep{rep}" in outputs
    assert outputs.count(": 41") == 3, outputs


def test_notebook_fails_clearly_without_results(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="run the workflow first"):
        _execute(tmp_path)
