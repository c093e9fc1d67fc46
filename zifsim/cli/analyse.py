"""``zifsim analyse RUNDIR|STRUCTURE --out ADIR``: coordination, Lindemann, RDF/X-ray PDF, pores, Tg/Tm."""
from __future__ import annotations

import argparse


def _cutoffs(text: str) -> dict:
    """'Zn=2.5,Cd=2.8' -> {'Zn': 2.5, 'Cd': 2.8} (argparse reports errors with usage)."""
    out = {}
    for item in filter(None, text.split(",")):
        try:
            el, val = item.split("=")
            out[el.strip()] = float(val)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad cutoff {item!r}: write element=Å pairs, e.g. --cutoff Zn=2.5,Cd=2.8") from None
    return out


def register(subparsers) -> None:
    """Add the ``analyse`` sub-command."""
    p = subparsers.add_parser(
        "analyse", help="analyse a run directory or a structure",
        description="Stream every stage of a run directory (or read one structure) and write "
                    "coordination.csv, lindemann.csv, rdf.csv, xray_pdf.csv, sq.csv, pores.json, "
                    "psd.csv, thermo_summary.json, summary.json and PNG plots into ADIR.")
    p.add_argument("path", metavar="RUNDIR|STRUCTURE")
    p.add_argument("--out", required=True, metavar="ADIR", help="output folder")
    p.add_argument("--every", type=int, default=1, metavar="N", help="use every N-th frame (default 1)")
    p.add_argument("--material", default=None, help="material name (default: from run metadata or path)")
    p.add_argument("--cutoff", type=_cutoffs, default=None, metavar="M=Å,...",
                   help="M-N cutoffs (default: first minimum of the M-N RDF)")
    p.add_argument("--window", type=int, default=None, metavar="FRAMES",
                   help="Lindemann window length in analysed frames (default: a fifth of the "
                        "longest stage, 3 to 20)")
    p.add_argument("--r-max", type=float, default=10.0, metavar="Å", help="RDF range (default 10 Å)")
    p.add_argument("--q-max", type=float, default=22.0, metavar="1/Å", help="Qmax of S(Q) and D(r) (default 22)")
    p.add_argument("--probe", default="He", help="pore probe: He, N2, CO2 or a radius in Å (default He)")
    p.add_argument("--no-pores", action="store_true", help="skip the pore analysis")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the analysis; returns the exit code."""
    from zifsim.analysis.pipeline import analyse
    summary = analyse(args.path, args.out, every=args.every, material=args.material, cutoffs=args.cutoff,
                      window=args.window, r_max=args.r_max, q_max=args.q_max, pores=not args.no_pores,
                      probe=args.probe, progress=not args.no_progress)
    print(f"{summary['material']}: {summary['n_frames']} frames, mean CN (last stage) "
          f"{summary['mean_CN_last_stage']:.3f}, density {summary['density_gcm3_last']:.3f} g/cm3"
          + (f", Tm {summary['Tm_K']:.0f} K" if summary.get("Tm_K") else "")
          + f" -> {args.out}")
    return 0
