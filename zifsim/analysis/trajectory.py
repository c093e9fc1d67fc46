"""Frames: streaming readers of run directories, trajectories and single structures.

A :class:`Frame` holds one configuration in the LAMMPS orientation (cell rows
``a = (lx, 0, 0)``, ``b = (xy, ly, 0)``, ``c = (xz, yz, lz)``, Å), wrapped
positions (Å), integer image flags and per-frame metadata (stage, step,
time_ps, temp_K). Frames are yielded one at a time, so memory does not grow
with trajectory length.

zifsim's own dumps follow the run-directory contract (docs/architecture.md §2):
``dump custom: id type element x y z ix iy iz`` sorted by id; :func:`read_dump`
also reads anyone's LAMMPS dump (any column order, types + a type map,
scaled / unwrapped coordinates, triclinic), :func:`read_mda_trajectory` DCD and
XTC files through MDAnalysis, and :func:`open_source` picks the reader for
whatever ``zifsim analyse`` is given.
"""
from __future__ import annotations

import dataclasses
import io
import itertools
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from zifsim.errors import InputError
from zifsim.geometry import cell_from_lammps_box, density_gcm3, lammps_cell
from zifsim.structures.io import (FORMATS, STRUCTURE_FORMATS, guess_format, parse_types,  # noqa: F401
                                 read_structure)

__all__ = ["Frame", "read_dump", "count_dump_frames", "iter_run", "run_stages",
           "frame_from_atoms", "read_structure", "iter_structure_frames", "is_run_dir",
           "read_mda_trajectory", "topology_elements", "FrameSource", "open_source"]


@dataclasses.dataclass
class Frame:
    """One configuration.

    Attributes
    ----------
    cell : (3, 3) float, rows are the cell vectors a, b, c in Å (LAMMPS orientation).
    positions : (N, 3) float, Cartesian positions in Å, wrapped into the cell.
    images : (N, 3) int, image flags (zeros for a single structure).
    elements : (N,) str array, chemical symbols.
    ids : (N,) int, atom ids (sorted).
    step, time_ps, temp_K, stage : metadata; NaN / "" when unknown.
    origin : (3,) float, lower corner of the cell in Å.
    """

    cell: np.ndarray
    positions: np.ndarray
    images: np.ndarray
    elements: np.ndarray
    ids: np.ndarray
    step: int = 0
    time_ps: float = float("nan")
    temp_K: float = float("nan")
    stage: str = ""
    origin: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.positions)

    @property
    def volume(self) -> float:
        """Cell volume in Å³."""
        return float(abs(np.linalg.det(self.cell)))

    def freud_box(self):
        """The cell as a :class:`freud.box.Box` (tilts converted to freud's fractions)."""
        import freud
        c = self.cell
        lx, ly, lz = c[0, 0], c[1, 1], c[2, 2]
        return freud.box.Box(lx, ly, lz, c[1, 0] / ly, c[2, 0] / lz, c[2, 1] / lz)

    def fractional(self) -> np.ndarray:
        """Fractional coordinates in [0, 1) of every atom."""
        frac = (self.positions - self.origin) @ np.linalg.inv(self.cell)
        return frac - np.floor(frac)

    def freud_positions(self) -> np.ndarray:
        """Positions in freud's centred box convention ([-L/2, L/2)), float32-safe."""
        return (self.fractional() - 0.5) @ self.cell

    def unwrapped(self) -> np.ndarray:
        """Unwrapped Cartesian positions in Å: x + images · cell."""
        return self.positions + self.images @ self.cell

    def mask(self, element: str) -> np.ndarray:
        """Boolean mask of atoms of one element."""
        return self.elements == element

    def density_gcm3(self) -> float:
        """Mass density in g/cm³."""
        return density_gcm3(self.elements, self.volume)

    def to_atoms(self):
        """This frame as an :class:`ase.Atoms` (periodic)."""
        from ase import Atoms
        return Atoms(symbols=list(self.elements), positions=self.positions - self.origin,
                     cell=self.cell, pbc=True)


