"""Overhead of the zifsim engine over the plain LAMMPS executable on the same MD input.

For each OpenMP thread count, runs an NVT stage of the 2x2x2 ZIF-4 supercell
(2176 atoms, ReaxFF ffield_ZnN_2016, 0.25 fs) through :func:`zifsim.engine.run_protocol`,
then replays the exact LAMMPS commands the engine recorded (minus its Python
progress callback) through ``.venv/bin/lmp`` in a subprocess, and prints the
timesteps/s of both and their ratio (goal >= 0.97). Two rates are reported:
``loop`` (LAMMPS' own "Performance" line: the MD loop only) and ``wall`` (the
whole stage or process, setup and output included).

    .venv/bin/python benchmarks/bench_engine.py                # 200 steps, 1 and 2 threads
    .venv/bin/python benchmarks/bench_engine.py --steps 1000 --threads 1 2 --repeat 2

On a shared machine the numbers move with the load of other users: run the
pairs back to back (this script alternates lmp / zifsim) and look at the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build_cell(supercell: tuple[int, int, int], ffield: str, workdir: Path):
    """ZIF-4 unit cell from the registry, minimised with ReaxFF (atoms, then box), then replicated.

    The as-built crystal is far from the ReaxFF minimum: started at 300 K it heats
    past 1800 K within a few fs, so the benchmark starts from a minimised cell.
    """
    from zifsim.engine import read_cell, run_protocol
    from zifsim.structures import build_material
    relax = {"name": "relax", "stages": [{"name": "relax", "type": "minimise", "box_relax": "iso",
                                          "max_iter": 100, "ftol_eV_per_A": 0.01}]}
    run_protocol(build_material("ZIF-4").atoms, relax, {"kind": "reaxff", "file": ffield}, workdir / "relax",
                 seed=1, progress_interval_s=3600)
    return read_cell(workdir / "relax" / "00-relax" / "final.data").repeat(supercell)


def loop_rate(log_path: Path) -> float | None:
    """Timesteps/s of the last run with steps in a LAMMPS log ("Performance: ... timesteps/s")."""
    rates = re.findall(r"Performance:.*?([\d.]+) timesteps/s", log_path.read_text())
    return float(rates[-1]) if rates else None


def run_zifsim(data: Path, ffield: str, steps: int, threads: int, workdir: Path) -> dict:
    """The NVT stage through the engine; returns rates and the commands it issued."""
    from zifsim.engine import read_cell, run_protocol
    proto = {"name": "bench", "defaults": {"timestep_fs": 0.25, "tdamp_fs": 100, "thermo_every_fs": 25,
                                           "dump_every_fs": 250, "checkpoint_every_ps": 1000},
             "stages": [{"name": "nvt", "type": "equilibrate", "ensemble": "nvt", "temperature_K": 300,
                         "duration_ps": steps * 0.25 / 1000}]}
    out = workdir / f"zifsim-{threads}"
    t0 = time.perf_counter()
    run_protocol(read_cell(data), proto, {"kind": "reaxff", "file": ffield}, out, seed=1, threads=threads,
                 progress_interval_s=3600)
    wall = time.perf_counter() - t0
    meta = json.loads((out / "00-nvt" / "metadata.json").read_text())
    return {"loop": loop_rate(out / "00-nvt" / "log.lammps"), "wall": steps / meta["wall_s"],
            "wall_total_s": wall, "commands": meta["commands"][0]["commands"], "dir": out / "00-nvt"}


def run_lmp(commands: list[str], stage_dir: Path, steps: int, threads: int, workdir: Path) -> dict:
    """Replay the engine's commands through the lmp executable (outputs redirected to workdir)."""
    lmp_dir = workdir / f"lmp-{threads}"
    lmp_dir.mkdir()
    lines = []
    for c in commands:
        if c.startswith(("log ", "fix zs_progress", "fix_modify zs_progress")):
            continue                      # the engine's log redirection and Python-only progress callback
        lines.append(c.replace(str(stage_dir), str(lmp_dir)))
    (lmp_dir / "in.lammps").write_text("\n".join(lines) + "\n")
    for extra in stage_dir.glob("*.control"):              # provider inputs (ReaxFF control file)
        shutil.copy(extra, lmp_dir / extra.name)
    exe = Path(sys.prefix) / "bin" / "lmp"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               LD_LIBRARY_PATH=f"{Path(sys.prefix) / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}")
    cmd = [str(exe), "-in", "in.lammps", "-log", "log.lammps", "-screen", "none", "-nocite"]
    if threads > 1:
        cmd += ["-sf", "omp", "-pk", "omp", str(threads)]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=lmp_dir, env=env, check=True)
    wall = time.perf_counter() - t0
    return {"loop": loop_rate(lmp_dir / "log.lammps"), "wall": steps / wall}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="MD steps per run (default 200)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="OpenMP thread counts")
    parser.add_argument("--supercell", default="2,2,2", help="ZIF-4 supercell (default 2,2,2: 2176 atoms)")
    parser.add_argument("--repeat", type=int, default=1, help="pairs per thread count")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    from zifsim.engine import lammps_data_text
    from zifsim.engine.run import default_type_order
    from zifsim.potentials.reaxff import resolve_forcefield_file
    ffield = str(resolve_forcefield_file("ffield_ZnN_2016"))
    work = Path(tempfile.mkdtemp(prefix="zifsim-bench-"))
    sc = tuple(int(x) for x in args.supercell.split(","))
    atoms = build_cell(sc, ffield, work)
    data = work / "cell.data"
    data.write_text(lammps_data_text(atoms, default_type_order(atoms)))
    print(f"ZIF-4 {sc} supercell: {len(atoms)} atoms, {args.steps} steps NVT 300 K, 0.25 fs, ReaxFF ZnN_2016; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'threads':>7} {'rep':>3} {'lmp loop':>9} {'zifsim loop':>11} {'ratio':>6} "
          f"{'lmp wall':>9} {'zifsim wall':>11} {'ratio':>6}   (timesteps/s)")
    results = []
    for threads in args.threads:
        for rep in range(args.repeat):
            sub = work / f"t{threads}r{rep}"
            sub.mkdir()
            z = run_zifsim(data, ffield, args.steps, threads, sub)
            lm = run_lmp(z["commands"], z["dir"], args.steps, threads, sub)
            row = {"threads": threads, "rep": rep, "lmp_loop": lm["loop"], "zifsim_loop": z["loop"],
                   "lmp_wall": lm["wall"], "zifsim_wall": z["wall"],
                   "ratio_loop": z["loop"] / lm["loop"], "ratio_wall": z["wall"] / lm["wall"],
                   "load": os.getloadavg()[0]}
            results.append(row)
            print(f"{threads:>7} {rep:>3} {lm['loop']:>9.2f} {z['loop']:>11.2f} {row['ratio_loop']:>6.3f} "
                  f"{lm['wall']:>9.2f} {z['wall']:>11.2f} {row['ratio_wall']:>6.3f}   load {row['load']:.2f}",
                  flush=True)
    (work / "bench_engine.json").write_text(json.dumps(results, indent=2))
    print(f"results: {work / 'bench_engine.json'}")
    if not args.keep:
        for sub in work.glob("t*r*"):
            shutil.rmtree(sub, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
