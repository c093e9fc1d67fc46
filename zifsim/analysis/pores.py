"""Pores as the porous-materials field defines them (hard-sphere model of the framework).

Every atom is a hard sphere of radius ``R_j`` (one of :data:`RADII_SETS`, Å); a
spherical probe of radius ``r`` (Å, :data:`PROBES`) explores the rest. With the
distance from a point x to the nearest atom surface, ``s(x) = min_j |x - x_j| - R_j``:

===========================  ===========================================================
name (key in pores.json)     definition
===========================  ===========================================================
geometric_void_fraction      volume outside every atomic sphere, s > 0 (probe 0; Ongari
                             2017 "geometric pore volume"; CoRE MOF 2019 ``AV_VF``)
probe_centre_fraction        volume the probe *centre* can reach, s >= r (Ongari 2017
                             "probe-accessible"; Zeo++ ``-volpo`` AV + NAV)
probe_occupiable_fraction    volume *covered by the probe* at those centres (union of
                             probe spheres; Ongari 2017 "probe-occupiable")
accessible / non_accessible  split of the two above: part connected to a channel that
                             percolates through the periodic cell (Zeo++ AV) and part in
                             isolated pockets (Zeo++ NAV)
LCD_A (Di)                   largest cavity diameter: largest included sphere, 2 max s
PLD_A (Df)                   pore-limiting diameter: largest free sphere that percolates
LFPD_A (Dif)                 largest included sphere along that free-sphere path
ASA / NASA (m2/g, m2/cm3)    surface traced by the probe centre on the expanded spheres
                             R_j + r, accessible (ASA) and in pockets (NASA); Zeo++ -sa
===========================  ===========================================================

Two implementations: :class:`GridPores` (exact sphere geometry on a periodic
triclinic grid, one k-d tree per radius, percolation by periodic union-find,
FFT dilations; the default, fast on 10 000-atom glass cells) and
:class:`ZeoPores` (Zeo++ through pyzeo; Voronoi network). The CoRE MOF 2019
settings (Zeo++ defaults radii, ``-ha``; ASA/NASA with channel and probe
radius 1.655 Å; AV_VF with probe 0) are reproduced by :func:`core_mof_2019_properties`.
:func:`porosity` / :func:`he_porosity` give one number with a named definition.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from zifsim.analysis.base import as_frame
from zifsim.analysis.trajectory import Frame
from zifsim.errors import InputError

log = logging.getLogger(__name__)

__all__ = ["PROBES", "RADII_SETS", "ZEO_RADII", "DEFINITIONS", "probe_radius", "radii_table",
           "GridPores", "ZeoPores", "porosity", "he_porosity", "core_mof_2019_properties",
           "pore_summary", "write_p1_cif"]

#: probe radii (Å). He 1.2: the 2.4 Å diameter probe of Gaillac 2017 (G17); N2-CoRE 1.655:
#: channel and probe radius of the CoRE MOF 2019 ASA/NASA (inferred from its table: ASA > 0
#: exactly for PLD > 3.31 Å); N2 1.82 (kinetic diameter 3.64 Å); X24 1.6 (theoretical void
#: fractions of Xue et al. 2024); point 0 (geometric void).
PROBES = {"He": 1.2, "CO2": 1.65, "N2": 1.82, "N2-CoRE": 1.655, "X24": 1.6, "point": 0.0}

#: Zeo++ 0.3 default radii (Å), as pyzeo 0.2.0 assigns them (``lookupRadius``): the CCDC
#: set (Bondi 1964 van der Waals radii, H 1.09 Å after Rowland & Taylor 1996, 2.00 Å for
#: elements without a Bondi radius, e.g. Co, Fe, B). Extend with ``radii={...}``.
ZEO_RADII = {"H": 1.09, "C": 1.7, "N": 1.55, "O": 1.52, "F": 1.47, "Cl": 1.75, "Br": 1.85, "I": 1.98,
             "S": 1.8, "P": 1.8, "B": 2.0, "Si": 2.1, "Zn": 1.39, "Cu": 1.4, "Co": 2.0, "Cd": 1.58,
             "Fe": 2.0, "Ni": 1.63, "Mn": 2.0, "Mg": 1.73, "Al": 2.0, "Zr": 2.0, "Ti": 2.0, "Cr": 2.0,
             "V": 2.0, "Ca": 2.0, "Na": 2.27, "K": 2.75, "Li": 1.82, "Ag": 1.72, "In": 1.93, "Ga": 1.87,
             "Y": 2.0, "La": 2.0, "Ce": 2.0, "Eu": 2.0, "Tb": 2.0, "Gd": 2.0, "Dy": 2.0, "Er": 2.0,
             "Yb": 2.0, "Pb": 2.02, "Sr": 2.0, "Ba": 2.0, "Mo": 2.0, "W": 2.0, "Hg": 1.55, "Sn": 2.17,
             "Bi": 2.0, "Sc": 2.0, "Nd": 2.0, "Pr": 2.0, "Sm": 2.0, "Ho": 2.0, "Tm": 2.0, "Lu": 2.0,
             "U": 1.86, "Au": 1.66, "Pt": 1.72, "Pd": 1.63, "Rh": 2.0, "Ru": 2.0, "Ir": 2.0, "Re": 2.0,
             "Se": 1.9, "Te": 2.06, "As": 1.85, "Sb": 2.0, "Ge": 2.0, "Tl": 1.96, "Cs": 2.0, "Rb": 2.0,
             "Be": 2.0, "Th": 2.0, "Nb": 2.0, "Hf": 2.0, "Ta": 2.0, "Os": 2.0}

#: UFF radii (Å): sigma/2 of the UFF Lennard-Jones parameters (Rappe et al. 1992,
#: sigma = x_i / 2^(1/6)), the convention of PoreBlazer / RASPA-style geometric analyses.
UFF_RADII = {"H": 1.2855, "C": 1.7155, "N": 1.6305, "O": 1.559, "Zn": 1.231, "Cu": 1.557, "Co": 1.2795,
             "Cd": 1.2685, "Fe": 1.297, "Cl": 1.758, "Br": 1.866, "S": 1.7975, "B": 1.819}

#: selectable radii sets; "ccdc" is the same table as "zeo++" (Zeo++'s defaults are CCDC's)
RADII_SETS = {"zeo++": ZEO_RADII, "ccdc": ZEO_RADII, "uff": UFF_RADII}

#: the definitions recorded in pores.json (see the module docstring)
DEFINITIONS = {
    "geometric_void_fraction": "volume fraction outside every atomic sphere (probe radius 0); "
                               "Ongari et al., Langmuir 2017, 33, 14529: geometric pore volume; CoRE MOF 2019 AV_VF",
    "probe_centre_fraction": "volume fraction where the probe centre fits (distance to every atom surface >= r); "
                             "Ongari 2017 probe-accessible volume; Zeo++ AV + NAV",
    "probe_occupiable_fraction": "volume fraction covered by probe spheres at those centres; "
                                 "Ongari 2017 probe-occupiable volume",
    "accessible": "part connected to a channel percolating through the periodic cell (Zeo++ AV / ASA)",
    "non_accessible": "part in isolated pockets (Zeo++ NAV / NASA)",
    "LCD_A": "largest cavity diameter = largest included sphere Di (Å)",
    "PLD_A": "pore-limiting diameter = largest free sphere Df that percolates (Å)",
    "LFPD_A": "largest included sphere along the free-sphere path Dif (Å)",
    "ASA": "surface traced by the probe centre on spheres R_j + r not inside any other; accessible part "
           "(m2/g, m2/cm3); NASA the part in pockets",
    "psd": "Gelb & Gubbins geometric PSD: a void point belongs to the largest void sphere containing it",
}


def probe_radius(probe) -> float:
    """Probe radius in Å from a preset name (:data:`PROBES`) or a number."""
    if isinstance(probe, (int, float)):
        return float(probe)
    if probe in PROBES:
        return PROBES[probe]
    try:
        return float(probe)
    except ValueError:
        raise InputError(f"unknown probe {probe!r}", where="--probe",
                         fix=f"use one of {', '.join(PROBES)} or a radius in Å") from None


def radii_table(radii="zeo++") -> dict:
    """{element: Å} for a radii-set name of :data:`RADII_SETS` or a dict (overrides on Zeo++'s)."""
    if isinstance(radii, dict):
        return dict(ZEO_RADII, **radii)
    if radii is None:
        return dict(ZEO_RADII)
    if radii not in RADII_SETS:
        raise InputError(f"unknown radii set {radii!r}", where="pores.radii",
                         fix=f"use one of {', '.join(RADII_SETS)}")
    return dict(RADII_SETS[radii])


def _radii(elements, radii="zeo++") -> np.ndarray:
    table = radii_table(radii)
    missing = sorted(set(elements) - set(table))
    if missing:
        raise InputError(f"no atomic radius for {missing} in radii set {radii if isinstance(radii, str) else 'custom'}",
                         where="pores.radii", fix="pass radii={'El': Å} for these elements or choose another set")
    return np.array([table[e] for e in elements])


def write_p1_cif(frame: Frame, path) -> None:
    """Minimal P1 CIF (cell parameters + fractional coordinates) that Zeo++ reads."""
    from ase.geometry import cell_to_cellpar
    a, b, c, al, be, ga = cell_to_cellpar(frame.cell)
    frac = frame.fractional()
    lines = ["data_zifsim", f"_cell_length_a {a:.6f}", f"_cell_length_b {b:.6f}", f"_cell_length_c {c:.6f}",
             f"_cell_angle_alpha {al:.6f}", f"_cell_angle_beta {be:.6f}", f"_cell_angle_gamma {ga:.6f}",
             "_symmetry_space_group_name_H-M 'P 1'", "_symmetry_Int_Tables_number 1",
             "loop_", "_symmetry_equiv_pos_as_xyz", "x,y,z",
             "loop_", "_atom_site_label", "_atom_site_type_symbol",
             "_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z"]
    lines += [f"{e}{i + 1} {e} {x:.6f} {y:.6f} {z:.6f}" for i, (e, (x, y, z)) in enumerate(zip(frame.elements, frac))]
    Path(path).write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def _quiet_stdout():
    """Silence C++ output (Zeo++ prints to fd 1 and 2)."""
    import sys
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


#: the 27 offsets (-1, 0, 1)^3: periodic images of a cell, neighbours of a grid point
_OFFSETS27 = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])