# --------------------------------------------------------------------- geometry
def frame_from_atoms(atoms, stage: str = "", temp_K: float = float("nan")) -> Frame:
    """A :class:`Frame` from an :class:`ase.Atoms` (cell rotated to LAMMPS orientation)."""
    if not np.all(atoms.pbc) or atoms.cell.rank < 3:
        raise InputError("structure is not periodic in 3D", source=atoms.info.get("source"),
                         fix="give a structure with a full 3D cell (CIF, extxyz with Lattice, LAMMPS data)")
    cell = lammps_cell(atoms.cell.array)
    frac = atoms.get_scaled_positions(wrap=True)
    return Frame(cell=cell, positions=frac @ cell, images=np.zeros((len(atoms), 3), int),
                 elements=np.array(atoms.get_chemical_symbols()),
                 ids=np.arange(1, len(atoms) + 1), stage=stage, temp_K=temp_K, time_ps=0.0)


# --------------------------------------------------------------------- dump reader
def _box_from_header(lines: list[bytes], path, lineno) -> tuple[np.ndarray, np.ndarray]:
    """Cell rows and origin from the three BOX BOUNDS lines (orthogonal or triclinic)."""
    try:
        vals = [list(map(float, ln.split())) for ln in lines]
    except ValueError:
        raise InputError("cannot parse BOX BOUNDS", source=path, where=lineno,
                         fix="the trajectory must be a LAMMPS 'dump custom' text file") from None
    if len(vals[0]) == 3:
        (xlo_b, xhi_b, xy), (ylo_b, yhi_b, xz), (zlo, zhi, yz) = vals
        xlo = xlo_b - min(0.0, xy, xz, xy + xz)
        xhi = xhi_b - max(0.0, xy, xz, xy + xz)
        ylo = ylo_b - min(0.0, yz)
        yhi = yhi_b - max(0.0, yz)
    else:
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = [v[:2] for v in vals]
        xy = xz = yz = 0.0
    return cell_from_lammps_box((xlo, ylo, zlo), (xhi, yhi, zhi), xy, xz, yz)


#: position columns of a LAMMPS dump, in order of preference: (names, scaled, unwrapped)
_POSITION_COLUMNS = ((("x", "y", "z"), False, False), (("xu", "yu", "zu"), False, True),
                     (("xs", "ys", "zs"), True, False), (("xsu", "ysu", "zsu"), True, True))
_DUMP_FIX = ("write it with LAMMPS 'dump custom' (e.g. id type element x y z ix iy iz, "
             "or id type xs ys zs with --types)")


def _dump_elements(table, cols, types: dict[int, str] | None, path, where) -> np.ndarray:
    """Element of every atom of the first parsed frame: ``element`` column, else ``type`` + map."""
    if "element" in cols:
        elements = table["element"].astype(str).to_numpy()
        from zifsim.structures.chemistry import is_element
        bad = sorted(e for e in set(elements.tolist()) if not is_element(e))
        if bad:
            raise InputError(f"the element column holds {', '.join(bad[:5])}, not chemical symbols",
                             source=path, where=where,
                             fix="dump_modify element C H N Zn (one symbol per type), or drop the column "
                                 "and give --types C,H,N,Zn")
        if types and "type" in cols:
            t = table["type"].to_numpy(int)
            clash = sorted({(int(a), e) for a, e in zip(t, elements) if types.get(int(a), e) != e})
            if clash:
                raise InputError(f"--types contradicts the element column (type {clash[0][0]} is "
                                 f"{clash[0][1]} in the dump)", source=path, where="--types",
                                 fix="drop --types (the dump names its elements) or correct it")
        return elements
    if "type" not in cols:
        raise InputError(f"dump columns {' '.join(cols)} name neither element nor type", source=path,
                         where=where, fix=_DUMP_FIX)
    if not types:
        raise InputError("the dump gives atom types but no elements", source=path, where=where,
                         fix="give the element of every type: --types C,H,N,Zn (type 1 = C, ...), "
                             "or dump the element column (dump custom ... element; dump_modify element ...)")
    t = table["type"].to_numpy(int)
    missing = sorted(set(t.tolist()) - set(types))
    if missing:
        raise InputError(f"atom type(s) {', '.join(map(str, missing))} have no element in --types "
                         f"({len(types)} given)", source=path, where="--types",
                         fix="list one element per LAMMPS type, e.g. --types C,H,N,Zn")
    lookup = np.array([types.get(k, "") for k in range(max(types) + 1)], dtype=object)
    return lookup[t].astype(str)


