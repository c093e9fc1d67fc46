# Shared by every rule file: config validation, name checks, paths, resources.
# No physics here: the rules only call the zifsim command-line interface.

import difflib
import os
import re
import shlex
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from zifsim.errors import ZifsimError
from zifsim.potentials.choice import choose_provider, forcefield_status

REPO = Path(workflow.basedir)  # the folder holding the Snakefile
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
MATERIALS_REGISTRY = REPO / "configs" / "materials.yaml"
PROTOCOL_DIR = REPO / "configs" / "protocols"


# ---------------------------------------------------------------- validation
def _schema_at(schema, path):
    """Sub-schema describing the config value at ``path`` (best effort, for messages)."""
    defs = schema.get("$defs", {})

    def deref(s):
        while isinstance(s, dict) and "$ref" in s:
            s = defs[s["$ref"].rsplit("/", 1)[-1]]
        return s

    s = deref(schema)
    for key in path:
        s = deref(s)
        if isinstance(key, int):
            s = s.get("items", {})
        elif key in s.get("properties", {}):
            s = s["properties"][key]
        elif isinstance(s.get("additionalProperties"), dict):
            s = s["additionalProperties"]
        else:
            return {}
    return deref(s)


def _key_name(path):
    text = ""
    for p in path:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "(top level)"


def config_errors(cfg, schema):
    """Every schema violation of ``cfg`` as one line naming the key and what is allowed."""
    from jsonschema import Draft202012Validator

    messages = []
    errors = sorted(Draft202012Validator(schema).iter_errors(cfg),
                    key=lambda e: [str(p) for p in e.absolute_path])
    for err in errors:
        path = list(err.absolute_path)
        key = _key_name(path)
        sub = _schema_at(schema, path)
        if err.validator == "additionalProperties":
            allowed = sorted(sub.get("properties", {}))
            for extra in sorted(set(err.instance) - set(allowed)):
                full = _key_name(path + [extra])
                hint = difflib.get_close_matches(extra, allowed, n=1)
                messages.append(
                    f"unknown config key '{full}'"
                    + (f" (did you mean '{hint[0]}'?)" if hint else "")
                    + f"; allowed keys{' of ' + key if path else ''}: {', '.join(allowed)}")
        elif err.validator == "enum":
            messages.append(f"config key '{key}' = {err.instance!r} is not allowed; "
                            f"allowed values: {', '.join(map(str, err.validator_value))}")
        elif err.validator == "type":
            expected = err.validator_value
            expected = " or ".join(expected) if isinstance(expected, list) else expected
            messages.append(f"config key '{key}' = {err.instance!r} has the wrong type "
                            f"({type(err.instance).__name__}); expected {expected}")
        elif err.validator == "required":
            missing = [k for k in err.validator_value if k not in err.instance]
            for k in missing:
                messages.append(f"config key '{_key_name(path + [k])}' is required"
                                + (f" when mode is {cfg.get('mode', 'simulate')}"
                                   if not path else ""))
        elif err.validator == "not":
            messages.append(f"config key '{key}': give supercell or min_width, not both")
        elif err.validator == "minItems":
            when = (f" when mode is {cfg.get('mode', 'simulate')}"
                    if len(path) == 1 and isinstance(cfg, dict) else "")
            messages.append(f"config key '{key}' must list at least {err.validator_value} "
                            f"item(s){when}")
        else:
            desc = sub.get("description")
            messages.append(f"config key '{key}': {err.message}"
                            + (f" ({desc})" if desc else ""))
    return list(dict.fromkeys(messages))


def _registry_materials():
    if not MATERIALS_REGISTRY.is_file():
        return {}
    with open(MATERIALS_REGISTRY) as fh:
        data = yaml.safe_load(fh) or {}
    return data.get("materials") or {}


def available_materials():
    """Material names in the registry configs/materials.yaml (empty if it is missing)."""
    return sorted(_registry_materials())


def material_aliases():
    """{alias: registry name} from the registry's `aliases` lists."""
    return {alias: name for name, entry in _registry_materials().items()
            for alias in (entry or {}).get("aliases", [])}


