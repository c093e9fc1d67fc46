"""The tiny workflow through a real SLURM: `snakemake --profile slurm`.

Needs a one-node SLURM on this machine (Debian ``slurm-wlm`` + ``munge``).
``.ci/run`` starts it with ``.ci/slurm-start.sh``; when it is not running and
we are root, this test starts it itself (and stops it again at the end).

When SLURM is not available the test never passes silently:
- slurm binaries absent and $CI unset: skipped, with the reason;
- slurm binaries absent and $CI set, or SLURM present but not starting: fails.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
SNAKEFILE = REPO / "Snakefile"

pytestmark = pytest.mark.slurm

START = REPO / ".ci" / "slurm-start.sh"
STOP = REPO / ".ci" / "slurm-stop.sh"


def _node_state() -> str:
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                             timeout=15)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no answer ({exc})"
    return (out.stdout.strip().splitlines() or [out.stderr.strip() or "no answer"])[0]


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running one-node SLURM; started here (and stopped afterwards) if needed."""
    missing = [b for b in ("sinfo", "sbatch", "squeue", "slurmctld", "slurmd", "munged")
               if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        reason = (f"SLURM binaries not installed ({', '.join(missing)} missing): "
                  "apt-get install -y slurm-wlm munge, then bash .ci/slurm-start.sh as root")
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but SLURM cannot run: {reason}")
        pytest.skip(reason)
    started_here = False
    if _node_state().rstrip("*") not in ("idle", "mixed", "allocated"):
        if os.geteuid() != 0:
            pytest.fail(f"SLURM is installed but not running (sinfo: {_node_state()}), and "
                        "this test is not root so cannot start it: run sudo bash .ci/slurm-start.sh")
        proc = subprocess.run(["bash", str(START)], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.fail(f"SLURM did not start: {START} exited {proc.returncode}:\n"
                        f"{proc.stdout}\n{proc.stderr}")
        started_here = True
    state = _node_state()
    assert state.rstrip("*") in ("idle", "mixed", "allocated"), f"SLURM node not usable: {state}"
    yield state
    if started_here:
        subprocess.run(["bash", str(STOP)], capture_output=True, text=True, timeout=120)


def test_tiny_workflow_through_slurm_profile(slurm_cluster, forcefield_dir, tmp_path, job_counts,
                                             expected_jobs):
    wd = tmp_path / "slurm-run"
    wd.mkdir()
    cmd = [sys.executable, "-m", "snakemake",
           "--profile", "slurm",                      # typed literally, from the repo root
           "-s", str(SNAKEFILE), "-d", str(wd),
           "--configfile", str(CONFIGS / "test.yaml"),
           # this cluster has no accounting database (sacct fails): poll with squeue,
           # and start polling early to keep the test short
           "--slurm-status-command", "squeue",
           "--slurm-init-seconds-before-status-checks", "5",
           "--latency-wait", "5"]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "ZIFSIM_FORCEFIELD_DIR": str(forcefield_dir)}
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    print(f"tiny workflow through SLURM: {wall:.1f} s wall")
    assert proc.returncode == 0, log[-6000:]
    assert "Using profile slurm" in log
    assert job_counts(log) == expected_jobs["test.yaml"], log[-3000:]

    # every non-local rule went through sbatch ("Job 4 has been submitted with SLURM
    # jobid 2 (log: .../slurm_logs/rule_build_cell/ZIF-4/2.log)")
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/", log)
    assert sorted(rule for _, rule in submitted) == ["analyse_run", "build_cell", "md"], log[-3000:]
    assert len({jobid for jobid, _ in submitted}) == 3

    results = wd / "results"
    assert (results / "cells" / "ZIF-4" / "cell.data").stat().st_size > 0
    meta = yaml.safe_load((results / "runs" / "ZIF-4" / "tiny" / "rep1" / "metadata.json")
                          .read_text())
    assert meta["status"] == "complete"
    assert (results / "runs" / "ZIF-4" / "tiny" / "rep1" / "thermo.csv").stat().st_size > 0
    assert (results / "analysis" / "ZIF-4" / "tiny" / "rep1" / "summary.json").stat().st_size > 0
    assert (results / "report" / "comparison.csv").stat().st_size > 0
    # nothing left in the queue
    queue = subprocess.run(["squeue", "-h"], capture_output=True, text=True, timeout=15).stdout
    assert not queue.strip(), queue
