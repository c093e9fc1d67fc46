"""Quick-look plot of a run: RUNDIR/thermo.png (T, P, density, potential energy vs time)."""
from __future__ import annotations

import os
from pathlib import Path

from zifsim.fileio import atomic_path


def plot_run_thermo(run_dir: str | os.PathLike, natoms: int | None = None) -> Path | None:
    """Write ``RUNDIR/thermo.png`` from ``RUNDIR/thermo.csv``; returns its path (None if no data).

    Panels: temperature (K), pressure (bar), density (g/cm³), potential energy
    (eV/atom when ``natoms`` is given, else eV) against cumulative time (ps); one
    colour per stage.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    run_dir = Path(run_dir)
    csv = run_dir / "thermo.csv"
    if not csv.exists():
        return None
    th = pd.read_csv(csv)
    if th.empty:
        return None
    pe_label, pe = ("potential energy (eV/atom)", th.pe_eV / natoms) if natoms else ("potential energy (eV)", th.pe_eV)
    panels = [("temperature (K)", th.temp_K), ("pressure (bar)", th.press_bar),
              ("density (g/cm³)", th.density_gcm3), (pe_label, pe)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 9), sharex=True)
    for ax, (label, values) in zip(axes, panels):
        for stage, rows in th.groupby("stage", sort=False):
            ax.plot(rows.time_ps, values[rows.index], ".-" if len(rows) < 5 else "-", lw=1, ms=3, label=stage)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time (ps)")
    axes[0].legend(fontsize=7, ncol=3, loc="best")
    axes[0].set_title(run_dir.name)
    fig.tight_layout()
    out = run_dir / "thermo.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out