def read_dump(path: str | os.PathLike, every: int = 1, stage: str = "",
              types: dict[int, str] | None = None) -> Iterator[Frame]:
    """Stream frames of a LAMMPS ``dump custom`` / ``dump atom`` text file (constant memory).

    Columns in any order: positions ``x y z``, unwrapped ``xu yu zu``, scaled
    ``xs ys zs`` or scaled unwrapped ``xsu ysu zsu`` (orthogonal or triclinic
    box); ``ix iy iz`` are used when present; ``id`` sorts the atoms (file
    order without it); elements from an ``element`` column, else ``type`` +
    ``types`` ({type: element}, :func:`zifsim.structures.io.parse_types`).
    Every ``every``-th frame is parsed, the others are skipped without parsing.
    A truncated last frame (a run still writing) ends the stream quietly.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError("trajectory file not found", source=path,
                         fix="check the run directory; the stage may not have started")
    elements = None
    index = -1
    lineno = 0
    with open(path, "rb") as fh:
        while True:
            line = fh.readline()
            lineno += 1
            if not line:
                return
            if not line.startswith(b"ITEM: TIMESTEP"):
                if line.strip():
                    raise InputError(f"expected 'ITEM: TIMESTEP', got {line[:40]!r}", source=path,
                                     where=lineno, fix="the file is not a LAMMPS dump or is corrupt; " + _DUMP_FIX)
                continue
            head = [fh.readline() for _ in range(8)]
            if not head[-1]:
                return  # header cut short: the run is still writing
            try:
                step = int(head[0])
                natoms = int(head[2])
            except ValueError:
                raise InputError("cannot read the timestep / number of atoms", source=path, where=lineno + 1,
                                 fix="the dump is corrupt; " + _DUMP_FIX) from None
            box_item, box_lines, atoms_item = head[3], head[4:7], head[7]
            frame_line = lineno
            lineno += 8
            index += 1
            body = b"".join(fh.readline() for _ in range(natoms))
            n_lines = body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)
            if n_lines < natoms:
                return  # last frame truncated (run still going or killed): stop cleanly
            lineno += natoms
            if index % every:
                continue
            if not box_item.startswith(b"ITEM: BOX BOUNDS") or not atoms_item.startswith(b"ITEM: ATOMS"):
                raise InputError("missing 'ITEM: BOX BOUNDS' / 'ITEM: ATOMS'", source=path, where=frame_line + 4,
                                 fix=_DUMP_FIX)
            cell, origin = _box_from_header(box_lines, path, frame_line + 5)
            cols = atoms_item.decode(errors="replace").split()[2:]
            pos_cols, scaled, unwrapped = next(
                ((c, sc, uw) for c, sc, uw in _POSITION_COLUMNS if all(x in cols for x in c)), (None, 0, 0))
            if pos_cols is None:
                raise InputError(f"dump columns {' '.join(cols)} have no positions (x y z, xu yu zu, "
                                 "xs ys zs or xsu ysu zsu)", source=path, where=frame_line + 8, fix=_DUMP_FIX)
            has_img = all(c in cols for c in ("ix", "iy", "iz"))
            want = (["id"] if "id" in cols else []) + list(pos_cols) + (["ix", "iy", "iz"] if has_img else [])
            if elements is None:
                want += [c for c in ("element", "type") if c in cols]
            try:
                table = pd.read_csv(io.BytesIO(body), sep=r"\s+", header=None, names=cols, usecols=want,
                                    engine="c")
                pos = table[list(pos_cols)].to_numpy(float)
                ids = table["id"].to_numpy(np.int64) if "id" in cols else np.arange(1, natoms + 1)
                images = table[["ix", "iy", "iz"]].to_numpy(np.int64) if has_img else None
            except (ValueError, pd.errors.ParserError) as exc:
                raise InputError(f"malformed atom lines in the frame of step {step}: {exc}", source=path,
                                 where=frame_line + 9, fix="the dump is corrupt; " + _DUMP_FIX) from None
            if len(table) != natoms:
                return  # truncated last frame
            order = None
            if np.any(np.diff(ids) < 0):
                order = np.argsort(ids, kind="stable")
                ids, pos = ids[order], pos[order]
                images = images[order] if images is not None else None
            if elements is None:
                elements = _dump_elements(table if order is None else table.iloc[order], cols, types, path,
                                          frame_line + 8)
            if unwrapped or scaled:
                frac = pos if scaled else (pos - origin) @ np.linalg.inv(cell)
                if unwrapped:  # split into wrapped position + image flags
                    shift = np.floor(frac)
                    images, frac = shift.astype(np.int64), frac - shift
                pos = frac @ cell + origin
            if images is None:
                images = np.zeros((natoms, 3), np.int64)
            yield Frame(cell=cell, positions=pos, images=images, elements=elements, ids=ids,
                        step=step, stage=stage, origin=origin)


def count_dump_frames(path: str | os.PathLike) -> int:
    """Number of frames in a dump file, estimated from its size and the first frame (fast)."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb") as fh:
        first = fh.readline()
        if not first.startswith(b"ITEM: TIMESTEP"):
            return 0
        fh.readline(); fh.readline()
        natoms = int(fh.readline())
        for _ in range(5 + natoms):
            fh.readline()
        frame_bytes = fh.tell()
    return max(1, round(size / frame_bytes))


