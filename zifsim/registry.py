"""Materials registry: ``configs/materials.yaml`` -> :class:`Material` objects.

Each material has a formula, topology, metal, linkers per metal, a structure
``source`` (CoRE MOF refcode, CIF path, parent + substitution, topological
net, or none for facts-only entries), the force ``provider`` and the
experimental facts to compare with, each with its citation key. The file
format is in docs/architecture.md, section 5. Every key is checked; a typo
raises :class:`~zifsim.errors.ConfigError` naming the key, its line and the
allowed keys.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from zifsim.errors import ConfigError
from zifsim.settings import CONFIG_DIR

MATERIALS_FILE = CONFIG_DIR / "materials.yaml"
#: libyaml's safe loader when PyYAML has it (the registry is read often; ~10x faster)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TOP_KEYS = {"references", "materials", "facts"}
MATERIAL_KEYS = {"formula", "topology", "metal", "linkers", "source", "provider", "experiment",
                 "qualitative", "aliases", "description", "recommended_provider"}
SOURCE_KINDS = {"core_mof", "cif", "parent", "net"}
SOURCE_KEYS = {"core_mof": {"core_mof"}, "cif": {"cif", "disorder"},
               "parent": {"parent", "supercell", "substitute"}, "net": {"net", "metal", "linker", "relax", "offset", "primitive"}}
SUBSTITUTE_KEYS = {"linker", "metal"}
LINKER_SUB_KEYS = {"from", "to", "x", "order", "seed", "relax"}
METAL_SUB_KEYS = {"from", "to"}
FACT_KEYS = {"value", "ref", "note"}
PROVIDERS = {"reaxff", "mlip"}

#: unit suffixes allowed at the end of a fact key, and what they mean
UNIT_SUFFIXES = {"_C": "°C", "_K": "K", "_gcm3": "g/cm3", "_kJmol": "kJ/mol", "_JgK": "J/(g K)",
                 "_A": "Å", "_nm": "nm", "_per_nm3": "1/nm3", "_invA": "1/Å", "_m2s": "m2/s",
                 "_cm3g": "cm3/g (STP)", "_percent": "%", "_log10Pas": "log10(Pa s)"}
#: dimensionless facts (no unit suffix)
DIMENSIONLESS = {"tau4", "fragility_m", "Tg_over_Tm", "x_bim"}


@dataclass(frozen=True)
class Fact:
    """One experimental number: ``value`` (float or (low, high)), ``unit``, citation ``ref``, ``note``."""

    key: str
    value: float | tuple[float, float]
    unit: str
    ref: str
    note: str = ""

    @property
    def mid(self) -> float:
        """The value, or the midpoint of a [low, high] range."""
        return float(sum(self.value) / 2) if isinstance(self.value, tuple) else float(self.value)


@dataclass
class Material:
    """A registry entry; ``source`` is ``None`` for facts-only materials."""

    name: str
    formula: str
    metal: str
    linkers: dict[str, float]
    topology: str | None = None
    source: dict | None = None
    provider: Any = "reaxff"
    #: the most faithful provider where cost is no object (GPU, production); docs/fidelity.md
    recommended_provider: Any = None
    experiment: dict[str, Fact] = field(default_factory=dict)
    qualitative: list[dict] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def has_structure(self) -> bool:
        """True when zifsim can build a cell for this material."""
        return self.source is not None


@dataclass
class Registry:
    """All materials, the reference list and material-independent facts."""

    materials: dict[str, Material]
    references: dict[str, str]
    facts: dict[str, Any]
    path: Path

    def get(self, name: str) -> Material:
        """Material by name or alias; :class:`ConfigError` with close names otherwise."""
        if name in self.materials:
            return self.materials[name]
        for m in self.materials.values():
            if name in m.aliases:
                return m
        names = list(self.materials) + [a for m in self.materials.values() for a in m.aliases]
        close = difflib.get_close_matches(name, names, n=4, cutoff=0.5)
        raise ConfigError(f"unknown material {name!r}", source=str(self.path),
                          fix=(f"did you mean {', '.join(close)}? " if close else "")
                          + f"known materials: {', '.join(self.materials)}; or give a CIF path")


def _suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return (f"did you mean {close[0]!r}? " if close else "") + f"allowed keys: {', '.join(sorted(allowed))}"


class _Lines:
    """Line numbers of YAML mapping keys, addressed by dotted paths."""

    def __init__(self, text: str):
        self.lines: dict[str, int] = {}
        try:
            node = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError:
            return
        self._walk(node, "")

    def _walk(self, node, prefix):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                path = f"{prefix}.{k.value}" if prefix else str(k.value)
                self.lines[path] = k.start_mark.line + 1
                self._walk(v, path)

    def where(self, path: str) -> str:
        line = self.lines.get(path)
        return f"{path}, line {line}" if line else path


def load_registry(path: str | Path | None = None) -> Registry:
    """Read and validate the materials registry (default ``configs/materials.yaml``)."""
    path = Path(path) if path else MATERIALS_FILE
    src = str(path)
    if not path.is_file():
        raise ConfigError("materials registry not found", source=src,
                          fix="run from a zifsim checkout or pass the path of materials.yaml")
    text = path.read_text()
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", source=src,
                          where=(mark.line + 1) if mark else None, fix="fix the YAML syntax") from None
    lines = _Lines(text)
    if not isinstance(data, dict):
        raise ConfigError("the registry must be a mapping with 'materials' and 'references'",
                          source=src, fix="see docs/architecture.md section 5")
    for key in data:
        if key not in TOP_KEYS:
            raise ConfigError(f"unknown top-level key {key!r}", source=src, where=lines.where(key),
                              fix=_suggest(key, TOP_KEYS))
    refs = data.get("references") or {}
    if not isinstance(refs, dict):
        raise ConfigError("'references' must map keys to citations", source=src, where="references",
                          fix="e.g. references: {X24: 'Xue et al. ...'}")
    mats_raw = data.get("materials")
    if not isinstance(mats_raw, dict) or not mats_raw:
        raise ConfigError("no 'materials' mapping", source=src, where="materials",
                          fix="add materials: {NAME: {...}}")
    materials = {name: _material(name, entry, refs, src, lines) for name, entry in mats_raw.items()}
    for m in materials.values():
        if m.source and "parent" in m.source and m.source["parent"] not in materials:
            raise ConfigError(f"parent {m.source['parent']!r} is not a registry material", source=src,
                              where=lines.where(f"materials.{m.name}.source.parent"),
                              fix=_suggest(m.source["parent"], materials))
    _check_cycles(materials, src)
    facts = data.get("facts") or {}
    return Registry(materials, {str(k): str(v) for k, v in refs.items()}, facts, path)


def load_materials(path: str | Path | None = None) -> dict[str, Material]:
    """All registry materials by name (``configs/materials.yaml`` unless ``path``)."""
    return load_registry(path).materials


def get_material(name: str, path: str | Path | None = None) -> Material:
    """One material by name or alias; :class:`ConfigError` naming close matches otherwise."""
    return load_registry(path).get(name)


@lru_cache(maxsize=1)
def linker_table() -> dict[str, dict]:
    """The linker definitions of ``zifsim/data/linkers.yaml`` (name -> entry: formula,
    heavy-atom counts ...), read once; do not modify the returned dict."""
    return yaml.safe_load(resources.files("zifsim.data").joinpath("linkers.yaml").read_text())


def _material(name: str, entry: Any, refs: dict, src: str, lines: _Lines) -> Material:
    base = f"materials.{name}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", str(name)):
        raise ConfigError(f"material name {name!r} is not usable as a folder name", source=src,
                          where=lines.where(base),
                          fix="use letters, digits, '.', '-', '_' and put chemical spellings in 'aliases'")
    if not isinstance(entry, dict):
        raise ConfigError(f"material {name} must be a mapping", source=src, where=lines.where(base),
                          fix="see docs/architecture.md section 5")
    for key in entry:
        if key not in MATERIAL_KEYS:
            raise ConfigError(f"unknown key {key!r} in material {name}", source=src,
                              where=lines.where(f"{base}.{key}"), fix=_suggest(key, MATERIAL_KEYS))
    for key in ("formula", "metal", "linkers"):
        if key not in entry:
            raise ConfigError(f"material {name} lacks the required key {key!r}", source=src,
                              where=lines.where(base), fix=f"add {key}: ...")
    linkers = entry["linkers"]
    if not isinstance(linkers, dict) or not linkers:
        raise ConfigError(f"linkers of {name} must map linker -> count per metal", source=src,
                          where=lines.where(f"{base}.linkers"), fix="e.g. linkers: {im: 1.75, bim: 0.25}")
    for lk, x in linkers.items():
        if lk not in linker_table():
            raise ConfigError(f"unknown linker {lk!r} in {name}", source=src,
                              where=lines.where(f"{base}.linkers.{lk}"),
                              fix=_suggest(lk, linker_table()).replace("allowed keys", "known linkers"))
        if not isinstance(x, (int, float)) or x <= 0:
            raise ConfigError(f"linker count {lk}: {x!r} of {name} must be a positive number", source=src,
                              where=lines.where(f"{base}.linkers.{lk}"), fix="give linkers per metal")
    if abs(sum(linkers.values()) - 2.0) > 1e-6:
        raise ConfigError(f"linkers of {name} sum to {sum(linkers.values())}, not 2 per metal",
                          source=src, where=lines.where(f"{base}.linkers"),
                          fix="a M(II) imidazolate framework has two linkers per metal")
    source = entry.get("source")
    if source is not None:
        source = _source(name, source, src, lines)
    provider = entry.get("provider", "reaxff")
    kind = provider.get("kind") if isinstance(provider, dict) else provider
    if kind not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r} for {name}", source=src,
                          where=lines.where(f"{base}.provider"), fix="use reaxff or mlip")
    recommended = entry.get("recommended_provider")
    if recommended is not None:
        rkind = recommended.get("kind") if isinstance(recommended, dict) else recommended
        if rkind not in PROVIDERS:
            raise ConfigError(f"unknown recommended_provider {recommended!r} for {name}", source=src,
                              where=lines.where(f"{base}.recommended_provider"),
                              fix="use reaxff, mlip or {kind: mlip, model: nequip}")
    experiment = {}
    for key, fact in (entry.get("experiment") or {}).items():
        experiment[key] = _fact(name, key, fact, refs, src, lines)
    qualitative = entry.get("qualitative") or []
    for k, q in enumerate(qualitative):
        if not isinstance(q, dict) or set(q) - {"text", "ref"} or "text" not in q:
            raise ConfigError(f"qualitative fact {k + 1} of {name} must be {{text: ..., ref: ...}}",
                              source=src, where=lines.where(f"{base}.qualitative"), fix="see other entries")
        if q.get("ref") and q["ref"] not in refs:
            raise ConfigError(f"unknown reference {q['ref']!r} in {name}", source=src,
                              where=lines.where(f"{base}.qualitative"), fix=_suggest(q["ref"], refs))
    return Material(name=name, formula=str(entry["formula"]), metal=str(entry["metal"]),
                    linkers={k: float(v) for k, v in linkers.items()}, topology=entry.get("topology"),
                    source=source, provider=provider, recommended_provider=recommended,
                    experiment=experiment, qualitative=qualitative,
                    aliases=list(entry.get("aliases") or []), description=entry.get("description", ""))


def _source(name, source, src, lines) -> dict:
    where = f"materials.{name}.source"
    if not isinstance(source, dict):
        raise ConfigError(f"source of {name} must be a mapping", source=src, where=lines.where(where),
                          fix="e.g. source: {core_mof: VEJYUF01}")
    kinds = SOURCE_KINDS & set(source)
    if len(kinds) != 1:
        raise ConfigError(f"source of {name} must name exactly one of {', '.join(sorted(SOURCE_KINDS))}",
                          source=src, where=lines.where(where),
                          fix=_suggest(next(iter(source), ""), SOURCE_KINDS))
    kind = kinds.pop()
    for key in source:
        if key not in SOURCE_KEYS[kind]:
            raise ConfigError(f"unknown key {key!r} in {kind} source of {name}", source=src,
                              where=lines.where(f"{where}.{key}"), fix=_suggest(key, SOURCE_KEYS[kind]))
    sub = source.get("substitute")
    if sub is not None:
        if not isinstance(sub, dict):
            raise ConfigError("substitute must be a mapping", source=src, where=lines.where(f"{where}.substitute"),
                              fix="e.g. substitute: {linker: {from: im, to: bim, x: 0.25}}")
        for key, value in sub.items():
            if key not in SUBSTITUTE_KEYS:
                raise ConfigError(f"unknown substitution {key!r} in {name}", source=src,
                                  where=lines.where(f"{where}.substitute.{key}"), fix=_suggest(key, SUBSTITUTE_KEYS))
            allowed = LINKER_SUB_KEYS if key == "linker" else METAL_SUB_KEYS
            for k2 in value:
                if k2 not in allowed:
                    raise ConfigError(f"unknown key {k2!r} in {key} substitution of {name}", source=src,
                                      where=lines.where(f"{where}.substitute.{key}.{k2}"), fix=_suggest(k2, allowed))
    return dict(source)


def _fact(name, key, fact, refs, src, lines) -> Fact:
    where = f"materials.{name}.experiment.{key}"
    unit = next((u for suf, u in UNIT_SUFFIXES.items() if key.endswith(suf)), None)
    if unit is None and key not in DIMENSIONLESS:
        raise ConfigError(f"fact key {key!r} of {name} has no unit suffix", source=src,
                          where=lines.where(where),
                          fix=f"end the key with one of {', '.join(UNIT_SUFFIXES)} "
                              f"or use a dimensionless key ({', '.join(sorted(DIMENSIONLESS))})")
    if not isinstance(fact, dict):
        fact = {"value": fact}
    for k in fact:
        if k not in FACT_KEYS:
            raise ConfigError(f"unknown key {k!r} in fact {key} of {name}", source=src,
                              where=lines.where(f"{where}.{k}"), fix=_suggest(k, FACT_KEYS))
    value = fact.get("value")
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        value = (float(value[0]), float(value[1]))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = float(value)
    else:
        raise ConfigError(f"value of {key} in {name} must be a number or [low, high] (got {value!r})",
                          source=src, where=lines.where(where),
                          fix="put qualitative statements under 'qualitative'")
    ref = fact.get("ref")
    if ref not in refs:
        raise ConfigError(f"fact {key} of {name} cites unknown reference {ref!r}", source=src,
                          where=lines.where(where), fix=_suggest(str(ref), refs).replace("allowed keys", "references"))
    return Fact(key, value, unit or "", str(ref), str(fact.get("note", "")))


def _check_cycles(materials: dict[str, Material], src: str) -> None:
    for name in materials:
        seen, cur = [name], materials[name]
        while cur.source and "parent" in cur.source:
            parent = cur.source["parent"]
            if parent in seen:
                raise ConfigError(f"parent chain loops: {' -> '.join(seen + [parent])}", source=src,
                                  where=f"materials.{name}.source.parent", fix="break the loop")
            seen.append(parent)
            cur = materials[parent]
