"""The Snakemake workflow: dry runs of every shipped config, config errors, the
tiny config end to end (cells -> MD -> analyses -> report -> HTML report ->
analysis-only -> notebook), and an interrupted run resumed by the same command.

Each test runs Snakemake in a temporary working directory (``--directory``)
against the repository's Snakefile, so nothing is written into the checkout.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SNAKEFILE = REPO / "Snakefile"
CONFIGS = REPO / "configs"
FORCEFIELD = "ffield_ZnN_2016"


@pytest.fixture()
def any_forcefield_dir(tmp_path) -> dict:
    """Environment pointing ZIFSIM_FORCEFIELD_DIR at a folder with the ReaxFF file.

    A dry run only checks that the file exists, so when the third-party file is
    absent (a CI machine without ../shared) an empty stand-in is enough.
    """
    from zifsim import settings
    real = settings.forcefield_dir() / FORCEFIELD
    if real.is_file():
        return {"ZIFSIM_FORCEFIELD_DIR": str(real.parent)}
    stand_in = tmp_path / "forcefields"
    stand_in.mkdir()
    (stand_in / FORCEFIELD).write_text("stand-in for a dry run\n")
    return {"ZIFSIM_FORCEFIELD_DIR": str(stand_in)}


# ------------------------------------------------------------------ dry runs
@pytest.mark.parametrize("name", ["analysis_only.yaml", "config.yaml", "production.yaml",
                                  "test.yaml"])
def test_dry_run_lists_expected_jobs(name, tmp_path, any_forcefield_dir, snakemake, job_counts, expected_jobs):
    cfg = yaml.safe_load((CONFIGS / name).read_text())
    for run in cfg.get("imported_runs", []):  # analysis-only: the run directories must exist
        (tmp_path / run["path"]).mkdir(parents=True)
        (tmp_path / run["path"] / "metadata.json").write_text('{"status": "complete"}\n')
    proc = snakemake("-n", "--configfile", str(CONFIGS / name), cwd=tmp_path,
                     env=any_forcefield_dir)
    assert job_counts(proc.stdout) == expected_jobs[name], proc.stdout[-3000:]
    results = cfg.get("results", "results")
    if cfg.get("mode", "simulate") == "simulate":
        for material in cfg["materials"]:
            for protocol in cfg["protocols"]:
                for rep in range(1, cfg.get("replicas", 1) + 1):
                    assert f"{results}/runs/{material}/{protocol}/rep{rep}/run.complete" \
                        in proc.stdout
    # a dry run writes no results
    assert not (tmp_path / results).exists()


def test_default_config_is_used_without_configfile(tmp_path, any_forcefield_dir, snakemake, job_counts, expected_jobs):
    """`snakemake -n` with no --configfile plans the main job of configs/config.yaml."""
    proc = snakemake("-n", cwd=tmp_path, env=any_forcefield_dir)
    assert job_counts(proc.stdout) == expected_jobs["config.yaml"]


def test_profile_slurm_is_found_from_repo_root():
    """`--profile slurm` typed in the repository root resolves to ./slurm/config.yaml."""
    from snakemake.cli import get_profile_dir
    cwd = os.getcwd()
    try:
        os.chdir(REPO)
        found = get_profile_dir("slurm")
        assert found is not None, "snakemake does not find the slurm profile from the repo root"
        profile_dir, profile_file = (Path(p).resolve() for p in found)
    finally:
        os.chdir(cwd)
    assert profile_dir == REPO / "slurm"
    profile = yaml.safe_load(profile_file.read_text())
    assert profile["executor"] == "slurm"


# ------------------------------------------------------------------ bad configs
TEST_CONFIG = yaml.safe_load((CONFIGS / "test.yaml").read_text())


def _with(**changes):
    cfg = json.loads(json.dumps(TEST_CONFIG))
    for key, value in changes.items():
        node = cfg
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        if value is _DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return cfg


_DELETE = object()

#: (id, config, strings that must all appear in the error). Each is a snakemake
#: subprocess (~10 s): the rest of the config check is unit-tested in test_plan.py.
BAD_CONFIGS = [
    ("typo-top-key", {**_with(materials=_DELETE), "materails": ["ZIF-4"]},
     ["'materails'", "did you mean 'materials'"]),
    ("analysis-only-without-runs", _with(mode="analysis_only"),
     ["'imported_runs'", "required", "analysis_only"]),
    ("unknown-protocol", _with(protocols=["melt_quench"]),
     ["unknown protocol 'melt_quench'", "'protocols'", "available:", "tiny"]),
    ("seed-zero", _with(seed=0), ["config key 'seed' = 0", ">= 1"]),
]


@pytest.mark.parametrize("cfg, needles", [b[1:] for b in BAD_CONFIGS],
                         ids=[b[0] for b in BAD_CONFIGS])
def test_bad_config_is_rejected_naming_the_key(cfg, needles, tmp_path, any_forcefield_dir, snakemake):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    # a real (not dry) run: it must stop before any job starts
    proc = snakemake("--cores", "1", "--configfile", str(path), cwd=tmp_path,
                     env=any_forcefield_dir, check=False, timeout=120)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-3000:]
    assert "invalid zifsim workflow config" in text, text[-3000:]
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text[-3000:]}"
    assert not (tmp_path / "results").exists(), "a job ran although the config is invalid"


def test_bad_protocol_stage_key_fails_before_any_job(tmp_path, any_forcefield_dir, snakemake):
    """Every protocol is loaded when the workflow is parsed: a typo in a stage key stops it
    before the cell is built, naming the protocol file, line and key."""
    protocol = tmp_path / "typo.yaml"
    protocol.write_text("name: typo\nstages:\n  - {name: relax, type: minimise, box_relx: iso}\n")
    cfg = _with(protocols=["typo"], custom_protocols={"typo": str(protocol)})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake("--cores", "1", "--configfile", str(path), cwd=tmp_path,
                     env=any_forcefield_dir, check=False, timeout=120)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for needle in ("invalid zifsim workflow config", "config key 'custom_protocols.typo'",
                   f"{protocol} (line 3: stages[0].box_relx)", "unknown key 'box_relx'",
                   "box_relax"):
        assert needle in text, f"{needle!r} not in:\n{text[-3000:]}"
    assert not (tmp_path / "results").exists(), "a job ran although the protocol is invalid"


def test_missing_forcefield_is_reported_before_jobs(tmp_path, snakemake):
    empty = tmp_path / "no-forcefields"
    empty.mkdir()
    proc = snakemake("--cores", "1", "--configfile", str(CONFIGS / "test.yaml"), cwd=tmp_path,
                     env={"ZIFSIM_FORCEFIELD_DIR": str(empty)}, check=False, timeout=120)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'forcefield'" in text and "ZIFSIM_FORCEFIELD_DIR" in text, text[-2000:]
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------ tiny config end to end
THERMO_COLUMNS = ["step", "time_ps", "temp_K", "press_bar", "volume_A3", "density_gcm3",
                  "pe_eV", "enthalpy_eV", "lx_A", "ly_A", "lz_A", "xy_A", "xz_A", "yz_A"]


@pytest.fixture(scope="module")
def tiny_workdir(tmp_path_factory, forcefield_dir, snakemake, job_counts, expected_jobs):
    """A working directory where `snakemake --cores 2 --configfile configs/test.yaml` ran."""
    wd = tmp_path_factory.mktemp("tiny")
    t0 = time.monotonic()
    proc = snakemake("--cores", "2", "--configfile", str(CONFIGS / "test.yaml"), cwd=wd,
                     env={"ZIFSIM_FORCEFIELD_DIR": str(forcefield_dir)}, timeout=900)
    wall = time.monotonic() - t0
    (wd / "wall_s.txt").write_text(f"{wall:.1f}\n")
    print(f"tiny workflow: {wall:.1f} s wall")
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts == expected_jobs["test.yaml"], (proc.stdout + proc.stderr)[-3000:]
    return wd


def test_tiny_builds_cell(tiny_workdir):
    cell = tiny_workdir / "results" / "cells" / "ZIF-4"
    for name in ("cell.data", "cell.extxyz", "cell.cif", "validation.json"):
        assert (cell / name).stat().st_size > 0, name
    from ase.io import read
    atoms = read(cell / "cell.extxyz")
    symbols = set(atoms.get_chemical_symbols())
    assert symbols == {"Zn", "C", "H", "N"}
    # Zn(im)2: C3H3N2 per linker, 2 linkers per Zn
    n_zn = atoms.get_chemical_symbols().count("Zn")
    assert n_zn > 0 and atoms.get_chemical_symbols().count("N") == 4 * n_zn
    assert "atom_style" in (cell / "cell.data").read_text()[:2000] or \
        "atoms" in (cell / "cell.data").read_text().lower()


def test_tiny_md_run_directory(tiny_workdir):
    import pandas as pd
    rundir = tiny_workdir / "results" / "runs" / "ZIF-4" / "tiny" / "rep1"
    meta = json.loads((rundir / "metadata.json").read_text())
    assert meta["status"] == "complete"
    assert meta["seed"] == 7                        # configs/test.yaml seed, replica 1
    # the plan's run spec, recorded whole: material and the provider choice
    assert meta["material"] == "ZIF-4"
    assert meta["provider_choice"]["requested"] == "reaxff"
    assert meta["provider_choice"]["used"] == "reaxff" and not meta["provider_choice"]["fallback"]
    assert meta["runspec"]["replica"] == 1 and meta["runspec"]["protocol"] == "tiny"
    assert json.loads((rundir / "runspec.json").read_text()) == meta["runspec"]
    stages = meta["stages"]
    assert stages and all(s["status"] == "complete" for s in stages)
    thermo = pd.read_csv(rundir / "thermo.csv")
    assert set(THERMO_COLUMNS) <= set(thermo.columns)
    assert len(thermo) >= 2 and thermo["temp_K"].notna().all()
    assert thermo["time_ps"].is_monotonic_increasing
    trajectories = sorted(rundir.glob("*/traj.lammpstrj"))
    assert trajectories, "no per-stage trajectory"
    assert any("ITEM: ATOMS" in t.read_text()[:20000] for t in trajectories)


def test_tiny_analyses(tiny_workdir):
    import pandas as pd
    adir = tiny_workdir / "results" / "analysis" / "ZIF-4" / "tiny" / "rep1"
    cn = pd.read_csv(adir / "coordination.csv")
    assert len(cn) >= 1 and "time_ps" in cn
    mean_cn = cn[[c for c in cn.columns if c.lower().startswith("mean_cn")][0]]
    assert ((mean_cn > 2.5) & (mean_cn <= 5)).all(), mean_cn    # Zn-N coordination ~4
    lind = pd.read_csv(adir / "lindemann.csv")
    assert len(lind) >= 1
    rdf = pd.read_csv(adir / "rdf.csv")
    assert "r_A" in rdf and len(rdf) > 10
    psd = pd.read_csv(adir / "psd.csv")
    assert len(psd) >= 1
    summary = json.loads((adir / "summary.json").read_text())
    assert summary


def test_tiny_report(tiny_workdir):
    import pandas as pd
    report = tiny_workdir / "results" / "report"
    comparison = pd.read_csv(report / "comparison.csv")
    for col in ("material", "quantity", "simulated", "experimental", "unit", "reference"):
        assert col in comparison, col
    # the tiny protocol never quenches, and ZIF-4's facts are glass facts (FSDP, He porous volume of
    # the glass): glass is compared with glass only, so no row may match them from this run
    assert not set(comparison["quantity"]) & {"FSDP_glass_invA", "porous_volume_glass_percent"}
    assert (report / "comparison.png").stat().st_size > 1000
    text = (report / "report.md").read_text()
    assert "## ZIF-4" in text
    unmatched = next(ln for ln in text.splitlines() if ln.startswith("Facts without a simulated counterpart"))
    assert "FSDP_glass_invA" in unmatched and "porous_volume_glass_percent" in unmatched
    runs = pd.read_csv(report / "runs.csv")
    assert list(runs["status"]) == ["complete"] and runs.loc[0, "seed"] == 7


def test_tiny_rerun_has_nothing_to_do(tiny_workdir, forcefield_dir, snakemake):
    proc = snakemake("-n", "--configfile", str(CONFIGS / "test.yaml"), cwd=tiny_workdir,
                     env={"ZIFSIM_FORCEFIELD_DIR": str(forcefield_dir)})
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-2000:]


def test_tiny_html_report(tiny_workdir, forcefield_dir, snakemake):
    snakemake("--report", "report.html", "--configfile", str(CONFIGS / "test.yaml"),
              cwd=tiny_workdir, env={"ZIFSIM_FORCEFIELD_DIR": str(forcefield_dir)})
    html = (tiny_workdir / "report.html").read_text(errors="replace")
    assert len(html) > 50_000
    for name in ("comparison.csv", "comparison.png", "runs.csv", "Comparison with experiment"):
        assert name in html, name


def test_analysis_only_config_on_tiny_run(tiny_workdir, forcefield_dir, snakemake, job_counts, expected_jobs):
    """configs/analysis_only.yaml analyses results/runs/ZIF-4/tiny/rep1 without any MD."""
    runs_before = {p: p.stat().st_mtime_ns for p in (tiny_workdir / "results").rglob("*")}
    proc = snakemake("--cores", "2", "--configfile", str(CONFIGS / "analysis_only.yaml"),
                     cwd=tiny_workdir, env={"ZIFSIM_FORCEFIELD_DIR": str(forcefield_dir)})
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts == expected_jobs["analysis_only.yaml"], counts
    out = tiny_workdir / "results-analysis"
    summary = out / "analysis" / "imported" / "ZIF-4_tiny_rep1" / "summary.json"
    assert json.loads(summary.read_text())
    assert (out / "report" / "comparison.csv").stat().st_size > 0
    # the simulation results were only read
    assert {p: p.stat().st_mtime_ns for p in (tiny_workdir / "results").rglob("*")} == runs_before


def test_notebook_plots_tiny_results(tiny_workdir):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(REPO / "notebooks" / "workflow_results.ipynb", as_version=4)
    os.environ["ZIFSIM_RESULTS"] = str(tiny_workdir / "results")
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    finally:
        os.environ.pop("ZIFSIM_RESULTS", None)
    figures = tiny_workdir / "results" / "notebook"
    for name in ("thermo.png", "coordination_lindemann.png", "rdf.png"):
        assert (figures / name).stat().st_size > 5000, name


# ------------------------------------------------------------------ interrupted run
#: a short minimisation, then NVT on the ZIF-4 unit cell; the test kills Snakemake during the NVT
INTERRUPT_PROTOCOL = {
    "name": "interrupt_check",
    "description": "workflow test: minimise, then NVT (killed in the NVT stage)",
    "defaults": {"timestep_fs": 0.25, "tdamp_fs": 25, "thermo_every_fs": 2.5,
                 "dump_every_fs": 12.5, "checkpoint_every_ps": 0.005},
    "stages": [
        {"name": "first", "type": "minimise", "box_relax": "none", "max_iter": 30,
         "ftol_eV_per_A": 0.05},
        {"name": "second", "type": "equilibrate", "ensemble": "nvt", "temperature_K": 300,
         "duration_ps": 0.0625},
    ],
}


def _group_alive(pgid: int) -> bool:
    """Whether any process of process group ``pgid`` is still running (Linux /proc)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:   # state, ppid, pgrp
            return True
    return False


