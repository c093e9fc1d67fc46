"""Unit conversions between zifsim (fs, ps, K, bar, eV) and LAMMPS real / metal units (no LAMMPS)."""
from __future__ import annotations

import pytest
from ase import units as ase_units

from zifsim.engine.units import unit_system
from zifsim.errors import ConfigError


def test_real_units():
    real = unit_system("real")
    assert real.time_from_fs(0.25) == 0.25                      # real time unit is fs
    assert real.pressure_from_bar(1.01325) == pytest.approx(1.0)  # atm
    assert real.eV_per_energy == pytest.approx(ase_units.kcal / ase_units.mol, rel=1e-6)
    assert real.force_from_eV_per_A(1.0) == pytest.approx(23.0605, rel=1e-4)


def test_metal_units():
    metal = unit_system("metal")
    assert metal.time_from_fs(250.0) == pytest.approx(0.25)     # metal time unit is ps
    assert metal.pressure_from_bar(1000.0) == 1000.0
    assert metal.eV_per_energy == 1.0


def test_unknown_units():
    with pytest.raises(ConfigError, match="lj"):
        unit_system("lj")
