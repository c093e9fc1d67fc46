"""Frames: streaming reader of run directories and single structures.

A :class:`Frame` holds one configuration in the LAMMPS orientation (cell rows
``a = (lx, 0, 0)``, ``b = (xy, ly, 0)``, ``c = (xz, yz, lz)``, Å), wrapped
positions (Å), integer image flags and per-frame metadata (stage, step,
time_ps, temp_K). Frames are yielded one at a time, so memory does not grow
with trajectory length.

The dump format is the run-directory contract (docs/architecture.md §2):
``dump custom: id type element x y z ix iy iz`` sorted by id.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from zifsim.errors import InputError

__all__ = ["Frame", "read_dump", "count_dump_frames", "iter_run", "run_stages",
           "frame_from_atoms", "read_structure", "iter_structure_frames",
           "is_run_dir"]


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
        from ase.data import atomic_masses, atomic_numbers
        mass = sum(atomic_masses[atomic_numbers[e]] for e in self.elements)
        return float(mass / self.volume * 1.66053906660)

    def to_atoms(self):
        """This frame as an :class:`ase.Atoms` (periodic)."""
        from ase import Atoms
        return Atoms(symbols=list(self.elements), positions=self.positions - self.origin,
                     cell=self.cell, pbc=True)


# --------------------------------------------------------------------- geometry
def lammps_cell(cell: np.ndarray) -> np.ndarray:
    """Rotate a general cell (rows a, b, c in Å) into the LAMMPS lower-triangular form."""
    cell = np.asarray(cell, float)
    a, b, c = cell
    lx = np.linalg.norm(a)
    ahat = a / lx
    xy = b @ ahat
    ly = np.linalg.norm(np.cross(ahat, b))
    xz = c @ ahat
    yz = (b @ c - xy * xz) / ly
    lz = np.sqrt(max(c @ c - xz ** 2 - yz ** 2, 0.0))
    out = np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])
    if np.linalg.det(cell) < 0:
        raise InputError("left-handed cell", fix="reorder the cell vectors to a right-handed set")
    return out


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
    cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
    return cell, np.array([xlo, ylo, zlo])


def read_dump(path: str | os.PathLike, every: int = 1, stage: str = "") -> Iterator[Frame]:
    """Stream frames of a LAMMPS ``dump custom`` text file (constant memory).

    Needs columns ``id``, ``x y z`` (or ``xu yu zu``), and ``element`` or ``type``;
    ``ix iy iz`` are used when present. Every ``every``-th frame is parsed, the
    others are skipped without parsing.
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
                                     where=lineno, fix="the file is not a LAMMPS dump or is corrupt")
                continue
            step = int(fh.readline()); fh.readline()
            natoms = int(fh.readline())
            box_item = fh.readline()
            box_lines = [fh.readline() for _ in range(3)]
            atoms_item = fh.readline().decode().split()[2:]
            lineno += 8
            index += 1
            body = b"".join(fh.readline() for _ in range(natoms))
            n_lines = body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)
            if n_lines < natoms:
                return  # last frame truncated (run still going or killed): stop cleanly
            lineno += natoms
            if index % every:
                continue
            if not box_item.startswith(b"ITEM: BOX BOUNDS"):
                raise InputError("missing 'ITEM: BOX BOUNDS'", source=path, where=lineno - natoms - 4,
                                 fix="write the dump with LAMMPS 'dump custom'")
            cell, origin = _box_from_header(box_lines, path, lineno - natoms - 4)
            cols = atoms_item
            need_pos = ["x", "y", "z"] if "x" in cols else ["xu", "yu", "zu"]
            if not all(c in cols for c in need_pos) or "id" not in cols:
                raise InputError(f"dump columns {cols} lack id and x y z", source=path,
                                 where=lineno - natoms, fix="dump custom id type element x y z ix iy iz")
            num_cols = ["id"] + need_pos + [c for c in ("ix", "iy", "iz") if c in cols]
            table = pd.read_csv(io.BytesIO(body), sep=r"\s+", header=None, names=cols,
                                usecols=num_cols + (["element"] if elements is None and "element" in cols
                                                    else (["type"] if elements is None else [])),
                                engine="c")
            if len(table) != natoms:
                return  # truncated last frame
            ids = table["id"].to_numpy()
            order = None
            if np.any(np.diff(ids) < 0):
                order = np.argsort(ids, kind="stable")
                table = table.iloc[order]
                ids = ids[order]
            if elements is None:
                if "element" in table:
                    elements = table["element"].astype(str).to_numpy()
                else:
                    elements = np.array([f"T{t}" for t in table["type"].to_numpy()])
            pos = table[need_pos].to_numpy(float)
            if "ix" in cols:
                images = table[["ix", "iy", "iz"]].to_numpy(np.int64)
            else:
                images = np.zeros((natoms, 3), np.int64)
            if need_pos[0] == "xu":  # unwrapped coordinates: split into wrapped + images
                frac = (pos - origin) @ np.linalg.inv(cell)
                shift = np.floor(frac)
                images = shift.astype(np.int64)
                pos = pos - shift @ cell
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