def _stage_status(stage_dir: Path) -> str | None:
    try:
        return json.loads((stage_dir / "metadata.json").read_text()).get("status")
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_interrupted_workflow_resumes(sig, tmp_path, forcefield_dir, job_counts):
    """Kill snakemake and its MD job mid-stage; the same command then finishes the run
    without rebuilding the cell or recomputing the finished stage.

    SIGTERM (Ctrl-C, scancel) lets Snakemake clean up; after SIGKILL (power loss,
    OOM killer) its lock remains, and `snakemake --unlock` is needed first."""
    protocol = tmp_path / "interrupt_check.yaml"
    protocol.write_text(yaml.safe_dump(INTERRUPT_PROTOCOL, sort_keys=False))
    cfg = _with(protocols=["interrupt_check"])
    cfg["custom_protocols"] = {"interrupt_check": str(protocol)}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ZIFSIM_FORCEFIELD_DIR": str(forcefield_dir)}
    rundir = tmp_path / "results" / "runs" / "ZIF-4" / "interrupt_check" / "rep1"
    # target: the MD run (the analyses downstream are tested above)
    cmd = [sys.executable, "-m", "snakemake", str((rundir / "run.complete").relative_to(tmp_path)),
           "-s", str(SNAKEFILE), "-d", str(tmp_path), "--cores", "1", "--configfile", str(config)]
    first, second = rundir / "00-first", rundir / "01-second"

    with open(tmp_path / "first-attempt.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + 600
        try:
            # wait until the first stage is complete and the second has written a checkpoint
            while time.monotonic() < deadline and proc.poll() is None:
                if _stage_status(first) == "complete" and list(second.glob("restart*")):
                    break
                time.sleep(0.2)
            assert proc.poll() is None, (
                "the workflow ended before it could be interrupted:\n"
                + (tmp_path / "first-attempt.log").read_text()[-3000:])
            assert time.monotonic() < deadline, "no checkpoint of the second stage within 600 s"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, sig)                 # snakemake and its running job
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    assert proc.returncode != 0
    if sig == signal.SIGKILL:   # nothing was cleaned up: wait for the orphaned job to die
        deadline = time.monotonic() + 30
        while _group_alive(proc.pid):
            assert time.monotonic() < deadline, "processes of the killed workflow survive"
            time.sleep(0.2)
    meta_file = rundir / "metadata.json"
    assert not (rundir / "run.complete").exists()
    assert not meta_file.exists() or json.loads(meta_file.read_text()).get("status") != "complete"
    assert rundir.is_dir() and _stage_status(first) == "complete", "partial run directory lost"
    cell = tmp_path / "results" / "cells" / "ZIF-4" / "cell.extxyz"
    kept = {p: p.stat().st_mtime_ns for p in [cell, *first.iterdir()]}

    if sig == signal.SIGKILL:
        unlock = subprocess.run(cmd + ["--unlock"], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=120)
        assert unlock.returncode == 0, unlock.stderr[-2000:]
    # the same command again
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=900)
    log = again.stdout + again.stderr
    assert again.returncode == 0, log[-5000:]
    counts = job_counts(log)
    assert counts.get("md") == 1 and "build_cell" not in counts, counts
    assert {p: p.stat().st_mtime_ns for p in kept} == kept, "finished results were recomputed"
    meta = json.loads(meta_file.read_text())
    assert meta["status"] == "complete"
    assert [s["status"] for s in meta["stages"]] == ["complete", "complete"]
    import pandas as pd
    thermo = pd.read_csv(rundir / "thermo.csv")
    assert thermo["time_ps"].max() == pytest.approx(0.0625, abs=0.001)
