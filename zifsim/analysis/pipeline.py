"""`zifsim analyse`: one streaming pass over a run directory (or one structure) -> ADIR.

Writes (docs/architecture.md §3): coordination.csv, lindemann.csv, rdf.csv,
rdf_stages.csv, xray_pdf.csv, xray_lattice.csv, sq.csv, pores.json, psd.csv,
thermo_summary.json, summary.json and PNG plots, all atomically.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from zifsim.analysis.base import FrameAnalysis
from zifsim.analysis.coordination import Coordination
from zifsim.analysis.lindemann import Lindemann, melting_estimate
from zifsim.analysis.rdf import PartialRDF
from zifsim.analysis.trajectory import Frame, open_source, read_run_metadata
from zifsim.errors import InputError
from zifsim.fileio import atomic_open, check_output_dir, write_json

log = logging.getLogger(__name__)

__all__ = ["PerStage", "analyse", "run_identity", "run_status"]

#: statuses of a run directory's metadata.json that mean "finished as planned"
COMPLETE = "complete"


class PerStage(FrameAnalysis):
    """Runs a separate analysis (made by ``factory()``) for every stage; results in ``by_stage``."""

    def __init__(self, factory):
        super().__init__()
        self.factory = factory
        self.by_stage: dict[str, FrameAnalysis] = {}

    def _prepare(self, frame: Frame) -> None:
        self.by_stage = {}  # a new run starts with no stages

    def _single_frame(self, frame: Frame) -> None:
        if frame.stage not in self.by_stage:
            self.by_stage[frame.stage] = self.factory()
        self.by_stage[frame.stage].feed(frame)

    def _conclude(self) -> None:
        for a in self.by_stage.values():
            a.finish()


def run_identity(path: Path, material: str | None = None) -> dict:
    """Material and protocol of a run directory from metadata.json or the results/ path layout."""
    ident = {"material": material, "protocol": None, "replica": None, "source": str(path)}
    meta = {}
    if path.is_dir() and (path / "metadata.json").is_file():
        try:
            meta = json.loads((path / "metadata.json").read_text())
        except json.JSONDecodeError:
            meta = {}
    proto = meta.get("protocol")
    if isinstance(proto, dict):
        ident["protocol"] = proto.get("name")
        ident["protocol_stages"] = proto.get("stages")
    elif isinstance(proto, str):
        ident["protocol"] = proto
    if not ident["material"]:
        cell = meta.get("cell") if isinstance(meta.get("cell"), dict) else {}
        ident["material"] = meta.get("material") or cell.get("name")
        if not ident["material"] and cell.get("source"):
            # results/cells/{material}/cell.extxyz (docs/architecture.md §6)
            src = Path(str(cell["source"]))
            if src.parent.parent.name == "cells":
                ident["material"] = src.parent.name
    # results/runs/{material}/{protocol}/rep{replica}
    parts = path.resolve().parts
    m = re.fullmatch(r"rep(\d+)", parts[-1]) if parts else None
    if m and len(parts) >= 3:
        ident["replica"] = int(m.group(1))
        ident["protocol"] = ident["protocol"] or parts[-2]
        ident["material"] = ident["material"] or parts[-3]
    ident["material"] = ident["material"] or path.name
    ident["seed"] = meta.get("seed")
    ident["provider"] = (meta.get("provider") or {}).get("name") if isinstance(meta.get("provider"), dict) \
        else meta.get("provider")
    return ident


def _csv(table, path) -> None:
    with atomic_open(path) as fh:
        table.to_csv(fh, index=False, float_format="%.6g")


def _progress(total, desc):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True, mininterval=1.0)


def run_status(path: Path) -> dict:
    """Status of a run directory: ``{"run_status", "run_error", "stages": {name: status}}``.

    ``run_status`` is metadata.json's ``status`` (complete | failed | interrupted | running) or
    ``unknown`` for a folder without zifsim metadata; ``run_error`` the failed stage's reason.
    """
    meta = read_run_metadata(path)
    info = {"run_status": str(meta.get("status") or "unknown"), "run_error": None, "stages": {}}
    for st in meta.get("stages") or []:
        info["stages"][str(st.get("name"))] = st.get("status")
        if st.get("status") == "failed" and info["run_error"] is None:
            sm = Path(path) / str(st.get("dir", "")) / "metadata.json"
            try:
                err = json.loads(sm.read_text()).get("error")
            except (OSError, json.JSONDecodeError):
                err = None
            info["run_error"] = f"stage {st.get('dir') or st.get('name')} failed" + (f": {err}" if err else "")
    return info


def _check_run(path: Path, status: dict, allow_incomplete: bool) -> list[str]:
    """Refuse a broken run (unless ``allow_incomplete``); return the stages to skip (never started)."""
    from zifsim.analysis.trajectory import count_dump_frames, run_stages
    state = status["run_status"]
    if state not in (COMPLETE, "unknown") and not allow_incomplete:
        why = f" ({status['run_error']})" if status.get("run_error") else ""
        raise InputError(f"the run is {state}{why}: its results would be mixed with finished runs",
                         source=str(path / "metadata.json"), where="status",
                         fix="finish (resume) it with the same `zifsim run` command, or analyse it anyway with "
                             "--allow-incomplete (its status is then written into every output and the report)")
    skipped = []
    for st in run_stages(path):
        traj = st["dir"] / "traj.lammpstrj"
        started = st.get("status") not in ("pending", None) or traj.exists()
        if not started and (state != COMPLETE):
            skipped.append(st["name"])
            continue
        empty = not traj.is_file() or count_dump_frames(traj) == 0
        if empty and not (allow_incomplete and st.get("status") != COMPLETE):
            what = "is missing" if not traj.exists() else "has no frames"
            raise InputError(f"stage {st['dir'].name} (status {st.get('status')}): its trajectory {what}",
                             source=str(traj),
                             fix="the file was lost or emptied: delete that stage folder (and the ones after it) "
                                 "and resume the run with the same `zifsim run` command")
        if empty:
            log.warning("stage %s has no trajectory frames: skipped", st["dir"].name)
            skipped.append(st["name"])
    return skipped


def checked_frames(frames, path: Path, every: int = 1):
    """Pass frames through, refusing a frame with missing atoms or a non-finite coordinate and turning
    a reader failure into an InputError that names the stage trajectory and the frame."""
    from zifsim.analysis.trajectory import run_stages
    files = {}
    if path.is_dir():
        try:
            files = {st["name"]: st["dir"] / "traj.lammpstrj" for st in run_stages(path)}
        except InputError:
            files = {}
    n_atoms, stage, index, last = None, None, -1, None
    it = iter(frames)
    while True:
        try:
            frame = next(it)
        except StopIteration:
            return
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - pandas / numpy parse errors of a damaged file
            src = files.get(stage, path)
            where = f"frame {(index + 1) * every}, after step {last.step}" if last is not None else "frame 0"
            raise InputError(f"the frame cannot be read: atom lines are missing or damaged "
                             f"({type(exc).__name__}: {exc})", source=str(src), where=where,
                             fix="rerun that stage (delete its folder and resume the run)") from None
        if frame.stage != stage:
            stage, index = frame.stage, -1
        index += 1
        src = files.get(stage, path)
        where = f"frame {index * every}, step {frame.step}" if frame.step is not None else f"frame {index * every}"
        if n_atoms is None:
            n_atoms = frame.n_atoms
        elif frame.n_atoms != n_atoms:
            raise InputError(f"the frame has {frame.n_atoms} atoms, the first frame {n_atoms}: atoms are missing",
                             source=str(src), where=where,
                             fix="the trajectory is damaged or atoms were lost; rerun that stage")
        bad = ~np.isfinite(np.asarray(frame.positions, float)).all(axis=1)
        if bad.any() or not np.isfinite(np.asarray(frame.cell, float)).all():
            ids = np.asarray(frame.ids)[bad][:5].tolist() if frame.ids is not None else []
            raise InputError(f"{int(bad.sum())} atom(s) with a NaN / infinite coordinate"
                             + (f" (ids {', '.join(map(str, ids))})" if ids else " (or a non-finite cell)"),
                             source=str(src), where=where,
                             fix="the run blew up or the file is damaged: analyse the frames before it "
                                 "or rerun that stage")
        last = frame
        yield frame


def _staging_dir(out: Path) -> Path:
    """A fresh hidden folder inside ``out`` for one analysis; leftovers of killed analyses are removed."""
    for old in out.glob(".partial-*"):
        try:
            pid = int(old.name.split("-")[1])
            os.kill(pid, 0)
            continue          # a live analysis writes there
        except (ValueError, IndexError, ProcessLookupError):
            shutil.rmtree(old, ignore_errors=True)
        except PermissionError:
            continue
    return Path(tempfile.mkdtemp(prefix=f".partial-{os.getpid()}-", dir=out))


def _publish(staging: Path, out: Path, outputs: list[str]) -> None:
    """Move one analysis' files from ``staging`` into ``out``: the old summary.json and the old
    analysis' files go first, summary.json (the marker of a complete analysis) comes last."""
    old_summary = out / "summary.json"
    stale = []
    if old_summary.is_file():
        try:
            stale = list(json.loads(old_summary.read_text()).get("outputs") or [])
        except (OSError, json.JSONDecodeError):
            stale = []
        old_summary.unlink()
    for name in stale:
        target = out / name
        if name not in outputs and target.is_file() and target.parent == out:
            target.unlink()
    for name in sorted(outputs, key=lambda n: n == "summary.json"):
        src, dst = staging / name, out / name
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        os.replace(src, dst)


