"""Pores: analytic largest included sphere; Zeo++ (pyzeo) against the independent grid method."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from zifsim.analysis.pores import GridPores, ZeoPores, probe_radius
from zifsim.analysis.synthetic import zif4_crystal
from zifsim.errors import InputError

#: simple cubic carbon, a = 6 Å, R_C = 1.7 Å: the body-centre sphere
SC_LIS = 2 * (6.0 * np.sqrt(3) / 2 - 1.7)  # 6.992 Å


@pytest.fixture(scope="module")
def simple_cubic():
    return Atoms("C", positions=[[0, 0, 0]], cell=[6, 6, 6], pbc=True)


def test_grid_lis_simple_cubic_analytic(simple_cubic):
    g = GridPores(spacing=0.27).compute(simple_cubic, probes=("He",))  # off-grid centre: refined
    assert g.lis_A == pytest.approx(SC_LIS, abs=2e-3)
    # probe-centre volume: all space farther than R + r_p from the atom (spheres do not overlap)
    rp = probe_radius("He")
    expected = 1 - 4 / 3 * np.pi * (1.7 + rp) ** 3 / 216
    assert g.probe_centre_fraction["He"] == pytest.approx(expected, abs=0.01)
    assert g.void_fraction == pytest.approx(1 - 4 / 3 * np.pi * 1.7 ** 3 / 216, abs=0.01)


def test_zeo_lis_simple_cubic_analytic(simple_cubic):
    z = ZeoPores(mc_samples=20000).compute(simple_cubic, probes=("He",))
    assert z.di_A == pytest.approx(SC_LIS, abs=1e-3)
    rp = probe_radius("He")
    expected = 1 - 4 / 3 * np.pi * (1.7 + rp) ** 3 / 216
    assert z.probe_centre_fraction["He"] == pytest.approx(expected, abs=0.015)


def test_triclinic_cell_same_as_rotated_orthogonal_description(simple_cubic):
    """A sheared (but equivalent) cell of the same lattice gives the same LIS."""
    sheared = simple_cubic.copy()
    sheared.set_cell([[6, 0, 0], [6, 6, 0], [0, 6, 6]], scale_atoms=False)  # same lattice points
    g = GridPores(spacing=0.25).compute(sheared, probes=("He",))
    assert g.lis_A == pytest.approx(SC_LIS, abs=2e-3)


def test_zeo_and_grid_agree_on_zif4():
    try:
        atoms = zif4_crystal()
    except Exception as exc:
        pytest.skip(f"ZIF-4 crystal unavailable: {exc}")
    g = GridPores(spacing=0.25).compute(atoms, probes=("He", "N2"))
    z = ZeoPores(mc_samples=5000).compute(atoms, probes=("He", "N2"), psd=True)
    # Zeo++ without -ha uses radical Voronoi faces: Di of mixed-radius frameworks is ~0.1-0.2 Å off
    assert g.lis_A == pytest.approx(z.di_A, abs=0.2)
    assert 4.5 < z.di_A < 5.5  # ZIF-4 cage
    for probe in ("He", "N2"):
        assert g.probe_centre_fraction[probe] == pytest.approx(z.probe_centre_fraction[probe], abs=0.01)
    d, f = z.psd
    assert f.sum() == pytest.approx(1.0)
    gd, gf = g.psd()
    assert gf.sum() == pytest.approx(1.0, abs=0.02)
    assert gd[gf > 0.001].max() <= g.lis_A + 0.1  # no void point in a sphere larger than the LIS
    assert 3.0 < gd[np.argmax(gf)] <= g.lis_A + 0.1


def test_unknown_probe_is_an_input_error():
    with pytest.raises(InputError, match="unknown probe"):
        probe_radius("Xe2")


def test_grid_psd_simple_cubic(simple_cubic):
    """sc lattice: the one pore is the body-centre sphere; its PSD ends at the LIS."""
    g = GridPores(spacing=0.2).compute(simple_cubic, probes=())
    d, f = g.psd(bin_A=0.1)
    assert f.sum() == pytest.approx(1.0, abs=0.02)
    assert d[f > 1e-3].max() == pytest.approx(SC_LIS, abs=0.15)
    # most void lies in spheres of 5-7 Å diameter (corners near atoms are in smaller ones)
    assert f[(d > 5.0)].sum() > 0.6
