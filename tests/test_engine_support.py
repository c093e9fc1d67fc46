"""Shared helpers for the engine tests (no tests here): ZIF-4 cells, cached per session."""
from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path

from ase import Atoms

RELAX = {"name": "relax_for_tests", "stages": [
    {"name": "relax", "type": "minimise", "box_relax": "iso", "max_iter": 60, "ftol_eV_per_A": 0.01}]}


@functools.lru_cache(maxsize=1)
def zif4_unit_cell() -> Atoms:
    """ZIF-4 unit cell (272 atoms): engineer A's build_material, else the raw CoRE MOF CIF."""
    try:
        from zifsim.structures import build_material
        return build_material("ZIF-4").atoms
    except ImportError:  # pragma: no cover - before zifsim.structures existed
        import ase.io
        import CoRE_MOF
        text = CoRE_MOF.get_CIF_structure_data("2019-ASR", "VEJYUF01_clean").decode()
        return ase.io.read(io.StringIO(text), format="cif")


@functools.lru_cache(maxsize=1)
def relaxed_zif4_data(ffield: str) -> Path:
    """LAMMPS data file of the ZIF-4 cell minimised with ReaxFF (atoms, then box), once per session."""
    from zifsim.engine import run_protocol
    out = Path(tempfile.mkdtemp(prefix="zifsim-test-relaxed-"))
    run_protocol(zif4_unit_cell(), RELAX, {"kind": "reaxff", "file": ffield}, out, seed=1)
    return out / "00-relax" / "final.data"


def md_protocol(*stages: dict, **defaults) -> dict:
    """A protocol dict with test-sized output intervals (0.25 fs steps)."""
    base = {"timestep_fs": 0.25, "tdamp_fs": 25, "pdamp_fs": 250, "thermo_every_fs": 2.5,
            "dump_every_fs": 12.5, "checkpoint_every_ps": 0.0125}
    base.update(defaults)
    return {"name": "test", "defaults": base, "stages": list(stages)}
