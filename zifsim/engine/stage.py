"""Run one protocol stage in LAMMPS, with checkpoints, resume, blow-up detection and progress.

A stage is cut into *chunks*: stretches between checkpoints and segment
boundaries. Every chunk starts from a fresh LAMMPS instance that reads
either the stage input (``read_data``, first chunk) or the last checkpoint
(``read_restart``), issues the same commands and runs to the chunk end, where
it writes the next checkpoint. An interrupted stage (SIGKILL at any moment)
therefore continues from its last checkpoint along exactly the trajectory an
uninterrupted run follows. Steps are stage-local (0 at the stage start);
``time_ps`` is cumulative over the run.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zifsim import __version__
from zifsim.errors import SimulationError
from zifsim.fileio import atomic_open, lammps_path, write_json
from zifsim.potentials.base import ForceProvider
from zifsim.protocols.loader import stage_fingerprint
from zifsim.protocols.stages import Minimise, Segment, Stage
from zifsim.seeds import DEFAULT_SEED, stage_seed
from zifsim.engine import interrupt
from zifsim.lammps_loader import new_lammps
from zifsim.engine.units import UnitSystem

log = logging.getLogger("zifsim.engine")

THERMO_COLUMNS = ["step", "time_ps", "temp_K", "press_bar", "volume_A3", "density_gcm3", "pe_eV",
                  "enthalpy_eV", "lx_A", "ly_A", "lz_A", "xy_A", "xz_A", "yz_A", "ke_eV", "etotal_eV"]
#: LAMMPS thermo keywords printed by the engine, in this order
_LMP_KEYS = ["step", "temp", "press", "vol", "density", "pe", "enthalpy", "lx", "ly", "lz", "xy", "xz", "yz",
             "ke", "etotal"]
HALT_EVERY_STEPS = 10


@dataclass
class RunContext:
    """What every stage of a run shares."""
    provider: ForceProvider
    units: UnitSystem
    type_elements: list[str]
    natoms: int
    seed: int = DEFAULT_SEED
    threads: int = 1
    comm: Any = None
    rank: int = 0
    progress_interval_s: float = 20.0
    lammps_version: str = ""

    @property
    def root(self) -> bool:
        """True on the MPI rank that writes Python-side files."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.comm is not None:
            self.comm.Barrier()

    def bcast(self, value):
        return self.comm.bcast(value, root=0) if self.comm is not None else value


@dataclass
class Chunk:
    """Steps [start, stop) of the stage run by one LAMMPS instance, inside one segment."""
    start: int
    stop: int
    segment: int


