"""Chemical constants of ZIFs used by building, cleaning and validation.

Distances in Å. Values are standard crystallographic numbers; where a
choice was made (cut-offs, targets) the reason is given beside it.
"""
from __future__ import annotations

from ase.data import atomic_numbers, chemical_symbols, covalent_radii

#: THE metals / M-N table of zifsim (every module reads it from here).
#:
#: ``bond_A`` is the tetrahedral M(II)-N(imidazolate) bond of crystal structures
#: (Zn 1.99 in ZIF-4, Co 1.98 in ZIF-4(Co)/ZIF-67, Cu 2.00 in ZIF-Cu-1, Cd 2.21
#: in Cd(im)2, Fe 2.03; Mn, Ni, Mg from their tetrahedral imidazolates; Li and B
#: are the nodes of boron imidazolate frameworks, Li-N ~2.05, B-N ~1.55 Å, no
#: reference cell in zifsim). It is the target when one metal replaces another
#: and the edge length when a net is decorated. ``range_A`` is the bond length
#: accepted in a validated crystal; ``tau4_min`` the smallest tau4 accepted for
#: metals that are tetrahedral in ZIF crystals (Zn ZIFs 0.95-1, X24: 0.97 / 0.95
#: in ZIF-zni, 0.92-0.95 in the DFT zni cell, ZIF-70 0.915; Cu is 0.47 in
#: ZIF-Cu-1 and metals without reference data are not checked). Order = the
#: order metals are listed in (tables, columns, "the first metal").
METAL_TABLE: dict[str, dict] = {
    "Zn": {"bond_A": 1.99, "range_A": (1.90, 2.40), "tau4_min": 0.80},
    "Co": {"bond_A": 1.98, "range_A": (1.90, 2.40), "tau4_min": 0.80},
    "Cd": {"bond_A": 2.21, "range_A": (2.05, 2.50), "tau4_min": None},
    "Cu": {"bond_A": 2.00, "range_A": (1.90, 2.40), "tau4_min": None},
    "Fe": {"bond_A": 2.03, "range_A": (1.90, 2.40), "tau4_min": None},
    "Mn": {"bond_A": 2.10, "range_A": (1.90, 2.40), "tau4_min": None},
    "Ni": {"bond_A": 1.98, "range_A": (1.90, 2.40), "tau4_min": None},
    "Mg": {"bond_A": 2.05, "range_A": (1.90, 2.40), "tau4_min": None},
    "Li": {"bond_A": 2.05, "range_A": (1.90, 2.40), "tau4_min": None},
    "B": {"bond_A": 1.55, "range_A": (1.45, 1.70), "tau4_min": None},
}

#: Metals zifsim recognises as tetrahedral ZIF nodes (set; :func:`metals_in` keeps the table order).
METALS = frozenset(METAL_TABLE)
#: Non-metal elements a ZIF framework (linkers) may contain.
ORGANIC = frozenset({"H", "C", "N", "O", "Cl", "Br"})
#: Every element a ZIF cell may contain.
ALLOWED_ELEMENTS = METALS | ORGANIC

#: THE coordination convention (``zifsim validate``, ``zifsim analyse``, net and
#: topology checks): a metal and an N are bonded when closer than
#: ``MN_CUTOFF_FACTOR`` x the metal's crystal M-N bond (Zn 2.49, Co 2.48, Cu
#: 2.50, Cd 2.76 Å): a bond stretched by more than 25 % counts as broken. Why this
#: and not the first minimum of g_MN(r): it is the same number for every
#: structure, frame, run and code, so CN is comparable between them; it sits in
#: the empty gap between the first shell and the next N (20 AIMD ZIF-4/ZIF-8
#: glasses of ../shared/reference: longest Zn-N bond 2.36 A, nearest
#: non-bonded N 2.75 A, most >= 3.25 A; every committed crystal: next N beyond
#: 3.4 A), while the first histogram minimum of one small glass fell inside the
#: first peak (2.23-2.35 A) in 3 of those 20 (docs/coordination.md).
MN_CUTOFF_FACTOR = 1.25
MN_CUTOFF_RULE = (f"M-N bonded when d < {MN_CUTOFF_FACTOR:g} x the crystal M-N bond of the metal "
                  "(zifsim.structures.chemistry.METAL_TABLE)")

