"""Cost of one energy+forces+stress call of the deployed NequIP ZIF-4 model on this CPU.

Each configuration runs in its own subprocess (TorchScript executor and malloc
settings are global to a process), on the ZIF-4 registry cell (272 atoms) or
its 2x2x2 supercell (2176 atoms), with small random moves between calls as in
MD (0.01 Å rms), so the kept neighbour list and the executor see what an MD
step gives them. Printed: first call, then the mean of the later calls, the
load average beside each, and the ratio of every variant to ``baseline``
measured in the same run. On a machine shared with other jobs the wall time
follows the load; the CPU time of the process (``time.process_time``, all its
threads) is the steadier number, and the ratios use it.

Variants (see ``zifsim/potentials/nequip.py``):

* ``baseline``  -- what a plain driver does: torch's default (profiling)
  executor, no freeze, a fresh neighbour list every call, glibc malloc defaults;
* ``malloc``    -- baseline + malloc keeping freed blocks;
* ``legacy``    -- + the legacy TorchScript executor;
* ``tuned``     -- zifsim's defaults: legacy executor, ``torch.jit.freeze``,
  neighbour list kept with a 1 Å skin, malloc keeping freed blocks
  (``mallopt`` M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 1 GiB), float32.

Run (niced; 2 cores shared with other jobs)::

    nice -n 10 python benchmarks/bench_nequip.py --sizes 272 2176 --threads 1 2 \\
        --calls 4 --calls-large 2 --out /tmp/bench_nequip.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "baseline": {"executor": "profiling", "freeze": False, "skin": 0.0, "malloc": False},
    "malloc": {"executor": "profiling", "freeze": False, "skin": 0.0, "malloc": True},
    "legacy": {"executor": "legacy", "freeze": False, "skin": 0.0, "malloc": True},
    "tuned": {"executor": "legacy", "freeze": True, "skin": 1.0, "malloc": True},
}


def _worker(variant: str, natoms: int, threads: int, calls: int) -> dict:
    cfg = VARIANTS[variant]
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    from zifsim.engine import read_cell
    from zifsim.potentials.nequip import DeployedModel, NequIPCalculator
    from zifsim.potentials.nequip import resolve_model_file
    atoms = read_cell(ROOT / "structures" / "ZIF-4" / "cell.extxyz")
    if natoms > len(atoms):
        atoms = atoms.repeat((2, 2, 2))
    model = DeployedModel(resolve_model_file("NequIP_ZIF4"), executor=cfg["executor"],
                          freeze=cfg["freeze"], malloc=cfg["malloc"])
    calc = NequIPCalculator(model, skin=cfg["skin"])
    rng = np.random.default_rng(0)
    times, cpu, loads = [], [], []
    for _ in range(calls):
        atoms.positions += rng.normal(scale=0.01, size=atoms.positions.shape)
        loads.append(os.getloadavg()[0])
        t0, c0 = time.perf_counter(), time.process_time()
        calc.calculate(atoms, ["energy", "forces", "stress"])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"variant": variant, "natoms": len(atoms), "threads": threads, "times_s": times, "cpu_s": cpu,
            "load": loads, "edges": calc.last_edges, "nl_builds": calc.nl.builds,
            "energy_eV": calc.results["energy"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[272, 2176])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--calls", type=int, default=4, help="calls per run, 272 atoms")
    ap.add_argument("--calls-large", type=int, default=2, help="calls per run, 2176 atoms")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--worker", nargs=4, metavar=("VARIANT", "N", "THREADS", "CALLS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        v, n, t, c = args.worker
        print(json.dumps(_worker(v, int(n), int(t), int(c))))
        return 0
    rows = []
    print(f"{'atoms':>6} {'thr':>3} {'variant':<9} {'first s':>8} {'later wall s':>12} {'later CPU s':>11} "
          f"{'x baseline (CPU)':>16} {'load':>5} {'edges':>7} {'nl builds':>9}", flush=True)
    for n in args.sizes:
        for t in args.threads:
            base = None
            for v in args.variants:
                calls = args.calls if n <= 272 else args.calls_large
                env = {**os.environ, "OMP_NUM_THREADS": str(t), "PYTHONPATH": str(ROOT)}
                proc = subprocess.run([sys.executable, __file__, "--worker", v, str(n), str(t), str(calls)],
                                      capture_output=True, text=True, env=env)
                if proc.returncode != 0:
                    print(proc.stderr[-2000:], file=sys.stderr)
                    return 1
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                later = r["times_s"][1:] or r["times_s"]
                later_cpu = r["cpu_s"][1:] or r["cpu_s"]
                r["later_mean_s"] = sum(later) / len(later)
                r["later_cpu_s"] = sum(later_cpu) / len(later_cpu)
                base = r["later_cpu_s"] if v == "baseline" else base
                ratio = f"{base / r['later_cpu_s']:.2f}" if base else "-"
                print(f"{r['natoms']:>6} {t:>3} {v:<9} {r['times_s'][0]:>8.2f} {r['later_mean_s']:>12.2f} "
                      f"{r['later_cpu_s']:>11.2f} {ratio:>16} {sum(r['load']) / len(r['load']):>5.1f} "
                      f"{r['edges']:>7} {r['nl_builds']:>9}", flush=True)
                rows.append(r)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
