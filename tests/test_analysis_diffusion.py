"""Self-diffusion from MSD on a synthetic random walk written in the contract dump format."""
from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from zifsim.analysis.diffusion import Diffusion
from zifsim.analysis.synthetic import THERMO_COLUMNS, write_dump_frame
from zifsim.analysis.trajectory import iter_run
from zifsim.fileio import write_json


def test_random_walk_diffusion_coefficient(tmp_path):
    """Brownian steps of variance 2 D dt per axis: MSD = 6 D t; unwrapping through the images."""
    rng = np.random.default_rng(3)
    atoms = bulk("ZnS", "zincblende", a=5.41, cubic=True).repeat(3)
    cell = atoms.cell.array
    d_true = {"Zn": 0.5, "S": 0.1}  # Å²/ps
    dt = 0.1  # ps between frames
    sdir = tmp_path / "run" / "00-hold"
    sdir.mkdir(parents=True)
    pos = atoms.positions.copy()
    el = np.array(atoms.get_chemical_symbols())
    sig = np.sqrt(2 * np.array([d_true[e] for e in el]) * dt)[:, None]
    rows = []
    with open(sdir / "traj.lammpstrj", "w") as fh:
        for k in range(200):
            frac = pos @ np.linalg.inv(cell)
            img = np.floor(frac).astype(int)
            write_dump_frame(fh, 10 * k, cell, (frac - img) @ cell, img, el, {"S": 1, "Zn": 2})
            rows.append([10 * k, k * dt, 1500.0] + [0.0] * (len(THERMO_COLUMNS) - 3))
            pos = pos + rng.normal(0, 1, pos.shape) * sig
    with open(sdir / "thermo.csv", "w") as fh:
        fh.write(",".join(THERMO_COLUMNS) + "\n")
        fh.writelines(",".join(map(str, r)) + "\n" for r in rows)
    write_json(tmp_path / "run" / "metadata.json", {"stages": [{"name": "hold", "dir": "00-hold"}]})
    diff = Diffusion().run(iter_run(tmp_path / "run"))
    got = diff.table.set_index("element").D_m2s
    # 1 Å²/ps = 1e-8 m²/s; statistical error of a 200-step walk of ~100 atoms: ~10 %
    assert got["Zn"] == pytest.approx(0.5e-8, rel=0.2)
    assert got["S"] == pytest.approx(0.1e-8, rel=0.2)
    assert diff.msd.msd_Zn_A2.iloc[-1] > 20 * diff.msd.msd_S_A2.iloc[1]
