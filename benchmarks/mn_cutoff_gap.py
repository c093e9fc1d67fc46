"""Where the M-N first shell ends and the next N begins, in the AIMD glasses and the committed cells.

The evidence behind zifsim's coordination convention (docs/readers.md): per
structure, the longest M-N distance counted as a bond by the table rule
(1.25 x crystal M-N bond), the nearest N beyond it, the mean CN with the
table cutoff, and the cutoff / mean CN the first-minimum estimator
(``Coordination(cutoffs="rdf-minimum")``) finds in that one structure.

    PYTHONPATH=. python benchmarks/mn_cutoff_gap.py
"""
from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

from zifsim.analysis.coordination import Coordination
from zifsim.analysis.trajectory import frame_from_atoms
from zifsim.settings import reference_dir
from zifsim.structures.chemistry import metals_in, mn_cutoff
from zifsim.structures.io import read_structure
from zifsim.structures.neighbours import neighbour_pairs

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    paths = sorted(glob.glob(str(reference_dir() / "structures" / "aimd-glasses" / "ZIF*_15glass*.cif")))
    paths += sorted(glob.glob(str(ROOT / "structures" / "*" / "cell.extxyz")))
    print(f"{'structure':22s} {'M':2s} {'cut':>5s} {'longest bond':>12s} {'next N':>7s} {'CN table':>9s} "
          f"{'rdf-min cut':>11s} {'CN rdf-min':>10s}")
    gaps = []
    for p in paths:
        atoms = read_structure(p)
        sym = np.array(atoms.get_chemical_symbols())
        pairs = neighbour_pairs(atoms, 5.0)
        frame = frame_from_atoms(atoms)
        table = Coordination().compute(frame)
        auto = Coordination(cutoffs="rdf-minimum").compute(frame)
        for m in metals_in(sym):
            d = pairs.distances[(sym[pairs.i] == m) & (sym[pairs.j] == "N")]
            cut = mn_cutoff(m)
            nxt = d[d >= cut].min() if (d >= cut).any() else float("nan")
            gaps.append((d[d < cut].max(), nxt))
            name = Path(p).stem if "glass" in p else Path(p).parent.name
            print(f"{name:22s} {m:2s} {cut:5.2f} {d[d < cut].max():12.3f} {nxt:7.3f} {table.mean_cn:9.4f} "
                  f"{auto.cutoffs[m]:11.3f} {auto.mean_cn:10.4f}")
    g = np.array(gaps)
    print(f"longest bond counted: {np.nanmax(g[:, 0]):.3f} Å; nearest non-bonded N: {np.nanmin(g[:, 1]):.3f} Å")


if __name__ == "__main__":
    main()