#: Target mean M-N bond (Å) of each metal (the table's ``bond_A``).
MN_TARGET_A = {m: row["bond_A"] for m, row in METAL_TABLE.items()}
#: Smallest tau4 accepted in a validated crystal, for the metals that have one.
TAU4_MIN = {m: row["tau4_min"] for m, row in METAL_TABLE.items() if row["tau4_min"] is not None}

#: Covalent bonds between non-metal atoms: r < factor * (r_cov,i + r_cov,j).
#: 1.2 catches X-ray C-H (0.93 Å) and long C-Cl (1.75 Å) but never the
#: 2.2 Å N...N across an imidazolate ring.
COVALENT_FACTOR = 1.2

#: Ideal C-H bond lengths (Å) of neutron / DFT structures: aromatic sp2 C-H
#: and methyl sp3 C-H. X-ray refinements give 0.93-0.96 Å (riding H).
CH_AROMATIC_A = 1.08
CH_METHYL_A = 1.09

#: Two atoms closer than this (Å) make a cell unphysical.
MIN_DISTANCE_A = 0.9


def is_element(symbol: str) -> bool:
    """True if ``symbol`` is a chemical element symbol (case-sensitive, e.g. 'Zn')."""
    return symbol in atomic_numbers and symbol != "X"


def _row(metal: str) -> dict:
    try:
        return METAL_TABLE[metal]
    except KeyError:
        from zifsim.errors import InputError
        raise InputError(f"{metal!r} is not a metal zifsim knows", where="metal",
                         fix=f"use one of {', '.join(METAL_TABLE)} (zifsim.structures.chemistry.METAL_TABLE)") from None


def mn_bond(metal: str) -> float:
    """Tetrahedral M-N bond length (Å) of ``metal`` in crystals (the table's ``bond_A``)."""
    return _row(metal)["bond_A"]


def mn_cutoff(metal: str) -> float:
    """Largest M-N distance (Å) counted as a bond for ``metal``: :data:`MN_CUTOFF_FACTOR` x
    :func:`mn_bond`, rounded to 0.01 Å (the one coordination convention of zifsim)."""
    return round(MN_CUTOFF_FACTOR * mn_bond(metal), 2)


def mn_cutoffs(metals) -> dict[str, float]:
    """{metal: :func:`mn_cutoff`} for the given metal symbols (Å)."""
    return {m: mn_cutoff(m) for m in metals}


def mn_range(metal: str) -> tuple[float, float]:
    """Accepted (low, high) M-N bond length (Å) for ``metal`` in a validated cell."""
    return tuple(_row(metal)["range_A"])


def metals_in(elements) -> list[str]:
    """The metals among ``elements`` (any iterable of symbols), in :data:`METAL_TABLE` order."""
    present = set(str(e) for e in elements)
    return [m for m in METAL_TABLE if m in present]


def covalent_cutoff(a: str, b: str) -> float:
    """Bond cut-off (Å) between two non-metal elements ``a`` and ``b``."""
    return COVALENT_FACTOR * (covalent_radii[atomic_numbers[a]] + covalent_radii[atomic_numbers[b]])


__all__ = ["METAL_TABLE", "METALS", "ORGANIC", "ALLOWED_ELEMENTS", "MN_TARGET_A", "TAU4_MIN",
           "MN_CUTOFF_FACTOR", "MN_CUTOFF_RULE", "CH_AROMATIC_A", "CH_METHYL_A", "MIN_DISTANCE_A",
           "is_element", "mn_bond", "mn_cutoff", "mn_cutoffs", "mn_range", "metals_in",
           "covalent_cutoff", "chemical_symbols"]
