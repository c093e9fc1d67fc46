"""Validation report of a ZIF cell: composition, M-N coordination, tau4, density.

``validate_structure(atoms)`` returns a JSON-able dict (written beside every
cell as ``validation.json``) with ``passed`` and a list of named ``checks``.
A crystalline ZIF passes when every metal has exactly four N neighbours at
M-N distances inside the accepted range (1.90-2.40 Å; Cd 2.05-2.50 Å), Zn and
Co sites are tetrahedral (tau4 >= 0.80), no two atoms are closer than 0.9 Å,
and every organic group is a complete known linker.

tau4 (Yang, Powell & Houser, Dalton Trans. 2007, 955) = (360° - (α + β)) / 141°
with α, β the two largest N-M-N angles: 1 for a tetrahedron, 0 for square
planar (ZIF-Cu-1: 0.47).
"""
from __future__ import annotations

from collections import Counter

import numpy as np
from ase import Atoms

from zifsim import __version__
from zifsim.geometry import density_gcm3, tau4
from zifsim.structures.chemistry import (MIN_DISTANCE_A, MN_CUTOFF_RULE, TAU4_MIN, metals_in, mn_cutoff,
                                        mn_cutoffs, mn_range)
from zifsim.structures.neighbours import neighbour_pairs

def metal_coordination(atoms: Atoms) -> list[dict]:
    """Per-metal N coordination: index, element, CN, M-N distances (Å), tau4, shell gap (Å).

    Bonds: M-N closer than :func:`zifsim.structures.chemistry.mn_cutoff`.
    ``shell_gap_A`` = distance of the nearest non-bonded N minus the longest
    M-N bond (how cleanly the first shell is separated).
    """
    sym = np.array(atoms.get_chemical_symbols())
    metals = np.flatnonzero(np.isin(sym, metals_in(sym)))
    if len(metals) == 0:
        return []
    pairs = neighbour_pairs(atoms, 5.0)
    sel = np.isin(pairs.i, metals) & (sym[pairs.j] == "N")
    pairs = pairs.select(sel)
    out = []
    for m in metals:
        mask = pairs.i == m
        d, v = pairs.distances[mask], pairs.vectors[mask]
        bonded = d < mn_cutoff(sym[m])
        dist = np.sort(d[bonded])
        cn = int(bonded.sum())
        beyond = d[~bonded]
        out.append({
            "index": int(m), "element": str(sym[m]), "cn": cn,
            "mn_A": [round(float(x), 4) for x in dist],
            "tau4": round(tau4(v[bonded]), 4) if cn == 4 else None,
            "shell_gap_A": round(float(beyond.min() - dist.max()), 4) if cn and len(beyond) else None,
        })
    return out


