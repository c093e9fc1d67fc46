"""Milling study: density, He porosity, crystallinity index and CN per stage of milling / melt-quench runs,
beside the lab's milling trends (X24), as a table (CSV + markdown) and plots (PNG).

Runs are ordinary ``zifsim run`` folders named ``{material}_{protocol}`` under ``--runs``::

    for m in ZIF-4 ZIF-zni ZIF-8 ZIF-62 ZIF-Cu-1; do
      zifsim run structures/$m/cell.data --protocol mill_press --out runs/${m}_mill_press --seed 2022 --threads 1
    done
    zifsim run structures/ZIF-4/cell.data --protocol melt_quench_medium --out runs/ZIF-4_melt_quench_medium --seed 2022
    python benchmarks/milling_study.py --runs runs --out docs/milling

Unfinished runs are analysed as far as they got (the table says which stage they reached); a run
continued in another folder ``RUN.part2`` (same stages, restarted from a stage's final.data) is
joined to it. Every frame gets the crystallinity index against the registry crystal of the
material (``zifsim.analysis.crystallinity``), its density and CN distribution
(``zifsim.analysis.coordination``); the last frame of every stage gets a He-probe porosity
(``zifsim.analysis.pores.pore_summary``, grid "occupiable_fraction": volume inside He spheres
whose centres can sit in the pores, 0.3 Å grid). Results are cached in ``--work``.
The reference rows score the crystallinity index of the registry crystals and of the
first-principles glasses in ``../shared/reference/structures/aimd-glasses`` when present.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zifsim import settings  # noqa: E402
from zifsim.analysis.crystallinity import BraggReference, crystallinity_index  # noqa: E402
from zifsim.fileio import atomic_open  # noqa: E402

#: the lab's direction of the density change on ball milling (X24; configs/materials.yaml facts)
def lab_signs() -> dict:
    from zifsim.registry import load_registry
    return (load_registry().facts.get("milling_density_change") or {}).get("sign", {})


LAB_NOTE = {
    "ZIF-4": "amorphises, densifies (uptake falls to 50-65 cm3/g, like its glass)",
    "ZIF-zni": "less dense, more porous (uptake 171 % of pristine); 36 % crystalline after 15 min",
    "ZIF-8": "densifies but stays the most open (82 cm3/g after 15 min)",
    "ZIF-62": "densifies less than the porous ZIFs",
    "ZIF-Cu-1": "uptake 25 -> ~5 cm3/g",
}


def _stage_name(stage: str) -> str:
    """'02-npt300' -> 'npt300'."""
    head, _, tail = str(stage).partition("-")
    return tail if head.isdigit() and tail else str(stage)


def run_parts(run: Path) -> list[Path]:
    """A run folder and its continuations ``RUN.part2``, ``RUN.part3`` (a run split during the study)."""
    parts = [run]
    k = 2
    while (run.parent / f"{run.name}.part{k}").is_dir():
        parts.append(run.parent / f"{run.name}.part{k}")
        k += 1
    return parts


def analyse_run(run: Path, work: Path, spacing: float, force: bool) -> dict:
    """Per-stage density, crystallinity (against the registry crystal), CN distribution and He porosity."""
    from zifsim.analysis.coordination import Coordination
    from zifsim.analysis.crystallinity import Crystallinity, plot_crystallinity, stage_table
    from zifsim.analysis.pores import pore_summary
    from zifsim.analysis.trajectory import iter_run
    material, protocol = run.name.split("_", 1)
    parts = run_parts(run)
    metas = [json.loads((p / "metadata.json").read_text()) for p in parts]
    stamp = [[(s["name"], s["status"]) for s in m["stages"]] for m in metas]
    mtime = max((p / "thermo.csv").stat().st_mtime for p in parts if (p / "thermo.csv").is_file())
    adir = work / run.name
    cache = adir / "study.json"
    if cache.is_file() and not force:
        cached = json.loads(cache.read_text())
        if cached.get("stamp") == json.loads(json.dumps(stamp)) and mtime <= cached.get("mtime", 0):
            return cached
    t0 = time.time()
    ref_cell = settings.STRUCTURES_DIR / material / "cell.extxyz"
    cryst = Crystallinity(reference=ref_cell if ref_cell.is_file() else None)
    coord = Coordination()
    last, offset, order = {}, 0.0, []
    for i, (part, meta) in enumerate(zip(parts, metas)):
        # a stage a later part re-runs from the start is dropped from the earlier part
        later = {s["name"] for m in metas[i + 1:] for s in m["stages"]}
        done = {s["name"] for s in meta["stages"] if s["status"] == "complete"}
        t_end = offset
        for frame in iter_run(part):
            name = _stage_name(frame.stage)
            if name in later and name not in done:
                continue
            frame.stage = name
            frame.time_ps = float(frame.time_ps) + offset
            t_end = max(t_end, frame.time_ps)
            cryst.feed(frame)
            coord.feed(frame)
            last[name] = frame
            if name not in order:
                order.append(name)
        offset = t_end
    cryst.finish()
    coord.finish()
    stages = stage_table(cryst, coord.table)
    por = {}
    for name, frame in last.items():
        res = pore_summary({"f": frame}, probe="He", spacing=spacing)
        occ = ((res.get("f") or {}).get("grid") or {}).get("occupiable_fraction")
        por[name] = float(occ["He"] if isinstance(occ, dict) else occ) if occ is not None else np.nan
    stages["He_occupiable"] = [por.get(s, np.nan) for s in stages.stage]
    adir.mkdir(parents=True, exist_ok=True)
    with atomic_open(adir / "crystallinity.csv") as fh:
        cryst.table.to_csv(fh, index=False, float_format="%.6g")
    plot_crystallinity(cryst.table, adir / "crystallinity.png", f"{material} {protocol}")
    status = "complete" if metas[-1].get("status") == "complete" else "unfinished"
    result = {"material": material, "protocol": protocol, "run": str(run), "parts": [str(p) for p in parts],
              "stamp": stamp, "mtime": mtime, "status": status,
              "crystallinity_reference": cryst.reference_source, "stages": stages.to_dict(orient="records"),
              "analysis_s": time.time() - t0}
    with atomic_open(cache) as fh:
        json.dump(result, fh, indent=1, default=float)
    return result


def summarise(res: dict, signs: dict) -> dict:
    st = pd.DataFrame(res["stages"])
    names = list(st.stage)
    before = st[st.stage.str.contains("npt300")].iloc[0] if st.stage.str.contains("npt300").any() else st.iloc[0]
    after = st.iloc[-1]
    reached = names[-1]
    complete = res.get("status") == "complete"
    minimised = "relax" in str(before.stage)        # no 300 K crystal stage: the minimised cell (0 K)
    d0 = float(before.density_gcm3_last if minimised else before.density_gcm3)
    d1 = float(after.density_gcm3_last)
    sim = "densifies" if d1 > d0 else "expands"
    lab = signs.get(res["material"]) if "mill" in res["protocol"] else None
    i0 = int(np.flatnonzero(st.stage.to_numpy() == before.stage)[0])
    later = st.iloc[i0 + 1:] if i0 + 1 < len(st) else st.iloc[i0:]
    x0 = float(before.crystallinity_last if minimised else before.crystallinity)
    x1 = float(after.crystallinity_last)
    val = settings.STRUCTURES_DIR / res["material"] / "validation.json"
    rho_xray = json.loads(val.read_text()).get("density_gcm3") if val.is_file() else np.nan
    row = {"material": res["material"], "protocol": res["protocol"], "rho_registry": rho_xray,
           "reached": reached + ("" if complete else " (unfinished)"),
           "crystal_before": "minimised (0 K)" if minimised else f"{before.stage} (300 K, 0 bar)",
           "rho_crystal_300K": d0, "rho_max": float(later.density_gcm3.max()), "rho_after": d1,
           "drho_pct": 100 * (d1 / d0 - 1),
           "X_crystal_300K": x0, "X_after": x1, "X_after_rel": x1 / x0 if x0 > 0 else np.nan,
           "He_before": float(before.get("He_occupiable", np.nan)), "He_after": float(after.get("He_occupiable", np.nan)),
           "CN4_before": float(before.get("frac_CN4", np.nan)), "CN4_after": float(after.get("frac_CN4", np.nan)),
           "mean_CN_after": float(after.get("mean_CN", np.nan)),
           "simulated_sign": sim, "lab_sign": lab or "",
           "agrees": "" if lab is None or not complete else ("yes" if lab == sim else "no"),
           "lab": LAB_NOTE.get(res["material"], "") if lab else ""}
    return row


def reference_rows(spacing: float) -> pd.DataFrame:
    """Crystallinity index (and density) of the registry crystals and the first-principles glasses."""
    from ase.io import read
    rows = []
    refs = {}
    for m in ("ZIF-4", "ZIF-zni", "ZIF-8", "ZIF-62", "ZIF-Cu-1"):
        path = settings.STRUCTURES_DIR / m / "cell.extxyz"
        if path.is_file():
            a = read(path)
            refs[m] = BraggReference(a)
            rows.append({"structure": f"{m} crystal (registry)", "reference": m, "n": 1,
                         "density_gcm3": float(sum(a.get_masses()) / a.get_volume() * 1.66054),
                         "X_mean": crystallinity_index(a.repeat((2, 2, 2)), refs[m]), "X_min": np.nan, "X_max": np.nan})
    folder = settings.reference_dir() / "structures" / "aimd-glasses"
    for prefix, m in (("ZIF4_15glass", "ZIF-4"), ("ZIF8_15glass", "ZIF-8")):
        files = sorted(folder.glob(f"{prefix}*.cif")) if folder.is_dir() else []
        if not files or m not in refs:
            continue
        xs, dens = [], []
        for f in files:
            a = read(f)
            xs.append(crystallinity_index(a, refs[m]))
            dens.append(float(sum(a.get_masses()) / a.get_volume() * 1.66054))
        rows.append({"structure": f"{prefix}01-{len(files):02d} (first-principles MD, Gaillac 2020)",
                     "reference": m, "n": len(files), "density_gcm3": float(np.mean(dens)),
                     "X_mean": float(np.mean(xs)), "X_min": float(np.min(xs)), "X_max": float(np.max(xs)),
                     "X_each": " ".join(f"{x:.2f}" for x in xs)})
    return pd.DataFrame(rows)


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=90)
    plt.close(fig)
    return path.name


def plot(results: list[dict], out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = []
    fig, axes = plt.subplots(3, 1, figsize=(6.4, 7.2), sharex=True)
    for res in results:
        st = pd.DataFrame(res["stages"])
        c = pd.read_csv(Path(res["adir"]) / "crystallinity.csv")
        if "relax" in str(c.stage.iloc[0]):              # the minimisation: no time, no temperature
            c = c[c.stage != c.stage.iloc[0]]
        label = f"{res['material']} {res['protocol']}"
        axes[0].plot(c.time_ps, c.density_gcm3, ".-", ms=2, lw=1, label=label)
        axes[1].plot(c.time_ps, c.crystallinity, ".-", ms=2, lw=1)
        t_end = st.time_ps_end.to_numpy()
        axes[2].plot(t_end, 100 * st.He_occupiable.to_numpy(), "o-", ms=3, lw=1)
    axes[0].set_ylabel("density (g/cm³)")
    axes[1].set_ylabel("crystallinity index")
    axes[1].axhline(0, color="0.7", lw=0.8)
    axes[2].set_ylabel("He-occupiable (%)\n(end of each stage)")
    axes[2].set_xlabel("time (ps)")
    axes[0].legend(fontsize=7)
    files.append(_save(fig, out / "milling_vs_time.png"))
    # before / at peak / after per run, the lab's direction beside it
    table = pd.DataFrame([summarise(r, lab_signs()) for r in results])
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    x = np.arange(len(table))
    for k, (col, lab) in enumerate((("rho_registry", "X-ray crystal"), ("rho_crystal_300K", "ReaxFF crystal before"),
                                    ("rho_max", "under load (highest stage mean)"), ("rho_after", "after release"))):
        ax.bar(x + (k - 1.5) * 0.2, table[col], 0.2, label=lab)
    for i, r in table.iterrows():
        if r.lab_sign:
            ax.annotate(f"lab: {r.lab_sign}", (i, 0.05), ha="center", fontsize=7, rotation=90, va="bottom", color="w")
    ax.set_xticks(x, [f"{a}\n{b}" for a, b in zip(table.material, table.protocol)], fontsize=7)
    ax.set_ylabel("density (g/cm³)")
    ax.legend(fontsize=7, ncol=2)
    files.append(_save(fig, out / "milling_density.png"))
    return files


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, required=True,
                    help="folder of {material}_{protocol} run folders (symbolic links are fine)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "milling", help="table + plots (default docs/milling)")
    ap.add_argument("--work", type=Path, default=None, help="analysis cache (default RUNS/../milling_analysis)")
    ap.add_argument("--spacing", type=float, default=0.3, help="pore grid spacing (Å)")
    ap.add_argument("--force", action="store_true", help="re-analyse even if cached")
    ap.add_argument("--no-reference", action="store_true", help="skip the reference crystals / AIMD glasses rows")
    args = ap.parse_args(argv)
    work = args.work or args.runs.parent / "milling_analysis"
    args.out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    signs = lab_signs()
    results, rows = [], []
    for run in sorted(p for p in args.runs.iterdir() if (p / "metadata.json").is_file() and "_" in p.name
                      and ".part" not in p.name):
        if not any((d / "traj.lammpstrj").is_file() for d in run.iterdir() if d.is_dir()):
            print(f"skip {run.name}: no trajectory yet")
            continue
        res = analyse_run(run, work, args.spacing, args.force)
        res["adir"] = str(work / run.name)
        results.append(res)
        rows.append(summarise(res, signs))
    table = pd.DataFrame(rows)
    with atomic_open(args.out / "milling_study.csv") as fh:
        table.to_csv(fh, index=False, float_format="%.4g")
    per_stage = pd.concat([pd.DataFrame(r["stages"]).assign(material=r["material"], protocol=r["protocol"])
                           for r in results], ignore_index=True) if results else pd.DataFrame()
    with atomic_open(args.out / "milling_stages.csv") as fh:
        per_stage.to_csv(fh, index=False, float_format="%.4g")
    if results:
        plot(results, args.out)
    print(table.to_markdown(index=False, floatfmt=".3g") if len(table) else "no runs")
    if not args.no_reference:
        ref = reference_rows(args.spacing)
        with atomic_open(args.out / "crystallinity_reference.csv") as fh:
            ref.to_csv(fh, index=False, float_format="%.4g")
        print()
        print(ref.drop(columns=[c for c in ("X_each",) if c in ref]).to_markdown(index=False, floatfmt=".3g"))
        if "X_each" in ref:
            for _, r in ref.dropna(subset=["X_each"]).iterrows():
                print(f"{r.structure}: {r.X_each}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
