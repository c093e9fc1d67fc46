"""The run plan of the Snakemake workflow: the package decides, Snakemake executes.

:func:`plan` turns a workflow config (``configs/config.yaml``, checked against
``workflow/schemas/config.schema.yaml``) into a :class:`Plan`: every MD run as a
:class:`RunSpec` (material, cell source, loaded protocol, seed, provider
choice) plus the imported runs to analyse, the results layout and the
resources of each step. It is the one place that

- checks the config: schema (defaults filled in), material and protocol names,
  files, and **every protocol loaded and validated**, so a bad stage key or
  ``seed: 0`` fails before any job, naming the key;
- decides the force provider, once per material (``provider: auto`` and the
  ``mlip_fallback`` block included), with
  :func:`zifsim.potentials.choice.choose_provider`;
- applies the seed rule (:mod:`zifsim.seeds`: seed >= 1, replica ``k`` gets
  ``seed + k - 1``, one default);
- knows the results layout both ways (:mod:`zifsim.layout`).

``workflow/rules/common.smk`` only calls it; the ``md`` rule writes
:meth:`RunSpec.to_dict` to ``RUNDIR/runspec.json`` and ``zifsim run --spec``
runs it, so ``metadata.json`` records the material and the whole provider
choice.

Adding a config key: declare it (type, default, description) in the schema;
if it changes what runs, read it in :func:`plan` (one place) and expose it on
:class:`Plan` or :class:`RunSpec`; rule files read it from ``PLAN``.

>>> p = plan({"materials": ["ZIF-4"], "protocols": ["tiny"], "provider": "mlip"})  # doctest: +SKIP
>>> p.runs[0].seed, p.runs[0].provider.kind, p.run_dir("ZIF-4", "tiny", 1)          # doctest: +SKIP
(12345, 'mlip', 'results/runs/ZIF-4/tiny/rep1')
"""
from __future__ import annotations

import copy
import difflib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zifsim import layout, seeds, settings
from zifsim.errors import ConfigError, ZifsimError
from zifsim.potentials.choice import ProviderChoice, choose_provider, forcefield_fix, forcefield_status
from zifsim.protocols.loader import PROTOCOL_DIR, Protocol, load_protocol

SCHEMA = settings.REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
HEADER = "invalid zifsim workflow config:"

#: resources of each workflow step, overridden per step by config ``resources``
STEP_DEFAULTS = {
    "build": {"threads": 1, "mpi_tasks": 1, "mem_mb": 2000, "runtime": 20, "retries": 0},
    "md": {"threads": 1, "mpi_tasks": 1, "mem_mb": 4000, "runtime": 120, "retries": 0},
    "analysis": {"threads": 1, "mpi_tasks": 1, "mem_mb": 4000, "runtime": 60, "retries": 0},
}


# ---------------------------------------------------------------- the plan's records
@dataclass(frozen=True)
class RunSpec:
    """One MD run: what ``zifsim run --spec RUNDIR/runspec.json`` is given.

    Attributes
    ----------
    material, protocol, replica : the run (replica 1-based).
    seed : velocity seed (>= 1; replica ``k`` has the config seed + k - 1).
    cell : the cell file the run starts from (``results/cells/{material}/cell.extxyz``).
    cell_source : what ``zifsim build`` is given: a registry name or a CIF path.
    protocol_file : absolute path of the protocol YAML.
    provider : the provider choice for the material (what runs, why, requested, fallback).
    loaded : the protocol, loaded and validated when the plan was made.
    """

    material: str
    protocol: str
    replica: int
    seed: int
    cell: str
    cell_source: str
    protocol_file: str
    provider: ProviderChoice
    loaded: Protocol | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able spec (``runspec.json``); :meth:`from_dict` reads it back."""
        return {"material": self.material, "protocol": self.protocol, "replica": self.replica,
                "seed": self.seed, "cell": self.cell, "cell_source": self.cell_source,
                "protocol_file": self.protocol_file, "provider_choice": self.provider.metadata()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> "RunSpec":
        """Read a spec written by :meth:`to_dict`; :class:`ConfigError` naming a missing key."""
        keys = ("material", "protocol", "replica", "seed", "cell", "protocol_file", "provider_choice")
        missing = [k for k in keys if k not in data]
        if missing:
            raise ConfigError(f"run spec lacks key(s) {', '.join(missing)}", source=source,
                              where=missing[0], fix="regenerate it (zifsim.workflow.plan, the md rule)")
        return cls(material=str(data["material"]), protocol=str(data["protocol"]),
                   replica=int(data["replica"]),
                   seed=seeds.check_seed(data["seed"], source=source),
                   cell=str(data["cell"]), cell_source=str(data.get("cell_source") or data["material"]),
                   protocol_file=str(data["protocol_file"]),
                   provider=ProviderChoice.from_metadata(data["provider_choice"]))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @property
    def key(self) -> layout.RunKey:
        return layout.RunKey(self.material, self.protocol, self.replica)


def read_run_spec(path: str | os.PathLike) -> RunSpec:
    """Read ``runspec.json``; :class:`ConfigError` naming the file when it is unusable."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("run spec not found", source=str(path),
                          fix="give the runspec.json written by the workflow's md rule") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc.msg}", source=str(path), where=exc.lineno,
                          fix="regenerate it with the workflow (snakemake)") from None
    if not isinstance(data, dict):
        raise ConfigError("a run spec must be a JSON object", source=str(path),
                          fix="regenerate it with the workflow (snakemake)")
    return RunSpec.from_dict(data, source=str(path))


