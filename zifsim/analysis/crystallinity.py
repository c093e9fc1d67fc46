"""Crystallinity index from the X-ray Bragg intensities of a reference crystal.

What a diffractometer calls crystallinity (the Bragg-peak intensity left after milling,
relative to the pristine powder; X24 reports 36 % for ZIF-zni after 15 min) transposed
to a periodic simulation cell:

* the reference is the ideal crystal (the cell a run started from, or the registry
  cell of the material); its X-ray amplitudes ``A(G) = Σ_j f_j(|G|) exp(i G·r_j)``
  are computed on its reciprocal lattice for ``q_lo <= |G| <= q_hi`` (Å⁻¹; default
  0.3-2.0 Å⁻¹, the 2θ ≈ 4-28° window of a Cu Kα powder pattern, where ZIF Bragg
  peaks are strong and thermal Debye-Waller damping is weak), with f from
  :func:`zifsim.analysis.xray.form_factor` (xraydb);
* the coherent fraction of a reflection is ``s(G) = |A(G)|² / (Σ_j f_j)²`` (1 when
  every atom scatters in phase); the *Bragg reflections* are the strongest reference
  reflections that together carry half of ``Σ s`` in the window;
* the structure analysed is indexed on the reference lattice (its cell = U x
  reference cell with an integer matrix U: a supercell, a LAMMPS box flip or a
  rotated setting), so each reference reflection hkl has a reciprocal vector
  ``(U hkl)·B`` of the current, possibly strained cell (the reflections follow an
  affine deformation; a sheared but ordered crystal keeps its index);
* ``s`` of a random arrangement of the same atoms in the same cell is on average
  ``b = Σ f_j² / (Σ f_j)²`` (the self term, ~1/N). The index is

      X = Σ_hkl [s_cur(U hkl) - b_cur] / Σ_hkl [s_ref(hkl) - b_cur]

  1 for the reference crystal whatever the supercell (``s`` of a Bragg reflection
  does not depend on the number of cells), ~0.9-1 for the crystal at 300 K
  (Debye-Waller), and 0 on average for a structure with no memory of the lattice
  (the finite-size speckle of a glass averages to the subtracted floor b). It can be
  slightly negative for a glass (S(Q) < 1 at low Q) and is not clipped.

Limits: in a unit cell the glass floor b is ~1/N, so single glass frames scatter by
~±0.1 around 0; the index measures memory of *this* crystal's lattice, not
crystallinity in another phase (a crystal that transforms to a new polymorph scores
low).
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

from zifsim.analysis.base import FrameAnalysis, as_frame
from zifsim.analysis.trajectory import Frame
from zifsim.analysis.xray import amplitudes, form_factor, half_hkl
from zifsim.errors import InputError

__all__ = ["BraggReference", "Crystallinity", "crystallinity_index", "lattice_matrix"]


def _cell(system) -> np.ndarray:
    return np.asarray(system.cell, float)


_F_GRID = np.linspace(0.0, 8.0, 1601)   # Å⁻¹, 0.005 steps: f0 is smooth, interpolation error < 1e-4


@functools.lru_cache(maxsize=None)
def _f_table(element: str) -> np.ndarray:
    return form_factor(element, _F_GRID)   # one xraydb query per element (~0.1 s each)


def _f(element: str, q: np.ndarray) -> np.ndarray:
    if q.size and q.max() > _F_GRID[-1]:
        return form_factor(element, q)
    return np.interp(q, _F_GRID, _f_table(element))


def _coherent(frame: Frame, qvec: np.ndarray):
    """Coherent fraction s(G) and self-term floor b(G) at reciprocal vectors ``qvec`` (Å⁻¹)."""
    qlen = np.linalg.norm(qvec, axis=1)
    amp = np.zeros(len(qvec), complex)
    fsum = np.zeros(len(qvec))
    f2sum = np.zeros(len(qvec))
    elements = np.asarray(frame.elements)
    amp_e, names = amplitudes(frame, qvec)  # Σ_j∈e exp(iG·r_j), per element
    for e in names:
        n_e = int((elements == e).sum())
        f = _f(e, qlen)
        amp += f * amp_e[e]
        fsum += f * n_e
        f2sum += f * f * n_e
    return np.abs(amp) ** 2 / fsum ** 2, f2sum / fsum ** 2


def lattice_matrix(cell: np.ndarray, ref_cell: np.ndarray, tol: float = 0.3, max_index: int = 3) -> np.ndarray:
    """Integer matrix U with ``cell ≈ U @ ref_cell`` up to a strain and a rotation (rows = vectors, Å).

    (U = integer / d for a cell smaller than a reference supercell; its reflections are
    then used where they fall on the smaller cell's reciprocal lattice.)

    First ``round(cell @ inv(ref_cell))`` (same orientation: supercells, LAMMPS box flips,
    strained cells); if that is not within ``tol`` of an integer matrix, a search over
    integer rows (entries up to ``max_index``) matching the metric tensor (lengths and
    angles) within 5 %, for cells in another orientation or setting (e.g. a cubic cell
    of a crystal stored as its primitive cell). Raises InputError when none fits.
    """
    cell, ref_cell = np.asarray(cell, float), np.asarray(ref_cell, float)
    t = cell @ np.linalg.inv(ref_cell)
    u = np.rint(t)
    if np.abs(t - u).max() < tol and abs(np.linalg.det(u)) >= 0.5:
        return u.astype(int)
    for d in (2, 3, 4):   # a cell smaller than a reference supercell: U = integer / d
        u = np.rint(t * d) / d
        if np.abs(t - u).max() < tol / d and abs(np.linalg.det(u)) > 1e-6:
            return u
    rng = range(-max_index, max_index + 1)
    cand = np.array([v for v in itertools.product(rng, repeat=3) if any(v)], float)
    vecs = cand @ ref_cell
    lengths = np.linalg.norm(vecs, axis=1)
    target = np.linalg.norm(cell, axis=1)
    rows = [np.flatnonzero(np.abs(lengths - L) < 0.05 * L) for L in target]
    g_cur = cell @ cell.T
    scale = np.abs(g_cur).max()
    gram = vecs @ vecs.T                                   # dot products of candidate rows
    best, best_err = None, np.inf
    for i in rows[0]:
        js = rows[1][np.abs(gram[i, rows[1]] - g_cur[0, 1]) < 0.05 * scale]
        for j in js:
            ks = rows[2][(np.abs(gram[i, rows[2]] - g_cur[0, 2]) < 0.05 * scale)
                         & (np.abs(gram[j, rows[2]] - g_cur[1, 2]) < 0.05 * scale)]
            for k in ks:
                m = cand[[i, j, k]]
                if abs(np.linalg.det(m)) < 0.5:
                    continue
                err = np.abs(m @ ref_cell @ ref_cell.T @ m.T - g_cur).max() / scale
                if err < best_err:
                    best, best_err = m, err
    if best is None or best_err > 0.05:
        raise InputError("the structure's cell cannot be indexed on the reference crystal's lattice "
                         f"(cell lengths {np.round(target, 3).tolist()} Å)",
                         fix="give as reference the crystal the structure was made from (same cell or a supercell of it)")
    return best.astype(int)


class BraggReference:
    """The Bragg reflections of a reference crystal (ase.Atoms, Frame or path).

    Attributes: ``hkl`` (K, 3) Miller indices on the reference cell, ``q_A`` (K,) |G| in Å⁻¹,
    ``s`` (K,) coherent fractions, ``n_window`` reflections in the window, ``share``
    the fraction of Σ s in the window that the K reflections carry.
    """

    def __init__(self, crystal, q_lo: float = 0.3, q_hi: float = 2.0, share: float = 0.5):
        if not 0 < q_lo < q_hi:
            raise InputError(f"q window {q_lo}-{q_hi} Å⁻¹", fix="give 0 < q_lo < q_hi (Å⁻¹)")
        frame = as_frame(crystal)
        self.cell = _cell(frame)
        self.q_lo, self.q_hi, self.n_atoms = float(q_lo), float(q_hi), frame.n_atoms
        hkl, recip = half_hkl(self.cell, q_hi, pad=1)          # one of each Friedel pair, no 000
        q = np.linalg.norm(hkl @ recip, axis=1)
        keep = (q >= q_lo) & (q <= q_hi)
        hkl, q = hkl[keep], q[keep]
        if not len(hkl):
            raise InputError(f"no reflection of the reference in {q_lo}-{q_hi} Å⁻¹", fix="widen the Q window")
        s, _ = _coherent(frame, hkl @ recip)
        order = np.argsort(-s, kind="stable")
        csum = np.cumsum(s[order])
        k = int(np.searchsorted(csum, share * csum[-1]) + 1)
        sel = order[:k]
        self.hkl, self.q_A, self.s = hkl[sel], q[sel], s[sel]
        self.n_window, self.share = len(hkl), float(csum[k - 1] / csum[-1])


def crystallinity_index(system, reference, u: np.ndarray | None = None) -> float:
    """Crystallinity index X of one structure against a reference crystal (see the module doc).

    ``reference``: a :class:`BraggReference` or a crystal (ase.Atoms, Frame, path).
    ``u``: the lattice matrix (``cell ≈ u @ reference cell`` up to strain) when known, e.g.
    carried along a trajectory whose cell has deformed too far to be indexed on its own.
    """
    ref = reference if isinstance(reference, BraggReference) else BraggReference(reference)
    frame = as_frame(system)
    cell = _cell(frame)
    if u is None:
        u = lattice_matrix(cell, ref.cell)
    hkl = ref.hkl @ u.T
    on = np.abs(hkl - np.rint(hkl)).max(axis=1) < 1e-6     # all of them unless U is fractional
    if not on.any():
        raise InputError("no Bragg reflection of the reference falls on this cell's reciprocal lattice",
                         fix="give as reference the crystal's unit cell")
    qvec = np.rint(hkl[on]) @ (2 * np.pi * np.linalg.inv(cell).T)
    s, b = _coherent(frame, qvec)
    return float((s - b).sum() / (ref.s[on] - b).sum())


class Crystallinity(FrameAnalysis):
    """Per-frame crystallinity index, density (g/cm³) and volume (Å³) against a reference crystal.

    ``reference``: the crystal (ase.Atoms / Frame / path / :class:`BraggReference`); when
    None, the first frame fed is the reference (a run that starts from its crystal).
    Results: ``table`` (stage, step, time_ps, temp_K, density_gcm3, volume_A3,
    crystallinity) and ``by_stage`` (stage -> mean, first, last of the index); a frame whose
    cell does not index on the reference gets NaN and ``error`` says why.
    """

    def __init__(self, reference=None, q_lo: float = 0.3, q_hi: float = 2.0):
        super().__init__()
        self.q_lo, self.q_hi = q_lo, q_hi
        self._given = reference
        self.__init_state__()

    def __init_state__(self):
        super().__init_state__()
        self.reference = None
        self.reference_source = None
        self.error = None
        self._rows = []
        self._u = None
        self._prev_cell = None

    def _prepare(self, frame: Frame) -> None:
        if isinstance(self._given, BraggReference):
            self.reference, self.reference_source = self._given, "given"
        elif self._given is not None:
            self.reference = BraggReference(self._given, self.q_lo, self.q_hi)
            self.reference_source = str(self._given) if isinstance(self._given, (str, bytes)) or \
                hasattr(self._given, "__fspath__") else "given"
        else:
            self.reference = BraggReference(frame, self.q_lo, self.q_hi)
            self.reference_source = "first frame"

    def _single_frame(self, frame: Frame) -> None:
        cell = _cell(frame)
        try:
            # follow the cell from frame to frame (box flips, strains beyond what one cell can be
            # indexed with): integer basis change since the last frame times its lattice matrix
            if self._u is not None:
                t = cell @ np.linalg.inv(self._prev_cell)
                self._u = np.rint(t) @ self._u if np.abs(t - np.rint(t)).max() < 0.3 else None
            if self._u is None:
                self._u = lattice_matrix(cell, self.reference.cell)
            self._prev_cell = cell
            x = crystallinity_index(frame, self.reference, u=self._u)
        except InputError as exc:     # a cell that does not index on the reference: NaN, said once
            x = float("nan")
            self.error = self.error or str(exc)
        self._rows.append({"stage": frame.stage, "step": frame.step, "time_ps": frame.time_ps,
                           "temp_K": frame.temp_K, "density_gcm3": frame.density_gcm3(),
                           "volume_A3": frame.volume, "crystallinity": x})

    def _conclude(self) -> None:
        import pandas as pd
        cols = ["stage", "step", "time_ps", "temp_K", "density_gcm3", "volume_A3", "crystallinity"]
        self.table = pd.DataFrame(self._rows, columns=cols)
        self.by_stage = {}
        for st, g in self.table.groupby("stage", sort=False):
            self.by_stage[st] = {"mean": float(g.crystallinity.mean()), "first": float(g.crystallinity.iloc[0]),
                                 "last": float(g.crystallinity.iloc[-1]),
                                 "density_gcm3_mean": float(g.density_gcm3.mean()), "n_frames": int(len(g))}


def default_reference(path, material: str | None = None, run_mode: bool = True):
    """The crystal a crystallinity index is measured against, and where it came from.

    A run directory: the cell the run started from (``RUNDIR/input.data``, as built).
    A single structure: the registry cell of its material (``structures/<material>/cell.extxyz``)
    when there is one, else the structure itself (index 1 by construction, labelled "self").
    Returns (reference or None, label).
    """
    from pathlib import Path
    from zifsim import settings
    from zifsim.analysis.trajectory import read_structure
    path = Path(path)
    if run_mode and (path / "input.data").is_file():
        return read_structure(path / "input.data"), "run input cell (input.data)"
    if material:
        cell = settings.STRUCTURES_DIR / str(material) / "cell.extxyz"
        if cell.is_file():
            return read_structure(cell), f"registry crystal structures/{material}/cell.extxyz"
    return None, "first frame (self)"


def stage_table(cryst: "Crystallinity", coordination_table) -> "pd.DataFrame":  # noqa: F821
    """Per stage: mean density (g/cm³), crystallinity index (mean, last frame) and CN distribution."""
    import pandas as pd
    rows = []
    coord = coordination_table
    for st, g in cryst.table.groupby("stage", sort=False):
        c = coord[coord.stage == st] if coord is not None and len(coord) else None
        row = {"stage": st, "n_frames": len(g), "time_ps_end": float(g.time_ps.iloc[-1]),
               "temp_K": float(g.temp_K.mean()), "density_gcm3": float(g.density_gcm3.mean()),
               "density_gcm3_last": float(g.density_gcm3.iloc[-1]),
               "crystallinity": float(g.crystallinity.mean()),
               "crystallinity_last": float(g.crystallinity.iloc[-1])}
        if c is not None and len(c):
            row["mean_CN"] = float(c.mean_CN.mean())
            for k in range(2, 6):
                col = f"frac_CN{k}"
                if col in c:
                    row[col] = float(c[col].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def plot_crystallinity(table, path, title: str = "") -> None:
    """Density (g/cm³) and crystallinity index against time (ps), one colour per stage."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from zifsim.fileio import atomic_open
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(6.4, 5.2), sharex=True)
    for st, g in table.groupby("stage", sort=False):
        a1.plot(g.time_ps, g.density_gcm3, ".-", ms=3, label=st)
        a2.plot(g.time_ps, g.crystallinity, ".-", ms=3)
    a1.set_ylabel("density (g/cm³)")
    a2.set_ylabel("crystallinity index")
    a2.set_xlabel("time (ps)")
    a2.axhline(0, color="0.6", lw=0.8)
    a2.axhline(1, color="0.6", lw=0.8, ls=":")
    if any(str(st) for st in table.stage.unique()):
        a1.legend(fontsize=7, ncol=2)
    if title:
        a1.set_title(title)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
