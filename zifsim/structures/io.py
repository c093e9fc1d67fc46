"""Reading and writing ZIF cells.

Readers (:func:`read_structure`) accept CIF, extxyz and LAMMPS data files and
turn every problem into a :class:`~zifsim.errors.StructureError` naming the
file, the line or CIF tag and the fix. :func:`core_mof_cif` fetches a CIF of
the CoRE MOF 2019 database (PyPI ``core-mof``) by CSD refcode and caches it.
Writers produce deterministic text (same cell -> same bytes) atomically.
"""
from __future__ import annotations

import io as _io
import logging
import os
import re
import warnings
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from zifsim.errors import InputError, StructureError
from zifsim.fileio import atomic_open
from zifsim.structures.chemistry import is_element
from zifsim.geometry import lammps_cell

log = logging.getLogger(__name__)

#: CoRE MOF dataset used for refcode look-ups (all-solvent-removed, 2019).
CORE_MOF_DATASET = "2019-ASR"
#: Preference among the suffixes CoRE MOF appends to a refcode.
_CORE_SUFFIX_ORDER = ("clean", "clean_h", "SL", "freeONLY", "clean5b")


# ----------------------------------------------------------------------------- reading
#: file formats zifsim reads: one structure ...
STRUCTURE_FORMATS = ("cif", "extxyz", "lammps-data")
#: ... or a trajectory (zifsim.analysis.trajectory streams these)
TRAJECTORY_FORMATS = ("lammps-dump", "dcd", "xtc")
FORMATS = STRUCTURE_FORMATS + TRAJECTORY_FORMATS
_SUFFIX_FORMATS = {".cif": "cif", ".extxyz": "extxyz", ".xyz": "extxyz",
                   ".data": "lammps-data", ".lmp": "lammps-data", ".lammps": "lammps-data",
                   ".lammpstrj": "lammps-dump", ".dump": "lammps-dump", ".dcd": "dcd", ".xtc": "xtc"}
#: LAMMPS data atom styles read (ASE ``ase.io.lammpsdata``): columns of the Atoms section
DATA_STYLES = {"atomic": "id type x y z", "charge": "id type q x y z",
               "full": "id mol type q x y z", "molecular": "id mol type x y z",
               "bond": "id mol type x y z", "angle": "id mol type x y z"}


def guess_format(path: str | os.PathLike) -> str | None:
    """File format of ``path`` from its name or content, or None.

    The last suffix that is not a number decides (``x.data.4000000`` ->
    ``lammps-data``, ``dump.100.lammpstrj`` -> ``lammps-dump``); without a known
    suffix the first bytes do: ``ITEM: TIMESTEP`` (LAMMPS dump), a ``xlo xhi``
    header line (LAMMPS data), the DCD ``CORD`` or XTC magic number.
    """
    path = Path(path)
    for suffix in reversed(path.suffixes):
        if suffix[1:].isdigit():
            continue
        if suffix.lower() in _SUFFIX_FORMATS:
            return _SUFFIX_FORMATS[suffix.lower()]
        break
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if head.lstrip().startswith(b"ITEM: TIMESTEP"):
        return "lammps-dump"
    if head[4:8] == b"CORD":
        return "dcd"
    if head[:4] == (1995).to_bytes(4, "big"):
        return "xtc"
    if re.search(rb"^\s*\S+\s+\S+\s+xlo\s+xhi", head, re.M):
        return "lammps-data"
    return None


def parse_types(spec, source: str | None = None) -> dict[int, str]:
    """LAMMPS type -> element map from ``"C,H,N,Zn"`` (type 1 = C, ...), ``"1=C,4=Zn"`` or a list."""
    items = [str(x).strip() for x in (spec.split(",") if isinstance(spec, str) else spec)]
    items = [x for x in items if x]
    out: dict[int, str] = {}
    for k, item in enumerate(items, start=1):
        t, _, el = item.rpartition("=") if "=" in item else (str(k), "", item)
        if not t.strip().isdigit() or not is_element(el.strip()):
            raise InputError(f"cannot read type map entry {item!r}", source=source, where="--types",
                             fix="list the element of every LAMMPS type in order, e.g. --types C,H,N,Zn "
                                 "(type 1 = C), or give type=element pairs, e.g. --types 1=C,4=Zn")
        out[int(t)] = el.strip()
    if not out:
        raise InputError("empty type map", source=source, where="--types", fix="e.g. --types C,H,N,Zn")
    return out


