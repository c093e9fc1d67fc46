"""PNG plots of analysis results (matplotlib, Agg backend, written atomically)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from zifsim.fileio import atomic_path

__all__ = ["save_figure", "plot_coordination", "plot_lindemann", "plot_rdf", "plot_xray",
           "plot_thermo", "plot_psd"]


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _legend(ax, **kw):
    """Legend only when something is labelled (avoids matplotlib's warning)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kw)


def save_figure(fig, path) -> Path:
    """Save a figure as PNG atomically and close it."""
    plt = _plt()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


def _x_axis(table):
    """Temperature if it is known and varies, else time, else frame index."""
    if "temp_K" in table and table["temp_K"].notna().all() and table["temp_K"].std() > 1:
        return table["temp_K"].to_numpy(), "T (K)"
    if "time_ps" in table and table["time_ps"].notna().all() and table["time_ps"].std() > 0:
        return table["time_ps"].to_numpy(), "time (ps)"
    return np.arange(len(table)), "frame"


def plot_coordination(table, path, title=""):
    """Fractions of 2-5-coordinated metals and mean CN vs time and T."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    t = table["time_ps"].to_numpy() if table["time_ps"].notna().all() else np.arange(len(table))
    for k in range(2, 6):
        axes[0].plot(t, table[f"frac_CN{k}"], label=f"CN{k}")
    axes[0].set_xlabel("time (ps)")
    axes[0].set_ylabel("fraction of metals")
    _legend(axes[0])
    x, xl = _x_axis(table)
    axes[1].plot(x, table["mean_CN"], ".", ms=3)
    axes[1].set_xlabel(xl)
    axes[1].set_ylabel("mean M-N CN")
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_lindemann(table, path, tm=None, thresholds=(0.10, 0.15), title=""):
    """Lindemann ratio (metals, all atoms) and pair index vs T, with thresholds and Tm."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    x, xl = _x_axis(table)
    for stage, sub in table.groupby("stage", sort=False):
        xs, _ = _x_axis(sub) if len(sub) > 1 else (x[sub.index], xl)
        ax.plot(sub["temp_K"] if xl == "T (K)" else xs, sub["lindemann_metal"], "o-", ms=3,
                label=f"{stage}: metals")
        if sub["pair_index"].notna().any():
            ax.plot(sub["temp_K"] if xl == "T (K)" else xs, sub["pair_index"], "s--", ms=3,
                    label=f"{stage}: pair index")
    for thr in thresholds:
        ax.axhline(thr, color="grey", lw=0.8, ls=":")
    if tm and tm.get("Tm_K"):
        ax.axvline(tm["Tm_K"], color="k", lw=1, label=f"Tm ≈ {tm['Tm_K']:.0f} K")
    ax.set_xlabel(xl)
    ax.set_ylabel("Lindemann ratio")
    _legend(ax, fontsize=7)
    ax.set_title(title)
    return save_figure(fig, path)


def plot_rdf(rdf_by_stage: dict, path, title=""):
    """Metal-N and metal-metal partials and the total g(r) of the first and last stage."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    stages = list(rdf_by_stage)
    show = [stages[0], stages[-1]] if len(stages) > 1 else stages
    for stage in show:
        r = rdf_by_stage[stage]
        metals = [e for e in r.elements if e not in ("N", "C", "H")]
        for ax, pairs in zip(axes[:2], ([(m, "N") for m in metals], [(m, m) for m in metals])):
            for a, b in pairs:
                try:
                    ax.plot(r.r, r.partial(a, b), label=f"{stage}: {a}-{b}")
                except KeyError:
                    pass
        axes[2].plot(r.r, r.total, label=stage)
    for ax, t in zip(axes, ("M-N", "M...M", "total")):
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
        ax.set_title(t)
        _legend(ax, fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_xray(xray_by_stage: dict, path, title=""):
    """X-ray D(r) (finite Qmax) and S(Q) of the first and last stage."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    stages = list(xray_by_stage)
    show = [stages[0], stages[-1]] if len(stages) > 1 else stages
    for stage in show:
        x = xray_by_stage[stage]
        axes[0].plot(x.r, x.D_qmax, label=f"{stage} (Qmax {x.q_max:g} Å⁻¹)")
        axes[1].plot(x.q, x.S, label=stage)
    axes[0].set_xlabel("r (Å)")
    axes[0].set_ylabel("D(r) (Å⁻²)")
    axes[1].set_xlabel("Q (Å⁻¹)")
    axes[1].set_ylabel("S(Q)")
    for ax in axes:
        _legend(ax, fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_thermo(table, fits: dict, path, title=""):
    """Volume, density and enthalpy vs T per stage, with the Tg two-line fits."""
    plt = _plt()
    qs = [q for q in ("volume_A3", "density_gcm3", "enthalpy_eV") if q in table]
    fig, axes = plt.subplots(1, len(qs), figsize=(4.5 * len(qs), 4))
    axes = np.atleast_1d(axes)
    for ax, q in zip(axes, qs):
        for stage, sub in table.groupby("stage", sort=False):
            ax.plot(sub["temp_K"], sub[q], ".", ms=3, label=f"{stage} ({sub['direction'].iloc[0]})")
        label = {"volume_A3": "volume", "enthalpy_eV": "enthalpy"}.get(q)
        for stage, f in fits.items():
            fit = f.get(label) if label else None
            if fit and fit.get("Tg_K") and fit.get("significant"):
                ax.axvline(fit["Tg_K"], ls="--", lw=0.8, color="k")
                ax.text(fit["Tg_K"], ax.get_ylim()[1], f" Tg {fit['Tg_K']:.0f} K ({stage})",
                        fontsize=7, va="top")
        ax.set_xlabel("T (K)")
        ax.set_ylabel(q)
        _legend(ax, fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_psd(psd_table, path, title=""):
    """Pore-size distribution (histogram of pore diameters)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for src, sub in psd_table.groupby("method", sort=False):
        ax.plot(sub["diameter_A"], sub["fraction"], "-", label=src)
    ax.set_xlabel("pore diameter (Å)")
    ax.set_ylabel("fraction")
    _legend(ax, fontsize=7)
    ax.set_title(title)
    return save_figure(fig, path)