def analyse(path, out, every: int = 1, material: str | None = None, cutoffs: dict | None = None,
            window: int | None = None, r_max: float = 10.0, dr: float = 0.02, q_max: float = 22.0,
            pores: bool = True, probe: str = "He", progress: bool = True, fmt: str | None = None,
            types=None, topology=None, atom_style: str | None = None,
            allow_incomplete: bool = False, pore_options: dict | None = None) -> dict:
    """Analyse a run directory, a trajectory or a structure file and write everything into ``out``.

    ``fmt`` / ``types`` / ``topology`` / ``atom_style`` say how to read ``path``
    (:func:`zifsim.analysis.trajectory.open_source`): a file that cannot be read
    is refused before ``out`` is created. The outputs of one analysis appear together or
    not at all: they are written into a hidden folder inside ``out`` and moved into place
    at the end, ``summary.json`` last. A run that is not complete (failed, interrupted,
    still running) is refused unless ``allow_incomplete``; its ``run_status`` is recorded
    in summary.json and thermo_summary.json and in plot titles.
    Returns the summary dict (also written to ``out/summary.json``).
    """
    from zifsim.analysis.trajectory import is_run_dir
    path, out = Path(path), Path(out)
    if every < 1:
        raise InputError(f"--every {every}", where="--every", fix="give a positive integer stride")
    status = {"run_status": None, "run_error": None, "stages": {}}
    if fmt in (None, "auto", "run") and is_run_dir(path):
        status = run_status(path)
        status["skipped_stages"] = _check_run(path, status, allow_incomplete)
    elif not path.is_dir():
        from zifsim.fileio import check_input_file
        try:
            check_input_file(path, "input")
        except InputError as exc:
            raise InputError(f"not a run directory or structure file (nor a trajectory): "
                             f"{exc.message.replace('input ', '', 1)}", source=path,
                             fix="give RUNDIR (with metadata.json / NN-stage/traj.lammpstrj), a LAMMPS dump or "
                                 "data file, a DCD/XTC with --topology, or a CIF/extxyz") from None
    source = open_source(path, fmt=fmt, types=types, topology=topology, atom_style=atom_style, every=every)
    created = not out.exists()
    check_output_dir(out, "--out")
    staging = _staging_dir(out)
    try:
        summary = _analyse(path, staging, source, every=every, material=material, cutoffs=cutoffs, window=window,
                           r_max=r_max, dr=dr, q_max=q_max, pores=pores, probe=probe, progress=progress,
                           status=status, pore_options=pore_options)
        if status["run_status"] is not None:
            extra = {"run_status": status["run_status"], "run_error": status["run_error"],
                     "skipped_stages": status.get("skipped_stages", [])}
            summary.update(extra)
            thermo_path = staging / "thermo_summary.json"
            if thermo_path.is_file():
                write_json(thermo_path, {**json.loads(thermo_path.read_text()), **extra})
        outputs = sorted(p.name for p in staging.iterdir())
        summary["outputs"] = sorted(set(outputs) | {"summary.json"})
        write_json(staging / "summary.json", summary)
        _publish(staging, out, summary["outputs"])
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _analyse(path, out, source, every: int = 1, material: str | None = None, cutoffs: dict | None = None,
             window: int | None = None, r_max: float = 10.0, dr: float = 0.02, q_max: float = 22.0,
             pores: bool = True, probe: str = "He", progress: bool = True, status: dict | None = None,
             pore_options: dict | None = None) -> dict:
    """The analysis itself, writing into ``out`` (the staging folder of :func:`analyse`)."""
    from zifsim.analysis.plots import (plot_coordination, plot_lindemann, plot_rdf, plot_thermo,
                                       plot_xray)
    from zifsim.analysis.thermo import ThermoAnalysis, onset_temperature, read_run_thermo
    from zifsim.analysis.xray import XrayPDF
    import pandas as pd

    path, out = Path(path), Path(out)
    run_mode = source.kind == "run"
    frames, total = source.frames, source.total
    if run_mode:
        frames = checked_frames(frames, path, every)
        ident = run_identity(path, material)
    else:  # results/cells/{material}/cell.* names the material by its folder
        guess = path.parent.name if path.parent.parent.name == "cells" else path.name.split(".")[0]
        ident = {"material": material or guess, "protocol": source.kind, "replica": None, "source": str(path)}
    if window is None:  # default: a fifth of the longest stage, 3 to 20 analysed frames
        window = 20
        if run_mode:
            from zifsim.analysis.trajectory import count_dump_frames, run_stages
            longest = max((count_dump_frames(st["dir"] / "traj.lammpstrj") // every
                           for st in run_stages(path) if (st["dir"] / "traj.lammpstrj").is_file()), default=0)
            window = int(min(20, max(3, longest // 5)))
    coord = Coordination(cutoffs=cutoffs)
    lind = Lindemann(window=window, stride=max(1, window // 2))  # half-overlapping windows
    # one r grid for every stage; any r_max in any cell (periodic images are counted)
    def make_rdf():
        return PartialRDF(r_max=r_max, dr=dr)

    rdfs = PerStage(make_rdf)
    # exact low-Q scattering of the periodic cell (reciprocal lattice), averaged over up to ~40
    # frames per stage: report / compare-xray use it below a measurement's Qmin (docs/xray.md)
    from zifsim.analysis.xray import LowQLattice
    lat_every = max(1, (total or 1) // 40)
    lattices = PerStage(lambda: LowQLattice(q_max=2.0, every=lat_every))
    from zifsim.analysis.diffusion import Diffusion
    diff = Diffusion()
    from zifsim.analysis.crystallinity import Crystallinity, default_reference
    cryst_ref, cryst_ref_label = default_reference(path, ident.get("material"), run_mode)
    cryst = Crystallinity(reference=cryst_ref)
    analyses = [coord, rdfs, cryst, lattices] + ([lind, diff] if run_mode else [])
    first_frame = last_frame = None
    bar = _progress(total, f"analyse {ident['material'] or path.name}") if progress else None
    n = 0
    for frame in frames:
        if first_frame is None:
            first_frame = frame
        last_frame = frame
        for a in analyses:
            a.feed(frame)
        n += 1
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if n == 0:
        raise InputError("no frames to analyse", source=path,
                         fix="the trajectory is empty; check that the run has started writing dumps")
    for a in analyses:
        a.finish()
    out.mkdir(parents=True, exist_ok=True)  # only once every frame was read
    title = f"{ident['material']} {ident.get('protocol') or ''}".strip()
    if status and status.get("run_status") not in (None, COMPLETE, "unknown"):
        title += f" [{status['run_status'].upper()} run]"
    files = []

    # --- coordination
    _csv(coord.table, out / "coordination.csv")
    files.append("coordination.csv")
    plot_coordination(coord.table, out / "coordination.png", title)

    # --- RDF / X-ray per stage
    stages = list(rdfs.by_stage)
    last_rdf = rdfs.by_stage[stages[-1]]
    rdf_table = last_rdf.table.copy()
    _csv(rdf_table, out / "rdf.csv")
    long = []
    for st, r in rdfs.by_stage.items():
        t = r.table.melt(id_vars="r_A", var_name="pair", value_name="g")
        t.insert(0, "stage", st)
        long.append(t)
    _csv(pd.concat(long, ignore_index=True), out / "rdf_stages.csv")
    plot_rdf(rdfs.by_stage, out / "rdf.png", title)
    xrays = {st: XrayPDF(q_max=q_max).compute(r, lattices.by_stage.get(st)) for st, r in rdfs.by_stage.items()}
    _csv(lattices.by_stage[stages[-1]].table, out / "xray_lattice.csv")
    xray_model = {"stage": stages[-1], "number_density_A3": last_rdf.number_density,
                  "concentrations": last_rdf.concentrations, "counts": last_rdf.counts,
                  "rdf_r_max_A": last_rdf.r_max, "rdf_frames": last_rdf.n_frames,
                  "lattice_frames": lattices.by_stage[stages[-1]].n_used, "lattice_q_max_invA": 2.0}
    xr_last, xr_first = xrays[stages[-1]], xrays[stages[0]]
    xr_tab = xr_last.table_r.copy()
    xr_tab["G_first_stage"] = np.interp(xr_last.r, xr_first.r, xr_first.G, right=np.nan)
    xr_tab["D_qmax_first_stage"] = np.interp(xr_last.r, xr_first.r, xr_first.D_qmax, right=np.nan)
    _csv(xr_tab, out / "xray_pdf.csv")
    sq = xr_last.table_q.copy()
    sq["S_first_stage"] = xr_first.S
    _csv(sq, out / "sq.csv")
    plot_xray(xrays, out / "xray_pdf.png", title)
    peaks = last_rdf.peaks()
    _csv(peaks, out / "rdf_peaks.csv")

    # --- crystallinity index, density and CN distribution per stage (zifsim.analysis.crystallinity)
    from zifsim.analysis.crystallinity import plot_crystallinity, stage_table
    try:
        _csv(cryst.table, out / "crystallinity.csv")
        by_stage = stage_table(cryst, coord.table)
        _csv(by_stage, out / "stages.csv")
        plot_crystallinity(cryst.table, out / "crystallinity.png", title)
        files += ["crystallinity.csv", "stages.csv"]
    except InputError as exc:   # a cell that cannot be indexed on the reference lattice
        log.warning("crystallinity skipped: %s", exc)
        by_stage = None

    # --- Lindemann + thermodynamics (runs only)
    thermo_summary = {"stages": {}, "Tg": {}, "Tm": {}, "cold_crystallisation": {}}
    tm = None
    if run_mode:
        _csv(lind.table, out / "lindemann.csv")
        _csv(diff.table, out / "diffusion.csv")
        _csv(diff.msd, out / "msd.csv")
        try:
            thermo = read_run_thermo(path)
        except InputError as exc:
            log.warning("no thermodynamics: %s", exc)
            thermo = None
        if thermo is not None:
            ta = ThermoAnalysis().compute(thermo, ident.get("protocol_stages"))
            thermo_summary["stages"] = ta.stages
            thermo_summary["Tg"] = ta.tg
            thermo_summary["cold_crystallisation"] = ta.cold_crystallisation
            if len(ta.table):
                _csv(ta.table, out / "thermo_vs_T.csv")
                plot_thermo(ta.table, ta.tg, out / "thermo.png", title)
            heating = [s for s, d in ta.stages.items() if d == "heating"]
        else:
            ta = None
            heating = []
        lt = lind.table
        if heating and len(lt):
            h = lt[lt.stage == heating[0]]
            tm = melting_estimate(h.temp_K.to_numpy(), h.lindemann_metal.to_numpy(),
                                  T_span_K=(h.T_max_K - h.T_min_K).to_numpy())
            tm["stage"] = heating[0]
            tm["method"] = "Lindemann (metals), sliding window"
            thermo_summary["Tm"]["lindemann"] = tm
            tp = melting_estimate(h.temp_K.to_numpy(), h.pair_index.to_numpy(), thresholds=(0.10,),
                                  T_span_K=(h.T_max_K - h.T_min_K).to_numpy())
            thermo_summary["Tm"]["pair_index"] = tp
            c = coord.table[coord.table.stage == heating[0]]
            thermo_summary["Tm"]["cn_onset_K"] = onset_temperature(
                c.temp_K.to_numpy(), c.mean_CN.to_numpy(), direction=-1)
        plot_lindemann(lt, out / "lindemann.png", tm=tm, title=title)
        thermo_summary["Tg_cooling"] = ta.best_tg("cooling") if ta else None
        thermo_summary["Tg_reheating"] = ta.best_tg("reheating") if ta else None
    else:  # a single structure: no time series, but the same files (header only)
        _csv(lind.table if lind.n_frames else pd.DataFrame(columns=[
            "stage", "step0", "n_frames", "time_ps", "temp_K", "T_min_K", "T_max_K", "d_MM_A",
            "lindemann_metal", "lindemann_all", "pair_index"]), out / "lindemann.csv")
    write_json(out / "thermo_summary.json", thermo_summary)

    # --- pores of the first and last frame
    pores_result = None
    if not pores:  # the workflow expects these files: write them, saying why they are empty
        write_json(out / "pores.json", {"skipped": "pore analysis switched off (--no-pores)"})
        with atomic_open(out / "psd.csv") as fh:
            fh.write("frame,method,diameter_A,fraction\n")
    else:
        try:
            from zifsim.analysis.pores import pore_summary
            pores_result = pore_summary({"first": first_frame, "last": last_frame}, probe=probe, out=out,
                                        title=title, progress=None if progress else False, **(pore_options or {}))
        except InputError as exc:
            log.warning("pores skipped: %s", exc)
            pores_result = {"error": str(exc)}

    # --- summary
    last_stage = coord.table.stage.iloc[-1]
    cl = coord.table[coord.table.stage == last_stage]
    cf = coord.table[coord.table.stage == coord.table.stage.iloc[0]]
    metals = coord.metal_elements

    def peak_near(pair_prefix, lo, hi):
        sel = peaks[(peaks.pair.str.startswith(pair_prefix)) & (peaks.r_A > lo) & (peaks.r_A < hi)]
        return float(sel.sort_values("g").r_A.iloc[-1]) if len(sel) else None

    m0 = metals[0]
    first_rdf = rdfs.by_stage[stages[0]]
    first_peaks = first_rdf.peaks()

    # low-Q S(Q) straight from the reciprocal lattice of the cell (the transform of g(r)
    # cut at half the cell cannot resolve the first sharp diffraction peak)
    from zifsim.analysis.xray import direct_structure_factor, first_sharp_peak
    q1, s1, n1 = direct_structure_factor(first_frame, q_max=3.0, dq=0.05)
    q2, s2, n2 = direct_structure_factor(last_frame, q_max=3.0, dq=0.05)
    # both frames use the same Q bins; the occupied bins may differ if the cell changed
    sqd = pd.DataFrame({"Q_invA": np.round(q1, 6), "S_first_frame": s1, "n_vectors_first": n1}).merge(
        pd.DataFrame({"Q_invA": np.round(q2, 6), "S_last_frame": s2, "n_vectors_last": n2}),
        how="outer", on="Q_invA").sort_values("Q_invA")
    _csv(sqd, out / "sq_direct.csv")

    mm_first = first_peaks[first_peaks.pair == f"{m0}-{m0}"].r_A.tolist()
    summary = {
        "material": ident["material"], "protocol": ident.get("protocol"), "replica": ident.get("replica"),
        "provider": ident.get("provider"), "seed": ident.get("seed"),
        "source": str(path), "kind": source.kind, "format": source.fmt, "every": every,
        "n_frames": n, "n_atoms": first_frame.n_atoms, "stages": stages,
        "metals": metals, "n_metals": int(len(coord.metal_all)), "cutoffs_A": coord.cutoffs,
        "cutoff_rule": coord.cutoff_rule,
        "stage_directions": thermo_summary.get("stages", {}), "cutoff_source": coord.cutoff_source,
        "density_gcm3_first": first_frame.density_gcm3(), "density_gcm3_last": last_frame.density_gcm3(),
        "volume_A3_first": first_frame.volume, "volume_A3_last": last_frame.volume,
        "mean_CN_first_stage": float(cf.mean_CN.mean()), "mean_CN_last_stage": float(cl.mean_CN.mean()),
        "frac_CN4_last_stage": float(cl.frac_CN4.mean()),
        "frac_undercoordinated_last_stage": float((cl.n_undercoordinated / len(coord.metal_all)).mean()),
        "frac_dangling_linkers_last_stage": float(cl.frac_dangling_linkers.mean()),
        "mean_tau4_last_stage": float(cl.mean_tau4.mean()),
        "mean_tau4_first_stage": float(cf.mean_tau4.mean()),
        "MM_peaks_first_stage_A": mm_first,
        "FSDP_first_stage_invA": first_sharp_peak(q1, s1), "FSDP_last_stage_invA": first_sharp_peak(q2, s2),
        "peak_MN_A": peak_near(f"{m0}-N", 1.7, 2.6),
        "peak_MM_A": peak_near(f"{m0}-{m0}", 4.5, 7.5),
        "Tm_K": tm.get("Tm_K") if tm else None, "Tm_err_K": tm.get("Tm_err_K") if tm else None,
        "T_max_heating_K": (float(lind.table[lind.table.stage == tm["stage"]].T_max_K.max())
                            if tm and run_mode and len(lind.table) else None),
        "cn_onset_K": thermo_summary["Tm"].get("cn_onset_K"),
        "Tg_cooling_K": (thermo_summary.get("Tg_cooling") or {}).get("Tg_K"),
        "Tg_cooling_err_K": (thermo_summary.get("Tg_cooling") or {}).get("Tg_err_K"),
        "Tg_reheating_K": (thermo_summary.get("Tg_reheating") or {}).get("Tg_K"),
        "cold_crystallisation_K": next((v.get("onset_K") for v in thermo_summary["cold_crystallisation"].values()
                                        if v.get("onset_K")), None),
        "diffusion": diff.table.to_dict(orient="records") if run_mode else [],
        "pores": pores_result,
        "rdf_stage": stages[-1], "rdf_r_max_A": last_rdf.r_max, "lindemann_window_frames": window,
        "crystallinity_reference": cryst_ref_label,
        "crystallinity_first_stage": (float(by_stage.crystallinity.iloc[0]) if by_stage is not None else None),
        "crystallinity_last_stage": (float(by_stage.crystallinity.iloc[-1]) if by_stage is not None else None),
        "by_stage": (by_stage.to_dict(orient="records") if by_stage is not None else []),
        "xray_model": xray_model,
    }
    write_json(out / "summary.json", summary)
    return summary
