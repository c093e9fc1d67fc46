"""Benchmark: zifsim streaming analyses vs MDAnalysis InterRDF + a plain-Python CN loop.

Writes a synthetic 2176-atom ZIF-4 (2x2x2) trajectory in the run-directory
contract format, then times, each in a fresh subprocess (so peak memory is
that of the analysis alone):

* ``ours``      CN + tau4 + dangling linkers, all 10 partial RDFs, Lindemann (one pass)
* ``baseline``  MDAnalysis LAMMPSDUMP reader + InterRDF for the same 10 pairs
                + a plain-Python minimum-image Zn-N CN loop on the same frames

and prints wall times, peak RSS, the speed-up, and the peak RSS of ``ours``
at a quarter of the frames (memory must not grow with frame count).

    OMP_NUM_THREADS=1 python benchmarks/bench_analysis.py --frames 1000
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

R_MAX, DR = 10.0, 0.02


def make_run(root: Path, frames: int) -> Path:
    from zifsim.analysis.synthetic import write_synthetic_run, zif4_crystal
    atoms = zif4_crystal().repeat((2, 2, 2))
    assert len(atoms) == 2176
    run = root / "run"
    if not (run / "metadata.json").is_file():
        t = time.perf_counter()
        write_synthetic_run(run, atoms, [("heat", 300, 1500)], frames_per_stage=frames,
                            sigma_per_sqrtK=0.006, seed=0)
        print(f"wrote {frames} frames x 2176 atoms in {time.perf_counter() - t:.1f} s "
              f"({(run / '00-heat' / 'traj.lammpstrj').stat().st_size / 1e6:.0f} MB)", flush=True)
    return run


def worker_ours(run: Path, frames: int, check_frames: int | None = None) -> dict:
    from zifsim.analysis.base import run_all
    from zifsim.analysis.coordination import Coordination
    from zifsim.analysis.lindemann import Lindemann
    from zifsim.analysis.rdf import PartialRDF
    from zifsim.analysis.trajectory import iter_run
    t = time.perf_counter()
    coord, rdf, lind = Coordination(cutoffs={"Zn": 2.5}), PartialRDF(r_max=R_MAX, dr=DR), Lindemann(window=20)
    run_all([coord, rdf, lind], itertools.islice(iter_run(run), frames))
    wall = time.perf_counter() - t
    # the reader alone, for reference
    t = time.perf_counter()
    for _ in itertools.islice(iter_run(run), frames):
        pass
    read = time.perf_counter() - t
    n_check = check_frames or frames
    return {"wall_s": wall, "read_s": read, "frames": coord.n_frames, "mean_CN": float(coord.cn[:n_check].mean()),
            "g_ZnN_max": float(rdf.partial("Zn", "N").max()), "lindemann_windows": len(lind.table)}


def worker_baseline(run: Path, frames: int) -> dict:
    import MDAnalysis as mda
    from MDAnalysis.analysis.rdf import InterRDF
    traj = str(run / "00-heat" / "traj.lammpstrj")
    t = time.perf_counter()
    u = mda.Universe(traj, topology_format="LAMMPSDUMP", format="LAMMPSDUMP")
    types = {"C": "1", "H": "2", "N": "3", "Zn": "4"}  # sorted element names -> dump types
    groups = {e: u.select_atoms(f"type {t}") for e, t in types.items()}
    t_read = time.perf_counter()
    for ts in u.trajectory[:frames]:  # the reader alone (positions + box), for comparison
        pass
    t_read = time.perf_counter() - t_read
    nbins = int(np.floor(R_MAX / DR + 1e-9))
    t_rdf = time.perf_counter()
    els = ["Zn", "N", "C", "H"]
    for i, a in enumerate(els):
        for b in els[i:]:
            InterRDF(groups[a], groups[b], nbins=nbins, range=(0, R_MAX),
                     exclusion_block=(1, 1) if a == b else None).run(stop=frames)
    t_rdf = time.perf_counter() - t_rdf
    # plain-Python CN loop: minimum image, orthorhombic box, cutoff 2.5 Å
    t_cn = time.perf_counter()
    zn, n = groups["Zn"], groups["N"]
    cns = []
    for ts in u.trajectory[:frames]:
        box = ts.dimensions[:3]
        npos = n.positions.tolist()
        for p in zn.positions.tolist():
            c = 0
            for q in npos:
                d2 = 0.0
                for k in range(3):
                    dx = q[k] - p[k]
                    dx -= box[k] * round(dx / box[k])
                    d2 += dx * dx
                if d2 < 6.25:
                    c += 1
            cns.append(c)
    t_cn = time.perf_counter() - t_cn
    return {"wall_s": time.perf_counter() - t - t_read, "read_s": t_read, "rdf_s": t_rdf, "cn_s": t_cn,
            "frames": frames,
            "mean_CN": float(np.mean(cns))}


def spawn(mode: str, run: Path, frames: int, check_frames: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", mode, "--run", str(run), "--frames", str(frames)]
    if check_frames:
        cmd += ["--baseline-frames", str(check_frames)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=1000, help="frames to analyse (default 1000)")
    p.add_argument("--baseline-frames", type=int, default=None,
                   help="frames for the (slow) baseline; its time is scaled to --frames (default: same)")
    p.add_argument("--workdir", default=None, help="keep the trajectory here (default: temporary)")
    p.add_argument("--worker", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    p.add_argument("--run", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        if args.worker == "ours":
            res = worker_ours(Path(args.run), args.frames, args.baseline_frames)
        else:
            res = worker_baseline(Path(args.run), args.frames)
        res["peak_rss_MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(res))
        return 0
    with tempfile.TemporaryDirectory(prefix="zifsim-bench-") as tmp:
        root = Path(args.workdir or tmp)
        run = make_run(root, args.frames)
        nb = args.baseline_frames or args.frames
        quarter = max(args.frames // 4, 1)
        ours = spawn("ours", run, args.frames, check_frames=nb)
        ours_q = spawn("ours", run, quarter)
        base = spawn("baseline", run, nb)
        scale = args.frames / nb
        base_scaled = base["wall_s"] * scale
        print(f"\n2176 atoms, {args.frames} frames (baseline measured on {nb}, scaled x{scale:g})")
        print(f"{'':34s}{'wall (s)':>10s}{'per frame (ms)':>16s}{'peak RSS (MB)':>15s}")
        print(f"{'zifsim CN+10 RDFs+Lindemann':34s}{ours['wall_s']:10.1f}{1e3 * ours['wall_s'] / args.frames:16.1f}"
              f"{ours['peak_rss_MB']:15.0f}")
        print(f"{'  of which dump reading':34s}{ours['read_s']:10.1f}{1e3 * ours['read_s'] / args.frames:16.1f}")
        print(f"{'zifsim, ' + str(quarter) + ' frames':34s}{ours_q['wall_s']:10.1f}"
              f"{1e3 * ours_q['wall_s'] / quarter:16.1f}{ours_q['peak_rss_MB']:15.0f}")
        print(f"{'MDAnalysis InterRDF x10 + py CN':34s}{base_scaled:10.1f}{1e3 * base['wall_s'] / nb:16.1f}"
              f"{base['peak_rss_MB']:15.0f}")
        print(f"{'  InterRDF x10':34s}{base['rdf_s'] * scale:10.1f}{1e3 * base['rdf_s'] / nb:16.1f}")
        print(f"{'  (MDAnalysis LAMMPSDUMP reading)':34s}{base['read_s'] * scale:10.1f}"
              f"{1e3 * base['read_s'] / nb:16.1f}")
        print(f"{'  plain-Python CN loop':34s}{base['cn_s'] * scale:10.1f}{1e3 * base['cn_s'] / nb:16.1f}")
        print(f"\nspeed-up (baseline / zifsim): {base_scaled / ours['wall_s']:.1f}x  (goal >= 10x)")
        print(f"peak RSS {quarter} -> {args.frames} frames: {ours_q['peak_rss_MB']:.0f} -> "
              f"{ours['peak_rss_MB']:.0f} MB ({ours['peak_rss_MB'] / ours_q['peak_rss_MB'] - 1:+.1%})")
        print(f"mean Zn-N CN over the first {nb} frames: zifsim {ours['mean_CN']:.4f}, "
              f"plain Python {base['mean_CN']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