def available_protocols():
    """Protocol names shipped in configs/protocols/."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def _check_names(kind, names, known, custom, custom_key, aliases=None, key=None):
    key = key or f"{kind}s"
    problems = []
    for name in names:
        if name in custom or name in known:
            continue
        if aliases and name in aliases:
            problems.append(f"{kind} '{name}' in config key '{key}' is an alias of "
                            f"'{aliases[name]}': use the registry name '{aliases[name]}'")
            continue
        hint = difflib.get_close_matches(name, known + list(custom), n=1)
        problems.append(
            f"unknown {kind} '{name}' in config key '{key}'"
            + (f" (did you mean '{hint[0]}'?)" if hint else "")
            + f"; available: {', '.join(known) or '(none found)'}"
            + f"; or define it under '{custom_key}'")
    return problems


def material_elements_of(cfg, material):
    """Element symbols of ``material``: the registry's, or those of a custom CIF (None if unreadable)."""
    if material not in cfg["custom_materials"]:
        return None  # choose_provider takes them from the registry
    try:
        from zifsim.structures import read_structure

        path = Path(os.path.expanduser(cfg["custom_materials"][material]))
        return set(read_structure(path).get_chemical_symbols())
    except Exception:  # unreadable here: zifsim build reports it with the file and line
        return None


def provider_choice(cfg, material):
    """zifsim's provider decision for one material of the config (one rule, in the package:
    zifsim.potentials.choice.choose_provider); raises ZifsimError for an unusable request."""
    custom = material in cfg["custom_materials"]
    return choose_provider(cfg["provider"], material=None if custom else material,
                           elements=material_elements_of(cfg, material),
                           forcefield=cfg.get("forcefield"), key="forcefield")


def check_config(cfg):
    """Validate ``cfg`` (schema, names, files); raise WorkflowError listing every problem."""
    with open(SCHEMA) as fh:
        schema = yaml.safe_load(fh)
    problems = config_errors(cfg, schema)
    if problems:
        raise WorkflowError("invalid zifsim workflow config:\n  - " + "\n  - ".join(problems)
                            + f"\n(schema: {SCHEMA.relative_to(REPO)})")
    # Snakemake's own validation: fills in the schema defaults
    validate(cfg, str(SCHEMA))
    if cfg["mode"] == "simulate":
        problems += _check_names("material", cfg["materials"], available_materials(),
                                 cfg["custom_materials"], "custom_materials", material_aliases())
        problems += _check_names("protocol", cfg["protocols"], available_protocols(),
                                 cfg["custom_protocols"], "custom_protocols")
        for key, mapping in (("custom_materials", cfg["custom_materials"]),
                             ("custom_protocols", cfg["custom_protocols"])):
            for name, path in mapping.items():
                if not Path(os.path.expanduser(path)).is_file():
                    problems.append(f"config key '{key}.{name}': file not found: {path}")
        for name in cfg["cells"]:
            if name not in cfg["materials"]:
                problems.append(f"config key 'cells.{name}': '{name}' is not in 'materials' "
                                f"({', '.join(cfg['materials'])})")
        fallback = cfg["mlip_fallback"]
        problems += _check_names("material", fallback["materials"], available_materials(),
                                 cfg["custom_materials"], "custom_materials", material_aliases(),
                                 key="mlip_fallback.materials")
        problems += _check_names("protocol", fallback["protocols"], available_protocols(),
                                 cfg["custom_protocols"], "custom_protocols",
                                 key="mlip_fallback.protocols")
        if cfg["provider"] == "reaxff" and "forcefield" not in cfg:
            problems.append("config key 'forcefield' is required when provider is reaxff "
                            "(e.g. forcefield: ffield_ZnN_2016)")
        elif cfg["provider"] == "reaxff":
            # the same rule as provider auto, minus the fallback: a clear error per material
            for material in cfg["materials"]:
                try:
                    provider_choice(cfg, material)
                except ZifsimError as exc:
                    problems.append(exc.message + (f"; fix: {exc.fix}" if exc.fix else ""))
    names = [r["name"] for r in cfg["imported_runs"]]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"config key 'imported_runs': name '{dup}' is used more than once")
    for i, run in enumerate(cfg["imported_runs"]):
        if not Path(os.path.expanduser(run["path"])).exists():
            problems.append(f"config key 'imported_runs[{i}].path': not found: {run['path']}")
    if problems:
        raise WorkflowError("invalid zifsim workflow config:\n  - "
                            + "\n  - ".join(dict.fromkeys(problems)))


check_config(config)

# ---------------------------------------------------------------- names and paths
RESULTS = config["results"].rstrip("/")
SIMULATE = config["mode"] == "simulate"
MATERIALS = list(config.get("materials") or []) if SIMULATE else []
PROTOCOLS = list(config.get("protocols") or []) if SIMULATE else []


