"""Run a whole protocol on a cell: the run directory of docs/architecture.md section 2.

>>> from zifsim.engine import run_protocol
>>> run_protocol(atoms, "tiny", "reaxff", "runs/zif4-tiny", seed=1)   # doctest: +SKIP

Completed stages are never rerun; an interrupted stage resumes from its last
checkpoint. ``RUNDIR/metadata.json`` says ``"status": "complete"`` only once
every stage is complete.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from ase import Atoms

from zifsim import __version__
from zifsim.errors import ConfigError, SimulationError, StructureError
from zifsim.fileio import atomic_open, check_input_file, check_output_dir, lammps_path, write_json
from zifsim.structures.io import default_type_order, lammps_data_text, read_structure
from zifsim.potentials.base import ForceProvider
from zifsim.potentials.factory import get_provider
from zifsim.protocols.loader import Protocol, load_protocol, stage_fingerprint
from zifsim.seeds import DEFAULT_SEED, check_seed
from zifsim.engine import interrupt
from zifsim.lammps_loader import mpi_world, new_lammps
from zifsim.engine.lock import RunLock
from zifsim.engine.stage import THERMO_COLUMNS, RunContext, StageRunner
from zifsim.engine.plots import plot_run_thermo
from zifsim.engine.units import unit_system

log = logging.getLogger("zifsim.engine")


def read_cell(path: str | os.PathLike) -> Atoms:
    """Read a cell (.extxyz, .cif or LAMMPS .data) as ase.Atoms."""
    path = Path(path)
    check_input_file(path, "cell file",
                     fix="give an existing .extxyz, .cif or .data file (zifsim build writes them)")
    atoms = read_structure(path)
    check_overlaps(atoms, str(path))
    return atoms


#: atoms closer than this (Å) cannot both be real (H2 is 0.74 Å): refused before LAMMPS
MIN_PAIR_DISTANCE_A = 0.5


def check_overlaps(atoms: Atoms, source: str | None = None) -> None:
    """Refuse a cell with atoms on top of each other (a doubled atom, an H on a metal), naming them."""
    if len(atoms) < 2 or atoms.cell.rank != 3:
        return
    from zifsim.structures.neighbours import neighbour_pairs
    pairs = neighbour_pairs(atoms, MIN_PAIR_DISTANCE_A)
    sel = pairs.i < pairs.j
    if not sel.any():
        return
    sym = atoms.get_chemical_symbols()
    i, j, d = pairs.i[sel], pairs.j[sel], pairs.distances[sel]
    listing = ", ".join(f"{sym[a]}{a + 1} and {sym[b]}{b + 1} ({x:.2f} Å)" for a, b, x in zip(i[:4], j[:4], d[:4]))
    raise StructureError(f"{len(i)} pair(s) of atoms closer than {MIN_PAIR_DISTANCE_A} Å: {listing}"
                         f"{' ...' if len(i) > 4 else ''} (atoms numbered from 1 in file order)", source=source,
                         fix="remove the doubled or misplaced atoms; `zifsim build` checks and writes a clean cell")


def _resolve_provider(provider: ForceProvider | str | dict | None) -> ForceProvider:
    if isinstance(provider, ForceProvider):
        return provider
    return get_provider(provider)


def _lammps_version(comm) -> str:
    lmp = new_lammps(comm=comm)
    try:
        return str(lmp.version())
    finally:
        lmp.close()


#: provider metadata keys that identify the force model (not threads, paths or devices)
PROVIDER_IDENTITY_KEYS = ("kind", "sha256", "model", "model_version", "weights_sha256", "dispersion")


def provider_identity(meta: dict) -> dict:
    """The part of a provider's metadata that names its force model: kind, parameter-file or
    weights sha256, model version and dispersion (a resumed run must match it)."""
    return {k: meta.get(k) for k in PROVIDER_IDENTITY_KEYS if meta.get(k) is not None}


def run_protocol(atoms: Atoms, protocol: Protocol | str | os.PathLike | dict,
                 provider: ForceProvider | str | dict | None, out_dir: str | os.PathLike,
                 seed: int = DEFAULT_SEED, threads: int = 1, progress_interval_s: float = 20.0,
                 source: str | None = None,
                 provider_choice: dict[str, Any] | None = None,
                 material: str | None = None,
                 run_spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``protocol`` on ``atoms`` with ``provider`` into the run directory ``out_dir``.

    Parameters
    ----------
    atoms : the cell (Å); its element set must be covered by the provider.
    protocol : a :class:`Protocol`, a protocol name (``configs/protocols``) or a YAML path.
    provider : a ForceProvider or a spec (``"reaxff"``, ``{"kind": "reaxff", "file": ...}``).
    out_dir : run directory (created; an existing one is resumed).
    seed : velocity seed >= 1 (stage i uses :func:`zifsim.seeds.stage_seed`: ``seed + 7919 i``).
    threads : OpenMP threads per MPI rank (``-sf omp -pk omp N``).
    progress_interval_s : seconds between progress lines.
    source : where the cell came from (recorded in metadata).
    provider_choice : which provider was chosen and why (``ProviderChoice.metadata()`` of
        :mod:`zifsim.potentials.choice`: requested, used, reason, fallback, material ...),
        recorded whole as ``"provider_choice"`` in metadata.json.
    material : registry (or workflow) name of the material, recorded as ``"material"``.
    run_spec : the workflow's :class:`zifsim.workflow.RunSpec` as a dict, recorded as ``"runspec"``.

    Returns the run-level metadata dict. Raises SimulationError on a blow-up
    (the failed stage keeps its data and says ``"status": "failed"``).
    """
    protocol = protocol if isinstance(protocol, Protocol) else load_protocol(protocol)
    provider = _resolve_provider(provider)
    symbols = atoms.get_chemical_symbols()
    provider.check_elements(symbols, source=source)
    if len(atoms) == 0:
        raise StructureError("the cell has no atoms", source=source, fix="check the input file")
    if atoms.cell.rank != 3 or not all(atoms.pbc):
        raise StructureError("the cell must be fully periodic with three cell vectors", source=source,
                             fix="give a crystal cell (CIF / extxyz with a Lattice, or LAMMPS data)")
    seed = check_seed(seed)
    comm, rank, size = mpi_world()
    out = Path(out_dir)
    lammps_path(out / "00-x" / "restart.0", "--out")   # refuse up front what LAMMPS cannot take
    type_elements = default_type_order(atoms)
    data_text = lammps_data_text(atoms, type_elements, title=f"zifsim input {atoms.get_chemical_formula()}",
                                 atom_style=provider.atom_style)
    data_sha = hashlib.sha256(data_text.encode()).hexdigest()
    meta_path = out / "metadata.json"
    dirs = protocol.stage_dirs()
    lock = None
    if rank == 0:
        check_output_dir(out, "--out")
        lock = RunLock(out).acquire()
    try:
        with interrupt.stop_signals_handled():
            if rank == 0:
                _check_resume(out, meta_path, data_sha, provider, seed, protocol, dirs)
                if not (out / "input.data").exists():
                    with atomic_open(out / "input.data") as fh:
                        fh.write(data_text)
            record = {"material": material or atoms.info.get("name"),
                      **({"provider_choice": dict(provider_choice)} if provider_choice else {}),
                      **({"runspec": dict(run_spec)} if run_spec else {})}
            return _run_stages(atoms, protocol, provider, out, dirs, type_elements, data_sha, seed, threads,
                               progress_interval_s, source, record, comm, rank, size)
    finally:
        if lock is not None:
            lock.release()


