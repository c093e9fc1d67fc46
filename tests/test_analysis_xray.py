"""X-ray G(r), D(r), S(Q): neighbour counts from the G(r) of crystals, sum rules, Fourier consistency."""
from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from zifsim.analysis.rdf import PartialRDF
from zifsim.analysis.synthetic import zif4_crystal
from zifsim.analysis.xray import XrayPDF, form_factor


def test_form_factor_limits():
    # f(0) ~ Z (neutral atoms), falls with Q
    for el, z in (("C", 6), ("N", 7), ("Zn", 30), ("Cd", 48)):
        f = form_factor(el, np.array([0.0, 5.0, 20.0]))
        assert f[0] == pytest.approx(z, abs=0.1)
        assert f[0] > f[1] > f[2] > 0


@pytest.mark.parametrize("atoms, window, a, b, expected", [
    (bulk("Cu", "fcc", a=3.61, cubic=True).repeat(4), (2.3, 2.8), "Cu", "Cu", 12),
    (bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(3), (2.6, 3.0), "Na", "Cl", 6),
    (bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(3), (2.6, 3.0), "Cl", "Na", 6),
])
def test_xray_g_of_crystals_integrates_to_neighbour_count(atoms, window, a, b, expected):
    rdf = PartialRDF(r_max=6.0, dr=0.01).compute(atoms)
    x = XrayPDF().compute(rdf)
    assert sum(x.weights0.values()) == pytest.approx(1.0, abs=1e-12)
    assert x.neighbours_in_peak(*window, a, b) == pytest.approx(expected, abs=0.02)


def test_zif4_crystal_zn_n_shell_from_xray_g():
    try:
        atoms = zif4_crystal()
    except Exception as exc:
        pytest.skip(f"ZIF-4 crystal unavailable: {exc}")
    rdf = PartialRDF(r_max=7.0, dr=0.01).compute(atoms)
    x = XrayPDF().compute(rdf)
    # Zn-N bonds (1.97-2.00 Å) share the window with N...H and C...H two-bond distances:
    # the X-ray integral must equal the form-factor-weighted sum of the pair counts
    # counted independently by ASE (N·count_ab / (N_a N_b) per unordered pair)
    from ase.neighborlist import neighbor_list
    lo, hi = 1.9, 2.1
    i, j, d = neighbor_list("ijd", atoms, hi)
    el = np.array(atoms.get_chemical_symbols())
    n_of = {e: int(np.sum(el == e)) for e in set(el)}
    expected = 0.0
    for (a, b), w in x.weights0.items():
        m = (el[i] == a) & (el[j] == b) & (d >= lo)
        expected += w * len(atoms) * m.sum() / (n_of[a] * n_of[b])  # g_ab normalised by N_a N_b
    assert expected > 0.1
    assert x.peak_integral(lo, hi) == pytest.approx(expected, rel=0.01)
    # without H, only Zn-N (1.97-2.00 Å) falls in 1.9-2.05 Å (C...C starts at 2.075): CN 4 and 1
    frame_noh = atoms[[k for k, e in enumerate(el) if e != "H"]]
    x_noh = XrayPDF().compute(PartialRDF(r_max=7.0, dr=0.01).compute(frame_noh))
    assert x_noh.neighbours_in_peak(1.9, 2.05, "Zn", "N") == pytest.approx(4.0, abs=0.01)
    assert x_noh.neighbours_in_peak(1.9, 2.05, "N", "Zn") == pytest.approx(1.0, abs=0.01)
    # D(r) = 4 pi rho r G(r) and G -> -1 below the shortest distance
    assert np.allclose(x.D, 4 * np.pi * x.rho * x.r * x.G)
    assert np.allclose(x.G[x.r < 0.9], -1.0)


def test_structure_factor_of_a_disordered_system_goes_to_one():
    """Ideal-gas-like random points: S(Q) ~ 1 at all Q."""
    from ase import Atoms
    rng = np.random.default_rng(1)
    n, box = 2000, 30.0
    pos = rng.random((n, 3)) * box
    atoms = Atoms(["Zn"] * 400 + ["N"] * 1600, positions=pos, cell=[box] * 3, pbc=True)
    rdf = PartialRDF(r_max=14.0, dr=0.05).compute(atoms)
    x = XrayPDF(q_max=20.0).compute(rdf)
    hi = x.q > 2.0
    assert abs(np.mean(x.S[hi]) - 1.0) < 0.02
    assert np.std(x.S[hi]) < 0.1


def test_fourier_round_trip_of_a_smooth_pdf():
    """S(Q) from g(r), then D(r) from F(Q) with a large Qmax, returns the D(r) of g(r)."""
    rng = np.random.default_rng(2)
    # noisy fcc (a 'hot crystal'): smooth peaks, so truncation at Qmax=30 is harmless
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(5)
    atoms.positions += rng.normal(0, 0.15, atoms.positions.shape)
    frames = []
    for _ in range(5):
        a = atoms.copy()
        a.positions += rng.normal(0, 0.15, a.positions.shape)
        frames.append(a)
    from zifsim.analysis.base import as_frame
    rdf = PartialRDF(r_max=9.0, dr=0.02).run([as_frame(f) for f in frames])
    x = XrayPDF(q_max=30.0, dq=0.01, q_min=0.01, lorch=False).compute(rdf)
    sel = (x.r > 2.0) & (x.r < 6.0)
    err = np.abs(x.D_qmax[sel] - x.D[sel]).max() / np.abs(x.D[sel]).max()
    assert err < 0.15


def test_direct_structure_factor_bragg_peaks_of_fcc():
    """fcc Cu: (111) at 2π√3/a and (200) at 4π/a; S = 0 (monatomic, FZ) between Bragg peaks."""
    from zifsim.analysis.trajectory import frame_from_atoms
    from zifsim.analysis.xray import direct_structure_factor, first_sharp_peak
    a = 3.61
    q, s, n = direct_structure_factor(frame_from_atoms(bulk("Cu", "fcc", a=a, cubic=True).repeat(3)),
                                      q_max=3.6, dq=0.01)
    peaks = q[s > 10]
    np.testing.assert_allclose(peaks, [2 * np.pi * np.sqrt(3) / a, 4 * np.pi / a], atol=0.01)
    assert np.abs(s[s <= 10]).max() < 1e-8
    # S = N = 108 on the 4 (111) vectors (one per Friedel pair); the 12 supercell vectors
    # (5,1,1)/3 of the same length are not Bragg (S = 0): bin average 108 * 4 / 16 = 27
    assert s[s > 10][0] == pytest.approx(27.0)
    assert first_sharp_peak(q, s, 2.0, 3.3) == pytest.approx(3.015, abs=0.01)
