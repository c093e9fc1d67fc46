"""Lindemann ratios on synthetic trajectories in the contract dump format."""
from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from zifsim.analysis.lindemann import Lindemann, melting_estimate
from zifsim.analysis.synthetic import write_synthetic_run
from zifsim.analysis.trajectory import iter_run


@pytest.fixture(scope="module")
def lattice():
    """A 'metal' sublattice with an organic-ish partner: ZnS zincblende, 4x4x4 (512 atoms)."""
    return bulk("ZnS", "zincblende", a=5.41, cubic=True).repeat(2).repeat((2, 2, 2))


def run_lindemann(tmp_path, atoms, stages, sigma, window=10, **kw):
    rundir = write_synthetic_run(tmp_path / "run", atoms, stages, frames_per_stage=40,
                                 sigma_per_sqrtK=sigma, seed=11, **kw)
    return Lindemann(window=window).run(iter_run(rundir))


def test_static_crystal_is_zero(tmp_path, lattice):
    lind = run_lindemann(tmp_path, lattice, [("cold", 300, 300)], sigma=0.0, drift_A_per_frame=0.3)
    t = lind.table
    assert len(t) == 4
    # no motion: zero to dump precision (5 decimals), even with a rigid drift and image flags
    assert t.lindemann_metal.max() < 1e-4
    assert t.lindemann_all.max() < 1e-4
    assert t.pair_index.max() < 1e-5
    d_zn = 5.41 / np.sqrt(2)  # Zn...Zn in zincblende (fcc sublattice)
    assert t.d_MM_A.iloc[0] == pytest.approx(d_zn, abs=1e-3)


def test_grows_with_temperature_and_matches_the_imposed_amplitude(tmp_path, lattice):
    sigma = 0.004  # Å per sqrt(K) per Cartesian component
    lind = run_lindemann(tmp_path, lattice, [("heat", 200, 3000)], sigma=sigma, window=8,
                         drift_A_per_frame=0.05)
    t = lind.table
    assert len(t) == 5
    assert np.all(np.diff(t.lindemann_metal) > 0)
    assert np.all(np.diff(t.pair_index) > 0)
    # expected: sqrt(3 sigma^2 T (W-1)/W) / d_MM for independent Gaussian displacements
    d = 5.41 / np.sqrt(2)
    w = 8
    # temperatures vary inside a window: average sigma^2 T over it -> the mean T
    expected = np.sqrt(3 * sigma ** 2 * t.temp_K * (w - 1) / w) / d
    np.testing.assert_allclose(t.lindemann_metal, expected, rtol=0.08)
    # pair index ~ sqrt(2) x per-atom RMS (1D projection) / pair distance: same order, smaller
    assert np.all(t.pair_index < t.lindemann_metal)


def test_centre_of_mass_drift_is_removed(tmp_path, lattice):
    a = run_lindemann(tmp_path / "a", lattice, [("hot", 1000, 1000)], sigma=0.003)
    b = run_lindemann(tmp_path / "b", lattice, [("hot", 1000, 1000)], sigma=0.003, drift_A_per_frame=0.7)
    np.testing.assert_allclose(a.table.lindemann_metal, b.table.lindemann_metal, rtol=0.01)


def test_melting_estimate_on_a_known_crossing():
    T = np.linspace(300, 1500, 61)
    ratio = 0.02 + 0.1 * np.clip((T - 900) / 200, 0, None)  # 0.10 at 1060 K, 0.15 at 1160 K
    tm = melting_estimate(T, ratio)
    assert tm["crossings_K"]["0.1"] == pytest.approx(1060, abs=1)
    assert tm["crossings_K"]["0.15"] == pytest.approx(1160, abs=1)
    assert tm["Tm_K"] == pytest.approx(1110, abs=1)
    assert tm["Tm_err_K"] == pytest.approx(50, abs=1)
    # never crossing: no Tm, an explicit note
    none = melting_estimate(T, np.full_like(T, 0.05))
    assert none["Tm_K"] is None and "stays below" in none["note"]
    # only the lower threshold crossed: a lower bound
    low = melting_estimate(T, np.where(T > 1000, 0.12, 0.05))
    assert low["Tm_K"] == pytest.approx(1000, abs=25) and "lower bound" in low["note"]


def test_window_too_short_is_an_input_error():
    from zifsim.errors import InputError
    with pytest.raises(InputError, match="window"):
        Lindemann(window=1)


def test_overlapping_windows(tmp_path, lattice):
    rundir = write_synthetic_run(tmp_path / "run", lattice, [("heat", 200, 2000)], frames_per_stage=40,
                                 sigma_per_sqrtK=0.004, seed=2)
    frames = list(iter_run(rundir))
    a = Lindemann(window=10).run(frames).table
    b = Lindemann(window=10, stride=5).run(frames).table
    assert len(a) == 4 and len(b) == 7
    # every other overlapping window is one of the non-overlapping ones
    np.testing.assert_allclose(b.lindemann_metal.iloc[::2].to_numpy(), a.lindemann_metal.to_numpy())
    np.testing.assert_allclose(b.step0.iloc[::2].to_numpy(), a.step0.to_numpy())
