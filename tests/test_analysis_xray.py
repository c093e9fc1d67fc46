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
    """fcc Cu: (111) at 2π√3/a and (200) at 4π/a; S = 0 (monatomic, FZ) between Bragg peaks.

    Powder (density) normalisation: the (111) bin holds 16π²ρ/(dq G²) - 1 + 1 whatever the
    supercell (the old per-vector average gave 108·4/16 = 27 for the 3x3x3 cell, a value
    that changed with the cell).
    """
    from zifsim.analysis.trajectory import frame_from_atoms
    from zifsim.analysis.xray import direct_structure_factor, first_sharp_peak
    a, dq = 3.61, 0.01
    res = {}
    for rep in (2, 3):
        q, s, n = direct_structure_factor(frame_from_atoms(bulk("Cu", "fcc", a=a, cubic=True).repeat(rep)),
                                          q_max=3.6, dq=dq)
        peaks = q[s > 10]
        np.testing.assert_allclose(peaks, [2 * np.pi * np.sqrt(3) / a, 4 * np.pi / a], atol=0.01)
        assert np.abs(s[s <= 10]).max() < 1e-8
        res[rep] = s
        assert first_sharp_peak(q, s, 2.0, 3.3) == pytest.approx(3.015, abs=0.01)
    g111, rho = 2 * np.pi * np.sqrt(3) / a, 4 / a ** 3
    assert res[3][res[3] > 10][0] == pytest.approx(16 * np.pi ** 2 * rho / (dq * g111 ** 2), rel=1e-9)
    np.testing.assert_allclose(res[2], res[3], atol=1e-8)
    # the per-vector mean ("count") depends on the cell
    q3, s3, _ = direct_structure_factor(bulk("Cu", "fcc", a=a, cubic=True).repeat(3), q_max=3.6, dq=dq,
                                        normalise="count")
    assert s3[s3 > 10][0] == pytest.approx(27.0)


# ---------------------------------------------------------------------- right by construction
def _zif4_or_skip():
    try:
        return zif4_crystal()
    except Exception as exc:
        pytest.skip(f"ZIF-4 crystal unavailable: {exc}")


def _rel(a, b):
    return float(np.sqrt(np.sum((a - b) ** 2) / np.sum(b ** 2)))


@pytest.fixture(scope="module")
def zif4_xray():
    """XrayPDF of the ZIF-4 crystal (pair distances broadened by 0.1 Å): unit cell at r_max 10/15/20 Å
    and the 2x2x2 supercell at 10 Å. (Without broadening the 1-8 Å D(r) moves by 2 % between r_max
    10 and 20 Å, 1.1 % with 0.05 Å: sharp peaks against the sharp Qmax cut; docs/xray.md.)"""
    from zifsim.analysis.xray import xray_of_atoms
    atoms = _zif4_or_skip()
    kw = dict(dr=0.02, q_max=24.0, dq=0.02, sigma=0.1)  # sigma: thermal motion of a static cell (as in ../shared/reference/README.md)
    out = {("unit", rm): xray_of_atoms(atoms, r_max=rm, **kw) for rm in (10.0, 15.0, 20.0)}
    out[("super", 10.0)] = xray_of_atoms(atoms.repeat(2), r_max=10.0, **kw)
    return out


# Q range of the Gaillac 2017 ZIF-4 glass data (ZIF4glassa_31.int01)
QMIN, QMAX = 0.6125, 23.987


def test_zif4_unit_cell_equals_supercell(zif4_xray):
    """g_ZnZn, D(r) and the measured-like D(r) of the 16-Zn cell and its 2x2x2 supercell agree (< 0.5 % / 1 %)."""
    u, s = zif4_xray[("unit", 10.0)], zif4_xray[("super", 10.0)]
    g_u, g_s = u._partials[("Zn", "Zn")], s._partials[("Zn", "Zn")]
    assert np.abs(g_u - g_s).max() <= 0.005 * g_s.max()
    assert _rel(u.D, s.D) < 1e-10
    assert _rel(u.measured_D(QMIN, QMAX), s.measured_D(QMIN, QMAX)) < 1e-6


