"""Pores: largest included sphere, probe-accessible volume and pore-size distribution.

Two independent methods:

* :class:`ZeoPores` — Zeo++ through pyzeo (Voronoi network; free-sphere
  parameters Di/Df/Dif, probe-centre volume AV + NAV by Monte Carlo, PSD);
* :class:`GridPores` — a periodic, triclinic grid of the distance to the
  nearest atom surface ``s(x) = min_j |x - x_j| - R_j`` (numpy + freud), giving
  the largest included sphere (2 max s, refined off-grid), the probe-centre
  volume fraction (s > r_probe) and the probe-occupiable fraction (points
  within r_probe of a probe centre), and a distribution of local pore
  diameters.

Both use the same atomic radii (Zeo++'s defaults, :data:`ZEO_RADII`, Å).
Probe presets (radius, Å): He 1.2 (the 2.4 Å diameter probe of G17), CO2 1.65,
N2 1.82, "X24" 1.6 (theoretical void fractions of Xue et al. 2024).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from zifsim.analysis.base import as_frame
from zifsim.analysis.trajectory import Frame
from zifsim.errors import InputError

__all__ = ["PROBES", "ZEO_RADII", "probe_radius", "GridPores", "ZeoPores", "pore_summary", "write_p1_cif"]

PROBES = {"He": 1.2, "CO2": 1.65, "N2": 1.82, "X24": 1.6}
#: Zeo++ default radii (Å) of the elements of ZIFs (as read back from pyzeo)
ZEO_RADII = {"H": 1.09, "C": 1.7, "N": 1.55, "O": 1.52, "Zn": 1.39, "Cu": 1.4, "Co": 1.26,
             "Cd": 1.58, "Fe": 1.26, "Cl": 1.75, "Br": 1.85, "S": 1.8, "B": 1.92}


def probe_radius(probe) -> float:
    """Probe radius in Å from a preset name (He, CO2, N2, X24) or a number."""
    if isinstance(probe, (int, float)):
        return float(probe)
    if probe in PROBES:
        return PROBES[probe]
    try:
        return float(probe)
    except ValueError:
        raise InputError(f"unknown probe {probe!r}", where="--probe",
                         fix=f"use one of {', '.join(PROBES)} or a radius in Å") from None


def _radii(elements, radii=None) -> np.ndarray:
    table = dict(ZEO_RADII, **(radii or {}))
    missing = sorted(set(elements) - set(table))
    if missing:
        raise InputError(f"no atomic radius for {missing}", where="radii",
                         fix="pass radii={'El': Å} for these elements")
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
    """Silence C++ output (Zeo++ prints to fd 1)."""
    import sys
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class GridPores:
    """Grid-based pore analysis (independent of Zeo++).

    Parameters
    ----------
    spacing : grid spacing in Å (0.15-0.3 typical).
    radii : {element: Å} overrides of :data:`ZEO_RADII`.
    chunk : grid points per neighbour query (memory bound).

    Results after ``compute(system, probes)``: ``lis_A`` (largest included
    sphere diameter, Å), ``probe_centre_fraction`` {probe: fraction},
    ``occupiable_fraction`` {probe: fraction}, ``surface_distance`` (grid of s, Å).
    """

    def __init__(self, spacing: float = 0.2, radii: dict | None = None, chunk: int = 200_000):
        self.spacing, self.radii, self.chunk = float(spacing), radii, int(chunk)

    def _distance_to_surface(self, box, pos, rad, points) -> np.ndarray:
        """s(x) = min_j |x - x_j| - R_j (Å) over all periodic images, by a k-d tree on 27 images."""
        from scipy.spatial import cKDTree
        if self._tree is None:
            shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
            images = (pos[None, :, :] + (shifts @ self._cell)[:, None, :]).reshape(-1, 3)
            self._tree = cKDTree(images)
            self._img_rad = np.tile(rad, len(shifts))
        out = np.empty(len(points))
        r_span = rad.max() - rad.min()
        n_img = len(self._img_rad)
        for start in range(0, len(points), self.chunk):
            pts = points[start:start + self.chunk]
            k = min(12, n_img)
            while True:
                d, j = self._tree.query(pts, k=k)
                d, j = d.reshape(len(pts), k), j.reshape(len(pts), k)
                s = (d - self._img_rad[j]).min(axis=1)
                # exact when the k-th neighbour cannot beat the current minimum
                if k >= n_img or r_span == 0 or np.all(d[:, -1] - rad.max() >= s):
                    break
                k = min(2 * k, n_img)
            out[start:start + len(pts)] = s
        return out

    def compute(self, system, probes=("He",)):
        """Analyse one structure (Frame, ase.Atoms or path); returns self."""
        frame = as_frame(system)
        box = frame.freud_box()
        pos = frame.freud_positions().astype(np.float64)
        rad = _radii(frame.elements, self.radii)
        self._cell, self._tree = frame.cell, None
        lengths = np.linalg.norm(frame.cell, axis=1)
        n = np.maximum(np.ceil(lengths / self.spacing).astype(int), 4)
        self.grid_shape = tuple(n)
        f = [np.arange(k) / k for k in n]
        frac = np.stack(np.meshgrid(*f, indexing="ij"), axis=-1).reshape(-1, 3)
        points = (frac - 0.5) @ frame.cell
        s = self._distance_to_surface(box, pos, rad, points)
        self.surface_distance = s.reshape(self.grid_shape)
        # largest included sphere, refined off-grid from the best grid point
        ibest = int(np.argmax(s))
        from scipy.optimize import minimize
        fun = lambda x: -self._distance_to_surface(box, pos, rad, x[None, :])[0]  # noqa: E731
        res = minimize(fun, points[ibest], method="Nelder-Mead",
                       options={"xatol": 1e-4, "fatol": 1e-6, "initial_simplex": points[ibest] + np.vstack(
                           [np.zeros(3), np.eye(3) * self.spacing])})
        self.lis_A = 2.0 * max(float(-res.fun), float(s[ibest]))
        self.lis_grid_A = 2.0 * float(s[ibest])
        self.probe_centre_fraction, self.occupiable_fraction = {}, {}
        for probe in probes:
            rp = probe_radius(probe)
            centres = s > rp
            self.probe_centre_fraction[str(probe)] = float(centres.mean())
            if not centres.any():
                self.occupiable_fraction[str(probe)] = 0.0
                continue
            occ = self._dilate(centres.reshape(self.grid_shape), frame.cell, rp)
            self.occupiable_fraction[str(probe)] = float(occ.mean())
        self.void_fraction = float((s > 0).mean())
        return self

    @staticmethod
    def _dilate(mask: np.ndarray, cell: np.ndarray, radius: float) -> np.ndarray:
        """Periodic dilation of a grid mask by a ball of ``radius`` Å (FFT convolution)."""
        n = np.array(mask.shape)
        recip = np.linalg.inv(cell).T  # rows: reciprocal vectors (1/Å)
        ext = np.ceil(radius * np.linalg.norm(recip, axis=1) * n).astype(int)
        rng = [np.arange(-e, e + 1) for e in ext]
        off = np.stack(np.meshgrid(*rng, indexing="ij"), axis=-1).reshape(-1, 3)
        inside = np.linalg.norm((off / n) @ cell, axis=1) <= radius
        kernel = np.zeros(mask.shape)
        o = off[inside] % n
        np.add.at(kernel, (o[:, 0], o[:, 1], o[:, 2]), 1.0)
        conv = np.fft.irfftn(np.fft.rfftn(mask.astype(float)) * np.fft.rfftn(kernel), s=mask.shape)
        return (conv > 0.5).ravel()

    def psd(self, bin_A: float = 0.1):
        """Geometric pore-size distribution (Gelb & Gubbins): (diameter_A, fraction) per bin.

        The diameter of a void point is that of the largest sphere that lies in
        the void and contains it. The void fraction covered by spheres of radius
        ≥ R equals the dilation of {s ≥ R} by R (s is 1-Lipschitz), i.e. the
        probe-occupiable volume of a probe of radius R, so the cumulative
        distribution is computed exactly on the grid by periodic FFT dilations.
        """
        s = self.surface_distance
        radii = np.arange(bin_A / 2, self.lis_A / 2 + bin_A, bin_A / 2)
        covered = np.array([self._dilate(s >= r, self._cell, r).mean() if (s >= r).any() else 0.0
                            for r in radii])
        covered = np.minimum.accumulate(covered)  # non-increasing in R
        diam = 2 * radii
        # normalise by the covered void at the smallest radius (grid points within one
        # spacing of a surface are missed by the dilation; void_fraction keeps them)
        frac = -np.diff(np.append(covered, 0.0)) / max(covered[0], 1e-12)
        return diam, frac

class ZeoPores:
    """Zeo++ (pyzeo) pore analysis of one structure.

    Results after ``compute(system, probes)``: ``di_A``, ``df_A``, ``dif_A``
    (largest included / free / included-along-free-path sphere diameters, Å),
    ``probe_centre_fraction`` {probe: AV + NAV fraction}, ``accessible_fraction``
    {probe: AV fraction (channels only)}, ``psd`` (diameter_A, fraction) arrays.
    """

    def __init__(self, mc_samples: int = 5000, high_accuracy: bool = False):
        self.mc_samples, self.high_accuracy = int(mc_samples), high_accuracy

    def compute(self, system, probes=("He",), psd: bool = True):
        """Analyse one structure (Frame, ase.Atoms or path); returns self."""
        try:
            from pyzeo import AtomNetwork, calc_pore_size_distribution, volume
        except ImportError as exc:
            raise InputError(f"pyzeo not available: {exc}", fix="pip install pyzeo") from None
        frame = as_frame(system)
        missing = sorted(set(frame.elements) - set(ZEO_RADII))
        if missing:
            raise InputError(f"Zeo++ radii unknown for {missing}", fix="extend ZEO_RADII")
        with tempfile.TemporaryDirectory(prefix="zifsim-zeo-") as tmp:
            cif = Path(tmp) / "frame.cif"
            write_p1_cif(frame, cif)
            with _quiet_stdout():
                net = AtomNetwork.read_from_CIF(str(cif))
                res = Path(tmp) / "frame.res"
                net.calculate_free_sphere_parameters(str(res).encode())
                self.di_A, self.df_A, self.dif_A = map(float, res.read_text().split()[1:4])
                self.probe_centre_fraction, self.accessible_fraction = {}, {}
                for probe in probes:
                    rp = probe_radius(probe)
                    text = volume(net, rp, rp, self.mc_samples)
                    text = text.decode() if isinstance(text, bytes) else str(text)
                    tok = text.split()
                    av = float(tok[tok.index("AV_Volume_fraction:") + 1])
                    nav = float(tok[tok.index("NAV_Volume_fraction:") + 1])
                    self.accessible_fraction[str(probe)] = av
                    self.probe_centre_fraction[str(probe)] = av + nav
                if psd:
                    hist = Path(tmp) / "frame.psd"
                    calc_pore_size_distribution(net, 0.0, 0.0, self.mc_samples, str(hist).encode(),
                                                points_file=b"", node_radii_file=b"", sphere_dist_file=b"")
                    rows = [ln.split() for ln in hist.read_text().splitlines()[11:] if ln.strip()]
                    arr = np.array(rows, float) if rows else np.zeros((0, 4))
                    total = arr[:, 1].sum() if len(arr) else 0
                    keep = arr[:, 1] > 0 if len(arr) else []
                    last = np.flatnonzero(keep).max() + 2 if total else 1
                    self.psd = (arr[:last, 0] + 0.05, arr[:last, 1] / max(total, 1))
        return self


def pore_summary(frames: dict, probe="He", out=None, title="", spacing: float = 0.3, psd_bin_A: float = 0.2,
                 zeo_psd: bool = False) -> dict:
    """Zeo++ and grid pore results for named frames ({label: Frame}); writes pores.json, psd.csv, psd.png."""
    import pandas as pd
    from zifsim.analysis.plots import plot_psd
    from zifsim.fileio import atomic_open, write_json
    probes = [probe] + [p for p in ("He", "CO2", "N2", "X24") if p != probe]
    result = {"probe_radii_A": {str(p): probe_radius(p) for p in probes},
              "note": "grid: probe_centre_fraction = volume reachable by the probe centre (Zeo++ AV+NAV); "
                      "occupiable_fraction = volume inside probe spheres. The PSD of pyzeo 0.2.0 extends "
                      "beyond its own Di (seen on a simple cubic lattice); use the grid PSD."}
    psd_rows = []
    for label, frame in frames.items():
        entry = {}
        try:
            z = ZeoPores().compute(frame, probes, psd=zeo_psd)
            entry["zeo"] = {"Di_A": z.di_A, "Df_A": z.df_A, "Dif_A": z.dif_A,
                            "probe_centre_fraction": z.probe_centre_fraction,
                            "accessible_fraction": z.accessible_fraction}
            for d, f in zip(*(z.psd if zeo_psd else ((), ()))):
                psd_rows.append({"frame": label, "method": f"zeo++ via pyzeo ({label})", "diameter_A": d,
                                 "fraction": f})
        except InputError as exc:
            entry["zeo"] = {"error": str(exc)}
        g = GridPores(spacing=spacing).compute(frame, probes)
        entry["grid"] = {"Di_A": g.lis_A, "spacing_A": g.spacing, "void_fraction": g.void_fraction,
                         "probe_centre_fraction": g.probe_centre_fraction,
                         "occupiable_fraction": g.occupiable_fraction}
        d, f = g.psd(bin_A=psd_bin_A)
        psd_rows += [{"frame": label, "method": f"grid, Gelb-Gubbins ({label})", "diameter_A": a, "fraction": b}
                     for a, b in zip(d, f)]
        result[label] = entry
    if out is not None:
        out = Path(out)
        write_json(out / "pores.json", result)
        table = pd.DataFrame(psd_rows, columns=["frame", "method", "diameter_A", "fraction"])
        with atomic_open(out / "psd.csv") as fh:
            table.to_csv(fh, index=False, float_format="%.6g")
        if len(table):
            plot_psd(table, out / "psd.png", title)
    return result
