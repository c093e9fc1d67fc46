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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report; returns the exit code."""
    from zifsim.compare.report import write_report
    res = write_report(args.adirs, args.out)
    print(f"{res['n_rows']} comparisons for {', '.join(res['materials'])} -> {res['out']}/report.md")
    return 0
