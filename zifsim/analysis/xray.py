"""X-ray total scattering of a model: S(Q), F(Q), G(r), D(r) (Faber-Ziman), as a measurement sees them.

Conventions (Keen, J. Appl. Cryst. 34, 172 (2001); docs/xray.md has the full table):

* partials g_ab(r) normalised by N_a N_b / V for every pair (:class:`~zifsim.analysis.rdf.PartialRDF`);
* weights ``w_ab(Q) = (2 - δ_ab) c_a c_b f_a(Q) f_b(Q) / (Σ_a c_a f_a(Q))²`` over unordered
  pairs (``norm="fz"``, Faber-Ziman, Σ w_ab = 1), or ``/ Σ_a c_a f_a(Q)²`` (``norm="f2"``);
  f from xraydb (Waasmaier-Kirfel f0), Q in Å⁻¹;
* ``G(r) = Σ w_ab(0) [g_ab(r) - 1]`` (dimensionless; Keen's G(r) / ⟨f⟩², Keen's functions
  carry Σ c c f f unnormalised), -> -Σ w_ab(0) at r -> 0 (-1 for "fz", -⟨f⟩²/⟨f²⟩ for "f2");
  ``D(r) = 4π ρ r G(r)`` (Å⁻²; Keen's D(r) / ⟨f⟩², what PDFgetX3 calls G(r)), ρ in atoms/Å³;
* ``S_ab(Q) - 1 = 4π ρ ∫₀^rmax r² [g_ab(r) - 1] sin(Qr)/(Qr) W(r) dr``, W an optional r window;
  ``S(Q) - 1 = Σ w_ab(Q) [S_ab(Q) - 1]``; ``i(Q) = S(Q) - 1`` (Keen's F(Q) / ⟨f⟩², RMCProfile's F(Q),
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

from zifsim.analysis.base import FrameAnalysis
from zifsim.errors import InputError

__all__ = ["XrayPDF", "LowQLattice", "form_factor", "xray_weights", "xray_of_atoms", "structure_factor", "pdf_D",
           "debye_structure_factor", "direct_structure_factor", "first_sharp_peak", "lorch", "NORMS",
           "DEFAULT_R_WINDOW", "half_hkl", "amplitudes"]

#: weight normalisations: Faber-Ziman <f>² (default) or <f²>
NORMS = ("fz", "f2")

#: r window of the model S(Q) compared with Q-space data, everywhere (XrayPDF, structure_factor,
#: compare_xray / model_curve, the report, ``zifsim compare-xray --r-window``): Lorch, as documented
#: (docs/xray.md); the sharp cut at r_max adds termination ripples ~sin(Q r_max)/Q to S(Q)
DEFAULT_R_WINDOW = "lorch"


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


def _f_moments(conc: dict, q: np.ndarray, norm: str = "fz"):
    """Form factors and their moments on ``q`` (Å⁻¹): ``(f {element: f(Q)}, <f>, <f²>, denominator)``,
    the denominator of the weights being <f>² (``norm="fz"``) or <f²> (``norm="f2"``)."""
    if norm not in NORMS:
        raise InputError(f"unknown X-ray weight normalisation {norm!r}", where="norm",
                         fix=f"use one of {', '.join(NORMS)} (docs/xray.md)")
    f = {e: form_factor(e, q) for e in conc}
    mean_f = sum(c * f[e] for e, c in conc.items())
    mean_f2 = sum(c * f[e] ** 2 for e, c in conc.items())
    return f, mean_f, mean_f2, (mean_f ** 2 if norm == "fz" else mean_f2)


def _trapezoid_weights(q: np.ndarray) -> np.ndarray:
    """Weights of the trapezoid rule on the (increasing) grid ``q``."""
    w = np.zeros(len(q))
    dq = np.diff(q)
    w[:-1] += 0.5 * dq
    w[1:] += 0.5 * dq
    return w


def _sine_transform(r: np.ndarray, q: np.ndarray, y: np.ndarray, weights=None) -> np.ndarray:
    """``(2/π) Σ_k sin(Q_k r) y_k w_k`` on ``r``: (2/π) ∫ y(Q) sin(Qr) dQ with trapezoid weights
    on ``q`` (default), or with the given ``weights`` (1 for a sum of lines)."""
    w = _trapezoid_weights(q) if weights is None else weights
    return (2 / np.pi) * np.sin(np.outer(np.asarray(r, float), q)) @ (y * w)


def xray_weights(concentrations: dict, pairs, q: np.ndarray, norm: str = "fz") -> dict:
    """X-ray weights w_ab(Q) of the unordered ``pairs`` (× 2 for a ≠ b); ``norm`` "fz" or "f2"."""
    q = np.atleast_1d(np.asarray(q, float))
    f, _, _, denom = _f_moments(concentrations, q, norm)
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
                 r_window: str = DEFAULT_R_WINDOW, norm: str = "fz"):
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
        r = self.r if r is None else np.asarray(r, float)
        lat = getattr(self, "lattice", None)
        use_lattice = lat is not None and q_min > 0 and q_min <= lat.q_max
        # what [0, q_min) came from, for the record (fit.json "low_q")
        if use_lattice:
            self.low_q_used = "reciprocal lattice of the cell"
        elif lat is not None and q_min > 0:
            self.low_q_used = (f"transform of g(r) (the lattice sum stops at {lat.q_max:g} Å⁻¹, "
                               f"below q_min {q_min:g} Å⁻¹)")
        else:
            self.low_q_used = "transform of g(r)"
        q_lo = 0.0 if use_lattice else q_min
        n = max(2, int(np.ceil((q_max - q_lo) / dq)) + 1)
        q = np.linspace(q_lo, q_max, n)
        integrand = q * self.s_minus_1(q, "none") * (lorch_fn(q, q_max) if lorch else 1.0)
        d = _sine_transform(r, q, integrand)
        if use_lattice:  # remove [0, q_min) exactly: the model's own Bragg / lattice scattering there
            d -= lat.band_D(r, 0.0, q_min, (lambda qq: lorch_fn(qq, q_max)) if lorch else None, self.norm)
        return d

    # ------------------------------------------------------------------ driver
    def compute(self, rdf, lattice=None):
        """Compute G, D, D_qmax, S, F, i from the partials of ``rdf`` (all pairs needed); returns self.

        ``lattice``: a concluded :class:`LowQLattice` of the same frames; with it the part of
        S(Q) below a measurement's Qmin is the exact reciprocal-lattice sum, so
        :meth:`measured_D` with q_min > 0 does not depend on r_max either (only when
        q_min <= the lattice's q_max; :attr:`low_q_used` says what the last call used).
        """
        self.lattice = lattice
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
        """I = ∫ 4π ρ r² [G(r) + Σ w_ab(0)] dr over [r_lo, r_hi) Å: the X-ray-weighted neighbour count.

        G + Σ w_ab(0) = Σ w_ab(0) g_ab for either norm (Σ w_ab(0) is 1 for "fz",
        <f>²/<f²> for "f2").
        """
        sel = (self.r >= r_lo) & (self.r < r_hi)
        wsum = sum(self.weights0.values())
        return float(np.sum(4 * np.pi * self.rho * self.r[sel] ** 2 * (self.G[sel] + wsum)) * self._dr)

    def neighbours_in_peak(self, r_lo: float, r_hi: float, a: str, b: str) -> float:
        """Number of b atoms around each a atom (CN) from the X-ray G(r) over [r_lo, r_hi) Å.

        G + Σ w_ab(0) = Σ w_ab(0) g_ab; if only the a-b pair contributes in the window,
        I = w_ab n_ab / c_b, so n_ab = I c_b / w_ab (the same for ``norm`` "fz" and "f2").
        """
        pair = (a, b) if (a, b) in self.weights0 else (b, a)
        return self.peak_integral(r_lo, r_hi) * self.concentrations[b] / self.weights0[pair]


lorch_fn = lorch


def half_hkl(cell: np.ndarray, q_max: float, pad: int = 0):
    """Miller indices (one of each Friedel pair, no 000) of every reciprocal-lattice vector
    with |Q| <= q_max (Å⁻¹) of ``cell`` (rows = vectors, Å), and the reciprocal basis
    (rows b1, b2, b3, Å⁻¹). Not filtered by |Q|: the box ``|h_k| <= ceil(|a_k| q_max / 2π) + pad``."""
    cell = np.asarray(cell, float)
    recip = 2 * np.pi * np.linalg.inv(cell).T  # rows: b1, b2, b3 (Å⁻¹)
    # h_k = a_k . Q / 2π and |a_k . Q| <= |a_k| q_max
    hmax = np.ceil(q_max * np.linalg.norm(cell, axis=1) / (2 * np.pi)).astype(int) + pad
    hkl = np.stack(np.meshgrid(*[np.arange(-h, h + 1) for h in hmax], indexing="ij"), -1).reshape(-1, 3)
    first = np.argmax(hkl != 0, axis=1)
    return hkl[hkl[np.arange(len(hkl)), first] > 0], recip


def _lattice_vectors(cell: np.ndarray, q_max: float):
    """Reciprocal-lattice vectors (one per Friedel pair, no Q = 0) with |Q| <= q_max, and |Q| (Å⁻¹)."""
    hkl, recip = half_hkl(cell, q_max)
    qvec = hkl @ recip
    qlen = np.linalg.norm(qvec, axis=1)
    keep = (qlen <= q_max) & (qlen > 0)
    return qvec[keep], qlen[keep]


def amplitudes(frame, qvec):
    """{element: Σ_j∈element exp(iQ·r_j)} on the vectors ``qvec`` (Å⁻¹, chunked), and the sorted element list."""
    elements = sorted(set(np.asarray(frame.elements).tolist()))
    pos = np.asarray(frame.positions, float)
    out = {}
    for e in elements:
        p_e = pos[np.asarray(frame.elements) == e]
        s = np.zeros(len(qvec), complex)
        for start in range(0, len(qvec), 20000):
            sl = slice(start, start + 20000)
            s[sl] = np.exp(1j * (p_e @ qvec[sl].T)).sum(axis=0)
        out[e] = s
    return out, elements


class LowQLattice(FrameAnalysis):
    """Exact low-Q X-ray scattering of the periodic model, from its reciprocal lattice.

    For a periodic cell the powder S(Q) is a set of lines at the reciprocal-lattice
    vectors G: ``S(Q) - 1 = (2π²/(V N)) Σ_G |Σ_j f_j e^{iG·r_j}|² δ(Q - |G|) / (⟨f⟩² Q²)
    - ⟨f²⟩/⟨f⟩²`` (Faber-Ziman). Per frame, the line strengths ``|A_G|²/(V N)`` are
    binned in fine Q bins (``dq``, Å⁻¹) up to ``q_max`` (Å⁻¹), per element pair, and
    averaged over frames. :meth:`band_D` integrates ``(2/π) Q [S - 1] M(Q) sin(Qr)``
    over a Q band from them: no RDF, no r range. Feed it the same frames as the RDF.
    """

    def __init__(self, q_max: float = 1.5, dq: float = 0.0005, every: int = 1):
        super().__init__()
        self.q_max, self.dq, self.every = float(q_max), float(dq), max(1, int(every))

    def _prepare(self, frame) -> None:
        # every run starts afresh (a second run of the same object gives the same lines)
        self._seen = 0
        self._n_used = 0
        self.elements = sorted(set(frame.elements.tolist()))
        self.nbins = int(np.ceil(self.q_max / self.dq))
        self._lines = {}
        self._conc = {e: float(np.mean(frame.elements == e)) for e in self.elements}

    def _single_frame(self, frame) -> None:
        self._seen += 1
        if (self._seen - 1) % self.every:
            return
        self._n_used += 1
        qvec, qlen = _lattice_vectors(frame.cell, self.q_max)
        amp, _ = amplitudes(frame, qvec)
        k = np.minimum((qlen / self.dq).astype(np.int64), self.nbins - 1)
        scale = 2.0 / (frame.volume * frame.n_atoms)  # x 2: one vector per Friedel pair
        for ia, a in enumerate(self.elements):
            for b in self.elements[ia:]:
                val = np.real(amp[a] * np.conj(amp[b])) * (1 if a == b else 2)
                self._lines[(a, b)] = self._lines.get((a, b), 0) + np.bincount(
                    k, val * scale, minlength=self.nbins)

    def _conclude(self) -> None:
        self.q = (np.arange(self.nbins) + 0.5) * self.dq
        self.n_used = self._n_used
        self.lines = {p: v / max(self.n_used, 1) for p, v in self._lines.items()}

    @property
    def table(self):
        """DataFrame: Q_invA (bin centres) and one column ``l_a-b`` of line strengths per pair (Å⁻³)."""
        import pandas as pd
        cols = {"Q_invA": self.q}
        cols.update({f"l_{a}-{b}": v for (a, b), v in self.lines.items()})
        return pd.DataFrame(cols)

    @classmethod
    def from_table(cls, table, concentrations: dict):
        """Rebuild a concluded LowQLattice from :attr:`table` (e.g. read from xray_lattice.csv)."""
        q = table["Q_invA"].to_numpy(float)
        obj = cls(q_max=float(q[-1] + 0.5 * (q[1] - q[0])), dq=float(q[1] - q[0]))
        obj.q = q
        obj.nbins = len(q)
        obj.lines = {tuple(c[2:].split("-", 1)): table[c].to_numpy(float) for c in table.columns if c.startswith("l_")}
        obj.elements = sorted({e for p in obj.lines for e in p})
        obj._conc = dict(concentrations)
        obj.n_used = obj.n_frames = 1
        return obj

    def band_D(self, r, q_lo: float, q_hi: float, modification=None, norm: str = "fz") -> np.ndarray:
        """(2/π) ∫_q_lo^q_hi Q [S(Q) - 1] M(Q) sin(Qr) dQ (Å⁻²) of the periodic model, exactly."""
        if q_hi > self.q_max + 1e-12:
            raise InputError(f"lattice sum computed to {self.q_max} Å⁻¹, asked to {q_hi}",
                             where="q_max", fix="make LowQLattice with q_max >= the data's Qmin")
        r = np.asarray(r, float)
        sel = (self.q >= q_lo) & (self.q < q_hi)
        q = self.q[sel]
        conc = {e: self._conc[e] for e in self.elements}
        f, _, _, denom = _f_moments(conc, q, norm)
        strength = sum(f[a] * f[b] * v[sel] for (a, b), v in self.lines.items()) / denom  # Σ |A|²/(VN<f>²)
        m = np.ones_like(q) if modification is None else modification(q)
        # lines: ∫ Q δ(Q-|G|)/Q² (2π²) ... = 2π² strength / |G|
        d = _sine_transform(r, q, 2 * np.pi ** 2 * strength / q * m, weights=1.0)
        # continuous - <f²>/<f>² term, on a fine grid
        qq = np.linspace(q_lo, q_hi, max(2, int(np.ceil((q_hi - q_lo) / 0.001)) + 1))
        _, _, mf2, den2 = _f_moments(conc, qq, norm)
        mm = np.ones_like(qq) if modification is None else modification(qq)
        d += _sine_transform(r, qq, qq * (-mf2 / den2) * mm)
        return d


# ---------------------------------------------------------------------- ase.Atoms front end
def xray_of_atoms(system, r_max: float = 20.0, dr: float = 0.01, sigma: float = 0.0, lattice_q_max: float = 1.5,
                  **xray_kw) -> XrayPDF:
    """:class:`XrayPDF` of one structure (ase.Atoms, Frame or path) or an iterable of Frames.

    ``r_max`` (Å), ``dr`` (Å) and ``sigma`` (Å, Gaussian broadening of the pair distances,
    for static structures) go to PartialRDF (periodic images counted, any r_max);
    ``lattice_q_max`` (Å⁻¹, 0: none) to :class:`LowQLattice` (exact S(Q) below a measured Qmin);
    ``xray_kw`` to XrayPDF (q_max, dq, q_min, lorch, r_window, norm).
    """
    import types
    from zifsim.analysis.base import as_frame, run_all
    from zifsim.analysis.rdf import PartialRDF
    rdf = PartialRDF(r_max=r_max, dr=dr, sigma=sigma)
    lattice = LowQLattice(q_max=lattice_q_max) if lattice_q_max else None
    frames = list(system) if isinstance(system, (list, tuple, types.GeneratorType)) else [as_frame(system)]
    run_all([rdf] + ([lattice] if lattice else []), frames)
    return XrayPDF(**xray_kw).compute(rdf, lattice)


def structure_factor(system, q=None, r_max: float = 20.0, dr: float = 0.01, r_window: str = DEFAULT_R_WINDOW,
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
    f, _, _, denom = _f_moments(conc, q, norm)

    def win(x):
        return np.ones_like(x) if r_window == "none" else np.sinc(x / r_max)

    # uniform-density integral ∫ 4π r² sinc(Qr) W dr (fine quadrature), the same for every pair
    rr = np.linspace(0, r_max, 20001)
    uniform_integral = np.trapezoid(4 * np.pi * rr ** 2 * np.sinc(np.outer(q, rr) / np.pi) * win(rr), rr, axis=1)
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
            uniform = n * rho * conc[a] * conc[b] * uniform_integral  # the uniform-density term
            total += f[a] * f[b] * (s - uniform)
    return 1.0 + total / (n * denom)


def direct_structure_factor(frame, q_max: float = 3.0, dq: float = 0.05, normalise: str = "density"):
    """X-ray S(Q) (Faber-Ziman) from the reciprocal lattice of the cell, for low Q. Returns (Q, S, n_vectors).

    Exact for a periodic cell and independent of any RDF range, so it resolves the first
    sharp diffraction peak (~1 Å⁻¹). ``normalise="density"`` (default): the powder average
    over each Q bin of width ``dq`` (Å⁻¹), ``S̄ - 1 = (2π²/(V N dq)) Σ_{G in bin} |A_G|²/(⟨f⟩² G²)
    - ⟨f²⟩/⟨f⟩²`` with ``A_G = Σ_j f_j e^{iG·r_j}`` (both Friedel mates counted): a crystal's
    unit cell and supercell give the same S̄, and empty bins are returned too.
    ``normalise="count"``: the mean of ``(|A_G|²/N - ⟨f²⟩)/⟨f⟩²`` over the vectors in the bin
    (depends on the cell: a supercell adds vectors without intensity); empty bins dropped.
    ``frame``: Frame, ase.Atoms or path.
    """
    from zifsim.analysis.base import as_frame
    if normalise not in ("density", "count"):
        raise InputError(f"normalise={normalise!r}", where="normalise", fix="use 'density' or 'count'")
    frame = as_frame(frame)
    qvec, qlen = _lattice_vectors(frame.cell, q_max)
    amp, elements = amplitudes(frame, qvec)
    n = frame.n_atoms
    conc = {e: np.mean(frame.elements == e) for e in elements}
    f_of, mean_f, mean_f2, _ = _f_moments(conc, qlen)
    a_g = sum(f_of[e] * amp[e] for e in elements)
    nb = max(1, int(round(q_max / dq)))  # (np.arange(0, q_max + dq, dq) gave an extra bin for 1.1/0.1)
    edges = dq * np.arange(nb + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    k = np.digitize(qlen, edges) - 1
    ok_v = (k >= 0) & (k < nb)
    counts = np.bincount(k[ok_v], minlength=nb)[:nb]
    if normalise == "count":
        s_vec = 1.0 + (np.abs(a_g) ** 2 / n - mean_f2) / mean_f ** 2
        sums = np.bincount(k[ok_v], s_vec[ok_v], minlength=nb)[:nb]
        ok = counts > 0
        return centres[ok], sums[ok] / counts[ok], counts[ok]
    line = 2 * np.abs(a_g) ** 2 / (mean_f ** 2 * qlen ** 2)  # x 2: the Friedel mate
    sums = np.bincount(k[ok_v], line[ok_v], minlength=nb)[:nb]
    _, mf_c, mf2_c, _ = _f_moments(conc, centres)
    base = mf2_c / mf_c ** 2
    s = 1.0 + 2 * np.pi ** 2 / (frame.volume * n * dq) * sums - base
    return centres, s, counts


def first_sharp_peak(q: np.ndarray, s: np.ndarray, q_lo: float = 0.6, q_hi: float = 2.0):
    """Position (Å⁻¹) of the maximum of S(Q) in [q_lo, q_hi], or None."""
    sel = (q >= q_lo) & (q <= q_hi)
    return float(q[sel][np.argmax(s[sel])]) if sel.any() else None
