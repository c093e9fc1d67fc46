# Periodic cells from the materials registry (or a user CIF): zifsim build.


rule build_cell:
    """Build and validate the simulation cell of one material.

    zifsim run reads cell.extxyz (element names and the material travel with it);
    cell.data (LAMMPS atom_style charge) and cell.cif are products for the user's own
    LAMMPS inputs and viewers, written by the same zifsim.structures.io writers.
    """
    output:
        data=f"{RESULTS}/cells/{{material}}/cell.data",
        extxyz=f"{RESULTS}/cells/{{material}}/cell.extxyz",
        cif=f"{RESULTS}/cells/{{material}}/cell.cif",
        validation=f"{RESULTS}/cells/{{material}}/validation.json",
    input:
        cif=lambda w: PLAN.cell_inputs(w.material),
    params:
        source=lambda w: PLAN.material_source(w.material),
        options=lambda w: PLAN.cell_options(w.material),
        out=lambda w: PLAN.cell_dir(w.material),
    log:
        f"{RESULTS}/logs/build/{{material}}.log",
    threads: step("build")["threads"]
    retries: step("build")["retries"]
    resources:
        **slurm_resources("build"),
    shell:
        "{ZIFSIM} build {params.source:q} --out {params.out:q} {params.options} > {log:q} 2>&1"
