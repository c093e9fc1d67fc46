# Shared by every rule file: the run plan, paths, resources and input functions.
# No decisions here: zifsim.workflow.plan checks the config (schema, names, every
# protocol), decides the provider per material, the seeds and the results layout;
# see its docstring for how to add a config key.

import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from zifsim.errors import ZifsimError
from zifsim.layout import ANALYSIS_TABLES
from zifsim.workflow import plan

try:
    PLAN = plan(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
except ZifsimError as exc:
    raise WorkflowError(str(exc)) from None
for _notice in PLAN.notices:
    print(_notice, file=sys.stderr)
config.update(PLAN.config)  # what runs, defaults filled in (also for `snakemake --report`)

RESULTS = PLAN.results
RUNS = PLAN.runs
IMPORTED = PLAN.imported


def _alternatives(names):
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    material=_alternatives(PLAN.materials),
    protocol=_alternatives(PLAN.protocols),
    replica=r"\d+",
    imported=_alternatives(list(IMPORTED)),


def run_spec(w):
    """The RunSpec of the job's {material}/{protocol}/rep{replica}."""
    return PLAN.run(w.material, w.protocol, w.replica)


def zifsim_command():
    """How jobs call zifsim: $ZIFSIM_EXE, else the zifsim beside this Python, else PATH."""
    if os.environ.get("ZIFSIM_EXE"):
        return os.environ["ZIFSIM_EXE"]
    beside = Path(sys.executable).with_name("zifsim")
    return shlex.quote(str(beside)) if beside.is_file() else "zifsim"


ZIFSIM = zifsim_command()
step = PLAN.step
slurm_resources = PLAN.slurm_resources


def analysis_outputs(prefix):
    """{table stem: path} of the tables every analysis of a simulated run writes."""
    return {Path(name).stem: f"{prefix}/{name}" for name in ANALYSIS_TABLES}

