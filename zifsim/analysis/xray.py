"""X-ray total scattering of a model: S(Q), F(Q), G(r), D(r) (Faber-Ziman), as a measurement sees them.

Conventions (Keen, J. Appl. Cryst. 34, 172 (2001); docs/xray.md has the full table):

* partials g_ab(r) normalised by N_a N_b / V for every pair (:class:`~zifsim.analysis.rdf.PartialRDF`);
* weights ``w_ab(Q) = (2 - δ_ab) c_a c_b f_a(Q) f_b(Q) / (Σ_a c_a f_a(Q))²`` over unordered
  pairs (``norm="fz"``, Faber-Ziman, Σ w_ab = 1), or ``/ Σ_a c_a f_a(Q)²`` (``norm="f2"``);
  f from xraydb (Waasmaier-Kirfel f0), Q in Å⁻¹;
* ``G(r) = Σ w_ab(0) [g_ab(r) - 1]`` (dimensionless; Keen's / RMCProfile's G(r));
  ``D(r) = 4π ρ r G(r)`` (Å⁻²; Keen's D(r), what PDFgetX3 calls G(r)), ρ in atoms/Å³;
* ``S_ab(Q) - 1 = 4π ρ ∫₀^rmax r² [g_ab(r) - 1] sin(Qr)/(Qr) W(r) dr``, W an optional r window;
  ``S(Q) - 1 = Σ w_ab(Q) [S_ab(Q) - 1]``; ``i(Q) = S(Q) - 1`` (Keen's / RMCProfile's F(Q),
  the ``.int01`` files); ``F(Q) = Q [S(Q) - 1]`` (Å⁻¹, PDFgetX3's F(Q));
* what a measurement with a Q range [Qmin, Qmax] and modification function M(Q)
  (1, or Lorch ``sin(πQ/Qmax)/(πQ/Qmax)``) gives in r space:
  ``D_meas(r) = (2/π) ∫_Qmin^Qmax Q [S(Q) - 1] M(Q) sin(Qr) dQ`` (:meth:`XrayPDF.measured_D`).
  The model's S(Q) for it is the transform of g_ab with NO r window (sharp cut at
  r_max), so D_meas(r) is the exact Q-range-filtered D(r) of all pairs closer than r_max and
  does not depend on r_max once r_max is a few Å beyond the r of interest (tests).

Functions of an ase.Atoms (used by zifsim.analysis.crystallinity): :func:`xray_of_atoms`,
:func:`structure_factor`, :func:`pdf_D`; independent references :func:`debye_structure_factor`
(pair sum, no histogram) and :func:`direct_structure_factor` (reciprocal lattice of the cell).
"""
from __future__ import annotations

import numpy as np

from zifsim.errors import InputError

__all__ = ["XrayPDF", "form_factor", "xray_weights", "xray_of_atoms", "structure_factor", "pdf_D",
           "debye_structure_factor", "direct_structure_factor", "first_sharp_peak", "lorch", "NORMS"]

#: weight normalisations: Faber-Ziman <f>² (default) or <f²>
NORMS = ("fz", "f2")


def form_factor(element: str, q: np.ndarray) -> np.ndarray:
    """Atomic X-ray form factor f0(Q) (electrons) from xraydb; Q in Å⁻¹ (= 4π sinθ/λ)."""
    import xraydb
    try:
        return np.asarray(xraydb.f0(element, np.asarray(q, float) / (4 * np.pi)), float)
    except Exception as exc:
        raise InputError(f"no X-ray form factor for element {element!r}: {exc}",
                         fix="check the element symbols of the structure") from None


def lorch(q: np.ndarray, q_max: float) -> np.ndarray:
    """Lorch modification function M(Q) = sin(πQ/Qmax) / (πQ/Qmax)."""
    return np.sinc(np.asarray(q, float) / q_max)


def xray_weights(concentrations: dict, pairs, q: np.ndarray, norm: str = "fz") -> dict:
    """X-ray weights w_ab(Q) of the unordered ``pairs`` (× 2 for a ≠ b); ``norm`` "fz" or "f2"."""
    if norm not in NORMS:
        raise InputError(f"unknown X-ray weight normalisation {norm!r}", where="norm",
                         fix=f"use one of {', '.join(NORMS)} (docs/xray.md)")
    q = np.atleast_1d(np.asarray(q, float))
    f = {e: form_factor(e, q) for e in concentrations}
    if norm == "fz":
        denom = sum(c * f[e] for e, c in concentrations.items()) ** 2
    else:
        denom = sum(c * f[e] ** 2 for e, c in concentrations.items())
    return {(a, b): (1 if a == b else 2) * concentrations[a] * concentrations[b] * f[a] * f[b] / denom
            for (a, b) in pairs}


