"""Linker and metal substitution on a parent cell (ZIF-62 from ZIF-4, Co analogues ...).

Linker substitution ``im -> bim`` at ``x`` per metal (Zn(im)2-x(bim)x): each
replaced linker keeps its two N atoms (bonded to the metals) and gets the
ideal template of the new linker (:func:`zifsim.structures.linkers.template`)
in its ring plane, so every metal stays 4-coordinated. Sites are chosen

* ``order="ordered"``: deterministically, one at a time, the linker whose
  new atoms keep the largest shortest contact to the rest of the cell
  (ties: farthest from the linkers already substituted, then lowest index);
* ``order="random"``: in a random order drawn from ``seed``, skipping sites
  where the new linker would clash.

* ``order="spread"`` (with ``relax``, "place then relax"): the sites as far
  apart as possible (the first drawn from ``seed`` among the least-clashing
  sites, then each next one on metals that carry no new linker yet and
  farthest from those chosen), each new linker
  turned about its N...N axis (``rotations`` choices; both ways round for
  asymmetric linkers) to the orientation with the largest shortest contact.

A new atom closer than :data:`MIN_CONTACT_A` to another atom is a clash. With
``relax`` (any order) contacts down to :data:`PLACE_MIN_CONTACT_A` are
accepted and the whole cell (positions, then cell) is relaxed afterwards with
an MLIP (:func:`zifsim.structures.nets.relax_staged`, cached): dense
frameworks such as Cd(im)2 have no room for a rigid benzimidazolate.

Metal substitution (Zn -> Co, Cu, Cd ...) swaps the element and rescales the
cell so that the mean M-N bond reaches the new metal's target length
(:data:`zifsim.structures.chemistry.MN_TARGET_A`): metals move affinely with
the cell, linkers move rigidly with their centroid, so linker geometry is
kept. The coordination geometry is otherwise the parent's: a Zn -> Cu
substitution stays tetrahedral (tau4 ~0.97), it does not flatten to the
tau4 = 0.47 of ZIF-Cu-1; relax the cell with the force field for that.
"""
from __future__ import annotations

import numpy as np
from ase import Atoms

from zifsim.errors import InputError, StructureError
from zifsim.structures.chemistry import METALS, MN_TARGET_A
from zifsim.registry import linker_table
from zifsim.structures.linkers import find_linkers, placed_template
from zifsim.structures.neighbours import neighbour_pairs
from zifsim.structures.topology import bond_graph, unwrapped_positions
from zifsim.structures.validate import metal_coordination

#: shortest allowed distance (Å) between an atom of a new linker and any other atom
MIN_CONTACT_A = 1.7
#: the same when the cell is relaxed after the placement ("place then relax")
PLACE_MIN_CONTACT_A = 1.0
#: ... where also no pair may overlap by more than this beyond its contact radii
#: (:data:`CONTACT_RADII_A`): C...C >= 1.85 Å, H...C >= 1.45 Å: above the covalent cut-offs
PLACE_MIN_GAP_A = -0.15


def count_for_fraction(x: float, n_metal: int, n_available: int, source: str | None, new: str,
                       old: str) -> int:
    """Number of linkers to substitute for ``x`` per metal; error if impossible."""
    if not 0 < x <= 2:
        raise InputError(f"substitution fraction x = {x} is impossible: it must lie in (0, 2] "
                         "linkers per metal", source=source, where="substitute.linker.x",
                         fix=f"write the target as M({old})2-x({new})x with 0 < x <= 2")
    n = x * n_metal
    if abs(n - round(n)) > 1e-6:
        step = 1.0 / n_metal
        lo, hi = np.floor(n) * step, np.ceil(n) * step
        raise InputError(f"x = {x} {new} per metal needs {n:g} {new} linkers in this cell of "
                         f"{n_metal} metals: not a whole number", source=source, where="substitute.linker.x",
                         fix=f"use x = {lo:g} or {hi:g} here, or a supercell in which {x} x n_metal "
                             "is an integer")
    n = int(round(n))
    if n > n_available:
        raise InputError(f"x = {x} needs {n} {old} linkers to replace but the cell has only "
                         f"{n_available}", source=source, where="substitute.linker.x",
                         fix=f"lower x or start from a parent with more {old}")
    return n