@dataclass
class Plan:
    """What a workflow config runs. Built by :func:`plan`; the rule files only read it.

    Attributes
    ----------
    config : the effective config (schema defaults filled in; with the MLIP fallback
        its ``materials`` / ``protocols`` are those that run).
    mode : ``simulate`` or ``analysis_only``.
    results : the results folder (no trailing slash).
    materials, protocols, replicas : what runs (empty lists in analysis-only mode).
    choices : ``{material: ProviderChoice}``, decided once per material.
    protocols_loaded : ``{protocol: Protocol}``, every protocol the config names.
    runs : every MD run, materials x protocols x replicas.
    imported : ``{name: imported_runs entry}``.
    notices : lines to print when the workflow starts (e.g. the MLIP fallback).
    fallback : True when the ``mlip_fallback`` block replaced materials / protocols.
    """

    config: dict
    mode: str
    results: str
    materials: list[str]
    protocols: list[str]
    replicas: list[int]
    choices: dict[str, ProviderChoice]
    protocols_loaded: dict[str, Protocol]
    runs: list[RunSpec]
    imported: dict[str, dict]
    notices: list[str] = field(default_factory=list)
    fallback: bool = False

    # -------------------------------------------------------------- layout
    def cell_dir(self, material: str) -> str:
        return layout.cell_dir(self.results, material)

    def cell_file(self, material: str) -> str:
        return f"{self.cell_dir(material)}/cell.extxyz"

    def run_dir(self, material: str, protocol: str, replica) -> str:
        return layout.run_dir(self.results, material, protocol, int(replica))

    def analysis_dir(self, material: str, protocol: str, replica) -> str:
        return layout.analysis_dir(self.results, material, protocol, int(replica))

    def imported_analysis_dir(self, name: str) -> str:
        return layout.imported_analysis_dir(self.results, name)

    def run_of(self, path: str | os.PathLike) -> RunSpec | None:
        """The planned run whose run (or analysis) folder is ``path``; None otherwise."""
        key = layout.parse_run_dir(path)
        return self._by_key.get(key) if key else None

    def run(self, material: str, protocol: str, replica) -> RunSpec:
        """The spec of one planned run (KeyError when it is not planned)."""
        return self._by_key[layout.RunKey(material, protocol, int(replica))]

    @property
    def _by_key(self) -> dict[layout.RunKey, RunSpec]:
        return {r.key: r for r in self.runs}

    def run_dirs(self) -> list[str]:
        return [self.run_dir(*astuple_key(r)) for r in self.runs]

    def analysis_dirs(self) -> list[str]:
        """Analysis folders of every simulated run, then of every imported run."""
        return ([self.analysis_dir(*astuple_key(r)) for r in self.runs]
                + [self.imported_analysis_dir(n) for n in self.imported])

    # -------------------------------------------------------------- what each job is given
    def material_source(self, material: str) -> str:
        """What ``zifsim build`` is given: a registry name or the absolute CIF path."""
        custom = self.config["custom_materials"]
        if material in custom:
            return str(Path(os.path.expanduser(custom[material])).resolve())
        return material

    def cell_inputs(self, material: str) -> list[str]:
        """Input files of the build job (the CIF of a custom material)."""
        return [self.material_source(material)] if material in self.config["custom_materials"] else []

    def cell_options(self, material: str) -> str:
        """``zifsim build`` options for the cell of ``material``."""
        cell = self.config["cells"].get(material) or self.config.get("cell") or {"supercell": [1, 1, 1]}
        if "min_width" in cell:
            return f"--min-width {cell['min_width']}"
        return "--supercell " + ",".join(str(n) for n in cell.get("supercell", [1, 1, 1]))

    def protocol_file(self, protocol: str) -> str:
        return protocol_file(self.config, protocol)

    def forcefield_inputs(self, material: str) -> list[str]:
        """The ReaxFF file of a ReaxFF run (an input: a changed file reruns MD)."""
        choice = self.choices[material]
        return [choice.forcefield] if choice.kind == "reaxff" and choice.forcefield else []

    def analysis_options(self) -> str:
        """Options of ``zifsim analyse`` set in the config's ``analysis`` section."""
        a = self.config["analysis"]
        opts = [f"--every {a['every']}"]
        if a.get("r_max_A") is not None:
            opts.append(f"--r-max {a['r_max_A']}")
        if a.get("lindemann_window") is not None:
            opts.append(f"--window {a['lindemann_window']}")
        if a.get("probe") is not None:
            opts.append(f"--probe {shlex.quote(str(a['probe']))}")
        if a.get("pores") is False:
            opts.append("--no-pores")
        if a.get("pore_probes"):
            opts.append(f"--pore-probes {shlex.quote(','.join(str(x) for x in a['pore_probes']))}")
        if a.get("pore_radii") is not None:
            opts.append(f"--pore-radii {shlex.quote(a['pore_radii'])}")
        if a.get("pore_spacing_A") is not None:
            opts.append(f"--pore-spacing {a['pore_spacing_A']}")
        return " ".join(opts)

    # -------------------------------------------------------------- resources
    def step(self, name: str) -> dict:
        """Resources of one step (``build``, ``md``, ``analysis``): defaults + config."""
        return {**STEP_DEFAULTS[name], **(self.config["resources"].get(name) or {})}

    def slurm_resources(self, name: str) -> dict:
        """Memory, wall time and where SLURM should put a job of step ``name``.

        ``slurm_partition`` / ``slurm_account`` are set only when the config names
        them, so the cluster defaults apply otherwise (and local runs ignore them)."""
        s, slurm = self.step(name), self.config["slurm"]
        res = {"mem_mb": s["mem_mb"], "runtime": s["runtime"]}
        partition = slurm.get("partition")
        if name == "md" and slurm.get("md_partition"):
            partition = slurm["md_partition"]
        if partition:
            res["slurm_partition"] = partition
        if slurm.get("account"):
            res["slurm_account"] = slurm["account"]
        if s["mpi_tasks"] > 1:
            res["tasks"] = s["mpi_tasks"]
            res["mpi"] = slurm["mpi_launcher"]
            res["cpus_per_task"] = s["threads"]
        return res

    def mpi_prefix(self, name: str) -> str:
        """Launcher prefix of an MPI step ('' for a single rank)."""
        s = self.step(name)
        if s["mpi_tasks"] <= 1:
            return ""
        launcher = self.config["slurm"]["mpi_launcher"]   # the schema admits a name and a count only
        words = " ".join(shlex.quote(w) for w in launcher.split())
        if re.search(r"(^|\s)(-n|-np|--ntasks)(\s|=)", launcher):
            return words + " "
        return f"{words} -n {int(s['mpi_tasks'])} "