class StageRunner:
    """Runs (or resumes) one stage into its folder ``NN-<name>``.

    Parameters
    ----------
    ctx : the shared :class:`RunContext`.
    index : stage index in the protocol (for seeds and names).
    stage : the :class:`~zifsim.protocols.stages.Stage`.
    stage_dir : output folder.
    input_data : LAMMPS data file the stage starts from.
    time0_ps : run time (ps) at the stage start.
    """

    def __init__(self, ctx: RunContext, index: int, stage: Stage, stage_dir: Path, input_data: Path,
                 time0_ps: float):
        self.ctx, self.index, self.stage = ctx, index, stage
        self.dir, self.input_data, self.time0_ps = Path(stage_dir), Path(input_data), time0_ps
        self.fingerprint = stage_fingerprint(stage)
        self.dt_fs = stage.timestep_fs
        self.segments: list[Segment] = stage.segments()
        self.seg_steps = [max(1, int(round(s.duration_ps * 1000.0 / self.dt_fs))) for s in self.segments]
        self.seg_start = list(np.cumsum([0] + self.seg_steps[:-1])) if self.segments else []
        self.nsteps = int(sum(self.seg_steps))
        self.commands: list[dict] = []
        self.thermo_rows: list[list[float]] = []

    # ----------------------------------------------------------------- helpers
    def steps(self, fs: float | None) -> int:
        """A time interval (fs) in whole steps (at least 1)."""
        return max(1, int(round((fs or 0) / self.dt_fs)))

    @property
    def meta_path(self) -> Path:
        return self.dir / "metadata.json"

    def status(self) -> str | None:
        """Status recorded in the stage metadata (None if the stage never ran)."""
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if meta.get("fingerprint") != self.fingerprint:
            # a finished stage must not silently change; an unfinished one restarts afresh
            return "changed" if meta.get("status") == "complete" else None
        return meta.get("status")

    def chunks(self) -> list[Chunk]:
        """Chunk boundaries: every checkpoint interval and every segment boundary."""
        every = self.steps(self.stage.checkpoint_every_ps * 1000.0)
        bounds = set(range(every, self.nsteps, every)) | {int(s) for s in self.seg_start[1:]} | {self.nsteps}
        edges = [0] + sorted(b for b in bounds if 0 < b <= self.nsteps)
        out = []
        for a, b in zip(edges[:-1], edges[1:]):
            seg = max(i for i, s in enumerate(self.seg_start) if s <= a)
            out.append(Chunk(a, b, seg))
        return out

    # ---------------------------------------------------------------- commands
    def _start_commands(self, source: Path, from_restart: bool, triclinic: bool) -> list[str]:
        ctx = self.ctx
        cmds = [f"log {q(self.dir / 'log.lammps')} append",
                f"units {ctx.provider.units}", f"atom_style {ctx.provider.atom_style}",
                "atom_modify map array"]
        if from_restart:
            cmds.append(f"read_restart {q(source)}")
        else:
            cmds += ["boundary p p p", f"read_data {q(source)}"]
            if triclinic:
                cmds.append("change_box all triclinic")
            cmds.append("reset_timestep 0")
        cmds += ["neighbor 2.0 bin", "neigh_modify every 1 delay 0 check yes"]
        return cmds

    def _needs_triclinic(self) -> bool:
        if isinstance(self.stage, Minimise):
            return self.stage.box_relax == "tri"
        return any(s.barostat == "tri" or any(d.param in ("xy", "xz", "yz") for d in s.deform)
                   for s in self.segments)

    def _ensemble_commands(self, seg: Segment, chunk: Chunk) -> list[str]:
        u = self.ctx.units
        local0 = chunk.start - self.seg_start[chunk.segment]
        local1 = chunk.stop - self.seg_start[chunk.segment]
        n = self.seg_steps[chunk.segment]

        def lin(a, b, k):
            return a + (b - a) * k / n
        tdamp = u.time_from_fs(self.stage.tdamp_fs)
        pdamp = u.time_from_fs(self.stage.pdamp_fs)
        if seg.ensemble == "nve":
            return ["fix zs_ens all nve"]
        t0, t1 = lin(seg.T_start_K, seg.T_stop_K, local0), lin(seg.T_start_K, seg.T_stop_K, local1)
        temp = f"temp {t0:.10g} {t1:.10g} {tdamp:.10g}"
        if seg.ensemble == "nvt":
            return [f"fix zs_ens all nvt {temp}"]
        p0 = u.pressure_from_bar(lin(seg.P_start_bar, seg.P_stop_bar, local0))
        p1 = u.pressure_from_bar(lin(seg.P_start_bar, seg.P_stop_bar, local1))
        if seg.barostat in ("iso", "aniso", "tri"):
            return [f"fix zs_ens all npt {temp} {seg.barostat} {p0:.10g} {p1:.10g} {pdamp:.10g}"]
        dims = " ".join(f"{d} {p0:.10g} {p1:.10g} {pdamp:.10g}" for d in seg.barostat.split())
        return [f"fix zs_ens all npt {temp} {dims} couple none"]

    def _deform_commands(self, seg: Segment, chunk: Chunk, ref: dict) -> list[str]:
        if not seg.deform:
            return []
        u = self.ctx.units
        dt_ps = self.dt_fs / 1000.0
        tau = f"step*{dt_ps!r}"
        tau0 = chunk.start * dt_ps
        cmds, args = [], []
        for d in seg.deform:
            length = ref[d.ref]
            base = d.strain(tau0)
            cmds.append(f"variable zs_d_{d.param} equal \"{length!r}*({d.lammps_strain(tau)}-({base!r}))\"")
            per_time = 1.0 / u.time_from_fs(1000.0)   # 1/ps -> 1/(LAMMPS time)
            cmds.append(f"variable zs_r_{d.param} equal \"{length * per_time!r}*({d.lammps_rate(tau)})\"")
            args.append(f"{d.param} variable v_zs_d_{d.param} v_zs_r_{d.param}")
        cmds.append(f"fix zs_deform all deform 1 {' '.join(args)} remap x")
        return cmds

    def _output_commands(self, chunk: Chunk) -> list[str]:
        ctx, st = self.ctx, self.stage
        te, de = self.steps(st.thermo_every_fs), self.steps(st.dump_every_fs)
        fields = " ".join(f"$({k}:%.12g)" if k != "step" else "$(step)" for k in _LMP_KEYS)
        cmds = [f"thermo {te}", "thermo_style custom step temp press pe ke etotal vol density",
                "thermo_modify lost warn flush yes",
                f"fix zs_thermo all print {te} \"{fields}\" file {q(self.dir / 'thermo.chunk')} screen no "
                f"title \"# {' '.join(_LMP_KEYS)}\"",
                f"dump zs_traj all custom {de} {q(self.dir / 'traj.chunk')} id type element x y z ix iy iz",
                f"dump_modify zs_traj element {' '.join(ctx.type_elements)} sort id format float %.8g"]
        if chunk.start > 0:
            cmds += [f"variable zs_skip equal \"step=={chunk.start}\"", "dump_modify zs_traj skip v_zs_skip"]
        if st.bonds_every_fs:
            cmds += ctx.provider.output_commands(self.dir / "bonds.chunk", self.steps(st.bonds_every_fs))
        return cmds

    def _halt_commands(self) -> list[str]:
        ctx, st = self.ctx, self.stage
        tmax = st.max_temperature_K()
        runaway = st.runaway_T_K or max(2.0 * tmax, tmax + 1500.0)
        self.checks = {"zs_lost": (f"atoms<{ctx.natoms}", "atoms were lost (they flew out of the cell)"),
                       "zs_nan": ("(pe!=pe)||(temp!=temp)", "the energy or temperature became NaN"),
                       "zs_hot": (f"temp>{runaway:.6g}",
                                  f"temperature runaway above {runaway:.0f} K (target max {tmax:.0f} K)")}
        for i, (expr, msg) in enumerate(ctx.provider.failure_checks()):
            self.checks[f"zs_model{i}"] = (expr, msg)
        cmds = [f"variable {k} equal \"{expr}\"" for k, (expr, _) in self.checks.items()]
        cmds.append(f"variable zs_bad equal \"{'+'.join('v_' + k for k in self.checks)}\"")
        cmds.append(f"fix zs_halt all halt {HALT_EVERY_STEPS} v_zs_bad != 0.0 error soft message no")
        return cmds

    # -------------------------------------------------------------- lammps I/O
    def _new_lammps(self):
        lmp = new_lammps(threads=self.ctx.threads, comm=self.ctx.comm)
        interrupt.set_active_lammps(lmp)
        return lmp

    def _close_lammps(self, lmp) -> None:
        interrupt.set_active_lammps(None)
        lmp.close()

    def _check_stop(self, step: int | None = None) -> None:
        """Raise RunInterrupted when SIGINT/SIGTERM arrived (on any MPI rank)."""
        flag = interrupt.requested() or 0
        if self.ctx.comm is not None:
            flag = self.ctx.comm.allreduce(flag, op=__import__("mpi4py").MPI.MAX)
        if flag:
            where = f"in stage {self.dir.name}" + (f" at step {step}" if step is not None else "")
            raise interrupt.RunInterrupted(f"run stopped by {__import__('signal').Signals(flag).name} {where}",
                                           flag)

    def _issue(self, lmp, cmds: list[str], record: list[str]) -> None:
        for c in cmds:
            self._check_stop()
            record.append(c)
            try:
                lmp.command(c)
            except Exception as exc:  # LAMMPS errors arrive as plain Exceptions
                raise SimulationError(f"stage {self.stage.name}: LAMMPS rejected {c!r}: {exc}") from exc

    def _read_thermo_chunk(self, after_step: int) -> list[list[float]]:
        """Rows of the chunk's thermo file with step > after_step, converted to zifsim units."""
        path = self.dir / "thermo.chunk"
        rows = []
        if not path.exists():
            return rows
        u = self.ctx.units
        for line in path.read_text().splitlines():
            parts = line.split()
            if not parts or parts[0].startswith("#") or len(parts) != len(_LMP_KEYS):
                continue
            try:
                v = dict(zip(_LMP_KEYS, map(float, parts)))
            except ValueError:
                continue
            step = int(v["step"])
            if step <= after_step:
                continue
            rows.append([step, self.time0_ps + step * self.dt_fs / 1000.0, v["temp"],
                         v["press"] * u.bar_per_pressure, v["vol"], v["density"], v["pe"] * u.eV_per_energy,
                         v["enthalpy"] * u.eV_per_energy, v["lx"], v["ly"], v["lz"], v["xy"], v["xz"], v["yz"],
                         v["ke"] * u.eV_per_energy, v["etotal"] * u.eV_per_energy])
        return rows

    def _write_thermo(self) -> None:
        with atomic_open(self.dir / "thermo.csv") as fh:
            fh.write(",".join(THERMO_COLUMNS) + "\n")
            for r in self.thermo_rows:
                fh.write(f"{int(r[0])}," + ",".join(f"{x:.10g}" for x in r[1:]) + "\n")

    def _append_file(self, chunk_file: Path, target: Path, keep_bytes: int) -> int:
        """Append ``chunk_file`` to ``target`` truncated at ``keep_bytes``; return the new size."""
        with open(target, "ab") as out:
            out.truncate(keep_bytes)
            out.seek(keep_bytes)
            if chunk_file.exists():
                out.write(chunk_file.read_bytes())
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
        return size

    # --------------------------------------------------------------- checkpoint
    def _load_checkpoint(self) -> dict | None:
        path = self.dir / "checkpoint.json"
        try:
            ck = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if ck.get("fingerprint") != self.fingerprint or not (self.dir / ck["restart"]).exists():
            return None
        return ck

    def _save_checkpoint(self, ck: dict) -> None:
        write_json(self.dir / "checkpoint.json", ck)
        for old in self.dir.glob("restart.*"):
            if old.name != ck["restart"] and not old.name.endswith(".part"):
                old.unlink()

    # --------------------------------------------------------------------- run
    def run(self) -> dict:
        """Run or resume the stage; return its metadata (status ``complete``)."""
        if self.ctx.root:
            self.dir.mkdir(parents=True, exist_ok=True)
        self.ctx.barrier()
        if isinstance(self.stage, Minimise):
            return self._run_minimise()
        return self._run_md()

    def _base_meta(self) -> dict:
        return {"zifsim_version": __version__, "lammps_version": self.ctx.lammps_version,
                "stage": self.stage.name, "index": self.index,
                "type": self.stage.type, "settings": self.stage.to_dict(), "fingerprint": self.fingerprint,
                "provider": self.ctx.provider.metadata(), "units": self.ctx.provider.units,
                "type_elements": self.ctx.type_elements, "seed": self.ctx.seed, "threads": self.ctx.threads,
                "mpi_ranks": self.ctx.comm.Get_size() if self.ctx.comm is not None else 1,
                "input_data": str(self.input_data), "time0_ps": self.time0_ps,
                "timestep_fs": self.dt_fs, "nsteps": self.nsteps,
                "step_note": "steps are stage-local (0 at the stage start); time_ps is cumulative"}

    def _write_meta(self, meta: dict) -> None:
        if self.ctx.root:
            write_json(self.meta_path, meta)

    def _run_minimise(self) -> dict:
        st: Minimise = self.stage  # type: ignore[assignment]
        ctx, u = self.ctx, self.ctx.units
        t_wall = time.time()
        record: list[str] = []
        lmp = self._new_lammps()
        try:
            if ctx.root:
                ctx.provider.prepare(self.dir)
            ctx.barrier()
            self._issue(lmp, self._start_commands(self.input_data, False, self._needs_triclinic()), record)
            self._issue(lmp, ctx.provider.setup_commands(ctx.type_elements), record)
            ctx.provider.attach(lmp, ctx.type_elements)
            self._issue(lmp, ["thermo_style custom step temp press pe vol density", "thermo_modify lost warn",
                              f"write_dump all custom {q(self.dir / 'traj.first')} id type element x y z ix iy iz "
                              f"modify element {' '.join(ctx.type_elements)} sort id format float %.8g",
                              "run 0"], record)
            self.thermo_rows = [self._thermo_now(lmp, 0)]
            self._install_min_progress(lmp, record)
            minimize = (f"minimize {st.etol} {u.force_from_eV_per_A(st.ftol_eV_per_A):.10g} "
                        f"{st.max_iter} {st.max_eval}")
            # atoms first at fixed box: relaxing the box against the stress of a raw
            # X-ray cell (short C-H) would inflate it
            self._issue(lmp, ["min_style cg", minimize], record)
            if st.box_relax != "none":
                p = u.pressure_from_bar(st.pressure_bar)
                self._issue(lmp, [f"fix zs_relax all box/relax {st.box_relax} {p:.10g} vmax {st.vmax}",
                                  minimize, "unfix zs_relax"], record)
            self._issue(lmp, ["run 0"], record)
            failure = self._provider_failure()
            if failure:
                raise SimulationError(f"stage {self.dir.name}: {failure}")
            nsteps = int(lmp.extract_global("ntimestep"))
            last = self._thermo_now(lmp, nsteps)
            self._check_finite(last)
            self.thermo_rows.append(last)
            tmp = self.dir / ".final.data.part"
            self._issue(lmp, [f"write_dump all custom {q(self.dir / 'traj.last')} id type element x y z ix iy iz "
                              f"modify element {' '.join(ctx.type_elements)} sort id format float %.8g",
                              f"write_data {q(tmp)} nocoeff"], record)
        except interrupt.RunInterrupted:
            self._interrupted(None)
            raise
        finally:
            self._close_lammps(lmp)
        wall = time.time() - t_wall
        meta = self._base_meta()
        if ctx.root:
            with atomic_open(self.dir / "traj.lammpstrj", "wb") as fh:
                for part in ("traj.first", "traj.last"):
                    fh.write((self.dir / part).read_bytes())
                    (self.dir / part).unlink()
            self._write_thermo()
            os.replace(tmp, self.dir / "final.data")
            meta.update({"status": "complete", "nsteps": nsteps, "commands": [{"start": 0, "commands": record}],
                         "wall_s": wall, "timesteps_per_s": nsteps / wall if wall > 0 else None,
                         "time1_ps": self.time0_ps,
                         "pe_eV": {"start": self.thermo_rows[0][6], "end": self.thermo_rows[-1][6]}})
            write_json(self.meta_path, meta)
            log.info("[%s] minimised in %d iterations: pe %.3f -> %.3f eV, volume %.1f -> %.1f A^3 (%.1f s)",
                     self.dir.name, nsteps, self.thermo_rows[0][6], last[6], self.thermo_rows[0][4], last[4], wall)
        ctx.barrier()
        return meta

    def _thermo_now(self, lmp, step: int) -> list[float]:
        u = self.ctx.units
        g = {k: float(lmp.get_thermo(k)) for k in _LMP_KEYS if k != "step"}
        # minimisation iterations take no simulated time
        return [step, self.time0_ps, g["temp"], g["press"] * u.bar_per_pressure,
                g["vol"], g["density"], g["pe"] * u.eV_per_energy, g["enthalpy"] * u.eV_per_energy,
                g["lx"], g["ly"], g["lz"], g["xy"], g["xz"], g["yz"], g["ke"] * u.eV_per_energy,
                g["etotal"] * u.eV_per_energy]

    def _check_finite(self, row) -> None:
        if not all(math.isfinite(x) for x in row):
            raise SimulationError(f"stage {self.stage.name}: non-finite energy or pressure after minimisation "
                                  f"(atoms overlapping?); input {self.input_data}")

    def _has_velocities(self, lmp) -> bool:
        nlocal = int(lmp.extract_global("nlocal"))
        v = lmp.numpy.extract_atom("v")
        local = float(np.sum(np.asarray(v)[:nlocal] ** 2)) if nlocal else 0.0
        if self.ctx.comm is not None:
            local = self.ctx.comm.allreduce(local)
        return local > 0.0

    def _run_md(self) -> dict:
        ctx = self.ctx
        chunks = self.chunks()
        ck = self._load_checkpoint() if ctx.root else None
        ck = ctx.bcast(ck)
        meta = self._base_meta()
        if ck:
            done_step = ck["step"]
            ref = ck["ref"]
            self.commands = ck.get("commands", [])
            wall_before = ck.get("wall_s", 0.0)
            if ctx.root:
                log.info("[%s] resuming from checkpoint at step %d of %d", self.dir.name, done_step, self.nsteps)
                for name in ("traj.lammpstrj", "bonds.reaxff"):     # killed while finishing the stage
                    done, part = self.dir / name, self.dir / f"{name}.part"
                    if done.exists() and not part.exists():
                        os.replace(done, part)
                self.thermo_rows = [r for r in self._read_csv_rows() if r[0] <= done_step]
        else:
            done_step, ref, wall_before = 0, None, 0.0
            if ctx.root:
                for stale in ("traj.lammpstrj.part", "bonds.reaxff.part"):
                    (self.dir / stale).unlink(missing_ok=True)
            ck = {"traj_bytes": 0, "bonds_bytes": 0}
        traj_part, bonds_part = self.dir / "traj.lammpstrj.part", self.dir / "bonds.reaxff.part"
        meta.update({"status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        self._write_meta(meta)
        t_start = time.time()
        self._progress = {"t_last": t_start, "t0": t_start, "steps0": done_step}
        for chunk in chunks:
            if chunk.stop <= done_step:
                continue
            seg = self.segments[chunk.segment]
            record: list[str] = []
            lmp = self._new_lammps()
            failure = None
            try:
                if ctx.root:
                    ctx.provider.prepare(self.dir)
                ctx.barrier()
                from_restart = chunk.start > 0
                source = self.dir / ck["restart"] if from_restart else self.input_data
                self._issue(lmp, self._start_commands(source, from_restart, self._needs_triclinic()), record)
                if ref is None:
                    (lo, hi, xy, yz, xz, _, _) = lmp.extract_box()
                    ref = {"lx": hi[0] - lo[0], "ly": hi[1] - lo[1], "lz": hi[2] - lo[2]}
                self._issue(lmp, ctx.provider.setup_commands(ctx.type_elements), record)
                ctx.provider.attach(lmp, ctx.type_elements)
                self._issue(lmp, [f"timestep {ctx.units.time_from_fs(self.dt_fs):.10g}"], record)
                if chunk.start == 0:
                    v = self.stage.velocity
                    if v == "create" or (v == "auto" and not self._has_velocities(lmp)):
                        t_init = seg.T_start_K if seg.T_start_K is not None else 300.0
                        self._issue(lmp, [f"velocity all create {t_init:.10g} {stage_seed(self.ctx.seed, self.index)} "
                                          "mom yes rot yes dist gaussian loop geom"], record)
                self._issue(lmp, self._ensemble_commands(seg, chunk), record)
                self._issue(lmp, self._deform_commands(seg, chunk, ref), record)
                self._issue(lmp, self._output_commands(chunk), record)
                self._issue(lmp, self._halt_commands(), record)
                self._install_progress(lmp, record)
                t_chunk = time.time()
                try:
                    self._issue(lmp, [f"run {chunk.stop - chunk.start}"], record)
                except SimulationError as exc:
                    failure = str(exc.__cause__ or exc)
                reached = int(lmp.extract_global("ntimestep"))
                self._check_stop(reached)   # stopped by a signal: nothing of this chunk is kept
                failure = failure or self._provider_failure()
                if failure is None and reached < chunk.stop:
                    failure = self._diagnose(lmp)
                if failure is None:
                    restart = f"restart.{chunk.stop}"
                    if chunk.stop < self.nsteps:
                        self._issue(lmp, [f"write_restart {q(self.dir / restart)}"], record)
                    else:
                        self._issue(lmp, [f"write_data {q(self.dir / '.final.data.part')} nocoeff"], record)
                else:
                    try:
                        lmp.command(f"write_data {q(self.dir / 'failed.data')} nocoeff")
                    except Exception:  # noqa: BLE001 - best effort on a broken state
                        pass
            except interrupt.RunInterrupted:
                self._interrupted(ck.get("step", 0))
                raise
            finally:
                self._close_lammps(lmp)
            chunk_wall = time.time() - t_chunk
            self.commands.append({"start": chunk.start, "stop": chunk.stop, "commands": record,
                                  "wall_s": chunk_wall})
            if ctx.root:
                last = int(self.thermo_rows[-1][0]) if self.thermo_rows else -1
                self.thermo_rows += self._read_thermo_chunk(last)
                self._write_thermo()
                ck["traj_bytes"] = self._append_file(self.dir / "traj.chunk", traj_part, ck["traj_bytes"])
                if self.stage.bonds_every_fs:
                    ck["bonds_bytes"] = self._append_bonds(bonds_part, ck["bonds_bytes"], chunk)
                for tmpf in ("traj.chunk", "thermo.chunk", "bonds.chunk"):
                    (self.dir / tmpf).unlink(missing_ok=True)
            if failure is not None:
                self._fail(meta, failure, reached, wall_before + time.time() - t_start)
            if chunk.stop < self.nsteps and ctx.root:
                ck.update({"fingerprint": self.fingerprint, "step": chunk.stop, "restart": f"restart.{chunk.stop}",
                           "ref": ref, "commands": self.commands, "wall_s": wall_before + time.time() - t_start})
                self._save_checkpoint(ck)
            ck = ctx.bcast(ck)
        wall = wall_before + time.time() - t_start
        if ctx.root:
            os.replace(traj_part, self.dir / "traj.lammpstrj")
            if self.stage.bonds_every_fs and bonds_part.exists():
                os.replace(bonds_part, self.dir / "bonds.reaxff")
            os.replace(self.dir / ".final.data.part", self.dir / "final.data")
            steps_run = self.nsteps - self._progress["steps0"]
            elapsed = time.time() - t_start
            meta.update({"status": "complete", "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                         "time1_ps": self.time0_ps + self.nsteps * self.dt_fs / 1000.0,
                         "wall_s": wall, "timesteps_per_s": steps_run / elapsed if elapsed > 0 else None,
                         "ns_per_day": (steps_run / elapsed * self.dt_fs * 86400e-6) if elapsed > 0 else None,
                         "commands": self.commands})
            write_json(self.meta_path, meta)
            (self.dir / "checkpoint.json").unlink(missing_ok=True)
            for old in self.dir.glob("restart.*"):
                old.unlink()
            rate = meta["timesteps_per_s"] or 0.0
            log.info("[%s] complete: %d steps, %.3f ps in %.1f s (%.1f steps/s, %.3f ns/day)", self.dir.name,
                     self.nsteps, self.nsteps * self.dt_fs / 1000.0, wall, rate, meta["ns_per_day"] or 0.0)
        ctx.barrier()
        return ctx.bcast(meta)

    def _read_csv_rows(self) -> list[list[float]]:
        path = self.dir / "thermo.csv"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines()[1:]:
            try:
                rows.append([float(x) for x in line.split(",")])
            except ValueError:
                continue
        return rows

    def _append_bonds(self, target: Path, keep_bytes: int, chunk: Chunk) -> int:
        """Append the chunk's ReaxFF bond table, dropping the duplicate frame at the chunk start."""
        src = self.dir / "bonds.chunk"
        text = src.read_text() if src.exists() else ""
        blocks, current = [], []
        for line in text.splitlines(keepends=True):
            if line.startswith("# Timestep") and current:
                blocks.append(current)
                current = []
            current.append(line)
        if current:
            blocks.append(current)
        keep = []
        for b in blocks:
            try:
                step = int(b[0].split()[2])
            except (IndexError, ValueError):
                step = None
            if chunk.start > 0 and step == chunk.start:
                continue
            keep.append("".join(b))
        tmp = self.dir / "bonds.chunk2"
        tmp.write_text("".join(keep))
        size = self._append_file(tmp, target, keep_bytes)
        tmp.unlink()
        return size

    def _provider_failure(self) -> str | None:
        """Error recorded by a Python-side model during the last run (``raise_if_failed`` hook)."""
        try:
            self.ctx.provider.raise_if_failed()
        except SimulationError as exc:
            return str(exc)
        return None

    def _diagnose(self, lmp) -> str:
        """Which blow-up check stopped the run."""
        reasons = []
        for name, (expr, message) in self.checks.items():
            try:
                if float(lmp.extract_variable(name)) != 0.0:
                    reasons.append(f"{message} [{expr}]")
            except Exception:  # noqa: BLE001
                continue
        return "; ".join(reasons) or "the run stopped early (fix halt) for an unknown reason"

    def _interrupted(self, resume_step: int | None) -> None:
        """After SIGINT/SIGTERM: drop the unfinished chunk's files, mark the stage resumable."""
        if not self.ctx.root:
            return
        for tmpf in ("traj.chunk", "thermo.chunk", "bonds.chunk", "bonds.chunk2", "traj.first", "traj.last",
                     ".final.data.part"):
            (self.dir / tmpf).unlink(missing_ok=True)
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            meta = self._base_meta()
        meta.update({"status": "interrupted", "resume_from_step": resume_step or 0,
                     "interrupted": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        write_json(self.meta_path, meta)
        log.warning("[%s] interrupted: resumes from step %d on the next run", self.dir.name, resume_step or 0)

    def _fail(self, meta: dict, reason: str, step: int, wall: float) -> None:
        ctx = self.ctx
        t_ps = self.time0_ps + step * self.dt_fs / 1000.0
        if ctx.root:
            part = self.dir / "traj.lammpstrj.part"
            if part.exists():
                os.replace(part, self.dir / "traj.lammpstrj")
            meta.update({"status": "failed", "error": reason, "failed_step": step, "failed_time_ps": t_ps,
                         "wall_s": wall, "commands": self.commands})
            write_json(self.meta_path, meta)
            (self.dir / "checkpoint.json").unlink(missing_ok=True)
        ctx.barrier()
        raise SimulationError(
            f"stage {self.dir.name} blew up at step {step} (t = {t_ps:.4f} ps): {reason}. "
            f"Data so far is kept in {self.dir} (thermo.csv, traj.lammpstrj, failed.data). "
            "Check the input cell for overlapping atoms, minimise it first, or lower timestep_fs.")

    # ---------------------------------------------------------------- progress
    def _install_progress(self, lmp, record: list[str]) -> None:
        """A ``fix external`` callback (adds zero force) that prints a progress line every ~progress_interval_s."""
        # every step: the callback is also where a Ctrl-C is seen (Python signal handlers run only
        # while Python code runs), so its interval bounds how long a stop takes (a ReaxFF step of a
        # few hundred atoms is 0.05-0.2 s); a call costs ~20 us
        every = 1
        # zero force, and no energy/virial tally: an unset fix-external virial leaks into the pressure
        self._issue(lmp, [f"fix zs_progress all external pf/callback {every} {every}",
                          "fix_modify zs_progress energy no virial no"], record)
        name, nsteps, dt_fs = self.dir.name, self.nsteps, self.dt_fs
        state, ctx = self._progress, self.ctx

        def callback(_caller, step, nlocal, _tag, _x, f):
            f[:] = 0.0
            now = time.time()
            if now - state["t_last"] < ctx.progress_interval_s or not ctx.root or step <= state["steps0"]:
                return
            state["t_last"] = now
            rate = (step - state["steps0"]) / max(1e-9, now - state["t0"])
            eta = (nsteps - step) / rate if rate > 0 else float("nan")
            log.info("[%s] %5.1f%%  step %d/%d  t=%.3f ps  %.1f steps/s  %.3f ns/day  ETA %s", name,
                     100.0 * step / nsteps, step, nsteps, self.time0_ps + step * dt_fs / 1000.0, rate,
                     rate * dt_fs * 86400e-6, _fmt_eta(eta))
        lmp.set_fix_external_callback("zs_progress", callback, None)


    def _install_min_progress(self, lmp, record: list[str]) -> None:
        """Progress lines during minimisation (iteration count), every ~progress_interval_s."""
        self._issue(lmp, ["fix zs_progress all external pf/callback 1 1",
                          "fix_modify zs_progress energy no virial no"], record)
        name, ctx, st = self.dir.name, self.ctx, self.stage
        state = {"t_last": time.time(), "t0": time.time()}

        def callback(_caller, step, nlocal, _tag, _x, f):
            f[:] = 0.0
            now = time.time()
            if now - state["t_last"] < ctx.progress_interval_s or not ctx.root:
                return
            state["t_last"] = now
            log.info("[%s] minimising: %d iterations so far (max_iter %d per phase), %.0f s", name, step,
                     st.max_iter, now - state["t0"])
        lmp.set_fix_external_callback("zs_progress", callback, None)


def q(path) -> str:
    """A file path as one quoted LAMMPS argument (see :func:`zifsim.fileio.lammps_path`)."""
    return lammps_path(path, "run directory")


def _fmt_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
