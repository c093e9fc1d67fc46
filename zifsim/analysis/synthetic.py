"""Synthetic run directories in the contract format (docs/architecture.md §2), for tests and benchmarks.

A crystal is displaced by Gaussian noise whose amplitude grows with a
temperature ramp; a fraction of atoms is also moved by whole cells so image
flags are exercised. Nothing here is physics: it is a controlled input.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from zifsim.analysis.trajectory import frame_from_atoms
from zifsim.fileio import atomic_open, write_json

__all__ = ["write_dump_frame", "write_synthetic_run", "zif4_crystal"]

THERMO_COLUMNS = ["step", "time_ps", "temp_K", "press_bar", "volume_A3", "density_gcm3", "pe_eV",
                  "enthalpy_eV", "lx_A", "ly_A", "lz_A", "xy_A", "xz_A", "yz_A"]


def write_dump_frame(fh, step: int, cell: np.ndarray, positions: np.ndarray, images: np.ndarray,
                     elements: np.ndarray, type_of: dict) -> None:
    """Append one frame (dump custom id type element x y z ix iy iz, triclinic header) to ``fh``."""
    lx, ly, lz = cell[0, 0], cell[1, 1], cell[2, 2]
    xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
    xlo_b = min(0.0, xy, xz, xy + xz)
    xhi_b = lx + max(0.0, xy, xz, xy + xz)
    ylo_b, yhi_b = min(0.0, yz), ly + max(0.0, yz)
    n = len(positions)
    fh.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n}\n"
             f"ITEM: BOX BOUNDS xy xz yz pp pp pp\n{xlo_b:.6f} {xhi_b:.6f} {xy:.6f}\n"
             f"{ylo_b:.6f} {yhi_b:.6f} {xz:.6f}\n0.000000 {lz:.6f} {yz:.6f}\n"
             "ITEM: ATOMS id type element x y z ix iy iz\n")
    types = np.array([type_of[e] for e in elements])
    ids = np.arange(1, n + 1)
    lines = [f"{i} {t} {e} {x:.5f} {y:.5f} {z:.5f} {a} {b} {c}\n"
             for i, t, e, (x, y, z), (a, b, c) in zip(ids, types, elements, positions, images)]
    fh.write("".join(lines))


def write_synthetic_run(rundir, atoms, stages, frames_per_stage: int = 20, dump_every: int = 100,
                        sigma_per_sqrtK: float = 0.01, seed: int = 0, drift_A_per_frame: float = 0.0,
                        jumps: bool = True) -> Path:
    """Write a run directory with Gaussian-displaced frames of ``atoms``.

    ``stages`` is a list of (name, T_start_K, T_end_K). Each frame's RMS
    displacement per Cartesian component is ``sigma_per_sqrtK * sqrt(T)`` Å
    about the lattice site (harmonic-like), plus an optional rigid drift.
    """
    rng = np.random.default_rng(seed)
    rundir = Path(rundir)
    base = frame_from_atoms(atoms)
    cell = base.cell
    elements = base.elements
    type_of = {e: i + 1 for i, e in enumerate(sorted(set(elements)))}
    ref = base.positions
    n = len(ref)
    step = 0
    time_ps = 0.0
    meta_stages, all_thermo = [], []
    drift = np.zeros(3)
    offset = rng.integers(-2, 3, size=(n, 3)) * (rng.random((n, 1)) < 0.1)
    for k, (name, t0, t1) in enumerate(stages):
        sdir = rundir / f"{k:02d}-{name}"
        sdir.mkdir(parents=True, exist_ok=True)
        rows = []
        with atomic_open(sdir / "traj.lammpstrj") as fh:
            for i in range(frames_per_stage):
                T = t0 + (t1 - t0) * i / max(frames_per_stage - 1, 1)
                disp = rng.normal(0.0, sigma_per_sqrtK * np.sqrt(max(T, 0.0)), size=(n, 3))
                drift += drift_A_per_frame
                unwrapped = ref + disp + drift
                if jumps:  # some atoms sit whole cells away (non-zero images to undo)
                    unwrapped = unwrapped + offset @ cell
                frac = unwrapped @ np.linalg.inv(cell)
                img = np.floor(frac).astype(int)
                wrapped = (frac - img) @ cell
                write_dump_frame(fh, step, cell, wrapped, img, elements, type_of)
                vol = abs(np.linalg.det(cell))
                rows.append([step, time_ps, T, 1.0, vol, base.density_gcm3(), -1000.0 + 0.01 * T,
                             -1000.0 + 0.01 * T, cell[0, 0], cell[1, 1], cell[2, 2],
                             cell[1, 0], cell[2, 0], cell[2, 1]])
                step += dump_every
                time_ps += dump_every * 1e-3
        with atomic_open(sdir / "thermo.csv") as fh:
            fh.write(",".join(THERMO_COLUMNS) + "\n")
            fh.writelines(",".join(f"{v:.6g}" for v in r) + "\n" for r in rows)
        write_json(sdir / "metadata.json", {"status": "complete", "name": name})
        meta_stages.append({"name": name, "dir": sdir.name, "status": "complete"})
        all_thermo += [r + [name] for r in rows]
    with atomic_open(rundir / "thermo.csv") as fh:
        fh.write(",".join(THERMO_COLUMNS + ["stage"]) + "\n")
        fh.writelines(",".join(f"{v:.6g}" if not isinstance(v, str) else v for v in r) + "\n"
                      for r in all_thermo)
    write_json(rundir / "metadata.json", {
        "zifsim": "synthetic", "status": "complete", "seed": seed, "stages": meta_stages,
        "protocol": {"name": "synthetic", "stages": [{"name": s[0], "T_start_K": s[1], "T_end_K": s[2]}
                                                     for s in stages]},
        "material": atoms.info.get("name", "synthetic")})
    return rundir


@functools.lru_cache(maxsize=1)
def _zif4_cif_path() -> str:
    try:
        from zifsim.structures.io import core_mof_cif
        return str(core_mof_cif("VEJYUF01_clean", "2019-ASR"))
    except ImportError:
        import tempfile
        from CoRE_MOF import get_CIF_structure_data
        path = Path(tempfile.gettempdir()) / "zifsim-VEJYUF01_clean.cif"
        if not path.is_file():
            with atomic_open(path, "wb") as fh:
                fh.write(get_CIF_structure_data("2019-ASR", "VEJYUF01_clean"))
        return str(path)


def zif4_crystal():
    """ZIF-4 crystal (CoRE MOF 2019-ASR VEJYUF01_clean, Zn16(im)32, 272 atoms) as ase.Atoms (cached)."""
    import warnings
    import ase.io
    from zifsim.analysis.trajectory import read_p1_cif_blocks
    blocks = read_p1_cif_blocks(_zif4_cif_path())
    if blocks:
        atoms = blocks[0]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            atoms = ase.io.read(_zif4_cif_path())
    atoms.info["name"] = "ZIF-4"
    return atoms
