"""Which force provider runs a material: the one rule behind ``provider: auto``.

``choose_provider`` is used by the workflow (``workflow/rules/common.smk``) for
every material of a config and by ``zifsim run --provider auto``; nothing else
decides. The rule:

==============  ==============================================================
requested        what runs
==============  ==============================================================
``mlip``         the MLIP (CHGNet 0.3.0 + D3 by default)
``reaxff``       ReaxFF; an error naming the key, the path looked in and the fix
                 when the parameter file is missing or lacks an element
``auto``         the material's registry choice (``provider:`` in
                 ``configs/materials.yaml``; ``reaxff`` for a material not in
                 the registry), downgraded to the MLIP when ReaxFF was chosen
                 but the parameter file is not found or does not cover every
                 element of the material
==============  ==============================================================

The returned :class:`ProviderChoice` says what runs and why; its
:meth:`~ProviderChoice.metadata` is recorded in the run's ``metadata.json``.
Nothing here imports torch: a cheap :func:`importlib.util.find_spec` says
whether the MLIP could run.
"""
from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from zifsim import settings
from zifsim.errors import ForceFieldError

#: the ReaxFF file of the project (Yang et al. 2018), looked up when none is configured
DEFAULT_FORCEFIELD = "ffield_ZnN_2016"
#: what a config or the CLI may ask for
REQUESTS = ("auto", "reaxff", "mlip")
#: MLIP used when the registry entry names no model
DEFAULT_MLIP_MODEL = "chgnet"
_MLIP_PACKAGES = {"chgnet": "chgnet", "sevennet": "sevenn", "nequip": "torch"}  # nequip: TorchScript
_FIX = ("set ZIFSIM_FORCEFIELD_DIR to the folder holding it (default ../shared/forcefields), "
        "give a path, or run `zifsim forcefield fetch {name}`")


def forcefield_fix(name: str | os.PathLike | None = None) -> str:
    """How to make the ReaxFF file ``name`` available (one sentence, for messages)."""
    return _FIX.format(name=re.sub(r"^ffield_", "", Path(str(name or DEFAULT_FORCEFIELD)).name))


@dataclass(frozen=True)
class ProviderChoice:
    """The outcome of :func:`choose_provider`.

    Attributes
    ----------
    requested : what was asked for (``auto``, ``reaxff`` or ``mlip``).
    kind : what runs (``reaxff`` or ``mlip``).
    reason : one sentence saying why (recorded in the run's metadata.json).
    material : the material name, if one was given.
    forcefield : absolute path of the ReaxFF file (``kind == "reaxff"`` only).
    model : the MLIP model (``kind == "mlip"`` only).
    fallback : True when ReaxFF was wanted but the MLIP runs instead.
    """

    requested: str
    kind: str
    reason: str
    material: str | None = None
    forcefield: str | None = None
    model: str | None = None
    fallback: bool = False

    def spec(self) -> dict[str, Any]:
        """Provider spec for :func:`zifsim.potentials.factory.get_provider`."""
        if self.kind == "reaxff":
            return {"kind": "reaxff", "file": self.forcefield}
        return {"kind": "mlip", "model": self.model or DEFAULT_MLIP_MODEL}

    @property
    def label(self) -> str:
        """Short name of what runs, e.g. ``reaxff/ffield_ZnN_2016`` or ``mlip/chgnet``."""
        if self.kind == "reaxff":
            return f"reaxff/{Path(self.forcefield).name}" if self.forcefield else "reaxff"
        return f"mlip/{self.model or DEFAULT_MLIP_MODEL}"

    def metadata(self) -> dict[str, Any]:
        """JSON-able record: requested, used (kind), label, reason, fallback, file/model."""
        data = asdict(self)
        data["used"] = data.pop("kind")
        data["label"] = self.label
        return data

    @classmethod
    def from_metadata(cls, data: dict[str, Any]) -> "ProviderChoice":
        """The choice recorded by :meth:`metadata` (e.g. in a workflow ``runspec.json``)."""
        try:
            return cls(requested=str(data["requested"]), kind=str(data["used"]),
                       reason=str(data["reason"]), material=data.get("material"),
                       forcefield=data.get("forcefield"), model=data.get("model"),
                       fallback=bool(data.get("fallback", False)))
        except (KeyError, TypeError) as exc:
            raise ForceFieldError(f"provider choice record lacks {exc}",
                                  where="provider_choice",
                                  fix="write it with ProviderChoice.metadata() "
                                      "(zifsim.workflow.plan does)") from None


