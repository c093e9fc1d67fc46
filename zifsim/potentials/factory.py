"""Build a force provider from a config spec: the one place that maps a kind to its class.

Kept apart from :mod:`zifsim.potentials.base` so the abstract interface imports
none of its implementations.
"""
from __future__ import annotations

from zifsim.errors import ConfigError
from zifsim.potentials.base import ForceProvider

#: provider kinds and the module:class implementing each (imported on demand: torch is heavy)
KINDS = {"reaxff": "zifsim.potentials.reaxff:ReaxFFProvider",
         "mlip": "zifsim.potentials.mlip:MLIPProvider"}


def get_provider(spec: str | dict | None) -> ForceProvider:
    """Build a provider from a config entry.

    ``spec`` is e.g. ``{"kind": "reaxff", "file": "ffield_ZnN_2016"}``,
    ``{"kind": "mlip", "model": "chgnet"}`` or the shorthand strings
    ``"reaxff"`` / ``"mlip"``.
    """
    if spec is None or isinstance(spec, str):
        spec = {"kind": spec or "reaxff"}
    spec = dict(spec)
    kind = spec.pop("kind", "reaxff")
    if kind not in KINDS:
        raise ConfigError(f"unknown force provider kind {kind!r}", where="provider.kind",
                          fix=f"use one of {', '.join(repr(k) for k in KINDS)}")
    import importlib
    module, cls = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), cls).from_config(spec)
