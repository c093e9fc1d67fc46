"""provider: auto and the MLIP fallback of the main job.

(a) the decision rule zifsim.potentials.choice.choose_provider (no LAMMPS, no torch);
(b) a dry run of the default configs/config.yaml with no ReaxFF file: the
    mlip_fallback materials / protocols run, with --provider mlip;
(c) one real fallback run end to end (Cd(im)2, a few steps per stage) through
    Snakemake: metadata.json records the MLIP and why, the report is written.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from zifsim.errors import ForceFieldError
from zifsim.potentials import choice
from zifsim.potentials.choice import choose_provider, forcefield_status

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
FORCEFIELD = "ffield_ZnN_2016"

needs_mlip = pytest.mark.skipif(not choice.mlip_installed(),
                                reason='the MLIP is not installed (pip install -e ".[mlip]")')


# ------------------------------------------------------------------ (a) the rule
def test_auto_uses_reaxff_when_the_file_covers_the_material(ff_dir, write_ffield):
    path = write_ffield(ff_dir / FORCEFIELD)
    assert forcefield_status().elements == ("C", "H", "O", "N", "Zn")
    c = choose_provider("auto", "ZIF-4")
    assert (c.kind, c.fallback, c.forcefield) == ("reaxff", False, str(path.resolve()))
    assert c.spec() == {"kind": "reaxff", "file": str(path.resolve())}
    assert "found at" in c.reason and "C H N Zn" in c.reason


def test_auto_falls_back_when_the_file_is_missing(ff_dir):
    c = choose_provider("auto", "ZIF-4")
    assert (c.kind, c.model, c.fallback) == ("mlip", "chgnet", True)
    assert c.reason == (f"reaxff file not found at {(ff_dir / FORCEFIELD).resolve()}: "
                        "fell back to mlip/chgnet")
    meta = c.metadata()
    assert meta["used"] == "mlip" and meta["requested"] == "auto" and meta["label"] == "mlip/chgnet"


def test_auto_falls_back_when_the_file_lacks_an_element(ff_dir, write_ffield):
    write_ffield(ff_dir / FORCEFIELD, elements=("C", "H", "O", "N"))
    c = choose_provider("auto", "ZIF-4")
    assert c.kind == "mlip" and c.fallback
    assert "no parameters for Zn" in c.reason and "fell back to mlip/chgnet" in c.reason
    # elements given explicitly (a custom CIF, or the cell itself) override the registry
    assert choose_provider("auto", None, elements={"C", "H", "N"}).kind == "reaxff"
    assert choose_provider("auto", None, elements={"C", "H", "N", "Co"}).kind == "mlip"


def test_auto_follows_the_registry_choice(ff_dir, write_ffield):
    write_ffield(ff_dir / FORCEFIELD, elements=("C", "H", "N", "Zn", "Cd"))
    c = choose_provider("auto", "Cd-im2")  # provider: mlip in configs/materials.yaml
    assert (c.kind, c.fallback) == ("mlip", False)
    assert "configs/materials.yaml gives provider mlip for Cd-im2" in c.reason
    assert choose_provider("auto", "Cd(im)2").kind == "mlip"  # aliases work too


def test_explicit_reaxff_without_file_names_key_path_and_fix(ff_dir):
    with pytest.raises(ForceFieldError) as err:
        choose_provider("reaxff", "ZIF-4")
    text = str(err.value)
    for needle in ("config key 'forcefield'", str((ff_dir / FORCEFIELD).resolve()),
                   "ZIFSIM_FORCEFIELD_DIR", "zifsim forcefield fetch ZnN_2016"):
        assert needle in text, text
    with pytest.raises(ForceFieldError, match="option --forcefield"):
        choose_provider("reaxff", "ZIF-4", key="--forcefield")


def test_explicit_reaxff_with_uncovered_element_names_provider(ff_dir, write_ffield):
    write_ffield(ff_dir / FORCEFIELD)
    with pytest.raises(ForceFieldError) as err:
        choose_provider("reaxff", "Cd-im2")
    assert "config key 'provider'" in str(err.value) and "Cd" in str(err.value)


def test_explicit_mlip_and_unknown_request(ff_dir, write_ffield):
    write_ffield(ff_dir / FORCEFIELD)
    assert choose_provider("mlip", "ZIF-4").kind == "mlip"
    with pytest.raises(ForceFieldError, match="unknown provider"):
        choose_provider("reax", "ZIF-4")


def test_fallback_without_mlip_installed_says_how_to_fix(ff_dir, monkeypatch):
    monkeypatch.setattr(choice, "mlip_installed", lambda model="chgnet": False)
    with pytest.raises(ForceFieldError) as err:
        choose_provider("auto", "ZIF-4")
    assert ".[mlip]" in str(err.value) and "ZIFSIM_FORCEFIELD_DIR" in str(err.value)


def test_forcefield_given_as_path(tmp_path, ff_dir, write_ffield):
    path = write_ffield(tmp_path / "my_ffield")
    assert choose_provider("auto", "ZIF-4", forcefield=str(path)).kind == "reaxff"
    missing = tmp_path / "nowhere" / "ffield"
    c = choose_provider("auto", "ZIF-4", forcefield=str(missing))
    assert c.kind == "mlip" and str(missing) in c.reason


# ------------------------------------------------------------------ (b) dry runs
@needs_mlip
def test_default_config_without_forcefield_plans_the_mlip_fallback(tmp_path, snakemake, job_counts):
    empty = tmp_path / "no-forcefields"
    empty.mkdir()
    proc = snakemake("-n", "-p", cwd=tmp_path, env={"ZIFSIM_FORCEFIELD_DIR": str(empty)})
    cfg = yaml.safe_load((CONFIGS / "config.yaml").read_text())
    fallback = cfg["mlip_fallback"]
    assert cfg["provider"] == "auto"
    n = len(fallback["materials"]) * len(fallback["protocols"])
    assert job_counts(proc.stdout) == {"build_cell": len(fallback["materials"]), "runspec": n,
                                       "md": n, "analyse_run": n, "report": 1, "run_table": 1,
                                       "all": 1}
    for material in fallback["materials"]:
        for protocol in fallback["protocols"]:
            assert f"results/runs/{material}/{protocol}/rep1/run.complete" in proc.stdout
            assert (f"run --spec results/runs/{material}/{protocol}/rep1/runspec.json"
                    in proc.stdout)
    assert "ZIF-4/melt_quench_short" not in proc.stdout
    assert "--forcefield" not in proc.stdout and "--provider" not in proc.stdout
    # one clear line at parse time: what was missing where, what runs, how to get ReaxFF
    line = [ln for ln in proc.stderr.splitlines() if "mlip_fallback" in ln]
    assert len(line) == 1, proc.stderr[-3000:]
    for needle in (f"not found at {(empty / FORCEFIELD).resolve()}", *fallback["materials"],
                   *fallback["protocols"], "ZIFSIM_FORCEFIELD_DIR", "zifsim forcefield fetch"):
        assert needle in line[0], line[0]
    assert not (tmp_path / "results").exists()


def test_default_config_with_forcefield_runs_reaxff(tmp_path, snakemake, job_counts, write_ffield):
    """With the file present (a stand-in is enough for a dry run) nothing falls back."""
    from zifsim import settings
    real = settings.forcefield_dir() / FORCEFIELD
    folder = real.parent if real.is_file() else tmp_path / "ff"
    if not real.is_file():
        folder.mkdir()
        write_ffield(folder / FORCEFIELD)
    proc = snakemake("-n", "-p", cwd=tmp_path, env={"ZIFSIM_FORCEFIELD_DIR": str(folder)})
    assert job_counts(proc.stdout)["md"] == job_counts(proc.stdout)["runspec"] == 4
    assert proc.stdout.count("run --spec ") == 4
    assert "mlip_fallback" not in proc.stderr


def test_fallback_names_are_checked(tmp_path, snakemake):
    cfg = yaml.safe_load((CONFIGS / "config.yaml").read_text())
    cfg["mlip_fallback"] = {"materials": ["Cd-im3"], "protocols": ["mlip_dmo"]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "--configfile", str(path), cwd=tmp_path, check=False, timeout=120)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "unknown material 'Cd-im3' in config key 'mlip_fallback.materials'" in text, text[-2000:]
    assert "unknown protocol 'mlip_dmo' in config key 'mlip_fallback.protocols'" in text


# ------------------------------------------------------------------ (c) one real run
FALLBACK_TINY = {
    "name": "fallback_tiny",
    "description": "a few MLIP steps per stage (test only)",
    "defaults": {"timestep_fs": 0.5, "tdamp_fs": 25, "pdamp_fs": 250, "thermo_every_fs": 1.0,
                 "dump_every_fs": 2.0, "checkpoint_every_ps": 0.005},
    "stages": [
        {"name": "relax", "type": "minimise", "box_relax": "iso", "max_iter": 3,
         "ftol_eV_per_A": 0.05},
        {"name": "nvt", "type": "equilibrate", "ensemble": "nvt", "temperature_K": 300,
         "duration_ps": 0.006},
        {"name": "heat", "type": "ramp", "ensemble": "npt", "barostat": "iso",
         "pressure_bar": 0, "T_start_K": 300, "T_stop_K": 400, "duration_ps": 0.006},
    ],
}


@needs_mlip
def test_fallback_main_job_end_to_end(tmp_path, snakemake):
    """ReaxFF absent: Cd(im)2 x a 12-step MLIP protocol, build -> MD -> analysis -> report."""
    empty = tmp_path / "no-forcefields"
    empty.mkdir()
    protocol = tmp_path / "fallback_tiny.yaml"
    protocol.write_text(yaml.safe_dump(FALLBACK_TINY, sort_keys=False))
    cfg = yaml.safe_load((CONFIGS / "config.yaml").read_text())
    cfg.update(custom_protocols={"fallback_tiny": str(protocol)},
               mlip_fallback={"materials": ["Cd-im2"], "protocols": ["fallback_tiny"],
                              "threads": 1},
               analysis={"every": 1, "r_max_A": 7.0, "lindemann_window": 2})
    path = tmp_path / "fallback.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake("--cores", "2", "--configfile", str(path), cwd=tmp_path,
                     env={"ZIFSIM_FORCEFIELD_DIR": str(empty)}, timeout=900)
    assert "mlip_fallback" in proc.stderr
    run = tmp_path / "results" / "runs" / "Cd-im2" / "fallback_tiny" / "rep1"
    meta = json.loads((run / "metadata.json").read_text())
    assert meta["status"] == "complete"
    assert meta["provider"]["kind"] == "mlip"
    assert meta["provider_choice"]["used"] == "mlip"
    assert "mlip" in meta["provider_choice"]["reason"]
    report = tmp_path / "results" / "report"
    for name in ("comparison.csv", "report.md", "comparison.png", "runs.csv"):
        assert (report / name).is_file(), name
    assert "Cd-im2" in (report / "comparison.csv").read_text()
    runs = (report / "runs.csv").read_text()
    assert "mlip:chgnet" in runs and "provider mlip" in runs  # provider, provider_reason
    summary = json.loads((tmp_path / "results" / "analysis" / "Cd-im2" / "fallback_tiny" / "rep1"
                          / "summary.json").read_text())
    assert summary  # the analyses ran on the Cd cell


# ------------------------------------------------------------------ zifsim run --provider auto
@pytest.fixture()
def fake_run(monkeypatch) -> dict:
    """Replace the engine by a recorder of what `zifsim run` passes it."""
    import zifsim.engine
    seen: dict = {}

    def record(atoms, protocol, provider, out_dir, **kwargs):
        seen.update(provider=provider, natoms=len(atoms), **kwargs)
        return {"status": "complete"}

    monkeypatch.setattr(zifsim.engine, "run_protocol", record)
    return seen


def test_cli_run_auto_falls_back_and_records_why(ff_dir, fake_run, tmp_path):
    from zifsim.cli import main
    cell = Path(__file__).resolve().parent.parent / "structures" / "ZIF-4" / "cell.extxyz"
    assert main(["run", str(cell), "--protocol", "tiny", "--out", str(tmp_path / "r"),
                 "--provider", "auto", "--threads", "2"]) == 0
    assert fake_run["provider"] == {"kind": "mlip", "model": "chgnet", "threads": 2}
    record = fake_run["provider_choice"]
    assert record["used"] == "mlip" and record["requested"] == "auto" and record["fallback"]
    assert record["material"] == "ZIF-4"  # the name zifsim build stores in the extxyz
    assert "not found at" in record["reason"]


def test_cli_run_records_the_workflow_reason(ff_dir, fake_run, tmp_path):
    from zifsim.cli import main
    cell = Path(__file__).resolve().parent.parent / "structures" / "Cd-im2" / "cell.extxyz"
    assert main(["run", str(cell), "--protocol", "tiny", "--out", str(tmp_path / "r"),
                 "--provider", "mlip", "--provider-reason", "because"]) == 0
    record = fake_run["provider_choice"]
    assert (record["used"], record["requested"], record["reason"]) == ("mlip", "mlip", "because")
    assert record["material"] == fake_run["material"] == "Cd-im2" and not record["fallback"]
