"""`zifsim report`: simulated vs experimental facts -> comparison.csv, PNG plots, report.md.

Reads the ``summary.json`` (and tables) of analysis folders written by
``zifsim analyse``, matches each material with the registry
(``configs/materials.yaml``, :func:`zifsim.registry.load_registry`) and
puts every experimental fact that has a simulated counterpart (see
:mod:`zifsim.compare.facts`) next to it, averaged over replicas.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from zifsim.compare.facts import has_cooling, simulated_for
from zifsim.errors import ConfigError, InputError
from zifsim.fileio import atomic_open

log = logging.getLogger(__name__)

__all__ = ["load_summaries", "comparison_table", "write_report", "COLUMNS", "REAXFF_TM_NOTE", "MLIP_TM_NOTE", "melting_note"]

COLUMNS = ["material", "quantity", "simulated", "experimental", "unit", "reference",
           "simulated_err", "experimental_low", "experimental_high", "n_runs", "protocol",
           "simulated_from", "note"]

TM_NOTE_COMMON = (
    "Simulated melting points are upper bounds. MD heats at 10^11-10^13 K/s (DSC: 10 K/min) a small, "
    "defect-free periodic crystal that has no surface to nucleate the liquid, so it superheats.")
REAXFF_TM_CAVEAT = (
    "ReaxFF is known to overestimate Tm of ZIFs; first-principles MD of ZIF-4 (Gaillac et al. 2017) "
    "also puts the Lindemann crossing at 727-1227 °C against 590 °C measured.")
MLIP_TM_CAVEAT = (
    "The universal MLIP (CHGNet + D3) was fitted to near-equilibrium DFT data, not to the bond "
    "breaking of a ZIF melt: its Tm is untested against experiment, and the short MLIP "
    "demonstration protocols are not converged.")
TM_NOTE_END = "Compare trends between materials, not absolute Tm."
REAXFF_TM_NOTE = " ".join([TM_NOTE_COMMON, REAXFF_TM_CAVEAT, TM_NOTE_END])
MLIP_TM_NOTE = " ".join([TM_NOTE_COMMON, MLIP_TM_CAVEAT, TM_NOTE_END])


def melting_note(summaries) -> str:
    """The caveat on simulated Tm for the force model(s) behind ``summaries`` (their provider names)."""
    kinds = {str(s.get("provider") or "reaxff").split(":")[0] for s in summaries}
    caveats = ([REAXFF_TM_CAVEAT] if "reaxff" in kinds else []) + ([MLIP_TM_CAVEAT] if kinds - {"reaxff"} else [])
    return " ".join([TM_NOTE_COMMON, *caveats, TM_NOTE_END])


def load_summaries(adirs) -> list[dict]:
    """summary.json of every analysis folder (with its path under ``adir``)."""
    out = []
    for adir in adirs:
        adir = Path(adir)
        path = adir / "summary.json"
        if not path.is_file():
            raise InputError("no summary.json", source=adir,
                             fix="run `zifsim analyse RUNDIR --out ADIR` first")
        try:
            s = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", source=path, where=exc.lineno,
                             fix="re-run zifsim analyse for this folder") from None
        if not s.get("material"):
            raise InputError("summary has no material name", source=path, where="material",
                             fix="re-run zifsim analyse with --material NAME")
        s["adir"] = str(adir)
        out.append(s)
    return out


def _registry():
    try:
        from zifsim.registry import load_registry
        return load_registry()
    except (ImportError, ConfigError) as exc:
        log.warning("materials registry unavailable (%s): no experimental facts", exc)
        return None


def _material(registry, name):
    if registry is None:
        return None
    try:
        return registry.get(name)
    except ConfigError:
        return None


def comparison_table(summaries: list[dict], registry=None):
    """Tidy table: one row per (material, protocol, fact with a simulated counterpart)."""
    import pandas as pd
    registry = registry if registry is not None else _registry()
    rows = []
    groups: dict[tuple, list[dict]] = {}
    for s in summaries:
        if not run_ok(s):   # a failed / interrupted run never enters a mean with finished ones
            continue
        groups.setdefault((s["material"], s.get("protocol") or ""), []).append(s)
    for (name, protocol), runs in groups.items():
        mat = _material(registry, name)
        if mat is None:
            continue
        for key, fact in mat.experiment.items():
            vals, errs, notes = [], [], []
            for s in runs:
                got = simulated_for(fact, s)
                if got is None:
                    continue
                v, e, note = got
                vals.append(np.nan if v is None else float(v))
                errs.append(np.nan if e is None else float(e))
                notes.append(note)
            if not vals:
                continue
            vals = np.array(vals)
            finite = vals[np.isfinite(vals)]
            sim = float(finite.mean()) if len(finite) else np.nan
            if len(finite) > 1:
                err = float(finite.std(ddof=1) / np.sqrt(len(finite)))
            else:
                e = np.array(errs)[np.isfinite(vals)]
                err = float(e[0]) if len(e) and np.isfinite(e[0]) else np.nan
            lo, hi = (fact.value if isinstance(fact.value, tuple) else (fact.value, fact.value))
            ref = fact.ref + (f": {registry.references.get(fact.ref, '')}" if registry else "")
            rows.append({"material": mat.name, "quantity": key, "simulated": sim, "experimental": fact.mid,
                         "unit": fact.unit, "reference": ref, "simulated_err": err,
                         "experimental_low": lo, "experimental_high": hi, "n_runs": len(finite),
                         "protocol": protocol, "simulated_from": notes[0], "note": fact.note})
    return pd.DataFrame(rows, columns=COLUMNS)


# ---------------------------------------------------------------------- plots
def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    from zifsim.analysis.plots import save_figure
    return save_figure(fig, path)


def plot_parity(table, path):
    """Simulated vs experimental, one panel per unit, colour per material."""
    plt = _plt()
    units = [u for u in table.unit.unique() if table[table.unit == u].simulated.notna().any()]
    if not units:
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.text(0.5, 0.5, "no simulated value matches an experimental fact", ha="center", va="center")
        ax.axis("off")
        return _save(fig, path)
    fig, axes = plt.subplots(1, len(units), figsize=(4.2 * len(units), 4), squeeze=False)
    for ax, unit in zip(axes[0], units):
        sub = table[(table.unit == unit) & table.simulated.notna()]
        for mat, m in sub.groupby("material"):
            xerr = [m.experimental - m.experimental_low, m.experimental_high - m.experimental]
            ax.errorbar(m.experimental, m.simulated, xerr=xerr, yerr=m.simulated_err.fillna(0),
                        fmt="o", capsize=3, label=mat)
            for _, r in m.iterrows():
                ax.annotate(r.quantity, (r.experimental, r.simulated), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
        lo = np.nanmin([sub.experimental_low.min(), sub.simulated.min()])
        hi = np.nanmax([sub.experimental_high.max(), sub.simulated.max()])
        pad = 0.05 * (hi - lo or 1)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
        ax.set_xlabel(f"experiment ({unit})")
        ax.set_ylabel(f"simulation ({unit})")
        ax.legend(fontsize=7)
    fig.suptitle("simulation vs experiment (dashed: equality)")
    return _save(fig, path)


def plot_material(table, material, path):
    """Per-material bars: simulated / experimental ratio of every matched quantity."""
    plt = _plt()
    sub = table[(table.material == material) & table.simulated.notna()]
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(sub), 2) + 1.2))
    if len(sub):
        ratio = sub.simulated / sub.experimental
        err = sub.simulated_err.fillna(0) / sub.experimental.abs()
        labels = [f"{q} [{p}]" if p else q for q, p in zip(sub.quantity, sub.protocol)]
        ax.barh(labels, ratio, xerr=err, color="tab:blue", alpha=0.7)
        ax.axvline(1.0, color="k", lw=1)
        for y, (_, r) in enumerate(sub.iterrows()):
            ax.text(ratio.iloc[y], y, f"  {r.simulated:.3g} vs {r.experimental:.3g} {r.unit}",
                    va="center", fontsize=7)
    ax.set_xlabel("simulated / experimental")
    ax.set_title(material)
    return _save(fig, path)


def plot_quantity(table, quantity, path):
    """One quantity across materials/protocols: simulated vs experimental bars."""
    plt = _plt()
    sub = table[table.quantity == quantity]
    fig, ax = plt.subplots(figsize=(max(4, 1.3 * len(sub) + 2), 3.8))
    x = np.arange(len(sub))
    labels = [f"{m}\n{p}" for m, p in zip(sub.material, sub.protocol)]
    lo = (sub.experimental - sub.experimental_low).to_numpy()
    hi = (sub.experimental_high - sub.experimental).to_numpy()
    ax.bar(x - 0.2, sub.experimental, 0.4, yerr=[lo, hi], capsize=3, label="experiment", color="tab:grey")
    ax.bar(x + 0.2, sub.simulated, 0.4, yerr=sub.simulated_err.fillna(0), capsize=3, label="simulation",
           color="tab:blue")
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel(f"{quantity} ({sub.unit.iloc[0]})" if len(sub) else quantity)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_overlays(summaries, material, out):
    """Overlay the X-ray D(r), Lindemann ratio and mean CN of every run of one material."""
    import pandas as pd
    plt = _plt()
    runs = [s for s in summaries if s["material"] == material]
    written = []
    fig, axes = plt.subplots(1, 4, figsize=(20, 4))
    for s in runs:
        adir = Path(s["adir"])
        label = _run_label(s)
        _plot_psd_overlay(axes[3], adir, label, s)
        if (adir / "xray_pdf.csv").is_file():
            x = pd.read_csv(adir / "xray_pdf.csv")
            axes[0].plot(x.r_A, x.D_qmax, label=f"{label} (last stage)")
            if "D_qmax_first_stage" in x and s.get("kind") == "run":
                axes[0].plot(x.r_A, x.D_qmax_first_stage, "--", lw=0.8, label=f"{label} (first stage)")
        if (adir / "lindemann.csv").is_file():
            t = pd.read_csv(adir / "lindemann.csv")
            if len(t):
                axes[1].plot(t.temp_K, t.lindemann_metal, ".-", label=label)
        if (adir / "coordination.csv").is_file():
            c = pd.read_csv(adir / "coordination.csv")
            if c.temp_K.notna().all() and len(c) > 1:
                axes[2].plot(c.temp_K, c.mean_CN, ".", ms=2, label=label)
    for thr in (0.10, 0.15):
        axes[1].axhline(thr, color="grey", ls=":", lw=0.8)
    axes[0].set(xlabel="r (Å)", ylabel="X-ray D(r) (Å⁻²)", title="X-ray PDF")
    axes[1].set(xlabel="T (K)", ylabel="Lindemann ratio (metals)", title="Lindemann")
    axes[2].set(xlabel="T (K)", ylabel="mean M-N CN", title="coordination")
    axes[3].set(xlabel="pore diameter (Å)", ylabel="fraction of the void", title="PSD (Gelb-Gubbins, grid)")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(material)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in material)
    written.append(_save(fig, Path(out) / f"overlay_{safe}.png"))
    return written


def _plot_psd_overlay(ax, adir: Path, label: str, s: dict) -> None:
    """Grid PSD of the first frame (crystal, dashed) and the last frame (glass after a quench, solid)."""
    import pandas as pd
    if not (adir / "psd.csv").is_file():
        return
    psd = pd.read_csv(adir / "psd.csv")
    if not len(psd):
        return
    psd = psd[psd.method.str.startswith("grid")]
    glass = "glass" if has_cooling(s) else "last"
    for frame, style, name in (("first", "--", "crystal (first frame)"), ("last", "-", f"{glass} (last frame)")):
        sub = psd[psd.frame == frame]
        if len(sub) and (frame == "first" or s.get("kind") == "run"):
            ax.plot(sub.diameter_A, sub.fraction, style, lw=1, label=f"{label}: {name}")


#: which pore quantity is compared with which experimental fact, and why (report.md)
PORE_COMPARISON_NOTE = (
    "**Pores.** The He-probe porous volume of ZIF-4 (G17 via MH22: liquid 16.2 %, glass 4.8 %, on RMC / "
    "first-principles models with a 2.4 Å diameter He probe) is compared with the *probe-centre* volume "
    "fraction for a probe of radius 1.2 Å, accessible plus isolated pockets: the quantity Zeo++'s -vol "
    "reported in 2017 (AV + NAV; the probe-occupiable volume of Ongari et al., Langmuir 2017, came later and "
    "is 4-5 times larger for ZIF-4: 40 % in the crystal). That G17 used the probe-centre volume is our "
    "reading, not stated in the fact; pores.json holds both. Zeo++ default (CCDC) radii. The theoretical "
    "void fractions of X24 (probe 1.6 Å) are compared with the probe-occupiable fraction at r = 1.6 Å of the "
    "first frame. Definitions and checks: docs/pores.md.")


# ---------------------------------------------------------------------- report
def run_ok(s: dict) -> bool:
    """True unless the analysed run did not finish (summary ``run_status`` failed / interrupted / running)."""
    return s.get("run_status") in (None, "complete", "unknown")


def _run_label(s: dict) -> str:
    """'protocol repN (folder)' of one analysis summary, with the run status when it did not finish."""
    rep = f" rep{s['replica']}" if s.get("replica") is not None else ""
    flag = "" if run_ok(s) else f" **{str(s['run_status']).upper()} run, not in the comparison**"
    return f"{s.get('protocol') or ''}{rep} ({Path(s['adir']).name}){flag}".strip()


def _porosity(s: dict) -> str:
    """'first → last' He probe-centre volume (%) from the grid pore analysis."""
    p = s.get("pores") or {}
    vals = [((p.get(k) or {}).get("grid") or {}).get("probe_centre_fraction", {}).get("He") for k in ("first", "last")]
    return " → ".join(_fmt(100 * v) if v is not None else "–" for v in vals)


MECHANICAL_STAGES = ("press", "shear", "compress", "mill", "load", "unload", "hydro", "uniaxial")


def _amorphisation_lines(s: dict, registry) -> list[str]:
    """Density / crystallinity / CN per stage of one run and the lab's milling sign (zifsim.analysis.crystallinity)."""
    rows = s.get("by_stage") or []
    if len(rows) < 2:
        return []
    names = [str(r.get("stage", "")) for r in rows]
    before = next((r for r, n in zip(rows, names) if "npt300" in n), rows[0])
    after = rows[-1]
    mech = any(any(k in n for k in MECHANICAL_STAGES) for n in names)
    out = [f"Amorphisation, {_run_label(s)} (crystallinity index against "
           f"{s.get('crystallinity_reference', 'the first frame')}; 1 = that crystal, 0 = no memory of its lattice):", "",
           "| stage | T (K) | ρ (g/cm³) | crystallinity | mean CN | CN3 | CN4 |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.get('stage')} | {_fmt(r.get('temp_K'))} | {_fmt(r.get('density_gcm3'))} | "
                   f"{_fmt(r.get('crystallinity'))} | {_fmt(r.get('mean_CN'))} | {_fmt(r.get('frac_CN3'))} | "
                   f"{_fmt(r.get('frac_CN4'))} |")
    d0, d1 = before.get("density_gcm3"), after.get("density_gcm3_last", after.get("density_gcm3"))
    if mech and d0 and d1:
        sign = ((registry.facts.get("milling_density_change") or {}).get("sign") or {}).get(s["material"]) \
            if registry is not None else None
        sim = "densifies" if d1 > d0 else "expands"
        verdict = "" if sign is None else (" — the lab's sign" if sign == sim else
                                           f" — NOT the lab's sign (milling: {sign}, X24)")
        out += ["", f"Density {before.get('stage')} → end: {d0:.3f} → {d1:.3f} g/cm³ "
                    f"({100 * (d1 / d0 - 1):+.1f} %, {sim}){verdict}."]
    return out + [""]