def test_zif4_measured_like_D_does_not_depend_on_r_max(zif4_xray):
    """Through S(Q) over the data's Q range and back: 1-8 Å agree within 1 % for r_max 10, 15, 20 Å."""
    r = np.arange(1.0, 8.0, 0.02)
    ref = zif4_xray[("unit", 20.0)]
    d20 = ref.measured_D(QMIN, QMAX, r=r)
    for rm in (10.0, 15.0):
        x = zif4_xray[("unit", rm)]
        assert _rel(x.measured_D(QMIN, QMAX, r=r), d20) < 0.01, rm
        assert _rel(x.measured_D(QMIN, QMAX, lorch=True, r=r), ref.measured_D(QMIN, QMAX, lorch=True, r=r)) < 0.002
        # the ideal D(r) is the same function on the common grid (the broadening is cut at r_max)
        n = int(np.searchsorted(x.r, rm - 1.0))
        assert np.allclose(x.D[:n], ref.D[:n])
    # the Zn...Zn (5.9 Å) / Zn-N (2.0 Å) peak ratio the issue measured at 0.19 / 0.51 / 0.71
    ratios = []
    for rm in (10.0, 15.0, 20.0):
        d = zif4_xray[("unit", rm)].measured_D(QMIN, QMAX, r=r)
        ratios.append(d[(r > 5.5) & (r < 6.3)].max() / d[(r > 1.8) & (r < 2.2)].max())
    assert max(ratios) / min(ratios) - 1 < 0.01, ratios


def test_zif4_rw_and_fsdp_do_not_depend_on_cell_or_r_max(zif4_xray, reference_dir):
    from zifsim.analysis.xray import direct_structure_factor, first_sharp_peak
    from zifsim.analysis.xray_data import read_measured
    from zifsim.compare.xray_fit import compare_xray
    path = reference_dir / "xray" / "ZIF-4-glass-Gaillac2017" / "ZIF4glassa_31.dofr"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    measured = read_measured(path)
    rw = {k: compare_xray(x, measured, (1.0, 8.0)).fit["rw"] for k, x in zif4_xray.items()}
    assert max(rw.values()) / min(rw.values()) - 1 < 0.01, rw
    atoms = _zif4_or_skip()
    fs = [first_sharp_peak(*direct_structure_factor(a, q_max=2.0, dq=0.05)[:2]) for a in (atoms, atoms.repeat(2))]
    assert fs[0] == pytest.approx(fs[1], rel=0.01)


def test_s_of_q_from_partials_equals_direct_debye_sum():
    """S(Q) from the binned partials = Debye pair sum over the same pairs: |ΔS| < 2e-3 (|S - 1| up to ~3)."""
    from zifsim.analysis.xray import debye_structure_factor, xray_of_atoms
    atoms = _zif4_or_skip()
    rng = np.random.default_rng(0)
    atoms.positions += rng.normal(0, 0.1, atoms.positions.shape)
    q = np.linspace(0.5, 20.0, 79)
    x = xray_of_atoms(atoms, r_max=6.0, dr=0.002, q_max=2.0, lattice_q_max=0)
    for window in ("none", "lorch"):
        s_partials = 1 + x.s_minus_1(q, window)
        s_debye = debye_structure_factor(atoms, q, r_max=x.r_max, r_window=window)
        assert np.abs(s_partials - s_debye).max() < 2e-3, window
        assert np.abs(s_debye - 1).max() > 0.5  # not a trivial comparison


def test_lattice_low_q_band_of_fcc_is_analytic():
    """LowQLattice: the (111) line of fcc Cu gives (2/π)[8·2π²ρ/G sin(Gr)] - (2/π)∫Q sin(Qr)dQ (monatomic FZ)."""
    from zifsim.analysis.base import as_frame
    from zifsim.analysis.xray import LowQLattice
    a = 3.61
    atoms = bulk("Cu", "fcc", a=a, cubic=True).repeat(2)
    lat = LowQLattice(q_max=3.2).run([as_frame(atoms)])
    g111 = 2 * np.pi * np.sqrt(3) / a
    r = np.linspace(1.0, 8.0, 50)
    q_hi = 3.2
    rho = len(atoms) / atoms.get_volume()
    qq = np.linspace(0, q_hi, 20001)
    expected = (2 / np.pi) * (8 * 2 * np.pi ** 2 * rho / g111 * np.sin(g111 * r)
                              - np.trapezoid(qq * np.sin(np.outer(r, qq)), qq, axis=1))
    np.testing.assert_allclose(lat.band_D(r, 0.0, q_hi), expected, atol=2e-3 * np.abs(expected).max())


def test_xray_functions_of_atoms_api():
    """The ase.Atoms front end used by the crystallinity index: shapes, units, D = 4πρ r G."""
    from zifsim.analysis.xray import pdf_D, structure_factor, xray_of_atoms
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(2)
    x = xray_of_atoms(atoms, r_max=12.0, dr=0.02, q_max=10.0, dq=0.05)
    assert x.r_max == pytest.approx(12.0) and x.D.shape == x.r.shape
    np.testing.assert_allclose(x.F, x.q * (x.S - 1))
    np.testing.assert_allclose(x.i, x.S - 1)
    q, s = structure_factor(atoms, q=np.linspace(1, 5, 9), r_max=8.0)
    assert s.shape == (9,)
    r, d = pdf_D(atoms, r_max=8.0)
    np.testing.assert_allclose(d, 4 * np.pi * x.rho * r * xray_of_atoms(atoms, r_max=8.0).G)