# --------------------------------------------------------------------- run directories
def is_run_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` looks like a zifsim run directory (has metadata.json or NN-stage/ folders)."""
    path = Path(path)
    return path.is_dir() and ((path / "metadata.json").is_file()
                              or any(path.glob("[0-9][0-9]-*/traj.lammpstrj")))


def read_run_metadata(rundir: str | os.PathLike) -> dict:
    """``RUNDIR/metadata.json`` as a dict ({} when absent); corrupt JSON is an InputError."""
    meta_path = Path(rundir) / "metadata.json"
    if not meta_path.is_file():
        return {}
    try:
        return json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", source=meta_path, where=exc.lineno,
                         fix="the run metadata is corrupt; re-run or repair the file") from None


def run_stages(rundir: str | os.PathLike) -> list[dict]:
    """Stages of a run directory in order: [{name, dir, status, direction}] (direction set later)."""
    rundir = Path(rundir)
    stages = []
    meta = read_run_metadata(rundir)
    if meta:
        for st in meta.get("stages", []):
            sdir = rundir / st.get("dir", "")
            stages.append({"name": st.get("name", sdir.name), "dir": sdir,
                           "status": st.get("status", "unknown")})
    if not stages:
        for sdir in sorted(rundir.glob("[0-9][0-9]-*")):
            if sdir.is_dir():
                stages.append({"name": sdir.name[3:], "dir": sdir, "status": "unknown"})
    if not stages:
        raise InputError("no stages found", source=rundir,
                         fix="give a run directory written by `zifsim run` (NN-<stage>/traj.lammpstrj)")
    return stages


def read_stage_thermo(stage_dir: Path):
    """The stage's thermo.csv as a DataFrame, or None when absent."""
    import pandas as pd
    path = Path(stage_dir) / "thermo.csv"
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except Exception as exc:  # pandas raises many kinds
        raise InputError(f"cannot read thermo table: {exc}", source=path,
                         fix="thermo.csv must be a comma-separated table with a header") from None
    if "step" not in table:
        raise InputError("thermo table has no 'step' column", source=path, where="header",
                         fix="columns: step,time_ps,temp_K,... (docs/architecture.md §2)")
    return table


def iter_run(rundir: str | os.PathLike, every: int = 1) -> Iterator[Frame]:
    """Stream every stage's trajectory of a run directory, frame by frame.

    ``time_ps`` and ``temp_K`` of each frame are interpolated from the stage's
    thermo.csv at the frame's step.
    """
    for st in run_stages(rundir):
        traj = st["dir"] / "traj.lammpstrj"
        if traj.is_file():
            yield from _with_thermo(read_dump(traj, every=every, stage=st["name"]), read_stage_thermo(st["dir"]))


def _with_thermo(frames: Iterator[Frame], thermo) -> Iterator[Frame]:
    """Frames with ``time_ps`` / ``temp_K`` interpolated from a stage's thermo table at their step."""
    steps = thermo["step"].to_numpy(float) if thermo is not None and len(thermo) else None
    for frame in frames:
        if steps is not None:
            for col in ("time_ps", "temp_K"):
                if col in thermo:
                    setattr(frame, col, float(np.interp(frame.step, steps, thermo[col].to_numpy(float))))
        yield frame


def count_run_frames(rundir: str | os.PathLike, every: int = 1) -> int:
    """Estimated number of frames :func:`iter_run` will yield."""
    total = 0
    for st in run_stages(rundir):
        traj = st["dir"] / "traj.lammpstrj"
        if traj.is_file():
            n = count_dump_frames(traj)
            total += (n + every - 1) // every
    return total


# --------------------------------------------------------------------- single structures
def read_p1_cif_blocks(path: str | os.PathLike):
    """Fast reader of P1 CIFs (cell + one _atom_site loop, fractional coordinates).

    Returns a list of ase.Atoms (one per data block), or None when a block is
    not plain P1 (symmetry operations other than x,y,z), so the caller falls
    back to a full CIF parser. ~50x faster than ase.io.read on such files.
    """
    import shlex
    from ase import Atoms
    from ase.geometry import cellpar_to_cell
    text = Path(path).read_text(errors="replace")
    blocks = [b for b in text.split("\ndata_") if "_atom_site_fract_x" in b]
    out = []
    for block in blocks:
        lines = [ln.strip() for ln in block.splitlines()]
        par = {}
        for ln in lines:
            for key in ("a", "b", "c"):
                if ln.startswith(f"_cell_length_{key} ") or ln.startswith(f"_cell_length_{key}\t"):
                    par[key] = float(ln.split()[1].split("(")[0])
            for key in ("alpha", "beta", "gamma"):
                if ln.startswith(f"_cell_angle_{key}"):
                    par[key] = float(ln.split()[1].split("(")[0])
        if len(par) != 6:
            return None
        ops = [ln for i, ln in enumerate(lines) if ln.strip("'\" ").replace(" ", "").lower() in ("x,y,z",)]
        if "_symmetry_equiv_pos_as_xyz" in block or "_space_group_symop_operation_xyz" in block:
            # accept only the identity operation
            sym_lines = []
            grab = False
            for ln in lines:
                if ln.startswith("_symmetry_equiv_pos_as_xyz") or ln.startswith("_space_group_symop_operation_xyz"):
                    grab = True
                    continue
                if grab:
                    if not ln or ln.startswith("_") or ln.startswith("loop_"):
                        break
                    sym_lines.append(ln)
            if len(sym_lines) != 1 or not ops:
                return None
        # the atom_site loop
        try:
            i0 = next(i for i, ln in enumerate(lines) if ln.startswith("_atom_site_fract_x"))
        except StopIteration:
            return None
        start = i0
        while start > 0 and lines[start - 1].startswith("_atom_site"):
            start -= 1
        end = i0
        while end < len(lines) and lines[end].startswith("_atom_site"):
            end += 1
        header = lines[start:end]
        cols = {h: k for k, h in enumerate(header)}
        sym_col = cols.get("_atom_site_type_symbol", cols.get("_atom_site_label"))
        symbols, frac = [], []
        for ln in lines[end:]:
            if not ln or ln.startswith("_") or ln.startswith("loop_") or ln.startswith("#"):
                break
            tok = shlex.split(ln) if ("'" in ln or '"' in ln) else ln.split()
            if len(tok) < len(header):
                return None
            sym = "".join(ch for ch in tok[sym_col] if ch.isalpha())
            sym = sym[:2] if sym[:2].capitalize() in _SYMBOLS else sym[:1]
            symbols.append(sym.capitalize())
            frac.append([float(tok[cols[f"_atom_site_fract_{c}"]].split("(")[0]) for c in "xyz"])
        cell = cellpar_to_cell([par["a"], par["b"], par["c"], par["alpha"], par["beta"], par["gamma"]])
        try:
            atoms = Atoms(symbols=symbols, scaled_positions=np.array(frac), cell=cell, pbc=True)
        except KeyError:
            return None
        out.append(atoms)
    return out or None


def _symbols():
    from ase.data import chemical_symbols
    return set(chemical_symbols[1:])


_SYMBOLS = _symbols()


def iter_structure_frames(path: str | os.PathLike, fmt: str | None = None, types=None,
                          atom_style: str | None = None) -> Iterator[Frame]:
    """Every configuration in a structure file (a multi-block CIF or extxyz gives several frames).

    ``fmt`` / ``types`` / ``atom_style`` as in :func:`zifsim.structures.io.read_structure`.
    """
    import ase.io
    path = Path(path)
    fmt = fmt or guess_format(path)
    if fmt == "cif":
        fast = read_p1_cif_blocks(path)
        if fast:
            for atoms in fast:
                yield frame_from_atoms(atoms)
            return
    if fmt in ("cif", "extxyz"):
        try:
            images = list(ase.io.iread(path, index=":", format=fmt))
        except Exception as exc:
            raise InputError(f"cannot read structure: {exc}", source=path,
                             fix="give a valid CIF or extxyz file") from None
        for atoms in images:
            if atoms.cell.rank < 3:
                raise InputError("no cell: a plain xyz file (or a LAMMPS 'dump xyz') has no box", source=path,
                                 fix="give an extxyz with a Lattice=\"...\" comment, a LAMMPS 'dump custom' "
                                     "(id type x y z) or a data file")
            yield frame_from_atoms(atoms)
        return
    yield frame_from_atoms(read_structure(path, fmt=fmt, types=types, atom_style=atom_style))


# --------------------------------------------------------------------- MDAnalysis trajectories
def topology_elements(topology, types=None, atom_style: str | None = None, source=None) -> np.ndarray:
    """Element of every atom (in id order) from a topology file: a structure zifsim reads
    (LAMMPS data of any style, CIF, extxyz) or one MDAnalysis reads (PDB, GRO, PSF, ...)."""
    if topology is None:
        raise InputError("a DCD / XTC trajectory names no elements", source=source, where="--topology",
                         fix="give --topology FILE: the LAMMPS data file the run started from (with "
                             "--types C,H,N,Zn if its Masses section names no elements), or a PDB/GRO/extxyz "
                             "of the same atoms")
    topology = Path(topology)
    if not topology.is_file():
        raise InputError("topology file not found", source=topology, where="--topology", fix="check the path")
    fmt = guess_format(topology)
    if fmt in STRUCTURE_FORMATS:
        atoms = read_structure(topology, fmt=fmt, types=types, atom_style=atom_style)
        return np.array(atoms.get_chemical_symbols())
    import MDAnalysis as mda
    try:
        u = mda.Universe(str(topology))
    except Exception as exc:
        raise InputError(f"MDAnalysis cannot read the topology: {exc}", source=topology, where="--topology",
                         fix="give a LAMMPS data file, extxyz, CIF, PDB, GRO or PSF") from None
    from zifsim.structures.chemistry import is_element
    from zifsim.structures.io import _element_from_mass
    if hasattr(u.atoms, "elements") and all(is_element(str(e).capitalize()) for e in u.atoms.elements):
        return np.array([str(e).capitalize() for e in u.atoms.elements])
    if types is not None and hasattr(u.atoms, "types"):
        tmap = parse_types(types, str(topology))
        try:
            return np.array([tmap[int(t)] for t in u.atoms.types])
        except (KeyError, ValueError):
            pass
    raise InputError("the topology names no elements", source=topology, where="--topology",
                     fix="give a topology with element symbols (PDB element column, extxyz, a data file "
                         "with Masses) or --types C,H,N,Zn for numeric atom types")


def read_mda_trajectory(path: str | os.PathLike, fmt: str, elements: np.ndarray, every: int = 1,
                        stage: str = "") -> Iterator[Frame]:
    """Stream a DCD or XTC trajectory with MDAnalysis' readers (one frame in memory).

    Positions (Å) are wrapped into the box with image flags from the wrap, so
    an unwrapped trajectory keeps its displacements; ``time_ps`` is the XTC
    time (DCD files from LAMMPS carry no reliable time: NaN).
    """
    from MDAnalysis.lib.mdamath import triclinic_vectors
    path = Path(path)
    reader = _mda_reader(path, fmt)
    try:
        if reader.n_atoms != len(elements):
            raise InputError(f"the trajectory has {reader.n_atoms} atoms, the topology {len(elements)}",
                             source=path, where="--topology", fix="give the topology of the same system")
        ids = np.arange(1, len(elements) + 1)
        for ts in reader[::every]:
            dims = ts.dimensions
            if dims is None or not np.all(np.asarray(dims[:3]) > 0):
                raise InputError(f"frame {ts.frame} has no periodic box", source=path,
                                 fix="write the trajectory with its unit cell (LAMMPS dump dcd/xtc do)")
            cell = lammps_cell(triclinic_vectors(dims).astype(float))
            frac = np.asarray(ts.positions, float) @ np.linalg.inv(cell)
            shift = np.floor(frac)
            yield Frame(cell=cell, positions=(frac - shift) @ cell, images=shift.astype(np.int64),
                        elements=elements, ids=ids, step=int(ts.data.get("step", ts.frame)),
                        time_ps=float(ts.time) if fmt == "xtc" else float("nan"), stage=stage)
    finally:
        reader.close()


def _mda_reader(path: Path, fmt: str):
    """An MDAnalysis DCD / XTC reader of ``path``; unreadable files are an InputError."""
    if fmt == "dcd":
        from MDAnalysis.coordinates.DCD import DCDReader as Reader
    elif fmt == "xtc":
        from MDAnalysis.coordinates.XTC import XTCReader as Reader
    else:
        raise InputError(f"not an MDAnalysis trajectory format: {fmt}", source=path, fix="use dcd or xtc")
    try:
        return Reader(str(path))
    except Exception as exc:
        raise InputError(f"cannot read the {fmt.upper()} file: {exc}", source=path,
                         fix=f"give an intact {fmt.upper()} trajectory (or the right --format)") from None


def count_mda_frames(path, fmt: str) -> int:
    """Number of frames of a DCD / XTC trajectory."""
    reader = _mda_reader(Path(path), fmt)
    try:
        return int(reader.n_frames)
    finally:
        reader.close()


# --------------------------------------------------------------------- any source
@dataclasses.dataclass
class FrameSource:
    """What :func:`open_source` found: ``kind`` "run" | "trajectory" | "structure",
    ``fmt`` (a format name or "run"), ``frames`` (an iterator), ``total`` (frames, or None)."""

    kind: str
    fmt: str
    frames: Iterator[Frame]
    total: int | None


def open_source(path: str | os.PathLike, fmt: str | None = None, types=None, topology=None,
                atom_style: str | None = None, every: int = 1) -> FrameSource:
    """Frames of anything ``zifsim analyse`` reads, checked before any output is written.

    ``path``: a zifsim run directory, a LAMMPS dump (zifsim's own
    ``NN-stage/traj.lammpstrj`` gets its stage's thermo), a DCD / XTC with
    ``topology``, or a structure (CIF, extxyz, LAMMPS data). ``fmt`` forces a
    format (any file name): ``run`` or one of
    :data:`zifsim.structures.io.FORMATS`. ``types`` maps LAMMPS types to
    elements; ``atom_style`` is that of a data file. The first frame is read
    here, so a file that cannot be read fails before anything is written.
    """
    path = Path(path)
    if fmt in (None, "auto", "run") and is_run_dir(path):
        frames: Iterator[Frame] = iter_run(path, every=every)
        kind, fmt, total = "run", "run", count_run_frames(path, every=every)
    else:
        if fmt == "run":
            raise InputError("not a zifsim run directory", source=path,
                             fix="give RUNDIR with metadata.json and NN-<stage>/traj.lammpstrj")
        if not path.is_file():
            raise InputError("not a run directory or structure file (nor a trajectory): no such path", source=path,
                             fix="give RUNDIR (with metadata.json / NN-stage/traj.lammpstrj), a LAMMPS dump or "
                                 "data file, a DCD/XTC with --topology, or a CIF/extxyz")
        if fmt in (None, "auto"):
            fmt = guess_format(path)
        if fmt is None:
            raise InputError("cannot tell the file format from its name or content", source=path,
                             where="--format",
                             fix=f"give --format (one of {', '.join(FORMATS)}), e.g. --format lammps-data")
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r}", source=path, where="--format",
                             fix=f"use one of run, {', '.join(FORMATS)}")
        tmap = parse_types(types, str(path)) if types is not None else None
        if fmt == "lammps-dump":
            stage, thermo = path.name, None
            if path.parent.name[:2].isdigit() and path.parent.name[2:3] == "-":  # zifsim NN-stage/
                stage, thermo = path.parent.name[3:], read_stage_thermo(path.parent)
            frames = _with_thermo(read_dump(path, every=every, stage=stage, types=tmap), thermo)
            kind, total = "trajectory", (count_dump_frames(path) + every - 1) // every
        elif fmt in ("dcd", "xtc"):
            elements = topology_elements(topology, types, atom_style, source=path)
            frames = read_mda_trajectory(path, fmt, elements, every=every, stage=path.name)
            kind, total = "trajectory", (count_mda_frames(path, fmt) + every - 1) // every
        else:
            frames = iter_structure_frames(path, fmt=fmt, types=types, atom_style=atom_style)
            kind, total = "structure", None
    first = next(frames, None)
    if first is None:
        raise InputError("no frames to analyse", source=path,
                         fix="the trajectory is empty; check that the run has started writing dumps")
    return FrameSource(kind, fmt, itertools.chain([first], frames), total)
