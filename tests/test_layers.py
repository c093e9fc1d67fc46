"""Layers import only downward (docs/architecture.md), including imports inside functions."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "zifsim"
#: low to high; a module may import its own layer and the ones before it
LAYERS = ["base", "structures", "potentials", "protocols", "engine", "analysis", "compare", "top"]
BASE = {"errors", "settings", "fileio", "registry", "seeds", "layout", "lammps_loader", "data", "geometry",
        "__init__"}
IMPORT = re.compile(r"^\s*(?:from|import)\s+zifsim\.(\w+)", re.M)


def layer_of(name: str) -> str:
    if name in BASE:
        return "base"
    if name in ("workflow", "cli", "__main__"):
        return "top"
    return name


@pytest.mark.parametrize("path", sorted(p.relative_to(PACKAGE).as_posix()
                                        for p in PACKAGE.rglob("*.py")))
def test_imports_only_look_down(path):
    own = layer_of(Path(path).parts[0].removesuffix(".py"))
    allowed = set(LAYERS[:LAYERS.index(own) + 1])
    text = (PACKAGE / path).read_text()
    upward = sorted({m for m in IMPORT.findall(text) if layer_of(m) not in allowed})
    assert not upward, f"zifsim/{path} ({own}) imports upward: {', '.join(upward)}"