def read_structure(path: str | os.PathLike, fmt: str | None = None, types=None,
                   atom_style: str | None = None) -> Atoms:
    """Read one periodic structure (CIF, extxyz or LAMMPS data) as :class:`ase.Atoms`.

    Parameters
    ----------
    path : file to read; the format comes from the name or content
        (:func:`guess_format`) unless ``fmt`` is given.
    fmt : ``"cif"``, ``"extxyz"`` or ``"lammps-data"`` (any file name).
    types : LAMMPS data only: type -> element map (``"C,H,N,Zn"``, see
        :func:`parse_types`); default: the ``Masses`` section (element comment,
        else the element of that mass).
    atom_style : LAMMPS data only: ``atomic``, ``charge``, ``full``, ``molecular``;
        default: the comment after ``Atoms`` (``Atoms # full``), else the number
        of columns where that is unambiguous.

    Returns an Atoms with a 3D cell (Å), ``pbc=True`` and, for CIFs, the site
    occupancies in ``atoms.arrays["occupancy"]``.
    """
    path = Path(path)
    from zifsim.fileio import check_input_file   # says what the path is instead: folder, link loop, device
    check_input_file(path, "structure file", fix="check the path (or give a registry material name instead)")
    fmt = fmt or guess_format(path)
    if fmt is None:
        raise InputError("cannot tell the file format from its name or content", source=str(path),
                         fix=f"give the format, e.g. --format lammps-data (one of {', '.join(FORMATS)}), "
                             "or rename to .cif, .extxyz or .data")
    if fmt == "cif":
        atoms = read_cif(path)
    elif fmt == "extxyz":
        atoms = _read_extxyz(path)
    elif fmt == "lammps-data":
        atoms = read_lammps_data(path, types=types, atom_style=atom_style)
    elif fmt in TRAJECTORY_FORMATS:
        raise InputError(f"a {fmt} trajectory, not one structure", source=str(path),
                         fix="analyse it with `zifsim analyse PATH` (it streams every frame)")
    else:
        raise InputError(f"unknown structure format {fmt!r}", source=str(path),
                         fix=f"use one of {', '.join(STRUCTURE_FORMATS)}")
    _check_cell(atoms, path)
    return atoms


def _line_of(text: str, pattern: str) -> int | None:
    """1-based number of the first line matching regex ``pattern``."""
    rx = re.compile(pattern)
    for number, line in enumerate(text.splitlines(), start=1):
        if rx.search(line):
            return number
    return None


