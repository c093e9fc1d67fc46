"""Load a protocol (ordered stages) from YAML, with errors that name the file, line and key.

Layout of a protocol file (see ``configs/protocols/``)::

    name: melt_quench_short
    description: ...
    defaults:            # any stage setting, applied to every stage
      timestep_fs: 0.5
      thermo_every_fs: 50
    stages:
      - {name: relax, type: minimise, box_relax: iso}
      - {name: heat, type: ramp, T_start_K: 300, T_stop_K: 1200, rate_K_per_ps: 50}
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zifsim import settings
from zifsim.errors import ConfigError
from zifsim.protocols.stages import STAGE_TYPES, Stage

PROTOCOL_DIR = settings.CONFIG_DIR / "protocols"
TOP_KEYS = ("name", "description", "reference", "system", "defaults", "stages")


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings remember the line of each key (``__lines__``)."""


def _construct_mapping(loader, node, deep=False):
    mapping = LineDict(loader.construct_pairs(node, deep=True))
    mapping.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if hasattr(k, "value")}
    mapping.line = node.start_mark.line + 1
    return mapping


class LineDict(dict):
    """A dict that knows the YAML line of each key."""
    lines: dict = {}
    line: int | None = None


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class Protocol:
    """An ordered list of stages plus provenance."""
    name: str
    stages: list[Stage]
    description: str = ""
    reference: str = ""
    system: str = ""
    source: str | None = None
    defaults: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Resolved protocol (every stage with every setting) for metadata."""
        return {"name": self.name, "description": self.description, "reference": self.reference,
                "system": self.system, "source": self.source,
                "stages": [s.to_dict() for s in self.stages]}

    @property
    def duration_ps(self) -> float:
        """Total simulated time (ps) of all MD stages."""
        return sum(s.total_ps for s in self.stages)

    def stage_dirs(self) -> list[str]:
        """Run-directory folder of each stage: ``NN-<name>``."""
        return [f"{i:02d}-{s.name}" for i, s in enumerate(self.stages)]


def stage_fingerprint(stage: Stage) -> str:
    """sha256 of a stage's resolved settings (used to refuse resuming a changed stage)."""
    text = json.dumps(stage.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def find_protocol(name_or_path: str | os.PathLike) -> Path:
    """Path of a protocol: an existing file, or NAME in ``configs/protocols/NAME.yaml``."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    for candidate in (PROTOCOL_DIR / f"{name_or_path}.yaml", PROTOCOL_DIR / f"{name_or_path}.yml"):
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))
    raise ConfigError(f"protocol {str(name_or_path)!r} not found", source=str(name_or_path),
                      fix=f"give a YAML path or one of: {', '.join(known)}")


def load_protocol(name_or_path: str | os.PathLike | dict) -> Protocol:
    """Load and validate a protocol from a name, a YAML path or an already-parsed dict."""
    if isinstance(name_or_path, dict):
        data, source = LineDict(name_or_path), "<dict>"
    else:
        path = find_protocol(name_or_path)
        source = str(path)
        try:
            data = yaml.load(path.read_text(), Loader=_LineLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ConfigError(f"YAML syntax error: {getattr(exc, 'problem', exc)}", source=source,
                              where=mark.line + 1 if mark else None,
                              fix="fix the YAML syntax (indentation, colons, brackets)") from None
    return protocol_from_dict(data, source)


def _line(mapping, key) -> str:
    lines = getattr(mapping, "lines", {})
    return f"line {lines[key]}: " if key in lines else ""


def protocol_from_dict(data: dict, source: str = "<dict>") -> Protocol:
    """Validate a parsed protocol mapping (see the module docstring for the layout)."""
    if not isinstance(data, dict):
        raise ConfigError("a protocol must be a mapping with 'stages'", source=source,
                          fix="see configs/protocols/tiny.yaml for the layout")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise ConfigError(f"unknown top-level key {unknown[0]!r}", source=source,
                          where=f"{_line(data, unknown[0])}{unknown[0]}",
                          fix=f"allowed keys: {', '.join(TOP_KEYS)}")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError("defaults must be a mapping", source=source, where="defaults",
                          fix="write defaults as key: value pairs")
    stages_raw = data.get("stages")
    if not isinstance(stages_raw, list) or not stages_raw:
        raise ConfigError("a protocol needs a non-empty list 'stages'", source=source,
                          where=f"{_line(data, 'stages')}stages", fix="add stages: - {name: ..., type: ...}")
    common = {f.name for f in dataclasses.fields(Stage)} - {"name"}
    bad_default = [k for k in defaults if k not in common]
    if bad_default:
        raise ConfigError(f"unknown default {bad_default[0]!r}", source=source,
                          where=f"{_line(defaults, bad_default[0])}defaults.{bad_default[0]}",
                          fix=f"allowed defaults: {', '.join(sorted(common))}")
    stages, names = [], set()
    for i, raw in enumerate(stages_raw):
        where = f"stages[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"stage {i} must be a mapping", source=source, where=where,
                              fix="write each stage as {name: ..., type: ..., ...}")
        kind = raw.get("type")
        if kind not in STAGE_TYPES:
            raise ConfigError(f"unknown stage type {kind!r}", source=source,
                              where=f"{_line(raw, 'type')}{where}.type",
                              fix=f"allowed types: {', '.join(sorted(STAGE_TYPES))}")
        cls = STAGE_TYPES[kind]
        allowed = {f.name for f in dataclasses.fields(cls)}
        for key in raw:
            if key != "type" and key not in allowed:
                raise ConfigError(f"unknown key {key!r} in {kind} stage", source=source,
                                  where=f"{_line(raw, key)}{where}.{key}",
                                  fix=f"allowed keys for {kind}: {', '.join(sorted(allowed))}")
        values = {k: v for k, v in defaults.items() if k in allowed}
        values.update({k: v for k, v in raw.items() if k != "type"})
        values.setdefault("name", f"{kind}{i}")
        name = str(values["name"])
        if name in names or not name.replace("-", "_").replace(".", "_").isidentifier():
            raise ConfigError(f"stage name {name!r} is duplicated or not a simple word", source=source,
                              where=f"{_line(raw, 'name')}{where}.name",
                              fix="give each stage a unique name of letters, digits, _ or -")
        names.add(name)
        values = _coerce(cls, values, source, raw, where)
        try:
            stage = cls(**values)
        except ConfigError as exc:
            key = str(exc.where or "").rsplit(".", 1)[-1]
            exc.source = source
            exc.where = f"{_line(raw, key)}{where}.{key}" if key else where
            exc.args = (exc.format(),)
            raise
        stages.append(stage)
    return Protocol(name=str(data.get("name") or Path(source).stem), stages=stages,
                    description=str(data.get("description") or "").strip(),
                    reference=str(data.get("reference") or "").strip(),
                    system=str(data.get("system") or "").strip(), source=source, defaults=dict(defaults))


def _coerce(cls, values: dict, source: str, raw, where: str) -> dict:
    """Convert YAML scalars to the field types (float / int / str); clear errors otherwise."""
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    out = {}
    for key, value in values.items():
        kind = types.get(key, "")
        if value is None or key == "name":
            out[key] = value if key != "name" else str(value)
            continue
        try:
            if kind.startswith("float"):
                if isinstance(value, bool):
                    raise ValueError
                out[key] = float(value)
            elif kind.startswith("int"):
                if isinstance(value, bool) or float(value) != int(float(value)):
                    raise ValueError
                out[key] = int(float(value))
            else:
                out[key] = str(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a {kind.split('|')[0].strip()}, got {value!r}", source=source,
                              where=f"{_line(raw, key)}{where}.{key}",
                              fix=f"write {key} as a plain number in the unit its name says") from None
    return out
