"""``zifsim analyse RUNDIR|TRAJECTORY|STRUCTURE --out ADIR``: coordination, Lindemann, RDF/X-ray PDF, pores, Tg/Tm."""
from __future__ import annotations

import argparse
import os


def _cutoffs(text: str) -> dict | str:
    """'Zn=2.5,Cd=2.8' -> {'Zn': 2.5, 'Cd': 2.8}; 'rdf-minimum' stays (argparse reports errors)."""
    if text.strip() == "rdf-minimum":
        return "rdf-minimum"
    out = {}
    for item in filter(None, text.split(",")):
        try:
            el, val = item.split("=")
            out[el.strip()] = float(val)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad cutoff {item!r}: write element=Å pairs, e.g. --cutoff Zn=2.5,Cd=2.8") from None
    return out


#: keys of a workflow ``imported_runs`` entry that say how to read its path -> ``zifsim analyse`` option
SOURCE_OPTIONS = {"format": "--format", "types": "--types", "topology": "--topology",
                  "atom_style": "--atom-style"}


def source_options(entry: dict) -> list[str]:
    """``zifsim analyse`` options (unquoted) for one ``imported_runs`` entry of the workflow config:
    its ``format``, ``types`` (``"C,H,N,Zn"`` or a list), ``topology`` and ``atom_style``."""
    opts: list[str] = []
    for key, flag in SOURCE_OPTIONS.items():
        value = entry.get(key)
        if value is None:
            continue
        if key == "types" and not isinstance(value, str):
            value = ",".join(str(v) for v in value)
        if key == "topology":
            value = os.path.expanduser(str(value))
        opts += [flag, str(value)]
    return opts


def source_inputs(entry: dict) -> list[str]:
    """Files besides the path itself that reading one ``imported_runs`` entry needs (its topology)."""
    return [os.path.expanduser(str(entry["topology"]))] if entry.get("topology") else []


def register(subparsers) -> None:
    """Add the ``analyse`` sub-command."""
    from zifsim.structures.chemistry import MN_CUTOFF_RULE
    from zifsim.structures.io import DATA_STYLES, FORMATS
    p = subparsers.add_parser(
        "analyse", help="analyse a run directory, a trajectory or a structure",
        description="Stream every stage of a run directory, a LAMMPS dump / DCD / XTC trajectory, or "
                    "read one structure (CIF, extxyz, LAMMPS data of any atom style), and write "
                    "coordination.csv, lindemann.csv, rdf.csv, xray_pdf.csv, sq.csv, pores.json, "
                    "psd.csv, thermo_summary.json, summary.json and PNG plots into ADIR.")
    p.add_argument("path", metavar="RUNDIR|TRAJECTORY|STRUCTURE")
    p.add_argument("--out", required=True, metavar="ADIR", help="output folder")
    p.add_argument("--every", type=int, default=1, metavar="N", help="use every N-th frame (default 1)")
    p.add_argument("--material", default=None, help="material name (default: from run metadata or path)")
    p.add_argument("--format", dest="fmt", default=None, choices=["auto", "run", *FORMATS],
                   help="how to read PATH, for any file name (default: from the name, e.g. x.data.4000000 "
                        "-> lammps-data, or the content)")
    p.add_argument("--types", default=None, metavar="C,H,N,Zn",
                   help="element of each LAMMPS atom type (type 1 first), for dumps with only a type "
                        "column and data files whose Masses section names no elements")
    p.add_argument("--topology", default=None, metavar="FILE",
                   help="DCD / XTC: the file naming the atoms (LAMMPS data, extxyz, CIF, PDB, GRO ...)")
    p.add_argument("--atom-style", default=None, choices=sorted(DATA_STYLES),
                   help="LAMMPS data atom style (default: the 'Atoms # style' comment, else the columns)")
    p.add_argument("--cutoff", type=_cutoffs, default=None, metavar="M=Å,...|rdf-minimum",
                   help=f"M-N cutoffs (default: {MN_CUTOFF_RULE}, as zifsim validate; "
                        "rdf-minimum: first minimum of the M-N histogram of the first frame)")
    p.add_argument("--window", type=int, default=None, metavar="FRAMES",
                   help="Lindemann window length in analysed frames (default: a fifth of the "
                        "longest stage, 3 to 20)")
    p.add_argument("--r-max", type=float, default=10.0, metavar="Å", help="RDF range (default 10 Å)")
    p.add_argument("--q-max", type=float, default=22.0, metavar="1/Å", help="Qmax of S(Q) and D(r) (default 22)")
    p.add_argument("--probe", default="He", help="pore probe: He, N2, CO2 or a radius in Å (default He)")
    p.add_argument("--no-pores", action="store_true", help="skip the pore analysis")
    p.add_argument("--pore-probes", default=None, metavar="P,P,...",
                   help="probes of pores.json besides --probe (names He, CO2, N2, N2-CoRE, X24 or radii in Å; "
                        "default He,CO2,N2,X24)")
    p.add_argument("--pore-radii", default="zeo++", choices=["zeo++", "ccdc", "uff"],
                   help="atomic radii of the pore analysis (default zeo++ = the CCDC table Zeo++ uses)")
    p.add_argument("--pore-spacing", type=float, default=0.3, metavar="Å",
                   help="grid spacing of the pore analysis (default 0.3 Å)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="analyse a run that failed, was interrupted or is still running (refused by "
                        "default); its status is written into summary.json, plot titles and the report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the analysis; returns the exit code."""
    from zifsim.analysis.pipeline import analyse
    summary = analyse(args.path, args.out, every=args.every, material=args.material, cutoffs=args.cutoff,
                      window=args.window, r_max=args.r_max, q_max=args.q_max, pores=not args.no_pores,
                      probe=args.probe, progress=not args.no_progress, fmt=args.fmt, types=args.types,
                      topology=args.topology, atom_style=args.atom_style,
                      allow_incomplete=args.allow_incomplete,
                      pore_options={"radii": args.pore_radii, "spacing": args.pore_spacing,
                                    **({"probes": [x.strip() for x in args.pore_probes.split(",") if x.strip()]}
                                       if args.pore_probes else {})})
    if summary.get("run_status") not in (None, "complete", "unknown"):
        import sys
        print(f"zifsim analyse: warning: the run is {summary['run_status']}"
              + (f" ({summary['run_error']})" if summary.get("run_error") else "")
              + ": this is recorded in summary.json and the report", file=sys.stderr)
    cuts = ", ".join(f"{m} {c:.2f} Å" for m, c in summary["cutoffs_A"].items())
    print(f"{summary['material']}: {summary['n_frames']} frames, mean CN (last stage) "
          f"{summary['mean_CN_last_stage']:.3f} (M-N cutoff {cuts}: {summary['cutoff_rule']}), "
          f"density {summary['density_gcm3_last']:.3f} g/cm3"
          + (f", Tm {summary['Tm_K']:.0f} K" if summary.get("Tm_K") else "")
          + f" -> {args.out}")
    return 0
