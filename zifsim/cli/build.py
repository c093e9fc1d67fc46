"""``zifsim build``: simulation-ready ZIF cells from the registry or a CIF."""
from __future__ import annotations

import argparse
import functools
import logging
import sys
import time

log = logging.getLogger("zifsim.build")

DESCRIPTION = """\
Build a periodic ZIF cell ready for LAMMPS, from a registry material name
(e.g. ZIF-4, ZIF-62, ZIF-8, ZIF-Cu-1, ZIF-4-Co, ZIF-70; see configs/materials.yaml)
or from your own CIF / extxyz / LAMMPS data file.

What it does: reads the crystal structure (CoRE MOF 2019 by refcode for registry
materials), removes unbound guest molecules (solvent), refuses or resolves
partially occupied sites, completes the linker H atoms and sets C-H to 1.08 A
(X-ray C-H are ~0.93 A), applies linker / metal substitution for materials
like ZIF-62 = Zn(im)1.75(bim)0.25, optionally repeats the cell, and checks that
every metal is 4-coordinated by N at 1.9-2.4 A.

Writes into --out: cell.data (LAMMPS, atom_style charge), cell.extxyz, cell.cif
(P1) and validation.json (composition, M-N coordination and distances, tau4,
density). Nothing is written if any step fails.
"""

EPILOG = """\
examples:
  zifsim build ZIF-4 --out cells/ZIF-4
  zifsim build ZIF-62 --min-width 24 --elements C,H,N,Zn --out cells/ZIF-62
  zifsim build my_zif.cif --supercell 2,2,1 --out cells/my_zif
  zifsim build --all --out structures        # regenerate the registry cells
"""