def astuple_key(run: RunSpec) -> tuple[str, str, int]:
    return run.material, run.protocol, run.replica


# ---------------------------------------------------------------- schema check
def load_schema(path: str | os.PathLike = SCHEMA) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


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


def _key_name(path) -> str:
    text = ""
    for p in path:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "(top level)"


def config_errors(cfg: Any, schema: dict) -> list[str]:
    """Every schema violation of ``cfg`` as one line naming the key and what is allowed."""
    from jsonschema import Draft202012Validator

    messages = []
    mode = cfg.get("mode", "simulate") if isinstance(cfg, dict) else "simulate"
    errors = sorted(Draft202012Validator(schema).iter_errors(cfg),
                    key=lambda e: [str(p) for p in e.absolute_path])
    for err in errors:
        path = list(err.absolute_path)
        key = _key_name(path)
        sub = _schema_at(schema, path)
        if err.validator == "additionalProperties":
            allowed = sorted(sub.get("properties", {}))
            for extra in sorted(set(err.instance) - set(allowed)):
                hint = difflib.get_close_matches(extra, allowed, n=1)
                messages.append(
                    f"unknown config key '{_key_name(path + [extra])}'"
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
            for k in [k for k in err.validator_value if k not in err.instance]:
                messages.append(f"config key '{_key_name(path + [k])}' is required"
                                + (f" when mode is {mode}" if not path else ""))
        elif err.validator == "not":
            messages.append(f"config key '{key}': give supercell or min_width, not both")
        elif err.validator == "minItems":
            when = f" when mode is {mode}" if len(path) == 1 else ""
            messages.append(f"config key '{key}' must list at least {err.validator_value} "
                            f"item(s){when}")
        elif err.validator == "pattern":
            desc = " ".join(str(sub.get("description") or "").split())
            messages.append(f"config key '{key}' = {err.instance!r} is not allowed"
                            + (f": {desc}" if desc else f" (must match {err.validator_value})"))
        elif err.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            word = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
                    "exclusiveMaximum": "<"}[err.validator]
            desc = " ".join(str(sub.get("description") or "").split())
            messages.append(f"config key '{key}' = {err.instance!r} must be {word} "
                            f"{err.validator_value}" + (f" ({desc})" if desc else ""))
        else:
            desc = " ".join(str(sub.get("description") or "").split())
            messages.append(f"config key '{key}': {err.message}" + (f" ({desc})" if desc else ""))
    return list(dict.fromkeys(messages))


