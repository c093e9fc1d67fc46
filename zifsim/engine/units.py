"""Conversion between zifsim's physical units and LAMMPS unit styles.

zifsim: time fs/ps, temperature K, pressure bar, energy eV, length Å, density g/cm³.
LAMMPS ``real``: time fs, pressure atm, energy kcal/mol. ``metal``: time ps,
pressure bar, energy eV. Length Å, temperature K and density g/cm³ in both.
"""
from __future__ import annotations

from dataclasses import dataclass

from zifsim.errors import ConfigError

#: 1 kcal/mol in eV (CODATA 2018, as used by LAMMPS ``real`` -> ``metal``)
KCAL_PER_MOL_IN_EV = 0.0433641042
#: 1 atm in bar
ATM_IN_BAR = 1.01325


@dataclass(frozen=True)
class UnitSystem:
    """Factors that turn zifsim units into one LAMMPS unit style."""
    name: str
    fs_per_time: float        # 1 LAMMPS time unit in fs
    bar_per_pressure: float   # 1 LAMMPS pressure unit in bar
    eV_per_energy: float      # 1 LAMMPS energy unit in eV

    def time_from_fs(self, fs: float) -> float:
        """fs -> LAMMPS time units."""
        return fs / self.fs_per_time

    def pressure_from_bar(self, bar: float) -> float:
        """bar -> LAMMPS pressure units."""
        return bar / self.bar_per_pressure

    def force_from_eV_per_A(self, f: float) -> float:
        """eV/Å -> LAMMPS force units."""
        return f / self.eV_per_energy


UNITS = {"real": UnitSystem("real", 1.0, ATM_IN_BAR, KCAL_PER_MOL_IN_EV),
         "metal": UnitSystem("metal", 1000.0, 1.0, 1.0)}


def unit_system(name: str) -> UnitSystem:
    """The :class:`UnitSystem` of a LAMMPS unit style (``real`` or ``metal``)."""
    try:
        return UNITS[name]
    except KeyError:
        raise ConfigError(f"unsupported LAMMPS units {name!r}", where="provider.units",
                          fix=f"providers must use one of {', '.join(UNITS)}") from None