def register(subparsers) -> None:
    """Add the ``build`` sub-command."""
    p = subparsers.add_parser("build", help="build validated ZIF cells (registry name or CIF)",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("material", nargs="?", metavar="NAME|PATH",
                   help="registry material name or alias (ZIF-4, ZIF-62, 'ZIF-4(Co)' ...) or a "
                        "structure file (.cif, .extxyz, .data)")
    p.add_argument("--all", action="store_true",
                   help="build every registry material that has a structure, into OUT/<name>/")
    p.add_argument("--list", action="store_true",
                   help="list the registry materials (formula, topology, structure source, force "
                        "provider, number of experimental facts) and exit")
    p.add_argument("--out", "-o", metavar="DIR", help="output folder (required unless --list)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--supercell", metavar="NA,NB,NC",
                      help="repeat the cell NA x NB x NC times, e.g. 2,2,1")
    size.add_argument("--min-width", type=float, metavar="ANGSTROM",
                      help="repeat the cell until each perpendicular width (distance between "
                           "opposite faces, correct for triclinic cells) is at least this many Å; "
                           "use >= 2 x the force-field cut-off, e.g. 20")
    p.add_argument("--elements", metavar="C,H,N,Zn",
                   help="LAMMPS atom-type order (type 1 = first); must cover every element of "
                        "the cell, may list more (default: alphabetical)")
    p.add_argument("--disorder", choices=["refuse", "major"], default="refuse",
                   help="partially occupied sites in a CIF: refuse (default) or keep the major "
                        "component of each disorder group")
    p.add_argument("--name", help="cell name for a file input (default: the file name)")
    p.add_argument("--registry", metavar="YAML",
                   help="materials registry to use (default: configs/materials.yaml of zifsim)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Execute ``zifsim build``; returns the exit code."""
    from pathlib import Path

    from zifsim.errors import InputError, ZifsimError
    from zifsim.structures import build_from_file, build_material, format_report
    from zifsim.structures.supercell import parse_supercell

    if args.list:
        return _list_materials(args.registry)
    if not args.out:
        raise InputError("no output folder", where="--out", fix="add --out DIR")
    supercell = parse_supercell(args.supercell) if args.supercell else None
    elements = [e.strip() for e in args.elements.split(",")] if args.elements else None
    if args.all == bool(args.material):
        raise InputError("give either a material name / structure file or --all", where="zifsim build",
                         fix="e.g. zifsim build ZIF-4 --out cells/ZIF-4, or zifsim build --all --out structures")
    out = Path(args.out)
    from zifsim.fileio import check_output_dir
    check_output_dir(out, "--out", create=False)   # an existing file in the way: say so before building
    if not args.all:
        path = Path(args.material)
        if path.suffix.lower() in (".cif", ".extxyz", ".xyz", ".data", ".lmp") or path.exists() or path.is_symlink():
            cell = build_from_file(path, name=args.name, supercell=supercell, min_width=args.min_width,
                                   elements=elements, disorder=args.disorder)
        else:
            from zifsim.registry import load_registry
            cell = build_material(args.material, supercell=supercell, min_width=args.min_width,
                                  elements=elements, registry=load_registry(args.registry),
                                  relaxer=default_relaxer)
        cell.write(out, elements)
        print(format_report(cell.report))
        print(f"wrote {out}/cell.data, cell.extxyz, cell.cif, validation.json")
        return 0

    from zifsim.registry import load_registry
    from zifsim.structures.summary import write_summary
    registry = load_registry(args.registry)
    todo = [m for m in registry.materials.values() if m.has_structure]
    skipped = [m.name for m in registry.materials.values() if not m.has_structure]
    failures, cells = {}, {}
    start = time.monotonic()
    from zifsim.structures.io import prefetch_core_mof
    prefetch_core_mof([m.source["core_mof"] for m in todo if "core_mof" in m.source])
    for k, material in enumerate(todo, start=1):
        t0 = time.monotonic()
        try:
            cell = build_material(material.name, supercell=supercell, min_width=args.min_width,
                                  elements=elements, registry=registry, relaxer=default_relaxer)
            cell.write(out / material.name, elements)
            cells[material.name] = cell
            status = "ok" if cell.passed else "INVALID"
        except ZifsimError as exc:
            failures[material.name] = str(exc)
            status = "FAILED"
        elapsed = time.monotonic() - start
        eta = elapsed / k * (len(todo) - k)
        print(f"[{k}/{len(todo)}] {material.name:<20s} {status:<7s} {time.monotonic() - t0:5.1f} s "
              f"(elapsed {elapsed:.0f} s, ETA {eta:.0f} s)", flush=True)
    if cells:
        write_summary(cells, out)
        print(f"summary: {out}/summary.csv, {out}/summary.png")
    if skipped:
        print(f"facts only (no structure): {', '.join(skipped)}")
    for name, msg in failures.items():
        print(f"zifsim build: {name} failed: {msg}", file=sys.stderr)
    return 1 if failures else 0


def _list_materials(registry_path) -> int:
    """Print the registry as a table; returns 0."""
    from zifsim.registry import load_registry
    reg = load_registry(registry_path)
    print(f"{'material':<20s} {'formula':<24s} {'net':<6s} {'provider':<8s} {'facts':>5s}  source")
    for m in reg.materials.values():
        src = ", ".join(f"{k}: {v}" for k, v in m.source.items() if k != "substitute") if m.source else "(facts only)"
        if m.source and m.source.get("substitute"):
            sub = m.source["substitute"]
            src += " + " + ", ".join(f"{v.get('from')}->{v.get('to')}" + (f" x={v['x']}" if "x" in v else "")
                                     for v in sub.values())
        print(f"{m.name:<20s} {m.formula:<24s} {m.topology or '-':<6s} {str(m.provider):<8s} "
              f"{len(m.experiment):>5d}  {src}")
    return 0


@functools.lru_cache(maxsize=1)
def default_relaxer():
    """The MLIP (CHGNet + D3) that relaxes net-built and "place then relax" cells, built once,
    only when a cell needs it (a cached or committed cell does not)."""
    from zifsim.potentials.mlip import MLIPProvider
    return MLIPProvider()