def _fmt(v, err=None):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    text = f"{v:.4g}"
    if err is not None and np.isfinite(err):
        text += f" ± {err:.2g}"
    return text


def _xray_lines(material: str, res) -> list[str]:
    """report.md lines of the measured-X-ray comparison of one material (Rw of every run, overlay)."""
    if not res:
        return []
    lines = [f"### {material}: X-ray total scattering against measurement", "",
             "Model processed like the data (their Q range, Lorch or not; docs/xray.md), best scale; "
             "Rw = sqrt(Σ(y_exp − s·y_sim)² / Σ y_exp²). The last stage of each run is used: a quenched run "
             "is a glass, a structure or a run without cooling a crystal.", "",
             "| run | file | kind | fit range | run state | data state | Rw | scale |", "|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        if "error" in r:
            lines.append(f"| {Path(str(r.get('run'))).name} | {r.get('file', '')} | – | – | – | – | "
                         f"not scored: {r['error']} | – |")
            continue
        note = "" if r["like_with_like"] else " (not like with like)"
        temp = f" {r['T_C']} °C" if r.get("T_C") is not None else ""
        lines.append(f"| {r['protocol'] or ''} rep{r['replica']} ({Path(r['run']).name}) | {r['file']} | {r['kind']} | "
                     f"{r['fit_range'][0]:g}–{r['fit_range'][1]:g} | {r['run_state']}{note} | "
                     f"{r['data_state']}{temp} | {r['rw']:.3f} | {r['scale']:.3g} |")
    lines.append("")
    if res.get("png"):
        lines += [f"![{material} X-ray]({res['png']})", ""]
    return lines


def write_report(adirs, out, experiments=None) -> dict:
    """Write comparison.csv, comparison.png, per-material PNGs and report.md into ``out``.

    ``experiments``: measured X-ray files per material (:func:`zifsim.compare.xray_fit.load_experiments`);
    each material with some gets an overlay ``xray_<material>.png`` and the Rw of every run.
    """
    from zifsim.compare.xray_fit import load_experiments, read_experiment_files, xray_report
    out = Path(out)
    experiments = load_experiments(experiments)
    xray_files = read_experiment_files(experiments)  # malformed files refused before anything is written
    summaries = load_summaries(adirs)
    out.mkdir(parents=True, exist_ok=True)
    xray = xray_report(summaries, experiments, out, xray_files) if experiments else {}
    registry = _registry()
    table = comparison_table(summaries, registry)
    with atomic_open(out / "comparison.csv") as fh:
        table.to_csv(fh, index=False, float_format="%.6g")
    plot_parity(table, out / "comparison.png")
    for quantity in table.quantity.unique():
        if table[table.quantity == quantity].simulated.notna().any():
            safe_q = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in quantity)
            plot_quantity(table, quantity, out / f"quantity_{safe_q}.png")
    materials = list(dict.fromkeys(s["material"] for s in summaries))
    lines = ["# zifsim report: simulation vs experiment", "",
             f"{len(summaries)} analysis folder(s), {len(materials)} material(s). "
             "Temperatures in °C; experimental values as published (DSC/TGA at 10 °C/min unless noted).", "",
             "![comparison](comparison.png)", ""]
    heated = any("heating" in (s.get("stage_directions") or {}).values() for s in summaries)
    if heated or (table.quantity.str.startswith("Tm")).any() or any(s.get("Tm_K") for s in summaries):
        lines += ["> **On melting points.** " + melting_note(summaries), ""]
    for mat in materials:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in mat)
        plot_material(table, mat, out / f"comparison_{safe}.png")
        plot_overlays(summaries, mat, out)
        m = _material(registry, mat)
        lines += [f"## {mat}" + (f" — {m.formula}, {m.topology}" if m is not None and m.topology else ""), ""]
        runs = [s for s in summaries if s["material"] == mat]
        lines += ["| run | frames | ρ first → last (g/cm³) | CN first → last | CN4 last | dangling linkers | "
                  "M-N / M...M peak (Å) | He probe-centre first → last (%) | Tm (K) | Tg cool / reheat (K) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for s in runs:
            lines.append(
                f"| {_run_label(s)} | {s['n_frames']} | "
                f"{_fmt(s.get('density_gcm3_first'))} → {_fmt(s.get('density_gcm3_last'))} | "
                f"{_fmt(s.get('mean_CN_first_stage'))} → {_fmt(s.get('mean_CN_last_stage'))} | "
                f"{_fmt(s.get('frac_CN4_last_stage'))} | {_fmt(s.get('frac_dangling_linkers_last_stage'))} | "
                f"{_fmt(s.get('peak_MN_A'))} / {_fmt(s.get('peak_MM_A'))} | {_porosity(s)} | "
                f"{_fmt(s.get('Tm_K'), s.get('Tm_err_K'))} | "
                f"{_fmt(s.get('Tg_cooling_K'))} / {_fmt(s.get('Tg_reheating_K'))} |")
        lines.append("")
        for s in runs:
            lines += _amorphisation_lines(s, registry)
        for s in runs:
            if s.get("Tm_K") is None and s.get("T_max_heating_K"):
                cn = s.get("cn_onset_K")
                lines.append(
                    f"- {_run_label(s)}: the Lindemann ratio of the metals stayed below 0.10 up to "
                    f"{s['T_max_heating_K']:.0f} K ({s['T_max_heating_K'] - 273.15:.0f} °C) on heating, with "
                    f"windows of {s.get('lindemann_window_frames')} frames (the ratio grows with the window "
                    "length, so short windows under-read it): no Tm from this run"
                    + (f"; the mean CN starts to drop at {cn:.0f} K ({cn - 273.15:.0f} °C)." if cn else "."))
        lines.append("")
        sub = table[table.material == mat]
        if m is None:
            lines += [f"No registry entry for {mat!r}: no experimental facts to compare with.", ""]
        elif len(sub):
            lines += ["| quantity | simulated | experimental | unit | simulated from | reference |",
                      "|---|---|---|---|---|---|"]
            for _, r in sub.iterrows():
                exp = (f"{r.experimental_low:g}–{r.experimental_high:g}" if r.experimental_low != r.experimental_high
                       else f"{r.experimental:g}")
                lines.append(f"| {r.quantity} | {_fmt(r.simulated, r.simulated_err)} | {exp} | {r.unit} | "
                             f"{r.simulated_from} | {r.reference.split(':')[0]} |")
            lines.append("")
            tm = sub[sub.quantity == "Tm_C"]
            if len(tm) and np.isfinite(tm.simulated.iloc[0]) and tm.simulated.iloc[0] > tm.experimental_high.iloc[0]:
                lines += [f"Simulated Tm of {mat} is {tm.simulated.iloc[0] - tm.experimental.iloc[0]:.0f} °C above "
                          "experiment: expected superheating / force-field overestimate (see note above).", ""]
        if m is not None:
            unmatched = [k for k in m.experiment if k not in set(sub.quantity)]
            if unmatched:
                lines += ["Facts without a simulated counterpart in these runs: " + ", ".join(unmatched) + ".", ""]
        if any(has_cooling(s) for s in runs):
            lines += ["Glass quantities use the last frame after the quench; crystal quantities the first frame.", ""]
        if len(sub) and sub.quantity.str.contains("porous_volume|void_fraction").any():
            lines += [PORE_COMPARISON_NOTE, ""]
        lines += [f"![{mat}](comparison_{safe}.png)", "", f"![{mat} overlays](overlay_{safe}.png)", ""]
        lines += _xray_lines(mat, xray.get(mat))
    if registry is not None:
        used = sorted(set(table.reference.str.split(":").str[0]))
        if used:
            lines += ["## References", ""] + [f"- [{k}] {registry.references.get(k, '')}" for k in used] + [""]
    with atomic_open(out / "report.md") as fh:
        fh.write("\n".join(lines))
    return {"n_rows": len(table), "materials": materials, "out": str(out)}