def _substitution_sites(atoms: Atoms, old: str, new: str, x: float, source: str | None):
    """(bond graph, ``old`` ring linkers that may be replaced, how many to replace for ``x``);
    unknown linker names raise InputError."""
    table = linker_table()
    for name in (old, new):
        if name not in table:
            raise InputError(f"unknown linker {name!r}", source=source, where="substitute.linker",
                             fix=f"use one of {', '.join(table)}")
    sym = np.array(atoms.get_chemical_symbols())
    n_metal = int(np.isin(sym, list(METALS)).sum())
    graph = bond_graph(atoms)
    candidates = [lk for lk in find_linkers(atoms, graph, source=source) if lk.name == old and lk.ring]
    return graph, candidates, count_for_fraction(x, n_metal, len(candidates), source, new, old)


def substitute_linkers(atoms: Atoms, old: str, new: str, x: float, order: str = "ordered",
                       seed: int = 0, source: str | None = None, relax: bool = False,
                       provider=None, rotations: int = 24) -> tuple[Atoms, dict]:
    """Replace ``x`` ``old`` linkers per metal by ``new`` ones; returns (atoms, info).

    Parameters
    ----------
    order : ``"ordered"``, ``"random"`` or ``"spread"`` (see the module docstring).
    seed : random seed of ``"random"`` and of the first ``"spread"`` site.
    relax : place then relax: accept contacts >= :data:`PLACE_MIN_CONTACT_A` (Å) and
        relax positions and cell with ``provider`` afterwards (required then: the relaxing
        model or a factory of it, e.g. ``zifsim.potentials.mlip.MLIPProvider``).
    rotations : orientations about the N...N axis tried per site by ``"spread"``.

    ``info`` lists the replaced linkers (atom index of their N1/N3, 1-based),
    the shortest contact (Å) of each new linker as placed, and with ``relax``
    the relaxation summaries.
    """
    if order == "spread":
        out, info = _substitute_spread(atoms, old, new, x, seed, source, relax, rotations)
        if relax:
            out, info["relaxation"] = _relax(out, provider, new)
        return out, info
    if order not in ("ordered", "random"):
        raise InputError(f"unknown substitution order {order!r}", source=source,
                         where="substitute.linker.order", fix="use 'ordered', 'random' or 'spread'")
    limit = PLACE_MIN_CONTACT_A if relax else MIN_CONTACT_A
    graph, candidates, n_sub = _substitution_sites(atoms, old, new, x, source)
    sym = np.array(atoms.get_chemical_symbols())

    # the new atoms of every candidate (both orientations for asymmetric linkers)
    options = []
    for k, lk in enumerate(candidates):
        pos = dict(zip(lk.indices.tolist(), unwrapped_positions(atoms, graph, lk.indices)))
        r = lk.ring
        for flip in (False, True) if new in ("Clbim", "mbim") else (False,):
            n1, n3 = (r["N3"], r["N1"]) if flip else (r["N1"], r["N3"])
            symbols, xyz = placed_template(new, pos[n1], pos[n3], pos[r["C2"]])
            options.append({"site": k, "flip": flip, "remove": lk.indices, "keep_n": (n1, n3),
                            "symbols": symbols[2:], "positions": xyz[2:],
                            "centre": np.mean([pos[n1], pos[n3]], axis=0)})

    rng = np.random.default_rng(seed)
    removed: set[int] = set()
    added_symbols: list[str] = []
    added_positions: list[np.ndarray] = []
    chosen: list[dict] = []
    used_sites: set[int] = set()
    random_order = rng.permutation(len(candidates)) if order == "random" else None

    def current_base() -> Atoms:
        keep = [i for i in range(len(atoms)) if i not in removed]
        base = Atoms(sym[keep].tolist() + added_symbols,
                     positions=np.vstack([atoms.positions[keep]] + ([np.array(added_positions)]
                                                                   if added_positions else [])),
                     cell=atoms.cell, pbc=True)
        base.arrays["orig"] = np.array(keep + [-1] * len(added_symbols))
        return base

    def contact(opt) -> float:
        return _min_contact(current_base(), opt)

    while len(chosen) < n_sub:
        pick = None
        if order == "ordered":
            scored = []
            for opt in options:
                if opt["site"] in used_sites:
                    continue
                d = contact(opt)
                spread = min((_pbc_dist(atoms, opt["centre"], c["centre"]) for c in chosen), default=0.0)
                scored.append((round(d, 2), round(spread, 2), -opt["site"], opt, d))
            scored.sort(key=lambda t: t[:3], reverse=True)
            if scored and scored[0][4] >= limit:
                pick, best = scored[0][3], scored[0][4]
        else:
            for site in random_order:
                if site in used_sites:
                    continue
                best, pick = max(((contact(o), o) for o in options if o["site"] == site),
                                 key=lambda t: t[0])
                if best >= limit:
                    break
                used_sites.add(int(site))  # clashes now, and more linkers only add atoms
                pick = None
        if pick is None:
            raise StructureError(
                f"only {len(chosen)} of {n_sub} {old} -> {new} substitutions fit without atoms closer "
                f"than {limit} Å", source=source, where="substitute.linker",
                fix="lower x, use order: random with another seed, a larger (super)cell, "
                    "or relax: true (place then relax with the MLIP)")
        used_sites.add(pick["site"])
        removed.update(int(i) for i in pick["remove"] if i not in pick["keep_n"])
        added_symbols += list(pick["symbols"])
        added_positions += list(pick["positions"])
        chosen.append({**pick, "contact": best})

    out = current_base()
    del out.arrays["orig"]
    out.wrap()
    info = {"from": old, "to": new, "x": x, "order": order, "seed": seed if order == "random" else None,
            "n_substituted": n_sub, "n_candidates": len(candidates),
            "sites": [{"N_atoms": [int(n) + 1 for n in c["keep_n"]], "flipped": bool(c["flip"]),
                       "min_contact_A": round(float(c["contact"]), 3)} for c in chosen]}
    if relax:
        out, info["relaxation"] = _relax(out, provider, new)
    return out, info


