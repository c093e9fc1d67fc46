"""Benchmark: zifsim pores (grid method) vs Zeo++ (pyzeo 0.2.0) on the same ~10 000-atom glass cell.

The cell is a supercell (default 3x3x4 = 9792 atoms, 46 x 46 x 74 Å) of the
first-principles ZIF-4 glass ``aimd-glasses/ZIF4_15glass01.cif`` of
``../shared/reference`` (or ``--cif``). Each side runs in the same process, one after the other,
on one thread, and does what ``zifsim analyse`` needs for one frame:

* ``zifsim``  :class:`zifsim.analysis.pores.GridPores` at the glass default (spacing 0.3 Å,
              PSD on a 0.6 Å grid): LCD, PLD, LFPD, geometric void, for He, CO2, N2
              and X24 the probe-centre and probe-occupiable volumes (accessible / pockets),
              ASA / NASA and the PSD.
* ``zeo++``   pyzeo (no -ha): free-sphere parameters (Di, Df, Dif) and the He probe-centre
              volume by Monte Carlo (``--zeo-samples``, default 20 000), and with ``--zeo-psd``
              the Zeo++ PSD. Fewer quantities than zifsim computes.

Prints the wall and CPU time of each side, the ratios zeo++/zifsim, the 1-min load average before
and after (the machine is shared) and the headline numbers of both.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_pores.py [--repeat 3,3,4] [--zeo-psd]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path


def glass_cell(cif: Path, repeat):
    import ase.io
    atoms = ase.io.read(cif)
    return atoms.repeat(tuple(repeat))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(os.environ.get("ZIFSIM_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))
    p.add_argument("--cif", type=Path, default=shared / "reference/structures/aimd-glasses/ZIF4_15glass01.cif")
    p.add_argument("--repeat", default="3,3,4", help="supercell repeats (default 3,3,4 = 9792 atoms)")
    p.add_argument("--spacing", type=float, default=0.3)
    p.add_argument("--zeo-samples", type=int, default=20000)
    p.add_argument("--zeo-psd", action="store_true", help="also time the Zeo++ PSD")
    p.add_argument("--skip-zeo", action="store_true")
    p.add_argument("--json", type=Path, help="write the numbers here")
    args = p.parse_args(argv)
    if not args.cif.is_file():
        print(f"missing {args.cif}: set ZIFSIM_SHARED or pass --cif", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from zifsim.analysis.pores import GridPores, ZeoPores
    atoms = glass_cell(args.cif, [int(x) for x in args.repeat.split(",")])
    lengths = atoms.cell.lengths()
    print(f"cell: {len(atoms)} atoms, {lengths[0]:.1f} x {lengths[1]:.1f} x {lengths[2]:.1f} Å "
          f"({args.cif.name} x {args.repeat})")
    load0 = os.getloadavg()[0]
    out = {"n_atoms": len(atoms), "cell_A": [float(x) for x in lengths], "load_before": load0}

    t0, c0 = time.perf_counter(), time.process_time()
    g = GridPores(spacing=args.spacing, progress=True).compute(atoms, probes=("He", "CO2", "N2", "X24"))
    d, f = g.psd()
    t_grid, c_grid = time.perf_counter() - t0, time.process_time() - c0
    he = g.probes_result["He"]
    out["zifsim"] = {"wall_s": t_grid, "cpu_s": c_grid, "grid_shape": list(g.grid_shape), "LCD_A": g.lcd_A, "PLD_A": g.pld_A,
                     "geometric_void_fraction": g.void_fraction,
                     "He_probe_centre": he["probe_centre_fraction"], "He_probe_occupiable": he["probe_occupiable_fraction"],
                     "psd_bins": len(d)}
    print(f"zifsim grid: {t_grid:.1f} s wall, {c_grid:.1f} s CPU  LCD {g.lcd_A:.3f} Å  PLD {g.pld_A:.3f} Å  void {g.void_fraction:.4f}  "
          f"He centre {he['probe_centre_fraction']['total']:.4f}  He occupiable {he['probe_occupiable_fraction']['total']:.4f}")
    if not args.skip_zeo:
        t0, c0 = time.perf_counter(), time.process_time()
        z = ZeoPores(mc_samples=args.zeo_samples).compute(atoms, probes=("He",), psd=args.zeo_psd)
        t_zeo, c_zeo = time.perf_counter() - t0, time.process_time() - c0
        out["zeo++"] = {"wall_s": t_zeo, "cpu_s": c_zeo, "Di_A": z.di_A, "Df_A": z.df_A, "He_probe_centre": z.probe_centre_fraction["He"],
                        "psd": bool(args.zeo_psd)}
        print(f"zeo++ (pyzeo, no -ha{', with PSD' if args.zeo_psd else ''}): {t_zeo:.1f} s wall, {c_zeo:.1f} s CPU  Di {z.di_A:.3f} Å  "
              f"Df {z.df_A:.3f} Å  He centre {z.probe_centre_fraction['He']:.4f}")
        print(f"ratio zeo++ / zifsim: wall {t_zeo / t_grid:.2f}, CPU {c_zeo / c_grid:.2f}")
        out["ratio_zeo_over_zifsim"] = {"wall": t_zeo / t_grid, "cpu": c_zeo / c_grid}
    out["load_after"] = os.getloadavg()[0]
    print(f"1-min load average: {load0:.1f} before, {out['load_after']:.1f} after (2 cores shared)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
