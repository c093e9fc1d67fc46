"""``zifsim forcefield list|fetch``: the registry of known force-field files (ReaxFF, deployed NequIP)."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``forcefield`` sub-command with ``list`` and ``fetch``."""
    p = subparsers.add_parser("forcefield", help="list or download registered force-field files (ReaxFF, NequIP)",
                              description="ReaxFF parameter files and deployed NequIP models are third-party data: zifsim knows them by "
                                          "sha256 and reads them from $ZIFSIM_FORCEFIELD_DIR.")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    lst = sub.add_parser("list", help="registered parameter sets and whether they are present and verified")
    lst.add_argument("--dir", default=None, help="folder to look in (default $ZIFSIM_FORCEFIELD_DIR)")
    lst.set_defaults(func=list_main)
    fetch = sub.add_parser("fetch", help="download a registered file and verify its sha256")
    fetch.add_argument("name", help="registry name, e.g. ZnN_2016 or NequIP_ZIF4")
    fetch.add_argument("--url", default=None, help="download address (default: the public source; file:// works)")
    fetch.add_argument("--dir", default=None, help="target folder (default $ZIFSIM_FORCEFIELD_DIR)")
    fetch.set_defaults(func=fetch_main)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def list_main(args: argparse.Namespace) -> int:
    """Print the registry with the local state of each file."""
    from zifsim import settings
    from zifsim.potentials.reaxff import list_forcefields
    rows = list_forcefields(args.dir)
    print(f"force-field folder: {args.dir or settings.forcefield_dir()}")
    for r in rows:
        state = "verified" if r["verified"] else ("CHECKSUM MISMATCH" if r["present"] else "absent")
        print(f"{r['name']:<12} {r['file']:<20} {state:<17} elements: {r['elements']}")
        print(f"{'':<12} {r['citation']}")
    return 0


def fetch_main(args: argparse.Namespace) -> int:
    """Download and verify; print the path."""
    from zifsim.potentials.reaxff import fetch_forcefield
    path = fetch_forcefield(args.name, url=args.url, dest_dir=args.dir)
    print(f"{args.name}: {path} (sha256 verified)")
    return 0