def _check_resume(out: Path, meta_path: Path, data_sha: str, provider: ForceProvider, seed: int,
                  protocol: Protocol, dirs: list[str]) -> None:
    """Refuse, before anything in ``out`` is written, a resume that would mix runs."""
    old = _read_json(meta_path)
    if old and old.get("input_sha256") != data_sha:
        raise ConfigError(f"{out} holds a run of another cell (input.data differs)", source=str(meta_path),
                          fix="choose a new --out directory, or delete the old run")
    if old and old.get("provider") and provider_identity(old["provider"]) != provider_identity(
            provider.metadata()):
        raise ConfigError(f"{out} was run with {old['provider'].get('name', old['provider'].get('kind'))}, "
                          f"not {provider.name}: resuming would mix two force models in one trajectory",
                          source=str(meta_path), where="provider",
                          fix="resume with the provider (and parameter file / model) that started the run, "
                              "or choose a new --out directory")
    if old and old.get("seed") is not None and int(old["seed"]) != int(seed):
        raise ConfigError(f"{out} was started with seed {old['seed']}, not {seed}", source=str(meta_path),
                          where="seed", fix=f"resume with --seed {old['seed']}, or choose a new --out directory")
    for i, (stage, d) in enumerate(zip(protocol.stages, dirs)):
        if StageRunner(None, i, stage, out / d, out / "input.data", 0.0).status() == "changed":
            raise ConfigError(f"stage {d} was run with other settings than the protocol now gives",
                              source=str(out / d / "metadata.json"),
                              fix="use a new --out directory (or delete this stage folder and the ones after it)")


