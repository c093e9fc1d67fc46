"""MLIP MD step time: LAMMPS + fix external bridge vs the raw ASE calculator.

Usage::

    OMP_NUM_THREADS=2 python benchmarks/bench_mlip.py [--model chgnet] [--threads 2]
        [--steps 20] [--cell zif8|cd-dia-c|PATH] [--device cpu|cuda]
        [--dispersion d3bj|none] [--json OUT.json]

For the same cell it times (a) ``calc.calculate()`` on ASE atoms whose
positions change every call (the model's own cost per force call) and (b)
``run N`` of NVE in LAMMPS with forces from the bridge, and prints ms per MD
step, atom-steps/s and the ratio (b)/(a): the bridge overhead. The default
cell is ZIF-8 (core-mof FAWCEN, 276 atoms) if core-mof is installed,
otherwise the net-built Cd(im)2 (68 atoms, unrelaxed).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np


def _cell(name: str):
    import ase.io
    if name == "zif8":
        try:
            from zifsim.structures.io import core_mof_cif, read_structure
            return read_structure(core_mof_cif("FAWCEN")), "ZIF-8 (core-mof FAWCEN)"
        except Exception as exc:  # core-mof or A's module missing: fall back
            print(f"# ZIF-8 unavailable ({type(exc).__name__}: {exc}); using Cd(im)2 dia-c",
                  file=sys.stderr)
            name = "cd-dia-c"
    if name == "cd-dia-c":
        from zifsim.structures.nets import build_net_cell
        return build_net_cell("dia-c", "Cd", relax=False), "Cd(im)2 dia-c (net-built, 68 atoms)"
    return ase.io.read(name), name


def main(argv=None) -> dict:
    """Run the benchmark; returns the measured numbers (also printed)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="chgnet")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cell", default="zif8")
    ap.add_argument("--dispersion", default="d3bj", choices=["d3bj", "none"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    from zifsim.potentials.ase_bridge import open_bridged_lammps
    from zifsim.potentials.mlip import MLIPProvider

    atoms, label = _cell(args.cell)
    provider = MLIPProvider(model=args.model, threads=args.threads, device=args.device,
                            dispersion=args.dispersion)
    calc = provider.calculator
    elements = sorted(set(atoms.get_chemical_symbols()))
    natoms = len(atoms)

    # (a) raw calculator, fresh positions each call (no cache hits)
    from ase.calculators.calculator import all_changes
    work = atoms.copy()
    rng = np.random.default_rng(0)
    calc.calculate(work, ["energy", "forces", "stress"], all_changes)  # warm-up
    t0 = time.perf_counter()
    for _ in range(args.steps):
        work.positions += rng.normal(scale=1e-3, size=work.positions.shape)
        calc.calculate(work, ["energy", "forces", "stress"], all_changes)
    raw = (time.perf_counter() - t0) / args.steps

    # (b) LAMMPS NVE through the bridge
    with tempfile.TemporaryDirectory() as tmp:
        lmp = open_bridged_lammps(atoms, provider, elements, tmp)
        lmp.commands_list(["velocity all create 300 1", "timestep 0.0005", "fix 1 all nve",
                           f"thermo {args.steps}", "run 0"])
        calls0 = provider.bridge.calls
        model0 = provider.bridge.seconds_in_model
        t0 = time.perf_counter()
        lmp.command(f"run {args.steps}")
        wall = time.perf_counter() - t0
        calls = provider.bridge.calls - calls0
        in_model = provider.bridge.seconds_in_model - model0
        provider.bridge.raise_if_failed()
        lmp.close()
    per_step = wall / args.steps
    out = {
        "cell": label, "atoms": natoms, "model": provider.name, "device": args.device,
        "threads": args.threads, "steps": args.steps, "force_calls": calls,
        "raw_ms_per_call": raw * 1e3, "lammps_ms_per_step": per_step * 1e3,
        "model_ms_per_step_inside_lammps": in_model / args.steps * 1e3,
        "atom_steps_per_s": natoms / per_step, "overhead_ratio": per_step / raw,
        "bridge_overhead_pct": 100.0 * (wall - in_model) / wall,
        "machine": platform.processor() or platform.machine(),
    }
    print(f"{label}: {natoms} atoms, {provider.name} on {args.device}, {args.threads} thread(s)")
    print(f"  raw ASE calculator      {out['raw_ms_per_call']:8.1f} ms per force call")
    print(f"  LAMMPS + fix external   {out['lammps_ms_per_step']:8.1f} ms per MD step "
          f"({out['atom_steps_per_s']:.0f} atom-steps/s)")
    print(f"  ratio LAMMPS/raw        {out['overhead_ratio']:8.3f}   "
          f"(time outside the model inside LAMMPS: {out['bridge_overhead_pct']:.2f} %)")
    if args.json:
        from zifsim.fileio import write_json
        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