def fallback_plan(cfg):
    """(materials, protocols, message) of the MLIP fallback of a provider-auto config,
    or None when it does not apply (ReaxFF file found, another provider, no fallback block)."""
    if cfg["mode"] != "simulate" or cfg["provider"] != "auto":
        return None
    fallback = cfg["mlip_fallback"]
    if not (fallback["materials"] or fallback["protocols"]):
        return None
    status = forcefield_status(cfg.get("forcefield"))
    if status.found:
        return None
    materials = list(fallback["materials"] or cfg["materials"])
    protocols = list(fallback["protocols"] or cfg["protocols"])
    message = (f"zifsim: ReaxFF file '{status.name}' not found at {status.looked_at}: "
               f"running the MLIP fallback (config key mlip_fallback) instead: "
               f"{', '.join(materials)} x {', '.join(protocols)} with mlip/chgnet, "
               f"not {', '.join(cfg['materials'])} x {', '.join(cfg['protocols'])} with ReaxFF. "
               f"For the ReaxFF job set ZIFSIM_FORCEFIELD_DIR to the folder holding "
               f"{status.name} (default ../shared/forcefields) or run "
               f"`zifsim forcefield fetch {re.sub(r'^ffield_', '', Path(status.name).name)}`.")
    return materials, protocols, message


FALLBACK = fallback_plan(config)
if FALLBACK:
    MATERIALS, PROTOCOLS, _message = FALLBACK
    print(_message, file=sys.stderr)
    # what runs, also for `snakemake --report` (workflow/report/workflow.rst)
    config["materials"], config["protocols"] = list(MATERIALS), list(PROTOCOLS)
    if config["mlip_fallback"].get("threads"):
        config["resources"]["md"] = {**(config["resources"].get("md") or {}),
                                     "threads": config["mlip_fallback"]["threads"]}


def _provider_choices(materials):
    choices, problems = {}, []
    for material in materials:
        try:
            choices[material] = provider_choice(config, material)
        except ZifsimError as exc:
            problems.append(exc.message + (f"; fix: {exc.fix}" if exc.fix else ""))
    if problems:
        raise WorkflowError("invalid zifsim workflow config:\n  - "
                            + "\n  - ".join(dict.fromkeys(problems)))
    return choices


#: {material: ProviderChoice}: which provider runs each material, and why
CHOICES = _provider_choices(MATERIALS)
_fell_back = [c for c in CHOICES.values() if c.fallback]
if _fell_back and not FALLBACK:  # auto without a usable ReaxFF file and no mlip_fallback block
    print("zifsim: provider auto runs " + "; ".join(f"{c.material} on the MLIP ({c.reason})"
                                                   for c in _fell_back), file=sys.stderr)
REPLICAS = list(range(1, config["replicas"] + 1)) if SIMULATE else []
IMPORTED = {run["name"]: run for run in config["imported_runs"]}


def _alternatives(names):
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    material=_alternatives(MATERIALS),
    protocol=_alternatives(PROTOCOLS),
    replica=r"\d+",
    imported=_alternatives(list(IMPORTED)),


def cell_dir(material):
    return f"{RESULTS}/cells/{material}"


def run_dir(material, protocol, replica):
    return f"{RESULTS}/runs/{material}/{protocol}/rep{replica}"


def analysis_dir(material, protocol, replica):
    return f"{RESULTS}/analysis/{material}/{protocol}/rep{replica}"


def imported_analysis_dir(name):
    return f"{RESULTS}/analysis/imported/{name}"


def seed_of(replica):
    return config["seed"] + int(replica) - 1


def cell_options(material):
    """``zifsim build`` options for the cell of ``material``."""
    cell = config["cells"].get(material) or config.get("cell") or {"supercell": [1, 1, 1]}
    if "min_width" in cell:
        return f"--min-width {cell['min_width']}"
    return "--supercell " + ",".join(str(n) for n in cell.get("supercell", [1, 1, 1]))


def material_source(material):
    """What ``zifsim build`` is given: a registry name or a CIF path."""
    if material in config["custom_materials"]:
        return str(Path(os.path.expanduser(config["custom_materials"][material])).resolve())
    return material


def protocol_file(protocol):
    if protocol in config["custom_protocols"]:
        return str(Path(os.path.expanduser(config["custom_protocols"][protocol])).resolve())
    return str(PROTOCOL_DIR / f"{protocol}.yaml")