# ---------------------------------------------------------------------- review fixes
def test_neighbour_count_is_the_same_for_fz_and_f2_weights():
    """NaCl: Σ w_ab(0) = <f>²/<f²> < 1 with f2, so the integral of G + Σ w (not G + 1) counts 6 Cl per Na."""
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(3)
    rdf = PartialRDF(r_max=6.0, dr=0.01).compute(atoms)
    fz, f2 = XrayPDF(norm="fz").compute(rdf), XrayPDF(norm="f2").compute(rdf)
    assert sum(f2.weights0.values()) < 0.96  # Na (11 e) and Cl (17 e): the norms differ by 4 %
    for a, b in (("Na", "Cl"), ("Cl", "Na")):
        assert fz.neighbours_in_peak(2.6, 3.0, a, b) == pytest.approx(6.0, abs=0.02)
        assert f2.neighbours_in_peak(2.6, 3.0, a, b) == pytest.approx(fz.neighbours_in_peak(2.6, 3.0, a, b), rel=1e-9)
    # G -> -Σ w_ab(0) below the shortest distance (-1 only for fz)
    assert fz.G[fz.r < 2.0] == pytest.approx(-1.0)
    assert f2.G[f2.r < 2.0] == pytest.approx(-sum(f2.weights0.values()))


def test_low_q_lattice_run_twice_gives_the_same_lines():
    from zifsim.analysis.trajectory import frame_from_atoms
    from zifsim.analysis.xray import LowQLattice
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    lat = LowQLattice(q_max=3.5, dq=0.01)
    first = {p: v.copy() for p, v in lat.compute(atoms).lines.items()}
    assert lat.n_used == 1 and max(v.max() for v in first.values()) > 0
    second = lat.compute(atoms).lines
    assert lat.n_used == 1
    for p, v in first.items():
        np.testing.assert_array_equal(second[p], v)
    frames = [frame_from_atoms(atoms)] * 3
    lat3 = LowQLattice(q_max=3.5, dq=0.01, every=2)
    a = lat3.run(frames).lines[("Cu", "Cu")].copy()
    assert lat3.n_used == 2  # frames 0 and 2
    np.testing.assert_array_equal(lat3.run(frames).lines[("Cu", "Cu")], a)
    assert lat3.n_used == 2


def test_low_q_band_used_is_recorded():
    """q_min above the lattice's q_max: measured_D cannot use the exact band, and fit.json must say so."""
    from zifsim.analysis.xray import xray_of_atoms
    from zifsim.analysis.xray_data import MeasuredCurve
    from zifsim.compare.xray_fit import model_curve
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(2)
    x = xray_of_atoms(atoms, r_max=10.0, dr=0.02, lattice_q_max=1.5, q_max=18.0)
    r = np.arange(1.0, 8.0, 0.05)
    m = MeasuredCurve(x=r, y=np.zeros_like(r), kind="D", source="test.csv", kind_from="test")
    _, proc = model_curve(x, m, q_range=(1.0, 18.0))
    assert proc["low_q"] == "reciprocal lattice of the cell"
    _, proc = model_curve(x, m, q_range=(2.0, 18.0))
    assert proc["low_q"].startswith("transform of g(r)") and "1.5" in proc["low_q"]
    _, proc = model_curve(xray_of_atoms(atoms, r_max=10.0, dr=0.02, lattice_q_max=0, q_max=18.0), m,
                          q_range=(1.0, 18.0))
    assert proc["low_q"] == "transform of g(r)"


def test_direct_structure_factor_bin_count():
    from zifsim.analysis.xray import direct_structure_factor
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2)
    for q_max, dq, nb in ((1.1, 0.1, 11), (3.0, 0.05, 60), (3.6, 0.01, 360)):
        q, s, n = direct_structure_factor(atoms, q_max=q_max, dq=dq)
        assert len(q) == len(s) == len(n) == nb
        assert q[-1] == pytest.approx(q_max - dq / 2)


def test_one_default_r_window_for_api_report_and_cli():
    import inspect

    from zifsim.analysis.xray import DEFAULT_R_WINDOW, XrayPDF, structure_factor
    from zifsim.compare.xray_fit import compare_xray, model_curve
    assert DEFAULT_R_WINDOW == "lorch"
    for fn in (compare_xray, model_curve, structure_factor, XrayPDF.__init__):
        assert inspect.signature(fn).parameters["r_window"].default == DEFAULT_R_WINDOW