def read_cif(path: str | os.PathLike) -> Atoms:
    """Read the first data block of a CIF, checking cell, elements and occupancies.

    Symmetry operations are applied (ASE). Site occupancies are kept in
    ``atoms.arrays["occupancy"]`` so that :mod:`zifsim.structures.clean` can
    resolve or refuse disorder.
    """
    from ase.io.cif import parse_cif

    path = Path(path)
    text = path.read_text(errors="replace")
    src = str(path)
    if not re.search(r"^\s*data_", text, re.MULTILINE):
        raise StructureError("no data_ block found: this is not a CIF", source=src,
                             fix="give a CIF with a data_ block, cell parameters and an _atom_site loop")
    try:
        blocks = list(parse_cif(_io.StringIO(text)))
    except Exception as exc:  # ASE raises many types on syntax errors
        raise StructureError(f"malformed CIF: {exc or type(exc).__name__}", source=src,
                             fix="check the CIF syntax (loops, quotes, tags) or re-export it") from None
    if not blocks:
        raise StructureError("no data_ block found: this is not a CIF", source=src,
                             fix="give a CIF with a data_ block, cell parameters and an _atom_site loop")
    block = blocks[0]
    for tag in ("_cell_length_a", "_cell_length_b", "_cell_length_c",
                "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"):
        if tag not in block:
            raise StructureError(f"no unit cell: tag {tag} is missing", source=src, where=tag,
                                 fix="a periodic framework needs all six cell parameters; "
                                     "add them to the CIF")
    if "_atom_site_fract_x" not in block and "_atom_site_cartn_x" not in block:
        raise StructureError("no atom sites (_atom_site_fract_x/y/z loop missing)", source=src,
                             where="_atom_site_fract_x", fix="add the _atom_site loop to the CIF")
    labels = list(block.get("_atom_site_label", []))
    symbols = block.get("_atom_site_type_symbol") or labels
    for k, raw in enumerate(symbols):
        sym = _clean_symbol(str(raw))
        if not is_element(sym):
            label = labels[k] if k < len(labels) else raw
            raise StructureError(
                f"unknown element {raw!r} (site {label})", source=src,
                where=_line_of(text, rf"^\s*{re.escape(str(label))}\s"),
                fix="use a chemical element symbol in _atom_site_type_symbol")
    for tag in ("_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z"):
        for k, value in enumerate(block.get(tag, [])):
            if not isinstance(value, (int, float)) or not np.isfinite(value):
                label = labels[k] if k < len(labels) else k
                raise StructureError(f"coordinate {tag} of site {label} is not a number ({value!r})",
                                     source=src, where=_line_of(text, rf"^\s*{re.escape(str(label))}\s"),
                                     fix="give numeric fractional coordinates")
    _check_cif_cell(block, text, src)
    atoms = _cif_atoms(block, labels, text, src)
    occupancy = _site_occupancies(block, atoms)
    clean = Atoms([_clean_symbol(s) for s in atoms.get_chemical_symbols()],
                  positions=atoms.positions, cell=atoms.cell, pbc=True)
    clean.arrays["occupancy"] = occupancy
    kinds = atoms.arrays.get("spacegroup_kinds")
    if kinds is not None and labels and len(labels) > int(np.max(kinds)):
        clean.arrays["site_label"] = np.array([str(labels[k]) for k in kinds])
    return clean


def _check_cif_cell(block, text: str, src: str) -> None:
    """Cell lengths > 0 and angles that make a cell, named by tag and line, before ASE builds it."""
    values = {}
    for tag in ("_cell_length_a", "_cell_length_b", "_cell_length_c",
                "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"):
        v = block.get(tag)
        where = _line_of(text, rf"^\s*{re.escape(tag)}\s") or tag
        if not isinstance(v, (int, float)) or not np.isfinite(v):
            raise StructureError(f"{tag} is not a number ({v!r})", source=src, where=where,
                                 fix="give the cell parameters as numbers (Å and degrees)")
        if tag.startswith("_cell_length") and not v > 0:
            raise StructureError(f"{tag} = {v:g} Å: a cell length must be positive", source=src, where=where,
                                 fix="give the cell lengths a, b, c in Å (all > 0)")
        if tag.startswith("_cell_angle") and not 0 < v < 180:
            raise StructureError(f"{tag} = {v:g}°: a cell angle must lie between 0 and 180°", source=src,
                                 where=where, fix="give the cell angles in degrees")
        values[tag] = float(v)
    al, be, ga = (values[f"_cell_angle_{k}"] for k in ("alpha", "beta", "gamma"))
    if not (al + be + ga < 360 and al < be + ga and be < al + ga and ga < al + be):
        raise StructureError(f"cell angles alpha {al:g}°, beta {be:g}°, gamma {ga:g}° do not make a cell "
                             "(each must be below the sum of the other two, the sum below 360°)",
                             source=src, where="_cell_angle_alpha", fix="check the cell angles")


#: two CIF sites closer than this (Å) after applying the symmetry are one position
DUPLICATE_SITE_A = 0.05


