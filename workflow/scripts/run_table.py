"""Collect one row per MD run from the run directories' metadata.json files.

Called by the ``run_table`` rule (Snakemake ``script:``); also usable as
``python workflow/scripts/run_table.py OUT.csv RUNDIR/metadata.json ...``.
Columns: material, protocol, replica, seed, threads, status, stages,
stages_complete, wall_s (sum over stages), timesteps, timesteps_per_s, lammps,
provider (what ran, e.g. mlip:chgnet-0.3.0+d3bj), provider_reason (why: the
"provider_choice" record of zifsim run, e.g. a fallback from a missing ReaxFF file),
provider_requested and provider_fallback. Material, protocol and replica come from
the run's metadata.json (the workflow's run spec), else from the results layout
(zifsim.layout.parse_run_dir).
"""

import csv
import json
import sys
from pathlib import Path

from zifsim.layout import parse_run_dir

COLUMNS = ["material", "protocol", "replica", "seed", "threads", "status", "stages",
           "stages_complete", "wall_s", "timesteps", "timesteps_per_s", "lammps", "provider",
           "provider_reason", "provider_requested", "provider_fallback", "run_dir"]


def _first(d: dict, *keys):
    for key in keys:
        if isinstance(d, dict) and d.get(key) is not None:
            return d[key]
    return None


def row(metadata_path: Path) -> dict:
    meta = json.loads(metadata_path.read_text())
    rundir = metadata_path.parent
    spec = meta.get("runspec") or {}
    key = parse_run_dir(rundir)
    material = spec.get("material") or meta.get("material") or (key.material if key else None)
    protocol = spec.get("protocol") or (key.protocol if key else None)
    replica = spec.get("replica") or (key.replica if key else None)
    choice = meta.get("provider_choice") or {}
    stages = meta.get("stages") or []
    wall, steps = 0.0, 0
    for stage in stages:
        sdir = rundir / str(stage.get("dir", ""))
        smeta = {}
        if (sdir / "metadata.json").is_file():
            smeta = json.loads((sdir / "metadata.json").read_text())
        w = _first(smeta, "wall_s", "wall_time_s", "wall_time")
        n = _first(smeta, "steps", "timesteps", "nsteps")
        wall += float(w or 0.0)
        steps += int(n or 0)
    lammps = _first(meta, "lammps_version", "lammps")
    if isinstance(lammps, dict):
        lammps = _first(lammps, "version")
    return {
        "material": material,
        "protocol": protocol,
        "replica": replica,
        "seed": meta.get("seed"),
        "threads": meta.get("threads"),
        "status": meta.get("status"),
        "stages": len(stages),
        "stages_complete": sum(1 for s in stages if s.get("status") == "complete"),
        "wall_s": round(wall, 3),
        "timesteps": steps,
        "timesteps_per_s": round(steps / wall, 3) if wall > 0 else None,
        "lammps": lammps,
        "provider": _first(meta.get("provider") or {}, "name", "kind"),
        "provider_reason": _first(choice, "reason"),
        "provider_requested": _first(choice, "requested"),
        "provider_fallback": choice.get("fallback"),
        "run_dir": str(rundir),
    }


def write_table(out: str | Path, metadata_files) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for path in metadata_files:
            writer.writerow(row(Path(path)))
    tmp.replace(out)


if __name__ == "__main__":
    if "snakemake" in globals():
        write_table(snakemake.output.table,  # noqa: F821
                    [Path(f).with_name("metadata.json") for f in snakemake.input.complete])  # noqa: F821
    else:
        write_table(sys.argv[1], sys.argv[2:])
