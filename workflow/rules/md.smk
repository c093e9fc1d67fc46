# Molecular dynamics: one protocol on one cell, one replica (seed) = one job.
#
# Restart safety.  `zifsim run` resumes an existing run directory: finished
# stages are skipped and an interrupted stage continues from its checkpoint.
# So Snakemake must never delete the run directory, and a killed job must not
# leave anything that looks finished.  The declared output is therefore a flag
# file, `RUNDIR/run.complete`, created only after `zifsim run` exits 0 (the
# engine itself writes RUNDIR/metadata.json from the start, with "status":
# "running").  When a job is killed (Ctrl-C, SIGTERM, SIGKILL, a SLURM time
# limit) the flag does not exist, so the same snakemake command — or a
# resubmission through `retries` — simply runs `zifsim run` again on the same
# directory and the run resumes.
#
# The run spec.  `runspec` writes the plan's RunSpec of the run
# (zifsim.workflow: material, cell, protocol file, seed and the provider choice
# with what was requested, what runs, why and whether it is a fallback) to
# RUNDIR/runspec.json; `zifsim run --spec` runs exactly that and records it in
# RUNDIR/metadata.json.  A changed spec (e.g. another ReaxFF file) reruns both.


localrules:
    runspec,


rule runspec:
    """The plan's spec of one MD run (read by zifsim run --spec)."""
    output:
        spec=f"{RESULTS}/runs/{{material}}/{{protocol}}/rep{{replica}}/runspec.json",
    params:
        spec=lambda w: run_spec(w).to_json(),
    run:
        from zifsim.fileio import atomic_open

        with atomic_open(output.spec) as fh:
            fh.write(params.spec)


rule md:
    """Run one MD protocol on one cell with one seed (zifsim run --spec)."""
    output:
        complete=touch(f"{RESULTS}/runs/{{material}}/{{protocol}}/rep{{replica}}/run.complete"),
    input:
        spec=rules.runspec.output.spec,
        cell=lambda w: run_spec(w).cell,
        protocol=lambda w: run_spec(w).protocol_file,
        forcefield=lambda w: PLAN.forcefield_inputs(w.material),
    params:
        rundir=lambda w: PLAN.run_dir(w.material, w.protocol, w.replica),
        launcher=PLAN.mpi_prefix("md"),
    log:
        f"{RESULTS}/logs/md/{{material}}/{{protocol}}/rep{{replica}}.log",
    threads: step("md")["threads"]
    retries: step("md")["retries"]
    resources:
        **slurm_resources("md"),
    shell:
        "OMP_NUM_THREADS={threads} {params.launcher}{ZIFSIM} run --spec {input.spec:q}"
        " --out {params.rundir:q} --threads {threads} >> {log:q} 2>&1"