class XrayPDF:
    """X-ray weighted G(r), D(r), S(Q), F(Q) from a concluded :class:`~zifsim.analysis.rdf.PartialRDF`.

    Parameters
    ----------
    q_max : Å⁻¹, upper end of S(Q) and of the transform to ``D_qmax`` (22-25 Å⁻¹ is typical
        of synchrotron PDF beamlines).
    dq : Å⁻¹ grid step (0.01 resolves the r_max ripples of the unwindowed transform up to r_max ≈ 50 Å).
    q_min : Å⁻¹, lower end of the S(Q) grid and of the ``D_qmax`` transform.
    lorch : Lorch M(Q) in the transform F(Q) -> ``D_qmax`` (a measurement's choice).
    r_window : "lorch" (sin(πr/r_max)/(πr/r_max)) or "none": r window of the displayed S(Q) / F(Q)
        (smooths the termination ripples; its Q resolution is ~π/r_max). ``D_qmax`` and
        :meth:`measured_D` never use one (see the module docstring).
    norm : "fz" (Faber-Ziman, <f>²) or "f2" (<f²>) weights.

    Results
    -------
    r, G, D, D_qmax (Å, -, Å⁻², Å⁻²); q, S, F, i (Å⁻¹, -, Å⁻¹, -); partial_S {pair: S_ab(Q)};
    weights0 {pair: w_ab(0)}; rho (atoms/Å³); table_r / table_q DataFrames.
    """

    def __init__(self, q_max: float = 24.0, dq: float = 0.01, q_min: float = 0.0, lorch: bool = False,
                 r_window: str = "lorch", norm: str = "fz"):
        self.q_max, self.dq, self.q_min, self.lorch = float(q_max), float(dq), float(q_min), bool(lorch)
        if r_window not in ("lorch", "none"):
            raise InputError(f"unknown r window {r_window!r}", where="r_window", fix="use 'lorch' or 'none'")
        if not 0 <= self.q_min < self.q_max:
            raise InputError(f"Q range {self.q_min}-{self.q_max} Å⁻¹", where="q_min/q_max",
                             fix="give 0 <= q_min < q_max")
        self.r_window, self.norm = r_window, norm

    # ------------------------------------------------------------------ pieces
    def weights(self, rdf, q: np.ndarray) -> dict:
        """Weights w_ab(Q) of every computed pair of ``rdf`` (unordered, × 2 for a ≠ b)."""
        return xray_weights(rdf.concentrations, rdf.partials, q, self.norm)

    def _r_window(self, kind: str) -> np.ndarray:
        if kind == "none":
            return np.ones_like(self.r)
        return np.sinc(self.r / self._r_cut)

    def partial_structure_factors(self, q: np.ndarray, r_window: str = "none") -> dict:
        """{pair: S_ab(Q) - 1} on ``q`` (Å⁻¹) from the stored partials (``r_window`` "none" or "lorch")."""
        q = np.asarray(q, float)
        qs = np.where(q == 0, 1e-12, q)
        kernel = np.sinc(np.outer(qs, self.r) / np.pi)  # sin(Qr)/(Qr)
        win = self._r_window(r_window)
        return {p: 4 * np.pi * self.rho * kernel @ (self.r ** 2 * (g - 1.0) * win) * self._dr
                for p, g in self._partials.items()}

    def s_minus_1(self, q: np.ndarray, r_window: str = "none") -> np.ndarray:
        """S(Q) - 1 (Keen's F(Q), i(Q)) on ``q`` with Q-dependent weights."""
        q = np.asarray(q, float)
        wq = xray_weights(self.concentrations, self._partials, q, self.norm)
        return sum(wq[p] * s for p, s in self.partial_structure_factors(q, r_window).items())

    def measured_D(self, q_min: float = 0.0, q_max: float | None = None, lorch: bool = False,
                   r: np.ndarray | None = None, dq: float | None = None) -> np.ndarray:
        """D(r) (Å⁻²) as a measurement over [q_min, q_max] Å⁻¹ (Lorch M(Q) or none) gives it.

        S(Q) of the model without r window on a grid of step ``dq`` (default
        min(self.dq, 0.25/r_max) so the r_max ripples are resolved), then
        ``(2/π) ∫ Q [S(Q) - 1] M(Q) sin(Qr) dQ`` (trapezoid) on ``r`` (default: the RDF grid).
        """
        q_max = self.q_max if q_max is None else float(q_max)
        if not 0 <= q_min < q_max:
            raise InputError(f"Q range {q_min}-{q_max} Å⁻¹", where="q_min/q_max", fix="give 0 <= q_min < q_max")
        dq = dq or min(self.dq, 0.25 / self._r_cut)
        n = max(2, int(np.ceil((q_max - q_min) / dq)) + 1)
        q = np.linspace(q_min, q_max, n)
        integrand = q * self.s_minus_1(q, "none") * (lorch_fn(q, q_max) if lorch else 1.0)
        wts = np.full(n, q[1] - q[0])
        wts[[0, -1]] *= 0.5
        r = self.r if r is None else np.asarray(r, float)
        return (2 / np.pi) * np.sin(np.outer(r, q)) @ (integrand * wts)

    # ------------------------------------------------------------------ driver
    def compute(self, rdf):
        """Compute G, D, D_qmax, S, F, i from the partials of ``rdf`` (all pairs needed); returns self."""
        import pandas as pd
        needed = {(a, b) for i, a in enumerate(rdf.elements) for b in rdf.elements[i:]}
        have = {tuple(p) for p in rdf.partials} | {tuple(p[::-1]) for p in rdf.partials}
        if not needed <= have:
            raise InputError("X-ray PDF needs every element pair of the RDF", where="pairs",
                             fix="compute PartialRDF with pairs=None")
        self.r = np.asarray(rdf.r, float)
        self._dr = float(self.r[1] - self.r[0]) if len(self.r) > 1 else float(rdf.dr)
        self._r_cut = float(self.r[-1] + 0.5 * self._dr)
        self._partials = dict(rdf.partials)
        self.rho = rdf.number_density
        self.concentrations = dict(rdf.concentrations)
        self.counts = dict(rdf.counts)
        self.r_max = self._r_cut
        w0 = self.weights(rdf, np.zeros(1))
        self.weights0 = {k: float(v[0]) for k, v in w0.items()}
        self.G = sum(self.weights0[p] * (g - 1.0) for p, g in rdf.partials.items())
        self.D = 4 * np.pi * self.rho * self.r * self.G
        self.q = np.arange(self.q_min, self.q_max + 0.5 * self.dq, self.dq)
        if self.q[0] == 0:
            self.q = self.q[1:]
        wq = self.weights(rdf, self.q)
        ps = self.partial_structure_factors(self.q, self.r_window)
        self.partial_S = {p: 1.0 + s for p, s in ps.items()}
        self.i = sum(wq[p] * s for p, s in ps.items())
        self.S = 1.0 + self.i
        self.F = self.q * self.i
        self.D_qmax = self.measured_D(self.q_min, self.q_max, self.lorch)
        self.table_r = pd.DataFrame({"r_A": self.r, "G": self.G, "D": self.D, "D_qmax": self.D_qmax})
        self.table_q = pd.DataFrame({"Q_invA": self.q, "S": self.S, "F": self.F, "i": self.i})
        return self

    def peak_integral(self, r_lo: float, r_hi: float) -> float:
        """I = ∫ 4π ρ r² [G(r) + 1] dr over [r_lo, r_hi) Å: the X-ray-weighted neighbour count."""
        sel = (self.r >= r_lo) & (self.r < r_hi)
        return float(np.sum(4 * np.pi * self.rho * self.r[sel] ** 2 * (self.G[sel] + 1.0)) * self._dr)

    def neighbours_in_peak(self, r_lo: float, r_hi: float, a: str, b: str) -> float:
        """Number of b atoms around each a atom (CN) from the X-ray G(r) over [r_lo, r_hi) Å.

        With Σ w_ab(0) = 1 (``norm="fz"``), G + 1 = Σ w_ab(0) g_ab; if only the a-b pair
        contributes in the window, I = w_ab n_ab / c_b, so n_ab = I c_b / w_ab.
        """
        pair = (a, b) if (a, b) in self.weights0 else (b, a)
        return self.peak_integral(r_lo, r_hi) * self.concentrations[b] / self.weights0[pair]