def fill_defaults(cfg: dict, schema: dict) -> dict:
    """A copy of ``cfg`` with the schema's ``default`` values filled in (nested objects too).

    The same rule as ``snakemake.utils.validate(set_default=True)``: a missing property
    with a default gets it, then its own properties are filled."""
    out = copy.deepcopy(cfg)
    defs = schema.get("$defs", {})

    def deref(s):
        while isinstance(s, dict) and "$ref" in s:
            s = defs[s["$ref"].rsplit("/", 1)[-1]]
        return s

    def fill(node, sub):
        sub = deref(sub)
        if not isinstance(node, dict) or not isinstance(sub, dict):
            return
        for name, prop in (sub.get("properties") or {}).items():
            prop = deref(prop)
            if name not in node and isinstance(prop, dict) and "default" in prop:
                node[name] = copy.deepcopy(prop["default"])
            if name in node:
                fill(node[name], prop)
        extra = sub.get("additionalProperties")
        if isinstance(extra, dict):
            for name in set(node) - set(sub.get("properties") or {}):
                fill(node[name], extra)

    fill(out, schema)
    return out


# ---------------------------------------------------------------- names
def _registry():
    """The materials registry (configs/materials.yaml), or None when it is missing."""
    from zifsim.registry import MATERIALS_FILE, load_registry
    return load_registry() if MATERIALS_FILE.is_file() else None


def available_materials(registry=None) -> list[str]:
    """Material names in the registry configs/materials.yaml (empty if it is missing)."""
    registry = registry or _registry()
    return sorted(registry.materials) if registry else []


def material_aliases(registry=None) -> dict[str, str]:
    """{alias: registry name} from the registry's ``aliases`` lists."""
    registry = registry or _registry()
    return {alias: m.name for m in registry.materials.values() for alias in m.aliases} \
        if registry else {}


def available_protocols() -> list[str]:
    """Protocol names shipped in configs/protocols/."""
    return sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))


def protocol_file(cfg: dict, protocol: str) -> str:
    """Absolute path of the YAML of ``protocol`` (a custom one, else configs/protocols)."""
    if protocol in cfg.get("custom_protocols", {}):
        return str(Path(os.path.expanduser(cfg["custom_protocols"][protocol])).resolve())
    return str(PROTOCOL_DIR / f"{protocol}.yaml")


def _check_names(kind, names, known, custom, custom_key, aliases=None, key=None) -> list[str]:
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