def _cif_atoms(block, labels: list, text: str, src: str) -> Atoms:
    """The expanded cell; P1 without ASE's O(N^2) orbit search; sites that fall onto one position
    are refused (different elements) or reported (the same element, kept once)."""
    import logging
    log = logging.getLogger("zifsim.structures")
    try:
        sg = block.get_spacegroup(True)
        from ase.spacegroup import Spacegroup
        sg = sg if isinstance(sg, Spacegroup) else Spacegroup(sg)
        p1 = sg.nsymop == 1 and np.allclose(sg.rotations[0], np.eye(3)) and not np.any(sg.translations)
    except Exception:  # noqa: BLE001 - ASE reports symmetry problems below
        p1 = False
    label = (lambda k: str(labels[k]) if k < len(labels) else f"site {k + 1}")
    merged: list[tuple[int, int]] = []
    try:
        if p1:
            atoms = block.get_unsymmetrized_structure()
            atoms.set_scaled_positions(atoms.get_scaled_positions(wrap=True))
            atoms.pbc = True
            atoms.arrays["spacegroup_kinds"] = np.arange(len(atoms))
            if len(atoms) > 2000:
                log.info("%s: P1 cell with %d sites (no symmetry expansion)", src, len(atoms))
            from zifsim.structures.neighbours import neighbour_pairs
            pairs = neighbour_pairs(atoms, DUPLICATE_SITE_A)
            keep = np.ones(len(atoms), bool)
            for i, j in zip(pairs.i, pairs.j):
                if i < j and keep[i]:
                    merged.append((int(i), int(j)))
                    keep[j] = False
            atoms = atoms[keep]
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                atoms = block.get_atoms(fractional_occupancies=False)
            for w in caught:
                m = re.search(r"scaled_positions (\d+) and (\d+) are equivalent", str(w.message))
                if m:
                    merged.append((int(m.group(1)), int(m.group(2))))
    except Exception as exc:  # noqa: BLE001 - ASE raises many kinds
        raise StructureError(f"cannot build the structure: {exc or type(exc).__name__}", source=src,
                             fix="check the space group / symmetry operations and the atom sites") from None
    if merged:
        symbols = block.get_symbols()
        clash = [(a, b) for a, b in merged if symbols[a] != symbols[b]]
        if clash:
            a, b = clash[0]
            listing = ", ".join(f"{label(x)} ({symbols[x]}) and {label(y)} ({symbols[y]})" for x, y in clash[:4])
            raise StructureError(
                f"{len(clash)} pair(s) of sites of different elements lie at one position (after the symmetry "
                f"operations): {listing}{' ...' if len(clash) > 4 else ''}", source=src,
                where=_line_of(text, rf"^\s*{re.escape(label(b))}\s"),
                fix="delete the wrong site, or give the disorder as partial occupancies")
        listing = ", ".join(f"{label(x)} = {label(y)}" for x, y in merged[:6])
        log.warning("%s: %d duplicate site(s) (the same element at one position) kept once: %s%s", src,
                    len(merged), listing, " ..." if len(merged) > 6 else "")
    return atoms


def _site_occupancies(block, atoms: Atoms) -> np.ndarray:
    """Occupancy of every atom of the expanded cell (1 where the CIF gives none)."""
    occ_tag = block.get("_atom_site_occupancy")
    if occ_tag is None:
        return np.ones(len(atoms))
    kinds = atoms.arrays.get("spacegroup_kinds")
    occ = np.array([float(o) if isinstance(o, (int, float)) else 1.0 for o in occ_tag])
    if kinds is None or len(occ) == 0:
        return np.ones(len(atoms))
    return occ[np.asarray(kinds)]


def _clean_symbol(raw: str) -> str:
    """'Zn2+' / 'ZN' / 'Zn1' -> 'Zn'; 'D' -> 'H'."""
    m = re.match(r"([A-Za-z]{1,2})", raw.strip())
    if not m:
        return raw
    s = m.group(1)
    s = s[0].upper() + s[1:].lower()
    if s not in atomic_numbers and s[:1] in atomic_numbers:
        s = s[:1]
    return "H" if s == "D" else s


def _read_extxyz(path: Path) -> Atoms:
    import ase.io
    try:
        atoms = ase.io.read(path, format="extxyz", index=-1)
    except Exception as exc:
        raise StructureError(f"malformed extxyz: {exc}", source=str(path),
                             fix="write it with ase.io.write(..., format='extxyz')") from None
    if atoms.cell.rank < 3:
        raise StructureError("no cell: a plain xyz file (or a LAMMPS 'dump xyz') has no box", source=str(path),
                             fix="give an extxyz with a Lattice=\"...\" comment, a LAMMPS 'dump custom' "
                                 "(id type x y z) or a data file")
    return atoms


