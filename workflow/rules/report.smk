# Comparison with experiment over every analysis of this config: zifsim report.
# Runs locally (quick); attached to `snakemake --report report.html`.

import json


localrules:
    report,
    run_table,


rule report:
    """Simulated vs experimental numbers (Tm, Tg, CN, density, pores ...) for every run."""
    output:
        table=report(
            f"{RESULTS}/report/comparison.csv",
            caption="../report/comparison_table.rst",
            category="Comparison with experiment",
        ),
        plot=report(
            f"{RESULTS}/report/comparison.png",
            caption="../report/comparison_plot.rst",
            category="Comparison with experiment",
        ),
        markdown=report(
            f"{RESULTS}/report/report.md",
            caption="../report/report_md.rst",
            category="Comparison with experiment",
        ),
        per_material=report(
            directory(f"{RESULTS}/report/materials"),
            patterns=["{plot}.png"],
            caption="../report/per_material.rst",
            category="Comparison with experiment",
            subcategory="Per material",
            labels={"plot": "{plot}"},
        ),
    input:
        summaries=[f"{d}/summary.json" for d in PLAN.analysis_dirs()],
    params:
        adirs=PLAN.analysis_dirs(),
        out=f"{RESULTS}/report",
        # measured X-ray files per material (config key experiments; docs/xray.md)
        experiments=json.dumps(config.get("experiments") or {}),
    log:
        f"{RESULTS}/logs/report.log",
    shell:
        "{ZIFSIM} report {params.adirs:q} --out {params.out:q} --experiments {params.experiments:q}"
        " > {log:q} 2>&1"
        " && mkdir -p {output.per_material:q}"
        " && (cp {params.out:q}/comparison_*.png {params.out:q}/overlay_*.png {params.out:q}/xray_*.png"
        " {output.per_material:q}/ 2>/dev/null || true)"


rule run_table:
    """One row per MD run: seed, status, atoms, steps, wall time, speed (from metadata.json)."""
    output:
        table=report(
            f"{RESULTS}/report/runs.csv",
            caption="../report/runs_table.rst",
            category="Runs",
        ),
    input:
        complete=[f"{d}/run.complete" for d in PLAN.run_dirs()],
    script:
        "../scripts/run_table.py"
