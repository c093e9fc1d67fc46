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
# Provider.  `provider_options` (common.smk) passes the provider chosen for the
# material by zifsim.potentials.choice.choose_provider (config `provider: auto`:
# ReaxFF when its file is found and covers the elements, else the MLIP) and the
# reason, which `zifsim run` records in RUNDIR/metadata.json ("provider_choice").


rule md:
    """Run one MD protocol on one cell with one seed (zifsim run)."""
    output:
        complete=touch(f"{RESULTS}/runs/{{material}}/{{protocol}}/rep{{replica}}/run.complete"),
    input:
        cell=f"{RESULTS}/cells/{{material}}/cell.extxyz",
        protocol=lambda w: protocol_file(w.protocol),
        forcefield=lambda w: forcefield_inputs(w.material),
    params:
        rundir=lambda w: run_dir(w.material, w.protocol, w.replica),
        seed=lambda w: seed_of(w.replica),
        provider=lambda w: provider_options(w.material),
        launcher=mpi_prefix("md"),
    log:
        f"{RESULTS}/logs/md/{{material}}/{{protocol}}/rep{{replica}}.log",
    threads: step("md")["threads"]
    retries: step("md")["retries"]
    resources:
        **slurm_resources("md"),
    shell:
        "OMP_NUM_THREADS={threads} {params.launcher}{ZIFSIM} run {input.cell:q}"
        " --protocol {input.protocol:q} --out {params.rundir:q}"
        " {params.provider}"
        " --seed {params.seed} --threads {threads} >> {log:q} 2>&1"
