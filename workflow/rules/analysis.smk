# Analyses of one run directory (or an imported trajectory): zifsim analyse.
#
# Declared outputs are the tables the report and the notebooks read; zifsim
# analyse writes more (plots, S(q), X-ray PDF ...) into the same folder.  The
# plots are copied to results/report/figures/ so that `snakemake --report`
# attaches them, one subcategory per run.

from zifsim.cli.analyse import source_inputs, source_options


rule analyse_run:
    """Coordination, Lindemann, RDF/PDF, pores and thermo summary of one MD run."""
    output:
        **analysis_outputs(f"{RESULTS}/analysis/{{material}}/{{protocol}}/rep{{replica}}"),
        figures=report(
            directory(f"{RESULTS}/report/figures/{{material}}/{{protocol}}/rep{{replica}}"),
            patterns=["{figure}.png"],
            caption="../report/run_figures.rst",
            category="Runs",
            subcategory="{material} {protocol} rep{replica}",
            labels={"material": "{material}", "protocol": "{protocol}",
                    "replica": "{replica}", "figure": "{figure}"},
        ),
    input:
        run=rules.md.output.complete,
    params:
        rundir=lambda w: PLAN.run_dir(w.material, w.protocol, w.replica),
        out=lambda w: PLAN.analysis_dir(w.material, w.protocol, w.replica),
        options=PLAN.analysis_options(),
    log:
        f"{RESULTS}/logs/analysis/{{material}}/{{protocol}}/rep{{replica}}.log",
    threads: step("analysis")["threads"]
    retries: step("analysis")["retries"]
    resources:
        **slurm_resources("analysis"),
    shell:
        "OMP_NUM_THREADS={threads} {ZIFSIM} analyse {params.rundir:q} --out {params.out:q}"
        " {params.options} > {log:q} 2>&1"
        " && mkdir -p {output.figures:q}"
        " && (cp {params.out:q}/*.png {output.figures:q}/ 2>/dev/null || true)"


rule analyse_imported:
    """Analyses of a run directory or trajectory made outside this workflow."""
    output:
        summary=f"{RESULTS}/analysis/imported/{{imported}}/summary.json",
        figures=report(
            directory(f"{RESULTS}/report/figures/imported/{{imported}}"),
            patterns=["{figure}.png"],
            caption="../report/run_figures.rst",
            category="Imported runs",
            subcategory="{imported}",
            labels={"run": "{imported}", "figure": "{figure}"},
        ),
    input:
        path=lambda w: os.path.expanduser(IMPORTED[w.imported]["path"]),
        extra=lambda w: source_inputs(IMPORTED[w.imported]),
    params:
        out=lambda w: PLAN.imported_analysis_dir(w.imported),
        options=PLAN.analysis_options(),
        source=lambda w: " ".join(shlex.quote(o) for o in source_options(IMPORTED[w.imported])),
        material=lambda w: IMPORTED[w.imported]["material"],
    log:
        f"{RESULTS}/logs/analysis/imported/{{imported}}.log",
    threads: step("analysis")["threads"]
    retries: step("analysis")["retries"]
    resources:
        **slurm_resources("analysis"),
    shell:
        "OMP_NUM_THREADS={threads} {ZIFSIM} analyse {input.path:q} --out {params.out:q}"
        " {params.options} {params.source} --material {params.material:q} > {log:q} 2>&1"
        " && mkdir -p {output.figures:q}"
        " && (cp {params.out:q}/*.png {output.figures:q}/ 2>/dev/null || true)"
