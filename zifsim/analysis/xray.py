"""X-ray total scattering from partial RDFs: S(Q), F(Q), G(r), D(r) (Faber-Ziman weights).

Conventions (Keen, J. Appl. Cryst. 2001):

* weights ``w_ab(Q) = (2 - δ_ab) c_a c_b f_a(Q) f_b(Q) / (Σ_a c_a f_a(Q))²`` over unordered
  pairs, f from xraydb (Waasmaier-Kirfel), Q in Å⁻¹;
* ``G(r) = Σ w_ab(0) [g_ab(r) - 1]`` (dimensionless), ``D(r) = 4π ρ r G(r)`` (Å⁻²),
  ρ the number density in atoms/Å³;
* ``S(Q) - 1 = Σ w_ab(Q) [S_ab(Q) - 1]`` with
  ``S_ab(Q) - 1 = 4π ρ ∫ r² [g_ab(r) - 1] sin(Qr)/(Qr) M(r) dr`` (M: Lorch window);
* ``F(Q) = Q [S(Q) - 1]`` (Å⁻¹) and ``D_exp(r) = (2/π) ∫₀^Qmax F(Q) sin(Qr) dQ``, the
  D(r) an experiment with a finite Qmax measures (what PDFgetX3 calls G(r)).
"""
from __future__ import annotations

import numpy as np

from zifsim.errors import InputError

__all__ = ["XrayPDF", "form_factor"]


def form_factor(element: str, q: np.ndarray) -> np.ndarray:
    """Atomic X-ray form factor f0(Q) (electrons) from xraydb; Q in Å⁻¹ (= 4π sinθ/λ)."""
    import xraydb
    try:
        return np.asarray(xraydb.f0(element, np.asarray(q, float) / (4 * np.pi)), float)
    except Exception as exc:
        raise InputError(f"no X-ray form factor for element {element!r}: {exc}",
                         fix="check the element symbols of the structure") from None