def read_lammps_data(path: str | os.PathLike, types=None, atom_style: str | None = None) -> Atoms:
    """A LAMMPS data file of any of :data:`DATA_STYLES` as Atoms (read by ``ase.io.lammpsdata``).

    Elements: ``types`` (a map, :func:`parse_types`), else the ``Masses``
    section: the ``# Element`` comment, else the element whose standard mass
    is within 0.1 g/mol. A map that contradicts the Masses section, a type
    with no element, or an atom style that cannot be told apart (6 columns:
    ``charge`` or ``molecular``) is refused.
    """
    from ase.io.lammpsdata import read_lammps_data as ase_read
    path = Path(path)
    src = str(path)
    text = path.read_text(errors="replace")
    lines = text.splitlines()
    start = next((k for k, line in enumerate(lines) if re.match(r"\s*Atoms\b", line)), None)
    if start is None or not re.search(r"^\s*\d+\s+atoms\b", text, re.M):
        raise StructureError("not a LAMMPS data file (no 'N atoms' header or no Atoms section)", source=src,
                             fix="give a file written by LAMMPS write_data (or --format for another kind)")
    style = atom_style or lines[start].partition("#")[2].strip().split(" ")[0] or None
    first = next((line.partition("#")[0].split() for line in lines[start + 1:] if line.strip()), [])
    style = style or _guess_data_style(first, src, start + 2)
    if style not in DATA_STYLES:
        raise StructureError(f"atom_style {style!r} is not read", source=src, where=start + 1,
                             fix=f"use one of {', '.join(DATA_STYLES)} (LAMMPS write_data), or --atom-style")
    by_mass = _parse_masses(lines, src)
    user = parse_types(types, src) if types is not None else {}
    for t, el in user.items():
        known, how = by_mass.get(t, (None, ""))
        if known and known != el and how == "comment":
            raise StructureError(f"--types says type {t} is {el}, the Masses section says {known}",
                                 source=src, where="Masses", fix="correct --types (or the Masses comments)")
        if known and known != el:
            log.warning("%s: --types says type %d is %s, its mass is that of %s; using %s", src, t, el, known, el)
    elements = {t: el for t, (el, _) in by_mass.items() if el}
    elements.update(user)
    try:
        with open(path) as fh:
            raw = ase_read(fh, atom_style="molecular" if style in ("bond", "angle") else style,
                           units="metal", sort_by_id=True)
    except Exception as exc:
        raise StructureError(f"malformed LAMMPS data file (atom_style {style}: {DATA_STYLES[style]}): "
                             f"{type(exc).__name__}: {exc}", source=src,
                             fix="check the Atoms section columns, or give the right --atom-style") from None
    file_types = np.asarray(raw.arrays.get("type", raw.numbers), int)
    if (file_types == 0).any():
        raise StructureError("the Atoms section names its types by label (Atom Type Labels), which is not "
                             "read here", source=src, where=start + 1,
                             fix="write the file with numeric types (LAMMPS write_data nolabelmap), then "
                                 "give --types or Masses comments")
    missing = sorted(set(file_types.tolist()) - set(elements))
    if missing:
        raise StructureError(("" if by_mass else "no Masses section: ")
                             + f"no element for atom type(s) {', '.join(map(str, missing))}", source=src,
                             where="Masses", fix="give --types C,H,N,Zn (type 1 = C, ...) or "
                                                  "'# Element' comments in the Masses section")
    return Atoms([elements[int(t)] for t in file_types], positions=raw.positions, cell=raw.cell, pbc=True)


def _guess_data_style(fields: list[str], src: str, line: int) -> str:
    """atom_style of a data file without a style comment, from its first Atoms line."""
    n = len(fields)
    if n in (5, 8):
        return "atomic"
    if n in (7, 10):
        return "full"
    if n in (6, 9):  # id type q x y z  or  id mol type x y z
        if not re.fullmatch(r"[+-]?\d+", fields[2]):
            return "charge"  # the third column is a float: a charge, not a type
        raise StructureError("cannot tell atom_style charge (id type q x y z) from molecular "
                             "(id mol type x y z): the Atoms section has no '# style' comment",
                             source=src, where=line,
                             fix="give --atom-style charge or --atom-style molecular "
                                 "(or write 'Atoms # charge' in the file)")
    raise StructureError(f"{n} columns in the Atoms section match no atom style read here", source=src,
                         where=line, fix=f"use one of {', '.join(DATA_STYLES)} or give --atom-style")


