"""``zifsim report ADIR [ADIR ...] --out REPORTDIR``: simulation vs experiment tables, plots, report.md."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``report`` sub-command."""
    p = subparsers.add_parser(
        "report", help="compare analyses with experiment",
        description="Read the summary.json of analysis folders written by `zifsim analyse`, match the "
                    "materials with the registry's experimental facts and write comparison.csv, "
                    "comparison.png, per-material PNG plots and report.md into REPORTDIR.")
    p.add_argument("adirs", nargs="+", metavar="ADIR", help="analysis folders")
    p.add_argument("--out", required=True, metavar="REPORTDIR", help="output folder")
    p.add_argument("--experiments", default=None, metavar="FILE|JSON",
                   help="measured X-ray files per material (YAML/JSON file with an 'experiments' key, or inline "
                        "JSON): {MATERIAL: {xray_D: PATH, xray_Fk: PATH, T_C: 31, state: glass}}; the report "
                        "shows an overlay and the Rw of every run of that material (docs/xray.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report; returns the exit code."""
    from zifsim.compare.report import write_report
    res = write_report(args.adirs, args.out, experiments=args.experiments)
    print(f"{res['n_rows']} comparisons for {', '.join(res['materials'])} -> {res['out']}/report.md")
    return 0