class _Progress:
    """Timed progress lines on the zifsim logger (INFO) for long pore analyses."""

    def __init__(self, label: str, enabled: bool):
        self.label, self.enabled, self.t0 = label, enabled, time.perf_counter()

    def __call__(self, msg: str):
        if self.enabled:
            log.info("pores %s: %s (%.1f s)", self.label, msg, time.perf_counter() - self.t0)


# --------------------------------------------------------------------------- geometry kernels
class SurfaceDistance:
    """s(x) = min_j |x - x_j| - R_j (Å) in a periodic cell, exactly.

    One k-d tree per distinct radius (nearest centre of equal spheres = nearest
    surface). The trees hold the atoms plus their periodic images within ``skin`` Å
    of the cell (all 26 neighbour images for small cells); a query is k = 1 per radius,
    and points whose nearest atom could lie beyond the skin are redone on all 27 images.
    """

    def __init__(self, cell: np.ndarray, frac: np.ndarray, rad: np.ndarray, skin: float = 8.0):
        from scipy.spatial import cKDTree
        self.cell = np.asarray(cell, float)
        self.inv = np.linalg.inv(self.cell)
        shifts = _OFFSETS27.astype(float)
        widths = abs(np.linalg.det(self.cell)) / np.linalg.norm(np.cross(self.cell[[1, 2, 0]], self.cell[[2, 0, 1]]),
                                                                 axis=1)
        fskin = skin / widths                      # skin in fractional units per axis
        self.skin = float(skin) if np.all(fskin < 1) else np.inf
        self.groups, self.full = [], []
        for R in np.unique(rad):
            f = frac[rad == R]
            img = (f[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
            self.full.append((float(R), img @ self.cell))
            if np.isfinite(self.skin):
                near = np.all((img > -fskin) & (img < 1 + fskin), axis=1)
                img = img[near]
            self.groups.append((float(R), cKDTree(img @ self.cell)))
        self._full_trees = None
        self.r_max = float(rad.max())

    def __call__(self, points: np.ndarray) -> np.ndarray:
        f = points @ self.inv
        points = (f - np.floor(f)) @ self.cell   # s is periodic: query inside the cell
        out = np.full(len(points), np.inf)
        for R, tree in self.groups:
            d, _ = tree.query(points, k=1, distance_upper_bound=self.skin if np.isfinite(self.skin) else np.inf)
            np.minimum(out, d - R, out=out)
        if np.isfinite(self.skin):
            # exact only where the nearest surface is closer than the skin (minus the largest radius)
            redo = ~(out < self.skin - self.r_max - 1e-9)
            if redo.any():
                from scipy.spatial import cKDTree
                if self._full_trees is None:
                    self._full_trees = [(R, cKDTree(x)) for R, x in self.full]
                sub = np.full(int(redo.sum()), np.inf)
                for R, tree in self._full_trees:
                    d, _ = tree.query(points[redo], k=1)
                    np.minimum(sub, d - R, out=sub)
                out[redo] = sub
        return out


def _percolation(mask: np.ndarray):
    """Periodic 6-connected components of a boolean grid and which of them percolate.

    Returns ``(labels, percolates)``: ``labels`` (same shape, 0 = outside),
    ``percolates`` a boolean array indexed by label (True where the component wraps
    around the periodic cell, i.e. forms a channel). Components cut by the cell faces
    are joined by a union-find that carries image offsets; a component percolates
    when a loop closes with a non-zero offset.
    """
    from scipy import ndimage
    labels, n = ndimage.label(mask)
    parent = np.arange(n + 1)
    offset = np.zeros((n + 1, 3), int)   # image of a node relative to its parent
    perc = np.zeros(n + 1, bool)

    def find(x):
        path = []
        while parent[x] != x:
            path.append(x)
            x = parent[x]
        root, acc = x, np.zeros(3, int)
        for node in reversed(path):  # compress, offsets relative to the root
            acc = acc + offset[node]
            offset[node] = acc
            parent[node] = root
        return root

    def pot(x):
        r = find(x)
        return r, (offset[x] if x != r else np.zeros(3, int))

    links = []
    for axis in range(3):
        a = np.take(labels, -1, axis=axis)
        b = np.take(labels, 0, axis=axis)
        m = (a > 0) & (b > 0)
        if not m.any():
            continue
        t = np.zeros(3, int)
        t[axis] = 1
        pairs = np.unique(np.stack([a[m], b[m]], axis=1), axis=0)
        links += [(x, y, t) for x, y in pairs]
    for x, y, t in links:
        rx, px = pot(x)
        ry, py = pot(y)
        if rx == ry:
            if not np.array_equal(px + t, py):
                perc[rx] = True
        else:
            parent[ry] = rx
            offset[ry] = px + t - py
            perc[rx] |= perc[ry]
    roots = np.array([find(i) for i in range(n + 1)])
    return labels, perc[roots] & (np.arange(n + 1) > 0)


def _dilate(mask: np.ndarray, cell: np.ndarray, radius: float, fft_mask=None) -> np.ndarray:
    """Periodic dilation of a grid mask by a ball of ``radius`` Å (FFT convolution); boolean grid."""
    if radius <= 0 or not mask.any():
        return mask.copy()
    n = np.array(mask.shape)
    recip = np.linalg.inv(cell).T  # rows: reciprocal vectors (1/Å)
    ext = np.ceil(radius * np.linalg.norm(recip, axis=1) * n).astype(int)
    rng = [np.arange(-e, e + 1) for e in ext]
    off = np.stack(np.meshgrid(*rng, indexing="ij"), axis=-1).reshape(-1, 3)
    inside = np.linalg.norm((off / n) @ cell, axis=1) <= radius
    kernel = np.zeros(mask.shape, np.float32)
    o = off[inside] % n
    np.add.at(kernel, (o[:, 0], o[:, 1], o[:, 2]), 1.0)
    fm = np.fft.rfftn(mask.astype(np.float32)) if fft_mask is None else fft_mask
    conv = np.fft.irfftn(fm * np.fft.rfftn(kernel), s=mask.shape, axes=(0, 1, 2))
    return conv > 0.5


def _fibonacci_sphere(n: int) -> np.ndarray:
    """n nearly uniform unit vectors (golden-spiral), deterministic."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(1 - z * z)
    phi = np.pi * (1 + 5 ** 0.5) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


class GridPores:
    """Pore analysis of the hard-sphere model on a periodic grid (exact s(x), no Voronoi approximations).

    Parameters
    ----------
    spacing : grid spacing in Å along each cell vector (0.1-0.15 for crystals, 0.3 for glass cells).
    radii : radii-set name (:data:`RADII_SETS`) or {element: Å} overrides of Zeo++'s defaults.
    asa_points : surface points per atom for the ASA (golden spiral, deterministic).
    psd_spacing : grid spacing (Å) of the pore-size distribution (a coarser copy of the grid).
    progress : log timed progress lines (INFO) — on by default for cells over 2000 atoms.

    Results after ``compute(system, probes)``: ``lcd_A``, ``pld_A``, ``lfpd_A`` (Å);
    ``void_fraction`` (geometric); per probe in ``probes_result[name]``: probe radius,
    probe-centre and probe-occupiable fractions (total / accessible / non-accessible),
    ASA and NASA; ``density_gcm3``; ``surface_distance`` (the grid of s, Å). Kept for
    callers: ``lis_A`` (= LCD), ``probe_centre_fraction`` and ``occupiable_fraction``
    ({probe: total fraction}).
    """

    def __init__(self, spacing: float = 0.2, radii="zeo++", asa_points: int = 200, psd_spacing: float | None = None,
                 progress: bool | None = None, chunk: int = 400_000, exact_windows: bool = True,
                 max_triples: float = 1.5e6):
        self.spacing, self.radii = float(spacing), radii
        self.exact_windows, self.max_triples = exact_windows, float(max_triples)
        self._asa_points = self.asa_points = int(asa_points)
        self.chunk = int(chunk)
        self.psd_spacing = psd_spacing
        self.progress = progress

    # -- grid helpers ------------------------------------------------------------
    def _grid_points(self, start: int, stop: int) -> np.ndarray:
        n = self.grid_shape
        i, j, k = np.meshgrid(np.arange(start, stop) / n[0], np.arange(n[1]) / n[1], np.arange(n[2]) / n[2],
                              indexing="ij")
        return np.stack([i, j, k], axis=-1).reshape(-1, 3) @ self._cell

    def _s(self, points: np.ndarray) -> np.ndarray:
        out = np.empty(len(points))
        for a in range(0, len(points), self.chunk):
            out[a:a + self.chunk] = self._sd(points[a:a + self.chunk])
        return out

    def _refine_max(self, x0: np.ndarray) -> float:
        """Local maximum of s near x0 (Nelder-Mead), Å."""
        from scipy.optimize import minimize
        simplex = x0 + np.vstack([np.zeros(3), np.eye(3) * self.spacing])
        res = minimize(lambda x: -self._sd(x[None, :])[0], x0, method="Nelder-Mead",
                       options={"xatol": 1e-4, "fatol": 1e-6, "initial_simplex": simplex})
        return max(float(-res.fun), float(self._sd(x0[None, :])[0]))

    def _point(self, flat_index: int) -> np.ndarray:
        idx = np.array(np.unravel_index(flat_index, self.grid_shape))
        return (idx / np.array(self.grid_shape)) @ self._cell

    # -- main --------------------------------------------------------------------
    def compute(self, system, probes=("He",)):
        """Analyse one structure (Frame, ase.Atoms or path); returns self."""
        frame = as_frame(system)
        n_atoms = frame.n_atoms
        prog = _Progress(f"{n_atoms} atoms", self.progress if self.progress is not None else n_atoms > 2000)
        rad = _radii(frame.elements, self.radii)
        self._cell = np.asarray(frame.cell, float)
        self._sd = SurfaceDistance(self._cell, frame.fractional(), rad)
        self._atom_xyz, self._atom_rad = frame.fractional() @ self._cell, rad
        self.asa_points = self._asa_points if n_atoms <= 2000 else min(self._asa_points, 50)
        lengths = np.linalg.norm(self._cell, axis=1)
        psd_h = self.psd_spacing or max(self.spacing, 0.4 if n_atoms > 2000 else self.spacing)
        self._psd_stride = max(1, int(round(psd_h / self.spacing)))
        k = self._psd_stride
        n = np.maximum(k * np.ceil(lengths / (self.spacing * k)).astype(int), 4)
        self.grid_shape = tuple(int(v) for v in n)
        s = np.empty(self.grid_shape)
        step = max(1, self.chunk // (n[1] * n[2]))
        for a in range(0, n[0], step):
            b = min(n[0], a + step)
            s[a:b] = self._s(self._grid_points(a, b)).reshape(b - a, n[1], n[2])
        self.surface_distance = s
        prog(f"distance grid {self.grid_shape} done")
        self.volume_A3 = float(abs(np.linalg.det(self._cell)))
        self.density_gcm3 = frame.density_gcm3()
        self._mass_g = self.density_gcm3 * self.volume_A3 * 1e-24
        # geometric void and its accessible part (probe 0)
        void = s > 0
        self.void_fraction = float(void.mean())
        lab0, perc0 = _percolation(void)
        self.void_accessible_fraction = float(perc0[lab0].mean())
        # LCD: largest included sphere, refined off-grid
        self.lcd_A = self._lcd(s)
        self.lis_A = self.lcd_A
        # PLD by bisection on the percolation of {s >= r}; LFPD = largest sphere on that channel
        self.pld_A, self.lfpd_A = self._free_sphere(s)
        prog(f"LCD {self.lcd_A:.3f} Å, PLD {self.pld_A:.3f} Å")
        self.probes_result = {}
        self.probe_centre_fraction, self.occupiable_fraction = {}, {}
        for probe in probes:
            r = self.probes_result[str(probe)] = self._probe(s, probe)
            self.probe_centre_fraction[str(probe)] = r["probe_centre_fraction"]["total"]
            self.occupiable_fraction[str(probe)] = r["probe_occupiable_fraction"]["total"]
            prog(f"probe {probe} done")
        return self

    def _local_maxima(self, s: np.ndarray, count: int = 12) -> list[int]:
        """Flat indices of the ``count`` highest local maxima of the grid (periodic 3x3x3)."""
        from scipy import ndimage
        peak = (s == ndimage.maximum_filter(s, size=3, mode="wrap")) & (s > 0)
        idx = np.flatnonzero(peak)
        return list(idx[np.argsort(s.ravel()[idx])[::-1][:count]])

    def _lcd(self, s: np.ndarray) -> float:
        """Largest included sphere: the best of the highest grid maxima refined off-grid (Å)."""
        cands = self._local_maxima(s) or [int(np.argmax(s))]
        top = float(s.max())
        return 2.0 * max(self._refine_max(self._point(i)) for i in cands if s.ravel()[i] > top - self.spacing)

    def _window_saddles(self, t_min: float, t_max: float):
        """Every channel bottleneck ("window") of the hard-sphere model with t_min <= value <= t_max.

        A bottleneck is an index-2 critical point of s: the point p in the plane of three
        atoms, inside their triangle, equidistant (t) from the three surfaces (2D
        Apollonius circle), with no other atom closer. All triples of atoms closer than
        R_i + R_j + 2 t_max pairwise are solved at once (Newton). Returns (p (M, 3), t (M,),
        unit normals n (M, 3)).
        """
        from scipy.spatial import cKDTree
        xyz, rad, cell = self._atom_xyz, self._atom_rad, self._cell
        n_at = len(xyz)
        cut = 2 * rad.max() + 2 * t_max
        widths = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
        m = np.ceil(cut / widths).astype(int) + 1    # enough images for every neighbour within cut
        shifts = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in m], indexing="ij"), axis=-1).reshape(-1, 3)
        img = (xyz[None] + (shifts @ cell)[:, None]).reshape(-1, 3)
        img_rad = np.tile(rad, len(shifts))
        tree = cKDTree(img)
        counts = tree.query_ball_point(xyz, cut, return_length=True)
        if float(np.sum(counts * (counts - 1) / 2.0)) > self.max_triples:
            return None  # too many candidate windows (large pores or a large cell): grid value only
        tri = []
        for i in range(n_at):
            nb = np.array(tree.query_ball_point(xyz[i], cut))
            nb = nb[np.linalg.norm(img[nb] - xyz[i], axis=1) > 1e-6]
            nb = nb[np.linalg.norm(img[nb] - xyz[i], axis=1) <= rad[i] + img_rad[nb] + 2 * t_max]
            if len(nb) < 2:
                continue
            # each triangle from its lowest-index atom (a few are found twice: harmless)
            nb = nb[(nb % n_at) >= i]
            if len(nb) < 2:
                continue
            jj, kk = np.triu_indices(len(nb), 1)
            j, k = nb[jj], nb[kk]
            djk = np.linalg.norm(img[j] - img[k], axis=1)
            keep = djk <= img_rad[j] + img_rad[k] + 2 * t_max
            tri.append(np.column_stack([np.full(keep.sum(), i), j[keep], k[keep]]))
        if not tri:
            return np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3))
        tri = np.concatenate(tri)
        c0, c1, c2 = xyz[tri[:, 0]], img[tri[:, 1]], img[tri[:, 2]]
        R = np.column_stack([rad[tri[:, 0]], img_rad[tri[:, 1]], img_rad[tri[:, 2]]])
        e1 = c1 - c0
        e1 /= np.linalg.norm(e1, axis=1)[:, None]
        w = c2 - c0
        e2 = w - np.sum(w * e1, axis=1)[:, None] * e1
        ne2 = np.linalg.norm(e2, axis=1)
        good = ne2 > 1e-6
        e2[good] /= ne2[good][:, None]
        C = np.stack([c0, c1, c2], axis=1)                      # (M, 3, 3)
        q = np.column_stack([np.zeros(len(tri)), np.zeros(len(tri)), np.full(len(tri), t_min)])
        cen = C.mean(axis=1)
        q[:, 0] = np.sum((cen - c0) * e1, axis=1)
        q[:, 1] = np.sum((cen - c0) * e2, axis=1)
        active = np.flatnonzero(good)
        for _ in range(25):  # Newton on the still unconverged triples; 3x3 solves by Cramer's rule
            if not len(active):
                break
            qa = q[active]
            p = c0[active] + qa[:, :1] * e1[active] + qa[:, 1:2] * e2[active]
            v = p[:, None, :] - C[active]
            dist = np.maximum(np.linalg.norm(v, axis=2), 1e-12)
            F = dist - R[active] - qa[:, 2:3]
            a = np.einsum("mij,mj->mi", v, e1[active]) / dist
            b = np.einsum("mij,mj->mi", v, e2[active]) / dist
            # J = [a b -1]; det and the solution of J x = F
            det = (a[:, 0] * (b[:, 1] - b[:, 2]) - a[:, 1] * (b[:, 0] - b[:, 2]) + a[:, 2] * (b[:, 0] - b[:, 1]))
            ok = np.abs(det) > 1e-12
            det = np.where(ok, det, 1.0)
            x0 = (F[:, 0] * (b[:, 1] - b[:, 2]) - F[:, 1] * (b[:, 0] - b[:, 2]) + F[:, 2] * (b[:, 0] - b[:, 1])) / det
            x1 = (a[:, 0] * (F[:, 1] - F[:, 2]) - a[:, 1] * (F[:, 0] - F[:, 2]) + a[:, 2] * (F[:, 0] - F[:, 1])) / det
            x2 = -(a[:, 0] * (b[:, 1] * F[:, 2] - b[:, 2] * F[:, 1]) - a[:, 1] * (b[:, 0] * F[:, 2] - b[:, 2] * F[:, 0])
                   + a[:, 2] * (b[:, 0] * F[:, 1] - b[:, 1] * F[:, 0])) / det
            step = np.clip(np.column_stack([x0, x1, x2]), -1.0, 1.0)
            step[~ok] = 0.0
            q[active] = qa - step
            done = (np.abs(F).max(axis=1) < 1e-10) | ~ok | (qa[:, 2] > t_max + 2.0) | (qa[:, 2] < -2.0)
            active = active[~done]
        p = c0 + q[:, :1] * e1 + q[:, 1:2] * e2
        F = np.linalg.norm(p[:, None, :] - C, axis=2) - R - q[:, 2:3]
        # barycentric coordinates of p in the triangle
        T = np.stack([c1 - c0, c2 - c0], axis=2)                 # (M, 3, 2)
        A = np.einsum("mki,mkj->mij", T, T)
        bvec = np.einsum("mki,mk->mi", T, p - c0)
        okA = np.abs(np.linalg.det(A)) > 1e-12
        uv = np.zeros((len(tri), 2))
        uv[okA] = np.linalg.solve(A[okA], bvec[okA][:, :, None])[:, :, 0]
        inside = (uv[:, 0] > -1e-6) & (uv[:, 1] > -1e-6) & (uv.sum(axis=1) < 1 + 1e-6)
        valid = good & okA & inside & (np.abs(F).max(axis=1) < 1e-6) & (q[:, 2] >= t_min) & (q[:, 2] <= t_max)
        p, tv = p[valid], q[valid, 2]
        if len(p):
            empty = self._sd(p) >= tv - 1e-6
            p, tv = p[empty], tv[empty]
        nrm = np.cross(e1[valid], e2[valid])
        if len(p):
            nrm = nrm[empty]
        return p, tv, nrm

    def _upgrade_windows(self, s: np.ndarray, t_min: float, t_max: float):
        """Grid values near the exact window saddles: each grid point within half a cell
        diagonal of the path through a window (the normal at the saddle, then steepest ascent
        of s into the cavities on both sides) takes the exact s of the path point when larger
        (a point of its cell has that value), so the grid sees every window at its exact bottleneck. Returns the new grid, or None when
        there are too many candidate windows (:attr:`max_triples`)."""
        found = self._window_saddles(t_min, t_max)
        if found is None:
            return None
        p, tv, nrm = found
        up = s.copy()
        if not len(p):
            return up
        n = np.array(self.grid_shape)
        inv = np.linalg.inv(self._cell)
        hv = self._cell / n[:, None]                       # grid steps (rows), Å
        rho = 0.5 * np.linalg.norm(hv.sum(axis=0)) * 1.01  # half a cell diagonal
        step = 0.5 * float(np.min(np.linalg.norm(hv, axis=1)))
        # the path through each window: the axis (+-3 Å) and, on both sides, a hill climb of s
        # into the cavities (26 directions, step halved when none improves; s only grows)
        u = np.arange(-3.0, 3.0 + step, step)
        pts = [(p[:, None, :] + u[None, :, None] * nrm[:, None, :]).reshape(-1, 3)]
        dirs = _OFFSETS27[np.any(_OFFSETS27 != 0, axis=1)].astype(float)
        dirs /= np.linalg.norm(dirs, axis=1)[:, None]
        for sgn in (1.0, -1.0):
            x = p + sgn * step * nrm
            sx = self._s(x)
            h_step = np.full(len(x), step)
            for _ in range(60):
                live = h_step >= 0.1 * step
                if not live.any():
                    break
                xl = x[live]
                cand = (xl[:, None, :] + h_step[live][:, None, None] * dirs[None]).reshape(-1, 3)
                sc = self._s(cand).reshape(len(xl), len(dirs))
                j = np.argmax(sc, axis=1)
                best = sc[np.arange(len(xl)), j]
                idx = np.flatnonzero(live)
                up_ = best > sx[live] + 1e-9
                x[idx[up_]] = cand.reshape(len(xl), len(dirs), 3)[up_, j[up_]]
                sx[idx[up_]] = best[up_]
                h_step[idx[~up_]] *= 0.5
                pts.append(x[idx[up_]].copy())
        line = np.concatenate(pts)
        val = self._s(line)
        keep = val >= t_min - self.spacing
        line, val = line[keep], val[keep]
        stencil = _OFFSETS27
        f = line @ inv
        base = np.round(f * n).astype(int)
        flat = up.ravel()
        for off in stencil:
            idx = base + off
            d = np.linalg.norm(line - (idx / n) @ self._cell, axis=1)
            ok = d <= rho
            fi = np.ravel_multi_index((idx[ok] % n).T, n)
            np.maximum.at(flat, fi, val[ok])
        return up

    def _free_sphere(self, s: np.ndarray):
        """PLD (Df) and LFPD (Dif) in Å.

        Bisection on the percolation of {s >= r}: grid points miss the saddle of each
        window by up to half a spacing, so the grid values along the axes of the exact
        window bottlenecks near the grid value (:meth:`_window_saddles`) are raised to
        the exact ones (:meth:`_upgrade_windows`) and the bisection is repeated.
        """
        if not _percolation(s > 0)[1].any():
            return 0.0, 0.0

        def bisect(lo, hi, grid=s):
            best = None
            while hi - lo > 5e-4:
                mid = 0.5 * (lo + hi)
                lab, perc = _percolation(grid >= mid)
                if perc.any():
                    lo, best = mid, (lab, perc)
                else:
                    hi = mid
            return lo, best

        lo, best = bisect(0.0, float(s.max()))
        self.pld_grid_A = 2.0 * lo
        self.pld_method = "grid (lower bound within ~spacing/2 in radius)"
        up = self._upgrade_windows(s, max(0.0, lo - 0.05), lo + 3.0 * self.spacing) if self.exact_windows else None
        if up is not None:
            self.pld_method = "grid + exact window saddles"
            lo2, best2 = bisect(lo, min(float(up.max()), lo + 3.0 * self.spacing + 0.01), up)
            if best2 is not None:
                lo, best = lo2, best2
        lab, perc = best if best is not None else _percolation(s >= lo)
        masked = np.where(perc[lab], s, -np.inf)
        lfpd = 2.0 * self._refine_max(self._point(int(np.argmax(masked))))
        pld = 2.0 * lo
        return pld, min(max(lfpd, pld), self.lcd_A)

    def _probe(self, s: np.ndarray, probe) -> dict:
        rp = probe_radius(probe)
        centres = s >= rp if rp > 0 else s > 0
        lab, perc = _percolation(centres)
        acc = perc[lab]
        non = centres & ~acc
        out = {"probe_radius_A": rp,
               "probe_centre_fraction": {"total": float(centres.mean()), "accessible": float(acc.mean()),
                                         "non_accessible": float(non.mean())}}
        if rp > 0 and centres.any():
            occ_acc = _dilate(acc, self._cell, rp)
            occ_all = occ_acc | _dilate(non, self._cell, rp) if non.any() else occ_acc
            out["probe_occupiable_fraction"] = {"total": float(occ_all.mean()), "accessible": float(occ_acc.mean()),
                                                "non_accessible": float((occ_all & ~occ_acc).mean())}
        else:
            c = out["probe_centre_fraction"]
            out["probe_occupiable_fraction"] = dict(c)
        frac_to_cm3g = self.volume_A3 * 1e-24 / self._mass_g
        out["probe_centre_cm3_g"] = {k: v * frac_to_cm3g for k, v in out["probe_centre_fraction"].items()}
        out["probe_occupiable_cm3_g"] = {k: v * frac_to_cm3g for k, v in out["probe_occupiable_fraction"].items()}
        out.update(self._surface_area(rp, lab, perc))
        return out

    def _surface_area(self, rp: float, lab: np.ndarray, perc: np.ndarray) -> dict:
        """ASA / NASA: golden-spiral points on the spheres R_j + r_p, exposed if s >= r_p there."""
        units = _fibonacci_sphere(self.asa_points)
        area = {"accessible": 0.0, "non_accessible": 0.0}
        n = np.array(self.grid_shape)
        inv = np.linalg.inv(self._cell)
        for R in np.unique(self._atom_rad):
            atoms = self._atom_xyz[self._atom_rad == R]
            n_at = len(atoms)
            shell = R + rp
            for a in range(0, n_at, max(1, self.chunk // self.asa_points)):
                block = atoms[a:a + max(1, self.chunk // self.asa_points)]
                y = (block[:, None, :] + shell * units[None, :, :]).reshape(-1, 3)
                exposed = self._sd(y) >= rp - 1e-6
                if not exposed.any():
                    continue
                ye = y[exposed]
                f = ye @ inv
                f -= np.floor(f)
                base = np.floor(f * n).astype(int)
                state = np.zeros(len(ye), int)  # 0 unknown, 1 accessible, 2 pocket
                for dx in (0, 1):
                    for dy in (0, 1):
                        for dz in (0, 1):
                            idx = (base + [dx, dy, dz]) % n
                            lv = lab[idx[:, 0], idx[:, 1], idx[:, 2]]
                            state = np.where((lv > 0) & perc[lv], 1, np.where((lv > 0) & (state == 0), 2, state))
                dA = 4 * np.pi * shell ** 2 / self.asa_points
                area["accessible"] += dA * float((state == 1).sum())
                area["non_accessible"] += dA * float((state == 2).sum())
        to_m2g = 1e-20 / self._mass_g
        to_m2cm3 = 1e4 / self.volume_A3
        return {"ASA_m2_g": area["accessible"] * to_m2g, "ASA_m2_cm3": area["accessible"] * to_m2cm3,
                "NASA_m2_g": area["non_accessible"] * to_m2g, "NASA_m2_cm3": area["non_accessible"] * to_m2cm3}

    def psd(self, bin_A: float = 0.2):
        """Geometric pore-size distribution (Gelb & Gubbins): (diameter_A, fraction) per bin.

        The diameter of a void point is that of the largest sphere that lies in
        the void and contains it. The void covered by spheres of radius ≥ R is the
        dilation of {s ≥ R} by R (s is 1-Lipschitz), i.e. the probe-occupiable
        volume of a probe of radius R, computed by periodic FFT dilations on a grid
        of ``psd_spacing``. Fractions sum to 1 over the covered void; bins end at the LCD.
        """
        k = self._psd_stride
        s = self.surface_distance[::k, ::k, ::k]
        radii = np.arange(bin_A / 2, self.lcd_A / 2 + bin_A / 2, bin_A / 2)
        covered = np.array([_dilate(s >= r, self._cell, r).mean() if (s >= r).any() else 0.0 for r in radii])
        covered = np.minimum.accumulate(covered)  # non-increasing in R
        diam = 2 * radii
        frac = -np.diff(np.append(covered, 0.0)) / max(covered[0], 1e-12)
        return diam, frac

    def as_dict(self) -> dict:
        """The results as plain numbers (pores.json)."""
        return {"method": "grid (exact hard-sphere distance, periodic percolation)", "spacing_A": self.spacing,
                "grid_shape": list(self.grid_shape), "radii": self.radii if isinstance(self.radii, str) else "custom",
                "LCD_A": self.lcd_A, "PLD_A": self.pld_A, "LFPD_A": self.lfpd_A, "Di_A": self.lcd_A,
                "PLD_method": getattr(self, "pld_method", "grid"),
                "density_gcm3": self.density_gcm3, "geometric_void_fraction": self.void_fraction,
                "geometric_void_accessible_fraction": self.void_accessible_fraction,
                "probes": self.probes_result,
                # flat keys kept for older readers of pores.json
                "void_fraction": self.void_fraction,
                "probe_centre_fraction": self.probe_centre_fraction, "occupiable_fraction": self.occupiable_fraction}


class ZeoPores:
    """Zeo++ (pyzeo 0.2.0) pore analysis of one structure (Voronoi network of the atom spheres).

    ``high_accuracy`` replaces the larger spheres by clusters of small ones before the
    Voronoi decomposition (Zeo++ ``-ha``, setting ``"S10"`` = ``LOW``; ``"DEF"`` is S30 and
    takes minutes in pyzeo for a 272-atom cell). Without it Di/Df of mixed-radius
    frameworks are off by ~0.1-0.2 Å (radical Voronoi faces, see docs/pores.md).
    Results after ``compute(system, probes)``: ``di_A``, ``df_A``, ``dif_A`` (Å);
    ``probe_centre_fraction`` {probe: AV + NAV}, ``accessible_fraction`` {probe: AV};
    ``asa`` {probe: {ASA_m2_g, NASA_m2_g, ASA_m2_cm3, NASA_m2_cm3}}; ``psd`` (diameter_A, fraction).
    """

    def __init__(self, mc_samples: int = 5000, high_accuracy: bool | str = False, radii="zeo++",
                 asa_samples: int = 0):
        self.mc_samples, self.radii = int(mc_samples), radii
        self.high_accuracy = "S10" if high_accuracy is True else (high_accuracy or None)
        self.asa_samples = int(asa_samples)

    def compute(self, system, probes=("He",), psd: bool = True):
        """Analyse one structure (Frame, ase.Atoms or CIF path); returns self.

        Zeo++ runs in a fresh child process capped at ``$ZIFSIM_ZEO_MEM_MB`` (default 8000 MB
        of address space): a Zeo++ run-away or abort (seen on degenerate Voronoi cells after
        other work in the same process) then raises a clear error instead of taking the
        caller, or the machine, down with it.
        """
        try:
            import pyzeo  # noqa: F401
        except ImportError as exc:
            raise InputError(f"pyzeo not available: {exc}", fix="pip install pyzeo") from None
        with tempfile.TemporaryDirectory(prefix="zifsim-zeo-") as tmp:
            tmp = Path(tmp)
            if isinstance(system, (str, os.PathLike)) and str(system).endswith(".cif"):
                cif = Path(system)  # raw CIF, read by Zeo++ itself (CoRE MOF comparison)
                label = str(cif)
            else:
                frame = as_frame(system)
                _radii(frame.elements, self.radii)  # clear error for unknown elements
                cif = tmp / "frame.cif"
                write_p1_cif(frame, cif)
                label = getattr(system, "info", {}).get("source") or "the structure"
            job = {"cif": str(cif), "tmp": str(tmp), "radii": self.radii, "high_accuracy": self.high_accuracy,
                   "mc_samples": self.mc_samples, "asa_samples": self.asa_samples,
                   "probes": [str(p) for p in probes], "psd": bool(psd)}
            out = _run_isolated(_zeo_job, job, what=f"Zeo++ on {label}")
        self.di_A, self.df_A, self.dif_A = out["di_A"], out["df_A"], out["dif_A"]
        self.probe_centre_fraction, self.accessible_fraction = out["probe_centre"], out["accessible"]
        self.asa = out["asa"]
        if psd:
            self.psd = out["psd"]
        return self


def _zeo_network(cif: str, tmp: Path, radii, high_accuracy):
    """(AtomNetwork, high-accuracy copy or None) of a CIF, with the radii set."""
    from pyzeo import AtomNetwork, high_accuracy_atomnet
    kw = {}
    if radii not in ("zeo++", "ccdc", None):
        rad = tmp / "radii.rad"
        rad.write_text("".join(f"{e} {r}\n" for e, r in radii_table(radii).items()))
        kw["rad_file"] = str(rad).encode()
    net = AtomNetwork.read_from_CIF(cif.encode(), **kw)
    if high_accuracy:
        ha = net.copy()
        high_accuracy_atomnet(ha, high_accuracy)
        return net, ha
    return net, None


def _zeo_job(job: dict) -> dict:
    """The Zeo++ calls of :class:`ZeoPores` (run in the child process)."""
    from pyzeo import calc_pore_size_distribution, surface_area, volume
    tmp = Path(job["tmp"])
    out = {"probe_centre": {}, "accessible": {}, "asa": {}, "psd": None}
    with _quiet_stdout():
        net, ha = _zeo_network(job["cif"], tmp, job["radii"], job["high_accuracy"])
        res = tmp / "frame.res"
        (ha or net).calculate_free_sphere_parameters(str(res).encode())
        out["di_A"], out["df_A"], out["dif_A"] = map(float, res.read_text().split()[1:4])
        kw = {"high_accuracy_atmnet": ha} if ha is not None else {}
        for probe in job["probes"]:
            rp = probe_radius(probe)
            tok = _tokens(volume(net, rp, rp, job["mc_samples"], **kw))
            av, nav = tok["AV_Volume_fraction:"], tok["NAV_Volume_fraction:"]
            out["accessible"][probe] = av
            out["probe_centre"][probe] = av + nav
            if job["asa_samples"]:
                tok = _tokens(surface_area(net, rp, rp, job["asa_samples"], **kw))
                out["asa"][probe] = {"ASA_m2_g": tok["ASA_m^2/g:"], "NASA_m2_g": tok["NASA_m^2/g:"],
                                     "ASA_m2_cm3": tok["ASA_m^2/cm^3:"], "NASA_m2_cm3": tok["NASA_m^2/cm^3:"]}
        if job["psd"]:
            hist = tmp / "frame.psd"
            calc_pore_size_distribution(net, 0.0, 0.0, job["mc_samples"], str(hist).encode(),
                                        points_file=b"", node_radii_file=b"", sphere_dist_file=b"")
            out["psd"] = _read_zeo_psd(hist)
    return out


def _child_main(conn, func, arg, mem_bytes: int) -> None:
    import resource
    try:
        if mem_bytes > 0:
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        conn.send(("ok", func(arg)))
    except BaseException as exc:  # noqa: BLE001 -- reported to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _run_isolated(func, arg, what: str):
    """``func(arg)`` in a fresh (spawned) process with an address-space cap; its result.

    A crash (abort, segfault, out of memory) of the child raises :class:`ZifsimError`
    naming ``what`` and the cap, instead of ending the calling process.
    """
    import multiprocessing as mp

    from zifsim.errors import ZifsimError
    mem_mb = int(os.environ.get("ZIFSIM_ZEO_MEM_MB", "8000"))
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(child, func, arg, mem_mb * 2 ** 20), daemon=True)
    proc.start()
    child.close()
    try:
        status, value = parent.recv()
    except EOFError:
        status, value = "crash", None
    proc.join()
    if status == "ok":
        return value
    if status == "crash":
        raise ZifsimError(
            f"{what}: the Zeo++ process died (exit code {proc.exitcode}) within its "
            f"{mem_mb} MB address-space cap ($ZIFSIM_ZEO_MEM_MB)\n  fix: raise the cap for a large "
            "high-accuracy cell, or use the grid method (GridPores), which needs no Zeo++")
    raise ZifsimError(f"{what} failed: {value}")


def _tokens(text) -> dict:
    """'Key: value' pairs of a Zeo++ result line -> {key: float}."""
    text = text.decode() if isinstance(text, bytes) else str(text)
    tok = text.split()
    out = {}
    for i, t in enumerate(tok[:-1]):
        if t.endswith(":"):
            with contextlib.suppress(ValueError):
                out[t] = float(tok[i + 1])
    return out


def _read_zeo_psd(path) -> tuple[np.ndarray, np.ndarray]:
    """Zeo++ .psd histogram -> (bin centre diameter Å, fraction); bins of 0.1 Å from 0."""
    rows = [ln.split() for ln in Path(path).read_text().splitlines()[11:] if ln.strip()]
    arr = np.array(rows, float) if rows else np.zeros((0, 4))
    if not len(arr) or arr[:, 1].sum() == 0:
        return np.zeros(0), np.zeros(0)
    last = int(np.flatnonzero(arr[:, 1] > 0).max()) + 1
    return arr[:last, 0] + 0.05, arr[:last, 1] / arr[:, 1].sum()


# --------------------------------------------------------------------------- simple functions
def porosity(system, probe="He", definition: str = "probe_occupiable_fraction", part: str = "total",
             radii="zeo++", spacing: float = 0.25) -> float:
    """One porosity number (fraction, 0-1) of a structure, with a named definition.

    ``definition``: ``"probe_occupiable_fraction"`` (Ongari 2017 probe-occupiable
    volume: the volume a probe atom can occupy, the default), ``"probe_centre_fraction"``
    (probe-accessible / probe-centre volume, Zeo++ -vol AV + NAV) or
    ``"geometric_void_fraction"`` (probe 0). ``part``: ``"total"``, ``"accessible"``
    (percolating channels only) or ``"non_accessible"``. Radii: a :data:`RADII_SETS` name.
    """
    if definition not in ("probe_occupiable_fraction", "probe_centre_fraction", "geometric_void_fraction"):
        raise InputError(f"unknown porosity definition {definition!r}", where="definition",
                         fix="use probe_occupiable_fraction, probe_centre_fraction or geometric_void_fraction")
    if part not in ("total", "accessible", "non_accessible"):
        raise InputError(f"unknown part {part!r}", where="part", fix="use total, accessible or non_accessible")
    g = GridPores(spacing=spacing, radii=radii).compute(system, probes=(probe,) if definition != "geometric_void_fraction"
                                                        else ())
    if definition == "geometric_void_fraction":
        return {"total": g.void_fraction, "accessible": g.void_accessible_fraction,
                "non_accessible": g.void_fraction - g.void_accessible_fraction}[part]
    return g.probes_result[str(probe)][definition][part]


def he_porosity(system, definition: str = "probe_centre_fraction", radii="zeo++", spacing: float = 0.25) -> float:
    """He porosity (fraction, 0-1): probe radius 1.2 Å (2.4 Å diameter, as in Gaillac 2017), all pores.

    The default definition, the probe-centre volume (Zeo++ -vol AV + NAV), is the one
    compared with the He-probe porous volume of ZIF-4 (liquid 16.2 %, glass 4.8 %);
    ``definition="probe_occupiable_fraction"`` gives the Ongari 2017 probe-occupiable volume.
    """
    return porosity(system, probe="He", definition=definition, part="total", radii=radii, spacing=spacing)


def core_mof_2019_properties(system, spacing: float = 0.12, asa_points: int = 300) -> dict:
    """LCD, PLD, LFPD (Å), ASA / NASA (m²/g, m²/cm³), AV_VF, AV_cm3_g with the CoRE MOF 2019 settings.

    Settings (inferred from the CoRE MOF 2019 table, Chung et al., J. Chem. Eng. Data
    2019, 64, 5985): Zeo++ default (CCDC) radii; ASA/NASA with channel and probe radius
    1.655 Å; AV with probe radius 0 (NAV = 0 for 98 % of the entries).
    Computed with :class:`GridPores` (exact hard-sphere geometry).
    """
    g = GridPores(spacing=spacing, radii="zeo++", asa_points=asa_points, progress=False).compute(
        system, probes=("N2-CoRE", "point"))
    n2 = g.probes_result["N2-CoRE"]
    return {"LCD": g.lcd_A, "PLD": g.pld_A, "LFPD": g.lfpd_A, "ASA_m2_g": n2["ASA_m2_g"],
            "ASA_m2_cm3": n2["ASA_m2_cm3"], "NASA_m2_g": n2["NASA_m2_g"], "NASA_m2_cm3": n2["NASA_m2_cm3"],
            "AV_VF": g.void_fraction, "AV_cm3_g": g.void_fraction * g.volume_A3 * 1e-24 / g._mass_g,
            "density_gcm3": g.density_gcm3}


# --------------------------------------------------------------------------- pores.json / psd.csv
def pore_summary(frames: dict, probe="He", out=None, title="", spacing: float = 0.3, psd_bin_A: float = 0.2,
                 probes=None, radii="zeo++", zeo: str | bool = "auto", zeo_max_atoms: int = 3000,
                 zeo_psd: bool = False, progress: bool | None = None) -> dict:
    """Pore results for named frames ({label: Frame}); writes pores.json, psd.csv, psd.png into ``out``.

    Grid method always; Zeo++ (pyzeo, no ``-ha``) as a cross-check when ``zeo`` is True,
    or "auto" and the cell has at most ``zeo_max_atoms`` atoms. ``probes``: names or
    radii (default: ``probe`` then He, CO2, N2, X24). The radii set and the
    definitions are recorded in pores.json.
    """
    import pandas as pd
    from zifsim.analysis.plots import plot_psd
    from zifsim.fileio import atomic_open, write_json
    probes = list(dict.fromkeys([probe] + list(probes if probes is not None else ("He", "CO2", "N2", "X24"))))
    table = radii_table(radii)
    result = {"probe_radii_A": {str(p): probe_radius(p) for p in probes},
              "radii_set": radii if isinstance(radii, str) else "custom",
              "definitions": DEFINITIONS,
              "note": "compared with the He porous volume of G17: probe_centre_fraction total (He, all pores); "
                      "grid = exact hard-sphere geometry; zeo = Zeo++ via pyzeo without -ha (Di/Df ~0.1-0.2 Å "
                      "off for mixed radii). pyzeo 0.2.0's PSD extends past its own Di (docs/pores.md); "
                      "psd.csv holds the grid PSD."}
    psd_rows = []
    for label, frame in frames.items():
        frame = as_frame(frame)
        used = sorted(set(frame.elements))
        result.setdefault("radii_A", {}).update({e: table.get(e) for e in used})
        entry = {}
        if zeo is True or (zeo == "auto" and frame.n_atoms <= zeo_max_atoms):
            try:
                z = ZeoPores(radii=radii).compute(frame, probes, psd=zeo_psd)
                entry["zeo"] = {"Di_A": z.di_A, "Df_A": z.df_A, "Dif_A": z.dif_A,
                                "probe_centre_fraction": z.probe_centre_fraction,
                                "accessible_fraction": z.accessible_fraction}
                for d, f in zip(*(z.psd if zeo_psd else ((), ()))):
                    psd_rows.append({"frame": label, "method": f"zeo++ via pyzeo ({label})", "diameter_A": d,
                                     "fraction": f})
            except InputError as exc:
                entry["zeo"] = {"error": str(exc)}
        else:
            entry["zeo"] = {"skipped": f"{frame.n_atoms} atoms > {zeo_max_atoms} (the grid method is faster)"}
        t0 = time.perf_counter()
        g = GridPores(spacing=spacing, radii=radii, progress=progress).compute(frame, probes)
        d, f = g.psd(bin_A=psd_bin_A)
        entry["grid"] = g.as_dict()
        entry["grid"]["wall_s"] = round(time.perf_counter() - t0, 2)
        psd_rows += [{"frame": label, "method": f"grid, Gelb-Gubbins ({label})", "diameter_A": a, "fraction": b}
                     for a, b in zip(d, f)]
        result[label] = entry
    if out is not None:
        out = Path(out)
        write_json(out / "pores.json", result)
        table_df = pd.DataFrame(psd_rows, columns=["frame", "method", "diameter_A", "fraction"])
        with atomic_open(out / "psd.csv") as fh:
            table_df.to_csv(fh, index=False, float_format="%.6g")
        if len(table_df):
            plot_psd(table_df, out / "psd.png", title)
    return result