def _parse_masses(lines: list[str], src: str) -> dict[int, tuple[str | None, str]]:
    """Type -> (element or None, how: "comment" | "mass") from the ``Masses`` section."""
    start = next((k for k, line in enumerate(lines) if line.strip().split("#")[0].strip() == "Masses"), None)
    out: dict[int, tuple[str | None, str]] = {}
    if start is None:
        return out
    for number, line in enumerate(lines[start + 1:], start=start + 2):
        if not line.strip():
            if out:
                break
            continue
        body, _, comment = line.partition("#")
        parts = body.split()
        if len(parts) < 2 or not parts[0].isdigit():
            break
        sym = comment.strip().split()[0] if comment.strip() else None
        if sym is not None and is_element(sym):
            out[int(parts[0])] = (sym, "comment")
            continue
        try:
            mass = float(parts[1])
        except ValueError:
            raise StructureError(f"mass {parts[1]!r} of type {parts[0]} is not a number", source=src,
                                 where=number, fix="write 'TYPE MASS # Element' lines in Masses") from None
        out[int(parts[0])] = (_element_from_mass(mass), "mass")
    return out


def _element_from_mass(mass: float) -> str | None:
    """The element whose standard atomic mass is within 0.1 g/mol of ``mass``, or None."""
    from ase.data import chemical_symbols
    diffs = np.abs(atomic_masses[1:] - mass)
    z = int(np.argmin(diffs)) + 1
    return chemical_symbols[z] if diffs[z - 1] < 0.1 else None


def _check_cell(atoms: Atoms, path: Path) -> None:
    cell = np.asarray(atoms.cell, float)
    if not atoms.pbc.all() or atoms.cell.rank < 3 or abs(np.linalg.det(cell)) < 1.0:
        raise StructureError("no 3D periodic cell", source=str(path),
                             fix="a framework needs a unit cell (a, b, c, alpha, beta, gamma)")
    if np.linalg.det(cell) < 0:
        raise StructureError("left-handed cell vectors", source=str(path),
                             fix="reorder the lattice vectors into a right-handed set")
    if len(atoms) == 0:
        raise StructureError("the structure contains no atoms", source=str(path),
                             fix="check the _atom_site loop")


