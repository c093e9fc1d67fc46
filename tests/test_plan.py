"""The workflow's run plan (zifsim.workflow.plan) without a Snakemake subprocess: config
check (schema, names, every protocol), one provider decision per material (fallback
included), the seed rule, the results layout both ways, and ``zifsim run --spec``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from zifsim import layout, seeds, workflow
from zifsim.errors import ConfigError
from zifsim.workflow import RunSpec, plan, read_run_spec

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
FORCEFIELD = "ffield_ZnN_2016"


def shipped(name: str) -> dict:
    return yaml.safe_load((CONFIGS / name).read_text())


@pytest.fixture()
def with_ffield(ff_dir, write_ffield) -> Path:
    """$ZIFSIM_FORCEFIELD_DIR holding a ReaxFF stand-in that covers C H N O Zn."""
    return write_ffield(ff_dir / FORCEFIELD)


def config_error(cfg) -> str:
    with pytest.raises(ConfigError) as err:
        plan(cfg)
    text = str(err.value)
    assert text.startswith(workflow.HEADER), text
    return text


# ------------------------------------------------------------------ what runs
def test_default_config_with_reaxff(with_ffield):
    cfg = shipped("config.yaml")
    before = json.dumps(cfg, sort_keys=True)
    p = plan(cfg)
    assert json.dumps(cfg, sort_keys=True) == before, "plan() must not modify its config"
    assert (p.materials, p.protocols, p.replicas) == (cfg["materials"], cfg["protocols"], [1])
    assert len(p.runs) == 4 and not p.fallback and p.notices == []
    assert {m: c.kind for m, c in p.choices.items()} == {"ZIF-4": "reaxff", "ZIF-62": "reaxff"}
    run = p.run("ZIF-62", "mill_press", 1)
    assert run.provider is p.choices["ZIF-62"]          # one decision per material
    assert run.provider.forcefield == str(with_ffield.resolve())
    assert run.seed == cfg["seed"] and run.cell == "results/cells/ZIF-62/cell.extxyz"
    assert run.loaded.name == "mill_press" and run.loaded.stages
    assert p.forcefield_inputs("ZIF-4") == [str(with_ffield.resolve())]
    # schema defaults are filled in the plan's config, not in the caller's
    assert p.config["imported_runs"] == [] and p.config["custom_materials"] == {}
    assert p.step("md")["threads"] == 1 and p.step("md")["mem_mb"] == 3000


def test_provider_is_decided_once_per_material(with_ffield, monkeypatch):
    calls = []
    real = workflow.choose_provider
    monkeypatch.setattr(workflow, "choose_provider",
                        lambda *a, **k: calls.append(getattr(k["material"], "name", k["material"]))
                        or real(*a, **k))
    cfg = {**shipped("config.yaml"), "replicas": 3}
    p = plan(cfg)
    assert len(p.runs) == 12
    assert sorted(calls) == ["ZIF-4", "ZIF-62"]


def test_fallback_replaces_materials_and_protocols(ff_dir):
    cfg = shipped("config.yaml")
    p = plan(cfg)
    fb = cfg["mlip_fallback"]
    assert p.fallback and (p.materials, p.protocols) == (fb["materials"], fb["protocols"])
    assert p.config["materials"] == fb["materials"] and cfg["materials"] == ["ZIF-4", "ZIF-62"]
    assert all(r.provider.kind == "mlip" for r in p.runs)
    assert len(p.notices) == 1
    line = p.notices[0]
    for needle in ("mlip_fallback", f"not found at {(ff_dir / FORCEFIELD).resolve()}",
                   *fb["materials"], *fb["protocols"], "mlip/chgnet", "ZIFSIM_FORCEFIELD_DIR",
                   "zifsim forcefield fetch ZnN_2016"):
        assert needle in line, line


def test_auto_without_fallback_block_downgrades_per_material(ff_dir):
    cfg = {**shipped("config.yaml"), "mlip_fallback": {}}
    p = plan(cfg)
    assert p.materials == ["ZIF-4", "ZIF-62"] and not p.fallback
    c = p.choices["ZIF-4"]
    assert (c.requested, c.kind, c.fallback, c.material) == ("auto", "mlip", True, "ZIF-4")
    assert len(p.notices) == 1 and "ZIF-4 on the MLIP" in p.notices[0]


def test_explicit_reaxff_without_file_names_key_and_fix(ff_dir):
    text = config_error(shipped("test.yaml"))
    assert "config key 'forcefield'" in text and "ZIFSIM_FORCEFIELD_DIR" in text


def test_mlip_fallback_threads_set_md_threads(ff_dir):
    cfg = shipped("config.yaml")
    cfg["mlip_fallback"]["threads"] = 2
    assert plan(cfg).step("md")["threads"] == 2


def test_analysis_only_plans_no_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = shipped("analysis_only.yaml")
    (tmp_path / cfg["imported_runs"][0]["path"]).mkdir(parents=True)
    p = plan(cfg)
    assert p.runs == [] and p.materials == [] and list(p.imported) == ["ZIF-4_tiny_rep1"]
    assert p.analysis_dirs() == ["results-analysis/analysis/imported/ZIF-4_tiny_rep1"]


# ------------------------------------------------------------------ config check
def test_seed_rule(with_ffield):
    cfg = {**shipped("test.yaml"), "replicas": 3, "seed": 40}
    assert [r.seed for r in plan(cfg).runs] == [40, 41, 42]
    cfg.pop("seed")
    assert plan(cfg).runs[0].seed == seeds.DEFAULT_SEED
    text = config_error({**cfg, "seed": 0})
    assert "config key 'seed' = 0 must be >= 1" in text
    assert "'seed'" in config_error({**cfg, "seed": -3})
    assert "'seed'" in config_error({**cfg, "seed": 1.5})


def test_seed_helpers():
    assert seeds.replica_seed(7, 1) == 7 and seeds.replica_seed(7, 3) == 9
    assert seeds.stage_seed(7, 2) == 7 + 2 * seeds.STAGE_STRIDE
    for bad in (0, -1, True, 2.0, "3", seeds.MAX_SEED + 1):
        with pytest.raises(ConfigError, match="--seed"):
            seeds.check_seed(bad, where="--seed")


def test_every_protocol_is_loaded_at_plan_time(with_ffield, tmp_path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("name: typo\nstages:\n  - {name: relax, type: minimise}\n"
                   "  - {name: hot, type: equilibrate, temperature_K: 300, duraton_ps: 1}\n")
    cfg = {**shipped("test.yaml"), "protocols": ["tiny", "typo"],
           "custom_protocols": {"typo": str(bad)}}
    text = config_error(cfg)
    assert f"{bad} (line 4: stages[1].duraton_ps)" in text
    assert "unknown key 'duraton_ps'" in text and "duration_ps" in text
    assert "config key 'custom_protocols.typo'" in text
    # a shipped protocol of the fallback block is loaded too
    cfg = {**shipped("test.yaml"), "mlip_fallback": {"protocols": ["typo"]},
           "custom_protocols": {"typo": str(bad)}}
    assert "duraton_ps" in config_error(cfg)


@pytest.mark.parametrize("change, needles", [
    ({"materails": ["ZIF-4"]}, ["unknown config key 'materails'", "did you mean 'materials'"]),
    ({"provider": "reax"}, ["'provider'", "'reax'", "reaxff, mlip"]),
    ({"replicas": "two"}, ["'replicas'", "'two'", "integer"]),
    ({"resources": {"md": {"thread": 2}}},
     ["'resources.md.thread'", "did you mean 'threads'", "mem_mb"]),
    ({"cell": {"supercell": [2, 2]}}, ["'cell.supercell'", "at least 3"]),
    ({"resources": {"md": {"threads": 0}}}, ["'resources.md.threads'", ">= 1"]),
    ({"mode": "analysis_only"}, ["'imported_runs'", "required", "analysis_only"]),
    ({"slurm": {"partition": 5}}, ["'slurm.partition'", "string"]),
    ({"protocols": ["melt_quench"]}, ["unknown protocol 'melt_quench'", "'protocols'", "tiny"]),
    ({"materials": ["ZIF-99"]}, ["unknown material 'ZIF-99'", "available:", "ZIF-4"]),
    ({"materials": ["Cd(im)2"]}, ["alias of 'Cd-im2'"]),
    ({"cells": {"ZIF-8": {"supercell": [2, 2, 2]}}}, ["config key 'cells.ZIF-8'"]),
    ({"custom_materials": {"X": "/nowhere/x.cif"}}, ["'custom_materials.X'", "file not found"]),
])
def test_bad_config_names_the_key(with_ffield, change, needles):
    text = config_error({**shipped("test.yaml"), **change})
    for needle in needles:
        assert needle in text, text


def test_fill_defaults_is_nested_and_copies():
    schema = workflow.load_schema()
    cfg = workflow.fill_defaults({"analysis": {}}, schema)
    assert cfg["analysis"]["every"] == 1 and cfg["mlip_fallback"]["materials"] == []
    cfg["mlip_fallback"]["materials"].append("X")
    assert workflow.fill_defaults({}, schema)["mlip_fallback"]["materials"] == []


# ------------------------------------------------------------------ layout both ways
def test_layout_both_ways(with_ffield):
    p = plan({**shipped("test.yaml"), "results": "out/", "replicas": 2})
    assert p.results == "out"
    d = p.run_dir("ZIF-4", "tiny", 2)
    assert d == "out/runs/ZIF-4/tiny/rep2"
    assert layout.parse_run_dir(d) == layout.RunKey("ZIF-4", "tiny", 2)
    assert p.run_of(d) == p.run("ZIF-4", "tiny", 2)
    assert p.run_of(p.analysis_dir("ZIF-4", "tiny", 1)) == p.run("ZIF-4", "tiny", 1)
    assert p.run_of("out/runs/ZIF-4/tiny") is None and p.run_of("out/runs/ZIF-8/tiny/rep1") is None
    assert layout.parse_run_dir("elsewhere/rep1") is None
    assert p.run_dirs() == ["out/runs/ZIF-4/tiny/rep1", "out/runs/ZIF-4/tiny/rep2"]


# ------------------------------------------------------------------ the run spec
def test_run_spec_round_trip(with_ffield, tmp_path):
    run = plan(shipped("test.yaml")).runs[0]
    path = tmp_path / "runspec.json"
    path.write_text(run.to_json())
    back = read_run_spec(path)
    assert back == run and back.provider == run.provider
    data = json.loads(path.read_text())
    del data["seed"]
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="lacks key.*seed"):
        read_run_spec(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_run_spec(path)


@pytest.fixture()
def fake_run(monkeypatch) -> dict:
    """Replace the engine by a recorder of what `zifsim run` passes it."""
    import zifsim.engine
    seen: dict = {}

    def record(atoms, protocol, provider, out_dir, **kwargs):
        seen.update(protocol=protocol, provider=provider, out=out_dir, **kwargs)
        return {"status": "complete"}

    monkeypatch.setattr(zifsim.engine, "run_protocol", record)
    return seen


def test_cli_run_spec_hands_the_plan_to_the_engine(ff_dir, fake_run, tmp_path):
    from zifsim.cli import main
    cfg = {**shipped("config.yaml"), "mlip_fallback": {}, "seed": 5, "replicas": 2}
    run = plan(cfg).run("ZIF-4", "melt_quench_short", 2)
    cell = Path(__file__).resolve().parent.parent / "structures" / "ZIF-4" / "cell.extxyz"
    spec = RunSpec(**{**run.__dict__, "cell": str(cell)})
    path = tmp_path / "rep2" / "runspec.json"
    path.parent.mkdir()
    path.write_text(spec.to_json())
    assert main(["run", "--spec", str(path), "--threads", "2"]) == 0
    assert fake_run["seed"] == 6 and fake_run["material"] == "ZIF-4"
    assert fake_run["out"] == str(path.parent) and fake_run["protocol"] == run.protocol_file
    assert fake_run["provider"] == {"kind": "mlip", "model": "chgnet", "threads": 2}
    record = fake_run["provider_choice"]
    assert (record["requested"], record["used"], record["fallback"]) == ("auto", "mlip", True)
    assert record["material"] == "ZIF-4" and "not found at" in record["reason"]
    assert fake_run["run_spec"] == spec.to_dict()
    # the spec decides: options that would contradict it are refused
    assert main(["run", "--spec", str(path), "--seed", "9"]) != 0
