"""Cleaning a crystal structure into a framework: disorder, guests, elements.

Disorder rule (``disorder="major"``): sites with occupancy below 1 that lie
within 1.0 Å of each other are alternative positions of one disorder group;
the site with the highest occupancy of each group is kept (first in file
order on a tie) and the others dropped. A partially occupied site with no
alternative, or two fully occupied sites closer than 0.9 Å, cannot be
resolved and is refused. The default, ``disorder="refuse"``, refuses any
partial occupancy.

Guests: every connected group of atoms that contains no metal (DMF, water,
free imidazole ...) is removed; the framework is what remains.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
from ase import Atoms

from zifsim.errors import StructureError
from zifsim.structures.chemistry import ALLOWED_ELEMENTS, METALS, MIN_DISTANCE_A
from zifsim.structures.neighbours import neighbour_pairs
from zifsim.structures.topology import bond_graph

DISORDER_GROUP_A = 1.0  # alternative positions of one disordered atom lie closer than this (Å)
FULL_OCCUPANCY = 0.999
SHORT_XH_A = 0.7  # shortest X-ray X-H bond accepted as a bond (Å)


def resolve_disorder(atoms: Atoms, source: str | None = None, disorder: str = "refuse"
                     ) -> tuple[Atoms, dict]:
    """Resolve partial occupancies by the module's rule; returns (atoms, stats).

    ``disorder``: ``"refuse"`` (any partial site is an error) or ``"major"``
    (keep the major component of each disorder group).
    """
    if disorder not in ("refuse", "major"):
        raise StructureError(f"unknown disorder policy {disorder!r}", source=source, where="disorder",
                             fix="use 'refuse' or 'major'")
    occ = np.asarray(atoms.arrays.get("occupancy", np.ones(len(atoms))), float)
    partial = occ < FULL_OCCUPANCY
    pairs = neighbour_pairs(atoms, DISORDER_GROUP_A)
    is_h = np.array(atoms.get_chemical_symbols()) == "H"
    # X-ray C-H can be as short as 0.8 Å: an H on a heavy atom at >= 0.7 Å is a bond, not a clash
    short_xh = (is_h[pairs.i] != is_h[pairs.j]) & (pairs.distances >= SHORT_XH_A)
    full_clash = pairs.select(~partial[pairs.i] & ~partial[pairs.j] & (pairs.distances < MIN_DISTANCE_A)
                              & ~short_xh & (pairs.i < pairs.j))
    if len(full_clash.i):
        i, j, d = full_clash.i[0], full_clash.j[0], full_clash.distances[0]
        sym = atoms.get_chemical_symbols()
        raise StructureError(
            f"atoms {site_name(atoms, i)} and {site_name(atoms, j)} are {d:.2f} Å apart with full occupancy "
            f"({len(full_clash.i)} such pairs): unresolved disorder", source=source,
            fix="use an ordered structure (another refcode of the material, e.g. VEJYUF01 "
                "rather than VEJYUF for ZIF-4) or delete one component of the disorder")
    stats = {"partial_sites": int(partial.sum()), "dropped": 0}
    if not partial.any():
        return _without_occupancy(atoms), stats
    sym = atoms.get_chemical_symbols()
    listing = ", ".join(f"{site_name(atoms, k)} ({occ[k]:.2f})" for k in np.flatnonzero(partial)[:6])
    if disorder == "refuse":
        raise StructureError(
            f"{partial.sum()} atom sites have partial occupancy: {listing}"
            f"{' ...' if partial.sum() > 6 else ''}", source=source, where="_atom_site_occupancy",
            fix="give an ordered structure, or build with --disorder major to keep the major "
                "component of each disorder group")
    # group partial sites with their alternatives
    link = partial[pairs.i] & partial[pairs.j]
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    graph = coo_matrix((np.ones(link.sum()), (pairs.i[link], pairs.j[link])), shape=(len(atoms),) * 2)
    _, label = connected_components(graph, directed=False)
    drop = np.zeros(len(atoms), bool)
    for lab in np.unique(label[partial]):
        members = np.flatnonzero((label == lab) & partial)
        if len(members) == 1:
            k = members[0]
            raise StructureError(
                f"site {site_name(atoms, k)} has occupancy {occ[k]:.2f} and no alternative position "
                "within 1.0 Å: the disorder cannot be resolved by keeping the major component",
                source=source, where="_atom_site_occupancy",
                fix="edit the CIF to an ordered model (occupancy 1) or remove the site")
        keep = members[np.argmax(occ[members])]  # argmax: first on a tie
        drop[members[members != keep]] = True
    stats["dropped"] = int(drop.sum())
    return _without_occupancy(atoms[~drop]), stats


def site_name(atoms: Atoms, index: int) -> str:
    """CIF site label of atom ``index`` if known, else element + 1-based index (e.g. 'N12')."""
    labels = atoms.arrays.get("site_label")
    sym = atoms.get_chemical_symbols()[index]
    if labels is not None:
        return f"{labels[index]} (atom {index + 1})" if labels[index] != sym else f"{sym}{index + 1}"
    return f"{sym}{index + 1}"


def _without_occupancy(atoms: Atoms) -> Atoms:
    return Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=True)


def remove_guests(atoms: Atoms, source: str | None = None) -> tuple[Atoms, list[str]]:
    """Remove every connected group without a metal; returns (framework, guest formulas)."""
    graph = bond_graph(atoms)
    keep = np.zeros(len(atoms), bool)
    guests = []
    for comp in graph.components():
        if graph.is_metal[comp].any():
            keep[comp] = True
        else:
            guests.append(atoms[comp].get_chemical_formula(mode="hill"))
    if not keep.any():
        raise StructureError("the structure contains no metal: no framework to keep", source=source,
                             fix="give a ZIF structure (Zn, Co, Cu, Cd ... imidazolate)")
    return atoms[keep], sorted(guests)


def check_framework_elements(atoms: Atoms, source: str | None = None) -> None:
    """Refuse elements that cannot be part of a ZIF framework zifsim builds."""
    extra = sorted(set(atoms.get_chemical_symbols()) - ALLOWED_ELEMENTS)
    if extra:
        raise StructureError(
            f"framework contains element(s) {', '.join(extra)}, not part of a ZIF zifsim can build "
            f"(allowed: metals {' '.join(sorted(METALS))}; {' '.join(sorted(ALLOWED_ELEMENTS - METALS))})",
            source=source, fix="remove counter-ions / other metals, or extend zifsim.structures.chemistry")


#: elements that may occur in guests (solvent, counter-ions) and are removed with them
GUEST_ELEMENTS = frozenset({"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Br", "I"})


def clean_structure(atoms: Atoms, source: str | None = None, disorder: str = "refuse"
                    ) -> tuple[Atoms, dict]:
    """Disorder -> guests -> element check; returns (framework, provenance stats)."""
    foreign = sorted(set(atoms.get_chemical_symbols()) - METALS - GUEST_ELEMENTS)
    if foreign:
        raise StructureError(
            f"element(s) {', '.join(foreign)} cannot be part of a ZIF zifsim builds "
            f"(framework metals: {' '.join(sorted(METALS))})", source=source,
            fix="replace the metal (zifsim.structures.substitute.substitute_metal) or remove the atoms")
    atoms, dis = resolve_disorder(atoms, source, disorder)
    atoms, guests = remove_guests(atoms, source)
    check_framework_elements(atoms, source)
    return atoms, {"disorder": dis, "guests_removed": dict(Counter(guests))}
