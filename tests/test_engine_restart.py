"""Kill a stage with SIGKILL mid-run, run it again: it continues from its last checkpoint
and ends in exactly the state of an uninterrupted run with the same seed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from zifsim.engine import read_cell, run_protocol

REPO = Path(__file__).resolve().parent.parent


def read_atoms_section(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(positions, velocities) sorted by atom id from a LAMMPS data file written by write_data."""
    lines = path.read_text().splitlines()

    def section(name):
        i = next(k for k, line in enumerate(lines) if line.startswith(name))
        rows = []
        for line in lines[i + 2:]:
            if not line.strip():
                break
            rows.append([float(x) for x in line.split("#")[0].split()])
        return np.array(sorted(rows))
    atoms, vel = section("Atoms"), section("Velocities")
    return atoms[:, 3:6] + 0.0, vel[:, 1:4]


def test_sigkill_then_resume_reproduces_uninterrupted_run(znn_ffield, tmp_path, relaxed_zif4_data, md_protocol):
    data = relaxed_zif4_data
    proto = md_protocol({"name": "nvt", "type": "ramp", "ensemble": "npt", "T_start_K": 300, "T_stop_K": 350,
                         "duration_ps": 0.05})                    # 200 steps, checkpoints every 50 steps
    proto_path = tmp_path / "p.yaml"
    proto_path.write_text(yaml.safe_dump(proto))
    provider = {"kind": "reaxff", "file": str(znn_ffield)}

    ref = tmp_path / "ref"
    run_protocol(read_cell(data), proto_path, provider, ref, seed=5)

    cut = tmp_path / "cut"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "zifsim", "run", str(data), "--protocol", str(proto_path), "--out", str(cut),
           "--seed", "5", "--forcefield", str(znn_ffield)]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = cut / "00-nvt" / "checkpoint.json"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads(checkpoint.read_text())["step"] >= 100:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    killed_at = json.loads(checkpoint.read_text())["step"]
    assert 100 <= killed_at < 200
    assert not (cut / "00-nvt" / "final.data").exists()
    assert json.loads((cut / "metadata.json").read_text())["status"] != "complete"

    meta = run_protocol(read_cell(data), proto_path, provider, cut, seed=5)
    assert meta["status"] == "complete"
    stage = json.loads((cut / "00-nvt" / "metadata.json").read_text())
    assert stage["commands"][0]["start"] == 0 and any("read_restart" in c for ch in stage["commands"]
                                                      for c in ch["commands"])

    x_ref, v_ref = read_atoms_section(ref / "00-nvt" / "final.data")
    x_cut, v_cut = read_atoms_section(cut / "00-nvt" / "final.data")
    print(f"killed after checkpoint step {killed_at}; max |dx| = {np.abs(x_ref - x_cut).max():.2e} A, "
          f"max |dv| = {np.abs(v_ref - v_cut).max():.2e}")
    np.testing.assert_allclose(x_cut, x_ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(v_cut, v_ref, rtol=0, atol=1e-12)
    th_ref = (ref / "00-nvt" / "thermo.csv").read_text()
    th_cut = (cut / "00-nvt" / "thermo.csv").read_text()
    assert th_cut == th_ref                                              # no duplicated or missing rows
    assert (cut / "00-nvt" / "traj.lammpstrj").read_bytes() == (ref / "00-nvt" / "traj.lammpstrj").read_bytes()
