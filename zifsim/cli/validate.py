"""``zifsim validate``: check a ZIF structure (coordination, bonds, linkers, density)."""
from __future__ import annotations

import argparse

DESCRIPTION = """\
Validate a ZIF structure file as it is (CIF, extxyz, LAMMPS data of any atom style,
or a cell folder written by `zifsim build`) and print the report: composition, linkers
per metal, metal-N coordination number of every metal (M-N bonded when closer than
1.25 x the crystal M-N bond: Zn 2.49 A, Cd 2.76 A, the convention `zifsim analyse`
uses too; printed), M-N distances, the tau4 geometry index
(1 = tetrahedral, 0 = square planar; ~0.95-1 for Zn ZIFs, 0.47 for Cu in ZIF-Cu-1),
density (g/cm3) and the closest contact.

Exit status 0 when the structure passes (every metal 4-coordinated by N at
1.9-2.4 A, no atoms closer than 0.9 A, complete known linkers, two per metal),
1 otherwise.
"""


def register(subparsers) -> None:
    """Add the ``validate`` sub-command."""
    p = subparsers.add_parser("validate", help="check a ZIF structure and print its validation report",
                              description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    from zifsim.structures.io import DATA_STYLES, STRUCTURE_FORMATS
    p.add_argument("path", metavar="PATH", help="structure file or a cell folder from zifsim build")
    p.add_argument("--format", dest="fmt", default=None, choices=STRUCTURE_FORMATS,
                   help="file format, for any file name (default: from the name or content)")
    p.add_argument("--types", default=None, metavar="C,H,N,Zn",
                   help="LAMMPS data: element of each atom type (default: the Masses section)")
    p.add_argument("--atom-style", default=None, choices=sorted(DATA_STYLES),
                   help="LAMMPS data atom style (default: the 'Atoms # style' comment, else the columns)")
    p.add_argument("--clean", action="store_true",
                   help="remove guests and complete H first (what zifsim build does) before checking")
    p.add_argument("--cn", type=int, default=4, metavar="N",
                   help="required M-N coordination number of every metal (default 4)")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    """Execute ``zifsim validate``; returns 0 if valid, 1 otherwise."""
    from pathlib import Path

    from zifsim.fileio import write_json
    from zifsim.structures import format_report, prepare_structure, read_structure, validate_structure

    path = Path(args.path)
    if path.is_dir():
        path = path / "cell.extxyz"
    atoms = read_structure(path, fmt=args.fmt, types=args.types, atom_style=args.atom_style)
    if args.clean:
        atoms, _ = prepare_structure(atoms, source=str(path))
    report = validate_structure(atoms, name=str(path), expected_cn=args.cn)
    print(format_report(report))
    if args.json:
        write_json(args.json, report)
    return 0 if report["passed"] else 1