@dataclass(frozen=True)
class ForcefieldStatus:
    """Where a ReaxFF file was looked for and what it covers.

    ``path`` is the file found (``None`` when missing); ``looked_at`` the path
    that was checked (the folder + name for a bare name); ``elements`` the
    element symbols it has parameters for (empty when missing or unreadable);
    ``problem`` says why it cannot be used (``None`` when it can).
    """

    name: str
    looked_at: str
    path: str | None
    elements: tuple[str, ...]
    problem: str | None = None

    @property
    def found(self) -> bool:
        """True when the file exists."""
        return self.path is not None


def forcefield_status(name: str | os.PathLike | None = None) -> ForcefieldStatus:
    """Look up a ReaxFF parameter file by name (in ``$ZIFSIM_FORCEFIELD_DIR``) or path.

    Elements come from the force-field registry when the file's sha256 is known,
    else from the file's atom block, else (an unreadable stand-in) from the
    registry entry of the same name.
    """
    from zifsim.potentials.reaxff import (parse_ffield_elements, registry_entry,
                                          resolve_forcefield_file, sha256_file)

    name = str(name or DEFAULT_FORCEFIELD)
    given = Path(name).expanduser()
    if given.is_absolute() or len(given.parts) > 1:
        looked_at = given.resolve()
    else:
        looked_at = (settings.forcefield_dir() / name).resolve()
    try:
        path = resolve_forcefield_file(name)
    except ForceFieldError:
        return ForcefieldStatus(name, str(looked_at), None, (), f"not found at {looked_at}")
    entry = registry_entry(sha256_file(path))
    if entry:
        return ForcefieldStatus(name, str(looked_at), str(path), tuple(entry["elements"]))
    try:
        elements = parse_ffield_elements(path)
    except ForceFieldError as exc:
        entry = registry_entry(name) or registry_entry(path.name)
        if entry:
            return ForcefieldStatus(name, str(looked_at), str(path), tuple(entry["elements"]))
        return ForcefieldStatus(name, str(looked_at), str(path), (),
                                f"{path} is not a readable ReaxFF file ({exc.message})")
    return ForcefieldStatus(name, str(looked_at), str(path), tuple(elements))


def _formula_elements(formula: str) -> set[str]:
    return set(re.findall(r"[A-Z][a-z]?", formula))


def material_elements(material: Any) -> set[str]:
    """Element symbols of a registry material (name or :class:`zifsim.registry.Material`):
    the metal plus every atom of its linkers (from ``zifsim/data/linkers.yaml``)."""
    from zifsim.registry import get_material, linker_table

    mat = get_material(material) if isinstance(material, str) else material
    table = linker_table()
    elements = {mat.metal}
    for linker in mat.linkers:
        elements |= _formula_elements(table[linker]["formula"])
    return elements


def mlip_installed(model: str = DEFAULT_MLIP_MODEL) -> bool:
    """True when torch, the model's package and dftd3 (the default D3 dispersion) are
    installed, i.e. the ``[mlip]`` extra (found without importing them: cheap)."""
    package = _MLIP_PACKAGES.get(model, model)
    return all(importlib.util.find_spec(p) is not None for p in ("torch", package, "dftd3"))


def _registry_provider(material: Any) -> tuple[str, str | None, bool]:
    """(kind, model, in_registry) of a material's ``provider:`` entry."""
    if material is None:
        return "reaxff", None, False
    from zifsim.errors import ConfigError
    from zifsim.registry import get_material
    try:
        mat = get_material(material) if isinstance(material, str) else material
    except ConfigError:
        return "reaxff", None, False
    provider = mat.provider
    if isinstance(provider, dict):
        return provider.get("kind", "reaxff"), provider.get("model"), True
    return str(provider or "reaxff"), None, True