def run_stages(rundir: str | os.PathLike) -> list[dict]:
    """Stages of a run directory in order: [{name, dir, status, direction}] (direction set later)."""
    rundir = Path(rundir)
    meta_path = rundir / "metadata.json"
    stages = []
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", source=meta_path, where=exc.lineno,
                             fix="the run metadata is corrupt; re-run or repair the file") from None
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
        if not traj.is_file():
            continue
        thermo = read_stage_thermo(st["dir"])
        for frame in read_dump(traj, every=every, stage=st["name"]):
            if thermo is not None and len(thermo):
                steps = thermo["step"].to_numpy(float)
                for col, attr in (("time_ps", "time_ps"), ("temp_K", "temp_K")):
                    if col in thermo:
                        setattr(frame, attr, float(np.interp(frame.step, steps, thermo[col].to_numpy(float))))
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
def read_structure(path: str | os.PathLike, index=0):
    """Read one structure (CIF, extxyz, LAMMPS data) as :class:`ase.Atoms`."""
    path = Path(path)
    if not path.is_file():
        raise InputError("structure file not found", source=path, fix="check the path")
    try:  # the structures package knows the project's CIF / LAMMPS data conventions
        from zifsim.structures.io import read_structure as _read  # type: ignore
    except ImportError:
        _read = None
    if _read is not None and index == 0:
        return _read(path)
    import ase.io
    try:
        if path.suffix in (".data", ".lmp"):
            return _read_lammps_data(path)
        return ase.io.read(path, index=index)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read structure: {exc}", source=path,
                         fix="give a CIF, extxyz or LAMMPS data file") from None


def _read_lammps_data(path: Path):
    """LAMMPS data file -> Atoms, elements from Masses comments or masses."""
    import ase.io
    from ase.data import atomic_masses, chemical_symbols
    atoms = ase.io.read(path, format="lammps-data", atom_style="charge", units="real")
    # element comments in the Masses section ("1 12.011 # C")
    types = atoms.get_array("type") if "type" in atoms.arrays else atoms.numbers
    masses = {}
    lines = path.read_text().splitlines()
    for i, ln in enumerate(lines):
        if ln.strip().startswith("Masses"):
            for row in lines[i + 2:]:
                if not row.strip():
                    break
                parts = row.split("#")
                t, m = parts[0].split()[:2]
                sym = parts[1].strip() if len(parts) > 1 else None
                masses[int(t)] = (float(m), sym)
            break
    symbols = []
    for t in types:
        m, sym = masses.get(int(t), (None, None))
        if sym not in chemical_symbols:
            if m is None:
                raise InputError(f"no mass for atom type {t}", source=path, where="Masses",
                                 fix="add a Masses section with element comments ('1 65.38 # Zn')")
            sym = chemical_symbols[int(np.argmin(np.abs(atomic_masses[1:100] - m))) + 1]
        symbols.append(sym)
    atoms.set_chemical_symbols(symbols)
    return atoms


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


def iter_structure_frames(path: str | os.PathLike) -> Iterator[Frame]:
    """Every configuration in a structure file (a multi-block CIF gives several frames)."""
    import ase.io
    path = Path(path)
    if path.suffix.lower() == ".cif":
        fast = read_p1_cif_blocks(path)
        if fast:
            for atoms in fast:
                yield frame_from_atoms(atoms)
            return
    if path.suffix.lower() in (".cif", ".extxyz", ".xyz"):
        try:
            images = ase.io.iread(path, index=":")
            for atoms in images:
                yield frame_from_atoms(atoms)
            return
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"cannot read structure: {exc}", source=path,
                             fix="give a valid CIF or extxyz file") from None
    yield frame_from_atoms(read_structure(path))
