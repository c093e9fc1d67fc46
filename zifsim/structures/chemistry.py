"""Chemical constants of ZIFs used by building, cleaning and validation.

Distances in Å. Values are standard crystallographic numbers; where a
choice was made (cut-offs, targets) the reason is given beside it.
"""
from __future__ import annotations

from ase.data import atomic_numbers, chemical_symbols, covalent_radii

#: Metals zifsim recognises as tetrahedral ZIF nodes.
METALS = frozenset({"Zn", "Co", "Cu", "Cd", "Fe", "Mn", "Ni", "Mg"})
#: Non-metal elements a ZIF framework (linkers) may contain.
ORGANIC = frozenset({"H", "C", "N", "O", "Cl", "Br"})
#: Every element a ZIF cell may contain.
ALLOWED_ELEMENTS = METALS | ORGANIC

#: Upper M-N distance (Å) counted as a coordination bond. The first M-N shell of
#: a M(im)4 tetrahedron sits at 1.95-2.05 Å (Zn, Co, Cu) or 2.20-2.25 Å (Cd); the
#: next N (across the linker ring) is beyond 3 Å, so 2.5 / 2.75 Å is unambiguous.
MN_BOND_CUTOFF_A = {"Cd": 2.75}
MN_BOND_CUTOFF_DEFAULT_A = 2.5

#: Accepted range (Å) of a M-N bond in a validated cell.
MN_RANGE_A = {"Cd": (2.05, 2.50)}
MN_RANGE_DEFAULT_A = (1.90, 2.40)

#: Target mean M-N bond (Å) used when one metal is substituted for another:
#: tetrahedral M(II)-N(imidazolate) in crystal structures (Zn 1.99 in ZIF-4,
#: Co 1.98 in ZIF-4(Co)/ZIF-67, Cu 2.00 in ZIF-Cu-1, Cd 2.21 in Cd(im)2, Fe 2.03).
MN_TARGET_A = {"Zn": 1.99, "Co": 1.98, "Cu": 2.00, "Cd": 2.21, "Fe": 2.03,
               "Mn": 2.10, "Ni": 1.98, "Mg": 2.05}

#: Covalent bonds between non-metal atoms: r < factor * (r_cov,i + r_cov,j).
#: 1.2 catches X-ray C-H (0.93 Å) and long C-Cl (1.75 Å) but never the
#: 2.2 Å N...N across an imidazolate ring.
COVALENT_FACTOR = 1.2

#: Ideal C-H bond lengths (Å) of neutron / DFT structures: aromatic sp2 C-H
#: and methyl sp3 C-H. X-ray refinements give 0.93-0.96 Å (riding H).
CH_AROMATIC_A = 1.08
CH_METHYL_A = 1.09

#: Smallest tau4 accepted for metals that are tetrahedral in ZIF crystals: Zn ZIFs
#: have tau4 = 0.95-1 (X24: 0.97 / 0.95 in ZIF-zni; 0.92-0.95 in the DFT zni cell),
#: ZIF-70 0.915; Cu (0.47 in ZIF-Cu-1) and metals without reference data are not checked.
TAU4_MIN = {"Zn": 0.80, "Co": 0.80}

#: Two atoms closer than this (Å) make a cell unphysical.
MIN_DISTANCE_A = 0.9


def is_element(symbol: str) -> bool:
    """True if ``symbol`` is a chemical element symbol (case-sensitive, e.g. 'Zn')."""
    return symbol in atomic_numbers and symbol != "X"


def mn_cutoff(metal: str) -> float:
    """Largest M-N distance (Å) counted as a bond for ``metal``."""
    return MN_BOND_CUTOFF_A.get(metal, MN_BOND_CUTOFF_DEFAULT_A)


def mn_range(metal: str) -> tuple[float, float]:
    """Accepted (low, high) M-N bond length (Å) for ``metal`` in a validated cell."""
    return MN_RANGE_A.get(metal, MN_RANGE_DEFAULT_A)


def covalent_cutoff(a: str, b: str) -> float:
    """Bond cut-off (Å) between two non-metal elements ``a`` and ``b``."""
    return COVALENT_FACTOR * (covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])


__all__ = ["METALS", "ORGANIC", "ALLOWED_ELEMENTS", "MN_TARGET_A", "CH_AROMATIC_A",
           "CH_METHYL_A", "MIN_DISTANCE_A", "is_element", "mn_cutoff", "mn_range",
           "covalent_cutoff", "chemical_symbols"]