lorch_fn = lorch


# ---------------------------------------------------------------------- ase.Atoms front end
def xray_of_atoms(system, r_max: float = 20.0, dr: float = 0.01, sigma: float = 0.0, **xray_kw) -> XrayPDF:
    """:class:`XrayPDF` of one structure (ase.Atoms, Frame or path) or an iterable of Frames.

    ``r_max`` (Å), ``dr`` (Å) and ``sigma`` (Å, Gaussian broadening of the pair distances,
    for static structures) go to PartialRDF (periodic images counted, any r_max);
    ``xray_kw`` to XrayPDF (q_max, dq, q_min, lorch, r_window, norm).
    """
    from zifsim.analysis.rdf import PartialRDF
    import types
    rdf = PartialRDF(r_max=r_max, dr=dr, sigma=sigma)
    if isinstance(system, (list, tuple, types.GeneratorType)):
        rdf.run(system)
    else:
        rdf.compute(system)
    return XrayPDF(**xray_kw).compute(rdf)


def structure_factor(system, q=None, r_max: float = 20.0, dr: float = 0.01, r_window: str = "lorch",
                     norm: str = "fz"):
    """(Q, S(Q)) of a structure: Faber-Ziman X-ray S(Q) from its partials (Q in Å⁻¹).

    ``q`` default 0.3-24 Å⁻¹ step 0.01. ``r_window`` "lorch" (smooth, Q resolution ~π/r_max)
    or "none" (sharp cut at r_max).
    """
    x = xray_of_atoms(system, r_max=r_max, dr=dr, norm=norm)
    q = np.arange(0.3, 24.0 + 1e-9, 0.01) if q is None else np.asarray(q, float)
    return q, 1.0 + x.s_minus_1(q, r_window)