def _relax(atoms: Atoms, provider, new: str) -> tuple[Atoms, list[dict]]:
    """Staged MLIP relaxation (cached) of a substituted cell; returns (atoms, summaries)."""
    from zifsim.structures.nets import relax_staged
    relaxed = relax_staged(atoms, provider, tag=f"sub-{new}")
    summaries = relaxed.info.get("relaxation", [])
    out = Atoms(relaxed.get_chemical_symbols(), positions=relaxed.positions, cell=relaxed.cell, pbc=True)
    out.wrap()
    keep = ("steps", "converged", "fmax_eV_A", "final_fmax_eV_A", "energy_eV", "volume_A3",
            "cell_relaxed", "provider")
    return out, [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in sm.items() if k in keep}
                 for sm in summaries]


def _rotate_about(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation of vectors ``v`` (rows) about unit ``axis`` by ``angle`` (rad)."""
    c, s = np.cos(angle), np.sin(angle)
    return v * c + np.cross(axis, v) * s + np.outer(v @ axis, axis) * (1.0 - c)


#: contact radii (Å) for ranking placements: a pair is "touching" at r_i + r_j
#: (H...H 1.2, H...C 1.6, C...C 2.0 Å), so heavy-atom clashes, which could turn
#: into bonds on relaxation, count more than H...H ones
CONTACT_RADII_A = {"H": 0.6}
CONTACT_RADIUS_HEAVY_A = 1.0


def _contact_radii(symbols) -> np.ndarray:
    return np.array([CONTACT_RADII_A.get(s, CONTACT_RADIUS_HEAVY_A) for s in symbols])


def _near_contact(cell: np.ndarray, rest: np.ndarray, new: np.ndarray, cutoff: float = 3.0,
                  r_rest: np.ndarray | None = None, r_new: np.ndarray | None = None
                  ) -> tuple[float, float]:
    """(shortest periodic distance Å, shortest ``d - r_i - r_j`` Å) between points ``new``
    and ``rest`` (min over 27 images; radii default to 0)."""
    inv = np.linalg.inv(cell)
    centre = new.mean(axis=0)
    rel = rest - centre
    rel -= np.round(rel @ inv) @ cell
    images = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]) @ cell
    reach = float(np.linalg.norm(new - centre, axis=1).max()) + cutoff
    near = (rel[None, :, :] + images[:, None, :]).reshape(-1, 3)
    rr = np.tile(np.zeros(len(rest)) if r_rest is None else r_rest, len(images))
    keep = np.linalg.norm(near, axis=1) < reach
    near, rr = near[keep], rr[keep]
    if not len(near):
        return cutoff, cutoff
    d = np.linalg.norm((new - centre)[:, None, :] - near[None, :, :], axis=2)
    rn = np.zeros(len(new)) if r_new is None else r_new
    return float(min(d.min(), cutoff)), float(min((d - rn[:, None] - rr[None, :]).min(), cutoff))


def place_linkers(atoms: Atoms, old: str, new: str, x: float, seed: int = 0, rotations: int = 24,
                  source: str | None = None) -> tuple[Atoms, dict]:
    """The placement step of "place then relax" (``order="spread"``, ``relax=True``) alone.

    Returns the unrelaxed cell, in which new atoms may come as close as
    :data:`PLACE_MIN_CONTACT_A` (Å) to others, and the substitution info
    (sites, rotation about N...N in degrees, shortest contact and gap in Å).
    No MLIP is needed: use it to inspect or test the start of the relaxation.
    """
    return _substitute_spread(atoms, old, new, x, seed, source, True, rotations)


def _substitute_spread(atoms: Atoms, old: str, new: str, x: float, seed: int, source: str | None,
                       relax: bool, rotations: int) -> tuple[Atoms, dict]:
    """``order="spread"``: sites far apart, each linker turned to its least-clashing orientation."""
    graph, candidates, n_sub = _substitution_sites(atoms, old, new, x, source)
    sym = np.array(atoms.get_chemical_symbols())
    limit = PLACE_MIN_CONTACT_A if relax else MIN_CONTACT_A
    gap_limit = PLACE_MIN_GAP_A if relax else -np.inf
    cell = np.asarray(atoms.cell, float)
    flips = (False, True) if new in ("Clbim", "mbim") else (False,)
    angles = np.linspace(0.0, 2.0 * np.pi, max(1, int(rotations)), endpoint=False)
    sites = []
    for lk in candidates:
        pos = dict(zip(lk.indices.tolist(), unwrapped_positions(atoms, graph, lk.indices)))
        r = lk.ring
        n1, n3 = pos[r["N1"]], pos[r["N3"]]
        axis = (n3 - n1) / np.linalg.norm(n3 - n1)
        mid = 0.5 * (n1 + n3)
        opts = []
        for flip in flips:
            for ang in angles:
                c2 = mid + _rotate_about((pos[r["C2"]] - mid)[None, :], axis, ang)[0]
                a, b = (n3, n1) if flip else (n1, n3)
                symbols, xyz = placed_template(new, a, b, c2)
                opts.append({"flip": flip, "angle_deg": float(np.degrees(ang)),
                             "symbols": symbols[2:], "positions": xyz[2:]})
        metals = {int(m) for n in (r["N1"], r["N3"]) for m in graph.neighbours(n) if graph.is_metal[m]}
        sites.append({"linker": lk, "keep_n": (r["N1"], r["N3"]), "centre": mid, "metals": metals,
                      "remove": [int(i) for i in lk.indices if i not in (r["N1"], r["N3"])],
                      "options": opts})
    removed: set[int] = set()
    added: list[np.ndarray] = []
    added_sym: list[str] = []
    chosen: list[dict] = []

    def best_option(site) -> tuple[float, dict]:
        """(shortest contact Å, option) of the orientation with the largest radius-scaled gap."""
        gone = removed | set(site["remove"])
        keep = np.array([i for i in range(len(atoms)) if i not in gone and i not in site["keep_n"]])
        rest = np.vstack([atoms.positions[keep]] + ([np.array(added)] if added else []))
        r_rest = _contact_radii(list(sym[keep]) + added_sym)
        scored = []
        for k, o in enumerate(site["options"]):
            d, gap = _near_contact(cell, rest, o["positions"], r_rest=r_rest,
                                   r_new=_contact_radii(o["symbols"]))
            scored.append((round(gap, 3), -k, d, o))
        gap, _, d, o = max(scored, key=lambda t: t[:2])
        return d, {**o, "gap": gap}

    rng = np.random.default_rng(seed)
    for _ in range(n_sub):
        free = [k for k in range(len(sites)) if k not in {c["site"] for c in chosen}]
        scored = {k: best_option(sites[k]) for k in free}
        ok = [k for k in free if scored[k][0] >= limit and scored[k][1]["gap"] >= gap_limit]
        if not ok:
            pick = None
        elif not chosen:  # first site: drawn from seed among the least-clashing ones
            top = max(scored[k][1]["gap"] for k in ok)
            pool = [k for k in ok if scored[k][1]["gap"] >= top - 0.05]
            pick = int(pool[rng.integers(len(pool))])
        else:
            def spread(k):
                return min(_pbc_dist(atoms, sites[k]["centre"], sites[c["site"]]["centre"]) for c in chosen)

            def shared(k):  # metals that would carry two new linkers
                return len(sites[k]["metals"] & set().union(*(sites[c["site"]]["metals"] for c in chosen)))
            # fewest metals with two new linkers, farthest from the chosen sites (to 0.5 Å),
            # then the least clashing
            pick = max(ok, key=lambda k: (-shared(k), round(spread(k) * 2) / 2, scored[k][1]["gap"], -k))
        if pick is None or scored[pick][0] < limit:
            raise StructureError(
                f"only {len(chosen)} of {n_sub} {old} -> {new} substitutions fit without atoms closer "
                f"than {limit} Å", source=source, where="substitute.linker",
                fix="lower x or use a larger (super)cell" + ("" if relax else ", or relax: true"))
        d, opt = scored[pick]
        removed.update(sites[pick]["remove"])
        added += list(opt["positions"])
        added_sym += list(opt["symbols"])
        chosen.append({"site": pick, "contact": d, "opt": opt})
    keep = [i for i in range(len(atoms)) if i not in removed]
    out = Atoms(sym[keep].tolist() + added_sym, positions=np.vstack([atoms.positions[keep], np.array(added)]),
                cell=atoms.cell, pbc=True)
    out.wrap()
    info = {"from": old, "to": new, "x": x, "order": "spread", "seed": seed, "rotations": int(rotations),
            "n_substituted": n_sub, "n_candidates": len(candidates), "relax": bool(relax),
            "sites": [{"N_atoms": [int(n) + 1 for n in sites[c["site"]]["keep_n"]],
                       "flipped": bool(c["opt"]["flip"]), "rotation_deg": round(c["opt"]["angle_deg"], 1),
                       "min_contact_A": round(float(c["contact"]), 3),
                       "min_gap_A": round(float(c["opt"]["gap"]), 3)} for c in chosen]}
    return out, info


def _pbc_dist(atoms: Atoms, a: np.ndarray, b: np.ndarray) -> float:
    d = atoms.cell.scaled_positions(np.array([b - a]))[0]
    d -= np.round(d)
    return float(np.linalg.norm(d @ np.asarray(atoms.cell)))


def _min_contact(base: Atoms, opt: dict) -> float:
    """Shortest distance (Å) between the option's new atoms and the rest of ``base``."""
    orig = base.arrays["orig"]
    drop = np.isin(orig, [i for i in opt["remove"] if i not in opt["keep_n"]])
    rest = base[~drop]
    trial = rest + Atoms(opt["symbols"], positions=opt["positions"], cell=base.cell, pbc=True)
    n_rest = len(rest)
    pairs = neighbour_pairs(trial, 3.0)
    keep_idx = np.flatnonzero(np.isin(rest.arrays["orig"], list(opt["keep_n"])))
    new = pairs.i >= n_rest
    # bonds inside the new linker and to its kept N atoms are not contacts
    other = ~(pairs.j >= n_rest) & ~np.isin(pairs.j, keep_idx)
    sel = new & other
    return float(pairs.distances[sel].min()) if sel.any() else 3.0


def substitute_metal(atoms: Atoms, old: str, new: str, source: str | None = None,
                     target_mn_A: float | None = None) -> tuple[Atoms, dict]:
    """Replace every ``old`` metal by ``new`` and rescale so the mean M-N is the target (Å)."""
    sym = np.array(atoms.get_chemical_symbols())
    if old not in METALS or not (sym == old).any():
        raise InputError(f"cannot substitute {old}: the cell has no {old} (metals: "
                         f"{', '.join(sorted(set(sym) & METALS)) or 'none'})", source=source,
                         where="substitute.metal.from", fix="name a metal present in the parent cell")
    if new not in METALS:
        raise InputError(f"{new!r} is not a ZIF metal zifsim knows", source=source,
                         where="substitute.metal.to", fix=f"use one of {', '.join(sorted(METALS))}")
    target = float(target_mn_A or MN_TARGET_A[new])
    graph = bond_graph(atoms)
    linkers = find_linkers(atoms, graph, source=source)
    centroids = np.zeros((len(atoms), 3))
    whole = atoms.positions.copy()  # linkers made whole, so one rigid shift moves each
    for lk in linkers:
        xyz = unwrapped_positions(atoms, graph, lk.indices)
        whole[lk.indices] = xyz
        centroids[lk.indices] = xyz.mean(axis=0)
    is_metal = np.isin(sym, list(METALS))
    swapped = sym.copy()
    swapped[sym == old] = new

    def scaled(s: float) -> Atoms:
        pos = whole.copy()
        pos[is_metal] *= s
        pos[~is_metal] += (s - 1.0) * centroids[~is_metal]
        return Atoms(swapped.tolist(), positions=pos, cell=np.asarray(atoms.cell) * s, pbc=True)

    def mean_mn(s: float) -> float:
        coord = metal_coordination(scaled(s))
        return float(np.mean([d for c in coord if c["element"] == new for d in c["mn_A"]]))

    s0, d0 = 1.0, mean_mn(1.0)
    s1 = (2 * target + 2.2) / (2 * d0 + 2.2)
    d1 = mean_mn(s1)
    for _ in range(8):
        if abs(d1 - target) < 1e-4 or d1 == d0:
            break
        s0, d0, s1 = s1, d1, s1 + (target - d1) * (s1 - s0) / (d1 - d0)
        d1 = mean_mn(s1)
    out = scaled(s1)
    out.wrap()
    return out, {"from": old, "to": new, "target_MN_A": target, "scale": round(float(s1), 6),
                 "mean_MN_A": round(d1, 4)}