def _run_stages(atoms, protocol, provider, out, dirs, type_elements, data_sha, seed, threads,
                progress_interval_s, source, record, comm, rank, size) -> dict[str, Any]:
    meta_path = out / "metadata.json"
    ctx = RunContext(provider=provider, units=unit_system(provider.units), type_elements=type_elements,
                     natoms=len(atoms), seed=int(seed), threads=int(threads), comm=comm, rank=rank,
                     progress_interval_s=progress_interval_s, lammps_version=_lammps_version(comm))
    meta = {"zifsim_version": __version__, "lammps_version": ctx.lammps_version,
            "cell": {"source": source, "formula": atoms.get_chemical_formula(), "natoms": len(atoms),
                     "type_elements": type_elements},
            "input_sha256": data_sha, "provider": provider.metadata(),
            **record,
            "protocol": protocol.to_dict(),
            "seed": int(seed), "threads": int(threads), "mpi_ranks": size,
            "thermo_columns": THERMO_COLUMNS + ["stage"],
            "stages": [{"name": s.name, "dir": d, "type": s.type, "status": "pending",
                        "fingerprint": stage_fingerprint(s)} for s, d in zip(protocol.stages, dirs)],
            "status": "running", "wall_s": 0.0}
    t0 = time.time()
    source_data, time_ps = out / "input.data", 0.0
    _write_run_meta(ctx, meta_path, meta)
    if rank == 0:
        log.info("run %s: %d stages, %.3f ps on %s (%d atoms), %s, seed %d, %d thread(s) x %d rank(s)",
                 out, len(dirs), protocol.duration_ps, atoms.get_chemical_formula(), len(atoms), provider.name,
                 seed, threads, size)
    stopped = False
    try:
        for i, (stage, d) in enumerate(zip(protocol.stages, dirs)):
            runner = StageRunner(ctx, i, stage, out / d, source_data, time_ps)
            runner._check_stop()
            status = runner.status() if rank == 0 else None
            status = ctx.bcast(status)
            if status == "changed":   # only when a stage folder changed under a running resume
                raise ConfigError(f"stage {d} was run with other settings than the protocol now gives",
                                  source=str(out / d / "metadata.json"),
                                  fix="use a new --out directory (or delete this stage folder and the ones after it)")
            if status == "complete":
                if rank == 0:
                    log.info("[%s] already complete: skipped", d)
                stage_meta = _read_json(out / d / "metadata.json") if rank == 0 else None
                stage_meta = ctx.bcast(stage_meta)
            else:
                meta["stages"][i]["status"] = "running"
                _write_run_meta(ctx, meta_path, meta)
                try:
                    stage_meta = runner.run()
                except SimulationError:
                    meta["stages"][i]["status"] = "failed"
                    meta["status"] = "failed"
                    raise
                except interrupt.RunInterrupted:
                    meta["stages"][i]["status"] = "interrupted"
                    meta["status"] = "interrupted"
                    stopped = True
                    raise
            meta["stages"][i]["status"] = "complete"
            meta["stages"][i]["timesteps_per_s"] = stage_meta.get("timesteps_per_s")
            time_ps = stage_meta.get("time1_ps", time_ps)
            source_data = out / d / "final.data"
            if rank == 0:
                _write_run_thermo(out, dirs[: i + 1])
            _write_run_meta(ctx, meta_path, meta)
        meta["status"] = "complete"
    except interrupt.RunInterrupted as exc:
        if meta["status"] != "interrupted":   # between stages
            meta["status"], stopped = "interrupted", True
        exc.args = (f"{exc}; {out} is resumable: run the same command again to continue",)
        raise
    finally:
        meta["wall_s"] = time.time() - t0
        _write_run_meta(ctx, meta_path, meta)
        if rank == 0:
            _write_run_thermo(out, [d for d in dirs if (out / d / "thermo.csv").exists()])
            if not stopped:   # stop at once: no plotting after Ctrl-C
                try:
                    plot_run_thermo(out, natoms=len(atoms))
                except Exception as exc:  # noqa: BLE001 - a plot must never lose a run
                    log.warning("could not plot %s/thermo.png: %s", out, exc)
    if rank == 0:
        log.info("run %s complete (%.1f s)", out, meta["wall_s"])
    return meta


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_run_meta(ctx: RunContext, path: Path, meta: dict) -> None:
    if ctx.root:
        write_json(path, meta)
    ctx.barrier()


def _write_run_thermo(out: Path, dirs: list[str]) -> None:
    """Concatenate the stages' thermo.csv into RUNDIR/thermo.csv (+ a ``stage`` column)."""
    with atomic_open(out / "thermo.csv") as fh:
        fh.write(",".join(THERMO_COLUMNS + ["stage"]) + "\n")
        for d in dirs:
            path = out / d / "thermo.csv"
            if not path.exists():
                continue
            for line in path.read_text().splitlines()[1:]:
                if line.strip():
                    fh.write(f"{line},{d}\n")