def _error_line(exc: ZifsimError) -> str:
    if hasattr(exc, "message"):
        text = exc.message
        if getattr(exc, "source", None):
            where = exc.where
            text = (f"{exc.source}" + (f" ({'line ' if isinstance(where, int) else ''}{where})"
                                        if where is not None else "") + f": {text}")
        return text + (f"; fix: {exc.fix}" if getattr(exc, "fix", None) else "")
    return str(exc)


def _raise(problems: list[str], schema_path: Path | None = None) -> None:
    if problems:
        tail = f"\n(schema: {schema_path})" if schema_path else ""
        raise ConfigError(HEADER + "\n  - " + "\n  - ".join(dict.fromkeys(problems)) + tail)


# ---------------------------------------------------------------- provider decision
def material_elements(cfg: dict, material: str) -> set[str] | None:
    """Element symbols of a custom material's CIF (None for a registry material or an
    unreadable file: choose_provider then uses the registry, zifsim build reports the file)."""
    if material not in cfg["custom_materials"]:
        return None
    try:
        from zifsim.structures import read_structure

        path = Path(os.path.expanduser(cfg["custom_materials"][material]))
        return set(read_structure(path).get_chemical_symbols())
    except Exception:  # noqa: BLE001 - unreadable here: zifsim build names the file and line
        return None


def provider_choice(cfg: dict, material: str, registry=None) -> ProviderChoice:
    """The provider decision for one material of ``cfg`` (raises ForceFieldError when unusable)."""
    custom = material in cfg["custom_materials"]
    registry = registry or _registry()
    entry = None if custom else (registry.materials.get(material) if registry else None)
    return choose_provider(cfg["provider"], material=entry or (None if custom else material),
                           elements=material_elements(cfg, material),
                           forcefield=cfg.get("forcefield"), key="forcefield")


def _fallback_message(cfg, materials, protocols, choices) -> str:
    status = forcefield_status(cfg.get("forcefield"))
    labels = ", ".join(sorted({choices[m].label for m in materials}))
    return (f"zifsim: ReaxFF file '{status.name}' not found at {status.looked_at}: "
            f"running the MLIP fallback (config key mlip_fallback) instead: "
            f"{', '.join(materials)} x {', '.join(protocols)} with {labels}, "
            f"not {', '.join(cfg['materials'])} x {', '.join(cfg['protocols'])} with ReaxFF. "
            f"For the ReaxFF job {forcefield_fix(status.name)}.")