def pdf_D(system, r_max: float = 20.0, dr: float = 0.01, q_min: float = 0.0, q_max: float | None = None,
          lorch: bool = False):
    """(r, D(r)) of a structure, Å and Å⁻²: D = 4πρ r G(r), or with ``q_max`` the D(r) a
    measurement over [q_min, q_max] Å⁻¹ (``lorch``: Lorch M(Q)) would give."""
    x = xray_of_atoms(system, r_max=r_max, dr=dr)
    if q_max is None:
        return x.r, x.D
    return x.r, x.measured_D(q_min, q_max, lorch)


def debye_structure_factor(system, q: np.ndarray, r_max: float, r_window: str = "none", norm: str = "fz"):
    """S(Q) by the Debye pair sum over every pair closer than r_max (Å), periodic images included.

    Independent of the histogram route: ``S(Q) - 1 = [Σ_{i≠j, d<r_max} f_i f_j sin(Qd)/(Qd) W(d)
    - N ρ Σ_ab c_a c_b f_a f_b ∫₀^r_max 4π r² sin(Qr)/(Qr) W(r) dr] / (N <f>²)`` (the second term
    removes the uniform density, as g - 1 does); W the r window. Q in Å⁻¹.
    """
    from zifsim.analysis.base import as_frame
    from zifsim.analysis.rdf import periodic_pairs
    frame = as_frame(system)
    q = np.asarray(q, float)
    i, j, d, ordered = periodic_pairs(frame.cell, frame.fractional(), r_max)
    el = frame.elements
    elements = sorted(set(el.tolist()))
    n = len(el)
    conc = {e: float(np.mean(el == e)) for e in elements}
    rho = n / frame.volume
    f = {e: form_factor(e, q) for e in elements}
    mean_f = sum(conc[e] * f[e] for e in elements)
    denom = mean_f ** 2 if norm == "fz" else sum(conc[e] * f[e] ** 2 for e in elements)

    def win(x):
        return np.ones_like(x) if r_window == "none" else np.sinc(x / r_max)

    total = np.zeros_like(q)
    ti = np.searchsorted(elements, el)
    for ia, a in enumerate(elements):
        for ib, b in enumerate(elements):
            m = (ti[i] == ia) & (ti[j] == ib)
            dd = d[m]
            s = np.zeros_like(q)
            for start in range(0, len(dd), 20000):  # chunks keep memory small
                chunk = dd[start:start + 20000]
                s += (np.sinc(np.outer(q, chunk) / np.pi) * win(chunk)).sum(axis=1)
            # uniform-density term: N ρ c_a c_b ∫ 4π r² sinc(Qr) W dr (fine quadrature)
            rr = np.linspace(0, r_max, 20001)
            integ = 4 * np.pi * rr ** 2 * np.sinc(np.outer(q, rr) / np.pi) * win(rr)
            uniform = n * rho * conc[a] * conc[b] * np.trapz(integ, rr, axis=1)
            total += f[a] * f[b] * (s - uniform)
    return 1.0 + total / (n * denom)


