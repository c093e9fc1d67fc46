"""Summary table and plot of a set of built cells (``zifsim build --all``)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from zifsim.fileio import atomic_open, atomic_path

COLUMNS = ["material", "formula", "n_atoms", "density_gcm3", "metal_density_per_nm3",
           "MN_min_A", "MN_mean_A", "MN_max_A", "tau4_mean", "cn4_fraction", "passed", "source"]


def summary_rows(cells: dict) -> list[dict]:
    """One row per cell: composition, density (g/cm³), M-N (Å), tau4, pass/fail."""
    rows = []
    for name, cell in cells.items():
        r = cell.report
        n_metal = sum(r["metals"].values())
        rows.append({"material": name, "formula": r["formula"], "n_atoms": r["n_atoms"],
                     "density_gcm3": r["density_gcm3"], "metal_density_per_nm3": r["metal_density_per_nm3"],
                     "MN_min_A": r["MN_distance_A"]["min"], "MN_mean_A": r["MN_distance_A"]["mean"],
                     "MN_max_A": r["MN_distance_A"]["max"], "tau4_mean": r["tau4"]["mean"],
                     "cn4_fraction": round(r["cn_counts"].get("4", 0) / n_metal, 4),
                     "passed": r["passed"], "source": cell.provenance.get("source", "")})
    return rows


def write_summary(cells: dict, out: str | Path) -> None:
    """Write ``summary.csv`` and ``summary.png`` (density and tau4 per material) into ``out``."""
    out = Path(out)
    rows = summary_rows(cells)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_open(out / "summary.csv") as fh:
        fh.write(buf.getvalue())
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [r["material"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    axes[0].bar(names, [r["density_gcm3"] for r in rows], color="tab:blue")
    axes[0].set_ylabel("density (g/cm$^3$)")
    axes[1].bar(names, [r["tau4_mean"] for r in rows], color="tab:orange")
    axes[1].set_ylabel(r"mean $\tau_4$ (1 = tetrahedral)")
    axes[1].set_ylim(0, 1.05)
    for k, r in enumerate(rows):
        axes[2].errorbar(k, r["MN_mean_A"], yerr=[[r["MN_mean_A"] - r["MN_min_A"]], [r["MN_max_A"] - r["MN_mean_A"]]],
                         fmt="o", color="tab:green")
    axes[2].set_xticks(range(len(rows)))
    axes[2].set_xticklabels(names)
    axes[2].axhspan(1.9, 2.4, color="0.9", zorder=0)
    axes[2].set_ylabel("M-N distance (Å), min/mean/max")
    for ax in axes:
        ax.tick_params(axis="x", rotation=60)
    fig.suptitle("zifsim registry cells")
    fig.tight_layout()
    with atomic_path(out / "summary.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": None})
    plt.close(fig)