def forcefield_inputs(material):
    """The ReaxFF file as an input of a ReaxFF run, so that a changed parameter file reruns MD."""
    choice = CHOICES[material]
    return [choice.forcefield] if choice.kind == "reaxff" else []


def provider_options(material):
    """`zifsim run` options saying which provider runs ``material`` and why (recorded in
    the run's metadata.json)."""
    choice = CHOICES[material]
    opts = [f"--provider {choice.kind}"]
    if choice.kind == "reaxff":
        opts.append("--forcefield " + shlex.quote(choice.forcefield))
    elif choice.model and choice.model != "chgnet":
        opts.append("--forcefield " + shlex.quote(choice.model))
    opts.append("--provider-reason " + shlex.quote(choice.reason))
    return " ".join(opts)


def zifsim_command():
    """How jobs call zifsim: $ZIFSIM_EXE, else the zifsim beside this Python, else PATH."""
    if os.environ.get("ZIFSIM_EXE"):
        return os.environ["ZIFSIM_EXE"]
    beside = Path(sys.executable).with_name("zifsim")
    return shlex.quote(str(beside)) if beside.is_file() else "zifsim"


ZIFSIM = zifsim_command()


# ---------------------------------------------------------------- resources
#: defaults, overridden per step by config "resources"
STEP_DEFAULTS = {
    "build": {"threads": 1, "mpi_tasks": 1, "mem_mb": 2000, "runtime": 20, "retries": 0},
    "md": {"threads": 1, "mpi_tasks": 1, "mem_mb": 4000, "runtime": 120, "retries": 0},
    "analysis": {"threads": 1, "mpi_tasks": 1, "mem_mb": 4000, "runtime": 60, "retries": 0},
}


def step(name):
    return {**STEP_DEFAULTS[name], **(config["resources"].get(name) or {})}


def slurm_resources(name):
    """Resources for one step: memory, wall time and where SLURM should put it.

    ``slurm_partition`` / ``slurm_account`` are only set when the config names
    them, so the cluster defaults apply otherwise (and local runs ignore them).
    """
    s = step(name)
    res = {"mem_mb": s["mem_mb"], "runtime": s["runtime"]}
    partition = config["slurm"].get("partition")
    if name == "md" and config["slurm"].get("md_partition"):
        partition = config["slurm"]["md_partition"]
    if partition:
        res["slurm_partition"] = partition
    if config["slurm"].get("account"):
        res["slurm_account"] = config["slurm"]["account"]
    if s["mpi_tasks"] > 1:
        res["tasks"] = s["mpi_tasks"]
        res["mpi"] = config["slurm"]["mpi_launcher"]
        res["cpus_per_task"] = s["threads"]
    return res


def mpi_prefix(name):
    """Launcher prefix of an MPI step ('' for a single rank)."""
    s = step(name)
    if s["mpi_tasks"] <= 1:
        return ""
    launcher = config["slurm"]["mpi_launcher"]
    if re.search(r"(^|\s)(-n|-np|--ntasks)(\s|=)", launcher):
        return launcher + " "
    return f"{launcher} -n {s['mpi_tasks']} "


# ---------------------------------------------------------------- analysis outputs
def analysis_options():
    """Options of `zifsim analyse` set in the config's `analysis` section."""
    a = config["analysis"]
    opts = [f"--every {a['every']}"]
    if a.get("r_max_A") is not None:
        opts.append(f"--r-max {a['r_max_A']}")
    if a.get("lindemann_window") is not None:
        opts.append(f"--window {a['lindemann_window']}")
    if a.get("probe") is not None:
        opts.append(f"--probe {shlex.quote(str(a['probe']))}")
    return " ".join(opts)


#: tables every analysis of a simulated run must produce
ANALYSIS_TABLES = [
    "summary.json",
    "coordination.csv",
    "lindemann.csv",
    "rdf.csv",
    "psd.csv",
]


def _analysis_outputs(prefix):
    return {Path(name).stem: f"{prefix}/{name}" for name in ANALYSIS_TABLES}


# ---------------------------------------------------------------- targets
def simulated_analysis_dirs():
    return [analysis_dir(m, p, r) for m in MATERIALS for p in PROTOCOLS for r in REPLICAS]


def all_analysis_dirs():
    return simulated_analysis_dirs() + [imported_analysis_dir(n) for n in IMPORTED]
