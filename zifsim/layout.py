"""The results layout of the workflow, both ways (docs/architecture.md section 6).

``results/cells/{material}/``, ``results/runs/{material}/{protocol}/rep{replica}/``,
``results/analysis/{material}/{protocol}/rep{replica}/``,
``results/analysis/imported/{name}/``, ``results/report/``.
:func:`run_dir` maps a run to its folder and :func:`parse_run_dir` a folder back
to the run. A low-level module (no zifsim imports): the workflow plan, the
analyses and the workflow scripts all use it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: tables every analysis of a simulated run must produce (declared workflow outputs)
ANALYSIS_TABLES = ("summary.json", "coordination.csv", "lindemann.csv", "rdf.csv", "psd.csv")


@dataclass(frozen=True)
class RunKey:
    """One MD run of a workflow: material x protocol x replica (1-based)."""

    material: str
    protocol: str
    replica: int


def cell_dir(results: str, material: str) -> str:
    return f"{results}/cells/{material}"


def run_dir(results: str, material: str, protocol: str, replica: int) -> str:
    return f"{results}/runs/{material}/{protocol}/rep{replica}"


def analysis_dir(results: str, material: str, protocol: str, replica: int) -> str:
    return f"{results}/analysis/{material}/{protocol}/rep{replica}"


def imported_analysis_dir(results: str, name: str) -> str:
    return f"{results}/analysis/imported/{name}"


def report_dir(results: str) -> str:
    return f"{results}/report"


def parse_run_dir(path: str | os.PathLike) -> RunKey | None:
    """The run of a ``.../runs/{material}/{protocol}/rep{N}`` or
    ``.../analysis/{material}/{protocol}/rep{N}`` folder; None for any other path."""
    parts = Path(path).parts
    if len(parts) < 4 or parts[-4] not in ("runs", "analysis"):
        return None
    m = re.fullmatch(r"rep(\d+)", parts[-1])
    if not m:
        return None
    return RunKey(parts[-3], parts[-2], int(m.group(1)))