def validate_structure(atoms: Atoms, name: str | None = None, linkers: dict | None = None,
                       expected_cn: int = 4, reference_density_gcm3: float | None = None,
                       density_tolerance: float = 0.03) -> dict:
    """Validation report (dict, JSON-able) of a ZIF cell; ``report["passed"]`` says if it is sound.

    Parameters
    ----------
    atoms : the periodic cell.
    name : label stored in the report.
    linkers : linker counts (``{"im": 32}``) if already known; recognised here otherwise.
    expected_cn : required M-N coordination number of every metal (4 in a crystal).
    reference_density_gcm3 : if given, the density must agree within
        ``density_tolerance`` (relative).
    """
    symbols = atoms.get_chemical_symbols()
    counts = Counter(symbols)
    sym = np.array(symbols)
    metals = sorted(metals_in(counts))
    n_metal = sum(counts[m] for m in metals)
    checks: list[dict] = []

    if linkers is None:
        from zifsim.structures.linkers import find_linkers
        found = find_linkers(atoms, strict=False)
        linkers = dict(sorted(Counter(l.name for l in found).items()))
    per_metal = {k: round(v / n_metal, 4) for k, v in linkers.items()} if n_metal else {}

    coordination = metal_coordination(atoms)
    cns = Counter(c["cn"] for c in coordination)
    mn_all = np.array([d for c in coordination for d in c["mn_A"]])
    taus = np.array([c["tau4"] for c in coordination if c["tau4"] is not None])
    gaps = np.array([c["shell_gap_A"] for c in coordination if c["shell_gap_A"] is not None])

    bad_cn = [f"{c['element']}{c['index'] + 1} (CN {c['cn']})" for c in coordination
              if c["cn"] != expected_cn]
    checks.append(_check(f"every metal {expected_cn}-coordinated by N", n_metal > 0 and not bad_cn,
                         "no metal in the cell" if n_metal == 0 else
                         (f"{len(bad_cn)} of {n_metal} metals wrong: {', '.join(bad_cn[:8])}"
                          if bad_cn else f"{n_metal} metals, all CN {expected_cn}")))
    out_of_range = []
    for c in coordination:
        lo, hi = mn_range(c["element"])
        out_of_range += [f"{c['element']}{c['index'] + 1}-N {d:.3f}" for d in c["mn_A"] if not lo <= d <= hi]
    checks.append(_check("M-N bond lengths in range", not out_of_range and len(mn_all) > 0,
                         ", ".join(out_of_range[:8]) if out_of_range else
                         (f"{mn_all.min():.3f}-{mn_all.max():.3f} Å" if len(mn_all) else "no M-N bonds")))
    flat = [f"{c['element']}{c['index'] + 1} ({c['tau4']:.2f})" for c in coordination
            if c["tau4"] is not None and c["element"] in TAU4_MIN and c["tau4"] < TAU4_MIN[c["element"]]]
    checked = sorted({c["element"] for c in coordination} & set(TAU4_MIN))
    if checked:
        checks.append(_check(f"tetrahedral {'/'.join(checked)} (tau4 >= "
                             f"{min(TAU4_MIN[m] for m in checked):.2f})", not flat,
                             f"{len(flat)} distorted: {', '.join(flat[:8])}" if flat else
                             f"min tau4 {min(c['tau4'] for c in coordination if c['tau4'] is not None and c['element'] in TAU4_MIN):.3f}"
                             if any(c["tau4"] is not None for c in coordination) else "no 4-coordinated metal"))
    close = neighbour_pairs(atoms, MIN_DISTANCE_A)
    min_d = _min_distance(atoms)
    checks.append(_check(f"no atoms closer than {MIN_DISTANCE_A} Å", len(close.i) == 0,
                         f"closest pair {min_d:.3f} Å"))
    unknown = [k for k in linkers if k.startswith("?")]
    checks.append(_check("all organic groups are known, complete linkers", not unknown,
                         f"unrecognised: {', '.join(unknown)}" if unknown else
                         ", ".join(f"{k} {v}" for k, v in linkers.items())))
    n_link = sum(v for k, v in linkers.items() if not k.startswith("?"))
    checks.append(_check("two linkers per metal (charge balance M2+ / im-)", n_link == 2 * n_metal,
                         f"{n_link} linkers for {n_metal} metals"))
    occupancy = atoms.arrays.get("occupancy")
    if occupancy is not None:
        partial = int((np.asarray(occupancy) < 0.999).sum())
        checks.append(_check("all sites fully occupied", partial == 0,
                             f"{partial} partially occupied sites (disorder)" if partial else "yes"))
    rho = density_gcm3(atoms)
    if reference_density_gcm3:
        rel = rho / reference_density_gcm3 - 1.0
        checks.append(_check(f"density within {density_tolerance:.0%} of reference",
                             abs(rel) <= density_tolerance,
                             f"{rho:.4f} vs {reference_density_gcm3:.4f} g/cm3 ({rel:+.2%})"))

    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    report = {
        "name": name,
        "zifsim_version": __version__,
        "formula": _hill(counts),
        "n_atoms": len(atoms),
        "counts": dict(sorted(counts.items())),
        "metals": {m: counts[m] for m in metals},
        "linkers": linkers,
        "linkers_per_metal": per_metal,
        "cell": {"a_A": round(a, 6), "b_A": round(b, 6), "c_A": round(c, 6),
                 "alpha_deg": round(alpha, 6), "beta_deg": round(beta, 6), "gamma_deg": round(gamma, 6),
                 "volume_A3": round(float(atoms.get_volume()), 4)},
        "density_gcm3": round(rho, 5),
        "metal_density_per_nm3": round(n_metal / atoms.get_volume() * 1000.0, 4),
        "cn_counts": {str(k): v for k, v in sorted(cns.items())},
        "mn_cutoff_A": mn_cutoffs(metals),
        "mn_cutoff_rule": MN_CUTOFF_RULE,
        "MN_distance_A": _stats(mn_all),
        "tau4": _stats(taus),
        "largest_MN_gap_A": round(float(mn_all.max()), 4) if len(mn_all) else None,
        "MN_shell_gap_A": round(float(gaps.min()), 4) if len(gaps) else None,
        "min_interatomic_distance_A": round(min_d, 4),
        "checks": checks,
        "passed": all(c["passed"] for c in checks),
        "per_metal": coordination,
    }
    return report


def _check(name: str, passed: bool, detail: str) -> dict:
    return {"check": name, "passed": bool(passed), "detail": detail}


def _stats(values: np.ndarray) -> dict | None:
    if len(values) == 0:
        return None
    return {"min": round(float(values.min()), 4), "mean": round(float(values.mean()), 4),
            "max": round(float(values.max()), 4), "n": int(len(values))}


def _min_distance(atoms: Atoms) -> float:
    for r in (1.2, 2.0, 4.0):
        pairs = neighbour_pairs(atoms, r)
        if len(pairs.distances):
            return float(pairs.distances.min())
    return float("inf")


def _hill(counts: Counter) -> str:
    order = [k for k in ("C", "H") if k in counts] + sorted(k for k in counts if k not in ("C", "H"))
    return "".join(f"{k}{counts[k] if counts[k] > 1 else ''}" for k in order)


def format_report(report: dict) -> str:
    """Human-readable summary of a validation report (several lines)."""
    lines = [f"{report.get('name') or 'structure'}: {report['formula']} ({report['n_atoms']} atoms), "
             f"density {report['density_gcm3']:.4f} g/cm3"]
    if report["linkers"]:
        lines.append("  linkers per metal: " + ", ".join(f"{k} {v:g}" for k, v in report["linkers_per_metal"].items()))
    mn, t4 = report["MN_distance_A"], report["tau4"]
    if mn:
        lines.append(f"  M-N {mn['min']:.3f} / {mn['mean']:.3f} / {mn['max']:.3f} Å (min/mean/max); "
                     f"CN counts {report['cn_counts']}")
    if report.get("mn_cutoff_A"):
        lines.append("  M-N cutoff " + ", ".join(f"{m} {c:.2f} Å" for m, c in report["mn_cutoff_A"].items())
                     + f" ({report.get('mn_cutoff_rule', '')})")
    if t4:
        lines.append(f"  tau4 {t4['min']:.3f} / {t4['mean']:.3f} / {t4['max']:.3f}")
    for c in report["checks"]:
        lines.append(f"  [{'PASS' if c['passed'] else 'FAIL'}] {c['check']}: {c['detail']}")
    lines.append("  => " + ("valid" if report["passed"] else "INVALID"))
    return "\n".join(lines)