def direct_structure_factor(frame, q_max: float = 3.0, dq: float = 0.05):
    """X-ray S(Q) (Faber-Ziman) summed over the reciprocal lattice of the cell, for low Q.

    ``S(Q) - 1 = (|Σ_j f_j e^{iQ·r_j}|²/N - <f²>) / <f>²`` averaged over the
    Q vectors of the simulation cell in bins of ``dq`` (Å⁻¹); exact for a
    periodic cell and independent of any RDF range, so it resolves the first sharp
    diffraction peak (~1 Å⁻¹). ``frame``: Frame, ase.Atoms or path. Returns (Q, S, n_vectors).
    """
    from zifsim.analysis.base import as_frame
    frame = as_frame(frame)
    cell = np.asarray(frame.cell, float)
    recip = 2 * np.pi * np.linalg.inv(cell).T  # rows: b1, b2, b3 (Å⁻¹)
    # |h_k| <= q_max / |b_k|-spacing: h_k = a_k . Q / 2π, |a_k . Q| <= |a_k| q_max
    hmax = np.ceil(q_max * np.linalg.norm(cell, axis=1) / (2 * np.pi)).astype(int)
    hkl = np.stack(np.meshgrid(*[np.arange(-h, h + 1) for h in hmax], indexing="ij"), -1).reshape(-1, 3)
    # one of each Friedel pair (S(Q) = S(-Q)), no Q = 0
    first = np.argmax(hkl != 0, axis=1)
    sign = hkl[np.arange(len(hkl)), first]
    hkl = hkl[(sign > 0)]
    qvec = hkl @ recip
    qlen = np.linalg.norm(qvec, axis=1)
    keep = (qlen <= q_max) & (qlen > 0)
    qvec, qlen = qvec[keep], qlen[keep]
    elements = sorted(set(frame.elements.tolist()))
    pos = frame.positions
    n = len(pos)
    conc = {e: np.mean(frame.elements == e) for e in elements}
    amp = np.zeros(len(qvec), complex)
    f_of = {}
    for e in elements:
        f_of[e] = form_factor(e, qlen)
        p_e = pos[frame.elements == e]
        s = np.zeros(len(qvec), complex)
        for start in range(0, len(qvec), 50000):
            sl = slice(start, start + 50000)
            s[sl] = np.exp(1j * (p_e @ qvec[sl].T)).sum(axis=0)
        amp += f_of[e] * s
    mean_f = sum(conc[e] * f_of[e] for e in elements)
    mean_f2 = sum(conc[e] * f_of[e] ** 2 for e in elements)
    s_vec = 1.0 + (np.abs(amp) ** 2 / n - mean_f2) / mean_f ** 2
    edges = np.arange(0.0, q_max + dq, dq)
    k = np.digitize(qlen, edges) - 1
    counts = np.bincount(k, minlength=len(edges) - 1)[: len(edges) - 1]
    sums = np.bincount(k, s_vec, minlength=len(edges) - 1)[: len(edges) - 1]
    ok = counts > 0
    centres = 0.5 * (edges[1:] + edges[:-1])
    return centres[ok], sums[ok] / counts[ok], counts[ok]


def first_sharp_peak(q: np.ndarray, s: np.ndarray, q_lo: float = 0.6, q_hi: float = 2.0):
    """Position (Å⁻¹) of the maximum of S(Q) in [q_lo, q_hi], or None."""
    sel = (q >= q_lo) & (q <= q_hi)
    return float(q[sel][np.argmax(s[sel])]) if sel.any() else None