# ---------------------------------------------------------------- the plan
def plan(config: dict, schema_path: str | os.PathLike = SCHEMA) -> Plan:
    """Check ``config`` and decide every run (see the module docstring).

    Raises :class:`ConfigError` whose message starts with ``invalid zifsim workflow
    config:`` and lists every problem, each naming the config key (or the protocol
    file, line and key) and the fix. ``config`` itself is not modified.
    """
    schema_path = Path(schema_path)
    schema = load_schema(schema_path)
    try:
        shown = schema_path.relative_to(settings.REPO_ROOT)
    except ValueError:
        shown = schema_path
    _raise(config_errors(config, schema), shown)
    cfg = fill_defaults(config, schema)
    simulate = cfg["mode"] == "simulate"
    problems: list[str] = []
    registry = _registry()   # read once: every name check and provider decision uses it
    known_m, known_p = available_materials(registry), available_protocols()
    aliases = material_aliases(registry)
    fallback_block = cfg["mlip_fallback"]
    if simulate:
        problems += _check_names("material", cfg["materials"], known_m, cfg["custom_materials"],
                                 "custom_materials", aliases)
        problems += _check_names("protocol", cfg["protocols"], known_p, cfg["custom_protocols"],
                                 "custom_protocols")
        for key in ("custom_materials", "custom_protocols"):
            for name, path in cfg[key].items():
                if not Path(os.path.expanduser(path)).is_file():
                    problems.append(f"config key '{key}.{name}': file not found: {path}")
        for name in cfg["cells"]:
            if name not in cfg["materials"] and name not in fallback_block["materials"]:
                problems.append(f"config key 'cells.{name}': '{name}' is not in 'materials' "
                                f"({', '.join(cfg['materials'])})")
        problems += _check_names("material", fallback_block["materials"], known_m,
                                 cfg["custom_materials"], "custom_materials", aliases,
                                 key="mlip_fallback.materials")
        problems += _check_names("protocol", fallback_block["protocols"], known_p,
                                 cfg["custom_protocols"], "custom_protocols",
                                 key="mlip_fallback.protocols")
        if cfg["provider"] == "reaxff" and "forcefield" not in cfg:
            problems.append("config key 'forcefield' is required when provider is reaxff "
                            "(e.g. forcefield: ffield_ZnN_2016)")
    names = [r["name"] for r in cfg["imported_runs"]]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"config key 'imported_runs': name '{dup}' is used more than once")
    for i, run in enumerate(cfg["imported_runs"]):
        if not Path(os.path.expanduser(run["path"])).exists():
            problems.append(f"config key 'imported_runs[{i}].path': not found: {run['path']}")
        if run.get("topology") and not Path(os.path.expanduser(run["topology"])).exists():
            problems.append(f"config key 'imported_runs[{i}].topology': not found: {run['topology']}")
    _raise(problems)

    # every protocol the config names, loaded and validated now (not inside an MD job)
    loaded: dict[str, Protocol] = {}
    if simulate:
        for name in dict.fromkeys(cfg["protocols"] + fallback_block["protocols"]):
            try:
                loaded[name] = load_protocol(protocol_file(cfg, name))
            except ZifsimError as exc:
                key = ("custom_protocols." + name) if name in cfg["custom_protocols"] else "protocols"
                problems.append(f"protocol '{name}' (config key '{key}'): {_error_line(exc)}")
    _raise(problems)

    # what runs: the MLIP fallback replaces materials / protocols when no ReaxFF file is found
    materials = list(cfg["materials"]) if simulate else []
    protocols = list(cfg["protocols"]) if simulate else []
    fallback = (simulate and cfg["provider"] == "auto"
                and bool(fallback_block["materials"] or fallback_block["protocols"])
                and not forcefield_status(cfg.get("forcefield")).found)
    if fallback:
        materials = list(fallback_block["materials"] or materials)
        protocols = list(fallback_block["protocols"] or protocols)

    # the provider decision, once per material that runs
    choices: dict[str, ProviderChoice] = {}
    for material in materials:
        try:
            choices[material] = provider_choice(cfg, material, registry)
        except ZifsimError as exc:
            problems.append(_error_line(exc))
    _raise(problems)

    notices = []
    if fallback:
        notices.append(_fallback_message(cfg, materials, protocols, choices))
    else:
        fell = [c for c in choices.values() if c.fallback]
        if fell:
            notices.append("zifsim: provider auto runs " + "; ".join(
                f"{c.material} on the MLIP ({c.reason})" for c in fell))

    effective = copy.deepcopy(cfg)
    if simulate:
        effective["materials"], effective["protocols"] = list(materials), list(protocols)
    if fallback and fallback_block.get("threads"):
        effective["resources"]["md"] = {**(effective["resources"].get("md") or {}),
                                        "threads": fallback_block["threads"]}
    results = cfg["results"].rstrip("/") or cfg["results"]
    replicas = list(range(1, cfg["replicas"] + 1)) if simulate else []
    base_seed = seeds.check_seed(cfg.get("seed", seeds.DEFAULT_SEED))
    effective["seed"] = base_seed
    the_plan = Plan(config=effective, mode=cfg["mode"], results=results, materials=materials,
                    protocols=protocols, replicas=replicas, choices=choices,
                    protocols_loaded=loaded, runs=[],
                    imported={r["name"]: r for r in cfg["imported_runs"]},
                    notices=notices, fallback=fallback)
    the_plan.runs = [
        RunSpec(material=m, protocol=p, replica=k, seed=seeds.replica_seed(base_seed, k),
                cell=the_plan.cell_file(m), cell_source=the_plan.material_source(m),
                protocol_file=protocol_file(cfg, p), provider=choices[m], loaded=loaded[p])
        for m in materials for p in protocols for k in replicas]
    for run in the_plan.runs:   # the last stage's velocity seed must fit LAMMPS too
        last = seeds.stage_seed(run.seed, max(len(run.loaded.stages) - 1, 0))
        if last > seeds.MAX_SEED:
            problems.append(f"config key 'seed' = {base_seed}: stage seeds of {run.protocol} rep"
                            f"{run.replica} reach {last} > {seeds.MAX_SEED}; use a smaller seed")
    _raise(problems)
    return the_plan
