# zifsim: from CIF to comparison with experiment.
#
#   snakemake --cores 2                                  # default main job (configs/config.yaml)
#   snakemake --cores 2 --configfile configs/test.yaml   # tiny end-to-end check
#   snakemake --profile slurm --configfile configs/production.yaml
#   snakemake --report report.html                       # after a run
#
# materials x protocols x replicas -> cells -> MD runs -> analyses -> report.
# The rules are thin wrappers around the zifsim command-line interface; see
# docs/workflow.md and docs/architecture.md (section 6) for the layout of results/.

from snakemake.utils import min_version

min_version("8.20")

# The default config is read only when no --configfile is given: Snakemake
# would otherwise merge the two files, mixing materials/cells of both.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "configs", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/build.smk"
include: "workflow/rules/md.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.report.output,
        rules.run_table.output,