# ----------------------------------------------------------------------------- CoRE MOF
def cache_dir() -> Path:
    """Per-user cache of downloaded / extracted data (``$ZIFSIM_CACHE``, default ``~/.cache/zifsim``)."""
    env = os.environ.get("ZIFSIM_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "zifsim"


def resolve_core_mof_entry(refcode: str, dataset: str = CORE_MOF_DATASET) -> str:
    """The CoRE MOF entry name for a CSD refcode (``VEJYUF01`` -> ``VEJYUF01_clean``).

    An exact entry name (with its suffix) is returned unchanged. Raises
    :class:`InputError` listing close refcodes when none matches.
    """
    import CoRE_MOF

    entries = CoRE_MOF.list_structures(dataset)
    if refcode in entries:
        return refcode
    matches = [e for e in entries if e.split("_", 1)[0].upper() == refcode.upper()]
    if not matches:
        import difflib
        stems = sorted({e.split("_", 1)[0] for e in entries})
        close = difflib.get_close_matches(refcode.upper(), stems, n=5)
        raise InputError(f"refcode {refcode!r} is not in CoRE MOF {dataset}", where="source.core_mof",
                         fix=f"use a CSD refcode present in CoRE MOF (close: {', '.join(close) or 'none'})")

    def rank(entry: str) -> tuple[int, str]:
        suffix = entry.split("_", 1)[1] if "_" in entry else ""
        order = _CORE_SUFFIX_ORDER.index(suffix) if suffix in _CORE_SUFFIX_ORDER else len(_CORE_SUFFIX_ORDER)
        return order, entry
    return sorted(matches, key=rank)[0]


def core_mof_cif(refcode: str, dataset: str = CORE_MOF_DATASET) -> Path:
    """Path of the cached CIF of CoRE MOF entry ``refcode`` (extracted once, ~3.5 s).

    The CIF is read from the ``core-mof`` package at run time and cached under
    :func:`cache_dir` ``/core-mof/<dataset>/<entry>.cif``; it is never copied
    into the repository.
    """
    entry = resolve_core_mof_entry(refcode, dataset)
    path = cache_dir() / "core-mof" / dataset / f"{entry}.cif"
    if not path.is_file():
        import CoRE_MOF
        log.info("extracting %s from CoRE MOF %s (one-off, a few seconds)", entry, dataset)
        data = CoRE_MOF.get_CIF_structure_data(dataset, entry)
        with atomic_open(path, "wb") as fh:
            fh.write(data)
    return path


def prefetch_core_mof(refcodes, dataset: str = CORE_MOF_DATASET) -> list[Path]:
    """Cache several CoRE MOF CIFs in one pass over the archive (one ~3.5 s scan, not one each).

    Returns the cached paths in the order of ``refcodes``.
    """
    import tarfile
    from importlib import resources

    import CoRE_MOF

    entries = [resolve_core_mof_entry(r, dataset) for r in refcodes]
    target = {f"{e}.cif": cache_dir() / "core-mof" / dataset / f"{e}.cif" for e in entries}
    missing = {name: path for name, path in target.items() if not path.is_file()}
    if missing:
        log.info("extracting %d CIFs from CoRE MOF %s (one pass)", len(missing), dataset)
        archive = resources.files(CoRE_MOF.data) / f"{dataset}.tar.xz"
        with tarfile.open(str(archive), "r") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if base in missing and member.isfile() and member.size > 0:
                    data = tar.extractfile(member).read()
                    with atomic_open(missing.pop(base), "wb") as fh:
                        fh.write(data)
                    if not missing:
                        break
        for name in missing:  # not found in one pass: fall back to the package's own lookup
            core_mof_cif(name[:-4], dataset)
    return [target[f"{e}.cif"] for e in entries]


# ----------------------------------------------------------------------------- writing
def default_type_order(atoms: Atoms) -> list[str]:
    """Sorted element symbols of ``atoms`` (LAMMPS type 1 = first)."""
    return sorted(set(atoms.get_chemical_symbols()))


def check_type_order(atoms: Atoms, elements: list[str] | None, source: str | None = None) -> list[str]:
    """Validate an element list for LAMMPS types; extra elements give empty types."""
    if elements is None:
        return default_type_order(atoms)
    elements = [str(e).strip() for e in elements if str(e).strip()]
    bad = [e for e in elements if not is_element(e)]
    if bad:
        raise InputError(f"unknown element(s) in the type list: {', '.join(bad)}", source=source,
                         where="--elements", fix="give chemical symbols, e.g. C,H,N,Zn")
    if len(set(elements)) != len(elements):
        raise InputError("an element appears twice in the type list", source=source,
                         where="--elements", fix="list each element once")
    missing = sorted(set(atoms.get_chemical_symbols()) - set(elements))
    if missing:
        raise InputError(f"the cell contains {', '.join(missing)} but the type list "
                         f"{','.join(elements)} does not", source=source, where="--elements",
                         fix=f"add {','.join(missing)} to --elements")
    return elements


#: atom styles :func:`lammps_data_text` writes (column layouts of the Atoms section).
DATA_WRITE_STYLES = ("charge", "atomic")


def lammps_data_text(atoms: Atoms, elements: list[str] | None = None, title: str = "",
                     atom_style: str = "charge") -> str:
    """THE LAMMPS data file text of zifsim (``zifsim build`` cell.data, the run's input.data).

    Lengths in Å, masses in g/mol with an element comment in ``Masses``
    (``1 12.011000 # C``), atom types in the order of ``elements`` (default:
    sorted symbols). ``atom_style`` ``charge`` (``id type q x y z``; q from
    ``atoms.get_initial_charges()``, 0 unless set) or ``atomic``
    (``id type x y z``). The box is the LAMMPS (lower-triangular) form of the
    cell (:func:`zifsim.geometry.lammps_cell`), positions wrapped into it; for
    a cell with large tilts use :func:`write_lammps_data` (reduces them).
    """
    if atom_style not in DATA_WRITE_STYLES:
        raise InputError(f"cannot write atom_style {atom_style!r}", where="atom_style",
                         fix=f"use one of {', '.join(DATA_WRITE_STYLES)}")
    elements = check_type_order(atoms, elements)
    std = lammps_cell(np.asarray(atoms.cell, float))
    frac = atoms.cell.scaled_positions(atoms.positions) % 1.0
    frac[np.isclose(frac, 1.0, atol=1e-12)] = 0.0
    pos = frac @ std
    type_of = {e: k + 1 for k, e in enumerate(elements)}
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = std
    out = [f"# {title}".rstrip() if title else "# zifsim cell", "",
           f"{len(atoms)} atoms", f"{len(elements)} atom types", "",
           f"0.0 {lx:.10f} xlo xhi", f"0.0 {ly:.10f} ylo yhi", f"0.0 {lz:.10f} zlo zhi"]
    if max(abs(xy), abs(xz), abs(yz)) > 1e-10:
        out.append(f"{xy:.10f} {xz:.10f} {yz:.10f} xy xz yz")
    out += ["", "Masses", ""]
    for e in elements:
        out.append(f"{type_of[e]} {atomic_masses[atomic_numbers[e]]:.6f} # {e}")
    out += ["", f"Atoms # {atom_style}", ""]
    charges = atoms.get_initial_charges()
    for k, (sym, r) in enumerate(zip(atoms.get_chemical_symbols(), pos), start=1):
        q = f" {float(charges[k - 1])!r}" if atom_style == "charge" else ""
        out.append(f"{k} {type_of[sym]}{q} {r[0]:.10f} {r[1]:.10f} {r[2]:.10f}")
    return "\n".join(out) + "\n"


def cif_text(atoms: Atoms, name: str = "zifsim") -> str:
    """P1 CIF text of ``atoms`` (fractional coordinates, 8 decimals)."""
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    frac = atoms.cell.scaled_positions(atoms.positions) % 1.0
    block = re.sub(r"[^A-Za-z0-9_.()-]", "_", name) or "zifsim"
    out = [f"data_{block}", "_symmetry_space_group_name_H-M   'P 1'",
           "_symmetry_Int_Tables_number   1", "loop_", "_symmetry_equiv_pos_as_xyz", "  'x, y, z'",
           f"_cell_length_a   {a:.8f}", f"_cell_length_b   {b:.8f}", f"_cell_length_c   {c:.8f}",
           f"_cell_angle_alpha   {alpha:.8f}", f"_cell_angle_beta   {beta:.8f}",
           f"_cell_angle_gamma   {gamma:.8f}", "loop_", "_atom_site_label", "_atom_site_type_symbol",
           "_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z", "_atom_site_occupancy"]
    counts: dict[str, int] = {}
    for sym, f in zip(atoms.get_chemical_symbols(), frac):
        counts[sym] = counts.get(sym, 0) + 1
        out.append(f"{sym}{counts[sym]} {sym} {f[0]:.8f} {f[1]:.8f} {f[2]:.8f} 1")
    return "\n".join(out) + "\n"


def extxyz_text(atoms: Atoms, info: dict | None = None) -> str:
    """extxyz text of ``atoms`` with only ``info`` (strings / numbers) as metadata."""
    import ase.io
    clean = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=True)
    clean.info.update(info or {})
    buf = _io.StringIO()
    ase.io.write(buf, clean, format="extxyz")
    return buf.getvalue()


def write_lammps_data(atoms: Atoms, path: str | os.PathLike, elements: list[str] | None = None,
                      title: str = "", atom_style: str = "charge") -> None:
    """Atomically write :func:`lammps_data_text` (types in ``elements`` order) to ``path``.

    The cell is first put in the LAMMPS orientation with reduced tilts
    (:func:`zifsim.structures.supercell.standard_orientation`): same lattice,
    possibly another basis.
    """
    from zifsim.structures.supercell import standard_orientation
    elements = check_type_order(atoms, elements)
    text = lammps_data_text(standard_orientation(atoms), elements, title, atom_style)
    with atomic_open(path) as fh:
        fh.write(text)
