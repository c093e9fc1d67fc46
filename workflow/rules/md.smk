# Molecular dynamics: one protocol on one cell, one replica (seed) = one job.
#
# Restart safety: the declared output is the run-level metadata.json, which the
# engine writes last (with "status": "complete").  When a job is killed or
# times out, Snakemake deletes only that file; the run directory with its
# per-stage checkpoints stays, and the next attempt (retries, or the same
# snakemake command run again) resumes from them instead of starting over.


rule md:
    """Run one MD protocol on one cell with one seed (zifsim run)."""
    output:
        metadata=f"{RESULTS}/runs/{{material}}/{{protocol}}/rep{{replica}}/metadata.json",
    input:
        cell=f"{RESULTS}/cells/{{material}}/cell.extxyz",
        protocol=lambda w: protocol_file(w.protocol),
        forcefield=forcefield_inputs(),
    params:
        rundir=lambda w: run_dir(w.material, w.protocol, w.replica),
        seed=lambda w: seed_of(w.replica),
        provider=config.get("provider", "reaxff"),
        forcefield=forcefield_option(),
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
        " --provider {params.provider} {params.forcefield}"
        " --seed {params.seed} --threads {threads} >> {log:q} 2>&1"
