"""Imidazolate linkers: recognise them, complete their hydrogens, build templates.

Known linkers (``zifsim/data/linkers.yaml``): im, mim, bim, Clbim, mbim, nim.
A linker is a connected organic group once the metal-N bonds are cut; it is
recognised from its heavy-atom formula.

Hydrogen rule (documented, applied by :func:`complete_hydrogens`): a carbon
with two or three heavy neighbours is aromatic and carries ``3 - n_heavy`` H
at 1.08 Å along the outer bisector of its ring bonds; a carbon with one heavy
neighbour is a methyl group carrying three H at 1.09 Å, tetrahedral, one H
perpendicular to the ring (an incomplete methyl is rebuilt whole). Existing
C-H bonds keep their direction and are set to those lengths (X-ray riding H
sit at 0.93-0.96 Å).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from zifsim.errors import StructureError
from zifsim.registry import linker_table
from zifsim.structures.chemistry import CH_AROMATIC_A, CH_METHYL_A
from zifsim.structures.neighbours import neighbour_pairs
from zifsim.structures.topology import BondGraph, bond_graph, unwrapped_positions

#: closest (Å) a newly placed H may come to any atom other than its carbon
H_CLASH_A = 1.5


def identify(heavy_counts: dict[str, int]) -> str | None:
    """Linker name for a heavy-atom composition (e.g. ``{'C': 7, 'N': 2}`` -> ``'bim'``)."""
    key = {k: v for k, v in heavy_counts.items() if k != "H" and v}
    for name, entry in linker_table().items():
        if entry["heavy"] == key:
            return name
    return None


@dataclass
class Linker:
    """One linker in a cell: its name, atom indices and imidazolate ring roles."""

    name: str
    indices: np.ndarray
    ring: dict[str, int] = field(default_factory=dict)  # N1, C2, N3, C4, C5 -> atom index


def _formula(symbols) -> str:
    counts = Counter(symbols)
    order = ["C", "H"] + sorted(k for k in counts if k not in ("C", "H"))
    return "".join(f"{k}{counts[k] if counts[k] > 1 else ''}" for k in order if counts.get(k))


def find_linkers(atoms: Atoms, graph: BondGraph | None = None, source: str | None = None,
                 strict: bool = True) -> list[Linker]:
    """All linkers of a framework cell (guests must be removed first).

    With ``strict`` an organic group that is no known linker raises
    :class:`StructureError`; otherwise it is returned with name ``"?<formula>"``.
    """
    graph = graph or bond_graph(atoms)
    sym = np.array(atoms.get_chemical_symbols())
    out = []
    for comp in graph.components(without_metals=True):
        if len(comp) == 1 and graph.is_metal[comp[0]]:
            continue
        heavy = Counter(s for s in sym[comp] if s != "H")
        name = identify(dict(heavy))
        if name is None:
            if strict:
                known = ", ".join(f"{k} ({v['formula']})" for k, v in linker_table().items())
                raise StructureError(
                    f"unrecognised organic group {_formula(sym[comp])} (atoms {_short(comp)})",
                    source=source, fix=f"zifsim knows the linkers {known}; remove the group "
                                       "or add a template to zifsim/data/linkers.yaml")
            name = "?" + _formula(sym[comp])
        out.append(Linker(name, comp, _ring_roles(comp, graph, sym)))
    return out


def _short(indices) -> str:
    idx = [int(i) + 1 for i in indices]
    return ", ".join(map(str, idx[:6])) + (" ..." if len(idx) > 6 else "")


def _ring_roles(comp: np.ndarray, graph: BondGraph, sym: np.ndarray) -> dict[str, int]:
    """Indices of N1, C2, N3, C4, C5 of the imidazolate ring (empty if not found)."""
    comp_set = set(comp.tolist())
    nb = {int(a): [int(b) for b in graph.neighbours(a) if int(b) in comp_set] for a in comp}
    ring_n = [a for a in nb if sym[a] == "N" and sum(sym[b] == "C" for b in nb[a]) >= 2]
    if len(ring_n) != 2:
        return {}
    n1, n3 = sorted(ring_n)
    c2 = [c for c in nb[n1] if c in nb[n3] and sym[c] == "C"]
    c5 = [c for c in nb[n1] if sym[c] == "C" and c not in c2]
    c4 = [c for c in nb[n3] if sym[c] == "C" and c not in c2]
    if len(c2) != 1 or len(c4) != 1 or len(c5) != 1:
        return {}
    return {"N1": n1, "C2": c2[0], "N3": n3, "C4": c4[0], "C5": c5[0]}


# ----------------------------------------------------------------------------- hydrogens
def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def methyl_hydrogens(c_methyl: np.ndarray, c_anchor: np.ndarray, ring_normal: np.ndarray,
                     bond_A: float = CH_METHYL_A) -> np.ndarray:
    """Three tetrahedral methyl H positions (Å), one perpendicular to the ring plane."""
    axis = _unit(c_methyl - c_anchor)
    p2 = _unit(ring_normal - (ring_normal @ axis) * axis)
    p1 = np.cross(p2, axis)
    tet = np.deg2rad(109.4712)
    out = []
    for phi in np.deg2rad([90.0, 210.0, 330.0]):
        direction = -np.cos(tet) * axis + np.sin(tet) * (np.cos(phi) * p1 + np.sin(phi) * p2)
        out.append(c_methyl + bond_A * direction)
    return np.array(out)


def complete_hydrogens(atoms: Atoms, source: str | None = None) -> tuple[Atoms, dict]:
    """Add missing linker H and set every C-H bond to its ideal length.

    Returns ``(new_atoms, stats)`` with ``stats = {"added": n, "rebuilt_methyl":
    n, "adjusted": n, "ch_before_A": [min, max]}``. Raises
    :class:`StructureError` when a carbon has too many H, an H sits on N, or a
    missing H has no room (closer than 1.5 Å to another atom).
    """
    graph = bond_graph(atoms)
    sym = np.array(atoms.get_chemical_symbols())
    pos = atoms.positions.copy()
    is_h = sym == "H"
    remove: set[int] = set()
    new_h: list[np.ndarray] = []
    stats = {"added": 0, "rebuilt_methyl": 0, "adjusted": 0}
    ch_lengths = []
    for a in np.flatnonzero(is_h):
        partners = graph.neighbours(a)
        heavy = [b for b in partners if sym[b] != "H"]
        if any(sym[b] == "N" for b in heavy) and not any(sym[b] == "C" for b in heavy):
            raise StructureError(
                f"H{a + 1} is bonded to N: an N-H group means a neutral imidazole, not a "
                f"bridging imidazolate", source=source,
                fix="remove the protonated (terminal) ligand or the misplaced H")
    for c in np.flatnonzero(sym == "C"):
        sel = graph.pairs.i == c
        nbrs, vecs = graph.pairs.j[sel], graph.pairs.vectors[sel]
        heavy = [(b, v) for b, v in zip(nbrs, vecs) if sym[b] != "H" and not graph.is_metal[b]]
        hyd = [(b, v) for b, v in zip(nbrs, vecs) if sym[b] == "H"]
        n_heavy = len(heavy)
        if n_heavy == 0:
            if hyd:
                continue  # a methane-like guest is the cleaner's job
            raise StructureError(f"C{c + 1} has no bonded neighbour: its H cannot be placed",
                                 source=source, fix="check the structure for missing or disordered atoms")
        methyl = n_heavy == 1
        expected = 4 - n_heavy if methyl else 3 - n_heavy
        if len(hyd) > expected:
            raise StructureError(f"C{c + 1} carries {len(hyd)} H but can take only {expected} "
                                 f"(sp{'3' if methyl else '2'} carbon with {n_heavy} heavy neighbours)",
                                 source=source, fix="remove duplicate or disordered H sites")
        bond = CH_METHYL_A if methyl else CH_AROMATIC_A
        for b, v in hyd:
            ch_lengths.append(np.linalg.norm(v))
        if len(hyd) == expected:
            for b, v in hyd:
                d = np.linalg.norm(v)
                if abs(d - bond) > 1e-6:
                    stats["adjusted"] += 1
                pos[b] = pos[c] + bond * v / d
            continue
        if not methyl:
            u = sum(_unit(v) for _, v in heavy)
            if expected != 1 or np.linalg.norm(u) < 0.2:
                raise StructureError(f"missing H on C{c + 1} cannot be placed: its bonds are "
                                     f"collinear", source=source,
                                     fix="check the linker geometry (disorder or missing atoms)")
            new_h.append(pos[c] - bond * _unit(u))
            stats["added"] += 1
        else:
            (anchor, v_anchor), = heavy
            a_nb = [(b2, v2) for b2, v2 in zip(graph.pairs.j[graph.pairs.i == anchor],
                                                graph.pairs.vectors[graph.pairs.i == anchor])
                    if sym[b2] != "H" and b2 != c and not graph.is_metal[b2]]
            if len(a_nb) < 2:
                raise StructureError(f"missing methyl H on C{c + 1} cannot be placed: its ring is "
                                     f"incomplete", source=source, fix="check the linker atoms")
            normal = np.cross(a_nb[0][1], a_nb[1][1])
            for b, _ in hyd:
                remove.add(int(b))
            for h in methyl_hydrogens(pos[c], pos[c] + v_anchor, normal):
                new_h.append(h)
            stats["added"] += 3 - len(hyd)
            stats["rebuilt_methyl"] += 1
    keep = np.array([k not in remove for k in range(len(atoms))], bool)
    out = Atoms(sym[keep].tolist() + ["H"] * len(new_h),
                positions=np.vstack([pos[keep]] + ([np.array(new_h)] if new_h else [])),
                cell=atoms.cell, pbc=True)
    if new_h:
        _check_new_h(out, np.arange(keep.sum(), len(out)), source)
    stats["ch_before_A"] = [float(min(ch_lengths)), float(max(ch_lengths))] if ch_lengths else None
    return out, stats


def _check_new_h(atoms: Atoms, new: np.ndarray, source: str | None) -> None:
    pairs = neighbour_pairs(atoms, H_CLASH_A)
    sym = np.array(atoms.get_chemical_symbols())
    is_new = np.zeros(len(atoms), bool)
    is_new[new] = True
    for i, j, d in zip(pairs.i, pairs.j, pairs.distances):
        if is_new[i] and not (sym[j] == "C" and d < 1.2):
            raise StructureError(f"missing H cannot be placed: the new H{i + 1} would sit {d:.2f} Å "
                                 f"from {sym[j]}{j + 1}", source=source,
                                 fix="the linker geometry is wrong or another atom occupies the H "
                                     "site (disorder?); fix the structure or add the H yourself")


# ----------------------------------------------------------------------------- templates
RING_A = 1.38       # imidazolate ring bond (Å): N-C2 1.33, N-C4 1.38, C4-C5 1.36 in ZIF-4
BENZO_A = 1.39      # benzo ring C-C (Å)
C_METHYL_A = 1.49   # C(ring)-CH3 (Å)
C_NITRO_A = 1.45    # C-NO2 (Å)
NO_A = 1.22         # N-O (Å), O-N-O 124°
C_CL_A = 1.74       # C-Cl (Å)


def template(name: str) -> tuple[list[str], np.ndarray]:
    """Ideal planar geometry of linker ``name`` in its local frame.

    Frame: origin at the midpoint of N1...N3, x along N1->N3, y towards C2,
    z normal to the ring. Atom order: N1, N3, C2, C4, C5, then the rest.
    Positions in Å.
    """
    if name not in linker_table():
        raise StructureError(f"no template for linker {name!r}", where="linker",
                             fix=f"use one of {', '.join(linker_table())}")
    radius = RING_A / (2 * np.sin(np.pi / 5))
    ang = {k: np.deg2rad(v) for k, v in {"N1": 162.0, "N3": 18.0, "C2": 90.0, "C4": -54.0, "C5": -126.0}.items()}
    centre = np.array([0.0, -radius * np.sin(np.deg2rad(18.0)), 0.0])
    ring = {k: centre + radius * np.array([np.cos(a), np.sin(a), 0.0]) for k, a in ang.items()}
    symbols = ["N", "N", "C", "C", "C"]
    xyz = [ring["N1"], ring["N3"], ring["C2"], ring["C4"], ring["C5"]]

    def radial(p, c, d):
        return p + d * _unit(p - c)

    z = np.array([0.0, 0.0, 1.0])
    # substituent at C2
    if name == "mim":
        cm = radial(ring["C2"], centre, C_METHYL_A)
        symbols += ["C", "H", "H", "H"]
        xyz += [cm, *methyl_hydrogens(cm, ring["C2"], z)]
    elif name == "nim":
        nn = radial(ring["C2"], centre, C_NITRO_A)
        u = _unit(nn - ring["C2"])
        perp = np.cross(z, u)
        half = np.deg2rad(62.0)
        symbols += ["N", "O", "O"]
        xyz += [nn, nn + NO_A * (np.cos(half) * u + np.sin(half) * perp),
                nn + NO_A * (np.cos(half) * u - np.sin(half) * perp)]
    else:
        symbols.append("H")
        xyz.append(radial(ring["C2"], centre, CH_AROMATIC_A))
    # backbone C4-C5: H (imidazoles) or a fused benzo ring
    if name in ("im", "mim", "nim"):
        symbols += ["H", "H"]
        xyz += [radial(ring["C4"], centre, CH_AROMATIC_A), radial(ring["C5"], centre, CH_AROMATIC_A)]
    else:
        mid = 0.5 * (ring["C4"] + ring["C5"])
        edge = np.linalg.norm(ring["C4"] - ring["C5"])
        hex_c = mid + _unit(mid - centre) * np.sqrt(BENZO_A ** 2 - (edge / 2) ** 2)
        # walk round the hexagon from C4 (C3a) away from C5 (C7a): positions 4, 5, 6, 7
        start = ring["C4"] - hex_c
        sign = 1.0 if np.cross(start, ring["C5"] - hex_c)[2] < 0 else -1.0
        ring6 = []
        for k in range(1, 5):
            t = sign * np.deg2rad(60.0 * k)
            rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])
            ring6.append(hex_c + rot @ (start * BENZO_A / np.linalg.norm(start)))
        for pos_no, p in zip((4, 5, 6, 7), ring6):
            symbols.append("C")
            xyz.append(p)
            if pos_no == 5 and name == "Clbim":
                symbols.append("Cl")
                xyz.append(radial(p, hex_c, C_CL_A))
            elif pos_no == 5 and name == "mbim":
                cm = radial(p, hex_c, C_METHYL_A)
                symbols += ["C", "H", "H", "H"]
                xyz += [cm, *methyl_hydrogens(cm, p, z)]
            else:
                symbols.append("H")
                xyz.append(radial(p, hex_c, CH_AROMATIC_A))
    xyz = np.array(xyz)
    xyz -= 0.5 * (xyz[0] + xyz[1])
    return symbols, xyz


def ring_frame(n1: np.ndarray, n3: np.ndarray, c2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(origin, rotation rows x, y, z) of the local linker frame from ring atoms (Å)."""
    x = _unit(n3 - n1)
    origin = 0.5 * (n1 + n3)
    y = c2 - origin
    y = _unit(y - (y @ x) * x)
    return origin, np.array([x, y, np.cross(x, y)])


def placed_template(name: str, n1: np.ndarray, n3: np.ndarray, c2: np.ndarray
                    ) -> tuple[list[str], np.ndarray]:
    """Template of ``name`` placed on a ring whose N1, N3, C2 sit at the given positions (Å)."""
    symbols, local = template(name)
    origin, rot = ring_frame(n1, n3, c2)
    return symbols, origin + local @ rot


def linker_positions(atoms: Atoms, graph: BondGraph, linker: Linker) -> dict[int, np.ndarray]:
    """Unwrapped Cartesian positions (Å) of a linker's atoms, keyed by atom index."""
    xyz = unwrapped_positions(atoms, graph, linker.indices)
    return {int(k): p for k, p in zip(linker.indices, xyz)}