def choose_provider(requested: str = "auto", material: Any = None,
                    elements: Iterable[str] | None = None,
                    forcefield: str | os.PathLike | None = None,
                    key: str = "forcefield", check_mlip: bool = True,
                    model: str | None = None) -> ProviderChoice:
    """Decide which force provider runs ``material`` (see the module docstring).

    Parameters
    ----------
    requested : ``auto``, ``reaxff`` or ``mlip``.
    material : registry name (or Material) whose ``provider:`` entry ``auto`` follows;
        ``None`` or an unknown name (a custom CIF) counts as ``reaxff``.
    elements : element symbols of the cell; default: those of the registry material.
    forcefield : ReaxFF file name (in ``$ZIFSIM_FORCEFIELD_DIR``) or path;
        default ``ffield_ZnN_2016``.
    key : config key (``forcefield``) or CLI option (``--forcefield``) named in errors.
    check_mlip : raise when the MLIP is chosen but torch/chgnet are not installed.
    model : MLIP model to use when the MLIP runs (default: the registry entry's, else chgnet).

    Raises :class:`ForceFieldError` for ``reaxff`` with a missing or non-covering
    file, and when the MLIP is needed but not installed.
    """
    if requested not in REQUESTS:
        raise ForceFieldError(f"unknown provider {requested!r}",
                              fix=f"use one of {', '.join(REQUESTS)}")
    name = str(forcefield or DEFAULT_FORCEFIELD)
    reg_kind, reg_model, in_registry = _registry_provider(material)
    reg_model = model or reg_model
    mat_name = material if isinstance(material, str) or material is None else material.name
    if elements is None and in_registry:
        elements = material_elements(material)
    elements = set(elements or ())
    what = f" for {mat_name}" if mat_name else ""
    cli = key.startswith("--")
    ff_key = f"option {key}" if cli else f"config key '{key}'"
    prov_key = "option --provider" if cli else "config key 'provider'"

    def mlip(reason: str, fallback: bool) -> ProviderChoice:
        model = reg_model or DEFAULT_MLIP_MODEL
        if check_mlip and not mlip_installed(model):
            raise ForceFieldError(
                f"{prov_key}: {reason}, but the MLIP ({model}) is not installed",
                fix='install it with `pip install -e ".[mlip]"`'
                    + (f", or make ReaxFF available: {forcefield_fix(name)}"
                       if fallback else ""))
        return ProviderChoice(requested, "mlip", reason, mat_name, None, model, fallback)

    if requested == "mlip":
        return mlip(f"provider mlip requested{what}", False)
    if requested == "auto" and reg_kind == "mlip":
        return mlip(f"configs/materials.yaml gives provider mlip{what} (provider auto)", False)

    status = forcefield_status(name)
    missing = sorted(elements - set(status.elements)) if status.found else []
    if requested == "reaxff":
        if not status.found:
            raise ForceFieldError(
                f"{ff_key}: ReaxFF file '{name}' not found at {status.looked_at}",
                fix=forcefield_fix(name)
                + "; or use provider: auto to fall back to the MLIP")
        if status.problem:
            raise ForceFieldError(f"{ff_key}: {status.problem}",
                                  fix="check the file (compare its sha256 with the source)")
        if missing:
            raise ForceFieldError(
                f"{prov_key} = reaxff: ReaxFF file {status.path} has no parameters for "
                f"{', '.join(missing)}" + (f" (material {mat_name})" if mat_name else ""),
                fix="use provider: auto or mlip for this material (an MLIP covers every element)")
        return ProviderChoice(requested, "reaxff", f"provider reaxff requested{what}; "
                              f"ReaxFF file {status.path}", mat_name, status.path)
    # auto, registry says reaxff
    if not status.found:
        return mlip(f"reaxff file not found at {status.looked_at}: fell back to "
                    f"mlip/{reg_model or DEFAULT_MLIP_MODEL}", True)
    if status.problem:
        return mlip(f"{status.problem}: fell back to mlip/{reg_model or DEFAULT_MLIP_MODEL}", True)
    if missing:
        return mlip(f"reaxff file {status.path} has no parameters for {', '.join(missing)}"
                    + (f" (material {mat_name})" if mat_name else "")
                    + f": fell back to mlip/{reg_model or DEFAULT_MLIP_MODEL}", True)
    covered = f" and covers {' '.join(sorted(elements))}" if elements else ""
    return ProviderChoice(requested, "reaxff",
                          f"provider auto: ReaxFF file found at {status.path}{covered}",
                          mat_name, status.path)