class XrayPDF:
    """X-ray weighted total PDF and structure factor from a concluded :class:`PartialRDF`.

    Parameters
    ----------
    q_max : Å⁻¹, upper limit of S(Q) and of the Fourier transform back to D(r)
        (22-25 Å⁻¹ is typical of synchrotron PDF beamlines).
    dq : Å⁻¹ grid step.
    lorch : apply the Lorch window in r when transforming g(r) -> S(Q) and in
        Q when transforming F(Q) -> D_exp(r).

    Results
    -------
    r, G, D, D_qmax (Å, -, Å⁻², Å⁻²); q, S, F (Å⁻¹, -, Å⁻¹); weights0 {pair: w_ab(0)};
    table_r / table_q DataFrames.
    """

    def __init__(self, q_max: float = 22.0, dq: float = 0.02, q_min: float = 0.3, lorch: bool = True):
        self.q_max, self.dq, self.q_min, self.lorch = float(q_max), float(dq), float(q_min), lorch

    def weights(self, rdf, q: np.ndarray) -> dict:
        """Faber-Ziman weights w_ab(Q) of every computed pair (unordered, × 2 for a ≠ b)."""
        c = rdf.concentrations
        f = {e: form_factor(e, q) for e in rdf.elements}
        mean_f = sum(c[e] * f[e] for e in rdf.elements)
        return {(a, b): (1 if a == b else 2) * c[a] * c[b] * f[a] * f[b] / mean_f ** 2
                for (a, b) in rdf.partials}

    def compute(self, rdf):
        """Compute G, D, S, F from the partials of ``rdf`` (all pairs needed); returns self."""
        import pandas as pd
        needed = {(a, b) for i, a in enumerate(rdf.elements) for b in rdf.elements[i:]}
        have = {tuple(p) for p in rdf.partials} | {tuple(p[::-1]) for p in rdf.partials}
        if not needed <= have:
            raise InputError("X-ray PDF needs every element pair of the RDF", where="pairs",
                             fix="compute PartialRDF with pairs=None")
        self.r = rdf.r
        self.rho = rdf.number_density
        self.concentrations = dict(rdf.concentrations)
        self.counts = dict(rdf.counts)
        w0 = self.weights(rdf, np.zeros(1))
        self.weights0 = {k: float(v[0]) for k, v in w0.items()}
        self.G = sum(self.weights0[p] * (g - 1.0) for p, g in rdf.partials.items())
        self.D = 4 * np.pi * self.rho * self.r * self.G
        # structure factor with Q-dependent form factors
        self.q = np.arange(self.q_min, self.q_max + 0.5 * self.dq, self.dq)
        dr = self.r[1] - self.r[0]
        r_cut = self.r[-1] + 0.5 * dr
        window = np.sinc(self.r / r_cut) if self.lorch else np.ones_like(self.r)  # sin(πx)/(πx)
        kernel = np.sin(np.outer(self.q, self.r)) / np.outer(self.q, self.r)  # (nq, nr)
        wq = self.weights(rdf, self.q)
        s_minus_1 = np.zeros_like(self.q)
        self.partial_S = {}
        for p, g in rdf.partials.items():
            sab = 4 * np.pi * self.rho * kernel @ (self.r ** 2 * (g - 1.0) * window) * dr
            self.partial_S[p] = 1.0 + sab
            s_minus_1 += wq[p] * sab
        self.S = 1.0 + s_minus_1
        self.F = self.q * s_minus_1
        # back-transform with finite Qmax: what an experiment sees
        qwin = np.sinc(self.q / self.q_max) if self.lorch else np.ones_like(self.q)
        self.D_qmax = (2 / np.pi) * np.sin(np.outer(self.r, self.q)) @ (self.F * qwin) * self.dq
        self.table_r = pd.DataFrame({"r_A": self.r, "G": self.G, "D": self.D, "D_qmax": self.D_qmax})
        self.table_q = pd.DataFrame({"Q_invA": self.q, "S": self.S, "F": self.F})
        return self

    def peak_integral(self, r_lo: float, r_hi: float) -> float:
        """I = ∫ 4π ρ r² [G(r) + 1] dr over [r_lo, r_hi) Å: the X-ray-weighted neighbour count."""
        sel = (self.r >= r_lo) & (self.r < r_hi)
        dr = self.r[1] - self.r[0]
        return float(np.sum(4 * np.pi * self.rho * self.r[sel] ** 2 * (self.G[sel] + 1.0)) * dr)

    def neighbours_in_peak(self, r_lo: float, r_hi: float, a: str, b: str) -> float:
        """Number of b atoms around each a atom (CN) from the X-ray G(r) over [r_lo, r_hi) Å.

        With Σ w_ab(0) = 1, G + 1 = Σ w_ab(0) g_ab; if only the a-b pair
        contributes in the window, I = w_ab N_ab N / (N_a N_b') with N_b' = N_b
        (a ≠ b) or N_b - 1 (a = b, the normalisation of g_aa), so
        N_ab = I c_b / w_ab · N_b' / N_b.
        """
        pair = (a, b) if (a, b) in self.weights0 else (b, a)
        nb = self.counts[b]
        nb_eff = nb - 1 if a == b else nb
        return self.peak_integral(r_lo, r_hi) * self.concentrations[b] / self.weights0[pair] * nb_eff / nb


def direct_structure_factor(frame, q_max: float = 3.0, dq: float = 0.05):
    """X-ray S(Q) (Faber-Ziman) summed over the reciprocal lattice of the cell, for low Q.

    ``S(Q) - 1 = (|Σ_j f_j e^{iQ·r_j}|²/N - <f²>) / <f>²`` averaged over the
    Q vectors of the simulation cell in bins of ``dq`` (Å⁻¹); exact for a
    periodic cell, so it resolves the first sharp diffraction peak (~1 Å⁻¹)
    that the transform of g(r) cut at half the cell cannot. Returns (Q, S, n_vectors).
    """
    cell = np.asarray(frame.cell, float)
    recip = 2 * np.pi * np.linalg.inv(cell).T  # rows: b1, b2, b3 (Å⁻¹)
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
        phase = pos[frame.elements == e] @ qvec.T  # (n_e, nq)
        amp += f_of[e] * np.exp(1j * phase).sum(axis=0)
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
